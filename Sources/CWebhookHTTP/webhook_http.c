#include "CWebhookHTTP.h"

// CURLOPT_PROTOCOLS: deprecated in 7.85 for a string form that older libcurl lacks; both work.
#define CURL_DISABLE_DEPRECATION 1
#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

// The few libcurl functions used, resolved once. libcurl's headers give the types and option
// numbers (they are ABI-stable across libcurl 7 and 8); nothing is linked against libcurl.
static struct {
    int loaded;
    char failure[160];
    CURLcode (*global_init)(long);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_perform)(CURL *);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    void (*easy_cleanup)(CURL *);
    const char *(*easy_strerror)(CURLcode);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
} curl;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void load_curl(void) {
    const char *names[] = {"libcurl.so.4", "libcurl-gnutls.so.4", "libcurl.so"};
    void *library = NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && library == NULL; i++) {
        library = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    }
    if (library == NULL) {
        snprintf(curl.failure, sizeof curl.failure,
                 "sending webhooks and pulling from registries need libcurl (Debian: apt-get install libcurl4); it was not found");
        return;
    }
#define RESOLVE(field, symbol)                                                                   \
    do {                                                                                         \
        *(void **)(&curl.field) = dlsym(library, symbol);                                        \
        if (curl.field == NULL) {                                                                \
            snprintf(curl.failure, sizeof curl.failure, "libcurl has no %s", symbol);            \
            return;                                                                              \
        }                                                                                        \
    } while (0)
    RESOLVE(global_init, "curl_global_init");
    RESOLVE(easy_init, "curl_easy_init");
    RESOLVE(easy_setopt, "curl_easy_setopt");
    RESOLVE(easy_perform, "curl_easy_perform");
    RESOLVE(easy_getinfo, "curl_easy_getinfo");
    RESOLVE(easy_cleanup, "curl_easy_cleanup");
    RESOLVE(easy_strerror, "curl_easy_strerror");
    RESOLVE(slist_append, "curl_slist_append");
    RESOLVE(slist_free_all, "curl_slist_free_all");
#undef RESOLVE
    if (curl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(curl.failure, sizeof curl.failure, "curl_global_init failed");
        return;
    }
    curl.loaded = 1;
}

// The answer's body is not needed: discard it.
static size_t discard(char *data, size_t size, size_t count, void *context) {
    (void)data;
    (void)context;
    return size * count;
}

// libcurl loaded, a handle made, and the URL and header lines set on it: the start of every
// request. NULL (with the message in `error`) on failure; on success the caller frees `*list` and
// the handle.
static CURL *begin_request(const char *url, const char *const *headers, size_t header_count,
                           struct curl_slist **list, char *error, size_t error_capacity) {
    pthread_once(&curl_once, load_curl);
    if (!curl.loaded) {
        snprintf(error, error_capacity, "%s", curl.failure);
        return NULL;
    }
    CURL *handle = curl.easy_init();
    if (handle == NULL) {
        snprintf(error, error_capacity, "curl_easy_init failed");
        return NULL;
    }
    *list = NULL;
    for (size_t i = 0; i < header_count; i++) {
        struct curl_slist *grown = curl.slist_append(*list, headers[i]);
        if (grown == NULL) {
            snprintf(error, error_capacity, "curl_slist_append failed");
            if (*list != NULL) curl.slist_free_all(*list);
            *list = NULL;
            curl.easy_cleanup(handle);
            return NULL;
        }
        *list = grown;
    }
    curl.easy_setopt(handle, CURLOPT_URL, url);
    curl.easy_setopt(handle, CURLOPT_HTTPHEADER, *list);
    return handle;
}

int keyseal_http_post(const char *url, const char *const *headers, size_t header_count,
                      const void *body, size_t body_length, long timeout_ms,
                      long *http_status, char *error, size_t error_capacity) {
    struct curl_slist *list = NULL;
    CURL *handle = begin_request(url, headers, header_count, &list, error, error_capacity);
    if (handle == NULL) return -1;
    int result = -1;
    curl.easy_setopt(handle, CURLOPT_POST, 1L);
    curl.easy_setopt(handle, CURLOPT_POSTFIELDS, body);
    curl.easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_length);
    // The signed request goes where the user said and nowhere else.
    curl.easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 0L);
    curl.easy_setopt(handle, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    curl.easy_setopt(handle, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl.easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl.easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
    curl.easy_setopt(handle, CURLOPT_WRITEFUNCTION, discard);
    CURLcode code = curl.easy_perform(handle);
    if (code != CURLE_OK) {
        snprintf(error, error_capacity, "%s", curl.easy_strerror(code));
        goto done;
    }
    long status = 0;
    curl.easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
    *http_status = status;
    result = 0;
done:
    if (list != NULL) curl.slist_free_all(list);
    curl.easy_cleanup(handle);
    return result;
}

// A GET's body goes to a file, bounded; its answer's headers to a buffer (only the last answer's:
// a redirect's headers are dropped when the next status line arrives).
struct download {
    FILE *file;
    long long written, limit;
    int over;
    char *headers;
    size_t used, capacity;
};

static size_t write_body(char *data, size_t size, size_t count, void *context) {
    struct download *d = context;
    size_t bytes = size * count;
    if (d->written + (long long)bytes > d->limit) {
        d->over = 1;
        return 0;
    }
    if (fwrite(data, 1, bytes, d->file) != bytes) return 0;
    d->written += (long long)bytes;
    return bytes;
}

static size_t write_header(char *data, size_t size, size_t count, void *context) {
    struct download *d = context;
    size_t bytes = size * count;
    if (d->capacity == 0) return bytes;
    if (bytes >= 5 && memcmp(data, "HTTP/", 5) == 0) d->used = 0;
    size_t room = d->capacity - 1 - d->used;
    size_t take = bytes < room ? bytes : room;
    memcpy(d->headers + d->used, data, take);
    d->used += take;
    d->headers[d->used] = 0;
    return bytes;
}

int keyseal_http_get(const char *url, const char *const *headers, size_t header_count,
                     const char *body_path, long long max_bytes, long connect_timeout_ms, long stall_seconds,
                     long *http_status, char *response_headers, size_t response_headers_capacity,
                     char *error, size_t error_capacity) {
    struct curl_slist *list = NULL;
    CURL *handle = begin_request(url, headers, header_count, &list, error, error_capacity);
    if (handle == NULL) return -1;
    struct download d = {0};
    d.limit = max_bytes;
    d.headers = response_headers;
    d.capacity = response_headers_capacity;
    if (response_headers_capacity > 0) response_headers[0] = 0;
    d.file = fopen(body_path, "wb");
    if (d.file == NULL) {
        snprintf(error, error_capacity, "cannot write the download to %s", body_path);
        if (list != NULL) curl.slist_free_all(list);
        curl.easy_cleanup(handle);
        return -1;
    }
    int result = -1;
    curl.easy_setopt(handle, CURLOPT_HTTPGET, 1L);
    curl.easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 1L);
    curl.easy_setopt(handle, CURLOPT_MAXREDIRS, 5L);
    curl.easy_setopt(handle, CURLOPT_UNRESTRICTED_AUTH, 0L);
    curl.easy_setopt(handle, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    curl.easy_setopt(handle, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    curl.easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms);
    // Under 1 KiB a second for the whole stall time: a server trickling bytes is given up on.
    curl.easy_setopt(handle, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl.easy_setopt(handle, CURLOPT_LOW_SPEED_TIME, stall_seconds);
    curl.easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
    curl.easy_setopt(handle, CURLOPT_WRITEFUNCTION, write_body);
    curl.easy_setopt(handle, CURLOPT_WRITEDATA, &d);
    curl.easy_setopt(handle, CURLOPT_HEADERFUNCTION, write_header);
    curl.easy_setopt(handle, CURLOPT_HEADERDATA, &d);
    CURLcode code = curl.easy_perform(handle);
    if (code != CURLE_OK) {
        if (d.over) {
            snprintf(error, error_capacity, "the answer is larger than %lld bytes", max_bytes);
        } else {
            snprintf(error, error_capacity, "%s", curl.easy_strerror(code));
        }
        goto done;
    }
    long status = 0;
    curl.easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
    *http_status = status;
    result = 0;
done:
    if (list != NULL) curl.slist_free_all(list);
    curl.easy_cleanup(handle);
    if (fclose(d.file) != 0 && result == 0) {
        snprintf(error, error_capacity, "cannot finish writing %s", body_path);
        result = -1;
    }
    return result;
}

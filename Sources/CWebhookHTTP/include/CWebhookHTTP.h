#ifndef KEYSEAL_WEBHOOK_HTTP_H
#define KEYSEAL_WEBHOOK_HTTP_H

#include <stddef.h>

/// POSTs `body` to `url` with libcurl, loaded at run time (dlopen) so that the release binary
/// needs only the C library: without libcurl, scanning works and only sending webhooks fails.
/// Redirects are never followed and only http and https are allowed.
/// Returns 0 and sets *http_status when an HTTP answer came back (any status); otherwise returns
/// non-zero and writes a message (never the request's content) into `error`.
int keyseal_http_post(const char *url, const char *const *headers, size_t header_count,
                      const void *body, size_t body_length, long timeout_ms,
                      long *http_status, char *error, size_t error_capacity);

/// GETs `url` into the file `body_path` (created or truncated), following up to 5 redirects over
/// http and https (registries send blob downloads to storage elsewhere; libcurl does not carry a
/// custom Authorization header to another host). Stops with an error past `max_bytes` of body, or
/// when less than 1 KiB a second arrives for `stall_seconds`. The headers of the last answer go to
/// `response_headers` (NUL-terminated, cut at its capacity). Returns as `keyseal_http_post` does.
int keyseal_http_get(const char *url, const char *const *headers, size_t header_count,
                     const char *body_path, long long max_bytes, long connect_timeout_ms, long stall_seconds,
                     long *http_status, char *response_headers, size_t response_headers_capacity,
                     char *error, size_t error_capacity);

#endif

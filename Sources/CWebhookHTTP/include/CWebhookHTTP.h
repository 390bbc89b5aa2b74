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

#endif

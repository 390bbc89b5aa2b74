/* libgit2 starts mbedTLS in git_libgit2_init: it seeds a random generator from HAVEGE's timing
 * loops and parses every certificate of the system's CA bundle (about 140 PEM certificates: 3 ms
 * of a 20 ms `keyseal staged`). keyseal never fetches, pushes or connects through libgit2 (it reads
 * repositories on disk), so the release links libgit2's calls into its mbedTLS stream to the
 * stand-ins below (`--wrap`): TLS is not started, and a TLS stream, were one ever asked for, fails
 * with an error saying so instead of connecting. Used by release/static-build.sh only. */
#include <git2/errors.h>

typedef struct git_stream git_stream;

static int unavailable(void) {
    git_error_set_str(GIT_ERROR_SSL, "TLS is not built into keyseal's libgit2: keyseal does not connect to remotes");
    return -1;
}

int __wrap_git_mbedtls_stream_global_init(void) { return 0; }

int __wrap_git_mbedtls_stream_new(git_stream **out, const char *host, const char *port) {
    (void)host; (void)port;
    if (out) *out = 0;
    return unavailable();
}

int __wrap_git_mbedtls_stream_wrap(git_stream **out, git_stream *in, const char *host) {
    (void)in; (void)host;
    if (out) *out = 0;
    return unavailable();
}

int __wrap_git_mbedtls__set_cert_location(const char *file, const char *path) {
    (void)file; (void)path;
    return unavailable();
}

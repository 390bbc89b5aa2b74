/* libgit2 starts mbedTLS in git_libgit2_init, and that start parses every certificate of the
 * system's CA bundle (about 140 PEM certificates: 2.6 ms of a 20 ms `keyseal staged`). keyseal
 * never fetches, pushes or connects through libgit2 (it reads repositories on disk), so the
 * release links libgit2's calls of these two functions to the stand-ins below (`--wrap`), which
 * load nothing and say so. libgit2 then holds no trusted certificate: were a TLS connection ever
 * made through it, verification would fail rather than trust anything. GitRuntime clears the
 * error libgit2 records for it. Used by release/static-build.sh only. */
#define MBEDTLS_ERR_X509_FILE_IO_ERROR (-0x2900)

int __wrap_mbedtls_x509_crt_parse_file(void *chain, const char *path) {
    (void)chain; (void)path;
    return MBEDTLS_ERR_X509_FILE_IO_ERROR;
}

int __wrap_mbedtls_x509_crt_parse_path(void *chain, const char *path) {
    (void)chain; (void)path;
    return MBEDTLS_ERR_X509_FILE_IO_ERROR;
}

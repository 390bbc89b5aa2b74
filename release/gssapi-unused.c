/* libgit2's static archive is built with GSSAPI, for Kerberos ("Negotiate") authentication when it
 * talks HTTP to a remote. keyseal never fetches, pushes or connects through libgit2: it only reads
 * repositories on disk, so that code is unreachable. Debian ships no static Kerberos library, so
 * the release links these stand-ins, which fail as a missing mechanism would, instead of a shared
 * libgssapi_krb5 and its five dependencies. Used by release/build.sh only. */
typedef unsigned int OM_uint32;
#define GSS_S_FAILURE (13u << 16)

void *GSS_C_NT_HOSTBASED_SERVICE = 0;

static OM_uint32 unavailable(OM_uint32 *minor) {
    if (minor) *minor = 0;
    return GSS_S_FAILURE;
}

OM_uint32 gss_import_name(OM_uint32 *minor, void *a, void *b, void *c) { (void)a; (void)b; (void)c; return unavailable(minor); }
OM_uint32 gss_release_name(OM_uint32 *minor, void *a) { (void)a; return unavailable(minor); }
OM_uint32 gss_init_sec_context(OM_uint32 *minor, void *a, void *b, void *c, void *d, OM_uint32 e, OM_uint32 f, void *g,
                               void *h, void *i, void *j, void *k, void *l) {
    (void)a; (void)b; (void)c; (void)d; (void)e; (void)f; (void)g; (void)h; (void)i; (void)j; (void)k; (void)l;
    return unavailable(minor);
}
OM_uint32 gss_delete_sec_context(OM_uint32 *minor, void *a, void *b) { (void)a; (void)b; return unavailable(minor); }
OM_uint32 gss_release_buffer(OM_uint32 *minor, void *a) { (void)a; return unavailable(minor); }
OM_uint32 gss_display_status(OM_uint32 *minor, OM_uint32 a, int b, void *c, void *d, void *e) {
    (void)a; (void)b; (void)c; (void)d; (void)e; return unavailable(minor);
}
OM_uint32 gss_indicate_mechs(OM_uint32 *minor, void *a) { (void)a; return unavailable(minor); }
OM_uint32 gss_release_oid_set(OM_uint32 *minor, void *a) { (void)a; return unavailable(minor); }

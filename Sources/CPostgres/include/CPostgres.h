#ifndef KEYSEAL_POSTGRES_H
#define KEYSEAL_POSTGRES_H

#include <stddef.h>

/// libpq, loaded at run time (dlopen) as libcurl is for webhooks: Debian's libpq links GSSAPI and
/// LDAP, which ship no static archives, so linking it would cost the release binary its
/// libc-only portability. Without libpq5 installed, only a PostgreSQL store fails (clearly).
/// Handles are opaque; every function is safe to call with a NULL handle.

/// Opens a connection from a libpq connection string or postgres:// URI. NULL on failure, with
/// libpq's message in `error`. libpq's messages can quote the string, password included: callers
/// scrub them (see keyseal_pq_conninfo_parse).
void *keyseal_pq_connect(const char *conninfo, char *error, size_t error_capacity);
void keyseal_pq_finish(void *connection);
/// 1 while the connection is good.
int keyseal_pq_ok(const void *connection);
const char *keyseal_pq_connection_error(const void *connection);
int keyseal_pq_backend_pid(const void *connection);
/// Whether the server asked for a password and the connection used one (from PGPASSWORD,
/// ~/.pgpass, a service file or the URI).
int keyseal_pq_used_password(const void *connection);

/// Runs one statement with text parameters (or, with none, any number of statements) (NULL for SQL NULL) and text results. Returns a result
/// (never NULL unless out of memory) to read and then free with keyseal_pq_clear.
void *keyseal_pq_exec(void *connection, const char *sql, int parameter_count, const char *const *parameters);
/// 0: command done, 1: rows returned, -1: failed (see keyseal_pq_result_error and _sqlstate).
int keyseal_pq_result_kind(const void *result);
const char *keyseal_pq_result_error(const void *result);
/// The five-character SQLSTATE of a failure ("" when none).
const char *keyseal_pq_sqlstate(const void *result);
int keyseal_pq_rows(const void *result);
/// NULL for SQL NULL.
const char *keyseal_pq_value(const void *result, int row, int column);
void keyseal_pq_clear(void *result);

/// Reads a connection string or URI as libpq reads it (decoded, without the service file or the
/// environment) and calls `each` with every keyword given a value (password, sslpassword, host,
/// port, dbname, user, service, connect_timeout…). 1: read, -1: libpq cannot parse the string,
/// -2: libpq is not available. Never writes libpq's parse error anywhere (it quotes the string).
int keyseal_pq_conninfo_parse(const char *conninfo, void *context,
                              void (*each)(void *context, const char *keyword, const char *value));

#endif

#include "CPostgres.h"

#include <dlfcn.h>
#include <postgresql/libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

// The libpq functions used, resolved once. libpq's header gives the types; its ABI (libpq.so.5)
// has been stable since PostgreSQL 8.
static struct {
    int loaded;
    char failure[200];
    PGconn *(*connectdb)(const char *);
    ConnStatusType (*status)(const PGconn *);
    char *(*error_message)(const PGconn *);
    void (*finish)(PGconn *);
    int (*backend_pid)(const PGconn *);
    int (*used_password)(const PGconn *);
    PQnoticeProcessor (*set_notice_processor)(PGconn *, PQnoticeProcessor, void *);
    PGresult *(*exec)(PGconn *, const char *);
    PGresult *(*exec_params)(PGconn *, const char *, int, const Oid *, const char *const *, const int *, const int *, int);
    ExecStatusType (*result_status)(const PGresult *);
    char *(*result_error_message)(const PGresult *);
    char *(*result_error_field)(const PGresult *, int);
    int (*ntuples)(const PGresult *);
    char *(*get_value)(const PGresult *, int, int);
    int (*get_is_null)(const PGresult *, int, int);
    void (*clear)(PGresult *);
    PQconninfoOption *(*conninfo_parse)(const char *, char **);
    void (*conninfo_free)(PQconninfoOption *);
    void (*freemem)(void *);
} pq;

static pthread_once_t pq_once = PTHREAD_ONCE_INIT;

static void load_pq(void) {
    const char *names[] = {"libpq.so.5", "libpq.so"};
    void *library = NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && library == NULL; i++) {
        library = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    }
    if (library == NULL) {
        snprintf(pq.failure, sizeof pq.failure,
                 "a PostgreSQL store needs libpq (Debian: apt-get install libpq5); it was not found");
        return;
    }
#define RESOLVE(field, symbol)                                                                   \
    do {                                                                                         \
        *(void **)(&pq.field) = dlsym(library, symbol);                                          \
        if (pq.field == NULL) {                                                                  \
            snprintf(pq.failure, sizeof pq.failure, "libpq has no %s", symbol);                  \
            return;                                                                              \
        }                                                                                        \
    } while (0)
    RESOLVE(connectdb, "PQconnectdb");
    RESOLVE(status, "PQstatus");
    RESOLVE(error_message, "PQerrorMessage");
    RESOLVE(finish, "PQfinish");
    RESOLVE(backend_pid, "PQbackendPID");
    RESOLVE(used_password, "PQconnectionUsedPassword");
    RESOLVE(set_notice_processor, "PQsetNoticeProcessor");
    RESOLVE(exec, "PQexec");
    RESOLVE(exec_params, "PQexecParams");
    RESOLVE(result_status, "PQresultStatus");
    RESOLVE(result_error_message, "PQresultErrorMessage");
    RESOLVE(result_error_field, "PQresultErrorField");
    RESOLVE(ntuples, "PQntuples");
    RESOLVE(get_value, "PQgetvalue");
    RESOLVE(get_is_null, "PQgetisnull");
    RESOLVE(clear, "PQclear");
    RESOLVE(conninfo_parse, "PQconninfoParse");
    RESOLVE(conninfo_free, "PQconninfoFree");
    RESOLVE(freemem, "PQfreemem");
#undef RESOLVE
    pq.loaded = 1;
}

// NOTICEs ("relation already exists, skipping") would go to stderr: keyseal reports its own way.
static void ignore_notice(void *context, const char *message) {
    (void)context;
    (void)message;
}

void *keyseal_pq_connect(const char *conninfo, char *error, size_t error_capacity) {
    pthread_once(&pq_once, load_pq);
    if (!pq.loaded) {
        snprintf(error, error_capacity, "%s", pq.failure);
        return NULL;
    }
    PGconn *connection = pq.connectdb(conninfo);
    if (connection == NULL) {
        snprintf(error, error_capacity, "out of memory connecting to PostgreSQL");
        return NULL;
    }
    if (pq.status(connection) != CONNECTION_OK) {
        snprintf(error, error_capacity, "%s", pq.error_message(connection));
        pq.finish(connection);
        return NULL;
    }
    pq.set_notice_processor(connection, ignore_notice, NULL);
    return connection;
}

void keyseal_pq_finish(void *connection) {
    if (connection != NULL && pq.loaded) pq.finish(connection);
}

int keyseal_pq_ok(const void *connection) {
    return connection != NULL && pq.loaded && pq.status(connection) == CONNECTION_OK;
}

const char *keyseal_pq_connection_error(const void *connection) {
    if (connection == NULL || !pq.loaded) return "no connection";
    return pq.error_message(connection);
}

int keyseal_pq_backend_pid(const void *connection) {
    return connection != NULL && pq.loaded ? pq.backend_pid(connection) : 0;
}

int keyseal_pq_used_password(const void *connection) {
    return connection != NULL && pq.loaded ? pq.used_password(connection) : 0;
}

void *keyseal_pq_exec(void *connection, const char *sql, int parameter_count, const char *const *parameters) {
    if (connection == NULL || !pq.loaded) return NULL;
    // Without parameters, the simple protocol: it also runs several statements at once (a migration).
    if (parameter_count == 0) return pq.exec(connection, sql);
    return pq.exec_params(connection, sql, parameter_count, NULL, parameters, NULL, NULL, 0);
}

int keyseal_pq_result_kind(const void *result) {
    if (result == NULL) return -1;
    switch (pq.result_status(result)) {
    case PGRES_COMMAND_OK: return 0;
    case PGRES_TUPLES_OK: return 1;
    default: return -1;
    }
}

const char *keyseal_pq_result_error(const void *result) {
    if (result == NULL) return "no result (out of memory or no connection)";
    return pq.result_error_message(result);
}

const char *keyseal_pq_sqlstate(const void *result) {
    if (result == NULL) return "";
    const char *state = pq.result_error_field(result, PG_DIAG_SQLSTATE);
    return state == NULL ? "" : state;
}

int keyseal_pq_rows(const void *result) { return result == NULL ? 0 : pq.ntuples(result); }

const char *keyseal_pq_value(const void *result, int row, int column) {
    if (result == NULL || pq.get_is_null(result, row, column)) return NULL;
    return pq.get_value(result, row, column);
}

void keyseal_pq_clear(void *result) {
    if (result != NULL && pq.loaded) pq.clear(result);
}

int keyseal_pq_conninfo_parse(const char *conninfo, void *context,
                               void (*each)(void *context, const char *keyword, const char *value)) {
    pthread_once(&pq_once, load_pq);
    if (!pq.loaded) return -2;
    // libpq's parse error quotes the string (and so a password in it): it is freed unread.
    char *error = NULL;
    PQconninfoOption *options = pq.conninfo_parse(conninfo, &error);
    if (error != NULL) pq.freemem(error);
    if (options == NULL) return -1;
    for (PQconninfoOption *option = options; option->keyword != NULL; option++) {
        if (option->val != NULL) each(context, option->keyword, option->val);
    }
    pq.conninfo_free(options);
    return 1;
}

#ifndef SMX_BENCH_CSQLITE_SHIM_H
#define SMX_BENCH_CSQLITE_SHIM_H
#include <sqlite3.h>

/* SQLITE_STATIC and SQLITE_TRANSIENT are casts of 0 and -1 to a function pointer, which
   Swift cannot import: these wrappers bind with either destructor. */
static inline int smx_sqlite3_bind_blob_static(sqlite3_stmt *statement, int index, const void *bytes, int count) {
    return sqlite3_bind_blob(statement, index, bytes, count, SQLITE_STATIC);
}

static inline int smx_sqlite3_bind_blob_transient(sqlite3_stmt *statement, int index, const void *bytes, int count) {
    return sqlite3_bind_blob(statement, index, bytes, count, SQLITE_TRANSIENT);
}

static inline int smx_sqlite3_bind_text_transient(sqlite3_stmt *statement, int index, const char *text, int count) {
    return sqlite3_bind_text(statement, index, text, count, SQLITE_TRANSIENT);
}
#endif

/*
 * fuzz_fakes.h — the request side of libmicrohttpd for the harnesses: a
 * connection is an fz_conn, and MHD_lookup_connection_value (defined in
 * fuzz_fakes.c, so the harnesses do not link libmicrohttpd) answers its
 * query arguments and its Accept and If-None-Match headers. fuzz_fakes.c
 * also defines the dashboard page (fm_dashboard_page) the fmasd build
 * generates.
 */
#ifndef FMAS_FUZZ_FAKES_H
#define FMAS_FUZZ_FAKES_H

#include <stddef.h>

#define FZ_MAX_QUERY 16

/* The query string and headers of the request in flight. */
typedef struct fz_conn {
    char *query;              /* a private copy, split in place; free() it */
    const char *keys[FZ_MAX_QUERY], *values[FZ_MAX_QUERY];
    size_t n;
    const char *accept;       /* Accept and If-None-Match, or NULL */
} fz_conn;

/* Split the query string q (len bytes; NULL: none) into c's arguments as
 * libmicrohttpd does: "a=1&b&c=" (a key without '=' has no value, which
 * fm_query callers see as absent). At most FZ_MAX_QUERY are kept. */
void fz_conn_query(fz_conn *c, const char *q, size_t len);

#endif

/*
 * router.h — one step from method and path to handler: a route table and
 * the matching of a request against it.
 *
 * The table of fmasd's endpoints is routes.c; the daemon receives it as an
 * fm_router and so depends on no handler.
 */
#ifndef FMAS_SERVER_ROUTER_H
#define FMAS_SERVER_ROUTER_H

#include <stddef.h>

#include "http.h"

/* Route flags. FM_ROUTE_LONG: the handler may run for long (large batches,
 * fits), so it always runs on the daemon's work queue, never on an HTTP
 * thread. Other routes go there only with a body over the daemon's
 * threshold. */
#define FM_ROUTE_LONG 1u
/* FM_ROUTE_WRITE: the handler changes the store; a read replica refuses
 * it (409, naming the writer) before reading the body. */
#define FM_ROUTE_WRITE 2u

/* One row of a router table: method + path pattern → handler, its flags
 * and its body stream (NULL: the body is read whole).
 * A pattern segment "{name}" captures one path segment. Routes of one
 * pattern are listed together (405 answers list their methods). */
typedef struct fm_route {
    const char *method;
    const char *pattern;
    fm_handler handler;
    unsigned flags;
    const fm_body_stream *stream;
} fm_route;

typedef struct fm_router {
    const fm_route *routes;
    size_t n;
} fm_router;

/*
 * Match a path against the table. Returns the route index (and fills
 * params, pointing into a copy kept in pathbuf), -1 if no pattern matches
 * the path, or -2 if the path matches but not the method (allow receives
 * "GET, PUT" etc.). The path-pattern index (for metrics) is written to
 * *pattern_idx whenever a pattern matched.
 */
int fm_router_match(const fm_router *router, const char *method, const char *path, char *pathbuf,
                    size_t pathbuf_size, const char **params, size_t *nparams, char *allow,
                    size_t allow_size, int *pattern_idx);

/* The metrics label of pattern index r (its pattern), or NULL when r is
 * not the first route of its pattern. */
const char *fm_router_label(const fm_router *router, int r);

#endif

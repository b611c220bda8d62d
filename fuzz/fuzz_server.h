/*
 * fuzz_server.h — an fmasd without sockets for the fuzz harnesses: the real
 * store (LMDB in a temporary directory), spaces, fitter and bundled tables,
 * and requests handed straight to the real handlers.
 *
 * A request's query string and headers are served by this file's own
 * MHD_lookup_connection_value (the harnesses do not link libmicrohttpd), so
 * the handlers' query parsing runs on fuzzed bytes exactly as in fmasd.
 */
#ifndef FMAS_FUZZ_SERVER_H
#define FMAS_FUZZ_SERVER_H

#include <stddef.h>

#include "http.h"
#include "server.h"

/* The device and the registered space the harnesses create and remove. */
#define FZ_DEVICE "fz"
#define FZ_SPACE "fz"

/* The server, started on first use (store, spaces, fitter, bundled tables).
 * Exits the process when it cannot start. */
fm_server *fz_server(void);

/*
 * One request to the handler of route r (an index into fm_routes) with the
 * given query string ("a=1&b=2", raw; may be NULL), Accept header (may be
 * NULL), media type of the body (may be "") and body. Path parameters are
 * params[0..nparams). The response is checked (a status and, for JSON,
 * a body that dumps) and released.
 */
void fz_request(size_t r, const char *const *params, size_t nparams, const char *query,
                size_t query_len, const char *accept, const char *content_type,
                const char *body, size_t body_len);

/* Undo what requests changed: remove registered spaces, the device FZ_DEVICE,
 * and restart the fitter (dropping scheduled refits). */
void fz_reset(void);

/* Create the device FZ_DEVICE (empty table) and the registered space
 * FZ_SPACE (three categorical genes, 36 genomes). */
void fz_make_device(void);
void fz_make_space(void);
/* Post twelve distinct observations of metric "miou" to FZ_SPACE and fit
 * its surrogate, so that estimates predict and screens rank. */
void fz_observe(void);

/* Ids of the built-in spaces (sorted), and their count. */
size_t fz_builtin_ids(const char *const **ids);

#endif

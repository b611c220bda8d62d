/*
 * fuzz_server.h — an fmasd without sockets for the fuzz harnesses: the real
 * store (LMDB in a temporary directory, on tmpfs where /dev/shm exists, no
 * fsync), spaces, fitter and bundled tables (the first 64 rows of each, so
 * that a listing costs what a small table costs), and requests handed
 * straight to the real handlers.
 *
 * Seed state, made once at start: the device FZ_DEVICE, the registered
 * space FZ_SPACE (no observations) and FZ_SPACE_FIT (twelve observations
 * and a fitted surrogate). An input's requests may change it; fz_reset puts
 * back only what a request reported as changed (a successful write), so an
 * input that only reads or is refused costs no store write and no fit.
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

/* The seed device and spaces, and a device name that never exists
 * between inputs. */
#define FZ_DEVICE "fz"
#define FZ_DEVICE_ABSENT "fzabsent"
#define FZ_SPACE "fz"
#define FZ_SPACE_FIT "fzfit"

/* The server, started on first use (store, spaces, fitter, bundled tables,
 * seed state). Exits the process when it cannot start. */
fm_server *fz_server(void);

/*
 * One request to the handler of route r (an index into fm_routes) with the
 * given query string ("a=1&b=2", raw; may be NULL), Accept header (may be
 * NULL), media type of the body (may be "") and body. Path parameters are
 * params[0..nparams). The response is checked (a status and, for JSON,
 * a body that dumps) and released. A successful write (any method but
 * GET and HEAD that answers < 400) marks what it changed for fz_reset.
 */
void fz_request(size_t r, const char *const *params, size_t nparams, const char *query,
                size_t query_len, const char *accept, const char *content_type,
                const char *body, size_t body_len);

/* Put back the seed state where a request changed it: remove spaces
 * registered by requests, remake a changed seed device or space (a changed
 * FZ_SPACE_FIT is fitted again), purge observations posted to built-in
 * spaces, and restart the fitter (dropping scheduled refits) after
 * observations or fits. Costs nothing when no request wrote. */
void fz_reset(void);

/* FZ_SPACE exists: it is made at start and remade by fz_reset, so this
 * only starts the server. */
void fz_make_space(void);

/* Ids of the built-in spaces (sorted), and their count. */
size_t fz_builtin_ids(const char *const **ids);

#endif

/*
 * server.h — fmasd's shared state, its router table and its handlers.
 */
#ifndef FMAS_SERVER_SERVER_H
#define FMAS_SERVER_SERVER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "lut.h"
#include "fitter.h"
#include "metrics.h"
#include "spaces.h"

typedef struct fm_config {
    char listen_host[256];
    unsigned short listen_port;
    char data_dir[4096];
    char tables_dir[4096]; /* bundled tables loaded on first start; "" = none */
    unsigned threads;      /* thread-pool size, at most the core count */
    size_t max_body;       /* bytes */
    unsigned conn_timeout; /* seconds */
    size_t min_observations; /* distinct genomes before a surrogate is fitted */
    unsigned refit_delay_ms; /* debounce of background refits */
} fm_config;

struct fm_server {
    fm_config cfg;
    lut_store *store;
    fm_metrics metrics;
    fm_spaces spaces;
    fm_fitter *fitter;
    atomic_long inflight; /* requests being read or handled */
};

/* One row of the router table: method + path pattern → handler.
 * A pattern segment "{name}" captures one path segment. */
typedef struct fm_route {
    const char *method;
    const char *pattern;
    fm_handler handler;
} fm_route;

extern const fm_route fm_routes[];
extern const size_t fm_nroutes;

/*
 * Match a path against the router table. Returns the route index (and fills
 * params, pointing into a copy kept in pathbuf), -1 if no pattern matches
 * the path, or -2 if the path matches but not the method (allow receives
 * "GET, PUT" etc.). The path-pattern index (for metrics) is written to
 * *pattern_idx whenever a pattern matched.
 */
int fm_route_match(const char *method, const char *path, char *pathbuf,
                   size_t pathbuf_size, const char **params, size_t *nparams,
                   char *allow, size_t allow_size, int *pattern_idx);

/* Load the bundled tables of cfg.tables_dir once per data directory. */
int fm_load_bundled(fm_server *srv);

/* Handlers, one per route (server/routes.c lists them). */
void h_health(fm_request *rq, fm_response *rs);
void h_metrics(fm_request *rq, fm_response *rs);
void h_device_list(fm_request *rq, fm_response *rs);
void h_device_get(fm_request *rq, fm_response *rs);
void h_device_put(fm_request *rq, fm_response *rs);
void h_device_delete(fm_request *rq, fm_response *rs);
void h_lut_upload(fm_request *rq, fm_response *rs);
void h_lut_list(fm_request *rq, fm_response *rs);
void h_estimate(fm_request *rq, fm_response *rs);
void h_space_list(fm_request *rq, fm_response *rs);
void h_space_get(fm_request *rq, fm_response *rs);
void h_space_create(fm_request *rq, fm_response *rs);
void h_space_delete(fm_request *rq, fm_response *rs);
void h_space_expand(fm_request *rq, fm_response *rs);
void h_space_layers(fm_request *rq, fm_response *rs);
void h_space_estimate(fm_request *rq, fm_response *rs);
void h_observations_post(fm_request *rq, fm_response *rs);
void h_observations_get(fm_request *rq, fm_response *rs);
void h_surrogate_get(fm_request *rq, fm_response *rs);
void h_surrogate_fit(fm_request *rq, fm_response *rs);
void h_screen(fm_request *rq, fm_response *rs);

#endif

/*
 * server.h — fmasd's shared state: the configuration and what every
 * request may use (the store, the spaces with their observations and
 * models, the fitter, the request metrics).
 *
 * main.c fills it before the daemon starts and tears it down after the
 * daemon stopped; between the two, handlers reach it as rq->srv. Each
 * member is its own module with its own locking (or none needed).
 */
#ifndef FMAS_SERVER_SERVER_H
#define FMAS_SERVER_SERVER_H

#include <stddef.h>

#include "auth.h"
#include "calib.h"
#include "fitter.h"
#include "lut.h"
#include "metrics.h"
#include "spaces.h"

typedef struct fm_config {
    char listen_host[256];
    unsigned short listen_port;
    char data_dir[4096];
    char tables_dir[4096]; /* bundled tables loaded on first start; "" = none */
    unsigned threads;      /* thread-pool size, at most the core count */
    unsigned workers;      /* worker threads for long requests */
    size_t work_queue;     /* long requests that may wait for a worker */
    size_t max_body;       /* bytes */
    unsigned conn_timeout; /* seconds */
    size_t min_observations; /* distinct genomes before a surrogate is fitted */
    unsigned refit_delay_ms; /* debounce of background refits */
    fm_auth auth;            /* bearer tokens; none by default */
    char snapshot_dir[4096]; /* snapshots shipped to replicas; "" = none */
    unsigned snapshot_interval_ms; /* writer: snapshot at most this often; replica: poll period */
    int replica;             /* serve the snapshots of snapshot_dir, read-only */
    char writer_url[1024];   /* where writes go (named by a replica's refusals) */
} fm_config;

struct fm_snapshotter;
struct fm_replica;

typedef struct fm_server fm_server;

struct fm_server {
    fm_config cfg;
    lut_store *store;
    fm_metrics metrics;
    fm_spaces spaces;
    fm_fitter *fitter;
    fm_calib *calib; /* measurements and calibrations; NULL: none */
    struct fm_snapshotter *snapshots; /* a writer's, or NULL */
    struct fm_replica *replica;       /* a replica's, or NULL */
};

#endif

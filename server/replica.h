/*
 * replica.h — a read replica's side of the snapshots (snapshot.h): it
 * serves the newest complete snapshot in the directory, read-only, and
 * follows newer ones as the writer publishes them.
 *
 * The follower thread polls the directory; on a newer snapshot it swaps
 * the store's environment (lut_store_swap: requests in flight finish on
 * the old one), then rebuilds the space registry from it
 * (fm_spaces_reload: spaces, observations; costers follow the tables by
 * version and hash) and schedules refits of the stored observations.
 */
#ifndef FMAS_SERVER_REPLICA_H
#define FMAS_SERVER_REPLICA_H

#include <stdint.h>

#include "fitter.h"
#include "lut.h"
#include "snapshot.h"
#include "spaces.h"

typedef struct fm_replica fm_replica;

/* Wait up to wait_ms for a first complete snapshot in dir and open it as a
 * read-only store (*store, closed by the caller after fm_replica_stop).
 * Returns 0, LUT_ENOTFOUND when none came, or the store's error. */
int fm_replica_open(fm_replica **out, const char *dir, unsigned wait_ms, lut_store **store);

/* Start following newer snapshots every poll_ms; spaces and fitter are
 * refreshed after each swap. */
int fm_replica_follow(fm_replica *r, lut_store *store, fm_spaces *spaces, fm_fitter *fitter, unsigned poll_ms);

/* Stop following (if started) and free; NULL is fine. */
void fm_replica_stop(fm_replica *r);

typedef struct fm_replica_status {
    fm_snapshot_info serving; /* the snapshot served */
    double loaded;            /* unix seconds it was swapped in */
    uint64_t newest;          /* the newest sequence seen in the directory */
    double lag_s;             /* how long the newest seen has waited to be served; 0 when served */
    uint64_t swaps;           /* snapshots swapped in since start */
} fm_replica_status;

void fm_replica_status_get(fm_replica *r, fm_replica_status *st);

#endif

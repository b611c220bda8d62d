/*
 * snapshot.h — the snapshot directory a writer fmasd ships to its read
 * replicas, and the writer's thread that keeps it current.
 *
 * Layout of DIR: one directory per snapshot, "snap-" and its sequence in
 * 12 digits, holding data.mdb (a compacted copy of the store, made by
 * lut_store_copy) and manifest.json:
 *   {"format": 1, "sequence": N, "created": unix seconds, "txnid": T,
 *    "writer": URL, "lut_versions": {device: version}}
 * A snapshot is built in ".tmp-N-PID" and renamed into place, so a
 * "snap-" directory is always complete. lut_versions are read from the
 * copy itself, so they name exactly what it holds. The writer keeps the
 * newest FM_SNAPSHOT_KEEP and removes older ones (a replica still serving
 * a removed one keeps its open files until it swaps).
 */
#ifndef FMAS_SERVER_SNAPSHOT_H
#define FMAS_SERVER_SNAPSHOT_H

#include <pthread.h>
#include <stdint.h>

#include "lut.h"

#define FM_SNAPSHOT_KEEP 4

typedef struct fm_snapshot_info {
    uint64_t sequence; /* 0: none */
    double created;    /* unix seconds, from the manifest */
    char path[4200];   /* DIR/snap-N */
} fm_snapshot_info;

/* The newest complete snapshot in dir (its manifest read). Returns 0, or
 * LUT_ENOTFOUND when there is none. */
int fm_snapshot_newest(const char *dir, fm_snapshot_info *out);

/* Waits up to ms on wake (lock held inside) or until *stop; returns *stop.
 * The pause of the writer's and the replica's threads. */
int fm_snapshot_nap(pthread_mutex_t *lock, pthread_cond_t *wake, const int *stop, unsigned ms);

typedef struct fm_snapshotter fm_snapshotter;

/* Start the writer's thread: a first snapshot at once, then, every
 * interval_ms, one more when a write was committed since the last
 * (so a burst of writes makes one snapshot). dir is created if missing;
 * sequences go on from the newest snapshot already there. */
int fm_snapshotter_start(fm_snapshotter **out, lut_store *store, const char *dir, unsigned interval_ms,
                         const char *writer_url);
/* Stop the thread (after a snapshot in progress) and free it; NULL is fine. */
void fm_snapshotter_stop(fm_snapshotter *s);

/* The last snapshot written (sequence 0 before the first), how many were
 * written and how long the last one took, in milliseconds. */
void fm_snapshotter_status(fm_snapshotter *s, fm_snapshot_info *last, uint64_t *written, double *last_ms);

#endif

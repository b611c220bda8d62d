/*
 * metrics.h — request counters and latency histograms for GET /metrics.
 * Lock-free: every field is an atomic counter, so recording a request never
 * blocks another.
 */
#ifndef FMAS_SERVER_METRICS_H
#define FMAS_SERVER_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define FM_METRICS_ROUTES 40    /* route table slots (a pattern counts at its first route) + 1 for "unmatched" */
#define FM_METRICS_METHODS 6    /* GET PUT POST DELETE HEAD other */
#define FM_METRICS_STATUSES 16
#define FM_METRICS_BUCKETS 14

typedef struct fm_metrics {
    atomic_uint_fast64_t requests[FM_METRICS_ROUTES][FM_METRICS_METHODS][FM_METRICS_STATUSES];
    atomic_uint_fast64_t buckets[FM_METRICS_ROUTES][FM_METRICS_BUCKETS + 1];
    atomic_uint_fast64_t sum_ns[FM_METRICS_ROUTES];
    const char *labels[FM_METRICS_ROUTES]; /* set at start-up (fm_metrics_label) */
    /* The work queue of long requests (the daemon keeps these current). */
    atomic_long work_queued;            /* waiting for a worker */
    atomic_long work_busy;              /* being handled by a worker */
    atomic_uint_fast64_t work_rejected; /* answered 503: the queue was full */
    unsigned work_workers;              /* set at start-up */
} fm_metrics;

/* Name route slot `route` (a pattern index) in the rendered text; done
 * once at start-up, before requests are served. Unnamed slots are left
 * out of the text. */
void fm_metrics_label(fm_metrics *m, int route, const char *label);

/* route: pattern index, or -1 for requests that matched no pattern. */
void fm_metrics_record(fm_metrics *m, int route, const char *method,
                       unsigned status, uint64_t elapsed_ns);

/* Append the Prometheus text of the counters to out. Returns 0 or ENOMEM. */
int fm_metrics_render(const fm_metrics *m, fm_buf *out);

#endif

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

#define FM_METRICS_ROUTES 24    /* path patterns + 1 for "unmatched" */
#define FM_METRICS_METHODS 6    /* GET PUT POST DELETE HEAD other */
#define FM_METRICS_STATUSES 16
#define FM_METRICS_BUCKETS 14

typedef struct fm_metrics {
    atomic_uint_fast64_t requests[FM_METRICS_ROUTES][FM_METRICS_METHODS][FM_METRICS_STATUSES];
    atomic_uint_fast64_t buckets[FM_METRICS_ROUTES][FM_METRICS_BUCKETS + 1];
    atomic_uint_fast64_t sum_ns[FM_METRICS_ROUTES];
} fm_metrics;

/* route: pattern index, or -1 for requests that matched no pattern. */
void fm_metrics_record(fm_metrics *m, int route, const char *method,
                       unsigned status, uint64_t elapsed_ns);

/* Append the Prometheus text of the counters to a malloc'd buffer.
 * route_label(i) names pattern i. Returns 0 or ENOMEM. */
struct fm_buf;
int fm_metrics_render(const fm_metrics *m, struct fm_buf *out,
                      const char *(*route_label)(int route));

/* A growable byte buffer (used by renderers and the CSV writer). */
typedef struct fm_buf {
    char *data;
    size_t len, cap;
    int oom; /* set once an append failed; later appends are no-ops */
} fm_buf;

void fm_buf_append(fm_buf *b, const char *s, size_t n);
void fm_buf_printf(fm_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif

/*
 * metrics.c — request counters and latency histograms (see metrics.h).
 */
#include "metrics.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const method_names[FM_METRICS_METHODS] = {
    "GET", "PUT", "POST", "DELETE", "HEAD", "other"};

static const unsigned statuses[FM_METRICS_STATUSES] = {
    200, 201, 204, 400, 401, 403, 404, 405, 406, 408, 413, 415, 422, 500, 503, 0};
#define OTHER_STATUS (FM_METRICS_STATUSES - 1)

/* Upper bounds in seconds; the last bucket is +Inf. */
static const double bucket_le[FM_METRICS_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
    0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0};

static int method_index(const char *method)
{
    for (int i = 0; i < FM_METRICS_METHODS - 1; i++)
        if (strcmp(method, method_names[i]) == 0)
            return i;
    return FM_METRICS_METHODS - 1;
}

static int status_index(unsigned status)
{
    for (int i = 0; i < FM_METRICS_STATUSES; i++)
        if (statuses[i] == status)
            return i;
    return OTHER_STATUS;
}

void fm_metrics_record(fm_metrics *m, int route, const char *method,
                       unsigned status, uint64_t elapsed_ns)
{
    int r = (route < 0 || route >= FM_METRICS_ROUTES - 1) ? FM_METRICS_ROUTES - 1 : route;
    atomic_fetch_add(&m->requests[r][method_index(method)][status_index(status)], 1);
    double s = (double)elapsed_ns / 1e9;
    int b = 0;
    while (b < FM_METRICS_BUCKETS && s > bucket_le[b])
        b++;
    atomic_fetch_add(&m->buckets[r][b], 1);
    atomic_fetch_add(&m->sum_ns[r], elapsed_ns);
}

void fm_metrics_label(fm_metrics *m, int route, const char *label)
{
    if (route >= 0 && route < FM_METRICS_ROUTES - 1)
        m->labels[route] = label;
}

/* The label of route slot r: its pattern, "unmatched" for the last slot,
 * NULL for slots no pattern names. */
static const char *route_label(const fm_metrics *m, int r)
{
    return r == FM_METRICS_ROUTES - 1 ? "unmatched" : m->labels[r];
}

int fm_metrics_render(const fm_metrics *m, fm_buf *out)
{
    fm_buf_printf(out, "# HELP fmas_http_requests_total HTTP requests by route, method and status.\n"
                       "# TYPE fmas_http_requests_total counter\n");
    for (int r = 0; r < FM_METRICS_ROUTES; r++) {
        const char *label = route_label(m, r);
        if (!label)
            continue;
        for (int mi = 0; mi < FM_METRICS_METHODS; mi++)
            for (int si = 0; si < FM_METRICS_STATUSES; si++) {
                uint64_t n = atomic_load(&m->requests[r][mi][si]);
                if (!n)
                    continue;
                if (si == OTHER_STATUS || statuses[si] == 0)
                    fm_buf_printf(out, "fmas_http_requests_total{method=\"%s\",route=\"%s\",status=\"other\"} %llu\n",
                                  method_names[mi], label, (unsigned long long)n);
                else
                    fm_buf_printf(out, "fmas_http_requests_total{method=\"%s\",route=\"%s\",status=\"%u\"} %llu\n",
                                  method_names[mi], label, statuses[si], (unsigned long long)n);
            }
    }
    fm_buf_printf(out, "# HELP fmas_http_request_duration_seconds Time from the end of the request body to the response, by route.\n"
                       "# TYPE fmas_http_request_duration_seconds histogram\n");
    for (int r = 0; r < FM_METRICS_ROUTES; r++) {
        const char *label = route_label(m, r);
        if (!label)
            continue;
        uint64_t cum = 0;
        for (int b = 0; b <= FM_METRICS_BUCKETS; b++) {
            cum += atomic_load(&m->buckets[r][b]);
            if (b < FM_METRICS_BUCKETS)
                fm_buf_printf(out, "fmas_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                              label, bucket_le[b], (unsigned long long)cum);
            else
                fm_buf_printf(out, "fmas_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
                              label, (unsigned long long)cum);
        }
        fm_buf_printf(out, "fmas_http_request_duration_seconds_sum{route=\"%s\"} %.9f\n", label,
                      (double)atomic_load(&m->sum_ns[r]) / 1e9);
        fm_buf_printf(out, "fmas_http_request_duration_seconds_count{route=\"%s\"} %llu\n", label,
                      (unsigned long long)cum);
    }
    fm_buf_printf(out, "# HELP fmas_workq_queued Long requests waiting for a worker.\n"
                       "# TYPE fmas_workq_queued gauge\n"
                       "fmas_workq_queued %ld\n"
                       "# HELP fmas_workq_busy Workers handling a long request.\n"
                       "# TYPE fmas_workq_busy gauge\n"
                       "fmas_workq_busy %ld\n"
                       "# HELP fmas_workq_workers Worker threads for long requests.\n"
                       "# TYPE fmas_workq_workers gauge\n"
                       "fmas_workq_workers %u\n"
                       "# HELP fmas_workq_rejected_total Long requests answered 503 because the queue was full.\n"
                       "# TYPE fmas_workq_rejected_total counter\n"
                       "fmas_workq_rejected_total %llu\n",
                  atomic_load(&m->work_queued), atomic_load(&m->work_busy), m->work_workers,
                  (unsigned long long)atomic_load(&m->work_rejected));
    return out->oom ? ENOMEM : 0;
}

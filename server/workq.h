/*
 * workq.h — a bounded queue of jobs run by a fixed set of worker threads.
 *
 * It knows nothing of HTTP: the daemon hands it the requests whose
 * handling may be long, so that they never hold up the threads that read
 * and answer the others. Jobs run in submission order, each on one worker.
 * The queue is bounded: a submission that finds it full is refused at once
 * (the caller answers "try again later") instead of waiting.
 */
#ifndef FMAS_SERVER_WORKQ_H
#define FMAS_SERVER_WORKQ_H

#include <stddef.h>

typedef struct fm_workq fm_workq;

/* A job: fn(arg) on a worker thread. arg belongs to the submitter's
 * protocol; the queue never frees or reads it. */
typedef void (*fm_work_fn)(void *arg);

/* Start `workers` threads (at least 1) with room for `capacity` waiting
 * jobs (at least 1). Returns 0 or an errno. */
int fm_workq_start(unsigned workers, size_t capacity, fm_workq **out);

/* Queue fn(arg). Returns 0, EAGAIN when `capacity` jobs already wait, or
 * ECANCELED once fm_workq_drain began; on an error fn is never called. */
int fm_workq_submit(fm_workq *q, fm_work_fn fn, void *arg);

/* Refuse new jobs, run every job already queued, and join the workers.
 * Returns when the last job has returned. Idempotent. */
void fm_workq_drain(fm_workq *q);

/* Drain (if not done) and free q. NULL is a no-op. */
void fm_workq_free(fm_workq *q);

/* A snapshot for metrics: jobs waiting, jobs running, worker threads. */
typedef struct fm_workq_stats {
    size_t queued;
    size_t busy;
    unsigned workers;
} fm_workq_stats;
void fm_workq_stats_get(fm_workq *q, fm_workq_stats *out);

#endif

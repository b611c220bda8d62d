/*
 * workq.c — the bounded job queue and its workers (see workq.h).
 */
#include "workq.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

typedef struct job {
    fm_work_fn fn;
    void *arg;
} job;

struct fm_workq {
    pthread_mutex_t mu;
    pthread_cond_t wake;
    job *ring;         /* capacity slots */
    size_t capacity, head, count;
    size_t busy;
    int stopping;
    int joined;
    pthread_t *threads;
    unsigned nthreads;
};

static void *worker_main(void *vq)
{
    fm_workq *q = vq;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (q->count == 0 && !q->stopping)
            pthread_cond_wait(&q->wake, &q->mu);
        if (q->count == 0)
            break; /* stopping, and nothing left to run */
        job j = q->ring[q->head];
        q->head = (q->head + 1) % q->capacity;
        q->count--;
        q->busy++;
        pthread_mutex_unlock(&q->mu);
        j.fn(j.arg);
        pthread_mutex_lock(&q->mu);
        q->busy--;
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

int fm_workq_start(unsigned workers, size_t capacity, fm_workq **out)
{
    if (workers < 1)
        workers = 1;
    if (capacity < 1)
        capacity = 1;
    fm_workq *q = calloc(1, sizeof *q);
    if (!q)
        return ENOMEM;
    q->capacity = capacity;
    q->ring = calloc(capacity, sizeof *q->ring);
    q->threads = calloc(workers, sizeof *q->threads);
    if (!q->ring || !q->threads) {
        free(q->ring);
        free(q->threads);
        free(q);
        return ENOMEM;
    }
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->wake, NULL);
    for (; q->nthreads < workers; q->nthreads++) {
        int rc = pthread_create(&q->threads[q->nthreads], NULL, worker_main, q);
        if (rc) {
            fm_workq_free(q);
            return rc;
        }
    }
    *out = q;
    return 0;
}

int fm_workq_submit(fm_workq *q, fm_work_fn fn, void *arg)
{
    int rc = 0;
    pthread_mutex_lock(&q->mu);
    if (q->stopping) {
        rc = ECANCELED;
    } else if (q->count == q->capacity) {
        rc = EAGAIN;
    } else {
        q->ring[(q->head + q->count) % q->capacity] = (job){fn, arg};
        q->count++;
        pthread_cond_signal(&q->wake);
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

void fm_workq_drain(fm_workq *q)
{
    pthread_mutex_lock(&q->mu);
    q->stopping = 1;
    int joined = q->joined;
    q->joined = 1;
    pthread_cond_broadcast(&q->wake);
    pthread_mutex_unlock(&q->mu);
    if (joined)
        return;
    for (unsigned i = 0; i < q->nthreads; i++)
        pthread_join(q->threads[i], NULL);
}

void fm_workq_free(fm_workq *q)
{
    if (!q)
        return;
    fm_workq_drain(q);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->wake);
    free(q->ring);
    free(q->threads);
    free(q);
}

void fm_workq_stats_get(fm_workq *q, fm_workq_stats *out)
{
    pthread_mutex_lock(&q->mu);
    out->queued = q->count;
    out->busy = q->busy;
    out->workers = q->nthreads;
    pthread_mutex_unlock(&q->mu);
}

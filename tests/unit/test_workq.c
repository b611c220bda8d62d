/*
 * test_workq.c — the bounded job queue of fmasd (server/workq.h): jobs
 * run on the workers, a full queue refuses at once, and draining runs
 * every queued job before it returns and refuses new ones.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>
#include <time.h>

#include <cmocka.h>

#include "workq.h"

static atomic_int ran;

/* A gate the jobs wait at, so the test controls when they finish. */
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_open;

static void count_job(void *arg)
{
    (void)arg;
    atomic_fetch_add(&ran, 1);
}

static void gated_job(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&gate_mu);
    while (!gate_open)
        pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
    atomic_fetch_add(&ran, 1);
}

static void set_gate(int open)
{
    pthread_mutex_lock(&gate_mu);
    gate_open = open;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
}

static void wait_busy(fm_workq *q, size_t busy)
{
    fm_workq_stats st;
    for (int i = 0; i < 5000; i++) {
        fm_workq_stats_get(q, &st);
        if (st.busy == busy)
            return;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    fail_msg("the workers never took %zu jobs", busy);
}

static void test_runs_every_job(void **state)
{
    (void)state;
    fm_workq *q = NULL;
    atomic_store(&ran, 0);
    assert_int_equal(fm_workq_start(3, 1000, &q), 0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(fm_workq_submit(q, count_job, NULL), 0);
    fm_workq_drain(q);
    assert_int_equal(atomic_load(&ran), 1000);
    assert_int_equal(fm_workq_submit(q, count_job, NULL), ECANCELED);
    fm_workq_drain(q); /* idempotent */
    fm_workq_free(q);
}

static void test_full_queue_refuses(void **state)
{
    (void)state;
    fm_workq *q = NULL;
    atomic_store(&ran, 0);
    set_gate(0);
    assert_int_equal(fm_workq_start(1, 2, &q), 0);
    assert_int_equal(fm_workq_submit(q, gated_job, NULL), 0);
    wait_busy(q, 1); /* the worker holds the first job */
    assert_int_equal(fm_workq_submit(q, gated_job, NULL), 0);
    assert_int_equal(fm_workq_submit(q, gated_job, NULL), 0);
    assert_int_equal(fm_workq_submit(q, gated_job, NULL), EAGAIN);
    fm_workq_stats st;
    fm_workq_stats_get(q, &st);
    assert_int_equal(st.queued, 2);
    assert_int_equal(st.busy, 1);
    assert_int_equal(st.workers, 1);
    set_gate(1);
    fm_workq_free(q); /* drains: the two waiting jobs run too */
    assert_int_equal(atomic_load(&ran), 3);
}

static void test_free_null(void **state)
{
    (void)state;
    fm_workq_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runs_every_job),
        cmocka_unit_test(test_full_queue_refuses),
        cmocka_unit_test(test_free_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

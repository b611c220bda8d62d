/*
 * test_sur_batch.c — sur_predict_batch: a row's prediction is the same,
 * bit for bit, alone, at any place of any batch, for the ridge (primal
 * and dual forms) and the GP.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <math.h>

#include "sur.h"
#include "sur_testing.h"

#define D 6
#define ROWS 11

static sur_model *fit_random(sur_kind kind, size_t n, uint64_t seed)
{
    double x[64 * D], y[64];
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) {
        y[i] = 0;
        for (size_t j = 0; j < D; j++) {
            x[i * D + j] = rng_unit(&s);
            y[i] += (double)(j + 1) * x[i * D + j] * x[i * D + j];
        }
        y[i] += 0.05 * rng_normal(&s);
    }
    sur_data data = {.n = n, .d = D, .x = x, .y = y, .count = NULL};
    sur_model *m = NULL;
    int rc = sur_fit(kind, &data, NULL, &m);
    if (rc)
        fail_msg("sur_fit(%s): %s", sur_kind_name(kind), sur_strerror(rc));
    return m;
}

/* Every row alone, and rows from..ROWS-1 as a batch, match the batch of
 * all rows bit for bit. */
static void check_rows_independent(const sur_model *m)
{
    double x[ROWS * D], mean[ROWS], sd[ROWS], lat[ROWS];
    uint64_t s = 99;
    for (size_t i = 0; i < ROWS * D; i++)
        x[i] = rng_unit(&s);
    assert_int_equal(sur_predict_batch(m, x, ROWS, mean, sd, lat), 0);
    for (size_t i = 0; i < ROWS; i++) {
        double m1, s1, l1;
        assert_int_equal(sur_predict_batch(m, x + i * D, 1, &m1, &s1, &l1), 0);
        assert_memory_equal(&m1, &mean[i], sizeof m1);
        assert_memory_equal(&s1, &sd[i], sizeof s1);
        assert_memory_equal(&l1, &lat[i], sizeof l1);
    }
    for (size_t from = 1; from < 4; from++) {
        double mb[ROWS], sb[ROWS];
        assert_int_equal(sur_predict_batch(m, x + from * D, ROWS - from, mb, sb, NULL), 0);
        assert_memory_equal(mb, mean + from, (ROWS - from) * sizeof *mb);
        assert_memory_equal(sb, sd + from, (ROWS - from) * sizeof *sb);
    }
    /* The means are sur_predict's. */
    double pm[ROWS];
    assert_int_equal(sur_predict(m, x, ROWS, pm, NULL, NULL), 0);
    assert_memory_equal(pm, mean, sizeof pm);
}

static void test_ridge_primal(void **state)
{
    (void)state;
    sur_model *m = fit_random(SUR_RIDGE, 60, 1);
    check_rows_independent(m);
    sur_model_free(m);
}

static void test_ridge_dual(void **state)
{
    (void)state;
    sur_model *m = fit_random(SUR_RIDGE, 14, 2);
    check_rows_independent(m);
    sur_model_free(m);
}

static void test_gp(void **state)
{
    (void)state;
    sur_model *m = fit_random(SUR_GP, 30, 3);
    check_rows_independent(m);
    sur_model_free(m);
}

static void test_empty_and_bad(void **state)
{
    (void)state;
    sur_model *m = fit_random(SUR_RIDGE, 30, 4);
    double x[D] = {0}, mean, sd;
    assert_int_equal(sur_predict_batch(m, x, 0, &mean, &sd, NULL), 0);
    x[2] = NAN;
    assert_int_equal(sur_predict_batch(m, x, 1, &mean, &sd, NULL), SUR_EINVAL);
    sur_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ridge_primal),
        cmocka_unit_test(test_ridge_dual),
        cmocka_unit_test(test_gp),
        cmocka_unit_test(test_empty_and_bad),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

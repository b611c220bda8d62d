/*
 * test_sur_features.c — unordered genes: the one-hot rows of a gene whose
 * choices are names (the server hands them over as 0 .. k-1), and why they
 * matter: a ridge fit on one-hot rows ranks the choices of a metric that
 * zigzags over them, which no fit on the scaled index can.
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

/* op: four named choices (none, skip, conv1x1, conv3x3) known by index;
 * w: an ordered numeric gene. */
static const double OP[] = {0, 1, 2, 3};
static const double W[] = {1, 2, 3, 4};
/* The metric of each op: non-monotone in the index (2 > 0 > 3 > 1). */
static const double OP_VALUE[] = {0.70, 0.45, 0.75, 0.50};

static double metric(int op, int w)
{
    return OP_VALUE[op] + 0.02 * w;
}

static void test_one_hot_rows(void **state)
{
    (void)state;
    sur_gene genes[] = {{OP, 4, 1}, {W, 4, 0}};
    sur_features *f = NULL;
    assert_int_equal(sur_features_create(&f, genes, 2, 0), 0);
    /* k columns for the unordered gene (no reference choice dropped), one
     * for the ordered one. */
    assert_int_equal(sur_features_dim(f), 5);
    for (int op = 0; op < 4; op++)
        for (int w = 0; w < 4; w++) {
            int g[] = {op, w};
            double row[5];
            assert_int_equal(sur_features_encode(f, g, NULL, row), 0);
            for (int c = 0; c < 4; c++)
                assert_true(row[c] == (c == op ? 1.0 : 0.0));
            assert_true(row[4] == w / 3.0);
        }
    int bad[] = {4, 0};
    double row[5];
    assert_int_equal(sur_features_encode(f, bad, NULL, row), SUR_EINVAL);
    sur_features_free(f);
}

/*
 * Fit ridge on the 12 genomes off the diagonal (op == w held out), encoded
 * with op unordered or ordered; predict all 16. Returns the smallest
 * Kendall tau, over the 4 values of w, between the predicted and the true
 * order of the ops, and the largest error.
 */
static void fit_zigzag(int unordered, double *min_tau, double *max_err)
{
    sur_gene genes[] = {{OP, 4, unordered}, {W, 4, 0}};
    sur_features *f = NULL;
    assert_int_equal(sur_features_create(&f, genes, 2, 0), 0);
    size_t dim = sur_features_dim(f), n = 0;
    int train[12 * 2], all[16 * 2];
    double y[12];
    for (int op = 0; op < 4; op++)
        for (int w = 0; w < 4; w++) {
            all[2 * (op * 4 + w)] = op;
            all[2 * (op * 4 + w) + 1] = w;
            if (op == w)
                continue;
            train[2 * n] = op;
            train[2 * n + 1] = w;
            y[n++] = metric(op, w);
        }
    double *x = malloc(12 * dim * sizeof *x), *xa = malloc(16 * dim * sizeof *xa);
    assert_non_null(x);
    assert_non_null(xa);
    assert_int_equal(sur_features_encode_many(f, train, NULL, 12, x), 0);
    assert_int_equal(sur_features_encode_many(f, all, NULL, 16, xa), 0);
    sur_model *m = NULL;
    assert_int_equal(sur_fit(SUR_RIDGE, &(sur_data){12, dim, x, y, NULL}, NULL, &m), 0);
    double mean[16];
    assert_int_equal(sur_predict(m, xa, 16, mean, NULL, NULL), 0);
    *min_tau = 1;
    *max_err = 0;
    for (int w = 0; w < 4; w++) {
        double pred[4], truth[4], tau;
        for (int op = 0; op < 4; op++) {
            pred[op] = mean[op * 4 + w];
            truth[op] = metric(op, w);
            *max_err = fmax(*max_err, fabs(pred[op] - truth[op]));
        }
        assert_int_equal(sur_kendall_tau(pred, truth, 4, &tau), 0);
        *min_tau = fmin(*min_tau, tau);
    }
    sur_model_free(m);
    sur_features_free(f);
    free(x);
    free(xa);
}

static void test_one_hot_ranks_a_zigzag(void **state)
{
    (void)state;
    double tau, err;
    fit_zigzag(1, &tau, &err);
    assert_true(tau == 1.0);
    assert_true(err < 0.03);
    /* The scaled index: at best a parabola per w, which cannot order
     * 2 > 0 > 3 > 1. */
    fit_zigzag(0, &tau, &err);
    assert_true(tau < 1.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_hot_rows),
        cmocka_unit_test(test_one_hot_ranks_a_zigzag),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

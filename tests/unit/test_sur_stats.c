/*
 * test_sur_stats.c — the surrogate library's plain parts: Kendall tau-b and
 * Spearman rho against brute-force definitions on random data with many
 * ties, the confidence quantile, error text, and genome features.
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

/* ------------------------------------------------------- brute force */

static int sign(double v)
{
    return (v > 0) - (v < 0);
}

/* tau-b = (C - D) / sqrt((C + D + Tx)(C + D + Ty)), Tx (Ty) the pairs tied
 * in x (y) only; NaN when a factor is 0. */
static double brute_tau_b(const double *x, const double *y, size_t n)
{
    double c = 0, d = 0, tx = 0, ty = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            int sx = sign(x[i] - x[j]), sy = sign(y[i] - y[j]);
            if (sx * sy > 0)
                c++;
            else if (sx * sy < 0)
                d++;
            else if (sx == 0 && sy != 0)
                tx++;
            else if (sy == 0 && sx != 0)
                ty++;
        }
    double den = (c + d + tx) * (c + d + ty);
    return den > 0 ? (c - d) / sqrt(den) : NAN;
}

/* Average rank by counting: 1 + below + (equal - 1) / 2. */
static void brute_ranks(const double *v, size_t n, double *r)
{
    for (size_t i = 0; i < n; i++) {
        double below = 0, equal = 0;
        for (size_t j = 0; j < n; j++) {
            if (v[j] < v[i])
                below++;
            else if (v[j] == v[i])
                equal++;
        }
        r[i] = 1 + below + (equal - 1) / 2;
    }
}

static double brute_rho(const double *x, const double *y, size_t n)
{
    double *rx = malloc(n * sizeof *rx), *ry = malloc(n * sizeof *ry);
    brute_ranks(x, n, rx);
    brute_ranks(y, n, ry);
    double mx = 0, my = 0;
    for (size_t i = 0; i < n; i++) {
        mx += rx[i];
        my += ry[i];
    }
    mx /= (double)n;
    my /= (double)n;
    double sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < n; i++) {
        sxy += (rx[i] - mx) * (ry[i] - my);
        sxx += (rx[i] - mx) * (rx[i] - mx);
        syy += (ry[i] - my) * (ry[i] - my);
    }
    free(rx);
    free(ry);
    return sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : NAN;
}

static void assert_same(double got, double want, const char *what, size_t n,
                        int trial)
{
    if (isnan(want)) {
        if (!isnan(got))
            fail_msg("%s trial %d n=%zu: got %.17g, want NaN", what, trial, n,
                     got);
        return;
    }
    if (!(fabs(got - want) <= 1e-12))
        fail_msg("%s trial %d n=%zu: got %.17g, want %.17g", what, trial, n,
                 got, want);
}

/* 1000 random cases, n in 2..200, values from small alphabets (many ties,
 * sometimes constant), sometimes y a noisy function of x. */
static void test_kendall_spearman_brute_force(void **state)
{
    (void)state;
    uint64_t s = 0x5eed1234abcdull;
    double x[200], y[200];
    size_t undefined = 0;
    for (int trial = 0; trial < 1000; trial++) {
        size_t n = 2 + (size_t)(rng_next(&s) % 199);
        unsigned kx = 1 + (unsigned)(rng_next(&s) % 12);
        unsigned ky = 1 + (unsigned)(rng_next(&s) % 12);
        int related = (int)(rng_next(&s) % 3);
        for (size_t i = 0; i < n; i++) {
            x[i] = (double)(rng_next(&s) % kx);
            if (related == 1)
                y[i] = floor((x[i] + 2.0 * rng_unit(&s)) * ky / (kx + 2.0));
            else if (related == 2)
                y[i] = rng_unit(&s); /* continuous, no ties */
            else
                y[i] = (double)(rng_next(&s) % ky) - 3.0;
        }
        double tau, rho;
        assert_int_equal(sur_kendall_tau(x, y, n, &tau), 0);
        assert_int_equal(sur_spearman_rho(x, y, n, &rho), 0);
        double bt = brute_tau_b(x, y, n);
        assert_same(tau, bt, "tau", n, trial);
        assert_same(rho, brute_rho(x, y, n), "rho", n, trial);
        undefined += isnan(bt);
        /* symmetric in its arguments */
        double tau2;
        assert_int_equal(sur_kendall_tau(y, x, n, &tau2), 0);
        assert_same(tau2, bt, "tau(y,x)", n, trial);
    }
    /* the alphabets of size 1 make some constant vectors */
    assert_true(undefined > 0 && undefined < 300);
}

static void test_kendall_known_values(void **state)
{
    (void)state;
    double x[] = {1, 2, 3, 4, 5};
    double up[] = {10, 20, 30, 40, 50};
    double down[] = {5, 4, 3, 2, 1};
    double t;
    assert_int_equal(sur_kendall_tau(x, up, 5, &t), 0);
    assert_true(t == 1.0);
    assert_int_equal(sur_kendall_tau(x, down, 5, &t), 0);
    assert_true(t == -1.0);
    /* ties in both: 4 concordant, 0 discordant, one pair tied in x only,
     * one in y only: 4 / sqrt(5 * 5) = 0.8 (scipy.stats.kendalltau agrees);
     * scipy.stats.spearmanr gives 0.8333333333333335 */
    double a[] = {1, 2, 2, 3}, b[] = {1, 3, 2, 3};
    assert_int_equal(sur_kendall_tau(a, b, 4, &t), 0);
    assert_true(fabs(t - 0.8) < 1e-15);
    assert_int_equal(sur_spearman_rho(a, b, 4, &t), 0);
    assert_true(fabs(t - 0.8333333333333335) < 1e-15);
    /* scipy: tau-b 0.3846153846153847, rho 0.4545454545454545 */
    double a2[] = {1, 2, 2, 3, 3, 4}, b2[] = {2, 1, 3, 3, 1, 4};
    assert_int_equal(sur_kendall_tau(a2, b2, 6, &t), 0);
    assert_true(fabs(t - 0.3846153846153847) < 1e-15);
    assert_int_equal(sur_spearman_rho(a2, b2, 6, &t), 0);
    assert_true(fabs(t - 0.4545454545454545) < 1e-15);
    /* undefined and invalid */
    assert_int_equal(sur_kendall_tau(x, up, 1, &t), 0);
    assert_true(isnan(t));
    double c[] = {2, 2, 2, 2, 2};
    assert_int_equal(sur_kendall_tau(x, c, 5, &t), 0);
    assert_true(isnan(t));
    assert_int_equal(sur_spearman_rho(c, x, 5, &t), 0);
    assert_true(isnan(t));
    double bad[] = {1, NAN, 3, 4, 5};
    assert_int_equal(sur_kendall_tau(x, bad, 5, &t), SUR_EINVAL);
    assert_int_equal(sur_spearman_rho(bad, x, 5, &t), SUR_EINVAL);
    assert_int_equal(sur_kendall_tau(x, up, 5, NULL), SUR_EINVAL);
}

/* A large n runs in O(n log n) (an O(n^2) count would take minutes under
 * the sanitizers): 200000 pairs with every value twice, y = -x gives -1
 * and x with itself 1. */
static void test_kendall_large(void **state)
{
    (void)state;
    size_t n = 200000;
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++) {
        x[i] = (double)(i / 2);
        y[i] = -(double)(i / 2);
    }
    double t;
    assert_int_equal(sur_kendall_tau(x, y, n, &t), 0);
    assert_true(t == -1.0);
    assert_int_equal(sur_kendall_tau(x, x, n, &t), 0);
    assert_true(t == 1.0);
    free(x);
    free(y);
}

static void test_confidence_z(void **state)
{
    (void)state;
    double z;
    assert_int_equal(sur_confidence_z(0.95, &z), 0);
    assert_true(fabs(z - 1.6448536269514722) < 1e-12);
    assert_int_equal(sur_confidence_z(0.975, &z), 0);
    assert_true(fabs(z - 1.959963984540054) < 1e-12);
    assert_int_equal(sur_confidence_z(0.5, &z), SUR_EINVAL);
    assert_int_equal(sur_confidence_z(1.0, &z), SUR_EINVAL);
    assert_int_equal(sur_confidence_z(NAN, &z), SUR_EINVAL);
    assert_int_equal(sur_confidence_z(0.9, NULL), SUR_EINVAL);
}

static void test_strerror_and_names(void **state)
{
    (void)state;
    int codes[] = {SUR_OK, SUR_EINVAL, SUR_ENOMEM, SUR_ETOOFEW, SUR_ENOTPD,
                   SUR_ETOOBIG, SUR_ENOCONV, SUR_EFAILED, 1 /* GSL_EDOM */,
                   -12345};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *s = sur_strerror(codes[i]);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
    }
    assert_string_equal(sur_strerror(SUR_ETOOFEW),
                        "too few distinct observations for the model");
    assert_string_equal(sur_kind_name(SUR_RIDGE), "ridge");
    assert_string_equal(sur_kind_name(SUR_GP), "gp");
    assert_null(sur_kind_name((sur_kind)7));
    const char *reasons[] = {"constraint", "already_observed", "dominated",
                             "uncertain", "promising"};
    for (int r = 0; r < SUR_N_REASONS; r++)
        assert_string_equal(sur_reason_name((sur_reason)r), reasons[r]);
    assert_null(sur_reason_name((sur_reason)SUR_N_REASONS));
}

/* ----------------------------------------------------------- features */

static void test_features_encode(void **state)
{
    (void)state;
    const double expand[] = {2, 3, 4, 6};
    const double keep[] = {0, 1};
    const double one[] = {7};
    const double act[] = {10, 20, 30}; /* unordered: one-hot */
    const double rev[] = {6, 4, 3, 2}; /* ordered, values descending */
    sur_gene genes[] = {{expand, 4, 0}, {keep, 2, 0}, {one, 1, 0},
                        {act, 3, 1}, {rev, 4, 0}};
    sur_features *f = NULL;
    assert_int_equal(sur_features_create(&f, genes, 5, 2), 0);
    assert_int_equal(sur_features_dim(f), 1 + 1 + 1 + 3 + 1 + 2);
    assert_int_equal(sur_features_genes(f), 5);
    assert_int_equal(sur_features_extra(f), 2);

    int g[] = {2, 1, 0, 1, 0};
    double extra[] = {3.5, -1.25};
    double row[9];
    assert_int_equal(sur_features_encode(f, g, extra, row), 0);
    double want[] = {0.5, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 3.5, -1.25};
    for (int i = 0; i < 9; i++)
        assert_true(row[i] == want[i]);

    int g2[] = {3, 0, 0, 2, 3};
    assert_int_equal(sur_features_encode(f, g2, extra, row), 0);
    double want2[] = {1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 3.5, -1.25};
    for (int i = 0; i < 9; i++)
        assert_true(row[i] == want2[i]);

    /* many at once */
    int gs[10];
    memcpy(gs, g, sizeof g);
    memcpy(gs + 5, g2, sizeof g2);
    double ex2[] = {1, 2, 3, 4}, rows[18];
    assert_int_equal(sur_features_encode_many(f, gs, ex2, 2, rows), 0);
    assert_true(rows[0] == 0.5 && rows[7] == 1 && rows[8] == 2);
    assert_true(rows[9] == 1.0 && rows[16] == 3 && rows[17] == 4);

    /* bad input */
    int bad[] = {4, 0, 0, 0, 0};
    assert_int_equal(sur_features_encode(f, bad, extra, row), SUR_EINVAL);
    int neg[] = {0, 0, 0, -1, 0};
    assert_int_equal(sur_features_encode(f, neg, extra, row), SUR_EINVAL);
    double nan_extra[] = {NAN, 0};
    assert_int_equal(sur_features_encode(f, g, nan_extra, row), SUR_EINVAL);
    assert_int_equal(sur_features_encode(f, g, NULL, row), SUR_EINVAL);
    sur_features_free(f);

    const double inf[] = {1, INFINITY};
    sur_gene bad_gene[] = {{inf, 2, 0}};
    f = (sur_features *)1;
    assert_int_equal(sur_features_create(&f, bad_gene, 1, 0), SUR_EINVAL);
    assert_null(f);
    sur_gene empty[] = {{expand, 0, 0}};
    assert_int_equal(sur_features_create(&f, empty, 1, 0), SUR_EINVAL);
    assert_int_equal(sur_features_create(&f, genes, 0, 0), SUR_EINVAL);
    assert_int_equal(sur_features_create(&f, genes, 1, 65), SUR_EINVAL);
    sur_features_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kendall_spearman_brute_force),
        cmocka_unit_test(test_kendall_known_values),
        cmocka_unit_test(test_kendall_large),
        cmocka_unit_test(test_confidence_z),
        cmocka_unit_test(test_strerror_and_names),
        cmocka_unit_test(test_features_encode),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

/*
 * test_sur_kinds.c — the model kinds beyond ridge and the Matern GP: the
 * random forest on a step, the overlap-kernel GP on an interaction of
 * unordered genes, the ensemble's weights, determinism given the seed, the
 * calibration of the selected model's std on its CV residuals, and the
 * cancel hook.
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

static sur_model *fit_ok(sur_kind kind, const sur_data *data,
                         const sur_options *opt)
{
    sur_model *m = NULL;
    int rc = sur_fit(kind, data, opt, &m);
    if (rc)
        fail_msg("sur_fit(%s): %s", sur_kind_name(kind), sur_strerror(rc));
    return m;
}

/* A forest learns a step exactly away from it, its trees agreeing. */
static void test_forest_step(void **state)
{
    (void)state;
    enum { N = 100 };
    double x[N], y[N];
    uint64_t s = 5;
    for (int i = 0; i < N; i++) {
        x[i] = rng_unit(&s);
        y[i] = x[i] < 0.5 ? 0.0 : 1.0;
    }
    sur_data data = {N, 1, x, y, NULL};
    sur_model *m = fit_ok(SUR_FOREST, &data, NULL);
    double at[] = {0.1, 0.3, 0.7, 0.9, 0.5}, mean[5], std[5], lat[5];
    assert_int_equal(sur_predict(m, at, 5, mean, std, lat), 0);
    for (int i = 0; i < 4; i++)
        assert_true(fabs(mean[i] - (at[i] < 0.5 ? 0.0 : 1.0)) < 0.02);
    assert_true(lat[0] < 0.02 && lat[3] < 0.02 && isfinite(std[4]));
    sur_model_info info;
    sur_model_get_info(m, &info);
    assert_int_equal(info.kind, SUR_FOREST);
    assert_true(info.forest_trees > 0);
    sur_model_free(m);
}

/* On a feature of few values (six choice indices, met in scrambled
 * order) the forest cuts midway between two neighbouring values, as it
 * does between sorted rows: a step between 2 and 3 is learnt exactly, and
 * 2.4 and 2.6 fall on its two sides. */
static void test_forest_few_values(void **state)
{
    (void)state;
    enum { N = 60 };
    double x[N], y[N];
    for (int i = 0; i < N; i++) {
        x[i] = (double)((i * 7) % 6);
        y[i] = x[i] < 2.5 ? 0.0 : 1.0;
    }
    sur_data data = {N, 1, x, y, NULL};
    sur_model *m = fit_ok(SUR_FOREST, &data, NULL);
    double at[] = {0, 1, 2, 2.4, 2.6, 3, 4, 5}, mean[8];
    assert_int_equal(sur_predict(m, at, 8, mean, NULL, NULL), 0);
    for (int i = 0; i < 8; i++)
        assert_true(fabs(mean[i] - (at[i] < 2.5 ? 0.0 : 1.0)) < 1e-12);
    sur_model_free(m);
}

/* Four unordered genes of four choices; the metric depends on whether the
 * first two agree (an interaction no additive model can express). */
static void make_categorical(uint64_t *s, size_t n, const sur_features *f,
                             double *x, double *y)
{
    for (size_t i = 0; i < n; i++) {
        int g[4];
        for (int k = 0; k < 4; k++)
            g[k] = (int)(rng_unit(s) * 4);
        y[i] = (g[0] == g[1] ? 1.0 : 0.0) + 0.3 * (g[2] == 1) +
               0.05 * rng_normal(s);
        assert_int_equal(sur_features_encode(f, g, NULL, x + i * 16), 0);
    }
}

static double heldout_tau(const sur_model *m, const double *x,
                          const double *y, size_t n)
{
    double *mean = malloc(n * sizeof *mean), tau;
    assert_non_null(mean);
    assert_int_equal(sur_predict(m, x, n, mean, NULL, NULL), 0);
    assert_int_equal(sur_kendall_tau(y, mean, n, &tau), 0);
    free(mean);
    return tau;
}

static void test_overlap_gp_interaction(void **state)
{
    (void)state;
    enum { N = 120, T = 400 };
    static const double ch[] = {0, 1, 2, 3};
    sur_gene genes[4];
    for (int k = 0; k < 4; k++)
        genes[k] = (sur_gene){ch, 4, 1};
    sur_features *f = NULL;
    assert_int_equal(sur_features_create(&f, genes, 4, 0), 0);
    assert_int_equal(sur_features_dim(f), 16);
    static double x[N * 16], y[N], xt[T * 16], yt[T];
    uint64_t s = 77;
    make_categorical(&s, N, f, x, y);
    make_categorical(&s, T, f, xt, yt);
    sur_data data = {N, 16, x, y, NULL};
    sur_model *ogp = fit_ok(SUR_GP_OVERLAP, &data, NULL);
    sur_model *lin = fit_ok(SUR_RIDGE_LINEAR, &data, NULL);
    double t_ogp = heldout_tau(ogp, xt, yt, T), t_lin = heldout_tau(lin, xt, yt, T);
    print_message("interaction: gp_overlap tau %.3f, ridge_linear %.3f\n",
                  t_ogp, t_lin);
    assert_true(t_ogp > t_lin + 0.1);
    assert_true(t_ogp > 0.5);
    sur_model_free(ogp);
    sur_model_free(lin);
    sur_features_free(f);
}

static double smooth2(const double *x)
{
    return sin(3 * x[0]) + x[0] * x[1];
}

/* The ensemble's weights sum to 1 and its mean is the weighted mean of
 * its members' means. */
static void test_ensemble_weights(void **state)
{
    (void)state;
    enum { N = 60 };
    double x[2 * N], y[N];
    uint64_t s = 11;
    for (int i = 0; i < N; i++) {
        x[2 * i] = rng_unit(&s);
        x[2 * i + 1] = rng_unit(&s);
        y[i] = smooth2(x + 2 * i) + 0.05 * rng_normal(&s);
    }
    sur_data data = {N, 2, x, y, NULL};
    sur_model *e = fit_ok(SUR_ENSEMBLE, &data, NULL);
    sur_model_info info;
    sur_model_get_info(e, &info);
    assert_int_equal(info.kind, SUR_ENSEMBLE);
    assert_true(info.ensemble_n >= 2 && info.ensemble_n <= SUR_ENSEMBLE_MAX);
    double wsum = 0, at[] = {0.3, 0.6}, me, mk, want = 0;
    assert_int_equal(sur_predict(e, at, 1, &me, NULL, NULL), 0);
    for (size_t k = 0; k < info.ensemble_n; k++) {
        assert_true(info.ensemble_weight[k] > 0);
        wsum += info.ensemble_weight[k];
        sur_model *m = fit_ok(info.ensemble_kind[k], &data, NULL);
        assert_int_equal(sur_predict(m, at, 1, &mk, NULL, NULL), 0);
        want += info.ensemble_weight[k] * mk;
        sur_model_free(m);
    }
    assert_true(fabs(wsum - 1.0) < 1e-12);
    assert_true(fabs(me - want) < 1e-9);
    sur_model_free(e);

    /* the selection's ensemble: the best other kinds, weights summing to 1 */
    sur_selection sel;
    assert_int_equal(sur_fit_best(&data, NULL, &e, &sel), 0);
    assert_int_equal(sel.rc[SUR_ENSEMBLE], 0);
    sur_model_get_info(e, &info);
    if (info.kind == SUR_ENSEMBLE) {
        wsum = 0;
        for (size_t k = 0; k < info.ensemble_n; k++) {
            assert_true(info.ensemble_kind[k] != SUR_ENSEMBLE);
            wsum += info.ensemble_weight[k];
        }
        assert_true(fabs(wsum - 1.0) < 1e-12);
    }
    sur_model_free(e);
}

/* The same seed gives the same model bit for bit; another seed another
 * forest. */
static void test_deterministic_seed(void **state)
{
    (void)state;
    enum { N = 80 };
    double x[2 * N], y[N], at[] = {0.2, 0.7, 0.9, 0.1};
    uint64_t s = 3;
    for (int i = 0; i < N; i++) {
        x[2 * i] = rng_unit(&s);
        x[2 * i + 1] = rng_unit(&s);
        y[i] = smooth2(x + 2 * i) + 0.1 * rng_normal(&s);
    }
    sur_data data = {N, 2, x, y, NULL};
    sur_options opt;
    sur_options_default(&opt);
    static const sur_kind kinds[] = {SUR_GP_OVERLAP, SUR_FOREST, SUR_ENSEMBLE};
    for (size_t k = 0; k < 3; k++) {
        double m1[2], s1[2], m2[2], s2[2];
        sur_model *a = fit_ok(kinds[k], &data, &opt);
        sur_model *b = fit_ok(kinds[k], &data, &opt);
        assert_int_equal(sur_predict(a, at, 2, m1, s1, NULL), 0);
        assert_int_equal(sur_predict(b, at, 2, m2, s2, NULL), 0);
        assert_memory_equal(m1, m2, sizeof m1);
        assert_memory_equal(s1, s2, sizeof s1);
        sur_model_free(a);
        sur_model_free(b);
    }
    double m1[2], m2[2];
    sur_model *a = fit_ok(SUR_FOREST, &data, &opt);
    opt.seed = 2;
    sur_model *b = fit_ok(SUR_FOREST, &data, &opt);
    assert_int_equal(sur_predict(a, at, 2, m1, NULL, NULL), 0);
    assert_int_equal(sur_predict(b, at, 2, m2, NULL, NULL), 0);
    assert_true(m1[0] != m2[0] || m1[1] != m2[1]);
    sur_model_free(a);
    sur_model_free(b);
}

/* Heavy-tailed noise: the selected model's held-out std covers at least
 * 95% of its held-out residuals within +-2 std, as its CV figures say. */
static void test_calibrated_coverage(void **state)
{
    (void)state;
    enum { N = 120 };
    double x[2 * N], y[N], hm[N], hs[N];
    uint64_t s = 19;
    for (int i = 0; i < N; i++) {
        x[2 * i] = rng_unit(&s);
        x[2 * i + 1] = rng_unit(&s);
        double u = rng_normal(&s), v = rng_normal(&s);
        y[i] = smooth2(x + 2 * i) + 0.1 * u / (fabs(v) + 0.2); /* ~ Cauchy */
    }
    sur_data data = {N, 2, x, y, NULL};
    sur_model *m = NULL;
    sur_selection sel;
    assert_int_equal(sur_fit_best_heldout(&data, NULL, &m, &sel, hm, hs), 0);
    size_t in2 = 0;
    for (int i = 0; i < N; i++)
        in2 += fabs(y[i] - hm[i]) <= 2 * hs[i];
    const sur_cv *cv = &sel.cv[sel.best];
    assert_true(fabs((double)in2 / N - cv->coverage_2sigma) < 1e-12);
    for (int k = 0; k < SUR_N_KINDS; k++)
        if (!sel.rc[k])
            assert_true(sel.cv[k].coverage_2sigma >= 0.95);
    sur_model_info info;
    sur_model_get_info(m, &info);
    assert_true(info.std_scale >= 1.0);
    /* the scale is in the model's predictions: std = scale * raw std */
    sur_model *raw = NULL;
    if (info.kind != SUR_ENSEMBLE) {
        raw = fit_ok(info.kind, &data, NULL);
        double at[] = {0.5, 0.5}, sa, sb, ma, mb;
        assert_int_equal(sur_predict(m, at, 1, &ma, &sa, NULL), 0);
        assert_int_equal(sur_predict(raw, at, 1, &mb, &sb, NULL), 0);
        assert_true(fabs(sa - info.std_scale * sb) < 1e-9 * sa);
    }
    sur_model_free(raw);
    sur_model_free(m);
}

/* Answers "cancel" from its (after + 1)-th poll on, counting the polls. */
typedef struct canceller {
    unsigned polls, after;
} canceller;

static int cancel_after(void *ctx)
{
    canceller *c = ctx;
    return c->polls++ >= c->after;
}

/* A cancel hook ends every kind's fit and the selection with
 * SUR_ECANCELED, from the start or (the GPs, the forest, the ensemble)
 * after a few polls, with nothing returned; one that never fires changes
 * nothing. */
static void test_cancel(void **state)
{
    (void)state;
    enum { N = 300, D = 3 };
    double x[N * D], y[N];
    uint64_t s = 11;
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < D; j++)
            x[i * D + j] = rng_unit(&s);
        y[i] = sin(3 * x[i * D]) + x[i * D + 1] * x[i * D + 2];
    }
    sur_data data = {N, D, x, y, NULL};
    sur_options opt;
    sur_options_default(&opt);
    opt.cancel = cancel_after;
    for (int kind = 0; kind < SUR_N_KINDS; kind++) {
        /* the ridges are polled once, before they start */
        unsigned polls = kind == SUR_RIDGE || kind == SUR_RIDGE_LINEAR ? 1 : 3;
        for (unsigned after = 0; after < polls; after++) {
            canceller c = {0, after};
            opt.cancel_ctx = &c;
            sur_model *m = (sur_model *)&c;
            int rc = sur_fit((sur_kind)kind, &data, &opt, &m);
            if (rc != SUR_ECANCELED)
                fail_msg("%s after %u polls: %s", sur_kind_name((sur_kind)kind), after, sur_strerror(rc));
            assert_null(m);
            assert_true(c.polls == after + 1);
        }
    }
    canceller c = {0, 5};
    opt.cancel_ctx = &c;
    sur_model *m = NULL;
    sur_selection sel;
    assert_int_equal(sur_fit_best(&data, &opt, &m, &sel), SUR_ECANCELED);
    assert_null(m);
    c = (canceller){0, 1u << 30};
    assert_int_equal(sur_fit_best(&data, &opt, &m, &sel), SUR_OK);
    assert_non_null(m);
    assert_true(c.polls > 10);
    sur_model_free(m);
    assert_string_equal(sur_strerror(SUR_ECANCELED), "the fit was cancelled");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forest_step),
        cmocka_unit_test(test_forest_few_values),
        cmocka_unit_test(test_overlap_gp_interaction),
        cmocka_unit_test(test_ensemble_weights),
        cmocka_unit_test(test_deterministic_seed),
        cmocka_unit_test(test_calibrated_coverage),
        cmocka_unit_test(test_cancel),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

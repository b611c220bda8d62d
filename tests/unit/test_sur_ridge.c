/*
 * test_sur_ridge.c — the two routes of the ridge fit (surrogate/sur_ridge.c)
 * against each other: the primal one (P x P Gram matrix of the expanded
 * terms) and the dual one (n x n kernel matrix from the base features),
 * forced through the internal Sur_ridge_fit_as, on random data with more
 * rows than terms and fewer, with and without repeat counts, with the
 * default terms and without squares or products. At the same
 * lambda they must give the same model (means, latent variances, residual
 * variance, degrees of freedom) to 1e-8; with lambda by GCV, the same
 * lambda. The dual route's leverage at its own training rows, where the
 * short (Woodbury) form cancels, is checked against the primal one.
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

#include <gsl/gsl_linalg.h>

#include "sur_internal.h"
#include "sur_testing.h"

/* Features on a few levels each (genome-like), y a smooth function plus
 * noise; counts in 1..4 when with_counts. */
static void make_data(uint64_t *s, size_t n, size_t d, double noise,
                      double *x, double *y, size_t *count)
{
    for (size_t i = 0; i < n; i++) {
        double acc = 0;
        for (size_t j = 0; j < d; j++) {
            x[i * d + j] = floor(5.0 * rng_unit(s)) / 4.0;
            acc += sin(1.0 + (double)j) * x[i * d + j];
        }
        y[i] = acc + 0.5 * x[i * d] * x[i * d + d - 1] +
               noise * (rng_unit(s) - 0.5);
        if (count)
            count[i] = 1 + (size_t)(4.0 * rng_unit(s));
    }
}

static int close_to(double a, double b, double tol)
{
    return fabs(a - b) <= tol * (fabs(a) + fabs(b) + 1e-300);
}

typedef struct fitted {
    Sur_ridge *r;
    sur_model_info info;
} fitted;

/* terms: 2 features, products and squares (the default); 1 without the
 * squares; 0 features alone */
static fitted fit_terms(const Sur_train *t, Sur_ridge_route route,
                        double lambda, int terms)
{
    sur_options opt;
    sur_options_default(&opt);
    opt.ridge_products = terms >= 1;
    opt.ridge_squares = terms >= 2;
    fitted f;
    memset(&f, 0, sizeof f);
    int rc = Sur_ridge_fit_as(t, &opt, route, lambda, &f.r, &f.info);
    if (rc)
        fail_msg("Sur_ridge_fit_as: %s", sur_strerror(rc));
    return f;
}

static fitted fit_route(const Sur_train *t, Sur_ridge_route route,
                        double lambda)
{
    return fit_terms(t, route, lambda, 2);
}

/* Means and latent variances of both routes at the standardized rows z,
 * within tol_mean and tol_var of each other. */
static void compare_predictions(const fitted *a, const fitted *b,
                                const double *z, size_t n, double tol_mean,
                                double tol_var)
{
    double *ma = malloc(n * sizeof *ma), *mb = malloc(n * sizeof *mb);
    double *va = malloc(n * sizeof *va), *vb = malloc(n * sizeof *vb);
    assert_non_null(ma);
    assert_non_null(mb);
    assert_non_null(va);
    assert_non_null(vb);
    assert_int_equal(Sur_ridge_predict(a->r, z, n, ma, va), 0);
    assert_int_equal(Sur_ridge_predict(b->r, z, n, mb, vb), 0);
    for (size_t i = 0; i < n; i++) {
        if (!close_to(ma[i], mb[i], tol_mean))
            fail_msg("row %zu: mean %.15g vs %.15g", i, ma[i], mb[i]);
        if (!(va[i] > 0) || !close_to(va[i], vb[i], tol_var))
            fail_msg("row %zu: variance %.15g vs %.15g", i, va[i], vb[i]);
    }
    free(ma);
    free(mb);
    free(va);
    free(vb);
}

/* Expanded terms with the default options: features, products, squares. */
static size_t p_terms(size_t d)
{
    return d + d * (d - 1) / 2 + d;
}

/* One data set through both routes: at a fixed lambda and by GCV. */
static void both_routes(uint64_t seed, size_t n, size_t d, int with_counts)
{
    uint64_t s = seed;
    enum { T = 25 };
    double *x = malloc((n + T) * d * sizeof *x), *y = malloc(n * sizeof *y);
    size_t *count = with_counts ? malloc(n * sizeof *count) : NULL;
    assert_non_null(x);
    assert_non_null(y);
    double ydummy[T];
    make_data(&s, n, d, 0.3, x, y, count);
    make_data(&s, T, d, 0.0, x + n * d, ydummy, NULL);
    sur_data data = {n, d, x, y, count};
    Sur_train t;
    assert_int_equal(Sur_train_make(&t, &data, NULL, n, 1), 0);
    /* test rows, standardized as the training rows were */
    double *zt = malloc(T * d * sizeof *zt);
    assert_non_null(zt);
    for (size_t i = 0; i < T; i++)
        for (size_t j = 0; j < d; j++)
            zt[i * d + j] = (x[(n + i) * d + j] - t.mu[j]) / t.sd[j];

    for (int k = 0; k < 5; k++) {
        /* three lambdas, then the kernel without squares and without
         * products */
        double lambda = k == 0 ? 0.05 : k == 1 ? 0.7 : k == 2 ? 4.0 : 0.3;
        int terms = k < 3 ? 2 : k == 3 ? 1 : 0;
        fitted p = fit_terms(&t, SUR_RIDGE_PRIMAL, lambda, terms);
        fitted q = fit_terms(&t, SUR_RIDGE_DUAL, lambda, terms);
        assert_true(p.info.ridge_terms == q.info.ridge_terms);
        assert_true(close_to(p.info.ridge_lambda, lambda, 1e-15));
        assert_true(close_to(p.info.ridge_sigma2, q.info.ridge_sigma2, 1e-8));
        assert_true(close_to(p.info.ridge_dof, q.info.ridge_dof, 1e-8));
        compare_predictions(&p, &q, zt, T, 1e-8, 1e-8);
        compare_predictions(&p, &q, t.z, n, 1e-8, 1e-8); /* training rows */
        Sur_ridge_free(p.r);
        Sur_ridge_free(q.r);
    }

    /* By GCV, where both routes can resolve the curve: with fewer rows
     * than terms GCV may go where the fit interpolates, where the primal
     * residual y^T y - c^T z - l^2 z^T z is all rounding (the dual one,
     * l^4 z^T z, is not); auto never takes the primal route there. */
    if (n < p_terms(d)) {
        free(zt);
        Sur_train_free(&t);
        free(x);
        free(y);
        free(count);
        return;
    }
    fitted p = fit_route(&t, SUR_RIDGE_PRIMAL, 0.0);
    fitted q = fit_route(&t, SUR_RIDGE_DUAL, 0.0);
    print_message("n=%zu P=%zu GCV lambda primal %.9g dual %.9g\n", n,
                  p.info.ridge_terms, p.info.ridge_lambda,
                  q.info.ridge_lambda);
    if (!close_to(p.info.ridge_lambda, q.info.ridge_lambda, 1e-6))
        fail_msg("GCV lambda %.12g vs %.12g", p.info.ridge_lambda,
                 q.info.ridge_lambda);
    compare_predictions(&p, &q, zt, T, 1e-5, 1e-5);
    Sur_ridge_free(p.r);
    Sur_ridge_free(q.r);

    free(zt);
    Sur_train_free(&t);
    free(x);
    free(y);
    free(count);
}

/* More rows than terms: d = 4, P = 4 + 6 + 4 = 14. */
static void test_routes_tall(void **state)
{
    (void)state;
    both_routes(21, 60, 4, 0);
    both_routes(22, 60, 4, 1);
}

/* Fewer rows than terms: d = 7, P = 7 + 21 + 7 = 35. */
static void test_routes_wide(void **state)
{
    (void)state;
    both_routes(23, 20, 7, 0);
    both_routes(24, 20, 7, 1);
}

/* A small lambda with few rows, the case where the dual route's short
 * leverage formula cancels at the training rows (they lie in the span of
 * the design): the dual route must still agree with the primal one there,
 * and the variance at a training row must be below that at a new row. */
static void test_dual_leverage_in_span(void **state)
{
    (void)state;
    uint64_t s = 25;
    enum { N = 15, D = 6, T = 10 };
    double x[(N + T) * D], y[N + T];
    make_data(&s, N + T, D, 0.0, x, y, NULL);
    sur_data data = {N, D, x, y, NULL};
    Sur_train t;
    assert_int_equal(Sur_train_make(&t, &data, NULL, N, 1), 0);
    double zt[T * D];
    for (size_t i = 0; i < T; i++)
        for (size_t j = 0; j < D; j++)
            zt[i * D + j] = (x[(N + i) * D + j] - t.mu[j]) / t.sd[j];
    fitted p = fit_route(&t, SUR_RIDGE_PRIMAL, 1e-4);
    fitted q = fit_route(&t, SUR_RIDGE_DUAL, 1e-4);
    /* lambda^2 = 1e-8 against eigenvalues of order 1 to 100: the system
     * is conditioned 1e10 or so, which both routes' means inherit, and
     * so does the primal route's residual variance (y^T y - c^T z cancels
     * when the fit interpolates); compare leverages, var / sigma^2. */
    double m_in[N], v_in[N], m_out[T], v_out[T], pm[N], pv[N];
    assert_int_equal(Sur_ridge_predict(q.r, t.z, N, m_in, v_in), 0);
    assert_int_equal(Sur_ridge_predict(q.r, zt, T, m_out, v_out), 0);
    assert_int_equal(Sur_ridge_predict(p.r, t.z, N, pm, pv), 0);
    for (int i = 0; i < N; i++) {
        double lq = v_in[i] / q.info.ridge_sigma2;
        double lp = pv[i] / p.info.ridge_sigma2;
        if (!close_to(m_in[i], pm[i], 1e-5) || !close_to(lq, lp, 1e-6))
            fail_msg("training row %d: mean %.12g vs %.12g, leverage "
                     "%.12g vs %.12g", i, m_in[i], pm[i], lq, lp);
    }
    assert_int_equal(Sur_ridge_predict(p.r, zt, T, pm, pv), 0);
    for (int i = 0; i < T; i++) {
        double lq = v_out[i] / q.info.ridge_sigma2;
        double lp = pv[i] / p.info.ridge_sigma2;
        if (!close_to(lq, lp, 1e-6))
            fail_msg("new row %d: leverage %.12g vs %.12g", i, lq, lp);
    }
    double max_in = 0, min_out = INFINITY;
    for (int i = 0; i < N; i++) {
        assert_true(fabs(m_in[i] - y[i]) < 1e-4); /* nearly interpolates */
        max_in = fmax(max_in, v_in[i]);
    }
    for (int i = 0; i < T; i++)
        min_out = fmin(min_out, v_out[i]);
    assert_true(max_in < min_out);
    Sur_ridge_free(p.r);
    Sur_ridge_free(q.r);
    Sur_train_free(&t);
}

/* Sur_tridiag_reduce gives what gsl_linalg_symmtd_decomp gives: the same
 * T, Householder vectors and coefficients, reading the lower triangle
 * only. */
static void test_tridiag_matches_gsl(void **state)
{
    (void)state;
    uint64_t s = 26;
    const size_t sizes[] = {1, 2, 3, 9, 37};
    for (size_t q = 0; q < sizeof sizes / sizeof sizes[0]; q++) {
        const size_t m = sizes[q];
        double *a = malloc(m * m * sizeof *a), *b = malloc(m * m * sizeof *b);
        double *tau = malloc(m * sizeof *tau);
        double *work = malloc(2 * m * sizeof *work);
        gsl_vector *gtau = m > 1 ? gsl_vector_alloc(m - 1) : NULL;
        assert_non_null(a);
        assert_non_null(b);
        assert_non_null(tau);
        assert_non_null(work);
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < m; j++) {
                double v = rng_unit(&s) - 0.5;
                a[i * m + j] = j <= i ? v : 1e6; /* upper: never read */
                b[i * m + j] = a[i * m + j];
            }
        assert_int_equal(Sur_tridiag_reduce(a, m, tau, work), 0);
        if (m > 1) {
            gsl_matrix_view bv = gsl_matrix_view_array(b, m, m);
            assert_int_equal(gsl_linalg_symmtd_decomp(&bv.matrix, gtau), 0);
        }
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j <= i; j++)
                if (fabs(a[i * m + j] - b[i * m + j]) > 1e-12)
                    fail_msg("m=%zu A[%zu][%zu] %.15g vs GSL %.15g", m, i, j,
                             a[i * m + j], b[i * m + j]);
        for (size_t i = 0; i + 2 < m; i++)
            assert_true(fabs(tau[i] - gsl_vector_get(gtau, i)) < 1e-12);
        free(a);
        free(b);
        free(tau);
        free(work);
        if (gtau)
            gsl_vector_free(gtau);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tridiag_matches_gsl),
        cmocka_unit_test(test_routes_tall),
        cmocka_unit_test(test_routes_wide),
        cmocka_unit_test(test_dual_leverage_in_span),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

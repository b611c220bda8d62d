/*
 * sur_ridge.c — ridge regression on the standardized features and their
 * pairwise products, lambda by generalized cross-validation.
 *
 * With X the weighted, centered design (rows scaled by sqrt(count)) and
 * X = U S V^T its thin SVD, everything ridge needs is spectral:
 *   b_l  = V diag(s / (s^2 + l^2)) U^T y
 *   G(l) = (sum_i (f_i u_i)^2 + delta0) / (n - 1 - r + sum_i f_i)^2,
 *          f_i = l^2 / (s_i^2 + l^2), u = U^T y, delta0 = ||y||^2 - ||u||^2
 * which is GSL's gcv_func (multifit/gcv.c) with r retained components in
 * place of p and one degree of freedom taken by the intercept (the design
 * is centered; GSL's has no intercept). We get U, S, V from the
 * eigendecomposition of the smaller Gram matrix instead of
 * gsl_multifit_linear_svd, for two reasons measured on this project's
 * data: (1) gsl_multifit_linear_gcv computes n - p in size_t, so with fewer
 * rows than terms (the common case: 100 genomes, 665 terms) its curve is
 * meaningless; (2) at n = 1000, p = 665 the Gram route (dsyrk +
 * gsl_eigen_symmv) is about 2x faster than gsl_multifit_linear_svd. The
 * grid is gsl_multifit_linear_lreg's (extended below the smallest singular
 * value) and the refinement is Brent's, as in gsl_multifit_linear_gcv_min;
 * a unit test checks the lambda against gsl_multifit_linear_gcv's.
 */
#include "sur_internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_min.h>
#include <gsl/gsl_multifit.h>
#include <gsl/gsl_vector.h>

#define GCV_GRID 200
#define GCV_MAX_ITER 200
#define PREDICT_CHUNK 256

struct Sur_ridge {
    size_t d;       /* standardized base features */
    size_t P;       /* expanded terms */
    size_t r;       /* retained spectral components */
    int products, squares;
    double *m;      /* P, weighted mean of each expanded term */
    double *beta;   /* P */
    double *V;      /* P x r, right singular vectors */
    double *inv;    /* r, 1 / (s_i^2 + lambda^2) */
    double ybar, inv_wsum, sigma2, lambda;
};

void Sur_ridge_free(Sur_ridge *r)
{
    if (!r)
        return;
    free(r->m);
    free(r->beta);
    free(r->V);
    free(r->inv);
    free(r);
}

double Sur_ridge_noise_var(const Sur_ridge *r)
{
    return r->sigma2;
}

static size_t expanded_terms(size_t d, int products, int squares)
{
    size_t P = d;
    if (products) {
        P += d * (d - 1) / 2;
        if (squares)
            P += d;
    }
    return P;
}

/* e = [z, z_a z_b for a < b, z_a^2] as configured. */
static void expand_row(const Sur_ridge *r, const double *z, double *e)
{
    size_t k = 0;
    for (size_t a = 0; a < r->d; a++)
        e[k++] = z[a];
    if (!r->products)
        return;
    for (size_t a = 0; a < r->d; a++)
        for (size_t b = a + 1; b < r->d; b++)
            e[k++] = z[a] * z[b];
    if (r->squares)
        for (size_t a = 0; a < r->d; a++)
            e[k++] = z[a] * z[a];
}

typedef struct gcv_curve {
    const double *s;   /* r singular values */
    const double *u;   /* r components of U^T y */
    size_t r;
    double np;         /* n - r */
    double delta0;
} gcv_curve;

static double gcv_value(double lambda, void *params)
{
    const gcv_curve *c = params;
    double l2 = lambda * lambda, num = c->delta0, trace = c->np;
    for (size_t i = 0; i < c->r; i++) {
        double f = l2 / (c->s[i] * c->s[i] + l2);
        num += (f * c->u[i]) * (f * c->u[i]);
        trace += f;
    }
    return num / (trace * trace);
}

/* lambda minimizing the GCV curve: the best of a gsl_multifit_linear_lreg
 * grid, refined by Brent between its neighbours (as gsl_multifit_linear_
 * gcv_min does). GSL's grid stops at the smallest singular value, which
 * suits ill-posed problems; a well-posed one (few terms, little noise)
 * wants less shrinkage than that, so the grid here reaches five decades
 * further down. */
static int gcv_minimize(const gcv_curve *c, double *lambda)
{
    gsl_vector *grid = gsl_vector_alloc(GCV_GRID);
    if (!grid)
        return SUR_ENOMEM;
    double smax = c->s[0], smin = 1e-5 * c->s[c->r - 1];
    int rc = Sur_gsl_rc(gsl_multifit_linear_lreg(smin, smax, grid));
    if (rc) {
        gsl_vector_free(grid);
        return rc;
    }
    size_t best = 0;
    double gbest = INFINITY;
    for (size_t i = 0; i < GCV_GRID; i++) {
        double g = gcv_value(gsl_vector_get(grid, i), (void *)c);
        if (g < gbest) {
            gbest = g;
            best = i;
        }
    }
    *lambda = gsl_vector_get(grid, best);
    if (best == 0 || best == GCV_GRID - 1) {
        gsl_vector_free(grid);
        return SUR_OK;
    }
    /* The grid runs from smax down to smin. */
    double a = gsl_vector_get(grid, best + 1);
    double b = gsl_vector_get(grid, best - 1);
    gsl_vector_free(grid);
    double fa = gcv_value(a, (void *)c), fb = gcv_value(b, (void *)c);
    if (!(gbest < fa && gbest < fb))
        return SUR_OK; /* flat: the grid point is as good as any */

    gsl_min_fminimizer *mz = gsl_min_fminimizer_alloc(gsl_min_fminimizer_brent);
    if (!mz)
        return SUR_ENOMEM;
    gsl_function F = {gcv_value, (void *)c};
    int status = gsl_min_fminimizer_set_with_values(mz, &F, *lambda, gbest,
                                                    a, fa, b, fb);
    if (status) {
        gsl_min_fminimizer_free(mz);
        return SUR_OK; /* keep the grid point */
    }
    for (int it = 0; it < GCV_MAX_ITER; it++) {
        status = gsl_min_fminimizer_iterate(mz);
        if (status)
            break;
        status = gsl_min_test_interval(gsl_min_fminimizer_x_lower(mz),
                                       gsl_min_fminimizer_x_upper(mz), 0.0,
                                       1e-4);
        if (status != GSL_CONTINUE)
            break;
    }
    double lm = gsl_min_fminimizer_x_minimum(mz);
    double fm = gsl_min_fminimizer_f_minimum(mz);
    gsl_min_fminimizer_free(mz);
    if (isfinite(lm) && lm > 0 && fm <= gbest)
        *lambda = lm;
    return SUR_OK;
}

/*
 * The dense products of the fit, written for row-major data because
 * gslcblas (the CBLAS that GSL's pkg-config names) runs its transposed
 * cases with a stride of a whole row per step. Each walks its inputs by
 * rows, four at a time, so that one pass over the output does four rows'
 * work; at this project's sizes (n 100..1000 rows, P 665 terms) they run
 * 2 to 7 times faster than gsl_blas_dsyrk / dgemm.
 *
 * gram_lower: lower triangle of G = X^T X (P x P) for X n x P.
 */
static void gram_lower(const gsl_matrix *X, gsl_matrix *G)
{
    const size_t n = X->size1, P = X->size2;
    gsl_matrix_set_zero(G);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const double *x0 = gsl_matrix_const_ptr(X, i, 0);
        const double *x1 = gsl_matrix_const_ptr(X, i + 1, 0);
        const double *x2 = gsl_matrix_const_ptr(X, i + 2, 0);
        const double *x3 = gsl_matrix_const_ptr(X, i + 3, 0);
        for (size_t a = 0; a < P; a++) {
            double *g = gsl_matrix_ptr(G, a, 0);
            const double c0 = x0[a], c1 = x1[a], c2 = x2[a], c3 = x3[a];
            for (size_t b = 0; b <= a; b++)
                g[b] += c0 * x0[b] + c1 * x1[b] + c2 * x2[b] + c3 * x3[b];
        }
    }
    for (; i < n; i++) {
        const double *x0 = gsl_matrix_const_ptr(X, i, 0);
        for (size_t a = 0; a < P; a++) {
            double *g = gsl_matrix_ptr(G, a, 0);
            const double c0 = x0[a];
            for (size_t b = 0; b <= a; b++)
                g[b] += c0 * x0[b];
        }
    }
}

/* kernel_lower: lower triangle of K = X X^T (n x n) for X n x P. */
static void kernel_lower(const gsl_matrix *X, gsl_matrix *K)
{
    const size_t n = X->size1, P = X->size2;
    for (size_t i = 0; i < n; i++) {
        const double *xi = gsl_matrix_const_ptr(X, i, 0);
        double *k = gsl_matrix_ptr(K, i, 0);
        size_t j = 0;
        for (; j + 4 <= i + 1; j += 4) {
            const double *x0 = gsl_matrix_const_ptr(X, j, 0);
            const double *x1 = x0 + X->tda, *x2 = x1 + X->tda,
                         *x3 = x2 + X->tda;
            double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            for (size_t c = 0; c < P; c++) {
                s0 += xi[c] * x0[c];
                s1 += xi[c] * x1[c];
                s2 += xi[c] * x2[c];
                s3 += xi[c] * x3[c];
            }
            k[j] = s0;
            k[j + 1] = s1;
            k[j + 2] = s2;
            k[j + 3] = s3;
        }
        for (; j <= i; j++) {
            const double *xj = gsl_matrix_const_ptr(X, j, 0);
            double s0 = 0;
            for (size_t c = 0; c < P; c++)
                s0 += xi[c] * xj[c];
            k[j] = s0;
        }
    }
}

/* times_transpose: V = X^T U (P x r, row-major array) for X n x P and the
 * first r columns of U (n x >= r). */
static void times_transpose(const gsl_matrix *X, const gsl_matrix *U,
                            size_t r, double *V)
{
    const size_t n = X->size1, P = X->size2;
    memset(V, 0, P * r * sizeof *V);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const double *x0 = gsl_matrix_const_ptr(X, i, 0);
        const double *x1 = x0 + X->tda, *x2 = x1 + X->tda, *x3 = x2 + X->tda;
        const double *u0 = gsl_matrix_const_ptr(U, i, 0);
        const double *u1 = u0 + U->tda, *u2 = u1 + U->tda, *u3 = u2 + U->tda;
        for (size_t k = 0; k < P; k++) {
            double *v = V + k * r;
            const double c0 = x0[k], c1 = x1[k], c2 = x2[k], c3 = x3[k];
            for (size_t j = 0; j < r; j++)
                v[j] += c0 * u0[j] + c1 * u1[j] + c2 * u2[j] + c3 * u3[j];
        }
    }
    for (; i < n; i++) {
        const double *x0 = gsl_matrix_const_ptr(X, i, 0);
        const double *u0 = gsl_matrix_const_ptr(U, i, 0);
        for (size_t k = 0; k < P; k++) {
            double *v = V + k * r;
            const double c0 = x0[k];
            for (size_t j = 0; j < r; j++)
                v[j] += c0 * u0[j];
        }
    }
}

/* Sort eigenpairs descending and keep those above the rounding floor. */
static size_t retained(const gsl_vector *eval)
{
    double top = gsl_vector_get(eval, 0);
    if (!(top > 0))
        return 0;
    size_t r = 0;
    while (r < eval->size && gsl_vector_get(eval, r) > 1e-12 * top)
        r++;
    return r;
}

int Sur_ridge_fit(const Sur_train *t, const sur_options *opt, Sur_ridge **out,
                  sur_model_info *info)
{
    const size_t n = t->n, d = t->d;
    int products = opt->ridge_products != 0;
    int squares = products && opt->ridge_squares != 0;
    size_t P = expanded_terms(d, products, squares);
    if (products && P > opt->ridge_max_terms) {
        products = squares = 0;
        P = d;
    }
    *out = NULL;
    if (n < 2)
        return SUR_ETOOFEW;

    Sur_ridge *r = calloc(1, sizeof *r);
    if (!r)
        return SUR_ENOMEM;
    r->d = d;
    r->P = P;
    r->products = products;
    r->squares = squares;
    r->ybar = t->ybar;
    r->inv_wsum = 1.0 / t->wsum;

    int rc = SUR_OK;
    gsl_matrix *X = NULL, *G = NULL, *evec = NULL;
    gsl_vector *eval = NULL, *yt = NULL, *b = NULL;
    gsl_eigen_symmv_workspace *ws = NULL;
    double *s = NULL, *u = NULL;

    r->m = calloc(P, sizeof *r->m);
    r->beta = calloc(P, sizeof *r->beta);
    X = gsl_matrix_alloc(n, P);
    yt = gsl_vector_alloc(n);
    if (!r->m || !r->beta || !X || !yt) {
        rc = SUR_ENOMEM;
        goto done;
    }

    /* Weighted centering, then rows scaled by sqrt(w): ordinary least
     * squares on (X, yt) is weighted least squares on the data. */
    for (size_t i = 0; i < n; i++) {
        double *row = gsl_matrix_ptr(X, i, 0);
        expand_row(r, t->z + i * d, row);
        for (size_t k = 0; k < P; k++)
            r->m[k] += t->w[i] * row[k];
    }
    for (size_t k = 0; k < P; k++)
        r->m[k] /= t->wsum;
    for (size_t i = 0; i < n; i++) {
        double sw = sqrt(t->w[i]);
        double *row = gsl_matrix_ptr(X, i, 0);
        for (size_t k = 0; k < P; k++)
            row[k] = sw * (row[k] - r->m[k]);
        gsl_vector_set(yt, i, sw * (t->y[i] - t->ybar));
    }

    /* Spectrum of the smaller Gram matrix. */
    size_t m = n >= P ? P : n;
    G = gsl_matrix_alloc(m, m);
    evec = gsl_matrix_alloc(m, m);
    eval = gsl_vector_alloc(m);
    ws = gsl_eigen_symmv_alloc(m);
    if (!G || !evec || !eval || !ws) {
        rc = SUR_ENOMEM;
        goto done;
    }
    if (n >= P)
        gram_lower(X, G);
    else
        kernel_lower(X, G);
    rc = Sur_gsl_rc(gsl_eigen_symmv(G, eval, evec, ws));
    if (rc)
        goto done;
    rc = Sur_gsl_rc(gsl_eigen_symmv_sort(eval, evec, GSL_EIGEN_SORT_VAL_DESC));
    if (rc)
        goto done;
    size_t rr = retained(eval);
    r->r = rr;
    s = malloc((rr ? rr : 1) * sizeof *s);
    u = malloc((rr ? rr : 1) * sizeof *u);
    r->V = malloc((rr ? rr : 1) * P * sizeof *r->V);
    r->inv = malloc((rr ? rr : 1) * sizeof *r->inv);
    if (!s || !u || !r->V || !r->inv) {
        rc = SUR_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < rr; i++)
        s[i] = sqrt(gsl_vector_get(eval, i));

    double yy = 0;
    rc = Sur_gsl_rc(gsl_blas_ddot(yt, yt, &yy));
    if (rc)
        goto done;
    if (n >= P) {
        /* G = V S^2 V^T: u = S^-1 V^T X^T y. */
        b = gsl_vector_alloc(P);
        if (!b) {
            rc = SUR_ENOMEM;
            goto done;
        }
        rc = Sur_gsl_rc(gsl_blas_dgemv(CblasTrans, 1.0, X, yt, 0.0, b));
        if (rc)
            goto done;
        for (size_t i = 0; i < rr; i++) {
            gsl_vector_const_view vi = gsl_matrix_const_column(evec, i);
            double dot;
            rc = Sur_gsl_rc(gsl_blas_ddot(&vi.vector, b, &dot));
            if (rc)
                goto done;
            u[i] = dot / s[i];
            for (size_t k = 0; k < P; k++)
                r->V[k * rr + i] = gsl_matrix_get(evec, k, i);
        }
    } else if (rr > 0) {
        /* G = U S^2 U^T: u = U^T y, V = X^T U S^-1. */
        times_transpose(X, evec, rr, r->V);
        for (size_t i = 0; i < rr; i++) {
            gsl_vector_const_view ui = gsl_matrix_const_column(evec, i);
            rc = Sur_gsl_rc(gsl_blas_ddot(&ui.vector, yt, &u[i]));
            if (rc)
                goto done;
            for (size_t k = 0; k < P; k++)
                r->V[k * rr + i] /= s[i];
        }
    }

    double uu = 0;
    for (size_t i = 0; i < rr; i++)
        uu += u[i] * u[i];
    double delta0 = yy - uu > 0 ? yy - uu : 0.0;

    double lambda, trace = 0, rss = delta0, shrunk = delta0;
    if (rr == 0) {
        /* No variation in the features: the model is the weighted mean. */
        lambda = 1.0;
    } else {
        /* The centering took one degree of freedom (the intercept):
         * tr(I - H) = n - 1 - sum s^2/(s^2 + l^2). */
        gcv_curve c = {s, u, rr, n - 1 > rr ? (double)(n - 1 - rr) : 0.0,
                       delta0};
        rc = gcv_minimize(&c, &lambda);
        if (rc)
            goto done;
    }
    r->lambda = lambda;
    double l2 = lambda * lambda;
    for (size_t i = 0; i < rr; i++) {
        double s2 = s[i] * s[i];
        double coef = s[i] / (s2 + l2) * u[i];
        for (size_t k = 0; k < P; k++)
            r->beta[k] += r->V[k * rr + i] * coef;
        double f = l2 / (s2 + l2);
        rss += (f * u[i]) * (f * u[i]);
        shrunk += f * u[i] * u[i];
        trace += s2 / (s2 + l2);
        r->inv[i] = 1.0 / (s2 + l2);
    }

    /* Residual variance of one observation (unit weight) on the residual
     * degrees of freedom n - 1 - tr H. When the fit (nearly) interpolates,
     * which GCV may choose with fewer rows than terms, fewer than one
     * degree of freedom is left and that ratio is noise over noise; then
     * the maximum-likelihood variance of the same ridge model seen as a
     * Bayesian linear model, y ~ N(0, sigma^2 (I + X X^T / l^2)), is used:
     * sigma^2 = y^T (I + X X^T / l^2)^-1 y / (n - 1) = sum f_i u_i^2 /
     * (n - 1). Like the residual variance it shrinks with lambda^2, as
     * fast as the leverage of unseen directions grows, so their product,
     * the predictive variance, stays meaningful. Kept above a hair of y's
     * spread. */
    double dof = (double)n - 1.0 - trace;
    double sigma2 = dof >= 1.0 ? rss / dof : shrunk / (double)(n - 1);
    double floor2 = 1e-12 * (yy / t->wsum) + 1e-300;
    r->sigma2 = sigma2 > floor2 ? sigma2 : floor2;

    info->ridge_terms = P;
    info->ridge_lambda = lambda;
    info->ridge_dof = trace + 1.0;
    info->ridge_sigma2 = r->sigma2;

done:
    gsl_matrix_free(X);
    gsl_matrix_free(G);
    gsl_matrix_free(evec);
    gsl_vector_free(eval);
    gsl_vector_free(yt);
    gsl_vector_free(b);
    if (ws)
        gsl_eigen_symmv_free(ws);
    free(s);
    free(u);
    if (rc) {
        Sur_ridge_free(r);
        return rc;
    }
    *out = r;
    return SUR_OK;
}

int Sur_ridge_predict(const Sur_ridge *r, const double *z, size_t n,
                      double *mean, double *var_latent)
{
    const size_t P = r->P, rr = r->r;
    size_t chunk = n < PREDICT_CHUNK ? n : PREDICT_CHUNK;
    if (n == 0)
        return SUR_OK;
    double *E = malloc(chunk * P * sizeof *E);
    double *T = var_latent && rr ? malloc(chunk * rr * sizeof *T) : NULL;
    if (!E || (var_latent && rr && !T)) {
        free(E);
        free(T);
        return SUR_ENOMEM;
    }
    int rc = SUR_OK;
    for (size_t lo = 0; lo < n; lo += chunk) {
        size_t m = n - lo < chunk ? n - lo : chunk;
        for (size_t i = 0; i < m; i++) {
            double *e = E + i * P;
            expand_row(r, z + (lo + i) * r->d, e);
            double acc = r->ybar;
            for (size_t k = 0; k < P; k++) {
                e[k] -= r->m[k];
                acc += e[k] * r->beta[k];
            }
            mean[lo + i] = acc;
        }
        if (!var_latent)
            continue;
        if (rr) {
            gsl_matrix_const_view Em = gsl_matrix_const_view_array(E, m, P);
            gsl_matrix_const_view Vm = gsl_matrix_const_view_array(r->V, P, rr);
            gsl_matrix_view Tm = gsl_matrix_view_array(T, m, rr);
            rc = Sur_gsl_rc(gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0,
                                           &Em.matrix, &Vm.matrix, 0.0,
                                           &Tm.matrix));
            if (rc)
                break;
        }
        for (size_t i = 0; i < m; i++) {
            const double *e = E + i * P;
            double lev = r->inv_wsum, inside = 0, ee = 0;
            for (size_t j = 0; j < rr; j++) {
                double tj = T[i * rr + j];
                lev += tj * tj * r->inv[j];
                inside += tj * tj;
            }
            if (rr < P) {
                /* Directions the training rows never spanned keep the
                 * prior variance sigma^2 / lambda^2. */
                for (size_t k = 0; k < P; k++)
                    ee += e[k] * e[k];
                double out = ee - inside;
                if (out > 0)
                    lev += out / (r->lambda * r->lambda);
            }
            var_latent[lo + i] = r->sigma2 * lev;
        }
    }
    free(E);
    free(T);
    return rc;
}

/*
 * sur_ogp.c — Gaussian process with an overlap kernel: one weight per
 * feature (automatic relevance determination),
 *
 *   k(x, x') = s2 exp(-sum_j theta_j |x_j - x'_j|),
 *
 * a product of exponential kernels, positive definite for any theta >= 0.
 * On the one-hot columns of an unordered gene two columns differ when the
 * choices differ and none when they agree, so the kernel only asks "same
 * choice or not", with a learned weight per choice: the categorical overlap
 * (Hamming) kernel with ARD. On an ordered gene or an extra number it is
 * the Laplace kernel along that column.
 *
 * Like sur_gp.c: y scaled to unit spread, A = R + g D (+ jitter), s2
 * profiled out; the hyperparameters log theta_j and log g minimize the
 * negative log marginal likelihood plus a weak Gaussian prior on each
 * log theta_j about its start (which keeps weights of features the data
 * cannot identify from running off), by gsl_multimin vector_bfgs2 with
 * the analytic gradient
 *   d nlml / d p = 1/2 tr((A^-1 - x x^T / s2) dA/dp),  x = A^-1 y.
 * With more rows than gp_subset, the hyperparameters are fitted on a
 * seeded subset of that many rows and the model then factors all rows.
 */
#include "sur_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_multimin.h>
#include <gsl/gsl_vector.h>

#define OGP_MAX_ITER 40
/* vector_bfgs2's line search ends when |directional derivative| falls
 * below this share of the start's (the Wolfe curvature condition): 0.5
 * took a quarter fewer likelihood evaluations than 0.1 to the same
 * optimum */
#define OGP_LINE_TOL 0.5
/* Two iterations in a row that lower the negative log likelihood by less
 * than this (nats) end the search: such a step changes the evidence by a
 * factor of 1.01 or less, far inside what the data can tell apart, and
 * the gradient test alone spent a quarter of the iterations there. */
#define OGP_F_TOL 1e-2
#define OGP_PRIOR_SD 2.0    /* prior sd of each log theta_j about its start */
#define OGP_LOG_G_MIN (-13.8) /* g >= 1e-6 */
#define OGP_LOG_G_MAX 2.3
#define OGP_LOG_SPAN 8.0    /* log theta_j within start +- this */
#define OGP_BAD 1e30

static const double ogp_jitters[] = {0.0, 1e-8, 1e-6, 1e-4};
#define OGP_N_JITTERS (sizeof ogp_jitters / sizeof ogp_jitters[0])

struct Sur_ogp {
    size_t n, d;
    double *z;      /* n x d training rows */
    double *theta;  /* d */
    gsl_matrix *L;  /* Cholesky factor of A */
    double *alpha;  /* A^-1 yt */
    double s2, g, ybar, ys;
};

typedef struct ogp_problem {
    size_t n, d;
    const double *z; /* rows, n x d (borrowed) */
    double *y;       /* n, scaled */
    double *dinv;    /* n: 1 / count */
    double *theta0;  /* d: starting log weights (prior centres) */
    gsl_matrix *M;   /* Cholesky factor of the last evaluation */
    gsl_matrix *W;   /* A^-1, then A^-1 - x x^T / s2 */
    gsl_vector *x;
    /* the non-zero |z_aj - z_bj| of each pair a > b, packed by pair
     * (a (a - 1) / 2 + b): columns col[at[p] .. at[p+1]-1], values diff;
     * NULL when not built (the final factorization computes them) */
    size_t *at;
    unsigned *col;
    double *diff;
    double *kv;      /* with at: the kernel of each pair at the last factor */
    double q, logdet, jitter;
    /* the hyperparameters (d + 1) whose factorization M, x, q and logdet
     * hold, when h_valid: the line search asks for the gradient at the
     * point it has just evaluated, which then costs no new factor */
    double *h_last;
    int h_valid;
    int rc;
    const sur_options *opt; /* its cancel hook, polled per evaluation */
} ogp_problem;

void Sur_ogp_free(Sur_ogp *g)
{
    if (!g)
        return;
    free(g->z);
    free(g->theta);
    gsl_matrix_free(g->L);
    free(g->alpha);
    free(g);
}

double Sur_ogp_noise_var(const Sur_ogp *g)
{
    return g->ys * g->ys * g->s2 * g->g;
}

static double kernel(const double *a, const double *b, const double *theta,
                     size_t d)
{
    double s = 0;
    for (size_t j = 0; j < d; j++)
        s += theta[j] * fabs(a[j] - b[j]);
    return exp(-s);
}

static void problem_free(ogp_problem *p)
{
    free(p->y);
    free(p->dinv);
    free(p->theta0);
    free(p->h_last);
    gsl_matrix_free(p->M);
    gsl_matrix_free(p->W);
    gsl_vector_free(p->x);
    free(p->at);
    free(p->col);
    free(p->diff);
    free(p->kv);
    memset(p, 0, sizeof *p);
}

/* Starting weights: theta_j = 1 / (d_eff m_j), m_j the mean |difference|
 * of column j over pairs of rows, d_eff the number of varying columns, so
 * that two typical rows start at correlation exp(-1). */
static void start_weights(ogp_problem *p)
{
    const size_t n = p->n, d = p->d;
    size_t live = 0;
    for (size_t j = 0; j < d; j++) {
        double s = 0;
        for (size_t a = 0; a < n; a++)
            for (size_t b = 0; b < a; b++)
                s += fabs(p->z[a * d + j] - p->z[b * d + j]);
        p->theta0[j] = s / (0.5 * (double)n * (double)(n - 1));
        live += p->theta0[j] > 1e-12;
    }
    for (size_t j = 0; j < d; j++)
        p->theta0[j] = p->theta0[j] > 1e-12
                           ? log(1.0 / ((double)live * p->theta0[j]))
                           : 0.0;
}

static int problem_make(ogp_problem *p, const Sur_train *t, const double *z,
                        const size_t *idx, size_t n, double ys)
{
    memset(p, 0, sizeof *p);
    p->n = n;
    p->d = t->d;
    p->z = z;
    p->y = malloc(n * sizeof *p->y);
    p->dinv = malloc(n * sizeof *p->dinv);
    p->theta0 = malloc(t->d * sizeof *p->theta0);
    p->h_last = malloc((t->d + 1) * sizeof *p->h_last);
    p->M = Sur_matrix_alloc(n, n);
    p->W = Sur_matrix_alloc(n, n);
    p->x = gsl_vector_alloc(n);
    if (!p->y || !p->dinv || !p->theta0 || !p->h_last || !p->M || !p->W ||
        !p->x) {
        problem_free(p);
        return SUR_ENOMEM;
    }
    for (size_t a = 0; a < n; a++) {
        size_t i = idx ? idx[a] : a;
        p->y[a] = (t->y[i] - t->ybar) / ys;
        p->dinv[a] = 1.0 / t->w[i];
    }
    start_weights(p);
    return SUR_OK;
}

/* The sparse pair differences (see ogp_problem): one-hot rows differ in
 * few columns, so the optimizer's kernel and gradient sums run over those
 * alone. */
static int pairs_make(ogp_problem *p)
{
    const size_t n = p->n, d = p->d, np = n * (n - 1) / 2;
    size_t nnz = 0;
    for (size_t a = 1; a < n; a++)
        for (size_t b = 0; b < a; b++)
            for (size_t j = 0; j < d; j++)
                nnz += p->z[a * d + j] != p->z[b * d + j];
    p->at = malloc((np + 1) * sizeof *p->at);
    p->col = malloc((nnz + 1) * sizeof *p->col);
    p->diff = malloc((nnz + 1) * sizeof *p->diff);
    p->kv = malloc((np + 1) * sizeof *p->kv);
    if (!p->at || !p->col || !p->diff || !p->kv)
        return SUR_ENOMEM;
    size_t k = 0, pair = 0;
    for (size_t a = 1; a < n; a++)
        for (size_t b = 0; b < a; b++) {
            p->at[pair++] = k;
            for (size_t j = 0; j < d; j++) {
                double v = fabs(p->z[a * d + j] - p->z[b * d + j]);
                if (v != 0) {
                    p->col[k] = (unsigned)j;
                    p->diff[k++] = v;
                }
            }
        }
    p->at[pair] = k;
    return SUR_OK;
}

/* The kernel of pair a > b (index a (a - 1) / 2 + b). */
static double pair_kernel(const ogp_problem *p, size_t a, size_t b,
                          const double *theta)
{
    if (!p->at)
        return kernel(p->z + a * p->d, p->z + b * p->d, theta, p->d);
    size_t pair = a * (a - 1) / 2 + b;
    double s = 0;
    for (size_t k = p->at[pair]; k < p->at[pair + 1]; k++)
        s += theta[p->col[k]] * p->diff[k];
    return exp(-s);
}

/* Factor A for weights theta (d) and ratio g; x = A^-1 y, q, log|A|. */
static int problem_factor(ogp_problem *p, const double *theta, double g)
{
    const size_t n = p->n;
    int status = GSL_EDOM;
    for (size_t jt = 0; jt < OGP_N_JITTERS; jt++) {
        for (size_t a = 0; a < n; a++) {
            double *row = gsl_matrix_ptr(p->M, a, 0);
            double *kv = p->kv ? p->kv + a * (a - 1) / 2 : NULL;
            for (size_t b = 0; b < a; b++) {
                row[b] = pair_kernel(p, a, b, theta);
                if (kv)
                    kv[b] = row[b];
            }
            row[a] = 1.0 + g * p->dinv[a] + ogp_jitters[jt];
        }
        status = gsl_linalg_cholesky_decomp1(p->M);
        if (status == GSL_SUCCESS) {
            p->jitter = ogp_jitters[jt];
            break;
        }
        if (status != GSL_EDOM)
            return p->rc = Sur_gsl_rc(status);
    }
    if (status != GSL_SUCCESS)
        return SUR_ENOTPD;
    gsl_vector_const_view y = gsl_vector_const_view_array(p->y, n);
    status = gsl_linalg_cholesky_solve(p->M, &y.vector, p->x);
    if (!status)
        status = gsl_blas_ddot(&y.vector, p->x, &p->q);
    if (status)
        return p->rc = Sur_gsl_rc(status);
    p->logdet = 0;
    for (size_t a = 0; a < n; a++)
        p->logdet += 2.0 * log(gsl_matrix_get(p->M, a, a));
    return SUR_OK;
}

static double clamp(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Hyperparameter vector h = (log theta_0..d-1, log g) to theta and g,
 * clamped to the box. */
static double unpack(const ogp_problem *p, const gsl_vector *h, double *theta)
{
    for (size_t j = 0; j < p->d; j++)
        theta[j] = exp(clamp(gsl_vector_get(h, j), p->theta0[j] - OGP_LOG_SPAN,
                             p->theta0[j] + OGP_LOG_SPAN));
    return exp(clamp(gsl_vector_get(h, p->d), OGP_LOG_G_MIN, OGP_LOG_G_MAX));
}

/* Objective and gradient at h; grad may be NULL. OGP_BAD where A cannot
 * be factored. */
static double evaluate(ogp_problem *p, const gsl_vector *h, gsl_vector *grad)
{
    const size_t n = p->n, d = p->d;
    if (!p->rc && Sur_cancelled(p->opt))
        p->rc = SUR_ECANCELED;
    if (p->rc)
        return OGP_BAD;
    double *theta = malloc(d * sizeof *theta);
    if (!theta) {
        p->rc = SUR_ENOMEM;
        return OGP_BAD;
    }
    double g = unpack(p, h, theta);
    double f = OGP_BAD;
    int cached = p->h_valid;
    for (size_t j = 0; cached && j <= d; j++)
        cached = p->h_last[j] == gsl_vector_get(h, j);
    if (!cached) {
        p->h_valid = 0;
        if (problem_factor(p, theta, g))
            goto done;
        for (size_t j = 0; j <= d; j++)
            p->h_last[j] = gsl_vector_get(h, j);
        p->h_valid = 1;
    }
    double s2 = p->q / (double)n;
    s2 = s2 > 1e-12 ? s2 : 1e-12;
    f = 0.5 * (double)n * log(s2) + 0.5 * p->logdet;
    for (size_t j = 0; j < d; j++) {
        double u = (gsl_vector_get(h, j) - p->theta0[j]) / OGP_PRIOR_SD;
        f += 0.5 * u * u;
    }
    if (!grad)
        goto done;
    gsl_matrix_memcpy(p->W, p->M);
    int status = gsl_linalg_cholesky_invert(p->W);
    if (status) {
        p->rc = Sur_gsl_rc(status);
        f = OGP_BAD;
        goto done;
    }
    double gg = 0;
    for (size_t a = 0; a < n; a++) {
        double *w = gsl_matrix_ptr(p->W, a, 0);
        double xa = gsl_vector_get(p->x, a);
        for (size_t b = 0; b <= a; b++)
            w[b] -= xa * gsl_vector_get(p->x, b) / s2;
        gg += 0.5 * g * w[a] * p->dinv[a];
    }
    gsl_vector_set(grad, d, gg);
    for (size_t j = 0; j < d; j++)
        gsl_vector_set(grad, j, (gsl_vector_get(h, j) - p->theta0[j]) /
                                    (OGP_PRIOR_SD * OGP_PRIOR_SD));
    /* off-diagonal pairs count twice in the trace */
    for (size_t a = 1; a < n; a++) {
        const double *w = gsl_matrix_const_ptr(p->W, a, 0);
        for (size_t b = 0; b < a; b++) {
            size_t pair = a * (a - 1) / 2 + b;
            double c = -w[b] * p->kv[pair];
            for (size_t k = p->at[pair]; k < p->at[pair + 1]; k++)
                grad->data[p->col[k] * grad->stride] +=
                    c * theta[p->col[k]] * p->diff[k];
        }
    }
done:
    free(theta);
    return f;
}

static double obj_f(const gsl_vector *h, void *params)
{
    return evaluate(params, h, NULL);
}

static void obj_df(const gsl_vector *h, void *params, gsl_vector *grad)
{
    if (evaluate(params, h, grad) >= OGP_BAD)
        gsl_vector_set_zero(grad);
}

static void obj_fdf(const gsl_vector *h, void *params, double *f,
                    gsl_vector *grad)
{
    *f = evaluate(params, h, grad);
    if (*f >= OGP_BAD)
        gsl_vector_set_zero(grad);
}

/* Minimize from the prior centres with log g = log_g0; best into h. */
static int optimize(ogp_problem *p, double log_g0, gsl_vector *h, double *fbest)
{
    const size_t d = p->d;
    gsl_multimin_function_fdf fn = {obj_f, obj_df, obj_fdf, d + 1, p};
    gsl_multimin_fdfminimizer *s =
        gsl_multimin_fdfminimizer_alloc(gsl_multimin_fdfminimizer_vector_bfgs2,
                                        d + 1);
    gsl_vector *h0 = gsl_vector_alloc(d + 1);
    if (!s || !h0) {
        gsl_multimin_fdfminimizer_free(s);
        gsl_vector_free(h0);
        return SUR_ENOMEM;
    }
    for (size_t j = 0; j < d; j++)
        gsl_vector_set(h0, j, p->theta0[j]);
    gsl_vector_set(h0, d, log_g0);
    gsl_vector_memcpy(h, h0);
    *fbest = evaluate(p, h0, NULL);
    int rc = p->rc;
    if (!rc && *fbest < OGP_BAD &&
        gsl_multimin_fdfminimizer_set(s, &fn, h0, 0.1, OGP_LINE_TOL) ==
            GSL_SUCCESS) {
        double f_prev = *fbest;
        unsigned small = 0;
        for (unsigned it = 0; it < OGP_MAX_ITER; it++) {
            if (gsl_multimin_fdfminimizer_iterate(s) != GSL_SUCCESS || p->rc)
                break;
            if (gsl_multimin_test_gradient(s->gradient, 1e-2) == GSL_SUCCESS)
                break;
            small = f_prev - s->f < OGP_F_TOL ? small + 1 : 0;
            f_prev = s->f;
            if (small == 2)
                break;
        }
        if (s->f < *fbest) {
            *fbest = s->f;
            gsl_vector_memcpy(h, s->x);
        }
        rc = p->rc;
    }
    gsl_multimin_fdfminimizer_free(s);
    gsl_vector_free(h0);
    return rc;
}

/* Hyperparameters from the start (noise ratio 0.1) into theta,
 * *g, on rows idx (n of them; NULL: all). */
static int search(const Sur_train *t, const sur_options *opt,
                  const size_t *idx, size_t n, double ys, double *theta,
                  double *g)
{
    const size_t d = t->d;
    double *z = malloc(n * d * sizeof *z);
    if (!z)
        return SUR_ENOMEM;
    for (size_t a = 0; a < n; a++)
        memcpy(z + a * d, t->z + (idx ? idx[a] : a) * d, d * sizeof *z);
    ogp_problem p;
    int rc = problem_make(&p, t, z, idx, n, ys);
    p.opt = opt;
    if (!rc)
        rc = pairs_make(&p);
    gsl_vector *h = rc ? NULL : gsl_vector_alloc(d + 1);
    gsl_vector *hb = rc ? NULL : gsl_vector_alloc(d + 1);
    if (!rc && (!h || !hb))
        rc = SUR_ENOMEM;
    double fbest = OGP_BAD;
    static const double log_g0[] = {-2.303};
    for (size_t s = 0; !rc && s < sizeof log_g0 / sizeof log_g0[0]; s++) {
        double f;
        rc = optimize(&p, log_g0[s], h, &f);
        if (!rc && (s == 0 || f < fbest)) {
            fbest = f;
            gsl_vector_memcpy(hb, h);
        }
    }
    if (!rc && fbest >= OGP_BAD)
        rc = SUR_ENOTPD;
    if (!rc)
        *g = unpack(&p, hb, theta);
    gsl_vector_free(h);
    gsl_vector_free(hb);
    problem_free(&p);
    free(z);
    return rc;
}

/* Factor all rows with the chosen hyperparameters; keep what predictions
 * need. */
static int finish(Sur_ogp *m, const Sur_train *t, double ys,
                  sur_model_info *info)
{
    ogp_problem p;
    int rc = problem_make(&p, t, t->z, NULL, t->n, ys);
    if (!rc)
        rc = problem_factor(&p, m->theta, m->g);
    if (!rc) {
        m->s2 = p.q / (double)t->n;
        m->s2 = m->s2 > 1e-12 ? m->s2 : 1e-12;
        m->alpha = malloc(t->n * sizeof *m->alpha);
        m->z = malloc(t->n * t->d * sizeof *m->z);
        rc = m->alpha && m->z ? SUR_OK : SUR_ENOMEM;
    }
    if (!rc) {
        for (size_t i = 0; i < t->n; i++)
            m->alpha[i] = gsl_vector_get(p.x, i);
        memcpy(m->z, t->z, t->n * t->d * sizeof *m->z);
        m->L = p.M;
        p.M = NULL;
        double nn = (double)t->n;
        info->gp_lml = -0.5 * p.q / m->s2 -
                       0.5 * (nn * log(ys * ys * m->s2) + p.logdet) -
                       0.5 * nn * 1.83787706640934548356;
        info->gp_signal_var = ys * ys * m->s2;
        info->gp_noise_var = ys * ys * m->s2 * m->g;
        info->gp_jitter = p.jitter * ys * ys * m->s2;
        info->gp_length = 0;
    }
    problem_free(&p);
    return rc;
}

int Sur_ogp_fit(const Sur_train *t, const sur_options *opt, Sur_ogp **out,
                sur_model_info *info)
{
    const size_t n = t->n;
    *out = NULL;
    if (n < 2)
        return SUR_ETOOFEW;
    if (opt->gp_max_rows && n > opt->gp_max_rows)
        return SUR_ETOOBIG;
    double var = 0;
    for (size_t i = 0; i < n; i++)
        var += t->w[i] * (t->y[i] - t->ybar) * (t->y[i] - t->ybar);
    double ys = var > 0 ? sqrt(var / t->wsum) : 1.0;
    Sur_ogp *m = calloc(1, sizeof *m);
    if (!m)
        return SUR_ENOMEM;
    m->n = n;
    m->d = t->d;
    m->ybar = t->ybar;
    m->ys = ys;
    m->theta = malloc(t->d * sizeof *m->theta);
    size_t *idx = NULL, sub = n;
    int rc = m->theta ? SUR_OK : SUR_ENOMEM;
    if (!rc && opt->gp_subset && n > opt->gp_subset) {
        /* a seeded subset (partial Fisher-Yates) for the hyperparameters */
        uint64_t rng = opt->seed ^ 0x6f6770u; /* "ogp" */
        sub = opt->gp_subset;
        idx = malloc(n * sizeof *idx);
        rc = idx ? SUR_OK : SUR_ENOMEM;
        for (size_t i = 0; !rc && i < n; i++)
            idx[i] = i;
        for (size_t i = 0; !rc && i < sub; i++) {
            size_t j = i + (size_t)Sur_rng_below(&rng, n - i), tmp = idx[i];
            idx[i] = idx[j];
            idx[j] = tmp;
        }
    }
    if (!rc)
        rc = search(t, opt, idx, sub, ys, m->theta, &m->g);
    free(idx);
    if (!rc)
        rc = finish(m, t, ys, info);
    if (rc) {
        Sur_ogp_free(m);
        return rc;
    }
    *out = m;
    return SUR_OK;
}

/* The kernel between the training rows and the c query rows zq. */
static void ogp_cross(const void *model, const double *zq, size_t c, gsl_matrix *R)
{
    const Sur_ogp *m = model;
    for (size_t i = 0; i < m->n; i++)
        for (size_t j = 0; j < c; j++)
            gsl_matrix_set(R, i, j, kernel(m->z + i * m->d, zq + j * m->d, m->theta, m->d));
}

int Sur_ogp_predict(const Sur_ogp *m, const double *z, size_t n, double *mean,
                    double *var_latent)
{
    Sur_posterior p = {m->n, m->d, m->L, m->alpha, m->ybar, m->ys, m->s2, ogp_cross, m};
    return Sur_gp_posterior(&p, z, n, mean, var_latent);
}

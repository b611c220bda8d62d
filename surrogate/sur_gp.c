/*
 * sur_gp.c — Gaussian process regression, Matern 5/2 kernel with one length
 * scale, constant mean, per-row noise sn2 / count, type-II maximum
 * likelihood.
 *
 * Internally y is scaled to unit spread, yt = (y - ybar) / ys, and the
 * covariance is written K = s2 (R_l + g D + j I): R_l the kernel matrix at
 * length l with unit variance, g = sn2 / s2 the noise-to-signal ratio,
 * D = diag(1 / count), j a jitter used only if the factorization fails.
 * For fixed (l, g) the likelihood is maximized in s2 by s2 = yt^T A^-1 yt / n
 * (A = R_l + g D + j I), which leaves a smooth function of two variables,
 * log l and log g: the same maximum as over all three. Its search is
 * one-dimensional: one tridiagonal reduction per length gives the best g
 * of that length in O(n) per g (the profile search below), a grid over
 * log l finds the basin and Brent its bottom. The fitted (l, g) is then
 * factored once with Cholesky (gsl_linalg_cholesky_decomp1, jitter on
 * failure), which predictions use.
 *
 * Pairwise distances are computed once per problem into a packed triangle;
 * each evaluation rebuilds A from them (gsl_linalg_cholesky_decomp1
 * overwrites the whole matrix: L below, L^T above the diagonal).
 */
#include "sur_internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_min.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_vector.h>

#define GP_LOG_G_MIN (-18.4) /* g >= 1e-8 */
#define GP_LOG_G_MAX 2.303   /* g <= 10 */
#define GP_L_SPAN 3.0       /* l within median distance * e^(+-3) */
#define GP_BAD 1e30         /* objective where A cannot be factored */
#define PREDICT_CHUNK 64
#define GP_LOG_2PI 1.83787706640934548356 /* log(2 pi) */

static const double gp_jitters[] = {0.0, 1e-10, 1e-8, 1e-6, 1e-4};
#define GP_N_JITTERS (sizeof gp_jitters / sizeof gp_jitters[0])

struct Sur_gp {
    size_t n, d;
    double *z;         /* n x d training rows */
    gsl_matrix *L;     /* Cholesky factor of A (lower triangle) */
    double *alpha;     /* n: A^-1 yt */
    double s2, ell, g, jitter;
    double ybar, ys;
};

void Sur_gp_free(Sur_gp *g)
{
    if (!g)
        return;
    free(g->z);
    gsl_matrix_free(g->L);
    free(g->alpha);
    free(g);
}

double Sur_gp_noise_var(const Sur_gp *g)
{
    return g->ys * g->ys * g->s2 * g->g;
}

static inline double matern52(double r_over_l)
{
    double a = 2.23606797749978969641 * r_over_l;
    return (1.0 + a + a * a / 3.0) * exp(-a);
}

static double row_distance(const double *a, const double *b, size_t d)
{
    double s = 0;
    for (size_t k = 0; k < d; k++) {
        double t = a[k] - b[k];
        s += t * t;
    }
    return sqrt(s);
}

/* One likelihood problem: n rows, their distances, scaled targets. */
typedef struct gp_problem {
    size_t n;
    double *dist;    /* packed: distance of rows a > b at a(a-1)/2 + b */
    gsl_matrix *M;   /* A, then its Cholesky factor; NULL until factored */
    gsl_vector *y;   /* yt */
    gsl_vector *x;   /* A^-1 yt after a factorization (NULL until then) */
    double *dinv;    /* 1 / count */
    double lo[2], hi[2]; /* box on (log l, log g) */
    /* after an evaluation */
    double q, logdet, jitter;
    int rc;          /* first hard failure (not "indefinite") */
    const sur_options *opt; /* its cancel hook, polled per evaluation */
} gp_problem;

static void problem_free(gp_problem *p)
{
    free(p->dist);
    gsl_matrix_free(p->M);
    gsl_vector_free(p->y);
    gsl_vector_free(p->x);
    free(p->dinv);
    memset(p, 0, sizeof *p);
}

/* Rows idx[0..n-1] of t (all rows when idx is NULL). */
static int problem_make(gp_problem *p, const Sur_train *t, const size_t *idx,
                        size_t n, double ys)
{
    memset(p, 0, sizeof *p);
    p->n = n;
    p->y = gsl_vector_alloc(n);
    p->dinv = malloc(n * sizeof *p->dinv);
    p->dist = malloc((n * (n - 1) / 2 + 1) * sizeof *p->dist);
    if (!p->y || !p->dinv || !p->dist) {
        problem_free(p);
        return SUR_ENOMEM;
    }
    for (size_t a = 0; a < n; a++) {
        size_t i = idx ? idx[a] : a;
        gsl_vector_set(p->y, a, (t->y[i] - t->ybar) / ys);
        p->dinv[a] = 1.0 / t->w[i];
        double *da = p->dist + a * (a - 1) / 2;
        for (size_t b = 0; b < a; b++) {
            size_t j = idx ? idx[b] : b;
            da[b] = row_distance(t->z + i * t->d, t->z + j * t->d, t->d);
        }
    }
    return SUR_OK;
}

/* Median of the pairwise distances of the problem (0 if n < 2). */
static int median_distance(const gp_problem *p, double *med)
{
    size_t n = p->n, m = n * (n - 1) / 2;
    *med = 0;
    if (n < 2)
        return SUR_OK;
    double *v = malloc(m * sizeof *v);
    if (!v)
        return SUR_ENOMEM;
    memcpy(v, p->dist, m * sizeof *v);
    gsl_sort(v, 1, m);
    *med = m % 2 ? v[m / 2] : 0.5 * (v[m / 2 - 1] + v[m / 2]);
    free(v);
    return SUR_OK;
}

/*
 * Factor A = R_l + g D (+ jitter) into the lower triangle of p->M, solve
 * for x = A^-1 y, and record q = y^T x and log|A|. SUR_ENOTPD when even the
 * largest jitter fails; other failures are hard (p->rc). M and x are made
 * here: the search needs neither (it works on the profile's own matrix),
 * only the final factorization on all rows does.
 */
static int problem_factor(gp_problem *p, double ell, double g)
{
    const size_t n = p->n;
    if (!p->M)
        p->M = Sur_matrix_alloc(n, n);
    if (!p->x)
        p->x = gsl_vector_alloc(n);
    if (!p->M || !p->x)
        return p->rc = SUR_ENOMEM;
    int status = GSL_EDOM;
    for (size_t jt = 0; jt < GP_N_JITTERS; jt++) {
        double jitter = gp_jitters[jt];
        for (size_t a = 0; a < n; a++) {
            double *row = gsl_matrix_ptr(p->M, a, 0);
            const double *da = p->dist + a * (a - 1) / 2;
            for (size_t b = 0; b < a; b++)
                row[b] = matern52(da[b] / ell);
            row[a] = 1.0 + g * p->dinv[a] + jitter;
        }
        status = gsl_linalg_cholesky_decomp1(p->M);
        if (status == GSL_SUCCESS) {
            p->jitter = jitter;
            break;
        }
        if (status != GSL_EDOM) {
            p->rc = Sur_gsl_rc(status);
            return p->rc;
        }
    }
    if (status != GSL_SUCCESS)
        return SUR_ENOTPD;
    status = gsl_linalg_cholesky_solve(p->M, p->y, p->x);
    if (status) {
        p->rc = Sur_gsl_rc(status);
        return p->rc;
    }
    double q = 0, logdet = 0;
    status = gsl_blas_ddot(p->y, p->x, &q);
    if (status) {
        p->rc = Sur_gsl_rc(status);
        return p->rc;
    }
    for (size_t a = 0; a < n; a++)
        logdet += log(gsl_matrix_get(p->M, a, a));
    p->q = q;
    p->logdet = 2.0 * logdet;
    return SUR_OK;
}

/* Profiled s2 for the last factorization (kept above a hair). */
static double profiled_s2(const gp_problem *p)
{
    double s2 = p->q / (double)p->n;
    return s2 > 1e-12 ? s2 : 1e-12;
}

/*
 * The search on the likelihood's profile. With S = diag(sqrt(count)),
 * A = S^-1 (B_l + g I) S^-1 where B_l = S R_l S. One reduction
 * B_l = Q T Q^T (Sur_tridiag_reduce, 4/3 n^3) and c = Q^T S yt then give,
 * for every g in O(n) (the L D L^T of the tridiagonal T + g I),
 *   yt^T A^-1 yt = c^T (T + g I)^-1 c,
 *   log|A| = log|T + g I| - sum log count,
 * the same objective as problem_factor's. So the best g of a length is
 * exact and nearly free, and the search is one-dimensional in log l: a
 * grid over the box, then Brent (gsl_min) around the best grid point.
 */
#define GP_L_GRID 7      /* lengths on the grid (step 1 in log l) */
#define GP_G_GRID 22     /* noise ratios on the grid (step ~1 in log g) */
#define GP_L_TOL 1e-2    /* Brent's bracket at convergence, log units */
#define GP_G_TOL 1e-4
#define GP_BRENT_ITER 60
#define GP_POLISH_SPAN 0.5 /* a refinement stage: log l within +- this */
#define GP_POLISH_GRID 3
#define GP_POLISH_TOL 1e-2

typedef struct gp_profile {
    gp_problem *p;
    double *B, *tau, *work, *td, *ts, *c, *piv, *low, *sw;
    double logw;   /* sum log count */
    double best[3]; /* log l, log g, objective: the best seen */
} gp_profile;

static void profile_free(gp_profile *f)
{
    free(f->B);
    free(f->work);
}

static int profile_make(gp_profile *f, gp_problem *p)
{
    const size_t n = p->n;
    memset(f, 0, sizeof *f);
    f->p = p;
    f->B = malloc(n * n * sizeof *f->B);
    f->work = malloc(9 * n * sizeof *f->work);
    if (!f->B || !f->work) {
        profile_free(f);
        return SUR_ENOMEM;
    }
    f->tau = f->work + 2 * n;
    f->td = f->tau + n;
    f->ts = f->td + n;
    f->c = f->ts + n;
    f->piv = f->c + n;
    f->low = f->piv + n;
    f->sw = f->low + n;
    for (size_t a = 0; a < n; a++) {
        f->sw[a] = 1.0 / sqrt(p->dinv[a]);
        f->logw -= log(p->dinv[a]);
    }
    f->best[2] = GP_BAD;
    return SUR_OK;
}

/* The profiled objective at log g for the current T (GP_BAD where
 * T + g I is not positive definite to rounding). */
static double profile_g(double log_g, void *ctx)
{
    gp_profile *f = ctx;
    const size_t n = f->p->n;
    if (!isfinite(log_g) ||
        Sur_tridiag_ldl(f->td, f->ts, n, exp(log_g), f->piv, f->low))
        return GP_BAD;
    double q = Sur_tridiag_quad(f->piv, f->low, n, f->c), logdet = -f->logw;
    for (size_t a = 0; a < n; a++)
        logdet += log(f->piv[a]);
    double s2 = q / (double)n, dn = (double)n;
    s2 = s2 > 1e-12 ? s2 : 1e-12;
    double v = 0.5 * dn * log(s2) + 0.5 * logdet +
               0.5 * dn * (1.0 + GP_LOG_2PI);
    return isfinite(v) ? v : GP_BAD;
}

/* The minimum of fn on [lo, hi]: the best of grid points spaced evenly
 * (ends included), then, when that one is a strict interior minimum,
 * Brent (gsl_min_fminimizer_brent) inside its neighbours to tol, at most
 * max_iter iterations. */
static int minimize_1d(double (*fn)(double, void *), void *ctx, double lo,
                       double hi, size_t grid, double tol, unsigned max_iter,
                       double *x_out, double *f_out)
{
    double xs[GP_G_GRID > GP_L_GRID ? GP_G_GRID : GP_L_GRID];
    double fs[sizeof xs / sizeof xs[0]];
    size_t k = 0;
    for (size_t i = 0; i < grid; i++) {
        xs[i] = lo + (hi - lo) * (double)i / (double)(grid - 1);
        fs[i] = fn(xs[i], ctx);
        if (fs[i] < fs[k])
            k = i;
    }
    *x_out = xs[k];
    *f_out = fs[k];
    if (k == 0 || k + 1 == grid || !(fs[k] < fs[k - 1]) ||
        !(fs[k] < fs[k + 1]) || !(fs[k] < GP_BAD))
        return SUR_OK;
    gsl_min_fminimizer *mz = gsl_min_fminimizer_alloc(gsl_min_fminimizer_brent);
    if (!mz)
        return SUR_ENOMEM;
    gsl_function F = {fn, ctx};
    int status = gsl_min_fminimizer_set_with_values(
        mz, &F, xs[k], fs[k], xs[k - 1], fs[k - 1], xs[k + 1], fs[k + 1]);
    for (unsigned it = 0; !status && it < max_iter; it++) {
        status = gsl_min_fminimizer_iterate(mz);
        if (status ||
            gsl_min_test_interval(gsl_min_fminimizer_x_lower(mz),
                                  gsl_min_fminimizer_x_upper(mz), tol,
                                  0.0) != GSL_CONTINUE)
            break;
    }
    /* Brent keeps the best point it evaluated */
    if (gsl_min_fminimizer_f_minimum(mz) < *f_out) {
        *x_out = gsl_min_fminimizer_x_minimum(mz);
        *f_out = gsl_min_fminimizer_f_minimum(mz);
    }
    gsl_min_fminimizer_free(mz);
    return SUR_OK;
}

/* The profile at log l: reduce B_l, then the best log g; returns the
 * objective there (and keeps the best (log l, log g) seen in f->best). */
static double profile_l(double log_l, void *ctx)
{
    gp_profile *f = ctx;
    gp_problem *p = f->p;
    const size_t n = p->n;
    if (!p->rc && Sur_cancelled(p->opt))
        p->rc = SUR_ECANCELED;
    if (p->rc || !isfinite(log_l))
        return GP_BAD;
    const double ell = exp(log_l);
    for (size_t a = 0; a < n; a++) {
        double *row = f->B + a * n;
        const double *da = p->dist + a * (a - 1) / 2;
        for (size_t b = 0; b < a; b++)
            row[b] = f->sw[a] * f->sw[b] * matern52(da[b] / ell);
        row[a] = f->sw[a] * f->sw[a];
        f->c[a] = f->sw[a] * gsl_vector_get(p->y, a);
    }
    int rc = Sur_tridiag_reduce(f->B, n, f->tau, f->work);
    if (rc) {
        p->rc = rc;
        return GP_BAD;
    }
    Sur_tridiag_split(f->B, n, f->tau, f->td, f->ts, f->c);
    double log_g, v;
    rc = minimize_1d(profile_g, f, p->lo[1], p->hi[1], GP_G_GRID, GP_G_TOL,
                     GP_BRENT_ITER, &log_g, &v);
    if (rc) {
        p->rc = rc;
        return GP_BAD;
    }
    if (v < f->best[2]) {
        f->best[0] = log_l;
        f->best[1] = log_g;
        f->best[2] = v;
    }
    return v;
}

/* The box of problem p: log l around the median distance, log g. */
static int set_box(gp_problem *p)
{
    double med;
    int rc = median_distance(p, &med);
    if (rc)
        return rc;
    if (!(med > 0))
        med = 1.0;
    double lmed = log(med);
    p->lo[0] = lmed - GP_L_SPAN;
    p->hi[0] = lmed + GP_L_SPAN;
    p->lo[1] = GP_LOG_G_MIN;
    p->hi[1] = GP_LOG_G_MAX;
    return SUR_OK;
}

/* The profile search (above) for log l in [lo, hi] (grid points, Brent to
 * tol in at most max_iter steps), every log g in p's box; the best
 * (log l, log g) into best. */
static int search(gp_problem *p, double lo, double hi, size_t grid,
                  double tol, unsigned max_iter, double best[2])
{
    gp_profile f;
    int rc = profile_make(&f, p);
    double log_l, v;
    if (!rc)
        rc = minimize_1d(profile_l, &f, lo, hi, grid, tol, max_iter, &log_l,
                         &v);
    if (!rc)
        rc = p->rc;
    if (!rc && !(f.best[2] < GP_BAD))
        rc = SUR_ENOTPD;
    if (!rc) {
        best[0] = f.best[0];
        best[1] = f.best[1];
    }
    profile_free(&f);
    return rc;
}

/* Spread of y (weighted), for the internal scaling; 1 when y is
 * constant. */
static double target_scale(const Sur_train *t)
{
    double var = 0;
    for (size_t i = 0; i < t->n; i++)
        var += t->w[i] * (t->y[i] - t->ybar) * (t->y[i] - t->ybar);
    var /= t->wsum;
    return var > 0 ? sqrt(var) : 1.0;
}

/* The hyperparameters given by opt (gp_fixed), checked. */
static int fixed_hyper(const sur_options *opt, Sur_gp *gp)
{
    if (!(opt->gp_signal_var > 0) || !(opt->gp_length > 0) ||
        !(opt->gp_noise_var >= 0) || !isfinite(opt->gp_signal_var) ||
        !isfinite(opt->gp_length) || !isfinite(opt->gp_noise_var))
        return SUR_EINVAL;
    gp->ell = opt->gp_length;
    gp->g = opt->gp_noise_var / opt->gp_signal_var;
    return SUR_OK;
}

/* 0 .. n-1 in a seeded random order (Fisher-Yates); NULL without memory. */
static size_t *shuffled_rows(size_t n, uint64_t *rng)
{
    size_t *idx = malloc(n * sizeof *idx);
    if (!idx)
        return NULL;
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    for (size_t i = 0; i < n - 1; i++) {
        size_t j = i + (size_t)Sur_rng_below(rng, n - i);
        size_t tmp = idx[i];
        idx[i] = idx[j];
        idx[j] = tmp;
    }
    return idx;
}

/*
 * Search (log l, log g) into theta when the rows outnumber gp_subset. The
 * search runs on a seeded random subset of m rows (partial Fisher-Yates);
 * the best point is then refined on nested subsets of 2m, 4m, ... rows and
 * finally on all of them (full), each stage a short profile search with
 * log l within GP_POLISH_SPAN of the previous optimum. The optimum moves
 * with the number of rows (more rows support a longer length scale), but
 * little from one stage to the next (about 0.03 in log l from 2,000 rows
 * to 4,000), and each stage costs a fraction of the next: on 4,000 rows a
 * reduction takes tens of seconds, so the last stage gets three lengths
 * and Brent's few steps between them.
 */
static int subset_search(const Sur_train *t, const sur_options *opt,
                         gp_problem *full, double ys, uint64_t *rng,
                         double theta[2])
{
    const size_t n = t->n, m = opt->gp_subset;
    gp_problem sub;
    size_t *idx = shuffled_rows(n, rng);
    if (!idx)
        return SUR_ENOMEM;
    int rc = problem_make(&sub, t, idx, m, ys);
    sub.opt = opt;
    if (!rc)
        rc = set_box(&sub);
    if (!rc)
        rc = search(&sub, sub.lo[0], sub.hi[0], GP_L_GRID, GP_L_TOL,
                    GP_BRENT_ITER, theta);
    double lo[2], hi[2];
    memcpy(lo, sub.lo, sizeof lo);
    memcpy(hi, sub.hi, sizeof hi);
    problem_free(&sub);
    for (size_t size = 2 * m; !rc && opt->gp_polish; size *= 2) {
        gp_problem *stage = full;
        if (size < n) {
            rc = problem_make(&sub, t, idx, size, ys);
            sub.opt = opt;
            if (rc)
                break;
            stage = &sub;
        }
        memcpy(stage->lo, lo, sizeof lo);
        memcpy(stage->hi, hi, sizeof hi);
        double at[2];
        rc = search(stage, fmax(lo[0], theta[0] - GP_POLISH_SPAN),
                    fmin(hi[0], theta[0] + GP_POLISH_SPAN), GP_POLISH_GRID,
                    GP_POLISH_TOL, opt->gp_polish, at);
        if (!rc) {
            theta[0] = at[0];
            theta[1] = at[1];
        }
        if (stage == &sub)
            problem_free(&sub);
        if (size >= n)
            break;
    }
    free(idx);
    return rc;
}

/* With gp->ell and gp->g set: factor the full problem, keep what
 * predictions need (the rows, alpha, the Cholesky factor, taken from full)
 * and report the fit in info, in y units. */
static int gp_finish(Sur_gp *gp, const Sur_train *t, const sur_options *opt,
                     gp_problem *full, sur_model_info *info)
{
    const size_t n = t->n;
    const double ys = gp->ys;
    int rc = problem_factor(full, gp->ell, gp->g);
    if (rc)
        return rc;
    gp->s2 = opt->gp_fixed ? opt->gp_signal_var / (ys * ys)
                           : profiled_s2(full);
    gp->jitter = full->jitter;

    gp->z = malloc(n * t->d * sizeof *gp->z);
    gp->alpha = malloc(n * sizeof *gp->alpha);
    if (!gp->z || !gp->alpha)
        return SUR_ENOMEM;
    memcpy(gp->z, t->z, n * t->d * sizeof *gp->z);
    for (size_t i = 0; i < n; i++)
        gp->alpha[i] = gsl_vector_get(full->x, i);
    gp->L = full->M;
    full->M = NULL;

    /* log p(y) in y units: K = ys^2 s2 A. */
    double nn = (double)n;
    info->gp_lml = -0.5 * full->q / gp->s2 -
                   0.5 * (nn * log(ys * ys * gp->s2) + full->logdet) -
                   0.5 * nn * GP_LOG_2PI;
    info->gp_signal_var = ys * ys * gp->s2;
    info->gp_length = gp->ell;
    info->gp_noise_var = ys * ys * gp->s2 * gp->g;
    info->gp_jitter = gp->jitter * ys * ys * gp->s2;
    return SUR_OK;
}

int Sur_gp_fit(const Sur_train *t, const sur_options *opt, Sur_gp **out,
               sur_model_info *info)
{
    const size_t n = t->n;
    *out = NULL;
    if (n < 2)
        return SUR_ETOOFEW;
    if (opt->gp_max_rows && n > opt->gp_max_rows)
        return SUR_ETOOBIG;

    double ys = target_scale(t);
    Sur_gp *gp = calloc(1, sizeof *gp);
    if (!gp)
        return SUR_ENOMEM;
    gp->n = n;
    gp->d = t->d;
    gp->ybar = t->ybar;
    gp->ys = ys;

    gp_problem full;
    int rc = problem_make(&full, t, NULL, n, ys);
    full.opt = opt;
    if (rc) {
        Sur_gp_free(gp);
        return rc;
    }
    uint64_t rng = opt->seed ^ 0x6770u; /* "gp" */
    double theta[2] = {0.0, 0.0};       /* log l, log g */
    if (opt->gp_fixed)
        rc = fixed_hyper(opt, gp);
    else if (opt->gp_subset && n > opt->gp_subset)
        rc = subset_search(t, opt, &full, ys, &rng, theta);
    else if ((rc = set_box(&full)) == SUR_OK)
        rc = search(&full, full.lo[0], full.hi[0], GP_L_GRID, GP_L_TOL,
                    GP_BRENT_ITER, theta);
    if (!rc && !opt->gp_fixed) {
        gp->ell = exp(theta[0]);
        gp->g = exp(theta[1]);
    }
    if (!rc)
        rc = gp_finish(gp, t, opt, &full, info);
    problem_free(&full);
    if (rc) {
        Sur_gp_free(gp);
        return rc;
    }
    *out = gp;
    return SUR_OK;
}

int Sur_gp_posterior(const Sur_posterior *p, const double *z, size_t n, double *mean,
                     double *var_latent)
{
    const size_t N = p->n, d = p->d;
    size_t chunk = n < PREDICT_CHUNK ? n : PREDICT_CHUNK;
    if (n == 0)
        return SUR_OK;
    gsl_matrix *Rs = Sur_matrix_alloc(N, chunk);
    if (!Rs)
        return SUR_ENOMEM;
    int rc = SUR_OK;
    for (size_t lo = 0; lo < n && !rc; lo += chunk) {
        size_t m = n - lo < chunk ? n - lo : chunk;
        gsl_matrix_view R = gsl_matrix_submatrix(Rs, 0, 0, N, m);
        p->cross(p->model, z + lo * d, m, &R.matrix);
        for (size_t j = 0; j < m; j++) {
            double acc = 0;
            for (size_t i = 0; i < N; i++)
                acc += gsl_matrix_get(&R.matrix, i, j) * p->alpha[i];
            mean[lo + j] = p->ybar + p->ys * acc;
        }
        if (!var_latent)
            continue;
        /* L V = R: var = s2 (1 - |V_j|^2), in y units. */
        rc = Sur_gsl_rc(gsl_blas_dtrsm(CblasLeft, CblasLower, CblasNoTrans,
                                       CblasNonUnit, 1.0, p->L, &R.matrix));
        for (size_t j = 0; j < m && !rc; j++) {
            double vv = 0;
            for (size_t i = 0; i < N; i++) {
                double v = gsl_matrix_get(&R.matrix, i, j);
                vv += v * v;
            }
            double v = 1.0 - vv;
            var_latent[lo + j] = p->ys * p->ys * p->s2 * (v > 0 ? v : 0.0);
        }
    }
    gsl_matrix_free(Rs);
    return rc;
}

/* The kernel between the training rows and the m query rows zq. */
static void gp_cross(const void *model, const double *zq, size_t m, gsl_matrix *R)
{
    const Sur_gp *gp = model;
    for (size_t i = 0; i < gp->n; i++) {
        double *row = gsl_matrix_ptr(R, i, 0);
        for (size_t j = 0; j < m; j++)
            row[j] = matern52(row_distance(gp->z + i * gp->d, zq + j * gp->d, gp->d) / gp->ell);
    }
}

int Sur_gp_predict(const Sur_gp *gp, const double *z, size_t n, double *mean,
                   double *var_latent)
{
    Sur_posterior p = {gp->n, gp->d, gp->L, gp->alpha, gp->ybar, gp->ys, gp->s2, gp_cross, gp};
    return Sur_gp_posterior(&p, z, n, mean, var_latent);
}

/*
 * sur_ridge.c — ridge regression on the standardized features and their
 * pairwise products, lambda by generalized cross-validation.
 *
 * X is the weighted, centered design (rows scaled by sqrt(count)), n rows
 * by P terms, and A the smaller of its Gram matrices: G = X^T X (P x P)
 * when n >= P (primal), K = X X^T (n x n) when n < P (dual). The dual
 * one is built from the d base features, e(a) . e(b) = s1 + (s1^2 +
 * s2) / 2 with s1 = sum a_k b_k, s2 = sum (a_k b_k)^2 (- s2 without the
 * squares, s1 alone without the products): O(d) per entry, X is never
 * formed; and its null vector sqrt(w) (the centering) is deflated
 * exactly, leaving order m = n - 1. Everything the fit needs comes from
 * the symmetric tridiagonal decomposition A = Q T Q^T (that of
 * gsl_linalg_symmtd_decomp, see Sur_tridiag_reduce): with c = Q^T X^T y
 * (primal) or Q^T y (dual, in the deflated basis), z = (T + l^2)^-1 c and
 * T + l^2 = L D L^T, one O(m) pass per lambda gives
 *   primal  b_l = Q z,          rss = y^T y - c^T z - l^2 z^T z
 *   dual    b_l = X^T Q z,      rss = l^4 z^T z   (y - K a = l^2 a)
 *   n - 1 - tr H = (n - 1 - m) + l^2 tr (T + l^2)^-1   (the diagonal of
 *           the inverse from L and D; positive terms, see ldl_inv_trace)
 *   G(l) = rss / (n - 1 - tr H)^2
 * which is GSL's gcv_func (multifit/gcv.c) written without the singular
 * vectors, with one degree of freedom taken by the intercept (the design
 * is centered; GSL's has no intercept). Neither eigenvectors nor all the
 * eigenvalues are formed: the grid's ends, the largest eigenvalue and the
 * smallest above rounding, come from Sturm counts on T. The tridiagonal
 * reduction is 4/3 m^3 flops; gsl_eigen_symmv, which the singular values
 * and vectors would need, costs five to eight times that. GSL's own
 * route, gsl_multifit_linear_svd + gsl_multifit_linear_gcv, is not used
 * because (1) gsl_multifit_linear_gcv computes n - p in size_t, so with
 * fewer rows than terms (the common case: 100 genomes, 665 terms) its
 * curve is meaningless, and (2) it costs more still. The grid is
 * gsl_multifit_linear_lreg's (extended below the smallest singular value)
 * and the refinement is Brent's, as in gsl_multifit_linear_gcv_min; a
 * unit test checks the lambda against gsl_multifit_linear_gcv's, and one
 * checks the two routes against each other.
 *
 * The leverage of a new row e (centered) is e^T (G + l^2 I)^-1 e:
 *   primal  t^T (T + l^2)^-1 t with t = Q^T e, a sum of positive terms;
 *   dual    (e^T e - k^T (K + l^2)^-1 k) / l^2 with k = X e, while that
 *           difference is well above its rounding; for rows (nearly) in
 *           the span of the training rows at small lambda, which GCV picks
 *           when the rows are few, it cancels, and the same quantity is
 *           taken as min_a ||e - X^T a||^2 / l^2 + ||a||^2 evaluated at
 *           its minimizer as written, a sum of squares.
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
#include <gsl/gsl_multifit.h>
#include <gsl/gsl_vector.h>

#define GCV_GRID 200
#define GCV_LANES 8 /* GCV_GRID is a multiple */
#define GCV_MAX_ITER 200
#define PREDICT_CHUNK 256
#define GRAM_BLOCK 32 /* rows of the Gram matrix per pass, see gram_lower */
/* Eigenvalues below this fraction of the largest are rounding; ridge
 * shrinkage finer than that cannot be resolved either (see gcv_minimize). */
#define SPECTRAL_FLOOR 1e-12

struct Sur_ridge {
    size_t d;       /* standardized base features */
    size_t P;       /* expanded terms */
    size_t n;       /* training rows */
    size_t m;       /* order of the decomposed Gram matrix: P, or n - 1 */
    int products, squares, dual;
    double *mean;   /* primal: P, weighted mean of each expanded term */
    double *beta;   /* primal: P; dual: n, coefficients of X e */
    double *refl;   /* m x m: row i holds Householder vector i in entries
                     * i + 2 .. m - 1 (entry i + 1 is 1; the rest is
                     * the decomposed matrix, unused) */
    double *tau;    /* m, Householder coefficients (0 past m - 3) */
    double *piv;    /* m, pivots of T + l^2 = L D L^T */
    double *low;    /* m, subdiagonal of L */
    double *z;      /* dual: n x d, the training rows */
    double *zt;     /* dual: d x n, the transpose of z */
    double *zt2;    /* dual: d x n, its entries squared */
    double *w;      /* dual: n, their weights */
    double *em;     /* dual: n, e_i . m (e_i expanded row i, m the mean) */
    double mm;      /* dual: m . m */
    double *h;      /* dual: n, Householder vector (h[0] = 1) taking the
                     * centering's null vector sqrt(w) of K to e_0 */
    double tau0;
    double ybar, inv_wsum, sigma2, lambda, mu, top;
};

void Sur_ridge_free(Sur_ridge *r)
{
    if (!r)
        return;
    free(r->mean);
    free(r->beta);
    free(r->refl);
    free(r->tau);
    free(r->piv);
    free(r->low);
    free(r->z);
    free(r->zt);
    free(r->zt2);
    free(r->w);
    free(r->em);
    free(r->h);
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

/* e(a) . e(b) for the expanded rows of a and b, from d products:
 * sum_{a<b} = ((sum z_a z'_a)^2 - sum (z_a z'_a)^2) / 2. */
static double kernel_of(const Sur_ridge *r, double s1, double s2)
{
    if (!r->products)
        return s1;
    return s1 + 0.5 * (s1 * s1 + (r->squares ? s2 : -s2));
}

/* k[j] = e(a) . e(z_j) for training rows j < cols, by columns of zt so
 * that the loops run over j (four independent sums per step at least). */
static void kernel_row(const Sur_ridge *r, const double *a, size_t cols,
                       double *s2, double *k)
{
    const size_t n = r->n;
    memset(k, 0, cols * sizeof *k);
    memset(s2, 0, cols * sizeof *s2);
    for (size_t c = 0; c < r->d; c++) {
        const double ac = a[c], ac2 = ac * ac;
        const double *zc = r->zt + c * n, *zc2 = r->zt2 + c * n;
        for (size_t j = 0; j < cols; j++) {
            k[j] += ac * zc[j];
            s2[j] += ac2 * zc2[j];
        }
    }
    for (size_t j = 0; j < cols; j++)
        k[j] = kernel_of(r, k[j], s2[j]);
}

/* x = (I - tau h h^T) x, h of length n. */
static void house_apply(const double *h, double tau, size_t n, double *x)
{
    double s = 0;
    for (size_t k = 0; k < n; k++)
        s += h[k] * x[k];
    s *= tau;
    for (size_t k = 0; k < n; k++)
        x[k] -= s * h[k];
}

typedef struct gcv_curve {
    double smax, smin; /* largest and smallest retained singular value */
    double free_dof;   /* n - 1 - m */
    const double *td, *ts, *c; /* T and c = Q^T (X^T) y, m each */
    size_t m;
    int dual;
    double yy;         /* y^T y */
    double y0;         /* dual: the part of y^T y outside c */
    double *piv, *low, *z; /* workspace, m each */
} gcv_curve;

/* tr (T + mu)^-1 from the factors of T + mu: the diagonal of the inverse
 * of L D L^T runs S_ii = 1 / d_i + l_i^2 S_{i+1,i+1}, positive terms.
 * The residual degrees of freedom are then
 *   n - 1 - tr H = (n - 1 - m) + mu tr (T + mu)^-1,
 * a sum of positive terms too as long as m <= n - 1: no cancellation
 * when the fit (nearly) interpolates and they are nearly 0 (the dual
 * route deflates the centering's null direction to keep m = n - 1). */
static double ldl_inv_trace(const double *piv, const double *low, size_t m)
{
    double sii = 1.0 / piv[m - 1], sum = sii;
    for (size_t i = m - 1; i-- > 0;) {
        sii = 1.0 / piv[i] + low[i] * low[i] * sii;
        sum += sii;
    }
    return sum;
}

/* Residual sum of squares at l^2 = mu; also c^T z, z^T z and the
 * residual degrees of freedom n - 1 - tr H. */
static double gcv_rss(const gcv_curve *c, double mu, double *cz, double *zz,
                      double *rdof)
{
    if (Sur_tridiag_ldl(c->td, c->ts, c->m, mu, c->piv, c->low))
        return NAN;
    *cz = Sur_tridiag_solve(c->piv, c->low, c->m, c->c, c->z);
    *rdof = c->free_dof + mu * ldl_inv_trace(c->piv, c->low, c->m);
    double q = 0;
    for (size_t i = 0; i < c->m; i++)
        q += c->z[i] * c->z[i];
    *zz = q;
    double rss = c->dual ? mu * mu * q + c->y0 : c->yy - *cz - mu * q;
    return rss > 0 ? rss : 0.0;
}

static double gcv_value(double lambda, void *params)
{
    const gcv_curve *c = params;
    double l2 = lambda * lambda, cz, zz, rdof;
    double rss = gcv_rss(c, l2, &cz, &zz, &rdof);
    double g = rss / (rdof * rdof);
    return rdof > 0 && isfinite(g) ? g : INFINITY;
}

/* gcv_value at GCV_LANES lambdas at once: the recurrences of
 * Sur_tridiag_ldl, Sur_tridiag_solve and ldl_inv_trace run one after
 * another for each lambda, each step waiting for a division; side by side
 * they do not.
 * work is 3 m GCV_LANES. */
static void gcv_values(const gcv_curve *c, const double *lambda, double *g,
                       double *work)
{
    enum { L = GCV_LANES };
    const size_t m = c->m;
    double *piv = work, *low = work + m * L, *x = work + 2 * m * L;
    double mu[L], cz[L], zz[L], sii[L], sum[L];
    for (size_t l = 0; l < L; l++) {
        mu[l] = lambda[l] * lambda[l];
        piv[l] = c->td[0] + mu[l];
        x[l] = c->c[0];
        cz[l] = zz[l] = sum[l] = 0.0;
    }
    for (size_t i = 1; i < m; i++) {
        double *p0 = piv + (i - 1) * L, *p1 = piv + i * L;
        double *lo = low + (i - 1) * L, *x0 = x + (i - 1) * L, *x1 = x + i * L;
        for (size_t l = 0; l < L; l++) {
            lo[l] = c->ts[i - 1] / p0[l];
            p1[l] = c->td[i] + mu[l] - lo[l] * c->ts[i - 1];
            x1[l] = c->c[i] - lo[l] * x0[l];
        }
    }
    for (size_t i = 0; i < m; i++) {
        double *p = piv + i * L, *xi = x + i * L;
        for (size_t l = 0; l < L; l++) {
            cz[l] += xi[l] * xi[l] / p[l];
            xi[l] /= p[l];
        }
    }
    for (size_t l = 0; l < L; l++) {
        double xl = x[(m - 1) * L + l];
        zz[l] = xl * xl;
        sii[l] = 1.0 / piv[(m - 1) * L + l];
        sum[l] = sii[l];
    }
    for (size_t i = m - 1; i-- > 0;) {
        const double *p = piv + i * L, *lo = low + i * L;
        double *xi = x + i * L, *x1 = x + (i + 1) * L;
        for (size_t l = 0; l < L; l++) {
            xi[l] -= lo[l] * x1[l];
            zz[l] += xi[l] * xi[l];
            sii[l] = 1.0 / p[l] + lo[l] * lo[l] * sii[l];
            sum[l] += sii[l];
        }
    }
    for (size_t l = 0; l < L; l++) {
        int ok = 1;
        for (size_t i = 0; i < m; i++)
            ok &= piv[i * L + l] > 0;
        double rss = c->dual ? mu[l] * mu[l] * zz[l] + c->y0
                             : c->yy - cz[l] - mu[l] * zz[l];
        if (rss < 0)
            rss = 0;
        double rdof = c->free_dof + mu[l] * sum[l];
        double v = rss / (rdof * rdof);
        g[l] = ok && rdof > 0 && isfinite(v) ? v : INFINITY;
    }
}

/* lambda minimizing the GCV curve: the best of a gsl_multifit_linear_lreg
 * grid, refined by Brent between its neighbours (as gsl_multifit_linear_
 * gcv_min does). GSL's grid stops at the smallest singular value, which
 * suits ill-posed problems; a well-posed one (few terms, little noise)
 * wants less shrinkage than that, so the grid here reaches five decades
 * further down, but not below sqrt(SPECTRAL_FLOOR) times the largest
 * singular value: eigenvalues that small are rounding (retained() drops
 * them), and a shift below them would not be resolved by the tridiagonal
 * solves either. */
static int gcv_minimize(const gcv_curve *c, double *lambda)
{
    gsl_vector *grid = gsl_vector_alloc(GCV_GRID);
    double *work = malloc(3 * c->m * GCV_LANES * sizeof *work);
    if (!grid || !work) {
        gsl_vector_free(grid);
        free(work);
        return SUR_ENOMEM;
    }
    double smax = c->smax, smin = 1e-5 * c->smin;
    if (smin < sqrt(SPECTRAL_FLOOR) * smax)
        smin = sqrt(SPECTRAL_FLOOR) * smax;
    if (!(smin < smax))
        smin = 0.5 * smax;
    int rc = Sur_gsl_rc(gsl_multifit_linear_lreg(smin, smax, grid));
    if (rc) {
        gsl_vector_free(grid);
        free(work);
        return rc;
    }
    size_t best = 0;
    double gbest = INFINITY, g[GCV_LANES];
    for (size_t i = 0; i < GCV_GRID; i += GCV_LANES) {
        gcv_values(c, grid->data + i, g, work);
        for (size_t l = 0; l < GCV_LANES; l++)
            if (g[l] < gbest) {
                gbest = g[l];
                best = i + l;
            }
    }
    free(work);
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
    /* GRAM_BLOCK rows of G at a time stay in cache while all rows of X
     * pass over them. */
    for (size_t a0 = 0; a0 < P; a0 += GRAM_BLOCK) {
        const size_t a1 = a0 + GRAM_BLOCK < P ? a0 + GRAM_BLOCK : P;
        size_t i = 0;
        for (; i + 4 <= n; i += 4) {
            const double *x0 = gsl_matrix_const_ptr(X, i, 0);
            const double *x1 = gsl_matrix_const_ptr(X, i + 1, 0);
            const double *x2 = gsl_matrix_const_ptr(X, i + 2, 0);
            const double *x3 = gsl_matrix_const_ptr(X, i + 3, 0);
            for (size_t a = a0; a < a1; a++) {
                double *g = gsl_matrix_ptr(G, a, 0);
                const double c0 = x0[a], c1 = x1[a], c2 = x2[a], c3 = x3[a];
                for (size_t b = 0; b <= a; b++)
                    g[b] += c0 * x0[b] + c1 * x1[b] + c2 * x2[b] +
                            c3 * x3[b];
            }
        }
        for (; i < n; i++) {
            const double *x0 = gsl_matrix_const_ptr(X, i, 0);
            for (size_t a = a0; a < a1; a++) {
                double *g = gsl_matrix_ptr(G, a, 0);
                const double c0 = x0[a];
                for (size_t b = 0; b <= a; b++)
                    g[b] += c0 * x0[b];
            }
        }
    }
}

/* dual_gram: lower triangle of K = X X^T (n x n) from the base rows,
 * O(d) per entry instead of O(P): with k_ij = e_i . e_j,
 * K_ij = sqrt(w_i w_j) (k_ij - em_i - em_j + m . m), where the weighted
 * mean m of the expanded rows never needs forming: em_i = e_i . m =
 * sum_j w_j k_ij / W and m . m = sum_i w_i em_i / W. Sets r->em, r->mm;
 * tmp is n workspace. */
static void dual_gram(Sur_ridge *r, double wsum, double *tmp, gsl_matrix *K)
{
    const size_t n = r->n;
    memset(r->em, 0, n * sizeof *r->em);
    for (size_t i = 0; i < n; i++) {
        double *k = gsl_matrix_ptr(K, i, 0), acc = 0;
        kernel_row(r, r->z + i * r->d, i + 1, tmp, k);
        for (size_t j = 0; j < i; j++) {
            acc += r->w[j] * k[j];
            r->em[j] += r->w[i] * k[j];
        }
        r->em[i] += acc + r->w[i] * k[i];
    }
    double mm = 0;
    for (size_t i = 0; i < n; i++) {
        r->em[i] /= wsum;
        mm += r->w[i] * r->em[i];
        tmp[i] = sqrt(r->w[i]);
    }
    mm /= wsum;
    r->mm = mm;
    for (size_t i = 0; i < n; i++) {
        double *k = gsl_matrix_ptr(K, i, 0);
        const double si = tmp[i], ci = r->em[i] - mm;
        for (size_t j = 0; j <= i; j++)
            k[j] = si * tmp[j] * (k[j] - ci - r->em[j]);
    }
}

/* Centered kernel row of base row zr: k_j = (X e)_j = sqrt(w_j) (e_j -
 * m) . (e - m); returns (e - m) . (e - m). tmp is n workspace. */
static double dual_row(const Sur_ridge *r, const double *zr, double *tmp,
                       double *k)
{
    const size_t n = r->n;
    double me = 0, s1 = 0, s2 = 0;
    kernel_row(r, zr, n, tmp, k);
    for (size_t j = 0; j < n; j++)
        me += r->w[j] * k[j];
    me *= r->inv_wsum;
    const double c = me - r->mm;
    for (size_t j = 0; j < n; j++)
        k[j] = sqrt(r->w[j]) * (k[j] - r->em[j] - c);
    for (size_t a = 0; a < r->d; a++) {
        double p = zr[a] * zr[a];
        s1 += p;
        s2 += p * p;
    }
    return kernel_of(r, s1, s2) - 2.0 * me + r->mm;
}

/* A = rows and columns 1.. of H0 K H0, H0 = I - tau h h^T, K (n x n, lower
 * triangle given) symmetric: H0 K H0 = K - h v^T - v h^T with p = tau K h,
 * v = p - (tau p.h / 2) h. p is n workspace. Lower triangle of A. */
static void deflate(double *K, size_t n, const double *h, double tau,
                    double *p, gsl_matrix *A)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            K[j * n + i] = K[i * n + j];
    double ph = 0;
    for (size_t i = 0; i < n; i++) {
        const double *k = K + i * n;
        double acc = 0;
        for (size_t j = 0; j < n; j++)
            acc += k[j] * h[j];
        p[i] = tau * acc;
        ph += p[i] * h[i];
    }
    for (size_t i = 0; i < n; i++)
        p[i] -= 0.5 * tau * ph * h[i];
    for (size_t i = 1; i < n; i++) {
        double *a = gsl_matrix_ptr(A, i - 1, 0);
        const double *k = K + i * n;
        for (size_t j = 1; j <= i; j++)
            a[j - 1] = k[j] - h[i] * p[j] - p[i] * h[j];
    }
}

/* The number of eigenvalues of T below x (Sturm count, from the pivots of
 * T - x I). */
static size_t sturm_below(const double *td, const double *ts, size_t m,
                          double x)
{
    size_t count = 0;
    double q = td[0] - x;
    for (size_t i = 0;;) {
        if (q == 0.0)
            q = -DBL_EPSILON * (fabs(x) + DBL_MIN);
        count += q < 0;
        if (++i == m)
            break;
        q = td[i] - x - ts[i - 1] * ts[i - 1] / q;
    }
    return count;
}

/* The k-th smallest eigenvalue of T (k from 1) in [lo, hi], by bisection
 * to a relative 1e-10; geometric steps while the bracket spans decades. */
static double sturm_kth(const double *td, const double *ts, size_t m,
                        size_t k, double lo, double hi)
{
    for (int it = 0; it < 200 && hi - lo > 1e-10 * hi; it++) {
        double mid = lo > 0 && hi > 4 * lo ? sqrt(lo * hi) : 0.5 * (lo + hi);
        if (sturm_below(td, ts, m, mid) >= k)
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

int Sur_ridge_fit(const Sur_train *t, const sur_options *opt, Sur_ridge **out,
                  sur_model_info *info)
{
    return Sur_ridge_fit_as(t, opt, SUR_RIDGE_AUTO, 0.0, out, info);
}

/* A new model for t's shape: the expanded terms (products and squares as
 * configured, dropped when they would exceed ridge_max_terms), the route
 * (dual when the rows are fewer than the terms, or as route forces) and
 * the arrays every route keeps. NULL when out of memory. */
static Sur_ridge *ridge_new(const Sur_train *t, const sur_options *opt,
                            Sur_ridge_route route)
{
    const size_t n = t->n, d = t->d;
    int products = opt->ridge_products != 0;
    int squares = products && opt->ridge_squares != 0;
    size_t P = expanded_terms(d, products, squares);
    if (products && P > opt->ridge_max_terms) {
        products = squares = 0;
        P = d;
    }

    Sur_ridge *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    const int dual =
        route == SUR_RIDGE_AUTO ? n < P : route == SUR_RIDGE_DUAL;
    const size_t m = dual ? n - 1 : P;
    r->d = d;
    r->P = P;
    r->n = n;
    r->m = m;
    r->products = products;
    r->squares = squares;
    r->dual = dual;
    r->ybar = t->ybar;
    r->inv_wsum = 1.0 / t->wsum;

    /* A, then in place the reflectors (see tridiagonalize) */
    r->refl = malloc(m * m * sizeof *r->refl);
    r->tau = calloc(m, sizeof *r->tau);
    r->piv = malloc(m * sizeof *r->piv);
    r->low = malloc(m * sizeof *r->low);
    r->beta = calloc(dual ? n : m, sizeof *r->beta);
    if (!r->refl || !r->tau || !r->piv || !r->low || !r->beta) {
        Sur_ridge_free(r);
        return NULL;
    }
    return r;
}

/* What a fit needs only while it runs. */
typedef struct ridge_work {
    double *xd;      /* primal: n x P, the centered, scaled design X */
    double *kd;      /* dual: n x n, the Gram matrix K */
    double *yt;      /* n, sqrt(w) (y - ybar) */
    double *c;       /* Q^T X^T y (primal, P) or Q^T y (dual, n) */
    double *td, *ts; /* m each: the diagonal and subdiagonal of T */
    double *z;       /* n (dual) or m: the solution, and scratch */
    double *yt2;     /* 2 m, Sur_tridiag_reduce's workspace */
    double yy;       /* y^T y of the scaled, centered targets */
    double y0;       /* dual: the part of y^T y outside c */
} ridge_work;

static int work_alloc(ridge_work *w, const Sur_ridge *r)
{
    const size_t n = r->n, m = r->m, mn = r->dual ? n : m;
    memset(w, 0, sizeof *w);
    w->yt = malloc(n * sizeof *w->yt);
    w->c = malloc(mn * sizeof *w->c);
    w->td = malloc(m * sizeof *w->td);
    w->ts = calloc(m, sizeof *w->ts);
    w->z = malloc(mn * sizeof *w->z);
    w->yt2 = malloc(2 * m * sizeof *w->yt2);
    if (!w->yt || !w->c || !w->td || !w->ts || !w->z || !w->yt2)
        return SUR_ENOMEM;
    return SUR_OK;
}

static void work_free(ridge_work *w)
{
    free(w->xd);
    free(w->kd);
    free(w->yt2);
    free(w->yt);
    free(w->c);
    free(w->td);
    free(w->ts);
    free(w->z);
}

/* Rows scaled by sqrt(w) after weighted centering: ordinary least squares
 * on (X, yt) is weighted least squares on the data. */
static void center_targets(const Sur_train *t, ridge_work *w)
{
    double yy = 0;
    for (size_t i = 0; i < t->n; i++) {
        w->yt[i] = sqrt(t->w[i]) * (t->y[i] - t->ybar);
        yy += w->yt[i] * w->yt[i];
    }
    w->yy = yy;
}

/* Dual: A is K with the centering's null vector deflated, and c = Q^T y
 * waits for Q (tridiagonalize) in the deflated basis. The model keeps the
 * training rows for its predictions. */
static int setup_dual(Sur_ridge *r, const Sur_train *t, ridge_work *w,
                      gsl_matrix *A)
{
    const size_t n = t->n, d = t->d, m = r->m;
    r->z = malloc(n * d * sizeof *r->z);
    r->zt = malloc(n * d * sizeof *r->zt);
    r->zt2 = malloc(n * d * sizeof *r->zt2);
    r->w = malloc(n * sizeof *r->w);
    r->em = malloc(n * sizeof *r->em);
    r->h = malloc(n * sizeof *r->h);
    w->kd = malloc(n * n * sizeof *w->kd);
    if (!r->z || !r->zt || !r->zt2 || !r->w || !r->em || !r->h || !w->kd)
        return SUR_ENOMEM;
    memcpy(r->z, t->z, n * d * sizeof *r->z);
    memcpy(r->w, t->w, n * sizeof *r->w);
    for (size_t i = 0; i < n; i++)
        for (size_t a = 0; a < d; a++) {
            double v = t->z[i * d + a];
            r->zt[a * n + i] = v;
            r->zt2[a * n + i] = v * v;
        }
    gsl_matrix_view Kv = gsl_matrix_view_array(w->kd, n, n);
    dual_gram(r, t->wsum, w->z, &Kv.matrix);
    /* K sqrt(w) = 0 (the centering): with H0 taking sqrt(w) to e_0,
     * H0 K H0 is 0 in row and column 0 and A is the rest, so that
     * m = n - 1 and the residual degrees of freedom are a sum of
     * positive terms (ldl_inv_trace). */
    for (size_t i = 0; i < n; i++)
        r->h[i] = sqrt(t->w[i]);
    gsl_vector_view hv = gsl_vector_view_array(r->h, n);
    r->tau0 = gsl_linalg_householder_transform(&hv.vector);
    r->h[0] = 1.0;
    deflate(w->kd, n, r->h, r->tau0, w->z, A);
    memcpy(w->z, w->yt, n * sizeof *w->z);
    house_apply(r->h, r->tau0, n, w->z);
    w->y0 = w->z[0] * w->z[0];
    memcpy(w->c, w->z + 1, m * sizeof *w->c);
    return SUR_OK;
}

/* Primal: A is G = X^T X of the expanded, weighted-centered rows, and
 * c = X^T y (Q^T comes in tridiagonalize). */
static int setup_primal(Sur_ridge *r, const Sur_train *t, ridge_work *w,
                        gsl_matrix *A)
{
    const size_t n = t->n, d = t->d, P = r->P;
    r->mean = calloc(P, sizeof *r->mean);
    w->xd = malloc(n * P * sizeof *w->xd);
    if (!r->mean || !w->xd)
        return SUR_ENOMEM;
    gsl_matrix_view Xv = gsl_matrix_view_array(w->xd, n, P);
    gsl_matrix *X = &Xv.matrix;
    for (size_t i = 0; i < n; i++) {
        double *row = w->xd + i * P;
        expand_row(r, t->z + i * d, row);
        for (size_t k = 0; k < P; k++)
            r->mean[k] += t->w[i] * row[k];
    }
    for (size_t k = 0; k < P; k++)
        r->mean[k] /= t->wsum;
    for (size_t i = 0; i < n; i++) {
        double sw = sqrt(t->w[i]), *row = w->xd + i * P;
        for (size_t k = 0; k < P; k++)
            row[k] = sw * (row[k] - r->mean[k]);
    }
    gram_lower(X, A);
    gsl_vector_view yv = gsl_vector_view_array(w->yt, n);
    gsl_vector_view cv = gsl_vector_view_array(w->c, P);
    return Sur_gsl_rc(
        gsl_blas_dgemv(CblasTrans, 1.0, X, &yv.vector, 0.0, &cv.vector));
}

/* A = Q T Q^T: T into td and ts, the reflectors into r->refl, and c
 * becomes Q^T c. */
static int tridiagonalize(Sur_ridge *r, ridge_work *w)
{
    const size_t m = r->m;
    int rc = Sur_tridiag_reduce(r->refl, m, r->tau, w->yt2);
    if (rc)
        return rc;
    Sur_tridiag_split(r->refl, m, r->tau, w->td, w->ts, w->c);
    return SUR_OK;
}

/* The largest eigenvalue of T (Gershgorin bounds it), or 0 when the
 * features do not vary; *below counts the eigenvalues under the rounding
 * floor, for the smallest above it. Together the bounds of the lambda
 * grid. */
static double spectrum_top(const double *td, const double *ts, size_t m,
                           size_t *below)
{
    double gersh = 0;
    for (size_t i = 0; i < m; i++) {
        double g = fabs(td[i]) + (i ? fabs(ts[i - 1]) : 0.0) +
                   (i + 1 < m ? fabs(ts[i]) : 0.0);
        if (g > gersh)
            gersh = g;
    }
    double top = gersh > 0 ? sturm_kth(td, ts, m, m, 0.0, 1.01 * gersh) : 0.0;
    *below = top > 0 ? sturm_below(td, ts, m, SPECTRAL_FLOOR * top) : m;
    if (*below >= m || !(top > 0))
        top = 0.0; /* no variation */
    return top;
}

/* lambda: 1 without variation (the model is the weighted mean), else
 * fixed_lambda when positive, else GCV's minimum on the curve. */
static int choose_lambda(gcv_curve *curve, double top, size_t below,
                         double fixed_lambda, double *lambda)
{
    if (top == 0.0) {
        /* No variation in the features: the model is the weighted mean. */
        *lambda = 1.0;
        return SUR_OK;
    }
    if (fixed_lambda > 0) {
        *lambda = fixed_lambda;
        return SUR_OK;
    }
    /* The centering took one degree of freedom (the intercept):
     * tr(I - H) = n - 1 - sum s^2/(s^2 + l^2). */
    curve->smax = sqrt(top);
    curve->smin = sqrt(sturm_kth(curve->td, curve->ts, curve->m, below + 1,
                                 SPECTRAL_FLOOR * top, top));
    return gcv_minimize(curve, lambda);
}

/* At the chosen lambda: the coefficients, the residual variance and the
 * fit's summary in info. */
static int ridge_solve(Sur_ridge *r, const Sur_train *t, ridge_work *w,
                       const gcv_curve *curve, double lambda,
                       sur_model_info *info)
{
    const size_t n = r->n, m = r->m;
    double l2 = lambda * lambda, cz, zz, dof;
    double rss = gcv_rss(curve, l2, &cz, &zz, &dof);
    double trace = (double)n - 1.0 - dof;
    if (isnan(rss))
        return SUR_EFAILED;
    r->lambda = lambda;
    r->mu = l2;
    /* z = (T + l^2)^-1 c; the coefficients are Q z, of e - m (primal)
     * or of X (e - m) (dual: b = X^T Q z). */
    Sur_tridiag_apply_q(r->refl, r->tau, m, w->z, 1, m);
    if (r->dual) {
        r->beta[0] = 0.0;
        memcpy(r->beta + 1, w->z, m * sizeof *w->z);
        house_apply(r->h, r->tau0, n, r->beta);
    } else {
        memcpy(r->beta, w->z, m * sizeof *w->z);
    }
    /* y^T (I + X X^T / l^2)^-1 y = l^2 y^T (K + l^2)^-1 y */
    double shrunk = r->dual ? l2 * cz : w->yy - cz;
    if (shrunk < rss)
        shrunk = rss;

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
    double sigma2 = dof >= 1.0 ? rss / dof : shrunk / (double)(n - 1);
    double floor2 = 1e-12 * (w->yy / t->wsum) + 1e-300;
    r->sigma2 = sigma2 > floor2 ? sigma2 : floor2;

    info->ridge_terms = r->P;
    info->ridge_lambda = lambda;
    info->ridge_dof = trace + 1.0;
    info->ridge_sigma2 = r->sigma2;
    return SUR_OK;
}

int Sur_ridge_fit_as(const Sur_train *t, const sur_options *opt,
                     Sur_ridge_route route, double fixed_lambda,
                     Sur_ridge **out, sur_model_info *info)
{
    ridge_work w;
    Sur_ridge *r;
    int rc;

    *out = NULL;
    if (t->n < 2)
        return SUR_ETOOFEW;
    if (!(r = ridge_new(t, opt, route)))
        return SUR_ENOMEM;
    rc = work_alloc(&w, r);
    if (rc == SUR_OK) {
        gsl_matrix_view Av = gsl_matrix_view_array(r->refl, r->m, r->m);
        center_targets(t, &w);
        rc = r->dual ? setup_dual(r, t, &w, &Av.matrix)
                     : setup_primal(r, t, &w, &Av.matrix);
        if (rc == SUR_OK)
            rc = tridiagonalize(r, &w);
    }
    if (rc == SUR_OK) {
        size_t below;
        double lambda;
        r->top = spectrum_top(w.td, w.ts, r->m, &below);
        gcv_curve curve = {.free_dof = (double)t->n - 1.0 - (double)r->m,
                           .td = w.td, .ts = w.ts, .c = w.c, .m = r->m,
                           .dual = r->dual, .yy = w.yy, .y0 = w.y0,
                           .piv = r->piv, .low = r->low, .z = w.z};
        rc = choose_lambda(&curve, r->top, below, fixed_lambda, &lambda);
        if (rc == SUR_OK)
            rc = ridge_solve(r, t, &w, &curve, lambda, info);
    }
    work_free(&w);
    if (rc) {
        Sur_ridge_free(r);
        return rc;
    }
    *out = r;
    return SUR_OK;
}

/* Primal: means and leverages e^T (G + l^2 I)^-1 e of the base rows Z
 * (var may be NULL); E (rows x P) and W (rows x P) are workspace. */
static void predict_primal(const Sur_ridge *r, const double *Z, size_t rows,
                           double *E, double *W, double *mean, double *lev)
{
    const size_t P = r->P;
    for (size_t i = 0; i < rows; i++) {
        double *e = E + i * P;
        expand_row(r, Z + i * r->d, e);
        double acc = r->ybar;
        for (size_t k = 0; k < P; k++) {
            e[k] -= r->mean[k];
            acc += e[k] * r->beta[k];
        }
        mean[i] = acc;
    }
    if (!lev)
        return;
    memcpy(W, E, rows * P * sizeof *W);
    Sur_tridiag_apply_qt(r->refl, r->tau, P, W, rows, P);
    for (size_t i = 0; i < rows; i++)
        lev[i] = Sur_tridiag_quad(r->piv, r->low, P, W + i * P);
}

/* ||(e - m) - X^T a||^2 for the base row zr, a in dual coordinates; e and
 * tmp are P workspace. With X's rows sqrt(w_j) (e_j - m) and m =
 * sum_j w_j e_j / W this is ||e - sum_j g_j e_j||^2, g_j = sqrt(w_j) a_j +
 * (1 - sum_i sqrt(w_i) a_i) w_j / W. */
static double dual_residual(const Sur_ridge *r, const double *zr,
                            const double *a, double *e, double *tmp)
{
    const size_t n = r->n, P = r->P;
    double sa = 0;
    for (size_t j = 0; j < n; j++)
        sa += sqrt(r->w[j]) * a[j];
    expand_row(r, zr, tmp);
    for (size_t j = 0; j < n; j++) {
        double g = sqrt(r->w[j]) * a[j] + (1.0 - sa) * r->w[j] * r->inv_wsum;
        expand_row(r, r->z + j * r->d, e);
        for (size_t k = 0; k < P; k++)
            tmp[k] -= g * e[k];
    }
    double res = 0;
    for (size_t k = 0; k < P; k++)
        res += tmp[k] * tmp[k];
    return res;
}

/* Dual: the same from kernel rows. W (rows x n) and E (2 P) workspace. */
static void predict_dual(const Sur_ridge *r, const double *Z, size_t rows,
                         double *E, double *W, double *mean, double *lev)
{
    const size_t n = r->n;
    double ee[PREDICT_CHUNK];
    for (size_t i = 0; i < rows; i++) {
        double *k = W + i * n, acc = r->ybar;
        ee[i] = dual_row(r, Z + i * r->d, E, k);
        for (size_t j = 0; j < n; j++)
            acc += r->beta[j] * k[j];
        mean[i] = acc;
    }
    if (!lev)
        return;
    /* f = min_a ||e - X^T a||^2 + l^2 ||a||^2 = e^T e - k^T (K + l^2)^-1 k
     * at a = (K + l^2)^-1 k = H0 [0; Q z], z = (T + l^2)^-1 Q^T (H0 k)_1..
     * ((H0 k)_0 = sqrt(w) . X e / |sqrt(w)| = 0). */
    const size_t m = r->m;
    for (size_t i = 0; i < rows; i++)
        house_apply(r->h, r->tau0, n, W + i * n);
    Sur_tridiag_apply_qt(r->refl, r->tau, m, W + 1, rows, n);
    for (size_t i = 0; i < rows; i++) {
        double *w = W + i * n + 1;
        double kq = Sur_tridiag_solve(r->piv, r->low, m, w, w);
        double zz = 0;
        for (size_t j = 0; j < m; j++)
            zz += w[j] * w[j];
        /* The short form e^T e - kq is exact up to the rounding of kq,
         * about n eps top z^T z (the backward error of the reduction
         * times the solution, squared), and of the difference. Where
         * that is not a millionth of the result, the long form. */
        double f = ee[i] - kq;
        double err = (double)n * DBL_EPSILON * r->top * zz +
                     2.0 * DBL_EPSILON * fabs(ee[i]);
        if (f > 1e6 * err) {
            lev[i] = f / r->mu;
            continue;
        }
        Sur_tridiag_apply_q(r->refl, r->tau, m, w, 1, m);
        w[-1] = 0.0;
        house_apply(r->h, r->tau0, n, w - 1);
        double res = dual_residual(r, Z + i * r->d, w - 1, E, E + r->P);
        lev[i] = zz + res / r->mu; /* ||a||^2 = ||z||^2, Q orthogonal */
    }
}

int Sur_ridge_predict(const Sur_ridge *r, const double *z, size_t n,
                      double *mean, double *var_latent)
{
    const size_t P = r->P;
    size_t chunk = n < PREDICT_CHUNK ? n : PREDICT_CHUNK;
    if (n == 0)
        return SUR_OK;
    size_t wcols = r->dual ? r->n : P;
    double *E = malloc((r->dual ? 2 * P + r->n : chunk * P) * sizeof *E);
    double *W = r->dual || var_latent ? malloc(chunk * wcols * sizeof *W)
                                      : NULL;
    if (!E || ((r->dual || var_latent) && !W)) {
        free(E);
        free(W);
        return SUR_ENOMEM;
    }
    for (size_t lo = 0; lo < n; lo += chunk) {
        size_t rows = n - lo < chunk ? n - lo : chunk;
        double *lev = var_latent ? var_latent + lo : NULL;
        if (r->dual)
            predict_dual(r, z + lo * r->d, rows, E, W, mean + lo, lev);
        else
            predict_primal(r, z + lo * r->d, rows, E, W, mean + lo, lev);
        if (lev)
            for (size_t i = 0; i < rows; i++)
                lev[i] = r->sigma2 * (r->inv_wsum + lev[i]);
    }
    free(E);
    free(W);
    return SUR_OK;
}

/*
 * sur_tridiag.c — symmetric tridiagonal reduction and the tridiagonal
 * solves built on it, shared by the ridge (its lambda curve) and the GP
 * (its noise profile): once A = Q T Q^T is known, every shift T + mu I is
 * factored in O(m), so a whole curve in mu costs one O(m^3) reduction.
 */
#include "sur_internal.h"

#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_linalg.h>
#include <gsl/gsl_vector.h>

/*
 * The reduction of gsl_linalg_symmtd_decomp (GSL's symmtd.c: for each
 * column i, the Householder vector v of A[i+1.., i] by
 * gsl_linalg_householder_transform, then x = tau B v, w = x - tau/2
 * (x . v) v, B -= v w^T + w v^T on the trailing block B), with the same
 * output layout, but its two level-2 products (dsymv, dsyr2 in gslcblas,
 * which runs them one multiply-add at a time) written as loops over
 * contiguous rows of the lower triangle that the compiler vectorizes:
 * two to three times faster at m = 240..665. A is m x m row-major, lower
 * triangle read and written; tau has m - 1 entries (the last 0); work is
 * 2 m.
 */
int Sur_tridiag_reduce(double *A, size_t m, double *tau, double *work)
{
    if (m < 2)
        return SUR_OK;
    tau[m - 2] = 0.0;
    for (size_t i = 0; i + 2 < m; i++) {
        const size_t L = m - i - 1; /* trailing block B = A[i+1.., i+1..] */
        double *v = work, *x = work + L;
        for (size_t k = 0; k < L; k++)
            v[k] = A[(i + 1 + k) * m + i];
        gsl_vector_view vv = gsl_vector_view_array(v, L);
        const double t = gsl_linalg_householder_transform(&vv.vector);
        for (size_t k = 0; k < L; k++)
            A[(i + 1 + k) * m + i] = v[k];
        tau[i] = t;
        if (t == 0.0)
            continue;
        v[0] = 1.0;
        /* x = t B v from the lower triangle: row r gives x_r its part
         * left of and on the diagonal and x_c (c < r) B_rc v_r. */
        memset(x, 0, L * sizeof *x);
        for (size_t r = 0; r < L; r++) {
            const double *b = A + (i + 1 + r) * m + (i + 1);
            const double vr = v[r];
            double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            size_t c = 0;
            for (; c + 4 <= r; c += 4) {
                s0 += b[c] * v[c];
                s1 += b[c + 1] * v[c + 1];
                s2 += b[c + 2] * v[c + 2];
                s3 += b[c + 3] * v[c + 3];
                x[c] += b[c] * vr;
                x[c + 1] += b[c + 1] * vr;
                x[c + 2] += b[c + 2] * vr;
                x[c + 3] += b[c + 3] * vr;
            }
            for (; c < r; c++) {
                s0 += b[c] * v[c];
                x[c] += b[c] * vr;
            }
            x[r] += (s0 + s1) + (s2 + s3) + b[r] * vr;
        }
        double xv = 0;
        for (size_t k = 0; k < L; k++) {
            x[k] *= t;
            xv += x[k] * v[k];
        }
        const double half = 0.5 * t * xv;
        for (size_t k = 0; k < L; k++)
            x[k] -= half * v[k];
        /* B -= v x^T + x v^T, lower triangle */
        for (size_t r = 0; r < L; r++) {
            double *b = A + (i + 1 + r) * m + (i + 1);
            const double vr = v[r], xr = x[r];
            for (size_t c = 0; c <= r; c++)
                b[c] -= vr * x[c] + xr * v[c];
        }
    }
    return SUR_OK;
}

/* T + mu I = L D L^T for T symmetric tridiagonal (diagonal td, subdiagonal
 * ts), mu > 0: pivots piv (D) and subdiagonal low (L). T is positive
 * semidefinite, so the pivots are positive down to rounding; one that is
 * not (mu below the rounding of T) is reported. */
int Sur_tridiag_ldl(const double *td, const double *ts, size_t m, double mu,
                    double *piv, double *low)
{
    piv[0] = td[0] + mu;
    for (size_t i = 1; i < m; i++) {
        if (!(piv[i - 1] > 0))
            return -1;
        low[i - 1] = ts[i - 1] / piv[i - 1];
        piv[i] = td[i] + mu - low[i - 1] * ts[i - 1];
    }
    return piv[m - 1] > 0 ? 0 : -1;
}

/* x = (L D L^T)^-1 b (x may be b); returns b^T x. */
double Sur_tridiag_solve(const double *piv, const double *low, size_t m,
                         const double *b, double *x)
{
    double bx = 0;
    x[0] = b[0];
    for (size_t i = 1; i < m; i++)
        x[i] = b[i] - low[i - 1] * x[i - 1];
    for (size_t i = 0; i < m; i++) {
        bx += x[i] * x[i] / piv[i];
        x[i] /= piv[i];
    }
    for (size_t i = m - 1; i-- > 0;)
        x[i] -= low[i] * x[i + 1];
    return bx;
}

/* b^T (L D L^T)^-1 b, without the solution. */
double Sur_tridiag_quad(const double *piv, const double *low, size_t m,
                        const double *b)
{
    double prev = b[0], q = b[0] * b[0] / piv[0];
    for (size_t i = 1; i < m; i++) {
        prev = b[i] - low[i - 1] * prev;
        q += prev * prev / piv[i];
    }
    return q;
}

/*
 * Q = H_0 H_1 ... H_{m-3}, H_i = I - tau_i v_i v_i^T acting on entries
 * i + 1 .. m - 1 (gsl_linalg_symmtd_decomp's layout, one vector per row of
 * refl, see Sur_tridiag_split). Sur_tridiag_apply_qt replaces each of the rows of V (rows x m, row stride ld)
 * by Q^T row, Sur_tridiag_apply_q by Q row. The reflector is the outer loop so that it
 * stays in cache while it passes over all rows.
 */
static void reflect(const double *v, double tau, size_t i, size_t m,
                    double *x)
{
    double s0 = x[i + 1], s1 = 0, s2 = 0, s3 = 0;
    size_t k = i + 2;
    for (; k + 4 <= m; k += 4) {
        s0 += v[k] * x[k];
        s1 += v[k + 1] * x[k + 1];
        s2 += v[k + 2] * x[k + 2];
        s3 += v[k + 3] * x[k + 3];
    }
    for (; k < m; k++)
        s0 += v[k] * x[k];
    double s = tau * ((s0 + s1) + (s2 + s3));
    x[i + 1] -= s;
    for (size_t k = i + 2; k < m; k++)
        x[k] -= s * v[k];
}

/* The same on four rows at once: four independent sums per pass. */
static void reflect4(const double *v, double tau, size_t i, size_t m,
                     double *x0, double *x1, double *x2, double *x3)
{
    double s0 = x0[i + 1], s1 = x1[i + 1], s2 = x2[i + 1], s3 = x3[i + 1];
    for (size_t k = i + 2; k < m; k++) {
        s0 += v[k] * x0[k];
        s1 += v[k] * x1[k];
        s2 += v[k] * x2[k];
        s3 += v[k] * x3[k];
    }
    s0 *= tau;
    s1 *= tau;
    s2 *= tau;
    s3 *= tau;
    x0[i + 1] -= s0;
    x1[i + 1] -= s1;
    x2[i + 1] -= s2;
    x3[i + 1] -= s3;
    for (size_t k = i + 2; k < m; k++) {
        x0[k] -= s0 * v[k];
        x1[k] -= s1 * v[k];
        x2[k] -= s2 * v[k];
        x3[k] -= s3 * v[k];
    }
}

static void reflect_rows(const double *refl, const double *tau, size_t i,
                         size_t m, double *V, size_t rows, size_t ld)
{
    if (tau[i] == 0.0)
        return;
    const double *v = refl + i * m;
    size_t j = 0;
    for (; j + 4 <= rows; j += 4)
        reflect4(v, tau[i], i, m, V + j * ld, V + (j + 1) * ld,
                 V + (j + 2) * ld, V + (j + 3) * ld);
    for (; j < rows; j++)
        reflect(v, tau[i], i, m, V + j * ld);
}

void Sur_tridiag_apply_qt(const double *refl, const double *tau, size_t m,
                     double *V, size_t rows, size_t ld)
{
    for (size_t i = 0; i + 2 < m; i++)
        reflect_rows(refl, tau, i, m, V, rows, ld);
}

void Sur_tridiag_apply_q(const double *refl, const double *tau, size_t m,
                    double *V, size_t rows, size_t ld)
{
    for (size_t i = m < 2 ? 0 : m - 2; i-- > 0;)
        reflect_rows(refl, tau, i, m, V, rows, ld);
}

/* After Sur_tridiag_reduce(A, m, tau, ..): T into td (m) and ts (m - 1);
 * Householder vector i from column i below the subdiagonal to row i right
 * of the superdiagonal, which the reduction leaves alone, so that each is
 * contiguous for Sur_tridiag_apply_qt and _q; then c = Q^T c (m). */
void Sur_tridiag_split(double *A, size_t m, const double *tau, double *td,
                       double *ts, double *c)
{
    for (size_t i = 0; i < m; i++) {
        td[i] = A[i * m + i];
        if (i + 1 < m)
            ts[i] = A[(i + 1) * m + i];
        double *v = A + i * m;
        for (size_t k = i + 2; k < m; k++)
            v[k] = A[k * m + i];
    }
    Sur_tridiag_apply_qt(A, tau, m, c, 1, m);
}

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

/* x = Q^T x for the reflectors that Sur_tridiag_reduce left in A (GSL's
 * layout: reflector i in column i below the subdiagonal, its leading 1
 * implicit): H_0 first, H_{m-3} last. */
void Sur_tridiag_qt(const double *A, size_t m, const double *tau, double *x)
{
    for (size_t i = 0; i + 2 < m; i++) {
        if (tau[i] == 0.0)
            continue;
        double s = x[i + 1];
        for (size_t k = i + 2; k < m; k++)
            s += A[k * m + i] * x[k];
        s *= tau[i];
        x[i + 1] -= s;
        for (size_t k = i + 2; k < m; k++)
            x[k] -= s * A[k * m + i];
    }
}

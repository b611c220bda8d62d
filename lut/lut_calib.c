/*
 * lut_calib.c — the end-to-end calibration maps and their leave-one-out
 * choice (see lut_calib.h).
 */
#include "lut_calib.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>

#define PMAX 3
#define MARGIN 0.98 /* a richer model must score below 98 % of a simpler one */
/* ... and lower it by more than this much: where a simpler model is exact,
 * both scores are rounding noise, and noise must not pick the richer. */
#define MARGIN_ABS 1e-9

static const size_t model_p[LUT_CAL_MODELS] = {0, 1, 2, 3};

const char *lut_calib_model_name(lut_calib_model m)
{
    static const char *const names[LUT_CAL_MODELS] = {"identity", "scale", "affine", "affine_layers"};
    return (unsigned)m < LUT_CAL_MODELS ? names[m] : "identity";
}

/* The features of a network under model m: scale (r), affine (1, r),
 * affine_layers (1, r, L). */
static size_t features(lut_calib_model m, double r, double l, double x[PMAX])
{
    switch (m) {
    case LUT_CAL_SCALE:
        x[0] = r;
        return 1;
    case LUT_CAL_AFFINE:
        x[0] = 1, x[1] = r;
        return 2;
    case LUT_CAL_AFFINE_LAYERS:
        x[0] = 1, x[1] = r, x[2] = l;
        return 3;
    default:
        return 0;
    }
}

/* Weighted least squares of y on the features of m, weights 1/y^2, with
 * skip (or SIZE_MAX) left out; beta and C = (X'WX)^-1. */
static int solve(lut_calib_model m, const double *raw, const double *layers, const double *y,
                 size_t n, size_t skip, double beta[PMAX], double c[PMAX * PMAX])
{
    size_t p = model_p[m];
    double a[PMAX * PMAX] = {0}, rhs[PMAX] = {0}, x[PMAX];
    for (size_t i = 0; i < n; i++) {
        if (i == skip)
            continue;
        double w = 1 / (y[i] * y[i]);
        features(m, raw[i], layers[i], x);
        for (size_t j = 0; j < p; j++) {
            rhs[j] += w * x[j] * y[i];
            for (size_t k = 0; k < p; k++)
                a[j * p + k] += w * x[j] * x[k];
        }
    }
    gsl_matrix_view A = gsl_matrix_view_array(a, p, p);
    if (gsl_linalg_cholesky_decomp1(&A.matrix) != GSL_SUCCESS ||
        gsl_linalg_cholesky_invert(&A.matrix) != GSL_SUCCESS)
        return LUT_EINVAL;
    for (size_t j = 0; j < p; j++) {
        beta[j] = 0;
        for (size_t k = 0; k < p; k++)
            beta[j] += a[j * p + k] * rhs[k];
        if (!isfinite(beta[j]))
            return LUT_EINVAL;
    }
    memcpy(c, a, p * p * sizeof *a);
    return LUT_OK;
}

static double dot(const double *a, const double *b, size_t p)
{
    double s = 0;
    for (size_t i = 0; i < p; i++)
        s += a[i] * b[i];
    return s;
}

int lut_calib_loo(lut_calib_model m, const double *raw, const double *layers,
                  const double *measured, size_t n, int brute, double *out)
{
    size_t p = (unsigned)m < LUT_CAL_MODELS ? model_p[m] : 0;
    double beta[PMAX], c[PMAX * PMAX], x[PMAX];
    if (!raw || !layers || !measured || !out || (unsigned)m >= LUT_CAL_MODELS)
        return LUT_EINVAL;
    gsl_set_error_handler_off();
    if (m == LUT_CAL_IDENTITY) {
        memcpy(out, raw, n * sizeof *out);
        return LUT_OK;
    }
    if (n < p + 1 || solve(m, raw, layers, measured, n, SIZE_MAX, beta, c))
        return LUT_EINVAL;
    for (size_t i = 0; i < n; i++) {
        features(m, raw[i], layers[i], x);
        if (brute) {
            double b[PMAX], cc[PMAX * PMAX];
            if (solve(m, raw, layers, measured, n, i, b, cc))
                return LUT_EINVAL;
            out[i] = dot(b, x, p);
            continue;
        }
        /* h_i = w_i x_i' C x_i; the held-out residual is e_i / (1 - h_i). */
        double cx[PMAX] = {0};
        for (size_t j = 0; j < p; j++)
            for (size_t k = 0; k < p; k++)
                cx[j] += c[j * p + k] * x[k];
        double h = dot(x, cx, p) / (measured[i] * measured[i]);
        double e = measured[i] - dot(beta, x, p);
        out[i] = measured[i] - e / (h < 1 - 1e-12 ? 1 - h : 1e-12);
    }
    return LUT_OK;
}

/* Relative RMSE and the share within +-10 % of predictions pred. */
static void score(const double *pred, const double *y, size_t n, double *rmse, double *within)
{
    double ss = 0;
    size_t in = 0;
    for (size_t i = 0; i < n; i++) {
        double e = pred[i] / y[i] - 1;
        ss += e * e;
        in += fabs(e) <= 0.10;
    }
    *rmse = n ? sqrt(ss / (double)n) : 0;
    *within = n ? (double)in / (double)n : 0;
}

int lut_calib_fit(const double *raw, const double *layers, const double *measured, size_t n,
                  lut_calib *out)
{
    if (!raw || !layers || !measured || !out)
        return LUT_EINVAL;
    memset(out, 0, sizeof *out);
    out->coef[1] = 1;
    size_t m = 0;
    double *r = malloc((n ? n : 1) * 4 * sizeof *r);
    if (!r)
        return LUT_ENOMEM;
    double *l = r + n, *y = l + n, *pred = y + n;
    for (size_t i = 0; i < n; i++)
        if (raw[i] > 0 && measured[i] > 0 && isfinite(raw[i]) && isfinite(measured[i]) &&
            isfinite(layers[i]))
            r[m] = raw[i], l[m] = layers[i], y[m] = measured[i], m++;
    out->networks = m;
    score(r, y, m, &out->raw_rel_rmse, &out->raw_within10);
    out->cv_rel_rmse = out->raw_rel_rmse;
    out->cv_within10 = out->raw_within10;
    for (int k = LUT_CAL_SCALE; k < LUT_CAL_MODELS; k++) {
        double rmse, within, beta[PMAX], c[PMAX * PMAX];
        if (m < model_p[k] + 3 || lut_calib_loo((lut_calib_model)k, r, l, y, m, 0, pred))
            continue;
        score(pred, y, m, &rmse, &within);
        if (!(rmse < MARGIN * out->cv_rel_rmse - MARGIN_ABS) ||
            solve((lut_calib_model)k, r, l, y, m, SIZE_MAX, beta, c))
            continue;
        out->model = (lut_calib_model)k;
        out->cv_rel_rmse = rmse;
        out->cv_within10 = within;
        double x[PMAX] = {0};
        size_t p = features((lut_calib_model)k, 1, 1, x);
        memset(out->coef, 0, sizeof out->coef);
        /* coef is (a, b, c) whatever the model's own order. */
        if (k == LUT_CAL_SCALE)
            out->coef[1] = beta[0];
        else
            for (size_t j = 0; j < p; j++)
                out->coef[j] = beta[j];
    }
    free(r);
    return LUT_OK;
}

double lut_calib_apply(const lut_calib *c, double raw, double layers)
{
    return c->coef[0] + c->coef[1] * raw + c->coef[2] * layers;
}

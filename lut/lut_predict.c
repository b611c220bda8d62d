/*
 * lut_predict.c — robust log-log fits of a device's rows per op kind, with
 * closed-form leave-one-out errors (see lut_predict.h).
 *
 * A fit: GSL's bisquare robust regression gives the final weights w; the
 * coefficients are then those of the weighted least squares with these
 * weights: the intercept free, the slopes on centred features through
 * C = (Xc'WXc + lambda I)^-1 (a tiny fixed ridge keeps collinear features,
 * such as bytes in and MACs of a 1x1 convolution, solvable). The leverage
 * of row i is h_i = w_i (1/sum(w) + xc_i' C xc_i) and its leave-one-out
 * residual r_i / (1 - h_i), exact for a fixed quadratic penalty.
 */
#include "lut_predict.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_multifit.h>

#include "gap8_model.h"

#define PMAX 7         /* features of the full fit with the GAP8 prior */
#define P_SMALL 2      /* intercept and log work */
#define ROWS_PER_FEATURE 3
/* The ridges tried on the slopes, on features standardized over all the
 * device's rows; each fit takes the one of least leave-one-out error
 * (closed form), then keeps it fixed, so its own leave-one-out stays
 * exact. A ridge tames the near-collinear directions (bytes in and out,
 * MACs and weights of a 1x1 convolution are almost functions of each
 * other) that would otherwise take huge opposite coefficients and explode
 * on a key a little off the rows' span; on clean data the smallest wins. */
static const double ridges[] = {1e-6, 1e-3, 1e-2, 0.1, 1.0, 10.0};
#define RIDGES (sizeof ridges / sizeof ridges[0])

typedef struct pfit {
    int ok;
    size_t p;
    double beta[PMAX];
    double mean[PMAX];       /* weighted feature means (mean[0] unused) */
    double cov[PMAX * PMAX]; /* (Xc'WXc + lambda I)^-1 over the slopes */
    double sw;               /* sum of the weights */
    double ridge;            /* the ridge chosen */
    double s2;               /* weighted residual variance (log space) */
} pfit;

struct lut_predictor {
    int gap8;
    double center[PMAX], scale[PMAX]; /* feature standardization */
    pfit kind[LUT_PK_KINDS];
    pfit pooled, small;
    lut_predict_model use[LUT_PK_KINDS];
    lut_predict_accuracy acc[LUT_PK_KINDS + 1];
    /* The local correction: each usable row's families and its residual
     * under the fit its kind uses; use_family[k] when it helps kind k. */
    int use_family[LUT_PK_KINDS];
    size_t nres;
    uint64_t *fam_a, *fam_b;
    double *resid;
};

static const char *const kind_names[LUT_PK_KINDS] = {
    "conv_dw", "conv_1x1", "conv_kxk", "conv_grouped", "pool",
    "linear", "elementwise", "upsample", "other"};

const char *lut_predict_kind_name(lut_predict_kind kind)
{
    return (unsigned)kind < LUT_PK_KINDS ? kind_names[kind] : "all";
}

const char *lut_predict_model_name(lut_predict_model m)
{
    static const char *const names[] = {"none", "kind", "pooled", "small"};
    return (unsigned)m < 4 ? names[m] : "none";
}

lut_predict_kind lut_predict_kind_of(const lut_key *key)
{
    if (!strcmp(key->op, "conv2d")) {
        if (key->groups > 1 && key->groups == key->cin && key->groups == key->cout)
            return LUT_PK_CONV_DW;
        if (key->groups > 1)
            return LUT_PK_CONV_GROUPED;
        return key->k == 1 ? LUT_PK_CONV_1X1 : LUT_PK_CONV_KXK;
    }
    if (!strcmp(key->op, "linear"))
        return LUT_PK_LINEAR;
    if (!strcmp(key->op, "avgpool") || !strcmp(key->op, "maxpool") ||
        !strcmp(key->op, "global_avgpool"))
        return LUT_PK_POOL;
    if (!strcmp(key->op, "add") || !strcmp(key->op, "relu") || !strcmp(key->op, "concat"))
        return LUT_PK_ELEMENTWISE;
    if (!strcmp(key->op, "upsample"))
        return LUT_PK_UPSAMPLE;
    return LUT_PK_OTHER;
}

static double dtype_bytes(const char *dtype)
{
    if (!strcmp(dtype, "fp16") || !strcmp(dtype, "bf16") || !strcmp(dtype, "int16"))
        return 2;
    if (!strncmp(dtype, "fp8", 3) || !strcmp(dtype, "int8") || !strcmp(dtype, "uint8"))
        return 1;
    if (!strcmp(dtype, "fp64"))
        return 8;
    if (!strcmp(dtype, "int4") || !strcmp(dtype, "uint4"))
        return 0.5;
    return 4;
}

/* The features of a key (x[0] = 1), or 0 when it has none. */
static int features(int gap8, const lut_key *key, double x[PMAX], size_t *p)
{
    lut_cost c;
    if (lut_predict_kind_of(key) == LUT_PK_OTHER || lut_key_cost(key, &c, NULL) != LUT_OK)
        return 0;
    double b = dtype_bytes(key->dtype);
    double in = (double)key->cin * (double)key->h * (double)key->w;
    double out = (double)c.out_c * (double)c.out_h * (double)c.out_w;
    double work = c.macs ? (double)c.macs : in + out;
    double cout = c.out_c > 0 ? (double)c.out_c : 1;
    x[0] = 1;
    x[1] = log(work + 1);
    x[2] = log(in * b + 1);
    x[3] = log(out * b + 1);
    x[4] = log((double)c.params * b + 1);
    x[5] = log(ceil(cout / 8) * 8 / cout);
    *p = 6;
    x[6] = 0;
    if (gap8) {
        lut_gap8_layer g;
        double cyc = lut_gap8_layer_from_key(key, &g, NULL) == LUT_OK ? lut_gap8_cycles(&g, NULL) : 0;
        x[6] = log(cyc > 1 ? cyc : 1);
        *p = 7;
    }
    return 1;
}

/* x' C x over the slopes (features 1..p-1, centred by mean). */
static double quad(const pfit *f, const double *x)
{
    double s = 0;
    size_t m = f->p - 1;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < m; j++)
            s += (x[i + 1] - f->mean[i + 1]) * f->cov[i * m + j] * (x[j + 1] - f->mean[j + 1]);
    return s;
}

/* The leverage-like term of x: 1/sum(w) + x' C x (centred). */
static double spread(const pfit *f, const double *x)
{
    return 1 / f->sw + quad(f, x);
}

static double predict_log(const pfit *f, const double *x)
{
    double yh = f->beta[0];
    for (size_t i = 1; i < f->p; i++)
        yh += x[i] * f->beta[i];
    return yh;
}

/* Weighted least squares with fixed weights w of the n rows of X (row
 * stride PMAX, first p columns, column 0 the intercept): the slopes on
 * centred features with a tiny ridge (so collinear features stay
 * solvable and adding a constant to y moves the intercept alone); fills
 * beta, mean, cov, sw, s2 and ridge. */
static int wls(const double *X, const double *y, const double *w, size_t n, size_t p,
               double ridge, pfit *f)
{
    double a[PMAX * PMAX] = {0}, rhs[PMAX] = {0}, sw = 0, ybar = 0;
    size_t m = p - 1;
    memset(f->mean, 0, sizeof f->mean);
    for (size_t r = 0; r < n; r++) {
        sw += w[r];
        ybar += w[r] * y[r];
        for (size_t i = 1; i < p; i++)
            f->mean[i] += w[r] * X[r * PMAX + i];
    }
    if (!(sw > 0))
        return -1;
    ybar /= sw;
    for (size_t i = 1; i < p; i++)
        f->mean[i] /= sw;
    for (size_t r = 0; r < n; r++) {
        const double *x = X + r * PMAX;
        for (size_t i = 0; i < m; i++) {
            double xi = x[i + 1] - f->mean[i + 1];
            rhs[i] += w[r] * xi * (y[r] - ybar);
            for (size_t j = 0; j < m; j++)
                a[i * m + j] += w[r] * xi * (x[j + 1] - f->mean[j + 1]);
        }
    }
    for (size_t i = 0; i < m; i++)
        a[i * m + i] += ridge;
    if (m) {
        gsl_matrix_view A = gsl_matrix_view_array(a, m, m);
        if (gsl_linalg_cholesky_decomp1(&A.matrix) != GSL_SUCCESS ||
            gsl_linalg_cholesky_invert(&A.matrix) != GSL_SUCCESS)
            return -1;
    }
    memcpy(f->cov, a, m * m * sizeof *a);
    f->beta[0] = ybar;
    for (size_t i = 0; i < m; i++) {
        f->beta[i + 1] = 0;
        for (size_t j = 0; j < m; j++)
            f->beta[i + 1] += a[i * m + j] * rhs[j];
        f->beta[0] -= f->beta[i + 1] * f->mean[i + 1];
    }
    f->p = p;
    f->sw = sw;
    f->ridge = ridge;
    double ss = 0;
    for (size_t r = 0; r < n; r++) {
        double e = y[r] - predict_log(f, X + r * PMAX);
        ss += w[r] * e * e;
    }
    f->s2 = ss / (sw > (double)p + 1 ? sw - (double)p : 1);
    f->ok = 1;
    return 0;
}

/* Bisquare weights of the robust fit (all 1 when GSL cannot fit). */
static void robust_weights(const double *X, const double *y, size_t n, size_t p, double *w)
{
    for (size_t r = 0; r < n; r++)
        w[r] = 1;
    gsl_matrix *m = gsl_matrix_alloc(n, p);
    gsl_vector *v = gsl_vector_alloc(n), *c = gsl_vector_alloc(p);
    gsl_matrix *cov = gsl_matrix_alloc(p, p);
    gsl_multifit_robust_workspace *ws = gsl_multifit_robust_alloc(gsl_multifit_robust_bisquare, n, p);
    if (m && v && c && cov && ws) {
        for (size_t r = 0; r < n; r++) {
            for (size_t i = 0; i < p; i++)
                gsl_matrix_set(m, r, i, X[r * PMAX + i]);
            gsl_vector_set(v, r, y[r]);
        }
        int rc = gsl_multifit_robust(m, v, c, cov, ws);
        gsl_multifit_robust_stats st = gsl_multifit_robust_statistics(ws);
        /* Rows on an exact law leave no scale to weigh residuals by. */
        if ((rc == GSL_SUCCESS || rc == GSL_EMAXITER) && st.sigma > 1e-9) {
            for (size_t r = 0; r < n && st.weights; r++) {
                double wr = gsl_vector_get(st.weights, r);
                w[r] = isfinite(wr) && wr >= 0 ? wr : 0;
            }
        }
    }
    gsl_multifit_robust_free(ws);
    gsl_matrix_free(cov);
    gsl_vector_free(c);
    gsl_vector_free(v);
    gsl_matrix_free(m);
}

/* The weighted fit at the ridge of least weighted leave-one-out squared
 * error (closed form) into f; -1 when no ridge solves. */
static int choose_ridge(const double *X, const double *y, const double *w, size_t n, size_t p,
                        pfit *f)
{
    double best = INFINITY;
    int found = 0;
    for (size_t k = 0; k < RIDGES; k++) {
        pfit g;
        double ss = 0;
        if (wls(X, y, w, n, p, ridges[k], &g))
            continue;
        for (size_t r = 0; r < n; r++) {
            double h = w[r] * spread(&g, X + r * PMAX);
            double e = (y[r] - predict_log(&g, X + r * PMAX)) / (h < 1 - 1e-9 ? 1 - h : 1e-9);
            ss += w[r] * e * e;
        }
        if (ss < best * (1 - 1e-9)) {
            best = ss;
            *f = g;
            found = 1;
        }
    }
    return found ? 0 : -1;
}

/* Fit the n rows, with leave-one-out log predictions in loo (may be NULL):
 * closed form, or (brute) a refit without each row at the same weights. */
static int fit(const double *X, const double *y, size_t n, size_t p, pfit *f, double *loo,
               int brute)
{
    memset(f, 0, sizeof *f);
    if (n < p * ROWS_PER_FEATURE || n < p + 2)
        return -1;
    double *w = malloc(n * sizeof *w);
    if (!w)
        return -1;
    robust_weights(X, y, n, p, w);
    int rc = choose_ridge(X, y, w, n, p, f);
    for (size_t r = 0; !rc && loo && r < n; r++) {
        const double *x = X + r * PMAX;
        double yh = predict_log(f, x);
        if (!brute) {
            double h = w[r] * spread(f, x);
            loo[r] = y[r] - (y[r] - yh) / (h < 1 - 1e-9 ? 1 - h : 1e-9);
            continue;
        }
        pfit g;
        double keep = w[r];
        w[r] = 0;
        loo[r] = wls(X, y, w, n, p, f->ridge, &g) ? NAN : predict_log(&g, x);
        w[r] = keep;
    }
    free(w);
    if (rc)
        f->ok = 0;
    return rc;
}

/*
 * The two families of a key: the same layer but for its output channels
 * (a), or but for its input channels (b); a depthwise convolution's
 * channels vary together, so both of its families drop all three. Rows of
 * one family share what the features do not see (a library's kernel choice
 * for one channel count, a dilation's cost), so the mean residual of a
 * key's family corrects its prediction (the local correction).
 */
static void families(const lut_key *key, uint64_t *a, uint64_t *b)
{
    lut_key k = *key;
    int dw = lut_predict_kind_of(key) == LUT_PK_CONV_DW;
    k.cout = 0;
    if (dw)
        k.cin = k.groups = 0;
    *a = lut_key_hash(&k);
    k = *key;
    k.cin = 0;
    if (dw)
        k.cout = k.groups = 0;
    *b = lut_key_hash(&k) ^ UINT64_C(0x9e3779b97f4a7c15);
}

/* The mean residual of the family of (a, b) over rows (skip left out):
 * family a first, else b; 0 with *found 0 when neither has a row. */
static double family_residual(const uint64_t *fa, const uint64_t *fb, const double *resid,
                              size_t n, size_t skip, uint64_t a, uint64_t b, int *found)
{
    double sa = 0, sb = 0;
    size_t na = 0, nb = 0;
    for (size_t j = 0; j < n; j++) {
        if (j == skip || isnan(resid[j]))
            continue;
        if (fa[j] == a)
            sa += resid[j], na++;
        if (fb[j] == b)
            sb += resid[j], nb++;
    }
    *found = na || nb;
    return na ? sa / (double)na : nb ? sb / (double)nb : 0;
}

/* The usable rows: features X (stride PMAX), log latency y and kind. */
typedef struct design {
    double *X, *y;
    lut_predict_kind *kind;
    size_t n, p;
    double center[PMAX], scale[PMAX]; /* x' = (x - center) / scale, columns 1.. */
    uint64_t *fam_a, *fam_b; /* families (see families()) */
} design;

/* Standardize x (a feature row) as the design's columns were. */
static void standardize(const double *center, const double *scale, double *x)
{
    for (size_t i = 1; i < PMAX; i++)
        x[i] = (x[i] - center[i]) / scale[i];
}

/* The columns' mean and standard deviation over the rows, then every row
 * standardized by them (a column that does not vary keeps scale 1). */
static void design_standardize(design *d)
{
    for (size_t i = 0; i < PMAX; i++) {
        double m = 0, v = 0;
        for (size_t r = 0; r < d->n; r++)
            m += d->X[r * PMAX + i];
        m = d->n ? m / (double)d->n : 0;
        for (size_t r = 0; r < d->n; r++)
            v += (d->X[r * PMAX + i] - m) * (d->X[r * PMAX + i] - m);
        v = d->n > 1 ? sqrt(v / (double)(d->n - 1)) : 0;
        d->center[i] = i ? m : 0;
        d->scale[i] = i && v > 1e-12 ? v : 1;
    }
    for (size_t r = 0; r < d->n; r++)
        standardize(d->center, d->scale, d->X + r * PMAX);
}

static void design_free(design *d)
{
    free(d->fam_a);
    free(d->fam_b);
    free(d->X);
    free(d->y);
    free(d->kind);
}

static int is_gap8(const lut_device *dev)
{
    return dev && (!strcmp(dev->unit, "cycles") || !strncmp(dev->kind, "gap8", 4) ||
                   !strncmp(dev->name, "gap8", 4));
}

static int design_build(int gap8, const lut_entry *rows, size_t n, design *d)
{
    memset(d, 0, sizeof *d);
    d->X = malloc((n ? n : 1) * PMAX * sizeof *d->X);
    d->y = malloc((n ? n : 1) * sizeof *d->y);
    d->kind = malloc((n ? n : 1) * sizeof *d->kind);
    d->fam_a = malloc((n ? n : 1) * sizeof *d->fam_a);
    d->fam_b = malloc((n ? n : 1) * sizeof *d->fam_b);
    if (!d->X || !d->y || !d->kind || !d->fam_a || !d->fam_b) {
        design_free(d);
        return LUT_ENOMEM;
    }
    d->p = gap8 ? PMAX : PMAX - 1;
    for (size_t i = 0; i < n; i++) {
        size_t p;
        if (!(rows[i].latency.mean > 0) || !isfinite(rows[i].latency.mean) ||
            !features(gap8, &rows[i].key, d->X + d->n * PMAX, &p))
            continue;
        d->y[d->n] = log(rows[i].latency.mean);
        d->kind[d->n] = lut_predict_kind_of(&rows[i].key);
        families(&rows[i].key, &d->fam_a[d->n], &d->fam_b[d->n]);
        d->n++;
    }
    design_standardize(d);
    return LUT_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Tally the relative errors of the rows of kind k (all: LUT_PK_KINDS). */
static void tally(lut_predict_accuracy *a, const design *d, const double *loo, lut_predict_kind k,
                  double *scratch)
{
    size_t m = 0;
    for (size_t r = 0; r < d->n; r++) {
        if (k != LUT_PK_KINDS && d->kind[r] != k)
            continue;
        a->rows++;
        if (isnan(loo[r]))
            continue;
        double e = fabs(exp(loo[r] - d->y[r]) - 1);
        a->predicted++;
        a->within5 += e <= 0.05;
        a->within10 += e <= 0.10;
        a->within25 += e <= 0.25;
        scratch[m++] = e;
    }
    if (m) {
        qsort(scratch, m, sizeof *scratch, cmp_double);
        a->median_rel_err = m % 2 ? scratch[m / 2] : (scratch[m / 2 - 1] + scratch[m / 2]) / 2;
    }
}

/* Median |relative error| of loo over the rows of kind k (inf if none). */
static double median_err(const design *d, const double *loo, lut_predict_kind k, double *scratch)
{
    lut_predict_accuracy a = {0};
    tally(&a, d, loo, k, scratch);
    return a.predicted ? a.median_rel_err : INFINITY;
}

/* The per-kind fits, and which fit each kind uses; final[] receives the
 * leave-one-out predictions of the fit each row's kind uses. */
static int fit_kinds(lut_predictor *p, const design *d, const double *pooled_loo,
                     const double *small_loo, double *final, double *scratch)
{
    double *X = malloc((d->n ? d->n : 1) * PMAX * sizeof *X), *y = malloc((d->n ? d->n : 1) * sizeof *y);
    double *loo = malloc((d->n ? d->n : 1) * sizeof *loo), *kl = malloc((d->n ? d->n : 1) * sizeof *kl);
    if (!X || !y || !loo || !kl) {
        free(X), free(y), free(loo), free(kl);
        return LUT_ENOMEM;
    }
    for (size_t r = 0; r < d->n; r++)
        final[r] = p->pooled.ok ? pooled_loo[r] : p->small.ok ? small_loo[r] : NAN;
    for (int k = 0; k < LUT_PK_OTHER; k++) {
        size_t m = 0;
        for (size_t r = 0; r < d->n; r++) {
            kl[r] = NAN;
            if (d->kind[r] != (lut_predict_kind)k)
                continue;
            memcpy(X + m * PMAX, d->X + r * PMAX, PMAX * sizeof *X);
            y[m++] = d->y[r];
        }
        p->use[k] = p->pooled.ok ? LUT_PM_POOLED : p->small.ok ? LUT_PM_SMALL : LUT_PM_NONE;
        if (fit(X, y, m, d->p, &p->kind[k], loo, 0))
            continue;
        for (size_t r = 0, j = 0; r < d->n; r++)
            if (d->kind[r] == (lut_predict_kind)k)
                kl[r] = loo[j++];
        const double *other = p->pooled.ok ? pooled_loo : small_loo;
        if (p->use[k] != LUT_PM_NONE &&
            median_err(d, other, k, scratch) < median_err(d, kl, k, scratch))
            continue;
        p->use[k] = LUT_PM_KIND;
        for (size_t r = 0; r < d->n; r++)
            if (d->kind[r] == (lut_predict_kind)k)
                final[r] = kl[r];
    }
    free(X), free(y), free(loo), free(kl);
    return LUT_OK;
}

static pthread_once_t gsl_once = PTHREAD_ONCE_INIT;

static void gsl_quiet(void)
{
    gsl_set_error_handler_off();
}

/* The fit kind k uses, or NULL. */
static const pfit *fit_of(const lut_predictor *p, lut_predict_kind k)
{
    const pfit *f = p->use[k] == LUT_PM_KIND     ? &p->kind[k]
                    : p->use[k] == LUT_PM_POOLED ? &p->pooled
                    : p->use[k] == LUT_PM_SMALL  ? &p->small
                                                 : NULL;
    return f && f->ok ? f : NULL;
}

/* Mean squared log error of loo over the rows of kind k (inf if none):
 * what the local correction must lower, as it exists for the few rows a
 * median does not see. */
static double sq_log_err(const design *d, const double *loo, lut_predict_kind k)
{
    double ss = 0;
    size_t m = 0;
    for (size_t r = 0; r < d->n; r++)
        if (d->kind[r] == k && !isnan(loo[r]))
            ss += (loo[r] - d->y[r]) * (loo[r] - d->y[r]), m++;
    return m ? ss / (double)m : INFINITY;
}

/* The local correction: keep every row's residual under its kind's fit
 * and turn the correction on for the kinds whose leave-one-out mean
 * squared log error it lowers; final[] then holds the corrected leave-one-out
 * predictions of those kinds. */
static int fit_families(lut_predictor *p, const design *d, double *final)
{
    size_t m = d->n ? d->n : 1;
    p->fam_a = malloc(m * sizeof *p->fam_a);
    p->fam_b = malloc(m * sizeof *p->fam_b);
    p->resid = malloc(m * sizeof *p->resid);
    double *corr = malloc(m * sizeof *corr);
    if (!p->fam_a || !p->fam_b || !p->resid || !corr) {
        free(corr);
        return LUT_ENOMEM;
    }
    p->nres = d->n;
    memcpy(p->fam_a, d->fam_a, d->n * sizeof *p->fam_a);
    memcpy(p->fam_b, d->fam_b, d->n * sizeof *p->fam_b);
    for (size_t r = 0; r < d->n; r++) {
        const pfit *f = fit_of(p, d->kind[r]);
        p->resid[r] = f ? d->y[r] - predict_log(f, d->X + r * PMAX) : NAN;
    }
    for (size_t r = 0; r < d->n; r++) {
        int found;
        double c = family_residual(p->fam_a, p->fam_b, p->resid, d->n, r, d->fam_a[r],
                                   d->fam_b[r], &found);
        corr[r] = final[r] + c;
    }
    for (int k = 0; k < LUT_PK_OTHER; k++) {
        if (sq_log_err(d, corr, (lut_predict_kind)k) < sq_log_err(d, final, (lut_predict_kind)k)) {
            p->use_family[k] = 1;
            for (size_t r = 0; r < d->n; r++)
                if (d->kind[r] == (lut_predict_kind)k)
                    final[r] = corr[r];
        }
    }
    free(corr);
    return LUT_OK;
}

int lut_predictor_fit(const lut_device *dev, const lut_entry *rows, size_t n,
                      lut_predictor **out)
{
    pthread_once(&gsl_once, gsl_quiet);
    *out = NULL;
    lut_predictor *p = calloc(1, sizeof *p);
    design d;
    if (!p)
        return LUT_ENOMEM;
    p->gap8 = is_gap8(dev);
    if (design_build(p->gap8, rows, n, &d)) {
        free(p);
        return LUT_ENOMEM;
    }
    memcpy(p->center, d.center, sizeof p->center);
    memcpy(p->scale, d.scale, sizeof p->scale);
    size_t m = d.n ? d.n : 1;
    double *pl = malloc(m * sizeof *pl), *sl = malloc(m * sizeof *sl);
    double *fin = malloc(m * sizeof *fin), *scratch = malloc(m * sizeof *scratch);
    int rc = pl && sl && fin && scratch ? LUT_OK : LUT_ENOMEM;
    if (!rc) {
        if (fit(d.X, d.y, d.n, d.p, &p->pooled, pl, 0))
            p->pooled.ok = 0;
        if (fit(d.X, d.y, d.n, P_SMALL, &p->small, sl, 0))
            p->small.ok = 0;
        rc = fit_kinds(p, &d, pl, sl, fin, scratch);
    }
    if (!rc)
        rc = fit_families(p, &d, fin);
    for (int k = 0; !rc && k <= LUT_PK_KINDS; k++) {
        p->acc[k].kind = (lut_predict_kind)k;
        p->acc[k].model = k < LUT_PK_KINDS ? p->use[k] : LUT_PM_NONE;
        tally(&p->acc[k], &d, fin, (lut_predict_kind)k, scratch);
    }
    free(pl), free(sl), free(fin), free(scratch);
    design_free(&d);
    if (rc) {
        lut_predictor_free(p);
        return rc;
    }
    *out = p;
    return LUT_OK;
}

void lut_predictor_free(lut_predictor *p)
{
    if (!p)
        return;
    free(p->fam_a);
    free(p->fam_b);
    free(p->resid);
    free(p);
}

int lut_predict(const lut_predictor *p, const lut_key *key, double *mean, double *var)
{
    double x[PMAX];
    size_t np;
    if (!p || !features(p->gap8, key, x, &np))
        return 0;
    standardize(p->center, p->scale, x);
    lut_predict_kind k = lut_predict_kind_of(key);
    const pfit *f = fit_of(p, k);
    if (!f)
        return 0;
    double yh = predict_log(f, x);
    if (p->use_family[k]) {
        uint64_t a, b;
        int found;
        families(key, &a, &b);
        yh += family_residual(p->fam_a, p->fam_b, p->resid, p->nres, SIZE_MAX, a, b, &found);
    }
    double v = f->s2 * (1 + spread(f, x));
    if (!isfinite(yh) || yh > 700)
        return 0;
    *mean = exp(yh);
    *var = *mean * *mean * (exp(v < 50 ? v : 50) - 1);
    return 1;
}

const lut_predict_accuracy *lut_predictor_accuracy(const lut_predictor *p, lut_predict_kind k)
{
    return p && (unsigned)k <= LUT_PK_KINDS ? &p->acc[k] : NULL;
}

size_t lut_predictor_loo(const lut_device *dev, const lut_entry *rows, size_t n, int brute,
                         double *out)
{
    design d;
    pfit f;
    size_t written = 0;
    pthread_once(&gsl_once, gsl_quiet);
    if (design_build(is_gap8(dev), rows, n, &d))
        return 0;
    for (size_t i = 0; i < n; i++)
        out[i] = NAN;
    double *loo = malloc((d.n ? d.n : 1) * sizeof *loo);
    if (loo && !fit(d.X, d.y, d.n, d.p, &f, loo, brute)) {
        for (size_t i = 0; i < d.n; i++)
            out[i] = loo[i];
        written = d.n;
    }
    free(loo);
    design_free(&d);
    return written;
}

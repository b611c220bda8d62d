/*
 * sur_core.c — set-up, error text, names, options, and the standardized
 * training set shared by the models.
 */
#include "sur_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_matrix.h>

void sur_init(void)
{
    gsl_set_error_handler_off();
}

const char *sur_strerror(int rc)
{
    switch (rc) {
    case SUR_OK:
        return "success";
    case SUR_EINVAL:
        return "invalid argument";
    case SUR_ENOMEM:
        return "out of memory";
    case SUR_ETOOFEW:
        return "too few distinct observations for the model";
    case SUR_ENOTPD:
        return "covariance matrix not positive definite, even with jitter";
    case SUR_ETOOBIG:
        return "too many observations for the model";
    case SUR_ENOCONV:
        return "optimizer did not converge";
    case SUR_EFAILED:
        return "every candidate model failed to fit";
    case SUR_ECANCELED:
        return "the fit was cancelled";
    default:
        if (rc > 0)
            return gsl_strerror(rc);
        return "unknown error";
    }
}

int Sur_gsl_rc(int gsl_rc)
{
    if (gsl_rc == GSL_SUCCESS)
        return SUR_OK;
    if (gsl_rc == GSL_ENOMEM)
        return SUR_ENOMEM;
    if (gsl_rc < 0)
        return SUR_ENOCONV;
    return gsl_rc;
}

gsl_matrix *Sur_matrix_alloc(size_t n1, size_t n2)
{
    const size_t tda = n2 | 1;
    gsl_block *b = n1 && n2 ? gsl_block_alloc(n1 * tda) : NULL;
    gsl_matrix *m = b ? gsl_matrix_alloc_from_block(b, 0, n1, n2, tda) : NULL;
    if (!m) {
        if (b)
            gsl_block_free(b);
        return NULL;
    }
    m->owner = 1; /* gsl_matrix_free frees the block too */
    return m;
}

const char *sur_kind_name(sur_kind kind)
{
    static const char *const names[SUR_N_KINDS] = {
        "ridge", "gp", "gp_overlap", "forest", "ridge_linear", "ensemble"};
    if ((unsigned)kind >= SUR_N_KINDS)
        return NULL;
    return names[kind];
}

const char *sur_reason_name(sur_reason reason)
{
    static const char *const names[SUR_N_REASONS] = {
        "constraint", "already_observed", "dominated", "uncertain",
        "promising"};
    if ((unsigned)reason >= SUR_N_REASONS)
        return NULL;
    return names[reason];
}

void sur_options_default(sur_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->seed = 1;
    opt->folds = 0;
    opt->fold_of = NULL;
    opt->standardize = 1;
    opt->ridge_products = 1;
    opt->ridge_squares = 1;
    opt->ridge_max_terms = 4096;
    opt->gp_starts = 3;
    opt->gp_subset = 256;
    opt->gp_polish = 20;
    opt->gp_max_rows = 4000;
    opt->gp_fixed = 0;
}

int sur_confidence_z(double confidence, double *z)
{
    if (!z || !(confidence > 0.5 && confidence < 1.0))
        return SUR_EINVAL;
    *z = gsl_cdf_ugaussian_Pinv(confidence);
    if (!isfinite(*z))
        return SUR_EINVAL;
    return SUR_OK;
}

uint64_t Sur_rng_below(uint64_t *state, uint64_t n)
{
    /* Reject the top partial block so every residue is equally likely. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t r;
    do
        r = Sur_rng_next(state);
    while (r >= limit);
    return r % n;
}

int Sur_data_check(const sur_data *data)
{
    if (!data || !data->x || !data->y || data->d == 0)
        return SUR_EINVAL;
    if (data->n > SIZE_MAX / data->d)
        return SUR_EINVAL;
    for (size_t i = 0; i < data->n * data->d; i++)
        if (!isfinite(data->x[i]))
            return SUR_EINVAL;
    for (size_t i = 0; i < data->n; i++) {
        if (!isfinite(data->y[i]))
            return SUR_EINVAL;
        if (data->count && data->count[i] == 0)
            return SUR_EINVAL;
    }
    return SUR_OK;
}

void Sur_train_free(Sur_train *t)
{
    if (!t)
        return;
    free(t->z);
    free(t->y);
    free(t->w);
    free(t->mu);
    free(t->sd);
    memset(t, 0, sizeof *t);
}

int Sur_train_make(Sur_train *t, const sur_data *data, const size_t *rows,
                   size_t n_rows, int standardize)
{
    const size_t d = data->d;
    memset(t, 0, sizeof *t);
    t->n = n_rows;
    t->d = d;
    t->z = malloc(n_rows * d * sizeof *t->z);
    t->y = malloc(n_rows * sizeof *t->y);
    t->w = malloc(n_rows * sizeof *t->w);
    t->mu = calloc(d, sizeof *t->mu);
    t->sd = malloc(d * sizeof *t->sd);
    if (!t->z || !t->y || !t->w || !t->mu || !t->sd) {
        Sur_train_free(t);
        return SUR_ENOMEM;
    }
    double wsum = 0, ysum = 0;
    for (size_t k = 0; k < n_rows; k++) {
        size_t i = rows ? rows[k] : k;
        memcpy(t->z + k * d, data->x + i * d, d * sizeof *t->z);
        t->y[k] = data->y[i];
        t->w[k] = data->count ? (double)data->count[i] : 1.0;
        wsum += t->w[k];
        ysum += t->w[k] * t->y[k];
    }
    t->wsum = wsum;
    t->ybar = n_rows ? ysum / wsum : 0.0;
    for (size_t j = 0; j < d; j++)
        t->sd[j] = 1.0;
    if (standardize && n_rows > 0) {
        /* Plain (unweighted) column moments over the distinct rows: the
         * geometry of the features does not depend on how often a genome
         * was measured. */
        for (size_t k = 0; k < n_rows; k++)
            for (size_t j = 0; j < d; j++)
                t->mu[j] += t->z[k * d + j];
        for (size_t j = 0; j < d; j++)
            t->mu[j] /= (double)n_rows;
        for (size_t j = 0; j < d; j++) {
            double ss = 0;
            for (size_t k = 0; k < n_rows; k++) {
                double v = t->z[k * d + j] - t->mu[j];
                ss += v * v;
            }
            double sd = sqrt(ss / (double)n_rows);
            /* A (nearly) constant column carries no information; leave it
             * centered at 0 rather than blowing rounding noise up. */
            t->sd[j] = sd > 1e-12 * (1.0 + fabs(t->mu[j])) ? sd : 1.0;
        }
        for (size_t k = 0; k < n_rows; k++)
            for (size_t j = 0; j < d; j++)
                t->z[k * d + j] = (t->z[k * d + j] - t->mu[j]) / t->sd[j];
    }
    return SUR_OK;
}

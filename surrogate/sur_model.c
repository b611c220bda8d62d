/*
 * sur_model.c — the common model object (standardization, dispatch to the
 * kinds), k-fold cross-validation and model selection.
 */
#include "sur_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PREDICT_BLOCK 1024 /* rows standardized at a time */
#define DEFAULT_FOLDS 5
#define CALIB_QUANTILE 0.95 /* share of held-out residuals within +-2 std */

/* An ensemble's members and weights. */
typedef struct ens_spec {
    size_t n;
    sur_kind kind[SUR_ENSEMBLE_MAX];
    double weight[SUR_ENSEMBLE_MAX];
} ens_spec;

/* sur_fit's and sur_cross_validate's ensemble: equal weights. */
static const ens_spec default_ensemble = {
    3, {SUR_RIDGE, SUR_GP_OVERLAP, SUR_FOREST}, {1.0 / 3, 1.0 / 3, 1.0 / 3}};

void sur_model_free(sur_model *model)
{
    if (!model)
        return;
    Sur_ridge_free(model->ridge);
    Sur_gp_free(model->gp);
    Sur_ogp_free(model->ogp);
    Sur_forest_free(model->forest);
    for (size_t k = 0; k < SUR_ENSEMBLE_MAX; k++)
        sur_model_free(model->member[k]);
    free(model->mu);
    free(model->sd);
    free(model);
}

void sur_model_get_info(const sur_model *model, sur_model_info *out)
{
    *out = model->info;
}

static int fit_rows(sur_kind kind, const sur_data *data, const size_t *rows,
                    size_t n_rows, const sur_options *opt, sur_model **out);

/* The ensemble ens on rows[0..n_rows-1]: its members, fitted each. */
static int fit_ensemble(const ens_spec *ens, const sur_data *data,
                        const size_t *rows, size_t n_rows,
                        const sur_options *opt, sur_model **out)
{
    sur_model *m = calloc(1, sizeof *m);
    if (!m)
        return SUR_ENOMEM;
    m->kind = SUR_ENSEMBLE;
    m->d = data->d;
    m->info.kind = SUR_ENSEMBLE;
    m->info.n = n_rows;
    m->info.d = data->d;
    m->info.std_scale = 1.0;
    m->info.ensemble_n = ens->n;
    int rc = SUR_OK;
    double wsum = 0;
    for (size_t k = 0; k < ens->n && !rc; k++) {
        m->info.ensemble_kind[k] = ens->kind[k];
        m->info.ensemble_weight[k] = ens->weight[k];
        wsum += ens->weight[k];
        rc = fit_rows(ens->kind[k], data, rows, n_rows, opt, &m->member[k]);
    }
    if (rc) {
        sur_model_free(m);
        return rc;
    }
    for (size_t k = 0; k < ens->n; k++)
        m->info.ensemble_weight[k] /= wsum;
    m->info.n_obs = m->member[0]->info.n_obs;
    m->info.y_mean = m->member[0]->info.y_mean;
    *out = m;
    return SUR_OK;
}

static int fit_kind(sur_model *m, const Sur_train *t, const sur_options *opt)
{
    switch (m->kind) {
    case SUR_RIDGE:
        return Sur_ridge_fit(t, opt, &m->ridge, &m->info);
    case SUR_GP:
        return Sur_gp_fit(t, opt, &m->gp, &m->info);
    case SUR_GP_OVERLAP:
        return Sur_ogp_fit(t, opt, &m->ogp, &m->info);
    case SUR_FOREST:
        return Sur_forest_fit(t, opt, &m->forest, &m->info);
    case SUR_RIDGE_LINEAR: {
        sur_options linear = *opt;
        linear.ridge_products = 0;
        linear.ridge_squares = 0;
        return Sur_ridge_fit(t, &linear, &m->ridge, &m->info);
    }
    default:
        return SUR_EINVAL;
    }
}

/* Fit kind on rows[0..n_rows-1] of data (every row when rows is NULL). */
static int fit_rows(sur_kind kind, const sur_data *data, const size_t *rows,
                    size_t n_rows, const sur_options *opt, sur_model **out)
{
    *out = NULL;
    if (Sur_cancelled(opt))
        return SUR_ECANCELED;
    if (kind == SUR_ENSEMBLE)
        return n_rows < 2 ? SUR_ETOOFEW
                          : fit_ensemble(&default_ensemble, data, rows, n_rows,
                                         opt, out);
    if (n_rows < 2)
        return SUR_ETOOFEW;
    Sur_train t;
    int rc = Sur_train_make(&t, data, rows, n_rows, opt->standardize);
    if (rc)
        return rc;
    sur_model *m = calloc(1, sizeof *m);
    if (!m) {
        Sur_train_free(&t);
        return SUR_ENOMEM;
    }
    m->kind = kind;
    m->d = data->d;
    m->mu = t.mu;
    m->sd = t.sd;
    t.mu = t.sd = NULL; /* the model keeps the standardization */
    m->info.kind = kind;
    m->info.n = n_rows;
    m->info.n_obs = (size_t)t.wsum;
    m->info.d = data->d;
    m->info.y_mean = t.ybar;
    m->info.std_scale = 1.0;
    rc = fit_kind(m, &t, opt);
    Sur_train_free(&t);
    if (rc) {
        sur_model_free(m);
        return rc;
    }
    *out = m;
    return SUR_OK;
}

static int check_common(sur_kind kind, const sur_data *data,
                        const sur_options *opt)
{
    if ((unsigned)kind >= SUR_N_KINDS)
        return SUR_EINVAL;
    int rc = Sur_data_check(data);
    if (rc)
        return rc;
    (void)opt;
    return SUR_OK;
}

int sur_fit(sur_kind kind, const sur_data *data, const sur_options *opt,
            sur_model **out)
{
    sur_options defaults;
    if (!out)
        return SUR_EINVAL;
    *out = NULL;
    if (!opt) {
        sur_options_default(&defaults);
        opt = &defaults;
    }
    int rc = check_common(kind, data, opt);
    if (rc)
        return rc;
    return fit_rows(kind, data, NULL, data->n, opt, out);
}

static int predict_rows(const sur_model *m, const double *x, size_t n,
                        double *mean, double *var, double *noise);

/* An ensemble: the weighted mean; latent variance the mixture's (members'
 * variances plus their spread about the mean), noise the weighted mean. */
static int predict_ensemble(const sur_model *m, const double *x, size_t n,
                            double *mean, double *var, double *noise)
{
    double *mk = malloc(2 * n * sizeof *mk + 1), *vk = mk + n;
    if (!mk)
        return SUR_ENOMEM;
    int rc = SUR_OK;
    *noise = 0;
    for (size_t i = 0; i < n; i++) {
        mean[i] = 0;
        if (var)
            var[i] = 0;
    }
    /* pass 1: means and variances; pass 2 adds the spread */
    for (int pass = 0; pass < (var ? 2 : 1) && !rc; pass++)
        for (size_t k = 0; k < m->info.ensemble_n && !rc; k++) {
            double w = m->info.ensemble_weight[k], nk;
            rc = predict_rows(m->member[k], x, n, mk, var ? vk : NULL, &nk);
            for (size_t i = 0; i < n && !rc; i++) {
                if (pass == 1) {
                    var[i] += w * (mk[i] - mean[i]) * (mk[i] - mean[i]);
                    continue;
                }
                mean[i] += w * mk[i];
                if (var)
                    var[i] += w * vk[i];
            }
            if (pass == 0)
                *noise += w * nk;
        }
    free(mk);
    return rc;
}

static double noise_of(const sur_model *m)
{
    switch (m->kind) {
    case SUR_RIDGE:
    case SUR_RIDGE_LINEAR:
        return Sur_ridge_noise_var(m->ridge);
    case SUR_GP:
        return Sur_gp_noise_var(m->gp);
    case SUR_GP_OVERLAP:
        return Sur_ogp_noise_var(m->ogp);
    default:
        return Sur_forest_noise_var(m->forest);
    }
}

static int predict_z(const sur_model *m, const double *z, size_t b,
                     double *mean, double *var)
{
    switch (m->kind) {
    case SUR_RIDGE:
    case SUR_RIDGE_LINEAR:
        return Sur_ridge_predict(m->ridge, z, b, mean, var);
    case SUR_GP:
        return Sur_gp_predict(m->gp, z, b, mean, var);
    case SUR_GP_OVERLAP:
        return Sur_ogp_predict(m->ogp, z, b, mean, var);
    default:
        return Sur_forest_predict(m->forest, z, b, mean, var);
    }
}

/* Predict raw rows: mean, latent variance (may be NULL); noise variance of
 * one observation in *noise. Neither includes info.std_scale. */
static int predict_rows(const sur_model *m, const double *x, size_t n,
                        double *mean, double *var, double *noise)
{
    const size_t d = m->d;
    size_t block = n < PREDICT_BLOCK ? n : PREDICT_BLOCK;
    if (m->kind == SUR_ENSEMBLE)
        return predict_ensemble(m, x, n, mean, var, noise);
    *noise = noise_of(m);
    if (n == 0)
        return SUR_OK;
    double *z = malloc(block * d * sizeof *z);
    if (!z)
        return SUR_ENOMEM;
    int rc = SUR_OK;
    for (size_t lo = 0; lo < n && !rc; lo += block) {
        size_t b = n - lo < block ? n - lo : block;
        for (size_t i = 0; i < b; i++)
            for (size_t j = 0; j < d; j++)
                z[i * d + j] = (x[(lo + i) * d + j] - m->mu[j]) / m->sd[j];
        rc = predict_z(m, z, b, mean + lo, var ? var + lo : NULL);
    }
    free(z);
    return rc;
}

int sur_predict(const sur_model *model, const double *x, size_t n,
                double *mean, double *std, double *std_latent)
{
    if (!model || (n && (!x || !mean)))
        return SUR_EINVAL;
    for (size_t i = 0; i < n * model->d; i++)
        if (!isfinite(x[i]))
            return SUR_EINVAL;
    double *var = NULL, noise;
    if (std || std_latent) {
        var = std_latent ? std_latent : std;
    }
    int rc = predict_rows(model, x, n, mean, var, &noise);
    if (rc)
        return rc;
    if (var) {
        double s = model->info.std_scale;
        for (size_t i = 0; i < n; i++) {
            double v = var[i];
            if (std)
                std[i] = s * sqrt(v + noise);
            if (std_latent)
                std_latent[i] = s * sqrt(v);
        }
    }
    return SUR_OK;
}

/* ------------------------------------------------------ cross-validation */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* fold[i] for every row and the number of folds. */
static int assign_folds(size_t n, const sur_options *opt, unsigned *fold,
                        unsigned *k_out)
{
    if (opt->fold_of) {
        unsigned k = 0;
        for (size_t i = 0; i < n; i++) {
            if (opt->fold_of[i] >= n)
                return SUR_EINVAL;
            if (opt->fold_of[i] + 1 > k)
                k = opt->fold_of[i] + 1;
        }
        if (k < 2 || k > n)
            return SUR_EINVAL;
        size_t *seen = calloc(k, sizeof *seen);
        if (!seen)
            return SUR_ENOMEM;
        for (size_t i = 0; i < n; i++) {
            fold[i] = opt->fold_of[i];
            seen[fold[i]]++;
        }
        int rc = SUR_OK;
        for (unsigned f = 0; f < k; f++)
            if (!seen[f] || seen[f] == n)
                rc = SUR_EINVAL;
        free(seen);
        *k_out = k;
        return rc;
    }
    unsigned k = opt->folds ? opt->folds : DEFAULT_FOLDS;
    if (k > n)
        k = (unsigned)n;
    if (k < 2)
        return SUR_EINVAL;
    size_t *perm = malloc(n * sizeof *perm);
    if (!perm)
        return SUR_ENOMEM;
    for (size_t i = 0; i < n; i++)
        perm[i] = i;
    uint64_t rng = opt->seed ^ 0x666f6c64u; /* "fold" */
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)Sur_rng_below(&rng, (uint64_t)i + 1);
        size_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (size_t i = 0; i < n; i++)
        fold[perm[i]] = (unsigned)(i % k);
    free(perm);
    *k_out = k;
    return SUR_OK;
}

/* Held-out mean and predictive std of every row; the std of row i is that
 * of an average of count[i] observations. */
static int cv_predict(sur_kind kind, const sur_data *data,
                      const sur_options *opt, const unsigned *fold,
                      unsigned k, double *mean, double *std)
{
    const size_t n = data->n, d = data->d;
    size_t *train = malloc(n * sizeof *train);
    size_t *test = malloc(n * sizeof *test);
    double *xt = malloc(n * d * sizeof *xt);
    double *var = malloc(n * sizeof *var);
    double *mt = malloc(n * sizeof *mt);
    int rc = SUR_OK;
    if (!train || !test || !xt || !var || !mt) {
        rc = SUR_ENOMEM;
        goto done;
    }
    for (unsigned f = 0; f < k && !rc; f++) {
        size_t ntr = 0, nte = 0;
        for (size_t i = 0; i < n; i++) {
            if (fold[i] == f)
                test[nte++] = i;
            else
                train[ntr++] = i;
        }
        if (nte == 0)
            continue;
        sur_model *m = NULL;
        rc = fit_rows(kind, data, train, ntr, opt, &m);
        if (rc)
            break;
        for (size_t a = 0; a < nte; a++)
            memcpy(xt + a * d, data->x + test[a] * d, d * sizeof *xt);
        double noise;
        rc = predict_rows(m, xt, nte, mt, var, &noise);
        sur_model_free(m);
        if (rc)
            break;
        for (size_t a = 0; a < nte; a++) {
            size_t i = test[a];
            double c = data->count ? (double)data->count[i] : 1.0;
            mean[i] = mt[a];
            std[i] = sqrt(var[a] + noise / c);
        }
    }
done:
    free(train);
    free(test);
    free(xt);
    free(var);
    free(mt);
    return rc;
}

static int cv_figures(const sur_data *data, const double *mean,
                      const double *std, unsigned k, sur_cv *out)
{
    const size_t n = data->n;
    double tau, rho, se = 0;
    size_t in1 = 0, in2 = 0;
    int rc = sur_kendall_tau(data->y, mean, n, &tau);
    if (!rc)
        rc = sur_spearman_rho(data->y, mean, n, &rho);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        double e = data->y[i] - mean[i];
        se += e * e;
        if (fabs(e) <= std[i])
            in1++;
        if (fabs(e) <= 2.0 * std[i])
            in2++;
    }
    out->folds = k;
    out->kendall_tau = isnan(tau) ? 0.0 : tau;
    out->spearman_rho = isnan(rho) ? 0.0 : rho;
    out->rmse = sqrt(se / (double)n);
    out->coverage_1sigma = (double)in1 / (double)n;
    out->coverage_2sigma = (double)in2 / (double)n;
    return SUR_OK;
}

/* CV figures of one kind; mean and std (n each) receive the held-out
 * predictions. */
static int cross_validate(sur_kind kind, const sur_data *data,
                          const sur_options *opt, const unsigned *fold,
                          unsigned k, sur_cv *out, double *mean, double *std)
{
    int rc = cv_predict(kind, data, opt, fold, k, mean, std);
    if (!rc)
        rc = cv_figures(data, mean, std, k, out);
    return rc;
}

int sur_cross_validate(sur_kind kind, const sur_data *data,
                       const sur_options *opt, sur_cv *out)
{
    sur_options defaults;
    if (!out)
        return SUR_EINVAL;
    if (!opt) {
        sur_options_default(&defaults);
        opt = &defaults;
    }
    int rc = check_common(kind, data, opt);
    if (rc)
        return rc;
    if (data->n < 3)
        return SUR_ETOOFEW;
    unsigned *fold = malloc(data->n * sizeof *fold), k;
    double *mean = malloc(data->n * sizeof *mean);
    double *std = malloc(data->n * sizeof *std);
    rc = fold && mean && std ? assign_folds(data->n, opt, fold, &k) : SUR_ENOMEM;
    if (!rc)
        rc = cross_validate(kind, data, opt, fold, k, out, mean, std);
    free(fold);
    free(mean);
    free(std);
    return rc;
}

/* The kind with the best CV figures among those not failed nor tried:
 * higher Kendall tau, then lower RMSE, then the lower kind; -1 if none. */
static int best_untried(const sur_selection *sel, const int *tried)
{
    int best = -1;
    for (int kind = 0; kind < SUR_N_KINDS; kind++) {
        if (sel->rc[kind] || tried[kind])
            continue;
        if (best < 0 ||
            sel->cv[kind].kendall_tau > sel->cv[best].kendall_tau ||
            (sel->cv[kind].kendall_tau == sel->cv[best].kendall_tau &&
             sel->cv[kind].rmse < sel->cv[best].rmse))
            best = kind;
    }
    return best;
}

int sur_fit_best(const sur_data *data, const sur_options *opt,
                 sur_model **out, sur_selection *sel)
{
    return sur_fit_best_heldout(data, opt, out, sel, NULL, NULL);
}

/* s = max(1, q / 2), q the CALIB_QUANTILE quantile of |y - mean| / std
 * over the held-out rows. */
static double calibration(const sur_data *data, const double *mean,
                          const double *std)
{
    const size_t n = data->n;
    double *r = malloc(n * sizeof *r + 1);
    if (!r)
        return 1.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(data->y[i] - mean[i]);
        r[i] = std[i] > 0 ? e / std[i] : (e > 0 ? INFINITY : 0.0);
    }
    qsort(r, n, sizeof *r, cmp_double);
    size_t at = (size_t)ceil(CALIB_QUANTILE * (double)n);
    double q = r[(at ? at : 1) - 1];
    free(r);
    /* a hair above q / 2, so that the row at the quantile stays inside */
    return isfinite(q) && q > 2.0 ? q / 2.0 * (1.0 + 1e-12) : 1.0;
}

/* The ensemble of the best base kinds by CV tau, weights 1 / CV MSE;
 * its held-out predictions from theirs (raw: uncalibrated std). 0 members
 * when fewer than 2 kinds succeeded. */
static void pick_ensemble(const sur_selection *sel, const double *raw,
                          size_t n, ens_spec *ens, double *mean, double *std)
{
    int used[SUR_N_KINDS] = {0};
    memset(ens, 0, sizeof *ens);
    while (ens->n < SUR_ENSEMBLE_MAX) {
        int best = -1;
        for (int k = 0; k < SUR_ENSEMBLE; k++)
            if (!sel->rc[k] && !used[k] &&
                (best < 0 || sel->cv[k].kendall_tau > sel->cv[best].kendall_tau))
                best = k;
        if (best < 0)
            break;
        used[best] = 1;
        double mse = sel->cv[best].rmse * sel->cv[best].rmse;
        ens->kind[ens->n] = (sur_kind)best;
        ens->weight[ens->n++] = 1.0 / (mse > 1e-300 ? mse : 1e-300);
    }
    if (ens->n < 2) {
        ens->n = 0;
        return;
    }
    double wsum = 0;
    for (size_t k = 0; k < ens->n; k++)
        wsum += ens->weight[k];
    for (size_t k = 0; k < ens->n; k++)
        ens->weight[k] /= wsum;
    for (size_t i = 0; i < n; i++) {
        double m = 0, v = 0;
        for (size_t k = 0; k < ens->n; k++)
            m += ens->weight[k] * raw[2 * (size_t)ens->kind[k] * n + i];
        for (size_t k = 0; k < ens->n; k++) {
            const double *p = raw + 2 * (size_t)ens->kind[k] * n;
            v += ens->weight[k] * (p[n + i] * p[n + i] +
                                   (p[i] - m) * (p[i] - m));
        }
        mean[i] = m;
        std[i] = sqrt(v);
    }
}

/* CV of every kind on the same folds into sel; pred (2 SUR_N_KINDS n)
 * gets each kind's held-out mean and calibrated std, scale each kind's
 * calibration, ens the ensemble. */
static int select_all(const sur_data *data, const sur_options *opt,
                      sur_selection *sel, double *pred, double *scale,
                      ens_spec *ens)
{
    const size_t n = data->n;
    unsigned *fold = malloc(n * sizeof *fold), k;
    double *raw = malloc(2 * SUR_N_KINDS * n * sizeof *raw);
    int rc = fold && raw ? assign_folds(n, opt, fold, &k) : SUR_ENOMEM;
    int cv_ok = 0;
    for (int kind = 0; kind < SUR_ENSEMBLE && !rc; kind++) {
        double *mean = raw + 2 * (size_t)kind * n;
        sel->rc[kind] = cross_validate((sur_kind)kind, data, opt, fold, k,
                                       &sel->cv[kind], mean, mean + n);
        cv_ok += sel->rc[kind] == 0;
        if (sel->rc[kind] == SUR_ECANCELED)
            rc = SUR_ECANCELED;
    }
    if (!rc) {
        double *e = raw + 2 * (size_t)SUR_ENSEMBLE * n;
        pick_ensemble(sel, raw, n, ens, e, e + n);
        sel->rc[SUR_ENSEMBLE] = ens->n ? SUR_OK : SUR_ETOOFEW;
    }
    for (int kind = 0; kind < SUR_N_KINDS && !rc; kind++) {
        if (sel->rc[kind])
            continue;
        const double *r = raw + 2 * (size_t)kind * n;
        double *p = pred + 2 * (size_t)kind * n;
        scale[kind] = calibration(data, r, r + n);
        for (size_t i = 0; i < n; i++) {
            p[i] = r[i];
            p[n + i] = scale[kind] * r[n + i];
        }
        rc = cv_figures(data, p, p + n, k, &sel->cv[kind]);
    }
    free(fold);
    free(raw);
    if (!rc && !cv_ok)
        rc = SUR_EFAILED;
    return rc;
}

int sur_fit_best_heldout(const sur_data *data, const sur_options *opt,
                         sur_model **out, sur_selection *sel,
                         double *heldout_mean, double *heldout_std)
{
    sur_options defaults;
    sur_selection local;
    if (!out)
        return SUR_EINVAL;
    *out = NULL;
    if (!sel)
        sel = &local;
    memset(sel, 0, sizeof *sel);
    if (!opt) {
        sur_options_default(&defaults);
        opt = &defaults;
    }
    int rc = Sur_data_check(data);
    if (rc)
        return rc;
    if (data->n < 3)
        return SUR_ETOOFEW;
    const size_t n = data->n;
    /* held-out predictions of every kind, kept until the winner is known */
    double *pred = malloc(2 * SUR_N_KINDS * n * sizeof *pred);
    double scale[SUR_N_KINDS];
    ens_spec ens;
    rc = pred ? select_all(data, opt, sel, pred, scale, &ens) : SUR_ENOMEM;
    /* Best first; a kind whose refit on all rows fails (it may need more
     * than the folds gave it) hands over to the next. */
    int tried[SUR_N_KINDS] = {0};
    while (!rc) {
        int best = best_untried(sel, tried);
        if (best < 0) {
            rc = SUR_EFAILED;
            break;
        }
        tried[best] = 1;
        int frc = best == SUR_ENSEMBLE
                      ? fit_ensemble(&ens, data, NULL, n, opt, out)
                      : fit_rows((sur_kind)best, data, NULL, n, opt, out);
        if (frc == SUR_OK) {
            sel->best = (sur_kind)best;
            (*out)->info.std_scale = scale[best];
            const double *mean = pred + 2 * (size_t)best * n;
            if (heldout_mean)
                memcpy(heldout_mean, mean, n * sizeof *mean);
            if (heldout_std)
                memcpy(heldout_std, mean + n, n * sizeof *mean);
            break;
        }
        sel->rc[best] = frc;
        if (frc == SUR_ECANCELED)
            rc = frc;
    }
    free(pred);
    return rc;
}

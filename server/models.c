/*
 * models.c — the registry of fitted surrogates of one space, and what a
 * fitted model answers (predictions, its JSON form).
 */
#include "models.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREDICT_BLOCK 1024 /* rows encoded and predicted at a time */

struct fm_models {
    pthread_mutex_t lock;
    fm_model **items;
    size_t n, cap;
};

fm_models *fm_models_new(void)
{
    fm_models *m = calloc(1, sizeof *m);
    if (m && pthread_mutex_init(&m->lock, NULL)) {
        free(m);
        return NULL;
    }
    return m;
}

static void model_free(fm_model *model)
{
    sur_model_free(model->model);
    sur_features_free(model->features);
    lut_space_coster_free(model->coster);
    fm_obs_points_free(&model->points);
    free(model->heldout_mean);
    free(model->heldout_std);
    free(model);
}

fm_model *fm_model_new(const char *metric, const char *fidelity, uint64_t version)
{
    fm_model *model = calloc(1, sizeof *model);
    if (!model)
        return NULL;
    atomic_init(&model->refs, 1);
    snprintf(model->metric, sizeof model->metric, "%s", metric);
    snprintf(model->fidelity, sizeof model->fidelity, "%s", fidelity);
    model->version = version;
    return model;
}

void fm_model_retain(fm_model *model)
{
    atomic_fetch_add(&model->refs, 1);
}

void fm_model_release(fm_model *model)
{
    if (model && atomic_fetch_sub(&model->refs, 1) == 1)
        model_free(model);
}

void fm_models_free(fm_models *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        fm_model_release(m->items[i]);
    free(m->items);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

fm_model *fm_models_get(fm_models *m, const char *metric, const char *fidelity)
{
    fm_model *found = NULL;
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->n && !found; i++)
        if (!strcmp(m->items[i]->metric, metric) && !strcmp(m->items[i]->fidelity, fidelity)) {
            found = m->items[i];
            atomic_fetch_add(&found->refs, 1);
        }
    pthread_mutex_unlock(&m->lock);
    return found;
}

void fm_models_put(fm_models *m, fm_model *model)
{
    fm_model *old = NULL;
    pthread_mutex_lock(&m->lock);
    size_t i = 0;
    while (i < m->n && (strcmp(m->items[i]->metric, model->metric) || strcmp(m->items[i]->fidelity, model->fidelity)))
        i++;
    if (i < m->n) {
        old = m->items[i];
        m->items[i] = model;
    } else if (m->n < m->cap || (m->items = realloc(m->items, (m->cap = m->cap ? 2 * m->cap : 8) * sizeof *m->items))) {
        m->items[m->n++] = model;
    } else {
        old = model; /* out of memory: keep serving the old state */
    }
    pthread_mutex_unlock(&m->lock);
    fm_model_release(old);
}

uint64_t fm_models_version(fm_models *m, const char *metric, const char *fidelity)
{
    fm_model *old = fm_models_get(m, metric, fidelity);
    uint64_t v = old ? old->version : 0;
    fm_model_release(old);
    return v;
}

/* ------------------------------------------------------------ predictions */

int fm_model_encode(const fm_model *model, const int *genome, const lut_space_totals *tot, double *row)
{
    double extra[2] = {0, 0};
    if (model->coster) {
        /* Builder spaces: log MACs and log params join the genes. */
        lut_space_totals own;
        if (!tot) {
            int rc = lut_space_cost(model->coster, genome, &own, NULL);
            if (rc)
                return rc;
            tot = &own;
        }
        extra[0] = log1p((double)tot->macs);
        extra[1] = log1p((double)tot->params);
    }
    return sur_features_encode(model->features, genome, model->coster ? extra : NULL, row);
}

/* Predict the m encoded rows x into mean and std; row by row if the batch
 * fails, so that one bad row costs only its own prediction. Rows predict
 * alike in any batch (sur_predict_batch), so a genome gets the same answer
 * from every route. */
static void predict_rows(const fm_model *model, const double *x, size_t m, size_t dim, double *mean,
                         double *std)
{
    if (sur_predict_batch(model->model, x, m, mean, std, NULL) == 0)
        return;
    for (size_t j = 0; j < m; j++)
        if (sur_predict_batch(model->model, x + j * dim, 1, mean + j, std + j, NULL))
            mean[j] = std[j] = NAN;
}

int fm_model_predict_many(const fm_model *model, const lut_space *space, const int *genomes,
                          const lut_space_totals *totals, size_t n, double *mean, double *std)
{
    if (!model || !model->fitted)
        return -1;
    size_t ng = lut_space_gene_count(space), dim = sur_features_dim(model->features);
    size_t block = n < PREDICT_BLOCK ? n : PREDICT_BLOCK;
    int *g = malloc((ng ? ng : 1) * sizeof *g);
    double *x = malloc((block ? block : 1) * dim * sizeof *x + 1);
    double *pm = malloc((block ? block : 1) * 2 * sizeof *pm);
    size_t *at = malloc((block ? block : 1) * sizeof *at);
    int rc = g && x && pm && at ? 0 : -1;
    for (size_t lo = 0; !rc && lo < n; lo += block) {
        size_t b = n - lo < block ? n - lo : block, m = 0;
        /* Genomes of one network predict alike: genes of skipped blocks
         * are zeroed, as they were for fitting. */
        for (size_t i = 0; i < b; i++) {
            memcpy(g, genomes + (lo + i) * ng, ng * sizeof *g);
            lut_space_genome_canonicalize(space, g);
            mean[lo + i] = std[lo + i] = NAN;
            if (fm_model_encode(model, g, totals ? &totals[lo + i] : NULL, x + m * dim) == 0)
                at[m++] = lo + i;
        }
        predict_rows(model, x, m, dim, pm, pm + block);
        for (size_t j = 0; j < m; j++) {
            mean[at[j]] = pm[j];
            std[at[j]] = pm[block + j];
        }
    }
    free(g);
    free(x);
    free(pm);
    free(at);
    return rc;
}

json_t *fm_prediction_json(const fm_model *model, double mean, double std)
{
    return json_pack("{s:f, s:f, s:s, s:I}", "mean", mean, "std", std, "fidelity", model->fidelity,
                     "model_version", (json_int_t)model->version);
}

/* NaN is not JSON: an undefined figure is null. */
static json_t *number_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *cv_json(const sur_cv *cv)
{
    double v[] = {cv->kendall_tau, cv->spearman_rho, cv->rmse, cv->coverage_1sigma, cv->coverage_2sigma};
    const char *names[] = {"kendall_tau", "spearman_rho", "rmse", "coverage_1sigma", "coverage_2sigma"};
    json_t *o = json_pack("{s:i}", "folds", (int)cv->folds);
    for (size_t i = 0; i < 5; i++)
        json_object_set_new(o, names[i], number_or_null(v[i]));
    return o;
}

json_t *fm_model_json(const fm_model *model, const char *space_id, size_t min_observations)
{
    char t[40];
    fm_format_time(model->fitted_ms, t, sizeof t);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:f}", "space", space_id, "metric",
                          model->metric, "fidelity", model->fidelity, "status",
                          model->fitted ? "fitted" : model->failed ? "failed" : "too_few", "n", (json_int_t)model->n, "distinct",
                          (json_int_t)model->distinct, "min_observations", (json_int_t)min_observations,
                          "version", (json_int_t)model->version, "fitted_at", t, "fit_seconds",
                          model->fit_seconds);
    if (model->fitted) {
        sur_model_info info;
        sur_model_get_info(model->model, &info);
        json_object_set_new(o, "model", json_string(sur_kind_name(info.kind)));
        const fm_cv *best = NULL;
        for (size_t i = 0; i < model->ncandidates; i++)
            if (!strcmp(model->candidates[i].model, sur_kind_name(info.kind)))
                best = &model->candidates[i];
        json_object_set_new(o, "cv", best ? cv_json(&best->cv) : json_null());
        json_object_set_new(o, "std_scale", json_real(info.std_scale));
        if (info.kind == SUR_ENSEMBLE) {
            json_t *members = json_array();
            for (size_t i = 0; i < info.ensemble_n; i++)
                json_array_append_new(members, json_pack("{s:s, s:f}", "model",
                                                         sur_kind_name(info.ensemble_kind[i]), "weight",
                                                         info.ensemble_weight[i]));
            json_object_set_new(o, "ensemble", members);
        }
    } else {
        json_object_set_new(o, "model", json_null());
        json_object_set_new(o, "cv", json_null());
        json_object_set_new(o, "reason", json_string(model->reason));
    }
    json_t *cands = json_array();
    for (size_t i = 0; i < model->ncandidates; i++)
        json_array_append_new(cands, json_pack("{s:s, s:o}", "model", model->candidates[i].model, "cv",
                                               cv_json(&model->candidates[i].cv)));
    json_object_set_new(o, "candidates", cands);
    return o;
}

json_t *fm_model_heldout_json(const fm_model *model)
{
    json_t *rows = json_array();
    const fm_obs_points *p = &model->points;
    if (!rows || !model->fitted || !model->heldout_mean)
        return rows;
    for (size_t i = 0; i < p->n; i++) {
        json_t *genome = json_array();
        for (size_t g = 0; g < p->gene_count; g++)
            json_array_append_new(genome, json_integer(p->genomes[i * p->gene_count + g]));
        json_array_append_new(rows, json_pack("{s:o, s:o, s:I, s:o, s:o}", "genome", genome, "observed",
                                              number_or_null(p->mean[i]), "count", (json_int_t)p->count[i],
                                              "mean", number_or_null(model->heldout_mean[i]), "std",
                                              number_or_null(model->heldout_std[i])));
    }
    return rows;
}

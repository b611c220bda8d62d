/*
 * predict.c — the predictor of one request (see predict.h).
 */
#include "predict.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fm_predictor_release(fm_predictor *p)
{
    for (size_t i = 0; i < p->n; i++)
        fm_model_release(p->models[i]);
    p->n = 0;
    free(p->mean);
    free(p->std);
    p->mean = p->std = NULL;
    p->rows = 0;
}

int fm_predictor_init(fm_predictor *p, fm_space *s, const char *fidelity)
{
    memset(p, 0, sizeof *p);
    p->space = s;
    /* The metrics the space has observations of, in first-seen order. */
    p->n = fm_obs_metrics(s->obs, p->metric, FM_MAX_METRICS);
    for (size_t i = 0; i < p->n; i++) {
        char *fid = p->fidelity[i];
        if (fidelity)
            snprintf(fid, FM_NAME_MAX, "%s", fidelity);
        else if (fm_obs_busiest_fidelity(s->obs, p->metric[i], fid, FM_NAME_MAX))
            fid[0] = '\0';
        p->models[i] = fid[0] ? fm_models_get(s->models, p->metric[i], fid) : NULL;
        if (!p->models[i] && fid[0] && fidelity && fm_obs_count(s->obs, p->metric[i], fid) == 0)
            snprintf(p->reason[i], sizeof p->reason[0], "no observation of %s at fidelity %s", p->metric[i], fid);
        else if (!p->models[i])
            snprintf(p->reason[i], sizeof p->reason[0], "%s%s%s",
                     fid[0] ? "no surrogate fitted yet at fidelity " : "no observations", fid, fid[0] ? " (a fit is on its way)" : "");
        else if (!p->models[i]->fitted)
            snprintf(p->reason[i], sizeof p->reason[0], "%s", p->models[i]->reason);
    }
    return 0;
}

int fm_predictor_find(const fm_predictor *p, const char *metric)
{
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(p->metric[i], metric))
            return (int)i;
    return -1;
}

int fm_predictor_run(fm_predictor *p, const int *genomes, const lut_space_totals *totals, size_t rows)
{
    free(p->mean);
    free(p->std);
    size_t cells = p->n * rows;
    p->rows = rows;
    p->mean = malloc((cells ? cells : 1) * sizeof *p->mean);
    p->std = malloc((cells ? cells : 1) * sizeof *p->std);
    if (!p->mean || !p->std) {
        free(p->mean);
        free(p->std);
        p->mean = p->std = NULL;
        p->rows = 0;
        return LUT_ENOMEM;
    }
    for (size_t i = 0; i < p->n; i++) {
        double *mean = p->mean + i * rows, *std = p->std + i * rows;
        if (p->models[i] && p->models[i]->fitted &&
            fm_model_predict_many(p->models[i], p->space->space, genomes, totals, rows, mean, std) == 0)
            continue;
        for (size_t r = 0; r < rows; r++)
            mean[r] = std[r] = NAN;
    }
    return 0;
}

int fm_predictor_get(const fm_predictor *p, size_t r, int i, double *mean, double *std)
{
    if (i < 0 || (size_t)i >= p->n || r >= p->rows)
        return -1;
    *mean = p->mean[(size_t)i * p->rows + r];
    *std = p->std[(size_t)i * p->rows + r];
    return isfinite(*mean) && isfinite(*std) ? 0 : -1;
}

void fm_predictor_annotate(const fm_predictor *p, size_t r, json_t *result)
{
    if (p->n == 0) {
        json_object_set_new(result, "predicted", json_null());
        json_object_set_new(result, "predicted_reason", json_string("the space has no observations yet"));
        return;
    }
    json_t *pred = json_object(), *reasons = NULL;
    for (size_t i = 0; i < p->n; i++) {
        double mean, std;
        if (fm_predictor_get(p, r, (int)i, &mean, &std) == 0) {
            json_object_set_new(pred, p->metric[i], fm_prediction_json(p->models[i], mean, std));
            continue;
        }
        json_object_set_new(pred, p->metric[i], json_null());
        if (!reasons)
            reasons = json_object();
        json_object_set_new(reasons, p->metric[i],
                            json_string(p->reason[i][0] ? p->reason[i] : "the prediction failed"));
    }
    json_object_set_new(result, "predicted", pred);
    if (reasons)
        json_object_set_new(result, "predicted_reasons", reasons);
}

void fm_predictor_write(const fm_predictor *p, size_t r, fm_jw *w)
{
    fm_jw_key(w, "predicted");
    if (p->n == 0) {
        fm_jw_null(w);
        fm_jw_key(w, "predicted_reason");
        fm_jw_string(w, "the space has no observations yet");
        return;
    }
    int failed = 0;
    fm_jw_object(w);
    for (size_t i = 0; i < p->n; i++) {
        double mean, std;
        fm_jw_key(w, p->metric[i]);
        if (fm_predictor_get(p, r, (int)i, &mean, &std)) {
            fm_jw_null(w);
            failed = 1;
            continue;
        }
        fm_jw_object(w);
        fm_jw_key(w, "mean");
        fm_jw_real(w, mean);
        fm_jw_key(w, "std");
        fm_jw_real(w, std);
        fm_jw_key(w, "fidelity");
        fm_jw_string(w, p->models[i]->fidelity);
        fm_jw_key(w, "model_version");
        fm_jw_int(w, (int64_t)p->models[i]->version);
        fm_jw_object_end(w);
    }
    fm_jw_object_end(w);
    if (!failed)
        return;
    fm_jw_key(w, "predicted_reasons");
    fm_jw_object(w);
    for (size_t i = 0; i < p->n; i++) {
        double mean, std;
        if (fm_predictor_get(p, r, (int)i, &mean, &std) == 0)
            continue;
        fm_jw_key(w, p->metric[i]);
        fm_jw_string(w, p->reason[i][0] ? p->reason[i] : "the prediction failed");
    }
    fm_jw_object_end(w);
}

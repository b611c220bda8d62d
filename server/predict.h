/*
 * predict.h — the predictions of one request: for every metric a space has
 * observations of, the current model at the chosen fidelity (taken once
 * per request, so a whole batch sees one model version per metric).
 */
#ifndef FMAS_SERVER_PREDICT_H
#define FMAS_SERVER_PREDICT_H

#include <jansson.h>

#include "http.h"
#include "models.h"
#include "spaces.h"

#define FM_MAX_METRICS 16

typedef struct fm_predictor {
    fm_space *space;                        /* borrowed */
    size_t n;
    char metric[FM_MAX_METRICS][FM_NAME_MAX];
    char fidelity[FM_MAX_METRICS][FM_NAME_MAX]; /* "" when unknown */
    fm_model *models[FM_MAX_METRICS];       /* references, or NULL */
    char reason[FM_MAX_METRICS][160];       /* why a metric has no prediction */
} fm_predictor;

/* fidelity NULL: per metric, the fidelity with the most observations. */
int fm_predictor_init(fm_predictor *p, fm_server *srv, fm_space *s, const char *fidelity);
void fm_predictor_release(fm_predictor *p);

/* Index of a metric in p, or -1. */
int fm_predictor_find(const fm_predictor *p, const char *metric);
/* Mean and std of metric i for a genome; -1 without a fitted model. */
int fm_predict_metric(const fm_predictor *p, int i, const int *genome, double *mean, double *std);
/* Add "predicted" (and "predicted_reasons" / "predicted_reason") to result. */
void fm_predictor_annotate(const fm_predictor *p, const int *genome, json_t *result);

/* ?fidelity= checked; answers 400 and returns -1 if it is not a name. */
int fm_fidelity_param(fm_request *rq, fm_response *rs, const char **out);

#endif

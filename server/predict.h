/*
 * predict.h — the predictions of one request: for every metric a space has
 * observations of, the current model at the chosen fidelity (taken once
 * per request, so a whole batch sees one model version per metric), and
 * the predictions of all the request's genomes, made in one batch per
 * metric.
 */
#ifndef FMAS_SERVER_PREDICT_H
#define FMAS_SERVER_PREDICT_H

#include <jansson.h>

#include "jsonw.h"
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
    size_t rows;                            /* rows of the last fm_predictor_run */
    double *mean, *std;                     /* n x rows, metric-major */
} fm_predictor;

/* fidelity NULL: per metric, the fidelity with the most observations. */
int fm_predictor_init(fm_predictor *p, fm_space *s, const char *fidelity);
void fm_predictor_release(fm_predictor *p);

/* Index of a metric in p, or -1. */
int fm_predictor_find(const fm_predictor *p, const char *metric);

/*
 * Predict every metric for rows genomes (rows x gene_count) in one batch
 * per metric. totals (rows, may be NULL) are the genomes' costs when the
 * caller has them (builder spaces), so that no genome is costed twice.
 * Returns 0 or LUT_ENOMEM.
 */
int fm_predictor_run(fm_predictor *p, const int *genomes, const lut_space_totals *totals, size_t rows);

/* Mean and std of metric i for row r of the last run; -1 without one. */
int fm_predictor_get(const fm_predictor *p, size_t r, int i, double *mean, double *std);

/* Add "predicted" (and "predicted_reasons" / "predicted_reason") of row r
 * of the last run to result. */
void fm_predictor_annotate(const fm_predictor *p, size_t r, json_t *result);

/* The same members, "predicted" and its reasons, written into the object
 * w is in (the text json_dumps gives for the annotated object). */
void fm_predictor_write(const fm_predictor *p, size_t r, fm_jw *w);

#endif

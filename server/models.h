/*
 * models.h — the registry of fitted accuracy surrogates of one space, per
 * (metric, fidelity), and what a fitted model answers.
 *
 * A fitted model is immutable and counted: readers take a reference
 * (fm_models_get) and use it while a newer one is swapped in
 * (fm_models_put), so a prediction never sees a half-built model. Models
 * are made by the fitter (fitter.h); this registry only keeps them.
 */
#ifndef FMAS_SERVER_MODELS_H
#define FMAS_SERVER_MODELS_H

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "observations.h"
#include "space.h"
#include "sur.h"

typedef struct fm_cv {
    char model[16];
    sur_cv cv;
} fm_cv;

typedef struct fm_model {
    atomic_int refs;
    char metric[FM_NAME_MAX];
    char fidelity[FM_NAME_MAX];
    uint64_t version;
    int64_t fitted_ms;
    double fit_seconds;
    size_t n;            /* observations used */
    size_t distinct;     /* distinct genomes */
    int fitted;          /* 0: no model (too few observations, or the fit failed) */
    int failed;          /* the fit was tried and failed (reason says why) */
    char reason[160];    /* why not fitted */
    sur_model *model;    /* the chosen model, when fitted */
    sur_features *features;
    lut_space_coster *coster; /* MACs and params for the features (builder spaces) */
    fm_cv candidates[SUR_N_KINDS];
    size_t ncandidates;
    /* When fitted: the rows it was fitted on (distinct genomes, mean and
     * count of their repeats; nq = 1) and each row's held-out CV
     * prediction (mean, predictive std), the numbers cv was computed from. */
    fm_obs_points points;
    double *heldout_mean;
    double *heldout_std;
} fm_model;

typedef struct fm_models fm_models;

fm_models *fm_models_new(void);
void fm_models_free(fm_models *m);

/* A reference to the current model of (metric, fidelity), or NULL. */
fm_model *fm_models_get(fm_models *m, const char *metric, const char *fidelity);

/* The version of the current model of (metric, fidelity), 0 if none. */
uint64_t fm_models_version(fm_models *m, const char *metric, const char *fidelity);

/* Swap model in for its (metric, fidelity), atomically for readers; takes
 * the caller's reference (out of memory: the old model stays). */
void fm_models_put(fm_models *m, fm_model *model);

/* A new empty model with one reference; NULL when out of memory. */
fm_model *fm_model_new(const char *metric, const char *fidelity, uint64_t version);
void fm_model_retain(fm_model *model);
void fm_model_release(fm_model *model);

/*
 * The feature row of a genome (canonical) for model's features: its genes,
 * plus log MACs and log params on builder spaces, taken from tot when given
 * (costs the caller already has) or costed with the model's coster.
 */
int fm_model_encode(const fm_model *model, const int *genome, const lut_space_totals *tot,
                    double *row);

/*
 * Mean and standard deviation predicted (in metric units) for n genomes
 * (n x gene_count, any spelling: they are canonicalized here). totals (n,
 * may be NULL) are their costs when the caller has them. A row that cannot
 * be predicted gets NaN. Returns 0, or -1 when the model is not fitted or
 * memory ran out.
 */
int fm_model_predict_many(const fm_model *model, const lut_space *space, const int *genomes,
                          const lut_space_totals *totals, size_t n, double *mean, double *std);

/* {"mean", "std", "fidelity", "model_version"} of a prediction. */
json_t *fm_prediction_json(const fm_model *model, double mean, double std);

/* The surrogate object of docs/api.md (status, n, model, version, cv...). */
json_t *fm_model_json(const fm_model *model, const char *space_id, size_t min_observations);

/* The held-out CV predictions of a fitted model as docs/api.md's
 * "heldout" array ({genome, observed, count, mean, std} per distinct
 * genome); an empty array when the model is not fitted. */
json_t *fm_model_heldout_json(const fm_model *model);

#endif

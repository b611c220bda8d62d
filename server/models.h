/*
 * models.h — fitted accuracy surrogates per (space, metric, fidelity), and
 * the background fitter that keeps them current.
 *
 * A fitted model is immutable and counted: readers take a reference
 * (fm_models_get) and use it while the fitter swaps a newer one in, so an
 * estimate never sees a half-built model. Fitting never runs on an HTTP
 * thread: observations schedule a debounced refit on the fitter thread, and
 * POST .../surrogate:fit waits for the fitter to finish one.
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

struct fm_space;
struct fm_server;

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
    fm_cv candidates[4];
    size_t ncandidates;
} fm_model;

typedef struct fm_models fm_models;

fm_models *fm_models_new(void);
void fm_models_free(fm_models *m);

/* A reference to the current model of (metric, fidelity), or NULL. */
fm_model *fm_models_get(fm_models *m, const char *metric, const char *fidelity);
void fm_model_release(fm_model *model);

/*
 * Mean and standard deviation predicted for a genome (in metric units).
 * Returns 0, or -1 when the model is not fitted.
 */
int fm_model_predict(const fm_model *model, const lut_space *space, const int *genome,
                     double *mean, double *std);

/* {"mean", "std", "fidelity", "model_version"} of a prediction. */
json_t *fm_prediction_json(const fm_model *model, double mean, double std);

/* The surrogate object of docs/api.md (status, n, model, version, cv...). */
json_t *fm_model_json(const fm_model *model, const char *space_id, size_t min_observations);

/* ---------------------------------------------------------------- fitter */

typedef struct fm_fitter fm_fitter;

/* Start the fitter thread. delay_ms debounces refits after observations;
 * models need min_observations distinct genomes. */
int fm_fitter_start(fm_fitter **out, unsigned delay_ms, size_t min_observations);
/* Finish the current fit, drop pending ones, join the thread. */
void fm_fitter_stop(fm_fitter *f);

size_t fm_fitter_min_observations(const fm_fitter *f);

/* Schedule a refit of (space, metric, fidelity) delay_ms from now (or
 * right away when now is set); a later call for the same triple moves the
 * due time instead of queueing twice. Holds a reference to the space. */
void fm_fitter_schedule(fm_fitter *f, struct fm_space *s, const char *metric,
                        const char *fidelity, int now);

/* Fit now on the fitter thread and wait until it is done. Returns 0 and a
 * reference to the new model, or an error code. */
int fm_fitter_fit_wait(fm_fitter *f, struct fm_space *s, const char *metric,
                       const char *fidelity, fm_model **out);

/* The fidelity with the most observations of metric in s, into buf; 0 if
 * there is one, -1 if the metric has no observation. */
int fm_obs_busiest_fidelity(struct fm_space *s, const char *metric, char *buf, size_t size);

/* Observations of (metric, fidelity) in s. */
size_t fm_obs_busiest_fidelity_count(struct fm_space *s, const char *metric, const char *fidelity);

#endif

/*
 * fitter.h — the background fitter that keeps the surrogates of every
 * space current.
 *
 * Fitting never runs on an HTTP thread: observations schedule a debounced
 * refit on the fitter thread, and POST .../surrogate:fit waits for the
 * fitter to finish one. Each fit reads the space's observations
 * (fm_obs_distinct), builds a model and swaps it into the space's registry
 * (fm_models_put).
 */
#ifndef FMAS_SERVER_FITTER_H
#define FMAS_SERVER_FITTER_H

#include <stddef.h>

#include "models.h"

struct fm_space;
struct fm_spaces;

typedef struct fm_fitter fm_fitter;

/* Start the fitter thread. delay_ms debounces refits after observations;
 * models need min_observations distinct genomes. */
int fm_fitter_start(fm_fitter **out, unsigned delay_ms, size_t min_observations);
/* Stop taking fits and cancel the current one (it ends at its next poll:
 * a fold, a tree or a likelihood evaluation); fits waited for answer with
 * no model at once. Does not wait; the thread may still be ending. */
void fm_fitter_cancel(fm_fitter *f);
/* fm_fitter_cancel, then drop pending fits and join the thread. */
void fm_fitter_stop(fm_fitter *f);

size_t fm_fitter_min_observations(const fm_fitter *f);

/* Schedule a refit of (space, metric, fidelity) delay_ms from now (or
 * right away when now is set); a later call for the same triple moves the
 * due time instead of queueing twice. Holds a reference to the space. */
void fm_fitter_schedule(fm_fitter *f, struct fm_space *s, const char *metric,
                        const char *fidelity, int now);

/* Schedule a fit, right away, of every (space, metric, fidelity) with
 * stored observations (after start-up, or a new snapshot on a replica). */
void fm_fitter_schedule_stored(fm_fitter *f, struct fm_spaces *spaces);

/* Fit now on the fitter thread and wait until it is done. Returns 0 and a
 * reference to the new model, or an error code. */
int fm_fitter_fit_wait(fm_fitter *f, struct fm_space *s, const char *metric,
                       const char *fidelity, fm_model **out);

#endif

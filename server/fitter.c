/*
 * fitter.c — the background fitter: one thread that fits surrogates from
 * the observations of a space and swaps them into its registry, with
 * refits after new observations debounced.
 */
#include "fitter.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spaces.h"

/* ------------------------------------------------------------ fitting */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The features of the space's genomes (plus log MACs and log params on
 * builder spaces, costed by model->coster) into model. */
static int make_features(const fm_space *s, fm_model *model)
{
    const lut_space *sp = s->space;
    size_t ng = lut_space_gene_count(sp);
    sur_gene *sg = calloc(ng ? ng : 1, sizeof *sg);
    if (!sg)
        return SUR_ENOMEM;
    for (size_t i = 0; i < ng; i++) {
        const lut_space_gene *g = lut_space_gene_at(sp, i);
        sg[i].choices = g->choices;
        sg[i].n_choices = g->n_choices;
        sg[i].unordered = !s->genes[i].ordered; /* one-hot: sur_features */
    }
    int builder = lut_space_has_builder(sp), rc = 0;
    if (builder)
        rc = lut_space_coster_build(sp, NULL, 0, &model->coster);
    if (!rc)
        rc = sur_features_create(&model->features, sg, ng, builder ? 2 : 0);
    free(sg);
    return rc;
}

/* Fit the distinct genomes pts (one query: mean and count per genome)
 * into model, keeping the cross-validation of every candidate kind. */
static int fitter_cancelled(void *ctx);

static int fit_points(fm_model *model, const fm_obs_points *pts, fm_fitter *f)
{
    size_t d = pts->n, ng = pts->gene_count, dim = sur_features_dim(model->features);
    double *x = malloc(d * dim * sizeof *x + 1);
    int rc = x ? 0 : SUR_ENOMEM;
    for (size_t i = 0; !rc && i < d; i++)
        rc = fm_model_encode(model, pts->genomes + i * ng, NULL, x + i * dim);
    if (!rc) {
        sur_data data = {.n = d, .d = dim, .x = x, .y = pts->mean, .count = pts->count};
        sur_options opt;
        sur_options_default(&opt);
        opt.cancel = fitter_cancelled;
        opt.cancel_ctx = f;
        sur_selection sel;
        model->heldout_mean = malloc(d * sizeof *model->heldout_mean + 1);
        model->heldout_std = malloc(d * sizeof *model->heldout_std + 1);
        rc = model->heldout_mean && model->heldout_std
                 ? sur_fit_best_heldout(&data, &opt, &model->model, &sel, model->heldout_mean,
                                        model->heldout_std)
                 : SUR_ENOMEM;
        for (int k = 0; rc != SUR_ENOMEM && k < SUR_N_KINDS; k++) {
            if (sel.rc[k])
                continue;
            fm_cv *c = &model->candidates[model->ncandidates++];
            snprintf(c->model, sizeof c->model, "%s", sur_kind_name((sur_kind)k));
            c->cv = sel.cv[k];
        }
    }
    free(x);
    return rc;
}

/* Fit (metric, fidelity) of s from its observations as they are now.
 * NULL: out of memory, or f was cancelled during the fit. */
static fm_model *fit_model(fm_space *s, const char *metric, const char *fidelity, size_t min_obs,
                           fm_fitter *f)
{
    double t0 = mono_s();
    fm_model *model = fm_model_new(metric, fidelity, fm_models_version(s->models, metric, fidelity) + 1);
    if (!model)
        return NULL;
    /* Rows: distinct genomes (canonical: genes of skipped blocks zeroed)
     * with the mean of their repeats. */
    fm_obs_points pts;
    fm_obs_query q = {metric, fidelity};
    if (fm_obs_distinct(s->obs, s->space, &q, 1, &pts)) {
        fm_model_release(model);
        return NULL;
    }
    model->n = pts.used;
    model->distinct = pts.n;
    size_t need = min_obs > 3 ? min_obs : 3;
    if (pts.n < need) {
        snprintf(model->reason, sizeof model->reason,
                 "%zu distinct genomes observed; the surrogate needs %zu", pts.n, need);
    } else {
        int rc = make_features(s, model);
        if (!rc)
            rc = fit_points(model, &pts, f);
        if (rc == SUR_ECANCELED) {
            fm_obs_points_free(&pts);
            fm_model_release(model);
            return NULL;
        }
        if (rc) {
            snprintf(model->reason, sizeof model->reason, "the fit failed: %s", sur_strerror(rc));
            model->failed = 1;
        } else {
            model->fitted = 1;
            model->points = pts; /* the model keeps its rows for GET ?heldout=true */
            memset(&pts, 0, sizeof pts);
        }
    }
    fm_obs_points_free(&pts);
    model->fitted_ms = now_ms();
    model->fit_seconds = mono_s() - t0;
    return model;
}

/* ------------------------------------------------------------ fitter */

typedef struct waiter {
    int done;
    fm_model *result;
} waiter;

typedef struct job {
    fm_space *space;
    char metric[FM_NAME_MAX];
    char fidelity[FM_NAME_MAX];
    double due;     /* monotonic seconds */
    waiter *w;      /* NULL for scheduled refits */
} job;

struct fm_fitter {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    job *jobs;
    size_t n, cap;
    int stop;
    unsigned delay_ms;
    size_t min_obs;
};

/* sur_options' cancel hook: the fitter is stopping. */
static int fitter_cancelled(void *ctx)
{
    fm_fitter *f = ctx;
    pthread_mutex_lock(&f->mu);
    int stop = f->stop;
    pthread_mutex_unlock(&f->mu);
    return stop;
}

size_t fm_fitter_min_observations(const fm_fitter *f)
{
    return f->min_obs;
}

static void *fitter_main(void *arg)
{
    fm_fitter *f = arg;
    pthread_mutex_lock(&f->mu);
    while (!f->stop) {
        if (f->n == 0) {
            pthread_cond_wait(&f->wake, &f->mu);
            continue;
        }
        size_t next = 0;
        for (size_t i = 1; i < f->n; i++)
            if (f->jobs[i].due < f->jobs[next].due)
                next = i;
        double now = mono_s();
        if (f->jobs[next].due > now) {
            double due = f->jobs[next].due;
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            double wait = due - now;
            ts.tv_sec += (time_t)wait;
            ts.tv_nsec += (long)((wait - (double)(time_t)wait) * 1e9);
            if (ts.tv_nsec >= 1000000000L)
                ts.tv_sec++, ts.tv_nsec -= 1000000000L;
            pthread_cond_timedwait(&f->wake, &f->mu, &ts);
            continue;
        }
        job j = f->jobs[next];
        f->jobs[next] = f->jobs[--f->n];
        pthread_mutex_unlock(&f->mu);

        fm_model *m = fit_model(j.space, j.metric, j.fidelity, f->min_obs, f);
        if (m) {
            fm_model_retain(m);
            fm_models_put(j.space->models, m);
        }

        pthread_mutex_lock(&f->mu);
        if (j.w) {
            j.w->result = m;
            j.w->done = 1;
            pthread_cond_broadcast(&f->done);
        } else {
            fm_model_release(m);
        }
        pthread_mutex_unlock(&f->mu);
        fm_spaces_release(j.space);
        pthread_mutex_lock(&f->mu);
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

int fm_fitter_start(fm_fitter **out, unsigned delay_ms, size_t min_observations)
{
    fm_fitter *f = calloc(1, sizeof *f);
    if (!f)
        return ENOMEM;
    f->delay_ms = delay_ms;
    f->min_obs = min_observations;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->wake, &ca);
    pthread_cond_init(&f->done, NULL);
    pthread_condattr_destroy(&ca);
    int rc = pthread_create(&f->thread, NULL, fitter_main, f);
    if (rc) {
        free(f);
        return rc;
    }
    *out = f;
    return 0;
}

void fm_fitter_cancel(fm_fitter *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    f->stop = 1;
    for (size_t i = 0; i < f->n; i++) {
        if (f->jobs[i].w)
            f->jobs[i].w->done = 1;
        f->jobs[i].w = NULL;
    }
    pthread_cond_broadcast(&f->wake);
    pthread_cond_broadcast(&f->done);
    pthread_mutex_unlock(&f->mu);
}

void fm_fitter_stop(fm_fitter *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    f->stop = 1;
    pthread_cond_broadcast(&f->wake);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->thread, NULL);
    for (size_t i = 0; i < f->n; i++) {
        if (f->jobs[i].w)
            f->jobs[i].w->done = 1;
        fm_spaces_release(f->jobs[i].space);
    }
    pthread_cond_broadcast(&f->done);
    free(f->jobs);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->wake);
    pthread_cond_destroy(&f->done);
    free(f);
}

static int push_locked(fm_fitter *f, fm_space *s, const char *metric, const char *fidelity, double due,
                       waiter *w)
{
    if (!w)
        for (size_t i = 0; i < f->n; i++)
            if (!f->jobs[i].w && f->jobs[i].space == s && !strcmp(f->jobs[i].metric, metric) &&
                !strcmp(f->jobs[i].fidelity, fidelity)) {
                f->jobs[i].due = due; /* debounce: the latest batch decides */
                return 0;
            }
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 16;
        job *p = realloc(f->jobs, cap * sizeof *p);
        if (!p)
            return ENOMEM;
        f->jobs = p;
        f->cap = cap;
    }
    job *j = &f->jobs[f->n++];
    memset(j, 0, sizeof *j);
    j->space = fm_spaces_retain(s);
    snprintf(j->metric, sizeof j->metric, "%s", metric);
    snprintf(j->fidelity, sizeof j->fidelity, "%s", fidelity);
    j->due = due;
    j->w = w;
    pthread_cond_signal(&f->wake);
    return 0;
}

void fm_fitter_schedule(fm_fitter *f, fm_space *s, const char *metric, const char *fidelity, int now)
{
    pthread_mutex_lock(&f->mu);
    if (!f->stop)
        push_locked(f, s, metric, fidelity, mono_s() + (now ? 0 : f->delay_ms / 1000.0), NULL);
    pthread_mutex_unlock(&f->mu);
}

int fm_fitter_fit_wait(fm_fitter *f, fm_space *s, const char *metric, const char *fidelity, fm_model **out)
{
    waiter w = {0, NULL};
    pthread_mutex_lock(&f->mu);
    int rc = f->stop ? ECANCELED : push_locked(f, s, metric, fidelity, mono_s(), &w);
    while (!rc && !w.done)
        pthread_cond_wait(&f->done, &f->mu);
    pthread_mutex_unlock(&f->mu);
    if (!rc && !w.result)
        rc = ENOMEM;
    *out = w.result;
    return rc;
}

void fm_fitter_schedule_stored(fm_fitter *f, fm_spaces *spaces)
{
    fm_space **all;
    size_t n;
    if (fm_spaces_list(spaces, &all, &n))
        return;
    for (size_t i = 0; i < n; i++) {
        fm_obs_pair *pairs = NULL;
        size_t np = 0;
        if (fm_obs_pairs(all[i]->obs, &pairs, &np) == 0)
            for (size_t j = 0; j < np; j++)
                fm_fitter_schedule(f, all[i], pairs[j].metric, pairs[j].fidelity, 1);
        free(pairs);
        fm_spaces_release(all[i]);
    }
    free(all);
}

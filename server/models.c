/*
 * models.c — per-space surrogate registry and the background fitter.
 */
#include "models.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spaces.h"

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
    free(model);
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

/* Swap a new model in for its (metric, fidelity); takes the reference. */
static void models_put(fm_models *m, fm_model *model)
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

static uint64_t previous_version(fm_models *m, const char *metric, const char *fidelity)
{
    fm_model *old = fm_models_get(m, metric, fidelity);
    uint64_t v = old ? old->version : 0;
    fm_model_release(old);
    return v;
}

/* ------------------------------------------------------------ features */

/* Per-genome extra features of builder spaces: log MACs and log params. */
static int genome_extra(const fm_model *model, const int *genome, double extra[2])
{
    if (!model->coster)
        return 0;
    lut_space_totals tot;
    int rc = lut_space_cost(model->coster, genome, &tot, NULL);
    if (rc)
        return rc;
    extra[0] = log1p((double)tot.macs);
    extra[1] = log1p((double)tot.params);
    return 0;
}

int fm_model_predict(const fm_model *model, const lut_space *space, const int *genome, double *mean, double *std)
{
    if (!model || !model->fitted)
        return -1;
    /* Genomes of one network predict alike: genes of skipped blocks are
     * zeroed, as they were for fitting. */
    size_t ng = lut_space_gene_count(space);
    int gbuf[256];
    int *g = ng <= 256 ? gbuf : malloc(ng * sizeof *g);
    size_t dim = sur_features_dim(model->features);
    double row[512], extra[2] = {0, 0};
    double *x = dim <= 512 ? row : malloc(dim * sizeof *x);
    if (!x || !g) {
        if (x != row)
            free(x);
        if (g != gbuf)
            free(g);
        return -1;
    }
    memcpy(g, genome, ng * sizeof *g);
    lut_space_genome_canonicalize(space, g);
    int rc = genome_extra(model, g, extra);
    if (!rc)
        rc = sur_features_encode(model->features, g, model->coster ? extra : NULL, x);
    if (g != gbuf)
        free(g);
    if (!rc)
        rc = sur_predict(model->model, x, 1, mean, std, NULL);
    if (x != row)
        free(x);
    return rc ? -1 : 0;
}

json_t *fm_prediction_json(const fm_model *model, double mean, double std)
{
    return json_pack("{s:f, s:f, s:s, s:I}", "mean", mean, "std", std, "fidelity", model->fidelity,
                     "model_version", (json_int_t)model->version);
}

static json_t *cv_json(const sur_cv *cv)
{
    /* NaN is not JSON: an undefined figure is null. */
    double v[] = {cv->kendall_tau, cv->spearman_rho, cv->rmse, cv->coverage_1sigma, cv->coverage_2sigma};
    const char *names[] = {"kendall_tau", "spearman_rho", "rmse", "coverage_1sigma", "coverage_2sigma"};
    json_t *o = json_pack("{s:i}", "folds", (int)cv->folds);
    for (size_t i = 0; i < 5; i++)
        json_object_set_new(o, names[i], isfinite(v[i]) ? json_real(v[i]) : json_null());
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

/* Rows to sort by genome carry their gene count first: [ng, genome..., value]. */
static int genome_cmp(const void *a, const void *b)
{
    const int *x = a, *y = b;
    return memcmp(x + 1, y + 1, (size_t)x[0] * sizeof(int));
}

/* Is gene i of the space unordered? (categorical definitions may say so) */
static int gene_unordered(const fm_space *s, size_t i)
{
    json_t *genes = json_object_get(s->definition, "genes");
    json_t *g = json_array_get(genes, i);
    json_t *ordered = json_object_get(g, "ordered");
    return json_is_false(ordered);
}

/* Fit (metric, fidelity) of s from its observations as they are now. */
static fm_model *fit_model(fm_space *s, const char *metric, const char *fidelity, size_t min_obs)
{
    const lut_space *sp = s->space;
    size_t ng = lut_space_gene_count(sp);
    double t0 = mono_s();
    fm_model *model = calloc(1, sizeof *model);
    if (!model)
        return NULL;
    atomic_init(&model->refs, 1);
    snprintf(model->metric, sizeof model->metric, "%s", metric);
    snprintf(model->fidelity, sizeof model->fidelity, "%s", fidelity);
    model->version = previous_version(s->models, metric, fidelity) + 1;

    /* Rows: genome (canonical: genes of skipped blocks zeroed) + value. */
    /* [ng, genome..., value]: the value takes the room of two ints. */
    size_t stride = 1 + ng + sizeof(double) / sizeof(int);
    int *rows = NULL;
    size_t n = 0;
    pthread_rwlock_rdlock(&s->obs.lock);
    rows = malloc((s->obs.n ? s->obs.n : 1) * stride * sizeof *rows);
    for (size_t i = 0; rows && i < s->obs.n; i++) {
        const fm_obs *o = &s->obs.items[i];
        if (strcmp(o->metric, metric) || strcmp(o->fidelity, fidelity))
            continue;
        int *r = rows + n * stride;
        r[0] = (int)ng;
        memcpy(r + 1, o->genome, ng * sizeof *r);
        lut_space_genome_canonicalize(sp, r + 1);
        memcpy(r + 1 + ng, &o->value, sizeof(double));
        n++;
    }
    pthread_rwlock_unlock(&s->obs.lock);
    if (!rows) {
        free(model);
        return NULL;
    }
    qsort(rows, n, stride * sizeof *rows, genome_cmp);

    /* Distinct genomes with the mean of their repeats. */
    int *genomes = malloc((n ? n : 1) * ng * sizeof *genomes + 1);
    double *y = malloc((n ? n : 1) * sizeof *y);
    size_t *count = malloc((n ? n : 1) * sizeof *count);
    size_t d = 0;
    for (size_t i = 0; genomes && y && count && i < n; i++) {
        int *r = rows + i * stride + 1;
        double v;
        memcpy(&v, r + ng, sizeof v);
        if (d > 0 && !memcmp(genomes + (d - 1) * ng, r, ng * sizeof *r)) {
            y[d - 1] += v;
            count[d - 1]++;
            continue;
        }
        memcpy(genomes + d * ng, r, ng * sizeof *r);
        y[d] = v;
        count[d] = 1;
        d++;
    }
    for (size_t i = 0; y && count && i < d; i++)
        y[i] /= (double)count[i];
    free(rows);
    model->n = n;
    model->distinct = d;

    int rc = (genomes && y && count) ? 0 : SUR_ENOMEM;
    if (!rc && d < (min_obs > 3 ? min_obs : 3)) {
        snprintf(model->reason, sizeof model->reason,
                 "%zu distinct genomes observed; the surrogate needs %zu", d, min_obs > 3 ? min_obs : 3);
        goto done;
    }
    /* Features: genes, plus log MACs and log params for builder spaces. */
    sur_gene *sg = rc ? NULL : calloc(ng ? ng : 1, sizeof *sg);
    if (!rc && !sg)
        rc = SUR_ENOMEM;
    for (size_t i = 0; !rc && i < ng; i++) {
        const lut_space_gene *g = lut_space_gene_at(sp, i);
        sg[i].choices = g->choices;
        sg[i].n_choices = g->n_choices;
        sg[i].unordered = gene_unordered(s, i);
    }
    int builder = lut_space_has_builder(sp);
    if (!rc && builder)
        rc = lut_space_coster_build(sp, NULL, 0, &model->coster);
    if (!rc)
        rc = sur_features_create(&model->features, sg, ng, builder ? 2 : 0);
    free(sg);
    size_t dim = rc ? 0 : sur_features_dim(model->features);
    double *x = rc ? NULL : malloc(d * dim * sizeof *x + 1);
    if (!rc && !x)
        rc = SUR_ENOMEM;
    for (size_t i = 0; !rc && i < d; i++) {
        double extra[2] = {0, 0};
        rc = genome_extra(model, genomes + i * ng, extra);
        if (!rc)
            rc = sur_features_encode(model->features, genomes + i * ng, builder ? extra : NULL, x + i * dim);
    }
    if (!rc) {
        sur_data data = {.n = d, .d = dim, .x = x, .y = y, .count = count};
        sur_options opt;
        sur_options_default(&opt);
        sur_selection sel;
        rc = sur_fit_best(&data, &opt, &model->model, &sel);
        for (int k = 0; k < SUR_N_KINDS; k++) {
            if (sel.rc[k])
                continue;
            fm_cv *c = &model->candidates[model->ncandidates++];
            snprintf(c->model, sizeof c->model, "%s", sur_kind_name((sur_kind)k));
            c->cv = sel.cv[k];
        }
    }
    free(x);
    if (rc) {
        snprintf(model->reason, sizeof model->reason, "the fit failed: %s", sur_strerror(rc));
        model->failed = 1;
    } else
        model->fitted = 1;
done:
    free(genomes);
    free(y);
    free(count);
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

        fm_model *m = fit_model(j.space, j.metric, j.fidelity, f->min_obs);
        if (m) {
            atomic_fetch_add(&m->refs, 1);
            models_put(j.space->models, m);
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
    atomic_fetch_add(&s->refs, 1);
    j->space = s;
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

int fm_obs_busiest_fidelity(fm_space *s, const char *metric, char *buf, size_t size)
{
    /* Count per fidelity; few distinct fidelities, so a small linear table. */
    typedef struct {
        const char *name;
        size_t n;
    } tally;
    tally seen[32];
    size_t ns = 0;
    pthread_rwlock_rdlock(&s->obs.lock);
    for (size_t i = 0; i < s->obs.n; i++) {
        const fm_obs *o = &s->obs.items[i];
        if (strcmp(o->metric, metric))
            continue;
        size_t j = 0;
        while (j < ns && strcmp(seen[j].name, o->fidelity))
            j++;
        if (j == ns && ns < 32)
            seen[ns++] = (tally){o->fidelity, 0};
        if (j < ns)
            seen[j].n++;
    }
    size_t best = 0;
    for (size_t j = 1; j < ns; j++)
        if (seen[j].n > seen[best].n)
            best = j;
    if (ns)
        snprintf(buf, size, "%s", seen[best].name);
    pthread_rwlock_unlock(&s->obs.lock);
    return ns ? 0 : -1;
}

size_t fm_obs_busiest_fidelity_count(fm_space *s, const char *metric, const char *fidelity)
{
    size_t n = 0;
    pthread_rwlock_rdlock(&s->obs.lock);
    for (size_t i = 0; i < s->obs.n; i++)
        n += !strcmp(s->obs.items[i].metric, metric) && !strcmp(s->obs.items[i].fidelity, fidelity);
    pthread_rwlock_unlock(&s->obs.lock);
    return n;
}

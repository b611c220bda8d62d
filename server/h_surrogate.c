/*
 * h_surrogate.c — surrogate state and refits, predictions for estimates,
 * and screening (which candidates deserve a real evaluation).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "estimate.h"
#include "models.h"
#include "predict.h"
#include "server.h"
#include "spaces.h"

#define MAX_SCREEN_GENOMES 100000

static fm_space *space_param(fm_request *rq, fm_response *rs)
{
    fm_space *s = fm_spaces_get(&rq->srv->spaces, rq->params[0]);
    if (!s)
        fm_problem(rs, 404, "not-found", fm_err_param(NULL, "id", "no space has this id"),
                   "space \"%.80s\" not found", rq->params[0]);
    return s;
}

/* ------------------------------------------------------------ predictor */

void fm_predictor_release(fm_predictor *p)
{
    for (size_t i = 0; i < p->n; i++)
        fm_model_release(p->models[i]);
    p->n = 0;
}

int fm_predictor_init(fm_predictor *p, fm_server *srv, fm_space *s, const char *fidelity)
{
    memset(p, 0, sizeof *p);
    p->space = s;
    (void)srv;
    /* The metrics the space has observations of, in first-seen order. */
    pthread_rwlock_rdlock(&s->obs.lock);
    for (size_t i = 0; i < s->obs.n && p->n < FM_MAX_METRICS; i++) {
        const char *m = s->obs.items[i].metric;
        size_t j = 0;
        while (j < p->n && strcmp(p->metric[j], m))
            j++;
        if (j == p->n)
            snprintf(p->metric[p->n++], sizeof p->metric[0], "%s", m);
    }
    pthread_rwlock_unlock(&s->obs.lock);
    for (size_t i = 0; i < p->n; i++) {
        char *fid = p->fidelity[i];
        if (fidelity)
            snprintf(fid, FM_NAME_MAX, "%s", fidelity);
        else if (fm_obs_busiest_fidelity(s, p->metric[i], fid, FM_NAME_MAX))
            fid[0] = '\0';
        p->models[i] = fid[0] ? fm_models_get(s->models, p->metric[i], fid) : NULL;
        if (!p->models[i] && fid[0] && fidelity && fm_obs_busiest_fidelity_count(s, p->metric[i], fid) == 0)
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

int fm_predict_metric(const fm_predictor *p, int i, const int *genome, double *mean, double *std)
{
    if (i < 0 || !p->models[i] || !p->models[i]->fitted)
        return -1;
    return fm_model_predict(p->models[i], p->space->space, genome, mean, std);
}

void fm_predictor_annotate(const fm_predictor *p, const int *genome, json_t *result)
{
    if (p->n == 0) {
        json_object_set_new(result, "predicted", json_null());
        json_object_set_new(result, "predicted_reason", json_string("the space has no observations yet"));
        return;
    }
    json_t *pred = json_object(), *reasons = NULL;
    for (size_t i = 0; i < p->n; i++) {
        double mean, std;
        if (fm_predict_metric(p, (int)i, genome, &mean, &std) == 0 && isfinite(mean) && isfinite(std)) {
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

/* ?fidelity= checked; answers 400 and returns -1 if it is not a name. */
int fm_fidelity_param(fm_request *rq, fm_response *rs, const char **out)
{
    const char *f = fm_query(rq, "fidelity");
    *out = f;
    if (f && !fm_fidelity_name_valid(f)) {
        fm_problem(rs, 400, "invalid-parameter", fm_err_param(NULL, "fidelity", "must be [a-z0-9._-]{1,64}"),
                   "fidelity \"%.80s\" is not a fidelity name", f);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ surrogate */

/* metric and fidelity of a surrogate request; answers and returns -1. */
static int surrogate_params(fm_request *rq, fm_response *rs, fm_space *s, char *metric, char *fidelity)
{
    const char *m = fm_query(rq, "metric"), *f;
    if (!m || !fm_metric_name_valid(m)) {
        fm_problem(rs, 400, "invalid-parameter",
                   fm_err_param(NULL, "metric", m ? "must be [a-z0-9_]{1,64}" : "is required"),
                   "metric is required: ?metric=miou");
        return -1;
    }
    if (fm_fidelity_param(rq, rs, &f))
        return -1;
    snprintf(metric, FM_NAME_MAX, "%s", m);
    if (f)
        snprintf(fidelity, FM_NAME_MAX, "%s", f);
    else if (fm_obs_busiest_fidelity(s, m, fidelity, FM_NAME_MAX)) {
        fm_problem(rs, 404, "not-found", fm_err_param(NULL, "metric", "the space has no observation of it"),
                   "space \"%s\" has no observation of metric %s", lut_space_id(s->space), m);
        return -1;
    }
    /* Some observation of the pair must exist. */
    int any = 0;
    pthread_rwlock_rdlock(&s->obs.lock);
    for (size_t i = 0; i < s->obs.n && !any; i++)
        any = !strcmp(s->obs.items[i].metric, metric) && !strcmp(s->obs.items[i].fidelity, fidelity);
    pthread_rwlock_unlock(&s->obs.lock);
    if (!any) {
        fm_problem(rs, 404, "not-found",
                   fm_err_param(NULL, f ? "fidelity" : "metric", "no observation has this metric and fidelity"),
                   "space \"%s\" has no observation of %s at fidelity %s", lut_space_id(s->space), metric, fidelity);
        return -1;
    }
    return 0;
}

void h_surrogate_get(fm_request *rq, fm_response *rs)
{
    fm_space *s = space_param(rq, rs);
    if (!s)
        return;
    char metric[FM_NAME_MAX], fidelity[FM_NAME_MAX];
    if (surrogate_params(rq, rs, s, metric, fidelity) == 0) {
        fm_model *m = fm_models_get(s->models, metric, fidelity);
        if (!m && fm_fitter_fit_wait(rq->srv->fitter, s, metric, fidelity, &m))
            m = NULL;
        if (m)
            fm_respond_json(rs, 200, fm_model_json(m, lut_space_id(s->space), fm_fitter_min_observations(rq->srv->fitter)));
        else
            fm_problem(rs, 503, "unavailable", NULL, "the surrogate could not be fitted now");
        fm_model_release(m);
    }
    fm_spaces_release(s);
}

void h_surrogate_fit(fm_request *rq, fm_response *rs)
{
    fm_space *s = space_param(rq, rs);
    if (!s)
        return;
    char metric[FM_NAME_MAX], fidelity[FM_NAME_MAX];
    if (surrogate_params(rq, rs, s, metric, fidelity) == 0) {
        fm_model *m = NULL;
        if (fm_fitter_fit_wait(rq->srv->fitter, s, metric, fidelity, &m) == 0 && m)
            fm_respond_json(rs, 200, fm_model_json(m, lut_space_id(s->space), fm_fitter_min_observations(rq->srv->fitter)));
        else
            fm_problem(rs, 503, "unavailable", NULL, "the service is stopping or out of memory");
        fm_model_release(m);
    }
    fm_spaces_release(s);
}

/* ------------------------------------------------------------ screening */

enum cost_kind { COST_MACS, COST_FLOPS, COST_PARAMS, COST_LATENCY };

typedef struct cost_col {
    enum cost_kind kind;
    int device; /* index into the request's tables, for latency */
} cost_col;

typedef struct screen_req {
    cost_col cols[64];
    size_t ncols;
    size_t cost_obj[32];
    sur_goal cost_goal[32];
    size_t ncost_obj;
    char metric[16][FM_NAME_MAX];
    sur_goal metric_goal[16];
    int metric_idx[16]; /* into the predictor */
    size_t nmetric;
    sur_constraint cons[32];
    char cons_unit[32][8]; /* "" (ms) or the device unit to convert from */
    size_t ncons;
    char devices[64][LUT_NAME_MAX];
    char device_at[64][96]; /* the pointer that first named each device */
    size_t ndevices;
    char first_cost_at[48]; /* the first objective or constraint naming a cost */
} screen_req;

static int fail(fm_response *rs, const char *pointer, const char *reason)
{
    fm_problem(rs, 422, "invalid-field", fm_err_pointer(NULL, pointer, reason), "%s: %s", pointer, reason);
    return -1;
}

/* The column of a cost named by an objective or constraint object. */
static int cost_column(screen_req *r, json_t *o, const char *base, fm_response *rs, size_t *col)
{
    char p[96];
    const char *cost = json_string_value(json_object_get(o, "cost"));
    enum cost_kind kind;
    if (!strcmp(cost, "macs"))
        kind = COST_MACS;
    else if (!strcmp(cost, "flops"))
        kind = COST_FLOPS;
    else if (!strcmp(cost, "params"))
        kind = COST_PARAMS;
    else if (!strcmp(cost, "latency"))
        kind = COST_LATENCY;
    else {
        snprintf(p, sizeof p, "%s/cost", base);
        return fail(rs, p, "must be latency, macs, flops or params");
    }
    int dev = -1;
    json_t *d = json_object_get(o, "device");
    if (kind == COST_LATENCY) {
        snprintf(p, sizeof p, "%s/device", base);
        if (!json_is_string(d) || !lut_device_name_valid(json_string_value(d)))
            return fail(rs, p, d ? "must be a device name" : "is required for latency");
        size_t j = 0;
        while (j < r->ndevices && strcmp(r->devices[j], json_string_value(d)))
            j++;
        if (j == r->ndevices) {
            if (r->ndevices == 64)
                return fail(rs, p, "at most 64 devices");
            snprintf(r->device_at[r->ndevices], sizeof r->device_at[0], "%s", p);
            snprintf(r->devices[r->ndevices++], LUT_NAME_MAX, "%s", json_string_value(d));
        }
        dev = (int)j;
    } else if (d) {
        snprintf(p, sizeof p, "%s/device", base);
        return fail(rs, p, "only latency takes a device");
    }
    if (!r->first_cost_at[0])
        snprintf(r->first_cost_at, sizeof r->first_cost_at, "%s", base);
    for (size_t i = 0; i < r->ncols; i++)
        if (r->cols[i].kind == kind && r->cols[i].device == dev) {
            *col = i;
            return 0;
        }
    if (r->ncols == 64)
        return fail(rs, base, "too many costs");
    r->cols[r->ncols] = (cost_col){kind, dev};
    *col = r->ncols++;
    return 0;
}

static int parse_goal(json_t *g, const char *base, fm_response *rs, sur_goal *out)
{
    char p[96];
    snprintf(p, sizeof p, "%s/goal", base);
    const char *s = json_string_value(g);
    if (s && !strcmp(s, "min"))
        *out = SUR_GOAL_MIN;
    else if (s && !strcmp(s, "max"))
        *out = SUR_GOAL_MAX;
    else
        return fail(rs, p, g ? "must be \"min\" or \"max\"" : "is required");
    return 0;
}

static int only_keys(json_t *o, const char *const *keys, const char *base, fm_response *rs)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        int ok = 0;
        for (size_t i = 0; keys[i] && !ok; i++)
            ok = !strcmp(k, keys[i]);
        if (!ok) {
            char p[160];
            snprintf(p, sizeof p, "%s/%.60s", base, k);
            return fail(rs, p, "unknown field");
        }
    }
    return 0;
}

static int parse_objectives(screen_req *r, json_t *objs, fm_response *rs)
{
    if (!json_is_array(objs) || json_array_size(objs) == 0 || json_array_size(objs) > 32)
        return fail(rs, "/objectives", objs ? "must be an array of 1 to 32 objectives" : "is required");
    size_t i;
    json_t *o;
    json_array_foreach(objs, i, o) {
        char base[48];
        snprintf(base, sizeof base, "/objectives/%zu", i);
        static const char *const keys[] = {"metric", "cost", "device", "goal", NULL};
        if (!json_is_object(o))
            return fail(rs, base, "an objective is {\"metric\", \"goal\"} or {\"cost\"[, \"device\"], \"goal\"}");
        if (only_keys(o, keys, base, rs))
            return -1;
        json_t *metric = json_object_get(o, "metric"), *cost = json_object_get(o, "cost");
        if (!!metric == !!cost)
            return fail(rs, base, "name exactly one of metric or cost");
        sur_goal goal;
        if (parse_goal(json_object_get(o, "goal"), base, rs, &goal))
            return -1;
        if (metric) {
            char p[96];
            snprintf(p, sizeof p, "%s/metric", base);
            if (!json_is_string(metric) || !fm_metric_name_valid(json_string_value(metric)))
                return fail(rs, p, "must be a metric name [a-z0-9_]{1,64}");
            for (size_t j = 0; j < r->nmetric; j++)
                if (!strcmp(r->metric[j], json_string_value(metric)))
                    return fail(rs, p, "is named twice");
            if (r->nmetric == 16)
                return fail(rs, p, "at most 16 metric objectives");
            snprintf(r->metric[r->nmetric], FM_NAME_MAX, "%s", json_string_value(metric));
            r->metric_goal[r->nmetric++] = goal;
        } else {
            char p[96];
            snprintf(p, sizeof p, "%s/cost", base);
            if (!json_is_string(cost))
                return fail(rs, p, "must be latency, macs, flops or params");
            size_t col;
            if (cost_column(r, o, base, rs, &col))
                return -1;
            for (size_t j = 0; j < r->ncost_obj; j++)
                if (r->cost_obj[j] == col)
                    return fail(rs, base, "this cost is an objective twice");
            r->cost_obj[r->ncost_obj] = col;
            r->cost_goal[r->ncost_obj++] = goal;
        }
    }
    return 0;
}

static int parse_constraints(screen_req *r, json_t *cons, fm_response *rs)
{
    if (!cons)
        return 0;
    if (!json_is_array(cons) || json_array_size(cons) > 32)
        return fail(rs, "/constraints", "must be an array of at most 32 constraints");
    size_t i;
    json_t *o;
    json_array_foreach(cons, i, o) {
        char base[48], p[96];
        snprintf(base, sizeof base, "/constraints/%zu", i);
        static const char *const keys[] = {"cost", "device", "max", "unit", NULL};
        if (!json_is_object(o))
            return fail(rs, base, "a constraint is {\"cost\"[, \"device\"], \"max\"[, \"unit\"]}");
        if (only_keys(o, keys, base, rs))
            return -1;
        snprintf(p, sizeof p, "%s/cost", base);
        if (!json_is_string(json_object_get(o, "cost")))
            return fail(rs, p, "is required: latency, macs, flops or params");
        size_t col;
        if (cost_column(r, o, base, rs, &col))
            return -1;
        json_t *max = json_object_get(o, "max");
        snprintf(p, sizeof p, "%s/max", base);
        if (!json_is_number(max) || !isfinite(json_number_value(max)) || json_number_value(max) < 0)
            return fail(rs, p, max ? "must be a non-negative number" : "is required");
        json_t *unit = json_object_get(o, "unit");
        snprintf(p, sizeof p, "%s/unit", base);
        if (unit && (!json_is_string(unit) || r->cols[col].kind != COST_LATENCY))
            return fail(rs, p, "only a latency takes a unit: ms, or the device's own");
        r->cons[r->ncons].cost = col;
        r->cons[r->ncons].max = json_number_value(max);
        /* A unit other than ms is converted once the device is known. */
        r->cons_unit[r->ncons][0] = '\0';
        if (unit && strcmp(json_string_value(unit), "ms") != 0) {
            if (strcmp(json_string_value(unit), "us") && strcmp(json_string_value(unit), "cycles"))
                return fail(rs, p, "must be ms, us or cycles");
            snprintf(r->cons_unit[r->ncons], sizeof r->cons_unit[0], "%s", json_string_value(unit));
        }
        r->ncons++;
    }
    return 0;
}

/* Costs of one genome into row[ncols] (latency in ms; lower[] set where a
 * latency misses rows and is only a lower bound). */
static void genome_costs(const screen_req *r, const lut_space_coster *c, const fm_tables *t, const int *genome,
                         double *row, unsigned char *lower, lut_space_totals *tot, lut_sum *lat)
{
    lut_space_cost(c, genome, tot, lat);
    for (size_t i = 0; i < r->ncols; i++) {
        lower[i] = 0;
        switch (r->cols[i].kind) {
        case COST_MACS: row[i] = (double)tot->macs; break;
        case COST_FLOPS: row[i] = 2.0 * (double)tot->macs; break;
        case COST_PARAMS: row[i] = (double)tot->params; break;
        case COST_LATENCY: {
            const lut_sum *s = &lat[r->cols[i].device];
            row[i] = s->total * lut_device_ms_per_unit(lut_table_device(t->tables[r->cols[i].device]));
            lower[i] = s->missing > 0;
            break;
        }
        }
    }
}

void h_screen(fm_request *rq, fm_response *rs)
{
    fm_space *s = space_param(rq, rs);
    if (!s)
        return;
    const lut_space *sp = s->space;
    size_t ng = lut_space_gene_count(sp);
    json_t *body = fm_read_json_body(rq, rs);
    screen_req *r = calloc(1, sizeof *r);
    fm_tables tables = {0};
    fm_predictor pred = {0};
    lut_space_coster *coster = NULL;
    int *genomes = NULL, *obs_genomes = NULL;
    double *cand_cost = NULL, *cand_mean = NULL, *cand_std = NULL, *obs_cost = NULL, *obs_metric = NULL;
    unsigned char *cand_lower = NULL, *cand_obs = NULL, *obs_lower = NULL;
    sur_verdict *verdicts = NULL;
    json_t *results = NULL;
    lut_sum *lat = NULL;
    size_t nobs = 0;
    if (!body || !r)
        goto out;
    static const char *const keys[] = {"genomes", "objectives", "constraints", "confidence", "fidelity", NULL};
    if (!json_is_object(body)) {
        fail(rs, "", "the body must be an object");
        goto out;
    }
    if (only_keys(body, keys, "", rs))
        goto out;
    json_t *jg = json_object_get(body, "genomes");
    if (!json_is_array(jg) || json_array_size(jg) == 0 || json_array_size(jg) > MAX_SCREEN_GENOMES) {
        fail(rs, "/genomes", jg ? "must be an array of 1 to 100000 genomes" : "is required");
        goto out;
    }
    if (parse_objectives(r, json_object_get(body, "objectives"), rs) ||
        parse_constraints(r, json_object_get(body, "constraints"), rs))
        goto out;
    double confidence = 0.95, z;
    json_t *jc = json_object_get(body, "confidence");
    if (jc) {
        if (!json_is_number(jc) || !(json_number_value(jc) > 0.5 && json_number_value(jc) < 1)) {
            fail(rs, "/confidence", "must be a number between 0.5 and 1 (exclusive)");
            goto out;
        }
        confidence = json_number_value(jc);
    }
    sur_confidence_z(confidence, &z);
    json_t *jf = json_object_get(body, "fidelity");
    if (jf && (!json_is_string(jf) || !fm_fidelity_name_valid(json_string_value(jf)))) {
        fail(rs, "/fidelity", "must be a fidelity name [a-z0-9._-]{1,64}");
        goto out;
    }
    if (r->ncols && !lut_space_has_builder(sp)) {
        fail(rs, r->first_cost_at, "a categorical space has no costs: use metric objectives only");
        goto out;
    }

    /* Device tables (each at one version), then unit conversions. */
    json_t *devs = json_array();
    for (size_t i = 0; i < r->ndevices; i++)
        json_array_append_new(devs, json_string(r->devices[i]));
    int trc = fm_tables_acquire(rq->srv, devs, &tables, rs);
    json_decref(devs);
    if (trc) {
        /* fm_tables_acquire pointed at /devices/i: say where they were named. */
        json_t *errs = json_object_get(rs->json, "errors");
        json_t *e0 = json_array_get(errs, 0);
        const char *ptr = json_string_value(json_object_get(e0, "pointer"));
        if (ptr && !strncmp(ptr, "/devices/", 9)) {
            size_t di = (size_t)strtoul(ptr + 9, NULL, 10);
            char msg[160];
            snprintf(msg, sizeof msg, "device \"%s\" is not known", di < r->ndevices ? r->devices[di] : "?");
            fm_problem(rs, 422, "invalid-field",
                       fm_err_pointer(NULL, di < r->ndevices ? r->device_at[di] : "/objectives", msg), "%s", msg);
        }
        goto out;
    }
    for (size_t i = 0; i < r->ncons; i++) {
        if (!r->cons_unit[i][0])
            continue;
        const lut_device *d = lut_table_device(tables.tables[r->cols[r->cons[i].cost].device]);
        const char *unit = r->cons_unit[i];
        char p[64];
        snprintf(p, sizeof p, "/constraints/%zu/unit", i);
        if (strcmp(unit, d->unit) != 0 || lut_device_ms_per_unit(d) <= 0) {
            fail(rs, p, "must be ms or the device's own unit");
            goto out;
        }
        r->cons[i].max *= lut_device_ms_per_unit(d);
    }
    if (lut_space_has_builder(sp) &&
        lut_space_coster_build(sp, (const lut_table *const *)tables.tables, tables.n, &coster)) {
        fm_problem(rs, 500, "internal", NULL, "cannot cost the space");
        goto out;
    }

    /* Candidates. */
    size_t n = json_array_size(jg), nc = r->ncols ? r->ncols : 1, nm = r->nmetric ? r->nmetric : 1;
    genomes = calloc(n * ng + 1, sizeof *genomes);
    cand_cost = calloc(n * nc, sizeof *cand_cost);
    cand_lower = calloc(n * nc, 1);
    cand_mean = calloc(n * nm, sizeof *cand_mean);
    cand_std = calloc(n * nm, sizeof *cand_std);
    cand_obs = calloc(n, 1);
    verdicts = calloc(n, sizeof *verdicts);
    lat = calloc(tables.n + 1, sizeof *lat);
    if (!genomes || !cand_cost || !cand_lower || !cand_mean || !cand_std || !cand_obs || !verdicts || !lat) {
        fm_problem(rs, 500, "internal", NULL, "out of memory");
        goto out;
    }
    const char *fidelity = jf ? json_string_value(jf) : NULL;
    fm_predictor_init(&pred, rq->srv, s, fidelity);
    for (size_t m = 0; m < r->nmetric; m++)
        r->metric_idx[m] = fm_predictor_find(&pred, r->metric[m]);
    for (size_t i = 0; i < n; i++) {
        char base[40];
        snprintf(base, sizeof base, "/genomes/%zu", i);
        lut_error err = {.row = -1};
        int *g = genomes + i * ng;
        if (fm_genome_from_json(sp, json_array_get(jg, i), g, &err)) {
            char p[160];
            snprintf(p, sizeof p, "%s%s", base, err.field);
            fail(rs, p, err.reason);
            goto out;
        }
        lut_space_genome_canonicalize(sp, g);
        lut_space_totals tot;
        if (coster)
            genome_costs(r, coster, &tables, g, cand_cost + i * nc, cand_lower + i * nc, &tot, lat);
        for (size_t m = 0; m < r->nmetric; m++) {
            double mean = NAN, sd = 0;
            if (fm_predict_metric(&pred, r->metric_idx[m], g, &mean, &sd) || !isfinite(mean) || !isfinite(sd))
                mean = NAN, sd = 0;
            cand_mean[i * nm + m] = mean;
            cand_std[i * nm + m] = sd;
        }
    }

    /* Observed points: distinct observed genomes (at the fidelity of each
     * metric's model) with the mean of their repeats per metric. */
    pthread_rwlock_rdlock(&s->obs.lock);
    obs_genomes = malloc((s->obs.n + 1) * ng * sizeof *obs_genomes + 1);
    obs_metric = malloc((s->obs.n + 1) * nm * sizeof *obs_metric);
    size_t *obs_count = calloc((s->obs.n + 1) * nm, sizeof *obs_count);
    for (size_t i = 0; obs_genomes && obs_metric && obs_count && i < s->obs.n; i++) {
        const fm_obs *o = &s->obs.items[i];
        int m = -1;
        for (size_t k = 0; k < r->nmetric && m < 0; k++)
            if (!strcmp(r->metric[k], o->metric))
                m = (int)k;
        /* With cost objectives only, every observed genome (at the fidelity,
         * if one is named) can dominate by its costs. */
        if (m < 0 && (r->nmetric || (fidelity && strcmp(fidelity, o->fidelity))))
            continue;
        const char *want = m < 0 ? o->fidelity : r->metric_idx[m] >= 0 ? pred.fidelity[r->metric_idx[m]] : fidelity;
        if (!want || strcmp(want, o->fidelity))
            continue;
        int g[LUT_SPACE_MAX_GENES];
        memcpy(g, o->genome, ng * sizeof *g);
        lut_space_genome_canonicalize(sp, g);
        size_t j = 0;
        while (j < nobs && memcmp(obs_genomes + j * ng, g, ng * sizeof *g))
            j++;
        if (j == nobs) {
            memcpy(obs_genomes + j * ng, g, ng * sizeof *g);
            for (size_t k = 0; k < nm; k++)
                obs_metric[j * nm + k] = 0;
            nobs++;
        }
        if (m >= 0) {
            obs_metric[j * nm + (size_t)m] += o->value;
            obs_count[j * nm + (size_t)m]++;
        }
    }
    pthread_rwlock_unlock(&s->obs.lock);
    if (!obs_genomes || !obs_metric || !obs_count) {
        free(obs_count);
        fm_problem(rs, 500, "internal", NULL, "out of memory");
        goto out;
    }
    for (size_t j = 0; j < nobs; j++)
        for (size_t k = 0; k < r->nmetric; k++)
            obs_metric[j * nm + k] = obs_count[j * nm + k] ? obs_metric[j * nm + k] / (double)obs_count[j * nm + k] : NAN;
    obs_cost = calloc(nobs * nc + 1, sizeof *obs_cost);
    obs_lower = calloc(nobs * nc + 1, 1);
    if (!obs_cost || !obs_lower) {
        free(obs_count);
        fm_problem(rs, 500, "internal", NULL, "out of memory");
        goto out;
    }
    for (size_t j = 0; coster && j < nobs; j++) {
        lut_space_totals tot;
        genome_costs(r, coster, &tables, obs_genomes + j * ng, obs_cost + j * nc, obs_lower + j * nc, &tot, lat);
    }
    /* A candidate is already observed when it has every metric objective. */
    for (size_t i = 0; i < n && r->nmetric; i++)
        for (size_t j = 0; j < nobs; j++)
            if (!memcmp(obs_genomes + j * ng, genomes + i * ng, ng * sizeof(int))) {
                int all = 1;
                for (size_t k = 0; k < r->nmetric; k++)
                    all &= obs_count[j * nm + k] > 0;
                cand_obs[i] = (unsigned char)all;
                break;
            }
    free(obs_count);

    sur_screen_problem prob = {
        .n_costs = r->ncols, .n_metrics = r->nmetric, .n_cost_objectives = r->ncost_obj,
        .cost_objective = r->cost_obj, .cost_goal = r->cost_goal, .metric_goal = r->metric_goal,
        .n_constraints = r->ncons, .constraints = r->cons, .z = z, .n_candidates = n,
        .cand_cost = cand_cost, .cand_cost_lower = cand_lower, .cand_mean = cand_mean, .cand_std = cand_std,
        .cand_observed = cand_obs, .n_observed = nobs, .obs_cost = obs_cost, .obs_cost_lower = obs_lower,
        .obs_metric = obs_metric};
    int src = sur_screen(&prob, verdicts);
    if (src) {
        fm_problem(rs, 500, "internal", NULL, "screening failed: %s", sur_strerror(src));
        goto out;
    }

    results = json_array();
    size_t kept = 0, by_reason[SUR_N_REASONS] = {0};
    for (size_t i = 0; i < n; i++) {
        const int *g = genomes + i * ng;
        const sur_verdict *v = &verdicts[i];
        kept += (size_t)(v->keep != 0);
        by_reason[v->reason]++;
        json_t *res = json_pack("{s:o, s:b, s:s}", "genome", fm_genome_json(sp, g), "keep", v->keep,
                                "reason", sur_reason_name(v->reason));
        json_object_set_new(res, "dominated_by",
                            v->dominated_by >= 0 ? fm_genome_json(sp, obs_genomes + (size_t)v->dominated_by * ng)
                                                 : json_null());
        if (v->constraint >= 0)
            json_object_set_new(res, "constraint", json_integer(v->constraint));
        if (coster) {
            lut_space_totals tot;
            double row[64];
            unsigned char low[64];
            genome_costs(r, coster, &tables, g, row, low, &tot, lat);
            json_t *lj = json_object();
            for (size_t d = 0; d < tables.n; d++) {
                const lut_device *dev = lut_table_device(tables.tables[d]);
                json_object_set_new(lj, dev->name,
                                    json_pack("{s:f, s:b}", "ms", lat[d].total * lut_device_ms_per_unit(dev),
                                              "complete", lat[d].missing == 0));
            }
            json_object_set_new(res, "costs", json_pack("{s:I, s:I, s:I, s:o}", "macs", (json_int_t)tot.macs,
                                                        "flops", (json_int_t)(2 * tot.macs), "params",
                                                        (json_int_t)tot.params, "latency", lj));
        }
        fm_predictor_annotate(&pred, g, res);
        json_array_append_new(results, res);
    }
    json_t *reasons = json_object();
    for (int k = 0; k < SUR_N_REASONS; k++)
        json_object_set_new(reasons, sur_reason_name((sur_reason)k), json_integer((json_int_t)by_reason[k]));
    fm_respond_json(rs, 200, json_pack("{s:s, s:f, s:f, s:o, s:{s:I, s:I, s:o}, s:o}", "space", lut_space_id(sp),
                                       "confidence", confidence, "z", z, "results", results, "summary", "kept",
                                       (json_int_t)kept, "pruned", (json_int_t)(n - kept), "by_reason", reasons,
                                       "lut_versions", fm_versions_json(&tables)));
    results = NULL;
out:
    json_decref(results);
    free(lat);
    free(verdicts);
    free(genomes);
    free(obs_genomes);
    free(cand_cost);
    free(cand_lower);
    free(cand_mean);
    free(cand_std);
    free(cand_obs);
    free(obs_cost);
    free(obs_lower);
    free(obs_metric);
    lut_space_coster_free(coster);
    fm_predictor_release(&pred);
    fm_tables_release(&tables);
    free(r);
    json_decref(body);
    fm_spaces_release(s);
}

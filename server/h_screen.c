/*
 * h_screen.c — POST /v1/spaces/{id}/screen: which candidates deserve a
 * real evaluation. The request is parsed once into C (costs as columns,
 * devices as a list), every genome is costed once, the predictions of all
 * candidates are made in one batch from those costs, and sur_screen
 * decides against the observed points (observations.c's distinct genomes).
 */
#include "h_screen.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "estimate.h"
#include "observations.h"
#include "params.h"
#include "predict.h"
#include "server.h"
#include "spaces.h"
#include "sur.h"

#define MAX_SCREEN_GENOMES 100000

/* ------------------------------------------------------------ the request */

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

/* ------------------------------------------------------------ one screening */

typedef struct screen {
    screen_req r;
    fm_space *s;
    const lut_space *sp;
    size_t ng;
    json_t *jg;               /* the body's genomes */
    const char *fidelity;     /* the body's fidelity, or NULL */
    double confidence, z;
    fm_tables tables;         /* one per device of r.devices, in that order */
    size_t col_of_device[64]; /* the latency column of each table */
    lut_space_coster *coster; /* builder spaces */
    lut_sum *lat;             /* one per table */
    fm_predictor pred;
    /* Candidates, in request order; costs are n x nc, metrics n x nm. */
    size_t n, nc, nm;
    int *genomes;             /* canonical */
    lut_space_totals *tot;
    double *cand_cost, *cand_mean, *cand_std;
    unsigned char *cand_lower, *cand_obs;
    /* Observed points, in the order their genomes were first observed. */
    size_t nobs;
    int *obs_genomes;
    double *obs_cost, *obs_metric;
    unsigned char *obs_lower;
    sur_verdict *verdicts;
} screen;

static void screen_free(screen *sc)
{
    free(sc->verdicts);
    free(sc->obs_genomes);
    free(sc->obs_cost);
    free(sc->obs_metric);
    free(sc->obs_lower);
    free(sc->genomes);
    free(sc->tot);
    free(sc->cand_cost);
    free(sc->cand_mean);
    free(sc->cand_std);
    free(sc->cand_lower);
    free(sc->cand_obs);
    fm_predictor_release(&sc->pred);
    free(sc->lat);
    lut_space_coster_free(sc->coster);
    fm_tables_release(&sc->tables);
    free(sc);
}

/* The body into sc (answers 422 on a fault). */
static int parse_body(screen *sc, json_t *body, fm_response *rs)
{
    static const char *const keys[] = {"genomes", "objectives", "constraints", "confidence", "fidelity", NULL};
    if (!json_is_object(body))
        return fail(rs, "", "the body must be an object");
    if (only_keys(body, keys, "", rs))
        return -1;
    sc->jg = json_object_get(body, "genomes");
    if (!json_is_array(sc->jg) || json_array_size(sc->jg) == 0 || json_array_size(sc->jg) > MAX_SCREEN_GENOMES)
        return fail(rs, "/genomes", sc->jg ? "must be an array of 1 to 100000 genomes" : "is required");
    if (parse_objectives(&sc->r, json_object_get(body, "objectives"), rs) ||
        parse_constraints(&sc->r, json_object_get(body, "constraints"), rs))
        return -1;
    sc->confidence = 0.95;
    json_t *jc = json_object_get(body, "confidence");
    if (jc) {
        if (!json_is_number(jc) || !(json_number_value(jc) > 0.5 && json_number_value(jc) < 1))
            return fail(rs, "/confidence", "must be a number between 0.5 and 1 (exclusive)");
        sc->confidence = json_number_value(jc);
    }
    sur_confidence_z(sc->confidence, &sc->z);
    json_t *jf = json_object_get(body, "fidelity");
    if (jf && (!json_is_string(jf) || !fm_fidelity_name_valid(json_string_value(jf))))
        return fail(rs, "/fidelity", "must be a fidelity name [a-z0-9._-]{1,64}");
    sc->fidelity = jf ? json_string_value(jf) : NULL;
    if (sc->r.ncols && !lut_space_has_builder(sc->sp))
        return fail(rs, sc->r.first_cost_at, "a categorical space has no costs: use metric objectives only");
    return 0;
}

/* The tables of the named devices (each at one version), the constraints
 * in ms, and the coster of the space against those tables. */
static int prepare_costing(screen *sc, lut_store *store, fm_response *rs)
{
    screen_req *r = &sc->r;
    const char *names[64];
    for (size_t i = 0; i < r->ndevices; i++)
        names[i] = r->devices[i];
    size_t bad = 0;
    int rc = fm_tables_acquire(store, names, r->ndevices, &sc->tables, &bad);
    if (rc == LUT_ENOTFOUND) {
        char msg[160];
        snprintf(msg, sizeof msg, "device \"%s\" is not known", r->devices[bad]);
        fm_problem(rs, 422, "invalid-field", fm_err_pointer(NULL, r->device_at[bad], msg), "%s", msg);
        return -1;
    }
    if (rc == LUT_ENOMEM) {
        fm_problem(rs, 500, "internal", NULL, "out of memory");
        return -1;
    }
    if (rc) {
        fm_store_failure(rs, rc, "device table");
        return -1;
    }
    for (size_t i = 0; i < r->ncols; i++)
        if (r->cols[i].kind == COST_LATENCY)
            sc->col_of_device[r->cols[i].device] = i;
    for (size_t i = 0; i < r->ncons; i++) {
        if (!r->cons_unit[i][0])
            continue;
        const lut_device *d = lut_table_device(sc->tables.tables[r->cols[r->cons[i].cost].device]);
        char p[64];
        snprintf(p, sizeof p, "/constraints/%zu/unit", i);
        if (strcmp(r->cons_unit[i], d->unit) != 0 || lut_device_ms_per_unit(d) <= 0)
            return fail(rs, p, "must be ms or the device's own unit");
        r->cons[i].max *= lut_device_ms_per_unit(d);
    }
    if (lut_space_has_builder(sc->sp) &&
        lut_space_coster_build(sc->sp, (const lut_table *const *)sc->tables.tables, sc->tables.n, &sc->coster)) {
        fm_problem(rs, 500, "internal", NULL, "cannot cost the space");
        return -1;
    }
    return 0;
}

/* Every candidate parsed, canonicalized and costed, once. */
static int cost_candidates(screen *sc, fm_response *rs)
{
    size_t n = sc->n, ng = sc->ng, nc = sc->nc;
    sc->genomes = calloc(n * ng + 1, sizeof *sc->genomes);
    sc->tot = calloc(n, sizeof *sc->tot);
    sc->cand_cost = calloc(n * nc, sizeof *sc->cand_cost);
    sc->cand_lower = calloc(n * nc, 1);
    sc->cand_mean = calloc(n * sc->nm, sizeof *sc->cand_mean);
    sc->cand_std = calloc(n * sc->nm, sizeof *sc->cand_std);
    sc->cand_obs = calloc(n, 1);
    sc->verdicts = calloc(n, sizeof *sc->verdicts);
    sc->lat = calloc(sc->tables.n + 1, sizeof *sc->lat);
    if (!sc->genomes || !sc->tot || !sc->cand_cost || !sc->cand_lower || !sc->cand_mean || !sc->cand_std ||
        !sc->cand_obs || !sc->verdicts || !sc->lat) {
        fm_problem(rs, 500, "internal", NULL, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        lut_error err = {.row = -1};
        int *g = sc->genomes + i * ng;
        if (fm_space_genome_from_json(sc->s, json_array_get(sc->jg, i), g, &err)) {
            char p[160];
            snprintf(p, sizeof p, "/genomes/%zu%s", i, err.field);
            return fail(rs, p, err.reason);
        }
        lut_space_genome_canonicalize(sc->sp, g);
        if (sc->coster)
            genome_costs(&sc->r, sc->coster, &sc->tables, g, sc->cand_cost + i * nc, sc->cand_lower + i * nc,
                         &sc->tot[i], sc->lat);
    }
    return 0;
}

/* Every metric of the space predicted for all candidates in one batch,
 * from the costs already computed; those of the metric objectives become
 * the candidates' means and stds (NaN, 0 without a prediction). */
static int predict_candidates(screen *sc, fm_response *rs)
{
    if (fm_predictor_run(&sc->pred, sc->genomes, sc->coster ? sc->tot : NULL, sc->n)) {
        fm_problem(rs, 500, "internal", NULL, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < sc->n; i++)
        for (size_t m = 0; m < sc->r.nmetric; m++) {
            double mean, sd;
            if (fm_predictor_get(&sc->pred, i, sc->r.metric_idx[m], &mean, &sd))
                mean = NAN, sd = 0;
            sc->cand_mean[i * sc->nm + m] = mean;
            sc->cand_std[i * sc->nm + m] = sd;
        }
    return 0;
}

/* The queries of the observed points: per metric objective its
 * observations at the fidelity of its model (col: the metric's column);
 * with cost objectives only, every observed genome (at the fidelity, if
 * one is named), which can dominate by its costs. */
static size_t observed_queries(const screen *sc, fm_obs_query *q, size_t *col)
{
    const screen_req *r = &sc->r;
    if (!r->nmetric) {
        q[0] = (fm_obs_query){NULL, sc->fidelity};
        return 1;
    }
    size_t nq = 0;
    for (size_t k = 0; k < r->nmetric; k++) {
        int idx = r->metric_idx[k];
        const char *want = idx >= 0 ? sc->pred.fidelity[idx] : sc->fidelity;
        if (!want)
            continue;
        q[nq] = (fm_obs_query){r->metric[k], want};
        col[nq++] = k;
    }
    return nq;
}

typedef struct arrival {
    size_t first, point;
} arrival;

static int arrival_cmp(const void *a, const void *b)
{
    const arrival *x = a, *y = b;
    return (x->first > y->first) - (x->first < y->first);
}

/* pts in first-seen order into the observed arrays of sc; rank[i] is the
 * place of point i. */
static int order_points(screen *sc, const fm_obs_points *pts, const size_t *col, size_t *rank, size_t *count)
{
    size_t n = pts->n, ng = sc->ng, nm = sc->nm;
    arrival *order = malloc((n ? n : 1) * sizeof *order);
    sc->obs_genomes = malloc((n ? n : 1) * (ng ? ng : 1) * sizeof *sc->obs_genomes);
    sc->obs_metric = malloc((n ? n : 1) * nm * sizeof *sc->obs_metric);
    if (!order || !sc->obs_genomes || !sc->obs_metric) {
        free(order);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        order[i] = (arrival){pts->first[i], i};
    qsort(order, n, sizeof *order, arrival_cmp);
    for (size_t j = 0; j < n; j++) {
        size_t i = order[j].point;
        rank[i] = j;
        memcpy(sc->obs_genomes + j * ng, pts->genomes + i * ng, ng * sizeof *sc->obs_genomes);
        for (size_t k = 0; k < nm; k++)
            sc->obs_metric[j * nm + k] = sc->r.nmetric ? NAN : 0;
        for (size_t qi = 0; qi < pts->nq && sc->r.nmetric; qi++) {
            sc->obs_metric[j * nm + col[qi]] = pts->mean[i * pts->nq + qi];
            count[j * nm + col[qi]] = pts->count[i * pts->nq + qi];
        }
    }
    free(order);
    sc->nobs = n;
    return 0;
}

/* The observed points (distinct observed genomes with the mean of their
 * repeats per metric objective), their costs, and which candidates are
 * already observed (an observation of every metric objective). */
static int observed_points(screen *sc, fm_response *rs)
{
    fm_obs_query q[16];
    size_t col[16];
    size_t nq = observed_queries(sc, q, col), nc = sc->nc, nm = sc->nm;
    fm_obs_points pts;
    if (fm_obs_distinct(sc->s->obs, sc->sp, q, nq, &pts)) {
        fm_problem(rs, 500, "internal", NULL, "out of memory");
        return -1;
    }
    size_t *rank = malloc((pts.n ? pts.n : 1) * sizeof *rank);
    size_t *count = calloc((pts.n ? pts.n : 1) * nm, sizeof *count);
    sc->obs_cost = calloc(pts.n * nc + 1, sizeof *sc->obs_cost);
    sc->obs_lower = calloc(pts.n * nc + 1, 1);
    int rc = rank && count && sc->obs_cost && sc->obs_lower ? order_points(sc, &pts, col, rank, count) : -1;
    for (size_t j = 0; !rc && sc->coster && j < sc->nobs; j++) {
        lut_space_totals tot;
        genome_costs(&sc->r, sc->coster, &sc->tables, sc->obs_genomes + j * sc->ng, sc->obs_cost + j * nc,
                     sc->obs_lower + j * nc, &tot, sc->lat);
    }
    for (size_t i = 0; !rc && sc->r.nmetric && i < sc->n; i++) {
        long p = fm_obs_points_find(&pts, sc->genomes + i * sc->ng);
        if (p < 0)
            continue;
        int all = 1;
        for (size_t k = 0; k < sc->r.nmetric; k++)
            all &= count[rank[p] * nm + k] > 0;
        sc->cand_obs[i] = (unsigned char)all;
    }
    free(rank);
    free(count);
    fm_obs_points_free(&pts);
    if (rc)
        fm_problem(rs, 500, "internal", NULL, "out of memory");
    return rc;
}

static int run_screen(screen *sc, fm_response *rs)
{
    const screen_req *r = &sc->r;
    sur_screen_problem prob = {
        .n_costs = r->ncols, .n_metrics = r->nmetric, .n_cost_objectives = r->ncost_obj,
        .cost_objective = r->cost_obj, .cost_goal = r->cost_goal, .metric_goal = r->metric_goal,
        .n_constraints = r->ncons, .constraints = r->cons, .z = sc->z, .n_candidates = sc->n,
        .cand_cost = sc->cand_cost, .cand_cost_lower = sc->cand_lower, .cand_mean = sc->cand_mean,
        .cand_std = sc->cand_std, .cand_observed = sc->cand_obs, .n_observed = sc->nobs,
        .obs_cost = sc->obs_cost, .obs_cost_lower = sc->obs_lower, .obs_metric = sc->obs_metric};
    int src = sur_screen(&prob, sc->verdicts);
    if (src) {
        fm_problem(rs, 500, "internal", NULL, "screening failed: %s", sur_strerror(src));
        return -1;
    }
    return 0;
}

/* The costs object of candidate i, from its costs computed once. */
static json_t *candidate_costs(const screen *sc, size_t i)
{
    const lut_space_totals *tot = &sc->tot[i];
    json_t *lj = json_object();
    for (size_t d = 0; d < sc->tables.n; d++) {
        size_t col = i * sc->nc + sc->col_of_device[d];
        json_object_set_new(lj, lut_table_device(sc->tables.tables[d])->name,
                            json_pack("{s:f, s:b}", "ms", sc->cand_cost[col], "complete", !sc->cand_lower[col]));
    }
    return json_pack("{s:I, s:I, s:I, s:o}", "macs", (json_int_t)tot->macs, "flops", (json_int_t)(2 * tot->macs),
                     "params", (json_int_t)tot->params, "latency", lj);
}

static void answer(screen *sc, fm_response *rs)
{
    json_t *results = json_array();
    size_t kept = 0, by_reason[SUR_N_REASONS] = {0};
    for (size_t i = 0; i < sc->n; i++) {
        const sur_verdict *v = &sc->verdicts[i];
        kept += (size_t)(v->keep != 0);
        by_reason[v->reason]++;
        json_t *res = json_pack("{s:o, s:b, s:s}", "genome", fm_genome_json(sc->sp, sc->genomes + i * sc->ng),
                                "keep", v->keep, "reason", sur_reason_name(v->reason));
        json_object_set_new(res, "dominated_by",
                            v->dominated_by >= 0
                                ? fm_genome_json(sc->sp, sc->obs_genomes + (size_t)v->dominated_by * sc->ng)
                                : json_null());
        if (v->constraint >= 0)
            json_object_set_new(res, "constraint", json_integer(v->constraint));
        if (sc->coster)
            json_object_set_new(res, "costs", candidate_costs(sc, i));
        fm_predictor_annotate(&sc->pred, i, res);
        json_array_append_new(results, res);
    }
    json_t *reasons = json_object();
    for (int k = 0; k < SUR_N_REASONS; k++)
        json_object_set_new(reasons, sur_reason_name((sur_reason)k), json_integer((json_int_t)by_reason[k]));
    fm_respond_json(rs, 200, json_pack("{s:s, s:f, s:f, s:o, s:{s:I, s:I, s:o}, s:o}", "space",
                                       lut_space_id(sc->sp), "confidence", sc->confidence, "z", sc->z,
                                       "results", results, "summary", "kept", (json_int_t)kept, "pruned",
                                       (json_int_t)(sc->n - kept), "by_reason", reasons, "lut_versions",
                                       fm_versions_json(&sc->tables)));
}

void h_screen(fm_request *rq, fm_response *rs)
{
    fm_space *s = fm_space_param(rq, rs);
    if (!s)
        return;
    json_t *body = fm_read_json_body(rq, rs);
    screen *sc = calloc(1, sizeof *sc);
    if (!body || !sc)
        goto out;
    sc->s = s;
    sc->sp = s->space;
    sc->ng = lut_space_gene_count(s->space);
    if (parse_body(sc, body, rs) || prepare_costing(sc, rq->srv->store, rs))
        goto out;
    sc->n = json_array_size(sc->jg);
    sc->nc = sc->r.ncols ? sc->r.ncols : 1;
    sc->nm = sc->r.nmetric ? sc->r.nmetric : 1;
    fm_predictor_init(&sc->pred, s, sc->fidelity);
    for (size_t m = 0; m < sc->r.nmetric; m++)
        sc->r.metric_idx[m] = fm_predictor_find(&sc->pred, sc->r.metric[m]);
    if (cost_candidates(sc, rs) || predict_candidates(sc, rs) || observed_points(sc, rs) || run_screen(sc, rs))
        goto out;
    answer(sc, rs);
out:
    if (sc)
        screen_free(sc);
    json_decref(body);
    fm_spaces_release(s);
}

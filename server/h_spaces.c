/*
 * h_spaces.c — search spaces: list, describe, register, delete, expand a
 * genome into layers, the profiler's to-do list, and batch costing.
 */
#include "h_spaces.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "estbody.h"
#include "estimate.h"
#include "lut_predict.h"
#include "params.h"
#include "predict.h"
#include "results.h"
#include "server.h"
#include "spaces.h"

#define MAX_GENOMES 100000
#define MAX_MISSING_LISTED 20

void h_space_list(fm_request *rq, fm_response *rs)
{
    fm_space **all;
    size_t n;
    if (fm_spaces_list(&rq->srv->spaces, &all, &n)) {
        fm_problem(rs, 500, "internal", NULL, "out of memory");
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(arr, fm_space_json(all[i], 0));
        fm_spaces_release(all[i]);
    }
    free(all);
    fm_respond_json(rs, 200, json_pack("{s:o}", "spaces", arr));
}

void h_space_get(fm_request *rq, fm_response *rs)
{
    fm_space *s = fm_space_param(rq, rs);
    if (!s)
        return;
    fm_respond_json(rs, 200, fm_space_json(s, 1));
    fm_spaces_release(s);
}

void h_space_create(fm_request *rq, fm_response *rs)
{
    json_t *body = fm_read_json_body(rq, rs);
    if (!body)
        return;
    fm_space *s = NULL;
    lut_error err = {.row = -1};
    int rc = fm_space_from_definition(body, &s, &err);
    json_decref(body);
    if (rc == LUT_EINVAL) {
        fm_problem(rs, 422, "invalid-field", fm_err_pointer(NULL, err.field, err.reason),
                   "%s: %s", err.field[0] ? err.field : "the definition", err.reason);
        return;
    }
    if (rc) {
        fm_store_failure(rs, rc, "space");
        return;
    }
    rc = fm_spaces_add(&rq->srv->spaces, rq->srv->store, s);
    if (rc == LUT_EEXIST) {
        fm_problem(rs, 409, "conflict", fm_err_pointer(NULL, "/id", "a space with this id exists"),
                   "space \"%s\" exists; delete it first or choose another id", lut_space_id(s->space));
        fm_spaces_release(s);
        return;
    }
    if (rc) {
        fm_spaces_release(s);
        fm_store_failure(rs, rc, "space");
        return;
    }
    fm_respond_json(rs, 201, fm_space_json(s, 1));
}

void h_space_delete(fm_request *rq, fm_response *rs)
{
    int rc = fm_spaces_remove(&rq->srv->spaces, rq->srv->store, rq->params[0]);
    if (rc == LUT_ENOTFOUND) {
        fm_problem(rs, 404, "not-found", fm_err_param(NULL, "id", "no space has this id"),
                   "space \"%.80s\" not found", rq->params[0]);
        return;
    }
    if (rc == LUT_EEXIST) {
        fm_problem(rs, 409, "conflict", fm_err_param(NULL, "id", "built-in spaces cannot be deleted"),
                   "space \"%.80s\" is built in", rq->params[0]);
        return;
    }
    if (rc) {
        fm_store_failure(rs, rc, "space");
        return;
    }
    rs->status = 204;
}

/* Parse the genome at body pointer base; answers 422 on failure. */
static int genome_arg(const fm_space *s, json_t *v, const char *base, int *genome, fm_response *rs)
{
    lut_error err = {.row = -1};
    int rc = fm_space_genome_from_json(s, v, genome, &err);
    if (rc == LUT_EINVAL) {
        char pointer[160];
        snprintf(pointer, sizeof pointer, "%s%s", base, err.field);
        fm_problem(rs, 422, "invalid-field", fm_err_pointer(NULL, pointer, err.reason), "%s: %s", pointer,
                   err.reason);
        return -1;
    }
    if (rc) {
        fm_problem(rs, 500, "internal", NULL, "%s", lut_strerror(rc));
        return -1;
    }
    return 0;
}

/* Only the named fields may appear in the body object. */
static int body_fields(json_t *body, const char *const *allowed, fm_response *rs)
{
    if (!json_is_object(body)) {
        fm_problem(rs, 422, "invalid-field", fm_err_pointer(NULL, "", "must be an object"),
                   "the body must be a JSON object");
        return -1;
    }
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v) {
        int ok = 0;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = !strcmp(k, allowed[i]);
        if (!ok) {
            char pointer[80];
            snprintf(pointer, sizeof pointer, "/%.60s", k);
            fm_problem(rs, 422, "invalid-field", fm_err_pointer(NULL, pointer, "unknown field"),
                       "unknown field \"%.60s\"", k);
            return -1;
        }
    }
    return 0;
}

void h_space_expand(fm_request *rq, fm_response *rs)
{
    fm_space *s = fm_space_param(rq, rs);
    if (!s)
        return;
    const lut_space *sp = s->space;
    json_t *body = fm_read_json_body(rq, rs);
    int *genome = calloc(lut_space_gene_count(sp) + 1, sizeof *genome);
    lut_space_layer *layers = NULL;
    static const char *const allowed[] = {"genome", NULL};
    if (!body || !genome || body_fields(body, allowed, rs))
        goto out;
    json_t *g = json_object_get(body, "genome");
    if (!g) {
        fm_problem(rs, 422, "invalid-field", fm_err_pointer(NULL, "/genome", "is required"), "genome is required");
        goto out;
    }
    if (!lut_space_has_builder(sp)) {
        fm_problem(rs, 422, "invalid-field",
                   fm_err_param(NULL, "id", "a categorical space has no layers to expand"),
                   "space \"%s\" is categorical: it names genes only", lut_space_id(sp));
        goto out;
    }
    if (genome_arg(s, g, "/genome", genome, rs))
        goto out;
    lut_space_totals tot;
    lut_error err = {.row = -1};
    int rc = lut_space_expand(sp, genome, &layers, &tot, &err);
    if (rc) {
        fm_problem(rs, 500, "internal", NULL, "expansion failed: %s", lut_strerror(rc));
        goto out;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < tot.layers; i++) {
        json_t *l = fm_key_to_json(&layers[i].key);
        json_object_set_new(l, "name", json_string(layers[i].name));
        json_array_append_new(arr, l);
    }
    fm_respond_json(rs, 200, json_pack("{s:s, s:o, s:o, s:I, s:I, s:I, s:I, s:o}", "space", lut_space_id(sp),
                                       "genome", fm_genome_json(sp, genome),
                                       "genome_named", fm_genome_named_json(sp, genome),
                                       "layer_count", (json_int_t)tot.layers, "macs", (json_int_t)tot.macs,
                                       "flops", (json_int_t)(2 * tot.macs), "params", (json_int_t)tot.params,
                                       "layers", arr));
out:
    free(layers);
    free(genome);
    json_decref(body);
    fm_spaces_release(s);
}

void h_space_layers(fm_request *rq, fm_response *rs)
{
    fm_space *s = fm_space_param(rq, rs);
    if (!s)
        return;
    const char *device = fm_query(rq, "device");
    lut_table *table = NULL;
    lut_key *keys = NULL;
    size_t n = 0;
    if (device) {
        int rc = lut_device_name_valid(device) ? lut_store_table(rq->srv->store, device, &table) : LUT_ENOTFOUND;
        if (rc == LUT_ENOTFOUND) {
            fm_problem(rs, 404, "not-found", fm_err_param(NULL, "device", "no device has this name"),
                       "device \"%.80s\" not found", device);
            goto out;
        }
        if (rc) {
            fm_store_failure(rs, rc, "device table");
            goto out;
        }
    }
    if (lut_space_has_builder(s->space) && lut_space_layer_keys(s->space, &keys, &n)) {
        fm_problem(rs, 500, "internal", NULL, "out of memory");
        goto out;
    }
    json_t *arr = json_array();
    size_t present = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_pack("{s:o}", "key", fm_key_to_json(&keys[i]));
        lut_cost c;
        if (lut_key_cost(&keys[i], &c, NULL) == 0) {
            json_object_set_new(item, "macs", json_integer((json_int_t)c.macs));
            json_object_set_new(item, "params", json_integer((json_int_t)c.params));
        }
        if (table) {
            int hit = lut_table_find(table, &keys[i]) != NULL;
            present += (size_t)hit;
            json_object_set_new(item, "present", json_boolean(hit));
        }
        json_array_append_new(arr, item);
    }
    json_t *o = json_pack("{s:s, s:I, s:o}", "space", lut_space_id(s->space), "count", (json_int_t)n, "layers", arr);
    if (table) {
        json_object_set_new(o, "device", json_string(device));
        json_object_set_new(o, "lut_version", json_integer((json_int_t)lut_table_device(table)->lut_version));
        json_object_set_new(o, "present", json_integer((json_int_t)present));
        json_object_set_new(o, "missing", json_integer((json_int_t)(n - present)));
        json_object_set_new(o, "coverage", json_real(n ? (double)present / (double)n : 1.0));
    }
    fm_respond_json(rs, 200, o);
out:
    free(keys);
    if (table)
        lut_table_release(table);
    fm_spaces_release(s);
}

/* The first MAX_MISSING_LISTED distinct keys of a genome missing in t
 * (and, unless strict, that nothing predicts). */
static json_t *missing_keys(const lut_space *sp, const int *genome, const lut_table *t, int strict,
                            lut_key *scratch, size_t cap)
{
    const lut_predictor *pred = strict ? NULL : lut_table_predictor(t);
    double pm, pv;
    json_t *arr = json_array();
    lut_space_totals tot;
    if (lut_space_expand_keys(sp, genome, scratch, cap, &tot))
        return arr;
    size_t listed[MAX_MISSING_LISTED], nl = 0;
    for (size_t i = 0; i < tot.layers && nl < MAX_MISSING_LISTED; i++) {
        if (lut_table_find(t, &scratch[i]) || lut_predict(pred, &scratch[i], &pm, &pv))
            continue;
        int seen = 0;
        for (size_t j = 0; j < nl && !seen; j++)
            seen = lut_key_equal(&scratch[listed[j]], &scratch[i]);
        if (!seen) {
            listed[nl++] = i;
            json_array_append_new(arr, fm_key_to_json(&scratch[i]));
        }
    }
    return arr;
}

/* Which fields a result of a space estimate has, in their order. */
static const char *const result_fields[] = {"genome", "macs", "flops", "params", "latency", "predicted", NULL};
enum { F_GENOME, F_MACS, F_FLOPS, F_PARAMS, F_LATENCY, F_PREDICTED };

/* What costing the genomes of one request needs, and what it gave. */
typedef struct space_costing {
    const fm_space *s;
    const lut_space *sp;
    size_t ng;                      /* genes */
    fm_tables tables;
    fm_coster *kept;                /* builder spaces: the space's coster of these tables */
    const lut_space_coster *coster;
    size_t n;                       /* genomes */
    int *genomes;                   /* n x ng */
    lut_space_totals *tot;          /* n */
    lut_sum *lat;                   /* n x tables.n */
    lut_key *scratch;               /* missing keys, made when one is missing */
    int predict;                    /* predictions were asked for */
    int strict;                     /* ?strict=true: rows only, no layer predictions */
    fm_calib *calib;                /* calibrations (not strict) */
    fm_predictor pred;
} space_costing;

/* The costers of the tables held (answers 422 or 500 and returns -1). */
static int costing_setup(space_costing *c, fm_response *rs)
{
    if (!lut_space_has_builder(c->sp)) {
        if (!c->tables.n)
            return 0;
        fm_problem(rs, 422, "invalid-field",
                   fm_err_pointer(NULL, "/devices", "a categorical space has no layers to cost; send []"),
                   "space \"%s\" is categorical: it has no latency", lut_space_id(c->sp));
        return -1;
    }
    if (!c->strict && fm_tables_calibrate(&c->tables, c->calib)) {
        fm_problem(rs, 500, "internal", NULL, "out of memory");
        return -1;
    }
    int rc = fm_costers_get(c->s->costers, c->sp, (const lut_table *const *)c->tables.tables, c->tables.n,
                            &c->kept);
    c->coster = rc ? NULL : fm_coster_value(c->kept);
    if (rc) {
        fm_problem(rs, 500, "internal", NULL, "cannot cost the space: %s", lut_strerror(rc));
        return -1;
    }
    return 0;
}

static int costing_start(space_costing *c, fm_request *rq, json_t *devices, fm_response *rs)
{
    if (fm_tables_from_json(rq->srv->store, devices, &c->tables, rs))
        return -1;
    return costing_setup(c, rs);
}

static void costing_end(space_costing *c)
{
    free(c->scratch);
    free(c->lat);
    free(c->tot);
    free(c->genomes);
    fm_coster_release(c->kept);
    fm_tables_release(&c->tables);
    fm_predictor_release(&c->pred);
}

/* Parse every genome of the body's array jg (answers 422 on a bad one) and
 * cost it. */
static int cost_genomes(space_costing *c, json_t *jg, fm_response *rs)
{
    size_t k = c->tables.n;
    c->n = json_array_size(jg);
    c->genomes = calloc(c->n * c->ng + 1, sizeof *c->genomes);
    c->tot = calloc(c->n, sizeof *c->tot);
    c->lat = calloc(c->n * k + 1, sizeof *c->lat);
    if (!c->genomes || !c->tot || !c->lat) {
        fm_problem(rs, 500, "internal", NULL, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < c->n; i++) {
        char base[48];
        snprintf(base, sizeof base, "/genomes/%zu", i);
        int *genome = c->genomes + i * c->ng;
        if (genome_arg(c->s, json_array_get(jg, i), base, genome, rs))
            return -1;
        if (c->coster)
            lut_space_cost(c->coster, genome, &c->tot[i], c->lat + i * k);
    }
    return 0;
}

/* Whether every genome of b has a valid choice index for each gene of
 * the space (what lut_space_genome_from_indices accepts). */
static int fast_genomes_valid(const lut_space *sp, const fm_estbody *b)
{
    size_t ng = lut_space_gene_count(sp);
    size_t choices[LUT_SPACE_MAX_GENES];
    if (ng > LUT_SPACE_MAX_GENES)
        return 0;
    for (size_t g = 0; g < ng; g++)
        choices[g] = lut_space_gene_at(sp, g)->n_choices;
    for (size_t i = 0; i < b->ngenomes; i++) {
        const int *v = b->values + b->starts[i];
        if (b->starts[i + 1] - b->starts[i] != ng)
            return 0;
        for (size_t g = 0; g < ng; g++)
            if (v[g] < 0 || (size_t)v[g] >= choices[g])
                return 0;
    }
    return 1;
}

/* The genomes of b (taken when valid), then their costs. Returns -1 when
 * one is not a genome of the space (nothing answered). */
static int cost_fast_genomes(space_costing *c, fm_estbody *b)
{
    size_t k = c->tables.n;
    if (!fast_genomes_valid(c->sp, b))
        return -1;
    c->n = b->ngenomes;
    c->genomes = b->values; /* n x ng, as the genomes are */
    b->values = NULL;
    c->tot = calloc(c->n, sizeof *c->tot);
    c->lat = calloc(c->n * k + 1, sizeof *c->lat);
    if (!c->tot || !c->lat)
        return -1;
    for (size_t i = 0; i < c->n && c->coster; i++)
        lut_space_cost(c->coster, c->genomes + i * c->ng, &c->tot[i], c->lat + i * k);
    return 0;
}

/* Whether the devices named are distinct valid names of known devices;
 * holds their tables then. */
static int fast_tables(space_costing *c, fm_request *rq, const fm_estbody *b)
{
    for (size_t i = 0; i < b->ndevices; i++) {
        if (!lut_device_name_valid(b->devices[i]))
            return -1;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(b->devices[i], b->devices[j]))
                return -1;
    }
    size_t bad;
    return fm_tables_acquire(rq->srv->store, (const char *const *)b->devices, b->ndevices, &c->tables, &bad)
               ? -1
               : 0;
}

/* The body read and costed by the strict reader (estbody.h): 1 when the
 * genomes are costed, -1 when an answer is made, 0 when it declines (c is
 * left as it came; the Jansson path then answers as it always has). */
static int fast_costing(space_costing *c, fm_request *rq, fm_response *rs)
{
    fm_estbody b;
    if (rq->content_type[0] && strcmp(rq->content_type, "application/json") != 0)
        return 0;
    if (fm_estbody_parse(rq->body, rq->body_len, MAX_GENOMES, &b))
        return 0;
    int rc = 0;
    if (!fast_tables(c, rq, &b))
        rc = costing_setup(c, rs) ? -1 : cost_fast_genomes(c, &b) ? 0 : 1;
    fm_estbody_free(&b);
    if (!rc) {
        space_costing fresh = {.s = c->s, .sp = c->sp, .ng = c->ng, .predict = c->predict,
                                 .strict = c->strict, .calib = c->calib};
        costing_end(c);
        *c = fresh;
    }
    return rc;
}

/* The predictions of every genome, in one batch from the costs just
 * computed (none on categorical spaces). Returns -1 when out of memory. */
static int predict_genomes(space_costing *c, fm_space *s, const char *fidelity)
{
    if (!c->predict)
        return 0;
    fm_predictor_init(&c->pred, s, fidelity);
    return fm_predictor_run(&c->pred, c->genomes, c->coster ? c->tot : NULL, c->n) ? -1 : 0;
}

/* The latency object of every device for genome i (JSON). */
static void write_latency(space_costing *c, size_t i, fm_jw *w)
{
    fm_jw_object(w);
    for (size_t d = 0; d < c->tables.n; d++) {
        const lut_table *t = c->tables.tables[d];
        const lut_sum *l = &c->lat[i * c->tables.n + d];
        fm_lat lat = {l, c->tot[i].layers, c->strict, fm_tables_cal(&c->tables, d)};
        size_t missing = fm_lat_missing(&lat);
        json_t *mk = NULL;
        if (missing && !c->scratch)
            c->scratch = calloc(lut_space_max_layers(c->sp) + 1, sizeof *c->scratch);
        if (missing && c->scratch)
            mk = missing_keys(c->sp, c->genomes + i * c->ng, t, c->strict, c->scratch,
                              lut_space_max_layers(c->sp) + 1);
        fm_jw_key(w, lut_table_device(t)->name);
        fm_latency_write(w, t, &lat, mk, 1);
        json_decref(mk);
    }
    fm_jw_object_end(w);
}

/* Result i as a JSON object with the asked-for fields. */
static void write_result_json(space_costing *c, size_t i, fm_results *r)
{
    fm_jw *w = &r->jw;
    const lut_space_totals *tot = &c->tot[i];
    fm_jw_object(w);
    if (fm_results_want(r, F_GENOME)) {
        fm_jw_key(w, "genome");
        fm_jw_array(w);
        for (size_t g = 0; g < c->ng; g++)
            fm_jw_int(w, c->genomes[i * c->ng + g]);
        fm_jw_array_end(w);
    }
    if (c->coster) {
        const char *names[] = {"macs", "flops", "params"};
        uint64_t v[] = {tot->macs, 2 * tot->macs, tot->params};
        for (unsigned f = F_MACS; f <= F_PARAMS; f++)
            if (fm_results_want(r, f)) {
                fm_jw_key(w, names[f - F_MACS]);
                fm_jw_uint(w, v[f - F_MACS]);
            }
        if (fm_results_want(r, F_LATENCY)) {
            fm_jw_key(w, "latency");
            write_latency(c, i, w);
        }
    }
    if (fm_results_want(r, F_PREDICTED) && c->predict) {
        fm_predictor_write(&c->pred, i, w);
    } else if (fm_results_want(r, F_PREDICTED)) {
        fm_jw_key(w, "predicted");
        fm_jw_null(w);
        fm_jw_key(w, "predicted_reason");
        fm_jw_string(w, "predictions were not asked for (?predict=false)");
    }
    fm_jw_object_end(w);
}

/* The CSV header: index, then the columns of each asked-for field. */
static void write_csv_header(space_costing *c, fm_results *r)
{
    char col[160];
    fm_results_csv_cell(r, 1, "index");
    if (fm_results_want(r, F_GENOME))
        fm_results_csv_cell(r, 0, "genome");
    for (unsigned f = F_MACS; f <= F_PARAMS && c->coster; f++)
        if (fm_results_want(r, f))
            fm_results_csv_cell(r, 0, result_fields[f]);
    static const char *const lat_cols[] = {"total", "ms", "hits", "missing", "complete",
                                           "predicted", "std", "raw_total"};
    for (size_t d = 0; d < c->tables.n && fm_results_want(r, F_LATENCY); d++)
        for (size_t j = 0; j < (c->strict ? 5u : 8u); j++) {
            snprintf(col, sizeof col, "latency.%s.%s", lut_table_device(c->tables.tables[d])->name, lat_cols[j]);
            fm_results_csv_cell(r, 0, col);
        }
    for (size_t m = 0; m < c->pred.n && fm_results_want(r, F_PREDICTED); m++)
        for (size_t j = 0; j < 2; j++) {
            snprintf(col, sizeof col, "predicted.%s.%s", c->pred.metric[m], j ? "std" : "mean");
            fm_results_csv_cell(r, 0, col);
        }
    fm_buf_append(&r->buf, "\n", 1);
}

/* Result i as a CSV line; a real that is not known is an empty cell. */
static void write_result_csv(space_costing *c, size_t i, fm_results *r)
{
    char t[FM_JSON_REAL_MAX + 24];
    fm_json_uint_text(i, t);
    fm_results_csv_cell(r, 1, t);
    if (fm_results_want(r, F_GENOME)) {
        fm_buf_append(&r->buf, ",", 1);
        for (size_t g = 0; g < c->ng; g++) {
            size_t n = fm_json_uint_text((uint64_t)c->genomes[i * c->ng + g], t);
            fm_buf_append(&r->buf, " ", g ? 1 : 0);
            fm_buf_append(&r->buf, t, n);
        }
    }
    uint64_t v[] = {c->tot[i].macs, 2 * c->tot[i].macs, c->tot[i].params};
    for (unsigned f = F_MACS; f <= F_PARAMS && c->coster; f++)
        if (fm_results_want(r, f)) {
            fm_json_uint_text(v[f - F_MACS], t);
            fm_results_csv_cell(r, 0, t);
        }
    for (size_t d = 0; d < c->tables.n && fm_results_want(r, F_LATENCY); d++) {
        const lut_sum *l = &c->lat[i * c->tables.n + d];
        fm_lat lat = {l, c->tot[i].layers, c->strict, fm_tables_cal(&c->tables, d)};
        double per = lut_device_ms_per_unit(lut_table_device(c->tables.tables[d]));
        double total = fm_lat_total(&lat);
        size_t missing = fm_lat_missing(&lat);
        fm_results_csv_cell(r, 0, fm_json_real_text(total, t) ? t : "");
        fm_results_csv_cell(r, 0, per > 0 && fm_json_real_text(total * per, t) ? t : "");
        fm_json_uint_text(l->hits, t);
        fm_results_csv_cell(r, 0, t);
        fm_json_uint_text(missing, t);
        fm_results_csv_cell(r, 0, t);
        fm_results_csv_cell(r, 0, missing ? "false" : "true");
        if (c->strict)
            continue;
        fm_json_uint_text(l->predicted, t);
        fm_results_csv_cell(r, 0, t);
        fm_results_csv_cell(r, 0, fm_json_real_text(fm_lat_std(&lat), t) ? t : "");
        fm_results_csv_cell(r, 0, fm_json_real_text(l->total + l->predicted_total, t) ? t : "");
    }
    for (size_t m = 0; m < c->pred.n && fm_results_want(r, F_PREDICTED); m++) {
        double mean = 0, std = 0;
        int ok = fm_predictor_get(&c->pred, i, (int)m, &mean, &std) == 0;
        fm_results_csv_cell(r, 0, ok && fm_json_real_text(mean, t) ? t : "");
        fm_results_csv_cell(r, 0, ok && fm_json_real_text(std, t) ? t : "");
    }
    fm_buf_append(&r->buf, "\n", 1);
}

/* The whole answer in the asked-for format. */
static void write_results(space_costing *c, fm_results *r, fm_response *rs)
{
    fm_jw *w = &r->jw;
    if (r->format == FM_RESULTS_JSON) {
        fm_jw_object(w);
        fm_jw_key(w, "space");
        fm_jw_string(w, lut_space_id(c->sp));
        fm_jw_key(w, "results");
        fm_jw_array(w);
        for (size_t i = 0; i < c->n; i++)
            write_result_json(c, i, r);
        fm_jw_array_end(w);
        fm_jw_key(w, "lut_versions");
        fm_versions_write(w, &c->tables);
        fm_jw_object_end(w);
    } else if (r->format == FM_RESULTS_NDJSON) {
        for (size_t i = 0; i < c->n; i++) {
            fm_jw_reset(w);
            write_result_json(c, i, r);
            fm_buf_append(&r->buf, "\n", 1);
        }
    } else {
        write_csv_header(c, r);
        for (size_t i = 0; i < c->n; i++)
            write_result_csv(c, i, r);
    }
    fm_results_finish(r, rs);
    char versions[600];
    fm_versions_text(&c->tables, versions, sizeof versions);
    if (rs->status == 200)
        fm_add_header(rs, "Fmas-Lut-Versions", "%s", versions);
}

/* The body read by Jansson and costed: 0, or -1 when an answer is made. */
static int json_costing(space_costing *c, fm_request *rq, fm_response *rs)
{
    static const char *const allowed[] = {"devices", "genomes", NULL};
    json_t *body = fm_read_json_body(rq, rs);
    int rc = -1;
    if (!body || body_fields(body, allowed, rs))
        goto out;
    json_t *jg = json_object_get(body, "genomes");
    if (!json_is_array(jg) || json_array_size(jg) == 0 || json_array_size(jg) > MAX_GENOMES) {
        const char *why = jg ? "must be an array of 1 to 100000 genomes" : "is required";
        fm_problem(rs, 422, "invalid-field", fm_err_pointer(NULL, "/genomes", why), "genomes %s", why);
        goto out;
    }
    if (costing_start(c, rq, json_object_get(body, "devices"), rs) || cost_genomes(c, jg, rs))
        goto out;
    rc = 0;
out:
    json_decref(body);
    return rc;
}

void h_space_estimate(fm_request *rq, fm_response *rs)
{
    fm_space *s = fm_space_param(rq, rs);
    if (!s)
        return;
    space_costing c = {.s = s, .sp = s->space, .ng = lut_space_gene_count(s->space),
                       .calib = rq->srv->calib};
    fm_results r = {0};
    const char *fidelity;
    if (fm_fidelity_param(rq, rs, &fidelity) || fm_bool_param(rq, rs, "predict", 1, &c.predict) ||
        fm_bool_param(rq, rs, "strict", 0, &c.strict) ||
        fm_results_start(&r, rq, rs, result_fields))
        goto out;
    /* Predictions nobody reads are not made. */
    c.predict = c.predict && fm_results_want(&r, F_PREDICTED);
    int fast = fast_costing(&c, rq, rs);
    if (fast < 0 || (!fast && json_costing(&c, rq, rs)))
        goto out;
    if (predict_genomes(&c, s, fidelity)) {
        fm_problem(rs, 500, "internal", NULL, "out of memory");
        goto out;
    }
    write_results(&c, &r, rs);
out:
    fm_results_discard(&r);
    costing_end(&c);
    fm_spaces_release(s);
}

/*
 * h_spaces.c — search spaces: list, describe, register, delete, expand a
 * genome into layers, the profiler's to-do list, and batch costing.
 */
#include "h_spaces.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "estimate.h"
#include "params.h"
#include "predict.h"
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

/* The first MAX_MISSING_LISTED distinct keys of a genome missing in t. */
static json_t *missing_keys(const lut_space *sp, const int *genome, const lut_table *t, lut_key *scratch,
                            size_t cap)
{
    json_t *arr = json_array();
    lut_space_totals tot;
    if (lut_space_expand_keys(sp, genome, scratch, cap, &tot))
        return arr;
    size_t listed[MAX_MISSING_LISTED], nl = 0;
    for (size_t i = 0; i < tot.layers && nl < MAX_MISSING_LISTED; i++) {
        if (lut_table_find(t, &scratch[i]))
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

/* The latency object of every device for one costed genome. */
static json_t *genome_latency(const lut_space *sp, const int *genome, const fm_tables *tables,
                              const lut_space_totals *tot, const lut_sum *lat, lut_key *scratch)
{
    json_t *latency = json_object();
    for (size_t d = 0; d < tables->n; d++) {
        const lut_table *t = tables->tables[d];
        json_t *mk = lat[d].missing ? missing_keys(sp, genome, t, scratch, lut_space_max_layers(sp) + 1)
                                    : json_array();
        json_object_set_new(latency, lut_table_device(t)->name,
                            fm_latency_json(t, lat[d].total, tot->layers, lat[d].hits, lat[d].missing, mk));
    }
    return latency;
}

/* What costing the genomes of one request needs. */
typedef struct space_costing {
    const fm_space *s;
    const lut_space *sp;
    fm_tables tables;
    lut_space_coster *coster; /* builder spaces */
    lut_sum *lat;             /* one per table */
    lut_key *scratch;         /* missing keys */
} space_costing;

static int costing_start(space_costing *c, fm_request *rq, json_t *devices, fm_response *rs)
{
    if (fm_tables_from_json(rq->srv->store, devices, &c->tables, rs))
        return -1;
    if (!lut_space_has_builder(c->sp)) {
        if (!c->tables.n)
            return 0;
        fm_problem(rs, 422, "invalid-field",
                   fm_err_pointer(NULL, "/devices", "a categorical space has no layers to cost; send []"),
                   "space \"%s\" is categorical: it has no latency", lut_space_id(c->sp));
        return -1;
    }
    int rc = lut_space_coster_build(c->sp, (const lut_table *const *)c->tables.tables, c->tables.n, &c->coster);
    c->lat = calloc(c->tables.n + 1, sizeof *c->lat);
    c->scratch = calloc(lut_space_max_layers(c->sp) + 1, sizeof *c->scratch);
    if (rc || !c->lat || !c->scratch) {
        fm_problem(rs, 500, "internal", NULL, "cannot cost the space: %s", lut_strerror(rc ? rc : LUT_ENOMEM));
        return -1;
    }
    return 0;
}

static void costing_end(space_costing *c)
{
    free(c->scratch);
    free(c->lat);
    lut_space_coster_free(c->coster);
    fm_tables_release(&c->tables);
}

/* The result of genome i (costs, no predictions yet) into results; its
 * genome into genomes and its totals into tot. Answers 422 on a bad one. */
static int cost_genome(space_costing *c, json_t *g, size_t i, int *genome, lut_space_totals *tot,
                       json_t *results, fm_response *rs)
{
    char base[48];
    snprintf(base, sizeof base, "/genomes/%zu", i);
    if (genome_arg(c->s, g, base, genome, rs))
        return -1;
    json_t *r = json_pack("{s:o}", "genome", fm_genome_json(c->sp, genome));
    if (c->coster) {
        lut_space_cost(c->coster, genome, tot, c->lat);
        json_t *latency = genome_latency(c->sp, genome, &c->tables, tot, c->lat, c->scratch);
        json_object_set_new(r, "macs", json_integer((json_int_t)tot->macs));
        json_object_set_new(r, "flops", json_integer((json_int_t)(2 * tot->macs)));
        json_object_set_new(r, "params", json_integer((json_int_t)tot->params));
        json_object_set_new(r, "latency", latency);
    }
    json_array_append_new(results, r);
    return 0;
}

/* The predictions of every result, in one batch from the costs just
 * computed (tot, NULL on categorical spaces); with predict 0 each result
 * says they were not asked for. Returns -1 when out of memory. */
static int predict_results(fm_space *s, const char *fidelity, int predict, const int *genomes,
                           const lut_space_totals *tot, json_t *results, fm_predictor *pred)
{
    size_t n = json_array_size(results);
    if (!predict) {
        for (size_t i = 0; i < n; i++) {
            json_t *r = json_array_get(results, i);
            json_object_set_new(r, "predicted", json_null());
            json_object_set_new(r, "predicted_reason", json_string("predictions were not asked for (?predict=false)"));
        }
        return 0;
    }
    fm_predictor_init(pred, s, fidelity);
    if (fm_predictor_run(pred, genomes, tot, n))
        return -1;
    for (size_t i = 0; i < n; i++)
        fm_predictor_annotate(pred, i, json_array_get(results, i));
    return 0;
}

void h_space_estimate(fm_request *rq, fm_response *rs)
{
    fm_space *s = fm_space_param(rq, rs);
    if (!s)
        return;
    const lut_space *sp = s->space;
    size_t ng = lut_space_gene_count(sp);
    json_t *body = fm_read_json_body(rq, rs);
    space_costing c = {.s = s, .sp = sp};
    int *genomes = NULL;
    lut_space_totals *tot = NULL;
    json_t *results = NULL;
    fm_predictor pred = {0};
    const char *fidelity;
    int predict;
    static const char *const allowed[] = {"devices", "genomes", NULL};
    if (fm_fidelity_param(rq, rs, &fidelity) || fm_bool_param(rq, rs, "predict", 1, &predict) || !body ||
        body_fields(body, allowed, rs))
        goto out;
    json_t *jg = json_object_get(body, "genomes");
    if (!json_is_array(jg) || json_array_size(jg) == 0 || json_array_size(jg) > MAX_GENOMES) {
        const char *why = jg ? "must be an array of 1 to 100000 genomes" : "is required";
        fm_problem(rs, 422, "invalid-field", fm_err_pointer(NULL, "/genomes", why), "genomes %s", why);
        goto out;
    }
    if (costing_start(&c, rq, json_object_get(body, "devices"), rs))
        goto out;
    size_t n = json_array_size(jg);
    genomes = calloc(n * ng + 1, sizeof *genomes);
    tot = calloc(n, sizeof *tot);
    if (!genomes || !tot) {
        fm_problem(rs, 500, "internal", NULL, "out of memory");
        goto out;
    }
    results = json_array();
    for (size_t i = 0; i < n; i++)
        if (cost_genome(&c, json_array_get(jg, i), i, genomes + i * ng, &tot[i], results, rs))
            goto out;
    if (predict_results(s, fidelity, predict, genomes, c.coster ? tot : NULL, results, &pred)) {
        fm_problem(rs, 500, "internal", NULL, "out of memory");
        goto out;
    }
    fm_respond_json(rs, 200, json_pack("{s:s, s:o, s:o}", "space", lut_space_id(sp), "results", results,
                                       "lut_versions", fm_versions_json(&c.tables)));
    results = NULL;
out:
    json_decref(results);
    free(genomes);
    free(tot);
    costing_end(&c);
    fm_predictor_release(&pred);
    json_decref(body);
    fm_spaces_release(s);
}

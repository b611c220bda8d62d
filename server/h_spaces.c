/*
 * h_spaces.c — search spaces: list, describe, register, delete, expand a
 * genome into layers, the profiler's to-do list, and batch costing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "estimate.h"
#include "predict.h"
#include "server.h"
#include "spaces.h"

#define MAX_GENOMES 100000
#define MAX_MISSING_LISTED 20

/* The {id} path parameter as a space reference; answers 404 if unknown. */
static fm_space *space_param(fm_request *rq, fm_response *rs)
{
    fm_space *s = fm_spaces_get(&rq->srv->spaces, rq->params[0]);
    if (!s)
        fm_problem(rs, 404, "not-found", fm_err_param(NULL, "id", "no space has this id"),
                   "space \"%.80s\" not found", rq->params[0]);
    return s;
}

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
    fm_space *s = space_param(rq, rs);
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
static int genome_arg(const lut_space *sp, json_t *v, const char *base, int *genome, fm_response *rs)
{
    lut_error err = {.row = -1};
    int rc = fm_genome_from_json(sp, v, genome, &err);
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
    fm_space *s = space_param(rq, rs);
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
    if (genome_arg(sp, g, "/genome", genome, rs))
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
    fm_space *s = space_param(rq, rs);
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

void h_space_estimate(fm_request *rq, fm_response *rs)
{
    fm_space *s = space_param(rq, rs);
    if (!s)
        return;
    const lut_space *sp = s->space;
    size_t ng = lut_space_gene_count(sp);
    json_t *body = fm_read_json_body(rq, rs);
    fm_tables tables = {0};
    lut_space_coster *coster = NULL;
    int *genome = calloc(ng + 1, sizeof *genome);
    lut_sum *lat = NULL;
    lut_key *scratch = NULL;
    json_t *results = NULL;
    fm_predictor pred = {0};
    const char *fidelity;
    static const char *const allowed[] = {"devices", "genomes", NULL};
    if (fm_fidelity_param(rq, rs, &fidelity) || !body || !genome || body_fields(body, allowed, rs))
        goto out;
    json_t *genomes = json_object_get(body, "genomes");
    if (!json_is_array(genomes) || json_array_size(genomes) == 0 || json_array_size(genomes) > MAX_GENOMES) {
        const char *why = genomes ? "must be an array of 1 to 100000 genomes" : "is required";
        fm_problem(rs, 422, "invalid-field", fm_err_pointer(NULL, "/genomes", why), "genomes %s", why);
        goto out;
    }
    if (fm_tables_acquire(rq->srv, json_object_get(body, "devices"), &tables, rs))
        goto out;
    int builder = lut_space_has_builder(sp);
    if (!builder && tables.n) {
        fm_problem(rs, 422, "invalid-field",
                   fm_err_pointer(NULL, "/devices", "a categorical space has no layers to cost; send []"),
                   "space \"%s\" is categorical: it has no latency", lut_space_id(sp));
        goto out;
    }
    if (builder) {
        int rc = lut_space_coster_build(sp, (const lut_table *const *)tables.tables, tables.n, &coster);
        lat = calloc(tables.n + 1, sizeof *lat);
        scratch = calloc(lut_space_max_layers(sp) + 1, sizeof *scratch);
        if (rc || !lat || !scratch) {
            fm_problem(rs, 500, "internal", NULL, "cannot cost the space: %s", lut_strerror(rc ? rc : LUT_ENOMEM));
            goto out;
        }
    }
    fm_predictor_init(&pred, rq->srv, s, fidelity);
    results = json_array();
    size_t i;
    json_t *g;
    json_array_foreach(genomes, i, g) {
        char base[48];
        snprintf(base, sizeof base, "/genomes/%zu", i);
        if (genome_arg(sp, g, base, genome, rs))
            goto out;
        json_t *r = json_pack("{s:o}", "genome", fm_genome_json(sp, genome));
        if (builder) {
            lut_space_totals tot;
            lut_space_cost(coster, genome, &tot, lat);
            json_t *latency = json_object();
            for (size_t d = 0; d < tables.n; d++) {
                const lut_table *t = tables.tables[d];
                json_t *mk = lat[d].missing ? missing_keys(sp, genome, t, scratch, lut_space_max_layers(sp) + 1)
                                            : json_array();
                json_object_set_new(latency, lut_table_device(t)->name,
                                    fm_latency_json(t, lat[d].total, tot.layers, lat[d].hits, lat[d].missing, mk));
            }
            json_object_set_new(r, "macs", json_integer((json_int_t)tot.macs));
            json_object_set_new(r, "flops", json_integer((json_int_t)(2 * tot.macs)));
            json_object_set_new(r, "params", json_integer((json_int_t)tot.params));
            json_object_set_new(r, "latency", latency);
        }
        fm_predictor_annotate(&pred, genome, r);
        json_array_append_new(results, r);
    }
    fm_respond_json(rs, 200, json_pack("{s:s, s:o, s:o}", "space", lut_space_id(sp), "results", results,
                                       "lut_versions", fm_versions_json(&tables)));
    results = NULL;
out:
    json_decref(results);
    free(scratch);
    free(lat);
    free(genome);
    lut_space_coster_free(coster);
    fm_predictor_release(&pred);
    fm_tables_release(&tables);
    json_decref(body);
    fm_spaces_release(s);
}

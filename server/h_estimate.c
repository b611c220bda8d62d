/*
 * h_estimate.c — POST /v1/estimate: the cost of networks given as layer
 * lists, on any number of devices, each from exactly one LUT version.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "estimate.h"
#include "server.h"

#define MAX_NETWORKS 100000
#define MAX_MISSING_LISTED 20

void fm_tables_release(fm_tables *t)
{
    for (size_t i = 0; i < t->n; i++)
        lut_table_release(t->tables[i]);
    free(t->tables);
    t->tables = NULL;
    t->n = 0;
}

int fm_tables_acquire(fm_server *srv, json_t *devices, fm_tables *out, fm_response *rs)
{
    memset(out, 0, sizeof *out);
    if (!devices) {
        fm_problem(rs, 422, "invalid-field", fm_err_pointer(NULL, "/devices", "is required (it may be empty)"),
                   "devices is required");
        return -1;
    }
    if (!json_is_array(devices)) {
        fm_problem(rs, 422, "invalid-field", fm_err_pointer(NULL, "/devices", "must be an array of device names"),
                   "devices must be an array of device names");
        return -1;
    }
    size_t n = json_array_size(devices);
    out->tables = calloc(n ? n : 1, sizeof *out->tables);
    if (!out->tables) {
        fm_problem(rs, 500, "internal", NULL, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *d = json_array_get(devices, i);
        char pointer[48];
        snprintf(pointer, sizeof pointer, "/devices/%zu", i);
        const char *name = json_is_string(d) ? json_string_value(d) : NULL;
        const char *why = NULL;
        if (!name)
            why = "must be a device name (a string)";
        else if (!lut_device_name_valid(name))
            why = "is not a valid device name ([a-z0-9._-]{1,64})";
        for (size_t j = 0; !why && j < i; j++)
            if (!strcmp(lut_table_device(out->tables[j])->name, name))
                why = "is listed twice";
        int rc = why ? 0 : lut_store_table(srv->store, name, &out->tables[i]);
        if (!why && rc == LUT_ENOTFOUND)
            why = "is not a known device";
        if (why) {
            fm_problem(rs, 422, "invalid-field", fm_err_pointer(NULL, pointer, why),
                       "devices[%zu] %s", i, why);
            fm_tables_release(out);
            return -1;
        }
        if (rc) {
            fm_store_failure(rs, rc, "device table");
            fm_tables_release(out);
            return -1;
        }
        out->n = i + 1;
    }
    out->n = n;
    return 0;
}

json_t *fm_latency_json(const lut_table *t, double total, size_t layers, size_t hits,
                        size_t missing, json_t *missing_keys)
{
    const lut_device *d = lut_table_device(t);
    double per = lut_device_ms_per_unit(d);
    json_t *o = json_pack("{s:f, s:s, s:o, s:I, s:I, s:I, s:b}", "total", total, "unit", d->unit,
                          "ms", per > 0 ? json_real(total * per) : json_null(),
                          "layers", (json_int_t)layers, "hits", (json_int_t)hits,
                          "missing", (json_int_t)missing, "complete", missing == 0);
    if (missing_keys)
        json_object_set_new(o, "missing_keys", missing_keys);
    return o;
}

json_t *fm_versions_json(const fm_tables *t)
{
    json_t *v = json_object();
    for (size_t i = 0; i < t->n; i++) {
        const lut_device *d = lut_table_device(t->tables[i]);
        json_object_set_new(v, d->name, json_integer((json_int_t)d->lut_version));
    }
    return v;
}

/* Parsed layers of one network. */
typedef struct layer {
    lut_key key;
    lut_pkey pkey;
    int packed;    /* pkey is valid */
    uint64_t hash; /* lut_pkey_hash when packed, else lut_key_hash */
    lut_cost cost;
    char name[128];
} layer;

static int add_checked(uint64_t *sum, uint64_t v)
{
    return __builtin_add_overflow(*sum, v, sum);
}

/* Estimate one network object; answers 422 and returns NULL on a bad one. */
static json_t *estimate_network(json_t *net, size_t ni, const fm_tables *tables, int detail,
                                layer **scratch, size_t *scratch_cap, fm_response *rs)
{
    char pointer[160];
    snprintf(pointer, sizeof pointer, "/networks/%zu", ni);
    if (!json_is_object(net)) {
        fm_problem(rs, 422, "invalid-field", fm_err_pointer(NULL, pointer, "must be an object {name, layers}"),
                   "networks[%zu] must be an object", ni);
        return NULL;
    }
    json_t *name = NULL, *layers = NULL;
    const char *k;
    json_t *v;
    json_object_foreach(net, k, v) {
        if (!strcmp(k, "name"))
            name = v;
        else if (!strcmp(k, "layers"))
            layers = v;
        else {
            snprintf(pointer, sizeof pointer, "/networks/%zu/%.60s", ni, k);
            fm_problem(rs, 422, "invalid-field", fm_err_pointer(NULL, pointer, "unknown field"),
                       "networks[%zu] has an unknown field \"%.60s\"", ni, k);
            return NULL;
        }
    }
    if (name && !json_is_string(name)) {
        snprintf(pointer, sizeof pointer, "/networks/%zu/name", ni);
        fm_problem(rs, 422, "invalid-field", fm_err_pointer(NULL, pointer, "must be a string"),
                   "networks[%zu].name must be a string", ni);
        return NULL;
    }
    if (!json_is_array(layers) || json_array_size(layers) == 0) {
        snprintf(pointer, sizeof pointer, "/networks/%zu/layers", ni);
        const char *why = layers ? "must be a non-empty array of layer keys" : "is required";
        fm_problem(rs, 422, "invalid-field", fm_err_pointer(NULL, pointer, why),
                   "networks[%zu].layers %s", ni, why);
        return NULL;
    }
    size_t n = json_array_size(layers);
    if (n > *scratch_cap) {
        layer *p = realloc(*scratch, n * sizeof *p);
        if (!p) {
            fm_problem(rs, 500, "internal", NULL, "out of memory");
            return NULL;
        }
        *scratch = p;
        *scratch_cap = n;
    }
    layer *ls = *scratch;
    uint64_t macs = 0, params = 0;
    for (size_t i = 0; i < n; i++) {
        lut_error err = {.row = -1};
        int rc = fm_key_from_json(json_array_get(layers, i), &ls[i].key, ls[i].name,
                                  sizeof ls[i].name, &err);
        if (!rc)
            rc = lut_key_cost(&ls[i].key, &ls[i].cost, &err);
        if (!rc && (add_checked(&macs, ls[i].cost.macs) || add_checked(&params, ls[i].cost.params)))
            rc = LUT_EINVAL, snprintf(err.field, sizeof err.field, "macs"),
            snprintf(err.reason, sizeof err.reason, "the network's total overflows 64 bits");
        if (rc) {
            snprintf(pointer, sizeof pointer, "/networks/%zu/layers/%zu%s%s", ni, i,
                     err.field[0] ? "/" : "", err.field);
            fm_problem(rs, 422, "invalid-field", fm_err_pointer(NULL, pointer, err.reason),
                       "networks[%zu].layers[%zu]%s%s: %s", ni, i, err.field[0] ? "." : "",
                       err.field, err.reason);
            return NULL;
        }
        /* The packed key when it packs: lookups then touch only the
         * table's compact index. */
        ls[i].packed = lut_key_pack(&ls[i].key, &ls[i].pkey) == LUT_OK;
        ls[i].hash = ls[i].packed ? lut_pkey_hash(&ls[i].pkey) : lut_key_hash(&ls[i].key);
    }
    if (macs > UINT64_MAX / 2) {
        fm_problem(rs, 422, "invalid-field", fm_err_pointer(NULL, pointer, "flops overflow 64 bits"),
                   "networks[%zu]: flops overflow 64 bits", ni);
        return NULL;
    }

    json_t *latency = json_object();
    json_t *layer_lat = NULL; /* per layer, per device: filled when detail */
    if (detail)
        layer_lat = json_array();
    for (size_t i = 0; detail && i < n; i++)
        json_array_append_new(layer_lat, json_object());
    for (size_t d = 0; d < tables->n; d++) {
        const lut_table *t = tables->tables[d];
        const char *dname = lut_table_device(t)->name;
        double total = 0;
        size_t hits = 0, missing = 0, nlisted = 0;
        size_t listed[MAX_MISSING_LISTED];
        json_t *missing_keys = json_array();
        for (size_t i = 0; i < n; i++) {
            const lut_entry *e = ls[i].packed ? lut_table_find_packed(t, &ls[i].pkey, ls[i].hash)
                                              : lut_table_find_hashed(t, &ls[i].key, ls[i].hash);
            if (e) {
                total += e->latency.mean;
                hits++;
            } else {
                missing++;
                int seen = 0;
                for (size_t j = 0; j < nlisted && !seen; j++)
                    seen = lut_key_equal(&ls[listed[j]].key, &ls[i].key);
                if (!seen && nlisted < MAX_MISSING_LISTED) {
                    listed[nlisted++] = i;
                    json_array_append_new(missing_keys, fm_key_to_json(&ls[i].key));
                }
            }
            if (detail)
                json_object_set_new(json_array_get(layer_lat, i), dname,
                                    e ? json_real(e->latency.mean) : json_null());
        }
        json_object_set_new(latency, dname, fm_latency_json(t, total, n, hits, missing, missing_keys));
    }

    json_t *res = json_pack("{s:o, s:I, s:I, s:I, s:o}", "name",
                            name ? json_incref(name) : json_sprintf("network-%zu", ni),
                            "macs", (json_int_t)macs, "flops", (json_int_t)(2 * macs),
                            "params", (json_int_t)params, "latency", latency);
    if (detail) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            json_t *l = json_pack("{s:I, s:o, s:[I,I,I], s:I, s:I, s:O}", "index", (json_int_t)i,
                                  "key", fm_key_to_json(&ls[i].key), "out",
                                  (json_int_t)ls[i].cost.out_c, (json_int_t)ls[i].cost.out_h,
                                  (json_int_t)ls[i].cost.out_w, "macs", (json_int_t)ls[i].cost.macs,
                                  "params", (json_int_t)ls[i].cost.params, "latency",
                                  json_array_get(layer_lat, i));
            if (ls[i].name[0])
                json_object_set_new(l, "name", json_string(ls[i].name));
            json_array_append_new(arr, l);
        }
        json_object_set_new(res, "layers", arr);
        json_decref(layer_lat);
    }
    return res;
}

int fm_detail_param(fm_request *rq, fm_response *rs, int *detail)
{
    const char *s = fm_query(rq, "detail");
    *detail = 0;
    if (!s)
        return 0;
    if (!strcmp(s, "layers")) {
        *detail = 1;
        return 0;
    }
    fm_problem(rs, 400, "invalid-parameter", fm_err_param(NULL, "detail", "the only value is \"layers\""),
               "detail \"%.40s\" is not known; use detail=layers", s);
    return -1;
}

void h_estimate(fm_request *rq, fm_response *rs)
{
    int detail;
    if (fm_detail_param(rq, rs, &detail))
        return;
    json_t *body = fm_read_json_body(rq, rs);
    if (!body)
        return;
    fm_tables tables = {0};
    json_t *results = NULL;
    layer *scratch = NULL;
    size_t scratch_cap = 0;
    if (!json_is_object(body)) {
        fm_problem(rs, 422, "invalid-field", fm_err_pointer(NULL, "", "must be an object {devices, networks}"),
                   "the body must be an object");
        goto out;
    }
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v) {
        if (strcmp(k, "devices") != 0 && strcmp(k, "networks") != 0) {
            char pointer[80];
            snprintf(pointer, sizeof pointer, "/%.60s", k);
            fm_problem(rs, 422, "invalid-field", fm_err_pointer(NULL, pointer, "unknown field"),
                       "unknown field \"%.60s\"", k);
            goto out;
        }
    }
    json_t *networks = json_object_get(body, "networks");
    if (!json_is_array(networks) || json_array_size(networks) == 0 ||
        json_array_size(networks) > MAX_NETWORKS) {
        const char *why = !networks ? "is required"
                                    : "must be an array of 1 to 100000 networks";
        fm_problem(rs, 422, "invalid-field", fm_err_pointer(NULL, "/networks", why), "networks %s", why);
        goto out;
    }
    if (fm_tables_acquire(rq->srv, json_object_get(body, "devices"), &tables, rs))
        goto out;
    results = json_array();
    size_t i;
    json_t *net;
    json_array_foreach(networks, i, net) {
        json_t *r = estimate_network(net, i, &tables, detail, &scratch, &scratch_cap, rs);
        if (!r)
            goto out;
        json_array_append_new(results, r);
    }
    fm_respond_json(rs, 200, json_pack("{s:o, s:o}", "results", results, "lut_versions",
                                       fm_versions_json(&tables)));
    results = NULL;
out:
    json_decref(results);
    free(scratch);
    fm_tables_release(&tables);
    json_decref(body);
}

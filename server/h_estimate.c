/*
 * h_estimate.c — POST /v1/estimate: the cost of networks given as layer
 * lists, on any number of devices, each from exactly one LUT version.
 */
#include "h_estimate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "estimate.h"
#include "lut_predict.h"
#include "params.h"
#include "server.h"

#define MAX_NETWORKS 100000
#define MAX_MISSING_LISTED 20

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

/* The object of network ni: its name and layers (answers 422 on a fault). */
static int network_fields(json_t *net, size_t ni, json_t **name, json_t **layers, fm_response *rs)
{
    char pointer[160];
    snprintf(pointer, sizeof pointer, "/networks/%zu", ni);
    if (!json_is_object(net)) {
        fm_problem(rs, 422, "invalid-field", fm_err_pointer(NULL, pointer, "must be an object {name, layers}"),
                   "networks[%zu] must be an object", ni);
        return -1;
    }
    *name = *layers = NULL;
    const char *k;
    json_t *v;
    json_object_foreach(net, k, v) {
        if (!strcmp(k, "name"))
            *name = v;
        else if (!strcmp(k, "layers"))
            *layers = v;
        else {
            snprintf(pointer, sizeof pointer, "/networks/%zu/%.60s", ni, k);
            fm_problem(rs, 422, "invalid-field", fm_err_pointer(NULL, pointer, "unknown field"),
                       "networks[%zu] has an unknown field \"%.60s\"", ni, k);
            return -1;
        }
    }
    if (*name && !json_is_string(*name)) {
        snprintf(pointer, sizeof pointer, "/networks/%zu/name", ni);
        fm_problem(rs, 422, "invalid-field", fm_err_pointer(NULL, pointer, "must be a string"),
                   "networks[%zu].name must be a string", ni);
        return -1;
    }
    if (!json_is_array(*layers) || json_array_size(*layers) == 0) {
        snprintf(pointer, sizeof pointer, "/networks/%zu/layers", ni);
        const char *why = *layers ? "must be a non-empty array of layer keys" : "is required";
        fm_problem(rs, 422, "invalid-field", fm_err_pointer(NULL, pointer, why),
                   "networks[%zu].layers %s", ni, why);
        return -1;
    }
    return 0;
}

/* Parse the layers of network ni into ls (canonical keys, costs, packed
 * keys and hashes) with the network's MACs and params; answers 422. */
static int parse_layers(json_t *layers, size_t ni, layer *ls, uint64_t *macs, uint64_t *params,
                        fm_response *rs)
{
    char pointer[160];
    size_t n = json_array_size(layers);
    *macs = *params = 0;
    for (size_t i = 0; i < n; i++) {
        lut_error err = {.row = -1};
        int rc = fm_key_from_json(json_array_get(layers, i), &ls[i].key, ls[i].name,
                                  sizeof ls[i].name, &err);
        if (!rc)
            rc = lut_key_cost(&ls[i].key, &ls[i].cost, &err);
        if (!rc && (add_checked(macs, ls[i].cost.macs) || add_checked(params, ls[i].cost.params)))
            rc = LUT_EINVAL, snprintf(err.field, sizeof err.field, "macs"),
            snprintf(err.reason, sizeof err.reason, "the network's total overflows 64 bits");
        if (rc) {
            snprintf(pointer, sizeof pointer, "/networks/%zu/layers/%zu%s%s", ni, i,
                     err.field[0] ? "/" : "", err.field);
            fm_problem(rs, 422, "invalid-field", fm_err_pointer(NULL, pointer, err.reason),
                       "networks[%zu].layers[%zu]%s%s: %s", ni, i, err.field[0] ? "." : "",
                       err.field, err.reason);
            return -1;
        }
        /* The packed key when it packs: lookups then touch only the
         * table's compact index. */
        ls[i].packed = lut_key_pack(&ls[i].key, &ls[i].pkey) == LUT_OK;
        ls[i].hash = ls[i].packed ? lut_pkey_hash(&ls[i].pkey) : lut_key_hash(&ls[i].key);
    }
    if (*macs > UINT64_MAX / 2) {
        snprintf(pointer, sizeof pointer, "/networks/%zu", ni);
        fm_problem(rs, 422, "invalid-field", fm_err_pointer(NULL, pointer, "flops overflow 64 bits"),
                   "networks[%zu]: flops overflow 64 bits", ni);
        return -1;
    }
    return 0;
}

/* The latency object of n layers on table t; with layer_lat (detail), each
 * layer's latency on t joins its object there (a predicted one too, unless
 * strict). */
static json_t *network_latency(const lut_table *t, const lut_calib *cal, const layer *ls, size_t n,
                               json_t *layer_lat, int strict)
{
    const char *dname = lut_table_device(t)->name;
    const lut_predictor *pred = strict ? NULL : lut_table_predictor(t);
    lut_sum s = {0};
    size_t nlisted = 0;
    size_t listed[MAX_MISSING_LISTED];
    json_t *missing_keys = json_array();
    for (size_t i = 0; i < n; i++) {
        const lut_entry *e = ls[i].packed ? lut_table_find_packed(t, &ls[i].pkey, ls[i].hash)
                                          : lut_table_find_hashed(t, &ls[i].key, ls[i].hash);
        double pm = 0, pv = 0;
        int predicted = 0;
        if (e) {
            s.total += e->latency.mean;
            s.hits++;
        } else {
            s.missing++;
            predicted = lut_predict(pred, &ls[i].key, &pm, &pv);
            s.predicted += (size_t)predicted;
            s.predicted_total += pm;
            s.predicted_var += pv;
            int seen = predicted;
            for (size_t j = 0; j < nlisted && !seen; j++)
                seen = lut_key_equal(&ls[listed[j]].key, &ls[i].key);
            if (!seen && nlisted < MAX_MISSING_LISTED) {
                listed[nlisted++] = i;
                json_array_append_new(missing_keys, fm_key_to_json(&ls[i].key));
            }
        }
        if (layer_lat)
            json_object_set_new(json_array_get(layer_lat, i), dname,
                                e ? json_real(e->latency.mean) : predicted ? json_real(pm) : json_null());
    }
    fm_lat l = {&s, n, strict, cal};
    return fm_latency_json(t, &l, missing_keys);
}

/* The "layers" array of ?detail=layers; takes the reference to layer_lat. */
static json_t *layers_json(const layer *ls, size_t n, json_t *layer_lat)
{
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
    json_decref(layer_lat);
    return arr;
}

/* Estimate one network object; answers 422 and returns NULL on a bad one. */
static json_t *estimate_network(json_t *net, size_t ni, const fm_tables *tables, int detail, int strict,
                                layer **scratch, size_t *scratch_cap, fm_response *rs)
{
    json_t *name, *layers;
    if (network_fields(net, ni, &name, &layers, rs))
        return NULL;
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
    uint64_t macs, params;
    if (parse_layers(layers, ni, ls, &macs, &params, rs))
        return NULL;
    json_t *latency = json_object();
    json_t *layer_lat = NULL; /* per layer, per device: filled when detail */
    if (detail)
        layer_lat = json_array();
    for (size_t i = 0; detail && i < n; i++)
        json_array_append_new(layer_lat, json_object());
    for (size_t d = 0; d < tables->n; d++)
        json_object_set_new(latency, lut_table_device(tables->tables[d])->name,
                            network_latency(tables->tables[d], fm_tables_cal(tables, d), ls, n, layer_lat,
                                            strict));
    json_t *res = json_pack("{s:o, s:I, s:I, s:I, s:o}", "name",
                            name ? json_incref(name) : json_sprintf("network-%zu", ni),
                            "macs", (json_int_t)macs, "flops", (json_int_t)(2 * macs),
                            "params", (json_int_t)params, "latency", latency);
    if (detail)
        json_object_set_new(res, "layers", layers_json(ls, n, layer_lat));
    return res;
}

/* ?detail=layers → 1; absent → 0; anything else answers 400 and returns -1. */
static int detail_param(fm_request *rq, fm_response *rs, int *detail)
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
    int detail, strict;
    if (detail_param(rq, rs, &detail) || fm_bool_param(rq, rs, "strict", 0, &strict))
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
    if (fm_tables_from_json(rq->srv->store, json_object_get(body, "devices"), &tables, rs))
        goto out;
    if (!strict && fm_tables_calibrate(&tables, rq->srv->calib)) {
        fm_problem(rs, 500, "internal", NULL, "out of memory");
        goto out;
    }
    results = json_array();
    size_t i;
    json_t *net;
    json_array_foreach(networks, i, net) {
        json_t *r = estimate_network(net, i, &tables, detail, strict, &scratch, &scratch_cap, rs);
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

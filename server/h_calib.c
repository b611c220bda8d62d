/*
 * h_calib.c — POST and GET /v1/devices/{name}/measurements (see
 * docs/latency.md). A measurement is a network (its layers, as in
 * /v1/estimate, or a genome of a builder space) and its measured
 * whole-network latency on the device. A batch is stored whole or not at
 * all; the calibration of the device follows on the next estimate.
 */
#include "h_calib.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"
#include "codec.h"
#include "params.h"
#include "server.h"
#include "spaces.h"

#define MAX_BATCH 1000
#define MAX_LAYERS 100000

/* Answer 422 for pointer base+rest with reason why; returns NULL. */
static json_t *fault(fm_response *rs, const char *base, const char *rest, const char *why)
{
    char pointer[256];
    snprintf(pointer, sizeof pointer, "%s%s", base, rest);
    fm_problem(rs, 422, "invalid-field", fm_err_pointer(NULL, pointer, why), "%s %s",
               pointer[0] ? pointer : "the body", why);
    return NULL;
}

/* {"mean", "std", "count"} checked into a new object; NULL after a 422. */
static json_t *latency_of(json_t *v, const char *base, fm_response *rs)
{
    if (!json_is_object(v))
        return fault(rs, base, v ? "/latency" : "/latency", v ? "must be an object {mean, std, count}" : "is required");
    const char *k;
    json_t *x;
    char rest[96];
    json_object_foreach(v, k, x) {
        if (strcmp(k, "mean") && strcmp(k, "std") && strcmp(k, "count")) {
            snprintf(rest, sizeof rest, "/latency/%.60s", k);
            return fault(rs, base, rest, "unknown field");
        }
    }
    json_t *mean = json_object_get(v, "mean"), *std = json_object_get(v, "std"),
           *count = json_object_get(v, "count");
    if (!json_is_number(mean) || !(json_number_value(mean) > 0) || !isfinite(json_number_value(mean)))
        return fault(rs, base, "/latency/mean", mean ? "must be a finite number > 0" : "is required");
    if (std && (!json_is_number(std) || !(json_number_value(std) >= 0) || !isfinite(json_number_value(std))))
        return fault(rs, base, "/latency/std", "must be a finite number >= 0");
    if (count && (!json_is_integer(count) || json_integer_value(count) < 1))
        return fault(rs, base, "/latency/count", "must be an integer >= 1");
    return json_pack("{s:f, s:f, s:I}", "mean", json_number_value(mean), "std",
                     std ? json_number_value(std) : 0.0, "count",
                     count ? json_integer_value(count) : (json_int_t)1);
}

/* The canonical layers of a {"name"?, "layers"} network; NULL after a 422. */
static json_t *network_layers(json_t *net, const char *base, fm_response *rs)
{
    char rest[160];
    if (!json_is_object(net))
        return fault(rs, base, "/network", "must be an object {name, layers}");
    const char *k;
    json_t *v;
    json_object_foreach(net, k, v) {
        if (strcmp(k, "name") && strcmp(k, "layers")) {
            snprintf(rest, sizeof rest, "/network/%.60s", k);
            return fault(rs, base, rest, "unknown field");
        }
    }
    json_t *layers = json_object_get(net, "layers");
    if (!json_is_array(layers) || !json_array_size(layers) || json_array_size(layers) > MAX_LAYERS)
        return fault(rs, base, "/network/layers",
                     layers ? "must be an array of 1 to 100000 layer keys" : "is required");
    json_t *out = json_array();
    size_t i;
    json_array_foreach(layers, i, v) {
        lut_key key;
        lut_error err = {.row = -1};
        if (fm_key_from_json(v, &key, NULL, 0, &err)) {
            snprintf(rest, sizeof rest, "/network/layers/%zu%s%s", i, err.field[0] ? "/" : "", err.field);
            json_decref(out);
            return fault(rs, base, rest, err.reason);
        }
        json_array_append_new(out, fm_key_to_json(&key));
    }
    return out;
}

/* The layers of {"space", "genome"} (doc gets the space and genome);
 * NULL after a 422. */
static json_t *genome_layers(fm_request *rq, json_t *item, json_t *doc, const char *base, fm_response *rs)
{
    json_t *sid = json_object_get(item, "space"), *g = json_object_get(item, "genome");
    if (!json_is_string(sid))
        return fault(rs, base, "/space", "must be a space id (a string)");
    if (!g)
        return fault(rs, base, "/genome", "is required with space");
    fm_space *s = fm_spaces_get(&rq->srv->spaces, json_string_value(sid));
    if (!s)
        return fault(rs, base, "/space", "is not a known space");
    json_t *out = NULL;
    const lut_space *sp = s->space;
    size_t cap = lut_space_max_layers(sp) + 1;
    int *genome = calloc(lut_space_gene_count(sp) + 1, sizeof *genome);
    lut_key *keys = calloc(cap, sizeof *keys);
    lut_error err = {.row = -1};
    lut_space_totals tot;
    if (!genome || !keys) {
        fm_problem(rs, 500, "internal", NULL, "out of memory");
    } else if (!lut_space_has_builder(sp)) {
        fault(rs, base, "/space", "is categorical: it has no layers");
    } else if (fm_space_genome_from_json(s, g, genome, &err)) {
        char rest[160];
        snprintf(rest, sizeof rest, "/genome%s", err.field);
        fault(rs, base, rest, err.reason[0] ? err.reason : "is not a genome of the space");
    } else if (lut_space_expand_keys(sp, genome, keys, cap, &tot)) {
        fm_problem(rs, 500, "internal", NULL, "the genome does not expand");
    } else {
        out = json_array();
        for (size_t i = 0; i < tot.layers; i++)
            json_array_append_new(out, fm_key_to_json(&keys[i]));
        json_object_set_new(doc, "space", json_string(lut_space_id(sp)));
        json_object_set_new(doc, "genome", fm_genome_json(sp, genome));
    }
    free(keys);
    free(genome);
    fm_spaces_release(s);
    return out;
}

/* One measurement → its document; NULL after an answer. */
static json_t *measurement(fm_request *rq, json_t *item, const char *base, fm_response *rs)
{
    if (!json_is_object(item))
        return fault(rs, base, "", "must be an object {network | space and genome, latency}");
    const char *k;
    json_t *v;
    json_object_foreach(item, k, v) {
        static const char *const ok[] = {"name", "network", "space", "genome", "latency"};
        int known = 0;
        for (size_t i = 0; i < 5; i++)
            known |= !strcmp(k, ok[i]);
        if (!known) {
            char rest[80];
            snprintf(rest, sizeof rest, "/%.60s", k);
            return fault(rs, base, rest, "unknown field");
        }
    }
    json_t *name = json_object_get(item, "name"), *net = json_object_get(item, "network");
    if (name && (!json_is_string(name) || json_string_length(name) > 128))
        return fault(rs, base, "/name", "must be a string of at most 128 bytes");
    if (!net == !json_object_get(item, "space"))
        return fault(rs, base, net ? "/space" : "/network",
                     net ? "cannot be given with network" : "is required (or space and genome)");
    if (net && json_object_get(item, "genome"))
        return fault(rs, base, "/genome", "cannot be given with network");
    json_t *lat = latency_of(json_object_get(item, "latency"), base, rs);
    if (!lat)
        return NULL;
    json_t *doc = json_object();
    if (name)
        json_object_set(doc, "name", name);
    json_t *layers = net ? network_layers(net, base, rs) : genome_layers(rq, item, doc, base, rs);
    if (!layers) {
        json_decref(lat);
        json_decref(doc);
        return NULL;
    }
    json_object_set_new(doc, "layers", layers);
    json_object_set_new(doc, "latency", lat);
    return doc;
}

void h_measurements_post(fm_request *rq, fm_response *rs)
{
    const char *name = fm_device_param(rq, rs);
    if (!name)
        return;
    lut_device dev;
    int rc = lut_device_get(rq->srv->store, name, &dev);
    if (rc) {
        fm_store_failure(rs, rc, "device");
        return;
    }
    if (!rq->srv->calib) {
        fm_problem(rs, 503, "unavailable", NULL, "measurements are not available");
        return;
    }
    json_t *body = fm_read_json_body(rq, rs);
    if (!body)
        return;
    int batch = json_is_array(body);
    size_t n = batch ? json_array_size(body) : 1;
    json_t **docs = calloc(n ? n : 1, sizeof *docs);
    size_t made = 0, total = 0;
    if (!docs) {
        fm_problem(rs, 500, "internal", NULL, "out of memory");
    } else if (batch && (n == 0 || n > MAX_BATCH)) {
        fault(rs, "", "", "must be a measurement or an array of 1 to 1000 of them");
    } else {
        for (; made < n; made++) {
            char base[32] = "";
            if (batch)
                snprintf(base, sizeof base, "/%zu", made);
            docs[made] = measurement(rq, batch ? json_array_get(body, made) : body, base, rs);
            if (!docs[made])
                break;
        }
    }
    if (docs && made == n && n) {
        rc = fm_calib_add(rq->srv->calib, name, docs, n, &total);
        if (rc) {
            fm_store_failure(rs, rc == LUT_ENOTFOUND ? LUT_ECORRUPT : rc, "measurements");
        } else {
            json_t *ids = json_array();
            for (size_t i = 0; i < n; i++)
                json_array_append(ids, json_object_get(docs[i], "id"));
            fm_respond_json(rs, 201, json_pack("{s:s, s:I, s:o, s:I}", "device", name, "accepted",
                                               (json_int_t)n, "ids", ids, "measurements",
                                               (json_int_t)total));
        }
    }
    for (size_t i = 0; docs && i < made && i < n; i++)
        json_decref(docs[i]);
    free(docs);
    json_decref(body);
}

void h_measurements_get(fm_request *rq, fm_response *rs)
{
    const char *name = fm_device_param(rq, rs);
    if (!name)
        return;
    lut_table *t;
    int rc = lut_store_table(rq->srv->store, name, &t);
    if (rc) {
        fm_store_failure(rs, rc, "device");
        return;
    }
    if (!rq->srv->calib) {
        lut_table_release(t);
        fm_problem(rs, 503, "unavailable", NULL, "measurements are not available");
        return;
    }
    json_t *list = fm_calib_list(rq->srv->calib, name, &rc);
    lut_calib cal;
    int has = fm_calib_get(rq->srv->calib, t, &cal);
    const lut_device *d = lut_table_device(t);
    if (!list)
        fm_store_failure(rs, rc, "measurements");
    else
        fm_respond_json(rs, 200, json_pack("{s:s, s:I, s:I, s:o, s:o}", "device", name, "lut_version",
                                           (json_int_t)d->lut_version, "count",
                                           (json_int_t)json_array_size(list), "measurements", list,
                                           "calibration", has ? fm_calib_json(&cal) : json_null()));
    lut_table_release(t);
}

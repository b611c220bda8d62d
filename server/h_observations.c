/*
 * h_observations.c — POST and GET /v1/spaces/{id}/observations.
 */
#include "h_observations.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "fitter.h"
#include "observations.h"
#include "params.h"
#include "server.h"
#include "spaces.h"

#define MAX_OBSERVATIONS 100000

static void free_batch(fm_obs *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(b[i].genome);
        free(b[i].meta);
    }
    free(b);
}

static int bad(fm_response *rs, size_t i, const char *field, const char *reason)
{
    char pointer[160];
    snprintf(pointer, sizeof pointer, "/observations/%zu%s%s", i, field[0] ? "/" : "", field);
    fm_problem(rs, 422, "invalid-field", fm_err_pointer(NULL, pointer, reason), "%s: %s", pointer, reason);
    return -1;
}

/* One observation object → o (genome and meta allocated). */
static int parse_one(const fm_space *s, json_t *v, size_t i, fm_obs *o, fm_response *rs)
{
    memset(o, 0, sizeof *o);
    if (!json_is_object(v))
        return bad(rs, i, "", "an observation is an object {genome, metric, value, fidelity, meta}");
    json_t *genome = NULL, *metric = NULL, *value = NULL, *fidelity = NULL, *meta = NULL;
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x) {
        if (!strcmp(k, "genome"))
            genome = x;
        else if (!strcmp(k, "metric"))
            metric = x;
        else if (!strcmp(k, "value"))
            value = x;
        else if (!strcmp(k, "fidelity"))
            fidelity = x;
        else if (!strcmp(k, "meta"))
            meta = x;
        else {
            char f[80];
            snprintf(f, sizeof f, "%.60s", k);
            return bad(rs, i, f, "unknown field");
        }
    }
    if (!genome)
        return bad(rs, i, "genome", "is required");
    if (!json_is_string(metric) || !fm_metric_name_valid(json_string_value(metric)))
        return bad(rs, i, "metric", metric ? "must be a metric name: 1 to 64 characters of [a-z0-9_]"
                                           : "is required");
    if (!value)
        return bad(rs, i, "value", "is required");
    if (!json_is_number(value) || !isfinite(json_number_value(value)))
        return bad(rs, i, "value", "must be a finite number");
    if (fidelity && (!json_is_string(fidelity) || !fm_fidelity_name_valid(json_string_value(fidelity))))
        return bad(rs, i, "fidelity", "must be a fidelity name: 1 to 64 characters of [a-z0-9._-]");
    o->genome = calloc(lut_space_gene_count(s->space) + 1, sizeof *o->genome);
    if (!o->genome) {
        fm_problem(rs, 500, "internal", NULL, "out of memory");
        return -1;
    }
    lut_error err = {.row = -1};
    int rc = fm_space_genome_from_json(s, genome, o->genome, &err);
    if (rc) {
        char f[96];
        snprintf(f, sizeof f, "genome%s", err.field);
        return bad(rs, i, f, err.reason);
    }
    snprintf(o->metric, sizeof o->metric, "%s", json_string_value(metric));
    snprintf(o->fidelity, sizeof o->fidelity, "%s", fidelity ? json_string_value(fidelity) : "default");
    o->value = json_number_value(value);
    if (meta && !json_is_null(meta)) {
        o->meta = json_dumps(meta, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!o->meta) {
            fm_problem(rs, 500, "internal", NULL, "out of memory");
            return -1;
        }
    }
    return 0;
}

/* The Idempotency-Key header: NULL when absent, else the key; -1 (answered
 * 400) when it is not 1 to FM_OBS_KEY_MAX printable ASCII characters. */
static int idempotency_key(fm_request *rq, fm_response *rs, const char **key)
{
    *key = fm_header(rq, "Idempotency-Key");
    if (!*key)
        return 0;
    size_t len = strlen(*key);
    int ok = len >= 1 && len <= FM_OBS_KEY_MAX;
    for (size_t i = 0; ok && i < len; i++)
        ok = (*key)[i] > 0x20 && (*key)[i] < 0x7f;
    if (ok)
        return 0;
    fm_problem(rs, 400, "invalid-parameter",
               fm_err_param(NULL, "Idempotency-Key", "must be 1 to 255 printable ASCII characters, no spaces"),
               "the Idempotency-Key header must be 1 to 255 printable ASCII characters, no spaces");
    return -1;
}

void h_observations_post(fm_request *rq, fm_response *rs)
{
    fm_space *s = fm_space_param(rq, rs);
    if (!s)
        return;
    const char *key;
    if (idempotency_key(rq, rs, &key)) {
        fm_spaces_release(s);
        return;
    }
    json_t *body = fm_read_json_body(rq, rs);
    fm_obs *batch = NULL;
    size_t n = 0;
    if (!body)
        goto out;
    json_t *arr = json_object_get(body, "observations");
    if (json_is_object(body)) {
        const char *k;
        json_t *v;
        json_object_foreach(body, k, v) {
            if (strcmp(k, "observations") != 0) {
                char pointer[80];
                snprintf(pointer, sizeof pointer, "/%.60s", k);
                fm_problem(rs, 422, "invalid-field", fm_err_pointer(NULL, pointer, "unknown field"),
                           "unknown field \"%.60s\": the body is {\"observations\": [...]}", k);
                goto out;
            }
        }
    }
    if (!json_is_object(body) || !json_is_array(arr) ||
        json_array_size(arr) == 0 || json_array_size(arr) > MAX_OBSERVATIONS) {
        const char *pointer = json_is_object(body) && arr ? "/observations" : "";
        fm_problem(rs, 422, "invalid-field",
                   fm_err_pointer(NULL, pointer, "the body is {\"observations\": [1 to 100000 observations]}"),
                   "the body must be {\"observations\": [...]} with 1 to 100000 items");
        goto out;
    }
    batch = calloc(json_array_size(arr), sizeof *batch);
    if (!batch) {
        fm_problem(rs, 500, "internal", NULL, "out of memory");
        goto out;
    }
    for (n = 0; n < json_array_size(arr); n++)
        if (parse_one(s, json_array_get(arr, n), n, &batch[n], rs)) {
            n++;
            goto out;
        }
    size_t total = 0, accepted = 0;
    int replayed = 0;
    uint64_t digest = key ? fm_obs_digest(batch, n, lut_space_gene_count(s->space)) : 0;
    int rc = fm_obs_append_once(s->obs, rq->srv->store, lut_space_id(s->space), key, digest, batch, n,
                                &accepted, &total, &replayed);
    if (rc == FM_OBS_EKEY_REUSED) {
        fm_problem(rs, 422, "idempotency-key-reused",
                   fm_err_param(NULL, "Idempotency-Key", "names another batch of this space"),
                   "the Idempotency-Key \"%.80s\" was used for a different batch of observations of this space; "
                   "nothing was stored", key);
        goto out;
    }
    if (rc) {
        fm_store_failure(rs, rc, "observations");
        goto out;
    }
    if (replayed) {
        /* The batch is stored already: say so, store and refit nothing. */
        fm_respond_json(rs, 200, json_pack("{s:s, s:I, s:I, s:b}", "space", lut_space_id(s->space), "accepted",
                                           (json_int_t)accepted, "total", (json_int_t)total, "replayed", 1));
        goto out;
    }
    /* Every (metric, fidelity) the batch touched gets a debounced refit. */
    for (size_t i = 0; i < n; i++) {
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = !strcmp(batch[i].metric, batch[j].metric) && !strcmp(batch[i].fidelity, batch[j].fidelity);
        if (!seen)
            fm_fitter_schedule(rq->srv->fitter, s, batch[i].metric, batch[i].fidelity, 0);
    }
    fm_respond_json(rs, 201, json_pack("{s:s, s:I, s:I, s:b}", "space", lut_space_id(s->space), "accepted",
                                       (json_int_t)n, "total", (json_int_t)total, "replayed", 0));
out:
    free_batch(batch, n);
    json_decref(body);
    fm_spaces_release(s);
}

static void csv_quoted(fm_buf *out, const char *s)
{
    fm_buf_append(out, "\"", 1);
    for (; *s; s++) {
        if (*s == '"')
            fm_buf_append(out, "\"\"", 2);
        else
            fm_buf_append(out, s, 1);
    }
    fm_buf_append(out, "\"", 1);
}

/* The observations answer under construction: CSV text or a JSON array. */
typedef struct obs_writer {
    const lut_space *space;
    fm_buf csv;
    json_t *arr; /* NULL when writing CSV */
} obs_writer;

static void write_obs(const fm_obs *o, void *ctx)
{
    obs_writer *w = ctx;
    char t[40];
    fm_format_time(o->observed_ms, t, sizeof t);
    if (!w->arr) {
        fm_buf_printf(&w->csv, "%llu,%s,%s,%s,%.17g,\"[", (unsigned long long)o->id, t, o->metric,
                      o->fidelity, o->value);
        for (size_t j = 0; j < lut_space_gene_count(w->space); j++)
            fm_buf_printf(&w->csv, "%s%d", j ? "," : "", o->genome[j]);
        fm_buf_append(&w->csv, "]\",", 3);
        if (o->meta)
            csv_quoted(&w->csv, o->meta);
        fm_buf_append(&w->csv, "\n", 1);
        return;
    }
    json_t *meta = o->meta ? json_loads(o->meta, JSON_DECODE_ANY, NULL) : NULL;
    json_array_append_new(w->arr, json_pack("{s:I, s:s, s:o, s:s, s:f, s:s, s:o}", "id", (json_int_t)o->id,
                                            "observed_at", t, "genome", fm_genome_json(w->space, o->genome),
                                            "metric", o->metric, "value", o->value, "fidelity", o->fidelity,
                                            "meta", meta ? meta : json_null()));
}

void h_observations_get(fm_request *rq, fm_response *rs)
{
    fm_space *s = fm_space_param(rq, rs);
    if (!s)
        return;
    const char *metric = fm_query(rq, "metric"), *fidelity;
    if (metric && !fm_metric_name_valid(metric)) {
        fm_problem(rs, 400, "invalid-parameter", fm_err_param(NULL, "metric", "must be [a-z0-9_]{1,64}"),
                   "metric \"%.80s\" is not a metric name", metric);
        fm_spaces_release(s);
        return;
    }
    if (fm_fidelity_param(rq, rs, &fidelity)) {
        fm_spaces_release(s);
        return;
    }
    const char *accept = fm_header(rq, "Accept");
    int csv = accept && strstr(accept, "text/csv");
    obs_writer w = {.space = s->space, .arr = csv ? NULL : json_array()};
    if (csv)
        fm_buf_printf(&w.csv, "id,observed_at,metric,fidelity,value,genome,meta\n");
    fm_obs_each(s->obs, metric, fidelity, write_obs, &w);
    if (csv) {
        if (w.csv.oom) {
            free(w.csv.data);
            fm_problem(rs, 500, "internal", NULL, "out of memory");
        } else {
            fm_respond_text(rs, 200, "text/csv; charset=utf-8", w.csv.data ? w.csv.data : strdup(""), w.csv.len);
        }
    } else {
        fm_respond_json(rs, 200, json_pack("{s:s, s:o}", "space", lut_space_id(s->space), "observations", w.arr));
    }
    fm_spaces_release(s);
}

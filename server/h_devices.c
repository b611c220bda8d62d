/*
 * h_devices.c — health, metrics, devices and their lookup tables.
 */
#include "h_devices.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "gap8_upload.h"
#include "lut_predict.h"
#include "log.h"
#include "metrics.h"
#include "replica.h"
#include "params.h"
#include "server.h"
#include "snapshot.h"

#ifndef FMAS_VERSION
#define FMAS_VERSION "0.0.0"
#endif

/* device name -> lut_version of the store as served, or NULL. */
static json_t *lut_versions(lut_store *store)
{
    lut_device *devs = NULL;
    size_t n = 0;
    if (lut_device_list(store, &devs, &n))
        return NULL;
    json_t *v = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(v, devs[i].name, json_integer((json_int_t)devs[i].lut_version));
    free(devs);
    return v;
}

/* The role fields of a writer shipping snapshots or of a replica. */
static void health_role(fm_server *srv, json_t *h)
{
    if (srv->replica) {
        fm_replica_status st;
        fm_replica_status_get(srv->replica, &st);
        json_object_set_new(h, "role", json_string("replica"));
        json_object_set_new(h, "snapshot",
                            json_pack("{s:I, s:f, s:f, s:I, s:I}", "sequence", (json_int_t)st.serving.sequence,
                                      "created", st.serving.created, "loaded", st.loaded, "newest",
                                      (json_int_t)st.newest, "swaps", (json_int_t)st.swaps));
        json_object_set_new(h, "lag_s", json_real(st.lag_s));
    } else if (srv->snapshots) {
        fm_snapshot_info last;
        uint64_t written;
        double ms;
        fm_snapshotter_status(srv->snapshots, &last, &written, &ms);
        json_object_set_new(h, "role", json_string("writer"));
        json_object_set_new(h, "snapshot",
                            json_pack("{s:I, s:f, s:I, s:f}", "sequence", (json_int_t)last.sequence, "created",
                                      last.created, "written", (json_int_t)written, "duration_ms", ms));
    } else {
        return;
    }
    if (srv->cfg.writer_url[0])
        json_object_set_new(h, "writer", json_string(srv->cfg.writer_url));
    json_t *v = lut_versions(srv->store);
    if (v)
        json_object_set_new(h, "lut_versions", v);
}

void h_health(fm_request *rq, fm_response *rs)
{
    json_t *h = json_pack("{s:s, s:s}", "status", "ok", "version", FMAS_VERSION);
    health_role(rq->srv, h);
    fm_respond_json(rs, 200, h);
}

/* The gauges of snapshot shipping: a writer's last snapshot, or what a
 * replica serves and its lag. */
static void metrics_snapshots(fm_server *srv, fm_buf *out)
{
    if (srv->replica) {
        fm_replica_status st;
        fm_replica_status_get(srv->replica, &st);
        fm_buf_printf(out,
                      "# HELP fmas_snapshot_sequence Sequence of the snapshot served (replica) or last written "
                      "(writer).\n# TYPE fmas_snapshot_sequence gauge\nfmas_snapshot_sequence %llu\n"
                      "# HELP fmas_replica_lag_seconds How long the newest snapshot has waited to be served; 0 "
                      "when it is.\n# TYPE fmas_replica_lag_seconds gauge\nfmas_replica_lag_seconds %.6f\n"
                      "# HELP fmas_replica_swaps_total Snapshots swapped in since start.\n"
                      "# TYPE fmas_replica_swaps_total counter\nfmas_replica_swaps_total %llu\n",
                      (unsigned long long)st.serving.sequence, st.lag_s, (unsigned long long)st.swaps);
    } else if (srv->snapshots) {
        fm_snapshot_info last;
        uint64_t written;
        double ms;
        fm_snapshotter_status(srv->snapshots, &last, &written, &ms);
        fm_buf_printf(out,
                      "# HELP fmas_snapshot_sequence Sequence of the snapshot served (replica) or last written "
                      "(writer).\n# TYPE fmas_snapshot_sequence gauge\nfmas_snapshot_sequence %llu\n"
                      "# HELP fmas_snapshots_written_total Snapshots written since start.\n"
                      "# TYPE fmas_snapshots_written_total counter\nfmas_snapshots_written_total %llu\n"
                      "# HELP fmas_snapshot_duration_seconds Time the last snapshot took.\n"
                      "# TYPE fmas_snapshot_duration_seconds gauge\nfmas_snapshot_duration_seconds %.6f\n",
                      (unsigned long long)last.sequence, (unsigned long long)written, ms / 1e3);
    }
}

void h_metrics(fm_request *rq, fm_response *rs)
{
    fm_buf out = {0};
    fm_metrics_render(&rq->srv->metrics, &out);
    metrics_snapshots(rq->srv, &out);
    lut_device *devs = NULL;
    size_t n = 0;
    int rc = lut_device_list(rq->srv->store, &devs, &n);
    if (rc) {
        free(out.data);
        fm_store_failure(rs, rc, "device list");
        return;
    }
    fm_buf_printf(&out, "# HELP fmas_lut_entries Rows in the lookup table of each device.\n"
                        "# TYPE fmas_lut_entries gauge\n");
    for (size_t i = 0; i < n; i++)
        fm_buf_printf(&out, "fmas_lut_entries{device=\"%s\"} %llu\n", devs[i].name,
                      (unsigned long long)devs[i].entries);
    fm_buf_printf(&out, "# HELP fmas_lut_version Current lookup-table version of each device.\n"
                        "# TYPE fmas_lut_version gauge\n");
    for (size_t i = 0; i < n; i++)
        fm_buf_printf(&out, "fmas_lut_version{device=\"%s\"} %llu\n", devs[i].name,
                      (unsigned long long)devs[i].lut_version);
    free(devs);
    if (out.oom) {
        free(out.data);
        fm_problem(rs, 500, "internal", NULL, "out of memory");
        return;
    }
    fm_respond_text(rs, 200, "text/plain; version=0.0.4; charset=utf-8", out.data, out.len);
}

/* Fit the predictions of the table just committed here, on the upload's
 * worker, rather than on the first estimate's thread (see lut_predict.h);
 * a failure only leaves the fit to that first use. */
static void warm_predictor(lut_store *store, const char *name)
{
    lut_table *t;
    if (lut_store_table(store, name, &t) == LUT_OK) {
        (void)lut_table_predictor(t);
        lut_table_release(t);
    }
}

void h_device_list(fm_request *rq, fm_response *rs)
{
    lut_device *devs = NULL;
    size_t n = 0;
    int rc = lut_device_list(rq->srv->store, &devs, &n);
    if (rc) {
        fm_store_failure(rs, rc, "device list");
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, fm_device_to_json(&devs[i]));
    free(devs);
    fm_respond_json(rs, 200, json_pack("{s:o}", "devices", arr));
}

void h_device_get(fm_request *rq, fm_response *rs)
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
    fm_respond_json(rs, 200, fm_device_to_json(&dev));
}

void h_device_put(fm_request *rq, fm_response *rs)
{
    const char *name = fm_device_param(rq, rs);
    if (!name)
        return;
    json_t *body = fm_read_json_body(rq, rs);
    if (!body)
        return;
    lut_device dev;
    lut_error err = {.row = -1};
    int rc = fm_device_from_json(body, name, &dev, &err);
    json_decref(body);
    if (rc) {
        char pointer[80];
        snprintf(pointer, sizeof pointer, "%s%s", err.field[0] ? "/" : "", err.field);
        fm_problem(rs, 422, "invalid-field", fm_err_pointer(NULL, pointer, err.reason),
                   "%s: %s", err.field, err.reason);
        return;
    }
    int created = 0;
    rc = lut_device_put(rq->srv->store, &dev, &created);
    if (!rc)
        rc = lut_device_get(rq->srv->store, name, &dev);
    if (rc) {
        fm_store_failure(rs, rc, "device");
        return;
    }
    fm_respond_json(rs, created ? 201 : 200, fm_device_to_json(&dev));
}

void h_device_delete(fm_request *rq, fm_response *rs)
{
    const char *name = fm_device_param(rq, rs);
    if (!name)
        return;
    int rc = lut_device_delete(rq->srv->store, name);
    if (rc) {
        fm_store_failure(rs, rc, "device");
        return;
    }
    /* Its measurements go with it (a failure leaves them to a later
     * device of the same name; the device itself is gone). */
    if (fm_calib_purge(rq->srv->calib, name))
        fm_log("device %s deleted, its measurements not", name);
    rs->status = 204;
}

void h_lut_upload(fm_request *rq, fm_response *rs)
{
    const char *name = fm_device_param(rq, rs);
    if (!name)
        return;
    const char *mode_s = fm_query(rq, "mode");
    lut_mode mode = LUT_MODE_REPLACE;
    if (mode_s && !strcmp(mode_s, "merge"))
        mode = LUT_MODE_MERGE;
    else if (mode_s && strcmp(mode_s, "replace") != 0) {
        fm_problem(rs, 400, "invalid-parameter", fm_err_param(NULL, "mode", "must be replace or merge"),
                   "mode must be replace or merge");
        return;
    }
    /* Unknown devices are answered before the body is parsed. */
    lut_device dev;
    int rc = lut_device_get(rq->srv->store, name, &dev);
    if (rc) {
        fm_store_failure(rs, rc, "device");
        return;
    }
    lut_entry *rows = NULL;
    size_t n = 0;
    int bad = rq->stream ? fm_batch_stream_finish(rq->stream, rs, &rows, &n)
              : fm_gap8_is_upload(rq) ? fm_gap8_parse_upload(rq, rs, &dev, &rows, &n)
                                      : fm_parse_batch(rq, rs, &rows, &n);
    if (bad)
        return;
    lut_error err = {.row = -1};
    rc = lut_store_put_batch(rq->srv->store, name, rows, n, mode, &dev, &err);
    free(rows);
    if (rc == LUT_EINVAL) {
        json_t *e = fm_err_row(NULL, err.row, 0, NULL, err.field, err.reason);
        fm_problem(rs, 422, "invalid-field", e, "row %ld: %s", err.row, err.reason);
        return;
    }
    if (rc) {
        fm_store_failure(rs, rc, "device");
        return;
    }
    warm_predictor(rq->srv->store, name);
    fm_respond_json(rs, 200, json_pack("{s:s, s:s, s:I, s:I, s:I, s:s}", "device", name,
                                       "mode", mode == LUT_MODE_MERGE ? "merge" : "replace",
                                       "accepted", (json_int_t)n, "entries", (json_int_t)dev.entries,
                                       "lut_version", (json_int_t)dev.lut_version,
                                       "lut_hash", dev.lut_hash));
}

/* CSV and NDJSON uploads are parsed line by line as they arrive. */
static void *lut_body_open(const char *content_type)
{
    return fm_batch_stream_open(content_type);
}

static void lut_body_feed(void *state, const char *data, size_t len)
{
    fm_batch_stream_feed(state, data, len);
}

static void lut_body_close(void *state)
{
    fm_batch_stream_free(state);
}

const fm_body_stream h_lut_upload_body = {lut_body_open, lut_body_feed, lut_body_close};

/* Strict decimal in [lo, hi]; -1 if not. */
static long parse_bounded(const char *s, long lo, long hi)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*end || errno || v < lo || v > hi)
        return -1;
    return v;
}

static int wants_csv(const fm_request *rq)
{
    const char *accept = fm_header(rq, "Accept");
    return accept && strstr(accept, "text/csv") != NULL;
}

void h_lut_list(fm_request *rq, fm_response *rs)
{
    const char *name = fm_device_param(rq, rs);
    if (!name)
        return;
    int csv = wants_csv(rq);
    const char *limit_s = fm_query(rq, "limit");
    long limit = csv ? 0 : 1000;
    if (limit_s) {
        limit = parse_bounded(limit_s, 1, 10000);
        if (limit < 0) {
            fm_problem(rs, 400, "invalid-parameter",
                       fm_err_param(NULL, "limit", "must be an integer from 1 to 10000"),
                       "limit \"%.40s\" is not an integer from 1 to 10000", limit_s);
            return;
        }
    }
    const char *op = fm_query(rq, "op");
    /* The store refuses what is not an op name ([a-z0-9_]{1,31}) as it
     * refuses a broken database, so the client's fault is told here. */
    if (op && (!*op || strlen(op) >= LUT_OP_MAX || op[strspn(op, "abcdefghijklmnopqrstuvwxyz0123456789_")])) {
        fm_problem(rs, 400, "invalid-parameter",
                   fm_err_param(NULL, "op", "must be an op name: 1 to 31 characters of [a-z0-9_]"),
                   "op must be an op name");
        return;
    }
    const char *cursor = fm_query(rq, "cursor");
    lut_entry *rows = NULL;
    size_t n = 0;
    char next[2 * LUT_KEY_TEXT_MAX + 8];
    lut_device dev;
    int rc = lut_store_list(rq->srv->store, name, op, cursor, limit > 0 ? (size_t)limit : SIZE_MAX,
                            &rows, &n, next, sizeof next, &dev);
    if (rc == LUT_ECURSOR) {
        fm_problem(rs, 400, "invalid-parameter",
                   fm_err_param(NULL, "cursor", "is not a cursor this service handed out"),
                   "the cursor does not decode");
        return;
    }
    if (rc) {
        fm_store_failure(rs, rc, "device");
        return;
    }
    if (csv) {
        fm_buf out = {0};
        fm_csv_header(&out);
        for (size_t i = 0; i < n; i++)
            fm_csv_row(&out, &rows[i]);
        free(rows);
        if (out.oom) {
            free(out.data);
            fm_problem(rs, 500, "internal", NULL, "out of memory");
            return;
        }
        fm_respond_text(rs, 200, "text/csv; charset=utf-8", out.data, out.len);
        fm_add_header(rs, "X-Lut-Version", "%llu", (unsigned long long)dev.lut_version);
        fm_add_header(rs, "X-Lut-Hash", "%s", dev.lut_hash);
        if (next[0])
            fm_add_header(rs, "X-Next-Cursor", "%s", next);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, fm_entry_to_json(&rows[i]));
    free(rows);
    fm_respond_json(rs, 200, json_pack("{s:s, s:I, s:s, s:o, s:o}", "device", name,
                                       "lut_version", (json_int_t)dev.lut_version,
                                       "lut_hash", dev.lut_hash, "entries", arr,
                                       "next_cursor", next[0] ? json_string(next) : json_null()));
}

/* One kind's (or every row's) leave-one-out accuracy. */
static json_t *accuracy_json(const lut_predict_accuracy *a)
{
    double n = a->rows ? (double)a->rows : 1;
    return json_pack("{s:s, s:I, s:I, s:f, s:f, s:f, s:f}", "model", lut_predict_model_name(a->model),
                     "rows", (json_int_t)a->rows, "predicted", (json_int_t)a->predicted,
                     "within5", (double)a->within5 / n, "within10", (double)a->within10 / n,
                     "within25", (double)a->within25 / n, "median_rel_err", a->median_rel_err);
}

void h_device_accuracy(fm_request *rq, fm_response *rs)
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
    const lut_predictor *p = lut_table_predictor(t);
    if (!p) {
        lut_table_release(t);
        fm_problem(rs, 500, "internal", NULL, "out of memory");
        return;
    }
    json_t *kinds = json_object();
    for (int k = 0; k < LUT_PK_KINDS; k++) {
        const lut_predict_accuracy *a = lut_predictor_accuracy(p, (lut_predict_kind)k);
        if (a->rows)
            json_object_set_new(kinds, lut_predict_kind_name((lut_predict_kind)k), accuracy_json(a));
    }
    json_t *overall = accuracy_json(lut_predictor_accuracy(p, LUT_PK_KINDS));
    json_object_del(overall, "model");
    const lut_device *d = lut_table_device(t);
    lut_calib cal;
    int has = fm_calib_get(rq->srv->calib, t, &cal);
    fm_respond_json(rs, 200, json_pack("{s:s, s:I, s:s, s:s, s:o, s:o, s:o}", "device", d->name,
                                       "lut_version", (json_int_t)d->lut_version, "method",
                                       "leave-one-out", "unit", d->unit, "overall", overall,
                                       "kinds", kinds, "calibration",
                                       has ? fm_calib_json(&cal) : json_null()));
    lut_table_release(t);
}

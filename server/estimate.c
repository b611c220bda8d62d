/*
 * estimate.c — request tables and latency answers (see estimate.h).
 */
#include "estimate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fm_tables_release(fm_tables *t)
{
    for (size_t i = 0; i < t->n; i++)
        lut_table_release(t->tables[i]);
    free(t->tables);
    free(t->cal);
    free(t->has_cal);
    t->tables = NULL;
    t->cal = NULL;
    t->has_cal = NULL;
    t->n = 0;
}

int fm_tables_calibrate(fm_tables *t, fm_calib *c)
{
    if (!c || !t->n)
        return 0;
    t->cal = calloc(t->n, sizeof *t->cal);
    t->has_cal = calloc(t->n, sizeof *t->has_cal);
    if (!t->cal || !t->has_cal) {
        free(t->cal), free(t->has_cal);
        t->cal = NULL, t->has_cal = NULL;
        return -1;
    }
    for (size_t i = 0; i < t->n; i++)
        t->has_cal[i] = (unsigned char)fm_calib_get(c, t->tables[i], &t->cal[i]);
    return 0;
}

const lut_calib *fm_tables_cal(const fm_tables *t, size_t i)
{
    return t->has_cal && i < t->n && t->has_cal[i] ? &t->cal[i] : NULL;
}

int fm_tables_acquire(lut_store *store, const char *const *names, size_t n, fm_tables *out,
                      size_t *bad)
{
    memset(out, 0, sizeof *out);
    out->tables = calloc(n ? n : 1, sizeof *out->tables);
    if (!out->tables)
        return LUT_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int rc = lut_store_table(store, names[i], &out->tables[i]);
        if (rc) {
            *bad = i;
            fm_tables_release(out);
            return rc;
        }
        out->n = i + 1;
    }
    return 0;
}

/* Why devices[i] is not acceptable, or NULL (tables 0..i-1 are held). */
static const char *device_fault(json_t *d, size_t i, const fm_tables *held)
{
    const char *name = json_is_string(d) ? json_string_value(d) : NULL;
    if (!name)
        return "must be a device name (a string)";
    if (!lut_device_name_valid(name))
        return "is not a valid device name ([a-z0-9._-]{1,64})";
    for (size_t j = 0; j < i; j++)
        if (!strcmp(lut_table_device(held->tables[j])->name, name))
            return "is listed twice";
    return NULL;
}

int fm_tables_from_json(lut_store *store, json_t *devices, fm_tables *out, fm_response *rs)
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
        const char *why = device_fault(d, i, out);
        int rc = why ? 0 : lut_store_table(store, json_string_value(d), &out->tables[i]);
        if (!why && rc == LUT_ENOTFOUND)
            why = "is not a known device";
        if (why) {
            char pointer[48];
            snprintf(pointer, sizeof pointer, "/devices/%zu", i);
            fm_problem(rs, 422, "invalid-field", fm_err_pointer(NULL, pointer, why), "devices[%zu] %s", i, why);
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
    return 0;
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

size_t fm_lat_missing(const fm_lat *l)
{
    return l->strict ? l->s->missing : l->s->missing - l->s->predicted;
}

/* rows + predictions */
static double raw_total(const fm_lat *l)
{
    return l->s->total + l->s->predicted_total;
}

int fm_lat_calibrated(const fm_lat *l)
{
    return !l->strict && l->cal && fm_lat_missing(l) == 0;
}

double fm_lat_total(const fm_lat *l)
{
    if (l->strict)
        return l->s->total;
    if (!fm_lat_calibrated(l))
        return raw_total(l);
    double t = lut_calib_apply(l->cal, raw_total(l), (double)l->layers);
    return t > 0 ? t : 0;
}

double fm_lat_std(const fm_lat *l)
{
    double v = l->s->predicted_var;
    if (fm_lat_calibrated(l)) {
        double b = l->cal->coef[1], e = l->cal->cv_rel_rmse * fm_lat_total(l);
        v = b * b * v + e * e;
    }
    return sqrt(v);
}

/* The "calibrated" object, written by w or (w NULL) made with Jansson. */
static json_t *calibrated(const fm_lat *l, double per, fm_jw *w)
{
    double total = fm_lat_total(l);
    if (!w)
        return json_pack("{s:f, s:o, s:f, s:f, s:f, s:I}", "total", total, "ms",
                         per > 0 ? json_real(total * per) : json_null(), "std", fm_lat_std(l),
                         "cv_rel_rmse", l->cal->cv_rel_rmse, "cv_within10", l->cal->cv_within10,
                         "networks", (json_int_t)l->cal->networks);
    fm_jw_object(w);
    fm_jw_key(w, "total");
    fm_jw_real(w, total);
    fm_jw_key(w, "ms");
    if (per > 0)
        fm_jw_real(w, total * per);
    else
        fm_jw_null(w);
    fm_jw_key(w, "std");
    fm_jw_real(w, fm_lat_std(l));
    fm_jw_key(w, "cv_rel_rmse");
    fm_jw_real(w, l->cal->cv_rel_rmse);
    fm_jw_key(w, "cv_within10");
    fm_jw_real(w, l->cal->cv_within10);
    fm_jw_key(w, "networks");
    fm_jw_uint(w, l->cal->networks);
    fm_jw_object_end(w);
    return NULL;
}

json_t *fm_latency_json(const lut_table *t, const fm_lat *l, json_t *missing_keys)
{
    const lut_device *d = lut_table_device(t);
    double per = lut_device_ms_per_unit(d), total = fm_lat_total(l);
    size_t missing = fm_lat_missing(l);
    json_t *o = json_pack("{s:f, s:s, s:o, s:I, s:I, s:I, s:b}", "total", total, "unit", d->unit,
                          "ms", per > 0 ? json_real(total * per) : json_null(),
                          "layers", (json_int_t)l->layers, "hits", (json_int_t)l->s->hits,
                          "missing", (json_int_t)missing, "complete", missing == 0);
    if (missing_keys)
        json_object_set_new(o, "missing_keys", missing_keys);
    if (!l->strict) {
        json_object_set_new(o, "predicted", json_integer((json_int_t)l->s->predicted));
        json_object_set_new(o, "std", json_real(fm_lat_std(l)));
        json_object_set_new(o, "raw_total", json_real(raw_total(l)));
    }
    if (fm_lat_calibrated(l))
        json_object_set_new(o, "calibrated", calibrated(l, per, NULL));
    return o;
}

void fm_latency_write(fm_jw *w, const lut_table *t, const fm_lat *l, const json_t *missing_keys,
                      int empty_keys)
{
    const lut_device *d = lut_table_device(t);
    double per = lut_device_ms_per_unit(d), total = fm_lat_total(l);
    size_t missing = fm_lat_missing(l);
    fm_jw_object(w);
    fm_jw_key(w, "total");
    fm_jw_real(w, total);
    fm_jw_key(w, "unit");
    fm_jw_string(w, d->unit);
    fm_jw_key(w, "ms");
    if (per > 0)
        fm_jw_real(w, total * per);
    else
        fm_jw_null(w);
    fm_jw_key(w, "layers");
    fm_jw_uint(w, l->layers);
    fm_jw_key(w, "hits");
    fm_jw_uint(w, l->s->hits);
    fm_jw_key(w, "missing");
    fm_jw_uint(w, missing);
    fm_jw_key(w, "complete");
    fm_jw_bool(w, missing == 0);
    if (missing_keys || empty_keys) {
        fm_jw_key(w, "missing_keys");
        if (missing_keys) {
            fm_jw_value(w, missing_keys);
        } else {
            fm_jw_array(w);
            fm_jw_array_end(w);
        }
    }
    if (!l->strict) {
        fm_jw_key(w, "predicted");
        fm_jw_uint(w, l->s->predicted);
        fm_jw_key(w, "std");
        fm_jw_real(w, fm_lat_std(l));
        fm_jw_key(w, "raw_total");
        fm_jw_real(w, raw_total(l));
    }
    if (fm_lat_calibrated(l)) {
        fm_jw_key(w, "calibrated");
        calibrated(l, per, w);
    }
    fm_jw_object_end(w);
}

void fm_versions_write(fm_jw *w, const fm_tables *t)
{
    fm_jw_object(w);
    for (size_t i = 0; i < t->n; i++) {
        const lut_device *d = lut_table_device(t->tables[i]);
        fm_jw_key(w, d->name);
        fm_jw_uint(w, d->lut_version);
    }
    fm_jw_object_end(w);
}

void fm_versions_text(const fm_tables *t, char *out, size_t size)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < t->n && len < size; i++) {
        const lut_device *d = lut_table_device(t->tables[i]);
        int n = snprintf(out + len, size - len, "%s%s=%llu", i ? "," : "", d->name,
                         (unsigned long long)d->lut_version);
        if (n < 0 || (size_t)n >= size - len) {
            out[len] = '\0';
            break;
        }
        len += (size_t)n;
    }
}

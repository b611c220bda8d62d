/*
 * calib.c — measurements and calibrations per device (see calib.h).
 */
#include "calib.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "lut_predict.h"

#define ID_DIGITS 10

typedef struct dev_cal {
    char name[LUT_NAME_MAX];
    uint64_t meas_version;   /* bumped by every batch or purge */
    uint64_t fitted_version; /* meas_version the fit saw; 0: none */
    uint64_t lut_version;
    char lut_hash[LUT_HASH_TEXT];
    lut_calib cal;
} dev_cal;

struct fm_calib {
    lut_store *store;
    pthread_mutex_t lock;
    dev_cal *devs;
    size_t n, cap;
};

fm_calib *fm_calib_new(lut_store *store)
{
    fm_calib *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->store = store;
    if (pthread_mutex_init(&c->lock, NULL)) {
        free(c);
        return NULL;
    }
    return c;
}

void fm_calib_free(fm_calib *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->lock);
    free(c->devs);
    free(c);
}

static void kind_of(const char *device, char *kind, size_t size)
{
    snprintf(kind, size, "measurement/%s", device);
}

/* The device's entry (made on first use); NULL when out of memory. Called
 * under the lock. */
static dev_cal *entry(fm_calib *c, const char *device)
{
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->devs[i].name, device))
            return &c->devs[i];
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 8;
        dev_cal *p = realloc(c->devs, cap * sizeof *p);
        if (!p)
            return NULL;
        c->devs = p;
        c->cap = cap;
    }
    dev_cal *d = &c->devs[c->n++];
    memset(d, 0, sizeof *d);
    snprintf(d->name, sizeof d->name, "%s", device);
    d->meas_version = 1;
    return d;
}

/* The ids stored for a device, in order; *n of them. */
static int stored_ids(fm_calib *c, const char *device, char ***ids, size_t *n)
{
    char kind[96];
    kind_of(device, kind, sizeof kind);
    return lut_store_doc_ids(c->store, kind, ids, n);
}

static void free_ids(char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

int fm_calib_add(fm_calib *c, const char *device, json_t *const *docs, size_t n, size_t *total)
{
    char kind[96], **ids = NULL, **mine = calloc(n ? n : 1, sizeof *mine);
    const void **data = calloc(n ? n : 1, sizeof *data);
    size_t *lens = calloc(n ? n : 1, sizeof *lens), have = 0;
    int rc = mine && data && lens ? 0 : LUT_ENOMEM;
    kind_of(device, kind, sizeof kind);
    pthread_mutex_lock(&c->lock);
    if (!rc)
        rc = stored_ids(c, device, &ids, &have);
    unsigned long long next = have ? strtoull(ids[have - 1], NULL, 10) + 1 : 1;
    for (size_t i = 0; !rc && i < n; i++) {
        char id[ID_DIGITS + 1];
        snprintf(id, sizeof id, "%0*llu", ID_DIGITS, next + i);
        json_object_set_new(docs[i], "id", json_string(id));
        mine[i] = strdup(id);
        data[i] = json_dumps(docs[i], JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!mine[i] || !data[i])
            rc = LUT_ENOMEM;
        else
            lens[i] = strlen(data[i]);
    }
    if (!rc)
        rc = lut_store_doc_put_many(c->store, kind, (const char *const *)mine, data, lens, n);
    dev_cal *d = rc ? NULL : entry(c, device);
    if (d)
        d->meas_version++;
    pthread_mutex_unlock(&c->lock);
    *total = have + (rc ? 0 : n);
    for (size_t i = 0; i < n && mine && data; i++) {
        free(mine[i]);
        free((void *)data[i]);
    }
    free(mine);
    free(data);
    free(lens);
    free_ids(ids, have);
    return rc;
}

/* The stored documents of device, parsed, in id order (a JSON array). */
static json_t *load(fm_calib *c, const char *device, int *rc)
{
    char kind[96], **ids = NULL;
    size_t n = 0;
    kind_of(device, kind, sizeof kind);
    *rc = lut_store_doc_ids(c->store, kind, &ids, &n);
    if (*rc)
        return NULL;
    json_t *arr = json_array();
    for (size_t i = 0; i < n && !*rc; i++) {
        void *data;
        size_t len;
        *rc = lut_store_doc_get(c->store, kind, ids[i], &data, &len);
        if (*rc == LUT_ENOTFOUND) { /* purged meanwhile */
            *rc = 0;
            continue;
        }
        if (*rc)
            break;
        json_t *doc = json_loadb(data, len, 0, NULL);
        free(data);
        if (!doc)
            *rc = LUT_ECORRUPT;
        else
            json_array_append_new(arr, doc);
    }
    free_ids(ids, n);
    if (*rc) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

json_t *fm_calib_list(fm_calib *c, const char *device, int *rc)
{
    json_t *arr = load(c, device, rc);
    size_t i;
    json_t *doc;
    json_array_foreach(arr, i, doc) {
        size_t layers = json_array_size(json_object_get(doc, "layers"));
        json_object_del(doc, "layers");
        json_object_set_new(doc, "layer_count", json_integer((json_int_t)layers));
    }
    return arr;
}

int fm_calib_purge(fm_calib *c, const char *device)
{
    char kind[96];
    if (!c)
        return 0;
    kind_of(device, kind, sizeof kind);
    pthread_mutex_lock(&c->lock);
    int rc = lut_store_doc_purge(c->store, kind);
    dev_cal *d = entry(c, device);
    if (d)
        d->meas_version++;
    pthread_mutex_unlock(&c->lock);
    return rc;
}

/* The raw sum (rows + predictions) of a stored network on t; 0 when a
 * layer is neither a row nor predicted, or a key does not parse. */
static int network_raw(json_t *layers, const lut_table *t, const lut_predictor *p, double *raw)
{
    size_t i;
    json_t *k;
    *raw = 0;
    json_array_foreach(layers, i, k) {
        lut_key key;
        double m, v;
        if (fm_key_from_json(k, &key, NULL, 0, NULL))
            return 0;
        const lut_entry *e = lut_table_find(t, &key);
        if (e)
            *raw += e->latency.mean;
        else if (lut_predict(p, &key, &m, &v))
            *raw += m;
        else
            return 0;
    }
    return 1;
}

/* Refit d on the stored measurements and t (under the lock). */
static void refit(fm_calib *c, dev_cal *d, const lut_table *t)
{
    int rc;
    json_t *docs = load(c, d->name, &rc);
    size_t n = json_array_size(docs), m = 0;
    double *raw = malloc((n ? n : 1) * 3 * sizeof *raw);
    memset(&d->cal, 0, sizeof d->cal);
    d->cal.coef[1] = 1;
    if (docs && raw) {
        double *layers = raw + n, *y = layers + n;
        const lut_predictor *p = lut_table_predictor(t);
        size_t i;
        json_t *doc;
        json_array_foreach(docs, i, doc) {
            json_t *ls = json_object_get(doc, "layers");
            double mean = json_number_value(json_object_get(json_object_get(doc, "latency"), "mean"));
            if (network_raw(ls, t, p, &raw[m])) {
                layers[m] = (double)json_array_size(ls);
                y[m++] = mean;
            }
        }
        if (lut_calib_fit(raw, layers, y, m, &d->cal))
            memset(&d->cal, 0, sizeof d->cal);
    }
    free(raw);
    json_decref(docs);
    const lut_device *dev = lut_table_device(t);
    d->lut_version = dev->lut_version;
    memcpy(d->lut_hash, dev->lut_hash, sizeof d->lut_hash);
    d->fitted_version = d->meas_version;
}

int fm_calib_get(fm_calib *c, const lut_table *table, lut_calib *out)
{
    if (!c || !table)
        return 0;
    const lut_device *dev = lut_table_device(table);
    pthread_mutex_lock(&c->lock);
    dev_cal *d = entry(c, dev->name);
    if (d && (d->fitted_version != d->meas_version || d->lut_version != dev->lut_version ||
              strcmp(d->lut_hash, dev->lut_hash) != 0))
        refit(c, d, table);
    int ok = d && d->cal.networks >= FM_CALIB_MIN_NETWORKS;
    if (ok)
        *out = d->cal;
    pthread_mutex_unlock(&c->lock);
    return ok;
}

json_t *fm_calib_json(const lut_calib *cal)
{
    return json_pack("{s:s, s:{s:f, s:f, s:f}, s:I, s:f, s:f, s:f, s:f}", "model",
                     lut_calib_model_name(cal->model), "coef", "a", cal->coef[0], "b", cal->coef[1],
                     "c", cal->coef[2], "networks", (json_int_t)cal->networks, "cv_rel_rmse",
                     cal->cv_rel_rmse, "cv_within10", cal->cv_within10, "raw_rel_rmse",
                     cal->raw_rel_rmse, "raw_within10", cal->raw_within10);
}

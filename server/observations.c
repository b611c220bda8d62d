/*
 * observations.c — the per-space set of observations and its storage.
 */
#include "observations.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void kind_of(const char *space_id, char *kind, size_t size)
{
    snprintf(kind, size, "obs:%s", space_id);
}

int fm_obs_init(fm_obs_set *set, size_t gene_count)
{
    memset(set, 0, sizeof *set);
    set->next_id = 1;
    set->next_doc = 1;
    set->gene_count = gene_count;
    return pthread_rwlock_init(&set->lock, NULL);
}

static void obs_free(fm_obs *o)
{
    free(o->genome);
    free(o->meta);
    o->genome = NULL;
    o->meta = NULL;
}

void fm_obs_destroy(fm_obs_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        obs_free(&set->items[i]);
    free(set->items);
    pthread_rwlock_destroy(&set->lock);
}

int fm_metric_name_valid(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '_'))
            return 0;
    return n >= 1 && n <= 64;
}

int fm_fidelity_name_valid(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '_' ||
              s[n] == '-' || s[n] == '.'))
            return 0;
    return n >= 1 && n <= 64;
}

void fm_format_time(int64_t ms, char *buf, size_t size)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, size, "%s.%03dZ", base, (int)(ms % 1000));
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int reserve(fm_obs_set *set, size_t more)
{
    if (set->n + more <= set->cap)
        return 0;
    size_t cap = set->cap ? set->cap : 64;
    while (cap < set->n + more)
        cap *= 2;
    fm_obs *p = realloc(set->items, cap * sizeof *p);
    if (!p)
        return LUT_ENOMEM;
    set->items = p;
    set->cap = cap;
    return 0;
}

static json_t *batch_json(const fm_obs *batch, size_t n, size_t gene_count)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *g = json_array();
        for (size_t j = 0; j < gene_count; j++)
            json_array_append_new(g, json_integer(batch[i].genome[j]));
        json_t *meta = NULL;
        if (batch[i].meta)
            meta = json_loads(batch[i].meta, JSON_DECODE_ANY, NULL);
        json_array_append_new(arr, json_pack("{s:I, s:I, s:s, s:s, s:f, s:o, s:o}", "id",
                                             (json_int_t)batch[i].id, "t",
                                             (json_int_t)batch[i].observed_ms, "metric",
                                             batch[i].metric, "fidelity", batch[i].fidelity,
                                             "value", batch[i].value, "genome", g, "meta",
                                             meta ? meta : json_null()));
    }
    return json_pack("{s:o}", "observations", arr);
}

/* Decode one stored batch and append it (load time; no lock needed). */
static int load_batch(fm_obs_set *set, const char *data, size_t len)
{
    json_error_t jerr;
    json_t *doc = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *arr = json_object_get(doc, "observations");
    int rc = json_is_array(arr) ? reserve(set, json_array_size(arr)) : LUT_ECORRUPT;
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) {
        if (rc)
            break;
        fm_obs ob = {0};
        json_t *g = json_object_get(o, "genome"), *meta = json_object_get(o, "meta");
        const char *metric = json_string_value(json_object_get(o, "metric"));
        const char *fid = json_string_value(json_object_get(o, "fidelity"));
        if (!json_is_array(g) || json_array_size(g) != set->gene_count || !metric || !fid ||
            strlen(metric) >= FM_NAME_MAX || strlen(fid) >= FM_NAME_MAX) {
            rc = LUT_ECORRUPT;
            break;
        }
        ob.id = (uint64_t)json_integer_value(json_object_get(o, "id"));
        ob.observed_ms = json_integer_value(json_object_get(o, "t"));
        ob.value = json_number_value(json_object_get(o, "value"));
        snprintf(ob.metric, sizeof ob.metric, "%s", metric);
        snprintf(ob.fidelity, sizeof ob.fidelity, "%s", fid);
        ob.genome = malloc((set->gene_count ? set->gene_count : 1) * sizeof *ob.genome);
        if (!ob.genome) {
            rc = LUT_ENOMEM;
            break;
        }
        for (size_t j = 0; j < set->gene_count; j++)
            ob.genome[j] = (int)json_integer_value(json_array_get(g, j));
        if (meta && !json_is_null(meta))
            ob.meta = json_dumps(meta, JSON_COMPACT | JSON_ENCODE_ANY);
        set->items[set->n++] = ob;
        if (ob.id >= set->next_id)
            set->next_id = ob.id + 1;
    }
    json_decref(doc);
    return rc;
}

int fm_obs_load(fm_obs_set *set, lut_store *store, const char *space_id)
{
    char kind[96];
    kind_of(space_id, kind, sizeof kind);
    char **ids = NULL;
    size_t n = 0;
    int rc = lut_store_doc_ids(store, kind, &ids, &n);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        void *data = NULL;
        size_t len = 0;
        if (!rc)
            rc = lut_store_doc_get(store, kind, ids[i], &data, &len);
        if (!rc)
            rc = load_batch(set, data, len);
        unsigned long long seq = strtoull(ids[i], NULL, 10);
        if (seq >= set->next_doc)
            set->next_doc = seq + 1;
        free(data);
        free(ids[i]);
    }
    free(ids);
    return rc;
}

int fm_obs_append(fm_obs_set *set, lut_store *store, const char *space_id,
                  fm_obs *batch, size_t n, size_t *total)
{
    char kind[96], docid[32];
    kind_of(space_id, kind, sizeof kind);
    pthread_rwlock_wrlock(&set->lock);
    int rc = reserve(set, n);
    if (rc) {
        pthread_rwlock_unlock(&set->lock);
        return rc;
    }
    int64_t t = now_ms();
    for (size_t i = 0; i < n; i++) {
        batch[i].id = set->next_id + i;
        batch[i].observed_ms = t;
    }
    json_t *doc = batch_json(batch, n, set->gene_count);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    /* Zero-padded so that byte order is arrival order. */
    snprintf(docid, sizeof docid, "%020llu", (unsigned long long)set->next_doc);
    rc = text ? lut_store_doc_put(store, kind, docid, text, strlen(text)) : LUT_ENOMEM;
    free(text);
    if (!rc) {
        for (size_t i = 0; i < n; i++) {
            set->items[set->n++] = batch[i];
            batch[i].genome = NULL;
            batch[i].meta = NULL;
        }
        set->next_id += n;
        set->next_doc++;
    }
    if (total)
        *total = set->n;
    pthread_rwlock_unlock(&set->lock);
    return rc;
}

int fm_obs_purge(lut_store *store, const char *space_id)
{
    char kind[96];
    kind_of(space_id, kind, sizeof kind);
    return lut_store_doc_purge(store, kind);
}

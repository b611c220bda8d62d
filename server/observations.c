/*
 * observations.c — the per-space set of observations, its lock, its
 * storage and the queries the surrogate and screening ask of it.
 */
#include "observations.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * Two locks: `lock` guards what readers see (items, n, cap) and is taken
 * for writing only to publish a batch already stored and copied in place,
 * which is quick; `append_lock` orders the appenders (ids and document
 * numbers are handed out once) and is held while a batch is encoded and
 * committed, which may take long, without holding up any reader.
 */
/* The idempotency key of a stored batch, what it said, and its size. */
typedef struct obs_key {
    char *key;
    uint64_t digest;
    size_t n;
} obs_key;

struct fm_obs_set {
    pthread_rwlock_t lock;
    pthread_mutex_t append_lock; /* appenders only; next_id and next_doc */
    fm_obs *items;
    size_t n, cap;
    uint64_t next_id;
    uint64_t next_doc;    /* document sequence */
    size_t gene_count;
    obs_key *keys;        /* idempotency keys, sorted; appenders only */
    size_t nkeys, capkeys;
};

static void kind_of(const char *space_id, char *kind, size_t size)
{
    snprintf(kind, size, "obs:%s", space_id);
}

fm_obs_set *fm_obs_new(size_t gene_count)
{
    fm_obs_set *set = calloc(1, sizeof *set);
    if (!set)
        return NULL;
    set->next_id = 1;
    set->next_doc = 1;
    set->gene_count = gene_count;
    if (pthread_rwlock_init(&set->lock, NULL)) {
        free(set);
        return NULL;
    }
    if (pthread_mutex_init(&set->append_lock, NULL)) {
        pthread_rwlock_destroy(&set->lock);
        free(set);
        return NULL;
    }
    return set;
}

static void obs_free(fm_obs *o)
{
    free(o->genome);
    free(o->meta);
    o->genome = NULL;
    o->meta = NULL;
}

void fm_obs_free(fm_obs_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->n; i++)
        obs_free(&set->items[i]);
    free(set->items);
    for (size_t i = 0; i < set->nkeys; i++)
        free(set->keys[i].key);
    free(set->keys);
    pthread_mutex_destroy(&set->append_lock);
    pthread_rwlock_destroy(&set->lock);
    free(set);
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

/* ------------------------------------------------------ idempotency keys */

static int key_cmp(const void *a, const void *b)
{
    return strcmp(((const obs_key *)a)->key, ((const obs_key *)b)->key);
}

/* The index of key, or -1 with *at the place it would go. */
static long key_find(const fm_obs_set *set, const char *key, size_t *at)
{
    size_t lo = 0, hi = set->nkeys;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(set->keys[mid].key, key);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *at = lo;
    return -1;
}

/* Room for one more key. */
static int key_reserve(fm_obs_set *set)
{
    if (set->nkeys < set->capkeys)
        return 0;
    size_t cap = set->capkeys ? 2 * set->capkeys : 16;
    obs_key *p = realloc(set->keys, cap * sizeof *p);
    if (!p)
        return LUT_ENOMEM;
    set->keys = p;
    set->capkeys = cap;
    return 0;
}

static void digest_bytes(uint64_t *h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        *h ^= p[i];
        *h *= UINT64_C(0x100000001b3);
    }
}

uint64_t fm_obs_digest(const fm_obs *batch, size_t n, size_t gene_count)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325); /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        const fm_obs *o = &batch[i];
        digest_bytes(&h, o->metric, strlen(o->metric) + 1);
        digest_bytes(&h, o->fidelity, strlen(o->fidelity) + 1);
        for (size_t j = 0; j < gene_count; j++) {
            int32_t g = o->genome[j];
            digest_bytes(&h, &g, sizeof g);
        }
        double v = o->value == 0 ? 0 : o->value; /* -0 and 0 say the same */
        digest_bytes(&h, &v, sizeof v);
        const char *meta = o->meta ? o->meta : "null";
        digest_bytes(&h, meta, strlen(meta) + 1);
    }
    return h;
}

/* ---------------------------------------------------------- storage */

static json_t *batch_json(const fm_obs *batch, size_t n, size_t gene_count, const char *key, uint64_t digest)
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
    json_t *doc = json_pack("{s:o}", "observations", arr);
    if (key) {
        char hex[17];
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)digest);
        json_object_set_new(doc, "key", json_string(key));
        json_object_set_new(doc, "digest", json_string(hex));
    }
    return doc;
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
    const char *key = json_string_value(json_object_get(doc, "key"));
    const char *digest = json_string_value(json_object_get(doc, "digest"));
    if (!rc && key) {
        /* sorted once the whole set is loaded */
        rc = digest ? key_reserve(set) : LUT_ECORRUPT;
        if (!rc && !(set->keys[set->nkeys].key = strdup(key)))
            rc = LUT_ENOMEM;
        if (!rc) {
            set->keys[set->nkeys].digest = strtoull(digest, NULL, 16);
            set->keys[set->nkeys++].n = json_array_size(arr);
        }
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
    if (set->nkeys)
        qsort(set->keys, set->nkeys, sizeof *set->keys, key_cmp);
    return rc;
}

int fm_obs_append(fm_obs_set *set, lut_store *store, const char *space_id,
                  fm_obs *batch, size_t n, size_t *total)
{
    size_t accepted;
    int replayed;
    return fm_obs_append_once(set, store, space_id, NULL, 0, batch, n, &accepted, total, &replayed);
}

int fm_obs_append_once(fm_obs_set *set, lut_store *store, const char *space_id, const char *key,
                       uint64_t digest, fm_obs *batch, size_t n, size_t *accepted, size_t *total,
                       int *replayed)
{
    char kind[96], docid[32];
    kind_of(space_id, kind, sizeof kind);
    *replayed = 0;
    *accepted = n;
    pthread_mutex_lock(&set->append_lock);
    size_t at = 0;
    long seen = key ? key_find(set, key, &at) : -1;
    if (seen >= 0) {
        int same = set->keys[seen].digest == digest;
        if (same) {
            *replayed = 1;
            *accepted = set->keys[seen].n;
            if (total)
                *total = set->n;
        }
        pthread_mutex_unlock(&set->append_lock);
        return same ? 0 : FM_OBS_EKEY_REUSED;
    }
    char *key_copy = NULL;
    if (key && (key_reserve(set) || !(key_copy = strdup(key)))) {
        pthread_mutex_unlock(&set->append_lock);
        return LUT_ENOMEM;
    }
    /* Only appenders change items, n and cap, one at a time, so they read
     * them here without the read lock; readers never look past n. */
    size_t have = set->n, cap = set->cap;
    fm_obs *items = set->items, *grown = NULL;
    if (have + n > cap) {
        cap = cap ? cap : 64;
        while (cap < have + n)
            cap *= 2;
        grown = malloc(cap * sizeof *grown);
        if (!grown) {
            free(key_copy);
            pthread_mutex_unlock(&set->append_lock);
            return LUT_ENOMEM;
        }
        if (have)
            memcpy(grown, items, have * sizeof *grown);
        items = grown;
    }
    int64_t t = now_ms();
    for (size_t i = 0; i < n; i++) {
        batch[i].id = set->next_id + i;
        batch[i].observed_ms = t;
    }
    json_t *doc = batch_json(batch, n, set->gene_count, key, digest);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    /* Zero-padded so that byte order is arrival order. */
    snprintf(docid, sizeof docid, "%020llu", (unsigned long long)set->next_doc);
    int rc = text ? lut_store_doc_put(store, kind, docid, text, strlen(text)) : LUT_ENOMEM;
    free(text);
    if (rc) {
        free(grown);
        free(key_copy);
        pthread_mutex_unlock(&set->append_lock);
        return rc;
    }
    if (key_copy) {
        memmove(set->keys + at + 1, set->keys + at, (set->nkeys - at) * sizeof *set->keys);
        set->keys[at] = (obs_key){key_copy, digest, n};
        set->nkeys++;
    }
    for (size_t i = 0; i < n; i++) {
        items[have + i] = batch[i];
        batch[i].genome = NULL;
        batch[i].meta = NULL;
    }
    set->next_id += n;
    set->next_doc++;
    /* Stored and in place: readers wait only for this swap. */
    fm_obs *old = grown ? set->items : NULL;
    pthread_rwlock_wrlock(&set->lock);
    set->items = items;
    set->cap = cap;
    set->n = have + n;
    pthread_rwlock_unlock(&set->lock);
    if (total)
        *total = have + n;
    pthread_mutex_unlock(&set->append_lock);
    free(old);
    return 0;
}

int fm_obs_purge(lut_store *store, const char *space_id)
{
    char kind[96];
    kind_of(space_id, kind, sizeof kind);
    return lut_store_doc_purge(store, kind);
}

/* ------------------------------------------------------------- queries */

static int matches(const fm_obs *o, const char *metric, const char *fidelity)
{
    return (!metric || !strcmp(o->metric, metric)) && (!fidelity || !strcmp(o->fidelity, fidelity));
}

size_t fm_obs_count(fm_obs_set *set, const char *metric, const char *fidelity)
{
    size_t n = 0;
    pthread_rwlock_rdlock(&set->lock);
    for (size_t i = 0; i < set->n; i++)
        n += (size_t)matches(&set->items[i], metric, fidelity);
    pthread_rwlock_unlock(&set->lock);
    return n;
}

int fm_obs_busiest_fidelity(fm_obs_set *set, const char *metric, char *buf, size_t size)
{
    /* Count per fidelity; few distinct fidelities, so a small linear table. */
    typedef struct {
        const char *name;
        size_t n;
    } tally;
    tally seen[32];
    size_t ns = 0;
    pthread_rwlock_rdlock(&set->lock);
    for (size_t i = 0; i < set->n; i++) {
        const fm_obs *o = &set->items[i];
        if (strcmp(o->metric, metric))
            continue;
        size_t j = 0;
        while (j < ns && strcmp(seen[j].name, o->fidelity))
            j++;
        if (j == ns && ns < 32)
            seen[ns++] = (tally){o->fidelity, 0};
        if (j < ns)
            seen[j].n++;
    }
    size_t best = 0;
    for (size_t j = 1; j < ns; j++)
        if (seen[j].n > seen[best].n)
            best = j;
    if (ns)
        snprintf(buf, size, "%s", seen[best].name);
    pthread_rwlock_unlock(&set->lock);
    return ns ? 0 : -1;
}

size_t fm_obs_metrics(fm_obs_set *set, char (*names)[FM_NAME_MAX], size_t max)
{
    size_t n = 0;
    pthread_rwlock_rdlock(&set->lock);
    for (size_t i = 0; i < set->n && n < max; i++) {
        const char *m = set->items[i].metric;
        size_t j = 0;
        while (j < n && strcmp(names[j], m))
            j++;
        if (j == n)
            snprintf(names[n++], FM_NAME_MAX, "%s", m);
    }
    pthread_rwlock_unlock(&set->lock);
    return n;
}

int fm_obs_pairs(fm_obs_set *set, fm_obs_pair **out, size_t *n)
{
    fm_obs_pair *pairs = NULL;
    size_t np = 0, cap = 0;
    int rc = 0;
    pthread_rwlock_rdlock(&set->lock);
    for (size_t i = 0; i < set->n && !rc; i++) {
        const fm_obs *o = &set->items[i];
        size_t j = 0;
        while (j < np && (strcmp(pairs[j].metric, o->metric) || strcmp(pairs[j].fidelity, o->fidelity)))
            j++;
        if (j < np)
            continue;
        if (np == cap) {
            fm_obs_pair *p = realloc(pairs, (cap = cap ? 2 * cap : 8) * sizeof *p);
            if (!p) {
                rc = LUT_ENOMEM;
                break;
            }
            pairs = p;
        }
        memcpy(pairs[np].metric, o->metric, FM_NAME_MAX);
        memcpy(pairs[np].fidelity, o->fidelity, FM_NAME_MAX);
        np++;
    }
    pthread_rwlock_unlock(&set->lock);
    if (rc) {
        free(pairs);
        return rc;
    }
    *out = pairs;
    *n = np;
    return 0;
}

void fm_obs_each(fm_obs_set *set, const char *metric, const char *fidelity,
                 fm_obs_visit fn, void *ctx)
{
    pthread_rwlock_rdlock(&set->lock);
    for (size_t i = 0; i < set->n; i++)
        if (matches(&set->items[i], metric, fidelity))
            fn(&set->items[i], ctx);
    pthread_rwlock_unlock(&set->lock);
}

/* ------------------------------------------------------ distinct genomes */

/*
 * Matched observations are copied out under the lock as rows of ints that
 * carry their own gene count, so that qsort needs no context:
 * [ng, genome (ng), query, arrival (2 ints), value (2 ints)].
 */
#define ROW_EXTRA 6

static size_t row_pos(const int *r)
{
    uint64_t pos;
    memcpy(&pos, r + 2 + r[0], sizeof pos);
    return (size_t)pos;
}

static int row_cmp(const void *a, const void *b)
{
    const int *x = a, *y = b;
    int c = memcmp(x + 1, y + 1, (size_t)x[0] * sizeof(int));
    if (c)
        return c;
    size_t px = row_pos(x), py = row_pos(y);
    if (px != py)
        return px < py ? -1 : 1;
    return (x[1 + x[0]] > y[1 + y[0]]) - (x[1 + x[0]] < y[1 + y[0]]);
}

/* Copy the rows of the matching observations; *nrows of them. */
static int *collect_rows(fm_obs_set *set, const lut_space *space, const fm_obs_query *q, size_t nq,
                         size_t *nrows, size_t *used)
{
    size_t ng = set->gene_count, stride = ng + ROW_EXTRA, n = 0;
    pthread_rwlock_rdlock(&set->lock);
    for (size_t i = 0; i < set->n; i++)
        for (size_t k = 0; k < nq; k++)
            n += (size_t)matches(&set->items[i], q[k].metric, q[k].fidelity);
    int *rows = malloc((n ? n : 1) * stride * sizeof *rows);
    n = 0;
    *used = 0;
    for (size_t i = 0; rows && i < set->n; i++) {
        const fm_obs *o = &set->items[i];
        int hit = 0;
        for (size_t k = 0; k < nq; k++) {
            if (!matches(o, q[k].metric, q[k].fidelity))
                continue;
            int *r = rows + n++ * stride;
            uint64_t pos = i;
            r[0] = (int)ng;
            memcpy(r + 1, o->genome, ng * sizeof *r);
            lut_space_genome_canonicalize(space, r + 1);
            r[1 + ng] = (int)k;
            memcpy(r + 2 + ng, &pos, sizeof pos);
            memcpy(r + 4 + ng, &o->value, sizeof o->value);
            hit = 1;
        }
        *used += (size_t)hit;
    }
    pthread_rwlock_unlock(&set->lock);
    *nrows = n;
    return rows;
}

int fm_obs_distinct(fm_obs_set *set, const lut_space *space, const fm_obs_query *q, size_t nq,
                    fm_obs_points *out)
{
    memset(out, 0, sizeof *out);
    size_t ng = set->gene_count, stride = ng + ROW_EXTRA, nrows = 0;
    out->nq = nq;
    out->gene_count = ng;
    int *rows = collect_rows(set, space, q, nq, &nrows, &out->used);
    if (!rows)
        return LUT_ENOMEM;
    qsort(rows, nrows, stride * sizeof *rows, row_cmp);
    size_t cells = (nrows ? nrows : 1) * (nq ? nq : 1);
    out->genomes = malloc((nrows ? nrows : 1) * (ng ? ng : 1) * sizeof *out->genomes);
    out->mean = calloc(cells, sizeof *out->mean);
    out->count = calloc(cells, sizeof *out->count);
    out->first = malloc((nrows ? nrows : 1) * sizeof *out->first);
    if (!out->genomes || !out->mean || !out->count || !out->first) {
        free(rows);
        fm_obs_points_free(out);
        return LUT_ENOMEM;
    }
    size_t d = 0;
    for (size_t i = 0; i < nrows; i++) {
        const int *r = rows + i * stride;
        if (d == 0 || memcmp(out->genomes + (d - 1) * ng, r + 1, ng * sizeof *r)) {
            memcpy(out->genomes + d * ng, r + 1, ng * sizeof *r);
            out->first[d++] = row_pos(r);
        }
        double v;
        memcpy(&v, r + 4 + ng, sizeof v);
        size_t cell = (d - 1) * nq + (size_t)r[1 + ng];
        out->mean[cell] = out->count[cell]++ ? out->mean[cell] + v : v;
    }
    free(rows);
    out->n = d;
    for (size_t i = 0; i < d * nq; i++)
        out->mean[i] = out->count[i] ? out->mean[i] / (double)out->count[i] : NAN;
    return 0;
}

void fm_obs_points_free(fm_obs_points *p)
{
    free(p->genomes);
    free(p->mean);
    free(p->count);
    free(p->first);
    memset(p, 0, sizeof *p);
}

long fm_obs_points_find(const fm_obs_points *p, const int *genome)
{
    size_t lo = 0, hi = p->n, ng = p->gene_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(p->genomes + mid * ng, genome, ng * sizeof *genome);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

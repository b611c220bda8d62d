/*
 * costers.c — the kept costers of a space (see costers.h).
 */
#include "costers.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* What identifies a table's rows. */
typedef struct table_id {
    char name[LUT_NAME_MAX];
    uint64_t version;
    char hash[LUT_HASH_TEXT];
} table_id;

struct fm_coster {
    atomic_int refs;
    lut_space_coster *coster;
    size_t k;
    table_id *ids;
    uint64_t used; /* the cache's clock at the last hit */
};

struct fm_costers {
    pthread_mutex_t lock;
    fm_coster *kept[FM_COSTERS_KEPT];
    uint64_t clock;
};

fm_costers *fm_costers_new(void)
{
    fm_costers *c = calloc(1, sizeof *c);
    if (c && pthread_mutex_init(&c->lock, NULL)) {
        free(c);
        return NULL;
    }
    return c;
}

void fm_coster_release(fm_coster *e)
{
    if (!e || atomic_fetch_sub(&e->refs, 1) != 1)
        return;
    lut_space_coster_free(e->coster);
    free(e->ids);
    free(e);
}

void fm_costers_free(fm_costers *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < FM_COSTERS_KEPT; i++)
        fm_coster_release(c->kept[i]);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

const lut_space_coster *fm_coster_value(const fm_coster *e)
{
    return e->coster;
}

static void table_id_of(const lut_table *t, table_id *id)
{
    const lut_device *d = lut_table_device(t);
    memset(id, 0, sizeof *id);
    memcpy(id->name, d->name, sizeof id->name);
    id->version = d->lut_version;
    memcpy(id->hash, d->lut_hash, sizeof id->hash);
}

static int same_tables(const fm_coster *e, const table_id *ids, size_t k)
{
    return e->k == k && (k == 0 || memcmp(e->ids, ids, k * sizeof *ids) == 0);
}

/* A counted reference to the kept coster of ids, or NULL. Locked. */
static fm_coster *find_locked(fm_costers *c, const table_id *ids, size_t k)
{
    for (size_t i = 0; i < FM_COSTERS_KEPT; i++) {
        fm_coster *e = c->kept[i];
        if (e && same_tables(e, ids, k)) {
            e->used = ++c->clock;
            atomic_fetch_add(&e->refs, 1);
            return e;
        }
    }
    return NULL;
}

/* Keep e (one reference moves to the cache) in the least recently used
 * slot. Locked. */
static void keep_locked(fm_costers *c, fm_coster *e)
{
    size_t victim = 0;
    for (size_t i = 0; i < FM_COSTERS_KEPT; i++) {
        if (!c->kept[i]) {
            victim = i;
            break;
        }
        if (c->kept[i]->used < c->kept[victim]->used)
            victim = i;
    }
    fm_coster_release(c->kept[victim]);
    e->used = ++c->clock;
    c->kept[victim] = e;
}

int fm_costers_get(fm_costers *c, const lut_space *space, const lut_table *const *tables, size_t k,
                   fm_coster **out)
{
    *out = NULL;
    table_id *ids = calloc(k ? k : 1, sizeof *ids);
    fm_coster *e = calloc(1, sizeof *e);
    if (!ids || !e) {
        free(ids);
        free(e);
        return LUT_ENOMEM;
    }
    for (size_t i = 0; i < k; i++)
        table_id_of(tables[i], &ids[i]);
    pthread_mutex_lock(&c->lock);
    *out = find_locked(c, ids, k);
    pthread_mutex_unlock(&c->lock);
    if (*out) {
        free(ids);
        free(e);
        return 0;
    }
    /* Built outside the lock: other requests keep costing meanwhile. */
    int rc = lut_space_coster_build(space, tables, k, &e->coster);
    if (rc) {
        free(ids);
        free(e);
        return rc;
    }
    e->k = k;
    e->ids = ids;
    atomic_init(&e->refs, 2); /* the caller's and the cache's */
    pthread_mutex_lock(&c->lock);
    fm_coster *again = find_locked(c, ids, k);
    if (!again)
        keep_locked(c, e);
    pthread_mutex_unlock(&c->lock);
    if (again) {
        atomic_store(&e->refs, 1);
        fm_coster_release(e);
        e = again;
    }
    *out = e;
    return 0;
}

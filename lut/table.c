/*
 * table.c — the immutable in-memory snapshot of one device's table: an
 * open-addressing hash (linear probing, power-of-two capacity, load <= 0.5)
 * from canonical key to row, shared by an atomic reference count.
 *
 * Lookups allocate nothing and format nothing. The layout serves the
 * estimate loop: slot j holds the key's hash in tags[j] and the row itself
 * in rows[j] (no pointer to chase), so once a layer's hash is known both
 * memory lines can be prefetched while earlier layers are being probed.
 *
 * Rows whose keys pack (lut_key_pack) are also indexed by packed key in a
 * second, compact hash: a slot is the 32-byte key, the row's mean latency
 * and the row's slot in the first hash, so summing a network of packed keys
 * touches one small slot per layer and never the 200-byte row.
 */
#include "lut_internal.h"
#include "lut_predict.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* tags[j] = hash | 1 for a used slot, 0 for an empty one. */
#define TAG(h) ((h) | 1u)

/* A slot of the packed index; key.w[0] == 0 marks an empty one (no packed
 * key has it). */
typedef struct pslot {
    lut_pkey key;
    double mean;
    uint64_t row; /* slot in tags/rows */
    uint64_t pad[2]; /* one slot, one cache line */
} pslot;

struct lut_table {
    atomic_size_t refs;
    lut_device dev;
    size_t n;          /* distinct keys */
    size_t mask;       /* capacity - 1 */
    uint64_t *tags;    /* capacity */
    lut_entry *rows;   /* capacity, in slot order */
    size_t pmask;      /* packed index capacity - 1 */
    pslot *packed;     /* packed index */
    _Atomic(lut_predictor *) pred; /* fitted on first use */
};

static void table_free(lut_table *t)
{
    lut_predictor_free(atomic_load(&t->pred));
    free(t->tags);
    free(t->rows);
    free(t->packed);
    free(t);
}

/* Index every row whose key packs; same capacity and load as the first
 * hash (at most one half). */
static int index_packed(lut_table *t)
{
    size_t cap = t->mask + 1;
    size_t bytes = (cap * sizeof *t->packed + 63) & ~(size_t)63;

    /* Slots are cache lines. */
    t->packed = aligned_alloc(64, bytes);
    if (!t->packed)
        return LUT_ENOMEM;
    memset(t->packed, 0, bytes);
    t->pmask = cap - 1;
    for (size_t i = 0; i < cap; i++) {
        lut_pkey pk;
        if (!t->tags[i] || lut_key_pack(&t->rows[i].key, &pk) != LUT_OK)
            continue;
        size_t j = (size_t)lut_pkey_hash(&pk) & t->pmask;
        while (t->packed[j].key.w[0])
            j = (j + 1) & t->pmask;
        t->packed[j].key = pk;
        t->packed[j].mean = t->rows[i].latency.mean;
        t->packed[j].row = i;
    }
    return LUT_OK;
}

int Lut_table_build_owned(const lut_device *dev, lut_entry *rows, size_t n,
                          lut_table **out)
{
    lut_table *t;
    size_t cap = 2, i;

    *out = NULL;
    while (cap < n || cap - n < n) { /* cap >= 2n without overflowing 2n */
        if (cap > SIZE_MAX / 2 / sizeof(lut_entry) || cap > SIZE_MAX / 2 / 64) {
            free(rows);
            return LUT_ENOMEM;
        }
        cap *= 2;
    }
    t = calloc(1, sizeof *t);
    if (!t) {
        free(rows);
        return LUT_ENOMEM;
    }
    t->tags = calloc(cap, sizeof *t->tags);
    t->rows = calloc(cap, sizeof *t->rows);
    if (!t->tags || !t->rows) {
        free(rows);
        table_free(t);
        return LUT_ENOMEM;
    }
    t->mask = cap - 1;
    atomic_init(&t->refs, 1);
    atomic_init(&t->pred, NULL);

    for (i = 0; i < n; i++) {
        uint64_t tag = TAG(lut_key_hash(&rows[i].key));
        size_t j = (size_t)tag & t->mask;
        for (;;) {
            if (!t->tags[j]) {
                t->tags[j] = tag;
                t->rows[j] = rows[i];
                t->n++;
                break;
            }
            if (t->tags[j] == tag && Lut_key_equal(&t->rows[j].key, &rows[i].key)) {
                t->rows[j] = rows[i]; /* a later row of the same key wins */
                break;
            }
            j = (j + 1) & t->mask;
        }
    }
    free(rows);
    if (index_packed(t) != LUT_OK) {
        table_free(t);
        return LUT_ENOMEM;
    }

    if (dev) {
        memcpy(&t->dev, dev, sizeof t->dev);
    } else {
        memset(&t->dev, 0, sizeof t->dev);
        t->dev.entries = t->n;
    }
    *out = t;
    return LUT_OK;
}

int lut_table_build(const lut_device *dev, const lut_entry *rows, size_t n,
                    lut_table **out)
{
    lut_entry *copy;

    if (!out)
        return LUT_EINVAL;
    *out = NULL;
    if (n > 0 && !rows)
        return LUT_EINVAL;
    if (n > SIZE_MAX / sizeof *copy)
        return LUT_ENOMEM;
    copy = malloc(n > 0 ? n * sizeof *copy : 1);
    if (!copy)
        return LUT_ENOMEM;
    if (n > 0)
        memcpy(copy, rows, n * sizeof *copy);
    return Lut_table_build_owned(dev, copy, n, out);
}

lut_table *Lut_table_ref(lut_table *table)
{
    atomic_fetch_add_explicit(&table->refs, 1, memory_order_relaxed);
    return table;
}

void lut_table_release(lut_table *table)
{
    if (!table)
        return;
    /* acq_rel: every reader's use of the table happens before the free. */
    if (atomic_fetch_sub_explicit(&table->refs, 1, memory_order_acq_rel) == 1)
        table_free(table);
}

const lut_device *lut_table_device(const lut_table *table)
{
    return &table->dev;
}

const lut_entry *lut_table_find_hashed(const lut_table *table,
                                       const lut_key *key, uint64_t hash)
{
    uint64_t tag = TAG(hash);
    size_t j = (size_t)tag & table->mask;

    for (;;) {
        uint64_t t = table->tags[j];
        if (!t)
            return NULL;
        if (t == tag && Lut_key_equal(&table->rows[j].key, key))
            return &table->rows[j];
        j = (j + 1) & table->mask;
    }
}

const lut_entry *lut_table_find(const lut_table *table, const lut_key *key)
{
    return lut_table_find_hashed(table, key, lut_key_hash(key));
}

/* How many layers ahead the sums prefetch their slots. */
#define AHEAD 8

static inline void prefetch_slot(const lut_table *t, uint64_t hash)
{
    size_t j = (size_t)TAG(hash) & t->mask;
    __builtin_prefetch(&t->tags[j]);
    __builtin_prefetch(&t->rows[j]);
    __builtin_prefetch((const char *)&t->rows[j] + 64);
    __builtin_prefetch((const char *)&t->rows[j] + 128);
}

/* Count layer i: a hit with its row's mean, or a miss (NULL). */
static inline void tally(lut_sum *s, const double *mean, size_t i,
                         size_t *missing_idx, size_t missing_cap)
{
    if (mean) {
        s->total += *mean;
        s->hits++;
    } else {
        if (missing_idx && s->missing < missing_cap)
            missing_idx[s->missing] = i;
        s->missing++;
    }
}

static inline void add_layer(lut_sum *s, const lut_entry *e, size_t i,
                             size_t *missing_idx, size_t missing_cap)
{
    tally(s, e ? &e->latency.mean : NULL, i, missing_idx, missing_cap);
}

void lut_table_sum_hashed(const lut_table *table, const lut_key *layers,
                          const uint64_t *hashes, size_t n, lut_sum *out,
                          size_t *missing_idx, size_t missing_cap)
{
    lut_sum s = {0};
    size_t i;

    for (i = 0; table && i < n && i < AHEAD; i++)
        prefetch_slot(table, hashes[i]);
    for (i = 0; i < n; i++) {
        if (table && i + AHEAD < n)
            prefetch_slot(table, hashes[i + AHEAD]);
        add_layer(&s,
                  table ? lut_table_find_hashed(table, &layers[i], hashes[i]) : NULL,
                  i, missing_idx, missing_cap);
    }
    *out = s;
}

void lut_table_sum(const lut_table *table, const lut_key *layers, size_t n,
                   lut_sum *out, size_t *missing_idx, size_t missing_cap)
{
    /* Hash a block of layers first, prefetch their slots, then probe: the
     * probes of a block overlap their memory latency. */
    enum { BLOCK = 16 };
    uint64_t h[BLOCK];
    lut_sum s = {0};
    size_t base, i;

    for (base = 0; base < n; base += BLOCK) {
        size_t m = n - base < BLOCK ? n - base : BLOCK;
        for (i = 0; i < m; i++) {
            h[i] = lut_key_hash(&layers[base + i]);
            if (table)
                prefetch_slot(table, h[i]);
        }
        for (i = 0; i < m; i++)
            add_layer(&s,
                      table ? lut_table_find_hashed(table, &layers[base + i], h[i]) : NULL,
                      base + i, missing_idx, missing_cap);
    }
    *out = s;
}

/* ------------------------------------------------------------ packed */

static inline void prefetch_pslot(const lut_table *t, uint64_t hash)
{
    const pslot *p = &t->packed[(size_t)hash & t->pmask];
    __builtin_prefetch(p);
}

/* The slot of a packed key, or NULL. */
static inline const pslot *packed_slot(const lut_table *t, const lut_pkey *key,
                                       uint64_t hash)
{
    size_t j = (size_t)hash & t->pmask;

    for (;;) {
        const pslot *p = &t->packed[j];
        if (!p->key.w[0])
            return NULL;
        if (lut_pkey_equal(&p->key, key))
            return p;
        j = (j + 1) & t->pmask;
    }
}

const lut_entry *lut_table_find_packed(const lut_table *table,
                                       const lut_pkey *key, uint64_t hash)
{
    const pslot *p = packed_slot(table, key, hash);

    return p ? &table->rows[p->row] : NULL;
}

static inline void add_slot(lut_sum *s, const pslot *p, size_t i,
                            size_t *missing_idx, size_t missing_cap)
{
    tally(s, p ? &p->mean : NULL, i, missing_idx, missing_cap);
}

void lut_table_sum_packed(const lut_table *table, const lut_pkey *layers,
                          const uint64_t *hashes, size_t n, lut_sum *out,
                          size_t *missing_idx, size_t missing_cap)
{
    uint64_t h[AHEAD];
    lut_sum s = {0};

    if (!table) {
        for (size_t i = 0; i < n; i++)
            add_slot(&s, NULL, i, missing_idx, missing_cap);
        *out = s;
        return;
    }
    if (hashes) {
        for (size_t i = 0; i < n && i < AHEAD; i++)
            prefetch_pslot(table, hashes[i]);
        for (size_t i = 0; i < n; i++) {
            if (i + AHEAD < n)
                prefetch_pslot(table, hashes[i + AHEAD]);
            add_slot(&s, packed_slot(table, &layers[i], hashes[i]), i,
                     missing_idx, missing_cap);
        }
        *out = s;
        return;
    }
    /* Hash AHEAD layers in front of the probe, in a ring, prefetching each
     * slot as its hash is known. */
    for (size_t i = 0; i < n && i < AHEAD; i++) {
        h[i] = lut_pkey_hash(&layers[i]);
        prefetch_pslot(table, h[i]);
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t hi = h[i % AHEAD];
        if (i + AHEAD < n) {
            h[i % AHEAD] = lut_pkey_hash(&layers[i + AHEAD]);
            prefetch_pslot(table, h[i % AHEAD]);
        }
        add_slot(&s, packed_slot(table, &layers[i], hi), i, missing_idx, missing_cap);
    }
    *out = s;
}

const lut_predictor *lut_table_predictor(const lut_table *table)
{
    lut_table *t = (lut_table *)table; /* the fit is a cache of const rows */
    lut_predictor *p = atomic_load_explicit(&t->pred, memory_order_acquire), *none = NULL;
    if (p)
        return p;
    lut_entry *rows = malloc((t->n ? t->n : 1) * sizeof *rows);
    if (!rows)
        return NULL;
    /* Past LUT_PREDICT_MAX_ROWS rows the fit takes an even share of the
     * rows in slot order (a fixed, content-independent spread): its cost
     * stays bounded however large the table is. */
    size_t n = 0, i = 0, cap = LUT_PREDICT_MAX_ROWS;
    for (size_t j = 0; j <= t->mask; j++)
        if (t->tags[j]) {
            if (t->n <= cap || (i + 1) * cap / t->n > i * cap / t->n)
                rows[n++] = t->rows[j];
            i++;
        }
    int rc = lut_predictor_fit(&t->dev, rows, n, &p);
    free(rows);
    if (rc)
        return NULL;
    /* Two threads may fit at once; the first to publish wins. */
    if (!atomic_compare_exchange_strong(&t->pred, &none, p)) {
        lut_predictor_free(p);
        p = none;
    }
    return p;
}

/*
 * table.c — the immutable in-memory snapshot of one device's table: an
 * open-addressing hash (linear probing, power-of-two capacity, load <= 0.5)
 * from canonical key to row, shared by an atomic reference count.
 *
 * Lookups allocate nothing and format nothing: a slot holds the key's
 * 64-bit hash, so a probe compares one integer before comparing the key.
 */
#include "lut_internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef struct table_slot {
    uint64_t hash;
    const lut_entry *entry; /* NULL: empty slot */
} table_slot;

struct lut_table {
    atomic_size_t refs;
    lut_device dev;
    lut_entry *rows; /* owned; may hold superseded duplicates */
    size_t n;        /* distinct keys */
    table_slot *slots;
    size_t mask;     /* capacity - 1 */
};

static void table_free(lut_table *t)
{
    free(t->slots);
    free(t->rows);
    free(t);
}

int Lut_table_build_owned(const lut_device *dev, lut_entry *rows, size_t n,
                          lut_table **out)
{
    lut_table *t;
    size_t cap = 2, i;

    *out = NULL;
    while (cap < n || cap - n < n) { /* cap >= 2n without overflowing 2n */
        if (cap > SIZE_MAX / 2 / sizeof(table_slot)) {
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
    t->slots = calloc(cap, sizeof *t->slots);
    if (!t->slots) {
        free(rows);
        free(t);
        return LUT_ENOMEM;
    }
    t->rows = rows;
    t->mask = cap - 1;
    atomic_init(&t->refs, 1);

    for (i = 0; i < n; i++) {
        uint64_t h = lut_key_hash(&rows[i].key);
        size_t j = (size_t)h & t->mask;
        for (;;) {
            table_slot *s = &t->slots[j];
            if (!s->entry) {
                s->hash = h;
                s->entry = &rows[i];
                t->n++;
                break;
            }
            if (s->hash == h && lut_key_equal(&s->entry->key, &rows[i].key)) {
                s->entry = &rows[i]; /* a later row of the same key wins */
                break;
            }
            j = (j + 1) & t->mask;
        }
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
    size_t j = (size_t)hash & table->mask;

    for (;;) {
        const table_slot *s = &table->slots[j];
        if (!s->entry)
            return NULL;
        if (s->hash == hash && Lut_key_equal(&s->entry->key, key))
            return s->entry;
        j = (j + 1) & table->mask;
    }
}

const lut_entry *lut_table_find(const lut_table *table, const lut_key *key)
{
    return lut_table_find_hashed(table, key, lut_key_hash(key));
}

void lut_table_sum_hashed(const lut_table *table, const lut_key *layers,
                          const uint64_t *hashes, size_t n, lut_sum *out,
                          size_t *missing_idx, size_t missing_cap)
{
    lut_sum s = {0.0, 0, 0};
    size_t i;

    for (i = 0; i < n; i++) {
        const lut_entry *e =
            table ? lut_table_find_hashed(table, &layers[i], hashes[i]) : NULL;
        if (e) {
            s.total += e->latency.mean;
            s.hits++;
        } else {
            if (missing_idx && s.missing < missing_cap)
                missing_idx[s.missing] = i;
            s.missing++;
        }
    }
    *out = s;
}

void lut_table_sum(const lut_table *table, const lut_key *layers, size_t n,
                   lut_sum *out, size_t *missing_idx, size_t missing_cap)
{
    lut_sum s = {0.0, 0, 0};
    size_t i;

    for (i = 0; i < n; i++) {
        const lut_entry *e = table ? lut_table_find(table, &layers[i]) : NULL;
        if (e) {
            s.total += e->latency.mean;
            s.hits++;
        } else {
            if (missing_idx && s.missing < missing_cap)
                missing_idx[s.missing] = i;
            s.missing++;
        }
    }
    *out = s;
}

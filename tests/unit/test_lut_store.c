/*
 * test_lut_store.c — the LMDB store (devices, atomic batches, content hash,
 * listings, map growth, persistence) and the in-memory tables built from it.
 * Every test runs in its own temporary directory under $FMAS_TMP (or /tmp).
 */
#define _XOPEN_SOURCE 700 /* nftw */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <lmdb.h>

#include "lut.h"

/* ------------------------------------------------------------- fixture */

typedef struct fault_ctx {
    int armed;
    size_t fail_at;
    size_t calls;
} fault_ctx;

typedef struct fixture {
    char dir[512];
    lut_store *store;
    lut_store_options opt;
    fault_ctx fault;
} fixture;

static int fault_hook(void *ctx, size_t row)
{
    fault_ctx *f = ctx;

    f->calls++;
    return f->armed && row == f->fail_at ? LUT_EFAULT : 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void open_store(fixture *fx)
{
    int rc = lut_store_open(&fx->store, fx->dir, &fx->opt);

    if (rc != 0)
        fail_msg("lut_store_open(%s): %s", fx->dir, lut_strerror(rc));
}

static void reopen_store(fixture *fx)
{
    lut_store_close(fx->store);
    fx->store = NULL;
    open_store(fx);
}

static int setup_with(void **state, size_t map_size)
{
    fixture *fx = calloc(1, sizeof *fx);
    const char *base = getenv("FMAS_TMP");

    if (!fx)
        return -1;
    if (!base || !*base)
        base = "/tmp";
    snprintf(fx->dir, sizeof fx->dir, "%s/lut-store-XXXXXX", base);
    if (!mkdtemp(fx->dir)) {
        free(fx);
        return -1;
    }
    /* A directory below the temporary one: the store creates it. */
    strncat(fx->dir, "/db", sizeof fx->dir - strlen(fx->dir) - 1);
    fx->opt.map_size = map_size;
    fx->opt.no_sync = 1;
    fx->opt.fault_hook = fault_hook;
    fx->opt.fault_ctx = &fx->fault;
    if (lut_store_open(&fx->store, fx->dir, &fx->opt) != 0) {
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, 0);
}

static int setup_small_map(void **state)
{
    return setup_with(state, 64 * 1024);
}

static int teardown(void **state)
{
    fixture *fx = *state;
    char *slash;

    lut_store_close(fx->store);
    slash = strrchr(fx->dir, '/');
    if (slash)
        *slash = '\0'; /* remove the mkdtemp directory, store and all */
    nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return 0;
}

/* ------------------------------------------------------------- helpers */

static lut_device device_named(const char *name)
{
    lut_device d;

    memset(&d, 0, sizeof d);
    snprintf(d.name, sizeof d.name, "%s", name);
    snprintf(d.unit, sizeof d.unit, "us");
    snprintf(d.kind, sizeof d.kind, "cpu");
    snprintf(d.description, sizeof d.description, "test device %s", name);
    d.measured = 1;
    return d;
}

static void add_device(fixture *fx, const char *name)
{
    lut_device d = device_named(name);
    int created = -1;

    assert_int_equal(lut_device_put(fx->store, &d, &created), LUT_OK);
    assert_int_equal(created, 1);
}

static lut_key canonical(lut_key k)
{
    lut_error err;

    if (lut_key_canonicalize(&k, &err) != 0)
        fail_msg("canonicalize: %s %s", err.field, err.reason);
    return k;
}

/* Distinct conv2d keys for i < 97 * 89 * 100. */
static lut_key conv_key(size_t i)
{
    lut_key k;

    lut_key_init(&k);
    memcpy(k.op, "conv2d", 6);
    k.cin = 1 + (int64_t)(i % 97);
    k.cout = 1 + (int64_t)((i / 97) % 89);
    k.k = 3;
    k.h = k.w = 7 + (int64_t)(i / (97 * 89));
    return canonical(k);
}

/* Keys of four ops, interleaved: conv2d, relu, add, linear. */
static lut_key mixed_key(size_t i)
{
    lut_key k;

    lut_key_init(&k);
    switch (i % 4) {
    case 0:
        return conv_key(i);
    case 1:
        memcpy(k.op, "relu", 4);
        break;
    case 2:
        memcpy(k.op, "add", 3);
        break;
    default:
        memcpy(k.op, "linear", 6);
        k.cout = 10;
        break;
    }
    k.cin = 1 + (int64_t)i;
    k.h = k.w = 4;
    return canonical(k);
}

static lut_entry entry_of(lut_key key, double mean, size_t i)
{
    lut_entry e;

    memset(&e, 0, sizeof e);
    e.key = key;
    e.latency.mean = mean;
    e.latency.std = 0.25 * (double)(i % 5);
    e.latency.count = 1 + i % 7;
    e.has_macs = i % 3 == 0;
    e.macs = e.has_macs ? 1000 + i : 0;
    return e;
}

static lut_entry *conv_rows(size_t n, double scale)
{
    lut_entry *rows = calloc(n, sizeof *rows);
    size_t i;

    assert_non_null(rows);
    for (i = 0; i < n; i++)
        rows[i] = entry_of(conv_key(i), scale * (double)(i + 1), i);
    return rows;
}

static void put_ok(fixture *fx, const char *dev, const lut_entry *rows, size_t n,
                   lut_mode mode, lut_device *after)
{
    lut_error err = {0, "", ""};
    int rc = lut_store_put_batch(fx->store, dev, rows, n, mode, after, &err);

    if (rc != 0)
        fail_msg("put_batch(%s, %zu rows): %s (row %ld, %s: %s)", dev, n,
                 lut_strerror(rc), err.row, err.field, err.reason);
}

/* All rows of a device (optionally of one op), paged by `limit`. */
static lut_entry *list_all(fixture *fx, const char *dev, const char *op,
                           size_t limit, size_t *n, size_t *pages)
{
    char cursor[2 * LUT_KEY_TEXT_MAX + 1] = "";
    lut_entry *all = NULL;
    size_t total = 0;

    *pages = 0;
    for (;;) {
        lut_entry *rows;
        size_t got;
        char next[2 * LUT_KEY_TEXT_MAX + 1];
        int rc = lut_store_list(fx->store, dev, op, cursor, limit, &rows, &got,
                                next, sizeof next, NULL);

        if (rc != 0)
            fail_msg("list: %s", lut_strerror(rc));
        assert_true(got <= limit);
        all = realloc(all, (total + got + 1) * sizeof *all);
        assert_non_null(all);
        if (got)
            memcpy(all + total, rows, got * sizeof *rows);
        total += got;
        free(rows);
        (*pages)++;
        if (next[0] == '\0')
            break;
        assert_int_equal(got, limit); /* only the last page may be short */
        memcpy(cursor, next, sizeof cursor);
    }
    *n = total;
    return all;
}

static int entry_cmp_text(const void *a, const void *b)
{
    char ta[LUT_KEY_TEXT_MAX], tb[LUT_KEY_TEXT_MAX];

    lut_key_format(&((const lut_entry *)a)->key, ta, sizeof ta);
    lut_key_format(&((const lut_entry *)b)->key, tb, sizeof tb);
    return strcmp(ta, tb);
}

static void assert_entry_equal(const lut_entry *a, const lut_entry *b)
{
    assert_true(lut_key_equal(&a->key, &b->key));
    assert_true(a->latency.mean == b->latency.mean);
    assert_true(a->latency.std == b->latency.std);
    assert_int_equal(a->latency.count, b->latency.count);
    assert_int_equal(a->has_macs, b->has_macs);
    if (a->has_macs)
        assert_int_equal(a->macs, b->macs);
}

static int is_hex32(const char *s)
{
    size_t i;

    for (i = 0; i < 32; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return s[32] == '\0';
}

/* -------------------------------------------------------------- devices */

static void test_device_crud(void **state)
{
    fixture *fx = *state;
    lut_device d = device_named("gpu-a100"), got, *list;
    lut_entry *rows = conv_rows(10, 1.0);
    size_t n;
    int created = -1;

    assert_int_equal(lut_device_list(fx->store, &list, &n), LUT_OK);
    assert_int_equal(n, 0);
    free(list);

    snprintf(d.unit, sizeof d.unit, "cycles");
    d.clock_mhz = 1410.0;
    assert_int_equal(lut_device_put(fx->store, &d, &created), LUT_OK);
    assert_int_equal(created, 1);
    assert_int_equal(lut_device_get(fx->store, "gpu-a100", &got), LUT_OK);
    assert_string_equal(got.name, "gpu-a100");
    assert_string_equal(got.unit, "cycles");
    assert_true(got.clock_mhz == 1410.0);
    assert_string_equal(got.kind, "cpu");
    assert_string_equal(got.description, "test device gpu-a100");
    assert_int_equal(got.measured, 1);
    assert_int_equal(got.entries, 0);
    assert_int_equal(got.lut_version, 0);
    assert_true(is_hex32(got.lut_hash));

    /* Maintained fields given by the caller are ignored. */
    put_ok(fx, "gpu-a100", rows, 10, LUT_MODE_REPLACE, NULL);
    d.entries = 999;
    d.lut_version = 999;
    snprintf(d.lut_hash, sizeof d.lut_hash, "nonsense");
    snprintf(d.description, sizeof d.description, "updated");
    d.measured = 0;
    assert_int_equal(lut_device_put(fx->store, &d, &created), LUT_OK);
    assert_int_equal(created, 0);
    assert_int_equal(lut_device_get(fx->store, "gpu-a100", &got), LUT_OK);
    assert_string_equal(got.description, "updated");
    assert_int_equal(got.measured, 0);
    assert_int_equal(got.entries, 10);
    assert_int_equal(got.lut_version, 1);
    assert_true(is_hex32(got.lut_hash));

    /* Invalid fields are refused; nothing written. */
    d = device_named("bad name");
    assert_int_equal(lut_device_put(fx->store, &d, NULL), LUT_EINVAL);
    d = device_named("cyc");
    snprintf(d.unit, sizeof d.unit, "cycles");
    assert_int_equal(lut_device_put(fx->store, &d, NULL), LUT_EINVAL);

    /* Listing is sorted by name, whatever the order of creation. */
    add_device(fx, "zeta");
    add_device(fx, "alpha");
    add_device(fx, "gap8");
    assert_int_equal(lut_device_list(fx->store, &list, &n), LUT_OK);
    assert_int_equal(n, 4);
    assert_string_equal(list[0].name, "alpha");
    assert_string_equal(list[1].name, "gap8");
    assert_string_equal(list[2].name, "gpu-a100");
    assert_string_equal(list[3].name, "zeta");
    assert_int_equal(list[2].entries, 10);
    free(list);

    assert_int_equal(lut_device_delete(fx->store, "gpu-a100"), LUT_OK);
    assert_int_equal(lut_device_get(fx->store, "gpu-a100", &got), LUT_ENOTFOUND);
    assert_int_equal(lut_device_delete(fx->store, "gpu-a100"), LUT_ENOTFOUND);
    assert_int_equal(lut_device_delete(fx->store, "Not Valid"), LUT_ENOTFOUND);
    assert_int_equal(lut_device_get(fx->store, "", &got), LUT_ENOTFOUND);
    assert_int_equal(lut_device_list(fx->store, &list, &n), LUT_OK);
    assert_int_equal(n, 3);
    free(list);
    free(rows);
}

static void test_device_delete_removes_rows_only_of_it(void **state)
{
    fixture *fx = *state;
    lut_entry *rows = conv_rows(300, 1.0), *got;
    lut_device after;
    lut_table *t;
    size_t n, pages;

    /* "gap" is a prefix of "gap8": their rows must not mix. */
    add_device(fx, "gap");
    add_device(fx, "gap8");
    put_ok(fx, "gap", rows, 300, LUT_MODE_REPLACE, NULL);
    put_ok(fx, "gap8", rows, 200, LUT_MODE_REPLACE, &after);
    assert_int_equal(after.entries, 200);
    assert_int_equal(lut_device_delete(fx->store, "gap"), LUT_OK);

    got = list_all(fx, "gap8", NULL, 1000, &n, &pages);
    assert_int_equal(n, 200);
    free(got);
    assert_int_equal(lut_store_table(fx->store, "gap", &t), LUT_ENOTFOUND);

    /* Recreated: a new, empty table at version 0. */
    add_device(fx, "gap");
    got = list_all(fx, "gap", NULL, 1000, &n, &pages);
    assert_int_equal(n, 0);
    free(got);
    assert_int_equal(lut_store_table(fx->store, "gap", &t), LUT_OK);
    assert_int_equal(lut_table_device(t)->entries, 0);
    assert_int_equal(lut_table_device(t)->lut_version, 0);
    assert_null(lut_table_find(t, &rows[0].key));
    lut_table_release(t);
    free(rows);
}

/* ---------------------------------------------------------------- batch */

static void test_batch_basic(void **state)
{
    fixture *fx = *state;
    lut_entry *rows = conv_rows(50, 2.0), *got;
    lut_device after, dev;
    lut_error err;
    size_t n, i;
    char next[2 * LUT_KEY_TEXT_MAX + 1];

    add_device(fx, "cpu-x86");
    assert_int_equal(lut_store_put_batch(fx->store, "cpu-x86", rows, 0,
                                         LUT_MODE_REPLACE, NULL, &err),
                     LUT_EEMPTY);
    assert_int_equal(lut_store_put_batch(fx->store, "nope", rows, 5,
                                         LUT_MODE_REPLACE, NULL, &err),
                     LUT_ENOTFOUND);
    put_ok(fx, "cpu-x86", rows, 50, LUT_MODE_REPLACE, &after);
    assert_string_equal(after.name, "cpu-x86");
    assert_int_equal(after.entries, 50);
    assert_int_equal(after.lut_version, 1);
    assert_true(is_hex32(after.lut_hash));

    assert_int_equal(lut_store_list(fx->store, "cpu-x86", NULL, NULL, 1000, &got,
                                    &n, next, sizeof next, &dev),
                     LUT_OK);
    assert_int_equal(n, 50);
    assert_string_equal(next, "");
    assert_int_equal(dev.lut_version, 1);
    assert_string_equal(dev.lut_hash, after.lut_hash);
    qsort(rows, 50, sizeof *rows, entry_cmp_text);
    for (i = 0; i < n; i++)
        assert_entry_equal(&got[i], &rows[i]);
    free(got);
    free(rows);
}

static void test_hash_independent_of_order_and_batches(void **state)
{
    fixture *fx = *state;
    const size_t n = 400;
    lut_entry *rows = conv_rows(n, 1.5), *rev = calloc(n, sizeof *rev);
    lut_entry *dups = calloc(2 * n, sizeof *dups);
    lut_device a, b, c, d, e, f, g, empty1, empty2;
    size_t i;

    assert_non_null(rev);
    assert_non_null(dups);
    for (i = 0; i < n; i++) {
        rev[i] = rows[n - 1 - i];
        dups[i] = rows[(i * 7) % n];
        dups[i].latency.mean += 100.0; /* superseded within the batch */
        dups[i].has_macs = 1;
        dups[n + i] = rows[i];
    }
    add_device(fx, "a");
    add_device(fx, "b");
    add_device(fx, "c");
    add_device(fx, "d");
    add_device(fx, "e");
    add_device(fx, "f");
    add_device(fx, "g");

    assert_int_equal(lut_device_get(fx->store, "a", &empty1), LUT_OK);
    assert_int_equal(lut_device_get(fx->store, "b", &empty2), LUT_OK);
    assert_string_equal(empty1.lut_hash, empty2.lut_hash);
    assert_true(is_hex32(empty1.lut_hash));

    put_ok(fx, "a", rows, n, LUT_MODE_REPLACE, &a);
    put_ok(fx, "b", rev, n, LUT_MODE_REPLACE, &b);
    /* c: three batches, the middle one first overwritten by garbage. */
    put_ok(fx, "c", rows + 100, 200, LUT_MODE_REPLACE, NULL);
    put_ok(fx, "c", dups, n, LUT_MODE_REPLACE, NULL);
    put_ok(fx, "c", rows, 100, LUT_MODE_REPLACE, NULL);
    put_ok(fx, "c", rows + 300, 100, LUT_MODE_REPLACE, NULL);
    put_ok(fx, "c", rows + 100, 200, LUT_MODE_REPLACE, &c);
    /* d: duplicates in one batch, the later row wins. */
    put_ok(fx, "d", dups, 2 * n, LUT_MODE_REPLACE, &d);
    /* f: merge mode into an empty table is the rows themselves. */
    put_ok(fx, "f", rev, n, LUT_MODE_MERGE, &f);

    assert_string_not_equal(a.lut_hash, empty1.lut_hash);
    assert_string_equal(a.lut_hash, b.lut_hash);
    assert_string_equal(a.lut_hash, c.lut_hash);
    assert_string_equal(a.lut_hash, d.lut_hash);
    assert_string_equal(a.lut_hash, f.lut_hash);
    assert_int_equal(c.entries, n);
    assert_int_equal(c.lut_version, 5);
    assert_int_equal(d.entries, n);

    /* One value changed, or one row missing: another hash. */
    rows[123].latency.mean += 1e-9;
    put_ok(fx, "e", rows, n, LUT_MODE_REPLACE, &e);
    assert_string_not_equal(a.lut_hash, e.lut_hash);
    rows[123].latency.mean -= 1e-9;
    rows[5].has_macs = !rows[5].has_macs;
    put_ok(fx, "e", rows, n, LUT_MODE_REPLACE, &e);
    assert_string_not_equal(a.lut_hash, e.lut_hash);
    rows[5].has_macs = !rows[5].has_macs;
    put_ok(fx, "e", rows, n, LUT_MODE_REPLACE, &e);
    assert_string_equal(a.lut_hash, e.lut_hash);
    put_ok(fx, "g", rows, n - 1, LUT_MODE_REPLACE, &g);
    assert_string_not_equal(a.lut_hash, g.lut_hash);

    /* -0.0 and 0.0 are one value. */
    rows[0].latency.mean = 0.0;
    put_ok(fx, "e", rows, 1, LUT_MODE_REPLACE, &e);
    rows[0].latency.mean = -0.0;
    put_ok(fx, "e", rows, 1, LUT_MODE_REPLACE, &g);
    assert_string_equal(e.lut_hash, g.lut_hash);

    free(rows);
    free(rev);
    free(dups);
}

/* The content hash is part of the contract (the same rows give the same
 * hash on any machine, in any release): pin two values. */
static void test_lut_hash_pinned(void **state)
{
    fixture *fx = *state;
    lut_entry e;
    lut_device d;

    add_device(fx, "x");
    assert_int_equal(lut_device_get(fx->store, "x", &d), LUT_OK);
    assert_string_equal(d.lut_hash, "efd01f60ba9929260bd04a9b5578e5ab");
    memset(&e, 0, sizeof e);
    lut_key_init(&e.key);
    memcpy(e.key.op, "relu", 4);
    e.key.cin = 3;
    e.key.h = e.key.w = 4;
    e.key = canonical(e.key);
    e.latency = (lut_stats){12.5, 0.5, 3};
    e.has_macs = 1;
    e.macs = 42;
    put_ok(fx, "x", &e, 1, LUT_MODE_REPLACE, &d);
    assert_string_equal(d.lut_hash, "572132b43a92dfdc5f1dca967973cf17");
}

static void assert_unchanged(fixture *fx, const char *dev, const lut_device *before,
                             const lut_entry *rows_before, size_t n_before)
{
    lut_device now;
    lut_entry *rows;
    size_t n, pages, i;

    assert_int_equal(lut_device_get(fx->store, dev, &now), LUT_OK);
    assert_int_equal(now.entries, before->entries);
    assert_int_equal(now.lut_version, before->lut_version);
    assert_string_equal(now.lut_hash, before->lut_hash);
    rows = list_all(fx, dev, NULL, 10000, &n, &pages);
    assert_int_equal(n, n_before);
    for (i = 0; i < n; i++)
        assert_entry_equal(&rows[i], &rows_before[i]);
    free(rows);
}

static void test_batch_fault_mid_batch_is_atomic(void **state)
{
    fixture *fx = *state;
    lut_entry *base = conv_rows(300, 1.0), *big = conv_rows(1000, 7.0), *listed;
    lut_device before;
    lut_error err;
    size_t n, pages;

    add_device(fx, "gap8");
    put_ok(fx, "gap8", base, 300, LUT_MODE_REPLACE, &before);
    listed = list_all(fx, "gap8", NULL, 10000, &n, &pages);

    fx->fault.armed = 1;
    fx->fault.fail_at = 500;
    fx->fault.calls = 0;
    assert_int_equal(lut_store_put_batch(fx->store, "gap8", big, 1000,
                                         LUT_MODE_REPLACE, NULL, &err),
                     LUT_EFAULT);
    assert_int_equal(err.row, 500);
    assert_int_equal(fx->fault.calls, 501); /* rows 0..500 were reached */
    assert_unchanged(fx, "gap8", &before, listed, n);
    assert_int_equal(lut_store_put_batch(fx->store, "gap8", big, 1000,
                                         LUT_MODE_MERGE, NULL, &err),
                     LUT_EFAULT);
    assert_unchanged(fx, "gap8", &before, listed, n);

    /* The same batch goes through once the fault is gone. */
    fx->fault.armed = 0;
    put_ok(fx, "gap8", big, 1000, LUT_MODE_REPLACE, &before);
    assert_int_equal(before.entries, 1000);
    assert_int_equal(before.lut_version, 2);
    free(listed);
    free(base);
    free(big);
}

static void test_batch_invalid_row_is_atomic(void **state)
{
    fixture *fx = *state;
    lut_entry *base = conv_rows(100, 1.0), *bad = conv_rows(200, 3.0), *listed;
    lut_device before;
    lut_error err;
    lut_key raw;
    size_t n, pages;

    add_device(fx, "gap8");
    put_ok(fx, "gap8", base, 100, LUT_MODE_REPLACE, &before);
    listed = list_all(fx, "gap8", NULL, 10000, &n, &pages);

    bad[37].latency.mean = NAN;
    assert_int_equal(lut_store_put_batch(fx->store, "gap8", bad, 200,
                                         LUT_MODE_REPLACE, NULL, &err),
                     LUT_EINVAL);
    assert_int_equal(err.row, 37);
    assert_string_equal(err.field, "mean");
    assert_unchanged(fx, "gap8", &before, listed, n);

    bad[37].latency.mean = 1.0;
    bad[150].latency.count = 0;
    assert_int_equal(lut_store_put_batch(fx->store, "gap8", bad, 200,
                                         LUT_MODE_MERGE, NULL, &err),
                     LUT_EINVAL);
    assert_int_equal(err.row, 150);
    assert_string_equal(err.field, "count");
    bad[150].latency.count = 1;

    /* A key that was never canonicalized, and one edited afterwards. */
    lut_key_init(&raw);
    memcpy(raw.op, "conv2d", 6);
    memcpy(raw.dtype, "fp32", 4);
    raw.cin = raw.cout = raw.h = raw.w = 8;
    bad[120].key = raw;
    assert_int_equal(lut_store_put_batch(fx->store, "gap8", bad, 200,
                                         LUT_MODE_REPLACE, NULL, &err),
                     LUT_EINVAL);
    assert_int_equal(err.row, 120);
    assert_string_equal(err.field, "k");
    bad[120].key = canonical(raw);
    bad[10].key.out_h = 5; /* conv2d has no target size */
    assert_int_equal(lut_store_put_batch(fx->store, "gap8", bad, 200,
                                         LUT_MODE_REPLACE, NULL, &err),
                     LUT_EINVAL);
    assert_int_equal(err.row, 10);
    assert_string_equal(err.field, "out_h");
    bad[10].key.groups = 0;
    assert_int_equal(lut_store_put_batch(fx->store, "gap8", bad, 200,
                                         LUT_MODE_REPLACE, NULL, &err),
                     LUT_EINVAL);
    assert_int_equal(err.row, 10);
    assert_string_equal(err.field, "groups");
    assert_unchanged(fx, "gap8", &before, listed, n);
    free(listed);
    free(base);
    free(bad);
}

static void test_map_full_grows(void **state)
{
    fixture *fx = *state;
    const size_t n = 6000;
    lut_entry *rows = conv_rows(n, 0.5), *got;
    lut_device after, again;
    size_t before = lut_store_map_size(fx->store), listed, pages, i;

    assert_true(before <= 128 * 1024);
    add_device(fx, "gap8");
    put_ok(fx, "gap8", rows, n, LUT_MODE_REPLACE, &after);
    assert_int_equal(after.entries, n);
    assert_true(lut_store_map_size(fx->store) > before);
    got = list_all(fx, "gap8", NULL, 10000, &listed, &pages);
    assert_int_equal(listed, n);
    free(got);
    /* And again, merging: every row rewritten in one transaction. */
    put_ok(fx, "gap8", rows, n, LUT_MODE_MERGE, &after);
    assert_int_equal(after.lut_version, 2);

    /* Reopened with the same tiny initial size: the data is all there. */
    reopen_store(fx);
    assert_int_equal(lut_device_get(fx->store, "gap8", &again), LUT_OK);
    assert_int_equal(again.entries, n);
    assert_string_equal(again.lut_hash, after.lut_hash);
    got = list_all(fx, "gap8", NULL, 5000, &listed, &pages);
    assert_int_equal(listed, n);
    assert_int_equal(pages, 2);
    /* Merged with itself: every count doubled (each was 1..7). */
    for (i = 0; i < listed; i++)
        assert_true(got[i].latency.count % 2 == 0 && got[i].latency.count >= 2 &&
                    got[i].latency.count <= 14);
    free(got);
    free(rows);
}

static void test_persistence(void **state)
{
    fixture *fx = *state;
    lut_entry *rows = conv_rows(250, 3.25), *before, *after;
    lut_device d1, d2;
    size_t n1, n2, pages, i;

    add_device(fx, "gap8");
    add_device(fx, "cpu-x86");
    put_ok(fx, "gap8", rows, 250, LUT_MODE_REPLACE, NULL);
    put_ok(fx, "gap8", rows, 100, LUT_MODE_MERGE, &d1);
    before = list_all(fx, "gap8", NULL, 10000, &n1, &pages);

    /* Synced commits this time. */
    fx->opt.no_sync = 0;
    reopen_store(fx);
    put_ok(fx, "cpu-x86", rows, 10, LUT_MODE_REPLACE, NULL);
    reopen_store(fx);

    assert_int_equal(lut_device_get(fx->store, "gap8", &d2), LUT_OK);
    assert_int_equal(d2.lut_version, 2);
    assert_int_equal(d2.entries, 250);
    assert_string_equal(d2.lut_hash, d1.lut_hash);
    assert_string_equal(d2.description, "test device gap8");
    after = list_all(fx, "gap8", NULL, 10000, &n2, &pages);
    assert_int_equal(n1, n2);
    for (i = 0; i < n1; i++)
        assert_entry_equal(&before[i], &after[i]);
    assert_int_equal(lut_device_get(fx->store, "cpu-x86", &d2), LUT_OK);
    assert_int_equal(d2.entries, 10);
    free(before);
    free(after);
    free(rows);
}

/* Overwrite the first record of a named database with `bad` (closed store). */
static void clobber_first(const char *dir, const char *db, const char *bad)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_cursor *c;
    MDB_val k, v;

    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 4), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
    assert_int_equal(mdb_cursor_open(txn, dbi, &c), 0);
    assert_int_equal(mdb_cursor_get(c, &k, &v, MDB_FIRST), 0);
    v.mv_data = (void *)(uintptr_t)bad;
    v.mv_size = strlen(bad);
    assert_int_equal(mdb_cursor_put(c, &k, &v, MDB_CURRENT), 0);
    mdb_cursor_close(c);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void test_corrupt_records(void **state)
{
    fixture *fx = *state;
    lut_entry *rows = conv_rows(20, 1.0), *got;
    lut_device d, *list;
    lut_table *t;
    size_t n;
    char next[2 * LUT_KEY_TEXT_MAX + 1];

    add_device(fx, "gap8");
    put_ok(fx, "gap8", rows, 20, LUT_MODE_REPLACE, NULL);
    lut_store_close(fx->store);
    fx->store = NULL;
    clobber_first(fx->dir, "rows", "xyz");
    open_store(fx);
    assert_int_equal(lut_store_list(fx->store, "gap8", NULL, NULL, 100, &got, &n,
                                    next, sizeof next, NULL),
                     LUT_ECORRUPT);
    assert_int_equal(lut_store_table(fx->store, "gap8", &t), LUT_ECORRUPT);
    assert_int_equal(lut_store_put_batch(fx->store, "gap8", rows + 5, 1,
                                         LUT_MODE_MERGE, NULL, NULL),
                     LUT_ECORRUPT);
    assert_int_equal(lut_device_get(fx->store, "gap8", &d), LUT_OK);
    assert_int_equal(d.lut_version, 1);

    lut_store_close(fx->store);
    fx->store = NULL;
    clobber_first(fx->dir, "devices", "\x01garbage");
    open_store(fx);
    assert_int_equal(lut_device_get(fx->store, "gap8", &d), LUT_ECORRUPT);
    assert_int_equal(lut_device_list(fx->store, &list, &n), LUT_ECORRUPT);
    assert_int_equal(lut_strerror(LUT_ECORRUPT) != NULL, 1);
    free(rows);
}

/* ------------------------------------------------------------ documents */

static void test_documents(void **state)
{
    fixture *fx = *state;
    const size_t big_len = 3 << 20; /* larger than the 64 KiB initial map */
    char *big = malloc(big_len), **ids;
    void *data;
    size_t len, n, i;
    char long_id[160];

    assert_non_null(big);
    for (i = 0; i < big_len; i++)
        big[i] = (char)('a' + i % 26);
    assert_int_equal(lut_store_doc_ids(fx->store, "space", &ids, &n), LUT_OK);
    assert_int_equal(n, 0);
    free(ids);
    assert_int_equal(lut_store_doc_put(fx->store, "space", "zz", "{\"a\":1}", 7), LUT_OK);
    assert_int_equal(lut_store_doc_put(fx->store, "space", "aa", "", 0), LUT_OK);
    assert_int_equal(lut_store_doc_put(fx->store, "space", "big", big, big_len), LUT_OK);
    assert_int_equal(lut_store_doc_put(fx->store, "spaces", "x", "other kind", 10), LUT_OK);
    assert_int_equal(lut_store_doc_put(fx->store, "spac", "y", "prefix kind", 11), LUT_OK);
    assert_int_equal(lut_store_doc_put(fx->store, "space", "zz", "{\"a\":2}", 7), LUT_OK);

    assert_int_equal(lut_store_doc_get(fx->store, "space", "zz", &data, &len), LUT_OK);
    assert_int_equal(len, 7);
    assert_memory_equal(data, "{\"a\":2}", 7);
    free(data);
    assert_int_equal(lut_store_doc_get(fx->store, "space", "aa", &data, &len), LUT_OK);
    assert_int_equal(len, 0);
    free(data);
    assert_int_equal(lut_store_doc_get(fx->store, "space", "big", &data, &len), LUT_OK);
    assert_int_equal(len, big_len);
    assert_memory_equal(data, big, big_len);
    free(data);
    assert_int_equal(lut_store_doc_get(fx->store, "space", "nope", &data, &len),
                     LUT_ENOTFOUND);
    assert_null(data);

    reopen_store(fx);
    assert_int_equal(lut_store_doc_ids(fx->store, "space", &ids, &n), LUT_OK);
    assert_int_equal(n, 3);
    assert_string_equal(ids[0], "aa");
    assert_string_equal(ids[1], "big");
    assert_string_equal(ids[2], "zz");
    for (i = 0; i < n; i++)
        free(ids[i]);
    free(ids);

    assert_int_equal(lut_store_doc_delete(fx->store, "space", "big"), LUT_OK);
    assert_int_equal(lut_store_doc_delete(fx->store, "space", "big"), LUT_ENOTFOUND);
    assert_int_equal(lut_store_doc_get(fx->store, "space", "big", &data, &len),
                     LUT_ENOTFOUND);
    assert_int_equal(lut_store_doc_ids(fx->store, "space", &ids, &n), LUT_OK);
    assert_int_equal(n, 2);
    for (i = 0; i < n; i++)
        free(ids[i]);
    free(ids);

    memset(long_id, 'i', 129);
    long_id[129] = '\0';
    assert_int_equal(lut_store_doc_put(fx->store, "space", long_id, "x", 1), LUT_EINVAL);
    assert_int_equal(lut_store_doc_put(fx->store, "", "id", "x", 1), LUT_EINVAL);
    assert_int_equal(lut_store_doc_put(fx->store, "space", "", "x", 1), LUT_EINVAL);
    long_id[128] = '\0';
    assert_int_equal(lut_store_doc_put(fx->store, "space", long_id, "x", 1), LUT_OK);

    /* Purging a kind removes its documents in one transaction and nothing
     * of the kinds whose names it prefixes or that prefix it. */
    assert_int_equal(lut_store_doc_purge(fx->store, "space"), LUT_OK);
    assert_int_equal(lut_store_doc_ids(fx->store, "space", &ids, &n), LUT_OK);
    assert_int_equal(n, 0);
    free(ids);
    assert_int_equal(lut_store_doc_get(fx->store, "spaces", "x", &data, &len), LUT_OK);
    free(data);
    assert_int_equal(lut_store_doc_get(fx->store, "spac", "y", &data, &len), LUT_OK);
    free(data);
    assert_int_equal(lut_store_doc_purge(fx->store, "space"), LUT_OK);
    assert_int_equal(lut_store_doc_purge(fx->store, ""), LUT_EINVAL);
    free(big);
}

/* -------------------------------------------------------------- listing */

static void test_list_pagination(void **state)
{
    fixture *fx = *state;
    const size_t n = 203;
    lut_entry *rows = calloc(n, sizeof *rows), *all, *paged, *relu, *one;
    lut_device dev;
    size_t i, n_all, n_paged, n_relu, pages, got;
    char next[2 * LUT_KEY_TEXT_MAX + 1], small[8], cursor[2 * LUT_KEY_TEXT_MAX + 1];
    char text[LUT_KEY_TEXT_MAX];
    int rc;

    assert_non_null(rows);
    for (i = 0; i < n; i++)
        rows[i] = entry_of(mixed_key(i), (double)i, i);
    add_device(fx, "gap8");
    add_device(fx, "other");
    put_ok(fx, "gap8", rows, n, LUT_MODE_REPLACE, NULL);
    put_ok(fx, "other", rows, 7, LUT_MODE_REPLACE, NULL);
    qsort(rows, n, sizeof *rows, entry_cmp_text);

    all = list_all(fx, "gap8", NULL, 100000, &n_all, &pages);
    assert_int_equal(n_all, n);
    assert_int_equal(pages, 1);
    for (i = 0; i < n; i++)
        assert_entry_equal(&all[i], &rows[i]);

    /* Pages of 7: the same rows in the same order. 203 = 29 * 7. */
    paged = list_all(fx, "gap8", NULL, 7, &n_paged, &pages);
    assert_int_equal(n_paged, n);
    assert_int_equal(pages, 29);
    for (i = 0; i < n; i++)
        assert_entry_equal(&paged[i], &rows[i]);
    free(paged);
    paged = list_all(fx, "gap8", NULL, 1, &n_paged, &pages);
    assert_int_equal(n_paged, n);
    free(paged);

    /* Filtered by op: relu rows are i % 4 == 1, 51 of them. */
    relu = list_all(fx, "gap8", "relu", 10, &n_relu, &pages);
    assert_int_equal(n_relu, 51);
    assert_int_equal(pages, 6);
    for (i = 0; i < n_relu; i++)
        assert_string_equal(relu[i].key.op, "relu");
    free(relu);
    relu = list_all(fx, "gap8", "conv2d", 3, &n_relu, &pages);
    assert_int_equal(n_relu, 51);
    free(relu);
    relu = list_all(fx, "gap8", "linear", 1000, &n_relu, &pages);
    assert_int_equal(n_relu, 50);
    free(relu);
    relu = list_all(fx, "gap8", "maxpool", 5, &n_relu, &pages);
    assert_int_equal(n_relu, 0);
    free(relu);
    /* "add" must not match an op that merely starts with it. */
    relu = list_all(fx, "gap8", "ad", 5, &n_relu, &pages);
    assert_int_equal(n_relu, 0);
    free(relu);

    /* A cursor from an "add" page used with the relu filter: all relu
     * rows, which sort after it. */
    assert_int_equal(lut_store_list(fx->store, "gap8", "add", NULL, 2, &one, &got,
                                    cursor, sizeof cursor, &dev),
                     LUT_OK);
    assert_int_equal(got, 2);
    assert_int_equal(dev.lut_version, 1);
    free(one);
    assert_int_equal(lut_store_list(fx->store, "gap8", "relu", cursor, 1000, &one,
                                    &got, next, sizeof next, NULL),
                     LUT_OK);
    assert_int_equal(got, 51);
    assert_string_equal(next, "");
    free(one);

    /* Bad cursors. */
    {
        static const char *bad[] = {"zz", "abc", "68656c6c6f", "4142", "GG00",
                                    "72656c753b63696e3d33"};
        for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            rc = lut_store_list(fx->store, "gap8", NULL, bad[i], 10, &one, &got,
                                next, sizeof next, NULL);
            assert_int_equal(rc, LUT_ECURSOR);
        }
    }
    /* A cursor naming a canonical key not in the table still works. */
    lut_key_format(&all[10].key, text, sizeof text);
    for (i = 0; text[i]; i++)
        snprintf(cursor + 2 * i, 3, "%02x", (unsigned char)text[i]);
    assert_int_equal(lut_store_list(fx->store, "other", NULL, cursor, 1000, &one,
                                    &got, next, sizeof next, NULL),
                     LUT_OK);
    free(one);
    /* Too small a buffer for the next cursor. */
    assert_int_equal(lut_store_list(fx->store, "gap8", NULL, NULL, 1, &one, &got,
                                    small, sizeof small, NULL),
                     LUT_EINVAL);
    assert_int_equal(lut_store_list(fx->store, "gap8", NULL, NULL, 0, &one, &got,
                                    next, sizeof next, NULL),
                     LUT_EINVAL);
    assert_int_equal(lut_store_list(fx->store, "missing", NULL, NULL, 10, &one,
                                    &got, next, sizeof next, NULL),
                     LUT_ENOTFOUND);
    free(all);
    free(rows);
}

/* ---------------------------------------------------------------- merge */

static void test_merge_mode(void **state)
{
    fixture *fx = *state;
    lut_entry r[3], *got;
    lut_stats expect = {10.0, 1.0, 4}, b = {14.0, 2.0, 2}, c = {11.0, 0.5, 3};
    lut_device after;
    size_t n, pages;

    add_device(fx, "gap8");
    memset(r, 0, sizeof r);
    r[0].key = r[1].key = r[2].key = conv_key(3);
    r[0].latency = expect;
    r[0].has_macs = 1;
    r[0].macs = 100;
    put_ok(fx, "gap8", r, 1, LUT_MODE_MERGE, NULL);

    /* Across batches: stored (10, 1, n=4) + (14, 2, n=2):
     * mean = (40 + 28) / 6 = 11.333..., M2 = 3*1 + 1*4 + 16*4*2/6 = 28.333...,
     * std = sqrt(28.333.../5). A row without macs keeps the stored ones. */
    r[1].latency = b;
    put_ok(fx, "gap8", &r[1], 1, LUT_MODE_MERGE, NULL);
    got = list_all(fx, "gap8", NULL, 10, &n, &pages);
    assert_int_equal(n, 1);
    assert_int_equal(got[0].latency.count, 6);
    assert_true(fabs(got[0].latency.mean - 68.0 / 6.0) < 1e-12);
    assert_true(fabs(got[0].latency.std - sqrt((3.0 + 4.0 + 64.0 / 3.0) / 5.0)) < 1e-12);
    assert_int_equal(got[0].has_macs, 1);
    assert_int_equal(got[0].macs, 100);
    free(got);
    lut_stats_merge(&expect, &b);

    /* Within one batch: the two rows combine in order, and with the stored
     * one; the later given macs win. */
    r[1].has_macs = 1;
    r[1].macs = 200;
    r[2].latency = c;
    put_ok(fx, "gap8", &r[1], 2, LUT_MODE_MERGE, &after);
    lut_stats_merge(&expect, &b);
    lut_stats_merge(&expect, &c);
    got = list_all(fx, "gap8", NULL, 10, &n, &pages);
    assert_int_equal(got[0].latency.count, 11);
    assert_true(fabs(got[0].latency.mean - expect.mean) < 1e-12);
    assert_true(fabs(got[0].latency.std - expect.std) < 1e-12);
    assert_int_equal(got[0].macs, 200);
    assert_int_equal(after.lut_version, 3);
    free(got);

    /* Replace overwrites everything, macs included. */
    put_ok(fx, "gap8", &r[2], 1, LUT_MODE_REPLACE, NULL);
    got = list_all(fx, "gap8", NULL, 10, &n, &pages);
    assert_int_equal(got[0].latency.count, 3);
    assert_true(got[0].latency.mean == 11.0);
    assert_int_equal(got[0].has_macs, 0);
    free(got);
}

/* --------------------------------------------------------------- tables */

static void test_store_table_reuse_and_rebuild(void **state)
{
    fixture *fx = *state;
    lut_entry *rows = conv_rows(100, 1.0);
    lut_table *t1, *t2, *t3, *t4, *t5;
    lut_device d = device_named("gap8");
    const lut_entry *e;

    add_device(fx, "gap8");
    put_ok(fx, "gap8", rows, 100, LUT_MODE_REPLACE, NULL);
    assert_int_equal(lut_store_table(fx->store, "gap8", &t1), LUT_OK);
    assert_int_equal(lut_store_table(fx->store, "gap8", &t2), LUT_OK);
    assert_ptr_equal(t1, t2);
    assert_int_equal(lut_table_device(t1)->lut_version, 1);
    assert_int_equal(lut_table_device(t1)->entries, 100);
    e = lut_table_find(t1, &rows[42].key);
    assert_non_null(e);
    assert_true(e->latency.mean == 43.0);

    rows[42].latency.mean = 1000.0;
    put_ok(fx, "gap8", &rows[42], 1, LUT_MODE_REPLACE, NULL);
    assert_int_equal(lut_store_table(fx->store, "gap8", &t3), LUT_OK);
    assert_ptr_not_equal(t3, t1);
    assert_int_equal(lut_table_device(t3)->lut_version, 2);
    assert_true(lut_table_find(t3, &rows[42].key)->latency.mean == 1000.0);
    /* The old snapshot is still whole while referenced. */
    assert_true(lut_table_find(t1, &rows[42].key)->latency.mean == 43.0);
    assert_string_not_equal(lut_table_device(t1)->lut_hash,
                            lut_table_device(t3)->lut_hash);
    lut_table_release(t1);
    lut_table_release(t2);

    /* A change of the device's own fields is a new snapshot too. */
    snprintf(d.description, sizeof d.description, "renamed");
    assert_int_equal(lut_device_put(fx->store, &d, NULL), LUT_OK);
    assert_int_equal(lut_store_table(fx->store, "gap8", &t4), LUT_OK);
    assert_ptr_not_equal(t4, t3);
    assert_string_equal(lut_table_device(t4)->description, "renamed");
    assert_int_equal(lut_table_device(t4)->lut_version, 2);
    assert_int_equal(lut_store_table(fx->store, "gap8", &t5), LUT_OK);
    assert_ptr_equal(t4, t5);
    lut_table_release(t3);
    lut_table_release(t4);
    lut_table_release(t5);
    assert_int_equal(lut_store_table(fx->store, "nope", &t1), LUT_ENOTFOUND);
    free(rows);
}

static void test_table_sum(void **state)
{
    const size_t n = 100;
    lut_entry *rows = conv_rows(n, 1.0);
    lut_key layers[120];
    size_t missing[4], i, j = 0;
    lut_table *t;
    lut_sum s;
    lut_device dev = device_named("gap8");
    const lut_entry *e;

    (void)state;
    /* Row i has mean i + 1. Layers: rows 0..49 twice with 10 unknown keys
     * at positions 5, 17, 29, ... (every 12th from 5). */
    for (i = 0; i < 120; i++) {
        if (i % 12 == 5)
            layers[i] = conv_key(10000 + i);
        else
            layers[i] = rows[j++ % 50].key;
    }
    dev.lut_version = 9;
    assert_int_equal(lut_table_build(&dev, rows, n, &t), LUT_OK);
    assert_int_equal(lut_table_device(t)->lut_version, 9);
    lut_table_sum(t, layers, 120, &s, missing, 4);
    assert_int_equal(s.hits, 110);
    assert_int_equal(s.missing, 10);
    /* 110 hits: rows 0..49 twice (2 * 1275 = 2550) plus rows 0..9 again
     * (55): j runs to 110 over 50 rows. */
    assert_true(s.total == 2.0 * 1275.0 + 55.0);
    assert_int_equal(missing[0], 5);
    assert_int_equal(missing[1], 17);
    assert_int_equal(missing[2], 29);
    assert_int_equal(missing[3], 41);
    lut_table_sum(t, layers, 120, &s, NULL, 0);
    assert_int_equal(s.missing, 10);
    lut_table_sum(t, layers, 0, &s, missing, 4);
    assert_int_equal(s.hits + s.missing, 0);
    assert_true(s.total == 0.0);

    e = lut_table_find_hashed(t, &rows[7].key, lut_key_hash(&rows[7].key));
    assert_non_null(e);
    assert_true(e->latency.mean == 8.0);
    assert_null(lut_table_find(t, &layers[5]));
    lut_table_release(t);

    /* No device; a later duplicate wins; an empty table finds nothing. */
    rows[1] = rows[0];
    rows[1].latency.mean = 77.0;
    assert_int_equal(lut_table_build(NULL, rows, n, &t), LUT_OK);
    assert_int_equal(lut_table_device(t)->entries, n - 1);
    assert_true(lut_table_find(t, &rows[0].key)->latency.mean == 77.0);
    lut_table_release(t);
    assert_int_equal(lut_table_build(NULL, NULL, 0, &t), LUT_OK);
    lut_table_sum(t, layers, 120, &s, missing, 4);
    assert_int_equal(s.missing, 120);
    lut_table_release(t);
    free(rows);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* splitmix64 */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* The packed index answers exactly what the key index answers: the same
 * row for every key that packs, the same sums and missing layers; rows
 * whose keys do not pack (an unlisted dtype) stay reachable by lut_key. */
static void test_table_packed_agrees(void **state)
{
    enum { NROWS = 3000, NLAYERS = 5000 };
    lut_entry *rows = calloc(NROWS, sizeof *rows);
    lut_key *layers = malloc(NLAYERS * sizeof *layers);
    lut_pkey *packed = malloc(NLAYERS * sizeof *packed);
    uint64_t *hashes = malloc(NLAYERS * sizeof *hashes);
    size_t miss_a[64], miss_b[64], miss_c[64];
    uint64_t rng = 3;
    lut_table *t;

    (void)state;
    assert_non_null(rows);
    assert_non_null(layers);
    assert_non_null(packed);
    assert_non_null(hashes);
    for (size_t i = 0; i < NROWS; i++) {
        lut_key k = mixed_key(i);
        if (i % 10 == 9) { /* every tenth row: a dtype outside the packed set */
            memset(k.dtype, 0, sizeof k.dtype);
            memcpy(k.dtype, "q4_k", 4);
            k = canonical(k);
        }
        rows[i] = entry_of(k, (double)(i % 1000) + 0.25, i);
    }
    assert_int_equal(lut_table_build(NULL, rows, NROWS, &t), LUT_OK);
    for (size_t i = 0; i < NROWS; i++) {
        lut_pkey p;
        const lut_entry *e = lut_table_find(t, &rows[i].key);
        assert_non_null(e);
        if (i % 10 == 9) {
            assert_int_equal(lut_key_pack(&rows[i].key, &p), LUT_EINVAL);
            continue;
        }
        assert_int_equal(lut_key_pack(&rows[i].key, &p), LUT_OK);
        assert_ptr_equal(lut_table_find_packed(t, &p, lut_pkey_hash(&p)), e);
    }
    /* Layers: packable keys of the table, and about 5% that it lacks. */
    size_t nl = 0;
    while (nl < NLAYERS) {
        size_t r = (size_t)(rng_next(&rng) % (NROWS + NROWS / 20));
        lut_key k = r < NROWS ? rows[r].key : conv_key(100000 + r);
        if (r < NROWS && r % 10 == 9)
            continue;
        layers[nl] = k;
        assert_int_equal(lut_key_pack(&k, &packed[nl]), LUT_OK);
        hashes[nl] = lut_pkey_hash(&packed[nl]);
        nl++;
    }
    for (size_t len = 0; len <= NLAYERS; len = len ? len * 3 : 1) {
        lut_sum a, b, c;
        lut_table_sum(t, layers, len, &a, miss_a, 64);
        lut_table_sum_packed(t, packed, NULL, len, &b, miss_b, 64);
        lut_table_sum_packed(t, packed, hashes, len, &c, miss_c, 64);
        assert_true(a.total == b.total && a.total == c.total);
        assert_int_equal(a.hits, b.hits);
        assert_int_equal(a.hits, c.hits);
        assert_int_equal(a.missing, b.missing);
        assert_int_equal(a.missing, c.missing);
        size_t listed = a.missing < 64 ? a.missing : 64;
        assert_memory_equal(miss_a, miss_b, listed * sizeof *miss_a);
        assert_memory_equal(miss_a, miss_c, listed * sizeof *miss_a);
    }
    lut_sum none;
    lut_table_sum_packed(NULL, packed, NULL, 10, &none, miss_b, 4);
    assert_int_equal(none.missing, 10);
    assert_int_equal(miss_b[3], 3);
    lut_table_release(t);

    /* An empty table finds nothing. */
    assert_int_equal(lut_table_build(NULL, NULL, 0, &t), LUT_OK);
    assert_null(lut_table_find_packed(t, &packed[0], hashes[0]));
    lut_table_release(t);
    free(rows);
    free(layers);
    free(packed);
    free(hashes);
}

static void test_table_sum_speed(void **state)
{
    const size_t n = 2000, layers_n = 200, reps = 5000;
    lut_entry *rows = conv_rows(n, 1.0);
    lut_key *layers = malloc(layers_n * sizeof *layers);
    lut_table *t;
    lut_sum s;
    double t0, dt, total = 0;
    size_t i;

    (void)state;
    assert_non_null(layers);
    for (i = 0; i < layers_n; i++)
        layers[i] = rows[(i * 37) % n].key;
    assert_int_equal(lut_table_build(NULL, rows, n, &t), LUT_OK);
    t0 = now_s();
    for (i = 0; i < reps; i++) {
        lut_table_sum(t, layers, layers_n, &s, NULL, 0);
        total += s.total;
    }
    dt = now_s() - t0;
    assert_int_equal(s.hits, layers_n);
    print_message("lut_table_sum: %.1f M layer lookups/s (checksum %.0f)\n",
                  (double)(layers_n * reps) / dt / 1e6, total);
    lut_table_release(t);
    free(layers);
    free(rows);
}

/* --------------------------------------------------------- concurrency */

#define CONC_ROWS 1500
#define CONC_BATCHES 25
#define CONC_READERS 4

typedef struct conc {
    fixture *fx;
    lut_key keys[CONC_ROWS];
    atomic_int done;
    atomic_long reads, bad, versions_seen_max;
} conc;

static void *conc_writer(void *arg)
{
    conc *c = arg;
    lut_entry *rows = calloc(CONC_ROWS, sizeof *rows);
    size_t i;
    int v;

    for (v = 1; rows && v <= CONC_BATCHES; v++) {
        lut_device after;
        for (i = 0; i < CONC_ROWS; i++) {
            rows[i].key = c->keys[i];
            rows[i].latency.mean = (double)v; /* latency = version */
            rows[i].latency.count = 1;
        }
        if (lut_store_put_batch(c->fx->store, "gap8", rows, CONC_ROWS,
                                LUT_MODE_REPLACE, &after, NULL) != 0 ||
            after.lut_version != (uint64_t)v)
            atomic_fetch_add(&c->bad, 1);
    }
    free(rows);
    atomic_store(&c->done, 1);
    return NULL;
}

static void *conc_reader(void *arg)
{
    conc *c = arg;
    size_t missing[1];

    for (;;) {
        int last = atomic_load(&c->done);
        lut_table *t;
        lut_sum s;
        uint64_t v;

        if (lut_store_table(c->fx->store, "gap8", &t) != 0) {
            atomic_fetch_add(&c->bad, 1);
            break;
        }
        v = lut_table_device(t)->lut_version;
        lut_table_sum(t, c->keys, CONC_ROWS, &s, missing, 1);
        if (v == 0 ? s.hits != 0
                   : (s.hits != CONC_ROWS ||
                      s.total != (double)CONC_ROWS * (double)v ||
                      lut_table_device(t)->entries != CONC_ROWS))
            atomic_fetch_add(&c->bad, 1);
        if ((long)v > atomic_load(&c->versions_seen_max))
            atomic_store(&c->versions_seen_max, (long)v);
        lut_table_release(t);
        atomic_fetch_add(&c->reads, 1);
        if (last)
            break;
    }
    return NULL;
}

static void test_concurrent_readers_and_writer(void **state)
{
    fixture *fx = *state;
    conc *c = calloc(1, sizeof *c);
    pthread_t writer, readers[CONC_READERS];
    size_t i;

    assert_non_null(c);
    c->fx = fx;
    for (i = 0; i < CONC_ROWS; i++)
        c->keys[i] = conv_key(i);
    atomic_init(&c->done, 0);
    atomic_init(&c->reads, 0);
    atomic_init(&c->bad, 0);
    atomic_init(&c->versions_seen_max, 0);
    add_device(fx, "gap8");
    /* The map starts at 64 KiB: the writer grows it while readers run. */
    for (i = 0; i < CONC_READERS; i++)
        assert_int_equal(pthread_create(&readers[i], NULL, conc_reader, c), 0);
    assert_int_equal(pthread_create(&writer, NULL, conc_writer, c), 0);
    pthread_join(writer, NULL);
    for (i = 0; i < CONC_READERS; i++)
        pthread_join(readers[i], NULL);
    print_message("concurrent: %ld reads, last version seen %ld, map %zu KiB\n",
                  atomic_load(&c->reads), atomic_load(&c->versions_seen_max),
                  lut_store_map_size(fx->store) / 1024);
    assert_int_equal(atomic_load(&c->bad), 0);
    assert_true(atomic_load(&c->reads) >= CONC_READERS);
    assert_int_equal(atomic_load(&c->versions_seen_max), CONC_BATCHES);
    assert_true(lut_store_map_size(fx->store) > 64 * 1024);
    free(c);
}

/* ----------------------------------------------------------- snapshots */

/* A directory beside the store (inside the fixture's temporary one). */
static void sibling(const fixture *fx, const char *name, char *out, size_t size)
{
    snprintf(out, size, "%.*s/%s", (int)(strrchr(fx->dir, '/') - fx->dir), fx->dir, name);
    assert_int_equal(mkdir(out, 0700), 0);
}

static void test_snapshot_copy_and_swap(void **state)
{
    fixture *fx = *state;
    char snap1[700], snap2[700];
    lut_entry *rows = conv_rows(10, 1.0), *rows2 = conv_rows(12, 2.0);
    lut_store_options ro = {.read_only = 1};
    lut_store *r = NULL;
    lut_table *t1 = NULL;
    lut_device d, nd = device_named("other");
    lut_error err = {0, "", ""};
    void *doc = NULL;
    size_t len = 0;

    add_device(fx, "d");
    put_ok(fx, "d", rows, 10, LUT_MODE_REPLACE, NULL);
    uint64_t tx1 = lut_store_txnid(fx->store);
    assert_true(tx1 > 0);
    sibling(fx, "snap1", snap1, sizeof snap1);
    assert_int_equal(lut_store_copy(fx->store, snap1), LUT_OK);
    put_ok(fx, "d", rows2, 12, LUT_MODE_REPLACE, NULL);
    assert_int_equal(lut_store_doc_put(fx->store, "k", "id", "abc", 3), LUT_OK);
    assert_true(lut_store_txnid(fx->store) > tx1);
    sibling(fx, "snap2", snap2, sizeof snap2);
    assert_int_equal(lut_store_copy(fx->store, snap2), LUT_OK);

    /* The first snapshot, read-only: exactly version 1, and no writes. */
    assert_int_equal(lut_store_open(&r, snap1, &ro), LUT_OK);
    assert_int_equal(lut_device_get(r, "d", &d), LUT_OK);
    assert_int_equal(d.lut_version, 1);
    assert_int_equal(d.entries, 10);
    assert_int_equal(lut_store_doc_get(r, "k", "id", &doc, &len), LUT_ENOTFOUND);
    assert_int_equal(lut_store_table(r, "d", &t1), LUT_OK);
    assert_int_equal(lut_device_put(r, &nd, NULL), EACCES);
    assert_int_equal(lut_store_put_batch(r, "d", rows, 10, LUT_MODE_REPLACE, NULL, &err), EACCES);
    assert_int_equal(lut_store_doc_put(r, "k", "x", "a", 1), EACCES);
    assert_int_equal(lut_store_swap(fx->store, snap2), LUT_EINVAL);

    /* Swapped to the second: version 2 and the document; the table
     * handed out before stays valid and of version 1. */
    assert_int_equal(lut_store_swap(r, snap2), LUT_OK);
    assert_int_equal(lut_device_get(r, "d", &d), LUT_OK);
    assert_int_equal(d.lut_version, 2);
    assert_int_equal(d.entries, 12);
    assert_int_equal(lut_store_doc_get(r, "k", "id", &doc, &len), LUT_OK);
    assert_int_equal(len, 3);
    free(doc);
    assert_int_equal(lut_table_device(t1)->lut_version, 1);
    lut_table_release(t1);
    assert_int_equal(lut_store_table(r, "d", &t1), LUT_OK);
    assert_int_equal(lut_table_device(t1)->lut_version, 2);
    lut_table_release(t1);

    /* A snapshot that does not open leaves the served one in place. */
    assert_int_not_equal(lut_store_swap(r, "/nonexistent/fmas-snapshot"), LUT_OK);
    assert_int_equal(lut_device_get(r, "d", &d), LUT_OK);
    assert_int_equal(d.lut_version, 2);
    lut_store_close(r);
    free(rows);
    free(rows2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_device_crud, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_delete_removes_rows_only_of_it,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_basic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash_independent_of_order_and_batches,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_lut_hash_pinned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_fault_mid_batch_is_atomic, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_batch_invalid_row_is_atomic, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_map_full_grows, setup_small_map, teardown),
        cmocka_unit_test_setup_teardown(test_persistence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_documents, setup_small_map, teardown),
        cmocka_unit_test_setup_teardown(test_list_pagination, setup, teardown),
        cmocka_unit_test_setup_teardown(test_merge_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_table_reuse_and_rebuild, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_copy_and_swap, setup, teardown),
        cmocka_unit_test(test_table_sum),
        cmocka_unit_test(test_table_packed_agrees),
        cmocka_unit_test(test_table_sum_speed),
        cmocka_unit_test_setup_teardown(test_concurrent_readers_and_writer,
                                        setup_small_map, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * store.c — devices and their tables in one LMDB environment.
 *
 * Layout (all integers little-endian, every record led by a format byte):
 *   "devices": device name -> device record (user fields, entries,
 *              lut_version, lut_hash)
 *   "rows":    device name '\0' canonical key text -> row record
 *              {mean, std, count, has_macs, macs}
 *   "docs":    kind '\0' id -> opaque bytes (lut_store_doc_*)
 * Keys sort bytewise, so a device's rows are contiguous and in canonical
 * key order, which is the order of listings and of the content hash.
 *
 * The map grows on MDB_MAP_FULL by doubling. mdb_env_set_mapsize needs that
 * no transaction of this process be active, so every transaction holds
 * txn_lock shared for its whole life and the resize takes it exclusive.
 * LMDB itself serializes writers; readers never wait for them.
 */
#define _GNU_SOURCE /* pthread_rwlockattr_setkind_np */

#include "lut_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <lmdb.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#define DEFAULT_MAP_SIZE ((size_t)256 << 20)
#define MAX_READERS 512

#define ROW_FORMAT 1
#define ROW_SIZE (1 + 8 + 8 + 8 + 1 + 8)

#define DEVICE_FORMAT 1
#define DEVICE_RECORD_MAX                                                    \
    (1 + 1 + sizeof(((lut_device *)0)->unit) + 8 + 2 + LUT_KIND_MAX + 2 +    \
     LUT_DESC_MAX + 1 + 8 + 8 + (LUT_HASH_TEXT - 1))

/* name '\0' key text */
#define ROW_KEY_MAX (LUT_NAME_MAX + LUT_KEY_TEXT_MAX)

typedef struct cache_slot {
    char name[LUT_NAME_MAX];
    lut_table *table; /* the cache's own reference, or NULL */
} cache_slot;

struct lut_store {
    MDB_env *env;
    MDB_dbi dbi_devices;
    MDB_dbi dbi_rows;
    MDB_dbi dbi_docs;
    pthread_rwlock_t txn_lock; /* shared: any txn; exclusive: map resize */
    atomic_size_t map_size;
    int no_sync;
    int read_only; /* a snapshot opened read-only: no writes, env swappable */
    int (*fault_hook)(void *ctx, size_t row);
    void *fault_ctx;
    pthread_mutex_t cache_lock;
    cache_slot *cache;
    size_t cache_n, cache_cap;
};

/* ------------------------------------------------------------ encoding */

static void put_le64(unsigned char *p, uint64_t v)
{
    int i;

    for (i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le64(const unsigned char *p)
{
    uint64_t v = 0;
    int i;

    for (i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static uint64_t double_bits(double d)
{
    uint64_t u;

    memcpy(&u, &d, sizeof u);
    return u;
}

static double bits_double(uint64_t u)
{
    double d;

    memcpy(&d, &u, sizeof d);
    return d;
}

static void encode_row(const lut_entry *e, unsigned char buf[ROW_SIZE])
{
    buf[0] = ROW_FORMAT;
    put_le64(buf + 1, double_bits(e->latency.mean));
    put_le64(buf + 9, double_bits(e->latency.std));
    put_le64(buf + 17, e->latency.count);
    buf[25] = e->has_macs ? 1 : 0;
    put_le64(buf + 26, e->has_macs ? e->macs : 0);
}

/* Fills the statistics and macs of e (not its key). */
static int decode_row(const MDB_val *v, lut_entry *e)
{
    const unsigned char *p = v->mv_data;

    if (v->mv_size != ROW_SIZE || p[0] != ROW_FORMAT || p[25] > 1)
        return LUT_ECORRUPT;
    e->latency.mean = bits_double(get_le64(p + 1));
    e->latency.std = bits_double(get_le64(p + 9));
    e->latency.count = get_le64(p + 17);
    e->has_macs = p[25];
    e->macs = get_le64(p + 26);
    if (lut_entry_check(e, NULL) != 0)
        return LUT_ECORRUPT;
    return LUT_OK;
}

static size_t put_str(unsigned char *p, const char *s, size_t max, int wide)
{
    size_t n = strnlen(s, max - 1);

    if (wide) {
        p[0] = (unsigned char)(n & 0xff);
        p[1] = (unsigned char)(n >> 8);
        memcpy(p + 2, s, n);
        return n + 2;
    }
    p[0] = (unsigned char)n;
    memcpy(p + 1, s, n);
    return n + 1;
}

static size_t encode_device(const lut_device *d, unsigned char *buf)
{
    size_t o = 0;

    buf[o++] = DEVICE_FORMAT;
    o += put_str(buf + o, d->unit, sizeof d->unit, 0);
    put_le64(buf + o, double_bits(d->clock_mhz));
    o += 8;
    o += put_str(buf + o, d->kind, sizeof d->kind, 1);
    o += put_str(buf + o, d->description, sizeof d->description, 1);
    buf[o++] = d->measured ? 1 : 0;
    put_le64(buf + o, d->entries);
    o += 8;
    put_le64(buf + o, d->lut_version);
    o += 8;
    memcpy(buf + o, d->lut_hash, LUT_HASH_TEXT - 1);
    o += LUT_HASH_TEXT - 1;
    return o;
}

/* Reads a length-prefixed string into dst (size max, NUL-terminated). */
static int get_str(const unsigned char *p, size_t size, size_t *o, char *dst,
                   size_t max, int wide)
{
    size_t n;

    if (*o + (wide ? 2u : 1u) > size)
        return LUT_ECORRUPT;
    n = wide ? (size_t)p[*o] | (size_t)p[*o + 1] << 8 : (size_t)p[*o];
    *o += wide ? 2 : 1;
    if (n >= max || *o + n > size || memchr(p + *o, '\0', n))
        return LUT_ECORRUPT;
    memcpy(dst, p + *o, n);
    dst[n] = '\0';
    *o += n;
    return LUT_OK;
}

static int is_hash_text(const char *s)
{
    int i;

    for (i = 0; i < LUT_HASH_TEXT - 1; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

static int decode_device(const MDB_val *k, const MDB_val *v, lut_device *d)
{
    const unsigned char *p = v->mv_data;
    size_t size = v->mv_size, o = 1;

    memset(d, 0, sizeof *d);
    if (k->mv_size == 0 || k->mv_size >= sizeof d->name)
        return LUT_ECORRUPT;
    memcpy(d->name, k->mv_data, k->mv_size);
    if (!lut_device_name_valid(d->name) || size < 1 || p[0] != DEVICE_FORMAT)
        return LUT_ECORRUPT;
    if (get_str(p, size, &o, d->unit, sizeof d->unit, 0) != 0 || o + 8 > size)
        return LUT_ECORRUPT;
    d->clock_mhz = bits_double(get_le64(p + o));
    o += 8;
    if (get_str(p, size, &o, d->kind, sizeof d->kind, 1) != 0 ||
        get_str(p, size, &o, d->description, sizeof d->description, 1) != 0)
        return LUT_ECORRUPT;
    if (o + 1 + 8 + 8 + (LUT_HASH_TEXT - 1) != size || p[o] > 1)
        return LUT_ECORRUPT;
    d->measured = p[o++];
    d->entries = get_le64(p + o);
    o += 8;
    d->lut_version = get_le64(p + o);
    o += 8;
    memcpy(d->lut_hash, p + o, LUT_HASH_TEXT - 1);
    d->lut_hash[LUT_HASH_TEXT - 1] = '\0';
    if (!is_hash_text(d->lut_hash) || lut_device_check(d, NULL) != 0)
        return LUT_ECORRUPT;
    return LUT_OK;
}

/* The user fields and the maintained fields, compared one by one (the
 * struct has padding, so no memcmp). */
static int device_same(const lut_device *a, const lut_device *b)
{
    return strcmp(a->name, b->name) == 0 && strcmp(a->unit, b->unit) == 0 &&
           double_bits(a->clock_mhz) == double_bits(b->clock_mhz) &&
           strcmp(a->kind, b->kind) == 0 &&
           strcmp(a->description, b->description) == 0 &&
           a->measured == b->measured && a->entries == b->entries &&
           a->lut_version == b->lut_version &&
           strcmp(a->lut_hash, b->lut_hash) == 0;
}

/* "name\0" — the prefix of all rows keys of a device. */
static size_t row_prefix(const char *name, char *buf)
{
    size_t n = strlen(name);

    memcpy(buf, name, n);
    buf[n] = '\0';
    return n + 1;
}

static int row_key(const char *name, const lut_key *key, char *buf, size_t *len)
{
    size_t p = row_prefix(name, buf);
    int n = lut_key_format(key, buf + p, ROW_KEY_MAX - p);

    if (n < 0)
        return n;
    *len = p + (size_t)n;
    return LUT_OK;
}

/* -------------------------------------------------------- content hash */

/* Two independent 64-bit hashes over the same bytes: FNV-1a, and a
 * multiply-xorshift with different constants, each finalized separately. */
typedef struct content_hash {
    uint64_t h1, h2;
} content_hash;

static void content_hash_init(content_hash *ch)
{
    ch->h1 = UINT64_C(0xcbf29ce484222325);
    ch->h2 = UINT64_C(0x6a09e667f3bcc909);
}

static void content_hash_bytes(content_hash *ch, const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h1 = ch->h1, h2 = ch->h2;
    size_t i;

    for (i = 0; i < len; i++) {
        h1 ^= p[i];
        h1 *= UINT64_C(0x100000001b3);
        h2 ^= p[i];
        h2 *= UINT64_C(0xff51afd7ed558ccd);
        h2 ^= h2 >> 29;
    }
    ch->h1 = h1;
    ch->h2 = h2;
}

/* %.17g of a finite double, with the decimal point as '.' whatever the
 * process locale, so that the hash never depends on setlocale(). */
static size_t format_double(char *buf, size_t size, double d)
{
    int n = snprintf(buf, size, "%.17g", d);
    size_t i, len = n > 0 ? ((size_t)n < size ? (size_t)n : size - 1) : 0;

    for (i = 0; i < len; i++)
        if (!((buf[i] >= '0' && buf[i] <= '9') || buf[i] == '-' || buf[i] == '+' ||
              buf[i] == 'e' || buf[i] == 'n' || buf[i] == 'i' || buf[i] == 'a' ||
              buf[i] == 'f'))
            buf[i] = '.';
    return len;
}

/* One row: key text "|" mean "|" std "|" count "|" macs or "-", newline. */
static void content_hash_row(content_hash *ch, const char *text, size_t len,
                             const lut_entry *e)
{
    char buf[64];
    int n;

    content_hash_bytes(ch, text, len);
    content_hash_bytes(ch, "|", 1);
    content_hash_bytes(ch, buf, format_double(buf, sizeof buf, e->latency.mean));
    content_hash_bytes(ch, "|", 1);
    content_hash_bytes(ch, buf, format_double(buf, sizeof buf, e->latency.std));
    if (e->has_macs)
        n = snprintf(buf, sizeof buf, "|%" PRIu64 "|%" PRIu64 "\n",
                     e->latency.count, e->macs);
    else
        n = snprintf(buf, sizeof buf, "|%" PRIu64 "|-\n", e->latency.count);
    if (n > 0)
        content_hash_bytes(ch, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static uint64_t fmix64(uint64_t h)
{
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h *= UINT64_C(0xc4ceb9fe1a85ec53);
    h ^= h >> 33;
    return h;
}

static void content_hash_final(const content_hash *ch, char out[LUT_HASH_TEXT])
{
    snprintf(out, LUT_HASH_TEXT, "%016" PRIx64 "%016" PRIx64, fmix64(ch->h1),
             fmix64(ch->h2 ^ UINT64_C(0x9e3779b97f4a7c15)));
}

/* --------------------------------------------------------- transactions */

static void refresh_map_size(lut_store *s)
{
    MDB_envinfo info;

    if (mdb_env_info(s->env, &info) == 0)
        atomic_store(&s->map_size, info.me_mapsize);
}

/* Begin a transaction holding txn_lock shared; on MDB_MAP_RESIZED (another
 * process grew the map) adopt the new size and retry. */
static int txn_begin(lut_store *s, unsigned flags, MDB_txn **txn)
{
    for (;;) {
        int rc;

        pthread_rwlock_rdlock(&s->txn_lock);
        rc = mdb_txn_begin(s->env, NULL, flags, txn);
        if (rc == 0)
            return 0;
        pthread_rwlock_unlock(&s->txn_lock);
        if (rc != MDB_MAP_RESIZED)
            return rc;
        pthread_rwlock_wrlock(&s->txn_lock);
        rc = mdb_env_set_mapsize(s->env, 0);
        if (rc == 0)
            refresh_map_size(s);
        pthread_rwlock_unlock(&s->txn_lock);
        if (rc != 0)
            return rc;
    }
}

static void read_end(lut_store *s, MDB_txn *txn)
{
    mdb_txn_abort(txn);
    pthread_rwlock_unlock(&s->txn_lock);
}

/* Double the map unless someone already grew it past `seen`. */
static int grow_map(lut_store *s, size_t seen)
{
    int rc = 0;

    pthread_rwlock_wrlock(&s->txn_lock);
    refresh_map_size(s);
    if (atomic_load(&s->map_size) <= seen) {
        if (seen > SIZE_MAX / 2)
            rc = MDB_MAP_FULL;
        else
            rc = mdb_env_set_mapsize(s->env, seen * 2);
        if (rc == 0)
            refresh_map_size(s);
    }
    pthread_rwlock_unlock(&s->txn_lock);
    return rc;
}

typedef int (*write_body)(lut_store *s, MDB_txn *txn, void *ctx);

/* Run body in a write transaction and commit; on MDB_MAP_FULL abort, grow
 * the map and run the whole body again. body must leave no effect outside
 * the transaction until it returns 0. */
static int write_txn(lut_store *s, write_body body, void *ctx)
{
    if (s->read_only)
        return EACCES;
    for (;;) {
        MDB_txn *txn;
        size_t seen;
        int rc = txn_begin(s, 0, &txn);

        if (rc != 0)
            return rc;
        seen = atomic_load(&s->map_size);
        rc = body(s, txn, ctx);
        if (rc == 0)
            rc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
        pthread_rwlock_unlock(&s->txn_lock);
        if (rc != MDB_MAP_FULL)
            return rc;
        rc = grow_map(s, seen);
        if (rc != 0)
            return rc;
    }
}

/* --------------------------------------------------------------- open */

/* mkdir -p with mode 0700 for what it creates. */
static int make_dirs(const char *dir)
{
    size_t len = strlen(dir), i;
    char *path;
    struct stat st;
    int rc = 0;

    path = malloc(len + 1);
    if (!path)
        return LUT_ENOMEM;
    memcpy(path, dir, len + 1);
    for (i = 1; i <= len && rc == 0; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        path[i] = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            rc = errno;
        if (i < len)
            path[i] = '/';
    }
    if (rc == 0 && (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)))
        rc = ENOTDIR;
    free(path);
    return rc;
}

static int open_dbis(lut_store *s, MDB_txn *txn, void *ctx)
{
    int rc;

    (void)ctx;
    rc = mdb_dbi_open(txn, "devices", MDB_CREATE, &s->dbi_devices);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "rows", MDB_CREATE, &s->dbi_rows);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "docs", MDB_CREATE, &s->dbi_docs);
    return rc;
}

/* A snapshot directory opened read-only, without a lock file (nothing
 * ever writes a snapshot, so readers need no reader table), and its three
 * databases, which must exist. */
static int open_snapshot(lut_store *s, const char *dir, MDB_env **env, MDB_dbi *devices, MDB_dbi *rows,
                         MDB_dbi *docs)
{
    MDB_txn *txn;
    int rc = mdb_env_create(env);

    (void)s;
    if (rc != 0)
        return rc;
    rc = mdb_env_set_maxdbs(*env, 4);
    if (rc == 0)
        rc = mdb_env_open(*env, dir, MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS, 0600);
    if (rc == 0)
        rc = mdb_txn_begin(*env, NULL, MDB_RDONLY, &txn);
    if (rc == 0) {
        rc = mdb_dbi_open(txn, "devices", 0, devices);
        if (rc == 0)
            rc = mdb_dbi_open(txn, "rows", 0, rows);
        if (rc == 0)
            rc = mdb_dbi_open(txn, "docs", 0, docs);
        if (rc == 0)
            rc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
    }
    if (rc != 0) {
        mdb_env_close(*env);
        *env = NULL;
    }
    return rc;
}

int lut_store_open(lut_store **out, const char *dir, const lut_store_options *opt)
{
    lut_store *s;
    pthread_rwlockattr_t attr;
    size_t map_size = opt && opt->map_size ? opt->map_size : DEFAULT_MAP_SIZE;
    unsigned flags = MDB_NOTLS;
    int rc, dead;

    if (!out)
        return LUT_EINVAL;
    *out = NULL;
    if (!dir || !*dir)
        return LUT_EINVAL;
    rc = opt && opt->read_only ? 0 : make_dirs(dir);
    if (rc != 0)
        return rc;

    s = calloc(1, sizeof *s);
    if (!s)
        return LUT_ENOMEM;
    /* Prefer the resizer over new readers, so that a steady stream of
     * readers cannot starve a write waiting to grow the map. */
    pthread_rwlockattr_init(&attr);
#ifdef __GLIBC__
    pthread_rwlockattr_setkind_np(&attr,
                                  PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
    rc = pthread_rwlock_init(&s->txn_lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    if (rc != 0) {
        free(s);
        return rc;
    }
    rc = pthread_mutex_init(&s->cache_lock, NULL);
    if (rc != 0) {
        pthread_rwlock_destroy(&s->txn_lock);
        free(s);
        return rc;
    }
    atomic_init(&s->map_size, map_size);
    if (opt) {
        s->no_sync = opt->no_sync != 0;
        s->read_only = opt->read_only != 0;
        s->fault_hook = opt->fault_hook;
        s->fault_ctx = opt->fault_ctx;
    }
    if (s->no_sync)
        flags |= MDB_NOSYNC;

    if (s->read_only) {
        rc = open_snapshot(s, dir, &s->env, &s->dbi_devices, &s->dbi_rows, &s->dbi_docs);
        if (rc != 0)
            goto fail;
        refresh_map_size(s);
        *out = s;
        return LUT_OK;
    }
    rc = mdb_env_create(&s->env);
    if (rc != 0)
        goto fail;
    rc = mdb_env_set_maxdbs(s->env, 4);
    /* Every thread inside a call holds a reader slot (MDB_NOTLS): allow
     * more than the default 126 server threads at once. */
    if (rc == 0)
        rc = mdb_env_set_maxreaders(s->env, MAX_READERS);
    if (rc == 0)
        rc = mdb_env_set_mapsize(s->env, map_size);
    if (rc == 0)
        rc = mdb_env_open(s->env, dir, flags, 0600);
    if (rc != 0)
        goto fail;
    /* Free the reader slots of processes that died holding them. */
    mdb_reader_check(s->env, &dead);
    refresh_map_size(s);
    rc = write_txn(s, open_dbis, NULL);
    if (rc != 0)
        goto fail;
    *out = s;
    return LUT_OK;

fail:
    if (s->env)
        mdb_env_close(s->env);
    pthread_mutex_destroy(&s->cache_lock);
    pthread_rwlock_destroy(&s->txn_lock);
    free(s);
    return rc;
}

void lut_store_close(lut_store *store)
{
    size_t i;

    if (!store)
        return;
    for (i = 0; i < store->cache_n; i++)
        lut_table_release(store->cache[i].table);
    free(store->cache);
    mdb_env_close(store->env);
    pthread_mutex_destroy(&store->cache_lock);
    pthread_rwlock_destroy(&store->txn_lock);
    free(store);
}

size_t lut_store_map_size(const lut_store *store)
{
    return atomic_load(&store->map_size);
}

/* ------------------------------------------------------------ snapshots */

int lut_store_copy(lut_store *store, const char *dir)
{
    int rc;

    if (!store || !dir || !*dir)
        return LUT_EINVAL;
    /* mdb_env_copy2 runs its own read transaction: hold txn_lock shared
     * like every transaction, so the map is not resized under it. */
    pthread_rwlock_rdlock(&store->txn_lock);
    rc = mdb_env_copy2(store->env, dir, MDB_CP_COMPACT);
    pthread_rwlock_unlock(&store->txn_lock);
    return rc;
}

uint64_t lut_store_txnid(lut_store *store)
{
    MDB_envinfo info;

    if (!store || mdb_env_info(store->env, &info) != 0)
        return 0;
    return (uint64_t)info.me_last_txnid;
}

int lut_store_swap(lut_store *store, const char *dir)
{
    MDB_env *env, *old;
    MDB_dbi devices, rows, docs;
    size_t i;
    int rc;

    if (!store || !dir || !*dir || !store->read_only)
        return LUT_EINVAL;
    rc = open_snapshot(store, dir, &env, &devices, &rows, &docs);
    if (rc != 0)
        return rc;
    /* Exclusive: every transaction on the old environment has ended, and
     * the next one begins on the new. Tables already handed out are
     * copies and stay valid. */
    pthread_rwlock_wrlock(&store->txn_lock);
    old = store->env;
    store->env = env;
    store->dbi_devices = devices;
    store->dbi_rows = rows;
    store->dbi_docs = docs;
    refresh_map_size(store);
    pthread_mutex_lock(&store->cache_lock);
    for (i = 0; i < store->cache_n; i++)
        lut_table_release(store->cache[i].table);
    store->cache_n = 0;
    pthread_mutex_unlock(&store->cache_lock);
    pthread_rwlock_unlock(&store->txn_lock);
    mdb_env_close(old);
    return LUT_OK;
}

/* ------------------------------------------------------------- devices */

static int get_device(lut_store *s, MDB_txn *txn, const char *name,
                      lut_device *out)
{
    MDB_val k, v;
    int rc;

    if (!lut_device_name_valid(name))
        return LUT_ENOTFOUND;
    k.mv_data = (void *)(uintptr_t)name;
    k.mv_size = strlen(name);
    rc = mdb_get(txn, s->dbi_devices, &k, &v);
    if (rc == MDB_NOTFOUND)
        return LUT_ENOTFOUND;
    if (rc != 0)
        return rc;
    return decode_device(&k, &v, out);
}

static int write_device(lut_store *s, MDB_txn *txn, const lut_device *d)
{
    unsigned char buf[DEVICE_RECORD_MAX];
    MDB_val k, v;

    k.mv_data = (void *)(uintptr_t)d->name;
    k.mv_size = strlen(d->name);
    v.mv_data = buf;
    v.mv_size = encode_device(d, buf);
    return mdb_put(txn, s->dbi_devices, &k, &v, 0);
}

/* Position c on the first rows key >= start; *found 0 when past the end. */
static int seek(MDB_cursor *c, const char *start, size_t len, MDB_val *k,
                MDB_val *v)
{
    k->mv_data = (void *)(uintptr_t)start;
    k->mv_size = len;
    return mdb_cursor_get(c, k, v, MDB_SET_RANGE);
}

static int has_prefix(const MDB_val *k, const char *prefix, size_t len)
{
    return k->mv_size >= len && memcmp(k->mv_data, prefix, len) == 0;
}

static void empty_hash(char out[LUT_HASH_TEXT])
{
    content_hash ch;

    content_hash_init(&ch);
    content_hash_final(&ch, out);
}

typedef struct device_put_ctx {
    const lut_device *in;
    int created;
} device_put_ctx;

static int device_put_body(lut_store *s, MDB_txn *txn, void *vctx)
{
    device_put_ctx *ctx = vctx;
    lut_device old, d;
    int rc = get_device(s, txn, ctx->in->name, &old);

    if (rc != 0 && rc != LUT_ENOTFOUND)
        return rc;
    memset(&d, 0, sizeof d);
    snprintf(d.name, sizeof d.name, "%s", ctx->in->name);
    snprintf(d.unit, sizeof d.unit, "%s", ctx->in->unit);
    d.clock_mhz = ctx->in->clock_mhz;
    snprintf(d.kind, sizeof d.kind, "%s", ctx->in->kind);
    snprintf(d.description, sizeof d.description, "%s", ctx->in->description);
    d.measured = ctx->in->measured ? 1 : 0;
    ctx->created = rc == LUT_ENOTFOUND;
    if (ctx->created) {
        d.entries = 0;
        d.lut_version = 0;
        empty_hash(d.lut_hash);
    } else {
        d.entries = old.entries;
        d.lut_version = old.lut_version;
        memcpy(d.lut_hash, old.lut_hash, sizeof d.lut_hash);
    }
    return write_device(s, txn, &d);
}

int lut_device_put(lut_store *store, const lut_device *dev, int *created)
{
    device_put_ctx ctx = {dev, 0};
    int rc;

    if (!store || !dev)
        return LUT_EINVAL;
    rc = lut_device_check(dev, NULL);
    if (rc != 0)
        return rc;
    rc = write_txn(store, device_put_body, &ctx);
    if (rc == 0 && created)
        *created = ctx.created;
    return rc;
}

int lut_device_get(lut_store *store, const char *name, lut_device *out)
{
    MDB_txn *txn;
    lut_device d;
    int rc;

    if (!store || !out)
        return LUT_EINVAL;
    if (!lut_device_name_valid(name))
        return LUT_ENOTFOUND;
    rc = txn_begin(store, MDB_RDONLY, &txn);
    if (rc != 0)
        return rc;
    rc = get_device(store, txn, name, &d);
    read_end(store, txn);
    if (rc == 0)
        *out = d;
    return rc;
}

int lut_device_list(lut_store *store, lut_device **out, size_t *n)
{
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    lut_device *arr = NULL;
    size_t len = 0, cap = 0;
    int rc;

    if (!store || !out || !n)
        return LUT_EINVAL;
    *out = NULL;
    *n = 0;
    rc = txn_begin(store, MDB_RDONLY, &txn);
    if (rc != 0)
        return rc;
    rc = mdb_cursor_open(txn, store->dbi_devices, &c);
    if (rc != 0) {
        read_end(store, txn);
        return rc;
    }
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            lut_device *na = realloc(arr, ncap * sizeof *na);
            if (!na) {
                rc = LUT_ENOMEM;
                break;
            }
            arr = na;
            cap = ncap;
        }
        rc = decode_device(&k, &v, &arr[len]);
        if (rc != 0)
            break;
        len++;
    }
    mdb_cursor_close(c);
    read_end(store, txn);
    if (rc != MDB_NOTFOUND) {
        free(arr);
        return rc;
    }
    if (len == 0) {
        free(arr);
        arr = NULL;
    }
    *out = arr;
    *n = len;
    return LUT_OK;
}

static void cache_evict(lut_store *s, const char *name)
{
    lut_table *old = NULL;
    size_t i;

    pthread_mutex_lock(&s->cache_lock);
    for (i = 0; i < s->cache_n; i++) {
        if (strcmp(s->cache[i].name, name) == 0) {
            old = s->cache[i].table;
            s->cache[i] = s->cache[--s->cache_n];
            break;
        }
    }
    pthread_mutex_unlock(&s->cache_lock);
    lut_table_release(old);
}

static int device_delete_body(lut_store *s, MDB_txn *txn, void *vctx)
{
    const char *name = vctx;
    char prefix[LUT_NAME_MAX + 1];
    size_t plen = row_prefix(name, prefix);
    MDB_cursor *c;
    MDB_val k, v;
    int rc;

    k.mv_data = (void *)(uintptr_t)name;
    k.mv_size = strlen(name);
    rc = mdb_del(txn, s->dbi_devices, &k, NULL);
    if (rc == MDB_NOTFOUND)
        return LUT_ENOTFOUND;
    if (rc != 0)
        return rc;
    rc = mdb_cursor_open(txn, s->dbi_rows, &c);
    if (rc != 0)
        return rc;
    /* Seek again after each delete rather than trusting where a deleting
     * cursor lands at a page boundary. */
    for (rc = seek(c, prefix, plen, &k, &v); rc == 0 && has_prefix(&k, prefix, plen);
         rc = seek(c, prefix, plen, &k, &v)) {
        rc = mdb_cursor_del(c, 0);
        if (rc != 0)
            break;
    }
    mdb_cursor_close(c);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : rc;
}

int lut_device_delete(lut_store *store, const char *name)
{
    int rc;

    if (!store)
        return LUT_EINVAL;
    if (!lut_device_name_valid(name))
        return LUT_ENOTFOUND;
    rc = write_txn(store, device_delete_body, (void *)(uintptr_t)name);
    if (rc == 0)
        cache_evict(store, name);
    return rc;
}

/* --------------------------------------------------------------- batch */

typedef struct batch_ctx {
    const char *device;
    const lut_entry *rows;
    size_t n;
    lut_mode mode;
    lut_device after;
    lut_error *err;
} batch_ctx;

/* Count the device's rows and hash them in key order. */
static int rescan_device(lut_store *s, MDB_txn *txn, lut_device *d)
{
    char prefix[LUT_NAME_MAX + 1];
    size_t plen = row_prefix(d->name, prefix);
    content_hash ch;
    MDB_cursor *c;
    MDB_val k, v;
    uint64_t count = 0;
    int rc;

    content_hash_init(&ch);
    rc = mdb_cursor_open(txn, s->dbi_rows, &c);
    if (rc != 0)
        return rc;
    for (rc = seek(c, prefix, plen, &k, &v); rc == 0 && has_prefix(&k, prefix, plen);
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        lut_entry e;
        rc = decode_row(&v, &e);
        if (rc != 0)
            break;
        content_hash_row(&ch, (const char *)k.mv_data + plen, k.mv_size - plen, &e);
        count++;
    }
    mdb_cursor_close(c);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    d->entries = count;
    content_hash_final(&ch, d->lut_hash);
    return LUT_OK;
}

static int batch_body(lut_store *s, MDB_txn *txn, void *vctx)
{
    batch_ctx *ctx = vctx;
    lut_device d;
    char kbuf[ROW_KEY_MAX];
    unsigned char vbuf[ROW_SIZE];
    size_t i;
    int rc = get_device(s, txn, ctx->device, &d);

    if (rc != 0)
        return rc;
    for (i = 0; i < ctx->n; i++) {
        lut_entry e = ctx->rows[i];
        MDB_val k, v;
        size_t klen;

        if (s->fault_hook) {
            rc = s->fault_hook(s->fault_ctx, i);
            if (rc != 0) {
                Lut_error_set(ctx->err, "", "fault injected at this row");
                if (ctx->err)
                    ctx->err->row = (long)i;
                return rc;
            }
        }
        rc = row_key(ctx->device, &e.key, kbuf, &klen);
        if (rc != 0)
            return rc;
        k.mv_data = kbuf;
        k.mv_size = klen;
        /* -0.0 prints as "-0": store +0 so that the hash sees one zero. */
        e.latency.mean += 0.0;
        e.latency.std += 0.0;
        if (ctx->mode == LUT_MODE_MERGE) {
            rc = mdb_get(txn, s->dbi_rows, &k, &v);
            if (rc == 0) {
                lut_entry old;
                rc = decode_row(&v, &old);
                if (rc != 0)
                    return rc;
                lut_stats_merge(&old.latency, &e.latency);
                e.latency = old.latency;
                if (!e.has_macs) {
                    e.has_macs = old.has_macs;
                    e.macs = old.macs;
                }
            } else if (rc != MDB_NOTFOUND) {
                return rc;
            }
        }
        encode_row(&e, vbuf);
        v.mv_data = vbuf;
        v.mv_size = ROW_SIZE;
        rc = mdb_put(txn, s->dbi_rows, &k, &v, 0);
        if (rc != 0)
            return rc;
    }
    rc = rescan_device(s, txn, &d);
    if (rc != 0)
        return rc;
    d.lut_version++;
    rc = write_device(s, txn, &d);
    if (rc == 0)
        ctx->after = d;
    return rc;
}

int lut_store_put_batch(lut_store *store, const char *device,
                        const lut_entry *rows, size_t n, lut_mode mode,
                        lut_device *after, lut_error *err)
{
    batch_ctx ctx;
    size_t i;
    int rc;

    if (err) {
        err->row = -1;
        err->field[0] = '\0';
        err->reason[0] = '\0';
    }
    if (!store || (n > 0 && !rows))
        return LUT_EINVAL;
    if (mode != LUT_MODE_REPLACE && mode != LUT_MODE_MERGE) {
        Lut_error_set(err, "mode", "must be replace or merge");
        return LUT_EINVAL;
    }
    /* An unknown device is answered before the rows are looked at (and
     * checked again inside the write transaction). */
    rc = lut_device_get(store, device, &ctx.after);
    if (rc != 0) {
        if (rc == LUT_ENOTFOUND)
            Lut_error_set(err, "device", "no such device");
        return rc;
    }
    if (n == 0) {
        Lut_error_set(err, "", "the batch is empty");
        return LUT_EEMPTY;
    }
    for (i = 0; i < n; i++) {
        rc = Lut_key_check_canonical(&rows[i].key, err);
        if (rc == 0)
            rc = lut_entry_check(&rows[i], err);
        if (rc != 0) {
            if (err)
                err->row = (long)i;
            return rc;
        }
    }
    memset(&ctx, 0, sizeof ctx);
    ctx.device = device;
    ctx.rows = rows;
    ctx.n = n;
    ctx.mode = mode;
    ctx.err = err;
    rc = write_txn(store, batch_body, &ctx);
    if (rc == 0 && after)
        *after = ctx.after;
    return rc;
}

/* ------------------------------------------------------------- listing */

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* The cursor is the lowercase hex of the last canonical key text listed. */
static int cursor_decode(const char *cursor, char *text, size_t *len)
{
    size_t n = strlen(cursor), i;
    lut_key key;

    if (n % 2 != 0 || n / 2 >= LUT_KEY_TEXT_MAX)
        return LUT_ECURSOR;
    for (i = 0; i < n / 2; i++) {
        int hi = hex_digit(cursor[2 * i]), lo = hex_digit(cursor[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return LUT_ECURSOR;
        text[i] = (char)(hi << 4 | lo);
    }
    *len = n / 2;
    if (lut_key_parse(text, *len, &key) != 0)
        return LUT_ECURSOR;
    return LUT_OK;
}

static int cursor_encode(const char *text, size_t len, char *out, size_t size)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;

    if (!out)
        return LUT_OK;
    if (size < 2 * len + 1)
        return LUT_EINVAL;
    for (i = 0; i < len; i++) {
        out[2 * i] = digits[(unsigned char)text[i] >> 4];
        out[2 * i + 1] = digits[(unsigned char)text[i] & 15];
    }
    out[2 * len] = '\0';
    return LUT_OK;
}

/* Bytewise comparison, a shorter prefix sorting first (LMDB's order). */
static int bytes_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);

    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen;
}

/* Read one rows record (key after the device prefix, value) into e. */
static int read_row(const MDB_val *k, const MDB_val *v, size_t plen, lut_entry *e)
{
    if (lut_key_parse((const char *)k->mv_data + plen, k->mv_size - plen,
                      &e->key) != 0)
        return LUT_ECORRUPT;
    return decode_row(v, e);
}

int lut_store_list(lut_store *store, const char *device, const char *op,
                   const char *cursor, size_t limit,
                   lut_entry **rows, size_t *n,
                   char *next_cursor, size_t next_cursor_size,
                   lut_device *dev)
{
    char after[LUT_KEY_TEXT_MAX], start[ROW_KEY_MAX], prefix[LUT_NAME_MAX + 1];
    char op_prefix[LUT_OP_MAX + 1];
    size_t after_len = 0, op_len = 0, plen, slen, len = 0, cap = 0;
    const char *from;
    size_t from_len;
    lut_entry *arr = NULL;
    lut_device d;
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    int rc, more = 0;

    if (!store || !rows || !n)
        return LUT_EINVAL;
    *rows = NULL;
    *n = 0;
    if (next_cursor && next_cursor_size > 0)
        next_cursor[0] = '\0';
    if (limit == 0)
        return LUT_EINVAL;
    if (!lut_device_name_valid(device))
        return LUT_ENOTFOUND;
    if (op && *op) {
        op_len = strnlen(op, LUT_OP_MAX);
        if (op_len >= LUT_OP_MAX)
            return LUT_EINVAL;
        for (slen = 0; slen < op_len; slen++) {
            char ch = op[slen];
            if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'))
                return LUT_EINVAL;
        }
        memcpy(op_prefix, op, op_len);
        op_prefix[op_len++] = ';';
    }
    if (cursor && *cursor) {
        rc = cursor_decode(cursor, after, &after_len);
        if (rc != 0)
            return rc;
    }

    /* Start at the later of "just after the cursor" and "the op's rows". */
    plen = row_prefix(device, prefix);
    memcpy(start, prefix, plen);
    from = after;
    from_len = after_len;
    if (op_len > 0 && bytes_cmp(op_prefix, op_len, after, after_len) > 0) {
        from = op_prefix;
        from_len = op_len;
    }
    memcpy(start + plen, from, from_len);
    slen = plen + from_len;

    rc = txn_begin(store, MDB_RDONLY, &txn);
    if (rc != 0)
        return rc;
    rc = get_device(store, txn, device, &d);
    if (rc != 0) {
        read_end(store, txn);
        return rc;
    }
    rc = mdb_cursor_open(txn, store->dbi_rows, &c);
    if (rc != 0) {
        read_end(store, txn);
        return rc;
    }
    for (rc = seek(c, start, slen, &k, &v); rc == 0 && has_prefix(&k, prefix, plen);
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        const char *text = (const char *)k.mv_data + plen;
        size_t tlen = k.mv_size - plen;

        if (after_len > 0 && bytes_cmp(text, tlen, after, after_len) == 0)
            continue;
        if (op_len > 0 && (tlen < op_len || memcmp(text, op_prefix, op_len) != 0))
            break;
        if (len == limit) {
            more = 1;
            break;
        }
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : (limit < 64 ? limit : 64);
            lut_entry *na = realloc(arr, ncap * sizeof *na);
            if (!na) {
                rc = LUT_ENOMEM;
                break;
            }
            arr = na;
            cap = ncap;
        }
        rc = read_row(&k, &v, plen, &arr[len]);
        if (rc != 0)
            break;
        len++;
    }
    mdb_cursor_close(c);
    read_end(store, txn);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        free(arr);
        return rc;
    }
    if (more) {
        char text[LUT_KEY_TEXT_MAX];
        int tl = lut_key_format(&arr[len - 1].key, text, sizeof text);
        rc = tl < 0 ? tl : cursor_encode(text, (size_t)tl, next_cursor, next_cursor_size);
        if (rc != 0) {
            free(arr);
            return rc;
        }
    }
    *rows = arr;
    *n = len;
    if (dev)
        *dev = d;
    return LUT_OK;
}

/* -------------------------------------------------------------- tables */

/* Read all rows of device d in txn into a new table. */
static int build_from_txn(lut_store *s, MDB_txn *txn, const lut_device *d,
                          lut_table **out)
{
    char prefix[LUT_NAME_MAX + 1];
    size_t plen = row_prefix(d->name, prefix), len = 0;
    size_t cap = d->entries > 0 && d->entries < ((size_t)1 << 28) ? (size_t)d->entries : 16;
    lut_entry *arr = malloc(cap * sizeof *arr);
    MDB_cursor *c;
    MDB_val k, v;
    int rc;

    if (!arr)
        return LUT_ENOMEM;
    rc = mdb_cursor_open(txn, s->dbi_rows, &c);
    if (rc != 0) {
        free(arr);
        return rc;
    }
    for (rc = seek(c, prefix, plen, &k, &v); rc == 0 && has_prefix(&k, prefix, plen);
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (len == cap) {
            lut_entry *na = realloc(arr, 2 * cap * sizeof *na);
            if (!na) {
                rc = LUT_ENOMEM;
                break;
            }
            arr = na;
            cap *= 2;
        }
        rc = read_row(&k, &v, plen, &arr[len]);
        if (rc != 0)
            break;
        len++;
    }
    mdb_cursor_close(c);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        free(arr);
        return rc;
    }
    return Lut_table_build_owned(d, arr, len, out);
}

/* The cache slot of name, or NULL. Call with cache_lock held. */
static cache_slot *cache_find(lut_store *s, const char *name)
{
    size_t i;

    for (i = 0; i < s->cache_n; i++)
        if (strcmp(s->cache[i].name, name) == 0)
            return &s->cache[i];
    return NULL;
}

static cache_slot *cache_add(lut_store *s, const char *name)
{
    cache_slot *slot;

    if (s->cache_n == s->cache_cap) {
        size_t ncap = s->cache_cap ? s->cache_cap * 2 : 4;
        cache_slot *na = realloc(s->cache, ncap * sizeof *na);
        if (!na)
            return NULL;
        s->cache = na;
        s->cache_cap = ncap;
    }
    slot = &s->cache[s->cache_n++];
    snprintf(slot->name, sizeof slot->name, "%s", name);
    slot->table = NULL;
    return slot;
}

int lut_store_table(lut_store *store, const char *device, lut_table **out)
{
    MDB_txn *txn;
    lut_device d;
    lut_table *t = NULL, *old = NULL;
    cache_slot *slot;
    int rc;

    if (!store || !out)
        return LUT_EINVAL;
    *out = NULL;
    if (!lut_device_name_valid(device))
        return LUT_ENOTFOUND;
    rc = txn_begin(store, MDB_RDONLY, &txn);
    if (rc != 0)
        return rc;
    rc = get_device(store, txn, device, &d);
    if (rc != 0) {
        read_end(store, txn);
        return rc;
    }
    pthread_mutex_lock(&store->cache_lock);
    slot = cache_find(store, device);
    if (slot && slot->table && device_same(lut_table_device(slot->table), &d))
        t = Lut_table_ref(slot->table);
    pthread_mutex_unlock(&store->cache_lock);
    if (t) {
        read_end(store, txn);
        *out = t;
        return LUT_OK;
    }
    /* Build from the same snapshot the device record came from, so the
     * table's rows are exactly those of its lut_version. */
    rc = build_from_txn(store, txn, &d, &t);
    read_end(store, txn);
    if (rc != 0)
        return rc;

    pthread_mutex_lock(&store->cache_lock);
    slot = cache_find(store, device);
    if (slot && slot->table && device_same(lut_table_device(slot->table), &d)) {
        /* Someone built the same version meanwhile: share theirs. */
        old = t;
        t = Lut_table_ref(slot->table);
    } else {
        if (!slot)
            slot = cache_add(store, device);
        if (slot) {
            old = slot->table;
            slot->table = Lut_table_ref(t);
        }
    }
    pthread_mutex_unlock(&store->cache_lock);
    lut_table_release(old);
    *out = t;
    return LUT_OK;
}

/* ----------------------------------------------------------- documents */

#define DOC_NAME_MAX 128 /* kind + id stay far below LMDB's 511-byte keys */

/* "kind\0id" into buf (2 * DOC_NAME_MAX + 1 bytes). */
static int doc_key(const char *kind, const char *id, char *buf, size_t *len)
{
    size_t kl = kind ? strnlen(kind, DOC_NAME_MAX + 1) : 0;
    size_t il = id ? strnlen(id, DOC_NAME_MAX + 1) : 0;

    if (kl < 1 || kl > DOC_NAME_MAX || il < 1 || il > DOC_NAME_MAX)
        return LUT_EINVAL;
    memcpy(buf, kind, kl);
    buf[kl] = '\0';
    memcpy(buf + kl + 1, id, il);
    *len = kl + 1 + il;
    return LUT_OK;
}

typedef struct doc_ctx {
    MDB_val key, val;
    int del;   /* 1: delete key; 2: delete every key with prefix key */
} doc_ctx;

static int doc_write_body(lut_store *s, MDB_txn *txn, void *vctx)
{
    doc_ctx *ctx = vctx;
    int rc;

    if (ctx->del == 2) {
        MDB_cursor *c;
        MDB_val k, v;
        rc = mdb_cursor_open(txn, s->dbi_docs, &c);
        if (rc != 0)
            return rc;
        for (rc = seek(c, ctx->key.mv_data, ctx->key.mv_size, &k, &v);
             rc == 0 && has_prefix(&k, ctx->key.mv_data, ctx->key.mv_size);
             rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            rc = mdb_cursor_del(c, 0);
            if (rc != 0)
                break;
        }
        mdb_cursor_close(c);
        return rc == MDB_NOTFOUND ? 0 : rc;
    }
    if (ctx->del) {
        rc = mdb_del(txn, s->dbi_docs, &ctx->key, NULL);
        return rc == MDB_NOTFOUND ? LUT_ENOTFOUND : rc;
    }
    return mdb_put(txn, s->dbi_docs, &ctx->key, &ctx->val, 0);
}

int lut_store_doc_put(lut_store *store, const char *kind, const char *id,
                      const void *data, size_t len)
{
    char kbuf[2 * DOC_NAME_MAX + 1];
    doc_ctx ctx;
    int rc;

    if (!store || (len > 0 && !data))
        return LUT_EINVAL;
    memset(&ctx, 0, sizeof ctx);
    rc = doc_key(kind, id, kbuf, &ctx.key.mv_size);
    if (rc != 0)
        return rc;
    ctx.key.mv_data = kbuf;
    ctx.val.mv_data = (void *)(uintptr_t)data;
    ctx.val.mv_size = len;
    return write_txn(store, doc_write_body, &ctx);
}

typedef struct docs_ctx {
    const char *kind;
    const char *const *ids;
    const void *const *data;
    const size_t *lens;
    size_t n;
} docs_ctx;

static int docs_write_body(lut_store *s, MDB_txn *txn, void *vctx)
{
    docs_ctx *ctx = vctx;
    for (size_t i = 0; i < ctx->n; i++) {
        char kbuf[2 * DOC_NAME_MAX + 1];
        MDB_val k, v;
        int rc = doc_key(ctx->kind, ctx->ids[i], kbuf, &k.mv_size);
        if (rc != 0)
            return rc;
        k.mv_data = kbuf;
        v.mv_data = (void *)(uintptr_t)ctx->data[i];
        v.mv_size = ctx->lens[i];
        rc = mdb_put(txn, s->dbi_docs, &k, &v, 0);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int lut_store_doc_put_many(lut_store *store, const char *kind, const char *const *ids,
                           const void *const *data, const size_t *lens, size_t n)
{
    if (!store || (n && (!ids || !data || !lens)))
        return LUT_EINVAL;
    for (size_t i = 0; i < n; i++) {
        char kbuf[2 * DOC_NAME_MAX + 1];
        size_t kl;
        int rc = doc_key(kind, ids[i], kbuf, &kl);
        if (rc != 0)
            return rc;
        if (lens[i] > 0 && !data[i])
            return LUT_EINVAL;
    }
    docs_ctx ctx = {kind, ids, data, lens, n};
    return write_txn(store, docs_write_body, &ctx);
}

int lut_store_doc_get(lut_store *store, const char *kind, const char *id,
                      void **data, size_t *len)
{
    char kbuf[2 * DOC_NAME_MAX + 1];
    MDB_txn *txn;
    MDB_val k, v;
    void *copy = NULL;
    int rc;

    if (!store || !data || !len)
        return LUT_EINVAL;
    *data = NULL;
    *len = 0;
    rc = doc_key(kind, id, kbuf, &k.mv_size);
    if (rc != 0)
        return rc;
    k.mv_data = kbuf;
    rc = txn_begin(store, MDB_RDONLY, &txn);
    if (rc != 0)
        return rc;
    rc = mdb_get(txn, store->dbi_docs, &k, &v);
    if (rc == 0) {
        copy = malloc(v.mv_size > 0 ? v.mv_size : 1);
        if (copy)
            memcpy(copy, v.mv_data, v.mv_size);
        else
            rc = LUT_ENOMEM;
    } else if (rc == MDB_NOTFOUND) {
        rc = LUT_ENOTFOUND;
    }
    read_end(store, txn);
    if (rc == 0) {
        *data = copy;
        *len = v.mv_size;
    }
    return rc;
}

int lut_store_doc_delete(lut_store *store, const char *kind, const char *id)
{
    char kbuf[2 * DOC_NAME_MAX + 1];
    doc_ctx ctx;
    int rc;

    if (!store)
        return LUT_EINVAL;
    memset(&ctx, 0, sizeof ctx);
    rc = doc_key(kind, id, kbuf, &ctx.key.mv_size);
    if (rc != 0)
        return rc;
    ctx.key.mv_data = kbuf;
    ctx.del = 1;
    return write_txn(store, doc_write_body, &ctx);
}

int lut_store_doc_purge(lut_store *store, const char *kind)
{
    char prefix[DOC_NAME_MAX + 1];
    size_t plen = kind ? strnlen(kind, DOC_NAME_MAX + 1) : 0;
    doc_ctx ctx;

    if (!store || plen < 1 || plen > DOC_NAME_MAX)
        return LUT_EINVAL;
    memcpy(prefix, kind, plen);
    prefix[plen++] = '\0';
    memset(&ctx, 0, sizeof ctx);
    ctx.key.mv_data = prefix;
    ctx.key.mv_size = plen;
    ctx.del = 2;
    return write_txn(store, doc_write_body, &ctx);
}

static void free_ids(char **ids, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

int lut_store_doc_ids(lut_store *store, const char *kind, char ***ids, size_t *n)
{
    char prefix[DOC_NAME_MAX + 1];
    size_t plen, len = 0, cap = 0;
    char **arr = NULL;
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    int rc;

    if (!store || !ids || !n)
        return LUT_EINVAL;
    *ids = NULL;
    *n = 0;
    plen = kind ? strnlen(kind, DOC_NAME_MAX + 1) : 0;
    if (plen < 1 || plen > DOC_NAME_MAX)
        return LUT_EINVAL;
    memcpy(prefix, kind, plen);
    prefix[plen++] = '\0';
    rc = txn_begin(store, MDB_RDONLY, &txn);
    if (rc != 0)
        return rc;
    rc = mdb_cursor_open(txn, store->dbi_docs, &c);
    if (rc != 0) {
        read_end(store, txn);
        return rc;
    }
    for (rc = seek(c, prefix, plen, &k, &v); rc == 0 && has_prefix(&k, prefix, plen);
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        size_t il = k.mv_size - plen;
        char *id;
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            char **na = realloc(arr, ncap * sizeof *na);
            if (!na) {
                rc = LUT_ENOMEM;
                break;
            }
            arr = na;
            cap = ncap;
        }
        id = malloc(il + 1);
        if (!id) {
            rc = LUT_ENOMEM;
            break;
        }
        memcpy(id, (const char *)k.mv_data + plen, il);
        id[il] = '\0';
        arr[len++] = id;
    }
    mdb_cursor_close(c);
    read_end(store, txn);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        free_ids(arr, len);
        return rc;
    }
    if (len == 0) {
        free(arr);
        arr = NULL;
    }
    *ids = arr;
    *n = len;
    return LUT_OK;
}

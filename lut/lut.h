/*
 * lut.h — per-device, per-layer latency lookup tables (LUTs) in LMDB.
 *
 * The library knows layer keys, their cost arithmetic (output size, MACs,
 * parameters), latency statistics, and the LMDB store that holds devices and
 * their tables. It knows nothing of HTTP or of the JSON wire format.
 *
 * Conventions, written once and followed everywhere:
 * - Every function that can fail returns int: 0 (LUT_OK) on success, a
 *   negative LUT_E* code, or a positive errno / LMDB code. lut_strerror()
 *   turns any of them into text.
 * - Inputs are borrowed: the caller owns what it passes in and the library
 *   copies what it keeps. Outputs written through pointers to caller storage
 *   (lut_key, lut_device, lut_cost, ...) are plain values with no heap parts.
 * - Heap objects the library hands out (arrays of rows, lut_table references)
 *   belong to the caller, who releases them with the function named beside
 *   each call.
 * - No globals: all state lives in a lut_store, which is safe to share
 *   between threads (LMDB readers never block on the single writer).
 */
#ifndef FMAS_LUT_H
#define FMAS_LUT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    LUT_OK = 0,
    LUT_EINVAL = -30001,   /* a field is invalid; lut_error says which */
    LUT_ENOTFOUND = -30002,
    LUT_ENOMEM = -30003,
    LUT_EFAULT = -30004,   /* a fault injected by a test hook */
    LUT_ECORRUPT = -30005, /* a stored record does not decode */
    LUT_EEMPTY = -30006,   /* an empty batch */
    LUT_ECURSOR = -30007,  /* a listing cursor that does not decode */
    LUT_EEXIST = -30008    /* the thing to create exists already */
};

/* Text for any code this library returns (LUT_E*, errno or LMDB). */
const char *lut_strerror(int rc);

/* Where a validation failure lies: the attribute name (e.g. "groups") and a
 * sentence saying why. Filled by every call that takes an optional
 * lut_error *; row is the 0-based batch row, or -1 when not about a row. */
typedef struct lut_error {
    long row;
    char field[64];
    char reason[192];
} lut_error;

/* ------------------------------------------------------------------ keys */

#define LUT_OP_MAX 32      /* op names: [a-z0-9_]{1,31} */
#define LUT_DTYPE_MAX 16   /* dtype names: [a-z0-9_]{1,15} */
#define LUT_NAME_MAX 65    /* device names: [a-z0-9._-]{1,64} */
#define LUT_KEY_TEXT_MAX 256
#define LUT_CURSOR_MAX (2 * LUT_KEY_TEXT_MAX + 1) /* listing cursor + NUL */

/* Upper bounds on attributes, so that every cost fits in 63 bits. */
#define LUT_MAX_CHANNELS  (1 << 20)
#define LUT_MAX_SPATIAL   (1 << 16)
#define LUT_MAX_KERNEL    255
#define LUT_MAX_STRIDE    255
#define LUT_MAX_DILATION  255

/* "Not given" for an integer attribute before canonicalization. */
#define LUT_UNSET (-1)

/*
 * One operator instance. Sizes are int64_t so that a client's huge integer
 * reaches validation intact instead of wrapping on the way in.
 *
 * h and w are the INPUT spatial size. pad is the zero padding on each side;
 * unset means PyTorch's "same" convention, dilation*(k-1)/2. out_h and out_w
 * are only meaningful for "upsample" (its target size).
 *
 * Build one by lut_key_init() (everything unset), setting what the client
 * gave, then lut_key_canonicalize(). Two canonical keys are the same table
 * row exactly when lut_key_equal() says so; memcmp is also valid because
 * lut_key_init zeroes every byte, padding included.
 */
typedef struct lut_key {
    char op[LUT_OP_MAX];
    char dtype[LUT_DTYPE_MAX];
    int64_t cin, cout, k, stride, dilation, groups, h, w, pad, out_h, out_w;
    int64_t bias, bn; /* 0 or 1 once canonical; LUT_UNSET before */
} lut_key;

/* Zero every byte and set every attribute to LUT_UNSET, op and dtype to "". */
void lut_key_init(lut_key *key);

/*
 * Validate and fill defaults in place: k 1, stride 1, dilation 1, groups 1,
 * pad dilation*(k-1)/2, bias 0, bn 0, dtype "fp32"; cout defaults to cin for
 * ops that keep the channel count (pools, relu, add, upsample, concat takes
 * cout as its output width). Per op, what must be given:
 *   conv2d          cin, cout, h, w; groups must divide cin and cout
 *   linear          cin, cout (h, w default 1: a per-position linear)
 *   avgpool/maxpool cin, h, w
 *   global_avgpool  cin, h, w
 *   upsample        cin, h, w, out_h, out_w
 *   add, relu       cin, h, w
 *   concat          cout, h, w (cin defaults to cout)
 *   any other op    nothing; what is given is range-checked
 * Every size given must be >= 1 and within the LUT_MAX_* bounds; pad is
 * 0..LUT_MAX_SPATIAL; bias and bn 0 or 1; op and dtype [a-z0-9_]. For the
 * ops that keep the channel count a given cout must equal cin.
 * Attributes that an op does not use are ignored (not range-checked) and
 * reset to their defaults so that spelling them out never makes a different
 * key; out_h and out_w are 0 except for upsample, and the sizes never given
 * to an unknown op (cin, cout, h, w, out_h, out_w) are 0. For the known ops
 * the key must also pass lut_key_cost (a non-empty output, costs within
 * 2^62), so a canonical key always has a cost.
 * On failure returns LUT_EINVAL and fills err: field is the attribute name
 * ("op", "dtype", "cin", "cout", "k", "stride", "dilation", "groups", "h",
 * "w", "pad", "out_h", "out_w", "bias", "bn", or "macs"/"params"), reason a
 * sentence such as "must divide cin (30) and cout (64)"; err may be NULL.
 * Canonicalizing a canonical key of a known op leaves it unchanged.
 */
int lut_key_canonicalize(lut_key *key, lut_error *err);

int lut_key_equal(const lut_key *a, const lut_key *b);

/* 64-bit hash of a canonical key (stable across runs and machines). It
 * reads every byte of the key: only canonical keys hash consistently. */
uint64_t lut_key_hash(const lut_key *key);

/*
 * The canonical text of a canonical key, e.g.
 * "conv2d;cin=3;cout=32;k=3;s=2;d=1;g=1;p=1;h=513;w=513;oh=0;ow=0;b=0;bn=1;fp32".
 * It is the LMDB key of the row, sorts the table, and feeds lut_hash.
 * Returns the length written (< size) or LUT_EINVAL if size is short
 * (LUT_KEY_TEXT_MAX is always enough).
 */
int lut_key_format(const lut_key *key, char *buf, size_t size);

/* Parse canonical text (len bytes, no NUL needed) back into a canonical
 * key. Anything but the exact canonical text of a canonical key (another
 * field order, leading zeros, a non-canonical value) is LUT_EINVAL. */
int lut_key_parse(const char *text, size_t len, lut_key *key);

/* -------------------------------------------------------- packed keys */

/*
 * A canonical key in 32 bytes, for the estimate loops: a network of packed
 * keys is a fifth of the memory of lut_key's, and comparing or hashing one
 * is four words. Every attribute is kept at its full range, so two packed
 * keys are equal exactly when their keys are. What packs: an op of at most
 * LUT_PKEY_OP_MAX characters and a dtype of LUT_PKEY_DTYPES; any other
 * key (a long op name of an unknown op, an unusual dtype) is looked up
 * through lut_key as before. The packed form is an in-memory
 * representation, not a storage format.
 */
#define LUT_PKEY_OP_MAX 14
#define LUT_PKEY_DTYPES "fp32, fp16, bf16, fp64, fp8, fp8_e4m3, fp8_e5m2, int8, " \
                        "uint8, int16, int32, int4, uint4, int2, int1"

typedef struct lut_pkey {
    uint64_t w[4];
} lut_pkey;

/* Pack a canonical key: LUT_OK, or LUT_EINVAL when it does not pack (see
 * above; also when the key is not canonical). */
int lut_key_pack(const lut_key *key, lut_pkey *out);

static inline int lut_pkey_equal(const lut_pkey *a, const lut_pkey *b)
{
    return ((a->w[0] ^ b->w[0]) | (a->w[1] ^ b->w[1]) |
            (a->w[2] ^ b->w[2]) | (a->w[3] ^ b->w[3])) == 0;
}

/* 64x64 -> 128-bit multiply folded to 64 bits (the wyhash "mum" mixer). */
static inline uint64_t lut_mum64(uint64_t a, uint64_t b)
{
#ifdef __SIZEOF_INT128__
    __extension__ typedef unsigned __int128 lut_u128;
    lut_u128 r = (lut_u128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
#else
    uint64_t ha = a >> 32, hb = b >> 32, la = (uint32_t)a, lb = (uint32_t)b;
    uint64_t rh = ha * hb, rm0 = ha * lb, rm1 = hb * la, rl = la * lb;
    uint64_t t = rl + (rm0 << 32), c = t < rl;
    uint64_t lo = t + (rm1 << 32);
    c += lo < t;
    return lo ^ (rh + (rm0 >> 32) + (rm1 >> 32) + c);
#endif
}

/* 64-bit hash of a packed key (stable across runs and machines; not the
 * same value as lut_key_hash of the key). Inline: the estimate loops hash
 * every layer. */
static inline uint64_t lut_pkey_hash(const lut_pkey *key)
{
    /* Two independent multiplies; the high half of each product carries
     * every input bit into the low bits that index the table. */
    return lut_mum64(key->w[0] ^ UINT64_C(0x2cb0f69f4abea221),
                     key->w[1] ^ UINT64_C(0x9417034723148989)) +
           lut_mum64(key->w[2] ^ UINT64_C(0xdd555950609dfe03),
                     key->w[3] ^ UINT64_C(0xdbafb150deb12801));
}

/* ------------------------------------------------------------- costs */

typedef struct lut_cost {
    int64_t out_h, out_w, out_c;
    uint64_t macs;   /* multiply-accumulates; 0 for ops without them */
    uint64_t params; /* trainable values: weights + bias + 2*cout for BN */
} lut_cost;

/*
 * Cost arithmetic of a canonical key, as PyTorch computes it:
 * out = floor((in + 2*pad - dilation*(k-1) - 1) / stride) + 1.
 * conv2d MACs = cout*(cin/groups)*k*k*hout*wout; linear MACs = cin*cout*h*w;
 * params = cout*(cin/groups)*k*k + bias*cout + bn*2*cout (linear: cin*cout +
 * bias*cout). Returns LUT_EINVAL (field "h" or "w") when the output would be
 * empty, or (field "macs") when a product would pass 2^62.
 */
int lut_key_cost(const lut_key *key, lut_cost *out, lut_error *err);

/* ----------------------------------------------------------- latency */

/* Measured latency of one row, in the device's unit. std is the sample
 * standard deviation (n-1); 0 when count is 1. */
typedef struct lut_stats {
    double mean;
    double std;
    uint64_t count;
} lut_stats;

/* Combine two sets of repeated measurements as if they were one: count-
 * weighted mean, pooled variance (within plus between groups). */
void lut_stats_merge(lut_stats *into, const lut_stats *add);

typedef struct lut_entry {
    lut_key key;        /* canonical */
    lut_stats latency;
    int has_macs;       /* the profiler measured MACs itself */
    uint64_t macs;      /* valid when has_macs */
} lut_entry;

/* Range checks of one row (finite mean >= 0, finite std >= 0, count >= 1,
 * has_macs 0 or 1); err->field is "mean", "std", "count" or "macs". The key
 * is not checked here. */
int lut_entry_check(const lut_entry *row, lut_error *err);

/* ----------------------------------------------------------- devices */

#define LUT_KIND_MAX 65
#define LUT_DESC_MAX 1025
#define LUT_HASH_TEXT 33 /* 32 hex digits + NUL */

typedef struct lut_device {
    char name[LUT_NAME_MAX];
    char unit[8];          /* "us" or "cycles" */
    double clock_mhz;      /* > 0; required for cycles, 0 = unknown for us */
    char kind[LUT_KIND_MAX];
    char description[LUT_DESC_MAX];
    int measured;          /* 1: profiled table, 0: modeled or example */
    /* Maintained by the store; ignored on lut_device_put. */
    uint64_t entries;
    uint64_t lut_version;  /* 0 until the first committed batch */
    char lut_hash[LUT_HASH_TEXT];
} lut_device;

/* Valid device names: [a-z0-9._-]{1,64}. */
int lut_device_name_valid(const char *name);

/* Check the user-settable fields (name, unit, clock, kind, description,
 * measured); err->field names the field ("name", "unit", "clock_mhz",
 * "kind", "description", "measured"). */
int lut_device_check(const lut_device *dev, lut_error *err);

/* Milliseconds per unit of the device, or 0 if it cannot be known
 * ("cycles" without a clock). */
double lut_device_ms_per_unit(const lut_device *dev);

/* ------------------------------------------------------------- store */

typedef struct lut_store lut_store;

typedef struct lut_store_options {
    size_t map_size;   /* initial LMDB map size; 0 = 256 MiB. Grown on demand. */
    int no_sync;       /* tests only: skip fsync on commit */
    /* Open a snapshot made by lut_store_copy read-only (no lock file, no
     * directory created): every write is EACCES, and lut_store_swap may
     * replace it with a newer snapshot. */
    int read_only;
    /* Tests only: called before each row of a batch is written; a non-zero
     * return aborts the batch with that code. It runs inside the write
     * transaction (again if the batch is retried after growing the map)
     * and must not call back into the store. */
    int (*fault_hook)(void *ctx, size_t row);
    void *fault_ctx;
} lut_store_options;

/* Open (creating if needed) the store in directory dir; missing
 * directories are created with mode 0700. opt may be NULL. */
int lut_store_open(lut_store **out, const char *dir, const lut_store_options *opt);
void lut_store_close(lut_store *store);

/* Current LMDB map size in bytes (grows on MDB_MAP_FULL). */
size_t lut_store_map_size(const lut_store *store);

/*
 * Snapshots, for read replicas. lut_store_copy writes a consistent,
 * compacted copy of the whole store (one read transaction:
 * mdb_env_copy2 with MDB_CP_COMPACT) as data.mdb into dir, an existing
 * empty directory; writers are not blocked. lut_store_txnid is the id of
 * the last committed write transaction (0 on failure): when it has not
 * changed, neither has the store. lut_store_swap replaces the snapshot a
 * read_only store serves with the one in dir, atomically: it waits for
 * the transactions in flight on the old one, and every later call reads
 * the new one; tables handed out before stay valid (they are copies).
 * LUT_EINVAL on a store that is not read_only.
 */
int lut_store_copy(lut_store *store, const char *dir);
uint64_t lut_store_txnid(lut_store *store);
int lut_store_swap(lut_store *store, const char *dir);

/* Create or update a device's own fields; its table, version and hash are
 * kept. *created (may be NULL) says whether it was new. A new device has
 * lut_version 0, no entries and the lut_hash of an empty table. LUT_EINVAL
 * if lut_device_check fails (call it first for the reason). */
int lut_device_put(lut_store *store, const lut_device *dev, int *created);
int lut_device_get(lut_store *store, const char *name, lut_device *out);
/* All devices sorted by name. *out is malloc'd; free() it (NULL when
 * *n is 0). */
int lut_device_list(lut_store *store, lut_device **out, size_t *n);
/* Remove a device and its whole table in one transaction. */
int lut_device_delete(lut_store *store, const char *name);

typedef enum lut_mode { LUT_MODE_REPLACE = 0, LUT_MODE_MERGE = 1 } lut_mode;

/*
 * Write a batch of rows to a device's table in one synced transaction: it
 * lands whole or not at all. Rows must be canonical and pass
 * lut_entry_check (checked again here; the first bad row fails the batch
 * with err->row set). Within one batch, rows of the same key combine as the
 * mode says (replace: the later row wins). On success the device's
 * lut_version is incremented, lut_hash recomputed over its sorted rows, and
 * *after (may be NULL) receives the device as committed.
 * In merge mode a row given without macs keeps the stored macs; a row with
 * macs sets them. Errors: LUT_ENOTFOUND (unknown device, checked first),
 * LUT_EEMPTY (n == 0), LUT_EINVAL (err: row, field, reason; a key that is
 * not canonical names its first differing attribute), the fault hook's code
 * (err->row is the row), LUT_ECORRUPT, or an LMDB/errno code.
 */
int lut_store_put_batch(lut_store *store, const char *device,
                        const lut_entry *rows, size_t n, lut_mode mode,
                        lut_device *after, lut_error *err);

/*
 * Page through a device's rows in canonical-key order. op (may be NULL)
 * keeps only rows of that op. cursor is NULL/"" for the first page or the
 * next_cursor of the previous page (opaque text; LUT_ECURSOR if it does not
 * decode). *rows is malloc'd (free()); next_cursor receives "" on the last
 * page. dev (may be NULL) receives the device as of the same snapshot.
 * A cursor is at most LUT_CURSOR_MAX bytes with its NUL; a shorter
 * next_cursor_size that would be needed is LUT_EINVAL, as are limit 0 and
 * an op that is not [a-z0-9_]{1,31}. Unknown device: LUT_ENOTFOUND.
 */
int lut_store_list(lut_store *store, const char *device, const char *op,
                   const char *cursor, size_t limit,
                   lut_entry **rows, size_t *n,
                   char *next_cursor, size_t next_cursor_size,
                   lut_device *dev);

/*
 * Documents: small opaque byte strings by (kind, id), kept in the same LMDB
 * environment for the rest of the service (registered search spaces, for
 * one). kind and id are 1..128 bytes without NUL. Writes are synced like
 * batches. lut_store_doc_get hands out a malloc'd copy (free()).
 * lut_store_doc_ids lists the ids of a kind in byte order: *ids and each
 * string are malloc'd (free() each, then the array; *ids is NULL when *n
 * is 0). A kind or id out of bounds is LUT_EINVAL; get and delete of a
 * missing document are LUT_ENOTFOUND; put creates or overwrites.
 */
int lut_store_doc_put(lut_store *store, const char *kind, const char *id,
                      const void *data, size_t len);
/* Put n documents of one kind in one synced transaction: all of them or
 * none (a bad kind or id is LUT_EINVAL before anything is written). */
int lut_store_doc_put_many(lut_store *store, const char *kind, const char *const *ids,
                           const void *const *data, const size_t *lens, size_t n);
int lut_store_doc_get(lut_store *store, const char *kind, const char *id,
                      void **data, size_t *len);
int lut_store_doc_delete(lut_store *store, const char *kind, const char *id);
int lut_store_doc_ids(lut_store *store, const char *kind, char ***ids, size_t *n);
/* Delete every document of a kind in one synced transaction. */
int lut_store_doc_purge(lut_store *store, const char *kind);

/* ------------------------------------------------------------- tables */

/*
 * An immutable in-memory snapshot of one device's table at one lut_version,
 * for estimates: an open-addressing hash on the canonical key. Shared by
 * reference count; the store rebuilds it only when the version changes.
 */
typedef struct lut_table lut_table;

/* A reference to the device's current table (built or reused); release it
 * with lut_table_release. Safe from many threads at once. The table is read
 * in the same snapshot as its device record, so its rows are exactly those
 * of its lut_version; it is reused while the device record (version, hash
 * and own fields) is unchanged. LUT_ENOTFOUND for an unknown device. */
int lut_store_table(lut_store *store, const char *device, lut_table **out);
void lut_table_release(lut_table *table);

/* Build a table from rows directly (benchmarks, tests); of rows with equal
 * keys the later wins. dev may be NULL: the table's device is then all
 * zero but for entries, the number of distinct keys. */
int lut_table_build(const lut_device *dev, const lut_entry *rows, size_t n,
                    lut_table **out);

/* The device (fields, version, hash) the table was built from; valid while
 * the reference is held. */
const lut_device *lut_table_device(const lut_table *table);

/* The row of a canonical key, or NULL. Valid while the reference is held. */
const lut_entry *lut_table_find(const lut_table *table, const lut_key *key);
/* Same, with the key's hash already computed by lut_key_hash. */
const lut_entry *lut_table_find_hashed(const lut_table *table,
                                       const lut_key *key, uint64_t hash);

typedef struct lut_sum {
    double total;      /* sum of the mean latency of the rows found */
    size_t hits;
    size_t missing;
    /* Of the missing layers, those a lut_predictor predicts: how many, the
     * sum of their predictions and its variance. Only the calls that say
     * so fill them (lut_space_cost does); the others leave them 0. */
    size_t predicted;
    double predicted_total;
    double predicted_var;
} lut_sum;

/* Sum the latency of a network's canonical layers. The index of each layer
 * without a row is written to missing_idx (at most missing_cap of them;
 * missing_idx may be NULL). Allocates nothing; a NULL table has no rows. */
void lut_table_sum(const lut_table *table, const lut_key *layers, size_t n,
                   lut_sum *out, size_t *missing_idx, size_t missing_cap);

/* The same for a prepared network, whose hashes[i] = lut_key_hash(&layers[i])
 * were computed once (when the network was built): what remains per layer
 * is one probe. The hashes do not depend on the table, so one prepared
 * network serves every device and version. */
void lut_table_sum_hashed(const lut_table *table, const lut_key *layers,
                          const uint64_t *hashes, size_t n, lut_sum *out,
                          size_t *missing_idx, size_t missing_cap);

/* The row of a packed key whose hash is lut_pkey_hash(key), or NULL. */
const lut_entry *lut_table_find_packed(const lut_table *table,
                                       const lut_pkey *key, uint64_t hash);

/*
 * lut_table_sum for a network of packed keys; hashes[i] =
 * lut_pkey_hash(&layers[i]) when the caller prepared them once, or NULL to
 * hash here. The fastest way to cost a network that is estimated more than
 * once (on several devices, or again after an upload).
 */
void lut_table_sum_packed(const lut_table *table, const lut_pkey *layers,
                          const uint64_t *hashes, size_t n, lut_sum *out,
                          size_t *missing_idx, size_t missing_cap);

/* ------------------------------------------------------- predictions */

/* Predictions of the rows a table lacks (lut_predict.h). */
typedef struct lut_predictor lut_predictor;

/* The table's predictor, fitted from its rows on first use (one fit per
 * table version, whichever thread asks first) and kept with the table;
 * NULL only when out of memory. Valid while the reference is held. */
const lut_predictor *lut_table_predictor(const lut_table *table);

#ifdef __cplusplus
}
#endif
#endif

/*
 * key.c — layer keys (validation, canonical form, text, hash), their cost
 * arithmetic, latency statistics, device field checks and error texts.
 * Nothing here touches the store; everything is a pure function.
 */
#include "lut_internal.h"

#include <inttypes.h>
#include <lmdb.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* lut_key_equal and lut_key_hash read the whole struct; it must have no
 * padding for byte comparison to mean field comparison. */
_Static_assert(sizeof(lut_key) == LUT_OP_MAX + LUT_DTYPE_MAX + 13 * sizeof(int64_t),
               "lut_key must have no padding");
_Static_assert(offsetof(lut_key, cin) == LUT_OP_MAX + LUT_DTYPE_MAX,
               "lut_key attributes must follow op and dtype");
_Static_assert((LUT_OP_MAX + LUT_DTYPE_MAX) % 8 == 0,
               "op and dtype must fill whole 64-bit words");

/* -------------------------------------------------------------- errors */

void Lut_error_set(lut_error *err, const char *field, const char *fmt, ...)
{
    va_list ap;

    if (!err)
        return;
    err->row = -1;
    snprintf(err->field, sizeof err->field, "%s", field);
    va_start(ap, fmt);
    vsnprintf(err->reason, sizeof err->reason, fmt, ap);
    va_end(ap);
}

const char *lut_strerror(int rc)
{
    switch (rc) {
    case LUT_OK:
        return "success";
    case LUT_EINVAL:
        return "invalid field";
    case LUT_ENOTFOUND:
        return "not found";
    case LUT_ENOMEM:
        return "out of memory";
    case LUT_EFAULT:
        return "injected fault";
    case LUT_ECORRUPT:
        return "stored record does not decode";
    case LUT_EEMPTY:
        return "empty batch";
    case LUT_ECURSOR:
        return "invalid listing cursor";
    case LUT_EEXIST:
        return "already exists";
    default:
        /* LMDB codes and errno values; mdb_strerror knows both. */
        return mdb_strerror(rc);
    }
}

/* ----------------------------------------------------------- attributes */

/* The integer attributes in struct order, with their wire names, bounds and
 * the bit used in the per-op masks below. */
enum {
    A_CIN, A_COUT, A_K, A_STRIDE, A_DILATION, A_GROUPS, A_H, A_W, A_PAD,
    A_OUT_H, A_OUT_W, A_BIAS, A_BN, A_COUNT
};

typedef struct attr_desc {
    const char *name;
    size_t offset;
    int64_t lo, hi;
} attr_desc;

static const attr_desc ATTRS[A_COUNT] = {
    [A_CIN] = {"cin", offsetof(lut_key, cin), 1, LUT_MAX_CHANNELS},
    [A_COUT] = {"cout", offsetof(lut_key, cout), 1, LUT_MAX_CHANNELS},
    [A_K] = {"k", offsetof(lut_key, k), 1, LUT_MAX_KERNEL},
    [A_STRIDE] = {"stride", offsetof(lut_key, stride), 1, LUT_MAX_STRIDE},
    [A_DILATION] = {"dilation", offsetof(lut_key, dilation), 1, LUT_MAX_DILATION},
    [A_GROUPS] = {"groups", offsetof(lut_key, groups), 1, LUT_MAX_CHANNELS},
    [A_H] = {"h", offsetof(lut_key, h), 1, LUT_MAX_SPATIAL},
    [A_W] = {"w", offsetof(lut_key, w), 1, LUT_MAX_SPATIAL},
    [A_PAD] = {"pad", offsetof(lut_key, pad), 0, LUT_MAX_SPATIAL},
    [A_OUT_H] = {"out_h", offsetof(lut_key, out_h), 1, LUT_MAX_SPATIAL},
    [A_OUT_W] = {"out_w", offsetof(lut_key, out_w), 1, LUT_MAX_SPATIAL},
    [A_BIAS] = {"bias", offsetof(lut_key, bias), 0, 1},
    [A_BN] = {"bn", offsetof(lut_key, bn), 0, 1},
};

static int64_t *attr_ptr(lut_key *key, int a)
{
    return (int64_t *)(void *)((char *)key + ATTRS[a].offset);
}

static int64_t attr_get(const lut_key *key, int a)
{
    return *(const int64_t *)(const void *)((const char *)key + ATTRS[a].offset);
}

#define BIT(a) (1u << (a))
#define ALL_ATTRS (BIT(A_COUNT) - 1u)

/* What each known op uses and requires. Attributes outside `uses` are reset
 * to their defaults by canonicalization. */
typedef enum op_class {
    OP_OTHER, OP_CONV, OP_LINEAR, OP_POOL, OP_GLOBAL_POOL, OP_UPSAMPLE,
    OP_ELEMENTWISE, OP_CONCAT
} op_class;

typedef struct op_desc {
    const char *name;
    op_class cls;
} op_desc;

static const op_desc OPS[] = {
    {"conv2d", OP_CONV},
    {"linear", OP_LINEAR},
    {"avgpool", OP_POOL},
    {"maxpool", OP_POOL},
    {"global_avgpool", OP_GLOBAL_POOL},
    {"upsample", OP_UPSAMPLE},
    {"add", OP_ELEMENTWISE},
    {"relu", OP_ELEMENTWISE},
    {"concat", OP_CONCAT},
};

typedef struct class_desc {
    unsigned uses;
    unsigned requires;
} class_desc;

static const class_desc CLASSES[] = {
    [OP_OTHER] = {ALL_ATTRS, 0},
    [OP_CONV] = {ALL_ATTRS & ~(BIT(A_OUT_H) | BIT(A_OUT_W)),
                 BIT(A_CIN) | BIT(A_COUT) | BIT(A_H) | BIT(A_W)},
    [OP_LINEAR] = {BIT(A_CIN) | BIT(A_COUT) | BIT(A_H) | BIT(A_W) |
                       BIT(A_BIAS) | BIT(A_BN),
                   BIT(A_CIN) | BIT(A_COUT)},
    [OP_POOL] = {BIT(A_CIN) | BIT(A_COUT) | BIT(A_K) | BIT(A_STRIDE) |
                     BIT(A_DILATION) | BIT(A_PAD) | BIT(A_H) | BIT(A_W),
                 BIT(A_CIN) | BIT(A_H) | BIT(A_W)},
    [OP_GLOBAL_POOL] = {BIT(A_CIN) | BIT(A_COUT) | BIT(A_H) | BIT(A_W),
                        BIT(A_CIN) | BIT(A_H) | BIT(A_W)},
    [OP_UPSAMPLE] = {BIT(A_CIN) | BIT(A_COUT) | BIT(A_H) | BIT(A_W) |
                         BIT(A_OUT_H) | BIT(A_OUT_W),
                     BIT(A_CIN) | BIT(A_H) | BIT(A_W) | BIT(A_OUT_H) |
                         BIT(A_OUT_W)},
    [OP_ELEMENTWISE] = {BIT(A_CIN) | BIT(A_COUT) | BIT(A_H) | BIT(A_W),
                        BIT(A_CIN) | BIT(A_H) | BIT(A_W)},
    [OP_CONCAT] = {BIT(A_CIN) | BIT(A_COUT) | BIT(A_H) | BIT(A_W),
                   BIT(A_COUT) | BIT(A_H) | BIT(A_W)},
};

static op_class classify(const char *op)
{
    size_t i;

    /* Every key is classified on the estimate path: only the names that
     * share the first character are compared. */
    for (i = 0; i < sizeof OPS / sizeof OPS[0]; i++)
        if (op[0] == OPS[i].name[0] && strncmp(op, OPS[i].name, LUT_OP_MAX) == 0)
            return OPS[i].cls;
    return OP_OTHER;
}

/* [a-z0-9_]{1,max-1}, NUL-terminated within max bytes. Returns the length
 * or 0 when invalid. */
static size_t ident_len(const char *s, size_t max)
{
    size_t n = 0;

    while (n < max && s[n] != '\0') {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
        n++;
    }
    return n < max ? n : 0;
}

/* ------------------------------------------------------------------ keys */

void lut_key_init(lut_key *key)
{
    int a;

    memset(key, 0, sizeof *key);
    for (a = 0; a < A_COUNT; a++)
        *attr_ptr(key, a) = LUT_UNSET;
}

/* op and dtype: [a-z0-9_] identifiers, zero-padded; dtype "" is "fp32". */
static int canonical_names(lut_key *key, lut_error *err)
{
    size_t len;

    if (key->op[0] == '\0') {
        Lut_error_set(err, "op", "is required");
        return LUT_EINVAL;
    }
    len = ident_len(key->op, sizeof key->op);
    if (len == 0) {
        Lut_error_set(err, "op", "must be 1 to %d characters of [a-z0-9_]",
                      LUT_OP_MAX - 1);
        return LUT_EINVAL;
    }
    memset(key->op + len, 0, sizeof key->op - len);

    if (key->dtype[0] == '\0') {
        memset(key->dtype, 0, sizeof key->dtype);
        memcpy(key->dtype, "fp32", 4);
    }
    len = ident_len(key->dtype, sizeof key->dtype);
    if (len == 0) {
        Lut_error_set(err, "dtype", "must be 1 to %d characters of [a-z0-9_]",
                      LUT_DTYPE_MAX - 1);
        return LUT_EINVAL;
    }
    memset(key->dtype + len, 0, sizeof key->dtype - len);
    return LUT_OK;
}

/* Attributes the op does not use are ignored (reset, so that spelling them
 * out never makes another key); those it uses are range-checked, and those
 * it requires must be given. */
static int check_attrs(lut_key *key, const class_desc *cd, lut_error *err)
{
    int a;

    for (a = 0; a < A_COUNT; a++) {
        int64_t v = attr_get(key, a);
        if (!(cd->uses & BIT(a))) {
            *attr_ptr(key, a) = LUT_UNSET;
            continue;
        }
        if (v == LUT_UNSET)
            continue;
        if (v < ATTRS[a].lo || v > ATTRS[a].hi) {
            if (a == A_BIAS || a == A_BN)
                Lut_error_set(err, ATTRS[a].name, "must be 0 or 1 (false or true)");
            else
                Lut_error_set(err, ATTRS[a].name,
                              "must be between %" PRId64 " and %" PRId64,
                              ATTRS[a].lo, ATTRS[a].hi);
            return LUT_EINVAL;
        }
    }
    for (a = 0; a < A_COUNT; a++) {
        if ((cd->requires & BIT(a)) && attr_get(key, a) == LUT_UNSET) {
            Lut_error_set(err, ATTRS[a].name, "is required for %s", key->op);
            return LUT_EINVAL;
        }
    }
    return LUT_OK;
}

/* The defaults of the attributes every op may leave out. */
static void fill_defaults(lut_key *key)
{
    if (key->k == LUT_UNSET)
        key->k = 1;
    if (key->stride == LUT_UNSET)
        key->stride = 1;
    if (key->dilation == LUT_UNSET)
        key->dilation = 1;
    if (key->groups == LUT_UNSET)
        key->groups = 1;
    if (key->pad == LUT_UNSET)
        key->pad = key->dilation * (key->k - 1) / 2;
    if (key->bias == LUT_UNSET)
        key->bias = 0;
    if (key->bn == LUT_UNSET)
        key->bn = 0;
}

/* What each class of op implies: linear's default 1x1 size, the kept
 * channel count of pools, upsampling and elementwise ops, concat's cin,
 * conv's groups dividing both channel counts. */
static int apply_class_rules(lut_key *key, op_class cls, lut_error *err)
{
    switch (cls) {
    case OP_LINEAR:
        if (key->h == LUT_UNSET)
            key->h = 1;
        if (key->w == LUT_UNSET)
            key->w = 1;
        break;
    case OP_POOL:
    case OP_GLOBAL_POOL:
    case OP_UPSAMPLE:
    case OP_ELEMENTWISE:
        /* These keep the channel count: cout is cin, spelled out or not. */
        if (key->cout == LUT_UNSET)
            key->cout = key->cin;
        else if (key->cout != key->cin) {
            Lut_error_set(err, "cout",
                          "must equal cin (%" PRId64 ") for %s, which keeps "
                          "the channel count", key->cin, key->op);
            return LUT_EINVAL;
        }
        break;
    case OP_CONCAT:
        if (key->cin == LUT_UNSET)
            key->cin = key->cout;
        break;
    case OP_CONV:
        if (key->cin % key->groups != 0 || key->cout % key->groups != 0) {
            Lut_error_set(err, "groups",
                          "must divide cin (%" PRId64 ") and cout (%" PRId64 ")",
                          key->cin, key->cout);
            return LUT_EINVAL;
        }
        break;
    case OP_OTHER:
        break;
    }
    return LUT_OK;
}

int lut_key_canonicalize(lut_key *key, lut_error *err)
{
    op_class cls;
    int a, rc;

    if ((rc = canonical_names(key, err)) != LUT_OK)
        return rc;
    cls = classify(key->op);
    if ((rc = check_attrs(key, &CLASSES[cls], err)) != LUT_OK)
        return rc;
    fill_defaults(key);
    if ((rc = apply_class_rules(key, cls, err)) != LUT_OK)
        return rc;

    /* Sizes never given (unknown ops; out_h/out_w of ops other than
     * upsample) are 0 in canonical form. */
    for (a = 0; a < A_COUNT; a++)
        if (attr_get(key, a) == LUT_UNSET)
            *attr_ptr(key, a) = 0;

    if (cls != OP_OTHER) {
        lut_cost cost;
        if ((rc = lut_key_cost(key, &cost, err)) != 0)
            return rc;
    }
    return LUT_OK;
}

int Lut_key_check_canonical(const lut_key *key, lut_error *err)
{
    static const int sizes[] = {A_CIN, A_COUT, A_H, A_W, A_OUT_H, A_OUT_W};
    lut_key copy = *key;
    size_t i;
    int a, rc;

    for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (attr_get(&copy, sizes[i]) == 0)
            *attr_ptr(&copy, sizes[i]) = LUT_UNSET;
    rc = lut_key_canonicalize(&copy, err);
    if (rc != 0)
        return rc;
    if (memcmp(copy.op, key->op, sizeof copy.op) != 0) {
        Lut_error_set(err, "op", "is not in canonical form (bytes after the name must be zero)");
        return LUT_EINVAL;
    }
    if (memcmp(copy.dtype, key->dtype, sizeof copy.dtype) != 0) {
        Lut_error_set(err, "dtype", "is not in canonical form");
        return LUT_EINVAL;
    }
    for (a = 0; a < A_COUNT; a++) {
        if (attr_get(&copy, a) != attr_get(key, a)) {
            Lut_error_set(err, ATTRS[a].name,
                          "is not in canonical form (expected %" PRId64
                          ", got %" PRId64 "); call lut_key_canonicalize",
                          attr_get(&copy, a), attr_get(key, a));
            return LUT_EINVAL;
        }
    }
    return LUT_OK;
}

int lut_key_equal(const lut_key *a, const lut_key *b)
{
    return Lut_key_equal(a, b);
}

/* ------------------------------------------------------------- hashing */

static inline uint64_t load_le64(const unsigned char *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
           (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
           (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

/* The wyhash "mum" mixer of lut.h. */
static inline uint64_t mum(uint64_t a, uint64_t b)
{
    return lut_mum64(a, b);
}

/* Secrets of the four multiplies (splitmix64 outputs, forced odd). */
static const uint64_t HASH_SECRET[8] = {
    UINT64_C(0x2cb0f69f4abea221), UINT64_C(0x9417034723148989),
    UINT64_C(0xdd555950609dfe03), UINT64_C(0xdbafb150deb12801),
    UINT64_C(0x7e789b2e6c442cb7), UINT64_C(0xf41e5636c7e4f8c5),
    UINT64_C(0x0959d150f8fba7e5), UINT64_C(0xa97316f13cdb9eeb),
};

static inline uint64_t rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

uint64_t lut_key_hash(const lut_key *key)
{
    /* Estimates hash every layer, so this is on the hot path: the 19 words
     * of a key are first folded into 8 with shifts and rotations (bounded
     * attributes fit side by side), then mixed by four independent
     * multiplies that pipeline. Folding may map two keys to one word; that
     * only costs a probe, since lookups compare the whole key. */
    const unsigned char *p = (const unsigned char *)key;
    uint64_t op = load_le64(p) ^ rotl64(load_le64(p + 8), 17) ^
                  rotl64(load_le64(p + 16), 31) ^ rotl64(load_le64(p + 24), 47);
    uint64_t dt = load_le64(p + 32) ^ rotl64(load_le64(p + 40), 29);
    uint64_t ch = (uint64_t)key->cin ^ ((uint64_t)key->cout << 32);
    uint64_t win = (uint64_t)key->k ^ ((uint64_t)key->stride << 16) ^
                   ((uint64_t)key->dilation << 32) ^ ((uint64_t)key->bias << 48) ^
                   ((uint64_t)key->bn << 52);
    uint64_t grp = (uint64_t)key->groups ^ ((uint64_t)key->pad << 32);
    uint64_t hw = (uint64_t)key->h ^ ((uint64_t)key->w << 32);
    uint64_t out = (uint64_t)key->out_h ^ ((uint64_t)key->out_w << 32);
    uint64_t h = mum(op ^ HASH_SECRET[0], dt ^ HASH_SECRET[1]) +
                 mum(ch ^ HASH_SECRET[2], win ^ HASH_SECRET[3]) +
                 mum(grp ^ HASH_SECRET[4], hw ^ HASH_SECRET[5]) +
                 mum(out ^ HASH_SECRET[6], HASH_SECRET[7]);
    /* splitmix64 finalizer: every output bit depends on every input bit,
     * so the low bits are fit for indexing a power-of-two table. */
    h ^= h >> 30;
    h *= UINT64_C(0xbf58476d1ce4e5b9);
    h ^= h >> 27;
    h *= UINT64_C(0x94d049bb133111eb);
    h ^= h >> 31;
    return h;
}

/* --------------------------------------------------------- packed keys */

static int is_ident_char(char c);

static const char *const PKEY_DTYPES[] = {
    NULL, "fp32", "fp16", "bf16", "fp64", "fp8", "fp8_e4m3", "fp8_e5m2", "int8",
    "uint8", "int16", "int32", "int4", "uint4", "int2", "int1",
};

/* Appends fields to 4 words, low bits first. */
typedef struct bit_writer {
    uint64_t *w;
    unsigned pos;
} bit_writer;

static void put_bits(bit_writer *b, uint64_t v, unsigned width)
{
    unsigned word = b->pos / 64, off = b->pos % 64;

    b->w[word] |= v << off;
    if (off + width > 64)
        b->w[word + 1] |= v >> (64 - off);
    b->pos += width;
}

/* Characters of [a-z0-9_] as 1..37; 0 is "no character". */
static unsigned ident_code(char c)
{
    if (c == '_')
        return 1;
    if (c >= '0' && c <= '9')
        return 2 + (unsigned)(c - '0');
    return 12 + (unsigned)(c - 'a');
}

/* 7 characters (or fewer, then 0s) in base 38: below 38^7 < 2^37. */
static uint64_t ident_chunk(const char *s, size_t len)
{
    uint64_t v = 0;

    for (size_t i = 7; i-- > 0;)
        v = v * 38 + (i < len ? ident_code(s[i]) : 0);
    return v;
}

int lut_key_pack(const lut_key *key, lut_pkey *out)
{
    /* Widths hold each attribute's whole canonical range (0 included). */
    static const struct {
        int attr;
        unsigned width;
    } FIELDS[] = {
        {A_CIN, 21},  {A_COUT, 21},  {A_GROUPS, 21}, {A_H, 17},
        {A_W, 17},    {A_PAD, 17},   {A_OUT_H, 17},  {A_OUT_W, 17},
        {A_K, 8},     {A_STRIDE, 8}, {A_DILATION, 8}, {A_BIAS, 1},
        {A_BN, 1},
    };
    _Static_assert(LUT_MAX_CHANNELS < (1 << 21) && LUT_MAX_SPATIAL < (1 << 17) &&
                       LUT_MAX_KERNEL < 256 && LUT_MAX_STRIDE < 256 &&
                       LUT_MAX_DILATION < 256,
                   "packed fields hold the attribute ranges");
    size_t oplen = strnlen(key->op, sizeof key->op), d;
    bit_writer b = {out->w, 0};

    memset(out, 0, sizeof *out);
    if (oplen == 0 || oplen > LUT_PKEY_OP_MAX)
        return LUT_EINVAL;
    for (size_t i = 0; i < oplen; i++)
        if (!is_ident_char(key->op[i]))
            return LUT_EINVAL;
    for (d = 1; d < sizeof PKEY_DTYPES / sizeof PKEY_DTYPES[0]; d++)
        if (strncmp(key->dtype, PKEY_DTYPES[d], sizeof key->dtype) == 0)
            break;
    if (d == sizeof PKEY_DTYPES / sizeof PKEY_DTYPES[0])
        return LUT_EINVAL;

    /* 37 + 37 + 4 + 3*21 + 5*17 + 3*8 + 2 = 252 bits. The op's first
     * character lands in w[0], so a packed key never has w[0] == 0. */
    put_bits(&b, ident_chunk(key->op, oplen), 37);
    put_bits(&b, oplen > 7 ? ident_chunk(key->op + 7, oplen - 7) : 0, 37);
    put_bits(&b, d, 4);
    for (size_t f = 0; f < sizeof FIELDS / sizeof FIELDS[0]; f++) {
        int64_t v = attr_get(key, FIELDS[f].attr);
        if (v < 0 || (uint64_t)v >= UINT64_C(1) << FIELDS[f].width) {
            memset(out, 0, sizeof *out);
            return LUT_EINVAL;
        }
        put_bits(&b, (uint64_t)v, FIELDS[f].width);
    }
    return LUT_OK;
}

/* ---------------------------------------------------------------- text */

/* Attributes in the order of the canonical text, with their labels. */
static const struct {
    const char *label;
    int attr;
} TEXT_FIELDS[A_COUNT] = {
    {"cin", A_CIN},   {"cout", A_COUT},   {"k", A_K},       {"s", A_STRIDE},
    {"d", A_DILATION}, {"g", A_GROUPS},   {"p", A_PAD},     {"h", A_H},
    {"w", A_W},       {"oh", A_OUT_H},    {"ow", A_OUT_W},  {"b", A_BIAS},
    {"bn", A_BN},
};

int lut_key_format(const lut_key *key, char *buf, size_t size)
{
    int n = snprintf(buf, size,
                     "%.*s;cin=%" PRId64 ";cout=%" PRId64 ";k=%" PRId64
                     ";s=%" PRId64 ";d=%" PRId64 ";g=%" PRId64 ";p=%" PRId64
                     ";h=%" PRId64 ";w=%" PRId64 ";oh=%" PRId64 ";ow=%" PRId64
                     ";b=%" PRId64 ";bn=%" PRId64 ";%.*s",
                     (int)strnlen(key->op, sizeof key->op), key->op, key->cin,
                     key->cout, key->k, key->stride, key->dilation, key->groups,
                     key->pad, key->h, key->w, key->out_h, key->out_w,
                     key->bias, key->bn,
                     (int)strnlen(key->dtype, sizeof key->dtype), key->dtype);
    if (n < 0 || (size_t)n >= size)
        return LUT_EINVAL;
    return n;
}

static int is_ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* A non-negative decimal without sign or leading zeros. */
static int parse_uint(const char *s, size_t len, size_t *pos, int64_t *out)
{
    size_t i = *pos, start = i;
    int64_t v = 0;

    while (i < len && s[i] >= '0' && s[i] <= '9') {
        int d = s[i] - '0';
        if (v > (INT64_MAX - d) / 10)
            return LUT_EINVAL;
        v = v * 10 + d;
        i++;
    }
    if (i == start || (s[start] == '0' && i - start > 1))
        return LUT_EINVAL;
    *pos = i;
    *out = v;
    return LUT_OK;
}

int lut_key_parse(const char *text, size_t len, lut_key *key)
{
    lut_key k;
    size_t pos = 0, start;
    int f;

    if (!text || !key)
        return LUT_EINVAL;
    lut_key_init(&k);
    while (pos < len && is_ident_char(text[pos]))
        pos++;
    if (pos == 0 || pos >= sizeof k.op)
        return LUT_EINVAL;
    memcpy(k.op, text, pos);
    for (f = 0; f < A_COUNT; f++) {
        size_t lab = strlen(TEXT_FIELDS[f].label);
        if (len - pos < lab + 2 || text[pos] != ';' ||
            memcmp(text + pos + 1, TEXT_FIELDS[f].label, lab) != 0 ||
            text[pos + 1 + lab] != '=')
            return LUT_EINVAL;
        pos += lab + 2;
        if (parse_uint(text, len, &pos, attr_ptr(&k, TEXT_FIELDS[f].attr)) != 0)
            return LUT_EINVAL;
    }
    if (pos >= len || text[pos] != ';')
        return LUT_EINVAL;
    start = ++pos;
    while (pos < len && is_ident_char(text[pos]))
        pos++;
    if (pos != len || pos == start || pos - start >= sizeof k.dtype)
        return LUT_EINVAL;
    memcpy(k.dtype, text + start, pos - start);
    /* Strict numbers and labels make the text a function of the struct, so
     * a canonical struct means the text is exactly its canonical text. */
    if (Lut_key_check_canonical(&k, NULL) != 0)
        return LUT_EINVAL;
    *key = k;
    return LUT_OK;
}

/* ---------------------------------------------------------------- cost */

#define COST_LIMIT (UINT64_C(1) << 62)

/* out = floor((in + 2*pad - dilation*(k-1) - 1) / stride) + 1, or 0 when
 * the window does not fit even once. Inputs are bounded, so no overflow. */
static int64_t window_out(int64_t in, int64_t k, int64_t stride,
                          int64_t dilation, int64_t pad)
{
    int64_t num = in + 2 * pad - dilation * (k - 1) - 1;

    if (num < 0)
        return 0;
    return num / stride + 1;
}

/* a*b*...: product of n factors, LUT_EINVAL (field) past COST_LIMIT. */
static int checked_product(const uint64_t *f, size_t n, uint64_t *out,
                           const char *field, lut_error *err)
{
    uint64_t p = 1;
    size_t i;

    for (i = 0; i < n; i++) {
        if (__builtin_mul_overflow(p, f[i], &p) || p > COST_LIMIT) {
            Lut_error_set(err, field, "would exceed 2^62");
            return LUT_EINVAL;
        }
    }
    *out = p;
    return LUT_OK;
}

static int checked_add(uint64_t a, uint64_t b, uint64_t *out,
                       const char *field, lut_error *err)
{
    if (__builtin_add_overflow(a, b, out) || *out > COST_LIMIT) {
        Lut_error_set(err, field, "would exceed 2^62");
        return LUT_EINVAL;
    }
    return LUT_OK;
}

int lut_key_cost(const lut_key *key, lut_cost *out, lut_error *err)
{
    op_class cls = classify(key->op);
    const class_desc *cd = &CLASSES[cls];
    lut_cost c = {0, 0, 0, 0, 0};
    int a, rc;

    /* Guard the arithmetic against keys that skipped canonicalization. */
    if (cls != OP_OTHER) {
        for (a = 0; a < A_COUNT; a++) {
            int64_t v = attr_get(key, a);
            if ((cd->uses & BIT(a)) && (v < ATTRS[a].lo || v > ATTRS[a].hi)) {
                Lut_error_set(err, ATTRS[a].name,
                              "must be between %" PRId64 " and %" PRId64
                              " (is the key canonical?)",
                              ATTRS[a].lo, ATTRS[a].hi);
                return LUT_EINVAL;
            }
        }
    }

    switch (cls) {
    case OP_CONV:
    case OP_POOL:
        c.out_h = window_out(key->h, key->k, key->stride, key->dilation, key->pad);
        c.out_w = window_out(key->w, key->k, key->stride, key->dilation, key->pad);
        if (c.out_h < 1 || c.out_w < 1) {
            int is_h = c.out_h < 1;
            Lut_error_set(err, is_h ? "h" : "w",
                          "gives an empty output: %s + 2*pad = %" PRId64
                          " is less than the dilated kernel dilation*(k-1)+1 = %" PRId64,
                          is_h ? "h" : "w",
                          (is_h ? key->h : key->w) + 2 * key->pad,
                          key->dilation * (key->k - 1) + 1);
            return LUT_EINVAL;
        }
        c.out_c = cls == OP_CONV ? key->cout : key->cin;
        if (cls == OP_CONV) {
            uint64_t weights, extra;
            uint64_t fw[4] = {(uint64_t)key->cout,
                              (uint64_t)(key->cin / key->groups),
                              (uint64_t)key->k, (uint64_t)key->k};
            uint64_t fm[3] = {0, (uint64_t)c.out_h, (uint64_t)c.out_w};
            rc = checked_product(fw, 4, &weights, "params", err);
            if (rc != 0)
                return rc;
            fm[0] = weights;
            rc = checked_product(fm, 3, &c.macs, "macs", err);
            if (rc != 0)
                return rc;
            extra = (uint64_t)(key->bias + 2 * key->bn) * (uint64_t)key->cout;
            rc = checked_add(weights, extra, &c.params, "params", err);
            if (rc != 0)
                return rc;
        }
        break;
    case OP_LINEAR: {
        uint64_t weights;
        uint64_t fw[2] = {(uint64_t)key->cin, (uint64_t)key->cout};
        uint64_t fm[3] = {0, (uint64_t)key->h, (uint64_t)key->w};
        c.out_h = key->h;
        c.out_w = key->w;
        c.out_c = key->cout;
        rc = checked_product(fw, 2, &weights, "params", err);
        if (rc != 0)
            return rc;
        fm[0] = weights;
        rc = checked_product(fm, 3, &c.macs, "macs", err);
        if (rc != 0)
            return rc;
        rc = checked_add(weights,
                         (uint64_t)(key->bias + 2 * key->bn) * (uint64_t)key->cout,
                         &c.params, "params", err);
        if (rc != 0)
            return rc;
        break;
    }
    case OP_GLOBAL_POOL:
        c.out_h = 1;
        c.out_w = 1;
        c.out_c = key->cin;
        break;
    case OP_UPSAMPLE:
        c.out_h = key->out_h;
        c.out_w = key->out_w;
        c.out_c = key->cin;
        break;
    case OP_ELEMENTWISE:
        c.out_h = key->h;
        c.out_w = key->w;
        c.out_c = key->cin;
        break;
    case OP_CONCAT:
        c.out_h = key->h;
        c.out_w = key->w;
        c.out_c = key->cout;
        break;
    case OP_OTHER:
        c.out_h = key->h > 0 ? key->h : 0;
        c.out_w = key->w > 0 ? key->w : 0;
        c.out_c = key->cout > 0 ? key->cout : (key->cin > 0 ? key->cin : 0);
        break;
    }
    *out = c;
    return LUT_OK;
}

/* ------------------------------------------------------------- latency */

void lut_stats_merge(lut_stats *into, const lut_stats *add)
{
    double n1, n2, n, delta, m2;
    uint64_t count;

    if (add->count == 0)
        return;
    if (into->count == 0) {
        *into = *add;
        return;
    }
    count = into->count + add->count;
    n1 = (double)into->count;
    n2 = (double)add->count;
    n = (double)count;
    delta = add->mean - into->mean;
    /* Within-group sums of squares plus the between-group term. */
    m2 = (n1 - 1.0) * into->std * into->std + (n2 - 1.0) * add->std * add->std +
         delta * delta * (n1 * n2 / n);
    into->mean = into->mean + delta * (n2 / n);
    into->std = count > 1 ? sqrt(m2 / (n - 1.0)) : 0.0;
    into->count = count;
}

int lut_entry_check(const lut_entry *row, lut_error *err)
{
    const lut_stats *s = &row->latency;

    if (!isfinite(s->mean) || s->mean < 0) {
        Lut_error_set(err, "mean", "must be a finite number >= 0");
        return LUT_EINVAL;
    }
    if (!isfinite(s->std) || s->std < 0) {
        Lut_error_set(err, "std", "must be a finite number >= 0");
        return LUT_EINVAL;
    }
    if (s->count < 1) {
        Lut_error_set(err, "count", "must be at least 1");
        return LUT_EINVAL;
    }
    if (row->has_macs != 0 && row->has_macs != 1) {
        Lut_error_set(err, "macs", "has_macs must be 0 or 1");
        return LUT_EINVAL;
    }
    return LUT_OK;
}

/* ------------------------------------------------------------- devices */

int lut_device_name_valid(const char *name)
{
    size_t n;

    if (!name)
        return 0;
    for (n = 0; n < LUT_NAME_MAX && name[n] != '\0'; n++) {
        char c = name[n];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-'))
            return 0;
    }
    return n >= 1 && n < LUT_NAME_MAX;
}

int lut_device_check(const lut_device *dev, lut_error *err)
{
    int cycles;

    if (!lut_device_name_valid(dev->name)) {
        Lut_error_set(err, "name", "must be 1 to %d characters of [a-z0-9._-]",
                      LUT_NAME_MAX - 1);
        return LUT_EINVAL;
    }
    if (strnlen(dev->unit, sizeof dev->unit) == sizeof dev->unit ||
        (strncmp(dev->unit, "us", sizeof dev->unit) != 0 &&
         strncmp(dev->unit, "cycles", sizeof dev->unit) != 0)) {
        Lut_error_set(err, "unit", "must be \"us\" or \"cycles\"");
        return LUT_EINVAL;
    }
    cycles = strncmp(dev->unit, "cycles", sizeof dev->unit) == 0;
    if (!isfinite(dev->clock_mhz) || dev->clock_mhz < 0) {
        Lut_error_set(err, "clock_mhz", "must be a finite number > 0");
        return LUT_EINVAL;
    }
    if (cycles && dev->clock_mhz <= 0) {
        Lut_error_set(err, "clock_mhz", "is required (> 0) when unit is \"cycles\"");
        return LUT_EINVAL;
    }
    if (strnlen(dev->kind, sizeof dev->kind) == sizeof dev->kind) {
        Lut_error_set(err, "kind", "must be at most %d bytes", LUT_KIND_MAX - 1);
        return LUT_EINVAL;
    }
    if (strnlen(dev->description, sizeof dev->description) ==
        sizeof dev->description) {
        Lut_error_set(err, "description", "must be at most %d bytes",
                      LUT_DESC_MAX - 1);
        return LUT_EINVAL;
    }
    if (dev->measured != 0 && dev->measured != 1) {
        Lut_error_set(err, "measured", "must be 0 or 1 (false or true)");
        return LUT_EINVAL;
    }
    return LUT_OK;
}

double lut_device_ms_per_unit(const lut_device *dev)
{
    if (strncmp(dev->unit, "us", sizeof dev->unit) == 0)
        return 1e-3;
    if (strncmp(dev->unit, "cycles", sizeof dev->unit) == 0 && isfinite(dev->clock_mhz) &&
        dev->clock_mhz > 0)
        return 1.0 / (dev->clock_mhz * 1e3);
    return 0.0;
}

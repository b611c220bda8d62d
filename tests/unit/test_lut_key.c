/*
 * test_lut_key.c — layer keys: canonical form, validation, cost arithmetic,
 * canonical text, hashing, latency statistics, device field checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lut.h"

/* ------------------------------------------------------------- helpers */

/* A key as a client would give it. In a spec, 0 means "not given" and
 * GIVEN_ZERO an explicit 0 (every other value is passed through). */
#define GIVEN_ZERO INT64_MIN

typedef struct spec {
    const char *op;
    int64_t cin, cout, k, stride, dilation, groups, h, w, pad, out_h, out_w;
    int64_t bias, bn;
    const char *dtype;
} spec;

static int64_t given(int64_t v)
{
    if (v == 0)
        return LUT_UNSET;
    return v == GIVEN_ZERO ? 0 : v;
}

static lut_key raw_key(spec s)
{
    lut_key k;

    lut_key_init(&k);
    if (s.op)
        snprintf(k.op, sizeof k.op, "%s", s.op);
    if (s.dtype)
        snprintf(k.dtype, sizeof k.dtype, "%s", s.dtype);
    k.cin = given(s.cin);
    k.cout = given(s.cout);
    k.k = given(s.k);
    k.stride = given(s.stride);
    k.dilation = given(s.dilation);
    k.groups = given(s.groups);
    k.h = given(s.h);
    k.w = given(s.w);
    k.pad = given(s.pad);
    k.out_h = given(s.out_h);
    k.out_w = given(s.out_w);
    k.bias = given(s.bias);
    k.bn = given(s.bn);
    return k;
}

/* Canonical key of a spec that must be valid. */
static lut_key canon(spec s)
{
    lut_key k = raw_key(s);
    lut_error err = {0, "", ""};
    int rc = lut_key_canonicalize(&k, &err);

    if (rc != 0)
        fail_msg("%s: %s %s", s.op ? s.op : "(null)", err.field, err.reason);
    return k;
}

static void text_of(const lut_key *k, char *buf)
{
    int n = lut_key_format(k, buf, LUT_KEY_TEXT_MAX);

    assert_true(n > 0);
    assert_int_equal((size_t)n, strlen(buf));
}

static void assert_same_key(spec a, spec b)
{
    lut_key ka = canon(a), kb = canon(b);
    char ta[LUT_KEY_TEXT_MAX], tb[LUT_KEY_TEXT_MAX];

    text_of(&ka, ta);
    text_of(&kb, tb);
    assert_string_equal(ta, tb);
    assert_true(lut_key_equal(&ka, &kb));
    assert_true(memcmp(&ka, &kb, sizeof ka) == 0);
    assert_true(lut_key_hash(&ka) == lut_key_hash(&kb));
}

static lut_cost cost_of(spec s)
{
    lut_key k = canon(s);
    lut_cost c;
    lut_error err = {0, "", ""};

    if (lut_key_cost(&k, &c, &err) != 0)
        fail_msg("cost: %s %s", err.field, err.reason);
    return c;
}

static void assert_cost(spec s, int64_t oc, int64_t oh, int64_t ow,
                        uint64_t macs, uint64_t params)
{
    lut_cost c = cost_of(s);

    assert_int_equal(c.out_c, oc);
    assert_int_equal(c.out_h, oh);
    assert_int_equal(c.out_w, ow);
    assert_int_equal(c.macs, macs);
    assert_int_equal(c.params, params);
}

/* xorshift64*: deterministic test randomness. */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * UINT64_C(2685821657736338717);
}

static int64_t rng_range(uint64_t *s, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(rng_next(s) % (uint64_t)(hi - lo + 1));
}

static double rng_unit(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) / 9007199254740992.0;
}

static lut_key random_key(uint64_t *rng);

/* ------------------------------------------------------ canonical form */

static void test_format_header_example(void **state)
{
    char text[LUT_KEY_TEXT_MAX];
    lut_key k = canon((spec){.op = "conv2d", .cin = 3, .cout = 32, .k = 3,
                             .stride = 2, .h = 513, .w = 513, .bn = 1});

    (void)state;
    text_of(&k, text);
    assert_string_equal(
        text, "conv2d;cin=3;cout=32;k=3;s=2;d=1;g=1;p=1;h=513;w=513;oh=0;ow=0;b=0;bn=1;fp32");
}

static void test_defaults_spelled_out_same_key(void **state)
{
    (void)state;
    /* conv2d: every default written out, and out_h/out_w it does not use. */
    assert_same_key((spec){.op = "conv2d", .cin = 16, .cout = 32, .h = 56, .w = 56},
                    (spec){.op = "conv2d", .cin = 16, .cout = 32, .h = 56, .w = 56,
                           .k = 1, .stride = 1, .dilation = 1, .groups = 1,
                           .pad = GIVEN_ZERO, .bias = GIVEN_ZERO, .bn = GIVEN_ZERO,
                           .dtype = "fp32", .out_h = 9, .out_w = 9});
    /* pad default dilation*(k-1)/2 = 2*(3-1)/2 = 2 */
    assert_same_key((spec){.op = "conv2d", .cin = 8, .cout = 8, .k = 3, .dilation = 2,
                           .h = 33, .w = 33},
                    (spec){.op = "conv2d", .cin = 8, .cout = 8, .k = 3, .dilation = 2,
                           .pad = 2, .h = 33, .w = 33});
    /* Ops that keep channels: cout spelled out as cin. */
    assert_same_key((spec){.op = "relu", .cin = 64, .h = 7, .w = 7},
                    (spec){.op = "relu", .cin = 64, .cout = 64, .h = 7, .w = 7});
    /* concat: cin defaults to cout. */
    assert_same_key((spec){.op = "concat", .cout = 304, .h = 129, .w = 129},
                    (spec){.op = "concat", .cin = 304, .cout = 304, .h = 129, .w = 129});
    /* linear: h and w default to 1. */
    assert_same_key((spec){.op = "linear", .cin = 512, .cout = 10},
                    (spec){.op = "linear", .cin = 512, .cout = 10, .h = 1, .w = 1});
    /* Unknown ops: spelled-out k/stride/... defaults change nothing. */
    assert_same_key((spec){.op = "softmax", .cin = 21},
                    (spec){.op = "softmax", .cin = 21, .k = 1, .stride = 1,
                           .dilation = 1, .groups = 1, .pad = GIVEN_ZERO,
                           .bias = GIVEN_ZERO, .bn = GIVEN_ZERO, .dtype = "fp32"});
}

static void test_unused_attributes_ignored(void **state)
{
    (void)state;
    /* Elementwise ops use none of the window, group, bias or target-size
     * attributes. */
    assert_same_key((spec){.op = "relu", .cin = 64, .h = 7, .w = 7},
                    (spec){.op = "relu", .cin = 64, .h = 7, .w = 7, .k = 3,
                           .stride = 2, .dilation = 2, .groups = 4, .pad = 5,
                           .bias = 1, .bn = 1, .out_h = 3, .out_w = 3});
    /* Ignored means ignored: even values that would be invalid. */
    assert_same_key((spec){.op = "relu", .cin = 64, .h = 7, .w = 7},
                    (spec){.op = "relu", .cin = 64, .h = 7, .w = 7,
                           .k = GIVEN_ZERO, .groups = -4, .out_h = 1 << 20});
    assert_same_key((spec){.op = "add", .cin = 64, .h = 7, .w = 9},
                    (spec){.op = "add", .cin = 64, .h = 7, .w = 9, .k = 5, .groups = 2});
    assert_same_key((spec){.op = "concat", .cout = 64, .h = 7, .w = 9},
                    (spec){.op = "concat", .cout = 64, .h = 7, .w = 9, .k = 3,
                           .stride = 3, .out_h = 14});
    assert_same_key((spec){.op = "global_avgpool", .cin = 2048, .h = 33, .w = 33},
                    (spec){.op = "global_avgpool", .cin = 2048, .h = 33, .w = 33,
                           .k = 3, .stride = 2, .pad = 1, .bias = 1});
    assert_same_key((spec){.op = "upsample", .cin = 256, .h = 33, .w = 33,
                           .out_h = 129, .out_w = 129},
                    (spec){.op = "upsample", .cin = 256, .h = 33, .w = 33,
                           .out_h = 129, .out_w = 129, .k = 3, .stride = 4,
                           .dilation = 2, .groups = 8, .pad = 3});
    /* Pools use the window but not groups, bias, bn or the target size. */
    assert_same_key((spec){.op = "maxpool", .cin = 64, .k = 3, .stride = 2,
                           .h = 513, .w = 513},
                    (spec){.op = "maxpool", .cin = 64, .k = 3, .stride = 2,
                           .h = 513, .w = 513, .groups = 64, .bias = 1, .bn = 1,
                           .out_h = 2, .out_w = 2});
    /* linear: k, stride, dilation, groups, pad and the target size unused. */
    assert_same_key((spec){.op = "linear", .cin = 512, .cout = 10, .bias = 1},
                    (spec){.op = "linear", .cin = 512, .cout = 10, .bias = 1,
                           .k = 3, .stride = 2, .dilation = 3, .groups = 2,
                           .pad = 7, .out_h = 4, .out_w = 4});
}

static void test_pool_window_attributes_matter(void **state)
{
    lut_key a = canon((spec){.op = "avgpool", .cin = 64, .k = 3, .h = 9, .w = 9});
    lut_key b = canon((spec){.op = "avgpool", .cin = 64, .k = 3, .stride = 2,
                             .h = 9, .w = 9});
    lut_key c = canon((spec){.op = "avgpool", .cin = 64, .k = 3, .pad = GIVEN_ZERO,
                             .h = 9, .w = 9});

    (void)state;
    assert_false(lut_key_equal(&a, &b));
    assert_false(lut_key_equal(&a, &c));
    assert_int_equal(a.pad, 1);
    assert_int_equal(a.groups, 1);
}

static void test_canonicalize_idempotent(void **state)
{
    lut_key k = canon((spec){.op = "conv2d", .cin = 32, .cout = 64, .k = 3,
                             .groups = 32, .h = 10, .w = 12, .bias = 1});
    lut_key again = k;

    uint64_t rng = 5;
    int i;

    (void)state;
    assert_int_equal(lut_key_canonicalize(&again, NULL), LUT_OK);
    assert_true(lut_key_equal(&k, &again));
    /* Known ops: a canonical key canonicalizes to itself. (Unknown ops
     * store sizes never given as 0, which is not a valid given size.) */
    for (i = 0; i < 5000; i++) {
        lut_key r = random_key(&rng);
        if (strcmp(r.op, "x") == 0 || strcmp(r.op, "hardswish") == 0)
            continue;
        again = r;
        assert_int_equal(lut_key_canonicalize(&again, NULL), LUT_OK);
        assert_true(lut_key_equal(&r, &again));
    }
}

static void test_trailing_bytes_zeroed(void **state)
{
    lut_key a = raw_key((spec){.op = "relu", .cin = 4, .h = 2, .w = 2});
    lut_key b = a;

    (void)state;
    /* Garbage after the NUL of op and dtype must not make another key. */
    memset(b.op + 5, 'x', sizeof b.op - 6);
    memcpy(b.dtype, "fp32\0zz", 7);
    assert_int_equal(lut_key_canonicalize(&a, NULL), LUT_OK);
    assert_int_equal(lut_key_canonicalize(&b, NULL), LUT_OK);
    assert_true(lut_key_equal(&a, &b));
    assert_true(lut_key_hash(&a) == lut_key_hash(&b));
}

static void test_unknown_op_kept(void **state)
{
    char text[LUT_KEY_TEXT_MAX];
    lut_key bare = canon((spec){.op = "softmax"});
    lut_key full = canon((spec){.op = "my_op2", .cin = 3, .cout = 5, .k = 3,
                                .stride = 2, .groups = 7, .h = 10,
                                .out_h = 4, .bias = 1, .dtype = "int8"});
    lut_cost c;

    (void)state;
    text_of(&bare, text);
    assert_string_equal(
        text, "softmax;cin=0;cout=0;k=1;s=1;d=1;g=1;p=0;h=0;w=0;oh=0;ow=0;b=0;bn=0;fp32");
    text_of(&full, text);
    /* Given values kept (groups need not divide: the op is unknown), pad
     * defaulted to 1*(3-1)/2 = 1, unset sizes 0. */
    assert_string_equal(
        text, "my_op2;cin=3;cout=5;k=3;s=2;d=1;g=7;p=1;h=10;w=0;oh=4;ow=0;b=1;bn=0;int8");
    assert_int_equal(lut_key_cost(&full, &c, NULL), LUT_OK);
    assert_int_equal(c.macs, 0);
    assert_int_equal(c.params, 0);
    assert_int_equal(c.out_c, 5);
    assert_int_equal(c.out_h, 10);
}

/* ---------------------------------------------------------- validation */

typedef struct bad_case {
    spec s;
    const char *field;
    const char *reason_part;
} bad_case;

static void test_invalid_keys(void **state)
{
    static const bad_case cases[] = {
        /* missing required fields */
        {{.op = "conv2d", .cout = 8, .h = 4, .w = 4}, "cin", "is required for conv2d"},
        {{.op = "conv2d", .cin = 8, .h = 4, .w = 4}, "cout", "is required"},
        {{.op = "conv2d", .cin = 8, .cout = 8, .w = 4}, "h", "is required"},
        {{.op = "conv2d", .cin = 8, .cout = 8, .h = 4}, "w", "is required"},
        {{.op = "linear", .cin = 8}, "cout", "is required for linear"},
        {{.op = "avgpool", .h = 4, .w = 4}, "cin", "is required"},
        {{.op = "maxpool", .cin = 4, .w = 4}, "h", "is required"},
        {{.op = "global_avgpool", .cin = 4, .h = 4}, "w", "is required"},
        {{.op = "upsample", .cin = 4, .h = 4, .w = 4, .out_w = 8}, "out_h", "is required"},
        {{.op = "upsample", .cin = 4, .h = 4, .w = 4, .out_h = 8}, "out_w", "is required"},
        {{.op = "add", .h = 4, .w = 4}, "cin", "is required for add"},
        {{.op = "relu", .cin = 4, .h = 4}, "w", "is required"},
        {{.op = "concat", .cin = 4, .h = 4, .w = 4}, "cout", "is required for concat"},
        /* op and dtype */
        {{.op = ""}, "op", "is required"},
        {{.op = "Conv2d", .cin = 1}, "op", "[a-z0-9_]"},
        {{.op = "conv-2d"}, "op", "[a-z0-9_]"},
        {{.op = "conv2d", .cin = 8, .cout = 8, .h = 4, .w = 4, .dtype = "FP16"},
         "dtype", "[a-z0-9_]"},
        {{.op = "relu", .cin = 8, .h = 4, .w = 4, .dtype = "fp 16"}, "dtype", "[a-z0-9_]"},
        /* zero, negative and huge values */
        {{.op = "conv2d", .cin = GIVEN_ZERO, .cout = 8, .h = 4, .w = 4}, "cin",
         "must be between 1 and 1048576"},
        {{.op = "conv2d", .cin = -5, .cout = 8, .h = 4, .w = 4}, "cin",
         "must be between 1 and 1048576"},
        {{.op = "conv2d", .cin = 8, .cout = 1048577, .h = 4, .w = 4}, "cout",
         "must be between 1 and 1048576"},
        {{.op = "conv2d", .cin = 8, .cout = 8, .h = INT64_MAX, .w = 4}, "h",
         "must be between 1 and 65536"},
        {{.op = "conv2d", .cin = 8, .cout = 8, .h = 4, .w = 65537}, "w",
         "must be between 1 and 65536"},
        {{.op = "conv2d", .cin = 8, .cout = 8, .h = 4, .w = 4, .k = 256}, "k",
         "must be between 1 and 255"},
        {{.op = "conv2d", .cin = 8, .cout = 8, .h = 4, .w = 4, .k = GIVEN_ZERO}, "k",
         "must be between 1 and 255"},
        {{.op = "conv2d", .cin = 8, .cout = 8, .h = 4, .w = 4, .stride = GIVEN_ZERO},
         "stride", "must be between 1 and 255"},
        {{.op = "conv2d", .cin = 8, .cout = 8, .h = 4, .w = 4, .dilation = 1000},
         "dilation", "must be between 1 and 255"},
        {{.op = "conv2d", .cin = 8, .cout = 8, .h = 4, .w = 4, .groups = GIVEN_ZERO},
         "groups", "must be between 1"},
        {{.op = "conv2d", .cin = 8, .cout = 8, .h = 4, .w = 4, .pad = -2}, "pad",
         "must be between 0 and 65536"},
        {{.op = "conv2d", .cin = 8, .cout = 8, .h = 4, .w = 4, .pad = 65537}, "pad",
         "must be between 0 and 65536"},
        {{.op = "upsample", .cin = 4, .h = 4, .w = 4, .out_h = GIVEN_ZERO, .out_w = 8},
         "out_h", "must be between 1 and 65536"},
        {{.op = "conv2d", .cin = 8, .cout = 8, .h = 4, .w = 4, .bias = 2}, "bias",
         "must be 0 or 1"},
        {{.op = "linear", .cin = 8, .cout = 8, .bn = -3}, "bn", "must be 0 or 1"},
        {{.op = "somethingelse", .cin = -7}, "cin", "between"},
        /* groups */
        {{.op = "conv2d", .cin = 30, .cout = 64, .groups = 4, .h = 4, .w = 4}, "groups",
         "must divide cin (30) and cout (64)"},
        {{.op = "conv2d", .cin = 32, .cout = 30, .groups = 4, .h = 4, .w = 4}, "groups",
         "must divide cin (32) and cout (30)"},
        {{.op = "conv2d", .cin = 32, .cout = 32, .groups = 64, .h = 4, .w = 4}, "groups",
         "must divide"},
        /* channel-keeping ops */
        {{.op = "relu", .cin = 8, .cout = 16, .h = 4, .w = 4}, "cout", "must equal cin (8)"},
        {{.op = "maxpool", .cin = 8, .cout = 4, .h = 4, .w = 4}, "cout", "must equal cin"},
        /* empty outputs: (3 + 0 - 4 - 1)/1 + 1 = -1 */
        {{.op = "conv2d", .cin = 8, .cout = 8, .k = 5, .pad = GIVEN_ZERO, .h = 3, .w = 9},
         "h", "empty output"},
        {{.op = "conv2d", .cin = 8, .cout = 8, .k = 5, .pad = GIVEN_ZERO, .h = 9, .w = 4},
         "w", "empty output"},
        /* dilated: 2*(3-1)+1 = 5 > 4 */
        {{.op = "maxpool", .cin = 8, .k = 3, .dilation = 2, .pad = GIVEN_ZERO, .h = 4, .w = 4},
         "h", "empty output"},
        /* costs past 2^62: 2^20 * 2^20 * 255^2 * 65536^2 */
        {{.op = "conv2d", .cin = 1048576, .cout = 1048576, .k = 255, .h = 65536, .w = 65536},
         "macs", "2^62"},
        {{.op = "linear", .cin = 1048576, .cout = 1048576, .h = 65536, .w = 65536},
         "macs", "2^62"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lut_key k = raw_key(cases[i].s);
        lut_error err = {0, "", ""};
        int rc = lut_key_canonicalize(&k, &err);

        if (rc != LUT_EINVAL || strcmp(err.field, cases[i].field) != 0 ||
            !strstr(err.reason, cases[i].reason_part))
            fail_msg("case %zu (%s): rc %d field '%s' reason '%s'; want field '%s' "
                     "reason containing '%s'",
                     i, cases[i].s.op, rc, err.field, err.reason, cases[i].field,
                     cases[i].reason_part);
        assert_int_equal(err.row, -1);
    }
}

static void test_invalid_op_too_long(void **state)
{
    lut_key k;
    lut_error err;

    (void)state;
    lut_key_init(&k);
    memset(k.op, 'a', sizeof k.op); /* no NUL inside the array */
    assert_int_equal(lut_key_canonicalize(&k, &err), LUT_EINVAL);
    assert_string_equal(err.field, "op");
    lut_key_init(&k);
    memset(k.op, 'a', sizeof k.op - 1); /* 31 characters: the longest */
    assert_int_equal(lut_key_canonicalize(&k, NULL), LUT_OK);
    lut_key_init(&k);
    memcpy(k.op, "relu", 4);
    memset(k.dtype, 'x', sizeof k.dtype);
    k.cin = 1;
    k.h = 1;
    k.w = 1;
    assert_int_equal(lut_key_canonicalize(&k, &err), LUT_EINVAL);
    assert_string_equal(err.field, "dtype");
}

static void test_depthwise(void **state)
{
    /* Depthwise 3x3, stride 2, on 513: pad 1, out (513+2-3)/2+1 = 257.
     * MACs = 32 * (32/32) * 9 * 257 * 257 = 288 * 66049 = 19022112.
     * params = 288 weights + 2*32 (bn) = 352. */
    (void)state;
    assert_cost((spec){.op = "conv2d", .cin = 32, .cout = 32, .groups = 32, .k = 3,
                       .stride = 2, .h = 513, .w = 513, .bn = 1},
                32, 257, 257, UINT64_C(19022112), 352);
    /* Depthwise with channel multiplier 2: cout 64, groups 32.
     * MACs = 64 * 1 * 9 * 8 * 8 = 36864; params = 576 + 64 bias = 640. */
    assert_cost((spec){.op = "conv2d", .cin = 32, .cout = 64, .groups = 32, .k = 3,
                       .h = 8, .w = 8, .bias = 1},
                64, 8, 8, 36864, 640);
}

/* --------------------------------------------------------------- costs */

static void test_cost_conv2d(void **state)
{
    (void)state;
    /* k3 s2 pad 0 on 513: floor((513 + 0 - 2 - 1)/2) + 1 = 255 + 1 = 256.
     * MACs = 32 * 3 * 9 * 256 * 256 = 864 * 65536 = 56623104; params 864. */
    assert_cost((spec){.op = "conv2d", .cin = 3, .cout = 32, .k = 3, .stride = 2,
                       .pad = GIVEN_ZERO, .h = 513, .w = 513},
                32, 256, 256, UINT64_C(56623104), 864);
    /* Same with the default pad 1: floor((513 + 2 - 3)/2) + 1 = 257.
     * MACs = 864 * 257 * 257 = 864 * 66049 = 57066336; params 864 + 2*32. */
    assert_cost((spec){.op = "conv2d", .cin = 3, .cout = 32, .k = 3, .stride = 2,
                       .h = 513, .w = 513, .bn = 1},
                32, 257, 257, UINT64_C(57066336), 928);
    /* Dilation 2, k3 on 33: pad 2, out (33 + 4 - 4 - 1)/1 + 1 = 33.
     * MACs = 16 * 16 * 9 * 33 * 33 = 2304 * 1089 = 2509056; params 2304 + 16. */
    assert_cost((spec){.op = "conv2d", .cin = 16, .cout = 16, .k = 3, .dilation = 2,
                       .h = 33, .w = 33, .bias = 1},
                16, 33, 33, UINT64_C(2509056), 2320);
    /* Dilation 6 (ASPP), k3, pad 6 on 33 -> 33; dilation 12 with pad 0 on
     * 33: (33 - 24 - 1)/1 + 1 = 9. MACs = 8 * 8 * 9 * 81 = 46656. */
    assert_cost((spec){.op = "conv2d", .cin = 8, .cout = 8, .k = 3, .dilation = 12,
                       .pad = GIVEN_ZERO, .h = 33, .w = 33},
                8, 9, 9, 46656, 576);
    /* Grouped: cin 32 cout 64 g 4 k3 pad 1 on 17 x 9 -> 17 x 9.
     * MACs = 64 * 8 * 9 * 17 * 9 = 4608 * 153 = 705024; params 4608 + 64. */
    assert_cost((spec){.op = "conv2d", .cin = 32, .cout = 64, .groups = 4, .k = 3,
                       .h = 17, .w = 9, .bias = 1},
                64, 17, 9, UINT64_C(705024), 4672);
    /* Strided grouped, odd sizes: cin 30 cout 60 g 3 k5 s3 pad 2 on 513 x 77:
     * h: floor((513 + 4 - 4 - 1)/3) + 1 = floor(512/3) + 1 = 170 + 1 = 171
     * w: floor((77 + 4 - 5)/3) + 1 = floor(76/3) + 1 = 25 + 1 = 26
     * MACs = 60 * 10 * 25 * 171 * 26 = 15000 * 4446 = 66690000. */
    assert_cost((spec){.op = "conv2d", .cin = 30, .cout = 60, .groups = 3, .k = 5,
                       .stride = 3, .h = 513, .w = 77},
                60, 171, 26, UINT64_C(66690000), 15000);
    /* 1x1 stride 2 on 513: floor(512/2) + 1 = 257; 2*257*257*64*128. */
    assert_cost((spec){.op = "conv2d", .cin = 64, .cout = 128, .stride = 2,
                       .h = 513, .w = 513},
                128, 257, 257, UINT64_C(8192) * 66049, 8192);
    /* Even kernel: k2, pad 1*(2-1)/2 = 0, stride 2 on 7: floor(5/2)+1 = 3. */
    assert_cost((spec){.op = "conv2d", .cin = 1, .cout = 1, .k = 2, .stride = 2,
                       .h = 7, .w = 7},
                1, 3, 3, 36, 4);
    /* Large pad: k3 pad 5 on 1: floor((1 + 10 - 3)/1) + 1 = 9. */
    assert_cost((spec){.op = "conv2d", .cin = 1, .cout = 2, .k = 3, .pad = 5,
                       .h = 1, .w = 1},
                2, 9, 9, UINT64_C(2) * 9 * 81, 18);
}

static void test_cost_linear(void **state)
{
    (void)state;
    /* 512 -> 1000 with bias: MACs 512000; params 512000 + 1000. */
    assert_cost((spec){.op = "linear", .cin = 512, .cout = 1000, .bias = 1},
                1000, 1, 1, 512000, 513000);
    /* Per position on 4 x 3: MACs 512000 * 12; bn adds 2*1000. */
    assert_cost((spec){.op = "linear", .cin = 512, .cout = 1000, .h = 4, .w = 3, .bn = 1},
                1000, 4, 3, UINT64_C(6144000), 514000);
}

static void test_cost_pools(void **state)
{
    (void)state;
    /* avgpool k3 s2 default pad 1 on 513: floor(512/2) + 1 = 257. */
    assert_cost((spec){.op = "avgpool", .cin = 64, .k = 3, .stride = 2,
                       .h = 513, .w = 513},
                64, 257, 257, 0, 0);
    /* maxpool k2 s2 pad 0 on 513: floor((513 - 2)/2) + 1 = 255 + 1 = 256. */
    assert_cost((spec){.op = "maxpool", .cin = 64, .k = 2, .stride = 2,
                       .h = 513, .w = 513},
                64, 256, 256, 0, 0);
    /* dilated maxpool k3 d2 pad 0 on 33 x 10: (33-5)/1+1 = 29, (10-5)+1 = 6. */
    assert_cost((spec){.op = "maxpool", .cin = 8, .k = 3, .dilation = 2,
                       .pad = GIVEN_ZERO, .h = 33, .w = 10},
                8, 29, 6, 0, 0);
    /* avgpool with no window: k 1 -> same size. */
    assert_cost((spec){.op = "avgpool", .cin = 3, .h = 5, .w = 6}, 3, 5, 6, 0, 0);
    assert_cost((spec){.op = "global_avgpool", .cin = 2048, .h = 33, .w = 65},
                2048, 1, 1, 0, 0);
}

static void test_cost_other_ops(void **state)
{
    (void)state;
    assert_cost((spec){.op = "upsample", .cin = 256, .h = 33, .w = 33,
                       .out_h = 129, .out_w = 130},
                256, 129, 130, 0, 0);
    assert_cost((spec){.op = "add", .cin = 256, .h = 129, .w = 65}, 256, 129, 65, 0, 0);
    assert_cost((spec){.op = "relu", .cin = 32, .h = 257, .w = 257}, 32, 257, 257, 0, 0);
    assert_cost((spec){.op = "concat", .cin = 48, .cout = 304, .h = 129, .w = 129},
                304, 129, 129, 0, 0);
    assert_cost((spec){.op = "concat", .cout = 304, .h = 129, .w = 129},
                304, 129, 129, 0, 0);
    assert_cost((spec){.op = "dropout", .cin = 7, .h = 3, .w = 2}, 7, 3, 2, 0, 0);
}

static void test_cost_rejects_non_canonical(void **state)
{
    lut_key k = raw_key((spec){.op = "conv2d", .cin = 8, .cout = 8, .h = 4});
    lut_cost c;
    lut_error err;

    (void)state;
    /* w unset (-1): no division by zero, no wrap; a named field. */
    assert_int_equal(lut_key_cost(&k, &c, &err), LUT_EINVAL);
}

/* ---------------------------------------------------------------- text */

static lut_key random_key(uint64_t *rng)
{
    static const char *ops[] = {"conv2d", "linear", "avgpool", "maxpool",
                                "global_avgpool", "upsample", "add", "relu",
                                "concat", "hardswish", "x"};
    static const char *dtypes[] = {NULL, "fp32", "fp16", "int8", "uint8_q"};
    for (;;) {
        lut_key k;
        int64_t g;

        lut_key_init(&k);
        snprintf(k.op, sizeof k.op, "%s", ops[rng_range(rng, 0, 10)]);
        if (dtypes[rng_range(rng, 0, 4)])
            snprintf(k.dtype, sizeof k.dtype, "%s", dtypes[rng_range(rng, 1, 4)]);
        g = rng_range(rng, 0, 3) == 0 ? rng_range(rng, 1, 8) : LUT_UNSET;
        k.cin = rng_range(rng, 1, 2048) * (g > 0 ? g : 1);
        k.cout = rng_range(rng, 1, 2048) * (g > 0 ? g : 1);
        if (rng_range(rng, 0, 1))
            k.k = rng_range(rng, 1, 7);
        if (rng_range(rng, 0, 1))
            k.stride = rng_range(rng, 1, 4);
        if (rng_range(rng, 0, 3) == 0)
            k.dilation = rng_range(rng, 1, 12);
        k.groups = g;
        k.h = rng_range(rng, 1, 1025);
        k.w = rng_range(rng, 1, 1025);
        if (rng_range(rng, 0, 3) == 0)
            k.pad = rng_range(rng, 0, 6);
        k.out_h = rng_range(rng, 1, 2049);
        k.out_w = rng_range(rng, 1, 2049);
        if (rng_range(rng, 0, 1))
            k.bias = rng_range(rng, 0, 1);
        if (rng_range(rng, 0, 1))
            k.bn = rng_range(rng, 0, 1);
        if (strcmp(k.op, "relu") == 0 || strcmp(k.op, "add") == 0 ||
            strstr(k.op, "pool") || strcmp(k.op, "upsample") == 0)
            k.cout = LUT_UNSET;
        if (strcmp(k.op, "x") == 0 && rng_range(rng, 0, 1))
            k.cin = LUT_UNSET;
        if (lut_key_canonicalize(&k, NULL) == 0)
            return k;
    }
}

static void test_format_parse_round_trip(void **state)
{
    uint64_t rng = 42;
    int i;

    (void)state;
    for (i = 0; i < 20000; i++) {
        lut_key k = random_key(&rng), back;
        char text[LUT_KEY_TEXT_MAX], again[LUT_KEY_TEXT_MAX];
        int n = lut_key_format(&k, text, sizeof text);

        assert_true(n > 0);
        assert_int_equal(lut_key_parse(text, (size_t)n, &back), LUT_OK);
        assert_true(lut_key_equal(&k, &back));
        assert_true(lut_key_hash(&k) == lut_key_hash(&back));
        assert_int_equal(lut_key_format(&back, again, sizeof again), n);
        assert_string_equal(text, again);
    }
}

static void test_format_short_buffer(void **state)
{
    lut_key k = canon((spec){.op = "relu", .cin = 3, .h = 4, .w = 4});
    char buf[LUT_KEY_TEXT_MAX];
    int n;

    (void)state;
    n = lut_key_format(&k, buf, sizeof buf);
    assert_true(n > 0);
    assert_true(lut_key_format(&k, buf, (size_t)n) < 0);
    assert_int_equal(lut_key_format(&k, buf, (size_t)n + 1), n);
}

static void test_parse_rejects(void **state)
{
    static const char *bad[] = {
        "",
        "relu",
        "relu;cin=3;cout=3;k=1;s=1;d=1;g=1;p=0;h=4;w=4;oh=0;ow=0;b=0;bn=0",
        "relu;cin=3;cout=3;k=1;s=1;d=1;g=1;p=0;h=4;w=4;oh=0;ow=0;b=0;bn=0;",
        "relu;cin=3;cout=3;k=1;s=1;d=1;g=1;p=0;h=4;w=4;oh=0;ow=0;b=0;bn=0;fp32;",
        "relu;cin=03;cout=3;k=1;s=1;d=1;g=1;p=0;h=4;w=4;oh=0;ow=0;b=0;bn=0;fp32",
        "relu;cin=+3;cout=3;k=1;s=1;d=1;g=1;p=0;h=4;w=4;oh=0;ow=0;b=0;bn=0;fp32",
        "relu;cin=-3;cout=3;k=1;s=1;d=1;g=1;p=0;h=4;w=4;oh=0;ow=0;b=0;bn=0;fp32",
        "relu;cin= 3;cout=3;k=1;s=1;d=1;g=1;p=0;h=4;w=4;oh=0;ow=0;b=0;bn=0;fp32",
        "relu;cout=3;cin=3;k=1;s=1;d=1;g=1;p=0;h=4;w=4;oh=0;ow=0;b=0;bn=0;fp32",
        "Relu;cin=3;cout=3;k=1;s=1;d=1;g=1;p=0;h=4;w=4;oh=0;ow=0;b=0;bn=0;fp32",
        "relu;cin=3;cout=3;k=1;s=1;d=1;g=1;p=0;h=4;w=4;oh=0;ow=0;b=0;bn=0;FP32",
        /* not canonical: relu does not use k, cout must be cin */
        "relu;cin=3;cout=3;k=3;s=1;d=1;g=1;p=0;h=4;w=4;oh=0;ow=0;b=0;bn=0;fp32",
        "relu;cin=3;cout=5;k=1;s=1;d=1;g=1;p=0;h=4;w=4;oh=0;ow=0;b=0;bn=0;fp32",
        /* not canonical: conv2d needs cin >= 1; groups must divide */
        "conv2d;cin=0;cout=3;k=1;s=1;d=1;g=1;p=0;h=4;w=4;oh=0;ow=0;b=0;bn=0;fp32",
        "conv2d;cin=3;cout=3;k=1;s=1;d=1;g=2;p=0;h=4;w=4;oh=0;ow=0;b=0;bn=0;fp32",
        "conv2d;cin=3;cout=3;k=1;s=1;d=1;g=1;p=0;h=4;w=4;oh=1;ow=0;b=0;bn=0;fp32",
        "conv2d;cin=3;cout=3;k=1;s=1;d=1;g=1;p=0;h=4;w=4;oh=0;ow=0;b=2;bn=0;fp32",
        "conv2d;cin=3;cout=3;k=1;s=1;d=1;g=1;p=0;h=4;w=4;oh=0;ow=0;b=0;bn=0;fp32x9999999999999",
        "conv2d;cin=99999999999999999999;cout=3;k=1;s=1;d=1;g=1;p=0;h=4;w=4;oh=0;ow=0;b=0;bn=0;fp32",
        "foo;cin=0;cout=0;k=0;s=1;d=1;g=1;p=0;h=0;w=0;oh=0;ow=0;b=0;bn=0;fp32",
    };
    static const char good[] =
        "relu;cin=3;cout=3;k=1;s=1;d=1;g=1;p=0;h=4;w=4;oh=0;ow=0;b=0;bn=0;fp32";
    lut_key k;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (lut_key_parse(bad[i], strlen(bad[i]), &k) != LUT_EINVAL)
            fail_msg("accepted bad text %zu: %s", i, bad[i]);
    assert_int_equal(lut_key_parse(good, strlen(good), &k), LUT_OK);
    /* len is honored: a prefix is not the key, nor is a NUL inside. */
    assert_int_equal(lut_key_parse(good, strlen(good) - 1, &k), LUT_OK); /* "fp3" */
    assert_string_equal(k.dtype, "fp3");
    assert_int_equal(lut_key_parse(good, strlen(good) - 5, &k), LUT_EINVAL);
    assert_int_equal(lut_key_parse(good, sizeof good, &k), LUT_EINVAL);
    assert_int_equal(lut_key_parse(NULL, 0, &k), LUT_EINVAL);
}

/* ---------------------------------------------------------------- hash */

static void test_hash_stable_and_spread(void **state)
{
    lut_key k = canon((spec){.op = "conv2d", .cin = 3, .cout = 32, .k = 3,
                             .stride = 2, .h = 513, .w = 513, .bn = 1});
    uint64_t rng = 7;
    size_t n = 20000, i, collisions = 0, low_collisions = 0;
    uint64_t *hashes = malloc(n * sizeof *hashes);
    unsigned char *seen = calloc(1u << 16, 1);
    char (*texts)[LUT_KEY_TEXT_MAX] = malloc(n * sizeof *texts);

    (void)state;
    assert_non_null(hashes);
    assert_non_null(seen);
    assert_non_null(texts);
    /* The value is part of the contract (stable across runs and machines):
     * it is pinned here so that a change to the function is noticed. */
    assert_true(lut_key_hash(&k) == UINT64_C(0x12a4a57b3e4520a6));

    for (i = 0; i < n; i++) {
        lut_key r = random_key(&rng);
        size_t j;
        hashes[i] = lut_key_hash(&r);
        assert_true(lut_key_format(&r, texts[i], LUT_KEY_TEXT_MAX) > 0);
        for (j = 0; j < i; j++)
            if (hashes[j] == hashes[i] && strcmp(texts[j], texts[i]) != 0)
                collisions++;
        if (seen[hashes[i] & 0xffff])
            low_collisions++;
        seen[hashes[i] & 0xffff] = 1;
    }
    assert_int_equal(collisions, 0);
    /* 20000 keys into 65536 buckets by the low 16 bits: about 2700
     * collisions expected for a uniform hash (duplicate keys add a few). */
    assert_true(low_collisions < 4000);
    free(hashes);
    free(seen);
    free(texts);
}

/* --------------------------------------------------------- packed keys */

static int pkey_same(const lut_pkey *a, const lut_pkey *b)
{
    return memcmp(a, b, sizeof *a) == 0;
}

/* Packing is exact: on random canonical keys, two keys pack to the same
 * 32 bytes exactly when they are the same key (by canonical text), and
 * the packed key of a key is found again after format -> parse. */
static void test_pack_is_exact(void **state)
{
    enum { N = 6000 };
    uint64_t rng = 17;
    lut_key *keys = malloc(N * sizeof *keys);
    lut_pkey *pk = malloc(N * sizeof *pk);
    int *packs = malloc(N * sizeof *packs);
    char a[LUT_KEY_TEXT_MAX], b[LUT_KEY_TEXT_MAX];
    size_t npacked = 0, nunpacked = 0;

    (void)state;
    assert_non_null(keys);
    assert_non_null(pk);
    assert_non_null(packs);
    for (size_t i = 0; i < N; i++) {
        keys[i] = random_key(&rng);
        packs[i] = lut_key_pack(&keys[i], &pk[i]) == LUT_OK;
        /* random_key's dtype uint8_q is not in the packed vocabulary */
        int expect = strcmp(keys[i].dtype, "uint8_q") != 0;
        assert_int_equal(packs[i], expect);
        if (packs[i]) {
            assert_true(pk[i].w[0] != 0);
            npacked++;
        } else {
            nunpacked++;
        }
    }
    assert_true(npacked > N / 2 && nunpacked > 0);
    for (size_t i = 0; i < N; i++) {
        if (!packs[i])
            continue;
        text_of(&keys[i], a);
        for (size_t j = 0; j < i; j++) {
            if (!packs[j])
                continue;
            text_of(&keys[j], b);
            if (pkey_same(&pk[i], &pk[j]) != (strcmp(a, b) == 0))
                fail_msg("packing is not exact: %s / %s", a, b);
            if (pkey_same(&pk[i], &pk[j]))
                assert_true(lut_pkey_hash(&pk[i]) == lut_pkey_hash(&pk[j]));
        }
    }
    free(keys);
    free(pk);
    free(packs);
}

/* Every attribute at both ends of its range, one at a time: each change
 * makes another packed key, so no field overlaps another. */
static void test_pack_field_extremes(void **state)
{
    static const char *dtypes[] = {"fp32", "fp16", "bf16", "fp64", "fp8", "fp8_e4m3",
                                   "fp8_e5m2", "int8", "uint8", "int16", "int32", "int4",
                                   "uint4", "int2", "int1"};
    enum { MAXK = 64 };
    lut_pkey seen[MAXK + 16];
    size_t n = 0;
    lut_key base;

    (void)state;
    /* An unknown op keeps every attribute as given. */
    lut_key_init(&base);
    strcpy(base.op, "zz_unknown_op1"); /* 14 characters: the longest that packs */
    base.cin = 5, base.cout = 6, base.k = 3, base.stride = 2, base.dilation = 2;
    base.groups = 1, base.h = 9, base.w = 10, base.pad = 1, base.out_h = 4, base.out_w = 5;
    base.bias = 0, base.bn = 0;
    assert_int_equal(lut_key_canonicalize(&base, NULL), LUT_OK);
    assert_int_equal(lut_key_pack(&base, &seen[n++]), LUT_OK);

    int64_t *fields[] = {&base.cin, &base.cout, &base.k, &base.stride, &base.dilation,
                         &base.groups, &base.h, &base.w, &base.pad, &base.out_h,
                         &base.out_w, &base.bias, &base.bn};
    int64_t his[] = {LUT_MAX_CHANNELS, LUT_MAX_CHANNELS, LUT_MAX_KERNEL, LUT_MAX_STRIDE,
                     LUT_MAX_DILATION, LUT_MAX_CHANNELS, LUT_MAX_SPATIAL, LUT_MAX_SPATIAL,
                     LUT_MAX_SPATIAL, LUT_MAX_SPATIAL, LUT_MAX_SPATIAL, 1, 1};
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
        for (int end = 0; end < 2; end++) {
            lut_key k = base;
            int64_t *v = (int64_t *)(void *)((char *)&k + ((char *)fields[f] - (char *)&base));
            *v = end ? his[f] : 0;
            if (*v == *fields[f])
                continue;
            assert_int_equal(lut_key_pack(&k, &seen[n]), LUT_OK);
            for (size_t j = 0; j < n; j++)
                assert_false(pkey_same(&seen[j], &seen[n]));
            n++;
        }
    }
    for (size_t d = 1; d < sizeof dtypes / sizeof dtypes[0]; d++) {
        lut_key k = base;
        memset(k.dtype, 0, sizeof k.dtype);
        strcpy(k.dtype, dtypes[d]);
        assert_int_equal(lut_key_pack(&k, &seen[n]), LUT_OK);
        for (size_t j = 0; j < n; j++)
            assert_false(pkey_same(&seen[j], &seen[n]));
        n++;
    }
    /* Op names differing only in the last of 14 characters, or in length. */
    lut_key k = base;
    k.op[13] = '2';
    lut_pkey p;
    assert_int_equal(lut_key_pack(&k, &p), LUT_OK);
    assert_false(pkey_same(&p, &seen[0]));
    k.op[13] = '\0';
    assert_int_equal(lut_key_pack(&k, &p), LUT_OK);
    assert_false(pkey_same(&p, &seen[0]));
    k = base;
    memcpy(k.op, "zz_unknown_op", 13);
    k.op[13] = '_';
    assert_int_equal(lut_key_pack(&k, &p), LUT_OK);
    assert_false(pkey_same(&p, &seen[0]));

    /* What does not pack: 15 characters, an unlisted dtype, a non-canonical
     * value. */
    k = base;
    strcpy(k.op, "zz_unknown_op12");
    assert_int_equal(lut_key_pack(&k, &p), LUT_EINVAL);
    k = base;
    strcpy(k.dtype, "q4_k");
    assert_int_equal(lut_key_pack(&k, &p), LUT_EINVAL);
    k = base;
    k.cin = LUT_UNSET;
    assert_int_equal(lut_key_pack(&k, &p), LUT_EINVAL);
    k = base;
    k.h = LUT_MAX_SPATIAL * 2;
    assert_int_equal(lut_key_pack(&k, &p), LUT_EINVAL);
}

static void test_pkey_hash_stable_and_spread(void **state)
{
    lut_key k = canon((spec){.op = "conv2d", .cin = 3, .cout = 32, .k = 3,
                             .stride = 2, .h = 513, .w = 513, .bn = 1});
    lut_pkey p;
    size_t low_collisions = 0, n = 0;
    unsigned char *seen = calloc(1u << 16, 1);

    (void)state;
    assert_non_null(seen);
    assert_int_equal(lut_key_pack(&k, &p), LUT_OK);
    /* Pinned: the function is part of the table's layout. */
    assert_true(lut_pkey_hash(&p) == UINT64_C(0x6a1e060ac8fef098));
    /* Structured keys (a grid of channel counts and sizes, as a search space
     * makes them) spread over the low 16 bits like random ones. */
    for (int64_t c = 8; c <= 1024 && n < 20000; c += 8)
        for (int64_t h = 7; h <= 519 && n < 20000; h += 4) {
            lut_key g = canon((spec){.op = "conv2d", .cin = c, .cout = c, .k = 3,
                                     .groups = c, .h = h, .w = h, .stride = 1 + (h & 1)});
            assert_int_equal(lut_key_pack(&g, &p), LUT_OK);
            uint64_t hv = lut_pkey_hash(&p);
            if (seen[hv & 0xffff])
                low_collisions++;
            seen[hv & 0xffff] = 1;
            n++;
        }
    assert_int_equal(n, 128 * 129);
    /* 16512 keys into 65536 buckets: about 1900 collisions expected. */
    assert_true(low_collisions < 2600);
    free(seen);
}

/* ---------------------------------------------------------- statistics */

static lut_stats stats_of(const double *x, size_t n)
{
    lut_stats s = {0.0, 0.0, n};
    double m = 0, ss = 0;
    size_t i;

    for (i = 0; i < n; i++)
        m += x[i];
    if (n > 0)
        m /= (double)n;
    for (i = 0; i < n; i++)
        ss += (x[i] - m) * (x[i] - m);
    s.mean = m;
    s.std = n > 1 ? sqrt(ss / (double)(n - 1)) : 0.0;
    return s;
}

static void assert_close(double a, double b)
{
    double scale = fabs(b) > 1e-12 ? fabs(b) : 1.0;

    if (fabs(a - b) > 1e-9 * scale)
        fail_msg("%.17g != %.17g", a, b);
}

static void test_stats_merge_matches_raw_samples(void **state)
{
    uint64_t rng = 99;
    double x[400];
    int trial;

    (void)state;
    for (trial = 0; trial < 500; trial++) {
        size_t n = (size_t)rng_range(&rng, 1, 400), split = (size_t)rng_range(&rng, 0, (int64_t)n);
        double base = rng_unit(&rng) * 1e4, spread = rng_unit(&rng) * 100;
        double shift = rng_range(&rng, 0, 1) ? rng_unit(&rng) * 500 : 0;
        lut_stats whole, a, b;
        size_t i;

        for (i = 0; i < n; i++)
            x[i] = base + spread * rng_unit(&rng) + (i >= split ? shift : 0);
        whole = stats_of(x, n);
        a = stats_of(x, split);
        b = stats_of(x + split, n - split);
        lut_stats_merge(&a, &b);
        assert_int_equal(a.count, n);
        assert_close(a.mean, whole.mean);
        assert_close(a.std, whole.std);
    }
}

static void test_stats_merge_edges(void **state)
{
    lut_stats a = {5.0, 1.0, 3}, zero = {0.0, 0.0, 0}, z2 = {0.0, 0.0, 0};
    lut_stats one = {2.0, 0.0, 1}, other = {4.0, 0.0, 1};

    (void)state;
    lut_stats_merge(&a, &zero);
    assert_true(a.mean == 5.0 && a.std == 1.0 && a.count == 3);
    lut_stats_merge(&zero, &a);
    assert_true(zero.mean == 5.0 && zero.std == 1.0 && zero.count == 3);
    lut_stats_merge(&z2, &(lut_stats){0.0, 0.0, 0});
    assert_int_equal(z2.count, 0);
    /* Two single samples 2 and 4: mean 3, sample std sqrt(2). */
    lut_stats_merge(&one, &other);
    assert_int_equal(one.count, 2);
    assert_close(one.mean, 3.0);
    assert_close(one.std, sqrt(2.0));
}

static void test_entry_check(void **state)
{
    lut_entry e;
    lut_error err;

    (void)state;
    memset(&e, 0, sizeof e);
    e.key = canon((spec){.op = "relu", .cin = 1, .h = 1, .w = 1});
    e.latency = (lut_stats){1.5, 0.0, 1};
    assert_int_equal(lut_entry_check(&e, &err), LUT_OK);
    e.latency.mean = NAN;
    assert_int_equal(lut_entry_check(&e, &err), LUT_EINVAL);
    assert_string_equal(err.field, "mean");
    e.latency.mean = -1;
    assert_int_equal(lut_entry_check(&e, &err), LUT_EINVAL);
    e.latency.mean = INFINITY;
    assert_int_equal(lut_entry_check(&e, &err), LUT_EINVAL);
    e.latency.mean = 0;
    assert_int_equal(lut_entry_check(&e, &err), LUT_OK);
    e.latency.std = -0.5;
    assert_int_equal(lut_entry_check(&e, &err), LUT_EINVAL);
    assert_string_equal(err.field, "std");
    e.latency.std = INFINITY;
    assert_int_equal(lut_entry_check(&e, &err), LUT_EINVAL);
    e.latency.std = 0.1;
    e.latency.count = 0;
    assert_int_equal(lut_entry_check(&e, &err), LUT_EINVAL);
    assert_string_equal(err.field, "count");
}

/* ------------------------------------------------------------- devices */

static void test_device_names(void **state)
{
    char long_name[80];

    (void)state;
    assert_true(lut_device_name_valid("gap8"));
    assert_true(lut_device_name_valid("gpu-a100"));
    assert_true(lut_device_name_valid("cpu_x86.v2"));
    assert_false(lut_device_name_valid(""));
    assert_false(lut_device_name_valid(NULL));
    assert_false(lut_device_name_valid("GAP8"));
    assert_false(lut_device_name_valid("a/b"));
    assert_false(lut_device_name_valid("a b"));
    memset(long_name, 'a', 64);
    long_name[64] = '\0';
    assert_true(lut_device_name_valid(long_name));
    long_name[64] = 'a';
    long_name[65] = '\0';
    assert_false(lut_device_name_valid(long_name));
}

static void test_device_check_and_units(void **state)
{
    lut_device d;
    lut_error err;

    (void)state;
    memset(&d, 0, sizeof d);
    snprintf(d.name, sizeof d.name, "gap8");
    snprintf(d.unit, sizeof d.unit, "cycles");
    d.clock_mhz = 175.0;
    assert_int_equal(lut_device_check(&d, &err), LUT_OK);
    assert_true(fabs(lut_device_ms_per_unit(&d) - 1.0 / 175000.0) < 1e-18);
    d.clock_mhz = 0;
    assert_int_equal(lut_device_check(&d, &err), LUT_EINVAL);
    assert_string_equal(err.field, "clock_mhz");
    assert_true(lut_device_ms_per_unit(&d) == 0.0);
    snprintf(d.unit, sizeof d.unit, "us");
    assert_int_equal(lut_device_check(&d, &err), LUT_OK);
    assert_true(lut_device_ms_per_unit(&d) == 1e-3);
    d.clock_mhz = -3;
    assert_int_equal(lut_device_check(&d, &err), LUT_EINVAL);
    assert_string_equal(err.field, "clock_mhz");
    d.clock_mhz = NAN;
    assert_int_equal(lut_device_check(&d, &err), LUT_EINVAL);
    d.clock_mhz = 0;
    snprintf(d.unit, sizeof d.unit, "ms");
    assert_int_equal(lut_device_check(&d, &err), LUT_EINVAL);
    assert_string_equal(err.field, "unit");
    snprintf(d.unit, sizeof d.unit, "us");
    snprintf(d.name, sizeof d.name, "Bad");
    assert_int_equal(lut_device_check(&d, &err), LUT_EINVAL);
    assert_string_equal(err.field, "name");
    snprintf(d.name, sizeof d.name, "ok");
    memset(d.kind, 'k', sizeof d.kind);
    assert_int_equal(lut_device_check(&d, &err), LUT_EINVAL);
    assert_string_equal(err.field, "kind");
    d.kind[0] = '\0';
    memset(d.description, 'd', sizeof d.description);
    assert_int_equal(lut_device_check(&d, &err), LUT_EINVAL);
    assert_string_equal(err.field, "description");
    d.description[sizeof d.description - 1] = '\0';
    assert_int_equal(lut_device_check(&d, &err), LUT_OK);
    d.measured = 2;
    assert_int_equal(lut_device_check(&d, &err), LUT_EINVAL);
    assert_string_equal(err.field, "measured");
}

static void test_strerror(void **state)
{
    static const int codes[] = {LUT_OK, LUT_EINVAL, LUT_ENOTFOUND, LUT_ENOMEM,
                                LUT_EFAULT, LUT_ECORRUPT, LUT_EEMPTY, LUT_ECURSOR,
                                LUT_EEXIST};
    size_t i, j;

    (void)state;
    for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        assert_non_null(lut_strerror(codes[i]));
        assert_true(strlen(lut_strerror(codes[i])) > 0);
        for (j = 0; j < i; j++)
            assert_string_not_equal(lut_strerror(codes[i]), lut_strerror(codes[j]));
    }
    assert_true(strlen(lut_strerror(-30792 /* MDB_MAP_FULL */)) > 0);
    assert_true(strlen(lut_strerror(2 /* ENOENT */)) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_header_example),
        cmocka_unit_test(test_defaults_spelled_out_same_key),
        cmocka_unit_test(test_unused_attributes_ignored),
        cmocka_unit_test(test_pool_window_attributes_matter),
        cmocka_unit_test(test_canonicalize_idempotent),
        cmocka_unit_test(test_trailing_bytes_zeroed),
        cmocka_unit_test(test_unknown_op_kept),
        cmocka_unit_test(test_invalid_keys),
        cmocka_unit_test(test_invalid_op_too_long),
        cmocka_unit_test(test_depthwise),
        cmocka_unit_test(test_cost_conv2d),
        cmocka_unit_test(test_cost_linear),
        cmocka_unit_test(test_cost_pools),
        cmocka_unit_test(test_cost_other_ops),
        cmocka_unit_test(test_cost_rejects_non_canonical),
        cmocka_unit_test(test_format_parse_round_trip),
        cmocka_unit_test(test_format_short_buffer),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_hash_stable_and_spread),
        cmocka_unit_test(test_stats_merge_matches_raw_samples),
        cmocka_unit_test(test_stats_merge_edges),
        cmocka_unit_test(test_entry_check),
        cmocka_unit_test(test_device_names),
        cmocka_unit_test(test_device_check_and_units),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_pack_is_exact),
        cmocka_unit_test(test_pack_field_extremes),
        cmocka_unit_test(test_pkey_hash_stable_and_spread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_gap8_model.c — the GAP8 cycle model (lut/gap8_model.h): monotone in
 * the work, L2 spills cost time, and its own calibration data within the
 * errors docs/gap8.md states.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gap8_model.h"

static lut_key conv(int64_t cin, int64_t cout, int64_t k, int64_t groups, int64_t hw)
{
    lut_key key;
    lut_key_init(&key);
    snprintf(key.op, sizeof key.op, "conv2d");
    key.cin = cin;
    key.cout = cout;
    key.k = k;
    key.groups = groups;
    key.h = key.w = hw;
    assert_int_equal(lut_key_canonicalize(&key, NULL), 0);
    return key;
}

static double cycles_of(lut_key key)
{
    lut_gap8_layer l;
    assert_int_equal(lut_gap8_layer_from_key(&key, &l, NULL), 0);
    return lut_gap8_cycles(&l, NULL);
}

static void test_monotone_in_macs(void **state)
{
    (void)state;
    for (int kind = 0; kind < LUT_GAP8_KINDS; kind++) {
        lut_gap8_layer l = {.kind = (lut_gap8_kind)kind, .cin = 64, .cout = 64, .in_bytes = 1000,
                            .out_bytes = 1000, .weight_bytes = 100};
        double prev = -1;
        for (uint64_t w = 0; w < 100000000; w = w * 3 + 1000) {
            l.work = w;
            double c = lut_gap8_cycles(&l, NULL);
            assert_true(c > 0 && isfinite(c));
            assert_true(c >= prev);
            prev = c;
        }
    }
    /* Through keys: more output channels, more channels in, a bigger input. */
    assert_true(cycles_of(conv(32, 64, 1, 1, 32)) < cycles_of(conv(32, 128, 1, 1, 32)));
    assert_true(cycles_of(conv(32, 64, 1, 1, 32)) < cycles_of(conv(64, 64, 1, 1, 32)));
    assert_true(cycles_of(conv(96, 96, 3, 96, 16)) < cycles_of(conv(96, 96, 3, 96, 32)));
}

static void test_l2_spill_costs_time(void **state)
{
    (void)state;
    lut_gap8_layer l = {.kind = LUT_GAP8_DW, .cin = 64, .cout = 64, .work = 1000000,
                        .in_bytes = 100000, .out_bytes = 100000, .weight_bytes = 576};
    double fits = lut_gap8_cycles(&l, NULL);
    assert_true(lut_gap8_l3_bytes(&l, lut_gap8_default_params.l2_budget_bytes) == 0);
    l.in_bytes = 400000; /* same work, the input no longer fits in L2 */
    double spills = lut_gap8_cycles(&l, NULL);
    assert_true(lut_gap8_l3_bytes(&l, lut_gap8_default_params.l2_budget_bytes) == 400000);
    assert_true(spills > fits + 400000 / lut_gap8_default_params.l3_bytes_per_cycle * 0.99);
    /* A first layer at 512x512 spills, the same at 64x64 does not. */
    lut_gap8_layer big;
    lut_key k = conv(3, 32, 3, 1, 512);
    assert_int_equal(lut_gap8_layer_from_key(&k, &big, NULL), 0);
    assert_int_equal(big.kind, LUT_GAP8_CONV);
    assert_true(lut_gap8_l3_bytes(&big, lut_gap8_default_params.l2_budget_bytes) > 0);
}

static void test_kinds_of_keys(void **state)
{
    (void)state;
    lut_gap8_layer l;
    lut_key k = conv(32, 32, 3, 32, 16);
    assert_int_equal(lut_gap8_layer_from_key(&k, &l, NULL), 0);
    assert_int_equal(l.kind, LUT_GAP8_DW);
    k = conv(32, 16, 1, 1, 16);
    assert_int_equal(lut_gap8_layer_from_key(&k, &l, NULL), 0);
    assert_int_equal(l.kind, LUT_GAP8_PW);
    assert_int_equal(l.work, 32 * 16 * 16 * 16);
    lut_key_init(&k);
    snprintf(k.op, sizeof k.op, "softmax");
    k.cin = 10;
    assert_int_equal(lut_key_canonicalize(&k, NULL), 0);
    lut_error err = {.row = -1};
    assert_int_equal(lut_gap8_layer_from_key(&k, &l, &err), LUT_EINVAL);
    assert_string_equal(err.field, "op");
}

/* The calibration data within the documented bounds (docs/gap8.md: the
 * max abs error per kind, rounded up): pw 5 %, dw 12 %, conv 21 %,
 * pool 18 %, linear 1 %, other 4 %. */
static void test_matches_calibration(void **state)
{
    (void)state;
    static const double bound[LUT_GAP8_KINDS] = {5, 12, 21, 18, 1, 4};
    const char *path = FMAS_GAP8_CALIBRATION;
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[2048];
    int header = 1, rows = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (header) {
            header = 0;
            continue;
        }
        char *c[20];
        int n = 0;
        for (char *p = line; n < 20 && p; n++) {
            c[n] = p;
            p = strchr(p, ',');
            if (p)
                *p++ = '\0';
        }
        assert_int_equal(n, 17);
        int kind = lut_gap8_kind_from_name(c[3]);
        assert_true(kind >= 0);
        long long v[13];
        for (int i = 0; i < 13; i++)
            v[i] = atoll(c[4 + i]);
        lut_gap8_layer l = {.kind = (lut_gap8_kind)kind, .cin = v[0], .cout = v[1],
                            .in_bytes = v[0] * v[7] * v[8], .out_bytes = v[1] * v[9] * v[10]};
        if (kind <= LUT_GAP8_CONV) {
            l.weight_bytes = v[1] * (v[0] / v[6]) * v[2] * v[3];
            l.work = (uint64_t)(l.weight_bytes * v[9] * v[10]);
        } else if (kind == LUT_GAP8_LINEAR) {
            l.weight_bytes = v[0] * v[1];
            l.work = (uint64_t)(v[0] * v[1]);
        } else if (kind == LUT_GAP8_POOL) {
            l.work = (uint64_t)l.in_bytes;
        }
        double err = 100.0 * fabs(lut_gap8_cycles(&l, NULL) / (double)v[11] - 1.0);
        if (err > bound[kind])
            fail_msg("%s: %.1f %% off, the documented bound is %.0f %%", c[2], err, bound[kind]);
        rows++;
    }
    fclose(f);
    assert_int_equal(rows, 38);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_monotone_in_macs),
        cmocka_unit_test(test_l2_spill_costs_time),
        cmocka_unit_test(test_kinds_of_keys),
        cmocka_unit_test(test_matches_calibration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

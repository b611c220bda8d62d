/*
 * test_lut_predict.c — predictions of missing rows (lut/lut_predict.h): a
 * known power law is recovered, the closed-form leave-one-out equals the
 * brute-force refit, outliers do not move a robust fit, a kind with too
 * few rows falls back, and a table keeps one fit per version.
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

#include "lut_predict.h"

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

static double macs(const lut_key *k)
{
    lut_cost c;
    assert_int_equal(lut_key_cost(k, &c, NULL), 0);
    return (double)c.macs;
}

/* Pointwise convolutions on a power law of their MACs, with a small
 * deterministic wobble (noise: relative amplitude). */
static size_t law_rows(lut_entry *rows, size_t cap, double noise)
{
    static const int64_t cins[] = {8, 16, 24, 32, 48, 64};
    static const int64_t couts[] = {8, 16, 32, 64, 96};
    static const int64_t hws[] = {4, 8, 16, 32};
    size_t n = 0;
    for (size_t a = 0; a < 6; a++)
        for (size_t b = 0; b < 5; b++)
            for (size_t c = 0; c < 4 && n < cap; c++) {
                memset(&rows[n], 0, sizeof rows[n]);
                rows[n].key = conv(cins[a], couts[b], 1, 1, hws[c]);
                double wob = noise * sin((double)(n * 7 + 3));
                rows[n].latency.mean = 5.0 * pow(macs(&rows[n].key), 0.85) * (1 + wob);
                rows[n].latency.count = 1;
                n++;
            }
    return n;
}

static void recovers_a_power_law(void **state)
{
    (void)state;
    lut_entry rows[120];
    size_t n = law_rows(rows, 120, 0.0);
    lut_predictor *p;
    assert_int_equal(lut_predictor_fit(NULL, rows, n, &p), 0);
    lut_key unseen = conv(40, 80, 1, 1, 12);
    double mean, var;
    assert_int_equal(lut_predict(p, &unseen, &mean, &var), 1);
    double want = 5.0 * pow(macs(&unseen), 0.85);
    assert_true(fabs(mean / want - 1) < 1e-3);
    assert_true(var >= 0 && sqrt(var) < 1e-3 * want);
    const lut_predict_accuracy *a = lut_predictor_accuracy(p, LUT_PK_CONV_1X1);
    assert_int_equal(a->rows, n);
    assert_int_equal(a->within5, n);
    assert_int_equal(lut_predictor_accuracy(p, LUT_PK_KINDS)->predicted, n);
    /* No depthwise rows: the pooled fit answers for them; no op without
     * a cost is ever predicted. */
    assert_int_equal(lut_predictor_accuracy(p, LUT_PK_CONV_DW)->rows, 0);
    lut_key odd;
    lut_key_init(&odd);
    snprintf(odd.op, sizeof odd.op, "mystery");
    assert_int_equal(lut_key_canonicalize(&odd, NULL), 0);
    assert_int_equal(lut_predict(p, &odd, &mean, &var), 0);
    assert_int_equal(lut_predict(NULL, &unseen, &mean, &var), 0);
    lut_predictor_free(p);
}

static void loo_closed_form_equals_brute_force(void **state)
{
    (void)state;
    lut_entry rows[120];
    size_t n = law_rows(rows, 120, 0.08);
    double closed[120], brute[120];
    assert_int_equal(lut_predictor_loo(NULL, rows, n, 0, closed), n);
    assert_int_equal(lut_predictor_loo(NULL, rows, n, 1, brute), n);
    for (size_t i = 0; i < n; i++)
        assert_true(fabs(closed[i] - brute[i]) < 1e-6);
}

static void outliers_do_not_move_the_fit(void **state)
{
    (void)state;
    lut_entry rows[120];
    size_t n = law_rows(rows, 120, 0.0);
    for (size_t i = 0; i < n; i += 13)
        rows[i].latency.mean *= 20; /* a few broken measurements */
    lut_predictor *p;
    assert_int_equal(lut_predictor_fit(NULL, rows, n, &p), 0);
    lut_key unseen = conv(40, 80, 1, 1, 12);
    double mean, var;
    assert_int_equal(lut_predict(p, &unseen, &mean, &var), 1);
    assert_true(fabs(mean / (5.0 * pow(macs(&unseen), 0.85)) - 1) < 0.02);
    lut_predictor_free(p);
}

static void few_rows_predict_nothing_or_fall_back(void **state)
{
    (void)state;
    lut_entry rows[123];
    size_t n = law_rows(rows, 120, 0.0);
    lut_predictor *p;
    /* Three rows: nothing to fit. */
    assert_int_equal(lut_predictor_fit(NULL, rows, 3, &p), 0);
    lut_key unseen = conv(40, 80, 1, 1, 12);
    double mean, var;
    assert_int_equal(lut_predict(p, &unseen, &mean, &var), 0);
    assert_int_equal(lut_predictor_accuracy(p, LUT_PK_KINDS)->predicted, 0);
    lut_predictor_free(p);
    /* Depthwise rows too few for their own fit: the pooled fit answers. */
    for (size_t i = 0; i < 3; i++) {
        memset(&rows[n + i], 0, sizeof rows[n + i]);
        rows[n + i].key = conv(16 << i, 16 << i, 3, 16 << i, 16);
        rows[n + i].latency.mean = 5.0 * pow(macs(&rows[n + i].key), 0.85);
        rows[n + i].latency.count = 1;
    }
    assert_int_equal(lut_predictor_fit(NULL, rows, n + 3, &p), 0);
    assert_int_equal(lut_predictor_accuracy(p, LUT_PK_CONV_DW)->model, LUT_PM_POOLED);
    assert_int_equal(lut_predictor_accuracy(p, LUT_PK_CONV_DW)->rows, 3);
    lut_key dw = conv(48, 48, 3, 48, 16);
    assert_int_equal(lut_predict(p, &dw, &mean, &var), 1);
    lut_predictor_free(p);
}

/* One input width runs 25 times slower than the law says (a library's
 * kernel choice): the family of the missing key (the same layer but its
 * output width) carries the anomaly to the prediction. */
static void a_family_corrects_what_the_features_miss(void **state)
{
    (void)state;
    lut_entry rows[130];
    size_t n = law_rows(rows, 120, 0.01), m = 0;
    for (size_t i = 0; i < n; i++) {
        if (rows[i].key.cin == 48 && rows[i].key.h == 16) {
            if (rows[i].key.cout == 96)
                continue; /* the missing row */
            rows[i].latency.mean *= 25;
        }
        rows[m++] = rows[i];
    }
    n = m;
    lut_predictor *p;
    assert_int_equal(lut_predictor_fit(NULL, rows, n, &p), 0);
    lut_key missing = conv(48, 96, 1, 1, 16);
    double mean, var;
    assert_int_equal(lut_predict(p, &missing, &mean, &var), 1);
    double want = 25 * 5.0 * pow(macs(&missing), 0.85);
    assert_true(fabs(mean / want - 1) < 0.15);
    lut_predictor_free(p);
}

static void a_table_keeps_one_fit(void **state)
{
    (void)state;
    lut_entry rows[120];
    size_t n = law_rows(rows, 120, 0.05);
    lut_table *t;
    assert_int_equal(lut_table_build(NULL, rows, n, &t), 0);
    const lut_predictor *a = lut_table_predictor(t), *b = lut_table_predictor(t);
    assert_non_null(a);
    assert_ptr_equal(a, b);
    lut_table_release(t);
}

static void kinds_are_named(void **state)
{
    (void)state;
    lut_key k = conv(16, 16, 3, 16, 8);
    assert_string_equal(lut_predict_kind_name(lut_predict_kind_of(&k)), "conv_dw");
    k = conv(16, 32, 1, 1, 8);
    assert_string_equal(lut_predict_kind_name(lut_predict_kind_of(&k)), "conv_1x1");
    k = conv(16, 32, 3, 1, 8);
    assert_string_equal(lut_predict_kind_name(lut_predict_kind_of(&k)), "conv_kxk");
    k = conv(16, 32, 3, 4, 8);
    assert_string_equal(lut_predict_kind_name(lut_predict_kind_of(&k)), "conv_grouped");
    assert_string_equal(lut_predict_model_name(LUT_PM_SMALL), "small");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(recovers_a_power_law),
        cmocka_unit_test(loo_closed_form_equals_brute_force),
        cmocka_unit_test(outliers_do_not_move_the_fit),
        cmocka_unit_test(few_rows_predict_nothing_or_fall_back),
        cmocka_unit_test(a_family_corrects_what_the_features_miss),
        cmocka_unit_test(a_table_keeps_one_fit),
        cmocka_unit_test(kinds_are_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

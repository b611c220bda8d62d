/*
 * test_jsonw.c — the streaming JSON writer writes what json_dumps writes:
 * the same escapes, the same numbers (doubles read back to the same bits),
 * null for NaN and infinities, and commas in the right places.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "jsonw.h"

/* The writer's text of one real, and Jansson's dump of json_real(v). */
static void assert_real_as_jansson(double v)
{
    char mine[FM_JSON_REAL_MAX];
    assert_true(fm_json_real_text(v, mine) > 0);
    json_t *j = json_real(v);
    char *theirs = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
    assert_string_equal(mine, theirs);
    /* And it reads back to the same bits. */
    json_t *back = json_loads(mine, JSON_DECODE_ANY, NULL);
    assert_non_null(back);
    double r = json_number_value(back);
    assert_memory_equal(&r, &v, sizeof r);
    json_decref(back);
    free(theirs);
    json_decref(j);
}

static void reals_match_jansson_and_round_trip(void **state)
{
    (void)state;
    double cases[] = {0.0, 1.0, -1.0, 0.1, 1.0 / 3.0, 4970346.5250000004, 1e20, 1e21, 1e-5, 1e-7,
                      123456789012345678.0, -2.5e-300, 5e-324, 1.7976931348623157e308, 2.0e16, 100.0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_real_as_jansson(cases[i]);
    srand(7);
    for (int i = 0; i < 20000; i++) {
        uint64_t bits = ((uint64_t)rand() << 42) ^ ((uint64_t)rand() << 21) ^ (uint64_t)rand();
        double v;
        memcpy(&v, &bits, sizeof v);
        if (isfinite(v))
            assert_real_as_jansson(v);
    }
}

static void nan_and_infinity_are_null(void **state)
{
    (void)state;
    char t[FM_JSON_REAL_MAX];
    assert_int_equal(fm_json_real_text(NAN, t), 0);
    assert_string_equal(t, "null");
    assert_int_equal(fm_json_real_text(INFINITY, t), 0);
    assert_int_equal(fm_json_real_text(-INFINITY, t), 0);
    fm_buf b = {0};
    fm_jw w;
    fm_jw_init(&w, &b);
    fm_jw_array(&w);
    fm_jw_real(&w, NAN);
    fm_jw_real(&w, 2.5);
    fm_jw_real(&w, -INFINITY);
    fm_jw_array_end(&w);
    assert_string_equal(b.data, "[null,2.5,null]");
    free(b.data);
}

/* A tree written by the writer and dumped by Jansson gives the same text. */
static void strings_and_structure_match_jansson(void **state)
{
    (void)state;
    const char *strs[] = {"plain", "q\"uote", "back\\slash", "slash/ok", "tab\tnl\ncr\rbs\bff\f",
                          "\x01\x1f\x7f", "caf\xc3\xa9 \xe2\x82\xac", ""};
    size_t ns = sizeof strs / sizeof strs[0];
    json_t *tree = json_object();
    fm_buf b = {0};
    fm_jw w;
    fm_jw_init(&w, &b);
    fm_jw_object(&w);
    json_t *arr = json_array();
    fm_jw_key(&w, "strings");
    fm_jw_array(&w);
    for (size_t i = 0; i < ns; i++) {
        json_array_append_new(arr, json_string(strs[i]));
        fm_jw_string(&w, strs[i]);
    }
    fm_jw_array_end(&w);
    json_object_set_new(tree, "strings", arr);
    fm_jw_key(&w, "k\"ey\n");
    fm_jw_object(&w);
    fm_jw_object_end(&w);
    json_object_set_new(tree, "k\"ey\n", json_object());
    fm_jw_key(&w, "ints");
    fm_jw_array(&w);
    int64_t ints[] = {0, 1, -1, INT64_MAX, INT64_MIN, 9862667776};
    json_t *ia = json_array();
    for (size_t i = 0; i < 6; i++) {
        fm_jw_int(&w, ints[i]);
        json_array_append_new(ia, json_integer(ints[i]));
    }
    fm_jw_array_end(&w);
    json_object_set_new(tree, "ints", ia);
    fm_jw_key(&w, "big");
    fm_jw_uint(&w, UINT64_MAX);
    fm_jw_key(&w, "flags");
    fm_jw_array(&w);
    fm_jw_bool(&w, 1);
    fm_jw_bool(&w, 0);
    fm_jw_null(&w);
    fm_jw_value(&w, ia);
    fm_jw_array_end(&w);
    fm_jw_object_end(&w);
    char *theirs = json_dumps(tree, JSON_COMPACT);
    /* "big" has no Jansson form (beyond int64); splice it in. */
    size_t tl = strlen(theirs);
    theirs[tl - 1] = '\0';
    char expect[2048];
    snprintf(expect, sizeof expect, "%s,\"big\":18446744073709551615,\"flags\":[true,false,null,"
             "[0,1,-1,9223372036854775807,-9223372036854775808,9862667776]]}", theirs);
    assert_false(b.oom);
    assert_string_equal(b.data, expect);
    free(theirs);
    free(b.data);
    json_decref(tree);
}

static void reset_starts_a_new_line_value(void **state)
{
    (void)state;
    fm_buf b = {0};
    fm_jw w;
    fm_jw_init(&w, &b);
    for (int i = 0; i < 2; i++) {
        fm_jw_reset(&w);
        fm_jw_object(&w);
        fm_jw_key(&w, "i");
        fm_jw_int(&w, i);
        fm_jw_key(&w, "a");
        fm_jw_array(&w);
        fm_jw_int(&w, 1);
        fm_jw_int(&w, 2);
        fm_jw_array_end(&w);
        fm_jw_object_end(&w);
        fm_buf_append(&b, "\n", 1);
    }
    assert_string_equal(b.data, "{\"i\":0,\"a\":[1,2]}\n{\"i\":1,\"a\":[1,2]}\n");
    free(b.data);
}


/* What fm_json_real_text writes for a value whose "%.17g" has no exponent:
 * that text, with ".0" when it has no point. */
static void expect_g17(double v)
{
    char want[64], got[FM_JSON_REAL_MAX];
    int n = snprintf(want, sizeof want, "%.17g", v);
    if (!strchr(want, 'e') && !strchr(want, '.'))
        memcpy(want + n, ".0", 3);
    if (strchr(want, 'e'))
        return;
    fm_json_real_text(v, got);
    if (strcmp(want, got))
        fail_msg("%a: want %s, got %s", v, want, got);
}

/* Reals written without printf are byte for byte printf's: random values
 * of every magnitude, exact ties of the 17th digit (rounded to even),
 * values next to powers of ten, integers. */
static void reals_are_printf_text(void **state)
{
    (void)state;
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 400000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double v;
        uint64_t bits = (x & ~(0x7ffULL << 52)) | ((uint64_t)(1000 + (x >> 20) % 90) << 52);
        memcpy(&v, &bits, sizeof v);
        expect_g17(v);
        expect_g17((double)(x >> 11) / 1024.0);
        expect_g17((double)(x % 100000000) / 1000.0);
    }
    for (double n = 1125899906842624.0; n < 1125899906842624.0 + 4000; n += 1)
        for (int q = 0; q < 4; q++)
            expect_g17(n + q / 4.0);
    for (double n = 562949953421312.0; n < 562949953421312.0 + 4000; n += 1)
        for (int q = 0; q < 8; q++)
            expect_g17(n + q / 8.0);
    for (int e = -4; e < 17; e++) {
        double p = pow(10, e);
        expect_g17(p);
        expect_g17(-p);
        expect_g17(nextafter(p, 0));
        expect_g17(nextafter(p, INFINITY));
        expect_g17(p * 0.9999999999999999);
    }
    expect_g17(9007199254740991.0);
    expect_g17(9007199254740992.0);
    expect_g17(0.1);
    expect_g17(1e-3);
    expect_g17(0.00099999999999999999);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reals_match_jansson_and_round_trip),
        cmocka_unit_test(reals_are_printf_text),
        cmocka_unit_test(nan_and_infinity_are_null),
        cmocka_unit_test(strings_and_structure_match_jansson),
        cmocka_unit_test(reset_starts_a_new_line_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_gap8_log.c — GAP SDK performance logs into rows (server/gap8_log.c):
 * good logs with their map (LF, CRLF, the newer % columns), and each kind
 * of fault reported by line and name, with no rows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gap8_log.h"

static char *slurp(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", FMAS_GAP8_DATA, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(1 << 16);
    assert_non_null(buf);
    *len = fread(buf, 1, (1 << 16) - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static int parse_files(const char *log, const char *map, fm_gap8_result *r)
{
    size_t ll, ml = 0;
    char *l = slurp(log, &ll), *m = map ? slurp(map, &ml) : NULL;
    int rc = fm_gap8_parse(l, ll, m, ml, r);
    free(l);
    free(m);
    return rc;
}

static int parse_text(const char *log, const char *map, fm_gap8_result *r)
{
    return fm_gap8_parse(log, strlen(log), map, map ? strlen(map) : 0, r);
}

/* The fault about a layer name (or, with name NULL, at a line). */
static const fm_gap8_fault *fault_of(const fm_gap8_result *r, const char *name, long line)
{
    for (size_t i = 0; i < r->nfaults; i++)
        if (name ? !strcmp(r->faults[i].name, name) : r->faults[i].line == line)
            return &r->faults[i];
    return NULL;
}

static void test_good_logs(void **state)
{
    (void)state;
    static const char *const logs[] = {"mbv2_tiny.log", "mbv2_tiny_crlf.log", "mbv2_tiny_pct.log"};
    for (size_t i = 0; i < 3; i++) {
        fm_gap8_result r;
        assert_int_equal(parse_files(logs[i], "mbv2_tiny_map.csv", &r), 0);
        assert_int_equal(r.n, 9);
        assert_true(r.total_seen);
        char text[LUT_KEY_TEXT_MAX];
        lut_key_format(&r.rows[0].key, text, sizeof text);
        assert_string_equal(text, "conv2d;cin=3;cout=32;k=3;s=2;d=1;g=1;p=1;h=128;w=128;oh=0;ow=0;b=0;bn=1;fp32");
        assert_true(r.rows[0].latency.mean == 3946253.0);
        assert_int_equal(r.rows[0].has_macs, 1);
        assert_int_equal(r.rows[0].macs, 3670016);
        assert_int_equal(r.rows[1].key.groups, 32); /* depthwise from the map's groups */
        assert_string_equal(r.rows[6].key.op, "global_avgpool");
        assert_string_equal(r.rows[7].key.op, "linear");
        assert_string_equal(r.rows[8].key.op, "softmax");
        assert_int_equal(r.lines[0], i == 2 ? 1 : 5); /* the % log has no banner */
        fm_gap8_result_free(&r);
    }
}

static void test_bad_logs(void **state)
{
    (void)state;
    fm_gap8_result r;
    assert_int_equal(parse_files("mbv2_tiny_truncated.log", "mbv2_tiny_map.csv", &r), 1);
    assert_null(r.rows);
    const fm_gap8_fault *f = fault_of(&r, "S5_Conv2d_96x1x3x3_Relu6", 0);
    assert_non_null(f);
    assert_int_equal(f->line, 9);
    assert_non_null(strstr(f->reason, "truncated"));
    assert_non_null(fault_of(&r, "Total", 0));
    fm_gap8_result_free(&r);

    assert_int_equal(parse_files("mbv2_tiny_badtotal.log", "mbv2_tiny_map.csv", &r), 1);
    f = fault_of(&r, "Total", 0);
    assert_non_null(f);
    assert_non_null(strstr(f->reason, "sum to"));
    f = fault_of(&r, "S6_Conv2d_24x96x1x1", 0); /* its map row names no layer */
    assert_non_null(f);
    assert_int_equal(f->in_map, 1);
    fm_gap8_result_free(&r);

    assert_int_equal(parse_files("mbv2_tiny_unknown.log", "mbv2_tiny_map.csv", &r), 1);
    f = fault_of(&r, "S8_MatMul_Custom", 0);
    assert_non_null(f);
    assert_int_equal(f->line, 12);
    assert_string_equal(f->field, "op");
    f = fault_of(&r, "S5_Conv2d_96x1x3x3_Relu6", 0);
    assert_non_null(f);
    assert_non_null(strstr(f->reason, "negative"));
    fm_gap8_result_free(&r);
}

#define L(name, cyc, ops) name ": Cycles: " #cyc ", Operations: " #ops ", Operations/Cycle: 1.0\n"

static void test_faults_by_kind(void **state)
{
    (void)state;
    fm_gap8_result r;
    /* The map lacks the layer: no h, w. */
    assert_int_equal(parse_text(L("S1_Conv2d_16x8x1x1", 1000, 8192), "name,h\n", &r), 1);
    assert_non_null(strstr(r.faults[0].reason, "missing h, w"));
    fm_gap8_result_free(&r);
    /* Cx1xKxK without groups or cin is not guessed. */
    assert_int_equal(parse_text(L("S1_Conv2d_16x1x3x3", 1000, 2304), "name,h,w\nS1_Conv2d_16x1x3x3,4,4\n", &r), 1);
    assert_string_equal(r.faults[0].field, "groups");
    fm_gap8_result_free(&r);
    /* MACs that disagree with the key (the map's stride is wrong). */
    assert_int_equal(parse_text(L("S1_Conv2d_16x8x1x1", 1000, 8192),
                                "name,h,w,stride\nS1_Conv2d_16x8x1x1,8,8,2\n", &r), 1);
    assert_string_equal(r.faults[0].field, "macs");
    fm_gap8_result_free(&r);
    assert_int_equal(parse_text(L("S1_Conv2d_16x8x1x1", 1000, 8192), "name,h,w\nS1_Conv2d_16x8x1x1,8,8\n", &r), 0);
    assert_int_equal(r.n, 1);
    fm_gap8_result_free(&r);
    /* A k > 1 convolution may count one more operation per output value. */
    assert_int_equal(parse_text(L("S1_Conv2d_16x8x3x3_Relu", 1000, 74752),
                                "name,h,w\nS1_Conv2d_16x8x3x3_Relu,8,8\n", &r), 0);
    fm_gap8_result_free(&r);
    /* A non-square kernel has no key. */
    assert_int_equal(parse_text(L("S1_Conv2d_64x1x10x4_Relu", 1000, 328000),
                                "name,cin,h,w\nS1_Conv2d_64x1x10x4_Relu,1,49,10\n", &r), 1);
    assert_string_equal(r.faults[0].field, "k");
    fm_gap8_result_free(&r);
    /* The map and the name disagree. */
    assert_int_equal(parse_text(L("S1_Conv2d_16x8x1x1", 1000, 8192),
                                "name,cout,h,w\nS1_Conv2d_16x8x1x1,32,8,8\n", &r), 1);
    assert_string_equal(r.faults[0].field, "cout");
    fm_gap8_result_free(&r);
    /* Nothing that looks like a layer. */
    assert_int_equal(parse_text("hello\r\n\r\nEnded\r\n", NULL, &r), 1);
    assert_int_equal(r.faults[0].line, 0);
    fm_gap8_result_free(&r);
    /* Bad numbers, a duplicate layer, a second Total. */
    assert_int_equal(parse_text(L("S9_SoftMax", 12x, 12) L("S9_SoftMax", 10, 1) L("S10_SoftMax", 99999999999999999999, 1)
                                L("Total", 10, 1) L("Total", 10, 1), "name,cin\nS9_SoftMax,4\nS10_SoftMax,4\n", &r), 1);
    assert_non_null(fault_of(&r, NULL, 1));
    assert_non_null(strstr(fault_of(&r, NULL, 3)->reason, "too large"));
    assert_non_null(strstr(fault_of(&r, NULL, 5)->reason, "second Total"));
    fm_gap8_result_free(&r);
    /* A map row of an unknown column. */
    assert_int_equal(parse_text(L("S1_Linear_4x8x1x1", 100, 32), "name,colour\n", &r), 1);
    assert_int_equal(r.faults[0].in_map, 1);
    fm_gap8_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_logs),
        cmocka_unit_test(test_bad_logs),
        cmocka_unit_test(test_faults_by_kind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

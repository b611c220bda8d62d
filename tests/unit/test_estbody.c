/*
 * test_estbody.c — the strict reader of space estimate bodies: what it
 * accepts equals Jansson's reading, and what it declines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "estbody.h"

static int parse(const char *text, size_t max, fm_estbody *b)
{
    return fm_estbody_parse(text, strlen(text), max, b);
}

/* An accepted body equals what Jansson reads from the same text. */
static void assert_same_as_jansson(const char *text)
{
    fm_estbody b;
    assert_int_equal(parse(text, 100000, &b), 0);
    json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    assert_non_null(v);
    json_t *d = json_object_get(v, "devices"), *g = json_object_get(v, "genomes");
    assert_int_equal(json_object_size(v), 2);
    assert_int_equal(json_array_size(d), b.ndevices);
    for (size_t i = 0; i < b.ndevices; i++)
        assert_string_equal(json_string_value(json_array_get(d, i)), b.devices[i]);
    assert_int_equal(json_array_size(g), b.ngenomes);
    for (size_t i = 0; i < b.ngenomes; i++) {
        json_t *x = json_array_get(g, i);
        assert_int_equal(json_array_size(x), b.starts[i + 1] - b.starts[i]);
        for (size_t j = 0; j < json_array_size(x); j++)
            assert_int_equal(json_integer_value(json_array_get(x, j)), b.values[b.starts[i] + j]);
    }
    json_decref(v);
    fm_estbody_free(&b);
}

static void test_accepts(void **state)
{
    (void)state;
    assert_same_as_jansson("{\"devices\":[\"cpu-x86\"],\"genomes\":[[0,1,2],[3,4,5]]}");
    assert_same_as_jansson(" {\n\"genomes\" : [ [ ] , [-0, -17, 123456789, -999999999] ] ,\t\"devices\":[]\r} ");
    assert_same_as_jansson("{\"devices\":[\"a\",\"b c\",\"\"],\"genomes\":[[7]]}");
}

static void test_fields(void **state)
{
    (void)state;
    fm_estbody b;
    assert_int_equal(parse("{\"devices\":[\"gpu\",\"cpu\"],\"genomes\":[[1,2],[3]]}", 10, &b), 0);
    assert_int_equal(b.ndevices, 2);
    assert_string_equal(b.devices[1], "cpu");
    assert_int_equal(b.ngenomes, 2);
    assert_int_equal(b.starts[0], 0);
    assert_int_equal(b.starts[1], 2);
    assert_int_equal(b.starts[2], 3);
    assert_int_equal(b.values[2], 3);
    fm_estbody_free(&b);
    assert_null(b.values);
}

static void test_declines(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "[]",
        "{}",
        "{\"genomes\":[[1]]}",                                      /* devices missing */
        "{\"devices\":[]}",                                         /* genomes missing */
        "{\"devices\":[],\"genomes\":[]}",                          /* no genome */
        "{\"devices\":[],\"genomes\":[[1]],\"x\":1}",               /* another member */
        "{\"devices\":[],\"devices\":[],\"genomes\":[[1]]}",        /* duplicate */
        "{\"devices\":[\"a\\u0062\"],\"genomes\":[[1]]}",           /* escape */
        "{\"devic\\u0065s\":[],\"genomes\":[[1]]}",                 /* escaped key */
        "{\"devices\":[\"\xc3\xa9\"],\"genomes\":[[1]]}",           /* not ASCII */
        "{\"devices\":[1],\"genomes\":[[1]]}",
        "{\"devices\":[],\"genomes\":[[1.0]]}",                     /* float */
        "{\"devices\":[],\"genomes\":[[1e2]]}",
        "{\"devices\":[],\"genomes\":[[01]]}",                      /* leading zero */
        "{\"devices\":[],\"genomes\":[[-]]}",
        "{\"devices\":[],\"genomes\":[[1234567890]]}",              /* 10 digits */
        "{\"devices\":[],\"genomes\":[[\"a\"]]}",                   /* string gene */
        "{\"devices\":[],\"genomes\":[{\"a\":1}]}",                 /* object genome */
        "{\"devices\":[],\"genomes\":[[[1]]]}",                     /* nesting */
        "{\"devices\":[],\"genomes\":[[1,]]}",                      /* trailing comma */
        "{\"devices\":[],\"genomes\":[[1]],}",
        "{\"devices\":[],\"genomes\":[[1]]} x",                     /* trailing text */
        "{\"devices\":[],\"genomes\":[[1]]",                        /* cut short */
        "{\"devices\":[],\"genomes\":[[1] [2]]}",
        "{\"devices\":[],\"genomes\":[[1],[2],[3]]}",               /* over max (2) */
        "{\"devices\":null,\"genomes\":[[1]]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fm_estbody b;
        assert_int_equal(parse(bad[i], 2, &b), 1);
        assert_null(b.values);
        assert_null(b.devices);
    }
    /* A NUL inside a string is declined (the text has its length). */
    static const char nul[] = "{\"devices\":[\"a\0\"],\"genomes\":[[1]]}";
    fm_estbody b;
    assert_int_equal(fm_estbody_parse(nul, sizeof nul - 1, 2, &b), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_declines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_http_media.c — fm_media_type (server/http.h): the media type that
 * handlers see of a Content-Type header value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http.h"

static void expect(const char *header, const char *want)
{
    char out[128];
    memset(out, 'x', sizeof out);
    fm_media_type(header, out, sizeof out);
    assert_string_equal(out, want);
}

static void test_plain_and_parameters(void **state)
{
    (void)state;
    expect("application/json", "application/json");
    expect("text/csv; charset=utf-8", "text/csv");
    expect("text/csv;header=present", "text/csv");
    expect("Application/X-NDJSON", "application/x-ndjson");
}

static void test_whitespace(void **state)
{
    (void)state;
    expect("  \tapplication/json", "application/json");
    expect("application/json ; charset=utf-8", "application/json");
    /* Optional whitespace before ';' may be a tab (RFC 9110 5.6.3): the
     * type was once read as "application/json\t". */
    expect("application/json\t; charset=utf-8", "application/json");
    expect("application/json\t", "application/json");
}

static void test_none(void **state)
{
    (void)state;
    expect(NULL, "");
    expect("", "");
    expect(" \t ", "");
    expect("; charset=utf-8", "");
}

static void test_cut_to_size(void **state)
{
    (void)state;
    char out[5];
    fm_media_type("text/csv", out, sizeof out);
    assert_string_equal(out, "text");
    char one[1] = {'x'};
    fm_media_type("text/csv", one, sizeof one);
    assert_int_equal(one[0], '\0');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_and_parameters),
        cmocka_unit_test(test_whitespace),
        cmocka_unit_test(test_none),
        cmocka_unit_test(test_cut_to_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

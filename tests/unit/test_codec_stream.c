/*
 * test_codec_stream.c — a LUT batch fed as it arrives (fm_batch_stream in
 * server/codec.h) is read exactly as the whole body: the same rows, or the
 * same problem (status and body), wherever the pieces are cut.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec.h"

typedef struct outcome {
    unsigned status;  /* 0: rows */
    char *problem;    /* compact JSON of the problem */
    lut_entry *rows;
    size_t n;
} outcome;

static void outcome_free(outcome *o)
{
    free(o->problem);
    free(o->rows);
}

static void take(outcome *o, int rc, fm_response *rs, lut_entry *rows, size_t n)
{
    memset(o, 0, sizeof *o);
    if (rc == 0) {
        o->rows = rows;
        o->n = n;
        return;
    }
    o->status = rs->status;
    o->problem = json_dumps(rs->json, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(rs->json);
}

static void whole(const char *ctype, const char *body, size_t len, outcome *o)
{
    fm_request rq = {.body = body, .body_len = len, .content_type = ctype};
    fm_response rs = {0};
    lut_entry *rows = NULL;
    size_t n = 0;
    int rc = fm_parse_batch(&rq, &rs, &rows, &n);
    take(o, rc, &rs, rows, n);
}

/* Fed in pieces of `step` bytes (0: cut at the pseudo-random points of seed). */
static void pieces(const char *ctype, const char *body, size_t len, size_t step, unsigned seed, outcome *o)
{
    fm_batch_stream *st = fm_batch_stream_open(ctype);
    assert_non_null(st);
    for (size_t at = 0; at < len;) {
        size_t k = step;
        if (!k) {
            seed = seed * 1103515245u + 12345u;
            k = 1 + (seed >> 16) % 97;
        }
        if (k > len - at)
            k = len - at;
        fm_batch_stream_feed(st, body + at, k);
        at += k;
    }
    fm_response rs = {0};
    lut_entry *rows = NULL;
    size_t n = 0;
    int rc = fm_batch_stream_finish(st, &rs, &rows, &n);
    take(o, rc, &rs, rows, n);
    fm_batch_stream_free(st);
}

static void same(const outcome *a, const outcome *b, const char *what)
{
    if (a->status != b->status)
        fail_msg("%s: status %u, the whole body %u", what, b->status, a->status);
    if (a->status) {
        if (strcmp(a->problem, b->problem) != 0)
            fail_msg("%s: problem %s, the whole body %s", what, b->problem, a->problem);
        return;
    }
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++)
        assert_memory_equal(&a->rows[i], &b->rows[i], sizeof a->rows[i]);
}

static void check(const char *ctype, const char *body, unsigned expect_status)
{
    size_t len = strlen(body);
    outcome w;
    whole(ctype, body, len, &w);
    assert_int_equal(w.status, expect_status);
    for (size_t step = 0; step <= 9; step++) {
        for (unsigned seed = 1; seed <= (step ? 1u : 20u); seed++) {
            outcome p;
            char what[64];
            snprintf(what, sizeof what, "%s, pieces of %zu (seed %u)", ctype, step, seed);
            pieces(ctype, body, len, step, seed, &p);
            same(&w, &p, what);
            outcome_free(&p);
        }
    }
    outcome_free(&w);
}

#define CSV_HEAD "op,cin,cout,k,h,w,latency_mean\n"

static void test_csv(void **state)
{
    (void)state;
    check("text/csv", CSV_HEAD "conv2d,3,8,3,8,8,1.5\nconv2d,8,8,3,8,8,2\n", 0);
    check("text/csv", "\xEF\xBB\xBF" CSV_HEAD "\r\n\r\nconv2d,3,8,3,8,8,1.5\r\nlinear,4,2,,,,0.25", 0);
    check("text/csv", CSV_HEAD "conv2d,3,8,3,8,8,1.5\nconv2d,3,8,3,8,8,-1\nconv2d,3,8,3,8,8,1\n", 422);
    check("text/csv", CSV_HEAD "conv2d,3,8,3,8,8\n", 422);
    check("text/csv", "op,bogus\n", 422);
    check("text/csv", CSV_HEAD "\"conv2d,3,8,3,8,8,1\n", 400);
    check("text/csv", CSV_HEAD, 422);
    /* Not UTF-8 after a bad row: the body is refused whole first. */
    check("text/csv", CSV_HEAD "conv2d,3,8,3,8,8,-1\nconv2d,3,8,3,8,8,\xC3\n", 400);
    check("text/csv", CSV_HEAD "conv2d,3,8,3,8,8,1\nconv2d,3,8,3,8,8,\xE2\x82", 400);
}

static void test_ndjson(void **state)
{
    (void)state;
    const char *a = "{\"key\":{\"op\":\"conv2d\",\"cin\":3,\"cout\":8,\"k\":3,\"h\":8,\"w\":8},"
                    "\"latency\":{\"mean\":1.5}}";
    char body[1024];
    snprintf(body, sizeof body, "%s\n\n  \n%s", a, a);
    check("application/x-ndjson", body, 0);
    snprintf(body, sizeof body, "%s\n{\"key\":1}\n%s\n", a, a);
    check("application/x-ndjson", body, 422);
    snprintf(body, sizeof body, "%s\n{\"key\":\n", a);
    check("application/jsonl", body, 400);
    check("application/x-ndjson", "\n\n", 422);
    snprintf(body, sizeof body, "%s\n{\"key\":1}\n\"\xFF\"\n", a);
    check("application/x-ndjson", body, 400);
}

static void test_open(void **state)
{
    (void)state;
    assert_null(fm_batch_stream_open("application/json"));
    assert_null(fm_batch_stream_open(""));
    fm_batch_stream_free(NULL);
    fm_batch_stream *st = fm_batch_stream_open("text/csv");
    fm_batch_stream_feed(st, CSV_HEAD "conv2d,3,8", 40);
    fm_batch_stream_free(st); /* unfinished */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_ndjson),
        cmocka_unit_test(test_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

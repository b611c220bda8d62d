/*
 * results.c — fields= and Accept of batch estimates (see results.h).
 */
#include "results.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *type;
    fm_results_format format;
} media[] = {
    {"application/json", FM_RESULTS_JSON},   {"application/*", FM_RESULTS_JSON},
    {"*/*", FM_RESULTS_JSON},                {"application/x-ndjson", FM_RESULTS_NDJSON},
    {"text/csv", FM_RESULTS_CSV},            {"text/*", FM_RESULTS_CSV},
};

/* The q of one Accept item's parameters (";q=0.5"); 1 without one. */
static double item_q(const char *params, size_t n)
{
    for (size_t i = 0; i + 2 < n; i++)
        if (params[i] == ';') {
            size_t j = i + 1;
            while (j < n && params[j] == ' ')
                j++;
            if (j + 1 < n && (params[j] == 'q' || params[j] == 'Q') && params[j + 1] == '=')
                return strtod(params + j + 2, NULL);
        }
    return 1;
}

/* The format of the Accept header with the highest q (the first of equal
 * ones); -1 when it allows none. No header: JSON. */
static int accept_format(const char *accept)
{
    if (!accept || !*accept)
        return FM_RESULTS_JSON;
    int best = -1;
    double best_q = 0;
    const char *p = accept;
    while (*p) {
        size_t n = strcspn(p, ",");
        size_t t = 0;
        while (t < n && p[t] == ' ')
            t++;
        size_t e = t;
        while (e < n && p[e] != ';' && p[e] != ' ')
            e++;
        double q = item_q(p + e, n - e);
        for (size_t m = 0; m < sizeof media / sizeof media[0]; m++)
            if (strlen(media[m].type) == e - t && !strncasecmp(media[m].type, p + t, e - t) && q > best_q) {
                best = (int)media[m].format;
                best_q = q;
            }
        p += n;
        if (*p == ',')
            p++;
    }
    return best;
}

static int fields_param(fm_results *r, const fm_request *rq, fm_response *rs, const char *const *names)
{
    const char *s = fm_query(rq, "fields");
    size_t count = 0;
    while (names[count])
        count++;
    r->fields = count >= 32 ? ~0u : (1u << count) - 1;
    if (!s)
        return 0;
    r->fields = 0;
    for (const char *p = s;;) {
        size_t n = strcspn(p, ",");
        size_t i = 0;
        while (names[i] && !(strlen(names[i]) == n && !strncmp(names[i], p, n)))
            i++;
        if (!names[i]) {
            char known[256] = "", reason[320];
            for (size_t k = 0; names[k]; k++)
                snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", k ? ", " : "", names[k]);
            snprintf(reason, sizeof reason, "\"%.*s\" is not a result field; known: %s", (int)(n > 40 ? 40 : n), p,
                     known);
            fm_problem(rs, 400, "invalid-parameter", fm_err_param(NULL, "fields", reason), "fields: %s", reason);
            return -1;
        }
        r->fields |= 1u << i;
        p += n;
        if (!*p)
            break;
        p++;
    }
    return 0;
}

int fm_results_start(fm_results *r, const fm_request *rq, fm_response *rs, const char *const *names)
{
    memset(r, 0, sizeof *r);
    fm_jw_init(&r->jw, &r->buf);
    if (fields_param(r, rq, rs, names))
        return -1;
    int f = accept_format(fm_header(rq, "Accept"));
    if (f < 0) {
        fm_problem(rs, 406, "not-acceptable",
                   fm_err_param(NULL, "Accept", "answers are application/json, application/x-ndjson or text/csv"),
                   "none of the media types in Accept can be answered");
        return -1;
    }
    r->format = (fm_results_format)f;
    return 0;
}

void fm_results_csv_cell(fm_results *r, int first, const char *text)
{
    if (!first)
        fm_buf_append(&r->buf, ",", 1);
    size_t n = strlen(text);
    if (strcspn(text, ",\"\r\n") == n) {
        fm_buf_append(&r->buf, text, n);
        return;
    }
    fm_buf_append(&r->buf, "\"", 1);
    for (const char *q; (q = strchr(text, '"')); text = q + 1) {
        fm_buf_append(&r->buf, text, (size_t)(q - text) + 1);
        fm_buf_append(&r->buf, "\"", 1);
    }
    fm_buf_append(&r->buf, text, strlen(text));
    fm_buf_append(&r->buf, "\"", 1);
}

void fm_results_finish(fm_results *r, fm_response *rs)
{
    static const char *const types[] = {"application/json", "application/x-ndjson", "text/csv; charset=utf-8"};
    if (r->buf.oom) {
        fm_results_discard(r);
        fm_problem(rs, 500, "internal", NULL, "out of memory");
        return;
    }
    if (!r->buf.data)
        r->buf.data = calloc(1, 1);
    fm_respond_text(rs, 200, types[r->format], r->buf.data, r->buf.len);
    memset(&r->buf, 0, sizeof r->buf);
}

void fm_results_discard(fm_results *r)
{
    free(r->buf.data);
    memset(&r->buf, 0, sizeof r->buf);
}

/*
 * http.c — what handlers use of HTTP: request accessors, responses and
 * problem+json answers.
 */
#include "http.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- helpers */

const char *fm_query(const fm_request *rq, const char *name)
{
    return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *fm_header(const fm_request *rq, const char *name)
{
    return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

void fm_media_type(const char *header, char *out, size_t size)
{
    size_t n = 0;
    if (header) {
        while (*header == ' ' || *header == '\t')
            header++;
        while (*header && *header != ';' && *header != ' ' && *header != '\t' && n + 1 < size)
            out[n++] = (char)tolower((unsigned char)*header++);
    }
    out[n] = '\0';
}

void fm_respond_json(fm_response *rs, unsigned status, json_t *body)
{
    json_decref(rs->json);
    free(rs->text);
    rs->text = NULL;
    rs->status = status;
    rs->json = body;
    rs->content_type = "application/json";
}

void fm_respond_text(fm_response *rs, unsigned status, const char *content_type,
                     char *text, size_t len)
{
    json_decref(rs->json);
    free(rs->text);
    rs->json = NULL;
    rs->status = status;
    rs->text = text;
    rs->text_len = len;
    rs->content_type = content_type;
}

void fm_add_header(fm_response *rs, const char *name, const char *fmt, ...)
{
    if (rs->nheaders >= FM_MAX_HEADERS)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rs->header_values[rs->nheaders], sizeof rs->header_values[0], fmt, ap);
    va_end(ap);
    rs->header_names[rs->nheaders++] = name;
}

/* ------------------------------------------------------------- problems */

static const struct {
    const char *slug;
    const char *title;
} problem_titles[] = {
    {"malformed-body", "Malformed body"},
    {"invalid-parameter", "Invalid parameter"},
    {"unauthorized", "Unauthorized"},
    {"forbidden", "Forbidden"},
    {"not-found", "Not found"},
    {"method-not-allowed", "Method not allowed"},
    {"not-acceptable", "Not acceptable"},
    {"body-too-large", "Body too large"},
    {"unsupported-media-type", "Unsupported media type"},
    {"invalid-field", "Invalid field"},
    {"conflict", "Conflict"},
    {"idempotency-key-reused", "Idempotency key reused"},
    {"read-only-replica", "Read-only replica"},
    {"internal", "Internal error"},
    {"unavailable", "Service unavailable"},
};

const char *fm_problem_title(const char *slug)
{
    for (size_t i = 0; i < sizeof problem_titles / sizeof problem_titles[0]; i++)
        if (strcmp(problem_titles[i].slug, slug) == 0)
            return problem_titles[i].title;
    return "Error";
}

/* A JSON string of s; bytes that are not valid UTF-8 (client text cut
 * short by a format width, or never UTF-8) become '?'. */
static json_t *text_json(const char *s)
{
    json_t *j = json_string(s);
    if (j)
        return j;
    size_t n = strlen(s), o = 0;
    char *out = malloc(n + 1);
    if (!out)
        return json_string("?");
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
        json_t *one = len && i + len <= n ? json_stringn(s + i, len) : NULL;
        if (one) {
            memcpy(out + o, s + i, len);
            o += len;
            i += len;
            json_decref(one);
        } else {
            out[o++] = '?';
            i++;
        }
    }
    j = json_stringn(out, o);
    free(out);
    return j;
}

static json_t *errors_array(json_t *errors)
{
    return errors ? errors : json_array();
}

json_t *fm_err_pointer(json_t *errors, const char *pointer, const char *reason)
{
    errors = errors_array(errors);
    json_array_append_new(errors, json_pack("{s:o, s:o}", "pointer", text_json(pointer), "reason", text_json(reason)));
    return errors;
}

json_t *fm_err_param(json_t *errors, const char *parameter, const char *reason)
{
    errors = errors_array(errors);
    json_array_append_new(errors, json_pack("{s:o, s:o}", "parameter", text_json(parameter), "reason", text_json(reason)));
    return errors;
}

json_t *fm_err_row(json_t *errors, long row, long line, const char *pointer,
                   const char *field, const char *reason)
{
    errors = errors_array(errors);
    json_t *item = json_object();
    if (row >= 0)
        json_object_set_new(item, "row", json_integer(row));
    if (line > 0)
        json_object_set_new(item, "line", json_integer(line));
    if (pointer)
        json_object_set_new(item, "pointer", text_json(pointer));
    if (field && *field)
        json_object_set_new(item, "field", text_json(field));
    json_object_set_new(item, "reason", text_json(reason));
    if (row < 0 && !pointer)
        json_object_set_new(item, "pointer", json_string(""));
    json_array_append_new(errors, item);
    return errors;
}

void fm_problem(fm_response *rs, unsigned status, const char *slug,
                json_t *errors, const char *detail_fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, detail_fmt);
    vsnprintf(detail, sizeof detail, detail_fmt, ap);
    va_end(ap);
    if (!errors || json_array_size(errors) == 0)
        errors = fm_err_pointer(errors, "", detail);
    char type[128];
    snprintf(type, sizeof type, "https://fmas.dev/problems/%s", slug);
    json_t *body = json_pack("{s:s, s:s, s:i, s:o, s:o}", "type", type,
                             "title", fm_problem_title(slug), "status", (int)status,
                             "detail", text_json(detail), "errors", errors);
    fm_respond_json(rs, status, body);
    rs->content_type = "application/problem+json";
}

void fm_store_failure(fm_response *rs, int rc, const char *what)
{
    if (rc == LUT_ENOTFOUND) {
        fm_problem(rs, 404, "not-found", fm_err_param(NULL, "name", "nothing has this name"),
                   "%s not found", what);
        return;
    }
    fm_problem(rs, 500, "internal", NULL, "storage failure (%s): %s", what, lut_strerror(rc));
}

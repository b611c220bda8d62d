/*
 * http.c — libmicrohttpd glue: reading bodies under a cap, routing, turning
 * handler responses into HTTP responses, problem+json, metrics.
 */
#include "http.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server.h"

/* ------------------------------------------------------------- helpers */

const char *fm_query(const fm_request *rq, const char *name)
{
    return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *fm_header(const fm_request *rq, const char *name)
{
    return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
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
    {"not-found", "Not found"},
    {"method-not-allowed", "Method not allowed"},
    {"not-acceptable", "Not acceptable"},
    {"body-too-large", "Body too large"},
    {"unsupported-media-type", "Unsupported media type"},
    {"invalid-field", "Invalid field"},
    {"conflict", "Conflict"},
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

static json_t *errors_array(json_t *errors)
{
    return errors ? errors : json_array();
}

json_t *fm_err_pointer(json_t *errors, const char *pointer, const char *reason)
{
    errors = errors_array(errors);
    json_array_append_new(errors, json_pack("{s:s, s:s}", "pointer", pointer, "reason", reason));
    return errors;
}

json_t *fm_err_param(json_t *errors, const char *parameter, const char *reason)
{
    errors = errors_array(errors);
    json_array_append_new(errors, json_pack("{s:s, s:s}", "parameter", parameter, "reason", reason));
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
        json_object_set_new(item, "pointer", json_string(pointer));
    if (field && *field)
        json_object_set_new(item, "field", json_string(field));
    json_object_set_new(item, "reason", json_string(reason));
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
    json_t *body = json_pack("{s:s, s:s, s:i, s:s, s:o}", "type", type,
                             "title", fm_problem_title(slug), "status", (int)status,
                             "detail", detail, "errors", errors);
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

/* ------------------------------------------------------------- routing */

/* A simple, careful splitter: "/a/b/c" → {"a","b","c"}; "/" → {""}. */
static int path_segments(char *buf, char **segs, int max)
{
    if (buf[0] != '/')
        return -1;
    int n = 0;
    char *p = buf + 1;
    for (;;) {
        if (n == max)
            return -1;
        segs[n++] = p;
        char *slash = strchr(p, '/');
        if (!slash)
            break;
        *slash = '\0';
        p = slash + 1;
    }
    return n;
}

int fm_route_match(const char *method, const char *path, char *pathbuf,
                   size_t pathbuf_size, const char **params, size_t *nparams,
                   char *allow, size_t allow_size, int *pattern_idx)
{
    size_t plen = strlen(path);
    if (plen + 1 > pathbuf_size)
        return -1;
    memcpy(pathbuf, path, plen + 1);
    char *segs[16];
    int nseg = path_segments(pathbuf, segs, 16);
    if (nseg < 0)
        return -1;

    int found_path = 0;
    const char *matched_pattern = NULL;
    allow[0] = '\0';
    *pattern_idx = -1;
    int pattern_seen = -1;
    for (size_t r = 0; r < fm_nroutes; r++) {
        char pat[128];
        snprintf(pat, sizeof pat, "%s", fm_routes[r].pattern);
        char *psegs[16];
        int npseg = path_segments(pat, psegs, 16);
        if (npseg != nseg)
            continue;
        size_t np = 0;
        int ok = 1;
        for (int i = 0; i < nseg && ok; i++) {
            if (psegs[i][0] == '{') {
                if (segs[i][0] == '\0')
                    ok = 0;
                else if (np < FM_MAX_PATH_PARAMS)
                    params[np++] = segs[i];
            } else if (strcmp(psegs[i], segs[i]) != 0) {
                ok = 0;
            }
        }
        if (!ok)
            continue;
        /* Patterns are listed grouped, so the first match names the pattern. */
        if (!matched_pattern) {
            matched_pattern = fm_routes[r].pattern;
            pattern_seen = (int)r;
        }
        if (strcmp(fm_routes[r].pattern, matched_pattern) != 0)
            continue;
        found_path = 1;
        size_t al = strlen(allow);
        snprintf(allow + al, allow_size - al, "%s%s", al ? ", " : "", fm_routes[r].method);
        if (strcmp(fm_routes[r].method, method) == 0) {
            *nparams = np;
            *pattern_idx = pattern_seen;
            return (int)r;
        }
    }
    if (found_path) {
        *pattern_idx = pattern_seen;
        return -2;
    }
    return -1;
}

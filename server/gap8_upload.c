/*
 * gap8_upload.c — a GAP SDK performance log as a LUT upload (see
 * gap8_upload.h); the parsing itself is gap8_log.c.
 */
#include "gap8_upload.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codec.h"
#include "gap8_log.h"

#define MEDIA_PERF "text/x-gap8-perf"
#define MEDIA_MULTIPART "multipart/form-data"

static const char *find_bytes(const char *hay, size_t n, const char *needle, size_t m)
{
    if (m == 0 || m > n)
        return NULL;
    for (const char *p = hay; (p = memchr(p, needle[0], n - (size_t)(p - hay) - m + 1)); p++)
        if (!memcmp(p, needle, m))
            return p;
    return NULL;
}

/* The value of name="..." in a Content-Disposition header block. */
static int part_name(const char *hdr, size_t n, char *name, size_t cap)
{
    const char *p = find_bytes(hdr, n, "name=\"", 6);
    /* filename="..." also contains name=": skip matches preceded by a letter */
    while (p && p > hdr && isalpha((unsigned char)p[-1]))
        p = find_bytes(p + 6, n - (size_t)(p + 6 - hdr), "name=\"", 6);
    if (!p)
        return -1;
    p += 6;
    const char *q = memchr(p, '"', n - (size_t)(p - hdr));
    if (!q || (size_t)(q - p) >= cap)
        return -1;
    memcpy(name, p, (size_t)(q - p));
    name[q - p] = '\0';
    return 0;
}

int fm_gap8_multipart(const char *body, size_t len, const char *boundary,
                      const char **log, size_t *log_len, const char **map, size_t *map_len,
                      const char **reason)
{
    char delim[80];
    size_t bl = strlen(boundary);
    *log = *map = NULL;
    *log_len = *map_len = 0;
    if (bl == 0 || bl > 70) {
        *reason = "the multipart boundary is 1 to 70 characters";
        return -1;
    }
    size_t dl = (size_t)snprintf(delim, sizeof delim, "\r\n--%s", boundary);
    /* The first delimiter may open the body without its CR LF. */
    const char *p = body, *end = body + len;
    if (len >= dl - 2 && !memcmp(body, delim + 2, dl - 2))
        p = body + dl - 2;
    else if ((p = find_bytes(body, len, delim, dl)))
        p += dl;
    else {
        *reason = "the body has no multipart delimiter of the Content-Type's boundary";
        return -1;
    }
    for (;;) {
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            return 0; /* the close delimiter */
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n') {
            *reason = "a multipart delimiter is not followed by CR LF";
            return -1;
        }
        p += 2;
        const char *hend = find_bytes(p, (size_t)(end - p), "\r\n\r\n", 4);
        const char *next = hend ? find_bytes(hend + 4, (size_t)(end - hend - 4), delim, dl) : NULL;
        if (!hend || !next) {
            *reason = "a multipart part is truncated (no blank line after its headers, or no delimiter after it)";
            return -1;
        }
        char name[16];
        if (part_name(p, (size_t)(hend - p), name, sizeof name) ||
            (strcmp(name, "log") && strcmp(name, "map"))) {
            *reason = "every part is named log or map (Content-Disposition: form-data; name=\"log\")";
            return -1;
        }
        const char **dst = name[0] == 'l' ? log : map;
        size_t *dst_len = name[0] == 'l' ? log_len : map_len;
        if (*dst) {
            *reason = "a multipart part is given twice";
            return -1;
        }
        *dst = hend + 4;
        *dst_len = (size_t)(next - hend - 4);
        p = next + dl;
    }
}

/* The boundary parameter of a multipart Content-Type header. */
static int boundary_of(const char *ct, char *out, size_t cap)
{
    const char *p = ct ? strstr(ct, "boundary=") : NULL;
    if (!p)
        return -1;
    p += 9;
    int quoted = *p == '"';
    p += quoted;
    size_t n = 0;
    while (p[n] && (quoted ? p[n] != '"' : p[n] != ';' && !isspace((unsigned char)p[n])))
        n++;
    if (n == 0 || n >= cap)
        return -1;
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

static json_t *json_object_body(const fm_request *rq)
{
    if (strcmp(rq->content_type, "application/json"))
        return NULL;
    size_t i = 0;
    while (i < rq->body_len && isspace((unsigned char)rq->body[i]))
        i++;
    if (i == rq->body_len || rq->body[i] != '{')
        return NULL;
    json_t *v = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, NULL);
    if (v && !json_object_get(v, "format")) {
        json_decref(v);
        return NULL;
    }
    return v;
}

int fm_gap8_is_upload(const fm_request *rq)
{
    if (!strcmp(rq->content_type, MEDIA_PERF) || !strcmp(rq->content_type, MEDIA_MULTIPART))
        return 1;
    json_t *v = json_object_body(rq);
    json_decref(v);
    return v != NULL;
}

/* The log and map of a JSON wrapper; answers 422 and returns -1 if bad. */
static int from_json(const fm_request *rq, fm_response *rs, json_t **doc, const char **log,
                     size_t *log_len, const char **map, size_t *map_len)
{
    *doc = json_object_body(rq);
    const char *key;
    json_t *v;
    json_object_foreach(*doc, key, v) {
        char pointer[40];
        snprintf(pointer, sizeof pointer, "/%.30s", key);
        const char *why = NULL;
        if (!strcmp(key, "format"))
            why = json_is_string(v) && !strcmp(json_string_value(v), "gap8-perf")
                      ? NULL : "must be \"gap8-perf\"";
        else if (!strcmp(key, "log") || !strcmp(key, "map"))
            why = json_is_string(v) ? NULL : "must be a string";
        else
            why = "is not a member of the gap8-perf wrapper (format, log, map)";
        if (why) {
            fm_problem(rs, 422, "invalid-field", fm_err_pointer(NULL, pointer, why), "%s %s", pointer, why);
            return -1;
        }
    }
    json_t *l = json_object_get(*doc, "log"), *m = json_object_get(*doc, "map");
    if (!l) {
        fm_problem(rs, 422, "invalid-field", fm_err_pointer(NULL, "/log", "is required"), "/log is required");
        return -1;
    }
    *log = json_string_value(l);
    *log_len = json_string_length(l);
    *map = m ? json_string_value(m) : NULL;
    *map_len = m ? json_string_length(m) : 0;
    return 0;
}

static void answer_faults(fm_response *rs, const fm_gap8_result *r)
{
    json_t *errors = NULL;
    for (size_t i = 0; i < r->nfaults; i++) {
        const fm_gap8_fault *f = &r->faults[i];
        char reason[FM_GAP8_NAME_MAX + 200];
        snprintf(reason, sizeof reason, "%s%s%s", f->name, f->name[0] ? ": " : "", f->reason);
        errors = fm_err_row(errors, -1, f->line, f->in_map ? "/map" : "/log", f->field[0] ? f->field : NULL,
                            reason);
    }
    const fm_gap8_fault *f = &r->faults[0];
    fm_problem(rs, 422, "invalid-field", errors, "%zu fault%s in the %s (the first at line %ld%s%s): %s; "
               "nothing was written", r->nfaults_total, r->nfaults_total == 1 ? "" : "s",
               f->in_map ? "map" : "log", f->line, f->name[0] ? ", " : "", f->name, f->reason);
}

int fm_gap8_parse_upload(const fm_request *rq, fm_response *rs, const lut_device *dev,
                         lut_entry **rows, size_t *n)
{
    if (strcmp(dev->unit, "cycles") || !(dev->clock_mhz > 0)) {
        fm_problem(rs, 422, "invalid-field", fm_err_param(NULL, "name", "a GAP8 performance log gives "
                   "cycles: the device must have unit cycles and a clock_mhz"),
                   "device %s is in %s%s; a GAP8 performance log needs unit cycles with clock_mhz",
                   dev->name, dev->unit, dev->clock_mhz > 0 ? "" : " without a clock");
        return -1;
    }
    if (!fm_utf8_valid(rq->body, rq->body_len)) {
        fm_problem(rs, 400, "malformed-body", NULL, "the body is not valid UTF-8");
        return -1;
    }
    const char *log = rq->body, *map = NULL;
    size_t log_len = rq->body_len, map_len = 0;
    json_t *doc = NULL;
    if (!strcmp(rq->content_type, MEDIA_MULTIPART)) {
        char boundary[80];
        const char *why = "the Content-Type has no boundary parameter";
        if (boundary_of(fm_header(rq, "Content-Type"), boundary, sizeof boundary) ||
            fm_gap8_multipart(rq->body, rq->body_len, boundary, &log, &log_len, &map, &map_len, &why)) {
            fm_problem(rs, 400, "malformed-body", NULL, "%s", why);
            return -1;
        }
        if (!log) {
            fm_problem(rs, 422, "invalid-field", fm_err_pointer(NULL, "/log", "the part log is required"),
                       "the multipart body has no part named log");
            return -1;
        }
    } else if (strcmp(rq->content_type, MEDIA_PERF) &&
               from_json(rq, rs, &doc, &log, &log_len, &map, &map_len)) {
        json_decref(doc);
        return -1;
    }
    fm_gap8_result r;
    int rc = fm_gap8_parse(log, log_len, map, map_len, &r);
    json_decref(doc);
    if (rc == 1)
        answer_faults(rs, &r);
    else if (rc)
        fm_problem(rs, 500, "internal", NULL, "out of memory");
    if (rc) {
        fm_gap8_result_free(&r);
        return -1;
    }
    *rows = r.rows;
    *n = r.n;
    free(r.lines);
    return 0;
}

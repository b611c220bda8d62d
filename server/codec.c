/*
 * codec.c — JSON, NDJSON and CSV bodies to and from lut values.
 */
#include "codec.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- errors */

static int fault(lut_error *err, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fault(lut_error *err, const char *field, const char *fmt, ...)
{
    if (err) {
        snprintf(err->field, sizeof err->field, "%s", field);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->reason, sizeof err->reason, fmt, ap);
        va_end(ap);
    }
    return LUT_EINVAL;
}

/* Prefix err->field with "prefix/". */
static void nest(lut_error *err, const char *prefix)
{
    char tmp[sizeof err->field];
    size_t pl = strlen(prefix), fl = strlen(err->field);
    if (pl + 1 + fl >= sizeof tmp)
        fl = sizeof tmp > pl + 2 ? sizeof tmp - pl - 2 : 0;
    memcpy(tmp, prefix, pl);
    size_t n = pl;
    if (fl) {
        tmp[n++] = '/';
        memcpy(tmp + n, err->field, fl);
        n += fl;
    }
    tmp[n] = '\0';
    memcpy(err->field, tmp, n + 1);
}

/* Negative sizes never reach canonicalization, where -1 means "not given". */
static int negative(lut_error *err, const char *field, long long v)
{
    if (!strcmp(field, "pad"))
        return fault(err, field, "must be between 0 and 65536, got %lld", v);
    return fault(err, field, "must be at least 1, got %lld", v);
}

static const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number with a fraction or exponent";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "a value";
}

/* ------------------------------------------------------------- bodies */

int fm_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        unsigned c = *p;
        size_t len;
        unsigned min;
        if (c < 0x80) {
            p++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            len = 2, min = 0x80, c &= 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, min = 0x800, c &= 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, min = 0x10000, c &= 0x07;
        } else {
            return 0;
        }
        if ((size_t)(end - p) < len)
            return 0;
        for (size_t i = 1; i < len; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return 0;
            c = (c << 6) | (p[i] & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
            return 0;
        p += len;
    }
    return 1;
}

static json_t *parse_json(const char *text, size_t len, fm_response *rs, long line)
{
    json_error_t jerr;
    json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!v) {
        char reason[300];
        if (line > 0)
            snprintf(reason, sizeof reason, "line %ld, column %d: %s", line, jerr.column, jerr.text);
        else
            snprintf(reason, sizeof reason, "line %d, column %d: %s", jerr.line, jerr.column, jerr.text);
        json_t *errors = line > 0 ? fm_err_row(NULL, -1, line, "", NULL, reason)
                                  : fm_err_pointer(NULL, "", reason);
        fm_problem(rs, 400, "malformed-body", errors, "the body is not valid JSON: %s", reason);
    }
    return v;
}

json_t *fm_read_json_body(const fm_request *rq, fm_response *rs)
{
    if (rq->content_type[0] && strcmp(rq->content_type, "application/json") != 0) {
        fm_problem(rs, 415, "unsupported-media-type", NULL,
                   "Content-Type %s is not accepted here; send application/json", rq->content_type);
        return NULL;
    }
    return parse_json(rq->body, rq->body_len, rs, 0);
}

/* ------------------------------------------------------------- keys */

enum attr_kind { A_INT, A_BOOL, A_STR };

static const struct attr {
    const char *name;
    enum attr_kind kind;
    size_t offset;
} key_attrs[] = {
    {"op", A_STR, offsetof(lut_key, op)},
    {"cin", A_INT, offsetof(lut_key, cin)},
    {"cout", A_INT, offsetof(lut_key, cout)},
    {"k", A_INT, offsetof(lut_key, k)},
    {"stride", A_INT, offsetof(lut_key, stride)},
    {"dilation", A_INT, offsetof(lut_key, dilation)},
    {"groups", A_INT, offsetof(lut_key, groups)},
    {"pad", A_INT, offsetof(lut_key, pad)},
    {"h", A_INT, offsetof(lut_key, h)},
    {"w", A_INT, offsetof(lut_key, w)},
    {"out_h", A_INT, offsetof(lut_key, out_h)},
    {"out_w", A_INT, offsetof(lut_key, out_w)},
    {"bias", A_BOOL, offsetof(lut_key, bias)},
    {"bn", A_BOOL, offsetof(lut_key, bn)},
    {"dtype", A_STR, offsetof(lut_key, dtype)},
};
#define N_KEY_ATTRS (sizeof key_attrs / sizeof key_attrs[0])

static const struct attr *find_attr(const char *name)
{
    for (size_t i = 0; i < N_KEY_ATTRS; i++)
        if (strcmp(key_attrs[i].name, name) == 0)
            return &key_attrs[i];
    return NULL;
}

static size_t str_capacity(const struct attr *a)
{
    return a->offset == offsetof(lut_key, op) ? LUT_OP_MAX : LUT_DTYPE_MAX;
}

int fm_key_from_json(json_t *obj, lut_key *key, char *name, size_t name_size,
                     lut_error *err)
{
    lut_key_init(key);
    if (name && name_size)
        name[0] = '\0';
    if (!json_is_object(obj))
        return fault(err, "", "a layer key must be an object, not %s", json_type_name(obj));
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        if (strcmp(k, "name") == 0) {
            if (!json_is_string(v))
                return fault(err, "name", "must be a string, not %s", json_type_name(v));
            if (name && name_size)
                snprintf(name, name_size, "%s", json_string_value(v));
            continue;
        }
        const struct attr *a = find_attr(k);
        if (!a)
            return fault(err, k, "unknown attribute \"%.60s\"", k);
        char *field = (char *)key + a->offset;
        switch (a->kind) {
        case A_INT:
            if (!json_is_integer(v))
                return fault(err, k, "must be an integer, not %s", json_type_name(v));
            if (json_integer_value(v) < 0)
                return negative(err, k, (long long)json_integer_value(v));
            memcpy(field, &(int64_t){(int64_t)json_integer_value(v)}, sizeof(int64_t));
            break;
        case A_BOOL:
            if (!json_is_boolean(v))
                return fault(err, k, "must be true or false, not %s", json_type_name(v));
            memcpy(field, &(int64_t){json_is_true(v) ? 1 : 0}, sizeof(int64_t));
            break;
        case A_STR: {
            if (!json_is_string(v))
                return fault(err, k, "must be a string, not %s", json_type_name(v));
            size_t len = json_string_length(v);
            if (len == 0 || len >= str_capacity(a))
                return fault(err, k, "must be 1 to %zu characters of [a-z0-9_]", str_capacity(a) - 1);
            memcpy(field, json_string_value(v), len + 1);
            if (strlen(field) != len)
                return fault(err, k, "must not contain NUL characters");
            break;
        }
        }
    }
    if (!key->op[0])
        return fault(err, "op", "is required");
    return lut_key_canonicalize(key, err);
}

json_t *fm_key_to_json(const lut_key *key)
{
    json_t *o = json_object();
    for (size_t i = 0; i < N_KEY_ATTRS; i++) {
        const struct attr *a = &key_attrs[i];
        const char *field = (const char *)key + a->offset;
        int64_t iv;
        switch (a->kind) {
        case A_STR:
            json_object_set_new(o, a->name, json_string(field));
            break;
        case A_BOOL:
            memcpy(&iv, field, sizeof iv);
            json_object_set_new(o, a->name, json_boolean(iv == 1));
            break;
        case A_INT:
            memcpy(&iv, field, sizeof iv);
            /* 0 means "not used by this op"; pad 0 is meaningful. */
            if (iv > 0 || (a->offset == offsetof(lut_key, pad) && iv == 0))
                json_object_set_new(o, a->name, json_integer(iv));
            break;
        }
    }
    return o;
}

/* ------------------------------------------------------------- entries */

static int number_field(json_t *v, const char *field, double *out, lut_error *err)
{
    if (!json_is_number(v))
        return fault(err, field, "must be a number, not %s", json_type_name(v));
    *out = json_number_value(v);
    if (!isfinite(*out))
        return fault(err, field, "must be finite");
    return 0;
}

static int count_field(json_t *v, const char *field, uint64_t *out, lut_error *err)
{
    if (!json_is_integer(v))
        return fault(err, field, "must be an integer, not %s", json_type_name(v));
    json_int_t n = json_integer_value(v);
    if (n < 1)
        return fault(err, field, "must be at least 1, got %lld", (long long)n);
    *out = (uint64_t)n;
    return 0;
}

int fm_entry_from_json(json_t *obj, lut_entry *row, lut_error *err)
{
    memset(row, 0, sizeof *row);
    row->latency.count = 1;
    if (!json_is_object(obj))
        return fault(err, "", "an entry must be an object, not %s", json_type_name(obj));
    int have_key = 0, have_latency = 0;
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        if (strcmp(k, "key") == 0) {
            have_key = 1;
            int rc = fm_key_from_json(v, &row->key, NULL, 0, err);
            if (rc) {
                nest(err, "key");
                return rc;
            }
        } else if (strcmp(k, "latency") == 0) {
            have_latency = 1;
            if (!json_is_object(v))
                return fault(err, "latency", "must be an object {mean, std, count}, not %s", json_type_name(v));
            int have_mean = 0;
            const char *lk;
            json_t *lv;
            json_object_foreach(v, lk, lv) {
                int rc;
                if (strcmp(lk, "mean") == 0) {
                    have_mean = 1;
                    rc = number_field(lv, "latency/mean", &row->latency.mean, err);
                } else if (strcmp(lk, "std") == 0) {
                    rc = number_field(lv, "latency/std", &row->latency.std, err);
                } else if (strcmp(lk, "count") == 0) {
                    rc = count_field(lv, "latency/count", &row->latency.count, err);
                } else {
                    char f[64];
                    snprintf(f, sizeof f, "latency/%.40s", lk);
                    rc = fault(err, f, "unknown field \"%.40s\"", lk);
                }
                if (rc)
                    return rc;
            }
            if (!have_mean)
                return fault(err, "latency/mean", "is required");
        } else if (strcmp(k, "macs") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 0)
                return fault(err, "macs", "must be a non-negative integer");
            row->has_macs = 1;
            row->macs = (uint64_t)json_integer_value(v);
        } else if (strcmp(k, "computed_macs") == 0 || strcmp(k, "params") == 0) {
            /* Read-only figures of a listing; accepted so listings re-upload. */
            if (!json_is_integer(v))
                return fault(err, k, "must be an integer");
        } else {
            return fault(err, k, "unknown field \"%.60s\"", k);
        }
    }
    if (!have_key)
        return fault(err, "key", "is required");
    if (!have_latency)
        return fault(err, "latency", "is required");
    int rc = lut_entry_check(row, err);
    if (rc && err && err->field[0] && !strchr(err->field, '/') && strcmp(err->field, "macs") != 0)
        nest(err, "latency");
    return rc;
}

json_t *fm_entry_to_json(const lut_entry *row)
{
    lut_cost cost;
    json_t *o = json_pack("{s:o, s:{s:f, s:f, s:I}}", "key", fm_key_to_json(&row->key),
                          "latency", "mean", row->latency.mean, "std", row->latency.std,
                          "count", (json_int_t)row->latency.count);
    if (row->has_macs)
        json_object_set_new(o, "macs", json_integer((json_int_t)row->macs));
    if (lut_key_cost(&row->key, &cost, NULL) == 0) {
        json_object_set_new(o, "computed_macs", json_integer((json_int_t)cost.macs));
        json_object_set_new(o, "params", json_integer((json_int_t)cost.params));
    }
    return o;
}

/* ------------------------------------------------------------- CSV */

enum csv_col {
    C_OP, C_CIN, C_COUT, C_K, C_STRIDE, C_DILATION, C_GROUPS, C_H, C_W, C_PAD,
    C_OUT_H, C_OUT_W, C_BIAS, C_BN, C_DTYPE, C_MEAN, C_STD, C_COUNT, C_MACS, C_NCOLS
};

static const char *const csv_names[C_NCOLS] = {
    "op", "cin", "cout", "k", "stride", "dilation", "groups", "h", "w", "pad",
    "out_h", "out_w", "bias", "bn", "dtype", "latency_mean", "latency_std", "count", "macs"};

void fm_csv_header(fm_buf *out)
{
    for (int i = 0; i < C_NCOLS; i++)
        fm_buf_printf(out, "%s%s", i ? "," : "", csv_names[i]);
    fm_buf_append(out, "\n", 1);
}

void fm_csv_row(fm_buf *out, const lut_entry *r)
{
    const lut_key *k = &r->key;
    /* Sizes an op does not use are stored as 0 and written as empty cells,
     * which read back as "not given"; pad 0 is a real value. */
    const int64_t sizes[] = {k->cin, k->cout, k->k, k->stride, k->dilation, k->groups,
                             k->h, k->w};
    fm_buf_printf(out, "%s", k->op);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        if (sizes[i] > 0)
            fm_buf_printf(out, ",%lld", (long long)sizes[i]);
        else
            fm_buf_append(out, ",", 1);
    }
    fm_buf_printf(out, ",%lld", (long long)k->pad);
    const int64_t outs[] = {k->out_h, k->out_w};
    for (size_t i = 0; i < 2; i++) {
        if (outs[i] > 0)
            fm_buf_printf(out, ",%lld", (long long)outs[i]);
        else
            fm_buf_append(out, ",", 1);
    }
    fm_buf_printf(out, ",%d,%d,%s,%.17g,%.17g,%llu,", (int)k->bias, (int)k->bn, k->dtype,
                  r->latency.mean, r->latency.std, (unsigned long long)r->latency.count);
    if (r->has_macs)
        fm_buf_printf(out, "%llu", (unsigned long long)r->macs);
    fm_buf_append(out, "\n", 1);
}

/* One CSV record: fields split on commas, double quotes honoured. The
 * cells are written into cellbuf; returns the field count or -1 if a
 * quoted field is not closed on the line. */
static int csv_split(const char *line, size_t len, char *cellbuf, char **cells, int max)
{
    int n = 0;
    size_t i = 0;
    char *w = cellbuf;
    for (;;) {
        if (n == max)
            return max + 1;
        cells[n++] = w;
        if (i < len && line[i] == '"') {
            i++;
            for (;;) {
                if (i >= len)
                    return -1;
                if (line[i] == '"') {
                    if (i + 1 < len && line[i + 1] == '"') {
                        *w++ = '"';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                *w++ = line[i++];
            }
            if (i < len && line[i] != ',')
                return -1;
        } else {
            while (i < len && line[i] != ',')
                *w++ = line[i++];
        }
        *w++ = '\0';
        if (i >= len)
            return n;
        i++; /* the comma */
    }
}

static void trim(char **cell)
{
    char *s = *cell;
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    *cell = s;
}

static int csv_int(const char *cell, const char *field, int64_t *out, lut_error *err)
{
    char *end;
    errno = 0;
    long long v = strtoll(cell, &end, 10);
    if (end == cell || *end)
        return fault(err, field, "must be an integer, got \"%.40s\"", cell);
    if (errno == ERANGE)
        return fault(err, field, "is out of range: \"%.40s\"", cell);
    *out = v;
    return 0;
}

static int csv_bool(const char *cell, const char *field, int64_t *out, lut_error *err)
{
    if (!strcmp(cell, "1") || !strcmp(cell, "true") || !strcmp(cell, "True") || !strcmp(cell, "TRUE"))
        *out = 1;
    else if (!strcmp(cell, "0") || !strcmp(cell, "false") || !strcmp(cell, "False") || !strcmp(cell, "FALSE"))
        *out = 0;
    else
        return fault(err, field, "must be 0, 1, true or false, got \"%.40s\"", cell);
    return 0;
}

static int csv_double(const char *cell, const char *field, double *out, lut_error *err)
{
    char *end;
    errno = 0;
    double v = strtod(cell, &end);
    if (end == cell || *end)
        return fault(err, field, "must be a number, got \"%.40s\"", cell);
    if (!isfinite(v) || errno == ERANGE)
        return fault(err, field, "must be a finite number, got \"%.40s\"", cell);
    *out = v;
    return 0;
}

static int csv_string(const char *cell, const char *field, char *dst, size_t cap, lut_error *err)
{
    size_t n = strlen(cell);
    if (n == 0 || n >= cap)
        return fault(err, field, "must be 1 to %zu characters of [a-z0-9_]", cap - 1);
    memcpy(dst, cell, n + 1);
    return 0;
}

static int csv_entry(char **cells, const int *colmap, int ncols, lut_entry *row, lut_error *err)
{
    memset(row, 0, sizeof *row);
    lut_key_init(&row->key);
    row->latency.count = 1;
    int have_mean = 0;
    int64_t *ints[C_NCOLS] = {0};
    ints[C_CIN] = &row->key.cin, ints[C_COUT] = &row->key.cout, ints[C_K] = &row->key.k;
    ints[C_STRIDE] = &row->key.stride, ints[C_DILATION] = &row->key.dilation;
    ints[C_GROUPS] = &row->key.groups, ints[C_H] = &row->key.h, ints[C_W] = &row->key.w;
    ints[C_PAD] = &row->key.pad, ints[C_OUT_H] = &row->key.out_h, ints[C_OUT_W] = &row->key.out_w;
    for (int i = 0; i < ncols; i++) {
        char *cell = cells[i];
        trim(&cell);
        if (!*cell)
            continue; /* not given */
        int c = colmap[i];
        const char *f = csv_names[c];
        int rc = 0;
        int64_t v = 0;
        switch (c) {
        case C_OP: rc = csv_string(cell, f, row->key.op, LUT_OP_MAX, err); break;
        case C_DTYPE: rc = csv_string(cell, f, row->key.dtype, LUT_DTYPE_MAX, err); break;
        case C_BIAS: rc = csv_bool(cell, f, &row->key.bias, err); break;
        case C_BN: rc = csv_bool(cell, f, &row->key.bn, err); break;
        case C_MEAN:
            rc = csv_double(cell, f, &row->latency.mean, err);
            have_mean = 1;
            break;
        case C_STD: rc = csv_double(cell, f, &row->latency.std, err); break;
        case C_COUNT:
            rc = csv_int(cell, f, &v, err);
            if (!rc && v < 1)
                rc = fault(err, f, "must be at least 1, got %lld", (long long)v);
            if (!rc)
                row->latency.count = (uint64_t)v;
            break;
        case C_MACS:
            rc = csv_int(cell, f, &v, err);
            if (!rc && v < 0)
                rc = fault(err, f, "must be a non-negative integer");
            if (!rc)
                row->has_macs = 1, row->macs = (uint64_t)v;
            break;
        default:
            rc = csv_int(cell, f, ints[c], err);
            if (!rc && *ints[c] < 0)
                rc = negative(err, f, (long long)*ints[c]);
            break;
        }
        if (rc)
            return rc;
    }
    if (!row->key.op[0])
        return fault(err, "op", "is required");
    if (!have_mean)
        return fault(err, "latency_mean", "is required (an empty cell gives no latency)");
    int rc = lut_key_canonicalize(&row->key, err);
    if (rc)
        return rc;
    rc = lut_entry_check(row, err);
    if (rc && err && !strcmp(err->field, "mean"))
        snprintf(err->field, sizeof err->field, "latency_mean");
    else if (rc && err && !strcmp(err->field, "std"))
        snprintf(err->field, sizeof err->field, "latency_std");
    return rc;
}

/* Grow-as-needed row array. */
typedef struct rowvec {
    lut_entry *v;
    size_t n, cap;
} rowvec;

static int rowvec_push(rowvec *rv, const lut_entry *row)
{
    if (rv->n == rv->cap) {
        size_t cap = rv->cap ? rv->cap * 2 : 256;
        lut_entry *p = realloc(rv->v, cap * sizeof *p);
        if (!p)
            return -1;
        rv->v = p;
        rv->cap = cap;
    }
    rv->v[rv->n++] = *row;
    return 0;
}

static void bad_row(fm_response *rs, long row, long line, const char *pointer_prefix,
                    const lut_error *e, const char *fmt_kind)
{
    char pointer[128];
    const char *field = strrchr(e->field, '/');
    field = field ? field + 1 : e->field;
    if (pointer_prefix)
        snprintf(pointer, sizeof pointer, "%s%s%s", pointer_prefix, e->field[0] ? "/" : "", e->field);
    json_t *errors = fm_err_row(NULL, row, line, pointer_prefix ? pointer : NULL, field, e->reason);
    fm_problem(rs, 422, "invalid-field", errors, "%s row %ld%s%s: %s", fmt_kind, row,
               field[0] ? ", field " : "", field, e->reason);
}

/*
 * The CSV and NDJSON parsers take the body one line at a time, so the same
 * code reads a body held whole (fm_parse_batch) and one fed as it arrives
 * (fm_batch_stream). The first fault is kept in `fault` and parsing rows
 * stops there; lines are still checked for UTF-8 up to the end, since a
 * body that is not UTF-8 is answered 400 before any row fault, as when the
 * body is checked whole (a '\n' never occurs inside a UTF-8 sequence, so
 * the lines are valid exactly when the body is).
 */
struct fm_batch_stream {
    int csv;             /* 1: text/csv, 0: NDJSON */
    rowvec rv;
    long line;           /* lines seen, from 1 */
    int failed;          /* fault holds the first fault */
    int bad_utf8;
    int oom;             /* a line could not be kept: answer 500 */
    fm_response fault;
    char *carry;         /* an incomplete last line */
    size_t carry_len, carry_cap;
    char *cellbuf;       /* CSV cells of one line */
    size_t cellcap;
    int colmap[C_NCOLS];
    int ncols;           /* -1 until the header is read */
};

/* The CSV header line: which column each cell names. */
static int csv_header(fm_batch_stream *st, char **cells, int n)
{
    fm_response *rs = &st->fault;
    long line = st->line;
    if (n < 0) {
        json_t *e = fm_err_row(NULL, -1, line, "", NULL, "a quoted cell is not closed on its line");
        fm_problem(rs, 400, "malformed-body", e, "the CSV header does not split into cells");
        return -1;
    }
    if (n > C_NCOLS) {
        json_t *e = fm_err_row(NULL, -1, line, "", NULL, "more columns than the format has");
        fm_problem(rs, 422, "invalid-field", e, "the CSV header has too many columns");
        return -1;
    }
    int seen[C_NCOLS] = {0};
    for (int i = 0; i < n; i++) {
        char *name = cells[i];
        trim(&name);
        int c = -1;
        for (int j = 0; j < C_NCOLS; j++)
            if (strcmp(name, csv_names[j]) == 0)
                c = j;
        if (c < 0 || seen[c]) {
            char reason[128];
            snprintf(reason, sizeof reason, "%s column \"%.40s\"", c < 0 ? "unknown" : "duplicate", name);
            json_t *e = fm_err_row(NULL, -1, line, "", name, reason);
            fm_problem(rs, 422, "invalid-field", e, "the CSV header has an %s",
                       c < 0 ? "unknown column" : "duplicate column");
            return -1;
        }
        seen[c] = 1;
        st->colmap[i] = c;
    }
    for (int req = 0; req < C_NCOLS; req++) {
        if ((req == C_OP || req == C_MEAN) && !seen[req]) {
            char reason[96];
            snprintf(reason, sizeof reason, "the required column \"%s\" is missing", csv_names[req]);
            json_t *e = fm_err_row(NULL, -1, line, "", csv_names[req], reason);
            fm_problem(rs, 422, "invalid-field", e, "the CSV header lacks column %s", csv_names[req]);
            return -1;
        }
    }
    st->ncols = n;
    return 0;
}

/* One non-blank CSV line (the header first, then one row each). */
static int csv_line(fm_batch_stream *st, const char *text, size_t len)
{
    fm_response *rs = &st->fault;
    long line = st->line;
    if (len + 1 > st->cellcap) {
        free(st->cellbuf);
        st->cellcap = len + 1;
        st->cellbuf = malloc(st->cellcap);
        if (!st->cellbuf) {
            st->cellcap = 0;
            fm_problem(rs, 500, "internal", NULL, "out of memory");
            return -1;
        }
    }
    char *cells[C_NCOLS + 1];
    int n = csv_split(text, len, st->cellbuf, cells, C_NCOLS);
    if (st->ncols < 0)
        return csv_header(st, cells, n);
    long row = (long)st->rv.n;
    if (n != st->ncols) {
        char reason[128];
        if (n < 0) {
            json_t *e = fm_err_row(NULL, row, line, NULL, NULL, "a quoted cell is not closed on its line");
            fm_problem(rs, 400, "malformed-body", e, "CSV row %ld (line %ld) does not split into cells",
                       row, line);
            return -1;
        }
        if (n > C_NCOLS)
            snprintf(reason, sizeof reason, "has more cells than the header's %d", st->ncols);
        else
            snprintf(reason, sizeof reason, "has %d cells, the header has %d", n, st->ncols);
        json_t *e = fm_err_row(NULL, row, line, NULL, NULL, reason);
        fm_problem(rs, 422, "invalid-field", e, "CSV row %ld (line %ld): %s", row, line, reason);
        return -1;
    }
    lut_entry entry;
    lut_error err = {.row = row};
    if (csv_entry(cells, st->colmap, st->ncols, &entry, &err)) {
        bad_row(rs, row, line, NULL, &err, "CSV");
        return -1;
    }
    if (rowvec_push(&st->rv, &entry)) {
        fm_problem(rs, 500, "internal", NULL, "out of memory");
        return -1;
    }
    return 0;
}

/* One non-blank NDJSON line: one entry object. */
static int ndjson_line(fm_batch_stream *st, const char *text, size_t len)
{
    fm_response *rs = &st->fault;
    json_t *v = parse_json(text, len, rs, st->line);
    if (!v)
        return -1;
    long row = (long)st->rv.n;
    lut_entry entry;
    lut_error err = {.row = row};
    int rc = fm_entry_from_json(v, &entry, &err);
    json_decref(v);
    if (rc) {
        char prefix[8] = "";
        bad_row(rs, row, st->line, prefix, &err, "NDJSON");
        return -1;
    }
    if (rowvec_push(&st->rv, &entry)) {
        fm_problem(rs, 500, "internal", NULL, "out of memory");
        return -1;
    }
    return 0;
}

/* One whole line, without its '\n'. */
static void stream_line(fm_batch_stream *st, const char *text, size_t len)
{
    st->line++;
    if (st->bad_utf8 || st->oom)
        return;
    if (st->csv && st->line == 1 && len >= 3 && (unsigned char)text[0] == 0xEF &&
        (unsigned char)text[1] == 0xBB && (unsigned char)text[2] == 0xBF) {
        text += 3; /* a byte-order mark */
        len -= 3;
    }
    if (!fm_utf8_valid(text, len)) {
        st->bad_utf8 = 1;
        return;
    }
    if (st->failed)
        return;
    if (st->csv) {
        if (len && text[len - 1] == '\r')
            len--;
        if (len == 0)
            return; /* blank lines carry nothing */
        st->failed = csv_line(st, text, len) != 0;
        return;
    }
    size_t i = 0;
    while (i < len && isspace((unsigned char)text[i]))
        i++;
    if (i < len)
        st->failed = ndjson_line(st, text, len) != 0;
}

fm_batch_stream *fm_batch_stream_open(const char *content_type)
{
    int csv;
    if (!strcmp(content_type, "text/csv"))
        csv = 1;
    else if (!strcmp(content_type, "application/x-ndjson") || !strcmp(content_type, "application/jsonl") ||
             !strcmp(content_type, "application/json-seq"))
        csv = 0;
    else
        return NULL;
    fm_batch_stream *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->csv = csv;
    st->ncols = -1;
    return st;
}

/* Keep the bytes of a line not yet complete. */
static void stream_carry(fm_batch_stream *st, const char *data, size_t len)
{
    if (st->oom)
        return;
    if (st->carry_len + len > st->carry_cap) {
        size_t cap = st->carry_cap ? st->carry_cap : 256;
        while (cap < st->carry_len + len)
            cap *= 2;
        char *p = realloc(st->carry, cap);
        if (!p) {
            st->oom = 1;
            return;
        }
        st->carry = p;
        st->carry_cap = cap;
    }
    memcpy(st->carry + st->carry_len, data, len);
    st->carry_len += len;
}

void fm_batch_stream_feed(fm_batch_stream *st, const char *data, size_t len)
{
    const char *p = data, *end = data + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) {
            stream_carry(st, p, (size_t)(end - p));
            return;
        }
        if (st->carry_len || st->oom) {
            stream_carry(st, p, (size_t)(nl - p));
            stream_line(st, st->carry, st->carry_len);
            st->carry_len = 0;
        } else {
            stream_line(st, p, (size_t)(nl - p));
        }
        p = nl + 1;
    }
}

int fm_batch_stream_finish(fm_batch_stream *st, fm_response *rs, lut_entry **rows, size_t *n)
{
    if (st->carry_len) {
        stream_line(st, st->carry, st->carry_len); /* the last line has no '\n' */
        st->carry_len = 0;
    }
    if (st->oom) {
        fm_problem(rs, 500, "internal", NULL, "out of memory");
        return -1;
    }
    if (st->bad_utf8) {
        fm_problem(rs, 400, "malformed-body", NULL, "the body is not valid UTF-8");
        return -1;
    }
    if (st->failed) {
        *rs = st->fault;
        memset(&st->fault, 0, sizeof st->fault);
        st->failed = 0;
        return -1;
    }
    if (st->rv.n == 0) {
        fm_problem(rs, 422, "invalid-field", fm_err_pointer(NULL, "", "the batch has no rows"),
                   "an empty batch changes nothing; send at least one row");
        return -1;
    }
    *rows = st->rv.v;
    *n = st->rv.n;
    st->rv = (rowvec){0};
    return 0;
}

void fm_batch_stream_free(fm_batch_stream *st)
{
    if (!st)
        return;
    json_decref(st->fault.json);
    free(st->rv.v);
    free(st->carry);
    free(st->cellbuf);
    free(st);
}

static int parse_json_array(const fm_request *rq, fm_response *rs, rowvec *rv)
{
    json_t *v = parse_json(rq->body, rq->body_len, rs, 0);
    if (!v)
        return -1;
    int rc = -1;
    if (!json_is_array(v)) {
        char reason[96];
        snprintf(reason, sizeof reason, "must be an array of entries, not %s", json_type_name(v));
        fm_problem(rs, 422, "invalid-field", fm_err_pointer(NULL, "", reason), "the body %s", reason);
        goto out;
    }
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item) {
        lut_entry entry;
        lut_error err = {.row = (long)i};
        if (fm_entry_from_json(item, &entry, &err)) {
            char prefix[32];
            snprintf(prefix, sizeof prefix, "/%zu", i);
            bad_row(rs, (long)i, 0, prefix, &err, "JSON");
            goto out;
        }
        if (rowvec_push(rv, &entry)) {
            fm_problem(rs, 500, "internal", NULL, "out of memory");
            goto out;
        }
    }
    rc = 0;
out:
    json_decref(v);
    return rc;
}

int fm_parse_batch(const fm_request *rq, fm_response *rs, lut_entry **rows, size_t *n)
{
    const char *ct = rq->content_type;
    if (!fm_utf8_valid(rq->body, rq->body_len)) {
        fm_problem(rs, 400, "malformed-body", NULL, "the body is not valid UTF-8");
        return -1;
    }
    if (!ct[0] || !strcmp(ct, "application/json")) {
        rowvec rv = {0};
        int rc = parse_json_array(rq, rs, &rv);
        if (rc == 0 && rv.n == 0) {
            fm_problem(rs, 422, "invalid-field", fm_err_pointer(NULL, "", "the batch has no rows"),
                       "an empty batch changes nothing; send at least one row");
            rc = -1;
        }
        if (rc) {
            free(rv.v);
            return -1;
        }
        *rows = rv.v;
        *n = rv.n;
        return 0;
    }
    fm_batch_stream *st = fm_batch_stream_open(ct);
    if (!st) {
        if (!strcmp(ct, "text/csv") || !strcmp(ct, "application/x-ndjson") ||
            !strcmp(ct, "application/jsonl") || !strcmp(ct, "application/json-seq")) {
            fm_problem(rs, 500, "internal", NULL, "out of memory");
            return -1;
        }
        fm_problem(rs, 415, "unsupported-media-type", NULL,
                   "Content-Type %s is not accepted here; send application/json, "
                   "application/x-ndjson or text/csv", ct);
        return -1;
    }
    fm_batch_stream_feed(st, rq->body, rq->body_len);
    int rc = fm_batch_stream_finish(st, rs, rows, n);
    fm_batch_stream_free(st);
    return rc;
}

/* ------------------------------------------------------------- devices */

int fm_device_from_json(json_t *obj, const char *name, lut_device *dev, lut_error *err)
{
    memset(dev, 0, sizeof *dev);
    snprintf(dev->name, sizeof dev->name, "%s", name);
    if (!json_is_object(obj))
        return fault(err, "", "a device must be an object, not %s", json_type_name(obj));
    int have_unit = 0;
    dev->clock_mhz = 0;
    dev->kind[0] = dev->description[0] = '\0';
    dev->measured = 0;
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        if (!strcmp(k, "name")) {
            if (!json_is_string(v) || strcmp(json_string_value(v), dev->name) != 0)
                return fault(err, "name", "must equal the name in the path (\"%s\")", dev->name);
        } else if (!strcmp(k, "unit")) {
            if (!json_is_string(v))
                return fault(err, "unit", "must be \"us\" or \"cycles\", not %s", json_type_name(v));
            const char *u = json_string_value(v);
            if (strcmp(u, "us") != 0 && strcmp(u, "cycles") != 0)
                return fault(err, "unit", "must be \"us\" or \"cycles\"");
            snprintf(dev->unit, sizeof dev->unit, "%s", u);
            have_unit = 1;
        } else if (!strcmp(k, "clock_mhz")) {
            if (json_is_null(v))
                dev->clock_mhz = 0;
            else if (!json_is_number(v) || !(json_number_value(v) > 0) || !isfinite(json_number_value(v)))
                return fault(err, "clock_mhz", "must be a positive number");
            else
                dev->clock_mhz = json_number_value(v);
        } else if (!strcmp(k, "kind") || !strcmp(k, "description")) {
            char *dst = !strcmp(k, "kind") ? dev->kind : dev->description;
            size_t cap = !strcmp(k, "kind") ? sizeof dev->kind : sizeof dev->description;
            if (!json_is_string(v))
                return fault(err, k, "must be a string, not %s", json_type_name(v));
            if (json_string_length(v) >= cap)
                return fault(err, k, "must be at most %zu characters", cap - 1);
            if (strlen(json_string_value(v)) != json_string_length(v))
                return fault(err, k, "must not contain NUL characters");
            memcpy(dst, json_string_value(v), json_string_length(v) + 1);
        } else if (!strcmp(k, "measured")) {
            if (!json_is_boolean(v))
                return fault(err, "measured", "must be true or false");
            dev->measured = json_is_true(v);
        } else if (!strcmp(k, "entries") || !strcmp(k, "lut_version") || !strcmp(k, "lut_hash")) {
            /* maintained by the service; accepted so a GET body can be PUT back */
        } else {
            return fault(err, k, "unknown field \"%.60s\"", k);
        }
    }
    if (!have_unit)
        return fault(err, "unit", "is required (\"us\" or \"cycles\")");
    return lut_device_check(dev, err);
}

json_t *fm_device_to_json(const lut_device *d)
{
    return json_pack("{s:s, s:s, s:o, s:s, s:s, s:b, s:I, s:I, s:s}",
                     "name", d->name, "unit", d->unit,
                     "clock_mhz", d->clock_mhz > 0 ? json_real(d->clock_mhz) : json_null(),
                     "kind", d->kind, "description", d->description, "measured", d->measured,
                     "entries", (json_int_t)d->entries, "lut_version", (json_int_t)d->lut_version,
                     "lut_hash", d->lut_hash);
}

/*
 * estbody.c — the strict reader of space estimate bodies (see estbody.h).
 */
#include "estbody.h"

#include <stdlib.h>
#include <string.h>

#define MAX_INT_DIGITS 9 /* every such integer fits int */

typedef struct reader {
    const char *p, *end;
} reader;

typedef struct span {
    const char *s;
    size_t n;
} span;

/* A growable array of elements of size esz. */
typedef struct vec {
    void *data;
    size_t n, cap;
} vec;

static int vec_room(vec *v, size_t esz, size_t first_cap)
{
    if (v->n < v->cap)
        return 0;
    size_t cap = v->cap ? v->cap * 2 : first_cap;
    void *d = realloc(v->data, cap * esz);
    if (!d)
        return -1;
    v->data = d;
    v->cap = cap;
    return 0;
}

static void skip_ws(reader *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t'))
        r->p++;
}

/* Skip whitespace, then take c. */
static int take(reader *r, char c)
{
    skip_ws(r);
    if (r->p < r->end && *r->p == c) {
        r->p++;
        return 1;
    }
    return 0;
}

/* A string of printable ASCII without escapes (after whitespace). */
static int string(reader *r, span *out)
{
    if (!take(r, '"'))
        return -1;
    const char *s = r->p;
    while (r->p < r->end && *r->p != '"') {
        unsigned char c = (unsigned char)*r->p;
        if (c < 0x20 || c > 0x7e || c == '\\')
            return -1;
        r->p++;
    }
    if (r->p == r->end)
        return -1;
    out->s = s;
    out->n = (size_t)(r->p - s);
    r->p++;
    return 0;
}

#define IS_WS(c) ((c) == ' ' || (c) == '\n' || (c) == '\r' || (c) == '\t')

/* The integers of one genome after its '[' up to and past its ']'. Each is
 * as JSON writes it, -?(0|[1-9][0-9]*), of at most 9 digits, and not
 * followed by a fraction, an exponent or another digit. One tight loop:
 * a batch has millions of them. */
static int genome_values(reader *r, vec *values)
{
    const char *p = r->p, *end = r->end;
    int *d = values->data;
    size_t n = values->n, cap = values->cap;
    for (;;) {
        while (p < end && IS_WS(*p))
            p++;
        if (n == cap) {
            values->n = n;
            if (vec_room(values, sizeof(int), 1024))
                return -1;
            d = values->data;
            cap = values->cap;
        }
        int neg = p < end && *p == '-';
        p += neg;
        if (p == end || *p < '0' || *p > '9')
            return -1;
        const char *digits = p;
        int v = 0;
        if (*p == '0')
            p++;
        else
            while (p < end && *p >= '0' && *p <= '9' && p - digits < MAX_INT_DIGITS)
                v = v * 10 + (*p++ - '0');
        if (p < end && ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E'))
            return -1;
        d[n++] = neg ? -v : v;
        while (p < end && IS_WS(*p))
            p++;
        if (p == end)
            return -1;
        if (*p == ']')
            break;
        if (*p++ != ',')
            return -1;
    }
    values->n = n;
    r->p = p + 1;
    return 0;
}

/* The devices array: every name as a span into the text. */
static int devices(reader *r, vec *names)
{
    if (!take(r, '['))
        return -1;
    if (take(r, ']'))
        return 0;
    do {
        if (vec_room(names, sizeof(span), 4))
            return -1;
        if (string(r, (span *)names->data + names->n))
            return -1;
        names->n++;
    } while (take(r, ','));
    return take(r, ']') ? 0 : -1;
}

/* The genomes array: values and the start of each genome. */
static int genomes(reader *r, size_t max_genomes, vec *values, vec *starts)
{
    if (!take(r, '['))
        return -1;
    do {
        if (starts->n >= max_genomes || vec_room(starts, sizeof(size_t), 64))
            return -1;
        ((size_t *)starts->data)[starts->n++] = values->n;
        if (!take(r, '['))
            return -1;
        if (!take(r, ']') && genome_values(r, values))
            return -1;
    } while (take(r, ','));
    if (!take(r, ']') || vec_room(starts, sizeof(size_t), 1) ||
        (!values->data && vec_room(values, sizeof(int), 1)))
        return -1;
    ((size_t *)starts->data)[starts->n] = values->n;
    return 0;
}

/* The names as one block: the pointers, then the NUL-terminated texts. */
static char **names_block(const span *names, size_t n)
{
    size_t chars = 0;
    for (size_t i = 0; i < n; i++)
        chars += names[i].n + 1;
    char **block = malloc((n ? n : 1) * sizeof *block + chars);
    if (!block)
        return NULL;
    char *t = (char *)(block + (n ? n : 1));
    for (size_t i = 0; i < n; i++) {
        block[i] = t;
        memcpy(t, names[i].s, names[i].n);
        t[names[i].n] = '\0';
        t += names[i].n + 1;
    }
    return block;
}

static int members(reader *r, size_t max_genomes, vec *names, vec *values, vec *starts)
{
    int seen_devices = 0, seen_genomes = 0;
    if (!take(r, '{'))
        return -1;
    do {
        span key;
        if (string(r, &key) || !take(r, ':'))
            return -1;
        if (key.n == 7 && !memcmp(key.s, "devices", 7) && !seen_devices++) {
            if (devices(r, names))
                return -1;
        } else if (key.n == 7 && !memcmp(key.s, "genomes", 7) && !seen_genomes++) {
            if (genomes(r, max_genomes, values, starts))
                return -1;
        } else {
            return -1;
        }
    } while (take(r, ','));
    if (!take(r, '}') || !seen_devices || !seen_genomes)
        return -1;
    skip_ws(r);
    return r->p == r->end ? 0 : -1;
}

int fm_estbody_parse(const char *text, size_t len, size_t max_genomes, fm_estbody *out)
{
    reader r = {text, text + len};
    vec names = {0}, values = {0}, starts = {0};
    memset(out, 0, sizeof *out);
    int rc = members(&r, max_genomes, &names, &values, &starts);
    if (!rc && !(out->devices = names_block(names.data, names.n)))
        rc = -1;
    free(names.data);
    if (rc) {
        free(values.data);
        free(starts.data);
        return 1;
    }
    out->ndevices = names.n;
    out->values = values.data;
    out->starts = starts.data;
    out->ngenomes = starts.n;
    return 0;
}

void fm_estbody_free(fm_estbody *b)
{
    free(b->devices);
    free(b->values);
    free(b->starts);
    memset(b, 0, sizeof *b);
}

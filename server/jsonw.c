/*
 * jsonw.c — the streaming JSON writer (see jsonw.h).
 */
#include "jsonw.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fm_jw_init(fm_jw *w, fm_buf *buf)
{
    memset(w, 0, sizeof *w);
    w->buf = buf;
}

void fm_jw_reset(fm_jw *w)
{
    fm_jw_init(w, w->buf);
}

/* The comma before a value, when it is not the first of its container. */
static void before_value(fm_jw *w)
{
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (w->depth && w->has_items[w->depth - 1])
        fm_buf_append(w->buf, ",", 1);
    if (w->depth)
        w->has_items[w->depth - 1] = 1;
}

static void open_level(fm_jw *w, const char *c)
{
    before_value(w);
    fm_buf_append(w->buf, c, 1);
    if (w->depth < FM_JW_DEPTH)
        w->has_items[w->depth] = 0;
    w->depth++;
}

static void close_level(fm_jw *w, const char *c)
{
    fm_buf_append(w->buf, c, 1);
    if (w->depth)
        w->depth--;
}

void fm_jw_object(fm_jw *w)
{
    open_level(w, "{");
}

void fm_jw_object_end(fm_jw *w)
{
    close_level(w, "}");
}

void fm_jw_array(fm_jw *w)
{
    open_level(w, "[");
}

void fm_jw_array_end(fm_jw *w)
{
    close_level(w, "]");
}

void fm_jw_key(fm_jw *w, const char *key)
{
    char t[64];
    size_t n = 0;
    before_value(w);
    w->after_key = 1;
    /* A short key without bytes to escape (every key of an answer) goes
     * in one append. */
    t[0] = '"';
    for (; key[n] && n + 3 < sizeof t; n++) {
        unsigned char c = (unsigned char)key[n];
        if (c < 0x20 || c == '"' || c == '\\')
            break;
        t[n + 1] = key[n];
    }
    if (!key[n]) {
        memcpy(t + n + 1, "\":", 2);
        fm_buf_append(w->buf, t, n + 3);
        return;
    }
    fm_buf_append(w->buf, "\"", 1);
    fm_json_escape(w->buf, key, strlen(key));
    fm_buf_append(w->buf, "\":", 2);
}

void fm_json_escape(fm_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t run = 0; /* bytes of s[run..i) that need no escape */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        fm_buf_append(b, s + run, i - run);
        run = i + 1;
        char e[6] = {'\\', (char)c, 0, 0, 0, 0};
        size_t len = 2;
        switch (c) {
        case '"': case '\\': break;
        case '\b': e[1] = 'b'; break;
        case '\f': e[1] = 'f'; break;
        case '\n': e[1] = 'n'; break;
        case '\r': e[1] = 'r'; break;
        case '\t': e[1] = 't'; break;
        default:
            memcpy(e + 1, "u00", 3);
            e[4] = hex[c >> 4];
            e[5] = hex[c & 15];
            len = 6;
        }
        fm_buf_append(b, e, len);
    }
    fm_buf_append(b, s + run, n - run);
}

void fm_jw_string(fm_jw *w, const char *s)
{
    before_value(w);
    fm_buf_append(w->buf, "\"", 1);
    fm_json_escape(w->buf, s, strlen(s));
    fm_buf_append(w->buf, "\"", 1);
}

size_t fm_json_uint_text(uint64_t v, char *out)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
    return n;
}

void fm_jw_uint(fm_jw *w, uint64_t v)
{
    char t[24];
    before_value(w);
    fm_buf_append(w->buf, t, fm_json_uint_text(v, t));
}

void fm_jw_int(fm_jw *w, int64_t v)
{
    char t[24];
    before_value(w);
    if (v < 0) {
        fm_buf_append(w->buf, "-", 1);
        fm_buf_append(w->buf, t, fm_json_uint_text(0 - (uint64_t)v, t));
        return;
    }
    fm_buf_append(w->buf, t, fm_json_uint_text((uint64_t)v, t));
}

__extension__ typedef unsigned __int128 u128;

/* The 17 significant digits of m * 2^-s rounded to nearest, ties to even
 * (as glibc's printf rounds), for the decimal exponent *p (guessed; set
 * to the true one); 0 when the value is outside what 128 bits hold. */
static uint64_t digits17(uint64_t m, unsigned s, int *p)
{
    static const uint64_t pow10[20] = {1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL,
                                       10000000ULL, 100000000ULL, 1000000000ULL, 10000000000ULL,
                                       100000000000ULL, 1000000000000ULL, 10000000000000ULL,
                                       100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL,
                                       100000000000000000ULL, 1000000000000000000ULL,
                                       10000000000000000000ULL};
    for (int tries = 0; tries < 4; tries++) {
        int k = 16 - *p;
        if (k < 0 || k > 19)
            return 0;
        u128 x = (u128)m * pow10[k];
        u128 q = x >> s;
        if (q < pow10[16]) {
            (*p)--;
            continue;
        }
        if (q >= pow10[17]) {
            (*p)++;
            continue;
        }
        if (s) {
            u128 r = x & (((u128)1 << s) - 1), half = (u128)1 << (s - 1);
            if (r > half || (r == half && (q & 1)))
                q++;
        }
        if (q == pow10[17]) {
            q = pow10[16];
            (*p)++;
        }
        return (uint64_t)q;
    }
    return 0;
}

/* "%.17g" of v (C locale) without printf, for the finite v of 1e-3 to
 * 2^53 in magnitude that are not integers above 2^53 (a latency, a ratio);
 * returns 0 for any other v, which printf then writes. */
static int g17_fast(double v, char *out)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    int neg = (int)(bits >> 63);
    int be = (int)((bits >> 52) & 0x7ff);
    if (be == 0 || be == 0x7ff || be > 1075)
        return 0;
    uint64_t m = (bits & ((1ULL << 52) - 1)) | (1ULL << 52);
    unsigned s = (unsigned)(1075 - be);
    if (s > 64)
        return 0;
    double a = neg ? -v : v;
    if (a < 1e-3)
        return 0;
    int p = (int)floor((be - 1023) * 0.30102999566398120); /* at most 1 low */
    uint64_t q = digits17(m, s, &p);
    if (!q || p < -4 || p >= 17)
        return 0;
    char d[17];
    for (int i = 16; i >= 0; i--, q /= 10)
        d[i] = (char)('0' + q % 10);
    int last = 16; /* the last digit kept: trailing zeros of the fraction go */
    while (last > (p > 0 ? p : 0) && d[last] == '0')
        last--;
    int n = 0;
    if (neg)
        out[n++] = '-';
    if (p >= 0) {
        memcpy(out + n, d, (size_t)p + 1);
        n += p + 1;
        if (last > p) {
            out[n++] = '.';
            memcpy(out + n, d + p + 1, (size_t)(last - p));
            n += last - p;
        }
    } else {
        out[n++] = '0';
        out[n++] = '.';
        for (int z = 0; z < -p - 1; z++)
            out[n++] = '0';
        memcpy(out + n, d, (size_t)last + 1);
        n += last + 1;
    }
    out[n] = '\0';
    return n;
}

size_t fm_json_real_text(double v, char *out)
{
    if (!isfinite(v)) {
        memcpy(out, "null", 5);
        return 0;
    }
    int n = g17_fast(v, out);
    if (!n)
        n = snprintf(out, FM_JSON_REAL_MAX, "%.17g", v);
    if (n <= 0 || n >= FM_JSON_REAL_MAX - 2) {
        memcpy(out, "null", 5);
        return 0;
    }
    size_t len = (size_t)n;
    /* A decimal point from a locale other than C is still a point. */
    for (size_t i = 0; i < len; i++)
        if (out[i] == ',')
            out[i] = '.';
    char *e = strchr(out, 'e');
    if (!e && !strchr(out, '.')) {
        memcpy(out + len, ".0", 3);
        return len + 2;
    }
    if (e) {
        /* "1e+20" → "1e20", "1e-05" → "1e-5", as Jansson writes them. */
        char *from = e + 1, *to = e + 1;
        if (*from == '+')
            from++;
        else if (*from == '-')
            from++, to++;
        while (*from == '0' && from[1])
            from++;
        memmove(to, from, strlen(from) + 1);
        len = strlen(out);
    }
    return len;
}

void fm_jw_real(fm_jw *w, double v)
{
    char t[FM_JSON_REAL_MAX];
    size_t n = fm_json_real_text(v, t);
    before_value(w);
    fm_buf_append(w->buf, t, n ? n : 4);
}

void fm_jw_bool(fm_jw *w, int v)
{
    before_value(w);
    fm_buf_append(w->buf, v ? "true" : "false", v ? 4 : 5);
}

void fm_jw_null(fm_jw *w)
{
    before_value(w);
    fm_buf_append(w->buf, "null", 4);
}

static int dump_callback(const char *s, size_t n, void *data)
{
    fm_buf *b = data;
    fm_buf_append(b, s, n);
    return b->oom ? -1 : 0;
}

void fm_jw_value(fm_jw *w, const json_t *v)
{
    before_value(w);
    if (!v || json_dump_callback(v, dump_callback, w->buf, JSON_COMPACT | JSON_ENCODE_ANY))
        fm_buf_append(w->buf, "null", 4);
}

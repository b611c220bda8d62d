/*
 * gap8_log.c — GAP SDK performance logs into LUT rows (see gap8_log.h).
 */
#include "gap8_log.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- faults */

static void add_fault(fm_gap8_result *r, int in_map, long line, const char *name,
                      const char *field, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void add_fault(fm_gap8_result *r, int in_map, long line, const char *name,
                      const char *field, const char *fmt, ...)
{
    r->nfaults_total++;
    if (r->nfaults >= FM_GAP8_MAX_FAULTS)
        return;
    fm_gap8_fault *f = &r->faults[r->nfaults++];
    f->in_map = in_map;
    f->line = line;
    snprintf(f->name, sizeof f->name, "%s", name ? name : "");
    snprintf(f->field, sizeof f->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->reason, sizeof f->reason, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------- lines */

typedef struct line_iter {
    const char *p, *end;
    long line;
} line_iter;

/* The next line without its CR LF or LF, trimmed of blanks at both ends;
 * 0 at the end of the text. */
static int next_line(line_iter *it, const char **text, size_t *len)
{
    if (it->p >= it->end)
        return 0;
    const char *nl = memchr(it->p, '\n', (size_t)(it->end - it->p));
    const char *s = it->p, *e = nl ? nl : it->end;
    it->p = nl ? nl + 1 : it->end;
    it->line++;
    while (s < e && isspace((unsigned char)*s))
        s++;
    while (e > s && isspace((unsigned char)e[-1]))
        e--;
    *text = s;
    *len = (size_t)(e - s);
    return 1;
}

/* ------------------------------------------------------------- the map */

enum { M_CIN, M_COUT, M_K, M_STRIDE, M_DILATION, M_GROUPS, M_H, M_W, M_PAD, M_BIAS, M_BN, M_NINT };
static const char *const map_int_cols[M_NINT] = {"cin", "cout", "k", "stride", "dilation", "groups",
                                                 "h", "w", "pad", "bias", "bn"};
#define MAP_COLS (M_NINT + 3) /* + name, op, dtype */
#define COL_NAME M_NINT
#define COL_OP (M_NINT + 1)
#define COL_DTYPE (M_NINT + 2)

typedef struct map_row {
    char name[FM_GAP8_NAME_MAX];
    char op[LUT_OP_MAX];
    char dtype[LUT_DTYPE_MAX];
    int64_t v[M_NINT]; /* LUT_UNSET when not given */
    long line;
    int used;
} map_row;

typedef struct map_t {
    map_row *rows;
    size_t n, cap;
} map_t;

static const char *const col_names[MAP_COLS] = {"cin", "cout", "k", "stride", "dilation", "groups",
                                                "h", "w", "pad", "bias", "bn", "name", "op", "dtype"};

/* A strict non-negative decimal of at most 9 digits; -1 if not. */
static int64_t small_int(const char *s, size_t n)
{
    if (n == 0 || n > 9)
        return -1;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Split a line at commas into at most max trimmed cells (no quoting: the
 * map's cells are names and numbers). Returns the count, or max + 1. */
static int split_cells(const char *s, size_t n, const char **cell, size_t *clen, int max)
{
    int k = 0;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != ',')
            continue;
        if (k == max)
            return max + 1;
        size_t a = start, b = i;
        while (a < b && isspace((unsigned char)s[a]))
            a++;
        while (b > a && isspace((unsigned char)s[b - 1]))
            b--;
        cell[k] = s + a;
        clen[k] = b - a;
        k++;
        start = i + 1;
    }
    return k;
}

static int map_header(fm_gap8_result *r, const char *s, size_t n, long line, int *colmap, int *ncols)
{
    const char *cell[MAP_COLS + 1];
    size_t clen[MAP_COLS + 1];
    int k = split_cells(s, n, cell, clen, MAP_COLS);
    if (k > MAP_COLS) {
        add_fault(r, 1, line, NULL, NULL, "the map header has more columns than the %d known", MAP_COLS);
        return -1;
    }
    int seen[MAP_COLS] = {0}, bad = 0;
    for (int i = 0; i < k; i++) {
        int c = -1;
        for (int j = 0; j < MAP_COLS; j++)
            if (clen[i] == strlen(col_names[j]) && !memcmp(cell[i], col_names[j], clen[i]))
                c = j;
        if (c < 0 || seen[c]) {
            add_fault(r, 1, line, NULL, NULL, "%s column \"%.*s\" in the map header",
                      c < 0 ? "unknown" : "duplicate", (int)(clen[i] > 40 ? 40 : clen[i]), cell[i]);
            bad = 1;
            continue;
        }
        seen[c] = 1;
        colmap[i] = c;
    }
    if (!seen[COL_NAME] && !bad) {
        add_fault(r, 1, line, NULL, "name", "the map header lacks the column \"name\"");
        bad = 1;
    }
    *ncols = k;
    return bad ? -1 : 0;
}

static int valid_name_char(int c)
{
    return isalnum(c) || c == '_' || c == '.' || c == '-' || c == '/';
}

/* One cell of a map row into row; faults name the column. */
static void map_cell(fm_gap8_result *r, map_row *row, int col, const char *s, size_t n, long line)
{
    if (n == 0)
        return; /* an empty cell gives nothing */
    if (col == COL_NAME) {
        int ok = n < sizeof row->name;
        for (size_t i = 0; ok && i < n; i++)
            ok = valid_name_char((unsigned char)s[i]);
        if (!ok)
            add_fault(r, 1, line, NULL, "name", "a layer name is 1 to %d characters of [A-Za-z0-9_.-/]",
                      FM_GAP8_NAME_MAX - 1);
        else
            memcpy(row->name, s, n);
        return;
    }
    if (col == COL_OP || col == COL_DTYPE) {
        char *dst = col == COL_OP ? row->op : row->dtype;
        size_t cap = col == COL_OP ? sizeof row->op : sizeof row->dtype;
        int ok = n < cap;
        for (size_t i = 0; ok && i < n; i++)
            ok = islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '_';
        if (!ok)
            add_fault(r, 1, line, NULL, col_names[col], "must be 1 to %zu characters of [a-z0-9_]", cap - 1);
        else
            memcpy(dst, s, n);
        return;
    }
    int64_t v = small_int(s, n);
    if (v < 0)
        add_fault(r, 1, line, NULL, col_names[col], "\"%.*s\" is not a non-negative integer below 10^9",
                  (int)(n > 24 ? 24 : n), s);
    else
        row->v[col] = v;
}

static int map_push(map_t *m, const map_row *row)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 32;
        map_row *p = realloc(m->rows, cap * sizeof *p);
        if (!p)
            return LUT_ENOMEM;
        m->rows = p;
        m->cap = cap;
    }
    m->rows[m->n++] = *row;
    return 0;
}

static map_row *map_find(map_t *m, const char *name)
{
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->rows[i].name, name))
            return &m->rows[i];
    return NULL;
}

static int parse_map(fm_gap8_result *r, const char *text, size_t len, map_t *m)
{
    line_iter it = {text, text + len, 0};
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3))
        it.p += 3;
    const char *s;
    size_t n;
    int colmap[MAP_COLS + 1], ncols = -1;
    while (next_line(&it, &s, &n)) {
        if (n == 0 || s[0] == '#')
            continue;
        if (ncols < 0) {
            if (map_header(r, s, n, it.line, colmap, &ncols))
                return 0; /* nothing below can be read */
            continue;
        }
        const char *cell[MAP_COLS + 1];
        size_t clen[MAP_COLS + 1];
        int k = split_cells(s, n, cell, clen, MAP_COLS);
        if (k != ncols) {
            add_fault(r, 1, it.line, NULL, NULL, "has %d cells, the header has %d", k > MAP_COLS ? k - 1 : k,
                      ncols);
            continue;
        }
        map_row row;
        memset(&row, 0, sizeof row);
        for (int i = 0; i < M_NINT; i++)
            row.v[i] = LUT_UNSET;
        row.line = it.line;
        for (int i = 0; i < k; i++)
            map_cell(r, &row, colmap[i], cell[i], clen[i], it.line);
        if (!row.name[0]) {
            add_fault(r, 1, it.line, NULL, "name", "every map row names a layer");
            continue;
        }
        map_row *dup = map_find(m, row.name);
        if (dup) {
            add_fault(r, 1, it.line, row.name, "name", "the layer is mapped twice (also line %ld)", dup->line);
            continue;
        }
        if (m->n >= FM_GAP8_MAX_LAYERS) {
            add_fault(r, 1, it.line, NULL, NULL, "more than %d rows in the map", FM_GAP8_MAX_LAYERS);
            return 0;
        }
        if (map_push(m, &row))
            return LUT_ENOMEM;
    }
    return 0;
}

/* ------------------------------------------------------------- the log */

/* "Label:" then blanks, at *p; advances past them. */
static int expect(const char **p, const char *end, const char *label)
{
    while (*p < end && **p == ' ')
        (*p)++;
    size_t n = strlen(label);
    if ((size_t)(end - *p) < n || memcmp(*p, label, n) != 0)
        return -1;
    *p += n;
    while (*p < end && (**p == ' ' || **p == '\t'))
        (*p)++;
    return 0;
}

/* An unsigned decimal below 2^63 at *p. Returns 0, -1 (no digits), -2
 * (a minus sign), -3 (too large). */
static int read_u64(const char **p, const char *end, uint64_t *v)
{
    if (*p < end && **p == '-')
        return -2;
    if (*p >= end || !isdigit((unsigned char)**p))
        return -1;
    uint64_t x = 0;
    while (*p < end && isdigit((unsigned char)**p)) {
        if (x > (UINT64_C(1) << 62) / 5)
            return -3;
        x = x * 10 + (uint64_t)(**p - '0');
        (*p)++;
    }
    *v = x;
    return 0;
}

/* A percentage or ratio printed with %f: digits with an optional fraction. */
static int skip_decimal(const char **p, const char *end)
{
    const char *s = *p;
    while (*p < end && (isdigit((unsigned char)**p) || **p == '.'))
        (*p)++;
    if (*p < end && (**p == 'e' || **p == 'n' || **p == 'i')) /* inf, nan: printed for 0 cycles */
        while (*p < end && isalpha((unsigned char)**p))
            (*p)++;
    return *p > s ? 0 : -1;
}

typedef struct perf_line {
    char name[FM_GAP8_NAME_MAX];
    uint64_t cycles, ops;
} perf_line;

static const char *number_fault(int rc, const char *what)
{
    static const char *const texts[][2] = {
        {"truncated or malformed: Cycles has no number", "truncated or malformed: Operations has no number"},
        {"Cycles is negative: the counter printed with %d wrapped past 2^31",
         "Operations is negative: the counter printed with %d wrapped past 2^31"},
        {"Cycles is too large", "Operations is too large"}};
    return texts[-rc - 1][what[0] == 'O'];
}

/* One "NAME: Cycles: N, [Cyc%: x%,] Operations: N, [Op%: y%,]
 * Operations/Cycle: F" line; NULL or the reason it does not parse. */
static const char *parse_perf_line(const char *s, size_t n, const char *colon, perf_line *pl)
{
    const char *end = s + n, *name_end = colon;
    while (name_end > s && isspace((unsigned char)name_end[-1]))
        name_end--;
    size_t nl = (size_t)(name_end - s);
    if (nl == 0)
        return "the layer has no name";
    if (nl >= sizeof pl->name)
        return "the layer name is longer than 95 characters";
    for (size_t i = 0; i < nl; i++)
        if (!valid_name_char((unsigned char)s[i]))
            return "the layer name is not of [A-Za-z0-9_.-/]";
    memcpy(pl->name, s, nl);
    pl->name[nl] = '\0';
    const char *p = colon + 1;
    int rc;
    if (expect(&p, end, "Cycles:"))
        return "truncated: no \"Cycles:\"";
    if ((rc = read_u64(&p, end, &pl->cycles)))
        return number_fault(rc, "Cycles");
    if (expect(&p, end, ","))
        return "truncated or malformed after the cycles";
    if (!expect(&p, end, "Cyc%:") && (skip_decimal(&p, end) || expect(&p, end, "%") || expect(&p, end, ",")))
        return "malformed \"Cyc%:\" column";
    if (expect(&p, end, "Operations:"))
        return "truncated: no \"Operations:\"";
    if ((rc = read_u64(&p, end, &pl->ops)))
        return number_fault(rc, "Operations");
    if (expect(&p, end, ","))
        return "truncated or malformed after the operations";
    if (!expect(&p, end, "Op%:") && (skip_decimal(&p, end) || expect(&p, end, "%") || expect(&p, end, ",")))
        return "malformed \"Op%:\" column";
    if (expect(&p, end, "Operations/Cycle:") || skip_decimal(&p, end))
        return "truncated: no \"Operations/Cycle:\" value";
    if (p != end)
        return "unexpected text after Operations/Cycle";
    return NULL;
}

/* ------------------------------------------------------ names into keys */

enum { N_UNKNOWN, N_CONV, N_LINEAR, N_AVGPOOL, N_MAXPOOL, N_SOFTMAX };

typedef struct name_info {
    int kind;
    int64_t d[4]; /* the numbers of the name: CoutxCinxKhxKw, OxIxHxW, KhxKw */
} name_info;

static const char *const activations[] = {"Relu", "Relu6", "ReLU", "ReLU6", "LeakyRelu", "Sigmoid",
                                          "HSigmoid", "HSwish", "Swish", "Tanh"};

/* "AxBx..." of exactly want numbers, each 1..10^9-1, into d. */
static int parse_dims(const char *s, size_t n, int want, int64_t *d)
{
    int k = 0;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != 'x')
            continue;
        if (k == want)
            return -1;
        int64_t v = small_int(s + start, i - start);
        if (v < 1)
            return -1;
        d[k++] = v;
        start = i + 1;
    }
    return k == want ? 0 : -1;
}

/* The AutoTiler's name of a layer: "S<n>_" then Conv2d_CoutxCinxKhxKw,
 * Linear_OxIxHxW, AveragePool_KhxKw, MaxPool_KhxKw or SoftMax, each but
 * SoftMax optionally followed by activations (_Relu, _Relu6, ...). Anything
 * else, fused pooling included, is N_UNKNOWN. */
static void parse_layer_name(const char *name, name_info *ni)
{
    memset(ni, 0, sizeof *ni);
    const char *p = name;
    if (*p == 'S' && isdigit((unsigned char)p[1])) {
        const char *q = p + 1;
        while (isdigit((unsigned char)*q))
            q++;
        if (*q == '_')
            p = q + 1;
    }
    const char *tok[8];
    size_t tl[8];
    int nt = 0;
    for (const char *s = p;; s++) {
        const char *u = strchr(s, '_');
        size_t l = u ? (size_t)(u - s) : strlen(s);
        if (nt == 8)
            return;
        tok[nt] = s;
        tl[nt++] = l;
        if (!u)
            break;
        s = u;
    }
    static const struct { const char *word; int kind, dims; } heads[] = {
        {"Conv2d", N_CONV, 4}, {"Linear", N_LINEAR, 4}, {"AveragePool", N_AVGPOOL, 2},
        {"MaxPool", N_MAXPOOL, 2}, {"SoftMax", N_SOFTMAX, 0}};
    int kind = N_UNKNOWN, used = 0;
    for (size_t h = 0; h < sizeof heads / sizeof heads[0]; h++) {
        if (tl[0] != strlen(heads[h].word) || memcmp(tok[0], heads[h].word, tl[0]))
            continue;
        if (heads[h].dims && (nt < 2 || parse_dims(tok[1], tl[1], heads[h].dims, ni->d)))
            return;
        kind = heads[h].kind;
        used = heads[h].dims ? 2 : 1;
    }
    for (int t = used; kind != N_UNKNOWN && t < nt; t++) {
        int ok = 0;
        for (size_t a = 0; a < sizeof activations / sizeof activations[0]; a++)
            ok |= tl[t] == strlen(activations[a]) && !memcmp(tok[t], activations[a], tl[t]);
        if (!ok || kind == N_SOFTMAX)
            return;
    }
    ni->kind = kind;
}

/* Set an attribute the name gives; a map value that disagrees is a fault. */
static int set_from_name(fm_gap8_result *r, long line, const char *name, const map_row *m, int col,
                         int64_t *attr, int64_t v)
{
    if (m && m->v[col] != LUT_UNSET && m->v[col] != v) {
        add_fault(r, 0, line, name, map_int_cols[col],
                  "the map says %s %lld (line %ld), the name says %lld", map_int_cols[col],
                  (long long)m->v[col], m->line, (long long)v);
        return -1;
    }
    *attr = v;
    return 0;
}

static int64_t *key_attr(lut_key *k, int col)
{
    int64_t *const attrs[M_NINT] = {&k->cin, &k->cout, &k->k, &k->stride, &k->dilation, &k->groups,
                                    &k->h, &k->w, &k->pad, &k->bias, &k->bn};
    return attrs[col];
}

/* A convolution's cin and groups from Cout x CinPerGroup and the map:
 * groups given, cin given, or neither with CinPerGroup > 1 (then groups 1).
 * Cx1xKxK alone is a depthwise layer or a one-channel input: not guessed. */
static int conv_channels(fm_gap8_result *r, long line, const char *name, const map_row *m,
                         const name_info *ni, lut_key *key)
{
    int64_t cpg = ni->d[1], g = m ? m->v[M_GROUPS] : LUT_UNSET, cin = m ? m->v[M_CIN] : LUT_UNSET;
    if (g == LUT_UNSET && cin == LUT_UNSET) {
        if (cpg == 1) {
            add_fault(r, 0, line, name, "groups",
                      "Conv2d_%lldx1x... is depthwise or reads one input channel: give groups or cin "
                      "in the map", (long long)ni->d[0]);
            return -1;
        }
        g = 1;
    }
    if (g == LUT_UNSET) {
        if (cin % cpg) {
            add_fault(r, 0, line, name, "cin", "the map's cin %lld is not a multiple of the name's %lld "
                      "input channels per group", (long long)cin, (long long)cpg);
            return -1;
        }
        g = cin / cpg;
    }
    if (g < 1 || (cin != LUT_UNSET && cin != cpg * g)) {
        add_fault(r, 0, line, name, "cin", "the map's cin and groups disagree with the name's %lld "
                  "input channels per group", (long long)cpg);
        return -1;
    }
    key->groups = g;
    key->cin = cpg * g;
    return 0;
}

static const char *kind_op(int kind)
{
    static const char *const ops[] = {"", "conv2d", "linear", "avgpool", "maxpool", "softmax"};
    return ops[kind];
}

/* What the name gives, into key (op set by the caller). */
static int key_from_name(fm_gap8_result *r, long line, const char *name, const map_row *m,
                         const name_info *ni, lut_key *key)
{
    switch (ni->kind) {
    case N_CONV:
        if (ni->d[2] != ni->d[3]) {
            add_fault(r, 0, line, name, "k", "the kernel %lldx%lld is not square: a table key has one k",
                      (long long)ni->d[2], (long long)ni->d[3]);
            return -1;
        }
        if (set_from_name(r, line, name, m, M_COUT, &key->cout, ni->d[0]) ||
            set_from_name(r, line, name, m, M_K, &key->k, ni->d[2]))
            return -1;
        return conv_channels(r, line, name, m, ni, key);
    case N_LINEAR:
        if (set_from_name(r, line, name, m, M_COUT, &key->cout, ni->d[0]) ||
            set_from_name(r, line, name, m, M_CIN, &key->cin, ni->d[1] * ni->d[2] * ni->d[3]))
            return -1;
        return 0;
    case N_AVGPOOL:
    case N_MAXPOOL:
        /* A window as large as the mapped input is the global pool. */
        if (ni->kind == N_AVGPOOL && m && m->v[M_H] == ni->d[0] && m->v[M_W] == ni->d[1] &&
            (!m->op[0] || !strcmp(m->op, "global_avgpool"))) {
            snprintf(key->op, sizeof key->op, "global_avgpool");
            return 0;
        }
        if (ni->d[0] != ni->d[1]) {
            add_fault(r, 0, line, name, "k", "the window %lldx%lld is not square and not the whole "
                      "input (map h and w)", (long long)ni->d[0], (long long)ni->d[1]);
            return -1;
        }
        return set_from_name(r, line, name, m, M_K, &key->k, ni->d[0]);
    default:
        return 0;
    }
}

/* The fields an op needs that neither the name nor the map gave. */
static int check_required(fm_gap8_result *r, long line, const char *name, const lut_key *key)
{
    static const struct { const char *op; unsigned need; } needs[] = {
        {"conv2d", 1u << M_H | 1u << M_W},
        {"avgpool", 1u << M_CIN | 1u << M_H | 1u << M_W | 1u << M_STRIDE},
        {"maxpool", 1u << M_CIN | 1u << M_H | 1u << M_W | 1u << M_STRIDE},
        {"global_avgpool", 1u << M_CIN | 1u << M_H | 1u << M_W},
        {"softmax", 1u << M_CIN}};
    lut_key probe = *key;
    char missing[96] = "";
    for (size_t i = 0; i < sizeof needs / sizeof needs[0]; i++) {
        if (strcmp(key->op, needs[i].op))
            continue;
        for (int c = 0; c < M_NINT; c++)
            if ((needs[i].need >> c & 1u) && *key_attr(&probe, c) == LUT_UNSET)
                snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%s%s",
                         missing[0] ? ", " : "", map_int_cols[c]);
    }
    if (!missing[0])
        return 0;
    add_fault(r, 0, line, name, NULL, "missing %s: give them in the map", missing);
    return -1;
}

/* The AutoTiler counts MACs, plus one operation per output value for
 * convolutions with k > 1 (the bias step): anything else disagrees. */
static int check_macs(fm_gap8_result *r, long line, const char *name, const lut_key *key, uint64_t ops)
{
    if (strcmp(key->op, "conv2d") && strcmp(key->op, "linear"))
        return 0;
    lut_cost c;
    if (lut_key_cost(key, &c, NULL))
        return 0; /* canonical keys always have a cost */
    uint64_t outputs = (uint64_t)c.out_c * (uint64_t)c.out_h * (uint64_t)c.out_w;
    if (ops == c.macs || (!strcmp(key->op, "conv2d") && key->k > 1 && ops == c.macs + outputs))
        return 0;
    add_fault(r, 0, line, name, "macs",
              "Operations %llu disagree with the key's %llu MACs (output %lldx%lldx%lld): check h, w, "
              "stride and pad in the map", (unsigned long long)ops, (unsigned long long)c.macs,
              (long long)c.out_c, (long long)c.out_h, (long long)c.out_w);
    return -1;
}

/* The key of one layer from its name and map row (m may be NULL). */
static int build_key(fm_gap8_result *r, long line, const char *name, map_row *m, lut_key *key)
{
    name_info ni;
    parse_layer_name(name, &ni);
    lut_key_init(key);
    if (ni.kind == N_UNKNOWN && (!m || !m->op[0])) {
        add_fault(r, 0, line, name, "op", m ? "the name is of no known pattern and the map gives no op"
                                            : "the name is of no known pattern and the map has no row for it");
        return -1;
    }
    const char *op = ni.kind == N_UNKNOWN ? m->op : kind_op(ni.kind);
    if (m && m->op[0] && strcmp(m->op, op) &&
        !(ni.kind == N_AVGPOOL && !strcmp(m->op, "global_avgpool"))) {
        add_fault(r, 0, line, name, "op", "the map says op %s (line %ld), the name says %s", m->op, m->line,
                  op);
        return -1;
    }
    snprintf(key->op, sizeof key->op, "%s", op);
    if (key_from_name(r, line, name, m, &ni, key))
        return -1;
    if (m) {
        for (int c = 0; c < M_NINT; c++)
            if (m->v[c] != LUT_UNSET && *key_attr(key, c) == LUT_UNSET)
                *key_attr(key, c) = m->v[c];
        if (m->dtype[0])
            snprintf(key->dtype, sizeof key->dtype, "%s", m->dtype);
    }
    if (check_required(r, line, name, key))
        return -1;
    lut_error err = {.row = -1};
    if (lut_key_canonicalize(key, &err)) {
        add_fault(r, 0, line, name, err.field, "%s", err.reason);
        return -1;
    }
    return 0;
}

typedef struct rows_t {
    lut_entry *v;
    long *lines;
    size_t n, cap;
} rows_t;

static int rows_push(rows_t *rw, const lut_entry *e, long line)
{
    if (rw->n == rw->cap) {
        size_t cap = rw->cap ? rw->cap * 2 : 64;
        lut_entry *v = realloc(rw->v, cap * sizeof *v);
        if (!v)
            return LUT_ENOMEM;
        rw->v = v;
        long *l = realloc(rw->lines, cap * sizeof *l);
        if (!l)
            return LUT_ENOMEM;
        rw->lines = l;
        rw->cap = cap;
    }
    rw->v[rw->n] = *e;
    rw->lines[rw->n++] = line;
    return 0;
}

typedef struct log_state {
    uint64_t sum_cycles, sum_ops;
    long total_line;
    uint64_t total_cycles, total_ops;
    char (*names)[FM_GAP8_NAME_MAX]; /* of the rows, in order */
} log_state;

/* One layer line that parsed: checks, key, row. */
static int take_layer(fm_gap8_result *r, map_t *map, rows_t *rw, log_state *st, const perf_line *pl,
                      long line)
{
    for (size_t i = 0; i < rw->n; i++)
        if (!strcmp(st->names[i], pl->name)) {
            add_fault(r, 0, line, pl->name, NULL, "the layer appears twice (also line %ld): send one run",
                      rw->lines[i]);
            return 0;
        }
    if (st->total_line) {
        add_fault(r, 0, line, pl->name, NULL, "a layer after the Total line (line %ld)", st->total_line);
        return 0;
    }
    st->sum_cycles += pl->cycles;
    st->sum_ops += pl->ops;
    map_row *m = map_find(map, pl->name);
    if (m)
        m->used = 1;
    lut_entry e;
    memset(&e, 0, sizeof e);
    if (build_key(r, line, pl->name, m, &e.key) || check_macs(r, line, pl->name, &e.key, pl->ops))
        e.key.op[0] = '\0'; /* a placeholder row keeps names and lines aligned */
    e.latency.mean = (double)pl->cycles;
    e.latency.count = 1;
    e.has_macs = 1;
    e.macs = pl->ops;
    if (rw->n == rw->cap) {
        void *p = realloc(st->names, (rw->cap ? rw->cap * 2 : 64) * sizeof *st->names);
        if (!p)
            return LUT_ENOMEM;
        st->names = p;
    }
    memcpy(st->names[rw->n], pl->name, FM_GAP8_NAME_MAX);
    return rows_push(rw, &e, line);
}

/* The colon that ends the layer name: the first one followed by "Cycles". */
static const char *find_cycles_colon(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != ':')
            continue;
        size_t j = i + 1;
        while (j < n && (s[j] == ' ' || s[j] == '\t'))
            j++;
        if (n - j >= 6 && !memcmp(s + j, "Cycles", 6))
            return s + i;
    }
    return NULL;
}

static int parse_log(fm_gap8_result *r, const char *text, size_t len, map_t *map, rows_t *rw,
                     log_state *st)
{
    line_iter it = {text, text + len, 0};
    const char *s;
    size_t n;
    while (next_line(&it, &s, &n)) {
        /* Other output of the program (results, "Ended", ...) is not ours. */
        const char *colon = find_cycles_colon(s, n);
        if (!colon)
            continue;
        if (rw->n >= FM_GAP8_MAX_LAYERS) {
            add_fault(r, 0, it.line, NULL, NULL, "more than %d layers in one log", FM_GAP8_MAX_LAYERS);
            return 0;
        }
        perf_line pl;
        memset(&pl, 0, sizeof pl);
        const char *why = parse_perf_line(s, n, colon, &pl);
        if (why) {
            map_row *m = map_find(map, pl.name);
            if (m)
                m->used = 1; /* the line is at fault, not its map row */
            add_fault(r, 0, it.line, pl.name, NULL, "%s", why);
            continue;
        }
        if (!strcmp(pl.name, "Total")) {
            if (st->total_line)
                add_fault(r, 0, it.line, "Total", NULL, "a second Total line (also line %ld)", st->total_line);
            else {
                st->total_line = it.line;
                st->total_cycles = pl.cycles;
                st->total_ops = pl.ops;
            }
            continue;
        }
        int rc = take_layer(r, map, rw, st, &pl, it.line);
        if (rc)
            return rc;
    }
    return 0;
}

int fm_gap8_parse(const char *log, size_t log_len, const char *map_text, size_t map_len,
                  fm_gap8_result *out)
{
    memset(out, 0, sizeof *out);
    map_t map = {0};
    rows_t rw = {0};
    log_state st = {0};
    int rc = map_text ? parse_map(out, map_text, map_len, &map) : 0;
    if (!rc)
        rc = parse_log(out, log, log_len, &map, &rw, &st);
    if (rc)
        goto done;
    if (rw.n == 0 && out->nfaults_total == 0)
        add_fault(out, 0, 0, NULL, NULL, "the log has no layer lines (\"NAME: Cycles: N, Operations: N, "
                  "Operations/Cycle: F\")");
    if (st.total_line && (st.total_cycles != st.sum_cycles || st.total_ops != st.sum_ops))
        add_fault(out, 0, st.total_line, "Total", NULL,
                  "Total says %llu cycles and %llu operations, the layers sum to %llu and %llu: the log "
                  "is incomplete", (unsigned long long)st.total_cycles, (unsigned long long)st.total_ops,
                  (unsigned long long)st.sum_cycles, (unsigned long long)st.sum_ops);
    out->total_seen = st.total_line != 0;
    for (size_t i = 0; i < map.n; i++)
        if (!map.rows[i].used)
            add_fault(out, 1, map.rows[i].line, map.rows[i].name, "name", "no layer of the log has this name");
    if (out->nfaults_total == 0) {
        out->rows = rw.v;
        out->lines = rw.lines;
        out->n = rw.n;
        rw.v = NULL;
        rw.lines = NULL;
    }
done:
    free(rw.v);
    free(rw.lines);
    free(st.names);
    free(map.rows);
    return rc ? rc : out->nfaults_total ? 1 : 0;
}

void fm_gap8_result_free(fm_gap8_result *r)
{
    free(r->rows);
    free(r->lines);
    r->rows = NULL;
    r->lines = NULL;
    r->n = 0;
}

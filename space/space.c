/*
 * space.c — the space core: creation and validation, genes and genomes,
 * subnet counting, expansion and the distinct layer set: the top of the
 * layers listed in space_kit.h. Builders live in space_<builder>.c, found
 * through space_builder.c; the coster is in space_coster.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gmp.h>

#include "space_builder.h"
#include "space_internal.h"

struct lut_space {
    char id[LUT_SPACE_ID_MAX];
    char description[LUT_SPACE_DESC_MAX];
    const char *builder; /* static: a builder name, or "" */
    lut_space_params params;
    size_t ngenes;
    lut_space_gene *genes; /* name/choices point below */
    char (*names)[LUT_SPACE_GENE_NAME_MAX];
    double *choices;
    long *gate;
    size_t nsegs;
    Lut_space_segment *segs;
    size_t max_layers;
};

/* ------------------------------------------------------------- helpers */

static int id_valid(const char *s)
{
    size_t n = 0;
    if (!s)
        return 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-'))
            return 0;
    }
    return n >= 1 && n < LUT_SPACE_ID_MAX;
}

/* ----------------------------------------------------- running segments */

int Lut_space_run_combo(const lut_space *space, const Lut_space_segment *seg,
                        size_t combo, Lut_space_emitter *em)
{
    Lut_space_values v;
    size_t j = seg->ngenes;
    while (j-- > 0) {
        const lut_space_gene *g = &space->genes[seg->genes[j]];
        v.d[j] = g->choices[combo % g->n_choices];
        v.i[j] = (int64_t)v.d[j];
        combo /= g->n_choices;
    }
    return seg->gen(seg, &v, em);
}

/* Values of a segment's genes in a genome. */
static int run_genome(const lut_space *space, const Lut_space_segment *seg,
                      const int *genome, Lut_space_emitter *em)
{
    Lut_space_values v;
    for (size_t j = 0; j < seg->ngenes; j++) {
        const lut_space_gene *g = &space->genes[seg->genes[j]];
        v.d[j] = g->choices[genome[seg->genes[j]]];
        v.i[j] = (int64_t)v.d[j];
    }
    return seg->gen(seg, &v, em);
}

/* ------------------------------------------------------------- building */

/* Move the draft's arrays into a new space (the draft is emptied). */
static int space_from_draft(Lut_space_draft *b, const char *id,
                              const char *description, const char *builder,
                              lut_space **out)
{
    lut_space *s = calloc(1, sizeof *s);
    if (!s)
        return LUT_ENOMEM;
    s->genes = calloc(b->ngenes ? b->ngenes : 1, sizeof *s->genes);
    if (!s->genes) {
        free(s);
        return LUT_ENOMEM;
    }
    snprintf(s->id, sizeof s->id, "%s", id);
    snprintf(s->description, sizeof s->description, "%s", description);
    s->builder = builder;
    s->ngenes = b->ngenes;
    s->names = b->names;
    s->choices = b->choices;
    s->gate = b->gate;
    s->nsegs = b->nsegs;
    s->segs = b->segs;
    for (size_t i = 0; i < s->ngenes; i++) {
        s->genes[i].name = s->names[i];
        s->genes[i].choices = s->choices + b->off[i];
        s->genes[i].n_choices = b->nch[i];
    }
    free(b->off);
    free(b->nch);
    memset(b, 0, sizeof *b);
    *out = s;
    return 0;
}

void lut_space_free(lut_space *s)
{
    if (!s)
        return;
    free(s->genes);
    free(s->names);
    free(s->choices);
    free(s->gate);
    free(s->segs);
    free(s);
}

void lut_space_params_default(lut_space_params *p)
{
    p->input_size = 513;
    p->num_classes = 21;
    p->output_stride = 16;
}

const char *const *lut_space_builders(void)
{
    return Lut_space_builder_names();
}

const char *lut_space_builder_description(const char *builder)
{
    const Lut_space_builder_def *d = Lut_space_builder_find(builder);
    return d ? d->description : NULL;
}

static int check_common(const char *id, const char *description, lut_error *err)
{
    if (!id_valid(id))
        return Lut_space_fail(err, "id",
                              "space id must match [a-z0-9._-]{1,64}");
    if (description && strlen(description) >= LUT_SPACE_DESC_MAX)
        return Lut_space_fail(err, "description", "at most %d bytes",
                              LUT_SPACE_DESC_MAX - 1);
    return 0;
}

/* Counts the layers of one combination. */
static int count_sink(Lut_space_emitter *em, const char *name,
                      const lut_key *key, const lut_cost *cost)
{
    (void)name;
    (void)key;
    (void)cost;
    ++*(size_t *)em->ctx;
    return 0;
}

/* Emit every combination of every segment once: the space is then known to
 * expand any genome, and each segment knows its most layers. */
static int check_segments(lut_space *s, lut_error *err)
{
    s->max_layers = 0;
    for (size_t i = 0; i < s->nsegs; i++) {
        Lut_space_segment *seg = &s->segs[i];
        for (size_t c = 0; c < seg->combos; c++) {
            size_t n = 0;
            Lut_space_emitter em = {1, count_sink, &n, err};
            int rc = Lut_space_run_combo(s, seg, c, &em);
            if (rc != 0)
                return rc;
            if (n > seg->max_layers)
                seg->max_layers = n;
        }
        s->max_layers += seg->max_layers;
    }
    return 0;
}

int lut_space_create(lut_space **out, const char *id, const char *description,
                     const char *builder, const lut_space_params *p,
                     lut_error *err)
{
    const Lut_space_builder_def *def;
    Lut_space_draft b;
    lut_space *s = NULL;
    int rc;

    *out = NULL;
    if ((rc = check_common(id, description, err)) != 0)
        return rc;
    if (!(def = Lut_space_builder_find(builder)))
        return Lut_space_fail(err, "builder",
                              "unknown builder \"%.64s\"; known: "
                              "%s, %s",
                              builder ? builder : "", LUT_SPACE_MOBILENETV2,
                              LUT_SPACE_XCEPTION65);
    if (!p)
        return Lut_space_fail(err, "params", "parameters are required");
    if (p->input_size < 32 || p->input_size > 2048)
        return Lut_space_fail(err, "input_size",
                              "must be between 32 and 2048 "
                              "(got %lld)",
                              (long long)p->input_size);
    if (p->num_classes < 1 || p->num_classes > 1000)
        return Lut_space_fail(err, "num_classes",
                              "must be between 1 and 1000 "
                              "(got %lld)",
                              (long long)p->num_classes);
    if (p->output_stride != 16 && p->output_stride != 8)
        return Lut_space_fail(err, "output_stride",
                              "must be 16 or 8 (got %lld)",
                              (long long)p->output_stride);

    Lut_space_draft_init(&b, err);
    rc = def->define(&b, p, err);
    if (rc == 0)
        rc = space_from_draft(&b, id,
                                description && *description ? description
                                                            : def->description,
                                def->name, &s);
    Lut_space_draft_release(&b);
    if (rc != 0)
        return rc;
    s->params = *p;
    if ((rc = check_segments(s, err)) != 0) {
        lut_space_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int lut_space_create_categorical(lut_space **out, const char *id,
                                 const char *description,
                                 const lut_space_gene *genes, size_t n,
                                 lut_error *err)
{
    Lut_space_draft b;
    lut_space *s = NULL;
    int rc = 0;

    *out = NULL;
    if ((rc = check_common(id, description, err)) != 0)
        return rc;
    if (n < 1 || n > LUT_SPACE_MAX_GENES)
        return Lut_space_fail(err, "genes", "a space has 1..%d genes (got %zu)",
                              LUT_SPACE_MAX_GENES, n);
    Lut_space_draft_init(&b, err);
    for (size_t i = 0; i < n && rc == 0; i++) {
        long g;
        if (!Lut_space_gene_name_valid(genes[i].name)) {
            char field[32];
            snprintf(field, sizeof field, "genes/%zu/name", i);
            rc = Lut_space_fail(err, field,
                                "gene name must match "
                                "[A-Za-z0-9._-]{1,31}");
            break;
        }
        if (genes[i].n_choices > 0 && !genes[i].choices) {
            rc = Lut_space_fail(err, genes[i].name, "choices are missing");
            break;
        }
        g = Lut_space_add_gene(&b, genes[i].name, genes[i].choices,
                               genes[i].n_choices, -1);
        if (g < 0)
            rc = (int)g;
    }
    if (rc == 0)
        rc = space_from_draft(&b, id, description ? description : "", "", &s);
    Lut_space_draft_release(&b);
    if (rc != 0)
        return rc;
    *out = s;
    return 0;
}

/* ------------------------------------------------------------ accessors */

const char *lut_space_id(const lut_space *s) { return s->id; }
const char *lut_space_description(const lut_space *s) { return s->description; }
const char *lut_space_builder(const lut_space *s) { return s->builder; }
int lut_space_has_builder(const lut_space *s) { return s->builder[0] != '\0'; }
const lut_space_params *lut_space_get_params(const lut_space *s)
{
    return &s->params;
}
size_t lut_space_gene_count(const lut_space *s) { return s->ngenes; }
size_t lut_space_max_layers(const lut_space *s) { return s->max_layers; }

const lut_space_gene *lut_space_gene_at(const lut_space *s, size_t i)
{
    return i < s->ngenes ? &s->genes[i] : NULL;
}

long lut_space_gene_index(const lut_space *s, const char *name)
{
    if (!name)
        return -1;
    for (size_t i = 0; i < s->ngenes; i++)
        if (!strcmp(s->names[i], name))
            return (long)i;
    return -1;
}

long lut_space_gene_gate(const lut_space *s, size_t i)
{
    return i < s->ngenes ? s->gate[i] : -1;
}

size_t Lut_space_segment_count(const lut_space *s) { return s->nsegs; }
const Lut_space_segment *Lut_space_segment_at(const lut_space *s, size_t i)
{
    return &s->segs[i];
}

void lut_space_genome_max(const lut_space *s, int *genome)
{
    for (size_t i = 0; i < s->ngenes; i++)
        genome[i] = (int)s->genes[i].n_choices - 1;
}

void lut_space_genome_min(const lut_space *s, int *genome)
{
    for (size_t i = 0; i < s->ngenes; i++)
        genome[i] = 0;
}

void lut_space_genome_canonicalize(const lut_space *s, int *genome)
{
    for (size_t i = 0; i < s->ngenes; i++) {
        long g = s->gate[i];
        if (g >= 0 && s->genes[g].choices[genome[g]] == 0)
            genome[i] = 0;
    }
}

/* ------------------------------------------------------------- counting */

/* 1 if some gene is switched off by gene i, else 0. */
static int is_gate(const lut_space *s, size_t i)
{
    for (size_t j = i + 1; j < s->ngenes; j++)
        if (s->gate[j] == (long)i)
            return 1;
    return 0;
}

/* The networks gate i and the genes it switches make: its zero choices
 * (the block skipped) plus its other choices times every combination of
 * its genes. */
static void gate_networks(const lut_space *s, size_t i, mpz_t out)
{
    const lut_space_gene *g = &s->genes[i];
    unsigned long zeros = 0;

    for (size_t c = 0; c < g->n_choices; c++)
        if (g->choices[c] == 0)
            zeros++;
    mpz_set_ui(out, g->n_choices - zeros);
    for (size_t j = i + 1; j < s->ngenes; j++)
        if (s->gate[j] == (long)i)
            mpz_mul_ui(out, out, s->genes[j].n_choices);
    mpz_add_ui(out, out, zeros);
}

/* Exact with GMP: a categorical space of 1024 genes of 256 choices has
 * 256^1024 networks, 2467 decimal digits. */
int lut_space_count(const lut_space *s, char *buf, size_t size)
{
    mpz_t total, factor;
    int len;

    if (size == 0)
        return LUT_EINVAL;
    mpz_init_set_ui(total, 1);
    mpz_init(factor);
    for (size_t i = 0; i < s->ngenes; i++) {
        if (s->gate[i] >= 0)
            continue; /* counted with its gate */
        if (!is_gate(s, i)) {
            mpz_mul_ui(total, total, s->genes[i].n_choices);
            continue;
        }
        gate_networks(s, i, factor);
        mpz_mul(total, total, factor);
    }
    len = gmp_snprintf(buf, size, "%Zd", total);
    mpz_clear(factor);
    mpz_clear(total);
    if (len < 0 || (size_t)len >= size)
        return LUT_EINVAL;
    return len;
}

/* -------------------------------------------------------------- genomes */

int lut_space_genome_check(const lut_space *s, const int *genome,
                           lut_error *err)
{
    for (size_t i = 0; i < s->ngenes; i++)
        if (genome[i] < 0 || (size_t)genome[i] >= s->genes[i].n_choices)
            return Lut_space_fail(err, s->names[i],
                                  "index %d out of range 0..%zu", genome[i],
                                  s->genes[i].n_choices - 1);
    return 0;
}

int lut_space_genome_from_indices(const lut_space *s, const int64_t *idx,
                                  size_t n, int *genome, lut_error *err)
{
    if (n != s->ngenes)
        return Lut_space_fail(err, "length",
                              "genome has %zu genes; the space has "
                              "%zu",
                              n, s->ngenes);
    for (size_t i = 0; i < n; i++) {
        if (idx[i] < 0 || (uint64_t)idx[i] >= s->genes[i].n_choices)
            return Lut_space_fail(err, s->names[i],
                                  "index %lld out of range 0..%zu",
                                  (long long)idx[i], s->genes[i].n_choices - 1);
        genome[i] = (int)idx[i];
    }
    return 0;
}

/* "[2, 3, 4, 6]", cut short with "..." when it does not fit. */
static void format_choices(const lut_space_gene *g, char *buf, size_t size)
{
    size_t len = 0;
    buf[len++] = '[';
    for (size_t c = 0; c < g->n_choices; c++) {
        char v[32];
        size_t m;
        Lut_space_format_number(g->choices[c], v, sizeof v);
        m = strlen(v) + (c ? 2 : 0);
        if (len + m + 5 >= size) {
            memcpy(buf + len, c ? ", ..." : "...", c ? 5 : 3);
            len += c ? 5 : 3;
            break;
        }
        if (c) {
            buf[len++] = ',';
            buf[len++] = ' ';
        }
        memcpy(buf + len, v, strlen(v));
        len += strlen(v);
    }
    buf[len++] = ']';
    buf[len] = '\0';
}

int lut_space_genome_from_values(const lut_space *s, const char *const *names,
                                 const double *values, size_t n, int *genome,
                                 lut_error *err)
{
    for (size_t i = 0; i < s->ngenes; i++)
        genome[i] = -1;
    for (size_t p = 0; p < n; p++) {
        long i = lut_space_gene_index(s, names[p]);
        const lut_space_gene *g;
        size_t c;
        if (i < 0)
            return Lut_space_fail(err, names[p] ? names[p] : "",
                                  "unknown gene "
                                  "\"%.64s\"",
                                  names[p] ? names[p] : "");
        g = &s->genes[i];
        if (genome[i] >= 0)
            return Lut_space_fail(err, g->name, "given twice");
        for (c = 0; c < g->n_choices; c++)
            if (g->choices[c] == values[p])
                break;
        if (c == g->n_choices) {
            char v[32], list[140];
            if (isfinite(values[p]))
                Lut_space_format_number(values[p], v, sizeof v);
            else
                snprintf(v, sizeof v, "%s", "(not finite)");
            format_choices(g, list, sizeof list);
            return Lut_space_fail(err, g->name,
                                  "value %s is not among the choices "
                                  "%s",
                                  v, list);
        }
        genome[i] = (int)c;
    }
    for (size_t i = 0; i < s->ngenes; i++)
        if (genome[i] < 0)
            return Lut_space_fail(err, s->names[i], "missing");
    return 0;
}

/* ------------------------------------------------------------ expansion */

static int no_builder(const lut_space *s, lut_error *err)
{
    return Lut_space_fail(err, "builder",
                          "space %s is categorical: it has no "
                          "layers",
                          s->id);
}

typedef struct layer_buf {
    lut_space_layer *layers;
    lut_key *keys;
    size_t n, cap;
    uint64_t macs, params;
} layer_buf;

static int buf_sink(Lut_space_emitter *em, const char *name, const lut_key *key,
                    const lut_cost *cost)
{
    layer_buf *b = em->ctx;
    if (b->n == b->cap)
        return LUT_EINVAL;
    if (b->layers) {
        lut_space_layer *L = &b->layers[b->n];
        snprintf(L->name, sizeof L->name, "%s", name);
        L->key = *key;
        L->cost = *cost;
    } else {
        b->keys[b->n] = *key;
    }
    b->n++;
    b->macs += cost->macs;
    b->params += cost->params;
    return 0;
}

static int expand_into(const lut_space *s, const int *genome, layer_buf *b,
                       int names, lut_space_totals *tot)
{
    Lut_space_emitter em = {names, buf_sink, b, NULL};
    for (size_t i = 0; i < s->nsegs; i++) {
        int rc = run_genome(s, &s->segs[i], genome, &em);
        if (rc != 0)
            return rc;
    }
    if (tot) {
        tot->layers = b->n;
        tot->macs = b->macs;
        tot->params = b->params;
    }
    return 0;
}

int lut_space_expand(const lut_space *s, const int *genome,
                     lut_space_layer **layers, lut_space_totals *tot,
                     lut_error *err)
{
    layer_buf b;
    int rc;

    *layers = NULL;
    if (!lut_space_has_builder(s))
        return no_builder(s, err);
    if ((rc = lut_space_genome_check(s, genome, err)) != 0)
        return rc;
    memset(&b, 0, sizeof b);
    b.cap = s->max_layers;
    if (b.cap && !(b.layers = malloc(b.cap * sizeof *b.layers)))
        return LUT_ENOMEM;
    if ((rc = expand_into(s, genome, &b, 1, tot)) != 0) {
        free(b.layers);
        return rc;
    }
    if (b.n == 0) {
        free(b.layers);
        b.layers = NULL;
    }
    *layers = b.layers;
    return 0;
}

int lut_space_expand_keys(const lut_space *s, const int *genome, lut_key *keys,
                          size_t cap, lut_space_totals *tot)
{
    layer_buf b;
    int rc;
    if (!lut_space_has_builder(s))
        return LUT_EINVAL;
    if ((rc = lut_space_genome_check(s, genome, NULL)) != 0)
        return rc;
    memset(&b, 0, sizeof b);
    b.keys = keys;
    b.cap = cap;
    return expand_into(s, genome, &b, 0, tot);
}

/* ------------------------------------------------------ distinct layers */

/* An open-addressing set of canonical keys; slots hold index + 1. */
typedef struct key_set {
    lut_key *keys;
    uint64_t *hashes;
    size_t n, cap;
    size_t *slot;
    size_t nslots; /* a power of two, at least twice cap */
} key_set;

static int set_grow(key_set *ks)
{
    size_t cap = ks->cap ? 2 * ks->cap : 256;
    size_t nslots = 2 * cap;
    void *p;
    size_t *slot;

    if (!(p = realloc(ks->keys, cap * sizeof *ks->keys)))
        return LUT_ENOMEM;
    ks->keys = p;
    if (!(p = realloc(ks->hashes, cap * sizeof *ks->hashes)))
        return LUT_ENOMEM;
    ks->hashes = p;
    if (!(slot = calloc(nslots, sizeof *slot)))
        return LUT_ENOMEM;
    for (size_t i = 0; i < ks->n; i++) {
        size_t h = (size_t)ks->hashes[i] & (nslots - 1);
        while (slot[h])
            h = (h + 1) & (nslots - 1);
        slot[h] = i + 1;
    }
    free(ks->slot);
    ks->slot = slot;
    ks->nslots = nslots;
    ks->cap = cap;
    return 0;
}

static int set_sink(Lut_space_emitter *em, const char *name, const lut_key *key,
                    const lut_cost *cost)
{
    key_set *ks = em->ctx;
    uint64_t hash = lut_key_hash(key);
    size_t h;
    (void)name;
    (void)cost;
    if (ks->n == ks->cap) {
        int rc = set_grow(ks);
        if (rc != 0)
            return rc;
    }
    for (h = (size_t)hash & (ks->nslots - 1); ks->slot[h];
         h = (h + 1) & (ks->nslots - 1)) {
        size_t i = ks->slot[h] - 1;
        if (ks->hashes[i] == hash && lut_key_equal(&ks->keys[i], key))
            return 0;
    }
    ks->keys[ks->n] = *key;
    ks->hashes[ks->n] = hash;
    ks->slot[h] = ++ks->n;
    return 0;
}

int lut_space_layer_keys(const lut_space *s, lut_key **keys, size_t *n)
{
    key_set ks;
    Lut_space_emitter em = {0, set_sink, &ks, NULL};
    int rc = 0;

    *keys = NULL;
    *n = 0;
    memset(&ks, 0, sizeof ks);
    if ((rc = set_grow(&ks)) != 0)
        goto out;
    for (size_t i = 0; i < s->nsegs && rc == 0; i++)
        for (size_t c = 0; c < s->segs[i].combos && rc == 0; c++)
            rc = Lut_space_run_combo(s, &s->segs[i], c, &em);
out:
    free(ks.slot);
    free(ks.hashes);
    if (rc != 0) {
        free(ks.keys);
        return rc;
    }
    *keys = ks.keys;
    *n = ks.n;
    return 0;
}

/*
 * space_kit.c — the builder toolkit: drafts of genes and segments, and the
 * emitter that canonicalizes and costs each layer a generator emits.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "space_kit.h"

/* ------------------------------------------------------------- helpers */

int Lut_space_fail(lut_error *err, const char *field, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->row = -1;
        snprintf(err->field, sizeof err->field, "%s", field ? field : "");
        va_start(ap, fmt);
        vsnprintf(err->reason, sizeof err->reason, fmt, ap);
        va_end(ap);
    }
    return LUT_EINVAL;
}

int64_t Lut_space_conv_out(int64_t in, int64_t k, int64_t stride,
                           int64_t dilation, int64_t pad)
{
    int64_t span = in + 2 * pad - dilation * (k - 1) - 1;
    if (span < 0)
        return 0;
    return span / stride + 1;
}

void Lut_space_format_number(double v, char *buf, size_t size)
{
    snprintf(buf, size, "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, size, "%.17g", v);
}

int Lut_space_gene_name_valid(const char *s)
{
    size_t n = 0;
    if (!s)
        return 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return n >= 1 && n < LUT_SPACE_GENE_NAME_MAX;
}

/* ------------------------------------------------------------- emitting */

int Lut_space_emit(Lut_space_emitter *em, const Lut_space_spec *L,
                   const char *fmt, ...)
{
    char name[LUT_SPACE_LAYER_NAME_MAX];
    lut_key key;
    lut_cost cost;
    size_t oplen;
    int rc;

    name[0] = '\0';
    if (em->want_names) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(name, sizeof name, fmt, ap);
        va_end(ap);
    }
    lut_key_init(&key);
    oplen = strlen(L->op); /* key.op is zeroed: a bounded copy, no printf */
    memcpy(key.op, L->op, oplen < sizeof key.op ? oplen : sizeof key.op - 1);
    if (L->cin > 0)
        key.cin = L->cin;
    if (L->cout > 0)
        key.cout = L->cout;
    if (L->h > 0)
        key.h = L->h;
    if (L->w > 0)
        key.w = L->w;
    if (L->out_h > 0)
        key.out_h = L->out_h;
    if (L->out_w > 0)
        key.out_w = L->out_w;
    key.k = L->k > 0 ? L->k : 1;
    key.stride = L->stride > 0 ? L->stride : 1;
    key.dilation = L->dilation > 0 ? L->dilation : 1;
    key.groups = L->groups > 0 ? L->groups : 1;
    if (!strcmp(L->op, "conv2d") || !strcmp(L->op, "avgpool") ||
        !strcmp(L->op, "maxpool"))
        key.pad = L->pad;
    key.bias = L->bias ? 1 : 0;
    key.bn = L->bn ? 1 : 0;

    rc = lut_key_canonicalize(&key, em->err);
    if (rc == 0)
        rc = lut_key_cost(&key, &cost, em->err);
    if (rc != 0) {
        if (em->err && em->want_names) {
            char why[sizeof em->err->reason];
            snprintf(why, sizeof why, "%s", em->err->reason);
            Lut_space_fail(em->err, em->err->field, "layer %s: %s", name, why);
        }
        return rc;
    }
    return em->sink(em, name, &key, &cost);
}

/* ------------------------------------------------------------- drafting */

void Lut_space_draft_init(Lut_space_draft *b, lut_error *err)
{
    memset(b, 0, sizeof *b);
    b->err = err;
}

long Lut_space_add_gene(Lut_space_draft *b, const char *name,
                        const double *choices, size_t n, long gate)
{
    if (!Lut_space_gene_name_valid(name))
        return Lut_space_fail(b->err, "name",
                              "gene name must match "
                              "[A-Za-z0-9._-]{1,31}");
    if (b->ngenes >= LUT_SPACE_MAX_GENES)
        return Lut_space_fail(b->err, "genes", "at most %d genes",
                              LUT_SPACE_MAX_GENES);
    for (size_t i = 0; i < b->ngenes; i++)
        if (!strcmp(b->names[i], name))
            return Lut_space_fail(b->err, name, "gene name given twice");
    if (n < 1 || n > LUT_SPACE_MAX_CHOICES)
        return Lut_space_fail(b->err, name,
                              "a gene has 1..%d choices (got %zu)",
                              LUT_SPACE_MAX_CHOICES, n);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(choices[i]))
            return Lut_space_fail(b->err, name,
                                  "choice %zu is not a finite number", i);
        for (size_t j = 0; j < i; j++)
            if (choices[j] == choices[i]) {
                char v[32];
                Lut_space_format_number(choices[i], v, sizeof v);
                return Lut_space_fail(b->err, name, "choice %s is given twice",
                                      v);
            }
    }
    if (gate >= (long)b->ngenes)
        return LUT_EINVAL;

    if (b->ngenes == b->gcap) {
        size_t cap = b->gcap ? 2 * b->gcap : 64;
        void *p;
        if (!(p = realloc(b->names, cap * sizeof *b->names)))
            return LUT_ENOMEM;
        b->names = p;
        if (!(p = realloc(b->off, cap * sizeof *b->off)))
            return LUT_ENOMEM;
        b->off = p;
        if (!(p = realloc(b->nch, cap * sizeof *b->nch)))
            return LUT_ENOMEM;
        b->nch = p;
        if (!(p = realloc(b->gate, cap * sizeof *b->gate)))
            return LUT_ENOMEM;
        b->gate = p;
        b->gcap = cap;
    }
    if (b->nchoices + n > b->chcap) {
        size_t cap = b->chcap ? b->chcap : 256;
        void *p;
        while (cap < b->nchoices + n)
            cap *= 2;
        if (!(p = realloc(b->choices, cap * sizeof *b->choices)))
            return LUT_ENOMEM;
        b->choices = p;
        b->chcap = cap;
    }
    snprintf(b->names[b->ngenes], LUT_SPACE_GENE_NAME_MAX, "%s", name);
    b->off[b->ngenes] = b->nchoices;
    b->nch[b->ngenes] = n;
    b->gate[b->ngenes] = gate;
    memcpy(b->choices + b->nchoices, choices, n * sizeof *choices);
    b->nchoices += n;
    return (long)b->ngenes++;
}

int Lut_space_add_segment(Lut_space_draft *b, Lut_space_generator gen,
                          const size_t *genes, size_t ngenes,
                          const int64_t *args, size_t nargs)
{
    Lut_space_segment *seg;
    size_t combos = 1;
    if (ngenes > SPC_SEG_MAX_GENES || nargs > SPC_SEG_MAX_ARGS)
        return LUT_EINVAL;
    for (size_t j = 0; j < ngenes; j++) {
        if (genes[j] >= b->ngenes)
            return LUT_EINVAL;
        combos *= b->nch[genes[j]];
        if (combos > SPC_SEG_MAX_COMBOS)
            return LUT_EINVAL;
    }
    if (b->nsegs == b->scap) {
        size_t cap = b->scap ? 2 * b->scap : 32;
        void *p = realloc(b->segs, cap * sizeof *b->segs);
        if (!p)
            return LUT_ENOMEM;
        b->segs = p;
        b->scap = cap;
    }
    seg = &b->segs[b->nsegs++];
    memset(seg, 0, sizeof *seg);
    seg->gen = gen;
    seg->ngenes = ngenes;
    if (ngenes)
        memcpy(seg->genes, genes, ngenes * sizeof *genes);
    if (nargs)
        memcpy(seg->arg, args, nargs * sizeof *args);
    seg->combos = combos;
    return 0;
}

void Lut_space_draft_release(Lut_space_draft *b)
{
    free(b->names);
    free(b->off);
    free(b->nch);
    free(b->gate);
    free(b->choices);
    free(b->segs);
}

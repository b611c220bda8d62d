/*
 * space_kit.h — the builder toolkit: what a builder uses to describe its
 * network, and the lowest layer of space/. Not installed, not for callers
 * of the library: cross-file internals are Lut_space_* (the Lut_* rule of
 * lut_internal.h).
 *
 * The layers of space/, each using only those below it:
 *   space_kit        genes and segments on a draft, emitting layers (here)
 *   space_head       the DeepLabV3+ head, shared by the builders
 *   space_<builder>  one builder each (space_mobilenetv2, space_xception65)
 *   space_builder    the registry of the built-in builders
 *   space            the public API of space.h: spaces, genomes, expansion
 *   space_coster     the per-segment coster of space.h
 *
 * A builder's define function declares genes (Lut_space_add_gene) and segments
 * (Lut_space_add_segment) on a Lut_space_draft. A segment names up to
 * SPC_SEG_MAX_GENES genes and holds up to SPC_SEG_MAX_ARGS integers of fixed
 * context (channel counts, spatial sizes, strides) computed once from the space
 * parameters. Its generator receives the chosen VALUES of its genes, in the
 * segment's order, and emits layers through a Lut_space_emitter; it must emit
 * the same layers for the same values, and depend on nothing else.
 */
#ifndef FMAS_SPACE_KIT_H
#define FMAS_SPACE_KIT_H

#include <stddef.h>
#include <stdint.h>

#include "lut.h"
#include "space_params.h"

#define SPC_SEG_MAX_GENES 8
#define SPC_SEG_MAX_ARGS 16
#define SPC_SEG_MAX_COMBOS 65536

#if defined(__GNUC__)
#define SPC_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define SPC_PRINTF(f, a)
#endif

typedef struct Lut_space_emitter Lut_space_emitter;
typedef struct Lut_space_segment Lut_space_segment;

/* The chosen values of a segment's genes, in the segment's order: as given
 * (d) and truncated to integers (i) for genes of channel counts and flags. */
typedef struct Lut_space_values {
    double d[SPC_SEG_MAX_GENES];
    int64_t i[SPC_SEG_MAX_GENES];
} Lut_space_values;

typedef int (*Lut_space_generator)(const Lut_space_segment *seg,
                                   const Lut_space_values *values,
                                   Lut_space_emitter *em);

struct Lut_space_segment {
    Lut_space_generator gen;
    size_t ngenes;
    size_t genes[SPC_SEG_MAX_GENES];
    int64_t arg[SPC_SEG_MAX_ARGS];
    size_t combos;     /* product of the genes' choice counts (1 if none) */
    size_t max_layers; /* the most layers one combination emits */
};

/* One layer to emit. Zero means the default for k, stride, dilation and
 * groups (1); pad is taken as given (0 is no padding). */
typedef struct Lut_space_spec {
    const char *op;
    int64_t cin, cout, k, stride, dilation, groups, pad, h, w, out_h, out_w;
    int bias, bn;
} Lut_space_spec;

/* Where emitted layers go. sink receives each canonical key with its cost
 * and, when want_names is set, its module path (else ""). A non-zero return
 * stops the generator with that code. */
struct Lut_space_emitter {
    int want_names;
    int (*sink)(Lut_space_emitter *em, const char *name, const lut_key *key,
                const lut_cost *cost);
    void *ctx;
    lut_error *err;
};

/* Canonicalize and cost one layer and hand it to the sink. The name is a
 * printf format, formatted only when the emitter wants names. */
int Lut_space_emit(Lut_space_emitter *em, const Lut_space_spec *layer,
                   const char *fmt, ...) SPC_PRINTF(3, 4);

/* PyTorch's output size of a conv or pool along one axis. */
int64_t Lut_space_conv_out(int64_t in, int64_t k, int64_t stride,
                           int64_t dilation, int64_t pad);

/*
 * The space under construction: genes (names, choices, gates) and segments
 * in growing arrays. Builders use it only through the calls below; the
 * space core (space.c) moves the arrays into the space it creates.
 */
typedef struct Lut_space_draft {
    size_t ngenes, gcap;
    char (*names)[LUT_SPACE_GENE_NAME_MAX];
    size_t *off, *nch; /* each gene's first choice in choices, and count */
    long *gate;
    double *choices;
    size_t nchoices, chcap;
    size_t nsegs, scap;
    Lut_space_segment *segs;
    lut_error *err; /* where add_gene reports a bad gene */
} Lut_space_draft;

/* An empty draft that reports to err (may be NULL); release frees what it
 * still holds and may be called on a draft whose arrays were moved out. */
void Lut_space_draft_init(Lut_space_draft *b, lut_error *err);
void Lut_space_draft_release(Lut_space_draft *b);

/* Add a gene (choices copied, integral values for builder genes); gate is
 * the index of the gene whose value 0 switches this one off, or -1. Returns
 * the new gene's index, or a negative code. */
long Lut_space_add_gene(Lut_space_draft *b, const char *name,
                        const double *choices, size_t n, long gate);

/* Append a segment depending on genes[0..ngenes) with fixed args. */
int Lut_space_add_segment(Lut_space_draft *b, Lut_space_generator gen,
                          const size_t *genes, size_t ngenes,
                          const int64_t *args, size_t nargs);

/* Fill err (field, formatted reason, row -1) and return LUT_EINVAL. */
int Lut_space_fail(lut_error *err, const char *field, const char *fmt, ...)
    SPC_PRINTF(3, 4);

/* 1 if s is a valid gene name ([A-Za-z0-9._-]{1,31}), else 0. */
int Lut_space_gene_name_valid(const char *s);

/* The shortest text of a double that reads back as the same value. */
void Lut_space_format_number(double v, char *buf, size_t size);

#endif

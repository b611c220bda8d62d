/*
 * space_internal.h — what the space core (space.c), the coster
 * (space_coster.c) and the builders (space_<builder>.c) share. Not installed,
 * not for callers of the library: cross-file internals are Lut_space_* (the
 * Lut_* rule of lut_internal.h).
 *
 * A builder's define function declares genes (Lut_space_add_gene) and segments
 * (Lut_space_segment) on a Lut_space_draft. A segment names up to
 * SPC_SEG_MAX_GENES genes and holds up to SPC_SEG_MAX_ARGS integers of fixed
 * context (channel counts, spatial sizes, strides) computed once from the space
 * parameters. Its generator receives the chosen VALUES of its genes, in the
 * segment's order, and emits layers through a Lut_space_emitter; it must emit
 * the same layers for the same values, and depend on nothing else.
 */
#ifndef FMAS_SPACE_INTERNAL_H
#define FMAS_SPACE_INTERNAL_H

#include <stdarg.h>

#include "space.h"

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

/* The space under construction. */
typedef struct Lut_space_draft Lut_space_draft;

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

/* The DeepLabV3+ head (space_head.c): its seven genes ("aspp.branch1..3",
 * "aspp.pool", "aspp.width", "decoder.low_level", "decoder.width", in that
 * order) and its segments, appended after the backbone's. */
typedef struct Lut_space_head {
    int64_t cin;          /* channels of the ASPP input */
    int64_t h, w;         /* its size */
    int64_t low_cin;      /* channels of the low-level feature */
    int64_t low_h, low_w; /* its size */
    int64_t rates[3];     /* atrous rates of branches 1..3 */
    int64_t num_classes;
    int64_t input_size;
    int separable; /* separable atrous branches and decoder convs */
} Lut_space_head;

int Lut_space_add_head(Lut_space_draft *b, const Lut_space_head *h);

/* A built-in builder: validates nothing that lut_space_create already
 * checked (the generic parameter ranges) but anything builder-specific. */
typedef struct Lut_space_builder_def {
    const char *name;
    const char *description;
    int (*define)(Lut_space_draft *b, const lut_space_params *p,
                  lut_error *err);
} Lut_space_builder_def;

int Lut_space_define_mobilenetv2(Lut_space_draft *b, const lut_space_params *p,
                                 lut_error *err);
int Lut_space_define_xception65(Lut_space_draft *b, const lut_space_params *p,
                                lut_error *err);

/* What the coster needs of a space. */
size_t Lut_space_segment_count(const lut_space *space);
const Lut_space_segment *Lut_space_segment_at(const lut_space *space, size_t i);

/* Run segment seg for its combination index combo (mixed radix over its
 * genes, the first gene varying slowest). */
int Lut_space_run_combo(const lut_space *space, const Lut_space_segment *seg,
                        size_t combo, Lut_space_emitter *em);

#endif

/*
 * space.h — search spaces: genes, genomes, and the layers and costs of the
 * networks they name.
 *
 * A space is an id, a description, a builder name, fixed parameters
 * (input_size, num_classes, output_stride) and an ordered list of genes, each
 * with an ordered list of numeric choices. A genome picks one choice index
 * per gene. A builder-backed space (the DeepLabV3+ families) turns a genome
 * into the exact forward-order list of its layers as canonical lut_keys; a
 * categorical space only names genes, for surrogates over networks costed
 * elsewhere.
 *
 * Inside, a builder describes its network as a list of SEGMENTS. Each segment
 * depends on a few genes and has a generator that emits its layers from those
 * genes' chosen values; a network is the concatenation of its segments. The
 * same generators feed the expansion, the set of distinct layer keys of the
 * space (enumerated per segment, never per genome), and the coster, which
 * tabulates per segment, per combination of the segment's genes, the summed
 * MACs, parameters and latency so that costing a genome is one lookup per
 * segment.
 *
 * Conventions (those of lut.h, written once here and followed everywhere):
 * - Every function that can fail returns int: 0 (LUT_OK) or a negative LUT_E*
 *   code; lut_strerror() turns it into text. Calls that validate client input
 *   fill an optional lut_error (field: the gene or parameter name, or
 *   "length"; reason: a sentence; row: -1).
 * - Inputs are borrowed: the caller owns what it passes in and the library
 *   copies what it keeps. A lut_space and a lut_space_coster are immutable
 *   once created, own no reference to anything else, and can be shared by
 *   many threads without locking.
 * - Pointers returned by accessors (names, choices, the gene table) stay
 *   valid for the life of the space. Arrays the library allocates for the
 *   caller (expansions, key sets) are released with free().
 * - A genome is an array of lut_space_gene_count() ints, each a choice index.
 *   Calls that take one check every index and answer LUT_EINVAL otherwise;
 *   calls that fill one leave it unspecified when they fail.
 */
#ifndef FMAS_SPACE_H
#define FMAS_SPACE_H

#include <stddef.h>
#include <stdint.h>

#include "lut.h"
#include "space_params.h" /* limits, builder names, lut_space_params */

#ifdef __cplusplus
extern "C" {
#endif

/* The defaults: 513, 21 (PASCAL VOC), 16. */
void lut_space_params_default(lut_space_params *p);

/* One gene: a name and its choices in order. As an input (categorical
 * spaces) the caller owns name and choices; as an output they belong to the
 * space. Choices are finite and distinct; index 0 is the "min" choice, the
 * last index the "max" one. */
typedef struct lut_space_gene {
    const char *name;
    const double *choices;
    size_t n_choices;
} lut_space_gene;

typedef struct lut_space lut_space;

/* The built-in builder names, NULL-terminated, in a stable order; the
 * description of one (NULL if unknown). */
const char *const *lut_space_builders(void);
const char *lut_space_builder_description(const char *builder);

/*
 * Create a builder-backed space. id: [a-z0-9._-]{1,64}. description may be
 * NULL or "" for the builder's own. params are validated (input_size
 * 32..2048, num_classes 1..1000, output_stride 16 or 8); err->field names
 * the offending one ("id", "builder", "description", "input_size", ...).
 * Creation emits every layer of every segment combination once, so a space
 * that exists can expand any genome. The layers of each builder, and why,
 * are in docs/spaces.md; the PyTorch twin (clients/python/fmas_twin) builds
 * the same networks and gives the same layer lists.
 */
int lut_space_create(lut_space **out, const char *id, const char *description,
                     const char *builder, const lut_space_params *params,
                     lut_error *err);

/*
 * Create a categorical space: genes only, no builder, no layers. 1..1024
 * genes with unique names; each 1..256 finite, distinct choices. A field
 * that fails is reported as "genes" (count), or the gene's name, or
 * "genes/<i>/name" when the name itself is bad.
 */
int lut_space_create_categorical(lut_space **out, const char *id,
                                 const char *description,
                                 const lut_space_gene *genes, size_t n,
                                 lut_error *err);

void lut_space_free(lut_space *space);

/* ------------------------------------------------------------ accessors */

const char *lut_space_id(const lut_space *space);
const char *lut_space_description(const lut_space *space);
/* The builder name, or "" for a categorical space. */
const char *lut_space_builder(const lut_space *space);
int lut_space_has_builder(const lut_space *space);
const lut_space_params *lut_space_get_params(const lut_space *space);

size_t lut_space_gene_count(const lut_space *space);
/* Gene i (i < lut_space_gene_count), or NULL. */
const lut_space_gene *lut_space_gene_at(const lut_space *space, size_t i);
/* Index of the gene called name, or -1. */
long lut_space_gene_index(const lut_space *space, const char *name);
/* The gene that switches gene i on: when that gene's chosen value is 0 (a
 * skipped block), gene i does not change the network. -1 if none. */
long lut_space_gene_gate(const lut_space *space, size_t i);

/* Genome of the last choice of every gene (the full network), and of the
 * first (the smallest). genome has lut_space_gene_count() entries. */
void lut_space_genome_max(const lut_space *space, int *genome);
void lut_space_genome_min(const lut_space *space, int *genome);

/* Set the genes that do not matter (switched off by their gate) to index 0,
 * so that two genomes of the same network become equal. */
void lut_space_genome_canonicalize(const lut_space *space, int *genome);

/*
 * The number of distinct networks of the space, in decimal, into buf.
 * Genes switched off by a skipped block do not count: each gate contributes
 * (its zero choices) + (its non-zero choices) * (product of its genes'
 * choices). Returns the length written, or LUT_EINVAL if size is too small
 * (LUT_SPACE_COUNT_MAX is always enough).
 */
int lut_space_count(const lut_space *space, char *buf, size_t size);

/* -------------------------------------------------------------- genomes */

/*
 * Validate a genome given as choice indices (n of them, as the client sent
 * them) and write it to genome. Errors: field "length" ("genome has 5 genes;
 * the space has 33"), or the gene's name ("index 7 out of range 0..3").
 */
int lut_space_genome_from_indices(const lut_space *space, const int64_t *idx,
                                  size_t n, int *genome, lut_error *err);

/*
 * Validate a genome given as gene name -> chosen value (n pairs, any order)
 * and write it to genome as indices. Every gene must appear exactly once.
 * Errors name the gene: "unknown gene", "given twice", "missing",
 * "value 5 is not among the choices [2, 3, 4, 6]".
 */
int lut_space_genome_from_values(const lut_space *space,
                                 const char *const *names, const double *values,
                                 size_t n, int *genome, lut_error *err);

/* Check a genome of indices in place (same errors as from_indices). */
int lut_space_genome_check(const lut_space *space, const int *genome,
                           lut_error *err);

/* ------------------------------------------------------------ expansion */

typedef struct lut_space_layer {
    char name[LUT_SPACE_LAYER_NAME_MAX]; /* module path */
    lut_key key;                         /* canonical */
    lut_cost cost;                       /* lut_key_cost of key */
} lut_space_layer;

typedef struct lut_space_totals {
    size_t layers;
    uint64_t macs;
    uint64_t params;
} lut_space_totals;

/* The most layers any genome of the space expands to (0 if categorical). */
size_t lut_space_max_layers(const lut_space *space);

/*
 * Expand a genome into its layers in forward order. *layers is malloc'd
 * (free() it; NULL when the network has no layers) and tot (may be NULL)
 * receives the count and the summed MACs and parameters. LUT_EINVAL for a
 * bad genome or a categorical space (field "builder").
 */
int lut_space_expand(const lut_space *space, const int *genome,
                     lut_space_layer **layers, lut_space_totals *tot,
                     lut_error *err);

/*
 * The same without names or allocation: the canonical keys into the
 * caller's array of cap entries (cap >= lut_space_max_layers() is always
 * enough; LUT_EINVAL if it is short), ready for lut_table_sum.
 */
int lut_space_expand_keys(const lut_space *space, const int *genome,
                          lut_key *keys, size_t cap, lut_space_totals *tot);

/*
 * Every distinct canonical layer key that some genome of the space uses, in
 * order of first appearance (segments in forward order, each segment's gene
 * combinations in index order): the profiler's to-do list. *keys is
 * malloc'd; free() it. A categorical space has none (*n = 0).
 */
int lut_space_layer_keys(const lut_space *space, lut_key **keys, size_t *n);

/* -------------------------------------------------------------- costing */

/*
 * A precomputed costing of one builder space against k latency tables (k
 * may be 0: MACs and parameters only). It copies what it needs: neither the
 * space nor the tables have to outlive it. Each table's lut_version at build
 * time is kept so the caller knows when to rebuild.
 */
typedef struct lut_space_coster lut_space_coster;

int lut_space_coster_build(const lut_space *space,
                           const lut_table *const *tables, size_t k,
                           lut_space_coster **out);
void lut_space_coster_free(lut_space_coster *coster);

size_t lut_space_coster_table_count(const lut_space_coster *coster);
/* The lut_version of table i when the coster was built (0 if none). */
uint64_t lut_space_coster_version(const lut_space_coster *coster, size_t i);
/* 1 if every table still has the version the coster was built from (same
 * count, same order), else 0. */
int lut_space_coster_current(const lut_space_coster *coster,
                             const lut_table *const *tables, size_t k);
/* Heap bytes held by the coster. */
size_t lut_space_coster_bytes(const lut_space_coster *coster);

/*
 * Cost one genome: tot receives layers, MACs and parameters; latency (k
 * entries, may be NULL when k is 0) receives per table what lut_table_sum
 * would give for the expansion: the summed mean latency of the layers found,
 * hits, and missing (layers without a row; they add nothing to total and are
 * always counted); of the missing, predicted, predicted_total and
 * predicted_var say what the table's lut_predictor makes of them (fitted
 * when the coster is built). Only total may differ from lut_table_sum, in
 * its last bits, as the additions happen in another order. LUT_EINVAL for an index
 * out of range. No allocation, no lock: one coster serves many threads.
 */
int lut_space_cost(const lut_space_coster *coster, const int *genome,
                   lut_space_totals *tot, lut_sum *latency);

#ifdef __cplusplus
}
#endif
#endif

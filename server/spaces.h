/*
 * spaces.h — the server's registry of search spaces: the built-in DeepLabV3+
 * families, plus spaces registered by clients (kept in LMDB as their
 * definition documents and rebuilt at start).
 *
 * A space handed out by fm_spaces_get is a counted reference: it stays
 * valid, even if deleted meanwhile, until fm_spaces_release.
 */
#ifndef FMAS_SERVER_SPACES_H
#define FMAS_SERVER_SPACES_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "costers.h"
#include "lut.h"
#include "observations.h"
#include "space.h"

typedef struct fm_models fm_models;

/* Choice strings: 1..FM_LABEL_MAX bytes. A space's genes make at most
 * FM_FEATURES_MAX surrogate features (one per ordered gene, one per choice
 * of an unordered gene). */
#define FM_LABEL_MAX 64
#define FM_FEATURES_MAX 4096

/*
 * What the server knows of a gene beyond the space library's numbers.
 * ordered: the surrogate reads the gene as one number, its choice's value
 * scaled to [0, 1] (1), or one-hot, one 0/1 feature per choice (0).
 * labels: the string choices by index, NULL-terminated, when the gene's
 * choices are strings (the library then knows them as 0 .. k-1); NULL for
 * numeric genes.
 */
typedef struct fm_gene {
    int ordered;
    char **labels;
} fm_gene;

typedef struct fm_space {
    lut_space *space;
    fm_gene *genes;     /* lut_space_gene_count of them */
    json_t *definition; /* the canonical definition document */
    int builtin;
    atomic_int refs;
    fm_obs_set *obs;    /* its observations (observations.c) */
    fm_models *models;  /* its fitted surrogates (models.c) */
    fm_costers *costers; /* its costers by tables (costers.c) */
} fm_space;

typedef struct fm_spaces {
    pthread_rwlock_t lock;
    fm_space **items;
    size_t n, cap;
} fm_spaces;

int fm_spaces_init(fm_spaces *reg);
void fm_spaces_destroy(fm_spaces *reg);

/* Create the built-in spaces, then every registered one stored in LMDB. */
int fm_spaces_load(fm_spaces *reg, lut_store *store);

/* Replace the whole registry by one loaded from store (a newer snapshot,
 * on a read replica): the swap is atomic, references handed out before
 * stay valid, and a space whose definition and observation count did not
 * change is kept as it was, with its fitted models. */
int fm_spaces_reload(fm_spaces *reg, lut_store *store);

/* A reference to the space called id, or NULL. */
fm_space *fm_spaces_get(fm_spaces *reg, const char *id);
/* One more reference to s; returns s. */
fm_space *fm_spaces_retain(fm_space *s);
void fm_spaces_release(fm_space *s);

/* References to every space, sorted by id; release each, free the array. */
int fm_spaces_list(fm_spaces *reg, fm_space ***out, size_t *n);

/*
 * Build a space from a definition document ({id, description, builder,
 * params} or {id, description, genes}). On a bad document fills err with
 * field = the JSON pointer of the fault ("/params/input_size",
 * "/genes/2/choices") and returns LUT_EINVAL.
 */
int fm_space_from_definition(json_t *def, fm_space **out, lut_error *err);

/* Register a new space (stored durably first). LUT_EEXIST if the id is
 * taken. Takes ownership of s on success. */
int fm_spaces_add(fm_spaces *reg, lut_store *store, fm_space *s);

/* Delete a registered space. LUT_ENOTFOUND, or LUT_EEXIST for built-ins. */
int fm_spaces_remove(fm_spaces *reg, lut_store *store, const char *id);

/* JSON of a space: summary (list) or full (genes, count, named genomes). */
json_t *fm_space_json(const fm_space *s, int full);

/*
 * Parse a genome (JSON array of indices or object gene name → value) into
 * genome[]. On failure fills err: field = the JSON pointer below the genome
 * ("/5" or "/features.3.keep", or "" for the genome itself), reason names the
 * gene. Returns 0 or LUT_EINVAL. The object form takes numbers only: a
 * gene with string choices is known here by its indices 0 .. k-1; see
 * fm_space_genome_from_json.
 */
int fm_genome_from_json(const lut_space *space, json_t *v, int *genome, lut_error *err);

/*
 * fm_genome_from_json with the space's own genes: in the object form a gene
 * whose choices are strings takes one of those strings (an unknown one
 * fails at "/<gene>" with a reason that lists the choices); the other genes
 * take numbers as in fm_genome_from_json.
 */
int fm_space_genome_from_json(const fm_space *s, json_t *v, int *genome, lut_error *err);

/* The genome as an index array. */
json_t *fm_genome_json(const lut_space *space, const int *genome);
/* The genome as an object gene name → chosen value (numbers: builder
 * spaces, whose genes are all numeric). */
json_t *fm_genome_named_json(const lut_space *space, const int *genome);

#endif

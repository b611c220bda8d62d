/*
 * nsga2.h — the pieces of NSGA-II (Deb, Pratap, Agarwal, Meyarivan, "A fast
 * and elitist multiobjective genetic algorithm: NSGA-II", IEEE TEC 6(2),
 * 2002) for categorical genomes, plus a seeded PRNG, a genome set and an
 * exact hypervolume.
 *
 * Depends on libc and libm only: no HTTP, no JSON, no globals.
 *
 * Conventions, written once:
 * - Objectives are MINIMIZED. A caller with a "max" goal negates the value.
 *   Objective matrices are row-major: obj[i*m + k] is objective k of point i.
 * - Constraint violation, where taken, is viol[i] >= 0 (0 = feasible), and
 *   domination is Deb's constrained domination: a feasible point dominates
 *   an infeasible one, of two infeasible points the smaller violation
 *   dominates, and two feasible points compare by Pareto domination.
 *   viol == NULL means every point is feasible.
 * - Inputs are borrowed; outputs go to caller storage sized as each comment
 *   says. Functions that allocate return 0 or NSGA2_ENOMEM.
 * - Every tie is broken by index, so that each result is a function of the
 *   inputs (and of the PRNG state where one is taken): same seed, same run.
 */
#ifndef FMAS_NSGA2_H
#define FMAS_NSGA2_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { NSGA2_OK = 0, NSGA2_ENOMEM = -1 };

/* ------------------------------------------------------------------ PRNG */

/* xoshiro256** (Blackman & Vigna), seeded through splitmix64. The state is
 * four words; a caller may save and restore it (nsga2_rng_save/load). */
typedef struct nsga2_rng {
    uint64_t s[4];
} nsga2_rng;

void nsga2_rng_seed(nsga2_rng *r, uint64_t seed);
uint64_t nsga2_rng_next(nsga2_rng *r);
/* Uniform in [0, n), n >= 1, without modulo bias. */
uint32_t nsga2_rng_below(nsga2_rng *r, uint32_t n);
/* Uniform in [0, 1) with 53 random bits. */
double nsga2_rng_unit(nsga2_rng *r);
/* The state as 64 lowercase hex digits + NUL (buf of 65), and back.
 * load returns 0, or -1 when text is not 64 hex digits or is all zero. */
void nsga2_rng_save(const nsga2_rng *r, char buf[65]);
int nsga2_rng_load(nsga2_rng *r, const char *text);

/* ---------------------------------------------------- sorting, crowding */

/* 1 if point a dominates point b (constrained domination, see above);
 * va, vb are their violations (0 when viol is not used). */
int nsga2_dominates(const double *a, double va, const double *b, double vb, size_t m);

/*
 * Fast non-dominated sort (Deb et al., section III-A): rank[i] = 0 for the
 * first front, 1 for the next, ... Points with equal objective vectors do
 * not dominate each other and share a front. Returns the number of fronts
 * (>= 0), or NSGA2_ENOMEM. O(m n^2) time, O(n^2) memory worst case.
 */
int nsga2_sort(const double *obj, const double *viol, size_t n, size_t m, int *rank);

/*
 * Crowding distance (section III-B) of the k points idx[0..k) of one front:
 * dist[j] belongs to idx[j]. Per objective the points are ordered by value,
 * ties by position j; the first and last of that order get +INFINITY, the
 * others add (next - previous) / (max - min), nothing when max == min.
 * Returns 0 or NSGA2_ENOMEM.
 */
int nsga2_crowding(const double *obj, size_t m, const size_t *idx, size_t k, double *dist);

/*
 * Elitist survival (section III-C): keep `keep` of the n points, whole
 * fronts first, the last front cut by descending crowding distance (ties by
 * index). out[0..min(keep,n)) receives the chosen indices in that order;
 * rank_out and crowd_out (each may be NULL; keep entries) receive each
 * chosen point's front and crowding distance within its front, the values a
 * later binary tournament compares. Returns the count chosen, or
 * NSGA2_ENOMEM.
 */
long nsga2_survive(const double *obj, const double *viol, size_t n, size_t m, size_t keep, size_t *out,
                   int *rank_out, double *crowd_out);

/* Binary tournament with the crowded-comparison operator: two distinct
 * random members (one when n == 1), the lower rank wins, then the larger
 * crowding distance, then the first drawn. Returns an index in [0, n). */
size_t nsga2_tournament(nsga2_rng *r, const int *rank, const double *crowd, size_t n);

/* ------------------------------------------------- categorical variation */

/* Uniform crossover: each gene of c1 comes from a or b with probability
 * 1/2 and c2 takes the other parent's gene. */
void nsga2_crossover_uniform(nsga2_rng *r, const int *a, const int *b, int *c1, int *c2, size_t ng);

/* Per-gene mutation: each gene with probability p is set to a different
 * choice, uniform among the other nchoices[i] - 1 (genes with one choice
 * never change). Returns the number of genes changed. */
size_t nsga2_mutate(nsga2_rng *r, int *g, const int *nchoices, size_t ng, double p);

/* ------------------------------------------------------------ genome set */

/*
 * A set of genomes of ng genes. It copies what it stores into one array, in
 * the order added, so that a genome also has an index (0, 1, ...) that
 * never changes: a caller may keep data per genome in a parallel array and
 * find it by genome with nsga2_set_find. Lookups go through an open-
 * addressing table of indices (linear probing, at most half full).
 */
typedef struct nsga2_set {
    size_t ng, count;    /* genes per genome; genomes stored */
    int *genomes;        /* count * ng genes, in the order added */
    size_t room;         /* genomes the array has room for */
    size_t cap;          /* slots: a power of two, or 0 */
    size_t *slots;       /* cap entries: index + 1 of a genome, or 0 (empty) */
} nsga2_set;

void nsga2_set_init(nsga2_set *s, size_t ng);
void nsga2_set_free(nsga2_set *s);
int nsga2_set_has(const nsga2_set *s, const int *g);
/* The index of g, or -1 when it is not in the set. */
long nsga2_set_find(const nsga2_set *s, const int *g);
/* 1 if g was added (its index is then count - 1), 0 if already present,
 * NSGA2_ENOMEM. Adding may move the genomes: a pointer from
 * nsga2_set_genome is valid until the next add (and g must not be one). */
int nsga2_set_add(nsga2_set *s, const int *g);

/* The genome of index i (< count). */
static inline const int *nsga2_set_genome(const nsga2_set *s, size_t i)
{
    return s->genomes + i * s->ng;
}

/* --------------------------------------------------------------- offspring */

/* What a search tells the variation step about its genes. */
typedef struct nsga2_genes {
    size_t ng;
    const int *nchoices;  /* ng counts, each >= 1 */
    const int *gate;      /* ng entries or NULL: index of the gene that gates gene i, or -1 */
    const int *gate_off;  /* ng entries: the choice index of gate[i] that switches gene i off */
    double p_crossover;   /* probability a pair is crossed (else copied); Deb: 0.9 */
    double p_mutation;    /* per gene; 0 means 1/ng */
} nsga2_genes;

/* Canonical form: a gene switched off by its gate is set to choice 0, so two
 * genomes naming the same network are equal. */
void nsga2_canonicalize(const nsga2_genes *gs, int *g);

/* A uniformly random genome, canonicalized. */
void nsga2_random_genome(nsga2_rng *r, const nsga2_genes *gs, int *g);

/*
 * Offspring of one generation: pairs of parents by binary tournament over
 * the population pop (npop genomes of ng, with rank and crowd as returned by
 * nsga2_survive), uniform crossover, per-gene mutation, canonical form.
 * A child already in `seen`, or equal to an earlier child of this call, is
 * mutated again (one forced gene change), then redrawn from new parents;
 * after max_tries draws in all the call stops short. Every child written is
 * added to `seen`. out receives up to want genomes (want * ng ints).
 * Returns the count written (<= want) or NSGA2_ENOMEM.
 */
long nsga2_offspring(nsga2_rng *r, const nsga2_genes *gs, const int *pop, const int *rank, const double *crowd,
                     size_t npop, size_t want, size_t max_tries, nsga2_set *seen, int *out);

/* ------------------------------------------------------------ hypervolume */

/*
 * Exact hypervolume (minimization) of the region dominated by the n points
 * of m objectives and bounded by ref. Points not strictly better than ref in
 * every objective contribute nothing. Any m >= 1: sweep for m <= 2, slicing
 * along the last objective above (O(n^2 log n) for m = 3). Returns -1.0 when
 * out of memory.
 */
double nsga2_hypervolume(const double *pts, size_t n, size_t m, const double *ref);

/* Non-dominated filter: front[i] = 1 when no other point dominates point i
 * (constrained domination; an infeasible point is never in the front when a
 * feasible one exists). O(m n^2), no allocation. */
void nsga2_nondominated(const double *obj, const double *viol, size_t n, size_t m, unsigned char *front);

#ifdef __cplusplus
}
#endif

#endif

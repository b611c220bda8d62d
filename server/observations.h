/*
 * observations.h — real measured metrics of genomes, per space: kept in
 * memory for the surrogate and screening, and durably in LMDB (one synced
 * document per accepted batch, so a batch lands whole or not at all).
 *
 * The set belongs to its space (fm_space.obs) and owns its lock: every
 * call below takes it as it needs (a read lock for queries, the write lock
 * only to append what is already stored), so callers never lock. Answers
 * are copies the caller owns, except in fm_obs_each, whose visitor sees the
 * observations themselves for the length of the call.
 */
#ifndef FMAS_SERVER_OBSERVATIONS_H
#define FMAS_SERVER_OBSERVATIONS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "lut.h"
#include "space.h"

#define FM_NAME_MAX 65 /* metric and fidelity names: 1..64 characters */

typedef struct fm_obs {
    uint64_t id;          /* arrival order, from 1 */
    int64_t observed_ms;  /* Unix time, milliseconds */
    char metric[FM_NAME_MAX];
    char fidelity[FM_NAME_MAX];
    double value;
    int *genome;          /* gene_count choice indices, owned */
    char *meta;           /* compact JSON text, owned; NULL for null */
} fm_obs;

typedef struct fm_obs_set fm_obs_set;

/* An empty set of genomes of gene_count genes; NULL when out of memory. */
fm_obs_set *fm_obs_new(size_t gene_count);
void fm_obs_free(fm_obs_set *set);

/* Load the stored batches of space `space_id` (before the set is shared). */
int fm_obs_load(fm_obs_set *set, lut_store *store, const char *space_id);

/*
 * Store a batch durably (one synced document), then append it. The items'
 * genome and meta move into the set on success (the caller's pointers are
 * set to NULL); on failure nothing changed and the caller still owns them.
 * Fills id and observed_ms. *total receives the set's size after the append.
 */
int fm_obs_append(fm_obs_set *set, lut_store *store, const char *space_id,
                  fm_obs *batch, size_t n, size_t *total);

/*
 * fm_obs_append with an idempotency key (NULL: none), stored in the batch's
 * document, and the batch's digest (fm_obs_digest). A key the set has
 * seen with the same digest stores nothing: *replayed = 1 and *accepted is
 * the size of the batch stored first. The same key with another digest is
 * FM_OBS_EKEY_REUSED, nothing changed. Keys live as long as the space.
 */
#define FM_OBS_EKEY_REUSED (-30100)
#define FM_OBS_KEY_MAX 255
int fm_obs_append_once(fm_obs_set *set, lut_store *store, const char *space_id, const char *key,
                       uint64_t digest, fm_obs *batch, size_t n, size_t *accepted, size_t *total,
                       int *replayed);

/* A 64-bit digest of what a batch says (genomes, metrics, fidelities,
 * values and meta, in order), to tell a repeated request from another. */
uint64_t fm_obs_digest(const fm_obs *batch, size_t n, size_t gene_count);

/* Remove every stored batch of a space (its deletion). */
int fm_obs_purge(lut_store *store, const char *space_id);

/* ------------------------------------------------------------- queries */

/* Observations of (metric, fidelity); NULL matches any. */
size_t fm_obs_count(fm_obs_set *set, const char *metric, const char *fidelity);

/* The fidelity with the most observations of metric (the first seen of
 * equals), into buf; 0 if there is one, -1 if the metric has none. */
int fm_obs_busiest_fidelity(fm_obs_set *set, const char *metric, char *buf, size_t size);

/* The distinct metrics observed, in first-seen order, at most max of them,
 * into names; returns how many. */
size_t fm_obs_metrics(fm_obs_set *set, char (*names)[FM_NAME_MAX], size_t max);

/* The distinct (metric, fidelity) pairs observed, in first-seen order.
 * *out is malloc'd (free() it). Returns 0 or LUT_ENOMEM. */
typedef struct fm_obs_pair {
    char metric[FM_NAME_MAX];
    char fidelity[FM_NAME_MAX];
} fm_obs_pair;
int fm_obs_pairs(fm_obs_set *set, fm_obs_pair **out, size_t *n);

/* Call fn for each observation of (metric, fidelity) (NULL matches any) in
 * arrival order, under the read lock: fn must not call into the set. */
typedef void (*fm_obs_visit)(const fm_obs *o, void *ctx);
void fm_obs_each(fm_obs_set *set, const char *metric, const char *fidelity,
                 fm_obs_visit fn, void *ctx);

/*
 * Distinct genomes with the mean of their repeats: the training rows of a
 * surrogate and the observed points of screening, computed in one place.
 *
 * A query names observations by metric and fidelity (NULL matches any).
 * Genomes are canonical (lut_space_genome_canonicalize), so two genomes of
 * one network are one point. Every genome observed for at least one query
 * is a point; per query it has the mean and count of its observations
 * (mean NaN, count 0 when none). Repeats are summed in arrival order.
 *
 * Points are sorted by the bytes of their genome (memcmp order), so
 * fm_obs_points_find is a binary search; first[i] is the arrival position
 * of point i's first matching observation (arrival order: sort by it).
 */
typedef struct fm_obs_query {
    const char *metric;
    const char *fidelity;
} fm_obs_query;

typedef struct fm_obs_points {
    size_t n;          /* distinct genomes */
    size_t nq;         /* queries: columns of mean and count */
    size_t gene_count;
    size_t used;       /* observations that matched a query */
    int *genomes;      /* n x gene_count */
    double *mean;      /* n x nq */
    size_t *count;     /* n x nq */
    size_t *first;     /* n */
} fm_obs_points;

/* Returns 0 or LUT_ENOMEM; free the answer with fm_obs_points_free. */
int fm_obs_distinct(fm_obs_set *set, const lut_space *space, const fm_obs_query *q, size_t nq,
                    fm_obs_points *out);
void fm_obs_points_free(fm_obs_points *p);

/* The index of a canonical genome among the points, or -1. */
long fm_obs_points_find(const fm_obs_points *p, const int *genome);

/* ------------------------------------------------------------- names */

/* Valid metric names: [a-z0-9_]{1,64}; fidelities: [a-z0-9._-]{1,64}. */
int fm_metric_name_valid(const char *s);
int fm_fidelity_name_valid(const char *s);

/* RFC 3339 UTC text of a millisecond timestamp. */
void fm_format_time(int64_t ms, char *buf, size_t size);

#endif

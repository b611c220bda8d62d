/*
 * observations.h — real measured metrics of genomes, per space: kept in
 * memory for the surrogate and screening, and durably in LMDB (one synced
 * document per accepted batch, so a batch lands whole or not at all).
 *
 * The set belongs to its space (fm_space.obs). Readers take the read lock
 * for as long as they look at items; fm_obs_append takes the write lock
 * only to append what it has already stored.
 */
#ifndef FMAS_SERVER_OBSERVATIONS_H
#define FMAS_SERVER_OBSERVATIONS_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "lut.h"

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

typedef struct fm_obs_set {
    pthread_rwlock_t lock;
    fm_obs *items;
    size_t n, cap;
    uint64_t next_id;
    uint64_t next_doc;    /* document sequence */
    size_t gene_count;
} fm_obs_set;

int fm_obs_init(fm_obs_set *set, size_t gene_count);
void fm_obs_destroy(fm_obs_set *set);

/* Load the stored batches of space `space_id`. */
int fm_obs_load(fm_obs_set *set, lut_store *store, const char *space_id);

/*
 * Store a batch durably (one synced document), then append it. The items'
 * genome and meta move into the set on success (the caller's pointers are
 * set to NULL); on failure nothing changed and the caller still owns them.
 * Fills id and observed_ms. *total receives the set's size after the append.
 */
int fm_obs_append(fm_obs_set *set, lut_store *store, const char *space_id,
                  fm_obs *batch, size_t n, size_t *total);

/* Remove every stored batch of a space (its deletion). */
int fm_obs_purge(lut_store *store, const char *space_id);

/* Valid metric names: [a-z0-9_]{1,64}; fidelities: [a-z0-9._-]{1,64}. */
int fm_metric_name_valid(const char *s);
int fm_fidelity_name_valid(const char *s);

/* RFC 3339 UTC text of a millisecond timestamp. */
void fm_format_time(int64_t ms, char *buf, size_t size);

#endif

/*
 * costers.h — the built costers of one space, kept for the next request.
 *
 * Building a lut_space_coster enumerates every segment combination of the
 * space against the request's tables: far more work than costing a few
 * genomes. A space's cache keeps the last FM_COSTERS_KEPT costers, each
 * keyed by its tables in order (device name, lut_version and content hash:
 * the same key is the same rows), so repeated requests on the same devices
 * cost only their genomes. Safe from many threads at once.
 *
 * Ownership: fm_costers_get hands out a counted reference; the coster stays
 * valid, even if evicted meanwhile, until fm_coster_release.
 */
#ifndef FMAS_SERVER_COSTERS_H
#define FMAS_SERVER_COSTERS_H

#include <stddef.h>

#include "lut.h"
#include "space.h"

#define FM_COSTERS_KEPT 8

typedef struct fm_costers fm_costers;
typedef struct fm_coster fm_coster;

/* A new, empty cache, or NULL when out of memory. */
fm_costers *fm_costers_new(void);
void fm_costers_free(fm_costers *c);

/*
 * The coster of space against the k tables, built on a miss (and then
 * kept, evicting the least recently used). Returns 0 with *out, or a lut
 * code of lut_space_coster_build.
 */
int fm_costers_get(fm_costers *c, const lut_space *space, const lut_table *const *tables, size_t k,
                   fm_coster **out);

/* The coster itself; valid until fm_coster_release. */
const lut_space_coster *fm_coster_value(const fm_coster *e);
void fm_coster_release(fm_coster *e);

#endif

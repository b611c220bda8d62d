/*
 * search_service.h — what fmas-search asks fmasd: the space, the screen (or
 * estimate) of each generation, the observations, the refits. Each request
 * that fails after the client's retries ends the process (exit 1) with the
 * client's sentence and how to resume: the journal keeps everything.
 */
#ifndef FMAS_SEARCH_SERVICE_H
#define FMAS_SEARCH_SERVICE_H

#include "search.h"

/* End the process about the client's last failure (exit 1). */
void search_http_fatal(search *s) __attribute__((noreturn));
/* GET the space: genes, choices, gates; refuses cost objectives on a
 * categorical space (exit 2). */
void search_load_space(search *s);
/* One screen (or estimate) request for the offspring idx[0..n) of
 * generation gen; returns the generation's "screen" record (new ref). */
json_t *search_screen_offspring(search *s, int gen, const size_t *idx, size_t n);
/* POST the unposted measurements of the cands idx[0..n) (or their
 * fine-tuned ones) as observations, then journal a "posted" record;
 * returns how many observations went. */
size_t search_post_observations(search *s, int gen, const size_t *idx, size_t n, int finetune);
/* POST .../surrogate:fit for every metric objective (failures other than
 * an unreachable service are warned about once). */
void search_refit(search *s);

#endif

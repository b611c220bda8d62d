/*
 * search_state.h — the cands of a search (one per genome ever made, found
 * by genome) and its journal: the records written as the search goes, and
 * their replay when a search resumes. A failed journal write ends the
 * process: a search that cannot record what it did must not go on.
 */
#ifndef FMAS_SEARCH_STATE_H
#define FMAS_SEARCH_STATE_H

#include "search.h"

/* ---------------------------------------------------------------- cands */

/* search_cand_get makes the cand of g (generation gen, ST_NEW) when there
 * is none; both return its index, or -1 (not found; out of memory).
 * Indices stay valid, cand pointers and cand_genome pointers do not
 * survive a search_cand_get. */
long search_cand_find(const search *s, const int *g);
long search_cand_get(search *s, const int *g, int gen);
/* A genome as a JSON array of indices (new reference), and back: 0, or -1
 * when a is not ng valid indices of the space. */
json_t *search_genome_json(const search *s, const int *g);
int search_genome_from_json(const search *s, json_t *a, int *g);
/* A genome as {gene name: chosen value} (new reference). */
json_t *search_named(const search *s, const int *genome);
/* A genome as text for messages: "[1,0,3]" (cut to size). */
void search_genome_text(const search *s, const int *genome, char *buf, size_t size);
/* Counters over every cand so far (t->gen is s->gen_done). */
void search_tally(const search *s, gen_stats *t);
/* Append st to s->stats (ends the process when out of memory). */
void search_stats_push(search *s, const gen_stats *st);
/* The set of genomes offspring must not repeat: every cand made up to the
 * last finished generation, except the outranked ones. */
int search_rebuild_seen(search *s);

/* -------------------------------------------------------------- journal */

/* Append rec (consumed), or end the process with the reason. */
void search_journal(search *s, json_t *rec);
json_t *search_config_record(const search *s);

/* A new random run id into s->run_id (a new journal). */
void search_new_run_id(search *s);
/* The run id of a journal's config record into s->run_id ("" if it has none). */
void search_take_run_id(search *s, json_t *config);
/* 0 when the journal's config record old describes this search, else -1
 * with a sentence naming the first field that differs. */
int search_config_matches(const search *s, json_t *old, char *err, size_t errsize);
/* Apply an "eval" or "screen" record to the cands; live: the record was
 * just made (an attempt of this process). 0, or -1 when it does not fit.
 * A screen record's results may carry "chosen" (the pre-selection, see
 * search_select.h): a kept genome that was not chosen becomes
 * ST_OUTRANKED; a record without it (older journals, generation 0)
 * evaluates every kept genome. */
int search_apply_eval(search *s, json_t *rec, int live);
int search_apply_screen(search *s, json_t *rec);
/* Replay records (the journal as read): cands, population, PRNG state and
 * statistics as they were after the last finished generation. The screen
 * record of the unfinished generation, if any, is left in *pending_screen
 * (borrowed from records). 0, or -1 with a sentence in err. */
int search_replay(search *s, json_t *records, json_t **pending_screen, char *err, size_t errsize);

#endif

/*
 * search_select.h — who takes part in the next generation. The population
 * holds measured genomes only; these calls rank it, let it survive
 * together with the measured offspring, and choose among the screened
 * offspring which ones are worth a real evaluation. Out of memory ends the
 * process.
 */
#ifndef FMAS_SEARCH_SELECT_H
#define FMAS_SEARCH_SELECT_H

#include "search.h"

/* Ranks and crowding distances of the population itself (s->pop_rank,
 * s->pop_crowd), for the next tournament: a function of the population
 * alone, so that a resumed run gets the same ones. */
void search_rank_population(search *s);
/* Elitist survival over the population and the measured ones of the
 * offspring off[0..noff); ranks the new population. */
void search_survive(search *s, const size_t *off, size_t noff);
/*
 * Pre-selection of a generation (after its screen record rec was applied):
 * of the kept offspring off[0..n), the budget most promising are chosen
 * for a real evaluation, the others become ST_OUTRANKED. Promise: each
 * candidate's optimistic objective vector (predicted mean moved by the
 * screen's z standard deviations toward its goal; costs exact) is sorted
 * by non-dominated fronts together with the measured population, so that a
 * candidate predicted to extend the measured front comes first; within a
 * front the larger crowding distance first, then the position. Candidates
 * without a prediction come last, in order. rec gets "chosen" on every
 * kept result, "budget", and "order": the chosen results' positions, in
 * the order they are evaluated in.
 */
void search_preselect(search *s, json_t *rec, const size_t *off, size_t n, long budget);
/* The offspring off[0..n) in the order of evaluation into out (n
 * entries): a screen record's "order" first, then the rest; returns n. */
size_t search_eval_order(json_t *rec, const size_t *off, size_t n, size_t *out);

#endif

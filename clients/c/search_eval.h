/*
 * search_eval.h — real evaluations: the cands a generation keeps (or the
 * front, for --finetune) are run by the evaluator command, up to -j at
 * once; every attempt is journaled and applied to its cand, a failed one is
 * retried up to --retries times, then the genome is dropped for good.
 *
 * A signal (INT, TERM, HUP) outside evaluations ends the process at once
 * (every record is on disk already); during evaluations it kills the
 * running process groups first. Either way exit status 130, and a rerun
 * resumes.
 */
#ifndef FMAS_SEARCH_EVAL_H
#define FMAS_SEARCH_EVAL_H

#include "search.h"

/* Install the handlers of INT, TERM and HUP described above. */
void search_eval_signals(void);
/* Evaluate the cands idx[0..n) that still need it (state ST_KEPT; with
 * finetune, the front members not fine-tuned yet, with --finetune's
 * command). Returns when each has a good attempt or has failed for good. */
void search_evaluate(search *s, const size_t *idx, size_t n, int finetune);
/* A search whose every evaluation has failed is not a search: end the
 * process (exit 1) before the generation is closed, so that a rerun with
 * a mended evaluator gives its genomes new attempts. */
void search_evaluator_sanity(search *s);
/* Draw the progress line (generation, evaluations, ETA) on a terminal; at
 * most every 0.2 s unless force. */
void search_progress(search *s, int force);

#endif

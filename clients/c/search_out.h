/*
 * search_out.h — what fmas-search leaves in --out: front.json, front.csv
 * and history.csv, and the front and hypervolume they report.
 */
#ifndef FMAS_SEARCH_OUT_H
#define FMAS_SEARCH_OUT_H

#include "search.h"

/* front[i] = 1 for the measured, feasible, non-dominated cands; returns
 * how many (front has ncands entries). */
size_t search_front(const search *s, unsigned char *front);
/* Hypervolume of the front of the cands made in generations <= gen, with
 * the normalization given (lo, hi per objective, minimized values);
 * *front_size (may be NULL) receives that front's size. */
double search_hypervolume(const search *s, int gen, const double *lo, const double *hi, size_t *front_size);
/* Write front.json, front.csv and history.csv into s->out_dir (each
 * atomically: a temporary file renamed). 0, or -1 with err. */
int search_write_outputs(const search *s, char *err, size_t errsize);

#endif

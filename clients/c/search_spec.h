/*
 * search_spec.h — what fmas-search is asked to optimize: --objectives and
 * --constraint as objective and constraint records of the search, and the
 * costs the service gave a genome read against them.
 */
#ifndef FMAS_SEARCH_SPEC_H
#define FMAS_SEARCH_SPEC_H

#include "search.h"

/* --objectives LIST and one --constraint C into s->obj and s->con; 0, or
 * -1 with a sentence in err. */
int search_parse_objectives(search *s, const char *text, char *err, size_t errsize);
int search_parse_constraint(search *s, const char *text, char *err, size_t errsize);
/* Fills dev (room for MAX_OBJ + MAX_CON) with the devices that latency
 * objectives and constraints name, once each; returns how many. */
size_t search_latency_devices(const search *s, const char **dev);
/* The value of cost objective or constraint target from a costs object:
 * 0 and *v, or -1 when absent. unit: "ms" or "" for the ms value, else
 * the device's unit (the "total"). */
int search_cost_value(json_t *costs, cost_kind cost, const char *device, const char *unit, double *v);
/* The constraint violation of costs: the relative excess over each limit,
 * summed (0: feasible). A cost the object lacks adds nothing (the screen
 * judged it). */
double search_violation(const search *s, json_t *costs);

#endif

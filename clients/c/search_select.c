/*
 * search_select.c — who takes part in the next generation: NSGA-II ranking
 * and elitist survival of the measured genomes, and the pre-selection of
 * the screened offspring worth a real evaluation (see search_select.h).
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "search_log.h"
#include "search_select.h"
#include "search_spec.h"

static void fill_objectives(const search *s, const size_t *idx, size_t n, double *obj, double *viol)
{
    for (size_t i = 0; i < n; i++) {
        memcpy(obj + i * s->nobj, s->cands[idx[i]].obj, s->nobj * sizeof *obj);
        viol[i] = s->cands[idx[i]].viol;
    }
}

/* Ranks and crowding distances of the population itself, for the next
 * tournament (a function of the population alone, so a resumed run gets
 * the same ones). */
void search_rank_population(search *s)
{
    size_t n = s->npop, *out = malloc((n ? n : 1) * sizeof *out);
    double *obj = malloc((n ? n : 1) * s->nobj * sizeof *obj), *viol = malloc((n ? n : 1) * sizeof *viol);
    double *crowd = malloc((n ? n : 1) * sizeof *crowd);
    int *rank = malloc((n ? n : 1) * sizeof *rank);
    if (!out || !obj || !viol || !crowd || !rank) {
        search_say("out of memory");
        exit(1);
    }
    fill_objectives(s, s->popv, n, obj, viol);
    if (nsga2_survive(obj, viol, n, s->nobj, n, out, rank, crowd) < 0) {
        search_say("out of memory");
        exit(1);
    }
    for (size_t j = 0; j < n; j++) {
        s->pop_rank[out[j]] = rank[j];
        s->pop_crowd[out[j]] = crowd[j];
    }
    free(out);
    free(obj);
    free(viol);
    free(crowd);
    free(rank);
}

/* Elitist survival over the population and the measured offspring. */
void search_survive(search *s, const size_t *off, size_t noff)
{
    size_t cap = s->npop + noff, n = 0;
    size_t *pool = malloc((cap ? cap : 1) * sizeof *pool), *out = malloc((cap ? cap : 1) * sizeof *out);
    double *obj = malloc((cap ? cap : 1) * s->nobj * sizeof *obj), *viol = malloc((cap ? cap : 1) * sizeof *viol);
    if (!pool || !out || !obj || !viol) {
        search_say("out of memory");
        exit(1);
    }
    for (size_t i = 0; i < s->npop; i++)
        pool[n++] = s->popv[i];
    for (size_t i = 0; i < noff; i++)
        if (s->cands[off[i]].state == ST_OK)
            pool[n++] = off[i];
    fill_objectives(s, pool, n, obj, viol);
    long kept = nsga2_survive(obj, viol, n, s->nobj, (size_t)s->pop, out, NULL, NULL);
    if (kept < 0) {
        search_say("out of memory");
        exit(1);
    }
    for (long j = 0; j < kept; j++)
        s->popv[j] = pool[out[j]];
    s->npop = (size_t)kept;
    search_rank_population(s);
    free(pool);
    free(out);
    free(obj);
    free(viol);
}

/* ------------------------------------------------------------ pre-selection */

/* The optimistic objective vector of a kept cand (minimized): a metric
 * objective is its predicted mean moved by z standard deviations toward
 * its goal (the bound the screen compared with), a cost is exact. 0, or -1
 * when a prediction or cost is missing. */
static int optimistic(const search *s, const cand *c, double z, double *obj, double *viol)
{
    for (size_t k = 0; k < s->nobj; k++) {
        const objective *o = &s->obj[k];
        double v;
        if (o->cost == COST_NONE) {
            json_t *p = json_object_get(c->predicted, o->name);
            json_t *mean = json_object_get(p, "mean"), *sd = json_object_get(p, "std");
            if (!json_is_number(mean) || !isfinite(json_number_value(mean)))
                return -1;
            double d = json_is_number(sd) && isfinite(json_number_value(sd)) ? json_number_value(sd) : 0.0;
            v = json_number_value(mean) + (o->maximize ? z : -z) * d;
        } else if (search_cost_value(c->costs, o->cost, o->device, "ms", &v)) {
            return -1;
        }
        obj[k] = o->maximize ? -v : v;
    }
    *viol = search_violation(s, c->costs);
    return 0;
}

typedef struct pick {
    size_t k;     /* position in the generation's results */
    int rank;     /* front in the joint sort (INT_MAX: no prediction) */
    double crowd; /* crowding distance within that front */
} pick;

static int pick_cmp(const void *a, const void *b)
{
    const pick *x = a, *y = b;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    if (x->crowd != y->crowd)
        return x->crowd > y->crowd ? -1 : 1;
    return (x->k > y->k) - (x->k < y->k);
}

/* The pre-selection (see search_select.h): rows of obj are the population
 * first, then the kept offspring that have an optimistic vector; the joint
 * fronts and crowding give each pick its rank. */
void search_preselect(search *s, json_t *rec, const size_t *off, size_t n, long budget)
{
    size_t np = s->npop, m = s->nobj, cap = np + n + 1;
    double z = json_is_number(json_object_get(rec, "z")) ? json_number_value(json_object_get(rec, "z")) : 0.0;
    double *obj = malloc(cap * m * sizeof *obj), *viol = malloc(cap * sizeof *viol), *dist = malloc(cap * sizeof *dist);
    int *rank = malloc(cap * sizeof *rank);
    size_t *pick_of = malloc(cap * sizeof *pick_of), *front = malloc(cap * sizeof *front);
    pick *picks = malloc((n + 1) * sizeof *picks);
    if (!obj || !viol || !dist || !rank || !pick_of || !front || !picks) {
        search_say("out of memory");
        exit(1);
    }
    fill_objectives(s, s->popv, np, obj, viol);
    size_t rows = np, npick = 0;
    for (size_t k = 0; k < n; k++) {
        const cand *c = &s->cands[off[k]];
        if (c->state != ST_KEPT)
            continue;
        picks[npick] = (pick){k, INT_MAX, 0.0};
        if (!optimistic(s, c, z, obj + rows * m, viol + rows))
            pick_of[rows++] = npick;
        npick++;
    }
    int nfronts = nsga2_sort(obj, viol, rows, m, rank);
    if (nfronts < 0) {
        search_say("out of memory");
        exit(1);
    }
    for (int f = 0; f < nfronts; f++) {
        size_t nf = 0;
        for (size_t r = 0; r < rows; r++)
            if (rank[r] == f)
                front[nf++] = r;
        if (nsga2_crowding(obj, m, front, nf, dist) < 0) {
            search_say("out of memory");
            exit(1);
        }
        for (size_t j = 0; j < nf; j++)
            if (front[j] >= np) {
                picks[pick_of[front[j]]].rank = f;
                picks[pick_of[front[j]]].crowd = dist[j];
            }
    }
    qsort(picks, npick, sizeof *picks, pick_cmp);
    size_t take = npick < (size_t)budget ? npick : (size_t)budget;
    json_t *results = json_object_get(rec, "results"), *order = json_array();
    for (size_t p = 0; p < npick; p++) {
        json_t *r = json_array_get(results, picks[p].k);
        json_object_set_new(r, "chosen", json_boolean(p < take));
        if (p < take)
            json_array_append_new(order, json_integer((json_int_t)picks[p].k));
        else
            s->cands[off[picks[p].k]].state = ST_OUTRANKED;
    }
    json_object_set_new(rec, "budget", json_integer((json_int_t)budget));
    json_object_set_new(rec, "order", order);
    free(obj);
    free(viol);
    free(dist);
    free(rank);
    free(pick_of);
    free(front);
    free(picks);
}

/* The offspring off[0..n) in the order of evaluation: a screen record's
 * "order" first (the chosen ones, most promising first), then the rest. */
size_t search_eval_order(json_t *rec, const size_t *off, size_t n, size_t *out)
{
    json_t *order = json_object_get(rec, "order");
    unsigned char *taken = calloc(n + 1, 1);
    size_t k = 0, i;
    json_t *v;
    if (!taken) {
        search_say("out of memory");
        exit(1);
    }
    json_array_foreach(order, i, v) {
        json_int_t x = json_integer_value(v);
        if (json_is_integer(v) && x >= 0 && (size_t)x < n && !taken[x]) {
            taken[x] = 1;
            out[k++] = off[x];
        }
    }
    for (size_t j = 0; j < n; j++)
        if (!taken[j])
            out[k++] = off[j];
    free(taken);
    return k;
}

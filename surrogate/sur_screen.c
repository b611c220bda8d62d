/*
 * sur_screen.c — which candidates deserve a real evaluation: constraints,
 * already observed, dominated by an observed point beyond the optimistic
 * bound, uncertain, promising (docs/api.md, the screen endpoint).
 */
#include "sur_internal.h"

#include <math.h>
#include <stdlib.h>

static int goal_ok(sur_goal g)
{
    return g == SUR_GOAL_MIN || g == SUR_GOAL_MAX;
}

static int check_problem(const sur_screen_problem *p)
{
    if (!p || !(p->z >= 0) || !isfinite(p->z))
        return SUR_EINVAL;
    if (p->n_cost_objectives && (!p->cost_objective || !p->cost_goal))
        return SUR_EINVAL;
    for (size_t k = 0; k < p->n_cost_objectives; k++)
        if (p->cost_objective[k] >= p->n_costs || !goal_ok(p->cost_goal[k]))
            return SUR_EINVAL;
    if (p->n_metrics && !p->metric_goal)
        return SUR_EINVAL;
    for (size_t m = 0; m < p->n_metrics; m++)
        if (!goal_ok(p->metric_goal[m]))
            return SUR_EINVAL;
    if (p->n_constraints && !p->constraints)
        return SUR_EINVAL;
    for (size_t c = 0; c < p->n_constraints; c++)
        if (p->constraints[c].cost >= p->n_costs ||
            isnan(p->constraints[c].max))
            return SUR_EINVAL;
    if (p->n_candidates && p->n_costs && !p->cand_cost)
        return SUR_EINVAL;
    if (p->n_observed && p->n_costs && !p->obs_cost)
        return SUR_EINVAL;
    if (p->n_observed && p->n_metrics && !p->obs_metric)
        return SUR_EINVAL;
    if ((p->cand_mean == NULL) != (p->cand_std == NULL))
        return SUR_EINVAL;
    for (size_t i = 0; i < p->n_candidates * p->n_costs; i++)
        if (isnan(p->cand_cost[i]))
            return SUR_EINVAL;
    for (size_t i = 0; i < p->n_observed * p->n_costs; i++)
        if (isnan(p->obs_cost[i]))
            return SUR_EINVAL;
    if (p->cand_mean)
        for (size_t i = 0; i < p->n_candidates * p->n_metrics; i++)
            if (!isnan(p->cand_mean[i]) &&
                (!isfinite(p->cand_mean[i]) || !isfinite(p->cand_std[i]) ||
                 p->cand_std[i] < 0))
                return SUR_EINVAL;
    return SUR_OK;
}

/* 1 when the observed cost o is certainly no worse than the candidate's c
 * for goal g (strictly better when strict), given which of them are only
 * lower bounds: for min the observed value must be exact (its truth could
 * be higher), for max the candidate's must be (its truth could be
 * higher). */
static int cost_no_worse(sur_goal g, double o, int o_lower, double c,
                         int c_lower, int strict)
{
    if (g == SUR_GOAL_MIN)
        return !o_lower && (strict ? o < c : o <= c);
    return !c_lower && (strict ? o > c : o >= c);
}

/* Observed j versus candidate i on the cost objectives: -1 if j is worse
 * somewhere (or cannot be shown no worse), else 1 if strictly better
 * somewhere, else 0. */
static int costs_compare(const sur_screen_problem *p, size_t i, size_t j)
{
    const double *c = p->cand_cost + i * p->n_costs;
    const double *o = p->obs_cost + j * p->n_costs;
    const unsigned char *cl =
        p->cand_cost_lower ? p->cand_cost_lower + i * p->n_costs : NULL;
    const unsigned char *ol =
        p->obs_cost_lower ? p->obs_cost_lower + j * p->n_costs : NULL;
    int strict = 0;
    for (size_t k = 0; k < p->n_cost_objectives; k++) {
        size_t q = p->cost_objective[k];
        int olq = ol ? ol[q] != 0 : 0, clq = cl ? cl[q] != 0 : 0;
        if (!cost_no_worse(p->cost_goal[k], o[q], olq, c[q], clq, 0))
            return -1;
        if (cost_no_worse(p->cost_goal[k], o[q], olq, c[q], clq, 1))
            strict = 1;
    }
    return strict;
}

/* 1 when observed j's metrics strictly beat candidate i's bound
 * mean +- zz * std on every metric (zz = z, or 0 for the mean alone). */
static int metrics_beat(const sur_screen_problem *p, size_t i, size_t j,
                        double zz)
{
    for (size_t m = 0; m < p->n_metrics; m++) {
        double ob = p->obs_metric[j * p->n_metrics + m];
        double mu = p->cand_mean[i * p->n_metrics + m];
        double sd = p->cand_std[i * p->n_metrics + m];
        if (isnan(ob))
            return 0;
        if (p->metric_goal[m] == SUR_GOAL_MAX) {
            if (!(ob > mu + zz * sd))
                return 0;
        } else {
            if (!(ob < mu - zz * sd))
                return 0;
        }
    }
    return 1;
}

static int has_predictions(const sur_screen_problem *p, size_t i)
{
    if (p->n_metrics == 0)
        return 1;
    if (!p->cand_mean)
        return 0;
    for (size_t m = 0; m < p->n_metrics; m++)
        if (isnan(p->cand_mean[i * p->n_metrics + m]))
            return 0;
    return 1;
}

int sur_screen(const sur_screen_problem *p, sur_verdict *out)
{
    int rc = check_problem(p);
    if (rc)
        return rc;
    if (p->n_candidates && !out)
        return SUR_EINVAL;
    for (size_t i = 0; i < p->n_candidates; i++) {
        sur_verdict *v = &out[i];
        v->dominated_by = -1;
        v->constraint = -1;

        const double *c = p->cand_cost + i * p->n_costs;
        for (size_t k = 0; k < p->n_constraints; k++) {
            /* A lower bound above the limit is a certain violation; an
             * exact value is its own bound. */
            if (c[p->constraints[k].cost] > p->constraints[k].max) {
                v->constraint = (long)k;
                break;
            }
        }
        if (v->constraint >= 0) {
            v->keep = 0;
            v->reason = SUR_REASON_CONSTRAINT;
            continue;
        }
        if (p->cand_observed && p->cand_observed[i]) {
            v->keep = 0;
            v->reason = SUR_REASON_ALREADY_OBSERVED;
            continue;
        }
        if (!has_predictions(p, i)) {
            /* No model yet: nothing is pruned as dominated. */
            v->keep = 1;
            v->reason = SUR_REASON_UNCERTAIN;
            continue;
        }
        int by_mean = 0;
        for (size_t j = 0; j < p->n_observed; j++) {
            int cc = costs_compare(p, i, j);
            if (cc < 0)
                continue;
            if (p->n_metrics == 0) {
                if (cc > 0) {
                    v->dominated_by = (long)j;
                    break;
                }
                continue;
            }
            if (metrics_beat(p, i, j, p->z)) {
                v->dominated_by = (long)j;
                break;
            }
            if (!by_mean && metrics_beat(p, i, j, 0.0))
                by_mean = 1;
        }
        if (v->dominated_by >= 0) {
            v->keep = 0;
            v->reason = SUR_REASON_DOMINATED;
        } else {
            v->keep = 1;
            v->reason = by_mean ? SUR_REASON_UNCERTAIN : SUR_REASON_PROMISING;
        }
    }
    return SUR_OK;
}

/*
 * test_sur_screen.c — screening: the order and logic of the reasons
 * (constraint, already_observed, dominated with dominated_by, uncertain,
 * promising), lower-bound costs, no-model candidates, bad input; then
 * seeded trials on a synthetic space with a known Pareto front, where the
 * surrogate is fitted on the observations: true Pareto-optimal genomes are
 * rarely pruned, and many of the others are.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <math.h>

#include "sur.h"
#include "sur_testing.h"

/* ------------------------------------------------------- reason logic */

/* Two costs (0: macs, 1: latency), both min objectives; one metric (max);
 * latency <= 10 as a constraint. */
static const size_t two_costs[] = {0, 1};
static const sur_goal two_min[] = {SUR_GOAL_MIN, SUR_GOAL_MIN};
static const sur_goal one_max[] = {SUR_GOAL_MAX};
static const sur_constraint lat_10[] = {{1, 10.0}};

static sur_screen_problem base_problem(void)
{
    sur_screen_problem p;
    memset(&p, 0, sizeof p);
    p.n_costs = 2;
    p.n_metrics = 1;
    p.n_cost_objectives = 2;
    p.cost_objective = two_costs;
    p.cost_goal = two_min;
    p.metric_goal = one_max;
    p.n_constraints = 1;
    p.constraints = lat_10;
    p.z = 1.645;
    return p;
}

static void test_reason_order(void **state)
{
    (void)state;
    /* observed: 0 cheap and good, 1 cheap and mediocre, 2 costly and best */
    double obs_cost[] = {1, 2, /**/ 1, 1, /**/ 5, 9};
    double obs_metric[] = {0.70, 0.50, 0.90};
    /* candidates */
    double cand_cost[] = {
        3, 12, /* 0: violates latency; also observed and dominated */
        3, 4,  /* 1: already observed (and would be dominated) */
        3, 4,  /* 2: dominated by obs 0: 0.70 > 0.60 + 1.645*0.05 */
        3, 4,  /* 3: mean 0.60 < 0.70 < 0.60 + 1.645*0.1: uncertain */
        0.5, 4, /* 4: cheaper than every observation in macs: promising */
        3, 4,  /* 5: predicted better than every cheaper observation */
        6, 9,  /* 6: dominated by obs 0 and obs 2; names the lowest index */
    };
    double mean[] = {0.1, 0.1, 0.60, 0.60, 0.1, 0.80, 0.40};
    double std[] = {0.0, 0.0, 0.05, 0.10, 0.0, 0.01, 0.05};
    unsigned char observed[] = {1, 1, 0, 0, 0, 0, 0};
    sur_screen_problem p = base_problem();
    p.n_candidates = 7;
    p.cand_cost = cand_cost;
    p.cand_mean = mean;
    p.cand_std = std;
    p.cand_observed = observed;
    p.n_observed = 3;
    p.obs_cost = obs_cost;
    p.obs_metric = obs_metric;
    sur_verdict v[7];
    assert_int_equal(sur_screen(&p, v), 0);

    assert_int_equal(v[0].reason, SUR_REASON_CONSTRAINT);
    assert_int_equal(v[0].keep, 0);
    assert_int_equal(v[0].constraint, 0);
    assert_int_equal(v[0].dominated_by, -1);

    assert_int_equal(v[1].reason, SUR_REASON_ALREADY_OBSERVED);
    assert_int_equal(v[1].keep, 0);
    assert_int_equal(v[1].dominated_by, -1);
    assert_int_equal(v[1].constraint, -1);

    assert_int_equal(v[2].reason, SUR_REASON_DOMINATED);
    assert_int_equal(v[2].keep, 0);
    assert_int_equal(v[2].dominated_by, 0);

    assert_int_equal(v[3].reason, SUR_REASON_UNCERTAIN);
    assert_int_equal(v[3].keep, 1);
    assert_int_equal(v[3].dominated_by, -1);

    assert_int_equal(v[4].reason, SUR_REASON_PROMISING);
    assert_int_equal(v[4].keep, 1);

    assert_int_equal(v[5].reason, SUR_REASON_PROMISING);
    assert_int_equal(v[5].keep, 1);

    assert_int_equal(v[6].reason, SUR_REASON_DOMINATED);
    assert_int_equal(v[6].dominated_by, 0);

    /* At z = 0 the uncertain one is dominated too (by its mean). */
    p.z = 0;
    assert_int_equal(sur_screen(&p, v), 0);
    assert_int_equal(v[3].reason, SUR_REASON_DOMINATED);
    assert_int_equal(v[3].dominated_by, 0);
    /* A larger z keeps more. */
    p.z = 3.0;
    assert_int_equal(sur_screen(&p, v), 0);
    assert_int_equal(v[2].reason, SUR_REASON_UNCERTAIN);
    assert_int_equal(v[6].reason, SUR_REASON_DOMINATED);
}

/* With too few observations there is no model: every metric prediction is
 * missing, and nothing is pruned as dominated, however good the observed
 * points look. Constraints and repeats are still pruned. */
static void test_no_model(void **state)
{
    (void)state;
    double obs_cost[] = {1, 1};
    double obs_metric[] = {0.99};
    double cand_cost[] = {5, 5, /**/ 5, 50, /**/ 5, 5};
    unsigned char observed[] = {0, 0, 1};
    sur_screen_problem p = base_problem();
    p.n_candidates = 3;
    p.cand_cost = cand_cost;
    p.cand_observed = observed;
    p.n_observed = 1;
    p.obs_cost = obs_cost;
    p.obs_metric = obs_metric;
    sur_verdict v[3];
    /* no predictions at all */
    assert_int_equal(sur_screen(&p, v), 0);
    assert_int_equal(v[0].reason, SUR_REASON_UNCERTAIN);
    assert_int_equal(v[0].keep, 1);
    assert_int_equal(v[1].reason, SUR_REASON_CONSTRAINT);
    assert_int_equal(v[2].reason, SUR_REASON_ALREADY_OBSERVED);
    /* predictions present but NaN (this metric has no model yet) */
    double mean[] = {NAN, NAN, NAN}, std[] = {0, 0, 0};
    p.cand_mean = mean;
    p.cand_std = std;
    assert_int_equal(sur_screen(&p, v), 0);
    assert_int_equal(v[0].reason, SUR_REASON_UNCERTAIN);
    /* two metrics, one without a model: still nothing dominated */
    sur_goal goals[] = {SUR_GOAL_MAX, SUR_GOAL_MIN};
    double obs2[] = {0.99, 0.01};
    double mean2[] = {0.1, NAN, 0.1, NAN, 0.1, NAN};
    double std2[] = {0, 0, 0, 0, 0, 0};
    p.n_metrics = 2;
    p.metric_goal = goals;
    p.obs_metric = obs2;
    p.cand_mean = mean2;
    p.cand_std = std2;
    assert_int_equal(sur_screen(&p, v), 0);
    assert_int_equal(v[0].reason, SUR_REASON_UNCERTAIN);
    /* and with both modeled it is dominated */
    mean2[1] = 0.5;
    assert_int_equal(sur_screen(&p, v), 0);
    assert_int_equal(v[0].reason, SUR_REASON_DOMINATED);
    /* no observations: nothing to be dominated by */
    p.n_observed = 0;
    assert_int_equal(sur_screen(&p, v), 0);
    assert_int_equal(v[0].reason, SUR_REASON_PROMISING);
}

/* Lower bounds (latency with missing LUT rows). */
static void test_lower_bounds(void **state)
{
    (void)state;
    double obs_cost[] = {1, 2, /**/ 1, 2};
    unsigned char obs_lower[] = {0, 0, /**/ 0, 1}; /* obs 1: latency >= 2 */
    double obs_metric[] = {0.9, 0.95};
    double cand_cost[] = {
        3, 11, /* 0: a lower bound above the limit: certain violation */
        3, 9,  /* 1: a lower bound under the limit: not a violation; and a
                * lower bound can still be dominated (truth only higher) */
        3, 1.5, /* 2: exact 1.5 < obs 0's 2; obs 1's latency is only a
                 * bound, so it cannot be said to be no worse */
    };
    unsigned char cand_lower[] = {0, 1, /**/ 0, 1, /**/ 0, 0};
    double mean[] = {0.5, 0.5, 0.5}, std[] = {0.01, 0.01, 0.01};
    sur_screen_problem p = base_problem();
    p.n_candidates = 3;
    p.cand_cost = cand_cost;
    p.cand_cost_lower = cand_lower;
    p.cand_mean = mean;
    p.cand_std = std;
    p.n_observed = 2;
    p.obs_cost = obs_cost;
    p.obs_cost_lower = obs_lower;
    p.obs_metric = obs_metric;
    sur_verdict v[3];
    assert_int_equal(sur_screen(&p, v), 0);
    assert_int_equal(v[0].reason, SUR_REASON_CONSTRAINT);
    assert_int_equal(v[1].reason, SUR_REASON_DOMINATED);
    assert_int_equal(v[1].dominated_by, 0);
    assert_int_equal(v[2].reason, SUR_REASON_PROMISING);

    /* For a max-goal cost the roles swap: the candidate's bound is what
     * cannot be beaten for sure. */
    sur_goal max_lat[] = {SUR_GOAL_MIN, SUR_GOAL_MAX};
    p.cost_goal = max_lat;
    p.n_constraints = 0;
    double cc2[] = {3, 1.0, /**/ 3, 1.0};
    unsigned char cl2[] = {0, 1, /**/ 0, 0};
    unsigned char ol2[] = {0, 1, /**/ 0, 1};
    p.cand_cost = cc2;
    p.cand_cost_lower = cl2;
    p.obs_cost_lower = ol2;
    p.n_candidates = 2;
    assert_int_equal(sur_screen(&p, v), 0);
    assert_int_equal(v[0].reason, SUR_REASON_PROMISING);
    assert_int_equal(v[1].reason, SUR_REASON_DOMINATED);
    assert_int_equal(v[1].dominated_by, 0);
}

/* A min-goal metric, equal costs, a cost that is only a constraint, and
 * screening on costs alone. */
static void test_goals_and_ties(void **state)
{
    (void)state;
    /* costs: 0 macs (objective), 1 params (constraint only) */
    static const size_t macs_only[] = {0};
    static const sur_goal min1[] = {SUR_GOAL_MIN};
    static const sur_constraint params_100[] = {{1, 100}};
    double obs_cost[] = {10, 500};
    double obs_metric[] = {0.20}; /* an error rate: lower is better */
    double cand_cost[] = {10, 50, /**/ 10, 50, /**/ 9, 50};
    double mean[] = {0.30, 0.25, 0.30}, std[] = {0.02, 0.05, 0.02};
    sur_screen_problem p;
    memset(&p, 0, sizeof p);
    p.n_costs = 2;
    p.n_metrics = 1;
    p.n_cost_objectives = 1;
    p.cost_objective = macs_only;
    p.cost_goal = min1;
    p.metric_goal = min1;
    p.n_constraints = 1;
    p.constraints = params_100;
    p.z = 1.645;
    p.n_candidates = 3;
    p.cand_cost = cand_cost;
    p.cand_mean = mean;
    p.cand_std = std;
    p.n_observed = 1;
    p.obs_cost = obs_cost;
    p.obs_metric = obs_metric;
    sur_verdict v[3];
    assert_int_equal(sur_screen(&p, v), 0);
    /* equal macs, 0.20 < 0.30 - 1.645 * 0.02: dominated; the observed
     * point's params (a constraint, not an objective) do not matter */
    assert_int_equal(v[0].reason, SUR_REASON_DOMINATED);
    /* 0.25 - 1.645 * 0.05 = 0.168 < 0.20 < 0.25: uncertain */
    assert_int_equal(v[1].reason, SUR_REASON_UNCERTAIN);
    /* cheaper than the observed point: promising */
    assert_int_equal(v[2].reason, SUR_REASON_PROMISING);

    /* costs alone (no metric objective): equal costs are not dominance,
     * strictly cheaper is */
    p.n_metrics = 0;
    p.cand_mean = p.cand_std = NULL;
    double cc[] = {10, 50, /**/ 11, 50};
    p.cand_cost = cc;
    p.n_candidates = 2;
    assert_int_equal(sur_screen(&p, v), 0);
    assert_int_equal(v[0].reason, SUR_REASON_PROMISING);
    assert_int_equal(v[1].reason, SUR_REASON_DOMINATED);
    assert_int_equal(v[1].dominated_by, 0);

    /* an observed point without this metric cannot dominate on it */
    p.n_metrics = 1;
    double nan_metric[] = {NAN};
    p.obs_metric = nan_metric;
    p.cand_mean = mean;
    p.cand_std = std;
    p.cand_cost = cand_cost;
    p.n_candidates = 3;
    assert_int_equal(sur_screen(&p, v), 0);
    assert_int_equal(v[0].reason, SUR_REASON_PROMISING);
}

static void test_bad_problems(void **state)
{
    (void)state;
    double obs_cost[] = {1, 1}, obs_metric[] = {0.5};
    double cand_cost[] = {2, 2}, mean[] = {0.4}, std[] = {0.1};
    sur_screen_problem good = base_problem();
    good.n_candidates = 1;
    good.cand_cost = cand_cost;
    good.cand_mean = mean;
    good.cand_std = std;
    good.n_observed = 1;
    good.obs_cost = obs_cost;
    good.obs_metric = obs_metric;
    sur_verdict v[1];
    assert_int_equal(sur_screen(&good, v), 0);
    assert_int_equal(sur_screen(NULL, v), SUR_EINVAL);
    assert_int_equal(sur_screen(&good, NULL), SUR_EINVAL);

    sur_screen_problem p = good;
    p.z = -1;
    assert_int_equal(sur_screen(&p, v), SUR_EINVAL);
    p = good;
    p.z = INFINITY;
    assert_int_equal(sur_screen(&p, v), SUR_EINVAL);
    p = good;
    static const size_t bad_index[] = {0, 2};
    p.cost_objective = bad_index;
    assert_int_equal(sur_screen(&p, v), SUR_EINVAL);
    p = good;
    static const sur_constraint bad_c[] = {{5, 1.0}};
    p.constraints = bad_c;
    assert_int_equal(sur_screen(&p, v), SUR_EINVAL);
    p = good;
    static const sur_goal bad_goal[] = {(sur_goal)7};
    p.metric_goal = bad_goal;
    assert_int_equal(sur_screen(&p, v), SUR_EINVAL);
    p = good;
    double nan_cost[] = {NAN, 2};
    p.cand_cost = nan_cost;
    assert_int_equal(sur_screen(&p, v), SUR_EINVAL);
    p = good;
    double neg_std[] = {-0.1};
    p.cand_std = neg_std;
    assert_int_equal(sur_screen(&p, v), SUR_EINVAL);
    p = good;
    p.cand_std = NULL; /* mean without std */
    assert_int_equal(sur_screen(&p, v), SUR_EINVAL);
    p = good;
    p.obs_metric = NULL;
    assert_int_equal(sur_screen(&p, v), SUR_EINVAL);
    /* nothing to screen is fine */
    p = good;
    p.n_candidates = 0;
    assert_int_equal(sur_screen(&p, NULL), 0);
}

/* ------------------------------------------- trials with a known front */

/*
 * The synthetic space: 6 genes of 4 ordered choices (4096 genomes), gene
 * value u in {0, 1/3, 2/3, 1}. Two costs, linear in u with different
 * weights, and an accuracy that saturates in a weighted capacity whose
 * weights disagree with the costs': genes 3..5 cost much and give little.
 *   macs    = 1 + sum_j A_j u_j
 *   latency = 1 + sum_j B_j u_j
 *   miou    = 0.75 (1 - exp(-2.5 cap)) + 0.02 u0 u1,  cap = sum W_j u_j / sum W
 * Observations add N(0, 0.01^2) noise to miou.
 */
#define GENES 6
#define SPACE 4096
static const double W[GENES] = {1.0, 0.8, 0.6, 0.25, 0.1, 0.05};
static const double A[GENES] = {0.3, 0.5, 0.3, 1.0, 0.8, 0.6};
static const double B[GENES] = {0.5, 0.2, 0.4, 0.6, 1.0, 0.9};
#define NOISE 0.01

static void genome_of(int id, double *u)
{
    for (int j = 0; j < GENES; j++) {
        u[j] = (double)(id % 4) / 3.0;
        id /= 4;
    }
}

static void true_point(int id, double *cost, double *miou)
{
    double u[GENES], cap = 0, wsum = 0;
    genome_of(id, u);
    cost[0] = cost[1] = 1.0;
    for (int j = 0; j < GENES; j++) {
        cost[0] += A[j] * u[j];
        cost[1] += B[j] * u[j];
        cap += W[j] * u[j];
        wsum += W[j];
    }
    cap /= wsum;
    *miou = 0.75 * (1.0 - exp(-2.5 * cap)) + 0.02 * u[0] * u[1];
}

/* Pareto-optimal over the whole space: no genome is no worse in both costs
 * and the metric and better in one. */
static void true_front(unsigned char *optimal)
{
    static double cost[SPACE][2], miou[SPACE];
    for (int i = 0; i < SPACE; i++)
        true_point(i, cost[i], &miou[i]);
    for (int i = 0; i < SPACE; i++) {
        optimal[i] = 1;
        for (int j = 0; j < SPACE && optimal[i]; j++) {
            if (j == i)
                continue;
            int no_worse = cost[j][0] <= cost[i][0] &&
                           cost[j][1] <= cost[i][1] && miou[j] >= miou[i];
            int better = cost[j][0] < cost[i][0] || cost[j][1] < cost[i][1] ||
                         miou[j] > miou[i];
            if (no_worse && better)
                optimal[i] = 0;
        }
    }
}

static void test_trials_known_front(void **state)
{
    (void)state;
    enum { TRIALS = 100, NOBS = 50, NCAND = 300 };
    static unsigned char optimal[SPACE];
    true_front(optimal);
    int n_opt = 0;
    for (int i = 0; i < SPACE; i++)
        n_opt += optimal[i];
    assert_true(n_opt > 20 && n_opt < SPACE / 4);

    double z;
    assert_int_equal(sur_confidence_z(0.95, &z), 0);
    static double ox[NOBS * GENES], oy[NOBS], ocost[NOBS * 2];
    static double cx[NCAND * GENES], ccost[NCAND * 2], cmean[NCAND],
        cstd[NCAND];
    static int cid[NCAND];
    static unsigned char used[SPACE];
    sur_verdict v[NCAND];
    int trials_with_optimal_pruned = 0;
    long nonopt = 0, nonopt_pruned = 0, opt_seen = 0;
    for (int t = 0; t < TRIALS; t++) {
        uint64_t s = 1000 + (uint64_t)t;
        memset(used, 0, sizeof used);
        /* 50 distinct observed genomes, one noisy observation each */
        for (int i = 0; i < NOBS; i++) {
            int id;
            do
                id = (int)(rng_next(&s) % SPACE);
            while (used[id]);
            used[id] = 1;
            double m;
            genome_of(id, ox + i * GENES);
            true_point(id, ocost + i * 2, &m);
            oy[i] = m + NOISE * rng_normal(&s);
        }
        /* 300 distinct candidates not yet observed */
        for (int i = 0; i < NCAND; i++) {
            int id;
            do
                id = (int)(rng_next(&s) % SPACE);
            while (used[id]);
            used[id] = 1;
            cid[i] = id;
            double m;
            genome_of(id, cx + i * GENES);
            true_point(id, ccost + i * 2, &m);
        }
        /* the surrogate: the best model by CV, fitted on the observations
         * (the genome features only, as for a categorical space) */
        sur_options opt;
        sur_options_default(&opt);
        opt.seed = (uint64_t)t + 1;
        sur_data data = {NOBS, GENES, ox, oy, NULL};
        sur_model *model = NULL;
        assert_int_equal(sur_fit_best(&data, &opt, &model, NULL), 0);
        assert_int_equal(sur_predict(model, cx, NCAND, cmean, cstd, NULL), 0);
        sur_model_free(model);

        sur_screen_problem p;
        memset(&p, 0, sizeof p);
        p.n_costs = 2;
        p.n_metrics = 1;
        p.n_cost_objectives = 2;
        p.cost_objective = two_costs;
        p.cost_goal = two_min;
        p.metric_goal = one_max;
        p.z = z;
        p.n_candidates = NCAND;
        p.cand_cost = ccost;
        p.cand_mean = cmean;
        p.cand_std = cstd;
        p.n_observed = NOBS;
        p.obs_cost = ocost;
        p.obs_metric = oy;
        assert_int_equal(sur_screen(&p, v), 0);

        int pruned_opt = 0;
        for (int i = 0; i < NCAND; i++) {
            if (optimal[cid[i]]) {
                opt_seen++;
                pruned_opt += !v[i].keep;
            } else {
                nonopt++;
                nonopt_pruned += !v[i].keep;
            }
            if (!v[i].keep)
                assert_int_equal(v[i].reason, SUR_REASON_DOMINATED);
        }
        trials_with_optimal_pruned += pruned_opt > 0;
    }
    double share = (double)nonopt_pruned / (double)nonopt;
    print_message("front %d of %d genomes; %ld optimal candidates seen; "
                  "trials pruning an optimal one: %d of %d; non-optimal "
                  "pruned: %.3f\n",
                  n_opt, SPACE, opt_seen, trials_with_optimal_pruned, TRIALS,
                  share);
    assert_true(opt_seen >= TRIALS); /* the test does test something */
    assert_true(trials_with_optimal_pruned <= TRIALS / 20);
    assert_true(share >= 1.0 / 3.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reason_order),
        cmocka_unit_test(test_no_model),
        cmocka_unit_test(test_lower_bounds),
        cmocka_unit_test(test_goals_and_ties),
        cmocka_unit_test(test_bad_problems),
        cmocka_unit_test(test_trials_known_front),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

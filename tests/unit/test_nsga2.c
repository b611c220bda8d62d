/*
 * test_nsga2.c — property tests of the NSGA-II pieces (clients/c/nsga2.c)
 * against brute-force references on random points drawn from a few values,
 * so that ties (equal objectives, equal whole points) are common:
 * - non-dominated sort vs peeling the non-dominated set off repeatedly;
 * - crowding distance vs a definition computed by counting positions;
 * - elitist survival: whole fronts first, then the most crowded-apart;
 * - hypervolume vs inclusion-exclusion over all subsets;
 * - the PRNG (save/load, bounds), the genome set, and offspring that are
 *   never a genome seen before and always in canonical form.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nsga2.h"

#define ROUNDS 400
#define MAXN 64
#define MAXM 4

/* Random points with values in 0..levels-1 (ties on purpose); viol, when
 * asked for, is 0 for about half the points. */
static void random_points(nsga2_rng *r, double *obj, double *viol, size_t n, size_t m, uint32_t levels)
{
    for (size_t i = 0; i < n * m; i++)
        obj[i] = (double)nsga2_rng_below(r, levels);
    if (viol)
        for (size_t i = 0; i < n; i++)
            viol[i] = nsga2_rng_below(r, 2) ? 0.0 : (double)nsga2_rng_below(r, 3);
}

/* ------------------------------------------------------- brute references */

static int ref_dominates(const double *a, double va, const double *b, double vb, size_t m)
{
    if (va > 0 && vb > 0)
        return va < vb;
    if (va > 0)
        return 0;
    if (vb > 0)
        return 1;
    int all_le = 1, one_lt = 0;
    for (size_t k = 0; k < m; k++) {
        all_le &= a[k] <= b[k];
        one_lt |= a[k] < b[k];
    }
    return all_le && one_lt;
}

/* Ranks by peeling: the points no remaining point dominates form the next
 * front. */
static int ref_sort(const double *obj, const double *viol, size_t n, size_t m, int *rank)
{
    int removed[MAXN] = {0}, fronts = 0;
    size_t left = n;
    while (left) {
        int in_front[MAXN] = {0};
        for (size_t i = 0; i < n; i++) {
            if (removed[i])
                continue;
            in_front[i] = 1;
            for (size_t j = 0; j < n; j++)
                if (!removed[j] && j != i &&
                    ref_dominates(obj + j * m, viol ? viol[j] : 0, obj + i * m, viol ? viol[i] : 0, m))
                    in_front[i] = 0;
        }
        for (size_t i = 0; i < n; i++)
            if (in_front[i]) {
                rank[i] = fronts;
                removed[i] = 1;
                left--;
            }
        fronts++;
    }
    return fronts;
}

/* Position of member j in the order (value, position) of objective o. */
static size_t ref_position(const double *obj, size_t m, const size_t *idx, size_t k, size_t j, size_t o)
{
    size_t pos = 0;
    double v = obj[idx[j] * m + o];
    for (size_t l = 0; l < k; l++) {
        double w = obj[idx[l] * m + o];
        pos += w < v || (w == v && l < j);
    }
    return pos;
}

static void ref_crowding(const double *obj, size_t m, const size_t *idx, size_t k, double *dist)
{
    for (size_t j = 0; j < k; j++)
        dist[j] = 0.0;
    for (size_t o = 0; o < m; o++) {
        size_t at[MAXN];
        double lo = INFINITY, hi = -INFINITY;
        for (size_t j = 0; j < k; j++) {
            at[ref_position(obj, m, idx, k, j, o)] = j;
            lo = fmin(lo, obj[idx[j] * m + o]);
            hi = fmax(hi, obj[idx[j] * m + o]);
        }
        for (size_t p = 0; p < k; p++) {
            size_t j = at[p];
            if (p == 0 || p == k - 1)
                dist[j] = INFINITY;
            else if (hi > lo && dist[j] != INFINITY)
                dist[j] += (obj[idx[at[p + 1]] * m + o] - obj[idx[at[p - 1]] * m + o]) / (hi - lo);
        }
    }
}

/* Hypervolume by inclusion-exclusion: the union of boxes [p, ref]. */
static double ref_hypervolume(const double *pts, size_t n, size_t m, const double *ref)
{
    double total = 0.0;
    for (uint32_t mask = 1; mask < (1u << n); mask++) {
        double corner[MAXM], box = 1.0;
        int bits = 0;
        for (size_t o = 0; o < m; o++)
            corner[o] = -INFINITY;
        for (size_t i = 0; i < n; i++)
            if (mask & (1u << i)) {
                bits++;
                for (size_t o = 0; o < m; o++)
                    corner[o] = fmax(corner[o], pts[i * m + o]);
            }
        for (size_t o = 0; o < m; o++)
            box *= fmax(0.0, ref[o] - corner[o]);
        total += (bits % 2 ? 1.0 : -1.0) * box;
    }
    return total;
}

/* ------------------------------------------------------------------ tests */

static void test_sort_matches_peeling(void **state)
{
    (void)state;
    nsga2_rng r;
    nsga2_rng_seed(&r, 1);
    double obj[MAXN * MAXM], viol[MAXN];
    int rank[MAXN], want[MAXN];
    for (int round = 0; round < ROUNDS; round++) {
        size_t n = 1 + nsga2_rng_below(&r, MAXN), m = 1 + nsga2_rng_below(&r, MAXM);
        int constrained = round % 3 == 0;
        random_points(&r, obj, constrained ? viol : NULL, n, m, 2 + nsga2_rng_below(&r, 5));
        int fronts = nsga2_sort(obj, constrained ? viol : NULL, n, m, rank);
        int ref_fronts = ref_sort(obj, constrained ? viol : NULL, n, m, want);
        assert_int_equal(fronts, ref_fronts);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(rank[i], want[i]);
    }
}

static void test_sort_edge_cases(void **state)
{
    (void)state;
    int rank[4] = {-1, -1, -1, -1};
    assert_int_equal(nsga2_sort(NULL, NULL, 0, 2, rank), 0);
    /* Equal points share a front; a point equal in one objective and worse
     * in the other is dominated. */
    double obj[] = {1, 1, 1, 1, 1, 2, 0, 5};
    assert_int_equal(nsga2_sort(obj, NULL, 4, 2, rank), 2);
    assert_int_equal(rank[0], 0);
    assert_int_equal(rank[1], 0);
    assert_int_equal(rank[2], 1);
    assert_int_equal(rank[3], 0);
    /* An infeasible point is behind every feasible one, however good. */
    double viol[] = {0, 0, 0, 0.5};
    double obj2[] = {1, 1, 2, 2, 3, 3, -9, -9};
    assert_int_equal(nsga2_sort(obj2, viol, 4, 2, rank), 4);
    assert_int_equal(rank[3], 3);
}

static void test_crowding_matches_definition(void **state)
{
    (void)state;
    nsga2_rng r;
    nsga2_rng_seed(&r, 2);
    double obj[MAXN * MAXM], dist[MAXN], want[MAXN];
    size_t idx[MAXN];
    for (int round = 0; round < ROUNDS; round++) {
        size_t n = 1 + nsga2_rng_below(&r, MAXN), m = 1 + nsga2_rng_below(&r, MAXM);
        random_points(&r, obj, NULL, n, m, 2 + nsga2_rng_below(&r, 6));
        /* A random subset in random order, as a front would be given. */
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (nsga2_rng_below(&r, 3))
                idx[k++] = i;
        for (size_t i = k; i > 1; i--) {
            size_t j = nsga2_rng_below(&r, (uint32_t)i), t = idx[i - 1];
            idx[i - 1] = idx[j];
            idx[j] = t;
        }
        assert_int_equal(nsga2_crowding(obj, m, idx, k, dist), 0);
        ref_crowding(obj, m, idx, k, want);
        for (size_t j = 0; j < k; j++) {
            if (isinf(want[j]))
                assert_true(isinf(dist[j]));
            else
                assert_true(fabs(dist[j] - want[j]) <= 1e-12 * (1 + fabs(want[j])));
        }
    }
}

static void test_crowding_small_fronts(void **state)
{
    (void)state;
    double obj[] = {0, 4, 1, 3, 2, 2, 4, 0};
    size_t idx[] = {0, 1, 2, 3};
    double d[4];
    assert_int_equal(nsga2_crowding(obj, 2, idx, 4, d), 0);
    assert_true(isinf(d[0]) && isinf(d[3]));
    /* Per objective, (next - previous) / span: 2/4 + 2/4 and 3/4 + 3/4. */
    assert_true(fabs(d[1] - (2.0 / 4 + 2.0 / 4)) < 1e-12);
    assert_true(fabs(d[2] - (3.0 / 4 + 3.0 / 4)) < 1e-12);
    assert_int_equal(nsga2_crowding(obj, 2, idx, 1, d), 0);
    assert_true(isinf(d[0]));
    assert_int_equal(nsga2_crowding(obj, 2, idx, 2, d), 0);
    assert_true(isinf(d[0]) && isinf(d[1]));
}

static void test_survival_is_elitist(void **state)
{
    (void)state;
    nsga2_rng r;
    nsga2_rng_seed(&r, 3);
    double obj[MAXN * MAXM], viol[MAXN], crowd[MAXN], dist[MAXN];
    int rank[MAXN], ref_rank[MAXN];
    size_t out[MAXN], members[MAXN];
    for (int round = 0; round < ROUNDS; round++) {
        size_t n = 1 + nsga2_rng_below(&r, MAXN), m = 1 + nsga2_rng_below(&r, MAXM);
        size_t keep = nsga2_rng_below(&r, (uint32_t)n + 4);
        int constrained = round % 4 == 0;
        random_points(&r, obj, constrained ? viol : NULL, n, m, 2 + nsga2_rng_below(&r, 6));
        long got = nsga2_survive(obj, constrained ? viol : NULL, n, m, keep, out, rank, crowd);
        size_t expect = keep < n ? keep : n;
        assert_int_equal(got, (long)expect);
        ref_sort(obj, constrained ? viol : NULL, n, m, ref_rank);
        int chosen[MAXN] = {0};
        for (size_t j = 0; j < expect; j++) {
            assert_false(chosen[out[j]]);
            chosen[out[j]] = 1;
            assert_int_equal(rank[j], ref_rank[out[j]]);
            if (j)
                assert_true(rank[j] >= rank[j - 1]);
        }
        if (expect == 0)
            continue;
        int cut = rank[expect - 1];
        /* Every better front whole; nothing from a worse one. */
        for (size_t i = 0; i < n; i++) {
            if (ref_rank[i] < cut)
                assert_true(chosen[i]);
            if (ref_rank[i] > cut)
                assert_false(chosen[i]);
        }
        /* In the cut front, the chosen are the most crowded-apart. */
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (ref_rank[i] == cut)
                members[k++] = i;
        ref_crowding(obj, m, members, k, dist);
        double worst_in = INFINITY, best_out = -INFINITY;
        for (size_t j = 0; j < k; j++) {
            if (chosen[members[j]])
                worst_in = fmin(worst_in, dist[j]);
            else
                best_out = fmax(best_out, dist[j]);
        }
        assert_true(worst_in >= best_out);
        for (size_t j = 0; j < expect; j++)
            if (rank[j] == cut)
                for (size_t l = 0; l < k; l++)
                    if (members[l] == out[j])
                        assert_true(crowd[j] == dist[l] || fabs(crowd[j] - dist[l]) < 1e-12);
    }
}

static void test_tournament_prefers_rank_then_crowding(void **state)
{
    (void)state;
    nsga2_rng r;
    nsga2_rng_seed(&r, 4);
    int rank[] = {0, 1};
    double crowd[] = {0.1, INFINITY};
    for (int i = 0; i < 100; i++)
        assert_int_equal(nsga2_tournament(&r, rank, crowd, 2), 0);
    int same[] = {2, 2};
    for (int i = 0; i < 100; i++)
        assert_int_equal(nsga2_tournament(&r, same, crowd, 2), 1);
    assert_int_equal(nsga2_tournament(&r, same, crowd, 1), 0);
}

static void test_hypervolume_matches_inclusion_exclusion(void **state)
{
    (void)state;
    nsga2_rng r;
    nsga2_rng_seed(&r, 5);
    double pts[10 * MAXM], ref[MAXM];
    for (int round = 0; round < ROUNDS; round++) {
        size_t n = nsga2_rng_below(&r, 10), m = 1 + nsga2_rng_below(&r, MAXM);
        for (size_t i = 0; i < n * m; i++)
            pts[i] = (double)nsga2_rng_below(&r, 5) + (round % 2 ? nsga2_rng_unit(&r) : 0.0);
        for (size_t o = 0; o < m; o++)
            ref[o] = 4.5;
        double got = nsga2_hypervolume(pts, n, m, ref);
        /* Points outside the reference box add nothing: clip them for the
         * reference computation by dropping them. */
        double inside[10 * MAXM];
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            int ok = 1;
            for (size_t o = 0; o < m; o++)
                ok &= pts[i * m + o] < ref[o];
            if (ok)
                memcpy(inside + k++ * m, pts + i * m, m * sizeof *pts);
        }
        double want = ref_hypervolume(inside, k, m, ref);
        assert_true(fabs(got - want) <= 1e-9 * (1 + fabs(want)));
    }
    double two[] = {1, 3, 2, 2, 3, 1}, r2[] = {4, 4};
    assert_true(fabs(nsga2_hypervolume(two, 3, 2, r2) - 6.0) < 1e-12);
    double one[] = {0, 0, 0}, r3[] = {1, 2, 3};
    assert_true(fabs(nsga2_hypervolume(one, 1, 3, r3) - 6.0) < 1e-12);
}

static void test_rng(void **state)
{
    (void)state;
    nsga2_rng a, b;
    nsga2_rng_seed(&a, 42);
    nsga2_rng_seed(&b, 42);
    for (int i = 0; i < 10; i++)
        assert_true(nsga2_rng_next(&a) == nsga2_rng_next(&b));
    char text[65];
    nsga2_rng_save(&a, text);
    assert_int_equal(strlen(text), 64);
    nsga2_rng c;
    assert_int_equal(nsga2_rng_load(&c, text), 0);
    for (int i = 0; i < 10; i++)
        assert_true(nsga2_rng_next(&a) == nsga2_rng_next(&c));
    assert_int_equal(nsga2_rng_load(&c, "xyz"), -1);
    char zero[65];
    memset(zero, '0', 64);
    zero[64] = '\0';
    assert_int_equal(nsga2_rng_load(&c, zero), -1);
    unsigned hist[7] = {0};
    for (int i = 0; i < 70000; i++) {
        uint32_t v = nsga2_rng_below(&a, 7);
        assert_true(v < 7);
        hist[v]++;
    }
    for (int i = 0; i < 7; i++)
        assert_true(hist[i] > 9000 && hist[i] < 11000);
    for (int i = 0; i < 1000; i++) {
        double u = nsga2_rng_unit(&a);
        assert_true(u >= 0.0 && u < 1.0);
    }
}

static void test_set(void **state)
{
    (void)state;
    nsga2_set s;
    nsga2_set_init(&s, 3);
    int g[3];
    for (int i = 0; i < 1000; i++) {
        g[0] = i % 10;
        g[1] = i / 10 % 10;
        g[2] = i / 100;
        assert_false(nsga2_set_has(&s, g));
        assert_int_equal(nsga2_set_add(&s, g), 1);
        assert_int_equal(nsga2_set_add(&s, g), 0);
    }
    assert_int_equal(s.count, 1000);
    g[0] = 11;
    assert_false(nsga2_set_has(&s, g));
    nsga2_set_free(&s);
}

static void test_offspring_are_new_and_canonical(void **state)
{
    (void)state;
    enum { NG = 6, POP = 12 };
    int nchoices[NG] = {2, 3, 3, 2, 4, 1};
    int gate[NG] = {-1, 0, 0, -1, 3, -1};    /* genes 1, 2 gated by 0; 4 by 3 */
    int gate_off[NG] = {0, 0, 0, 0, 0, 0};
    nsga2_genes gs = {NG, nchoices, gate, gate_off, 0.9, 0};
    /* Canonical distinct genomes: gene0 0 -> 1 choice for (1,2), else 9;
     * gene3 0 -> 1 choice for 4, else 4; gene5 fixed: 10 * 5 = 50. */
    const size_t total = 50;
    nsga2_rng r;
    nsga2_rng_seed(&r, 6);
    for (int round = 0; round < 50; round++) {
        nsga2_set seen;
        nsga2_set_init(&seen, NG);
        int pop[POP * NG], rank[POP] = {0};
        double crowd[POP];
        long npop = nsga2_offspring(&r, &gs, pop, rank, crowd, 0, POP, 1000, &seen, pop);
        assert_int_equal(npop, POP);
        for (int i = 0; i < POP; i++)
            crowd[i] = (double)nsga2_rng_below(&r, 4);
        size_t made = (size_t)npop;
        int kids[POP * NG];
        while (made < total) {
            size_t before = seen.count;
            long k = nsga2_offspring(&r, &gs, pop, rank, crowd, POP, POP, 2000, &seen, kids);
            assert_true(k >= 0);
            assert_int_equal(seen.count, before + (size_t)k);
            for (long i = 0; i < k; i++) {
                int c[NG];
                memcpy(c, kids + i * NG, sizeof c);
                nsga2_canonicalize(&gs, c);
                assert_memory_equal(c, kids + i * NG, sizeof c);
                for (int j = 0; j < NG; j++)
                    assert_true(c[j] >= 0 && c[j] < nchoices[j]);
            }
            made += (size_t)k;
            if (k == 0)
                break;
        }
        /* The space is small: the offspring must have covered it without a
         * repeat (the set counts each genome once). */
        assert_int_equal(seen.count, made);
        assert_true(made <= total);
        assert_true(made >= total - 5);
        nsga2_set_free(&seen);
    }
}

static void test_nondominated(void **state)
{
    (void)state;
    nsga2_rng r;
    nsga2_rng_seed(&r, 7);
    double obj[MAXN * MAXM], viol[MAXN];
    int want[MAXN];
    unsigned char front[MAXN];
    for (int round = 0; round < ROUNDS; round++) {
        size_t n = 1 + nsga2_rng_below(&r, MAXN), m = 1 + nsga2_rng_below(&r, MAXM);
        int constrained = round % 2;
        random_points(&r, obj, constrained ? viol : NULL, n, m, 4);
        nsga2_nondominated(obj, constrained ? viol : NULL, n, m, front);
        ref_sort(obj, constrained ? viol : NULL, n, m, want);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(front[i], want[i] == 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sort_matches_peeling),
        cmocka_unit_test(test_sort_edge_cases),
        cmocka_unit_test(test_crowding_matches_definition),
        cmocka_unit_test(test_crowding_small_fronts),
        cmocka_unit_test(test_survival_is_elitist),
        cmocka_unit_test(test_tournament_prefers_rank_then_crowding),
        cmocka_unit_test(test_hypervolume_matches_inclusion_exclusion),
        cmocka_unit_test(test_rng),
        cmocka_unit_test(test_set),
        cmocka_unit_test(test_offspring_are_new_and_canonical),
        cmocka_unit_test(test_nondominated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

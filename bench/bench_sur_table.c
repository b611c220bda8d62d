/*
 * bench_sur_table.c — the surrogate on a real accuracy table: fit on n
 * rows, rank the rest, for seeded splits that the scikit-learn peer
 * (bench/peer_sur_table.py) reads too.
 *
 *   bench_sur_table FILE     (made by `peer_sur_table.py prep`)
 *
 * FILE: a header "y,s0,..,sS-1,g0,..,gG-1", then one row per architecture:
 * its accuracy, its place in each of S seeded permutations, and its G
 * genes (choice indices 0..C-1, C the largest index + 1; every gene
 * unordered, so one-hot). For n in 100, 300 and each split s the training
 * rows are those whose place in permutation s is below n.
 *
 * Output, one line per (n, split) for the served selection and per kind:
 *   sur_table n=N split=S model=select best=K tau=.. cov2=.. fit_s=..
 *   sur_table n=N split=S model=K tau=.. cov2=..
 * tau is Kendall tau-b between held-out truths and predicted means, cov2
 * the share of held-out truths within +-2 predicted std, fit_s the wall
 * time of sur_fit_best (CV of every kind, the winner's refit).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sur.h"

#define MAX_ROWS 4096
#define MAX_SPLITS 16
#define MAX_GENES 32
#define MAX_CHOICES 64

typedef struct table {
    size_t n, splits, genes, choices;
    double y[MAX_ROWS];
    int place[MAX_SPLITS][MAX_ROWS];
    int genome[MAX_ROWS * MAX_GENES];
} table;

static double wall(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int load(const char *path, table *t)
{
    FILE *fp = fopen(path, "r");
    char line[4096];
    if (!fp || !fgets(line, sizeof line, fp)) {
        if (fp)
            fclose(fp);
        return -1;
    }
    t->splits = t->genes = 0;
    for (char *p = strtok(line, ",\r\n"); p; p = strtok(NULL, ",\r\n")) {
        t->splits += p[0] == 's';
        t->genes += p[0] == 'g';
    }
    if (!t->splits || t->splits > MAX_SPLITS || !t->genes || t->genes > MAX_GENES) {
        fclose(fp);
        return -1;
    }
    t->n = 0;
    t->choices = 1;
    while (t->n < MAX_ROWS && fgets(line, sizeof line, fp)) {
        char *p = strtok(line, ",\r\n");
        t->y[t->n] = p ? strtod(p, NULL) : 0;
        for (size_t s = 0; s < t->splits; s++)
            t->place[s][t->n] = (p = strtok(NULL, ",\r\n")) ? atoi(p) : 0;
        for (size_t g = 0; g < t->genes; g++) {
            int v = (p = strtok(NULL, ",\r\n")) ? atoi(p) : 0;
            if (v < 0 || v >= MAX_CHOICES) {
                fclose(fp);
                return -1;
            }
            t->genome[t->n * t->genes + g] = v;
            if ((size_t)v + 1 > t->choices)
                t->choices = (size_t)v + 1;
        }
        t->n++;
    }
    fclose(fp);
    return t->n > 0 ? 0 : -1;
}

/* tau and +-2 std coverage of model m on the rows not in train. */
static int score(const sur_model *m, const double *x, const table *t,
                 size_t d, const int *train, double *tau, double *cov2)
{
    size_t nt = 0;
    double *xt = calloc(t->n * d, sizeof(double));
    double *yt = malloc(t->n * sizeof(double));
    double *mean = malloc(t->n * sizeof(double));
    double *std = malloc(t->n * sizeof(double));
    int rc = xt && yt && mean && std ? 0 : SUR_ENOMEM;
    for (size_t i = 0; !rc && i < t->n; i++)
        if (!train[i]) {
            memcpy(xt + nt * d, x + i * d, d * sizeof *xt);
            yt[nt++] = t->y[i];
        }
    if (!rc)
        rc = sur_predict(m, xt, nt, mean, std, NULL);
    if (!rc)
        rc = sur_kendall_tau(yt, mean, nt, tau);
    size_t in = 0;
    for (size_t i = 0; !rc && i < nt; i++)
        in += yt[i] >= mean[i] - 2 * std[i] && yt[i] <= mean[i] + 2 * std[i];
    *cov2 = nt ? (double)in / (double)nt : 0;
    free(xt);
    free(yt);
    free(mean);
    free(std);
    return rc;
}

/* Fit on the training rows of split s at size n and print its lines. */
static int run_split(const table *t, const double *x, size_t d, size_t n,
                     size_t s)
{
    static int train[MAX_ROWS];
    static double xs[MAX_ROWS * MAX_GENES * MAX_CHOICES / 8], ys[MAX_ROWS];
    size_t k = 0;
    if (n * d > sizeof xs / sizeof xs[0])
        return SUR_ETOOBIG;
    for (size_t i = 0; i < t->n; i++) {
        train[i] = t->place[s][i] < (int)n;
        if (train[i]) {
            memcpy(xs + k * d, x + i * d, d * sizeof *xs);
            ys[k++] = t->y[i];
        }
    }
    sur_data data = {k, d, xs, ys, NULL};
    sur_options opt;
    sur_options_default(&opt);
    opt.seed = 1 + s;
    sur_model *m = NULL;
    sur_selection sel;
    double t0 = wall(), tau, cov2;
    int rc = sur_fit_best(&data, &opt, &m, &sel);
    double el = wall() - t0;
    if (!rc)
        rc = score(m, x, t, d, train, &tau, &cov2);
    if (!rc)
        printf("sur_table n=%zu split=%zu model=select best=%s tau=%.4f "
               "cov2=%.3f fit_s=%.4f\n",
               n, s, sur_kind_name(sel.best), tau, cov2, el);
    sur_model_free(m);
    for (int kind = 0; !rc && kind < SUR_N_KINDS; kind++) {
        if (kind == SUR_ENSEMBLE)
            continue;
        t0 = wall();
        rc = sur_fit((sur_kind)kind, &data, &opt, &m);
        el = wall() - t0;
        if (!rc)
            rc = score(m, x, t, d, train, &tau, &cov2);
        if (!rc)
            printf("sur_table n=%zu split=%zu model=%s tau=%.4f cv_tau=%.4f "
                   "cov2=%.3f one_fit_s=%.4f\n",
                   n, s, sur_kind_name((sur_kind)kind), tau,
                   sel.cv[kind].kendall_tau, cov2, el);
        sur_model_free(m);
        m = NULL;
    }
    fflush(stdout);
    return rc;
}

int main(int argc, char **argv)
{
    static table t;
    if (argc != 2 || load(argv[1], &t)) {
        fprintf(stderr, "usage: bench_sur_table FILE (see peer_sur_table.py)\n");
        return 2;
    }
    sur_init();
    double choice[MAX_CHOICES];
    sur_gene genes[MAX_GENES];
    for (size_t c = 0; c < t.choices; c++)
        choice[c] = (double)c;
    for (size_t g = 0; g < t.genes; g++)
        genes[g] = (sur_gene){choice, t.choices, 1};
    sur_features *f = NULL;
    int rc = sur_features_create(&f, genes, t.genes, 0);
    size_t d = sur_features_dim(f);
    double *x = rc ? NULL : malloc(t.n * d * sizeof *x);
    if (!rc)
        rc = x ? sur_features_encode_many(f, t.genome, NULL, t.n, x) : SUR_ENOMEM;
    static const size_t sizes[] = {100, 300};
    for (size_t a = 0; !rc && a < 2; a++)
        for (size_t s = 0; !rc && s < t.splits; s++)
            if (sizes[a] < t.n)
                rc = run_split(&t, x, d, sizes[a], s);
    if (rc)
        fprintf(stderr, "bench_sur_table: %s\n", sur_strerror(rc));
    free(x);
    sur_features_free(f);
    return rc ? 1 : 0;
}

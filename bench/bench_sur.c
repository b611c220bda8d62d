/*
 * bench_sur.c — surrogate fitting: cross-validated rank quality and fit
 * time of ridge and GP, and of model selection (sur_fit_best), on the first
 * n = 100, 300, 1000 genomes of bench/out/sur_data.csv, the file that the
 * scikit-learn peer (bench/peer_sur.py) reads too, with the same folds.
 *
 *   bench_sur DIR     (DIR/sur_data.csv, made by `peer_sur.py gen DIR`)
 *
 * The CSV: y, log_macs, log_params, fold100, fold300, fold1000, then one
 * column per gene whose header is "name:c0;c1;..." (its choices) and whose
 * cells are choice indices. Genomes become features with sur_features (all
 * genes ordered, so each is its scaled value) plus log MACs and log params,
 * as the server does for builder spaces.
 *
 * Output, one line per size and kind, then one per size for the selection:
 *   sur n=N kind=K cv_s=.. fit_s=.. cv_cpu=.. fit_cpu=.. tau=.. rho=..
 *       rmse=.. cov1=.. cov2=..
 *   sur n=N best=K total_s=.. total_cpu=.. tau=..
 * cv is sur_cross_validate (5 fits and predictions), fit one sur_fit on all
 * n rows, total one sur_fit_best (both CVs plus the winner's refit); _s is
 * wall time, _cpu the process's CPU time. The best= line's tau is the
 * winner's CV tau in the selection (for an ensemble, that of the members
 * the selection chose, not the kind=ensemble line's fixed three).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sur.h"

#define MAX_LINE 8192
#define MAX_GENES 64
#define MAX_CHOICES 16
#define MAX_ROWS 1000
#define N_SIZES 3

static const size_t sizes[N_SIZES] = {100, 300, 1000};

typedef struct bench_data {
    size_t n_genes, n_rows;
    double choices[MAX_GENES][MAX_CHOICES];
    size_t n_choices[MAX_GENES];
    double y[MAX_ROWS], extra[MAX_ROWS * 2];
    unsigned fold[N_SIZES][MAX_ROWS];
    int genome[MAX_ROWS * MAX_GENES];
} bench_data;

/* Wall and CPU seconds: the machine may be shared, and CPU time is what
 * contention changes least. */
/* Timing rounds: see main. */
#define ROUNDS 3
#define ROUND_BUDGET_S 5.0

typedef struct stamp {
    double wall, cpu;
} stamp;

static stamp now(void)
{
    struct timespec w, c;
    clock_gettime(CLOCK_MONOTONIC, &w);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c);
    return (stamp){(double)w.tv_sec + 1e-9 * (double)w.tv_nsec,
                   (double)c.tv_sec + 1e-9 * (double)c.tv_nsec};
}

static stamp since(stamp t0)
{
    stamp t = now();
    return (stamp){t.wall - t0.wall, t.cpu - t0.cpu};
}

/* Split line in place at sep; up to max field pointers. */
static size_t split(char *line, char sep, char **fields, size_t max)
{
    size_t n = 0;
    char *p = line;
    while (n < max) {
        fields[n++] = p;
        char *q = strchr(p, sep);
        if (!q)
            break;
        *q = '\0';
        p = q + 1;
    }
    return n;
}

static int parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    return end != s && (*end == '\0' || *end == '\n' || *end == '\r') &&
                   errno == 0
               ? 0
               : -1;
}

static int load(const char *dir, bench_data *b)
{
    char path[4096], line[MAX_LINE], *f[4 + N_SIZES + MAX_GENES + 2];
    const size_t max_fields = sizeof f / sizeof f[0];
    int n = snprintf(path, sizeof path, "%s/sur_data.csv", dir);
    if (n < 0 || (size_t)n >= sizeof path)
        return -1;
    FILE *fp = fopen(path, "r");
    if (!fp) {
        fprintf(stderr, "bench_sur: %s: %s (run peer_sur.py gen %s)\n", path,
                strerror(errno), dir);
        return -1;
    }
    int rc = -1;
    if (!fgets(line, sizeof line, fp))
        goto done;
    line[strcspn(line, "\r\n")] = '\0';
    size_t nf = split(line, ',', f, max_fields);
    if (nf <= 3 + N_SIZES || nf - 3 - N_SIZES > MAX_GENES)
        goto done;
    b->n_genes = nf - 3 - N_SIZES;
    for (size_t g = 0; g < b->n_genes; g++) {
        char *colon = strchr(f[3 + N_SIZES + g], ':');
        if (!colon)
            goto done;
        char *c[MAX_CHOICES];
        size_t nc = split(colon + 1, ';', c, MAX_CHOICES);
        for (size_t k = 0; k < nc; k++)
            if (parse_double(c[k], &b->choices[g][k]))
                goto done;
        b->n_choices[g] = nc;
    }
    b->n_rows = 0;
    while (b->n_rows < MAX_ROWS && fgets(line, sizeof line, fp)) {
        size_t r = b->n_rows;
        line[strcspn(line, "\r\n")] = '\0';
        if (split(line, ',', f, max_fields) != nf)
            goto done;
        double v;
        if (parse_double(f[0], &b->y[r]) ||
            parse_double(f[1], &b->extra[2 * r]) ||
            parse_double(f[2], &b->extra[2 * r + 1]))
            goto done;
        for (size_t s = 0; s < N_SIZES; s++) {
            if (parse_double(f[3 + s], &v))
                goto done;
            b->fold[s][r] = v < 0 ? 0 : (unsigned)v;
        }
        for (size_t g = 0; g < b->n_genes; g++) {
            if (parse_double(f[3 + N_SIZES + g], &v))
                goto done;
            b->genome[r * b->n_genes + g] = (int)v;
        }
        b->n_rows++;
    }
    rc = b->n_rows == MAX_ROWS ? 0 : -1;
done:
    if (rc)
        fprintf(stderr, "bench_sur: %s does not parse\n", path);
    fclose(fp);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    static const char usage[] = "usage: bench_sur DIR\n";
    int c;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        fputs(usage, c == 'h' ? stdout : stderr);
        return c == 'h' ? 0 : 2;
    }
    if (argc - optind != 1) {
        fputs(usage, stderr);
        return 2;
    }
    sur_init();
    static bench_data b;
    if (load(argv[optind], &b))
        return 1;

    sur_gene genes[MAX_GENES];
    for (size_t g = 0; g < b.n_genes; g++) {
        genes[g].choices = b.choices[g];
        genes[g].n_choices = b.n_choices[g];
        genes[g].unordered = 0;
    }
    sur_features *feat = NULL;
    int rc = sur_features_create(&feat, genes, b.n_genes, 2);
    if (rc) {
        fprintf(stderr, "bench_sur: features: %s\n", sur_strerror(rc));
        return 1;
    }
    size_t d = sur_features_dim(feat);
    double *x = malloc(b.n_rows * d * sizeof *x);
    if (!x)
        return 1;
    rc = sur_features_encode_many(feat, b.genome, b.extra, b.n_rows, x);
    if (rc) {
        fprintf(stderr, "bench_sur: encode: %s\n", sur_strerror(rc));
        return 1;
    }

    for (size_t s = 0; s < N_SIZES; s++) {
        size_t n = sizes[s];
        sur_data data = {n, d, x, b.y, NULL};
        sur_options opt;
        sur_options_default(&opt);
        opt.fold_of = b.fold[s];
        for (int kind = 0; kind < SUR_N_KINDS; kind++) {
            /* Best of up to ROUNDS rounds of CV + final fit, while the
             * rounds so far took under ROUND_BUDGET_S (the peer does the
             * same): a burst of load on this shared machine should not
             * decide a figure. */
            sur_cv cv;
            stamp cv_t = {0, 0}, fit_t = {0, 0};
            double spent = 0;
            for (int round = 0; round < ROUNDS && (round == 0 || spent < ROUND_BUDGET_S); round++) {
                sur_cv cv_r;
                sur_model *m = NULL;
                stamp t0 = now();
                rc = sur_cross_validate((sur_kind)kind, &data, &opt, &cv_r);
                stamp cv_rt = since(t0);
                if (rc) {
                    fprintf(stderr, "bench_sur: cv %s: %s\n",
                            sur_kind_name((sur_kind)kind), sur_strerror(rc));
                    return 1;
                }
                t0 = now();
                rc = sur_fit((sur_kind)kind, &data, &opt, &m);
                stamp fit_rt = since(t0);
                if (rc) {
                    fprintf(stderr, "bench_sur: fit %s: %s\n",
                            sur_kind_name((sur_kind)kind), sur_strerror(rc));
                    return 1;
                }
                sur_model_free(m);
                spent += cv_rt.wall + fit_rt.wall;
                if (round == 0 || cv_rt.wall + fit_rt.wall < cv_t.wall + fit_t.wall) {
                    cv_t = cv_rt, fit_t = fit_rt;
                    cv = cv_r;
                }
            }
            printf("sur n=%zu kind=%s cv_s=%.4f fit_s=%.4f cv_cpu=%.4f "
                   "fit_cpu=%.4f tau=%.4f rho=%.4f rmse=%.5f cov1=%.3f "
                   "cov2=%.3f\n",
                   n, sur_kind_name((sur_kind)kind), cv_t.wall, fit_t.wall,
                   cv_t.cpu, fit_t.cpu, cv.kendall_tau, cv.spearman_rho,
                   cv.rmse, cv.coverage_1sigma, cv.coverage_2sigma);
            fflush(stdout);
        }
        sur_selection sel;
        stamp total = {0, 0};
        double spent = 0;
        for (int round = 0; round < ROUNDS && (round == 0 || spent < ROUND_BUDGET_S); round++) {
            sur_model *best = NULL;
            stamp t0 = now();
            rc = sur_fit_best(&data, &opt, &best, &sel);
            stamp t = since(t0);
            if (rc) {
                fprintf(stderr, "bench_sur: fit_best: %s\n", sur_strerror(rc));
                return 1;
            }
            sur_model_free(best);
            spent += t.wall;
            if (round == 0 || t.wall < total.wall)
                total = t;
        }
        printf("sur n=%zu best=%s total_s=%.4f total_cpu=%.4f tau=%.4f\n", n,
               sur_kind_name(sel.best), total.wall, total.cpu,
               sel.cv[sel.best].kendall_tau);
        fflush(stdout);
    }
    sur_features_free(feat);
    free(x);
    return 0;
}

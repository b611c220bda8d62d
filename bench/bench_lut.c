/*
 * bench_lut.c — in-process estimate throughput of the lut library on the
 * data of gen_lut_data.py. Prints "bench_lut <variant> networks_per_s N".
 *   full:   raw layer attributes → canonical key → MACs/params → packed key
 *           → lookup → sum (what the estimate endpoint does per layer)
 *   lookup: canonical keys already built → lut_table_sum
 *   prepared: canonical keys with their hashes → lut_table_sum_hashed
 *   packed: packed keys (lut_key_pack), hash per layer → lut_table_sum_packed
 *   packed_prepared: packed keys with their hashes → lut_table_sum_packed
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lut.h"

typedef struct raw_layer {
    char op[16]; /* NUL-padded */
    long v[8]; /* cin cout k stride dilation groups h w */
} raw_layer;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_line(char *line, raw_layer *l)
{
    char *save = line, *comma = strchr(line, ',');
    if (!comma || (size_t)(comma - save) >= sizeof l->op)
        return -1;
    memset(l->op, 0, sizeof l->op);
    memcpy(l->op, save, (size_t)(comma - save));
    l->op[comma - save] = '\0';
    char *p = comma + 1;
    for (int i = 0; i < 8; i++) {
        char *end;
        l->v[i] = strtol(p, &end, 10);
        if (end == p)
            return -1;
        p = *end == ',' ? end + 1 : end;
    }
    return 0;
}

static void raw_to_key(const raw_layer *r, lut_key *k)
{
    lut_key_init(k);
    memcpy(k->op, r->op, sizeof r->op); /* both NUL-padded */
    k->cin = r->v[0], k->cout = r->v[1], k->k = r->v[2], k->stride = r->v[3];
    k->dilation = r->v[4], k->groups = r->v[5], k->h = r->v[6], k->w = r->v[7];
}

typedef struct bench_data {
    const lut_table *table;
    const raw_layer *layers;
    const lut_key *keys;
    const uint64_t *hashes;
    const lut_pkey *pkeys;
    const uint64_t *phashes;
    const size_t *starts;
    size_t nnets;
    volatile double sink;
} bench_data;

/* full: what a request does after JSON parsing */
static void pass_full(bench_data *d)
{
    for (size_t n = 0; n < d->nnets; n++) {
        double total = 0;
        unsigned long long macs = 0, params = 0;
        size_t missing = 0;
        for (size_t i = d->starts[n]; i < d->starts[n + 1]; i++) {
            lut_key k;
            lut_cost c;
            raw_to_key(&d->layers[i], &k);
            if (lut_key_canonicalize(&k, NULL) || lut_key_cost(&k, &c, NULL))
                continue;
            macs += c.macs, params += c.params;
            lut_pkey pk;
            const lut_entry *e = lut_key_pack(&k, &pk) == LUT_OK
                                     ? lut_table_find_packed(d->table, &pk, lut_pkey_hash(&pk))
                                     : lut_table_find(d->table, &k);
            if (e)
                total += e->latency.mean;
            else
                missing++;
        }
        d->sink += total + (double)macs + (double)params + (double)missing;
    }
}

static void pass_lookup(bench_data *d)
{
    for (size_t n = 0; n < d->nnets; n++) {
        lut_sum s;
        lut_table_sum(d->table, d->keys + d->starts[n], d->starts[n + 1] - d->starts[n], &s, NULL, 0);
        d->sink += s.total;
    }
}

/* prepared: the hashes were computed once, when the networks were built */
static void pass_prepared(bench_data *d)
{
    for (size_t n = 0; n < d->nnets; n++) {
        lut_sum s;
        lut_table_sum_hashed(d->table, d->keys + d->starts[n], d->hashes + d->starts[n],
                             d->starts[n + 1] - d->starts[n], &s, NULL, 0);
        d->sink += s.total;
    }
}

static void pass_packed(bench_data *d)
{
    for (size_t n = 0; n < d->nnets; n++) {
        lut_sum s;
        lut_table_sum_packed(d->table, d->pkeys + d->starts[n], NULL,
                             d->starts[n + 1] - d->starts[n], &s, NULL, 0);
        d->sink += s.total;
    }
}

static void pass_packed_prepared(bench_data *d)
{
    for (size_t n = 0; n < d->nnets; n++) {
        lut_sum s;
        lut_table_sum_packed(d->table, d->pkeys + d->starts[n], d->phashes + d->starts[n],
                             d->starts[n + 1] - d->starts[n], &s, NULL, 0);
        d->sink += s.total;
    }
}

/* Networks per second of the best of ROUNDS timed rounds: the machine is
 * shared and noisy, and the Python peer reports its best round too. */
static double best_rate(void (*pass)(bench_data *), bench_data *d, double seconds)
{
    enum { ROUNDS = 3 };
    double best = 0;
    for (int round = 0; round < ROUNDS; round++) {
        size_t done = 0;
        double t0 = now();
        do {
            pass(d);
            done += d->nnets;
        } while (now() - t0 < seconds / ROUNDS);
        double rate = (double)done / (now() - t0);
        if (rate > best)
            best = rate;
    }
    return best;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    static const char usage[] = "usage: bench_lut DATA_DIR [seconds]\n";
    int c;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        fputs(usage, c == 'h' ? stdout : stderr);
        return c == 'h' ? 0 : 2;
    }
    if (optind >= argc) {
        fputs(usage, stderr);
        return 2;
    }
    const char *dir = argv[optind];
    double seconds = optind + 1 < argc ? atof(argv[optind + 1]) : 2.0;
    char path[4096], line[512];
    snprintf(path, sizeof path, "%s/lut.csv", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return 1;
    }
    size_t nrows = 0, caprows = 4096;
    lut_entry *rows = calloc(caprows, sizeof *rows);
    if (!fgets(line, sizeof line, f)) /* header */
        return 1;
    while (fgets(line, sizeof line, f)) {
        raw_layer r;
        if (parse_line(line, &r))
            continue;
        char *p = line;
        for (int c = 0; c < 9; c++)
            p = strchr(p, ',') + 1;
        if (nrows == caprows)
            rows = realloc(rows, (caprows *= 2) * sizeof *rows);
        memset(&rows[nrows], 0, sizeof rows[nrows]);
        raw_to_key(&r, &rows[nrows].key);
        if (lut_key_canonicalize(&rows[nrows].key, NULL))
            continue;
        rows[nrows].latency.mean = strtod(p, NULL);
        rows[nrows].latency.count = 1;
        nrows++;
    }
    fclose(f);
    lut_table *table;
    if (lut_table_build(NULL, rows, nrows, &table)) {
        fprintf(stderr, "table build failed\n");
        return 1;
    }

    snprintf(path, sizeof path, "%s/networks.txt", dir);
    f = fopen(path, "r");
    if (!f) {
        perror(path);
        return 1;
    }
    size_t nl = 0, capl = 1 << 18, nnets = 0, capn = 4096;
    raw_layer *layers = malloc(capl * sizeof *layers);
    size_t *starts = malloc((capn + 1) * sizeof *starts);
    starts[0] = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '\n') {
            if (nnets + 1 >= capn)
                starts = realloc(starts, ((capn *= 2) + 1) * sizeof *starts);
            starts[++nnets] = nl;
            continue;
        }
        if (nl == capl)
            layers = realloc(layers, (capl *= 2) * sizeof *layers);
        if (parse_line(line, &layers[nl]) == 0)
            nl++;
    }
    fclose(f);
    lut_key *keys = malloc(nl * sizeof *keys);
    for (size_t i = 0; i < nl; i++) {
        raw_to_key(&layers[i], &keys[i]);
        lut_key_canonicalize(&keys[i], NULL);
    }

    uint64_t *hashes = malloc(nl * sizeof *hashes);
    for (size_t i = 0; i < nl; i++)
        hashes[i] = lut_key_hash(&keys[i]);
    lut_pkey *pkeys = malloc(nl * sizeof *pkeys);
    uint64_t *phashes = malloc(nl * sizeof *phashes);
    for (size_t i = 0; i < nl; i++) {
        if (lut_key_pack(&keys[i], &pkeys[i])) {
            fprintf(stderr, "layer %zu does not pack\n", i);
            return 1;
        }
        phashes[i] = lut_pkey_hash(&pkeys[i]);
    }
    bench_data d = {table, layers, keys, hashes, pkeys, phashes, starts, nnets, 0};
    static const struct {
        const char *name;
        void (*pass)(bench_data *);
    } variants[] = {{"full", pass_full}, {"lookup", pass_lookup}, {"prepared", pass_prepared},
                    {"packed", pass_packed}, {"packed_prepared", pass_packed_prepared}};
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++)
        printf("bench_lut %s networks_per_s %.0f\n", variants[v].name,
               best_rate(variants[v].pass, &d, seconds));
    free(hashes);
    free(pkeys);
    free(phashes);
    lut_table_release(table);
    free(rows);
    free(layers);
    free(starts);
    free(keys);
    return 0;
}

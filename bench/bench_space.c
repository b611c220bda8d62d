/*
 * bench_space.c — genomes costed per second, and a layer dumper.
 *
 *   bench_space [SECONDS]
 *       Random genomes of deeplabv3plus-mobilenetv2 (then of
 *       deeplabv3plus-xception65) at 513 against two
 *       synthetic device tables (every distinct layer key of the space but a
 *       few, random latencies), costed (a) by full expansion plus
 *       lut_table_sum on each table and (b) by the lut_space_coster. Prints
 *       "bench_space <name> <genomes_per_s>" lines on stdout, details on
 *       stderr. SECONDS (default 1) is the time spent per measurement.
 *
 *   bench_space --dump SPACE INPUT_SIZE GENOME [NUM_CLASSES [OUTPUT_STRIDE]]
 *       Expand one genome (a JSON array of choice indices, or "max"/"min")
 *       and print its layers as JSON lines, then one totals line
 *       {"layers": n, "macs": m, "params": p}: what a test compares with the
 *       PyTorch twin (fmas_twin layers).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "space.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* xorshift64*: reproducible, no global state. */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

static void random_genome(const lut_space *space, uint64_t *rng, int *genome)
{
    for (size_t i = 0; i < lut_space_gene_count(space); i++)
        genome[i] =
            (int)(rng_next(rng) % lut_space_gene_at(space, i)->n_choices);
}

/* ---------------------------------------------------------------- dump */

/* Parse "[1, 2, 3]" into genome; returns the count or -1. */
static long parse_indices(const char *text, int64_t *idx, size_t cap)
{
    const char *p = text;
    size_t n = 0;
    while (*p == ' ')
        p++;
    if (*p++ != '[')
        return -1;
    for (;;) {
        char *end;
        long long v;
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == ']')
            return (long)n;
        errno = 0;
        v = strtoll(p, &end, 10);
        if (end == p || errno || n == cap)
            return -1;
        idx[n++] = v;
        p = end;
    }
}

static void print_json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            putchar('\\');
        putchar(*s);
    }
    putchar('"');
}

/* --dump SPACE INPUT_SIZE GENOME [NUM_CLASSES [OUTPUT_STRIDE]]: arg[0..n)
 * are the words after --dump. */
static const char dump_usage[] =
    "usage: bench_space --dump SPACE INPUT_SIZE GENOME [NUM_CLASSES [OUTPUT_STRIDE]]\n";

static int dump(int n, char **arg)
{
    lut_space_params params;
    lut_space *space = NULL;
    lut_space_layer *layers = NULL;
    lut_space_totals tot;
    lut_error err;
    int64_t idx[LUT_SPACE_MAX_GENES];
    int genome[LUT_SPACE_MAX_GENES];
    int rc;

    if (n < 3) {
        fputs(dump_usage, stderr);
        return 2;
    }
    lut_space_params_default(&params);
    params.input_size = strtoll(arg[1], NULL, 10);
    if (n > 3)
        params.num_classes = strtoll(arg[3], NULL, 10);
    if (n > 4)
        params.output_stride = strtoll(arg[4], NULL, 10);
    memset(&err, 0, sizeof err);
    rc = lut_space_create(&space, arg[0], NULL, arg[0], &params, &err);
    if (rc != 0) {
        fprintf(stderr, "space: %s: %s\n", err.field, err.reason);
        return 1;
    }
    if (!strcmp(arg[2], "max")) {
        lut_space_genome_max(space, genome);
    } else if (!strcmp(arg[2], "min")) {
        lut_space_genome_min(space, genome);
    } else {
        long ni = parse_indices(arg[2], idx, LUT_SPACE_MAX_GENES);
        if (ni < 0) {
            fprintf(stderr, "genome: not a JSON array of integers\n");
            lut_space_free(space);
            return 2;
        }
        rc = lut_space_genome_from_indices(space, idx, (size_t)ni, genome, &err);
    }
    if (rc == 0)
        rc = lut_space_expand(space, genome, &layers, &tot, &err);
    if (rc != 0) {
        fprintf(stderr, "genome: %s: %s\n", err.field, err.reason);
        lut_space_free(space);
        return 1;
    }
    for (size_t i = 0; i < tot.layers; i++) {
        const lut_space_layer *L = &layers[i];
        const lut_key *k = &L->key;
        fputs("{\"name\": ", stdout);
        print_json_string(L->name);
        fputs(", \"op\": ", stdout);
        print_json_string(k->op);
        printf(", \"cin\": %lld, \"cout\": %lld, \"k\": %lld, "
               "\"stride\": %lld, \"dilation\": %lld, \"groups\": %lld, "
               "\"pad\": %lld, \"h\": %lld, \"w\": %lld, \"bias\": %s, "
               "\"bn\": %s, \"out_h\": %lld, \"out_w\": %lld, "
               "\"macs\": %llu, \"params\": %llu}\n",
               (long long)k->cin, (long long)k->cout, (long long)k->k,
               (long long)k->stride, (long long)k->dilation,
               (long long)k->groups, (long long)k->pad, (long long)k->h,
               (long long)k->w, k->bias ? "true" : "false",
               k->bn ? "true" : "false", (long long)L->cost.out_h,
               (long long)L->cost.out_w, (unsigned long long)L->cost.macs,
               (unsigned long long)L->cost.params);
    }
    printf("{\"layers\": %zu, \"macs\": %llu, \"params\": %llu}\n", tot.layers,
           (unsigned long long)tot.macs, (unsigned long long)tot.params);
    free(layers);
    lut_space_free(space);
    return 0;
}

/* --------------------------------------------------------------- bench */

/* A table of every key but about one in twenty, with random latencies. */
static int synthetic_table(const char *name, const lut_key *keys, size_t n,
                           uint64_t seed, lut_table **out)
{
    lut_device dev;
    lut_entry *rows = calloc(n ? n : 1, sizeof *rows);
    size_t m = 0;
    int rc;
    if (!rows)
        return LUT_ENOMEM;
    memset(&dev, 0, sizeof dev);
    snprintf(dev.name, sizeof dev.name, "%s", name);
    snprintf(dev.unit, sizeof dev.unit, "us");
    dev.lut_version = 1;
    for (size_t i = 0; i < n; i++) {
        if (rng_next(&seed) % 20 == 0)
            continue;
        rows[m].key = keys[i];
        rows[m].latency.mean = (double)(rng_next(&seed) % 100000) / 100.0;
        rows[m].latency.count = 1;
        m++;
    }
    rc = lut_table_build(&dev, rows, m, out);
    free(rows);
    return rc;
}

#define RING 4096

/* Genomes per second of both ways of costing, for one builder at 513. */
static int bench(const char *builder, const char *label, double seconds)
{
    lut_space_params params;
    lut_space *space = NULL;
    lut_key *keys = NULL, *net = NULL;
    lut_table *tables[2] = {NULL, NULL};
    lut_space_coster *coster = NULL;
    size_t nkeys = 0, ngenes, cap;
    int *genomes = NULL;
    uint64_t rng = 0x9e3779b97f4a7c15ull, sink = 0;
    double t0, t1, elapsed;
    long iters;
    int rc;

    lut_space_params_default(&params);
    rc = lut_space_create(&space, "bench", NULL, builder, &params, NULL);
    if (rc == 0)
        rc = lut_space_layer_keys(space, &keys, &nkeys);
    if (rc == 0)
        rc = synthetic_table("bench-a", keys, nkeys, 1, &tables[0]);
    if (rc == 0)
        rc = synthetic_table("bench-b", keys, nkeys, 2, &tables[1]);
    if (rc != 0) {
        fprintf(stderr, "setup: %s\n", lut_strerror(rc));
        goto out;
    }
    ngenes = lut_space_gene_count(space);
    cap = lut_space_max_layers(space);
    genomes = malloc(RING * ngenes * sizeof *genomes);
    net = malloc(cap * sizeof *net);
    if (!genomes || !net) {
        rc = LUT_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < RING; i++)
        random_genome(space, &rng, genomes + i * ngenes);

    /* (a) expansion + lut_table_sum per table */
    t0 = now_s();
    iters = 0;
    do {
        for (int j = 0; j < 256; j++, iters++) {
            const int *g = genomes + (size_t)(iters % RING) * ngenes;
            lut_space_totals tot;
            lut_sum sum;
            lut_space_expand_keys(space, g, net, cap, &tot);
            for (int t = 0; t < 2; t++) {
                lut_table_sum(tables[t], net, tot.layers, &sum, NULL, 0);
                sink += sum.hits + (uint64_t)sum.total;
            }
            sink += tot.macs;
        }
        elapsed = now_s() - t0;
    } while (elapsed < seconds);
    printf("bench_space expand_sum_%s_2tables %.0f\n", label,
           (double)iters / elapsed);
    fflush(stdout);

    /* (b) the coster */
    t0 = now_s();
    rc = lut_space_coster_build(space, (const lut_table *const *)tables, 2,
                                &coster);
    t1 = now_s();
    if (rc != 0) {
        fprintf(stderr, "coster: %s\n", lut_strerror(rc));
        goto out;
    }
    fprintf(stderr,
            "bench_space: %s: %zu distinct keys, %zu max layers, coster "
            "built in %.2f ms, %zu bytes\n",
            builder, nkeys, cap, (t1 - t0) * 1e3,
            lut_space_coster_bytes(coster));
    t0 = now_s();
    iters = 0;
    do {
        for (int j = 0; j < 4096; j++, iters++) {
            const int *g = genomes + (size_t)(iters % RING) * ngenes;
            lut_space_totals tot;
            lut_sum sum[2];
            lut_space_cost(coster, g, &tot, sum);
            sink += tot.macs + sum[0].hits + sum[1].missing +
                    (uint64_t)sum[1].total;
        }
        elapsed = now_s() - t0;
    } while (elapsed < seconds);
    printf("bench_space coster_%s_2tables %.0f\n", label,
           (double)iters / elapsed);
    fflush(stdout);
    fprintf(stderr, "bench_space: checksum %llu\n", (unsigned long long)sink);

out:
    lut_space_coster_free(coster);
    lut_table_release(tables[0]);
    lut_table_release(tables[1]);
    free(keys);
    free(net);
    free(genomes);
    lut_space_free(space);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"dump", no_argument, NULL, 'd'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c, want_dump = 0;
    /* '+': the words after the options are the dump's or the seconds. */
    while ((c = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
        if (c == 'd') {
            want_dump = 1;
            continue;
        }
        fprintf(c == 'h' ? stdout : stderr, "usage: bench_space [SECONDS]\n%s", dump_usage);
        return c == 'h' ? 0 : 2;
    }
    if (want_dump)
        return dump(argc - optind, argv + optind);
    double seconds = optind < argc ? strtod(argv[optind], NULL) : 1.0;
    int rc = bench(LUT_SPACE_MOBILENETV2, "mobilenetv2", seconds);
    if (rc == 0)
        rc = bench(LUT_SPACE_XCEPTION65, "xception65", seconds);
    return rc;
}

/*
 * test_space.c — search spaces: the DeepLabV3+ builders against the numbers
 * of the public models (and of the PyTorch twin, fmas_twin), genome
 * validation, subnet counts, the distinct layer set, and the coster against
 * full expansion + lut_table_sum.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "space.h"

#define MNV2 LUT_SPACE_MOBILENETV2
#define XC65 LUT_SPACE_XCEPTION65

/* ------------------------------------------------------------- helpers */

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

static void random_genome(const lut_space *s, uint64_t *rng, int *genome)
{
    for (size_t i = 0; i < lut_space_gene_count(s); i++)
        genome[i] = (int)(rng_next(rng) % lut_space_gene_at(s, i)->n_choices);
}

static lut_space *make_space(const char *builder, int64_t input_size,
                             int64_t num_classes, int64_t os)
{
    lut_space_params p;
    lut_space *s = NULL;
    lut_error err;
    lut_space_params_default(&p);
    p.input_size = input_size;
    p.num_classes = num_classes;
    p.output_stride = os;
    memset(&err, 0, sizeof err);
    if (lut_space_create(&s, "test-space", NULL, builder, &p, &err) != 0)
        fail_msg("create %s: %s: %s", builder, err.field, err.reason);
    return s;
}

static const lut_space_layer *find_layer(const lut_space_layer *layers,
                                         size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(layers[i].name, name))
            return &layers[i];
    fail_msg("no layer %s", name);
    return NULL;
}

/* A table of every key of keys[] except those with (i % skip == 0), with
 * latency i + 0.25; skip 0 keeps all. */
static lut_table *make_table(const char *name, uint64_t version,
                             const lut_key *keys, size_t n, size_t skip)
{
    lut_device dev;
    lut_entry *rows = calloc(n ? n : 1, sizeof *rows);
    lut_table *t = NULL;
    size_t m = 0;
    assert_non_null(rows);
    memset(&dev, 0, sizeof dev);
    snprintf(dev.name, sizeof dev.name, "%s", name);
    snprintf(dev.unit, sizeof dev.unit, "us");
    dev.lut_version = version;
    for (size_t i = 0; i < n; i++) {
        if (skip && i % skip == 0)
            continue;
        rows[m].key = keys[i];
        rows[m].latency.mean = (double)i + 0.25;
        rows[m].latency.count = 1;
        m++;
    }
    assert_int_equal(lut_table_build(&dev, rows, m, &t), 0);
    free(rows);
    return t;
}

/* --------------------------------------------------- mobilenetv2 shape */

static void test_mnv2_max_genome(void **state)
{
    lut_space *s = make_space(MNV2, 513, 21, 16);
    int genome[64];
    lut_space_layer *L = NULL;
    lut_space_totals tot;
    (void)state;

    lut_space_genome_max(s, genome);
    assert_int_equal(lut_space_expand(s, genome, &L, &tot, NULL), 0);
    /* deeplabv3plus_mobilenet of DeepLabV3Plus-Pytorch, 21 classes; the
     * twin (fmas_twin layers) gives the same three numbers. */
    assert_int_equal(tot.params, 5225717);
    assert_int_equal(tot.layers, 76);
    assert_int_equal(tot.macs, 16817423360ull);
    assert_int_equal(lut_space_max_layers(s), 76);

    assert_string_equal(L[0].name, "backbone.low_level_features.0.0");
    assert_string_equal(L[0].key.op, "conv2d");
    assert_int_equal(L[0].key.h, 513);
    assert_int_equal(L[0].key.pad, 0);
    assert_int_equal(L[0].cost.out_h, 256);
    assert_string_equal(L[tot.layers - 1].name, "upsample");
    assert_int_equal(L[tot.layers - 1].key.out_h, 513);
    free(L);
    lut_space_free(s);
}

static void test_mnv2_sizes_513(void **state)
{
    lut_space *s = make_space(MNV2, 513, 21, 16);
    int genome[64];
    lut_space_layer *L = NULL;
    lut_space_totals tot;
    const lut_space_layer *x;
    size_t n;
    (void)state;

    lut_space_genome_max(s, genome);
    assert_int_equal(lut_space_expand(s, genome, &L, &tot, NULL), 0);
    n = tot.layers;

    /* block 1 (t = 1): dw on the 256 map padded to 258, no expansion */
    x = find_layer(L, n, "backbone.low_level_features.1.conv.0.0");
    assert_int_equal(x->key.groups, 32);
    assert_int_equal(x->key.h, 258);
    assert_int_equal(x->cost.out_h, 256);
    x = find_layer(L, n, "backbone.low_level_features.1.conv.1");
    assert_int_equal(x->key.cout, 16);
    /* block 2: the expansion runs on the padded map; stride 2 -> 128 */
    x = find_layer(L, n, "backbone.low_level_features.2.conv.0.0");
    assert_int_equal(x->key.cin, 16);
    assert_int_equal(x->key.cout, 96);
    assert_int_equal(x->key.h, 258);
    x = find_layer(L, n, "backbone.low_level_features.2.conv.1.0");
    assert_int_equal(x->key.stride, 2);
    assert_int_equal(x->cost.out_h, 128);
    /* block 3 is residual: its add, at 128 (the low-level map) */
    x = find_layer(L, n, "backbone.low_level_features.3.add");
    assert_int_equal(x->key.cin, 24);
    assert_int_equal(x->key.h, 128);
    x = find_layer(L, n, "backbone.high_level_features.4.conv.1.0");
    assert_int_equal(x->cost.out_h, 64);
    x = find_layer(L, n, "backbone.high_level_features.7.conv.1.0");
    assert_int_equal(x->cost.out_h, 32);
    /* output stride 16: block 14 stride 1 dilation 1, 15..17 dilation 2 */
    x = find_layer(L, n, "backbone.high_level_features.14.conv.1.0");
    assert_int_equal(x->key.stride, 1);
    assert_int_equal(x->key.dilation, 1);
    assert_int_equal(x->key.h, 34);
    x = find_layer(L, n, "backbone.high_level_features.15.conv.1.0");
    assert_int_equal(x->key.dilation, 2);
    assert_int_equal(x->key.h, 36);
    assert_int_equal(x->cost.out_h, 32);
    x = find_layer(L, n, "backbone.high_level_features.17.conv.2");
    assert_int_equal(x->key.cout, 320);
    assert_int_equal(x->cost.out_h, 32);
    /* head */
    x = find_layer(L, n, "classifier.project.0");
    assert_int_equal(x->key.cin, 24);
    assert_int_equal(x->key.cout, 48);
    assert_int_equal(x->key.h, 128);
    x = find_layer(L, n, "classifier.aspp.convs.3.0");
    assert_int_equal(x->key.dilation, 18);
    assert_int_equal(x->key.pad, 18);
    assert_int_equal(x->key.h, 32);
    x = find_layer(L, n, "classifier.aspp.convs.4.0");
    assert_string_equal(x->key.op, "global_avgpool");
    x = find_layer(L, n, "classifier.aspp.concat");
    assert_int_equal(x->key.cout, 1280);
    x = find_layer(L, n, "classifier.upsample");
    assert_int_equal(x->key.h, 32);
    assert_int_equal(x->key.out_h, 128);
    x = find_layer(L, n, "classifier.classifier.0");
    assert_int_equal(x->key.cin, 304);
    assert_int_equal(x->key.k, 3);
    x = find_layer(L, n, "classifier.classifier.3");
    assert_int_equal(x->key.bias, 1);
    assert_int_equal(x->key.bn, 0);
    assert_int_equal(x->cost.params, 256 * 21 + 21);
    free(L);
    lut_space_free(s);
}

static void test_mnv2_min_genome(void **state)
{
    lut_space *s = make_space(MNV2, 513, 21, 16);
    int genome[64];
    lut_space_layer *L = NULL;
    lut_space_totals tot;
    (void)state;

    lut_space_genome_min(s, genome);
    assert_int_equal(lut_space_expand(s, genome, &L, &tot, NULL), 0);
    /* skipped residual blocks, x2 expansions, only ASPP branch 0 (so no
     * ASPP concatenation), the narrowest widths; as the twin. */
    assert_int_equal(tot.layers, 29);
    assert_int_equal(tot.macs, 1262049792ull);
    assert_int_equal(tot.params, 319573);
    for (size_t i = 0; i < tot.layers; i++) {
        assert_null(strstr(L[i].name, "aspp.concat"));
        assert_null(strstr(L[i].name, ".add"));
    }
    free(L);
    lut_space_free(s);
}

static void test_mnv2_other_sizes(void **state)
{
    /* totals the twin gives for the max and min genomes */
    static const struct {
        int64_t size;
        uint64_t max_macs, min_macs;
    } cases[] = {{321, 6612435968ull, 497816064ull},
                 {100, 722169536ull, 54692304ull},
                 {32, 83642496ull, 6860928ull}};
    (void)state;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        lut_space *s = make_space(MNV2, cases[c].size, 21, 16);
        lut_key keys[128];
        int genome[64];
        lut_space_totals tot;
        lut_space_genome_max(s, genome);
        assert_int_equal(lut_space_expand_keys(s, genome, keys, 128, &tot), 0);
        assert_int_equal(tot.macs, cases[c].max_macs);
        assert_int_equal(tot.params, 5225717);
        lut_space_genome_min(s, genome);
        assert_int_equal(lut_space_expand_keys(s, genome, keys, 128, &tot), 0);
        assert_int_equal(tot.macs, cases[c].min_macs);
        assert_int_equal(tot.params, 319573);
        lut_space_free(s);
    }
}

static void test_mnv2_genes(void **state)
{
    static const int keep_blocks[] = {3, 5, 6, 8, 9, 10, 12, 13, 15, 16};
    lut_space *s = make_space(MNV2, 513, 21, 16);
    char expect[64][LUT_SPACE_GENE_NAME_MAX];
    size_t n = 0;
    char count[LUT_SPACE_COUNT_MAX];
    (void)state;

    for (int i = 2; i <= 17; i++) {
        for (size_t j = 0; j < 10; j++)
            if (keep_blocks[j] == i)
                snprintf(expect[n++], sizeof expect[0], "features.%d.keep", i);
        snprintf(expect[n++], sizeof expect[0], "features.%d.expand", i);
    }
    snprintf(expect[n++], sizeof expect[0], "aspp.branch1");
    snprintf(expect[n++], sizeof expect[0], "aspp.branch2");
    snprintf(expect[n++], sizeof expect[0], "aspp.branch3");
    snprintf(expect[n++], sizeof expect[0], "aspp.pool");
    snprintf(expect[n++], sizeof expect[0], "aspp.width");
    snprintf(expect[n++], sizeof expect[0], "decoder.low_level");
    snprintf(expect[n++], sizeof expect[0], "decoder.width");
    assert_int_equal(n, 33);
    assert_int_equal(lut_space_gene_count(s), 33);
    for (size_t i = 0; i < n; i++) {
        const lut_space_gene *g = lut_space_gene_at(s, i);
        assert_string_equal(g->name, expect[i]);
        assert_int_equal(lut_space_gene_index(s, expect[i]), (long)i);
        if (strstr(g->name, ".expand")) {
            assert_int_equal(g->n_choices, 4);
            assert_true(g->choices[0] == 2 && g->choices[3] == 6);
            if (i > 0 && strstr(expect[i - 1], ".keep"))
                assert_int_equal(lut_space_gene_gate(s, i), (long)i - 1);
            else
                assert_int_equal(lut_space_gene_gate(s, i), -1);
        }
    }
    assert_null(lut_space_gene_at(s, 33));
    assert_int_equal(lut_space_gene_index(s, "nope"), -1);
    assert_string_equal(lut_space_builder(s), MNV2);
    assert_true(lut_space_has_builder(s));
    assert_string_equal(lut_space_id(s), "test-space");
    assert_non_null(strstr(lut_space_description(s), "MobileNetV2"));
    assert_int_equal(lut_space_get_params(s)->input_size, 513);

    assert_int_equal(lut_space_count(s, count, sizeof count), 14);
    assert_string_equal(count, "40960000000000");
    assert_int_equal(lut_space_count(s, count, 14), LUT_EINVAL);
    lut_space_free(s);
}

static void test_mnv2_output_stride_8(void **state)
{
    lut_space *s = make_space(MNV2, 513, 21, 8);
    int genome[64];
    lut_space_layer *L = NULL;
    lut_space_totals tot;
    const lut_space_layer *x;
    (void)state;

    lut_space_genome_max(s, genome);
    assert_int_equal(lut_space_expand(s, genome, &L, &tot, NULL), 0);
    assert_int_equal(tot.params, 5225717);
    x = find_layer(L, tot.layers, "backbone.high_level_features.7.conv.1.0");
    assert_int_equal(x->key.stride, 1);
    assert_int_equal(x->cost.out_h, 64);
    x = find_layer(L, tot.layers, "classifier.aspp.convs.1.0");
    assert_int_equal(x->key.dilation, 12);
    assert_int_equal(x->key.h, 64);
    free(L);
    lut_space_free(s);
}

/* ------------------------------------------------------------ xception */

static void test_xception_max_min(void **state)
{
    lut_space *s = make_space(XC65, 513, 21, 16);
    int genome[64];
    lut_space_layer *L = NULL;
    lut_space_totals tot;
    const lut_space_layer *x;
    char count[LUT_SPACE_COUNT_MAX];
    (void)state;

    assert_int_equal(lut_space_gene_count(s), 42);
    assert_string_equal(lut_space_gene_at(s, 0)->name, "middle.0.keep");
    assert_string_equal(lut_space_gene_at(s, 31)->name, "middle.15.width");
    assert_int_equal(lut_space_gene_gate(s, 31), 30);
    assert_string_equal(lut_space_gene_at(s, 32)->name, "exit.block.width");
    assert_string_equal(lut_space_gene_at(s, 35)->name, "aspp.branch1");
    assert_int_equal(lut_space_count(s, count, sizeof count), 17);
    assert_string_equal(count, "10000000000000000");

    lut_space_genome_max(s, genome);
    assert_int_equal(lut_space_expand(s, genome, &L, &tot, NULL), 0);
    /* the numbers of the twin's xception65 space (fmas_twin layers) */
    assert_int_equal(tot.layers, 173);
    assert_int_equal(tot.macs, 53933060720ull);
    assert_int_equal(tot.params, 41049269);
    x = find_layer(L, tot.layers, "backbone.conv1");
    assert_int_equal(x->cost.out_h, 257);
    x = find_layer(L, tot.layers, "backbone.block1.skip");
    assert_int_equal(x->key.stride, 2);
    assert_int_equal(x->cost.out_h, 129);
    x = find_layer(L, tot.layers, "backbone.block19.rep.7.pointwise");
    assert_int_equal(x->key.cout, 728);
    assert_int_equal(x->key.h, 33);
    x = find_layer(L, tot.layers, "backbone.conv5.conv1");
    assert_int_equal(x->key.dilation, 2);
    x = find_layer(L, tot.layers, "classifier.aspp.convs.2.0");
    assert_int_equal(x->key.groups, 2048);
    assert_int_equal(x->key.dilation, 12);
    x = find_layer(L, tot.layers, "classifier.classifier.2");
    assert_int_equal(x->key.bias, 1);
    x = find_layer(L, tot.layers, "classifier.project.0");
    assert_int_equal(x->key.cin, 128);
    assert_int_equal(x->key.h, 129);
    free(L);

    lut_space_genome_min(s, genome);
    assert_int_equal(lut_space_expand(s, genome, &L, &tot, NULL), 0);
    assert_int_equal(tot.layers, 51);
    assert_int_equal(tot.macs, 12554779950ull);
    assert_int_equal(tot.params, 4443115);
    free(L);
    lut_space_free(s);

    s = make_space(XC65, 321, 21, 16);
    lut_space_genome_max(s, genome);
    assert_int_equal(lut_space_expand(s, genome, &L, &tot, NULL), 0);
    assert_int_equal(tot.macs, 21727433648ull);
    assert_int_equal(tot.params, 41049269);
    free(L);
    lut_space_free(s);
}

/* ------------------------------------------------------------- genomes */

static void test_genome_errors(void **state)
{
    lut_space *s = make_space(MNV2, 513, 21, 16);
    int64_t idx[40] = {0};
    int genome[40];
    lut_error err;
    const char *names[40];
    double values[40];
    (void)state;

    assert_int_equal(lut_space_genome_from_indices(s, idx, 5, genome, &err),
                     LUT_EINVAL);
    assert_string_equal(err.field, "length");
    assert_string_equal(err.reason, "genome has 5 genes; the space has 33");
    assert_int_equal(err.row, -1);

    idx[2] = 7; /* features.3.expand */
    assert_int_equal(lut_space_genome_from_indices(s, idx, 33, genome, &err),
                     LUT_EINVAL);
    assert_string_equal(err.field, "features.3.expand");
    assert_string_equal(err.reason, "index 7 out of range 0..3");
    idx[2] = -1;
    assert_int_equal(lut_space_genome_from_indices(s, idx, 33, genome, &err),
                     LUT_EINVAL);
    assert_string_equal(err.reason, "index -1 out of range 0..3");
    idx[2] = 3;
    assert_int_equal(lut_space_genome_from_indices(s, idx, 33, genome, &err),
                     0);
    assert_int_equal(genome[2], 3);
    idx[1] = 2; /* features.3.keep */
    assert_int_equal(lut_space_genome_from_indices(s, idx, 33, genome, &err),
                     LUT_EINVAL);
    assert_string_equal(err.field, "features.3.keep");
    assert_string_equal(err.reason, "index 2 out of range 0..1");

    genome[32] = 4;
    assert_int_equal(lut_space_genome_check(s, genome, &err), LUT_EINVAL);
    assert_string_equal(err.field, "decoder.width");
    assert_int_equal(lut_space_expand_keys(s, genome, NULL, 0, NULL),
                     LUT_EINVAL);

    /* by name */
    for (size_t i = 0; i < 33; i++) {
        const lut_space_gene *g = lut_space_gene_at(s, i);
        names[i] = g->name;
        values[i] = g->choices[0];
    }
    assert_int_equal(
        lut_space_genome_from_values(s, names, values, 33, genome, &err), 0);
    values[0] = 5; /* features.2.expand */
    assert_int_equal(
        lut_space_genome_from_values(s, names, values, 33, genome, &err),
        LUT_EINVAL);
    assert_string_equal(err.field, "features.2.expand");
    assert_string_equal(err.reason,
                        "value 5 is not among the choices [2, 3, 4, 6]");
    values[0] = 2.5;
    assert_int_equal(
        lut_space_genome_from_values(s, names, values, 33, genome, &err),
        LUT_EINVAL);
    assert_string_equal(err.reason,
                        "value 2.5 is not among the choices [2, 3, 4, 6]");
    values[0] = 2;

    assert_int_equal(
        lut_space_genome_from_values(s, names, values, 32, genome, &err),
        LUT_EINVAL);
    assert_string_equal(err.field, "decoder.width");
    assert_string_equal(err.reason, "missing");

    names[5] = "features.99.keep";
    assert_int_equal(
        lut_space_genome_from_values(s, names, values, 33, genome, &err),
        LUT_EINVAL);
    assert_string_equal(err.field, "features.99.keep");
    assert_string_equal(err.reason, "unknown gene \"features.99.keep\"");

    names[5] = names[4];
    assert_int_equal(
        lut_space_genome_from_values(s, names, values, 33, genome, &err),
        LUT_EINVAL);
    assert_string_equal(err.field, names[4]);
    assert_string_equal(err.reason, "given twice");
    lut_space_free(s);
}

static void test_genome_named_equals_indices(void **state)
{
    lut_space *s = make_space(XC65, 513, 21, 16);
    uint64_t rng = 42;
    size_t n = lut_space_gene_count(s);
    (void)state;

    for (int r = 0; r < 200; r++) {
        int a[64], b[64];
        int64_t idx[64];
        const char *names[64];
        double values[64];
        random_genome(s, &rng, a);
        /* names in reverse order: order must not matter */
        for (size_t i = 0; i < n; i++) {
            const lut_space_gene *g = lut_space_gene_at(s, n - 1 - i);
            names[i] = g->name;
            values[i] = g->choices[a[n - 1 - i]];
            idx[i] = a[i];
        }
        assert_int_equal(
            lut_space_genome_from_values(s, names, values, n, b, NULL), 0);
        assert_memory_equal(a, b, n * sizeof a[0]);
        assert_int_equal(lut_space_genome_from_indices(s, idx, n, b, NULL), 0);
        assert_memory_equal(a, b, n * sizeof a[0]);
    }
    lut_space_free(s);
}

static void test_genome_canonicalize(void **state)
{
    lut_space *s = make_space(MNV2, 513, 21, 16);
    long keep = lut_space_gene_index(s, "features.3.keep");
    long expand = lut_space_gene_index(s, "features.3.expand");
    int a[64], b[64];
    lut_space_totals ta, tb;
    lut_key keys[128];
    (void)state;

    lut_space_genome_max(s, a);
    a[keep] = 0;
    memcpy(b, a, sizeof a);
    b[expand] = 1;
    assert_int_equal(lut_space_expand_keys(s, a, keys, 128, &ta), 0);
    assert_int_equal(lut_space_expand_keys(s, b, keys, 128, &tb), 0);
    assert_int_equal(ta.macs, tb.macs);
    assert_int_equal(ta.layers, 76 - 4);
    lut_space_genome_canonicalize(s, a);
    lut_space_genome_canonicalize(s, b);
    assert_memory_equal(a, b, 33 * sizeof a[0]);
    assert_int_equal(a[expand], 0);
    lut_space_free(s);
}

/* -------------------------------------------------------- builder args */

static void test_create_errors(void **state)
{
    static const struct {
        const char *id, *builder;
        int64_t size, classes, os;
        const char *field;
    } cases[] = {
        {"ok", MNV2, 31, 21, 16, "input_size"},
        {"ok", MNV2, 2049, 21, 16, "input_size"},
        {"ok", MNV2, 513, 0, 16, "num_classes"},
        {"ok", XC65, 513, 1001, 16, "num_classes"},
        {"ok", MNV2, 513, 21, 32, "output_stride"},
        {"ok", MNV2, 513, 21, 4, "output_stride"},
        {"ok", "resnet", 513, 21, 16, "builder"},
        {"ok", NULL, 513, 21, 16, "builder"},
        {"Bad Id", MNV2, 513, 21, 16, "id"},
        {"", MNV2, 513, 21, 16, "id"},
    };
    (void)state;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        lut_space_params p = {cases[c].size, cases[c].classes, cases[c].os};
        lut_space *s = (lut_space *)1;
        lut_error err;
        memset(&err, 0, sizeof err);
        assert_int_equal(
            lut_space_create(&s, cases[c].id, NULL, cases[c].builder, &p, &err),
            LUT_EINVAL);
        assert_null(s);
        assert_string_equal(err.field, cases[c].field);
        assert_true(err.reason[0] != '\0');
    }
    /* the bounds themselves are fine */
    {
        lut_space_params p = {32, 1, 16};
        lut_space *s = NULL;
        assert_int_equal(lut_space_create(&s, "a", "mine", MNV2, &p, NULL), 0);
        assert_string_equal(lut_space_description(s), "mine");
        lut_space_free(s);
        p.input_size = 2048;
        p.num_classes = 1000;
        assert_int_equal(lut_space_create(&s, "b", NULL, XC65, &p, NULL), 0);
        lut_space_free(s);
    }
    {
        const char *const *b = lut_space_builders();
        assert_string_equal(b[0], MNV2);
        assert_string_equal(b[1], XC65);
        assert_null(b[2]);
        assert_non_null(lut_space_builder_description(XC65));
        assert_null(lut_space_builder_description("nope"));
    }
}

/* -------------------------------------------------------- categorical */

static void test_categorical(void **state)
{
    static const double lr[] = {0.001, 0.01, 0.1};
    static const double depth[] = {4, 8};
    static const double one[] = {7};
    static const double bad_dup[] = {1, 2, 1};
    lut_space_gene genes[3] = {
        {"lr", lr, 3}, {"depth", depth, 2}, {"fixed", one, 1}};
    lut_space *s = NULL;
    lut_error err;
    char count[LUT_SPACE_COUNT_MAX];
    int genome[3];
    const char *names[3] = {"depth", "fixed", "lr"};
    double values[3] = {8, 7, 0.01};
    lut_space_layer *L = (lut_space_layer *)1;
    lut_key *keys = NULL;
    size_t nkeys = 9;
    lut_space_coster *c = NULL;
    (void)state;

    assert_int_equal(lut_space_create_categorical(&s, "surrogate-x", "external",
                                                  genes, 3, &err),
                     0);
    assert_false(lut_space_has_builder(s));
    assert_string_equal(lut_space_builder(s), "");
    assert_int_equal(lut_space_get_params(s)->input_size, 0);
    assert_int_equal(lut_space_gene_count(s), 3);
    assert_int_equal(lut_space_max_layers(s), 0);
    assert_int_equal(lut_space_count(s, count, sizeof count), 1);
    assert_string_equal(count, "6");
    assert_int_equal(
        lut_space_genome_from_values(s, names, values, 3, genome, &err), 0);
    assert_int_equal(genome[0], 1);
    assert_int_equal(genome[1], 1);
    assert_int_equal(genome[2], 0);
    values[2] = 0.2;
    assert_int_equal(
        lut_space_genome_from_values(s, names, values, 3, genome, &err),
        LUT_EINVAL);
    assert_string_equal(err.field, "lr");
    assert_string_equal(err.reason,
                        "value 0.2 is not among the choices [0.001, 0.01, "
                        "0.1]");
    lut_space_genome_max(s, genome);
    assert_int_equal(genome[0], 2);
    assert_int_equal(lut_space_expand(s, genome, &L, NULL, &err), LUT_EINVAL);
    assert_null(L);
    assert_string_equal(err.field, "builder");
    assert_int_equal(lut_space_layer_keys(s, &keys, &nkeys), 0);
    assert_int_equal(nkeys, 0);
    free(keys);
    assert_int_equal(lut_space_coster_build(s, NULL, 0, &c), LUT_EINVAL);
    assert_null(c);
    lut_space_free(s);

    /* invalid definitions */
    genes[1].name = "lr";
    assert_int_equal(
        lut_space_create_categorical(&s, "x", NULL, genes, 3, &err),
        LUT_EINVAL);
    assert_string_equal(err.field, "lr");
    assert_string_equal(err.reason, "gene name given twice");
    genes[1].name = "bad name";
    assert_int_equal(
        lut_space_create_categorical(&s, "x", NULL, genes, 3, &err),
        LUT_EINVAL);
    assert_string_equal(err.field, "genes/1/name");
    genes[1].name = "depth";
    genes[1].n_choices = 0;
    assert_int_equal(
        lut_space_create_categorical(&s, "x", NULL, genes, 3, &err),
        LUT_EINVAL);
    assert_string_equal(err.field, "depth");
    genes[1].choices = bad_dup;
    genes[1].n_choices = 3;
    assert_int_equal(
        lut_space_create_categorical(&s, "x", NULL, genes, 3, &err),
        LUT_EINVAL);
    assert_string_equal(err.reason, "choice 1 is given twice");
    assert_int_equal(
        lut_space_create_categorical(&s, "x", NULL, genes, 0, &err),
        LUT_EINVAL);
    assert_string_equal(err.field, "genes");
    assert_null(s);
}

static void test_categorical_big_count(void **state)
{
    /* 100 genes of 256 choices: 256^100, far beyond 64 bits */
    static const char expect[] =
        "66680144328798542740798517907212577971447583223159081603962578117640"
        "37237817632071521432200871554290742929910593433240445888801654119365"
        "08036335605233083004609515757951401455846307828591181402472896501613"
        "5886601981690748037476461291163877376";
    double choices[256];
    lut_space_gene genes[100];
    char names[100][16];
    char count[LUT_SPACE_COUNT_MAX];
    lut_space *s = NULL;
    (void)state;

    for (int i = 0; i < 256; i++)
        choices[i] = i;
    for (int i = 0; i < 100; i++) {
        snprintf(names[i], sizeof names[i], "g%d", i);
        genes[i].name = names[i];
        genes[i].choices = choices;
        genes[i].n_choices = 256;
    }
    assert_int_equal(
        lut_space_create_categorical(&s, "big", NULL, genes, 100, NULL), 0);
    assert_int_equal(lut_space_count(s, count, sizeof count),
                     (int)strlen(expect));
    assert_string_equal(count, expect);
    lut_space_free(s);
}

/* -------------------------------------------------- distinct layer set */

/* Every layer of 1000 random expansions (plus max and min) is in the set,
 * and every key of the set is used by one of them. A table whose latency is
 * the key's index in the set finds a layer's index in one lookup. */
static void check_layer_set(const char *builder, int64_t size)
{
    lut_space *s = make_space(builder, size, 21, 16);
    lut_key *set = NULL, keys[256];
    size_t nset = 0;
    lut_table *index;
    char *used;
    uint64_t rng = 7;

    assert_int_equal(lut_space_layer_keys(s, &set, &nset), 0);
    assert_true(nset > 0);
    for (size_t i = 0; i < nset; i++)
        for (size_t j = i + 1; j < nset && j < i + 8; j++)
            assert_false(lut_key_equal(&set[i], &set[j]));
    index = make_table("index", 1, set, nset, 0);
    used = calloc(nset, 1);
    assert_non_null(used);
    for (int r = 0; r < 1002; r++) {
        int genome[64];
        lut_space_totals tot;
        if (r == 0)
            lut_space_genome_max(s, genome);
        else if (r == 1)
            lut_space_genome_min(s, genome);
        else
            random_genome(s, &rng, genome);
        assert_int_equal(lut_space_expand_keys(s, genome, keys, 256, &tot), 0);
        for (size_t i = 0; i < tot.layers; i++) {
            const lut_entry *e = lut_table_find(index, &keys[i]);
            assert_non_null(e);
            used[(size_t)e->latency.mean] = 1;
        }
    }
    for (size_t i = 0; i < nset; i++)
        assert_true(used[i]);
    free(used);
    free(set);
    lut_table_release(index);
    lut_space_free(s);
}

static void test_layer_set(void **state)
{
    (void)state;
    check_layer_set(MNV2, 513);
    check_layer_set(MNV2, 321);
    check_layer_set(XC65, 513);
}

/* ------------------------------------------------------------- coster */

static void check_coster(const char *builder, int64_t size)
{
    lut_space *s = make_space(builder, size, 21, 16);
    lut_key *set = NULL, keys[256];
    size_t nset = 0;
    lut_table *tables[2];
    lut_space_coster *c = NULL, *c0 = NULL;
    uint64_t rng = 11;

    assert_int_equal(lut_space_layer_keys(s, &set, &nset), 0);
    /* both miss some keys, different ones */
    tables[0] = make_table("dev-a", 3, set, nset, 7);
    tables[1] = make_table("dev-b", 9, set, nset, 3);
    assert_int_equal(
        lut_space_coster_build(s, (const lut_table *const *)tables, 2, &c), 0);
    assert_int_equal(lut_space_coster_build(s, NULL, 0, &c0), 0);
    assert_int_equal(lut_space_coster_table_count(c), 2);
    assert_int_equal(lut_space_coster_version(c, 0), 3);
    assert_int_equal(lut_space_coster_version(c, 1), 9);
    assert_int_equal(lut_space_coster_version(c, 2), 0);
    assert_true(
        lut_space_coster_current(c, (const lut_table *const *)tables, 2));
    assert_false(
        lut_space_coster_current(c, (const lut_table *const *)tables, 1));
    assert_true(lut_space_coster_bytes(c) < 64 * 1024);

    for (int r = 0; r < 200; r++) {
        int genome[64];
        lut_space_totals te, tc, t0;
        lut_sum sc[2], se;
        size_t missing_total = 0;
        random_genome(s, &rng, genome);
        if (r == 0)
            lut_space_genome_max(s, genome);
        assert_int_equal(lut_space_expand_keys(s, genome, keys, 256, &te), 0);
        assert_int_equal(lut_space_cost(c, genome, &tc, sc), 0);
        assert_int_equal(lut_space_cost(c0, genome, &t0, NULL), 0);
        assert_int_equal(tc.layers, te.layers);
        assert_int_equal(tc.macs, te.macs);
        assert_int_equal(tc.params, te.params);
        assert_memory_equal(&t0, &tc, sizeof t0);
        for (int t = 0; t < 2; t++) {
            double tol;
            lut_table_sum(tables[t], keys, te.layers, &se, NULL, 0);
            assert_int_equal(sc[t].hits, se.hits);
            assert_int_equal(sc[t].missing, se.missing);
            assert_int_equal(sc[t].hits + sc[t].missing, te.layers);
            tol = 1e-9 * (se.total > 1 ? se.total : 1);
            assert_true(sc[t].total - se.total < tol &&
                        se.total - sc[t].total < tol);
            missing_total += se.missing;
        }
        assert_true(missing_total > 0); /* the tables really miss keys */
    }
    {
        int genome[64];
        lut_space_totals tot;
        lut_space_genome_max(s, genome);
        genome[0] = 9;
        assert_int_equal(lut_space_cost(c, genome, &tot, NULL), LUT_EINVAL);
    }
    lut_space_coster_free(c);
    lut_space_coster_free(c0);
    lut_table_release(tables[0]);
    lut_table_release(tables[1]);
    free(set);
    lut_space_free(s);
}

static void test_coster(void **state)
{
    (void)state;
    check_coster(MNV2, 513);
    check_coster(MNV2, 257);
    check_coster(XC65, 513);
}

static void test_coster_empty_table(void **state)
{
    lut_space *s = make_space(MNV2, 513, 21, 16);
    lut_table *empty = NULL;
    lut_space_coster *c = NULL;
    int genome[64];
    lut_space_totals tot;
    lut_sum sum;
    (void)state;

    assert_int_equal(lut_table_build(NULL, NULL, 0, &empty), 0);
    assert_int_equal(
        lut_space_coster_build(s, (const lut_table *const *)&empty, 1, &c), 0);
    assert_int_equal(lut_space_coster_version(c, 0), 0);
    lut_space_genome_max(s, genome);
    assert_int_equal(lut_space_cost(c, genome, &tot, &sum), 0);
    assert_int_equal(sum.hits, 0);
    assert_int_equal(sum.missing, 76); /* missing layers are counted */
    assert_true(sum.total == 0);
    lut_space_coster_free(c);
    lut_table_release(empty);
    lut_space_free(s);
}

static void test_expand_keys_short(void **state)
{
    lut_space *s = make_space(MNV2, 513, 21, 16);
    lut_key keys[76];
    int genome[64];
    (void)state;
    lut_space_genome_max(s, genome);
    assert_int_equal(lut_space_expand_keys(s, genome, keys, 75, NULL),
                     LUT_EINVAL);
    assert_int_equal(lut_space_expand_keys(s, genome, keys, 76, NULL), 0);
    lut_space_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mnv2_max_genome),
        cmocka_unit_test(test_mnv2_sizes_513),
        cmocka_unit_test(test_mnv2_min_genome),
        cmocka_unit_test(test_mnv2_other_sizes),
        cmocka_unit_test(test_mnv2_genes),
        cmocka_unit_test(test_mnv2_output_stride_8),
        cmocka_unit_test(test_xception_max_min),
        cmocka_unit_test(test_genome_errors),
        cmocka_unit_test(test_genome_named_equals_indices),
        cmocka_unit_test(test_genome_canonicalize),
        cmocka_unit_test(test_create_errors),
        cmocka_unit_test(test_categorical),
        cmocka_unit_test(test_categorical_big_count),
        cmocka_unit_test(test_layer_set),
        cmocka_unit_test(test_coster),
        cmocka_unit_test(test_coster_empty_table),
        cmocka_unit_test(test_expand_keys_short),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

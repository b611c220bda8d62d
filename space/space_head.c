/*
 * space_head.c — the DeepLabV3+ head (ASPP and decoder) shared by the
 * builders, as DeepLabV3Plus-Pytorch's DeepLabHeadV3Plus (network/
 * _deeplab.py) lays it out, with its widths and branches made genes.
 *
 * Forward order: classifier.project (low-level 1x1); ASPP branch 0 (1x1),
 * the kept atrous branches 1..3, the kept image-pooling branch 4 (pool,
 * 1x1 conv, upsample back); the concatenation of the kept branches (absent
 * when only branch 0 is left: there is nothing to concatenate); the ASPP
 * projection; the upsampling to the low-level size; the concatenation with
 * the projected low-level map; the decoder convs; the final 1x1 classifier;
 * the upsampling to the input size.
 *
 * Plain heads (MobileNetV2) use 3x3 convs for the atrous branches and the
 * decoder (classifier.classifier.0, then .3 for the classifier). Separable
 * heads (Xception-65, as in the paper) split each of them into a depthwise
 * 3x3 + BN (child 0) and a pointwise 1x1 + BN (child 3), the decoder having
 * two of them (classifier.classifier.0 and .1) before the classifier (.2).
 */
#include <stdio.h>

#include "space_head.h"

static const double keep_choices[] = {0, 1};
static const double aspp_width_choices[] = {64, 128, 192, 256};
static const double low_level_choices[] = {16, 24, 32, 48};
static const double decoder_width_choices[] = {64, 128, 192, 256};

/* Segment args shared by every head generator. */
enum {
    A_H,
    A_W,
    A_HL,
    A_WL,
    A_CIN,
    A_LOW_CIN,
    A_SEPARABLE,
    A_CLASSES,
    A_INPUT,
    A_BRANCH,
    A_RATE,
    A_NARGS
};

/* A depthwise 3x3 + BN then a pointwise 1x1 + BN, children 0 and 3 of a
 * SeparableConvBNReLU called name. */
static int emit_separable(Lut_space_emitter *em, int64_t cin, int64_t cout,
                          int64_t d, int64_t h, int64_t w, const char *name)
{
    int rc = Lut_space_emit(em,
                            &(Lut_space_spec){.op = "conv2d",
                                              .cin = cin,
                                              .cout = cin,
                                              .k = 3,
                                              .dilation = d,
                                              .groups = cin,
                                              .pad = d,
                                              .h = h,
                                              .w = w,
                                              .bn = 1},
                            "%s.0", name);
    if (rc == 0)
        rc = Lut_space_emit(em,
                            &(Lut_space_spec){.op = "conv2d",
                                              .cin = cin,
                                              .cout = cout,
                                              .h = h,
                                              .w = w,
                                              .bn = 1},
                            "%s.3", name);
    return rc;
}

/* Genes: decoder.low_level. */
static int gen_project(const Lut_space_segment *seg, const Lut_space_values *v,
                       Lut_space_emitter *em)
{
    return Lut_space_emit(em,
                          &(Lut_space_spec){.op = "conv2d",
                                            .cin = seg->arg[A_LOW_CIN],
                                            .cout = v->i[0],
                                            .h = seg->arg[A_HL],
                                            .w = seg->arg[A_WL],
                                            .bn = 1},
                          "classifier.project.0");
}

/* Genes: aspp.width (branch 0), or branch<j>, aspp.width. */
static int gen_aspp_conv(const Lut_space_segment *seg,
                         const Lut_space_values *v, Lut_space_emitter *em)
{
    const int64_t *a = seg->arg;
    int64_t j = a[A_BRANCH], r = a[A_RATE], A;
    char name[48];

    if (j == 0)
        return Lut_space_emit(em,
                              &(Lut_space_spec){.op = "conv2d",
                                                .cin = a[A_CIN],
                                                .cout = v->i[0],
                                                .h = a[A_H],
                                                .w = a[A_W],
                                                .bn = 1},
                              "classifier.aspp.convs.0.0");
    if (v->i[0] == 0)
        return 0;
    A = v->i[1];
    if (a[A_SEPARABLE]) {
        snprintf(name, sizeof name, "classifier.aspp.convs.%lld", (long long)j);
        return emit_separable(em, a[A_CIN], A, r, a[A_H], a[A_W], name);
    }
    return Lut_space_emit(em,
                          &(Lut_space_spec){.op = "conv2d",
                                            .cin = a[A_CIN],
                                            .cout = A,
                                            .k = 3,
                                            .dilation = r,
                                            .pad = r,
                                            .h = a[A_H],
                                            .w = a[A_W],
                                            .bn = 1},
                          "classifier.aspp.convs.%lld.0", (long long)j);
}

/* Genes: aspp.pool, aspp.width. */
static int gen_aspp_pool(const Lut_space_segment *seg,
                         const Lut_space_values *v, Lut_space_emitter *em)
{
    const int64_t *a = seg->arg;
    int64_t H = a[A_H], W = a[A_W], A = v->i[1];
    int rc;

    if (v->i[0] == 0)
        return 0;
    rc = Lut_space_emit(
        em,
        &(Lut_space_spec){
            .op = "global_avgpool", .cin = a[A_CIN], .h = H, .w = W},
        "classifier.aspp.convs.4.0");
    if (rc == 0)
        rc = Lut_space_emit(em,
                            &(Lut_space_spec){.op = "conv2d",
                                              .cin = a[A_CIN],
                                              .cout = A,
                                              .h = 1,
                                              .w = 1,
                                              .bn = 1},
                            "classifier.aspp.convs.4.1");
    if (rc == 0)
        rc = Lut_space_emit(em,
                            &(Lut_space_spec){.op = "upsample",
                                              .cin = A,
                                              .h = 1,
                                              .w = 1,
                                              .out_h = H,
                                              .out_w = W},
                            "classifier.aspp.convs.4.upsample");
    return rc;
}

/* Genes: branch1, branch2, branch3, pool, aspp.width. */
static int gen_aspp_project(const Lut_space_segment *seg,
                            const Lut_space_values *v, Lut_space_emitter *em)
{
    const int64_t *a = seg->arg;
    int64_t H = a[A_H], W = a[A_W], A = v->i[4];
    int64_t kept =
        1 + (v->i[0] != 0) + (v->i[1] != 0) + (v->i[2] != 0) + (v->i[3] != 0);
    int rc = 0;

    if (kept > 1)
        rc = Lut_space_emit(
            em,
            &(Lut_space_spec){.op = "concat", .cout = A * kept, .h = H, .w = W},
            "classifier.aspp.concat");
    if (rc == 0)
        rc = Lut_space_emit(em,
                            &(Lut_space_spec){.op = "conv2d",
                                              .cin = A * kept,
                                              .cout = A,
                                              .h = H,
                                              .w = W,
                                              .bn = 1},
                            "classifier.aspp.project.0");
    if (rc == 0)
        rc = Lut_space_emit(em,
                            &(Lut_space_spec){.op = "upsample",
                                              .cin = A,
                                              .h = H,
                                              .w = W,
                                              .out_h = a[A_HL],
                                              .out_w = a[A_WL]},
                            "classifier.upsample");
    return rc;
}

/* Genes: decoder.low_level, aspp.width, decoder.width. The concatenation
 * and the decoder conv that reads it. */
static int gen_decoder(const Lut_space_segment *seg, const Lut_space_values *v,
                       Lut_space_emitter *em)
{
    const int64_t *a = seg->arg;
    int64_t Hl = a[A_HL], Wl = a[A_WL], cat = v->i[0] + v->i[1];
    int64_t D = v->i[2];
    int rc;

    rc = Lut_space_emit(
        em, &(Lut_space_spec){.op = "concat", .cout = cat, .h = Hl, .w = Wl},
        "classifier.concat");
    if (rc != 0)
        return rc;
    if (a[A_SEPARABLE])
        return emit_separable(em, cat, D, 1, Hl, Wl, "classifier.classifier.0");
    return Lut_space_emit(em,
                          &(Lut_space_spec){.op = "conv2d",
                                            .cin = cat,
                                            .cout = D,
                                            .k = 3,
                                            .pad = 1,
                                            .h = Hl,
                                            .w = Wl,
                                            .bn = 1},
                          "classifier.classifier.0");
}

/* Genes: decoder.width. The second separable decoder conv (separable heads),
 * the classifier and the upsampling to the input size. */
static int gen_classifier(const Lut_space_segment *seg,
                          const Lut_space_values *v, Lut_space_emitter *em)
{
    const int64_t *a = seg->arg;
    int64_t Hl = a[A_HL], Wl = a[A_WL], nc = a[A_CLASSES], D = v->i[0];
    int rc = 0;

    if (a[A_SEPARABLE])
        rc = emit_separable(em, D, D, 1, Hl, Wl, "classifier.classifier.1");
    if (rc == 0)
        rc = Lut_space_emit(em,
                            &(Lut_space_spec){.op = "conv2d",
                                              .cin = D,
                                              .cout = nc,
                                              .h = Hl,
                                              .w = Wl,
                                              .bias = 1},
                            "classifier.classifier.%d", a[A_SEPARABLE] ? 2 : 3);
    if (rc == 0)
        rc = Lut_space_emit(em,
                            &(Lut_space_spec){.op = "upsample",
                                              .cin = nc,
                                              .h = Hl,
                                              .w = Wl,
                                              .out_h = a[A_INPUT],
                                              .out_w = a[A_INPUT]},
                            "upsample");
    return rc;
}

#define GENE(name, choices)                                                    \
    Lut_space_add_gene(b, name, choices, sizeof choices / sizeof choices[0], -1)

int Lut_space_add_head(Lut_space_draft *b, const Lut_space_head *h)
{
    const char *branch_names[4] = {"aspp.branch1", "aspp.branch2",
                                   "aspp.branch3", "aspp.pool"};
    int64_t a[A_NARGS] = {0};
    long keep[4], A, L, D;
    size_t g[5];
    int rc;

    for (int j = 0; j < 4; j++)
        if ((keep[j] = GENE(branch_names[j], keep_choices)) < 0)
            return (int)keep[j];
    if ((A = GENE("aspp.width", aspp_width_choices)) < 0)
        return (int)A;
    if ((L = GENE("decoder.low_level", low_level_choices)) < 0)
        return (int)L;
    if ((D = GENE("decoder.width", decoder_width_choices)) < 0)
        return (int)D;

    a[A_H] = h->h;
    a[A_W] = h->w;
    a[A_HL] = h->low_h;
    a[A_WL] = h->low_w;
    a[A_CIN] = h->cin;
    a[A_LOW_CIN] = h->low_cin;
    a[A_SEPARABLE] = h->separable;
    a[A_CLASSES] = h->num_classes;
    a[A_INPUT] = h->input_size;

    g[0] = (size_t)L;
    rc = Lut_space_add_segment(b, gen_project, g, 1, a, A_NARGS);
    g[0] = (size_t)A;
    if (rc == 0)
        rc = Lut_space_add_segment(b, gen_aspp_conv, g, 1, a, A_NARGS);
    for (int j = 0; j < 3 && rc == 0; j++) {
        g[0] = (size_t)keep[j];
        g[1] = (size_t)A;
        a[A_BRANCH] = j + 1;
        a[A_RATE] = h->rates[j];
        rc = Lut_space_add_segment(b, gen_aspp_conv, g, 2, a, A_NARGS);
    }
    g[0] = (size_t)keep[3];
    g[1] = (size_t)A;
    if (rc == 0)
        rc = Lut_space_add_segment(b, gen_aspp_pool, g, 2, a, A_NARGS);
    for (int j = 0; j < 4; j++)
        g[j] = (size_t)keep[j];
    g[4] = (size_t)A;
    if (rc == 0)
        rc = Lut_space_add_segment(b, gen_aspp_project, g, 5, a, A_NARGS);
    g[0] = (size_t)L;
    g[1] = (size_t)A;
    g[2] = (size_t)D;
    if (rc == 0)
        rc = Lut_space_add_segment(b, gen_decoder, g, 3, a, A_NARGS);
    g[0] = (size_t)D;
    if (rc == 0)
        rc = Lut_space_add_segment(b, gen_classifier, g, 1, a, A_NARGS);
    return rc;
}

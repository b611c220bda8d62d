/*
 * space_xception65.c — the deeplabv3plus-xception65 builder.
 *
 * DeepLabV3+ on the Modified Aligned Xception-65, laid out as the common
 * PyTorch AlignedXception (jfzhang95/pytorch-deeplab-xception) and as the
 * twin (clients/python/fmas_twin/xception.py, docs/spaces.md) defines it:
 * backbone.conv1 (3x3/2, pad 1) and conv2 (3x3, pad 1); entry blocks
 * block1..block3 (three separable convs, a strided 1x1 skip conv); middle
 * blocks block4..block19 (three separable convs of 728 -> w -> w -> 728,
 * identity skip); the exit block block20 (728 -> a -> b -> 1024, a 1x1 skip
 * conv); conv3..conv5 (separable, to 2048 channels). A separable conv is
 * conv1 (depthwise 3x3, padding = dilation) + bn + pointwise (1x1). Every
 * block ends with an "add" of its path and its skip. The head is separable
 * (space_head.c): 2048 channels in, the 128-channel block1 output as the
 * low-level feature.
 *
 * Genes, in order: "middle.<i>.keep" [0, 1] and "middle.<i>.width" [0.25,
 * 0.5, 0.75, 1] for i = 0..15 (block 4 + i; the width scales 728 and only
 * matters when kept); "exit.block.width" (scales 728 and 1024 of block20),
 * "exit.conv3.width", "exit.conv4.width" (scale 1536); then the head's genes.
 * Widths are round(channels * fraction), rounding half to even as Python.
 */
#include <math.h>
#include <stdio.h>

#include "space_head.h"
#include "space_xception65.h"

#define MIDDLE_BLOCKS 16
#define MIDDLE_FIRST 4

static const double keep_choices[] = {0, 1};
static const double width_choices[] = {0.25, 0.5, 0.75, 1.0};

static int64_t scaled(int64_t channels, double fraction)
{
    double n = nearbyint((double)channels * fraction);
    return n < 1 ? 1 : (int64_t)n;
}

/* A separable conv called "<name>.conv1" / "<name>.pointwise" on an h x w
 * input; *oh, *ow receive its output size. */
static int emit_separable(Lut_space_emitter *em, int64_t cin, int64_t cout,
                          int64_t stride, int64_t d, int64_t h, int64_t w,
                          int64_t *oh, int64_t *ow, const char *name)
{
    int rc = Lut_space_emit(em,
                            &(Lut_space_spec){.op = "conv2d",
                                              .cin = cin,
                                              .cout = cin,
                                              .k = 3,
                                              .stride = stride,
                                              .dilation = d,
                                              .groups = cin,
                                              .pad = d,
                                              .h = h,
                                              .w = w,
                                              .bn = 1},
                            "%s.conv1", name);
    *oh = Lut_space_conv_out(h, 3, stride, d, d);
    *ow = Lut_space_conv_out(w, 3, stride, d, d);
    if (rc == 0)
        rc = Lut_space_emit(em,
                            &(Lut_space_spec){.op = "conv2d",
                                              .cin = cin,
                                              .cout = cout,
                                              .h = *oh,
                                              .w = *ow,
                                              .bn = 1},
                            "%s.pointwise", name);
    return rc;
}

/* args: input size. */
static int gen_stem(const Lut_space_segment *seg, const Lut_space_values *v,
                    Lut_space_emitter *em)
{
    int64_t in = seg->arg[0], h = Lut_space_conv_out(in, 3, 2, 1, 1);
    int rc;
    (void)v;
    rc = Lut_space_emit(em,
                        &(Lut_space_spec){.op = "conv2d",
                                          .cin = 3,
                                          .cout = 32,
                                          .k = 3,
                                          .stride = 2,
                                          .pad = 1,
                                          .h = in,
                                          .w = in,
                                          .bn = 1},
                        "backbone.conv1");
    if (rc == 0)
        rc = Lut_space_emit(em,
                            &(Lut_space_spec){.op = "conv2d",
                                              .cin = 32,
                                              .cout = 64,
                                              .k = 3,
                                              .pad = 1,
                                              .h = h,
                                              .w = h,
                                              .bn = 1},
                            "backbone.conv2");
    return rc;
}

/* Block args. Widths c1..c3 of 0 come from the genes (middle blocks:
 * keep, width; block20: exit.block.width). */
enum {
    B_INDEX,
    B_CIN,
    B_C1,
    B_C2,
    B_C3,
    B_STRIDE, /* of the third separable conv */
    B_D1,
    B_D2,
    B_D3,
    B_SKIP, /* 0: identity, else the stride of the 1x1 skip conv */
    B_RELU_FIRST,
    B_H,
    B_W,
    B_NARGS
};

static int gen_block(const Lut_space_segment *seg, const Lut_space_values *v,
                     Lut_space_emitter *em)
{
    const int64_t *a = seg->arg;
    int64_t cin[3], cout[3], stride[3] = {1, 1, a[B_STRIDE]};
    int64_t d[3] = {a[B_D1], a[B_D2], a[B_D3]};
    int64_t h = a[B_H], w = a[B_W], oh, ow;
    long long idx = (long long)a[B_INDEX];
    int rep = a[B_RELU_FIRST] ? 1 : 0, rc = 0;
    char name[48];

    cout[0] = a[B_C1];
    cout[1] = a[B_C2];
    cout[2] = a[B_C3];
    if (seg->ngenes == 2) { /* a middle block: keep, width */
        if (v->i[0] == 0)
            return 0;
        cout[0] = cout[1] = scaled(728, v->d[1]);
    } else if (seg->ngenes == 1) { /* block20: exit.block.width */
        cout[0] = scaled(728, v->d[0]);
        cout[1] = scaled(1024, v->d[0]);
    }
    cin[0] = a[B_CIN];
    cin[1] = cout[0];
    cin[2] = cout[1];
    for (int j = 0; j < 3 && rc == 0; j++, rep += 3) {
        snprintf(name, sizeof name, "backbone.block%lld.rep.%d", idx, rep);
        rc = emit_separable(em, cin[j], cout[j], stride[j], d[j], h, w, &oh,
                            &ow, name);
        h = oh;
        w = ow;
    }
    if (rc == 0 && a[B_SKIP])
        rc = Lut_space_emit(em,
                            &(Lut_space_spec){.op = "conv2d",
                                              .cin = a[B_CIN],
                                              .cout = cout[2],
                                              .stride = a[B_SKIP],
                                              .h = a[B_H],
                                              .w = a[B_W],
                                              .bn = 1},
                            "backbone.block%lld.skip", idx);
    if (rc == 0)
        rc = Lut_space_emit(
            em, &(Lut_space_spec){.op = "add", .cin = cout[2], .h = h, .w = w},
            "backbone.block%lld.add", idx);
    return rc;
}

/* conv3..conv5. args: index (3..5), cin (0: from the first gene), cout (0:
 * from the last gene), dilation, h, w. */
static int gen_exit_conv(const Lut_space_segment *seg,
                         const Lut_space_values *v, Lut_space_emitter *em)
{
    const int64_t *a = seg->arg;
    int64_t cin = a[1], cout = a[2], oh, ow;
    char name[32];

    if (cin == 0)
        cin = scaled(1536, v->d[0]);
    if (cout == 0)
        cout = scaled(1536, v->d[seg->ngenes - 1]);
    snprintf(name, sizeof name, "backbone.conv%lld", (long long)a[0]);
    return emit_separable(em, cin, cout, 1, a[3], a[4], a[5], &oh, &ow, name);
}

#define GENE(name, choices, gate)                                              \
    Lut_space_add_gene(b, name, choices, sizeof choices / sizeof choices[0],   \
                       gate)

int Lut_space_define_xception65(Lut_space_draft *b, const lut_space_params *p,
                                lut_error *err)
{
    int64_t in = p->input_size, os = p->output_stride;
    int64_t entry3_stride = os == 16 ? 2 : 1, middle_dil = os == 16 ? 1 : 2;
    int64_t exit_dil[2] = {os == 16 ? 1 : 2, os == 16 ? 2 : 4};
    /* entry blocks: cin, c1, c2, c3, stride (also the skip's) */
    const int64_t entry[3][5] = {{64, 128, 128, 128, 2},
                                 {128, 256, 256, 256, 2},
                                 {256, 728, 728, 728, entry3_stride}};
    int64_t h = Lut_space_conv_out(in, 3, 2, 1, 1), w = h, hl = 0, wl = 0;
    Lut_space_head head;
    size_t genes[2];
    long g, c3, c4;
    int rc;
    (void)err;

    rc = Lut_space_add_segment(b, gen_stem, NULL, 0, (int64_t[]){in}, 1);
    for (int i = 0; i < 3 && rc == 0; i++) {
        int64_t s = entry[i][4];
        int64_t a[B_NARGS] = {
            i + 1, entry[i][0], entry[i][1], entry[i][2], entry[i][3], s, 1,
            1,     1,           s,           i > 0,       h,           w};
        rc = Lut_space_add_segment(b, gen_block, NULL, 0, a, B_NARGS);
        h = Lut_space_conv_out(h, 3, s, 1, 1);
        w = Lut_space_conv_out(w, 3, s, 1, 1);
        if (i == 0) {
            hl = h;
            wl = w;
        }
    }
    for (int i = 0; i < MIDDLE_BLOCKS && rc == 0; i++) {
        int64_t d = middle_dil;
        int64_t a[B_NARGS] = {
            MIDDLE_FIRST + i, 728, 0, 0, 728, 1, d, d, d, 0, 1, h, w};
        char name[LUT_SPACE_GENE_NAME_MAX];
        snprintf(name, sizeof name, "middle.%d.keep", i);
        if ((g = GENE(name, keep_choices, -1)) < 0)
            return (int)g;
        genes[0] = (size_t)g;
        snprintf(name, sizeof name, "middle.%d.width", i);
        if ((g = GENE(name, width_choices, (long)genes[0])) < 0)
            return (int)g;
        genes[1] = (size_t)g;
        rc = Lut_space_add_segment(b, gen_block, genes, 2, a, B_NARGS);
    }
    if (rc != 0)
        return rc;

    if ((g = GENE("exit.block.width", width_choices, -1)) < 0)
        return (int)g;
    genes[0] = (size_t)g;
    {
        int64_t a[B_NARGS] = {20,          728, 0, 0, 1024, 1, exit_dil[0],
                              exit_dil[0], 1,   1, 1, h,    w};
        rc = Lut_space_add_segment(b, gen_block, genes, 1, a, B_NARGS);
    }
    if (rc != 0)
        return rc;
    if ((c3 = GENE("exit.conv3.width", width_choices, -1)) < 0)
        return (int)c3;
    if ((c4 = GENE("exit.conv4.width", width_choices, -1)) < 0)
        return (int)c4;
    genes[0] = (size_t)c3;
    rc = Lut_space_add_segment(b, gen_exit_conv, genes, 1,
                               (int64_t[]){3, 1024, 0, exit_dil[1], h, w}, 6);
    genes[1] = (size_t)c4;
    if (rc == 0)
        rc = Lut_space_add_segment(b, gen_exit_conv, genes, 2,
                                   (int64_t[]){4, 0, 0, exit_dil[1], h, w}, 6);
    genes[0] = (size_t)c4;
    if (rc == 0)
        rc = Lut_space_add_segment(b, gen_exit_conv, genes, 1,
                                   (int64_t[]){5, 0, 2048, exit_dil[1], h, w},
                                   6);
    if (rc != 0)
        return rc;

    head.cin = 2048;
    head.h = h;
    head.w = w;
    head.low_cin = 128;
    head.low_h = hl;
    head.low_w = wl;
    for (int j = 0; j < 3; j++)
        head.rates[j] = (os == 8 ? 12 : 6) * (j + 1);
    head.num_classes = p->num_classes;
    head.input_size = in;
    head.separable = 1;
    return Lut_space_add_head(b, &head);
}

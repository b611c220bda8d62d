/*
 * space_mobilenetv2.c — the deeplabv3plus-mobilenetv2 builder.
 *
 * It reproduces deeplabv3plus_mobilenet of DeepLabV3Plus-Pytorch
 * (network/backbone/mobilenetv2.py, network/_deeplab.py): features[0] is a
 * 3x3 stride-2 conv without padding; each InvertedResidual pads its input
 * by fixed_padding(3, dilation) and then runs its convs without padding;
 * the output-stride rule turns the strides past OS into dilations. Layer
 * keys carry the INPUT size of each op after explicit padding.
 *
 * Genes, in order: for blocks 2..17, "features.<i>.keep" [0, 1] for the
 * residual blocks (3 5 6 8 9 10 12 13 15 16) then "features.<i>.expand"
 * [2, 3, 4, 6]; "aspp.branch1..3", "aspp.pool" [0, 1]; "aspp.width",
 * "decoder.low_level", "decoder.width". A skipped block is the identity.
 */
#include <stdio.h>

#include "space_head.h"
#include "space_mobilenetv2.h"

/* (t, c, n, s) of MobileNetV2. */
static const int stages[7][4] = {
    {1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2},  {6, 64, 4, 2},
    {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1},
};

static const double keep_choices[] = {0, 1};
static const double expand_choices[] = {2, 3, 4, 6};

#define ASPP_IN 320
#define LOW_IN 24

/* args: input size. */
static int gen_stem(const Lut_space_segment *seg, const Lut_space_values *vals,
                    Lut_space_emitter *em)
{
    int64_t in = seg->arg[0];
    (void)vals;
    return Lut_space_emit(em,
                          &(Lut_space_spec){.op = "conv2d",
                                            .cin = 3,
                                            .cout = 32,
                                            .k = 3,
                                            .stride = 2,
                                            .h = in,
                                            .w = in,
                                            .bn = 1},
                          "backbone.low_level_features.0.0");
}

/* args: i, inp, oup, stride, dilation, h, w, fixed t (0: from the genes),
 * residual. Genes: [keep,] expand — or none for block 1. */
static int gen_block(const Lut_space_segment *seg, const Lut_space_values *vals,
                     Lut_space_emitter *em)
{
    int64_t i = seg->arg[0], inp = seg->arg[1], oup = seg->arg[2];
    int64_t stride = seg->arg[3], d = seg->arg[4];
    int64_t h = seg->arg[5] + 2 * d, w = seg->arg[6] + 2 * d; /* padded */
    int64_t t = seg->arg[7];
    int residual = seg->arg[8] != 0;
    const char *prefix =
        i <= 3 ? "backbone.low_level_features" : "backbone.high_level_features";
    int64_t hidden, oh, ow;
    int rc, sub = 0;

    if (t == 0) {
        if (seg->ngenes == 2 && vals->i[0] == 0)
            return 0; /* skipped: the identity */
        t = vals->i[seg->ngenes - 1];
    }
    hidden = inp * t;
    if (t != 1) {
        rc = Lut_space_emit(em,
                            &(Lut_space_spec){.op = "conv2d",
                                              .cin = inp,
                                              .cout = hidden,
                                              .h = h,
                                              .w = w,
                                              .bn = 1},
                            "%s.%lld.conv.0.0", prefix, (long long)i);
        if (rc != 0)
            return rc;
        sub = 1;
    }
    rc = Lut_space_emit(em,
                        &(Lut_space_spec){.op = "conv2d",
                                          .cin = hidden,
                                          .cout = hidden,
                                          .k = 3,
                                          .stride = stride,
                                          .dilation = d,
                                          .groups = hidden,
                                          .h = h,
                                          .w = w,
                                          .bn = 1},
                        "%s.%lld.conv.%d.0", prefix, (long long)i, sub);
    if (rc != 0)
        return rc;
    oh = Lut_space_conv_out(h, 3, stride, d, 0);
    ow = Lut_space_conv_out(w, 3, stride, d, 0);
    rc = Lut_space_emit(em,
                        &(Lut_space_spec){.op = "conv2d",
                                          .cin = hidden,
                                          .cout = oup,
                                          .h = oh,
                                          .w = ow,
                                          .bn = 1},
                        "%s.%lld.conv.%d", prefix, (long long)i, sub + 1);
    if (rc != 0 || !residual)
        return rc;
    return Lut_space_emit(
        em, &(Lut_space_spec){.op = "add", .cin = oup, .h = oh, .w = ow},
        "%s.%lld.add", prefix, (long long)i);
}

#define GENE(name, choices, gate)                                              \
    Lut_space_add_gene(b, name, choices, sizeof choices / sizeof choices[0],   \
                       gate)

int Lut_space_define_mobilenetv2(Lut_space_draft *b, const lut_space_params *p,
                                 lut_error *err)
{
    int64_t in = p->input_size, os = p->output_stride;
    int64_t h = Lut_space_conv_out(in, 3, 2, 1, 0), w = h;
    int64_t hl = 0, wl = 0, cur_stride = 2, dilation = 1, inp = 32;
    Lut_space_head head;
    long g;
    int rc, i = 1;
    (void)err;

    rc = Lut_space_add_segment(b, gen_stem, NULL, 0, (int64_t[]){in}, 1);
    for (int st = 0; st < 7 && rc == 0; st++) {
        int64_t t = stages[st][0], c = stages[st][1], n = stages[st][2];
        int64_t s = stages[st][3], stride, prev_dilation = dilation;
        if (cur_stride == os) {
            stride = 1;
            dilation *= s;
        } else {
            stride = s;
            cur_stride *= s;
        }
        for (int64_t j = 0; j < n && rc == 0; j++, i++) {
            int64_t bs = j == 0 ? stride : 1;
            int64_t bd = j == 0 ? prev_dilation : dilation;
            int residual = bs == 1 && inp == c;
            size_t genes[2], ng = 0;
            char name[LUT_SPACE_GENE_NAME_MAX];

            if (i >= 2) {
                long gate = -1;
                if (residual) {
                    snprintf(name, sizeof name, "features.%d.keep", i);
                    if ((g = GENE(name, keep_choices, -1)) < 0)
                        return (int)g;
                    genes[ng++] = (size_t)g;
                    gate = g;
                }
                snprintf(name, sizeof name, "features.%d.expand", i);
                if ((g = GENE(name, expand_choices, gate)) < 0)
                    return (int)g;
                genes[ng++] = (size_t)g;
            }
            rc = Lut_space_add_segment(
                b, gen_block, genes, ng,
                (int64_t[]){i, inp, c, bs, bd, h, w, i >= 2 ? 0 : t, residual},
                9);
            h = Lut_space_conv_out(h + 2 * bd, 3, bs, bd, 0);
            w = Lut_space_conv_out(w + 2 * bd, 3, bs, bd, 0);
            if (i == 3) {
                hl = h;
                wl = w;
            }
            inp = c;
        }
    }
    if (rc != 0)
        return rc;

    head.cin = ASPP_IN;
    head.h = h;
    head.w = w;
    head.low_cin = LOW_IN;
    head.low_h = hl;
    head.low_w = wl;
    for (int j = 0; j < 3; j++)
        head.rates[j] = (os == 8 ? 12 : 6) * (j + 1);
    head.num_classes = p->num_classes;
    head.input_size = in;
    head.separable = 0;
    return Lut_space_add_head(b, &head);
}

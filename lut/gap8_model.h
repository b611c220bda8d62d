/*
 * gap8_model.h — an analytic cycle model of int8 inference on the GAP8
 * cluster as the GAP AutoTiler generates it (docs/gap8.md has the
 * equations, every constant, its source and the fit error).
 *
 *   cycles = O[kind] + work / (E[kind] * align) + l3_bytes / B
 *
 * kind: pointwise conv (1x1, groups 1), depthwise conv, a convolution on
 * few input channels (a network's first layer), pooling, linear, and other
 * (softmax and the like: a fixed cost). work is the MACs (pooling: the
 * input values). align < 1 when the channels do not fill the 8 cores
 * (cout in steps of 8) and, for pointwise, the 4-wide int8 SIMD (cin in
 * steps of 4). l3_bytes is what cannot stay in L2: when a layer's input,
 * output and weights (int8) pass the L2 budget, the largest of them lives
 * in L3 (HyperRAM) and streams through at B bytes per cycle, then the
 * next largest, until the rest fits.
 *
 * Pure C, no allocation, no globals but the constant fitted parameters;
 * the fit (GSL) is lut/tools/gap8_fit.c on lut/tools/gap8_calibration.csv.
 */
#ifndef FMAS_LUT_GAP8_MODEL_H
#define FMAS_LUT_GAP8_MODEL_H

#include <stdint.h>

#include "lut.h"

#define LUT_GAP8_MODEL_VERSION "gap8-model 1"

typedef enum lut_gap8_kind {
    LUT_GAP8_PW = 0,   /* 1x1 convolution, groups 1 */
    LUT_GAP8_DW,       /* depthwise: groups = cin = cout */
    LUT_GAP8_CONV,     /* k > 1 on few (<= 4) input channels */
    LUT_GAP8_POOL,     /* average / max / global pooling; also elementwise */
    LUT_GAP8_LINEAR,
    LUT_GAP8_OTHER,    /* softmax and the like: fixed cost */
    LUT_GAP8_KINDS
} lut_gap8_kind;

/* The model's view of one layer: sizes of the int8 tensors and the work. */
typedef struct lut_gap8_layer {
    lut_gap8_kind kind;
    int64_t cin, cout;
    int64_t in_bytes, out_bytes, weight_bytes;
    uint64_t work; /* MACs; pooling and elementwise: values read */
} lut_gap8_layer;

typedef struct lut_gap8_params {
    double eff[LUT_GAP8_KINDS];      /* E: work per cycle at full alignment */
    double overhead[LUT_GAP8_KINDS]; /* O: fixed cycles per layer */
    double l3_bytes_per_cycle;       /* B */
    double l2_budget_bytes;          /* L2 left to one layer's tensors */
} lut_gap8_params;

/* The fitted constants (docs/gap8.md). */
extern const lut_gap8_params lut_gap8_default_params;

/* Names of the kinds ("pw", "dw", "conv", "pool", "linear", "other"), and
 * the kind of a name (-1 if none). */
const char *lut_gap8_kind_name(lut_gap8_kind kind);
int lut_gap8_kind_from_name(const char *name);

/* The L3 bytes of a layer under the given L2 budget (see above). */
double lut_gap8_l3_bytes(const lut_gap8_layer *layer, double l2_budget_bytes);

/* Cycles of one layer; p NULL means lut_gap8_default_params. */
double lut_gap8_cycles(const lut_gap8_layer *layer, const lut_gap8_params *p);

/*
 * The model's view of a canonical key: conv2d (pw, dw, few-channel conv; a
 * dense k > 1 conv on more channels, or a grouped one, is costed as
 * pointwise work), linear, avgpool/maxpool/global_avgpool, and add, relu,
 * concat and upsample as pooling-like passes over their values. Other ops:
 * LUT_EINVAL (field "op"); a key without a cost: its lut_key_cost error.
 */
int lut_gap8_layer_from_key(const lut_key *key, lut_gap8_layer *out, lut_error *err);

#endif

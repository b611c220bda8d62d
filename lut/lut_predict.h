/*
 * lut_predict.h — predictions of the rows a device's table lacks, from the
 * device's own rows (docs/latency.md).
 *
 * Per op kind (conv2d depthwise, 1x1, kxk, grouped; pooling; linear;
 * elementwise; upsample) a robust fit (GSL, bisquare weights) of log latency
 * on log work (MACs, or values touched when an op has none), log bytes in,
 * out and of weights, and the channel alignment term log(ceil(cout/8)*8 /
 * cout); on a GAP8 device (unit "cycles" or a kind or name starting with
 * "gap8") the log of the GAP8 cycle model is one more feature, a prior the
 * fit scales. A kind with too few rows, or whose own fit does worse in
 * leave-one-out than the pooled fit over every kind, is predicted by the
 * pooled fit; with fewer rows still, by log latency on log work alone.
 * Leave-one-out errors come in closed form from the hat matrix of the final
 * weighted fit.
 *
 * The first fit turns GSL's aborting error handler off for the process
 * (gsl_set_error_handler_off: every GSL code is checked here, as it is in
 * the rest of fmas). Conventions are those of lut.h. A predictor is immutable once fitted and
 * safe to share between threads; lut_table_predictor keeps one per table
 * version (fitted on first use, never again).
 */
#ifndef FMAS_LUT_PREDICT_H
#define FMAS_LUT_PREDICT_H

#include <stddef.h>

#include "lut.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum lut_predict_kind {
    LUT_PK_CONV_DW = 0,
    LUT_PK_CONV_1X1,
    LUT_PK_CONV_KXK,
    LUT_PK_CONV_GROUPED,
    LUT_PK_POOL,
    LUT_PK_LINEAR,
    LUT_PK_ELEMENTWISE,
    LUT_PK_UPSAMPLE,
    LUT_PK_OTHER, /* ops without a cost: never predicted */
    LUT_PK_KINDS
} lut_predict_kind;

/* "conv_dw", "conv_1x1", "conv_kxk", "conv_grouped", "pool", "linear",
 * "elementwise", "upsample", "other". */
const char *lut_predict_kind_name(lut_predict_kind kind);
/* The kind of a canonical key. */
lut_predict_kind lut_predict_kind_of(const lut_key *key);

/* lut_predictor is declared in lut.h (lut_table_predictor hands one out). */

/* A table's predictor is fitted on at most this many of its rows (an even
 * share in slot order when it has more), so its cost stays bounded: the
 * family correction compares every fitted row with every other. */
#define LUT_PREDICT_MAX_ROWS 4096

/*
 * Fit a predictor on n rows of one device (dev may be NULL: not GAP8).
 * Rows with a mean <= 0 or a key without a cost are left out. Always
 * succeeds with enough memory (a device with too few rows predicts
 * nothing); LUT_ENOMEM otherwise. Free with lut_predictor_free.
 */
int lut_predictor_fit(const lut_device *dev, const lut_entry *rows, size_t n,
                      lut_predictor **out);
void lut_predictor_free(lut_predictor *p);

/*
 * The prediction for a canonical key: 1 with *mean (device units, the
 * median of the log-normal) and *var (its variance, from the residual
 * spread and the key's leverage), or 0 when nothing predicts this key
 * (p NULL, kind "other", no fit). Allocates nothing.
 */
int lut_predict(const lut_predictor *p, const lut_key *key, double *mean, double *var);

/* Which fit predicts a kind: none, its own, the pooled one, or the small
 * (log work alone) one. */
typedef enum lut_predict_model {
    LUT_PM_NONE = 0,
    LUT_PM_KIND,
    LUT_PM_POOLED,
    LUT_PM_SMALL
} lut_predict_model;

const char *lut_predict_model_name(lut_predict_model m); /* "none", "kind", "pooled", "small" */

/* Leave-one-out accuracy of one kind (or of every row: kind LUT_PK_KINDS). */
typedef struct lut_predict_accuracy {
    lut_predict_kind kind;
    lut_predict_model model;
    size_t rows;      /* usable rows of the kind */
    size_t predicted; /* rows with a leave-one-out prediction */
    size_t within5, within10, within25;
    double median_rel_err; /* of |predicted / measured - 1|; 0 when none */
} lut_predict_accuracy;

/* The accuracy of kind k (0..LUT_PK_KINDS; LUT_PK_KINDS is overall). */
const lut_predict_accuracy *lut_predictor_accuracy(const lut_predictor *p, lut_predict_kind k);

/*
 * A testing aid: the leave-one-out predictions (log space) of the pooled
 * fit over the usable rows, in their order; out has n entries, NaN past
 * the usable ones. Returns the number of usable rows, 0 when there is no
 * fit. brute 1 refits without each row (at the same final weights)
 * instead of using the closed form.
 */
size_t lut_predictor_loo(const lut_device *dev, const lut_entry *rows, size_t n,
                         int brute, double *out);

#ifdef __cplusplus
}
#endif
#endif

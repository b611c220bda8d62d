/*
 * lut_calib.h — end-to-end calibration: a map from the layer sum of a
 * network (rows plus predictions, "raw") to its measured whole-network
 * latency, chosen by leave-one-out cross-validation (docs/latency.md).
 *
 * Candidate maps, simplest first (y the measured latency, r the raw sum,
 * L the number of layers):
 *   identity        y = r
 *   scale           y = b r
 *   affine          y = a + b r
 *   affine_layers   y = a + b r + c L
 * Each is fitted by least squares on relative errors (weights 1/y^2), and
 * scored by its leave-one-out relative RMSE, in closed form from the hat
 * matrix. A model with more coefficients is chosen only when it lowers the
 * score by more than 2 %, and only with at least 3 networks more than it
 * has coefficients.
 *
 * Pure numerics on caller arrays (GSL for the small solves); conventions
 * of lut.h. No allocation beyond what a call frees itself.
 */
#ifndef FMAS_LUT_CALIB_H
#define FMAS_LUT_CALIB_H

#include <stddef.h>

#include "lut.h"

typedef enum lut_calib_model {
    LUT_CAL_IDENTITY = 0,
    LUT_CAL_SCALE,
    LUT_CAL_AFFINE,
    LUT_CAL_AFFINE_LAYERS,
    LUT_CAL_MODELS
} lut_calib_model;

/* "identity", "scale", "affine", "affine_layers". */
const char *lut_calib_model_name(lut_calib_model m);

typedef struct lut_calib {
    lut_calib_model model;
    double coef[3];      /* a, b, c (identity: 0, 1, 0) */
    size_t networks;     /* networks fitted (measured > 0, raw > 0) */
    double cv_rel_rmse;  /* leave-one-out relative RMSE of the model */
    double cv_within10;  /* share of held-out networks within +-10 % */
    double raw_rel_rmse; /* the same of the raw sum itself */
    double raw_within10;
} lut_calib;

/*
 * Fit and choose a map from n networks (raw[i], layers[i], measured[i]);
 * rows with raw or measured not > 0 are left out. Returns LUT_OK (with
 * fewer than 2 usable networks the identity, with networks telling how
 * many), LUT_EINVAL for NULL arrays, LUT_ENOMEM.
 */
int lut_calib_fit(const double *raw, const double *layers, const double *measured, size_t n,
                  lut_calib *out);

/* The calibrated latency of a network of raw sum r and L layers. */
double lut_calib_apply(const lut_calib *c, double raw, double layers);

/*
 * A testing aid: the leave-one-out predictions of one model over the n
 * networks (all must be usable) into out; brute 1 refits without each
 * network instead of the closed form. LUT_EINVAL when the model cannot be
 * fitted on them.
 */
int lut_calib_loo(lut_calib_model m, const double *raw, const double *layers,
                  const double *measured, size_t n, int brute, double *out);

#endif

/*
 * estimate.h — pieces of the estimate answer shared by every estimating
 * route (/v1/estimate, /v1/spaces/{id}/estimate, /screen): the device
 * tables of one request and the latency object.
 */
#ifndef FMAS_SERVER_ESTIMATE_H
#define FMAS_SERVER_ESTIMATE_H

#include <jansson.h>

#include "calib.h"
#include "http.h"
#include "jsonw.h"
#include "lut.h"

/* The tables of the devices a request names, each at one lut_version for
 * the whole request. */
typedef struct fm_tables {
    lut_table **tables;
    size_t n;
    lut_calib *cal;         /* n calibrations (fm_tables_calibrate), or NULL */
    unsigned char *has_cal; /* n: cal[i] is one */
} fm_tables;

/* The calibration of every table (calib.h); a table without one, or
 * c NULL, has none. Returns -1 when out of memory (nothing calibrated). */
int fm_tables_calibrate(fm_tables *t, fm_calib *c);

/* The calibration of table i, or NULL. */
const lut_calib *fm_tables_cal(const fm_tables *t, size_t i);

/*
 * References to the tables of n devices with valid, distinct names. Returns
 * 0; LUT_ENOTFOUND with *bad the index of the first unknown device; or
 * another lut code (nothing is held then).
 */
int fm_tables_acquire(lut_store *store, const char *const *names, size_t n, fm_tables *out,
                      size_t *bad);

/* The same from a JSON array of device names (the body's /devices),
 * checked in order. Answers 422 naming /devices/i (or 500) and returns -1
 * on a bad one. */
int fm_tables_from_json(lut_store *store, json_t *devices, fm_tables *out, fm_response *rs);

void fm_tables_release(fm_tables *t);

/*
 * What one network costs on one table: the rows found, and (unless the
 * request is strict) the predictions of the missing layers. s->total is
 * the sum of the rows found; s->predicted and friends come from the
 * table's lut_predictor.
 */
typedef struct fm_lat {
    const lut_sum *s;
    size_t layers;
    int strict;           /* ?strict=true: today's object, rows only */
    const lut_calib *cal; /* the device's calibration, or NULL */
} fm_lat;

/*
 * The latency object. Strict: {"total", "unit", "ms", "layers", "hits",
 * "missing", "complete" [, "missing_keys"]} with total the rows found and
 * missing the layers without a row. Otherwise the same fields, with total
 * = raw_total = rows + predictions, missing the layers neither a row nor a
 * prediction covers, and also "predicted" (layers predicted), "std" (of
 * the total, from the predictions) and "raw_total". Takes the reference to
 * missing_keys (may be NULL). With a calibration (not strict, and every
 * layer a row or a prediction), total is the calibrated latency and
 * "calibrated" says {"total", "ms", "std", "cv_rel_rmse", "cv_within10",
 * "networks"}; std is then the calibrated total's.
 */
json_t *fm_latency_json(const lut_table *t, const fm_lat *l, json_t *missing_keys);

/* The same object written by w; missing_keys NULL writes none, or [] when
 * empty_keys. */
void fm_latency_write(fm_jw *w, const lut_table *t, const fm_lat *l, const json_t *missing_keys,
                      int empty_keys);

/* The total an answer gives (see fm_latency_json), its standard
 * deviation, whether it is calibrated, and the missing count. */
double fm_lat_total(const fm_lat *l);
double fm_lat_std(const fm_lat *l);
int fm_lat_calibrated(const fm_lat *l);
size_t fm_lat_missing(const fm_lat *l);

/* {device: lut_version} of the request's tables. */
json_t *fm_versions_json(const fm_tables *t);
void fm_versions_write(fm_jw *w, const fm_tables *t);
/* "name=version,..." of the tables, for the Fmas-Lut-Versions header. */
void fm_versions_text(const fm_tables *t, char *out, size_t size);

#endif

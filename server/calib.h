/*
 * calib.h — whole-network measurements of each device and the end-to-end
 * calibration fitted on them (docs/latency.md). The owner of both: it
 * stores measurements as documents of kind "measurement/DEVICE" in the
 * lut store (one synced transaction per batch), numbers them, and keeps
 * per device the calibration of the device's current table, refitted when
 * the table (version, hash) or the measurements change. Safe from many
 * threads at once (one mutex; a refit runs under it and is cheap: one sum
 * per measured network).
 *
 * A measurement document is the JSON object {"id", "name"?, "space"?,
 * "genome"?, "layers": [canonical keys], "latency": {"mean", "std",
 * "count"}} (the handler builds and checks it).
 */
#ifndef FMAS_SERVER_CALIB_H
#define FMAS_SERVER_CALIB_H

#include <jansson.h>

#include "lut.h"
#include "lut_calib.h"

/* Calibrations fitted on fewer networks are not used. */
#define FM_CALIB_MIN_NETWORKS 3

typedef struct fm_calib fm_calib;

/* A new owner over store (borrowed), or NULL when out of memory. */
fm_calib *fm_calib_new(lut_store *store);
void fm_calib_free(fm_calib *c);

/*
 * Store n measurement documents of device in one synced transaction; each
 * gets its "id" (set in the object here) in arrival order. *total receives
 * the device's count after the batch. Returns 0 or a lut code (nothing
 * stored then).
 */
int fm_calib_add(fm_calib *c, const char *device, json_t *const *docs, size_t n, size_t *total);

/* Every measurement of device, in id order, as a new JSON array (the
 * stored documents, layers replaced by "layer_count"); NULL on a store
 * failure (*rc says which). */
json_t *fm_calib_list(fm_calib *c, const char *device, int *rc);

/* Forget the measurements of a device (when it is deleted). */
int fm_calib_purge(fm_calib *c, const char *device);

/*
 * The calibration of table's device at the table's version: 1 with *out
 * when one fitted on at least FM_CALIB_MIN_NETWORKS networks exists, else
 * 0 (also when c is NULL). A measured network that has a layer neither a
 * row nor a prediction covers is left out of the fit.
 */
int fm_calib_get(fm_calib *c, const lut_table *table, lut_calib *out);

/* The calibration as JSON {"model", "coef": {"a", "b", "c"}, "networks",
 * "cv_rel_rmse", "cv_within10", "raw_rel_rmse", "raw_within10"}. */
json_t *fm_calib_json(const lut_calib *cal);

#endif

/*
 * gap8_upload.h — a GAP SDK performance log (and its map) as a LUT upload.
 *
 * Three ways to send one to POST /v1/devices/{name}/lut (docs/api.md):
 *   multipart/form-data   parts "log" (the log) and "map" (the map CSV);
 *                         what `curl -F log=@perf.log -F map=@map.csv` sends
 *   application/json      {"format": "gap8-perf", "log": "...", "map": "..."}
 *   text/x-gap8-perf      the log alone (only layers the names key fully)
 * The log and map grammar, and what is checked, is gap8_log.h.
 */
#ifndef FMAS_SERVER_GAP8_UPLOAD_H
#define FMAS_SERVER_GAP8_UPLOAD_H

#include <stddef.h>

#include "http.h"
#include "lut.h"

/* 1 if the request is a performance-log upload (one of the three forms;
 * a JSON body counts when it is an object with a "format" member). */
int fm_gap8_is_upload(const fm_request *rq);

/*
 * Parse it as fm_parse_batch does: 0 with *rows (malloc'd) and *n, or the
 * problem answered in rs and -1. dev is the target device: one not in
 * cycles with a clock is 422. Faults of the log or map are one 422 whose
 * errors name each layer (pointer /log or /map, its line, the field).
 */
int fm_gap8_parse_upload(const fm_request *rq, fm_response *rs, const lut_device *dev,
                         lut_entry **rows, size_t *n);

/* The parts "log" and "map" of a multipart/form-data body with the given
 * boundary: pointers into body (NULL when a part is absent). Returns 0, or
 * -1 with a reason (static text) when the body is not multipart of that
 * boundary or has a part of another name. */
int fm_gap8_multipart(const char *body, size_t len, const char *boundary,
                      const char **log, size_t *log_len, const char **map, size_t *map_len,
                      const char **reason);

#endif

/*
 * estimate.h — pieces of the estimate answer shared by every estimating
 * route: the device tables of one request and the latency object.
 */
#ifndef FMAS_SERVER_ESTIMATE_H
#define FMAS_SERVER_ESTIMATE_H

#include <jansson.h>

#include "http.h"
#include "lut.h"
#include "server.h"

/* The tables of the devices a request names, each at one lut_version for
 * the whole request. */
typedef struct fm_tables {
    lut_table **tables;
    size_t n;
} fm_tables;

/* Resolve a JSON array of device names (the body's /devices) into table
 * references. Answers 422 naming /devices/i and returns -1 on a bad one. */
int fm_tables_acquire(fm_server *srv, json_t *devices, fm_tables *out, fm_response *rs);
void fm_tables_release(fm_tables *t);

/* {"total", "unit", "ms", "layers", "hits", "missing", "complete"
 *  [, "missing_keys"]}; takes the reference to missing_keys (may be NULL). */
json_t *fm_latency_json(const lut_table *t, double total, size_t layers, size_t hits,
                        size_t missing, json_t *missing_keys);

/* {device: lut_version} of the request's tables. */
json_t *fm_versions_json(const fm_tables *t);

/* ?detail=layers → 1; absent → 0; anything else answers 400 and returns -1. */
int fm_detail_param(fm_request *rq, fm_response *rs, int *detail);

#endif

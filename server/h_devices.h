/*
 * h_devices.h — handlers: health, metrics, devices and their lookup tables.
 * Each is listed once in the router table (routes.c); none calls another
 * handler.
 */
#ifndef FMAS_SERVER_H_DEVICES_H
#define FMAS_SERVER_H_DEVICES_H

#include "http.h"

void h_health(fm_request *rq, fm_response *rs);
void h_metrics(fm_request *rq, fm_response *rs);
void h_device_list(fm_request *rq, fm_response *rs);
void h_device_get(fm_request *rq, fm_response *rs);
void h_device_put(fm_request *rq, fm_response *rs);
void h_device_delete(fm_request *rq, fm_response *rs);
void h_lut_upload(fm_request *rq, fm_response *rs);
/* The LUT upload's body stream: CSV and NDJSON parsed as they arrive. */
extern const fm_body_stream h_lut_upload_body;
void h_lut_list(fm_request *rq, fm_response *rs);
/* GET /v1/devices/{name}/accuracy: leave-one-out accuracy of the
 * predictions of missing rows, per op kind and overall. */
void h_device_accuracy(fm_request *rq, fm_response *rs);

#endif

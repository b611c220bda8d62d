/*
 * h_calib.h — whole-network measurements of a device:
 * POST /v1/devices/{name}/measurements and GET of the same path.
 */
#ifndef FMAS_SERVER_H_CALIB_H
#define FMAS_SERVER_H_CALIB_H

#include "http.h"

void h_measurements_post(fm_request *rq, fm_response *rs);
void h_measurements_get(fm_request *rq, fm_response *rs);

#endif

/*
 * h_estimate.h — handlers: POST /v1/estimate, the cost of networks given as
 * layer lists.
 * Each is listed once in the router table (routes.c); none calls another
 * handler.
 */
#ifndef FMAS_SERVER_H_ESTIMATE_H
#define FMAS_SERVER_H_ESTIMATE_H

#include "http.h"

void h_estimate(fm_request *rq, fm_response *rs);

#endif

/*
 * h_observations.h — handlers: the observations of a space (post, list).
 * Each is listed once in the router table (routes.c); none calls another
 * handler.
 */
#ifndef FMAS_SERVER_H_OBSERVATIONS_H
#define FMAS_SERVER_H_OBSERVATIONS_H

#include "http.h"

void h_observations_post(fm_request *rq, fm_response *rs);
void h_observations_get(fm_request *rq, fm_response *rs);

#endif

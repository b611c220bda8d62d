/*
 * h_spaces.h — handlers: search spaces, their layers and batch costing.
 * Each is listed once in the router table (routes.c); none calls another
 * handler.
 */
#ifndef FMAS_SERVER_H_SPACES_H
#define FMAS_SERVER_H_SPACES_H

#include "http.h"

void h_space_list(fm_request *rq, fm_response *rs);
void h_space_get(fm_request *rq, fm_response *rs);
void h_space_create(fm_request *rq, fm_response *rs);
void h_space_delete(fm_request *rq, fm_response *rs);
void h_space_expand(fm_request *rq, fm_response *rs);
void h_space_layers(fm_request *rq, fm_response *rs);
void h_space_estimate(fm_request *rq, fm_response *rs);

#endif

/*
 * h_surrogate.h — handlers: the state of a space's surrogates and refits.
 * Each is listed once in the router table (routes.c); none calls another
 * handler.
 */
#ifndef FMAS_SERVER_H_SURROGATE_H
#define FMAS_SERVER_H_SURROGATE_H

#include "http.h"

void h_surrogate_get(fm_request *rq, fm_response *rs);
void h_surrogate_fit(fm_request *rq, fm_response *rs);

#endif

/*
 * h_screen.h — handlers: POST /v1/spaces/{id}/screen, which candidates
 * deserve a real evaluation.
 * Each is listed once in the router table (routes.c); none calls another
 * handler.
 */
#ifndef FMAS_SERVER_H_SCREEN_H
#define FMAS_SERVER_H_SCREEN_H

#include "http.h"

void h_screen(fm_request *rq, fm_response *rs);

#endif

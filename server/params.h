/*
 * params.h — the path and query parameters that several routes share,
 * checked in one place. Each answers the problem itself (404 for an
 * unknown space, 400 for a bad parameter) and tells the handler to stop.
 */
#ifndef FMAS_SERVER_PARAMS_H
#define FMAS_SERVER_PARAMS_H

#include "http.h"
#include "spaces.h"

/* The {id} path parameter as a space reference (fm_spaces_release it);
 * answers 404 and returns NULL if no space has the id. */
fm_space *fm_space_param(fm_request *rq, fm_response *rs);

/* The {name} path parameter as a device name; answers 400 naming it and
 * returns NULL if it is not one. */
const char *fm_device_param(fm_request *rq, fm_response *rs);

/* ?fidelity= (NULL when absent) into *out; answers 400 and returns -1 if
 * it is not a fidelity name. */
int fm_fidelity_param(fm_request *rq, fm_response *rs, const char **out);

/* ?NAME=true|false into *out (dflt when absent); answers 400 naming the
 * parameter and returns -1 on any other value. */
int fm_bool_param(fm_request *rq, fm_response *rs, const char *name, int dflt, int *out);

#endif

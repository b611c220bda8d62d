/*
 * routes.h — fmasd's router table: every endpoint, one line each
 * (routes.c). The table depends on the handlers; handlers never on it.
 */
#ifndef FMAS_SERVER_ROUTES_H
#define FMAS_SERVER_ROUTES_H

#include "router.h"

extern const fm_router fm_routes;

#endif

/*
 * routes.c — the router table: every endpoint of fmasd, one line each.
 * Routes of one path pattern are listed together (405 answers list them).
 */
#include "routes.h"

#include "h_dashboard.h"
#include "h_devices.h"
#include "h_estimate.h"
#include "h_observations.h"
#include "h_screen.h"
#include "h_spaces.h"
#include "h_surrogate.h"

static const fm_route table[] = {
    {"GET", "/", h_dashboard},
    {"HEAD", "/", h_dashboard},
    {"GET", "/v1/health", h_health},
    {"GET", "/metrics", h_metrics},
    {"GET", "/v1/devices", h_device_list},
    {"GET", "/v1/devices/{name}", h_device_get},
    {"PUT", "/v1/devices/{name}", h_device_put},
    {"DELETE", "/v1/devices/{name}", h_device_delete},
    {"POST", "/v1/devices/{name}/lut", h_lut_upload},
    {"GET", "/v1/devices/{name}/lut", h_lut_list},
    {"POST", "/v1/estimate", h_estimate},
    {"GET", "/v1/spaces", h_space_list},
    {"POST", "/v1/spaces", h_space_create},
    {"GET", "/v1/spaces/{id}", h_space_get},
    {"DELETE", "/v1/spaces/{id}", h_space_delete},
    {"POST", "/v1/spaces/{id}/expand", h_space_expand},
    {"GET", "/v1/spaces/{id}/layers", h_space_layers},
    {"POST", "/v1/spaces/{id}/estimate", h_space_estimate},
    {"POST", "/v1/spaces/{id}/observations", h_observations_post},
    {"GET", "/v1/spaces/{id}/observations", h_observations_get},
    {"GET", "/v1/spaces/{id}/surrogate", h_surrogate_get},
    {"POST", "/v1/spaces/{id}/surrogate:fit", h_surrogate_fit},
    {"POST", "/v1/spaces/{id}/screen", h_screen},
};

const fm_router fm_routes = {table, sizeof table / sizeof table[0]};

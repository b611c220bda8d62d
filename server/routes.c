/*
 * routes.c — the router table: every endpoint of fmasd, one line each.
 * Routes of one path pattern are listed together (405 answers list them).
 * FM_ROUTE_LONG marks the handlers that may run for long, which run on the
 * daemon's work queue (see daemon.h): uploads, batches of observations,
 * space estimates, fits (a first GET of a surrogate may fit it) and
 * screening. The LUT upload parses CSV and NDJSON as they arrive.
 * FM_ROUTE_WRITE marks those that change the store, which a read replica
 * refuses; every other POST only reads (estimates, expansion, screening,
 * and a fit, which changes nothing stored).
 */
#include "routes.h"

#include "h_calib.h"
#include "h_dashboard.h"
#include "h_devices.h"
#include "h_estimate.h"
#include "h_observations.h"
#include "h_screen.h"
#include "h_spaces.h"
#include "h_surrogate.h"

static const fm_route table[] = {
    {"GET", "/", h_dashboard, 0, NULL},
    {"HEAD", "/", h_dashboard, 0, NULL},
    {"GET", "/v1/health", h_health, 0, NULL},
    {"GET", "/metrics", h_metrics, 0, NULL},
    {"GET", "/v1/devices", h_device_list, 0, NULL},
    {"GET", "/v1/devices/{name}", h_device_get, 0, NULL},
    {"PUT", "/v1/devices/{name}", h_device_put, FM_ROUTE_WRITE, NULL},
    {"DELETE", "/v1/devices/{name}", h_device_delete, FM_ROUTE_WRITE, NULL},
    {"POST", "/v1/devices/{name}/lut", h_lut_upload, FM_ROUTE_LONG | FM_ROUTE_WRITE, &h_lut_upload_body},
    {"GET", "/v1/devices/{name}/lut", h_lut_list, 0, NULL},
    {"GET", "/v1/devices/{name}/accuracy", h_device_accuracy, 0, NULL},
    {"POST", "/v1/devices/{name}/measurements", h_measurements_post, FM_ROUTE_LONG | FM_ROUTE_WRITE, NULL},
    {"GET", "/v1/devices/{name}/measurements", h_measurements_get, 0, NULL},
    {"POST", "/v1/estimate", h_estimate, 0, NULL},
    {"GET", "/v1/spaces", h_space_list, 0, NULL},
    {"POST", "/v1/spaces", h_space_create, FM_ROUTE_WRITE, NULL},
    {"GET", "/v1/spaces/{id}", h_space_get, 0, NULL},
    {"DELETE", "/v1/spaces/{id}", h_space_delete, FM_ROUTE_WRITE, NULL},
    {"POST", "/v1/spaces/{id}/expand", h_space_expand, 0, NULL},
    {"GET", "/v1/spaces/{id}/layers", h_space_layers, 0, NULL},
    {"POST", "/v1/spaces/{id}/estimate", h_space_estimate, FM_ROUTE_LONG, NULL},
    {"POST", "/v1/spaces/{id}/observations", h_observations_post, FM_ROUTE_LONG | FM_ROUTE_WRITE, NULL},
    {"GET", "/v1/spaces/{id}/observations", h_observations_get, 0, NULL},
    {"GET", "/v1/spaces/{id}/surrogate", h_surrogate_get, FM_ROUTE_LONG, NULL},
    {"POST", "/v1/spaces/{id}/surrogate:fit", h_surrogate_fit, FM_ROUTE_LONG, NULL},
    {"POST", "/v1/spaces/{id}/screen", h_screen, FM_ROUTE_LONG, NULL},
};

const fm_router fm_routes = {table, sizeof table / sizeof table[0]};

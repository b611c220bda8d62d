/*
 * h_dashboard.h — handler: GET / and HEAD /, the dashboard page
 * (web_page.h), with a strong ETag (304 on If-None-Match); 503 naming the
 * build step when the page was not built.
 * Listed in the router table (routes.c); calls no other handler.
 */
#ifndef FMAS_SERVER_H_DASHBOARD_H
#define FMAS_SERVER_H_DASHBOARD_H

#include "http.h"

void h_dashboard(fm_request *rq, fm_response *rs);

#endif

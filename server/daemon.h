/*
 * daemon.h — the libmicrohttpd daemon: per-request context, body reading
 * under the size cap, dispatch through a router table, the response and
 * its metrics.
 *
 * The daemon knows the router only as the fm_router it is started with
 * (routes.c's table), never a handler.
 */
#ifndef FMAS_SERVER_DAEMON_H
#define FMAS_SERVER_DAEMON_H

#include "router.h"
#include "server.h"

typedef struct fm_daemon fm_daemon;

/* Start listening on cfg.listen_host:cfg.listen_port (port 0 = any free
 * port) with an epoll thread pool of cfg.threads, serving router. srv and
 * router must outlive the daemon. Returns 0 or an errno.
 *
 * No request holds up another: the HTTP threads only read bodies (feeding
 * a route's body stream as pieces arrive) and answer short requests. A
 * FM_ROUTE_LONG route, or any body over 64 KiB, is handed to a work queue
 * of cfg.workers threads: its connection is suspended until a worker has
 * run the handler, then the response is sent from the HTTP thread. With
 * cfg.work_queue requests already waiting, a long one is answered 503
 * (Retry-After: 1) at once. */
int fm_daemon_start(fm_server *srv, const fm_router *router, fm_daemon **out);

/* The port actually bound. */
unsigned short fm_daemon_port(const fm_daemon *d);

/* Stop accepting connections, let the requests in flight finish (up to ten
 * seconds), run every request already queued to the end (a long request
 * that arrives meanwhile is answered 503), give their answers up to two
 * seconds to leave, stop the threads and free d. */
void fm_daemon_stop(fm_daemon *d);

#endif

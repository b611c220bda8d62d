/*
 * daemon.h — start the libmicrohttpd daemon that serves fm_routes.
 */
#ifndef FMAS_SERVER_DAEMON_H
#define FMAS_SERVER_DAEMON_H

#include <microhttpd.h>

#include "metrics.h"
#include "server.h"

/* Start listening on cfg.listen_host:cfg.listen_port (port 0 = any free
 * port) with an epoll thread pool of cfg.threads. Returns 0 or an errno. */
int fm_daemon_start(fm_server *srv, struct MHD_Daemon **out);

/* The port actually bound. */
unsigned short fm_daemon_port(struct MHD_Daemon *d);

/* Prometheus text of the request metrics. */
int fm_render_metrics(fm_server *srv, fm_buf *out);

#endif

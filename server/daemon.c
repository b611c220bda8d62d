/*
 * daemon.c — the libmicrohttpd daemon (see daemon.h).
 */
#include "daemon.h"

#include "auth.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

struct fm_daemon {
    struct MHD_Daemon *mhd;
    fm_server *srv;
    const fm_router *router;
    atomic_long inflight; /* requests being read or handled */
};

typedef struct request_ctx {
    uint64_t t_start;
    int route;        /* router table index, -1 unknown path, -2 wrong method */
    int pattern;      /* pattern index for metrics */
    const char *params[FM_MAX_PATH_PARAMS];
    size_t nparams;
    char allow[64];
    char *body;
    size_t len, cap;
    int too_large;
    char pathbuf[1024];
} request_ctx;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static enum MHD_Result send_response(struct MHD_Connection *conn, fm_daemon *d,
                                     request_ctx *ctx, const char *method, fm_response *rs)
{
    char *body = NULL;
    size_t len = 0;
    if (rs->json) {
        body = json_dumps(rs->json, JSON_COMPACT);
        json_decref(rs->json);
        rs->json = NULL;
        if (!body) {
            rs->status = 500;
            rs->content_type = "application/problem+json";
            body = strdup("{\"type\":\"https://fmas.dev/problems/internal\",\"title\":\"Internal error\","
                          "\"status\":500,\"detail\":\"out of memory\",\"errors\":[{\"pointer\":\"\",\"reason\":\"out of memory\"}]}");
        }
        len = body ? strlen(body) : 0;
    } else if (rs->text) {
        body = rs->text;
        len = rs->text_len;
        rs->text = NULL;
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body ? body : (void *)"",
                                                                body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    if (rs->content_type && rs->status != 204)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, rs->content_type);
    for (size_t i = 0; i < rs->nheaders; i++)
        MHD_add_response_header(resp, rs->header_names[i], rs->header_values[i]);
    enum MHD_Result ret = MHD_queue_response(conn, rs->status, resp);
    MHD_destroy_response(resp);
    fm_metrics_record(&d->srv->metrics, ctx->pattern, method, rs->status, now_ns() - ctx->t_start);
    return ret;
}

/* The media type of the request without parameters, lower-cased. */
static void media_type(const char *header, char *out, size_t size)
{
    size_t n = 0;
    if (header) {
        while (*header == ' ' || *header == '\t')
            header++;
        while (*header && *header != ';' && *header != ' ' && n + 1 < size)
            out[n++] = (char)tolower((unsigned char)*header++);
    }
    out[n] = '\0';
}

static enum MHD_Result too_large(struct MHD_Connection *conn, fm_daemon *d, request_ctx *ctx,
                                 const char *method)
{
    fm_response rs = {0};
    fm_problem(&rs, 413, "body-too-large", NULL, "the body is larger than the limit of %zu bytes",
               d->srv->cfg.max_body);
    return send_response(conn, d, ctx, method, &rs);
}

/* 401 (no usable Authorization header) or 403 (a token that does not
 * grant the request), answered before any of the body is read. */
static enum MHD_Result refuse(struct MHD_Connection *conn, fm_daemon *d, request_ctx *ctx, const char *url,
                              const char *method, int why)
{
    fm_response rs = {0};
    if (why == FM_AUTH_MISSING) {
        fm_problem(&rs, 401, "unauthorized",
                   fm_err_param(NULL, "Authorization", "send the header Authorization: Bearer <token>"),
                   "%s %s needs a bearer token", method, url);
        fm_add_header(&rs, "WWW-Authenticate", "Bearer realm=\"fmasd\"");
    } else {
        fm_problem(&rs, 403, "forbidden",
                   fm_err_param(NULL, "Authorization", "the bearer token does not grant this request"),
                   "the token does not grant %s %s", method, url);
    }
    return send_response(conn, d, ctx, method, &rs);
}

/* The first call of a request: route it, and answer what needs no body
 * (unknown path, wrong method, a missing or wrong token, a declared
 * length over the cap). */
static enum MHD_Result begin_request(struct MHD_Connection *conn, fm_daemon *d, const char *url,
                                     const char *method, void **con_cls)
{
    request_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return MHD_NO;
    *con_cls = ctx;
    atomic_fetch_add(&d->inflight, 1);
    ctx->t_start = now_ns();
    ctx->route = fm_router_match(d->router, method, url, ctx->pathbuf, sizeof ctx->pathbuf, ctx->params,
                                 &ctx->nparams, ctx->allow, sizeof ctx->allow, &ctx->pattern);
    fm_response rs = {0};
    if (ctx->route == -1) {
        fm_problem(&rs, 404, "not-found", NULL, "no route for %s", url);
        return send_response(conn, d, ctx, method, &rs);
    }
    if (ctx->route == -2) {
        fm_problem(&rs, 405, "method-not-allowed", NULL, "%s is not allowed on %s (allowed: %s)",
                   method, url, ctx->allow);
        fm_add_header(&rs, "Allow", "%s", ctx->allow);
        return send_response(conn, d, ctx, method, &rs);
    }
    int auth = fm_auth_check(&d->srv->cfg.auth, method, url,
                             MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION));
    if (auth != FM_AUTH_OK)
        return refuse(conn, d, ctx, url, method, auth);
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(cl, &end, 10);
        if (errno || end == cl || n > d->srv->cfg.max_body)
            return too_large(conn, d, ctx, method);
    }
    return MHD_YES;
}

/* One more piece of the body; past the cap the body is dropped and the
 * request answered 413 once it is read. Returns -1 when out of memory. */
static int append_body(request_ctx *ctx, size_t max_body, const char *data, size_t size)
{
    if (ctx->too_large)
        return 0;
    if (ctx->len + size > max_body) {
        ctx->too_large = 1;
        free(ctx->body);
        ctx->body = NULL;
        ctx->len = ctx->cap = 0;
        return 0;
    }
    if (ctx->len + size + 1 > ctx->cap) {
        size_t cap = ctx->cap ? ctx->cap : 16384;
        while (cap < ctx->len + size + 1)
            cap *= 2;
        char *p = realloc(ctx->body, cap);
        if (!p)
            return -1;
        ctx->body = p;
        ctx->cap = cap;
    }
    memcpy(ctx->body + ctx->len, data, size);
    ctx->len += size;
    ctx->body[ctx->len] = '\0';
    return 0;
}

/* The whole body is read: call the handler and send its answer. */
static enum MHD_Result dispatch(struct MHD_Connection *conn, fm_daemon *d, request_ctx *ctx,
                                const char *url, const char *method)
{
    char ctype[128];
    media_type(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
               ctype, sizeof ctype);
    fm_request rq = {
        .srv = d->srv,
        .conn = conn,
        .method = method,
        .path = url,
        .nparams = ctx->nparams,
        .body = ctx->body ? ctx->body : "",
        .body_len = ctx->len,
        .content_type = ctype,
    };
    memcpy(rq.params, ctx->params, sizeof rq.params);
    fm_response rs = {0};
    rs.status = 500;
    d->router->routes[ctx->route].handler(&rq, &rs);
    if (!rs.json && !rs.text && rs.status != 204 && rs.status < 300)
        fm_problem(&rs, 500, "internal", NULL, "the handler produced no body");
    return send_response(conn, d, ctx, method, &rs);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls)
{
    (void)version;
    fm_daemon *d = cls;
    request_ctx *ctx = *con_cls;
    if (!ctx)
        return begin_request(conn, d, url, method, con_cls);
    if (*upload_size) {
        if (append_body(ctx, d->srv->cfg.max_body, upload_data, *upload_size))
            return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    if (ctx->too_large)
        return too_large(conn, d, ctx, method);
    return dispatch(conn, d, ctx, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    (void)toe;
    fm_daemon *d = cls;
    request_ctx *ctx = *con_cls;
    if (!ctx)
        return;
    free(ctx->body);
    free(ctx);
    *con_cls = NULL;
    atomic_fetch_sub(&d->inflight, 1);
}

int fm_daemon_start(fm_server *srv, const fm_router *router, fm_daemon **out)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, srv->cfg.listen_host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(srv->cfg.listen_port);
    } else if (inet_pton(AF_INET6, srv->cfg.listen_host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(srv->cfg.listen_port);
        flags |= MHD_USE_IPv6;
    } else {
        return EINVAL;
    }
    fm_daemon *d = calloc(1, sizeof *d);
    if (!d)
        return ENOMEM;
    d->srv = srv;
    d->router = router;
    atomic_init(&d->inflight, 0);
    for (size_t r = 0; r < router->n; r++)
        fm_metrics_label(&srv->metrics, (int)r, fm_router_label(router, (int)r));
    d->mhd = MHD_start_daemon(
        flags, srv->cfg.listen_port, NULL, NULL, on_request, d,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)srv->cfg.threads,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)srv->cfg.conn_timeout,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)1024,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, d,
        MHD_OPTION_END);
    if (!d->mhd) {
        int rc = errno ? errno : EADDRINUSE;
        free(d);
        return rc;
    }
    *out = d;
    return 0;
}

unsigned short fm_daemon_port(const fm_daemon *d)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : 0;
}

void fm_daemon_stop(fm_daemon *d)
{
    if (!d)
        return;
    MHD_quiesce_daemon(d->mhd);
    for (int i = 0; i < 1000 && atomic_load(&d->inflight) > 0; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(d->mhd);
    free(d);
}

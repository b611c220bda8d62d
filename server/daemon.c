/*
 * daemon.c — the libmicrohttpd daemon (see daemon.h).
 */
#include "daemon.h"

#include "auth.h"
#include "workq.h"

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
    fm_workq *workq;      /* long requests (FM_ROUTE_LONG or a large body) */
};

/* Bodies over this many bytes are handled on the work queue, whatever the
 * route: parsing them alone takes milliseconds. */
#define LONG_BODY (64u * 1024u)

/* Pieces of a streamed body up to this size are parsed on the HTTP thread
 * (well under a millisecond), larger ones on a worker. */
#define FEED_INLINE (16u * 1024u)

typedef struct long_job long_job;

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
    void *stream;     /* the route's body-stream state, or NULL */
    long_job *job;    /* set when handed to the work queue */
    char pathbuf[1024];
} request_ctx;

/* A request handed to the work queue: its connection is suspended until
 * a worker has run the handler into rs. */
struct long_job {
    fm_daemon *d;
    request_ctx *ctx;
    struct MHD_Connection *conn;
    const char *url, *method; /* libmicrohttpd's, valid for the request */
    fm_response rs;
};

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

/* A write to a read replica: 409, naming the writer (field "writer" and a
 * Location of the same path there), before any body is read. */
static enum MHD_Result refuse_write(struct MHD_Connection *conn, fm_daemon *d, request_ctx *ctx, const char *url,
                                    const char *method)
{
    fm_response rs = {0};
    const char *writer = d->srv->cfg.writer_url;
    fm_problem(&rs, 409, "read-only-replica",
               fm_err_param(NULL, "method", "this fmasd is a read replica; send writes to the writer"),
               "%s %s changes the store, and this is a read replica%s%s", method, url,
               writer[0] ? " of " : "", writer);
    if (writer[0]) {
        json_object_set_new(rs.json, "writer", json_string(writer));
        fm_add_header(&rs, "Location", "%s%s", writer, url);
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
    if (d->srv->cfg.replica && (d->router->routes[ctx->route].flags & FM_ROUTE_WRITE))
        return refuse_write(conn, d, ctx, url, method);
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
    const fm_body_stream *bs = d->router->routes[ctx->route].stream;
    if (bs) {
        char ctype[128];
        fm_media_type(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
                   ctype, sizeof ctype);
        ctx->stream = bs->open(ctype);
    }
    return MHD_YES;
}

/* A piece of a body for the route's stream, parsed on a worker while the
 * connection is suspended (so pieces are parsed one at a time, in order). */
typedef struct feed_job {
    fm_daemon *d;
    request_ctx *ctx;
    struct MHD_Connection *conn;
    size_t len;
    char data[];
} feed_job;

static void run_feed(void *arg)
{
    feed_job *job = arg;
    struct MHD_Connection *conn = job->conn;
    fm_metrics *m = &job->d->srv->metrics;
    atomic_fetch_sub(&m->work_queued, 1);
    atomic_fetch_add(&m->work_busy, 1);
    job->d->router->routes[job->ctx->route].stream->feed(job->ctx->stream, job->data, job->len);
    atomic_fetch_sub(&m->work_busy, 1);
    free(job);
    MHD_resume_connection(conn);
}

/* One more piece of a body parsed as it arrives; past the cap the parse is
 * dropped and the request answered 413 once the body is read. A small
 * piece is parsed here; a large one (libmicrohttpd hands over up to its
 * read buffer at once: milliseconds of parsing) on a worker, or here when
 * the queue is full. */
static void stream_body(struct MHD_Connection *conn, fm_daemon *d, request_ctx *ctx, const char *data,
                        size_t size)
{
    const fm_body_stream *bs = d->router->routes[ctx->route].stream;
    if (ctx->len + size > d->srv->cfg.max_body) {
        ctx->too_large = 1;
        bs->close(ctx->stream);
        ctx->stream = NULL;
        return;
    }
    ctx->len += size;
    feed_job *job = size > FEED_INLINE ? malloc(sizeof *job + size) : NULL;
    if (!job) {
        bs->feed(ctx->stream, data, size);
        return;
    }
    *job = (feed_job){.d = d, .ctx = ctx, .conn = conn, .len = size};
    memcpy(job->data, data, size);
    atomic_fetch_add(&d->srv->metrics.work_queued, 1);
    MHD_suspend_connection(conn);
    if (fm_workq_submit(d->workq, run_feed, job)) {
        atomic_fetch_sub(&d->srv->metrics.work_queued, 1);
        bs->feed(ctx->stream, job->data, size);
        free(job);
        MHD_resume_connection(conn);
    }
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

/* Call the request's handler into rs (on an HTTP thread or a worker). */
static void handle(struct MHD_Connection *conn, fm_daemon *d, request_ctx *ctx, const char *url,
                   const char *method, fm_response *rs)
{
    char ctype[128];
    fm_media_type(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
                  ctype, sizeof ctype);
    fm_request rq = {
        .srv = d->srv,
        .conn = conn,
        .method = method,
        .path = url,
        .nparams = ctx->nparams,
        .body = ctx->body ? ctx->body : "",
        .body_len = ctx->body ? ctx->len : 0,
        .content_type = ctype,
        .stream = ctx->stream,
    };
    memcpy(rq.params, ctx->params, sizeof rq.params);
    rs->status = 500;
    d->router->routes[ctx->route].handler(&rq, rs);
    if (!rs->json && !rs->text && rs->status != 204 && rs->status < 300)
        fm_problem(rs, 500, "internal", NULL, "the handler produced no body");
}

/* The whole body is read: call the handler and send its answer. */
static enum MHD_Result dispatch(struct MHD_Connection *conn, fm_daemon *d, request_ctx *ctx,
                                const char *url, const char *method)
{
    fm_response rs = {0};
    handle(conn, d, ctx, url, method, &rs);
    return send_response(conn, d, ctx, method, &rs);
}

/* A worker runs the handler, then wakes the connection, whose next call
 * of on_request sends job->rs. The job belongs to the connection again
 * once resumed. */
static void run_long(void *arg)
{
    long_job *job = arg;
    fm_metrics *m = &job->d->srv->metrics;
    atomic_fetch_sub(&m->work_queued, 1);
    atomic_fetch_add(&m->work_busy, 1);
    handle(job->conn, job->d, job->ctx, job->url, job->method, &job->rs);
    atomic_fetch_sub(&m->work_busy, 1);
    MHD_resume_connection(job->conn);
}

/* Hand a long request to the work queue. A full queue (or one that is
 * stopping) is answered 503 at once, with Retry-After, instead of making
 * the client wait for a slot. */
static enum MHD_Result offload(struct MHD_Connection *conn, fm_daemon *d, request_ctx *ctx,
                               const char *url, const char *method)
{
    long_job *job = calloc(1, sizeof *job);
    if (!job)
        return dispatch(conn, d, ctx, url, method);
    *job = (long_job){.d = d, .ctx = ctx, .conn = conn, .url = url, .method = method};
    ctx->job = job;
    fm_metrics *m = &d->srv->metrics;
    atomic_fetch_add(&m->work_queued, 1);
    /* Suspended before it is queued, so a worker never resumes a
     * connection that is not yet suspended. */
    MHD_suspend_connection(conn);
    int rc = fm_workq_submit(d->workq, run_long, job);
    if (rc) {
        atomic_fetch_sub(&m->work_queued, 1);
        atomic_fetch_add(&m->work_rejected, 1);
        if (rc == EAGAIN)
            fm_problem(&job->rs, 503, "unavailable", NULL,
                       "%s %s waits for a worker: %zu long requests are queued already; retry later",
                       method, url, d->srv->cfg.work_queue);
        else
            fm_problem(&job->rs, 503, "unavailable", NULL, "the service is stopping");
        fm_add_header(&job->rs, "Retry-After", "1");
        MHD_resume_connection(conn);
    }
    return MHD_YES;
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
    if (ctx->job) /* back from the work queue */
        return send_response(conn, d, ctx, method, &ctx->job->rs);
    if (*upload_size) {
        if (ctx->stream)
            stream_body(conn, d, ctx, upload_data, *upload_size);
        else if (append_body(ctx, d->srv->cfg.max_body, upload_data, *upload_size))
            return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    if (ctx->too_large)
        return too_large(conn, d, ctx, method);
    if ((d->router->routes[ctx->route].flags & FM_ROUTE_LONG) || ctx->len > LONG_BODY)
        return offload(conn, d, ctx, url, method);
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
    if (ctx->stream)
        d->router->routes[ctx->route].stream->close(ctx->stream);
    if (ctx->job) {
        json_decref(ctx->job->rs.json); /* a response never sent */
        free(ctx->job->rs.text);
        free(ctx->job);
    }
    free(ctx->body);
    free(ctx);
    *con_cls = NULL;
    atomic_fetch_sub(&d->inflight, 1);
}

int fm_daemon_start(fm_server *srv, const fm_router *router, fm_daemon **out)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
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
    int rc = fm_workq_start(srv->cfg.workers, srv->cfg.work_queue, &d->workq);
    if (rc) {
        free(d);
        return rc;
    }
    srv->metrics.work_workers = srv->cfg.workers;
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
        rc = errno ? errno : EADDRINUSE;
        fm_workq_free(d->workq);
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
    /* Every queued request runs and resumes its connection before the
     * daemon stops: libmicrohttpd must not stop with one suspended. Then
     * the answers of those still get a moment to leave. */
    fm_workq_drain(d->workq);
    for (int i = 0; i < 200 && atomic_load(&d->inflight) > 0; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(d->mhd);
    fm_workq_free(d->workq);
    free(d);
}

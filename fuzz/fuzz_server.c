/*
 * fuzz_server.c — an fmasd without sockets for the harnesses (see
 * fuzz_server.h).
 */
#include "fuzz_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bundled.h"
#include "codec.h"
#include "fitter.h"
#include "fuzz_fakes.h"
#include "routes.h"
#include "spaces.h"
#include "sur.h"

#ifndef FMAS_TABLES_DIR
#define FMAS_TABLES_DIR ""
#endif

static fm_server srv;
static int started;
static int trace;        /* FMAS_FUZZ_TRACE set: print each request's route and status */
static int fitter_dirty; /* a request may have scheduled or run a fit */
static const char *builtin_ids[8];
static size_t nbuiltin;

static void start(void)
{
    char tmpl[] = "/tmp/fmas-fuzz-XXXXXX";
    if (!mkdtemp(tmpl)) {
        perror("fuzz: mkdtemp");
        exit(1);
    }
    snprintf(srv.cfg.data_dir, sizeof srv.cfg.data_dir, "%s", tmpl);
    snprintf(srv.cfg.tables_dir, sizeof srv.cfg.tables_dir, "%s", FMAS_TABLES_DIR);
    srv.cfg.threads = 1;
    srv.cfg.max_body = 64u << 20;
    srv.cfg.min_observations = 10;
    srv.cfg.refit_delay_ms = 600000;
    trace = getenv("FMAS_FUZZ_TRACE") != NULL;
    sur_init();
    lut_store_options opt = {.no_sync = 1};
    if (lut_store_open(&srv.store, srv.cfg.data_dir, &opt) || fm_spaces_init(&srv.spaces) ||
        fm_spaces_load(&srv.spaces, srv.store) ||
        fm_fitter_start(&srv.fitter, srv.cfg.refit_delay_ms, srv.cfg.min_observations)) {
        fprintf(stderr, "fuzz: cannot start the server state in %s\n", tmpl);
        exit(1);
    }
    if (srv.cfg.tables_dir[0] && fm_bundled_load(&srv))
        fprintf(stderr, "fuzz: some bundled tables did not load\n");
    fm_space **all;
    size_t n;
    if (fm_spaces_list(&srv.spaces, &all, &n) == 0) {
        for (size_t i = 0; i < n; i++) {
            if (all[i]->builtin && nbuiltin < sizeof builtin_ids / sizeof builtin_ids[0])
                builtin_ids[nbuiltin++] = strdup(lut_space_id(all[i]->space));
            fm_spaces_release(all[i]);
        }
        free(all);
    }
    started = 1;
}

fm_server *fz_server(void)
{
    if (!started)
        start();
    return &srv;
}

size_t fz_builtin_ids(const char *const **ids)
{
    fz_server();
    *ids = builtin_ids;
    return nbuiltin;
}

/* A response must have a status in 100..599 and a body that dumps; an
 * error (4xx, 5xx) a problem body with a detail and at least one error. */
static void check_response(fm_response *rs)
{
    if (rs->status < 100 || rs->status > 599) {
        fprintf(stderr, "fuzz: status %u\n", rs->status);
        abort();
    }
    if (rs->status >= 400 && (!json_is_string(json_object_get(rs->json, "detail")) ||
                              json_array_size(json_object_get(rs->json, "errors")) == 0)) {
        fprintf(stderr, "fuzz: status %u without its problem body\n", rs->status);
        abort();
    }
    if (rs->json) {
        char *s = json_dumps(rs->json, JSON_COMPACT);
        if (!s) {
            fprintf(stderr, "fuzz: the response body does not dump (status %u)\n", rs->status);
            abort();
        }
        free(s);
    }
}

void fz_request(size_t r, const char *const *params, size_t nparams, const char *query,
                size_t query_len, const char *accept, const char *content_type,
                const char *body, size_t body_len)
{
    fz_server();
    const fm_route *route = &fm_routes.routes[r % fm_routes.n];
    fz_conn conn = {.accept = accept};
    fz_conn_query(&conn, query, query_len);
    fm_request rq = {.srv = &srv, .conn = (struct MHD_Connection *)(void *)&conn,
                     .method = route->method, .path = route->pattern,
                     .body = body, .body_len = body_len, .content_type = content_type};
    for (size_t i = 0; i < nparams && i < FM_MAX_PATH_PARAMS; i++)
        rq.params[rq.nparams++] = params[i];
    fm_response rs = {.status = 200};
    route->handler(&rq, &rs);
    /* Accepted observations schedule refits, and fits leave models: both
     * are undone by restarting the fitter (fz_reset), which costs a thread. */
    if (strcmp(route->method, "POST") == 0 && rs.status < 300 &&
        (strstr(route->pattern, "/observations") || strstr(route->pattern, ":fit")))
        fitter_dirty = 1;
    check_response(&rs);
    if (trace)
        fprintf(stderr, "fuzz: %s %s -> %u %s\n", route->method, route->pattern, rs.status,
                rs.status >= 400 ? json_string_value(json_object_get(rs.json, "detail")) : "");
    json_decref(rs.json);
    free(rs.text);
    free(conn.query);
}

void fz_make_device(void)
{
    lut_device dev;
    json_t *fields = json_pack("{s:s, s:s}", "unit", "us", "description", "fuzz");
    lut_error err = {.row = -1};
    if (fm_device_from_json(fields, FZ_DEVICE, &dev, &err) == 0)
        lut_device_put(srv.store, &dev, NULL);
    json_decref(fields);
}

void fz_make_space(void)
{
    json_t *def = json_pack("{s:s, s:[{s:s, s:[i,i,i,i]}, {s:s, s:[f,f,f]}, {s:s, s:[i,i,i]}]}",
                            "id", FZ_SPACE, "genes", "name", "depth", "choices", 1, 2, 3, 4,
                            "name", "width", "choices", 0.5, 1.0, 1.5, "name", "kernel",
                            "choices", 3, 5, 7);
    if (!def)
        abort();
    fm_space *s = NULL;
    lut_error err = {.row = -1};
    if (fm_space_from_definition(def, &s, &err) == 0 && fm_spaces_add(&srv.spaces, srv.store, s))
        fm_spaces_release(s);
    json_decref(def);
}

void fz_reset(void)
{
    fm_space **all;
    size_t n;
    if (fm_spaces_list(&srv.spaces, &all, &n) == 0) {
        for (size_t i = 0; i < n; i++) {
            if (!all[i]->builtin)
                fm_spaces_remove(&srv.spaces, srv.store, lut_space_id(all[i]->space));
            fm_spaces_release(all[i]);
        }
        free(all);
    }
    lut_device_delete(srv.store, FZ_DEVICE);
    if (fitter_dirty) {
        fm_fitter_stop(srv.fitter);
        if (fm_fitter_start(&srv.fitter, srv.cfg.refit_delay_ms, srv.cfg.min_observations))
            abort();
        fitter_dirty = 0;
    }
}

void fz_observe(void)
{
    size_t r = 0;
    while (r < fm_routes.n && !(strcmp(fm_routes.routes[r].method, "POST") == 0 &&
                                strcmp(fm_routes.routes[r].pattern, "/v1/spaces/{id}/observations") == 0))
        r++;
    if (r == fm_routes.n)
        abort();
    json_t *obs = json_array();
    for (int i = 0; i < 12; i++)
        json_array_append_new(obs, json_pack("{s:[i,i,i], s:s, s:f}", "genome", i % 4, (i / 4) % 3,
                                             (i * 7) % 3, "metric", "miou", "value", 0.5 + 0.01 * i));
    json_t *doc = json_pack("{s:o}", "observations", obs);
    char *body = json_dumps(doc, JSON_COMPACT);
    const char *id = FZ_SPACE;
    fz_request(r, &id, 1, NULL, 0, NULL, "application/json", body, strlen(body));
    free(body);
    json_decref(doc);
    /* A fitted model, so that estimates predict and screens rank. */
    fm_space *s = fm_spaces_get(&srv.spaces, FZ_SPACE);
    fm_model *m = NULL;
    if (s && fm_fitter_fit_wait(srv.fitter, s, "miou", "default", &m) == 0 && m)
        fm_model_release(m);
    if (s)
        fm_spaces_release(s);
}

/*
 * fuzz_server.c — an fmasd without sockets for the harnesses (see
 * fuzz_server.h).
 */
#include "fuzz_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
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
static int trace; /* FMAS_FUZZ_TRACE set: print each request's route, status and time */
static const char *builtin_ids[8];
static size_t nbuiltin;

/* What successful writes changed since the last fz_reset. */
enum {
    DIRTY_DEVICE = 1,    /* FZ_DEVICE or FZ_DEVICE_ABSENT written or deleted */
    DIRTY_SPACE = 2,     /* FZ_SPACE deleted or observed */
    DIRTY_SPACE_FIT = 4, /* FZ_SPACE_FIT deleted or observed */
    DIRTY_SPACES = 8,    /* a space registered */
    DIRTY_BUILTIN = 16,  /* observations posted to a built-in space */
    DIRTY_FITTER = 32,   /* refits scheduled */
};
static unsigned dirty;

static void seed(void);

/* Rows kept of each bundled table: listings and estimates reach the same
 * code with 64 rows as with thousands, at a fraction of the cost. */
#define FZ_TABLE_ROWS 64

static char root[64]; /* holds data/ (the store) and tables/ */

/* A directory on tmpfs when there is one: the store's writes then never
 * reach a disk. */
static void make_dirs(void)
{
    struct stat st;
    int shm = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0;
    snprintf(root, sizeof root, "%s/fmas-fuzz-XXXXXX", shm ? "/dev/shm" : "/tmp");
    if (!mkdtemp(root)) {
        perror("fuzz: mkdtemp");
        exit(1);
    }
    snprintf(srv.cfg.data_dir, sizeof srv.cfg.data_dir, "%s/data", root);
    snprintf(srv.cfg.tables_dir, sizeof srv.cfg.tables_dir, "%s/tables", root);
}

/* Copy src to dst, its first max_lines lines only (0: all of it). */
static int copy_lines(const char *src, const char *dst, size_t max_lines)
{
    FILE *in = fopen(src, "rb"), *out = in ? fopen(dst, "wb") : NULL;
    int c, rc = in && out ? 0 : -1;
    size_t lines = 0;
    while (rc == 0 && (max_lines == 0 || lines < max_lines) && (c = getc(in)) != EOF) {
        putc(c, out);
        lines += c == '\n';
    }
    if (in)
        fclose(in);
    if (out && fclose(out))
        rc = -1;
    return rc;
}

/* The bundled tables (FMAS_TABLES_DIR) with the header and FZ_TABLE_ROWS
 * rows of each CSV, into cfg.tables_dir. */
static void copy_tables(void)
{
    DIR *d = FMAS_TABLES_DIR[0] ? opendir(FMAS_TABLES_DIR) : NULL;
    if (!d || mkdir(srv.cfg.tables_dir, 0700)) {
        fprintf(stderr, "fuzz: no bundled tables in \"%s\"\n", FMAS_TABLES_DIR);
        srv.cfg.tables_dir[0] = '\0';
        if (d)
            closedir(d);
        return;
    }
    for (struct dirent *e; (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        int csv = n > 4 && strcmp(e->d_name + n - 4, ".csv") == 0;
        if (!csv && !(n > 12 && strcmp(e->d_name + n - 12, ".device.json") == 0))
            continue;
        char src[1024], dst[1024];
        snprintf(src, sizeof src, "%s/%s", FMAS_TABLES_DIR, e->d_name);
        snprintf(dst, sizeof dst, "%s/%s", srv.cfg.tables_dir, e->d_name);
        if (copy_lines(src, dst, csv ? FZ_TABLE_ROWS + 1 : 0))
            fprintf(stderr, "fuzz: cannot copy %s\n", src);
    }
    closedir(d);
}

/* Remove dir and the files in it. */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    char path[1024];
    for (struct dirent *e; d && (e = readdir(d));) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

/* The directories go as soon as the store is open and seeded: LMDB keeps
 * its files open and mapped, so only their names are removed, and nothing
 * is left behind however the process ends (libFuzzer leaves with _Exit,
 * which runs no atexit handlers). */
static void remove_dirs(void)
{
    char sub[96];
    snprintf(sub, sizeof sub, "%s/data", root);
    remove_dir(sub);
    snprintf(sub, sizeof sub, "%s/tables", root);
    remove_dir(sub);
    rmdir(root);
}

static void start(void)
{
    make_dirs();
    copy_tables();
    srv.cfg.threads = 1;
    srv.cfg.max_body = 64u << 20;
    srv.cfg.min_observations = 10;
    srv.cfg.refit_delay_ms = 600000;
    trace = getenv("FMAS_FUZZ_TRACE") != NULL;
    sur_init();
    lut_store_options opt = {.no_sync = 1};
    if (lut_store_open(&srv.store, srv.cfg.data_dir, &opt) || fm_spaces_init(&srv.spaces) ||
        fm_spaces_load(&srv.spaces, srv.store) ||
        fm_fitter_start(&srv.fitter, srv.cfg.refit_delay_ms, srv.cfg.min_observations) ||
        !(srv.calib = fm_calib_new(srv.store))) {
        fprintf(stderr, "fuzz: cannot start the server state in %s\n", srv.cfg.data_dir);
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
    dirty = DIRTY_DEVICE | DIRTY_SPACE | DIRTY_SPACE_FIT;
    seed();
    remove_dirs();
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

/* A response must have a status in 100..499 (a 5xx is a server bug: the
 * store is healthy and memory plenty) and a body that dumps; a 4xx a
 * problem body with a detail and at least one error. */
static void check_response(fm_response *rs)
{
    if (rs->status < 100 || rs->status > 499) {
        if (rs->status >= 500)
            fprintf(stderr, "fuzz: %s\n", json_string_value(json_object_get(rs->json, "detail")));
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

static int is_builtin(const char *id)
{
    for (size_t i = 0; i < nbuiltin; i++)
        if (strcmp(builtin_ids[i], id) == 0)
            return 1;
    return 0;
}

/* A write to route with first path parameter param (may be NULL) succeeded:
 * mark what it may have changed. The read-only POSTs (estimates, expand,
 * screen) change nothing, and neither does a fit: it reads the same
 * observations as the fit it replaces (metric and fidelity come from the
 * query; a space without them answers 4xx). */
static void mark_written(const fm_route *route, const char *param)
{
    const char *p = route->pattern;
    if (strncmp(p, "/v1/devices/", 12) == 0) {
        dirty |= DIRTY_DEVICE;
    } else if (strcmp(p, "/v1/spaces") == 0) {
        dirty |= DIRTY_SPACES;
    } else if (param && (strcmp(route->method, "DELETE") == 0 || strstr(p, "/observations"))) {
        if (strcmp(param, FZ_SPACE) == 0)
            dirty |= DIRTY_SPACE;
        else if (strcmp(param, FZ_SPACE_FIT) == 0)
            dirty |= DIRTY_SPACE_FIT;
        else if (is_builtin(param))
            dirty |= DIRTY_BUILTIN;
        else
            dirty |= DIRTY_SPACES;
        if (strcmp(route->method, "POST") == 0)
            dirty |= DIRTY_FITTER;
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
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    route->handler(&rq, &rs);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (strcmp(route->method, "GET") != 0 && strcmp(route->method, "HEAD") != 0 && rs.status < 400)
        mark_written(route, rq.nparams ? rq.params[0] : NULL);
    check_response(&rs);
    if (trace)
        fprintf(stderr, "fuzz: %s %s -> %u %.0f us %s\n", route->method, route->pattern, rs.status,
                (double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3,
                rs.status >= 400 ? json_string_value(json_object_get(rs.json, "detail")) : "");
    json_decref(rs.json);
    free(rs.text);
    free(conn.query);
}

static void make_device(void)
{
    lut_device dev;
    json_t *fields = json_pack("{s:s, s:s}", "unit", "us", "description", "fuzz");
    lut_error err = {.row = -1};
    if (!fields || fm_device_from_json(fields, FZ_DEVICE, &dev, &err) ||
        lut_device_put(srv.store, &dev, NULL))
        abort();
    json_decref(fields);
}

static void make_space(const char *id)
{
    json_t *def = json_pack("{s:s, s:[{s:s, s:[i,i,i,i]}, {s:s, s:[f,f,f]}, {s:s, s:[i,i,i]}]}",
                            "id", id, "genes", "name", "depth", "choices", 1, 2, 3, 4,
                            "name", "width", "choices", 0.5, 1.0, 1.5, "name", "kernel",
                            "choices", 3, 5, 7);
    if (!def)
        abort();
    fm_space *s = NULL;
    lut_error err = {.row = -1};
    if (fm_space_from_definition(def, &s, &err) || fm_spaces_add(&srv.spaces, srv.store, s))
        abort();
    json_decref(def);
}

/* Post twelve distinct observations of metric "miou" to FZ_SPACE_FIT
 * through the handler and fit its surrogate, so that estimates predict and
 * screens rank. */
static void observe(void)
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
    const char *id = FZ_SPACE_FIT;
    fz_request(r, &id, 1, NULL, 0, NULL, "application/json", body, strlen(body));
    free(body);
    json_decref(doc);
    fm_space *s = fm_spaces_get(&srv.spaces, FZ_SPACE_FIT);
    fm_model *m = NULL;
    if (!s || fm_fitter_fit_wait(srv.fitter, s, "miou", "default", &m) || !m)
        abort();
    fm_model_release(m);
    fm_spaces_release(s);
}

/* Observations posted to the built-in spaces go, from the store and from
 * memory (the fitter is stopped: no scheduled refit holds the old set). */
static void purge_builtin(void)
{
    for (size_t i = 0; i < nbuiltin; i++) {
        fm_space *s = fm_spaces_get(&srv.spaces, builtin_ids[i]);
        if (!s)
            abort();
        fm_obs_set *fresh = fm_obs_new(lut_space_gene_count(s->space));
        if (!fresh || fm_obs_purge(srv.store, builtin_ids[i]))
            abort();
        fm_obs_free(s->obs);
        s->obs = fresh;
        fm_spaces_release(s);
    }
}

/* Remove the registered spaces named by the dirty bits (all of those not
 * seeded with DIRTY_SPACES). */
static void remove_spaces(void)
{
    fm_space **all;
    size_t n;
    if (fm_spaces_list(&srv.spaces, &all, &n))
        abort();
    for (size_t i = 0; i < n; i++) {
        const char *id = lut_space_id(all[i]->space);
        int drop = !all[i]->builtin &&
                   (strcmp(id, FZ_SPACE) == 0       ? (dirty & DIRTY_SPACE) != 0
                    : strcmp(id, FZ_SPACE_FIT) == 0 ? (dirty & DIRTY_SPACE_FIT) != 0
                                                    : (dirty & DIRTY_SPACES) != 0);
        if (drop)
            fm_spaces_remove(&srv.spaces, srv.store, id);
        fm_spaces_release(all[i]);
    }
    free(all);
}

/* Make what the dirty bits name again; the fitter is restarted after a
 * refit was scheduled or a fit ran (its scheduled refits go). */
static void seed(void)
{
    if (dirty & DIRTY_FITTER) {
        fm_fitter_stop(srv.fitter);
        if (fm_fitter_start(&srv.fitter, srv.cfg.refit_delay_ms, srv.cfg.min_observations))
            abort();
    }
    if (dirty & DIRTY_BUILTIN)
        purge_builtin();
    if (dirty & (DIRTY_SPACE | DIRTY_SPACE_FIT | DIRTY_SPACES))
        remove_spaces();
    if (dirty & DIRTY_DEVICE) {
        lut_device_delete(srv.store, FZ_DEVICE);
        lut_device_delete(srv.store, FZ_DEVICE_ABSENT);
        make_device();
    }
    if (dirty & DIRTY_SPACE)
        make_space(FZ_SPACE);
    unsigned fit = dirty & DIRTY_SPACE_FIT;
    dirty = 0;
    if (fit) {
        make_space(FZ_SPACE_FIT);
        observe(); /* schedules a refit: restart the fitter once more */
        fm_fitter_stop(srv.fitter);
        if (fm_fitter_start(&srv.fitter, srv.cfg.refit_delay_ms, srv.cfg.min_observations))
            abort();
        dirty = 0;
    }
}

void fz_reset(void)
{
    if (dirty)
        seed();
}

void fz_make_space(void)
{
    fz_server();
}

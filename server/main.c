/*
 * main.c — fmasd: command line, start-up (store, bundled tables, daemon)
 * and a clean shutdown on SIGINT/SIGTERM.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "daemon.h"
#include "routes.h"
#include "server.h"

#ifndef FMAS_VERSION
#define FMAS_VERSION "0.0.0"
#endif
#ifndef FMAS_TABLES_DIR
#define FMAS_TABLES_DIR ""
#endif

static void usage(FILE *f)
{
    fprintf(f,
            "usage: fmasd [--listen HOST:PORT] [--data-dir DIR] [--threads N]\n"
            "             [--max-body BYTES] [--timeout SECONDS] [--tables DIR]\n"
            "             [--no-bundled] [--port-file FILE] [--min-observations N]\n"
            "             [--refit-delay-ms MS]\n"
            "\n"
            "  --listen     address to serve on (default 127.0.0.1:8080; port 0 picks one)\n"
            "  --data-dir   LMDB data directory (default ./var)\n"
            "  --threads    HTTP worker threads, at most the core count (default: cores)\n"
            "  --max-body   largest request body in bytes (default 67108864)\n"
            "  --timeout    idle connection timeout in seconds (default 30)\n"
            "  --tables     bundled tables loaded on first start (default %s)\n"
            "  --no-bundled start with no bundled tables\n"
            "  --port-file  write the bound port to FILE once listening\n"
            "  --min-observations  distinct genomes before a surrogate is fitted (default 10)\n"
            "  --refit-delay-ms    wait after new observations before refitting (default 300)\n",
            FMAS_TABLES_DIR);
}

static int parse_listen(const char *s, fm_config *cfg)
{
    const char *colon = strrchr(s, ':');
    if (!colon)
        return -1;
    size_t hl = (size_t)(colon - s);
    if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
        s++;
        hl -= 2;
    }
    if (hl == 0 || hl >= sizeof cfg->listen_host)
        return -1;
    memcpy(cfg->listen_host, s, hl);
    cfg->listen_host[hl] = '\0';
    if (!strcmp(cfg->listen_host, "localhost"))
        snprintf(cfg->listen_host, sizeof cfg->listen_host, "127.0.0.1");
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || port < 0 || port > 65535)
        return -1;
    cfg->listen_port = (unsigned short)port;
    return 0;
}

static int parse_size(const char *s, unsigned long long lo, unsigned long long hi,
                      unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || end == s || errno || v < lo || v > hi || s[0] == '-')
        return -1;
    *out = v;
    return 0;
}

/* Read a whole file into a malloc'd NUL-terminated buffer. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 65536 + 1 > cap) {
            cap = cap ? cap * 2 : 131072;
            char *p = realloc(buf, cap);
            if (!p) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = p;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_line(const char *fmt, ...)
{
    char ts[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(stderr, "%s fmasd: ", ts);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* Load one bundled device: NAME.device.json (its fields) + NAME.csv. */
static int load_bundled_device(fm_server *srv, const char *dir, const char *name)
{
    char path[8192];
    json_error_t jerr;
    snprintf(path, sizeof path, "%s/%s.device.json", dir, name);
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        log_line("bundled table %s: %s (line %d)", path, jerr.text, jerr.line);
        return -1;
    }
    lut_device dev;
    memset(&dev, 0, sizeof dev);
    snprintf(dev.name, sizeof dev.name, "%s", name);
    lut_error err = {.row = -1};
    int rc = fm_device_from_json(doc, &dev, &err);
    json_decref(doc);
    if (rc) {
        log_line("bundled table %s: %s: %s", path, err.field, err.reason);
        return -1;
    }
    rc = lut_device_put(srv->store, &dev, NULL);
    if (rc) {
        log_line("bundled table %s: %s", path, lut_strerror(rc));
        return -1;
    }
    snprintf(path, sizeof path, "%s/%s.csv", dir, name);
    size_t len = 0;
    char *csv = read_file(path, &len);
    if (!csv)
        return 0; /* a device without rows is allowed */
    fm_request rq = {.srv = srv, .body = csv, .body_len = len, .content_type = "text/csv"};
    fm_response rs = {0};
    lut_entry *rows = NULL;
    size_t n = 0;
    if (fm_parse_batch(&rq, &rs, &rows, &n)) {
        char *text = rs.json ? json_dumps(rs.json, JSON_COMPACT) : NULL;
        log_line("bundled table %s: %s", path, text ? text : "does not parse");
        free(text);
        json_decref(rs.json);
        free(csv);
        return -1;
    }
    free(csv);
    rc = lut_store_put_batch(srv->store, name, rows, n, LUT_MODE_REPLACE, &dev, &err);
    free(rows);
    if (rc) {
        log_line("bundled table %s: row %ld: %s", path, err.row, rc == LUT_EINVAL ? err.reason : lut_strerror(rc));
        return -1;
    }
    log_line("loaded bundled table %s: %llu entries, version %llu", name,
             (unsigned long long)dev.entries, (unsigned long long)dev.lut_version);
    return 0;
}

/* Load the bundled tables of cfg.tables_dir once per data directory. */
static int load_bundled(fm_server *srv)
{
    const char *dir = srv->cfg.tables_dir;
    if (!dir[0])
        return 0;
    char marker[8192];
    snprintf(marker, sizeof marker, "%s/.bundled-loaded", srv->cfg.data_dir);
    if (access(marker, F_OK) == 0)
        return 0;
    DIR *d = opendir(dir);
    if (!d) {
        log_line("no bundled tables at %s (%s)", dir, strerror(errno));
        return 0;
    }
    int failed = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *suffix = ".device.json";
        size_t len = strlen(de->d_name), sl = strlen(suffix);
        if (len <= sl || strcmp(de->d_name + len - sl, suffix) != 0)
            continue;
        char name[LUT_NAME_MAX];
        if (len - sl >= sizeof name)
            continue;
        memcpy(name, de->d_name, len - sl);
        name[len - sl] = '\0';
        lut_device existing;
        if (lut_device_get(srv->store, name, &existing) == 0)
            continue; /* never overwrite a table the user already has */
        if (load_bundled_device(srv, dir, name))
            failed = 1;
    }
    closedir(d);
    if (failed)
        return -1;
    int fd = open(marker, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    return 0;
}

/* Schedule a fit of every (space, metric, fidelity) with stored
 * observations, so that a restarted service predicts again shortly. */
static void fm_fit_stored(fm_server *srv)
{
    fm_space **all;
    size_t n;
    if (fm_spaces_list(&srv->spaces, &all, &n))
        return;
    for (size_t i = 0; i < n; i++) {
        fm_obs_pair *pairs = NULL;
        size_t np = 0;
        if (fm_obs_pairs(all[i]->obs, &pairs, &np) == 0)
            for (size_t j = 0; j < np; j++)
                fm_fitter_schedule(srv->fitter, all[i], pairs[j].metric, pairs[j].fidelity, 1);
        free(pairs);
        fm_spaces_release(all[i]);
    }
    free(all);
}

int main(int argc, char **argv)
{
    static fm_server srv;
    fm_config *cfg = &srv.cfg;
    snprintf(cfg->listen_host, sizeof cfg->listen_host, "127.0.0.1");
    cfg->listen_port = 8080;
    snprintf(cfg->data_dir, sizeof cfg->data_dir, "./var");
    snprintf(cfg->tables_dir, sizeof cfg->tables_dir, "%s", FMAS_TABLES_DIR);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1)
        cores = 1;
    cfg->threads = (unsigned)cores;
    cfg->max_body = 64u << 20;
    cfg->conn_timeout = 30;
    cfg->min_observations = 10;
    cfg->refit_delay_ms = 300;
    const char *port_file = NULL;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        unsigned long long n;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--version")) {
            printf("fmasd %s\n", FMAS_VERSION);
            return 0;
        } else if (!strcmp(a, "--no-bundled")) {
            cfg->tables_dir[0] = '\0';
            continue;
        }
        if (!v) {
            fprintf(stderr, "fmasd: %s needs a value\n", a);
            usage(stderr);
            return 2;
        }
        i++;
        if (!strcmp(a, "--listen")) {
            if (parse_listen(v, cfg)) {
                fprintf(stderr, "fmasd: --listen wants HOST:PORT, got \"%s\"\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--data-dir")) {
            snprintf(cfg->data_dir, sizeof cfg->data_dir, "%s", v);
        } else if (!strcmp(a, "--tables")) {
            snprintf(cfg->tables_dir, sizeof cfg->tables_dir, "%s", v);
        } else if (!strcmp(a, "--port-file")) {
            port_file = v;
        } else if (!strcmp(a, "--threads")) {
            if (parse_size(v, 1, 1024, &n)) {
                fprintf(stderr, "fmasd: --threads wants 1..1024, got \"%s\"\n", v);
                return 2;
            }
            cfg->threads = n > (unsigned long long)cores ? (unsigned)cores : (unsigned)n;
        } else if (!strcmp(a, "--max-body")) {
            if (parse_size(v, 1, 1ull << 34, &n)) {
                fprintf(stderr, "fmasd: --max-body wants a byte count, got \"%s\"\n", v);
                return 2;
            }
            cfg->max_body = (size_t)n;
        } else if (!strcmp(a, "--min-observations")) {
            if (parse_size(v, 3, 1000000, &n)) {
                fprintf(stderr, "fmasd: --min-observations wants 3..1000000, got \"%s\"\n", v);
                return 2;
            }
            cfg->min_observations = (size_t)n;
        } else if (!strcmp(a, "--refit-delay-ms")) {
            if (parse_size(v, 0, 600000, &n)) {
                fprintf(stderr, "fmasd: --refit-delay-ms wants 0..600000, got \"%s\"\n", v);
                return 2;
            }
            cfg->refit_delay_ms = (unsigned)n;
        } else if (!strcmp(a, "--timeout")) {
            if (parse_size(v, 1, 86400, &n)) {
                fprintf(stderr, "fmasd: --timeout wants 1..86400 seconds, got \"%s\"\n", v);
                return 2;
            }
            cfg->conn_timeout = (unsigned)n;
        } else {
            fprintf(stderr, "fmasd: unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
    }

    /* Every thread started from here on inherits the blocked signals; the
     * main thread alone waits for them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    sur_init();
    int rc = lut_store_open(&srv.store, cfg->data_dir, NULL);
    if (rc) {
        fprintf(stderr, "fmasd: cannot open the data directory %s: %s\n", cfg->data_dir, lut_strerror(rc));
        return 1;
    }
    if (fm_spaces_init(&srv.spaces) || (rc = fm_spaces_load(&srv.spaces, srv.store))) {
        fprintf(stderr, "fmasd: cannot load the search spaces: %s\n", lut_strerror(rc));
        lut_store_close(srv.store);
        return 1;
    }
    if ((rc = fm_fitter_start(&srv.fitter, cfg->refit_delay_ms, cfg->min_observations))) {
        fprintf(stderr, "fmasd: cannot start the surrogate fitter: %s\n", strerror(rc));
        fm_spaces_destroy(&srv.spaces);
        lut_store_close(srv.store);
        return 1;
    }
    fm_fit_stored(&srv);
    if (load_bundled(&srv))
        log_line("some bundled tables did not load; the service runs without them");

    fm_daemon *daemon = NULL;
    rc = fm_daemon_start(&srv, &fm_routes, &daemon);
    if (rc) {
        fprintf(stderr, "fmasd: cannot listen on %s:%u: %s\n", cfg->listen_host, cfg->listen_port,
                strerror(rc));
        fm_fitter_stop(srv.fitter);
        fm_spaces_destroy(&srv.spaces);
        lut_store_close(srv.store);
        return 1;
    }
    unsigned short port = fm_daemon_port(daemon);
    log_line("listening on http://%s%s%s:%u (data %s, %u threads)",
             strchr(cfg->listen_host, ':') ? "[" : "", cfg->listen_host,
             strchr(cfg->listen_host, ':') ? "]" : "", port, cfg->data_dir, cfg->threads);
    if (port_file) {
        FILE *f = fopen(port_file, "w");
        if (f) {
            fprintf(f, "%u\n", port);
            fclose(f);
        }
    }

    int sig = 0;
    sigwait(&sigs, &sig);
    log_line("signal %d: finishing in-flight requests", sig);
    fm_daemon_stop(daemon);
    fm_fitter_stop(srv.fitter);
    fm_spaces_destroy(&srv.spaces);
    lut_store_close(srv.store);
    log_line("stopped");
    return 0;
}

/*
 * main.c — fmasd: command line (getopt_long), start-up (store, spaces,
 * fitter, bundled tables, daemon) and a clean shutdown on SIGINT/SIGTERM.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bundled.h"
#include "daemon.h"
#include "fitter.h"
#include "log.h"
#include "replica.h"
#include "routes.h"
#include "server.h"
#include "snapshot.h"
#include "sur.h"

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
            "             [--refit-delay-ms MS] [--token-file FILE] [--read-token FILE]\n"
            "             [--workers N] [--work-queue N]\n"
            "             [--snapshot-dir DIR [--snapshot-interval-ms MS] [--replica] [--writer-url URL]]\n"
            "\n"
            "  --listen     address to serve on (default 127.0.0.1:8080; port 0 picks one)\n"
            "  --data-dir   LMDB data directory (default ./var)\n"
            "  --threads    HTTP worker threads, at most the core count (default: cores)\n"
            "  --workers    threads for long requests: uploads, batches, fits (default: cores, at least 2)\n"
            "  --work-queue long requests that may wait for one; more are answered 503 (default 64)\n"
            "  --max-body   largest request body in bytes (default 67108864)\n"
            "  --timeout    idle connection timeout in seconds (default 30)\n"
            "  --tables     bundled tables loaded on first start (default %s)\n"
            "  --no-bundled start with no bundled tables\n"
            "  --port-file  write the bound port to FILE once listening\n"
            "  --min-observations  distinct genomes before a surrogate is fitted (default 10)\n"
            "  --refit-delay-ms    wait after new observations before refitting (default 300)\n"
            "  --token-file FILE   every write (PUT, POST, DELETE) needs Authorization: Bearer\n"
            "                      <the token in FILE> (else $FMAS_TOKEN_FILE, else $FMAS_TOKEN)\n"
            "  --read-token FILE   reads need a token too: this one or the write token\n"
            "                      (else $FMAS_READ_TOKEN_FILE, else $FMAS_READ_TOKEN);\n"
            "                      /v1/health and the dashboard page stay open\n"
            "  --snapshot-dir DIR  writer: ship compacted LMDB snapshots of the store into DIR\n"
            "                      after committed writes; with --replica: serve the newest\n"
            "                      snapshot in DIR, read-only, and follow newer ones\n"
            "  --snapshot-interval-ms MS  writer: at most one snapshot per MS; replica: poll\n"
            "                      DIR every MS (default 200)\n"
            "  --replica           a read replica of the writer shipping into --snapshot-dir:\n"
            "                      writes answer 409 naming --writer-url; --data-dir is unused\n"
            "  --writer-url URL    the writer's base URL (replica: named in refusals; writer:\n"
            "                      written in manifests)\n",
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

enum {
    OPT_LISTEN = 256, OPT_DATA_DIR, OPT_THREADS, OPT_MAX_BODY, OPT_TIMEOUT, OPT_TABLES, OPT_NO_BUNDLED,
    OPT_PORT_FILE, OPT_MIN_OBS, OPT_REFIT_DELAY, OPT_TOKEN_FILE, OPT_READ_TOKEN, OPT_VERSION,
    OPT_WORKERS, OPT_WORK_QUEUE, OPT_SNAPSHOT_DIR, OPT_SNAPSHOT_INTERVAL, OPT_REPLICA, OPT_WRITER_URL
};

/* What the command line names besides the configuration. */
typedef struct startup {
    const char *port_file;
    const char *token_file;
    const char *read_token_file;
} startup;

static const struct option options[] = {
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"data-dir", required_argument, NULL, OPT_DATA_DIR},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"max-body", required_argument, NULL, OPT_MAX_BODY},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"tables", required_argument, NULL, OPT_TABLES},
    {"no-bundled", no_argument, NULL, OPT_NO_BUNDLED},
    {"port-file", required_argument, NULL, OPT_PORT_FILE},
    {"min-observations", required_argument, NULL, OPT_MIN_OBS},
    {"refit-delay-ms", required_argument, NULL, OPT_REFIT_DELAY},
    {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
    {"read-token", required_argument, NULL, OPT_READ_TOKEN},
    {"workers", required_argument, NULL, OPT_WORKERS},
    {"work-queue", required_argument, NULL, OPT_WORK_QUEUE},
    {"snapshot-dir", required_argument, NULL, OPT_SNAPSHOT_DIR},
    {"snapshot-interval-ms", required_argument, NULL, OPT_SNAPSHOT_INTERVAL},
    {"replica", no_argument, NULL, OPT_REPLICA},
    {"writer-url", required_argument, NULL, OPT_WRITER_URL},
    {"version", no_argument, NULL, OPT_VERSION},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static void defaults(fm_config *cfg)
{
    snprintf(cfg->listen_host, sizeof cfg->listen_host, "127.0.0.1");
    cfg->listen_port = 8080;
    snprintf(cfg->data_dir, sizeof cfg->data_dir, "./var");
    snprintf(cfg->tables_dir, sizeof cfg->tables_dir, "%s", FMAS_TABLES_DIR);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->threads = cores < 1 ? 1 : (unsigned)cores;
    cfg->workers = cores < 2 ? 2 : (unsigned)cores;
    cfg->work_queue = 64;
    cfg->max_body = 64u << 20;
    cfg->conn_timeout = 30;
    cfg->min_observations = 10;
    cfg->refit_delay_ms = 300;
    cfg->snapshot_interval_ms = 200;
}

/* A numeric option's value within its range, or a message and -1. */
static int bounded(const char *name, const char *v, unsigned long long lo, unsigned long long hi,
                   const char *wants, unsigned long long *out)
{
    if (parse_size(v, lo, hi, out) == 0)
        return 0;
    fprintf(stderr, "fmasd: --%s wants %s, got \"%s\"\n", name, wants, v);
    return -1;
}

/* Apply one option with a value; -1 (after a message) when it is bad. */
static int apply_option(int opt, const char *v, fm_config *cfg, startup *st)
{
    unsigned long long n;
    switch (opt) {
    case OPT_LISTEN:
        if (parse_listen(v, cfg)) {
            fprintf(stderr, "fmasd: --listen wants HOST:PORT, got \"%s\"\n", v);
            return -1;
        }
        return 0;
    case OPT_DATA_DIR: snprintf(cfg->data_dir, sizeof cfg->data_dir, "%s", v); return 0;
    case OPT_TABLES: snprintf(cfg->tables_dir, sizeof cfg->tables_dir, "%s", v); return 0;
    case OPT_PORT_FILE: st->port_file = v; return 0;
    case OPT_TOKEN_FILE: st->token_file = v; return 0;
    case OPT_READ_TOKEN: st->read_token_file = v; return 0;
    case OPT_SNAPSHOT_DIR: snprintf(cfg->snapshot_dir, sizeof cfg->snapshot_dir, "%s", v); return 0;
    case OPT_WRITER_URL:
        if (strncmp(v, "http://", 7) && strncmp(v, "https://", 8)) {
            fprintf(stderr, "fmasd: --writer-url wants http://HOST:PORT, got \"%s\"\n", v);
            return -1;
        }
        snprintf(cfg->writer_url, sizeof cfg->writer_url, "%s", v);
        return 0;
    case OPT_SNAPSHOT_INTERVAL:
        if (bounded("snapshot-interval-ms", v, 1, 3600000, "1..3600000", &n))
            return -1;
        cfg->snapshot_interval_ms = (unsigned)n;
        return 0;
    case OPT_THREADS: {
        if (bounded("threads", v, 1, 1024, "1..1024", &n))
            return -1;
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        unsigned long long max = cores < 1 ? 1 : (unsigned long long)cores;
        cfg->threads = (unsigned)(n > max ? max : n);
        return 0;
    }
    case OPT_MAX_BODY:
        if (bounded("max-body", v, 1, 1ull << 34, "a byte count", &n))
            return -1;
        cfg->max_body = (size_t)n;
        return 0;
    case OPT_MIN_OBS:
        if (bounded("min-observations", v, 3, 1000000, "3..1000000", &n))
            return -1;
        cfg->min_observations = (size_t)n;
        return 0;
    case OPT_REFIT_DELAY:
        if (bounded("refit-delay-ms", v, 0, 600000, "0..600000", &n))
            return -1;
        cfg->refit_delay_ms = (unsigned)n;
        return 0;
    case OPT_WORKERS:
        if (bounded("workers", v, 1, 256, "1..256", &n))
            return -1;
        cfg->workers = (unsigned)n;
        return 0;
    case OPT_WORK_QUEUE:
        if (bounded("work-queue", v, 1, 65536, "1..65536", &n))
            return -1;
        cfg->work_queue = (size_t)n;
        return 0;
    case OPT_TIMEOUT:
        if (bounded("timeout", v, 1, 86400, "1..86400 seconds", &n))
            return -1;
        cfg->conn_timeout = (unsigned)n;
        return 0;
    }
    return -1;
}

/*
 * The command line into cfg. Returns -1 to go on serving, or the exit
 * status: 0 after --help or --version, 2 after a bad option (with a
 * message, and the usage for an unknown option or a missing value).
 * Options are taken in order up to the first argument that is not one,
 * which is an unknown option too.
 */
static int parse_options(int argc, char **argv, fm_config *cfg, startup *st)
{
    opterr = 0;
    for (;;) {
        int before = optind;
        int opt = getopt_long(argc, argv, "+:h", options, NULL);
        if (opt == -1) {
            /* "--" ends getopt's options; fmasd never took it. */
            if (optind > before && !strcmp(argv[before], "--"))
                optind = before;
            break;
        }
        if (opt == 'h') {
            usage(stdout);
            return 0;
        }
        if (opt == OPT_VERSION) {
            printf("fmasd %s\n", FMAS_VERSION);
            return 0;
        }
        if (opt == OPT_NO_BUNDLED || opt == OPT_REPLICA) {
            if (opt == OPT_NO_BUNDLED)
                cfg->tables_dir[0] = '\0';
            else
                cfg->replica = 1;
            continue;
        }
        if (opt == ':') {
            fprintf(stderr, "fmasd: %s needs a value\n", argv[before]);
            usage(stderr);
            return 2;
        }
        if (opt == '?') {
            fprintf(stderr, "fmasd: unknown option %s\n", argv[before]);
            usage(stderr);
            return 2;
        }
        if (apply_option(opt, optarg, cfg, st))
            return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "fmasd: unknown option %s\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (cfg->replica && !cfg->snapshot_dir[0]) {
        fprintf(stderr, "fmasd: --replica needs --snapshot-dir\n");
        return 2;
    }
    return -1;
}

/* One token: from the file named by the option, else the file named by
 * env_file, else the text of env_text; none of them leaves *len 0.
 * Returns 0, or -1 after a message. */
static int load_token(const char *option, const char *file, const char *env_file, const char *env_text, char *token,
                      size_t *len)
{
    char err[4400];
    const char *from = file ? option : env_file;
    if (!file && getenv(env_file) && *getenv(env_file))
        file = getenv(env_file);
    if (file) {
        int warn = 0;
        if (fm_auth_load_file(file, token, len, &warn, err, sizeof err)) {
            fprintf(stderr, "fmasd: %s: %s\n", from, err);
            return -1;
        }
        if (warn)
            fprintf(stderr, "fmasd: warning: the token file %s may be read by group or others (chmod 600 it)\n",
                    file);
        return 0;
    }
    const char *text = getenv(env_text);
    if (text && *text && fm_auth_set(text, token, len, err, sizeof err)) {
        fprintf(stderr, "fmasd: %s: %s\n", env_text, err);
        return -1;
    }
    return 0;
}

/* The write and read tokens into cfg->auth. Returns -1 to go on, or the
 * exit status 2 after a message. */
static int load_tokens(fm_config *cfg, const startup *st)
{
    fm_auth *a = &cfg->auth;
    if (load_token("--token-file", st->token_file, "FMAS_TOKEN_FILE", "FMAS_TOKEN", a->write_token, &a->write_len) ||
        load_token("--read-token", st->read_token_file, "FMAS_READ_TOKEN_FILE", "FMAS_READ_TOKEN", a->read_token,
                   &a->read_len))
        return 2;
    if (a->read_len && !a->write_len) {
        fprintf(stderr, "fmasd: a read token needs a write token too (--token-file)\n");
        return 2;
    }
    return -1;
}

/* The writer's store in the data directory, or a replica's first
 * snapshot (waited for up to a minute, or until SIGINT or SIGTERM). Returns 0 or the exit status. */
static int open_store(fm_server *srv)
{
    fm_config *cfg = &srv->cfg;
    if (cfg->replica) {
        /* SIGINT and SIGTERM are blocked here: look for them between tries. */
        sigset_t pending;
        int rc = LUT_ENOTFOUND;
        for (int i = 0; i < 600 && rc; i++) {
            /* Any failure is retried: the writer may have pruned the
             * snapshot between finding and opening it. */
            rc = fm_replica_open(&srv->replica, cfg->snapshot_dir, 100, &srv->store);
            if (sigpending(&pending) == 0 && (sigismember(&pending, SIGINT) || sigismember(&pending, SIGTERM)))
                break;
            if (rc && rc != LUT_ENOTFOUND)
                nanosleep(&(struct timespec){0, 100000000L}, NULL);
        }
        if (rc)
            fprintf(stderr, "fmasd: no snapshot to serve in %s: %s\n", cfg->snapshot_dir,
                    rc == LUT_ENOTFOUND ? "none appeared (waited up to 60 s)" : lut_strerror(rc));
        return rc ? 1 : 0;
    }
    int rc = lut_store_open(&srv->store, cfg->data_dir, NULL);
    if (rc)
        fprintf(stderr, "fmasd: cannot open the data directory %s: %s\n", cfg->data_dir, lut_strerror(rc));
    return rc ? 1 : 0;
}

/* Ship snapshots (writer) or follow them (replica), when asked to.
 * Returns 0 or the exit status, after a message. */
static int start_shipping(fm_server *srv, unsigned short port)
{
    fm_config *cfg = &srv->cfg;
    int rc = 0;
    if (cfg->replica) {
        rc = fm_replica_follow(srv->replica, srv->store, &srv->spaces, srv->fitter, cfg->snapshot_interval_ms);
    } else if (cfg->snapshot_dir[0]) {
        if (!cfg->writer_url[0])
            snprintf(cfg->writer_url, sizeof cfg->writer_url, "http://%s:%u", cfg->listen_host, port);
        rc = fm_snapshotter_start(&srv->snapshots, srv->store, cfg->snapshot_dir, cfg->snapshot_interval_ms,
                                  cfg->writer_url);
    }
    if (rc)
        fprintf(stderr, "fmasd: cannot %s snapshots in %s: %s\n", cfg->replica ? "follow" : "write",
                cfg->snapshot_dir, strerror(rc));
    return rc ? 1 : 0;
}

/* The store, the spaces with their observations, the fitter (with a fit
 * of everything stored) and the bundled tables. Returns 0 or the exit
 * status, after a message. */
static int start_state(fm_server *srv)
{
    fm_config *cfg = &srv->cfg;
    int rc = open_store(srv);
    if (rc)
        return rc;
    if (fm_spaces_init(&srv->spaces) || (rc = fm_spaces_load(&srv->spaces, srv->store))) {
        fprintf(stderr, "fmasd: cannot load the search spaces: %s\n", lut_strerror(rc));
        lut_store_close(srv->store);
        fm_replica_stop(srv->replica);
        return 1;
    }
    if ((rc = fm_fitter_start(&srv->fitter, cfg->refit_delay_ms, cfg->min_observations))) {
        fprintf(stderr, "fmasd: cannot start the surrogate fitter: %s\n", strerror(rc));
        fm_spaces_destroy(&srv->spaces);
        lut_store_close(srv->store);
        fm_replica_stop(srv->replica);
        return 1;
    }
    if (!(srv->calib = fm_calib_new(srv->store))) {
        fprintf(stderr, "fmasd: out of memory\n");
        fm_fitter_stop(srv->fitter);
        fm_spaces_destroy(&srv->spaces);
        lut_store_close(srv->store);
        fm_replica_stop(srv->replica);
        return 1;
    }
    fm_fitter_schedule_stored(srv->fitter, &srv->spaces);
    if (!cfg->replica && fm_bundled_load(srv))
        fm_log("some bundled tables did not load; the service runs without them");
    return 0;
}

static void stop_state(fm_server *srv)
{
    fm_snapshotter_stop(srv->snapshots);
    fm_replica_stop(srv->replica);
    fm_fitter_stop(srv->fitter);
    fm_spaces_destroy(&srv->spaces);
    fm_calib_free(srv->calib);
    lut_store_close(srv->store);
}

/* Say where the service listens (and write the port to port_file). */
static void announce(const fm_config *cfg, unsigned short port, const char *port_file)
{
    const char *v6 = strchr(cfg->listen_host, ':');
    const char *access = cfg->auth.read_len ? "token for reads and writes"
                         : cfg->auth.write_len ? "token for writes"
                                               : "no token";
    char data[4200];
    snprintf(data, sizeof data, "%s %s", cfg->replica ? "replica of the snapshots in" : "data",
             cfg->replica ? cfg->snapshot_dir : cfg->data_dir);
    fm_log("listening on http://%s%s%s:%u (%s, %u threads, %u workers, %s)", v6 ? "[" : "", cfg->listen_host,
           v6 ? "]" : "", port, data, cfg->threads, cfg->workers, access);
    if (port_file) {
        FILE *f = fopen(port_file, "w");
        if (f) {
            fprintf(f, "%u\n", port);
            fclose(f);
        }
    }
}

int main(int argc, char **argv)
{
    static fm_server srv;
    startup st = {0};
    defaults(&srv.cfg);
    int status = parse_options(argc, argv, &srv.cfg, &st);
    if (status < 0)
        status = load_tokens(&srv.cfg, &st);
    if (status >= 0)
        return status;

    /* Every thread started from here on inherits the blocked signals; the
     * main thread alone waits for them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    sur_init();
    if ((status = start_state(&srv)))
        return status;
    fm_daemon *daemon = NULL;
    int rc = fm_daemon_start(&srv, &fm_routes, &daemon);
    if (rc) {
        fprintf(stderr, "fmasd: cannot listen on %s:%u: %s\n", srv.cfg.listen_host, srv.cfg.listen_port,
                strerror(rc));
        stop_state(&srv);
        return 1;
    }
    if ((status = start_shipping(&srv, fm_daemon_port(daemon)))) {
        fm_daemon_stop(daemon);
        stop_state(&srv);
        return status;
    }
    announce(&srv.cfg, fm_daemon_port(daemon), st.port_file);

    int sig = 0;
    sigwait(&sigs, &sig);
    fm_log("signal %d: finishing in-flight requests", sig);
    /* a surrogate fit can take long: it is cancelled, and requests that
     * wait for one answer 503 rather than hold the shutdown */
    fm_fitter_cancel(srv.fitter);
    fm_daemon_stop(daemon);
    stop_state(&srv);
    fm_log("stopped");
    return 0;
}

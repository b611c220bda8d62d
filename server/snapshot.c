/*
 * snapshot.c — writing, finding and pruning snapshots (see snapshot.h).
 */
#include "snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define PREFIX "snap-"

struct fm_snapshotter {
    lut_store *store;
    char dir[4096];
    char writer[1024];
    unsigned interval_ms;
    pthread_t thread;
    pthread_mutex_t lock; /* stop, last, written, last_ms */
    pthread_cond_t wake;
    int stop;
    fm_snapshot_info last;
    uint64_t written;
    double last_ms;
};

static double now_unix(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The sequence of a directory entry named snap-N, or 0. */
static uint64_t entry_sequence(const char *name)
{
    if (strncmp(name, PREFIX, strlen(PREFIX)) != 0)
        return 0;
    const char *p = name + strlen(PREFIX);
    char *end;
    errno = 0;
    unsigned long long v = strtoull(p, &end, 10);
    return (*p >= '0' && *p <= '9' && !*end && !errno) ? (uint64_t)v : 0;
}

/* The largest sequence in dir, or 0. */
static uint64_t newest_sequence(const char *dir)
{
    DIR *d = opendir(dir);
    uint64_t best = 0;
    if (!d)
        return 0;
    for (struct dirent *e; (e = readdir(d));) {
        uint64_t s = entry_sequence(e->d_name);
        if (s > best)
            best = s;
    }
    closedir(d);
    return best;
}

int fm_snapshot_newest(const char *dir, fm_snapshot_info *out)
{
    memset(out, 0, sizeof *out);
    uint64_t seq = newest_sequence(dir);
    if (!seq)
        return LUT_ENOTFOUND;
    char manifest[4300];
    snprintf(out->path, sizeof out->path, "%s/" PREFIX "%012" PRIu64, dir, seq);
    snprintf(manifest, sizeof manifest, "%s/manifest.json", out->path);
    json_t *m = json_load_file(manifest, 0, NULL);
    if (!m)
        return LUT_ENOTFOUND;
    out->sequence = seq;
    out->created = json_number_value(json_object_get(m, "created"));
    json_decref(m);
    return 0;
}

/* The devices' versions as the copy in path holds them. */
static json_t *copy_versions(const char *path)
{
    lut_store_options opt = {.read_only = 1};
    lut_store *copy;
    lut_device *devs = NULL;
    size_t n = 0;
    if (lut_store_open(&copy, path, &opt))
        return NULL;
    json_t *v = NULL;
    if (lut_device_list(copy, &devs, &n) == 0) {
        v = json_object();
        for (size_t i = 0; i < n; i++)
            json_object_set_new(v, devs[i].name, json_integer((json_int_t)devs[i].lut_version));
    }
    free(devs);
    lut_store_close(copy);
    return v;
}

/* fsync dir/name, so that a renamed snapshot is on disk whole. */
static int sync_file(const char *dir, const char *name)
{
    char file[4400];
    snprintf(file, sizeof file, "%s/%s", dir, name);
    int fd = open(file, O_RDONLY);
    if (fd < 0)
        return errno;
    int rc = fsync(fd) ? errno : 0;
    close(fd);
    return rc;
}

/* manifest.json into path, synced. */
static int write_manifest(const char *path, uint64_t seq, double created, uint64_t txnid, const char *writer)
{
    json_t *versions = copy_versions(path);
    if (!versions)
        return LUT_ECORRUPT;
    json_t *m = json_pack("{s:i, s:I, s:f, s:I, s:s, s:o}", "format", 1, "sequence", (json_int_t)seq, "created",
                          created, "txnid", (json_int_t)txnid, "writer", writer, "lut_versions", versions);
    char file[4400];
    snprintf(file, sizeof file, "%s/manifest.json", path);
    int rc = m && json_dump_file(m, file, JSON_COMPACT | JSON_SORT_KEYS) == 0 ? 0 : EIO;
    json_decref(m);
    return rc ? rc : sync_file(path, "manifest.json");
}

static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        for (struct dirent *e; (e = readdir(d));) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char f[4400];
            snprintf(f, sizeof f, "%s/%s", path, e->d_name);
            unlink(f);
        }
        closedir(d);
    }
    rmdir(path);
}

/* Remove the snapshots older than the newest FM_SNAPSHOT_KEEP. */
static void prune(const char *dir, uint64_t newest)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));) {
        uint64_t s = entry_sequence(e->d_name);
        if (s && s + FM_SNAPSHOT_KEEP <= newest) {
            char p[4400];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            remove_tree(p);
        }
    }
    closedir(d);
}

/* One snapshot of the store as sequence seq: copy, manifest, rename. */
static int write_one(fm_snapshotter *s, uint64_t seq, uint64_t txnid, fm_snapshot_info *out)
{
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s/.tmp-%" PRIu64 "-%ld", s->dir, seq, (long)getpid());
    remove_tree(tmp);
    if (mkdir(tmp, 0700) != 0)
        return errno;
    double created = now_unix();
    int rc = lut_store_copy(s->store, tmp);
    if (!rc)
        rc = sync_file(tmp, "data.mdb");
    if (!rc)
        rc = write_manifest(tmp, seq, created, txnid, s->writer);
    snprintf(out->path, sizeof out->path, "%s/" PREFIX "%012" PRIu64, s->dir, seq);
    if (!rc && rename(tmp, out->path) != 0)
        rc = errno;
    if (rc) {
        remove_tree(tmp);
        return rc;
    }
    int dfd = open(s->dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    out->sequence = seq;
    out->created = created;
    prune(s->dir, seq);
    return 0;
}

int fm_snapshot_nap(pthread_mutex_t *lock, pthread_cond_t *wake, const int *stop, unsigned ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(lock);
    while (!*stop && pthread_cond_timedwait(wake, lock, &until) != ETIMEDOUT)
        ;
    int stopped = *stop;
    pthread_mutex_unlock(lock);
    return stopped;
}

static int nap(fm_snapshotter *s, unsigned ms)
{
    return fm_snapshot_nap(&s->lock, &s->wake, &s->stop, ms);
}

static void *snapshot_thread(void *arg)
{
    fm_snapshotter *s = arg;
    uint64_t seq = newest_sequence(s->dir), shipped = 0;
    int failing = 0;
    do {
        uint64_t txnid = lut_store_txnid(s->store);
        if (txnid == shipped && seq)
            continue;
        fm_snapshot_info info;
        double t0 = now_unix();
        int rc = write_one(s, seq + 1, txnid, &info);
        if (rc) {
            if (!failing)
                fm_log("snapshot %" PRIu64 " into %s failed: %s", seq + 1, s->dir, lut_strerror(rc));
            failing = 1;
            continue;
        }
        failing = 0;
        seq++;
        shipped = txnid;
        pthread_mutex_lock(&s->lock);
        s->last = info;
        s->written++;
        s->last_ms = (now_unix() - t0) * 1e3;
        pthread_mutex_unlock(&s->lock);
    } while (!nap(s, s->interval_ms));
    return NULL;
}

int fm_snapshotter_start(fm_snapshotter **out, lut_store *store, const char *dir, unsigned interval_ms,
                         const char *writer_url)
{
    *out = NULL;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return errno;
    fm_snapshotter *s = calloc(1, sizeof *s);
    if (!s)
        return ENOMEM;
    s->store = store;
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    snprintf(s->writer, sizeof s->writer, "%s", writer_url);
    s->interval_ms = interval_ms;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    int rc = pthread_create(&s->thread, NULL, snapshot_thread, s);
    if (rc) {
        pthread_cond_destroy(&s->wake);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void fm_snapshotter_stop(fm_snapshotter *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stop = 1;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

void fm_snapshotter_status(fm_snapshotter *s, fm_snapshot_info *last, uint64_t *written, double *last_ms)
{
    pthread_mutex_lock(&s->lock);
    *last = s->last;
    *written = s->written;
    *last_ms = s->last_ms;
    pthread_mutex_unlock(&s->lock);
}

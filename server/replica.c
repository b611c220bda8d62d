/*
 * replica.c — following the writer's snapshots (see replica.h).
 */
#include "replica.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

struct fm_replica {
    char dir[4096];
    lut_store *store;
    fm_spaces *spaces;
    fm_fitter *fitter;
    unsigned poll_ms;
    int started;
    pthread_t thread;
    pthread_mutex_t lock; /* stop, st */
    pthread_cond_t wake;
    int stop;
    fm_replica_status st;
    double newest_created;
};

static double now_unix(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int fm_replica_open(fm_replica **out, const char *dir, unsigned wait_ms, lut_store **store)
{
    *out = NULL;
    *store = NULL;
    fm_snapshot_info info;
    int rc;
    for (unsigned waited = 0; (rc = fm_snapshot_newest(dir, &info)) != 0 && waited < wait_ms; waited += 100)
        sleep_ms(100);
    if (rc)
        return rc;
    lut_store_options opt = {.read_only = 1};
    if ((rc = lut_store_open(store, info.path, &opt)))
        return rc;
    fm_replica *r = calloc(1, sizeof *r);
    if (!r) {
        lut_store_close(*store);
        *store = NULL;
        return LUT_ENOMEM;
    }
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->wake, NULL);
    r->st.serving = info;
    r->st.loaded = now_unix();
    r->st.newest = info.sequence;
    r->newest_created = info.created;
    *out = r;
    return 0;
}

/* Schedule fits of the spaces that the reload replaced (new, or changed:
 * not one of the objects in before, which were kept with their models). */
static void schedule_changed(fm_replica *r, fm_space **before, size_t nbefore)
{
    fm_space **now;
    size_t n;
    if (fm_spaces_list(r->spaces, &now, &n))
        return;
    for (size_t i = 0; i < n; i++) {
        int kept = 0;
        for (size_t j = 0; j < nbefore && !kept; j++)
            kept = now[i] == before[j];
        fm_obs_pair *pairs = NULL;
        size_t np = 0;
        if (!kept && fm_obs_pairs(now[i]->obs, &pairs, &np) == 0)
            for (size_t k = 0; k < np; k++)
                fm_fitter_schedule(r->fitter, now[i], pairs[k].metric, pairs[k].fidelity, 1);
        free(pairs);
        fm_spaces_release(now[i]);
    }
    free(now);
}

/* Swap in snapshot info and refresh what is built from the store. */
static void swap_in(fm_replica *r, const fm_snapshot_info *info)
{
    int rc = lut_store_swap(r->store, info->path);
    if (rc) {
        /* Pruned meanwhile, most likely: the next poll finds a newer one. */
        fm_log("replica: snapshot %" PRIu64 " does not open: %s", info->sequence, lut_strerror(rc));
        return;
    }
    fm_space **before = NULL;
    size_t nbefore = 0;
    if (fm_spaces_list(r->spaces, &before, &nbefore))
        nbefore = 0;
    if ((rc = fm_spaces_reload(r->spaces, r->store)))
        fm_log("replica: the spaces of snapshot %" PRIu64 " do not load: %s", info->sequence, lut_strerror(rc));
    schedule_changed(r, before, nbefore);
    for (size_t i = 0; i < nbefore; i++)
        fm_spaces_release(before[i]);
    free(before);
    pthread_mutex_lock(&r->lock);
    r->st.serving = *info;
    r->st.loaded = now_unix();
    r->st.swaps++;
    pthread_mutex_unlock(&r->lock);
}

/* Wait up to ms or until stopped; returns stop. */
static int nap(fm_replica *r, unsigned ms)
{
    return fm_snapshot_nap(&r->lock, &r->wake, &r->stop, ms);
}

static void *follow_thread(void *arg)
{
    fm_replica *r = arg;
    while (!nap(r, r->poll_ms)) {
        fm_snapshot_info info;
        if (fm_snapshot_newest(r->dir, &info))
            continue;
        pthread_mutex_lock(&r->lock);
        uint64_t serving = r->st.serving.sequence;
        if (info.sequence > r->st.newest) {
            r->st.newest = info.sequence;
            r->newest_created = info.created;
        }
        pthread_mutex_unlock(&r->lock);
        if (info.sequence > serving)
            swap_in(r, &info);
    }
    return NULL;
}

int fm_replica_follow(fm_replica *r, lut_store *store, fm_spaces *spaces, fm_fitter *fitter, unsigned poll_ms)
{
    r->store = store;
    r->spaces = spaces;
    r->fitter = fitter;
    r->poll_ms = poll_ms ? poll_ms : 1;
    int rc = pthread_create(&r->thread, NULL, follow_thread, r);
    r->started = rc == 0;
    return rc;
}

void fm_replica_stop(fm_replica *r)
{
    if (!r)
        return;
    if (r->started) {
        pthread_mutex_lock(&r->lock);
        r->stop = 1;
        pthread_cond_signal(&r->wake);
        pthread_mutex_unlock(&r->lock);
        pthread_join(r->thread, NULL);
    }
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

void fm_replica_status_get(fm_replica *r, fm_replica_status *st)
{
    pthread_mutex_lock(&r->lock);
    *st = r->st;
    double newest_created = r->newest_created;
    pthread_mutex_unlock(&r->lock);
    st->lag_s = 0;
    fm_snapshot_info info;
    if (fm_snapshot_newest(r->dir, &info) == 0 && info.sequence > st->newest) {
        st->newest = info.sequence;
        newest_created = info.created;
    }
    if (st->newest > st->serving.sequence) {
        st->lag_s = now_unix() - newest_created;
        if (st->lag_s < 0)
            st->lag_s = 0;
    }
}

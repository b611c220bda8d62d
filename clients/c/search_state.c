/*
 * search_state.c — the cands of a search (one per genome ever made, found by
 * genome), and its journal: the records written as the search goes, and
 * their replay when a search resumes (see search_state.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "search_log.h"
#include "search_spec.h"
#include "search_state.h"

/* -------------------------------------------------------------- cands */

long search_cand_find(const search *s, const int *g)
{
    return nsga2_set_find(&s->known, g);
}

/* The cand of genome g, made (state ST_NEW, generation gen) if new. */
long search_cand_get(search *s, const int *g, int gen)
{
    long found = search_cand_find(s, g);
    if (found >= 0)
        return found;
    if (s->ncands == s->capcands) {
        size_t cap = s->capcands ? 2 * s->capcands : 256;
        cand *cs = realloc(s->cands, cap * sizeof *cs);
        if (!cs)
            return -1;
        s->cands = cs;
        s->capcands = cap;
    }
    if (nsga2_set_add(&s->known, g) != 1)
        return -1;
    size_t c = s->ncands++;
    memset(&s->cands[c], 0, sizeof s->cands[c]);
    s->cands[c].gen = gen;
    return (long)c;
}

json_t *search_genome_json(const search *s, const int *g)
{
    json_t *a = json_array();
    for (size_t i = 0; i < s->ng; i++)
        json_array_append_new(a, json_integer(g[i]));
    return a;
}

json_t *search_named(const search *s, const int *genome)
{
    json_t *named = json_object();
    for (size_t i = 0; i < s->ng; i++)
        json_object_set(named, s->gene_names[i], json_array_get(json_array_get(s->choices, i), (size_t)genome[i]));
    return named;
}

void search_genome_text(const search *s, const int *g, char *buf, size_t size)
{
    size_t n = 0;
    n += (size_t)snprintf(buf, size, "[");
    for (size_t i = 0; i < s->ng && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%d", i ? "," : "", g[i]);
    if (n < size)
        snprintf(buf + n, size - n, "]");
}

/* A genome array of the journal or of an answer → g; -1 if malformed. */
int search_genome_from_json(const search *s, json_t *a, int *g)
{
    if (!json_is_array(a) || json_array_size(a) != s->ng)
        return -1;
    for (size_t i = 0; i < s->ng; i++) {
        json_t *v = json_array_get(a, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= s->nchoices[i])
            return -1;
        g[i] = (int)json_integer_value(v);
    }
    return 0;
}

/* Objective values and violation of a measured cand; -1 (and why) when a
 * value is missing. */
static int cand_score(search *s, cand *c, char *why, size_t size)
{
    for (size_t k = 0; k < s->nobj; k++) {
        const objective *o = &s->obj[k];
        double v;
        if (o->cost == COST_NONE) {
            json_t *x = json_object_get(c->output, o->name);
            if (!json_is_number(x) || !isfinite(json_number_value(x))) {
                snprintf(why, size, "the output has no number \"%s\"", o->name);
                return -1;
            }
            v = json_number_value(x);
        } else if (search_cost_value(c->costs, o->cost, o->device, "ms", &v)) {
            snprintf(why, size, "the service gave no %s", o->label);
            return -1;
        }
        c->obj[k] = o->maximize ? -v : v;
    }
    c->viol = search_violation(s, c->costs);
    return 0;
}

/* ------------------------------------------------------------- journal */

void search_journal(search *s, json_t *rec)
{
    char err[512];
    int rc = jr_append(&s->jr, rec, err, sizeof err);
    json_decref(rec);
    if (rc) {
        search_say("%s", err);
        exit(1);
    }
}

void search_new_run_id(search *s)
{
    unsigned char b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
        /* no entropy source: the clock and the process make it unique enough */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        unsigned long long x = (unsigned long long)ts.tv_sec * 1000000007ull ^ (unsigned long long)ts.tv_nsec ^
                               ((unsigned long long)getpid() << 40);
        for (size_t i = 0; i < sizeof b; i++, x = x * 6364136223846793005ull + 1442695040888963407ull)
            b[i] = (unsigned char)(x >> 56);
    }
    for (size_t i = 0; i < sizeof b; i++)
        snprintf(s->run_id + 2 * i, 3, "%02x", b[i]);
}

void search_take_run_id(search *s, json_t *config)
{
    const char *id = json_string_value(json_object_get(config, "run"));
    s->run_id[0] = '\0';
    if (id && strlen(id) == 32 && strspn(id, "0123456789abcdef") == 32)
        snprintf(s->run_id, sizeof s->run_id, "%s", id);
}

json_t *search_config_record(const search *s)
{
    json_t *objs = json_array(), *cons = json_array();
    for (size_t k = 0; k < s->nobj; k++) {
        char text[160];
        snprintf(text, sizeof text, "%s:%s", s->obj[k].label, s->obj[k].maximize ? "max" : "min");
        json_array_append_new(objs, json_string(text));
    }
    for (size_t k = 0; k < s->ncon; k++)
        json_array_append_new(cons, json_string(s->con[k].text));
    json_t *nch = json_array();
    for (size_t i = 0; i < s->ng; i++)
        json_array_append_new(nch, json_integer(s->nchoices[i]));
    json_t *rec = json_pack("{s:s, s:i, s:s, s:s, s:o, s:o, s:I, s:I, s:s, s:b, s:f, s:I, s:I, s:I, s:o}", "type",
                            "config", "version", JOURNAL_VERSION, "tool", PROG " " FMAS_CLIENT_VERSION, "space",
                            s->space_id, "objectives", objs, "constraints", cons, "pop", (json_int_t)s->pop, "seed",
                            (json_int_t)s->seed, "fidelity", s->fidelity, "screen", s->screen, "confidence",
                            s->confidence, "pool", (json_int_t)s->pool, "budget", (json_int_t)s->budget, "init",
                            (json_int_t)s->init, "choices", nch);
    if (rec && s->run_id[0])
        json_object_set_new(rec, "run", json_string(s->run_id));
    return rec;
}

/* A resumed journal must describe the same search: these fields decide
 * every genome it makes. --gens may grow, -j and the commands may change. */
int search_config_matches(const search *s, json_t *old, char *err, size_t errsize)
{
    json_t *now = search_config_record(s);
    static const char *const keys[] = {"version", "space", "objectives", "constraints", "pop", "seed",
                                       "fidelity", "screen", "confidence", "pool", "budget", "init", "choices"};
    /* A journal older than --pool and --budget screened --pop offspring per
     * generation and evaluated every kept one: pool 1, budget pop. */
    json_t *legacy_pool = json_integer(1), *legacy_budget = json_integer((json_int_t)s->pop);
    json_t *legacy_init = json_integer((json_int_t)s->pop);
    int ok = 1;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0] && ok; i++) {
        json_t *a = json_object_get(now, keys[i]), *b = json_object_get(old, keys[i]);
        if (!b && !strcmp(keys[i], "pool"))
            b = legacy_pool;
        else if (!b && !strcmp(keys[i], "budget"))
            b = legacy_budget;
        else if (!b && !strcmp(keys[i], "init"))
            b = legacy_init;
        if (!json_equal(a, b)) {
            char *ta = json_dumps(a, JSON_ENCODE_ANY | JSON_COMPACT), *tb = json_dumps(b, JSON_ENCODE_ANY | JSON_COMPACT);
            snprintf(err, errsize, "the journal %s belongs to another search: its %s is %s, this one's is %s "
                     "(use another --journal, or the journal's settings)", s->journal_path, keys[i],
                     tb ? tb : "?", ta ? ta : "?");
            free(ta);
            free(tb);
            ok = 0;
        }
    }
    json_decref(now);
    json_decref(legacy_pool);
    json_decref(legacy_budget);
    json_decref(legacy_init);
    return ok ? 0 : -1;
}

void search_stats_push(search *s, const gen_stats *st)
{
    if (s->nstats == s->capstats) {
        size_t cap = s->capstats ? 2 * s->capstats : 64;
        gen_stats *p = realloc(s->stats, cap * sizeof *p);
        if (!p) {
            search_say("out of memory");
            exit(1);
        }
        s->stats = p;
        s->capstats = cap;
    }
    s->stats[s->nstats++] = *st;
}

void search_tally(const search *s, gen_stats *t)
{
    memset(t, 0, sizeof *t);
    t->gen = s->gen_done;
    for (size_t i = 0; i < s->ncands; i++) {
        const cand *c = &s->cands[i];
        t->evaluations += c->state == ST_OK || (c->state == ST_FAILED && c->attempts > 0);
        t->attempts += (size_t)c->attempts;
        t->failed += c->state == ST_FAILED;
        t->pruned += c->state == ST_PRUNED;
        t->outranked += c->state == ST_OUTRANKED;
    }
}

int search_rebuild_seen(search *s)
{
    nsga2_set_free(&s->seen);
    nsga2_set_init(&s->seen, s->ng);
    for (size_t c = 0; c < s->ncands; c++)
        if (s->cands[c].gen <= s->gen_done && s->cands[c].state != ST_OUTRANKED &&
            nsga2_set_add(&s->seen, cand_genome(s, c)) < 0)
            return -1;
    return 0;
}

/* Apply one eval record to its cand (replay, or as it happens). */
int search_apply_eval(search *s, json_t *rec, int live)
{
    int *genome = s->scratch;
    if (search_genome_from_json(s, json_object_get(rec, "genome"), genome))
        return -1;
    long ci = search_cand_find(s, genome);
    if (ci < 0)
        return -1;
    cand *c = &s->cands[ci];
    int finetune = json_is_string(json_object_get(rec, "phase")) &&
                   !strcmp(json_string_value(json_object_get(rec, "phase")), "finetune");
    int ok = json_is_true(json_object_get(rec, "ok"));
    json_t *output = json_object_get(rec, "output");
    if (finetune) {
        c->ft_attempts++;
        if (ok) {
            c->ft_state = ST_OK;
            json_decref(c->ft_output);
            c->ft_output = json_incref(output);
        }
        c->attempts_here += live;
        return 0;
    }
    c->attempts++;
    c->attempts_here += live;
    if (ok) {
        json_decref(c->output);
        c->output = json_incref(output);
        c->seconds = json_number_value(json_object_get(rec, "seconds"));
        char why[200];
        if (cand_score(s, c, why, sizeof why))
            return -1;
        c->state = ST_OK;
    }
    return 0;
}

/* Replay the journal's records; the unfinished generation's records stay
 * for the main loop (returned in *pending_screen). */
int search_replay(search *s, json_t *records, json_t **pending_screen, char *err, size_t errsize)
{
    *pending_screen = NULL;
    size_t i;
    json_t *rec;
    int *g = malloc((s->ng ? s->ng : 1) * sizeof *g);
    if (!g) {
        snprintf(err, errsize, "out of memory");
        return -1;
    }
    json_array_foreach(records, i, rec) {
        const char *type = json_string_value(json_object_get(rec, "type"));
        if (!type)
            continue;
        if (!strcmp(type, "screen")) {
            if (search_apply_screen(s, rec))
                goto bad;
            *pending_screen = rec;
        } else if (!strcmp(type, "eval")) {
            if (search_apply_eval(s, rec, 0))
                goto bad;
        } else if (!strcmp(type, "posted")) {
            int gen = (int)json_integer_value(json_object_get(rec, "gen"));
            int finetune = json_is_string(json_object_get(rec, "phase"));
            for (size_t c = 0; c < s->ncands; c++) {
                if (finetune && s->cands[c].ft_state == ST_OK)
                    s->cands[c].ft_posted = 1;
                if (!finetune && s->cands[c].gen == gen && s->cands[c].state == ST_OK)
                    s->cands[c].posted = 1;
            }
        } else if (!strcmp(type, "generation")) {
            int gen = (int)json_integer_value(json_object_get(rec, "gen"));
            /* The generation is over: its kept-but-unmeasured cands were dropped. */
            for (size_t c = 0; c < s->ncands; c++)
                if (s->cands[c].gen == gen && s->cands[c].state == ST_KEPT)
                    s->cands[c].state = ST_FAILED;
            json_t *pop = json_object_get(rec, "population");
            if (json_array_size(pop) > (size_t)s->pop)
                goto bad;
            s->npop = 0;
            size_t k;
            json_t *p;
            json_array_foreach(pop, k, p) {
                long ci;
                if (search_genome_from_json(s, p, g) || (ci = search_cand_find(s, g)) < 0 || s->cands[ci].state != ST_OK)
                    goto bad;
                s->popv[s->npop++] = (size_t)ci;
            }
            if (nsga2_rng_load(&s->rng, json_string_value(json_object_get(rec, "rng")) ?
                               json_string_value(json_object_get(rec, "rng")) : ""))
                goto bad;
            s->gen_done = gen;
            gen_stats st;
            search_tally(s, &st);
            st.gen = gen;
            search_stats_push(s, &st);
            *pending_screen = NULL;
        }
    }
    free(g);
    return 0;
bad:
    free(g);
    char *text = json_dumps(rec, JSON_COMPACT);
    snprintf(err, errsize, "the journal %s has a record that does not fit this search (record %zu: %.200s)",
             s->journal_path, i + 1, text ? text : "?");
    free(text);
    return -1;
}

/* Apply a "screen" record to its cands (created if new, generation gen). */
int search_apply_screen(search *s, json_t *rec)
{
    int gen = (int)json_integer_value(json_object_get(rec, "gen"));
    int *g = malloc((s->ng ? s->ng : 1) * sizeof *g);
    size_t k;
    json_t *r;
    if (!g)
        return -1;
    json_array_foreach(json_object_get(rec, "results"), k, r) {
        long ci;
        if (search_genome_from_json(s, json_object_get(r, "genome"), g) || (ci = search_cand_get(s, g, gen)) < 0) {
            free(g);
            return -1;
        }
        cand *c = &s->cands[ci];
        if (c->state != ST_NEW && c->state != ST_OUTRANKED) {
            free(g);
            return -1; /* screened before, and not outranked: never made again */
        }
        c->gen = gen; /* an outranked genome made again belongs to this generation */
        const char *reason = json_string_value(json_object_get(r, "reason"));
        snprintf(c->reason, sizeof c->reason, "%s", reason ? reason : "");
        json_t *costs = json_object_get(r, "costs"), *pred = json_object_get(r, "predicted");
        json_decref(c->costs);
        c->costs = json_is_object(costs) ? json_incref(costs) : NULL;
        json_decref(c->predicted);
        c->predicted = json_is_object(pred) ? json_incref(pred) : NULL;
        c->state = json_is_true(json_object_get(r, "keep")) ? ST_KEPT : ST_PRUNED;
        if (c->state == ST_KEPT && json_is_false(json_object_get(r, "chosen")))
            c->state = ST_OUTRANKED;
        if (json_is_true(json_object_get(r, "dropped")))
            c->state = ST_FAILED;
    }
    free(g);
    return 0;
}

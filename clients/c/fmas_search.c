/*
 * fmas_search.c — fmas-search: NSGA-II over a search space of fmasd, with
 * the service screening each generation and real evaluations run by an
 * external command.
 *
 * One generation g (g = 0 is the random initial population):
 *   1. offspring: N new genomes (never one made before) by binary
 *      tournament, uniform crossover and per-gene mutation from the
 *      population (random ones for g = 0);
 *   2. one POST /v1/spaces/{id}/screen for all of them (costs, predicted
 *      metrics, keep or prune); with --no-screen one POST .../estimate for
 *      the costs instead, and every offspring is kept;
 *   3. the kept ones are evaluated (up to -j at once, each attempt
 *      journaled, failed attempts retried up to --retries);
 *   4. every measured metric objective is posted as an observation, and
 *      (screening) the surrogates are refit, so that the next screen sees
 *      this generation;
 *   5. elitist survival over population + measured offspring.
 * Pruned offspring take no part in selection: they were never measured, so
 * the population only ever holds measured genomes and NSGA-II's ranking
 * stays a ranking of facts. A genome that fails every attempt is dropped
 * the same way, and is never made again.
 *
 * The journal makes a run resumable: every generation's screen answer,
 * every attempt and every generation's end (population and PRNG state) is
 * a record. A restarted run replays it, regenerates the offspring of the
 * unfinished generation from the saved PRNG state (and checks them against
 * the record), evaluates only what has no record, and ends with the same
 * front as an uninterrupted run.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "search.h"

#define PROG "fmas-search"
#define JOURNAL_VERSION 1

static volatile sig_atomic_t g_stop;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------ messages */

static search *g_search; /* for clearing the progress line before a message */

static void clear_progress(void)
{
    if (g_search && g_search->tty && g_search->last_draw > 0)
        fputs("\r\033[K", stderr);
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    clear_progress();
    va_list ap;
    va_start(ap, fmt);
    fputs(PROG ": ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (g_search)
        g_search->last_draw = 0;
}

static void on_http_notice(const char *msg, void *arg)
{
    (void)arg;
    say("%s", msg);
}

static const char usage[] =
    "usage: fmas-search --space ID --objectives SPEC --evaluator 'CMD' --journal FILE --out DIR [options]\n"
    "\n"
    "  --server URL          fmasd (default $FMAS_SERVER or http://127.0.0.1:8080)\n"
    "  --space ID            search space registered in fmasd\n"
    "  --objectives LIST     comma-separated NAME:max|min; NAME is a metric the evaluator\n"
    "                        measures (miou, size, ...) or a cost: latency@DEVICE, macs,\n"
    "                        flops, params. Example: miou:max,latency@gap8:min,macs:min\n"
    "  --constraint C        COST<=LIMIT, repeatable: latency@gap8<=40ms (ms, or the\n"
    "                        device's unit: us, cycles), macs<=3e9, flops<=..., params<=...\n"
    "  --pop N               population size and offspring per generation (default 40)\n"
    "  --gens N              generations after the initial population (default 30)\n"
    "  --seed N              PRNG seed (default 1); same seed, same search\n"
    "  --evaluator 'CMD'     evaluator command (split like a shell would, run without one)\n"
    "  --launcher 'PREFIX'   prepended to every evaluator command (e.g. 'srun -G1 --exclusive')\n"
    "  -j N                  evaluations at once (default 1)\n"
    "  --eval-timeout S      seconds per attempt, then its process group is killed (default: none)\n"
    "  --retries N           extra attempts after a failed one (default 2)\n"
    "  --confidence P        screening confidence in (0.5, 1) (default 0.95)\n"
    "  --fidelity NAME       fidelity of the measurements (default val-subset)\n"
    "  --no-screen           plain NSGA-II: costs from /estimate, every offspring evaluated\n"
    "  --finetune 'CMD'      after the search, run CMD for each front member (fidelity finetuned)\n"
    "  --journal FILE        append-only journal; an existing one is resumed\n"
    "  --out DIR             front.json, front.csv, history.csv\n"
    "  --server-retries N    retries of a failed request to fmasd (default 8, backoff to 8 s)\n"
    "  --server-timeout S    seconds without a byte from fmasd before a request fails (default 300)\n";

/* ------------------------------------------------------------- parsing */

static int parse_long(const char *text, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_double(const char *text, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

/* "latency@gap8", "macs", ... → cost kind and device; COST_NONE for a
 * metric name. Returns -1 with err on a malformed name. */
static int parse_target(const char *name, size_t len, cost_kind *cost, char *device, char *metric, char *err,
                        size_t errsize)
{
    char buf[200];
    if (len >= sizeof buf) {
        snprintf(err, errsize, "name too long: %.40s...", name);
        return -1;
    }
    memcpy(buf, name, len);
    buf[len] = '\0';
    device[0] = metric[0] = '\0';
    char *at = strchr(buf, '@');
    if (at)
        *at = '\0';
    if (!strcmp(buf, "latency")) {
        if (!at || !fc_name_ok(at + 1)) {
            snprintf(err, errsize, "latency needs a device: latency@DEVICE (device names are [a-z0-9._-]{1,64})");
            return -1;
        }
        *cost = COST_LATENCY;
        fc_format(device, 65, "%s", at + 1);
        fc_format(metric, 65, "latency");
        return 0;
    }
    if (at) {
        snprintf(err, errsize, "only latency takes @DEVICE: %s@%s", buf, at + 1);
        return -1;
    }
    *cost = !strcmp(buf, "macs") ? COST_MACS : !strcmp(buf, "flops") ? COST_FLOPS
                                           : !strcmp(buf, "params") ? COST_PARAMS : COST_NONE;
    if (*cost == COST_NONE && !fc_metric_ok(buf)) {
        snprintf(err, errsize, "metric names are [a-z0-9_]{1,64}: \"%s\"", buf);
        return -1;
    }
    fc_format(metric, 65, "%s", buf);
    return 0;
}

static int parse_objectives(search *s, const char *text, char *err, size_t errsize)
{
    const char *p = text;
    s->nobj = s->nmetric = 0;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *colon = memchr(p, ':', len);
        if (!colon) {
            snprintf(err, errsize, "objective \"%.*s\" needs a goal: NAME:max or NAME:min", (int)len, p);
            return -1;
        }
        if (s->nobj == MAX_OBJ) {
            snprintf(err, errsize, "at most %d objectives", MAX_OBJ);
            return -1;
        }
        objective *o = &s->obj[s->nobj];
        size_t glen = len - (size_t)(colon - p) - 1;
        if (glen == 3 && !strncmp(colon + 1, "max", 3))
            o->maximize = 1;
        else if (glen == 3 && !strncmp(colon + 1, "min", 3))
            o->maximize = 0;
        else {
            snprintf(err, errsize, "objective \"%.*s\": the goal is max or min", (int)len, p);
            return -1;
        }
        if (parse_target(p, (size_t)(colon - p), &o->cost, o->device, o->name, err, errsize))
            return -1;
        if (o->cost == COST_LATENCY)
            fc_format(o->label, sizeof o->label, "latency@%s", o->device);
        else
            fc_format(o->label, sizeof o->label, "%s", o->name);
        for (size_t k = 0; k < s->nobj; k++)
            if (!strcmp(s->obj[k].label, o->label)) {
                snprintf(err, errsize, "objective %s given twice", o->label);
                return -1;
            }
        s->nmetric += o->cost == COST_NONE;
        s->nobj++;
        p += len + (comma ? 1 : 0);
        if (comma && !*p) {
            snprintf(err, errsize, "empty objective after the last comma");
            return -1;
        }
    }
    if (s->nmetric == 0) {
        snprintf(err, errsize, "at least one objective must be a metric the evaluator measures (e.g. miou:max)");
        return -1;
    }
    return 0;
}

static int parse_constraint(search *s, const char *text, char *err, size_t errsize)
{
    if (s->ncon == MAX_CON) {
        snprintf(err, errsize, "at most %d constraints", MAX_CON);
        return -1;
    }
    constraint *c = &s->con[s->ncon];
    const char *le = strstr(text, "<=");
    if (!le) {
        snprintf(err, errsize, "constraint \"%s\": write COST<=LIMIT, e.g. latency@gap8<=40ms", text);
        return -1;
    }
    char metric[65];
    if (parse_target(text, (size_t)(le - text), &c->cost, c->device, metric, err, errsize))
        return -1;
    if (c->cost == COST_NONE) {
        snprintf(err, errsize, "constraint \"%s\": only costs (latency@DEVICE, macs, flops, params) can be "
                 "constrained", text);
        return -1;
    }
    const char *num = le + 2;
    char *end;
    errno = 0;
    c->max = strtod(num, &end);
    if (errno || end == num || !isfinite(c->max) || c->max < 0) {
        snprintf(err, errsize, "constraint \"%s\": the limit is a number >= 0", text);
        return -1;
    }
    if (c->cost == COST_LATENCY) {
        const char *unit = *end ? end : "ms";
        if (strcmp(unit, "ms") && strcmp(unit, "us") && strcmp(unit, "cycles")) {
            snprintf(err, errsize, "constraint \"%s\": the latency unit is ms, us or cycles", text);
            return -1;
        }
        fc_format(c->unit, sizeof c->unit, "%s", unit);
        fc_format(c->text, sizeof c->text, "latency@%s<=%.17g%s", c->device, c->max, c->unit);
    } else {
        if (*end) {
            snprintf(err, errsize, "constraint \"%s\": %s takes a plain number", text, metric);
            return -1;
        }
        c->unit[0] = '\0';
        fc_format(c->text, sizeof c->text, "%s<=%.17g", metric, c->max);
    }
    s->ncon++;
    return 0;
}

/* -------------------------------------------------------------- cands */

static uint64_t hash_genome(const int *g, size_t ng)
{
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < ng; i++) {
        h ^= (uint64_t)(uint32_t)g[i] + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    }
    return h * 0xff51afd7ed558ccdull;
}

static long cand_find(const search *s, const int *g)
{
    if (!s->mapcap)
        return -1;
    size_t mask = s->mapcap - 1, i = (size_t)hash_genome(g, s->ng) & mask;
    while (s->map[i]) {
        size_t c = s->map[i] - 1;
        if (!memcmp(cand_genome(s, c), g, s->ng * sizeof *g))
            return (long)c;
        i = (i + 1) & mask;
    }
    return -1;
}

static void map_insert(search *s, size_t c)
{
    size_t mask = s->mapcap - 1, i = (size_t)hash_genome(cand_genome(s, c), s->ng) & mask;
    while (s->map[i])
        i = (i + 1) & mask;
    s->map[i] = c + 1;
}

/* The cand of genome g, made (state ST_NEW, generation gen) if new. */
static long cand_get(search *s, const int *g, int gen)
{
    long found = cand_find(s, g);
    if (found >= 0)
        return found;
    if (s->ncands == s->capcands) {
        size_t cap = s->capcands ? 2 * s->capcands : 256;
        cand *cs = realloc(s->cands, cap * sizeof *cs);
        if (!cs)
            return -1;
        s->cands = cs;
        int *gs = realloc(s->genomes, cap * (s->ng ? s->ng : 1) * sizeof *gs);
        if (!gs)
            return -1;
        s->genomes = gs;
        s->capcands = cap;
    }
    if ((s->ncands + 1) * 2 > s->mapcap) {
        size_t cap = s->mapcap ? 2 * s->mapcap : 512;
        size_t *map = calloc(cap, sizeof *map);
        if (!map)
            return -1;
        free(s->map);
        s->map = map;
        s->mapcap = cap;
        for (size_t c = 0; c < s->ncands; c++)
            map_insert(s, c);
    }
    size_t c = s->ncands++;
    memset(&s->cands[c], 0, sizeof s->cands[c]);
    s->cands[c].gen = gen;
    memcpy(s->genomes + c * s->ng, g, s->ng * sizeof *g);
    map_insert(s, c);
    return (long)c;
}

static json_t *genome_json(const search *s, const int *g)
{
    json_t *a = json_array();
    for (size_t i = 0; i < s->ng; i++)
        json_array_append_new(a, json_integer(g[i]));
    return a;
}

/* A genome array of the journal or of an answer → g; -1 if malformed. */
static int genome_from_json(const search *s, json_t *a, int *g)
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
    c->viol = 0;
    for (size_t k = 0; k < s->ncon; k++) {
        const constraint *ct = &s->con[k];
        double v;
        if (search_cost_value(c->costs, ct->cost, ct->device, ct->unit, &v))
            continue; /* screening judged it; nothing to add */
        if (v > ct->max)
            c->viol += ct->max > 0 ? (v - ct->max) / ct->max : v - ct->max;
    }
    return 0;
}

/* ------------------------------------------------------------- journal */

static void fatal_journal(search *s, const char *err)
{
    (void)s;
    say("%s", err);
    exit(1);
}

static void journal(search *s, json_t *rec)
{
    char err[512];
    if (jr_append(&s->jr, rec, err, sizeof err))
        fatal_journal(s, err);
    json_decref(rec);
}

static json_t *config_record(const search *s)
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
    return json_pack("{s:s, s:i, s:s, s:s, s:o, s:o, s:I, s:I, s:s, s:b, s:f, s:o}", "type", "config", "version",
                     JOURNAL_VERSION, "tool", PROG " " FMAS_CLIENT_VERSION, "space", s->space_id, "objectives", objs,
                     "constraints", cons, "pop", (json_int_t)s->pop, "seed", (json_int_t)s->seed, "fidelity",
                     s->fidelity, "screen", s->screen, "confidence", s->confidence, "choices", nch);
}

/* A resumed journal must describe the same search: these fields decide
 * every genome it makes. --gens may grow, -j and the commands may change. */
static int config_matches(const search *s, json_t *old, char *err, size_t errsize)
{
    json_t *now = config_record(s);
    static const char *const keys[] = {"version", "space", "objectives", "constraints", "pop", "seed",
                                       "fidelity", "screen", "confidence", "choices"};
    int ok = 1;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0] && ok; i++) {
        json_t *a = json_object_get(now, keys[i]), *b = json_object_get(old, keys[i]);
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
    return ok ? 0 : -1;
}

static void stats_push(search *s, const gen_stats *st)
{
    if (s->nstats == s->capstats) {
        size_t cap = s->capstats ? 2 * s->capstats : 64;
        gen_stats *p = realloc(s->stats, cap * sizeof *p);
        if (!p) {
            say("out of memory");
            exit(1);
        }
        s->stats = p;
        s->capstats = cap;
    }
    s->stats[s->nstats++] = *st;
}

static void tally(const search *s, gen_stats *t)
{
    memset(t, 0, sizeof *t);
    t->gen = s->gen_done;
    for (size_t i = 0; i < s->ncands; i++) {
        const cand *c = &s->cands[i];
        t->evaluations += c->state == ST_OK || (c->state == ST_FAILED && c->attempts > 0);
        t->attempts += (size_t)c->attempts;
        t->failed += c->state == ST_FAILED;
        t->pruned += c->state == ST_PRUNED;
    }
}

/* Apply one eval record to its cand (replay, or as it happens). */
static int apply_eval(search *s, json_t *rec, int live)
{
    int *genome = s->scratch;
    if (genome_from_json(s, json_object_get(rec, "genome"), genome))
        return -1;
    long ci = cand_find(s, genome);
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

static int apply_screen(search *s, json_t *rec);

/* Replay the journal's records; the unfinished generation's records stay
 * for the main loop (returned in *pending_screen). */
static int replay(search *s, json_t *records, json_t **pending_screen, char *err, size_t errsize)
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
            if (apply_screen(s, rec))
                goto bad;
            *pending_screen = rec;
        } else if (!strcmp(type, "eval")) {
            if (apply_eval(s, rec, 0))
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
                if (genome_from_json(s, p, g) || (ci = cand_find(s, g)) < 0 || s->cands[ci].state != ST_OK)
                    goto bad;
                s->popv[s->npop++] = (size_t)ci;
            }
            if (nsga2_rng_load(&s->rng, json_string_value(json_object_get(rec, "rng")) ?
                               json_string_value(json_object_get(rec, "rng")) : ""))
                goto bad;
            s->gen_done = gen;
            gen_stats st;
            tally(s, &st);
            st.gen = gen;
            stats_push(s, &st);
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

/* ------------------------------------------------------------ progress */

static void draw_progress(search *s, int force)
{
    double now = now_s();
    if (!s->tty || (!force && now - s->last_draw < 0.2))
        return;
    gen_stats t;
    tally(s, &t);
    int gen = s->gen_done + 1, total = (int)s->gens + 1;
    double frac = s->gen_todo ? (double)s->gen_finished / (double)s->gen_todo : 0.0;
    double done_gens = (double)s->gens_here + frac;
    char eta[32] = "--";
    if (done_gens > 0.05) {
        double left = (now - s->t_start) / done_gens * ((double)(total - gen) + (1.0 - frac));
        if (left >= 3600)
            snprintf(eta, sizeof eta, "%dh%02dm", (int)(left / 3600), (int)fmod(left / 60, 60));
        else
            snprintf(eta, sizeof eta, "%dm%02ds", (int)(left / 60), (int)fmod(left, 60));
    }
    int width = 20, fill = (int)((gen - 1 + frac) / total * width);
    char bar[32];
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    fprintf(stderr, "\r\033[Kgen %d/%d [%s] evals %zu pruned %zu failed %zu running %zu ETA %s", gen, total - 1,
            bar, t.evaluations, t.pruned, t.failed, s->gen_todo - s->gen_finished, eta);
    fflush(stderr);
    s->last_draw = now;
}

/* ------------------------------------------------------------- service */

static void http_fatal(search *s)
{
    say("%s", fc_error(s->http));
    say("the journal %s keeps everything done so far: run the same command again to resume", s->journal_path);
    exit(1);
}

static json_t *objectives_json(const search *s)
{
    json_t *a = json_array();
    for (size_t k = 0; k < s->nobj; k++) {
        const objective *o = &s->obj[k];
        const char *goal = o->maximize ? "max" : "min";
        if (o->cost == COST_NONE)
            json_array_append_new(a, json_pack("{s:s, s:s}", "metric", o->name, "goal", goal));
        else if (o->cost == COST_LATENCY)
            json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "cost", "latency", "device", o->device, "goal", goal));
        else
            json_array_append_new(a, json_pack("{s:s, s:s}", "cost", o->name, "goal", goal));
    }
    return a;
}

static const char *cost_name(cost_kind k)
{
    return k == COST_LATENCY ? "latency" : k == COST_MACS ? "macs" : k == COST_FLOPS ? "flops" : "params";
}

static json_t *constraints_json(const search *s)
{
    json_t *a = json_array();
    for (size_t k = 0; k < s->ncon; k++) {
        const constraint *c = &s->con[k];
        json_t *o = json_pack("{s:s, s:f}", "cost", cost_name(c->cost), "max", c->max);
        if (c->cost == COST_LATENCY) {
            json_object_set_new(o, "device", json_string(c->device));
            json_object_set_new(o, "unit", json_string(c->unit));
        }
        json_array_append_new(a, o);
    }
    return a;
}

/* The distinct latency devices of the objectives and constraints. */
static json_t *devices_json(const search *s)
{
    json_t *a = json_array();
    for (size_t k = 0; k < s->nobj + s->ncon; k++) {
        cost_kind ck = k < s->nobj ? s->obj[k].cost : s->con[k - s->nobj].cost;
        const char *d = k < s->nobj ? s->obj[k].device : s->con[k - s->nobj].device;
        if (ck != COST_LATENCY)
            continue;
        int dup = 0;
        for (size_t j = 0; j < json_array_size(a) && !dup; j++)
            dup = !strcmp(json_string_value(json_array_get(a, j)), d);
        if (!dup)
            json_array_append_new(a, json_string(d));
    }
    return a;
}

/* The costs object of an estimate result, in the screen's shape. */
static json_t *costs_from_estimate(json_t *r)
{
    json_t *c = json_object();
    static const char *const keys[] = {"macs", "flops", "params"};
    for (size_t i = 0; i < 3; i++)
        if (json_object_get(r, keys[i]))
            json_object_set(c, keys[i], json_object_get(r, keys[i]));
    json_t *lat = json_object_get(r, "latency");
    if (json_is_object(lat)) {
        json_t *out = json_object();
        const char *dev;
        json_t *v;
        json_object_foreach(lat, dev, v) {
            json_t *o = json_object();
            static const char *const lk[] = {"ms", "total", "unit", "complete", "missing"};
            for (size_t i = 0; i < 5; i++)
                if (json_object_get(v, lk[i]))
                    json_object_set(o, lk[i], json_object_get(v, lk[i]));
            json_object_set_new(out, dev, o);
        }
        json_object_set_new(c, "latency", out);
    }
    return c;
}

/* Costs needed at all? (cost objectives or constraints) */
static int needs_costs(const search *s)
{
    for (size_t k = 0; k < s->nobj; k++)
        if (s->obj[k].cost != COST_NONE)
            return 1;
    return s->ncon > 0;
}

/*
 * Screen (or estimate) the offspring idx[0..n): one request; the answer
 * becomes the generation's "screen" record. Returns the record (new ref).
 */
static json_t *screen_offspring(search *s, int gen, const size_t *idx, size_t n)
{
    json_t *genomes = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(genomes, genome_json(s, cand_genome(s, idx[i])));
    json_t *results = json_array();
    const char *mode;
    json_t *answer = NULL;
    char path[256];
    if (n == 0) {
        mode = "none";
    } else if (s->screen) {
        mode = "screen";
        json_t *body = json_pack("{s:O, s:o, s:o, s:f, s:s}", "genomes", genomes, "objectives", objectives_json(s),
                                 "constraints", constraints_json(s), "confidence", s->confidence, "fidelity",
                                 s->fidelity);
        snprintf(path, sizeof path, "/v1/spaces/%s/screen", s->space_id);
        int rc = fc_json(s->http, "POST", path, body, &answer);
        json_decref(body);
        if (rc)
            http_fatal(s);
    } else if (needs_costs(s)) {
        mode = "estimate";
        json_t *body = json_pack("{s:o, s:O}", "devices", devices_json(s), "genomes", genomes);
        snprintf(path, sizeof path, "/v1/spaces/%s/estimate", s->space_id);
        int rc = fc_json(s->http, "POST", path, body, &answer);
        json_decref(body);
        if (rc)
            http_fatal(s);
    } else {
        mode = "none";
    }
    json_t *ares = answer ? json_object_get(answer, "results") : NULL;
    if (answer && (!json_is_array(ares) || json_array_size(ares) != n)) {
        fc_fail(s->http, FC_EPROTO, "the answer has no \"results\" array of %zu items", n);
        json_decref(answer);
        http_fatal(s);
    }
    for (size_t i = 0; i < n; i++) {
        json_t *r = ares ? json_array_get(ares, i) : NULL;
        json_t *item = json_pack("{s:O}", "genome", json_array_get(genomes, i));
        if (r && !json_is_object(r)) {
            fc_fail(s->http, FC_EPROTO, "results[%zu] is not an object", i);
            http_fatal(s);
        }
        if (r && json_object_get(r, "genome") && !json_equal(json_object_get(r, "genome"), json_array_get(genomes, i))) {
            fc_fail(s->http, FC_EPROTO, "results[%zu] is about another genome than the one asked", i);
            http_fatal(s);
        }
        if (!strcmp(mode, "screen")) {
            json_t *keep = json_object_get(r, "keep");
            if (!json_is_boolean(keep)) {
                fc_fail(s->http, FC_EPROTO, "results[%zu] has no boolean \"keep\"", i);
                http_fatal(s);
            }
            json_object_set(item, "keep", keep);
            json_t *reason = json_object_get(r, "reason");
            json_object_set_new(item, "reason", json_is_string(reason) ? json_incref(reason) : json_string(""));
            json_t *costs = json_object_get(r, "costs");
            if (json_is_object(costs))
                json_object_set(item, "costs", costs);
            json_t *pred = json_object_get(r, "predicted");
            if (json_is_object(pred))
                json_object_set(item, "predicted", pred);
            json_t *by = json_object_get(r, "dominated_by");
            if (by && !json_is_null(by))
                json_object_set(item, "dominated_by", by);
        } else {
            json_object_set_new(item, "keep", json_true());
            json_object_set_new(item, "reason", json_string("no-screen"));
            if (r)
                json_object_set_new(item, "costs", costs_from_estimate(r));
        }
        /* A kept genome whose cost objectives the service could not give
         * (e.g. a latency without ms) cannot be ranked: drop it now. */
        if (json_is_true(json_object_get(item, "keep"))) {
            json_t *costs = json_object_get(item, "costs");
            for (size_t k = 0; k < s->nobj; k++) {
                double v;
                if (s->obj[k].cost != COST_NONE &&
                    search_cost_value(costs, s->obj[k].cost, s->obj[k].device, "ms", &v)) {
                    json_object_set_new(item, "dropped", json_true());
                    json_object_set_new(item, "why", json_sprintf("the service gave no %s", s->obj[k].label));
                    break;
                }
            }
        }
        json_array_append_new(results, item);
    }
    json_decref(answer);
    json_decref(genomes);
    return json_pack("{s:s, s:i, s:s, s:o}", "type", "screen", "gen", gen, "mode", mode, "results", results);
}

/* Post the measured metric objectives of the cands idx as observations;
 * returns the number posted. */
static size_t post_observations(search *s, int gen, const size_t *idx, size_t n, int finetune)
{
    json_t *obs = json_array();
    for (size_t i = 0; i < n; i++) {
        cand *c = &s->cands[idx[i]];
        json_t *out = finetune ? c->ft_output : c->output;
        int ok = finetune ? c->ft_state == ST_OK && !c->ft_posted : c->state == ST_OK && !c->posted;
        if (!ok)
            continue;
        for (size_t k = 0; k < s->nobj; k++) {
            if (s->obj[k].cost != COST_NONE)
                continue;
            json_t *meta = json_pack("{s:s, s:I, s:i, s:f}", "client", PROG " " FMAS_CLIENT_VERSION, "seed",
                                     (json_int_t)s->seed, "generation", finetune ? -1 : c->gen, "seconds",
                                     c->seconds);
            json_array_append_new(obs, json_pack("{s:o, s:s, s:O, s:s, s:o}", "genome",
                                                 genome_json(s, cand_genome(s, idx[i])), "metric", s->obj[k].name,
                                                 "value", json_object_get(out, s->obj[k].name), "fidelity",
                                                 finetune ? "finetuned" : s->fidelity, "meta", meta));
        }
    }
    size_t count = json_array_size(obs);
    if (count) {
        char path[256];
        snprintf(path, sizeof path, "/v1/spaces/%s/observations", s->space_id);
        json_t *body = json_pack("{s:o}", "observations", obs), *answer = NULL;
        int rc = fc_json(s->http, "POST", path, body, &answer);
        json_decref(body);
        json_decref(answer);
        if (rc)
            http_fatal(s);
    } else {
        json_decref(obs);
    }
    for (size_t i = 0; i < n; i++) {
        if (finetune && s->cands[idx[i]].ft_state == ST_OK)
            s->cands[idx[i]].ft_posted = 1;
        if (!finetune && s->cands[idx[i]].state == ST_OK)
            s->cands[idx[i]].posted = 1;
    }
    json_t *rec = json_pack("{s:s, s:i, s:I}", "type", "posted", "gen", gen, "count", (json_int_t)count);
    if (finetune)
        json_object_set_new(rec, "phase", json_string("finetune"));
    journal(s, rec);
    return count;
}

/* Refit the surrogates of the metric objectives now, so that the next
 * screen uses every observation so far (the service would refit in the
 * background anyway; waiting makes a run a function of its seed). */
static void refit(search *s)
{
    for (size_t k = 0; k < s->nobj; k++) {
        if (s->obj[k].cost != COST_NONE)
            continue;
        /* Metric and fidelity names need no escaping: [a-z0-9._-] only. */
        char path[512];
        snprintf(path, sizeof path, "/v1/spaces/%s/surrogate:fit?metric=%s&fidelity=%s", s->space_id, s->obj[k].name,
                 s->fidelity);
        json_t *answer = NULL;
        int rc = fc_json(s->http, "POST", path, NULL, &answer);
        json_decref(answer);
        if (rc == FC_ENET)
            http_fatal(s);
        if (rc && !s->warned_refit) {
            say("warning: cannot refit the %s surrogate (screening uses the service's own refits): %s",
                s->obj[k].name, fc_error(s->http));
            s->warned_refit = 1;
        }
    }
}

/* ----------------------------------------------------------- screening */

/* Apply a "screen" record to its cands (created if new, generation gen). */
static int apply_screen(search *s, json_t *rec)
{
    int gen = (int)json_integer_value(json_object_get(rec, "gen"));
    int *g = malloc((s->ng ? s->ng : 1) * sizeof *g);
    size_t k;
    json_t *r;
    if (!g)
        return -1;
    json_array_foreach(json_object_get(rec, "results"), k, r) {
        long ci;
        if (genome_from_json(s, json_object_get(r, "genome"), g) || (ci = cand_get(s, g, gen)) < 0) {
            free(g);
            return -1;
        }
        cand *c = &s->cands[ci];
        const char *reason = json_string_value(json_object_get(r, "reason"));
        snprintf(c->reason, sizeof c->reason, "%s", reason ? reason : "");
        json_t *costs = json_object_get(r, "costs"), *pred = json_object_get(r, "predicted");
        json_decref(c->costs);
        c->costs = json_is_object(costs) ? json_incref(costs) : NULL;
        json_decref(c->predicted);
        c->predicted = json_is_object(pred) ? json_incref(pred) : NULL;
        c->state = json_is_true(json_object_get(r, "keep")) ? ST_KEPT : ST_PRUNED;
        if (json_is_true(json_object_get(r, "dropped")))
            c->state = ST_FAILED;
    }
    free(g);
    return 0;
}

/* ---------------------------------------------------------- evaluation */

typedef struct eval_ctx {
    search *s;
    ev_runner *run;
    int finetune;
} eval_ctx;

static volatile sig_atomic_t g_in_eval;

static void on_fatal_signal(int sig)
{
    if (g_in_eval) {
        g_stop = sig;
        return;
    }
    /* Nothing of ours runs in the background outside evaluations, and every
     * journal record is already on disk: stop now. */
    static const char msg[] = "\n" PROG ": interrupted; run the same command again to resume\n";
    if (write(2, msg, sizeof msg - 1) < 0)
        _exit(130);
    _exit(130);
}

/* A JSON string of text, which need not be valid UTF-8 (an evaluator's
 * stderr may be anything, and its tail may start mid-character): if it is
 * not, the bytes outside ASCII become '?'. */
static json_t *text_json(const char *text)
{
    json_t *v = json_string(text);
    if (v)
        return v;
    char *copy = strdup(text);
    if (!copy)
        return json_string("");
    for (char *p = copy; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    v = json_string(copy);
    free(copy);
    return v ? v : json_string("");
}

/* The evaluator's stdin for cand ci. */
static char *eval_input(const search *s, size_t ci, int finetune)
{
    const int *g = cand_genome(s, ci);
    json_t *in = json_pack("{s:s, s:o, s:o, s:s}", "space", s->space_id, "genome", genome_json(s, g), "genome_named",
                           search_named(s, g), "fidelity", finetune ? "finetuned" : s->fidelity);
    char *text = json_dumps(in, JSON_COMPACT);
    json_decref(in);
    if (text) {
        size_t n = strlen(text);
        char *t = realloc(text, n + 2);
        if (t) {
            t[n] = '\n';
            t[n + 1] = '\0';
            text = t;
        }
    }
    return text;
}

static int submit(eval_ctx *x, size_t ci)
{
    char *input = eval_input(x->s, ci, x->finetune);
    int rc = input ? ev_submit(x->run, (long)ci, input) : -1;
    free(input);
    if (rc) {
        say("out of memory");
        exit(1);
    }
    return 0;
}

static void genome_text(const search *s, size_t ci, char *buf, size_t size)
{
    size_t n = 0;
    const int *g = cand_genome(s, ci);
    n += (size_t)snprintf(buf, size, "[");
    for (size_t i = 0; i < s->ng && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%d", i ? "," : "", g[i]);
    if (n < size)
        snprintf(buf + n, size - n, "]");
}

/* The last line of an evaluator's stderr, for a message. */
static void last_line(const char *text, char *buf, size_t size)
{
    size_t end = strlen(text);
    while (end > 0 && (text[end - 1] == '\n' || text[end - 1] == '\r'))
        end--;
    size_t begin = end;
    while (begin > 0 && text[begin - 1] != '\n')
        begin--;
    snprintf(buf, size, "%.*s", (int)(end - begin), text + begin);
}

static void on_done(const ev_result *res, void *arg)
{
    eval_ctx *x = arg;
    search *s = x->s;
    size_t ci = (size_t)res->tag;
    cand *c = &s->cands[ci];
    int ok = res->ok;
    char why[300] = "";
    if (ok) {
        for (size_t k = 0; k < s->nobj && ok; k++) {
            json_t *v = json_object_get(res->output, s->obj[k].name);
            if (s->obj[k].cost == COST_NONE && (!json_is_number(v) || !isfinite(json_number_value(v)))) {
                snprintf(why, sizeof why, "malformed output: no number \"%s\" in it", s->obj[k].name);
                ok = 0;
            }
        }
    } else {
        snprintf(why, sizeof why, "%s", res->error);
    }
    int attempt = (x->finetune ? c->ft_attempts : c->attempts) + 1;
    json_t *rec = json_pack("{s:s, s:i, s:o, s:i, s:b, s:f, s:s}", "type", "eval", "gen", c->gen, "genome",
                            genome_json(s, cand_genome(s, ci)), "attempt", attempt, "ok", ok, "seconds",
                            res->seconds, "fidelity", x->finetune ? "finetuned" : s->fidelity);
    if (x->finetune)
        json_object_set_new(rec, "phase", json_string("finetune"));
    if (ok) {
        json_object_set(rec, "output", res->output);
    } else {
        json_object_set_new(rec, "error", text_json(why));
        json_object_set_new(rec, "stderr", text_json(res->stderr_tail));
    }
    char err[512];
    if (jr_append(&s->jr, rec, err, sizeof err)) {
        json_decref(rec);
        fatal_journal(s, err);
    }
    if (apply_eval(s, rec, 1)) {
        json_decref(rec);
        say("internal error: an evaluation record does not apply");
        exit(1);
    }
    json_decref(rec);
    if (ok) {
        s->gen_finished++;
        return;
    }
    char gtext[256], line[240];
    genome_text(s, ci, gtext, sizeof gtext);
    last_line(res->stderr_tail, line, sizeof line);
    if (c->attempts_here <= s->retries) {
        say("evaluation of %s failed (attempt %d of %d): %s%s%s; retrying", gtext, c->attempts_here,
            s->retries + 1, why, line[0] ? "; stderr: " : "", line);
        submit(x, ci);
    } else {
        if (x->finetune)
            c->ft_state = ST_FAILED;
        else
            c->state = ST_FAILED;
        say("genome %s dropped after %d failed attempt%s: %s%s%s", gtext, c->attempts_here,
            c->attempts_here == 1 ? "" : "s", why, line[0] ? "; stderr: " : "", line);
        fc_format(s->last_failure, sizeof s->last_failure, "%s%s%s", why, line[0] ? "; stderr: " : "", line);
        s->gen_finished++;
    }
    draw_progress(s, 1);
}

/* Evaluate the cands idx[0..n) that still need it (with the evaluator, or
 * the --finetune command). */
static void evaluate(search *s, const size_t *idx, size_t n, int finetune)
{
    eval_ctx x = {s, NULL, finetune};
    char **argv = finetune ? s->finetune_argv : s->eval_argv;
    s->gen_todo = s->gen_finished = 0;
    if (ev_runner_new(&x.run, argv, s->parallel, s->eval_timeout)) {
        say("out of memory");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        cand *c = &s->cands[idx[i]];
        int needs = finetune ? c->ft_state == 0 : c->state == ST_KEPT;
        if (!needs)
            continue;
        /* Attempts the journal holds from an earlier process do not count:
         * a run resumed after fixing its evaluator tries again. */
        c->attempts_here = 0;
        s->gen_todo++;
        submit(&x, idx[i]);
    }
    g_in_eval = 1;
    while (ev_busy(x.run) > 0) {
        ev_poll(x.run, 200, on_done, &x);
        if (g_stop) {
            size_t running = ev_running(x.run);
            ev_runner_free(x.run);
            say("interrupted (signal %d); %zu running evaluation%s killed; run the same command again to resume",
                (int)g_stop, running, running == 1 ? "" : "s");
            exit(130);
        }
        draw_progress(s, 0);
    }
    g_in_eval = 0;
    ev_runner_free(x.run);
}

/* A search whose every evaluation has failed is not a search: stop before
 * the generation is closed, so that a rerun with a mended evaluator gives
 * its genomes new attempts. */
static void evaluator_sanity(search *s)
{
    size_t ok = 0, dropped = 0;
    for (size_t i = 0; i < s->ncands; i++) {
        ok += s->cands[i].state == ST_OK;
        dropped += s->cands[i].state == ST_FAILED && s->cands[i].attempts > 0;
    }
    size_t enough = s->pop < 4 ? (size_t)s->pop : 4;
    if (ok == 0 && dropped >= enough) {
        say("every evaluation failed (%zu genomes, %d attempts each): the evaluator seems broken; last failure: %s",
            dropped, s->retries + 1, s->last_failure);
        say("mend it and run the same command again: the journal %s keeps the attempts, and this generation's "
            "genomes get new ones", s->journal_path);
        exit(1);
    }
}

/* ------------------------------------------------------------ selection */

static void fill_objectives(const search *s, const size_t *idx, size_t n, double *obj, double *viol)
{
    for (size_t i = 0; i < n; i++) {
        memcpy(obj + i * s->nobj, s->cands[idx[i]].obj, s->nobj * sizeof *obj);
        viol[i] = s->cands[idx[i]].viol;
    }
}

/* Ranks and crowding distances of the population itself, for the next
 * tournament (a function of the population alone, so a resumed run gets
 * the same ones). */
static void rank_population(search *s)
{
    size_t n = s->npop, *out = malloc((n ? n : 1) * sizeof *out);
    double *obj = malloc((n ? n : 1) * s->nobj * sizeof *obj), *viol = malloc((n ? n : 1) * sizeof *viol);
    double *crowd = malloc((n ? n : 1) * sizeof *crowd);
    int *rank = malloc((n ? n : 1) * sizeof *rank);
    if (!out || !obj || !viol || !crowd || !rank) {
        say("out of memory");
        exit(1);
    }
    fill_objectives(s, s->popv, n, obj, viol);
    if (nsga2_survive(obj, viol, n, s->nobj, n, out, rank, crowd) < 0) {
        say("out of memory");
        exit(1);
    }
    for (size_t j = 0; j < n; j++) {
        s->pop_rank[out[j]] = rank[j];
        s->pop_crowd[out[j]] = crowd[j];
    }
    free(out);
    free(obj);
    free(viol);
    free(crowd);
    free(rank);
}

/* Elitist survival over the population and the measured offspring. */
static void survive(search *s, const size_t *off, size_t noff)
{
    size_t cap = s->npop + noff, n = 0;
    size_t *pool = malloc((cap ? cap : 1) * sizeof *pool), *out = malloc((cap ? cap : 1) * sizeof *out);
    double *obj = malloc((cap ? cap : 1) * s->nobj * sizeof *obj), *viol = malloc((cap ? cap : 1) * sizeof *viol);
    if (!pool || !out || !obj || !viol) {
        say("out of memory");
        exit(1);
    }
    for (size_t i = 0; i < s->npop; i++)
        pool[n++] = s->popv[i];
    for (size_t i = 0; i < noff; i++)
        if (s->cands[off[i]].state == ST_OK)
            pool[n++] = off[i];
    fill_objectives(s, pool, n, obj, viol);
    long kept = nsga2_survive(obj, viol, n, s->nobj, (size_t)s->pop, out, NULL, NULL);
    if (kept < 0) {
        say("out of memory");
        exit(1);
    }
    for (long j = 0; j < kept; j++)
        s->popv[j] = pool[out[j]];
    s->npop = (size_t)kept;
    rank_population(s);
    free(pool);
    free(out);
    free(obj);
    free(viol);
}

/* ------------------------------------------------------------ the space */

static void load_space(search *s)
{
    char path[256];
    json_t *sp = NULL;
    snprintf(path, sizeof path, "/v1/spaces/%s", s->space_id);
    if (fc_json(s->http, "GET", path, NULL, &sp))
        http_fatal(s);
    json_t *genes = json_object_get(sp, "genes");
    if (!json_is_array(genes) || json_array_size(genes) == 0) {
        fc_fail(s->http, FC_EPROTO, "the space has no \"genes\" array");
        http_fatal(s);
    }
    s->builder = json_is_string(json_object_get(sp, "builder"));
    s->ng = json_array_size(genes);
    s->gene_names = calloc(s->ng, sizeof *s->gene_names);
    s->nchoices = calloc(s->ng, sizeof *s->nchoices);
    s->gate = calloc(s->ng, sizeof *s->gate);
    s->gate_off = calloc(s->ng, sizeof *s->gate_off);
    s->scratch = calloc(s->ng, sizeof *s->scratch);
    s->choices = json_array();
    if (!s->gene_names || !s->nchoices || !s->gate || !s->gate_off || !s->scratch) {
        say("out of memory");
        exit(1);
    }
    for (size_t i = 0; i < s->ng; i++) {
        json_t *g = json_array_get(genes, i);
        const char *name = json_string_value(json_object_get(g, "name"));
        json_t *ch = json_object_get(g, "choices");
        if (!name || !json_is_array(ch) || json_array_size(ch) == 0 || json_array_size(ch) > 65536) {
            fc_fail(s->http, FC_EPROTO, "genes[%zu] is not {\"name\", \"choices\": [...]}", i);
            http_fatal(s);
        }
        s->gene_names[i] = strdup(name);
        s->nchoices[i] = (int)json_array_size(ch);
        json_array_append(s->choices, ch);
        s->gate[i] = -1;
    }
    int any_gate = 0;
    for (size_t i = 0; i < s->ng; i++) {
        const char *by = json_string_value(json_object_get(json_array_get(genes, i), "gated_by"));
        if (!by)
            continue;
        for (size_t j = 0; j < s->ng; j++) {
            if (strcmp(s->gene_names[j], by))
                continue;
            json_t *ch = json_array_get(s->choices, j);
            for (size_t v = 0; v < json_array_size(ch); v++)
                if (json_is_number(json_array_get(ch, v)) && json_number_value(json_array_get(ch, v)) == 0) {
                    s->gate[i] = (int)j;
                    s->gate_off[i] = (int)v;
                    any_gate = 1;
                }
        }
    }
    s->genes = (nsga2_genes){s->ng, s->nchoices, any_gate ? s->gate : NULL, s->gate_off, 0.9, 0.0};
    json_decref(sp);
    if (!s->builder)
        for (size_t k = 0; k < s->nobj + s->ncon; k++) {
            cost_kind ck = k < s->nobj ? s->obj[k].cost : s->con[k - s->nobj].cost;
            if (ck != COST_NONE) {
                say("space %s is categorical: the service has no costs (latency, macs, flops, params) for it; use "
                    "objectives the evaluator measures", s->space_id);
                exit(2);
            }
        }
}

/* ------------------------------------------------------------- finetune */

static void finetune(search *s)
{
    unsigned char *front = malloc(s->ncands ? s->ncands : 1);
    size_t *idx = calloc(s->ncands ? s->ncands : 1, sizeof *idx), n = 0;
    if (!front || !idx) {
        say("out of memory");
        exit(1);
    }
    search_front(s, front);
    for (size_t i = 0; i < s->ncands; i++)
        if (front[i])
            idx[n++] = i;
    size_t todo = 0;
    for (size_t i = 0; i < n; i++)
        todo += s->cands[idx[i]].ft_state == 0;
    if (todo)
        say("fine-tuning %zu front member%s", todo, todo == 1 ? "" : "s");
    evaluate(s, idx, n, 1);
    int unposted = 0;
    for (size_t i = 0; i < n; i++)
        unposted |= s->cands[idx[i]].ft_state == ST_OK && !s->cands[idx[i]].ft_posted;
    if (unposted)
        post_observations(s, s->gen_done, idx, n, 1);
    free(front);
    free(idx);
}

/* ---------------------------------------------------------------- main */

static void search_free(search *s)
{
    for (size_t i = 0; i < s->ncands; i++) {
        json_decref(s->cands[i].costs);
        json_decref(s->cands[i].predicted);
        json_decref(s->cands[i].output);
        json_decref(s->cands[i].ft_output);
    }
    free(s->cands);
    free(s->genomes);
    free(s->map);
    nsga2_set_free(&s->seen);
    free(s->popv);
    free(s->pop_rank);
    free(s->pop_crowd);
    free(s->stats);
    for (size_t i = 0; i < s->ng; i++)
        free(s->gene_names[i]);
    free(s->gene_names);
    json_decref(s->choices);
    free(s->nchoices);
    free(s->gate);
    free(s->gate_off);
    free(s->scratch);
    free(s->eval_argv);
    free(s->finetune_argv);
    jr_close(&s->jr);
    fc_close(s->http);
}

static void print_front(const search *s)
{
    unsigned char *front = malloc(s->ncands ? s->ncands : 1);
    if (!front)
        return;
    size_t n = search_front(s, front);
    printf("front: %zu genome%s (%s/front.csv)\n", n, n == 1 ? "" : "s", s->out_dir);
    printf("%-32s", "genome");
    for (size_t k = 0; k < s->nobj; k++)
        printf(" %14s", s->obj[k].label);
    if (s->finetune_argv)
        for (size_t k = 0; k < s->nobj; k++)
            if (s->obj[k].cost == COST_NONE)
                printf(" %14.14s", "finetuned");
    printf("\n");
    for (size_t i = 0; i < s->ncands; i++) {
        if (!front[i])
            continue;
        char g[256];
        genome_text(s, i, g, sizeof g);
        printf("%-32s", g);
        for (size_t k = 0; k < s->nobj; k++)
            printf(" %14.6g", s->obj[k].maximize ? -s->cands[i].obj[k] : s->cands[i].obj[k]);
        if (s->finetune_argv)
            for (size_t k = 0; k < s->nobj; k++) {
                if (s->obj[k].cost != COST_NONE)
                    continue;
                json_t *v = s->cands[i].ft_state == ST_OK ? json_object_get(s->cands[i].ft_output, s->obj[k].name) : NULL;
                if (json_is_number(v))
                    printf(" %14.6g", json_number_value(v));
                else
                    printf(" %14s", "-");
            }
        printf("\n");
    }
    free(front);
}

static int mkdirs(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(path, 0755) && errno != EEXIST ? -1 : 0;
}

/* launcher + cmd split into one NULL-terminated argv, in one allocation
 * (free() it). Exits on a quoting error. */
static char **split_command(const char *launcher, const char *cmd, const char *what)
{
    char **a = NULL, **b = NULL, err[300];
    int na = 0, nb = 0;
    if ((launcher && fc_split_argv(launcher, &a, &na, err, sizeof err)) ||
        fc_split_argv(cmd, &b, &nb, err, sizeof err)) {
        say("%s: %s", what, err);
        exit(2);
    }
    if (nb == 0) {
        say("%s is empty", what);
        exit(2);
    }
    size_t bytes = (size_t)(na + nb + 1) * sizeof(char *);
    for (int i = 0; i < na; i++)
        bytes += strlen(a[i]) + 1;
    for (int i = 0; i < nb; i++)
        bytes += strlen(b[i]) + 1;
    char **argv = malloc(bytes);
    if (!argv) {
        say("out of memory");
        exit(1);
    }
    char *p = (char *)(argv + na + nb + 1);
    for (int i = 0; i < na + nb; i++) {
        const char *w = i < na ? a[i] : b[i - na];
        size_t len = strlen(w) + 1;
        memcpy(p, w, len);
        argv[i] = p;
        p += len;
    }
    argv[na + nb] = NULL;
    free(a);
    free(b);
    return argv;
}

enum {
    O_SERVER = 1, O_SPACE, O_OBJECTIVES, O_CONSTRAINT, O_POP, O_GENS, O_SEED, O_EVALUATOR, O_J, O_LAUNCHER,
    O_EVAL_TIMEOUT, O_RETRIES, O_CONFIDENCE, O_NO_SCREEN, O_FINETUNE, O_JOURNAL, O_OUT, O_FIDELITY,
    O_SERVER_RETRIES, O_SERVER_TIMEOUT, O_HELP
};

static const fc_optspec options[] = {
    {"server", 1, O_SERVER}, {"space", 1, O_SPACE}, {"objectives", 1, O_OBJECTIVES},
    {"constraint", 1, O_CONSTRAINT}, {"pop", 1, O_POP}, {"gens", 1, O_GENS}, {"seed", 1, O_SEED},
    {"evaluator", 1, O_EVALUATOR}, {"j", 1, O_J}, {"jobs", 1, O_J}, {"launcher", 1, O_LAUNCHER},
    {"eval-timeout", 1, O_EVAL_TIMEOUT}, {"retries", 1, O_RETRIES}, {"confidence", 1, O_CONFIDENCE},
    {"no-screen", 0, O_NO_SCREEN}, {"finetune", 1, O_FINETUNE}, {"journal", 1, O_JOURNAL}, {"out", 1, O_OUT},
    {"fidelity", 1, O_FIDELITY}, {"server-retries", 1, O_SERVER_RETRIES}, {"server-timeout", 1, O_SERVER_TIMEOUT},
    {"help", 0, O_HELP}, {"h", 0, O_HELP}, {NULL, 0, 0}};

static void bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void bad_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(PROG ": ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n(fmas-search --help for the options)\n", stderr);
    va_end(ap);
    exit(2);
}

int main(int argc, char **argv)
{
    static search S;
    search *s = &S;
    s->server = fc_default_server();
    s->fidelity = "val-subset";
    s->pop = 40;
    s->gens = 30;
    s->seed = 1;
    s->parallel = 1;
    s->retries = 2;
    s->screen = 1;
    s->confidence = 0.95;
    s->gen_done = -1;
    const char *objectives = NULL, *evaluator = NULL, *launcher = NULL, *finetune_cmd = NULL;
    fc_retry retry = {8, 250, 8000, 5, 300};
    char err[1024];
    int i = 1;
    for (;;) {
        const char *v;
        long n;
        double d;
        int id = fc_next_opt(argc, argv, &i, options, &v, err, sizeof err);
        if (id == -1)
            break;
        if (id == -2)
            bad_usage("%s", err);
        if (id == 0)
            bad_usage("unexpected argument \"%s\"", argv[i]);
        switch (id) {
        case O_SERVER:
            s->server = v;
            break;
        case O_SPACE:
            if (!fc_name_ok(v))
                bad_usage("--space: space ids are [a-z0-9._-]{1,64}");
            s->space_id = v;
            break;
        case O_OBJECTIVES:
            objectives = v;
            break;
        case O_CONSTRAINT:
            if (parse_constraint(s, v, err, sizeof err))
                bad_usage("--constraint: %s", err);
            break;
        case O_POP:
            if (parse_long(v, 2, 100000, &n))
                bad_usage("--pop: a number 2..100000");
            s->pop = n;
            break;
        case O_GENS:
            if (parse_long(v, 0, 1000000, &n))
                bad_usage("--gens: a number 0..1000000");
            s->gens = n;
            break;
        case O_SEED: {
            char *end;
            errno = 0;
            unsigned long long seed = strtoull(v, &end, 10);
            if (errno || end == v || *end || v[0] == '-' || seed > (unsigned long long)INT64_MAX)
                bad_usage("--seed: a number 0..2^63-1");
            s->seed = (uint64_t)seed;
            break;
        }
        case O_EVALUATOR:
            evaluator = v;
            break;
        case O_J:
            if (parse_long(v, 1, 4096, &n))
                bad_usage("-j: a number 1..4096");
            s->parallel = (int)n;
            break;
        case O_LAUNCHER:
            launcher = v;
            break;
        case O_EVAL_TIMEOUT:
            if (parse_double(v, &d) || d < 0)
                bad_usage("--eval-timeout: seconds >= 0 (0: none)");
            s->eval_timeout = d;
            break;
        case O_RETRIES:
            if (parse_long(v, 0, 100, &n))
                bad_usage("--retries: a number 0..100");
            s->retries = (int)n;
            break;
        case O_CONFIDENCE:
            if (parse_double(v, &d) || !(d > 0.5 && d < 1))
                bad_usage("--confidence: a probability in (0.5, 1)");
            s->confidence = d;
            break;
        case O_NO_SCREEN:
            s->screen = 0;
            break;
        case O_FINETUNE:
            finetune_cmd = v;
            break;
        case O_JOURNAL:
            s->journal_path = v;
            break;
        case O_OUT:
            s->out_dir = v;
            break;
        case O_FIDELITY:
            if (!fc_name_ok(v))
                bad_usage("--fidelity: fidelities are [a-z0-9._-]{1,64}");
            s->fidelity = v;
            break;
        case O_SERVER_RETRIES:
            if (parse_long(v, 0, 1000, &n))
                bad_usage("--server-retries: a number 0..1000");
            retry.retries = (int)n;
            break;
        case O_SERVER_TIMEOUT:
            if (parse_long(v, 1, 86400, &n))
                bad_usage("--server-timeout: seconds 1..86400");
            retry.stall_timeout_s = n;
            break;
        case O_HELP:
            fputs(usage, stdout);
            return 0;
        }
    }
    if (!s->space_id || !objectives || !evaluator || !s->journal_path || !s->out_dir)
        bad_usage("--space, --objectives, --evaluator, --journal and --out are required");
    if (parse_objectives(s, objectives, err, sizeof err))
        bad_usage("--objectives: %s", err);
    s->eval_argv = split_command(launcher, evaluator, "--evaluator");
    if (finetune_cmd)
        s->finetune_argv = split_command(launcher, finetune_cmd, "--finetune");

    /* fds 0-2 open (on /dev/null if need be), so that no pipe or journal
     * lands there and gets mistaken for a standard stream. */
    for (int fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) != fd) {
            say("cannot open /dev/null");
            return 1;
        }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    g_search = s;
    s->tty = isatty(2);
    s->t_start = now_s();
    if (fc_open(&s->http, s->server)) {
        say("cannot set up the HTTP client for %s", s->server);
        return 1;
    }
    fc_set_retry(s->http, &retry);
    fc_set_notice(s->http, on_http_notice, NULL);
    if (mkdirs(s->out_dir)) {
        say("cannot create %s: %s", s->out_dir, strerror(errno));
        return 1;
    }
    load_space(s);
    s->popv = calloc((size_t)s->pop, sizeof *s->popv);
    s->pop_rank = calloc((size_t)s->pop, sizeof *s->pop_rank);
    s->pop_crowd = calloc((size_t)s->pop, sizeof *s->pop_crowd);
    size_t *off = calloc((size_t)s->pop, sizeof *off);
    int *kids = calloc((size_t)s->pop * s->ng, sizeof *kids), *parents = calloc((size_t)s->pop * s->ng, sizeof *parents);
    if (!s->popv || !s->pop_rank || !s->pop_crowd || !off || !kids || !parents) {
        say("out of memory");
        return 1;
    }
    nsga2_set_init(&s->seen, s->ng);
    nsga2_rng_seed(&s->rng, s->seed);

    json_t *records = NULL, *pending = NULL;
    if (jr_open(&s->jr, s->journal_path, &records, err, sizeof err)) {
        say("%s", err);
        return 1;
    }
    if (json_array_size(records) == 0) {
        journal(s, config_record(s));
    } else {
        json_t *first = json_array_get(records, 0);
        if (!json_is_string(json_object_get(first, "type")) ||
            strcmp(json_string_value(json_object_get(first, "type")), "config")) {
            say("the journal %s does not start with a config record", s->journal_path);
            return 1;
        }
        if (config_matches(s, first, err, sizeof err) || replay(s, records, &pending, err, sizeof err)) {
            say("%s", err);
            return 1;
        }
        gen_stats t;
        tally(s, &t);
        say("resuming from %s: %d generation%s done, %zu evaluations recorded", s->journal_path, s->gen_done + 1,
            s->gen_done == 0 ? "" : "s", t.evaluations);
    }
    /* Genomes of finished generations are known; the unfinished one's are
     * made again below, which also moves the PRNG as it moved then. */
    for (size_t c = 0; c < s->ncands; c++)
        if (s->cands[c].gen <= s->gen_done && nsga2_set_add(&s->seen, cand_genome(s, c)) < 0) {
            say("out of memory");
            return 1;
        }
    rank_population(s);

    for (int gen = s->gen_done + 1; gen <= s->gens; gen++) {
        for (size_t p = 0; p < s->npop; p++)
            memcpy(parents + p * s->ng, cand_genome(s, s->popv[p]), s->ng * sizeof *parents);
        long n = nsga2_offspring(&s->rng, &s->genes, parents, s->pop_rank, s->pop_crowd, s->npop, (size_t)s->pop,
                                 50 * (size_t)s->pop + 1000, &s->seen, kids);
        if (n < 0) {
            say("out of memory");
            return 1;
        }
        if (n < s->pop && !s->warned_exhausted) {
            say("generation %d: only %ld new genome%s could be made: the space is nearly exhausted", gen, n,
                n == 1 ? "" : "s");
            s->warned_exhausted = 1;
        }
        json_t *screen = NULL;
        if (pending && json_integer_value(json_object_get(pending, "gen")) == gen) {
            json_t *results = json_object_get(pending, "results");
            int same = json_array_size(results) == (size_t)n;
            for (long k = 0; k < n && same; k++)
                same = !genome_from_json(s, json_object_get(json_array_get(results, (size_t)k), "genome"), s->scratch) &&
                       !memcmp(s->scratch, kids + (size_t)k * s->ng, s->ng * sizeof *kids);
            if (!same) {
                say("the journal's generation %d does not match the genomes this search makes from its seed; "
                    "was it written by another version of %s?", gen, PROG);
                return 1;
            }
            screen = json_incref(pending);
        }
        for (long k = 0; k < n; k++) {
            long ci = cand_get(s, kids + (size_t)k * s->ng, gen);
            if (ci < 0) {
                say("out of memory");
                return 1;
            }
            off[k] = (size_t)ci;
        }
        if (!screen) {
            screen = screen_offspring(s, gen, off, (size_t)n);
            journal(s, json_incref(screen));
            if (apply_screen(s, screen)) {
                say("internal error: a screen record does not apply");
                return 1;
            }
        }
        json_decref(screen);
        pending = NULL;
        evaluate(s, off, (size_t)n, 0);
        evaluator_sanity(s);
        int unposted = 0;
        for (long k = 0; k < n; k++)
            unposted |= s->cands[off[k]].state == ST_OK && !s->cands[off[k]].posted;
        if (unposted) {
            post_observations(s, gen, off, (size_t)n, 0);
            if (s->screen)
                refit(s);
        }
        survive(s, off, (size_t)n);
        s->gen_done = gen;
        s->gens_here++;
        gen_stats st;
        tally(s, &st);
        stats_push(s, &st);
        json_t *pop = json_array();
        for (size_t p = 0; p < s->npop; p++)
            json_array_append_new(pop, genome_json(s, cand_genome(s, s->popv[p])));
        char rng[65];
        nsga2_rng_save(&s->rng, rng);
        journal(s, json_pack("{s:s, s:i, s:o, s:s, s:I, s:I, s:I, s:I}", "type", "generation", "gen", gen,
                             "population", pop, "rng", rng, "evaluations", (json_int_t)st.evaluations, "attempts",
                             (json_int_t)st.attempts, "failed", (json_int_t)st.failed, "pruned",
                             (json_int_t)st.pruned));
        if (search_write_outputs(s, err, sizeof err)) {
            say("%s", err);
            return 1;
        }
        size_t pruned_here = 0, kept_here = 0;
        for (long k = 0; k < n; k++) {
            pruned_here += s->cands[off[k]].state == ST_PRUNED;
            kept_here += s->cands[off[k]].state == ST_OK;
        }
        unsigned char *front = malloc(s->ncands);
        size_t nf = front ? search_front(s, front) : 0;
        free(front);
        say("generation %d/%ld: %ld offspring, %zu pruned, %zu measured; %zu evaluations, %zu pruned, %zu failed "
            "in all; front %zu", gen, s->gens, n, pruned_here, kept_here, st.evaluations, st.pruned, st.failed, nf);
        draw_progress(s, 1);
    }
    if (s->finetune_argv)
        finetune(s);
    if (search_write_outputs(s, err, sizeof err)) {
        say("%s", err);
        return 1;
    }
    clear_progress();
    print_front(s);
    free(off);
    free(kids);
    free(parents);
    json_decref(records);
    search_free(s);
    return 0;
}

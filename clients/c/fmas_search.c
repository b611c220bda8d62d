/*
 * fmas_search.c — fmas-search: NSGA-II over a search space of fmasd, with
 * the service screening each generation and real evaluations run by an
 * external command.
 *
 * One generation g (g = 0 is the random initial population):
 *   1. offspring: N new genomes (never one made before, outranked ones
 *      aside) by binary tournament, uniform crossover and per-gene mutation
 *      from the population (random ones for g = 0); with screening N is
 *      --pool times --pop for g > 0;
 *   2. one POST /v1/spaces/{id}/screen for all of them (costs, predicted
 *      metrics, keep or prune), then pre-selection: the --budget (--init
 *      for g = 0) most promising kept ones are chosen, the other kept ones
 *      are outranked (see preselect); with --no-screen one POST
 *      .../estimate for the costs instead, and every offspring is kept;
 *   3. the kept ones are evaluated (up to -j at once, each attempt
 *      journaled, failed attempts retried up to --retries);
 *   4. every measured metric objective is posted as an observation, and
 *      (screening) the surrogates are refit, so that the next screen sees
 *      this generation;
 *   5. elitist survival over population + measured offspring.
 * Pruned and outranked offspring take no part in selection: they were
 * never measured, so the population only ever holds measured genomes and
 * NSGA-II's ranking stays a ranking of facts. A genome that fails every
 * attempt is dropped the same way, and is never made again.
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
#include <limits.h>
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

static volatile sig_atomic_t g_stop;

/* ------------------------------------------------------------ messages */

static search *g_search; /* for clearing the progress line before a message */

static void clear_progress(void)
{
    if (g_search && g_search->tty && g_search->last_draw > 0)
        fputs("\r\033[K", stderr);
}

void search_say(const char *fmt, ...)
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
    search_say("%s", msg);
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
    "  --pool K              screening: each generation after the first makes K * pop new\n"
    "                        offspring and screens them in one call (default 4)\n"
    "  --budget N            screening: evaluate at most the N most promising kept offspring\n"
    "                        per generation after the first (default pop / 8, at least 2)\n"
    "  --init N              screening: evaluate N of generation 0's pop random genomes\n"
    "                        (default pop / 4, at least 10 or pop)\n"
    "  --no-screen           plain NSGA-II: costs from /estimate, every offspring evaluated\n"
    "  --finetune 'CMD'      after the search, run CMD for each front member (fidelity finetuned)\n"
    "  --journal FILE        append-only journal; an existing one is resumed\n"
    "  --out DIR             front.json, front.csv, history.csv\n"
    "  --server-retries N    retries of a failed request to fmasd (default 8, backoff to 8 s)\n"
    "  --server-timeout S    seconds without a byte from fmasd before a request fails (default 300)\n";

/* ------------------------------------------------------------- parsing */

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

/* ------------------------------------------------------------ progress */

static void draw_progress(search *s, int force)
{
    double now = fc_now();
    if (!s->tty || (!force && now - s->last_draw < 0.2))
        return;
    gen_stats t;
    search_tally(s, &t);
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
            bar, t.evaluations, t.pruned, t.failed, s->running, eta);
    fflush(stderr);
    s->last_draw = now;
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
    json_t *in = json_pack("{s:s, s:o, s:o, s:s}", "space", s->space_id, "genome", search_genome_json(s, g), "genome_named",
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
        search_say("out of memory");
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
                            search_genome_json(s, cand_genome(s, ci)), "attempt", attempt, "ok", ok, "seconds",
                            res->seconds, "fidelity", x->finetune ? "finetuned" : s->fidelity);
    if (x->finetune)
        json_object_set_new(rec, "phase", json_string("finetune"));
    if (ok) {
        json_object_set(rec, "output", res->output);
    } else {
        json_object_set_new(rec, "error", text_json(why));
        json_object_set_new(rec, "stderr", text_json(res->stderr_tail));
    }
    search_journal(s, json_incref(rec));
    if (search_apply_eval(s, rec, 1)) {
        json_decref(rec);
        search_say("internal error: an evaluation record does not apply");
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
        search_say("evaluation of %s failed (attempt %d of %d): %s%s%s; retrying", gtext, c->attempts_here,
            s->retries + 1, why, line[0] ? "; stderr: " : "", line);
        submit(x, ci);
    } else {
        if (x->finetune)
            c->ft_state = ST_FAILED;
        else
            c->state = ST_FAILED;
        search_say("genome %s dropped after %d failed attempt%s: %s%s%s", gtext, c->attempts_here,
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
        search_say("out of memory");
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
        s->running = ev_running(x.run);
        if (g_stop) {
            size_t running = ev_running(x.run);
            ev_runner_free(x.run);
            search_say("interrupted (signal %d); %zu running evaluation%s killed; run the same command again to resume",
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
        search_say("every evaluation failed (%zu genomes, %d attempts each): the evaluator seems broken; last failure: %s",
            dropped, s->retries + 1, s->last_failure);
        search_say("mend it and run the same command again: the journal %s keeps the attempts, and this generation's "
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
        search_say("out of memory");
        exit(1);
    }
    fill_objectives(s, s->popv, n, obj, viol);
    if (nsga2_survive(obj, viol, n, s->nobj, n, out, rank, crowd) < 0) {
        search_say("out of memory");
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
        search_say("out of memory");
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
        search_say("out of memory");
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

/* ------------------------------------------------------------ pre-selection */

/* The optimistic objective vector of a kept cand (minimized): a metric
 * objective is its predicted mean moved by z standard deviations toward
 * its goal (the bound the screen compared with), a cost is exact. 0, or -1
 * when a prediction or cost is missing. */
static int optimistic(const search *s, const cand *c, double z, double *obj, double *viol)
{
    for (size_t k = 0; k < s->nobj; k++) {
        const objective *o = &s->obj[k];
        double v;
        if (o->cost == COST_NONE) {
            json_t *p = json_object_get(c->predicted, o->name);
            json_t *mean = json_object_get(p, "mean"), *sd = json_object_get(p, "std");
            if (!json_is_number(mean) || !isfinite(json_number_value(mean)))
                return -1;
            double d = json_is_number(sd) && isfinite(json_number_value(sd)) ? json_number_value(sd) : 0.0;
            v = json_number_value(mean) + (o->maximize ? z : -z) * d;
        } else if (search_cost_value(c->costs, o->cost, o->device, "ms", &v)) {
            return -1;
        }
        obj[k] = o->maximize ? -v : v;
    }
    *viol = 0;
    for (size_t k = 0; k < s->ncon; k++) {
        const constraint *ct = &s->con[k];
        double v;
        if (!search_cost_value(c->costs, ct->cost, ct->device, ct->unit, &v) && v > ct->max)
            *viol += ct->max > 0 ? (v - ct->max) / ct->max : v - ct->max;
    }
    return 0;
}

typedef struct pick {
    size_t k;     /* position in the generation's results */
    int rank;     /* front in the joint sort (INT_MAX: no prediction) */
    double crowd; /* crowding distance within that front */
} pick;

static int pick_cmp(const void *a, const void *b)
{
    const pick *x = a, *y = b;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    if (x->crowd != y->crowd)
        return x->crowd > y->crowd ? -1 : 1;
    return (x->k > y->k) - (x->k < y->k);
}

/*
 * Pre-selection of generation gen (after its screen was applied): of the
 * kept offspring off[0..n), the --budget most promising are chosen for a
 * real evaluation, the others are outranked. Promise: the candidates'
 * optimistic vectors (see optimistic) are sorted by non-dominated fronts
 * together with the measured population, so that a candidate predicted to
 * extend the measured front comes first; within a front the larger
 * crowding distance (over that joint front) first, then the position.
 * Candidates without a prediction come last, in order. The screen record
 * rec gets "chosen" on every kept result and "order", the chosen results'
 * positions in that order (the order they are evaluated in).
 */
static void preselect(search *s, json_t *rec, const size_t *off, size_t n, long budget)
{
    size_t np = s->npop, m = s->nobj, cap = np + n + 1;
    double z = json_is_number(json_object_get(rec, "z")) ? json_number_value(json_object_get(rec, "z")) : 0.0;
    double *obj = malloc(cap * m * sizeof *obj), *viol = malloc(cap * sizeof *viol), *dist = malloc(cap * sizeof *dist);
    int *rank = malloc(cap * sizeof *rank);
    size_t *pick_of = malloc(cap * sizeof *pick_of), *front = malloc(cap * sizeof *front);
    pick *picks = malloc((n + 1) * sizeof *picks);
    if (!obj || !viol || !dist || !rank || !pick_of || !front || !picks) {
        search_say("out of memory");
        exit(1);
    }
    fill_objectives(s, s->popv, np, obj, viol);
    size_t rows = np, npick = 0;
    for (size_t k = 0; k < n; k++) {
        const cand *c = &s->cands[off[k]];
        if (c->state != ST_KEPT)
            continue;
        picks[npick] = (pick){k, INT_MAX, 0.0};
        if (!optimistic(s, c, z, obj + rows * m, viol + rows))
            pick_of[rows++] = npick;
        npick++;
    }
    int nfronts = nsga2_sort(obj, viol, rows, m, rank);
    if (nfronts < 0) {
        search_say("out of memory");
        exit(1);
    }
    for (int f = 0; f < nfronts; f++) {
        size_t nf = 0;
        for (size_t r = 0; r < rows; r++)
            if (rank[r] == f)
                front[nf++] = r;
        if (nsga2_crowding(obj, m, front, nf, dist) < 0) {
            search_say("out of memory");
            exit(1);
        }
        for (size_t j = 0; j < nf; j++)
            if (front[j] >= np) {
                picks[pick_of[front[j]]].rank = f;
                picks[pick_of[front[j]]].crowd = dist[j];
            }
    }
    qsort(picks, npick, sizeof *picks, pick_cmp);
    size_t take = npick < (size_t)budget ? npick : (size_t)budget;
    json_t *results = json_object_get(rec, "results"), *order = json_array();
    for (size_t p = 0; p < npick; p++) {
        json_t *r = json_array_get(results, picks[p].k);
        json_object_set_new(r, "chosen", json_boolean(p < take));
        if (p < take)
            json_array_append_new(order, json_integer((json_int_t)picks[p].k));
        else
            s->cands[off[picks[p].k]].state = ST_OUTRANKED;
    }
    json_object_set_new(rec, "budget", json_integer((json_int_t)budget));
    json_object_set_new(rec, "order", order);
    free(obj);
    free(viol);
    free(dist);
    free(rank);
    free(pick_of);
    free(front);
    free(picks);
}

/* The offspring off[0..n) in the order of evaluation: a screen record's
 * "order" first (the chosen ones, most promising first), then the rest. */
static size_t eval_order(json_t *rec, const size_t *off, size_t n, size_t *out)
{
    json_t *order = json_object_get(rec, "order");
    unsigned char *taken = calloc(n + 1, 1);
    size_t k = 0, i;
    json_t *v;
    if (!taken) {
        search_say("out of memory");
        exit(1);
    }
    json_array_foreach(order, i, v) {
        json_int_t x = json_integer_value(v);
        if (json_is_integer(v) && x >= 0 && (size_t)x < n && !taken[x]) {
            taken[x] = 1;
            out[k++] = off[x];
        }
    }
    for (size_t j = 0; j < n; j++)
        if (!taken[j])
            out[k++] = off[j];
    free(taken);
    return k;
}

/* ------------------------------------------------------------- finetune */

static void finetune(search *s)
{
    unsigned char *front = malloc(s->ncands ? s->ncands : 1);
    size_t *idx = calloc(s->ncands ? s->ncands : 1, sizeof *idx), n = 0;
    if (!front || !idx) {
        search_say("out of memory");
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
        search_say("fine-tuning %zu front member%s", todo, todo == 1 ? "" : "s");
    evaluate(s, idx, n, 1);
    int unposted = 0;
    for (size_t i = 0; i < n; i++)
        unposted |= s->cands[idx[i]].ft_state == ST_OK && !s->cands[idx[i]].ft_posted;
    if (unposted)
        search_post_observations(s, s->gen_done, idx, n, 1);
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
    nsga2_set_free(&s->known);
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
    free(s->off);
    free(s->order);
    free(s->kids);
    free(s->parents);
    json_decref(s->records);
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
        search_say("%s: %s", what, err);
        exit(2);
    }
    if (nb == 0) {
        search_say("%s is empty", what);
        exit(2);
    }
    size_t bytes = (size_t)(na + nb + 1) * sizeof(char *);
    for (int i = 0; i < na; i++)
        bytes += strlen(a[i]) + 1;
    for (int i = 0; i < nb; i++)
        bytes += strlen(b[i]) + 1;
    char **argv = malloc(bytes);
    if (!argv) {
        search_say("out of memory");
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
    O_SERVER_RETRIES, O_SERVER_TIMEOUT, O_POOL, O_BUDGET, O_INIT, O_HELP
};

static const fc_optspec options[] = {
    {"server", 1, O_SERVER}, {"space", 1, O_SPACE}, {"objectives", 1, O_OBJECTIVES},
    {"constraint", 1, O_CONSTRAINT}, {"pop", 1, O_POP}, {"gens", 1, O_GENS}, {"seed", 1, O_SEED},
    {"evaluator", 1, O_EVALUATOR}, {"j", 1, O_J}, {"jobs", 1, O_J}, {"launcher", 1, O_LAUNCHER},
    {"eval-timeout", 1, O_EVAL_TIMEOUT}, {"retries", 1, O_RETRIES}, {"confidence", 1, O_CONFIDENCE},
    {"no-screen", 0, O_NO_SCREEN}, {"finetune", 1, O_FINETUNE}, {"journal", 1, O_JOURNAL}, {"out", 1, O_OUT},
    {"fidelity", 1, O_FIDELITY}, {"server-retries", 1, O_SERVER_RETRIES}, {"server-timeout", 1, O_SERVER_TIMEOUT},
    {"pool", 1, O_POOL}, {"budget", 1, O_BUDGET}, {"init", 1, O_INIT}, {"help", 0, O_HELP}, {"h", 0, O_HELP}, {NULL, 0, 0}};

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
            if (search_parse_constraint(s, v, err, sizeof err))
                bad_usage("--constraint: %s", err);
            break;
        case O_POP:
            if (fc_parse_long(v, 2, 100000, &n))
                bad_usage("--pop: a number 2..100000");
            s->pop = n;
            break;
        case O_GENS:
            if (fc_parse_long(v, 0, 1000000, &n))
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
            if (fc_parse_long(v, 1, 4096, &n))
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
            if (fc_parse_long(v, 0, 100, &n))
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
            if (fc_parse_long(v, 0, 1000, &n))
                bad_usage("--server-retries: a number 0..1000");
            retry.retries = (int)n;
            break;
        case O_SERVER_TIMEOUT:
            if (fc_parse_long(v, 1, 86400, &n))
                bad_usage("--server-timeout: seconds 1..86400");
            retry.stall_timeout_s = n;
            break;
        case O_POOL:
            if (fc_parse_long(v, 1, 1000, &n))
                bad_usage("--pool: a number 1..1000");
            s->pool = n;
            break;
        case O_BUDGET:
            if (fc_parse_long(v, 1, 100000000, &n))
                bad_usage("--budget: a number 1..100000000");
            s->budget = n;
            break;
        case O_INIT:
            if (fc_parse_long(v, 1, 100000, &n))
                bad_usage("--init: a number 1..100000");
            s->init = n;
            break;
        case O_HELP:
            fputs(usage, stdout);
            return 0;
        }
    }
    if (!s->space_id || !objectives || !evaluator || !s->journal_path || !s->out_dir)
        bad_usage("--space, --objectives, --evaluator, --journal and --out are required");
    if (search_parse_objectives(s, objectives, err, sizeof err))
        bad_usage("--objectives: %s", err);
    if (!s->screen && (s->pool || s->budget || s->init))
        bad_usage("--pool, --budget and --init choose among screened offspring: they do not go with --no-screen");
    int pool_given = s->pool || s->budget || s->init;
    if (!s->screen) {
        s->pool = 1;
        s->budget = s->pop;
        s->init = s->pop;
    }
    if (s->init > s->pop)
        bad_usage("--init: at most --pop");
    /* Defaults: a small random start (the service fits a surrogate from 10
     * genomes on), then few evaluations per generation, each chosen from a
     * pool four times the population, so that every few evaluations the
     * surrogate is refitted before the next choice. */
    if (!s->init)
        s->init = s->pop / 4 > 10 ? s->pop / 4 : s->pop < 10 ? s->pop : 10;
    if (s->pool * s->pop > 100000)
        bad_usage("--pool: K * pop is at most 100000 (what one screen request takes)");
    if (!s->pool)
        s->pool = 100000 / s->pop < 4 ? (100000 / s->pop > 1 ? 100000 / s->pop : 1) : 4;
    if (!s->budget)
        s->budget = s->pop / 8 > 2 ? s->pop / 8 : 2;
    s->eval_argv = split_command(launcher, evaluator, "--evaluator");
    if (finetune_cmd)
        s->finetune_argv = split_command(launcher, finetune_cmd, "--finetune");

    /* fds 0-2 open (on /dev/null if need be), so that no pipe or journal
     * lands there and gets mistaken for a standard stream. */
    for (int fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) != fd) {
            search_say("cannot open /dev/null");
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
    s->t_start = fc_now();
    if (fc_open(&s->http, s->server)) {
        search_say("cannot set up the HTTP client for %s", s->server);
        return 1;
    }
    fc_set_retry(s->http, &retry);
    fc_set_notice(s->http, on_http_notice, NULL);
    if (mkdirs(s->out_dir)) {
        search_say("cannot create %s: %s", s->out_dir, strerror(errno));
        return 1;
    }
    search_load_space(s);
    s->popv = calloc((size_t)s->pop, sizeof *s->popv);
    s->pop_rank = calloc((size_t)s->pop, sizeof *s->pop_rank);
    s->pop_crowd = calloc((size_t)s->pop, sizeof *s->pop_crowd);
    /* Held by s (not by locals), so that a sanitizer build sees them as
     * reachable on the paths that exit() from deep down. */
    size_t want_max = (size_t)(s->pool * s->pop); /* a journal older than --pool may lower pool below */
    size_t *off = s->off = calloc(want_max, sizeof *off), *order = s->order = calloc(want_max, sizeof *order);
    int *kids = s->kids = calloc(want_max * s->ng, sizeof *kids);
    int *parents = s->parents = calloc((size_t)s->pop * s->ng, sizeof *parents);
    if (!s->popv || !s->pop_rank || !s->pop_crowd || !off || !order || !kids || !parents) {
        search_say("out of memory");
        return 1;
    }
    nsga2_set_init(&s->known, s->ng);
    nsga2_set_init(&s->seen, s->ng);
    nsga2_rng_seed(&s->rng, s->seed);

    json_t *records = NULL, *pending = NULL;
    if (jr_open(&s->jr, s->journal_path, &s->records, err, sizeof err)) {
        search_say("%s", err);
        return 1;
    }
    records = s->records;
    if (json_array_size(records) == 0) {
        search_journal(s, search_config_record(s));
    } else {
        json_t *first = json_array_get(records, 0);
        if (!json_is_string(json_object_get(first, "type")) ||
            strcmp(json_string_value(json_object_get(first, "type")), "config")) {
            search_say("the journal %s does not start with a config record", s->journal_path);
            return 1;
        }
        /* A journal older than --pool and --budget: resume it as it was
         * made (every kept offspring evaluated), unless they were given. */
        if (s->screen && !pool_given && !json_object_get(first, "pool") && !json_object_get(first, "budget")) {
            s->pool = 1;
            s->budget = s->pop;
            s->init = s->pop;
        }
        if (search_config_matches(s, first, err, sizeof err) || search_replay(s, records, &pending, err, sizeof err)) {
            search_say("%s", err);
            return 1;
        }
        gen_stats t;
        search_tally(s, &t);
        search_say("resuming from %s: %d generation%s done, %zu evaluations recorded", s->journal_path, s->gen_done + 1,
            s->gen_done == 0 ? "" : "s", t.evaluations);
    }
    rank_population(s);

    for (int gen = s->gen_done + 1; gen <= s->gens; gen++) {
        /* Genomes of finished generations are known (outranked ones may
         * come again); the unfinished one's are made again here, which also
         * moves the PRNG as it moved then. */
        if (search_rebuild_seen(s)) {
            search_say("out of memory");
            return 1;
        }
        for (size_t p = 0; p < s->npop; p++)
            memcpy(parents + p * s->ng, cand_genome(s, s->popv[p]), s->ng * sizeof *parents);
        size_t want = gen > 0 && s->screen ? (size_t)(s->pool * s->pop) : (size_t)s->pop;
        long n = nsga2_offspring(&s->rng, &s->genes, parents, s->pop_rank, s->pop_crowd, s->npop, want,
                                 50 * want + 1000, &s->seen, kids);
        if (n < 0) {
            search_say("out of memory");
            return 1;
        }
        if ((size_t)n < want && !s->warned_exhausted) {
            search_say("generation %d: only %ld new genome%s could be made: the space is nearly exhausted", gen, n,
                n == 1 ? "" : "s");
            s->warned_exhausted = 1;
        }
        json_t *screen = NULL;
        int resumed = 0;
        if (pending && json_integer_value(json_object_get(pending, "gen")) == gen) {
            json_t *results = json_object_get(pending, "results");
            int same = json_array_size(results) == (size_t)n;
            for (long k = 0; k < n && same; k++)
                same = !search_genome_from_json(s, json_object_get(json_array_get(results, (size_t)k), "genome"), s->scratch) &&
                       !memcmp(s->scratch, kids + (size_t)k * s->ng, s->ng * sizeof *kids);
            if (!same) {
                search_say("the journal's generation %d does not match the genomes this search makes from its seed; "
                    "was it written by another version of %s?", gen, PROG);
                return 1;
            }
            screen = json_incref(pending);
            resumed = 1;
        }
        for (long k = 0; k < n; k++) {
            long ci = search_cand_get(s, kids + (size_t)k * s->ng, gen);
            if (ci < 0) {
                search_say("out of memory");
                return 1;
            }
            off[k] = (size_t)ci;
        }
        if (!screen) {
            screen = search_screen_offspring(s, gen, off, (size_t)n);
            if (search_apply_screen(s, screen)) {
                search_say("internal error: a screen record does not apply");
                return 1;
            }
            /* Generation 0 evaluates --init of its genomes (in the order
             * made, when nothing can be predicted yet). */
            if (s->screen && (gen > 0 || s->init < s->pop))
                preselect(s, screen, off, (size_t)n, gen > 0 ? s->budget : s->init);
            search_journal(s, json_incref(screen));
        }
        size_t norder = eval_order(screen, off, (size_t)n, order);
        json_decref(screen);
        pending = NULL;
        evaluate(s, order, norder, 0);
        evaluator_sanity(s);
        int unposted = 0;
        for (long k = 0; k < n; k++)
            unposted |= s->cands[off[k]].state == ST_OK && !s->cands[off[k]].posted;
        if (unposted)
            search_post_observations(s, gen, off, (size_t)n, 0);
        /* Refit also when resuming a generation whose observations were
         * posted before the crash: the next screen must see them. */
        if (s->screen && (unposted || resumed))
            search_refit(s);
        survive(s, off, (size_t)n);
        s->gen_done = gen;
        s->gens_here++;
        gen_stats st;
        search_tally(s, &st);
        search_stats_push(s, &st);
        json_t *pop = json_array();
        for (size_t p = 0; p < s->npop; p++)
            json_array_append_new(pop, search_genome_json(s, cand_genome(s, s->popv[p])));
        char rng[65];
        nsga2_rng_save(&s->rng, rng);
        search_journal(s, json_pack("{s:s, s:i, s:o, s:s, s:I, s:I, s:I, s:I, s:I}", "type", "generation", "gen",
                             gen, "population", pop, "rng", rng, "evaluations", (json_int_t)st.evaluations,
                             "attempts", (json_int_t)st.attempts, "failed", (json_int_t)st.failed, "pruned",
                             (json_int_t)st.pruned, "outranked", (json_int_t)st.outranked));
        if (search_write_outputs(s, err, sizeof err)) {
            search_say("%s", err);
            return 1;
        }
        size_t pruned_here = 0, kept_here = 0, outranked_here = 0;
        for (long k = 0; k < n; k++) {
            pruned_here += s->cands[off[k]].state == ST_PRUNED;
            outranked_here += s->cands[off[k]].state == ST_OUTRANKED;
            kept_here += s->cands[off[k]].state == ST_OK;
        }
        unsigned char *front = malloc(s->ncands);
        size_t nf = front ? search_front(s, front) : 0;
        free(front);
        if (s->screen && gen > 0)
            search_say("generation %d/%ld: %ld offspring, %zu pruned, %zu outranked, %zu measured; %zu evaluations, "
                "%zu pruned, %zu failed in all; front %zu", gen, s->gens, n, pruned_here, outranked_here, kept_here,
                st.evaluations, st.pruned, st.failed, nf);
        else
            search_say("generation %d/%ld: %ld offspring, %zu pruned, %zu measured; %zu evaluations, %zu pruned, "
                "%zu failed in all; front %zu", gen, s->gens, n, pruned_here, kept_here, st.evaluations, st.pruned,
                st.failed, nf);
        draw_progress(s, 1);
    }
    if (s->finetune_argv)
        finetune(s);
    if (search_write_outputs(s, err, sizeof err)) {
        search_say("%s", err);
        return 1;
    }
    clear_progress();
    print_front(s);
    search_free(s);
    return 0;
}

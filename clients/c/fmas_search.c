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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "search.h"
#include "search_cli.h"
#include "search_eval.h"
#include "search_log.h"
#include "search_out.h"
#include "search_select.h"
#include "search_service.h"
#include "search_state.h"

/* ------------------------------------------------------------- finetune */

/* After the search: --finetune's command for each front member, whose
 * results are posted as observations of fidelity "finetuned". */
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
    search_evaluate(s, idx, n, 1);
    int unposted = 0;
    for (size_t i = 0; i < n; i++)
        unposted |= s->cands[idx[i]].ft_state == ST_OK && !s->cands[idx[i]].ft_posted;
    if (unposted)
        search_post_observations(s, s->gen_done, idx, n, 1);
    free(front);
    free(idx);
}

/* ------------------------------------------------------------ teardown */

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
        search_genome_text(s, cand_genome(s, i), g, sizeof g);
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

/* mkdir -p dir: 0, or -1 with errno set. */
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

/* ---------------------------------------------------------------- setup */

static void on_http_notice(const char *msg, void *arg)
{
    (void)arg;
    search_say("%s", msg);
}

/* Everything before the first generation but the journal: streams,
 * signals, the client, --out, the space, the buffers. 0, or -1 (said). */
static int setup(search *s, const fc_retry *retry)
{
    /* fds 0-2 open (on /dev/null if need be), so that no pipe or journal
     * lands there and gets mistaken for a standard stream. */
    for (int fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) != fd) {
            search_say("cannot open /dev/null");
            return -1;
        }
    signal(SIGPIPE, SIG_IGN);
    search_eval_signals();
    search_log_init();
    s->t_start = fc_now();
    if (fc_open(&s->http, s->server)) {
        search_say("cannot set up the HTTP client for %s", s->server);
        return -1;
    }
    char *token = NULL;
    char err[1200];
    int rc = fc_token_load(s->token_file, &token, err, sizeof err);
    if (rc == FC_OK)
        rc = fc_set_token(s->http, token);
    free(token);
    if (rc) {
        search_say("%s", rc == FC_ENOMEM ? "out of memory" : err);
        return -1;
    }
    fc_set_retry(s->http, retry);
    fc_set_notice(s->http, on_http_notice, NULL);
    if (mkdirs(s->out_dir)) {
        search_say("cannot create %s: %s", s->out_dir, strerror(errno));
        return -1;
    }
    search_load_space(s);
    s->popv = calloc((size_t)s->pop, sizeof *s->popv);
    s->pop_rank = calloc((size_t)s->pop, sizeof *s->pop_rank);
    s->pop_crowd = calloc((size_t)s->pop, sizeof *s->pop_crowd);
    /* Held by s (not by locals), so that a sanitizer build sees them as
     * reachable on the paths that exit() from deep down. A journal older
     * than --pool may lower pool below. */
    size_t want_max = (size_t)(s->pool * s->pop);
    s->off = calloc(want_max, sizeof *s->off);
    s->order = calloc(want_max, sizeof *s->order);
    s->kids = calloc(want_max * s->ng, sizeof *s->kids);
    s->parents = calloc((size_t)s->pop * s->ng, sizeof *s->parents);
    if (!s->popv || !s->pop_rank || !s->pop_crowd || !s->off || !s->order || !s->kids || !s->parents) {
        search_say("out of memory");
        return -1;
    }
    nsga2_set_init(&s->known, s->ng);
    nsga2_set_init(&s->seen, s->ng);
    nsga2_rng_seed(&s->rng, s->seed);
    return 0;
}

/* Open the journal: a new one gets the config record, an existing one is
 * replayed (*pending: the screen record of its unfinished generation, or
 * NULL). 0, or -1 (said). */
static int open_journal(search *s, json_t **pending)
{
    char err[1024];
    *pending = NULL;
    if (jr_open(&s->jr, s->journal_path, &s->records, err, sizeof err)) {
        search_say("%s", err);
        return -1;
    }
    if (json_array_size(s->records) == 0) {
        search_new_run_id(s);
        search_journal(s, search_config_record(s));
        return 0;
    }
    json_t *first = json_array_get(s->records, 0);
    if (!json_is_string(json_object_get(first, "type")) ||
        strcmp(json_string_value(json_object_get(first, "type")), "config")) {
        search_say("the journal %s does not start with a config record", s->journal_path);
        return -1;
    }
    search_take_run_id(s, first);
    /* A journal older than --pool and --budget: resume it as it was
     * made (every kept offspring evaluated), unless they were given. */
    if (s->screen && !s->pool_given && !json_object_get(first, "pool") && !json_object_get(first, "budget")) {
        s->pool = 1;
        s->budget = s->pop;
        s->init = s->pop;
    }
    if (search_config_matches(s, first, err, sizeof err) || search_replay(s, s->records, pending, err, sizeof err)) {
        search_say("%s", err);
        return -1;
    }
    gen_stats t;
    search_tally(s, &t);
    search_say("resuming from %s: %d generation%s done, %zu evaluations recorded", s->journal_path, s->gen_done + 1,
        s->gen_done == 0 ? "" : "s", t.evaluations);
    return 0;
}

/* ---------------------------------------------------------- generations */

/* The offspring of generation gen into s->kids and their cands into
 * s->off; returns how many, or -1 (said). Genomes of finished generations
 * are known (outranked ones may come again); the unfinished one's are made
 * again here, which also moves the PRNG as it moved then. */
static long make_offspring(search *s, int gen)
{
    if (search_rebuild_seen(s)) {
        search_say("out of memory");
        return -1;
    }
    for (size_t p = 0; p < s->npop; p++)
        memcpy(s->parents + p * s->ng, cand_genome(s, s->popv[p]), s->ng * sizeof *s->parents);
    size_t want = gen > 0 && s->screen ? (size_t)(s->pool * s->pop) : (size_t)s->pop;
    long n = nsga2_offspring(&s->rng, &s->genes, s->parents, s->pop_rank, s->pop_crowd, s->npop, want,
                             50 * want + 1000, &s->seen, s->kids);
    if (n < 0) {
        search_say("out of memory");
        return -1;
    }
    if ((size_t)n < want && !s->warned_exhausted) {
        search_say("generation %d: only %ld new genome%s could be made: the space is nearly exhausted", gen, n,
            n == 1 ? "" : "s");
        s->warned_exhausted = 1;
    }
    for (long k = 0; k < n; k++) {
        long ci = search_cand_get(s, s->kids + (size_t)k * s->ng, gen);
        if (ci < 0) {
            search_say("out of memory");
            return -1;
        }
        s->off[k] = (size_t)ci;
    }
    return n;
}

/* 1 when pending is the screen record of generation gen, whose offspring
 * are the n just made; 0 when it is not gen's; -1 (said) when it is gen's
 * but about other genomes. */
static int pending_fits(search *s, json_t *pending, int gen, long n)
{
    if (!pending || json_integer_value(json_object_get(pending, "gen")) != gen)
        return 0;
    json_t *results = json_object_get(pending, "results");
    int same = json_array_size(results) == (size_t)n;
    for (long k = 0; k < n && same; k++)
        same = !search_genome_from_json(s, json_object_get(json_array_get(results, (size_t)k), "genome"), s->scratch) &&
               !memcmp(s->scratch, s->kids + (size_t)k * s->ng, s->ng * sizeof *s->kids);
    if (same)
        return 1;
    search_say("the journal's generation %d does not match the genomes this search makes from its seed; "
        "was it written by another version of %s?", gen, PROG);
    return -1;
}

/* The screen record of generation gen: the journal's (*resumed = 1), or a
 * new one, applied, pre-selected and journaled. NULL (said) on failure. */
static json_t *screen_generation(search *s, int gen, long n, json_t *pending, int *resumed)
{
    int fits = pending_fits(s, pending, gen, n);
    *resumed = fits == 1;
    if (fits)
        return fits == 1 ? json_incref(pending) : NULL;
    json_t *screen = search_screen_offspring(s, gen, s->off, (size_t)n);
    if (search_apply_screen(s, screen)) {
        search_say("internal error: a screen record does not apply");
        json_decref(screen);
        return NULL;
    }
    /* Generation 0 evaluates --init of its genomes (in the order made,
     * when nothing can be predicted yet). */
    if (s->screen && (gen > 0 || s->init < s->pop))
        search_preselect(s, screen, s->off, (size_t)n, gen > 0 ? s->budget : s->init);
    search_journal(s, json_incref(screen));
    return screen;
}

/* The end of generation gen (n offspring): statistics, the "generation"
 * record, the output files, a line on stderr. 0, or -1 (said). */
static int close_generation(search *s, int gen, long n)
{
    char err[1024];
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
    search_journal(s, json_pack("{s:s, s:i, s:o, s:s, s:I, s:I, s:I, s:I, s:I}", "type", "generation", "gen", gen,
                                "population", pop, "rng", rng, "evaluations", (json_int_t)st.evaluations, "attempts",
                                (json_int_t)st.attempts, "failed", (json_int_t)st.failed, "pruned",
                                (json_int_t)st.pruned, "outranked", (json_int_t)st.outranked));
    if (search_write_outputs(s, err, sizeof err)) {
        search_say("%s", err);
        return -1;
    }
    size_t pruned_here = 0, kept_here = 0, outranked_here = 0;
    for (long k = 0; k < n; k++) {
        pruned_here += s->cands[s->off[k]].state == ST_PRUNED;
        outranked_here += s->cands[s->off[k]].state == ST_OUTRANKED;
        kept_here += s->cands[s->off[k]].state == ST_OK;
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
    search_progress(s, 1);
    return 0;
}

/* One generation (see the top of this file). *pending: the journal's
 * screen record of the unfinished generation, used up here. 0, or -1. */
static int run_generation(search *s, int gen, json_t **pending)
{
    long n = make_offspring(s, gen);
    if (n < 0)
        return -1;
    int resumed;
    json_t *screen = screen_generation(s, gen, n, *pending, &resumed);
    if (!screen)
        return -1;
    size_t norder = search_eval_order(screen, s->off, (size_t)n, s->order);
    json_decref(screen);
    *pending = NULL;
    search_evaluate(s, s->order, norder, 0);
    search_evaluator_sanity(s);
    int unposted = 0;
    for (long k = 0; k < n; k++)
        unposted |= s->cands[s->off[k]].state == ST_OK && !s->cands[s->off[k]].posted;
    if (unposted)
        search_post_observations(s, gen, s->off, (size_t)n, 0);
    /* Refit also when resuming a generation whose observations were
     * posted before the crash: the next screen must see them. */
    if (s->screen && (unposted || resumed))
        search_refit(s);
    search_survive(s, s->off, (size_t)n);
    return close_generation(s, gen, n);
}

int main(int argc, char **argv)
{
    static search S;
    search *s = &S;
    fc_retry retry;
    char err[1024];
    s->gen_done = -1;
    if (search_cli_parse(s, &retry, argc, argv))
        return 0;
    json_t *pending;
    if (setup(s, &retry) || open_journal(s, &pending))
        return 1;
    search_rank_population(s);
    for (int gen = s->gen_done + 1; gen <= s->gens; gen++)
        if (run_generation(s, gen, &pending))
            return 1;
    if (s->finetune_argv)
        finetune(s);
    if (search_write_outputs(s, err, sizeof err)) {
        search_say("%s", err);
        return 1;
    }
    search_progress_clear();
    print_front(s);
    search_free(s);
    return 0;
}

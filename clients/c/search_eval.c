/*
 * search_eval.c — real evaluations of cands: the evaluator command (or
 * --finetune's) run through the runner of evaluator.c, each attempt
 * journaled and applied, failed ones retried; the signals that stop a
 * search; the progress line (see search_eval.h).
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "search_eval.h"
#include "search_log.h"
#include "search_state.h"

/* ------------------------------------------------------------ progress */

void search_progress(search *s, int force)
{
    double now = fc_now();
    if (!search_progress_on() || (!force && search_progress_age(now) < 0.2))
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
    char bar[32], line[256];
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    fc_format(line, sizeof line, "gen %d/%d [%s] evals %zu pruned %zu failed %zu running %zu ETA %s", gen, total - 1,
              bar, t.evaluations, t.pruned, t.failed, s->running, eta);
    search_progress_show(line, now);
}

/* ---------------------------------------------------------- evaluation */

typedef struct eval_ctx {
    search *s;
    ev_runner *run;
    int finetune;
} eval_ctx;

/* Set while evaluations run: a signal then only asks the loop to stop
 * (g_stop), so that the running process groups are killed first. */
static volatile sig_atomic_t g_in_eval, g_stop;

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

void search_eval_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
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

/* Queue one attempt of cand ci. */
static void submit(eval_ctx *x, size_t ci)
{
    char *input = eval_input(x->s, ci, x->finetune);
    int rc = input ? ev_submit(x->run, (long)ci, input) : -1;
    free(input);
    if (rc) {
        search_say("out of memory");
        exit(1);
    }
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

/* One attempt finished: journal it, apply it, and retry or drop the genome
 * when it failed. */
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
    search_genome_text(s, cand_genome(s, ci), gtext, sizeof gtext);
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
    search_progress(s, 1);
}

void search_evaluate(search *s, const size_t *idx, size_t n, int finetune)
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
        search_progress(s, 0);
    }
    g_in_eval = 0;
    ev_runner_free(x.run);
}

void search_evaluator_sanity(search *s)
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

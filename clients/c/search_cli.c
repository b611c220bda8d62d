/*
 * search_cli.c — the command line of fmas-search (getopt_long) into the
 * configuration of a search (see search_cli.h).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "search_cli.h"
#include "search_log.h"
#include "search_spec.h"

static const char usage[] =
    "usage: fmas-search --space ID --objectives SPEC --evaluator 'CMD' --journal FILE --out DIR [options]\n"
    "\n"
    "  --server URL          fmasd (default $FMAS_SERVER or http://127.0.0.1:8080)\n"
    "  --token-file FILE     send the bearer token in FILE to fmasd (default $FMAS_TOKEN_FILE,\n"
    "                        else the token in $FMAS_TOKEN); evaluators inherit the environment\n"
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
    "  --launcher 'PREFIX'   prepended to every evaluator command (e.g. 'srun -G1 --exclusive');\n"
    "                        with srun each attempt is a Slurm job named fmas-PID-N, cancelled\n"
    "                        with scancel when it times out\n"
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

/* text as a finite number: 0 and *out, or -1. */
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

/* v as an integer in lo..hi; a bad one ends the process with why. */
static long number(const char *v, long lo, long hi, const char *why)
{
    long n;
    if (fc_parse_long(v, lo, hi, &n))
        bad_usage("%s", why);
    return n;
}

/* --seed: 0..2^63-1 (it goes into the journal as a JSON integer). */
static uint64_t seed_number(const char *v)
{
    char *end;
    errno = 0;
    unsigned long long seed = strtoull(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-' || seed > (unsigned long long)INT64_MAX)
        bad_usage("--seed: a number 0..2^63-1");
    return (uint64_t)seed;
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

/* Long-only options take values above any character. */
enum {
    O_SERVER = 256, O_SPACE, O_OBJECTIVES, O_CONSTRAINT, O_POP, O_GENS, O_SEED, O_EVALUATOR, O_LAUNCHER,
    O_EVAL_TIMEOUT, O_RETRIES, O_CONFIDENCE, O_NO_SCREEN, O_FINETUNE, O_JOURNAL, O_OUT, O_FIDELITY,
    O_SERVER_RETRIES, O_SERVER_TIMEOUT, O_POOL, O_BUDGET, O_INIT, O_TOKEN_FILE
};

#define ARG required_argument
static const struct option options[] = {
    {"server", ARG, NULL, O_SERVER}, {"space", ARG, NULL, O_SPACE}, {"objectives", ARG, NULL, O_OBJECTIVES},
    {"constraint", ARG, NULL, O_CONSTRAINT}, {"pop", ARG, NULL, O_POP}, {"gens", ARG, NULL, O_GENS},
    {"seed", ARG, NULL, O_SEED}, {"evaluator", ARG, NULL, O_EVALUATOR}, {"j", ARG, NULL, 'j'},
    {"jobs", ARG, NULL, 'j'}, {"launcher", ARG, NULL, O_LAUNCHER}, {"eval-timeout", ARG, NULL, O_EVAL_TIMEOUT},
    {"retries", ARG, NULL, O_RETRIES}, {"confidence", ARG, NULL, O_CONFIDENCE},
    {"no-screen", no_argument, NULL, O_NO_SCREEN}, {"finetune", ARG, NULL, O_FINETUNE},
    {"journal", ARG, NULL, O_JOURNAL}, {"out", ARG, NULL, O_OUT}, {"fidelity", ARG, NULL, O_FIDELITY},
    {"server-retries", ARG, NULL, O_SERVER_RETRIES}, {"server-timeout", ARG, NULL, O_SERVER_TIMEOUT},
    {"pool", ARG, NULL, O_POOL}, {"budget", ARG, NULL, O_BUDGET}, {"init", ARG, NULL, O_INIT},
    {"token-file", ARG, NULL, O_TOKEN_FILE},
    {"help", no_argument, NULL, 'h'}, {"h", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
#undef ARG

/* The options that are text until every option is read. */
typedef struct cli_text {
    const char *objectives, *evaluator, *launcher, *finetune;
} cli_text;

/* One option (id, value v) into s, t or retry; a bad value ends the
 * process. */
static void take_option(search *s, cli_text *t, fc_retry *retry, int id, const char *v)
{
    char err[1024];
    double d;
    switch (id) {
    case O_SERVER:
        s->server = v;
        break;
    case O_TOKEN_FILE:
        s->token_file = v;
        break;
    case O_SPACE:
        if (!fc_name_ok(v))
            bad_usage("--space: space ids are [a-z0-9._-]{1,64}");
        s->space_id = v;
        break;
    case O_OBJECTIVES:
        t->objectives = v;
        break;
    case O_CONSTRAINT:
        if (search_parse_constraint(s, v, err, sizeof err))
            bad_usage("--constraint: %s", err);
        break;
    case O_POP:
        s->pop = number(v, 2, 100000, "--pop: a number 2..100000");
        break;
    case O_GENS:
        s->gens = number(v, 0, 1000000, "--gens: a number 0..1000000");
        break;
    case O_SEED:
        s->seed = seed_number(v);
        break;
    case O_EVALUATOR:
        t->evaluator = v;
        break;
    case 'j':
        s->parallel = (int)number(v, 1, 4096, "-j: a number 1..4096");
        break;
    case O_LAUNCHER:
        t->launcher = v;
        break;
    case O_EVAL_TIMEOUT:
        if (parse_double(v, &d) || d < 0)
            bad_usage("--eval-timeout: seconds >= 0 (0: none)");
        s->eval_timeout = d;
        break;
    case O_RETRIES:
        s->retries = (int)number(v, 0, 100, "--retries: a number 0..100");
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
        t->finetune = v;
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
        retry->retries = (int)number(v, 0, 1000, "--server-retries: a number 0..1000");
        break;
    case O_SERVER_TIMEOUT:
        retry->stall_timeout_s = number(v, 1, 86400, "--server-timeout: seconds 1..86400");
        break;
    case O_POOL:
        s->pool = number(v, 1, 1000, "--pool: a number 1..1000");
        break;
    case O_BUDGET:
        s->budget = number(v, 1, 100000000, "--budget: a number 1..100000000");
        break;
    case O_INIT:
        s->init = number(v, 1, 100000, "--init: a number 1..100000");
        break;
    }
}

/* What the options leave open, once all are read: the required ones, the
 * objectives, the defaults of the screening that depend on --pop, the
 * commands. */
static void settle(search *s, const cli_text *t)
{
    char err[1024];
    if (!s->space_id || !t->objectives || !t->evaluator || !s->journal_path || !s->out_dir)
        bad_usage("--space, --objectives, --evaluator, --journal and --out are required");
    if (search_parse_objectives(s, t->objectives, err, sizeof err))
        bad_usage("--objectives: %s", err);
    if (!s->screen && (s->pool || s->budget || s->init))
        bad_usage("--pool, --budget and --init choose among screened offspring: they do not go with --no-screen");
    s->pool_given = s->pool || s->budget || s->init;
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
    s->eval_argv = split_command(t->launcher, t->evaluator, "--evaluator");
    if (t->finetune)
        s->finetune_argv = split_command(t->launcher, t->finetune, "--finetune");
}

int search_cli_parse(search *s, fc_retry *retry, int argc, char **argv)
{
    cli_text t = {NULL, NULL, NULL, NULL};
    char err[256];
    int id;
    s->server = fc_default_server();
    s->fidelity = "val-subset";
    s->pop = 40;
    s->gens = 30;
    s->seed = 1;
    s->parallel = 1;
    s->retries = 2;
    s->screen = 1;
    s->confidence = 0.95;
    *retry = (fc_retry){8, 250, 8000, 5, 300};
    /* '+': the options end at the first word that is not one. */
    opterr = 0;
    while ((id = getopt_long(argc, argv, "+:hj:", options, NULL)) != -1) {
        if (id == ':' || id == '?') {
            fc_opt_error(argv, options, id, err, sizeof err);
            bad_usage("%s", err);
        }
        if (id == 'h') {
            fputs(usage, stdout);
            return 1;
        }
        take_option(s, &t, retry, id, optarg);
    }
    if (optind < argc)
        bad_usage("unexpected argument \"%s\"", argv[optind]);
    settle(s, &t);
    return 0;
}

/*
 * search.h — the state of one fmas-search run, the one struct its parts
 * share (each part's functions are in its own header):
 *   search_log      stderr: messages and the progress line (below all)
 *   search_spec     --objectives and --constraint; costs of a genome
 *   search_state    the cands, found by genome; the journal and its replay
 *   search_out      front.json, front.csv, history.csv, hypervolume
 *   search_service  the requests to fmasd
 *   search_select   NSGA-II ranking, survival and the pre-selection
 *   search_eval     running the evaluator on cands, signals, progress
 *   search_cli      the command line into the configuration
 *   fmas_search     main: setup, the generations, teardown
 *
 * Every candidate genome the search ever made is one `cand`, in creation
 * order; the index of a cand never changes. Genomes are canonical (see
 * nsga2_canonicalize), so one network is one cand.
 */
#ifndef FMAS_SEARCH_H
#define FMAS_SEARCH_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "evaluator.h"
#include "fmas_client.h"
#include "journal.h"
#include "nsga2.h"
#include "search_log.h"

#define JOURNAL_VERSION 1
#define MAX_OBJ 8
#define MAX_CON 8

typedef enum { COST_NONE, COST_LATENCY, COST_MACS, COST_FLOPS, COST_PARAMS } cost_kind;

typedef struct objective {
    cost_kind cost;   /* COST_NONE: a metric measured by the evaluator */
    char name[65];    /* metric name, or the cost's name */
    char device[65];  /* latency only */
    int maximize;
    char label[140];  /* "miou", "latency@gap8": column names and keys */
} objective;

typedef struct constraint {
    cost_kind cost;
    char device[65];
    double max;
    char unit[16];    /* latency: "ms" or the device's own unit; else "" */
    char text[200];   /* as normalized: "latency@gap8<=40ms" */
} constraint;

typedef enum {
    ST_NEW,     /* made, not screened yet */
    ST_PRUNED,  /* screened out: not evaluated */
    ST_KEPT,    /* to be evaluated */
    ST_OK,      /* measured */
    ST_FAILED,  /* every attempt failed, or no costs: dropped for good */
    ST_OUTRANKED /* kept by the screen, but not among the generation's
                    --budget most promising: not evaluated, and free to be
                    made (and screened) again in a later generation */
} cand_state;

typedef struct cand {
    int gen;
    cand_state state;
    char reason[32];   /* the screen's reason */
    json_t *costs;     /* {"macs", "flops", "params", "latency": {dev: {"ms", ...}}} or NULL */
    json_t *predicted; /* the screen's predictions, or NULL */
    json_t *output;    /* the evaluator's object when ST_OK */
    int attempts;      /* attempts made (failed ones, plus the good one) */
    int attempts_here; /* of them (or of --finetune's), made by this process */
    int posted;
    double obj[MAX_OBJ]; /* minimized values when ST_OK */
    double viol;         /* constraint violation (0: feasible) */
    /* --finetune */
    int ft_state;        /* 0 none, ST_OK, ST_FAILED */
    int ft_attempts;
    int ft_posted;
    json_t *ft_output;
    double seconds;
} cand;

typedef struct gen_stats {
    int gen;
    size_t evaluations, attempts, failed, pruned, outranked;
} gen_stats;

typedef struct search {
    /* configuration */
    const char *token_file; /* --token-file, or NULL (then the environment) */
    const char *server, *space_id, *fidelity, *journal_path, *out_dir;
    objective obj[MAX_OBJ];
    size_t nobj, nmetric;
    constraint con[MAX_CON];
    size_t ncon;
    long pop, gens;
    uint64_t seed;
    int parallel, retries, screen;
    long pool;   /* candidates screened per generation after the first: pool * pop */
    long budget; /* evaluations per generation after the first, at most */
    long init;   /* evaluations in generation 0, at most */
    int pool_given; /* --pool, --budget or --init was on the command line */
    double eval_timeout, confidence;
    char **eval_argv, **finetune_argv;
    /* the space */
    size_t ng;
    char **gene_names;
    json_t *choices; /* array of the genes' choices arrays */
    int *nchoices, *gate, *gate_off;
    nsga2_genes genes;
    int *scratch; /* ng ints */
    int builder;
    /* run state */
    fc_client *http;
    jr_journal jr;
    nsga2_rng rng;
    cand *cands;
    size_t ncands, capcands;
    nsga2_set known; /* the genome of every cand: index i is cand i */
    nsga2_set seen;
    size_t *popv; /* population: cand indices */
    size_t npop;
    int *pop_rank;
    double *pop_crowd;
    gen_stats *stats;
    size_t nstats, capstats;
    int gen_done;  /* last finished generation, -1 before the first */
    /* buffers of the main loop, and the journal as read */
    size_t *off, *order;
    int *kids, *parents;
    json_t *records;
    /* the run's id (32 hex digits, from the journal's config record; ""
     * for a journal older than it): it names the observation batches */
    char run_id[33];
    /* progress */
    double t_start;
    int gens_here; /* generations finished by this process */
    size_t gen_todo, gen_finished, running;
    int warned_incomplete, warned_refit, warned_exhausted;
    char last_failure[300];
} search;

static inline const int *cand_genome(const search *s, size_t i)
{
    return nsga2_set_genome(&s->known, i);
}

#endif

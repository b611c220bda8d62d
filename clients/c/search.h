/*
 * search.h — the state of one fmas-search run, shared by its parts:
 * fmas_search.c (command line, generations, the service), search_out.c
 * (front.json, front.csv, history.csv, hypervolume).
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

#define PROG "fmas-search"
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
    /* progress */
    int tty;
    double t_start;
    int gens_here; /* generations finished by this process */
    size_t gen_todo, gen_finished, running;
    double last_draw;
    int warned_incomplete, warned_refit, warned_exhausted;
    char last_failure[300];
    int failure; /* a journal write failed in a callback */
} search;

static inline const int *cand_genome(const search *s, size_t i)
{
    return nsga2_set_genome(&s->known, i);
}

/* fmas_search.c: a message on stderr ("fmas-search: ..."), clearing the
 * progress line first. */
void search_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* search_spec.c: --objectives LIST and one --constraint C into s->obj and
 * s->con; 0, or -1 with a sentence in err. search_latency_devices fills
 * dev (room for MAX_OBJ + MAX_CON) with the devices that latency
 * objectives and constraints name, once each, and returns how many. */
size_t search_latency_devices(const search *s, const char **dev);
int search_parse_objectives(search *s, const char *text, char *err, size_t errsize);
int search_parse_constraint(search *s, const char *text, char *err, size_t errsize);

/* search_state.c: cands. search_cand_get makes the cand of g (generation
 * gen, ST_NEW) when there is none; both return its index, or -1 (not
 * found; out of memory). Indices stay valid, cand pointers do not survive
 * a search_cand_get. */
long search_cand_find(const search *s, const int *g);
long search_cand_get(search *s, const int *g, int gen);
/* A genome as a JSON array of indices (new reference), and back: 0, or -1
 * when a is not ng valid indices of the space. */
json_t *search_genome_json(const search *s, const int *g);
int search_genome_from_json(const search *s, json_t *a, int *g);

/* search_state.c: the journal. search_journal appends rec (consumed) or
 * ends the process with the reason. */
void search_journal(search *s, json_t *rec);
json_t *search_config_record(const search *s);
/* 0 when the journal's config record old describes this search, else -1
 * with a sentence naming the first field that differs. */
int search_config_matches(const search *s, json_t *old, char *err, size_t errsize);
void search_stats_push(search *s, const gen_stats *st);
/* Counters over every cand so far (t->gen is s->gen_done). */
void search_tally(const search *s, gen_stats *t);
/* Apply an "eval" or "screen" record to the cands; live: the record was
 * just made (an attempt of this process). 0, or -1 when it does not fit.
 * A screen record's results may carry "chosen" (the pre-selection of
 * fmas_search.c): a kept genome that was not chosen becomes ST_OUTRANKED;
 * a record without it (older journals, generation 0) evaluates every kept
 * genome. */
int search_apply_eval(search *s, json_t *rec, int live);
int search_apply_screen(search *s, json_t *rec);
/* The set of genomes offspring must not repeat: every cand made up to the
 * last finished generation, except the outranked ones. */
int search_rebuild_seen(search *s);
/* Replay records (the journal as read): cands, population, PRNG state and
 * statistics as they were after the last finished generation. The screen
 * record of the unfinished generation, if any, is left in *pending_screen
 * (borrowed from records). 0, or -1 with a sentence in err. */
int search_replay(search *s, json_t *records, json_t **pending_screen, char *err, size_t errsize);

/* search_service.c: the requests to fmasd. Each ends the process (exit 1,
 * the client's sentence, and how to resume) when the service fails. */
void search_http_fatal(search *s) __attribute__((noreturn));
/* GET the space: genes, choices, gates; refuses cost objectives on a
 * categorical space (exit 2). */
void search_load_space(search *s);
/* One screen (or estimate) request for the offspring idx[0..n) of
 * generation gen; returns the generation's "screen" record (new ref). */
json_t *search_screen_offspring(search *s, int gen, const size_t *idx, size_t n);
/* POST the unposted measurements of the cands idx[0..n) (or their
 * fine-tuned ones) as observations, then journal a "posted" record;
 * returns how many observations went. */
size_t search_post_observations(search *s, int gen, const size_t *idx, size_t n, int finetune);
/* POST .../surrogate:fit for every metric objective (failures other than
 * an unreachable service are warned about once). */
void search_refit(search *s);

/* search_out.c */
/* front[i] = 1 for the measured, feasible, non-dominated cands; returns
 * how many (front has ncands entries). */
size_t search_front(const search *s, unsigned char *front);
/* Hypervolume of the front of the cands made in generations <= gen, with
 * the normalization given (lo, hi per objective, minimized values);
 * *front_size (may be NULL) receives that front's size. */
double search_hypervolume(const search *s, int gen, const double *lo, const double *hi, size_t *front_size);
/* Write front.json, front.csv and history.csv into s->out_dir (each
 * atomically: a temporary file renamed). 0, or -1 with err. */
int search_write_outputs(const search *s, char *err, size_t errsize);
/* genome_named of cand i (new reference). */
json_t *search_named(const search *s, const int *genome);
/* The value of cost objective or constraint target from a costs object:
 * 0 and *v, or -1 when absent. unit: "ms" or "" for the ms value, else
 * the device's unit (the "total"). */
int search_cost_value(json_t *costs, cost_kind cost, const char *device, const char *unit, double *v);

#endif

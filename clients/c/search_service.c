/*
 * search_service.c — what fmas-search asks fmasd: the space, the screen (or
 * estimate) of each generation, the observations, the refits (see
 * search_service.h).
 * A request that fails after the client's retries ends the process with the
 * client's sentence: the journal keeps everything, a rerun resumes.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "search_log.h"
#include "search_service.h"
#include "search_spec.h"
#include "search_state.h"

/* ------------------------------------------------------------- service */

void search_http_fatal(search *s)
{
    search_say("%s", fc_error(s->http));
    search_say("the journal %s keeps everything done so far: run the same command again to resume", s->journal_path);
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

static json_t *devices_json(const search *s)
{
    const char *dev[MAX_OBJ + MAX_CON];
    size_t n = search_latency_devices(s, dev);
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(dev[i]));
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

/* The "screen" record of generation gen from the service's answer (NULL
 * when none was asked for) to the request about genomes; NULL, with the
 * reason in the client's error, when the answer does not fit. */
static json_t *screen_record(search *s, int gen, const char *mode, json_t *genomes, json_t *answer)
{
    size_t n = json_array_size(genomes);
    json_t *ares = answer ? json_object_get(answer, "results") : NULL;
    if (answer && (!json_is_array(ares) || json_array_size(ares) != n)) {
        fc_fail(s->http, FC_EPROTO, "the answer has no \"results\" array of %zu items", n);
        return NULL;
    }
    json_t *results = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *r = ares ? json_array_get(ares, i) : NULL;
        const char *wrong = NULL;
        if (r && !json_is_object(r))
            wrong = "is not an object";
        else if (r && json_object_get(r, "genome") && !json_equal(json_object_get(r, "genome"), json_array_get(genomes, i)))
            wrong = "is about another genome than the one asked";
        else if (!strcmp(mode, "screen") && !json_is_boolean(json_object_get(r, "keep")))
            wrong = "has no boolean \"keep\"";
        if (wrong) {
            fc_fail(s->http, FC_EPROTO, "results[%zu] %s", i, wrong);
            json_decref(results);
            return NULL;
        }
        json_t *item = json_pack("{s:O}", "genome", json_array_get(genomes, i));
        if (!strcmp(mode, "screen")) {
            json_object_set(item, "keep", json_object_get(r, "keep"));
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
    json_t *rec = json_pack("{s:s, s:i, s:s, s:o}", "type", "screen", "gen", gen, "mode", mode, "results", results);
    json_t *z = answer ? json_object_get(answer, "z") : NULL;
    if (json_is_number(z))
        json_object_set(rec, "z", z);
    return rec;
}

/* Once per search: a latency objective or constraint summed over a table
 * that lacks some of the layers is only a lower bound. */
static void warn_incomplete(search *s, json_t *rec)
{
    size_t k;
    json_t *r;
    if (s->warned_incomplete)
        return;
    json_array_foreach(json_object_get(rec, "results"), k, r) {
        const char *dev;
        json_t *lat;
        json_object_foreach(json_object_get(json_object_get(r, "costs"), "latency"), dev, lat) {
            if (!json_is_false(json_object_get(lat, "complete")))
                continue;
            search_say("warning: the %s table lacks layers of some genomes: their latency is a lower bound "
                       "(fmas-lut coverage --space %s --device %s lists what to profile)", dev, s->space_id, dev);
            s->warned_incomplete = 1;
            return;
        }
    }
}

/*
 * Screen (or estimate) the offspring idx[0..n): one request; the answer
 * becomes the generation's "screen" record. Returns the record (new ref).
 */
json_t *search_screen_offspring(search *s, int gen, const size_t *idx, size_t n)
{
    json_t *genomes = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(genomes, search_genome_json(s, cand_genome(s, idx[i])));
    const char *mode = "none";
    json_t *answer = NULL, *body = NULL;
    char path[256];
    if (n > 0 && s->screen) {
        mode = "screen";
        body = json_pack("{s:O, s:o, s:o, s:f, s:s}", "genomes", genomes, "objectives", objectives_json(s),
                         "constraints", constraints_json(s), "confidence", s->confidence, "fidelity", s->fidelity);
        snprintf(path, sizeof path, "/v1/spaces/%s/screen", s->space_id);
    } else if (n > 0 && needs_costs(s)) {
        mode = "estimate";
        body = json_pack("{s:o, s:O}", "devices", devices_json(s), "genomes", genomes);
        /* strict: the rows found only, as screening costs them, so a
         * partly known latency stays a lower bound the search warns of. */
        snprintf(path, sizeof path, "/v1/spaces/%s/estimate?strict=true", s->space_id);
    }
    int rc = body ? fc_json(s->http, "POST", path, body, &answer) : 0;
    json_t *rec = rc ? NULL : screen_record(s, gen, mode, genomes, answer);
    json_decref(body);
    json_decref(answer);
    json_decref(genomes);
    if (!rec)
        search_http_fatal(s);
    warn_incomplete(s, rec);
    return rec;
}

/*
 * The Idempotency-Key of an observation batch: the run, the generation (or
 * the fine-tuning phase) and a digest of the batch. A search killed after
 * the service stored a batch but before the journal said so posts the same
 * batch again when it resumes, and the service stores it once; a batch that
 * differs gets another key. "" for a journal without a run id.
 */
static void batch_key(const search *s, int gen, int finetune, json_t *body, char *key, size_t size)
{
    key[0] = '\0';
    char *text = s->run_id[0] ? json_dumps(body, JSON_COMPACT) : NULL;
    if (!text)
        return;
    uint64_t h = UINT64_C(0xcbf29ce484222325); /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        h = (h ^ *p) * UINT64_C(0x100000001b3);
    free(text);
    if (finetune)
        snprintf(key, size, "fmas-search/%s/finetune/%016llx", s->run_id, (unsigned long long)h);
    else
        snprintf(key, size, "fmas-search/%s/gen-%d/%016llx", s->run_id, gen, (unsigned long long)h);
}

/* Post the measured metric objectives of the cands idx as observations;
 * returns the number posted. */
size_t search_post_observations(search *s, int gen, const size_t *idx, size_t n, int finetune)
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
                                                 search_genome_json(s, cand_genome(s, idx[i])), "metric", s->obj[k].name,
                                                 "value", json_object_get(out, s->obj[k].name), "fidelity",
                                                 finetune ? "finetuned" : s->fidelity, "meta", meta));
        }
    }
    size_t count = json_array_size(obs);
    if (count) {
        char path[256], key[128];
        snprintf(path, sizeof path, "/v1/spaces/%s/observations", s->space_id);
        json_t *body = json_pack("{s:o}", "observations", obs), *answer = NULL;
        batch_key(s, gen, finetune, body, key, sizeof key);
        int rc = fc_json_keyed(s->http, "POST", path, body, key[0] ? key : NULL, &answer);
        json_decref(body);
        json_decref(answer);
        if (rc)
            search_http_fatal(s);
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
    search_journal(s, rec);
    return count;
}

/* Refit the surrogates of the metric objectives now, so that the next
 * screen uses every observation so far (the service would refit in the
 * background anyway; waiting makes a run a function of its seed). */
void search_refit(search *s)
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
            search_http_fatal(s);
        if (rc && !s->warned_refit) {
            search_say("warning: cannot refit the %s surrogate (screening uses the service's own refits): %s",
                s->obj[k].name, fc_error(s->http));
            s->warned_refit = 1;
        }
    }
}

/* ------------------------------------------------------------ the space */

void search_load_space(search *s)
{
    char path[256];
    json_t *sp = NULL;
    snprintf(path, sizeof path, "/v1/spaces/%s", s->space_id);
    if (fc_json(s->http, "GET", path, NULL, &sp))
        search_http_fatal(s);
    json_t *genes = json_object_get(sp, "genes");
    if (!json_is_array(genes) || json_array_size(genes) == 0) {
        fc_fail(s->http, FC_EPROTO, "the space has no \"genes\" array");
        json_decref(sp);
        search_http_fatal(s);
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
        search_say("out of memory");
        exit(1);
    }
    for (size_t i = 0; i < s->ng; i++) {
        json_t *g = json_array_get(genes, i);
        const char *name = json_string_value(json_object_get(g, "name"));
        json_t *ch = json_object_get(g, "choices");
        if (!name || !json_is_array(ch) || json_array_size(ch) == 0 || json_array_size(ch) > 65536) {
            fc_fail(s->http, FC_EPROTO, "genes[%zu] is not {\"name\", \"choices\": [...]}", i);
            json_decref(sp);
            search_http_fatal(s);
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
                search_say("space %s is categorical: the service has no costs (latency, macs, flops, params) for it; use "
                    "objectives the evaluator measures", s->space_id);
                exit(2);
            }
        }
}

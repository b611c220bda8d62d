/*
 * search_out.c — what fmas-search leaves in --out: front.json, front.csv
 * and history.csv, and the hypervolume that history.csv reports.
 *
 * The hypervolume of a front is computed exactly (nsga2_hypervolume) on the
 * objectives turned to minimization (max goals negated) and normalized to
 * [0, 1] by their range over every measured feasible genome so far, with
 * the reference point 1.1 in every objective. history.csv is rewritten
 * whole at the end of every generation, so all its rows share one
 * normalization, which its first line states.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "search_out.h"
#include "search_spec.h"
#include "search_state.h"

#define HV_REF 1.1

size_t search_front(const search *s, unsigned char *front)
{
    size_t m = s->nobj, n = 0, count = 0;
    size_t *idx = malloc((s->ncands ? s->ncands : 1) * sizeof *idx);
    double *obj = calloc((s->ncands ? s->ncands : 1) * m, sizeof *obj);
    unsigned char *nd = malloc(s->ncands ? s->ncands : 1);
    memset(front, 0, s->ncands);
    if (idx && obj && nd) {
        for (size_t i = 0; i < s->ncands; i++)
            if (s->cands[i].state == ST_OK && s->cands[i].viol <= 0) {
                idx[n] = i;
                memcpy(obj + n * m, s->cands[i].obj, m * sizeof *obj);
                n++;
            }
        nsga2_nondominated(obj, NULL, n, m, nd);
        for (size_t k = 0; k < n; k++)
            if (nd[k]) {
                front[idx[k]] = 1;
                count++;
            }
    }
    free(idx);
    free(obj);
    free(nd);
    return count;
}

/* Range of each minimized objective over the measured feasible cands. */
static int objective_ranges(const search *s, double *lo, double *hi)
{
    int any = 0;
    for (size_t k = 0; k < s->nobj; k++) {
        lo[k] = INFINITY;
        hi[k] = -INFINITY;
    }
    for (size_t i = 0; i < s->ncands; i++) {
        const cand *c = &s->cands[i];
        if (c->state != ST_OK || c->viol > 0)
            continue;
        any = 1;
        for (size_t k = 0; k < s->nobj; k++) {
            lo[k] = fmin(lo[k], c->obj[k]);
            hi[k] = fmax(hi[k], c->obj[k]);
        }
    }
    return any;
}

double search_hypervolume(const search *s, int gen, const double *lo, const double *hi, size_t *front_size)
{
    size_t m = s->nobj, n = 0;
    double *pts = calloc((s->ncands ? s->ncands : 1) * m, sizeof *pts);
    unsigned char *nd = malloc(s->ncands ? s->ncands : 1);
    double ref[MAX_OBJ], hv = 0.0;
    if (!pts || !nd)
        goto out;
    for (size_t i = 0; i < s->ncands; i++) {
        const cand *c = &s->cands[i];
        if (c->state != ST_OK || c->viol > 0 || c->gen > gen)
            continue;
        for (size_t k = 0; k < m; k++) {
            double span = hi[k] - lo[k];
            pts[n * m + k] = span > 0 ? (c->obj[k] - lo[k]) / span : 0.0;
        }
        n++;
    }
    /* Only the front matters; filtering first keeps the exact algorithm's
     * input small. */
    nsga2_nondominated(pts, NULL, n, m, nd);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (nd[i])
            memmove(pts + k++ * m, pts + i * m, m * sizeof *pts);
    if (front_size)
        *front_size = k;
    for (size_t o = 0; o < m; o++)
        ref[o] = HV_REF;
    hv = nsga2_hypervolume(pts, k, m, ref);
out:
    free(pts);
    free(nd);
    return hv;
}

/* ------------------------------------------------------------- writing */

/* Shortest text that reads back as the same double. */
static void fmt_double(double v, char *buf, size_t size)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

/* One CSV cell, quoted when it needs to be (RFC 4180). */
static void csv_cell(fc_buf *b, const char *text, int first)
{
    if (!first)
        fc_buf_append(b, ",", 1);
    if (!strpbrk(text, ",\"\r\n")) {
        fc_buf_append(b, text, strlen(text));
        return;
    }
    fc_buf_append(b, "\"", 1);
    for (const char *p = text; *p; p++) {
        if (*p == '"')
            fc_buf_append(b, "\"", 1);
        fc_buf_append(b, p, 1);
    }
    fc_buf_append(b, "\"", 1);
}

/* A number cell, or a string one (a categorical gene's named choice);
 * empty for anything else. */
static void csv_number(fc_buf *b, json_t *v)
{
    if (json_is_string(v)) {
        csv_cell(b, json_string_value(v), 0);
        return;
    }
    char num[40] = "";
    if (json_is_integer(v))
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v))
        fmt_double(json_real_value(v), num, sizeof num);
    csv_cell(b, num, 0);
}

/* Write data to dir/name through dir/.name.tmp and rename. */
static int write_file(const char *dir, const char *name, const char *data, size_t len, char *err, size_t errsize)
{
    char path[4096], tmp[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        snprintf(err, errsize, "cannot write %s: %s", tmp, strerror(errno));
        return -1;
    }
    int bad = fwrite(data, 1, len, f) != len;
    bad |= fflush(f) != 0;
    bad |= fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path)) {
        snprintf(err, errsize, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Front members in a stable order: by each minimized objective in turn,
 * then by creation. */
static const search *sort_ctx;
static int front_cmp(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    for (size_t k = 0; k < sort_ctx->nobj; k++) {
        double u = sort_ctx->cands[i].obj[k], v = sort_ctx->cands[j].obj[k];
        if (u != v)
            return u < v ? -1 : 1;
    }
    return (i > j) - (i < j);
}

static json_t *objective_values(const search *s, const cand *c)
{
    json_t *o = json_object();
    for (size_t k = 0; k < s->nobj; k++)
        json_object_set_new(o, s->obj[k].label, json_real(s->obj[k].maximize ? -c->obj[k] : c->obj[k]));
    return o;
}

/* The evaluator's output without the metric objectives: its extras. */
static json_t *measured_metrics(const search *s, json_t *output)
{
    json_t *m = json_object();
    for (size_t k = 0; k < s->nobj; k++)
        if (s->obj[k].cost == COST_NONE)
            json_object_set(m, s->obj[k].name, json_object_get(output, s->obj[k].name));
    return m;
}

static json_t *config_json(const search *s)
{
    json_t *objs = json_array(), *cons = json_array();
    for (size_t k = 0; k < s->nobj; k++)
        json_array_append_new(objs, json_pack("{s:s, s:s}", "name", s->obj[k].label, "goal",
                                              s->obj[k].maximize ? "max" : "min"));
    for (size_t k = 0; k < s->ncon; k++)
        json_array_append_new(cons, json_string(s->con[k].text));
    json_t *c = json_pack("{s:s, s:s, s:o, s:o, s:b, s:I, s:I, s:I}", "space", s->space_id, "fidelity", s->fidelity,
                          "objectives", objs, "constraints", cons, "screen", s->screen, "pop", (json_int_t)s->pop,
                          "gens", (json_int_t)s->gens, "seed", (json_int_t)s->seed);
    if (s->screen) {
        json_object_set_new(c, "pool", json_integer((json_int_t)s->pool));
        json_object_set_new(c, "budget", json_integer((json_int_t)s->budget));
    }
    return c;
}

/* front.json: the search, its counters and the front members[0..nf). */
static int write_front_json(const search *s, const size_t *members, size_t nf, char *err, size_t errsize)
{
    json_t *arr = json_array();
    for (size_t f = 0; f < nf; f++) {
        const cand *c = &s->cands[members[f]];
        const int *g = cand_genome(s, members[f]);
        json_t *item = json_pack("{s:o, s:o, s:o, s:o, s:O, s:O, s:i}", "genome", search_genome_json(s, g),
                                 "genome_named", search_named(s, g), "objectives", objective_values(s, c), "metrics",
                                 measured_metrics(s, c->output), "costs", c->costs ? c->costs : json_null(),
                                 "output", c->output, "generation", c->gen);
        if (c->ft_state == ST_OK) {
            json_object_set(item, "finetuned", c->ft_output);
            json_object_set_new(item, "finetuned_metrics", measured_metrics(s, c->ft_output));
        } else if (c->ft_state == ST_FAILED) {
            json_object_set_new(item, "finetuned", json_null());
        }
        json_array_append_new(arr, item);
    }
    size_t evaluations = 0, pruned = 0, failed = 0, outranked = 0;
    for (size_t i = 0; i < s->ncands; i++) {
        evaluations += s->cands[i].state == ST_OK || s->cands[i].state == ST_FAILED;
        pruned += s->cands[i].state == ST_PRUNED;
        failed += s->cands[i].state == ST_FAILED;
        outranked += s->cands[i].state == ST_OUTRANKED;
    }
    json_t *doc = json_pack("{s:o, s:i, s:I, s:I, s:I, s:I, s:o}", "search", config_json(s), "generations",
                            s->gen_done, "evaluations", (json_int_t)evaluations, "pruned", (json_int_t)pruned,
                            "outranked", (json_int_t)outranked, "failed", (json_int_t)failed, "front", arr);
    char *text = json_dumps(doc, JSON_INDENT(2));
    fc_buf out = {0};
    int rc = -1;
    if (!text || fc_buf_append(&out, text, strlen(text)) || fc_buf_append(&out, "\n", 1))
        snprintf(err, errsize, "out of memory");
    else
        rc = write_file(s->out_dir, "front.json", out.data, out.len, err, errsize);
    free(text);
    json_decref(doc);
    fc_buf_free(&out);
    return rc;
}

/* The header line of front.csv. */
static void front_csv_header(const search *s, const char **dev, size_t ndev, int any_ft, fc_buf *csv)
{
    csv_cell(csv, "genome", 1);
    for (size_t i = 0; i < s->ng; i++)
        csv_cell(csv, s->gene_names[i], 0);
    for (size_t o = 0; o < s->nobj; o++)
        csv_cell(csv, s->obj[o].label, 0);
    if (s->builder) {
        csv_cell(csv, "macs", 0);
        csv_cell(csv, "flops", 0);
        csv_cell(csv, "params", 0);
    }
    for (size_t d = 0; d < ndev; d++) {
        char col[100];
        snprintf(col, sizeof col, "latency_ms@%s", dev[d]);
        csv_cell(csv, col, 0);
    }
    if (any_ft)
        for (size_t o = 0; o < s->nobj; o++)
            if (s->obj[o].cost == COST_NONE) {
                char col[100];
                snprintf(col, sizeof col, "finetuned_%s", s->obj[o].name);
                csv_cell(csv, col, 0);
            }
    csv_cell(csv, "generation", 0);
    fc_buf_append(csv, "\n", 1);
}

/* One line of front.csv: cand ci. */
static void front_csv_row(const search *s, size_t ci, const char **dev, size_t ndev, int any_ft, fc_buf *csv)
{
    const cand *c = &s->cands[ci];
    const int *g = cand_genome(s, ci);
    fc_buf gtext = {0};
    fc_buf_append(&gtext, "[", 1);
    for (size_t i = 0; i < s->ng; i++)
        fc_buf_printf(&gtext, "%s%d", i ? "," : "", g[i]);
    fc_buf_append(&gtext, "]", 1);
    csv_cell(csv, gtext.data, 1);
    fc_buf_free(&gtext);
    for (size_t i = 0; i < s->ng; i++)
        csv_number(csv, json_array_get(json_array_get(s->choices, i), (size_t)g[i]));
    for (size_t o = 0; o < s->nobj; o++) {
        char num[40];
        fmt_double(s->obj[o].maximize ? -c->obj[o] : c->obj[o], num, sizeof num);
        csv_cell(csv, num, 0);
    }
    if (s->builder) {
        csv_number(csv, json_object_get(c->costs, "macs"));
        csv_number(csv, json_object_get(c->costs, "flops"));
        csv_number(csv, json_object_get(c->costs, "params"));
    }
    for (size_t d = 0; d < ndev; d++)
        csv_number(csv, json_object_get(json_object_get(json_object_get(c->costs, "latency"), dev[d]), "ms"));
    if (any_ft)
        for (size_t o = 0; o < s->nobj; o++)
            if (s->obj[o].cost == COST_NONE)
                csv_number(csv, c->ft_state == ST_OK ? json_object_get(c->ft_output, s->obj[o].name) : NULL);
    char gen[24];
    snprintf(gen, sizeof gen, "%d", c->gen);
    csv_cell(csv, gen, 0);
    fc_buf_append(csv, "\n", 1);
}

/* front.csv: one line per front member, with the chosen values. */
static int write_front_csv(const search *s, const size_t *members, size_t nf, char *err, size_t errsize)
{
    fc_buf csv = {0};
    const char *dev[MAX_OBJ + MAX_CON];
    size_t ndev = search_latency_devices(s, dev);
    int any_ft = 0;
    for (size_t f = 0; f < nf; f++)
        any_ft |= s->cands[members[f]].ft_state != 0;
    front_csv_header(s, dev, ndev, any_ft, &csv);
    for (size_t f = 0; f < nf; f++)
        front_csv_row(s, members[f], dev, ndev, any_ft, &csv);
    int rc = -1;
    if (!csv.data)
        snprintf(err, errsize, "out of memory");
    else
        rc = write_file(s->out_dir, "front.csv", csv.data, csv.len, err, errsize);
    fc_buf_free(&csv);
    return rc;
}

/* history.csv: one line per finished generation, under a first line that
 * states the normalization of the hypervolume. */
static int write_history(const search *s, char *err, size_t errsize)
{
    fc_buf hist = {0};
    double lo[MAX_OBJ], hi[MAX_OBJ];
    int any = objective_ranges(s, lo, hi);
    fc_buf_printf(&hist, "# hypervolume: exact, of the measured feasible non-dominated genomes; objectives "
                         "minimized (max goals negated) and normalized to [0,1] by their range over every "
                         "measured feasible genome:");
    for (size_t o = 0; o < s->nobj; o++) {
        char a[40] = "nan", b[40] = "nan";
        if (any) {
            fmt_double(s->obj[o].maximize ? -hi[o] : lo[o], a, sizeof a);
            fmt_double(s->obj[o].maximize ? -lo[o] : hi[o], b, sizeof b);
        }
        fc_buf_printf(&hist, "%s %s (%s) %s..%s", o ? ";" : "", s->obj[o].label, s->obj[o].maximize ? "max" : "min",
                      a, b);
    }
    fc_buf_printf(&hist, "; reference point (");
    for (size_t o = 0; o < s->nobj; o++)
        fc_buf_printf(&hist, "%s%g", o ? ", " : "", HV_REF);
    fc_buf_printf(&hist, ") in normalized units\n");
    fc_buf_printf(&hist, "generation,evaluations,attempts,failed,pruned,front_size,hypervolume,outranked\n");
    for (size_t i = 0; i < s->nstats; i++) {
        const gen_stats *st = &s->stats[i];
        size_t fsize = 0;
        double hv = any ? search_hypervolume(s, st->gen, lo, hi, &fsize) : 0.0;
        char num[40];
        fmt_double(hv, num, sizeof num);
        fc_buf_printf(&hist, "%d,%zu,%zu,%zu,%zu,%zu,%s,%zu\n", st->gen, st->evaluations, st->attempts, st->failed,
                      st->pruned, fsize, num, st->outranked);
    }
    int rc = -1;
    if (!hist.data)
        snprintf(err, errsize, "out of memory");
    else
        rc = write_file(s->out_dir, "history.csv", hist.data, hist.len, err, errsize);
    fc_buf_free(&hist);
    return rc;
}

int search_write_outputs(const search *s, char *err, size_t errsize)
{
    unsigned char *front = malloc(s->ncands ? s->ncands : 1);
    size_t *members = malloc((s->ncands ? s->ncands : 1) * sizeof *members);
    int rc = -1;
    if (!front || !members) {
        snprintf(err, errsize, "out of memory");
    } else {
        size_t nf = search_front(s, front), k = 0;
        for (size_t i = 0; i < s->ncands; i++)
            if (front[i])
                members[k++] = i;
        sort_ctx = s;
        qsort(members, nf, sizeof *members, front_cmp);
        rc = write_front_json(s, members, nf, err, errsize) || write_front_csv(s, members, nf, err, errsize) ||
                     write_history(s, err, errsize) ? -1 : 0;
    }
    free(front);
    free(members);
    return rc;
}

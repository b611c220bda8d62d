/*
 * space_coster.c — costing genomes by one table lookup per segment.
 *
 * For each segment that depends on genes, a row per combination of its
 * genes' choice indices (mixed radix, first gene slowest) holds the summed
 * layers, MACs, parameters and, per latency table, the summed mean latency,
 * hits and missing layers of the layers that combination emits. Segments
 * without genes are folded into one base row. Costing a genome adds the base
 * row and one row per segment: the same sums, in the same units, as
 * expanding the genome and calling lut_table_sum on each table.
 */
#include <stdlib.h>
#include <string.h>

#include "lut_predict.h"
#include "space_internal.h"

typedef struct crow {
    uint64_t macs, params, layers;
} crow;

typedef struct ccell {
    double total;
    uint32_t hits, missing;
    double pred, pred_var; /* predictions of the missing layers */
    uint32_t predicted;
} ccell;

typedef struct cterm {
    uint32_t gene;
    uint32_t mult;
} cterm;

struct lut_space_coster {
    size_t ngenes;
    uint32_t *nch; /* choices per gene, to check genomes */
    size_t k;
    uint64_t *versions;
    size_t nsegs;    /* segments with genes */
    uint32_t *first; /* nsegs + 1: each segment's terms */
    cterm *terms;
    uint32_t *row0; /* each segment's first row */
    size_t nrows;   /* base row (0) + every segment's rows */
    crow *rows;
    ccell *cells; /* nrows * k */
    size_t bytes;
};

typedef struct fill_ctx {
    const lut_table *const *tables;
    size_t k;
    crow *row;
    ccell *cells;
} fill_ctx;

static int fill_sink(Lut_space_emitter *em, const char *name,
                     const lut_key *key, const lut_cost *cost)
{
    fill_ctx *f = em->ctx;
    uint64_t hash = 0;
    (void)name;
    f->row->macs += cost->macs;
    f->row->params += cost->params;
    f->row->layers++;
    if (f->k)
        hash = lut_key_hash(key);
    for (size_t t = 0; t < f->k; t++) {
        const lut_entry *e = lut_table_find_hashed(f->tables[t], key, hash);
        if (e) {
            f->cells[t].total += e->latency.mean;
            f->cells[t].hits++;
        } else {
            double m, v;
            f->cells[t].missing++;
            if (lut_predict(lut_table_predictor(f->tables[t]), key, &m, &v)) {
                f->cells[t].pred += m;
                f->cells[t].pred_var += v;
                f->cells[t].predicted++;
            }
        }
    }
    return 0;
}

static void *take(size_t *bytes, size_t n, size_t size)
{
    *bytes += n * size;
    return calloc(n ? n : 1, size);
}

int lut_space_coster_build(const lut_space *space,
                           const lut_table *const *tables, size_t k,
                           lut_space_coster **out)
{
    lut_space_coster *c;
    size_t nsegall = Lut_space_segment_count(space), nterms = 0, row;
    int rc = 0;

    *out = NULL;
    if (!lut_space_has_builder(space) || (k && !tables))
        return LUT_EINVAL;
    for (size_t t = 0; t < k; t++)
        if (!tables[t])
            return LUT_EINVAL;
    if (!(c = calloc(1, sizeof *c)))
        return LUT_ENOMEM;
    c->bytes = sizeof *c;
    c->ngenes = lut_space_gene_count(space);
    c->k = k;
    c->nrows = 1;
    for (size_t i = 0; i < nsegall; i++) {
        const Lut_space_segment *seg = Lut_space_segment_at(space, i);
        if (seg->ngenes) {
            c->nsegs++;
            nterms += seg->ngenes;
            c->nrows += seg->combos;
        }
    }
    c->nch = take(&c->bytes, c->ngenes, sizeof *c->nch);
    c->versions = take(&c->bytes, k, sizeof *c->versions);
    c->first = take(&c->bytes, c->nsegs + 1, sizeof *c->first);
    c->terms = take(&c->bytes, nterms, sizeof *c->terms);
    c->row0 = take(&c->bytes, c->nsegs, sizeof *c->row0);
    c->rows = take(&c->bytes, c->nrows, sizeof *c->rows);
    c->cells = take(&c->bytes, c->nrows * k, sizeof *c->cells);
    if (!c->nch || !c->versions || !c->first || !c->terms || !c->row0 ||
        !c->rows || !c->cells) {
        lut_space_coster_free(c);
        return LUT_ENOMEM;
    }
    for (size_t g = 0; g < c->ngenes; g++)
        c->nch[g] = (uint32_t)lut_space_gene_at(space, g)->n_choices;
    for (size_t t = 0; t < k; t++) {
        const lut_device *dev = lut_table_device(tables[t]);
        c->versions[t] = dev ? dev->lut_version : 0;
    }

    row = 1;
    nterms = 0;
    for (size_t i = 0, s = 0; i < nsegall && rc == 0; i++) {
        const Lut_space_segment *seg = Lut_space_segment_at(space, i);
        size_t mult = 1;

        if (seg->ngenes) {
            c->first[s] = (uint32_t)nterms;
            c->row0[s] = (uint32_t)row;
            for (size_t j = seg->ngenes; j-- > 0;) {
                c->terms[nterms + j].gene = (uint32_t)seg->genes[j];
                c->terms[nterms + j].mult = (uint32_t)mult;
                mult *= c->nch[seg->genes[j]];
            }
            nterms += seg->ngenes;
            c->first[++s] = (uint32_t)nterms;
        }
        for (size_t combo = 0; combo < seg->combos && rc == 0; combo++) {
            size_t r = seg->ngenes ? row + combo : 0;
            fill_ctx f = {tables, k, &c->rows[r], &c->cells[r * k]};
            Lut_space_emitter em = {0, fill_sink, &f, NULL};
            rc = Lut_space_run_combo(space, seg, combo, &em);
        }
        if (seg->ngenes)
            row += seg->combos;
    }
    if (rc != 0) {
        lut_space_coster_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void lut_space_coster_free(lut_space_coster *c)
{
    if (!c)
        return;
    free(c->nch);
    free(c->versions);
    free(c->first);
    free(c->terms);
    free(c->row0);
    free(c->rows);
    free(c->cells);
    free(c);
}

size_t lut_space_coster_table_count(const lut_space_coster *c) { return c->k; }

uint64_t lut_space_coster_version(const lut_space_coster *c, size_t i)
{
    return i < c->k ? c->versions[i] : 0;
}

int lut_space_coster_current(const lut_space_coster *c,
                             const lut_table *const *tables, size_t k)
{
    if (k != c->k)
        return 0;
    for (size_t t = 0; t < k; t++) {
        const lut_device *dev = tables[t] ? lut_table_device(tables[t]) : NULL;
        if ((dev ? dev->lut_version : 0) != c->versions[t])
            return 0;
    }
    return 1;
}

size_t lut_space_coster_bytes(const lut_space_coster *c) { return c->bytes; }

int lut_space_cost(const lut_space_coster *c, const int *genome,
                   lut_space_totals *tot, lut_sum *latency)
{
    const size_t k = c->k;
    uint64_t macs, params, layers;

    for (size_t g = 0; g < c->ngenes; g++)
        if ((uint32_t)genome[g] >= c->nch[g])
            return LUT_EINVAL;

    macs = c->rows[0].macs;
    params = c->rows[0].params;
    layers = c->rows[0].layers;
    for (size_t t = 0; t < k; t++) {
        latency[t].total = c->cells[t].total;
        latency[t].hits = c->cells[t].hits;
        latency[t].missing = c->cells[t].missing;
        latency[t].predicted = c->cells[t].predicted;
        latency[t].predicted_total = c->cells[t].pred;
        latency[t].predicted_var = c->cells[t].pred_var;
    }
    for (size_t s = 0; s < c->nsegs; s++) {
        size_t r = c->row0[s];
        const crow *row;
        for (uint32_t j = c->first[s]; j < c->first[s + 1]; j++)
            r += (size_t)genome[c->terms[j].gene] * c->terms[j].mult;
        row = &c->rows[r];
        macs += row->macs;
        params += row->params;
        layers += row->layers;
        if (k) {
            const ccell *cell = &c->cells[r * k];
            for (size_t t = 0; t < k; t++) {
                latency[t].total += cell[t].total;
                latency[t].hits += cell[t].hits;
                latency[t].missing += cell[t].missing;
                latency[t].predicted += cell[t].predicted;
                latency[t].predicted_total += cell[t].pred;
                latency[t].predicted_var += cell[t].pred_var;
            }
        }
    }
    if (tot) {
        tot->layers = (size_t)layers;
        tot->macs = macs;
        tot->params = params;
    }
    return 0;
}

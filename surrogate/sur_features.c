/*
 * sur_features.c — genomes to feature rows: ordered genes scaled to [0, 1],
 * unordered genes one-hot, then the caller's extra numbers.
 */
#include "sur_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SUR_FEATURES_MAX_GENES 4096
#define SUR_FEATURES_MAX_CHOICES 256
#define SUR_FEATURES_MAX_EXTRA 64

typedef struct feature_gene {
    size_t n_choices;
    size_t offset;     /* first feature column of the gene */
    int unordered;
    double *scaled;    /* ordered genes: the feature of each choice */
} feature_gene;

struct sur_features {
    size_t n_genes, n_extra, dim;
    feature_gene *genes;
};

void sur_features_free(sur_features *f)
{
    if (!f)
        return;
    if (f->genes)
        for (size_t g = 0; g < f->n_genes; g++)
            free(f->genes[g].scaled);
    free(f->genes);
    free(f);
}

int sur_features_create(sur_features **out, const sur_gene *genes,
                        size_t n_genes, size_t n_extra)
{
    if (!out)
        return SUR_EINVAL;
    *out = NULL;
    if (!genes || n_genes == 0 || n_genes > SUR_FEATURES_MAX_GENES ||
        n_extra > SUR_FEATURES_MAX_EXTRA)
        return SUR_EINVAL;
    for (size_t g = 0; g < n_genes; g++) {
        if (!genes[g].choices || genes[g].n_choices == 0 ||
            genes[g].n_choices > SUR_FEATURES_MAX_CHOICES)
            return SUR_EINVAL;
        for (size_t c = 0; c < genes[g].n_choices; c++)
            if (!isfinite(genes[g].choices[c]))
                return SUR_EINVAL;
    }

    sur_features *f = calloc(1, sizeof *f);
    if (!f)
        return SUR_ENOMEM;
    f->genes = calloc(n_genes, sizeof *f->genes);
    if (!f->genes) {
        free(f);
        return SUR_ENOMEM;
    }
    f->n_genes = n_genes;
    f->n_extra = n_extra;
    size_t col = 0;
    for (size_t g = 0; g < n_genes; g++) {
        feature_gene *fg = &f->genes[g];
        const sur_gene *src = &genes[g];
        fg->n_choices = src->n_choices;
        fg->unordered = src->unordered != 0;
        fg->offset = col;
        if (fg->unordered) {
            col += src->n_choices;
            continue;
        }
        fg->scaled = malloc(src->n_choices * sizeof *fg->scaled);
        if (!fg->scaled) {
            sur_features_free(f);
            return SUR_ENOMEM;
        }
        double lo = src->choices[0], hi = src->choices[0];
        for (size_t c = 1; c < src->n_choices; c++) {
            lo = fmin(lo, src->choices[c]);
            hi = fmax(hi, src->choices[c]);
        }
        for (size_t c = 0; c < src->n_choices; c++)
            fg->scaled[c] =
                hi > lo ? (src->choices[c] - lo) / (hi - lo) : 0.0;
        col += 1;
    }
    f->dim = col + n_extra;
    *out = f;
    return SUR_OK;
}

size_t sur_features_dim(const sur_features *f)
{
    return f ? f->dim : 0;
}

size_t sur_features_genes(const sur_features *f)
{
    return f ? f->n_genes : 0;
}

size_t sur_features_extra(const sur_features *f)
{
    return f ? f->n_extra : 0;
}

int sur_features_encode(const sur_features *f, const int *genome,
                        const double *extra, double *row)
{
    if (!f || !genome || !row || (f->n_extra && !extra))
        return SUR_EINVAL;
    for (size_t g = 0; g < f->n_genes; g++) {
        const feature_gene *fg = &f->genes[g];
        int idx = genome[g];
        if (idx < 0 || (size_t)idx >= fg->n_choices)
            return SUR_EINVAL;
        if (fg->unordered) {
            for (size_t c = 0; c < fg->n_choices; c++)
                row[fg->offset + c] = 0.0;
            row[fg->offset + (size_t)idx] = 1.0;
        } else {
            row[fg->offset] = fg->scaled[idx];
        }
    }
    size_t base = f->dim - f->n_extra;
    for (size_t e = 0; e < f->n_extra; e++) {
        if (!isfinite(extra[e]))
            return SUR_EINVAL;
        row[base + e] = extra[e];
    }
    return SUR_OK;
}

int sur_features_encode_many(const sur_features *f, const int *genomes,
                             const double *extra, size_t n, double *rows)
{
    if (!f || (n && (!genomes || !rows)) || (n && f->n_extra && !extra))
        return SUR_EINVAL;
    for (size_t i = 0; i < n; i++) {
        int rc = sur_features_encode(f, genomes + i * f->n_genes,
                                     f->n_extra ? extra + i * f->n_extra : NULL,
                                     rows + i * f->dim);
        if (rc)
            return rc;
    }
    return SUR_OK;
}

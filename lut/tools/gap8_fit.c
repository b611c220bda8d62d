/*
 * gap8_fit.c — fits the constants of the GAP8 cycle model (lut/gap8_model.h)
 * to published per-layer figures, with GSL nonlinear least squares on the
 * log of the cycles (every layer weighs the same whatever its size).
 *
 *   gap8_fit CSV            the fitted constants and the error per kind
 *   gap8_fit CSV --header   the constants as lut/gap8_fitted.h
 *   gap8_fit CSV --check    refit, and fail unless the constants compiled
 *                           into the model are the fit's (relative 1e-4)
 *
 * Parameters are fitted as logarithms, so every one stays positive:
 * E and O of pw, dw, conv, pool and linear, O of other, and B (the L3
 * bytes per cycle); the L2 budget is held at the model's value.
 */
#include <gsl/gsl_errno.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_statistics_double.h>
#include <gsl/gsl_sort.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gap8_model.h"

#define MAX_ROWS 1024
#define NPARAM 12 /* E x5, O x6, B */

typedef struct sample {
    lut_gap8_layer layer;
    double cycles;
    char name[96];
} sample;

typedef struct data {
    sample s[MAX_ROWS];
    size_t n;
} data;

static int split(char *line, char **cells, int max)
{
    int n = 0;
    for (char *p = line; n < max; n++) {
        cells[n] = p;
        char *c = strchr(p, ',');
        if (!c) {
            n++;
            break;
        }
        *c = '\0';
        p = c + 1;
    }
    return n;
}

/* One CSV row (columns of gap8_calibration.csv) into a sample. */
static int row_sample(char **c, sample *s)
{
    int kind = lut_gap8_kind_from_name(c[3]);
    if (kind < 0)
        return -1;
    int64_t v[13];
    for (int i = 0; i < 13; i++)
        v[i] = strtoll(c[4 + i], NULL, 10);
    int64_t cin = v[0], cout = v[1], kh = v[2], kw = v[3], g = v[6];
    int64_t ih = v[7], iw = v[8], oh = v[9], ow = v[10];
    lut_gap8_layer *l = &s->layer;
    memset(l, 0, sizeof *l);
    l->kind = (lut_gap8_kind)kind;
    l->cin = cin;
    l->cout = cout;
    l->in_bytes = cin * ih * iw;
    l->out_bytes = cout * oh * ow;
    if (kind == LUT_GAP8_PW || kind == LUT_GAP8_DW || kind == LUT_GAP8_CONV) {
        l->weight_bytes = cout * (cin / g) * kh * kw;
        l->work = (uint64_t)(cout * (cin / g) * kh * kw * oh * ow);
    } else if (kind == LUT_GAP8_LINEAR) {
        l->weight_bytes = cin * cout;
        l->work = (uint64_t)(cin * cout);
    } else if (kind == LUT_GAP8_POOL) {
        l->work = (uint64_t)l->in_bytes;
    }
    s->cycles = (double)v[11];
    snprintf(s->name, sizeof s->name, "%s/%s", c[1], c[2]);
    return s->cycles > 0 ? 0 : -1;
}

static int load(const char *path, data *d)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return -1;
    }
    char line[2048];
    int header = 1;
    d->n = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || line[0] == '#')
            continue;
        if (header) {
            header = 0;
            continue;
        }
        char *cells[20];
        if (split(line, cells, 20) != 17 || d->n == MAX_ROWS || row_sample(cells, &d->s[d->n])) {
            fprintf(stderr, "%s: bad row: %s\n", path, line);
            fclose(f);
            return -1;
        }
        d->n++;
    }
    fclose(f);
    return 0;
}

static void to_params(const gsl_vector *x, lut_gap8_params *p)
{
    *p = lut_gap8_default_params;
    for (int k = 0; k < 5; k++) {
        p->eff[k] = exp(gsl_vector_get(x, (size_t)k));
        p->overhead[k] = exp(gsl_vector_get(x, (size_t)(5 + k)));
    }
    p->eff[LUT_GAP8_OTHER] = 1.0;
    p->overhead[LUT_GAP8_OTHER] = exp(gsl_vector_get(x, 10));
    p->l3_bytes_per_cycle = exp(gsl_vector_get(x, 11));
}

static int residuals(const gsl_vector *x, void *ctx, gsl_vector *f)
{
    const data *d = ctx;
    lut_gap8_params p;
    to_params(x, &p);
    for (size_t i = 0; i < d->n; i++)
        gsl_vector_set(f, i, log(lut_gap8_cycles(&d->s[i].layer, &p)) - log(d->s[i].cycles));
    return GSL_SUCCESS;
}

static int fit(data *d, lut_gap8_params *out)
{
    const double start[NPARAM] = {10, 3, 0.8, 2, 2, 10000, 4000, 5000, 4000, 1500, 1600, 1};
    gsl_vector *x = gsl_vector_alloc(NPARAM);
    for (size_t i = 0; i < NPARAM; i++)
        gsl_vector_set(x, i, log(start[i]));
    gsl_multifit_nlinear_fdf fdf = {.f = residuals, .df = NULL, .fvv = NULL, .n = d->n, .p = NPARAM,
                                    .params = d};
    gsl_multifit_nlinear_parameters fp = gsl_multifit_nlinear_default_parameters();
    gsl_multifit_nlinear_workspace *w =
        gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &fp, d->n, NPARAM);
    int info = 0, rc = gsl_multifit_nlinear_init(x, &fdf, w);
    if (!rc)
        rc = gsl_multifit_nlinear_driver(500, 1e-12, 1e-12, 1e-12, NULL, NULL, &info, w);
    if (!rc)
        to_params(gsl_multifit_nlinear_position(w), out);
    gsl_multifit_nlinear_free(w);
    gsl_vector_free(x);
    if (rc)
        fprintf(stderr, "gap8_fit: %s\n", gsl_strerror(rc));
    return rc;
}

/* Median and max absolute % error per kind, and the worst layers. */
static void report(const data *d, const lut_gap8_params *p)
{
    printf("| kind | layers | median abs error | max abs error |\n|---|---|---|---|\n");
    for (int k = 0; k < LUT_GAP8_KINDS; k++) {
        double e[MAX_ROWS];
        size_t m = 0;
        for (size_t i = 0; i < d->n; i++)
            if ((int)d->s[i].layer.kind == k)
                e[m++] = 100.0 * fabs(lut_gap8_cycles(&d->s[i].layer, p) / d->s[i].cycles - 1.0);
        if (m == 0)
            continue;
        gsl_sort(e, 1, m);
        printf("| %s | %zu | %.1f %% | %.1f %% |\n", lut_gap8_kind_name((lut_gap8_kind)k), m,
               gsl_stats_median_from_sorted_data(e, 1, m), e[m - 1]);
    }
    printf("\n| layer | measured | model | error |\n|---|---|---|---|\n");
    for (size_t i = 0; i < d->n; i++) {
        double c = lut_gap8_cycles(&d->s[i].layer, p);
        printf("| %s | %.0f | %.0f | %+.1f %% |\n", d->s[i].name, d->s[i].cycles, c,
               100.0 * (c / d->s[i].cycles - 1.0));
    }
}

static void print_header(const lut_gap8_params *p)
{
    printf("/* Generated by gap8_fit --header from lut/tools/gap8_calibration.csv; do not edit. */\n");
    printf("#define GAP8_FIT_EFF %.6g, %.6g, %.6g, %.6g, %.6g, %.6g\n", p->eff[0], p->eff[1], p->eff[2],
           p->eff[3], p->eff[4], p->eff[5]);
    printf("#define GAP8_FIT_OVERHEAD %.6g, %.6g, %.6g, %.6g, %.6g, %.6g\n", p->overhead[0], p->overhead[1],
           p->overhead[2], p->overhead[3], p->overhead[4], p->overhead[5]);
    printf("#define GAP8_FIT_L3_BPC %.6g\n", p->l3_bytes_per_cycle);
}

static int close_to(double a, double b)
{
    return fabs(a - b) <= 1e-4 * fabs(b);
}

static int check(const lut_gap8_params *p)
{
    const lut_gap8_params *q = &lut_gap8_default_params;
    int ok = close_to(q->l3_bytes_per_cycle, p->l3_bytes_per_cycle);
    for (int k = 0; k < LUT_GAP8_KINDS; k++)
        ok &= close_to(q->eff[k], p->eff[k]) && close_to(q->overhead[k], p->overhead[k]);
    if (!ok) {
        fprintf(stderr, "gap8_fit: the compiled constants are not the fit's; regenerate lut/gap8_fitted.h:\n");
        print_header(p);
    }
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: gap8_fit CSV [--header | --check]\n");
        return 2;
    }
    gsl_set_error_handler_off();
    static data d;
    lut_gap8_params p;
    if (load(argv[1], &d) || fit(&d, &p))
        return 1;
    if (argc > 2 && !strcmp(argv[2], "--header")) {
        print_header(&p);
        return 0;
    }
    if (argc > 2 && !strcmp(argv[2], "--check"))
        return check(&p);
    printf("E (work/cycle): pw %.4g dw %.4g conv %.4g pool %.4g linear %.4g\n", p.eff[0], p.eff[1], p.eff[2],
           p.eff[3], p.eff[4]);
    printf("O (cycles): pw %.4g dw %.4g conv %.4g pool %.4g linear %.4g other %.4g\nB (L3 bytes/cycle): %.4g\n\n",
           p.overhead[0], p.overhead[1], p.overhead[2], p.overhead[3], p.overhead[4], p.overhead[5],
           p.l3_bytes_per_cycle);
    report(&d, &p);
    return 0;
}

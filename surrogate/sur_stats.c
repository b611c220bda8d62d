/*
 * sur_stats.c — rank correlations: Kendall tau-b in O(n log n) and Spearman
 * rho with average ranks.
 */
#include "sur_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct xy_pair {
    double x, y;
} xy_pair;

static int cmp_xy(const void *pa, const void *pb)
{
    const xy_pair *a = pa, *b = pb;
    if (a->x < b->x)
        return -1;
    if (a->x > b->x)
        return 1;
    if (a->y < b->y)
        return -1;
    if (a->y > b->y)
        return 1;
    return 0;
}

/* Sort v[0..n-1] ascending (bottom-up merge sort, scratch tmp of n) and
 * return the number of strict inversions: pairs i < j with v[i] > v[j]. */
static uint64_t merge_sort_inversions(double *v, double *tmp, size_t n)
{
    uint64_t inv = 0;
    double *src = v, *dst = tmp;
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                if (src[i] <= src[j]) {
                    dst[k++] = src[i++];
                } else {
                    /* src[j] jumps ahead of every element left in the left
                     * run, each of them strictly greater. */
                    inv += (uint64_t)(mid - i);
                    dst[k++] = src[j++];
                }
            }
            while (i < mid)
                dst[k++] = src[i++];
            while (j < hi)
                dst[k++] = src[j++];
        }
        double *t = src;
        src = dst;
        dst = t;
    }
    if (src != v)
        memcpy(v, src, n * sizeof *v);
    return inv;
}

/* Sum of t(t-1)/2 over the runs of equal values of sorted v. */
static uint64_t tied_pairs(const double *v, size_t n)
{
    uint64_t s = 0;
    size_t i = 0;
    while (i < n) {
        size_t j = i + 1;
        while (j < n && v[j] == v[i])
            j++;
        uint64_t t = (uint64_t)(j - i);
        s += t * (t - 1) / 2;
        i = j;
    }
    return s;
}

int sur_kendall_tau(const double *x, const double *y, size_t n, double *tau)
{
    if (!tau || (n && (!x || !y)))
        return SUR_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (isnan(x[i]) || isnan(y[i]))
            return SUR_EINVAL;
    *tau = NAN;
    if (n < 2)
        return SUR_OK;

    xy_pair *p = malloc(n * sizeof *p);
    double *ys = malloc(n * sizeof *ys);
    double *tmp = malloc(n * sizeof *tmp);
    if (!p || !ys || !tmp) {
        free(p);
        free(ys);
        free(tmp);
        return SUR_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        p[i].x = x[i];
        p[i].y = y[i];
    }
    qsort(p, n, sizeof *p, cmp_xy);

    /* Knight (1966): with the pairs sorted by (x, y), the discordant pairs
     * are exactly the strict inversions of the y sequence. */
    uint64_t n0 = (uint64_t)n * (uint64_t)(n - 1) / 2;
    uint64_t n1 = 0, n3 = 0;
    size_t i = 0;
    while (i < n) {
        size_t j = i + 1;
        while (j < n && p[j].x == p[i].x)
            j++;
        uint64_t t = (uint64_t)(j - i);
        n1 += t * (t - 1) / 2;
        /* joint ties inside the x run (sorted by y there) */
        size_t a = i;
        while (a < j) {
            size_t b = a + 1;
            while (b < j && p[b].y == p[a].y)
                b++;
            uint64_t u = (uint64_t)(b - a);
            n3 += u * (u - 1) / 2;
            a = b;
        }
        i = j;
    }
    for (size_t k = 0; k < n; k++)
        ys[k] = p[k].y;
    uint64_t swaps = merge_sort_inversions(ys, tmp, n);
    uint64_t n2 = tied_pairs(ys, n);

    /* concordant - discordant = n0 - n1 - n2 + n3 - 2 * swaps */
    double num = (double)n0 - (double)n1 - (double)n2 + (double)n3 -
                 2.0 * (double)swaps;
    /* equal factors (no ties, or as many in x as in y) give an exact
     * denominator, so that perfect agreement is exactly 1 */
    double den = n1 == n2 ? (double)(n0 - n1)
                          : sqrt((double)(n0 - n1)) * sqrt((double)(n0 - n2));
    if (n0 > n1 && n0 > n2 && den > 0) {
        double t = num / den;
        *tau = t > 1.0 ? 1.0 : t < -1.0 ? -1.0 : t;
    }
    free(p);
    free(ys);
    free(tmp);
    return SUR_OK;
}

typedef struct value_index {
    double v;
    size_t i;
} value_index;

static int cmp_value(const void *pa, const void *pb)
{
    const value_index *a = pa, *b = pb;
    if (a->v < b->v)
        return -1;
    if (a->v > b->v)
        return 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

/* 1-based ranks of v, ties given their average rank; tmp has n slots. */
static void average_ranks(const double *v, size_t n, value_index *tmp,
                          double *rank)
{
    for (size_t i = 0; i < n; i++) {
        tmp[i].v = v[i];
        tmp[i].i = i;
    }
    qsort(tmp, n, sizeof *tmp, cmp_value);
    size_t i = 0;
    while (i < n) {
        size_t j = i + 1;
        while (j < n && tmp[j].v == tmp[i].v)
            j++;
        double r = 0.5 * (double)(i + j - 1) + 1.0;
        for (size_t k = i; k < j; k++)
            rank[tmp[k].i] = r;
        i = j;
    }
}

int sur_spearman_rho(const double *x, const double *y, size_t n, double *rho)
{
    if (!rho || (n && (!x || !y)))
        return SUR_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (isnan(x[i]) || isnan(y[i]))
            return SUR_EINVAL;
    *rho = NAN;
    if (n < 2)
        return SUR_OK;
    value_index *tmp = malloc(n * sizeof *tmp);
    double *rx = malloc(n * sizeof *rx);
    double *ry = malloc(n * sizeof *ry);
    if (!tmp || !rx || !ry) {
        free(tmp);
        free(rx);
        free(ry);
        return SUR_ENOMEM;
    }
    average_ranks(x, n, tmp, rx);
    average_ranks(y, n, tmp, ry);
    double mean = 0.5 * (double)(n + 1); /* average ranks keep this mean */
    double sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < n; i++) {
        double a = rx[i] - mean, b = ry[i] - mean;
        sxy += a * b;
        sxx += a * a;
        syy += b * b;
    }
    if (sxx > 0 && syy > 0) {
        double r = sxy / sqrt(sxx * syy);
        *rho = r > 1.0 ? 1.0 : r < -1.0 ? -1.0 : r;
    }
    free(tmp);
    free(rx);
    free(ry);
    return SUR_OK;
}

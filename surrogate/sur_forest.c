/*
 * sur_forest.c — random forest regression: FOREST_TREES trees, each grown
 * on a seeded bootstrap sample of the rows (at most FOREST_MAX_SAMPLE) until its leaves are pure or
 * hold one row, every split the best variance reduction among
 * max(1, d/3) features drawn at random. The prediction is the mean of the
 * trees; the spread of the trees is the latent variance, and the noise
 * variance is what the out-of-bag error leaves beyond that spread
 * (floored at 0). A row's repeat count weighs its squared errors and
 * leaf means. Deterministic given the seed.
 */
#include "sur_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FOREST_TREES 100
/* Rows drawn for each tree: n, or this many when n is larger (with
 * replacement, as below it), so that a tree's cost stops growing with the
 * observations while the forest as a whole still sees them all. */
#define FOREST_MAX_SAMPLE 1024
/* Distinct values of a feature up to which its best split is found from
 * per-value sums instead of a sort of the rows. */
#define FOREST_FEW 16

typedef struct forest_node {
    int feature;       /* -1: leaf */
    double threshold;  /* go left when z[feature] <= threshold */
    size_t left, right;
    double value;
} forest_node;

typedef struct forest_tree {
    forest_node *nodes;
    size_t n_nodes;
} forest_tree;

struct Sur_forest {
    size_t d, n_trees;
    forest_tree *trees;
    double noise;
};

struct keyed {
    double key;
    size_t row;
};

typedef struct grow_ctx {
    const Sur_train *t;
    uint64_t *rng;
    size_t mtry;
    forest_tree *tree;
    size_t cap;
    size_t *feat;       /* d: feature order for the draws */
    struct keyed *order; /* n: (value of the feature under test, row) */
} grow_ctx;

void Sur_forest_free(Sur_forest *f)
{
    if (!f)
        return;
    if (f->trees)
        for (size_t k = 0; k < f->n_trees; k++)
            free(f->trees[k].nodes);
    free(f->trees);
    free(f);
}

double Sur_forest_noise_var(const Sur_forest *f)
{
    return f->noise;
}

static size_t new_node(grow_ctx *c)
{
    forest_tree *tr = c->tree;
    memset(&tr->nodes[tr->n_nodes], 0, sizeof tr->nodes[0]);
    tr->nodes[tr->n_nodes].feature = -1;
    return tr->n_nodes++;
}

static int by_key(const void *a, const void *b)
{
    const struct keyed *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->row < y->row ? -1 : x->row > y->row;
}

/* Weighted SSE of the two sides of a cut: wl, sl, ql the left side's
 * weight, weighted sum and weighted sum of squares, W, S, Q the node's. */
static double cut_sse(double W, double S, double Q, double wl, double sl,
                      double ql)
{
    double wr = W - wl, sr = S - sl, qr = Q - ql;
    return (ql - sl * sl / wl) + (qr - sr * sr / wr);
}

/* Best split on a feature that takes at most FOREST_FEW distinct values
 * among rows[0..m-1] (one-hot columns and choice indices do): the rows'
 * weight, sum and sum of squares per value, the values put in order, and
 * every cut between two of them tried, without sorting the rows. W, S, Q
 * are the rows' totals. Returns 0 with the SSE after the best cut
 * (INFINITY if the feature is constant there) in *sse, or -1 when the
 * feature takes more values. */
static int best_few(const Sur_train *t, const size_t *rows, size_t m,
                    size_t j, double W, double S, double Q, double *sse,
                    double *thr)
{
    struct bucket {
        double v, w, s, q; /* value; its rows' weight, sum, sum of squares */
    } bk[FOREST_FEW];
    size_t k = 0;
    for (size_t a = 0; a < m; a++) {
        size_t i = rows[a];
        double v = t->z[i * t->d + j];
        size_t b = 0;
        while (b < k && bk[b].v != v)
            b++;
        if (b == k) {
            if (k == FOREST_FEW)
                return -1;
            bk[k++] = (struct bucket){v, 0, 0, 0};
        }
        bk[b].w += t->w[i], bk[b].s += t->w[i] * t->y[i];
        bk[b].q += t->w[i] * t->y[i] * t->y[i];
    }
    for (size_t b = 1; b < k; b++) /* insertion sort of the k buckets */
        for (size_t e = b; e > 0 && bk[e - 1].v > bk[e].v; e--) {
            struct bucket tmp = bk[e];
            bk[e] = bk[e - 1];
            bk[e - 1] = tmp;
        }
    double wl = 0, sl = 0, ql = 0;
    *sse = INFINITY;
    for (size_t b = 0; b + 1 < k; b++) {
        wl += bk[b].w, sl += bk[b].s, ql += bk[b].q;
        double e = cut_sse(W, S, Q, wl, sl, ql);
        if (e < *sse) {
            *sse = e;
            *thr = 0.5 * (bk[b].v + bk[b + 1].v);
        }
    }
    return 0;
}

/* Best split of rows[0..m-1] on feature j: the weighted SSE after the
 * split (INFINITY if none) and its threshold. */
static double best_on(grow_ctx *c, const size_t *rows, size_t m, size_t j,
                      double *thr)
{
    const Sur_train *t = c->t;
    double W = 0, S = 0, Q = 0;
    for (size_t a = 0; a < m; a++) {
        size_t i = rows[a];
        W += t->w[i], S += t->w[i] * t->y[i], Q += t->w[i] * t->y[i] * t->y[i];
    }
    double few;
    if (best_few(t, rows, m, j, W, S, Q, &few, thr) == 0)
        return few;
    for (size_t a = 0; a < m; a++) {
        c->order[a].row = rows[a];
        c->order[a].key = t->z[rows[a] * t->d + j];
    }
    qsort(c->order, m, sizeof *c->order, by_key);
    double wl = 0, sl = 0, ql = 0, best = INFINITY;
    for (size_t a = 0; a + 1 < m; a++) {
        size_t i = c->order[a].row;
        wl += t->w[i], sl += t->w[i] * t->y[i], ql += t->w[i] * t->y[i] * t->y[i];
        double v = c->order[a].key, next = c->order[a + 1].key;
        if (next <= v)
            continue;
        double sse = cut_sse(W, S, Q, wl, sl, ql);
        if (sse < best) {
            best = sse;
            *thr = 0.5 * (v + next);
        }
    }
    return best;
}

/* Grow the subtree of rows[0..m-1] (a bootstrap multiset) at node id. */
static void grow(grow_ctx *c, size_t id, size_t *rows, size_t m)
{
    const Sur_train *t = c->t;
    double W = 0, S = 0;
    for (size_t a = 0; a < m; a++)
        W += t->w[rows[a]], S += t->w[rows[a]] * t->y[rows[a]];
    c->tree->nodes[id].value = S / W;
    if (m < 2)
        return;
    /* draw mtry features (partial Fisher-Yates over c->feat) */
    double best = INFINITY, thr = 0;
    int feature = -1;
    for (size_t k = 0; k < c->mtry; k++) {
        size_t r = k + (size_t)Sur_rng_below(c->rng, t->d - k);
        size_t tmp = c->feat[k];
        c->feat[k] = c->feat[r];
        c->feat[r] = tmp;
        double th = 0, sse = best_on(c, rows, m, c->feat[k], &th);
        if (isfinite(sse) && (feature < 0 || sse < best)) {
            best = sse;
            thr = th;
            feature = (int)c->feat[k];
        }
    }
    if (feature < 0)
        return;
    size_t nl = 0;
    for (size_t a = 0; a < m; a++)
        if (t->z[rows[a] * t->d + (size_t)feature] <= thr) {
            size_t tmp = rows[nl];
            rows[nl++] = rows[a];
            rows[a] = tmp;
        }
    if (nl == 0 || nl == m)
        return;
    c->tree->nodes[id].feature = feature;
    c->tree->nodes[id].threshold = thr;
    size_t l = new_node(c), r = new_node(c);
    c->tree->nodes[id].left = l;
    c->tree->nodes[id].right = r;
    grow(c, l, rows, nl);
    grow(c, r, rows + nl, m - nl);
}

static double tree_predict(const forest_tree *tr, const double *z)
{
    size_t id = 0;
    while (tr->nodes[id].feature >= 0)
        id = z[tr->nodes[id].feature] <= tr->nodes[id].threshold
                 ? tr->nodes[id].left
                 : tr->nodes[id].right;
    return tr->nodes[id].value;
}

/* Out-of-bag error beyond the trees' spread: the noise variance. */
static double oob_noise(const Sur_forest *f, const Sur_train *t,
                        const unsigned char *inbag)
{
    double se = 0, spread = 0, wsum = 0;
    for (size_t i = 0; i < t->n; i++) {
        double s = 0, q = 0;
        size_t k = 0;
        for (size_t tr = 0; tr < f->n_trees; tr++) {
            if (inbag[tr * t->n + i])
                continue;
            double v = tree_predict(&f->trees[tr], t->z + i * t->d);
            s += v, q += v * v, k++;
        }
        if (k < 2)
            continue;
        double mean = s / (double)k, var = q / (double)k - mean * mean;
        se += t->w[i] * (t->y[i] - mean) * (t->y[i] - mean);
        spread += t->w[i] * (var > 0 ? var : 0);
        wsum += t->w[i];
    }
    double noise = wsum > 0 ? (se - spread) / wsum : 0;
    return noise > 0 ? noise : 0;
}

static int grow_all(Sur_forest *f, const Sur_train *t, uint64_t *rng,
                    unsigned char *inbag, const sur_options *opt)
{
    const size_t n = t->n, d = t->d;
    const size_t m = n < FOREST_MAX_SAMPLE ? n : FOREST_MAX_SAMPLE;
    grow_ctx c = {.t = t, .rng = rng, .mtry = d / 3 ? d / 3 : 1};
    size_t *rows = malloc(m * sizeof *rows);
    c.feat = malloc(d * sizeof *c.feat);
    c.order = malloc(m * sizeof *c.order);
    int rc = rows && c.feat && c.order ? SUR_OK : SUR_ENOMEM;
    for (size_t j = 0; !rc && j < d; j++)
        c.feat[j] = j;
    for (size_t k = 0; !rc && k < f->n_trees; k++) {
        if (Sur_cancelled(opt)) {
            rc = SUR_ECANCELED;
            break;
        }
        forest_tree *tr = &f->trees[k];
        tr->nodes = malloc(2 * m * sizeof *tr->nodes);
        if (!tr->nodes) {
            rc = SUR_ENOMEM;
            break;
        }
        for (size_t a = 0; a < m; a++) {
            rows[a] = (size_t)Sur_rng_below(rng, n);
            inbag[k * n + rows[a]] = 1;
        }
        c.tree = tr;
        grow(&c, new_node(&c), rows, m);
    }
    free(rows);
    free(c.feat);
    free(c.order);
    return rc;
}

int Sur_forest_fit(const Sur_train *t, const sur_options *opt,
                   Sur_forest **out, sur_model_info *info)
{
    *out = NULL;
    if (t->n < 2)
        return SUR_ETOOFEW;
    Sur_forest *f = calloc(1, sizeof *f);
    unsigned char *inbag = calloc(FOREST_TREES * t->n, 1);
    if (!f || !inbag) {
        free(f);
        free(inbag);
        return SUR_ENOMEM;
    }
    f->d = t->d;
    f->n_trees = FOREST_TREES;
    f->trees = calloc(FOREST_TREES, sizeof *f->trees);
    uint64_t rng = opt->seed ^ 0x666f72657374ull; /* "forest" */
    int rc = f->trees ? grow_all(f, t, &rng, inbag, opt) : SUR_ENOMEM;
    if (!rc)
        f->noise = oob_noise(f, t, inbag);
    free(inbag);
    if (rc) {
        Sur_forest_free(f);
        return rc;
    }
    info->forest_trees = f->n_trees;
    *out = f;
    return SUR_OK;
}

int Sur_forest_predict(const Sur_forest *f, const double *z, size_t n,
                       double *mean, double *var_latent)
{
    for (size_t i = 0; i < n; i++) {
        double s = 0, q = 0;
        for (size_t k = 0; k < f->n_trees; k++) {
            double v = tree_predict(&f->trees[k], z + i * f->d);
            s += v, q += v * v;
        }
        double m = s / (double)f->n_trees, var = q / (double)f->n_trees - m * m;
        mean[i] = m;
        if (var_latent)
            var_latent[i] = var > 0 ? var : 0;
    }
    return SUR_OK;
}

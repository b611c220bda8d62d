/*
 * nsga2.c — NSGA-II pieces for categorical genomes (see nsga2.h).
 */
#include "nsga2.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ PRNG */

/* The 64-bit finalizer of splitmix64 (Stafford's variant 13): every input
 * bit moves every output bit. The PRNG seeding and the genome hash share
 * it. */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t splitmix64(uint64_t *x)
{
    return mix64(*x += 0x9e3779b97f4a7c15ull);
}

void nsga2_rng_seed(nsga2_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t nsga2_rng_next(nsga2_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint32_t nsga2_rng_below(nsga2_rng *r, uint32_t n)
{
    /* Lemire's multiply-and-reject. */
    uint64_t m = (uint64_t)(uint32_t)(nsga2_rng_next(r) >> 32) * n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t threshold = (uint32_t)(-n) % n;
        while (low < threshold) {
            m = (uint64_t)(uint32_t)(nsga2_rng_next(r) >> 32) * n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

double nsga2_rng_unit(nsga2_rng *r)
{
    return (double)(nsga2_rng_next(r) >> 11) * 0x1.0p-53;
}

void nsga2_rng_save(const nsga2_rng *r, char buf[65])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 16; j++)
            buf[i * 16 + j] = hex[(r->s[i] >> (60 - 4 * j)) & 0xf];
    buf[64] = '\0';
}

int nsga2_rng_load(nsga2_rng *r, const char *text)
{
    nsga2_rng t = {{0, 0, 0, 0}};
    for (int i = 0; i < 64; i++) {
        char c = text[i];
        unsigned v;
        if (c >= '0' && c <= '9')
            v = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v = (unsigned)(c - 'a' + 10);
        else
            return -1;
        t.s[i / 16] = (t.s[i / 16] << 4) | v;
    }
    if (text[64] != '\0' || (t.s[0] | t.s[1] | t.s[2] | t.s[3]) == 0)
        return -1;
    *r = t;
    return 0;
}

/* ---------------------------------------------------- sorting, crowding */

int nsga2_dominates(const double *a, double va, const double *b, double vb, size_t m)
{
    if (va > 0 || vb > 0) {
        if (va <= 0)
            return 1;
        if (vb <= 0)
            return 0;
        return va < vb;
    }
    int better = 0;
    for (size_t k = 0; k < m; k++) {
        if (a[k] > b[k])
            return 0;
        if (a[k] < b[k])
            better = 1;
    }
    return better;
}

#define VIOL(v, i) ((v) ? (v)[i] : 0.0)

int nsga2_sort(const double *obj, const double *viol, size_t n, size_t m, int *rank)
{
    if (n == 0)
        return 0;
    /* S_p as one flat list: dominated[start[p] .. start[p] + len[p]). Two
     * passes: count, then fill, so memory is exactly the number of pairs. */
    size_t *count = calloc(n, sizeof *count); /* n_p: how many dominate p */
    size_t *len = calloc(n, sizeof *len);
    size_t *start = calloc(n + 1, sizeof *start);
    size_t *queue = calloc(n, sizeof *queue);
    if (!count || !len || !start || !queue)
        goto nomem;
    for (size_t p = 0; p < n; p++)
        for (size_t q = p + 1; q < n; q++) {
            const double *a = obj + p * m, *b = obj + q * m;
            if (nsga2_dominates(a, VIOL(viol, p), b, VIOL(viol, q), m)) {
                len[p]++;
                count[q]++;
            } else if (nsga2_dominates(b, VIOL(viol, q), a, VIOL(viol, p), m)) {
                len[q]++;
                count[p]++;
            }
        }
    for (size_t p = 0; p < n; p++)
        start[p + 1] = start[p] + len[p];
    size_t *dominated = malloc((start[n] ? start[n] : 1) * sizeof *dominated);
    if (!dominated)
        goto nomem;
    memset(len, 0, n * sizeof *len);
    for (size_t p = 0; p < n; p++)
        for (size_t q = p + 1; q < n; q++) {
            const double *a = obj + p * m, *b = obj + q * m;
            if (nsga2_dominates(a, VIOL(viol, p), b, VIOL(viol, q), m))
                dominated[start[p] + len[p]++] = q;
            else if (nsga2_dominates(b, VIOL(viol, q), a, VIOL(viol, p), m))
                dominated[start[q] + len[q]++] = p;
        }
    size_t head = 0, tail = 0;
    for (size_t p = 0; p < n; p++)
        if (count[p] == 0) {
            rank[p] = 0;
            queue[tail++] = p;
        }
    /* Breadth-first peeling: the queue holds front r, then front r + 1. */
    int fronts = 0;
    while (head < tail) {
        size_t end = tail;
        for (; head < end; head++) {
            size_t p = queue[head];
            for (size_t j = start[p]; j < start[p] + len[p]; j++) {
                size_t q = dominated[j];
                if (--count[q] == 0) {
                    rank[q] = fronts + 1;
                    queue[tail++] = q;
                }
            }
        }
        fronts++;
    }
    free(dominated);
    free(count);
    free(len);
    free(start);
    free(queue);
    return fronts;
nomem:
    free(count);
    free(len);
    free(start);
    free(queue);
    return NSGA2_ENOMEM;
}

typedef struct {
    double value;
    size_t pos;
} keyed;

static int keyed_cmp(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    if (x->value < y->value)
        return -1;
    if (x->value > y->value)
        return 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

int nsga2_crowding(const double *obj, size_t m, const size_t *idx, size_t k, double *dist)
{
    for (size_t j = 0; j < k; j++)
        dist[j] = 0.0;
    if (k == 0)
        return 0;
    keyed *order = malloc(k * sizeof *order);
    if (!order)
        return NSGA2_ENOMEM;
    for (size_t o = 0; o < m; o++) {
        for (size_t j = 0; j < k; j++) {
            order[j].value = obj[idx[j] * m + o];
            order[j].pos = j;
        }
        qsort(order, k, sizeof *order, keyed_cmp);
        dist[order[0].pos] = INFINITY;
        dist[order[k - 1].pos] = INFINITY;
        double span = order[k - 1].value - order[0].value;
        if (!(span > 0))
            continue;
        for (size_t j = 1; j + 1 < k; j++)
            if (dist[order[j].pos] != INFINITY)
                dist[order[j].pos] += (order[j + 1].value - order[j - 1].value) / span;
    }
    free(order);
    return 0;
}

/* Sort positions by descending crowding distance, ties by index. */
typedef struct {
    double crowd;
    size_t index;
} crowded;

static int crowded_cmp(const void *a, const void *b)
{
    const crowded *x = a, *y = b;
    if (x->crowd > y->crowd)
        return -1;
    if (x->crowd < y->crowd)
        return 1;
    return (x->index > y->index) - (x->index < y->index);
}

long nsga2_survive(const double *obj, const double *viol, size_t n, size_t m, size_t keep, size_t *out,
                   int *rank_out, double *crowd_out)
{
    int *rank = malloc((n ? n : 1) * sizeof *rank);
    size_t *members = malloc((n ? n : 1) * sizeof *members);
    double *dist = malloc((n ? n : 1) * sizeof *dist);
    crowded *cut = malloc((n ? n : 1) * sizeof *cut);
    long chosen = NSGA2_ENOMEM;
    int fronts;
    if (!rank || !members || !dist || !cut || (fronts = nsga2_sort(obj, viol, n, m, rank)) < 0)
        goto out;
    chosen = 0;
    for (int f = 0; f < fronts && (size_t)chosen < keep; f++) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (rank[i] == f)
                members[k++] = i;
        if (nsga2_crowding(obj, m, members, k, dist)) {
            chosen = NSGA2_ENOMEM;
            goto out;
        }
        for (size_t j = 0; j < k; j++) {
            cut[j].crowd = dist[j];
            cut[j].index = members[j];
        }
        if ((size_t)chosen + k > keep)
            qsort(cut, k, sizeof *cut, crowded_cmp);
        for (size_t j = 0; j < k && (size_t)chosen < keep; j++, chosen++) {
            out[chosen] = cut[j].index;
            if (rank_out)
                rank_out[chosen] = f;
            if (crowd_out)
                crowd_out[chosen] = cut[j].crowd;
        }
    }
out:
    free(rank);
    free(members);
    free(dist);
    free(cut);
    return chosen;
}

size_t nsga2_tournament(nsga2_rng *r, const int *rank, const double *crowd, size_t n)
{
    if (n <= 1)
        return 0;
    size_t a = nsga2_rng_below(r, (uint32_t)n);
    size_t b = nsga2_rng_below(r, (uint32_t)(n - 1));
    if (b >= a)
        b++;
    if (rank[b] < rank[a] || (rank[b] == rank[a] && crowd[b] > crowd[a]))
        return b;
    return a;
}

/* ------------------------------------------------- categorical variation */

void nsga2_crossover_uniform(nsga2_rng *r, const int *a, const int *b, int *c1, int *c2, size_t ng)
{
    uint64_t bits = 0;
    for (size_t i = 0; i < ng; i++) {
        if (i % 64 == 0)
            bits = nsga2_rng_next(r);
        int swap = (int)(bits & 1);
        bits >>= 1;
        c1[i] = swap ? b[i] : a[i];
        c2[i] = swap ? a[i] : b[i];
    }
}

/* Set gene i to a different choice, uniform among the others. */
static void flip_gene(nsga2_rng *r, int *g, size_t i, int nchoices)
{
    int v = (int)nsga2_rng_below(r, (uint32_t)(nchoices - 1));
    g[i] = v >= g[i] ? v + 1 : v;
}

size_t nsga2_mutate(nsga2_rng *r, int *g, const int *nchoices, size_t ng, double p)
{
    size_t changed = 0;
    for (size_t i = 0; i < ng; i++) {
        if (nchoices[i] < 2 || !(nsga2_rng_unit(r) < p))
            continue;
        flip_gene(r, g, i, nchoices[i]);
        changed++;
    }
    return changed;
}

/* ------------------------------------------------------------ genome set */

void nsga2_set_init(nsga2_set *s, size_t ng)
{
    memset(s, 0, sizeof *s);
    s->ng = ng;
}

void nsga2_set_free(nsga2_set *s)
{
    free(s->genomes);
    free(s->slots);
    nsga2_set_init(s, s->ng);
}

static uint64_t genome_hash(const int *g, size_t ng)
{
    uint64_t h = ng;
    for (size_t i = 0; i < ng; i++)
        h = mix64(h ^ (uint32_t)g[i]);
    return h;
}

/* The slot holding g, or the empty slot where it would go (cap > 0). */
static size_t set_slot(const nsga2_set *s, const int *g)
{
    size_t mask = s->cap - 1, i = (size_t)genome_hash(g, s->ng) & mask;
    while (s->slots[i] && memcmp(nsga2_set_genome(s, s->slots[i] - 1), g, s->ng * sizeof *g) != 0)
        i = (i + 1) & mask;
    return i;
}

long nsga2_set_find(const nsga2_set *s, const int *g)
{
    if (!s->cap)
        return -1;
    size_t slot = s->slots[set_slot(s, g)];
    return slot ? (long)(slot - 1) : -1;
}

int nsga2_set_has(const nsga2_set *s, const int *g)
{
    return nsga2_set_find(s, g) >= 0;
}

/* Room for one more genome, with the table at most half full after it. */
static int set_reserve(nsga2_set *s)
{
    if (s->count == s->room) {
        size_t room = s->room ? 2 * s->room : 64;
        int *genomes = realloc(s->genomes, room * (s->ng ? s->ng : 1) * sizeof *genomes);
        if (!genomes)
            return NSGA2_ENOMEM;
        s->genomes = genomes;
        s->room = room;
    }
    if ((s->count + 1) * 2 > s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 128;
        size_t *slots = calloc(cap, sizeof *slots);
        if (!slots)
            return NSGA2_ENOMEM;
        free(s->slots);
        s->slots = slots;
        s->cap = cap;
        for (size_t i = 0; i < s->count; i++)
            s->slots[set_slot(s, nsga2_set_genome(s, i))] = i + 1;
    }
    return 0;
}

int nsga2_set_add(nsga2_set *s, const int *g)
{
    if (nsga2_set_has(s, g))
        return 0;
    if (set_reserve(s))
        return NSGA2_ENOMEM;
    int *copy = s->genomes + s->count * s->ng;
    memcpy(copy, g, s->ng * sizeof *g);
    s->slots[set_slot(s, copy)] = ++s->count;
    return 1;
}

/* --------------------------------------------------------------- offspring */

void nsga2_canonicalize(const nsga2_genes *gs, int *g)
{
    if (!gs->gate)
        return;
    for (size_t i = 0; i < gs->ng; i++)
        if (gs->gate[i] >= 0 && g[gs->gate[i]] == gs->gate_off[i])
            g[i] = 0;
}

void nsga2_random_genome(nsga2_rng *r, const nsga2_genes *gs, int *g)
{
    for (size_t i = 0; i < gs->ng; i++)
        g[i] = (int)nsga2_rng_below(r, (uint32_t)gs->nchoices[i]);
    nsga2_canonicalize(gs, g);
}

/* A gene that can change in canonical form (not gated off), at random. */
static void force_mutation(nsga2_rng *r, const nsga2_genes *gs, int *g)
{
    size_t ng = gs->ng, start = nsga2_rng_below(r, (uint32_t)ng);
    for (size_t t = 0; t < ng; t++) {
        size_t i = (start + t) % ng;
        if (gs->nchoices[i] < 2)
            continue;
        if (gs->gate && gs->gate[i] >= 0 && g[gs->gate[i]] == gs->gate_off[i])
            continue;
        flip_gene(r, g, i, gs->nchoices[i]);
        nsga2_canonicalize(gs, g);
        return;
    }
}

long nsga2_offspring(nsga2_rng *r, const nsga2_genes *gs, const int *pop, const int *rank, const double *crowd,
                     size_t npop, size_t want, size_t max_tries, nsga2_set *seen, int *out)
{
    size_t ng = gs->ng, made = 0, tries = 0;
    double pm = gs->p_mutation > 0 ? gs->p_mutation : 1.0 / (double)(ng ? ng : 1);
    int *kids = malloc(2 * (ng ? ng : 1) * sizeof *kids);
    if (!kids)
        return NSGA2_ENOMEM;
    while (made < want && tries < max_tries) {
        int *c1 = kids, *c2 = kids + ng;
        int nkids = 2;
        if (npop == 0) {
            nsga2_random_genome(r, gs, c1);
            nkids = 1;
        } else {
            const int *a = pop + nsga2_tournament(r, rank, crowd, npop) * ng;
            const int *b = pop + nsga2_tournament(r, rank, crowd, npop) * ng;
            if (nsga2_rng_unit(r) < gs->p_crossover) {
                nsga2_crossover_uniform(r, a, b, c1, c2, ng);
            } else {
                memcpy(c1, a, ng * sizeof *c1);
                memcpy(c2, b, ng * sizeof *c2);
            }
            nsga2_mutate(r, c1, gs->nchoices, ng, pm);
            nsga2_mutate(r, c2, gs->nchoices, ng, pm);
        }
        for (int k = 0; k < nkids && made < want; k++) {
            int *c = kids + (size_t)k * ng;
            tries++;
            nsga2_canonicalize(gs, c);
            if (nsga2_set_has(seen, c))
                force_mutation(r, gs, c);
            int added = nsga2_set_add(seen, c);
            if (added < 0) {
                free(kids);
                return NSGA2_ENOMEM;
            }
            if (added)
                memcpy(out + made++ * ng, c, ng * sizeof *c);
        }
    }
    free(kids);
    return (long)made;
}

/* ------------------------------------------------------------ hypervolume */

typedef struct {
    const double *p;
    size_t axis;
} hv_point;

static int hv_cmp_axis(const void *a, const void *b)
{
    const hv_point *x = a, *y = b;
    double u = x->p[x->axis], v = y->p[y->axis];
    return (u > v) - (u < v);
}

/* Hypervolume of pts[0..n) in the first d objectives; pts are strictly
 * better than ref in every objective. Slices along objective d-1. */
static double hv_rec(hv_point *pts, size_t n, size_t d, const double *ref, hv_point *scratch)
{
    if (n == 0)
        return 0.0;
    if (d == 1) {
        double best = pts[0].p[0];
        for (size_t i = 1; i < n; i++)
            best = fmin(best, pts[i].p[0]);
        return ref[0] - best;
    }
    for (size_t i = 0; i < n; i++)
        pts[i].axis = d - 1;
    qsort(pts, n, sizeof *pts, hv_cmp_axis);
    if (d == 2) {
        /* Sorted by y ascending: sweep, each point adds the strip its x
         * improves on the best x so far. */
        double volume = 0.0, best_x = ref[0];
        for (size_t i = 0; i < n; i++) {
            double x = pts[i].p[0];
            if (x < best_x) {
                volume += (best_x - x) * (ref[1] - pts[i].p[1]);
                best_x = x;
            }
        }
        return volume;
    }
    double volume = 0.0;
    for (size_t i = 0; i < n; i++) {
        double lo = pts[i].p[d - 1];
        double hi = i + 1 < n ? pts[i + 1].p[d - 1] : ref[d - 1];
        if (!(hi > lo))
            continue;
        memcpy(scratch, pts, (i + 1) * sizeof *pts);
        volume += (hi - lo) * hv_rec(scratch, i + 1, d - 1, ref, scratch + (i + 1));
    }
    return volume;
}

double nsga2_hypervolume(const double *pts, size_t n, size_t m, const double *ref)
{
    if (m == 0)
        return 0.0;
    /* Each level of the recursion needs at most n scratch points. */
    hv_point *buf = malloc((n ? n : 1) * (m + 1) * sizeof *buf);
    if (!buf)
        return -1.0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int inside = 1;
        for (size_t o = 0; o < m && inside; o++)
            inside = pts[i * m + o] < ref[o];
        if (inside)
            buf[k++] = (hv_point){pts + i * m, 0};
    }
    double v = hv_rec(buf, k, m, ref, buf + k);
    free(buf);
    return v;
}

void nsga2_nondominated(const double *obj, const double *viol, size_t n, size_t m, unsigned char *front)
{
    for (size_t i = 0; i < n; i++) {
        front[i] = 1;
        for (size_t j = 0; j < n && front[i]; j++)
            if (j != i && nsga2_dominates(obj + j * m, VIOL(viol, j), obj + i * m, VIOL(viol, i), m))
                front[i] = 0;
    }
}

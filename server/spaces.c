/*
 * spaces.c — the registry of search spaces and their JSON forms.
 */
#include "spaces.h"

#include "models.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DOC_KIND "space"

static int fault(lut_error *err, const char *field, const char *reason)
{
    if (err) {
        size_t fl = strlen(field), rl = strlen(reason);
        if (fl >= sizeof err->field)
            fl = sizeof err->field - 1;
        if (rl >= sizeof err->reason)
            rl = sizeof err->reason - 1;
        memcpy(err->field, field, fl);
        err->field[fl] = '\0';
        memcpy(err->reason, reason, rl);
        err->reason[rl] = '\0';
    }
    return LUT_EINVAL;
}

/* A JSON pointer token for a gene name (RFC 6901 escapes ~ and /). */
static void pointer_token(const char *name, char *out, size_t size)
{
    size_t n = 0;
    for (; *name && n + 3 < size; name++) {
        if (*name == '~')
            out[n++] = '~', out[n++] = '0';
        else if (*name == '/')
            out[n++] = '~', out[n++] = '1';
        else
            out[n++] = *name;
    }
    out[n] = '\0';
}

static void genes_free(fm_gene *genes, size_t n)
{
    for (size_t i = 0; genes && i < n; i++) {
        for (size_t j = 0; genes[i].labels && j < LUT_SPACE_MAX_CHOICES && genes[i].labels[j]; j++)
            free(genes[i].labels[j]);
        free(genes[i].labels);
    }
    free(genes);
}

int fm_spaces_init(fm_spaces *reg)
{
    memset(reg, 0, sizeof *reg);
    return pthread_rwlock_init(&reg->lock, NULL);
}

static void space_free(fm_space *s)
{
    if (!s)
        return;
    fm_models_free(s->models);
    fm_costers_free(s->costers);
    fm_obs_free(s->obs);
    genes_free(s->genes, s->space ? lut_space_gene_count(s->space) : 0);
    lut_space_free(s->space);
    json_decref(s->definition);
    free(s);
}

fm_space *fm_spaces_retain(fm_space *s)
{
    atomic_fetch_add(&s->refs, 1);
    return s;
}

void fm_spaces_release(fm_space *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1)
        space_free(s);
}

void fm_spaces_destroy(fm_spaces *reg)
{
    for (size_t i = 0; i < reg->n; i++)
        fm_spaces_release(reg->items[i]);
    free(reg->items);
    pthread_rwlock_destroy(&reg->lock);
}

static int insert_locked(fm_spaces *reg, fm_space *s)
{
    for (size_t i = 0; i < reg->n; i++)
        if (!strcmp(lut_space_id(reg->items[i]->space), lut_space_id(s->space)))
            return LUT_EEXIST;
    if (reg->n == reg->cap) {
        size_t cap = reg->cap ? reg->cap * 2 : 16;
        fm_space **p = realloc(reg->items, cap * sizeof *p);
        if (!p)
            return LUT_ENOMEM;
        reg->items = p;
        reg->cap = cap;
    }
    /* Keep the registry sorted by id. */
    size_t at = reg->n;
    while (at > 0 && strcmp(lut_space_id(reg->items[at - 1]->space), lut_space_id(s->space)) > 0)
        at--;
    memmove(reg->items + at + 1, reg->items + at, (reg->n - at) * sizeof *reg->items);
    reg->items[at] = s;
    reg->n++;
    return 0;
}

static int param_int(json_t *params, const char *name, int64_t *out, lut_error *err)
{
    json_t *v = json_object_get(params, name);
    if (!v)
        return 0;
    char field[64];
    snprintf(field, sizeof field, "/params/%s", name);
    if (!json_is_integer(v))
        return fault(err, field, "must be an integer");
    *out = json_integer_value(v);
    return 0;
}

/* The members of a definition document. */
typedef struct def_fields {
    json_t *id, *desc, *builder, *params, *genes;
} def_fields;

/* Read and check the top level of a definition. */
static int def_read(json_t *def, def_fields *f, lut_error *err)
{
    memset(f, 0, sizeof *f);
    if (!json_is_object(def))
        return fault(err, "", "a space definition must be an object");
    const char *k;
    json_t *v;
    json_object_foreach(def, k, v) {
        if (!strcmp(k, "id"))
            f->id = v;
        else if (!strcmp(k, "description"))
            f->desc = v;
        else if (!strcmp(k, "builder"))
            f->builder = v;
        else if (!strcmp(k, "params"))
            f->params = v;
        else if (!strcmp(k, "genes"))
            f->genes = v;
        else {
            char field[80];
            snprintf(field, sizeof field, "/%.60s", k);
            return fault(err, field, "unknown field");
        }
    }
    if (!json_is_string(f->id))
        return fault(err, "/id", f->id ? "must be a string" : "is required");
    if (f->desc && !json_is_string(f->desc))
        return fault(err, "/description", "must be a string");
    if (f->builder && !json_is_null(f->builder) && !json_is_string(f->builder))
        return fault(err, "/builder", "must be a builder name (a string)");
    if (f->builder && json_is_null(f->builder))
        f->builder = NULL;
    if (f->params && !f->builder)
        return fault(err, "/params", "only builder spaces take params; a categorical space has genes only");
    if (!!f->builder == !!f->genes)
        return fault(err, f->builder ? "/genes" : "/builder",
                     f->builder ? "a builder space takes its genes from the builder; leave genes out"
                                : "give either a builder (with params) or genes (a categorical space)");
    return 0;
}

/* The params object of a builder space over the defaults in p. */
static int builder_params(json_t *params, lut_space_params *p, lut_error *err)
{
    if (!json_is_object(params))
        return fault(err, "/params", "must be an object");
    const char *k;
    json_t *v;
    json_object_foreach(params, k, v) {
        if (strcmp(k, "input_size") && strcmp(k, "num_classes") && strcmp(k, "output_stride")) {
            char field[80];
            snprintf(field, sizeof field, "/params/%.60s", k);
            return fault(err, field, "unknown parameter (input_size, num_classes, output_stride)");
        }
    }
    if (param_int(params, "input_size", &p->input_size, err) ||
        param_int(params, "num_classes", &p->num_classes, err) ||
        param_int(params, "output_stride", &p->output_stride, err))
        return LUT_EINVAL;
    return 0;
}

/* A builder space; its builder and params join the canonical document. */
static int builder_space(const def_fields *f, json_t *canon, lut_space **sp, lut_error *err)
{
    lut_space_params p;
    lut_space_params_default(&p);
    if (f->params && builder_params(f->params, &p, err))
        return LUT_EINVAL;
    lut_error e = {.row = -1};
    int rc = lut_space_create(sp, json_string_value(f->id), f->desc ? json_string_value(f->desc) : NULL,
                              json_string_value(f->builder), &p, &e);
    if (rc) {
        char field[80];
        if (!strcmp(e.field, "id") || !strcmp(e.field, "builder") || !strcmp(e.field, "description"))
            snprintf(field, sizeof field, "/%s", e.field);
        else
            snprintf(field, sizeof field, "/params/%s", e.field);
        return fault(err, field, e.reason);
    }
    json_object_set(canon, "builder", f->builder);
    json_object_set_new(canon, "params", json_pack("{s:I, s:I, s:I}", "input_size", (json_int_t)p.input_size,
                                                   "num_classes", (json_int_t)p.num_classes,
                                                   "output_stride", (json_int_t)p.output_stride));
    return 0;
}

/* The JSON pointer of field sub ("", "/choices/3") of gene i into err. */
static int gene_fault(lut_error *err, size_t i, const char *sub, const char *reason)
{
    char field[128];
    snprintf(field, sizeof field, "/genes/%zu%s", i, sub);
    return fault(err, field, reason);
}

static size_t digits(const char *s)
{
    size_t n = 0;
    while (s[n] >= '0' && s[n] <= '9')
        n++;
    return n;
}

/* Is s a number in JSON's grammar ("6", "-0.5", "1e3")? */
static int number_text(const char *s)
{
    size_t n;
    s += *s == '-';
    if (!(n = digits(s)) || (s[0] == '0' && n > 1))
        return 0;
    s += n;
    if (*s == '.') {
        if (!(n = digits(++s)))
            return 0;
        s += n;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        s += *s == '+' || *s == '-';
        if (!(n = digits(s)))
            return 0;
        s += n;
    }
    return *s == '\0';
}

/* Why a string choice is bad, or NULL: 1..FM_LABEL_MAX bytes, no control
 * characters, not a number in disguise. */
static const char *label_fault(json_t *c)
{
    size_t n = json_string_length(c);
    const unsigned char *s = (const unsigned char *)json_string_value(c);
    if (n == 0 || n > FM_LABEL_MAX)
        return "a string choice is 1 to 64 bytes";
    for (size_t k = 0; k < n; k++)
        if (s[k] < 0x20 || s[k] == 0x7f)
            return "a string choice has no control characters";
    if (number_text((const char *)s))
        return "a string choice is a name, not a number in quotes: give numbers as numbers";
    return NULL;
}

/* The categorical genes of a definition while they are read. */
typedef struct cat_genes {
    lut_space_gene *gs;
    double *vals;    /* LUT_SPACE_MAX_CHOICES per gene */
    json_t **labels; /* per gene: its choices when they are strings, else NULL */
    int *ordered;
} cat_genes;

/* The choices of gene i: all numbers, or all valid distinct strings. */
static int gene_choices(json_t *choices, size_t i, cat_genes *c, lut_error *err)
{
    char sub[48];
    size_t nc = json_array_size(choices);
    if (nc == 0 || nc > LUT_SPACE_MAX_CHOICES)
        return gene_fault(err, i, "/choices", "must hold 1 to 256 numbers, or 1 to 256 strings");
    int strings = json_is_string(json_array_get(choices, 0));
    double *vals = c->vals + i * LUT_SPACE_MAX_CHOICES;
    for (size_t j = 0; j < nc; j++) {
        json_t *x = json_array_get(choices, j);
        snprintf(sub, sizeof sub, "/choices/%zu", j);
        if (!json_is_number(x) && !json_is_string(x))
            return gene_fault(err, i, sub, j ? "must be a number" : "must be a number or a string");
        if ((json_is_string(x) != 0) != strings)
            return gene_fault(err, i, sub, strings ? "must be a string: the choices of a gene are all numbers or all strings"
                                                   : "must be a number: the choices of a gene are all numbers or all strings");
        const char *why = strings ? label_fault(x) : NULL;
        if (why)
            return gene_fault(err, i, sub, why);
        /* String choices are known to the space by their index. */
        vals[j] = strings ? (double)j : json_number_value(x);
        for (size_t k = 0; k < j; k++)
            if (strings ? json_equal(x, json_array_get(choices, k)) : vals[k] == vals[j])
                return gene_fault(err, i, sub, "repeats an earlier choice; the choices of a gene are distinct");
    }
    c->labels[i] = strings ? choices : NULL;
    c->gs[i].choices = vals;
    c->gs[i].n_choices = nc;
    return 0;
}

/* Gene i of a categorical definition into c. */
static int categorical_gene(json_t *g, size_t i, cat_genes *c, lut_error *err)
{
    if (!json_is_object(g))
        return gene_fault(err, i, "", "a gene is {\"name\": string, \"choices\": [numbers] or [strings], "
                                      "\"ordered\": boolean (optional)}");
    const char *k;
    json_t *v;
    json_object_foreach(g, k, v) {
        if (strcmp(k, "name") && strcmp(k, "choices") && strcmp(k, "ordered")) {
            char tok[96], sub[100];
            pointer_token(k, tok, sizeof tok);
            snprintf(sub, sizeof sub, "/%s", tok);
            return gene_fault(err, i, sub, "unknown field (name, choices, ordered)");
        }
    }
    json_t *name = json_object_get(g, "name"), *choices = json_object_get(g, "choices");
    json_t *ordered = json_object_get(g, "ordered");
    if (!json_is_string(name))
        return gene_fault(err, i, "/name", name ? "must be a string" : "is required");
    if (!json_is_array(choices))
        return gene_fault(err, i, "/choices", choices ? "must be an array" : "is required");
    if (ordered && !json_is_boolean(ordered))
        return gene_fault(err, i, "/ordered", "must be true or false");
    if (gene_choices(choices, i, c, err))
        return LUT_EINVAL;
    c->gs[i].name = json_string_value(name);
    /* Numbers are ordered unless said otherwise; strings are not. */
    c->ordered[i] = ordered ? json_is_true(ordered) : !c->labels[i];
    return 0;
}

/* The JSON pointer of a fault lut_space_create_categorical found. */
static void categorical_fault(const lut_error *e, const lut_space_gene *gs, size_t n, lut_error *err)
{
    char field[80];
    /* A repeated name is the fault of its second occurrence. */
    int dup = strstr(e->reason, "name given twice") != NULL;
    long gi = -1, seen = 0;
    for (size_t i = 0; i < n && gi < 0; i++)
        if (!strcmp(gs[i].name, e->field) && (!dup || seen++ == 1))
            gi = (long)i;
    if (!strcmp(e->field, "id") || !strcmp(e->field, "description"))
        snprintf(field, sizeof field, "/%s", e->field);
    else if (gi >= 0)
        snprintf(field, sizeof field, "/genes/%ld", gi);
    else if (!strncmp(e->field, "genes", 5))
        snprintf(field, sizeof field, "/%s", e->field);
    else
        snprintf(field, sizeof field, "/genes");
    fault(err, field, e->reason);
}

/* The surrogate features the genes make: at most FM_FEATURES_MAX. */
static int categorical_width(const cat_genes *c, size_t n, lut_error *err)
{
    size_t width = 0;
    for (size_t i = 0; i < n; i++) {
        width += c->ordered[i] ? 1 : c->gs[i].n_choices;
        if (width > FM_FEATURES_MAX)
            return gene_fault(err, i, "", "too many surrogate features: an unordered gene makes one per choice, "
                                          "an ordered one makes one, and a space at most 4096");
    }
    return 0;
}

/* The canonical genes of a categorical space, and its fm_gene entries. */
static int categorical_canon(const cat_genes *c, size_t n, json_t *canon, fm_gene **out)
{
    fm_gene *genes = calloc(n, sizeof *genes);
    json_t *garr = json_array();
    if (!genes || !garr) {
        free(genes);
        json_decref(garr);
        return LUT_ENOMEM;
    }
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        const lut_space_gene *g = &c->gs[i];
        genes[i].ordered = c->ordered[i];
        json_t *ch = json_array();
        if (c->labels[i] && !(genes[i].labels = calloc(g->n_choices + 1, sizeof *genes[i].labels)))
            rc = LUT_ENOMEM;
        for (size_t j = 0; !rc && j < g->n_choices; j++) {
            if (c->labels[i]) {
                json_t *l = json_array_get(c->labels[i], j);
                if (!(genes[i].labels[j] = strdup(json_string_value(l))))
                    rc = LUT_ENOMEM;
                json_array_append(ch, l);
            } else {
                json_array_append_new(ch, json_real(g->choices[j]));
            }
        }
        json_array_append_new(garr, json_pack("{s:s, s:o, s:b}", "name", g->name, "choices", ch, "ordered",
                                              genes[i].ordered));
    }
    json_object_set_new(canon, "genes", garr);
    if (rc) {
        genes_free(genes, n);
        return rc;
    }
    *out = genes;
    return 0;
}

/* A categorical space; its genes join the canonical document. */
static int categorical_space(const def_fields *f, json_t *canon, lut_space **sp, fm_gene **genes, lut_error *err)
{
    json_t *garr = f->genes;
    if (!json_is_array(garr) || json_array_size(garr) == 0 || json_array_size(garr) > LUT_SPACE_MAX_GENES)
        return fault(err, "/genes", "must be an array of 1 to 1024 genes {name, choices}");
    size_t n = json_array_size(garr);
    cat_genes c = {calloc(n, sizeof *c.gs), calloc(n * LUT_SPACE_MAX_CHOICES, sizeof *c.vals),
                   calloc(n, sizeof *c.labels), calloc(n, sizeof *c.ordered)};
    int rc = (c.gs && c.vals && c.labels && c.ordered) ? 0 : LUT_ENOMEM;
    for (size_t i = 0; !rc && i < n; i++)
        rc = categorical_gene(json_array_get(garr, i), i, &c, err);
    if (!rc)
        rc = categorical_width(&c, n, err);
    if (!rc) {
        lut_error e = {.row = -1};
        rc = lut_space_create_categorical(sp, json_string_value(f->id),
                                          f->desc ? json_string_value(f->desc) : NULL, c.gs, n, &e);
        if (rc == LUT_EINVAL)
            categorical_fault(&e, c.gs, n, err);
        else if (rc)
            fault(err, "", lut_strerror(rc));
    }
    if (!rc) {
        json_object_set_new(canon, "builder", json_null());
        if ((rc = categorical_canon(&c, n, canon, genes)) != 0) {
            lut_space_free(*sp);
            *sp = NULL;
        }
    }
    free(c.gs);
    free(c.vals);
    free(c.labels);
    free(c.ordered);
    return rc;
}

int fm_space_from_definition(json_t *def, fm_space **out, lut_error *err)
{
    *out = NULL;
    def_fields f;
    if (def_read(def, &f, err))
        return LUT_EINVAL;
    lut_space *sp = NULL;
    fm_gene *genes = NULL;
    json_t *canon = json_object();
    json_object_set(canon, "id", f.id);
    json_object_set_new(canon, "description", json_string(f.desc ? json_string_value(f.desc) : ""));
    int rc = f.builder ? builder_space(&f, canon, &sp, err) : categorical_space(&f, canon, &sp, &genes, err);
    if (!rc && !genes) {
        /* Builder genes: ordered numbers. */
        size_t ng = lut_space_gene_count(sp);
        if ((genes = calloc(ng ? ng : 1, sizeof *genes)) == NULL)
            rc = LUT_ENOMEM;
        for (size_t i = 0; genes && i < ng; i++)
            genes[i].ordered = 1;
    }
    fm_space *s = rc ? NULL : calloc(1, sizeof *s);
    if (!s) {
        genes_free(genes, sp ? lut_space_gene_count(sp) : 0);
        lut_space_free(sp);
        json_decref(canon);
        return rc ? rc : LUT_ENOMEM;
    }
    s->space = sp;
    s->genes = genes;
    s->definition = canon;
    atomic_init(&s->refs, 1);
    if (!(s->obs = fm_obs_new(lut_space_gene_count(sp))) || !(s->models = fm_models_new()) ||
        !(s->costers = fm_costers_new())) {
        space_free(s);
        return LUT_ENOMEM;
    }
    *out = s;
    return 0;
}

int fm_spaces_load(fm_spaces *reg, lut_store *store)
{
    const char *const *builders = lut_space_builders();
    for (size_t i = 0; builders[i]; i++) {
        json_t *def = json_pack("{s:s, s:s}", "id", builders[i], "builder", builders[i]);
        fm_space *s;
        lut_error err = {.row = -1};
        int rc = fm_space_from_definition(def, &s, &err);
        json_decref(def);
        if (rc)
            return rc;
        s->builtin = 1;
        if ((rc = fm_obs_load(s->obs, store, builders[i])) || (rc = insert_locked(reg, s))) {
            space_free(s);
            return rc;
        }
    }
    char **ids = NULL;
    size_t n = 0;
    int rc = lut_store_doc_ids(store, DOC_KIND, &ids, &n);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        void *data = NULL;
        size_t len = 0;
        if (lut_store_doc_get(store, DOC_KIND, ids[i], &data, &len) == 0) {
            json_error_t jerr;
            json_t *def = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
            fm_space *s = NULL;
            lut_error err = {.row = -1};
            int orc = 0;
            if (def && fm_space_from_definition(def, &s, &err) == 0 &&
                ((orc = fm_obs_load(s->obs, store, ids[i])) != 0 || insert_locked(reg, s) != 0)) {
                fprintf(stderr, "fmasd: stored space %s does not load: %s\n", ids[i],
                        orc ? "its observations do not decode" : "its id is taken");
                space_free(s);
            } else if (!def || !s) {
                fprintf(stderr, "fmasd: stored space %s does not load: %s\n", ids[i],
                        def ? err.reason : jerr.text);
            }
            json_decref(def);
        }
        free(data);
        free(ids[i]);
    }
    free(ids);
    return 0;
}

/* Every observation of a set, over its (metric, fidelity) pairs. */
static size_t obs_total(fm_obs_set *set)
{
    fm_obs_pair *pairs = NULL;
    size_t np = 0, total = 0;
    if (fm_obs_pairs(set, &pairs, &np) == 0)
        for (size_t j = 0; j < np; j++)
            total += fm_obs_count(set, pairs[j].metric, pairs[j].fidelity);
    free(pairs);
    return total;
}

/* Keep the old object of each space that did not change (same definition,
 * as many observations: they are only appended), with its fitted models;
 * call with reg->lock held. */
static void keep_unchanged(fm_spaces *reg, fm_spaces *fresh)
{
    for (size_t i = 0; i < fresh->n; i++) {
        fm_space *f = fresh->items[i];
        for (size_t j = 0; j < reg->n; j++) {
            fm_space *o = reg->items[j];
            if (strcmp(lut_space_id(o->space), lut_space_id(f->space)) != 0)
                continue;
            if (json_equal(o->definition, f->definition) && obs_total(o->obs) == obs_total(f->obs)) {
                fresh->items[i] = fm_spaces_retain(o);
                fm_spaces_release(f);
            }
            break;
        }
    }
}

int fm_spaces_reload(fm_spaces *reg, lut_store *store)
{
    fm_spaces fresh;
    int rc = fm_spaces_init(&fresh);
    if (rc)
        return rc;
    if ((rc = fm_spaces_load(&fresh, store))) {
        fm_spaces_destroy(&fresh);
        return rc;
    }
    pthread_rwlock_wrlock(&reg->lock);
    keep_unchanged(reg, &fresh);
    fm_space **items = reg->items;
    size_t n = reg->n, cap = reg->cap;
    reg->items = fresh.items;
    reg->n = fresh.n;
    reg->cap = fresh.cap;
    fresh.items = items;
    fresh.n = n;
    fresh.cap = cap;
    pthread_rwlock_unlock(&reg->lock);
    fm_spaces_destroy(&fresh); /* the old registry's references */
    return 0;
}

fm_space *fm_spaces_get(fm_spaces *reg, const char *id)
{
    fm_space *found = NULL;
    pthread_rwlock_rdlock(&reg->lock);
    for (size_t i = 0; i < reg->n && !found; i++)
        if (!strcmp(lut_space_id(reg->items[i]->space), id)) {
            found = reg->items[i];
            atomic_fetch_add(&found->refs, 1);
        }
    pthread_rwlock_unlock(&reg->lock);
    return found;
}

int fm_spaces_list(fm_spaces *reg, fm_space ***out, size_t *n)
{
    pthread_rwlock_rdlock(&reg->lock);
    fm_space **arr = malloc((reg->n ? reg->n : 1) * sizeof *arr);
    if (!arr) {
        pthread_rwlock_unlock(&reg->lock);
        return LUT_ENOMEM;
    }
    for (size_t i = 0; i < reg->n; i++) {
        arr[i] = reg->items[i];
        atomic_fetch_add(&arr[i]->refs, 1);
    }
    *n = reg->n;
    pthread_rwlock_unlock(&reg->lock);
    *out = arr;
    return 0;
}

int fm_spaces_add(fm_spaces *reg, lut_store *store, fm_space *s)
{
    const char *id = lut_space_id(s->space);
    pthread_rwlock_wrlock(&reg->lock);
    for (size_t i = 0; i < reg->n; i++)
        if (!strcmp(lut_space_id(reg->items[i]->space), id)) {
            pthread_rwlock_unlock(&reg->lock);
            return LUT_EEXIST;
        }
    char *doc = json_dumps(s->definition, JSON_COMPACT | JSON_SORT_KEYS);
    int rc = doc ? lut_store_doc_put(store, DOC_KIND, id, doc, strlen(doc)) : LUT_ENOMEM;
    free(doc);
    if (!rc)
        rc = insert_locked(reg, s);
    pthread_rwlock_unlock(&reg->lock);
    return rc;
}

int fm_spaces_remove(fm_spaces *reg, lut_store *store, const char *id)
{
    pthread_rwlock_wrlock(&reg->lock);
    int rc = LUT_ENOTFOUND;
    for (size_t i = 0; i < reg->n; i++) {
        if (strcmp(lut_space_id(reg->items[i]->space), id) != 0)
            continue;
        if (reg->items[i]->builtin) {
            rc = LUT_EEXIST;
            break;
        }
        /* Observations first: a crash in between leaves a space without
         * them, never stale ones under a re-created id. */
        rc = fm_obs_purge(store, id);
        if (!rc)
            rc = lut_store_doc_delete(store, DOC_KIND, id);
        if (rc)
            break;
        fm_spaces_release(reg->items[i]);
        memmove(reg->items + i, reg->items + i + 1, (reg->n - i - 1) * sizeof *reg->items);
        reg->n--;
        break;
    }
    pthread_rwlock_unlock(&reg->lock);
    return rc;
}

/* ------------------------------------------------------------- JSON */

json_t *fm_genome_json(const lut_space *space, const int *genome)
{
    json_t *a = json_array();
    for (size_t i = 0; i < lut_space_gene_count(space); i++)
        json_array_append_new(a, json_integer(genome[i]));
    return a;
}

static json_t *choice_json(double v)
{
    /* Integral choices read as integers (widths, flags), others as reals. */
    if (v == floor(v) && fabs(v) < 9007199254740992.0)
        return json_integer((json_int_t)v);
    return json_real(v);
}

json_t *fm_genome_named_json(const lut_space *space, const int *genome)
{
    json_t *o = json_object();
    for (size_t i = 0; i < lut_space_gene_count(space); i++) {
        const lut_space_gene *g = lut_space_gene_at(space, i);
        json_object_set_new(o, g->name, choice_json(g->choices[genome[i]]));
    }
    return o;
}

json_t *fm_space_json(const fm_space *s, int full)
{
    const lut_space *sp = s->space;
    char count[LUT_SPACE_COUNT_MAX];
    lut_space_count(sp, count, sizeof count);
    /* Exact as a JSON number up to 2^53, as a decimal string beyond. */
    json_t *subnets;
    if (strlen(count) < 16 || (strlen(count) == 16 && strcmp(count, "9007199254740992") <= 0))
        subnets = json_integer((json_int_t)strtoll(count, NULL, 10));
    else
        subnets = json_string(count);
    const char *builder = lut_space_builder(sp);
    json_t *o = json_pack("{s:s, s:s, s:o, s:b, s:I, s:o}", "id", lut_space_id(sp),
                          "description", lut_space_description(sp),
                          "builder", builder[0] ? json_string(builder) : json_null(),
                          "builtin", s->builtin, "gene_count", (json_int_t)lut_space_gene_count(sp),
                          "subnets", subnets);
    if (lut_space_has_builder(sp)) {
        const lut_space_params *p = lut_space_get_params(sp);
        json_object_set_new(o, "params", json_pack("{s:I, s:I, s:I}", "input_size", (json_int_t)p->input_size,
                                                   "num_classes", (json_int_t)p->num_classes,
                                                   "output_stride", (json_int_t)p->output_stride));
    } else {
        json_object_set_new(o, "params", json_null());
    }
    if (!full)
        return o;
    size_t ng = lut_space_gene_count(sp);
    json_t *genes = json_array();
    for (size_t i = 0; i < ng; i++) {
        const lut_space_gene *g = lut_space_gene_at(sp, i);
        json_t *ch = json_array();
        const fm_gene *fg = &s->genes[i];
        for (size_t j = 0; j < g->n_choices; j++)
            json_array_append_new(ch, fg->labels ? json_string(fg->labels[j]) : choice_json(g->choices[j]));
        json_t *gj = json_pack("{s:s, s:o, s:b}", "name", g->name, "choices", ch, "ordered", fg->ordered);
        long gate = lut_space_gene_gate(sp, i);
        if (gate >= 0)
            json_object_set_new(gj, "gated_by", json_string(lut_space_gene_at(sp, (size_t)gate)->name));
        json_array_append_new(genes, gj);
    }
    int *gmax = calloc(ng ? ng : 1, sizeof *gmax), *gmin = calloc(ng ? ng : 1, sizeof *gmin);
    if (gmax && gmin) {
        lut_space_genome_max(sp, gmax);
        lut_space_genome_min(sp, gmin);
        json_object_set_new(o, "genomes", json_pack("{s:o, s:o}", "max", fm_genome_json(sp, gmax),
                                                    "min", fm_genome_json(sp, gmin)));
    }
    free(gmax);
    free(gmin);
    json_object_set_new(o, "genes", genes);
    if (lut_space_has_builder(sp))
        json_object_set_new(o, "max_layers", json_integer((json_int_t)lut_space_max_layers(sp)));
    return o;
}

/* A genome of choice indices (the array form). */
static int genome_indices(const lut_space *space, json_t *v, int *genome, lut_error *err)
{
    size_t ng = lut_space_gene_count(space), n = json_array_size(v);
    lut_error e = {.row = -1};
    int64_t *idx = malloc((n ? n : 1) * sizeof *idx);
    if (!idx)
        return LUT_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *x = json_array_get(v, i);
        if (!json_is_integer(x)) {
            char field[32];
            snprintf(field, sizeof field, "/%zu", i);
            char reason[160];
            snprintf(reason, sizeof reason, "gene %s: a choice index must be an integer",
                     i < ng ? lut_space_gene_at(space, i)->name : "(beyond the last gene)");
            free(idx);
            return fault(err, field, reason);
        }
        idx[i] = json_integer_value(x);
    }
    int rc = lut_space_genome_from_indices(space, idx, n, genome, &e);
    free(idx);
    if (rc == LUT_EINVAL) {
        long gi = lut_space_gene_index(space, e.field);
        char field[32], reason[256];
        if (gi >= 0)
            snprintf(field, sizeof field, "/%ld", gi);
        else
            field[0] = '\0';
        if (gi >= 0)
            snprintf(reason, sizeof reason, "gene %.60s: %.180s", e.field, e.reason);
        else
            snprintf(reason, sizeof reason, "%.200s", e.reason);
        return fault(err, field, reason);
    }
    return rc;
}

/* The string choices of a gene as text: ["a", "b", ...], cut short with
 * ", ..." where they do not fit in size. */
static void labels_text(char *const *labels, char *out, size_t size)
{
    size_t n = (size_t)snprintf(out, size, "[");
    for (size_t j = 0; labels[j] && n < size; j++) {
        size_t need = strlen(labels[j]) + 4 + (labels[j + 1] ? 6 : 1);
        if (n + need >= size) {
            snprintf(out + n, size - n, "...]");
            return;
        }
        n += (size_t)snprintf(out + n, size - n, "%s\"%s\"", j ? ", " : "", labels[j]);
    }
    if (n < size)
        snprintf(out + n, size - n, "]");
}

/* The index of the string value x of a gene with string choices, as the
 * library's value of that choice; a fault at /k naming the choices else. */
static int label_value(const fm_gene *g, const char *k, json_t *x, double *val, lut_error *err)
{
    char tok[96], field[100], list[96], reason[256];
    if (json_is_string(x))
        for (size_t j = 0; g->labels[j]; j++)
            if (!strcmp(g->labels[j], json_string_value(x))) {
                *val = (double)j;
                return 0;
            }
    pointer_token(k, tok, sizeof tok);
    snprintf(field, sizeof field, "/%s", tok);
    labels_text(g->labels, list, sizeof list);
    if (json_is_string(x))
        snprintf(reason, sizeof reason, "gene %.31s: value \"%.24s\" is not among the choices %s", k,
                 json_string_value(x), list);
    else
        snprintf(reason, sizeof reason, "gene %.31s: the chosen value must be one of the strings %s", k, list);
    return fault(err, field, reason);
}

/* A genome of gene name -> chosen value (the object form). */
static int genome_values(const lut_space *space, const fm_gene *genes, json_t *v, int *genome, lut_error *err)
{
    size_t n = json_object_size(v);
    const char **names = malloc((n ? n : 1) * sizeof *names);
    double *vals = malloc((n ? n : 1) * sizeof *vals);
    if (!names || !vals) {
        free(names);
        free(vals);
        return LUT_ENOMEM;
    }
    size_t i = 0;
    const char *k;
    json_t *x;
    int rc = 0;
    json_object_foreach(v, k, x) {
        long gi = lut_space_gene_index(space, k);
        names[i] = k;
        if (genes && gi >= 0 && genes[gi].labels) {
            if ((rc = label_value(&genes[gi], k, x, &vals[i++], err)) != 0)
                break;
            continue;
        }
        if (!json_is_number(x)) {
            char tok[96], field[100], reason[160];
            pointer_token(k, tok, sizeof tok);
            snprintf(field, sizeof field, "/%s", tok);
            snprintf(reason, sizeof reason, "gene %.60s: the chosen value must be a number", k);
            rc = fault(err, field, reason);
            break;
        }
        vals[i++] = json_number_value(x);
    }
    if (!rc) {
        lut_error e = {.row = -1};
        rc = lut_space_genome_from_values(space, names, vals, n, genome, &e);
        if (rc == LUT_EINVAL) {
            char tok[96], field[100], reason[256];
            pointer_token(e.field, tok, sizeof tok);
            snprintf(field, sizeof field, "%s%s", strcmp(e.field, "length") ? "/" : "",
                     strcmp(e.field, "length") ? tok : "");
            snprintf(reason, sizeof reason, "gene %.60s: %.180s", e.field, e.reason);
            fault(err, field, reason);
        }
    }
    free(names);
    free(vals);
    return rc;
}

static int genome_parse(const lut_space *space, const fm_gene *genes, json_t *v, int *genome, lut_error *err)
{
    if (json_is_array(v))
        return genome_indices(space, v, genome, err);
    if (json_is_object(v))
        return genome_values(space, genes, v, genome, err);
    return fault(err, "", "a genome is an array of choice indices or an object gene name → value");
}

int fm_genome_from_json(const lut_space *space, json_t *v, int *genome, lut_error *err)
{
    return genome_parse(space, NULL, v, genome, err);
}

int fm_space_genome_from_json(const fm_space *s, json_t *v, int *genome, lut_error *err)
{
    return genome_parse(s->space, s->genes, v, genome, err);
}

/*
 * search_spec.c — what fmas-search is asked to optimize: --objectives and
 * --constraint parsed into objective and constraint records (see search_spec.h).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "search_spec.h"

/* "latency@gap8", "macs", ... → cost kind and device; COST_NONE for a
 * metric name. Returns -1 with err on a malformed name. */
static int parse_target(const char *name, size_t len, cost_kind *cost, char *device, char *metric, char *err,
                        size_t errsize)
{
    char buf[200];
    if (len >= sizeof buf) {
        snprintf(err, errsize, "name too long: %.40s...", name);
        return -1;
    }
    memcpy(buf, name, len);
    buf[len] = '\0';
    device[0] = metric[0] = '\0';
    char *at = strchr(buf, '@');
    if (at)
        *at = '\0';
    if (!strcmp(buf, "latency")) {
        if (!at || !fc_name_ok(at + 1)) {
            snprintf(err, errsize, "latency needs a device: latency@DEVICE (device names are [a-z0-9._-]{1,64})");
            return -1;
        }
        *cost = COST_LATENCY;
        fc_format(device, 65, "%s", at + 1);
        fc_format(metric, 65, "latency");
        return 0;
    }
    if (at) {
        snprintf(err, errsize, "only latency takes @DEVICE: %s@%s", buf, at + 1);
        return -1;
    }
    *cost = !strcmp(buf, "macs") ? COST_MACS : !strcmp(buf, "flops") ? COST_FLOPS
                                           : !strcmp(buf, "params") ? COST_PARAMS : COST_NONE;
    if (*cost == COST_NONE && !fc_metric_ok(buf)) {
        snprintf(err, errsize, "metric names are [a-z0-9_]{1,64}: \"%s\"", buf);
        return -1;
    }
    fc_format(metric, 65, "%s", buf);
    return 0;
}

int search_parse_objectives(search *s, const char *text, char *err, size_t errsize)
{
    const char *p = text;
    s->nobj = s->nmetric = 0;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *colon = memchr(p, ':', len);
        if (!colon) {
            snprintf(err, errsize, "objective \"%.*s\" needs a goal: NAME:max or NAME:min", (int)len, p);
            return -1;
        }
        if (s->nobj == MAX_OBJ) {
            snprintf(err, errsize, "at most %d objectives", MAX_OBJ);
            return -1;
        }
        objective *o = &s->obj[s->nobj];
        size_t glen = len - (size_t)(colon - p) - 1;
        if (glen == 3 && !strncmp(colon + 1, "max", 3))
            o->maximize = 1;
        else if (glen == 3 && !strncmp(colon + 1, "min", 3))
            o->maximize = 0;
        else {
            snprintf(err, errsize, "objective \"%.*s\": the goal is max or min", (int)len, p);
            return -1;
        }
        if (parse_target(p, (size_t)(colon - p), &o->cost, o->device, o->name, err, errsize))
            return -1;
        if (o->cost == COST_LATENCY)
            fc_format(o->label, sizeof o->label, "latency@%s", o->device);
        else
            fc_format(o->label, sizeof o->label, "%s", o->name);
        for (size_t k = 0; k < s->nobj; k++)
            if (!strcmp(s->obj[k].label, o->label)) {
                snprintf(err, errsize, "objective %s given twice", o->label);
                return -1;
            }
        s->nmetric += o->cost == COST_NONE;
        s->nobj++;
        p += len + (comma ? 1 : 0);
        if (comma && !*p) {
            snprintf(err, errsize, "empty objective after the last comma");
            return -1;
        }
    }
    if (s->nmetric == 0) {
        snprintf(err, errsize, "at least one objective must be a metric the evaluator measures (e.g. miou:max)");
        return -1;
    }
    return 0;
}

int search_parse_constraint(search *s, const char *text, char *err, size_t errsize)
{
    if (s->ncon == MAX_CON) {
        snprintf(err, errsize, "at most %d constraints", MAX_CON);
        return -1;
    }
    constraint *c = &s->con[s->ncon];
    const char *le = strstr(text, "<=");
    if (!le) {
        snprintf(err, errsize, "constraint \"%s\": write COST<=LIMIT, e.g. latency@gap8<=40ms", text);
        return -1;
    }
    char metric[65];
    if (parse_target(text, (size_t)(le - text), &c->cost, c->device, metric, err, errsize))
        return -1;
    if (c->cost == COST_NONE) {
        snprintf(err, errsize, "constraint \"%s\": only costs (latency@DEVICE, macs, flops, params) can be "
                 "constrained", text);
        return -1;
    }
    const char *num = le + 2;
    char *end;
    errno = 0;
    c->max = strtod(num, &end);
    if (errno || end == num || !isfinite(c->max) || c->max < 0) {
        snprintf(err, errsize, "constraint \"%s\": the limit is a number >= 0", text);
        return -1;
    }
    if (c->cost == COST_LATENCY) {
        const char *unit = *end ? end : "ms";
        if (strcmp(unit, "ms") && strcmp(unit, "us") && strcmp(unit, "cycles")) {
            snprintf(err, errsize, "constraint \"%s\": the latency unit is ms, us or cycles", text);
            return -1;
        }
        fc_format(c->unit, sizeof c->unit, "%s", unit);
        fc_format(c->text, sizeof c->text, "latency@%s<=%.17g%s", c->device, c->max, c->unit);
    } else {
        if (*end) {
            snprintf(err, errsize, "constraint \"%s\": %s takes a plain number", text, metric);
            return -1;
        }
        c->unit[0] = '\0';
        fc_format(c->text, sizeof c->text, "%s<=%.17g", metric, c->max);
    }
    s->ncon++;
    return 0;
}

size_t search_latency_devices(const search *s, const char **dev)
{
    size_t n = 0;
    for (size_t k = 0; k < s->nobj + s->ncon; k++) {
        cost_kind ck = k < s->nobj ? s->obj[k].cost : s->con[k - s->nobj].cost;
        const char *d = k < s->nobj ? s->obj[k].device : s->con[k - s->nobj].device;
        if (ck != COST_LATENCY)
            continue;
        size_t j = 0;
        while (j < n && strcmp(dev[j], d))
            j++;
        if (j == n)
            dev[n++] = d;
    }
    return n;
}

int search_cost_value(json_t *costs, cost_kind cost, const char *device, const char *unit, double *v)
{
    json_t *x = NULL;
    switch (cost) {
    case COST_MACS:
        x = json_object_get(costs, "macs");
        break;
    case COST_FLOPS:
        x = json_object_get(costs, "flops");
        break;
    case COST_PARAMS:
        x = json_object_get(costs, "params");
        break;
    case COST_LATENCY: {
        json_t *lat = json_object_get(json_object_get(costs, "latency"), device);
        x = json_object_get(lat, unit && unit[0] && strcmp(unit, "ms") ? "total" : "ms");
        break;
    }
    case COST_NONE:
        break;
    }
    if (!json_is_number(x))
        return -1;
    *v = json_number_value(x);
    return isfinite(*v) ? 0 : -1;
}

double search_violation(const search *s, json_t *costs)
{
    double viol = 0;
    for (size_t k = 0; k < s->ncon; k++) {
        const constraint *ct = &s->con[k];
        double v;
        if (!search_cost_value(costs, ct->cost, ct->device, ct->unit, &v) && v > ct->max)
            viol += ct->max > 0 ? (v - ct->max) / ct->max : v - ct->max;
    }
    return viol;
}

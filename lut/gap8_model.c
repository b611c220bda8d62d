/*
 * gap8_model.c — the analytic GAP8 cycle model (see gap8_model.h and
 * docs/gap8.md).
 */
#include "gap8_model.h"

#include <string.h>

#include "gap8_fitted.h"
#include "lut_internal.h"

/* Fitted by lut/tools/gap8_fit.c (target gap8_fit) on
 * lut/tools/gap8_calibration.csv; docs/gap8.md lists the sources and
 * errors. The L2 budget is not fitted: 512 KB of L2 less what the code,
 * the runtime and the other live tensors take, as the GreenWaves MobileNet
 * examples run with "L2 Memory Used = 350kB". */
const lut_gap8_params lut_gap8_default_params = {
    .eff = {GAP8_FIT_EFF},
    .overhead = {GAP8_FIT_OVERHEAD},
    .l3_bytes_per_cycle = GAP8_FIT_L3_BPC,
    .l2_budget_bytes = 350.0 * 1000.0,
};

static const char *const kind_names[LUT_GAP8_KINDS] = {"pw", "dw", "conv", "pool", "linear", "other"};

const char *lut_gap8_kind_name(lut_gap8_kind kind)
{
    return (unsigned)kind < LUT_GAP8_KINDS ? kind_names[kind] : "";
}

int lut_gap8_kind_from_name(const char *name)
{
    for (int i = 0; i < LUT_GAP8_KINDS; i++)
        if (!strcmp(name, kind_names[i]))
            return i;
    return -1;
}

double lut_gap8_l3_bytes(const lut_gap8_layer *l, double budget)
{
    double t[3] = {(double)l->in_bytes, (double)l->out_bytes, (double)l->weight_bytes};
    double total = t[0] + t[1] + t[2], l3 = 0;
    while (total > budget) {
        int big = t[0] >= t[1] ? (t[0] >= t[2] ? 0 : 2) : (t[1] >= t[2] ? 1 : 2);
        if (t[big] <= 0)
            break;
        l3 += t[big];
        total -= t[big];
        t[big] = 0;
    }
    return l3;
}

/* The share of the cluster's lanes a layer's channels fill. */
static double alignment(const lut_gap8_layer *l)
{
    double a = 1.0;
    if (l->kind == LUT_GAP8_PW || l->kind == LUT_GAP8_DW || l->kind == LUT_GAP8_CONV) {
        int64_t c = l->cout > 0 ? l->cout : 1;
        a *= (double)c / (double)(8 * ((c + 7) / 8));
    }
    if (l->kind == LUT_GAP8_PW) {
        int64_t c = l->cin > 0 ? l->cin : 1;
        a *= (double)c / (double)(4 * ((c + 3) / 4));
    }
    return a;
}

double lut_gap8_cycles(const lut_gap8_layer *l, const lut_gap8_params *p)
{
    if (!p)
        p = &lut_gap8_default_params;
    unsigned k = (unsigned)l->kind < LUT_GAP8_KINDS ? (unsigned)l->kind : LUT_GAP8_OTHER;
    double cycles = p->overhead[k];
    if (k != LUT_GAP8_OTHER)
        cycles += (double)l->work / (p->eff[k] * alignment(l));
    return cycles + lut_gap8_l3_bytes(l, p->l2_budget_bytes) / p->l3_bytes_per_cycle;
}

int lut_gap8_layer_from_key(const lut_key *key, lut_gap8_layer *out, lut_error *err)
{
    lut_cost c;
    int rc = lut_key_cost(key, &c, err);
    if (rc)
        return rc;
    memset(out, 0, sizeof *out);
    out->cin = key->cin;
    out->cout = c.out_c;
    out->in_bytes = key->cin * key->h * key->w;
    out->out_bytes = c.out_c * c.out_h * c.out_w;
    out->work = c.macs;
    const char *op = key->op;
    if (!strcmp(op, "conv2d")) {
        out->weight_bytes = (int64_t)c.params;
        if (key->groups == key->cin && key->groups == key->cout && key->groups > 1)
            out->kind = LUT_GAP8_DW;
        else if (key->k > 1 && key->cin <= 4 && key->groups == 1)
            out->kind = LUT_GAP8_CONV;
        else
            out->kind = LUT_GAP8_PW;
    } else if (!strcmp(op, "linear")) {
        out->kind = LUT_GAP8_LINEAR;
        out->weight_bytes = (int64_t)c.params;
        out->in_bytes = key->cin * key->h * key->w;
    } else if (!strcmp(op, "avgpool") || !strcmp(op, "maxpool") || !strcmp(op, "global_avgpool") ||
               !strcmp(op, "relu") || !strcmp(op, "concat") || !strcmp(op, "upsample")) {
        out->kind = LUT_GAP8_POOL;
        out->work = (uint64_t)(out->in_bytes > out->out_bytes ? out->in_bytes : out->out_bytes);
    } else if (!strcmp(op, "add")) {
        out->kind = LUT_GAP8_POOL;
        out->in_bytes *= 2; /* two operands */
        out->work = (uint64_t)out->in_bytes;
    } else {
        Lut_error_set(err, "op", "the GAP8 model has no cost for op %s", op);
        return LUT_EINVAL;
    }
    return LUT_OK;
}

/*
 * gap8_table.c — writes the bundled gap8-model table (lut/data/gap8-model.csv):
 * every distinct layer of the built-in DeepLabV3+ MobileNetV2 space at input
 * 128 and 256 (output stride 16 and 8, the default classes), costed in
 * cycles by the GAP8 model (lut/gap8_model.h). Rows are sorted by their
 * canonical key, so the output is the same on every run.
 *
 *   gap8_table > lut/data/gap8-model.csv
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gap8_model.h"
#include "space.h"

typedef struct row {
    char text[LUT_KEY_TEXT_MAX];
    lut_key key;
    double cycles;
} row;

static int by_text(const void *a, const void *b)
{
    return strcmp(((const row *)a)->text, ((const row *)b)->text);
}

/* Append the layers of one space to rows (distinct by canonical text). */
static int add_space(int64_t size, int64_t os, row **rows, size_t *n, size_t *cap)
{
    lut_space_params p;
    lut_space_params_default(&p);
    p.input_size = size;
    p.output_stride = os;
    lut_space *sp;
    lut_error err = {.row = -1};
    if (lut_space_create(&sp, "gap8-table", NULL, LUT_SPACE_MOBILENETV2, &p, &err)) {
        fprintf(stderr, "gap8_table: space %lld/%lld: %s: %s\n", (long long)size, (long long)os, err.field,
                err.reason);
        return -1;
    }
    lut_key *keys = NULL;
    size_t nk = 0;
    int rc = lut_space_layer_keys(sp, &keys, &nk);
    for (size_t i = 0; !rc && i < nk; i++) {
        lut_gap8_layer l;
        if (lut_gap8_layer_from_key(&keys[i], &l, &err)) {
            fprintf(stderr, "gap8_table: %s: %s\n", keys[i].op, err.reason);
            rc = -1;
            break;
        }
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 512;
            row *r = realloc(*rows, *cap * sizeof *r);
            if (!r) {
                rc = -1;
                break;
            }
            *rows = r;
        }
        row *r = &(*rows)[*n];
        lut_key_format(&keys[i], r->text, sizeof r->text);
        r->key = keys[i];
        r->cycles = lut_gap8_cycles(&l, NULL);
        (*n)++;
    }
    free(keys);
    lut_space_free(sp);
    return rc;
}

int main(void)
{
    static const int64_t sizes[] = {128, 256}, strides[] = {16, 8};
    row *rows = NULL;
    size_t n = 0, cap = 0;
    for (size_t s = 0; s < 2; s++)
        for (size_t o = 0; o < 2; o++)
            if (add_space(sizes[s], strides[o], &rows, &n, &cap)) {
                free(rows);
                return 1;
            }
    qsort(rows, n, sizeof *rows, by_text);
    printf("op,cin,cout,k,stride,dilation,groups,h,w,pad,out_h,out_w,bias,bn,dtype,latency_mean,latency_std,count\n");
    for (size_t i = 0; i < n; i++) {
        if (i && !strcmp(rows[i].text, rows[i - 1].text))
            continue;
        const lut_key *k = &rows[i].key;
        char oh[24] = "", ow[24] = "";
        if (k->out_h > 0) {
            snprintf(oh, sizeof oh, "%lld", (long long)k->out_h);
            snprintf(ow, sizeof ow, "%lld", (long long)k->out_w);
        }
        printf("%s,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%s,%s,%lld,%lld,%s,%.0f,0,1\n", k->op,
               (long long)k->cin, (long long)k->cout, (long long)k->k, (long long)k->stride,
               (long long)k->dilation, (long long)k->groups, (long long)k->h, (long long)k->w,
               (long long)k->pad, oh, ow, (long long)k->bias, (long long)k->bn, k->dtype, rows[i].cycles);
    }
    free(rows);
    return 0;
}

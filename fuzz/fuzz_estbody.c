/*
 * fuzz_estbody.c — the strict reader of space estimate bodies against
 * Jansson (differential): for any input it declines, or it yields exactly
 * the devices and genome indices that json_loadb(..., JSON_REJECT_DUPLICATES)
 * reads from the same bytes. Byte 0 sets the most genomes taken (1..256);
 * the rest is the body.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "estbody.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether v is what the reader yields in b. */
static int same(json_t *v, const fm_estbody *b)
{
    json_t *d = json_object_get(v, "devices"), *g = json_object_get(v, "genomes");
    if (!json_is_object(v) || json_object_size(v) != 2 || !json_is_array(d) || !json_is_array(g) ||
        json_array_size(d) != b->ndevices || json_array_size(g) != b->ngenomes || b->starts[0] != 0)
        return 0;
    for (size_t i = 0; i < b->ndevices; i++) {
        json_t *x = json_array_get(d, i);
        if (!json_is_string(x) || json_string_length(x) != strlen(b->devices[i]) ||
            strcmp(json_string_value(x), b->devices[i]))
            return 0;
    }
    for (size_t i = 0; i < b->ngenomes; i++) {
        json_t *x = json_array_get(g, i);
        if (!json_is_array(x) || b->starts[i + 1] < b->starts[i] ||
            json_array_size(x) != b->starts[i + 1] - b->starts[i])
            return 0;
        for (size_t j = 0; j < json_array_size(x); j++) {
            json_t *e = json_array_get(x, j);
            if (!json_is_integer(e) || json_integer_value(e) != b->values[b->starts[i] + j])
                return 0;
        }
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t max = (size_t)data[0] + 1;
    fm_estbody b;
    if (fm_estbody_parse((const char *)data + 1, size - 1, max, &b))
        return 0;
    json_t *v = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, NULL);
    if (!v || !same(v, &b) || b.ngenomes < 1 || b.ngenomes > max)
        abort();
    json_decref(v);
    fm_estbody_free(&b);
    return 0;
}

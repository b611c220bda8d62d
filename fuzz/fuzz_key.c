/*
 * fuzz_key.c — the JSON objects of single values: a layer key
 * (fm_key_from_json, with its "name"), a LUT entry and a device's fields.
 *
 * Input: byte 0 picks the parser; the rest is a JSON document. A key that
 * parses must come back equal through its JSON form and through its
 * canonical text (lut_key_format / lut_key_parse).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void key_round_trip(const lut_key *key)
{
    json_t *j = fm_key_to_json(key);
    lut_key back;
    lut_error err = {.row = -1};
    if (!j || fm_key_from_json(j, &back, NULL, 0, &err) || !lut_key_equal(key, &back))
        abort();
    json_decref(j);
    char text[LUT_KEY_TEXT_MAX];
    if (lut_key_format(key, text, sizeof text) < 0)
        abort();
    if (lut_key_parse(text, strlen(text), &back) || !lut_key_equal(key, &back))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    json_t *v = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, NULL);
    if (!v)
        return 0;
    lut_error err = {.row = -1};
    switch (data[0] % 3) {
    case 0: {
        lut_key key;
        char name[128];
        if (fm_key_from_json(v, &key, name, sizeof name, &err) == 0)
            key_round_trip(&key);
        break;
    }
    case 1: {
        lut_entry row;
        if (fm_entry_from_json(v, &row, &err) == 0)
            json_decref(fm_entry_to_json(&row));
        break;
    }
    default: {
        lut_device dev;
        if (fm_device_from_json(v, "fz", &dev, &err) == 0)
            json_decref(fm_device_to_json(&dev));
        break;
    }
    }
    json_decref(v);
    return 0;
}

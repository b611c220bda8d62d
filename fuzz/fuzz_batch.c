/*
 * fuzz_batch.c — the LUT upload formats: a JSON batch, NDJSON and CSV
 * (fm_parse_batch), then each parsed row written back as CSV and JSON.
 *
 * Input: byte 0 picks the media type (JSON, NDJSON, CSV, another one);
 * the rest is the body.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "buf.h"
#include "codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const media[] = {"application/json", "application/x-ndjson", "text/csv",
                                    "text/plain"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    fm_request rq = {.method = "POST", .path = "/v1/devices/fz/lut",
                     .body = (const char *)data + 1, .body_len = size - 1,
                     .content_type = media[data[0] & 3]};
    fm_response rs = {.status = 200};
    lut_entry *rows = NULL;
    size_t n = 0;
    if (fm_parse_batch(&rq, &rs, &rows, &n) == 0) {
        fm_buf out = {0};
        fm_csv_header(&out);
        for (size_t i = 0; i < n; i++) {
            fm_csv_row(&out, &rows[i]);
            json_decref(fm_entry_to_json(&rows[i]));
        }
        free(out.data);
        free(rows);
    } else if (rs.status < 400 || rs.status > 499 ||
               json_array_size(json_object_get(rs.json, "errors")) == 0) {
        fprintf(stderr, "fuzz: a rejected batch answered %u\n", rs.status);
        abort(); /* a rejected batch is always answered with a 4xx problem */
    }
    json_decref(rs.json);
    free(rs.text);
    return 0;
}

/*
 * fuzz_gap8.c — GAP SDK performance logs and their maps (fm_gap8_parse),
 * and the multipart/form-data split of an upload (fm_gap8_multipart).
 *
 * Input: byte 0 picks the form: even, a log and a map split at the first
 * NUL byte (no NUL: a log without a map); odd, a multipart body of the
 * boundary "fz" whose parts are then parsed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gap8_log.h"
#include "gap8_upload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *log, size_t log_len, const char *map, size_t map_len)
{
    fm_gap8_result r;
    int rc = fm_gap8_parse(log, log_len, map, map_len, &r);
    if (rc == 0) {
        for (size_t i = 0; i < r.n; i++) {
            char text[LUT_KEY_TEXT_MAX];
            lut_key back;
            int len = lut_key_format(&r.rows[i].key, text, sizeof text);
            if (len < 0 || lut_key_parse(text, (size_t)len, &back) ||
                memcmp(&back, &r.rows[i].key, sizeof back) ||
                lut_entry_check(&r.rows[i], NULL) || r.lines[i] < 1) {
                fprintf(stderr, "fuzz: an accepted log gave a bad row %zu\n", i);
                abort();
            }
        }
        if (r.n == 0)
            abort(); /* an accepted log has rows */
    } else if (rc == 1) {
        if (r.nfaults == 0 || r.rows || r.faults[0].reason[0] == '\0') {
            fprintf(stderr, "fuzz: a rejected log without a reason\n");
            abort();
        }
    } else if (rc != LUT_ENOMEM) {
        abort();
    }
    fm_gap8_result_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    if (data[0] & 1) {
        const char *log, *map, *why = NULL;
        size_t log_len, map_len;
        if (fm_gap8_multipart(body, len, "fz", &log, &log_len, &map, &map_len, &why) == 0) {
            if (log)
                check(log, log_len, map, map_len);
        } else if (!why || !why[0]) {
            abort();
        }
        return 0;
    }
    const char *nul = memchr(body, '\0', len);
    if (nul)
        check(body, (size_t)(nul - body), nul + 1, len - (size_t)(nul - body) - 1);
    else
        check(body, len, NULL, 0);
    return 0;
}

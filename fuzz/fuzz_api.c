/*
 * fuzz_api.c — every endpoint of fmasd, its query string and its body.
 *
 * Input: byte 0 picks the route (an index into fm_routes), byte 1 the
 * space (bits 0-1: the registered space "fz", a built-in one, or an
 * unknown id), the body's media type (bits 2-3: JSON, NDJSON, CSV, none)
 * the Accept header (bits 4-5) and, with bit 6, twelve observations posted
 * to "fz" first (so that surrogates fit); then the query string up to the first
 * newline, and the body.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_server.h"
#include "routes.h"

static const char *const media[] = {"application/json", "application/x-ndjson", "text/csv", ""};
static const char *const accepts[] = {NULL, "application/json", "text/csv", "application/x-ndjson"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t r = data[0] % fm_routes.n;
    unsigned flags = data[1];
    const char *q = (const char *)data + 2;
    size_t rest = size - 2;
    const char *nl = memchr(q, '\n', rest);
    size_t qlen = nl ? (size_t)(nl - q) : 0;
    const char *body = nl ? nl + 1 : q;
    size_t body_len = nl ? rest - qlen - 1 : rest;

    const char *const *builtin;
    size_t nb = fz_builtin_ids(&builtin);
    const char *param = FZ_DEVICE;
    const char *pattern = fm_routes.routes[r].pattern;
    if (strstr(pattern, "{id}")) {
        unsigned pick = flags & 3;
        param = pick == 0 || nb == 0 ? FZ_SPACE : pick == 3 ? "unknown" : builtin[(pick - 1) % nb];
        if (pick == 0)
            fz_make_space();
        if (pick == 0 && (flags & 0x40))
            fz_observe();
    } else if (strstr(pattern, "{name}") && (flags & 3) != 3) {
        fz_make_device();
    }
    fz_request(r, &param, strstr(pattern, "{") ? 1 : 0, nl ? q : NULL, qlen,
               accepts[(flags >> 4) & 3], media[(flags >> 2) & 3], body, body_len);
    fz_reset();
    return 0;
}

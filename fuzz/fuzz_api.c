/*
 * fuzz_api.c — every endpoint of fmasd, its query string and its body.
 *
 * Input: byte 0 picks the route (an index into fm_routes), byte 1 the
 * path parameter (bits 0-1: the seed space "fz", or with bit 6 "fzfit",
 * whose surrogate is fitted, a built-in space, or an unknown id; for
 * devices the seed device "fz" or, with 3, one that does not exist), the
 * body's media type (bits 2-3: JSON, NDJSON, CSV, none) and the Accept
 * header (bits 4-5; its value is also the If-None-Match and the
 * Idempotency-Key header, so observation batches are keyed, replayed and
 * refused for a reused key across the inputs of a run); then the query
 * string up to the first newline, and the body. The seed state is made
 * once (fuzz_server.h) and put back after an input only where a request
 * wrote.
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
    const char *param = (flags & 3) == 3 ? FZ_DEVICE_ABSENT : FZ_DEVICE;
    const char *pattern = fm_routes.routes[r].pattern;
    if (strstr(pattern, "{id}")) {
        unsigned pick = flags & 3;
        param = pick == 0 || nb == 0 ? (flags & 0x40 ? FZ_SPACE_FIT : FZ_SPACE)
                : pick == 3          ? "unknown"
                                     : builtin[(pick - 1) % nb];
    }
    fz_request(r, &param, strstr(pattern, "{") ? 1 : 0, nl ? q : NULL, qlen,
               accepts[(flags >> 4) & 3], media[(flags >> 2) & 3], body, body_len);
    fz_reset();
    return 0;
}

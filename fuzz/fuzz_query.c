/*
 * fuzz_query.c — the route match of a method and path, then the query
 * string of every read-only endpoint.
 *
 * Input: three lines, "METHOD\nPATH\nQUERY", then anything after a third
 * newline is ignored. The path goes through fm_router_match; a GET or HEAD
 * route that matches is called with the captured path parameters and the
 * query string (split at '&' and '=' as libmicrohttpd does).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_server.h"
#include "router.h"
#include "routes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next line of [*p, end) as a NUL-terminated copy. */
static char *next_line(const char **p, const char *end)
{
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    size_t n = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
    char *s = malloc(n + 1);
    if (!s)
        abort();
    memcpy(s, *p, n);
    s[n] = '\0';
    *p = nl ? nl + 1 : end;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    char *method = next_line(&p, end), *path = next_line(&p, end);
    const char *q = p;
    const char *nl = memchr(q, '\n', (size_t)(end - q));
    size_t qlen = nl ? (size_t)(nl - q) : (size_t)(end - q);

    char pathbuf[1024], allow[128];
    const char *params[FM_MAX_PATH_PARAMS];
    size_t nparams = 0;
    int pattern = -1;
    int r = fm_router_match(&fm_routes, method, path, pathbuf, sizeof pathbuf, params, &nparams,
                            allow, sizeof allow, &pattern);
    if (r >= 0 && (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)) {
        fz_server();
        fz_request((size_t)r, params, nparams, q, qlen, NULL, "", NULL, 0);
    }
    if (pattern >= 0)
        (void)fm_router_label(&fm_routes, pattern);
    free(method);
    free(path);
    return 0;
}

/*
 * router.c — matching a request against a route table (see router.h).
 */
#include "router.h"

#include <stdio.h>
#include <string.h>

/* A simple, careful splitter: "/a/b/c" → {"a","b","c"}; "/" → {""}. */
static int path_segments(char *buf, char **segs, int max)
{
    if (buf[0] != '/')
        return -1;
    int n = 0;
    char *p = buf + 1;
    for (;;) {
        if (n == max)
            return -1;
        segs[n++] = p;
        char *slash = strchr(p, '/');
        if (!slash)
            break;
        *slash = '\0';
        p = slash + 1;
    }
    return n;
}

int fm_router_match(const fm_router *router, const char *method, const char *path, char *pathbuf,
                    size_t pathbuf_size, const char **params, size_t *nparams, char *allow,
                    size_t allow_size, int *pattern_idx)
{
    size_t plen = strlen(path);
    if (plen + 1 > pathbuf_size)
        return -1;
    memcpy(pathbuf, path, plen + 1);
    char *segs[16];
    int nseg = path_segments(pathbuf, segs, 16);
    if (nseg < 0)
        return -1;

    int found_path = 0;
    const char *matched_pattern = NULL;
    allow[0] = '\0';
    *pattern_idx = -1;
    int pattern_seen = -1;
    for (size_t r = 0; r < router->n; r++) {
        char pat[128];
        snprintf(pat, sizeof pat, "%s", router->routes[r].pattern);
        char *psegs[16];
        int npseg = path_segments(pat, psegs, 16);
        if (npseg != nseg)
            continue;
        size_t np = 0;
        int ok = 1;
        for (int i = 0; i < nseg && ok; i++) {
            if (psegs[i][0] == '{') {
                if (segs[i][0] == '\0')
                    ok = 0;
                else if (np < FM_MAX_PATH_PARAMS)
                    params[np++] = segs[i];
            } else if (strcmp(psegs[i], segs[i]) != 0) {
                ok = 0;
            }
        }
        if (!ok)
            continue;
        /* Patterns are listed grouped, so the first match names the pattern. */
        if (!matched_pattern) {
            matched_pattern = router->routes[r].pattern;
            pattern_seen = (int)r;
        }
        if (strcmp(router->routes[r].pattern, matched_pattern) != 0)
            continue;
        found_path = 1;
        size_t al = strlen(allow);
        snprintf(allow + al, allow_size - al, "%s%s", al ? ", " : "", router->routes[r].method);
        if (strcmp(router->routes[r].method, method) == 0) {
            *nparams = np;
            *pattern_idx = pattern_seen;
            return (int)r;
        }
    }
    if (found_path) {
        *pattern_idx = pattern_seen;
        return -2;
    }
    return -1;
}

const char *fm_router_label(const fm_router *router, int r)
{
    if (r < 0 || (size_t)r >= router->n)
        return NULL;
    /* Only the first route of a pattern carries the label. */
    for (int i = 0; i < r; i++)
        if (strcmp(router->routes[i].pattern, router->routes[r].pattern) == 0)
            return NULL;
    return router->routes[r].pattern;
}

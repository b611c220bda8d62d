/*
 * auth.c — bearer tokens (see auth.h).
 */
#include "auth.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* A token is printable ASCII without spaces (RFC 6750 allows less; any
 * such byte is harmless in a header and keeps the check simple). */
static int token_ok(const char *s, size_t n, char *err, size_t errsize, const char *where)
{
    if (n == 0) {
        snprintf(err, errsize, "%s holds an empty token", where);
        return -1;
    }
    if (n > FM_TOKEN_MAX) {
        snprintf(err, errsize, "%s holds a token longer than %d bytes", where, FM_TOKEN_MAX);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f) {
            snprintf(err, errsize, "%s holds a token with a space, control or non-ASCII byte", where);
            return -1;
        }
    return 0;
}

static size_t strip_newlines(const char *s, size_t n)
{
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    return n;
}

int fm_auth_set(const char *text, char *token, size_t *len, char *err, size_t errsize)
{
    size_t n = strip_newlines(text, strlen(text));
    if (token_ok(text, n, err, errsize, "the environment variable"))
        return -1;
    memcpy(token, text, n);
    token[n] = '\0';
    *len = n;
    return 0;
}

int fm_auth_load_file(const char *path, char *token, size_t *len, int *warn, char *err, size_t errsize)
{
    *warn = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errsize, "cannot read the token file %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)))
        *warn = 1;
    char buf[FM_TOKEN_MAX + 4];
    size_t n = fread(buf, 1, sizeof buf, f);
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        snprintf(err, errsize, "cannot read the token file %s", path);
        return -1;
    }
    char where[4200];
    snprintf(where, sizeof where, "the token file %s", path);
    n = strip_newlines(buf, n);
    if (token_ok(buf, n, err, errsize, where))
        return -1;
    memcpy(token, buf, n);
    token[n] = '\0';
    *len = n;
    return 0;
}

/*
 * 1 when the presented bytes equal the expected ones. The loop runs over
 * the expected length whatever is presented, with no early exit, and the
 * length difference is folded into the result.
 */
static int same_token(const char *given, size_t given_len, const char *want, size_t want_len)
{
    volatile unsigned char diff = (unsigned char)(given_len != want_len);
    for (size_t i = 0; i < want_len; i++) {
        unsigned char g = i < given_len ? (unsigned char)given[i] : 0;
        diff |= (unsigned char)(g ^ (unsigned char)want[i]);
    }
    return diff == 0;
}

/* The token of "Bearer <token>" (scheme case-insensitive), or NULL. */
static const char *bearer(const char *h, size_t *len)
{
    if (!h)
        return NULL;
    while (*h == ' ' || *h == '\t')
        h++;
    if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
        return NULL;
    h += 6;
    while (*h == ' ' || *h == '\t')
        h++;
    size_t n = strlen(h);
    while (n > 0 && (h[n - 1] == ' ' || h[n - 1] == '\t'))
        n--;
    if (n == 0 || memchr(h, ' ', n) || memchr(h, '\t', n))
        return NULL;
    *len = n;
    return h;
}

static int is_read(const char *method)
{
    return !strcmp(method, "GET") || !strcmp(method, "HEAD");
}

/* Reads that stay open with a read token: the health check (probes) and
 * the dashboard page (it asks for the token for its API calls). */
static int always_open(const char *path)
{
    return !strcmp(path, "/v1/health") || !strcmp(path, "/");
}

int fm_auth_check(const fm_auth *a, const char *method, const char *path, const char *authorization)
{
    int read = is_read(method);
    if (read ? (a->read_len == 0 || always_open(path)) : a->write_len == 0)
        return FM_AUTH_OK;
    size_t n = 0;
    const char *t = bearer(authorization, &n);
    if (!t)
        return FM_AUTH_MISSING;
    int ok = a->write_len > 0 && same_token(t, n, a->write_token, a->write_len);
    if (read)
        ok |= same_token(t, n, a->read_token, a->read_len);
    return ok ? FM_AUTH_OK : FM_AUTH_WRONG;
}

/*
 * auth.h — bearer tokens of fmasd: loading them at start-up and checking
 * the Authorization header of each request.
 *
 * Without a write token every request is allowed (the default, for a
 * service on loopback). With one, every request that is not GET or HEAD
 * needs "Authorization: Bearer <write token>". With a read token as well,
 * GET and HEAD need the read token or the write token too, except the
 * health check and the dashboard page (whose own API calls still need it).
 *
 * Tokens are compared in constant time (the time depends on the length of
 * the expected token only) and are never logged.
 */
#ifndef FMAS_SERVER_AUTH_H
#define FMAS_SERVER_AUTH_H

#include <stddef.h>

#define FM_TOKEN_MAX 1024

typedef struct fm_auth {
    char write_token[FM_TOKEN_MAX + 1];
    size_t write_len; /* 0: writes are open */
    char read_token[FM_TOKEN_MAX + 1];
    size_t read_len; /* 0: reads are open */
} fm_auth;

/*
 * Read a token from the file at path into token (size FM_TOKEN_MAX + 1):
 * the whole file, less trailing CR/LF. Returns 0 and *len, or -1 and a
 * sentence in err: the file cannot be read, the token is empty, longer
 * than FM_TOKEN_MAX, or holds a byte outside printable ASCII (a space
 * included). A file that group or others may read is accepted; *warn is
 * set to 1 then, for the caller to say so.
 */
int fm_auth_load_file(const char *path, char *token, size_t *len, int *warn, char *err, size_t errsize);

/* The same checks for a token given as text (from the environment). */
int fm_auth_set(const char *text, char *token, size_t *len, char *err, size_t errsize);

/* The answers of fm_auth_check. */
enum { FM_AUTH_OK = 0, FM_AUTH_MISSING = 401, FM_AUTH_WRONG = 403 };

/*
 * May a request with this method, path and Authorization header value
 * (NULL when absent) go on? FM_AUTH_MISSING when a token is due and the
 * header is absent or not "Bearer <token>"; FM_AUTH_WRONG when the token
 * is not one that grants the request.
 */
int fm_auth_check(const fm_auth *a, const char *method, const char *path, const char *authorization);

#endif

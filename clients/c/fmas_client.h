/*
 * fmas_client.h — the shared library of the C clients of fmasd: one HTTP
 * connection (libcurl, keep-alive) with retries and backoff, JSON in and
 * out (Jansson, duplicate keys rejected), problem+json errors made into one
 * clear sentence; plus a growable buffer, the messages of command-line
 * option errors (getopt_long) and shell-like argv splitting that both
 * tools use.
 *
 * Conventions, written once:
 * - Functions that can fail return int: FC_OK (0) or a negative FC_E* code;
 *   fc_strerror() names a code, and fc_error() of the client holds the
 *   sentence about the last failure (it names the service URL, the method
 *   and path, and the problem's detail when the service sent one).
 * - Inputs are borrowed. JSON answers are new references the caller
 *   json_decref()s. Pointers the client hands out (fc_error, fc_problem,
 *   fc_header) stay valid until the next request on the same client.
 * - One fc_client is one libcurl easy handle: use it from one thread at a
 *   time; connections are reused between requests (HTTP keep-alive).
 */
#ifndef FMAS_CLIENT_H
#define FMAS_CLIENT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef FMAS_CLIENT_VERSION
#define FMAS_CLIENT_VERSION "0.1.0"
#endif

enum {
    FC_OK = 0,
    FC_ENET = -1,    /* the service could not be reached (after retries) */
    FC_EHTTP = -2,   /* the service answered with an error (4xx problem) */
    FC_EPROTO = -3,  /* the answer is not what the contract says */
    FC_ENOMEM = -4,
    FC_EIO = -5,     /* a local file or stream failed */
    FC_EINVAL = -6   /* a bad argument (before any request) */
};

const char *fc_strerror(int rc);

/* --------------------------------------------------------------- buffer */

/* A growable byte buffer, always NUL-terminated after len bytes. */
typedef struct fc_buf {
    char *data;
    size_t len, cap;
} fc_buf;

void fc_buf_free(fc_buf *b);
int fc_buf_append(fc_buf *b, const void *p, size_t n);
int fc_buf_printf(fc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* snprintf for messages, where cutting a long one short is fine (and the
 * compiler need not warn that it may happen). */
void fc_format(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* --------------------------------------------------------------- client */

typedef struct fc_client fc_client;

/* Defaults: 8 retries, backoff 250 ms doubling to 8 s (about 32 s of
 * waiting in all), connect timeout 5 s, 300 s without a byte is a failure. */
typedef struct fc_retry {
    int retries;
    long first_ms, max_ms;
    long connect_timeout_s, stall_timeout_s;
} fc_retry;

/* base_url: "http://host:port" (a trailing slash is dropped). *out is NULL
 * on failure (FC_ENOMEM, or FC_EINVAL for an empty URL). */
int fc_open(fc_client **out, const char *base_url);
void fc_close(fc_client *c);
void fc_set_retry(fc_client *c, const fc_retry *r);
const char *fc_base_url(const fc_client *c);
/*
 * Send "Authorization: Bearer <token>" with every request from now on
 * (NULL: send none). The client keeps its own copy and never prints it.
 * FC_EINVAL for a token with a space, control or non-ASCII byte.
 */
int fc_set_token(fc_client *c, const char *token);

/*
 * The bearer token the user gave: the file token_file (an option's value;
 * NULL: none), else the file named by $FMAS_TOKEN_FILE, else the text of
 * $FMAS_TOKEN; trailing CR/LF are dropped. *token is a malloc'd copy (free
 * it) or NULL when none was given. Returns FC_OK; FC_EIO when the file
 * cannot be read, FC_EINVAL for an empty or malformed token (err names the
 * source and why, never the token); FC_ENOMEM.
 */
int fc_token_load(const char *token_file, char **token, char *err, size_t errsize);

/* Called with a sentence before each retry wait (NULL: say nothing). */
void fc_set_notice(fc_client *c, void (*notice)(const char *msg, void *arg), void *arg);

/* The sentence about the last failure ("" after a success). */
const char *fc_error(const fc_client *c);
/* The last HTTP status (0 when no answer came). */
long fc_status(const fc_client *c);
/* The problem+json body of the last error answer, or NULL (borrowed). */
json_t *fc_problem(const fc_client *c);
/* A header of the last answer, or NULL (name case-insensitive). */
const char *fc_header(const fc_client *c, const char *name);
/* Record a failure of the caller's own (e.g. an answer of the wrong shape)
 * as the client's error, prefixed with the last request; returns rc. */
int fc_fail(fc_client *c, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* How a request may be repeated after a failure that may have reached the
 * service: FC_IDEMPOTENT requests (reads, replaces, POSTs that only
 * compute) are retried after any transient failure; FC_ONCE requests (a
 * merge upload) only when nothing reached the service (connection refused)
 * or it answered 503/429. */
enum { FC_IDEMPOTENT = 0, FC_ONCE = 1 };

/*
 * One JSON request. body may be NULL (no body). Any 2xx answer is success:
 * *out (if out is not NULL) receives the parsed JSON (NULL for 204 or an
 * empty body). A 4xx answer is FC_EHTTP with fc_problem() set; an answer
 * that is not JSON where JSON is due is FC_EPROTO.
 */
int fc_json(fc_client *c, const char *method, const char *path, json_t *body, json_t **out);

/* fc_json with an Idempotency-Key header (key: at most 200 printable ASCII
 * characters, no spaces), for a POST that stores: the service stores it at
 * most once, so retrying it after any failure is safe. */
int fc_json_keyed(fc_client *c, const char *method, const char *path, json_t *body, const char *key,
                  json_t **out);

/*
 * Send the open file f (size bytes from its current offset) as the body,
 * streamed (never loaded whole); the file is rewound to that offset for a
 * retry. The answer is parsed as JSON into *out.
 */
int fc_upload(fc_client *c, const char *method, const char *path, const char *content_type, FILE *f, long long size,
              int once, json_t **out);

/* GET path with Accept: accept, writing the 2xx body to sink as it arrives
 * (streamed). A failure after the first byte reached sink is not retried. */
int fc_get_stream(fc_client *c, const char *path, const char *accept, FILE *sink);

/* --------------------------------------------------------------- helpers */

/* Seconds on the monotonic clock. */
double fc_now(void);

/* text as a decimal integer in lo..hi: 0 and *out, or -1. */
int fc_parse_long(const char *text, long lo, long hi, long *out);

/* 1 if s matches [a-z0-9._-]{1,64} (device names, space ids, fidelities). */
int fc_name_ok(const char *s);
/* 1 if s matches [a-z0-9_]{1,64} (metric names). */
int fc_metric_ok(const char *s);

/* s percent-encoded for a query value (curl_easy_escape on c's handle:
 * everything but A-Z a-z 0-9 - . _ ~ becomes %XX). curl_free() the text;
 * NULL: no memory. */
char *fc_escape(fc_client *c, const char *s);

/* Parse JSON text with duplicate keys rejected; NULL and a message in err
 * (size errsize) on failure. */
json_t *fc_parse(const char *text, size_t len, char *err, size_t errsize);

/*
 * Split a command line into an argv the shell way, without a shell:
 * whitespace separates words; '...' keeps everything literally; "..." keeps
 * everything but \" \\ \$ \` and backslash-newline, which lose the
 * backslash; a backslash outside quotes keeps the next character literally
 * (backslash-newline vanishes). No expansion of any kind. *argv is one
 * allocation (free() it): a NULL-terminated array followed by the strings.
 * Returns FC_OK, FC_EINVAL (unterminated quote; err says which), FC_ENOMEM.
 */
int fc_split_argv(const char *line, char ***argv, int *argc, char *err, size_t errsize);

struct option;

/*
 * The sentence about getopt_long's answer c (':' or '?') for the option
 * just read from argv with the table longopts, for a parser with opterr = 0
 * and an optstring that starts with ':' (after any '+'): "option --pop
 * needs a value", "unknown option --frob" (also for an ambiguous
 * abbreviation), "unknown option -x", "option --help takes no value".
 */
void fc_opt_error(char *const *argv, const struct option *longopts, int c, char *err, size_t errsize);

/* --server default: $FMAS_SERVER, else http://127.0.0.1:8080. */
const char *fc_default_server(void);

#ifdef __cplusplus
}
#endif

#endif

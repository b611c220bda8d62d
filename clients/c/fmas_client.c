/*
 * fmas_client.c — HTTP + JSON for the C clients of fmasd (see fmas_client.h).
 */
#include "fmas_client.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#define ERR_MAX 2048
#define PATH_MAX_LEN 1024
#define ERROR_BODY_MAX (16u << 20) /* what an answer body may hold in memory */

const char *fc_strerror(int rc)
{
    switch (rc) {
    case FC_OK:
        return "success";
    case FC_ENET:
        return "the service could not be reached";
    case FC_EHTTP:
        return "the service answered with an error";
    case FC_EPROTO:
        return "the service's answer is not what the contract says";
    case FC_ENOMEM:
        return "out of memory";
    case FC_EIO:
        return "input/output error";
    case FC_EINVAL:
        return "invalid argument";
    default:
        return "unknown error";
    }
}

/* --------------------------------------------------------------- buffer */

void fc_buf_free(fc_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static int buf_reserve(fc_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        if (cap > SIZE_MAX / 2)
            return FC_ENOMEM;
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p)
        return FC_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int fc_buf_append(fc_buf *b, const void *p, size_t n)
{
    if (buf_reserve(b, n))
        return FC_ENOMEM;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

static int buf_vprintf(fc_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0 || buf_reserve(b, (size_t)n))
        return FC_ENOMEM;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int fc_buf_printf(fc_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void fc_format(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, size, fmt, ap);
    va_end(ap);
}

/* --------------------------------------------------------------- client */

struct fc_client {
    char *base;
    CURL *curl;
    fc_retry retry;
    void (*notice)(const char *, void *);
    void *notice_arg;
    /* The request in flight, and the last answer. */
    char method[16];
    char path[PATH_MAX_LEN];
    long status;
    int body_truncated;
    fc_buf body;
    fc_buf headers; /* "Name: value\n" lines of the last answer */
    json_t *problem;
    FILE *sink;
    int delivered; /* a byte of a 2xx body reached sink */
    char err[ERR_MAX];
    char curl_err[CURL_ERROR_SIZE];
    char *auth_header; /* "Authorization: Bearer ...", or NULL */
};

static int curl_ready;

int fc_open(fc_client **out, const char *base_url)
{
    *out = NULL;
    if (!base_url || !*base_url)
        return FC_EINVAL;
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return FC_ENOMEM;
        curl_ready = 1;
    }
    fc_client *c = calloc(1, sizeof *c);
    if (!c)
        return FC_ENOMEM;
    c->base = strdup(base_url);
    c->curl = curl_easy_init();
    if (!c->base || !c->curl) {
        fc_close(c);
        return FC_ENOMEM;
    }
    size_t n = strlen(c->base);
    while (n > 0 && c->base[n - 1] == '/')
        c->base[--n] = '\0';
    c->retry = (fc_retry){8, 250, 8000, 5, 300};
    *out = c;
    return FC_OK;
}

void fc_close(fc_client *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    json_decref(c->problem);
    fc_buf_free(&c->body);
    fc_buf_free(&c->headers);
    free(c->base);
    free(c->auth_header);
    free(c);
}

#define TOKEN_MAX 1024

/* Printable ASCII without spaces: what fits a header line unchanged. */
static int token_ok(const char *t, size_t n)
{
    if (n == 0 || n > TOKEN_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)t[i] <= ' ' || (unsigned char)t[i] >= 0x7f)
            return 0;
    return 1;
}

int fc_set_token(fc_client *c, const char *token)
{
    if (token && !token_ok(token, strlen(token)))
        return FC_EINVAL;
    char *h = NULL;
    if (token) {
        size_t n = strlen("Authorization: Bearer ") + strlen(token) + 1;
        if (!(h = malloc(n)))
            return FC_ENOMEM;
        snprintf(h, n, "Authorization: Bearer %s", token);
    }
    free(c->auth_header);
    c->auth_header = h;
    return FC_OK;
}

static size_t strip_newlines(const char *s, size_t n)
{
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    return n;
}

/* The token in text (n bytes, from where) into a new string. */
static int token_copy(const char *text, size_t n, const char *where, char **token, char *err, size_t errsize)
{
    n = strip_newlines(text, n);
    if (!token_ok(text, n)) {
        fc_format(err, errsize, "%s holds %s", where,
                  n == 0 ? "an empty token" : "no valid token (one line of printable ASCII without spaces, "
                                               "at most 1024 bytes)");
        return FC_EINVAL;
    }
    if (!(*token = strndup(text, n)))
        return FC_ENOMEM;
    return FC_OK;
}

int fc_token_load(const char *token_file, char **token, char *err, size_t errsize)
{
    *token = NULL;
    const char *file = token_file;
    const char *env_file = getenv("FMAS_TOKEN_FILE");
    if (!file && env_file && *env_file)
        file = env_file;
    char where[PATH_MAX_LEN + 64];
    if (file) {
        fc_format(where, sizeof where, "the token file %s%s", file, token_file ? "" : " ($FMAS_TOKEN_FILE)");
        FILE *f = fopen(file, "rb");
        if (!f) {
            fc_format(err, errsize, "cannot read %s: %s", where, strerror(errno));
            return FC_EIO;
        }
        char buf[TOKEN_MAX + 4];
        size_t n = fread(buf, 1, sizeof buf, f);
        int failed = ferror(f);
        fclose(f);
        if (failed) {
            fc_format(err, errsize, "cannot read %s", where);
            return FC_EIO;
        }
        return token_copy(buf, n, where, token, err, errsize);
    }
    const char *text = getenv("FMAS_TOKEN");
    if (text && *text)
        return token_copy(text, strlen(text), "$FMAS_TOKEN", token, err, errsize);
    return FC_OK;
}

void fc_set_retry(fc_client *c, const fc_retry *r)
{
    c->retry = *r;
    if (c->retry.retries < 0)
        c->retry.retries = 0;
    if (c->retry.first_ms < 1)
        c->retry.first_ms = 1;
    if (c->retry.max_ms < c->retry.first_ms)
        c->retry.max_ms = c->retry.first_ms;
}

const char *fc_base_url(const fc_client *c)
{
    return c->base;
}

void fc_set_notice(fc_client *c, void (*notice)(const char *msg, void *arg), void *arg)
{
    c->notice = notice;
    c->notice_arg = arg;
}

const char *fc_error(const fc_client *c)
{
    return c->err;
}

long fc_status(const fc_client *c)
{
    return c->status;
}

json_t *fc_problem(const fc_client *c)
{
    return c->problem;
}

const char *fc_header(const fc_client *c, const char *name)
{
    size_t n = strlen(name);
    const char *p = c->headers.data;
    while (p && *p) {
        const char *eol = strchr(p, '\n');
        if (!strncasecmp(p, name, n) && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            return v;
        }
        p = eol ? eol + 1 : NULL;
    }
    return NULL;
}

int fc_fail(fc_client *c, int rc, const char *fmt, ...)
{
    char msg[ERR_MAX / 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fc_format(c->err, sizeof c->err, "%s %s%s: %s", c->method, c->base, c->path, msg);
    return rc;
}

/* The media type of the last answer, lowercased, without parameters. */
static void media_type(const fc_client *c, char *out, size_t size)
{
    const char *v = fc_header(c, "Content-Type");
    size_t n = 0;
    if (v)
        for (; v[n] && v[n] != ';' && v[n] != '\r' && v[n] != '\n' && v[n] != ' ' && n + 1 < size; n++)
            out[n] = (char)tolower((unsigned char)v[n]);
    out[n] = '\0';
}

static int is_json_type(const char *mt)
{
    size_t n = strlen(mt);
    return !strcmp(mt, "application/json") || (n > 5 && !strcmp(mt + n - 5, "+json"));
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    fc_client *c = arg;
    size_t n = size * nmemb;
    if (n >= 5 && !memcmp(data, "HTTP/", 5)) {
        /* A new answer (after a 100 Continue, another): start over. */
        c->headers.len = 0;
        if (c->headers.data)
            c->headers.data[0] = '\0';
        const char *sp = memchr(data, ' ', n);
        c->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        return n;
    }
    size_t len = n;
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        len--;
    if (len && (fc_buf_append(&c->headers, data, len) || fc_buf_append(&c->headers, "\n", 1)))
        return 0;
    return n;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    fc_client *c = arg;
    size_t n = size * nmemb;
    if (c->sink && c->status >= 200 && c->status < 300) {
        if (fwrite(data, 1, n, c->sink) != n)
            return 0;
        c->delivered = 1;
        return n;
    }
    if (c->body.len + n > ERROR_BODY_MAX) {
        c->body_truncated = 1;
        return n;
    }
    return fc_buf_append(&c->body, data, n) ? 0 : n;
}

typedef struct fc_request {
    const char *method, *path, *content_type, *accept;
    const char *body; /* in memory, or NULL */
    size_t body_len;
    FILE *file; /* streamed from here, or NULL */
    long long file_size;
    long long file_start;
    int once;
    const char *idempotency_key; /* NULL: no Idempotency-Key header */
} fc_request;

static size_t on_read(char *buf, size_t size, size_t nmemb, void *arg)
{
    FILE *f = arg;
    size_t n = fread(buf, 1, size * nmemb, f);
    if (n == 0 && ferror(f))
        return CURL_READFUNC_ABORT;
    return n;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) && errno == EINTR)
        ;
}

/* One attempt: the curl code; c->status, c->body, c->headers filled. */
static CURLcode attempt(fc_client *c, const fc_request *r, struct curl_slist *hdrs)
{
    CURL *h = c->curl;
    char url[PATH_MAX_LEN + 512];
    snprintf(url, sizeof url, "%s%s", c->base, r->path);
    curl_easy_reset(h);
    c->status = 0;
    c->body.len = 0;
    if (c->body.data)
        c->body.data[0] = '\0';
    c->body_truncated = 0;
    c->headers.len = 0;
    if (c->headers.data)
        c->headers.data[0] = '\0';
    c->curl_err[0] = '\0';
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->curl_err);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, c->retry.connect_timeout_s);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, c->retry.stall_timeout_s);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "fmas-client/0.1");
    int has_body = r->body || r->file;
    if (!strcmp(r->method, "GET")) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (has_body) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        if (strcmp(r->method, "POST"))
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
        if (r->file) {
            curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(h, CURLOPT_READDATA, r->file);
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->file_size);
        } else {
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body);
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
        }
    } else {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
        if (!strcmp(r->method, "POST")) {
            curl_easy_setopt(h, CURLOPT_POST, 1L);
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
        }
    }
    return curl_easy_perform(h);
}

/* Failures where the request surely never reached the service. */
static int not_sent(CURLcode rc)
{
    return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_RESOLVE_PROXY;
}

static int transient(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return 1;
    default:
        return 0;
    }
}

/* One line of text from an answer body, for a message. */
static void snippet(const char *s, size_t len, char *out, size_t size)
{
    size_t j = 0;
    for (size_t i = 0; i < len && j + 4 < size; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[j++] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
    }
    if (j + 4 >= size && len > j) {
        memcpy(out + j, "...", 3);
        j += 3;
    }
    out[j] = '\0';
}

/* The error sentence of an error answer; keeps the problem in c->problem. */
static void describe_error_answer(fc_client *c)
{
    char mt[128];
    media_type(c, mt, sizeof mt);
    json_decref(c->problem);
    c->problem = NULL;
    json_t *p = NULL;
    if (is_json_type(mt))
        p = fc_parse(c->body.data ? c->body.data : "", c->body.len, NULL, 0);
    const char *title = NULL, *detail = NULL;
    if (json_is_object(p)) {
        title = json_string_value(json_object_get(p, "title"));
        detail = json_string_value(json_object_get(p, "detail"));
    }
    fc_buf msg = {0};
    fc_buf_printf(&msg, "the fmas service at %s answered %s %s with %ld", c->base, c->method, c->path, c->status);
    if (title)
        fc_buf_printf(&msg, " %s", title);
    if (detail) {
        fc_buf_printf(&msg, ": %s", detail);
    } else {
        char text[200];
        snippet(c->body.data ? c->body.data : "", c->body.len, text, sizeof text);
        fc_buf_printf(&msg, " (%s%s%s)", mt[0] ? mt : "no content type", text[0] ? ": " : "", text);
    }
    json_t *errors = json_is_object(p) ? json_object_get(p, "errors") : NULL;
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e) {
        if (i == 5) {
            fc_buf_printf(&msg, " [and %zu more]", json_array_size(errors) - 5);
            break;
        }
        const char *where = json_string_value(json_object_get(e, "pointer"));
        const char *param = json_string_value(json_object_get(e, "parameter"));
        const char *reason = json_string_value(json_object_get(e, "reason"));
        json_t *row = json_object_get(e, "row"), *line = json_object_get(e, "line");
        fc_buf_printf(&msg, " [");
        if (json_is_integer(row))
            fc_buf_printf(&msg, "row %" JSON_INTEGER_FORMAT " ", json_integer_value(row));
        if (json_is_integer(line))
            fc_buf_printf(&msg, "line %" JSON_INTEGER_FORMAT " ", json_integer_value(line));
        if (where)
            fc_buf_printf(&msg, "at %s", where[0] ? where : "(the body)");
        else if (param)
            fc_buf_printf(&msg, "parameter %s", param);
        fc_buf_printf(&msg, ": %s]", reason ? reason : "?");
    }
    snprintf(c->err, sizeof c->err, "%s", msg.data ? msg.data : "error answer");
    fc_buf_free(&msg);
    if (json_is_object(p))
        c->problem = p;
    else
        json_decref(p);
}

static int perform(fc_client *c, const fc_request *r)
{
    snprintf(c->method, sizeof c->method, "%s", r->method);
    snprintf(c->path, sizeof c->path, "%s", r->path);
    c->err[0] = '\0';
    json_decref(c->problem);
    c->problem = NULL;
    c->delivered = 0;
    struct curl_slist *hdrs = NULL, *t;
    char line[256];
    if (r->content_type) {
        snprintf(line, sizeof line, "Content-Type: %s", r->content_type);
        if (!(t = curl_slist_append(hdrs, line)))
            goto nomem;
        hdrs = t;
    }
    snprintf(line, sizeof line, "Accept: %s", r->accept ? r->accept : "application/json");
    if (!(t = curl_slist_append(hdrs, line)))
        goto nomem;
    hdrs = t;
    if (c->auth_header) {
        if (!(t = curl_slist_append(hdrs, c->auth_header)))
            goto nomem;
        hdrs = t;
    }
    if (r->idempotency_key) {
        snprintf(line, sizeof line, "Idempotency-Key: %s", r->idempotency_key);
        if (!(t = curl_slist_append(hdrs, line)))
            goto nomem;
        hdrs = t;
    }
    double started = fc_now();
    int tries = 0;
    for (;;) {
        if (r->file && fseeko(r->file, (off_t)r->file_start, SEEK_SET)) {
            curl_slist_free_all(hdrs);
            return fc_fail(c, FC_EIO, "cannot rewind the file: %s", strerror(errno));
        }
        CURLcode rc = attempt(c, r, hdrs);
        tries++;
        int retry = 0, reached = 1;
        char why[CURL_ERROR_SIZE + 64];
        if (rc != CURLE_OK) {
            retry = transient(rc);
            reached = !not_sent(rc);
            snprintf(why, sizeof why, "%s", c->curl_err[0] ? c->curl_err : curl_easy_strerror(rc));
        } else if (c->status >= 500 || c->status == 429 || c->status == 408) {
            retry = 1;
            reached = c->status != 503 && c->status != 429;
            snprintf(why, sizeof why, "HTTP %ld", c->status);
        }
        if (retry && (r->once ? !reached : 1) && !c->delivered && tries <= c->retry.retries) {
            long delay = c->retry.first_ms;
            for (int k = 1; k < tries && delay < c->retry.max_ms; k++)
                delay *= 2;
            if (delay > c->retry.max_ms)
                delay = c->retry.max_ms;
            const char *ra = rc == CURLE_OK ? fc_header(c, "Retry-After") : NULL;
            if (ra) {
                long s = strtol(ra, NULL, 10);
                if (s > 0 && s * 1000 > delay)
                    delay = s * 1000 < c->retry.max_ms ? s * 1000 : c->retry.max_ms;
            }
            if (c->notice) {
                char note[ERR_MAX];
                snprintf(note, sizeof note, "%s %s%s: %s; retry %d of %d in %.1f s", r->method, c->base, r->path,
                         why, tries, c->retry.retries, (double)delay / 1000.0);
                c->notice(note, c->notice_arg);
            }
            sleep_ms(delay);
            continue;
        }
        curl_slist_free_all(hdrs);
        if (rc != CURLE_OK) {
            if (rc == CURLE_WRITE_ERROR && c->sink && c->delivered)
                return fc_fail(c, FC_EIO, "cannot write the answer: %s", strerror(errno));
            snprintf(c->err, sizeof c->err,
                     "cannot reach the fmas service at %s: %s (%s %s; gave up after %d attempt%s over %.1f s)",
                     c->base, why, r->method, r->path, tries, tries == 1 ? "" : "s", fc_now() - started);
            return FC_ENET;
        }
        if (c->status < 200 || c->status >= 300) {
            describe_error_answer(c);
            if (c->status == 401 || c->status == 403) {
                size_t n = strlen(c->err);
                snprintf(c->err + n, sizeof c->err - n, " (%s)",
                         c->auth_header ? "the token given does not grant this; check --token-file, "
                                          "$FMAS_TOKEN_FILE or $FMAS_TOKEN"
                                        : "the service wants a token: give it with --token-file FILE, "
                                          "$FMAS_TOKEN_FILE or $FMAS_TOKEN");
            }
            if (c->status >= 500) {
                size_t n = strlen(c->err);
                snprintf(c->err + n, sizeof c->err - n, " (gave up after %d attempt%s over %.1f s)", tries,
                         tries == 1 ? "" : "s", fc_now() - started);
            }
            return FC_EHTTP;
        }
        if (c->body_truncated)
            return fc_fail(c, FC_EPROTO, "the answer is larger than %u bytes", ERROR_BODY_MAX);
        return FC_OK;
    }
nomem:
    curl_slist_free_all(hdrs);
    return fc_fail(c, FC_ENOMEM, "out of memory");
}

/* The JSON of a 2xx answer into *out. */
static int answer_json(fc_client *c, json_t **out)
{
    if (!out)
        return FC_OK;
    *out = NULL;
    if (c->status == 204 || c->body.len == 0)
        return FC_OK;
    char mt[128];
    media_type(c, mt, sizeof mt);
    if (!is_json_type(mt)) {
        char text[120];
        snippet(c->body.data, c->body.len, text, sizeof text);
        return fc_fail(c, FC_EPROTO, "the answer (%ld) is %s, not JSON: %s", c->status,
                       mt[0] ? mt : "without a content type", text);
    }
    char why[256];
    *out = fc_parse(c->body.data, c->body.len, why, sizeof why);
    if (!*out)
        return fc_fail(c, FC_EPROTO, "the answer (%ld) is not valid JSON: %s", c->status, why);
    return FC_OK;
}

int fc_json(fc_client *c, const char *method, const char *path, json_t *body, json_t **out)
{
    return fc_json_keyed(c, method, path, body, NULL, out);
}

int fc_json_keyed(fc_client *c, const char *method, const char *path, json_t *body, const char *key,
                  json_t **out)
{
    if (out)
        *out = NULL;
    char *text = NULL;
    if (body && !(text = json_dumps(body, JSON_COMPACT)))
        return fc_fail(c, FC_ENOMEM, "cannot encode the request body");
    fc_request r = {.method = method, .path = path, .content_type = body ? "application/json" : NULL,
                    .body = text, .body_len = text ? strlen(text) : 0, .idempotency_key = key};
    c->sink = NULL;
    int rc = perform(c, &r);
    free(text);
    return rc ? rc : answer_json(c, out);
}

int fc_upload(fc_client *c, const char *method, const char *path, const char *content_type, FILE *f, long long size,
              int once, json_t **out)
{
    if (out)
        *out = NULL;
    off_t start = ftello(f);
    if (start < 0)
        return fc_fail(c, FC_EIO, "cannot tell the file offset: %s", strerror(errno));
    fc_request r = {.method = method, .path = path, .content_type = content_type, .file = f,
                    .file_size = size, .file_start = (long long)start, .once = once};
    c->sink = NULL;
    int rc = perform(c, &r);
    return rc ? rc : answer_json(c, out);
}

int fc_get_stream(fc_client *c, const char *path, const char *accept, FILE *sink)
{
    fc_request r = {.method = "GET", .path = path, .accept = accept};
    c->sink = sink;
    int rc = perform(c, &r);
    c->sink = NULL;
    return rc;
}

/* --------------------------------------------------------------- helpers */

double fc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int fc_parse_long(const char *text, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int name_in(const char *s, const char *extra)
{
    size_t n = 0;
    for (; s[n]; n++) {
        unsigned char ch = (unsigned char)s[n];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || (ch && strchr(extra, ch))))
            return 0;
    }
    return n >= 1 && n <= 64;
}

int fc_name_ok(const char *s)
{
    return name_in(s, "._-");
}

int fc_metric_ok(const char *s)
{
    return name_in(s, "_");
}

char *fc_escape(fc_client *c, const char *s)
{
    return curl_easy_escape(c->curl, s, 0);
}

json_t *fc_parse(const char *text, size_t len, char *err, size_t errsize)
{
    json_error_t jerr;
    json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!v && err && errsize)
        snprintf(err, errsize, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
    return v;
}

int fc_split_argv(const char *line, char ***argv, int *argc, char *err, size_t errsize)
{
    size_t len = strlen(line), maxwords = len / 2 + 2;
    /* Words never take more room than the line, plus a NUL each. */
    size_t bytes = (maxwords + 1) * sizeof(char *) + len + maxwords + 1;
    char **v = malloc(bytes);
    if (!v)
        return FC_ENOMEM;
    char *out = (char *)(v + maxwords + 1);
    int n = 0, in_word = 0;
    char quote = 0;
    for (const char *p = line;; p++) {
        char ch = *p;
        if (ch == '\0') {
            if (quote) {
                free(v);
                snprintf(err, errsize, "unterminated %s quote in: %s", quote == '\'' ? "single" : "double", line);
                return FC_EINVAL;
            }
            break;
        }
        if (quote == '\'') {
            if (ch == '\'')
                quote = 0;
            else
                *out++ = ch;
            continue;
        }
        if (quote == '"') {
            if (ch == '"') {
                quote = 0;
            } else if (ch == '\\' && p[1] && strchr("\"\\$`\n", p[1])) {
                if (p[1] != '\n')
                    *out++ = p[1];
                p++;
            } else {
                *out++ = ch;
            }
            continue;
        }
        if (ch == ' ' || ch == '\t' || ch == '\n') {
            if (in_word) {
                *out++ = '\0';
                in_word = 0;
            }
            continue;
        }
        if (!in_word) {
            v[n++] = out;
            in_word = 1;
        }
        if (ch == '\'' || ch == '"') {
            quote = ch;
        } else if (ch == '\\') {
            if (p[1] == '\n') {
                p++;
            } else if (p[1]) {
                *out++ = p[1];
                p++;
            }
        } else {
            *out++ = ch;
        }
    }
    if (in_word)
        *out++ = '\0';
    v[n] = NULL;
    *argv = v;
    *argc = n;
    return FC_OK;
}

void fc_opt_error(char *const *argv, const struct option *longopts, int c, char *err, size_t errsize)
{
    /* glibc leaves optind past the element it complained about, optopt 0
     * for an unknown long option, and the option's val for a long option
     * given a value it does not take. */
    const char *a = argv[optind - 1];
    int long_val = 0;
    for (const struct option *o = longopts; optopt && o->name; o++)
        long_val |= o->val == optopt;
    if (c == ':')
        snprintf(err, errsize, "option %s needs a value", a);
    else if (!optopt)
        snprintf(err, errsize, "unknown option %.*s", (int)strcspn(a, "="), a);
    else if (long_val && a[0] == '-' && a[1] == '-')
        snprintf(err, errsize, "option %.*s takes no value", (int)strcspn(a, "="), a);
    else
        snprintf(err, errsize, "unknown option -%c", optopt);
}

const char *fc_default_server(void)
{
    const char *s = getenv("FMAS_SERVER");
    return s && *s ? s : "http://127.0.0.1:8080";
}

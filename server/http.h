/*
 * http.h — the one place that turns HTTP requests into handler calls.
 *
 * Handlers receive a fully read request (body included) and fill a response;
 * they never touch libmicrohttpd. Every error answer goes through
 * fm_problem(), so all of them share one shape (RFC 9457 problem+json).
 *
 * Ownership: a handler that sets fm_response.json hands that reference to
 * the response (it is dumped and released after the handler returns); a
 * handler that sets text must point it at malloc'd memory, which the
 * response frees.
 */
#ifndef FMAS_SERVER_HTTP_H
#define FMAS_SERVER_HTTP_H

#include <stddef.h>
#include <jansson.h>
#include <microhttpd.h>

#include "lut.h"

typedef struct fm_server fm_server;

#define FM_MAX_PATH_PARAMS 4
#define FM_MAX_HEADERS 4

typedef struct fm_request {
    fm_server *srv;
    struct MHD_Connection *conn;
    const char *method;
    const char *path;
    const char *params[FM_MAX_PATH_PARAMS]; /* captured {name} segments */
    size_t nparams;
    const char *body;
    size_t body_len;
    const char *content_type; /* media type without parameters, lower case; "" if none */
    void *stream; /* the route's body-stream state when the body was parsed as it
                     arrived (body is then empty), else NULL; see fm_body_stream */
} fm_request;

typedef struct fm_response {
    unsigned status;
    json_t *json;           /* body as JSON (dumped compactly), or */
    char *text;             /* a malloc'd body of text_len bytes */
    size_t text_len;
    const char *content_type;
    const char *header_names[FM_MAX_HEADERS];
    char header_values[FM_MAX_HEADERS][640];
    size_t nheaders;
} fm_response;

typedef void (*fm_handler)(fm_request *rq, fm_response *rs);

/*
 * A route's reader of a body as it arrives, for formats that can be parsed
 * piece by piece. open() is called before the first byte with the request's
 * media type and returns the parse state, or NULL to have the body read
 * whole instead (a media type that does not stream). feed() takes each
 * piece in order; faults are kept in the state, not answered, since the
 * handler decides what is answered first. The handler finds the state in
 * fm_request.stream (the body itself is then not kept); close() frees it
 * after the response, whatever happened.
 */
typedef struct fm_body_stream {
    void *(*open)(const char *content_type);
    void (*feed)(void *state, const char *data, size_t len);
    void (*close)(void *state);
} fm_body_stream;

/*
 * The media type of a Content-Type header value, as handlers see it in
 * fm_request.content_type: the text before the first ';' (parameters) or
 * blank, with leading spaces and tabs skipped, lower-cased
 * ("Text/CSV; charset=utf-8" -> "text/csv"). header NULL or blank gives "".
 * Writes at most size bytes to out (size >= 1), always NUL-terminated; a
 * longer type is cut at size - 1 bytes, and so matches no type a handler
 * accepts when size exceeds the longest of them. Reads header up to its NUL.
 */
void fm_media_type(const char *header, char *out, size_t size);

/* Query parameter of the request, or NULL. */
const char *fm_query(const fm_request *rq, const char *name);
/* Request header, or NULL. */
const char *fm_header(const fm_request *rq, const char *name);

void fm_respond_json(fm_response *rs, unsigned status, json_t *body);
void fm_respond_text(fm_response *rs, unsigned status, const char *content_type,
                     char *text, size_t len);
void fm_add_header(fm_response *rs, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Problem details. An error list is a JSON array built with fm_err_*; each
 * item names where the fault lies (pointer, row or parameter) and why.
 * fm_problem takes the reference to errors (may be NULL: then one item with
 * pointer "" and the detail as reason is made).
 */
json_t *fm_err_pointer(json_t *errors, const char *pointer, const char *reason);
json_t *fm_err_param(json_t *errors, const char *parameter, const char *reason);
json_t *fm_err_row(json_t *errors, long row, long line, const char *pointer,
                   const char *field, const char *reason);
void fm_problem(fm_response *rs, unsigned status, const char *slug,
                json_t *errors, const char *detail_fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* The title of a problem slug ("invalid-field" → "Invalid field"). */
const char *fm_problem_title(const char *slug);

/* Store failures that are not the client's fault become 500 (a bug or a
 * broken disk); LUT_ENOTFOUND becomes 404. */
void fm_store_failure(fm_response *rs, int rc, const char *what);

#endif

/*
 * results.h — the shape of a batch estimate answer, asked for by the
 * client: which result fields (?fields=macs,params,latency) and which
 * media type (Accept: application/json, application/x-ndjson, text/csv).
 *
 * A handler names the fields its results have (in their order in a
 * result); fm_results_start reads the request into an fm_results, whose
 * buffer the handler then writes (with r->jw for JSON and NDJSON) and
 * fm_results_finish hands to the response.
 */
#ifndef FMAS_SERVER_RESULTS_H
#define FMAS_SERVER_RESULTS_H

#include "buf.h"
#include "http.h"
#include "jsonw.h"

typedef enum fm_results_format {
    FM_RESULTS_JSON,   /* application/json: the whole answer object */
    FM_RESULTS_NDJSON, /* application/x-ndjson: one result object a line */
    FM_RESULTS_CSV,    /* text/csv: a header line, one result a line */
} fm_results_format;

typedef struct fm_results {
    fm_results_format format;
    unsigned fields; /* bit i: names[i] was asked for; all bits without ?fields= */
    fm_buf buf;
    fm_jw jw;        /* writes into buf */
} fm_results;

/*
 * Read ?fields= and Accept. names: the result's field names, NULL
 * terminated (at most 31). An unknown or empty field name answers 400
 * naming the parameter "fields"; an Accept that allows none of the three
 * media types answers 406 naming "Accept". Returns 0 or -1.
 */
int fm_results_start(fm_results *r, const fm_request *rq, fm_response *rs, const char *const *names);

/* 1 if field i of names was asked for. */
static inline int fm_results_want(const fm_results *r, unsigned i)
{
    return (r->fields >> i) & 1u;
}

/* One CSV cell: the separator before it unless first, and the text
 * quoted when it needs to be. */
void fm_results_csv_cell(fm_results *r, int first, const char *text);

/* Hand the buffer to rs as a 200 answer of the chosen media type (500
 * when a write ran out of memory). */
void fm_results_finish(fm_results *r, fm_response *rs);
/* Free the buffer of an answer that was not finished. */
void fm_results_discard(fm_results *r);

#endif

/*
 * codec.h — the wire formats: JSON, NDJSON and CSV to and from lut values.
 *
 * Every parser reports the first fault it finds through lut_error: `field`
 * holds the JSON pointer of the fault relative to the object parsed (e.g.
 * "key/groups", "latency/mean"), `reason` says why, `row` is the 0-based
 * batch row. Parsers never keep references to their inputs.
 */
#ifndef FMAS_SERVER_CODEC_H
#define FMAS_SERVER_CODEC_H

#include <jansson.h>
#include <stddef.h>

#include "http.h"
#include "lut.h"
#include "buf.h"

/* Parse a request body as JSON (duplicate keys rejected). On failure
 * answers 400 malformed-body in rs and returns NULL. A Content-Type other
 * than application/json (or none) is answered 415. */
json_t *fm_read_json_body(const fm_request *rq, fm_response *rs);

/* A layer key object → canonical key. allow_name accepts a string "name"
 * (not part of the key), copied to name (may be NULL) when given. */
int fm_key_from_json(json_t *obj, lut_key *key, char *name, size_t name_size,
                     lut_error *err);
/* A canonical key → JSON object with every meaningful attribute. */
json_t *fm_key_to_json(const lut_key *key);

/* One LUT entry object → row (key canonicalized, values range-checked). */
int fm_entry_from_json(json_t *obj, lut_entry *row, lut_error *err);
json_t *fm_entry_to_json(const lut_entry *row);

/*
 * Parse a whole batch body of the given media type into rows. Returns 0
 * with *rows (malloc'd) and *n, or answers the problem in rs (400 for bodies
 * that do not parse, 415 for other media types, 422 for bad rows and empty
 * batches) and returns -1.
 */
int fm_parse_batch(const fm_request *rq, fm_response *rs, lut_entry **rows, size_t *n);

/*
 * The same parse of a CSV or NDJSON batch fed as it arrives, in pieces cut
 * anywhere. open() returns NULL for other media types (JSON is parsed
 * whole) or when out of memory. feed() keeps the first fault instead of
 * answering it. finish() answers exactly what fm_parse_batch answers for
 * the whole body (400, 422, or the rows, which the caller then owns and
 * frees); free() releases the stream, finished or not.
 */
typedef struct fm_batch_stream fm_batch_stream;
fm_batch_stream *fm_batch_stream_open(const char *content_type);
void fm_batch_stream_feed(fm_batch_stream *st, const char *data, size_t len);
int fm_batch_stream_finish(fm_batch_stream *st, fm_response *rs, lut_entry **rows, size_t *n);
void fm_batch_stream_free(fm_batch_stream *st);

/* The CSV header of the upload format, and one row in that format. */
void fm_csv_header(fm_buf *out);
void fm_csv_row(fm_buf *out, const lut_entry *row);

/* Device fields ↔ JSON. fm_device_from_json clears dev, names it name and
 * fills and checks its user-settable fields from obj. */
int fm_device_from_json(json_t *obj, const char *name, lut_device *dev, lut_error *err);
json_t *fm_device_to_json(const lut_device *dev);

/* 1 if the bytes are valid UTF-8. */
int fm_utf8_valid(const char *s, size_t n);

#endif

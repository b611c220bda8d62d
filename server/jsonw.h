/*
 * jsonw.h — a JSON writer that appends compact JSON text to an fm_buf,
 * for answers too large to build as a Jansson tree first (a batch of
 * 100,000 results is millions of json_t).
 *
 * The text is the same as json_dumps(..., JSON_COMPACT) of the equal tree:
 * strings escaped as Jansson escapes them ('"', '\\' and control bytes;
 * other bytes, UTF-8 included, as they are), reals as "%.17g" with ".0"
 * added to integral values and the exponent without '+' or leading zeros
 * (so every double reads back to the same bits), integers in decimal.
 * A real that is NaN or infinite is written null: NaN is not JSON.
 *
 * The writer puts the commas: call fm_jw_key before each member of an
 * object and one value call per member or element. Nesting is at most
 * FM_JW_DEPTH deep; errors of use (a value where a key is due) are the
 * caller's bugs and are not checked. Out of memory shows in buf->oom.
 */
#ifndef FMAS_SERVER_JSONW_H
#define FMAS_SERVER_JSONW_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define FM_JW_DEPTH 32
/* Room for the text of any double written by fm_json_real_text. */
#define FM_JSON_REAL_MAX 32

typedef struct fm_jw {
    fm_buf *buf;
    unsigned depth;
    unsigned char has_items[FM_JW_DEPTH]; /* a value was written at this level */
    int after_key;                        /* the next value follows a key */
} fm_jw;

/* Start writing into buf (appending to what it holds). */
void fm_jw_init(fm_jw *w, fm_buf *buf);
/* Start a new top-level value on the same buffer (NDJSON lines). */
void fm_jw_reset(fm_jw *w);

void fm_jw_object(fm_jw *w);
void fm_jw_object_end(fm_jw *w);
void fm_jw_array(fm_jw *w);
void fm_jw_array_end(fm_jw *w);
void fm_jw_key(fm_jw *w, const char *key);

void fm_jw_string(fm_jw *w, const char *s);
void fm_jw_int(fm_jw *w, int64_t v);
void fm_jw_uint(fm_jw *w, uint64_t v);
void fm_jw_real(fm_jw *w, double v);
void fm_jw_bool(fm_jw *w, int v);
void fm_jw_null(fm_jw *w);
/* A Jansson value, dumped compactly (NULL writes null). */
void fm_jw_value(fm_jw *w, const json_t *v);

/* The escaped body of a JSON string of n bytes (without the quotes). */
void fm_json_escape(fm_buf *b, const char *s, size_t n);
/* The JSON text of a finite double into out (FM_JSON_REAL_MAX bytes, NUL
 * terminated); returns its length, or 0 (and "null") when v is NaN or
 * infinite. */
size_t fm_json_real_text(double v, char *out);
/* The decimal text of v into out (at least 21 bytes); returns its length. */
size_t fm_json_uint_text(uint64_t v, char *out);

#endif

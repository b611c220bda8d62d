/*
 * buf.h — a growable byte buffer for text answers (CSV, Prometheus text).
 *
 * Start from {0}; data is malloc'd and NUL-terminated, and belongs to the
 * caller (free() it, or hand it to fm_respond_text). An append that cannot
 * grow the buffer sets oom, and every later append is a no-op, so a writer
 * checks once at the end.
 */
#ifndef FMAS_SERVER_BUF_H
#define FMAS_SERVER_BUF_H

#include <stddef.h>

typedef struct fm_buf {
    char *data;
    size_t len, cap;
    int oom; /* set once an append failed; later appends are no-ops */
} fm_buf;

void fm_buf_append(fm_buf *b, const char *s, size_t n);
void fm_buf_printf(fm_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif

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
#include <string.h>

typedef struct fm_buf {
    char *data;
    size_t len, cap; /* cap is 0 once oom is set */
    int oom;         /* set once an append failed; later appends are no-ops */
} fm_buf;

/* The append that grows the buffer (or finds it out of memory). */
void fm_buf_append_slow(fm_buf *b, const char *s, size_t n);

/* Append s[0..n): inline while the buffer has room, as writers of large
 * answers append millions of short pieces. */
static inline void fm_buf_append(fm_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        fm_buf_append_slow(b, s, n);
        return;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}
void fm_buf_printf(fm_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif

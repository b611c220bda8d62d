/*
 * lut_internal.h — declarations shared between the files of lut/ and no one
 * else. Public names are lut_*, cross-file internal names are Lut_* (as curl
 * does with curl_* and Curl_*), everything else is static.
 */
#ifndef FMAS_LUT_INTERNAL_H
#define FMAS_LUT_INTERNAL_H

#include "lut.h"

#include <stdarg.h>
#include <stdint.h>
#include <string.h>

/* Fill err (may be NULL) with row -1, field and a printf-formatted reason. */
void Lut_error_set(lut_error *err, const char *field, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/*
 * 0 when key is exactly what lut_key_canonicalize makes of it (sizes stored
 * as 0 count as "not given", as in the canonical form of unknown ops), else
 * LUT_EINVAL with err naming the field.
 */
int Lut_key_check_canonical(const lut_key *key, lut_error *err);

/*
 * Build a table taking ownership of rows (malloc'd array of n rows with
 * distinct canonical keys; freed on failure too). dev may be NULL.
 */
int Lut_table_build_owned(const lut_device *dev, lut_entry *rows, size_t n,
                          lut_table **out);

/* lut_key_equal for the hot paths: canonical keys have every byte
 * defined (lut_key_init zeroes padding), so comparing the 64-bit words
 * without branches is exact. */
static inline int Lut_key_equal(const lut_key *a, const lut_key *b)
{
    _Static_assert(sizeof(lut_key) % 8 == 0, "lut_key is whole words");
    uint64_t x[sizeof(lut_key) / 8], y[sizeof(lut_key) / 8], d = 0;
    memcpy(x, a, sizeof x);
    memcpy(y, b, sizeof y);
    for (size_t i = 0; i < sizeof x / 8; i++)
        d |= x[i] ^ y[i];
    return d == 0;
}

/* A new reference to table (the count goes up by one). */
lut_table *Lut_table_ref(lut_table *table);

#endif

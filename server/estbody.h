/*
 * estbody.h — a strict one-pass reader of the body of a space estimate,
 * {"devices": [names...], "genomes": [[indices...], ...]}, straight into C
 * arrays, for batches too large to build as a Jansson tree first (100,000
 * genomes are millions of json_t).
 *
 * Contract: fm_estbody_parse either declines (returns 1 and holds nothing)
 * or yields exactly what json_loadb(..., JSON_REJECT_DUPLICATES) of the
 * same bytes holds. It accepts only this shape:
 *   - one object with exactly the members "devices" and "genomes", once
 *     each, in either order, keys without escapes;
 *   - devices: an array (maybe empty) of strings of printable ASCII
 *     (0x20..0x7e) without escapes;
 *   - genomes: an array of 1 to max_genomes arrays (maybe empty) of
 *     integers of at most 9 digits (so each fits an int), without
 *     fraction or exponent;
 *   - JSON whitespace between tokens; nothing after the object.
 * Anything else — another member, an escape, a float, an object genome,
 * deeper nesting, invalid JSON — is declined, so the caller runs its
 * Jansson path and answers exactly as that path answers (same errors,
 * same pointers). Declining is always safe; a fuzz harness
 * (fuzz/fuzz_estbody.c) checks that an accepted body equals Jansson's.
 */
#ifndef FMAS_SERVER_ESTBODY_H
#define FMAS_SERVER_ESTBODY_H

#include <stddef.h>
#include <stdint.h>

typedef struct fm_estbody {
    char **devices;    /* ndevices NUL-terminated names (one block) */
    size_t ndevices;
    int *values;       /* every index of every genome, in order (malloc'd:
                        * the caller may take it and set values NULL) */
    size_t *starts;    /* ngenomes + 1: genome i is values[starts[i] .. starts[i+1]) */
    size_t ngenomes;
} fm_estbody;

/* Read text[0..len) into out (start from {0}). Returns 0 when the body
 * has the shape above, 1 when it declines (out is left empty). */
int fm_estbody_parse(const char *text, size_t len, size_t max_genomes, fm_estbody *out);

/* Free what a parse holds and set it back to {0}. */
void fm_estbody_free(fm_estbody *b);

#endif

/*
 * sur_testing.h — what the surrogate unit tests share: a seeded xorshift*
 * generator (uniform and normal draws) and the cmocka setup that
 * initializes the library.
 */
#ifndef FMAS_SUR_TESTING_H
#define FMAS_SUR_TESTING_H

#include <math.h>
#include <stdint.h>

#include "sur.h"

static inline uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

/* Uniform in [0, 1), 53 bits. */
static inline double rng_unit(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* Standard normal (Box-Muller, one draw of the pair). */
static inline double rng_normal(uint64_t *s)
{
    double u1 = rng_unit(s), u2 = rng_unit(s);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static inline int setup(void **state)
{
    (void)state;
    sur_init();
    return 0;
}

#endif

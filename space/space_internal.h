/*
 * space_internal.h — what the space core (space.c) shares with the coster
 * (space_coster.c). Not installed, not for callers of the library:
 * cross-file internals are Lut_space_* (the Lut_* rule of lut_internal.h).
 * The builder toolkit, the builders and their registry are layers below
 * (space_kit.h lists them); they never include this file.
 */
#ifndef FMAS_SPACE_INTERNAL_H
#define FMAS_SPACE_INTERNAL_H

#include "space.h"
#include "space_kit.h"

/* The segments of a space, in forward order. */
size_t Lut_space_segment_count(const lut_space *space);
const Lut_space_segment *Lut_space_segment_at(const lut_space *space, size_t i);

/* Run segment seg for its combination index combo (mixed radix over its
 * genes, the first gene varying slowest). */
int Lut_space_run_combo(const lut_space *space, const Lut_space_segment *seg,
                        size_t combo, Lut_space_emitter *em);

#endif

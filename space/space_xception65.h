/*
 * space_xception65.h — the deeplabv3plus-xception65 builder (its layers and
 * genes: space_xception65.c, docs/spaces.md). Internal, as space_kit.h.
 */
#ifndef FMAS_SPACE_XCEPTION65_H
#define FMAS_SPACE_XCEPTION65_H

#include "space_kit.h"

/* Declare the space's genes and segments on b (see space_builder.h). */
int Lut_space_define_xception65(Lut_space_draft *b, const lut_space_params *p,
                                lut_error *err);

#endif

/*
 * space_head.h — the DeepLabV3+ head (ASPP and decoder) that both builders
 * append after their backbone. Internal, as space_kit.h.
 */
#ifndef FMAS_SPACE_HEAD_H
#define FMAS_SPACE_HEAD_H

#include "space_kit.h"

/* Where the head sits in the network: the backbone's outputs it reads. */
typedef struct Lut_space_head {
    int64_t cin;          /* channels of the ASPP input */
    int64_t h, w;         /* its size */
    int64_t low_cin;      /* channels of the low-level feature */
    int64_t low_h, low_w; /* its size */
    int64_t rates[3];     /* atrous rates of branches 1..3 */
    int64_t num_classes;
    int64_t input_size;
    int separable; /* separable atrous branches and decoder convs */
} Lut_space_head;

/* Add the head's seven genes ("aspp.branch1..3", "aspp.pool", "aspp.width",
 * "decoder.low_level", "decoder.width", in that order) and its segments,
 * after the backbone's. */
int Lut_space_add_head(Lut_space_draft *b, const Lut_space_head *h);

#endif

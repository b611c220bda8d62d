/*
 * space_params.h — the limits, the built-in builder names and the fixed
 * parameters of a search space: the plain definitions of space.h that the
 * layers below the space API (the builder toolkit, the builders and their
 * registry) use too. Include space.h, which includes this file; it stands
 * alone only so that those layers need not include the API they sit under.
 */
#ifndef FMAS_SPACE_PARAMS_H
#define FMAS_SPACE_PARAMS_H

#include <stdint.h>

#define LUT_SPACE_ID_MAX 65 /* space ids: [a-z0-9._-]{1,64} */
#define LUT_SPACE_GENE_NAME_MAX                                                \
    32                          /* gene names: [A-Za-z0-9._-]{1,31}; they      \
                                   fit lut_error.field whole */
#define LUT_SPACE_DESC_MAX 1025 /* descriptions: at most 1024 bytes */
#define LUT_SPACE_MAX_GENES 1024
#define LUT_SPACE_MAX_CHOICES 256
#define LUT_SPACE_LAYER_NAME_MAX                                               \
    80                           /* module paths, e.g.                         \
                                    "backbone.high_level_features.16.conv.1.0" */
#define LUT_SPACE_COUNT_MAX 2560 /* room for any subnet count in decimal */

/* The built-in builders. */
#define LUT_SPACE_MOBILENETV2 "deeplabv3plus-mobilenetv2"
#define LUT_SPACE_XCEPTION65 "deeplabv3plus-xception65"

/* Fixed parameters of a builder space; zero in a categorical space. */
typedef struct lut_space_params {
    int64_t input_size;    /* square input, 32..2048 */
    int64_t num_classes;   /* 1..1000 */
    int64_t output_stride; /* 16, or 8 */
} lut_space_params;

#endif

/*
 * space_builder.c — the built-in builders by name, with their descriptions.
 */
#include <string.h>

#include "space_builder.h"
#include "space_mobilenetv2.h"
#include "space_xception65.h"

static const Lut_space_builder_def builders[] = {
    {LUT_SPACE_MOBILENETV2,
     "DeepLabV3+ with a MobileNetV2 backbone, as deeplabv3plus_mobilenet of "
     "DeepLabV3Plus-Pytorch: residual blocks may be skipped, every expansion "
     "ratio narrowed, ASPP branches dropped and the ASPP and decoder widths "
     "chosen; the largest genome is the pretrained network.",
     Lut_space_define_mobilenetv2},
    {LUT_SPACE_XCEPTION65,
     "DeepLabV3+ with an aligned Xception-65 backbone and separable head: "
     "middle-flow blocks may be skipped and their widths chosen, the exit "
     "flow narrowed, ASPP branches dropped and the ASPP and decoder widths "
     "chosen; the largest genome is the full network.",
     Lut_space_define_xception65},
};
#define NBUILDERS (sizeof builders / sizeof builders[0])

static const char *const builder_names[] = {LUT_SPACE_MOBILENETV2,
                                            LUT_SPACE_XCEPTION65, NULL};

const Lut_space_builder_def *Lut_space_builder_find(const char *name)
{
    for (size_t i = 0; name && i < NBUILDERS; i++)
        if (!strcmp(builders[i].name, name))
            return &builders[i];
    return NULL;
}

const char *const *Lut_space_builder_names(void) { return builder_names; }

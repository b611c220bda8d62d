/*
 * space_builder.h — the registry of the built-in builders, between the
 * builders (space_<builder>.c) and the space API (space.c). Internal, as
 * space_kit.h.
 */
#ifndef FMAS_SPACE_BUILDER_H
#define FMAS_SPACE_BUILDER_H

#include "space_kit.h"

/* A built-in builder: validates nothing that lut_space_create already
 * checked (the generic parameter ranges) but anything builder-specific. */
typedef struct Lut_space_builder_def {
    const char *name;
    const char *description;
    int (*define)(Lut_space_draft *b, const lut_space_params *p,
                  lut_error *err);
} Lut_space_builder_def;

/* The built-in builder called name, or NULL (also for a NULL name). */
const Lut_space_builder_def *Lut_space_builder_find(const char *name);

/* Their names, NULL-terminated, in a stable order (static storage). */
const char *const *Lut_space_builder_names(void);

#endif

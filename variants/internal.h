/* internal.h — what the variants/ sources share with each other but not with other modules: the
 * registry's shapes and the config.json key handling that `:key=value` overrides reuse. */
#ifndef SHAPEBENCH_VARIANTS_INTERNAL_H
#define SHAPEBENCH_VARIANTS_INTERNAL_H

#include "variants/variants.h"

#include <cjson/cJSON.h>

/* The shape of registry row `index` (< sb_registry_count()), name without org. */
const sb_config *sb_registry_config(size_t index);
/* Index of the row named `name` (without org), or -1. */
ptrdiff_t sb_registry_find(const char *name);
/* Why the embedded registry data failed to load, or NULL when it loaded (sb_registry_count() is 0 then). */
const char *sb_registry_error(void);

/* Applies `key=value` overrides, given as the members of a JSON object, to an existing shape: only the keys
 * given change (num_sparse_*_layers recompute the step from the current depth). Keys are HF config.json
 * names plus shapebench's extras; an unknown or ignored key is an error here, not a warning. */
int sb_config_apply_overrides(sb_config *cfg, const cJSON *object, sb_error *err);

#endif

/* fuzz_names.c — model specs: names, the T5-Efficient grammar, +switch suffixes and :key=value overrides
 * (sb_config_resolve). An accepted spec is a valid shape that counts without overflow, and an identity
 * without a hash resolves to that very shape; a refused one says why. A spec that names a file is read as
 * a config.json, as it would be: absolute paths and '..' are skipped, so only files of the folder fuzzing
 * runs in can be read (config.json text has its own target). */
#include "tests/fuzz/fuzz.h"

#include "variants/variants.h"

#include <stdlib.h>
#include <string.h>

/* The config as text, its name left out. */
static char *shape_text(const sb_config *cfg)
{
    sb_config anonymous = *cfg;
    anonymous.name[0] = '\0';
    return sb_config_to_json(&anonymous);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 2 * SB_NAME_MAX)
        return 0;
    char *spec = fuzz_text(data, size);
    if (spec[0] == '/' || strstr(spec, "..") != NULL) {
        free(spec);
        return 0;
    }
    sb_config cfg;
    sb_error err = {""};
    if (sb_config_resolve(spec, &cfg, NULL, NULL, &err) != 0) {
        fuzz_require(err.msg[0] != '\0', "a refused spec names why", spec);
        free(spec);
        return 0;
    }
    fuzz_require(sb_config_validate(&cfg, &err) == 0, "a resolved spec is valid", err.msg);
    char id[SB_SHAPE_ID_MAX];
    sb_config_identity(&cfg, id);
    if (strchr(id, '#') == NULL) {
        sb_config named;
        fuzz_require(sb_config_resolve(id, &named, NULL, NULL, &err) == 0, "an identity without a hash resolves", id);
        char *a = shape_text(&cfg), *b = shape_text(&named);
        fuzz_require(a != NULL && b != NULL && strcmp(a, b) == 0, "an identity without a hash names this shape", id);
        free(a);
        free(b);
    }
    sb_shape_family(cfg.name);
    sb_shape_scaling(cfg.name);
    const sb_count_settings s = {1, 512, 114, SB_DTYPE_F32};
    sb_counts counts;
    sb_count(&cfg, &s, &counts, NULL);
    free(spec);
    return 0;
}

/* fuzz_config_json.c — config.json text: parsed (sb_config_from_json), and when accepted, a valid shape
 * whose text round-trips (written, read back, written again: the same text) and which counts without
 * overflow (sb_count over a few settings). */
#include "tests/fuzz/fuzz.h"

#include "variants/variants.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sb_config cfg, again;
    sb_error err = {""};
    if (sb_config_from_json((const char *)data, size, &cfg, NULL, NULL, &err) != 0) {
        fuzz_require(err.msg[0] != '\0', "a refused config.json names why", NULL);
        return 0;
    }
    fuzz_require(sb_config_validate(&cfg, &err) == 0, "an accepted config is valid", err.msg);
    char *text = sb_config_to_json(&cfg);
    fuzz_require(text != NULL, "an accepted config is written", NULL);
    fuzz_require(sb_config_from_json(text, strlen(text), &again, NULL, NULL, &err) == 0, "the written text reads back",
                 err.msg);
    char *second = sb_config_to_json(&again);
    fuzz_require(second != NULL && strcmp(text, second) == 0, "the text round-trips", text);
    free(text);
    free(second);
    char id[SB_SHAPE_ID_MAX];
    sb_config_identity(&cfg, id);
    static const sb_count_settings settings[] = {{1, 512, 114, SB_DTYPE_F32}, {64, 1 << 20, 1 << 20, SB_DTYPE_BF16}};
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
        sb_counts counts;
        sb_count(&cfg, &settings[i], &counts, NULL);
    }
    return 0;
}

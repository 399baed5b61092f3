/* fixture_io.c — the int32 input arrays of a fixture-style folder (the format of tests/fixtures and of
 * `forward`'s output: DIR/expected.json indexes raw little-endian C-order files), for `forward` and `grad`. */
#include "cli/cli.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One array listed in `arrays`: 0 with in->data set, or left NULL when absent; -1 with err set when invalid. */
static int read_array(const char *dir, const cJSON *arrays, sb_fixture_input *in, sb_error *err)
{
    const cJSON *entry = cJSON_GetObjectItemCaseSensitive(arrays, in->key);
    if (entry == NULL)
        return 0;
    const cJSON *file = cJSON_GetObjectItemCaseSensitive(entry, "file");
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(entry, "dtype");
    const cJSON *dims = cJSON_GetObjectItemCaseSensitive(entry, "shape");
    if (!cJSON_IsString(file) || !cJSON_IsString(dtype) || strcmp(dtype->valuestring, "int32") != 0 ||
        cJSON_GetArraySize(dims) != 2 || strchr(file->valuestring, '/') != NULL)
        return sb_fail(err, "%s: array %s must be int32 of shape [B, len] in a file of the folder", dir, in->key);
    for (int i = 0; i < 2; i++) {
        const cJSON *d = cJSON_GetArrayItem(dims, i);
        /* A whole number of rows and columns: [2.9, 16.99] is no shape, not [2, 16]. */
        if (!cJSON_IsNumber(d) || !(d->valuedouble >= 1 && d->valuedouble <= 1 << 24) ||
            d->valuedouble != (double)(int64_t)d->valuedouble)
            return sb_fail(err, "%s: array %s: each shape entry must be a whole number in 1..%d", dir, in->key,
                           1 << 24);
        in->shape[i] = (int64_t)d->valuedouble;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file->valuestring);
    size_t len = 0;
    char *data = NULL;
    if (sb_read_file(path, &data, &len, err) != 0)
        return -1;
    const size_t need = (size_t)(in->shape[0] * in->shape[1]) * sizeof(int32_t);
    if (len != need) {
        free(data);
        return sb_fail(err, "%s holds %zu bytes, its shape [%" PRId64 ", %" PRId64 "] needs %zu", path, len,
                       in->shape[0], in->shape[1], need);
    }
    in->data = (int32_t *)data;
    return 0;
}

int sb_fixture_read(const char *dir, sb_fixture_input *inputs, size_t count, sb_error *err)
{
    for (size_t i = 0; i < count; i++)
        inputs[i].data = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/expected.json", dir);
    size_t len = 0;
    char *text = NULL;
    if (sb_read_file(path, &text, &len, err) != 0)
        return -1;
    /* Required to end at the file's end: nothing may follow the JSON object (a NUL byte included). */
    cJSON *root = memchr(text, '\0', len) == NULL ? cJSON_ParseWithLengthOpts(text, len + 1, NULL, true) : NULL;
    free(text);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return sb_fail(err, "%s is not one JSON object", path);
    }
    const cJSON *arrays = cJSON_GetObjectItemCaseSensitive(root, "arrays");
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        rc = read_array(dir, arrays, &inputs[i], err);
        if (rc == 0 && inputs[i].data == NULL && inputs[i].required)
            rc = sb_fail(err, "%s lists no %s (an int32 [B, len] array the command requires)", path, inputs[i].key);
    }
    cJSON_Delete(root);
    if (rc != 0)
        sb_fixture_free(inputs, count);
    return rc;
}

void sb_fixture_free(sb_fixture_input *inputs, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free(inputs[i].data);
        inputs[i].data = NULL;
    }
}

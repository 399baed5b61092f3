/* safetensors.c — the model.safetensors format: an 8-byte little-endian header length N, N bytes of JSON
 * naming each tensor's dtype, shape and byte range, then the data. The reader trusts nothing: every header
 * field is checked against the file and the weights table before a byte of tensor data is touched. */
#include "engine/weights/weights.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The reference implementation's limit; a larger value is corruption, not a model. */
#define SB_HEADER_MAX (100 * 1000 * 1000)
/* Offsets and shape entries are JSON numbers (doubles): integers beyond 2^53 are not exact. */
#define SB_JSON_INT_MAX 9007199254740992.0

typedef enum { FILE_F32, FILE_BF16, FILE_F16 } file_dtype;

typedef struct {
    const char *name;       /* points into the parsed JSON */
    file_dtype dtype;
    int ndim;
    int64_t shape[2];
    int64_t begin, end;     /* byte range in the data region */
    const sb_tensor *slot;  /* the table tensor it fills; NULL for an ignored alias */
} entry;

static bool is_utf8(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        if (c == 0 || len == 0 || i + len > n)
            return false;
        uint32_t cp = len == 1 ? c : c & (0x7F >> len);
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        /* Overlong forms, surrogates and code points past U+10FFFF. */
        static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (len > 1 && (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)))
            return false;
        i += len;
    }
    return true;
}

static int json_int(const cJSON *item, int64_t *out)
{
    if (!cJSON_IsNumber(item))
        return -1;
    double v = item->valuedouble;
    if (!(v >= 0 && v <= SB_JSON_INT_MAX) || v != (double)(int64_t)v)
        return -1;
    *out = (int64_t)v;
    return 0;
}

static int parse_entry(const char *path, const cJSON *item, entry *e, sb_error *err)
{
    e->name = item->string;
    if (!cJSON_IsObject(item))
        return sb_fail(err, "%s: header entry '%s' is not an object", path, e->name);
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (dtype == NULL || shape == NULL || offsets == NULL)
        return sb_fail(err, "%s: tensor '%s' lacks %s in the header", path, e->name,
                       dtype == NULL ? "\"dtype\"" : shape == NULL ? "\"shape\"" : "\"data_offsets\"");
    if (!cJSON_IsString(dtype))
        return sb_fail(err, "%s: tensor '%s' has a dtype that is not a string", path, e->name);
    static const struct {
        const char *name;
        file_dtype dtype;
    } dtypes[] = {{"F32", FILE_F32}, {"BF16", FILE_BF16}, {"F16", FILE_F16}};
    size_t d = 0;
    while (d < 3 && strcmp(dtype->valuestring, dtypes[d].name) != 0)
        d++;
    if (d == 3)
        return sb_fail(err, "%s: tensor '%s' has dtype '%.32s'; shapebench reads F32, BF16 and F16 only", path,
                       e->name, dtype->valuestring);
    e->dtype = dtypes[d].dtype;

    if (!cJSON_IsArray(shape))
        return sb_fail(err, "%s: tensor '%s' has a shape that is not an array", path, e->name);
    int rank = cJSON_GetArraySize(shape);
    if (rank < 1 || rank > 2)
        return sb_fail(err, "%s: tensor '%s' has %d dimensions; every T5 tensor has 1 or 2", path, e->name, rank);
    e->ndim = rank;
    e->shape[1] = 0;
    int64_t numel = 1;
    for (int i = 0; i < rank; i++)
        if (json_int(cJSON_GetArrayItem(shape, i), &e->shape[i]) != 0 || sb_mul_i64(numel, e->shape[i], &numel) != 0)
            return sb_fail(err, "%s: tensor '%s' has a shape entry that is not a small non-negative integer", path,
                           e->name);

    if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2 ||
        json_int(cJSON_GetArrayItem(offsets, 0), &e->begin) != 0 ||
        json_int(cJSON_GetArrayItem(offsets, 1), &e->end) != 0 || e->begin > e->end)
        return sb_fail(err, "%s: tensor '%s' needs data_offsets [begin, end] with 0 <= begin <= end", path, e->name);
    int64_t bytes;
    if (sb_mul_i64(numel, e->dtype == FILE_F32 ? 4 : 2, &bytes) != 0)
        return sb_fail(err, "%s: tensor '%s' has a shape whose size in bytes overflows 64 bits", path, e->name);
    if (bytes != e->end - e->begin)
        return sb_fail(err, "%s: tensor '%s' spans %lld bytes but its shape and dtype need %lld", path, e->name,
                       (long long)(e->end - e->begin), (long long)bytes);
    return 0;
}

static bool is_shared_alias(const sb_weights *w, const char *name)
{
    return strcmp(name, "encoder.embed_tokens.weight") == 0 || strcmp(name, "decoder.embed_tokens.weight") == 0 ||
           (w->cfg.tie_word_embeddings && strcmp(name, "lm_head.weight") == 0);
}

static void format_shape(char *buf, size_t size, int ndim, const int64_t *shape)
{
    if (ndim == 1)
        snprintf(buf, size, "[%lld]", (long long)shape[0]);
    else
        snprintf(buf, size, "[%lld, %lld]", (long long)shape[0], (long long)shape[1]);
}

/* Points each entry at the table tensor it fills and checks the table is covered exactly once. */
static int match_table(const char *path, sb_weights *w, entry *entries, size_t n, sb_warn_fn warn, void *warn_ctx,
                       sb_error *err)
{
    const sb_tensor *shared = sb_weights_find(w, "shared.weight");
    entry **filled = calloc(w->num_tensors, sizeof *filled);
    if (filled == NULL)
        return sb_fail(err, "out of memory matching %zu tensors", w->num_tensors);
    entry *alias = NULL;
    bool tied_head = false;
    int rc = -1;
    for (size_t i = 0; i < n; i++) {
        entry *e = &entries[i];
        const sb_tensor *t = sb_weights_find(w, e->name);
        bool is_alias = t == NULL && is_shared_alias(w, e->name);
        if (is_alias)
            t = shared;
        if (t == NULL) {
            sb_fail(err, "%s: holds tensor '%s', which this config (%s) does not have", path, e->name, w->cfg.name);
            goto done;
        }
        if (e->ndim != t->ndim || e->shape[0] != t->shape[0] || e->shape[1] != t->shape[1]) {
            char have[64], want[64];
            format_shape(have, sizeof have, e->ndim, e->shape);
            format_shape(want, sizeof want, t->ndim, t->shape);
            sb_fail(err, "%s: tensor '%s' has shape %s but the config needs %s", path, e->name, have, want);
            goto done;
        }
        if (is_alias) {
            tied_head |= strcmp(e->name, "lm_head.weight") == 0;
            if (alias == NULL)
                alias = e;
            continue;
        }
        size_t index = (size_t)(t - w->tensors);
        if (filled[index] != NULL) {
            sb_fail(err, "%s: tensor '%s' appears twice in the header", path, e->name);
            goto done;
        }
        filled[index] = e;
        e->slot = t;
    }
    /* HF drops tied copies when saving, so shared.weight may only be present under an alias name. */
    size_t shared_index = (size_t)(shared - w->tensors);
    if (filled[shared_index] == NULL && alias != NULL) {
        filled[shared_index] = alias;
        alias->slot = shared;
    }
    if (tied_head && filled[shared_index] != NULL && strcmp(filled[shared_index]->name, "lm_head.weight") != 0 &&
        warn != NULL)
        warn(warn_ctx, "lm_head.weight in model.safetensors ignored: the config ties it to shared.weight");
    size_t missing = 0, first = 0;
    for (size_t i = 0; i < w->num_tensors; i++)
        if (filled[i] == NULL && missing++ == 0)
            first = i;
    if (missing > 0) {
        sb_fail(err, "%s: lacks tensor '%s'%s that the config needs", path, w->tensors[first].name,
                missing > 1 ? " (and others)" : "");
        goto done;
    }
    rc = 0;
done:
    free(filled);
    return rc;
}

static int compare_begin(const void *a, const void *b)
{
    const entry *x = *(const entry *const *)a, *y = *(const entry *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* Every byte range inside the data region and no two overlapping. */
static int check_ranges(const char *path, entry *entries, size_t n, int64_t data_bytes, sb_error *err)
{
    entry **order = malloc((n > 0 ? n : 1) * sizeof *order);
    if (order == NULL)
        return sb_fail(err, "out of memory checking %zu tensors", n);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        order[i] = &entries[i];
        if (entries[i].end > data_bytes)
            rc = sb_fail(err, "%s: tensor '%s' ends at byte %lld, past the %lld-byte data region (truncated file?)",
                         path, entries[i].name, (long long)entries[i].end, (long long)data_bytes);
    }
    if (rc == 0) {
        qsort(order, n, sizeof *order, compare_begin);
        for (size_t i = 1; i < n && rc == 0; i++)
            if (order[i]->begin < order[i - 1]->end && order[i]->begin < order[i]->end)
                rc = sb_fail(err, "%s: tensors '%s' and '%s' overlap in the data region", path, order[i - 1]->name,
                             order[i]->name);
    }
    free(order);
    return rc;
}

static void copy_tensor(const sb_weights *w, const entry *e, const unsigned char *data)
{
    const unsigned char *src = data + e->begin;
    void *dst = sb_tensor_data(w, e->slot);
    const int64_t n = e->slot->numel;
    bool same = (e->dtype == FILE_F32 && w->dtype == SB_DTYPE_F32) ||
                (e->dtype == FILE_BF16 && w->dtype == SB_DTYPE_BF16);
    if (same) {
        memcpy(dst, src, (size_t)(e->end - e->begin));
        return;
    }
    /* Through fp32 in blocks; file data need not be aligned, hence memcpy per element. */
    float block[1024];
    for (int64_t at = 0; at < n; at += 1024) {
        int64_t m = n - at < 1024 ? n - at : 1024;
        for (int64_t i = 0; i < m; i++) {
            const unsigned char *p = src + (at + i) * (e->dtype == FILE_F32 ? 4 : 2);
            uint16_t bits;
            if (e->dtype == FILE_F32) {
                memcpy(&block[i], p, 4);
                continue;
            }
            memcpy(&bits, p, 2);
            block[i] = e->dtype == FILE_BF16 ? sb_bf16_to_f32(bits) : sb_f16_to_f32(bits);
        }
        sb_dtype_from_f32(w->dtype, block, (char *)dst + at * sb_dtype_bytes(w->dtype), m);
    }
}

/* Validates the header of a file of at least 8 bytes and copies the data. */
static int read_mapped(const char *path, const unsigned char *file, int64_t size, sb_weights *w, sb_warn_fn warn,
                       void *warn_ctx, sb_error *err)
{
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; i--)
        header_len = header_len << 8 | file[i];
    if (header_len > SB_HEADER_MAX)
        return sb_fail(err, "%s: header length %llu is absurd (limit %d bytes): not a safetensors file", path,
                       (unsigned long long)header_len, SB_HEADER_MAX);
    if (header_len > (uint64_t)(size - 8))
        return sb_fail(err, "%s: header length %llu runs past the end of the %lld-byte file", path,
                       (unsigned long long)header_len, (long long)size);
    const unsigned char *header = file + 8;
    if (!is_utf8(header, header_len))
        return sb_fail(err, "%s: header is not UTF-8 text: not a safetensors file", path);
    /* cJSON needs the terminating NUL to reject trailing garbage. */
    char *text = malloc(header_len + 1);
    if (text == NULL)
        return sb_fail(err, "out of memory for a %llu-byte header", (unsigned long long)header_len);
    memcpy(text, header, header_len);
    text[header_len] = '\0';
    cJSON *json = cJSON_ParseWithLengthOpts(text, header_len + 1, NULL, true);
    free(text);
    if (json == NULL || !cJSON_IsObject(json)) {
        cJSON_Delete(json);
        return sb_fail(err, "%s: header is not a JSON object: not a safetensors file", path);
    }

    size_t n = 0;
    for (const cJSON *item = json->child; item != NULL; item = item->next)
        n++;
    entry *entries = calloc(n > 0 ? n : 1, sizeof *entries);
    int rc = entries == NULL ? sb_fail(err, "out of memory for %zu header entries", n) : 0;
    size_t count = 0;
    for (const cJSON *item = json->child; item != NULL && rc == 0; item = item->next) {
        if (strcmp(item->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(item))
                rc = sb_fail(err, "%s: __metadata__ is not an object", path);
            for (const cJSON *m = item->child; m != NULL && rc == 0; m = m->next)
                if (!cJSON_IsString(m))
                    rc = sb_fail(err, "%s: __metadata__ value '%s' is not a string", path, m->string);
            continue;
        }
        rc = parse_entry(path, item, &entries[count++], err);
    }
    const int64_t data_bytes = size - 8 - (int64_t)header_len;
    if (rc == 0)
        rc = match_table(path, w, entries, count, warn, warn_ctx, err);
    if (rc == 0)
        rc = check_ranges(path, entries, count, data_bytes, err);
    if (rc == 0) {
        const unsigned char *data = header + header_len;
#pragma omp parallel for schedule(dynamic)
        for (size_t i = 0; i < count; i++)
            if (entries[i].slot != NULL)
                copy_tensor(w, &entries[i], data);
    }
    free(entries);
    cJSON_Delete(json);
    return rc;
}

int sb_safetensors_read(const char *path, sb_weights *w, sb_warn_fn warn, void *warn_ctx, sb_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sb_fail(err, "%s: cannot open: %m", path);
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return sb_fail(err, "%s: not a regular file", path);
    }
    if (st.st_size < 8) {
        close(fd);
        return sb_fail(err, "%s: %lld bytes is too short for a safetensors file", path, (long long)st.st_size);
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return sb_fail(err, "%s: cannot map %lld bytes: %m", path, (long long)st.st_size);
    madvise(map, (size_t)st.st_size, MADV_SEQUENTIAL);
    sb_weights_mark_plain(w);
    int rc = read_mapped(path, map, st.st_size, w, warn, warn_ctx, err);
    munmap(map, (size_t)st.st_size);
    return rc;
}

int sb_safetensors_write(const sb_weights *w, FILE *out, sb_error *err)
{
    if (sb_weights_require_plain(w, "writing a safetensors file", err) != 0)
        return -1;
    const char *dtype = w->dtype == SB_DTYPE_F32 ? "F32" : "BF16";
    const int64_t elem = sb_dtype_bytes(w->dtype);
    /* Each entry is the name plus at most ~140 characters of fields. */
    size_t cap = 64;
    for (size_t i = 0; i < w->num_tensors; i++)
        cap += strlen(w->tensors[i].name) + 160;
    char *header = malloc(cap);
    if (header == NULL)
        return sb_fail(err, "out of memory for a %zu-byte safetensors header", cap);
    size_t len = (size_t)snprintf(header, cap, "{\"__metadata__\":{\"format\":\"pt\"}");
    int64_t offset = 0;
    for (size_t i = 0; i < w->num_tensors; i++) {
        const sb_tensor *t = &w->tensors[i];
        char shape[64];
        format_shape(shape, sizeof shape, t->ndim, t->shape);
        len += (size_t)snprintf(header + len, cap - len,
                                ",\"%s\":{\"dtype\":\"%s\",\"shape\":%s,\"data_offsets\":[%lld,%lld]}", t->name, dtype,
                                shape, (long long)offset, (long long)(offset + t->numel * elem));
        offset += t->numel * elem;
    }
    header[len++] = '}';
    /* Spaces pad the header to 8 bytes, as the reference writer does, so the data starts aligned. */
    while (len % 8 != 0)
        header[len++] = ' ';
    unsigned char prefix[8];
    for (int i = 0; i < 8; i++)
        prefix[i] = (unsigned char)((uint64_t)len >> (8 * i));
    bool ok = fwrite(prefix, 1, 8, out) == 8 && fwrite(header, 1, len, out) == len;
    free(header);
    for (size_t i = 0; i < w->num_tensors && ok; i++) {
        size_t bytes = (size_t)(w->tensors[i].numel * elem);
        ok = fwrite(sb_tensor_data(w, &w->tensors[i]), 1, bytes, out) == bytes;
    }
    return ok ? 0 : sb_fail(err, "cannot write model.safetensors: %m");
}

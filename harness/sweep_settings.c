/* sweep_settings.c — the settings of a sweep by name, each parsed in one place with one range: what `run`'s
 * options (--src 128-512*2) and a sweep file's keys ("src": [128, 256]) both go through, so the two accept
 * the same values and refuse the rest with the same message. */
#include "harness/harness.h"

#include <stdlib.h>
#include <string.h>

/* Comma-separated words, each parsed by `parse` into out (elements of `size` bytes), at most cap of them. */
typedef int (*word_parser)(const char *word, void *out, sb_error *err);

static int parse_words(const char *text, word_parser parse, void *out, size_t size, size_t cap, size_t *n,
                       sb_error *err)
{
    char *copy = strdup(text);
    if (copy == NULL)
        return sb_fail(err, "out of memory");
    int rc = 0;
    *n = 0;
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok != NULL && rc == 0;
         tok = strtok_r(NULL, ",", &save)) {
        if (*n == cap)
            rc = sb_fail(err, "'%s' lists more than %zu values", text, cap);
        else if ((rc = parse(tok, (char *)out + *n * size, err)) == 0)
            (*n)++;
    }
    free(copy);
    if (rc == 0 && *n == 0)
        rc = sb_fail(err, "needs at least one value");
    return rc;
}

static int mode_word(const char *word, void *out, sb_error *err)
{
    return sb_mode_parse(word, out, err);
}

static int precision_word(const char *word, void *out, sb_error *err)
{
    return sb_precision_parse(word, out, err);
}

static int gemm_word(const char *word, void *out, sb_error *err)
{
    return sb_gemm_parse_backend(word, out, err);
}

int sb_parse_modes(const char *text, sb_mode out[SB_MODE_COUNT], size_t *n, sb_error *err)
{
    return parse_words(text, mode_word, out, sizeof *out, SB_MODE_COUNT, n, err);
}

int sb_parse_precisions(const char *text, sb_precision out[SB_PRECISIONS], size_t *n, sb_error *err)
{
    return parse_words(text, precision_word, out, sizeof *out, SB_PRECISIONS, n, err);
}

int sb_parse_gemms(const char *text, sb_gemm_backend out[2], size_t *n, sb_error *err)
{
    return parse_words(text, gemm_word, out, sizeof *out, 2, n, err);
}

static int whole(const char *text, int64_t min, int64_t max, int64_t *out, sb_error *err)
{
    if (sb_parse_i64(text, min, max, out) == 0)
        return 0;
    if (max == INT64_MAX)
        return sb_fail(err, "'%s' must be a whole number >= %lld", text, (long long)min);
    return sb_fail(err, "'%s' must be a whole number in %lld..%lld", text, (long long)min, (long long)max);
}

static int seconds(const char *text, double *out, sb_error *err)
{
    if (sb_parse_f64(text, 0, 1e6, out) == 0)
        return 0;
    return sb_fail(err, "'%s' must be a number of seconds in [0, 1e+06]", text);
}

static int list(const char *text, int64_t min, int64_t max, sb_i64_list *out, sb_error *err)
{
    sb_i64_list parsed;
    if (sb_parse_list(text, min, max, &parsed, err) != 0)
        return -1;
    free(out->v);
    *out = parsed;
    return 0;
}

const sb_sweep_setting sb_sweep_settings[SB_SWEEP_SETTINGS] = {
    {"mode", SB_SETTING_WORDS},     {"batch", SB_SETTING_NUMBERS},   {"src", SB_SETTING_NUMBERS},
    {"tgt", SB_SETTING_NUMBERS},    {"dtype", SB_SETTING_WORDS},     {"gemm", SB_SETTING_WORDS},
    {"threads", SB_SETTING_NUMBERS}, {"warmup", SB_SETTING_NUMBER},  {"min-reps", SB_SETTING_NUMBER},
    {"min-time", SB_SETTING_NUMBER}, {"max-time", SB_SETTING_NUMBER}, {"seed", SB_SETTING_NUMBER},
    {"extrapolate", SB_SETTING_WORD},
};

int sb_sweep_spec_set(sb_sweep_spec *spec, const char *name, const char *text, sb_error *err)
{
    sb_run_settings *b = &spec->base;
    int64_t v;
    if (strcmp(name, "mode") == 0)
        return sb_parse_modes(text, spec->modes, &spec->nmodes, err);
    if (strcmp(name, "batch") == 0)
        return list(text, 1, SB_BATCH_MAX, &spec->batch, err);
    if (strcmp(name, "src") == 0)
        return list(text, 1, SB_TOKENS_MAX, &spec->src, err);
    if (strcmp(name, "tgt") == 0)
        return list(text, 1, SB_TOKENS_MAX, &spec->tgt, err);
    if (strcmp(name, "dtype") == 0)
        return sb_parse_precisions(text, spec->precisions, &spec->nprecisions, err);
    if (strcmp(name, "gemm") == 0)
        return sb_parse_gemms(text, spec->gemms, &spec->ngemms, err);
    if (strcmp(name, "threads") == 0)
        return list(text, 0, SB_THREADS_MAX, &spec->threads, err);
    if (strcmp(name, "warmup") == 0)
        return whole(text, 0, SB_REPS_MAX, &b->warmup, err);
    if (strcmp(name, "min-reps") == 0)
        return whole(text, 1, SB_REPS_MAX, &b->min_reps, err);
    if (strcmp(name, "min-time") == 0)
        return seconds(text, &b->min_time_s, err);
    if (strcmp(name, "max-time") == 0)
        return seconds(text, &b->max_time_s, err);
    if (strcmp(name, "seed") == 0) {
        if (whole(text, 0, INT64_MAX, &v, err) != 0)
            return -1;
        b->seed = (uint64_t)v;
        return 0;
    }
    if (strcmp(name, "extrapolate") == 0) {
        if (strcmp(text, "auto") != 0 && strcmp(text, "always") != 0)
            return sb_fail(err, "'%s' must be auto or always", text);
        b->always_sample = strcmp(text, "always") == 0;
        return 0;
    }
    return sb_fail(err, "'%s' is not a setting of a sweep", name);
}

int sb_sweep_spec_defaults(sb_sweep_spec *spec, sb_error *err)
{
    static const char *const defaults[][2] = {{"mode", "forward"}, {"batch", "1"}, {"src", "512"}, {"tgt", "114"},
                                              {"dtype", "f32"},    {"threads", "0"}};
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
        if (sb_sweep_spec_set(spec, defaults[i][0], defaults[i][1], err) != 0)
            return -1;
    return 0;
}

/* fuzz_ranges.c — numbers and ranges as the command line gives them: the strict number parsers, list and
 * range syntax (128-1024*2), the shared options' values (--threads, --gemm, --dtype, --seed, --format,
 * seconds), a sweep's settings by name (run's options, a sweep file's keys), shards and pareto axes. The
 * first byte picks the parser, the rest is the text. Accepted values are in their range; an accepted whole
 * number prints back as the same text's value. */
#include "tests/fuzz/fuzz.h"

#include "cli/cli.h"

#include <float.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void numbers(const char *text)
{
    int64_t i = 0;
    if (sb_parse_i64(text, -1000, 1000000, &i) == 0) {
        fuzz_require(i >= -1000 && i <= 1000000, "a whole number in its range", text);
        char back[32];
        snprintf(back, sizeof back, "%" PRId64, i);
        int64_t again = 0;
        fuzz_require(sb_parse_i64(back, INT64_MIN, INT64_MAX, &again) == 0 && again == i, "it reads back", back);
    }
    double d = 0;
    if (sb_parse_f64(text, -1e6, 1e6, &d) == 0)
        fuzz_require(d >= -1e6 && d <= 1e6, "a real number in its range", text);
    if (sb_parse_f64(text, -DBL_MAX, DBL_MAX, &d) == 0)
        fuzz_require(sb_parse_i64(text, INT64_MIN, INT64_MAX, &i) != 0 || (double)i == d || d != d,
                     "a whole number reads alike as an integer and a real", text);
}

static void list(const char *text)
{
    sb_i64_list l = {0};
    sb_error err = {""};
    if (sb_parse_list(text, 1, 1 << 20, &l, &err) == 0) {
        fuzz_require(l.n > 0, "an accepted list has values", text);
        for (size_t k = 0; k < l.n; k++)
            fuzz_require(l.v[k] >= 1 && l.v[k] <= 1 << 20, "every value in range", text);
    } else {
        fuzz_require(err.msg[0] != '\0', "a refused list names why", text);
    }
    free(l.v);
}

static void options(const char *text)
{
    int64_t i;
    double d;
    uint64_t seed;
    int threads;
    sb_i64_list l = {0};
    sb_gemm_backend gemms[2];
    sb_precision precisions[SB_PRECISIONS];
    size_t n;
    sb_format format;
    if (sb_opt_integer("fuzz", "n", text, 1, 100, &i) == SB_EXIT_OK)
        fuzz_require(i >= 1 && i <= 100, "--n in range", text);
    if (sb_opt_seconds("fuzz", "t", text, &d) == SB_EXIT_OK)
        fuzz_require(d >= 0 && d <= 1e6, "seconds in range", text);
    if (sb_opt_threads("fuzz", text, &threads) == SB_EXIT_OK)
        fuzz_require(threads >= 0 && threads <= SB_THREADS_MAX, "--threads in range", text);
    if (sb_opt_threads_list("fuzz", text, &l) == SB_EXIT_OK)
        for (size_t k = 0; k < l.n; k++)
            fuzz_require(l.v[k] >= 0 && l.v[k] <= SB_THREADS_MAX, "--threads list in range", text);
    free(l.v);
    if (sb_opt_gemm_list("fuzz", text, gemms, &n) == SB_EXIT_OK)
        fuzz_require(n >= 1 && n <= 2, "--gemm lists one or two", text);
    if (sb_opt_precision_list("fuzz", text, precisions, &n) == SB_EXIT_OK)
        fuzz_require(n >= 1 && n <= SB_PRECISIONS, "--dtype lists one to three precisions", text);
    sb_opt_seed("fuzz", text, &seed);
    sb_opt_format("fuzz", text, &format);
}

/* A sweep's settings by name, as run's options and a sweep file's keys give them: accepted values are in
 * their range; a refusal says why. */
static void settings(const char *text)
{
    for (size_t k = 0; k < SB_SWEEP_SETTINGS; k++) {
        sb_sweep_spec spec;
        sb_error err = {""};
        sb_sweep_spec_init(&spec);
        if (sb_sweep_spec_set(&spec, sb_sweep_settings[k].name, text, &err) != 0)
            fuzz_require(err.msg[0] != '\0', "a refused setting names why", text);
        const struct {
            const sb_i64_list *l;
            int64_t min, max;
        } lists[] = {{&spec.batch, 1, SB_BATCH_MAX},
                     {&spec.src, 1, SB_TOKENS_MAX},
                     {&spec.tgt, 1, SB_TOKENS_MAX},
                     {&spec.threads, 0, SB_THREADS_MAX}};
        for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
            for (size_t j = 0; j < lists[i].l->n; j++)
                fuzz_require(lists[i].l->v[j] >= lists[i].min && lists[i].l->v[j] <= lists[i].max,
                             "a list setting in range", text);
        fuzz_require(spec.nmodes <= SB_MODE_COUNT && spec.nprecisions <= SB_PRECISIONS && spec.ngemms <= 2,
                     "at most one of each word", text);
        fuzz_require(spec.base.warmup >= 0 && spec.base.warmup <= SB_REPS_MAX && spec.base.min_reps >= 1 &&
                         spec.base.min_reps <= SB_REPS_MAX,
                     "repetitions in range", text);
        fuzz_require(spec.base.min_time_s >= 0 && spec.base.min_time_s <= 1e6 && spec.base.max_time_s >= 0 &&
                         spec.base.max_time_s <= 1e6,
                     "seconds in range", text);
        sb_sweep_spec_free(&spec);
    }
}

static void others(const char *text)
{
    int index = 0, count = 0;
    sb_error err;
    if (sb_parse_shard(text, &index, &count, &err) == 0)
        fuzz_require(index >= 1 && index <= count, "a shard i/N has 1 <= i <= N", text);
    char field[128];
    sb_pareto_dir dir;
    if (sb_pareto_parse_axis(text, SB_PARETO_MIN, field, sizeof field, &dir, &err) == 0)
        fuzz_require(strlen(field) < sizeof field, "an axis field fits", text);
    sb_mode mode;
    sb_mode_parse(text, &mode, &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool quiet;
    if (!quiet)
        stderr = fopen("/dev/null", "w"); /* the options' one-line messages; sanitizers write to fd 2 */
    quiet = true;
    if (size == 0)
        return 0;
    char *text = fuzz_text(data + 1, size - 1);
    switch (data[0] % 4) {
    case 0: numbers(text); break;
    case 1: list(text); break;
    case 2:
        options(text);
        settings(text);
        break;
    default: others(text); break;
    }
    free(text);
    return 0;
}

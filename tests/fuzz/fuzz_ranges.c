/* fuzz_ranges.c — numbers and ranges as the command line gives them: the strict number parsers, list and
 * range syntax (128-1024*2), the shared options' values (--threads, --gemm, --dtype, --seed, --format,
 * seconds), shards and pareto axes. The first byte picks the parser, the rest is the text. Accepted values
 * are in their range; an accepted whole number prints back as the same text's value. */
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
    case 2: options(text); break;
    default: others(text); break;
    }
    free(text);
    return 0;
}

/* cmd_compare.c — `shapebench compare`: per-key speed ratio of two result sets, with a Mann-Whitney U test
 * on the raw samples (each side may pool repeated runs). */
#include "cli/cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A side of a comparison: one results folder, or several (comma-separated) whose samples of the same key
 * are pooled, so that runs repeated at different times (A B B A) count as one measurement. */
#define SB_COMPARE_MAX_SETS 16
typedef struct {
    sb_record_set sets[SB_COMPARE_MAX_SETS];
    size_t count;
} compare_side;

static void side_free(compare_side *side)
{
    for (size_t i = 0; i < side->count; i++)
        sb_record_set_free(&side->sets[i]);
    side->count = 0;
}

static int side_load(const char *list, compare_side *side, sb_error *err)
{
    side->count = 0;
    char copy[8192], *save = NULL;
    if (snprintf(copy, sizeof copy, "%s", list) >= (int)sizeof copy)
        return sb_fail(err, "folder list too long: %.60s...", list);
    for (char *dir = strtok_r(copy, ",", &save); dir != NULL; dir = strtok_r(NULL, ",", &save)) {
        if (side->count == SB_COMPARE_MAX_SETS) {
            side_free(side);
            return sb_fail(err, "at most %d folders per side", SB_COMPARE_MAX_SETS);
        }
        if (sb_records_load(dir, &side->sets[side->count], sb_cli_warn, (void *)"compare", err) != 0) {
            side_free(side);
            return -1;
        }
        side->count++;
    }
    return side->count > 0 ? 0 : sb_fail(err, "no results folder in \"%s\"", list);
}

/* Every timed sample of `key` on this side (malloc'd into *out, NULL when none). */
static size_t side_samples(const compare_side *side, const char *key, double **out)
{
    size_t n = 0, cap = 0;
    *out = NULL;
    for (size_t i = 0; i < side->count; i++) {
        const cJSON *record = sb_record_set_find(&side->sets[i], key);
        const cJSON *samples = sb_record_field(record, SB_F_TIMING_SAMPLES);
        const cJSON *v;
        cJSON_ArrayForEach(v, samples)
        {
            if (!cJSON_IsNumber(v))
                continue;
            if (n == cap) {
                cap = cap ? 2 * cap : 16;
                double *grown = realloc(*out, cap * sizeof(double));
                if (grown == NULL) {
                    free(*out);
                    *out = NULL;
                    return 0;
                }
                *out = grown;
            }
            (*out)[n++] = v->valuedouble;
        }
    }
    return n;
}

int sb_cmd_compare(int argc, char **argv)
{
    const char *cmd = "compare";
    static const struct option options[] = {SB_OPTION_HELP, {NULL, 0, NULL, 0}};
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        if (opt != SB_OPT_HELP)
            return sb_opt_bad(cmd, opt, argv, options);
        fputs("usage: shapebench compare A B\n"
              "Per record key present in both results folders (or .jsonl files): B's median time over A's and a\n"
              "two-sided Mann-Whitney U test on the raw samples; p < 0.05 is flagged faster or slower.\n"
              "A and B may each list several folders, comma-separated (A1,A2): the samples of a key are pooled\n"
              "over them, so runs repeated at different times (A B B A) count as one measurement per side.\n",
              stdout);
        return SB_EXIT_OK;
    }
    if (argc - optind != 2)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "usage: shapebench compare A B (shapebench compare --help)");
    compare_side a, b;
    sb_error err;
    if (side_load(argv[optind], &a, &err) != 0)
        return sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
    if (side_load(argv[optind + 1], &b, &err) != 0) {
        side_free(&a);
        return sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
    }
    printf("| shape | mode | batch | src | tgt | A median (ms) | B median (ms) | B/A time | p (Mann-Whitney U) | change |\n"
           "|---|---|--:|--:|--:|--:|--:|--:|--:|---|\n");
    const sb_record_set *first = &a.sets[0];
    size_t matched = 0, significant = 0;
    for (size_t i = 0; i < first->count; i++) {
        const char *key = sb_record_key_of(first->items[i]);
        double *sa = NULL, *sbuf = NULL;
        const size_t na = side_samples(&a, key, &sa), nb = side_samples(&b, key, &sbuf);
        if (na == 0 || nb == 0) {
            free(sa);
            free(sbuf);
            continue;
        }
        matched++;
        double ma = sb_stats_compute(sa, na).median, mb = sb_stats_compute(sbuf, nb).median, u, p = NAN;
        sb_mann_whitney(sbuf, nb, sa, na, &u, &p, NULL);
        const char *change = !(p < 0.05) ? "–" : mb < ma ? "faster" : "slower";
        significant += p < 0.05;
        const cJSON *r = first->items[i];
        const char *shape = sb_field_string(r, SB_F_SHAPE), *mode = sb_field_string(r, SB_F_SETTINGS_MODE);
        printf("| %s | %s | %.0f | %.0f | %.0f | %.2f | %.2f | %.3f | %.3g | %s |\n", shape ? shape : key,
               mode ? mode : "?", sb_field_number(r, SB_F_SETTINGS_BATCH), sb_field_number(r, SB_F_SETTINGS_SRC_LEN),
               sb_field_number(r, SB_F_SETTINGS_TGT_LEN),
               ma * 1e3, mb * 1e3, mb / ma, p, change);
        free(sa);
        free(sbuf);
    }
    fprintf(stderr,
            "shapebench compare: %zu keys in both (A: %zu folder(s), %zu records in the first; B: %zu folder(s)); "
            "%zu changed at p < 0.05\n",
            matched, a.count, first->count, b.count, significant);
    side_free(&a);
    side_free(&b);
    return SB_EXIT_OK;
}

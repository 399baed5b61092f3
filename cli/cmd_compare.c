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

/* The verdicts of `key`'s records on this side, distinct ones joined by '/' ("ok", "ok/contended"). */
static void side_verdicts(const compare_side *side, const char *key, char *out, size_t cap)
{
    out[0] = '\0';
    for (size_t i = 0; i < side->count; i++) {
        const char *v = sb_field_string(sb_record_set_find(&side->sets[i], key), SB_F_VERDICT);
        if (v == NULL)
            continue;
        /* the verdict's first word: "contended: the timed repetitions got ..." is `contended` */
        char word[32];
        snprintf(word, sizeof word, "%.*s", (int)strcspn(v, ": "), v);
        bool seen = false;
        for (const char *p = strstr(out, word); p != NULL && !seen; p = strstr(p + 1, word))
            seen = (p == out || p[-1] == '/') && (p[strlen(word)] == '\0' || p[strlen(word)] == '/');
        if (!seen) {
            const size_t used = strlen(out);
            snprintf(out + used, cap - used, "%s%s", used > 0 ? "/" : "", word);
        }
    }
}

/* The smallest two-sided p an exact Mann-Whitney U test can give for samples of na and nb (the two most
 * extreme of the C(na+nb, na) orderings): 2 / C(na+nb, na). */
static double smallest_p(size_t na, size_t nb)
{
    double c = 1;
    for (size_t i = 1; i <= na; i++)
        c = c * (double)(nb + i) / (double)i;
    return fmin(1.0, 2.0 / c);
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
              "over them, so runs repeated at different times (A B B A) count as one measurement per side.\n"
              "Each side's verdict is shown (a contended measurement mixes in other processes' load: rerun it);\n"
              "with fewer than 4 samples on a side no ordering reaches p < 0.05 (3 + 3: the smallest p is 0.1),\n"
              "and the change column says so.\n",
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
    printf("| shape | mode | batch | src | tgt | dtype | A median (ms) | B median (ms) | B/A time | p (Mann-Whitney U) | "
           "change | A verdict | B verdict |\n"
           "|---|---|--:|--:|--:|---|--:|--:|--:|--:|---|---|---|\n");
    const sb_record_set *first = &a.sets[0];
    size_t matched = 0, significant = 0, too_few = 0, contended = 0;
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
        char change[96];
        if (smallest_p(na, nb) >= 0.05) {
            snprintf(change, sizeof change, "too few samples (%zu + %zu) for p < 0.05", na, nb);
            too_few++;
        } else {
            snprintf(change, sizeof change, "%s", !(p < 0.05) ? "–" : mb < ma ? "faster" : "slower");
        }
        significant += p < 0.05;
        char va[64], vb[64];
        side_verdicts(&a, key, va, sizeof va);
        side_verdicts(&b, key, vb, sizeof vb);
        contended += strstr(va, "contended") != NULL || strstr(vb, "contended") != NULL;
        const cJSON *r = first->items[i];
        const char *shape = sb_field_string(r, SB_F_SHAPE), *mode = sb_field_string(r, SB_F_SETTINGS_MODE),
                   *dtype = sb_field_string(r, SB_F_SETTINGS_DTYPE);
        printf("| %s | %s | %.0f | %.0f | %.0f | %s | %.2f | %.2f | %.3f | %.3g | %s | %s | %s |\n", shape ? shape : key,
               mode ? mode : "?", sb_field_number(r, SB_F_SETTINGS_BATCH), sb_field_number(r, SB_F_SETTINGS_SRC_LEN),
               sb_field_number(r, SB_F_SETTINGS_TGT_LEN), dtype ? dtype : "f32", ma * 1e3, mb * 1e3, mb / ma, p,
               change, va[0] ? va : "?", vb[0] ? vb : "?");
        free(sa);
        free(sbuf);
    }
    fprintf(stderr,
            "shapebench compare: %zu keys in both (A: %zu folder(s), %zu records in the first; B: %zu folder(s)); "
            "%zu changed at p < 0.05\n",
            matched, a.count, first->count, b.count, significant);
    if (too_few > 0)
        fprintf(stderr,
                "shapebench compare: %zu key(s) have too few samples for p < 0.05 (need at least 4 per side, e.g. "
                "run --min-reps 4, or pool repeated runs: A1,A2)\n",
                too_few);
    if (contended > 0)
        fprintf(stderr,
                "shapebench compare: warning: %zu key(s) were measured contended on a side (other processes were "
                "running): their ratio mixes in that load; rerun them on a quiet machine\n",
                contended);
    side_free(&a);
    side_free(&b);
    return SB_EXIT_OK;
}

/* test_report.c — pictures and report of tests/fixtures/results-small: the shape rows, the gnuplot scripts
 * (non-empty PNG and SVG), and REPORT.md rows whose numbers were worked out by hand from the fixture. */
#include "plots/plots.h"
#include "tests/helpers.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define FIXTURE "tests/fixtures/results-small/results.jsonl"

/* A copy of the fixture in a fresh folder, so pictures and reports never land in the source tree. */
static char run_dir[64];

static void copy_fixture(void)
{
    test_make_temp_dir(run_dir, sizeof run_dir, "report");
    char dst[128];
    snprintf(dst, sizeof dst, "%s/results.jsonl", run_dir);
    size_t len;
    char *text = test_read_file(FIXTURE, &len);
    test_write_file(dst, text, len);
    free(text);
}

static void remove_run(void)
{
    test_remove_tree(run_dir);
}

typedef test_plots_run run;

static const sb_shape_row *row_named(const sb_shape_table *t, const char *shape)
{
    for (size_t i = 0; i < t->count; i++)
        if (strcmp(t->rows[i].shape, shape) == 0)
            return &t->rows[i];
    cr_assert_fail("no row for %s", shape);
    return NULL;
}

TestSuite(report, .init = copy_fixture, .fini = remove_run);

Test(report, one_row_per_shape_with_generation_and_quality_joined)
{
    run r;
    test_plots_load(&r, run_dir, NULL);
    cr_assert_str_eq(r.table.main_mode, "forward");
    cr_assert_eq(r.table.count, 13, "16 records, 13 shapes; got %zu", r.table.count);
    const sb_shape_row *nl16 = row_named(&r.table, "t5-efficient-small-nl16");
    cr_assert(nl16->measured);
    cr_assert_float_eq(nl16->ms_per_token, 7.9, 1e-9);
    cr_assert_float_eq(nl16->quality, -1.80, 1e-9);
    cr_assert_eq(nl16->layers, 32);
    const sb_shape_row *v11 = row_named(&r.table, "t5-v1_1-base");
    cr_assert_float_eq(v11->quality, -1.556, 1e-9, "Table 9 figure not attached");
    cr_assert(strstr(v11->quality_source, "Table 9") != NULL);
    const sb_shape_row *skipped = row_named(&r.table, "switch-base-256");
    cr_assert(!skipped->measured);
    cr_assert(isnan(skipped->tokens_per_s));
    /* rows in increasing params */
    for (size_t i = 1; i < r.table.count; i++)
        cr_assert(r.table.rows[i - 1].params <= r.table.rows[i].params);
    test_plots_free(&r);
}

Test(report, throughput_frontier_against_params)
{
    run r;
    test_plots_load(&r, run_dir, NULL);
    bool on[16];
    sb_error err = {{0}};
    cr_assert_eq(sb_shape_frontier(&r.table, "params", on, &err), 0, "%s", err.msg);
    /* No other shape both bigger and faster (tokens/s by params, in the fixture's numbers). */
    const char *expected[] = {"t5-efficient-tiny",       "t5-efficient-small", "t5-efficient-small-ff6000",
                              "t5-efficient-base-dm512", "t5-efficient-base",  "switch-base-8",
                              "switch-base-16"};
    size_t found = 0;
    for (size_t i = 0; i < r.table.count; i++) {
        bool want = false;
        for (size_t k = 0; k < 7; k++)
            want = want || strcmp(r.table.rows[i].shape, expected[k]) == 0;
        cr_assert_eq(on[i], want, "%s", r.table.rows[i].shape);
        found += on[i];
    }
    cr_assert_eq(found, 7);
    test_plots_free(&r);
}

static bool have_gnuplot(void)
{
    return system("command -v gnuplot >/dev/null 2>&1") == 0;
}

static void assert_nonempty(const char *path)
{
    struct stat st;
    cr_assert(stat(path, &st) == 0 && st.st_size > 1000, "%s missing or nearly empty", path);
}

Test(report, gnuplot_scripts_draw_every_picture_as_png_and_svg)
{
    if (!have_gnuplot())
        cr_skip_test("gnuplot is not installed: `make deps` installs it (gnuplot-nox)");
    run r;
    test_plots_load(&r, run_dir, NULL);
    sb_error err = {{0}};
    cr_assert_eq(sb_plots_draw(&r.results, &r.table, &r.probe, &r.figures, &err), 0, "%s", err.msg);
    const char *names[] = {"throughput_vs_params", "throughput_vs_flops", "throughput_vs_params_by_knob",
                           "throughput_vs_flops_by_knob", "quality_neg_log_perplexity_vs_cost",
                           "latency_vs_depth_width", "roofline"};
    /* and bf16's speed-up, left out: the fixture has no bf16 records */
    cr_assert_eq(r.figures.count, 8);
    cr_assert_str_eq(r.figures.items[7].name, "bf16_speedup_vs_params");
    cr_assert(strstr(r.figures.items[7].skipped, "no shape measured in both bf16 and f32") != NULL, "%s",
              r.figures.items[7].skipped);
    for (size_t i = 0; i < 7; i++) {
        cr_assert_str_eq(r.figures.items[i].name, names[i]);
        cr_assert_str_empty(r.figures.items[i].skipped, "%s: %s", names[i], r.figures.items[i].skipped);
        char path[256];
        snprintf(path, sizeof path, "%s/plots/%s.png", run_dir, names[i]);
        assert_nonempty(path);
        snprintf(path, sizeof path, "%s/plots/%s.svg", run_dir, names[i]);
        assert_nonempty(path);
    }
    /* Every measured shape's point carries its name (hover text) in the SVG, labelled in the PNG or not. */
    char path[256];
    snprintf(path, sizeof path, "%s/plots/throughput_vs_params.svg", run_dir);
    char *svg = test_read_file(path, NULL);
    for (size_t i = 0; i < r.table.count; i++)
        if (r.table.rows[i].measured && !isnan(r.table.rows[i].tokens_per_s)) {
            char hover[SB_NAME_MAX + 64];
            snprintf(hover, sizeof hover, "showHypertext(evt,'%s')", r.table.rows[i].shape);
            cr_expect(strstr(svg, hover) != NULL, "%s has no hover name in the SVG", r.table.rows[i].shape);
        }
    free(svg);
    /* The frontier step line's data in increasing params (millions). */
    snprintf(path, sizeof path, "%s/plots/data/frontier_params.tsv", run_dir);
    char *front = test_read_file(path, NULL);
    cr_assert(strstr(front, "15.5707\t9000\tt5-efficient-tiny\n60.5066\t4000\tt5-efficient-small\n"
                            "110.838\t3400\tt5-efficient-small-ff6000\n148.603\t2300\tt5-efficient-base-dm512\n"
                            "222.904\t1200\tt5-efficient-base\n619.339\t1100\tswitch-base-8\n"
                            "1072.4\t1040\tswitch-base-16\n") != NULL,
              "%s", front);
    free(front);
    cr_assert_eq(sb_report_write(&r.results, &r.table, &r.probe, &r.figures, &err), 0, "%s", err.msg);
    /* Every caption whole, to its full stop (none cut off by its buffer). */
    for (size_t i = 0; i < r.figures.count; i++) {
        const char *caption = r.figures.items[i].caption;
        cr_expect(caption[0] != '\0' && caption[strlen(caption) - 1] == '.', "cut off: %s", caption);
    }
    snprintf(path, sizeof path, "%s/REPORT.html", run_dir);
    char *html = test_read_file(path, NULL);
    cr_assert(strstr(html, "ringed: an op class with no timed rate, at its ceiling.") != NULL, "the caption whole");
    cr_assert(strstr(html, "<img src=\"plots/throughput_vs_params.png\"") != NULL);
    cr_assert(strstr(html, "<img src=\"plots/roofline.png\"") != NULL);
    free(html);
    test_plots_free(&r);
}

static char *report_md(run *r)
{
    sb_error err = {{0}};
    cr_assert_eq(sb_report_write(&r->results, &r->table, &r->probe, &r->figures, &err), 0, "%s", err.msg);
    char path[128];
    snprintf(path, sizeof path, "%s/REPORT.md", run_dir);
    return test_read_file(path, NULL);
}

#define HAS(text, needle) cr_assert(strstr(text, needle) != NULL, "missing: %s\n---\n%s", needle, text)

Test(report, family_tables)
{
    run r;
    test_plots_load(&r, run_dir, NULL);
    char *md = report_md(&r);
    HAS(md, "### Depth sweep (nl / el / dl)");
    /* 133,932,544 params; executed FLOPs per token 2*(128*enc + 32*dec + 32*V*d)/160 = 0.114 GFLOP; 560 MiB. */
    HAS(md, "| t5-efficient-small-nl16 | 16/16 | 512 | 2048 | 8 x 64 | 133.9 | 0.114 | 1700 | 7.90 | 560 | ok |");
    HAS(md, "| t5-efficient-base-dm512 | 12/12 | 512 | 3072 | 12 x 64 | 148.6 | 0.127 | 2300 | 5.20 | 610 | ok |");
    HAS(md, "| t5-efficient-base | 12/12 | 768 | 3072 | 12 x 64 | 222.9 | 0.191 | 1200 | — | 950 | extrapolated |");
    /* 0.0972 and 0.0100 GFLOP/token: three significant digits however small. */
    HAS(md, "| t5-efficient-small-el16 | 16/6 | 512 | 2048 | 8 x 64 | 92.0 | 0.0972 | 2600 |");
    HAS(md, "| t5-efficient-tiny | 4/4 | 256 | 1024 | 4 x 64 | 15.6 | 0.0100 | 9000 |");
    HAS(md, "### Attention sweep (kv / nh / skv)");
    HAS(md, "| t5-efficient-small-kv128 | 6/6 | 512 | 2048 | 8 x 128 | 79.4 |");
    HAS(md, "| switch-base-256 | 12/12 | 768 | 3072 | 12 x 64 | 14664.2 | — | — | — | — | "
            "skipped: estimated 56.3 GiB exceeds the 32 GiB memory budget |");
    HAS(md, "### Skipped (1 record)\n\nNo table or picture shows the figures of these records (their cells are —). "
            "Why: estimated 56.3 GiB exceeds the 32 GiB memory budget.\n\n| shape | mode |\n|:--|:--|\n"
            "| switch-base-256 | forward |\n");
    HAS(md, "### Extrapolated (1 record)\n\nIts figures are in the tables and pictures. Timed on some of the blocks "
            "(the table's sampled / full blocks) and extended to all of them; the method: in every repetition the "
            "engine's profile measured each stack's time inside its blocks");
    HAS(md, "| t5-efficient-base | forward | 2 / 12 | 2 / 12 |");
    HAS(md, "CPU: Fixture CPU 3.0GHz, 8 logical cores, 4 threads used");
    HAS(md, "OpenBLAS core Haswell");
    free(md);
    test_plots_free(&r);
}

Test(report, deep_narrow_vs_wide_pairs_and_finding)
{
    run r;
    test_plots_load(&r, run_dir, NULL);
    char *md = report_md(&r);
    /* small-nl16 vs base-dm512: 133.9 M vs 148.6 M params, 11 % apart: outside the rule's 10 %. */
    HAS(md, "### At matched parameter count\n\nNo parameter-matched deep/wide pair in this run.");
    /* At matched FLOPs small-el16 vs small-ff6000 (0.0972 GFLOP/token each): 2600 / 3400 = 0.76. */
    HAS(md, "| t5-efficient-small-el16 (16/6 blocks, d_model 512, d_ff 2048) | t5-efficient-small-ff6000 (6/6 blocks, "
            "d_model 512, d_ff 6144) | 0.0972 | 0.0972 | 0.76 | — | — | — | — | speed only: the probe did not train "
            "both shapes |");
    /* One pair: its ratio is stated, the missing kind of pair said in words, and no general claim. */
    HAS(md, "no pair is matched in parameter count; at matched FLOPs per token a deeper-narrower shape ran at 0.76x "
            "the tokens/s of the wider one (median of 1 pair, range 0.76x to 0.76x; faster in 0 of 1): one pair makes "
            "no general claim.");
    cr_expect(strstr(md, "(no pair)") == NULL, "a placeholder instead of a sentence:\n%s", md);
    /* Bigger-and-faster frontier: by params tiny, small, ff6000, dm512, base, switch-8/16; by FLOPs per token
     * the switch shapes tie with t5-efficient-base (one expert per token) and lose to it on speed. */
    HAS(md, "| scaling family | measured shapes | on the frontier against params | on the frontier against executed "
            "FLOPs/token |\n|:--|--:|--:|--:|\n| base | 4 | 3 | 3 |\n| depth | 2 | 0 | 0 |\n| width | 2 | 2 | 2 |\n"
            "| attention | 2 | 0 | 0 |\n| switch | 2 | 2 | 0 |\n");
    HAS(md, "No parameter-matched pair carries quality figures on both sides");
    free(md);
    test_plots_free(&r);
}

Test(report, dense_vs_switch_and_quality)
{
    run r;
    test_plots_load(&r, run_dir, NULL);
    char *md = report_md(&r);
    /* switch-base-8: 619.3 M total, 223.0 M active (one expert per sparse block), 1100 / 1200 = 0.92 of dense. */
    HAS(md, "speed relative to t5-efficient-base.");
    HAS(md, "| t5-efficient-base | 0 | 222.9 | 222.9 | 1200 | 1.00 | 950 | extrapolated |");
    HAS(md, "| switch-base-8 | 8 | 619.3 | 223.0 | 1100 | 0.92 | 2400 | ok |");
    HAS(md, "| switch-base-16 | 16 | 1072.4 | 223.1 | 1040 | 0.87 | 4200 | ok |");
    HAS(md, "| switch-base-256 | 256 | 14664.2 | 225.3 | — | — | — | skipped: estimated 56.3 GiB");
    HAS(md, "| t5-v1_1-base | neg_log_perplexity | -1.556 nats/token | Switch Transformers");
    free(md);
    test_plots_free(&r);
}

/* Rewrites the run's records through `edit`, which changes a record in place (or leaves it alone). */
static void edit_records(void (*edit)(cJSON *record))
{
    sb_results all;
    sb_error err = {{0}};
    cr_assert_eq(sb_results_load(run_dir, &all, NULL, NULL, &err), 0, "%s", err.msg);
    char path[128];
    snprintf(path, sizeof path, "%s/results.jsonl", run_dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    for (size_t i = 0; i < all.count; i++) {
        edit(all.records[i]);
        char *line = cJSON_PrintUnformatted(all.records[i]);
        fprintf(f, "%s\n", line);
        free(line);
    }
    fclose(f);
    sb_results_free(&all);
}

static bool is(const cJSON *record, const char *shape, const char *mode)
{
    return strcmp(sb_field_string(record, SB_F_SHAPE), shape) == 0 &&
           strcmp(sb_field_string(record, SB_F_SETTINGS_MODE), mode) == 0;
}

/* How many times needle occurs in text. */
static size_t occurrences(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(text, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* Three more forward records timed on 2 blocks of each stack, as the harness writes them. */
static void extrapolate_three_more(cJSON *rec)
{
    if (!is(rec, "t5-efficient-small", "forward") && !is(rec, "t5-efficient-small-nl16", "forward") &&
        !is(rec, "t5-efficient-base-dm512", "forward"))
        return;
    const double enc = sb_field_number(rec, SB_F_CONFIG_NUM_LAYERS);
    const double dec = sb_field_number(rec, SB_F_CONFIG_NUM_DECODER_LAYERS);
    char method[512];
    snprintf(method, sizeof method, "timed on 2 of %.0f encoder blocks and 2 of %.0f decoder blocks; in every "
             "repetition the engine's profile measured each stack's time inside its blocks, and each part of the "
             "repetition was extended by that time times (full - sampled) / sampled blocks", enc, dec);
    sb_record_put_string(rec, SB_F_VERDICT, "extrapolated");
    sb_record_put_number(rec, SB_F_EXTRAPOLATION_SAMPLED_ENCODER, 2);
    sb_record_put_number(rec, SB_F_EXTRAPOLATION_SAMPLED_DECODER, 2);
    sb_record_put_number(rec, SB_F_EXTRAPOLATION_FULL_ENCODER, enc);
    sb_record_put_number(rec, SB_F_EXTRAPOLATION_FULL_DECODER, dec);
    sb_record_put_string(rec, SB_F_EXTRAPOLATION_METHOD, method);
}

/* Many extrapolated records: the method stated once, then one row per record with its sampled / full blocks. */
Test(report, extrapolations_state_the_method_once_and_a_row_each)
{
    edit_records(extrapolate_three_more);
    run r;
    test_plots_load(&r, run_dir, NULL);
    char *md = report_md(&r);
    HAS(md, "### Extrapolated (4 records)\n\nTheir figures are in the tables and pictures. Timed on some of the "
            "blocks (the table's sampled / full blocks) and extended to all of them; the method, the same for all 4: "
            "in every repetition the engine's profile measured each stack's time inside its blocks, and each part of "
            "the repetition was extended by that time times (full - sampled) / sampled blocks.\n\n"
            "| shape | mode | encoder blocks (sampled / full) | decoder blocks (sampled / full) |\n"
            "|:--|:--|--:|--:|\n");
    HAS(md, "| t5-efficient-small | forward | 2 / 6 | 2 / 6 |\n");
    HAS(md, "| t5-efficient-small-nl16 | forward | 2 / 16 | 2 / 16 |\n");
    HAS(md, "| t5-efficient-base-dm512 | forward | 2 / 12 | 2 / 12 |\n");
    cr_expect_eq(occurrences(md, "the engine's profile measured"), 1, "the method is not stated once");
    cr_expect_eq(occurrences(md, "timed on 2 of"), 0, "a row repeats what its block columns say");
    free(md);
    test_plots_free(&r);
}

/* Contended, noisy and skipped records: every row whose figure is "—" (or noisy) says why, the reasons' shared
 * end stated once. */
static void contend_and_spread(cJSON *rec)
{
    static const char *const tail = ": other processes were running; rerun on a quiet machine";
    char verdict[256];
    if (is(rec, "t5-efficient-tiny", "forward")) {
        snprintf(verdict, sizeof verdict, "contended: the timed repetitions got 35 %% of their threads' CPU time (16 "
                 "preemptions)%s", tail);
        sb_record_put_string(rec, SB_F_VERDICT, verdict);
    } else if (is(rec, "t5-efficient-small", "generate")) {
        snprintf(verdict, sizeof verdict, "contended: the timed repetitions got 22 %% of their threads' CPU time (408 "
                 "preemptions)%s", tail);
        sb_record_put_string(rec, SB_F_VERDICT, verdict);
    } else if (is(rec, "t5-efficient-small-kv128", "forward")) {
        snprintf(verdict, sizeof verdict, "contended: the timed repetitions got 20 %% of their threads' CPU time (28 "
                 "preemptions)%s", tail);
        sb_record_put_string(rec, SB_F_VERDICT, verdict);
    } else if (is(rec, "t5-efficient-base-dm512", "forward") || is(rec, "t5-efficient-base-dm512", "generate")) {
        snprintf(verdict, sizeof verdict, "contended: the timed repetitions got 50 %% of their threads' CPU time (9 "
                 "preemptions)%s", tail);
        sb_record_put_string(rec, SB_F_VERDICT, verdict);
    } else if (is(rec, "t5-efficient-small-nl16", "forward")) {
        sb_record_put_string(rec, SB_F_VERDICT, "noisy");
        sb_record_put_number(rec, SB_F_TIMING_CV, 0.073);
    }
}

Test(report, every_row_without_a_clean_figure_says_why)
{
    edit_records(contend_and_spread);
    run r;
    test_plots_load(&r, run_dir, NULL);
    char *md = report_md(&r);
    HAS(md, "Records: 16 in ");
    HAS(md, ": 10 measured (1 of them extrapolated, 1 noisy); 5 contended, 1 skipped and 0 failed");
    HAS(md, "### Contended (5 records)\n\nNo table or picture shows the figures of these records (their cells are —). "
            "Why, the same for all 5: other processes were running; rerun on a quiet machine.\n\n"
            "| shape | mode | why |\n|:--|:--|:--|\n"
            "| t5-efficient-tiny | forward | the timed repetitions got 35 % of their threads' CPU time (16 "
            "preemptions) |\n");
    cr_expect_eq(occurrences(md, "other processes were running"), 1, "the shared reason is not stated once");
    HAS(md, "### Noisy (1 record)\n\nIts figures are in the tables and pictures. Why: the timed repetitions' "
            "coefficient of variation (stddev / mean) is over the limit of a clean measurement; the tables show their "
            "median.\n\n| shape | mode | why |\n|:--|:--|:--|\n| t5-efficient-small-nl16 | forward | CV 7.3 % |\n");
    /* The family tables: each row's own reason beside its figures, the generate record's too. */
    HAS(md, "| t5-efficient-tiny | 4/4 | 256 | 1024 | 4 x 64 | 15.6 | — | — | — | — | contended: the timed repetitions "
            "got 35 % of their threads' CPU time (16 preemptions) |\n");
    HAS(md, "| t5-efficient-small | 6/6 | 512 | 2048 | 8 x 64 | 60.5 | 0.0468 | 4000 | — | 300 | ok; generate "
            "contended: the timed repetitions got 22 % of their threads' CPU time (408 preemptions) |\n");
    HAS(md, "| t5-efficient-small-nl16 | 16/16 | 512 | 2048 | 8 x 64 | 133.9 | 0.114 | 1700 | 7.90 | 560 | "
            "noisy: CV 7.3 % |\n");
    HAS(md, "| t5-efficient-base-dm512 | 12/12 | 512 | 3072 | 12 x 64 | 148.6 | — | — | — | — | contended: the timed "
            "repetitions got 50 % of their threads' CPU time (9 preemptions); generate too |\n");
    /* No row of a family table has a "—" for tokens/s beside a bare "ok". */
    const char *families = strstr(md, "## Results by scaling family"), *end = strstr(md, "## Deep-narrow vs wide");
    cr_assert(families != NULL && end != NULL);
    for (const char *line = families; line < end; line = strchr(line, '\n') + 1) {
        if (strncmp(line, "| t5", 4) != 0 && strncmp(line, "| switch", 8) != 0)
            continue;
        char row[1024];
        snprintf(row, sizeof row, "%.*s", (int)strcspn(line, "\n"), line);
        const char *cells[12]; /* shape, blocks, d_model, d_ff, heads, params, GFLOP, tokens/s, ms, RSS, verdict */
        size_t n = 0;
        for (char *c = strtok(row, "|"); c != NULL && n < 12; c = strtok(NULL, "|"))
            cells[n++] = c + 1;
        cr_assert_eq(n, 11, "%s", line);
        cr_expect(strncmp(cells[7], "—", strlen("—")) != 0 ||
                      (strncmp(cells[10], "ok", 2) != 0 && strncmp(cells[10], "extrapolated", 12) != 0 &&
                       strncmp(cells[10], "noisy", 5) != 0),
                  "a row without tokens/s and without a reason: %.*s", (int)strcspn(line, "\n"), line);
    }
    free(md);
    test_plots_free(&r);
}

/* Text columns align left, number columns right, in both renderings; no number holds an exponent. */
Test(report, text_left_numbers_right_no_exponents)
{
    run r;
    test_plots_load(&r, run_dir, NULL);
    char *md = report_md(&r);
    HAS(md, "|:--|--:|--:|--:|--:|--:|--:|--:|--:|--:|:--|\n"); /* a family table: shape, numbers, verdict */
    HAS(md, "| shape | metric | value | source |\n|:--|:--|--:|:--|\n");
    cr_expect(strstr(md, "|---") == NULL, "a column without its alignment");
    for (const char *line = md; *line != '\0'; line += strcspn(line, "\n") + (line[strcspn(line, "\n")] != '\0'))
        if (line[0] == '|')
            for (const char *c = line; *c != '\n' && *c != '\0'; c++)
                cr_expect(!(c[0] == 'e' && (c[1] == '+' || c[1] == '-') && c > line && c[-1] >= '0' && c[-1] <= '9'),
                          "an exponent in a table: %.*s", (int)strcspn(line, "\n"), line);
    free(md);
    char path[128];
    snprintf(path, sizeof path, "%s/REPORT.html", run_dir);
    char *html = test_read_file(path, NULL);
    HAS(html, "<tr><td>t5-efficient-small-nl16</td><td class=\"r\">16/16</td>");
    HAS(html, "<td class=\"r\">133.9</td>");
    HAS(html, "<td>ok</td></tr>");
    free(html);
    test_plots_free(&r);
}

/* Significant digits in fixed notation: close small values apart, large ones whole, never an exponent. */
Test(report, numbers_keep_their_significant_digits)
{
    sb_doc_cell a, b;
    cr_expect_str_eq(sb_doc_sig(a, 0.0031, 3), "0.00310");
    cr_expect_str_neq(sb_doc_sig(a, 0.0031, 3), sb_doc_sig(b, 0.0034, 3));
    cr_expect_str_eq(sb_doc_sig(a, 0.191, 3), "0.191");
    cr_expect_str_eq(sb_doc_sig(a, 11540.4, 3), "11540");
    cr_expect_str_eq(sb_doc_sig(a, 1.18981e7, 3), "11898100");
    cr_expect_str_eq(sb_doc_sig(a, 7.9, 3), "7.90");
    cr_expect_str_eq(sb_doc_sig(a, NAN, 3), "—");
    cr_expect_str_eq(sb_doc_p(a, 0.0036), "0.0036");
    cr_expect_str_eq(sb_doc_p(a, 0.41), "0.41");
    cr_expect_str_eq(sb_doc_p(a, 1.2e-7), "< 0.0001");
    cr_expect_str_eq(sb_doc_p(a, NAN), "—");
}

Test(report, run_without_quality_says_so)
{
    char path[128];
    snprintf(path, sizeof path, "%s/results.jsonl", run_dir);
    char *all = test_read_file(path, NULL);
    FILE *f = fopen(path, "w");
    fwrite(all, 1, strcspn(all, "\n") + 1, f); /* t5-efficient-tiny alone */
    fclose(f);
    free(all);
    run r;
    test_plots_load(&r, run_dir, NULL);
    bool skipped = false;
    for (size_t i = 0; i < r.figures.count; i++)
        if (strcmp(r.figures.items[i].name, "quality_vs_cost") == 0)
            skipped = strcmp(r.figures.items[i].skipped, "no quality figures in this run") == 0;
    cr_assert(skipped, "quality picture not skipped");
    char *md = report_md(&r);
    HAS(md, "No quality figures in this run.");
    HAS(md, "Quality vs cost. Not drawn: no quality figures in this run.");
    HAS(md, "No Switch shapes in this run.");
    HAS(md, "no deep/wide pair is matched");
    free(md);
    test_plots_free(&r);
}

Test(report, empty_run_says_what_to_run_first)
{
    run r;
    sb_error err = {{0}};
    char empty[128];
    snprintf(empty, sizeof empty, "%s/empty", run_dir);
    cr_assert_eq(mkdir(empty, 0777), 0);
    cr_assert_eq(sb_results_load(empty, &r.results, NULL, NULL, &err), -1, "an empty folder loaded");
    cr_assert(strstr(err.msg, "make sweep PRESET=smoke") != NULL, "%s", err.msg);

    const char *bin = getenv("SHAPEBENCH_BIN");
    if (bin == NULL)
        cr_skip_test("SHAPEBENCH_BIN is not set: run the suite with `make test`");
    char cmd[512], errfile[128];
    snprintf(errfile, sizeof errfile, "%s/stderr.txt", run_dir);
    snprintf(cmd, sizeof cmd, "'%s' plots --run '%s/nothing-here' 2>'%s'", bin, run_dir, errfile);
    int status = system(cmd);
    cr_assert_eq(WEXITSTATUS(status), 1);
    char *text = test_read_file(errfile, NULL);
    HAS(text, "shapebench plots: ");
    HAS(text, "make sweep PRESET=smoke");
    free(text);
}

Test(report, plots_command_writes_pictures_and_report)
{
    const char *bin = getenv("SHAPEBENCH_BIN");
    if (bin == NULL)
        cr_skip_test("SHAPEBENCH_BIN is not set: run the suite with `make test`");
    if (!have_gnuplot())
        cr_skip_test("gnuplot is not installed: `make deps` installs it (gnuplot-nox)");
    char cmd[512], path[256];
    snprintf(cmd, sizeof cmd, "'%s' plots --run '%s' >/dev/null", bin, run_dir);
    cr_assert_eq(WEXITSTATUS(system(cmd)), 0);
    snprintf(path, sizeof path, "%s/plots/latency_vs_depth_width.svg", run_dir);
    assert_nonempty(path);
    snprintf(path, sizeof path, "%s/REPORT.md", run_dir);
    assert_nonempty(path);
}

/* Three forward records of the fixture given a bf16 twin, 1.8x faster, its op classes 2x: the rows stay the
 * fp32 ones, the pairs get their section (speed-up per shape and op class, which gained most) and their
 * picture. */
Test(report, bf16_twins_get_their_section_and_picture)
{
    char path[128];
    snprintf(path, sizeof path, "%s/results.jsonl", run_dir);
    char *all = test_read_file(path, NULL);
    FILE *f = fopen(path, "a");
    const char *twins[] = {"t5-efficient-tiny", "t5-efficient-small", "t5-efficient-base-dm512"};
    for (char *line = all, *end; *line != '\0'; line = end + 1) {
        end = strchr(line, '\n');
        *end = '\0';
        cJSON *rec = cJSON_Parse(line);
        const char *shape = sb_field_string(rec, SB_F_SHAPE), *mode = sb_field_string(rec, SB_F_SETTINGS_MODE);
        for (size_t i = 0; i < 3; i++)
            if (shape != NULL && strcmp(shape, twins[i]) == 0 && strcmp(mode, "forward") == 0) {
                sb_record_put_string(rec, SB_F_SETTINGS_DTYPE, "bf16");
                sb_record_put_number(rec, SB_F_TIMING_MEDIAN, sb_field_number(rec, SB_F_TIMING_MEDIAN) / 1.8);
                cJSON *op;
                cJSON_ArrayForEach(op, sb_record_field(rec, SB_F_ROOFLINE))
                {
                    cJSON *rate = cJSON_GetObjectItemCaseSensitive(op, "achieved_gflops");
                    if (cJSON_IsNumber(rate))
                        cJSON_SetNumberValue(rate, rate->valuedouble * 2);
                }
                char *text = cJSON_PrintUnformatted(rec);
                fprintf(f, "%s\n", text);
                free(text);
            }
        cJSON_Delete(rec);
    }
    fclose(f);
    free(all);
    run r;
    test_plots_load(&r, run_dir, NULL);
    cr_assert_str_eq(r.table.main_dtype, "f32");
    cr_assert_eq(r.table.count, 13, "the rows are the fp32 records' alone");
    sb_precision_table t;
    sb_error err = {{0}};
    cr_assert_eq(sb_precision_table_build(&r.results, &t, &err), 0, "%s", err.msg);
    cr_assert_eq(t.count, 3);
    for (size_t i = 0; i < t.count; i++)
        cr_assert_float_eq(t.rows[i].speedup, 1.8, 1e-9, "%s", t.rows[i].shape);
    sb_precision_table_free(&t);
    char *md = report_md(&r);
    HAS(md, "## bf16 against fp32");
    /* 0.0178 s in fp32, / 1.8 in bf16: seconds to three significant digits. */
    HAS(md, "| t5-efficient-tiny | forward | 0.0178 | 0.00988 | 1.80x |");
    HAS(md, "Most gained: ");
    free(md);
    cr_assert_str_empty(r.figures.items[7].skipped, "%s", r.figures.items[7].skipped);
    if (have_gnuplot()) {
        cr_assert_eq(sb_plots_draw(&r.results, &r.table, &r.probe, &r.figures, &err), 0, "%s", err.msg);
        snprintf(path, sizeof path, "%s/plots/bf16_speedup_vs_params.png", run_dir);
        assert_nonempty(path);
    }
    test_plots_free(&r);
}

/* A run measured on two CPU models: a folder, records and report per model, and an index naming them; the
 * planned points without a record listed. */
Test(report, a_run_of_two_cpu_models_is_reported_per_model)
{
    sb_results all;
    sb_error err = {{0}};
    cr_assert_eq(sb_results_load(run_dir, &all, NULL, NULL, &err), 0, "%s", err.msg);
    char path[256];
    snprintf(path, sizeof path, "%s/results.jsonl", run_dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    for (size_t i = 0; i < all.count; i++) {
        cJSON *sys = cJSON_GetObjectItemCaseSensitive(all.records[i], "system");
        if (i % 2 == 1 && cJSON_IsObject(sys)) {
            cJSON_ReplaceItemInObjectCaseSensitive(sys, "cpu_model", cJSON_CreateString("Intel Xeon Gold 6148"));
            cJSON_AddStringToObject(sys, "node", "n7");
        }
        char *line = cJSON_PrintUnformatted(all.records[i]);
        fprintf(f, "%s\n", line);
        free(line);
    }
    fclose(f);
    sb_points planned = {0};
    cr_assert_eq(sb_points_add(&planned, sb_record_key_of(all.records[0]), 1, &err), 0);
    cr_assert_eq(sb_points_add(&planned, "t5-efficient-never|forward|b1|s512|t114|f32|openblas|t2", 2, &err), 0);
    cr_assert_eq(sb_points_write(run_dir, &planned, &err), 0, "%s", err.msg);
    sb_points_free(&planned);
    sb_results_free(&all);

    cr_assert_eq(sb_results_load(run_dir, &all, NULL, NULL, &err), 0, "%s", err.msg);
    sb_results_part *parts;
    size_t count;
    cr_assert_eq(sb_results_split_by_cpu(&all, &parts, &count, &err), 0, "%s", err.msg);
    cr_assert_eq(count, 2);
    cr_expect_eq(parts[0].results.count + parts[1].results.count, all.count);
    cr_expect_str_eq(parts[1].cpu_model, "Intel Xeon Gold 6148");
    cr_expect_str_eq(parts[1].nodes, "n7");
    cr_expect(strstr(parts[1].results.dir, "/cpu-intel-xeon-gold-6148") != NULL, "%s", parts[1].results.dir);
    sb_results_parts_free(parts, count);
    sb_results_free(&all);

    char args[256], *out;
    snprintf(args, sizeof args, "report --run %s", run_dir);
    cr_assert_eq(test_run_cli(args, &out), 0, "%s", out);
    free(out);
    snprintf(path, sizeof path, "%s/REPORT.md", run_dir);
    char *md = test_read_file(path, NULL);
    HAS(md, "This run was measured on 2 CPU models");
    HAS(md, "| Intel Xeon Gold 6148 | n7 | 8 |");
    HAS(md, "cpu-intel-xeon-gold-6148/REPORT.md");
    HAS(md, "1 of the 2 planned points have no record");
    HAS(md, "- t5-efficient-never\\|forward\\|b1\\|s512\\|t114\\|f32\\|openblas\\|t2"); /* Markdown-escaped */
    free(md);
    snprintf(path, sizeof path, "%s/cpu-intel-xeon-gold-6148/REPORT.md", run_dir);
    md = test_read_file(path, NULL);
    HAS(md, "CPU: Intel Xeon Gold 6148");
    free(md);
    snprintf(path, sizeof path, "%s/cpu-intel-xeon-gold-6148/results.jsonl", run_dir);
    assert_nonempty(path);
}

/* A sweep that named no backend left why it chose one in backend.json: the report says it. */
Test(report, says_why_the_sweep_ran_on_its_backend)
{
    char path[256], args[256], *out;
    snprintf(path, sizeof path, "%s/backend.json", run_dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("{\"gemm\": \"onednn\", \"note\": \"Backend oneDNN, the faster of the two on this machine.\", "
          "\"threads\": 2, \"sgemm_gflops\": {\"openblas\": 176, \"onednn\": 372}}\n", f);
    fclose(f);
    snprintf(args, sizeof args, "report --run %s", run_dir);
    cr_assert_eq(test_run_cli(args, &out), 0, "%s", out);
    free(out);
    snprintf(path, sizeof path, "%s/REPORT.md", run_dir);
    char *md = test_read_file(path, NULL);
    HAS(md, "- Backend oneDNN, the faster of the two on this machine.");
    free(md);
}

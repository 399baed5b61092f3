/* test_probe_report.c — the report of a probe run, on records built here with per-seed losses chosen so that
 * every interval can be worked out by hand: the pairs the rule picks, Welch's interval per pair, the pooled
 * interval over pairs and the words it allows (better, inconclusive, unsettled, no claim for a smoke run),
 * the step-count diagnostic, the frontiers, and the join with a speed run. */
#include "plots/plots.h"
#include "tests/helpers.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POINTS 3
#define SEEDS 3

/* A probe shape: body, size, steps and per-seed held-out losses at the last POINTS curve points. */
typedef struct {
    const char *name;
    int enc, dec, d_model, d_ff;
    double params, flops_per_step;
    double loss[POINTS][SEEDS];
} shape;

/* Three parameter-matched pairs (deeper one first), and t5-efficient-tiny alone. The deeper shape is lower by
 * 0.10, 0.08 and 0.12 nats/token at the budget and already lower at budget/2; every side's seeds spread by
 * 0.02 (sd 0.02). */
static shape shapes[] = {
    {"t5-efficient-tiny", 4, 4, 256, 1024, 8.37e6, 15.6e9, {{5.5, 5.5, 5.5}, {5.2, 5.2, 5.2}, {5.0, 5.01, 5.02}}},
    {"deep-a", 6, 6, 128, 2048, 11.53e6, 24.2e9, {{5.3, 5.3, 5.3}, {4.80, 4.82, 4.84}, {4.50, 4.52, 4.54}}},
    {"wide-a", 4, 4, 256, 1024, 11.52e6, 22.5e9, {{5.4, 5.4, 5.4}, {4.90, 4.92, 4.94}, {4.60, 4.62, 4.64}}},
    {"deep-b", 6, 6, 256, 1024, 12.04e6, 23.0e9, {{5.3, 5.3, 5.3}, {4.95, 4.97, 4.99}, {4.70, 4.72, 4.74}}},
    {"wide-b", 4, 4, 256, 2048, 12.56e6, 23.5e9, {{5.4, 5.4, 5.4}, {5.00, 5.02, 5.04}, {4.78, 4.80, 4.82}}},
    {"deep-c", 8, 8, 256, 1024, 15.72e6, 30.4e9, {{5.3, 5.3, 5.3}, {4.85, 4.87, 4.89}, {4.60, 4.62, 4.64}}},
    {"wide-c", 2, 2, 512, 2048, 16.73e6, 30.1e9, {{5.4, 5.4, 5.4}, {4.95, 4.97, 4.99}, {4.72, 4.74, 4.76}}},
};
#define NSHAPES (sizeof shapes / sizeof shapes[0])

/* Every shape trains at 60 GFLOP/s: steps per second follow from its FLOPs per step. */
static double steps_per_s(const shape *s)
{
    return 60e9 / s->flops_per_step;
}

static cJSON *curve_of(const shape *s, double budget)
{
    cJSON *curve = cJSON_CreateArray();
    for (int k = 0; k < POINTS; k++) {
        const double fraction = ldexp(1, k - POINTS + 1), steps = floor(budget * fraction / s->flops_per_step);
        double mean, sd;
        sb_mean_stddev(s->loss[k], SEEDS, &mean, &sd);
        cJSON *p = cJSON_CreateObject();
        cJSON_AddNumberToObject(p, "fraction", fraction);
        cJSON_AddNumberToObject(p, "flops", steps * s->flops_per_step);
        cJSON_AddNumberToObject(p, "steps", steps);
        cJSON_AddNumberToObject(p, "train_seconds", steps / steps_per_s(s));
        cJSON_AddNumberToObject(p, "value", mean);
        cJSON_AddNumberToObject(p, "stddev", sd);
        cJSON_AddItemToObject(p, "per_seed", cJSON_CreateDoubleArray(s->loss[k], SEEDS));
        cJSON_AddItemToArray(curve, p);
    }
    return curve;
}

/* A record as `shapebench probe` writes it, with the fields the report reads. */
static cJSON *probe_record(const char *run, const shape *s)
{
    const double budget = 1e13, tokens_per_step = 4 * (128 + 29), rate = steps_per_s(s);
    double final, sd;
    sb_mean_stddev(s->loss[POINTS - 1], SEEDS, &final, &sd);
    cJSON *r = cJSON_CreateObject();
    char key[256];
    snprintf(key, sizeof key, "%s|train|probe", s->name);
    sb_record_put_number(r, SB_F_SCHEMA_VERSION, SB_SCHEMA_VERSION);
    sb_record_put_string(r, SB_F_RUN, run);
    sb_record_put_string(r, SB_F_KEY, key);
    sb_record_put_string(r, SB_F_SHAPE, s->name);
    sb_record_put_string(r, SB_F_SCALING, "depth");
    sb_record_put_number(r, SB_F_CONFIG_NUM_LAYERS, s->enc);
    sb_record_put_number(r, SB_F_CONFIG_NUM_DECODER_LAYERS, s->dec);
    sb_record_put_number(r, SB_F_CONFIG_D_MODEL, s->d_model);
    sb_record_put_number(r, SB_F_CONFIG_D_FF, s->d_ff);
    sb_record_put_string(r, SB_F_SETTINGS_MODE, "train");
    sb_record_put_number(r, SB_F_SETTINGS_BATCH, 4);
    sb_record_put_number(r, SB_F_ANALYTIC_PARAMS, s->params);
    sb_record_put_number(r, SB_F_ANALYTIC_FLOPS_TRAIN_STEP, s->flops_per_step);
    sb_record_put_number(r, SB_F_TIMING_MEDIAN, 1 / rate);
    sb_record_put_number(r, SB_F_THROUGHPUT_TOKENS_PER_S, tokens_per_step * rate);
    sb_record_put_number(r, SB_F_THROUGHPUT_GFLOPS_PER_S, s->flops_per_step * rate / 1e9);
    sb_record_put_number(r, SB_F_THROUGHPUT_TOKENS_PER_REP, tokens_per_step);
    sb_record_put_string(r, SB_F_VERDICT, "ok");
    sb_record_put_string(r, SB_F_QUALITY_METRIC, "heldout_loss");
    sb_record_put_number(r, SB_F_QUALITY_VALUE, final);
    sb_record_put_number(r, SB_F_QUALITY_STDDEV, sd);
    sb_record_put_number(r, SB_F_QUALITY_SEEDS, SEEDS);
    sb_record_put_string(r, SB_F_QUALITY_BUDGET_KIND, "flops");
    sb_record_put_number(r, SB_F_QUALITY_BUDGET, budget);
    sb_record_put(r, SB_F_QUALITY_CURVE, curve_of(s, budget));
    sb_record_put_string(r, SB_F_QUALITY_SCHEDULE_OPTIMIZER, "adafactor");
    sb_record_put_string(r, SB_F_QUALITY_SCHEDULE_LR_SCHEDULE, "inverse_sqrt");
    sb_record_put_number(r, SB_F_QUALITY_SCHEDULE_PEAK_LR, 0.01);
    sb_record_put_number(r, SB_F_QUALITY_SCHEDULE_WARMUP_FRACTION, 0.05);
    sb_record_put_number(r, SB_F_QUALITY_SCHEDULE_FLOOR, 0);
    sb_record_put_number(r, SB_F_QUALITY_SCHEDULE_DROPOUT, 0);
    sb_record_put_number(r, SB_F_QUALITY_REFERENCE_UNIGRAM, 5.914);
    sb_record_put_number(r, SB_F_QUALITY_REFERENCE_BIGRAM, 5.318);
    return r;
}

/* A speed run's forward and generate records of one shape (batch 1: seconds per repetition per sequence). */
static void speed_records(FILE *f, const char *name, double forward_s, double ms)
{
    const char *modes[] = {"forward", "generate"};
    for (int m = 0; m < 2; m++) {
        cJSON *r = cJSON_CreateObject();
        char key[256];
        snprintf(key, sizeof key, "%s|%s", name, modes[m]);
        sb_record_put_number(r, SB_F_SCHEMA_VERSION, SB_SCHEMA_VERSION);
        sb_record_put_string(r, SB_F_KEY, key);
        sb_record_put_string(r, SB_F_SHAPE, name);
        sb_record_put_string(r, SB_F_SETTINGS_MODE, modes[m]);
        sb_record_put_number(r, SB_F_SETTINGS_BATCH, 1);
        sb_record_put_number(r, SB_F_TIMING_MEDIAN, m == 0 ? forward_s : 1);
        sb_record_put_number(r, SB_F_THROUGHPUT_TOKENS_PER_S, 626 / forward_s);
        if (m == 1)
            sb_record_put_number(r, SB_F_THROUGHPUT_MS_PER_TOKEN, ms);
        sb_record_put_string(r, SB_F_VERDICT, "ok");
        char *line = cJSON_PrintUnformatted(r);
        fprintf(f, "%s\n", line);
        free(line);
        cJSON_Delete(r);
    }
}

static char dir[64];

static void write_run(const char *run)
{
    test_make_temp_dir(dir, sizeof dir, "probe-report");
    char path[128];
    snprintf(path, sizeof path, "%s/results.jsonl", dir);
    FILE *f = fopen(path, "w");
    for (size_t i = 0; i < NSHAPES; i++) {
        cJSON *r = probe_record(run, &shapes[i]);
        sb_error err;
        cr_assert_eq(sb_record_check_fields(r, &err), 0, "%s", err.msg);
        char *line = cJSON_PrintUnformatted(r);
        fprintf(f, "%s\n", line);
        free(line);
        cJSON_Delete(r);
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/speed", dir);
    sb_error err;
    cr_assert_eq(sb_mkdir_p(path, &err), 0, "%s", err.msg);
    snprintf(path, sizeof path, "%s/speed/results.jsonl", dir);
    f = fopen(path, "w");
    speed_records(f, "t5-efficient-tiny", 0.05, 2.0);
    speed_records(f, "deep-a", 0.09, 3.0);
    speed_records(f, "wide-a", 0.06, 2.5);
    fclose(f);
}

/* The run in dir read back, joined with its speed run when asked. */
typedef struct {
    sb_results results, speed;
    bool joined;
    sb_shape_table table;
    sb_probe_view view;
    sb_figures figures;
} loaded;

static void load(loaded *l, bool speed)
{
    sb_error err = {{0}};
    char where[128];
    snprintf(where, sizeof where, "%s/speed", dir);
    l->joined = speed;
    cr_assert_eq(sb_results_load(dir, &l->results, NULL, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(!speed || sb_results_load(where, &l->speed, NULL, NULL, &err) == 0, 1, "%s", err.msg);
    cr_assert_eq(sb_shape_table_build(&l->results, &l->table, &err), 0, "%s", err.msg);
    cr_assert_eq(sb_probe_view_build(&l->results, speed ? &l->speed : NULL, &l->view, &err), 0, "%s", err.msg);
    sb_figures_plan(&l->table, &l->results, &l->view, &l->figures);
}

static void unload(loaded *l)
{
    sb_probe_view_free(&l->view);
    sb_shape_table_free(&l->table);
    if (l->joined)
        sb_results_free(&l->speed);
    sb_results_free(&l->results);
}

/* REPORT.md of a loaded run. */
static char *report_of(loaded *l)
{
    sb_error err = {{0}};
    cr_assert_eq(sb_report_write(&l->results, &l->table, &l->view, &l->figures, &err), 0, "%s", err.msg);
    char path[128];
    snprintf(path, sizeof path, "%s/REPORT.md", dir);
    return test_read_file(path, NULL);
}

/* REPORT.md of the run in dir, without a speed run. */
static char *report(void)
{
    loaded l;
    load(&l, false);
    char *md = report_of(&l);
    unload(&l);
    return md;
}

#define HAS(text, needle) cr_assert(strstr(text, needle) != NULL, "missing: %s\n---\n%s", needle, text)

static void cleanup(void)
{
    test_remove_tree(dir);
}

TestSuite(probe_report, .fini = cleanup);

/* Pair a: deep 4.52, wide 4.62, each sd 0.02 over 3 seeds: se = sqrt(2 * 0.0004 / 3) = 0.01633, df 4,
 * t(0.975, 4) = 2.776: -0.100 ± 0.045 -> [-0.145, -0.055]; t = 6.12 -> p 0.0036. Pooled over the three pairs'
 * differences -0.10, -0.08, -0.12: mean -0.10, sd 0.02, se 0.01155, t(0.975, 2) = 4.303: ± 0.050, t = 8.66
 * -> p 0.013. */
Test(probe_report, pairs_with_intervals_and_the_pooled_words)
{
    write_run("probe");
    char *md = report();
    HAS(md, "| deep-a (6/6 blocks, d_model 128, d_ff 2048) | wide-a (4/4 blocks, d_model 256, d_ff 1024) | 11.5 | "
            "11.5 | 0.93 | -0.100 | -0.100 | \\[-0.145, -0.055\\] | 0.0036 | deep-narrow better |");
    HAS(md, "| deep-b (6/6 blocks, d_model 256, d_ff 1024) | wide-b (4/4 blocks, d_model 256, d_ff 2048) |");
    HAS(md, "| deep-c (8/8 blocks, d_model 256, d_ff 1024) | wide-c (2/2 blocks, d_model 512, d_ff 2048) |");
    HAS(md, "Quality at matched parameter count (held-out loss at the budget, lower is better): deep-narrow better "
            "by 0.100 ± 0.050 nats/token in 3 of 3 pairs (p 0.013; 3 pairs at matched parameter count, 3 seeds "
            "each; 3 with a 95 % interval excluding 0, 3 budget-stable).");
    HAS(md, "This run, at matched params: deep-narrow better by 0.100 ± 0.050 nats/token in 3 of 3 pairs");
    HAS(md, "So this run agrees with the paper.");
    /* tiny ends at 5.01: 0.904 below the unigram line (5.914). */
    /* tiny: 641 steps of 15.6 GFLOP at 60 GFLOP/s is 3.85 steps/s. */
    HAS(md, "| t5-efficient-tiny | 8.37 | 15.6 | 641 | 3.85 | 5.200 ± 0.000 | 5.010 ± 0.010 | 0.904 | 0.308 | "
            "-0.190 |");
    HAS(md, "Reference lines, the held-out loss of models that read no input: unigram 5.914, bigram 5.318");
    free(md);
}

/* Two pairs alone cannot carry a claim: t(0.975, 1) = 12.7 makes the pooled interval of -0.10 and -0.08
 * (mean -0.09, se 0.01) -0.090 ± 0.127, which covers 0. */
Test(probe_report, two_pairs_with_a_wide_pooled_interval_are_inconclusive)
{
    shape keep = shapes[6];
    shapes[6].d_model = 256; /* wide-c as wide as deep-c in both d_model and d_ff: no third pair */
    shapes[6].d_ff = 1024;
    write_run("probe");
    char *md = report();
    shapes[6] = keep;
    HAS(md, "inconclusive: the 95 % CI over pairs, -0.090 ± 0.127 nats/token, covers 0 (deep-narrow better in 2 of "
            "2 pairs;");
    HAS(md, "So this run can neither confirm nor contradict the paper.");
    free(md);
}

/* A pair whose sign flips between the last two budgets is unsettled; a smoke run claims nothing. */
Test(probe_report, a_flipping_pair_is_unsettled_and_a_smoke_run_claims_nothing)
{
    double keep[SEEDS];
    memcpy(keep, shapes[1].loss[1], sizeof keep);
    for (int i = 0; i < SEEDS; i++)
        shapes[1].loss[1][i] = 5.0 + 0.02 * i; /* deep-a above wide-a at budget/2 */
    write_run("probe-smoke");
    char *md = report();
    memcpy(shapes[1].loss[1], keep, sizeof keep);
    HAS(md, "| +0.100 | -0.100 | \\[-0.145, -0.055\\] | 0.0036 | unsettled: the sign flips between the last two budgets |");
    HAS(md, "a smoke run: no claim (3 pairs at matched parameter count, 3 seeds each; 3 with a 95 % interval "
            "excluding 0, 2 budget-stable)");
    HAS(md, "a smoke run makes no general claim");
    free(md);
}

/* Steps and losses: at the budget the smaller shapes took more steps and ended lower, but not in rank order. */
Test(probe_report, step_count_diagnostic_and_frontiers_with_a_speed_run)
{
    write_run("probe");
    loaded l;
    load(&l, true);
    char *md = report_of(&l);
    const sb_probe_view view = l.view;
    const sb_probe_shape *tiny = sb_probe_view_find(&view, "t5-efficient-tiny");
    cr_assert_not_null(tiny);
    cr_assert_float_eq(tiny->forward_seconds, 0.05, 1e-12);
    cr_assert_float_eq(tiny->generate_ms, 2.0, 1e-12);
    cr_assert(isnan(sb_probe_view_find(&view, "deep-b")->forward_seconds), "no speed record: NaN");
    /* Spearman over 7 shapes of steps (641 tiny ... 328 deep-c/wide-c) against loss at the budget. */
    double steps[NSHAPES], loss[NSHAPES], rho, p;
    for (size_t i = 0; i < view.count; i++) {
        steps[i] = view.shapes[i].steps[POINTS - 1];
        loss[i] = view.shapes[i].loss[POINTS - 1];
    }
    cr_assert_eq(sb_spearman(steps, loss, view.count, &rho, &p, NULL), 0);
    char line[128];
    sb_doc_cell p_text;
    snprintf(line, sizeof line, "| 1 | 1.00e+13 FLOPs | 7 | %+.2f | %s |", rho, sb_doc_p(p_text, p));
    HAS(md, line);
    /* The curve's fractions as 1/2^k, its budgets in one notation with three significant digits. */
    HAS(md, "| fraction of the budget | budget | shapes | rho (steps, loss) | p |\n|--:|--:|--:|--:|--:|\n"
            "| 1/4 | 2.50e+12 FLOPs | 7 |");
    HAS(md, "| 1/2 | 5.00e+12 FLOPs | 7 |");
    /* Lowest loss for its params: tiny (8.37 M, 5.01), wide-a (11.52 M, 4.62), deep-a (11.53 M, 4.52); nothing
     * bigger beats 4.52. */
    HAS(md, "- Against params, at the budget: t5-efficient-tiny, wide-a, deep-a.");
    /* Speed: tiny 0.05 s at 5.01, wide-a 0.06 s at 4.62, deep-a 0.09 s at 4.52: all three on the frontier. */
    HAS(md, "- Against forward seconds per sequence: t5-efficient-tiny, wide-a, deep-a.");
    HAS(md, "- Against generation ms per token: t5-efficient-tiny, wide-a, deep-a.");
    unload(&l);
    free(md);
}

/* The command as a user runs it: the probe run joined with its speed run draws the learning curves and the
 * four-panel frontier (forward seconds and generation ms included) as PNG and SVG. */
Test(probe_report, plots_command_joins_a_speed_run_and_draws_both_pictures)
{
    if (system("command -v gnuplot >/dev/null 2>&1") != 0)
        cr_skip_test("gnuplot is not installed: `make deps` installs it (gnuplot-nox)");
    if (getenv("SHAPEBENCH_BIN") == NULL)
        cr_skip_test("SHAPEBENCH_BIN is not set: run the suite with `make test`");
    write_run("probe");
    char args[256], path[256];
    snprintf(args, sizeof args, "plots --run '%s' --speed '%s/speed' >/dev/null", dir, dir);
    cr_assert_eq(test_run_cli(args, NULL), 0, "shapebench %s", args);
    const char *files[] = {"probe_curves.png", "probe_curves.svg", "probe_frontier.png", "probe_frontier.svg"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/plots/%s", dir, files[i]);
        size_t len = 0;
        free(test_read_file(path, &len));
        cr_expect(len > 1000, "%s: %zu bytes", path, len);
    }
    snprintf(path, sizeof path, "%s/plots/probe_frontier.svg", dir);
    char *svg = test_read_file(path, NULL);
    cr_expect(strstr(svg, "forward seconds per sequence") != NULL && strstr(svg, "generation ms per token") != NULL);
    free(svg);
    snprintf(path, sizeof path, "%s/plots/data/probe_frontier_forward.tsv", dir);
    char *front = test_read_file(path, NULL);
    cr_expect(strstr(front, "0.05\t5.01\tt5-efficient-tiny\n0.06\t4.62\twide-a\n0.09\t4.52\tdeep-a\n") != NULL, "%s",
              front);
    free(front);
    snprintf(args, sizeof args, "plots --run '%s/speed' --speed '%s/speed' 2>&1", dir, dir);
    char *out = NULL;
    cr_expect_eq(test_run_cli(args, &out), 2, "--speed with a run that is not a probe run");
    cr_expect(strstr(out, "holds no probe records") != NULL, "%s", out);
    free(out);
}

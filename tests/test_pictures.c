/* test_pictures.c — every picture drawn from small fixed results sets, read back from its SVG as a reader
 * would see it: each panel's axes carry at least two numeric tic labels that do not run into each other, and
 * gnuplot printed nothing (no "difficulty making room for xtic labels", no empty range, no undefined
 * variable). The sets: tests/fixtures/results-small (13 shapes of every knob) whole, narrowed to shapes
 * within a factor 2.2 of parameters (every axis narrower than a decade), cut to a single shape (a frontier
 * of one point, a single value on every axis), with bf16 twins (the speed-up picture);
 * tests/fixtures/sweep-smoke (a `shapebench sweep --preset smoke` run on a busy machine: every record
 * contended, four modes, op classes timed) as it is and as if measured; and tests/fixtures/probe-smoke (a
 * `shapebench probe --preset probe-smoke` run: learning curves). */
#include "plots/plots.h"
#include "tests/helpers.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SMALL "tests/fixtures/results-small/results.jsonl"
#define PROBE "tests/fixtures/probe-smoke/results.jsonl"
#define SMOKE "tests/fixtures/sweep-smoke/results.jsonl"

static char run_dir[64];

static void make_run(void)
{
    test_make_temp_dir(run_dir, sizeof run_dir, "pictures");
}

static void remove_run(void)
{
    test_remove_tree(run_dir);
}

TestSuite(pictures, .init = make_run, .fini = remove_run);

/* The fixture's records whose line passes `keep` (NULL: all), each passed through `edit` (NULL: as is),
 * into the run folder. */
static void write_run(const char *fixture, bool (*keep)(const cJSON *), void (*edit)(cJSON *))
{
    char path[128];
    snprintf(path, sizeof path, "%s/results.jsonl", run_dir);
    char *all = test_read_file(fixture, NULL);
    FILE *f = fopen(path, "w");
    cr_assert(f != NULL);
    for (char *line = all, *end; (end = strchr(line, '\n')) != NULL; line = end + 1) {
        *end = '\0';
        cJSON *rec = cJSON_Parse(line);
        cr_assert(rec != NULL);
        if (keep == NULL || keep(rec)) {
            if (edit != NULL)
                edit(rec);
            char *text = cJSON_PrintUnformatted(rec);
            fprintf(f, "%s\n", text);
            free(text);
        }
        cJSON_Delete(rec);
    }
    fclose(f);
    free(all);
}

typedef test_plots_run run;

/* ---- reading an SVG's tic labels ------------------------------------------------------------------------ */

/* gnuplot's SVG writes every text as <g transform="translate(X,Y)" ... text-anchor="A"> <text>T</text>: tic
 * labels of y are right-aligned ("end") at one X per panel, those of x centred ("middle") below the axis. */
typedef struct {
    double x, y;
    char text[64];
    bool centred;
} label;

static size_t numeric_labels(const char *svg, label *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = strstr(svg, "<g transform=\"translate("); p != NULL && n < cap;
         p = strstr(p + 1, "<g transform=\"translate(")) {
        label l = {0};
        const char *close = strchr(p, '>'), *text = strstr(p, "<text>");
        if (close == NULL || text == NULL || sscanf(p, "<g transform=\"translate(%lf,%lf)", &l.x, &l.y) != 2)
            continue;
        const char *anchor = strstr(p, "text-anchor=\"");
        if (anchor == NULL || anchor > close || (strstr(p, "rotate(") != NULL && strstr(p, "rotate(") < close))
            continue;
        const bool end = strncmp(anchor + 13, "end\"", 4) == 0;
        l.centred = strncmp(anchor + 13, "middle\"", 7) == 0;
        const char *stop = strstr(text, "</text>");
        if ((!end && !l.centred) || stop == NULL || (size_t)(stop - text - 6) >= sizeof l.text)
            continue;
        memcpy(l.text, text + 6, (size_t)(stop - text - 6));
        char *rest;
        strtod(l.text, &rest);
        if (l.text[0] != '\0' && *rest == '\0')
            out[n++] = l;
    }
    return n;
}

/* A label's width in pixels at the pictures' 17 px tic font (DejaVu Sans digits are 0.64 em wide). */
static double width_px(const label *l)
{
    return 0.64 * 17 * (double)strlen(l->text);
}

static int by_x(const void *a, const void *b)
{
    const label *p = a, *q = b;
    return (p->x > q->x) - (p->x < q->x);
}

static int by_value(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Every panel of the picture (`panels` side by side) has at least two y and two x tic labels, and no two x
 * labels of a panel overlap. */
static void assert_tic_labels(const char *picture, int panels)
{
    char *svg = test_read_file(picture, NULL);
    static label labels[4096];
    const size_t n = numeric_labels(svg, labels, 4096);
    free(svg);
    /* y labels: right-aligned, grouped by their X (one per panel's y axis) */
    double axis_x[8];
    int axes = 0, per_axis[8] = {0};
    for (size_t i = 0; i < n; i++) {
        if (labels[i].centred)
            continue;
        int a = 0;
        while (a < axes && fabs(axis_x[a] - labels[i].x) > 0.5)
            a++;
        if (a == axes) {
            cr_assert_lt(axes, 8, "%s: more y axes than panels", picture);
            axis_x[axes++] = labels[i].x;
        }
        per_axis[a]++;
    }
    cr_assert_eq(axes, panels, "%s: %d y axes with tic labels, %d panels", picture, axes, panels);
    for (int a = 0; a < axes; a++)
        cr_assert_geq(per_axis[a], 2, "%s: a y axis with %d tic label(s)", picture, per_axis[a]);
    /* x labels: centred, on the lowest row of centred numbers, split into panels at the y axes */
    double bottom = 0;
    for (size_t i = 0; i < n; i++)
        if (labels[i].centred && labels[i].y > bottom)
            bottom = labels[i].y;
    label xs[512];
    size_t nx = 0;
    for (size_t i = 0; i < n && nx < 512; i++)
        if (labels[i].centred && fabs(labels[i].y - bottom) < 0.5)
            xs[nx++] = labels[i];
    qsort(xs, nx, sizeof *xs, by_x);
    qsort(axis_x, (size_t)axes, sizeof *axis_x, by_value);
    for (int a = 0; a < axes; a++) {
        const double from = axis_x[a], to = a + 1 < axes ? axis_x[a + 1] : INFINITY;
        int count = 0;
        const label *previous = NULL;
        for (size_t i = 0; i < nx; i++) {
            if (xs[i].x < from || xs[i].x >= to)
                continue;
            count++;
            if (previous != NULL)
                cr_assert_gt(xs[i].x - previous->x, (width_px(previous) + width_px(&xs[i])) / 2,
                             "%s: x tic labels %s and %s overlap", picture, previous->text, xs[i].text);
            previous = &xs[i];
        }
        cr_assert_geq(count, 2, "%s: panel %d has %d x tic label(s)", picture, a + 1, count);
    }
}

static bool have_gnuplot(void)
{
    return system("command -v gnuplot >/dev/null 2>&1") == 0;
}

/* How many panels a figure's script draws side by side. */
static int panels_of(const sb_figure *f)
{
    if (strcmp(f->script, "latency.gp") == 0)
        return 2;
    for (size_t i = 0; i < f->nvars; i++)
        if (strcmp(f->vars[i].name, "panels") == 0) {
            int words = 1;
            for (const char *p = f->vars[i].text; *p != '\0'; p++)
                words += *p == ' ';
            return words;
        }
    return 1;
}

/* Draws the run and checks every picture drawn; returns how many were. */
static size_t draw_and_check(run *r)
{
    if (!have_gnuplot())
        cr_skip_test("gnuplot is not installed: `make deps` installs it (gnuplot-nox)");
    sb_error err = {{0}};
    cr_assert_eq(sb_plots_draw(&r->results, &r->table, &r->probe, &r->figures, &err), 0, "%s", err.msg);
    char path[256];
    snprintf(path, sizeof path, "%s/plots/gnuplot.log", run_dir);
    FILE *log = fopen(path, "r");
    if (log != NULL) {
        char line[512] = "";
        const bool said = fgets(line, sizeof line, log) != NULL;
        fclose(log);
        cr_assert(!said, "gnuplot said: %s", line);
    }
    size_t drawn = 0;
    for (size_t i = 0; i < r->figures.count; i++) {
        const sb_figure *f = &r->figures.items[i];
        if (f->skipped[0] != '\0')
            continue;
        snprintf(path, sizeof path, "%s/plots/%s.svg", run_dir, f->name);
        assert_tic_labels(path, panels_of(f));
        drawn++;
    }
    return drawn;
}

static const sb_figure *figure_named(const run *r, const char *name)
{
    for (size_t i = 0; i < r->figures.count; i++)
        if (strcmp(r->figures.items[i].name, name) == 0)
            return &r->figures.items[i];
    cr_assert_fail("no figure %s planned", name);
    return NULL;
}

/* ---- the sets ------------------------------------------------------------------------------------------- */

Test(pictures, every_shape)
{
    write_run(SMALL, NULL, NULL);
    run r;
    test_plots_load(&r, run_dir, NULL);
    cr_assert_eq(draw_and_check(&r), 7, "throughput x4, quality, latency, roofline");
    /* the measurement and machine in every title */
    cr_assert_str_eq(figure_named(&r, "throughput_vs_params")->setting,
                     "forward mode, batch 1, 128 source + 32 target tokens, f32");
    cr_assert_str_eq(figure_named(&r, "latency_vs_depth_width")->setting,
                     "generate mode, batch 1, 128 source + 32 target tokens, f32");
    test_plots_free(&r);
}

/* Parameters from 60 to 134 million, every axis within a decade: evenly spaced labels. */
static bool small_shapes(const cJSON *rec)
{
    const double params = sb_field_number(rec, SB_F_ANALYTIC_PARAMS);
    return params >= 60e6 && params <= 134e6;
}

Test(pictures, narrow_ranges)
{
    write_run(SMALL, small_shapes, NULL);
    run r;
    test_plots_load(&r, run_dir, NULL);
    cr_assert_eq(draw_and_check(&r), 7);
    test_plots_free(&r);
}

static bool one_shape(const cJSON *rec)
{
    return strcmp(sb_field_string(rec, SB_F_SHAPE), "t5-efficient-small") == 0;
}

/* One shape: a frontier of one point, drawn; one value on every axis still gets two labels. */
Test(pictures, single_shape)
{
    write_run(SMALL, one_shape, NULL);
    run r;
    test_plots_load(&r, run_dir, NULL);
    cr_assert_eq(draw_and_check(&r), 6, "throughput x4, latency, roofline");
    char path[128];
    snprintf(path, sizeof path, "%s/plots/data/frontier_params.tsv", run_dir);
    char *frontier = test_read_file(path, NULL);
    cr_assert(strstr(frontier, "\n60.5066\t4000\tt5-efficient-small\n") != NULL, "%s", frontier);
    free(frontier);
    test_plots_free(&r);
}

/* The forward records of three shapes repeated in bf16, 1.8x faster. */
static bool forward_twin(const cJSON *rec)
{
    const char *shape = sb_field_string(rec, SB_F_SHAPE);
    return strcmp(sb_field_string(rec, SB_F_SETTINGS_MODE), "forward") == 0 &&
           (strcmp(shape, "t5-efficient-tiny") == 0 || strcmp(shape, "t5-efficient-small") == 0 ||
            strcmp(shape, "t5-efficient-base-dm512") == 0);
}

static void to_bf16(cJSON *rec)
{
    sb_record_put_string(rec, SB_F_SETTINGS_DTYPE, "bf16");
    sb_record_put_number(rec, SB_F_TIMING_MEDIAN, sb_field_number(rec, SB_F_TIMING_MEDIAN) / 1.8);
    cJSON *end;
    cJSON_ArrayForEach(end, (cJSON *)sb_record_field(rec, SB_F_TIMING_CI95_MEDIAN))
        cJSON_SetNumberValue(end, end->valuedouble / 1.8);
}

Test(pictures, bf16_speedup)
{
    write_run(SMALL, NULL, NULL);
    char path[128], twins[128];
    snprintf(path, sizeof path, "%s/results.jsonl", run_dir);
    snprintf(twins, sizeof twins, "%s/twins.jsonl", run_dir);
    /* the twins appended to the whole set */
    char *whole = test_read_file(path, NULL);
    write_run(SMALL, forward_twin, to_bf16);
    rename(path, twins);
    char *extra = test_read_file(twins, NULL);
    FILE *f = fopen(path, "w");
    fprintf(f, "%s%s", whole, extra);
    fclose(f);
    free(whole);
    free(extra);
    remove(twins);
    run r;
    test_plots_load(&r, run_dir, NULL);
    cr_assert_str_empty(figure_named(&r, "bf16_speedup_vs_params")->skipped);
    cr_assert_eq(draw_and_check(&r), 8);
    /* the speed-ups the medians' intervals allow: both intervals are the median +- 1 %, so 1.8 x 0.99 / 1.01
     * to 1.8 x 1.01 / 0.99 */
    snprintf(path, sizeof path, "%s/plots/data/precision.tsv", run_dir);
    char *pairs = test_read_file(path, NULL);
    cr_assert(strstr(pairs, "\tforward\t0.04\t0.0222222\t1.76436\t1.83636\n") != NULL, "%s", pairs);
    free(pairs);
    test_plots_free(&r);
}

/* The generate records measured while other processes ran: the latency picture says so instead. */
static void contended_generate(cJSON *rec)
{
    if (strcmp(sb_field_string(rec, SB_F_SETTINGS_MODE), "generate") == 0)
        sb_record_put_string(rec, SB_F_VERDICT, "contended: the timed repetitions got 40 % of their threads' CPU time");
}

Test(pictures, skipped_latency_names_the_verdicts)
{
    write_run(SMALL, NULL, contended_generate);
    run r;
    test_plots_load(&r, run_dir, NULL);
    const char *why = figure_named(&r, "latency_vs_depth_width")->skipped;
    cr_assert(strstr(why, "no measured generate-mode record") != NULL, "%s", why);
    cr_assert(strstr(why, "of the run's 3 generate records, 3 contended (measured while other processes ran") != NULL,
              "%s", why);
    cr_assert_eq(draw_and_check(&r), 6);
    test_plots_free(&r);
}

Test(pictures, probe_curves_and_frontiers)
{
    write_run(PROBE, NULL, NULL);
    run r;
    test_plots_load(&r, run_dir, NULL);
    cr_assert_gt(r.probe.count, 0);
    const sb_figure *curves = figure_named(&r, "probe_curves");
    cr_assert(strstr(curves->setting, "budget 5e+10 training FLOPs per shape") != NULL, "%s", curves->setting);
    cr_assert_geq(draw_and_check(&r), 3, "probe curves, frontiers and the throughput of its timing");
    test_plots_free(&r);
}

/* Joined with results-small's speed: t5-efficient-tiny alone has a forward time, a panel of one point. */
Test(pictures, probe_joined_with_a_speed_run)
{
    write_run(PROBE, NULL, NULL);
    sb_results speed;
    sb_error err = {{0}};
    cr_assert_eq(sb_results_load(SMALL, &speed, NULL, NULL, &err), 0, "%s", err.msg);
    run r;
    test_plots_load(&r, run_dir, &speed);
    const sb_figure *frontier = figure_named(&r, "probe_frontier");
    cr_assert_eq(panels_of(frontier), 3, "params, training FLOPs and forward seconds");
    draw_and_check(&r);
    test_plots_free(&r);
    sb_results_free(&speed);
}

/* The smoke sweep measured on a busy machine: nothing is drawn, and each picture says which verdicts left
 * its records out. */
Test(pictures, contended_sweep_names_what_it_left_out)
{
    write_run(SMOKE, NULL, NULL);
    run r;
    test_plots_load(&r, run_dir, NULL);
    const char *throughput = figure_named(&r, "throughput_vs_params")->skipped,
               *roofline = figure_named(&r, "roofline")->skipped;
    cr_assert(strstr(throughput, "of the run's 3 forward records, 3 contended (measured while other processes ran") !=
                  NULL,
              "%s", throughput);
    cr_assert(strstr(roofline, "12 contended") != NULL, "%s", roofline);
    cr_assert_eq(draw_and_check(&r), 0);
    test_plots_free(&r);
}

static void measured(cJSON *rec)
{
    sb_record_put_string(rec, SB_F_VERDICT, "ok");
}

/* The same records as if measured: the roofline draws every op class of every mode. */
Test(pictures, sweep_in_four_modes)
{
    write_run(SMOKE, NULL, measured);
    run r;
    test_plots_load(&r, run_dir, NULL);
    const sb_figure *roofline = figure_named(&r, "roofline");
    cr_assert_str_eq(roofline->setting, "encode forward generate train modes, f32");
    cr_assert_eq(draw_and_check(&r), 6, "throughput x4, latency, roofline");
    char path[128];
    snprintf(path, sizeof path, "%s/plots/data/roofline.tsv", run_dir);
    char *rows = test_read_file(path, NULL);
    cr_assert(strstr(rows, "\tattention_scores\t") != NULL && strstr(rows, "\ttrain\t") != NULL, "%s", rows);
    free(rows);
    test_plots_free(&r);
}

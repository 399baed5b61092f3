/* draw.c — the data files gnuplot reads (tab-separated, under <run>/plots/data/) and the gnuplot runs that
 * turn them into PNG and SVG pictures.
 *
 * A results file is untrusted input, so nothing it holds reaches gnuplot's command language: gnuplot runs
 * without a shell (sb_run_tool), every variable goes on its command line as a single-quoted string or a
 * finite number (gnuplot_var, the one place that quotes), and the text of records (shape names, knobs)
 * travels only through the data files, as printable ASCII without quotes or backslashes (data_text), so
 * the SVGs' hover text cannot break out of its attribute. Every file is written beside its place and
 * renamed over it (sb_output), into plots/ folders that are the run's own, never through a link. */
#include "plots/plots.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Writes <run>/plots/data/<name> whole (sb_write_file_atomic). */
static int write_data(const sb_results *r, const char *name, sb_write_fn fill, void *ctx, sb_error *err)
{
    char path[SB_PATH_MAX + 128];
    if (snprintf(path, sizeof path, "%s/plots/data/%s", r->dir, name) >= (int)sizeof path)
        return sb_fail(err, "run folder path too long: %s", r->dir);
    return sb_write_file_atomic(path, fill, ctx, err);
}

/* A byte of text from a record as gnuplot gets it: printable ASCII only (an SVG must be UTF-8, a tab or
 * newline would shift a data file's columns), no quote or backslash (an SVG's hover text is a quoted
 * JavaScript string in a quoted attribute, which gnuplot does not escape); anything else becomes '?'. */
static char plain_byte(char byte)
{
    const unsigned char c = (unsigned char)byte;
    return c < 0x20 || c >= 0x7f || c == '"' || c == '\'' || c == '\\' ? '?' : byte;
}

/* Text from a record in a data file: plain bytes, and a leading '#' (a comment to gnuplot) replaced too. */
static void data_text(FILE *f, const char *text)
{
    for (const char *p = text; *p != '\0'; p++)
        fputc(p == text && *p == '#' ? '?' : plain_byte(*p), f);
}

/* The spread of a record's figure `value` (a rate per repetition when `rate`, else a time), from the 95 %
 * interval of its median repetition: a rate scales by median / hi .. median / lo, a time by lo / median ..
 * hi / median. NaN when the record has no interval around its median. */
static void spread(const cJSON *record, double value, bool rate, double *lo, double *hi)
{
    const cJSON *ci = record != NULL ? sb_record_field(record, SB_F_TIMING_CI95_MEDIAN) : NULL;
    const double median = record != NULL ? sb_field_number(record, SB_F_TIMING_MEDIAN) : NAN;
    *lo = *hi = NAN;
    if (!cJSON_IsArray(ci) || cJSON_GetArraySize(ci) != 2 || !(median > 0))
        return;
    const double a = cJSON_GetArrayItem(ci, 0)->valuedouble, b = cJSON_GetArrayItem(ci, 1)->valuedouble;
    if (!(a > 0 && a <= median && median <= b))
        return; /* an interval that does not hold its median spreads nothing */
    *lo = rate ? value * median / b : value * a / median;
    *hi = rate ? value * median / a : value * b / median;
}

/* shapes.tsv: one row per shape (style.gp names its columns). NaN prints as "nan", which gnuplot reads as
 * undefined: the point is left out. */
static int fill_shapes(FILE *f, void *ctx, sb_error *err)
{
    const sb_shape_table *t = ctx;
    fprintf(f, "# shape\tscaling\tparams_M\tgflop_per_token\ttokens_per_s\tdecoder_layers\td_model\tms_per_token\t"
               "seconds\tquality\tquality_metric\ttokens_per_s_lo\ttokens_per_s_hi\tms_per_token_lo\t"
               "ms_per_token_hi\tquality_sd\n");
    for (size_t i = 0; i < t->count; i++) {
        const sb_shape_row *row = &t->rows[i];
        double tokens[2], ms[2];
        spread(row->measured ? row->main : NULL, row->tokens_per_s, true, &tokens[0], &tokens[1]);
        spread(isnan(row->ms_per_token) ? NULL : row->generate, row->ms_per_token, false, &ms[0], &ms[1]);
        data_text(f, row->shape);
        fputc('\t', f);
        data_text(f, row->scaling);
        fprintf(f, "\t%.6g\t%.6g\t%.6g\t%.0f\t%.0f\t%.6g\t%.6g\t%.6g\t", row->params / 1e6, row->flops_per_token / 1e9,
                row->tokens_per_s, row->num_decoder_layers, row->d_model, row->ms_per_token, row->seconds,
                row->quality);
        data_text(f, row->quality_metric != NULL ? row->quality_metric : "-");
        fprintf(f, "\t%.6g\t%.6g\t%.6g\t%.6g\t%.6g\n", tokens[0], tokens[1], ms[0], ms[1], row->quality_sd);
    }
    return 0;
}

typedef struct {
    double cost, tokens_per_s;
    const char *shape;
} step;

static int by_cost(const void *a, const void *b)
{
    const step *p = a, *q = b;
    if (p->cost != q->cost)
        return p->cost < q->cost ? -1 : 1;
    return strcmp(p->shape, q->shape);
}

typedef struct {
    const char *x_column;
    const step *steps;
    size_t n;
} frontier_file;

static int fill_frontier(FILE *f, void *ctx, sb_error *err)
{
    const frontier_file *ff = ctx;
    fprintf(f, "# %s\ttokens_per_s\tshape\n", ff->x_column);
    for (size_t i = 0; i < ff->n; i++) {
        fprintf(f, "%.6g\t%.6g\t", ff->steps[i].cost, ff->steps[i].tokens_per_s);
        data_text(f, ff->steps[i].shape);
        fputc('\n', f);
    }
    return 0;
}

/* The frontier of tokens/s against a cost, in increasing cost: the step line of the throughput pictures. */
static int write_frontier(const sb_results *r, const sb_shape_table *t, const char *x, sb_error *err)
{
    bool params = strcmp(x, "params") == 0;
    bool *on = calloc(t->count + 1, sizeof *on);
    step *steps = calloc(t->count + 1, sizeof *steps);
    int rc = on == NULL || steps == NULL ? sb_fail(err, "out of memory") : sb_shape_frontier(t, x, on, err);
    size_t n = 0;
    for (size_t i = 0; rc == 0 && i < t->count; i++)
        if (on[i])
            steps[n++] = (step){params ? t->rows[i].params / 1e6 : t->rows[i].flops_per_token / 1e9,
                                t->rows[i].tokens_per_s, t->rows[i].shape};
    if (rc == 0) {
        qsort(steps, n, sizeof *steps, by_cost);
        char name[64];
        snprintf(name, sizeof name, "frontier_%s.tsv", x);
        frontier_file ff = {params ? "params_M" : "gflop_per_token", steps, n};
        rc = write_data(r, name, fill_frontier, &ff, err);
    }
    free(on);
    free(steps);
    return rc;
}

typedef struct {
    const sb_label_request *req;
    const char *placement;
} labels_file;

static int fill_labels(FILE *f, void *ctx, sb_error *err)
{
    const labels_file *lf = ctx;
    fprintf(f, "# x\ty\tshape\tplacement (r: right, l: left, a: above)\n");
    for (size_t i = 0; i < lf->req->count; i++) {
        if (lf->placement[i] == '-')
            continue;
        fprintf(f, "%.6g\t%.6g\t", lf->req->x[i], lf->req->y[i]);
        data_text(f, lf->req->text[i]);
        fprintf(f, "\t%c\n", lf->placement[i]);
    }
    return 0;
}

/* labels_<name>.tsv: x, y, name and placement ('r', 'l', 'a') of the points of `req` whose names fit. */
static int write_placed_labels(const sb_results *r, const char *name, const sb_label_request *req, sb_error *err)
{
    char *placement = malloc(req->count + 1);
    if (placement == NULL)
        return sb_fail(err, "out of memory");
    int rc = sb_plots_place_labels(req, placement, err);
    if (rc == 0) {
        char file[96];
        snprintf(file, sizeof file, "labels_%s.tsv", name);
        labels_file lf = {req, placement};
        rc = write_data(r, file, fill_labels, &lf, err);
    }
    free(placement);
    return rc;
}

/* The same for the rows of the shape table, named by shape. */
static int write_labels(const sb_results *r, const sb_shape_table *t, const char *name, const double *x,
                        const double *y, const int *rank, const sb_label_request *geometry, sb_error *err)
{
    const char **text = calloc(t->count + 1, sizeof *text);
    if (text == NULL)
        return sb_fail(err, "out of memory");
    for (size_t i = 0; i < t->count; i++)
        text[i] = t->rows[i].shape;
    sb_label_request req = *geometry;
    req.count = t->count;
    req.x = x;
    req.y = y;
    req.text = text;
    req.rank = rank;
    const int rc = write_placed_labels(r, name, &req, err);
    free(text);
    return rc;
}

/* The label files of the throughput pictures (per size axis) and the two latency panels, in the
 * geometry of throughput.gp and latency.gp. Frontier shapes are named first, then the base sizes. */
static int write_all_labels(const sb_results *r, const sb_shape_table *t, sb_error *err)
{
    const size_t n = t->count;
    double *x = malloc((n + 1) * sizeof *x), *y = malloc((n + 1) * sizeof *y);
    int *rank = malloc((n + 1) * sizeof *rank);
    bool *on = calloc(n + 1, sizeof *on);
    int rc = x == NULL || y == NULL || rank == NULL || on == NULL ? sb_fail(err, "out of memory") : 0;
    static const char *const sizes[] = {"params", "flops"};
    const sb_label_request throughput = {.log_x = true, .log_y = true, .pad = {0.08, 0.25, 0.1, 0.1},
                                         .width_px = 1150, .height_px = 820};
    for (int a = 0; rc == 0 && a < 2; a++) {
        rc = sb_shape_frontier(t, sizes[a], on, err);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            const sb_shape_row *row = &t->rows[i];
            x[i] = a == 0 ? row->params / 1e6 : row->flops_per_token / 1e9;
            y[i] = row->tokens_per_s;
            rank[i] = on[i] ? 0 : strcmp(row->scaling, "base") == 0 ? 1 : 2;
        }
        if (rc == 0)
            rc = write_labels(r, t, sizes[a], x, y, rank, &throughput, err);
    }
    /* latency.gp: two panels side by side, linear decoder-depth axis, log2 width axis, log latency,
     * pads 0.1 all round */
    const sb_label_request panel = {.log_x = false, .log_y = true, .pad = {0.1, 0.1, 0.1, 0.1},
                                    .width_px = 680, .height_px = 730};
    for (int a = 0; rc == 0 && a < 2; a++) {
        sb_label_request g = panel;
        g.log_x = a == 1;
        for (size_t i = 0; i < n; i++) {
            x[i] = a == 0 ? t->rows[i].num_decoder_layers : t->rows[i].d_model;
            y[i] = t->rows[i].ms_per_token;
            rank[i] = strcmp(t->rows[i].scaling, "base") == 0 ? 0 : 1;
        }
        rc = write_labels(r, t, a == 0 ? "latency_depth" : "latency_width", x, y, rank, &g, err);
    }
    /* quality.gp: up to three panels per metric (params, FLOPs per token, seconds), log x when the costs
     * span more than a decade, as the script decides */
    const sb_label_request third = {.log_y = false, .pad = {0.15, 0.15, 0.1, 0.1}, .width_px = 420, .height_px = 730};
    for (size_t m = 0; rc == 0 && m < n; m++) {
        const char *metric = t->rows[m].quality_metric;
        bool first = metric != NULL && sb_plots_is_plain_name(metric) && !isnan(t->rows[m].quality);
        for (size_t k = 0; first && k < m; k++)
            first = t->rows[k].quality_metric == NULL || isnan(t->rows[k].quality) ||
                    strcmp(t->rows[k].quality_metric, metric) != 0;
        for (int panel = 0; first && rc == 0 && panel < 3; panel++) {
            double lo = INFINITY, hi = -INFINITY;
            for (size_t i = 0; i < n; i++) {
                const sb_shape_row *row = &t->rows[i];
                bool has = row->quality_metric != NULL && strcmp(row->quality_metric, metric) == 0 &&
                           !isnan(row->quality);
                x[i] = !has ? NAN : panel == 0 ? row->params / 1e6 : panel == 1 ? row->flops_per_token / 1e9
                                                                                  : row->seconds;
                y[i] = has ? row->quality : NAN;
                rank[i] = strcmp(row->scaling, "base") == 0 ? 0 : 1;
                if (isfinite(x[i])) {
                    lo = x[i] < lo ? x[i] : lo;
                    hi = x[i] > hi ? x[i] : hi;
                }
            }
            sb_label_request g = third;
            g.log_x = lo > 0 && hi > 10 * lo;
            char name[96];
            snprintf(name, sizeof name, "quality_%s_%d", metric, panel + 1);
            rc = write_labels(r, t, name, x, y, rank, &g, err);
        }
    }
    free(x);
    free(y);
    free(rank);
    free(on);
    return rc;
}

/* roofline.tsv: the op classes of every record measured in the rows' precision (allow-listed names only, as
 * the picture's legend reads them), with its mode, intensity and achieved rate, and the hover text "shape
 * (mode): op class". */
typedef struct {
    const sb_results *results;
    const sb_shape_table *table;
} roofline_file;

static int fill_roofline(FILE *f, void *ctx, sb_error *err)
{
    const roofline_file *rf = ctx;
    const sb_results *r = rf->results;
    fprintf(f, "# shape\top_class\tarithmetic_intensity_flop_per_byte\tachieved_gflops\tmode\thover\n");
    for (size_t i = 0; i < r->count; i++) {
        const cJSON *record = r->records[i];
        const char *shape = sb_field_string(record, SB_F_SHAPE), *mode = sb_field_string(record, SB_F_SETTINGS_MODE);
        if (!sb_shape_table_in_precision(rf->table, record) || shape == NULL || mode == NULL ||
            !sb_plots_is_plain_name(mode))
            continue;
        const cJSON *op;
        cJSON_ArrayForEach(op, sb_record_field(record, SB_F_ROOFLINE)) {
            double ai, achieved;
            if (op->string == NULL || !sb_plots_is_plain_name(op->string) ||
                sb_record_number(op, sb_field_key(SB_F_ROOFLINE_INTENSITY), &ai, NULL) != 0)
                continue;
            /* An op class without a rate (schema 1 records) goes on its ceiling in the picture. */
            char rate[32] = "untimed";
            if (sb_record_number(op, sb_field_key(SB_F_ROOFLINE_ACHIEVED_GFLOPS), &achieved, NULL) == 0)
                snprintf(rate, sizeof rate, "%.6g", achieved);
            data_text(f, shape);
            fprintf(f, "\t%s\t%.6g\t%s\t%s\t", op->string, ai, rate, mode);
            data_text(f, shape);
            fprintf(f, " (%s): %s\n", mode, op->string);
        }
    }
    return 0;
}

/* ---- the probe's pictures ---------------------------------------------------------------------------- */

/* probe_curves.tsv: one block per shape (gnuplot's `index`), its header line naming the shape (the key's
 * title). */
static int fill_probe_curves(FILE *f, void *ctx, sb_error *err)
{
    const sb_probe_view *v = ctx;
    for (size_t i = 0; i < v->count; i++) {
        const sb_probe_shape *s = &v->shapes[i];
        data_text(f, s->shape);
        fputs("\tfraction\tflops\tsteps\tloss\tsd\n", f);
        for (int k = 0; k < s->points; k++) {
            data_text(f, s->shape);
            fprintf(f, "\t%.6g\t%.6g\t%.6g\t%.6g\t%.6g\n", s->fraction[k], s->flops[k], s->steps[k], s->loss[k],
                    s->sd[k]);
        }
        fputs("\n\n", f);
    }
    return 0;
}

/* probe_final.tsv: every shape at the budget, with the joined speed. */
static int fill_probe_final(FILE *f, void *ctx, sb_error *err)
{
    const sb_probe_view *v = ctx;
    fprintf(f, "# shape\tscaling\tparams_M\tloss\tsd\tforward_s_per_sequence\tgenerate_ms_per_token\n");
    for (size_t i = 0; i < v->count; i++) {
        const sb_probe_shape *s = &v->shapes[i];
        const int k = sb_curve_index(s, 0);
        data_text(f, s->shape);
        fputc('\t', f);
        data_text(f, s->scaling);
        fprintf(f, "\t%.6g\t%.6g\t%.6g\t%.6g\t%.6g\n", s->params / 1e6, k >= 0 ? s->loss[k] : NAN,
                k >= 0 ? s->sd[k] : NAN, s->forward_seconds, s->generate_ms);
    }
    return 0;
}

typedef struct {
    const sb_probe_view *view;
    sb_probe_cost cost;
    const sb_probe_cost_point *points;
    const size_t *front;
    size_t kept;
} probe_frontier;

/* probe_frontier_<cost>.tsv: the frontier's points in increasing cost (params in millions). */
static int fill_probe_frontier(FILE *f, void *ctx, sb_error *err)
{
    const probe_frontier *pf = ctx;
    fprintf(f, "# cost\tloss\tshape\n");
    for (size_t k = 0; k < pf->kept; k++) {
        const sb_probe_cost_point *p = &pf->points[pf->front[k]];
        fprintf(f, "%.6g\t%.6g\t", pf->cost == SB_COST_PARAMS ? p->cost / 1e6 : p->cost, p->loss);
        data_text(f, pf->view->shapes[p->shape].shape);
        fputc('\n', f);
    }
    return 0;
}

static int write_probe_frontier(const sb_results *r, const sb_probe_view *v, sb_probe_cost cost, const char *name,
                                sb_error *err)
{
    const size_t cap = v->count * SB_CURVE_MAX + 1;
    sb_probe_cost_point *points = malloc(cap * sizeof *points);
    size_t *front = malloc(cap * sizeof *front), n = 0, kept = 0;
    int rc = points == NULL || front == NULL ? sb_fail(err, "out of memory")
                                             : sb_probe_cost_frontier(v, cost, points, &n, front, &kept, err);
    char file[64];
    snprintf(file, sizeof file, "probe_frontier_%s.tsv", name);
    const probe_frontier pf = {v, cost, points, front, kept};
    if (rc == 0)
        rc = write_data(r, file, fill_probe_frontier, (void *)&pf, err);
    free(points);
    free(front);
    return rc;
}

/* labels_probe_<cost>.tsv: each shape named at its point at the budget, in the geometry of probe_frontier.gp
 * (`panels` side by side as style.gp places them, pads 0.15 left and right, 0.1 below and above). */
static int write_probe_labels(const sb_results *r, const sb_probe_view *v, sb_probe_cost cost, const char *name,
                              int panels, sb_error *err)
{
    double *x = calloc(v->count + 1, sizeof *x), *y = calloc(v->count + 1, sizeof *y), extent[4];
    const char **text = calloc(v->count + 1, sizeof *text);
    int rc = x == NULL || y == NULL || text == NULL ? sb_fail(err, "out of memory") : 0;
    sb_probe_extent(v, cost, extent);
    for (size_t i = 0; rc == 0 && i < v->count; i++) {
        const sb_probe_shape *s = &v->shapes[i];
        const int k = s->points - 1;
        text[i] = s->shape;
        y[i] = k >= 0 ? s->loss[k] : NAN;
        x[i] = k < 0                             ? NAN
               : cost == SB_COST_PARAMS          ? s->params / 1e6
               : cost == SB_COST_TRAIN_FLOPS     ? s->flops[k]
               : cost == SB_COST_FORWARD_SECONDS ? s->forward_seconds
                                                 : s->generate_ms;
    }
    const bool log_x = extent[0] > 0 && extent[1] > 10 * extent[0];
    const sb_label_request req = {.count = v->count, .x = x, .y = y, .text = text, .log_x = log_x,
                                  .pad = {0.15, 0.15, 0.1, 0.1}, .width_px = 1600.0 / panels - 120,
                                  .height_px = 730, .extent = extent};
    char file[64];
    snprintf(file, sizeof file, "probe_%s", name);
    if (rc == 0 && extent[0] <= extent[1])
        rc = write_placed_labels(r, file, &req, err);
    free(x);
    free(y);
    free(text);
    return rc;
}

static int write_probe(const sb_results *r, const sb_probe_view *v, sb_error *err)
{
    static const struct {
        sb_probe_cost cost;
        const char *name;
    } costs[] = {{SB_COST_PARAMS, "params"}, {SB_COST_TRAIN_FLOPS, "flops"},
                 {SB_COST_FORWARD_SECONDS, "forward"}, {SB_COST_GENERATE_MS, "generate"}};
    if (v->count == 0)
        return 0;
    int rc = write_data(r, "probe_curves.tsv", fill_probe_curves, (void *)v, err);
    if (rc == 0)
        rc = write_data(r, "probe_final.tsv", fill_probe_final, (void *)v, err);
    int panels = 0; /* as many as plan_probe draws: the costs something is drawn against */
    for (size_t i = 0; i < sizeof costs / sizeof costs[0]; i++) {
        double extent[4];
        sb_probe_extent(v, costs[i].cost, extent);
        panels += extent[0] <= extent[1] && extent[2] <= extent[3];
    }
    for (size_t i = 0; rc == 0 && i < sizeof costs / sizeof costs[0]; i++) {
        rc = write_probe_frontier(r, v, costs[i].cost, costs[i].name, err);
        if (rc == 0)
            rc = write_probe_labels(r, v, costs[i].cost, costs[i].name, panels > 0 ? panels : 1, err);
    }
    return rc;
}

/* `name='value'; ` (or `name=number; `) for gnuplot -e, the one place values meet gnuplot's command line.
 * A single-quoted gnuplot string escapes a quote by doubling it and interprets nothing else (no backslash
 * escapes, no backquote substitution, no macros); a number is printed only when finite. The name must be
 * an identifier: figures take theirs from the code. */
static int gnuplot_var(sb_strbuf *b, const char *name, bool is_number, double number, const char *text,
                       sb_error *err)
{
    if (name[0] == '\0' || strspn(name, "abcdefghijklmnopqrstuvwxyz_") != strlen(name))
        return sb_fail(err, "gnuplot variable name '%s' is not an identifier", name);
    if (is_number && !isfinite(number))
        return sb_fail(err, "gnuplot variable %s is not a finite number", name);
    if (is_number) {
        sb_strbuf_printf(b, "%s=%.9g; ", name, number);
        return 0;
    }
    sb_strbuf_printf(b, "%s='", name);
    for (const char *p = text; *p != '\0'; p++)
        sb_strbuf_append(b, *p == '\'' ? "''" : p, *p == '\'' ? 2 : 1);
    sb_strbuf_append(b, "'; ", 3);
    return 0;
}

static int text_var(sb_strbuf *b, const char *name, const char *text, sb_error *err)
{
    return gnuplot_var(b, name, false, 0, text, err);
}

/* One picture: gnuplot writes it into a new file beside <run>/plots/<name>.<fmt>, which then replaces it. */
static int run_gnuplot(const sb_results *r, const sb_figure *fig, const char *fmt, const char *machine,
                       sb_error *err)
{
    char script[SB_PATH_MAX], scriptdir[SB_PATH_MAX], rel[64];
    snprintf(rel, sizeof rel, "plots/%s", fig->script);
    if (sb_plots_asset(rel, script, sizeof script, err) != 0)
        return -1;
    memcpy(scriptdir, script, sizeof scriptdir);
    *strrchr(scriptdir, '/') = '\0';

    char picture[SB_PATH_MAX], datadir[SB_PATH_MAX], log[SB_PATH_MAX];
    if (snprintf(picture, sizeof picture, "%s/plots/%s.%s", r->dir, fig->name, fmt) >= (int)sizeof picture ||
        snprintf(datadir, sizeof datadir, "%s/plots/data", r->dir) >= (int)sizeof datadir ||
        snprintf(log, sizeof log, "%s/plots/gnuplot.log", r->dir) >= (int)sizeof log)
        return sb_fail(err, "run folder path too long: %s", r->dir);
    sb_output out;
    if (sb_output_open(&out, picture, err) != 0)
        return -1;
    sb_strbuf vars = {0};
    int rc = text_var(&vars, "fmt", fmt, err);
    if (rc == 0)
        rc = text_var(&vars, "out", out.tmp, err);
    if (rc == 0)
        rc = text_var(&vars, "datadir", datadir, err);
    if (rc == 0)
        rc = text_var(&vars, "scriptdir", scriptdir, err);
    if (rc == 0)
        rc = text_var(&vars, "machine", machine, err);
    if (rc == 0)
        rc = text_var(&vars, "setting", fig->setting, err);
    for (size_t i = 0; rc == 0 && i < fig->nvars; i++)
        rc = gnuplot_var(&vars, fig->vars[i].name, fig->vars[i].is_number, fig->vars[i].number, fig->vars[i].text,
                         err);
    if (rc == 0 && sb_strbuf_failed(&vars))
        rc = sb_fail(err, "out of memory for gnuplot's variables");
    int status = 0;
    if (rc == 0) {
        char *argv[] = {"gnuplot", "-e", (char *)sb_strbuf_text(&vars), script, NULL};
        rc = sb_run_tool(argv, &(sb_tool_io){.out = log, .errf = log, .append = true}, &status, err);
    }
    sb_strbuf_free(&vars);
    struct stat st;
    if (rc == SB_TOOL_MISSING)
        rc = sb_fail(err, "cannot run gnuplot (not found in PATH): install it with `make deps`");
    else if (rc == 0 && status != 0)
        rc = sb_fail(err, "gnuplot failed on %s for %s.%s: see %s", fig->script, fig->name, fmt, log);
    else if (rc == 0 && (stat(out.tmp, &st) != 0 || st.st_size == 0))
        rc = sb_fail(err, "gnuplot wrote no %s: see %s", picture, log);
    if (rc != 0) {
        sb_output_abort(&out);
        return -1;
    }
    return sb_output_commit(&out, err);
}

/* A folder of the run's own for pictures: created when missing, refused when it is a link (the pictures
 * would land wherever it points). */
static int own_folder(const char *path, sb_error *err)
{
    struct stat st;
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return sb_fail(err, "cannot create folder %s: %s", path, strerror(errno));
    if (lstat(path, &st) != 0 || S_ISLNK(st.st_mode))
        return sb_fail(err, "%s is a symbolic link: shapebench writes pictures only into a folder of the run's "
                            "own", path);
    return S_ISDIR(st.st_mode) ? 0 : sb_fail(err, "%s exists and is not a folder", path);
}

/* precision.tsv: bf16's speed-up per shape (plots/precision.c's pairs), with the range its two medians' 95 %
 * intervals allow. */
static int fill_precision(FILE *f, void *ctx, sb_error *err)
{
    const sb_precision_table *t = ctx;
    fprintf(f, "# shape\tscaling\tparams_M\tspeedup\tmode\tseconds_f32\tseconds_bf16\tspeedup_lo\tspeedup_hi\n");
    for (size_t i = 0; i < t->count; i++) {
        const sb_precision_row *row = &t->rows[i];
        /* the speed-ups the two medians' 95 % intervals allow: fp32's slowest over bf16's fastest, and back */
        double f32[2], bf16[2];
        spread(row->f32, row->seconds_f32, false, &f32[0], &f32[1]);
        spread(row->bf16, row->seconds_bf16, false, &bf16[0], &bf16[1]);
        data_text(f, row->shape);
        fputc('\t', f);
        data_text(f, row->scaling);
        fprintf(f, "\t%.6g\t%.6g\t", row->params / 1e6, row->speedup);
        data_text(f, row->mode);
        fprintf(f, "\t%.6g\t%.6g\t%.6g\t%.6g\n", row->seconds_f32, row->seconds_bf16, f32[0] / bf16[1],
                f32[1] / bf16[0]);
    }
    return 0;
}

/* labels_precision.tsv: the shapes of the picture's mode named where they fit, in speedup.gp's geometry (log
 * params, linear speed-up whose range holds 1 and the peak ratio, pads 0.05 left and right, 0.1 below and
 * above). */
static int write_precision_labels(const sb_results *r, const sb_precision_table *t, sb_error *err)
{
    double *x = calloc(t->count + 1, sizeof *x), *y = calloc(t->count + 1, sizeof *y);
    const char **text = calloc(t->count + 1, sizeof *text);
    int rc = x == NULL || y == NULL || text == NULL ? sb_fail(err, "out of memory") : 0;
    double extent[4] = {INFINITY, -INFINITY, 1, t->ceiling > 1 ? t->ceiling : 1};
    for (size_t i = 0; rc == 0 && i < t->count; i++) {
        const bool drawn = strcmp(t->rows[i].mode, t->mode) == 0 && t->rows[i].params > 0;
        x[i] = drawn ? t->rows[i].params / 1e6 : NAN;
        y[i] = drawn ? t->rows[i].speedup : NAN;
        text[i] = t->rows[i].shape;
        if (drawn && isfinite(y[i])) {
            extent[0] = fmin(extent[0], x[i]), extent[1] = fmax(extent[1], x[i]);
            extent[2] = fmin(extent[2], y[i]), extent[3] = fmax(extent[3], y[i]);
        }
    }
    const sb_label_request req = {.count = t->count, .x = x, .y = y, .text = text, .log_x = true,
                                  .pad = {0.05, 0.05, 0.1, 0.1}, .width_px = 1150, .height_px = 820,
                                  .extent = extent};
    if (rc == 0 && extent[0] <= extent[1])
        rc = write_placed_labels(r, "precision", &req, err);
    free(x);
    free(y);
    free(text);
    return rc;
}

static int write_precision(const sb_results *r, sb_error *err)
{
    sb_precision_table t;
    if (sb_precision_table_build(r, &t, err) != 0)
        return -1;
    int rc = write_data(r, "precision.tsv", fill_precision, &t, err);
    if (rc == 0 && t.mode != NULL)
        rc = write_precision_labels(r, &t, err);
    sb_precision_table_free(&t);
    return rc;
}

int sb_plots_draw(const sb_results *results, const sb_shape_table *table, const sb_probe_view *probe,
                  const sb_figures *figures, sb_error *err)
{
    char path[SB_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/plots", results->dir);
    if (own_folder(path, err) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/plots/data", results->dir);
    if (own_folder(path, err) != 0)
        return -1;
    int rc = write_data(results, "shapes.tsv", fill_shapes, (void *)table, err);
    if (rc == 0)
        rc = write_frontier(results, table, "params", err);
    if (rc == 0)
        rc = write_frontier(results, table, "flops", err);
    if (rc == 0)
        rc = write_data(results, "roofline.tsv", fill_roofline, &(roofline_file){results, table}, err);
    if (rc == 0)
        rc = write_all_labels(results, table, err);
    if (rc == 0)
        rc = write_precision(results, err);
    if (rc == 0)
        rc = write_probe(results, probe, err);
    snprintf(path, sizeof path, "%s/plots/gnuplot.log", results->dir);
    remove(path); /* the log of this drawing only (a link there is removed, not followed) */

    char machine[384];
    sb_results_machine(results, machine, sizeof machine);
    for (char *p = machine; *p != '\0'; p++)
        *p = plain_byte(*p);
    for (size_t i = 0; rc == 0 && i < figures->count; i++) {
        if (figures->items[i].skipped[0] != '\0')
            continue;
        rc = run_gnuplot(results, &figures->items[i], "png", machine, err);
        if (rc == 0)
            rc = run_gnuplot(results, &figures->items[i], "svg", machine, err);
    }
    return rc;
}

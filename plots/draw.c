/* draw.c — the data files gnuplot reads (tab-separated, under <run>/plots/data/) and the gnuplot runs that
 * turn them into PNG and SVG pictures. gnuplot runs without a shell (sb_run_tool): no path or name is
 * interpreted. */
#include "plots/plots.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static FILE *open_data(const char *dir, const char *name, char *path, size_t size, sb_error *err)
{
    snprintf(path, size, "%s/plots/data/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        sb_fail(err, "cannot write %s: %s", path, strerror(errno));
    return f;
}

static int close_data(FILE *f, const char *path, sb_error *err)
{
    bool failed = ferror(f) != 0;
    if (fclose(f) != 0 || failed)
        return sb_fail(err, "cannot write %s (disk full?)", path);
    return 0;
}

/* NaN prints as "nan", which gnuplot reads as undefined: the point is left out. */
static int write_shapes(const sb_results *r, const sb_shape_table *t, sb_error *err)
{
    char path[SB_PATH_MAX];
    FILE *f = open_data(r->dir, "shapes.tsv", path, sizeof path, err);
    if (f == NULL)
        return -1;
    fprintf(f, "# shape\tscaling\tparams_M\tgflop_per_token\ttokens_per_s\tdecoder_layers\td_model\tms_per_token\t"
               "seconds\tquality\tquality_metric\n");
    for (size_t i = 0; i < t->count; i++) {
        const sb_shape_row *row = &t->rows[i];
        fprintf(f, "%s\t%s\t%.6g\t%.6g\t%.6g\t%d\t%.0f\t%.6g\t%.6g\t%.6g\t%s\n", row->shape, row->scaling,
                row->params / 1e6, row->flops_per_token / 1e9, row->tokens_per_s, row->num_decoder_layers, row->d_model,
                row->ms_per_token, row->seconds, row->quality, row->quality_metric != NULL ? row->quality_metric : "-");
    }
    return close_data(f, path, err);
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
    qsort(steps, n, sizeof *steps, by_cost);
    char name[64], path[SB_PATH_MAX];
    snprintf(name, sizeof name, "frontier_%s.tsv", x);
    FILE *f = rc == 0 ? open_data(r->dir, name, path, sizeof path, err) : NULL;
    if (f != NULL) {
        fprintf(f, "# %s\ttokens_per_s\tshape\n", params ? "params_M" : "gflop_per_token");
        for (size_t i = 0; i < n; i++)
            fprintf(f, "%.6g\t%.6g\t%s\n", steps[i].cost, steps[i].tokens_per_s, steps[i].shape);
        rc = close_data(f, path, err);
    } else {
        rc = -1;
    }
    free(on);
    free(steps);
    return rc;
}

/* labels_<name>.tsv: x, y, name and placement ('r', 'l', 'a') of the points whose names fit. */
static int write_labels(const sb_results *r, const sb_shape_table *t, const char *name, const double *x,
                        const double *y, const int *rank, const sb_label_request *geometry, sb_error *err)
{
    const char **text = calloc(t->count + 1, sizeof *text);
    char *placement = malloc(t->count + 1);
    if (text == NULL || placement == NULL) {
        free(text);
        free(placement);
        return sb_fail(err, "out of memory");
    }
    for (size_t i = 0; i < t->count; i++)
        text[i] = t->rows[i].shape;
    sb_label_request req = *geometry;
    req.count = t->count;
    req.x = x;
    req.y = y;
    req.text = text;
    req.rank = rank;
    int rc = sb_plots_place_labels(&req, placement, err);
    char file[96], path[SB_PATH_MAX];
    snprintf(file, sizeof file, "labels_%s.tsv", name);
    FILE *f = rc == 0 ? open_data(r->dir, file, path, sizeof path, err) : NULL;
    if (f != NULL) {
        fprintf(f, "# x\ty\tshape\tplacement (r: right, l: left, a: above)\n");
        for (size_t i = 0; i < t->count; i++)
            if (placement[i] != '-')
                fprintf(f, "%.6g\t%.6g\t%s\t%c\n", x[i], y[i], text[i], placement[i]);
        rc = close_data(f, path, err);
    } else {
        rc = -1;
    }
    free(text);
    free(placement);
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
     * offsets 0.1 all round */
    const sb_label_request panel = {.log_x = false, .log_y = true, .pad = {0.1, 0.1, 0.1, 0.1},
                                    .width_px = 620, .height_px = 820};
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
    /* quality.gp: three panels per metric (params, FLOPs per token, seconds), log x when the costs span
     * more than a decade, as the script decides */
    const sb_label_request third = {.log_y = false, .pad = {0.15, 0.15, 0.1, 0.1}, .width_px = 400, .height_px = 820};
    for (size_t m = 0; rc == 0 && m < n; m++) {
        const char *metric = t->rows[m].quality_metric;
        bool first = metric != NULL && !isnan(t->rows[m].quality);
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

static int write_roofline(const sb_results *r, const sb_shape_table *t, sb_error *err)
{
    char path[SB_PATH_MAX];
    FILE *f = open_data(r->dir, "roofline.tsv", path, sizeof path, err);
    if (f == NULL)
        return -1;
    fprintf(f, "# shape\top_class\tarithmetic_intensity_flop_per_byte\tachieved_gflops\n");
    for (size_t i = 0; i < t->count; i++) {
        const cJSON *roof = t->rows[i].measured ? sb_record_field(t->rows[i].main, SB_F_ROOFLINE) : NULL;
        const cJSON *op;
        cJSON_ArrayForEach(op, roof) {
            double ai, achieved;
            if (op->string == NULL || sb_record_number(op, sb_field_key(SB_F_ROOFLINE_INTENSITY), &ai, NULL) != 0)
                continue;
            /* An op class without a rate (schema 1 records) goes on its ceiling in the picture. */
            char rate[32] = "untimed";
            if (sb_record_number(op, sb_field_key(SB_F_ROOFLINE_ACHIEVED_GFLOPS), &achieved, NULL) == 0)
                snprintf(rate, sizeof rate, "%.6g", achieved);
            fprintf(f, "%s\t%s\t%.6g\t%s\n", t->rows[i].shape, op->string, ai, rate);
        }
    }
    return close_data(f, path, err);
}

/* ---- the probe's pictures ---------------------------------------------------------------------------- */

/* probe_curves.tsv: one block per shape (gnuplot's `index`), its header line naming the shape (the key's
 * title); probe_final.tsv: every shape at the budget, with the joined speed. */
static int write_probe_curves(const sb_results *r, const sb_probe_view *v, sb_error *err)
{
    char path[SB_PATH_MAX];
    FILE *f = open_data(r->dir, "probe_curves.tsv", path, sizeof path, err);
    if (f == NULL)
        return -1;
    for (size_t i = 0; i < v->count; i++) {
        const sb_probe_shape *s = &v->shapes[i];
        fprintf(f, "%s\tfraction\tflops\tsteps\tloss\tsd\n", s->shape);
        for (int k = 0; k < s->points; k++)
            fprintf(f, "%s\t%.6g\t%.6g\t%.6g\t%.6g\t%.6g\n", s->shape, s->fraction[k], s->flops[k], s->steps[k],
                    s->loss[k], s->sd[k]);
        fputs("\n\n", f);
    }
    if (close_data(f, path, err) != 0 || (f = open_data(r->dir, "probe_final.tsv", path, sizeof path, err)) == NULL)
        return -1;
    fprintf(f, "# shape\tscaling\tparams_M\tloss\tsd\tforward_s_per_sequence\tgenerate_ms_per_token\n");
    for (size_t i = 0; i < v->count; i++) {
        const sb_probe_shape *s = &v->shapes[i];
        const int k = sb_curve_index(s, 0);
        fprintf(f, "%s\t%s\t%.6g\t%.6g\t%.6g\t%.6g\t%.6g\n", s->shape, s->scaling, s->params / 1e6,
                k >= 0 ? s->loss[k] : NAN, k >= 0 ? s->sd[k] : NAN, s->forward_seconds, s->generate_ms);
    }
    return close_data(f, path, err);
}

/* probe_frontier_<cost>.tsv: the frontier's points in increasing cost (params in millions). */
static int write_probe_frontier(const sb_results *r, const sb_probe_view *v, sb_probe_cost cost, const char *name,
                                sb_error *err)
{
    const size_t cap = v->count * SB_CURVE_MAX + 1;
    sb_probe_cost_point *points = malloc(cap * sizeof *points);
    size_t *front = malloc(cap * sizeof *front), n = 0, kept = 0;
    int rc = points == NULL || front == NULL ? sb_fail(err, "out of memory")
                                             : sb_probe_cost_frontier(v, cost, points, &n, front, &kept, err);
    char file[64], path[SB_PATH_MAX];
    snprintf(file, sizeof file, "probe_frontier_%s.tsv", name);
    FILE *f = rc == 0 ? open_data(r->dir, file, path, sizeof path, err) : NULL;
    if (f != NULL) {
        fprintf(f, "# cost\tloss\tshape\n");
        for (size_t k = 0; k < kept; k++) {
            const sb_probe_cost_point *p = &points[front[k]];
            fprintf(f, "%.6g\t%.6g\t%s\n", cost == SB_COST_PARAMS ? p->cost / 1e6 : p->cost, p->loss,
                    v->shapes[p->shape].shape);
        }
        rc = close_data(f, path, err);
    } else {
        rc = -1;
    }
    free(points);
    free(front);
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
    int rc = write_probe_curves(r, v, err);
    for (size_t i = 0; rc == 0 && i < sizeof costs / sizeof costs[0]; i++)
        rc = write_probe_frontier(r, v, costs[i].cost, costs[i].name, err);
    return rc;
}

/* `name='value'; ` for gnuplot -e: a single-quoted gnuplot string, which escapes a quote by doubling it and
 * interprets nothing else. */
static void gnuplot_var(sb_strbuf *b, const char *name, const char *value)
{
    sb_strbuf_printf(b, "%s='", name);
    for (const char *p = value; *p != '\0'; p++)
        sb_strbuf_append(b, *p == '\'' ? "''" : p, *p == '\'' ? 2 : 1);
    sb_strbuf_append(b, "'; ", 3);
}

static int run_gnuplot(const sb_results *r, const sb_figure *fig, const char *fmt, const char *machine,
                       sb_error *err)
{
    char script[SB_PATH_MAX], scriptdir[SB_PATH_MAX], rel[64];
    snprintf(rel, sizeof rel, "plots/%s", fig->script);
    if (sb_plots_asset(rel, script, sizeof script, err) != 0)
        return -1;
    memcpy(scriptdir, script, sizeof scriptdir);
    *strrchr(scriptdir, '/') = '\0';

    char out_stem[SB_PATH_MAX + 64], datadir[SB_PATH_MAX + 32], log[SB_PATH_MAX + 32];
    if (snprintf(out_stem, sizeof out_stem, "%s/plots/%s", r->dir, fig->name) >= (int)sizeof out_stem ||
        snprintf(datadir, sizeof datadir, "%s/plots/data", r->dir) >= (int)sizeof datadir ||
        snprintf(log, sizeof log, "%s/plots/gnuplot.log", r->dir) >= (int)sizeof log)
        return sb_fail(err, "run folder path too long: %s", r->dir);
    sb_strbuf vars = {0};
    gnuplot_var(&vars, "fmt", fmt);
    gnuplot_var(&vars, "out", out_stem);
    gnuplot_var(&vars, "datadir", datadir);
    gnuplot_var(&vars, "scriptdir", scriptdir);
    gnuplot_var(&vars, "machine", machine);
    sb_strbuf_printf(&vars, "%s", fig->vars);
    if (sb_strbuf_failed(&vars)) {
        sb_strbuf_free(&vars);
        return sb_fail(err, "out of memory for gnuplot's variables");
    }
    char *argv[] = {"gnuplot", "-e", (char *)sb_strbuf_text(&vars), script, NULL};
    int status = 0;
    const int rc = sb_run_tool(argv, &(sb_tool_io){.out = log, .errf = log, .append = true}, &status, err);
    sb_strbuf_free(&vars);
    if (rc == SB_TOOL_MISSING)
        return sb_fail(err, "cannot run gnuplot (not found in PATH): install it with `make deps`");
    if (rc != 0)
        return -1;
    if (status != 0)
        return sb_fail(err, "gnuplot failed on %s for %s.%s: see %s", fig->script, fig->name, fmt, log);

    char picture[SB_PATH_MAX + 80];
    struct stat st;
    snprintf(picture, sizeof picture, "%s.%s", out_stem, fmt);
    if (stat(picture, &st) != 0 || st.st_size == 0)
        return sb_fail(err, "gnuplot wrote no %s: see %s", picture, log);
    return 0;
}

int sb_plots_draw(const sb_results *results, const sb_shape_table *table, const sb_probe_view *probe,
                  const sb_figures *figures, sb_error *err)
{
    char path[SB_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/plots", results->dir);
    if (sb_mkdir_p(path, err) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/plots/data", results->dir);
    if (sb_mkdir_p(path, err) != 0)
        return -1;
    int rc = write_shapes(results, table, err);
    if (rc == 0)
        rc = write_frontier(results, table, "params", err);
    if (rc == 0)
        rc = write_frontier(results, table, "flops", err);
    if (rc == 0)
        rc = write_roofline(results, table, err);
    if (rc == 0)
        rc = write_all_labels(results, table, err);
    if (rc == 0)
        rc = write_probe(results, probe, err);
    snprintf(path, sizeof path, "%s/plots/gnuplot.log", results->dir);
    remove(path); /* the log of this drawing only */

    char machine[384];
    sb_results_machine(results, machine, sizeof machine);
    for (size_t i = 0; rc == 0 && i < figures->count; i++) {
        if (figures->items[i].skipped[0] != '\0')
            continue;
        rc = run_gnuplot(results, &figures->items[i], "png", machine, err);
        if (rc == 0)
            rc = run_gnuplot(results, &figures->items[i], "svg", machine, err);
    }
    return rc;
}

/* figures.c — which pictures a run gets (the plots/ gnuplot scripts with their variables), and why any
 * picture is left out. */
#include "plots/plots.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Callers keep within SB_FIGURES_MAX: four throughput pictures, two of the probe, latency, roofline, bf16's
 * speed-up, and the quality ones. */
static sb_figure *add(sb_figures *out, const char *name, const char *script, const char *caption)
{
    sb_figure *f = &out->items[out->count++];
    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "%s", name);
    snprintf(f->script, sizeof f->script, "%s", script);
    snprintf(f->caption, sizeof f->caption, "%s", caption);
    return f;
}

static void set(char *dst, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set(char *dst, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, size, fmt, ap);
    va_end(ap);
}

/* Callers keep within SB_FIGURE_VARS: the roofline's eleven are the most. */
static void var_text(sb_figure *f, const char *name, const char *value)
{
    sb_figure_var *v = &f->vars[f->nvars++];
    v->name = name;
    v->is_number = false;
    snprintf(v->text, sizeof v->text, "%s", value);
}

static void var_number(sb_figure *f, const char *name, double value)
{
    sb_figure_var *v = &f->vars[f->nvars++];
    v->name = name;
    v->is_number = true;
    v->number = value;
}

/* Anything but a plain name is left out of the picture, never passed on. */
bool sb_plots_is_plain_name(const char *name)
{
    return name[0] != '\0' && strlen(name) <= 40 &&
           strspn(name, "abcdefghijklmnopqrstuvwxyz_0123456789") == strlen(name);
}

/* Appends `word` to the space-separated list unless it is there already. */
static void add_word(char *list, size_t size, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = strstr(list, word); p != NULL; p = strstr(p + 1, word))
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return;
    size_t used = strlen(list);
    snprintf(list + used, size - used, "%s%s", used > 0 ? " " : "", word);
}

/* The scaling knobs present among rows for which `pick` gives a number. */
static void knobs(const sb_shape_table *t, double (*pick)(const sb_shape_row *), char *out, size_t size)
{
    static const char *order[] = {"base", "depth", "width", "attention", "switch", "other"};
    out[0] = '\0';
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++)
        for (size_t i = 0; i < t->count; i++)
            if (strcmp(t->rows[i].scaling, order[k]) == 0 && !isnan(pick(&t->rows[i])))
                add_word(out, size, order[k]);
}

/* The range of a number over records, for a title: "64", or "32-128" when the records differ. */
static void value_range(const sb_results *r, const char *mode, bool measured_only, sb_field_id id, char *out,
                        size_t size)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < r->count; i++) {
        const char *m = sb_field_string(r->records[i], SB_F_SETTINGS_MODE);
        const double v = sb_field_number(r->records[i], id);
        if (m == NULL || strcmp(m, mode) != 0 || (measured_only && !sb_record_measured(r->records[i])) || isnan(v))
            continue;
        lo = fmin(lo, v);
        hi = fmax(hi, v);
    }
    if (lo > hi)
        set(out, size, "?");
    else if (lo == hi)
        set(out, size, "%.0f", lo);
    else
        set(out, size, "%.0f-%.0f", lo, hi);
}

/* A name from a record for a title: itself when plain, else nothing. */
static const char *plain_or_empty(const char *name)
{
    return name != NULL && sb_plots_is_plain_name(name) ? name : "";
}

/* The title's measurement line for records of `mode` (the measured ones when there are any): "forward mode,
 * batch 1, 64 source + 16 target tokens, f32". The mode is a plain name or left out; `precision` is text of
 * the code's or a plain name. */
static void set_setting(sb_figure *f, const sb_results *r, const char *mode, const char *precision)
{
    if (mode == NULL || !sb_plots_is_plain_name(mode)) {
        set(f->setting, sizeof f->setting, "%s", precision);
        return;
    }
    bool any_measured = false;
    for (size_t i = 0; i < r->count && !any_measured; i++) {
        const char *m = sb_field_string(r->records[i], SB_F_SETTINGS_MODE);
        any_measured = m != NULL && strcmp(m, mode) == 0 && sb_record_measured(r->records[i]);
    }
    char batch[32], src[32], tgt[32];
    value_range(r, mode, any_measured, SB_F_SETTINGS_BATCH, batch, sizeof batch);
    value_range(r, mode, any_measured, SB_F_SETTINGS_SRC_LEN, src, sizeof src);
    value_range(r, mode, any_measured, SB_F_SETTINGS_TGT_LEN, tgt, sizeof tgt);
    set(f->setting, sizeof f->setting, "%s mode, batch %s, %s source + %s target tokens%s%s", mode, batch, src, tgt,
        precision[0] != '\0' ? ", " : "", precision);
}

/* Why records of `mode` (NULL: any) give a picture nothing to draw, by verdict: "no measured generate-mode
 * record with a latency: of the run's 3 generate records, 3 contended (...); only measured records are
 * drawn". */
static void set_left_out(sb_figure *f, const sb_results *r, const char *mode, const char *what)
{
    size_t total = 0, contended = 0, skipped = 0, failed = 0, measured = 0;
    for (size_t i = 0; i < r->count; i++) {
        const char *m = sb_field_string(r->records[i], SB_F_SETTINGS_MODE);
        const char *verdict = sb_field_string(r->records[i], SB_F_VERDICT);
        if (mode != NULL && (m == NULL || strcmp(m, mode) != 0))
            continue;
        total++;
        measured += sb_record_measured(r->records[i]);
        contended += verdict != NULL && strncmp(verdict, "contended", 9) == 0;
        skipped += verdict != NULL && strncmp(verdict, "skipped", 7) == 0;
        failed += verdict != NULL && strncmp(verdict, "failed", 6) == 0;
    }
    const size_t other = total - measured - contended - skipped - failed;
    char parts[320] = "", without[96];
    set(without, sizeof without, "measured, without %s", what);
    const struct {
        size_t n;
        const char *text;
    } kinds[] = {{contended, "contended (measured while other processes ran: rerun on a quiet machine)"},
                 {skipped, "skipped"}, {failed, "failed"}, {other, "with another verdict"}, {measured, without}};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        if (kinds[k].n > 0)
            set(parts + strlen(parts), sizeof parts - strlen(parts), "%s%zu %s", parts[0] != '\0' ? ", " : "",
                kinds[k].n, kinds[k].text);
    if (total == 0)
        set(f->skipped, sizeof f->skipped, "no %s%srecords in this run", mode != NULL ? mode : "",
            mode != NULL ? "-mode " : "");
    else
        set(f->skipped, sizeof f->skipped, "no measured %s%srecord with %s: of the run's %zu%s%s records, %s; only "
            "measured records are drawn", mode != NULL ? mode : "", mode != NULL ? "-mode " : "", what, total,
            mode != NULL ? " " : "", mode != NULL ? mode : "", parts);
}

static double pick_tokens(const sb_shape_row *r) { return r->tokens_per_s; }
static double pick_latency(const sb_shape_row *r) { return r->ms_per_token; }
static double pick_quality(const sb_shape_row *r) { return r->quality; }

static void plan_throughput(const sb_shape_table *t, const sb_results *r, sb_figures *out)
{
    static const struct {
        const char *name, *x, *column, *label, *subject;
        int by_knob;
    } kinds[] = {
        {"throughput_vs_params", "params", "PARAMS_M", "parameters (millions)", "Throughput vs parameters", 0},
        {"throughput_vs_flops", "flops", "GFLOP_PER_TOKEN", "executed GFLOP per token",
         "Throughput vs FLOPs per token", 0},
        {"throughput_vs_params_by_knob", "params", "PARAMS_M", "parameters (millions)",
         "Throughput vs parameters, by scaling knob", 1},
        {"throughput_vs_flops_by_knob", "flops", "GFLOP_PER_TOKEN", "executed GFLOP per token",
         "Throughput vs FLOPs per token, by scaling knob", 1},
    };
    char present[128];
    knobs(t, pick_tokens, present, sizeof present);
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        char caption[512];
        snprintf(caption, sizeof caption,
                 "%s (%s mode): every measured shape (named where the name fits; error bars: the 95 %% interval "
                 "of its median repetition), the Pareto frontier as a step line through ringed shapes.",
                 kinds[i].subject, t->main_mode != NULL ? t->main_mode : "no");
        sb_figure *f = add(out, kinds[i].name, "throughput.gp", caption);
        char frontier[64], labels[64];
        snprintf(frontier, sizeof frontier, "frontier_%s.tsv", kinds[i].x);
        snprintf(labels, sizeof labels, "labels_%s.tsv", kinds[i].x);
        var_text(f, "xcol", kinds[i].column);
        var_text(f, "xlabel", kinds[i].label);
        var_text(f, "frontier", frontier);
        var_text(f, "labelfile", labels);
        var_number(f, "by_knob", kinds[i].by_knob);
        var_text(f, "knobs", present);
        var_text(f, "subject", kinds[i].subject);
        set_setting(f, r, t->main_mode, plain_or_empty(t->main_dtype));
        if (present[0] == '\0')
            set_left_out(f, r, t->main_mode, "a throughput");
    }
}

/* The probe's measurement line: "budget 5e+10 training FLOPs per shape (the largest of 2), 2 seeds, batch 8,
 * 64 source + 16 target tokens, f32". */
static void set_probe_setting(sb_figure *f, const sb_probe_view *v)
{
    const cJSON *r = v->shapes[0].record;
    const char *dtype = sb_field_string(r, SB_F_SETTINGS_DTYPE);
    const bool flops = strcmp(v->budget_kind, "flops") == 0;
    set(f->setting, sizeof f->setting,
        "budget %.3g %s per shape (the largest of %zu), %d seeds, batch %.0f, %.0f source + %.0f target tokens%s%s",
        v->budget, flops ? "training FLOPs" : "s of training", v->budgets, v->shapes[0].seeds,
        sb_field_number(r, SB_F_SETTINGS_BATCH), sb_field_number(r, SB_F_SETTINGS_SRC_LEN),
        sb_field_number(r, SB_F_SETTINGS_TGT_LEN), plain_or_empty(dtype)[0] != '\0' ? ", " : "",
        plain_or_empty(dtype));
}

/* A reference line's loss for a script: 0 when the records carry none (the script leaves it out). */
static double reference(double loss)
{
    return loss > 0 ? loss : 0;
}

/* A probe run: its learning curves, and loss against each cost with the frontier. The reference lines are on
 * both. Speed panels only where the speed run measured some shape. Axes from sb_probe_extent, as the names'
 * placement (draw.c) has them. */
static void plan_probe(const sb_probe_view *v, sb_figures *out)
{
    if (v->count == 0)
        return;
    static const struct {
        sb_probe_cost cost;
        const char *name;
    } costs[] = {{SB_COST_PARAMS, "params"}, {SB_COST_TRAIN_FLOPS, "flops"},
                 {SB_COST_FORWARD_SECONDS, "forward"}, {SB_COST_GENERATE_MS, "generate"}};
    char panels[64] = "", extents[512] = "";
    double flops[4] = {0};
    for (size_t c = 0; c < sizeof costs / sizeof costs[0]; c++) {
        double e[4];
        sb_probe_extent(v, costs[c].cost, e);
        if (costs[c].cost == SB_COST_TRAIN_FLOPS)
            memcpy(flops, e, sizeof flops);
        if (!(e[0] <= e[1] && e[2] <= e[3]))
            continue; /* nothing to draw against this cost */
        add_word(panels, sizeof panels, costs[c].name);
        set(extents + strlen(extents), sizeof extents - strlen(extents), "%s%.9g %.9g %.9g %.9g",
            extents[0] ? " " : "", e[0], e[1], e[2], e[3]);
    }
    if (!(flops[0] <= flops[1] && flops[2] <= flops[3]))
        return; /* no curve point has a loss */
    sb_figure *f = add(out, "probe_curves", "probe_curves.gp",
                       "Learning curves: held-out loss against training FLOPs for every shape (mean over seeds, "
                       "error bars one seed standard deviation), with the unigram and bigram reference lines.");
    set_probe_setting(f, v);
    var_number(f, "unigram", reference(v->unigram));
    var_number(f, "bigram", reference(v->bigram));
    var_number(f, "shapes_n", (double)v->count);
    var_number(f, "xlo", flops[0]);
    var_number(f, "xhi", flops[1]);
    var_number(f, "ylo", flops[2]);
    var_number(f, "yhi", flops[3]);
    f = add(out, "probe_frontier", "probe_frontier.gp",
            "Held-out loss against params, training FLOPs (every curve point) and, from a speed run joined with "
            "--speed, forward seconds per sequence and generation ms per token, each with its Pareto frontier "
            "(lower loss for lower cost, ringed) and the reference lines; error bars one seed standard deviation; "
            "each shape named at the budget where its name fits.");
    set_probe_setting(f, v);
    var_number(f, "unigram", reference(v->unigram));
    var_number(f, "bigram", reference(v->bigram));
    var_text(f, "panels", panels);
    var_text(f, "extents", extents);
}

static void plan_quality(const sb_shape_table *t, const sb_results *r, const sb_probe_view *probe, sb_figures *out)
{
    char present[128];
    knobs(t, pick_quality, present, sizeof present);
    size_t before = out->count;
    for (size_t i = 0; i < t->count; i++) {
        const char *metric = t->rows[i].quality_metric;
        if (out->count == SB_FIGURES_MAX - 3)
            break; /* room for latency, roofline and bf16's speed-up */
        if (isnan(t->rows[i].quality) || metric == NULL || !sb_plots_is_plain_name(metric))
            continue;
        if (probe->count > 0 && strcmp(metric, "heldout_loss") == 0)
            continue; /* the probe's own pictures draw it, with curves and reference lines */
        char name[64];
        sb_fmt(name, sizeof name, "quality_%s_vs_cost", metric);
        bool seen = false;
        for (size_t j = before; j < out->count; j++)
            seen = seen || strcmp(out->items[j].name, name) == 0;
        if (seen)
            continue;
        sb_quality_metric info = sb_quality_metric_info(metric);
        /* where the figures come from: each source once */
        char sources[320] = "";
        for (size_t j = 0; j < t->count; j++) {
            const sb_shape_row *row = &t->rows[j];
            if (row->quality_metric != NULL && strcmp(row->quality_metric, metric) == 0 && !isnan(row->quality) &&
                row->quality_source != NULL && strstr(sources, row->quality_source) == NULL)
                set(sources + strlen(sources), sizeof sources - strlen(sources), "%s%s", sources[0] ? "; " : "",
                    row->quality_source);
        }
        char caption[512];
        snprintf(caption, sizeof caption,
                 "Quality (%s) vs parameters, FLOPs per token and measured seconds; error bars, where a record has "
                 "one, the standard deviation over seeds. Quality figures: %s.",
                 metric, sources[0] != '\0' ? sources : "no source recorded");
        sb_figure *f = add(out, name, "quality.gp", caption);
        char ylabel[160];
        snprintf(ylabel, sizeof ylabel, "%s (%s%s)", metric, info.unit[0] != '\0' ? info.unit : "as recorded",
                 info.higher_is_better == 1   ? ", higher is better"
                 : info.higher_is_better == 0 ? ", lower is better"
                                              : "");
        /* a panel per cost some shape with this metric has */
        bool flops = false, seconds = false;
        for (size_t j = 0; j < t->count; j++) {
            const sb_shape_row *row = &t->rows[j];
            if (row->quality_metric == NULL || strcmp(row->quality_metric, metric) != 0 || isnan(row->quality))
                continue;
            flops = flops || isfinite(row->flops_per_token);
            seconds = seconds || isfinite(row->seconds);
        }
        char panels[64];
        snprintf(panels, sizeof panels, "params%s%s", flops ? " flops" : "", seconds ? " seconds" : "");
        var_text(f, "metric", metric);
        var_text(f, "ylabel", ylabel);
        var_text(f, "knobs", present);
        var_text(f, "panels", panels);
        set_setting(f, r, t->main_mode, plain_or_empty(t->main_dtype));
    }
    if (out->count == before && probe->count == 0) {
        sb_figure *f = add(out, "quality_vs_cost", "quality.gp", "Quality vs cost.");
        set(f->skipped, sizeof f->skipped, "no quality figures in this run");
    }
}

static void plan_latency(const sb_shape_table *t, const sb_results *r, sb_figures *out)
{
    char present[128];
    knobs(t, pick_latency, present, sizeof present);
    sb_figure *f = add(out, "latency_vs_depth_width", "latency.gp",
                       "Generation latency per token (generate mode, log scale) vs the decoder's depth (blocks) and "
                       "width (d_model): each step runs the decoder's blocks in sequence. Error bars: the 95 % "
                       "interval of the median repetition.");
    var_text(f, "knobs", present);
    set_setting(f, r, "generate", plain_or_empty(t->main_dtype));
    if (present[0] == '\0')
        set_left_out(f, r, "generate", "a latency");
}

static void plan_roofline(const sb_shape_table *t, const sb_results *results, sb_figures *out)
{
    sb_figure *f = add(out, "roofline", "roofline.gp",
                       "Roofline: arithmetic intensity of each op class of every record measured in the rows' "
                       "precision (colour: op class, marker: mode; the SVG names each point's shape on hover) against "
                       "the measured sgemm and "
                       "stream-copy roofs; filled: achieved rate (op classes: the engine's profile of their regions; "
                       "total: the whole repetition), ringed: an op class with no timed rate, at its ceiling. The "
                       "memory roof is the stream-copy bandwidth: work that only reads, or reads from cache, can sit "
                       "above it.");
    double sgemm, fma, bw;
    const cJSON *sys = NULL;
    for (size_t i = 0; i < results->count && sys == NULL; i++)
        if (!isnan(sgemm = sb_field_number(results->records[i], SB_F_SYSTEM_SGEMM_GFLOPS)))
            sys = results->records[i];
    if (sys == NULL || !(sgemm > 0) || !((fma = sb_field_number(sys, SB_F_SYSTEM_FMA_GFLOPS)) > 0) ||
        !((bw = sb_field_number(sys, SB_F_SYSTEM_STREAM_COPY_GBPS)) > 0)) {
        set(f->skipped, sizeof f->skipped,
            "no measured machine peaks (system.sgemm_gflops, stream_copy_gbps) in this run");
        return;
    }
    /* Every measured record's op classes in the rows' precision, in every mode (each mode has its own
     * intensities). An op class
     * without an achieved rate (records of schema 1 did not time them apart) is drawn at its ceiling, the
     * roof at its intensity. */
    char timed[160] = "", untimed[160] = "", modes[160] = "";
    double xlo = INFINITY, xhi = 0, ylo = INFINITY, yhi = fmax(fma, sgemm);
    for (size_t i = 0; i < results->count; i++) {
        const cJSON *record = results->records[i];
        const char *mode = sb_field_string(record, SB_F_SETTINGS_MODE);
        if (!sb_shape_table_in_precision(t, record) || mode == NULL || !sb_plots_is_plain_name(mode))
            continue;
        const cJSON *op;
        cJSON_ArrayForEach(op, sb_record_field(record, SB_F_ROOFLINE)) {
            double ai, achieved;
            if (op->string == NULL || !sb_plots_is_plain_name(op->string) ||
                sb_record_number(op, sb_field_key(SB_F_ROOFLINE_INTENSITY), &ai, NULL) != 0 || !(ai > 0))
                continue;
            const bool is_timed =
                sb_record_number(op, sb_field_key(SB_F_ROOFLINE_ACHIEVED_GFLOPS), &achieved, NULL) == 0 &&
                achieved > 0;
            const double y = is_timed ? achieved : fmin(ai * bw, sgemm);
            xlo = fmin(xlo, ai);
            xhi = fmax(xhi, ai);
            ylo = fmin(ylo, y);
            yhi = fmax(yhi, y);
            add_word(is_timed ? timed : untimed, sizeof timed, op->string);
            add_word(modes, sizeof modes, mode);
        }
    }
    if (timed[0] == '\0' && untimed[0] == '\0') {
        set_left_out(f, results, NULL, "roofline figures");
        return;
    }
    const double ridge = sgemm / bw;
    var_text(f, "timed", timed);
    var_text(f, "untimed", untimed);
    var_text(f, "modes", modes);
    var_number(f, "sgemm", sgemm);
    var_number(f, "fma", fma);
    var_number(f, "bandwidth", bw);
    var_number(f, "xlo", fmin(xlo, ridge));
    var_number(f, "xhi", fmax(xhi, ridge));
    var_number(f, "ylo", ylo);
    var_number(f, "yhi", yhi);
    if (strchr(modes, ' ') == NULL)
        set_setting(f, results, modes, plain_or_empty(t->main_dtype));
    else
        set(f->setting, sizeof f->setting, "%s modes, %s", modes, plain_or_empty(t->main_dtype));
}

/* bf16's speed-up over fp32 per shape, in the mode most pairs were measured in. */
static void plan_precision(const sb_results *results, sb_figures *out)
{
    sb_figure *f = add(out, "bf16_speedup_vs_params", "speedup.gp",
                       "bf16 products against fp32: speed-up per repetition (fp32 seconds / bf16 seconds) of every "
                       "shape measured in both, against its parameters; the dashed line is the ratio of the machine's "
                       "bf16 dot-product and fp32 FMA peaks, the most bf16's arithmetic can give. Error bars: the "
                       "speed-ups the two medians' 95 % intervals allow. Shapes named where the name fits.");
    sb_precision_table t;
    sb_error err;
    if (sb_precision_table_build(results, &t, &err) != 0) {
        set(f->skipped, sizeof f->skipped, "%s", err.msg);
        return;
    }
    /* the knobs among the pairs of the picture's mode, in the fixed order of the scaling words */
    static const char *const order[] = {"base", "depth", "width", "attention", "switch", "other"};
    const char *mode = t.mode != NULL && sb_plots_is_plain_name(t.mode) ? t.mode : NULL; /* it reaches the script */
    char present[128] = "";
    for (size_t k = 0; mode != NULL && k < sizeof order / sizeof order[0]; k++)
        for (size_t i = 0; i < t.count; i++)
            if (strcmp(t.rows[i].mode, mode) == 0 && strcmp(t.rows[i].scaling, order[k]) == 0)
                add_word(present, sizeof present, order[k]);
    if (t.count == 0 || mode == NULL) {
        set(f->skipped, sizeof f->skipped, "no shape measured in both bf16 and f32 with otherwise equal settings");
    } else {
        var_text(f, "mode", mode);
        var_text(f, "knobs", present);
        var_number(f, "ceiling", isnan(t.ceiling) ? 0 : t.ceiling);
        set_setting(f, results, mode, "bf16 against f32");
    }
    sb_precision_table_free(&t);
}

void sb_figures_plan(const sb_shape_table *table, const sb_results *results, const sb_probe_view *probe,
                     sb_figures *out)
{
    memset(out, 0, sizeof *out);
    plan_throughput(table, results, out);
    plan_probe(probe, out);
    plan_quality(table, results, probe, out);
    plan_latency(table, results, out);
    plan_roofline(table, results, out);
    plan_precision(results, out);
}

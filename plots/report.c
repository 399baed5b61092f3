/* report.c — REPORT.md and REPORT.html of a run: machine and settings, method, what was extrapolated or
 * skipped, the pictures, a table per scaling family, deep-narrow vs wide at matched params and FLOPs with a
 * finding computed from the numbers, dense vs Switch. Every sentence that states a result is generated. */
#include "plots/plots.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Two shapes are "matched" when the larger figure is at most this factor of the smaller one (±15 %). */
#define MATCH_FACTOR 1.15

typedef char cell[128];

static const char *num(cell out, double value, const char *format)
{
    if (isnan(value))
        snprintf(out, sizeof(cell), "—");
    else
        snprintf(out, sizeof(cell), format, value);
    return out;
}

static const char *text(const cJSON *record, const char *path)
{
    const char *s = sb_record_string(record, path);
    return s != NULL && *s != '\0' ? s : "unknown";
}

static const char *field(cell out, const cJSON *record, const char *path, const char *format)
{
    double v;
    return num(out, record != NULL && sb_record_number(record, path, &v, NULL) == 0 ? v : NAN, format);
}

static const char *verdict_of(const sb_shape_row *row)
{
    return text(row->main != NULL ? row->main : row->generate, "verdict");
}

/* ---- machine, settings, method -------------------------------------------------------------------- */

/* "v1, v2": the distinct values a field takes over the run's records. */
static const char *distinct(const sb_results *r, const char *path, char *out, size_t size)
{
    out[0] = '\0';
    for (size_t i = 0; i < r->count; i++) {
        char value[64], padded[1100], needle[80];
        double d;
        const char *s = sb_record_string(r->records[i], path);
        if (s != NULL)
            snprintf(value, sizeof value, "%s", s);
        else if (sb_record_number(r->records[i], path, &d, NULL) == 0)
            snprintf(value, sizeof value, "%g", d);
        else
            continue;
        snprintf(padded, sizeof padded, ", %s,", out);
        snprintf(needle, sizeof needle, ", %s,", value);
        if (strstr(padded, needle) == NULL) {
            size_t used = strlen(out);
            snprintf(out + used, size - used, "%s%s", used > 0 ? ", " : "", value);
        }
    }
    if (out[0] == '\0')
        snprintf(out, size, "not recorded");
    return out;
}

static void machine_section(sb_doc *doc, const sb_results *r)
{
    const cJSON *sys = sb_results_system(r);
    cell a, b, c;
    char v[6][1024];
    char flags[256] = "";
    const cJSON *flag;
    cJSON_ArrayForEach(flag, cJSON_GetObjectItemCaseSensitive(sys, "cpu_flags")) {
        size_t used = strlen(flags);
        if (cJSON_IsString(flag))
            snprintf(flags + used, sizeof flags - used, "%s%s", used > 0 ? " " : "", flag->valuestring);
    }
    sb_doc_heading(doc, 2, "Machine and settings");
    sb_doc_text(doc, true, "CPU: %s, %s logical cores, %s threads used; SIMD flags: %s", text(sys, "cpu_model"),
                field(a, sys, "logical_cores", "%.0f"), field(b, sys, "threads", "%.0f"),
                flags[0] != '\0' ? flags : "not recorded");
    sb_doc_text(doc, true, "GEMM: %s (%s), OpenBLAS core %s", text(sys, "gemm_backend"), text(sys, "gemm_version"),
                text(sys, "openblas_core"));
    sb_doc_text(doc, true, "Measured peaks: sgemm %s GFLOP/s, FMA loop %s GFLOP/s, stream copy %s GB/s",
                field(a, sys, "sgemm_gflops", "%.1f"), field(b, sys, "fma_gflops", "%.1f"),
                field(c, sys, "stream_copy_gbps", "%.1f"));
    sb_doc_text(doc, true, "Build: %s, flags %s, commit %s, date %s", text(sys, "compiler"), text(sys, "build_flags"),
                text(sys, "git_commit"), text(sys, "date"));
    sb_doc_text(doc, true, "Settings: modes %s; batch %s sequences; src_len %s tokens; tgt_len %s tokens; dtype %s",
                distinct(r, "settings.mode", v[0], sizeof v[0]), distinct(r, "settings.batch", v[1], sizeof v[1]),
                distinct(r, "settings.src_len", v[2], sizeof v[2]), distinct(r, "settings.tgt_len", v[3], sizeof v[3]),
                distinct(r, "settings.dtype", v[4], sizeof v[4]));
    sb_doc_text(doc, true, "Repetitions: warmup %s, at least %s timed, min_time_s %s s, max_time_s %s s",
                distinct(r, "settings.warmup", v[0], sizeof v[0]), distinct(r, "settings.min_reps", v[1], sizeof v[1]),
                distinct(r, "settings.min_time_s", v[2], sizeof v[2]),
                distinct(r, "settings.max_time_s", v[3], sizeof v[3]));
    size_t measured = 0, extrapolated = 0, skipped = 0, failed = 0;
    for (size_t i = 0; i < r->count; i++) {
        const char *verdict = text(r->records[i], "verdict");
        measured += sb_record_measured(r->records[i]);
        extrapolated += strcmp(verdict, "extrapolated") == 0;
        skipped += strncmp(verdict, "skipped", 7) == 0;
        failed += strncmp(verdict, "failed", 6) == 0;
    }
    sb_doc_text(doc, true, "Records: %zu in %s: %zu measured (%zu of them extrapolated), %zu skipped, %zu failed",
                r->count, r->file, measured, extrapolated, skipped, failed);
}

static void method_section(sb_doc *doc, const sb_shape_table *t)
{
    sb_doc_heading(doc, 2, "How each figure was measured");
    sb_doc_text(doc, true, "Tables and throughput pictures use each shape's %s-mode record (the mode most records of "
                           "this run were measured in); generation latency comes from the shape's generate record.",
                t->main_mode != NULL ? t->main_mode : "(no measured)");
    sb_doc_text(doc, true, "tokens/s: tokens per repetition divided by the median wall-clock seconds of the timed "
                           "repetitions (encode: batch x src_len; forward: batch x (src_len + tgt_len)).");
    sb_doc_text(doc, true, "Executed GFLOP per token: the engine's executed FLOPs of one repetition (every GEMM, "
                           "2 FLOPs per multiply-add) per token, i.e. gflops_per_s x 1e9 / tokens_per_s.");
    sb_doc_text(doc, true, "params: exact analytic count (Hugging Face num_parameters, tied embeddings once); "
                           "active params: one expert per sparse block, router included.");
    sb_doc_text(doc, true, "Generation (ms/token): median latency of one incremental decoding step.");
    sb_doc_text(doc, true, "Peak RSS: getrusage maximum resident set size after the measurement, in MiB "
                           "(1 MiB = 2^20 bytes).");
    sb_doc_text(doc, true, "Quality: the record's own figure, else the Switch paper's Table 9 figure for the same "
                           "shape name (plots/data/switch_table9_quality.tsv).");
    sb_doc_text(doc, true, "Pareto frontier (throughput pictures and the finding): the shapes no other shape beats "
                           "on both size (more params, or more FLOPs per token) and tokens/s, i.e. the fastest "
                           "shape for its size. Smaller shapes are always faster, so this, not the least-cost "
                           "frontier, separates the shapes that use this machine well.");
}

/* "skipped: too big" -> "too big". */
static const char *reason(const char *verdict)
{
    const char *colon = strchr(verdict, ':');
    return colon == NULL ? verdict : colon + 1 + strspn(colon + 1, " ");
}

static void exceptions_section(sb_doc *doc, const sb_results *r)
{
    sb_doc_heading(doc, 2, "Extrapolated, skipped and failed");
    static const char *headers[] = {"shape", "mode", "verdict", "why / how"};
    size_t shown = 0;
    for (size_t i = 0; i < r->count; i++) {
        const cJSON *rec = r->records[i];
        const char *verdict = text(rec, "verdict");
        bool extrapolated = strcmp(verdict, "extrapolated") == 0;
        if (!extrapolated && strncmp(verdict, "skipped", 7) != 0 && strncmp(verdict, "failed", 6) != 0)
            continue;
        if (shown++ == 0)
            sb_doc_table(doc, 4, headers);
        char head[64];
        snprintf(head, sizeof head, "%.*s", (int)strcspn(verdict, ":"), verdict);
        const char *cells[] = {text(rec, "shape"), text(rec, "settings.mode"), head,
                               extrapolated ? text(rec, "extrapolation.method") : reason(verdict)};
        sb_doc_row(doc, cells);
    }
    if (shown > 0)
        sb_doc_table_end(doc);
    else
        sb_doc_text(doc, false, "Every record was measured in full.");
}

static void figures_section(sb_doc *doc, const sb_results *r, const sb_figures *figures)
{
    sb_doc_heading(doc, 2, "Figures");
    for (size_t i = 0; i < figures->count; i++) {
        const sb_figure *f = &figures->items[i];
        char png[SB_PATH_MAX + 96], src[96];
        snprintf(png, sizeof png, "%s/plots/%s.png", r->dir, f->name);
        snprintf(src, sizeof src, "plots/%s.png", f->name);
        if (f->skipped[0] != '\0')
            sb_doc_text(doc, false, "%s Not drawn: %s.", f->caption, f->skipped);
        else if (access(png, R_OK) != 0)
            sb_doc_text(doc, false, "%s Not drawn yet: run `shapebench plots --run %s`.", f->caption, r->dir);
        else
            sb_doc_image(doc, src, f->caption);
    }
}

/* ---- a table per scaling family ------------------------------------------------------------------- */

static void shape_row(sb_doc *doc, const sb_shape_row *row)
{
    cell blocks, dm, ff, heads, params, flops, tps, ms, rss;
    snprintf(blocks, sizeof blocks, "%d/%d", row->num_layers, row->num_decoder_layers);
    snprintf(heads, sizeof heads, "%.0f x %.0f", row->num_heads, row->d_kv);
    const char *cells[] = {row->shape, blocks, num(dm, row->d_model, "%.0f"), num(ff, row->d_ff, "%.0f"), heads,
                           num(params, row->params / 1e6, "%.1f"), num(flops, row->flops_per_token / 1e9, "%.3f"),
                           num(tps, row->tokens_per_s, "%.1f"), num(ms, row->ms_per_token, "%.2f"),
                           num(rss, row->peak_rss_bytes / 1048576.0, "%.0f"), verdict_of(row)};
    sb_doc_row(doc, cells);
}

static void family_sections(sb_doc *doc, const sb_shape_table *t)
{
    static const struct {
        const char *scaling, *title;
    } families[] = {
        {"base", "Base sizes"},
        {"depth", "Depth sweep (nl / el / dl)"},
        {"width", "Width sweep (dm / ff)"},
        {"attention", "Attention sweep (kv / nh / skv)"},
        {"switch", "Switch expert count"},
        {"other", "Other shapes"},
    };
    static const char *headers[] = {"shape", "enc/dec blocks", "d_model", "d_ff", "heads x d_kv", "params (M)",
                                    "executed GFLOP/token", "tokens/s", "generation (ms/token)", "peak RSS (MiB)",
                                    "verdict"};
    sb_doc_heading(doc, 2, "Results by scaling family");
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
        size_t shown = 0;
        for (size_t i = 0; i < t->count; i++) {
            const sb_shape_row *row = &t->rows[i];
            bool known = false;
            for (size_t k = 0; k + 1 < sizeof families / sizeof families[0]; k++)
                known = known || strcmp(row->scaling, families[k].scaling) == 0;
            if (known ? strcmp(row->scaling, families[f].scaling) != 0 : strcmp(families[f].scaling, "other") != 0)
                continue;
            if (shown++ == 0) {
                sb_doc_heading(doc, 3, families[f].title);
                sb_doc_table(doc, 11, headers);
            }
            shape_row(doc, row);
        }
        if (shown > 0)
            sb_doc_table_end(doc);
    }
}

/* ---- deep-narrow vs wide -------------------------------------------------------------------------- */

typedef struct {
    const sb_shape_row *deep, *wide;
    double speed; /* deep tokens/s over wide tokens/s */
} pair;

/* a is deeper and narrower than b: more blocks, no wider a residual stream, and narrower somewhere. */
static bool deeper_narrower(const sb_shape_row *a, const sb_shape_row *b)
{
    return a->layers > b->layers && a->d_model <= b->d_model && (a->d_model < b->d_model || a->d_ff < b->d_ff);
}

static double cost(const sb_shape_row *row, bool by_params)
{
    return by_params ? row->params : row->flops_per_token;
}

static size_t find_pairs(const sb_shape_table *t, bool by_params, pair *out)
{
    size_t n = 0;
    for (size_t i = 0; i < t->count; i++)
        for (size_t j = 0; j < t->count; j++) {
            const sb_shape_row *a = &t->rows[i], *b = &t->rows[j];
            if (!a->measured || !b->measured || a->num_experts > 0 || b->num_experts > 0 || !deeper_narrower(a, b))
                continue;
            double ca = cost(a, by_params), cb = cost(b, by_params);
            if (!(ca > 0 && cb > 0) || fmax(ca, cb) > MATCH_FACTOR * fmin(ca, cb))
                continue;
            out[n++] = (pair){a, b, a->tokens_per_s / b->tokens_per_s};
        }
    return n;
}

/* The quality difference deep - wide in the metric both carry, or NaN. */
static double quality_gap(const pair *p)
{
    if (isnan(p->deep->quality) || isnan(p->wide->quality) || p->deep->quality_metric == NULL ||
        p->wide->quality_metric == NULL || strcmp(p->deep->quality_metric, p->wide->quality_metric) != 0)
        return NAN;
    return p->deep->quality - p->wide->quality;
}

static void pair_table(sb_doc *doc, const pair *pairs, size_t n, bool by_params)
{
    const char *unit = by_params ? "params (M)" : "executed GFLOP/token";
    char deep_cost[64], wide_cost[64];
    snprintf(deep_cost, sizeof deep_cost, "deep %s", unit);
    snprintf(wide_cost, sizeof wide_cost, "wide %s", unit);
    const char *headers[] = {"deeper-narrower", "wider", deep_cost, wide_cost, "deep tokens/s", "wide tokens/s",
                             "speed deep / wide (x)", "quality deep - wide"};
    sb_doc_table(doc, 8, headers);
    for (size_t i = 0; i < n; i++) {
        const pair *p = &pairs[i];
        double scale = by_params ? 1e6 : 1e9;
        const char *format = by_params ? "%.1f" : "%.3f";
        cell dn, wn, dc, wc, dt, wt, sp, q;
        snprintf(dn, sizeof dn, "%s (%d/%d blocks, d_model %.0f)", p->deep->shape, p->deep->num_layers,
                 p->deep->num_decoder_layers, p->deep->d_model);
        snprintf(wn, sizeof wn, "%s (%d/%d blocks, d_model %.0f)", p->wide->shape, p->wide->num_layers,
                 p->wide->num_decoder_layers, p->wide->d_model);
        double gap = quality_gap(p);
        if (isnan(gap))
            snprintf(q, sizeof q, "—");
        else
            snprintf(q, sizeof q, "%+.3f %s %s", gap, sb_quality_metric_info(p->deep->quality_metric).unit,
                     p->deep->quality_metric);
        const char *cells[] = {dn, wn, num(dc, cost(p->deep, by_params) / scale, format),
                               num(wc, cost(p->wide, by_params) / scale, format),
                               num(dt, p->deep->tokens_per_s, "%.1f"), num(wt, p->wide->tokens_per_s, "%.1f"),
                               num(sp, p->speed, "%.2f"), q};
        sb_doc_row(doc, cells);
    }
    sb_doc_table_end(doc);
}

static int by_speed(const void *a, const void *b)
{
    double x = ((const pair *)a)->speed, y = ((const pair *)b)->speed;
    return (x > y) - (x < y);
}

/* "0.62x (median of 3 pairs, range 0.55x to 0.70x)" of pairs sorted by speed; returns the median. */
static double summary(char *out, size_t size, pair *pairs, size_t n)
{
    qsort(pairs, n, sizeof *pairs, by_speed);
    double median = n % 2 ? pairs[n / 2].speed : (pairs[n / 2 - 1].speed + pairs[n / 2].speed) / 2;
    snprintf(out, size, "%.2fx the tokens/s of the wider one (median of %zu pair%s, range %.2fx to %.2fx)", median, n,
             n == 1 ? "" : "s", pairs[0].speed, pairs[n - 1].speed);
    return median;
}

/* Which side of the tokens/s frontier (against params, and against FLOPs) each family's shapes fall on. */
static void frontier_sentence(char *out, size_t size, const sb_shape_table *t, const bool *on_params,
                              const bool *on_flops)
{
    static const char *order[] = {"base", "depth", "width", "attention", "switch", "other"};
    size_t used =
        (size_t)snprintf(out, size, "On the tokens/s frontier against params (and against FLOPs per token): ");
    bool any = false;
    for (size_t k = 0; k < sizeof order / sizeof order[0] && used < size; k++) {
        size_t total = 0, params = 0, flops = 0;
        for (size_t i = 0; i < t->count; i++)
            if (t->rows[i].measured && strcmp(t->rows[i].scaling, order[k]) == 0) {
                total++;
                params += on_params[i];
                flops += on_flops[i];
            }
        if (total == 0)
            continue;
        const char *side = params == total ? "on the frontier" : params == 0 ? "below the frontier" : "straddling it";
        used += (size_t)snprintf(out + used, size - used, "%s%s %zu of %zu (%zu of %zu), %s", any ? "; " : "",
                                 order[k], params, total, flops, total, side);
        any = true;
    }
    if (used < size)
        snprintf(out + used, size - used, any ? "." : "no measured shapes.");
}

static int deep_wide_section(sb_doc *doc, const sb_results *r, const sb_shape_table *t, sb_error *err)
{
    sb_doc_heading(doc, 2, "Deep-narrow vs wide");
    sb_doc_text(doc, false, "Pairs of dense shapes whose parameter count (or executed FLOPs per token) agree within "
                            "±15 %% (larger / smaller <= %.2f), one with more blocks and a narrower d_model or d_ff "
                            "than the other. Speed ratio above 1: the deeper shape is faster.",
                MATCH_FACTOR);
    pair *by_params = calloc(t->count * t->count + 1, sizeof *by_params);
    pair *by_flops = calloc(t->count * t->count + 1, sizeof *by_flops);
    bool *on_params = calloc(t->count + 1, sizeof *on_params), *on_flops = calloc(t->count + 1, sizeof *on_flops);
    int rc = by_params == NULL || by_flops == NULL || on_params == NULL || on_flops == NULL
                 ? sb_fail(err, "out of memory for the deep-vs-wide pairs")
                 : 0;
    if (rc == 0)
        rc = sb_shape_frontier(t, "params", on_params, err);
    if (rc == 0)
        rc = sb_shape_frontier(t, "flops", on_flops, err);
    if (rc == 0) {
        size_t np = find_pairs(t, true, by_params), nf = find_pairs(t, false, by_flops);
        sb_doc_heading(doc, 3, "At matched parameter count");
        if (np > 0)
            pair_table(doc, by_params, np, true);
        else
            sb_doc_text(doc, false, "No parameter-matched deep/wide pair in this run.");
        sb_doc_heading(doc, 3, "At matched FLOPs per token");
        if (nf > 0)
            pair_table(doc, by_flops, nf, false);
        else
            sb_doc_text(doc, false, "No FLOP-matched deep/wide pair in this run.");

        char machine[384], params_part[256], flops_part[256], quality_part[512] = "", frontier[1024];
        sb_results_machine(r, machine, sizeof machine);
        /* The verdict follows matched params where there is such a pair, else matched FLOPs. */
        double verdict = NAN;
        if (nf > 0)
            verdict = summary(flops_part, sizeof flops_part, by_flops, nf);
        if (np > 0)
            verdict = summary(params_part, sizeof params_part, by_params, np);
        size_t nq = 0, better = 0;
        double gap_sum = 0;
        const char *metric = NULL;
        for (size_t i = 0; i < np; i++) {
            double gap = quality_gap(&by_params[i]);
            if (isnan(gap) || (metric != NULL && strcmp(metric, by_params[i].deep->quality_metric) != 0))
                continue;
            metric = by_params[i].deep->quality_metric;
            sb_quality_metric info = sb_quality_metric_info(metric);
            better += info.higher_is_better == 1 ? gap > 0 : info.higher_is_better == 0 ? gap < 0 : 0;
            gap_sum += gap;
            nq++;
        }
        if (nq > 0)
            snprintf(quality_part, sizeof quality_part,
                     " Where both sides of a parameter-matched pair carry quality (%zu pair%s, %s), the deeper shape "
                     "differs by %+.3f %s on average and is better in %zu of them.",
                     nq, nq == 1 ? "" : "s", metric, gap_sum / (double)nq, sb_quality_metric_info(metric).unit,
                     better);
        else
            snprintf(quality_part, sizeof quality_part, " No parameter-matched pair carries quality figures on both "
                                                        "sides, so this run says nothing about quality per shape.");
        frontier_sentence(frontier, sizeof frontier, t, on_params, on_flops);
        sb_doc_heading(doc, 3, "Finding");
        if (np == 0 && nf == 0)
            sb_doc_text(doc, false, "On %s no deep/wide pair is matched within ±15 %%, so this run cannot compare "
                                    "the two; a sweep with depth and width knobs (make sweep PRESET=default) can. %s",
                        machine, frontier);
        else
            sb_doc_text(doc, false, "On %s, a deeper-narrower shape ran at %s at matched parameter count, and at %s "
                                    "at matched FLOPs per token: at equal size %s on this machine. %s%s",
                        machine, np > 0 ? params_part : "(no pair)", nf > 0 ? flops_part : "(no pair)",
                        verdict < 1   ? "the wider shapes are faster"
                        : verdict > 1 ? "the deeper-narrower shapes are faster"
                                      : "neither side is faster",
                        frontier,
                        quality_part);
    }
    free(by_params);
    free(by_flops);
    free(on_params);
    free(on_flops);
    return rc;
}

/* ---- dense vs Switch, quality --------------------------------------------------------------------- */

static int by_experts(const void *a, const void *b)
{
    const sb_shape_row *p = *(const sb_shape_row *const *)a, *q = *(const sb_shape_row *const *)b;
    return (p->num_experts > q->num_experts) - (p->num_experts < q->num_experts);
}

static int switch_section(sb_doc *doc, const sb_shape_table *t, sb_error *err)
{
    sb_doc_heading(doc, 2, "Dense vs Switch");
    const sb_shape_row *first = NULL;
    for (size_t i = 0; i < t->count && first == NULL; i++)
        if (t->rows[i].num_experts > 0)
            first = &t->rows[i];
    if (first == NULL) {
        sb_doc_text(doc, false, "No Switch shapes in this run.");
        return 0;
    }
    /* The dense counterparts: the Switch shapes' width, FFN width and depth, no experts. */
    const sb_shape_row **rows = calloc(t->count, sizeof *rows);
    if (rows == NULL)
        return sb_fail(err, "out of memory for the Switch table");
    size_t n = 0;
    const sb_shape_row *dense = NULL;
    for (size_t i = 0; i < t->count; i++) {
        const sb_shape_row *row = &t->rows[i];
        bool counterpart = row->num_experts == 0 && row->d_model == first->d_model && row->d_ff == first->d_ff &&
                           row->layers == first->layers;
        if (row->num_experts > 0 || counterpart)
            rows[n++] = row;
        if (counterpart && dense == NULL && row->measured)
            dense = row;
    }
    qsort(rows, n, sizeof *rows, by_experts);
    sb_doc_text(doc, false, "Total vs active parameters and speed as experts grow; speed relative to %s.",
                dense != NULL ? dense->shape : "a dense shape of the same width and depth (none measured in this run)");
    static const char *headers[] = {"shape", "experts", "total params (M)", "active params (M)", "tokens/s",
                                    "speed vs dense (x)", "peak RSS (MiB)", "verdict"};
    sb_doc_table(doc, 8, headers);
    for (size_t i = 0; i < n; i++) {
        cell e, total, active, tps, speed, rss;
        const char *cells[] = {rows[i]->shape, num(e, rows[i]->num_experts, "%.0f"),
                               num(total, rows[i]->params / 1e6, "%.1f"),
                               num(active, rows[i]->params_active / 1e6, "%.1f"),
                               num(tps, rows[i]->tokens_per_s, "%.1f"),
                               num(speed, dense != NULL ? rows[i]->tokens_per_s / dense->tokens_per_s : NAN, "%.2f"),
                               num(rss, rows[i]->peak_rss_bytes / 1048576.0, "%.0f"), verdict_of(rows[i])};
        sb_doc_row(doc, cells);
    }
    sb_doc_table_end(doc);
    free(rows);
    return 0;
}

static void quality_section(sb_doc *doc, const sb_shape_table *t)
{
    sb_doc_heading(doc, 2, "Quality");
    static const char *headers[] = {"shape", "metric", "value", "source"};
    size_t shown = 0;
    for (size_t i = 0; i < t->count; i++) {
        const sb_shape_row *row = &t->rows[i];
        if (isnan(row->quality))
            continue;
        if (shown++ == 0)
            sb_doc_table(doc, 4, headers);
        cell value;
        snprintf(value, sizeof value, "%.3f %s", row->quality, sb_quality_metric_info(row->quality_metric).unit);
        const char *cells[] = {row->shape, row->quality_metric != NULL ? row->quality_metric : "unknown", value,
                               row->quality_source != NULL ? row->quality_source : "unknown"};
        sb_doc_row(doc, cells);
    }
    if (shown > 0)
        sb_doc_table_end(doc);
    else
        sb_doc_text(doc, false, "No quality figures in this run.");
}

int sb_report_write(const sb_results *results, const sb_shape_table *table, const sb_figures *figures,
                    sb_error *err)
{
    char md_path[SB_PATH_MAX + 16], html_path[SB_PATH_MAX + 16];
    snprintf(md_path, sizeof md_path, "%s/REPORT.md", results->dir);
    snprintf(html_path, sizeof html_path, "%s/REPORT.html", results->dir);
    sb_doc doc = {fopen(md_path, "w"), fopen(html_path, "w"), 0, false};
    if (doc.md == NULL || doc.html == NULL) {
        int e = errno;
        if (doc.md != NULL)
            fclose(doc.md);
        if (doc.html != NULL)
            fclose(doc.html);
        return sb_fail(err, "cannot write %s: %s", doc.md == NULL ? md_path : html_path, strerror(e));
    }
    char title[SB_PATH_MAX + 64];
    const char *run = sb_record_string(results->records[0], "run");
    snprintf(title, sizeof title, "shapebench report: %s", run != NULL ? run : results->dir);
    sb_doc_begin(&doc, title);
    machine_section(&doc, results);
    method_section(&doc, table);
    exceptions_section(&doc, results);
    figures_section(&doc, results, figures);
    family_sections(&doc, table);
    int rc = deep_wide_section(&doc, results, table, err);
    if (rc == 0)
        rc = switch_section(&doc, table, err);
    if (rc == 0)
        quality_section(&doc, table);
    sb_doc_end(&doc);
    bool failed = ferror(doc.md) || ferror(doc.html);
    failed |= fclose(doc.md) != 0;
    failed |= fclose(doc.html) != 0;
    if (rc == 0 && failed)
        rc = sb_fail(err, "cannot write %s or %s (disk full?)", md_path, html_path);
    return rc;
}

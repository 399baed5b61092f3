/* deepwide.c — the report's deep-narrow vs wide section: dense shapes paired at matched parameter count
 * and at matched FLOPs per token, their speed ratio and quality difference, and the finding, a paragraph
 * generated from those numbers and from which side of the tokens/s frontier each scaling family falls on. */
#include "plots/plots.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Two shapes are "matched" when the larger figure is at most this factor of the smaller one (±15 %). */
#define MATCH_FACTOR 1.15

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
        sb_doc_cell dn, wn, dc, wc, dt, wt, sp, q;
        snprintf(dn, sizeof dn, "%s (%.0f/%.0f blocks, d_model %.0f)", p->deep->shape, p->deep->num_layers,
                 p->deep->num_decoder_layers, p->deep->d_model);
        snprintf(wn, sizeof wn, "%s (%.0f/%.0f blocks, d_model %.0f)", p->wide->shape, p->wide->num_layers,
                 p->wide->num_decoder_layers, p->wide->d_model);
        double gap = quality_gap(p);
        if (isnan(gap))
            snprintf(q, sizeof q, "—");
        else
            snprintf(q, sizeof q, "%+.3f %s %s", gap, sb_quality_metric_info(p->deep->quality_metric).unit,
                     p->deep->quality_metric);
        const char *cells[] = {dn, wn, sb_doc_number(dc, cost(p->deep, by_params) / scale, format),
                               sb_doc_number(wc, cost(p->wide, by_params) / scale, format),
                               sb_doc_number(dt, p->deep->tokens_per_s, "%.1f"),
                               sb_doc_number(wt, p->wide->tokens_per_s, "%.1f"),
                               sb_doc_number(sp, p->speed, "%.2f"), q};
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

int sb_report_deep_wide(sb_doc *doc, const sb_results *r, const sb_shape_table *t, sb_error *err)
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
            sb_doc_text(doc, false, "On %s, no deep/wide pair is matched within ±15 %%, so this run cannot compare "
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

/* deepwide.c — the report's deep-narrow vs wide section: the pairs that variants/'s rule picks among the run's
 * dense shapes at matched parameter count and at matched FLOPs per token, their speed ratio and, where the
 * probe trained both, their held-out loss difference with its 95 % interval at the last two budgets; then the
 * finding, generated from those numbers with its evidence (pairs, seeds, intervals). One pair or a smoke run
 * never yields a general claim. */
#include "plots/plots.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const sb_shape_row *deep, *wide;
    double speed;                        /* deep tokens/s over wide tokens/s */
    const sb_probe_shape *qdeep, *qwide; /* the probe's curves of both, or NULL */
    sb_interval last;                    /* held-out loss deep - wide at the budget (nats/token) */
    double before;                       /* the mean difference at the budget before */
} pair;

typedef struct {
    pair *items;
    size_t count;
} pairs;

static sb_body body_of(const sb_shape_row *row)
{
    return (sb_body){row->layers, row->d_model, row->d_ff, row->num_experts};
}

static int find_pairs(const sb_shape_table *t, const sb_probe_view *probe, bool by_params, pairs *out,
                      sb_error *err)
{
    const size_t n = t->count;
    sb_body *bodies = calloc(n + 1, sizeof *bodies);
    double *size = calloc(n + 1, sizeof *size);
    sb_pair *chosen = calloc(n + 1, sizeof *chosen);
    out->items = calloc(n + 1, sizeof *out->items);
    out->count = 0;
    size_t found = 0;
    int rc = bodies == NULL || size == NULL || chosen == NULL || out->items == NULL
                 ? sb_fail(err, "out of memory for the deep-vs-wide pairs")
                 : 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        bodies[i] = body_of(&t->rows[i]);
        size[i] = !t->rows[i].measured ? NAN : by_params ? t->rows[i].params : t->rows[i].flops_per_token;
    }
    if (rc == 0)
        rc = sb_deep_wide_pairs(bodies, size, n, n, chosen, &found, err);
    for (size_t k = 0; rc == 0 && k < found; k++) {
        pair *p = &out->items[out->count++];
        p->deep = &t->rows[chosen[k].deep];
        p->wide = &t->rows[chosen[k].wide];
        p->speed = p->deep->tokens_per_s / p->wide->tokens_per_s;
        p->qdeep = sb_probe_view_find(probe, p->deep->shape);
        p->qwide = sb_probe_view_find(probe, p->wide->shape);
        p->last = (sb_interval){NAN, NAN, NAN, NAN, NAN, NAN};
        p->before = NAN;
        if (p->qdeep != NULL && p->qwide != NULL) {
            p->last = sb_probe_difference(p->qdeep, p->qwide, 0);
            p->before = sb_probe_difference(p->qdeep, p->qwide, 1).estimate;
        }
    }
    free(bodies);
    free(size);
    free(chosen);
    return rc;
}

/* ---- one pair ------------------------------------------------------------------------------------------ */

static bool decided(const pair *p)
{
    return !isnan(p->last.lo) && (p->last.lo > 0 || p->last.hi < 0);
}

/* The sign of the difference is the same at the last two budgets. */
static bool budget_stable(const pair *p)
{
    return !isnan(p->before) && (p->before < 0) == (p->last.estimate < 0);
}

/* The published quality difference deep - wide in the metric both carry (one figure each), or NaN. */
static double published_gap(const pair *p)
{
    if (isnan(p->deep->quality) || isnan(p->wide->quality) || p->deep->quality_metric == NULL ||
        p->wide->quality_metric == NULL || strcmp(p->deep->quality_metric, p->wide->quality_metric) != 0)
        return NAN;
    return p->deep->quality - p->wide->quality;
}

static const char *pair_verdict(const pair *p)
{
    if (p->qdeep == NULL || p->qwide == NULL)
        return isnan(published_gap(p)) ? "speed only: the probe did not train both shapes"
                                       : "published figures only: no seeds, no interval";
    if (isnan(p->last.lo))
        return "one seed: no interval";
    if (!decided(p))
        return "inconclusive: CI covers 0";
    if (!budget_stable(p))
        return "unsettled: the sign flips between the last two budgets";
    return p->last.estimate < 0 ? "deep-narrow better" : "wide better";
}

static void quality_cells(const pair *p, sb_doc_cell diff, sb_doc_cell ci, sb_doc_cell pv, sb_doc_cell before)
{
    snprintf(ci, sizeof(sb_doc_cell), "—");
    snprintf(pv, sizeof(sb_doc_cell), "—");
    snprintf(before, sizeof(sb_doc_cell), "—");
    if (p->qdeep == NULL || p->qwide == NULL) {
        const double gap = published_gap(p);
        if (isnan(gap))
            snprintf(diff, sizeof(sb_doc_cell), "—");
        else
            snprintf(diff, sizeof(sb_doc_cell), "%+.3f %s %s (published, one figure each)", gap,
                     sb_quality_metric_info(p->deep->quality_metric).unit, p->deep->quality_metric);
        return;
    }
    snprintf(diff, sizeof(sb_doc_cell), "%+.3f", p->last.estimate);
    snprintf(before, sizeof(sb_doc_cell), "%+.3f", p->before);
    if (!isnan(p->last.lo)) {
        snprintf(ci, sizeof(sb_doc_cell), "[%+.3f, %+.3f]", p->last.lo, p->last.hi);
        sb_doc_p(pv, p->last.p);
    }
}

/* Params in millions to a tenth (exact counts, far apart); GFLOP per token to three significant digits, so
 * that small shapes' close costs stay apart. */
static const char *size_cell(sb_doc_cell out, double size, bool by_params)
{
    return by_params ? sb_doc_number(out, size, "%.1f") : sb_doc_sig(out, size, 3);
}

static void pair_table(sb_doc *doc, const pairs *ps, bool by_params)
{
    const char *unit = by_params ? "params (M)" : "executed GFLOP/token";
    char deep_cost[64], wide_cost[64];
    snprintf(deep_cost, sizeof deep_cost, "deep %s", unit);
    snprintf(wide_cost, sizeof wide_cost, "wide %s", unit);
    const char *headers[] = {"deeper-narrower", "wider", deep_cost, wide_cost, "speed deep / wide (x)",
                             "loss deep - wide at budget/2 (nats/token)", "loss deep - wide at budget (nats/token)",
                             "95 % CI (Welch)", "p", "verdict"};
    sb_doc_table(doc, "llrrrrrlrl", headers);
    for (size_t i = 0; i < ps->count; i++) {
        const pair *p = &ps->items[i];
        const double scale = by_params ? 1e6 : 1e9;
        sb_doc_cell dn, wn, dc, wc, sp, before, diff, ci, pv;
        snprintf(dn, sizeof dn, "%s (%.0f/%.0f blocks, d_model %.0f, d_ff %.0f)", p->deep->shape, p->deep->num_layers,
                 p->deep->num_decoder_layers, p->deep->d_model, p->deep->d_ff);
        snprintf(wn, sizeof wn, "%s (%.0f/%.0f blocks, d_model %.0f, d_ff %.0f)", p->wide->shape, p->wide->num_layers,
                 p->wide->num_decoder_layers, p->wide->d_model, p->wide->d_ff);
        quality_cells(p, diff, ci, pv, before);
        const double deep_size = by_params ? p->deep->params : p->deep->flops_per_token;
        const double wide_size = by_params ? p->wide->params : p->wide->flops_per_token;
        const char *cells[] = {dn, wn, size_cell(dc, deep_size / scale, by_params),
                               size_cell(wc, wide_size / scale, by_params), sb_doc_number(sp, p->speed, "%.2f"),
                               before, diff, ci, pv, pair_verdict(p)};
        sb_doc_row(doc, cells);
    }
    sb_doc_table_end(doc);
}

/* ---- the evidence over pairs ----------------------------------------------------------------------------- */

static int by_speed(const void *a, const void *b)
{
    double x = ((const pair *)a)->speed, y = ((const pair *)b)->speed;
    return (x > y) - (x < y);
}

/* "0.62x the tokens/s of the wider one (median of 3 pairs, range 0.55x to 0.70x; faster in 0 of 3)" of the
 * pairs (sorted here by speed); returns how many the deeper shape was faster in, and the median. */
static size_t speed_summary(char *out, size_t size, pairs *ps, double *median)
{
    pair *p = ps->items;
    const size_t n = ps->count;
    qsort(p, n, sizeof *p, by_speed);
    *median = n % 2 ? p[n / 2].speed : (p[n / 2 - 1].speed + p[n / 2].speed) / 2;
    size_t faster = 0;
    for (size_t i = 0; i < n; i++)
        faster += p[i].speed > 1;
    snprintf(out, size, "%.2fx the tokens/s of the wider one (median of %zu pair%s, range %.2fx to %.2fx; "
             "faster in %zu of %zu)", *median, n, n == 1 ? "" : "s", p[0].speed, p[n - 1].speed, faster, n);
    return faster;
}

/* The claim the speed pairs support, scaled to them. */
static const char *speed_claim(size_t pairs_n, size_t faster, bool smoke)
{
    if (smoke)
        return "a smoke run makes no general claim";
    if (pairs_n < 2)
        return "one pair makes no general claim";
    if (faster == 0)
        return "at equal size the wider shapes were faster in every pair";
    if (faster == pairs_n)
        return "at equal size the deeper-narrower shapes were faster in every pair";
    return "the pairs disagree, so there is no general claim";
}

/* How many of each family's measured shapes are on the tokens/s frontier, against params and against FLOPs. */
static void frontier_table(sb_doc *doc, const sb_shape_table *t, const bool *on_params, const bool *on_flops)
{
    static const char *order[] = {"base", "depth", "width", "attention", "switch", "other"};
    static const char *headers[] = {"scaling family", "measured shapes", "on the frontier against params",
                                    "on the frontier against executed FLOPs/token"};
    bool any = false;
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
        size_t total = 0, params = 0, flops = 0;
        for (size_t i = 0; i < t->count; i++)
            if (t->rows[i].measured && strcmp(t->rows[i].scaling, order[k]) == 0) {
                total++;
                params += on_params[i];
                flops += on_flops[i];
            }
        if (total == 0)
            continue;
        if (!any) {
            sb_doc_text(doc, false, "The fastest shapes for their size, by scaling family: the measured shapes on "
                                    "the tokens/s frontier, i.e. those no other measured shape beats by being both "
                                    "bigger and faster.");
            sb_doc_table(doc, "lrrr", headers);
        }
        any = true;
        sb_doc_cell n, p, f;
        snprintf(n, sizeof n, "%zu", total);
        snprintf(p, sizeof p, "%zu", params);
        snprintf(f, sizeof f, "%zu", flops);
        const char *cells[] = {order[k], n, p, f};
        sb_doc_row(doc, cells);
    }
    if (any)
        sb_doc_table_end(doc);
}

static int speed_finding(sb_doc *doc, const sb_results *r, const sb_shape_table *t, pairs *by_params,
                         pairs *by_flops, const sb_probe_view *probe, sb_error *err)
{
    char machine[384], params_part[256], flops_part[256];
    sb_results_machine(r, machine, sizeof machine);
    double median;
    size_t faster_f = by_flops->count > 0 ? speed_summary(flops_part, sizeof flops_part, by_flops, &median) : 0;
    size_t faster_p = by_params->count > 0 ? speed_summary(params_part, sizeof params_part, by_params, &median) : 0;
    /* The claim follows matched params where there is such a pair, else matched FLOPs. */
    const bool params = by_params->count > 0;
    const char *claim = speed_claim(params ? by_params->count : by_flops->count, params ? faster_p : faster_f,
                                    probe->smoke);
    if (by_params->count == 0 && by_flops->count == 0)
        sb_doc_text(doc, false, "Speed: on %s, no deep/wide pair is matched within %.0f %%, so this run cannot "
                                "compare the two; a sweep with depth and width knobs (make sweep PRESET=default) can.",
                    machine, (SB_MATCH_TOLERANCE - 1) * 100);
    else if (by_flops->count == 0)
        sb_doc_text(doc, false, "Speed: on %s, a deeper-narrower shape ran at %s at matched parameter count (no pair "
                                "is matched in FLOPs per token): %s.", machine, params_part, claim);
    else if (by_params->count == 0)
        sb_doc_text(doc, false, "Speed: on %s, no pair is matched in parameter count; at matched FLOPs per token a "
                                "deeper-narrower shape ran at %s: %s.", machine, flops_part, claim);
    else
        sb_doc_text(doc, false, "Speed: on %s, a deeper-narrower shape ran at %s at matched parameter count, and at "
                                "%s at matched FLOPs per token: %s.", machine, params_part, flops_part, claim);
    bool *on_params = calloc(t->count + 1, sizeof *on_params), *on_flops = calloc(t->count + 1, sizeof *on_flops);
    int rc = on_params == NULL || on_flops == NULL ? sb_fail(err, "out of memory for the frontier") : 0;
    if (rc == 0)
        rc = sb_shape_frontier(t, "params", on_params, err);
    if (rc == 0)
        rc = sb_shape_frontier(t, "flops", on_flops, err);
    if (rc == 0)
        frontier_table(doc, t, on_params, on_flops);
    free(on_params);
    free(on_flops);
    return rc;
}

/* Published quality (one figure per shape, no seeds): how many pairs favour the deeper shape, and no claim. */
static void published_finding(sb_doc *doc, const pairs *ps)
{
    size_t n = 0, better = 0;
    const char *metric = NULL;
    for (size_t i = 0; i < ps->count; i++) {
        const double gap = published_gap(&ps->items[i]);
        if (isnan(gap) || (metric != NULL && strcmp(metric, ps->items[i].deep->quality_metric) != 0))
            continue;
        metric = ps->items[i].deep->quality_metric;
        const int higher = sb_quality_metric_info(metric).higher_is_better;
        better += higher == 1 ? gap > 0 : higher == 0 ? gap < 0 : 0;
        n++;
    }
    if (n == 0)
        sb_doc_text(doc, false, "No parameter-matched pair carries quality figures on both sides, so this run says "
                                "nothing about quality per shape.");
    else
        sb_doc_text(doc, false, "Quality: %zu parameter-matched pair%s carr%s published %s figures (one per shape, no "
                                "seeds, no interval); the deeper shape is better in %zu. Without an interval this is "
                                "no claim.",
                    n, n == 1 ? "" : "s", n == 1 ? "ies" : "y", metric, better);
}

/* Quality over the pairs both of whose shapes the probe trained: the finding in words scaled to the evidence
 * (pooled: the mean of the pairs' differences with a t interval over pairs). */
static void quality_finding(sb_doc *doc, const pairs *ps, const sb_probe_view *probe, const char *matched,
                            sb_finding *f)
{
    double diffs[256];
    size_t n = 0, better = 0, decisive = 0, stable = 0, first = 0;
    int seeds = SB_SEEDS_MAX;
    for (size_t i = 0; i < ps->count && n < 256; i++) {
        const pair *p = &ps->items[i];
        if (p->qdeep == NULL || p->qwide == NULL)
            continue;
        first = n == 0 ? i : first;
        diffs[n++] = p->last.estimate;
        better += p->last.estimate < 0;
        decisive += decided(p);
        stable += budget_stable(p);
        seeds = p->qdeep->seeds < seeds ? p->qdeep->seeds : seeds;
        seeds = p->qwide->seeds < seeds ? p->qwide->seeds : seeds;
    }
    f->kind = SB_FINDING_NO_CLAIM;
    char evidence[256];
    snprintf(evidence, sizeof evidence, "%zu pair%s at matched %s, %d seeds each; %zu with a 95 %% interval "
             "excluding 0, %zu budget-stable", n, n == 1 ? "" : "s", matched, seeds, decisive, stable);
    sb_interval pooled = {0};
    if (n == 0)
        snprintf(f->text, sizeof f->text, "no pair at matched %s was trained by the probe", matched);
    else if (probe->smoke)
        snprintf(f->text, sizeof f->text, "a smoke run: no claim (%s)", evidence);
    else if (n == 1)
        snprintf(f->text, sizeof f->text, "one pair: no general claim (deep - wide %+.3f nats/token: %s; %s)",
                 diffs[0], pair_verdict(&ps->items[first]), evidence);
    else if (sb_mean_interval(diffs, n, &pooled, NULL) == 0 && pooled.lo <= 0 && pooled.hi >= 0) {
        f->kind = SB_FINDING_INCONCLUSIVE;
        snprintf(f->text, sizeof f->text, "inconclusive: the 95 %% CI over pairs, %+.3f ± %.3f nats/token, covers 0 "
                 "(deep-narrow better in %zu of %zu pairs; %s)", pooled.estimate, (pooled.hi - pooled.lo) / 2,
                 better, n, evidence);
    } else {
        f->kind = pooled.estimate < 0 ? SB_FINDING_DEEP : SB_FINDING_WIDE;
        sb_doc_cell p;
        snprintf(f->text, sizeof f->text, "%s better by %.3f ± %.3f nats/token in %zu of %zu pairs (p %s; %s)%s",
                 pooled.estimate < 0 ? "deep-narrow" : "wide", fabs(pooled.estimate), (pooled.hi - pooled.lo) / 2,
                 pooled.estimate < 0 ? better : n - better, n, sb_doc_p(p, pooled.p), evidence,
                 stable == n && decisive == n ? "" : "; not every pair is settled");
    }
    sb_doc_text(doc, false, "Quality at matched %s (held-out loss at the budget, lower is better): %s.", matched,
                f->text);
}

int sb_report_deep_wide(sb_doc *doc, const sb_results *r, const sb_shape_table *t, const sb_probe_view *probe,
                        sb_finding *finding, sb_error *err)
{
    sb_doc_heading(doc, 2, "Deep-narrow vs wide");
    sb_doc_text(doc, false, "Pairs of dense shapes chosen by one rule (variants/pairs.c): sizes within %.0f %% (larger "
                            "/ smaller <= %.2f), one shape with more blocks and a narrower d_model or d_ff than the "
                            "other, cheapest pairs first, each shape in one pair at most. Speed ratio above 1: the "
                            "deeper shape is faster. Loss difference below 0: the deeper shape is better; its 95 %% "
                            "interval is Welch's over the seeds, and a pair whose sign differs at the last two "
                            "budgets is unsettled.",
                (SB_MATCH_TOLERANCE - 1) * 100, SB_MATCH_TOLERANCE);
    pairs by_params = {0}, by_flops = {0};
    int rc = find_pairs(t, probe, true, &by_params, err);
    if (rc == 0)
        rc = find_pairs(t, probe, false, &by_flops, err);
    *finding = (sb_finding){SB_FINDING_NO_CLAIM, "no parameter-matched pair was trained by the probe"};
    if (rc == 0) {
        sb_doc_heading(doc, 3, "At matched parameter count");
        if (by_params.count > 0)
            pair_table(doc, &by_params, true);
        else
            sb_doc_text(doc, false, "No parameter-matched deep/wide pair in this run.");
        sb_doc_heading(doc, 3, "At matched FLOPs per token");
        if (by_flops.count > 0)
            pair_table(doc, &by_flops, false);
        else
            sb_doc_text(doc, false, "No FLOP-matched deep/wide pair in this run.");
        sb_doc_heading(doc, 3, "Finding");
        if (probe->count > 0) {
            sb_finding by_flops_finding;
            quality_finding(doc, &by_params, probe, "parameter count", finding);
            quality_finding(doc, &by_flops, probe, "FLOPs per token", &by_flops_finding);
        } else {
            published_finding(doc, &by_params);
        }
        rc = speed_finding(doc, r, t, &by_params, &by_flops, probe, err);
    }
    free(by_params.items);
    free(by_flops.items);
    return rc;
}

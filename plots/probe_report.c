/* probe_report.c — the report's quality sections for a probe run: what was trained and how, the reference
 * lines, each shape's loss at the last two budgets and its distance below them, whether the ranking is only
 * the step count, the shapes on each quality-cost frontier, and the paper's claim beside this run's finding.
 * Every sentence is generated from the records' numbers. */
#include "plots/plots.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "3.00e+12 FLOPs" / "12.0 s": three significant digits in one notation whatever the fraction of the budget. */
static void budget_text(const sb_probe_view *v, double fraction, char *out, size_t size)
{
    sb_doc_cell seconds;
    if (strcmp(v->budget_kind, "flops") == 0)
        snprintf(out, size, "%.2e FLOPs", v->budget * fraction);
    else
        snprintf(out, size, "%s s", sb_doc_sig(seconds, v->budget * fraction, 3));
}

static void recipe_text(const sb_probe_view *v, char *out, size_t size)
{
    const cJSON *s = v->schedule;
    const char *opt = sb_record_string(s, sb_field_key(SB_F_QUALITY_SCHEDULE_OPTIMIZER));
    const char *kind = sb_record_string(s, sb_field_key(SB_F_QUALITY_SCHEDULE_LR_SCHEDULE));
    double peak = NAN, warmup = NAN, floor_ = NAN, dropout = NAN;
    sb_record_number(s, sb_field_key(SB_F_QUALITY_SCHEDULE_PEAK_LR), &peak, NULL);
    sb_record_number(s, sb_field_key(SB_F_QUALITY_SCHEDULE_WARMUP_FRACTION), &warmup, NULL);
    sb_record_number(s, sb_field_key(SB_F_QUALITY_SCHEDULE_FLOOR), &floor_, NULL);
    sb_record_number(s, sb_field_key(SB_F_QUALITY_SCHEDULE_DROPOUT), &dropout, NULL);
    const bool cosine = kind != NULL && strcmp(kind, "cosine") == 0;
    char to[64] = "";
    if (cosine)
        snprintf(to, sizeof to, " down to %g times the peak", floor_);
    snprintf(out, size, "%s; linear warmup over %g of the budget, then %s from a peak rate of %g%s; dropout %g",
             opt != NULL ? opt : "unknown optimizer", warmup, kind != NULL ? kind : "an unknown schedule", peak, to,
             dropout);
}

/* ---- the table ---------------------------------------------------------------------------------------- */

static const char *loss_cell(sb_doc_cell out, const sb_probe_shape *s, int from_end)
{
    const int k = sb_curve_index(s, from_end);
    if (k < 0)
        return sb_doc_number(out, NAN, "%.3f");
    if (isnan(s->sd[k]))
        snprintf(out, sizeof(sb_doc_cell), "%.3f", s->loss[k]);
    else
        snprintf(out, sizeof(sb_doc_cell), "%.3f ± %.3f", s->loss[k], s->sd[k]);
    return out;
}

static void shape_table(sb_doc *doc, const sb_probe_view *v)
{
    static const char *headers[] = {"shape", "params (M)", "GFLOP per step", "steps", "steps/s",
                                    "loss at budget/2 (nats/token)", "loss at budget (nats/token)",
                                    "unigram - loss (nats/token)", "bigram - loss (nats/token)",
                                    "change over the last doubling (nats/token)"};
    sb_doc_table(doc, "lrrrrrrrrr", headers);
    for (size_t i = 0; i < v->count; i++) {
        const sb_probe_shape *s = &v->shapes[i];
        const int last = sb_curve_index(s, 0), before = sb_curve_index(s, 1);
        sb_doc_cell params, gflop, steps, rate, half, full, uni, bi, change;
        const double loss = last >= 0 ? s->loss[last] : NAN;
        const char *cells[] = {
            s->shape, sb_doc_number(params, s->params / 1e6, "%.2f"),
            sb_doc_sig(gflop, s->flops_per_step / 1e9, 3),
            sb_doc_number(steps, last >= 0 ? s->steps[last] : NAN, "%.0f"),
            sb_doc_number(rate, last >= 0 ? s->steps[last] / s->seconds[last] : NAN, "%.2f"), loss_cell(half, s, 1),
            loss_cell(full, s, 0), sb_doc_number(uni, v->unigram - loss, "%.3f"),
            sb_doc_number(bi, v->bigram - loss, "%.3f"),
            sb_doc_number(change, before >= 0 ? loss - s->loss[before] : NAN, "%+.3f")};
        sb_doc_row(doc, cells);
    }
    sb_doc_table_end(doc);
}

/* "1.234 nats/token below" or "0.567 nats/token above" a reference line. */
static const char *against(char *out, size_t size, double below)
{
    snprintf(out, size, "%.3f nats/token %s", fabs(below), below >= 0 ? "below" : "above");
    return out;
}

/* Where the shapes end against the reference lines, and how noisy the seeds are. */
static void summary_sentence(sb_doc *doc, const sb_probe_view *v)
{
    double lo = INFINITY, hi = -INFINITY, worst_sd = 0;
    size_t falling = 0, below_bigram = 0;
    const char *closest = NULL, *farthest = NULL;
    for (size_t i = 0; i < v->count; i++) {
        const sb_probe_shape *s = &v->shapes[i];
        const int k = sb_curve_index(s, 0), b = sb_curve_index(s, 1);
        if (k < 0)
            continue;
        const double below = v->unigram - s->loss[k];
        if (below < lo)
            lo = below, closest = s->shape;
        if (below > hi)
            hi = below, farthest = s->shape;
        worst_sd = isnan(s->sd[k]) ? worst_sd : fmax(worst_sd, s->sd[k]);
        falling += b >= 0 && s->loss[k] < s->loss[b];
        below_bigram += s->loss[k] < v->bigram;
    }
    if (closest == NULL)
        return;
    char a[64], b[64];
    sb_doc_text(doc, false, "At the budget the shapes end between %s the unigram line (%s) and %s it (%s); %zu of %zu "
                            "end below the bigram line; the largest seed standard deviation at that point is %.3f "
                            "nats/token; %zu of %zu shapes were still falling over the last doubling of the budget.",
                against(a, sizeof a, lo), closest, against(b, sizeof b, hi), farthest, below_bigram, v->count,
                worst_sd, falling, v->count);
}

/* ---- is the ranking the step count? ------------------------------------------------------------------- */

/* A curve point's fraction of the budget as the probe plans it, "1" or "1/2^k" ("1/8"): never an exponent however
 * far the curve goes; any other fraction a record holds to three significant digits. */
static const char *fraction_text(sb_doc_cell out, double fraction)
{
    const double parts = 1 / fraction;
    if (!(fraction > 0 && fraction <= 1) || fabs(parts - round(parts)) > 1e-9 * parts)
        return sb_doc_sig(out, fraction, 3);
    if (parts == 1)
        snprintf(out, sizeof(sb_doc_cell), "1");
    else
        snprintf(out, sizeof(sb_doc_cell), "1/%.0f", parts);
    return out;
}

static void step_count_diagnostic(sb_doc *doc, const sb_probe_view *v)
{
    sb_doc_heading(doc, 3, "Is the ranking only the step count?");
    sb_doc_text(doc, false, "Spearman's rank correlation between the steps each shape took and its held-out loss, "
                            "over the shapes, at every point of the curve. At equal FLOPs a shape's steps fall as "
                            "its FLOPs per step rise, so a strong negative rho says the ranking is the step count "
                            "(or size) at that budget, not the shape.");
    static const char *headers[] = {"fraction of the budget", "budget", "shapes", "rho (steps, loss)", "p"};
    sb_doc_table(doc, "rrrrr", headers);
    const int points = v->shapes[0].points;
    double rho_last = NAN, p_last = NAN;
    for (int k = 0; k < points; k++) {
        double steps[512], loss[512], rho = NAN, p = NAN;
        size_t n = 0;
        for (size_t i = 0; i < v->count && n < 512; i++)
            if (v->shapes[i].points == points) {
                steps[n] = v->shapes[i].steps[k];
                loss[n++] = v->shapes[i].loss[k];
            }
        sb_spearman(steps, loss, n, &rho, &p, NULL);
        sb_doc_cell f, b, count, r, pv;
        budget_text(v, v->shapes[0].fraction[k], b, sizeof b);
        const char *cells[] = {fraction_text(f, v->shapes[0].fraction[k]), b, sb_doc_number(count, (double)n, "%.0f"),
                               sb_doc_number(r, rho, "%+.2f"), sb_doc_p(pv, p)};
        sb_doc_row(doc, cells);
        rho_last = rho;
        p_last = p;
    }
    sb_doc_table_end(doc);
    sb_doc_cell p_text;
    sb_doc_p(p_text, p_last);
    if (isnan(rho_last))
        sb_doc_text(doc, false, "Too few shapes (fewer than 3) or no spread in steps: no correlation at the budget.");
    else if (p_last >= 0.05)
        sb_doc_text(doc, false, "At the budget rho is %+.2f (p %s over %zu shapes): no significant sign that the "
                                "ranking is the step count.",
                    rho_last, p_text, v->count);
    else if (rho_last <= -0.8)
        sb_doc_text(doc, false, "At the budget rho is %+.2f (p %s): the ranking follows the step count; read the "
                                "shape comparisons as which shape learns fastest in this many FLOPs.",
                    rho_last, p_text);
    else
        sb_doc_text(doc, false, "At the budget rho is %+.2f (p %s): the step count explains part of the ranking, "
                                "not all of it.",
                    rho_last, p_text);
}

/* ---- frontiers ------------------------------------------------------------------------------------------ */

/* The shapes on the frontier of loss against one cost, each named once. */
static void frontier_line(sb_doc *doc, const sb_probe_view *v, const char *what, sb_probe_cost cost)
{
    const size_t cap = v->count * SB_CURVE_MAX + 1;
    sb_probe_cost_point *points = malloc(cap * sizeof *points);
    size_t *front = malloc(cap * sizeof *front), n = 0, kept = 0;
    char names[2048] = "";
    sb_error err;
    if (points == NULL || front == NULL || sb_probe_cost_frontier(v, cost, points, &n, front, &kept, &err) != 0)
        n = 0;
    for (size_t k = 0; k < kept; k++) {
        const char *name = v->shapes[points[front[k]].shape].shape;
        if (strstr(names, name) == NULL) /* several curve points of one shape: named once */
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", names[0] ? ", " : "", name);
    }
    if (n == 0)
        sb_doc_text(doc, true, "%s: no figures%s.", what,
                    cost >= SB_COST_FORWARD_SECONDS
                        ? " (join a speed run: shapebench plots --run RUN --speed results/default)"
                        : "");
    else
        sb_doc_text(doc, true, "%s: %s.", what, names);
    free(points);
    free(front);
}

static void frontier_section(sb_doc *doc, const sb_probe_view *v)
{
    sb_doc_heading(doc, 3, "Quality against cost: the frontiers");
    sb_doc_text(doc, false, "Shapes no other shape beats on both held-out loss and cost (means over seeds; the "
                            "pictures draw each point's seed standard deviation as an error bar). Speed is the speed "
                            "run's measurement of the full-size shape (%s).",
                v->speed_file[0] != '\0' ? v->speed_file : "no speed run joined");
    frontier_line(doc, v, "Against params, at the budget", SB_COST_PARAMS);
    frontier_line(doc, v, "Against training FLOPs, over every point of the curves", SB_COST_TRAIN_FLOPS);
    frontier_line(doc, v, "Against forward seconds per sequence", SB_COST_FORWARD_SECONDS);
    frontier_line(doc, v, "Against generation ms per token", SB_COST_GENERATE_MS);
}

void sb_report_probe(sb_doc *doc, const sb_probe_view *v)
{
    if (v->count == 0)
        return;
    char budget[64], recipe[512];
    budget_text(v, 1, budget, sizeof budget);
    recipe_text(v, recipe, sizeof recipe);
    sb_doc_heading(doc, 2, "Quality probe");
    sb_doc_text(doc, true, "Budget analysed: %s per shape and seed (the run holds %zu budget%s; the others are in "
                           "results.jsonl); %d seeds; the learning curve's points at budget / 2^k.",
                budget, v->budgets, v->budgets == 1 ? "" : "s", v->shapes[0].seeds);
    sb_doc_text(doc, true, "Training: %s.", recipe);
    sb_doc_text(doc, true, "Reference lines, the held-out loss of models that read no input: unigram %.3f, bigram "
                           "%.3f nats/token.", v->unigram, v->bigram);
    shape_table(doc, v);
    summary_sentence(doc, v);
    step_count_diagnostic(doc, v);
    frontier_section(doc, v);
}

/* ---- against the papers ---------------------------------------------------------------------------------- */

void sb_report_against_papers(sb_doc *doc, const sb_probe_view *v, const sb_finding *deep_wide)
{
    if (v->count == 0)
        return;
    sb_doc_heading(doc, 2, "Against the papers");
    sb_doc_text(doc, true, "The claim: Scale Efficiently (Tay et al., arXiv 2109.10686) finds that at equal "
                           "parameters or FLOPs, DeepNarrow shapes (more layers, narrower) are Pareto-better than the "
                           "standard T5 shapes after pre-training and fine-tuning, up to a depth beyond which the "
                           "gains stop.");
    sb_doc_text(doc, true, "This run, at matched params: %s.", deep_wide->text);
    const char *agreement = deep_wide->kind == SB_FINDING_DEEP   ? "agrees with the paper"
                            : deep_wide->kind == SB_FINDING_WIDE ? "disagrees with the paper"
                                                                 : "can neither confirm nor contradict the paper";
    double lo = INFINITY, hi = 0, tokens = 0;
    for (size_t i = 0; i < v->count; i++) {
        const sb_probe_shape *s = &v->shapes[i];
        lo = fmin(lo, s->params);
        hi = fmax(hi, s->params);
        const int k = sb_curve_index(s, 0);
        const double per_step = sb_field_number(s->record, SB_F_THROUGHPUT_TOKENS_PER_REP);
        if (k >= 0)
            tokens = fmax(tokens, s->steps[k] * per_step);
    }
    sb_doc_text(doc, true, "So this run %s. Caveats of scale: its models have %.1f to %.1f M parameters with a "
                           "4000-token vocabulary and see at most %.3g tokens each (the steps times the tokens of a "
                           "batch) of the Brown corpus (about a million words); the paper pre-trains far larger "
                           "models on C4 for far longer and compares them after fine-tuning. A small-scale, "
                           "short-budget result may not carry over, in either direction.",
                agreement, lo / 1e6, hi / 1e6, tokens);
}

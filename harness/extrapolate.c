/* extrapolate.c — timing shapes too big or too slow to run whole: sampled depths extended to full depth.
 *
 * Why it is sound: the blocks of a stack have identical shapes (a Switch stack repeats one pattern of
 * dense and sparse blocks every sparse_step blocks), so the work of a stack is fixed work (embeddings,
 * position bias, final norm, LM head) plus depth times the work of one block. The encoder's time (part 0
 * of a repetition) depends on the encoder's depth only, the decoder's (part 1) on the decoder's only. The
 * engine's profile measures, in each repetition, the seconds spent inside each stack's blocks; so each
 * repetition is extended by its own per-block time, and nothing is inferred from the difference of two
 * runs taken at different moments.
 *
 * Why not a line through two sampled depths (the first method): the fit multiplies the difference of two
 * separately timed runs by (full - deep) / (deep - shallow), and on a shared machine the runs drift apart
 * by a few per cent between them. Timed on 1 and 4 blocks, t5-efficient-large's generation came out 14 %
 * high; the per-block time of the same run does not drift against the run.
 */
#include "harness/harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int64_t period_of(const sb_config *cfg, sb_stack stack)
{
    int64_t step = stack == SB_STACK_ENCODER ? cfg->encoder_sparse_step : cfg->decoder_sparse_step;
    return cfg->num_experts > 0 && step > 1 ? step : 1;
}

void sb_sample_plan_make(const sb_config *cfg, int64_t periods, sb_sample_plan *plan)
{
    const int64_t full[2] = {cfg->num_layers, cfg->num_decoder_layers};
    for (int st = 0; st < 2; st++) {
        int64_t blocks = periods * period_of(cfg, (sb_stack)st);
        plan->full[st] = full[st];
        plan->depth[st] = blocks < full[st] ? blocks : full[st];
    }
}

void sb_sample_plan_cover(sb_sample_plan *plan, const sb_config *cfg, sb_stack stack, int64_t blocks)
{
    const int64_t period = period_of(cfg, stack), whole = (blocks + period - 1) / period * period;
    if (whole > plan->depth[stack])
        plan->depth[stack] = whole < plan->full[stack] ? whole : plan->full[stack];
}

void sb_sample_config(const sb_config *cfg, const sb_sample_plan *plan, sb_config *out)
{
    *out = *cfg;
    out->num_layers = plan->depth[SB_STACK_ENCODER];
    out->num_decoder_layers = plan->depth[SB_STACK_DECODER];
}

double sb_extrapolate_depth(double value, double in_blocks, int64_t depth, int64_t full)
{
    if (depth <= 0 || depth == full)
        return value;
    return value + in_blocks * (double)(full - depth) / (double)depth;
}

int sb_extrapolate_timing(const sb_sample_plan *plan, const sb_timing *sampled, sb_timing *out, sb_error *err)
{
    memset(out, 0, sizeof *out);
    if (sampled->reps == 0)
        return sb_fail(err, "extrapolation needs samples of the sampled model");
    const size_t n = sampled->reps;
    if (sb_timing_reserve(out, n, err) != 0) {
        sb_timing_free(out);
        return -1;
    }
    /* Each repetition keeps its own fixed work and its own speed: the samples keep the run's spread. */
    for (size_t i = 0; i < n; i++) {
        out->samples[i] = 0;
        for (int p = 0; p < 2; p++) {
            const double added = sb_extrapolate_depth(0, sampled->blocks[p][i], plan->depth[p], plan->full[p]);
            out->parts[p][i] = sampled->parts[p][i] + added;
            out->blocks[p][i] = sampled->blocks[p][i] + added;
            out->samples[i] += out->parts[p][i];
        }
    }
    out->reps = n;
    out->warmup = sampled->warmup;
    out->first_rep_s = sampled->first_rep_s;
    out->cpu_s = sampled->cpu_s;
    out->wall_s = sampled->wall_s;
    out->preemptions = sampled->preemptions;
    return 0;
}

void sb_sample_plan_describe(const sb_sample_plan *plan, char *out, size_t cap)
{
    snprintf(out, cap,
             "timed on %lld of %lld encoder blocks and %lld of %lld decoder blocks; in every repetition the "
             "engine's profile measured each stack's time inside its blocks, and each part of the repetition "
             "was extended by that time times (full - sampled) / sampled blocks",
             (long long)plan->depth[0], (long long)plan->full[0], (long long)plan->depth[1],
             (long long)plan->full[1]);
}

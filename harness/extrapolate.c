/* extrapolate.c — timing shapes too big or too slow to run whole: sampled depths and the affine fit.
 *
 * Why it is sound: the blocks of a stack have identical shapes (a Switch stack repeats one pattern of
 * dense and sparse blocks every sparse_step blocks), so the work of a stack is affine in its depth counted
 * in whole periods: fixed work (embeddings, final norm, LM head) plus depth times the per-block work. The
 * encoder's time (part 0 of a repetition) depends on the encoder's depth only, the decoder's (part 1) on
 * the decoder's only, so each stack gets its own line through two sampled depths.
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

/* Why the deep run goes to SB_SAMPLE_PERIODS periods rather than two: the runs' medians differ run to run
 * by a few per cent of a block's time (page placement, huge pages), and the fit multiplies that by
 * (full - deep) / (deep - shallow). At 1 and 2 blocks t5-efficient-base's encoder came out 4-13 % off;
 * 1 and 4 blocks divide the leverage by 4 for a third of the cost of 12 blocks. */
void sb_sample_plan_make(const sb_config *cfg, int64_t periods, sb_sample_plan *plan)
{
    const int64_t full[2] = {cfg->num_layers, cfg->num_decoder_layers};
    for (int st = 0; st < 2; st++) {
        int64_t period = period_of(cfg, (sb_stack)st);
        plan->full[st] = full[st];
        plan->depth[st][0] = period < full[st] ? period : full[st];
        plan->depth[st][1] = periods * period < full[st] ? periods * period : full[st];
    }
}

void sb_sample_config(const sb_config *cfg, const sb_sample_plan *plan, int run, sb_config *out)
{
    *out = *cfg;
    out->num_layers = plan->depth[SB_STACK_ENCODER][run];
    out->num_decoder_layers = plan->depth[SB_STACK_DECODER][run];
}

double sb_extrapolate_affine(int64_t d0, double v0, int64_t d1, double v1, int64_t full)
{
    if (d0 == d1)
        return v1;
    double slope = (v1 - v0) / (double)(d1 - d0);
    return v1 + slope * (double)(full - d1);
}

static double median_of(const double *v, size_t n)
{
    return sb_stats_compute(v, n).median;
}

int sb_extrapolate_timing(const sb_sample_plan *plan, const sb_timing *shallow, const sb_timing *deep,
                          sb_timing *out, sb_error *err)
{
    memset(out, 0, sizeof *out);
    if (deep->reps == 0 || shallow->reps == 0)
        return sb_fail(err, "extrapolation needs samples at both sampled depths");
    double shift[2];
    for (int p = 0; p < 2; p++) {
        double m0 = median_of(shallow->parts[p], shallow->reps), m1 = median_of(deep->parts[p], deep->reps);
        /* More blocks cannot take less time: when they seem to, noise swamped the blocks' time and a line
         * through the two runs means nothing. */
        if (plan->depth[p][1] > plan->depth[p][0] && m1 < m0)
            return sb_fail(err, "the %s at %lld blocks timed faster (%.3g s) than at %lld (%.3g s): too noisy to "
                           "extrapolate; rerun on a quieter machine or with more --min-reps",
                           p == 0 ? "encoder" : "decoder", (long long)plan->depth[p][1], m1,
                           (long long)plan->depth[p][0], m0);
        shift[p] = sb_extrapolate_affine(plan->depth[p][0], m0, plan->depth[p][1], m1, plan->full[p]) - m1;
    }
    size_t n = deep->reps;
    out->samples = malloc(n * sizeof(double));
    out->parts[0] = malloc(n * sizeof(double));
    out->parts[1] = malloc(n * sizeof(double));
    if (out->samples == NULL || out->parts[0] == NULL || out->parts[1] == NULL) {
        sb_timing_free(out);
        return sb_fail(err, "out of memory");
    }
    /* The deep run's samples keep their spread; the extrapolated depth adds the fitted per-block time. */
    for (size_t i = 0; i < n; i++) {
        out->parts[0][i] = deep->parts[0][i] + shift[0];
        out->parts[1][i] = deep->parts[1][i] + shift[1];
        out->samples[i] = out->parts[0][i] + out->parts[1][i];
    }
    out->reps = n;
    out->warmup = deep->warmup;
    out->first_rep_s = deep->first_rep_s + shift[0] + shift[1];
    /* Contention in either run taints the extrapolation. */
    out->cpu_s = shallow->cpu_s + deep->cpu_s;
    out->wall_s = shallow->wall_s + deep->wall_s;
    out->preemptions = shallow->preemptions + deep->preemptions;
    return 0;
}

void sb_sample_plan_describe(const sb_sample_plan *plan, char *out, size_t cap)
{
    snprintf(out, cap,
             "timed at %lld and %lld encoder blocks, %lld and %lld decoder blocks; each stack's time extended "
             "affinely to %lld / %lld blocks through the two runs' part medians, added to the deeper run's samples",
             (long long)plan->depth[0][0], (long long)plan->depth[0][1], (long long)plan->depth[1][0],
             (long long)plan->depth[1][1], (long long)plan->full[0], (long long)plan->full[1]);
}

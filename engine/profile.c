/* profile.c — where a run's time goes: wall seconds and GEMM FLOPs per op class, and inside each stack's
 * blocks. The harness reads it to put each op class on the roofline at its achieved rate, and to extend a
 * model timed on sampled layers to full depth by its measured per-block time.
 *
 * Process-wide, like the FLOP tally: spans are opened and closed by the thread that drives the runtime,
 * outside the parallel regions, so a span's wall time is the time every thread spent on that work. */
#include "engine/forward.h"

#include <string.h>
#include <time.h>

static sb_profile profile;

double sb_now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void sb_profile_reset(void)
{
    memset(&profile, 0, sizeof profile);
}

sb_profile sb_profile_get(void)
{
    return profile;
}

sb_span sb_span_begin(void)
{
    return (sb_span){sb_now_seconds(), sb_gemm_flops()};
}

void sb_span_op(sb_op_class c, sb_span since)
{
    profile.op_seconds[c] += sb_now_seconds() - since.start;
    profile.op_flops[c] += sb_gemm_flops() - since.flops;
}

void sb_span_blocks(sb_stack stack, bool generation_step, sb_span since)
{
    const double seconds = sb_now_seconds() - since.start;
    profile.block_seconds[stack] += seconds;
    profile.block_flops[stack] += sb_gemm_flops() - since.flops;
    if (generation_step)
        profile.step_block_seconds += seconds;
}

/* profile.c — where a run's time goes: wall seconds and GEMM FLOPs per op class, and inside each stack's
 * blocks, accumulated in the execution context. The harness reads it to put each op class on the roofline
 * at its achieved rate, and to extend a model timed on sampled layers to full depth by its measured
 * per-block time. Spans are opened and closed by the thread that drives the runtime, outside the parallel
 * regions, so a span's wall time is the time every thread spent on that work. */
#include "engine/exec/exec.h"

#include <string.h>
#include <time.h>

double sb_now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void sb_exec_profile_reset(sb_exec *x)
{
    memset(&x->profile, 0, sizeof x->profile);
}

sb_profile sb_exec_profile(const sb_exec *x)
{
    return x->profile;
}

sb_span sb_span_begin(const sb_exec *x)
{
    return (sb_span){sb_now_seconds(), sb_exec_flops(x)};
}

void sb_span_op(sb_exec *x, sb_op_class c, sb_span since)
{
    x->profile.op_seconds[c] += sb_now_seconds() - since.start;
    x->profile.op_flops[c] += sb_exec_flops(x) - since.flops;
}

void sb_span_blocks(sb_exec *x, sb_stack stack, bool generation_step, sb_span since)
{
    const double seconds = sb_now_seconds() - since.start;
    x->profile.block_seconds[stack] += seconds;
    x->profile.block_flops[stack] += sb_exec_flops(x) - since.flops;
    if (generation_step)
        x->profile.step_block_seconds += seconds;
}

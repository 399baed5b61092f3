/* switch_mlp.c — the Switch Transformer sparse MLP: fp32 router, top-1 expert with capacity per
 * sequence, kept tokens gathered by expert so each expert is two GEMMs, gated scatter back onto the
 * residual stream. Dropped tokens contribute 0 (the paper's rule; HF v4.40.2 differs, see semantics.md). */
#include "engine/runtime/runtime.h"

#include <math.h>
#include <string.h>

// u (B*len, d_model) normed input -> hidden (B*len, d_model) += gate * expert(u) for kept tokens
void sb_switch_forward(sb_runtime *rt, const sb_block_weights *bw, sb_stack stack, int64_t block, float *hidden,
                       const float *u, int64_t batch, int64_t len)
{
    const int64_t experts = rt->cfg->num_experts, d = rt->cfg->d_model, n = batch * len;
    float *logits = rt->router, *gate = rt->router + n * experts;
    int32_t *choice = rt->choice, *slot = rt->slot, *offset = rt->expert_offset;

    sb_span span = sb_span_begin(rt->x);
    sb_linear_forward_f32(rt, logits, experts, u, n, bw->router, 1.0f, 0.0f);
    const int64_t kept = sb_switch_route(NULL, choice, gate, slot, offset, rt->expert_fill, logits, batch, len,
                                         experts, sb_expert_capacity(rt->cfg, len));
    sb_span_op(rt->x, SB_OP_ROUTER, span);
    sb_router_stats *stats = rt->block_stats[stack][block];
    int64_t *kept_per_expert = rt->kept_counts + (stats - rt->stats) * experts; /* behind stats->per_expert */
    for (int64_t e = 0; e < experts; e++)
        kept_per_expert[e] = offset[e + 1] - offset[e];
    stats->tokens = n;
    stats->dropped = n - kept;
    if (rt->observer.router != NULL) {
        const sb_router_trace trace = {stack, block, n, experts, logits, gate, choice, slot};
        rt->observer.router(rt->observer.ctx, &trace);
    }

    span = sb_span_begin(rt->x);
#pragma omp parallel for if (n * d > SB_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++)
        if (slot[i] >= 0)
            memcpy(rt->expert_in + slot[i] * d, u + i * d, (size_t)d * sizeof *u);
    for (int64_t e = 0; e < experts; e++) {
        const int64_t first = offset[e], rows = offset[e + 1] - first;
        if (rows > 0)
            sb_ffn_forward(rt, rt->expert_out + first * d, rt->expert_in + first * d, rows, &bw->experts[e], 0.0f);
    }
#pragma omp parallel for if (n * d > SB_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++) {
        if (slot[i] < 0)
            continue;
        const float *y = rt->expert_out + slot[i] * d;
        float *h = hidden + i * d;
        for (int64_t j = 0; j < d; j++)
            h[j] += gate[i] * y[j];
    }
    sb_span_op(rt->x, SB_OP_FFN, span);
}

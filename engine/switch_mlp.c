/* switch_mlp.c — the Switch Transformer sparse MLP: fp32 router, top-1 expert with capacity per
 * sequence, kept tokens gathered by expert so each expert is two GEMMs, gated scatter back onto the
 * residual stream. Dropped tokens contribute 0 (the paper's rule; HF v4.40.2 differs, see semantics.md). */
#include "engine/forward.h"

#include <math.h>
#include <string.h>

int64_t sb_switch_route(float *probs, int32_t *choice, float *gate, int32_t *slot, int32_t *offset, int32_t *fill,
                        const float *logits, int64_t batch, int64_t len, int64_t experts, int64_t capacity)
{
    const int64_t n = batch * len;
#pragma omp parallel for if (n * experts > SB_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++) {
        const float *row = logits + i * experts;
        const float max = sb_row_max(row, experts);
        float sum = 0.0f;
        for (int64_t e = 0; e < experts; e++)
            sum += expf(row[e] - max);
        /* argmax over the probabilities as HF takes it (ties: lowest index); gate = that probability. */
        int32_t best = 0;
        float best_p = 0.0f;
        for (int64_t e = 0; e < experts; e++) {
            const float p = expf(row[e] - max) / sum;
            if (probs != NULL)
                probs[i * experts + e] = p;
            if (e == 0 || p > best_p) {
                best = (int32_t)e;
                best_p = p;
            }
        }
        choice[i] = best;
        gate[i] = best_p;
    }
    /* Capacity per sequence: the first `capacity` tokens of a row choosing an expert keep their place
     * (slot 0 marks them for now); offset[e + 1] counts expert e's kept tokens over all rows. */
    memset(offset, 0, (size_t)(experts + 1) * sizeof *offset);
    for (int64_t b = 0; b < batch; b++) {
        memset(fill, 0, (size_t)experts * sizeof *fill);
        for (int64_t i = b * len; i < (b + 1) * len; i++) {
            const bool kept = fill[choice[i]]++ < capacity;
            slot[i] = kept ? 0 : -1;
            offset[choice[i] + 1] += kept;
        }
    }
    /* Kept rows are numbered expert by expert, in token order within an expert. */
    for (int64_t e = 0; e < experts; e++) {
        offset[e + 1] += offset[e];
        fill[e] = offset[e];
    }
    for (int64_t i = 0; i < n; i++)
        if (slot[i] == 0)
            slot[i] = fill[choice[i]]++;
    return offset[experts];
}

// u (B*len, d_model) normed input -> hidden (B*len, d_model) += gate * expert(u) for kept tokens
void sb_switch_forward(sb_runtime *rt, const sb_block_weights *bw, sb_stack stack, int64_t block, float *hidden,
                       const float *u, int64_t batch, int64_t len)
{
    const int64_t experts = rt->cfg->num_experts, d = rt->cfg->d_model, n = batch * len;
    float *logits = rt->router, *gate = rt->router + n * experts;
    int32_t *choice = rt->choice, *slot = rt->slot, *offset = rt->expert_offset;

    sb_span span = sb_span_begin();
    sb_linear_forward(rt, logits, experts, u, n, bw->router, 1.0f, 0.0f);
    const int64_t kept = sb_switch_route(NULL, choice, gate, slot, offset, rt->expert_fill, logits, batch, len,
                                         experts, sb_expert_capacity(rt->cfg, len));
    sb_span_op(SB_OP_ROUTER, span);
    for (int64_t e = 0; e < experts; e++)
        bw->per_expert[e] = offset[e + 1] - offset[e];
    bw->stats->tokens = n;
    bw->stats->dropped = n - kept;
    if (rt->observer.router != NULL) {
        const sb_router_trace trace = {stack, block, n, experts, logits, gate, choice, slot};
        rt->observer.router(rt->observer.ctx, &trace);
    }

    span = sb_span_begin();
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
    sb_span_op(SB_OP_FFN, span);
}

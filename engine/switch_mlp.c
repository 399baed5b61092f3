/* switch_mlp.c — the Switch Transformer sparse MLP: fp32 router, top-1 expert with capacity per
 * sequence, kept tokens gathered by expert so each expert is two GEMMs, gated scatter back onto the
 * residual stream. Dropped tokens contribute 0 (the paper's rule; HF v4.40.2 differs, see semantics.md). */
#include "engine/forward.h"

#include <math.h>
#include <string.h>

// u (B*len, d_model) normed input -> hidden (B*len, d_model) += gate * expert(u) for kept tokens
void sb_switch_forward(sb_runtime *rt, const sb_block_weights *bw, sb_stack stack, int64_t block, float *hidden,
                       const float *u, int64_t batch, int64_t len)
{
    const int64_t experts = rt->cfg->num_experts, d = rt->cfg->d_model, n = batch * len;
    float *logits = rt->router, *gate = rt->router + n * experts;
    int32_t *choice = rt->choice, *slot = rt->slot;
    int64_t *count = rt->expert_offset + 1, *fill = rt->expert_fill;

    sb_linear_forward(rt, logits, experts, u, n, bw->router, 1.0f, 0.0f);
#pragma omp parallel for if (n * experts > 4096)
    for (int64_t i = 0; i < n; i++) {
        const float *row = logits + i * experts;
        float max = row[0];
        for (int64_t e = 1; e < experts; e++)
            max = row[e] > max ? row[e] : max;
        float sum = 0.0f;
        for (int64_t e = 0; e < experts; e++)
            sum += expf(row[e] - max);
        /* argmax over the probabilities as HF takes it (ties: lowest index); gate = that probability. */
        int32_t best = 0;
        float best_p = expf(row[0] - max) / sum;
        for (int64_t e = 1; e < experts; e++) {
            const float p = expf(row[e] - max) / sum;
            if (p > best_p) {
                best = (int32_t)e;
                best_p = p;
            }
        }
        choice[i] = best;
        gate[i] = best_p;
    }

    /* Capacity per sequence: the first `capacity` tokens (in order, padding included) choosing an expert
     * keep their slot. Kept tokens are then numbered expert by expert, in token order within an expert. */
    const int64_t capacity = sb_expert_capacity(rt->cfg, len);
    memset(count, 0, (size_t)experts * sizeof *count);
    for (int64_t b = 0; b < batch; b++) {
        memset(fill, 0, (size_t)experts * sizeof *fill);
        for (int64_t i = b * len; i < (b + 1) * len; i++) {
            const bool kept = fill[choice[i]]++ < capacity;
            slot[i] = kept ? 0 : -1;
            count[choice[i]] += kept;
        }
    }
    rt->expert_offset[0] = 0;
    for (int64_t e = 0; e < experts; e++) {
        rt->expert_offset[e + 1] += rt->expert_offset[e];
        fill[e] = rt->expert_offset[e];
        bw->per_expert[e] = rt->expert_offset[e + 1] - rt->expert_offset[e];
    }
    for (int64_t i = 0; i < n; i++)
        if (slot[i] == 0)
            slot[i] = (int32_t)fill[choice[i]]++;
    const int64_t kept = rt->expert_offset[experts];
    bw->stats->tokens = n;
    bw->stats->dropped = n - kept;
    if (rt->observer.router != NULL) {
        const sb_router_trace trace = {stack, block, n, experts, logits, gate, choice, slot};
        rt->observer.router(rt->observer.ctx, &trace);
    }

#pragma omp parallel for if (n * d > 4096)
    for (int64_t i = 0; i < n; i++)
        if (slot[i] >= 0)
            memcpy(rt->expert_in + slot[i] * d, u + i * d, (size_t)d * sizeof *u);
    for (int64_t e = 0; e < experts; e++) {
        const int64_t first = rt->expert_offset[e], rows = rt->expert_offset[e + 1] - first;
        if (rows > 0)
            sb_ffn_forward(rt, rt->expert_out + first * d, rt->expert_in + first * d, rows, &bw->experts[e], 0.0f);
    }
#pragma omp parallel for if (n * d > 4096)
    for (int64_t i = 0; i < n; i++) {
        if (slot[i] < 0)
            continue;
        const float *y = rt->expert_out + slot[i] * d;
        float *h = hidden + i * d;
        for (int64_t j = 0; j < d; j++)
            h[j] += gate[i] * y[j];
    }
}

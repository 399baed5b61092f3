/* activations.c — the activation plan: the size of every buffer the engine allocates for one forward.
 * Shared by the engine (which allocates exactly this) and count (which reports it), so the estimate and
 * the allocation cannot drift apart. */
#include "variants/variants.h"

/* Checked product of up to four factors (unused ones 1); sets *overflow instead of wrapping. */
static int64_t product(bool *overflow, int64_t a, int64_t b, int64_t c, int64_t d)
{
    int64_t out = 0;
    if (sb_mul_i64(a, b, &out) != 0 || sb_mul_i64(out, c, &out) != 0 || sb_mul_i64(out, d, &out) != 0)
        *overflow = true;
    return out;
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

int sb_plan_activations(const sb_config *cfg, int64_t batch, int64_t src_len, int64_t tgt_len,
                        sb_activation_plan *plan, sb_error *err)
{
    *plan = (sb_activation_plan){0};
    if (batch < 1 || src_len < 1 || tgt_len < 1)
        return sb_fail(err, "batch, src_len and tgt_len must be positive (got %lld, %lld, %lld)", (long long)batch,
                       (long long)src_len, (long long)tgt_len);
    bool overflow = false;
    const int64_t d = cfg->d_model, inner = sb_inner_dim(cfg), len = max64(src_len, tgt_len);
    const int64_t src_tokens = product(&overflow, batch, src_len, 1, 1);
    const int64_t tokens = max64(src_tokens, product(&overflow, batch, tgt_len, 1, 1));
    const int64_t sparse_blocks =
        sb_num_sparse_blocks(cfg, SB_STACK_ENCODER) + sb_num_sparse_blocks(cfg, SB_STACK_DECODER);
    const bool sparse = sparse_blocks > 0;
    const bool gated = cfg->ffn == SB_FFN_GATED_GELU || (sparse && cfg->expert_ffn == SB_FFN_GATED_GELU);

    plan->hidden = product(&overflow, tokens, d, 1, 1);
    plan->normed = plan->hidden;
    plan->encoder_output = product(&overflow, src_tokens, d, 1, 1);
    plan->mask = src_tokens;
    plan->qkv = product(&overflow, tokens, inner, cfg->shared_kv ? 2 : 3, 1);
    plan->context = product(&overflow, tokens, inner, 1, 1);
    plan->scores = product(&overflow, cfg->num_heads, len, len, 1);
    plan->row_scale = product(&overflow, cfg->num_heads, len, 1, 1);
    plan->position_bias = plan->scores;
    plan->ffn_hidden = product(&overflow, tokens, cfg->d_ff, gated ? 2 : 1, 1);
    plan->logits = product(&overflow, batch, tgt_len, cfg->vocab_size, 1);
    if (sparse) {
        const int64_t experts = cfg->num_experts;
        plan->router = product(&overflow, tokens, experts + 1, 1, 1);
        plan->expert_in = plan->hidden;
        plan->expert_out = plan->hidden;
        plan->index_bytes = product(&overflow, tokens, 2 * 4, 1, 1) + product(&overflow, experts + 1, 2 * 8, 1, 1) +
                            product(&overflow, sparse_blocks, experts, 8, 1);
    }
    const int64_t floats[] = {plan->hidden,     plan->normed,     plan->encoder_output, plan->mask,
                              plan->qkv,        plan->context,    plan->scores,         plan->row_scale,
                              plan->position_bias,
                              plan->ffn_hidden, plan->router,     plan->expert_in,      plan->expert_out,
                              plan->logits};
    int64_t total = 0;
    for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++)
        if (sb_add_i64(total, floats[i], &total) != 0)
            overflow = true;
    if (overflow || sb_mul_i64(total, 4, &total) != 0 || sb_add_i64(total, plan->index_bytes, &total) != 0)
        return sb_fail(err, "activation sizes overflow int64 for batch %lld, src_len %lld, tgt_len %lld",
                       (long long)batch, (long long)src_len, (long long)tgt_len);
    plan->total_bytes = total;
    return 0;
}

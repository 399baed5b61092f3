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
    /* the diagonals of one stack's (len, len) bias per head: engine/kernels/kernels.h */
    plan->position_bias = product(&overflow, cfg->num_heads, 2 * len - 1, 1, 1);
    plan->ffn_hidden = product(&overflow, tokens, cfg->d_ff, gated ? 2 : 1, 1);
    plan->logits = product(&overflow, batch, tgt_len, cfg->vocab_size, 1);
    if (sparse) {
        const int64_t experts = cfg->num_experts;
        plan->router = product(&overflow, tokens, experts + 1, 1, 1);
        plan->expert_in = plan->hidden;
        plan->expert_out = plan->hidden;
        plan->index_bytes = product(&overflow, tokens, 2 * 4, 1, 1) + product(&overflow, experts + 1, 2 * 4, 1, 1) +
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

/* ---- the training arena --------------------------------------------------------------------------------- */

static int64_t sum_into(bool *overflow, int64_t total, int64_t term)
{
    if (sb_add_i64(total, term, &total) != 0)
        *overflow = true;
    return total;
}

/* Rows a sparse block's experts can receive for sequences of `len` tokens: every token, or every slot. */
static int64_t kept_max(const sb_config *cfg, int64_t batch, int64_t len, bool *overflow)
{
    const int64_t slots = product(overflow, cfg->num_experts, sb_expert_capacity(cfg, len), 1, 1);
    return product(overflow, batch, slots < len ? slots : len, 1, 1);
}

int sb_plan_train_activations(const sb_config *cfg, int64_t batch, int64_t src_len, int64_t tgt_len,
                              sb_train_plan *plan, sb_error *err)
{
    *plan = (sb_train_plan){0};
    if (batch < 1 || src_len < 1 || tgt_len < 1)
        return sb_fail(err, "batch, src_len and tgt_len must be positive (got %lld, %lld, %lld)", (long long)batch,
                       (long long)src_len, (long long)tgt_len);
    bool of = false;
    const int64_t d = cfg->d_model, a = sb_inner_dim(cfg), kv = (cfg->shared_kv ? 1 : 2) * a, H = cfg->num_heads;
    const int64_t E = cfg->num_experts, f = cfg->d_ff, B = batch, S = src_len, T = tgt_len;
    const int64_t Le = cfg->num_layers, Ld = cfg->num_decoder_layers;
    const int64_t se = sb_num_sparse_blocks(cfg, SB_STACK_ENCODER), sd = sb_num_sparse_blocks(cfg, SB_STACK_DECODER);
    const int64_t F = (cfg->ffn == SB_FFN_GATED_GELU ? 2 : 1) * f, Fe = (cfg->expert_ffn == SB_FFN_GATED_GELU ? 2 : 1) * f;
    const int64_t n = product(&of, B, S, 1, 1), t = product(&of, B, T, 1, 1), N = max64(n, t), L = max64(S, T);
    const int64_t ke = se > 0 ? kept_max(cfg, B, S, &of) : 0, kd = sd > 0 ? kept_max(cfg, B, T, &of) : 0;

    plan->residual = sum_into(&of, product(&of, 1 + 2 * Le, n, d, 1), product(&of, 1 + 3 * Ld, t, d, 1));
    plan->rstd = sum_into(&of, product(&of, 1 + 2 * Le, n, 1, 1), product(&of, 1 + 3 * Ld, t, 1, 1));
    plan->attention_qkv = sum_into(&of, product(&of, Le, n, a + kv, 1),
                                   product(&of, Ld, sum_into(&of, product(&of, t, a + kv + a, 1, 1),
                                                             product(&of, n, kv, 1, 1)), 1, 1));
    plan->attention_probs = sum_into(&of, product(&of, Le, B, H, product(&of, S, S, 1, 1)),
                                     product(&of, Ld, B, H, product(&of, T, T + S, 1, 1)));
    plan->attention_context = sum_into(&of, product(&of, Le, n, a, 1), product(&of, Ld, 2, t, a));
    plan->ffn_hidden = sum_into(&of, product(&of, Le - se, n, F, 1), product(&of, Ld - sd, t, F, 1));
    if (se + sd > 0) {
        const int64_t stacks = (se > 0) + (sd > 0);
        plan->router = sum_into(&of, product(&of, sum_into(&of, product(&of, se, n, 1, 1), product(&of, sd, t, 1, 1)),
                                             E, 1, 1),
                                product(&of, stacks, B, E, 1));
        plan->routing = sum_into(&of, product(&of, se, 2 * n + E + 1, 1, 1), product(&of, sd, 2 * t + E + 1, 1, 1));
        plan->experts = sum_into(&of, product(&of, se, ke, Fe + d, 1), product(&of, sd, kd, Fe + d, 1));
    }
    plan->outputs = product(&of, n + t, d, 1, 1);
    plan->logits = product(&of, t, cfg->vocab_size, 1, 1);

    const int64_t hll = product(&of, H, L, L, 1);
    const int64_t scratch[] = {
        n,                                                             /* additive mask (B, S) */
        hll, hll, product(&of, H, 2 * L - 1, 1, 1),                    /* bias, its gradient, distance sums */
        product(&of, 5, N, d, 1), product(&of, n, d, 1, 1),            /* normed, sub, dres, dsub, dnormed; denc */
        max64(product(&of, N, a + kv, 1, 1), sum_into(&of, product(&of, t, a, 1, 1), product(&of, n, kv, 1, 1))),
        product(&of, N, a, 1, 1),                                      /* dcontext */
        hll, hll,                                                      /* dprobs, dropped probs */
        product(&of, N, max64(Le + Ld - se - sd > 0 ? F : 0, se + sd > 0 ? Fe : 0), 1, 1), /* FFN hidden grad */
        product(&of, N, f, 1, 1),                                      /* FFN activation */
        se + sd > 0 ? sum_into(&of, product(&of, N, 2 * E + 2 + d, 1, 1),
                               sum_into(&of, E, product(&of, 3, max64(ke, kd), d, 1)))
                    : 0,                                               /* router and expert scratch */
    };
    for (size_t i = 0; i < sizeof scratch / sizeof scratch[0]; i++)
        plan->scratch = sum_into(&of, plan->scratch, scratch[i]);

    const int64_t fields[] = {plan->residual, plan->rstd,       plan->attention_qkv, plan->attention_probs,
                              plan->attention_context, plan->ffn_hidden, plan->router, plan->routing,
                              plan->experts,  plan->outputs,    plan->logits,        plan->scratch};
    int64_t total = 0;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        total = sum_into(&of, total, fields[i]);
    if (of || sb_mul_i64(total, 4, &total) != 0)
        return sb_fail(err, "training activation sizes overflow int64 for batch %lld, src_len %lld, tgt_len %lld",
                       (long long)batch, (long long)src_len, (long long)tgt_len);
    plan->total_bytes = total;
    return 0;
}

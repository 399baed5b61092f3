/* traffic.c — the analytic memory traffic of a shape, beside its FLOP counts (count.c): the bytes each op
 * class moves, which place it on the roofline (arithmetic intensity = FLOPs / bytes). A cache-less lower
 * bound: every weight read once, every GEMM's fp32 inputs and outputs read or written once. */
#include "variants/variants.h"

static const char *const op_class_names[SB_OP_CLASSES] = {"attention_projections", "attention_scores", "ffn",
                                                          "router", "lm_head"};

const char *sb_op_class_name(sb_op_class c)
{
    return c >= 0 && c < SB_OP_CLASSES ? op_class_names[c] : "?";
}

static void attention_traffic(const sb_config *cfg, double wb, double batch, double q_len, double kv_len,
                              double kv_tokens_len, double *bytes)
{
    double d = (double)cfg->d_model, inner = (double)sb_inner_dim(cfg), h = (double)cfg->num_heads;
    double kv_mats = cfg->shared_kv ? 1 : 2;
    /* q and o over the queries, k/v over the keys' tokens */
    bytes[SB_OP_ATTENTION_PROJECTIONS] +=
        (2 + kv_mats) * d * inner * wb + 4 * batch * (2 * q_len * (d + inner) + kv_mats * kv_tokens_len * (d + inner));
    bytes[SB_OP_ATTENTION_SCORES] += 4 * batch * (2 * q_len * inner + 2 * kv_len * inner + 2 * h * q_len * kv_len);
}

static void ffn_traffic(const sb_config *cfg, sb_ffn_kind kind, double copies, double wb, double tokens,
                        double *bytes)
{
    double d = (double)cfg->d_model, f = (double)cfg->d_ff, in_mats = kind == SB_FFN_GATED_GELU ? 2 : 1;
    bytes[SB_OP_FFN] += copies * (in_mats + 1) * d * f * wb + 4 * tokens * (2 * d + 2 * in_mats * f);
}

static void stack_traffic(const sb_config *cfg, sb_stack st, double wb, double batch, double len, double src,
                          double *bytes)
{
    int64_t blocks = st == SB_STACK_ENCODER ? cfg->num_layers : cfg->num_decoder_layers;
    double tokens = batch * len, e = (double)cfg->num_experts, d = (double)cfg->d_model;
    for (int64_t b = 0; b < blocks; b++) {
        attention_traffic(cfg, wb, batch, len, len, len, bytes);
        if (st == SB_STACK_DECODER)
            attention_traffic(cfg, wb, batch, len, src, src, bytes);
        if (sb_block_is_sparse(cfg, st, b)) {
            bytes[SB_OP_ROUTER] += d * e * wb + 4 * tokens * (d + e);
            ffn_traffic(cfg, cfg->expert_ffn, e, wb, tokens, bytes);
        } else {
            ffn_traffic(cfg, cfg->ffn, 1, wb, tokens, bytes);
        }
    }
}

void sb_count_traffic(const sb_config *cfg, const sb_count_settings *s, sb_traffic *out)
{
    const double wb = (double)sb_dtype_bytes(s->dtype), batch = (double)s->batch, d = (double)cfg->d_model;
    *out = (sb_traffic){{0}, {0}};
    stack_traffic(cfg, SB_STACK_ENCODER, wb, batch, (double)s->src_len, 0, out->encoder);
    stack_traffic(cfg, SB_STACK_DECODER, wb, batch, (double)s->tgt_len, (double)s->src_len, out->decoder);
    out->decoder[SB_OP_LM_HEAD] =
        (double)cfg->vocab_size * d * wb + 4 * batch * (double)s->tgt_len * (d + (double)cfg->vocab_size);
}

double sb_cross_kv_traffic(const sb_config *cfg, const sb_count_settings *s)
{
    const double d = (double)cfg->d_model, inner = (double)sb_inner_dim(cfg), kv_mats = cfg->shared_kv ? 1 : 2;
    return (double)cfg->num_decoder_layers * kv_mats * inner * (d * (double)sb_dtype_bytes(s->dtype) +
                                                                4 * (double)s->src_len);
}

double sb_generation_step_traffic(const sb_config *cfg, const sb_count_settings *s, int64_t at)
{
    const double wb = (double)sb_dtype_bytes(s->dtype), src = (double)s->src_len;
    const double d = (double)cfg->d_model, inner = (double)sb_inner_dim(cfg), kv_mats = cfg->shared_kv ? 1 : 2;
    double bytes = (double)cfg->vocab_size * d * wb;
    for (int64_t b = 0; b < cfg->num_decoder_layers; b++) {
        const bool sparse = sb_block_is_sparse(cfg, SB_STACK_DECODER, b);
        const sb_ffn_kind kind = sparse ? cfg->expert_ffn : cfg->ffn;
        const double ffn_mats = kind == SB_FFN_GATED_GELU ? 3 : 2;
        bytes += ((2 + kv_mats) + 2) * d * inner * wb + ffn_mats * d * (double)cfg->d_ff * wb +
                 (sparse ? d * (double)cfg->num_experts * wb : 0) + 4 * kv_mats * inner * (src + (double)at + 1);
    }
    return bytes;
}

/* config.c — the config type's defaults, validation and derived quantities (sparse blocks, capacity). */
#include "variants/variants.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void sb_config_defaults(sb_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->name, sizeof cfg->name, "custom");
    cfg->vocab_size = 32128;
    cfg->d_model = 512;
    cfg->d_ff = 2048;
    cfg->d_kv = 64;
    cfg->num_heads = 8;
    cfg->num_layers = 6;
    cfg->num_decoder_layers = 6;
    cfg->ffn = SB_FFN_RELU;
    cfg->tie_word_embeddings = true;
    cfg->relative_attention_num_buckets = 32;
    cfg->relative_attention_max_distance = 128;
    cfg->layer_norm_epsilon = 1e-6;
    cfg->expert_ffn = SB_FFN_RELU;
    cfg->capacity_factor = 1.0;
    cfg->router_z_loss_coef = 0.001;
    cfg->router_aux_loss_coef = 0.001;
    cfg->router_jitter_noise = 0.01;
    cfg->pad_token_id = 0;
    cfg->eos_token_id = 1;
    cfg->decoder_start_token_id = 0;
    cfg->initializer_factor = 1.0;
}

/* Largest value any single dimension may take: keeps products of three dimensions (vocab * d_model *
 * experts, say) far from int64 overflow while allowing every published shape (d_ff 65536, 2048 experts). */
#define SB_DIM_MAX (INT64_C(1) << 24)
/* Blocks of both stacks together: far beyond any published depth (xxl: 24 + 24), and what the engine's
 * per-block tables are sized for. */
#define SB_BLOCKS_MAX 4096

static int check_dim(const char *field, int64_t value, int64_t min, int64_t max, sb_error *err)
{
    if (value < min || value > max)
        return sb_fail(err, "%s = %lld is out of range (%lld..%lld)", field, (long long)value, (long long)min,
                       (long long)max);
    return 0;
}

/* Each dimension in range still allows products that overflow (d_model x d_ff x experts x layers), so bound
 * the parameter count itself: at most 2^53, exact in a double (JSON) and with room for the FLOP counts'
 * token factors, which sb_count checks on its own. Every published shape is below 2^41. */
static int check_total_size(const sb_config *cfg, sb_error *err)
{
    const int64_t experts = cfg->num_experts > 0 ? cfg->num_experts : 1;
    int64_t inner, attention, ffn, router, block, blocks, embeddings, total;
    if (sb_mul_i64(cfg->num_heads, cfg->d_kv, &inner) != 0 || sb_mul_i64(8 * cfg->d_model, inner, &attention) != 0 ||
        sb_mul_i64(3 * cfg->d_model, cfg->d_ff, &ffn) != 0 || sb_mul_i64(ffn, experts, &ffn) != 0 ||
        sb_mul_i64(cfg->d_model, experts + 3, &router) != 0 || sb_add_i64(attention, ffn, &block) != 0 ||
        sb_add_i64(block, router, &block) != 0 ||
        sb_mul_i64(block, cfg->num_layers + cfg->num_decoder_layers, &blocks) != 0 ||
        sb_mul_i64(2 * cfg->vocab_size, cfg->d_model, &embeddings) != 0 ||
        sb_add_i64(blocks, embeddings, &total) != 0 || total > (INT64_C(1) << 53))
        return sb_fail(err, "the shape is too large: its parameter count exceeds 2^53 (d_model %lld, d_ff %lld, "
                            "%lld heads x %lld, %lld experts, %lld + %lld layers, vocab %lld)",
                       (long long)cfg->d_model, (long long)cfg->d_ff, (long long)cfg->num_heads, (long long)cfg->d_kv,
                       (long long)cfg->num_experts, (long long)cfg->num_layers, (long long)cfg->num_decoder_layers,
                       (long long)cfg->vocab_size);
    return 0;
}

int sb_config_validate(const sb_config *cfg, sb_error *err)
{
    const struct {
        const char *field;
        int64_t value, min, max;
    } dims[] = {
        {"vocab_size", cfg->vocab_size, 1, SB_DIM_MAX},
        {"d_model", cfg->d_model, 1, SB_DIM_MAX},
        {"d_ff", cfg->d_ff, 1, SB_DIM_MAX},
        {"d_kv", cfg->d_kv, 1, SB_DIM_MAX},
        {"num_heads", cfg->num_heads, 1, SB_DIM_MAX},
        {"num_layers", cfg->num_layers, 1, SB_BLOCKS_MAX - 1},
        {"num_decoder_layers", cfg->num_decoder_layers, 1, SB_BLOCKS_MAX - 1},
        {"relative_attention_num_buckets", cfg->relative_attention_num_buckets, 2, SB_DIM_MAX},
        {"relative_attention_max_distance", cfg->relative_attention_max_distance, 1, SB_DIM_MAX},
        {"num_experts", cfg->num_experts, 0, SB_DIM_MAX},
        {"encoder_sparse_step", cfg->encoder_sparse_step, 0, SB_DIM_MAX},
        {"decoder_sparse_step", cfg->decoder_sparse_step, 0, SB_DIM_MAX},
        {"expert_capacity", cfg->expert_capacity, 0, SB_DIM_MAX},
    };
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++)
        if (check_dim(dims[i].field, dims[i].value, dims[i].min, dims[i].max, err) != 0)
            return -1;
    if (cfg->num_layers + cfg->num_decoder_layers > SB_BLOCKS_MAX)
        return sb_fail(err, "num_layers + num_decoder_layers = %lld is out of range (at most %d blocks in all)",
                       (long long)(cfg->num_layers + cfg->num_decoder_layers), SB_BLOCKS_MAX);
    if (cfg->relative_attention_max_distance <= cfg->relative_attention_num_buckets / 4)
        return sb_fail(err, "relative_attention_max_distance = %lld must exceed a quarter of the buckets (%lld)",
                       (long long)cfg->relative_attention_max_distance,
                       (long long)cfg->relative_attention_num_buckets / 4);
    if (!(cfg->layer_norm_epsilon > 0 && cfg->layer_norm_epsilon < 1))
        return sb_fail(err, "layer_norm_epsilon = %g must be in (0, 1)", cfg->layer_norm_epsilon);
    if (cfg->ffn != SB_FFN_RELU && cfg->ffn != SB_FFN_GATED_GELU)
        return sb_fail(err, "unknown FFN kind %d", (int)cfg->ffn);
    if (cfg->expert_ffn != SB_FFN_RELU && cfg->expert_ffn != SB_FFN_GATED_GELU)
        return sb_fail(err, "unknown expert FFN kind %d", (int)cfg->expert_ffn);
    if (cfg->num_experts == 1)
        return sb_fail(err, "num_experts = 1: a Switch layer needs at least 2 experts (0 for a dense model)");
    if (cfg->num_experts > 0) {
        if (cfg->encoder_sparse_step == 0 && cfg->decoder_sparse_step == 0)
            return sb_fail(err, "num_experts = %lld but encoder_sparse_step and decoder_sparse_step are both 0",
                           (long long)cfg->num_experts);
        if (cfg->expert_capacity == 0 && !(cfg->capacity_factor > 0 && cfg->capacity_factor <= 1e6))
            return sb_fail(err, "capacity_factor = %g must be in (0, 1e6] when expert_capacity is 0",
                           cfg->capacity_factor);
    }
    if (!(cfg->router_z_loss_coef >= 0) || !(cfg->router_aux_loss_coef >= 0) || !(cfg->router_jitter_noise >= 0) ||
        !(cfg->router_jitter_noise < 1))
        return sb_fail(err, "router coefficients must be >= 0 (jitter < 1)");
    const int64_t tokens[] = {cfg->pad_token_id, cfg->eos_token_id, cfg->decoder_start_token_id};
    for (size_t i = 0; i < 3; i++)
        if (tokens[i] < 0 || tokens[i] >= cfg->vocab_size)
            return sb_fail(err, "special token id %lld is outside the vocabulary (size %lld)", (long long)tokens[i],
                           (long long)cfg->vocab_size);
    if (!(cfg->initializer_factor > 0 && cfg->initializer_factor < 1e6))
        return sb_fail(err, "initializer_factor = %g must be positive", cfg->initializer_factor);
    return check_total_size(cfg, err);
}

int64_t sb_inner_dim(const sb_config *cfg)
{
    return cfg->num_heads * cfg->d_kv;
}

int64_t sb_kv_width(const sb_config *cfg)
{
    return (cfg->shared_kv ? 1 : 2) * sb_inner_dim(cfg);
}

int sb_check_ids(const sb_config *cfg, const int32_t *ids, int64_t n, const char *what, sb_error *err)
{
    if (ids == NULL)
        return sb_fail(err, "%s is missing", what);
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= cfg->vocab_size)
            return sb_fail(err, "%s[%lld] = %d is outside the vocabulary (size %lld)", what, (long long)i, (int)ids[i],
                           (long long)cfg->vocab_size);
    return 0;
}

bool sb_block_is_sparse(const sb_config *cfg, sb_stack stack, int64_t block)
{
    int64_t step = stack == SB_STACK_ENCODER ? cfg->encoder_sparse_step : cfg->decoder_sparse_step;
    if (cfg->num_experts == 0 || step == 0)
        return false;
    return step == 1 || block % step == 1;
}

int64_t sb_num_sparse_blocks(const sb_config *cfg, sb_stack stack)
{
    int64_t blocks = stack == SB_STACK_ENCODER ? cfg->num_layers : cfg->num_decoder_layers;
    int64_t n = 0;
    for (int64_t i = 0; i < blocks; i++)
        n += sb_block_is_sparse(cfg, stack, i);
    return n;
}

int64_t sb_expert_capacity(const sb_config *cfg, int64_t tokens_per_sequence)
{
    if (cfg->num_experts == 0)
        return tokens_per_sequence;
    if (cfg->expert_capacity > 0)
        return cfg->expert_capacity;
    int64_t capacity = llround(cfg->capacity_factor * (double)tokens_per_sequence / (double)cfg->num_experts);
    return capacity < 1 ? 1 : capacity;
}

/* count.c — exact analytic counts of a shape: parameters, forward FLOPs in the paper and executed
 * conventions, train-step FLOPs, memory. Everything is int64 and overflow-checked, so an absurd shape
 * gets an error instead of a wrapped number.
 */
#include "variants/variants.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int64_t sb_dtype_bytes(sb_dtype dtype)
{
    return dtype == SB_DTYPE_BF16 ? 2 : 4;
}

const char *sb_dtype_name(sb_dtype dtype)
{
    return dtype == SB_DTYPE_BF16 ? "bf16" : "f32";
}

int sb_dtype_parse(const char *name, sb_dtype *out, sb_error *err)
{
    for (int d = SB_DTYPE_F32; d <= SB_DTYPE_BF16; d++)
        if (strcmp(name, sb_dtype_name((sb_dtype)d)) == 0) {
            *out = (sb_dtype)d;
            return 0;
        }
    return sb_fail(err, "unknown dtype '%s' (f32 or bf16)", name);
}

/* ---- checked arithmetic with a sticky flag, so the formulas below read like the math -------------- */

typedef struct {
    bool overflow;
} arith;

static int64_t prod_n(arith *ar, const int64_t *factors, size_t n)
{
    int64_t result = 1;
    for (size_t i = 0; i < n; i++)
        if (sb_mul_i64(result, factors[i], &result) != 0) {
            ar->overflow = true;
            return 0;
        }
    return result;
}

static int64_t sum_n(arith *ar, const int64_t *terms, size_t n)
{
    int64_t result = 0;
    for (size_t i = 0; i < n; i++)
        if (sb_add_i64(result, terms[i], &result) != 0) {
            ar->overflow = true;
            return 0;
        }
    return result;
}

#define PROD(ar, ...) prod_n(ar, (const int64_t[]){__VA_ARGS__}, sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t))
#define SUM(ar, ...) sum_n(ar, (const int64_t[]){__VA_ARGS__}, sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t))
#define ACC(ar, target, value) ((target) = SUM(ar, (target), (value)))

static int64_t ffn_matrices(sb_ffn_kind kind)
{
    return kind == SB_FFN_GATED_GELU ? 3 : 2; /* wi_0, wi_1, wo : wi, wo */
}

static int64_t kv_projections(const sb_config *cfg)
{
    return cfg->shared_kv ? 1 : 2;
}

static int64_t num_blocks(const sb_config *cfg, sb_stack stack)
{
    return stack == SB_STACK_ENCODER ? cfg->num_layers : cfg->num_decoder_layers;
}

/* ---- parameters: a walk over the tensors HF's model holds ---------------------------------------- */

typedef struct {
    arith *ar;
    int64_t params;
    int64_t embedding;         /* shared, lm_head, relative position bias tables */
    int64_t active;            /* one expert per sparse block */
    int64_t adafactor_floats;  /* rows + cols per matrix, n per vector */
} param_tally;

/* `copies` matrices of rows x cols, of which `active_copies` serve one token. */
static void matrices(param_tally *t, int64_t copies, int64_t active_copies, int64_t rows, int64_t cols)
{
    ACC(t->ar, t->params, PROD(t->ar, copies, rows, cols));
    ACC(t->ar, t->active, PROD(t->ar, active_copies, rows, cols));
    ACC(t->ar, t->adafactor_floats, PROD(t->ar, copies, SUM(t->ar, rows, cols)));
}

static void embedding(param_tally *t, int64_t rows, int64_t cols)
{
    matrices(t, 1, 1, rows, cols);
    ACC(t->ar, t->embedding, PROD(t->ar, rows, cols));
}

static void vectors(param_tally *t, int64_t copies, int64_t n)
{
    int64_t floats = PROD(t->ar, copies, n);
    ACC(t->ar, t->params, floats);
    ACC(t->ar, t->active, floats);
    ACC(t->ar, t->adafactor_floats, floats);
}

static void count_params(const sb_config *cfg, param_tally *t)
{
    const int64_t d = cfg->d_model, f = cfg->d_ff, a = sb_inner_dim(cfg), E = cfg->num_experts;
    embedding(t, cfg->vocab_size, d); /* shared */
    if (!cfg->tie_word_embeddings)
        embedding(t, cfg->vocab_size, d); /* lm_head */
    for (int s = SB_STACK_ENCODER; s <= SB_STACK_DECODER; s++) {
        const int64_t blocks = num_blocks(cfg, (sb_stack)s), sparse = sb_num_sparse_blocks(cfg, (sb_stack)s);
        const int64_t dense = blocks - sparse, attentions = s == SB_STACK_ENCODER ? 1 : 2;
        const int64_t projections = PROD(t->ar, blocks, attentions, 2 + kv_projections(cfg)); /* q, o + k, v */
        embedding(t, cfg->relative_attention_num_buckets, cfg->num_heads); /* block 0 only */
        matrices(t, projections, projections, a, d);
        vectors(t, PROD(t->ar, blocks, attentions + 1), d); /* one RMSNorm per sublayer */
        const int64_t ffn = PROD(t->ar, dense, ffn_matrices(cfg->ffn));
        matrices(t, ffn, ffn, f, d);
        matrices(t, sparse, sparse, E, d); /* router */
        const int64_t experts = PROD(t->ar, sparse, ffn_matrices(cfg->expert_ffn));
        matrices(t, PROD(t->ar, experts, E), experts, f, d);
        vectors(t, 1, d); /* final_layer_norm */
    }
}

/* ---- FLOPs: a walk over the GEMMs of encoder(src) + teacher-forced decoder(tgt) ------------------- */

typedef enum { PAPER, EXECUTED } convention;

typedef struct {
    arith *ar;
    int64_t *train; /* NULL for the paper convention */
} gemm_tally;

/* `count` GEMMs of m x n x k, 2 FLOPs per multiply-add. In training each also runs its two backward
 * GEMMs (dA = dC·Bᵀ, dB = Aᵀ·dC) of the same size: every operand here needs its gradient, since all
 * weights train and the embedding output itself is trained through `shared`. */
static void gemm(gemm_tally *t, int64_t *component, int64_t count, int64_t m, int64_t n, int64_t k)
{
    int64_t flops = PROD(t->ar, 2, count, m, n, k);
    ACC(t->ar, *component, flops);
    if (t->train != NULL)
        ACC(t->ar, *t->train, PROD(t->ar, 3, flops));
}

/* Tokens per sequence that reach an expert in a sparse block: all of them in the paper convention; under
 * balanced routing at most num_experts * capacity when executed. */
static int64_t routed_tokens(const sb_config *cfg, convention conv, int64_t tokens, arith *ar)
{
    if (conv == PAPER)
        return tokens;
    int64_t slots = PROD(ar, cfg->num_experts, sb_expert_capacity(cfg, tokens));
    return slots < tokens ? slots : tokens;
}

static void count_flops(const sb_config *cfg, const sb_count_settings *st, convention conv, arith *ar,
                        sb_flops *out, int64_t *train)
{
    memset(out, 0, sizeof *out);
    gemm_tally t = {ar, train};
    const int64_t B = st->batch, S = st->src_len, T = st->tgt_len;
    const int64_t d = cfg->d_model, f = cfg->d_ff, a = sb_inner_dim(cfg), H = cfg->num_heads, dkv = cfg->d_kv;
    const int64_t kv = kv_projections(cfg);
    const int64_t score_gemms = conv == EXECUTED ? 2 : 1; /* QKᵀ, AV : QKᵀ */
    for (int s = SB_STACK_ENCODER; s <= SB_STACK_DECODER; s++) {
        const int64_t L = num_blocks(cfg, (sb_stack)s), sparse = sb_num_sparse_blocks(cfg, (sb_stack)s);
        const int64_t N = s == SB_STACK_ENCODER ? S : T;
        const int64_t tokens = PROD(ar, B, N);
        /* self-attention: q, o (+ k, v) over the stack's tokens, scores N x N per batch row and head */
        gemm(&t, &out->attention_projections, PROD(ar, L, 2 + kv), tokens, a, d);
        gemm(&t, &out->attention_scores, PROD(ar, L, B, H, score_gemms), N, N, dkv);
        if (s == SB_STACK_DECODER) {
            /* cross-attention: q, o over targets; k, v over the encoder output (the paper counts them as
             * decoder weights applied to each target token) */
            const int64_t kv_tokens = PROD(ar, B, conv == EXECUTED ? S : T);
            gemm(&t, &out->attention_projections, PROD(ar, L, 2), tokens, a, d);
            gemm(&t, &out->attention_projections, PROD(ar, L, kv), kv_tokens, a, d);
            gemm(&t, &out->attention_scores, PROD(ar, L, B, H, score_gemms), T, S, dkv);
        }
        gemm(&t, &out->ffn, PROD(ar, L - sparse, ffn_matrices(cfg->ffn)), tokens, f, d);
        if (sparse > 0) {
            if (conv == EXECUTED)
                gemm(&t, &out->router, sparse, tokens, cfg->num_experts, d);
            const int64_t routed = PROD(ar, B, routed_tokens(cfg, conv, N, ar));
            gemm(&t, &out->ffn, PROD(ar, sparse, ffn_matrices(cfg->expert_ffn)), routed, f, d);
        }
    }
    gemm(&t, &out->lm_head, 1, PROD(ar, B, T), cfg->vocab_size, d);
    out->total = SUM(ar, out->attention_projections, out->attention_scores, out->ffn, out->router, out->lm_head);
}

/* ---- memory ----------------------------------------------------------------------------------------- */

/* Incremental decoding of tgt_len tokens: every decoder layer caches self-attention K and V for the
 * targets and cross-attention K and V for the sources (one tensor each under skv), fp32. */
static int64_t kv_cache_bytes(const sb_config *cfg, const sb_count_settings *st, arith *ar)
{
    return PROD(ar, 4, cfg->num_decoder_layers, kv_projections(cfg), sb_inner_dim(cfg), st->batch,
                SUM(ar, st->tgt_len, st->src_len));
}

/* ---- sb_count ---------------------------------------------------------------------------------------- */

int sb_count(const sb_config *cfg, const sb_count_settings *settings, sb_counts *out, sb_error *err)
{
    if (sb_config_validate(cfg, err) != 0)
        return -1;
    if (settings->batch < 1 || settings->src_len < 1 || settings->tgt_len < 1)
        return sb_fail(err, "batch, src_len and tgt_len must be at least 1 (got %" PRId64 ", %" PRId64 ", %" PRId64 ")",
                       settings->batch, settings->src_len, settings->tgt_len);
    if (settings->dtype != SB_DTYPE_F32 && settings->dtype != SB_DTYPE_BF16)
        return sb_fail(err, "unknown weight dtype %d (f32 or bf16)", (int)settings->dtype);
    memset(out, 0, sizeof *out);
    arith ar = {false};

    param_tally p = {&ar, 0, 0, 0, 0};
    count_params(cfg, &p);
    out->params = p.params;
    out->params_nonembedding = p.params - p.embedding;
    out->params_active = p.active;

    count_flops(cfg, settings, PAPER, &ar, &out->flops_forward_paper, NULL);
    count_flops(cfg, settings, EXECUTED, &ar, &out->flops_forward_executed, &out->flops_train_step);

    out->memory_bytes.weights = PROD(&ar, p.params, sb_dtype_bytes(settings->dtype));
    out->memory_bytes.kv_cache = kv_cache_bytes(cfg, settings, &ar);
    out->memory_bytes.optimizer_adafactor = PROD(&ar, 4, p.adafactor_floats);
    out->memory_bytes.optimizer_adamw = PROD(&ar, 8, p.params);
    if (ar.overflow)
        return sb_fail(err, "%s at batch %" PRId64 ", src %" PRId64 ", tgt %" PRId64
                            ": a count overflows 64 bits; use smaller dimensions or sequence lengths",
                       cfg->name, settings->batch, settings->src_len, settings->tgt_len);

    sb_activation_plan plan;
    if (sb_plan_activations(cfg, settings->batch, settings->src_len, settings->tgt_len, &plan, err) != 0)
        return -1;
    out->memory_bytes.activations_forward = plan.total_bytes;
    /* The trainer's own plan, so the estimate is the allocation (as for the forward). */
    sb_train_plan train;
    if (sb_plan_train_activations(cfg, settings->batch, settings->src_len, settings->tgt_len, &train, err) != 0)
        return -1;
    out->memory_bytes.activations_train = train.total_bytes;
    return 0;
}

/* ---- JSON ------------------------------------------------------------------------------------------- */

/* cJSON calls accept a NULL parent, so building goes on after an allocation failure and `ok` records it. */
typedef struct {
    bool ok;
} builder;

static cJSON *object(builder *b, cJSON *parent, const char *key)
{
    cJSON *o = cJSON_AddObjectToObject(parent, key);
    b->ok = b->ok && o != NULL;
    return o;
}

static void string(builder *b, cJSON *parent, const char *key, const char *value)
{
    b->ok = b->ok && cJSON_AddStringToObject(parent, key, value) != NULL;
}

/* Raw decimal text: cJSON numbers are doubles, exact only below 2^53, and FLOP counts go beyond. */
static void integer(builder *b, cJSON *parent, const char *key, int64_t value)
{
    char text[24];
    snprintf(text, sizeof text, "%" PRId64, value);
    b->ok = b->ok && cJSON_AddRawToObject(parent, key, text) != NULL;
}

static void flops(builder *b, cJSON *parent, const char *key, const sb_flops *f)
{
    cJSON *o = object(b, parent, key);
    integer(b, o, "attention_projections", f->attention_projections);
    integer(b, o, "attention_scores", f->attention_scores);
    integer(b, o, "ffn", f->ffn);
    integer(b, o, "router", f->router);
    integer(b, o, "lm_head", f->lm_head);
    integer(b, o, "total", f->total);
}

char *sb_counts_to_json(const sb_config *cfg, const sb_count_settings *settings, const sb_counts *c)
{
    builder b = {true};
    cJSON *root = cJSON_CreateObject();
    b.ok = root != NULL;
    string(&b, root, "name", cfg->name);
    cJSON *s = object(&b, root, "settings");
    integer(&b, s, "batch", settings->batch);
    integer(&b, s, "src_len", settings->src_len);
    integer(&b, s, "tgt_len", settings->tgt_len);
    string(&b, s, "dtype", sb_dtype_name(settings->dtype));
    integer(&b, root, "params", c->params);
    integer(&b, root, "params_nonembedding", c->params_nonembedding);
    integer(&b, root, "params_active", c->params_active);
    flops(&b, root, "flops_forward_paper", &c->flops_forward_paper);
    flops(&b, root, "flops_forward_executed", &c->flops_forward_executed);
    integer(&b, root, "flops_train_step", c->flops_train_step);
    cJSON *m = object(&b, root, "memory_bytes");
    integer(&b, m, "weights", c->memory_bytes.weights);
    integer(&b, m, "kv_cache", c->memory_bytes.kv_cache);
    integer(&b, m, "activations_forward", c->memory_bytes.activations_forward);
    integer(&b, m, "activations_train", c->memory_bytes.activations_train);
    integer(&b, m, "optimizer_adafactor", c->memory_bytes.optimizer_adafactor);
    integer(&b, m, "optimizer_adamw", c->memory_bytes.optimizer_adamw);
    cJSON *conv = object(&b, root, "conventions");
    string(&b, conv, "params", "Hugging Face num_parameters(): tied embedding counted once");
    string(&b, conv, "params_nonembedding", "params minus shared, lm_head (untied) and relative position bias tables");
    string(&b, conv, "params_active", "params used per token: one expert per sparse block, router included");
    string(&b, conv, "flops_forward_paper",
           "Switch paper Table 9 / Kaplan et al.: 2 per multiply-add of weight matmuls per token (one expert, "
           "cross-attention K/V over tgt), QK^T once, LM head over tgt; router excluded");
    string(&b, conv, "flops_forward_executed",
           "every GEMM the engine runs: QK^T and AV in full, cross-attention K/V over src, router on every token, "
           "experts on kept tokens under balanced routing, LM head over tgt");
    string(&b, conv, "flops_train_step", "executed forward GEMMs, each plus two backward GEMMs (dA, dB) of equal size");
    char *text = b.ok ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    return text;
}

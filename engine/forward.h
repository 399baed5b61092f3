/* forward.h — internals shared by the forward-pass files: the runtime's state, the weights of one block
 * resolved from the tensor table, and the layer kernels. Not part of the engine's public API. */
#ifndef SHAPEBENCH_FORWARD_H
#define SHAPEBENCH_FORWARD_H

#include "engine/engine.h"

#include <math.h>
#include <string.h>

typedef struct {
    const sb_tensor *q, *k, *v, *o; /* under shared_kv, k is the `kv` projection and v is NULL */
} sb_attention_weights;

typedef struct {
    sb_ffn_kind kind;
    const sb_tensor *wi, *wi_1, *wo; /* gated: wi is wi_0 */
} sb_ffn_weights;

typedef struct {
    const sb_tensor *ln_self, *ln_cross, *ln_ffn; /* ln_cross: decoder only */
    sb_attention_weights self, cross;
    sb_ffn_weights ffn;          /* dense blocks */
    const sb_tensor *router;     /* sparse blocks: classifier (E, d_model), else NULL */
    sb_ffn_weights *experts;     /* sparse blocks: num_experts */
    sb_router_stats *stats;      /* sparse blocks: this block's statistics */
    int64_t *per_expert;         /* sparse blocks: storage behind stats->per_expert */
} sb_block_weights;

typedef struct {
    sb_stack stack;
    int64_t num_blocks;
    sb_block_weights *blocks;
    const sb_tensor *bias_table; /* relative_attention_bias of block 0, (num_buckets, H) */
    const sb_tensor *final_ln;
} sb_stack_weights;

struct sb_runtime {
    const sb_weights *w;
    const sb_config *cfg;
    int64_t max_batch, max_src, max_tgt;
    sb_activation_plan plan;
    void *arena; /* every activation buffer of the plan, carved below */
    float *hidden, *normed, *encoder_output, *mask, *qkv, *context, *scores, *row_scale, *position_bias, *ffn_hidden,
        *router, *expert_in, *expert_out, *logits;
    int32_t *choice, *slot;              /* per token: chosen expert, row in expert_in or -1 (dropped) */
    int64_t *expert_offset, *expert_fill; /* per expert: first row in expert_in (E+1), running counters */
    float *weight_scratch;               /* bf16 storage only: one weight matrix (or a row block) in fp32 */
    int64_t weight_scratch_floats;
    float *kv_cache; /* generation, batch row 0: per decoder block self [K|V] rows (max_tgt), then cross (max_src) */
    sb_stack_weights encoder, decoder;
    const sb_tensor *shared, *lm_head;
    sb_router_stats *stats;
    size_t num_stats;
    sb_observer observer;
    int64_t batch, src_len, tgt_len; /* of the last sb_encode / sb_decode; src_len 0 before any encode */
};

/* ---- weights in fp32 (runtime.c) ------------------------------------------------------------------------ */

/* The tensor as fp32: its storage under f32, else converted into the weight scratch (valid until the next
 * call). Only for tensors that fit the scratch (all but the vocabulary tables). */
const float *sb_weight_f32(sb_runtime *rt, const sb_tensor *t);
// inp (N,C), weight (OC,C) -> out (N,OC) with row stride ldo, = alpha * inp·weightᵀ + beta * out
void sb_linear_forward(sb_runtime *rt, float *out, int64_t ldo, const float *inp, int64_t n, const sb_tensor *weight,
                       float alpha, float beta);

/* Where a block's attention keys and values live, as rows [K|V] (just K under shared_kv) of width
 * sb_kv_width. Teacher-forced: self_kv NULL (projected with the queries into rt->qkv, rows [Q|K|V]) and
 * cross_kv projected from the encoder output. Generating: the KV cache, the new token's self K/V written
 * into row `at`, cross K/V computed once before the first step. */
typedef struct {
    float *self_kv;
    int64_t at; /* row of this call's first token among the self keys (0 unless generating) */
    float *cross_kv;
    bool project_cross;
} sb_kv;

/* Width of a [K|V] row: 2 * inner, or inner under shared_kv (one projection serves as both). */
int64_t sb_kv_width(const sb_config *cfg);

// hidden (B*len, d_model) -> hidden: one T5 block (self-attention, cross-attention in the decoder, FFN or
// Switch MLP), each sublayer pre-norm residual; uses rt->position_bias of the stack and rt->mask
void sb_block_forward(sb_runtime *rt, const sb_stack_weights *sw, int64_t block, int64_t batch, int64_t len,
                      const sb_kv *kv);
// inp (N,C), weights[count] each (OC,C) -> out (N, ldo), columns j*OC.. = inp·weights[j]ᵀ; one GEMM when
// the tensors are adjacent fp32 storage
void sb_projection_forward(sb_runtime *rt, float *out, int64_t ldo, const float *inp, int64_t n,
                           const sb_tensor *const *weights, int count);

/* ---- element-wise math shared by the forward and the training kernels ---------------------------------- */

/* exp for the softmax and the gelu: Cephes' range reduction and degree-5 polynomial (about 2 ulp), written
 * so that the compiler vectorises it, which glibc's expf does not without -ffast-math; fmaf because ISO C
 * mode does not contract a * b + c. Arguments below the float range give exactly 0, so masked scores
 * vanish as they do in HF. */
static inline float sb_exp_approx(float x)
{
    const float lo = -87.3365f, hi = 88.0f, round = 12582912.0f; /* 1.5 * 2^23 */
    float xc = x < lo ? lo : (x > hi ? hi : x);
    /* n = nearest integer to x / ln 2, by the 1.5 * 2^23 trick: floorf would stop the vectoriser */
    float n = fmaf(xc, 1.44269504088896341f, round) - round;
    float r = fmaf(n, 2.12194440e-4f, fmaf(n, -0.693359375f, xc));
    float p = 1.9875691500e-4f;
    p = fmaf(p, r, 1.3981999507e-3f);
    p = fmaf(p, r, 8.3334519073e-3f);
    p = fmaf(p, r, 4.1665795894e-2f);
    p = fmaf(p, r, 1.6666665459e-1f);
    p = fmaf(p, r, 5.0000001201e-1f);
    float y = fmaf(p, r * r, r) + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return x < lo ? 0.0f : y * scale;
}

/* gelu with the tanh approximation (HF's gelu_new), tanh(y) = 1 - 2 / (exp(2y) + 1). */
static inline float sb_gelu_tanh(float x)
{
    const float y = 0.7978845608028654f * (x + 0.044715f * x * x * x);
    return 0.5f * x * (1.0f + (1.0f - 2.0f / (sb_exp_approx(2.0f * y) + 1.0f)));
}

/* ---- layers (layers.c) ---------------------------------------------------------------------------------- */

// ids (N) -> out (N,C) rows of the embedding table; ids already checked against the vocabulary
void sb_embedding_forward(sb_runtime *rt, float *out, const int32_t *ids, int64_t n);
// inp (N,C), weight (C) -> out (N,C)
void sb_rmsnorm_forward(float *out, const float *inp, const float *weight, int64_t n, int64_t c, float eps);
// table (num_buckets,H) -> bias (H,lq,lk) for query positions q0..q0+lq-1 against keys 0..lk-1, using
// scratch (H, q0+lq+lk-1); the decoder (causal) gets the most negative float above the diagonal, as HF's
// extended mask adds it
void sb_position_bias_forward(float *bias, float *scratch, const float *table, const sb_config *cfg, bool causal,
                              int64_t q0, int64_t lq, int64_t lk);
// q (B*lq, ldq), k, v (B*lk, ldkv) with H heads of d_kv columns, bias (H,lq,lk) or NULL, mask (B,lk)
// additive or NULL -> context (B*lq, ldc): per (batch, head) softmax(q kᵀ + bias + mask) v, unscaled
void sb_attention_forward(sb_runtime *rt, float *context, int64_t ldc, const float *q, int64_t ldq, const float *k,
                          const float *v, int64_t ldkv, int64_t batch, int64_t lq, int64_t lk, const float *bias,
                          const float *mask);
// inp (N,d_model) -> out (N,d_model) = beta * out + wo(act(wi inp)), act relu or gelu_tanh gated
void sb_ffn_forward(sb_runtime *rt, float *out, const float *inp, int64_t n, const sb_ffn_weights *fw, float beta);

/* ---- Switch sparse MLP (switch_mlp.c) ------------------------------------------------------------------- */

// u (B*len, d_model) normed input -> hidden (B*len, d_model) += gate * expert(u) for kept tokens
void sb_switch_forward(sb_runtime *rt, const sb_block_weights *bw, sb_stack stack, int64_t block, float *hidden,
                       const float *u, int64_t batch, int64_t len);

#endif

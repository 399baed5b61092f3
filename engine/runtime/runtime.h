/* runtime.h — the inference runtime: a model's weights run forward on activations sized up front for
 * (batch, src_len, tgt_len): encoder, teacher-forced decoder, logits, cross-entropy, incremental greedy
 * generation with a KV cache, Switch router statistics; and the layers it is made of, each a plain function
 * with its tensor shapes in a comment (linear.c, layers.c, switch_mlp.c, forward.c, generate.c).
 *
 * Depends on kernels/, weights/, exec/, variants/ and common/.
 */
#ifndef SHAPEBENCH_RUNTIME_H
#define SHAPEBENCH_RUNTIME_H

#include "engine/kernels/kernels.h"
#include "engine/weights/weights.h"

typedef struct sb_runtime sb_runtime;

/* Router statistics of one sparse block for the last forward. */
typedef struct {
    sb_stack stack;
    int64_t block;
    int64_t tokens;          /* tokens routed (padding included) */
    int64_t dropped;         /* tokens over capacity: contribute 0 */
    const int64_t *per_expert; /* tokens kept per expert, num_experts entries */
} sb_router_stats;

/* Allocates every activation buffer for up to (batch, src_len, tgt_len) from sb_plan_activations, plus
 * the generation KV cache. Nothing is allocated after this. Every product runs in x, which must outlive the
 * runtime; w's layout must be the one x reads (sb_weights_layout_for). When x computes in bf16, w must be
 * stored in bf16: every linear layer's product is then bf16 (the router's stays fp32); fp32 products accept
 * either storage. */
int sb_runtime_create(sb_runtime **out, sb_exec *x, const sb_weights *w, int64_t batch, int64_t src_len,
                      int64_t tgt_len, sb_error *err);
void sb_runtime_free(sb_runtime *rt);
size_t sb_runtime_activation_bytes(const sb_runtime *rt);

/* input_ids, attention_mask (batch, src_len) int32 (mask NULL: all ones) -> encoder output
 * (batch, src_len, d_model), kept in the runtime for the decoder. */
int sb_encode(sb_runtime *rt, int64_t batch, int64_t src_len, const int32_t *input_ids,
              const int32_t *attention_mask, sb_error *err);
/* Teacher-forced decoder over decoder_input_ids (batch, tgt_len) against the last encoder output ->
 * logits (batch, tgt_len, vocab). */
int sb_decode(sb_runtime *rt, int64_t tgt_len, const int32_t *decoder_input_ids, sb_error *err);
const float *sb_encoder_output(const sb_runtime *rt);   /* (batch, src_len, d_model) */
const float *sb_logits(const sb_runtime *rt);           /* (batch, tgt_len, vocab) */
/* Mean cross-entropy of the last logits over labels (batch, tgt_len), -100 ignored. */
double sb_cross_entropy(const sb_runtime *rt, const int32_t *labels);

/* Incremental greedy generation for batch row 0 after sb_encode: self-attention KV cache, cross K/V
 * computed once. Writes up to max_new_tokens ids (stops after eos) and returns how many, or -1. When
 * step_seconds is not NULL it receives the wall time of each step. */
int64_t sb_generate_greedy(sb_runtime *rt, int64_t max_new_tokens, int32_t *out_ids, double *step_seconds,
                           sb_error *err);
/* After sb_generate_greedy, sb_logits holds the last step's logits (1, vocab); Switch statistics of the
 * decoder describe that step. */

size_t sb_router_stats_count(const sb_runtime *rt);
const sb_router_stats *sb_router_stats_get(const sb_runtime *rt, size_t index);

/* Routing of one sparse block in the forward that is running (arrays of `tokens` = batch * len entries). */
typedef struct {
    sb_stack stack;
    int64_t block;
    int64_t tokens, num_experts;
    const float *logits;   /* (tokens, num_experts) router logits, fp32 */
    const float *gate;     /* (tokens) max softmax probability: the factor on the expert output */
    const int32_t *choice; /* (tokens) argmax expert, before capacity */
    const int32_t *slot;   /* (tokens) row among the kept tokens, -1 when dropped */
} sb_router_trace;

/* Optional observer of a forward's intermediate values (parity tests, the forward command). Callbacks
 * run synchronously; the pointers are valid only during the call. hidden: index i < num_blocks is the
 * input of block i (0: the embedding output), i == num_blocks the output of the final RMSNorm, as
 * (batch, len, d_model). Either callback may be NULL. */
typedef struct {
    void (*hidden)(void *ctx, sb_stack stack, int64_t index, const float *h, int64_t tokens, int64_t d_model);
    void (*router)(void *ctx, const sb_router_trace *trace);
    void *ctx;
} sb_observer;
/* observer NULL: none (the default). Generation steps are not observed. */
void sb_runtime_observe(sb_runtime *rt, const sb_observer *observer);

/* ---- the runtime's state, for runtime/'s own files ------------------------------------------------- */

struct sb_runtime {
    sb_exec *x;       /* every product and the profile (borrowed: the caller's) */
    const sb_weights *w;
    const sb_config *cfg;
    int64_t max_batch, max_src, max_tgt;
    sb_activation_plan plan;
    void *arena; /* every activation buffer of the plan, carved below (sb_pages_alloc) */
    size_t arena_bytes, kv_cache_bytes;
    float *hidden, *normed, *encoder_output, *mask, *qkv, *context, *scores, *row_scale, *position_bias, *ffn_hidden,
        *router, *expert_in, *expert_out, *logits;
    int32_t *choice, *slot;              /* per token: chosen expert, row in expert_in or -1 (dropped) */
    int32_t *expert_offset, *expert_fill; /* per expert: first row in expert_in (E+1), running counters */
    int64_t *kept_counts;                /* per sparse block: E kept counts, behind its router stats */
    float *weight_scratch;               /* bf16 storage: one weight matrix (or a row block) in fp32 */
    int64_t weight_scratch_floats;
    float *kv_cache; /* generation, batch row 0: per decoder block self [K|V] rows (max_tgt), then cross (max_src);
                      * sb_pages_alloc */
    sb_stack_weights encoder, decoder;
    const sb_tensor *shared, *lm_head;
    sb_router_stats *stats;             /* one per sparse block, encoder blocks first */
    size_t num_stats;
    sb_router_stats **block_stats[2];   /* [stack][block]: that block's statistics, NULL for dense blocks */
    sb_observer observer;
    int64_t batch, src_len, tgt_len; /* of the last sb_encode / sb_decode; src_len 0 before any encode */
};

/* The tensor as fp32: its storage under f32, else converted into the weight scratch (valid until the next
 * call). Only for tensors that fit the scratch (all but the vocabulary tables). */
const float *sb_weight_f32(sb_runtime *rt, const sb_tensor *t);
/* A pass's entry and exit (sb_encode, sb_decode, sb_generate_greedy): begin enters the execution context and
 * refuses pre-packed weights on a backend other than oneDNN; end returns the first failure of the pass's
 * products (-1), else 0. */
int sb_pass_begin(sb_runtime *rt, sb_error *err);
int sb_pass_end(sb_runtime *rt, sb_error *err);
// inp (N,C), weight (OC,C) -> out (N,OC) with row stride ldo, = alpha * inp·weightᵀ + beta * out (linear.c)
void sb_linear_forward(sb_runtime *rt, float *out, int64_t ldo, const float *inp, int64_t n, const sb_tensor *weight,
                       float alpha, float beta);
/* The same as an fp32 product whatever the context computes in (the Switch router); weight in HF layout. */
void sb_linear_forward_f32(sb_runtime *rt, float *out, int64_t ldo, const float *inp, int64_t n,
                           const sb_tensor *weight, float alpha, float beta);

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

// hidden (B*len, d_model) -> hidden: one T5 block (self-attention, cross-attention in the decoder, FFN or
// Switch MLP), each sublayer pre-norm residual; uses rt->position_bias of the stack and rt->mask
void sb_block_forward(sb_runtime *rt, const sb_stack_weights *sw, int64_t block, int64_t batch, int64_t len,
                      const sb_kv *kv);
// inp (N,C), weights[count] each (OC,C) -> out (N, ldo), columns j*OC.. = inp·weights[j]ᵀ; one GEMM when
// the tensors are adjacent fp32 storage
void sb_projection_forward(sb_runtime *rt, float *out, int64_t ldo, const float *inp, int64_t n,
                           const sb_tensor *const *weights, int count);

/* ---- layers (layers.c) ---------------------------------------------------------------------------------- */

// ids (N) -> out (N,C) rows of the embedding table; ids already checked against the vocabulary
void sb_embedding_forward(sb_runtime *rt, float *out, const int32_t *ids, int64_t n);
// q (B*lq, ldq), k, v (B*lk, ldkv) with H heads of d_kv columns, bias diagonals (H, lq+lk-1) or NULL, mask
// (B,lk) additive or NULL -> context (B*lq, ldc): per (batch, head) softmax(q kᵀ + bias + mask) v, unscaled
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

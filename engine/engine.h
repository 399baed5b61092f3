/* engine.h — what the engine/ module offers: running any shape variants/ can name.
 *
 *   - weights: every parameter in one contiguous arena with a table of named tensors (HF names), fp32 or
 *     bf16 storage, deterministic T5 init, Hugging Face checkpoint (config.json + model.safetensors) I/O;
 *   - one GEMM wrapper (OpenBLAS or oneDNN) that tallies the FLOPs it executes;
 *   - a runtime: activations sized up front for (batch, src_len, tgt_len), encoder, teacher-forced
 *     decoder, logits, cross-entropy, incremental greedy generation with a KV cache, Switch router stats.
 *
 * Depends on variants/ (sb_config, sb_error, sb_plan_activations). Computation is fp32 throughout.
 */
#ifndef SHAPEBENCH_ENGINE_H
#define SHAPEBENCH_ENGINE_H

#include "variants/variants.h"

#include <stdio.h>

/* ---- GEMM ------------------------------------------------------------------------------------------ */

typedef enum { SB_GEMM_OPENBLAS = 0, SB_GEMM_ONEDNN = 1 } sb_gemm_backend;

/* Selects the backend for every later GEMM (process-wide) and the thread count of BLAS and the engine's
 * OpenMP loops (one pool; threads <= 0 keeps the current count). */
int sb_gemm_configure(sb_gemm_backend backend, int threads, sb_error *err);
sb_gemm_backend sb_gemm_current(void);
const char *sb_gemm_backend_name(sb_gemm_backend backend); /* "openblas" | "onednn" */
int sb_gemm_parse_backend(const char *name, sb_gemm_backend *out, sb_error *err);
/* "OpenBLAS 0.3.21 core=Haswell threads=2" / "oneDNN 2.6.3": for result records. */
const char *sb_gemm_backend_version(sb_gemm_backend backend);
int sb_gemm_threads(void);

/* Row-major C (m,n) = alpha * op(A) (m,k) · op(B) (k,n) + beta * C, op = transpose when trans_*.
 * lda/ldb/ldc are row strides. Adds 2*m*n*k to the FLOP tally. */
void sb_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
             int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc);
/* Executed-FLOP tally since the last reset (all threads). */
int64_t sb_gemm_flops(void);
void sb_gemm_reset_flops(void);

/* One distinct GEMM shape seen while recording, so the benchmark can time the backend on exactly the
 * work a forward ran. in_parallel: called from inside the engine's OpenMP loop (attention per head), where
 * each thread runs its own single-threaded GEMM. */
typedef struct {
    bool trans_a, trans_b;
    int64_t m, n, k;
    bool in_parallel;
    int64_t calls;
} sb_gemm_shape;
/* Starts recording distinct shapes of later sb_gemm calls into shapes[capacity] (NULL stops). */
void sb_gemm_record(sb_gemm_shape *shapes, size_t capacity);
/* Distinct shapes seen since recording started; more than capacity means some were not stored. */
size_t sb_gemm_recorded(void);

/* ---- weights ---------------------------------------------------------------------------------------- */

/* Tensor names follow Hugging Face (T5ForConditionalGeneration, SwitchTransformersForConditionalGeneration):
 *   shared.weight                                                     (vocab, d_model)
 *   {encoder,decoder}.block.<i>.layer.0.SelfAttention.{q,k,v}.weight  (H*d_kv, d_model); o: (d_model, H*d_kv)
 *   {encoder,decoder}.block.0.layer.0.SelfAttention.relative_attention_bias.weight  (num_buckets, H)
 *   decoder.block.<i>.layer.1.EncDecAttention.{q,k,v,o}.weight
 *   <block>.layer.<n>.layer_norm.weight                               (d_model)
 *   dense FFN:  <block>.layer.<n>.DenseReluDense.{wi | wi_0,wi_1}.weight (d_ff, d_model), .wo.weight
 *               (d_model, d_ff); in a Switch model the dense FFN is `mlp.` instead of `DenseReluDense.`
 *   sparse:     <block>.layer.<n>.mlp.router.classifier.weight (E, d_model), and per expert
 *               <block>.layer.<n>.mlp.experts.expert_<e>.{wi | wi_0,wi_1}.weight, .wo.weight
 *   {encoder,decoder}.final_layer_norm.weight; lm_head.weight (vocab, d_model) only when untied
 * (n = 1 in encoder blocks, 2 in decoder blocks). shared_kv, which HF cannot express, replaces k and v of
 * every attention (self and cross) by one `kv.weight` (H*d_kv, d_model) whose output serves as both. */
typedef struct {
    char name[128];     /* HF name, e.g. "encoder.block.0.layer.0.SelfAttention.q.weight" */
    int ndim;           /* 1 or 2 */
    int64_t shape[2];   /* HF layout: linear weights (out_features, in_features) */
    int64_t numel;
    size_t offset;      /* in elements from the arena start; every tensor starts 64-byte aligned */
    double init_std;    /* T5 init N(0, init_std^2); 0 for RMSNorm weights, which start at initializer_factor */
} sb_tensor;

typedef struct {
    sb_config cfg;
    sb_dtype dtype;      /* storage of every tensor in the arena */
    void *arena;         /* one contiguous block, 64-byte aligned */
    size_t arena_bytes;
    sb_tensor *tensors;  /* table in HF order (the order of named_parameters()) */
    size_t num_tensors;
    const sb_tensor **by_name; /* the table sorted by name, for sb_weights_find */
} sb_weights;

/* Bytes this process can still allocate: MemAvailable, capped by the cgroup memory limit when lower. */
int64_t sb_memory_available_bytes(void);

/* Builds the tensor table for cfg (every tensor HF's model has, lm_head only when untied) and allocates
 * the arena, refusing before allocating when it would not fit in available memory. Contents are zero. */
int sb_weights_alloc(sb_weights *w, const sb_config *cfg, sb_dtype dtype, sb_error *err);
void sb_weights_free(sb_weights *w);
/* NULL when cfg has no such tensor. O(log n). */
const sb_tensor *sb_weights_find(const sb_weights *w, const char *name);
/* Start of a tensor's storage (arena dtype). */
void *sb_tensor_data(const sb_weights *w, const sb_tensor *t);
/* T5's init scheme (semantics.md), deterministic for a seed, independent of thread count. */
void sb_weights_init_random(sb_weights *w, uint64_t seed);

/* Storage conversions. bf16 and f16 are IEEE bit patterns; f32 -> bf16 rounds to nearest even (NaN stays
 * NaN, overflow gives inf). */
float sb_bf16_to_f32(uint16_t bits);
uint16_t sb_f32_to_bf16(float value);
float sb_f16_to_f32(uint16_t bits);
/* n elements stored as `dtype` to fp32, and back (bf16 rounds to nearest even). */
void sb_dtype_to_f32(sb_dtype dtype, const void *src, float *dst, int64_t n);
void sb_dtype_from_f32(sb_dtype dtype, const float *src, void *dst, int64_t n);

/* model.safetensors alone. Reading fills every tensor of w's table from the file (F32/BF16/F16, converted
 * to the arena dtype) after validating the whole header against the file and the table; HF's tied aliases
 * (encoder/decoder.embed_tokens.weight, and lm_head.weight when tied) stand in for shared.weight. Writing
 * streams w's tensors in the arena dtype with __metadata__ {"format": "pt"}. */
int sb_safetensors_read(const char *path, sb_weights *w, sb_warn_fn warn, void *warn_ctx, sb_error *err);
int sb_safetensors_write(const sb_weights *w, FILE *out, sb_error *err);

/* Hugging Face checkpoint folder: config.json + model.safetensors (F32/BF16/F16 tensors, tied or untied).
 * Everything in the safetensors header is validated against the file and the config before use. The
 * weights are stored as `dtype` whatever the file holds. */
int sb_checkpoint_load(const char *dir, sb_dtype dtype, sb_weights *out, sb_warn_fn warn, void *warn_ctx,
                       sb_error *err);
/* Writes config.json + model.safetensors (tensors in the arena's dtype) into dir (created if missing). */
int sb_checkpoint_save(const sb_weights *w, const char *dir, sb_error *err);

/* Resolves `model` as a checkpoint folder when it is a directory holding model.safetensors, otherwise as
 * a spec for sb_config_resolve with random weights from `seed`. */
int sb_model_open(const char *model, sb_dtype dtype, uint64_t seed, sb_weights *out, sb_warn_fn warn,
                  void *warn_ctx, sb_error *err);

/* ---- runtime ---------------------------------------------------------------------------------------- */

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
 * the generation KV cache. Nothing is allocated after this. */
int sb_runtime_create(sb_runtime **out, const sb_weights *w, int64_t batch, int64_t src_len, int64_t tgt_len,
                      sb_error *err);
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

/* T5's relative position bucket of rel = key_pos - query_pos: bidirectional (encoder) or causal
 * (decoder), logarithmic beyond num_buckets/4 (or /2) up to max_distance, computed in float32 as HF does. */
int64_t sb_relative_bucket(int64_t rel, bool bidirectional, int64_t num_buckets, int64_t max_distance);

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

#endif

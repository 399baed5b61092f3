/* engine.h — what the engine/ module offers: running any shape variants/ can name.
 *
 *   - weights: every parameter in one contiguous arena with a table of named tensors (HF names), fp32 or
 *     bf16 storage, deterministic T5 init, Hugging Face checkpoint (config.json + model.safetensors) I/O;
 *   - one GEMM wrapper (OpenBLAS or oneDNN, on oneDNN with weights pre-packed for its matmul) that tallies
 *     the FLOPs it executes;
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
/* Width in bits of the vector registers the backend's sgemm kernel computes in: OpenBLAS by the core whose
 * kernels it runs (Haswell and Zen: 256; SkylakeX, Cooperlake, SapphireRapids: 512), oneDNN by its
 * effective ISA (AVX-512: 512, AVX2: 256); 0 when not known. The FMA rate at that width bounds the kernel. */
int sb_gemm_vector_bits(sb_gemm_backend backend);

/* Row-major C (m,n) = alpha * op(A) (m,k) · op(B) (k,n) + beta * C, op = transpose when trans_*.
 * lda/ldb/ldc are row strides. Adds 2*m*n*k to the FLOP tally. */
void sb_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
             int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc);
/* Outside a parallel region sb_gemm splits C into one block per thread, each a single-threaded backend
 * call (the default); off, the backend threads the product itself. For the benchmark's comparison. */
void sb_gemm_set_partitioned(bool partitioned);
bool sb_gemm_partitioned(void);
/* Weights pre-packed for oneDNN's matmul. dnnl_sgemm, like every BLAS sgemm, re-packs its B operand (the
 * weights) on every call; oneDNN's matmul primitive can instead read weights already laid out in its own
 * blocked format (on AVX-512, 16 input x 64 output features per block), so a weight used by every forward is
 * re-laid once. A weight (oc, c) is packable when that layout differs from the plain one, has the same size
 * (no padding: the packed weight fits in place) and keeps each block of output features in the bytes of
 * those rows (so adjacent packed weights are the packed form of their concatenation, as q, k, v are used).
 * Needs oneDNN; false wherever its matmul keeps the plain layout (e.g. without AVX-512). */
bool sb_gemm_packable(int64_t oc, int64_t c);
/* Re-lays a packable weight (oc, c) in place, into the packed layout and back (bit for bit), through
 * scratch of oc * c floats. */
int sb_gemm_pack(int64_t oc, int64_t c, float *weight, float *scratch, sb_error *err);
int sb_gemm_unpack(int64_t oc, int64_t c, float *weight, float *scratch, sb_error *err);
/* Row-major C (m,n) = alpha * A (m,k) · Wᵀ + beta * C for a weight W (n,k) packed by sb_gemm_pack, on
 * oneDNN's matmul (threaded by oneDNN; one primitive per shape, created on first use and cached). Adds
 * 2*m*n*k to the FLOP tally and is recorded with packed_b set. Fails only when oneDNN does (no memory, or
 * no implementation for the layout). */
int sb_gemm_packed(int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda, const float *packed_w,
                   float beta, float *c, int64_t ldc, sb_error *err);

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
    bool packed_b; /* sb_gemm_packed: B is a pre-packed weight (trans_b) */
    int64_t calls;
} sb_gemm_shape;
/* Starts recording distinct shapes of later sb_gemm calls into shapes[capacity] (NULL stops). */
void sb_gemm_record(sb_gemm_shape *shapes, size_t capacity);
/* Distinct shapes seen since recording started; more than capacity means some were not stored. */
size_t sb_gemm_recorded(void);

/* ---- where the time goes (profile.c) ----------------------------------------------------------------- */

/* Each op class (variants.h: sb_op_class) is timed as the region that does its work: projections (q, k, v, o
 * and the cross K/V), the attention core (QKᵀ, bias, mask, softmax, ·V, per head), the FFN (or a Switch
 * layer's experts with their dispatch and combine), the router (its GEMM and the top-1 routing), the LM head
 * GEMM. Norms, residuals, embeddings and the position bias belong to none. */
/* Totals of the runtime's forward work (encode, decode, generate; not the trainer's) since the last reset. */
typedef struct {
    double op_seconds[SB_OP_CLASSES]; /* wall seconds inside each op class's regions */
    int64_t op_flops[SB_OP_CLASSES];  /* GEMM FLOPs executed there */
    /* Per sb_stack, inside the loop over the stack's blocks (generation: also the cross K/V projection,
     * once per block): the part of a stack's time that grows with its depth. */
    double block_seconds[2];
    int64_t block_flops[2];
    double step_block_seconds; /* of block_seconds[SB_STACK_DECODER], the part inside generation steps */
} sb_profile;
void sb_profile_reset(void);
sb_profile sb_profile_get(void);
/* Monotonic wall clock in seconds. */
double sb_now_seconds(void);

/* ---- large buffers (pages.c) ----------------------------------------------------------------------------- */

/* Zeroed, page-aligned memory with transparent huge pages requested, for the engine's arenas (weights,
 * activations, KV cache, gradients) and for anything timed against them (the peaks, the benchmark's GEMM
 * replay), so that both sides run on the same pages. NULL when the mapping fails; freed with its size. */
void *sb_pages_alloc(size_t bytes);
void sb_pages_free(void *p, size_t bytes);

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
    bool packed;        /* stored in oneDNN's matmul layout (sb_weights_pack), not HF's */
} sb_tensor;

typedef struct {
    sb_config cfg;
    sb_dtype dtype;      /* storage of every tensor in the arena */
    void *arena;         /* one contiguous block, 64-byte aligned */
    size_t arena_bytes;
    sb_tensor *tensors;  /* table in HF order (the order of named_parameters()) */
    size_t num_tensors;
    const sb_tensor **by_name; /* the table sorted by name, for sb_weights_find */
    size_t num_packed;   /* tensors now in oneDNN's matmul layout (sb_weights_pack) */
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

/* Pre-packing for oneDNN (see sb_gemm_packable). sb_weights_pack re-lays, in place, every linear weight of
 * fp32 storage that is packable: attention q, k, v (or kv), o, the FFN's or each Switch expert's wi (wi_0,
 * wi_1) and wo, an untied lm_head. Routers (a handful of outputs), the shared embedding (also read row by
 * row), position-bias tables and norms keep HF layout, as does bf16 storage.
 * Memory is unchanged (one packable tensor of scratch while it runs). While any tensor is packed,
 * sb_tensor_data of it is not HF layout: the OpenBLAS forward, the trainer, the optimizer and checkpoint
 * writes refuse the weights until sb_weights_unpack restores HF layout bit for bit. Loading or initialising
 * tensors leaves them in HF layout. sb_weights_layout_for: packed for inference on oneDNN, HF layout for
 * OpenBLAS. */
int sb_weights_pack(sb_weights *w, sb_error *err);
int sb_weights_unpack(sb_weights *w, sb_error *err);
int sb_weights_layout_for(sb_weights *w, sb_gemm_backend backend, sb_error *err);
/* Whether sb_weights_layout_for pre-packs for oneDNN (the default); off, it leaves HF layout everywhere and
 * oneDNN runs every product through dnnl_sgemm, as before pre-packing. For the benchmark's comparison. */
void sb_weights_set_prepack(bool prepack);
bool sb_weights_prepack(void);
/* The error every consumer that needs HF layout gives for packed weights (-1), else 0. */
int sb_weights_require_plain(const sb_weights *w, const char *what, sb_error *err);

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

/* ---- optimizer ---------------------------------------------------------------------------------------- */

/* Training optimizers over the weight arena (fp32 storage only). Gradients come as one float array laid out
 * like the arena: grads[t->offset + i] is the gradient of element i of tensor t, w->arena_bytes / 4 floats
 * in all (padding between tensors ignored). Every reduction (parameter and update RMS, factored row/column
 * means, the gradient norm) runs over fixed blocks of a tensor summed in a fixed order in double, so
 * results are bitwise identical whatever the thread count. Tensors of 32768 elements or more are split
 * across the OpenMP threads; smaller ones run on the calling thread. */
typedef enum { SB_OPTIM_ADAFACTOR = 0, SB_OPTIM_ADAMW = 1 } sb_optim_kind;

/*   Adafactor — Hugging Face transformers.optimization.Adafactor (Shazeer & Stern 2018), T5's optimizer.
 *     lr <= 0: relative step (relative_step=True): step size min(1e-2, 1/sqrt(step)) (warmup_init:
 *     min(1e-6 * step, 1/sqrt(step))), T5's inverse-square-root schedule with 10k warmup built in; lr > 0:
 *     that external learning rate (relative_step=False). Either is multiplied by max(eps_scale, RMS(param))
 *     when scale_parameter. Second moments are factored (one running mean per row and per column) for every
 *     2-D tensor, every Switch expert matrix, router and position-bias table included, and kept whole for
 *     1-D ones; beta2_t = 1 - step^decay_rate; the update is divided by max(1, RMS(update) /
 *     clip_threshold); beta1 > 0 adds a first moment over the scaled update (numel more floats; T5: none);
 *     weight_decay: p -= weight_decay * step_size * p. eps = eps[0] (added to squared gradients),
 *     eps_scale = eps[1]. beta2 is unused.
 *   AdamW — torch.optim.AdamW (amsgrad=False): p *= 1 - lr * weight_decay; m, v running means with
 *     betas (beta1, beta2); p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps).
 * sb_optim_defaults gives T5's Adafactor (lr 0, beta1 0, eps 1e-30, eps_scale 1e-3, clip_threshold 1,
 * decay_rate -0.8, weight_decay 0, scale_parameter, no warmup_init) and torch's AdamW (lr 1e-3, betas
 * 0.9 / 0.999, eps 1e-8, weight_decay 1e-2). */
typedef struct {
    sb_optim_kind kind;
    double lr;              /* the learning rate when a step passes SB_OPTIM_LR_DEFAULT; Adafactor <= 0: relative */
    double beta1;           /* AdamW first-moment decay; Adafactor momentum, 0 = none */
    double beta2;           /* AdamW second-moment decay */
    double eps;             /* AdamW denominator epsilon; Adafactor eps[0] */
    double weight_decay;
    double eps_scale;       /* Adafactor eps[1]: floor of RMS(param) in the step size */
    double clip_threshold;  /* Adafactor update clipping */
    double decay_rate;      /* Adafactor: beta2_t = 1 - step^decay_rate (<= 0) */
    bool scale_parameter;   /* Adafactor: step size times max(eps_scale, RMS(param)) */
    bool warmup_init;       /* Adafactor relative step: min(1e-6 * step, 1/sqrt(step)) */
} sb_optim_settings;

typedef struct sb_optimizer sb_optimizer;

/* Pass as a step's lr to use settings.lr (and, for relative-step Adafactor, its own step size). */
#define SB_OPTIM_LR_DEFAULT (-1.0)

void sb_optim_defaults(sb_optim_kind kind, sb_optim_settings *out);
const char *sb_optim_name(sb_optim_kind kind); /* "adafactor" | "adamw" */
int sb_optim_parse(const char *name, sb_optim_kind *out, sb_error *err);

/* Validates the settings and allocates the whole state, zeroed, for w's tensor table (refused when it
 * would not fit in available memory). Nothing is allocated by later steps. */
int sb_optimizer_create(sb_optimizer **out, const sb_weights *w, const sb_optim_settings *settings, sb_error *err);
void sb_optimizer_free(sb_optimizer *opt);
/* One step over every tensor of w (the weights the optimizer was created for) with `grads` laid out like
 * the arena. lr >= 0: this step's learning rate (a schedule's value; refused by relative-step Adafactor,
 * as Hugging Face refuses lr with relative_step); SB_OPTIM_LR_DEFAULT (any negative): settings.lr. The
 * step counter is internal and starts at 1. grads is not modified. */
int sb_optimizer_step(sb_optimizer *opt, sb_weights *w, const float *grads, double lr, sb_error *err);
int64_t sb_optimizer_steps(const sb_optimizer *opt);   /* steps taken */
/* The learning rate of the last step before parameter scaling (relative Adafactor: min(1e-2, 1/sqrt(t))). */
double sb_optimizer_last_lr(const sb_optimizer *opt);
/* Bytes of optimizer state (moments): equals sb_count's memory_bytes.optimizer_adafactor (Adafactor with
 * beta1 = 0) or optimizer_adamw for the same config. */
size_t sb_optimizer_state_bytes(const sb_optimizer *opt);
/* Bytes of step scratch besides the state (column partial sums of the largest factored tensor). */
size_t sb_optimizer_workspace_bytes(const sb_optimizer *opt);

/* Global L2 norm of every tensor's gradient, as torch.nn.utils.clip_grad_norm_: when max_norm > 0 and
 * max_norm / (norm + 1e-6) < 1, every gradient is multiplied by that factor. Returns the norm before
 * clipping; a non-finite norm is returned with the gradients untouched (skip the step). */
double sb_grad_clip_norm(float *grads, const sb_weights *w, double max_norm);

/* Learning-rate schedules; step counts from 1 (the step about to be taken). */
typedef enum { SB_LR_CONSTANT = 0, SB_LR_INVERSE_SQRT = 1 } sb_lr_schedule;
/* T5's: base / sqrt(max(step, warmup_steps, 1)), constant during warmup. base 1, warmup 10^4 gives
 * min(1e-2, 1/sqrt(step)), relative-step Adafactor's step size. */
double sb_lr_inverse_sqrt(int64_t step, int64_t warmup_steps, double base);
/* constant: base; inverse_sqrt: sb_lr_inverse_sqrt. */
double sb_lr_at(sb_lr_schedule schedule, int64_t step, int64_t warmup_steps, double base);
const char *sb_lr_schedule_name(sb_lr_schedule schedule); /* "constant" | "inverse_sqrt" */
int sb_lr_schedule_parse(const char *name, sb_lr_schedule *out, sb_error *err);

/* ---- training ---------------------------------------------------------------------------------------- */

/* One training step: encoder + teacher-forced decoder forward keeping every activation the backward needs
 * (one arena sized up front by sb_plan_train_activations, equal to count's activations_train), the loss,
 * and the gradient of every parameter. Semantics of Hugging Face T5 / SwitchTransformers training:
 *   - dropout (training only) where HF applies it: embedding output, attention probabilities, each
 *     sublayer's output before its residual add, the FFN activation (experts' too), the final RMSNorm
 *     output of each stack; torch's inverted scaling 1 / (1 - rate). Masks come from a counter-based RNG
 *     (seed, stream, site, element): deterministic, thread-count independent, regenerated in the backward.
 *   - Switch: fp32 router, top-1, gate = max probability times the expert output; the first `capacity`
 *     tokens per sequence and expert kept, dropped tokens contribute 0 (the residual passes them on; no
 *     gradient reaches the experts or the gate for them). In training the router input is multiplied by
 *     U(1 - router_jitter_noise, 1 + router_jitter_noise) (the router's only, as the paper / T5X).
 *   - losses: cross_entropy = mean over labels != -100 (CrossEntropyLoss); per stack with sparse blocks,
 *     HF concatenates the blocks' router logits along the sequence: z = mean over blocks and tokens of
 *     logsumexp(logits)^2, load balancing = E^2 * mean over (sequence, expert) of f * P, f = fraction of the
 *     sequence's routed tokens (all its sparse blocks together, padding included) whose expert index is e,
 *     P = mean router probability of e; HF's expert index is the capacity-masked argmax, so a dropped token
 *     counts as expert 0 (lb_choice_before_capacity: the router's choice instead, as the paper). z_loss and
 *     load_balancing_loss are the encoder's plus the decoder's; total = cross_entropy + z_coef * z_loss +
 *     aux_coef * load_balancing_loss. (HF v4.40.2 skips a stack whose sparse step is 1; shapebench does
 *     not.)
 * Weights must be fp32 storage; the trainer reads them at every step, so an optimizer may update them in
 * place between steps. */
typedef struct sb_trainer sb_trainer;

typedef struct {
    double dropout_rate;         /* < 0: 0.1, T5's and Switch's dropout_rate (sb_config has no such key) */
    uint64_t dropout_seed;       /* with the stream (one per training call) and the site: every mask */
    double router_z_loss_coef;   /* < 0: the config's (HF default 0.001) */
    double router_aux_loss_coef; /* < 0: the config's (HF default 0.001) */
    bool lb_choice_before_capacity; /* load balancing counts the router's choice, not HF's masked index */
} sb_trainer_options;

/* dropout_rate, router coefficients -1 (the defaults above), seed 0, HF's load-balancing mask. */
void sb_trainer_options_default(sb_trainer_options *out);

/* Trainer for exactly (batch, src_len, tgt_len); options NULL: the defaults. Allocates the activation arena
 * and the gradient array (w->arena_bytes / 4 floats); nothing is allocated by later calls. Fails for bf16
 * weights and when the memory is not available. */
int sb_trainer_create(sb_trainer **out, const sb_weights *w, int64_t batch, int64_t src_len, int64_t tgt_len,
                      const sb_trainer_options *options, sb_error *err);
void sb_trainer_free(sb_trainer *t);

typedef struct {
    const int32_t *input_ids;         /* (batch, src_len) */
    const int32_t *attention_mask;    /* (batch, src_len), 0 = padding; NULL: all ones */
    const int32_t *decoder_input_ids; /* (batch, tgt_len) */
    const int32_t *labels;            /* (batch, tgt_len), -100 ignored; at least one not ignored */
} sb_train_batch;

typedef struct {
    double cross_entropy;       /* mean over the counted labels */
    double z_loss;              /* Switch router z-loss, encoder + decoder (0 for dense models) */
    double load_balancing_loss; /* Switch load-balancing loss, encoder + decoder (0 for dense models) */
    double total;               /* cross_entropy + z_coef * z_loss + aux_coef * load_balancing_loss */
    int64_t label_tokens;       /* labels counted */
} sb_train_losses;

/* Forward + backward. training: dropout and router jitter on (each such call draws from the current
 * dropout stream, then advances it). Gradients of `total` overwrite the gradient array, or add to it when
 * accumulate (gradient accumulation: the caller scales). */
int sb_trainer_step(sb_trainer *t, const sb_train_batch *batch, bool training, bool accumulate, sb_train_losses *out,
                    sb_error *err);
/* The forward and the losses only (evaluation, finite differences); gradients untouched. */
int sb_trainer_loss(sb_trainer *t, const sb_train_batch *batch, bool training, sb_train_losses *out, sb_error *err);

/* Gradients laid out like the weight arena: grads[tensor->offset + i] is the gradient of element i of the
 * tensor (padding between tensors 0), sb_trainer_grad_floats() = w->arena_bytes / 4 floats. The mutable
 * view is for in-place clipping (sb_grad_clip_norm). */
const float *sb_trainer_grads(const sb_trainer *t);
float *sb_trainer_grads_mutable(sb_trainer *t);
size_t sb_trainer_grad_floats(const sb_trainer *t);
/* (batch, tgt_len, vocab) logits of the last sb_trainer_loss (sb_trainer_step turns them into their
 * gradient). */
const float *sb_trainer_logits(const sb_trainer *t);
/* sb_plan_train_activations(...).total_bytes: the activation arena allocated. */
size_t sb_trainer_activation_bytes(const sb_trainer *t);
/* The dropout rate in use, and the stream the next training call draws its masks from (set it to replay a
 * step's masks exactly). */
double sb_trainer_dropout_rate(const sb_trainer *t);
void sb_trainer_set_dropout_stream(sb_trainer *t, uint64_t stream);
uint64_t sb_trainer_dropout_stream(const sb_trainer *t);

/* Routing of sparse block `index` (encoder blocks first, in order) in the last forward; -1 past the last. */
typedef struct {
    sb_stack stack;
    int64_t block;
    int64_t tokens, kept;  /* batch * len tokens routed; kept within capacity */
    const int32_t *choice; /* (tokens) argmax expert before capacity */
    const int32_t *slot;   /* (tokens) row among the kept tokens, -1 when dropped */
    const float *logits;   /* (tokens, E) router logits (after jitter when training) */
} sb_train_routing;
size_t sb_trainer_num_sparse(const sb_trainer *t);
int64_t sb_trainer_num_experts(const sb_trainer *t);
int sb_trainer_routing(const sb_trainer *t, size_t index, sb_train_routing *out);

#endif

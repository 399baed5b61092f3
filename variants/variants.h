/* variants.h — what the variants/ module offers: the shape of a T5 / T5-Efficient / Switch model.
 *
 *   - sb_config: every knob of a model shape (Hugging Face T5Config / SwitchTransformersConfig vocabulary);
 *   - name resolution: published T5-Efficient / Switch / T5 / T5 v1.1 names, any new T5-Efficient grammar
 *     combination, Switch versions of any shape, a Hugging Face config.json path, `:key=value` overrides;
 *   - HF-compatible config.json reading and writing;
 *   - exact analytic counts: parameters, FLOPs (paper and executed conventions), memory;
 *   - the deep-narrow vs wide pairing rule (matched sizes, one shape deeper and narrower than the other).
 *
 * Depends on common/ and cJSON. Errors are returned as values: every function that can fail returns 0 on
 * success and -1 on failure with a one-line message in *err.
 */
#ifndef SHAPEBENCH_VARIANTS_H
#define SHAPEBENCH_VARIANTS_H

#include "common/common.h"

#define SB_NAME_MAX 256
#define SB_SHAPE_ID_MAX (SB_NAME_MAX + 16) /* a name, '#' and 12 hex digits */

/* ---- the config ----------------------------------------------------------------------------------- */

typedef enum {
    SB_FFN_RELU = 0,       /* wo(relu(wi x)) */
    SB_FFN_GATED_GELU = 1, /* wo(gelu_tanh(wi_0 x) * wi_1 x) */
} sb_ffn_kind;

typedef enum { SB_STACK_ENCODER = 0, SB_STACK_DECODER = 1 } sb_stack;

typedef struct {
    char name[SB_NAME_MAX]; /* canonical name, e.g. "t5-efficient-base-nl24" (no google/ prefix) */
    int64_t vocab_size;
    int64_t d_model;
    int64_t d_ff;
    int64_t d_kv;               /* per head; the attention inner width is num_heads * d_kv */
    int64_t num_heads;
    int64_t num_layers;         /* encoder blocks */
    int64_t num_decoder_layers; /* decoder blocks */
    sb_ffn_kind ffn;            /* dense FFN */
    bool tie_word_embeddings;   /* tied: LM head is `shared`, decoder output scaled by d_model^-0.5 */
    int64_t relative_attention_num_buckets;
    int64_t relative_attention_max_distance;
    double layer_norm_epsilon;
    bool shared_kv; /* skv: one projection whose output serves as both keys and values */

    /* Switch (sparse MLP). num_experts == 0: dense model. */
    int64_t num_experts;
    int64_t encoder_sparse_step; /* block i sparse iff step == 1 or i % step == 1; 0: none */
    int64_t decoder_sparse_step;
    sb_ffn_kind expert_ffn;
    int64_t expert_capacity; /* tokens per expert per sequence (HF); 0: use capacity_factor */
    double capacity_factor;  /* capacity = round(capacity_factor * tokens_per_sequence / num_experts) */
    double router_z_loss_coef;
    double router_aux_loss_coef;
    double router_jitter_noise;

    int64_t pad_token_id;
    int64_t eos_token_id;
    int64_t decoder_start_token_id;
    double initializer_factor;
} sb_config;

/* T5 defaults (vocab 32128, 32 buckets, max distance 128, eps 1e-6, relu, tied, dense), t5-small dims. */
void sb_config_defaults(sb_config *cfg);

/* Every dimension positive and in range, every product the engine forms fits in int64, Switch knobs
 * consistent. Returns -1 naming the bad field. */
int sb_config_validate(const sb_config *cfg, sb_error *err);

/* Attention inner width num_heads * d_kv. */
int64_t sb_inner_dim(const sb_config *cfg);
/* Width of an attention [K|V] row: 2 * inner, or inner under shared_kv (one projection serves as both). */
int64_t sb_kv_width(const sb_config *cfg);
/* Every id of ids[n] in the vocabulary (ids NULL: missing); the error names `what` and the first bad one. */
int sb_check_ids(const sb_config *cfg, const int32_t *ids, int64_t n, const char *what, sb_error *err);
/* Whether block `block` (0-based) of a stack has a Switch sparse MLP instead of a dense FFN. */
bool sb_block_is_sparse(const sb_config *cfg, sb_stack stack, int64_t block);
int64_t sb_num_sparse_blocks(const sb_config *cfg, sb_stack stack);
/* Expert capacity for a sequence of `tokens_per_sequence` tokens (fixed, or from the capacity factor). */
int64_t sb_expert_capacity(const sb_config *cfg, int64_t tokens_per_sequence);

/* ---- names ---------------------------------------------------------------------------------------- */

/* Resolves a model spec into a validated config:
 *   [google/]t5-efficient-<size>[-<knob><value>...]   published registry row, else the name grammar
 *   [google/]switch-{base-8..256,large-128,xxl-128,c-2048}
 *   <any shape>+switch<E>[/step<N>]                    Switch version of a shape (default step 2)
 *   t5-small|base|large|3b|11b, t5-v1_1-small|base|large|xl|xxl
 *   path/to/config.json or a folder holding one
 *   any of these followed by ":key=value,key=value"    overrides (HF key names)
 * Unknown names fail with the nearest known name suggested; `sh` variants fail (semantics unpublished).
 * Warnings (unknown config.json keys, conflicting registry rows) go to `warn` when not NULL. */
int sb_config_resolve(const char *spec, sb_config *out, sb_warn_fn warn, void *warn_ctx, sb_error *err);

/* What identifies a shape in results (record keys, the `shape` field): its name when the name alone
 * resolves to exactly this shape (a registry row, the grammar, a Switch suffix, overrides of those);
 * otherwise — a config.json, or overrides on one — the name, '#' and 12 hex digits of a hash of the
 * resolved config, so two different shapes that share a name never share a key. */
void sb_config_identity(const sb_config *cfg, char out[SB_SHAPE_ID_MAX]);

/* What a model name says about its shape, for grouping results: its family ("t5-efficient", "switch",
 * "t5", "t5-v1_1" or "custom") and the axis it scales from its size's base shape ("base", "depth" for
 * nl/el/dl, "width" for dm/ff, "attention" for kv/nh/skv, "switch", or "other" for mixed knobs). */
const char *sb_shape_family(const char *name);
const char *sb_shape_scaling(const char *name);

/* ---- deep-narrow vs wide (pairs.c) ----------------------------------------------------------------- */

/* What the pairing rule reads of a shape: its blocks (encoder + decoder), widths and experts. */
typedef struct {
    double blocks, d_model, d_ff, experts;
} sb_body;

#define SB_MATCH_TOLERANCE 1.10 /* two sizes match when the larger is at most 10 % above the smaller */

sb_body sb_body_of(const sb_config *cfg);
/* a is the deeper-narrower one of two dense shapes: more blocks, no wider residual stream, and a narrower
 * d_model or d_ff than b. */
bool sb_deeper_narrower(const sb_body *a, const sb_body *b);
bool sb_sizes_matched(double a, double b);

typedef struct {
    size_t deep, wide; /* indices into the candidates */
} sb_pair;

/* Deep-narrow vs wide pairs among n shapes of the given sizes (params, or FLOPs): every (deep, wide) with deep
 * deeper-narrower than wide and sizes matched, taken in increasing size of the larger (then closer sizes,
 * then candidate order), each shape in at most one pair so that the pairs are independent evidence; at most
 * max pairs into out. */
int sb_deep_wide_pairs(const sb_body *bodies, const double *size, size_t n, size_t max, sb_pair *out, size_t *count,
                       sb_error *err);

/* A published checkpoint (registry row) with the evidence for its shape. */
typedef struct {
    const char *name;     /* hub name without org, e.g. "t5-efficient-tiny-nh8" */
    const char *org;      /* "google" or "NewT5SharedHeadsSharedKeyValues" */
    const char *family;   /* "t5-efficient", "switch", "t5", "t5-v1_1" */
    const char *evidence; /* config | file-size | name | conflict | (empty for non-T5-Efficient rows) */
    const char *notes;
    bool conflict;        /* published file size contradicts the name */
    bool unsupported;     /* sh variants: semantics unpublished, refused by sb_config_resolve */
} sb_registry_entry;

size_t sb_registry_count(void);
const sb_registry_entry *sb_registry_get(size_t index);

/* ---- config.json ---------------------------------------------------------------------------------- */

/* Parses a Hugging Face config.json (T5Config or SwitchTransformersConfig fields). Switch sparse-step keys
 * override computed ones, as HF does. Unknown keys produce a warning, never a failure. */
int sb_config_from_json(const char *text, size_t len, sb_config *out, sb_warn_fn warn, void *warn_ctx,
                        sb_error *err);
int sb_config_load_json_file(const char *path, sb_config *out, sb_warn_fn warn, void *warn_ctx, sb_error *err);
/* Serialises to an HF-compatible config.json (malloc'd, caller frees); parsing it back gives an equal
 * config, and serialising that gives identical text. NULL only on allocation failure. */
char *sb_config_to_json(const sb_config *cfg);

/* ---- counts --------------------------------------------------------------------------------------- */

typedef enum { SB_DTYPE_F32 = 0, SB_DTYPE_BF16 = 1 } sb_dtype;
int64_t sb_dtype_bytes(sb_dtype dtype);
const char *sb_dtype_name(sb_dtype dtype); /* "f32" | "bf16" */
int sb_dtype_parse(const char *name, sb_dtype *out, sb_error *err);

typedef struct {
    int64_t batch;
    int64_t src_len; /* encoder tokens per sequence */
    int64_t tgt_len; /* decoder tokens per sequence */
    sb_dtype dtype;  /* weight storage; activations are always fp32 */
} sb_count_settings;

/* FLOPs per component, 2 per multiply-add. */
typedef struct {
    int64_t attention_projections; /* q, k, v, o (k/v once under skv) */
    int64_t attention_scores;      /* QK^T and (executed only) the attention-weighted sum AV */
    int64_t ffn;                   /* dense FFN and Switch experts */
    int64_t router;                /* Switch router logits */
    int64_t lm_head;
    int64_t total;
} sb_flops;

typedef struct {
    int64_t params;               /* HF num_parameters(): tied table counted once */
    /* Minus every embedding table: shared, lm_head when untied, the relative position bias tables. For tied
     * models this is HF num_parameters(exclude_embeddings=True) (which keeps an untied lm_head). */
    int64_t params_nonembedding;
    int64_t params_active;        /* used per token: one expert per sparse block, router included (dense: params) */
    /* Switch paper Table 9 / Kaplan et al. convention: weight matmuls per token (encoder over src_len,
     * decoder, cross-attention K/V included, over tgt_len; one expert per token), QK^T once (encoder S*S,
     * decoder T*T, cross T*S), LM head over tgt_len; router and element-wise work excluded. */
    sb_flops flops_forward_paper;
    /* What the engine executes for encoder(src) + teacher-forced decoder(tgt): every GEMM the engine runs.
     * QK^T and AV in full (encoder S*S, decoder self T*T with the causal mask applied after, cross T*S),
     * cross-attention K/V over src_len tokens, router over every token, experts on kept tokens assuming
     * balanced routing (kept = min(N, num_experts * sb_expert_capacity(cfg, N)) per sequence and sparse
     * block, N = src_len in the encoder, tgt_len in the decoder), LM head over tgt_len. Element-wise work
     * (norms, softmax, bias, activation, gating) is not counted. */
    sb_flops flops_forward_executed;
    /* Forward + backward over the executed GEMMs: each GEMM C = A·B adds its two backward GEMMs (dA, dB) of
     * the same size, summed per GEMM (every operand needs its gradient: all weights train, and so does
     * `shared` below the first layer). */
    int64_t flops_train_step;
    struct {
        int64_t weights;             /* params * dtype bytes */
        /* incremental decoding of tgt_len tokens, fp32: per decoder layer self K and V over B*tgt_len and
         * cross K and V over B*src_len, inner wide (one tensor each under shared_kv) */
        int64_t kv_cache;
        int64_t activations_forward; /* sb_plan_activations(...).total_bytes: what the engine allocates */
        /* sb_plan_train_activations(...).total_bytes: the trainer's activation arena (what the backward keeps
         * from the forward plus its scratch), which sb_trainer_create allocates exactly. Gradients (one fp32
         * per parameter) and optimizer state are separate. */
        int64_t activations_train;
        /* T5 Adafactor without momentum, fp32: rows + cols for each 2-D matrix (every expert's own), n for
         * each vector (RMSNorm weights) */
        int64_t optimizer_adafactor;
        int64_t optimizer_adamw;     /* two fp32 moments per parameter */
    } memory_bytes;
} sb_counts;

/* Validates cfg; fails when batch, src_len or tgt_len is below 1 or when any figure overflows int64. */
int sb_count(const sb_config *cfg, const sb_count_settings *settings, sb_counts *out, sb_error *err);
/* JSON text of sb_count's result with the config name, the settings and a `conventions` object naming each
 * figure's convention; integers are exact even past 2^53. malloc'd: free() it; NULL on allocation failure. */
char *sb_counts_to_json(const sb_config *cfg, const sb_count_settings *settings, const sb_counts *counts);

/* ---- memory traffic (traffic.c) ------------------------------------------------------------------ */

/* The op classes of the FLOP breakdown, in sb_flops' order: the engine's profile times each, the traffic
 * model below counts the bytes each moves. */
typedef enum {
    SB_OP_ATTENTION_PROJECTIONS,
    SB_OP_ATTENTION_SCORES,
    SB_OP_FFN,
    SB_OP_ROUTER,
    SB_OP_LM_HEAD,
    SB_OP_CLASSES
} sb_op_class;
const char *sb_op_class_name(sb_op_class c); /* sb_flops' field names: "attention_projections", ... */

/* Bytes each op class moves in one teacher-forced forward, per stack (the LM head in the decoder's): its
 * weights read once plus its GEMMs' fp32 inputs and outputs read or written once, a cache-less lower bound. */
typedef struct {
    double encoder[SB_OP_CLASSES], decoder[SB_OP_CLASSES];
} sb_traffic;
void sb_count_traffic(const sb_config *cfg, const sb_count_settings *s, sb_traffic *out);
/* Generation: the cross K/V projection, once per sequence (every decoder block's k, v weights and the
 * encoder output they read, the K/V they write). */
double sb_cross_kv_traffic(const sb_config *cfg, const sb_count_settings *s);
/* Bytes one incremental decoding step reads after `at` earlier steps: every decoder block's self-attention
 * q, k, v, o and cross-attention q, o weights, its FFN (a sparse block: the router and one expert), its
 * cross K/V cache (src rows) and self K/V cache (at + 1 rows), then the LM head. */
double sb_generation_step_traffic(const sb_config *cfg, const sb_count_settings *s, int64_t at);

/* ---- activation plan (shared by count and the engine, so the estimate is the allocation) ----------- */

/* Float counts of every activation buffer the engine allocates up front for one encoder(src) +
 * teacher-forced decoder(tgt) forward at a batch size. The engine sizes its buffers from this plan
 * and nothing else; count reports total_bytes as memory_bytes.activations_forward. Buffers are reused by
 * every layer; "tokens" below is max(B*S, B*T). Attention runs one batch row at a time, heads in parallel. */
typedef struct {
    int64_t hidden;          /* residual stream, tokens x d_model */
    int64_t normed;          /* RMSNorm output, tokens x d_model */
    int64_t encoder_output;  /* B*S x d_model, kept for cross-attention */
    int64_t mask;            /* additive key mask of the encoder input, B x S (reused by cross-attention) */
    int64_t qkv;             /* tokens x (inner + kv): rows [Q|K|V] (V absent under shared_kv, where K serves as
                              * both); the decoder's cross-attention puts B*T rows of Q, then B*S rows [K|V] */
    int64_t context;         /* attention output before o, tokens x inner */
    int64_t scores;          /* one batch row: H x max(S, T) x max(S, T), unnormalised softmax numerators */
    int64_t row_scale;       /* one batch row: H x max(S, T), 1 / softmax denominator per query */
    int64_t position_bias;   /* one stack at a time, as diagonals: H x (2 max(S, T) - 1) */
    int64_t ffn_hidden;      /* tokens x d_ff (x2 when gated: wi_0 and wi_1 outputs) */
    int64_t router;          /* tokens x (num_experts + 1): logits, then the gate of each token */
    int64_t expert_in;       /* kept tokens gathered by expert, tokens x d_model */
    int64_t expert_out;      /* expert outputs before the gated scatter, tokens x d_model */
    int64_t logits;          /* B*T x vocab */
    int64_t index_bytes;     /* routing bookkeeping, bytes: per token choice + slot (int32), per expert
                              * offsets and counters (int32), per sparse block kept counts (int64) */
    int64_t total_bytes;     /* every buffer above in bytes (floats * 4 + index_bytes) */
} sb_activation_plan;

int sb_plan_activations(const sb_config *cfg, int64_t batch, int64_t src_len, int64_t tgt_len,
                        sb_activation_plan *plan, sb_error *err);

/* Float counts (4-byte slots; routing indices are int32) of the training arena: one encoder(src) + teacher-
 * forced decoder(tgt) forward keeping what the backward needs, then the backward. The trainer
 * (sb_trainer_create) carves exactly these buffers, back to back, and refuses to run if its layout and this
 * plan disagree; count reports total_bytes as memory_bytes.activations_train. Notation: n = B*S encoder
 * tokens, t = B*T decoder tokens, a = heads*d_kv, kv = a (shared_kv) or 2a, Le/Ld blocks, se/sd of them
 * sparse, F = d_ff (relu) or 2*d_ff (gated) for dense FFNs, Fe the same for experts, kept_max = B *
 * min(len, E * capacity(len)) rows per sparse block, N = max(n, t), L = max(S, T). Nothing is stored for
 * dropout: masks are regenerated from a counter-based RNG, and RMSNorm outputs are recomputed. */
typedef struct {
    int64_t residual;          /* every sublayer's input and the final RMSNorm's: (1 + 2Le) n d + (1 + 3Ld) t d */
    int64_t rstd;              /* 1/rms per token of each of those RMSNorms: (1 + 2Le) n + (1 + 3Ld) t */
    int64_t attention_qkv;     /* self [Q|K|V] rows (tokens x (a + kv)); cross Q (t x a) and [K|V] (n x kv) */
    int64_t attention_probs;   /* softmax probabilities: B H S S per encoder block, B H (T T + T S) per decoder */
    int64_t attention_context; /* attention output before o: n a per encoder block, 2 t a per decoder block */
    int64_t ffn_hidden;        /* dense FFN: relu(wi x) or [wi_0 x | wi_1 x], tokens x F per dense block */
    int64_t router;            /* router logits, tokens x E per sparse block; load-balancing fractions B x E per
                                * stack with sparse blocks */
    int64_t routing;           /* int32 per sparse block: chosen expert and kept row per token, E + 1 offsets */
    int64_t experts;           /* per sparse block, kept_max rows: expert hidden (Fe) and expert output (d) */
    int64_t outputs;           /* stack outputs after their dropout: encoder n d (cross-attention K/V input),
                                * decoder t d (LM head input) */
    int64_t logits;            /* t x vocab; the cross-entropy backward turns them into their gradient */
    /* Reused by every layer: additive mask B S; position bias, its gradient, probabilities' gradient and
     * dropped probabilities of one batch row, H L L each; distance sums H (2L - 1); N d each for the RMSNorm
     * output, a sublayer's output, the residual gradient, a sublayer's output gradient and its input
     * gradient; n d for the encoder output's gradient; the gradient of Q|K|V, max(N (a + kv), t a + n kv);
     * of the context, N a; FFN hidden gradient N max(F, Fe) and activation N d_ff; with sparse blocks the
     * router probabilities and logit gradient N E each, gate and its gradient N each, E per-expert
     * counters, the router input N d, and kept_max d each for the gathered expert input, output gradient
     * and input gradient. */
    int64_t scratch;
    int64_t total_bytes;       /* 4 * the sum of every field above */
} sb_train_plan;

int sb_plan_train_activations(const sb_config *cfg, int64_t batch, int64_t src_len, int64_t tgt_len,
                              sb_train_plan *plan, sb_error *err);

/* ---- shared by the variants/ sources (and their tests) ------------------------------------------- */

struct cJSON;
/* The shape of registry row `index` (< sb_registry_count()), name without org. */
const sb_config *sb_registry_config(size_t index);
/* Index of the row named `name` (without org), or -1. */
ptrdiff_t sb_registry_find(const char *name);
/* Why the embedded registry data failed to load, or NULL when it loaded (sb_registry_count() is 0 then). */
const char *sb_registry_error(void);
/* Applies `key=value` overrides, given as the members of a JSON object, to an existing shape: only the keys
 * given change (num_sparse_*_layers recompute the step from the current depth). Keys are HF config.json
 * names plus shapebench's extras; an unknown or ignored key is an error here, not a warning. */
int sb_config_apply_overrides(sb_config *cfg, const struct cJSON *object, sb_error *err);

#endif

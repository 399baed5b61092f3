/* weights.h — a model's parameters: every tensor in one arena with a table of named tensors (Hugging Face
 * names), fp32 or bf16 storage, T5's deterministic init, Hugging Face checkpoint (config.json +
 * model.safetensors) I/O, the same table by block for the forward and the trainer, and the in-place
 * re-layout of the linear weights for oneDNN's matmul.
 *
 * Depends on exec/ (memory, and oneDNN's layouts for pre-packing), variants/ and common/.
 */
#ifndef SHAPEBENCH_WEIGHTS_H
#define SHAPEBENCH_WEIGHTS_H

#include "engine/exec/exec.h"

#include <stdio.h>

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
    /* Advances with every write of the arena: init, load, re-layout, an optimizer step; code that writes tensor
     * data itself advances it too. Copies made from the arena (the trainer's bf16 weights) are remade when it
     * has moved. */
    uint64_t version;
} sb_weights;

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

/* Pre-packing for oneDNN (see sb_gemm_packable). sb_weights_pack re-lays, in place and in the arena's dtype,
 * every linear weight that is packable: attention q, k, v (or kv), o, the FFN's or each Switch expert's wi
 * (wi_0, wi_1) and wo, an untied lm_head. Routers (a handful of outputs), the shared embedding (also read row
 * by row), position-bias tables and norms keep HF layout.
 * Memory is unchanged (one packable tensor of scratch while it runs). While any tensor is packed,
 * sb_tensor_data of it is not HF layout: the OpenBLAS forward, the trainer, the optimizer and checkpoint
 * writes refuse the weights until sb_weights_unpack restores HF layout bit for bit. Loading or initialising
 * tensors leaves them in HF layout. x runs the re-layout (oneDNN's reorder, whatever x's backend).
 * sb_weights_layout_for: the layout x's inference reads — packed on oneDNN with prepack set when the weights
 * are stored in the type x computes in (fp32 weights for fp32 products, bf16 for bf16), else HF layout. */
int sb_weights_pack(sb_weights *w, sb_exec *x, sb_error *err);
int sb_weights_unpack(sb_weights *w, sb_exec *x, sb_error *err);
int sb_weights_layout_for(sb_weights *w, sb_exec *x, sb_error *err);
/* The error every consumer that needs HF layout gives for packed weights (-1), else 0. */
int sb_weights_require_plain(const sb_weights *w, const char *what, sb_error *err);

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

/* Whether `model` is a checkpoint folder (a directory holding model.safetensors) rather than a name. */
bool sb_model_is_checkpoint(const char *model);
/* Resolves `model` as a checkpoint folder when it is a directory holding model.safetensors, otherwise as
 * a spec for sb_config_resolve with random weights from `seed`. */
int sb_model_open(const char *model, sb_dtype dtype, uint64_t seed, sb_weights *out, sb_warn_fn warn,
                  void *warn_ctx, sb_error *err);

/* Every tensor is about to be overwritten in HF layout (init, checkpoint read): none is packed any more, and
 * the version advances. */
void sb_weights_mark_plain(sb_weights *w);

/* ---- the tensor table by block (tensor_table.c), for the runtime and the trainer ---------------------- */

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
} sb_block_weights;

typedef struct {
    sb_stack stack;
    int64_t num_blocks;
    sb_block_weights *blocks;
    const sb_tensor *bias_table; /* relative_attention_bias of block 0, (num_buckets, H) */
    const sb_tensor *final_ln;
} sb_stack_weights;

/* Finds every tensor of w's model by its HF name: shared (and lm_head, = shared when tied) and each stack's
 * blocks. On failure the stacks may hold partial tables: free them with sb_stack_weights_free either way. */
int sb_resolve_model(const sb_weights *w, sb_stack_weights *encoder, sb_stack_weights *decoder,
                     const sb_tensor **shared, const sb_tensor **lm_head, sb_error *err);
void sb_stack_weights_free(sb_stack_weights *sw);

/* Whether ws[0..count) lie back to back in the arena: then, as one (count*OC, C) matrix, they are one GEMM,
 * whose wider N runs faster than count narrow ones (q, k, v usually are). */
static inline bool sb_tensors_adjacent(const sb_tensor *const *ws, int count)
{
    for (int j = 1; j < count; j++)
        if (ws[j]->offset != ws[j - 1]->offset + (size_t)ws[j - 1]->numel)
            return false;
    return true;
}

#endif

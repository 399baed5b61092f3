/* train.c — the trainer: one activation arena carved up front from sb_plan_train_activations (every layer's
 * saved activations, then the scratch the backward reuses; nothing allocated per step), the encoder and
 * decoder forward keeping what the backward needs, the losses (cross-entropy, Switch router z-loss and
 * load balancing as Hugging Face SwitchTransformers computes them), and the backward into one gradient array
 * laid out like the weight arena. The layer kernels are in backward.c. */
#include "engine/train/train.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* T5's and Switch's dropout_rate (HF default); sb_config does not carry the key. */
#define SB_DEFAULT_DROPOUT 0.1

/* Saved activations of one block (pointers into the arena). */
typedef struct {
    float *qkv, *probs, *ctx;          /* self-attention: [Q|K|V] rows, probabilities, context */
    float *cq, *ckv, *cprobs, *cctx;   /* cross-attention (decoder): Q, [K|V] over the encoder output, ... */
    float *ffn_hidden;                 /* dense FFN */
    float *router_logits;              /* sparse: (tokens, E) after jitter */
    int32_t *choice, *slot, *offset;   /* sparse: routing (tokens, tokens, E + 1) */
    float *expert_hidden, *expert_out; /* sparse: kept_max rows, expert by expert */
    int64_t kept;                      /* sparse: tokens kept in the last forward */
} train_block;

typedef struct {
    sb_stack stack;
    int64_t len, tokens, sublayers, num_blocks, num_sparse, kept_max;
    float *residual; /* (1 + sublayers * blocks) states of (tokens, d_model): state k is sublayer k's input */
    float *rstd;     /* per state: its RMSNorm's 1/rms per token */
    float *output;   /* final RMSNorm output after dropout (tokens, d_model) */
    float *lb_frac;  /* sparse stacks: (B, E) fraction of the stack's routed tokens per sequence and expert */
    train_block *blocks;
    double z_loss, lb_loss; /* this stack's, of the last forward */
} train_stack;

struct sb_trainer {
    sb_exec *x; /* every product (borrowed: the caller's) */
    const sb_weights *w;
    const sb_config *cfg;
    int64_t batch, src_len, tgt_len;
    double dropout_rate, z_coef, aux_coef;
    uint64_t seed, stream;
    bool lb_choice_before_capacity;
    sb_train_plan plan;
    float *arena; /* sb_pages_alloc, arena_bytes */
    float *grads; /* sb_pages_alloc, grad_bytes */
    size_t arena_bytes, grad_bytes;
    /* Products in bf16 (mixed precision): the weights rounded to bf16, laid out like the fp32 arena (the same
     * element offsets), remade at a forward whenever the weights' version has moved (an optimizer step). The
     * fp32 arena stays the master copy the optimizer updates; norms, embeddings, the position bias and the
     * router read it. */
    uint16_t *weights_bf16; /* sb_pages_alloc, weights_bf16_bytes; NULL for fp32 products */
    size_t weights_bf16_bytes;
    uint64_t weights_bf16_version;
    bool weights_bf16_made;
    size_t grad_floats;
    sb_stack_weights weights[2];
    const sb_tensor *shared, *lm_head;
    train_stack stacks[2];
    float *logits;
    /* scratch */
    float *mask, *bias, *dbias, *bias_tmp, *normed, *sub, *dres, *dsub, *dnormed, *denc, *dqkv, *dctx, *dprobs,
        *pdrop, *ffn_dh, *ffn_act, *sw_probs, *sw_dlogits, *sw_gate, *sw_dgate, *router_in, *expert_in, *expert_dy,
        *expert_dx;
    int32_t *sw_fill;
    /* the call in progress */
    double rate_now; /* dropout rate: 0 unless training */
    bool jitter_now;
    uint64_t stream_now;
    int64_t label_count;
};

/* ---- weights (the tensor table by block: tensor_table.c) ----------------------------------------------- */

static const float *W(const sb_trainer *t, const sb_tensor *tensor)
{
    return (const float *)sb_tensor_data(t->w, tensor);
}

/* A linear weight as a product's operand: the bf16 copy when the products compute in bf16, else the fp32
 * master. */
static sb_weight_operand operand(const sb_trainer *t, const sb_tensor *tensor)
{
    if (t->weights_bf16 != NULL)
        return (sb_weight_operand){t->weights_bf16 + tensor->offset, SB_DTYPE_BF16, false};
    return (sb_weight_operand){W(t, tensor), SB_DTYPE_F32, false};
}

/* Rounds the fp32 master weights into the bf16 copy when they changed since it was made. */
static void refresh_weights_bf16(sb_trainer *t)
{
    if (t->weights_bf16 == NULL || (t->weights_bf16_made && t->weights_bf16_version == t->w->version))
        return;
    const sb_weights *w = t->w;
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t i = 0; i < w->num_tensors; i++)
        sb_dtype_from_f32(SB_DTYPE_BF16, W(t, &w->tensors[i]), t->weights_bf16 + w->tensors[i].offset,
                          w->tensors[i].numel);
    t->weights_bf16_version = w->version;
    t->weights_bf16_made = true;
}

static float *G(const sb_trainer *t, const sb_tensor *tensor)
{
    return t->grads + tensor->offset;
}

/* ---- the arena ---------------------------------------------------------------------------------------- */

/* Walks the layout in a fixed order: counting only (base NULL), then assigning. Buffers are back to back,
 * as the plan counts them. */
typedef struct {
    float *base;
    int64_t used;
} carver;

static float *take(carver *c, int64_t floats)
{
    float *at = c->base != NULL && floats > 0 ? c->base + c->used : NULL;
    c->used += floats;
    return at;
}

static int32_t *take_i32(carver *c, int64_t count)
{
    return (int32_t *)take(c, count); /* int32 and float are both 4 bytes; the arena is untyped memory */
}

static int64_t kept_max(const sb_config *cfg, int64_t batch, int64_t len)
{
    const int64_t slots = cfg->num_experts * sb_expert_capacity(cfg, len);
    return batch * (slots < len ? slots : len);
}

static void carve_stack(sb_trainer *t, carver *c, train_stack *ts, sb_stack stack)
{
    const sb_config *cfg = t->cfg;
    const int64_t d = cfg->d_model, a = sb_inner_dim(cfg), kvw = sb_kv_width(cfg), H = cfg->num_heads;
    const int64_t E = cfg->num_experts, B = t->batch, S = t->src_len, n_src = B * S;
    const int64_t F = (cfg->ffn == SB_FFN_GATED_GELU ? 2 : 1) * cfg->d_ff;
    const int64_t Fe = (cfg->expert_ffn == SB_FFN_GATED_GELU ? 2 : 1) * cfg->d_ff;
    const bool decoder = stack == SB_STACK_DECODER;
    ts->stack = stack;
    ts->len = decoder ? t->tgt_len : t->src_len;
    ts->tokens = B * ts->len;
    ts->sublayers = decoder ? 3 : 2;
    ts->num_blocks = decoder ? cfg->num_decoder_layers : cfg->num_layers;
    ts->num_sparse = sb_num_sparse_blocks(cfg, stack);
    ts->kept_max = ts->num_sparse > 0 ? kept_max(cfg, B, ts->len) : 0;
    const int64_t n = ts->tokens, states = 1 + ts->sublayers * ts->num_blocks;
    ts->residual = take(c, states * n * d);
    ts->rstd = take(c, states * n);
    ts->output = take(c, n * d);
    ts->lb_frac = ts->num_sparse > 0 ? take(c, B * E) : NULL;
    for (int64_t i = 0; i < ts->num_blocks; i++) {
        train_block *tb = &ts->blocks[i];
        tb->qkv = take(c, n * (a + kvw));
        tb->probs = take(c, B * H * ts->len * ts->len);
        tb->ctx = take(c, n * a);
        if (decoder) {
            tb->cq = take(c, n * a);
            tb->ckv = take(c, n_src * kvw);
            tb->cprobs = take(c, B * H * ts->len * S);
            tb->cctx = take(c, n * a);
        }
        if (!sb_block_is_sparse(cfg, stack, i)) {
            tb->ffn_hidden = take(c, n * F);
            continue;
        }
        tb->router_logits = take(c, n * E);
        tb->choice = take_i32(c, n);
        tb->slot = take_i32(c, n);
        tb->offset = take_i32(c, E + 1);
        tb->expert_hidden = take(c, ts->kept_max * Fe);
        tb->expert_out = take(c, ts->kept_max * d);
    }
}

static int64_t carve(sb_trainer *t, float *base)
{
    const sb_config *cfg = t->cfg;
    carver c = {base, 0};
    carve_stack(t, &c, &t->stacks[SB_STACK_ENCODER], SB_STACK_ENCODER);
    carve_stack(t, &c, &t->stacks[SB_STACK_DECODER], SB_STACK_DECODER);
    const int64_t d = cfg->d_model, a = sb_inner_dim(cfg), kvw = sb_kv_width(cfg), H = cfg->num_heads;
    const int64_t E = cfg->num_experts, f = cfg->d_ff;
    const int64_t n = t->stacks[0].tokens, tt = t->stacks[1].tokens, N = n > tt ? n : tt;
    const int64_t L = t->src_len > t->tgt_len ? t->src_len : t->tgt_len, hll = H * L * L;
    const int64_t sparse = t->stacks[0].num_sparse + t->stacks[1].num_sparse;
    const int64_t dense = cfg->num_layers + cfg->num_decoder_layers - sparse;
    const int64_t F = dense > 0 ? (cfg->ffn == SB_FFN_GATED_GELU ? 2 : 1) * f : 0;
    const int64_t Fe = sparse > 0 ? (cfg->expert_ffn == SB_FFN_GATED_GELU ? 2 : 1) * f : 0;
    const int64_t K = t->stacks[0].kept_max > t->stacks[1].kept_max ? t->stacks[0].kept_max : t->stacks[1].kept_max;
    const int64_t self_dqkv = N * (a + kvw), cross_dqkv = tt * a + n * kvw;
    t->logits = take(&c, tt * cfg->vocab_size);
    t->mask = take(&c, n);
    t->bias = take(&c, hll);
    t->dbias = take(&c, hll);
    t->bias_tmp = take(&c, H * (2 * L - 1));
    t->normed = take(&c, N * d);
    t->sub = take(&c, N * d);
    t->dres = take(&c, N * d);
    t->dsub = take(&c, N * d);
    t->dnormed = take(&c, N * d);
    t->denc = take(&c, n * d);
    t->dqkv = take(&c, self_dqkv > cross_dqkv ? self_dqkv : cross_dqkv);
    t->dctx = take(&c, N * a);
    t->dprobs = take(&c, hll);
    t->pdrop = take(&c, hll);
    t->ffn_dh = take(&c, N * (F > Fe ? F : Fe));
    t->ffn_act = take(&c, N * f);
    if (sparse > 0) {
        t->sw_probs = take(&c, N * E);
        t->sw_dlogits = take(&c, N * E);
        t->sw_gate = take(&c, N);
        t->sw_dgate = take(&c, N);
        t->router_in = take(&c, N * d);
        t->sw_fill = take_i32(&c, E);
        t->expert_in = take(&c, K * d);
        t->expert_dy = take(&c, K * d);
        t->expert_dx = take(&c, K * d);
    }
    return c.used;
}

void sb_trainer_options_default(sb_trainer_options *o)
{
    *o = (sb_trainer_options){.dropout_rate = -1.0, .dropout_seed = 0, .router_z_loss_coef = -1.0,
                              .router_aux_loss_coef = -1.0, .lb_choice_before_capacity = false};
}

int sb_trainer_create(sb_trainer **out, sb_exec *x, const sb_weights *w, int64_t batch, int64_t src_len,
                      int64_t tgt_len, const sb_trainer_options *options, sb_error *err)
{
    *out = NULL;
    if (sb_weights_require_plain(w, "the trainer", err) != 0)
        return -1;
    if (w->dtype != SB_DTYPE_F32)
        return sb_fail(err, "training needs fp32 weight storage (got %s): open the model with --dtype f32",
                       sb_dtype_name(w->dtype));
    sb_trainer_options opt;
    sb_trainer_options_default(&opt);
    if (options != NULL)
        opt = *options;
    if (!(opt.dropout_rate < 1.0))
        return sb_fail(err, "dropout rate %g must be below 1", opt.dropout_rate);
    sb_trainer *t = calloc(1, sizeof *t);
    if (t == NULL)
        return sb_fail(err, "out of memory for the trainer");
    const sb_config *cfg = &w->cfg;
    t->x = x;
    t->w = w;
    t->cfg = cfg;
    t->batch = batch;
    t->src_len = src_len;
    t->tgt_len = tgt_len;
    t->dropout_rate = opt.dropout_rate < 0 ? SB_DEFAULT_DROPOUT : opt.dropout_rate;
    t->z_coef = opt.router_z_loss_coef < 0 ? cfg->router_z_loss_coef : opt.router_z_loss_coef;
    t->aux_coef = opt.router_aux_loss_coef < 0 ? cfg->router_aux_loss_coef : opt.router_aux_loss_coef;
    t->seed = opt.dropout_seed;
    t->lb_choice_before_capacity = opt.lb_choice_before_capacity;
    if (sb_plan_train_activations(cfg, batch, src_len, tgt_len, &t->plan, err) != 0)
        goto fail;
    if (batch * (src_len > tgt_len ? src_len : tgt_len) > INT32_MAX) {
        sb_fail(err, "batch %lld x %lld tokens is more than int32 routing indices hold", (long long)batch,
                (long long)(src_len > tgt_len ? src_len : tgt_len));
        goto fail;
    }
    for (int s = 0; s < 2; s++) {
        const int64_t blocks = s == 0 ? cfg->num_layers : cfg->num_decoder_layers;
        t->stacks[s].blocks = calloc((size_t)blocks, sizeof *t->stacks[s].blocks);
        if (t->stacks[s].blocks == NULL) {
            sb_fail(err, "out of memory for the trainer's block table");
            goto fail;
        }
    }
    const int64_t floats = carve(t, NULL);
    /* The plan is what count reports; a layout that drifts from it is a bug, caught here. */
    if (floats * 4 != t->plan.total_bytes) {
        sb_fail(err, "internal: the trainer's layout (%lld bytes) differs from sb_plan_train_activations (%lld)",
                (long long)(floats * 4), (long long)t->plan.total_bytes);
        goto fail;
    }
    t->grad_floats = w->arena_bytes / 4;
    t->weights_bf16_bytes = sb_exec_compute(x) == SB_DTYPE_BF16 ? (w->arena_bytes / 2 + 63) / 64 * 64 : 0;
    const double need = (double)t->plan.total_bytes + (double)w->arena_bytes + (double)t->weights_bf16_bytes;
    if (need > (double)sb_memory_available_bytes()) {
        sb_fail(err, "training %s at batch %lld, src %lld, tgt %lld needs %.1f MiB of activations and gradients%s, "
                     "more than is available",
                cfg->name, (long long)batch, (long long)src_len, (long long)tgt_len, need / (1 << 20),
                t->weights_bf16_bytes > 0 ? " (and the weights' bf16 copy)" : "");
        goto fail;
    }
    t->arena_bytes = ((size_t)t->plan.total_bytes + 63) / 64 * 64;
    t->grad_bytes = (t->grad_floats * 4 + 63) / 64 * 64;
    t->arena = sb_pages_alloc(t->arena_bytes);
    t->grads = sb_pages_alloc(t->grad_bytes);
    t->weights_bf16 = t->weights_bf16_bytes > 0 ? sb_pages_alloc(t->weights_bf16_bytes) : NULL;
    if (t->arena == NULL || t->grads == NULL || (t->weights_bf16_bytes > 0 && t->weights_bf16 == NULL)) {
        sb_fail(err, "out of memory for %.1f MiB of training activations and gradients", need / (1 << 20));
        goto fail;
    }
    /* Fresh pages read 0: padding between tensors must read 0 in the gradient array, and never gets written. */
    carve(t, t->arena);
    if (sb_resolve_model(w, &t->weights[SB_STACK_ENCODER], &t->weights[SB_STACK_DECODER], &t->shared, &t->lm_head,
                         err) != 0)
        goto fail;
    *out = t;
    return 0;
fail:
    sb_trainer_free(t);
    return -1;
}

void sb_trainer_free(sb_trainer *t)
{
    if (t == NULL)
        return;
    for (int s = 0; s < 2; s++) {
        sb_stack_weights_free(&t->weights[s]);
        free(t->stacks[s].blocks);
    }
    sb_pages_free(t->arena, t->arena_bytes);
    sb_pages_free(t->grads, t->grad_bytes);
    if (t->weights_bf16 != NULL)
        sb_pages_free(t->weights_bf16, t->weights_bf16_bytes);
    free(t);
}

/* ---- dropout sites -------------------------------------------------------------------------------------- */

enum { SITE_EMBED = 1, SITE_SELF_PROBS, SITE_SELF_OUT, SITE_CROSS_PROBS, SITE_CROSS_OUT, SITE_FFN_ACT, SITE_FFN_OUT,
       SITE_FINAL, SITE_JITTER };

/* One mask per (stack, block, expert, place) in a call; block -1: the stack's own (embedding, final). */
static uint64_t site_id(sb_stack stack, int64_t block, int64_t expert, int kind)
{
    return (((uint64_t)stack << 21 | (uint64_t)(block + 1)) << 21 | (uint64_t)(expert + 1)) << 4 | (uint64_t)kind;
}

static sb_dropout site(const sb_trainer *t, sb_stack stack, int64_t block, int64_t expert, int kind)
{
    return sb_dropout_make(t->rate_now, t->seed, t->stream_now, site_id(stack, block, expert, kind));
}

/* Router jitter (training only): the router input times U(1 - eps, 1 + eps) per element, as the Switch
 * paper and T5X do; the experts see the input unjittered (HF's in-place multiply also jitters the experts'
 * input, an artefact of PyTorch aliasing that shapebench does not copy). */
static float jitter_factor(uint64_t key, uint64_t index, float eps)
{
    return 1.0f - eps + 2.0f * eps * (float)sb_dropout_draw(key, index) * 0x1.0p-24f;
}

static void jitter_apply(float *out, const float *inp, int64_t n, uint64_t key, float eps)
{
#pragma omp parallel for if (n > SB_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++)
        out[i] = inp[i] * jitter_factor(key, (uint64_t)i, eps);
}

/* ---- forward ------------------------------------------------------------------------------------------- */

static float *state(const train_stack *ts, int64_t k, int64_t d)
{
    return ts->residual + k * ts->tokens * d;
}

/* out = x + dropout(sub): the residual add after a sublayer */
static void residual_add(float *out, const float *x, float *sub, int64_t n, const sb_dropout *drop)
{
    sb_dropout_forward(sub, sub, n, drop, 0);
#pragma omp parallel for simd if (n > SB_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++)
        out[i] = x[i] + sub[i];
}

/* inp (N,C) -> out (N, ldo): columns j*OC.. = inp·weights[j]ᵀ, one GEMM when the tensors are adjacent in
 * the arena (q, k, v usually are), as the inference projection. */
static void projection_forward(const sb_trainer *t, float *out, int64_t ldo, const float *inp, int64_t n,
                               const sb_tensor *const *ws, int count)
{
    const int64_t oc = ws[0]->shape[0], c = ws[0]->shape[1];
    if (sb_tensors_adjacent(ws, count)) {
        sb_matmul_forward(t->x, out, ldo, inp, c, operand(t, ws[0]), n, c, count * oc, 1.0f, 0.0f);
        return;
    }
    for (int j = 0; j < count; j++)
        sb_matmul_forward(t->x, out + j * oc, ldo, inp, c, operand(t, ws[j]), n, c, oc, 1.0f, 0.0f);
}

// dout (N, ldo) -> dinp (N,C) = dout·W + beta * dinp, dW += doutᵀ·inp, for the projection above
static void projection_backward(const sb_trainer *t, float *dinp, float beta, const float *dout, int64_t ldo,
                                const float *inp, int64_t n, const sb_tensor *const *ws, int count)
{
    const int64_t oc = ws[0]->shape[0], c = ws[0]->shape[1];
    if (sb_tensors_adjacent(ws, count)) {
        sb_matmul_backward(t->x, dinp, c, beta, G(t, ws[0]), dout, ldo, inp, operand(t, ws[0]), n, c, count * oc,
                           1.0f);
        return;
    }
    for (int j = 0; j < count; j++)
        sb_matmul_backward(t->x, dinp, c, j == 0 ? beta : 1.0f, G(t, ws[j]), dout + j * oc, ldo, inp,
                           operand(t, ws[j]), n, c, oc, 1.0f);
}

static sb_ffn_params ffn_params(const sb_trainer *t, const sb_ffn_weights *fw)
{
    return (sb_ffn_params){fw->kind, t->cfg->d_model, t->cfg->d_ff, operand(t, fw->wi),
                           fw->wi_1 != NULL ? operand(t, fw->wi_1) : (sb_weight_operand){0}, operand(t, fw->wo)};
}

/* The router's products stay fp32 whatever the trainer's products compute in: Switch Transformers' selective
 * precision, since rounding its logits to bf16 changes which expert a token goes to. */
// inp (n, d), router weight (E, d) -> logits (n, E) = inp·Wᵀ
static void router_forward(sb_trainer *t, float *logits, const float *inp, const float *weight, int64_t n, int64_t d,
                           int64_t E)
{
    sb_gemm_f32(t->x, false, true, n, E, d, 1.0f, inp, d, weight, d, 0.0f, logits, E);
}

// dlogits (n, E) -> dinp (n, d) = dlogits·W + beta * dinp
static void router_input_backward(sb_trainer *t, float *dinp, float beta, const float *dlogits, const float *weight,
                                  int64_t n, int64_t d, int64_t E)
{
    sb_gemm_f32(t->x, false, false, n, d, E, 1.0f, dlogits, E, weight, d, beta, dinp, d);
}

// dlogits (n, E), inp (n, d) -> dweight (E, d) += dlogitsᵀ·inp
static void router_weight_backward(sb_trainer *t, float *dweight, const float *dlogits, const float *inp, int64_t n,
                                   int64_t d, int64_t E)
{
    sb_gemm_f32(t->x, true, false, E, d, n, 1.0f, dlogits, E, inp, d, 1.0f, dweight, d);
}

// normed (tokens, d) -> t->sub = gate * expert(normed) for kept tokens, 0 for dropped ones
static void switch_forward(sb_trainer *t, train_stack *ts, const sb_block_weights *bw, train_block *tb, int64_t block)
{
    const sb_config *cfg = t->cfg;
    const int64_t n = ts->tokens, d = cfg->d_model, E = cfg->num_experts, f = cfg->d_ff;
    const int64_t Fe = (cfg->expert_ffn == SB_FFN_GATED_GELU ? 2 : 1) * f;
    const float *router_in = t->normed;
    if (t->jitter_now) {
        const uint64_t key = sb_dropout_key(t->seed, t->stream_now, site_id(ts->stack, block, -1, SITE_JITTER));
        jitter_apply(t->router_in, t->normed, n * d, key, (float)cfg->router_jitter_noise);
        router_in = t->router_in;
    }
    router_forward(t, tb->router_logits, router_in, W(t, bw->router), n, d, E);
    tb->kept = sb_switch_route(t->sw_probs, tb->choice, t->sw_gate, tb->slot, tb->offset, t->sw_fill,
                               tb->router_logits, t->batch, ts->len, E, sb_expert_capacity(cfg, ts->len));
    sb_switch_gather(t->expert_in, t->normed, tb->slot, n, d);
    for (int64_t e = 0; e < E; e++) {
        const int64_t first = tb->offset[e], rows = tb->offset[e + 1] - first;
        if (rows == 0)
            continue;
        const sb_ffn_params p = ffn_params(t, &bw->experts[e]);
        const sb_dropout drop = site(t, ts->stack, block, e, SITE_FFN_ACT);
        sb_ffn_forward_train(t->x, tb->expert_out + first * d, tb->expert_hidden + first * Fe, t->ffn_act,
                             t->expert_in + first * d, rows, &p, &drop);
    }
    sb_switch_combine_forward(t->sub, tb->expert_out, t->sw_gate, tb->slot, n, d);
    /* Load balancing counts each token under the expert HF's loss function sees: the capacity-masked
     * one-hot's argmax (a dropped token counts as expert 0) unless the option asks for the router's choice
     * before capacity (the Switch paper / T5X). */
    for (int64_t i = 0; i < n; i++) {
        const int32_t e = tb->slot[i] >= 0 || t->lb_choice_before_capacity ? tb->choice[i] : 0;
        ts->lb_frac[(i / ts->len) * E + e] += 1.0f;
    }
}

static void block_forward(sb_trainer *t, train_stack *ts, const sb_stack_weights *sw, int64_t i)
{
    const sb_config *cfg = t->cfg;
    const sb_block_weights *bw = &sw->blocks[i];
    train_block *tb = &ts->blocks[i];
    const int64_t n = ts->tokens, d = cfg->d_model, a = sb_inner_dim(cfg), kvw = sb_kv_width(cfg);
    const int64_t k0 = i * ts->sublayers, vcol = cfg->shared_kv ? 0 : a;
    const float eps = (float)cfg->layer_norm_epsilon;
    const bool decoder = ts->stack == SB_STACK_DECODER;
    const int count = cfg->shared_kv ? 2 : 3;
    sb_dropout drop;

    /* self-attention; the decoder's causal mask is inside its position bias, the encoder masks padding */
    int64_t k = k0;
    sb_rmsnorm_forward_train(t->normed, ts->rstd + k * n, state(ts, k, d), W(t, bw->ln_self), n, d, eps);
    const sb_tensor *self[3] = {bw->self.q, bw->self.k, bw->self.v};
    projection_forward(t, tb->qkv, a + kvw, t->normed, n, self, count);
    sb_attention_shape s = {t->batch, ts->len, ts->len, cfg->num_heads, cfg->d_kv, a + kvw, a + kvw, a};
    drop = site(t, ts->stack, i, -1, SITE_SELF_PROBS);
    sb_attention_forward_train(t->x, tb->ctx, tb->probs, t->pdrop, tb->qkv, tb->qkv + a, tb->qkv + a + vcol, t->bias,
                               decoder ? NULL : t->mask, &s, &drop);
    sb_matmul_forward(t->x, t->sub, d, tb->ctx, a, operand(t, bw->self.o), n, a, d, 1.0f, 0.0f);
    drop = site(t, ts->stack, i, -1, SITE_SELF_OUT);
    residual_add(state(ts, k + 1, d), state(ts, k, d), t->sub, n * d, &drop);

    if (decoder) {
        const train_stack *enc = &t->stacks[SB_STACK_ENCODER];
        k++;
        sb_rmsnorm_forward_train(t->normed, ts->rstd + k * n, state(ts, k, d), W(t, bw->ln_cross), n, d, eps);
        const sb_tensor *cross[3] = {bw->cross.q, bw->cross.k, bw->cross.v};
        projection_forward(t, tb->cq, a, t->normed, n, cross, 1);
        projection_forward(t, tb->ckv, kvw, enc->output, enc->tokens, cross + 1, count - 1);
        sb_attention_shape cs = {t->batch, ts->len, enc->len, cfg->num_heads, cfg->d_kv, a, kvw, a};
        drop = site(t, ts->stack, i, -1, SITE_CROSS_PROBS);
        sb_attention_forward_train(t->x, tb->cctx, tb->cprobs, t->pdrop, tb->cq, tb->ckv, tb->ckv + vcol, NULL, t->mask,
                                   &cs, &drop);
        sb_matmul_forward(t->x, t->sub, d, tb->cctx, a, operand(t, bw->cross.o), n, a, d, 1.0f, 0.0f);
        drop = site(t, ts->stack, i, -1, SITE_CROSS_OUT);
        residual_add(state(ts, k + 1, d), state(ts, k, d), t->sub, n * d, &drop);
    }

    k++;
    sb_rmsnorm_forward_train(t->normed, ts->rstd + k * n, state(ts, k, d), W(t, bw->ln_ffn), n, d, eps);
    if (bw->router != NULL) {
        switch_forward(t, ts, bw, tb, i);
    } else {
        const sb_ffn_params p = ffn_params(t, &bw->ffn);
        drop = site(t, ts->stack, i, -1, SITE_FFN_ACT);
        sb_ffn_forward_train(t->x, t->sub, tb->ffn_hidden, t->ffn_act, t->normed, n, &p, &drop);
    }
    drop = site(t, ts->stack, i, -1, SITE_FFN_OUT);
    residual_add(state(ts, k + 1, d), state(ts, k, d), t->sub, n * d, &drop);
}

/* The stack's router z-loss and load-balancing loss as HF computes them: its sparse blocks' logits are
 * concatenated along the sequence (`_unpack_router_logits`), so z = mean over blocks and tokens of
 * logsumexp^2, and load balancing = E^2 * mean over (sequence, expert) of f * P with f and P the fraction
 * of routed tokens and mean probability per sequence over all its sparse blocks' tokens together. */
static void stack_aux_losses(sb_trainer *t, train_stack *ts)
{
    const sb_config *cfg = t->cfg;
    const int64_t E = cfg->num_experts, B = t->batch, n = ts->tokens;
    const double per_row = (double)ts->num_sparse * (double)ts->len;
    double z = 0.0, lb = 0.0;
    for (int64_t e = 0; e < B * E; e++)
        ts->lb_frac[e] = (float)(ts->lb_frac[e] / per_row);
    for (int64_t i = 0; i < ts->num_blocks; i++) {
        const train_block *tb = &ts->blocks[i];
        if (tb->router_logits == NULL)
            continue;
        z += sb_router_z_sum(tb->router_logits, n, E);
        for (int64_t r = 0; r < n; r++) {
            const float *l = tb->router_logits + r * E, *frac = ts->lb_frac + (r / ts->len) * E;
            const float max = sb_row_max(l, E);
            double sum = 0.0, dot = 0.0;
            for (int64_t e = 0; e < E; e++) {
                const double p = exp((double)l[e] - max);
                sum += p;
                dot += p * frac[e];
            }
            lb += dot / sum;
        }
    }
    ts->z_loss = z / ((double)B * per_row);
    ts->lb_loss = lb * (double)E / ((double)B * per_row);
}

static void stack_forward(sb_trainer *t, train_stack *ts, const sb_stack_weights *sw, const int32_t *ids)
{
    const sb_config *cfg = t->cfg;
    const int64_t n = ts->tokens, d = cfg->d_model;
    const bool decoder = ts->stack == SB_STACK_DECODER;
    float *x0 = state(ts, 0, d);
    sb_embedding_forward_train(x0, W(t, t->shared), ids, n, d);
    sb_dropout drop = site(t, ts->stack, -1, -1, SITE_EMBED);
    sb_dropout_forward(x0, x0, n * d, &drop, 0);
    /* computed once per stack from block 0's table, shared by every block (as HF) */
    sb_position_bias_forward(t->bias, t->bias_tmp, W(t, sw->bias_table), cfg, decoder, 0, ts->len, ts->len);
    if (ts->lb_frac != NULL)
        memset(ts->lb_frac, 0, (size_t)(t->batch * cfg->num_experts) * sizeof *ts->lb_frac);
    for (int64_t i = 0; i < ts->num_blocks; i++)
        block_forward(t, ts, sw, i);
    const int64_t last = ts->num_blocks * ts->sublayers;
    sb_rmsnorm_forward_train(ts->output, ts->rstd + last * n, state(ts, last, d), W(t, sw->final_ln), n, d,
                             (float)cfg->layer_norm_epsilon);
    drop = site(t, ts->stack, -1, -1, SITE_FINAL);
    sb_dropout_forward(ts->output, ts->output, n * d, &drop, 0);
    ts->z_loss = ts->lb_loss = 0.0;
    if (ts->num_sparse > 0)
        stack_aux_losses(t, ts);
}

static int forward(sb_trainer *t, const sb_train_batch *b, bool training, sb_train_losses *out, sb_error *err)
{
    const sb_config *cfg = t->cfg;
    const int64_t n = t->batch * t->src_len, tt = t->batch * t->tgt_len, V = cfg->vocab_size;
    if (sb_weights_require_plain(t->w, "the trainer", err) != 0 ||
        sb_check_ids(cfg, b->input_ids, n, "input_ids", err) != 0 ||
        sb_check_ids(cfg, b->decoder_input_ids, tt, "decoder_input_ids", err) != 0)
        return -1;
    sb_exec_enter(t->x);
    sb_exec_failure(t->x, NULL); /* a failure before this pass is not this pass's */
    refresh_weights_bf16(t);
    if (b->labels == NULL)
        return sb_fail(err, "labels are missing");
    int64_t counted = 0;
    for (int64_t i = 0; i < tt; i++) {
        if (b->labels[i] != -100 && (b->labels[i] < 0 || b->labels[i] >= V))
            return sb_fail(err, "labels[%lld] = %d is neither -100 nor in the vocabulary (size %lld)", (long long)i,
                           (int)b->labels[i], (long long)V);
        counted += b->labels[i] != -100;
    }
    if (counted == 0)
        return sb_fail(err, "every label is -100: no token to predict");
    t->label_count = counted;
    t->rate_now = training ? t->dropout_rate : 0.0;
    t->jitter_now = training && cfg->router_jitter_noise > 0;
    t->stream_now = t->stream;
    if (training)
        t->stream++;
    /* HF's (1 - mask) * finfo.min: the most negative finite float, so a fully padded row stays finite. */
    for (int64_t i = 0; i < n; i++)
        t->mask[i] = b->attention_mask != NULL && b->attention_mask[i] == 0 ? -FLT_MAX : 0.0f;
    stack_forward(t, &t->stacks[SB_STACK_ENCODER], &t->weights[SB_STACK_ENCODER], b->input_ids);
    stack_forward(t, &t->stacks[SB_STACK_DECODER], &t->weights[SB_STACK_DECODER], b->decoder_input_ids);
    /* Tied embeddings: HF scales the decoder output by d_model^-1/2 before the shared table. */
    const float alpha = cfg->tie_word_embeddings ? (float)(1.0 / sqrt((double)cfg->d_model)) : 1.0f;
    sb_matmul_forward(t->x, t->logits, V, t->stacks[SB_STACK_DECODER].output, cfg->d_model, operand(t, t->lm_head), tt,
                      cfg->d_model, V, alpha, 0.0f);
    if (sb_exec_failure(t->x, err) != 0)
        return -1;
    int64_t check = 0;
    const double ce = sb_cross_entropy_sum(t->logits, b->labels, tt, V, &check) / (double)counted;
    const train_stack *enc = &t->stacks[SB_STACK_ENCODER], *dec = &t->stacks[SB_STACK_DECODER];
    /* HF sums the two stacks' losses (it skips a stack whose sparse step is 1, an HF quirk not copied). */
    out->cross_entropy = ce;
    out->z_loss = enc->z_loss + dec->z_loss;
    out->load_balancing_loss = enc->lb_loss + dec->lb_loss;
    out->total = ce + t->z_coef * out->z_loss + t->aux_coef * out->load_balancing_loss;
    out->label_tokens = counted;
    return 0;
}

/* ---- backward ------------------------------------------------------------------------------------------ */

// t->dsub (tokens, d) gradient of a sparse block's output -> t->dnormed (tokens, d), weight gradients
static void switch_backward(sb_trainer *t, train_stack *ts, const sb_block_weights *bw, train_block *tb, int64_t block)
{
    const sb_config *cfg = t->cfg;
    const int64_t n = ts->tokens, d = cfg->d_model, E = cfg->num_experts, f = cfg->d_ff, B = t->batch;
    const int64_t Fe = (cfg->expert_ffn == SB_FFN_GATED_GELU ? 2 : 1) * f;
    /* probabilities and gates again from the saved logits: the same arithmetic, so the same values (the
     * routing it rewrites is identical) */
    sb_switch_route(t->sw_probs, tb->choice, t->sw_gate, tb->slot, tb->offset, t->sw_fill, tb->router_logits, B,
                    ts->len, E, sb_expert_capacity(cfg, ts->len));
    sb_switch_combine_backward(t->expert_dy, t->sw_dgate, t->dsub, tb->expert_out, t->sw_gate, tb->slot, n, d);
    sb_switch_gather(t->expert_in, t->normed, tb->slot, n, d);
    for (int64_t e = 0; e < E; e++) {
        const int64_t first = tb->offset[e], rows = tb->offset[e + 1] - first;
        if (rows == 0)
            continue; /* no token: no gradient for this expert */
        const sb_ffn_weights *fw = &bw->experts[e];
        const sb_ffn_params p = ffn_params(t, fw);
        const sb_dropout drop = site(t, ts->stack, block, e, SITE_FFN_ACT);
        sb_ffn_backward(t->x, t->expert_dx + first * d, G(t, fw->wi), fw->wi_1 != NULL ? G(t, fw->wi_1) : NULL,
                        G(t, fw->wo), t->ffn_dh, t->ffn_act, t->expert_dy + first * d, t->expert_in + first * d,
                        tb->expert_hidden + first * Fe, rows, &p, &drop);
    }
    /* expert input gradients back to their tokens; a dropped token's output did not depend on it */
#pragma omp parallel for if (n * d > SB_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++) {
        if (tb->slot[i] >= 0)
            memcpy(t->dnormed + i * d, t->expert_dx + (int64_t)tb->slot[i] * d, (size_t)d * sizeof(float));
        else
            memset(t->dnormed + i * d, 0, (size_t)d * sizeof(float));
    }
    const double per_row = (double)ts->num_sparse * (double)ts->len;
    const double z_scale = t->z_coef / ((double)B * per_row);
    const double lb_scale = t->aux_coef * (double)E / ((double)B * per_row);
    sb_router_backward(t->sw_dlogits, tb->router_logits, t->sw_probs, tb->choice, t->sw_dgate, ts->lb_frac, lb_scale,
                       z_scale, B, ts->len, E);
    if (!t->jitter_now) {
        router_input_backward(t, t->dnormed, 1.0f, t->sw_dlogits, W(t, bw->router), n, d, E);
        router_weight_backward(t, G(t, bw->router), t->sw_dlogits, t->normed, n, d, E);
        return;
    }
    /* jittered router input x * j: dW from it, then d(x*j)·j into dnormed */
    const uint64_t key = sb_dropout_key(t->seed, t->stream_now, site_id(ts->stack, block, -1, SITE_JITTER));
    const float eps = (float)cfg->router_jitter_noise;
    jitter_apply(t->router_in, t->normed, n * d, key, eps);
    router_weight_backward(t, G(t, bw->router), t->sw_dlogits, t->router_in, n, d, E);
    router_input_backward(t, t->router_in, 0.0f, t->sw_dlogits, W(t, bw->router), n, d, E);
#pragma omp parallel for if (n * d > SB_PARALLEL_MIN)
    for (int64_t i = 0; i < n * d; i++)
        t->dnormed[i] += t->router_in[i] * jitter_factor(key, (uint64_t)i, eps);
}

/* t->dres: gradient of the block's output -> of its input; weight gradients added */
static void block_backward(sb_trainer *t, train_stack *ts, const sb_stack_weights *sw, int64_t i)
{
    const sb_config *cfg = t->cfg;
    const sb_block_weights *bw = &sw->blocks[i];
    train_block *tb = &ts->blocks[i];
    const int64_t n = ts->tokens, d = cfg->d_model, a = sb_inner_dim(cfg), kvw = sb_kv_width(cfg);
    const int64_t vcol = cfg->shared_kv ? 0 : a;
    const bool decoder = ts->stack == SB_STACK_DECODER;
    const int count = cfg->shared_kv ? 2 : 3;
    sb_dropout drop;

    /* FFN: x_out = x + dropout(ffn(norm(x))) */
    int64_t k = i * ts->sublayers + ts->sublayers - 1;
    drop = site(t, ts->stack, i, -1, SITE_FFN_OUT);
    sb_dropout_forward(t->dsub, t->dres, n * d, &drop, 0);
    sb_rmsnorm_recompute(t->normed, state(ts, k, d), W(t, bw->ln_ffn), ts->rstd + k * n, n, d);
    if (bw->router != NULL) {
        switch_backward(t, ts, bw, tb, i);
    } else {
        const sb_ffn_params p = ffn_params(t, &bw->ffn);
        drop = site(t, ts->stack, i, -1, SITE_FFN_ACT);
        sb_ffn_backward(t->x, t->dnormed, G(t, bw->ffn.wi), bw->ffn.wi_1 != NULL ? G(t, bw->ffn.wi_1) : NULL,
                        G(t, bw->ffn.wo), t->ffn_dh, t->ffn_act, t->dsub, t->normed, tb->ffn_hidden, n, &p, &drop);
    }
    sb_rmsnorm_backward(t->dres, G(t, bw->ln_ffn), t->dnormed, state(ts, k, d), W(t, bw->ln_ffn), ts->rstd + k * n, n,
                        d);

    if (decoder) {
        const train_stack *enc = &t->stacks[SB_STACK_ENCODER];
        k--;
        drop = site(t, ts->stack, i, -1, SITE_CROSS_OUT);
        sb_dropout_forward(t->dsub, t->dres, n * d, &drop, 0);
        sb_rmsnorm_recompute(t->normed, state(ts, k, d), W(t, bw->ln_cross), ts->rstd + k * n, n, d);
        sb_matmul_backward(t->x, t->dctx, a, 0.0f, G(t, bw->cross.o), t->dsub, d, tb->cctx, operand(t, bw->cross.o), n, a, d,
                           1.0f);
        float *dq = t->dqkv, *dkv = t->dqkv + n * a;
        sb_attention_shape cs = {t->batch, ts->len, enc->len, cfg->num_heads, cfg->d_kv, a, kvw, a};
        drop = site(t, ts->stack, i, -1, SITE_CROSS_PROBS);
        sb_attention_backward(t->x, dq, dkv, dkv + vcol, NULL, t->dprobs, t->pdrop, t->dctx, tb->cq, tb->ckv,
                              tb->ckv + vcol, tb->cprobs, &cs, &drop);
        const sb_tensor *cross[3] = {bw->cross.q, bw->cross.k, bw->cross.v};
        projection_backward(t, t->dnormed, 0.0f, dq, a, t->normed, n, cross, 1);
        /* every decoder block's cross-attention reads the encoder output: their gradients add up */
        projection_backward(t, t->denc, 1.0f, dkv, kvw, enc->output, enc->tokens, cross + 1, count - 1);
        sb_rmsnorm_backward(t->dres, G(t, bw->ln_cross), t->dnormed, state(ts, k, d), W(t, bw->ln_cross),
                            ts->rstd + k * n, n, d);
    }

    k--;
    drop = site(t, ts->stack, i, -1, SITE_SELF_OUT);
    sb_dropout_forward(t->dsub, t->dres, n * d, &drop, 0);
    sb_rmsnorm_recompute(t->normed, state(ts, k, d), W(t, bw->ln_self), ts->rstd + k * n, n, d);
    sb_matmul_backward(t->x, t->dctx, a, 0.0f, G(t, bw->self.o), t->dsub, d, tb->ctx, operand(t, bw->self.o), n, a, d,
                       1.0f);
    sb_attention_shape s = {t->batch, ts->len, ts->len, cfg->num_heads, cfg->d_kv, a + kvw, a + kvw, a};
    drop = site(t, ts->stack, i, -1, SITE_SELF_PROBS);
    sb_attention_backward(t->x, t->dqkv, t->dqkv + a, t->dqkv + a + vcol, t->dbias, t->dprobs, t->pdrop, t->dctx,
                          tb->qkv, tb->qkv + a, tb->qkv + a + vcol, tb->probs, &s, &drop);
    const sb_tensor *self[3] = {bw->self.q, bw->self.k, bw->self.v};
    projection_backward(t, t->dnormed, 0.0f, t->dqkv, a + kvw, t->normed, n, self, count);
    sb_rmsnorm_backward(t->dres, G(t, bw->ln_self), t->dnormed, state(ts, k, d), W(t, bw->ln_self), ts->rstd + k * n,
                        n, d);
}

// dout (tokens, d): gradient of the stack's output -> every weight gradient of the stack
static void stack_backward(sb_trainer *t, train_stack *ts, const sb_stack_weights *sw, const float *dout,
                           const int32_t *ids)
{
    const sb_config *cfg = t->cfg;
    const int64_t n = ts->tokens, d = cfg->d_model, last = ts->num_blocks * ts->sublayers;
    const bool decoder = ts->stack == SB_STACK_DECODER;
    sb_dropout drop = site(t, ts->stack, -1, -1, SITE_FINAL);
    sb_dropout_forward(t->dnormed, dout, n * d, &drop, 0);
    memset(t->dres, 0, (size_t)(n * d) * sizeof(float));
    sb_rmsnorm_backward(t->dres, G(t, sw->final_ln), t->dnormed, state(ts, last, d), W(t, sw->final_ln),
                        ts->rstd + last * n, n, d);
    memset(t->dbias, 0, (size_t)(cfg->num_heads * ts->len * ts->len) * sizeof(float));
    for (int64_t i = ts->num_blocks - 1; i >= 0; i--)
        block_backward(t, ts, sw, i);
    /* the bias every block added came from block 0's table */
    sb_position_bias_backward(G(t, sw->bias_table), t->bias_tmp, t->dbias, cfg, decoder, ts->len, ts->len);
    drop = site(t, ts->stack, -1, -1, SITE_EMBED);
    sb_dropout_forward(t->dres, t->dres, n * d, &drop, 0);
    sb_embedding_backward(G(t, t->shared), t->dres, ids, n, d);
}

static void backward(sb_trainer *t, const sb_train_batch *b)
{
    const sb_config *cfg = t->cfg;
    const int64_t d = cfg->d_model, V = cfg->vocab_size;
    train_stack *enc = &t->stacks[SB_STACK_ENCODER], *dec = &t->stacks[SB_STACK_DECODER];
    /* mean over the counted labels, as HF's CrossEntropyLoss */
    sb_cross_entropy_backward(t->logits, b->labels, dec->tokens, V, (float)(1.0 / (double)t->label_count));
    const float alpha = cfg->tie_word_embeddings ? (float)(1.0 / sqrt((double)d)) : 1.0f;
    /* tied: the LM head's gradient lands in shared.weight, with the embeddings'. The decoder output's
     * gradient goes to `sub`, which the backward does not otherwise use. */
    sb_matmul_backward(t->x, t->sub, d, 0.0f, G(t, t->lm_head), t->logits, V, dec->output, operand(t, t->lm_head),
                       dec->tokens, d, V, alpha);
    memset(t->denc, 0, (size_t)(enc->tokens * d) * sizeof(float));
    stack_backward(t, dec, &t->weights[SB_STACK_DECODER], t->sub, b->decoder_input_ids);
    stack_backward(t, enc, &t->weights[SB_STACK_ENCODER], t->denc, b->input_ids);
}

/* ---- public -------------------------------------------------------------------------------------------- */

int sb_trainer_step(sb_trainer *t, const sb_train_batch *batch, bool training, bool accumulate, sb_train_losses *out,
                    sb_error *err)
{
    sb_train_losses losses;
    if (forward(t, batch, training, &losses, err) != 0)
        return -1;
    if (!accumulate) {
        /* only the tensors: padding between them stays 0 from creation */
        for (size_t i = 0; i < t->w->num_tensors; i++)
            memset(t->grads + t->w->tensors[i].offset, 0, (size_t)t->w->tensors[i].numel * sizeof(float));
    }
    backward(t, batch);
    if (sb_exec_failure(t->x, err) != 0)
        return -1;
    if (out != NULL)
        *out = losses;
    return 0;
}

int sb_trainer_loss(sb_trainer *t, const sb_train_batch *batch, bool training, sb_train_losses *out, sb_error *err)
{
    sb_train_losses losses;
    if (forward(t, batch, training, &losses, err) != 0)
        return -1;
    if (out != NULL)
        *out = losses;
    return 0;
}

const float *sb_trainer_grads(const sb_trainer *t)
{
    return t->grads;
}

float *sb_trainer_grads_mutable(sb_trainer *t)
{
    return t->grads;
}

size_t sb_trainer_grad_floats(const sb_trainer *t)
{
    return t->grad_floats;
}

const float *sb_trainer_logits(const sb_trainer *t)
{
    return t->logits;
}

size_t sb_trainer_activation_bytes(const sb_trainer *t)
{
    return (size_t)t->plan.total_bytes;
}

void sb_trainer_set_dropout_stream(sb_trainer *t, uint64_t stream)
{
    t->stream = stream;
}

uint64_t sb_trainer_dropout_stream(const sb_trainer *t)
{
    return t->stream;
}

double sb_trainer_dropout_rate(const sb_trainer *t)
{
    return t->dropout_rate;
}

size_t sb_trainer_num_sparse(const sb_trainer *t)
{
    return (size_t)(t->stacks[0].num_sparse + t->stacks[1].num_sparse);
}

int64_t sb_trainer_num_experts(const sb_trainer *t)
{
    return t->cfg->num_experts;
}

int sb_trainer_routing(const sb_trainer *t, size_t index, sb_train_routing *out)
{
    for (int s = 0; s < 2; s++) {
        const train_stack *ts = &t->stacks[s];
        for (int64_t i = 0; i < ts->num_blocks; i++) {
            const train_block *tb = &ts->blocks[i];
            if (tb->router_logits == NULL || index-- > 0)
                continue;
            *out = (sb_train_routing){ts->stack, i, ts->tokens, tb->kept, tb->choice, tb->slot, tb->router_logits};
            return 0;
        }
    }
    return -1;
}

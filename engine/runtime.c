/* runtime.c — the runtime's lifetime: every activation buffer carved from one allocation sized by
 * sb_plan_activations, the generation KV cache, the tensor table resolved once into per-block weights, and
 * the accessors. The forward itself is in forward.c and generate.c. */
#include "engine/forward.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN_FLOATS 16 /* 64 bytes: every buffer starts on a cache line */

static int64_t aligned_floats(int64_t n)
{
    return (n + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;
}

static int lookup(const sb_weights *w, const sb_tensor **out, sb_error *err, const char *fmt, ...)
{
    char name[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    *out = sb_weights_find(w, name);
    return *out != NULL ? 0 : sb_fail(err, "the weights have no tensor %s", name);
}

static int resolve_attention(const sb_weights *w, sb_attention_weights *aw, const char *prefix, sb_error *err)
{
    aw->v = NULL;
    if (lookup(w, &aw->q, err, "%s.q.weight", prefix) != 0 || lookup(w, &aw->o, err, "%s.o.weight", prefix) != 0)
        return -1;
    if (w->cfg.shared_kv)
        return lookup(w, &aw->k, err, "%s.kv.weight", prefix);
    return lookup(w, &aw->k, err, "%s.k.weight", prefix) != 0 || lookup(w, &aw->v, err, "%s.v.weight", prefix) != 0
               ? -1
               : 0;
}

static int resolve_ffn(const sb_weights *w, sb_ffn_weights *fw, sb_ffn_kind kind, const char *prefix, sb_error *err)
{
    fw->kind = kind;
    fw->wi_1 = NULL;
    if (kind == SB_FFN_GATED_GELU) {
        if (lookup(w, &fw->wi, err, "%s.wi_0.weight", prefix) != 0 ||
            lookup(w, &fw->wi_1, err, "%s.wi_1.weight", prefix) != 0)
            return -1;
    } else if (lookup(w, &fw->wi, err, "%s.wi.weight", prefix) != 0) {
        return -1;
    }
    return lookup(w, &fw->wo, err, "%s.wo.weight", prefix);
}

static int resolve_stack(sb_runtime *rt, sb_stack_weights *sw, sb_stack stack, sb_error *err)
{
    const sb_weights *w = rt->w;
    const sb_config *cfg = rt->cfg;
    const char *name = stack == SB_STACK_ENCODER ? "encoder" : "decoder";
    const int ffn_layer = stack == SB_STACK_ENCODER ? 1 : 2;
    sw->stack = stack;
    sw->num_blocks = stack == SB_STACK_ENCODER ? cfg->num_layers : cfg->num_decoder_layers;
    sw->blocks = calloc((size_t)sw->num_blocks, sizeof *sw->blocks);
    if (sw->blocks == NULL)
        return sb_fail(err, "out of memory for the %s block table", name);
    if (lookup(w, &sw->bias_table, err, "%s.block.0.layer.0.SelfAttention.relative_attention_bias.weight", name) != 0 ||
        lookup(w, &sw->final_ln, err, "%s.final_layer_norm.weight", name) != 0)
        return -1;
    char prefix[128];
    for (int64_t i = 0; i < sw->num_blocks; i++) {
        sb_block_weights *bw = &sw->blocks[i];
        const long long blk = (long long)i;
        snprintf(prefix, sizeof prefix, "%s.block.%lld.layer.0.SelfAttention", name, blk);
        if (resolve_attention(w, &bw->self, prefix, err) != 0 ||
            lookup(w, &bw->ln_self, err, "%s.block.%lld.layer.0.layer_norm.weight", name, blk) != 0 ||
            lookup(w, &bw->ln_ffn, err, "%s.block.%lld.layer.%d.layer_norm.weight", name, blk, ffn_layer) != 0)
            return -1;
        if (stack == SB_STACK_DECODER) {
            snprintf(prefix, sizeof prefix, "%s.block.%lld.layer.1.EncDecAttention", name, blk);
            if (resolve_attention(w, &bw->cross, prefix, err) != 0 ||
                lookup(w, &bw->ln_cross, err, "%s.block.%lld.layer.1.layer_norm.weight", name, blk) != 0)
                return -1;
        }
        if (!sb_block_is_sparse(cfg, stack, i)) {
            snprintf(prefix, sizeof prefix, "%s.block.%lld.layer.%d.%s", name, blk, ffn_layer,
                     cfg->num_experts > 0 ? "mlp" : "DenseReluDense");
            if (resolve_ffn(w, &bw->ffn, cfg->ffn, prefix, err) != 0)
                return -1;
            continue;
        }
        if (lookup(w, &bw->router, err, "%s.block.%lld.layer.%d.mlp.router.classifier.weight", name, blk,
                   ffn_layer) != 0)
            return -1;
        bw->experts = calloc((size_t)cfg->num_experts, sizeof *bw->experts);
        if (bw->experts == NULL)
            return sb_fail(err, "out of memory for the expert table");
        for (int64_t e = 0; e < cfg->num_experts; e++) {
            snprintf(prefix, sizeof prefix, "%s.block.%lld.layer.%d.mlp.experts.expert_%lld", name, blk, ffn_layer,
                     (long long)e);
            if (resolve_ffn(w, &bw->experts[e], cfg->expert_ffn, prefix, err) != 0)
                return -1;
        }
        sb_router_stats *st = &rt->stats[rt->num_stats];
        bw->stats = st;
        bw->per_expert = (int64_t *)((char *)rt->expert_fill + (size_t)cfg->num_experts * 8) +
                         (int64_t)rt->num_stats * cfg->num_experts;
        *st = (sb_router_stats){.stack = stack, .block = i, .per_expert = bw->per_expert};
        rt->num_stats++;
    }
    return 0;
}

/* Points each buffer of the plan into the arena; returns the floats used. Routing indices follow them. */
static int64_t carve(sb_runtime *rt, bool assign)
{
    float **buffers[] = {&rt->hidden,     &rt->normed,    &rt->encoder_output, &rt->mask,       &rt->qkv,
                         &rt->context,    &rt->scores,    &rt->row_scale,      &rt->position_bias,
                         &rt->ffn_hidden, &rt->router,    &rt->expert_in,      &rt->expert_out, &rt->logits};
    const sb_activation_plan *p = &rt->plan;
    const int64_t sizes[] = {p->hidden,     p->normed,    p->encoder_output, p->mask,       p->qkv,
                             p->context,    p->scores,    p->row_scale,      p->position_bias,
                             p->ffn_hidden, p->router,    p->expert_in,      p->expert_out, p->logits};
    int64_t used = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        if (assign)
            *buffers[i] = sizes[i] > 0 ? (float *)rt->arena + used : NULL;
        used += aligned_floats(sizes[i]);
    }
    if (assign) {
        const int64_t tokens = p->router / (rt->cfg->num_experts + 1);
        rt->choice = (int32_t *)((float *)rt->arena + used);
        rt->slot = rt->choice + tokens;
        rt->expert_offset = (int64_t *)(rt->slot + tokens);
        rt->expert_fill = rt->expert_offset + rt->cfg->num_experts + 1;
    }
    return used;
}

/* bf16 weights are converted per use; the largest tensor other than the vocabulary tables bounds it
 * (those are converted in row blocks). */
static int64_t scratch_floats(const sb_weights *w)
{
    int64_t most = w->cfg.d_model;
    for (size_t i = 0; i < w->num_tensors; i++)
        if (strcmp(w->tensors[i].name, "shared.weight") != 0 && strcmp(w->tensors[i].name, "lm_head.weight") != 0 &&
            w->tensors[i].numel > most)
            most = w->tensors[i].numel;
    return most;
}

int sb_runtime_create(sb_runtime **out, const sb_weights *w, int64_t batch, int64_t src_len, int64_t tgt_len,
                      sb_error *err)
{
    *out = NULL;
    sb_runtime *rt = calloc(1, sizeof *rt);
    if (rt == NULL)
        return sb_fail(err, "out of memory for the runtime");
    rt->w = w;
    rt->cfg = &w->cfg;
    rt->max_batch = batch;
    rt->max_src = src_len;
    rt->max_tgt = tgt_len;
    const sb_config *cfg = rt->cfg;
    if (sb_plan_activations(cfg, batch, src_len, tgt_len, &rt->plan, err) != 0)
        goto fail;
    const int64_t arena_bytes = carve(rt, false) * 4 + rt->plan.index_bytes + 64;
    const int64_t scratch = w->dtype == SB_DTYPE_F32 ? 0 : scratch_floats(w);
    int64_t kv_floats = 0, need = 0;
    if (sb_mul_i64(cfg->num_decoder_layers, sb_kv_width(cfg), &kv_floats) != 0 ||
        sb_mul_i64(kv_floats, src_len + tgt_len, &kv_floats) != 0 || sb_mul_i64(kv_floats + scratch, 4, &need) != 0 ||
        sb_add_i64(need, arena_bytes, &need) != 0) {
        sb_fail(err, "the KV cache size overflows int64");
        goto fail;
    }
    if (need > sb_memory_available_bytes()) {
        sb_fail(err, "activations for batch %lld, src_len %lld, tgt_len %lld need %.1f MiB, more than is available",
                (long long)batch, (long long)src_len, (long long)tgt_len, (double)need / (1 << 20));
        goto fail;
    }
    /* Untouched pages cost no memory: the KV cache and unused buffer tails stay out of the RSS. */
    rt->arena = aligned_alloc(64, (size_t)aligned_floats(arena_bytes / 4) * 4);
    rt->kv_cache = aligned_alloc(64, (size_t)aligned_floats(kv_floats) * 4);
    rt->weight_scratch = scratch > 0 ? aligned_alloc(64, (size_t)aligned_floats(scratch) * 4) : NULL;
    rt->weight_scratch_floats = scratch;
    const size_t num_sparse =
        (size_t)(sb_num_sparse_blocks(cfg, SB_STACK_ENCODER) + sb_num_sparse_blocks(cfg, SB_STACK_DECODER));
    rt->stats = calloc(num_sparse + 1, sizeof *rt->stats);
    if (rt->arena == NULL || rt->kv_cache == NULL || (scratch > 0 && rt->weight_scratch == NULL) || rt->stats == NULL) {
        sb_fail(err, "out of memory for the activations (%.1f MiB)", (double)need / (1 << 20));
        goto fail;
    }
    carve(rt, true);
    rt->shared = sb_weights_find(w, "shared.weight");
    rt->lm_head = cfg->tie_word_embeddings ? rt->shared : sb_weights_find(w, "lm_head.weight");
    if (rt->shared == NULL || rt->lm_head == NULL) {
        sb_fail(err, "the weights have no %s", rt->shared == NULL ? "shared.weight" : "lm_head.weight");
        goto fail;
    }
    if (resolve_stack(rt, &rt->encoder, SB_STACK_ENCODER, err) != 0 ||
        resolve_stack(rt, &rt->decoder, SB_STACK_DECODER, err) != 0)
        goto fail;
    *out = rt;
    return 0;
fail:
    sb_runtime_free(rt);
    return -1;
}

static void free_stack(sb_stack_weights *sw)
{
    for (int64_t i = 0; sw->blocks != NULL && i < sw->num_blocks; i++)
        free(sw->blocks[i].experts);
    free(sw->blocks);
}

void sb_runtime_free(sb_runtime *rt)
{
    if (rt == NULL)
        return;
    free_stack(&rt->encoder);
    free_stack(&rt->decoder);
    free(rt->stats);
    free(rt->weight_scratch);
    free(rt->kv_cache);
    free(rt->arena);
    free(rt);
}

size_t sb_runtime_activation_bytes(const sb_runtime *rt)
{
    return (size_t)rt->plan.total_bytes;
}

const float *sb_encoder_output(const sb_runtime *rt)
{
    return rt->encoder_output;
}

const float *sb_logits(const sb_runtime *rt)
{
    return rt->logits;
}

size_t sb_router_stats_count(const sb_runtime *rt)
{
    return rt->num_stats;
}

const sb_router_stats *sb_router_stats_get(const sb_runtime *rt, size_t index)
{
    return index < rt->num_stats ? &rt->stats[index] : NULL;
}

void sb_runtime_observe(sb_runtime *rt, const sb_observer *observer)
{
    rt->observer = observer != NULL ? *observer : (sb_observer){0};
}

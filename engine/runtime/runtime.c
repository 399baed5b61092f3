/* runtime.c — the runtime's lifetime: every activation buffer carved from one allocation sized by
 * sb_plan_activations, the generation KV cache, the tensor table resolved once into per-block weights, and
 * the accessors. The forward itself is in forward.c and generate.c. */
#include "engine/runtime/runtime.h"

#include <stdlib.h>
#include <string.h>

#define ALIGN_FLOATS 16 /* 64 bytes: every buffer starts on a cache line */

static int64_t aligned_floats(int64_t n)
{
    return (n + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;
}

/* Each sparse block's router statistics, in block order (encoder first), over the kept-count storage. */
static int wire_router_stats(sb_runtime *rt, const sb_stack_weights *sw, sb_error *err)
{
    const int64_t experts = rt->cfg->num_experts;
    sb_router_stats **of_block = calloc((size_t)sw->num_blocks + 1, sizeof *of_block);
    if (of_block == NULL)
        return sb_fail(err, "out of memory for the router statistics");
    rt->block_stats[sw->stack] = of_block;
    for (int64_t i = 0; i < sw->num_blocks; i++) {
        if (sw->blocks[i].router == NULL)
            continue;
        sb_router_stats *st = &rt->stats[rt->num_stats];
        *st = (sb_router_stats){
            .stack = sw->stack, .block = i, .per_expert = rt->kept_counts + (int64_t)rt->num_stats * experts};
        of_block[i] = st;
        rt->num_stats++;
    }
    return 0;
}

/* Points each buffer of the plan into the arena; returns the floats used. Routing indices follow them: per
 * token choice and slot, the sparse blocks' kept counts (int64, 8-byte aligned there), per expert offsets and
 * counters (int32, as the slots: the plan's int64 room for them is more than enough). */
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
        const int64_t experts = rt->cfg->num_experts, tokens = p->router / (experts + 1);
        const int64_t sparse = sb_num_sparse_blocks(rt->cfg, SB_STACK_ENCODER) +
                               sb_num_sparse_blocks(rt->cfg, SB_STACK_DECODER);
        rt->choice = (int32_t *)((float *)rt->arena + used);
        rt->slot = rt->choice + tokens;
        rt->kept_counts = (int64_t *)(rt->slot + tokens);
        rt->expert_offset = (int32_t *)(rt->kept_counts + sparse * experts);
        rt->expert_fill = rt->expert_offset + experts + 1;
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

int sb_runtime_create(sb_runtime **out, sb_exec *x, const sb_weights *w, int64_t batch, int64_t src_len,
                      int64_t tgt_len, sb_error *err)
{
    *out = NULL;
    /* bf16 products read bf16 weights as stored; converting fp32 weights on every product would time the
     * conversion, not the product. */
    if (sb_exec_compute(x) == SB_DTYPE_BF16 && w->dtype != SB_DTYPE_BF16)
        return sb_fail(err, "bf16 products need bf16 weight storage (%s has %s): open the model with --dtype bf16",
                       w->cfg.name, sb_dtype_name(w->dtype));
    sb_runtime *rt = calloc(1, sizeof *rt);
    if (rt == NULL)
        return sb_fail(err, "out of memory for the runtime");
    rt->x = x;
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
    rt->arena_bytes = (size_t)aligned_floats(arena_bytes / 4) * 4;
    rt->kv_cache_bytes = (size_t)aligned_floats(kv_floats) * 4;
    rt->arena = sb_pages_alloc(rt->arena_bytes);
    rt->kv_cache = sb_pages_alloc(rt->kv_cache_bytes);
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
    if (sb_resolve_model(w, &rt->encoder, &rt->decoder, &rt->shared, &rt->lm_head, err) != 0 ||
        wire_router_stats(rt, &rt->encoder, err) != 0 || wire_router_stats(rt, &rt->decoder, err) != 0)
        goto fail;
    *out = rt;
    return 0;
fail:
    sb_runtime_free(rt);
    return -1;
}

void sb_runtime_free(sb_runtime *rt)
{
    if (rt == NULL)
        return;
    sb_stack_weights_free(&rt->encoder);
    sb_stack_weights_free(&rt->decoder);
    free(rt->stats);
    free(rt->block_stats[0]);
    free(rt->block_stats[1]);
    free(rt->weight_scratch);
    sb_pages_free(rt->kv_cache, rt->kv_cache_bytes);
    sb_pages_free(rt->arena, rt->arena_bytes);
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

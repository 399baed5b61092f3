/* tensor_table.c — the weights' tensor table resolved once, by Hugging Face name, into the per-block view
 * the forward and the trainer index (weights.h): both run the same model, so both read it the same way. */
#include "engine/weights/weights.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int lookup(const sb_weights *w, const sb_tensor **out, sb_error *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int lookup(const sb_weights *w, const sb_tensor **out, sb_error *err, const char *fmt, ...)
{
    char name[192];
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

static int resolve_stack(const sb_weights *w, sb_stack_weights *sw, sb_stack stack, sb_error *err)
{
    const sb_config *cfg = &w->cfg;
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
    char prefix[160];
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
    }
    return 0;
}

int sb_resolve_model(const sb_weights *w, sb_stack_weights *encoder, sb_stack_weights *decoder,
                     const sb_tensor **shared, const sb_tensor **lm_head, sb_error *err)
{
    *shared = sb_weights_find(w, "shared.weight");
    *lm_head = w->cfg.tie_word_embeddings ? *shared : sb_weights_find(w, "lm_head.weight");
    if (*shared == NULL || *lm_head == NULL)
        return sb_fail(err, "the weights have no %s", *shared == NULL ? "shared.weight" : "lm_head.weight");
    if (resolve_stack(w, encoder, SB_STACK_ENCODER, err) != 0)
        return -1;
    return resolve_stack(w, decoder, SB_STACK_DECODER, err);
}

void sb_stack_weights_free(sb_stack_weights *sw)
{
    for (int64_t i = 0; sw->blocks != NULL && i < sw->num_blocks; i++)
        free(sw->blocks[i].experts);
    free(sw->blocks);
    sw->blocks = NULL;
}

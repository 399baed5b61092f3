/* forward.c — the teacher-forced forward: one T5 block, the encoder and decoder stacks, logits and
 * cross-entropy. */
#include "engine/runtime/runtime.h"

#include <float.h>
#include <math.h>

// q (B*lq, ldq), kv (B*lk, ldkv) rows [K|V] -> hidden (B*lq, d_model) += o(attention)
static void attention_sublayer(sb_runtime *rt, const sb_attention_weights *aw, const float *q, int64_t ldq,
                               const float *kv, int64_t ldkv, int64_t batch, int64_t lq, int64_t lk, const float *bias,
                               const float *mask)
{
    const int64_t inner = sb_inner_dim(rt->cfg);
    const float *values = aw->v != NULL ? kv + inner : kv;
    sb_span span = sb_span_begin(rt->x);
    sb_attention_forward(rt, rt->context, inner, q, ldq, kv, values, ldkv, batch, lq, lk, bias, mask);
    sb_span_op(rt->x, SB_OP_ATTENTION_SCORES, span);
    span = sb_span_begin(rt->x);
    sb_linear_forward(rt, rt->hidden, rt->cfg->d_model, rt->context, batch * lq, aw->o, 1.0f, 1.0f);
    sb_span_op(rt->x, SB_OP_ATTENTION_PROJECTIONS, span);
}

void sb_block_forward(sb_runtime *rt, const sb_stack_weights *sw, int64_t block, int64_t batch, int64_t len,
                      const sb_kv *kv)
{
    const sb_config *cfg = rt->cfg;
    const sb_block_weights *bw = &sw->blocks[block];
    const int64_t n = batch * len, d = cfg->d_model, inner = sb_inner_dim(cfg), kvw = sb_kv_width(cfg);
    const float eps = (float)cfg->layer_norm_epsilon;
    const bool decoder = sw->stack == SB_STACK_DECODER;

    sb_rmsnorm_forward(rt->normed, rt->hidden, sb_weight_f32(rt, bw->ln_self), n, d, eps);
    const sb_tensor *self[3] = {bw->self.q, bw->self.k, bw->self.v};
    const int count = bw->self.v != NULL ? 3 : 2;
    /* The decoder's causal mask is inside its position bias; the encoder masks padded keys. */
    const float *self_mask = decoder ? NULL : rt->mask;
    sb_span span = sb_span_begin(rt->x);
    if (kv->self_kv == NULL) {
        sb_projection_forward(rt, rt->qkv, inner + kvw, rt->normed, n, self, count);
        sb_span_op(rt->x, SB_OP_ATTENTION_PROJECTIONS, span);
        attention_sublayer(rt, &bw->self, rt->qkv, inner + kvw, rt->qkv + inner, inner + kvw, batch, len, len,
                           rt->position_bias, self_mask);
    } else {
        sb_projection_forward(rt, rt->qkv, inner, rt->normed, n, self, 1);
        sb_projection_forward(rt, kv->self_kv + kv->at * kvw, kvw, rt->normed, n, self + 1, count - 1);
        sb_span_op(rt->x, SB_OP_ATTENTION_PROJECTIONS, span);
        attention_sublayer(rt, &bw->self, rt->qkv, inner, kv->self_kv, kvw, batch, len, kv->at + len,
                           rt->position_bias, self_mask);
    }
    if (decoder) {
        sb_rmsnorm_forward(rt->normed, rt->hidden, sb_weight_f32(rt, bw->ln_cross), n, d, eps);
        const sb_tensor *cross[3] = {bw->cross.q, bw->cross.k, bw->cross.v};
        span = sb_span_begin(rt->x);
        sb_projection_forward(rt, rt->qkv, inner, rt->normed, n, cross, 1);
        if (kv->project_cross)
            sb_projection_forward(rt, kv->cross_kv, kvw, rt->encoder_output, batch * rt->src_len, cross + 1, count - 1);
        sb_span_op(rt->x, SB_OP_ATTENTION_PROJECTIONS, span);
        attention_sublayer(rt, &bw->cross, rt->qkv, inner, kv->cross_kv, kvw, batch, len, rt->src_len, NULL,
                           rt->mask);
    }
    sb_rmsnorm_forward(rt->normed, rt->hidden, sb_weight_f32(rt, bw->ln_ffn), n, d, eps);
    if (bw->router != NULL) {
        sb_switch_forward(rt, bw, sw->stack, block, rt->hidden, rt->normed, batch, len);
    } else {
        span = sb_span_begin(rt->x);
        sb_ffn_forward(rt, rt->hidden, rt->normed, n, &bw->ffn, 1.0f);
        sb_span_op(rt->x, SB_OP_FFN, span);
    }
}

static void observe_hidden(sb_runtime *rt, sb_stack stack, int64_t index, const float *h, int64_t n)
{
    if (rt->observer.hidden != NULL)
        rt->observer.hidden(rt->observer.ctx, stack, index, h, n, rt->cfg->d_model);
}

/* Embedding, the stack's position bias (computed once, reused by every block), the blocks, the final
 * RMSNorm into `out`. */
static void stack_forward(sb_runtime *rt, const sb_stack_weights *sw, const int32_t *ids, int64_t batch, int64_t len,
                          const sb_kv *kv, float *out)
{
    const int64_t n = batch * len;
    const bool decoder = sw->stack == SB_STACK_DECODER;
    sb_embedding_forward(rt, rt->hidden, ids, n);
    sb_position_bias_diagonals(rt->position_bias, sb_weight_f32(rt, sw->bias_table), rt->cfg, decoder, 0, len, len);
    const sb_span blocks = sb_span_begin(rt->x);
    for (int64_t i = 0; i < sw->num_blocks; i++) {
        observe_hidden(rt, sw->stack, i, rt->hidden, n);
        sb_block_forward(rt, sw, i, batch, len, kv);
    }
    sb_span_blocks(rt->x, sw->stack, false, blocks);
    sb_rmsnorm_forward(out, rt->hidden, sb_weight_f32(rt, sw->final_ln), n, rt->cfg->d_model,
                       (float)rt->cfg->layer_norm_epsilon);
    observe_hidden(rt, sw->stack, sw->num_blocks, out, n);
}

int sb_encode(sb_runtime *rt, int64_t batch, int64_t src_len, const int32_t *input_ids,
              const int32_t *attention_mask, sb_error *err)
{
    if (batch < 1 || batch > rt->max_batch || src_len < 1 || src_len > rt->max_src)
        return sb_fail(err, "encode of batch %lld x %lld tokens exceeds the runtime's %lld x %lld", (long long)batch,
                       (long long)src_len, (long long)rt->max_batch, (long long)rt->max_src);
    if (sb_check_ids(rt->cfg, input_ids, batch * src_len, "input_ids", err) != 0 || sb_pass_begin(rt, err) != 0)
        return -1;
    rt->batch = batch;
    rt->src_len = src_len;
    rt->tgt_len = 0;
    /* HF's (1 - mask) * finfo.min: the most negative finite float, so a fully padded row stays finite. */
    for (int64_t i = 0; i < batch * src_len; i++)
        rt->mask[i] = attention_mask != NULL && attention_mask[i] == 0 ? -FLT_MAX : 0.0f;
    const sb_kv kv = {0};
    stack_forward(rt, &rt->encoder, input_ids, batch, src_len, &kv, rt->encoder_output);
    return sb_pass_end(rt, err);
}

int sb_decode(sb_runtime *rt, int64_t tgt_len, const int32_t *decoder_input_ids, sb_error *err)
{
    if (rt->src_len == 0)
        return sb_fail(err, "sb_decode before sb_encode");
    if (tgt_len < 1 || tgt_len > rt->max_tgt)
        return sb_fail(err, "decode of %lld tokens exceeds the runtime's %lld", (long long)tgt_len,
                       (long long)rt->max_tgt);
    if (sb_check_ids(rt->cfg, decoder_input_ids, rt->batch * tgt_len, "decoder_input_ids", err) != 0 ||
        sb_pass_begin(rt, err) != 0)
        return -1;
    rt->tgt_len = tgt_len;
    /* cross K/V go after the queries in the qkv buffer, which the plan sizes for both */
    const sb_kv kv = {.cross_kv = rt->qkv + rt->batch * tgt_len * sb_inner_dim(rt->cfg), .project_cross = true};
    stack_forward(rt, &rt->decoder, decoder_input_ids, rt->batch, tgt_len, &kv, rt->normed);
    /* Tied embeddings: HF scales the decoder output by d_model^-1/2 before the shared table. */
    const float alpha = rt->cfg->tie_word_embeddings ? (float)(1.0 / sqrt((double)rt->cfg->d_model)) : 1.0f;
    const sb_span span = sb_span_begin(rt->x);
    sb_linear_forward(rt, rt->logits, rt->cfg->vocab_size, rt->normed, rt->batch * tgt_len, rt->lm_head, alpha, 0.0f);
    sb_span_op(rt->x, SB_OP_LM_HEAD, span);
    return sb_pass_end(rt, err);
}

double sb_cross_entropy(const sb_runtime *rt, const int32_t *labels)
{
    const int64_t vocab = rt->cfg->vocab_size, n = rt->batch * rt->tgt_len;
    double total = 0.0;
    int64_t counted = 0;
    for (int64_t i = 0; i < n; i++) {
        if (labels[i] == -100)
            continue;
        if (labels[i] < 0 || labels[i] >= vocab)
            return NAN;
        const float *row = rt->logits + i * vocab;
        total += sb_row_logsumexp(row, vocab) - row[labels[i]];
        counted++;
    }
    return counted > 0 ? total / (double)counted : NAN;
}

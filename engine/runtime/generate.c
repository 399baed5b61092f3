/* generate.c — incremental greedy decoding for batch row 0: each step runs the decoder on one token,
 * appending its self-attention K/V to the cache; cross-attention K/V are projected from the encoder
 * output once. Same blocks as the teacher-forced decoder, so the two agree token for token. */
#include "engine/runtime/runtime.h"

#include <math.h>

/* The cache of decoder block `block`: self [K|V] rows (max_tgt), then cross [K|V] rows (max_src). */
static sb_kv block_cache(const sb_runtime *rt, int64_t block, int64_t at)
{
    const int64_t kvw = sb_kv_width(rt->cfg);
    float *self = rt->kv_cache + block * kvw * (rt->max_tgt + rt->max_src);
    return (sb_kv){.self_kv = self, .at = at, .cross_kv = self + kvw * rt->max_tgt};
}

int64_t sb_generate_greedy(sb_runtime *rt, int64_t max_new_tokens, int32_t *out_ids, double *step_seconds,
                           sb_error *err)
{
    const sb_config *cfg = rt->cfg;
    if (rt->src_len == 0)
        return sb_fail(err, "sb_generate_greedy before sb_encode");
    if (max_new_tokens < 1 || max_new_tokens > rt->max_tgt)
        return sb_fail(err, "max_new_tokens = %lld must be in 1..%lld (the runtime's tgt_len)",
                       (long long)max_new_tokens, (long long)rt->max_tgt);
    if (sb_pass_begin(rt, err) != 0)
        return -1;
    const sb_observer observer = rt->observer;
    rt->observer = (sb_observer){0};
    rt->tgt_len = 0; /* the logits buffer holds single steps from now on */
    const sb_span cross_kv = sb_span_begin(rt->x);
    for (int64_t l = 0; l < rt->decoder.num_blocks; l++) {
        const sb_attention_weights *cross = &rt->decoder.blocks[l].cross;
        const sb_tensor *kv[2] = {cross->k, cross->v};
        sb_projection_forward(rt, block_cache(rt, l, 0).cross_kv, sb_kv_width(cfg), rt->encoder_output, rt->src_len,
                              kv, cross->v != NULL ? 2 : 1);
    }
    sb_span_op(rt->x, SB_OP_ATTENTION_PROJECTIONS, cross_kv);
    sb_span_blocks(rt->x, SB_STACK_DECODER, false, cross_kv);
    const float alpha = cfg->tie_word_embeddings ? (float)(1.0 / sqrt((double)cfg->d_model)) : 1.0f;
    int32_t token = (int32_t)cfg->decoder_start_token_id;
    int64_t produced = 0;
    while (produced < max_new_tokens) {
        const double start = sb_now_seconds();
        const int64_t t = produced;
        sb_embedding_forward(rt, rt->hidden, &token, 1);
        sb_position_bias_diagonals(rt->position_bias, sb_weight_f32(rt, rt->decoder.bias_table), cfg, true, t, 1,
                                   t + 1);
        const sb_span blocks = sb_span_begin(rt->x);
        for (int64_t l = 0; l < rt->decoder.num_blocks; l++) {
            const sb_kv kv = block_cache(rt, l, t);
            sb_block_forward(rt, &rt->decoder, l, 1, 1, &kv);
        }
        sb_span_blocks(rt->x, SB_STACK_DECODER, true, blocks);
        sb_rmsnorm_forward(rt->normed, rt->hidden, sb_weight_f32(rt, rt->decoder.final_ln), 1, cfg->d_model,
                           (float)cfg->layer_norm_epsilon);
        const sb_span head = sb_span_begin(rt->x);
        sb_linear_forward(rt, rt->logits, cfg->vocab_size, rt->normed, 1, rt->lm_head, alpha, 0.0f);
        sb_span_op(rt->x, SB_OP_LM_HEAD, head);
        int32_t best = 0;
        for (int64_t j = 1; j < cfg->vocab_size; j++)
            if (rt->logits[j] > rt->logits[best])
                best = (int32_t)j;
        out_ids[produced++] = best;
        token = best;
        if (step_seconds != NULL)
            step_seconds[t] = sb_now_seconds() - start;
        if (best == cfg->eos_token_id)
            break;
    }
    rt->observer = observer;
    return sb_pass_end(rt, err) != 0 ? -1 : produced;
}

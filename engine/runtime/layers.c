/* layers.c — the dense layer kernels of the T5 forward: embedding, RMSNorm, relative position bias,
 * attention per (batch, head) on strided GEMM views, and the relu / gated-gelu FFN. Computation is fp32;
 * every matrix product goes through sb_gemm. */
#include "engine/runtime/runtime.h"

#include <float.h>
#include <math.h>
#include <omp.h>
#include <string.h>

void sb_embedding_forward(sb_runtime *rt, float *out, const int32_t *ids, int64_t n)
{
    const int64_t c = rt->cfg->d_model;
    const char *table = sb_tensor_data(rt->w, rt->shared);
    const int64_t row_bytes = c * sb_dtype_bytes(rt->w->dtype);
#pragma omp parallel for if (n * c > SB_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++)
        sb_dtype_to_f32(rt->w->dtype, table + ids[i] * row_bytes, out + i * c, c);
}

// q (B*lq, ldq), k, v (B*lk, ldkv), bias (H,lq,lk) or NULL, mask (B,lk) or NULL -> context (B*lq, ldc)
void sb_attention_forward(sb_runtime *rt, float *context, int64_t ldc, const float *q, int64_t ldq, const float *k,
                          const float *v, int64_t ldkv, int64_t batch, int64_t lq, int64_t lk, const float *bias,
                          const float *mask)
{
    const int64_t heads = rt->cfg->num_heads, dkv = rt->cfg->d_kv, bias_span = sb_position_bias_span(lq, lk);
    for (int64_t b = 0; b < batch; b++) {
        /* A row without padding adds nothing: skip its zeros (bias + 0 is bias, bit for bit). */
        const float *row_mask = mask != NULL && !sb_all_zero(mask + b * lk, lk) ? mask + b * lk : NULL;
        /* Heads in parallel, each thread's GEMMs single-threaded (BLAS does so inside a parallel region):
         * the softmax between the two products parallelises with them and no head waits on a barrier. Each
         * thread reuses one scores slot for all its heads, so the (lq, lk) scores stay in its L2 from one
         * head to the next; with more threads than heads (the buffer has a slot per head) a head's own. */
#pragma omp parallel
        {
            const int64_t slot_of_thread = omp_get_num_threads() <= heads ? omp_get_thread_num() : -1;
#pragma omp for schedule(dynamic, 1)
        for (int64_t h = 0; h < heads; h++) {
            const int64_t slot = slot_of_thread >= 0 ? slot_of_thread : h;
            float *scores = rt->scores + slot * lq * lk, *scale = rt->row_scale + slot * lq;
            const float *qh = q + b * lq * ldq + h * dkv;
            const float *kh = k + b * lk * ldkv + h * dkv;
            const float *vh = v + b * lk * ldkv + h * dkv;
            float *ctx = context + b * lq * ldc + h * dkv;
            sb_gemm(rt->x, false, true, lq, lk, dkv, 1.0f, qh, ldq, kh, ldkv, 0.0f, scores, lk);
            for (int64_t i = 0; i < lq; i++)
                scale[i] = sb_softmax_row(scores + i * lk,
                                      bias != NULL ? sb_position_bias_row(bias + h * bias_span, lq, i) : NULL,
                                      row_mask, lk);
            sb_gemm(rt->x, false, false, lq, dkv, lk, 1.0f, scores, lk, vh, ldkv, 0.0f, ctx, ldc);
            for (int64_t i = 0; i < lq; i++)
#pragma omp simd
                for (int64_t j = 0; j < dkv; j++)
                    ctx[i * ldc + j] *= scale[i];
        }
        }
    }
}

// inp (N,d_model) -> out (N,d_model) = beta * out + wo(act(wi inp))
void sb_ffn_forward(sb_runtime *rt, float *out, const float *inp, int64_t n, const sb_ffn_weights *fw, float beta)
{
    const int64_t size = n * rt->cfg->d_ff;
    float *h = rt->ffn_hidden;
    sb_linear_forward(rt, h, rt->cfg->d_ff, inp, n, fw->wi, 1.0f, 0.0f);
    if (fw->kind == SB_FFN_GATED_GELU) {
        float *gate = h + size;
        sb_linear_forward(rt, gate, rt->cfg->d_ff, inp, n, fw->wi_1, 1.0f, 0.0f);
#pragma omp parallel for simd simdlen(16) if (size > SB_PARALLEL_MIN)
        for (int64_t i = 0; i < size; i++)
            h[i] = sb_gelu_tanh(h[i]) * gate[i];
    } else {
#pragma omp parallel for simd if (size > SB_PARALLEL_MIN)
        for (int64_t i = 0; i < size; i++)
            h[i] = h[i] > 0.0f ? h[i] : 0.0f;
    }
    sb_linear_forward(rt, out, rt->cfg->d_model, h, n, fw->wo, 1.0f, beta);
}

/* backward.c — the training kernels: each op's training forward (keeping what its backward needs) and its
 * backward, on flat fp32 arrays (shapes in kernels.h). The forwards run the inference kernels' row
 * arithmetic itself (softmax, RMSNorm, the router), so a training forward without dropout reproduces the
 * inference forward. Every matrix product goes through sb_gemm, so the FLOP tally covers the backward. */
#include "engine/kernels/kernels.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* Columns per task where a reduction runs over rows (weight gradients of RMSNorm, embedding scatter). */
#define COLUMN_BLOCK 64

/* ---- dropout ------------------------------------------------------------------------------------------ */

uint64_t sb_dropout_key(uint64_t seed, uint64_t stream, uint64_t site)
{
    /* Each input goes through the mixer before the next is folded in, so nearby (stream, site) pairs
     * give unrelated keys. */
    return sb_mix64(sb_mix64(sb_mix64(seed + 0x632BE59BD9B4E019ull) ^ stream) ^ (site * 0x9E3779B97F4A7C15ull));
}

sb_dropout sb_dropout_make(double rate, uint64_t seed, uint64_t stream, uint64_t site)
{
    sb_dropout d = {0};
    if (!(rate > 0.0))
        return d;
    d.rate = (float)rate;
    d.scale = (float)(1.0 / (1.0 - rate));
    d.limit = (uint32_t)llround(rate * (double)(1u << 24));
    d.key = sb_dropout_key(seed, stream, site);
    return d;
}

void sb_dropout_forward(float *out, const float *inp, int64_t n, const sb_dropout *d, uint64_t first)
{
    if (!sb_dropout_active(d)) {
        if (out != inp)
            memcpy(out, inp, (size_t)n * sizeof *out);
        return;
    }
#pragma omp parallel for if (n > SB_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++)
        out[i] = inp[i] * sb_dropout_factor(d, first + (uint64_t)i);
}

/* ---- embedding ---------------------------------------------------------------------------------------- */

void sb_embedding_forward_train(float *out, const float *table, const int32_t *ids, int64_t n, int64_t c)
{
#pragma omp parallel for if (n * c > SB_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++)
        memcpy(out + i * c, table + (int64_t)ids[i] * c, (size_t)c * sizeof *out);
}

void sb_embedding_backward(float *dtable, const float *dout, const int32_t *ids, int64_t n, int64_t c)
{
    /* Tokens repeat, so rows of dtable are shared: split the columns between threads instead. */
    const int64_t blocks = (c + COLUMN_BLOCK - 1) / COLUMN_BLOCK;
#pragma omp parallel for if (n * c > SB_PARALLEL_MIN)
    for (int64_t blk = 0; blk < blocks; blk++) {
        const int64_t j0 = blk * COLUMN_BLOCK, j1 = j0 + COLUMN_BLOCK < c ? j0 + COLUMN_BLOCK : c;
        for (int64_t i = 0; i < n; i++) {
            float *row = dtable + (int64_t)ids[i] * c;
            const float *g = dout + i * c;
#pragma omp simd
            for (int64_t j = j0; j < j1; j++)
                row[j] += g[j];
        }
    }
}

/* ---- RMSNorm ------------------------------------------------------------------------------------------ */

void sb_rmsnorm_forward_train(float *out, float *rstd, const float *inp, const float *weight, int64_t n, int64_t c,
                              float eps)
{
#pragma omp parallel for if (n * c > SB_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++)
        rstd[i] = sb_rmsnorm_row(out + i * c, inp + i * c, weight, c, eps);
}

void sb_rmsnorm_recompute(float *out, const float *inp, const float *weight, const float *rstd, int64_t n, int64_t c)
{
#pragma omp parallel for if (n * c > SB_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++)
        sb_rmsnorm_scale_row(out + i * c, inp + i * c, weight, rstd[i], c);
}

void sb_rmsnorm_backward(float *dinp, float *dweight, const float *dout, const float *inp, const float *weight,
                         const float *rstd, int64_t n, int64_t c)
{
    /* y_j = w_j x_j r with r = (mean(x^2) + eps)^-1/2, dr/dx_k = -r^3 x_k / c:
     * dx_k = r w_k dy_k - x_k r^3 / c * sum_j w_j dy_j x_j. */
#pragma omp parallel for if (n * c > SB_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++) {
        const float *x = inp + i * c, *dy = dout + i * c;
        float *dx = dinp + i * c;
        const float r = rstd[i];
        float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
        for (int64_t j = 0; j < c; j++)
            dot += weight[j] * dy[j] * x[j];
        const float coef = dot * r * r * r / (float)c;
#pragma omp simd
        for (int64_t j = 0; j < c; j++)
            dx[j] += r * weight[j] * dy[j] - x[j] * coef;
    }
    const int64_t blocks = (c + COLUMN_BLOCK - 1) / COLUMN_BLOCK;
#pragma omp parallel for if (n * c > SB_PARALLEL_MIN)
    for (int64_t blk = 0; blk < blocks; blk++) {
        const int64_t j0 = blk * COLUMN_BLOCK, j1 = j0 + COLUMN_BLOCK < c ? j0 + COLUMN_BLOCK : c;
        for (int64_t i = 0; i < n; i++) {
            const float *x = inp + i * c, *dy = dout + i * c;
            const float r = rstd[i];
#pragma omp simd
            for (int64_t j = j0; j < j1; j++)
                dweight[j] += dy[j] * x[j] * r;
        }
    }
}

/* ---- linear ------------------------------------------------------------------------------------------- */

void sb_matmul_forward(sb_exec *x, float *out, int64_t ldo, const float *inp, int64_t ldi, sb_weight_operand weight,
                       int64_t n, int64_t c, int64_t oc, float alpha, float beta)
{
    sb_gemm_weights(x, true, n, oc, c, alpha, inp, ldi, weight, beta, out, ldo);
}

void sb_matmul_backward(sb_exec *x, float *dinp, int64_t ldi, float beta_inp, float *dweight, const float *dout,
                        int64_t ldo, const float *inp, sb_weight_operand weight, int64_t n, int64_t c, int64_t oc,
                        float alpha)
{
    if (dinp != NULL)
        sb_gemm_weights(x, false, n, c, oc, alpha, dout, ldo, weight, beta_inp, dinp, ldi);
    /* the weight gradient sums over every row in fp32, whatever the products compute in */
    sb_gemm(x, true, false, oc, c, n, alpha, dout, ldo, inp, ldi, 1.0f, dweight, c);
}

/* ---- attention ---------------------------------------------------------------------------------------- */

/* One row of scores -> probabilities: the inference softmax (bias and mask summed first, the same exp),
 * normalised here rather than after the AV product (the backward needs them). */
static void softmax_row_train(float *row, const float *bias, const float *mask, int64_t n)
{
    const float inv = sb_softmax_row(row, bias, mask, n);
#pragma omp simd
    for (int64_t j = 0; j < n; j++)
        row[j] *= inv;
}

/* The dropped probabilities of head h of batch row b into out (lq,lk). */
static void drop_probs(float *out, const float *p, int64_t b, int64_t h, const sb_attention_shape *s,
                       const sb_dropout *drop)
{
    const int64_t size = s->lq * s->lk;
    const uint64_t first = (uint64_t)((b * s->heads + h) * size);
    for (int64_t idx = 0; idx < size; idx++)
        out[idx] = p[idx] * sb_dropout_factor(drop, first + (uint64_t)idx);
}

void sb_attention_forward_train(sb_exec *x, float *context, float *probs, float *pdrop, const float *q, const float *k,
                                const float *v, const float *bias, const float *mask, const sb_attention_shape *s,
                                const sb_dropout *drop)
{
    const int64_t H = s->heads, lq = s->lq, lk = s->lk, dkv = s->dkv;
    const bool dropping = sb_dropout_active(drop);
    for (int64_t b = 0; b < s->batch; b++) {
        /* Heads in parallel, each thread's GEMMs single-threaded (BLAS does so inside a parallel region),
         * as the inference attention does. */
#pragma omp parallel for schedule(dynamic, 1)
        for (int64_t h = 0; h < H; h++) {
            float *p = probs + (b * H + h) * lq * lk;
            const float *qh = q + b * lq * s->ldq + h * dkv, *kh = k + b * lk * s->ldkv + h * dkv;
            const float *vh = v + b * lk * s->ldkv + h * dkv;
            sb_gemm(x, false, true, lq, lk, dkv, 1.0f, qh, s->ldq, kh, s->ldkv, 0.0f, p, lk);
            for (int64_t i = 0; i < lq; i++)
                softmax_row_train(p + i * lk, bias != NULL ? bias + (h * lq + i) * lk : NULL,
                                  mask != NULL ? mask + b * lk : NULL, lk);
            const float *a = p;
            if (dropping) {
                drop_probs(pdrop + h * lq * lk, p, b, h, s, drop);
                a = pdrop + h * lq * lk;
            }
            sb_gemm(x, false, false, lq, dkv, lk, 1.0f, a, lk, vh, s->ldkv, 0.0f, context + b * lq * s->ldc + h * dkv,
                    s->ldc);
        }
    }
}

void sb_attention_backward(sb_exec *x, float *dq, float *dk, float *dv, float *dbias, float *dprobs, float *pdrop,
                           const float *dcontext, const float *q, const float *k, const float *v, const float *probs,
                           const sb_attention_shape *s, const sb_dropout *drop)
{
    const int64_t H = s->heads, lq = s->lq, lk = s->lk, dkv = s->dkv;
    const bool dropping = sb_dropout_active(drop), shared = dk == dv;
    for (int64_t b = 0; b < s->batch; b++) {
        /* Batch rows in sequence: every row adds into the same dbias slice of its head. */
#pragma omp parallel for schedule(dynamic, 1)
        for (int64_t h = 0; h < H; h++) {
            const float *p = probs + (b * H + h) * lq * lk;
            const float *qh = q + b * lq * s->ldq + h * dkv, *kh = k + b * lk * s->ldkv + h * dkv;
            const float *vh = v + b * lk * s->ldkv + h * dkv, *dctx = dcontext + b * lq * s->ldc + h * dkv;
            float *dqh = dq + b * lq * s->ldq + h * dkv, *dkh = dk + b * lk * s->ldkv + h * dkv;
            float *dvh = dv + b * lk * s->ldkv + h * dkv, *dp = dprobs + h * lq * lk;
            const float *a = p;
            if (dropping) {
                drop_probs(pdrop + h * lq * lk, p, b, h, s, drop);
                a = pdrop + h * lq * lk;
            }
            // context = a·v: da = dcontext·vᵀ (lq,lk), dv = aᵀ·dcontext (lk,dkv)
            sb_gemm(x, false, true, lq, lk, dkv, 1.0f, dctx, s->ldc, vh, s->ldkv, 0.0f, dp, lk);
            sb_gemm(x, true, false, lk, dkv, lq, 1.0f, a, lk, dctx, s->ldc, 0.0f, dvh, s->ldkv);
            if (dropping) {
                const uint64_t first = (uint64_t)((b * H + h) * lq * lk);
                for (int64_t idx = 0; idx < lq * lk; idx++)
                    dp[idx] *= sb_dropout_factor(drop, first + (uint64_t)idx);
            }
            // softmax: dscore_j = p_j (dp_j - sum_k p_k dp_k); the bias and mask were added to the scores
            for (int64_t i = 0; i < lq; i++) {
                const float *pr = p + i * lk;
                float *g = dp + i * lk;
                float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
                for (int64_t j = 0; j < lk; j++)
                    dot += pr[j] * g[j];
#pragma omp simd
                for (int64_t j = 0; j < lk; j++)
                    g[j] = pr[j] * (g[j] - dot);
                if (dbias != NULL) {
                    float *db = dbias + (h * lq + i) * lk;
#pragma omp simd
                    for (int64_t j = 0; j < lk; j++)
                        db[j] += g[j];
                }
            }
            // scores = q·kᵀ: dq = dscores·k (lq,dkv), dk = dscoresᵀ·q (lk,dkv), added to dv under shared_kv
            sb_gemm(x, false, false, lq, dkv, lk, 1.0f, dp, lk, kh, s->ldkv, 0.0f, dqh, s->ldq);
            sb_gemm(x, true, false, lk, dkv, lq, 1.0f, dp, lk, qh, s->ldq, shared ? 1.0f : 0.0f, dkh, s->ldkv);
        }
    }
}

void sb_position_bias_backward(float *dtable, float *scratch, const float *dbias, const sb_config *cfg, bool causal,
                               int64_t lq, int64_t lk)
{
    const int64_t H = cfg->num_heads, span = lq + lk - 1, first = -(lq - 1);
    /* The bias depends on key - query only (as its forward): sum each head's diagonals, then add each
     * distance's sum to its bucket. */
#pragma omp parallel for if (H * lq * lk > SB_PARALLEL_MIN)
    for (int64_t h = 0; h < H; h++) {
        float *diag = scratch + h * span;
        memset(diag, 0, (size_t)span * sizeof *diag);
        for (int64_t i = 0; i < lq; i++) {
            const float *row = dbias + (h * lq + i) * lk;
            const int64_t end = causal && i + 1 < lk ? i + 1 : lk; /* above the diagonal: the mask */
            float *at = diag + (-i - first);
            for (int64_t j = 0; j < end; j++)
                at[j] += row[j];
        }
    }
    for (int64_t idx = 0; idx < span; idx++) {
        const int64_t bucket = sb_relative_bucket(first + idx, !causal, cfg->relative_attention_num_buckets,
                                                  cfg->relative_attention_max_distance);
        for (int64_t h = 0; h < H; h++)
            dtable[bucket * H + h] += scratch[h * span + idx];
    }
}

/* ---- feed-forward ------------------------------------------------------------------------------------- */

float sb_gelu_tanh_grad(float x)
{
    /* gelu(x) = x/2 (1 + tanh(u)), u = c (x + 0.044715 x^3):
     * gelu'(x) = (1 + tanh u)/2 + x/2 (1 - tanh^2 u) c (1 + 3 * 0.044715 x^2) */
    const float c = 0.7978845608028654f;
    const float u = c * (x + 0.044715f * x * x * x);
    const float t = 1.0f - 2.0f / (sb_exp_approx(2.0f * u) + 1.0f);
    return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * c * (1.0f + 3.0f * 0.044715f * x * x);
}

/* act = dropout(activation(hidden)): what wo multiplies. */
static void ffn_activation(float *act, const float *hidden, int64_t n, const sb_ffn_params *p, const sb_dropout *drop)
{
    const int64_t size = n * p->d_ff;
    const bool dropping = sb_dropout_active(drop);
    if (p->kind == SB_FFN_GATED_GELU) {
        const float *a = hidden, *g = hidden + size;
#pragma omp parallel for simd simdlen(16) if (size > SB_PARALLEL_MIN)
        for (int64_t i = 0; i < size; i++)
            act[i] = sb_gelu_tanh(a[i]) * g[i];
    } else if (!dropping) {
        memcpy(act, hidden, (size_t)size * sizeof *act);
    }
    if (dropping)
        sb_dropout_forward(act, p->kind == SB_FFN_GATED_GELU ? act : hidden, size, drop, 0);
}

void sb_ffn_forward_train(sb_exec *x, float *out, float *hidden, float *act, const float *inp, int64_t n,
                          const sb_ffn_params *p, const sb_dropout *drop)
{
    const int64_t d = p->d_model, f = p->d_ff, size = n * f;
    sb_matmul_forward(x, hidden, f, inp, d, p->wi, n, d, f, 1.0f, 0.0f);
    const float *a = hidden;
    if (p->kind == SB_FFN_GATED_GELU) {
        sb_matmul_forward(x, hidden + size, f, inp, d, p->wi_1, n, d, f, 1.0f, 0.0f);
        ffn_activation(act, hidden, n, p, drop);
        a = act;
    } else {
#pragma omp parallel for simd if (size > SB_PARALLEL_MIN)
        for (int64_t i = 0; i < size; i++)
            hidden[i] = hidden[i] > 0.0f ? hidden[i] : 0.0f;
        if (sb_dropout_active(drop)) {
            ffn_activation(act, hidden, n, p, drop);
            a = act;
        }
    }
    sb_matmul_forward(x, out, d, a, f, p->wo, n, f, d, 1.0f, 0.0f);
}

void sb_ffn_backward(sb_exec *x, float *dinp, float *dwi, float *dwi_1, float *dwo, float *dh, float *act,
                     const float *dout, const float *inp, const float *hidden, int64_t n, const sb_ffn_params *p,
                     const sb_dropout *drop)
{
    const int64_t d = p->d_model, f = p->d_ff, size = n * f;
    const bool gated = p->kind == SB_FFN_GATED_GELU, dropping = sb_dropout_active(drop);
    const float *a = hidden;
    if (gated || dropping) {
        ffn_activation(act, hidden, n, p, drop);
        a = act;
    }
    // out = a·woᵀ: dwo += doutᵀ·a, da = dout·wo (N,d_ff) into dh
    sb_matmul_backward(x, dh, f, 0.0f, dwo, dout, d, a, p->wo, n, f, d, 1.0f);
    if (dropping)
        sb_dropout_forward(dh, dh, size, drop, 0);
    if (gated) {
        const float *x0 = hidden, *x1 = hidden + size;
        float *d1 = dh + size;
#pragma omp parallel for simd simdlen(16) if (size > SB_PARALLEL_MIN)
        for (int64_t i = 0; i < size; i++) {
            const float g = dh[i];
            dh[i] = g * x1[i] * sb_gelu_tanh_grad(x0[i]);
            d1[i] = g * sb_gelu_tanh(x0[i]);
        }
    } else {
        /* relu: hidden holds relu(pre), positive exactly where pre was */
#pragma omp parallel for simd if (size > SB_PARALLEL_MIN)
        for (int64_t i = 0; i < size; i++)
            dh[i] = hidden[i] > 0.0f ? dh[i] : 0.0f;
    }
    sb_matmul_backward(x, dinp, d, 0.0f, dwi, dh, f, inp, p->wi, n, d, f, 1.0f);
    if (gated)
        sb_matmul_backward(x, dinp, d, 1.0f, dwi_1, dh + size, f, inp, p->wi_1, n, d, f, 1.0f);
}

/* ---- Switch router ------------------------------------------------------------------------------------ */

void sb_router_backward(float *dlogits, const float *logits, const float *probs, const int32_t *choice,
                        const float *dgate, const float *lb_frac, double lb_scale, double z_scale, int64_t batch,
                        int64_t len, int64_t experts)
{
    const int64_t n = batch * len;
#pragma omp parallel for if (n * experts > SB_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++) {
        const float *p = probs + i * experts, *l = logits + i * experts;
        const float *frac = lb_frac != NULL ? lb_frac + (i / len) * experts : NULL;
        float *dl = dlogits + i * experts;
        /* d loss / d probs: the load-balancing term (constant per expert for the row), the gate at the
         * chosen expert; then through the softmax: dl_e = p_e (dp_e - sum_k p_k dp_k). */
        double dot = (double)p[choice[i]] * dgate[i];
        for (int64_t e = 0; frac != NULL && e < experts; e++)
            dot += (double)p[e] * lb_scale * frac[e];
        /* z-loss: d lse^2 / d l_e = 2 lse p_e */
        const double lse = z_scale != 0.0 ? sb_row_logsumexp(l, experts) : 0.0;
        for (int64_t e = 0; e < experts; e++) {
            double dp = (frac != NULL ? lb_scale * frac[e] : 0.0) + (e == choice[i] ? dgate[i] : 0.0);
            dl[e] = (float)(p[e] * (dp - dot) + z_scale * 2.0 * lse * p[e]);
        }
    }
}

double sb_router_z_sum(const float *logits, int64_t n, int64_t experts)
{
    double total = 0.0;
#pragma omp parallel for reduction(+ : total) if (n * experts > SB_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++) {
        const double lse = sb_row_logsumexp(logits + i * experts, experts);
        total += lse * lse;
    }
    return total;
}

void sb_switch_gather(float *out, const float *inp, const int32_t *slot, int64_t n, int64_t c)
{
#pragma omp parallel for if (n * c > SB_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++)
        if (slot[i] >= 0)
            memcpy(out + (int64_t)slot[i] * c, inp + i * c, (size_t)c * sizeof *out);
}

void sb_switch_combine_forward(float *out, const float *expert_out, const float *gate, const int32_t *slot, int64_t n,
                               int64_t c)
{
#pragma omp parallel for if (n * c > SB_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++) {
        float *o = out + i * c;
        if (slot[i] < 0) {
            memset(o, 0, (size_t)c * sizeof *o); /* dropped: contributes 0, the residual passes it on */
            continue;
        }
        const float *y = expert_out + (int64_t)slot[i] * c;
        for (int64_t j = 0; j < c; j++)
            o[j] = gate[i] * y[j];
    }
}

void sb_switch_combine_backward(float *dexpert_out, float *dgate, const float *dout, const float *expert_out,
                                const float *gate, const int32_t *slot, int64_t n, int64_t c)
{
#pragma omp parallel for if (n * c > SB_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++) {
        if (slot[i] < 0) {
            dgate[i] = 0.0f;
            continue;
        }
        const float *g = dout + i * c, *y = expert_out + (int64_t)slot[i] * c;
        float *dy = dexpert_out + (int64_t)slot[i] * c;
        float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
        for (int64_t j = 0; j < c; j++) {
            dot += g[j] * y[j];
            dy[j] = gate[i] * g[j];
        }
        dgate[i] = dot;
    }
}

/* ---- cross-entropy ------------------------------------------------------------------------------------ */

double sb_cross_entropy_sum(const float *logits, const int32_t *labels, int64_t n, int64_t vocab, int64_t *counted)
{
    double total = 0.0;
    int64_t count = 0, bad = 0;
#pragma omp parallel for reduction(+ : total, count, bad) if (n * vocab > SB_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++) {
        if (labels[i] == -100)
            continue;
        if (labels[i] < 0 || labels[i] >= vocab) {
            bad++;
            continue;
        }
        const float *row = logits + i * vocab;
        total += sb_row_logsumexp(row, vocab) - row[labels[i]];
        count++;
    }
    *counted = count;
    return bad > 0 ? NAN : total;
}

void sb_cross_entropy_backward(float *logits, const int32_t *labels, int64_t n, int64_t vocab, float scale)
{
#pragma omp parallel for if (n * vocab > SB_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++) {
        float *row = logits + i * vocab;
        if (labels[i] < 0 || labels[i] >= vocab) {
            memset(row, 0, (size_t)vocab * sizeof *row);
            continue;
        }
        const float max = sb_row_max(row, vocab);
        const double inv = 1.0 / sb_row_sum_exp(row, vocab, max);
        for (int64_t j = 0; j < vocab; j++)
            row[j] = (float)(scale * exp((double)row[j] - max) * inv);
        row[labels[i]] -= scale;
    }
}

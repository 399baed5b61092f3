/* kernels.h — the engine's arithmetic on flat fp32 arrays, llm.c style, shared by the inference runtime and
 * the trainer so that both compute the same thing:
 *
 *   - element-wise math: the vectorised exp, gelu, the softmax row, RMSNorm rows, log-sum-exp;
 *   - T5's relative position bias (buckets, Toeplitz diagonals, the matrix) and the Switch routing;
 *   - the training kernels: each training forward that must keep something for its backward, paired with
 *     its `*_backward`.
 *
 * Shapes are in the comments, row-major; "+=" marks an output the kernel accumulates into (the caller zeroes
 * it), "=" one it overwrites. Every matrix product goes through sb_gemm on the caller's execution context.
 * Depends on exec/, variants/ and common/.
 */
#ifndef SHAPEBENCH_KERNELS_H
#define SHAPEBENCH_KERNELS_H

#include "engine/exec/exec.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* Loops shorter than this run on one thread: a parallel region costs more than the work. */
#define SB_PARALLEL_MIN 4096

/* ---- element-wise math shared by the forward and the training kernels ------------------------------- */

/* exp for the softmax and the gelu: Cephes' range reduction and degree-5 polynomial (about 2 ulp), written
 * so that the compiler vectorises it, which glibc's expf does not without -ffast-math; fmaf because ISO C
 * mode does not contract a * b + c. Arguments below the float range give exactly 0, so masked scores
 * vanish as they do in HF. */
static inline float sb_exp_approx(float x)
{
    const float lo = -87.3365f, hi = 88.0f, round = 12582912.0f; /* 1.5 * 2^23 */
    float xc = x < lo ? lo : (x > hi ? hi : x);
    /* n = nearest integer to x / ln 2, by the 1.5 * 2^23 trick: floorf would stop the vectoriser */
    float shifted = fmaf(xc, 1.44269504088896341f, round);
    float n = shifted - round;
    float r = fmaf(n, 2.12194440e-4f, fmaf(n, -0.693359375f, xc));
    float p = 1.9875691500e-4f;
    p = fmaf(p, r, 1.3981999507e-3f);
    p = fmaf(p, r, 8.3334519073e-3f);
    p = fmaf(p, r, 4.1665795894e-2f);
    p = fmaf(p, r, 1.6666665459e-1f);
    p = fmaf(p, r, 5.0000001201e-1f);
    float y = fmaf(p, r * r, r) + 1.0f;
    /* 2^n from the low mantissa bits of `shifted` (one ulp there is 1), in unsigned arithmetic: converting
     * n to int would be undefined for a NaN argument, whose result stays NaN through y whatever the scale */
    uint32_t shifted_bits, round_bits;
    memcpy(&shifted_bits, &shifted, sizeof shifted_bits);
    memcpy(&round_bits, &round, sizeof round_bits);
    uint32_t bits = (shifted_bits - round_bits + 127u) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return x < lo ? 0.0f : y * scale;
}

/* gelu with the tanh approximation (HF's gelu_new), tanh(y) = 1 - 2 / (exp(2y) + 1). */
static inline float sb_gelu_tanh(float x)
{
    const float y = 0.7978845608028654f * (x + 0.044715f * x * x * x);
    return 0.5f * x * (1.0f + (1.0f - 2.0f / (sb_exp_approx(2.0f * y) + 1.0f)));
}

/* One row of attention scores: adds position bias and mask (summed first, as HF does), replaces each score
 * by its softmax numerator exp(x - max) and returns 1 / the denominator; the caller normalises (inference
 * after the AV product, where d_kv multiplies per row rather than lk; training before it, since its
 * backward needs the probabilities). 16 lanes: the exp is compute-bound, and wider vectors pay where the
 * machine has them. This is the portable version; sb_softmax_row below is the one to call. */
static inline float sb_softmax_row_portable(float *row, const float *bias, const float *mask, int64_t n)
{
    float max = -FLT_MAX;
    if (bias != NULL && mask != NULL) {
#pragma omp simd simdlen(16) reduction(max : max)
        for (int64_t j = 0; j < n; j++) {
            row[j] += bias[j] + mask[j];
            max = row[j] > max ? row[j] : max;
        }
    } else if (bias != NULL || mask != NULL) {
        const float *add = bias != NULL ? bias : mask;
#pragma omp simd simdlen(16) reduction(max : max)
        for (int64_t j = 0; j < n; j++) {
            row[j] += add[j];
            max = row[j] > max ? row[j] : max;
        }
    } else {
#pragma omp simd simdlen(16) reduction(max : max)
        for (int64_t j = 0; j < n; j++)
            max = row[j] > max ? row[j] : max;
    }
    float sum = 0.0f;
#pragma omp simd simdlen(16) reduction(+ : sum)
    for (int64_t j = 0; j < n; j++) {
        row[j] = sb_exp_approx(row[j] - max);
        sum += row[j];
    }
    return 1.0f / sum;
}

#if defined(__AVX512F__)
#include <immintrin.h>

/* sb_exp_approx on 16 lanes, bit for bit: the same reduction and polynomial, with min/max for the clamp
 * and vscalefps for y * 2^n, where GCC compiles the portable form's selects to mask blends. */
static inline __m512 sb_exp_approx16(__m512 x)
{
    const __m512 lo = _mm512_set1_ps(-87.3365f), round = _mm512_set1_ps(12582912.0f);
    /* max/min return their second operand when one is NaN: x second, so NaN stays NaN */
    const __m512 xc = _mm512_min_ps(_mm512_set1_ps(88.0f), _mm512_max_ps(lo, x));
    const __m512 n = _mm512_sub_ps(_mm512_fmadd_ps(xc, _mm512_set1_ps(1.44269504088896341f), round), round);
    const __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f),
                                     _mm512_fmadd_ps(n, _mm512_set1_ps(-0.693359375f), xc));
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    const __m512 y = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
    /* x < lo gives 0; NaN (unordered) keeps its NaN */
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, lo, _CMP_NLT_UQ), _mm512_scalef_ps(y, n));
}

/* sb_softmax_row_portable with AVX-512: the same numerators bit for bit (the denominator's sum may round
 * differently in its last bit: another order of the 16 lanes), in 0.6 of the time on Zen 5. The tail of a
 * row is a masked vector. */
static inline float sb_softmax_row(float *row, const float *bias, const float *mask, int64_t n)
{
    __m512 max16 = _mm512_set1_ps(-FLT_MAX);
    for (int64_t j = 0; j < n; j += 16) {
        const __mmask16 lanes = n - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - j)) - 1);
        __m512 v = _mm512_maskz_loadu_ps(lanes, row + j);
        if (bias != NULL && mask != NULL)
            v = _mm512_add_ps(v, _mm512_add_ps(_mm512_maskz_loadu_ps(lanes, bias + j),
                                               _mm512_maskz_loadu_ps(lanes, mask + j)));
        else if (bias != NULL || mask != NULL)
            v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(lanes, bias != NULL ? bias + j : mask + j));
        _mm512_mask_storeu_ps(row + j, lanes, v);
        max16 = _mm512_mask_max_ps(max16, lanes, max16, v);
    }
    const __m512 max = _mm512_set1_ps(_mm512_reduce_max_ps(max16));
    __m512 sum16 = _mm512_setzero_ps();
    for (int64_t j = 0; j < n; j += 16) {
        const __mmask16 lanes = n - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - j)) - 1);
        const __m512 e = sb_exp_approx16(_mm512_sub_ps(_mm512_maskz_loadu_ps(lanes, row + j), max));
        _mm512_mask_storeu_ps(row + j, lanes, e);
        sum16 = _mm512_mask_add_ps(sum16, lanes, sum16, e);
    }
    return 1.0f / _mm512_reduce_add_ps(sum16);
}
#else
static inline float sb_softmax_row(float *row, const float *bias, const float *mask, int64_t n)
{
    return sb_softmax_row_portable(row, bias, mask, n);
}
#endif

/* Whether every x[0..n) is +0 or -0. */
static inline bool sb_all_zero(const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (x[i] != 0.0f)
            return false;
    return true;
}

/* One RMSNorm row of c given its 1/rms: y = weight * (x * inv). */
static inline void sb_rmsnorm_scale_row(float *y, const float *x, const float *weight, float inv, int64_t c)
{
#pragma omp simd
    for (int64_t j = 0; j < c; j++)
        y[j] = weight[j] * (x[j] * inv);
}

/* One RMSNorm row of c (T5: no mean subtraction, no bias); returns inv = 1 / sqrt(mean(x^2) + eps). */
static inline float sb_rmsnorm_row(float *y, const float *x, const float *weight, int64_t c, float eps)
{
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < c; j++)
        sum += x[j] * x[j];
    const float inv = 1.0f / sqrtf(sum / (float)c + eps);
    sb_rmsnorm_scale_row(y, x, weight, inv, c);
    return inv;
}

/* Largest of row[0..n), n >= 1. */
static inline float sb_row_max(const float *row, int64_t n)
{
    float max = row[0];
    for (int64_t j = 1; j < n; j++)
        max = row[j] > max ? row[j] : max;
    return max;
}

/* sum_j exp(row_j - max) in double with libm's exp: the losses' softmax denominators (cross-entropy, router
 * z-loss), which are reported and compared with float64 references, unlike the attention's. */
static inline double sb_row_sum_exp(const float *row, int64_t n, float max)
{
    double sum = 0.0;
    for (int64_t j = 0; j < n; j++)
        sum += exp((double)row[j] - max);
    return sum;
}

/* log sum_j exp(row_j), in double. */
static inline double sb_row_logsumexp(const float *row, int64_t n)
{
    const float max = sb_row_max(row, n);
    return log(sb_row_sum_exp(row, n, max)) + max;
}

/* ---- position bias and routing (position_bias.c, routing.c) ----------------------------------------- */

// inp (N,C), weight (C) -> out (N,C): RMSNorm (T5: no mean subtraction, no bias)
void sb_rmsnorm_forward(float *out, const float *inp, const float *weight, int64_t n, int64_t c, float eps);
/* T5's relative position bucket of rel = key_pos - query_pos: bidirectional (encoder) or causal
 * (decoder), logarithmic beyond num_buckets/4 (or /2) up to max_distance, computed in float32 as HF does. */
int64_t sb_relative_bucket(int64_t rel, bool bidirectional, int64_t num_buckets, int64_t max_distance);
/* T5's position bias of query position q0+i against key j depends on the distance j - (q0+i) only, so a
 * head's (lq, lk) bias is a Toeplitz matrix: its lq+lk-1 diagonals hold every value, and row i is the
 * window of lk of them starting at diagonal lq-1-i. The runtime keeps the diagonals (H x 2L floats, in
 * cache) rather than the matrix (H x L x L, read from memory by every block). */
static inline int64_t sb_position_bias_span(int64_t lq, int64_t lk)
{
    return lq + lk - 1;
}
static inline const float *sb_position_bias_row(const float *head_diagonals, int64_t lq, int64_t i)
{
    return head_diagonals + (lq - 1 - i);
}
// table (num_buckets,H) -> diagonals (H, lq+lk-1) for query positions q0..q0+lq-1 against keys 0..lk-1;
// the decoder (causal) gets the most negative float above the diagonal, as HF's extended mask adds it
void sb_position_bias_diagonals(float *diagonals, const float *table, const sb_config *cfg, bool causal, int64_t q0,
                                int64_t lq, int64_t lk);
// the same as a matrix: table -> bias (H,lq,lk), using scratch (H, lq+lk-1) (the trainer keeps the matrix)
void sb_position_bias_forward(float *bias, float *scratch, const float *table, const sb_config *cfg, bool causal,
                              int64_t q0, int64_t lq, int64_t lk);

// The routing of a sparse layer, for the inference forward and the trainer alike. logits (B*len,E) -> choice
// (B*len) = argmax of the softmax (expf; ties: the lowest index), gate (B*len) = its probability, probs
// (B*len,E) = the softmax unless NULL; slot (B*len) = row among the kept tokens or -1 when over capacity (the
// first `capacity` tokens of each sequence choosing an expert, in order), offset (E+1) = first kept row of
// each expert (kept rows are numbered expert by expert, token order within one). fill (E): scratch.
// Returns the kept count.
int64_t sb_switch_route(float *probs, int32_t *choice, float *gate, int32_t *slot, int32_t *offset, int32_t *fill,
                        const float *logits, int64_t batch, int64_t len, int64_t experts, int64_t capacity);

/* ---- dropout ------------------------------------------------------------------------------------------ */

/* Counter-based dropout: whether element `index` of a site is kept is a hash of (key, index), so the
 * backward regenerates the forward's mask instead of storing it, any thread can draw any element, and the
 * mask does not depend on the weights (finite differences through a training forward stay valid). key
 * comes from sb_dropout_key(seed, stream, site): one stream per training step, one site per place
 * dropout is applied. rate 0 (inference, or dropout off) is the identity. */
typedef struct {
    float rate;     /* probability of zeroing an element */
    float scale;    /* 1 / (1 - rate): kept elements are scaled so the expectation is unchanged (as torch) */
    uint32_t limit; /* an element is dropped when the 24-bit draw is below this */
    uint64_t key;
} sb_dropout;

sb_dropout sb_dropout_make(double rate, uint64_t seed, uint64_t stream, uint64_t site);
/* The key alone (other per-element draws, e.g. the router jitter). */
uint64_t sb_dropout_key(uint64_t seed, uint64_t stream, uint64_t site);
/* Uniform 24-bit integer for (key, index): splitmix64's output function on the counter. */
static inline uint32_t sb_dropout_draw(uint64_t key, uint64_t index)
{
    uint64_t z = key + (index + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (uint32_t)((z ^ (z >> 31)) >> 40);
}
/* The factor element `index` is multiplied by: 0 or scale. */
static inline float sb_dropout_factor(const sb_dropout *d, uint64_t index)
{
    return sb_dropout_draw(d->key, index) < d->limit ? 0.0f : d->scale;
}
static inline bool sb_dropout_active(const sb_dropout *d)
{
    return d != NULL && d->rate > 0.0f;
}
// inp (N) -> out (N) = inp * factor(first + i); in place allowed. The backward is the same call on the
// gradient (the same factors multiply it).
void sb_dropout_forward(float *out, const float *inp, int64_t n, const sb_dropout *d, uint64_t first);

/* ---- embedding ---------------------------------------------------------------------------------------- */

// table (V,C), ids (N) -> out (N,C) rows of the table
void sb_embedding_forward_train(float *out, const float *table, const int32_t *ids, int64_t n, int64_t c);
// dout (N,C) -> dtable (V,C) += dout rows at ids (repeated ids add up)
void sb_embedding_backward(float *dtable, const float *dout, const int32_t *ids, int64_t n, int64_t c);

/* ---- RMSNorm (T5: no mean subtraction, no bias) ------------------------------------------------------- */

// inp (N,C), weight (C) -> out (N,C) = weight * inp * rstd, rstd (N) = 1 / sqrt(mean(inp^2) + eps); the same
// arithmetic as sb_rmsnorm_forward
void sb_rmsnorm_forward_train(float *out, float *rstd, const float *inp, const float *weight, int64_t n, int64_t c,
                              float eps);
// recomputes the forward's out from its input and rstd, bitwise equal (the backward needs it for weight
// gradients; storing it would cost one more (N,C) per sublayer)
void sb_rmsnorm_recompute(float *out, const float *inp, const float *weight, const float *rstd, int64_t n, int64_t c);
// dout (N,C) -> dinp (N,C) +=, dweight (C) +=
void sb_rmsnorm_backward(float *dinp, float *dweight, const float *dout, const float *inp, const float *weight,
                         const float *rstd, int64_t n, int64_t c);

/* ---- linear (no bias) --------------------------------------------------------------------------------- */

/* The weight is an operand in HF layout, fp32 or (products in bf16) a bf16 copy; inputs, outputs and the
 * weight gradient are fp32 (sb_gemm_weights, sb_gemm). */
// inp (N,C), weight (OC,C) -> out (N,OC) with row stride ldo, = alpha * inp·weightᵀ + beta * out
void sb_matmul_forward(sb_exec *x, float *out, int64_t ldo, const float *inp, int64_t ldi, sb_weight_operand weight,
                       int64_t n, int64_t c, int64_t oc, float alpha, float beta);
// dout (N,OC) row stride ldo -> dinp (N,C) row stride ldi = alpha * dout·weight + beta_inp * dinp (dinp NULL:
// skipped), dweight (OC,C) += alpha * doutᵀ·inp
void sb_matmul_backward(sb_exec *x, float *dinp, int64_t ldi, float beta_inp, float *dweight, const float *dout,
                        int64_t ldo, const float *inp, sb_weight_operand weight, int64_t n, int64_t c, int64_t oc,
                        float alpha);

/* ---- attention ---------------------------------------------------------------------------------------- */

/* Shapes of one attention call: B batch rows, lq queries, lk keys, H heads of dkv columns. q rows have
 * stride ldq, k and v rows ldkv (k == v under shared_kv), context rows ldc; head h owns columns
 * h*dkv..(h+1)*dkv-1 of each. T5 does not scale the scores by 1/sqrt(dkv). */
typedef struct {
    int64_t batch, lq, lk, heads, dkv;
    int64_t ldq, ldkv, ldc;
} sb_attention_shape;

// q, k, v, bias (H,lq,lk) or NULL, mask (B,lk) additive or NULL -> probs (B,H,lq,lk) = softmax(q kᵀ + (bias +
// mask)) saved for the backward, context (B*lq, ldc) = dropout(probs)·v. pdrop (H,lq,lk): scratch for the
// dropped probabilities of one batch row (unused without dropout). Dropout index of probs element
// ((b*H + h)*lq + i)*lk + j. Heads run in parallel, each GEMM single-threaded.
void sb_attention_forward_train(sb_exec *x, float *context, float *probs, float *pdrop, const float *q,
                                const float *k, const float *v, const float *bias, const float *mask,
                                const sb_attention_shape *s, const sb_dropout *drop);
// dcontext -> dq = (B*lq, ldq), dk, dv = (B*lk, ldkv) (when dk == dv, shared_kv: their sum), dbias (H,lq,lk) +=
// summed over the batch (NULL: not needed). dprobs, pdrop (H,lq,lk): scratch.
void sb_attention_backward(sb_exec *x, float *dq, float *dk, float *dv, float *dbias, float *dprobs, float *pdrop,
                           const float *dcontext, const float *q, const float *k, const float *v, const float *probs,
                           const sb_attention_shape *s, const sb_dropout *drop);

// dbias (H,lq,lk) of sb_position_bias_forward(q0 = 0, lq, lk) -> dtable (num_buckets,H) += each entry added to
// the bucket its distance maps to; causal: entries above the diagonal (the mask, not the table) excluded.
// scratch: (H, lq + lk - 1).
void sb_position_bias_backward(float *dtable, float *scratch, const float *dbias, const sb_config *cfg, bool causal,
                               int64_t lq, int64_t lk);

/* ---- feed-forward ------------------------------------------------------------------------------------- */

typedef struct {
    sb_ffn_kind kind;
    int64_t d_model, d_ff;
    /* (d_ff,d_model), gated: wi is wi_0 (wi_1.data NULL otherwise); wo (d_model,d_ff); as sb_matmul_forward */
    sb_weight_operand wi, wi_1, wo;
} sb_ffn_params;

// inp (N,d_model) -> out (N,d_model) = wo(dropout(act(wi inp))); hidden saved: relu (N,d_ff) = relu(wi inp),
// gated (N,2*d_ff) = [wi_0 inp | wi_1 inp] (first all rows of wi_0, then of wi_1). act (N,d_ff): scratch for
// the dropped activation. Dropout index row*d_ff + j.
void sb_ffn_forward_train(sb_exec *x, float *out, float *hidden, float *act, const float *inp, int64_t n,
                          const sb_ffn_params *p, const sb_dropout *drop);
// dout (N,d_model) -> dinp (N,d_model) =, dwi, dwi_1, dwo +=. dh (N,2*d_ff gated else d_ff), act (N,d_ff):
// scratch.
void sb_ffn_backward(sb_exec *x, float *dinp, float *dwi, float *dwi_1, float *dwo, float *dh, float *act,
                     const float *dout, const float *inp, const float *hidden, int64_t n, const sb_ffn_params *p,
                     const sb_dropout *drop);
// derivative of sb_gelu_tanh
float sb_gelu_tanh_grad(float x);

/* ---- Switch router ------------------------------------------------------------------------------------ */

/* The routing itself (probabilities, choice, gate, capacity) is the inference's: sb_switch_route above,
 * called with probs for the backward.
 *
 * The gradient of a sparse layer's router logits, for the loss terms that depend on them:
 *   sum_i dgate_i * probs[i, choice_i]                               (the gate on the expert output)
 *   + lb_scale * sum_b sum_e lb_frac[b,e] * sum_{i in row b} probs[i,e]  (load balancing, lb_frac constant)
 *   + z_scale * sum_i logsumexp(logits_i)^2                          (router z-loss)
 * logits, probs (B*len,E), dgate (B*len) -> dlogits (B*len,E) =. lb_frac NULL: no load-balancing term. */
void sb_router_backward(float *dlogits, const float *logits, const float *probs, const int32_t *choice,
                        const float *dgate, const float *lb_frac, double lb_scale, double z_scale, int64_t batch,
                        int64_t len, int64_t experts);
// logits (N,E) -> sum_i logsumexp(logits_i)^2, in double
double sb_router_z_sum(const float *logits, int64_t n, int64_t experts);

// gathers rows: out[slot[i]] = inp[i] for slot[i] >= 0; inp (N,C), out (kept,C)
void sb_switch_gather(float *out, const float *inp, const int32_t *slot, int64_t n, int64_t c);
// out (N,C) = gate_i * expert_out[slot[i]] for kept tokens, 0 for dropped ones
void sb_switch_combine_forward(float *out, const float *expert_out, const float *gate, const int32_t *slot, int64_t n,
                               int64_t c);
// dout (N,C) -> dexpert_out (kept,C) = gate_i * dout_i, dgate (N) = dout_i · expert_out[slot[i]] (0 dropped)
void sb_switch_combine_backward(float *dexpert_out, float *dgate, const float *dout, const float *expert_out,
                                const float *gate, const int32_t *slot, int64_t n, int64_t c);

/* ---- cross-entropy ------------------------------------------------------------------------------------ */

// logits (N,V), labels (N), -100 ignored -> sum over counted rows of -log softmax(logits)[label], in double;
// *counted = the rows counted. A label outside [0,V) other than -100 gives NAN.
double sb_cross_entropy_sum(const float *logits, const int32_t *labels, int64_t n, int64_t vocab, int64_t *counted);
// logits (N,V) -> dlogits in place = scale * (softmax - onehot(label)); ignored rows 0
void sb_cross_entropy_backward(float *logits, const int32_t *labels, int64_t n, int64_t vocab, float scale);

#endif

/* forward.h — internals shared by the forward-pass files: the runtime's state, the weights of one block
 * resolved from the tensor table, and the layer kernels. The trainer (train.c, backward.c) uses the same
 * table and the row kernels below, so its forward is the inference forward's arithmetic. Not part of the
 * engine's public API. */
#ifndef SHAPEBENCH_FORWARD_H
#define SHAPEBENCH_FORWARD_H

#include "engine/engine.h"

#include <float.h>
#include <math.h>
#include <string.h>

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
    sb_router_stats *stats;      /* sparse blocks, runtime only: this block's statistics */
    int64_t *per_expert;         /* sparse blocks, runtime only: storage behind stats->per_expert */
} sb_block_weights;

typedef struct {
    sb_stack stack;
    int64_t num_blocks;
    sb_block_weights *blocks;
    const sb_tensor *bias_table; /* relative_attention_bias of block 0, (num_buckets, H) */
    const sb_tensor *final_ln;
} sb_stack_weights;

struct sb_runtime {
    const sb_weights *w;
    const sb_config *cfg;
    int64_t max_batch, max_src, max_tgt;
    sb_activation_plan plan;
    void *arena; /* every activation buffer of the plan, carved below (sb_pages_alloc) */
    size_t arena_bytes, kv_cache_bytes;
    float *hidden, *normed, *encoder_output, *mask, *qkv, *context, *scores, *row_scale, *position_bias, *ffn_hidden,
        *router, *expert_in, *expert_out, *logits;
    int32_t *choice, *slot;              /* per token: chosen expert, row in expert_in or -1 (dropped) */
    int32_t *expert_offset, *expert_fill; /* per expert: first row in expert_in (E+1), running counters */
    int64_t *kept_counts;                /* per sparse block: E kept counts, behind its router stats */
    float *weight_scratch;               /* bf16 storage only: one weight matrix (or a row block) in fp32 */
    int64_t weight_scratch_floats;
    float *kv_cache; /* generation, batch row 0: per decoder block self [K|V] rows (max_tgt), then cross (max_src);
                      * sb_pages_alloc */
    sb_stack_weights encoder, decoder;
    const sb_tensor *shared, *lm_head;
    sb_router_stats *stats;
    size_t num_stats;
    sb_observer observer;
    int64_t batch, src_len, tgt_len; /* of the last sb_encode / sb_decode; src_len 0 before any encode */
    bool failed;      /* a product of this pass failed (pre-packed weights only: oneDNN could not run it) */
    sb_error failure; /* the first such failure, returned by the pass's entry point */
};

/* Loops shorter than this run on one thread: a parallel region costs more than the work. */
#define SB_PARALLEL_MIN 4096

/* ---- GEMM internals (gemm.c) ------------------------------------------------------------------------------ */

/* Every product's bookkeeping, whichever path runs it: adds 2*m*n*k to the FLOP tally and records the shape
 * when the benchmark is recording. */
void sb_gemm_account(bool trans_a, bool trans_b, bool packed_b, int64_t m, int64_t n, int64_t k);

/* Every tensor is about to be overwritten in HF layout (init, checkpoint read): none is packed any more. */
void sb_weights_mark_plain(sb_weights *w);

/* ---- profile spans (profile.c) ------------------------------------------------------------------------- */

/* A region's start: the clock and the FLOP tally. Closed by the thread that opened it, outside parallel
 * regions. */
typedef struct {
    double start;
    int64_t flops;
} sb_span;
sb_span sb_span_begin(void);
/* Adds the time and FLOPs since `since` to op class c. */
void sb_span_op(sb_op_class c, sb_span since);
/* Adds them to the stack's block totals (and to the generation steps' when generation_step). */
void sb_span_blocks(sb_stack stack, bool generation_step, sb_span since);

/* ---- the tensor table by block (tensor_table.c), for the runtime and the trainer ------------------------ */

/* Finds every tensor of w's model by its HF name: shared (and lm_head, = shared when tied) and each stack's
 * blocks. Router stats are left unset (the runtime wires its own). On failure the stacks may hold partial
 * tables: free them with sb_stack_weights_free either way. */
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

/* ---- weights in fp32 (runtime.c) ------------------------------------------------------------------------ */

/* The tensor as fp32: its storage under f32, else converted into the weight scratch (valid until the next
 * call). Only for tensors that fit the scratch (all but the vocabulary tables). */
const float *sb_weight_f32(sb_runtime *rt, const sb_tensor *t);
/* A pass's entry and exit (sb_encode, sb_decode, sb_generate_greedy): begin refuses pre-packed weights on a
 * backend other than oneDNN; end returns the first failure of the pass's products (-1), else 0. */
int sb_pass_begin(sb_runtime *rt, sb_error *err);
int sb_pass_end(sb_runtime *rt, sb_error *err);
// inp (N,C), weight (OC,C) -> out (N,OC) with row stride ldo, = alpha * inp·weightᵀ + beta * out
void sb_linear_forward(sb_runtime *rt, float *out, int64_t ldo, const float *inp, int64_t n, const sb_tensor *weight,
                       float alpha, float beta);

/* Where a block's attention keys and values live, as rows [K|V] (just K under shared_kv) of width
 * sb_kv_width. Teacher-forced: self_kv NULL (projected with the queries into rt->qkv, rows [Q|K|V]) and
 * cross_kv projected from the encoder output. Generating: the KV cache, the new token's self K/V written
 * into row `at`, cross K/V computed once before the first step. */
typedef struct {
    float *self_kv;
    int64_t at; /* row of this call's first token among the self keys (0 unless generating) */
    float *cross_kv;
    bool project_cross;
} sb_kv;

/* Width of a [K|V] row: 2 * inner, or inner under shared_kv (one projection serves as both). */
int64_t sb_kv_width(const sb_config *cfg);

// hidden (B*len, d_model) -> hidden: one T5 block (self-attention, cross-attention in the decoder, FFN or
// Switch MLP), each sublayer pre-norm residual; uses rt->position_bias of the stack and rt->mask
void sb_block_forward(sb_runtime *rt, const sb_stack_weights *sw, int64_t block, int64_t batch, int64_t len,
                      const sb_kv *kv);
// inp (N,C), weights[count] each (OC,C) -> out (N, ldo), columns j*OC.. = inp·weights[j]ᵀ; one GEMM when
// the tensors are adjacent fp32 storage
void sb_projection_forward(sb_runtime *rt, float *out, int64_t ldo, const float *inp, int64_t n,
                           const sb_tensor *const *weights, int count);
/* Every id of ids[n] in the vocabulary (ids NULL: missing); the error names `what` and the first bad one. */
int sb_check_ids(const sb_config *cfg, const int32_t *ids, int64_t n, const char *what, sb_error *err);

/* ---- element-wise math shared by the forward and the training kernels ---------------------------------- */

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

/* ---- layers (layers.c) ---------------------------------------------------------------------------------- */

// ids (N) -> out (N,C) rows of the embedding table; ids already checked against the vocabulary
void sb_embedding_forward(sb_runtime *rt, float *out, const int32_t *ids, int64_t n);
// inp (N,C), weight (C) -> out (N,C)
void sb_rmsnorm_forward(float *out, const float *inp, const float *weight, int64_t n, int64_t c, float eps);
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
// q (B*lq, ldq), k, v (B*lk, ldkv) with H heads of d_kv columns, bias diagonals (H, lq+lk-1) or NULL, mask
// (B,lk) additive or NULL -> context (B*lq, ldc): per (batch, head) softmax(q kᵀ + bias + mask) v, unscaled
void sb_attention_forward(sb_runtime *rt, float *context, int64_t ldc, const float *q, int64_t ldq, const float *k,
                          const float *v, int64_t ldkv, int64_t batch, int64_t lq, int64_t lk, const float *bias,
                          const float *mask);
// inp (N,d_model) -> out (N,d_model) = beta * out + wo(act(wi inp)), act relu or gelu_tanh gated
void sb_ffn_forward(sb_runtime *rt, float *out, const float *inp, int64_t n, const sb_ffn_weights *fw, float beta);

/* ---- Switch sparse MLP (switch_mlp.c) ------------------------------------------------------------------- */

// The routing of a sparse layer, for the inference forward and the trainer alike. logits (B*len,E) -> choice
// (B*len) = argmax of the softmax (expf; ties: the lowest index), gate (B*len) = its probability, probs
// (B*len,E) = the softmax unless NULL; slot (B*len) = row among the kept tokens or -1 when over capacity (the
// first `capacity` tokens of each sequence choosing an expert, in order), offset (E+1) = first kept row of
// each expert (kept rows are numbered expert by expert, token order within one). fill (E): scratch.
// Returns the kept count.
int64_t sb_switch_route(float *probs, int32_t *choice, float *gate, int32_t *slot, int32_t *offset, int32_t *fill,
                        const float *logits, int64_t batch, int64_t len, int64_t experts, int64_t capacity);

// u (B*len, d_model) normed input -> hidden (B*len, d_model) += gate * expert(u) for kept tokens
void sb_switch_forward(sb_runtime *rt, const sb_block_weights *bw, sb_stack stack, int64_t block, float *hidden,
                       const float *u, int64_t batch, int64_t len);

#endif

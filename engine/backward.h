/* backward.h — the training kernels (backward.c), llm.c style: plain functions over flat fp32 arrays, each
 * training forward that must keep something for its backward paired with its `*_backward`. Shapes are in
 * the comments, row-major; "+=" marks an output the kernel accumulates into (the caller zeroes it), "="
 * one it overwrites. Every matrix product goes through sb_gemm. Used by the trainer (train.c) and the
 * gradient checks (tests/test_train_grad.c); not part of the engine's public API. */
#ifndef SHAPEBENCH_BACKWARD_H
#define SHAPEBENCH_BACKWARD_H

#include "engine/engine.h"

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

// inp (N,C), weight (OC,C) -> out (N,OC) with row stride ldo, = alpha * inp·weightᵀ + beta * out
void sb_matmul_forward(float *out, int64_t ldo, const float *inp, int64_t ldi, const float *weight, int64_t n,
                       int64_t c, int64_t oc, float alpha, float beta);
// dout (N,OC) row stride ldo -> dinp (N,C) row stride ldi = alpha * dout·weight + beta_inp * dinp (dinp NULL:
// skipped), dweight (OC,C) += alpha * doutᵀ·inp
void sb_matmul_backward(float *dinp, int64_t ldi, float beta_inp, float *dweight, const float *dout, int64_t ldo,
                        const float *inp, const float *weight, int64_t n, int64_t c, int64_t oc, float alpha);

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
void sb_attention_forward_train(float *context, float *probs, float *pdrop, const float *q, const float *k,
                                const float *v, const float *bias, const float *mask, const sb_attention_shape *s,
                                const sb_dropout *drop);
// dcontext -> dq = (B*lq, ldq), dk, dv = (B*lk, ldkv) (when dk == dv, shared_kv: their sum), dbias (H,lq,lk) +=
// summed over the batch (NULL: not needed). dprobs, pdrop (H,lq,lk): scratch.
void sb_attention_backward(float *dq, float *dk, float *dv, float *dbias, float *dprobs, float *pdrop,
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
    const float *wi, *wi_1, *wo; /* (d_ff,d_model), gated: wi is wi_0; wo (d_model,d_ff) */
} sb_ffn_params;

// inp (N,d_model) -> out (N,d_model) = wo(dropout(act(wi inp))); hidden saved: relu (N,d_ff) = relu(wi inp),
// gated (N,2*d_ff) = [wi_0 inp | wi_1 inp] (first all rows of wi_0, then of wi_1). act (N,d_ff): scratch for
// the dropped activation. Dropout index row*d_ff + j.
void sb_ffn_forward_train(float *out, float *hidden, float *act, const float *inp, int64_t n, const sb_ffn_params *p,
                          const sb_dropout *drop);
// dout (N,d_model) -> dinp (N,d_model) =, dwi, dwi_1, dwo +=. dh (N,2*d_ff gated else d_ff), act (N,d_ff):
// scratch.
void sb_ffn_backward(float *dinp, float *dwi, float *dwi_1, float *dwo, float *dh, float *act, const float *dout,
                     const float *inp, const float *hidden, int64_t n, const sb_ffn_params *p, const sb_dropout *drop);
// derivative of sb_gelu_tanh
float sb_gelu_tanh_grad(float x);

/* ---- Switch router ------------------------------------------------------------------------------------ */

/* The routing itself (probabilities, choice, gate, capacity) is the inference's: sb_switch_route (forward.h),
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

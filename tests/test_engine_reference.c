/* test_engine_reference.c — the engine against a slow, obviously-correct reference written here (plain
 * loops in double, its own relative-bucket function, no sb_gemm) on what the HF fixtures do not cover:
 * a sequence past the 128 max-distance clamp, gated-gelu with an untied head, token dropping, capacity
 * from the capacity factor with GEGLU experts, shared-kv attention, bf16 storage, bf16 products (against the
 * reference with every product operand rounded to bf16); then incremental
 * generation against repeated teacher-forced forwards, the FLOP tally against sb_count, and peak memory. */
#include "engine/engine.h"
#include "tests/helpers.h"

#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* ---- the reference ------------------------------------------------------------------------------------ */

static const float *tensor(const sb_weights *w, const char *fmt, ...)
{
    char name[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    const sb_tensor *t = sb_weights_find(w, name);
    cr_assert_not_null(t, "no tensor %s", name);
    return sb_tensor_data(w, t);
}

/* Mesh TensorFlow's formulation (n = query - key), float32 logarithm as in semantics.md. */
static int64_t ref_bucket(int64_t query, int64_t key, bool bidirectional, int64_t buckets, int64_t max_distance)
{
    int64_t n = query - key, ret = 0;
    if (bidirectional) {
        buckets /= 2;
        ret = n < 0 ? buckets : 0;
        n = llabs(n);
    } else if (n < 0) {
        n = 0;
    }
    const int64_t exact = buckets / 2;
    if (n < exact)
        return ret + n;
    const float ratio = logf((float)n / (float)exact) / (float)log((double)max_distance / exact);
    int64_t large = exact + (int64_t)(ratio * (float)(buckets - exact));
    if (large > buckets - 1)
        large = buckets - 1;
    return ret + large;
}

/* The reference of bf16 products (set by the bf16 tests, off otherwise): every operand of a product — the
 * linear layers', the attention core's, the LM head's, not the router's — rounded to bf16 as it enters,
 * sums in double. */
static bool ref_bf16_products;

/* A product's operand as the products read it. */
static double op(double v)
{
    return ref_bf16_products ? (double)sb_bf16_to_f32(sb_f32_to_bf16((float)v)) : v;
}

// in (n, c) · W(oc, c)ᵀ -> out (n, oc)
static void ref_linear(double *out, const double *in, int64_t n, const float *w, int64_t oc, int64_t c)
{
    for (int64_t i = 0; i < n; i++)
        for (int64_t o = 0; o < oc; o++) {
            double s = 0;
            for (int64_t j = 0; j < c; j++)
                s += op(in[i * c + j]) * op(w[o * c + j]);
            out[i * oc + o] = s;
        }
}

static void ref_rmsnorm(double *out, const double *in, const float *g, int64_t n, int64_t c, double eps)
{
    for (int64_t i = 0; i < n; i++) {
        double ms = 0;
        for (int64_t j = 0; j < c; j++)
            ms += in[i * c + j] * in[i * c + j] / (double)c;
        for (int64_t j = 0; j < c; j++)
            out[i * c + j] = g[j] * in[i * c + j] / sqrt(ms + eps);
    }
}

/* x (B*lq, d) += o(attention(q(x), k(y), v(y))); table NULL for cross-attention. key_mask (B, lk): 0 hides. */
static void ref_attention(const sb_weights *w, const char *prefix, double *x, const double *xn, const double *y,
                          int64_t batch, int64_t lq, int64_t lk, const float *table, bool causal,
                          const int32_t *key_mask)
{
    const sb_config *c = &w->cfg;
    const int64_t d = c->d_model, H = c->num_heads, dk = c->d_kv, inner = H * dk;
    double *q = malloc(sizeof(double) * batch * lq * inner), *k = malloc(sizeof(double) * batch * lk * inner);
    double *v = malloc(sizeof(double) * batch * lk * inner), *ctx = calloc(batch * lq * inner, sizeof(double));
    double *p = malloc(sizeof(double) * lk);
    ref_linear(q, xn, batch * lq, tensor(w, "%s.q.weight", prefix), inner, d);
    if (c->shared_kv) {
        ref_linear(k, y, batch * lk, tensor(w, "%s.kv.weight", prefix), inner, d);
        memcpy(v, k, sizeof(double) * batch * lk * inner);
    } else {
        ref_linear(k, y, batch * lk, tensor(w, "%s.k.weight", prefix), inner, d);
        ref_linear(v, y, batch * lk, tensor(w, "%s.v.weight", prefix), inner, d);
    }
    for (int64_t b = 0; b < batch; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t i = 0; i < lq; i++) {
                double max = -INFINITY, sum = 0;
                for (int64_t j = 0; j < lk; j++) {
                    bool visible = (key_mask == NULL || key_mask[b * lk + j] != 0) && !(causal && j > i);
                    double s = 0;
                    for (int64_t e = 0; e < dk; e++)
                        s += op(q[(b * lq + i) * inner + h * dk + e]) * op(k[(b * lk + j) * inner + h * dk + e]);
                    if (table != NULL)
                        s += table[ref_bucket(i, j, !causal, c->relative_attention_num_buckets,
                                              c->relative_attention_max_distance) * H + h];
                    p[j] = visible ? s : -INFINITY;
                    max = fmax(max, p[j]);
                }
                for (int64_t j = 0; j < lk; j++)
                    sum += p[j] = exp(p[j] - max);
                /* as the engine: the unnormalised exponentials times V, then 1/sum */
                for (int64_t j = 0; j < lk; j++)
                    for (int64_t e = 0; e < dk; e++)
                        ctx[(b * lq + i) * inner + h * dk + e] += op(p[j]) * op(v[(b * lk + j) * inner + h * dk + e]);
                for (int64_t e = 0; e < dk; e++)
                    ctx[(b * lq + i) * inner + h * dk + e] /= sum;
            }
    const float *o = tensor(w, "%s.o.weight", prefix);
    for (int64_t i = 0; i < batch * lq; i++)
        for (int64_t e = 0; e < d; e++)
            for (int64_t j = 0; j < inner; j++)
                x[i * d + e] += op(ctx[i * inner + j]) * op(o[e * inner + j]);
    free(q), free(k), free(v), free(ctx), free(p);
}

/* Returns wo(act(wi u)) for one token into out (d). */
static void ref_ffn(const sb_weights *w, const char *prefix, sb_ffn_kind kind, const double *u, double *out)
{
    const int64_t d = w->cfg.d_model, f = w->cfg.d_ff;
    double *h = malloc(sizeof(double) * f);
    for (int64_t j = 0; j < f; j++) {
        double a = 0, g = 0;
        const float *wi = tensor(w, kind == SB_FFN_GATED_GELU ? "%s.wi_0.weight" : "%s.wi.weight", prefix);
        for (int64_t e = 0; e < d; e++)
            a += op(wi[j * d + e]) * op(u[e]);
        if (kind == SB_FFN_GATED_GELU) {
            const float *wi1 = tensor(w, "%s.wi_1.weight", prefix);
            for (int64_t e = 0; e < d; e++)
                g += op(wi1[j * d + e]) * op(u[e]);
            h[j] = 0.5 * a * (1 + tanh(sqrt(2 / M_PI) * (a + 0.044715 * a * a * a))) * g;
        } else {
            h[j] = a > 0 ? a : 0;
        }
    }
    const float *wo = tensor(w, "%s.wo.weight", prefix);
    for (int64_t e = 0; e < d; e++) {
        out[e] = 0;
        for (int64_t j = 0; j < f; j++)
            out[e] += op(wo[e * f + j]) * op(h[j]);
    }
    free(h);
}

/* x (B*len, d) += FFN or Switch MLP of xn; sparse blocks count kept tokens per expert into kept. */
static void ref_mlp(const sb_weights *w, const char *stack, int64_t blk, int layer, double *x, const double *xn,
                    int64_t batch, int64_t len, int64_t *kept)
{
    const sb_config *c = &w->cfg;
    const int64_t d = c->d_model, E = c->num_experts;
    double *out = malloc(sizeof(double) * d);
    char prefix[160];
    if (!sb_block_is_sparse(c, strcmp(stack, "encoder") == 0 ? SB_STACK_ENCODER : SB_STACK_DECODER, blk)) {
        snprintf(prefix, sizeof prefix, "%s.block.%lld.layer.%d.%s", stack, (long long)blk, layer,
                 E > 0 ? "mlp" : "DenseReluDense");
        for (int64_t i = 0; i < batch * len; i++) {
            ref_ffn(w, prefix, c->ffn, xn + i * d, out);
            for (int64_t e = 0; e < d; e++)
                x[i * d + e] += out[e];
        }
        free(out);
        return;
    }
    const float *router =
        tensor(w, "%s.block.%lld.layer.%d.mlp.router.classifier.weight", stack, (long long)blk, layer);
    const int64_t capacity = c->expert_capacity > 0 ? c->expert_capacity
                                                    : (int64_t)fmax(1, llround(c->capacity_factor * len / E));
    for (int64_t b = 0; b < batch; b++) {
        int64_t used[64] = {0};
        for (int64_t t = 0; t < len; t++) {
            const double *u = xn + (b * len + t) * d;
            double logit[64], max = -INFINITY, sum = 0;
            int64_t best = 0;
            for (int64_t e = 0; e < E; e++) {
                logit[e] = 0;
                for (int64_t j = 0; j < d; j++)
                    logit[e] += router[e * d + j] * u[j];
                max = fmax(max, logit[e]);
                if (logit[e] > logit[best])
                    best = e;
            }
            for (int64_t e = 0; e < E; e++)
                sum += exp(logit[e] - max);
            if (used[best]++ >= capacity)
                continue; /* dropped: contributes nothing */
            kept[best]++;
            snprintf(prefix, sizeof prefix, "%s.block.%lld.layer.%d.mlp.experts.expert_%lld", stack, (long long)blk,
                     layer, (long long)best);
            ref_ffn(w, prefix, c->expert_ffn, u, out);
            for (int64_t e = 0; e < d; e++)
                x[(b * len + t) * d + e] += exp(logit[best] - max) / sum * out[e];
        }
    }
    free(out);
}

typedef struct {
    double *encoder_output; /* (B*S, d) */
    double *logits;         /* (B*T, V) */
    int64_t kept[8][64];    /* per sparse block (encoder then decoder), per expert */
    int64_t sparse_blocks;
} ref_result;

static void ref_stack(const sb_weights *w, const char *stack, const int32_t *ids, int64_t batch, int64_t len,
                      const int32_t *self_mask, const double *enc, int64_t src_len, const int32_t *enc_mask,
                      double *out, ref_result *r)
{
    const sb_config *c = &w->cfg;
    const int64_t d = c->d_model, n = batch * len;
    const bool decoder = strcmp(stack, "decoder") == 0;
    const int64_t blocks = decoder ? c->num_decoder_layers : c->num_layers;
    double *x = malloc(sizeof(double) * n * d), *xn = malloc(sizeof(double) * n * d);
    const float *shared = tensor(w, "shared.weight");
    for (int64_t i = 0; i < n; i++)
        for (int64_t e = 0; e < d; e++)
            x[i * d + e] = shared[ids[i] * d + e];
    const float *table = tensor(w, "%s.block.0.layer.0.SelfAttention.relative_attention_bias.weight", stack);
    char prefix[160];
    for (int64_t blk = 0; blk < blocks; blk++) {
        ref_rmsnorm(xn, x, tensor(w, "%s.block.%lld.layer.0.layer_norm.weight", stack, (long long)blk), n, d,
                    c->layer_norm_epsilon);
        snprintf(prefix, sizeof prefix, "%s.block.%lld.layer.0.SelfAttention", stack, (long long)blk);
        ref_attention(w, prefix, x, xn, xn, batch, len, len, table, decoder, self_mask);
        int layer = 1;
        if (decoder) {
            ref_rmsnorm(xn, x, tensor(w, "%s.block.%lld.layer.1.layer_norm.weight", stack, (long long)blk), n, d,
                        c->layer_norm_epsilon);
            snprintf(prefix, sizeof prefix, "%s.block.%lld.layer.1.EncDecAttention", stack, (long long)blk);
            /* queries from this stack, keys and values from the encoder output */
            double *saved = malloc(sizeof(double) * n * d);
            memcpy(saved, xn, sizeof(double) * n * d);
            ref_attention(w, prefix, x, saved, enc, batch, len, src_len, NULL, false, enc_mask);
            free(saved);
            layer = 2;
        }
        ref_rmsnorm(xn, x, tensor(w, "%s.block.%lld.layer.%d.layer_norm.weight", stack, (long long)blk, layer), n, d,
                    c->layer_norm_epsilon);
        const bool sparse = sb_block_is_sparse(c, decoder ? SB_STACK_DECODER : SB_STACK_ENCODER, blk);
        ref_mlp(w, stack, blk, layer, x, xn, batch, len, sparse ? r->kept[r->sparse_blocks++] : NULL);
    }
    ref_rmsnorm(out, x, tensor(w, "%s.final_layer_norm.weight", stack), n, d, c->layer_norm_epsilon);
    free(x), free(xn);
}

/* ref_attention reads keys from y with the query count lq; cross-attention passes lk = src_len. */
static ref_result reference(const sb_weights *w, int64_t batch, int64_t src, int64_t tgt, const int32_t *ids,
                            const int32_t *mask, const int32_t *dec_ids)
{
    const sb_config *c = &w->cfg;
    const int64_t d = c->d_model, V = c->vocab_size;
    ref_result r = {0};
    r.encoder_output = malloc(sizeof(double) * batch * src * d);
    r.logits = malloc(sizeof(double) * batch * tgt * V);
    ref_stack(w, "encoder", ids, batch, src, mask, NULL, 0, NULL, r.encoder_output, &r);
    double *dec = malloc(sizeof(double) * batch * tgt * d);
    ref_stack(w, "decoder", dec_ids, batch, tgt, NULL, r.encoder_output, src, mask, dec, &r);
    const float *head = tensor(w, c->tie_word_embeddings ? "shared.weight" : "lm_head.weight");
    const double scale = c->tie_word_embeddings ? 1 / sqrt((double)d) : 1;
    for (int64_t i = 0; i < batch * tgt; i++)
        for (int64_t v = 0; v < V; v++) {
            double s = 0;
            for (int64_t e = 0; e < d; e++)
                s += op(dec[i * d + e]) * op(head[v * d + e]);
            r.logits[i * V + v] = scale * s;
        }
    free(dec);
    return r;
}

/* ---- helpers ------------------------------------------------------------------------------------------ */

static sb_config small_config(void)
{
    return test_config(64, 32, 48, 4, 12, 2, 2); /* d_kv 12: inner 48 != d_model */
}

/* w laid out for backend as the harness does it: on oneDNN every packable dense weight pre-packed. */
static void lay_out_for(sb_weights *w, sb_exec *x)
{
    sb_error err = {0};
    cr_assert_eq(sb_weights_layout_for(w, x, &err), 0, "%s", err.msg);
    if (sb_exec_backend(x) != SB_GEMM_ONEDNN)
        cr_assert_eq(w->num_packed, 0);
    else if (sb_gemm_packable(x, w->cfg.d_model, w->cfg.d_model, SB_DTYPE_F32))
        cr_assert_gt(w->num_packed, 0, "nothing was packed for oneDNN");
}

/* Deterministic token ids; the last batch row is right-padded by `pad` positions. */
static void make_inputs(const sb_config *c, int64_t batch, int64_t src, int64_t tgt, int64_t pad, int32_t *ids,
                        int32_t *mask, int32_t *dec_ids)
{
    uint64_t s = 12345;
    for (int64_t i = 0; i < batch * src; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        const bool padded = i / src == batch - 1 && i % src >= src - pad;
        ids[i] = padded ? (int32_t)c->pad_token_id : (int32_t)(2 + (s >> 33) % (uint64_t)(c->vocab_size - 2));
        mask[i] = !padded;
    }
    for (int64_t i = 0; i < batch * tgt; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        dec_ids[i] = i % tgt == 0 ? (int32_t)c->decoder_start_token_id
                                  : (int32_t)(2 + (s >> 33) % (uint64_t)(c->vocab_size - 2));
    }
}

static void assert_close(const char *what, const float *got, const double *ref, int64_t n, double tol)
{
    double max_ref = 0, max_diff = 0;
    for (int64_t i = 0; i < n; i++) {
        max_ref = fmax(max_ref, fabs(ref[i]));
        max_diff = fmax(max_diff, fabs(got[i] - ref[i]));
        cr_assert(isfinite(got[i]), "%s[%lld] is not finite", what, (long long)i);
    }
    cr_assert(max_diff <= tol * fmax(1, max_ref), "%s: max |diff| %g > %g * max(1, %g)", what, max_diff, tol, max_ref);
}

/* How the engine computes in a check: fp32 products on fp32 weights, or bf16 products on bf16 weights (against
 * the reference of bf16 products on the same, rounded, weights). */
typedef enum { CHECK_F32, CHECK_BF16 } check_precision;

/* The engine's encoder output and logits (and router statistics) against the reference. bf16: within fp32
 * summation and the rare operand that rounds to the neighbouring bf16 value (the engine rounds an fp32
 * intermediate, the reference a double one), 1e-3 of the largest value. */
static void check_against_reference_on(const sb_config *c, int64_t batch, int64_t src, int64_t tgt, int64_t pad,
                                       bool expect_drops, sb_gemm_backend backend, check_precision precision)
{
    sb_error err = {0};
    const bool bf16 = precision == CHECK_BF16;
    sb_exec *x = bf16 ? test_exec_bf16(2) : test_exec(backend, 2);
    const double tol = bf16 ? 1e-3 : 1e-4;
    sb_weights w = {0}, w32 = {0};
    test_make_weights(&w32, c, SB_DTYPE_F32, 7);
    if (bf16) {
        sb_weights w16 = {0};
        test_convert_weights(&w16, &w32, SB_DTYPE_BF16);
        sb_weights_free(&w32);
        test_convert_weights(&w32, &w16, SB_DTYPE_F32); /* the reference's copy: the bf16 values exactly */
        w = w16;
    } else {
        w = w32;
    }
    int32_t *ids = malloc(4 * batch * src), *mask = malloc(4 * batch * src), *dec = malloc(4 * batch * tgt);
    make_inputs(c, batch, src, tgt, pad, ids, mask, dec);
    /* the reference reads the weights in HF layout, before the engine's layout for the backend */
    ref_bf16_products = bf16;
    ref_result r = reference(&w32, batch, src, tgt, ids, mask, dec);
    ref_bf16_products = false;

    lay_out_for(&w, x);
    sb_runtime *rt = NULL;
    cr_assert_eq(sb_runtime_create(&rt, x, &w, batch, src, tgt, &err), 0, "%s", err.msg);
    cr_assert_eq(sb_encode(rt, batch, src, ids, mask, &err), 0, "%s", err.msg);
    cr_assert_eq(sb_decode(rt, tgt, dec, &err), 0, "%s", err.msg);
    assert_close("encoder output", sb_encoder_output(rt), r.encoder_output, batch * src * c->d_model, tol);
    assert_close("logits", sb_logits(rt), r.logits, batch * tgt * c->vocab_size, tol);

    cr_assert_eq((int64_t)sb_router_stats_count(rt), r.sparse_blocks);
    int64_t dropped = 0;
    for (int64_t s = 0; s < r.sparse_blocks; s++) {
        const sb_router_stats *st = sb_router_stats_get(rt, (size_t)s);
        int64_t kept = 0;
        for (int64_t e = 0; e < c->num_experts; e++) {
            cr_assert_eq(st->per_expert[e], r.kept[s][e], "sparse block %lld expert %lld", (long long)s, (long long)e);
            kept += st->per_expert[e];
        }
        cr_assert_eq(st->tokens, batch * (st->stack == SB_STACK_ENCODER ? src : tgt));
        cr_assert_eq(st->dropped, st->tokens - kept);
        dropped += st->dropped;
    }
    cr_assert_eq(dropped > 0, expect_drops, "dropped %lld tokens", (long long)dropped);

    /* cross-entropy of the reference logits, one label ignored */
    int32_t *labels = malloc(4 * batch * tgt);
    double ce = 0;
    int64_t counted = 0;
    for (int64_t i = 0; i < batch * tgt; i++) {
        labels[i] = i == 1 ? -100 : (int32_t)((i * 7) % c->vocab_size);
        if (labels[i] == -100)
            continue;
        const double *row = r.logits + i * c->vocab_size;
        double max = -INFINITY, sum = 0;
        for (int64_t v = 0; v < c->vocab_size; v++)
            max = fmax(max, row[v]);
        for (int64_t v = 0; v < c->vocab_size; v++)
            sum += exp(row[v] - max);
        ce += log(sum) + max - row[labels[i]];
        counted++;
    }
    cr_assert_float_eq(sb_cross_entropy(rt, labels), ce / counted, tol * fmax(1, ce / counted));
    free(labels), free(r.encoder_output), free(r.logits), free(ids), free(mask), free(dec);
    sb_runtime_free(rt);
    sb_weights_free(&w);
    if (bf16)
        sb_weights_free(&w32);
    sb_exec_free(x);
}

static void check_against_reference(const sb_config *c, int64_t batch, int64_t src, int64_t tgt, int64_t pad,
                                    bool expect_drops)
{
    check_against_reference_on(c, batch, src, tgt, pad, expect_drops, SB_GEMM_OPENBLAS, CHECK_F32);
}

/* ---- reference comparisons ------------------------------------------------------------------------------ */

Test(engine_reference, bucket_matches_reference_past_the_clamp)
{
    for (int64_t q = 0; q < 400; q += 7)
        for (int64_t k = 0; k < 400; k++)
            for (int bidirectional = 0; bidirectional < 2; bidirectional++)
                cr_assert_eq(sb_relative_bucket(k - q, bidirectional, 32, 128),
                             ref_bucket(q, k, bidirectional, 32, 128), "query %lld key %lld", (long long)q,
                             (long long)k);
}

Test(engine_reference, long_sequence_past_max_distance, .timeout = 120)
{
    sb_config c = small_config();
    check_against_reference(&c, 2, 300, 12, 50, false);
}

Test(engine_reference, gated_gelu_untied)
{
    sb_config c = small_config();
    c.ffn = SB_FFN_GATED_GELU;
    c.tie_word_embeddings = false;
    check_against_reference(&c, 2, 20, 9, 5, false);
}

Test(engine_reference, shared_kv)
{
    sb_config c = small_config();
    c.shared_kv = true;
    check_against_reference(&c, 2, 18, 7, 4, false);
}

/* 4 + 4 blocks, every 2nd a Switch layer of 4 experts keeping 2 tokens each per sequence: most tokens drop. */
static void switch_with_drops(sb_config *c)
{
    c->num_layers = c->num_decoder_layers = 4;
    c->num_experts = 4;
    c->encoder_sparse_step = c->decoder_sparse_step = 2;
    c->expert_capacity = 2;
}

Test(engine_reference, switch_drops_tokens_over_capacity)
{
    sb_config c = small_config();
    switch_with_drops(&c);
    check_against_reference(&c, 2, 24, 10, 6, true);
}

Test(engine_reference, switch_capacity_factor_geglu_experts)
{
    sb_config c = small_config();
    c.num_experts = 3;
    c.encoder_sparse_step = c.decoder_sparse_step = 1;
    c.expert_capacity = 0;
    c.capacity_factor = 1.25;
    c.expert_ffn = SB_FFN_GATED_GELU;
    check_against_reference(&c, 2, 16, 8, 3, true);
}

Test(engine_reference, switch_no_drops_matches_dense_reference)
{
    sb_config c = small_config();
    c.num_experts = 4;
    c.encoder_sparse_step = c.decoder_sparse_step = 2;
    c.expert_capacity = 64;
    check_against_reference(&c, 2, 16, 8, 3, false);
}

/* oneDNN on pre-packed weights: q, k, v packed one by one and used as one product, the residual added by the
 * product itself (o, wo), an untied lm_head left in HF layout beside them. */
Test(engine_reference, onednn_packed_dense_untied)
{
    sb_config c = test_packable_config();
    c.tie_word_embeddings = false;
    check_against_reference_on(&c, 2, 40, 12, 7, false, SB_GEMM_ONEDNN, CHECK_F32);
}

Test(engine_reference, onednn_packed_gated_shared_kv)
{
    sb_config c = test_packable_config();
    c.ffn = SB_FFN_GATED_GELU;
    c.shared_kv = true;
    check_against_reference_on(&c, 2, 24, 9, 4, false, SB_GEMM_ONEDNN, CHECK_F32);
}

/* Switch on oneDNN: attention and experts packed (each routed row count its own primitive), routers not. */
Test(engine_reference, onednn_packed_switch_drops_tokens)
{
    sb_config c = test_packable_config();
    switch_with_drops(&c);
    check_against_reference_on(&c, 2, 24, 10, 6, true, SB_GEMM_ONEDNN, CHECK_F32);
}

/* bf16 products against the reference of bf16 products: bf16 weights pre-packed (q, k, v used as one
 * product, the residual added by o and wo), the attention core's products and the LM head on plain bf16 and
 * rounded activations, an untied lm_head in HF layout; the tied head (the shared table, plain bf16). One
 * block per stack: the engine sums in fp32, the reference in double, so now and then a value lands on the
 * other side of a bf16 rounding boundary, and every such difference makes the next layer's roundings more
 * likely to differ: deeper, the two become two bf16 evaluations that agree only to bf16's error
 * (test_bf16.c checks that). */
Test(engine_reference, bf16_products_packed_dense_untied)
{
    sb_config c = test_packable_config();
    c.tie_word_embeddings = false;
    c.num_layers = c.num_decoder_layers = 1;
    check_against_reference_on(&c, 2, 40, 12, 7, false, SB_GEMM_ONEDNN, CHECK_BF16);
}

Test(engine_reference, bf16_products_gated_shared_kv_tied)
{
    sb_config c = test_packable_config();
    c.ffn = SB_FFN_GATED_GELU;
    c.shared_kv = true;
    c.num_layers = c.num_decoder_layers = 1;
    check_against_reference_on(&c, 2, 24, 9, 4, false, SB_GEMM_ONEDNN, CHECK_BF16);
}

/* Switch in bf16: experts' products in bf16, the router in fp32 (its choices, drops included, the
 * reference's), dimensions oneDNN does not pack; every block sparse. */
Test(engine_reference, bf16_products_switch_drops_tokens)
{
    sb_config c = small_config();
    switch_with_drops(&c);
    c.num_layers = c.num_decoder_layers = 1;
    c.encoder_sparse_step = c.decoder_sparse_step = 1;
    check_against_reference_on(&c, 2, 24, 10, 6, true, SB_GEMM_ONEDNN, CHECK_BF16);
}

/* bf16 storage: the forward must equal the fp32 forward on the bf16-rounded weights (compute is fp32),
 * and stay within bf16 rounding of the unrounded fp32 model. */
Test(engine_reference, bf16_weights)
{
    sb_error err = {0};
    sb_config c = small_config();
    c.ffn = SB_FFN_GATED_GELU;
    c.tie_word_embeddings = false;
    sb_weights w32 = {0}, w16 = {0}, rounded = {0};
    test_make_weights(&w32, &c, SB_DTYPE_F32, 3);
    cr_assert_eq(sb_weights_alloc(&w16, &c, SB_DTYPE_BF16, &err), 0, "%s", err.msg);
    cr_assert_eq(sb_weights_alloc(&rounded, &c, SB_DTYPE_F32, &err), 0, "%s", err.msg);
    for (size_t i = 0; i < w32.num_tensors; i++) {
        const sb_tensor *t = &w32.tensors[i];
        sb_dtype_from_f32(SB_DTYPE_BF16, sb_tensor_data(&w32, t), sb_tensor_data(&w16, &w16.tensors[i]), t->numel);
        sb_dtype_to_f32(SB_DTYPE_BF16, sb_tensor_data(&w16, &w16.tensors[i]),
                        sb_tensor_data(&rounded, &rounded.tensors[i]), t->numel);
    }
    const int64_t batch = 2, src = 20, tgt = 6;
    int32_t ids[40], mask[40], dec[12];
    make_inputs(&c, batch, src, tgt, 5, ids, mask, dec);
    const sb_weights *models[] = {&w16, &rounded, &w32};
    float *logits[3];
    const int64_t n = batch * tgt * c.vocab_size;
    sb_exec *x = test_exec(SB_GEMM_OPENBLAS, 0);
    for (int m = 0; m < 3; m++) {
        sb_runtime *rt = NULL;
        cr_assert_eq(sb_runtime_create(&rt, x, models[m], batch, src, tgt, &err), 0, "%s", err.msg);
        cr_assert_eq(sb_encode(rt, batch, src, ids, mask, &err), 0, "%s", err.msg);
        cr_assert_eq(sb_decode(rt, tgt, dec, &err), 0, "%s", err.msg);
        logits[m] = malloc(sizeof(float) * n);
        memcpy(logits[m], sb_logits(rt), sizeof(float) * n);
        sb_runtime_free(rt);
    }
    double max_ref = 0, diff_rounded = 0, diff_f32 = 0;
    for (int64_t i = 0; i < n; i++) {
        max_ref = fmax(max_ref, fabs(logits[2][i]));
        diff_rounded = fmax(diff_rounded, fabs(logits[0][i] - logits[1][i]));
        diff_f32 = fmax(diff_f32, fabs(logits[0][i] - logits[2][i]));
    }
    cr_assert(diff_rounded <= 1e-5 * fmax(1, max_ref), "bf16 vs rounded fp32: %g", diff_rounded);
    /* bf16 keeps 8 significant bits: relative error 2^-9 per weight, a few such through the layers */
    cr_assert(diff_f32 <= 0.05 * fmax(1, max_ref), "bf16 vs fp32: %g (max %g)", diff_f32, max_ref);
    cr_assert(diff_f32 > 0, "bf16 storage changed nothing: the weights were not rounded");
    for (int m = 0; m < 3; m++)
        free(logits[m]);
    sb_weights_free(&w32), sb_weights_free(&w16), sb_weights_free(&rounded);
    sb_exec_free(x);
}

/* ---- generation ------------------------------------------------------------------------------------------- */

/* Greedy ids from incremental decoding (KV cache) equal the argmax path of repeated teacher-forced forwards.
 * The heads are untied: a random tied model keeps predicting its start token, and with identical keys and
 * values a wrong position bias or cache row would go unnoticed. */
static void check_generation(const sb_config *c, sb_gemm_backend backend, check_precision precision)
{
    sb_error err = {0};
    const bool bf16 = precision == CHECK_BF16;
    sb_exec *x = bf16 ? test_exec_bf16(2) : test_exec(backend, 2);
    sb_weights w = {0};
    test_make_weights(&w, c, SB_DTYPE_F32, 11);
    if (bf16) {
        sb_weights w16 = {0};
        test_convert_weights(&w16, &w, SB_DTYPE_BF16);
        sb_weights_free(&w);
        w = w16;
    }
    lay_out_for(&w, x);
    const int64_t src = 13, steps = 12;
    int32_t ids[13], mask[13], unused[1];
    make_inputs(c, 1, src, 1, 0, ids, mask, unused);
    sb_runtime *rt = NULL;
    cr_assert_eq(sb_runtime_create(&rt, x, &w, 1, src, steps, &err), 0, "%s", err.msg);
    cr_assert_eq(sb_encode(rt, 1, src, ids, mask, &err), 0, "%s", err.msg);
    int32_t generated[12];
    double seconds[12];
    const int64_t produced = sb_generate_greedy(rt, steps, generated, seconds, &err);
    cr_assert_gt(produced, 0, "%s", err.msg);
    float *last = malloc(sizeof(float) * c->vocab_size); /* the last step's logits, compared in full below */
    memcpy(last, sb_logits(rt), sizeof(float) * c->vocab_size);

    int32_t prefix[13] = {(int32_t)c->decoder_start_token_id};
    for (int64_t t = 0; t < produced; t++) {
        cr_assert_eq(sb_decode(rt, t + 1, prefix, &err), 0, "%s", err.msg);
        const float *row = sb_logits(rt) + t * c->vocab_size;
        int32_t best = 0;
        for (int64_t v = 1; v < c->vocab_size; v++)
            if (row[v] > row[best])
                best = (int32_t)v;
        cr_assert_eq(generated[t], best, "step %lld: incremental %d, teacher-forced %d", (long long)t, generated[t],
                     best);
        cr_assert_geq(seconds[t], 0.0);
        prefix[t + 1] = best;
    }
    double *ref = malloc(sizeof(double) * c->vocab_size);
    for (int64_t v = 0; v < c->vocab_size; v++)
        ref[v] = sb_logits(rt)[(produced - 1) * c->vocab_size + v];
    /* bf16: one row against many, other kernels' fp32 sums, the rare operand rounded the other way */
    assert_close("last step logits", last, ref, c->vocab_size, bf16 ? 1e-3 : 1e-4);
    free(last), free(ref);
    cr_assert(produced == steps || generated[produced - 1] == c->eos_token_id);
    sb_runtime_free(rt);
    sb_weights_free(&w);
    sb_exec_free(x);
}

Test(engine_generate, dense_matches_teacher_forced)
{
    sb_config c = small_config();
    c.tie_word_embeddings = false;
    c.eos_token_id = c.vocab_size - 1; /* keep random weights from stopping at once */
    check_generation(&c, SB_GEMM_OPENBLAS, CHECK_F32);
    check_generation(&c, SB_GEMM_ONEDNN, CHECK_F32);
}

Test(engine_generate, onednn_packed_matches_teacher_forced)
{
    sb_config c = test_packable_config();
    c.tie_word_embeddings = false;
    c.eos_token_id = c.vocab_size - 1;
    check_generation(&c, SB_GEMM_ONEDNN, CHECK_F32);
}

Test(engine_generate, bf16_products_match_teacher_forced)
{
    sb_config c = test_packable_config();
    c.tie_word_embeddings = false;
    c.eos_token_id = c.vocab_size - 1;
    check_generation(&c, SB_GEMM_ONEDNN, CHECK_BF16);
}

Test(engine_generate, gated_untied_shared_kv_matches_teacher_forced)
{
    sb_config c = small_config();
    c.ffn = SB_FFN_GATED_GELU;
    c.tie_word_embeddings = false;
    c.shared_kv = true;
    check_generation(&c, SB_GEMM_OPENBLAS, CHECK_F32);
}

Test(engine_generate, switch_matches_teacher_forced)
{
    sb_config c = small_config();
    c.num_experts = 4;
    c.encoder_sparse_step = c.decoder_sparse_step = 2;
    c.expert_capacity = 64;
    c.tie_word_embeddings = false;
    check_generation(&c, SB_GEMM_OPENBLAS, CHECK_F32);
}

/* ---- FLOP tally ----------------------------------------------------------------------------------------- */

static void check_flops_on(const sb_config *c, int64_t batch, int64_t src, int64_t tgt, sb_gemm_backend backend)
{
    sb_error err = {0};
    sb_exec *x = test_exec(backend, 2);
    sb_weights w = {0};
    test_make_weights(&w, c, SB_DTYPE_F32, 5);
    lay_out_for(&w, x);
    int32_t *ids = malloc(4 * batch * src), *mask = malloc(4 * batch * src), *dec = malloc(4 * batch * tgt);
    make_inputs(c, batch, src, tgt, 2, ids, mask, dec);
    sb_runtime *rt = NULL;
    cr_assert_eq(sb_runtime_create(&rt, x, &w, batch, src, tgt, &err), 0, "%s", err.msg);
    sb_exec_reset_flops(x);
    sb_exec_profile_reset(x);
    cr_assert_eq(sb_encode(rt, batch, src, ids, mask, &err), 0, "%s", err.msg);
    const int64_t encoder_flops = sb_exec_flops(x);
    cr_assert_eq(sb_decode(rt, tgt, dec, &err), 0, "%s", err.msg);
    const int64_t executed = sb_exec_flops(x);
    const sb_profile profile = sb_exec_profile(x);
    sb_counts counts;
    const sb_count_settings settings = {batch, src, tgt, SB_DTYPE_F32};
    cr_assert_eq(sb_count(c, &settings, &counts, &err), 0, "%s", err.msg);
    cr_assert_eq(executed, counts.flops_forward_executed.total, "tally %lld, count %lld", (long long)executed,
                 (long long)counts.flops_forward_executed.total);
    /* The profile puts every GEMM in its op class, exactly as count breaks the work down, and everything
     * but the LM head inside the stacks' blocks. */
    const sb_flops *f = &counts.flops_forward_executed;
    const int64_t want[SB_OP_CLASSES] = {f->attention_projections, f->attention_scores, f->ffn, f->router, f->lm_head};
    for (int i = 0; i < SB_OP_CLASSES; i++) {
        cr_expect_eq(profile.op_flops[i], want[i], "%s: profile %lld, count %lld", sb_op_class_name((sb_op_class)i),
                     (long long)profile.op_flops[i], (long long)want[i]);
        cr_expect(want[i] == 0 || profile.op_seconds[i] > 0, "%s took no time", sb_op_class_name((sb_op_class)i));
    }
    cr_expect_eq(profile.block_flops[SB_STACK_ENCODER], encoder_flops);
    cr_expect_eq(profile.block_flops[SB_STACK_DECODER], executed - encoder_flops - f->lm_head);
    cr_expect_gt(profile.block_seconds[SB_STACK_ENCODER], 0);
    cr_expect_eq(profile.step_block_seconds, 0, "no generation ran");
    cr_assert_eq((int64_t)sb_runtime_activation_bytes(rt), counts.memory_bytes.activations_forward);
    free(ids), free(mask), free(dec);
    sb_runtime_free(rt);
    sb_weights_free(&w);
    sb_exec_free(x);
}

static void check_flops(const sb_config *c, int64_t batch, int64_t src, int64_t tgt)
{
    check_flops_on(c, batch, src, tgt, SB_GEMM_OPENBLAS);
}

/* Products on pre-packed weights are tallied and profiled like every other. */
Test(engine_flops, onednn_packed_tally_equals_count)
{
    sb_config c = test_packable_config();
    c.tie_word_embeddings = false;
    check_flops_on(&c, 2, 17, 9, SB_GEMM_ONEDNN);
}

Test(engine_flops, dense_tally_equals_count)
{
    sb_config c = small_config();
    check_flops(&c, 2, 17, 9);
    c.shared_kv = true;
    c.ffn = SB_FFN_GATED_GELU;
    c.tie_word_embeddings = false;
    check_flops(&c, 3, 11, 5);
}

Test(engine_flops, switch_tally_equals_count)
{
    sb_config c = small_config();
    c.num_layers = c.num_decoder_layers = 4;
    c.num_experts = 4;
    c.encoder_sparse_step = c.decoder_sparse_step = 2;
    c.expert_capacity = 64; /* >= tokens per sequence: nothing drops, so routing balance does not matter */
    check_flops(&c, 2, 16, 8);
}

/* ---- memory ------------------------------------------------------------------------------------------------ */

/* A t5-efficient-base forward (batch 1, 512 + 114 tokens) peaks within 10 % of count's weights + activations:
 * the activation plan is the whole of the engine's memory. Criterion runs each test in its own process. */
Test(engine_memory, base_forward_peak_rss_within_ten_percent, .timeout = 300)
{
#ifdef __SANITIZE_ADDRESS__
    cr_skip_test("AddressSanitizer's shadow memory and quarantine are not the engine's");
#endif
    sb_error err = {0};
    sb_config cfg;
    cr_assert_eq(sb_config_resolve("t5-efficient-base", &cfg, NULL, NULL, &err), 0, "%s", err.msg);
    sb_weights w = {0};
    test_make_weights(&w, &cfg, SB_DTYPE_F32, 1);
    const int64_t src = 512, tgt = 114;
    int32_t *ids = malloc(4 * src), *mask = malloc(4 * src), *dec = malloc(4 * tgt);
    make_inputs(&cfg, 1, src, tgt, 0, ids, mask, dec);
    sb_exec *x = test_exec(SB_GEMM_OPENBLAS, 0);
    sb_runtime *rt = NULL;
    cr_assert_eq(sb_runtime_create(&rt, x, &w, 1, src, tgt, &err), 0, "%s", err.msg);
    cr_assert_eq(sb_encode(rt, 1, src, ids, mask, &err), 0, "%s", err.msg);
    cr_assert_eq(sb_decode(rt, tgt, dec, &err), 0, "%s", err.msg);
    struct rusage ru;
    cr_assert_eq(getrusage(RUSAGE_SELF, &ru), 0);
    sb_counts counts;
    const sb_count_settings settings = {1, src, tgt, SB_DTYPE_F32};
    cr_assert_eq(sb_count(&cfg, &settings, &counts, &err), 0, "%s", err.msg);
    const double expected = (double)(counts.memory_bytes.weights + counts.memory_bytes.activations_forward);
    const double rss = (double)ru.ru_maxrss * 1024;
    cr_assert(fabs(rss / expected - 1) <= 0.10, "peak RSS %.1f MiB, weights + activations %.1f MiB", rss / (1 << 20),
              expected / (1 << 20));
    free(ids), free(mask), free(dec);
    sb_runtime_free(rt);
    sb_weights_free(&w);
    sb_exec_free(x);
}

/* test_bf16.c — bf16 products (bf16 operands, fp32 accumulation) measured against fp32:
 *   - each product path (sb_gemm in every transpose, products on plain and pre-packed bf16 weights both ways)
 *     against float64 on the bf16-rounded operands;
 *   - bf16 weights pre-packed and back, bit for bit;
 *   - the forward against the fp32 engine and Hugging Face's fp32 logits: relative error within what
 *     rounding the products' operands predicts, top-1 agreement;
 *   - mixed-precision training: gradients against fp32 (cosine per tensor), a short training run's loss
 *     curve against fp32's, the bf16 copy of the weights remade after each optimizer step;
 *   - refusals: bf16 on OpenBLAS, bf16 where oneDNN has no bf16 instructions (ONEDNN_MAX_CPU_ISA), bf16
 *     products on fp32 weights.
 * The engine against the float64 reference of bf16 products is in test_engine_reference.c.
 *
 * The error bound. Rounding to bf16 (8 significant bits, to nearest) changes a value by a relative error
 * uniform in about ±2^-8, rms 2^-8/√3; a product rounds both operands, so its output carries a relative
 * error of rms σ = √2·2^-8/√3 ≈ 3.2e-3 (the errors of a dot product's terms are independent, so they add up
 * like the terms themselves). T5 is a residual network: every sublayer adds its output, with relative error
 * σ, to the residual stream, and independent errors add in quadrature as the contributions do, so the final
 * hidden state carries about σ relative to itself; the logits are one more product on it: √2·σ ≈ 4.5e-3.
 * Errors that later layers carry forward add a gain above 1; the tests allow 3x the prediction, 1.4e-2. */
#include "engine/engine.h"
#include "tests/helpers.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------------------------------------ */

static float round_bf16(float v)
{
    return sb_bf16_to_f32(sb_f32_to_bf16(v));
}

static float *filled(int64_t n, double phase)
{
    float *a = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        a[i] = (float)(sin(phase * (double)(i + 1)) * (1.0 + 0.5 * cos(0.013 * (double)i)));
    return a;
}

/* The relative error of the logits bf16 products predict, times the allowance (header). */
static double predicted_bound(void)
{
    const double sigma = sqrt(2.0) * ldexp(1.0, -8) / sqrt(3.0);
    return 3.0 * sqrt(2.0) * sigma;
}

/* ‖a - b‖₂ / ‖b‖₂ and the share of rows whose argmax agrees. */
static void compare_logits(const float *a, const float *b, int64_t rows, int64_t vocab, double *rel, double *top1)
{
    double diff = 0, norm = 0;
    int64_t agree = 0;
    for (int64_t r = 0; r < rows; r++) {
        int64_t best_a = 0, best_b = 0;
        for (int64_t v = 0; v < vocab; v++) {
            const double d = (double)a[r * vocab + v] - (double)b[r * vocab + v];
            diff += d * d;
            norm += (double)b[r * vocab + v] * (double)b[r * vocab + v];
            best_a = a[r * vocab + v] > a[r * vocab + best_a] ? v : best_a;
            best_b = b[r * vocab + v] > b[r * vocab + best_b] ? v : best_b;
        }
        agree += best_a == best_b;
    }
    *rel = sqrt(diff / norm);
    *top1 = (double)agree / (double)rows;
}

/* ---- products ------------------------------------------------------------------------------------------- */

/* C (m, n) of a product whose operands are A (m,k) and B (k,n) as op() reads them, each rounded to bf16,
 * against float64: within fp32 summation of k terms, k·2^-24 of Σ|a·b| (and a little for C's own rounding). */
static void assert_product(const char *what, const float *c, int64_t ldc, const float *before, float alpha,
                           float beta, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, bool ta,
                           const float *b, int64_t ldb, bool tb)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double dot = 0, mag = 0;
            for (int64_t p = 0; p < k; p++) {
                const double x = round_bf16(ta ? a[p * lda + i] : a[i * lda + p]);
                const double y = round_bf16(tb ? b[j * ldb + p] : b[p * ldb + j]);
                dot += x * y;
                mag += fabs(x * y);
            }
            const double want = alpha * dot + beta * (before != NULL ? before[i * ldc + j] : 0.0);
            const double tol = 4.0 * (double)k * ldexp(1.0, -24) * fabs(alpha) * mag + 1e-6 * fabs(want) + 1e-30;
            cr_assert(fabs(c[i * ldc + j] - want) <= tol, "%s: C[%lld][%lld] = %.9g, float64 of bf16 operands %.9g",
                      what, (long long)i, (long long)j, c[i * ldc + j], want);
        }
}

/* sb_gemm in a bf16 context, every transpose, strided A, B and C, alpha and beta: the operands rounded as
 * stored, products and sums in fp32; the columns of C beside the product untouched. */
Test(bf16, gemm_every_transpose_matches_float64_of_rounded_operands)
{
    sb_exec *x = test_exec_bf16(2);
    const int64_t m = 19, n = 40, k = 70, pad = 5;
    for (int t = 0; t < 4; t++) {
        const bool ta = t & 1, tb = t & 2;
        const int64_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
        float *a = filled((ta ? k : m) * lda, 0.37), *b = filled((tb ? n : k) * ldb, 0.11);
        float *c = filled(m * ldc, 0.5), *before = malloc(sizeof(float) * (size_t)(m * ldc));
        memcpy(before, c, sizeof(float) * (size_t)(m * ldc));
        sb_exec_reset_flops(x);
        sb_gemm(x, ta, tb, m, n, k, 0.75f, a, lda, b, ldb, 0.5f, c, ldc);
        sb_error err = {0};
        cr_assert_eq(sb_exec_failure(x, &err), 0, "%s", err.msg);
        cr_assert_eq(sb_exec_flops(x), 2 * m * n * k);
        char what[32];
        snprintf(what, sizeof what, "op %c%c", ta ? 'T' : 'N', tb ? 'T' : 'N');
        assert_product(what, c, ldc, before, 0.75f, 0.5f, m, n, k, a, lda, ta, b, ldb, tb);
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = n; j < ldc; j++)
                cr_assert_eq(c[i * ldc + j], before[i * ldc + j], "%s: C[%lld][%lld] beside the product changed",
                             what, (long long)i, (long long)j);
        free(a), free(b), free(c), free(before);
    }
    sb_exec_free(x);
}

/* Products on a bf16 weight as a linear layer reads it: W (n,k) transposed (the forward), W (k,n) as stored
 * (the backward's dy·W), and W pre-packed; fp32 weights under bf16 compute are rounded per call. */
Test(bf16, products_on_bf16_weights_plain_and_packed)
{
    sb_exec *x = test_exec_bf16(2);
    const int64_t m = 33, n = 128, k = 64, ldc = n + 8;
    float *a = filled(m * k, 0.29), *w = filled(n * k, 0.07);
    uint16_t *w16 = malloc(sizeof(uint16_t) * (size_t)(n * k)), *scratch = malloc(sizeof(uint16_t) * (size_t)(n * k));
    sb_dtype_from_f32(SB_DTYPE_BF16, w, w16, n * k);
    float *c = filled(m * ldc, 0.9), *before = malloc(sizeof(float) * (size_t)(m * ldc));
    memcpy(before, c, sizeof(float) * (size_t)(m * ldc));
    sb_error err = {0};

    sb_gemm_weights(x, true, m, n, k, 1.0f, a, k, (sb_weight_operand){w16, SB_DTYPE_BF16, false}, 1.0f, c, ldc);
    cr_assert_eq(sb_exec_failure(x, &err), 0, "%s", err.msg);
    assert_product("x·Wᵀ, plain bf16", c, ldc, before, 1.0f, 1.0f, m, n, k, a, k, false, w, k, true);

    /* the same W read as stored, (n, k): dy (m, n)·W -> (m, k) */
    float *dy = filled(m * n, 0.53);
    sb_gemm_weights(x, false, m, k, n, 1.0f, dy, n, (sb_weight_operand){w16, SB_DTYPE_BF16, false}, 0.0f, c, ldc);
    cr_assert_eq(sb_exec_failure(x, &err), 0, "%s", err.msg);
    assert_product("dy·W, plain bf16", c, ldc, NULL, 1.0f, 0.0f, m, k, n, dy, n, false, w, k, false);
    free(dy);

    memcpy(c, before, sizeof(float) * (size_t)(m * ldc));
    sb_gemm_weights(x, true, m, n, k, 0.5f, a, k, (sb_weight_operand){w, SB_DTYPE_F32, false}, 0.0f, c, ldc);
    cr_assert_eq(sb_exec_failure(x, &err), 0, "%s", err.msg);
    assert_product("x·Wᵀ, fp32 weight rounded per call", c, ldc, NULL, 0.5f, 0.0f, m, n, k, a, k, false, w, k, true);

    if (sb_gemm_packable(x, n, k, SB_DTYPE_BF16)) {
        uint16_t *packed = malloc(sizeof(uint16_t) * (size_t)(n * k));
        memcpy(packed, w16, sizeof(uint16_t) * (size_t)(n * k));
        cr_assert_eq(sb_gemm_pack(x, n, k, SB_DTYPE_BF16, packed, scratch, &err), 0, "%s", err.msg);
        cr_assert_neq(memcmp(packed, w16, sizeof(uint16_t) * (size_t)(n * k)), 0, "packing changed nothing");
        memcpy(c, before, sizeof(float) * (size_t)(m * ldc));
        sb_gemm_weights(x, true, m, n, k, 1.0f, a, k, (sb_weight_operand){packed, SB_DTYPE_BF16, true}, 1.0f, c, ldc);
        cr_assert_eq(sb_exec_failure(x, &err), 0, "%s", err.msg);
        assert_product("x·Wᵀ, packed bf16", c, ldc, before, 1.0f, 1.0f, m, n, k, a, k, false, w, k, true);
        cr_assert_eq(sb_gemm_unpack(x, n, k, SB_DTYPE_BF16, packed, scratch, &err), 0, "%s", err.msg);
        cr_assert_eq(memcmp(packed, w16, sizeof(uint16_t) * (size_t)(n * k)), 0, "unpacking is not bit-exact");
        free(packed);
    }
    free(a), free(w), free(w16), free(scratch), free(c), free(before);
    sb_exec_free(x);
}

/* A bf16 model's linear weights are pre-packed in bf16 for a bf16 context (the same tensors as fp32's for
 * fp32), left in HF layout for an fp32 context (bf16 storage is converted per use there), and come back bit
 * for bit. */
Test(bf16, weights_pack_in_bf16_only_for_bf16_products)
{
    sb_exec *x16 = test_exec_bf16(2), *x32 = test_exec(SB_GEMM_ONEDNN, 2);
    const sb_config c = test_packable_config();
    sb_weights w32 = {0}, w16 = {0};
    test_make_weights(&w32, &c, SB_DTYPE_F32, 4);
    test_convert_weights(&w16, &w32, SB_DTYPE_BF16);
    void *original = malloc(w16.arena_bytes);
    memcpy(original, w16.arena, w16.arena_bytes);
    sb_error err = {0};
    cr_assert_eq(sb_weights_layout_for(&w32, x32, &err), 0, "%s", err.msg);
    cr_assert_eq(sb_weights_layout_for(&w16, x32, &err), 0, "%s", err.msg);
    cr_assert_eq(w16.num_packed, 0, "bf16 storage under fp32 products stays in HF layout");
    cr_assert_eq(sb_weights_layout_for(&w16, x16, &err), 0, "%s", err.msg);
    if (sb_gemm_packable(x16, c.d_model, c.d_model, SB_DTYPE_BF16))
        cr_assert_eq(w16.num_packed, w32.num_packed, "bf16 packed %zu tensors, fp32 %zu", w16.num_packed,
                     w32.num_packed);
    cr_assert_eq(sb_weights_unpack(&w16, x16, &err), 0, "%s", err.msg);
    cr_assert_eq(memcmp(w16.arena, original, w16.arena_bytes), 0, "unpacking did not restore HF layout exactly");
    free(original);
    sb_weights_free(&w32), sb_weights_free(&w16);
    sb_exec_free(x16), sb_exec_free(x32);
}

/* ---- refusals -------------------------------------------------------------------------------------------- */

Test(bf16, refused_where_it_cannot_run_on_bf16_instructions)
{
    sb_error err = {0};
    sb_exec_settings xs;
    sb_exec_settings_default(&xs);
    xs.compute = SB_DTYPE_BF16;
    sb_exec *x = NULL;
    cr_assert_eq(sb_exec_create(&x, &xs, &err), -1, "bf16 compute on OpenBLAS was accepted");
    cr_assert(strstr(err.msg, "oneDNN only") != NULL && strstr(err.msg, "--gemm onednn") != NULL, "%s", err.msg);

    /* bf16 products read bf16 weights */
    if (sb_bf16_available(NULL) == 0) {
        sb_exec *x16 = test_exec_bf16(1);
        sb_weights w = {0};
        const sb_config c = test_packable_config();
        test_make_weights(&w, &c, SB_DTYPE_F32, 1);
        sb_runtime *rt = NULL;
        cr_assert_eq(sb_runtime_create(&rt, x16, &w, 1, 4, 4, &err), -1);
        cr_assert(strstr(err.msg, "--dtype bf16") != NULL, "%s", err.msg);
        sb_weights_free(&w);
        sb_exec_free(x16);
    }

    /* a run on OpenBLAS, a run crossing both backends, and a run where oneDNN is capped below bf16
     * instructions: refused before measuring (exit status 2, one line saying why and what to do), or the
     * OpenBLAS points left out saying so */
    char dir[64], args[512], *out = NULL;
    test_make_temp_dir(dir, sizeof dir, "bf16-cli");
    snprintf(args, sizeof args, "run t5-efficient-tiny --gemm openblas --dtype bf16 --src 8 --tgt 4 --out %s/a 2>&1", dir);
    cr_assert_eq(test_run_cli(args, &out), 2, "%s", out);
    cr_assert(strstr(out, "oneDNN only") != NULL && strstr(out, "--gemm onednn") != NULL, "%s", out);
    free(out);
    const bool bf16 = sb_bf16_available(NULL) == 0;
    snprintf(args, sizeof args,
             "run t5-efficient-tiny --gemm onednn,openblas --dtype f32,bf16 --mode encode --src 8 --tgt 4 --min-reps 1 "
             "--min-time 0 --warmup 0 --threads 1 --out %s/b --format csv 2>&1",
             dir);
    cr_assert_eq(test_run_cli(args, &out), bf16 ? 0 : 2, "%s", out);
    if (bf16) {
        cr_assert(strstr(out, "1 bf16 point on OpenBLAS left out") != NULL, "%s", out);
        cr_assert(strstr(out, ",bf16,") != NULL, "no bf16 row:\n%s", out);
    } else {
        cr_assert(strstr(out, "no bf16 instructions") != NULL, "%s", out);
    }
    free(out);
    setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE", 1);
    snprintf(args, sizeof args, "run t5-efficient-tiny --gemm onednn --dtype bf16 --src 8 --tgt 4 --out %s/c 2>&1", dir);
    const int rc = test_run_cli(args, &out);
    unsetenv("ONEDNN_MAX_CPU_ISA");
    cr_assert_eq(rc, 2, "%s", out);
    cr_assert(strstr(out, "no bf16 instructions") != NULL && strstr(out, "avx512_core") != NULL, "%s", out);
    free(out);
    test_remove_tree(dir);
}

/* ---- the forward against fp32 ------------------------------------------------------------------------------ */

/* The logits of a forward on (x, w). */
static float *forward_logits(sb_exec *x, sb_weights *w, int64_t batch, int64_t src, int64_t tgt, const int32_t *ids,
                             const int32_t *mask, const int32_t *dec)
{
    sb_error err = {0};
    cr_assert_eq(sb_weights_layout_for(w, x, &err), 0, "%s", err.msg);
    sb_runtime *rt = NULL;
    cr_assert_eq(sb_runtime_create(&rt, x, w, batch, src, tgt, &err), 0, "%s", err.msg);
    cr_assert_eq(sb_encode(rt, batch, src, ids, mask, &err), 0, "%s", err.msg);
    cr_assert_eq(sb_decode(rt, tgt, dec, &err), 0, "%s", err.msg);
    const size_t n = (size_t)(batch * tgt * w->cfg.vocab_size);
    float *logits = malloc(sizeof(float) * n);
    memcpy(logits, sb_logits(rt), sizeof(float) * n);
    sb_runtime_free(rt);
    return logits;
}

static void *fixture_array(const char *dir, const char *file, size_t bytes)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    size_t len = 0;
    void *data = test_read_file(path, &len);
    cr_assert_eq(len, bytes, "%s: %zu bytes, expected %zu", path, len, bytes);
    return data;
}

/* The HF fixtures (fp32 reference logits) run with bf16 products on their bf16-rounded weights: within the
 * predicted bound, and the argmax of every position but at most 1 % agreeing. */
static void check_fixture(const char *dir)
{
    sb_exec *x = test_exec_bf16(2);
    sb_error err = {0};
    sb_weights w = {0};
    cr_assert_eq(sb_checkpoint_load(dir, SB_DTYPE_BF16, &w, NULL, NULL, &err), 0, "%s", err.msg);
    const int64_t batch = 2, src = 16, tgt = 8, V = w.cfg.vocab_size;
    int32_t *ids = fixture_array(dir, "input_ids.bin", 4 * batch * src);
    int32_t *mask = fixture_array(dir, "attention_mask.bin", 4 * batch * src);
    int32_t *dec = fixture_array(dir, "decoder_input_ids.bin", 4 * batch * tgt);
    float *ref = fixture_array(dir, "logits.bin", 4 * (size_t)(batch * tgt * V));
    float *got = forward_logits(x, &w, batch, src, tgt, ids, mask, dec);
    double rel, top1;
    compare_logits(got, ref, batch * tgt, V, &rel, &top1);
    const double bound = predicted_bound();
    cr_log_info("%s: bf16 logits vs HF fp32: relative error %.3g (bound %.3g), top-1 agreement %.3f", dir, rel, bound,
                top1);
    cr_assert(rel <= bound, "%s: relative error %g over the predicted %g", dir, rel, bound);
    cr_assert(rel > 1e-5, "%s: relative error %g: the products were not bf16", dir, rel);
    cr_assert(top1 >= 0.99, "%s: top-1 agreement %.3f", dir, top1);
    free(ids), free(mask), free(dec), free(ref), free(got);
    sb_weights_free(&w);
    sb_exec_free(x);
}

Test(bf16, fixture_t5_logits_within_predicted_error_of_hf_fp32)
{
    check_fixture("tests/fixtures/t5-eff-relu-mini");
}

Test(bf16, fixture_switch_logits_within_predicted_error_of_hf_fp32)
{
    check_fixture("tests/fixtures/switch-mini-nodrop");
}

/* t5-efficient-tiny at the paper's 512 + 114 tokens (random weights, seed 0): bf16 products on bf16 weights
 * against the fp32 engine on the fp32 weights. */
Test(bf16, tiny_512_114_logits_within_predicted_error_of_fp32, .timeout = 300)
{
    sb_exec *x16 = test_exec_bf16(2), *x32 = test_exec(SB_GEMM_ONEDNN, 2);
    sb_error err = {0};
    sb_weights w32 = {0}, w16 = {0};
    cr_assert_eq(sb_model_open("t5-efficient-tiny", SB_DTYPE_F32, 0, &w32, NULL, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(sb_model_open("t5-efficient-tiny", SB_DTYPE_BF16, 0, &w16, NULL, NULL, &err), 0, "%s", err.msg);
    const int64_t src = 512, tgt = 114, V = w32.cfg.vocab_size;
    int32_t *ids = malloc(4 * src), *dec = malloc(4 * tgt);
    uint64_t s = 99;
    for (int64_t i = 0; i < src + tgt; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        const int32_t id = (int32_t)(2 + (s >> 33) % (uint64_t)(V - 2));
        if (i < src)
            ids[i] = id;
        else
            dec[i - src] = i == src ? (int32_t)w32.cfg.decoder_start_token_id : id;
    }
    float *ref = forward_logits(x32, &w32, 1, src, tgt, ids, NULL, dec);
    float *got = forward_logits(x16, &w16, 1, src, tgt, ids, NULL, dec);
    double rel, top1;
    compare_logits(got, ref, tgt, V, &rel, &top1);
    const double bound = predicted_bound();
    cr_log_info("t5-efficient-tiny 512/114: bf16 vs fp32 logits: relative error %.3g (bound %.3g), top-1 %.3f", rel,
                bound, top1);
    cr_assert(rel <= bound, "relative error %g over the predicted %g", rel, bound);
    cr_assert(top1 >= 0.99, "top-1 agreement %.3f", top1);
    free(ids), free(dec), free(ref), free(got);
    sb_weights_free(&w32), sb_weights_free(&w16);
    sb_exec_free(x16), sb_exec_free(x32);
}

/* ---- mixed-precision training -------------------------------------------------------------------------------- */

/* A small batch for the trainer: random ids, labels the next decoder input. */
typedef struct {
    int32_t *ids, *dec, *labels;
    sb_train_batch batch;
} train_data;

static train_data make_batch(const sb_config *c, int64_t batch, int64_t src, int64_t tgt, uint64_t seed)
{
    train_data d = {malloc(4 * (size_t)(batch * src)), malloc(4 * (size_t)(batch * tgt)),
                    malloc(4 * (size_t)(batch * tgt)), {0}};
    uint64_t s = seed;
    for (int64_t i = 0; i < batch * src; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        d.ids[i] = (int32_t)(2 + (s >> 33) % (uint64_t)(c->vocab_size - 2));
    }
    for (int64_t i = 0; i < batch * tgt; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        d.dec[i] = i % tgt == 0 ? (int32_t)c->decoder_start_token_id
                                : (int32_t)(2 + (s >> 33) % (uint64_t)(c->vocab_size - 2));
    }
    for (int64_t i = 0; i < batch * tgt; i++)
        d.labels[i] = (i + 1) % tgt != 0 ? d.dec[i + 1] : (int32_t)c->eos_token_id;
    d.batch = (sb_train_batch){.input_ids = d.ids, .decoder_input_ids = d.dec, .labels = d.labels};
    return d;
}

static void free_batch(train_data *d)
{
    free(d->ids), free(d->dec), free(d->labels);
}

/* The gradient of every tensor with bf16 products against fp32's on the same fp32 weights, on t5-efficient-tiny
 * at 512 + 114 tokens (no dropout): cosine similarity at least 0.999 per tensor. With relu FFNs, a unit
 * whose pre-activation lies within bf16's rounding of zero takes the other side of the relu in one forward
 * than in the other, and its whole gradient with it: the FFN's wi and the layer norm before it, whose
 * gradients pass through the relu mask, reach 0.998 (the backward's products in fp32 give the same cosines:
 * the difference is the forward's). Those get 0.995; with gated-gelu FFNs (smooth) every tensor gets 0.999. */
static void check_gradients(const char *model, double relu_masked_floor)
{
    sb_exec *x16 = test_exec_bf16(2), *x32 = test_exec(SB_GEMM_ONEDNN, 2);
    sb_error err = {0};
    sb_weights w = {0};
    cr_assert_eq(sb_model_open(model, SB_DTYPE_F32, 0, &w, NULL, NULL, &err), 0, "%s", err.msg);
    const int64_t B = 1, S = 512, T = 114;
    train_data d = make_batch(&w.cfg, B, S, T, 5);
    sb_trainer_options opt;
    sb_trainer_options_default(&opt);
    opt.dropout_rate = 0;
    sb_trainer *t32 = NULL, *t16 = NULL;
    cr_assert_eq(sb_trainer_create(&t32, x32, &w, B, S, T, &opt, &err), 0, "%s", err.msg);
    cr_assert_eq(sb_trainer_create(&t16, x16, &w, B, S, T, &opt, &err), 0, "%s", err.msg);
    sb_train_losses l32, l16;
    cr_assert_eq(sb_trainer_step(t32, &d.batch, false, false, &l32, &err), 0, "%s", err.msg);
    cr_assert_eq(sb_trainer_step(t16, &d.batch, false, false, &l16, &err), 0, "%s", err.msg);
    cr_log_info("%s training loss: fp32 %.6f, bf16 %.6f", model, l32.total, l16.total);
    cr_assert(fabs(l16.total - l32.total) <= predicted_bound() * l32.total, "loss fp32 %g bf16 %g", l32.total,
              l16.total);
    const float *g32 = sb_trainer_grads(t32), *g16 = sb_trainer_grads(t16);
    double worst = 1;
    const char *worst_name = "";
    for (size_t i = 0; i < w.num_tensors; i++) {
        const sb_tensor *t = &w.tensors[i];
        double dot = 0, n32 = 0, n16 = 0;
        for (int64_t j = 0; j < t->numel; j++) {
            const double a = g32[t->offset + j], b = g16[t->offset + j];
            dot += a * b, n32 += a * a, n16 += b * b;
        }
        if (n32 == 0)
            continue;
        const double cosine = dot / sqrt(n32 * n16);
        const bool masked = w.cfg.ffn == SB_FFN_RELU && strstr(t->name, "DenseReluDense.wi.") != NULL;
        /* the layer norm of the FFN sublayer: layer.1 in the encoder, layer.2 in the decoder */
        const bool ffn_norm = w.cfg.ffn == SB_FFN_RELU && strstr(t->name, ".layer_norm.") != NULL &&
                              strstr(t->name, strncmp(t->name, "encoder", 7) == 0 ? ".layer.1." : ".layer.2.") != NULL;
        const double floor = masked || ffn_norm ? relu_masked_floor : 0.999;
        if (cosine < worst)
            worst = cosine, worst_name = t->name;
        cr_assert(cosine >= floor, "%s: gradient cosine %.6f under %g", t->name, cosine, floor);
    }
    cr_log_info("%s: lowest gradient cosine %.6f (%s)", model, worst, worst_name);
    free_batch(&d);
    sb_trainer_free(t32), sb_trainer_free(t16);
    sb_weights_free(&w);
    sb_exec_free(x16), sb_exec_free(x32);
}

Test(bf16, training_gradients_match_fp32_relu, .timeout = 300)
{
    check_gradients("t5-efficient-tiny", 0.995);
}

Test(bf16, training_gradients_match_fp32_gated_gelu, .timeout = 300)
{
    check_gradients("t5-efficient-tiny:feed_forward_proj=gated-gelu", 0.999);
}

/* Forty Adafactor steps from the same weights on the same batches, fp32 and bf16 products: the bf16 loss
 * curve stays within 2 % of the starting loss of fp32's at every step, while both fall by more than half (the
 * run memorises its four batches). Were the bf16 copy of the weights not remade after each step, bf16's loss
 * would stay at the start. */
Test(bf16, training_loss_curve_tracks_fp32, .timeout = 300)
{
    sb_exec *x[2] = {test_exec(SB_GEMM_ONEDNN, 2), test_exec_bf16(2)};
    sb_config c = test_config(64, 128, 64, 4, 16, 2, 2);
    c.vocab_size = 96;
    sb_weights w[2];
    memset(w, 0, sizeof w);
    test_make_weights(&w[0], &c, SB_DTYPE_F32, 21);
    test_make_weights(&w[1], &c, SB_DTYPE_F32, 21);
    sb_trainer_options topt;
    sb_trainer_options_default(&topt);
    topt.dropout_rate = 0;
    sb_optim_settings os;
    sb_optim_defaults(SB_OPTIM_ADAFACTOR, &os);
    sb_trainer *t[2] = {NULL, NULL};
    sb_optimizer *o[2] = {NULL, NULL};
    sb_error err = {0};
    for (int p = 0; p < 2; p++) {
        cr_assert_eq(sb_trainer_create(&t[p], x[p], &w[p], 4, 24, 12, &topt, &err), 0, "%s", err.msg);
        cr_assert_eq(sb_optimizer_create(&o[p], &w[p], &os, &err), 0, "%s", err.msg);
    }
    /* four batches in turn: the model learns them */
    train_data d[4];
    for (int b = 0; b < 4; b++)
        d[b] = make_batch(&c, 4, 24, 12, 100 + (uint64_t)b);
    double first[2] = {0, 0}, last[2] = {0, 0}, worst = 0, start = 0;
    const int steps = 40;
    for (int s = 0; s < steps; s++) {
        double loss[2];
        for (int p = 0; p < 2; p++) {
            sb_train_losses l;
            cr_assert_eq(sb_trainer_step(t[p], &d[s % 4].batch, true, false, &l, &err), 0, "%s", err.msg);
            cr_assert_eq(sb_optimizer_step(o[p], &w[p], sb_trainer_grads(t[p]), SB_OPTIM_LR_DEFAULT, &err), 0, "%s",
                         err.msg);
            loss[p] = l.total;
            if (s < 4)
                first[p] += l.total / 4;
            if (s >= steps - 4)
                last[p] += l.total / 4;
        }
        if (s == 0)
            start = loss[0];
        const double gap = fabs(loss[1] - loss[0]);
        worst = fmax(worst, gap);
        cr_assert(gap <= 0.02 * start, "step %d: loss fp32 %.5f, bf16 %.5f (%.3f apart, the limit %.3f)", s + 1, loss[0],
                  loss[1], gap, 0.02 * start);
    }
    cr_log_info("loss fp32 %.4f -> %.4f, bf16 %.4f -> %.4f, largest gap %.4f nats", first[0], last[0], first[1],
                last[1], worst);
    for (int p = 0; p < 2; p++)
        cr_assert(last[p] < 0.5 * first[p], "%s: the loss did not fall by half (%.4f -> %.4f)", p ? "bf16" : "fp32",
                  first[p], last[p]);
    for (int b = 0; b < 4; b++)
        free_batch(&d[b]);
    for (int p = 0; p < 2; p++) {
        sb_optimizer_free(o[p]);
        sb_trainer_free(t[p]);
        sb_weights_free(&w[p]);
        sb_exec_free(x[p]);
    }
}

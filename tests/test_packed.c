/* test_packed.c — weights pre-packed for oneDNN's matmul: the product on packed weights against a float64
 * reference (alpha, beta, strided C), which tensors get packed, the bit-exact way back to HF layout, and
 * every consumer that needs HF layout refusing packed weights with a message instead of reading them wrong.
 * The engine's outputs on packed weights are checked against the plain-loop reference in
 * test_engine_reference.c and against the HF fixtures in test_engine_parity.c. */
#include "tests/helpers.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* test_packable_config untied: its lm_head, which oneDNN cannot pack, beside the packed weights. */
static sb_config packable_config(void)
{
    sb_config c = test_packable_config();
    c.tie_word_embeddings = false;
    return c;
}

/* A oneDNN context, the test skipped where its matmul keeps plain weights. */
static sb_exec *onednn_or_skip(void)
{
    sb_exec *x = test_exec(SB_GEMM_ONEDNN, 2);
    if (!sb_gemm_packable(x, 64, 64, SB_DTYPE_F32)) {
        sb_exec_free(x);
        cr_skip_test("oneDNN's matmul keeps plain weights on this CPU (its packed layout needs AVX-512)");
    }
    return x;
}

Test(packed, layout_exists_only_without_padding)
{
    sb_exec *x = onednn_or_skip();
    cr_assert(sb_gemm_packable(x, 768, 768, SB_DTYPE_F32));
    cr_assert(sb_gemm_packable(x, 3072, 768, SB_DTYPE_F32));
    cr_assert(sb_gemm_packable(x, 768, 3072, SB_DTYPE_F32));
    cr_assert_not(sb_gemm_packable(x, 96, 64, SB_DTYPE_F32), "96 output features would be padded to 128");
    cr_assert_not(sb_gemm_packable(x, 64, 40, SB_DTYPE_F32), "40 input features would be padded to 48");
    sb_exec_free(x);
}

/* C = alpha * A·Wᵀ + beta * C with C a strided block of a wider matrix, W packed: every element within
 * fp32 summation error of float64, and the columns beside the block untouched. */
Test(packed, product_matches_float64_with_alpha_beta_and_strides)
{
    sb_exec *x = onednn_or_skip();
    const int64_t m = 37, n = 128, k = 80, ldc = n + 24;
    float *a = malloc(sizeof(float) * m * k), *w = malloc(sizeof(float) * n * k), *wp = malloc(sizeof(float) * n * k);
    float *scratch = malloc(sizeof(float) * n * k), *c = malloc(sizeof(float) * m * ldc);
    for (int64_t i = 0; i < m * k; i++)
        a[i] = (float)sin(0.37 * (double)i);
    for (int64_t i = 0; i < n * k; i++)
        w[i] = (float)cos(0.11 * (double)i);
    for (int64_t i = 0; i < m * ldc; i++)
        c[i] = (float)(i % 13) - 6.0f;
    float *before = malloc(sizeof(float) * m * ldc);
    memcpy(before, c, sizeof(float) * m * ldc);
    memcpy(wp, w, sizeof(float) * n * k);
    sb_error err = {0};
    cr_assert_eq(sb_gemm_pack(x, n, k, SB_DTYPE_F32, wp, scratch, &err), 0, "%s", err.msg);
    cr_assert_neq(memcmp(wp, w, sizeof(float) * n * k), 0, "packing changed nothing");
    const float alpha = 0.5f, beta = 1.0f;
    sb_exec_reset_flops(x);
    sb_gemm_weights(x, true, m, n, k, alpha, a, k, (sb_weight_operand){wp, SB_DTYPE_F32, true}, beta, c, ldc);
    cr_assert_eq(sb_exec_failure(x, &err), 0, "%s", err.msg);
    cr_assert_eq(sb_exec_flops(x), 2 * m * n * k);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < ldc; j++) {
            double want = before[i * ldc + j];
            if (j < n) {
                double dot = 0;
                for (int64_t p = 0; p < k; p++)
                    dot += (double)a[i * k + p] * (double)w[j * k + p];
                want = alpha * dot + beta * want;
            }
            cr_assert(fabs(c[i * ldc + j] - want) <= 1e-4 * fmax(1, fabs(want)), "C[%lld][%lld] = %g, float64 %g",
                      (long long)i, (long long)j, c[i * ldc + j], want);
        }
    free(a), free(w), free(wp), free(scratch), free(c), free(before);
    sb_exec_free(x);
}

/* An attention projection or FFN matrix (an expert's too), by the end of its HF name. */
static bool is_linear(const char *name)
{
    static const char *const roles[] = {".q.weight",  ".k.weight",    ".v.weight",    ".o.weight",
                                        ".wi.weight", ".wi_0.weight", ".wi_1.weight", ".wo.weight"};
    const size_t len = strlen(name);
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        const size_t r = strlen(roles[i]);
        if (len >= r && strcmp(name + len - r, roles[i]) == 0)
            return true;
    }
    return false;
}

/* Every attention and dense-FFN weight packed, nothing else; unpacking restores the arena bit for bit. */
Test(packed, weights_round_trip_bit_for_bit)
{
    sb_exec *x = onednn_or_skip();
    sb_config c = packable_config();
    c.ffn = SB_FFN_GATED_GELU;
    sb_weights w = {0};
    test_make_weights(&w, &c, SB_DTYPE_F32, 3);
    void *original = malloc(w.arena_bytes);
    memcpy(original, w.arena, w.arena_bytes);
    sb_error err = {0};
    cr_assert_eq(sb_weights_pack(&w, x, &err), 0, "%s", err.msg);
    /* per encoder block q, k, v, o, wi_0, wi_1, wo; per decoder block 4 more for cross-attention */
    cr_assert_eq(w.num_packed, 2 * 7 + 2 * 11, "%zu tensors packed", w.num_packed);
    size_t marked = 0;
    for (size_t i = 0; i < w.num_tensors; i++) {
        const sb_tensor *t = &w.tensors[i];
        const bool linear = is_linear(t->name);
        cr_assert_eq(t->packed, linear, "%s: packed %d", t->name, t->packed);
        marked += t->packed;
        const size_t bytes = (size_t)t->numel * sizeof(float);
        if (t->packed)
            cr_assert_neq(memcmp(sb_tensor_data(&w, t), (char *)original + t->offset * sizeof(float), bytes), 0,
                          "%s did not move", t->name);
        else
            cr_assert_eq(memcmp(sb_tensor_data(&w, t), (char *)original + t->offset * sizeof(float), bytes), 0,
                         "%s changed", t->name);
    }
    cr_assert_eq(marked, w.num_packed);
    cr_assert_eq(sb_weights_pack(&w, x, &err), 0, "packing twice: %s", err.msg);
    cr_assert_eq(w.num_packed, marked);
    cr_assert_eq(sb_weights_unpack(&w, x, &err), 0, "%s", err.msg);
    cr_assert_eq(w.num_packed, 0);
    cr_assert_eq(memcmp(w.arena, original, w.arena_bytes), 0, "unpacking did not restore HF layout exactly");
    free(original);
    sb_weights_free(&w);
    sb_exec_free(x);
}

/* Switch: every expert's wi and wo packed with the attention, the routers (4 outputs) and dense-block FFNs
 * beside them as their roles say; the experts' products on packed weights are checked against the
 * plain-loop reference in test_engine_reference.c. */
Test(packed, switch_experts_packed_routers_not)
{
    sb_exec *x = onednn_or_skip();
    sb_config c = packable_config();
    c.num_layers = c.num_decoder_layers = 4;
    c.num_experts = 4;
    c.encoder_sparse_step = c.decoder_sparse_step = 2;
    sb_weights w = {0};
    test_make_weights(&w, &c, SB_DTYPE_F32, 6);
    sb_error err = {0};
    cr_assert_eq(sb_weights_pack(&w, x, &err), 0, "%s", err.msg);
    size_t experts = 0;
    for (size_t i = 0; i < w.num_tensors; i++) {
        const sb_tensor *t = &w.tensors[i];
        const bool expert = strstr(t->name, ".experts.") != NULL, router = strstr(t->name, ".router.") != NULL;
        cr_assert_eq(t->packed, is_linear(t->name), "%s: packed %d", t->name, t->packed);
        cr_assert(!router || !t->packed, "%s", t->name);
        experts += expert;
    }
    /* 2 sparse blocks per stack, 4 experts, wi and wo */
    cr_assert_eq(experts, 2 * 2 * 4 * 2);
    /* attention: 4 encoder blocks x 4, 4 decoder blocks x 8; FFN: 2 dense blocks per stack x 2; experts */
    cr_assert_eq(w.num_packed, 4 * 4 + 4 * 8 + 2 * 2 * 2 + experts);
    sb_weights_free(&w);
    sb_exec_free(x);
}

/* Whatever reads HF layout refuses packed weights, naming what to do; after unpacking each works. */
Test(packed, consumers_of_hf_layout_refuse_packed_weights)
{
    sb_exec *dnn = onednn_or_skip(), *blas = test_exec(SB_GEMM_OPENBLAS, 2);
    sb_config c = packable_config();
    sb_weights w = {0};
    test_make_weights(&w, &c, SB_DTYPE_F32, 5);
    sb_error err = {0};
    cr_assert_eq(sb_weights_layout_for(&w, dnn, &err), 0, "%s", err.msg);

    sb_runtime *on_blas = NULL, *on_dnn = NULL;
    cr_assert_eq(sb_runtime_create(&on_blas, blas, &w, 1, 8, 4, &err), 0, "%s", err.msg);
    const int32_t ids[8] = {3, 4, 5, 6, 7, 8, 9, 10}, dec[4] = {0, 3, 4, 5};
    cr_assert_eq(sb_encode(on_blas, 1, 8, ids, NULL, &err), -1, "OpenBLAS ran on packed weights");
    cr_assert(strstr(err.msg, "pre-packed") != NULL && strstr(err.msg, "openblas") != NULL, "%s", err.msg);

    sb_trainer *t = NULL;
    cr_assert_eq(sb_trainer_create(&t, blas, &w, 1, 8, 4, NULL, &err), -1);
    cr_assert(strstr(err.msg, "the trainer needs the weights in Hugging Face layout") != NULL, "%s", err.msg);
    char dir[64];
    test_make_temp_dir(dir, sizeof dir, "packed");
    cr_assert_eq(sb_checkpoint_save(&w, dir, &err), -1);
    cr_assert(strstr(err.msg, "sb_weights_unpack") != NULL, "%s", err.msg);

    /* on oneDNN the packed weights run */
    cr_assert_eq(sb_runtime_create(&on_dnn, dnn, &w, 1, 8, 4, &err), 0, "%s", err.msg);
    cr_assert_eq(sb_encode(on_dnn, 1, 8, ids, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(sb_decode(on_dnn, 4, dec, &err), 0, "%s", err.msg);

    /* an optimizer created on HF layout refuses a step once the weights are packed */
    cr_assert_eq(sb_weights_unpack(&w, dnn, &err), 0, "%s", err.msg);
    sb_optim_settings os;
    sb_optim_defaults(SB_OPTIM_ADAFACTOR, &os);
    sb_optimizer *opt = NULL;
    cr_assert_eq(sb_optimizer_create(&opt, &w, &os, &err), 0, "%s", err.msg);
    float *grads = calloc(w.arena_bytes / sizeof(float), sizeof(float));
    cr_assert_eq(sb_weights_pack(&w, dnn, &err), 0, "%s", err.msg);
    cr_assert_eq(sb_optimizer_step(opt, &w, grads, SB_OPTIM_LR_DEFAULT, &err), -1);
    cr_assert(strstr(err.msg, "pre-packed") != NULL, "%s", err.msg);

    cr_assert_eq(sb_weights_layout_for(&w, blas, &err), 0, "%s", err.msg);
    cr_assert_eq(sb_optimizer_step(opt, &w, grads, SB_OPTIM_LR_DEFAULT, &err), 0, "%s", err.msg);
    cr_assert_eq(sb_trainer_create(&t, blas, &w, 1, 8, 4, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(sb_checkpoint_save(&w, dir, &err), 0, "%s", err.msg);
    cr_assert_eq(sb_encode(on_blas, 1, 8, ids, NULL, &err), 0, "%s", err.msg);
    test_remove_tree(dir);
    free(grads);
    sb_optimizer_free(opt);
    sb_trainer_free(t);
    sb_runtime_free(on_blas);
    sb_runtime_free(on_dnn);
    sb_weights_free(&w);
    sb_exec_free(blas);
    sb_exec_free(dnn);
}

/* Initialising or loading writes HF layout over every tensor: none counts as packed afterwards. */
Test(packed, init_and_load_leave_hf_layout)
{
    sb_exec *x = onednn_or_skip();
    sb_config c = packable_config();
    sb_weights w = {0}, fresh = {0};
    test_make_weights(&w, &c, SB_DTYPE_F32, 9);
    test_make_weights(&fresh, &c, SB_DTYPE_F32, 9);
    char dir[64];
    test_make_temp_dir(dir, sizeof dir, "packed-load");
    sb_error err = {0};
    cr_assert_eq(sb_checkpoint_save(&w, dir, &err), 0, "%s", err.msg);
    cr_assert_eq(sb_weights_pack(&w, x, &err), 0, "%s", err.msg);
    sb_weights_init_random(&w, 9);
    cr_assert_eq(w.num_packed, 0);
    cr_assert_eq(memcmp(w.arena, fresh.arena, w.arena_bytes), 0);

    cr_assert_eq(sb_weights_pack(&w, x, &err), 0, "%s", err.msg);
    char path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    cr_assert_eq(sb_safetensors_read(path, &w, NULL, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(w.num_packed, 0);
    for (size_t i = 0; i < w.num_tensors; i++)
        cr_assert_not(w.tensors[i].packed, "%s", w.tensors[i].name);
    cr_assert_eq(memcmp(w.arena, fresh.arena, w.arena_bytes), 0);
    test_remove_tree(dir);
    sb_weights_free(&w);
    sb_weights_free(&fresh);
    sb_exec_free(x);
}

/* With pre-packing off (bench --no-prepack), the layout for oneDNN is HF's, and packed weights go back. */
Test(packed, prepack_off_keeps_hf_layout_for_onednn)
{
    sb_exec *x = onednn_or_skip();
    sb_exec_settings xs;
    sb_exec_settings_default(&xs);
    xs.backend = SB_GEMM_ONEDNN;
    xs.prepack = false;
    sb_exec *plain = NULL;
    sb_error err = {0};
    cr_assert_eq(sb_exec_create(&plain, &xs, &err), 0, "%s", err.msg);
    sb_config c = packable_config();
    sb_weights w = {0};
    test_make_weights(&w, &c, SB_DTYPE_F32, 4);
    cr_assert_eq(sb_weights_layout_for(&w, x, &err), 0, "%s", err.msg);
    cr_assert_gt(w.num_packed, 0);
    cr_assert_not(sb_exec_prepack(plain));
    cr_assert_eq(sb_weights_layout_for(&w, plain, &err), 0, "%s", err.msg);
    cr_assert_eq(w.num_packed, 0);
    sb_weights_free(&w);
    sb_exec_free(plain);
    sb_exec_free(x);
}

/* test_engine_parity.c — the engine against Hugging Face transformers v4.40.2 (tests/fixtures, made by
 * T5ForConditionalGeneration / SwitchTransformersForConditionalGeneration in float32): every hidden state
 * per layer, the encoder output, the logits, and for Switch the router logits, probabilities, choices and
 * kept flags; both GEMM backends. Also the commands: `forward` writing the same arrays, `generate`, `bench`. */
#include "engine/engine.h"
#include "tests/helpers.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARRAYS 64

/* One array of a fixture folder, as listed in its expected.json. */
static void *fixture_array(const char *dir, const char *key, size_t *count, size_t elem)
{
    char path[512];
    size_t len = 0;
    snprintf(path, sizeof path, "%s/expected.json", dir);
    char *text = test_read_file(path, &len);
    cJSON *root = cJSON_Parse(text);
    cJSON *entry = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "arrays"), key);
    cr_assert_not_null(entry, "%s lists no array %s", dir, key);
    snprintf(path, sizeof path, "%s/%s", dir, cJSON_GetObjectItemCaseSensitive(entry, "file")->valuestring);
    size_t numel = 1;
    const cJSON *dim = NULL;
    cJSON_ArrayForEach(dim, cJSON_GetObjectItemCaseSensitive(entry, "shape")) numel *= (size_t)dim->valuedouble;
    cJSON_Delete(root);
    free(text);
    void *data = test_read_file(path, &len);
    cr_assert_eq(len, numel * elem, "%s: %zu bytes, expected %zu", path, len, numel * elem);
    *count = numel;
    return data;
}

static void assert_close(const char *what, const float *got, const float *ref, size_t n)
{
    float max_ref = 0.0f, max_diff = 0.0f;
    for (size_t i = 0; i < n; i++) {
        max_ref = fmaxf(max_ref, fabsf(ref[i]));
        max_diff = fmaxf(max_diff, fabsf(got[i] - ref[i]));
        cr_assert(isfinite(got[i]), "%s[%zu] is not finite", what, i);
    }
    cr_assert(max_diff <= 1e-4f * fmaxf(1.0f, max_ref), "%s: max |diff| %g > 1e-4 * max(1, %g)", what, max_diff,
              max_ref);
}

/* What the observer saw: hidden states per layer and the routing of each sparse block. */
typedef struct {
    int64_t layers[2];
    float *hidden[2]; /* (layers + 1, tokens, d_model) per stack */
    struct {
        char module[96];
        int64_t tokens, experts;
        float *logits, *prob;
        int32_t *choice;
        uint8_t *kept;
    } routers[MAX_ARRAYS];
    size_t num_routers;
} trace;

static void on_hidden(void *ctx, sb_stack stack, int64_t index, const float *h, int64_t tokens, int64_t d_model)
{
    trace *t = ctx;
    memcpy(t->hidden[stack] + index * tokens * d_model, h, (size_t)(tokens * d_model) * sizeof *h);
}

static void on_router(void *ctx, const sb_router_trace *r)
{
    trace *t = ctx;
    cr_assert_lt(t->num_routers, MAX_ARRAYS);
    __typeof__(t->routers[0]) *out = &t->routers[t->num_routers++];
    snprintf(out->module, sizeof out->module, "%s.block.%lld.layer.%d.mlp.router",
             r->stack == SB_STACK_ENCODER ? "encoder" : "decoder", (long long)r->block,
             r->stack == SB_STACK_ENCODER ? 1 : 2);
    out->tokens = r->tokens;
    out->experts = r->num_experts;
    out->logits = malloc((size_t)(r->tokens * r->num_experts) * sizeof(float));
    out->prob = malloc((size_t)r->tokens * sizeof(float));
    out->choice = malloc((size_t)r->tokens * sizeof(int32_t));
    out->kept = malloc((size_t)r->tokens);
    memcpy(out->logits, r->logits, (size_t)(r->tokens * r->num_experts) * sizeof(float));
    memcpy(out->prob, r->gate, (size_t)r->tokens * sizeof(float));
    memcpy(out->choice, r->choice, (size_t)r->tokens * sizeof(int32_t));
    for (int64_t i = 0; i < r->tokens; i++)
        out->kept[i] = r->slot[i] >= 0;
}

static void check_fixture(const char *dir, sb_gemm_backend backend)
{
    sb_error err = {0};
    sb_exec *x = test_exec(backend, 2);
    sb_weights w = {0};
    cr_assert_eq(sb_checkpoint_load(dir, SB_DTYPE_F32, &w, NULL, NULL, &err), 0, "%s", err.msg);
    /* as the harness runs it: on oneDNN the dense weights pre-packed (both fixtures' sizes can be) */
    cr_assert_eq(sb_weights_layout_for(&w, x, &err), 0, "%s", err.msg);
    cr_assert(backend == SB_GEMM_OPENBLAS ? w.num_packed == 0 : w.num_packed > 0 || !sb_gemm_packable(x, 64, 64, SB_DTYPE_F32));
    const int64_t batch = 2, src = 16, tgt = 8, d = w.cfg.d_model;
    size_t n = 0;
    int32_t *input_ids = fixture_array(dir, "input_ids", &n, 4);
    int32_t *mask = fixture_array(dir, "attention_mask", &n, 4);
    int32_t *dec_ids = fixture_array(dir, "decoder_input_ids", &n, 4);
    cr_assert_eq(n, (size_t)(batch * tgt));

    trace t = {.layers = {w.cfg.num_layers, w.cfg.num_decoder_layers}};
    t.hidden[0] = calloc((size_t)((t.layers[0] + 1) * batch * src * d), sizeof(float));
    t.hidden[1] = calloc((size_t)((t.layers[1] + 1) * batch * tgt * d), sizeof(float));
    sb_runtime *rt = NULL;
    cr_assert_eq(sb_runtime_create(&rt, x, &w, batch, src, tgt, &err), 0, "%s", err.msg);
    sb_runtime_observe(rt, &(sb_observer){on_hidden, on_router, &t});
    cr_assert_eq(sb_encode(rt, batch, src, input_ids, mask, &err), 0, "%s", err.msg);
    cr_assert_eq(sb_decode(rt, tgt, dec_ids, &err), 0, "%s", err.msg);

    const char *names[] = {"encoder_hidden_states", "decoder_hidden_states"};
    for (int s = 0; s < 2; s++) {
        float *ref = fixture_array(dir, names[s], &n, 4);
        const size_t per_layer = n / (size_t)(t.layers[s] + 1);
        for (int64_t l = 0; l <= t.layers[s]; l++) {
            char what[64];
            snprintf(what, sizeof what, "%s[%lld]", names[s], (long long)l);
            assert_close(what, t.hidden[s] + l * per_layer, ref + l * per_layer, per_layer);
        }
        free(ref);
    }
    float *ref = fixture_array(dir, "encoder_last_hidden_state", &n, 4);
    assert_close("encoder_last_hidden_state", sb_encoder_output(rt), ref, n);
    free(ref);
    ref = fixture_array(dir, "logits", &n, 4);
    assert_close("logits", sb_logits(rt), ref, n);
    free(ref);

    cr_assert_eq(t.num_routers, sb_router_stats_count(rt));
    for (size_t r = 0; r < t.num_routers; r++) {
        char key[160];
        size_t m = 0;
        snprintf(key, sizeof key, "router/%s.logits", t.routers[r].module);
        float *logits = fixture_array(dir, key, &m, 4);
        cr_assert_eq(m, (size_t)(t.routers[r].tokens * t.routers[r].experts));
        assert_close(key, t.routers[r].logits, logits, m);
        snprintf(key, sizeof key, "router/%s.prob", t.routers[r].module);
        float *prob = fixture_array(dir, key, &m, 4);
        assert_close(key, t.routers[r].prob, prob, m);
        snprintf(key, sizeof key, "router/%s.choice", t.routers[r].module);
        int32_t *choice = fixture_array(dir, key, &m, 4);
        snprintf(key, sizeof key, "router/%s.kept", t.routers[r].module);
        uint8_t *kept = fixture_array(dir, key, &m, 1);
        int64_t per_expert[64] = {0};
        for (size_t i = 0; i < m; i++) {
            cr_assert_eq(t.routers[r].choice[i], choice[i], "%s choice[%zu]", t.routers[r].module, i);
            cr_assert_eq(t.routers[r].kept[i], kept[i], "%s kept[%zu]", t.routers[r].module, i);
            per_expert[choice[i]] += kept[i];
        }
        const sb_router_stats *st = sb_router_stats_get(rt, r);
        cr_assert_eq(st->tokens, (int64_t)m);
        cr_assert_eq(st->dropped, 0);
        for (int64_t e = 0; e < t.routers[r].experts; e++)
            cr_assert_eq(st->per_expert[e], per_expert[e], "%s per_expert[%lld]", t.routers[r].module, (long long)e);
        free(logits), free(prob), free(choice), free(kept);
        free(t.routers[r].logits), free(t.routers[r].prob), free(t.routers[r].choice), free(t.routers[r].kept);
    }
    sb_runtime_free(rt);
    sb_weights_free(&w);
    sb_exec_free(x);
    free(t.hidden[0]), free(t.hidden[1]), free(input_ids), free(mask), free(dec_ids);
}

Test(engine_parity, t5_eff_relu_mini_openblas)
{
    check_fixture("tests/fixtures/t5-eff-relu-mini", SB_GEMM_OPENBLAS);
}

Test(engine_parity, t5_eff_relu_mini_onednn)
{
    check_fixture("tests/fixtures/t5-eff-relu-mini", SB_GEMM_ONEDNN);
}

Test(engine_parity, switch_mini_nodrop_openblas)
{
    check_fixture("tests/fixtures/switch-mini-nodrop", SB_GEMM_OPENBLAS);
}

Test(engine_parity, switch_mini_nodrop_onednn)
{
    check_fixture("tests/fixtures/switch-mini-nodrop", SB_GEMM_ONEDNN);
}

/* Execution state belongs to a context, not the process: an OpenBLAS runtime and a oneDNN runtime (weights
 * pre-packed, 1 and 2 threads) live side by side and take turns on the same fixture, each output right every
 * time, and each context tallies only its own products. */
Test(engine_parity, two_backends_in_one_process)
{
    const char *dir = "tests/fixtures/switch-mini-nodrop";
    const int64_t batch = 2, src = 16, tgt = 8;
    sb_error err = {0};
    sb_exec *x[2] = {test_exec(SB_GEMM_OPENBLAS, 1), test_exec(SB_GEMM_ONEDNN, 2)};
    sb_weights w[2];
    sb_runtime *rt[2] = {NULL, NULL};
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(sb_checkpoint_load(dir, SB_DTYPE_F32, &w[i], NULL, NULL, &err), 0, "%s", err.msg);
        cr_assert_eq(sb_weights_layout_for(&w[i], x[i], &err), 0, "%s", err.msg);
        cr_assert_eq(sb_runtime_create(&rt[i], x[i], &w[i], batch, src, tgt, &err), 0, "%s", err.msg);
    }
    cr_assert(w[0].num_packed == 0 && (w[1].num_packed > 0 || !sb_gemm_packable(x[1], 64, 64, SB_DTYPE_F32)));
    size_t n = 0;
    int32_t *input_ids = fixture_array(dir, "input_ids", &n, 4);
    int32_t *mask = fixture_array(dir, "attention_mask", &n, 4);
    int32_t *dec_ids = fixture_array(dir, "decoder_input_ids", &n, 4);
    float *logits = fixture_array(dir, "logits", &n, 4);
    for (int turn = 0; turn < 4; turn++) {
        const int i = turn % 2;
        const int64_t other = sb_exec_flops(x[1 - i]);
        sb_exec_reset_flops(x[i]);
        cr_assert_eq(sb_encode(rt[i], batch, src, input_ids, mask, &err), 0, "%s", err.msg);
        cr_assert_eq(sb_decode(rt[i], tgt, dec_ids, &err), 0, "%s", err.msg);
        assert_close(i == 0 ? "logits (OpenBLAS)" : "logits (oneDNN)", sb_logits(rt[i]), logits, n);
        cr_assert_gt(sb_exec_flops(x[i]), 0);
        cr_assert_eq(sb_exec_flops(x[1 - i]), other, "a context tallies only its own products");
    }
    cr_assert_eq(sb_exec_flops(x[0]), sb_exec_flops(x[1]), "the same forward's FLOPs on either backend");
    for (int i = 0; i < 2; i++) {
        sb_runtime_free(rt[i]);
        sb_weights_free(&w[i]);
        sb_exec_free(x[i]);
    }
    free(input_ids), free(mask), free(dec_ids), free(logits);
}

/* `shapebench forward` writes the fixture's arrays under the fixture's names, dtypes and shapes: every array
 * it lists (hidden states, encoder output, logits, router logits / prob / choice / kept / hf_expert_index)
 * matches the HF reference. */
static void check_forward_command(const char *dir, const char *gemm)
{
    char out[64], args[2048], path[600];
    test_make_temp_dir(out, sizeof out, "forward");
    snprintf(args, sizeof args, "forward --model %s --inputs %s --out %s --hidden-states --gemm %s --threads 2", dir,
             dir, out, gemm);
    cr_assert_eq(test_run_cli(args, NULL), 0, "shapebench %s failed", args);
    snprintf(path, sizeof path, "%s/expected.json", out);
    size_t len = 0;
    char *text = test_read_file(path, &len);
    cJSON *root = cJSON_Parse(text);
    const cJSON *entry = NULL;
    size_t checked = 0;
    cJSON_ArrayForEach(entry, cJSON_GetObjectItemCaseSensitive(root, "arrays"))
    {
        const char *dtype = cJSON_GetObjectItemCaseSensitive(entry, "dtype")->valuestring;
        const size_t elem = strcmp(dtype, "uint8") == 0 ? 1 : 4;
        size_t n = 0, m = 0;
        void *ref = fixture_array(dir, entry->string, &n, elem);
        void *got = fixture_array(out, entry->string, &m, elem);
        cr_assert_eq(n, m, "%s: %zu elements, the fixture has %zu", entry->string, m, n);
        if (strcmp(dtype, "float32") == 0)
            assert_close(entry->string, got, ref, n);
        else
            cr_assert_eq(memcmp(got, ref, n * elem), 0, "%s differs from the fixture", entry->string);
        free(ref), free(got);
        checked++;
    }
    cr_assert_geq(checked, 4, "the forward command wrote only %zu arrays", checked);
    cJSON_Delete(root);
    free(text);
    test_remove_tree(out);
}

Test(engine_parity, forward_command_t5, .timeout = 60)
{
    check_forward_command("tests/fixtures/t5-eff-relu-mini", "onednn");
}

Test(engine_parity, forward_command_switch, .timeout = 60)
{
    check_forward_command("tests/fixtures/switch-mini-nodrop", "openblas");
}

/* `shapebench generate` prints the ids sb_generate_greedy produces for the same model and input. */
Test(engine_parity, generate_command_matches_library, .timeout = 60)
{
    const char *dir = "tests/fixtures/t5-eff-relu-mini";
    const int32_t ids[] = {435, 246, 254, 491, 73, 379, 55, 206};
    char args[1024], *line = NULL;
    snprintf(args, sizeof args, "generate --model %s --input-ids 435,246,254,491,73,379,55,206 --max-new-tokens 6",
             dir);
    cr_assert_eq(test_run_cli(args, &line), 0, "shapebench %s failed", args);

    sb_error err = {0};
    sb_weights w = {0};
    cr_assert_eq(sb_checkpoint_load(dir, SB_DTYPE_F32, &w, NULL, NULL, &err), 0, "%s", err.msg);
    sb_exec *x = test_exec(SB_GEMM_OPENBLAS, 0);
    sb_runtime *rt = NULL;
    cr_assert_eq(sb_runtime_create(&rt, x, &w, 1, 8, 6, &err), 0, "%s", err.msg);
    cr_assert_eq(sb_encode(rt, 1, 8, ids, NULL, &err), 0, "%s", err.msg);
    int32_t out[6];
    const int64_t n = sb_generate_greedy(rt, 6, out, NULL, &err);
    cr_assert_gt(n, 0, "%s", err.msg);
    char expected[512] = "";
    for (int64_t i = 0; i < n; i++)
        snprintf(expected + strlen(expected), sizeof expected - strlen(expected), "%s%d", i ? "," : "", out[i]);
    strcat(expected, "\n");
    cr_assert_str_eq(line, expected);
    free(line);
    sb_runtime_free(rt);
    sb_weights_free(&w);
    sb_exec_free(x);
}

/* `shapebench bench` on a small setting: every row and the JSON fields the report is built from. */
Test(engine_parity, bench_command_writes_results, .timeout = 120)
{
    char dir[64], args[1024], path[256];
    test_make_temp_dir(dir, sizeof dir, "bench");
    snprintf(path, sizeof path, "%s/out/bench.json", dir);
    snprintf(args, sizeof args,
             "bench --models t5-efficient-tiny --gen-models t5-efficient-tiny --train-models t5-efficient-tiny "
             "--rss-model '' --reps 2 --src 24 --tgt 6 --gen-tokens 3 --train-batch 2 --train-src 16 --train-tgt 6 "
             "--train-reps 1 --out %s >%s/log 2>&1",
             path, dir);
    cr_assert_eq(test_run_cli(args, NULL), 0, "shapebench %s failed (see %s/log)", args, dir);
    size_t len = 0;
    char *text = test_read_file(path, &len);
    cJSON *root = cJSON_Parse(text);
    /* fp32 on both backends, bf16 on oneDNN where it has bf16 instructions (else said why) */
    const bool bf16 = sb_bf16_available(NULL) == 0;
    const cJSON *results = cJSON_GetObjectItemCaseSensitive(root, "results");
    cr_assert_eq(cJSON_GetArraySize(results), bf16 ? 3 : 2, "one row per backend and precision");
    cr_assert(bf16 || cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "settings"),
                                                       "bf16_unavailable") != NULL);
    const cJSON *r = NULL;
    size_t bf16_rows = 0;
    cJSON_ArrayForEach(r, results)
    {
        const double seconds =
            cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "seconds_per_sequence"), "median")
                ->valuedouble;
        cr_assert_gt(seconds, 0);
        cr_assert_gt(cJSON_GetObjectItemCaseSensitive(r, "fraction_of_gemm")->valuedouble, 0);
        cr_assert_gt(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "gemm_shapes")), 4);
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(r, "generation");
        cr_assert_not_null(g);
        cr_assert_gt(cJSON_GetObjectItemCaseSensitive(g, "ms_per_token_median")->valuedouble, 0);
        const char *dtype = cJSON_GetObjectItemCaseSensitive(r, "dtype")->valuestring;
        if (strcmp(dtype, "bf16") == 0) {
            bf16_rows++;
            cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(r, "backend")->valuestring, "onednn");
            cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(r, "storage_dtype")->valuestring, "bf16");
            const cJSON *ceiling = cJSON_GetObjectItemCaseSensitive(r, "ceiling");
            cr_assert(cJSON_GetObjectItemCaseSensitive(ceiling, "gflops") != NULL ||
                          cJSON_GetObjectItemCaseSensitive(ceiling, "unavailable") != NULL,
                      "the bf16 row has neither a ceiling nor the reason for none");
        }
    }
    cr_assert_eq(bf16_rows, bf16 ? 1 : 0);
    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(root, "training_steps");
    cr_assert_eq(cJSON_GetArraySize(steps), bf16 ? 3 : 2, "a training step per backend and precision");
    cJSON_ArrayForEach(r, steps)
    cr_assert_gt(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "seconds_per_step"), "median")
                     ->valuedouble,
                 0);
    cJSON_Delete(root);
    free(text);
    test_remove_tree(dir);
}

/* The router fixture has 4 sparse layers; the test must see them all, so a router callback that never
 * fires cannot pass silently. */
Test(engine_parity, switch_fixture_has_routers)
{
    sb_error err = {0};
    sb_weights w = {0};
    cr_assert_eq(sb_checkpoint_load("tests/fixtures/switch-mini-nodrop", SB_DTYPE_F32, &w, NULL, NULL, &err), 0,
                 "%s", err.msg);
    sb_exec *x = test_exec(SB_GEMM_OPENBLAS, 0);
    sb_runtime *rt = NULL;
    cr_assert_eq(sb_runtime_create(&rt, x, &w, 2, 16, 8, &err), 0, "%s", err.msg);
    cr_assert_eq(sb_router_stats_count(rt), 4);
    sb_runtime_free(rt);
    sb_weights_free(&w);
    sb_exec_free(x);
}

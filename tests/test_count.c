/* test_count.c — sb_count against HF parameter counts, the Switch paper's FLOPs, hand-computed small
 * cases, overflow, and the `count` subcommand as a user runs it. */
#include <criterion/criterion.h>

#include "tests/helpers.h"
#include "variants/variants.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const sb_count_settings paper_settings = {.batch = 1, .src_len = 512, .tgt_len = 114, .dtype = SB_DTYPE_F32};

static sb_config shape(int64_t vocab, int64_t d_model, int64_t d_ff, int64_t num_heads, int64_t d_kv,
                       int64_t num_layers, int64_t num_decoder_layers, sb_ffn_kind ffn, bool tied)
{
    sb_config cfg = test_config(vocab, d_model, d_ff, num_heads, d_kv, num_layers, num_decoder_layers);
    cfg.ffn = ffn;
    cfg.tie_word_embeddings = tied;
    return cfg;
}

static sb_config switched(sb_config cfg, int64_t num_experts, int64_t sparse_step, sb_ffn_kind expert_ffn)
{
    cfg.num_experts = num_experts;
    cfg.encoder_sparse_step = sparse_step;
    cfg.decoder_sparse_step = sparse_step;
    cfg.expert_ffn = expert_ffn;
    cfg.expert_capacity = 64;
    return cfg;
}

static sb_counts count_ok(const sb_config *cfg, const sb_count_settings *settings)
{
    sb_counts c;
    sb_error err = {{0}};
    cr_assert_eq(sb_count(cfg, settings, &c, &err), 0, "sb_count failed: %s", err.msg);
    return c;
}

static int64_t params_of(sb_config cfg)
{
    return count_ok(&cfg, &paper_settings).params;
}

/* ---- parameters --------------------------------------------------------------------------------------- */

Test(count_params, published_shapes_match_hf)
{
    cr_assert_eq(params_of(shape(32128, 256, 1024, 4, 64, 4, 4, SB_FFN_RELU, true)), 15570688);  /* eff-tiny */
    cr_assert_eq(params_of(shape(32128, 512, 2048, 8, 32, 6, 6, SB_FFN_RELU, true)), 51069440);  /* small-kv32 */
    cr_assert_eq(params_of(shape(32128, 768, 3072, 12, 64, 12, 12, SB_FFN_RELU, true)), 222903552); /* eff-base */
    cr_assert_eq(params_of(shape(32128, 768, 2048, 12, 64, 12, 12, SB_FFN_GATED_GELU, false)), 247577856); /* v1_1 */
    sb_config base8 = switched(shape(32128, 768, 3072, 12, 64, 12, 12, SB_FFN_RELU, true), 8, 2, SB_FFN_RELU);
    cr_assert_eq(params_of(base8), 619339008);
}

static cJSON *load_expected(const char *fixture)
{
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/%s/expected.json", fixture);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s (run from the repository root)", path);
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    cJSON *root = cJSON_Parse(text);
    cr_assert_not_null(root, "%s is not JSON", path);
    return root;
}

/* The config built by hand and the fixture's own config.json both give HF's counts. */
static void check_fixture(const char *fixture, const sb_config *by_hand)
{
    char dir[256];
    snprintf(dir, sizeof dir, "tests/fixtures/%s", fixture);
    sb_config from_json;
    sb_error err;
    cr_assert_eq(sb_config_resolve(dir, &from_json, NULL, NULL, &err), 0, "%s: %s", dir, err.msg);
    cJSON *expected = load_expected(fixture);
    const sb_config *cfgs[] = {by_hand, &from_json};
    for (size_t i = 0; i < 2; i++) {
        sb_counts c = count_ok(cfgs[i], &paper_settings);
        cr_assert_eq(c.params, (int64_t)cJSON_GetObjectItem(expected, "hf_num_parameters")->valuedouble);
        /* HF's exclude_embeddings drops every nn.Embedding (shared, the bias tables); tied here, so we agree */
        cr_assert_eq(c.params_nonembedding,
                     (int64_t)cJSON_GetObjectItem(expected, "hf_num_parameters_exclude_embeddings")->valuedouble);
    }
    cJSON_Delete(expected);
}

Test(count_params, fixtures_match_hf)
{
    sb_config relu_mini = shape(512, 64, 256, 4, 32, 3, 2, SB_FFN_RELU, true);
    check_fixture("t5-eff-relu-mini", &relu_mini);
    cr_assert_eq(params_of(relu_mini), 427136);
    sb_config switch_mini = switched(shape(512, 64, 128, 4, 16, 4, 4, SB_FFN_RELU, true), 4, 2, SB_FFN_RELU);
    check_fixture("switch-mini-nodrop", &switch_mini);
    cr_assert_eq(params_of(switch_mini), 559744);
}

Test(count_params, switch_c_2048_is_1571b)
{
    sb_config c2048 = switched(shape(32128, 2080, 6144, 30, 64, 15, 15, SB_FFN_RELU, false), 2048, 1, SB_FFN_RELU);
    /* 2*V*d + 15*(4da + 2d) + 15*(8da + 3d) + 30*(E*2*d*f + E*d) + 2d + 64H, a = 1920 */
    cr_assert_eq(params_of(c2048), INT64_C(1571327875360));
}

Test(count_params, shared_kv_has_one_kv_projection)
{
    sb_config cfg = shape(32128, 512, 2048, 8, 64, 6, 6, SB_FFN_RELU, true);
    int64_t full = params_of(cfg);
    cfg.shared_kv = true;
    /* one d x a matrix fewer per attention: 6 encoder + 12 decoder attentions */
    cr_assert_eq(full - params_of(cfg), 18 * 512 * 512);
}

/* Dense relu, tied: V 10, d 4, f 6, H 2 x d_kv 3 (a = 6), 1/1 layers; batch 2, src 5, tgt 3. */
static sb_config tiny_dense(void)
{
    return shape(10, 4, 6, 2, 3, 1, 1, SB_FFN_RELU, true);
}
static const sb_count_settings tiny_settings = {.batch = 2, .src_len = 5, .tgt_len = 3, .dtype = SB_DTYPE_F32};

Test(count_params, tiny_dense_by_hand)
{
    sb_config cfg = tiny_dense();
    sb_counts c = count_ok(&cfg, &tiny_settings);
    /* shared 40; encoder: bias 32*2 + q,k,v,o 4*24 + 2 norms 8 + wi,wo 48 + final 4 = 220;
     * decoder: bias 64 + 8*24 + 3 norms 12 + 48 + 4 = 320 */
    cr_assert_eq(c.params, 580);
    cr_assert_eq(c.params_nonembedding, 580 - 40 - 2 * 64);
    cr_assert_eq(c.params_active, 580);
}

Test(count_params, untied_and_switch_active)
{
    sb_config cfg = tiny_dense();
    cfg.tie_word_embeddings = false;
    sb_counts c = count_ok(&cfg, &tiny_settings);
    cr_assert_eq(c.params, 620);
    cr_assert_eq(c.params_nonembedding, 620 - 80 - 128);

    sb_config sw = switched(shape(10, 4, 6, 2, 3, 2, 2, SB_FFN_RELU, true), 2, 2, SB_FFN_RELU);
    c = count_ok(&sw, &tiny_settings);
    /* block 1 of each stack sparse: 2 experts of 48 + router 4*2 replace a 48 FFN */
    cr_assert_eq(c.params, 40 + 2 * 104 + 2 * 204 + 2 * 48 + 2 * (96 + 8) + 8 + 128);
    cr_assert_eq(c.params_active, c.params - 2 * 48);
}

/* ---- FLOPs ------------------------------------------------------------------------------------------- */

static void check_breakdown(const sb_flops *f)
{
    cr_assert_eq(f->attention_projections + f->attention_scores + f->ffn + f->router + f->lm_head, f->total);
}

Test(count_flops, t5_v1_1_base_paper_is_124b)
{
    sb_config cfg = shape(32128, 768, 2048, 12, 64, 12, 12, SB_FFN_GATED_GELU, false);
    sb_counts c = count_ok(&cfg, &paper_settings);
    double total = (double)c.flops_forward_paper.total;
    cr_assert(total > 124e9 * 0.98 && total < 124e9 * 1.02, "paper FLOPs %.4g, the Switch paper says 124e9", total);
    check_breakdown(&c.flops_forward_paper);
    check_breakdown(&c.flops_forward_executed);
    cr_assert_eq(c.flops_forward_paper.router, 0);
    /* executed: AV doubles the scores, cross-attention K/V runs over 512 sources instead of 114 targets */
    cr_assert_eq(c.flops_forward_executed.attention_scores, 2 * c.flops_forward_paper.attention_scores);
    cr_assert_eq(c.flops_forward_executed.attention_projections - c.flops_forward_paper.attention_projections,
                 INT64_C(12) * 2 * 2 * (512 - 114) * 768 * 768);
    cr_assert_eq(c.flops_forward_executed.ffn, c.flops_forward_paper.ffn);
    cr_assert_eq(c.flops_forward_executed.lm_head, 2 * 114 * 768 * INT64_C(32128));
}

Test(count_flops, tiny_dense_by_hand)
{
    sb_config cfg = tiny_dense();
    sb_counts c = count_ok(&cfg, &tiny_settings);
    const sb_flops *p = &c.flops_forward_paper, *e = &c.flops_forward_executed;
    /* projections, d*a = 24: encoder 2*(2*5)*4*24 = 1920; decoder self 2*(2*3)*4*24 = 1152; cross q,o
     * 2*6*2*24 = 576; cross k,v over targets 576 (paper) or over sources 2*10*2*24 = 960 (executed) */
    cr_assert_eq(p->attention_projections, 1920 + 1152 + 576 + 576);
    cr_assert_eq(e->attention_projections, 1920 + 1152 + 576 + 960);
    /* QK^T: 2*B*N*M*a = encoder 2*2*25*6 = 600, decoder 2*2*9*6 = 216, cross 2*2*15*6 = 360; executed adds AV */
    cr_assert_eq(p->attention_scores, 600 + 216 + 360);
    cr_assert_eq(e->attention_scores, 2 * (600 + 216 + 360));
    /* wi, wo: 2 * tokens * 2 * 24 = encoder 960, decoder 576 */
    cr_assert_eq(p->ffn, 960 + 576);
    cr_assert_eq(e->ffn, 960 + 576);
    cr_assert_eq(e->router, 0);
    cr_assert_eq(p->lm_head, 2 * 6 * 4 * 10);
    cr_assert_eq(e->lm_head, 480);
    cr_assert_eq(p->total, 7416);
    cr_assert_eq(e->total, 8976);
    check_breakdown(p);
    check_breakdown(e);
    /* every executed GEMM plus its dA and dB GEMMs */
    cr_assert_eq(c.flops_train_step, 3 * 8976);
}

Test(count_flops, tiny_switch_with_capacity_by_hand)
{
    sb_config cfg = switched(shape(10, 4, 6, 2, 3, 2, 2, SB_FFN_RELU, true), 2, 2, SB_FFN_RELU);
    cfg.expert_capacity = 0;
    cfg.capacity_factor = 0.5;
    const sb_count_settings st = {.batch = 1, .src_len = 8, .tgt_len = 4, .dtype = SB_DTYPE_F32};
    sb_counts c = count_ok(&cfg, &st);
    const sb_flops *p = &c.flops_forward_paper, *e = &c.flops_forward_executed;
    /* capacity round(0.5*8/2) = 2 -> 4 of 8 sources kept; round(0.5*4/2) = 1 -> 2 of 4 targets kept.
     * ffn per token per block 2*2*24 = 96: encoder dense 8*96 + experts 4*96, decoder 4*96 + 2*96 */
    cr_assert_eq(e->ffn, 768 + 384 + 384 + 192);
    cr_assert_eq(p->ffn, 768 + 768 + 384 + 384);
    /* router 2 * tokens * d * E per sparse block */
    cr_assert_eq(e->router, 2 * 8 * 4 * 2 + 2 * 4 * 4 * 2);
    cr_assert_eq(p->router, 0);
    cr_assert_eq(e->attention_projections, 2 * 1536 + 2 * (2 * 4 * 96) + 2 * (2 * 4 * 48) + 2 * (2 * 8 * 48));
    cr_assert_eq(p->attention_projections, 2 * 1536 + 2 * (2 * 4 * 96) + 2 * (2 * 4 * 48) + 2 * (2 * 4 * 48));
    cr_assert_eq(e->attention_scores, 2 * 2 * (2 * 64 * 6 + 2 * 16 * 6 + 2 * 32 * 6));
    cr_assert_eq(e->total, 14528);
    cr_assert_eq(p->total, 11456);
    cr_assert_eq(c.flops_train_step, 3 * 14528);
}

Test(count_flops, gated_experts_and_shared_kv)
{
    sb_config relu = switched(shape(10, 4, 6, 2, 3, 2, 2, SB_FFN_RELU, true), 2, 1, SB_FFN_RELU);
    sb_config gated = relu;
    gated.expert_ffn = SB_FFN_GATED_GELU;
    sb_counts r = count_ok(&relu, &tiny_settings), g = count_ok(&gated, &tiny_settings);
    cr_assert_eq(2 * g.flops_forward_paper.ffn, 3 * r.flops_forward_paper.ffn); /* every block sparse */
    sb_config skv = tiny_dense();
    skv.shared_kv = true;
    sb_config dense = tiny_dense();
    sb_counts s = count_ok(&skv, &tiny_settings), d = count_ok(&dense, &tiny_settings);
    /* one K/V GEMM fewer per attention: encoder over 10 tokens, decoder self over 6, cross over 10 sources */
    cr_assert_eq(d.flops_forward_executed.attention_projections - s.flops_forward_executed.attention_projections,
                 2 * 24 * (10 + 6 + 10));
}

/* ---- memory ------------------------------------------------------------------------------------------- */

Test(count_memory, tiny_dense_by_hand)
{
    sb_config cfg = tiny_dense();
    sb_counts c = count_ok(&cfg, &tiny_settings);
    cr_assert_eq(c.memory_bytes.weights, 580 * 4);
    /* 1 decoder layer * (K, V) * a 6 * batch 2 * (3 targets + 5 sources) * 4 bytes */
    cr_assert_eq(c.memory_bytes.kv_cache, 768);
    /* shared 10+4; encoder bias 32+2, 4 projections of 6+4, 2 norms of 4, wi/wo 2*(6+4), final 4;
     * decoder bias 34, 8 projections, 3 norms, wi/wo, final */
    cr_assert_eq(c.memory_bytes.optimizer_adafactor, 4 * (14 + (34 + 40 + 8 + 20 + 4) + (34 + 80 + 12 + 20 + 4)));
    cr_assert_eq(c.memory_bytes.optimizer_adamw, 580 * 8);
    /* The trainer's arena (sb_plan_train_activations), B 2, S 5, T 3: n = 10 encoder tokens, t = 6 decoder
     * tokens, d 4, a 6, K|V 12, H 2, d_ff 6, vocab 10, one block per stack. Kept for the backward:
     *   residual states (1 + 2) * 10 * 4 + (1 + 3) * 6 * 4 = 216, their 1/rms 3 * 10 + 4 * 6 = 54;
     *   q|k|v 10 * 18 + decoder self 6 * 18, cross q 6 * 6, cross k|v 10 * 12 = 444;
     *   probabilities 2*2*5*5 + 2*2*3*3 + 2*2*3*5 = 196; contexts 10 * 6 + 2 * 6 * 6 = 132;
     *   relu hidden 10 * 6 + 6 * 6 = 96; stack outputs (10 + 6) * 4 = 64; logits 6 * 10 = 60.
     * Scratch (N = 10 tokens, L = 5): mask 10, position bias + its gradient 2 * 50, distance sums 2 * 9,
     *   five N x d buffers 200 and the encoder output gradient 40, Q|K|V gradient max(10*18, 6*6 + 10*12)
     *   = 180, context gradient 60, probability gradient + dropped probabilities 2 * 50, FFN hidden gradient
     *   and activation 2 * 60. */
    const int64_t kept = 216 + 54 + 444 + 196 + 132 + 96 + 64 + 60;
    const int64_t scratch = 10 + 100 + 18 + 200 + 40 + 180 + 60 + 100 + 120;
    cr_assert_eq(c.memory_bytes.activations_train, 4 * (kept + scratch));
    sb_train_plan train;
    sb_error terr;
    cr_assert_eq(sb_plan_train_activations(&cfg, 2, 5, 3, &train, &terr), 0, "%s", terr.msg);
    cr_assert_eq(train.residual, 216);
    cr_assert_eq(train.attention_probs, 196);
    cr_assert_eq(train.scratch, scratch);
    cr_assert_eq(train.router + train.routing + train.experts, 0, "a dense model routes nothing");

    sb_activation_plan plan;
    sb_error err;
    cr_assert_eq(sb_plan_activations(&cfg, 2, 5, 3, &plan, &err), 0, "%s", err.msg);
    cr_assert_eq(c.memory_bytes.activations_forward, plan.total_bytes);

    sb_count_settings bf16 = tiny_settings;
    bf16.dtype = SB_DTYPE_BF16;
    cr_assert_eq(count_ok(&cfg, &bf16).memory_bytes.weights, 580 * 2);
    cfg.shared_kv = true;
    cr_assert_eq(count_ok(&cfg, &tiny_settings).memory_bytes.kv_cache, 384);
}

/* The Switch parts of the training plan, capacity from the factor (as count_flops.tiny_switch_with_capacity):
 * B 1, S 8, T 4, 2 experts, block 1 of each stack sparse, capacity round(0.5 * 8 / 2) = 2 in the encoder
 * (4 of 8 tokens can be kept) and round(0.5 * 4 / 2) = 1 in the decoder (2 of 4). */
Test(count_memory, switch_training_plan_by_hand)
{
    sb_config cfg = switched(shape(10, 4, 6, 2, 3, 2, 2, SB_FFN_RELU, true), 2, 2, SB_FFN_RELU);
    cfg.expert_capacity = 0;
    cfg.capacity_factor = 0.5;
    sb_train_plan p;
    sb_error err;
    cr_assert_eq(sb_plan_train_activations(&cfg, 1, 8, 4, &p, &err), 0, "%s", err.msg);
    /* logits (8 + 4) * 2, load-balancing fractions 1 * 2 per stack */
    cr_assert_eq(p.router, 24 + 4);
    /* choice and slot per token, 3 expert offsets: (16 + 3) + (8 + 3) */
    cr_assert_eq(p.routing, 30);
    /* kept rows * (relu hidden 6 + output 4): 4 * 10 + 2 * 10 */
    cr_assert_eq(p.experts, 60);
    /* one dense block per stack: 8 * 6 + 4 * 6 */
    cr_assert_eq(p.ffn_hidden, 72);
    const sb_count_settings st = {.batch = 1, .src_len = 8, .tgt_len = 4, .dtype = SB_DTYPE_F32};
    cr_assert_eq(count_ok(&cfg, &st).memory_bytes.activations_train, p.total_bytes);
}

/* ---- overflow ----------------------------------------------------------------------------------------- */

Test(count_overflow, absurd_dims_fail)
{
    /* each dimension within range, but d_ff * d_model * num_experts = 2^72 */
    sb_config cfg = switched(shape(32128, INT64_C(1) << 24, INT64_C(1) << 24, 8, 64, 2, 2, SB_FFN_RELU, true),
                             INT64_C(1) << 24, 1, SB_FFN_RELU);
    sb_counts c;
    sb_error err = {{0}};
    cr_assert_eq(sb_count(&cfg, &paper_settings, &c, &err), -1);
    cr_assert(strlen(err.msg) > 0);
}

Test(count_overflow, huge_settings_fail)
{
    sb_config cfg = tiny_dense();
    sb_counts c;
    sb_error err = {{0}};
    sb_count_settings st = tiny_settings;
    st.batch = INT64_MAX / 2;
    cr_assert_eq(sb_count(&cfg, &st, &c, &err), -1);
    cr_assert(strstr(err.msg, "overflow") != NULL, "message: %s", err.msg);
    st = tiny_settings;
    st.src_len = INT64_C(1) << 40; /* src^2 overflows */
    cr_assert_eq(sb_count(&cfg, &st, &c, &err), -1);
    st = tiny_settings;
    st.tgt_len = INT64_MAX;
    cr_assert_eq(sb_count(&cfg, &st, &c, &err), -1);
    st = tiny_settings;
    st.batch = 0;
    cr_assert_eq(sb_count(&cfg, &st, &c, &err), -1);
}

/* ---- JSON and names ----------------------------------------------------------------------------------- */

Test(count_json, exact_integers_beyond_double_precision)
{
    sb_config c2048 = switched(shape(32128, 2080, 6144, 30, 64, 15, 15, SB_FFN_RELU, false), 2048, 1, SB_FFN_RELU);
    const sb_count_settings st = {.batch = 65536, .src_len = 512, .tgt_len = 114, .dtype = SB_DTYPE_BF16};
    sb_counts c = count_ok(&c2048, &st);
    cr_assert(c.flops_forward_executed.total > (INT64_C(1) << 53));
    char *text = sb_counts_to_json(&c2048, &st, &c);
    cr_assert_not_null(text);
    char expected[64];
    snprintf(expected, sizeof expected, "\"total\":\t%" PRId64, c.flops_forward_executed.total);
    cr_assert(strstr(text, expected) != NULL, "%s not in JSON", expected);
    cJSON *root = cJSON_Parse(text);
    cr_assert_not_null(root);
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "settings"), "dtype")->valuestring, "bf16");
    cr_assert_not_null(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "conventions"), "flops_forward_executed"));
    cJSON_Delete(root);
    free(text);
}

Test(count_names, resolved_names_match_hf)
{
    static const struct {
        const char *name;
        int64_t params;
    } rows[] = {
        {"t5-efficient-tiny", 15570688},     {"t5-efficient-small-kv32", 51069440},
        {"t5-efficient-base", 222903552},    {"google/t5-v1_1-base", 247577856},
        {"switch-base-8", 619339008},        {"google/switch-c-2048", INT64_C(1571327875360)},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        sb_config cfg;
        sb_error err;
        cr_assert_eq(sb_config_resolve(rows[i].name, &cfg, NULL, NULL, &err), 0, "%s: %s", rows[i].name, err.msg);
        cr_assert_eq(params_of(cfg), rows[i].params, "%s", rows[i].name);
    }
}

/* ---- the subcommand ------------------------------------------------------------------------------------ */

Test(count_cli, json_prints_exact_params)
{
    char *out = NULL;
    cr_assert_eq(test_run_cli("count t5-efficient-small-kv32 --json", &out), 0);
    cJSON *root = cJSON_Parse(out);
    cr_assert_not_null(root, "not JSON: %s", out);
    cr_assert_eq(cJSON_GetObjectItem(root, "params")->valuedouble, 51069440.0);
    cr_assert_str_eq(cJSON_GetObjectItem(root, "name")->valuestring, "t5-efficient-small-kv32");
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "settings"), "src_len")->valuedouble, 512.0);
    cJSON_Delete(root);
    free(out);
}

Test(count_cli, table_names_units)
{
    char *out = NULL;
    cr_assert_eq(test_run_cli("count t5-efficient-small-kv32 --batch 2 --dtype bf16", &out), 0);
    cr_assert(strstr(out, "51,069,440 params") != NULL, "%s", out);
    cr_assert(strstr(out, "FLOPs") != NULL && strstr(out, "bytes") != NULL && strstr(out, "MiB") != NULL);
    free(out);
}

Test(count_cli, exit_codes)
{
    cr_assert_eq(test_run_cli("count --help", NULL), 0);
    cr_assert_eq(test_run_cli("count", NULL), 2);
    cr_assert_eq(test_run_cli("count t5-efficient-tiny --src abc", NULL), 2);
    cr_assert_eq(test_run_cli("count t5-efficient-tiny --batch 0", NULL), 2);
    cr_assert_eq(test_run_cli("count t5-efficient-tiny --dtype f16", NULL), 2);
    cr_assert_eq(test_run_cli("count t5-efficient-tiny --bogus", NULL), 2);
    cr_assert_eq(test_run_cli("count t5-efficient-tiny extra", NULL), 2);
    cr_assert_eq(test_run_cli("count no-such-model-xyz", NULL), 2); /* a name the tool does not know: bad usage */
    cr_assert_eq(test_run_cli("count t5-efficient-tiny --src 4000000000", NULL), 1); /* src^2 * ... overflows */
    cr_assert_eq(test_run_cli("count t5-efficient-tiny --src 16 --tgt 8", NULL), 0);
}

/* test_config_json.c — reading and writing Hugging Face config.json: the fixtures (made with transformers
 * v4.40.2) against their expected.json, HF's defaults and Switch step rules, hostile files, round trips. */
#include "tests/helpers.h"
#include "variants/variants.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    int count;
    char last[SB_ERROR_MAX];
} warnings;

static void collect(void *ctx, const char *message)
{
    warnings *w = ctx;
    w->count++;
    snprintf(w->last, sizeof w->last, "%s", message);
}

static sb_config parse_ok(const char *text, warnings *w)
{
    sb_config cfg;
    sb_error err = {{0}};
    int rc = sb_config_from_json(text, strlen(text), &cfg, collect, w, &err);
    cr_assert_eq(rc, 0, "%s: %s", text, err.msg);
    return cfg;
}

static void expect_bad(const char *text, size_t len, const char *needle)
{
    sb_config cfg;
    sb_error err = {{0}};
    warnings w = {0};
    cr_assert_eq(sb_config_from_json(text, len, &cfg, collect, &w, &err), -1, "accepted: %.*s", (int)len, text);
    cr_assert(strchr(err.msg, '\n') == NULL);
    cr_assert(strstr(err.msg, needle) != NULL, "'%s' lacks '%s'", err.msg, needle);
}

static int64_t kwarg(const cJSON *kwargs, const char *key)
{
    const cJSON *item = cJSON_GetObjectItem(kwargs, key);
    cr_assert(cJSON_IsNumber(item), "expected.json config_kwargs.%s", key);
    return (int64_t)item->valuedouble;
}

/* Both config.json and config_full.json of a fixture parse, without warnings, to its expected.json. */
static void check_fixture(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/expected.json", dir);
    char *text = test_read_file(path, NULL);
    cJSON *expected = cJSON_Parse(text);
    free(text);
    const cJSON *kw = cJSON_GetObjectItem(expected, "config_kwargs");
    cr_assert_not_null(kw);
    bool is_switch = strcmp(cJSON_GetObjectItem(expected, "kind")->valuestring, "switch") == 0;
    for (int full = 0; full < 2; full++) {
        snprintf(path, sizeof path, "%s/%s", dir, full ? "config_full.json" : "config.json");
        sb_config c;
        sb_error err;
        warnings w = {0};
        cr_assert_eq(sb_config_load_json_file(path, &c, collect, &w, &err), 0, "%s", err.msg);
        cr_expect_eq(w.count, 0, "%s: %s", path, w.last);
        cr_expect_eq(c.vocab_size, kwarg(kw, "vocab_size"));
        cr_expect_eq(c.d_model, kwarg(kw, "d_model"));
        cr_expect_eq(c.d_ff, kwarg(kw, "d_ff"));
        cr_expect_eq(c.d_kv, kwarg(kw, "d_kv"));
        cr_expect_eq(c.num_heads, kwarg(kw, "num_heads"));
        cr_expect_eq(c.num_layers, kwarg(kw, "num_layers"));
        cr_expect_eq(c.num_decoder_layers, kwarg(kw, "num_decoder_layers"));
        cr_expect_eq(c.tie_word_embeddings, cJSON_IsTrue(cJSON_GetObjectItem(expected, "tie_word_embeddings")));
        cr_expect_eq(c.ffn, SB_FFN_RELU);
        if (is_switch) {
            cr_expect_eq(c.num_experts, kwarg(kw, "num_experts"));
            cr_expect_eq(c.expert_capacity, kwarg(kw, "expert_capacity"));
            cr_expect_eq(c.encoder_sparse_step, kwarg(kw, "num_layers") / kwarg(kw, "num_sparse_encoder_layers"));
            cr_expect_eq(c.decoder_sparse_step,
                         kwarg(kw, "num_decoder_layers") / kwarg(kw, "num_sparse_decoder_layers"));
        } else {
            cr_expect_eq(c.num_experts, 0);
        }
    }
    cJSON_Delete(expected);
}

Test(config_json, fixtures_match_expected)
{
    check_fixture("tests/fixtures/t5-eff-relu-mini");
    check_fixture("tests/fixtures/switch-mini-nodrop");
}

Test(config_json, folder_and_name)
{
    sb_config c;
    sb_error err;
    cr_assert_eq(sb_config_resolve("tests/fixtures/switch-mini-nodrop", &c, NULL, NULL, &err), 0, "%s", err.msg);
    cr_expect_eq(c.num_experts, 4);
    cr_expect_str_eq(c.name, "tests/fixtures/switch-mini-nodrop/config.json");
    cr_assert_eq(sb_config_resolve("tests/fixtures/t5-eff-relu-mini/config.json:num_layers=5", &c, NULL, NULL, &err),
                 0, "%s", err.msg);
    cr_expect_eq(c.num_layers, 5);
    cr_expect_eq(c.num_decoder_layers, 2);
    cr_expect_eq(sb_config_resolve("tests/fixtures", &c, NULL, NULL, &err), -1);
    cr_expect(strstr(err.msg, "tests/fixtures/config.json") != NULL, "%s", err.msg);
    cr_expect_eq(sb_config_resolve("no/such/config.json", &c, NULL, NULL, &err), -1);
    cr_expect(strstr(err.msg, "no/such/config.json") != NULL, "%s", err.msg);
}

Test(config_json, t5_defaults)
{
    warnings w = {0};
    sb_config c = parse_ok("{\"model_type\": \"t5\", \"num_layers\": 3}", &w);
    cr_expect_eq(c.num_decoder_layers, 3, "num_decoder_layers defaults to num_layers");
    cr_expect_eq(c.d_model, 512);
    cr_expect(c.tie_word_embeddings);
    cr_expect_eq(c.ffn, SB_FFN_RELU);
    cr_expect_str_eq(c.name, "custom");
    c = parse_ok("{\"model_type\": \"t5\", \"num_layers\": 3, \"num_decoder_layers\": null}", &w);
    cr_expect_eq(c.num_decoder_layers, 3);
    c = parse_ok("{\"model_type\": \"t5\", \"feed_forward_proj\": \"gated-gelu\", \"tie_word_embeddings\": false,"
                 " \"_name_or_path\": \"mine\"}", &w);
    cr_expect_eq(c.ffn, SB_FFN_GATED_GELU);
    cr_expect(!c.tie_word_embeddings);
    cr_expect_str_eq(c.name, "mine");
    c = parse_ok("{\"model_type\": \"t5\", \"feed_forward_proj\": \"gated-gelu_new\"}", &w);
    cr_expect_eq(c.ffn, SB_FFN_GATED_GELU);
    cr_expect_eq(w.count, 0, "%s", w.last);
    c = parse_ok("{\"d_model\": 128}", &w);
    cr_expect_eq(w.count, 1);
    cr_expect(strstr(w.last, "model_type") != NULL);
}

Test(config_json, switch_defaults_and_steps)
{
    warnings w = {0};
    sb_config c = parse_ok("{\"model_type\": \"switch_transformers\"}", &w);
    cr_expect_eq(c.d_model, 768);
    cr_expect_eq(c.num_layers, 12);
    cr_expect_eq(c.num_decoder_layers, 12);
    cr_expect_eq(c.num_experts, 8);
    cr_expect_eq(c.expert_capacity, 64);
    cr_expect_eq(c.encoder_sparse_step, 4, "12 // 3 sparse layers");
    /* num_sparse 0: HF v4.40.2 sets step = num_layers, which still makes block 1 sparse */
    c = parse_ok("{\"model_type\": \"switch_transformers\", \"num_layers\": 6, \"num_sparse_encoder_layers\": 0,"
                 " \"num_decoder_layers\": 4, \"num_sparse_decoder_layers\": 4}", &w);
    cr_expect_eq(c.encoder_sparse_step, 6);
    cr_expect_eq(sb_num_sparse_blocks(&c, SB_STACK_ENCODER), 1);
    cr_expect_eq(c.decoder_sparse_step, 1);
    /* explicit steps win over the computed ones, wherever they appear */
    c = parse_ok("{\"encoder_sparse_step\": 2, \"model_type\": \"switch_transformers\", \"num_layers\": 8,"
                 " \"num_sparse_encoder_layers\": 8, \"decoder_sparse_step\": 0, \"expert_capacity\": 0,"
                 " \"capacity_factor\": 1.5, \"router_z_loss_coef\": 0.5, \"expert_ffn\": \"gated-gelu\"}", &w);
    cr_expect_eq(c.encoder_sparse_step, 2);
    cr_expect_eq(c.decoder_sparse_step, 0);
    cr_expect_eq(c.expert_capacity, 0);
    cr_expect_eq(c.capacity_factor, 1.5);
    cr_expect_eq(c.router_z_loss_coef, 0.5);
    cr_expect_eq(c.expert_ffn, SB_FFN_GATED_GELU);
    cr_expect_eq(w.count, 0, "%s", w.last);
    /* Switch keys in a t5 config: HF ignores them, so do we, with a warning */
    c = parse_ok("{\"model_type\": \"t5\", \"num_experts\": 8}", &w);
    cr_expect_eq(c.num_experts, 0);
    cr_expect_eq(w.count, 1);
}

Test(config_json, unknown_keys_warn)
{
    warnings w = {0};
    sb_config c = parse_ok("{\"model_type\": \"t5\", \"d_model\": 64, \"my_extra\": {\"x\": [1, 2]}}", &w);
    cr_expect_eq(c.d_model, 64);
    cr_expect_eq(w.count, 1);
    cr_expect(strstr(w.last, "my_extra") != NULL, "%s", w.last);
}

Test(config_json, hostile_files)
{
    static const struct {
        const char *text;
        const char *needle;
    } cases[] = {
        {"{\"d_model\": \"512\"}", "d_model: expected an integer, got a string"},
        {"{\"d_model\": 1e300}", "expected an integer"},
        {"{\"d_model\": 99999999999999999999}", "expected an integer"},
        {"{\"d_model\": 512.5}", "expected an integer"},
        {"{\"d_model\": -4}", "d_model = -4 is out of range"},
        {"{\"d_model\": null}", "got null"},
        {"{\"num_layers\": {}}", "got an object"},
        {"{\"tie_word_embeddings\": \"yes\"}", "expected true or false"},
        {"{\"layer_norm_epsilon\": 1e999}", "finite number"},
        {"{\"eos_token_id\": [1, 2]}", "got an array"},
        {"{\"feed_forward_proj\": \"gated-silu\"}", "'gated-silu' is not supported"},
        {"{\"feed_forward_proj\": \"gelu\"}", "'gelu' is not supported"},
        {"{\"feed_forward_proj\": 3}", "expected a string"},
        {"{\"feed_forward_proj\": \"relu\", \"dense_act_fn\": \"gelu\"}", "dense_act_fn: 'gelu' contradicts"},
        {"{\"feed_forward_proj\": \"relu\", \"is_gated_act\": true}", "is_gated_act"},
        {"{\"model_type\": \"bert\"}", "model_type: 'bert' is not supported"},
        {"{\"model_type\": 5}", "model_type: expected a string"},
        {"{\"model_type\": \"switch_transformers\", \"router_bias\": true}", "router_bias"},
        {"{\"model_type\": \"switch_transformers\", \"dense_act_fn\": \"gelu\"}", "dense_act_fn: 'gelu'"},
        {"{\"model_type\": \"switch_transformers\", \"num_sparse_encoder_layers\": -1}", "must be >= 0"},
        {"{\"model_type\": \"switch_transformers\", \"num_experts\": 1}", "num_experts = 1"},
        {"{\"vocab_size\": 16777216, \"d_model\": 16777216, \"d_ff\": 16777216}", "exceeds 2^53"},
        {"[1, 2, 3]", "not a JSON object"},
        {"\"config\"", "not a JSON object"},
        {"{\"d_model\": 64", "not valid JSON"},
        {"{\"d_model\": 64,}", "not valid JSON"},
        {"   ", "not valid JSON"},
        {"{\"d_model\": 64} {\"x\": 1}", "data after the object"},
        {"{\"d_model\": 64}]", "data after the object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_bad(cases[i].text, strlen(cases[i].text), cases[i].needle);
    expect_bad("", 0, "empty");
    static const char garbage[] = {'\x7f', 'E', 'L', 'F', '\0', '\xff', '{', '\x01'};
    expect_bad(garbage, sizeof garbage, "not valid JSON");
    static const char nul_tail[] = "{\"d_model\": 64}\0garbage";
    expect_bad(nul_tail, sizeof nul_tail - 1, "data after the object");

    enum { DEPTH = 100000 };
    char *deep = malloc(2 * DEPTH + 32);
    size_t n = (size_t)sprintf(deep, "{\"x\": ");
    memset(deep + n, '[', DEPTH);
    memset(deep + n + DEPTH, ']', DEPTH);
    strcpy(deep + n + 2 * DEPTH, "}");
    expect_bad(deep, strlen(deep), "not valid JSON");
    free(deep);

    char *full = test_read_file("tests/fixtures/switch-mini-nodrop/config_full.json", NULL);
    for (size_t cut = 1; cut < strlen(full) - 2; cut += 97)
        expect_bad(full, cut, "not valid JSON");
    free(full);
}

Test(config_json, hostile_file_paths)
{
    char dir[] = "/tmp/shapebench-json-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    fclose(f);
    sb_config c;
    sb_error err;
    cr_expect_eq(sb_config_load_json_file(path, &c, NULL, NULL, &err), -1);
    cr_expect(strstr(err.msg, path) != NULL && strstr(err.msg, "empty") != NULL, "%s", err.msg);
    cr_expect_eq(sb_config_resolve(dir, &c, NULL, NULL, &err), -1);
    cr_expect(strstr(err.msg, "empty") != NULL, "%s", err.msg);
    cr_expect_eq(sb_config_load_json_file(dir, &c, NULL, NULL, &err), -1);
    cr_expect(strstr(err.msg, dir) != NULL, "%s", err.msg);
    unlink(path);
    rmdir(dir);
}

/* Serialise, parse back, serialise again: identical text, equal shape. */
static void check_round_trip(const char *spec)
{
    sb_config a, b;
    sb_error err;
    cr_assert_eq(sb_config_resolve(spec, &a, NULL, NULL, &err), 0, "%s: %s", spec, err.msg);
    char *first = sb_config_to_json(&a);
    cr_assert_not_null(first);
    warnings w = {0};
    cr_assert_eq(sb_config_from_json(first, strlen(first), &b, collect, &w, &err), 0, "%s: %s", spec, err.msg);
    cr_expect_eq(w.count, 0, "%s: %s", spec, w.last);
    char *second = sb_config_to_json(&b);
    cr_expect_str_eq(second, first, "%s", spec);
    cr_expect_str_eq(b.name, a.name);
    cr_expect_eq(b.num_layers, a.num_layers);
    cr_expect_eq(b.num_decoder_layers, a.num_decoder_layers);
    cr_expect_eq(b.d_model, a.d_model);
    cr_expect_eq(b.d_ff, a.d_ff);
    cr_expect_eq(b.d_kv, a.d_kv);
    cr_expect_eq(b.num_heads, a.num_heads);
    cr_expect_eq(b.ffn, a.ffn);
    cr_expect_eq(b.tie_word_embeddings, a.tie_word_embeddings);
    cr_expect_eq(b.shared_kv, a.shared_kv);
    cr_expect_eq(b.num_experts, a.num_experts);
    cr_expect_eq(b.encoder_sparse_step, a.encoder_sparse_step);
    cr_expect_eq(b.decoder_sparse_step, a.decoder_sparse_step);
    cr_expect_eq(b.expert_ffn, a.expert_ffn);
    cr_expect_eq(b.expert_capacity, a.expert_capacity);
    cr_expect_eq(b.capacity_factor, a.capacity_factor);
    cr_expect_eq(b.layer_norm_epsilon, a.layer_norm_epsilon);
    cr_expect_eq(b.router_jitter_noise, a.router_jitter_noise);
    free(first);
    free(second);
}

Test(config_json, round_trip)
{
    for (size_t i = 0; i < sb_registry_count(); i++)
        if (!sb_registry_get(i)->unsupported)
            check_round_trip(sb_registry_get(i)->name);
    check_round_trip("t5-efficient-small+switch32:expert_capacity=0,capacity_factor=1.25");
    check_round_trip("t5-efficient-tiny+switch8/step1:decoder_sparse_step=0,router_jitter_noise=0.3");
    check_round_trip("t5-efficient-base-skv-nl3:layer_norm_epsilon=1e-5,initializer_factor=0.1");
    check_round_trip("t5-small:feed_forward_proj=\"relu\"");
}

/* The same through the CLI: `config X > a.json; config a.json` prints identical text. */
Test(config_json, cli_round_trip)
{
    const char *bin = getenv("SHAPEBENCH_BIN");
    cr_assert_not_null(bin, "SHAPEBENCH_BIN is not set (run through make test)");
    char dir[] = "/tmp/shapebench-rt-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    static const char *const specs[] = {"switch-xxl-128", "google/t5-efficient-tiny-el8", "t5-v1_1-xl:num_heads=4",
                                        "tests/fixtures/switch-mini-nodrop"};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        char command[1024];
        snprintf(command, sizeof command, "'%s' config '%s' > %s/a.json && '%s' config %s/a.json > %s/b.json && "
                 "cmp -s %s/a.json %s/b.json", bin, specs[i], dir, bin, dir, dir, dir, dir);
        cr_expect_eq(system(command), 0, "%s", specs[i]);
    }
    char command[512];
    snprintf(command, sizeof command, "rm -f %s/a.json %s/b.json && rmdir %s", dir, dir, dir);
    cr_expect_eq(system(command), 0);
}

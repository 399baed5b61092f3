/* config_json.c — Hugging Face config.json in and out.
 *
 * Reading follows transformers v4.40.2: T5Config (model_type "t5") and SwitchTransformersConfig
 * ("switch_transformers") with their own defaults for missing keys; explicit encoder/decoder_sparse_step
 * keys override the steps computed from num_sparse_*_layers, because HF sets leftover keys after computing
 * them. shapebench's extras (shared_kv, expert_ffn, capacity_factor) ride along as extra keys, which HF
 * keeps as plain attributes. Writing emits every field in sorted key order so the text is reproducible.
 */
#include "variants/variants.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A config.json is a few kilobytes; anything far bigger is not one. */
#define SB_CONFIG_JSON_MAX (16 << 20)

typedef enum {
    K_INT,          /* int64 field */
    K_DOUBLE,       /* double field */
    K_BOOL,         /* bool field */
    K_DECODER_LAYERS, /* int field; null means "same as num_layers" */
    K_STEP,         /* encoder/decoder_sparse_step: explicit, wins over num_sparse_*_layers */
    K_NUM_SPARSE,   /* num_sparse_encoder/decoder_layers: gives the step */
    K_FFN,          /* feed_forward_proj */
    K_EXPERT_FFN,   /* expert_ffn (shapebench) */
    K_ACT,          /* dense_act_fn: derived by HF, checked against the FFN kinds */
    K_GATED,        /* is_gated_act: same */
    K_ROUTER_BIAS,  /* must be false: published routers have no bias and the engine has none */
    K_NAME,         /* _name_or_path */
    K_MODEL_TYPE,
    K_IGNORED,      /* a known HF key that does not change the shape or the computation */
} key_kind;

typedef struct {
    const char *key;
    key_kind kind;
    size_t offset;    /* into sb_config (K_INT, K_DOUBLE, K_BOOL, K_DECODER_LAYERS, K_STEP); the stack, 0 encoder
                       * or 1 decoder (K_NUM_SPARSE) */
    bool switch_only; /* SwitchTransformersConfig only: ignored (with a warning) under model_type t5 */
} key_spec;

#define F(field) offsetof(sb_config, field)

static const key_spec keys[] = {
    {"vocab_size", K_INT, F(vocab_size), false},
    {"d_model", K_INT, F(d_model), false},
    {"d_ff", K_INT, F(d_ff), false},
    {"d_kv", K_INT, F(d_kv), false},
    {"num_heads", K_INT, F(num_heads), false},
    {"num_layers", K_INT, F(num_layers), false},
    {"num_decoder_layers", K_DECODER_LAYERS, F(num_decoder_layers), false},
    {"relative_attention_num_buckets", K_INT, F(relative_attention_num_buckets), false},
    {"relative_attention_max_distance", K_INT, F(relative_attention_max_distance), false},
    {"layer_norm_epsilon", K_DOUBLE, F(layer_norm_epsilon), false},
    {"initializer_factor", K_DOUBLE, F(initializer_factor), false},
    {"tie_word_embeddings", K_BOOL, F(tie_word_embeddings), false},
    {"pad_token_id", K_INT, F(pad_token_id), false},
    {"eos_token_id", K_INT, F(eos_token_id), false},
    {"decoder_start_token_id", K_INT, F(decoder_start_token_id), false},
    {"feed_forward_proj", K_FFN, 0, false},
    {"dense_act_fn", K_ACT, 0, false},
    {"is_gated_act", K_GATED, 0, false},
    {"shared_kv", K_BOOL, F(shared_kv), false},
    {"num_experts", K_INT, F(num_experts), true},
    {"expert_capacity", K_INT, F(expert_capacity), true},
    {"capacity_factor", K_DOUBLE, F(capacity_factor), true},
    {"expert_ffn", K_EXPERT_FFN, 0, true},
    {"encoder_sparse_step", K_STEP, F(encoder_sparse_step), true},
    {"decoder_sparse_step", K_STEP, F(decoder_sparse_step), true},
    {"num_sparse_encoder_layers", K_NUM_SPARSE, 0, true},
    {"num_sparse_decoder_layers", K_NUM_SPARSE, 1, true},
    {"router_z_loss_coef", K_DOUBLE, F(router_z_loss_coef), true},
    {"router_aux_loss_coef", K_DOUBLE, F(router_aux_loss_coef), true},
    {"router_jitter_noise", K_DOUBLE, F(router_jitter_noise), true},
    {"router_bias", K_ROUTER_BIAS, 0, true},
    {"_name_or_path", K_NAME, 0, false},
    {"model_type", K_MODEL_TYPE, 0, false},
    /* PretrainedConfig / generation / training keys: saved by HF, meaningless for a shape. */
    {"add_cross_attention", K_IGNORED, 0, false},
    {"add_router_probs", K_IGNORED, 0, false},
    {"architectures", K_IGNORED, 0, false},
    {"bad_words_ids", K_IGNORED, 0, false},
    {"begin_suppress_tokens", K_IGNORED, 0, false},
    {"bos_token_id", K_IGNORED, 0, false},
    {"chunk_size_feed_forward", K_IGNORED, 0, false},
    {"classifier_dropout", K_IGNORED, 0, false},
    {"cross_attention_hidden_size", K_IGNORED, 0, false},
    {"diversity_penalty", K_IGNORED, 0, false},
    {"do_sample", K_IGNORED, 0, false},
    {"dropout_rate", K_IGNORED, 0, false},
    {"early_stopping", K_IGNORED, 0, false},
    {"encoder_no_repeat_ngram_size", K_IGNORED, 0, false},
    {"exponential_decay_length_penalty", K_IGNORED, 0, false},
    {"finetuning_task", K_IGNORED, 0, false},
    {"forced_bos_token_id", K_IGNORED, 0, false},
    {"forced_eos_token_id", K_IGNORED, 0, false},
    {"gradient_checkpointing", K_IGNORED, 0, false},
    {"id2label", K_IGNORED, 0, false},
    {"is_decoder", K_IGNORED, 0, false},
    {"is_encoder_decoder", K_IGNORED, 0, false},
    {"label2id", K_IGNORED, 0, false},
    {"length_penalty", K_IGNORED, 0, false},
    {"max_length", K_IGNORED, 0, false},
    {"min_length", K_IGNORED, 0, false},
    {"n_positions", K_IGNORED, 0, false},
    {"no_repeat_ngram_size", K_IGNORED, 0, false},
    {"num_beam_groups", K_IGNORED, 0, false},
    {"num_beams", K_IGNORED, 0, false},
    {"num_return_sequences", K_IGNORED, 0, false},
    {"output_attentions", K_IGNORED, 0, false},
    {"output_hidden_states", K_IGNORED, 0, false},
    {"output_past", K_IGNORED, 0, false},
    {"output_scores", K_IGNORED, 0, false},
    {"prefix", K_IGNORED, 0, false},
    {"problem_type", K_IGNORED, 0, false},
    {"pruned_heads", K_IGNORED, 0, false},
    {"remove_invalid_values", K_IGNORED, 0, false},
    {"repetition_penalty", K_IGNORED, 0, false},
    {"return_dict", K_IGNORED, 0, false},
    {"return_dict_in_generate", K_IGNORED, 0, false},
    {"router_dtype", K_IGNORED, 0, false},
    {"router_ignore_padding_tokens", K_IGNORED, 0, false},
    {"sep_token_id", K_IGNORED, 0, false},
    {"suppress_tokens", K_IGNORED, 0, false},
    {"task_specific_params", K_IGNORED, 0, false},
    {"temperature", K_IGNORED, 0, false},
    {"tf_legacy_loss", K_IGNORED, 0, false},
    {"tie_encoder_decoder", K_IGNORED, 0, false},
    {"tokenizer_class", K_IGNORED, 0, false},
    {"top_k", K_IGNORED, 0, false},
    {"top_p", K_IGNORED, 0, false},
    {"torch_dtype", K_IGNORED, 0, false},
    {"torchscript", K_IGNORED, 0, false},
    {"transformers_version", K_IGNORED, 0, false},
    {"typical_p", K_IGNORED, 0, false},
    {"use_bfloat16", K_IGNORED, 0, false},
    {"use_cache", K_IGNORED, 0, false},
};

static const key_spec *find_key(const char *key)
{
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(keys[i].key, key) == 0)
            return &keys[i];
    return NULL;
}

/* What was read beyond plain fields, resolved once every key has been seen. */
typedef struct {
    bool whole_file; /* a config.json (missing keys take HF defaults) rather than overrides */
    bool is_switch;
    bool has_ffn, has_expert_ffn;
    const char *dense_act_fn;
    int is_gated_act; /* -1: absent */
    bool has_step[2];
    bool has_num_sparse[2];
    int64_t num_sparse[2];
    enum { LAYERS_ABSENT, LAYERS_GIVEN, LAYERS_NULL } decoder_layers;
    const char *name;
} parse_state;

static const char *describe(const cJSON *item)
{
    if (cJSON_IsNull(item))
        return "null";
    if (cJSON_IsBool(item))
        return "a boolean";
    if (cJSON_IsString(item))
        return "a string";
    if (cJSON_IsArray(item))
        return "an array";
    if (cJSON_IsObject(item))
        return "an object";
    return "a number";
}

/* JSON numbers are doubles; integers beyond 2^53 are not exact, and every real dimension is far below. */
static int read_int(const cJSON *item, int64_t *out, sb_error *err)
{
    if (!cJSON_IsNumber(item))
        return sb_fail(err, "%s: expected an integer, got %s", item->string, describe(item));
    double d = item->valuedouble;
    if (!isfinite(d) || d != floor(d) || fabs(d) > 9007199254740992.0)
        return sb_fail(err, "%s: expected an integer (|n| <= 2^53), got %g", item->string, d);
    *out = (int64_t)d;
    return 0;
}

static int read_double(const cJSON *item, double *out, sb_error *err)
{
    if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble))
        return sb_fail(err, "%s: expected a finite number, got %s", item->string, describe(item));
    *out = item->valuedouble;
    return 0;
}

static int read_bool(const cJSON *item, bool *out, sb_error *err)
{
    if (!cJSON_IsBool(item))
        return sb_fail(err, "%s: expected true or false, got %s", item->string, describe(item));
    *out = cJSON_IsTrue(item);
    return 0;
}

static int read_string(const cJSON *item, const char **out, sb_error *err)
{
    if (!cJSON_IsString(item))
        return sb_fail(err, "%s: expected a string, got %s", item->string, describe(item));
    *out = item->valuestring;
    return 0;
}

/* HF splits feed_forward_proj at '-': "relu", or "gated-<act>"; "gated-gelu" means the tanh GELU
 * (gelu_new), which is the only gated activation the engine runs. */
static int parse_ffn(const char *key, const char *value, sb_ffn_kind *out, sb_error *err)
{
    if (strcmp(value, "relu") == 0) {
        *out = SB_FFN_RELU;
        return 0;
    }
    if (strcmp(value, "gated-gelu") == 0 || strcmp(value, "gated-gelu_new") == 0) {
        *out = SB_FFN_GATED_GELU;
        return 0;
    }
    return sb_fail(err, "%s: '%s' is not supported (shapebench runs \"relu\" or \"gated-gelu\")", key, value);
}

static int apply_item(sb_config *cfg, parse_state *st, const cJSON *item, sb_warn_fn warn, void *warn_ctx,
                      sb_error *err)
{
    const char *key = item->string;
    const key_spec *spec = find_key(key);
    char message[SB_ERROR_MAX];
    if (spec == NULL) {
        if (!st->whole_file)
            return sb_fail(err, "unknown key '%s' (use Hugging Face config.json names, e.g. d_model)", key);
        if (warn != NULL) {
            snprintf(message, sizeof message, "config.json: unknown key '%s' ignored", key);
            warn(warn_ctx, message);
        }
        return 0;
    }
    if (!st->whole_file && (spec->kind == K_IGNORED || spec->kind == K_NAME || spec->kind == K_MODEL_TYPE ||
                            spec->kind == K_ACT || spec->kind == K_GATED))
        return sb_fail(err, "'%s' cannot be overridden (it does not set the shape, or follows from "
                            "feed_forward_proj / expert_ffn)", key);
    if (spec->switch_only && st->whole_file && !st->is_switch) {
        if (warn != NULL) {
            snprintf(message, sizeof message,
                     "config.json: '%s' ignored: model_type is t5 (switch_transformers for a sparse model)", key);
            warn(warn_ctx, message);
        }
        return 0;
    }
    char *base = (char *)cfg;
    switch (spec->kind) {
    case K_INT:
    case K_STEP:
        if (read_int(item, (int64_t *)(base + spec->offset), err) != 0)
            return -1;
        if (spec->kind == K_STEP)
            st->has_step[spec->offset == F(decoder_sparse_step)] = true;
        return 0;
    case K_DECODER_LAYERS:
        if (cJSON_IsNull(item)) {
            st->decoder_layers = LAYERS_NULL;
            return 0;
        }
        st->decoder_layers = LAYERS_GIVEN;
        return read_int(item, &cfg->num_decoder_layers, err);
    case K_DOUBLE:
        return read_double(item, (double *)(base + spec->offset), err);
    case K_BOOL:
        return read_bool(item, (bool *)(base + spec->offset), err);
    case K_NUM_SPARSE:
        st->has_num_sparse[spec->offset] = true;
        if (read_int(item, &st->num_sparse[spec->offset], err) != 0)
            return -1;
        if (st->num_sparse[spec->offset] < 0)
            return sb_fail(err, "%s: must be >= 0, got %lld", key, (long long)st->num_sparse[spec->offset]);
        return 0;
    case K_FFN:
    case K_EXPERT_FFN: {
        const char *value = NULL;
        if (read_string(item, &value, err) != 0)
            return -1;
        *(spec->kind == K_FFN ? &st->has_ffn : &st->has_expert_ffn) = true;
        return parse_ffn(key, value, spec->kind == K_FFN ? &cfg->ffn : &cfg->expert_ffn, err);
    }
    case K_ACT:
        return read_string(item, &st->dense_act_fn, err);
    case K_GATED: {
        bool gated = false;
        if (read_bool(item, &gated, err) != 0)
            return -1;
        st->is_gated_act = gated;
        return 0;
    }
    case K_ROUTER_BIAS: {
        bool bias = false;
        if (read_bool(item, &bias, err) != 0)
            return -1;
        return bias ? sb_fail(err, "router_bias: true is not supported (shapebench's router has no bias, "
                                   "like every published Switch checkpoint)")
                    : 0;
    }
    case K_NAME:
        if (read_string(item, &st->name, err) != 0)
            return -1;
        if (strlen(st->name) >= SB_NAME_MAX)
            return sb_fail(err, "_name_or_path: longer than %d characters", SB_NAME_MAX - 1);
        return 0;
    case K_MODEL_TYPE:
    case K_IGNORED:
        return 0;
    }
    return 0;
}

/* T5Config derives dense_act_fn / is_gated_act from feed_forward_proj; when a file carries them too they
 * must agree, since HF would let them win and run something else. */
static int check_t5_activation(const parse_state *st, sb_ffn_kind kind, sb_error *err)
{
    const char *act = kind == SB_FFN_RELU ? "relu" : "gelu_new";
    if (st->dense_act_fn != NULL && strcmp(st->dense_act_fn, act) != 0)
        return sb_fail(err, "dense_act_fn: '%s' contradicts feed_forward_proj (expected \"%s\")", st->dense_act_fn,
                       act);
    if (st->is_gated_act >= 0 && (st->is_gated_act == 1) != (kind == SB_FFN_GATED_GELU))
        return sb_fail(err, "is_gated_act: %s contradicts feed_forward_proj", st->is_gated_act ? "true" : "false");
    return 0;
}

/* HF v4.40.2: step = num_layers // num_sparse_layers, and num_layers when there are none (which still
 * makes block 1 sparse through `i % step == 1`: reproduced, not corrected). */
static void set_steps(sb_config *cfg, const parse_state *st)
{
    for (int i = 0; i < 2; i++) {
        if (st->has_step[i] || !st->has_num_sparse[i])
            continue;
        int64_t layers = i ? cfg->num_decoder_layers : cfg->num_layers;
        int64_t step = st->num_sparse[i] > 0 ? layers / st->num_sparse[i] : layers;
        *(i ? &cfg->decoder_sparse_step : &cfg->encoder_sparse_step) = step;
    }
}

static int finish(sb_config *cfg, const parse_state *st, sb_error *err)
{
    /* T5Config: a missing num_decoder_layers mirrors num_layers; SwitchTransformersConfig's default is 12. */
    bool mirror = st->whole_file && !st->is_switch && st->decoder_layers == LAYERS_ABSENT;
    if (st->decoder_layers == LAYERS_NULL || mirror)
        cfg->num_decoder_layers = cfg->num_layers;
    set_steps(cfg, st);
    if (!st->whole_file)
        return 0;
    if (st->is_switch) {
        /* SwitchTransformersConfig has no gated FFN: dense_act_fn drives dense and expert layers alike.
         * shapebench's feed_forward_proj / expert_ffn keys, when present, say more. */
        const char *act = st->dense_act_fn != NULL ? st->dense_act_fn : "relu";
        if ((!st->has_ffn || !st->has_expert_ffn) && strcmp(act, "relu") != 0)
            return sb_fail(err, "dense_act_fn: '%s' is not supported for a Switch model (relu, or gated-gelu "
                                "through feed_forward_proj and expert_ffn)", act);
    } else if (check_t5_activation(st, cfg->ffn, err) != 0) {
        return -1;
    }
    if (st->name != NULL && st->name[0] != '\0')
        snprintf(cfg->name, sizeof cfg->name, "%s", st->name);
    return 0;
}

static void switch_defaults(sb_config *cfg, parse_state *st)
{
    cfg->d_model = 768;
    cfg->d_ff = 2048;
    cfg->num_heads = 12;
    cfg->num_layers = 12;
    cfg->num_decoder_layers = 12;
    cfg->num_experts = 8;
    cfg->expert_capacity = 64;
    for (int i = 0; i < 2; i++) {
        st->has_num_sparse[i] = true;
        st->num_sparse[i] = 3;
    }
}

static int parse_object(const cJSON *root, const char *fallback_name, sb_config *out, sb_warn_fn warn,
                        void *warn_ctx, sb_error *err)
{
    if (!cJSON_IsObject(root))
        return sb_fail(err, "the top level is %s, not a JSON object", describe(root));
    parse_state st = {.whole_file = true, .is_gated_act = -1};
    sb_config cfg;
    sb_config_defaults(&cfg);
    snprintf(cfg.name, sizeof cfg.name, "%s", fallback_name);
    const cJSON *type = NULL;
    for (const cJSON *item = root->child; item != NULL; item = item->next)
        if (strcmp(item->string, "model_type") == 0)
            type = item; /* the last one, as Python's json keeps */
    if (type == NULL) {
        if (warn != NULL)
            warn(warn_ctx, "config.json: no model_type; reading it as a T5Config (model_type \"t5\")");
    } else if (!cJSON_IsString(type)) {
        return sb_fail(err, "model_type: expected a string, got %s", describe(type));
    } else if (strcmp(type->valuestring, "switch_transformers") == 0) {
        st.is_switch = true;
        switch_defaults(&cfg, &st);
    } else if (strcmp(type->valuestring, "t5") != 0) {
        return sb_fail(err, "model_type: '%s' is not supported (t5 or switch_transformers)", type->valuestring);
    }
    for (const cJSON *item = root->child; item != NULL; item = item->next)
        if (apply_item(&cfg, &st, item, warn, warn_ctx, err) != 0)
            return -1;
    if (finish(&cfg, &st, err) != 0 || sb_config_validate(&cfg, err) != 0)
        return -1;
    *out = cfg;
    return 0;
}

static int parse_text(const char *text, size_t len, const char *fallback_name, sb_config *out, sb_warn_fn warn,
                      void *warn_ctx, sb_error *err)
{
    if (len == 0)
        return sb_fail(err, "empty file, not a config.json");
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, false);
    if (root == NULL) {
        size_t at = end != NULL && end >= text && end <= text + len ? (size_t)(end - text) : 0;
        return sb_fail(err, "not valid JSON (error near byte %zu)", at);
    }
    /* One JSON value and nothing after it but whitespace: `{...} {...}` or `{...}\0garbage` is not a
     * config.json, whatever its first object says. */
    size_t at = (size_t)(end - text);
    while (at < len && strchr(" \t\r\n", text[at]) != NULL && text[at] != '\0')
        at++;
    if (at < len) {
        cJSON_Delete(root);
        return sb_fail(err, "not valid JSON: data after the object (byte %zu)", at);
    }
    int rc = parse_object(root, fallback_name, out, warn, warn_ctx, err);
    cJSON_Delete(root);
    return rc;
}

int sb_config_from_json(const char *text, size_t len, sb_config *out, sb_warn_fn warn, void *warn_ctx,
                        sb_error *err)
{
    return parse_text(text, len, "custom", out, warn, warn_ctx, err);
}

/* A model read from a file is named by its _name_or_path, else by the path it was read from. */
int sb_config_load_json_file(const char *path, sb_config *out, sb_warn_fn warn, void *warn_ctx, sb_error *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return sb_fail(err, "%s: %s", path, strerror(errno));
    char *text = malloc(SB_CONFIG_JSON_MAX + 1);
    if (text == NULL) {
        fclose(f);
        return sb_fail(err, "%s: out of memory", path);
    }
    size_t len = fread(text, 1, SB_CONFIG_JSON_MAX + 1, f);
    int read_error = ferror(f);
    fclose(f);
    int rc;
    sb_error inner;
    if (read_error)
        rc = sb_fail(err, "%s: read error (a folder? pass the folder holding config.json)", path);
    else if (len > SB_CONFIG_JSON_MAX)
        rc = sb_fail(err, "%s: larger than %d MiB, not a config.json", path, SB_CONFIG_JSON_MAX >> 20);
    else if (strlen(path) >= SB_NAME_MAX)
        rc = sb_fail(err, "%s: path longer than %d characters", path, SB_NAME_MAX - 1);
    else if ((rc = parse_text(text, len, path, out, warn, warn_ctx, &inner)) != 0)
        sb_fail(err, "%s: %s", path, inner.msg);
    free(text);
    return rc;
}

int sb_config_apply_overrides(sb_config *cfg, const cJSON *object, sb_error *err)
{
    parse_state st = {.whole_file = false, .is_switch = true, .is_gated_act = -1};
    for (const cJSON *item = object->child; item != NULL; item = item->next)
        if (apply_item(cfg, &st, item, NULL, NULL, err) != 0)
            return -1;
    return finish(cfg, &st, err);
}

/* ---- writing ---------------------------------------------------------------------------------------- */

typedef struct {
    char *text;
    size_t len, cap;
    bool failed;
} buffer;

static void append(buffer *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void append(buffer *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->text + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = true;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = 2 * b->cap + (size_t)n;
        char *grown = realloc(b->text, cap);
        if (grown == NULL) {
            b->failed = true;
            return;
        }
        b->text = grown;
        b->cap = cap;
    }
}

static void put_key(buffer *b, const char *key)
{
    append(b, "%s\n  \"%s\": ", b->len > 1 ? "," : "", key);
}

static void put_int(buffer *b, const char *key, int64_t value)
{
    put_key(b, key);
    append(b, "%lld", (long long)value);
}

static void put_bool(buffer *b, const char *key, bool value)
{
    put_key(b, key);
    append(b, "%s", value ? "true" : "false");
}

/* Shortest text that reads back as the same double; integral values keep a ".0" as Python writes them. */
static void put_double(buffer *b, const char *key, double value)
{
    put_key(b, key);
    if (value == floor(value) && fabs(value) < 1e15) {
        append(b, "%.1f", value);
        return;
    }
    char text[40];
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, value);
        if (strtod(text, NULL) == value)
            break;
    }
    append(b, "%s", text);
}

static void put_string(buffer *b, const char *key, const char *value)
{
    put_key(b, key);
    append(b, "\"");
    for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\')
            append(b, "\\%c", *p);
        else if (*p < 0x20)
            append(b, "\\u%04x", *p);
        else
            append(b, "%c", *p);
    }
    append(b, "\"");
}

static const char *ffn_name(sb_ffn_kind kind)
{
    return kind == SB_FFN_GATED_GELU ? "gated-gelu" : "relu";
}

char *sb_config_to_json(const sb_config *cfg)
{
    bool sw = cfg->num_experts > 0;
    buffer b = {.text = malloc(2048), .cap = 2048};
    if (b.text == NULL)
        return NULL;
    append(&b, "{");
    put_string(&b, "_name_or_path", cfg->name);
    put_key(&b, "architectures");
    append(&b, "[\n    \"%s\"\n  ]",
           sw ? "SwitchTransformersForConditionalGeneration" : "T5ForConditionalGeneration");
    if (sw)
        put_double(&b, "capacity_factor", cfg->capacity_factor);
    put_int(&b, "d_ff", cfg->d_ff);
    put_int(&b, "d_kv", cfg->d_kv);
    put_int(&b, "d_model", cfg->d_model);
    if (sw)
        put_int(&b, "decoder_sparse_step", cfg->decoder_sparse_step);
    put_int(&b, "decoder_start_token_id", cfg->decoder_start_token_id);
    /* Switch: HF's one activation for dense and expert layers; the experts' is the one HF can honour. */
    sb_ffn_kind act_kind = sw ? cfg->expert_ffn : cfg->ffn;
    put_string(&b, "dense_act_fn", act_kind == SB_FFN_GATED_GELU ? "gelu_new" : "relu");
    if (sw)
        put_int(&b, "encoder_sparse_step", cfg->encoder_sparse_step);
    put_int(&b, "eos_token_id", cfg->eos_token_id);
    if (sw) {
        put_int(&b, "expert_capacity", cfg->expert_capacity);
        put_string(&b, "expert_ffn", ffn_name(cfg->expert_ffn));
    }
    put_string(&b, "feed_forward_proj", ffn_name(cfg->ffn));
    put_double(&b, "initializer_factor", cfg->initializer_factor);
    put_bool(&b, "is_encoder_decoder", true);
    if (!sw)
        put_bool(&b, "is_gated_act", cfg->ffn == SB_FFN_GATED_GELU);
    put_double(&b, "layer_norm_epsilon", cfg->layer_norm_epsilon);
    put_string(&b, "model_type", sw ? "switch_transformers" : "t5");
    put_int(&b, "num_decoder_layers", cfg->num_decoder_layers);
    if (sw)
        put_int(&b, "num_experts", cfg->num_experts);
    put_int(&b, "num_heads", cfg->num_heads);
    put_int(&b, "num_layers", cfg->num_layers);
    if (sw) {
        put_int(&b, "num_sparse_decoder_layers", sb_num_sparse_blocks(cfg, SB_STACK_DECODER));
        put_int(&b, "num_sparse_encoder_layers", sb_num_sparse_blocks(cfg, SB_STACK_ENCODER));
    }
    put_int(&b, "pad_token_id", cfg->pad_token_id);
    put_int(&b, "relative_attention_max_distance", cfg->relative_attention_max_distance);
    put_int(&b, "relative_attention_num_buckets", cfg->relative_attention_num_buckets);
    if (sw) {
        put_double(&b, "router_aux_loss_coef", cfg->router_aux_loss_coef);
        put_bool(&b, "router_bias", false);
        put_double(&b, "router_jitter_noise", cfg->router_jitter_noise);
        put_double(&b, "router_z_loss_coef", cfg->router_z_loss_coef);
    }
    put_bool(&b, "shared_kv", cfg->shared_kv);
    put_bool(&b, "tie_word_embeddings", cfg->tie_word_embeddings);
    put_int(&b, "vocab_size", cfg->vocab_size);
    append(&b, "\n}\n");
    if (b.failed) {
        free(b.text);
        return NULL;
    }
    return b.text;
}

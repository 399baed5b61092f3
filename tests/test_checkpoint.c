/* test_checkpoint.c — the weights arena and checkpoint I/O: HF tensor tables, T5 init, bf16/f16
 * conversion, safetensors reading (fixtures and every class of damaged file) and writing, `shapebench init`. */
#include "engine/engine.h"
#include "tests/helpers.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const fixtures[] = {"tests/fixtures/t5-eff-relu-mini", "tests/fixtures/switch-mini-nodrop"};

/* ---- helpers ----------------------------------------------------------------------------------------- */

static void load_config(const char *dir, sb_config *cfg)
{
    char path[512];
    sb_error err;
    snprintf(path, sizeof path, "%s/config.json", dir);
    cr_assert_eq(sb_config_load_json_file(path, cfg, NULL, NULL, &err), 0, "%s", err.msg);
}

/* A fixture file split into its parsed header and its data region. */
typedef struct {
    char *file;
    size_t len;
    cJSON *header;
    const unsigned char *data;
    size_t data_len;
} st_file;

static void st_open(const char *dir, st_file *st)
{
    char path[512];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    st->file = test_read_file(path, &st->len);
    uint64_t n = 0;
    memcpy(&n, st->file, 8);
    st->header = cJSON_ParseWithLength(st->file + 8, n);
    cr_assert_not_null(st->header);
    st->data = (const unsigned char *)st->file + 8 + n;
    st->data_len = st->len - 8 - n;
}

static void st_close(st_file *st)
{
    cJSON_Delete(st->header);
    free(st->file);
}

/* Writes dir/model.safetensors from a header text and a data region. */
static void st_write(const char *dir, const char *header, const void *data, size_t data_len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    size_t n = strlen(header);
    unsigned char *buf = malloc(8 + n + data_len + 1);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(buf + 8, header, n);
    if (data_len > 0)
        memcpy(buf + 8 + n, data, data_len);
    test_write_file(path, buf, 8 + n + data_len);
    free(buf);
}

static void copy_config(const char *from_dir, const char *to_dir)
{
    char path[512];
    size_t len;
    snprintf(path, sizeof path, "%s/config.json", from_dir);
    char *text = test_read_file(path, &len);
    snprintf(path, sizeof path, "%s/config.json", to_dir);
    test_write_file(path, text, len);
    free(text);
}

static void sample_stats(const sb_weights *w, const sb_tensor *t, double *mean, double *std)
{
    float *v = malloc((size_t)t->numel * sizeof *v);
    sb_dtype_to_f32(w->dtype, sb_tensor_data(w, t), v, t->numel);
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < t->numel; i++) {
        sum += v[i];
        sq += (double)v[i] * v[i];
    }
    *mean = sum / (double)t->numel;
    *std = sqrt(sq / (double)t->numel - *mean * *mean);
    free(v);
}

/* ---- tensor tables ---------------------------------------------------------------------------------- */

Test(checkpoint, table_matches_fixture_names_and_shapes)
{
    for (size_t f = 0; f < 2; f++) {
        sb_config cfg;
        load_config(fixtures[f], &cfg);
        sb_weights w;
        sb_error err;
        cr_assert_eq(sb_weights_alloc(&w, &cfg, SB_DTYPE_F32, &err), 0, "%s", err.msg);
        st_file st;
        st_open(fixtures[f], &st);
        size_t in_file = 0;
        for (const cJSON *e = st.header->child; e != NULL; e = e->next) {
            if (strcmp(e->string, "__metadata__") == 0)
                continue;
            in_file++;
            const sb_tensor *t = sb_weights_find(&w, e->string);
            cr_assert_not_null(t, "%s: table lacks %s", fixtures[f], e->string);
            const cJSON *shape = cJSON_GetObjectItem(e, "shape");
            cr_assert_eq(cJSON_GetArraySize(shape), t->ndim, "%s", e->string);
            for (int d = 0; d < t->ndim; d++)
                cr_assert_eq((int64_t)cJSON_GetArrayItem(shape, d)->valuedouble, t->shape[d], "%s", e->string);
        }
        cr_assert_eq(w.num_tensors, in_file, "%s: %zu tensors in the table, %zu in the file", fixtures[f],
                     w.num_tensors, in_file);

        /* HF num_parameters() (expected.json) and the analytic count agree with the table. */
        char path[512];
        size_t len;
        snprintf(path, sizeof path, "%s/expected.json", fixtures[f]);
        char *text = test_read_file(path, &len);
        cJSON *expected = cJSON_Parse(text);
        int64_t params = 0;
        for (size_t i = 0; i < w.num_tensors; i++)
            params += w.tensors[i].numel;
        cr_assert_eq(params, (int64_t)cJSON_GetObjectItem(expected, "hf_num_parameters")->valuedouble);
        sb_count_settings settings = {.batch = 1, .src_len = 16, .tgt_len = 8, .dtype = SB_DTYPE_F32};
        sb_counts counts;
        cr_assert_eq(sb_count(&cfg, &settings, &counts, &err), 0, "%s", err.msg);
        cr_assert_eq(params, counts.params);
        cJSON_Delete(expected);
        free(text);
        st_close(&st);
        sb_weights_free(&w);
    }
}

Test(checkpoint, table_is_in_hf_order_and_aligned)
{
    sb_config cfg;
    load_config(fixtures[1], &cfg);
    sb_weights w;
    sb_error err;
    cr_assert_eq(sb_weights_alloc(&w, &cfg, SB_DTYPE_BF16, &err), 0, "%s", err.msg);
    /* named_parameters() order of SwitchTransformersForConditionalGeneration. */
    const char *const head[] = {
        "shared.weight",
        "encoder.block.0.layer.0.SelfAttention.q.weight",
        "encoder.block.0.layer.0.SelfAttention.k.weight",
        "encoder.block.0.layer.0.SelfAttention.v.weight",
        "encoder.block.0.layer.0.SelfAttention.o.weight",
        "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
        "encoder.block.0.layer.0.layer_norm.weight",
        "encoder.block.0.layer.1.mlp.wi.weight",
        "encoder.block.0.layer.1.mlp.wo.weight",
        "encoder.block.0.layer.1.layer_norm.weight",
        "encoder.block.1.layer.0.SelfAttention.q.weight",
        "encoder.block.1.layer.0.SelfAttention.k.weight",
        "encoder.block.1.layer.0.SelfAttention.v.weight",
        "encoder.block.1.layer.0.SelfAttention.o.weight",
        "encoder.block.1.layer.0.layer_norm.weight",
        "encoder.block.1.layer.1.mlp.router.classifier.weight",
        "encoder.block.1.layer.1.mlp.experts.expert_0.wi.weight",
        "encoder.block.1.layer.1.mlp.experts.expert_0.wo.weight",
    };
    for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
        cr_assert_str_eq(w.tensors[i].name, head[i]);
    cr_assert_str_eq(w.tensors[w.num_tensors - 1].name, "decoder.final_layer_norm.weight");
    cr_assert_eq((uintptr_t)w.arena % 64, 0);
    for (size_t i = 0; i < w.num_tensors; i++) {
        cr_assert_eq((uintptr_t)sb_tensor_data(&w, &w.tensors[i]) % 64, 0, "%s", w.tensors[i].name);
        if (i > 0)
            cr_assert_geq(w.tensors[i].offset, w.tensors[i - 1].offset + (size_t)w.tensors[i - 1].numel);
    }
    cr_assert_leq(w.tensors[w.num_tensors - 1].offset * 2 + (size_t)w.tensors[w.num_tensors - 1].numel * 2,
                  w.arena_bytes);
    cr_assert_null(sb_weights_find(&w, "lm_head.weight"));
    cr_assert_null(sb_weights_find(&w, "encoder.block.1.layer.1.mlp.wi.weight"));
    sb_weights_free(&w);
}

Test(checkpoint, table_variants_untied_gated_skv)
{
    sb_config cfg;
    load_config(fixtures[1], &cfg);
    cfg.tie_word_embeddings = false;
    cfg.ffn = SB_FFN_GATED_GELU;
    cfg.expert_ffn = SB_FFN_GATED_GELU;
    cfg.shared_kv = true;
    sb_weights w;
    sb_error err;
    cr_assert_eq(sb_weights_alloc(&w, &cfg, SB_DTYPE_F32, &err), 0, "%s", err.msg);
    cr_assert_str_eq(w.tensors[w.num_tensors - 1].name, "lm_head.weight");
    const char *const present[] = {
        "encoder.block.0.layer.1.mlp.wi_0.weight",
        "encoder.block.0.layer.1.mlp.wi_1.weight",
        "decoder.block.3.layer.2.mlp.experts.expert_3.wi_1.weight",
        "decoder.block.2.layer.1.EncDecAttention.kv.weight",
        "encoder.block.2.layer.0.SelfAttention.kv.weight",
    };
    for (size_t i = 0; i < sizeof present / sizeof present[0]; i++)
        cr_assert_not_null(sb_weights_find(&w, present[i]), "%s", present[i]);
    cr_assert_null(sb_weights_find(&w, "encoder.block.0.layer.0.SelfAttention.k.weight"));
    cr_assert_null(sb_weights_find(&w, "encoder.block.0.layer.1.mlp.wi.weight"));
    /* The table and the analytic count agree on every variant. */
    sb_count_settings settings = {.batch = 1, .src_len = 4, .tgt_len = 4, .dtype = SB_DTYPE_F32};
    sb_counts counts;
    cr_assert_eq(sb_count(&cfg, &settings, &counts, &err), 0, "%s", err.msg);
    int64_t params = 0;
    for (size_t i = 0; i < w.num_tensors; i++)
        params += w.tensors[i].numel;
    cr_assert_eq(params, counts.params);
    sb_weights_free(&w);

    cfg.num_experts = 0;
    cr_assert_eq(sb_weights_alloc(&w, &cfg, SB_DTYPE_F32, &err), 0, "%s", err.msg);
    cr_assert_not_null(sb_weights_find(&w, "decoder.block.3.layer.2.DenseReluDense.wi_0.weight"));
    sb_weights_free(&w);
}

Test(checkpoint, refuses_arena_larger_than_memory_before_allocating, .timeout = 10)
{
    sb_config cfg;
    sb_config_defaults(&cfg);
    cfg.vocab_size = INT64_C(1) << 24;
    cfg.d_model = INT64_C(1) << 22;
    sb_weights w;
    sb_error err;
    cr_assert_eq(sb_weights_alloc(&w, &cfg, SB_DTYPE_F32, &err), -1);
    cr_assert_null(w.arena);
    cr_assert_null(w.tensors);
    cr_assert(strstr(err.msg, "GiB") != NULL && strstr(err.msg, "available") != NULL, "%s", err.msg);
    cr_assert_gt(sb_memory_available_bytes(), 0);

    /* Millions of experts in 128 blocks: refused at once, not after building a table of 2^32
     * tensors (Criterion's timeout catches a regression). */
    sb_config_defaults(&cfg);
    cfg.num_layers = cfg.num_decoder_layers = 64;
    cfg.num_experts = INT64_C(1) << 24;
    cfg.encoder_sparse_step = cfg.decoder_sparse_step = 1;
    cr_assert_eq(sb_weights_alloc(&w, &cfg, SB_DTYPE_BF16, &err), -1);
    cr_assert(strstr(err.msg, "available") != NULL, "%s", err.msg);
}

/* ---- dtype conversion ------------------------------------------------------------------------------------ */

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

Test(checkpoint, bf16_rounds_to_nearest_even)
{
    const struct {
        uint32_t f32;
        uint16_t bf16;
    } cases[] = {
        {0x3F800000, 0x3F80}, /* 1 */
        {0x3F808000, 0x3F80}, /* 1 + 2^-8: halfway, down to even */
        {0x3F818000, 0x3F82}, /* 1 + 3*2^-8: halfway, up to even */
        {0x3F808001, 0x3F81}, /* just above halfway */
        {0x3F807FFF, 0x3F80}, /* just below halfway */
        {0xBFC00000, 0xBFC0}, /* -1.5 */
        {0x7F7FFFFF, 0x7F80}, /* FLT_MAX overflows to inf */
        {0x7F800000, 0x7F80}, /* inf */
        {0x00000001, 0x0000}, /* smallest subnormal rounds to +0 */
        {0x80000000, 0x8000}, /* -0 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_assert_eq(sb_f32_to_bf16(from_bits(cases[i].f32)), cases[i].bf16, "0x%08x", cases[i].f32);
    /* A NaN whose payload sits only in the dropped bits stays a NaN. */
    cr_assert(isnan(sb_bf16_to_f32(sb_f32_to_bf16(from_bits(0x7F800001)))));
    cr_assert_eq(sb_bf16_to_f32(0x3F81), 1.0f + 1.0f / 128);
    cr_assert_eq(sb_bf16_to_f32(0xC000), -2.0f);
}

Test(checkpoint, f16_widens_exactly)
{
    cr_assert_eq(sb_f16_to_f32(0x3C00), 1.0f);
    cr_assert_eq(sb_f16_to_f32(0xC000), -2.0f);
    cr_assert_eq(sb_f16_to_f32(0x7BFF), 65504.0f);
    cr_assert_eq(sb_f16_to_f32(0x0001), ldexpf(1, -24));
    cr_assert_eq(sb_f16_to_f32(0x03FF), ldexpf(1023, -24));
    cr_assert_eq(sb_f16_to_f32(0x8000), 0.0f);
    cr_assert(signbit(sb_f16_to_f32(0x8000)));
    cr_assert(isinf(sb_f16_to_f32(0xFC00)) && sb_f16_to_f32(0xFC00) < 0);
    cr_assert(isnan(sb_f16_to_f32(0x7E00)));
}

/* ---- init ---------------------------------------------------------------------------------------------------- */

Test(checkpoint, init_is_deterministic_and_thread_count_independent)
{
    sb_config cfg;
    load_config(fixtures[1], &cfg);
    sb_weights a, b;
    sb_error err;
    cr_assert_eq(sb_weights_alloc(&a, &cfg, SB_DTYPE_F32, &err), 0, "%s", err.msg);
    cr_assert_eq(sb_weights_alloc(&b, &cfg, SB_DTYPE_F32, &err), 0, "%s", err.msg);
    omp_set_num_threads(1);
    sb_weights_init_random(&a, 42);
    omp_set_num_threads(3);
    sb_weights_init_random(&b, 42);
    cr_assert_eq(memcmp(a.arena, b.arena, a.arena_bytes), 0, "same seed, different thread count: different bytes");
    sb_weights_init_random(&b, 43);
    const sb_tensor *t = sb_weights_find(&a, "shared.weight");
    cr_assert_neq(memcmp(sb_tensor_data(&a, t), sb_tensor_data(&b, t), (size_t)t->numel * 4), 0);
    /* Tensors of the same shape and scale still differ: each is seeded by its name. */
    const sb_tensor *q0 = sb_weights_find(&a, "encoder.block.1.layer.0.SelfAttention.q.weight");
    const sb_tensor *q1 = sb_weights_find(&a, "encoder.block.2.layer.0.SelfAttention.q.weight");
    cr_assert_neq(memcmp(sb_tensor_data(&a, q0), sb_tensor_data(&a, q1), (size_t)q0->numel * 4), 0);
    sb_weights_free(&a);
    sb_weights_free(&b);
}

Test(checkpoint, init_statistics_follow_t5_scheme)
{
    sb_config cfg = test_config(1000, 256, 1024, 4, 32, 2, 2);
    cfg.num_experts = 4;
    cfg.encoder_sparse_step = 2;
    cfg.decoder_sparse_step = 2;
    cfg.expert_capacity = 64;
    cfg.initializer_factor = 2.0;
    sb_weights w;
    sb_error err;
    cr_assert_eq(sb_weights_alloc(&w, &cfg, SB_DTYPE_BF16, &err), 0, "%s", err.msg);
    sb_weights_init_random(&w, 7);
    const double f = cfg.initializer_factor, d = 256, ff = 1024, inner = 128;
    const struct {
        const char *name;
        double std;
    } cases[] = {
        {"shared.weight", f},
        {"encoder.block.0.layer.1.mlp.wi.weight", f / sqrt(d)},
        {"encoder.block.0.layer.1.mlp.wo.weight", f / sqrt(ff)},
        {"encoder.block.0.layer.0.SelfAttention.q.weight", f / sqrt(d * 32)},
        {"encoder.block.0.layer.0.SelfAttention.k.weight", f / sqrt(d)},
        {"decoder.block.1.layer.1.EncDecAttention.v.weight", f / sqrt(d)},
        {"decoder.block.0.layer.0.SelfAttention.o.weight", f / sqrt(inner)},
        {"decoder.block.1.layer.2.mlp.router.classifier.weight", f},
        {"decoder.block.1.layer.2.mlp.experts.expert_2.wi.weight", f / sqrt(d)},
        {"decoder.block.1.layer.2.mlp.experts.expert_2.wo.weight", f / sqrt(d)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const sb_tensor *t = sb_weights_find(&w, cases[i].name);
        cr_assert_not_null(t, "%s", cases[i].name);
        double mean, std;
        sample_stats(&w, t, &mean, &std);
        cr_assert(fabs(std / cases[i].std - 1) < 0.06, "%s: std %g, expected %g", cases[i].name, std, cases[i].std);
        cr_assert(fabs(mean) < 0.1 * cases[i].std, "%s: mean %g", cases[i].name, mean);
    }
    /* Enough samples to check the tails too: about 4.55% beyond 2 sigma. */
    const sb_tensor *t = sb_weights_find(&w, "shared.weight");
    float *v = malloc((size_t)t->numel * sizeof *v);
    sb_dtype_to_f32(w.dtype, sb_tensor_data(&w, t), v, t->numel);
    int64_t beyond = 0;
    for (int64_t i = 0; i < t->numel; i++)
        beyond += fabsf(v[i]) > 2 * f;
    cr_assert(fabs((double)beyond / (double)t->numel - 0.0455) < 0.004, "%g beyond 2 sigma",
              (double)beyond / (double)t->numel);
    free(v);
    const sb_tensor *norm = sb_weights_find(&w, "decoder.final_layer_norm.weight");
    double mean, std;
    sample_stats(&w, norm, &mean, &std);
    cr_assert(mean == f && std == 0, "RMSNorm weights start at initializer_factor, got mean %g", mean);
    sb_weights_free(&w);
}

/* ---- loading the fixtures ---------------------------------------------------------------------------------- */

Test(checkpoint, fixtures_load_byte_exact)
{
    for (size_t f = 0; f < 2; f++) {
        sb_weights w;
        sb_error err;
        cr_assert_eq(sb_checkpoint_load(fixtures[f], SB_DTYPE_F32, &w, NULL, NULL, &err), 0, "%s", err.msg);
        st_file st;
        st_open(fixtures[f], &st);
        for (const cJSON *e = st.header->child; e != NULL; e = e->next) {
            if (strcmp(e->string, "__metadata__") == 0)
                continue;
            const cJSON *off = cJSON_GetObjectItem(e, "data_offsets");
            size_t begin = (size_t)cJSON_GetArrayItem(off, 0)->valuedouble;
            size_t end = (size_t)cJSON_GetArrayItem(off, 1)->valuedouble;
            const sb_tensor *t = sb_weights_find(&w, e->string);
            cr_assert_eq(memcmp(sb_tensor_data(&w, t), st.data + begin, end - begin), 0, "%s differs", e->string);
        }
        /* bf16 storage holds the nearest-even rounding of every value. */
        sb_weights h;
        cr_assert_eq(sb_checkpoint_load(fixtures[f], SB_DTYPE_BF16, &h, NULL, NULL, &err), 0, "%s", err.msg);
        for (size_t i = 0; i < w.num_tensors; i++) {
            const float *src = sb_tensor_data(&w, &w.tensors[i]);
            const uint16_t *dst = sb_tensor_data(&h, &h.tensors[i]);
            for (int64_t k = 0; k < w.tensors[i].numel; k++)
                cr_assert_eq(dst[k], sb_f32_to_bf16(src[k]), "%s[%lld]", w.tensors[i].name, (long long)k);
        }
        sb_weights_free(&h);
        st_close(&st);
        sb_weights_free(&w);
    }
}

/* The fixture rewritten with every tensor as F16 (and shared.weight only under HF's alias name) loads as
 * the exact widening of those halves. */
Test(checkpoint, reads_f16_and_shared_alias)
{
    sb_weights ref;
    sb_error err;
    cr_assert_eq(sb_checkpoint_load(fixtures[0], SB_DTYPE_F32, &ref, NULL, NULL, &err), 0, "%s", err.msg);
    char dir[64];
    test_make_temp_dir(dir, sizeof dir, "ckpt");
    copy_config(fixtures[0], dir);
    cJSON *header = cJSON_CreateObject();
    size_t total = 0;
    for (size_t i = 0; i < ref.num_tensors; i++)
        total += (size_t)ref.tensors[i].numel * 2;
    uint16_t *data = malloc(total);
    size_t at = 0;
    for (size_t i = 0; i < ref.num_tensors; i++) {
        const sb_tensor *t = &ref.tensors[i];
        const char *name = strcmp(t->name, "shared.weight") == 0 ? "encoder.embed_tokens.weight" : t->name;
        cJSON *entry = cJSON_AddObjectToObject(header, name);
        cJSON_AddStringToObject(entry, "dtype", "F16");
        cJSON *shape = cJSON_AddArrayToObject(entry, "shape");
        for (int d = 0; d < t->ndim; d++)
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
        cJSON *off = cJSON_AddArrayToObject(entry, "data_offsets");
        cJSON_AddItemToArray(off, cJSON_CreateNumber((double)at * 2));
        cJSON_AddItemToArray(off, cJSON_CreateNumber((double)(at + (size_t)t->numel) * 2));
        for (int64_t k = 0; k < t->numel; k++)
            data[at + (size_t)k] = (uint16_t)((k * 2654435761u + i) & 0x7BFF); /* finite halves */
        at += (size_t)t->numel;
    }
    char *text = cJSON_PrintUnformatted(header);
    st_write(dir, text, data, total);
    sb_weights w;
    cr_assert_eq(sb_checkpoint_load(dir, SB_DTYPE_F32, &w, NULL, NULL, &err), 0, "%s", err.msg);
    at = 0;
    for (size_t i = 0; i < w.num_tensors; i++) {
        const float *got = sb_tensor_data(&w, &w.tensors[i]);
        for (int64_t k = 0; k < w.tensors[i].numel; k++)
            cr_assert_eq(got[k], sb_f16_to_f32(data[at + (size_t)k]), "%s[%lld]", w.tensors[i].name, (long long)k);
        at += (size_t)w.tensors[i].numel;
    }
    sb_weights_free(&w);
    free(text);
    free(data);
    cJSON_Delete(header);
    sb_weights_free(&ref);
    test_remove_tree(dir);
}

/* ---- save / load round trip ------------------------------------------------------------------------------ */

static void round_trip(sb_dtype dtype, bool tied)
{
    sb_config cfg;
    load_config(fixtures[1], &cfg);
    cfg.tie_word_embeddings = tied;
    sb_weights w, back;
    sb_error err;
    cr_assert_eq(sb_weights_alloc(&w, &cfg, dtype, &err), 0, "%s", err.msg);
    sb_weights_init_random(&w, 5);
    char dir[64];
    test_make_temp_dir(dir, sizeof dir, "ckpt");
    char sub[128];
    snprintf(sub, sizeof sub, "%s/nested/ckpt", dir); /* created by save */
    cr_assert_eq(sb_checkpoint_save(&w, sub, &err), 0, "%s", err.msg);
    cr_assert_eq(sb_checkpoint_load(sub, dtype, &back, NULL, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(back.num_tensors, w.num_tensors);
    cr_assert_eq(back.arena_bytes, w.arena_bytes);
    cr_assert_eq(memcmp(back.arena, w.arena, w.arena_bytes), 0, "round trip changed the weights");
    cr_assert_eq(back.cfg.tie_word_embeddings, tied);
    /* The other storage reads the same file: bf16 widens exactly, f32 rounds to nearest even. */
    sb_weights other;
    sb_dtype other_dtype = dtype == SB_DTYPE_F32 ? SB_DTYPE_BF16 : SB_DTYPE_F32;
    cr_assert_eq(sb_checkpoint_load(sub, other_dtype, &other, NULL, NULL, &err), 0, "%s", err.msg);
    for (size_t i = 0; i < w.num_tensors; i++) {
        const sb_tensor *t = &w.tensors[i];
        const void *src = sb_tensor_data(&w, t), *dst = sb_tensor_data(&other, &other.tensors[i]);
        for (int64_t k = 0; k < t->numel; k++) {
            if (dtype == SB_DTYPE_F32)
                cr_assert_eq(((const uint16_t *)dst)[k], sb_f32_to_bf16(((const float *)src)[k]), "%s", t->name);
            else
                cr_assert_eq(((const float *)dst)[k], sb_bf16_to_f32(((const uint16_t *)src)[k]), "%s", t->name);
        }
    }
    sb_weights_free(&other);
    /* No temporary file left behind. */
    char path[256];
    snprintf(path, sizeof path, "%s/model.safetensors.tmp.%ld", sub, (long)getpid());
    cr_assert_neq(access(path, F_OK), 0);
    /* The header is what HF expects: F32/BF16 dtype, format pt, 8-byte aligned data. */
    st_file st;
    st_open(sub, &st);
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(st.header, "__metadata__"), "format")->valuestring, "pt");
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(st.header, "shared.weight"), "dtype")->valuestring,
                     dtype == SB_DTYPE_F32 ? "F32" : "BF16");
    cr_assert_eq((st.len - st.data_len) % 8, 0);
    st_close(&st);
    sb_weights_free(&back);
    sb_weights_free(&w);
    test_remove_tree(dir);
}

Test(checkpoint, round_trip_f32)
{
    round_trip(SB_DTYPE_F32, true);
}

Test(checkpoint, round_trip_bf16_untied)
{
    round_trip(SB_DTYPE_BF16, false);
}

Test(checkpoint, save_where_a_file_blocks_the_folder_fails_cleanly)
{
    sb_config cfg;
    load_config(fixtures[0], &cfg);
    sb_weights w;
    sb_error err;
    cr_assert_eq(sb_weights_alloc(&w, &cfg, SB_DTYPE_F32, &err), 0, "%s", err.msg);
    char dir[64];
    test_make_temp_dir(dir, sizeof dir, "ckpt");
    char path[256];
    snprintf(path, sizeof path, "%s/file", dir);
    test_write_file(path, "x", 1);
    cr_assert_eq(sb_checkpoint_save(&w, path, &err), -1);
    cr_assert(strstr(err.msg, "is not a folder") != NULL, "%s", err.msg);
    snprintf(path, sizeof path, "%s/file/sub", dir);
    cr_assert_eq(sb_checkpoint_save(&w, path, &err), -1);
    cr_assert(strstr(err.msg, "cannot create folder") != NULL, "%s", err.msg);
    sb_weights_free(&w);
    test_remove_tree(dir);
}

/* ---- damaged checkpoints ---------------------------------------------------------------------------------- */

/* Loads dir (fixture config + the given safetensors) and expects a failure whose message contains `want`. */
static void expect_failure(const char *dir, const char *want)
{
    sb_weights w;
    sb_error err = {{0}};
    cr_assert_eq(sb_checkpoint_load(dir, SB_DTYPE_F32, &w, NULL, NULL, &err), -1, "loaded, expected: %s", want);
    cr_assert_null(w.arena);
    cr_assert(strstr(err.msg, want) != NULL, "message '%s' lacks '%s'", err.msg, want);
    cr_assert(strchr(err.msg, '\n') == NULL);
}

static void write_raw(const char *dir, const void *bytes, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    test_write_file(path, bytes, len);
}

Test(checkpoint, rejects_damaged_files)
{
    char dir[64];
    test_make_temp_dir(dir, sizeof dir, "ckpt");
    copy_config(fixtures[0], dir);

    write_raw(dir, "\x05\0\0", 3);
    expect_failure(dir, "too short");
    write_raw(dir, "", 0);
    expect_failure(dir, "too short");
    write_raw(dir, "\0\0\0\0\0\x01\0\0{}", 10);
    expect_failure(dir, "absurd");
    write_raw(dir, "\xe8\x03\0\0\0\0\0\0{\"a\":1}", 15);
    expect_failure(dir, "runs past the end");
    st_write(dir, "{\"\xff\xfe\":1}", NULL, 0);
    expect_failure(dir, "UTF-8");
    st_write(dir, "{\"\xc0\xaf\":1}", NULL, 0); /* overlong '/' */
    expect_failure(dir, "UTF-8");
    write_raw(dir, "\x03\0\0\0\0\0\0\0{\0}", 11);
    expect_failure(dir, "UTF-8");
    st_write(dir, "{not json", NULL, 0);
    expect_failure(dir, "not a JSON object");
    st_write(dir, "[1, 2]", NULL, 0);
    expect_failure(dir, "not a JSON object");
    st_write(dir, "{} trailing", NULL, 0);
    expect_failure(dir, "not a JSON object");
    st_write(dir, "", NULL, 0);
    expect_failure(dir, "not a JSON object");
    st_write(dir, "{}", NULL, 0);
    expect_failure(dir, "lacks tensor 'shared.weight' (and others)");
    test_remove_tree(dir);
}

/* Each case edits the fixture's real header, so the only defect is the one under test. */
typedef void (*header_edit)(cJSON *header);

static cJSON *entry_of(cJSON *header, const char *name)
{
    cJSON *e = cJSON_GetObjectItem(header, name);
    cr_assert_not_null(e, "%s", name);
    return e;
}

static void set_offsets(cJSON *e, double begin, double end)
{
    cJSON_ReplaceItemInObject(e, "data_offsets", cJSON_CreateIntArray((const int[]){(int)begin, (int)end}, 2));
}

#define Q "decoder.block.0.layer.0.SelfAttention.q.weight" /* (128, 64) F32 */
#define NORM "encoder.final_layer_norm.weight"          /* (64) F32 */

static void entry_not_object(cJSON *h) { cJSON_ReplaceItemInObject(h, Q, cJSON_CreateNumber(3)); }
static void lacks_dtype(cJSON *h) { cJSON_DeleteItemFromObject(entry_of(h, Q), "dtype"); }
static void lacks_offsets(cJSON *h) { cJSON_DeleteItemFromObject(entry_of(h, Q), "data_offsets"); }
static void dtype_not_string(cJSON *h) { cJSON_ReplaceItemInObject(entry_of(h, Q), "dtype", cJSON_CreateNumber(1)); }
static void unknown_dtype(cJSON *h) { cJSON_ReplaceItemInObject(entry_of(h, Q), "dtype", cJSON_CreateString("Q7")); }
static void int_dtype(cJSON *h) { cJSON_ReplaceItemInObject(entry_of(h, Q), "dtype", cJSON_CreateString("I64")); }
static void shape_not_array(cJSON *h) { cJSON_ReplaceItemInObject(entry_of(h, Q), "shape", cJSON_CreateString("x")); }
static void shape_negative(cJSON *h)
{
    cJSON_ReplaceItemInObject(entry_of(h, Q), "shape", cJSON_CreateIntArray((const int[]){-128, -64}, 2));
}
static void shape_fraction(cJSON *h)
{
    cJSON_ReplaceItemInObject(entry_of(h, Q), "shape", cJSON_CreateDoubleArray((const double[]){127.5, 64}, 2));
}
static void shape_rank3(cJSON *h)
{
    cJSON_ReplaceItemInObject(entry_of(h, Q), "shape", cJSON_CreateIntArray((const int[]){2, 64, 64}, 3));
}
static void shape_overflow(cJSON *h)
{
    cJSON_ReplaceItemInObject(entry_of(h, Q), "shape",
                              cJSON_CreateDoubleArray((const double[]){4503599627370496.0, 4503599627370496.0}, 2));
}
/* 2^31 x 2^31 elements: a valid element count whose F32 bytes (2^64) wrap to 0. */
static void shape_bytes_overflow(cJSON *h)
{
    cJSON_ReplaceItemInObject(entry_of(h, Q), "shape",
                              cJSON_CreateDoubleArray((const double[]){2147483648.0, 2147483648.0}, 2));
}
static void offsets_short(cJSON *h)
{
    cJSON_ReplaceItemInObject(entry_of(h, Q), "data_offsets", cJSON_CreateIntArray((const int[]){0}, 1));
}
static void offsets_reversed(cJSON *h) { set_offsets(entry_of(h, Q), 32768, 0); }
static void span_mismatch(cJSON *h) { set_offsets(entry_of(h, Q), 65536, 65536 + 100); }
static void past_data(cJSON *h) { set_offsets(entry_of(h, NORM), 1708544 - 128, 1708544 + 128); }
static void overlap(cJSON *h) { set_offsets(entry_of(h, NORM), 65536 + 1000, 65536 + 1256); }
static void shape_transposed(cJSON *h)
{
    cJSON_ReplaceItemInObject(entry_of(h, Q), "shape", cJSON_CreateIntArray((const int[]){64, 128}, 2));
}
static void missing_tensor(cJSON *h) { cJSON_DeleteItemFromObject(h, Q); }
static void extra_tensor(cJSON *h)
{
    cJSON_AddItemToObject(h, "encoder.block.3.layer.0.layer_norm.weight", cJSON_Duplicate(entry_of(h, NORM), true));
}
static void duplicate_tensor(cJSON *h) { cJSON_AddItemToObject(h, NORM, cJSON_Duplicate(entry_of(h, NORM), true)); }
static void metadata_not_string(cJSON *h)
{
    cJSON_ReplaceItemInObject(entry_of(h, "__metadata__"), "format", cJSON_CreateNumber(1));
}
static void metadata_not_object(cJSON *h) { cJSON_ReplaceItemInObject(h, "__metadata__", cJSON_CreateTrue()); }

Test(checkpoint, rejects_bad_headers_naming_the_problem)
{
    const struct {
        header_edit edit;
        const char *want;
    } cases[] = {
        {entry_not_object, "'" Q "' is not an object"},
        {lacks_dtype, "'" Q "' lacks \"dtype\""},
        {lacks_offsets, "lacks \"data_offsets\""},
        {dtype_not_string, "dtype that is not a string"},
        {unknown_dtype, "dtype 'Q7'"},
        {int_dtype, "dtype 'I64'; shapebench reads F32, BF16 and F16 only"},
        {shape_not_array, "shape that is not an array"},
        {shape_negative, "shape entry"},
        {shape_fraction, "shape entry"},
        {shape_rank3, "3 dimensions"},
        {shape_overflow, "shape entry"},
        {shape_bytes_overflow, "size in bytes overflows 64 bits"},
        {offsets_short, "data_offsets [begin, end]"},
        {offsets_reversed, "data_offsets [begin, end]"},
        {span_mismatch, "spans 100 bytes but its shape and dtype need 32768"},
        {past_data, "past the 1708544-byte data region"},
        {overlap, "overlap"},
        {shape_transposed, "'" Q "' has shape [64, 128] but the config needs [128, 64]"},
        {missing_tensor, "lacks tensor '" Q "'"},
        {extra_tensor, "holds tensor 'encoder.block.3.layer.0.layer_norm.weight'"},
        {duplicate_tensor, "'" NORM "' appears twice"},
        {metadata_not_string, "__metadata__ value 'format' is not a string"},
        {metadata_not_object, "__metadata__ is not an object"},
    };
    st_file st;
    st_open(fixtures[0], &st);
    char dir[64];
    test_make_temp_dir(dir, sizeof dir, "ckpt");
    copy_config(fixtures[0], dir);

    /* The unedited header, rewritten by cJSON, loads: the edits alone cause the failures. */
    char *text = cJSON_PrintUnformatted(st.header);
    st_write(dir, text, st.data, st.data_len);
    free(text);
    sb_weights w;
    sb_error err;
    cr_assert_eq(sb_checkpoint_load(dir, SB_DTYPE_F32, &w, NULL, NULL, &err), 0, "%s", err.msg);
    sb_weights_free(&w);

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *header = cJSON_Duplicate(st.header, true);
        cases[i].edit(header);
        text = cJSON_PrintUnformatted(header);
        st_write(dir, text, st.data, st.data_len);
        expect_failure(dir, cases[i].want);
        free(text);
        cJSON_Delete(header);
    }
    /* Truncated data: the last tensor runs past the end of the file. */
    text = cJSON_PrintUnformatted(st.header);
    st_write(dir, text, st.data, st.data_len - 1);
    expect_failure(dir, "truncated file?");
    free(text);
    st_close(&st);
    test_remove_tree(dir);
}

Test(checkpoint, missing_files_and_config_mismatch)
{
    char dir[64];
    test_make_temp_dir(dir, sizeof dir, "ckpt");
    expect_failure(dir, "config.json");
    copy_config(fixtures[0], dir);
    expect_failure(dir, "model.safetensors: cannot open");
    /* The switch model's weights under the dense model's config. */
    char from[512], to[512];
    size_t len;
    snprintf(from, sizeof from, "%s/model.safetensors", fixtures[1]);
    char *bytes = test_read_file(from, &len);
    snprintf(to, sizeof to, "%s/model.safetensors", dir);
    test_write_file(to, bytes, len);
    free(bytes);
    expect_failure(dir, "the config needs");
    test_remove_tree(dir);
}

/* ---- sb_model_open and the CLI ------------------------------------------------------------------------------ */

Test(checkpoint, model_open_takes_a_folder_or_a_name)
{
    sb_weights a, b;
    sb_error err;
    cr_assert_eq(sb_model_open(fixtures[0], SB_DTYPE_F32, 0, &a, NULL, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(sb_checkpoint_load(fixtures[0], SB_DTYPE_F32, &b, NULL, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(memcmp(a.arena, b.arena, a.arena_bytes), 0);
    sb_weights_free(&a);
    sb_weights_free(&b);
    cr_assert_eq(sb_model_open("t5-efficient-tiny", SB_DTYPE_BF16, 9, &a, NULL, NULL, &err), 0, "%s", err.msg);
    int64_t params = 0;
    for (size_t i = 0; i < a.num_tensors; i++)
        params += a.tensors[i].numel;
    cr_assert_eq(params, 15570688);
    sb_weights_free(&a);
    cr_assert_eq(sb_model_open("no-such-model-xyz", SB_DTYPE_F32, 0, &a, NULL, NULL, &err), -1);
}

Test(checkpoint, cli_init_writes_the_in_process_weights)
{
    char dir[64];
    test_make_temp_dir(dir, sizeof dir, "ckpt");
    char args[512];
    snprintf(args, sizeof args, "init t5-efficient-tiny:num_layers=2 --out %s/tiny --dtype bf16 --seed 11", dir);
    cr_assert_eq(test_run_cli(args, NULL), 0);
    snprintf(args, sizeof args, "%s/tiny", dir);
    sb_weights file, mem;
    sb_error err;
    cr_assert_eq(sb_checkpoint_load(args, SB_DTYPE_BF16, &file, NULL, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(sb_model_open("t5-efficient-tiny:num_layers=2", SB_DTYPE_BF16, 11, &mem, NULL, NULL, &err), 0,
                 "%s", err.msg);
    cr_assert_eq(file.arena_bytes, mem.arena_bytes);
    cr_assert_eq(memcmp(file.arena, mem.arena, mem.arena_bytes), 0);
    cr_assert_eq(file.cfg.num_layers, 2);
    sb_weights_free(&file);
    sb_weights_free(&mem);

    cr_assert_eq(test_run_cli("init --help", NULL), 0);
    cr_assert_eq(test_run_cli("init t5-efficient-tiny", NULL), 2); /* no --out */
    cr_assert_eq(test_run_cli("init t5-efficient-tiny --out x --seed -1", NULL), 2);
    cr_assert_eq(test_run_cli("init t5-efficient-tiny --out x --dtype f64", NULL), 2);
    cr_assert_eq(test_run_cli("init t5-efficient-tiny --out x --bogus", NULL), 2);
    snprintf(args, sizeof args, "init no-such-model-xyz --out %s/x", dir);
    cr_assert_eq(test_run_cli(args, NULL), 2); /* a name the tool does not know: bad usage */
    snprintf(args, sizeof args, "init t5-efficient-tiny --out %s/tiny/config.json", dir);
    cr_assert_eq(test_run_cli(args, NULL), 1);
    test_remove_tree(dir);
}

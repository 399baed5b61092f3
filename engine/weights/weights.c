/* weights.c — the parameter arena: the table of HF-named tensors a config implies, one allocation for all
 * of them, lookup by name, T5's random init, and the free-memory check that refuses oversized arenas. */
#include "engine/weights/weights.h"

#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Tensor starts are rounded up to this many elements: 64-byte aligned in bf16, 128 in fp32. */
#define SB_TENSOR_ALIGN 32

/* ---- the tensor table -------------------------------------------------------------------------------- */

/* Appends tensors in HF order. The first pass (tensors == NULL) only counts, so the table is allocated
 * once at its exact size. */
typedef struct {
    sb_tensor *tensors;
    size_t count;
    double factor; /* initializer_factor */
} table_builder;

static void add(table_builder *b, int64_t rows, int64_t cols, double std, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void add(table_builder *b, int64_t rows, int64_t cols, double std, const char *fmt, ...)
{
    if (b->tensors != NULL) {
        sb_tensor *t = &b->tensors[b->count];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(t->name, sizeof t->name, fmt, ap); /* longest possible name is ~70 characters */
        va_end(ap);
        t->ndim = cols > 0 ? 2 : 1;
        t->shape[0] = rows;
        t->shape[1] = cols > 0 ? cols : 0;
        t->numel = cols > 0 ? rows * cols : rows; /* fits: sb_config_validate bounds every dimension */
        t->init_std = std * b->factor;
    }
    b->count++;
}

static void add_attention(table_builder *b, const sb_config *cfg, const char *prefix, bool position_bias)
{
    const int64_t d = cfg->d_model, inner = sb_inner_dim(cfg);
    add(b, inner, d, 1 / sqrt((double)(d * cfg->d_kv)), "%s.q.weight", prefix);
    if (cfg->shared_kv) {
        add(b, inner, d, 1 / sqrt((double)d), "%s.kv.weight", prefix);
    } else {
        add(b, inner, d, 1 / sqrt((double)d), "%s.k.weight", prefix);
        add(b, inner, d, 1 / sqrt((double)d), "%s.v.weight", prefix);
    }
    add(b, d, inner, 1 / sqrt((double)inner), "%s.o.weight", prefix);
    if (position_bias)
        add(b, cfg->relative_attention_num_buckets, cfg->num_heads, 1 / sqrt((double)d),
            "%s.relative_attention_bias.weight", prefix);
}

/* wo_std differs: T5's dense FFN uses d_ff^-1/2, HF's Switch experts d_model^-1/2. */
static void add_ffn(table_builder *b, const sb_config *cfg, sb_ffn_kind kind, double wo_std, const char *prefix)
{
    const int64_t d = cfg->d_model, f = cfg->d_ff;
    if (kind == SB_FFN_GATED_GELU) {
        add(b, f, d, 1 / sqrt((double)d), "%s.wi_0.weight", prefix);
        add(b, f, d, 1 / sqrt((double)d), "%s.wi_1.weight", prefix);
    } else {
        add(b, f, d, 1 / sqrt((double)d), "%s.wi.weight", prefix);
    }
    add(b, d, f, wo_std, "%s.wo.weight", prefix);
}

static void add_stack(table_builder *b, const sb_config *cfg, sb_stack stack)
{
    const char *name = stack == SB_STACK_ENCODER ? "encoder" : "decoder";
    const int64_t blocks = stack == SB_STACK_ENCODER ? cfg->num_layers : cfg->num_decoder_layers;
    const int ffn_layer = stack == SB_STACK_ENCODER ? 1 : 2;
    const double d_rsqrt = 1 / sqrt((double)cfg->d_model);
    char prefix[96];
    for (int64_t i = 0; i < blocks; i++) {
        long long blk = (long long)i;
        snprintf(prefix, sizeof prefix, "%s.block.%lld.layer.0.SelfAttention", name, blk);
        add_attention(b, cfg, prefix, i == 0);
        add(b, cfg->d_model, 0, 0, "%s.block.%lld.layer.0.layer_norm.weight", name, blk);
        if (stack == SB_STACK_DECODER) {
            snprintf(prefix, sizeof prefix, "%s.block.%lld.layer.1.EncDecAttention", name, blk);
            add_attention(b, cfg, prefix, false);
            add(b, cfg->d_model, 0, 0, "%s.block.%lld.layer.1.layer_norm.weight", name, blk);
        }
        /* HF registers a Switch FF layer's mlp before its layer_norm, and a sparse mlp's router before
         * its experts. */
        if (cfg->num_experts == 0) {
            snprintf(prefix, sizeof prefix, "%s.block.%lld.layer.%d.DenseReluDense", name, blk, ffn_layer);
            add_ffn(b, cfg, cfg->ffn, 1 / sqrt((double)cfg->d_ff), prefix);
        } else if (!sb_block_is_sparse(cfg, stack, i)) {
            snprintf(prefix, sizeof prefix, "%s.block.%lld.layer.%d.mlp", name, blk, ffn_layer);
            add_ffn(b, cfg, cfg->ffn, 1 / sqrt((double)cfg->d_ff), prefix);
        } else {
            add(b, cfg->num_experts, cfg->d_model, 1, "%s.block.%lld.layer.%d.mlp.router.classifier.weight", name,
                blk, ffn_layer);
            for (int64_t e = 0; e < cfg->num_experts; e++) {
                snprintf(prefix, sizeof prefix, "%s.block.%lld.layer.%d.mlp.experts.expert_%lld", name, blk,
                         ffn_layer, (long long)e);
                add_ffn(b, cfg, cfg->expert_ffn, d_rsqrt, prefix);
            }
        }
        add(b, cfg->d_model, 0, 0, "%s.block.%lld.layer.%d.layer_norm.weight", name, blk, ffn_layer);
    }
    add(b, cfg->d_model, 0, 0, "%s.final_layer_norm.weight", name);
}

static void build_table(table_builder *b, const sb_config *cfg)
{
    add(b, cfg->vocab_size, cfg->d_model, 1, "shared.weight");
    add_stack(b, cfg, SB_STACK_ENCODER);
    add_stack(b, cfg, SB_STACK_DECODER);
    if (!cfg->tie_word_embeddings)
        add(b, cfg->vocab_size, cfg->d_model, 1, "lm_head.weight");
}

static int compare_names(const void *a, const void *b)
{
    return strcmp((*(const sb_tensor *const *)a)->name, (*(const sb_tensor *const *)b)->name);
}

/* ---- allocation and lookup ---------------------------------------------------------------------------- */

static int check_fits(const sb_config *cfg, int64_t bytes, sb_dtype dtype, sb_error *err)
{
    int64_t available = sb_memory_available_bytes();
    if (bytes > available)
        return sb_fail(err, "%s needs %.1f GiB of %s weights, %.1f GiB available", cfg->name,
                       (double)bytes / (1 << 30), sb_dtype_name(dtype), (double)available / (1 << 30));
    return 0;
}

int sb_weights_alloc(sb_weights *w, const sb_config *cfg, sb_dtype dtype, sb_error *err)
{
    memset(w, 0, sizeof *w);
    if (sb_config_validate(cfg, err) != 0)
        return -1;
    if (dtype != SB_DTYPE_F32 && dtype != SB_DTYPE_BF16)
        return sb_fail(err, "unknown weight dtype %d", (int)dtype);
    /* The analytic count first: a shape with millions of experts would otherwise spend minutes building
     * a table for weights that cannot fit anyway. */
    sb_count_settings one_token = {.batch = 1, .src_len = 1, .tgt_len = 1, .dtype = dtype};
    sb_counts counts;
    if (sb_count(cfg, &one_token, &counts, err) != 0 || check_fits(cfg, counts.memory_bytes.weights, dtype, err) != 0)
        return -1;

    table_builder count = {NULL, 0, cfg->initializer_factor};
    build_table(&count, cfg);
    table_builder b = {calloc(count.count, sizeof(sb_tensor)), 0, cfg->initializer_factor};
    const sb_tensor **by_name = calloc(count.count, sizeof *by_name);
    if (b.tensors == NULL || by_name == NULL) {
        free(b.tensors);
        free(by_name);
        return sb_fail(err, "out of memory for a table of %zu tensors", count.count);
    }
    build_table(&b, cfg);

    int64_t elements = 0, bytes = 0;
    for (size_t i = 0; i < b.count; i++) {
        b.tensors[i].offset = (size_t)elements;
        int64_t padded = (b.tensors[i].numel + SB_TENSOR_ALIGN - 1) / SB_TENSOR_ALIGN * SB_TENSOR_ALIGN;
        if (sb_add_i64(elements, padded, &elements) != 0)
            goto too_big;
        by_name[i] = &b.tensors[i];
    }
    if (sb_mul_i64(elements, sb_dtype_bytes(dtype), &bytes) != 0 || (uint64_t)bytes > SIZE_MAX)
        goto too_big;
    if (check_fits(cfg, bytes, dtype, err) != 0)
        goto fail;
    void *arena = sb_pages_alloc((size_t)bytes);
    if (arena == NULL) {
        sb_fail(err, "cannot allocate %.1f GiB for the weights of %s", (double)bytes / (1 << 30), cfg->name);
        goto fail;
    }
    qsort(by_name, b.count, sizeof *by_name, compare_names);
    w->cfg = *cfg;
    w->dtype = dtype;
    w->arena = arena;
    w->arena_bytes = (size_t)bytes;
    w->tensors = b.tensors;
    w->num_tensors = b.count;
    w->by_name = by_name;
    return 0;

too_big:
    sb_fail(err, "the weights of %s overflow 64-bit sizes", cfg->name);
fail:
    free(b.tensors);
    free(by_name);
    return -1;
}

void sb_weights_free(sb_weights *w)
{
    if (w->arena != NULL)
        sb_pages_free(w->arena, w->arena_bytes);
    free(w->tensors);
    free(w->by_name);
    memset(w, 0, sizeof *w);
}

const sb_tensor *sb_weights_find(const sb_weights *w, const char *name)
{
    size_t lo = 0, hi = w->num_tensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(w->by_name[mid]->name, name);
        if (c == 0)
            return w->by_name[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

void *sb_tensor_data(const sb_weights *w, const sb_tensor *t)
{
    return (char *)w->arena + t->offset * (size_t)sb_dtype_bytes(w->dtype);
}

/* ---- random init ----------------------------------------------------------------------------------------- */

/* Each chunk of a tensor draws from its own generator seeded by (seed, tensor name, chunk index), so the
 * values depend on neither the thread count nor the order in which chunks are filled. */
#define SB_INIT_CHUNK (INT64_C(1) << 16)

static uint64_t fnv1a(const char *text)
{
    uint64_t h = 0xCBF29CE484222325ull;
    for (; *text; text++)
        h = (h ^ (unsigned char)*text) * 0x100000001B3ull;
    return h;
}

/* Uniform in (-1, 1) from the top 24 bits: exact in float. */
static float symmetric_uniform(sb_rng *r)
{
    return (float)((int64_t)(sb_rng_next(r) >> 40) - (1 << 23)) * 0x1.0p-23f;
}

/* Marsaglia's polar method: two independent N(0, 1) per accepted pair, no trigonometry. Float is ample
 * for values stored as fp32 or bf16, and about three times faster than double Box-Muller. */
static void normal_pair(sb_rng *r, float *a, float *b)
{
    float u, v, r2;
    do {
        u = symmetric_uniform(r);
        v = symmetric_uniform(r);
        r2 = u * u + v * v;
    } while (r2 >= 1 || r2 == 0);
    float scale = sqrtf(-2 * logf(r2) / r2);
    *a = u * scale;
    *b = v * scale;
}

static void fill_chunk(const sb_weights *w, const sb_tensor *t, int64_t chunk, uint64_t seed)
{
    int64_t begin = chunk * SB_INIT_CHUNK, end = begin + SB_INIT_CHUNK < t->numel ? begin + SB_INIT_CHUNK : t->numel;
    uint64_t key = seed;
    key = sb_splitmix64(&key) ^ fnv1a(t->name) ^ ((uint64_t)chunk * 0xD1B54A32D192ED03ull);
    sb_rng rng = sb_rng_seed(key);

    float block[256];
    for (int64_t at = begin; at < end; at += 256) {
        int n = end - at < 256 ? (int)(end - at) : 256;
        if (t->init_std == 0) {
            for (int i = 0; i < n; i++)
                block[i] = (float)w->cfg.initializer_factor;
        } else {
            const float std = (float)t->init_std;
            for (int i = 0; i < n; i += 2) {
                float a, b;
                normal_pair(&rng, &a, &b);
                block[i] = a * std;
                if (i + 1 < n)
                    block[i + 1] = b * std;
            }
        }
        sb_dtype_from_f32(w->dtype, block, (char *)sb_tensor_data(w, t) + at * sb_dtype_bytes(w->dtype), n);
    }
}

void sb_weights_init_random(sb_weights *w, uint64_t seed)
{
    sb_weights_mark_plain(w);
#pragma omp parallel
    {
        /* Round-robin over every (tensor, chunk) pair: balanced even when one tensor dominates. */
        int64_t threads = omp_get_num_threads(), me = omp_get_thread_num(), item = 0;
        for (size_t i = 0; i < w->num_tensors; i++) {
            const sb_tensor *t = &w->tensors[i];
            for (int64_t c = 0; c * SB_INIT_CHUNK < t->numel; c++, item++)
                if (item % threads == me)
                    fill_chunk(w, t, c, seed);
        }
    }
}

void sb_weights_mark_plain(sb_weights *w)
{
    w->version++;
    for (size_t i = 0; i < w->num_tensors; i++)
        w->tensors[i].packed = false;
    w->num_packed = 0;
}

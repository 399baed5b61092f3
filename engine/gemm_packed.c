/* gemm_packed.c — the GEMM wrapper's second path: products on weights pre-packed for oneDNN's matmul. The
 * layout is the one oneDNN's matmul primitive picks for its weights (queried, never assumed), the weights are
 * re-laid into it once with oneDNN's reorder, and each product shape gets one primitive, created on first
 * use and kept. dnnl_sgemm packs the weights again on every call; measured on a 2-core Zen 5 (2 threads,
 * weights cold), t5-efficient-base's products run at 366-396 GFLOP/s on packed weights against 287-390
 * through the split dnnl_sgemm, the 114-row decoder products gaining most (367-377 against 287-331). */
#include "engine/forward.h"

#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <string.h>

/* The row count the layout is queried with: oneDNN picks the same weights layout for 1, 114 and 512 rows,
 * and a primitive for any other row count is created with that layout given explicitly. */
#define LAYOUT_PROBE_ROWS 128
/* Primitives kept, in an open-addressing table: a dense forward uses about ten shapes, but Switch experts
 * add one per routed row count (each a 0.8 ms JIT, paid once: the harness repeats fixed inputs). When the
 * table is three quarters full it starts again empty. */
#define CACHED_PRIMITIVES 1024

static dnnl_engine_t cpu_engine;
static dnnl_stream_t cpu_stream;
static dnnl_status_t engine_status = dnnl_success;

typedef struct {
    int64_t m, n, k, lda, ldc;
    float alpha, beta;
    dnnl_primitive_t primitive;
    dnnl_memory_t src, weights, dst;
} cached_product;

static cached_product cache[CACHED_PRIMITIVES];
static int cache_used;

static const char *status_text(dnnl_status_t st)
{
    switch (st) {
    case dnnl_out_of_memory:
        return "out of memory";
    case dnnl_invalid_arguments:
        return "invalid arguments";
    case dnnl_unimplemented:
        return "no implementation for this layout on this CPU";
    default:
        return "oneDNN error";
    }
}

/* The CPU engine and stream, created once (callers hold the sb_gemm_packed critical section). */
static dnnl_status_t engine_ready(void)
{
    if (cpu_engine == NULL && engine_status == dnnl_success) {
        engine_status = dnnl_engine_create(&cpu_engine, dnnl_cpu, 0);
        if (engine_status == dnnl_success)
            engine_status = dnnl_stream_create(&cpu_stream, cpu_engine, dnnl_stream_default_flags);
    }
    return engine_status;
}

/* W (oc, c) row-major, as matmul's (c, oc) weights: oneDNN's `ba`. */
static void plain_layout(int64_t oc, int64_t c, dnnl_memory_desc_t *md)
{
    const dnnl_dims_t dims = {c, oc};
    dnnl_memory_desc_init_by_tag(md, 2, dims, dnnl_f32, dnnl_ba);
}

static dnnl_status_t matrix_desc(int64_t rows, int64_t cols, int64_t ld, dnnl_memory_desc_t *md)
{
    const dnnl_dims_t dims = {rows, cols}, strides = {ld, 1};
    return dnnl_memory_desc_init_by_strides(md, 2, dims, dnnl_f32, strides);
}

/* A matmul primitive descriptor for C (m,n) = alpha * A (m,k) · W + beta * C, W in `weights` layout
 * (dnnl_format_tag_any lets oneDNN choose). */
static dnnl_status_t matmul_desc(int64_t m, int64_t n, int64_t k, int64_t lda, int64_t ldc, float alpha, float beta,
                                 const dnnl_memory_desc_t *weights, dnnl_primitive_desc_t *pd)
{
    dnnl_memory_desc_t src, dst;
    dnnl_matmul_desc_t desc;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t post_ops = NULL;
    dnnl_status_t st = engine_ready();
    if (st == dnnl_success)
        st = matrix_desc(m, k, lda, &src);
    if (st == dnnl_success)
        st = matrix_desc(m, n, ldc, &dst);
    if (st == dnnl_success)
        st = dnnl_matmul_desc_init(&desc, &src, weights, NULL, &dst);
    if (st == dnnl_success)
        st = dnnl_primitive_attr_create(&attr);
    if (st == dnnl_success && alpha != 1.0f)
        st = dnnl_primitive_attr_set_output_scales(attr, 1, 0, &alpha);
    /* beta: the sum post-op adds beta times C's old value to the scaled product */
    if (st == dnnl_success && beta != 0.0f && (st = dnnl_post_ops_create(&post_ops)) == dnnl_success &&
        (st = dnnl_post_ops_append_sum(post_ops, beta)) == dnnl_success)
        st = dnnl_primitive_attr_set_post_ops(attr, post_ops);
    if (st == dnnl_success)
        st = dnnl_primitive_desc_create(pd, &desc, attr, cpu_engine, NULL);
    dnnl_post_ops_destroy(post_ops);
    dnnl_primitive_attr_destroy(attr);
    return st;
}

/* The layout oneDNN's matmul wants for a (oc, c) weight. */
static dnnl_status_t packed_layout(int64_t oc, int64_t c, dnnl_memory_desc_t *md)
{
    dnnl_memory_desc_t any;
    const dnnl_dims_t dims = {c, oc};
    dnnl_status_t st = dnnl_memory_desc_init_by_tag(&any, 2, dims, dnnl_f32, dnnl_format_tag_any);
    dnnl_primitive_desc_t pd = NULL;
    if (st == dnnl_success)
        st = matmul_desc(LAYOUT_PROBE_ROWS, oc, c, c, oc, 1.0f, 0.0f, &any, &pd);
    if (st == dnnl_success)
        *md = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    dnnl_primitive_desc_destroy(pd);
    return st;
}

/* Blocked with every block of output features (dim 1) holding c x block floats back to back at block *
 * c * block: the bytes of those rows in the plain layout. */
static bool rows_stay_in_place(const dnnl_memory_desc_t *md, int64_t c)
{
    if (md->format_kind != dnnl_blocked)
        return false;
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    int64_t out_block = 1;
    for (int i = 0; i < b->inner_nblks; i++)
        if (b->inner_idxs[i] == 1)
            out_block *= b->inner_blks[i];
    return b->strides[1] == c * out_block && b->strides[0] < b->strides[1];
}

/* The plain and packed layouts of a (oc, c) weight; false when it is not packable (see sb_gemm_packable).
 * Callers hold the sb_gemm_packed critical section. */
static bool packable_layouts(int64_t oc, int64_t c, dnnl_memory_desc_t *plain, dnnl_memory_desc_t *packed)
{
    plain_layout(oc, c, plain);
    return packed_layout(oc, c, packed) == dnnl_success && !dnnl_memory_desc_equal(plain, packed) &&
           dnnl_memory_desc_get_size(packed) == dnnl_memory_desc_get_size(plain) && rows_stay_in_place(packed, c);
}

bool sb_gemm_packable(int64_t oc, int64_t c)
{
    dnnl_memory_desc_t plain, packed;
    bool ok = false;
#pragma omp critical(sb_gemm_packed)
    ok = packable_layouts(oc, c, &plain, &packed);
    return ok;
}

/* weight -> scratch, then oneDNN's reorder scratch (from layout) -> weight (to layout). */
static int relayout(int64_t oc, int64_t c, float *weight, float *scratch, bool to_packed, sb_error *err)
{
    dnnl_memory_desc_t plain, packed;
    bool packable = false;
    dnnl_status_t st = dnnl_success;
#pragma omp critical(sb_gemm_packed)
    if ((packable = packable_layouts(oc, c, &plain, &packed))) {
        dnnl_primitive_desc_t pd = NULL;
        dnnl_primitive_t reorder = NULL;
        dnnl_memory_t from = NULL, to = NULL;
        const dnnl_memory_desc_t *from_md = to_packed ? &plain : &packed, *to_md = to_packed ? &packed : &plain;
        memcpy(scratch, weight, (size_t)(oc * c) * sizeof *weight);
        st = dnnl_reorder_primitive_desc_create(&pd, from_md, cpu_engine, to_md, cpu_engine, NULL);
        if (st == dnnl_success)
            st = dnnl_primitive_create(&reorder, pd);
        if (st == dnnl_success)
            st = dnnl_memory_create(&from, from_md, cpu_engine, scratch);
        if (st == dnnl_success)
            st = dnnl_memory_create(&to, to_md, cpu_engine, weight);
        if (st == dnnl_success) {
            const dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
            st = dnnl_primitive_execute(reorder, cpu_stream, 2, args);
        }
        if (st == dnnl_success)
            st = dnnl_stream_wait(cpu_stream);
        dnnl_memory_destroy(from);
        dnnl_memory_destroy(to);
        dnnl_primitive_destroy(reorder);
        dnnl_primitive_desc_destroy(pd);
    }
    if (!packable)
        return sb_fail(err, "a (%lld, %lld) weight has no pre-packed layout in oneDNN's matmul here", (long long)oc,
                       (long long)c);
    if (st != dnnl_success)
        return sb_fail(err, "oneDNN reorder of a (%lld, %lld) weight %s its matmul layout: %s", (long long)oc,
                       (long long)c, to_packed ? "into" : "out of", status_text(st));
    return 0;
}

int sb_gemm_pack(int64_t oc, int64_t c, float *weight, float *scratch, sb_error *err)
{
    return relayout(oc, c, weight, scratch, true, err);
}

int sb_gemm_unpack(int64_t oc, int64_t c, float *weight, float *scratch, sb_error *err)
{
    return relayout(oc, c, weight, scratch, false, err);
}

static void release(cached_product *p)
{
    dnnl_memory_destroy(p->src);
    dnnl_memory_destroy(p->weights);
    dnnl_memory_destroy(p->dst);
    dnnl_primitive_destroy(p->primitive);
    *p = (cached_product){0};
}

static bool same_shape(const cached_product *p, int64_t m, int64_t n, int64_t k, int64_t lda, int64_t ldc,
                       float alpha, float beta)
{
    return p->m == m && p->n == n && p->k == k && p->lda == lda && p->ldc == ldc && p->alpha == alpha &&
           p->beta == beta;
}

static size_t slot_of(int64_t m, int64_t n, int64_t k, int64_t lda, int64_t ldc, float alpha, float beta)
{
    uint32_t a, b;
    memcpy(&a, &alpha, sizeof a);
    memcpy(&b, &beta, sizeof b);
    uint64_t h = sb_mix64((uint64_t)m);
    h = sb_mix64(h ^ (uint64_t)n) ^ sb_mix64((uint64_t)k << 1 ^ (uint64_t)lda << 32);
    h = sb_mix64(h ^ (uint64_t)ldc ^ ((uint64_t)a << 32 | b));
    return (size_t)(h % CACHED_PRIMITIVES);
}

/* The cached primitive of this shape, or a new one; NULL with *st set on failure. */
static cached_product *product_for(int64_t m, int64_t n, int64_t k, int64_t lda, int64_t ldc, float alpha, float beta,
                                   dnnl_status_t *st)
{
    size_t i = slot_of(m, n, k, lda, ldc, alpha, beta);
    for (; cache[i].primitive != NULL; i = (i + 1) % CACHED_PRIMITIVES)
        if (same_shape(&cache[i], m, n, k, lda, ldc, alpha, beta))
            return &cache[i];
    cached_product made = {m, n, k, lda, ldc, alpha, beta, NULL, NULL, NULL, NULL};
    dnnl_memory_desc_t packed;
    dnnl_primitive_desc_t pd = NULL;
    if ((*st = packed_layout(n, k, &packed)) == dnnl_success)
        *st = matmul_desc(m, n, k, lda, ldc, alpha, beta, &packed, &pd);
    if (*st == dnnl_success)
        *st = dnnl_primitive_create(&made.primitive, pd);
    /* memory objects without storage: each call sets its pointers */
    if (*st == dnnl_success)
        *st = dnnl_memory_create(&made.src, dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0), cpu_engine,
                                 DNNL_MEMORY_NONE);
    if (*st == dnnl_success)
        *st = dnnl_memory_create(&made.weights, &packed, cpu_engine, DNNL_MEMORY_NONE);
    if (*st == dnnl_success)
        *st = dnnl_memory_create(&made.dst, dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0), cpu_engine,
                                 DNNL_MEMORY_NONE);
    dnnl_primitive_desc_destroy(pd);
    if (*st != dnnl_success) {
        release(&made);
        return NULL;
    }
    if (cache_used >= CACHED_PRIMITIVES * 3 / 4) {
        for (size_t j = 0; j < CACHED_PRIMITIVES; j++)
            if (cache[j].primitive != NULL)
                release(&cache[j]);
        cache_used = 0;
        i = slot_of(m, n, k, lda, ldc, alpha, beta);
    }
    cache[i] = made;
    cache_used++;
    return &cache[i];
}

int sb_gemm_packed(int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda, const float *packed_w,
                   float beta, float *c, int64_t ldc, sb_error *err)
{
    sb_gemm_account(false, true, true, m, n, k);
    dnnl_status_t st = dnnl_success;
    /* One caller at a time: the cached memory objects carry this call's pointers. */
#pragma omp critical(sb_gemm_packed)
    {
        cached_product *p = product_for(m, n, k, lda, ldc, alpha, beta, &st);
        if (p != NULL && (st = dnnl_memory_set_data_handle(p->src, (void *)a)) == dnnl_success &&
            (st = dnnl_memory_set_data_handle(p->weights, (void *)packed_w)) == dnnl_success &&
            (st = dnnl_memory_set_data_handle(p->dst, c)) == dnnl_success) {
            const dnnl_exec_arg_t args[] = {
                {DNNL_ARG_SRC, p->src}, {DNNL_ARG_WEIGHTS, p->weights}, {DNNL_ARG_DST, p->dst}};
            if ((st = dnnl_primitive_execute(p->primitive, cpu_stream, 3, args)) == dnnl_success)
                st = dnnl_stream_wait(cpu_stream);
        }
    }
    if (st != dnnl_success)
        return sb_fail(err, "oneDNN matmul of %lld x %lld x %lld on pre-packed weights: %s", (long long)m, (long long)n,
                       (long long)k, status_text(st));
    return 0;
}

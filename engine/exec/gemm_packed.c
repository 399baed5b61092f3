/* gemm_packed.c — the GEMM wrapper's second path: products on weights pre-packed for oneDNN's matmul. The
 * layout is the one oneDNN's matmul primitive picks for its weights (queried, never assumed), the weights are
 * re-laid into it once with oneDNN's reorder, and each product shape gets one primitive, created on first
 * use and kept. dnnl_sgemm packs the weights again on every call; measured on a 2-core Zen 5 (2 threads,
 * weights cold), t5-efficient-base's products run at 366-396 GFLOP/s on packed weights against 287-390
 * through the split dnnl_sgemm, the 114-row decoder products gaining most (367-377 against 287-331). */
#include "engine/exec/exec.h"

#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The row count the layout is queried with: oneDNN picks the same weights layout for 1, 114 and 512 rows,
 * and a primitive for any other row count is created with that layout given explicitly. */
#define LAYOUT_PROBE_ROWS 128
/* Primitives kept, in an open-addressing table: a dense forward uses about ten shapes, but Switch experts
 * add one per routed row count (each a 0.8 ms JIT, paid once: the harness repeats fixed inputs). When the
 * table is three quarters full it starts again empty. */
#define CACHED_PRIMITIVES 1024

typedef struct {
    int64_t m, n, k, lda, ldc;
    float alpha, beta;
    dnnl_primitive_t primitive;
    dnnl_memory_t src, weights, dst;
} cached_product;

/* An execution context's oneDNN state; its users hold the context's onednn_lock. */
struct sb_onednn {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dnnl_status_t status; /* of creating the engine and stream */
    int cache_used;
    cached_product cache[CACHED_PRIMITIVES];
};

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

/* x's oneDNN engine and stream, created on first use; NULL with *st set when that failed. Callers hold
 * x->onednn_lock. */
static struct sb_onednn *onednn_of(sb_exec *x, dnnl_status_t *st)
{
    if (x->onednn == NULL) {
        struct sb_onednn *d = calloc(1, sizeof *d);
        if (d == NULL) {
            *st = dnnl_out_of_memory;
            return NULL;
        }
        d->status = dnnl_engine_create(&d->engine, dnnl_cpu, 0);
        if (d->status == dnnl_success)
            d->status = dnnl_stream_create(&d->stream, d->engine, dnnl_stream_default_flags);
        x->onednn = d;
    }
    *st = x->onednn->status;
    return *st == dnnl_success ? x->onednn : NULL;
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
static dnnl_status_t matmul_desc(const struct sb_onednn *d, int64_t m, int64_t n, int64_t k, int64_t lda, int64_t ldc,
                                 float alpha, float beta, const dnnl_memory_desc_t *weights, dnnl_primitive_desc_t *pd)
{
    dnnl_memory_desc_t src, dst;
    dnnl_matmul_desc_t desc;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t post_ops = NULL;
    dnnl_status_t st = matrix_desc(m, k, lda, &src);
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
        st = dnnl_primitive_desc_create(pd, &desc, attr, d->engine, NULL);
    dnnl_post_ops_destroy(post_ops);
    dnnl_primitive_attr_destroy(attr);
    return st;
}

/* The layout oneDNN's matmul wants for a (oc, c) weight. */
static dnnl_status_t packed_layout(const struct sb_onednn *d, int64_t oc, int64_t c, dnnl_memory_desc_t *md)
{
    dnnl_memory_desc_t any;
    const dnnl_dims_t dims = {c, oc};
    dnnl_status_t st = dnnl_memory_desc_init_by_tag(&any, 2, dims, dnnl_f32, dnnl_format_tag_any);
    dnnl_primitive_desc_t pd = NULL;
    if (st == dnnl_success)
        st = matmul_desc(d, LAYOUT_PROBE_ROWS, oc, c, c, oc, 1.0f, 0.0f, &any, &pd);
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

/* The plain and packed layouts of a (oc, c) weight; false when it is not packable (see sb_gemm_packable). */
static bool packable_layouts(const struct sb_onednn *d, int64_t oc, int64_t c, dnnl_memory_desc_t *plain,
                             dnnl_memory_desc_t *packed)
{
    plain_layout(oc, c, plain);
    return packed_layout(d, oc, c, packed) == dnnl_success && !dnnl_memory_desc_equal(plain, packed) &&
           dnnl_memory_desc_get_size(packed) == dnnl_memory_desc_get_size(plain) && rows_stay_in_place(packed, c);
}

bool sb_gemm_packable(sb_exec *x, int64_t oc, int64_t c)
{
    dnnl_memory_desc_t plain, packed;
    dnnl_status_t st;
    omp_set_lock(&x->onednn_lock);
    const struct sb_onednn *d = onednn_of(x, &st);
    const bool ok = d != NULL && packable_layouts(d, oc, c, &plain, &packed);
    omp_unset_lock(&x->onednn_lock);
    return ok;
}

/* weight -> scratch, then oneDNN's reorder scratch (from layout) -> weight (to layout). */
static int relayout(sb_exec *x, int64_t oc, int64_t c, float *weight, float *scratch, bool to_packed, sb_error *err)
{
    dnnl_memory_desc_t plain, packed;
    bool packable = false;
    dnnl_status_t st = dnnl_success;
    omp_set_lock(&x->onednn_lock);
    const struct sb_onednn *d = onednn_of(x, &st);
    if (d != NULL && (packable = packable_layouts(d, oc, c, &plain, &packed))) {
        dnnl_primitive_desc_t pd = NULL;
        dnnl_primitive_t reorder = NULL;
        dnnl_memory_t from = NULL, to = NULL;
        const dnnl_memory_desc_t *from_md = to_packed ? &plain : &packed, *to_md = to_packed ? &packed : &plain;
        memcpy(scratch, weight, (size_t)(oc * c) * sizeof *weight);
        st = dnnl_reorder_primitive_desc_create(&pd, from_md, d->engine, to_md, d->engine, NULL);
        if (st == dnnl_success)
            st = dnnl_primitive_create(&reorder, pd);
        if (st == dnnl_success)
            st = dnnl_memory_create(&from, from_md, d->engine, scratch);
        if (st == dnnl_success)
            st = dnnl_memory_create(&to, to_md, d->engine, weight);
        if (st == dnnl_success) {
            const dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
            st = dnnl_primitive_execute(reorder, d->stream, 2, args);
        }
        if (st == dnnl_success)
            st = dnnl_stream_wait(d->stream);
        dnnl_memory_destroy(from);
        dnnl_memory_destroy(to);
        dnnl_primitive_destroy(reorder);
        dnnl_primitive_desc_destroy(pd);
    }
    omp_unset_lock(&x->onednn_lock);
    if (st == dnnl_success && !packable)
        return sb_fail(err, "a (%lld, %lld) weight has no pre-packed layout in oneDNN's matmul here", (long long)oc,
                       (long long)c);
    if (st != dnnl_success)
        return sb_fail(err, "oneDNN reorder of a (%lld, %lld) weight %s its matmul layout: %s", (long long)oc,
                       (long long)c, to_packed ? "into" : "out of", status_text(st));
    return 0;
}

int sb_gemm_pack(sb_exec *x, int64_t oc, int64_t c, float *weight, float *scratch, sb_error *err)
{
    return relayout(x, oc, c, weight, scratch, true, err);
}

int sb_gemm_unpack(sb_exec *x, int64_t oc, int64_t c, float *weight, float *scratch, sb_error *err)
{
    return relayout(x, oc, c, weight, scratch, false, err);
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
static cached_product *product_for(struct sb_onednn *d, int64_t m, int64_t n, int64_t k, int64_t lda, int64_t ldc,
                                   float alpha, float beta, dnnl_status_t *st)
{
    size_t i = slot_of(m, n, k, lda, ldc, alpha, beta);
    for (; d->cache[i].primitive != NULL; i = (i + 1) % CACHED_PRIMITIVES)
        if (same_shape(&d->cache[i], m, n, k, lda, ldc, alpha, beta))
            return &d->cache[i];
    cached_product made = {m, n, k, lda, ldc, alpha, beta, NULL, NULL, NULL, NULL};
    dnnl_memory_desc_t packed;
    dnnl_primitive_desc_t pd = NULL;
    if ((*st = packed_layout(d, n, k, &packed)) == dnnl_success)
        *st = matmul_desc(d, m, n, k, lda, ldc, alpha, beta, &packed, &pd);
    if (*st == dnnl_success)
        *st = dnnl_primitive_create(&made.primitive, pd);
    /* memory objects without storage: each call sets its pointers */
    if (*st == dnnl_success)
        *st = dnnl_memory_create(&made.src, dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0), d->engine,
                                 DNNL_MEMORY_NONE);
    if (*st == dnnl_success)
        *st = dnnl_memory_create(&made.weights, &packed, d->engine, DNNL_MEMORY_NONE);
    if (*st == dnnl_success)
        *st = dnnl_memory_create(&made.dst, dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0), d->engine,
                                 DNNL_MEMORY_NONE);
    dnnl_primitive_desc_destroy(pd);
    if (*st != dnnl_success) {
        release(&made);
        return NULL;
    }
    if (d->cache_used >= CACHED_PRIMITIVES * 3 / 4) {
        for (size_t j = 0; j < CACHED_PRIMITIVES; j++)
            if (d->cache[j].primitive != NULL)
                release(&d->cache[j]);
        d->cache_used = 0;
        i = slot_of(m, n, k, lda, ldc, alpha, beta);
    }
    d->cache[i] = made;
    d->cache_used++;
    return &d->cache[i];
}

int sb_gemm_packed(sb_exec *x, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                   const float *packed_w, float beta, float *c, int64_t ldc, sb_error *err)
{
    sb_gemm_account(x, false, true, true, m, n, k);
    dnnl_status_t st = dnnl_success;
    /* One caller at a time: the cached memory objects carry this call's pointers. */
    omp_set_lock(&x->onednn_lock);
    struct sb_onednn *d = onednn_of(x, &st);
    cached_product *p = d != NULL ? product_for(d, m, n, k, lda, ldc, alpha, beta, &st) : NULL;
    if (p != NULL && (st = dnnl_memory_set_data_handle(p->src, (void *)a)) == dnnl_success &&
        (st = dnnl_memory_set_data_handle(p->weights, (void *)packed_w)) == dnnl_success &&
        (st = dnnl_memory_set_data_handle(p->dst, c)) == dnnl_success) {
        const dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, p->src}, {DNNL_ARG_WEIGHTS, p->weights}, {DNNL_ARG_DST, p->dst}};
        if ((st = dnnl_primitive_execute(p->primitive, d->stream, 3, args)) == dnnl_success)
            st = dnnl_stream_wait(d->stream);
    }
    omp_unset_lock(&x->onednn_lock);
    if (st != dnnl_success)
        return sb_fail(err, "oneDNN matmul of %lld x %lld x %lld on pre-packed weights: %s", (long long)m, (long long)n,
                       (long long)k, status_text(st));
    return 0;
}

void sb_onednn_free(struct sb_onednn *d)
{
    if (d == NULL)
        return;
    for (size_t j = 0; j < CACHED_PRIMITIVES; j++)
        if (d->cache[j].primitive != NULL)
            release(&d->cache[j]);
    if (d->stream != NULL)
        dnnl_stream_destroy(d->stream);
    if (d->engine != NULL)
        dnnl_engine_destroy(d->engine);
    free(d);
}

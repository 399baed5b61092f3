/* onednn.c — products on oneDNN's matmul primitive: fp32 products on weights pre-packed into the layout its
 * matmul picks (queried, never assumed) and re-laid once with its reorder, and bf16 products (operands rounded
 * to bf16, fp32 accumulation) on bf16 weights — packed, plain, or any product's operands rounded on the fly.
 * Each product shape gets one primitive, created on first use and kept in the execution context. Also what
 * oneDNN runs on here: its effective instruction set, and whether bf16 products get bf16 instructions.
 *
 * dnnl_sgemm packs the weights again on every call; measured on a 2-core Zen 5 (2 threads, weights cold),
 * t5-efficient-base's products run at 366-396 GFLOP/s on packed weights against 287-390 through the split
 * dnnl_sgemm, the 114-row decoder products gaining most (367-377 against 287-331).
 *
 * Threads: a product may run inside the engine's parallel regions (attention per head), one per thread.
 * Every primitive uses a user-managed scratchpad, and each thread slot has its own stream, memory objects,
 * scratchpad and bf16 staging buffers, so concurrent executions share nothing but the primitive, which
 * oneDNN allows with user scratchpads. The cache itself changes under x->onednn_lock. */
#include "engine/exec/exec.h"

#include <assert.h>
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- what oneDNN runs on ------------------------------------------------------------------------------- */

const char *sb_onednn_isa_name(void)
{
    static const struct {
        dnnl_cpu_isa_t isa;
        const char *name;
    } isas[] = {{dnnl_cpu_isa_avx512_core_amx, "avx512_core_amx"}, {dnnl_cpu_isa_avx512_core_bf16, "avx512_core_bf16"},
                {dnnl_cpu_isa_avx512_core_vnni, "avx512_core_vnni"}, {dnnl_cpu_isa_avx512_core, "avx512_core"},
                {dnnl_cpu_isa_avx2_vnni, "avx2_vnni"},               {dnnl_cpu_isa_avx2, "avx2"},
                {dnnl_cpu_isa_avx, "avx"},                           {dnnl_cpu_isa_sse41, "sse41"}};
    const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++)
        if ((isa & isas[i].isa) == isas[i].isa)
            return isas[i].name;
    return "none";
}

int sb_bf16_available(sb_error *err)
{
    const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    if ((isa & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16)
        return 0;
    return sb_fail(err, "oneDNN has no bf16 instructions here (its effective ISA is %s; bf16 needs avx512_core_bf16 "
                        "or AMX, and ONEDNN_MAX_CPU_ISA may cap it): its bf16 products would run on reference "
                        "kernels, so bf16 compute is refused; use --dtype f32 or bf16-storage",
                   sb_onednn_isa_name());
}

int sb_exec_create(sb_exec **out, const sb_exec_settings *settings, sb_error *err)
{
    *out = NULL;
    if (settings->backend != SB_GEMM_OPENBLAS && settings->backend != SB_GEMM_ONEDNN)
        return sb_fail(err, "unknown GEMM backend %d", (int)settings->backend);
    if (settings->compute != SB_DTYPE_F32 && settings->compute != SB_DTYPE_BF16)
        return sb_fail(err, "unknown compute type %d", (int)settings->compute);
    if (settings->compute == SB_DTYPE_BF16 && settings->backend != SB_GEMM_ONEDNN)
        return sb_fail(err, "bf16 compute runs on oneDNN only (Debian 12's OpenBLAS has no bf16 GEMM, sbgemm): "
                            "use --gemm onednn");
    if (settings->compute == SB_DTYPE_BF16 && sb_bf16_available(err) != 0)
        return -1;
    sb_exec *x = calloc(1, sizeof *x);
    if (x == NULL)
        return sb_fail(err, "out of memory for an execution context");
    x->settings = *settings;
    /* 0 means every thread OpenMP would use: OMP_NUM_THREADS, else the cores. */
    if (x->settings.threads <= 0)
        x->settings.threads = omp_get_max_threads();
    sb_gemm_backend_version(x->settings.backend, x->settings.threads, x->backend_version,
                            sizeof x->backend_version);
    omp_init_lock(&x->record_lock);
    omp_init_lock(&x->onednn_lock);
    *out = x;
    return 0;
}

void sb_exec_free(sb_exec *x)
{
    if (x == NULL)
        return;
    sb_onednn_free(x->onednn);
    omp_destroy_lock(&x->record_lock);
    omp_destroy_lock(&x->onednn_lock);
    free(x);
}

sb_gemm_backend sb_exec_backend(const sb_exec *x)
{
    return x->settings.backend;
}

int sb_exec_threads(const sb_exec *x)
{
    return x->settings.threads;
}

bool sb_exec_partitioned(const sb_exec *x)
{
    return x->settings.partitioned;
}

void sb_exec_set_partitioned(sb_exec *x, bool partitioned)
{
    x->settings.partitioned = partitioned;
}

/* The row count a weights layout is queried with: oneDNN picks the same weights layout for 1, 114 and 512
 * rows, and a primitive for any other row count is created with that layout given explicitly. */
#define LAYOUT_PROBE_ROWS 128
/* Primitives kept, in an open-addressing table: a dense forward uses about ten shapes, but Switch experts
 * add one per routed row count (each a 0.8 ms JIT, paid once: the harness repeats fixed inputs). When the
 * table is three quarters full it starts again empty (never inside a parallel region, where other threads
 * may be running its primitives: a product that finds it full there runs on a primitive of its own). */
#define CACHED_PRIMITIVES 1024

/* How a product's second operand is stored. */
typedef enum {
    WEIGHTS_KN,     /* B (k, n) row-major, dense */
    WEIGHTS_NK,     /* W (n, k) row-major, dense: Bᵀ, as Hugging Face stores a linear weight */
    WEIGHTS_PACKED, /* W in the layout oneDNN's matmul picked for it (sb_gemm_pack) */
} weights_form;

/* What makes two products the same primitive. */
typedef struct {
    int64_t m, n, k;
    int64_t lda;       /* row stride of A as stored */
    bool a_trans;      /* A stored (k, m) row-major: the product reads its transpose */
    weights_form form;
    int64_t ldc;
    dnnl_data_type_t dt; /* of A and B (f32 or bf16); C is fp32 */
    float alpha, beta;
} matmul_key;

enum { MEM_SRC, MEM_WEIGHTS, MEM_DST, MEM_SCRATCHPAD, MEMS };

typedef struct {
    matmul_key key;
    dnnl_primitive_t primitive;
    size_t scratchpad_bytes;
    dnnl_memory_t *mem; /* MEMS per thread slot, without storage: each call sets its pointers */
} cached_product;

typedef struct {
    void *data;
    size_t bytes;
} buffer;

/* A thread slot's own buffers: A and B rounded to bf16, a dense C, the primitive's scratchpad. */
typedef struct {
    buffer a, b, c, scratchpad;
} thread_buffers;

/* An execution context's oneDNN state. */
struct sb_onednn {
    dnnl_engine_t engine;
    dnnl_status_t status; /* of creating the engine and streams */
    int slots;            /* thread slots: the context's threads */
    dnnl_stream_t *streams;
    thread_buffers *buffers;
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

static dnnl_data_type_t data_type(sb_dtype dtype)
{
    return dtype == SB_DTYPE_BF16 ? dnnl_bf16 : dnnl_f32;
}

static size_t element_bytes(dnnl_data_type_t dt)
{
    return dt == dnnl_bf16 ? 2 : 4;
}

/* x's oneDNN state, created on first use; NULL with *st set when that failed. Callers hold
 * x->onednn_lock. */
static struct sb_onednn *onednn_of(sb_exec *x, dnnl_status_t *st)
{
    if (x->onednn == NULL) {
        struct sb_onednn *d = calloc(1, sizeof *d);
        const int slots = x->settings.threads > 0 ? x->settings.threads : 1;
        if (d != NULL) {
            d->slots = slots;
            d->streams = calloc((size_t)slots, sizeof *d->streams);
            d->buffers = calloc((size_t)slots, sizeof *d->buffers);
        }
        if (d == NULL || d->streams == NULL || d->buffers == NULL) {
            sb_onednn_free(d);
            *st = dnnl_out_of_memory;
            return NULL;
        }
        d->status = dnnl_engine_create(&d->engine, dnnl_cpu, 0);
        for (int i = 0; i < slots && d->status == dnnl_success; i++)
            d->status = dnnl_stream_create(&d->streams[i], d->engine, dnnl_stream_default_flags);
        x->onednn = d;
    }
    *st = x->onednn->status;
    return *st == dnnl_success ? x->onednn : NULL;
}

/* The calling thread's slot: its number in the engine's parallel region, 0 outside one. */
static int slot_now(const struct sb_onednn *d)
{
    const int slot = omp_in_parallel() ? omp_get_thread_num() : 0;
    assert(slot < d->slots);
    return slot;
}

static void *grown(buffer *b, size_t bytes)
{
    if (bytes > b->bytes) {
        free(b->data);
        b->data = aligned_alloc(64, (bytes + 63) / 64 * 64);
        b->bytes = b->data != NULL ? bytes : 0;
    }
    return b->data;
}

/* ---- layouts --------------------------------------------------------------------------------------------- */

/* rows x cols, element (i, j) at i * row_stride + j * col_stride. */
static dnnl_status_t strided_desc(int64_t rows, int64_t cols, int64_t row_stride, int64_t col_stride,
                                  dnnl_data_type_t dt, dnnl_memory_desc_t *md)
{
    const dnnl_dims_t dims = {rows, cols}, strides = {row_stride, col_stride};
    return dnnl_memory_desc_init_by_strides(md, 2, dims, dt, strides);
}

/* W (oc, c) row-major, as matmul's (c, oc) weights: oneDNN's `ba`. */
static dnnl_status_t plain_weights(int64_t oc, int64_t c, dnnl_data_type_t dt, dnnl_memory_desc_t *md)
{
    return strided_desc(c, oc, 1, c, dt, md);
}

/* A matmul primitive descriptor for C (m,n) = alpha * op(A) · B + beta * C with B in `weights` layout
 * (dnnl_format_tag_any lets oneDNN choose), C fp32, the scratchpad the caller's. */
static dnnl_status_t matmul_desc(const struct sb_onednn *d, const matmul_key *key, const dnnl_memory_desc_t *weights,
                                 dnnl_primitive_desc_t *pd)
{
    dnnl_memory_desc_t src, dst;
    dnnl_matmul_desc_t desc;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t post_ops = NULL;
    dnnl_status_t st = key->a_trans ? strided_desc(key->m, key->k, 1, key->lda, key->dt, &src)
                                    : strided_desc(key->m, key->k, key->lda, 1, key->dt, &src);
    if (st == dnnl_success)
        st = strided_desc(key->m, key->n, key->ldc, 1, dnnl_f32, &dst);
    if (st == dnnl_success)
        st = dnnl_matmul_desc_init(&desc, &src, weights, NULL, &dst);
    if (st == dnnl_success)
        st = dnnl_primitive_attr_create(&attr);
    if (st == dnnl_success)
        st = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (st == dnnl_success && key->alpha != 1.0f)
        st = dnnl_primitive_attr_set_output_scales(attr, 1, 0, &key->alpha);
    /* beta: the sum post-op adds beta times C's old value to the scaled product */
    if (st == dnnl_success && key->beta != 0.0f && (st = dnnl_post_ops_create(&post_ops)) == dnnl_success &&
        (st = dnnl_post_ops_append_sum(post_ops, key->beta)) == dnnl_success)
        st = dnnl_primitive_attr_set_post_ops(attr, post_ops);
    if (st == dnnl_success)
        st = dnnl_primitive_desc_create(pd, &desc, attr, d->engine, NULL);
    dnnl_post_ops_destroy(post_ops);
    dnnl_primitive_attr_destroy(attr);
    return st;
}

/* The layout oneDNN's matmul wants for a (oc, c) weight of type dt. */
static dnnl_status_t packed_layout(const struct sb_onednn *d, int64_t oc, int64_t c, dnnl_data_type_t dt,
                                   dnnl_memory_desc_t *md)
{
    dnnl_memory_desc_t any;
    const dnnl_dims_t dims = {c, oc};
    dnnl_status_t st = dnnl_memory_desc_init_by_tag(&any, 2, dims, dt, dnnl_format_tag_any);
    const matmul_key probe = {LAYOUT_PROBE_ROWS, oc, c, c, false, WEIGHTS_PACKED, oc, dt, 1.0f, 0.0f};
    dnnl_primitive_desc_t pd = NULL;
    if (st == dnnl_success)
        st = matmul_desc(d, &probe, &any, &pd);
    if (st == dnnl_success)
        *md = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    dnnl_primitive_desc_destroy(pd);
    return st;
}

/* Blocked with every block of output features (dim 1) holding c x block elements back to back at block *
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
static bool packable_layouts(const struct sb_onednn *d, int64_t oc, int64_t c, dnnl_data_type_t dt,
                             dnnl_memory_desc_t *plain, dnnl_memory_desc_t *packed)
{
    return plain_weights(oc, c, dt, plain) == dnnl_success && packed_layout(d, oc, c, dt, packed) == dnnl_success &&
           !dnnl_memory_desc_equal(plain, packed) &&
           dnnl_memory_desc_get_size(packed) == dnnl_memory_desc_get_size(plain) && rows_stay_in_place(packed, c);
}

bool sb_gemm_packable(sb_exec *x, int64_t oc, int64_t c, sb_dtype dtype)
{
    dnnl_memory_desc_t plain, packed;
    dnnl_status_t st;
    omp_set_lock(&x->onednn_lock);
    const struct sb_onednn *d = onednn_of(x, &st);
    const bool ok = d != NULL && packable_layouts(d, oc, c, data_type(dtype), &plain, &packed);
    omp_unset_lock(&x->onednn_lock);
    return ok;
}

/* weight -> scratch, then oneDNN's reorder scratch (from layout) -> weight (to layout). */
static int relayout(sb_exec *x, int64_t oc, int64_t c, sb_dtype dtype, void *weight, void *scratch, bool to_packed,
                    sb_error *err)
{
    const dnnl_data_type_t dt = data_type(dtype);
    dnnl_memory_desc_t plain, packed;
    bool packable = false;
    dnnl_status_t st = dnnl_success;
    omp_set_lock(&x->onednn_lock);
    const struct sb_onednn *d = onednn_of(x, &st);
    if (d != NULL && (packable = packable_layouts(d, oc, c, dt, &plain, &packed))) {
        dnnl_primitive_desc_t pd = NULL;
        dnnl_primitive_t reorder = NULL;
        dnnl_memory_t from = NULL, to = NULL;
        const dnnl_memory_desc_t *from_md = to_packed ? &plain : &packed, *to_md = to_packed ? &packed : &plain;
        memcpy(scratch, weight, (size_t)(oc * c) * element_bytes(dt));
        st = dnnl_reorder_primitive_desc_create(&pd, from_md, d->engine, to_md, d->engine, NULL);
        if (st == dnnl_success)
            st = dnnl_primitive_create(&reorder, pd);
        if (st == dnnl_success)
            st = dnnl_memory_create(&from, from_md, d->engine, scratch);
        if (st == dnnl_success)
            st = dnnl_memory_create(&to, to_md, d->engine, weight);
        if (st == dnnl_success) {
            const dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
            st = dnnl_primitive_execute(reorder, d->streams[0], 2, args);
        }
        if (st == dnnl_success)
            st = dnnl_stream_wait(d->streams[0]);
        dnnl_memory_destroy(from);
        dnnl_memory_destroy(to);
        dnnl_primitive_destroy(reorder);
        dnnl_primitive_desc_destroy(pd);
    }
    omp_unset_lock(&x->onednn_lock);
    if (st == dnnl_success && !packable)
        return sb_fail(err, "a (%lld, %lld) %s weight has no pre-packed layout in oneDNN's matmul here", (long long)oc,
                       (long long)c, sb_dtype_name(dtype));
    if (st != dnnl_success)
        return sb_fail(err, "oneDNN reorder of a (%lld, %lld) weight %s its matmul layout: %s", (long long)oc,
                       (long long)c, to_packed ? "into" : "out of", status_text(st));
    return 0;
}

int sb_gemm_pack(sb_exec *x, int64_t oc, int64_t c, sb_dtype dtype, void *weight, void *scratch, sb_error *err)
{
    return relayout(x, oc, c, dtype, weight, scratch, true, err);
}

int sb_gemm_unpack(sb_exec *x, int64_t oc, int64_t c, sb_dtype dtype, void *weight, void *scratch, sb_error *err)
{
    return relayout(x, oc, c, dtype, weight, scratch, false, err);
}

/* ---- the primitive cache ------------------------------------------------------------------------------- */

static void release(cached_product *p, int slots)
{
    for (int i = 0; p->mem != NULL && i < slots * MEMS; i++)
        dnnl_memory_destroy(p->mem[i]);
    free(p->mem);
    dnnl_primitive_destroy(p->primitive);
    *p = (cached_product){0};
}

static bool same_key(const matmul_key *a, const matmul_key *b)
{
    return a->m == b->m && a->n == b->n && a->k == b->k && a->lda == b->lda && a->a_trans == b->a_trans &&
           a->form == b->form && a->ldc == b->ldc && a->dt == b->dt && a->alpha == b->alpha && a->beta == b->beta;
}

static size_t slot_of(const matmul_key *key)
{
    uint32_t a, b;
    memcpy(&a, &key->alpha, sizeof a);
    memcpy(&b, &key->beta, sizeof b);
    uint64_t h = sb_mix64((uint64_t)key->m);
    h = sb_mix64(h ^ (uint64_t)key->n) ^ sb_mix64((uint64_t)key->k << 1 ^ (uint64_t)key->lda << 32);
    h = sb_mix64(h ^ (uint64_t)key->ldc ^ ((uint64_t)a << 32 | b));
    h = sb_mix64(h ^ ((uint64_t)key->form << 8 | (uint64_t)key->a_trans << 4 | (uint64_t)key->dt));
    return (size_t)(h % CACHED_PRIMITIVES);
}

/* The matmul's weights layout for the key. */
static dnnl_status_t weights_desc(const struct sb_onednn *d, const matmul_key *key, dnnl_memory_desc_t *md)
{
    switch (key->form) {
    case WEIGHTS_KN: return strided_desc(key->k, key->n, key->n, 1, key->dt, md);
    case WEIGHTS_NK: return plain_weights(key->n, key->k, key->dt, md);
    case WEIGHTS_PACKED: return packed_layout(d, key->n, key->k, key->dt, md);
    }
    return dnnl_invalid_arguments;
}

/* A new primitive for key, with a set of memory objects per thread slot. A bf16 product that oneDNN could run
 * only on its reference kernels is refused (*reference set): its speed would describe no real deployment. */
static dnnl_status_t make_product(const struct sb_onednn *d, const matmul_key *key, cached_product *out,
                                  bool *reference)
{
    *out = (cached_product){.key = *key};
    *reference = false;
    dnnl_memory_desc_t weights;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t st = weights_desc(d, key, &weights);
    if (st == dnnl_success)
        st = matmul_desc(d, key, &weights, &pd);
    const char *impl = NULL;
    if (st == dnnl_success && key->dt == dnnl_bf16 &&
        dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl != NULL &&
        strncmp(impl, "ref", 3) == 0) {
        *reference = true;
        st = dnnl_unimplemented;
    }
    if (st == dnnl_success)
        st = dnnl_primitive_create(&out->primitive, pd);
    if (st == dnnl_success) {
        const dnnl_memory_desc_t *pad = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
        out->scratchpad_bytes = pad != NULL ? dnnl_memory_desc_get_size(pad) : 0;
        out->mem = calloc((size_t)(d->slots * MEMS), sizeof *out->mem);
        st = out->mem != NULL ? dnnl_success : dnnl_out_of_memory;
        const dnnl_query_t queries[MEMS] = {dnnl_query_src_md, dnnl_query_weights_md, dnnl_query_dst_md,
                                            dnnl_query_scratchpad_md};
        for (int i = 0; i < d->slots * MEMS && st == dnnl_success; i++)
            st = dnnl_memory_create(&out->mem[i], dnnl_primitive_desc_query_md(pd, queries[i % MEMS], 0), d->engine,
                                    DNNL_MEMORY_NONE);
    }
    dnnl_primitive_desc_destroy(pd);
    if (st != dnnl_success)
        release(out, d->slots);
    return st;
}

/* The cached primitive of key, or a new one cached; NULL with *st set on failure, or with *own filled (to
 * release after use) when the cache is full inside a parallel region. Callers hold x->onednn_lock. */
static cached_product *product_for(struct sb_onednn *d, const matmul_key *key, cached_product *own,
                                   dnnl_status_t *st, bool *reference)
{
    size_t i = slot_of(key);
    for (; d->cache[i].primitive != NULL; i = (i + 1) % CACHED_PRIMITIVES)
        if (same_key(&d->cache[i].key, key))
            return &d->cache[i];
    cached_product made;
    if ((*st = make_product(d, key, &made, reference)) != dnnl_success)
        return NULL;
    if (d->cache_used >= CACHED_PRIMITIVES * 3 / 4) {
        if (omp_in_parallel()) {
            *own = made;
            return own;
        }
        for (size_t j = 0; j < CACHED_PRIMITIVES; j++)
            if (d->cache[j].primitive != NULL)
                release(&d->cache[j], d->slots);
        d->cache_used = 0;
        i = slot_of(key);
    }
    d->cache[i] = made;
    d->cache_used++;
    return &d->cache[i];
}

/* Runs the product of key on src, weights and dst in the calling thread's slot. */
static int run_product(sb_exec *x, const matmul_key *key, const void *src, const void *weights, float *dst,
                       sb_error *err)
{
    dnnl_status_t st = dnnl_success;
    bool reference = false;
    cached_product own = {0};
    omp_set_lock(&x->onednn_lock);
    struct sb_onednn *d = onednn_of(x, &st);
    cached_product *p = d != NULL ? product_for(d, key, &own, &st, &reference) : NULL;
    omp_unset_lock(&x->onednn_lock);
    if (p != NULL) {
        const int slot = slot_now(d);
        dnnl_memory_t *mem = p->mem + slot * MEMS;
        void *pad = grown(&d->buffers[slot].scratchpad, p->scratchpad_bytes > 0 ? p->scratchpad_bytes : 1);
        st = pad == NULL ? dnnl_out_of_memory : dnnl_success;
        void *const handles[MEMS] = {(void *)src, (void *)weights, dst, pad};
        for (int i = 0; i < MEMS && st == dnnl_success; i++)
            st = dnnl_memory_set_data_handle(mem[i], handles[i]);
        if (st == dnnl_success) {
            const dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, mem[MEM_SRC]},
                                            {DNNL_ARG_WEIGHTS, mem[MEM_WEIGHTS]},
                                            {DNNL_ARG_DST, mem[MEM_DST]},
                                            {DNNL_ARG_SCRATCHPAD, mem[MEM_SCRATCHPAD]}};
            if ((st = dnnl_primitive_execute(p->primitive, d->streams[slot], 4, args)) == dnnl_success)
                st = dnnl_stream_wait(d->streams[slot]);
        }
        if (p == &own)
            release(&own, d->slots);
    }
    if (reference)
        return sb_fail(err, "oneDNN has only its reference kernel for a %lld x %lld x %lld bf16 product on this CPU "
                            "(effective ISA %s): refusing to time bf16 on it",
                       (long long)key->m, (long long)key->n, (long long)key->k, sb_onednn_isa_name());
    if (st != dnnl_success)
        return sb_fail(err, "oneDNN matmul of %lld x %lld x %lld (%s): %s", (long long)key->m, (long long)key->n,
                       (long long)key->k, key->dt == dnnl_bf16 ? "bf16" : "f32", status_text(st));
    return 0;
}

/* ---- products ------------------------------------------------------------------------------------------ */

/* rows x cols of fp32 at row stride ld, rounded to bf16 into the calling thread's buffer b, dense. */
/* Below this many elements an operand is rounded by the calling thread alone. */
#define ROUND_PARALLEL_MIN (INT64_C(1) << 16)

static const uint16_t *rounded(const sb_exec *x, buffer *b, const float *src, int64_t rows, int64_t cols, int64_t ld)
{
    uint16_t *out = grown(b, (size_t)(rows * cols) * sizeof(uint16_t));
    if (out == NULL)
        return NULL;
    /* Outside the engine's parallel regions the context's threads share the rounding, as the product after it. */
    const int threads = !omp_in_parallel() && rows * cols >= ROUND_PARALLEL_MIN ? x->settings.threads : 1;
#pragma omp parallel for num_threads(threads) if (threads > 1)
    for (int64_t r = 0; r < rows; r++)
        sb_dtype_from_f32(SB_DTYPE_BF16, src + r * ld, out + r * cols, cols);
    return out;
}

/* The calling thread's buffers, the oneDNN state created if needed; NULL with err set when it cannot be. */
static thread_buffers *buffers_now(sb_exec *x, struct sb_onednn **out, sb_error *err)
{
    dnnl_status_t st;
    omp_set_lock(&x->onednn_lock);
    struct sb_onednn *d = onednn_of(x, &st);
    omp_unset_lock(&x->onednn_lock);
    if (d == NULL) {
        sb_fail(err, "oneDNN could not start: %s", status_text(st));
        return NULL;
    }
    *out = d;
    return &d->buffers[slot_now(d)];
}

/* run_product, except that oneDNN 2.6's brgemm matmul takes bf16 weights in the packed layout only with a
 * dense C (a strided one falls to its reference kernel): such a product is computed into the thread's dense
 * buffer and then placed, C = that + beta * C, row by row. */
static int run_placed(sb_exec *x, const matmul_key *key, const void *src, const void *weights, float *dst,
                      sb_error *err)
{
    if (key->dt != dnnl_bf16 || key->form != WEIGHTS_PACKED || key->ldc == key->n)
        return run_product(x, key, src, weights, dst, err);
    struct sb_onednn *d;
    thread_buffers *tb = buffers_now(x, &d, err);
    float *dense = tb != NULL ? grown(&tb->c, (size_t)(key->m * key->n) * sizeof(float)) : NULL;
    if (tb == NULL)
        return -1;
    if (dense == NULL)
        return sb_fail(err, "out of memory for a %lld x %lld product's output", (long long)key->m, (long long)key->n);
    matmul_key dense_key = *key;
    dense_key.ldc = key->n;
    dense_key.beta = 0.0f;
    if (run_product(x, &dense_key, src, weights, dense, err) != 0)
        return -1;
    for (int64_t i = 0; i < key->m; i++)
        for (int64_t j = 0; j < key->n; j++)
            dst[i * key->ldc + j] = dense[i * key->n + j] + (key->beta != 0.0f ? key->beta * dst[i * key->ldc + j] : 0.0f);
    return 0;
}

void sb_onednn_weights(sb_exec *x, bool trans_w, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                       int64_t lda, sb_weight_operand w, float beta, float *c, int64_t ldc)
{
    assert(w.dtype == x->settings.compute && (trans_w || !w.packed));
    const weights_form form = w.packed ? WEIGHTS_PACKED : trans_w ? WEIGHTS_NK : WEIGHTS_KN;
    matmul_key key = {m, n, k, lda, false, form, ldc, data_type(w.dtype), alpha, beta};
    const void *src = a;
    sb_error err;
    if (w.dtype == SB_DTYPE_BF16) {
        struct sb_onednn *d;
        thread_buffers *tb = buffers_now(x, &d, &err);
        if (tb == NULL) {
            sb_exec_fail(x, &err);
            return;
        }
        if ((src = rounded(x, &tb->a, a, m, k, lda)) == NULL) {
            sb_fail(&err, "out of memory rounding a %lld x %lld operand to bf16", (long long)m, (long long)k);
            sb_exec_fail(x, &err);
            return;
        }
        key.lda = k;
    }
    if (run_placed(x, &key, src, w.data, c, &err) != 0)
        sb_exec_fail(x, &err);
}

void sb_gemm_bf16(sb_exec *x, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                  const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
    sb_error err;
    struct sb_onednn *d;
    thread_buffers *tb = buffers_now(x, &d, &err);
    if (tb == NULL) {
        sb_exec_fail(x, &err);
        return;
    }
    /* Each operand rounded as it is stored (no transposing copy): the key's layouts say which way it is read. */
    const uint16_t *a16 = trans_a ? rounded(x, &tb->a, a, k, m, lda) : rounded(x, &tb->a, a, m, k, lda);
    const uint16_t *b16 = trans_b ? rounded(x, &tb->b, b, n, k, ldb) : rounded(x, &tb->b, b, k, n, ldb);
    if (a16 == NULL || b16 == NULL) {
        sb_fail(&err, "out of memory rounding the operands of a %lld x %lld x %lld product", (long long)m,
                (long long)n, (long long)k);
        sb_exec_fail(x, &err);
        return;
    }
    const matmul_key key = {m,   n,   k, trans_a ? m : k, trans_a, trans_b ? WEIGHTS_NK : WEIGHTS_KN,
                            ldc, dnnl_bf16, alpha,        beta};
    if (run_product(x, &key, a16, b16, c, &err) != 0)
        sb_exec_fail(x, &err);
}

void sb_onednn_bf16_replay(sb_exec *x, const sb_gemm_shape *s, const void *a, const void *b, float *c)
{
    const weights_form form = s->packed_b ? WEIGHTS_PACKED : s->trans_b ? WEIGHTS_NK : WEIGHTS_KN;
    const matmul_key key = {s->m, s->n, s->k, s->trans_a ? s->m : s->k, s->trans_a, form, s->n, dnnl_bf16, 1.0f,
                            0.0f};
    sb_error err;
    if (run_product(x, &key, a, b, c, &err) != 0)
        sb_exec_fail(x, &err);
}

void sb_onednn_free(struct sb_onednn *d)
{
    if (d == NULL)
        return;
    for (size_t j = 0; j < CACHED_PRIMITIVES; j++)
        if (d->cache[j].primitive != NULL)
            release(&d->cache[j], d->slots);
    for (int i = 0; d->streams != NULL && i < d->slots; i++)
        if (d->streams[i] != NULL)
            dnnl_stream_destroy(d->streams[i]);
    for (int i = 0; d->buffers != NULL && i < d->slots; i++) {
        free(d->buffers[i].a.data);
        free(d->buffers[i].b.data);
        free(d->buffers[i].c.data);
        free(d->buffers[i].scratchpad.data);
    }
    if (d->engine != NULL)
        dnnl_engine_destroy(d->engine);
    free(d->streams);
    free(d->buffers);
    free(d);
}

/* gemm.c — the GEMM wrapper every matrix product of the engine goes through: dispatch to the context's
 * backend (OpenBLAS or oneDNN's row-major dnnl_sgemm) or to a bf16 product (onednn.c), the split of an fp32
 * product across the threads, products on linear weights (those oneDNN's matmul reads as stored, pre-packed
 * or bf16, go to onednn.c), and the bookkeeping (FLOP tally, shape recorder). */
#include "engine/exec/exec.h"

#include <assert.h>
#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>

static void record(sb_exec *x, bool trans_a, bool trans_b, const sb_weight_operand *w, sb_dtype dtype, int64_t m,
                   int64_t n, int64_t k)
{
    const bool weights_b = w != NULL, packed_b = w != NULL && w->packed;
    const bool in_parallel = omp_in_parallel();
    omp_set_lock(&x->record_lock);
    if (x->record_shapes != NULL) {
        sb_gemm_shape *shapes = x->record_shapes;
        const size_t seen = x->record_count < x->record_capacity ? x->record_count : x->record_capacity;
        size_t i = 0;
        while (i < seen && !(shapes[i].trans_a == trans_a && shapes[i].trans_b == trans_b && shapes[i].m == m &&
                             shapes[i].n == n && shapes[i].k == k && shapes[i].in_parallel == in_parallel &&
                             shapes[i].weights_b == weights_b && shapes[i].packed_b == packed_b && shapes[i].dtype == dtype))
            i++;
        if (i < seen) {
            shapes[i].calls++;
        } else {
            if (x->record_count < x->record_capacity)
                shapes[x->record_count] =
                    (sb_gemm_shape){trans_a, trans_b, m, n, k, in_parallel, weights_b, packed_b, dtype, 1};
            x->record_count++;
        }
    }
    omp_unset_lock(&x->record_lock);
}

void sb_gemm_account(sb_exec *x, bool trans_a, bool trans_b, const sb_weight_operand *w, sb_dtype dtype, int64_t m,
                     int64_t n, int64_t k)
{
    __atomic_fetch_add(&x->flops, 2 * m * n * k, __ATOMIC_RELAXED);
    /* read without the lock: recording starts and stops outside the products it watches */
    if (x->record_shapes != NULL)
        record(x, trans_a, trans_b, w, dtype, m, n, k);
}

/* The backend's own call, on as many threads as the backend takes (one inside a parallel region). */
static void backend_gemm(sb_gemm_backend backend, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                         float alpha, const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                         int64_t ldc)
{
    if (backend == SB_GEMM_ONEDNN) {
        dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    } else if (m == 1) {
        /* A single row (incremental decoding): OpenBLAS's sgemm would pack B for one output row; gemv
         * streams it once. c (1,n) = op(B)^T a. */
        cblas_sgemv(CblasRowMajor, trans_b ? CblasNoTrans : CblasTrans, trans_b ? n : k, trans_b ? k : n, alpha,
                    b, ldb, a, trans_a ? lda : 1, beta, c, 1);
    } else {
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n,
                    k, alpha, a, lda, b, ldb, beta, c, ldc);
    }
}

/* Below this many multiply-adds a product runs as one call: waking the other threads costs more. */
#define PARTITION_MIN_MACS (INT64_C(1) << 18)
/* Column blocks are whole 64-byte lines of C, so no two threads write the same cache line. */
#define PARTITION_COLUMN_ALIGN 16

/* Splits a product outside a parallel region into one single-threaded backend call per thread, each on
 * its own block of C; the backends' own 2-thread schedules lose 5-50 % on the forward's shapes (measured
 * on a 2-core Zen 5, weights cold: oneDNN's 114 x 768 x 3072 at 142 GFLOP/s threaded vs 292 split).
 * Columns by default: each thread then packs only its own part of B, the weights. OpenBLAS on tall
 * products does better split by rows (512-row projections and FFN: 189-197 GFLOP/s by rows, 179-184 by
 * columns). Every element of C is still the same k-long dot product, in the backend's own order. */
static void gemm_f32(sb_exec *x, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                     const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
    const sb_gemm_backend backend = x->settings.backend;
    const int threads = x->settings.partitioned && !omp_in_parallel() ? x->settings.threads : 1;
    if (threads < 2 || m * n * k < PARTITION_MIN_MACS) {
        backend_gemm(backend, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    const bool by_rows = (backend == SB_GEMM_OPENBLAS && m >= 256 * threads) || n < PARTITION_COLUMN_ALIGN * threads;
    const int64_t extent = by_rows ? m : n, align = by_rows ? 1 : PARTITION_COLUMN_ALIGN;
    const int64_t block = ((extent + threads - 1) / threads + align - 1) / align * align;
#pragma omp parallel num_threads(threads)
    {
        const int64_t first = omp_get_thread_num() * block;
        const int64_t size = extent - first < block ? extent - first : block;
        if (size > 0 && by_rows)
            backend_gemm(backend, trans_a, trans_b, size, n, k, alpha, trans_a ? a + first : a + first * lda, lda, b,
                         ldb, beta, c + first * ldc, ldc);
        else if (size > 0)
            backend_gemm(backend, trans_a, trans_b, m, size, k, alpha, a, lda, trans_b ? b + first * ldb : b + first,
                         ldb, beta, c + first, ldc);
    }
}

void sb_gemm(sb_exec *x, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
             int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
    sb_gemm_account(x, trans_a, trans_b, NULL, x->settings.compute, m, n, k);
    if (x->settings.compute == SB_DTYPE_BF16)
        sb_gemm_bf16(x, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    else
        gemm_f32(x, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void sb_gemm_f32(sb_exec *x, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                 const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
    sb_gemm_account(x, trans_a, trans_b, NULL, SB_DTYPE_F32, m, n, k);
    gemm_f32(x, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void sb_gemm_weights(sb_exec *x, bool trans_w, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                     int64_t lda, sb_weight_operand w, float beta, float *c, int64_t ldc)
{
    const sb_dtype compute = x->settings.compute;
    assert((w.dtype == SB_DTYPE_F32 || w.dtype == compute) && (trans_w || !w.packed));
    sb_gemm_account(x, false, trans_w, &w, compute, m, n, k);
    const int64_t ldw = trans_w ? k : n;
    if (w.packed || w.dtype == SB_DTYPE_BF16)
        sb_onednn_weights(x, trans_w, m, n, k, alpha, a, lda, w, beta, c, ldc);
    else if (compute == SB_DTYPE_BF16)
        sb_gemm_bf16(x, false, trans_w, m, n, k, alpha, a, lda, w.data, ldw, beta, c, ldc);
    else
        gemm_f32(x, false, trans_w, m, n, k, alpha, a, lda, w.data, ldw, beta, c, ldc);
}

void sb_gemm_replay(sb_exec *x, const sb_gemm_shape *s, const void *a, const void *b, float *c)
{
    if (s->dtype == SB_DTYPE_BF16) {
        assert(x->settings.compute == SB_DTYPE_BF16);
        sb_onednn_bf16_replay(x, s, a, b, c);
        return;
    }
    const int64_t lda = s->trans_a ? s->m : s->k, ldb = s->trans_b ? s->k : s->n;
    if (s->packed_b)
        sb_onednn_weights(x, true, s->m, s->n, s->k, 1.0f, a, lda, (sb_weight_operand){b, SB_DTYPE_F32, true}, 0.0f,
                          c, s->n);
    else
        gemm_f32(x, s->trans_a, s->trans_b, s->m, s->n, s->k, 1.0f, a, lda, b, ldb, 0.0f, c, s->n);
}

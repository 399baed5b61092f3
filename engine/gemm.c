/* gemm.c — the GEMM wrapper every matrix product of the engine goes through: backend dispatch (OpenBLAS or
 * oneDNN's row-major dnnl_sgemm), the thread pool they share with the engine's OpenMP loops, the
 * executed-FLOP tally, and an optional recorder of distinct shapes for the benchmark. Products on weights
 * pre-packed for oneDNN's matmul take the wrapper's other path (gemm_packed.c), with the same bookkeeping
 * (sb_gemm_account). */
#include "engine/forward.h"

#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static sb_gemm_backend current_backend = SB_GEMM_OPENBLAS;
static bool partition_enabled = true;
static int64_t flop_tally; /* updated with __atomic builtins: attention GEMMs run inside OpenMP loops */

static sb_gemm_shape *record_shapes;
static size_t record_capacity;
static size_t record_count;

int sb_gemm_configure(sb_gemm_backend backend, int threads, sb_error *err)
{
    if (backend != SB_GEMM_OPENBLAS && backend != SB_GEMM_ONEDNN)
        return sb_fail(err, "unknown GEMM backend %d", (int)backend);
    current_backend = backend;
    if (threads > 0) {
        /* One pool: OpenBLAS's OpenMP build and oneDNN both run on libgomp's threads, as do the engine's
         * loops, so setting both counts to the same value is what keeps them from oversubscribing. */
        openblas_set_num_threads(threads);
        omp_set_num_threads(threads);
    }
    return 0;
}

sb_gemm_backend sb_gemm_current(void)
{
    return current_backend;
}

const char *sb_gemm_backend_name(sb_gemm_backend backend)
{
    return backend == SB_GEMM_ONEDNN ? "onednn" : "openblas";
}

int sb_gemm_parse_backend(const char *name, sb_gemm_backend *out, sb_error *err)
{
    if (name != NULL && strcmp(name, "openblas") == 0)
        *out = SB_GEMM_OPENBLAS;
    else if (name != NULL && strcmp(name, "onednn") == 0)
        *out = SB_GEMM_ONEDNN;
    else
        return sb_fail(err, "unknown GEMM backend '%s' (openblas | onednn)", name ? name : "");
    return 0;
}

const char *sb_gemm_backend_version(sb_gemm_backend backend)
{
    static char text[2][160];
    char *out = text[backend == SB_GEMM_ONEDNN];
    if (backend == SB_GEMM_ONEDNN) {
        const dnnl_version_t *v = dnnl_version();
        snprintf(out, sizeof text[0], "oneDNN %d.%d.%d threads=%d", v->major, v->minor, v->patch,
                 omp_get_max_threads());
    } else {
        /* openblas_get_config() starts "OpenBLAS 0.3.21 ..." followed by build options; keep the version. */
        char version[32] = "?";
        sscanf(openblas_get_config(), "OpenBLAS %31s", version);
        snprintf(out, sizeof text[0], "OpenBLAS %s core=%s threads=%d", version, openblas_get_corename(),
                 openblas_get_num_threads());
    }
    return out;
}

int sb_gemm_threads(void)
{
    return omp_get_max_threads();
}

int sb_gemm_vector_bits(sb_gemm_backend backend)
{
    if (backend == SB_GEMM_ONEDNN) {
        const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
        if ((isa & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core)
            return 512;
        return (isa & dnnl_cpu_isa_avx2) == dnnl_cpu_isa_avx2 ? 256 : 0;
    }
    static const struct {
        const char *core;
        int bits;
    } cores[] = {{"Haswell", 256}, {"Zen", 256}, {"SkylakeX", 512}, {"Cooperlake", 512}, {"SapphireRapids", 512}};
    const char *name = openblas_get_corename();
    for (size_t i = 0; name != NULL && i < sizeof cores / sizeof cores[0]; i++)
        if (strcasecmp(name, cores[i].core) == 0)
            return cores[i].bits;
    return 0;
}

static void record(bool trans_a, bool trans_b, bool packed_b, int64_t m, int64_t n, int64_t k)
{
    bool in_parallel = omp_in_parallel();
#pragma omp critical(sb_gemm_record)
    {
        size_t i = 0;
        size_t seen = record_count < record_capacity ? record_count : record_capacity;
        while (i < seen && !(record_shapes[i].trans_a == trans_a && record_shapes[i].trans_b == trans_b &&
                             record_shapes[i].m == m && record_shapes[i].n == n && record_shapes[i].k == k &&
                             record_shapes[i].in_parallel == in_parallel && record_shapes[i].packed_b == packed_b))
            i++;
        if (i < seen) {
            record_shapes[i].calls++;
        } else {
            if (record_count < record_capacity)
                record_shapes[record_count] = (sb_gemm_shape){trans_a, trans_b, m, n, k, in_parallel, packed_b, 1};
            record_count++;
        }
    }
}

void sb_gemm_account(bool trans_a, bool trans_b, bool packed_b, int64_t m, int64_t n, int64_t k)
{
    __atomic_fetch_add(&flop_tally, 2 * m * n * k, __ATOMIC_RELAXED);
    if (record_shapes != NULL)
        record(trans_a, trans_b, packed_b, m, n, k);
}

void sb_gemm_record(sb_gemm_shape *shapes, size_t capacity)
{
    record_shapes = shapes;
    record_capacity = shapes != NULL ? capacity : 0;
    record_count = 0;
}

size_t sb_gemm_recorded(void)
{
    return record_count;
}

/* The backend's own call, on as many threads as the backend takes (one inside a parallel region). */
static void backend_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                         int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
    if (current_backend == SB_GEMM_ONEDNN) {
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

void sb_gemm_set_partitioned(bool partitioned)
{
    partition_enabled = partitioned;
}

bool sb_gemm_partitioned(void)
{
    return partition_enabled;
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
void sb_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
             int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
    sb_gemm_account(trans_a, trans_b, false, m, n, k);
    const int threads = partition_enabled && !omp_in_parallel() ? omp_get_max_threads() : 1;
    if (threads < 2 || m * n * k < PARTITION_MIN_MACS) {
        backend_gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    const bool by_rows = (current_backend == SB_GEMM_OPENBLAS && m >= 256 * threads) ||
                         n < PARTITION_COLUMN_ALIGN * threads;
    const int64_t extent = by_rows ? m : n, align = by_rows ? 1 : PARTITION_COLUMN_ALIGN;
    const int64_t block = ((extent + threads - 1) / threads + align - 1) / align * align;
#pragma omp parallel num_threads(threads)
    {
        const int64_t first = omp_get_thread_num() * block;
        const int64_t size = extent - first < block ? extent - first : block;
        if (size > 0 && by_rows)
            backend_gemm(trans_a, trans_b, size, n, k, alpha, trans_a ? a + first : a + first * lda, lda, b, ldb,
                         beta, c + first * ldc, ldc);
        else if (size > 0)
            backend_gemm(trans_a, trans_b, m, size, k, alpha, a, lda, trans_b ? b + first * ldb : b + first, ldb,
                         beta, c + first, ldc);
    }
}

int64_t sb_gemm_flops(void)
{
    return __atomic_load_n(&flop_tally, __ATOMIC_RELAXED);
}

void sb_gemm_reset_flops(void)
{
    __atomic_store_n(&flop_tally, 0, __ATOMIC_RELAXED);
}

/* exec.h — how the engine computes: the execution context every product of a model runs in.
 *
 *   - sb_exec: one named struct holding what used to be process state — the GEMM backend (OpenBLAS or
 *     oneDNN), the thread count, the split of products across threads, pre-packing for oneDNN, the FLOP
 *     tally, the shape recorder, the profile, and oneDNN's engine, stream and primitive cache. The runtime and
 *     the trainer are created with one; two contexts with different backends live side by side in a process;
 *   - the GEMM wrapper every matrix product goes through, and products on weights pre-packed for oneDNN;
 *   - the profile: wall time and FLOPs per op class and inside each stack's blocks;
 *   - the machine's memory: page-aligned arenas with huge pages requested, and the memory still available.
 *
 * Depends on variants/ (sb_op_class, sb_stack) and common/.
 */
#ifndef SHAPEBENCH_EXEC_H
#define SHAPEBENCH_EXEC_H

#include "variants/variants.h"

#include <omp.h>

/* ---- the execution context ------------------------------------------------------------------------- */

typedef enum { SB_GEMM_OPENBLAS = 0, SB_GEMM_ONEDNN = 1 } sb_gemm_backend;

const char *sb_gemm_backend_name(sb_gemm_backend backend); /* "openblas" | "onednn" */
int sb_gemm_parse_backend(const char *name, sb_gemm_backend *out, sb_error *err);
/* "OpenBLAS 0.3.21 core=Haswell threads=2" / "oneDNN 2.7.3 threads=2": for result records. */
void sb_gemm_backend_version(sb_gemm_backend backend, int threads, char *out, size_t cap);
/* Width in bits of the vector registers the backend's sgemm kernel computes in: OpenBLAS by the core whose
 * kernels it runs (Haswell and Zen: 256; SkylakeX, Cooperlake, SapphireRapids: 512), oneDNN by its
 * effective ISA (AVX-512: 512, AVX2: 256); 0 when not known. The FMA rate at that width bounds the kernel. */
int sb_gemm_vector_bits(sb_gemm_backend backend);

typedef struct {
    sb_gemm_backend backend;
    int threads;      /* BLAS and the engine's OpenMP loops (one pool); <= 0: every thread OpenMP would use */
    /* Outside a parallel region sb_gemm splits C into one block per thread, each a single-threaded backend
     * call; off, the backend threads the product itself (for the benchmark's comparison). */
    bool partitioned;
    /* oneDNN: inference weights pre-packed for its matmul (sb_weights_layout_for); off, oneDNN runs every
     * product through dnnl_sgemm on Hugging Face layout (for the benchmark's comparison). */
    bool prepack;
} sb_exec_settings;

/* OpenBLAS, every thread, partitioned, pre-packed. */
void sb_exec_settings_default(sb_exec_settings *s);

typedef struct sb_exec sb_exec;

/* A context for the settings; oneDNN's engine and stream are created when first needed. */
int sb_exec_create(sb_exec **out, const sb_exec_settings *settings, sb_error *err);
void sb_exec_free(sb_exec *x);
sb_gemm_backend sb_exec_backend(const sb_exec *x);
int sb_exec_threads(const sb_exec *x); /* the count the settings resolved to */
bool sb_exec_partitioned(const sb_exec *x);
void sb_exec_set_partitioned(sb_exec *x, bool partitioned);
bool sb_exec_prepack(const sb_exec *x);
/* sb_gemm_backend_version of the context's backend and threads. */
const char *sb_exec_backend_version(const sb_exec *x);
/* Makes the calling thread run x's thread count in its parallel regions and BLAS calls. Every entry point
 * that computes (encode, decode, generate, a training step, the peaks) calls it first, so contexts with
 * different thread counts can take turns. */
void sb_exec_enter(const sb_exec *x);

/* ---- GEMM ------------------------------------------------------------------------------------------ */

/* Row-major C (m,n) = alpha * op(A) (m,k) · op(B) (k,n) + beta * C, op = transpose when trans_*, on x's
 * backend. lda/ldb/ldc are row strides. Adds 2*m*n*k to x's FLOP tally. Safe to call from the engine's
 * parallel regions (then each call is single-threaded). */
void sb_gemm(sb_exec *x, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
             int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc);

/* Weights pre-packed for oneDNN's matmul. dnnl_sgemm, like every BLAS sgemm, re-packs its B operand (the
 * weights) on every call; oneDNN's matmul primitive can instead read weights already laid out in its own
 * blocked format (on AVX-512, 16 input x 64 output features per block), so a weight used by every forward is
 * re-laid once. A weight (oc, c) is packable when that layout differs from the plain one, has the same size
 * (no padding: the packed weight fits in place) and keeps each block of output features in the bytes of
 * those rows (so adjacent packed weights are the packed form of their concatenation, as q, k, v are used).
 * Needs oneDNN (whatever x's backend); false wherever its matmul keeps the plain layout (e.g. without
 * AVX-512). */
bool sb_gemm_packable(sb_exec *x, int64_t oc, int64_t c);
/* Re-lays a packable weight (oc, c) in place, into the packed layout and back (bit for bit), through
 * scratch of oc * c floats. */
int sb_gemm_pack(sb_exec *x, int64_t oc, int64_t c, float *weight, float *scratch, sb_error *err);
int sb_gemm_unpack(sb_exec *x, int64_t oc, int64_t c, float *weight, float *scratch, sb_error *err);
/* Row-major C (m,n) = alpha * A (m,k) · Wᵀ + beta * C for a weight W (n,k) packed by sb_gemm_pack, on
 * oneDNN's matmul (threaded by oneDNN; one primitive per shape, created on first use and kept in x). Adds
 * 2*m*n*k to the FLOP tally and is recorded with packed_b set. Fails only when oneDNN does (no memory, or
 * no implementation for the layout). */
int sb_gemm_packed(sb_exec *x, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                   const float *packed_w, float beta, float *c, int64_t ldc, sb_error *err);

/* Executed-FLOP tally of x's products since the last reset (all threads). */
int64_t sb_exec_flops(const sb_exec *x);
void sb_exec_reset_flops(sb_exec *x);

/* One distinct GEMM shape seen while recording, so the benchmark can time the backend on exactly the
 * work a forward ran. in_parallel: called from inside the engine's OpenMP loop (attention per head), where
 * each thread runs its own single-threaded GEMM. */
typedef struct {
    bool trans_a, trans_b;
    int64_t m, n, k;
    bool in_parallel;
    bool packed_b; /* sb_gemm_packed: B is a pre-packed weight (trans_b) */
    int64_t calls;
} sb_gemm_shape;
/* Starts recording distinct shapes of x's later products into shapes[capacity] (NULL stops). */
void sb_exec_record(sb_exec *x, sb_gemm_shape *shapes, size_t capacity);
/* Distinct shapes seen since recording started; more than capacity means some were not stored. */
size_t sb_exec_recorded(const sb_exec *x);

/* ---- where the time goes (profile.c) --------------------------------------------------------------- */

/* Each op class (variants.h: sb_op_class) is timed as the region that does its work: projections (q, k, v, o
 * and the cross K/V), the attention core (QKᵀ, bias, mask, softmax, ·V, per head), the FFN (or a Switch
 * layer's experts with their dispatch and combine), the router (its GEMM and the top-1 routing), the LM head
 * GEMM. Norms, residuals, embeddings and the position bias belong to none. */

/* Totals of a runtime's forward work (encode, decode, generate; not the trainer's) in x since the last reset. */
typedef struct {
    double op_seconds[SB_OP_CLASSES]; /* wall seconds inside each op class's regions */
    int64_t op_flops[SB_OP_CLASSES];  /* GEMM FLOPs executed there */
    /* Per sb_stack, inside the loop over the stack's blocks (generation: also the cross K/V projection,
     * once per block): the part of a stack's time that grows with its depth. */
    double block_seconds[2];
    int64_t block_flops[2];
    double step_block_seconds; /* of block_seconds[SB_STACK_DECODER], the part inside generation steps */
} sb_profile;
void sb_exec_profile_reset(sb_exec *x);
sb_profile sb_exec_profile(const sb_exec *x);

/* A region's start: the clock and x's FLOP tally. Opened and closed by the thread that drives the runtime,
 * outside parallel regions, so a span's wall time is the time every thread spent on that work. */
typedef struct {
    double start;
    int64_t flops;
} sb_span;
sb_span sb_span_begin(const sb_exec *x);
/* Adds the time and FLOPs since `since` to op class c. */
void sb_span_op(sb_exec *x, sb_op_class c, sb_span since);
/* Adds them to the stack's block totals (and to the generation steps' when generation_step). */
void sb_span_blocks(sb_exec *x, sb_stack stack, bool generation_step, sb_span since);
/* Monotonic wall clock in seconds. */
double sb_now_seconds(void);

/* ---- the context's state, for exec/'s own files --------------------------------------------------- */

struct sb_onednn; /* oneDNN's engine, stream and primitive cache (gemm_packed.c) */

struct sb_exec {
    sb_exec_settings settings; /* threads resolved */
    char backend_version[160];
    int64_t flops; /* updated with __atomic builtins: attention GEMMs run inside OpenMP loops */
    omp_lock_t record_lock;
    sb_gemm_shape *record_shapes;
    size_t record_capacity, record_count;
    sb_profile profile;
    omp_lock_t onednn_lock;   /* one oneDNN call at a time: its cached memory objects carry a call's pointers */
    struct sb_onednn *onednn; /* NULL until a packed product, a packing or a layout query needs it */
};

/* Every product's bookkeeping, whichever path runs it: adds 2*m*n*k to the FLOP tally and records the shape
 * when the benchmark is recording. */
void sb_gemm_account(sb_exec *x, bool trans_a, bool trans_b, bool packed_b, int64_t m, int64_t n, int64_t k);
void sb_onednn_free(struct sb_onednn *d);

/* ---- memory (pages.c) ------------------------------------------------------------------------------ */

/* Zeroed, page-aligned memory with transparent huge pages requested, for the engine's arenas (weights,
 * activations, KV cache, gradients) and for anything timed against them (the peaks, the benchmark's GEMM
 * replay), so that both sides run on the same pages. NULL when the mapping fails; freed with its size. */
void *sb_pages_alloc(size_t bytes);
void sb_pages_free(void *p, size_t bytes);
/* Bytes this process can still allocate: MemAvailable, capped by the cgroup memory limit when lower. */
int64_t sb_memory_available_bytes(void);

#endif

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

/* ---- number formats (dtype.c) ---------------------------------------------------------------------- */

/* Storage conversions. bf16 and f16 are IEEE bit patterns; f32 -> bf16 rounds to nearest even (NaN stays
 * NaN, overflow gives inf). */
float sb_bf16_to_f32(uint16_t bits);
uint16_t sb_f32_to_bf16(float value);
float sb_f16_to_f32(uint16_t bits);
/* n elements stored as `dtype` to fp32, and back (bf16 rounds to nearest even). */
void sb_dtype_to_f32(sb_dtype dtype, const void *src, float *dst, int64_t n);
void sb_dtype_from_f32(sb_dtype dtype, const float *src, void *dst, int64_t n);

/* What a run computes in and stores its weights in (the commands' --dtype):
 *   f32           fp32 weights, fp32 products;
 *   bf16          bf16 products with fp32 accumulation on oneDNN (bf16 instructions only); inference weights
 *                 stored in bf16 (pre-packed for oneDNN's matmul), training keeps fp32 master weights and
 *                 gives the products a bf16 copy (sb_trainer);
 *   bf16-storage  bf16 weights converted to fp32 as each product reads them, fp32 products: bf16's memory,
 *                 fp32's arithmetic. */
typedef enum { SB_PRECISION_F32 = 0, SB_PRECISION_BF16 = 1, SB_PRECISION_BF16_STORAGE = 2 } sb_precision;
#define SB_PRECISIONS 3
const char *sb_precision_name(sb_precision p); /* "f32" | "bf16" | "bf16-storage" */
int sb_precision_parse(const char *name, sb_precision *out, sb_error *err);
sb_dtype sb_precision_compute(sb_precision p);
/* The weights' storage; training keeps fp32 weights whatever its products compute in. */
sb_dtype sb_precision_storage(sb_precision p, bool training);

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
    /* What products compute in: SB_DTYPE_F32, or SB_DTYPE_BF16 — both operands rounded to bf16 (nearest even),
     * products and sums in fp32 (oneDNN's matmul on the CPU's bf16 instructions). Everything else (norms,
     * softmax, residual sums, losses) stays fp32. bf16 needs the oneDNN backend and a CPU with bf16
     * instructions (sb_bf16_available). */
    sb_dtype compute;
} sb_exec_settings;

/* OpenBLAS, every thread, partitioned, pre-packed, fp32. */
void sb_exec_settings_default(sb_exec_settings *s);
/* Whether oneDNN runs bf16 products on bf16 instructions here (its effective ISA has AVX512_BF16 or AMX):
 * 0, or -1 with why not. Without them oneDNN falls back to reference kernels, whose figures would describe
 * nothing anyone runs, so bf16 compute is refused. */
int sb_bf16_available(sb_error *err);
/* The instruction set oneDNN dispatches to: "avx512_core_bf16", "avx512_core_amx", "avx2", ... */
const char *sb_onednn_isa_name(void);

typedef struct sb_exec sb_exec;

/* A context for the settings; oneDNN's engine and stream are created when first needed. */
int sb_exec_create(sb_exec **out, const sb_exec_settings *settings, sb_error *err);
void sb_exec_free(sb_exec *x);
sb_gemm_backend sb_exec_backend(const sb_exec *x);
int sb_exec_threads(const sb_exec *x); /* the count the settings resolved to */
bool sb_exec_partitioned(const sb_exec *x);
void sb_exec_set_partitioned(sb_exec *x, bool partitioned);
bool sb_exec_prepack(const sb_exec *x);
sb_dtype sb_exec_compute(const sb_exec *x);
/* sb_gemm_backend_version of the context's backend and threads. */
const char *sb_exec_backend_version(const sb_exec *x);
/* Makes the calling thread run x's thread count in its parallel regions and BLAS calls. Every entry point
 * that computes (encode, decode, generate, a training step, the peaks) calls it first, so contexts with
 * different thread counts can take turns. */
void sb_exec_enter(const sb_exec *x);

/* ---- GEMM ------------------------------------------------------------------------------------------ */

/* Row-major C (m,n) = alpha * op(A) (m,k) · op(B) (k,n) + beta * C, op = transpose when trans_*, on x's
 * backend in fp32, or (x computing in bf16) as a bf16 product on oneDNN's matmul with op(A) and op(B) rounded
 * to bf16. lda/ldb/ldc are row strides. Adds 2*m*n*k to x's FLOP tally. Safe to call from the engine's
 * parallel regions (then each call is single-threaded). A bf16 product that oneDNN cannot run is recorded in
 * x (sb_exec_failure). */
void sb_gemm(sb_exec *x, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
             int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc);
/* sb_gemm in fp32 whatever x computes in: for the products a model keeps in full precision (Switch
 * Transformers' router, whose logits pick each token's expert). */
void sb_gemm_f32(sb_exec *x, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                 const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc);
/* The first failure of x's products since the last call (-1 with it in err), else 0. */
int sb_exec_failure(sb_exec *x, sb_error *err);

/* A linear weight as a product's operand: W (n, k) row-major, as Hugging Face stores linear weights, in
 * `dtype` (f32 or bf16), in that plain layout or pre-packed for oneDNN's matmul by sb_gemm_pack. */
typedef struct {
    const void *data;
    sb_dtype dtype;
    bool packed;
} sb_weight_operand;

/* Weights pre-packed for oneDNN's matmul. dnnl_sgemm, like every BLAS sgemm, re-packs its B operand (the
 * weights) on every call; oneDNN's matmul primitive can instead read weights already laid out in its own
 * blocked format (on AVX-512, 16 input x 64 output features per block in fp32; pairs of inputs interleaved in
 * bf16), so a weight used by every forward is re-laid once. A weight (oc, c) of `dtype` is packable when that
 * layout differs from the plain one, has the same size (no padding: the packed weight fits in place) and
 * keeps each block of output features in the bytes of those rows (so adjacent packed weights are the packed
 * form of their concatenation, as q, k, v are used). Needs oneDNN (whatever x's backend); false wherever its
 * matmul keeps the plain layout (e.g. without AVX-512). */
bool sb_gemm_packable(sb_exec *x, int64_t oc, int64_t c, sb_dtype dtype);
/* Re-lays a packable weight (oc, c) of `dtype` in place, into the packed layout and back (bit for bit),
 * through scratch of oc * c elements. */
int sb_gemm_pack(sb_exec *x, int64_t oc, int64_t c, sb_dtype dtype, void *weight, void *scratch, sb_error *err);
int sb_gemm_unpack(sb_exec *x, int64_t oc, int64_t c, sb_dtype dtype, void *weight, void *scratch, sb_error *err);
/* A product on a linear weight: row-major C (m,n) = alpha * A (m,k) · op(W) + beta * C, op(W) = Wᵀ with W
 * (n, k) (trans_w: the forward's x·Wᵀ) or W (k, n) (a backward's dy·W). fp32 weights in HF layout take
 * sb_gemm's path; pre-packed weights (trans_w only) and bf16 weights run on oneDNN's matmul reading W as
 * stored (one primitive per shape, created on first use and kept in x), A rounded to bf16 for bf16 products.
 * bf16 weights need x computing in bf16; fp32 weights under bf16 compute are rounded per call. Adds 2*m*n*k
 * to the FLOP tally and is recorded as a product on weights (packed_b when packed). A failure (oneDNN out of
 * memory, or without an implementation) is recorded in x (sb_exec_failure). */
void sb_gemm_weights(sb_exec *x, bool trans_w, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                     int64_t lda, sb_weight_operand w, float beta, float *c, int64_t ldc);

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
    bool weights_b; /* sb_gemm_weights: B is a linear weight, transposed when trans_b */
    bool packed_b;  /* ... pre-packed for oneDNN's matmul */
    sb_dtype dtype; /* what the product computed in */
    int64_t calls;
} sb_gemm_shape;
/* One product of shape s as the library runs it, on operands already in the shape's type (fp32, or bf16 bit
 * patterns): A (m,k) dense ((k,m) when trans_a), B as the shape stores it ((n,k) when trans_b, packed when
 * packed_b, else (k,n)), C (m,n) dense fp32, alpha 1, beta 0. fp32 takes the path the engine's products take
 * (split across threads as sb_gemm does); bf16 is oneDNN's matmul alone, without the rounding the engine does
 * on the way in (x must compute in bf16). For the benchmark's replay of a forward's shapes and the machine
 * peaks: not counted in the FLOP tally nor recorded; a failure is recorded in x. */
void sb_gemm_replay(sb_exec *x, const sb_gemm_shape *s, const void *a, const void *b, float *c);
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

struct sb_onednn; /* oneDNN's engine, stream, primitive cache and per-thread scratch (onednn.c) */

struct sb_exec {
    sb_exec_settings settings; /* threads resolved */
    char backend_version[160];
    int64_t flops; /* updated with __atomic builtins: attention GEMMs run inside OpenMP loops */
    omp_lock_t record_lock;
    sb_gemm_shape *record_shapes;
    size_t record_capacity, record_count;
    sb_profile profile;
    omp_lock_t onednn_lock;   /* over oneDNN's state: creating it, the primitive cache */
    struct sb_onednn *onednn; /* NULL until a oneDNN product, a packing or a layout query needs it */
    int failed;               /* a product failed since sb_exec_failure last looked (__atomic) */
    sb_error failure;         /* the first such failure */
};

/* Every product's bookkeeping, whichever path runs it: adds 2*m*n*k to the FLOP tally and records the shape
 * when the benchmark is recording. */
void sb_gemm_account(sb_exec *x, bool trans_a, bool trans_b, const sb_weight_operand *w, sb_dtype dtype, int64_t m,
                     int64_t n, int64_t k);
/* sb_gemm_weights on oneDNN's matmul, W in the type x computes in (onednn.c); a failure is recorded in x. */
void sb_onednn_weights(sb_exec *x, bool trans_w, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                       int64_t lda, sb_weight_operand w, float beta, float *c, int64_t ldc);
/* sb_gemm_replay of a bf16 shape (onednn.c). */
void sb_onednn_bf16_replay(sb_exec *x, const sb_gemm_shape *s, const void *a, const void *b, float *c);
/* sb_gemm as a bf16 product on oneDNN (onednn.c); a failure is recorded in x. */
void sb_gemm_bf16(sb_exec *x, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                  const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc);
/* Records the first failure of a product (thread-safe). */
void sb_exec_fail(sb_exec *x, const sb_error *err);
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

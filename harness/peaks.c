/* peaks.c — what this machine can do at best, measured: sgemm through the chosen GEMM backend, an FMA
 * loop in registers, and a stream copy; cached per machine. They are the denominators of MFU and the
 * roofline, so a result says how far a shape is from the machine rather than only how fast it ran. */
#include "harness/harness.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

sb_peak_sizes sb_peak_sizes_default(void)
{
    return (sb_peak_sizes){.sgemm_n = 2048,
                           .stream_bytes = 256ll << 20,
                           .fma_seconds = 0.2,
                           .reps = 3,
                           .min_cpu_share = SB_CONTENDED_SHARE};
}

/* A 2-core AMD EPYC (Zen 5) with OpenBLAS's Haswell kernel on 2 threads, as sb_peaks_measure found it.
 * Fixed figures, so that every machine splits a sweep alike; only their ratios shape the split. */
sb_peaks sb_peaks_reference(void)
{
    return (sb_peaks){.sgemm_gflops = 196.7, .fma_gflops = 450.4, .stream_copy_gbps = 33.2, .sgemm_n = 2048,
                      .stream_bytes = 256ll << 20, .from_cache = false};
}

static int check_sizes(const sb_peak_sizes *z, sb_error *err)
{
    if (z->sgemm_n < 16 || z->sgemm_n > 16384)
        return sb_fail(err, "peak sgemm size %lld is out of range (16..16384)", (long long)z->sgemm_n);
    if (z->stream_bytes < 4096 || z->stream_bytes > (16ll << 30))
        return sb_fail(err, "peak stream size %lld bytes is out of range (4 KiB..16 GiB)", (long long)z->stream_bytes);
    if (!(z->fma_seconds > 0.0 && z->fma_seconds <= 60.0))
        return sb_fail(err, "peak FMA time %g s is out of range (0..60 s]", z->fma_seconds);
    if (z->reps < 1 || z->reps > 100)
        return sb_fail(err, "peak repetitions %d out of range (1..100)", z->reps);
    return 0;
}

/* Peaks are what the machine can do at best: the fastest repetition, since anything else running can only
 * slow one down. */
static double fastest_of(const double *seconds, int n)
{
    return sb_stats_compute(seconds, (size_t)n).min;
}

int sb_peak_gemm_gflops(sb_exec *x, int64_t n, int reps, double *gflops, sb_error *err)
{
    const sb_dtype dtype = sb_exec_compute(x);
    const size_t elems = (size_t)(n * n), a_bytes = 3 * elems * sizeof(float);
    float *a = sb_pages_alloc(a_bytes);
    double *t = malloc((size_t)reps * sizeof *t);
    if (a == NULL || t == NULL) {
        sb_pages_free(a, a_bytes);
        free(t);
        return sb_fail(err, "out of memory for a %lld x %lld product", (long long)n, (long long)n);
    }
    float *b = a + elems, *c = b + elems;
    uint16_t *a16 = (uint16_t *)a, *b16 = a16 + elems; /* bf16 operands: the first half of a's space */
    for (size_t i = 0; i < 2 * elems; i++) {
        const float v = (float)(i % 7) * 0.125f;
        if (dtype == SB_DTYPE_BF16)
            a16[i] = sb_f32_to_bf16(v);
        else
            a[i] = v;
    }
    const void *ap = dtype == SB_DTYPE_BF16 ? (const void *)a16 : a, *bp = dtype == SB_DTYPE_BF16 ? (const void *)b16 : b;
    const sb_gemm_shape shape = {.m = n, .n = n, .k = n, .dtype = dtype};
    /* The first call pays for thread start-up, packing buffers and (oneDNN) the primitive: not the peak. */
    sb_exec_enter(x);
    sb_gemm_replay(x, &shape, ap, bp, c);
    for (int r = 0; r < reps; r++) {
        double start = sb_now_seconds();
        sb_gemm_replay(x, &shape, ap, bp, c);
        t[r] = sb_now_seconds() - start;
    }
    *gflops = 2.0 * (double)n * (double)n * (double)n / fastest_of(t, reps) / 1e9;
    sb_pages_free(a, a_bytes);
    free(t);
    return sb_exec_failure(x, err);
}

/* The build's native vector width in bytes: the chains below stay in its registers. */
#if defined(__AVX512F__)
#define VECTOR_BYTES 64
#elif defined(__AVX__)
#define VECTOR_BYTES 32
#else
#define VECTOR_BYTES 16
#endif
/* FMA latency (4 cycles) times FMA ports (2) needs 8 independent chains to saturate a core; 12 leaves
 * slack and still fits in 16 AVX2 registers with the two constants. */
#define CHAINS 12
#define CHUNK 100000 /* iterations between clock reads */

/* GCC turns FMA contraction off in ISO C mode; the peak is the fused multiply-add rate. */
#if defined(__GNUC__) && !defined(__clang__)
#define CONTRACT_FMA __attribute__((optimize("fp-contract=fast")))
#else
#define CONTRACT_FMA
#endif

/* Defines name(): CHAINS FMA chains in vectors of `bytes`, `iterations` steps, the sum of every lane,
 * with the function attributes that follow (a target ISA; none: the build's own). `start` differs per
 * call, so the compiler cannot run the chains once and reuse the result. */
#define DEFINE_FMA_CHAINS(name, bytes, ...)                                                                    \
    CONTRACT_FMA __VA_ARGS__ static float name(long iterations, float start, float mul, float add)             \
    {                                                                                                          \
        typedef float vec __attribute__((vector_size(bytes)));                                                 \
        vec acc[CHAINS], vmul = {0}, vadd = {0};                                                               \
        vmul += mul;                                                                                           \
        vadd += add;                                                                                           \
        for (int j = 0; j < CHAINS; j++)                                                                       \
            acc[j] = vmul * (start + (float)j);                                                                \
        for (long it = 0; it < iterations; it++)                                                               \
            _Pragma("GCC unroll 16") for (int j = 0; j < CHAINS; j++) acc[j] = acc[j] * vmul + vadd;           \
        float sum = 0.0f;                                                                                      \
        for (int j = 0; j < CHAINS; j++)                                                                       \
            for (int l = 0; l < (bytes) / 4; l++)                                                              \
                sum += acc[j][l];                                                                              \
        return sum;                                                                                            \
    }

/* The build's own width (the machine peaks' FMA figure), and 256 and 512 bits whatever the build flags,
 * run where the CPU has them: the ceilings of AVX2 and AVX-512 GEMM kernels (sb_gemm_vector_bits). */
DEFINE_FMA_CHAINS(fma_chains_native, VECTOR_BYTES)
#if defined(__x86_64__) && defined(__GNUC__)
DEFINE_FMA_CHAINS(fma_chains_256, 32, __attribute__((target("avx2,fma"))))
DEFINE_FMA_CHAINS(fma_chains_512, 64, __attribute__((target("avx512f"))))
#define HAVE_WIDTH_CHAINS 1
#endif

typedef float (*fma_chains_fn)(long iterations, float start, float mul, float add);

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
/* AVX512-BF16's dot product: each vdpbf16ps adds to every fp32 lane of acc the products of a pair of bf16
 * lanes of a and b, 64 FLOPs per 512-bit instruction (32 multiply-adds), twice the fp32 FMA's 32. The
 * ceiling of a bf16 GEMM kernel on AVX512-BF16 (oneDNN's avx512_core_bf16). */
__attribute__((target("avx512bf16,avx512f"))) static float bf16_dot_chains(long iterations, float start,
                                                                           float mul, float add)
{
    __m512 acc[CHAINS];
    const __m512bh a = (__m512bh)_mm512_set1_epi16((short)sb_f32_to_bf16(mul));
    const __m512bh b = (__m512bh)_mm512_set1_epi16((short)sb_f32_to_bf16(add));
    for (int j = 0; j < CHAINS; j++)
        acc[j] = _mm512_set1_ps(start + (float)j);
    for (long it = 0; it < iterations; it++)
        _Pragma("GCC unroll 16") for (int j = 0; j < CHAINS; j++) acc[j] = _mm512_dpbf16_ps(acc[j], a, b);
    float sum = 0.0f;
    for (int j = 0; j < CHAINS; j++)
        sum += _mm512_reduce_add_ps(acc[j]);
    return sum;
}
#define HAVE_BF16_DOT_CHAINS 1
#endif

/* The chains `bits` wide this build and CPU run, NULL when none. */
static fma_chains_fn chains_of_width(int bits)
{
    if (bits == VECTOR_BYTES * 8)
        return fma_chains_native;
#ifdef HAVE_WIDTH_CHAINS
    if (bits == 256 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return fma_chains_256;
    if (bits == 512 && __builtin_cpu_supports("avx512f"))
        return fma_chains_512;
#endif
    return NULL;
}

/* Every thread runs chunks of chains until `seconds` have passed, each chunk CHAINS x CHUNK instructions of
 * flops_per_op FLOPs; FLOPs over the wall time of the whole team. */
static double measure_chains_once(double seconds, fma_chains_fn chains, double flops_per_op)
{
    double flops = 0.0, sink = 0.0;
    double start = sb_now_seconds();
#pragma omp parallel reduction(+ : flops, sink)
    {
        long chunks = 0;
        do {
            sink += chains(CHUNK, (float)chunks, 0.9999f, 1e-4f); /* tends to 1: no overflow, no denormals */
            chunks++;
        } while (sb_now_seconds() - start < seconds);
        flops += flops_per_op * CHAINS * CHUNK * (double)chunks;
    }
    double elapsed = sb_now_seconds() - start;
    return isnan(sink) ? NAN : flops / elapsed / 1e9; /* sink is read so the chains are not dead code */
}

int sb_peak_fma_gflops(int bits, double seconds, int reps, double *gflops, sb_error *err)
{
    const fma_chains_fn chains = chains_of_width(bits);
    if (chains == NULL)
        return sb_fail(err, "no %d-bit FMA on this CPU or in this build (its own width: %d bits)", bits,
                       VECTOR_BYTES * 8);
    if (!(seconds > 0.0) || reps < 1)
        return sb_fail(err, "an FMA peak needs time (%g s) and repetitions (%d)", seconds, reps);
    *gflops = 0;
    for (int r = 0; r < reps; r++) {
        const double g = measure_chains_once(seconds / reps, chains, 2.0 * (bits / 32));
        *gflops = g > *gflops ? g : *gflops;
    }
    return *gflops > 0 ? 0 : sb_fail(err, "the %d-bit FMA peak measured no work", bits);
}

int sb_peak_bf16_dot_gflops(double seconds, int reps, double *gflops, sb_error *err)
{
#ifdef HAVE_BF16_DOT_CHAINS
    if (!__builtin_cpu_supports("avx512bf16"))
        return sb_fail(err, "this CPU has no AVX512-BF16 (vdpbf16ps)");
    if (!(seconds > 0.0) || reps < 1)
        return sb_fail(err, "a bf16 dot peak needs time (%g s) and repetitions (%d)", seconds, reps);
    *gflops = 0;
    for (int r = 0; r < reps; r++) {
        const double g = measure_chains_once(seconds / reps, bf16_dot_chains, 64.0);
        *gflops = g > *gflops ? g : *gflops;
    }
    return *gflops > 0 ? 0 : sb_fail(err, "the bf16 dot peak measured no work");
#else
    (void)seconds, (void)reps, (void)gflops;
    return sb_fail(err, "this build has no AVX512-BF16 code (x86-64 with GCC only)");
#endif
}

/* A context on x's threads computing in `compute` on `backend`. */
static int context_beside(const sb_exec *x, sb_gemm_backend backend, sb_dtype compute, sb_exec **out, sb_error *err)
{
    sb_exec_settings xs;
    sb_exec_settings_default(&xs);
    xs.backend = backend;
    xs.threads = sb_exec_threads(x);
    xs.compute = compute;
    return sb_exec_create(out, &xs, err);
}

/* The bf16 peaks: oneDNN's bf16 matmul on the sgemm cube and vdpbf16ps chains; both 0 with the reason in
 * bf16_unavailable where bf16 does not run on bf16 instructions. */
static int measure_bf16(const sb_exec *x, const sb_peak_sizes *sizes, sb_peaks *out, sb_error *err)
{
    sb_error why;
    sb_exec *bf16 = NULL;
    if (sb_bf16_available(&why) != 0 || context_beside(x, SB_GEMM_ONEDNN, SB_DTYPE_BF16, &bf16, &why) != 0) {
        snprintf(out->bf16_unavailable, sizeof out->bf16_unavailable, "%s", why.msg);
        return 0;
    }
    int rc = sb_peak_gemm_gflops(bf16, sizes->sgemm_n, sizes->reps, &out->bf16_gemm_gflops, err);
    sb_exec_free(bf16);
    sb_exec_enter(x);
    if (rc == 0 && sb_peak_bf16_dot_gflops(sizes->fma_seconds, sizes->reps, &out->bf16_dot_gflops, &why) != 0)
        snprintf(out->bf16_unavailable, sizeof out->bf16_unavailable, "%s", why.msg);
    return rc;
}

static int measure_stream(int64_t bytes, int reps, double *gbps, sb_error *err)
{
    size_t n = (size_t)bytes / sizeof(float);
    const size_t a_bytes = 2 * n * sizeof(float);
    float *a = sb_pages_alloc(a_bytes);
    double *t = malloc((size_t)reps * sizeof *t);
    if (a == NULL || t == NULL) {
        sb_pages_free(a, a_bytes);
        free(t);
        return sb_fail(err, "out of memory for two %lld-byte stream arrays", (long long)bytes);
    }
    float *b = a + n;
    /* First touch with the copy's schedule, so each thread's pages sit on its own NUMA node. */
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        a[i] = (float)(i & 1023);
        b[i] = 0.0f;
    }
    for (int r = -1; r < reps; r++) { /* r = -1: warm-up */
        double start = sb_now_seconds();
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++)
            b[i] = a[i];
        if (r >= 0)
            t[r] = sb_now_seconds() - start;
    }
    /* STREAM's convention: bytes read plus bytes written (write-allocate traffic is not counted). */
    *gbps = 2.0 * (double)n * sizeof(float) / fastest_of(t, reps) / 1e9;
    bool copied = b[n - 1] == a[n - 1];
    sb_pages_free(a, a_bytes);
    free(t);
    return copied ? 0 : sb_fail(err, "stream copy produced wrong data");
}

int sb_peaks_measure(sb_exec *x, const sb_peak_sizes *sizes, sb_peaks *out, sb_error *err)
{
    if (check_sizes(sizes, err) != 0)
        return -1;
    sb_exec_enter(x);
    memset(out, 0, sizeof *out);
    out->sgemm_n = sizes->sgemm_n;
    out->stream_bytes = sizes->stream_bytes;
    /* sgemm on x's backend in fp32, whatever x computes in */
    sb_exec *f32 = NULL;
    if (context_beside(x, sb_exec_backend(x), SB_DTYPE_F32, &f32, err) != 0)
        return -1;
    const int rc = sb_peak_gemm_gflops(f32, sizes->sgemm_n, sizes->reps, &out->sgemm_gflops, err);
    sb_exec_free(f32);
    sb_exec_enter(x);
    if (rc != 0 ||
        measure_stream(sizes->stream_bytes, sizes->reps, &out->stream_copy_gbps, err) != 0)
        return -1;
    if (sb_peak_fma_gflops(VECTOR_BYTES * 8, sizes->fma_seconds, sizes->reps, &out->fma_gflops, err) != 0 ||
        measure_bf16(x, sizes, out, err) != 0)
        return -1;
    if (!(out->sgemm_gflops > 0 && out->fma_gflops > 0 && out->stream_copy_gbps > 0))
        return sb_fail(err, "peak measurement gave a non-positive rate");
    return 0;
}

/* ---- cache ---------------------------------------------------------------------------------------- */

/* File name from what decides the peaks; anything but [A-Za-z0-9.] becomes one '-'. */
static void cache_key(const sb_sysinfo *s, char *out, size_t size)
{
    char raw[512];
    /* "-hp": measured on huge pages, as the engine's arenas are (earlier caches were not). */
    snprintf(raw, sizeof raw, "%s-%dc-%s-%s-%dt-hp", s->cpu_model, s->logical_cores, s->gemm_backend,
             s->openblas_core, s->threads);
    size_t j = 0;
    for (size_t i = 0; raw[i] != '\0' && j + 1 < size; i++) {
        bool keep = isalnum((unsigned char)raw[i]) || raw[i] == '.';
        if (keep)
            out[j++] = raw[i];
        else if (j > 0 && out[j - 1] != '-')
            out[j++] = '-';
    }
    out[j] = '\0';
}

/* A positive finite number field of the cache; NaN when absent or anything else. */
static double rate_field(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble > 0 ? v->valuedouble : NAN;
}

/* A bf16 peak of the cache: a finite number, 0 where bf16 does not run; NaN when absent or anything else. */
static double bf16_field(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble >= 0 ? v->valuedouble : NAN;
}

/* A whole-number field equal to `want`: the sizes the cached peaks were measured at. */
static bool size_field_is(const cJSON *o, const char *name, int64_t want)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) && v->valuedouble == (double)want;
}

/* Reads a cache file measured with the same sizes; false when absent, unreadable, not one JSON object of
 * positive rates, or for other sizes. */
static bool load_cache(const char *path, const sb_peak_sizes *sizes, sb_peaks *out)
{
    char *text = NULL;
    size_t len = 0;
    if (sb_read_file(path, &text, &len, NULL) != 0)
        return false;
    cJSON *o = len < 4096 && memchr(text, '\0', len) == NULL ? cJSON_ParseWithOpts(text, NULL, true) : NULL;
    free(text);
    sb_peaks p = {
        .sgemm_gflops = rate_field(o, "sgemm_gflops"),
        .fma_gflops = rate_field(o, "fma_gflops"),
        .stream_copy_gbps = rate_field(o, "stream_copy_gbps"),
        .sgemm_n = sizes->sgemm_n,
        .stream_bytes = sizes->stream_bytes,
        .bf16_gemm_gflops = bf16_field(o, "bf16_gemm_gflops"),
        .bf16_dot_gflops = bf16_field(o, "bf16_dot_gflops"),
        .from_cache = true,
    };
    const cJSON *why = cJSON_GetObjectItemCaseSensitive(o, "bf16_unavailable");
    if (cJSON_IsString(why))
        snprintf(p.bf16_unavailable, sizeof p.bf16_unavailable, "%s", why->valuestring);
    const bool same_sizes = size_field_is(o, "sgemm_n", sizes->sgemm_n) &&
                            size_field_is(o, "stream_bytes", sizes->stream_bytes);
    cJSON_Delete(o);
    /* a file from before the bf16 peaks lacks them (NaN): measured again */
    if (!same_sizes || isnan(p.sgemm_gflops) || isnan(p.fma_gflops) || isnan(p.stream_copy_gbps) ||
        isnan(p.bf16_gemm_gflops) || isnan(p.bf16_dot_gflops))
        return false;
    *out = p;
    return true;
}

/* Replaced whole (sb_write_text_atomic): a concurrent reader never sees half a file. */
static int save_cache(const char *dir, const char *path, const char *key, const sb_sysinfo *sys,
                      const sb_peaks *p, sb_error *err)
{
    if (sb_mkdir_p(dir, err) != 0)
        return -1;
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return sb_fail(err, "out of memory");
    cJSON_AddStringToObject(o, "key", key);
    cJSON_AddStringToObject(o, "measured_at", sys->date);
    cJSON_AddNumberToObject(o, "sgemm_gflops", p->sgemm_gflops);
    cJSON_AddNumberToObject(o, "fma_gflops", p->fma_gflops);
    cJSON_AddNumberToObject(o, "stream_copy_gbps", p->stream_copy_gbps);
    cJSON_AddNumberToObject(o, "sgemm_n", (double)p->sgemm_n);
    cJSON_AddNumberToObject(o, "stream_bytes", (double)p->stream_bytes);
    cJSON_AddNumberToObject(o, "bf16_gemm_gflops", p->bf16_gemm_gflops);
    cJSON_AddNumberToObject(o, "bf16_dot_gflops", p->bf16_dot_gflops);
    if (p->bf16_unavailable[0] != '\0')
        cJSON_AddStringToObject(o, "bf16_unavailable", p->bf16_unavailable);
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (text == NULL)
        return sb_fail(err, "out of memory");
    const int rc = sb_write_text_atomic(path, text, true, err);
    free(text);
    return rc;
}

int sb_peaks_cache_dir(char *out, size_t cap, sb_error *err)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;
    /* The XDG base-directory rule: a relative $XDG_CACHE_HOME is ignored. */
    if (xdg != NULL && xdg[0] == '/')
        n = snprintf(out, cap, "%s/shapebench/peaks", xdg);
    else if (home != NULL && home[0] == '/')
        n = snprintf(out, cap, "%s/.cache/shapebench/peaks", home);
    else
        return sb_fail(err, "neither XDG_CACHE_HOME nor HOME names a folder to cache the machine peaks in");
    return n < (int)cap ? 0 : sb_fail(err, "the peaks cache folder's path is too long");
}

static void warn_of(sb_warn_fn warn, void *warn_ctx, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void warn_of(sb_warn_fn warn, void *warn_ctx, const char *fmt, ...)
{
    if (warn == NULL)
        return;
    char message[SB_ERROR_MAX + SB_PATH_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    warn(warn_ctx, message);
}

int sb_peaks_cached(sb_exec *x, const sb_sysinfo *sys, const sb_peak_sizes *sizes, const char *cache_dir,
                    bool refresh, sb_warn_fn warn, void *warn_ctx, sb_peaks *out, sb_error *err)
{
    char dir[SB_PATH_MAX], key[256], path[SB_PATH_MAX + 300];
    sb_error why;
    bool cacheable = cache_dir != NULL ? snprintf(dir, sizeof dir, "%s", cache_dir) < (int)sizeof dir
                                       : sb_peaks_cache_dir(dir, sizeof dir, &why) == 0;
    if (cache_dir != NULL && !cacheable)
        snprintf(why.msg, sizeof why.msg, "the cache folder's path is too long");
    cache_key(sys, key, sizeof key);
    snprintf(path, sizeof path, "%s/%s.json", dir, key);
    if (cacheable && !refresh && load_cache(path, sizes, out))
        return 0;
    double start = sb_now_seconds(), cpu = sb_cpu_seconds();
    if (sb_peaks_measure(x, sizes, out, err) != 0)
        return -1;
    double wall = sb_now_seconds() - start;
    /* Peaks measured while other work ran would make every later MFU too high: used for this run only,
     * not cached, so the next run measures again. */
    double share = (sb_cpu_seconds() - cpu) / (wall * sys->threads);
    if (share < sizes->min_cpu_share) {
        warn_of(warn, warn_ctx, "the machine peaks were measured while other work ran (%.0f %% of %d threads' CPU "
                                "time); not caching them", 100 * share, sys->threads);
        return 0;
    }
    /* A cache that cannot be written costs the next run a measurement, nothing more. */
    if (!cacheable || save_cache(dir, path, key, sys, out, &why) != 0)
        warn_of(warn, warn_ctx, "the machine peaks are not cached (%s); the next run measures them again", why.msg);
    return 0;
}

/* ---- roofline and MFU ----------------------------------------------------------------------------- */

double sb_peak_gemm_for(const sb_peaks *peaks, sb_dtype compute)
{
    const double g = compute == SB_DTYPE_BF16 ? peaks->bf16_gemm_gflops : peaks->sgemm_gflops;
    return g > 0 ? g : NAN;
}

sb_roofline sb_roofline_classify(double flops, double bytes, double seconds, const sb_peaks *peaks, sb_dtype compute)
{
    sb_roofline r;
    r.arithmetic_intensity = bytes > 0 ? flops / bytes : INFINITY;
    r.achieved_gflops = seconds > 0 ? flops / seconds / 1e9 : NAN;
    r.ridge_intensity = peaks != NULL && peaks->stream_copy_gbps > 0
                            ? sb_peak_gemm_for(peaks, compute) / peaks->stream_copy_gbps
                            : NAN;
    r.compute_bound = r.arithmetic_intensity >= r.ridge_intensity;
    return r;
}

cJSON *sb_roofline_to_json(const sb_roofline *r)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    cJSON_AddNumberToObject(o, "arithmetic_intensity", r->arithmetic_intensity);
    cJSON_AddNumberToObject(o, "achieved_gflops", r->achieved_gflops);
    if (isnan(r->ridge_intensity))
        cJSON_AddNullToObject(o, "bound");
    else
        cJSON_AddStringToObject(o, "bound", r->compute_bound ? "compute" : "memory");
    return o;
}

double sb_mfu(double achieved_gflops, const sb_peaks *peaks, sb_dtype compute)
{
    return peaks != NULL ? achieved_gflops / sb_peak_gemm_for(peaks, compute) : NAN;
}

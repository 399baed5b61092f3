/* harness.h — what the harness/ module offers: measuring shapes honestly and turning each measurement into
 * a result record.
 *
 *   - statistics on timing samples (median with a confidence interval, two-pass stddev, CV, Mann-Whitney U);
 *   - hardware and software counters through libpfm4 / perf_event_open (null with a reason when absent);
 *   - system description and measured machine peaks (sgemm, FMA loop, stream copy), cached per machine;
 *   - the timing loop, measurement of a shape in a mode (encode, forward, generate, train), extrapolation
 *     for shapes too big or slow, and the verdict on each measurement;
 *   - whether the cores are free for a measurement (other processes' CPU use), and waiting for them;
 *   - the record of a measurement (written into record/'s schema), sweep specs, presets and shards.
 *
 * Depends on record/, engine/, variants/ and common/.
 */
#ifndef SHAPEBENCH_HARNESS_H
#define SHAPEBENCH_HARNESS_H

#include "engine/engine.h"
#include "record/record.h"

/* ---- statistics, counters, system, peaks (measurement infrastructure) ---------------------------- */

#include <cjson/cJSON.h>

/* Summary of timing samples (seconds). stddev is the two-pass sample standard deviation (n - 1); cv is
 * stddev / mean. ci95 is the distribution-free order-statistic interval for the median: the ranks come
 * from Binomial(n, 1/2), so it holds for any distribution of samples. When n is too small for any pair of
 * ranks to reach 95 % (n < 6) it is [min, max], ci95_exact is false and ci95_coverage says what it covers. */
typedef struct {
    size_t n;
    double median, mean, stddev, min, max, cv;
    double p90, p99; /* nearest-rank percentiles: the smallest sample at or above 90 % (99 %) of them */
    double ci95_lo, ci95_hi;
    double ci95_coverage; /* P(lo <= true median <= hi), >= 0.95 when ci95_exact */
    bool ci95_exact;
} sb_stats;

#define SB_NOISY_CV 0.05 /* a measurement whose CV exceeds 5 % is reported as `noisy` */

/* n == 0 gives every field NaN. Samples need not be sorted; they are not modified. */
sb_stats sb_stats_compute(const double *samples, size_t n);
bool sb_stats_noisy(const sb_stats *s);
/* 1-based ranks (lo, hi) of the 95 % order-statistic interval for the median of n samples and its exact
 * coverage; returns false (and ranks 1, n) when no interval reaches 95 %. */
bool sb_median_ci_ranks(size_t n, size_t *lo, size_t *hi, double *coverage);
/* Mann-Whitney U test of a against b: u is U of sample a (pairs with a > b, ties count half), p is
 * two-sided. Exact (permutation distribution) when there are no ties and na + nb <= 40, else the normal
 * approximation with tie and continuity corrections. Fails when either sample is empty. */
int sb_mann_whitney(const double *a, size_t na, const double *b, size_t nb, double *u, double *p_two_sided,
                    sb_error *err);
/* The record's `timing` fields from the statistics: unit, samples, median, mean, stddev, min, max, cv,
 * ci95_median [lo, hi]. NULL on allocation failure. */
cJSON *sb_stats_to_json(const sb_stats *s, const double *samples);

/* CPU seconds (user + system) this process has used, every thread: over a region, compared with its wall
 * time times the threads, it says whether the threads had the cores to themselves. */
double sb_cpu_seconds(void);

/* Counters around a timed region: hardware events through libpfm4 (cycles, instructions, fp32 FLOPs where
 * the PMU counts them, last-level cache misses) and software events through perf_event_open (task clock,
 * page faults, context switches), summed over every thread of the process (threads existing at open, and
 * by inheritance the ones they create later — so open after the thread pool is warm) and scaled for
 * multiplexing. Hardware events are unavailable, with one reason, where the PMU is not exposed (virtual
 * machines) or SHAPEBENCH_NO_HW_COUNTERS=1 is set; they are then null, never 0. */
typedef enum {
    SB_COUNTER_CYCLES,
    SB_COUNTER_INSTRUCTIONS,
    SB_COUNTER_FP_OPS,       /* fp32 FLOPs (FMA counted as 2) */
    SB_COUNTER_CACHE_MISSES, /* last-level cache */
    SB_COUNTER_TASK_CLOCK,   /* ns of CPU time */
    SB_COUNTER_PAGE_FAULTS,
    SB_COUNTER_CONTEXT_SWITCHES,
    SB_COUNTER_COUNT
} sb_counter_id;

typedef struct {
    const char *name;   /* record key: "cycles", "instructions", "fp_ops", "cache_misses", "task_clock_ns", ... */
    char source[160];   /* what was counted, e.g. "perf::PERF_COUNT_HW_CPU_CYCLES"; empty when unavailable */
    bool available;
    double value;       /* after the region, scaled by enabled / running time */
    double scaled_from; /* fraction of the region the event was counting (1: no multiplexing) */
} sb_counter;

typedef struct sb_counter_fds sb_counter_fds; /* the open perf_event descriptors */

typedef struct {
    sb_counter counter[SB_COUNTER_COUNT];
    char unavailable_reason[SB_ERROR_MAX]; /* why hardware events are unavailable; empty when they are not */
    sb_counter_fds *fds;
} sb_counters;

/* Opens every event (disabled). Fails only when the software events cannot be opened. */
int sb_counters_open(sb_counters *c, sb_error *err);
int sb_counters_start(sb_counters *c, sb_error *err); /* resets and enables */
int sb_counters_stop(sb_counters *c, sb_error *err);  /* disables and reads the values */
void sb_counters_close(sb_counters *c);
/* The record's `counters` object: per event {value, scaled_from} (null when unavailable), plus
 * unavailable_reason. NULL on allocation failure. */
cJSON *sb_counters_to_json(const sb_counters *c);

/* The machine and build a measurement ran on. */
typedef struct {
    char cpu_model[256];
    char node[256];       /* SLURMD_NODENAME in a Slurm job, else the host name */
    int64_t slurm_job_id; /* SLURM_ARRAY_JOB_ID, else SLURM_JOB_ID; -1 outside Slurm */
    int64_t slurm_array_task_id; /* SLURM_ARRAY_TASK_ID; -1 outside a job array */
    char cpu_flags[256];  /* the flags that matter here, of avx avx2 fma avx512f avx512_bf16 amx_bf16 */
    int logical_cores;
    int64_t last_level_cache_bytes; /* sb_last_level_cache_bytes */
    int threads;          /* used by GEMM and OpenMP (sb_exec_threads) */
    char gemm_backend[32];
    char gemm_version[160];
    char onednn_isa[48];  /* sb_onednn_isa_name: what oneDNN dispatches to, whatever the backend */
    char openblas_core[64];
    int openblas_threads;
    char compiler[128];
    char build_flags[512]; /* the Makefile's CFLAGS (SB_BUILD_FLAGS), "unknown" when not built by it */
    char git_commit[64];  /* short hash, "-dirty" with uncommitted changes, "unknown" outside a checkout */
    char date[32];        /* ISO 8601 UTC */
    double load_average[3];
} sb_sysinfo;

/* The machine, and the GEMM backend and threads of x. */
int sb_sysinfo_collect(sb_sysinfo *s, const sb_exec *x, sb_error *err);
/* The largest CPU cache (L3, else L2) in bytes, as the C library reads it from the CPU; 0 when unknown.
 * A virtual machine reports its host's, which other guests share. */
int64_t sb_last_level_cache_bytes(void);

/* Measured machine peaks, the reference for MFU and the roofline. */
typedef struct {
    double sgemm_gflops;     /* sb_peak_gemm_gflops(sgemm_n, reps) in fp32 on the context's backend */
    double fma_gflops;       /* fp32 FMA chains on every thread, in registers */
    /* bf16: sb_peak_gemm_gflops in a oneDNN context computing in bf16, and sb_peak_bf16_dot_gflops; 0 with
     * the reason in bf16_unavailable where oneDNN has no bf16 instructions to run on. */
    double bf16_gemm_gflops, bf16_dot_gflops;
    char bf16_unavailable[SB_ERROR_MAX];
    double stream_copy_gbps; /* b[i] = a[i], bytes read + written per second (1e9 bytes) */
    int64_t sgemm_n;
    int64_t stream_bytes;    /* size of each array */
    bool from_cache;
} sb_peaks;

typedef struct {
    int64_t sgemm_n;      /* 2048 by default */
    int64_t stream_bytes; /* 256 MiB by default, well above any last-level cache */
    double fma_seconds;   /* per repetition, 0.2 s by default */
    int reps;             /* the fastest of reps, 3 by default */
    /* Peaks measured while the process got less than this share of its threads' CPU time are used but
     * not cached (SB_CONTENDED_SHARE by default; 0 caches whatever was measured). */
    double min_cpu_share;
} sb_peak_sizes;

sb_peak_sizes sb_peak_sizes_default(void);
/* The peaks of a reference machine, fixed: what shards are balanced by (the same split on every machine). */
sb_peaks sb_peaks_reference(void);
/* fp32 FMA chains in registers `bits` wide (the build's own width, or 256 / 512 where the CPU has AVX2 /
 * AVX-512, whatever the build flags) on every thread, fastest of reps runs sharing `seconds`: the ceiling
 * of a GEMM kernel computing at that width (sb_gemm_vector_bits). Fails, saying so, for another width. */
int sb_peak_fma_gflops(int bits, double seconds, int reps, double *gflops, sb_error *err);
/* vdpbf16ps chains in registers on every thread (64 FLOPs per instruction), fastest of reps runs sharing
 * `seconds`: the ceiling of a bf16 GEMM kernel on AVX512-BF16. Fails, saying so, without it. */
int sb_peak_bf16_dot_gflops(double seconds, int reps, double *gflops, sb_error *err);
/* Every peak, measured in contexts beside x (its backend and threads; bf16 on oneDNN). */
int sb_peaks_measure(sb_exec *x, const sb_peak_sizes *sizes, sb_peaks *out, sb_error *err);
/* x's GEMM rate (GFLOP/s) on an n x n x n product in the type x computes in, as the library runs it
 * (sb_gemm_replay: bf16 operands already rounded): the fastest of reps calls after one warm-up call. */
int sb_peak_gemm_gflops(sb_exec *x, int64_t n, int reps, double *gflops, sb_error *err);
/* Where the peaks are cached by default: $XDG_CACHE_HOME/shapebench/peaks, else
 * $HOME/.cache/shapebench/peaks; -1 when neither names an absolute folder. */
int sb_peaks_cache_dir(char *out, size_t cap, sb_error *err);
/* Peaks cached per machine in <cache_dir>/<key>.json, key from CPU model, cores, GEMM backend, OpenBLAS
 * core and threads (cache_dir NULL: sb_peaks_cache_dir). Measures and writes the file when it is absent,
 * unreadable or `refresh`. Fails only when the peaks cannot be measured: a cache that cannot be written
 * (or contended peaks, which are never cached) is a warning, and the measured peaks are returned. */
int sb_peaks_cached(sb_exec *x, const sb_sysinfo *sys, const sb_peak_sizes *sizes, const char *cache_dir,
                    bool refresh, sb_warn_fn warn, void *warn_ctx, sb_peaks *out, sb_error *err);
/* The record's `system` object, with the peaks when not NULL. NULL on allocation failure. */
cJSON *sb_sysinfo_to_json(const sb_sysinfo *s, const sb_peaks *peaks);

/* The GEMM peak of products computing in `compute` (sgemm_gflops or bf16_gemm_gflops); NaN when not measured. */
double sb_peak_gemm_for(const sb_peaks *peaks, sb_dtype compute);
/* Where an op class sits against the measured roofline: compute-bound when its arithmetic intensity is at
 * or above the ridge point (the GEMM peak of its compute type) / stream_copy_gbps (FLOP/byte). Without peaks
 * (NULL) the ridge is NaN and the bound unknown (null in JSON). */
typedef struct {
    double arithmetic_intensity; /* FLOP/byte */
    double achieved_gflops;
    double ridge_intensity;      /* FLOP/byte */
    bool compute_bound;
} sb_roofline;

sb_roofline sb_roofline_classify(double flops, double bytes, double seconds, const sb_peaks *peaks, sb_dtype compute);
cJSON *sb_roofline_to_json(const sb_roofline *r); /* arithmetic_intensity, achieved_gflops, bound */
/* Model FLOPs utilisation: achieved / the measured GEMM peak of the compute type (NaN without one, or peaks
 * NULL). */
double sb_mfu(double achieved_gflops, const sb_peaks *peaks, sb_dtype compute);


/* ---- measurement, records, results files, sweep -------------------------------------------------- */

#include <stdio.h>

#define SB_KEY_MAX (SB_NAME_MAX + 128)

/* train: one training step (encoder + teacher-forced decoder forward keeping activations, backward, T5's
 * Adafactor update) on random tokens; never sampled (its parts cannot be split per stack). */
typedef enum { SB_MODE_ENCODE = 0, SB_MODE_FORWARD = 1, SB_MODE_GENERATE = 2, SB_MODE_TRAIN = 3 } sb_mode;
#define SB_MODE_COUNT 4
const char *sb_mode_name(sb_mode mode); /* "encode" | "forward" | "generate" | "train" */
int sb_mode_parse(const char *name, sb_mode *out, sb_error *err);

/* Everything about one measurement but the shape. */
typedef struct {
    sb_mode mode;
    int64_t batch, src_len, tgt_len;
    sb_precision precision; /* what the products compute in and the weights are stored in */
    int threads;
    sb_gemm_backend gemm;
    uint64_t seed;
    int64_t warmup;     /* untimed repetitions before the timed ones */
    int64_t min_reps;   /* timed repetitions: at least min_reps and at least min_time_s in total, */
    double min_time_s;  /* stopping before one would pass max_time_s (min_reps always run); a shape whose */
    double max_time_s;  /* min_reps repetitions would not fit in max_time_s is timed on sampled layers */
    bool always_sample; /* time on sampled layers even when the full model fits (to validate the method) */
} sb_run_settings;

/* The thread count the settings resolve to: threads, or every thread OpenMP would use when it is 0. */
int sb_run_settings_threads(const sb_run_settings *s);
/* The execution context the settings measure in: their backend and threads, products split across the
 * threads, oneDNN's weights pre-packed. */
int sb_run_settings_exec(const sb_run_settings *s, sb_exec **out, sb_error *err);
/* The weights' storage type: the precision's (training keeps fp32 master weights). */
sb_dtype sb_run_settings_storage(const sb_run_settings *s);
/* Whether the settings can run here: bf16 products need the oneDNN backend and a CPU oneDNN runs bf16 on
 * (sb_bf16_available); 0, or -1 with a message saying which and what to do. */
int sb_run_settings_check(const sb_run_settings *s, sb_error *err);
/* encode forward at batch 1, 512/114 tokens, f32, all threads, OpenBLAS, 1 warmup, 3 reps, 0.5..60 s. */
void sb_run_settings_default(sb_run_settings *s);
/* "shape|mode|b1|s512|t114|f32|openblas|t2": what makes two records the same measurement (resume, merge,
 * compare). The shape is sb_config_identity's (a name, or a name and a hash of the config it does not
 * describe alone); threads 0 (all) is written as the count it resolves to, so a rerun matches. */
void sb_record_key(const sb_config *cfg, const sb_run_settings *s, char out[SB_KEY_MAX]);

/* -- the timing loop (timing.c) -- */

/* What one repetition of the timed work took. */
typedef struct {
    /* [0] the encoder's seconds, [1] the rest (the decoder, generation, LM head): each part's time is
     * affine in its own stack's depth. */
    double parts_s[2];
    /* Of each part, the seconds inside its stack's blocks (sb_profile): the depth-proportional share. */
    double blocks_s[2];
} sb_rep_times;
typedef int (*sb_rep_fn)(void *ctx, sb_rep_times *out, sb_error *err);

typedef struct {
    double *samples;    /* seconds per timed repetition (parts[0][i] + parts[1][i]) */
    double *parts[2];   /* sb_rep_times.parts_s per timed repetition */
    double *blocks[2];  /* sb_rep_times.blocks_s per timed repetition */
    size_t reps;
    int64_t warmup;
    double first_rep_s; /* the first repetition run, warmup or not */
    bool too_slow;      /* stopped after the first repetition: min_reps of it would not fit in max_time_s */
    /* Contention evidence over the timed repetitions (getrusage of the whole process, every thread):
     * CPU seconds used, wall seconds, and involuntary context switches (preemptions by other work). */
    double cpu_s, wall_s;
    int64_t preemptions;
} sb_timing;

/* Warmup, then timed repetitions per sb_run_settings. With stop_when_slow, gives up after the first
 * repetition when min_reps of it would not fit in max_time_s (too_slow set, no samples). */
int sb_time_reps(sb_rep_fn fn, void *ctx, const sb_run_settings *s, bool stop_when_slow, sb_timing *out,
                 sb_error *err);
/* Room for `capacity` samples in every per-repetition array (realloc: the samples so far are kept). */
int sb_timing_reserve(sb_timing *t, size_t capacity, sb_error *err);
void sb_timing_free(sb_timing *t);

/* -- sampled-layer extrapolation (extrapolate.c) -- */

/* Blocks of a stack are identical, except Switch sparse blocks, which recur every sparse_step blocks; so a
 * stack's time is its fixed work plus its depth, counted in whole periods, times a period's time. A shape
 * too big or too slow is timed on a few sampled periods per stack, the engine's profile measures the time
 * spent inside the blocks in every repetition, and each repetition is extended to full depth by its own
 * per-block time. */
typedef struct {
    int64_t depth[2]; /* [stack]: blocks timed */
    int64_t full[2];  /* [stack]: the shape's depth */
} sb_sample_plan;

#define SB_SAMPLE_PERIODS 4 /* the sampled depth in periods, unless that does not fit in memory */
/* `periods` periods per stack, capped at the full depth. */
void sb_sample_plan_make(const sb_config *cfg, int64_t periods, sb_sample_plan *plan);
/* Raises the plan's depth of `stack` to at least `blocks`, in whole periods, capped at the full depth. */
void sb_sample_plan_cover(sb_sample_plan *plan, const sb_config *cfg, sb_stack stack, int64_t blocks);
/* cfg with the sampled depths, named like cfg. */
void sb_sample_config(const sb_config *cfg, const sb_sample_plan *plan, sb_config *out);
/* A quantity measured on `depth` blocks, `in_blocks` of it inside them, at `full` blocks:
 * value + in_blocks * (full - depth) / depth. */
double sb_extrapolate_depth(double value, double in_blocks, int64_t depth, int64_t full);
/* Full-depth samples: each of the sampled run's repetitions extended per part by its own block time (none
 * for a stack the mode does not run: encode's decoder). Fails when there are no samples. */
int sb_extrapolate_timing(const sb_sample_plan *plan, const sb_timing *sampled, sb_timing *out, sb_error *err);
/* One line for the record's extrapolation.method. */
void sb_sample_plan_describe(const sb_sample_plan *plan, char *out, size_t cap);

/* -- one measurement (measure.c) -- */

typedef struct {
    char verdict[SB_ERROR_MAX + 64]; /* ok | noisy | extrapolated | contended: <why> | skipped: <why> | failed: <why> */
    sb_timing timing;           /* full depth; extrapolated from sampled runs when `extrapolated` */
    bool measured;              /* timing holds samples (false for skipped and failed) */
    bool extrapolated;
    sb_sample_plan plan;
    int64_t flops_per_rep;      /* executed FLOPs of one repetition at full depth */
    const char *flops_source;   /* how flops_per_rep was obtained */
    int64_t sequences_per_rep;
    int64_t tokens_per_rep;     /* encode: batch*src; forward: batch*(src+tgt); generate: generated tokens */
    double ms_per_token;        /* generate: median step latency at full depth; NaN otherwise */
    int64_t peak_rss_bytes;     /* getrusage ru_maxrss after the measurement */
    bool peak_rss_is_measurement; /* the peak was reset before (clear_refs), else it is the process's */
    int64_t weights_bytes, activations_bytes; /* engine arenas of the model timed (sampled when extrapolated) */
    int64_t packed_tensors;     /* weight tensors pre-packed for oneDNN's matmul while timed (0: HF layout) */
    int64_t estimate_bytes;     /* analytic weights + activations + KV cache at full depth */
    /* CPU seconds of the timed repetitions over wall seconds times the threads used (1: every thread ran
     * the whole time), and the involuntary context switches meanwhile: other work on the cores shows as a
     * share well below 1 (verdict `contended`). */
    double cpu_share;
    int64_t preemptions;
    bool have_counters;
    sb_counters counters;       /* values around the timed repetitions (of the sampled model when extrapolated) */
    /* Op classes over the same repetitions, from the engine's profile (sb_op_class). */
    double op_seconds[SB_OP_CLASSES];
    int64_t op_flops[SB_OP_CLASSES];
    char counters_error[SB_ERROR_MAX]; /* why have_counters is false */
} sb_measurement;

/* Weights kept between measurements. A sweep measures each shape in its modes back to back, on the same
 * weights (random from the seed, or a checkpoint) at the same full and sampled depths, and initialising a
 * large model costs about as much as timing it. The cache holds one shape's weights, a few depths of it;
 * a measurement of another shape, or one that needs the memory, frees them first. */
#define SB_WEIGHTS_CACHE_SLOTS 3
typedef struct {
    char shape[SB_KEY_MAX + 64]; /* model, config name, dtype, seed of the weights held */
    struct {
        bool used;
        int64_t encoder_layers, decoder_layers;
        uint64_t last_use;
        sb_weights w;
    } slot[SB_WEIGHTS_CACHE_SLOTS];
    uint64_t clock;
} sb_weights_cache;
void sb_weights_cache_init(sb_weights_cache *cache);
void sb_weights_cache_free(sb_weights_cache *cache);

/* Measures `model` (a spec, or a checkpoint folder: then its weights, never sampled) resolved to cfg.
 * peaks (may be NULL) lets a shape expected to exceed the time budget go straight to sampling; cache (may
 * be NULL) reuses weights of the previous measurement of the same shape.
 * Every outcome is a verdict: what cannot be measured is skipped or failed with the reason. */
void sb_measure(const char *model, const sb_config *cfg, const sb_run_settings *s, const sb_peaks *peaks,
                sb_weights_cache *cache, sb_measurement *m);
void sb_measurement_free(sb_measurement *m);
/* The verdict of a finished timing (pure: tested on synthetic values): `contended: <why>` when the timed
 * repetitions got less than SB_CONTENDED_SHARE of their threads' CPU time (cpu_share < 0.9: other work ran
 * on the cores, so the figure describes the load, not the shape; a share of exactly 0.9, or NaN when
 * nothing was timed, is not contended), else `extrapolated`, `noisy` or `ok`. */
#define SB_CONTENDED_SHARE 0.9
void sb_verdict_for(const sb_stats *stats, bool extrapolated, double cpu_share, int64_t preemptions, char *out,
                    size_t cap);

/* -- whether the cores are free (load.c) -- */

/* The same rule before a measurement: `threads` threads would get their share when the cores other
 * processes leave free are at least SB_CONTENDED_SHARE x threads. */
bool sb_cores_free_enough(double free_cores, int threads);

/* Where the load comes from: the clock, and a sample of the cores other processes left free over an
 * interval (sleeping through it). Injectable, so the wait is tested without timing anything. */
typedef struct {
    double (*now_s)(void *ctx);
    int (*sample)(void *ctx, double interval_s, double *free_cores); /* 0, or -1 when the load cannot be read */
    void *ctx;
} sb_load_source;
/* /proc/stat's busy time of every CPU over the interval, less this process's own CPU time. */
sb_load_source sb_load_source_system(void);

#define SB_LOAD_SAMPLE_S 1.0 /* each sample's interval */
typedef enum {
    SB_WAIT_FREE,    /* the cores turned free enough */
    SB_WAIT_BUSY,    /* still busy after max_wait_s */
    SB_WAIT_UNKNOWN, /* the load cannot be read */
} sb_wait_result;
/* Samples the load every SB_LOAD_SAMPLE_S until the cores are free enough for `threads`
 * (sb_cores_free_enough), or max_wait_s have passed; *waited_s gets the time it took, *free_cores the last
 * sample (NaN when none could be read). */
sb_wait_result sb_wait_for_free_cores(const sb_load_source *src, int threads, double max_wait_s, double *waited_s,
                                      double *free_cores);

/* What one repetition of s on cfg is expected to take at these peaks, in seconds (the model sb_measure
 * decides sampling by; 0 when the peaks lack the figure the mode needs). */
int sb_expected_rep_s(const sb_config *cfg, const sb_run_settings *s, const sb_peaks *peaks, double *out,
                      sb_error *err);
/* What measuring s on cfg is expected to take at these peaks, in seconds: warmup and timed repetitions as
 * the timing loop runs them, on sampled layers where sb_measure would sample for time (the memory gate and
 * the weights' initialisation aside). Balances shards and estimates what is left of a run. */
int sb_job_cost_s(const sb_config *cfg, const sb_run_settings *s, const sb_peaks *peaks, double *out, sb_error *err);

/* -- records (record.c) -- */

/* The record of results/README.md. sys and peaks may be NULL (then the system object lacks them). */
cJSON *sb_record_build(const char *run, const sb_config *cfg, const sb_run_settings *s, const sb_measurement *m,
                       const sb_sysinfo *sys, const sb_peaks *peaks);

/* -- sweeps (sweep.c) -- */

typedef struct {
    int64_t *v;
    size_t n;
} sb_i64_list;

/* "1,8", "128-1024*2" (128,256,512,1024), "128-512+128" (128,256,384,512), and commas of these; every
 * value in [min, max]. */
int sb_parse_list(const char *text, int64_t min, int64_t max, sb_i64_list *out, sb_error *err);
/* "i/N", 1 <= i <= N: shard i of N. */
int sb_parse_shard(const char *text, int *index, int *count, sb_error *err);

/* What a sweep crosses: models x modes x batch x src x tgt x precisions x threads x gemms. */
typedef struct {
    char **models;
    size_t nmodels;
    sb_mode modes[SB_MODE_COUNT];
    size_t nmodes;
    sb_i64_list batch, src, tgt, threads;
    sb_precision precisions[SB_PRECISIONS];
    size_t nprecisions;
    sb_gemm_backend gemms[2];
    size_t ngemms;          /* 0: none named; the caller picks one (sb_gemm_choose) before expanding */
    sb_run_settings base; /* seed, warmup, repetitions, time limits */
    int64_t generate_min_reps; /* generate points' min_reps when > 0 (each repetition holds tgt_len steps) */
} sb_sweep_spec;

typedef struct {
    char model[SB_NAME_MAX];
    size_t model_index; /* in the spec's model list: a shard holds every job of a model */
    sb_run_settings settings;
} sb_job;

typedef struct {
    sb_job *items;
    size_t count;
    size_t bf16_on_openblas; /* points the cross product left out: bf16 products run on oneDNN only */
} sb_job_list;

/* The settings of a sweep by name (sweep_settings.c), `run`'s option names and a sweep file's keys: mode, batch,
 * src, tgt, dtype, gemm, threads (comma lists, ranges for the numbers: "128-512*2"), warmup, min-reps,
 * min-time, max-time, seed, extrapolate (auto | always). One parser and one range each, shared by both. */
#define SB_SWEEP_SETTINGS 13
#define SB_THREADS_MAX 4096
#define SB_BATCH_MAX (1 << 20)
#define SB_TOKENS_MAX (1 << 20)
#define SB_REPS_MAX 1000000
/* What a setting's value is: a list of numbers or ranges, a list of words, one number, one word. */
typedef enum { SB_SETTING_NUMBERS, SB_SETTING_WORDS, SB_SETTING_NUMBER, SB_SETTING_WORD } sb_setting_kind;
typedef struct {
    const char *name;
    sb_setting_kind kind;
} sb_sweep_setting;
extern const sb_sweep_setting sb_sweep_settings[SB_SWEEP_SETTINGS];
/* Sets the named setting from text; a message without the name (the caller says where the text came from). */
int sb_sweep_spec_set(sb_sweep_spec *spec, const char *name, const char *text, sb_error *err);
/* What `run` measures unless told otherwise: forward, batch 1, 512/114 tokens, f32, every thread, with
 * sb_run_settings_default's repetitions; no backend named. */
int sb_sweep_spec_defaults(sb_sweep_spec *spec, sb_error *err);
/* Comma-separated modes, precisions, GEMM backends: at least one, at most one of each. */
int sb_parse_modes(const char *text, sb_mode out[SB_MODE_COUNT], size_t *n, sb_error *err);
int sb_parse_precisions(const char *text, sb_precision out[SB_PRECISIONS], size_t *n, sb_error *err);
int sb_parse_gemms(const char *text, sb_gemm_backend out[2], size_t *n, sb_error *err);

void sb_sweep_spec_init(sb_sweep_spec *spec); /* empty lists, base = sb_run_settings_default */
void sb_sweep_spec_free(sb_sweep_spec *spec);
int sb_sweep_add_model(sb_sweep_spec *spec, const char *model, sb_error *err);
/* smoke | default | paper (see sweep.c for what each holds and why). */
int sb_sweep_preset(const char *name, sb_sweep_spec *spec, sb_error *err);
/* The cross product in a fixed order: model outermost, then mode, batch, src, tgt, precision, threads, gemm;
 * bf16 on OpenBLAS left out (counted in bf16_on_openblas). */
int sb_sweep_expand(const sb_sweep_spec *spec, sb_job_list *out, sb_error *err);
/* A sweep described in a JSON file (sweep_config.c): {"preset": P (optional, the start), "models": [names],
 * "description": text, and any setting above under its name}. Strict: an unknown key, a value of the wrong
 * type or out of range, a model that does not resolve, a key given twice are errors naming the file and
 * the key, with the nearest valid key or name. Without a preset the settings start at sb_sweep_spec_defaults
 * and "models" is required. spec is initialised here (freed on failure). */
int sb_sweep_config_load(const char *path, sb_sweep_spec *spec, sb_error *err);
/* The backend of a sweep that names none (gemm_choice.c): the one whose measured sgemm peak is higher here. */
typedef struct {
    sb_gemm_backend gemm;
    int threads;            /* the threads the peaks were measured on */
    double sgemm_gflops[2]; /* by sb_gemm_backend; NaN when not measured (a bf16 sweep measures none) */
    char note[512];         /* one sentence: which backend and why, for the run's report */
} sb_gemm_choice;
/* The choice from the two sgemm peaks (NaN: could not be measured; openblas_core names OpenBLAS's kernel in
 * the note): the higher, or oneDNN for a sweep that computes in bf16. Pure. */
void sb_gemm_choose(const double sgemm_gflops[2], const char *openblas_core, bool bf16, int threads,
                    sb_gemm_choice *out);
/* The choice from each backend's peaks at `threads` (0 or more than this machine runs: all of them), read
 * from the peaks cache or measured (sb_peaks_cached); fails only when neither can be measured. */
int sb_gemm_choose_measured(int threads, bool bf16, sb_warn_fn warn, void *warn_ctx, sb_gemm_choice *out,
                            sb_error *err);
/* <dir>/backend.json: the choice a run was started with. load: *present false (and 0) when there is none;
 * a file that is not a choice is an error naming it. */
int sb_gemm_choice_save(const char *dir, const sb_gemm_choice *c, sb_error *err);
int sb_gemm_choice_load(const char *dir, sb_gemm_choice *out, bool *present, sb_error *err);
/* Splits n items into count shards of balanced cost: the costliest item first, each to the shard with the
 * least cost so far (then the fewest items, then the lowest index). shard_of[i] gets item i's shard, 1-based.
 * Costs in whole milliseconds, so every machine computes the same split. */
int sb_partition_by_cost(const int64_t *cost_ms, size_t n, int count, int *shard_of, sb_error *err);
/* The shard (1-based, into shard_of) of every job when the list is split into count shards: a model's jobs
 * stay together (they share its weights), the models balanced by their jobs' summed sb_job_cost_s on the
 * reference machine (sb_peaks_reference), so one shard does not get all the large shapes; deterministic.
 * cost_s (may be NULL) gets each job's cost. Fails when a model does not resolve. */
int sb_job_list_shards(const sb_job_list *jobs, int count, int *shard_of, double *cost_s, sb_error *err);
/* Keeps the jobs of shard `index` of `count` (sb_job_list_shards). */
int sb_job_list_shard(sb_job_list *jobs, int index, int count, sb_error *err);
void sb_job_list_free(sb_job_list *jobs);

/* Progress on stderr: a redrawn bar on a terminal, one plain line per step otherwise. */
typedef struct {
    FILE *out;
    bool tty;
    size_t total;
    double start_s;
} sb_progress;

void sb_progress_start(sb_progress *p, FILE *out, size_t total);
/* `done` of total finished; label names what runs next. */
void sb_progress_update(sb_progress *p, size_t done, const char *label);
void sb_progress_finish(sb_progress *p);
/* "42 s", "3 min 05 s", "2 h 10 min" ("?" when not finite) into buf. */
void sb_format_duration(double s, char *buf, size_t cap);

#endif

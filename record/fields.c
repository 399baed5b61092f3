/* fields.c — the record's field table, and reading and writing a record's fields by it. Every field a record
 * holds is here once, with its path, type, unit, CSV column and meaning; the writer, the readers, the CSV
 * and the documentation take them from here. */
#include "record/record.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define S SB_FIELD_STRING
#define I SB_FIELD_INTEGER
#define N SB_FIELD_NUMBER
#define B SB_FIELD_BOOL
#define O SB_FIELD_OBJECT
#define A SB_FIELD_ARRAY

static const sb_field fields[SB_FIELD_COUNT] = {
    {SB_F_SCHEMA_VERSION, "schema_version", I, false, "", NULL, 0,
     "version of this record's layout (1 had the two-run extrapolation; 2's `bf16` meant bf16 storage with fp32 "
     "products, 3's means bf16 products, and bf16 storage alone is `bf16-storage`); merge refuses to join files "
     "of different versions, and a run refuses to append to a file of another version"},
    {SB_F_RUN, "run", S, false, "", "run", 2, "the run name (its folder under results/)"},
    {SB_F_KEY, "key", S, false, "", "key", 1,
     "identity of the measurement for resume, merge and compare: "
     "`shape|mode|b<batch>|s<src>|t<tgt>|<dtype>|<gemm>|t<threads>`, the shape as in `shape` (threads resolved: "
     "0 becomes the count used); probe records add `|probe-<budget_kind>-<budget>|<optimizer>-<lr_schedule>-"
     "<peak_lr>-w<warmup_fraction>-f<floor>-d<dropout>`"},
    {SB_F_SHAPE, "shape", S, false, "", "shape", 3,
     "the shape's identity: its canonical model name (e.g. `t5-efficient-base-nl24`) when that name alone "
     "resolves to exactly this shape; else (a config.json, or overrides on one) the name, `#` and 12 hex digits "
     "of a hash of the resolved config, so two shapes sharing a name never share a key"},
    {SB_F_FAMILY, "family", S, false, "", "family", 4, "`t5-efficient`, `switch`, `t5`, `t5-v1_1` or `custom`"},
    {SB_F_SCALING, "scaling", S, false, "", "scaling", 5,
     "the knob the shape scales from its size's base shape: `base`, `depth` (nl/el/dl), `width` (dm/ff), "
     "`attention` (kv/nh/skv), `switch`, `other` (several kinds of knob)"},
    {SB_F_CONFIG, "config", O, false, "", NULL, 0,
     "the full resolved config: the Hugging Face config.json object (only the keys below are read back)"},
    {SB_F_CONFIG_NUM_LAYERS, "config.num_layers", I, false, "blocks", NULL, 0, "encoder blocks"},
    {SB_F_CONFIG_NUM_DECODER_LAYERS, "config.num_decoder_layers", I, false, "blocks", NULL, 0, "decoder blocks"},
    {SB_F_CONFIG_D_MODEL, "config.d_model", I, false, "", NULL, 0, "width of the residual stream"},
    {SB_F_CONFIG_D_FF, "config.d_ff", I, false, "", NULL, 0, "width of the FFN (of each expert)"},
    {SB_F_CONFIG_D_KV, "config.d_kv", I, false, "", NULL, 0, "width of an attention head"},
    {SB_F_CONFIG_NUM_HEADS, "config.num_heads", I, false, "", NULL, 0, "attention heads"},
    {SB_F_CONFIG_NUM_EXPERTS, "config.num_experts", I, false, "", NULL, 0,
     "Switch experts per sparse block (absent in dense configs)"},
    {SB_F_SETTINGS, "settings", O, false, "", NULL, 0, "what was asked of the measurement"},
    {SB_F_SETTINGS_MODE, "settings.mode", S, false, "", "mode", 6,
     "`encode`, `forward` (encoder + teacher-forced decoder), `generate` (greedy, batch 1) or `train` (forward + "
     "backward + Adafactor update; never sampled)"},
    {SB_F_SETTINGS_BATCH, "settings.batch", I, false, "sequences", "batch", 7, "sequences per batch"},
    {SB_F_SETTINGS_SRC_LEN, "settings.src_len", I, false, "tokens", "src_len", 8, "encoder tokens per sequence"},
    {SB_F_SETTINGS_TGT_LEN, "settings.tgt_len", I, false, "tokens", "tgt_len", 9,
     "decoder tokens per sequence (generate: tokens generated at most)"},
    {SB_F_SETTINGS_DTYPE, "settings.dtype", S, false, "", "dtype", 10,
     "precision: `f32`, `bf16` (bf16 products, fp32 accumulation) or `bf16-storage` (bf16 weights, fp32 "
     "products)"},
    {SB_F_SETTINGS_COMPUTE_DTYPE, "settings.compute_dtype", S, false, "", NULL, 0,
     "what the products compute in: `f32` or `bf16` (norms, softmax, residuals, losses and the router: fp32)"},
    {SB_F_SETTINGS_STORAGE_DTYPE, "settings.storage_dtype", S, false, "", NULL, 0,
     "what the weights are stored in: `f32` or `bf16` (train: fp32 master weights)"},
    {SB_F_SETTINGS_THREADS, "settings.threads", I, false, "threads", "threads", 11,
     "threads of GEMM and the engine's loops"},
    {SB_F_SETTINGS_GEMM, "settings.gemm", S, false, "", "gemm", 12, "GEMM backend: `openblas` or `onednn`"},
    {SB_F_SETTINGS_SEED, "settings.seed", I, false, "", NULL, 0, "seed of the random weights and token ids"},
    {SB_F_SETTINGS_WARMUP, "settings.warmup", I, false, "repetitions", NULL, 0, "untimed repetitions first"},
    {SB_F_SETTINGS_MIN_REPS, "settings.min_reps", I, false, "repetitions", NULL, 0, "timed repetitions at least"},
    {SB_F_SETTINGS_MIN_TIME_S, "settings.min_time_s", N, false, "s", NULL, 0, "timed seconds at least"},
    {SB_F_SETTINGS_MAX_TIME_S, "settings.max_time_s", N, true, "s", NULL, 0,
     "timed seconds at most: a shape whose min_reps repetitions would not fit is timed on sampled layers; null "
     "for no limit (a probe's FLOPs budget)"},
    {SB_F_SETTINGS_ALWAYS_SAMPLE, "settings.always_sample", B, false, "", NULL, 0,
     "timed on sampled layers even when the full model fits (`--extrapolate always`)"},
    {SB_F_ANALYTIC, "analytic", O, true, "", NULL, 0,
     "`shapebench count --json` figures for the settings (null when the shape could not be counted)"},
    {SB_F_ANALYTIC_PARAMS, "analytic.params", I, false, "parameters", "params", 14,
     "Hugging Face num_parameters() (the tied embedding counted once)"},
    {SB_F_ANALYTIC_PARAMS_NONEMBEDDING, "analytic.params_nonembedding", I, false, "parameters",
     "params_nonembedding", 15, "parameters minus every embedding table"},
    {SB_F_ANALYTIC_PARAMS_ACTIVE, "analytic.params_active", I, false, "parameters", "params_active", 16,
     "parameters used per token: one expert per sparse block, router included"},
    {SB_F_ANALYTIC_FLOPS_FORWARD_PAPER, "analytic.flops_forward_paper", O, false, "FLOP", NULL, 0,
     "forward FLOPs in the Switch paper's convention: `total` and the breakdown by op class"},
    {SB_F_ANALYTIC_FLOPS_FORWARD_EXECUTED, "analytic.flops_forward_executed", O, false, "FLOP", NULL, 0,
     "every GEMM FLOP the engine runs in a forward: `total` and the breakdown by op class"},
    {SB_F_ANALYTIC_FLOPS_TRAIN_STEP, "analytic.flops_train_step", I, false, "FLOP", NULL, 0,
     "forward plus, for each GEMM, its two backward GEMMs"},
    {SB_F_ANALYTIC_MEMORY_BYTES, "analytic.memory_bytes", O, false, "bytes", NULL, 0,
     "`weights`, `kv_cache`, `activations_forward`, `activations_train`, `optimizer_adafactor`, "
     "`optimizer_adamw`"},
    {SB_F_ANALYTIC_CONVENTIONS, "analytic.conventions", O, false, "", NULL, 0, "each figure's convention, in words"},
    {SB_F_TIMING, "timing", O, true, "", NULL, 0, "seconds per repetition; null when nothing was timed"},
    {SB_F_TIMING_UNIT, "timing.unit", S, false, "", NULL, 0, "`s`"},
    {SB_F_TIMING_SAMPLES, "timing.samples", A, false, "s", NULL, 0, "every timed repetition"},
    {SB_F_TIMING_MEDIAN, "timing.median", N, true, "s", "median_s", 17, "median repetition"},
    {SB_F_TIMING_MEAN, "timing.mean", N, true, "s", "mean_s", 18, "mean repetition"},
    {SB_F_TIMING_STDDEV, "timing.stddev", N, true, "s", "stddev_s", 19, "sample standard deviation (two-pass)"},
    {SB_F_TIMING_MIN, "timing.min", N, true, "s", "min_s", 20, "fastest repetition"},
    {SB_F_TIMING_MAX, "timing.max", N, true, "s", "max_s", 21, "slowest repetition"},
    {SB_F_TIMING_CV, "timing.cv", N, true, "", "cv", 22, "coefficient of variation, stddev / mean"},
    {SB_F_TIMING_CI95_MEDIAN, "timing.ci95_median", A, false, "s", NULL, 0,
     "[lo, hi]: distribution-free order-statistic 95 % interval of the median ([min, max] below 6 samples)"},
    {SB_F_TIMING_WARMUP, "timing.warmup", I, false, "repetitions", NULL, 0, "untimed repetitions run first"},
    {SB_F_TIMING_REPS, "timing.reps", I, false, "repetitions", "reps", 23, "timed repetitions"},
    {SB_F_TIMING_CPU_SHARE, "timing.cpu_share", N, true, "", NULL, 0,
     "CPU time of the timed repetitions over their wall time times the threads (1: the threads had the cores)"},
    {SB_F_TIMING_PREEMPTIONS, "timing.preemptions", I, false, "", NULL, 0,
     "involuntary context switches during the timed repetitions"},
    {SB_F_TIMING_PARTS_ENCODER, "timing.parts_median.encoder", N, true, "s", NULL, 0,
     "median of the repetitions' encoder part (up to where sb_encode returns)"},
    {SB_F_TIMING_PARTS_DECODER, "timing.parts_median.decoder", N, true, "s", NULL, 0,
     "median of the rest: decoder, generation, LM head"},
    {SB_F_TIMING_BLOCKS_ENCODER, "timing.blocks_median.encoder", N, true, "s", NULL, 0,
     "of the encoder part, the seconds inside its blocks (engine profile; null for train)"},
    {SB_F_TIMING_BLOCKS_DECODER, "timing.blocks_median.decoder", N, true, "s", NULL, 0,
     "of the decoder part, the seconds inside its blocks (engine profile; null for train)"},
    {SB_F_TIMING_METHOD, "timing.method", S, false, "", NULL, 0, "how the repetitions were timed, in words"},
    {SB_F_THROUGHPUT, "throughput", O, true, "", NULL, 0, "rates from the median; null when nothing was timed"},
    {SB_F_THROUGHPUT_SEQUENCES_PER_S, "throughput.sequences_per_s", N, true, "sequences/s", "sequences_per_s", 24,
     "sequences per second (generate: one per repetition)"},
    {SB_F_THROUGHPUT_TOKENS_PER_S, "throughput.tokens_per_s", N, true, "tokens/s", "tokens_per_s", 25,
     "encode: batch·src; forward and train: batch·(src+tgt); generate: generated tokens; per second"},
    {SB_F_THROUGHPUT_GFLOPS_PER_S, "throughput.gflops_per_s", N, true, "GFLOP/s", "gflops_per_s", 26,
     "flops_per_rep over the median"},
    {SB_F_THROUGHPUT_MS_PER_TOKEN, "throughput.ms_per_token", N, true, "ms", "ms_per_token", 27,
     "generate only: median over repetitions of each one's median step latency; else null"},
    {SB_F_THROUGHPUT_MFU, "throughput.mfu", N, true, "", "mfu", 28,
     "model FLOPs utilisation: gflops_per_s over the measured sgemm peak"},
    {SB_F_THROUGHPUT_FLOPS_PER_REP, "throughput.flops_per_rep", I, false, "FLOP", "flops_per_rep", 29,
     "FLOPs of one repetition (forward: the analytic executed count; train: flops_train_step; encode and "
     "generate: the engine's tally of one repetition)"},
    {SB_F_THROUGHPUT_FLOPS_SOURCE, "throughput.flops_source", S, false, "", NULL, 0, "where flops_per_rep came from"},
    {SB_F_THROUGHPUT_TOKENS_PER_REP, "throughput.tokens_per_rep", I, false, "tokens", NULL, 0,
     "tokens one repetition processes"},
    {SB_F_VERDICT, "verdict", S, false, "", "verdict", 13,
     "`ok`, `noisy` (CV > 5 %), `extrapolated`, `contended: <why>` (the repetitions got less than 90 % of their "
     "threads' CPU time: other work ran), `skipped: <why>`, `failed: <why>`; the rules, and what a rerun does "
     "with each, under \"Verdicts\""},
    {SB_F_EXTRAPOLATION, "extrapolation", O, true, "", NULL, 0,
     "null, or how a shape timed on sampled layers was extended to full depth"},
    {SB_F_EXTRAPOLATION_SAMPLED_ENCODER, "extrapolation.sampled_layers.encoder", I, false, "blocks", NULL, 0,
     "encoder blocks timed"},
    {SB_F_EXTRAPOLATION_SAMPLED_DECODER, "extrapolation.sampled_layers.decoder", I, false, "blocks", NULL, 0,
     "decoder blocks timed"},
    {SB_F_EXTRAPOLATION_FULL_ENCODER, "extrapolation.full_layers.encoder", I, false, "blocks", NULL, 0,
     "the shape's encoder blocks"},
    {SB_F_EXTRAPOLATION_FULL_DECODER, "extrapolation.full_layers.decoder", I, false, "blocks", NULL, 0,
     "the shape's decoder blocks"},
    {SB_F_EXTRAPOLATION_METHOD, "extrapolation.method", S, false, "", NULL, 0, "the extension, in words"},
    {SB_F_MEMORY, "memory", O, false, "", NULL, 0,
     "memory of the measurement; skipped and failed records carry estimate_bytes only"},
    {SB_F_MEMORY_PEAK_RSS_BYTES, "memory.peak_rss_bytes", I, false, "bytes", "peak_rss_bytes", 30,
     "getrusage ru_maxrss after the measurement"},
    {SB_F_MEMORY_PEAK_RSS_SCOPE, "memory.peak_rss_scope", S, false, "", NULL, 0,
     "`measurement` when the kernel's high-water mark was reset first (/proc/self/clear_refs), else `process`"},
    {SB_F_MEMORY_WEIGHTS_BYTES, "memory.weights_bytes", I, false, "bytes", "weights_bytes", 31,
     "the engine's weight arena"},
    {SB_F_MEMORY_WEIGHTS_PACKED_TENSORS, "memory.weights_packed_tensors", I, false, "tensors", NULL, 0,
     "weight tensors re-laid for oneDNN's matmul while timed (0: every tensor in Hugging Face layout)"},
    {SB_F_MEMORY_ACTIVATIONS_BYTES, "memory.activations_bytes", I, false, "bytes", "activations_bytes", 32,
     "the engine's activation arena"},
    {SB_F_MEMORY_ARENAS_OF, "memory.arenas_of", S, false, "", NULL, 0,
     "whose arenas these are: `the full model` or `the sampled model`"},
    {SB_F_MEMORY_ESTIMATE_BYTES, "memory.estimate_bytes", I, false, "bytes", "estimate_bytes", 33,
     "analytic weights + activations + KV cache at full depth"},
    {SB_F_COUNTERS, "counters", O, false, "", NULL, 0,
     "events over the timed repetitions, one object per event (cycles, instructions, fp_ops, cache_misses, "
     "task_clock_ns, page_faults, context_switches)"},
    {SB_F_COUNTERS_EVENT, "counters.*", O, false, "", NULL, 0, "one event"},
    {SB_F_COUNTERS_VALUE, "counters.*.value", N, true, "", NULL, 0,
     "the event's count, scaled for multiplexing; null when unavailable, never 0"},
    {SB_F_COUNTERS_SCALED_FROM, "counters.*.scaled_from", N, true, "", NULL, 0,
     "fraction of the region the event was counting (1: no multiplexing)"},
    {SB_F_COUNTERS_SOURCE, "counters.*.source", S, false, "", NULL, 0, "what was counted"},
    {SB_F_COUNTERS_UNAVAILABLE_REASON, "counters.unavailable_reason", S, true, "", NULL, 0,
     "why hardware events are unavailable (e.g. no PMU in a virtual machine); null when they are not"},
    {SB_F_ROOFLINE, "roofline", O, true, "", NULL, 0,
     "where the work sits against the measured roofs: per op class (forward only: attention_projections, "
     "attention_scores, ffn, router, lm_head) and `total`; null when nothing was timed"},
    {SB_F_ROOFLINE_CLASS, "roofline.*", O, false, "", NULL, 0, "one op class, or the whole repetition (`total`)"},
    {SB_F_ROOFLINE_INTENSITY, "roofline.*.arithmetic_intensity", N, true, "FLOP/byte", NULL, 0,
     "analytic FLOPs over analytic bytes (weights read once, GEMM inputs and outputs once)"},
    {SB_F_ROOFLINE_ACHIEVED_GFLOPS, "roofline.*.achieved_gflops", N, true, "GFLOP/s", NULL, 0,
     "op classes: GEMM FLOPs inside the class's regions over their wall time (engine profile); total: the "
     "repetition's FLOPs over its median"},
    {SB_F_ROOFLINE_BOUND, "roofline.*.bound", S, true, "", NULL, 0,
     "`compute` or `memory`, against the ridge sgemm_gflops / stream_copy_gbps; null when the machine peaks "
     "could not be measured"},
    {SB_F_ROOFLINE_METHOD, "roofline.method", S, false, "", NULL, 0, "the roofline's method, in words"},
    {SB_F_SYSTEM, "system", O, true, "", NULL, 0, "the machine and build the measurement ran on"},
    {SB_F_SYSTEM_CPU_FLAGS, "system.cpu_flags", A, false, "", NULL, 0,
     "the CPU flags that matter here (avx, avx2, fma, avx512f, avx512_bf16, amx_bf16)"},
    {SB_F_SYSTEM_CPU_MODEL, "system.cpu_model", S, false, "", "cpu_model", 34,
     "CPU model name (the report separates runs that span several)"},
    {SB_F_SYSTEM_NODE, "system.node", S, false, "", "node", 35,
     "the machine: Slurm's node name in a Slurm job, else the host name"},
    {SB_F_SYSTEM_SLURM_JOB_ID, "system.slurm_job_id", I, true, "", NULL, 0,
     "the Slurm job (an array's job id for its tasks); null outside Slurm"},
    {SB_F_SYSTEM_SLURM_ARRAY_TASK_ID, "system.slurm_array_task_id", I, true, "", NULL, 0,
     "the array task (shard - 1 for `--slurm` runs); null outside a job array"},
    {SB_F_SYSTEM_LOGICAL_CORES, "system.logical_cores", I, false, "", NULL, 0, "logical cores online"},
    {SB_F_SYSTEM_LAST_LEVEL_CACHE_BYTES, "system.last_level_cache_bytes", I, true, "bytes", NULL, 0,
     "largest CPU cache as the C library reads it (a virtual machine reports its host's)"},
    {SB_F_SYSTEM_THREADS, "system.threads", I, false, "threads", NULL, 0, "threads used"},
    {SB_F_SYSTEM_GEMM_BACKEND, "system.gemm_backend", S, false, "", NULL, 0, "`openblas` or `onednn`"},
    {SB_F_SYSTEM_GEMM_VERSION, "system.gemm_version", S, false, "", NULL, 0,
     "the backend's version (OpenBLAS with its core)"},
    {SB_F_SYSTEM_ONEDNN_ISA, "system.onednn_isa", S, false, "", NULL, 0,
     "the instruction set oneDNN dispatches to (its effective ISA; ONEDNN_MAX_CPU_ISA caps it)"},
    {SB_F_SYSTEM_OPENBLAS_CORE, "system.openblas_core", S, false, "", NULL, 0, "the kernels OpenBLAS runs"},
    {SB_F_SYSTEM_OPENBLAS_THREADS, "system.openblas_threads", I, false, "threads", NULL, 0, "OpenBLAS's threads"},
    {SB_F_SYSTEM_COMPILER, "system.compiler", S, false, "", NULL, 0, "compiler and version"},
    {SB_F_SYSTEM_BUILD_FLAGS, "system.build_flags", S, false, "", NULL, 0, "the Makefile's CFLAGS"},
    {SB_F_SYSTEM_GIT_COMMIT, "system.git_commit", S, false, "", NULL, 0,
     "short commit, `-dirty` with uncommitted changes"},
    {SB_F_SYSTEM_DATE, "system.date", S, false, "", NULL, 0, "ISO 8601 UTC"},
    {SB_F_SYSTEM_LOAD_AVERAGE, "system.load_average", A, false, "", NULL, 0, "1, 5 and 15 minute load averages"},
    {SB_F_SYSTEM_SGEMM_GFLOPS, "system.sgemm_gflops", N, false, "GFLOP/s", NULL, 0,
     "measured peak: the backend's sgemm on a large cube"},
    {SB_F_SYSTEM_FMA_GFLOPS, "system.fma_gflops", N, false, "GFLOP/s", NULL, 0,
     "measured peak: fp32 FMA chains in registers on every thread"},
    {SB_F_SYSTEM_STREAM_COPY_GBPS, "system.stream_copy_gbps", N, false, "GB/s", NULL, 0,
     "measured peak: stream copy, bytes read + written per second"},
    {SB_F_SYSTEM_PEAK_SGEMM_N, "system.peak_sgemm_n", I, false, "", NULL, 0, "side of the peak's sgemm cube"},
    {SB_F_SYSTEM_PEAK_STREAM_BYTES, "system.peak_stream_bytes", I, false, "bytes", NULL, 0,
     "size of each stream-copy array"},
    {SB_F_SYSTEM_BF16_GEMM_GFLOPS, "system.bf16_gemm_gflops", N, true, "GFLOP/s", NULL, 0,
     "measured peak: oneDNN's bf16 matmul on the sgemm cube (operands already bf16); null without bf16 "
     "instructions"},
    {SB_F_SYSTEM_BF16_DOT_GFLOPS, "system.bf16_dot_gflops", N, true, "GFLOP/s", NULL, 0,
     "measured peak: AVX512-BF16 dot-product (vdpbf16ps) chains in registers on every thread; null without them"},
    {SB_F_SYSTEM_BF16_UNAVAILABLE, "system.bf16_unavailable", S, true, "", NULL, 0,
     "why the bf16 peaks are null; null when they were measured"},
    {SB_F_QUALITY, "quality", O, true, "", NULL, 0,
     "null, or a quality figure: the probe's held-out loss, or a published one attached by the report"},
    {SB_F_QUALITY_METRIC, "quality.metric", S, false, "", NULL, 0, "`heldout_loss` or `neg_log_perplexity`"},
    {SB_F_QUALITY_VALUE, "quality.value", N, false, "nats/token", NULL, 0, "the figure (probe: mean over seeds)"},
    {SB_F_QUALITY_STDDEV, "quality.stddev", N, true, "nats/token", NULL, 0, "sample standard deviation over seeds"},
    {SB_F_QUALITY_SEEDS, "quality.seeds", I, false, "", NULL, 0, "training seeds"},
    {SB_F_QUALITY_BUDGET_KIND, "quality.budget_kind", S, false, "", NULL, 0, "`flops` or `seconds`"},
    {SB_F_QUALITY_BUDGET, "quality.budget", N, false, "FLOP or s", NULL, 0, "the training budget per seed"},
    {SB_F_QUALITY_EVAL_EXAMPLES, "quality.eval_examples", I, false, "examples", NULL, 0,
     "held-out examples evaluated"},
    {SB_F_QUALITY_HELDOUT_TOKENS, "quality.heldout_tokens", I, false, "tokens", NULL, 0,
     "target tokens the held-out loss averages over"},
    {SB_F_QUALITY_PER_SEED, "quality.per_seed", A, false, "", NULL, 0,
     "per seed: seed, heldout_loss (nats/token, at the end of the budget), steps, train_seconds (s), flops (FLOP), "
     "train_loss_first and train_loss_last (nats/token)"},
    {SB_F_QUALITY_CURVE, "quality.curve", A, false, "", NULL, 0,
     "probe: the learning curve, one object per point at budget / 2^k (the same fractions for every shape): "
     "fraction (of the budget), flops (FLOP), steps and train_seconds (s; means over seeds), value and stddev "
     "(nats/token: held-out loss, mean and sd over seeds), per_seed (nats/token, in seed order); the last point "
     "is `value`"},
    {SB_F_QUALITY_SCHEDULE, "quality.schedule", O, false, "", NULL, 0,
     "probe: how the shape was trained; the learning-rate plan is laid over the budget"},
    {SB_F_QUALITY_SCHEDULE_OPTIMIZER, "quality.schedule.optimizer", S, false, "", NULL, 0,
     "`adafactor` (T5's: factored, update clipping, step times RMS(param)) or `adamw`"},
    {SB_F_QUALITY_SCHEDULE_LR_SCHEDULE, "quality.schedule.lr_schedule", S, false, "", NULL, 0,
     "after a linear warmup: `constant`, `inverse_sqrt` (peak_lr sqrt(warmup / t)) or `cosine` (to floor "
     "peak_lr at the end of the budget)"},
    {SB_F_QUALITY_SCHEDULE_PEAK_LR, "quality.schedule.peak_lr", N, false, "", NULL, 0,
     "the rate at the end of the warmup (Adafactor: relative step size)"},
    {SB_F_QUALITY_SCHEDULE_WARMUP_FRACTION, "quality.schedule.warmup_fraction", N, false, "", NULL, 0,
     "the linear warmup, as a fraction of the budget"},
    {SB_F_QUALITY_SCHEDULE_FLOOR, "quality.schedule.floor", N, false, "", NULL, 0,
     "cosine: the final rate as a fraction of peak_lr"},
    {SB_F_QUALITY_SCHEDULE_DROPOUT, "quality.schedule.dropout", N, false, "", NULL, 0, "dropout rate in training"},
    {SB_F_QUALITY_REFERENCE, "quality.reference", O, false, "", NULL, 0,
     "probe: held-out loss, on the same examples, of models that read no input: what learning starts to mean"},
    {SB_F_QUALITY_REFERENCE_UNIGRAM, "quality.reference.unigram", N, false, "nats/token", NULL, 0,
     "the training targets' token distribution (add-one smoothed)"},
    {SB_F_QUALITY_REFERENCE_BIGRAM, "quality.reference.bigram", N, false, "nats/token", NULL, 0,
     "each target token given the previous one, Witten-Bell interpolated with the unigram"},
    {SB_F_QUALITY_REFERENCE_TRAIN_TOKENS, "quality.reference.train_tokens", I, false, "tokens", NULL, 0,
     "training target tokens counted (one pass of span-corrupted examples)"},
    {SB_F_QUALITY_SOURCE, "quality.source", S, false, "", NULL, 0, "where the figure comes from"},
};

#undef S
#undef I
#undef N
#undef B
#undef O
#undef A

/* The table is indexed by id: each entry's position is its id. */
static_assert(sizeof fields / sizeof fields[0] == SB_FIELD_COUNT, "one entry per field id");

const sb_field *sb_field_of(sb_field_id id)
{
    assert(id >= 0 && id < SB_FIELD_COUNT && fields[id].id == id);
    return &fields[id];
}

const char *sb_field_type_name(sb_field_type type)
{
    static const char *const names[] = {"string", "integer", "number", "bool", "object", "array"};
    return type >= 0 && type <= SB_FIELD_ARRAY ? names[type] : "?";
}

const char *sb_field_key(sb_field_id id)
{
    const char *path = sb_field_of(id)->path, *dot = strrchr(path, '.');
    return dot != NULL ? dot + 1 : path;
}

/* Whether `path` is `pattern`, a `*` segment of the pattern matching any one segment. */
static bool path_matches(const char *pattern, const char *path)
{
    while (*pattern != '\0' && *path != '\0') {
        const size_t p = strcspn(pattern, "."), q = strcspn(path, ".");
        if (!(p == 1 && pattern[0] == '*') && (p != q || strncmp(pattern, path, p) != 0))
            return false;
        pattern += p + (pattern[p] == '.');
        path += q + (path[q] == '.');
    }
    return *pattern == '\0' && *path == '\0';
}

const sb_field *sb_field_find(const char *path)
{
    const sb_field *wildcard = NULL;
    for (size_t i = 0; i < SB_FIELD_COUNT; i++) {
        if (strcmp(fields[i].path, path) == 0)
            return &fields[i];
        if (wildcard == NULL && strchr(fields[i].path, '*') != NULL && path_matches(fields[i].path, path))
            wildcard = &fields[i];
    }
    return wildcard;
}

const char *sb_field_suggest(const char *path)
{
    const char *paths[SB_FIELD_COUNT];
    for (size_t i = 0; i < SB_FIELD_COUNT; i++)
        paths[i] = fields[i].path;
    return sb_nearest(path, paths, SB_FIELD_COUNT);
}

/* ---- reading ------------------------------------------------------------------------------------------- */

const cJSON *sb_record_at(const cJSON *record, const char *path)
{
    char key[256];
    const cJSON *node = record;
    while (node != NULL && *path != '\0') {
        const size_t n = strcspn(path, ".");
        if (n >= sizeof key)
            return NULL;
        memcpy(key, path, n);
        key[n] = '\0';
        node = cJSON_IsObject(node) ? cJSON_GetObjectItemCaseSensitive(node, key) : NULL;
        path += n + (path[n] == '.');
    }
    return node;
}

const cJSON *sb_record_field(const cJSON *record, sb_field_id id)
{
    return sb_record_at(record, sb_field_of(id)->path);
}

int sb_record_number(const cJSON *record, const char *path, double *out, const char **why)
{
    const cJSON *node = sb_record_at(record, path);
    if (cJSON_IsObject(node) && cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(node, "total")))
        node = cJSON_GetObjectItemCaseSensitive(node, "total");
    const char *problem = node == NULL                   ? "missing"
                          : cJSON_IsNull(node)           ? "null"
                          : !cJSON_IsNumber(node)        ? "not a number"
                          : !isfinite(node->valuedouble) ? "not finite"
                                                         : NULL;
    if (why != NULL)
        *why = problem;
    if (problem != NULL)
        return -1;
    *out = node->valuedouble;
    return 0;
}

double sb_field_number(const cJSON *record, sb_field_id id)
{
    double v;
    return record != NULL && sb_record_number(record, sb_field_of(id)->path, &v, NULL) == 0 ? v : NAN;
}

const char *sb_record_string(const cJSON *record, const char *path)
{
    const cJSON *node = sb_record_at(record, path);
    return cJSON_IsString(node) ? node->valuestring : NULL;
}

const char *sb_field_string(const cJSON *record, sb_field_id id)
{
    return sb_record_string(record, sb_field_of(id)->path);
}

bool sb_record_measured(const cJSON *record)
{
    const char *verdict = sb_field_string(record, SB_F_VERDICT);
    return verdict != NULL && (strcmp(verdict, "ok") == 0 || strcmp(verdict, "noisy") == 0 ||
                               strcmp(verdict, "extrapolated") == 0);
}

/* ---- writing ------------------------------------------------------------------------------------------- */

/* Sets the member at `path` (keys separated by dots) to value, creating the objects on the way; a member
 * already there is replaced in its place, so records keep their key order. */
static void put_path(cJSON *record, const char *path, cJSON *value)
{
    char key[256];
    cJSON *node = record;
    for (;;) {
        const size_t n = strcspn(path, ".");
        assert(n > 0 && n < sizeof key);
        memcpy(key, path, n);
        key[n] = '\0';
        cJSON *child = cJSON_GetObjectItemCaseSensitive(node, key);
        if (path[n] == '\0') {
            if (child != NULL)
                cJSON_ReplaceItemInObjectCaseSensitive(node, key, value);
            else
                cJSON_AddItemToObject(node, key, value);
            return;
        }
        if (!cJSON_IsObject(child)) {
            cJSON *made = cJSON_CreateObject();
            if (child != NULL)
                cJSON_ReplaceItemInObjectCaseSensitive(node, key, made);
            else
                cJSON_AddItemToObject(node, key, made);
            child = made;
        }
        node = child;
        path += n + 1;
    }
}

void sb_record_put(cJSON *record, sb_field_id id, cJSON *value)
{
    assert(strchr(sb_field_of(id)->path, '*') == NULL);
    put_path(record, sb_field_of(id)->path, value != NULL ? value : cJSON_CreateNull());
}

void sb_record_put_at(cJSON *record, sb_field_id id, const char *key, cJSON *value)
{
    const char *path = sb_field_of(id)->path, *star = strchr(path, '*');
    assert(star != NULL);
    char full[512];
    snprintf(full, sizeof full, "%.*s%s%s", (int)(star - path), path, key, star + 1);
    put_path(record, full, value != NULL ? value : cJSON_CreateNull());
}

void sb_record_put_number(cJSON *record, sb_field_id id, double value)
{
    sb_record_put(record, id, isfinite(value) ? cJSON_CreateNumber(value) : cJSON_CreateNull());
}

void sb_record_put_string(cJSON *record, sb_field_id id, const char *value)
{
    sb_record_put(record, id, cJSON_CreateString(value));
}

void sb_record_put_bool(cJSON *record, sb_field_id id, bool value)
{
    sb_record_put(record, id, cJSON_CreateBool(value));
}

/* ---- the writer's contract -------------------------------------------------------------------------------- */

/* Whether some field lies below `path` (a `*` in the field matching any key). */
static bool has_children(const char *path)
{
    const size_t n = strlen(path);
    char prefix[512];
    for (size_t i = 0; i < SB_FIELD_COUNT; i++) {
        const char *dot = strrchr(fields[i].path, '.');
        if (dot == NULL || (size_t)(dot - fields[i].path) >= sizeof prefix)
            continue;
        snprintf(prefix, sizeof prefix, "%.*s", (int)(dot - fields[i].path), fields[i].path);
        if (path_matches(prefix, path) || (strncmp(prefix, path, n) == 0 && prefix[n] == '.'))
            return true;
    }
    return false;
}

static bool type_fits(const sb_field *f, const cJSON *node)
{
    if (cJSON_IsNull(node))
        return f->nullable;
    switch (f->type) {
    case SB_FIELD_STRING: return cJSON_IsString(node);
    case SB_FIELD_INTEGER: return cJSON_IsNumber(node) && node->valuedouble == floor(node->valuedouble);
    case SB_FIELD_NUMBER: return cJSON_IsNumber(node);
    case SB_FIELD_BOOL: return cJSON_IsBool(node);
    case SB_FIELD_OBJECT: return cJSON_IsObject(node);
    case SB_FIELD_ARRAY: return cJSON_IsArray(node);
    }
    return false;
}

/* Every member of object (below `prefix`) against the table. The writer's check (`strict`) refuses a field
 * the table lacks; the reader's ignores it (a record of a later shapebench may carry more) and checks the
 * types of the fields it knows, config's among them. */
static int check_members(const cJSON *object, const char *prefix, bool strict, sb_error *err)
{
    const cJSON *member;
    cJSON_ArrayForEach(member, object)
    {
        char path[512];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", member->string);
        const sb_field *f = sb_field_find(path);
        /* an object only on the way to fields (timing.parts_median) needs no entry of its own */
        if (f == NULL && cJSON_IsObject(member) && has_children(path)) {
            if (check_members(member, path, strict, err) != 0)
                return -1;
            continue;
        }
        if (f == NULL && !strict)
            continue;
        if (f == NULL)
            return sb_fail(err, "record field '%s' is not in the field table (record/fields.c)", path);
        if (!type_fits(f, member))
            return sb_fail(err, "record field '%s' is not %s%s", path, f->nullable ? "null or " : "",
                           sb_field_type_name(f->type));
        /* config holds Hugging Face's keys, of which the table lists those read back */
        if (cJSON_IsObject(member) && (f->id != SB_F_CONFIG || !strict) && has_children(path) &&
            check_members(member, path, strict, err) != 0)
            return -1;
    }
    return 0;
}

int sb_record_check_fields(const cJSON *record, sb_error *err)
{
    return check_members(record, "", true, err);
}

int sb_record_check_types(const cJSON *record, sb_error *err)
{
    return check_members(record, "", false, err);
}

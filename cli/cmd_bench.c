/* cmd_bench.c — `shapebench bench` (`make bench`): how fast the engine runs and how close it gets to its
 * GEMM backend, in fp32 and in bf16. Per model, backend and precision: seconds per sequence (median), the
 * engine's GFLOP/s as a fraction of the backend's own rate on exactly the GEMM shapes of that forward (each
 * timed in isolation, FLOP-weighted), the floor its FLOPs set at the backend's best rate on a large product,
 * the ceiling of the kernel's arithmetic (FMA or bf16 dot-product chains), incremental generation ms per
 * token; bf16 against fp32 (forward and a training step), and the peak RSS of one forward against count's
 * weights + activations. Contenders of a model take turns, round by round, so that their ratios are measured
 * on the same machine state. Writes a table and results/bench/bench.json. */
#include "cli/cli.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_SHAPES 128
#define MAX_LIST 16
/* (backend, precision) pairs a model is run with: OpenBLAS and oneDNN in fp32, oneDNN in bf16 (and
 * bf16-storage on both when asked for). */
#define MAX_CONTENDERS (2 * SB_PRECISIONS)

static char command_name[] = "bench";

typedef struct {
    const char *models[MAX_LIST], *gen_models[MAX_LIST], *train_models[MAX_LIST], *rss_model;
    size_t num_models, num_gen_models, num_train_models;
    sb_gemm_backend backends[2];
    size_t num_backends;
    sb_precision precisions[SB_PRECISIONS];
    size_t num_precisions;
    int64_t threads, reps, src, tgt, gen_tokens;
    int64_t train_batch, train_src, train_tgt, train_reps;
    bool prepack; /* oneDNN on weights pre-packed for its matmul (off: --no-prepack) */
    const char *out;
    char bf16_unavailable[SB_ERROR_MAX]; /* why bf16 is not run here; empty when it is */
} bench_options;

/* The execution context the benchmark runs a backend and precision in. */
static int open_exec(const bench_options *o, sb_gemm_backend backend, sb_precision precision, sb_exec **x,
                     sb_error *err)
{
    sb_exec_settings xs;
    sb_exec_settings_default(&xs);
    xs.backend = backend;
    xs.threads = (int)o->threads;
    xs.prepack = o->prepack;
    xs.compute = sb_precision_compute(precision);
    return sb_exec_create(x, &xs, err);
}

/* Whether (backend, precision) runs here: bf16 products on oneDNN only, and only with bf16 instructions. */
static bool runs(const bench_options *o, sb_gemm_backend backend, sb_precision precision)
{
    return precision != SB_PRECISION_BF16 || (backend == SB_GEMM_ONEDNN && o->bf16_unavailable[0] == '\0');
}

/* Targets the issues set for this benchmark (batch 1, 512 + 114 tokens, 2 threads). OpenBLAS's is for the
 * kernel this environment pins (OPENBLAS_CORETYPE=Haswell); with another core it is not judged. */
static const struct {
    const char *model;
    sb_gemm_backend backend;
    sb_precision precision;
    double max_seconds;
    const char *openblas_core; /* NULL: any */
} speed_targets[] = {
    {"t5-efficient-base", SB_GEMM_ONEDNN, SB_PRECISION_F32, 0.41, NULL},
    {"t5-efficient-base", SB_GEMM_OPENBLAS, SB_PRECISION_F32, 0.72, "Haswell"},
    {"t5-efficient-base", SB_GEMM_ONEDNN, SB_PRECISION_BF16, 0.24, NULL},
};
static const char *const fraction_target_models[] = {"t5-efficient-small", "t5-efficient-base"};
#define FRACTION_TARGET_F32 0.90
#define FRACTION_TARGET_BF16 0.85
/* bf16 over fp32 on oneDNN, same run: t5-efficient-base's forward, t5-efficient-small's training step at
 * batch 4 x 128 -> 29. */
#define FORWARD_SPEEDUP_MODEL "t5-efficient-base"
#define FORWARD_SPEEDUP_TARGET 1.6
#define TRAIN_SPEEDUP_MODEL "t5-efficient-small"
#define TRAIN_SPEEDUP_TARGET 1.5
#define RSS_TOLERANCE 0.10
/* Rounds of (--reps forwards, then the backend's replay of their GEMM shapes) per contender, the
 * contenders of a model taking turns within each round. */
#define BENCH_ROUNDS 3

static void usage(FILE *out)
{
    fprintf(out,
            "usage: shapebench bench [--models L] [--gen-models L] [--train-models L] [--rss-model M] [--gemm L]\n"
            "                        [--dtype L] [--threads N] [--reps N] [--src N] [--tgt N] [--gen-tokens N]\n"
            "                        [--train-batch N] [--train-src N] [--train-tgt N] [--train-reps N]\n"
            "                        [--no-prepack] [--out FILE]\n"
            "\n"
            "Engine speed on random-weight models, batch 1, per backend and precision (fp32, and bf16 products\n"
            "on oneDNN where the CPU has bf16 instructions): seconds per sequence (encoder + teacher-forced\n"
            "decoder, median of 3 rounds of --reps, the model's backends and precisions taking turns round by\n"
            "round), the engine's GFLOP/s as a fraction of the backend's own rate on the same GEMM shapes (each\n"
            "distinct shape of the forward timed alone, its weights read cold as in the forward, weighted by its\n"
            "FLOPs; oneDNN's products on pre-packed weights replayed as such; bf16 products replayed as oneDNN's\n"
            "matmul on operands already in bf16; timed after each round of forwards, the fraction is the median\n"
            "of the rounds'; fp32 shapes threaded by the library itself are reported beside it), a floor (the\n"
            "forward's FLOPs at the backend's best rate on a 2048^3 product in the same precision, timed after\n"
            "each round), the ceiling of the kernel's arithmetic (fp32: FMA chains in registers of its vector\n"
            "width, 256 bits for OpenBLAS's Haswell kernel; bf16: vdpbf16ps chains) and the share of it a speed\n"
            "target needs, where a forward's time goes per op class, greedy generation ms per generated token,\n"
            "bf16's speed-up over fp32 for the forward and for a training step (forward, backward, Adafactor),\n"
            "and the peak RSS of one forward (in a child process) against count's weights + activations. Prints\n"
            "a table and the targets met or not (at 512 + 114 tokens and 2 threads; OpenBLAS's s/sequence target\n"
            "is for the Haswell kernel and is not judged with another core), writes JSON.\n"
            "\n"
            "  --models L        comma-separated (default t5-efficient-tiny,t5-efficient-small,t5-efficient-base,\n"
            "                    switch-base-8)\n"
            "  --gen-models L    generation timed for these (default t5-efficient-small,t5-efficient-base; '' none)\n"
            "  --train-models L  a training step timed in each precision for these (default t5-efficient-small;\n"
            "                    '' none)\n"
            "  --rss-model M     peak RSS measured for M, fp32 (default t5-efficient-base; '' none)\n"
            "  --gemm L          backends, comma-separated (default openblas,onednn)\n"
            "  --dtype L         precisions, comma-separated: " SB_HELP_PRECISION "\n"
            "                    (default f32,bf16; bf16 runs on oneDNN only and is left out, saying why, where\n"
            "                    oneDNN has no bf16 instructions)\n"
            "  --threads N       " SB_HELP_THREADS " (default 2)\n"
            "  --reps N          timed forwards per round, model, backend and precision (default 5)\n"
            "  --src N           encoder tokens (default 512)\n"
            "  --tgt N           decoder tokens (default 114)\n"
            "  --gen-tokens N    tokens generated per timing (default 32)\n"
            "  --train-batch N   sequences per training step (default 4)\n"
            "  --train-src N     encoder tokens per training sequence (default 128)\n"
            "  --train-tgt N     decoder tokens per training sequence (default 29)\n"
            "  --train-reps N    timed training steps per round and precision (default 3)\n"
            "  --no-prepack      oneDNN on weights in HF layout through dnnl_sgemm, which packs them on every\n"
            "                    call (default: pre-packed once for its matmul)\n"
            "  --out FILE        JSON results (default results/bench/bench.json)\n"
            "  --help            this text\n");
}

static int split_list(char *text, const char **items, size_t *count)
{
    *count = 0;
    for (char *save = NULL, *tok = strtok_r(text, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        if (*count == MAX_LIST)
            return -1;
        items[(*count)++] = tok;
    }
    return 0;
}

static bool in_list(const char *name, const char *const *items, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(items[i], name) == 0)
            return true;
    return false;
}

/* Deterministic token ids away from pad / eos, decoder rows starting with decoder_start_token_id; `rows`
 * sequences of src + tgt ids, ids first, decoder ids after all of them. */
static void make_inputs(const sb_config *cfg, int32_t *ids, int64_t src, int32_t *dec, int64_t tgt, int64_t rows)
{
    uint64_t s = 0x9E3779B97F4A7C15ULL;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < src + tgt; i++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            const int32_t id = (int32_t)(2 + (s >> 33) % (uint64_t)(cfg->vocab_size - 2));
            if (i < src)
                ids[r * src + i] = id;
            else
                dec[r * tgt + i - src] = i == src ? (int32_t)cfg->decoder_start_token_id : id;
        }
}

static int forward(sb_runtime *rt, const int32_t *ids, int64_t src, const int32_t *dec, int64_t tgt, sb_error *err)
{
    return sb_encode(rt, 1, src, ids, NULL, err) != 0 ? -1 : sb_decode(rt, tgt, dec, err);
}

/* ---- the backend alone on the forward's GEMM shapes ----------------------------------------------------- */

/* Weights in the forward are cold: every call reads a different matrix. A shape timed alone rotates B
 * through this many bytes of distinct copies so that it reads them from memory too. */
#define COLD_B_BYTES (INT64_C(192) << 20)

/* Distinct B matrices a shape is timed with: one per call of the forward up to COLD_B_BYTES; one for the
 * attention products inside the parallel loop, whose B (keys, values) was just written by the engine. */
static int64_t b_copies(const sb_gemm_shape *s)
{
    const int64_t fit = COLD_B_BYTES / (s->k * s->n * sb_dtype_bytes(s->dtype));
    return s->in_parallel ? 1 : (s->calls < fit ? s->calls : (fit > 1 ? fit : 1));
}

/* Seconds per call of one shape as the library runs it (sb_gemm_replay: bf16 operands already rounded): alone
 * on every thread, or (in_parallel) one copy per thread at once, each single-threaded, so a call's share of
 * the wall time is wall / threads. Operands sit in buf, per_thread floats per thread; a bf16 operand takes
 * half the floats it is given. */
static double time_shape(sb_exec *x, const sb_gemm_shape *s, float *buf, int64_t per_thread, int threads)
{
    const int64_t copies_b = b_copies(s);
    const int copies = s->in_parallel ? threads : 1;
    double samples[64];
    size_t n = 0;
    double spent = 0;
    for (int64_t call = -copies_b; n < 64 && (n < 5 || spent < 0.05); call++) {
        const double start = sb_now_seconds();
#pragma omp parallel for num_threads(copies) if (copies > 1)
        for (int t = 0; t < copies; t++) {
            float *a = buf + t * per_thread, *c = a + s->m * s->k;
            const float *b = c + s->m * s->n + (call < 0 ? -call - 1 : call % copies_b) * s->k * s->n;
            /* A packed product reads its weights in the packed order whatever they hold: timing one on
             * plain copies costs the same. Such products never fail where the forward ran them. */
            sb_gemm_replay(x, s, a, b, c);
        }
        const double wall = sb_now_seconds() - start;
        if (call >= 0) { /* the first pass over the copies is a warm-up */
            samples[n++] = wall / copies;
            spent += wall;
        }
    }
    return sb_stats_compute(samples, n).median;
}

/* FLOP-weighted rate (GFLOP/s) of the backend over the recorded shapes into *gflops, each shape's own rate
 * into out unless it is NULL. */
static int backend_rate(sb_exec *x, const sb_gemm_shape *shapes, size_t count, int threads, cJSON *out,
                        double *gflops, sb_error *err)
{
    int64_t per_thread = 0;
    for (size_t i = 0; i < count; i++) {
        const sb_gemm_shape *s = &shapes[i];
        const int64_t need = s->m * s->k + s->m * s->n + b_copies(s) * s->k * s->n;
        per_thread = need > per_thread ? need : per_thread;
    }
    const size_t buf_bytes = (size_t)(per_thread * threads + 16) * sizeof(float);
    float *buf = sb_pages_alloc(buf_bytes);
    if (buf == NULL)
        return sb_fail(err, "out of memory for %.1f MiB of GEMM replay operands", (double)buf_bytes / (1 << 20));
    /* Small bf16 values in every half-word: read as bf16 they are small and normal, read as fp32 each float
     * is about its upper half's value. No denormals, no overflow, whatever the shape or its type. */
    uint16_t *halves = (uint16_t *)buf;
#pragma omp parallel for
    for (int64_t i = 0; i < 2 * per_thread * threads; i++)
        halves[i] = sb_f32_to_bf16(0.001f * (float)(1 + i % 17));
    double flops = 0, seconds = 0;
    for (size_t i = 0; i < count; i++) {
        const sb_gemm_shape *s = &shapes[i];
        const double t = time_shape(x, s, buf, per_thread, threads), f = 2.0 * (double)(s->m * s->n * s->k);
        flops += f * (double)s->calls;
        seconds += t * (double)s->calls;
        if (out == NULL)
            continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "op", s->trans_a ? (s->trans_b ? "TT" : "TN") : (s->trans_b ? "NT" : "NN"));
        cJSON_AddNumberToObject(o, "m", (double)s->m);
        cJSON_AddNumberToObject(o, "n", (double)s->n);
        cJSON_AddNumberToObject(o, "k", (double)s->k);
        cJSON_AddStringToObject(o, "dtype", sb_dtype_name(s->dtype));
        cJSON_AddNumberToObject(o, "calls", (double)s->calls);
        cJSON_AddBoolToObject(o, "per_thread_in_parallel", s->in_parallel);
        cJSON_AddBoolToObject(o, "weights", s->weights_b);
        cJSON_AddBoolToObject(o, "packed_weights", s->packed_b);
        cJSON_AddNumberToObject(o, "distinct_b", (double)b_copies(s));
        cJSON_AddNumberToObject(o, "gflops_alone", f / t / 1e9);
        cJSON_AddItemToArray(out, o);
    }
    sb_pages_free(buf, buf_bytes);
    *gflops = flops / seconds / 1e9;
    return sb_exec_failure(x, err);
}

/* ---- peak RSS in a child process -------------------------------------------------------------------------- */

/* Forks before the parent has started any OpenMP thread (libgomp does not survive fork in a threaded
 * process). The child opens the model, runs one forward and reports ru_maxrss in bytes. */
static int measure_rss(const bench_options *o, int64_t *rss_bytes, sb_error *err)
{
    int fds[2];
    if (pipe(fds) != 0)
        return sb_fail(err, "pipe: %s", strerror(errno));
    const pid_t pid = fork();
    if (pid < 0)
        return sb_fail(err, "fork: %s", strerror(errno));
    if (pid == 0) {
        close(fds[0]);
        sb_weights w = {0};
        sb_exec *x = NULL;
        sb_runtime *rt = NULL;
        int64_t result = -1;
        int32_t *ids = malloc((size_t)(o->src + o->tgt) * sizeof *ids);
        if (ids != NULL && open_exec(o, o->backends[0], SB_PRECISION_F32, &x, err) == 0 &&
            sb_model_open(o->rss_model, SB_DTYPE_F32, 0, &w, NULL, NULL, err) == 0 &&
            sb_weights_layout_for(&w, x, err) == 0 && sb_runtime_create(&rt, x, &w, 1, o->src, o->tgt, err) == 0) {
            make_inputs(&w.cfg, ids, o->src, ids + o->src, o->tgt, 1);
            struct rusage ru;
            if (forward(rt, ids, o->src, ids + o->src, o->tgt, err) == 0 && getrusage(RUSAGE_SELF, &ru) == 0)
                result = (int64_t)ru.ru_maxrss * 1024;
        }
        _exit(write(fds[1], &result, sizeof result) == (ssize_t)sizeof result && result > 0 ? 0 : 1);
    }
    close(fds[1]);
    int64_t result = -1;
    const ssize_t got = read(fds[0], &result, sizeof result);
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (got != (ssize_t)sizeof result || result <= 0)
        return sb_fail(err, "the RSS child process for %s failed", o->rss_model);
    *rss_bytes = result;
    return 0;
}

/* ---- one model: its backends and precisions take turns ---------------------------------------------------- */

typedef struct {
    char model[SB_NAME_MAX];
    sb_gemm_backend backend;
    sb_precision precision;
    double seconds, engine_gflops, gemm_gflops, library_gflops, fraction, gen_ms;
    /* The backend's best rate on the machine peaks' cube in the row's precision (side large_gemm_n, fastest
     * round), and the forward's FLOPs at that rate: what a sequence would take if every product ran as well
     * as the library's best case. */
    double large_gemm_gflops, floor_seconds;
    int64_t large_gemm_n;
    /* The rate of the arithmetic the kernel computes with (fp32 FMA at its vector width; bf16 dot products):
     * no product of that kernel can beat it. 0 with the reason in ceiling_unavailable when not known. */
    char ceiling_name[48];
    double ceiling_gflops;
    char ceiling_unavailable[SB_ERROR_MAX];
    int64_t flops, gen_tokens;
    /* Per sequence (mean over the timed forwards), from the engine's profile: each op class's seconds and
     * FLOPs, and the seconds in none (norms, residuals, embeddings, position bias). */
    double op_seconds[SB_OP_CLASSES], outside_seconds, mean_seconds;
    int64_t op_flops[SB_OP_CLASSES];
} bench_row;

/* One (backend, precision) of a model: its context, its weights (stored as its precision reads them, laid out
 * for its backend) and runtime, and what the rounds gather. */
typedef struct {
    sb_exec *x;
    sb_weights w;
    sb_runtime *rt;
    sb_gemm_shape shapes[MAX_SHAPES];
    size_t num_shapes;
    double *samples; /* seconds per timed forward, --reps per round */
    double total;    /* seconds of every timed forward */
    double rates[BENCH_ROUNDS], fractions[BENCH_ROUNDS], large_rates[BENCH_ROUNDS];
    cJSON *shape_list; /* the replay's per-shape rates of the first round */
    bench_row *row;
    cJSON *record;
} contender;

static const char *precision_label(sb_precision p)
{
    return sb_precision_name(p);
}

static int contender_open(const bench_options *o, const char *name, sb_gemm_backend backend, sb_precision precision,
                          contender *c, sb_error *err)
{
    c->row->backend = backend;
    c->row->precision = precision;
    c->samples = malloc((size_t)(o->reps * BENCH_ROUNDS) * sizeof *c->samples);
    if (c->samples == NULL)
        return sb_fail(err, "out of memory");
    return open_exec(o, backend, precision, &c->x, err) != 0 ||
                   sb_model_open(name, sb_precision_storage(precision, false), 0, &c->w, sb_cli_warn, command_name,
                                 err) != 0 ||
                   sb_weights_layout_for(&c->w, c->x, err) != 0 ||
                   sb_runtime_create(&c->rt, c->x, &c->w, 1, o->src, o->gen_tokens > o->tgt ? o->gen_tokens : o->tgt,
                                     err) != 0
               ? -1
               : 0;
}

static void contender_close(contender *c)
{
    sb_runtime_free(c->rt);
    sb_weights_free(&c->w);
    sb_exec_free(c->x);
    free(c->samples);
    cJSON_Delete(c->shape_list);
    *c = (contender){0};
}

/* A warm-up forward, then one recording its GEMM shapes and FLOPs. */
static int contender_record(const bench_options *o, contender *c, const int32_t *ids, const int32_t *dec,
                            sb_error *err)
{
    if (forward(c->rt, ids, o->src, dec, o->tgt, err) != 0)
        return -1;
    sb_exec_record(c->x, c->shapes, MAX_SHAPES);
    sb_exec_reset_flops(c->x);
    const int rc = forward(c->rt, ids, o->src, dec, o->tgt, err);
    c->num_shapes = sb_exec_recorded(c->x);
    sb_exec_record(c->x, NULL, 0);
    c->row->flops = sb_exec_flops(c->x);
    if (rc == 0 && c->num_shapes > MAX_SHAPES)
        return sb_fail(err, "more than %d distinct GEMM shapes", MAX_SHAPES);
    sb_exec_profile_reset(c->x);
    return rc;
}

/* One round: --reps forwards, then the backend's replay of their shapes and the large product. The forwards
 * and the replay alternate, round by round, and the fraction is the median of the rounds' ratios: this
 * machine's speed drifts by several per cent within a minute, and a replay timed long after its forwards
 * would put that drift into the fraction. */
static int contender_round(const bench_options *o, contender *c, int round, const int32_t *ids, const int32_t *dec,
                           sb_error *err)
{
    double *mine = c->samples + round * o->reps;
    for (int64_t r = 0; r < o->reps; r++) {
        const double start = sb_now_seconds();
        if (forward(c->rt, ids, o->src, dec, o->tgt, err) != 0)
            return -1;
        mine[r] = sb_now_seconds() - start;
        c->total += mine[r];
    }
    const double engine = (double)c->row->flops / sb_stats_compute(mine, (size_t)o->reps).median / 1e9;
    cJSON *list = round == 0 ? cJSON_CreateArray() : NULL;
    if (round == 0)
        c->shape_list = list;
    if (backend_rate(c->x, c->shapes, c->num_shapes, (int)o->threads, list, &c->rates[round], err) != 0)
        return -1;
    c->fractions[round] = engine / c->rates[round];
    return sb_peak_gemm_gflops(c->x, sb_peak_sizes_default().sgemm_n, sb_peak_sizes_default().reps,
                               &c->large_rates[round], err);
}

/* The ceiling of the row's arithmetic: fp32 FMA chains at the kernel's vector width, or bf16 dot products. */
static void measure_ceiling(const contender *c, cJSON *ceiling)
{
    bench_row *row = c->row;
    const sb_peak_sizes peak = sb_peak_sizes_default();
    sb_error why = {0};
    int rc = -1;
    row->ceiling_gflops = 0;
    if (sb_exec_compute(c->x) == SB_DTYPE_BF16) {
        snprintf(row->ceiling_name, sizeof row->ceiling_name, "bf16 dot (vdpbf16ps)");
        rc = sb_peak_bf16_dot_gflops(peak.fma_seconds, peak.reps, &row->ceiling_gflops, &why);
    } else {
        const int bits = sb_gemm_vector_bits(row->backend);
        snprintf(row->ceiling_name, sizeof row->ceiling_name, "%d-bit FMA", bits);
        if (bits == 0)
            sb_fail(&why, "the vector width of %s's kernel is not known", sb_exec_backend_version(c->x));
        else
            rc = sb_peak_fma_gflops(bits, peak.fma_seconds, peak.reps, &row->ceiling_gflops, &why);
    }
    row->ceiling_unavailable[0] = '\0';
    if (rc != 0) {
        row->ceiling_gflops = 0;
        snprintf(row->ceiling_unavailable, sizeof row->ceiling_unavailable, "%s", why.msg);
        cJSON_AddStringToObject(ceiling, "unavailable", why.msg);
        return;
    }
    cJSON_AddStringToObject(ceiling, "arithmetic", row->ceiling_name);
    cJSON_AddNumberToObject(ceiling, "gflops", row->ceiling_gflops);
    cJSON_AddStringToObject(ceiling, "method",
                            "independent chains of the instruction in registers on every thread (fp32: FMA at the "
                            "kernel's vector width, 2 FLOPs per lane; bf16: vdpbf16ps, 64 FLOPs per 512-bit "
                            "instruction), fastest of the machine peaks' repetitions");
}

/* After the rounds: the row's figures and its JSON record, the library-threaded replay (fp32), the ceiling
 * and, when asked, generation. */
static int contender_finish(const bench_options *o, contender *c, bool generate, const int32_t *ids, sb_error *err)
{
    bench_row *row = c->row;
    cJSON *record = c->record;
    const int64_t timed = o->reps * BENCH_ROUNDS;
    const sb_profile profile = sb_exec_profile(c->x);
    /* The same fp32 shapes once more, each one backend call threaded by the library itself: what the
     * wrapper's split of C (engine/exec/gemm.c) gains over the backend's own schedule. bf16 products are not
     * split: oneDNN's matmul threads them itself. */
    row->library_gflops = NAN;
    if (sb_exec_compute(c->x) == SB_DTYPE_F32) {
        const bool partitioned = sb_exec_partitioned(c->x);
        sb_exec_set_partitioned(c->x, false);
        const int rc = backend_rate(c->x, c->shapes, c->num_shapes, (int)o->threads, NULL, &row->library_gflops, err);
        sb_exec_set_partitioned(c->x, partitioned);
        if (rc != 0)
            return -1;
    }
    row->mean_seconds = row->outside_seconds = c->total / (double)timed;
    cJSON *classes = cJSON_CreateObject();
    for (int i = 0; i < SB_OP_CLASSES; i++) {
        row->op_seconds[i] = profile.op_seconds[i] / (double)timed;
        row->op_flops[i] = profile.op_flops[i] / timed;
        row->outside_seconds -= row->op_seconds[i];
        if (row->op_flops[i] == 0)
            continue;
        cJSON *cls = cJSON_AddObjectToObject(classes, sb_op_class_name((sb_op_class)i));
        cJSON_AddNumberToObject(cls, "seconds_per_sequence", row->op_seconds[i]);
        cJSON_AddNumberToObject(cls, "gflops", (double)row->op_flops[i] / row->op_seconds[i] / 1e9);
    }
    cJSON_AddNumberToObject(classes, "outside_op_classes_seconds_per_sequence", row->outside_seconds);
    cJSON_AddStringToObject(classes, "method",
                            "engine profile over the timed forwards (mean per sequence): wall time of each op class's "
                            "regions and the GEMM FLOPs inside them; outside: the forward's time in no region");
    const sb_stats st = sb_stats_compute(c->samples, (size_t)timed);
    const sb_peak_sizes peak = sb_peak_sizes_default();
    row->seconds = st.median;
    row->engine_gflops = (double)row->flops / st.median / 1e9;
    row->gemm_gflops = sb_stats_compute(c->rates, BENCH_ROUNDS).median;
    row->fraction = sb_stats_compute(c->fractions, BENCH_ROUNDS).median;
    row->large_gemm_n = peak.sgemm_n;
    row->large_gemm_gflops = sb_stats_compute(c->large_rates, BENCH_ROUNDS).max;
    row->floor_seconds = (double)row->flops / row->large_gemm_gflops / 1e9;
    const sb_dtype compute = sb_exec_compute(c->x);
    cJSON_AddStringToObject(record, "backend", sb_gemm_backend_name(row->backend));
    cJSON_AddStringToObject(record, "backend_version", sb_exec_backend_version(c->x));
    cJSON_AddStringToObject(record, "dtype", sb_precision_name(row->precision));
    cJSON_AddStringToObject(record, "compute_dtype", sb_dtype_name(compute));
    cJSON_AddStringToObject(record, "storage_dtype", sb_dtype_name(c->w.dtype));
    cJSON_AddNumberToObject(record, "weights_packed_tensors", (double)c->w.num_packed);
    cJSON_AddItemToObject(record, "seconds_per_sequence", sb_stats_to_json(&st, c->samples));
    cJSON_AddNumberToObject(record, "executed_flops", (double)row->flops);
    cJSON_AddNumberToObject(record, "engine_gflops", row->engine_gflops);
    cJSON_AddNumberToObject(record, "gemm_gflops_same_shapes", row->gemm_gflops);
    cJSON_AddNumberToObject(record, "fraction_of_gemm", row->fraction);
    if (!isnan(row->library_gflops))
        cJSON_AddNumberToObject(record, "library_threaded_gemm_gflops_same_shapes", row->library_gflops);
    cJSON_AddItemToObject(record, "gemm_gflops_per_round", cJSON_CreateDoubleArray(c->rates, BENCH_ROUNDS));
    cJSON_AddItemToObject(record, "fraction_per_round", cJSON_CreateDoubleArray(c->fractions, BENCH_ROUNDS));
    cJSON *large = cJSON_AddObjectToObject(record, "large_gemm");
    cJSON_AddNumberToObject(large, "n", (double)peak.sgemm_n);
    cJSON_AddNumberToObject(large, "gflops", row->large_gemm_gflops);
    cJSON_AddItemToObject(large, "gflops_per_round", cJSON_CreateDoubleArray(c->large_rates, BENCH_ROUNDS));
    cJSON_AddNumberToObject(large, "floor_seconds_per_sequence", row->floor_seconds);
    char method[320];
    snprintf(method, sizeof method,
             "n x n x n product in the row's compute type as the library runs it (bf16: operands already bf16), "
             "fastest of %d calls after a warm-up, once per round after the replay; gflops is the fastest round; "
             "floor = the forward's executed FLOPs at that rate",
             peak.reps);
    cJSON_AddStringToObject(large, "method", method);
    measure_ceiling(c, cJSON_AddObjectToObject(record, "ceiling"));
    cJSON_AddItemToObject(record, "gemm_shapes", c->shape_list);
    c->shape_list = NULL;
    cJSON_AddItemToObject(record, "op_classes", classes);

    row->gen_tokens = 0;
    if (!generate)
        return 0;
    int32_t *out = malloc((size_t)o->gen_tokens * sizeof *out);
    double *steps = malloc((size_t)o->gen_tokens * sizeof *steps);
    int64_t produced = -1;
    if (out != NULL && steps != NULL && sb_encode(c->rt, 1, o->src, ids, NULL, err) == 0)
        produced = sb_generate_greedy(c->rt, o->gen_tokens, out, steps, err);
    else if (out == NULL || steps == NULL)
        sb_fail(err, "out of memory");
    if (produced > 0) {
        const sb_stats gen = sb_stats_compute(steps, (size_t)produced);
        row->gen_ms = 1e3 * gen.median;
        row->gen_tokens = produced;
        cJSON *g = cJSON_AddObjectToObject(record, "generation");
        cJSON_AddNumberToObject(g, "input_tokens", (double)o->src);
        cJSON_AddNumberToObject(g, "generated_tokens", (double)produced);
        cJSON_AddNumberToObject(g, "ms_per_token_median", row->gen_ms);
        cJSON_AddItemToObject(g, "seconds_per_token", sb_stats_to_json(&gen, steps));
    }
    free(out);
    free(steps);
    return produced > 0 ? 0 : -1;
}

static int bench_model(const bench_options *o, const char *name, bench_row *rows, size_t *num_rows, cJSON *records,
                       sb_error *err)
{
    contender cs[MAX_CONTENDERS] = {0};
    size_t n = 0;
    int32_t *ids = malloc((size_t)(o->src + o->tgt) * sizeof *ids);
    int rc = ids != NULL ? 0 : sb_fail(err, "out of memory");
    /* One runtime per backend and precision, each with its own weights: they take turns within every round. */
    for (size_t b = 0; rc == 0 && b < o->num_backends; b++)
        for (size_t p = 0; rc == 0 && p < o->num_precisions; p++) {
            if (!runs(o, o->backends[b], o->precisions[p]))
                continue;
            contender *c = &cs[n++];
            c->row = &rows[(*num_rows)++];
            *c->row = (bench_row){0};
            snprintf(c->row->model, sizeof c->row->model, "%s", name);
            c->record = cJSON_CreateObject();
            cJSON_AddStringToObject(c->record, "model", name);
            cJSON_AddItemToArray(records, c->record);
            rc = contender_open(o, name, o->backends[b], o->precisions[p], c, err);
        }
    if (rc == 0 && n > 0) {
        make_inputs(&cs[0].w.cfg, ids, o->src, ids + o->src, o->tgt, 1);
        for (size_t i = 0; rc == 0 && i < n; i++)
            rc = contender_record(o, &cs[i], ids, ids + o->src, err);
        for (int round = 0; rc == 0 && round < BENCH_ROUNDS; round++)
            for (size_t i = 0; rc == 0 && i < n; i++)
                rc = contender_round(o, &cs[i], round, ids, ids + o->src, err);
        const bool generate = in_list(name, o->gen_models, o->num_gen_models);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            if ((rc = contender_finish(o, &cs[i], generate, ids, err)) == 0)
                fprintf(stderr, "shapebench bench: %s %s %s: %.4f s/sequence\n", name,
                        sb_gemm_backend_name(cs[i].row->backend), precision_label(cs[i].row->precision),
                        cs[i].row->seconds);
        }
    }
    for (size_t i = 0; i < n; i++)
        contender_close(&cs[i]);
    free(ids);
    return rc;
}

/* ---- a training step, fp32 against bf16 -------------------------------------------------------------------- */

typedef struct {
    char model[SB_NAME_MAX];
    sb_gemm_backend backend;
    sb_precision precision;
    double seconds; /* per step, median */
    int64_t flops;  /* executed GEMM FLOPs per step */
} train_row;

typedef struct {
    sb_exec *x;
    sb_weights w;
    sb_trainer *trainer;
    sb_optimizer *optimizer;
    double *samples;
    train_row *row;
} train_contender;

/* One step as the harness's train mode takes it: forward, backward, T5's Adafactor update. */
static int train_step(train_contender *c, const sb_train_batch *batch, sb_error *err)
{
    return sb_trainer_step(c->trainer, batch, true, false, NULL, err) != 0 ||
                   sb_optimizer_step(c->optimizer, &c->w, sb_trainer_grads(c->trainer), SB_OPTIM_LR_DEFAULT, err) != 0
               ? -1
               : 0;
}

static int bench_train(const bench_options *o, const char *name, train_row *rows, size_t *num_rows, cJSON *records,
                       sb_error *err)
{
    train_contender cs[MAX_CONTENDERS] = {0};
    size_t n = 0;
    const int64_t B = o->train_batch, S = o->train_src, T = o->train_tgt, timed = o->train_reps * BENCH_ROUNDS;
    int32_t *ids = malloc((size_t)(B * (S + 2 * T)) * sizeof *ids);
    int rc = ids != NULL ? 0 : sb_fail(err, "out of memory");
    for (size_t b = 0; rc == 0 && b < o->num_backends; b++)
        for (size_t p = 0; rc == 0 && p < o->num_precisions; p++) {
            /* training keeps fp32 weights: bf16-storage trains as f32 does */
            if (!runs(o, o->backends[b], o->precisions[p]) || o->precisions[p] == SB_PRECISION_BF16_STORAGE)
                continue;
            train_contender *c = &cs[n++];
            c->row = &rows[(*num_rows)++];
            *c->row = (train_row){.backend = o->backends[b], .precision = o->precisions[p]};
            snprintf(c->row->model, sizeof c->row->model, "%s", name);
            sb_optim_settings adafactor;
            sb_optim_defaults(SB_OPTIM_ADAFACTOR, &adafactor);
            c->samples = malloc((size_t)timed * sizeof *c->samples);
            rc = c->samples == NULL ? sb_fail(err, "out of memory")
                 : open_exec(o, o->backends[b], o->precisions[p], &c->x, err) != 0 ||
                         sb_model_open(name, SB_DTYPE_F32, 0, &c->w, sb_cli_warn, command_name, err) != 0 ||
                         sb_trainer_create(&c->trainer, c->x, &c->w, B, S, T, NULL, err) != 0 ||
                         sb_optimizer_create(&c->optimizer, &c->w, &adafactor, err) != 0
                     ? -1
                     : 0;
        }
    if (rc == 0 && n > 0) {
        int32_t *dec = ids + B * S, *labels = dec + B * T;
        make_inputs(&cs[0].w.cfg, ids, S, dec, T, B);
        /* teacher forcing: each label is the next decoder input; eos closes each sequence */
        for (int64_t i = 0; i < B * T; i++)
            labels[i] = (i + 1) % T != 0 ? dec[i + 1] : (int32_t)cs[0].w.cfg.eos_token_id;
        const sb_train_batch batch = {.input_ids = ids, .decoder_input_ids = dec, .labels = labels};
        for (size_t i = 0; rc == 0 && i < n; i++) { /* warm-up, and the FLOPs of one step */
            sb_exec_reset_flops(cs[i].x);
            rc = train_step(&cs[i], &batch, err);
            cs[i].row->flops = sb_exec_flops(cs[i].x);
        }
        for (int round = 0; rc == 0 && round < BENCH_ROUNDS; round++)
            for (size_t i = 0; rc == 0 && i < n; i++)
                for (int64_t r = 0; rc == 0 && r < o->train_reps; r++) {
                    const double start = sb_now_seconds();
                    rc = train_step(&cs[i], &batch, err);
                    cs[i].samples[round * o->train_reps + r] = sb_now_seconds() - start;
                }
        for (size_t i = 0; rc == 0 && i < n; i++) {
            const sb_stats st = sb_stats_compute(cs[i].samples, (size_t)timed);
            cs[i].row->seconds = st.median;
            cJSON *r = cJSON_CreateObject();
            cJSON_AddStringToObject(r, "model", name);
            cJSON_AddStringToObject(r, "backend", sb_gemm_backend_name(cs[i].row->backend));
            cJSON_AddStringToObject(r, "dtype", sb_precision_name(cs[i].row->precision));
            cJSON_AddNumberToObject(r, "batch", (double)B);
            cJSON_AddNumberToObject(r, "src_len", (double)S);
            cJSON_AddNumberToObject(r, "tgt_len", (double)T);
            cJSON_AddItemToObject(r, "seconds_per_step", sb_stats_to_json(&st, cs[i].samples));
            cJSON_AddNumberToObject(r, "executed_flops_per_step", (double)cs[i].row->flops);
            cJSON_AddNumberToObject(r, "gflops", (double)cs[i].row->flops / st.median / 1e9);
            cJSON_AddStringToObject(r, "method",
                                    "wall time of sb_trainer_step (forward, backward) and sb_optimizer_step (T5's "
                                    "Adafactor) on fixed random tokens, the precisions taking turns round by round");
            cJSON_AddItemToArray(records, r);
            fprintf(stderr, "shapebench bench: %s training step %s %s: %.4f s\n", name,
                    sb_gemm_backend_name(cs[i].row->backend), precision_label(cs[i].row->precision), st.median);
        }
    }
    for (size_t i = 0; i < n; i++) {
        sb_optimizer_free(cs[i].optimizer);
        sb_trainer_free(cs[i].trainer);
        sb_weights_free(&cs[i].w);
        sb_exec_free(cs[i].x);
        free(cs[i].samples);
    }
    free(ids);
    return rc;
}

/* ---- report ------------------------------------------------------------------------------------------------- */

static cJSON *add_target(cJSON *targets, const char *what, double value, const char *op, double limit, bool met)
{
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "target", what);
    cJSON_AddNumberToObject(t, "value", value);
    cJSON_AddStringToObject(t, "op", op);
    cJSON_AddNumberToObject(t, "limit", limit);
    cJSON_AddBoolToObject(t, "met", met);
    cJSON_AddItemToArray(targets, t);
    printf("  %-64s %10.4f %s %-8g %s\n", what, value, op, limit, met ? "met" : "NOT met");
    return t;
}

static const bench_row *find_row(const bench_row *rows, size_t n, const char *model, sb_gemm_backend backend,
                                 sb_precision precision)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].model, model) == 0 && rows[i].backend == backend && rows[i].precision == precision)
            return &rows[i];
    return NULL;
}

static bool at_target_settings(const bench_options *o)
{
    return o->src == 512 && o->tgt == 114 && o->threads == 2;
}

/* A speed target's verdict with, beside it, how much room the library left: a limit under the floor needs
 * every product faster than the backend's best case; and how much of the arithmetic's ceiling it asks for. */
static void judge_speed(cJSON *targets, const bench_row *row, double max_seconds)
{
    char what[SB_NAME_MAX + 64];
    snprintf(what, sizeof what, "%.200s %s %s s/sequence", row->model, sb_gemm_backend_name(row->backend),
             sb_precision_name(row->precision));
    cJSON *judged = add_target(targets, what, row->seconds, "<=", max_seconds, row->seconds <= max_seconds);
    cJSON_AddNumberToObject(judged, "floor_seconds", row->floor_seconds);
    printf("    floor at %s's %.1f GFLOP/s on a %" PRId64 "^3 %s product: %.4f s; the limit is %.1f %% of it\n",
           sb_gemm_backend_name(row->backend), row->large_gemm_gflops, row->large_gemm_n,
           sb_dtype_name(sb_precision_compute(row->precision)), row->floor_seconds,
           100 * max_seconds / row->floor_seconds);
    if (row->ceiling_unavailable[0] != '\0') {
        printf("    ceiling: unavailable (%s)\n", row->ceiling_unavailable);
        return;
    }
    const double needed = (double)row->flops / max_seconds / 1e9 / row->ceiling_gflops;
    cJSON_AddNumberToObject(judged, "ceiling_share_needed", needed);
    printf("    ceiling: %s on every thread at %.1f GFLOP/s; the %" PRId64 "^3 product reaches %.1f %% of it, the "
           "limit needs %.1f %% over the whole forward\n",
           row->ceiling_name, row->ceiling_gflops, row->large_gemm_n, 100 * row->large_gemm_gflops / row->ceiling_gflops,
           100 * needed);
}

static void report(const bench_options *o, const bench_row *rows, size_t num_rows, const train_row *trains,
                   size_t num_trains, int64_t rss, int64_t expected, const char *openblas_core, cJSON *root)
{
    printf("\nshapebench bench: batch 1, %" PRId64 " encoder + %" PRId64 " decoder tokens, %" PRId64 " threads\n",
           o->src, o->tgt, o->threads);
    for (size_t b = 0; b < o->num_backends; b++) {
        char version[160];
        sb_gemm_backend_version(o->backends[b], (int)o->threads, version, sizeof version);
        printf("  %-9s %s%s\n", sb_gemm_backend_name(o->backends[b]), version,
               o->backends[b] != SB_GEMM_ONEDNN ? ""
               : o->prepack                     ? ", weights pre-packed for its matmul"
                                                : ", weights in HF layout (--no-prepack)");
    }
    printf("  oneDNN dispatches to %s; bf16: %s\n", sb_onednn_isa_name(),
           o->bf16_unavailable[0] == '\0' ? "products on oneDNN's matmul, fp32 accumulation" : o->bf16_unavailable);
    printf("\n");
    printf("%-22s %-9s %-12s %12s %12s %11s %13s %13s %9s %15s %13s\n", "model", "backend", "dtype", "s/sequence",
           "floor s/seq+", "GFLOP/seq", "engine GFLOP/s", "gemm GFLOP/s*", "fraction", "lib-thr GFLOP/s",
           "gen ms/token");
    for (size_t i = 0; i < num_rows; i++) {
        char gen[32] = "-", lib[32] = "-";
        if (rows[i].gen_tokens > 0)
            snprintf(gen, sizeof gen, "%.2f", rows[i].gen_ms);
        if (!isnan(rows[i].library_gflops))
            snprintf(lib, sizeof lib, "%.1f", rows[i].library_gflops);
        printf("%-22s %-9s %-12s %12.4f %12.4f %11.2f %13.1f %13.1f %9.3f %15s %13s\n", rows[i].model,
               sb_gemm_backend_name(rows[i].backend), sb_precision_name(rows[i].precision), rows[i].seconds,
               rows[i].floor_seconds, (double)rows[i].flops / 1e9, rows[i].engine_gflops, rows[i].gemm_gflops,
               rows[i].fraction, lib, gen);
    }
    printf("* the backend on the same GEMM shapes, each timed alone (fp32: through the engine's GEMM wrapper, C\n"
           "  split into one single-threaded backend call per thread; oneDNN's products on pre-packed weights as\n"
           "  its matmul on packed weights; bf16: oneDNN's matmul on operands already in bf16), FLOP-weighted;\n"
           "  fraction = engine / that. lib-thr: the fp32 shapes as one call each, threaded by the library itself.\n"
           "+ floor: the forward's FLOPs at the backend's best rate on a %" PRId64 "^3 product of the same precision\n"
           "  (the machine peaks' size), measured beside each round (fastest): the time if every product ran as\n"
           "  fast as the library's best case.\n",
           sb_peak_sizes_default().sgemm_n);

    printf("\nwhere a forward's time goes (engine profile, mean over the timed forwards): ms per sequence and "
           "GFLOP/s per op class; `none`: norms, residuals, embeddings, position bias\n");
    printf("%-22s %-9s %-12s", "model", "backend", "dtype");
    for (int c = 0; c < SB_OP_CLASSES; c++)
        printf(" %22s", sb_op_class_name((sb_op_class)c));
    printf(" %15s\n", "none ms (share)");
    for (size_t i = 0; i < num_rows; i++) {
        printf("%-22s %-9s %-12s", rows[i].model, sb_gemm_backend_name(rows[i].backend),
               sb_precision_name(rows[i].precision));
        for (int c = 0; c < SB_OP_CLASSES; c++) {
            char cell[48] = "-";
            if (rows[i].op_flops[c] > 0)
                snprintf(cell, sizeof cell, "%.1f ms %.0f GF/s", 1e3 * rows[i].op_seconds[c],
                         (double)rows[i].op_flops[c] / rows[i].op_seconds[c] / 1e9);
            printf(" %22s", cell);
        }
        printf(" %7.1f (%4.1f %%)\n", 1e3 * rows[i].outside_seconds, 100 * rows[i].outside_seconds / rows[i].mean_seconds);
    }

    /* bf16 against fp32 on the same backend, same run */
    bool any = false;
    for (size_t i = 0; i < num_rows; i++) {
        const bench_row *f32 = find_row(rows, num_rows, rows[i].model, rows[i].backend, SB_PRECISION_F32);
        if (rows[i].precision == SB_PRECISION_F32 || f32 == NULL)
            continue;
        if (!any)
            printf("\nspeed-up over fp32 on the same backend, same run (s/sequence of fp32 / of the row; per op "
                   "class: its ms)\n");
        any = true;
        printf("  %-22s %-9s %-12s %6.2fx   ", rows[i].model, sb_gemm_backend_name(rows[i].backend),
               sb_precision_name(rows[i].precision), f32->seconds / rows[i].seconds);
        for (int c = 0; c < SB_OP_CLASSES; c++)
            if (rows[i].op_seconds[c] > 0 && f32->op_seconds[c] > 0)
                printf(" %s %.2fx", sb_op_class_name((sb_op_class)c), f32->op_seconds[c] / rows[i].op_seconds[c]);
        printf(" none %.2fx\n", f32->outside_seconds / rows[i].outside_seconds);
    }
    if (num_trains > 0) {
        printf("\ntraining step (forward, backward, Adafactor), batch %" PRId64 " x %" PRId64 " -> %" PRId64
               " tokens:\n",
               o->train_batch, o->train_src, o->train_tgt);
        for (size_t i = 0; i < num_trains; i++)
            printf("  %-22s %-9s %-12s %9.4f s/step %9.1f GFLOP/s\n", trains[i].model,
                   sb_gemm_backend_name(trains[i].backend), sb_precision_name(trains[i].precision), trains[i].seconds,
                   (double)trains[i].flops / trains[i].seconds / 1e9);
    }
    if (rss > 0)
        printf("\npeak RSS of one %s forward: %.1f MiB; count's weights + activations: %.1f MiB (ratio %.3f)\n",
               o->rss_model, (double)rss / (1 << 20), (double)expected / (1 << 20), (double)rss / (double)expected);

    printf("\ntargets:\n");
    cJSON *targets = cJSON_AddArrayToObject(root, "targets");
    char what[SB_NAME_MAX + 96];
    for (size_t i = 0; i < num_rows; i++) {
        const bench_row *row = &rows[i];
        for (size_t t = 0; t < sizeof speed_targets / sizeof speed_targets[0] && at_target_settings(o); t++) {
            if (strcmp(row->model, speed_targets[t].model) != 0 || row->backend != speed_targets[t].backend ||
                row->precision != speed_targets[t].precision)
                continue;
            if (speed_targets[t].openblas_core != NULL &&
                strcasecmp(openblas_core, speed_targets[t].openblas_core) != 0) {
                char why[160];
                snprintf(what, sizeof what, "%.200s %s %s s/sequence", row->model, sb_gemm_backend_name(row->backend),
                         sb_precision_name(row->precision));
                snprintf(why, sizeof why, "the %g s target is for OpenBLAS's %s kernel; this run has %s",
                         speed_targets[t].max_seconds, speed_targets[t].openblas_core, openblas_core);
                printf("  %-64s %10.4f not judged: %s\n", what, row->seconds, why);
                cJSON *nj = cJSON_CreateObject();
                cJSON_AddStringToObject(nj, "target", what);
                cJSON_AddNumberToObject(nj, "value", row->seconds);
                cJSON_AddStringToObject(nj, "not_judged", why);
                cJSON_AddItemToArray(targets, nj);
                continue;
            }
            judge_speed(targets, row, speed_targets[t].max_seconds);
        }
        if (in_list(row->model, fraction_target_models, 2) && row->precision != SB_PRECISION_BF16_STORAGE) {
            const double limit = row->precision == SB_PRECISION_BF16 ? FRACTION_TARGET_BF16 : FRACTION_TARGET_F32;
            snprintf(what, sizeof what, "%.200s %s %s fraction of the backend's GEMM rate", row->model,
                     sb_gemm_backend_name(row->backend), sb_precision_name(row->precision));
            add_target(targets, what, row->fraction, ">=", limit, row->fraction >= limit);
        }
    }
    const bench_row *f32 = find_row(rows, num_rows, FORWARD_SPEEDUP_MODEL, SB_GEMM_ONEDNN, SB_PRECISION_F32);
    const bench_row *bf16 = find_row(rows, num_rows, FORWARD_SPEEDUP_MODEL, SB_GEMM_ONEDNN, SB_PRECISION_BF16);
    if (f32 != NULL && bf16 != NULL && at_target_settings(o))
        add_target(targets, FORWARD_SPEEDUP_MODEL " onednn bf16 forward speed-up over f32", f32->seconds / bf16->seconds,
                   ">=", FORWARD_SPEEDUP_TARGET, f32->seconds / bf16->seconds >= FORWARD_SPEEDUP_TARGET);
    const train_row *tf = NULL, *tb = NULL;
    for (size_t i = 0; i < num_trains; i++)
        if (strcmp(trains[i].model, TRAIN_SPEEDUP_MODEL) == 0 && trains[i].backend == SB_GEMM_ONEDNN) {
            tf = trains[i].precision == SB_PRECISION_F32 ? &trains[i] : tf;
            tb = trains[i].precision == SB_PRECISION_BF16 ? &trains[i] : tb;
        }
    if (tf != NULL && tb != NULL && o->train_batch == 4 && o->train_src == 128 && o->train_tgt == 29 &&
        o->threads == 2)
        add_target(targets, TRAIN_SPEEDUP_MODEL " onednn bf16 training-step speed-up over f32",
                   tf->seconds / tb->seconds, ">=", TRAIN_SPEEDUP_TARGET, tf->seconds / tb->seconds >= TRAIN_SPEEDUP_TARGET);
    if (o->bf16_unavailable[0] != '\0')
        printf("  bf16 targets not judged: %s\n", o->bf16_unavailable);
    if (rss > 0) {
        const double ratio = (double)rss / (double)expected;
        snprintf(what, sizeof what, "%.200s peak RSS / (weights + activations) - 1", o->rss_model);
        add_target(targets, what, ratio - 1, "|.|<=", RSS_TOLERANCE, fabs(ratio - 1) <= RSS_TOLERANCE);
    }
}

static int write_json(const char *path, cJSON *root, sb_error *err)
{
    char *text = cJSON_Print(root);
    if (text == NULL)
        return sb_fail(err, "out of memory formatting %s", path);
    const int rc = sb_mkdir_parent(path, err) == 0 ? sb_write_text_atomic(path, text, true, err) : -1;
    free(text);
    return rc;
}

int sb_cmd_bench(int argc, char **argv)
{
    const char *cmd = command_name;
    enum {
        O_MODELS = SB_OPT_OWN,
        O_GEN_MODELS,
        O_TRAIN_MODELS,
        O_RSS_MODEL,
        O_REPS,
        O_SRC,
        O_TGT,
        O_GEN_TOKENS,
        O_TRAIN_BATCH,
        O_TRAIN_SRC,
        O_TRAIN_TGT,
        O_TRAIN_REPS,
        O_NO_PREPACK
    };
    static const struct option options[] = {
        {"models", required_argument, NULL, O_MODELS},
        {"gen-models", required_argument, NULL, O_GEN_MODELS},
        {"train-models", required_argument, NULL, O_TRAIN_MODELS},
        {"rss-model", required_argument, NULL, O_RSS_MODEL},
        SB_OPTION_GEMM,
        SB_OPTION_DTYPE,
        SB_OPTION_THREADS,
        {"reps", required_argument, NULL, O_REPS},
        {"src", required_argument, NULL, O_SRC},
        {"tgt", required_argument, NULL, O_TGT},
        {"gen-tokens", required_argument, NULL, O_GEN_TOKENS},
        {"train-batch", required_argument, NULL, O_TRAIN_BATCH},
        {"train-src", required_argument, NULL, O_TRAIN_SRC},
        {"train-tgt", required_argument, NULL, O_TRAIN_TGT},
        {"train-reps", required_argument, NULL, O_TRAIN_REPS},
        SB_OPTION_OUT,
        {"no-prepack", no_argument, NULL, O_NO_PREPACK},
        SB_OPTION_HELP,
        {NULL, 0, NULL, 0},
    };
    char models[] = "t5-efficient-tiny,t5-efficient-small,t5-efficient-base,switch-base-8";
    char gen_models[] = "t5-efficient-small,t5-efficient-base";
    char train_models[] = TRAIN_SPEEDUP_MODEL;
    bench_options o = {.rss_model = "t5-efficient-base", .threads = 2, .reps = 5, .src = 512, .tgt = 114,
                       .gen_tokens = 32, .train_batch = 4, .train_src = 128, .train_tgt = 29, .train_reps = 3,
                       .prepack = true, .out = "results/bench/bench.json",
                       .backends = {SB_GEMM_OPENBLAS, SB_GEMM_ONEDNN}, .num_backends = 2,
                       .precisions = {SB_PRECISION_F32, SB_PRECISION_BF16}, .num_precisions = 2};
    split_list(models, o.models, &o.num_models);
    split_list(gen_models, o.gen_models, &o.num_gen_models);
    split_list(train_models, o.train_models, &o.num_train_models);
    sb_error err = {0};
    int opt, threads = 2;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        int rc = SB_EXIT_OK;
        switch (opt) {
        case SB_OPT_HELP:
            usage(stdout);
            return SB_EXIT_OK;
        case O_MODELS:
            if (split_list(optarg, o.models, &o.num_models) != 0 || o.num_models == 0)
                rc = sb_cli_error(cmd, SB_EXIT_USAGE, "--models '%s' must list 1 to %d names", optarg, MAX_LIST);
            break;
        case O_GEN_MODELS:
            if (split_list(optarg, o.gen_models, &o.num_gen_models) != 0)
                rc = sb_cli_error(cmd, SB_EXIT_USAGE, "--gen-models '%s' lists more than %d names", optarg, MAX_LIST);
            break;
        case O_TRAIN_MODELS:
            if (split_list(optarg, o.train_models, &o.num_train_models) != 0)
                rc = sb_cli_error(cmd, SB_EXIT_USAGE, "--train-models '%s' lists more than %d names", optarg,
                                  MAX_LIST);
            break;
        case O_RSS_MODEL: o.rss_model = optarg; break;
        case SB_OPT_GEMM: rc = sb_opt_gemm_list(cmd, optarg, o.backends, &o.num_backends); break;
        case SB_OPT_DTYPE: rc = sb_opt_precision_list(cmd, optarg, o.precisions, &o.num_precisions); break;
        case SB_OPT_THREADS: rc = sb_opt_threads(cmd, optarg, &threads); break;
        case O_REPS: rc = sb_opt_integer(cmd, "reps", optarg, 1, 1000, &o.reps); break;
        case O_SRC: rc = sb_opt_integer(cmd, "src", optarg, 1, 1 << 20, &o.src); break;
        case O_TGT: rc = sb_opt_integer(cmd, "tgt", optarg, 1, 1 << 20, &o.tgt); break;
        case O_GEN_TOKENS: rc = sb_opt_integer(cmd, "gen-tokens", optarg, 1, 1 << 20, &o.gen_tokens); break;
        case O_TRAIN_BATCH: rc = sb_opt_integer(cmd, "train-batch", optarg, 1, 4096, &o.train_batch); break;
        case O_TRAIN_SRC: rc = sb_opt_integer(cmd, "train-src", optarg, 1, 1 << 16, &o.train_src); break;
        case O_TRAIN_TGT: rc = sb_opt_integer(cmd, "train-tgt", optarg, 2, 1 << 16, &o.train_tgt); break;
        case O_TRAIN_REPS: rc = sb_opt_integer(cmd, "train-reps", optarg, 1, 1000, &o.train_reps); break;
        case SB_OPT_OUT: o.out = optarg; break;
        case O_NO_PREPACK: o.prepack = false; break;
        default: rc = sb_opt_bad(cmd, opt, argv, options); break;
        }
        if (rc != SB_EXIT_OK)
            return rc;
    }
    if (optind != argc)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "unexpected argument '%s' (shapebench bench --help)", argv[optind]);
    /* 0: every thread OpenMP would use, fixed here since the benchmark times one copy of a product per thread */
    o.threads = threads > 0 ? threads : omp_get_max_threads();
    bool bf16_asked = false, onednn = false;
    for (size_t p = 0; p < o.num_precisions; p++)
        bf16_asked = bf16_asked || o.precisions[p] == SB_PRECISION_BF16;
    for (size_t b = 0; b < o.num_backends; b++)
        onednn = onednn || o.backends[b] == SB_GEMM_ONEDNN;
    if (bf16_asked && !onednn)
        snprintf(o.bf16_unavailable, sizeof o.bf16_unavailable,
                 "bf16 products run on oneDNN only (Debian's OpenBLAS has no bf16 GEMM): add onednn to --gemm");
    else if (bf16_asked && sb_bf16_available(&err) != 0)
        snprintf(o.bf16_unavailable, sizeof o.bf16_unavailable, "%s", err.msg);
    if (o.bf16_unavailable[0] != '\0')
        fprintf(stderr, "shapebench bench: bf16 left out: %s\n", o.bf16_unavailable);

    sb_cli_check_machine(cmd);
    int64_t rss = 0, expected = 0;
    if (o.rss_model[0] != '\0') {
        sb_config cfg;
        sb_counts counts;
        const sb_count_settings settings = {1, o.src, o.tgt, SB_DTYPE_F32};
        if (sb_config_resolve(o.rss_model, &cfg, NULL, NULL, &err) != 0 ||
            sb_count(&cfg, &settings, &counts, &err) != 0 || measure_rss(&o, &rss, &err) != 0)
            return sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
        expected = counts.memory_bytes.weights + counts.memory_bytes.activations_forward;
    }
    cJSON *root = cJSON_CreateObject();
    cJSON *settings = cJSON_AddObjectToObject(root, "settings");
    cJSON_AddNumberToObject(settings, "batch", 1);
    cJSON_AddNumberToObject(settings, "src_len", (double)o.src);
    cJSON_AddNumberToObject(settings, "tgt_len", (double)o.tgt);
    cJSON *dtypes = cJSON_AddArrayToObject(settings, "dtypes");
    for (size_t p = 0; p < o.num_precisions; p++)
        cJSON_AddItemToArray(dtypes, cJSON_CreateString(sb_precision_name(o.precisions[p])));
    if (o.bf16_unavailable[0] != '\0')
        cJSON_AddStringToObject(settings, "bf16_unavailable", o.bf16_unavailable);
    cJSON_AddNumberToObject(settings, "threads", (double)o.threads);
    cJSON_AddNumberToObject(settings, "reps", (double)o.reps);
    cJSON_AddStringToObject(settings, "weights", "random (T5 init, seed 0)");
    cJSON_AddBoolToObject(settings, "onednn_prepack", o.prepack);
    sb_sysinfo sys;
    sb_exec *first = NULL;
    const bool have_sys = open_exec(&o, o.backends[0], SB_PRECISION_F32, &first, &err) == 0 &&
                          sb_sysinfo_collect(&sys, first, &err) == 0;
    sb_exec_free(first);
    if (have_sys)
        cJSON_AddItemToObject(root, "system", sb_sysinfo_to_json(&sys, NULL));
    cJSON *records = cJSON_AddArrayToObject(root, "results");
    cJSON *train_records = cJSON_AddArrayToObject(root, "training_steps");
    bench_row rows[MAX_CONTENDERS * MAX_LIST];
    train_row trains[MAX_CONTENDERS * MAX_LIST];
    size_t num_rows = 0, num_trains = 0;
    for (size_t m = 0; m < o.num_models; m++)
        if (bench_model(&o, o.models[m], rows, &num_rows, records, &err) != 0) {
            cJSON_Delete(root);
            return sb_cli_error(cmd, SB_EXIT_FAILURE, "%s: %s", o.models[m], err.msg);
        }
    for (size_t m = 0; m < o.num_train_models; m++)
        if (bench_train(&o, o.train_models[m], trains, &num_trains, train_records, &err) != 0) {
            cJSON_Delete(root);
            return sb_cli_error(cmd, SB_EXIT_FAILURE, "%s (training step): %s", o.train_models[m], err.msg);
        }
    if (rss > 0) {
        cJSON *r = cJSON_AddObjectToObject(root, "peak_rss");
        cJSON_AddStringToObject(r, "model", o.rss_model);
        cJSON_AddNumberToObject(r, "bytes", (double)rss);
        cJSON_AddNumberToObject(r, "weights_plus_activations_bytes", (double)expected);
        cJSON_AddNumberToObject(r, "ratio", (double)rss / (double)expected);
    }
    report(&o, rows, num_rows, trains, num_trains, rss, expected, have_sys ? sys.openblas_core : "unknown", root);
    const int rc = write_json(o.out, root, &err);
    cJSON_Delete(root);
    if (rc != 0)
        return sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
    printf("\nwrote %s\n", o.out);
    return SB_EXIT_OK;
}

/* cmd_bench.c — `shapebench bench` (`make bench`): how fast the engine runs and how close it gets to its
 * GEMM backend. Per model and backend: seconds per sequence (median), the engine's GFLOP/s as a fraction of
 * the backend's sgemm rate on exactly the GEMM shapes of that forward (each timed in isolation, FLOP-
 * weighted), the floor its FLOPs set at the backend's best rate on a large product, incremental
 * generation ms per token, and the peak RSS of one forward against count's
 * weights + activations. Writes a table and results/bench/bench.json. */
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

static char command_name[] = "bench";

typedef struct {
    const char *models[MAX_LIST], *gen_models[MAX_LIST], *rss_model;
    size_t num_models, num_gen_models;
    sb_gemm_backend backends[2];
    size_t num_backends;
    int64_t threads, reps, src, tgt, gen_tokens;
    bool prepack; /* oneDNN on weights pre-packed for its matmul (off: --no-prepack) */
    const char *out;
} bench_options;

/* The execution context the benchmark runs a backend in. */
static int open_exec(const bench_options *o, sb_gemm_backend backend, sb_exec **x, sb_error *err)
{
    sb_exec_settings xs;
    sb_exec_settings_default(&xs);
    xs.backend = backend;
    xs.threads = (int)o->threads;
    xs.prepack = o->prepack;
    return sb_exec_create(x, &xs, err);
}

/* Targets the issue sets for this benchmark (batch 1, 512 + 114 tokens, fp32, 2 threads). OpenBLAS's is
 * for the kernel this environment pins (OPENBLAS_CORETYPE=Haswell); with another core it is not judged. */
static const struct {
    const char *model;
    sb_gemm_backend backend;
    double max_seconds;
    const char *openblas_core; /* NULL: any */
} speed_targets[] = {
    {"t5-efficient-base", SB_GEMM_ONEDNN, 0.41, NULL},
    {"t5-efficient-base", SB_GEMM_OPENBLAS, 0.72, "Haswell"},
};
static const char *const fraction_target_models[] = {"t5-efficient-small", "t5-efficient-base"};
#define FRACTION_TARGET 0.90
#define RSS_TOLERANCE 0.10
/* Rounds of (--reps forwards, then the backend's replay of their GEMM shapes) per model and backend. */
#define BENCH_ROUNDS 3

static void usage(FILE *out)
{
    fprintf(out,
            "usage: shapebench bench [--models L] [--gen-models L] [--rss-model M] [--gemm L] [--threads N]\n"
            "                        [--reps N] [--src N] [--tgt N] [--gen-tokens N] [--no-prepack] [--out FILE]\n"
            "\n"
            "Engine speed on random-weight models, batch 1, fp32: seconds per sequence (encoder + teacher-forced\n"
            "decoder, median of 3 rounds of --reps), the engine's GFLOP/s as a fraction of the backend's sgemm rate\n"
            "on the same GEMM shapes (each distinct shape of the forward timed alone, its weights read cold as in\n"
            "the forward, weighted by its FLOPs; oneDNN's products on pre-packed weights replayed as such; timed\n"
            "after each round of forwards, the fraction is the median of the rounds'; the same shapes threaded\n"
            "by the library itself are reported beside it), a floor\n"
            "(the forward's FLOPs at the backend's best rate on a 2048^3 product, timed after each round), the\n"
            "ceiling of the backend's kernel (FMA chains in registers of its vector width: 256 bits for OpenBLAS's\n"
            "Haswell kernel) and the share of it a speed target needs, where a forward's time goes per op class,\n"
            "greedy generation ms per generated token,\n"
            "and the peak RSS of one forward (in a child process) against count's weights + activations. Prints a\n"
            "table and the targets met or not (at 512 + 114 tokens and 2 threads; OpenBLAS's s/sequence target\n"
            "is for the Haswell kernel and is not judged with another core), writes JSON.\n"
            "\n"
            "  --models L       comma-separated (default t5-efficient-tiny,t5-efficient-small,t5-efficient-base,\n"
            "                   switch-base-8)\n"
            "  --gen-models L   generation timed for these (default t5-efficient-small,t5-efficient-base; '' none)\n"
            "  --rss-model M    peak RSS measured for M (default t5-efficient-base; '' none)\n"
            "  --gemm L         backends, comma-separated (default openblas,onednn)\n"
            "  --threads N      " SB_HELP_THREADS " (default 2)\n"
            "  --reps N         timed forwards per round, model and backend (default 5)\n"
            "  --src N          encoder tokens (default 512)\n"
            "  --tgt N          decoder tokens (default 114)\n"
            "  --gen-tokens N   tokens generated per timing (default 32)\n"
            "  --no-prepack     oneDNN on weights in HF layout through dnnl_sgemm, which packs them on every\n"
            "                   call (default: pre-packed once for its matmul)\n"
            "  --out FILE       JSON results (default results/bench/bench.json)\n"
            "  --help           this text\n");
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

/* Deterministic token ids away from pad / eos, decoder row starting with decoder_start_token_id. */
static void make_inputs(const sb_config *cfg, int32_t *ids, int64_t src, int32_t *dec, int64_t tgt)
{
    uint64_t s = 0x9E3779B97F4A7C15ULL;
    for (int64_t i = 0; i < src + tgt; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        const int32_t id = (int32_t)(2 + (s >> 33) % (uint64_t)(cfg->vocab_size - 2));
        if (i < src)
            ids[i] = id;
        else
            dec[i - src] = i == src ? (int32_t)cfg->decoder_start_token_id : id;
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
    const int64_t fit = COLD_B_BYTES / (s->k * s->n * (int64_t)sizeof(float));
    return s->in_parallel ? 1 : (s->calls < fit ? s->calls : (fit > 1 ? fit : 1));
}

/* Seconds per call of one shape as the engine runs it: alone on every thread, or (in_parallel) one copy per
 * thread at once, each single-threaded, so a call's share of the wall time is wall / threads. */
static double time_shape(sb_exec *x, const sb_gemm_shape *s, float *buf, int64_t per_thread, int threads)
{
    const int64_t lda = s->trans_a ? s->m : s->k, ldb = s->trans_b ? s->k : s->n, copies_b = b_copies(s);
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
            if (s->packed_b)
                sb_gemm_packed(x, s->m, s->n, s->k, 1.0f, a, lda, b, 0.0f, c, s->n, NULL);
            else
                sb_gemm(x, s->trans_a, s->trans_b, s->m, s->n, s->k, 1.0f, a, lda, b, ldb, 0.0f, c, s->n);
        }
        const double wall = sb_now_seconds() - start;
        if (call >= 0) { /* the first pass over the copies is a warm-up */
            samples[n++] = wall / copies;
            spent += wall;
        }
    }
    return sb_stats_compute(samples, n).median;
}

/* FLOP-weighted sgemm rate (GFLOP/s) of the backend over the recorded shapes, each shape's own rate into
 * out unless it is NULL; -1 when out of memory. */
static double backend_rate(sb_exec *x, const sb_gemm_shape *shapes, size_t count, int threads, cJSON *out)
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
        return -1;
    /* Small values: no denormals and no overflow whatever the shape. */
#pragma omp parallel for
    for (int64_t i = 0; i < per_thread * threads; i++)
        buf[i] = 0.001f * (float)(i % 17);
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
        cJSON_AddNumberToObject(o, "calls", (double)s->calls);
        cJSON_AddBoolToObject(o, "per_thread_in_parallel", s->in_parallel);
        cJSON_AddBoolToObject(o, "packed_weights", s->packed_b);
        cJSON_AddNumberToObject(o, "distinct_b", (double)b_copies(s));
        cJSON_AddNumberToObject(o, "gflops_alone", f / t / 1e9);
        cJSON_AddItemToArray(out, o);
    }
    sb_pages_free(buf, buf_bytes);
    return flops / seconds / 1e9;
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
        if (ids != NULL && open_exec(o, o->backends[0], &x, err) == 0 &&
            sb_model_open(o->rss_model, SB_DTYPE_F32, 0, &w, NULL, NULL, err) == 0 &&
            sb_weights_layout_for(&w, x, err) == 0 && sb_runtime_create(&rt, x, &w, 1, o->src, o->tgt, err) == 0) {
            make_inputs(&w.cfg, ids, o->src, ids + o->src, o->tgt);
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

/* ---- one model --------------------------------------------------------------------------------------------- */

typedef struct {
    char model[SB_NAME_MAX];
    sb_gemm_backend backend;
    double seconds, engine_gflops, sgemm_gflops, library_gflops, fraction, gen_ms;
    /* The backend's best rate on the machine peaks' sgemm cube (side large_sgemm_n, fastest round), and the
     * forward's FLOPs at that rate: what a sequence would take if every product ran as well as the library's
     * best case. */
    double large_sgemm_gflops, floor_seconds;
    int64_t large_sgemm_n;
    /* The FMA rate at the width the backend's kernel computes in (0 bits: not known, no ceiling): no
     * product of that kernel can beat it. */
    int vector_bits;
    double fma_ceiling_gflops;
    char ceiling_unavailable[SB_ERROR_MAX]; /* why there is no ceiling, when there is none */
    int64_t flops, gen_tokens;
    /* Per sequence (mean over the timed forwards), from the engine's profile: each op class's seconds and
     * FLOPs, and the seconds in none (norms, residuals, embeddings, position bias). */
    double op_seconds[SB_OP_CLASSES], outside_seconds, mean_seconds;
    int64_t op_flops[SB_OP_CLASSES];
} bench_row;

static int bench_backend(const bench_options *o, sb_exec *x, sb_runtime *rt, const sb_config *cfg, bool generate,
                         bench_row *row, cJSON *record, sb_error *err)
{
    const sb_gemm_backend backend = sb_exec_backend(x);
    int32_t *ids = malloc((size_t)(o->src + o->tgt) * sizeof *ids);
    const int64_t timed = o->reps * BENCH_ROUNDS;
    double *samples = malloc((size_t)(timed > o->gen_tokens ? timed : o->gen_tokens) * sizeof *samples);
    sb_gemm_shape *shapes = malloc(MAX_SHAPES * sizeof *shapes);
    int rc = -1;
    if (ids == NULL || samples == NULL || shapes == NULL) {
        sb_fail(err, "out of memory");
        goto done;
    }
    int32_t *dec = ids + o->src;
    make_inputs(cfg, ids, o->src, dec, o->tgt);
    /* warm-up, then one forward recording its GEMM shapes and FLOPs */
    if (forward(rt, ids, o->src, dec, o->tgt, err) != 0)
        goto done;
    sb_exec_record(x, shapes, MAX_SHAPES);
    sb_exec_reset_flops(x);
    rc = forward(rt, ids, o->src, dec, o->tgt, err);
    const size_t num_shapes = sb_exec_recorded(x);
    sb_exec_record(x, NULL, 0);
    row->flops = sb_exec_flops(x);
    if (rc != 0 || num_shapes > MAX_SHAPES) {
        rc = num_shapes > MAX_SHAPES ? sb_fail(err, "more than %d distinct GEMM shapes", MAX_SHAPES) : -1;
        goto done;
    }
    /* The forwards and the backend's replay alternate, round by round, and the fraction is the median of the
     * rounds' ratios: this machine's speed drifts by several per cent within a minute, and a replay timed
     * long after its forwards would put that drift into the fraction. */
    sb_exec_profile_reset(x);
    double total = 0, rates[BENCH_ROUNDS], fractions[BENCH_ROUNDS], large_rates[BENCH_ROUNDS];
    const sb_peak_sizes peak = sb_peak_sizes_default();
    cJSON *shape_list = NULL;
    for (int round = 0; round < BENCH_ROUNDS; round++) {
        double *mine = samples + round * o->reps;
        for (int64_t r = 0; r < o->reps; r++) {
            const double start = sb_now_seconds();
            if ((rc = forward(rt, ids, o->src, dec, o->tgt, err)) != 0) {
                cJSON_Delete(shape_list);
                goto done;
            }
            mine[r] = sb_now_seconds() - start;
            total += mine[r];
        }
        const double engine = (double)row->flops / sb_stats_compute(mine, (size_t)o->reps).median / 1e9;
        cJSON *list = cJSON_CreateArray();
        rates[round] = backend_rate(x, shapes, num_shapes, (int)o->threads, list);
        fractions[round] = engine / rates[round];
        if (round == 0) {
            shape_list = list;
        } else {
            cJSON_Delete(list);
        }
        if (!(rates[round] > 0)) {
            cJSON_Delete(shape_list);
            rc = sb_fail(err, "out of memory for the GEMM replay");
            goto done;
        }
        if ((rc = sb_peak_sgemm_gflops(x, peak.sgemm_n, peak.reps, &large_rates[round], err)) != 0) {
            cJSON_Delete(shape_list);
            goto done;
        }
    }
    const sb_profile profile = sb_exec_profile(x);
    /* The same shapes once more, each one backend call threaded by the library itself: what the wrapper's
     * split of C (engine/exec/gemm.c) gains over the backend's own schedule. */
    const bool partitioned = sb_exec_partitioned(x);
    sb_exec_set_partitioned(x, false);
    row->library_gflops = backend_rate(x, shapes, num_shapes, (int)o->threads, NULL);
    sb_exec_set_partitioned(x, partitioned);
    row->mean_seconds = row->outside_seconds = total / (double)timed;
    cJSON *classes = cJSON_CreateObject();
    for (int i = 0; i < SB_OP_CLASSES; i++) {
        row->op_seconds[i] = profile.op_seconds[i] / (double)timed;
        row->op_flops[i] = profile.op_flops[i] / timed;
        row->outside_seconds -= row->op_seconds[i];
        if (row->op_flops[i] == 0)
            continue;
        cJSON *c = cJSON_AddObjectToObject(classes, sb_op_class_name((sb_op_class)i));
        cJSON_AddNumberToObject(c, "seconds_per_sequence", row->op_seconds[i]);
        cJSON_AddNumberToObject(c, "gflops", (double)row->op_flops[i] / row->op_seconds[i] / 1e9);
    }
    cJSON_AddNumberToObject(classes, "outside_op_classes_seconds_per_sequence", row->outside_seconds);
    cJSON_AddStringToObject(classes, "method",
                            "engine profile over the timed forwards (mean per sequence): wall time of each op class's "
                            "regions and the GEMM FLOPs inside them; outside: the forward's time in no region");
    const sb_stats st = sb_stats_compute(samples, (size_t)timed);
    row->backend = backend;
    row->seconds = st.median;
    row->engine_gflops = (double)row->flops / st.median / 1e9;
    row->sgemm_gflops = sb_stats_compute(rates, BENCH_ROUNDS).median;
    row->fraction = sb_stats_compute(fractions, BENCH_ROUNDS).median;
    row->large_sgemm_n = peak.sgemm_n;
    row->large_sgemm_gflops = sb_stats_compute(large_rates, BENCH_ROUNDS).max;
    row->floor_seconds = (double)row->flops / row->large_sgemm_gflops / 1e9;
    cJSON_AddStringToObject(record, "backend", sb_gemm_backend_name(backend));
    cJSON_AddStringToObject(record, "backend_version", sb_exec_backend_version(x));
    cJSON_AddItemToObject(record, "seconds_per_sequence", sb_stats_to_json(&st, samples));
    cJSON_AddNumberToObject(record, "executed_flops", (double)row->flops);
    cJSON_AddNumberToObject(record, "engine_gflops", row->engine_gflops);
    cJSON_AddNumberToObject(record, "sgemm_gflops_same_shapes", row->sgemm_gflops);
    cJSON_AddNumberToObject(record, "fraction_of_sgemm", row->fraction);
    cJSON_AddNumberToObject(record, "library_threaded_sgemm_gflops_same_shapes", row->library_gflops);
    cJSON_AddItemToObject(record, "sgemm_gflops_per_round", cJSON_CreateDoubleArray(rates, BENCH_ROUNDS));
    cJSON_AddItemToObject(record, "fraction_per_round", cJSON_CreateDoubleArray(fractions, BENCH_ROUNDS));
    cJSON *large = cJSON_AddObjectToObject(record, "large_sgemm");
    cJSON_AddNumberToObject(large, "n", (double)peak.sgemm_n);
    cJSON_AddNumberToObject(large, "gflops", row->large_sgemm_gflops);
    cJSON_AddItemToObject(large, "gflops_per_round", cJSON_CreateDoubleArray(large_rates, BENCH_ROUNDS));
    cJSON_AddNumberToObject(large, "floor_seconds_per_sequence", row->floor_seconds);
    char method[256];
    snprintf(method, sizeof method,
             "n x n x n fp32 product through the engine's GEMM wrapper, fastest of %d calls after a warm-up, once "
             "per round after the replay; gflops is the fastest round; floor = the forward's executed FLOPs at "
             "that rate", peak.reps);
    cJSON_AddStringToObject(large, "method", method);
    row->vector_bits = sb_gemm_vector_bits(backend);
    row->fma_ceiling_gflops = 0;
    row->ceiling_unavailable[0] = '\0';
    cJSON *ceiling = cJSON_AddObjectToObject(record, "fma_ceiling");
    sb_error why = {0};
    if (row->vector_bits == 0)
        sb_fail(&why, "the vector width of %s's kernel is not known", sb_exec_backend_version(x));
    else if (sb_peak_fma_gflops(row->vector_bits, peak.fma_seconds, peak.reps, &row->fma_ceiling_gflops, &why) == 0)
        why.msg[0] = '\0';
    if (why.msg[0] != '\0') {
        snprintf(row->ceiling_unavailable, sizeof row->ceiling_unavailable, "%s", why.msg);
        cJSON_AddStringToObject(ceiling, "unavailable", why.msg);
    } else {
        cJSON_AddNumberToObject(ceiling, "vector_bits", row->vector_bits);
        cJSON_AddNumberToObject(ceiling, "gflops", row->fma_ceiling_gflops);
        cJSON_AddStringToObject(ceiling, "method", "fp32 FMA chains in registers of the kernel's vector width on "
                                                   "every thread, fastest of the machine peaks' repetitions");
    }
    cJSON_AddItemToObject(record, "gemm_shapes", shape_list);
    cJSON_AddItemToObject(record, "op_classes", classes);

    row->gen_tokens = 0;
    if (generate) {
        int32_t *out = malloc((size_t)o->gen_tokens * sizeof *out);
        int64_t produced = out == NULL ? -1 : 0;
        if (out != NULL && (rc = sb_encode(rt, 1, o->src, ids, NULL, err)) == 0)
            produced = sb_generate_greedy(rt, o->gen_tokens, out, samples, err);
        free(out);
        if (produced <= 0) {
            rc = out == NULL ? sb_fail(err, "out of memory") : -1;
            goto done;
        }
        const sb_stats gen = sb_stats_compute(samples, (size_t)produced);
        row->gen_ms = 1e3 * gen.median;
        row->gen_tokens = produced;
        cJSON *g = cJSON_AddObjectToObject(record, "generation");
        cJSON_AddNumberToObject(g, "input_tokens", (double)o->src);
        cJSON_AddNumberToObject(g, "generated_tokens", (double)produced);
        cJSON_AddNumberToObject(g, "ms_per_token_median", row->gen_ms);
        cJSON_AddItemToObject(g, "seconds_per_token", sb_stats_to_json(&gen, samples));
    }
    rc = 0;
done:
    free(ids), free(samples), free(shapes);
    return rc;
}

static int bench_model(const bench_options *o, const char *name, bench_row *rows, size_t *num_rows, cJSON *records,
                       sb_error *err)
{
    sb_weights w = {0};
    sb_exec *x = NULL;
    sb_runtime *rt = NULL;
    int rc = -1;
    if (sb_model_open(name, SB_DTYPE_F32, 0, &w, sb_cli_warn, command_name, err) != 0)
        goto done;
    /* One model's weights, re-laid for each backend in turn and run by a runtime in that backend's context. */
    for (size_t b = 0; b < o->num_backends; b++) {
        bench_row *row = &rows[(*num_rows)++];
        snprintf(row->model, sizeof row->model, "%s", name);
        cJSON *record = cJSON_CreateObject();
        cJSON_AddStringToObject(record, "model", name);
        cJSON_AddItemToArray(records, record);
        sb_runtime_free(rt);
        sb_exec_free(x);
        rt = NULL;
        if (open_exec(o, o->backends[b], &x, err) != 0 || sb_weights_layout_for(&w, x, err) != 0 ||
            sb_runtime_create(&rt, x, &w, 1, o->src, o->gen_tokens > o->tgt ? o->gen_tokens : o->tgt, err) != 0)
            goto done;
        cJSON_AddNumberToObject(record, "weights_packed_tensors", (double)w.num_packed);
        if (bench_backend(o, x, rt, &w.cfg, in_list(name, o->gen_models, o->num_gen_models), row, record, err) != 0)
            goto done;
        fprintf(stderr, "shapebench bench: %s %s: %.4f s/sequence\n", name, sb_gemm_backend_name(o->backends[b]),
                row->seconds);
    }
    rc = 0;
done:
    sb_runtime_free(rt);
    sb_weights_free(&w);
    sb_exec_free(x);
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
    printf("  %-58s %10.4f %s %-8g %s\n", what, value, op, limit, met ? "met" : "NOT met");
    return t;
}

static void report(const bench_options *o, const bench_row *rows, size_t num_rows, int64_t rss, int64_t expected,
                   const char *openblas_core, cJSON *root)
{
    printf("\nshapebench bench: batch 1, %" PRId64 " encoder + %" PRId64 " decoder tokens, fp32, %" PRId64
           " threads\n",
           o->src, o->tgt, o->threads);
    for (size_t b = 0; b < o->num_backends; b++) {
        char version[160];
        sb_gemm_backend_version(o->backends[b], (int)o->threads, version, sizeof version);
        printf("  %-9s %s%s\n", sb_gemm_backend_name(o->backends[b]), version,
               o->backends[b] != SB_GEMM_ONEDNN ? ""
               : o->prepack                     ? ", weights pre-packed for its matmul"
                                                : ", weights in HF layout (--no-prepack)");
    }
    printf("\n");
    printf("%-22s %-9s %12s %12s %11s %13s %14s %9s %15s %13s\n", "model", "backend", "s/sequence",
           "floor s/seq+", "GFLOP/seq", "engine GFLOP/s", "sgemm GFLOP/s*", "fraction", "lib-thr GFLOP/s",
           "gen ms/token");
    for (size_t i = 0; i < num_rows; i++) {
        char gen[32] = "-";
        if (rows[i].gen_tokens > 0)
            snprintf(gen, sizeof gen, "%.2f", rows[i].gen_ms);
        printf("%-22s %-9s %12.4f %12.4f %11.2f %13.1f %14.1f %9.3f %15.1f %13s\n", rows[i].model,
               sb_gemm_backend_name(rows[i].backend), rows[i].seconds, rows[i].floor_seconds,
               (double)rows[i].flops / 1e9,
               rows[i].engine_gflops, rows[i].sgemm_gflops, rows[i].fraction, rows[i].library_gflops, gen);
    }
    printf("* the backend's sgemm on the same GEMM shapes, each timed alone through the engine's GEMM wrapper (C\n"
           "  split into one single-threaded backend call per thread; oneDNN's products on pre-packed weights\n"
           "  as its matmul on packed weights), FLOP-weighted; fraction = engine / that.\n"
           "  lib-thr: the same shapes as one call each, threaded by the library itself.\n"
           "+ floor: the forward's FLOPs at the backend's best rate on a %" PRId64 "^3 product (the machine peaks'\n"
           "  sgemm), measured beside each round (fastest): the time if every product ran as fast as the library's\n"
           "  best case.\n",
           sb_peak_sizes_default().sgemm_n);

    printf("\nwhere a forward's time goes (engine profile, mean over the timed forwards): ms per sequence and "
           "GFLOP/s per op class; `none`: norms, residuals, embeddings, position bias\n");
    printf("%-22s %-9s", "model", "backend");
    for (int c = 0; c < SB_OP_CLASSES; c++)
        printf(" %22s", sb_op_class_name((sb_op_class)c));
    printf(" %15s\n", "none ms (share)");
    for (size_t i = 0; i < num_rows; i++) {
        printf("%-22s %-9s", rows[i].model, sb_gemm_backend_name(rows[i].backend));
        for (int c = 0; c < SB_OP_CLASSES; c++) {
            char cell[48] = "-";
            if (rows[i].op_flops[c] > 0)
                snprintf(cell, sizeof cell, "%.1f ms %.0f GF/s", 1e3 * rows[i].op_seconds[c],
                         (double)rows[i].op_flops[c] / rows[i].op_seconds[c] / 1e9);
            printf(" %22s", cell);
        }
        printf(" %7.1f (%4.1f %%)\n", 1e3 * rows[i].outside_seconds, 100 * rows[i].outside_seconds / rows[i].mean_seconds);
    }
    if (rss > 0)
        printf("\npeak RSS of one %s forward: %.1f MiB; count's weights + activations: %.1f MiB (ratio %.3f)\n",
               o->rss_model, (double)rss / (1 << 20), (double)expected / (1 << 20), (double)rss / (double)expected);

    printf("\ntargets:\n");
    cJSON *targets = cJSON_AddArrayToObject(root, "targets");
    char what[SB_NAME_MAX + 64];
    for (size_t i = 0; i < num_rows; i++) {
        for (size_t t = 0; t < sizeof speed_targets / sizeof speed_targets[0]; t++)
            if (strcmp(rows[i].model, speed_targets[t].model) == 0 && rows[i].backend == speed_targets[t].backend &&
                o->src == 512 && o->tgt == 114 && o->threads == 2) {
                snprintf(what, sizeof what, "%.200s %s s/sequence", rows[i].model,
                         sb_gemm_backend_name(rows[i].backend));
                if (speed_targets[t].openblas_core != NULL &&
                    strcasecmp(openblas_core, speed_targets[t].openblas_core) != 0) {
                    char why[160];
                    snprintf(why, sizeof why, "the %g s target is for OpenBLAS's %s kernel; this run has %s",
                             speed_targets[t].max_seconds, speed_targets[t].openblas_core, openblas_core);
                    printf("  %-58s %10.4f not judged: %s\n", what, rows[i].seconds, why);
                    cJSON *nj = cJSON_CreateObject();
                    cJSON_AddStringToObject(nj, "target", what);
                    cJSON_AddNumberToObject(nj, "value", rows[i].seconds);
                    cJSON_AddStringToObject(nj, "not_judged", why);
                    cJSON_AddItemToArray(targets, nj);
                    continue;
                }
                cJSON *judged = add_target(targets, what, rows[i].seconds, "<=", speed_targets[t].max_seconds,
                                           rows[i].seconds <= speed_targets[t].max_seconds);
                /* Beside the verdict, how much room the library left: a limit under the floor needs every
                 * product faster than the backend's best case. */
                cJSON_AddNumberToObject(judged, "floor_seconds", rows[i].floor_seconds);
                printf("    floor at %s's %.1f GFLOP/s on a %" PRId64 "^3 product: %.4f s; the limit is %.1f %% of it\n",
                       sb_gemm_backend_name(rows[i].backend), rows[i].large_sgemm_gflops, rows[i].large_sgemm_n,
                       rows[i].floor_seconds, 100 * speed_targets[t].max_seconds / rows[i].floor_seconds);
                /* and how much of the hardware the limit asks for: the forward's FLOPs over the limit, as a
                 * share of the FMA rate at the kernel's vector width */
                if (rows[i].ceiling_unavailable[0] != '\0') {
                    printf("    ceiling: unavailable (%s)\n", rows[i].ceiling_unavailable);
                } else {
                    const double needed =
                        (double)rows[i].flops / speed_targets[t].max_seconds / 1e9 / rows[i].fma_ceiling_gflops;
                    cJSON_AddNumberToObject(judged, "fma_ceiling_share_needed", needed);
                    printf("    ceiling: %d-bit FMA on every thread at %.1f GFLOP/s; the %" PRId64
                           "^3 product reaches %.1f %% of it, the limit needs %.1f %% over the whole forward\n",
                           rows[i].vector_bits, rows[i].fma_ceiling_gflops, rows[i].large_sgemm_n,
                           100 * rows[i].large_sgemm_gflops / rows[i].fma_ceiling_gflops, 100 * needed);
                }
            }
        if (in_list(rows[i].model, fraction_target_models, 2)) {
            snprintf(what, sizeof what, "%.200s %s fraction of sgemm", rows[i].model,
                     sb_gemm_backend_name(rows[i].backend));
            add_target(targets, what, rows[i].fraction, ">=", FRACTION_TARGET, rows[i].fraction >= FRACTION_TARGET);
        }
    }
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
    enum { O_MODELS = SB_OPT_OWN, O_GEN_MODELS, O_RSS_MODEL, O_REPS, O_SRC, O_TGT, O_GEN_TOKENS, O_NO_PREPACK };
    static const struct option options[] = {
        {"models", required_argument, NULL, O_MODELS},   {"gen-models", required_argument, NULL, O_GEN_MODELS},
        {"rss-model", required_argument, NULL, O_RSS_MODEL}, SB_OPTION_GEMM,
        SB_OPTION_THREADS,                                {"reps", required_argument, NULL, O_REPS},
        {"src", required_argument, NULL, O_SRC},          {"tgt", required_argument, NULL, O_TGT},
        {"gen-tokens", required_argument, NULL, O_GEN_TOKENS}, SB_OPTION_OUT,
        {"no-prepack", no_argument, NULL, O_NO_PREPACK},  SB_OPTION_HELP,
        {NULL, 0, NULL, 0},
    };
    char models[] = "t5-efficient-tiny,t5-efficient-small,t5-efficient-base,switch-base-8";
    char gen_models[] = "t5-efficient-small,t5-efficient-base";
    bench_options o = {.rss_model = "t5-efficient-base", .threads = 2, .reps = 5, .src = 512, .tgt = 114,
                       .gen_tokens = 32, .prepack = true, .out = "results/bench/bench.json",
                       .backends = {SB_GEMM_OPENBLAS, SB_GEMM_ONEDNN}, .num_backends = 2};
    split_list(models, o.models, &o.num_models);
    split_list(gen_models, o.gen_models, &o.num_gen_models);
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
        case O_RSS_MODEL: o.rss_model = optarg; break;
        case SB_OPT_GEMM: rc = sb_opt_gemm_list(cmd, optarg, o.backends, &o.num_backends); break;
        case SB_OPT_THREADS: rc = sb_opt_threads(cmd, optarg, &threads); break;
        case O_REPS: rc = sb_opt_integer(cmd, "reps", optarg, 1, 1000, &o.reps); break;
        case O_SRC: rc = sb_opt_integer(cmd, "src", optarg, 1, 1 << 20, &o.src); break;
        case O_TGT: rc = sb_opt_integer(cmd, "tgt", optarg, 1, 1 << 20, &o.tgt); break;
        case O_GEN_TOKENS: rc = sb_opt_integer(cmd, "gen-tokens", optarg, 1, 1 << 20, &o.gen_tokens); break;
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

    int64_t rss = 0, expected = 0;
    if (o.rss_model[0] != '\0') {
        sb_config cfg;
        sb_counts counts;
        const sb_count_settings settings = {1, o.src, o.tgt, SB_DTYPE_F32};
        if (sb_config_resolve(o.rss_model, &cfg, NULL, NULL, &err) != 0 ||
            sb_count(&cfg, &settings, &counts, &err) != 0 || measure_rss(&o, &rss, &err) != 0)
            return sb_cli_error("bench", SB_EXIT_FAILURE, "%s", err.msg);
        expected = counts.memory_bytes.weights + counts.memory_bytes.activations_forward;
    }
    cJSON *root = cJSON_CreateObject();
    cJSON *settings = cJSON_AddObjectToObject(root, "settings");
    cJSON_AddNumberToObject(settings, "batch", 1);
    cJSON_AddNumberToObject(settings, "src_len", (double)o.src);
    cJSON_AddNumberToObject(settings, "tgt_len", (double)o.tgt);
    cJSON_AddStringToObject(settings, "dtype", "f32");
    cJSON_AddNumberToObject(settings, "threads", (double)o.threads);
    cJSON_AddNumberToObject(settings, "reps", (double)o.reps);
    cJSON_AddStringToObject(settings, "weights", "random (T5 init, seed 0)");
    cJSON_AddBoolToObject(settings, "onednn_prepack", o.prepack);
    sb_sysinfo sys;
    sb_exec *first = NULL;
    const bool have_sys = open_exec(&o, o.backends[0], &first, &err) == 0 && sb_sysinfo_collect(&sys, first, &err) == 0;
    sb_exec_free(first);
    if (have_sys)
        cJSON_AddItemToObject(root, "system", sb_sysinfo_to_json(&sys, NULL));
    cJSON *records = cJSON_AddArrayToObject(root, "results");
    bench_row rows[2 * MAX_LIST];
    size_t num_rows = 0;
    for (size_t m = 0; m < o.num_models; m++)
        if (bench_model(&o, o.models[m], rows, &num_rows, records, &err) != 0) {
            cJSON_Delete(root);
            return sb_cli_error("bench", SB_EXIT_FAILURE, "%s: %s", o.models[m], err.msg);
        }
    if (rss > 0) {
        cJSON *r = cJSON_AddObjectToObject(root, "peak_rss");
        cJSON_AddStringToObject(r, "model", o.rss_model);
        cJSON_AddNumberToObject(r, "bytes", (double)rss);
        cJSON_AddNumberToObject(r, "weights_plus_activations_bytes", (double)expected);
        cJSON_AddNumberToObject(r, "ratio", (double)rss / (double)expected);
    }
    report(&o, rows, num_rows, rss, expected, have_sys ? sys.openblas_core : "unknown", root);
    const int rc = write_json(o.out, root, &err);
    cJSON_Delete(root);
    if (rc != 0)
        return sb_cli_error("bench", SB_EXIT_FAILURE, "%s", err.msg);
    printf("\nwrote %s\n", o.out);
    return SB_EXIT_OK;
}

/* cmd_run.c — `shapebench run`, `sweep`, `merge` and `compare`: measuring lists of shapes into a results
 * folder (resumable, shardable), joining folders, and comparing two of them. */
#include "cli/cli.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Times a contended measurement is retried, after 5 s, 10 s, ... of waiting for the other work to end. */
#define SB_CONTENDED_RETRIES 2

/* ---- the runner shared by run and sweep ---------------------------------------------------------------- */

typedef struct {
    const char *cmd;
    const char *run;   /* run name */
    const char *out;   /* results folder */
    sb_format format;  /* of the table on stdout */
} runner;

static int resolve_jobs(const runner *rn, const sb_job_list *jobs, sb_config *cfgs, char (*keys)[SB_KEY_MAX])
{
    for (size_t i = 0; i < jobs->count; i++) {
        sb_error err;
        if (sb_config_resolve(jobs->items[i].model, &cfgs[i], sb_cli_warn, (void *)rn->cmd, &err) != 0)
            return sb_cli_error(rn->cmd, SB_EXIT_USAGE, "%s", err.msg);
        sb_record_key(cfgs[i].name, &jobs->items[i].settings, keys[i]);
    }
    return SB_EXIT_OK;
}

/* Measures every job whose key is not in the results yet, appending each record as it finishes; then
 * rewrites the CSV and prints this invocation's records. */
static int run_jobs(const runner *rn, const sb_job_list *jobs)
{
    sb_config *cfgs = calloc(jobs->count ? jobs->count : 1, sizeof *cfgs);
    char(*keys)[SB_KEY_MAX] = calloc(jobs->count ? jobs->count : 1, sizeof *keys);
    sb_results_file res = {.fd = -1};
    sb_record_set shown = {0};
    sb_weights_cache cache;
    sb_weights_cache_init(&cache);
    int rc = SB_EXIT_FAILURE;
    sb_error err;
    if (cfgs == NULL || keys == NULL) {
        sb_cli_error(rn->cmd, SB_EXIT_FAILURE, "out of memory for %zu jobs", jobs->count);
        goto done;
    }
    if ((rc = resolve_jobs(rn, jobs, cfgs, keys)) != SB_EXIT_OK)
        goto done;
    rc = SB_EXIT_FAILURE;
    if (sb_results_open(&res, rn->out, sb_cli_warn, (void *)rn->cmd, &err) != 0) {
        sb_cli_error(rn->cmd, SB_EXIT_FAILURE, "%s", err.msg);
        goto done;
    }
    size_t todo = 0;
    for (size_t i = 0; i < jobs->count; i++)
        todo += !sb_results_has(&res, keys[i]);
    if (todo < jobs->count)
        fprintf(stderr, "shapebench %s: resuming %s: %zu of %zu already measured\n", rn->cmd, res.path,
                jobs->count - todo, jobs->count);
    sb_progress progress;
    sb_progress_start(&progress, stderr, todo);
    size_t done_count = 0;
    for (size_t i = 0; i < jobs->count; i++) {
        if (sb_results_has(&res, keys[i]))
            continue;
        const sb_job *job = &jobs->items[i];
        char label[SB_KEY_MAX + 16];
        snprintf(label, sizeof label, "%s %s", cfgs[i].name, sb_mode_name(job->settings.mode));
        sb_progress_update(&progress, done_count, label);

        /* System and peaks first: the peaks tell sb_measure when a forward cannot fit its time budget.
         * They are measured once per machine, backend and thread count, then read from results/.machine. */
        sb_sysinfo sys;
        sb_peaks peaks;
        sb_peak_sizes sizes = sb_peak_sizes_default();
        sb_exec *x = NULL;
        bool have_sys = sb_run_settings_exec(&job->settings, &x, &err) == 0 && sb_sysinfo_collect(&sys, x, &err) == 0;
        bool have_peaks = have_sys && sb_peaks_cached(x, &sys, &sizes, NULL, false, &peaks, &err) == 0;
        sb_exec_free(x);
        if (!have_peaks)
            sb_cli_warn((void *)rn->cmd, err.msg);
        sb_measurement m;
        sb_measure(job->model, &cfgs[i], &job->settings, have_peaks ? &peaks : NULL, &cache, &m);
        /* Other work on the cores makes a figure describe the load: wait for it to pass, a few times. */
        for (int retry = 1; retry <= SB_CONTENDED_RETRIES && strncmp(m.verdict, "contended", 9) == 0; retry++) {
            fprintf(stderr, "shapebench %s: %s %s: %s; retry %d of %d in %d s\n", rn->cmd, cfgs[i].name,
                    sb_mode_name(job->settings.mode), m.verdict, retry, SB_CONTENDED_RETRIES, 5 * retry);
            sleep((unsigned)(5 * retry));
            sb_measurement_free(&m);
            sb_measure(job->model, &cfgs[i], &job->settings, have_peaks ? &peaks : NULL, &cache, &m);
        }
        cJSON *record = sb_record_build(rn->run, &cfgs[i], &job->settings, &m, have_sys ? &sys : NULL,
                                        have_peaks ? &peaks : NULL);
        sb_measurement_free(&m);
        if (record == NULL) {
            sb_cli_error(rn->cmd, SB_EXIT_FAILURE, "out of memory building the record of %s", keys[i]);
            goto done;
        }
        if (sb_results_append(&res, record, &err) != 0) {
            sb_cli_error(rn->cmd, SB_EXIT_FAILURE, "%s (the records before this one are intact)", err.msg);
            goto done;
        }
        done_count++;
    }
    sb_progress_finish(&progress);
    char csv[sizeof res.path + 8];
    snprintf(csv, sizeof csv, "%s/results.csv", rn->out);
    if (sb_records_write_csv(&res.existing, csv, &err) != 0) {
        sb_cli_error(rn->cmd, SB_EXIT_FAILURE, "%s", err.msg);
        goto done;
    }
    /* The table shows this command's points, measured now or before. */
    for (size_t i = 0; i < jobs->count; i++) {
        const cJSON *r = sb_record_set_find(&res.existing, keys[i]);
        if (r != NULL && sb_record_set_find(&shown, keys[i]) == NULL)
            sb_record_set_add(&shown, cJSON_Duplicate(r, true), &err);
    }
    sb_records_print(&shown, rn->format, stdout);
    fprintf(stderr, "shapebench %s: %zu records in %s (CSV beside it)\n", rn->cmd, res.existing.count, res.path);
    rc = SB_EXIT_OK;
done:
    sb_weights_cache_free(&cache);
    sb_record_set_free(&shown);
    sb_results_close(&res);
    free(cfgs);
    free(keys);
    return rc;
}

/* The run name from --run, else --out's last component, else `fallback`; the folder from --out, else
 * results/<run>. */
static void place_run(runner *rn, const char *run, const char *out, const char *fallback, char *run_buf,
                      size_t run_cap, char *out_buf, size_t out_cap)
{
    if (run != NULL) {
        snprintf(run_buf, run_cap, "%s", run);
    } else if (out != NULL) {
        size_t len = strlen(out);
        while (len > 1 && out[len - 1] == '/')
            len--;
        size_t start = len;
        while (start > 0 && out[start - 1] != '/')
            start--;
        snprintf(run_buf, run_cap, "%.*s", (int)(len - start), out + start);
    } else {
        snprintf(run_buf, run_cap, "%s", fallback);
    }
    if (out != NULL)
        snprintf(out_buf, out_cap, "%s", out);
    else
        snprintf(out_buf, out_cap, "results/%s", run_buf);
    rn->run = run_buf;
    rn->out = out_buf;
}

/* ---- run ----------------------------------------------------------------------------------------------- */

static const char run_usage[] =
    "usage: shapebench run NAME... [options]\n"
    "\n"
    "Measures every combination of the listed values (a cross product) and appends one record per point to\n"
    "<out>/results.jsonl, rewrites <out>/results.csv, and prints a table. Rerunning the same command skips\n"
    "points already recorded. Lists: 1,8  ranges: 128-1024*2 (128,256,512,1024) or 128-512+128.\n"
    "\n"
    "  --mode LIST        encode | forward (encoder + teacher-forced decoder) | generate (greedy, per-token\n"
    "                     latency; batch 1 only, other batches are left out)   [forward]\n"
    "  --batch LIST       sequences per batch                                  [1]\n"
    "  --src LIST         encoder tokens per sequence                          [512]\n"
    "  --tgt LIST         decoder tokens per sequence                          [114]\n"
    "  --dtype LIST       weight storage: f32 | bf16                           [f32]\n"
    "  --threads LIST     threads (0: all)                                     [0]\n"
    "  --gemm LIST        openblas | onednn                                    [openblas]\n"
    "  --warmup N         untimed repetitions first                            [1]\n"
    "  --min-reps N       timed repetitions at least                           [3]\n"
    "  --min-time S       seconds of timed repetitions at least                [0.5]\n"
    "  --max-time S       seconds of timed repetitions at most; a shape whose min-reps repetitions would\n"
    "                     not fit is timed on sampled layers and extrapolated  [60]\n"
    "  --extrapolate WHEN auto | always (time on sampled layers even when the full model fits) [auto]\n"
    "  --seed N           random weights and token ids                         [0]\n"
    "  --run NAME         run name                                             [a UTC timestamp]\n"
    "  --out DIR          results folder                                       [results/<run>]\n"
    "  --format F         table on stdout: md | csv | jsonl                    [md]\n";

static int parse_enum_list(const char *cmd, const char *text, int *out, size_t cap, size_t *n,
                           int (*parse)(const char *, int *, sb_error *))
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", text);
    *n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        sb_error err;
        if (*n == cap)
            return sb_cli_error(cmd, SB_EXIT_USAGE, "too many values in '%s'", text);
        if (parse(tok, &out[*n], &err) != 0)
            return sb_cli_error(cmd, SB_EXIT_USAGE, "%s", err.msg);
        (*n)++;
    }
    return *n ? SB_EXIT_OK : sb_cli_error(cmd, SB_EXIT_USAGE, "empty list");
}

static int parse_mode(const char *t, int *out, sb_error *err)
{
    sb_mode m;
    int rc = sb_mode_parse(t, &m, err);
    *out = (int)m;
    return rc;
}

static int parse_dtype(const char *t, int *out, sb_error *err)
{
    for (int d = SB_DTYPE_F32; d <= SB_DTYPE_BF16; d++)
        if (strcmp(t, sb_dtype_name((sb_dtype)d)) == 0) {
            *out = d;
            return 0;
        }
    return sb_fail(err, "unknown dtype '%s' (f32 or bf16)", t);
}

static int parse_gemm(const char *t, int *out, sb_error *err)
{
    sb_gemm_backend b;
    int rc = sb_gemm_parse_backend(t, &b, err);
    *out = (int)b;
    return rc;
}

static int parse_seconds(const char *cmd, const char *opt, const char *text, double *out)
{
    char *end = NULL;
    double v = strtod(text, &end);
    if (end == text || *end != '\0' || !(v >= 0) || v > 1e6)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "%s '%s' must be a number of seconds in [0, 1e6]", opt, text);
    *out = v;
    return SB_EXIT_OK;
}

static int parse_list_opt(const char *cmd, const char *opt, const char *text, int64_t min, int64_t max,
                          sb_i64_list *out)
{
    sb_error err;
    free(out->v);
    if (sb_parse_list(text, min, max, out, &err) != 0)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "%s: %s", opt, err.msg);
    return SB_EXIT_OK;
}

/* Generation decodes batch row 0 only, so generate points at other batch sizes would time wasted work. */
static void drop_generate_batches(sb_job_list *jobs)
{
    size_t kept = 0;
    for (size_t j = 0; j < jobs->count; j++)
        if (jobs->items[j].settings.mode != SB_MODE_GENERATE || jobs->items[j].settings.batch == 1)
            jobs->items[kept++] = jobs->items[j];
    jobs->count = kept;
}

int sb_cmd_run(int argc, char **argv)
{
    const char *cmd = "run";
    enum { O_MODE = 256, O_BATCH, O_SRC, O_TGT, O_DTYPE, O_THREADS, O_GEMM, O_WARMUP, O_MIN_REPS, O_MIN_TIME,
           O_MAX_TIME, O_SEED, O_OUT, O_RUN, O_FORMAT, O_EXTRAPOLATE, O_HELP };
    static const struct option options[] = {
        {"mode", required_argument, NULL, O_MODE},         {"batch", required_argument, NULL, O_BATCH},
        {"src", required_argument, NULL, O_SRC},           {"tgt", required_argument, NULL, O_TGT},
        {"dtype", required_argument, NULL, O_DTYPE},       {"threads", required_argument, NULL, O_THREADS},
        {"gemm", required_argument, NULL, O_GEMM},         {"warmup", required_argument, NULL, O_WARMUP},
        {"min-reps", required_argument, NULL, O_MIN_REPS}, {"min-time", required_argument, NULL, O_MIN_TIME},
        {"max-time", required_argument, NULL, O_MAX_TIME}, {"seed", required_argument, NULL, O_SEED},
        {"out", required_argument, NULL, O_OUT},           {"run", required_argument, NULL, O_RUN},
        {"format", required_argument, NULL, O_FORMAT},     {"extrapolate", required_argument, NULL, O_EXTRAPOLATE},
        {"help", no_argument, NULL, O_HELP},               {NULL, 0, NULL, 0},
    };
    sb_sweep_spec spec;
    sb_sweep_spec_init(&spec);
    static const int64_t batch[] = {1}, src[] = {512}, tgt[] = {114}, threads[] = {0};
    const struct {
        sb_i64_list *l;
        const int64_t *v;
    } defaults[] = {{&spec.batch, batch}, {&spec.src, src}, {&spec.tgt, tgt}, {&spec.threads, threads}};
    int rc = SB_EXIT_USAGE;
    for (size_t i = 0; i < 4; i++) {
        if ((defaults[i].l->v = malloc(sizeof(int64_t))) == NULL) {
            rc = sb_cli_error(cmd, SB_EXIT_FAILURE, "out of memory");
            goto done;
        }
        defaults[i].l->v[0] = defaults[i].v[0];
        defaults[i].l->n = 1;
    }
    spec.modes[spec.nmodes++] = SB_MODE_FORWARD;
    spec.dtypes[spec.ndtypes++] = SB_DTYPE_F32;
    spec.gemms[spec.ngemms++] = SB_GEMM_OPENBLAS;
    runner rn = {.cmd = cmd, .format = SB_FORMAT_MD};
    const char *out = NULL, *run = NULL;
    sb_run_settings *b = &spec.base;
    sb_error err;
    int list[8];
    size_t n;
    int64_t v;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        int r = SB_EXIT_OK;
        switch (c) {
        case O_MODE:
            if ((r = parse_enum_list(cmd, optarg, list, SB_MODE_COUNT, &n, parse_mode)) == SB_EXIT_OK) {
                spec.nmodes = n;
                for (size_t i = 0; i < n; i++)
                    spec.modes[i] = (sb_mode)list[i];
            }
            break;
        case O_DTYPE:
            if ((r = parse_enum_list(cmd, optarg, list, 2, &n, parse_dtype)) == SB_EXIT_OK) {
                spec.ndtypes = n;
                for (size_t i = 0; i < n; i++)
                    spec.dtypes[i] = (sb_dtype)list[i];
            }
            break;
        case O_GEMM:
            if ((r = parse_enum_list(cmd, optarg, list, 2, &n, parse_gemm)) == SB_EXIT_OK) {
                spec.ngemms = n;
                for (size_t i = 0; i < n; i++)
                    spec.gemms[i] = (sb_gemm_backend)list[i];
            }
            break;
        case O_BATCH: r = parse_list_opt(cmd, "--batch", optarg, 1, 1 << 20, &spec.batch); break;
        case O_SRC: r = parse_list_opt(cmd, "--src", optarg, 1, 1 << 20, &spec.src); break;
        case O_TGT: r = parse_list_opt(cmd, "--tgt", optarg, 1, 1 << 20, &spec.tgt); break;
        case O_THREADS: r = parse_list_opt(cmd, "--threads", optarg, 0, 4096, &spec.threads); break;
        case O_WARMUP:
        case O_MIN_REPS:
        case O_SEED:
            if (sb_cli_parse_i64(optarg, c == O_MIN_REPS, c == O_SEED ? INT64_MAX : 1000000, &v) != 0) {
                r = sb_cli_error(cmd, SB_EXIT_USAGE, "--%s '%s' must be a whole number%s",
                                 c == O_WARMUP ? "warmup" : c == O_MIN_REPS ? "min-reps" : "seed", optarg,
                                 c == O_MIN_REPS ? " >= 1" : " >= 0");
                break;
            }
            if (c == O_WARMUP)
                b->warmup = v;
            else if (c == O_MIN_REPS)
                b->min_reps = v;
            else
                b->seed = (uint64_t)v;
            break;
        case O_MIN_TIME: r = parse_seconds(cmd, "--min-time", optarg, &b->min_time_s); break;
        case O_MAX_TIME: r = parse_seconds(cmd, "--max-time", optarg, &b->max_time_s); break;
        case O_OUT: out = optarg; break;
        case O_RUN: run = optarg; break;
        case O_FORMAT:
            if (sb_format_parse(optarg, &rn.format, &err) != 0)
                r = sb_cli_error(cmd, SB_EXIT_USAGE, "%s", err.msg);
            break;
        case O_EXTRAPOLATE:
            if (strcmp(optarg, "auto") != 0 && strcmp(optarg, "always") != 0)
                r = sb_cli_error(cmd, SB_EXIT_USAGE, "--extrapolate '%s' must be auto or always", optarg);
            b->always_sample = strcmp(optarg, "always") == 0;
            break;
        case O_HELP:
            fputs(run_usage, stdout);
            rc = SB_EXIT_OK;
            goto done;
        default:
            fputs(run_usage, stderr);
            goto done;
        }
        if (r != SB_EXIT_OK)
            goto done;
    }
    if (optind >= argc) {
        sb_cli_error(cmd, SB_EXIT_USAGE, "name at least one model (shapebench list shows them)");
        goto done;
    }
    for (int i = optind; i < argc; i++)
        if (sb_sweep_add_model(&spec, argv[i], &err) != 0) {
            rc = sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
            goto done;
        }
    char stamp[32], run_buf[SB_NAME_MAX], out_buf[4096];
    time_t now = time(NULL);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", gmtime(&now));
    place_run(&rn, run, out, stamp, run_buf, sizeof run_buf, out_buf, sizeof out_buf);
    sb_job_list jobs;
    if (sb_sweep_expand(&spec, &jobs, &err) != 0) {
        sb_cli_error(cmd, SB_EXIT_USAGE, "%s", err.msg);
        goto done;
    }
    drop_generate_batches(&jobs);
    if (jobs.count == 0)
        rc = sb_cli_error(cmd, SB_EXIT_USAGE, "nothing to measure: generate runs at batch 1 only");
    else
        rc = run_jobs(&rn, &jobs);
    sb_job_list_free(&jobs);
done:
    sb_sweep_spec_free(&spec);
    return rc;
}

/* ---- sweep --------------------------------------------------------------------------------------------- */

static const char sweep_usage[] =
    "usage: shapebench sweep --preset smoke|default|paper [--out DIR] [--run NAME] [--shard i/N] [--format F]\n"
    "\n"
    "  smoke    three tiny shapes, every mode, 64/16 tokens: seconds\n"
    "  default  every published T5-Efficient shape and the Switch base/large family, forward and generate at\n"
    "           512/114 tokens, batch 1 (342 points); slow shapes timed on sampled layers: about 26 min\n"
    "           on 2 cores (shard it, or rerun to resume)\n"
    "  paper    every published shape, every mode, batch 1 and 8, 10+ repetitions: hours\n"
    "\n"
    "Results go to results/<run> (run: the preset name, with the shard when sharded); rerunning the same\n"
    "command resumes. --shard i/N measures points i, i+N, ... (1-based) so N machines or processes can split\n"
    "a sweep; join their folders with shapebench merge.\n";

int sb_cmd_sweep(int argc, char **argv)
{
    const char *cmd = "sweep";
    static const struct option options[] = {
        {"preset", required_argument, NULL, 'p'}, {"out", required_argument, NULL, 'o'},
        {"run", required_argument, NULL, 'r'},    {"shard", required_argument, NULL, 's'},
        {"format", required_argument, NULL, 'f'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *preset = NULL, *out = NULL, *run = NULL;
    int shard = 1, shards = 1;
    runner rn = {.cmd = cmd, .format = SB_FORMAT_MD};
    sb_error err;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case 'p': preset = optarg; break;
        case 'o': out = optarg; break;
        case 'r': run = optarg; break;
        case 's':
            if (sb_parse_shard(optarg, &shard, &shards, &err) != 0)
                return sb_cli_error(cmd, SB_EXIT_USAGE, "%s", err.msg);
            break;
        case 'f':
            if (sb_format_parse(optarg, &rn.format, &err) != 0)
                return sb_cli_error(cmd, SB_EXIT_USAGE, "%s", err.msg);
            break;
        case 'h': fputs(sweep_usage, stdout); return SB_EXIT_OK;
        default: fputs(sweep_usage, stderr); return SB_EXIT_USAGE;
        }
    }
    if (preset == NULL || optind < argc)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "usage: shapebench sweep --preset smoke|default|paper [options]");
    sb_sweep_spec spec;
    if (sb_sweep_preset(preset, &spec, &err) != 0)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "%s", err.msg);
    sb_job_list jobs;
    int rc = SB_EXIT_USAGE;
    if (sb_sweep_expand(&spec, &jobs, &err) != 0) {
        sb_cli_error(cmd, SB_EXIT_USAGE, "%s", err.msg);
        goto done;
    }
    drop_generate_batches(&jobs);
    sb_job_list_shard(&jobs, shard, shards);
    /* A fixed default name makes "the same command" resume; each shard gets its own file. */
    char fallback[SB_NAME_MAX], run_buf[SB_NAME_MAX], out_buf[4096];
    if (shards > 1)
        snprintf(fallback, sizeof fallback, "%s-shard%dof%d", preset, shard, shards);
    else
        snprintf(fallback, sizeof fallback, "%s", preset);
    place_run(&rn, run, out, fallback, run_buf, sizeof run_buf, out_buf, sizeof out_buf);
    rc = run_jobs(&rn, &jobs);
    sb_job_list_free(&jobs);
done:
    sb_sweep_spec_free(&spec);
    return rc;
}

/* ---- merge --------------------------------------------------------------------------------------------- */

int sb_cmd_merge(int argc, char **argv)
{
    const char *cmd = "merge";
    static const char usage[] = "usage: shapebench merge DIR... --out DIR\n"
                                "Joins results folders (shards) into one: the first record of each key wins;\n"
                                "folders of different schema versions are refused.\n";
    static const struct option options[] = {
        {"out", required_argument, NULL, 'o'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *out = NULL;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (c == 'o')
            out = optarg;
        else if (c == 'h')
            return fputs(usage, stdout), SB_EXIT_OK;
        else
            return fputs(usage, stderr), SB_EXIT_USAGE;
    }
    if (out == NULL || optind >= argc)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "usage: shapebench merge DIR... --out DIR");
    sb_error err;
    size_t written = 0;
    if (sb_results_merge((const char *const *)argv + optind, (size_t)(argc - optind), out, &written, sb_cli_warn,
                         (void *)cmd, &err) != 0)
        return sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
    fprintf(stderr, "shapebench merge: %zu records in %s/results.jsonl (CSV beside it)\n", written, out);
    return SB_EXIT_OK;
}

/* ---- compare ------------------------------------------------------------------------------------------- */

/* A side of a comparison: one results folder, or several (comma-separated) whose samples of the same key
 * are pooled, so that runs repeated at different times (A B B A) count as one measurement. */
#define SB_COMPARE_MAX_SETS 16
typedef struct {
    sb_record_set sets[SB_COMPARE_MAX_SETS];
    size_t count;
} compare_side;

static void side_free(compare_side *side)
{
    for (size_t i = 0; i < side->count; i++)
        sb_record_set_free(&side->sets[i]);
    side->count = 0;
}

static int side_load(const char *list, compare_side *side, sb_error *err)
{
    side->count = 0;
    char copy[8192], *save = NULL;
    if (snprintf(copy, sizeof copy, "%s", list) >= (int)sizeof copy)
        return sb_fail(err, "folder list too long: %.60s...", list);
    for (char *dir = strtok_r(copy, ",", &save); dir != NULL; dir = strtok_r(NULL, ",", &save)) {
        if (side->count == SB_COMPARE_MAX_SETS) {
            side_free(side);
            return sb_fail(err, "at most %d folders per side", SB_COMPARE_MAX_SETS);
        }
        if (sb_records_load(dir, &side->sets[side->count], sb_cli_warn, (void *)"compare", err) != 0) {
            side_free(side);
            return -1;
        }
        side->count++;
    }
    return side->count > 0 ? 0 : sb_fail(err, "no results folder in \"%s\"", list);
}

/* Every timed sample of `key` on this side (malloc'd into *out, NULL when none). */
static size_t side_samples(const compare_side *side, const char *key, double **out)
{
    size_t n = 0, cap = 0;
    *out = NULL;
    for (size_t i = 0; i < side->count; i++) {
        const cJSON *record = sb_record_set_find(&side->sets[i], key);
        const cJSON *samples = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(record, "timing"),
                                                                "samples");
        const cJSON *v;
        cJSON_ArrayForEach(v, samples)
        {
            if (!cJSON_IsNumber(v))
                continue;
            if (n == cap) {
                cap = cap ? 2 * cap : 16;
                double *grown = realloc(*out, cap * sizeof(double));
                if (grown == NULL) {
                    free(*out);
                    *out = NULL;
                    return 0;
                }
                *out = grown;
            }
            (*out)[n++] = v->valuedouble;
        }
    }
    return n;
}

static double number_at(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

int sb_cmd_compare(int argc, char **argv)
{
    const char *cmd = "compare";
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        fputs("usage: shapebench compare A B\n"
              "Per record key present in both results folders (or .jsonl files): B's median time over A's and a\n"
              "two-sided Mann-Whitney U test on the raw samples; p < 0.05 is flagged faster or slower.\n"
              "A and B may each list several folders, comma-separated (A1,A2): the samples of a key are pooled\n"
              "over them, so runs repeated at different times (A B B A) count as one measurement per side.\n",
              stdout);
        return SB_EXIT_OK;
    }
    if (argc != 3)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "usage: shapebench compare A B");
    compare_side a, b;
    sb_error err;
    if (side_load(argv[1], &a, &err) != 0)
        return sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
    if (side_load(argv[2], &b, &err) != 0) {
        side_free(&a);
        return sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
    }
    printf("| shape | mode | batch | src | tgt | A median (ms) | B median (ms) | B/A time | p (Mann-Whitney U) | change |\n"
           "|---|---|--:|--:|--:|--:|--:|--:|--:|---|\n");
    const sb_record_set *first = &a.sets[0];
    size_t matched = 0, significant = 0;
    for (size_t i = 0; i < first->count; i++) {
        const char *key = sb_record_key_of(first->items[i]);
        double *sa = NULL, *sbuf = NULL;
        const size_t na = side_samples(&a, key, &sa), nb = side_samples(&b, key, &sbuf);
        if (na == 0 || nb == 0) {
            free(sa);
            free(sbuf);
            continue;
        }
        matched++;
        double ma = sb_stats_compute(sa, na).median, mb = sb_stats_compute(sbuf, nb).median, u, p = NAN;
        sb_mann_whitney(sbuf, nb, sa, na, &u, &p, NULL);
        const char *change = !(p < 0.05) ? "–" : mb < ma ? "faster" : "slower";
        significant += p < 0.05;
        const cJSON *set = cJSON_GetObjectItemCaseSensitive(first->items[i], "settings");
        const char *shape = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(first->items[i], "shape"));
        const char *mode = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(set, "mode"));
        printf("| %s | %s | %.0f | %.0f | %.0f | %.2f | %.2f | %.3f | %.3g | %s |\n", shape ? shape : key,
               mode ? mode : "?", number_at(set, "batch"), number_at(set, "src_len"), number_at(set, "tgt_len"),
               ma * 1e3, mb * 1e3, mb / ma, p, change);
        free(sa);
        free(sbuf);
    }
    fprintf(stderr,
            "shapebench compare: %zu keys in both (A: %zu folder(s), %zu records in the first; B: %zu folder(s)); "
            "%zu changed at p < 0.05\n",
            matched, a.count, first->count, b.count, significant);
    side_free(&a);
    side_free(&b);
    return SB_EXIT_OK;
}

/* cmd_sweep.c — `shapebench sweep`: a preset sweep or one described in a file, on the faster GEMM backend
 * unless it names one, resumable and shardable, on this machine or as a Slurm job array (--slurm). */
#include "cli/cli.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static const char sweep_usage[] =
    "usage: shapebench sweep --preset smoke|default|paper [--dtype LIST] [--gemm LIST] [--out DIR] [--run NAME]\n"
    "                        [--shard i/N] [--threads N] [--format F] [--slurm --tasks N ...]\n"
    "       shapebench sweep --config FILE [the same options]\n"
    "       shapebench sweep --slurm --resume DIR [--wait]\n"
    "\n"
    "  smoke    three tiny shapes, every mode, 64/16 tokens: under 2 s on a quiet 2-core machine\n"
    "  default  every published T5-Efficient shape and the Switch base/large family, forward and generate at\n"
    "           512/114 tokens, batch 1 (342 points); slow shapes timed on sampled layers: 19 min on a quiet\n"
    "           2-core AMD EPYC on oneDNN (README; shard it, or rerun to resume)\n"
    "  paper    every published shape, every mode, batch 1 and 8, 10+ repetitions: hours\n"
    "  --config FILE  a sweep described in a JSON file: {\"preset\": optional start, \"models\": [...], and\n"
    "           run's options as keys: \"mode\", \"batch\", \"src\", \"tgt\", \"dtype\", \"gemm\", \"threads\",\n"
    "           \"warmup\", \"min-reps\", \"min-time\", \"max-time\", \"seed\", \"extrapolate\"} (README: \"A sweep\n"
    "           in a file\"; sweeps/example.json). The run is named after the file.\n"
    "\n"
    "A sweep that names no backend (the presets; a file without \"gemm\") runs on the one whose measured sgemm\n"
    "peak is higher on this machine (oneDNN for bf16), and says which and why in <out>/backend.json; a rerun\n"
    "keeps that choice. Results go to results/<run> (run: the preset's or file's name, with the shard when\n"
    "sharded); rerunning the same command resumes. <out>/points.tsv lists the points the run is to hold\n"
    "(`shapebench status` compares).\n"
    "  --shard i/N      " SB_HELP_SHARD ", a shape's points in one;\n"
    "                   join the shards' folders with shapebench merge\n"
    "  --threads N      " SB_HELP_THREADS " (default: the preset's, 0)\n"
    "  --format F       " SB_HELP_FORMAT " (default md)\n"
    "  --dtype LIST     precisions to cross the sweep with, instead of its own: " SB_HELP_PRECISION "\n"
    "  --gemm LIST      backends (openblas, onednn, or both), instead of the faster one. bf16 runs on oneDNN\n"
    "                   only (OpenBLAS's bf16 points are left out, saying so): fp32 against bf16 on one backend\n"
    "                   is `--gemm onednn --dtype f32,bf16`\n" SB_RUNNER_OPTIONS_HELP
    "\n" SB_SLURM_OPTIONS_HELP;

/* The sweep as a job array: shards balanced by cost, each shard's points, the command each task runs. */
static int submit(const char *cmd, const sb_slurm_options *so, const char *const source[2], const char *dtypes,
                  const char *gemms, const sb_job_list *jobs, size_t shapes, const char *run, const char *out)
{
    int count;
    int rc = sb_slurm_task_count(cmd, so, jobs->count, shapes, &count);
    if (rc != SB_EXIT_OK)
        return rc;
    int *shard_of = calloc(jobs->count, sizeof *shard_of);
    sb_points *shards = calloc((size_t)count, sizeof *shards);
    sb_job_list one = {.items = calloc(1, sizeof *one.items), .count = 1};
    sb_error err;
    rc = SB_EXIT_FAILURE;
    if (shard_of == NULL || shards == NULL || one.items == NULL) {
        sb_cli_error(cmd, SB_EXIT_FAILURE, "out of memory");
        goto done;
    }
    if (sb_job_list_shards(jobs, count, shard_of, NULL, &err) != 0) {
        rc = sb_cli_error(cmd, SB_EXIT_USAGE, "%s", err.msg);
        goto done;
    }
    for (size_t j = 0; j < jobs->count; j++) {
        sb_points p;
        one.items[0] = jobs->items[j];
        if (sb_cli_job_points(&one, &p, &err) != 0 ||
            sb_points_add(&shards[shard_of[j] - 1], p.keys[0], p.cost_s[0], &err) != 0) {
            sb_points_free(&p);
            sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
            goto done;
        }
        sb_points_free(&p);
    }
    /* Each task expands the same preset or file with the same precisions and backend, then keeps its shard. */
    const char *task_argv[7] = {"sweep", source[0], source[1]};
    int task_argc = 3;
    if (dtypes != NULL) {
        task_argv[task_argc++] = "--dtype";
        task_argv[task_argc++] = dtypes;
    }
    if (gemms != NULL) {
        task_argv[task_argc++] = "--gemm";
        task_argv[task_argc++] = gemms;
    }
    const sb_slurm_work w = {.cmd = cmd, .run = run, .out = out, .task_argv = task_argv, .task_argc = task_argc,
                             .shards = shards, .nshards = count, .threads = (int)jobs->items[0].settings.threads,
                             .exclusive = true};
    rc = sb_slurm_submit(so, &w);
done:
    for (int i = 0; shards != NULL && i < count; i++)
        sb_points_free(&shards[i]);
    free(shards);
    free(shard_of);
    sb_job_list_free(&one);
    return rc;
}

/* The sweep's name when --run and --out do not give one: the preset's, or the file's without ".json". */
static void sweep_name(const char *preset, const char *config, char *out, size_t cap)
{
    if (preset != NULL) {
        snprintf(out, cap, "%s", preset);
        return;
    }
    const char *base = strrchr(config, '/') != NULL ? strrchr(config, '/') + 1 : config;
    size_t len = strlen(base);
    if (len > 5 && strcmp(base + len - 5, ".json") == 0)
        len -= 5;
    snprintf(out, cap, "%.*s", (int)len, base);
    if (out[0] == '\0' || out[0] == '.')
        snprintf(out, cap, "sweep");
}

/* A sweep that names no backend runs on the faster one here: the choice its folder already holds (a rerun
 * resumes on it), else chosen from the measured peaks and kept in the folder (not on a dry run). */
static int default_backend(const char *cmd, sb_sweep_spec *spec, const char *out, bool keep)
{
    sb_gemm_choice c;
    bool present, bf16 = false;
    sb_error err;
    if (sb_gemm_choice_load(out, &c, &present, &err) != 0)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "%s", err.msg);
    for (size_t i = 0; i < spec->nprecisions; i++)
        bf16 |= spec->precisions[i] == SB_PRECISION_BF16;
    if (present) {
        fprintf(stderr, "shapebench %s: %s (the choice this run started with: %s/backend.json)\n", cmd, c.note, out);
    } else {
        if (sb_gemm_choose_measured((int)spec->threads.v[0], bf16, sb_cli_warn, (void *)cmd, &c, &err) != 0)
            return sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
        fprintf(stderr, "shapebench %s: %s\n", cmd, c.note);
        if (keep && sb_gemm_choice_save(out, &c, &err) != 0)
            return sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
    }
    spec->gemms[0] = c.gemm;
    spec->ngemms = 1;
    return SB_EXIT_OK;
}

/* The spec of --preset or --config, the command line's --threads, --dtype and --gemm over it. */
static int load_spec(const char *cmd, const char *preset, const char *config, sb_sweep_spec *spec)
{
    sb_error err;
    if ((preset != NULL ? sb_sweep_preset(preset, spec, &err) : sb_sweep_config_load(config, spec, &err)) != 0)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "%s", err.msg);
    return SB_EXIT_OK;
}

int sb_cmd_sweep(int argc, char **argv)
{
    const char *cmd = "sweep";
    enum { O_PRESET = SB_OPT_OWN, O_CONFIG };
    static const struct option options[] = {
        {"preset", required_argument, NULL, O_PRESET},
        {"config", required_argument, NULL, O_CONFIG},
        SB_OPTION_OUT,
        SB_OPTION_RUN,
        SB_OPTION_SHARD,
        SB_OPTION_THREADS,
        SB_OPTION_FORMAT,
        SB_OPTION_DTYPE,
        SB_OPTION_GEMM,
        SB_SLURM_OPTIONS,
        SB_RUNNER_OPTIONS,
        SB_OPTION_HELP,
        {NULL, 0, NULL, 0},
    };
    const char *preset = NULL, *config = NULL, *out = NULL, *run = NULL, *dtype_text = NULL, *gemm_text = NULL;
    sb_precision precisions[SB_PRECISIONS];
    size_t nprecisions = 0, ngemms = 0;
    sb_gemm_backend gemms[2];
    int shard = 1, shards = 1;
    sb_i64_list threads = {0};
    sb_slurm_options so = SB_SLURM_OPTIONS_INIT;
    sb_cli_runner rn = SB_CLI_RUNNER_INIT(cmd);
    sb_error err;
    optind = 1;
    opterr = 0;
    int c, rc = SB_EXIT_OK;
    while (rc == SB_EXIT_OK && (c = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        switch (c) {
        case O_PRESET: preset = optarg; break;
        case O_CONFIG: config = optarg; break;
        case SB_OPT_OUT: out = optarg; break;
        case SB_OPT_RUN: run = optarg; break;
        case SB_OPT_SHARD: rc = sb_opt_shard(cmd, optarg, &shard, &shards); break;
        case SB_OPT_THREADS: rc = sb_opt_threads_list(cmd, optarg, &threads); break;
        case SB_OPT_FORMAT: rc = sb_opt_format(cmd, optarg, &rn.format); break;
        case SB_OPT_DTYPE:
            dtype_text = optarg;
            rc = sb_opt_precision_list(cmd, optarg, precisions, &nprecisions);
            break;
        case SB_OPT_GEMM:
            gemm_text = optarg;
            rc = sb_opt_gemm_list(cmd, optarg, gemms, &ngemms);
            break;
        case SB_OPT_HELP: fputs(sweep_usage, stdout); free(threads.v); return SB_EXIT_OK;
        default:
            if ((rc = sb_cli_slurm_option(cmd, c, optarg, &so)) < 0 &&
                (rc = sb_cli_runner_option(cmd, c, optarg, &rn)) < 0)
                rc = sb_opt_bad(cmd, c, argv, options);
        }
    }
    if (rc != SB_EXIT_OK) {
        free(threads.v);
        return rc;
    }
    if (so.resume != NULL) {
        free(threads.v);
        if (!so.on || preset != NULL || config != NULL || optind < argc)
            return sb_cli_error(cmd, SB_EXIT_USAGE, "usage: shapebench sweep --slurm --resume DIR [--wait]");
        return sb_slurm_resume(cmd, &so);
    }
    if ((preset == NULL) == (config == NULL) || optind < argc) {
        free(threads.v);
        return sb_cli_error(cmd, SB_EXIT_USAGE, "usage: shapebench sweep --preset smoke|default|paper [options], or "
                                                "--config FILE (one of the two; a file may start from a preset)");
    }
    if (so.on && (shards > 1 || threads.n > 0)) {
        free(threads.v);
        return sb_cli_error(cmd, SB_EXIT_USAGE, "--slurm gives each task its shard and threads (--cpus-per-task); "
                            "--shard and --threads are for one machine");
    }
    /* The tasks of a Slurm run read the file by its absolute path, from wherever they start. */
    char config_path[SB_PATH_MAX];
    if (config != NULL && so.on && realpath(config, config_path) == NULL) {
        free(threads.v);
        return sb_cli_error(cmd, SB_EXIT_USAGE, "--config %s: %s", config, strerror(errno));
    }
    sb_sweep_spec spec;
    if ((rc = load_spec(cmd, preset, config, &spec)) != SB_EXIT_OK) {
        free(threads.v);
        return rc;
    }
    if (so.on) {
        int t;
        if ((rc = sb_slurm_task_threads(cmd, &so, &t)) != SB_EXIT_OK)
            goto spec_done;
        free(threads.v);
        threads = (sb_i64_list){.v = malloc(sizeof *threads.v), .n = 1};
        if (threads.v != NULL)
            threads.v[0] = t;
    }
    if (threads.n > 0) {
        free(spec.threads.v);
        spec.threads = threads;
        threads = (sb_i64_list){0};
    }
    if (nprecisions > 0) {
        memcpy(spec.precisions, precisions, nprecisions * sizeof *precisions);
        spec.nprecisions = nprecisions;
    }
    if (ngemms > 0) {
        memcpy(spec.gemms, gemms, ngemms * sizeof *gemms);
        spec.ngemms = ngemms;
    }
    /* A fixed default name makes "the same command" resume; each shard gets its own file. */
    char name[SB_NAME_MAX], fallback[SB_NAME_MAX + 32], run_buf[SB_NAME_MAX], out_buf[4096];
    sweep_name(preset, config, name, sizeof name);
    if (shards > 1)
        snprintf(fallback, sizeof fallback, "%s-shard%dof%d", name, shard, shards);
    else
        snprintf(fallback, sizeof fallback, "%s", name);
    rc = sb_cli_place_run(&rn, run, out, fallback, run_buf, sizeof run_buf, out_buf, sizeof out_buf);
    if (rc != SB_EXIT_OK)
        goto spec_done;
    if (spec.ngemms == 0) {
        if ((rc = default_backend(cmd, &spec, rn.out, !so.dry_run)) != SB_EXIT_OK)
            goto spec_done;
        gemm_text = sb_gemm_backend_name(spec.gemms[0]); /* the Slurm tasks run on the submission's choice */
    }
    sb_job_list jobs;
    rc = SB_EXIT_USAGE;
    if (sb_sweep_expand(&spec, &jobs, &err) != 0) {
        sb_cli_error(cmd, SB_EXIT_USAGE, "%s", err.msg);
        goto spec_done;
    }
    sb_cli_drop_generate_batches(&jobs);
    if (jobs.count == 0 && jobs.bf16_on_openblas > 0) {
        rc = sb_cli_error(cmd, SB_EXIT_USAGE, "nothing to measure: bf16 products run on oneDNN only (Debian's "
                                              "OpenBLAS has no bf16 GEMM): add --gemm onednn");
        goto jobs_done;
    }
    if (jobs.count == 0) {
        rc = sb_cli_error(cmd, SB_EXIT_USAGE, "nothing to measure: generate runs at batch 1 only");
        goto jobs_done;
    }
    if (so.on) {
        const char *const source[2] = {preset != NULL ? "--preset" : "--config", preset != NULL ? preset : config_path};
        rc = submit(cmd, &so, source, dtype_text, gemm_text, &jobs, spec.nmodels, rn.run, rn.out);
        goto jobs_done;
    }
    rc = SB_EXIT_USAGE;
    sb_points points;
    if ((shards > 1 && sb_job_list_shard(&jobs, shard, shards, &err) != 0) ||
        sb_cli_job_points(&jobs, &points, &err) != 0) {
        sb_cli_error(cmd, SB_EXIT_USAGE, "%s", err.msg);
        goto jobs_done;
    }
    rc = sb_points_write(rn.out, &points, &err) == 0 ? sb_cli_run_jobs(&rn, &jobs)
                                                      : sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
    sb_points_free(&points);
jobs_done:
    sb_job_list_free(&jobs);
spec_done:
    free(threads.v);
    sb_sweep_spec_free(&spec);
    return rc;
}

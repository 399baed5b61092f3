/* cmd_run.c — `shapebench run`: measure the cross product of listed shapes and settings. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char run_usage[] =
    "usage: shapebench run NAME... [options]\n"
    "\n"
    "Measures every combination of the listed values (a cross product) and appends one record per point to\n"
    "<out>/results.jsonl, rewrites <out>/results.csv, and prints a table. Rerunning the same command skips\n"
    "points already recorded, but measures contended ones again (--remeasure). Lists: 1,8  ranges: 128-1024*2\n"
    "(128,256,512,1024) or 128-512+128.\n"
    "\n"
    "  --mode LIST        encode | forward (encoder + teacher-forced decoder) | generate (greedy, per-token\n"
    "                     latency; batch 1 only, other batches are left out)   [forward]\n"
    "  --batch LIST       sequences per batch                                  [1]\n"
    "  --src LIST         encoder tokens per sequence                          [512]\n"
    "  --tgt LIST         decoder tokens per sequence                          [114]\n"
    "  --dtype LIST       " SB_HELP_PRECISION " [f32]\n"
    "  --threads LIST     " SB_HELP_THREADS "      [0]\n"
    "  --gemm LIST        " SB_HELP_GEMM "                     [openblas]\n"
    "  --warmup N         untimed repetitions first                            [1]\n"
    "  --min-reps N       timed repetitions at least                           [3]\n"
    "  --min-time S       seconds of timed repetitions at least                [0.5]\n"
    "  --max-time S       seconds of timed repetitions at most; a shape whose min-reps repetitions would\n"
    "                     not fit is timed on sampled layers and extrapolated  [60]\n"
    "  --extrapolate WHEN auto | always (time on sampled layers even when the full model fits) [auto]\n"
    "  --seed N           " SB_HELP_SEED "         [0]\n"
    "  --run NAME         run name                                             [a UTC timestamp]\n"
    "  --out DIR          results folder                                       [results/<run>]\n"
    "  --format F         " SB_HELP_FORMAT "                    [md]\n" SB_RUNNER_OPTIONS_HELP;

/* --mode: comma-separated mode names. */
static int parse_modes(const char *cmd, const char *text, sb_sweep_spec *spec)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", text);
    spec->nmodes = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        sb_error err;
        if (spec->nmodes == SB_MODE_COUNT)
            return sb_cli_error(cmd, SB_EXIT_USAGE, "--mode '%s' lists more than %d modes", text, SB_MODE_COUNT);
        if (sb_mode_parse(tok, &spec->modes[spec->nmodes], &err) != 0)
            return sb_cli_error(cmd, SB_EXIT_USAGE, "--mode: %s", err.msg);
        spec->nmodes++;
    }
    return spec->nmodes > 0 ? SB_EXIT_OK : sb_cli_error(cmd, SB_EXIT_USAGE, "--mode needs at least one value");
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

int sb_cmd_run(int argc, char **argv)
{
    const char *cmd = "run";
    enum { O_MODE = SB_OPT_OWN, O_BATCH, O_SRC, O_TGT, O_WARMUP, O_MIN_REPS, O_MIN_TIME, O_MAX_TIME,
           O_EXTRAPOLATE };
    static const struct option options[] = {
        {"mode", required_argument, NULL, O_MODE},         {"batch", required_argument, NULL, O_BATCH},
        {"src", required_argument, NULL, O_SRC},           {"tgt", required_argument, NULL, O_TGT},
        SB_OPTION_DTYPE,                                   SB_OPTION_THREADS,
        SB_OPTION_GEMM,                                    {"warmup", required_argument, NULL, O_WARMUP},
        {"min-reps", required_argument, NULL, O_MIN_REPS}, {"min-time", required_argument, NULL, O_MIN_TIME},
        {"max-time", required_argument, NULL, O_MAX_TIME}, SB_OPTION_SEED,
        SB_OPTION_OUT,                                     SB_OPTION_RUN,
        SB_OPTION_FORMAT,                                  {"extrapolate", required_argument, NULL, O_EXTRAPOLATE},
        SB_RUNNER_OPTIONS,                                 SB_OPTION_HELP,
        {NULL, 0, NULL, 0},
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
    spec.precisions[spec.nprecisions++] = SB_PRECISION_F32;
    spec.gemms[spec.ngemms++] = SB_GEMM_OPENBLAS;
    sb_cli_runner rn = SB_CLI_RUNNER_INIT(cmd);
    const char *out = NULL, *run = NULL;
    sb_run_settings *b = &spec.base;
    sb_error err;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        int r = SB_EXIT_OK;
        switch (c) {
        case O_MODE: r = parse_modes(cmd, optarg, &spec); break;
        case SB_OPT_DTYPE: r = sb_opt_precision_list(cmd, optarg, spec.precisions, &spec.nprecisions); break;
        case SB_OPT_GEMM: r = sb_opt_gemm_list(cmd, optarg, spec.gemms, &spec.ngemms); break;
        case O_BATCH: r = parse_list_opt(cmd, "--batch", optarg, 1, 1 << 20, &spec.batch); break;
        case O_SRC: r = parse_list_opt(cmd, "--src", optarg, 1, 1 << 20, &spec.src); break;
        case O_TGT: r = parse_list_opt(cmd, "--tgt", optarg, 1, 1 << 20, &spec.tgt); break;
        case SB_OPT_THREADS: r = sb_opt_threads_list(cmd, optarg, &spec.threads); break;
        case O_WARMUP: r = sb_opt_integer(cmd, "warmup", optarg, 0, 1000000, &b->warmup); break;
        case O_MIN_REPS: r = sb_opt_integer(cmd, "min-reps", optarg, 1, 1000000, &b->min_reps); break;
        case SB_OPT_SEED: r = sb_opt_seed(cmd, optarg, &b->seed); break;
        case O_MIN_TIME: r = sb_opt_seconds(cmd, "min-time", optarg, &b->min_time_s); break;
        case O_MAX_TIME: r = sb_opt_seconds(cmd, "max-time", optarg, &b->max_time_s); break;
        case SB_OPT_OUT: out = optarg; break;
        case SB_OPT_RUN: run = optarg; break;
        case SB_OPT_FORMAT: r = sb_opt_format(cmd, optarg, &rn.format); break;
        case O_EXTRAPOLATE:
            if (strcmp(optarg, "auto") != 0 && strcmp(optarg, "always") != 0)
                r = sb_cli_error(cmd, SB_EXIT_USAGE, "--extrapolate '%s' must be auto or always", optarg);
            b->always_sample = strcmp(optarg, "always") == 0;
            break;
        case SB_OPT_HELP:
            fputs(run_usage, stdout);
            rc = SB_EXIT_OK;
            goto done;
        default:
            if ((r = sb_cli_runner_option(cmd, c, optarg, &rn)) < 0)
                r = sb_opt_bad(cmd, c, argv, options);
            break;
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
    if (sb_cli_place_run(&rn, run, out, stamp, run_buf, sizeof run_buf, out_buf, sizeof out_buf) != SB_EXIT_OK)
        goto done;
    sb_job_list jobs;
    if (sb_sweep_expand(&spec, &jobs, &err) != 0) {
        sb_cli_error(cmd, SB_EXIT_USAGE, "%s", err.msg);
        goto done;
    }
    sb_cli_drop_generate_batches(&jobs);
    if (jobs.count == 0 && jobs.bf16_on_openblas > 0)
        rc = sb_cli_error(cmd, SB_EXIT_USAGE, "nothing to measure: bf16 products run on oneDNN only (Debian's "
                                              "OpenBLAS has no bf16 GEMM): add --gemm onednn");
    else if (jobs.count == 0)
        rc = sb_cli_error(cmd, SB_EXIT_USAGE, "nothing to measure: generate runs at batch 1 only");
    else
        rc = sb_cli_run_jobs(&rn, &jobs);
    sb_job_list_free(&jobs);
done:
    sb_sweep_spec_free(&spec);
    return rc;
}

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
    "                     latency; batch 1 only, other batches are left out) | train (one training step:\n"
    "                     forward, backward, Adafactor update)                 [forward]\n"
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

int sb_cmd_run(int argc, char **argv)
{
    const char *cmd = "run";
    /* Every option but --out, --run and --format is a setting of the sweep, parsed by its name. */
    enum { O_SETTING = SB_OPT_OWN };
    static const struct option options[] = {
        {"mode", required_argument, NULL, O_SETTING},     {"batch", required_argument, NULL, O_SETTING},
        {"src", required_argument, NULL, O_SETTING},      {"tgt", required_argument, NULL, O_SETTING},
        {"dtype", required_argument, NULL, O_SETTING},    {"threads", required_argument, NULL, O_SETTING},
        {"gemm", required_argument, NULL, O_SETTING},     {"warmup", required_argument, NULL, O_SETTING},
        {"min-reps", required_argument, NULL, O_SETTING}, {"min-time", required_argument, NULL, O_SETTING},
        {"max-time", required_argument, NULL, O_SETTING}, {"seed", required_argument, NULL, O_SETTING},
        {"extrapolate", required_argument, NULL, O_SETTING}, SB_OPTION_OUT,
        SB_OPTION_RUN,                                    SB_OPTION_FORMAT,
        SB_RUNNER_OPTIONS,                                SB_OPTION_HELP,
        {NULL, 0, NULL, 0},
    };
    sb_sweep_spec spec;
    sb_sweep_spec_init(&spec);
    sb_error err;
    int rc = SB_EXIT_USAGE;
    if (sb_sweep_spec_defaults(&spec, &err) != 0 || sb_sweep_spec_set(&spec, "gemm", "openblas", &err) != 0) {
        rc = sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
        goto done;
    }
    sb_cli_runner rn = SB_CLI_RUNNER_INIT(cmd);
    const char *out = NULL, *run = NULL;
    optind = 1;
    opterr = 0;
    int c, index;
    while ((c = getopt_long(argc, argv, ":", options, &index)) != -1) {
        int r = SB_EXIT_OK;
        switch (c) {
        case O_SETTING:
            if (sb_sweep_spec_set(&spec, options[index].name, optarg, &err) != 0)
                r = sb_cli_error(cmd, SB_EXIT_USAGE, "--%s: %s", options[index].name, err.msg);
            break;
        case SB_OPT_OUT: out = optarg; break;
        case SB_OPT_RUN: run = optarg; break;
        case SB_OPT_FORMAT: r = sb_opt_format(cmd, optarg, &rn.format); break;
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

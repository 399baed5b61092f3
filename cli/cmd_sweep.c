/* cmd_sweep.c — `shapebench sweep`: a preset sweep, resumable and shardable. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

static const char sweep_usage[] =
    "usage: shapebench sweep --preset smoke|default|paper [--dtype LIST] [--gemm LIST] [--out DIR] [--run NAME]\n"
    "                        [--shard i/N] [--format F]\n"
    "\n"
    "  smoke    three tiny shapes, every mode, 64/16 tokens: seconds\n"
    "  default  every published T5-Efficient shape and the Switch base/large family, forward and generate at\n"
    "           512/114 tokens, batch 1 (342 points); slow shapes timed on sampled layers: about 26 min\n"
    "           on 2 cores (shard it, or rerun to resume)\n"
    "  paper    every published shape, every mode, batch 1 and 8, 10+ repetitions: hours\n"
    "\n"
    "Results go to results/<run> (run: the preset name, with the shard when sharded); rerunning the same\n"
    "command resumes. --shard i/N measures points i, i+N, ... (1-based) so N machines or processes can split\n"
    "a sweep; join their folders with shapebench merge.\n"
    "\n"
    "  --dtype LIST     precisions to cross the preset with, instead of its f32: " SB_HELP_PRECISION "\n"
    "  --gemm LIST      backends, instead of the preset's openblas: " SB_HELP_GEMM ". bf16 runs on oneDNN\n"
    "                   only (OpenBLAS's bf16 points are left out, saying so): fp32 against bf16 on one backend\n"
    "                   is `--gemm onednn --dtype f32,bf16`\n";

int sb_cmd_sweep(int argc, char **argv)
{
    const char *cmd = "sweep";
    enum { O_PRESET = SB_OPT_OWN, O_SHARD };
    static const struct option options[] = {
        {"preset", required_argument, NULL, O_PRESET}, SB_OPTION_OUT, SB_OPTION_RUN,
        {"shard", required_argument, NULL, O_SHARD},   SB_OPTION_FORMAT, SB_OPTION_DTYPE, SB_OPTION_GEMM,
        SB_OPTION_HELP,
        {NULL, 0, NULL, 0},
    };
    const char *preset = NULL, *out = NULL, *run = NULL;
    sb_precision precisions[SB_PRECISIONS];
    size_t nprecisions = 0, ngemms = 0;
    sb_gemm_backend gemms[2];
    int shard = 1, shards = 1;
    sb_cli_runner rn = {.cmd = cmd, .format = SB_FORMAT_MD};
    sb_error err;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        switch (c) {
        case O_PRESET: preset = optarg; break;
        case SB_OPT_OUT: out = optarg; break;
        case SB_OPT_RUN: run = optarg; break;
        case O_SHARD:
            if (sb_parse_shard(optarg, &shard, &shards, &err) != 0)
                return sb_cli_error(cmd, SB_EXIT_USAGE, "%s", err.msg);
            break;
        case SB_OPT_FORMAT:
            if (sb_opt_format(cmd, optarg, &rn.format) != SB_EXIT_OK)
                return SB_EXIT_USAGE;
            break;
        case SB_OPT_DTYPE:
            if (sb_opt_precision_list(cmd, optarg, precisions, &nprecisions) != SB_EXIT_OK)
                return SB_EXIT_USAGE;
            break;
        case SB_OPT_GEMM:
            if (sb_opt_gemm_list(cmd, optarg, gemms, &ngemms) != SB_EXIT_OK)
                return SB_EXIT_USAGE;
            break;
        case SB_OPT_HELP: fputs(sweep_usage, stdout); return SB_EXIT_OK;
        default: return sb_opt_bad(cmd, c, argv, options);
        }
    }
    if (preset == NULL || optind < argc)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "usage: shapebench sweep --preset smoke|default|paper [options]");
    sb_sweep_spec spec;
    if (sb_sweep_preset(preset, &spec, &err) != 0)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "%s", err.msg);
    if (nprecisions > 0) {
        memcpy(spec.precisions, precisions, nprecisions * sizeof *precisions);
        spec.nprecisions = nprecisions;
    }
    if (ngemms > 0) {
        memcpy(spec.gemms, gemms, ngemms * sizeof *gemms);
        spec.ngemms = ngemms;
    }
    sb_job_list jobs;
    int rc = SB_EXIT_USAGE;
    if (sb_sweep_expand(&spec, &jobs, &err) != 0) {
        sb_cli_error(cmd, SB_EXIT_USAGE, "%s", err.msg);
        goto done;
    }
    sb_cli_drop_generate_batches(&jobs);
    sb_job_list_shard(&jobs, shard, shards);
    /* A fixed default name makes "the same command" resume; each shard gets its own file. */
    char fallback[SB_NAME_MAX], run_buf[SB_NAME_MAX], out_buf[4096];
    if (shards > 1)
        snprintf(fallback, sizeof fallback, "%s-shard%dof%d", preset, shard, shards);
    else
        snprintf(fallback, sizeof fallback, "%s", preset);
    rc = sb_cli_place_run(&rn, run, out, fallback, run_buf, sizeof run_buf, out_buf, sizeof out_buf);
    if (rc == SB_EXIT_OK && jobs.count == 0 && jobs.bf16_on_openblas > 0)
        rc = sb_cli_error(cmd, SB_EXIT_USAGE, "nothing to measure: bf16 products run on oneDNN only (Debian's "
                                              "OpenBLAS has no bf16 GEMM): add --gemm onednn");
    else if (rc == SB_EXIT_OK)
        rc = sb_cli_run_jobs(&rn, &jobs);
    sb_job_list_free(&jobs);
done:
    sb_sweep_spec_free(&spec);
    return rc;
}

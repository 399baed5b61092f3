/* main.c — `shapebench`: dispatches to the subcommand named by the first argument. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

/* The release: a record's system.git_commit says exactly which build made it. */
#define SB_VERSION "0.9.0"

static const sb_command commands[] = {
    {"list", sb_cmd_list, "every known model name with its shape"},
    {"config", sb_cmd_config, "the Hugging Face config.json of a model name"},
    {"count", sb_cmd_count, "exact params, FLOPs and memory of a shape (JSON)"},
    {"run", sb_cmd_run, "measure shapes: encode, forward, generate or train, lists and ranges crossed"},
    {"sweep", sb_cmd_sweep, "measure a preset sweep (smoke, default, paper), resumable, shardable"},
    {"merge", sb_cmd_merge, "join results folders (shards), deduplicated by key"},
    {"status", sb_cmd_status, "a run's progress per shard: points done and missing, verdicts, Slurm jobs, ETA"},
    {"compare", sb_cmd_compare, "speed ratio and Mann-Whitney U test between two result sets"},
    {"init", sb_cmd_init, "write a random-weight HF checkpoint (config.json + model.safetensors)"},
    {"pareto", sb_cmd_pareto, "Pareto frontier of two record fields (Markdown or JSON)"},
    {"schema", sb_cmd_schema, "every field of a result record: path, type, unit, CSV column, meaning"},
    {"plots", sb_cmd_plots, "gnuplot pictures and REPORT.md/.html of a run"},
    {"report", sb_cmd_report, "REPORT.md/.html of a run (no drawing)"},
    {"forward", sb_cmd_forward, "one forward on fixture-style inputs: encoder output, logits, router arrays"},
    {"generate", sb_cmd_generate, "greedy incremental generation from input ids (ms per token on stderr)"},
    {"bench", sb_cmd_bench, "engine speed: s/sequence per backend, GEMM efficiency, ms/token, peak RSS"},
    {"grad", sb_cmd_grad, "loss and every parameter's gradient for fixture-style inputs + labels (safetensors)"},
    {"probe", sb_cmd_probe, "quality probe: train shapes on the Brown corpus for a budget, held-out loss"},
    {"data", sb_cmd_data, "fetch and prepare the quality probe's corpus and tokenizer (cached under data/)"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: shapebench <command> [options]   (shapebench <command> --help for each; shapebench --version)\n"
                 "\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

/* `shapebench --version`: the release, the build, and the backends with their versions and what they run on. */
static int version(void)
{
    sb_exec *x = NULL;
    sb_sysinfo sys;
    sb_error err;
    printf("shapebench %s\n", SB_VERSION);
    if (sb_exec_create(&x, &(sb_exec_settings){.backend = SB_GEMM_OPENBLAS, .partitioned = true, .prepack = true},
                       &err) != 0 ||
        sb_sysinfo_collect(&sys, x, &err) != 0) {
        sb_exec_free(x);
        return sb_cli_error("--version", SB_EXIT_FAILURE, "%s", err.msg);
    }
    sb_exec_free(x);
    char onednn[160];
    sb_gemm_backend_version(SB_GEMM_ONEDNN, sys.threads, onednn, sizeof onednn);
    printf("commit    %s\n", sys.git_commit);
    printf("compiler  %s\n", sys.compiler);
    printf("flags     %s\n", sys.build_flags);
    printf("openblas  %s\n", sys.gemm_version);
    printf("onednn    %s, dispatching to %s; bf16 products: %s\n", onednn, sys.onednn_isa,
           sb_bf16_available(&err) == 0 ? "yes" : err.msg);
    printf("cpu       %s, %d logical cores\n", sys.cpu_model, sys.logical_cores);
    return SB_EXIT_OK;
}

int main(int argc, char **argv) SB_BASELINE_ISA;
int main(int argc, char **argv)
{
    if (!sb_isa_check())
        return SB_EXIT_FAILURE;
    if (argc < 2) {
        usage(stderr);
        return SB_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return SB_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0)
        return version();
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    const char *names[sizeof commands / sizeof commands[0]];
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        names[i] = commands[i].name;
    const char *near = sb_nearest(argv[1], names, sizeof names / sizeof names[0]);
    if (near != NULL)
        fprintf(stderr, "shapebench: unknown command '%s'; did you mean '%s'? (shapebench --help lists them)\n",
                argv[1], near);
    else
        fprintf(stderr, "shapebench: unknown command '%s' (shapebench --help lists them)\n", argv[1]);
    return SB_EXIT_USAGE;
}

/* main.c — `shapebench`: dispatches to the subcommand named by the first argument. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static const sb_command commands[] = {
    {"list", sb_cmd_list, "every known model name with its shape"},
    {"config", sb_cmd_config, "the Hugging Face config.json of a model name"},
    {"count", sb_cmd_count, "exact params, FLOPs and memory of a shape (JSON)"},
    {"run", sb_cmd_run, "measure shapes: encode, forward or generate, lists and ranges crossed"},
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
    fprintf(out, "usage: shapebench <command> [options]   (shapebench <command> --help for each)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
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
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "shapebench: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return SB_EXIT_USAGE;
}

/* main.c — `shapebench`: dispatches to the subcommand named by the first argument. */
#include "harness/cli.h"

#include <stdio.h>
#include <string.h>

static const sb_command commands[] = {
    {"list", sb_cmd_list, "every known model name with its shape"},
    {"config", sb_cmd_config, "the Hugging Face config.json of a model name"},
    {"count", sb_cmd_count, "exact params, FLOPs and memory of a shape (JSON)"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: shapebench <command> [options]   (shapebench <command> --help for each)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv)
{
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

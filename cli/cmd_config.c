/* cmd_config.c — `shapebench config`: the Hugging Face config.json of a model name (round-trips). */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>

int sb_cmd_config(int argc, char **argv)
{
    static char cmd[] = "config"; /* sb_cli_warn's context */
    static const struct option options[] = {SB_OPTION_HELP, {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        if (c != SB_OPT_HELP)
            return sb_opt_bad(cmd, c, argv, options);
        printf("usage: shapebench config MODEL\n\n"
               "Prints the Hugging Face config.json of MODEL, which is any of:\n"
               "  [google/]t5-efficient-<size>[-<knob><value>...]   published name or a new grammar combination\n"
               "                                                    (knobs nl el dl dm ff kv nh skv)\n"
               "  switch-base-{8..256} switch-large-128 switch-xxl-128 switch-c-2048\n"
               "  t5-small|base|large|3b|11b  t5-v1_1-small|base|large|xl|xxl\n"
               "  path/to/config.json, or a folder holding one\n"
               "  <any of these>+switch<E>[/step<N>]                 Switch version (E experts, every N-th block)\n"
               "  <any of these>:key=value,...                       overrides with HF config.json keys\n"
               "Reading the output back (shapebench config out.json) prints the same text.\n");
        return SB_EXIT_OK;
    }
    if (argc - optind != 1)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "expected one MODEL argument, got %d (shapebench config --help)",
                            argc - optind);
    sb_config cfg;
    sb_error err;
    if (sb_config_resolve(argv[optind], &cfg, sb_cli_warn, cmd, &err) != 0)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "%s", err.msg); /* a name the tool does not know: bad usage */
    char *text = sb_config_to_json(&cfg);
    if (text == NULL)
        return sb_cli_error(cmd, SB_EXIT_FAILURE, "out of memory");
    int rc = fputs(text, stdout) == EOF ? sb_cli_error(cmd, SB_EXIT_FAILURE, "cannot write to stdout") : 0;
    free(text);
    return rc;
}

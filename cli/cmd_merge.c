/* cmd_merge.c — `shapebench merge`: join results folders (shards) into one. */
#include "cli/cli.h"

int sb_cmd_merge(int argc, char **argv)
{
    const char *cmd = "merge";
    static const char usage[] = "usage: shapebench merge DIR... --out DIR\n"
                                "Joins results folders (shards) into one: the first record of each key wins;\n"
                                "folders of different schema versions are refused.\n";
    static const struct option options[] = {SB_OPTION_OUT, SB_OPTION_HELP, {NULL, 0, NULL, 0}};
    const char *out = NULL;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        if (c == SB_OPT_OUT)
            out = optarg;
        else if (c == SB_OPT_HELP)
            return fputs(usage, stdout), SB_EXIT_OK;
        else
            return sb_opt_bad(cmd, c, argv, options);
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

/* cmd_schema.c — `shapebench schema`: the result record's fields (record/'s field table), as the Markdown
 * table results/README.md holds or as JSON. */
#include "cli/cli.h"

#include <stdio.h>

static const char usage[] =
    "usage: shapebench schema [--json]\n"
    "\n"
    "Every field of a result record (results.jsonl): its dotted path (what `pareto --x/--y` take), type, unit,\n"
    "CSV column in results.csv, and meaning. A `*` segment stands for any key (an op class of the roofline, an\n"
    "event of the counters). results/README.md holds this table.\n"
    "\n"
    "  --json   a JSON array instead of the Markdown table\n";

int sb_cmd_schema(int argc, char **argv)
{
    const char *cmd = "schema";
    enum { O_JSON = SB_OPT_OWN };
    static const struct option options[] = {{"json", no_argument, NULL, O_JSON}, SB_OPTION_HELP, {NULL, 0, NULL, 0}};
    bool json = false;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        if (opt == SB_OPT_HELP)
            return fputs(usage, stdout), SB_EXIT_OK;
        if (opt != O_JSON)
            return sb_opt_bad(cmd, opt, argv, options);
        json = true;
    }
    if (optind != argc)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "unexpected argument '%s' (shapebench schema --help)", argv[optind]);
    return sb_fields_print(json, stdout) == 0 ? SB_EXIT_OK
                                              : sb_cli_error(cmd, SB_EXIT_FAILURE, "cannot write to stdout");
}

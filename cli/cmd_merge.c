/* cmd_merge.c — `shapebench merge`: join results folders (shards) into one. */
#include "cli/cli.h"

/* The backend the shards' sweeps chose (backend.json), carried into the merged folder when they agree and it
 * holds none yet (a Slurm run's folder has the submission's). */
static void carry_backend_choice(const char *cmd, char *const *dirs, size_t n, const char *out)
{
    sb_gemm_choice first, c;
    bool have = false, present;
    sb_error err;
    if (sb_gemm_choice_load(out, &c, &present, &err) != 0 || present)
        return;
    for (size_t i = 0; i < n; i++) {
        if (sb_gemm_choice_load(dirs[i], &c, &present, &err) != 0 || !present)
            continue;
        if (have && c.gemm != first.gemm) {
            fprintf(stderr, "shapebench %s: note: the folders' sweeps chose different backends; %s/backend.json "
                            "is not written\n", cmd, out);
            return;
        }
        first = have ? first : c;
        have = true;
    }
    if (have && sb_gemm_choice_save(out, &first, &err) != 0)
        sb_cli_warn((void *)cmd, err.msg);
}

int sb_cmd_merge(int argc, char **argv)
{
    const char *cmd = "merge";
    static const char usage[] = "usage: shapebench merge DIR... --out DIR\n"
                                "Joins results folders (shards) into one: the first record of each key wins;\n"
                                "folders of different schema versions are refused. The backend the shards'\n"
                                "sweeps chose (backend.json) comes along when they agree.\n";
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
    carry_backend_choice(cmd, argv + optind, (size_t)(argc - optind), out);
    fprintf(stderr, "shapebench merge: %zu records in %s/results.jsonl (CSV beside it)\n", written, out);
    return SB_EXIT_OK;
}

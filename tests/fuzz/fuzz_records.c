/* fuzz_records.c — results.jsonl as every consumer reads it: the one reader (sb_records_load), a resuming
 * run (sb_results_open), merge (and its CSV), compare, pareto, report and plots (its data files; gnuplot is
 * kept out of PATH, so it stops there). Whatever the file holds, each either works or fails with a message;
 * the reader's promises are checked: every record has a key, a refusal names the file and line. */
#include "tests/fuzz/fuzz.h"

#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char run[SB_PATH_MAX], merged[SB_PATH_MAX];

static void setup(void)
{
    const char *dir = fuzz_scratch("records");
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(merged, sizeof merged, "%s/merged", dir);
    sb_error err;
    if (sb_mkdir_p(run, &err) != 0)
        abort();
    /* The commands' tables and one-line messages are not what is tested: the sanitizers and libFuzzer write
     * to file descriptor 2 themselves, and keep doing so. */
    stdout = fopen("/dev/null", "w");
    stderr = fopen("/dev/null", "w");
    setenv("PATH", "/nonexistent", 1);
    /* plots reads its published-quality table from the source tree: the folder fuzzing started in */
    if (getenv("SHAPEBENCH_HOME") == NULL)
        setenv("SHAPEBENCH_HOME", ".", 1);
}

static int cli(int (*command)(int, char **), const char *const *args)
{
    char *argv[16];
    int argc = 0;
    while (args[argc] != NULL && argc < 15) {
        argv[argc] = (char *)args[argc];
        argc++;
    }
    argv[argc] = NULL;
    return command(argc, argv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (run[0] == '\0')
        setup();
    fuzz_write(run, "results.jsonl", data, size);
    sb_record_set set;
    sb_error err = {""};
    if (sb_records_load(run, &set, NULL, NULL, &err) != 0) {
        fuzz_require(strstr(err.msg, "results.jsonl") != NULL, "a refusal names the file", err.msg);
        return 0;
    }
    for (size_t i = 0; i < set.count; i++)
        fuzz_require(sb_record_key_of(set.items[i]) != NULL && set.lines[i] >= 1, "every record has a key and a line",
                     NULL);
    sb_record_set_free(&set);

    cli(sb_cmd_report, (const char *[]){"report", "--run", run, NULL});
    cli(sb_cmd_plots, (const char *[]){"plots", "--run", run, NULL});
    cli(sb_cmd_pareto, (const char *[]){"pareto", "--run", run, "--x", "analytic.params", "--y",
                                        "throughput.tokens_per_s:max", NULL});
    cli(sb_cmd_pareto, (const char *[]){"pareto", "--run", run, "--x", "quality.value:min", "--y", "timing.median",
                                        "--json", NULL});
    cli(sb_cmd_compare, (const char *[]){"compare", run, run, NULL});
    cli(sb_cmd_merge, (const char *[]){"merge", run, "--out", merged, NULL});
    sb_results_file r;
    if (sb_results_open(&r, run, NULL, NULL, &err) == 0)
        sb_results_close(&r);
    return 0;
}

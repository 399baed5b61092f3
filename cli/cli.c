/* cli.c — what the subcommands share: the error and warning lines, and loading a run to read back. */
#include "cli/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

int sb_cli_error(const char *cmd, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "shapebench %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

void sb_cli_warn(void *cmd_name, const char *message)
{
    fprintf(stderr, "shapebench %s: warning: %s\n", (const char *)cmd_name, message);
}

/* Loads a run with published quality attached; `where` NULL means the newest run under results/. */
int sb_cli_load_run(const char *cmd, const char *where, sb_results *results)
{
    sb_error err;
    if (sb_results_load(where, results, sb_cli_warn, (void *)cmd, &err) != 0)
        return sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
    if (sb_results_attach_published_quality(results, &err) != 0) {
        sb_results_free(results);
        return sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
    }
    return SB_EXIT_OK;
}

/* cli.c — helpers shared by the subcommands: error and warning lines, number parsing. */
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

int sb_cli_parse_i64(const char *text, int64_t min, int64_t max, int64_t *out)
{
    if (text == NULL || *text == '\0')
        return -1;
    char *end = NULL;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || value < min || value > max)
        return -1;
    *out = value;
    return 0;
}

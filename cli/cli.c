/* cli.c — what the subcommands share: the error and warning lines, loading a run to read back, and the
 * warnings about the build and the machine before measuring. */
#include "cli/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

void sb_cli_check_machine(const char *cmd)
{
    /* what the build does to the figures: compile-time facts of this binary */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    fprintf(stderr, "shapebench %s: warning: this is a sanitizer build: its figures are several times slower "
                    "than a release build's (make, not make test-asan)\n",
            cmd);
#endif
#if !defined(__OPTIMIZE__)
    fprintf(stderr, "shapebench %s: warning: this build is not optimised (-O0): its figures do not describe the "
                    "engine\n",
            cmd);
#endif
    /* other work on the machine: the one-minute load average against the cores */
    double load = 0;
    FILE *f = fopen("/proc/loadavg", "r");
    const bool read = f != NULL && fscanf(f, "%lf", &load) == 1;
    if (f != NULL)
        fclose(f);
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (read && cores > 0 && load > 0.5 * (double)cores)
        fprintf(stderr, "shapebench %s: warning: the machine is busy (load average %.2f on %ld cores): measurements "
                        "taken while other work runs come out contended; a quiet machine gives figures that "
                        "compare\n",
                cmd, load, cores);
    /* a CPU frequency governor that is not `performance` ramps up under load: the first repetitions run slower */
    char governor[32] = "";
    f = fopen("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", "r");
    if (f != NULL && fscanf(f, "%31s", governor) == 1 && strcmp(governor, "performance") != 0)
        fprintf(stderr, "shapebench %s: note: the CPU frequency governor is '%s', not 'performance': the warm-up "
                        "absorbs its ramp-up, but figures vary more\n",
                cmd, governor);
    if (f != NULL)
        fclose(f);
}

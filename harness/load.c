/* load.c — whether the cores are free for a measurement: the CPU time other processes take, measured over a
 * short interval, and waiting (with a limit) for it to drop before a contended point is measured again.
 *
 * /proc/loadavg's averages decay over minutes, so a machine whose other work has just ended still looks busy;
 * /proc/stat's busy time over a second, less this process's own CPU time (its idle OpenMP threads may still
 * spin), says what the others take now. */
#include "harness/harness.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

bool sb_cores_free_enough(double free_cores, int threads)
{
    return free_cores >= SB_CONTENDED_SHARE * (double)threads;
}

/* Busy and total jiffies of every CPU, from /proc/stat's first line (iowait counts as idle). */
static int read_cpu_jiffies(double *busy, double *total)
{
    FILE *f = fopen("/proc/stat", "r");
    if (f == NULL)
        return -1;
    unsigned long long v[8] = {0};
    const int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
                         &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 4)
        return -1;
    *total = 0;
    for (int i = 0; i < 8; i++)
        *total += (double)v[i];
    *busy = *total - (double)v[3] - (double)v[4]; /* less idle and iowait */
    return 0;
}

static double monotonic_s(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int sample_proc_stat(void *ctx, double interval_s, double *free_cores)
{
    (void)ctx;
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    double busy0, total0, busy1, total1;
    if (cores < 1 || read_cpu_jiffies(&busy0, &total0) != 0)
        return -1;
    const double self0 = sb_cpu_seconds(), t0 = monotonic_s(NULL);
    sleep_s(interval_s);
    const double self1 = sb_cpu_seconds(), t1 = monotonic_s(NULL);
    if (read_cpu_jiffies(&busy1, &total1) != 0 || !(total1 > total0) || !(t1 > t0))
        return -1;
    /* Jiffies of all CPUs over the interval: their busy share times the cores is the cores in use. */
    const double in_use = (busy1 - busy0) / (total1 - total0) * (double)cores;
    const double others = fmax(0, in_use - (self1 - self0) / (t1 - t0));
    *free_cores = (double)cores - others;
    return 0;
}

sb_load_source sb_load_source_system(void)
{
    return (sb_load_source){.now_s = monotonic_s, .sample = sample_proc_stat, .ctx = NULL};
}

sb_wait_result sb_wait_for_free_cores(const sb_load_source *src, int threads, double max_wait_s, double *waited_s,
                                      double *free_cores)
{
    const double start = src->now_s(src->ctx);
    *free_cores = NAN;
    sb_wait_result result = SB_WAIT_UNKNOWN;
    for (;;) {
        double f;
        if (src->sample(src->ctx, SB_LOAD_SAMPLE_S, &f) != 0) {
            result = SB_WAIT_UNKNOWN;
            break;
        }
        *free_cores = f;
        if (sb_cores_free_enough(f, threads)) {
            result = SB_WAIT_FREE;
            break;
        }
        result = SB_WAIT_BUSY;
        if (src->now_s(src->ctx) - start >= max_wait_s)
            break;
    }
    *waited_s = src->now_s(src->ctx) - start;
    return result;
}

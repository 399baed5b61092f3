/* sysinfo.c — the machine and build a measurement ran on, for the record's `system` object: without it
 * two result files cannot be compared honestly. On a cluster, also the node and the Slurm job and array task
 * that measured. */
#include "harness/harness.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef SB_BUILD_FLAGS
#define SB_BUILD_FLAGS "unknown"
#endif

/* The CPU features that decide which kernels BLAS and the compiler can use for fp32 / bf16 work. */
static const char *const relevant_flags[] = {"avx", "avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16"};

static void read_cpuinfo(sb_sysinfo *s)
{
    snprintf(s->cpu_model, sizeof s->cpu_model, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f == NULL)
        return;
    char line[8192];
    bool have_model = false, have_flags = false;
    while ((!have_model || !have_flags) && fgets(line, sizeof line, f) != NULL) {
        char *colon = strchr(line, ':');
        if (colon == NULL)
            continue;
        char *value = colon + 1 + (colon[1] == ' ');
        value[strcspn(value, "\n")] = '\0';
        if (!have_model && strncmp(line, "model name", 10) == 0) {
            snprintf(s->cpu_model, sizeof s->cpu_model, "%s", value);
            have_model = true;
        } else if (!have_flags && strncmp(line, "flags", 5) == 0) {
            for (size_t i = 0; i < sizeof relevant_flags / sizeof relevant_flags[0]; i++) {
                size_t n = strlen(relevant_flags[i]);
                for (char *p = strstr(value, relevant_flags[i]); p != NULL; p = strstr(p + n, relevant_flags[i]))
                    if ((p == value || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0')) {
                        size_t len = strlen(s->cpu_flags);
                        snprintf(s->cpu_flags + len, sizeof s->cpu_flags - len, "%s%s", len ? " " : "",
                                 relevant_flags[i]);
                        break;
                    }
            }
            have_flags = true;
        }
    }
    fclose(f);
}

/* First line of a shell command's output, or "" when it fails or prints nothing. */
static void command_line(const char *command, char *out, size_t size)
{
    out[0] = '\0';
    FILE *p = popen(command, "r");
    if (p == NULL)
        return;
    if (fgets(out, (int)size, p) == NULL)
        out[0] = '\0';
    out[strcspn(out, "\n")] = '\0';
    pclose(p);
}

/* The commit of the checkout in the working directory: results name the code that produced them. */
static void read_git_commit(char *out, size_t size)
{
    char hash[48], changed[8];
    command_line("git rev-parse --short HEAD 2>/dev/null", hash, sizeof hash);
    if (hash[0] == '\0') {
        snprintf(out, size, "unknown");
        return;
    }
    command_line("git status --porcelain --untracked-files=no 2>/dev/null", changed, sizeof changed);
    snprintf(out, size, "%s%s", hash, changed[0] != '\0' ? "-dirty" : "");
}

int64_t sb_last_level_cache_bytes(void)
{
    long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE), l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
    return l3 > 0 ? (int64_t)l3 : l2 > 0 ? (int64_t)l2 : 0;
}

/* A whole number from the environment, -1 when unset or not one. */
static int64_t env_id(const char *name)
{
    const char *text = getenv(name);
    int64_t v;
    return text != NULL && sb_parse_i64(text, 0, INT64_MAX, &v) == 0 ? v : -1;
}

/* Where the measurement ran: records of one run can come from several nodes of a cluster. */
static void read_node(sb_sysinfo *s)
{
    const char *slurm_node = getenv("SLURMD_NODENAME");
    if (slurm_node != NULL && *slurm_node != '\0')
        snprintf(s->node, sizeof s->node, "%s", slurm_node);
    else if (gethostname(s->node, sizeof s->node) != 0)
        snprintf(s->node, sizeof s->node, "unknown");
    s->node[sizeof s->node - 1] = '\0';
    s->slurm_array_task_id = env_id("SLURM_ARRAY_TASK_ID");
    s->slurm_job_id = env_id("SLURM_ARRAY_JOB_ID");
    if (s->slurm_job_id < 0)
        s->slurm_job_id = env_id("SLURM_JOB_ID");
}

int sb_sysinfo_collect(sb_sysinfo *s, const sb_exec *x, sb_error *err)
{
    memset(s, 0, sizeof *s);
    read_cpuinfo(s);
    read_node(s);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1)
        return sb_fail(err, "sysconf(_SC_NPROCESSORS_ONLN) failed");
    s->logical_cores = (int)cores;
    s->last_level_cache_bytes = sb_last_level_cache_bytes();
    s->threads = sb_exec_threads(x);
    snprintf(s->gemm_backend, sizeof s->gemm_backend, "%s", sb_gemm_backend_name(sb_exec_backend(x)));
    snprintf(s->gemm_version, sizeof s->gemm_version, "%s", sb_exec_backend_version(x));
    snprintf(s->onednn_isa, sizeof s->onednn_isa, "%s", sb_onednn_isa_name());
    snprintf(s->openblas_core, sizeof s->openblas_core, "%s", openblas_get_corename());
    s->openblas_threads = sb_exec_threads(x); /* x runs OpenBLAS on its own thread count (sb_exec_enter) */
#ifdef __clang__
    snprintf(s->compiler, sizeof s->compiler, "%s", __VERSION__); /* names itself: "Debian Clang 14..." */
#else
    snprintf(s->compiler, sizeof s->compiler, "gcc %s", __VERSION__);
#endif
    snprintf(s->build_flags, sizeof s->build_flags, "%s", SB_BUILD_FLAGS);
    read_git_commit(s->git_commit, sizeof s->git_commit);

    time_t now = time(NULL);
    struct tm utc;
    if (gmtime_r(&now, &utc) == NULL || strftime(s->date, sizeof s->date, "%Y-%m-%dT%H:%M:%SZ", &utc) == 0)
        return sb_fail(err, "cannot format the current date");
    if (getloadavg(s->load_average, 3) != 3)
        return sb_fail(err, "getloadavg failed (is /proc mounted?)");
    return 0;
}

cJSON *sb_sysinfo_to_json(const sb_sysinfo *s, const sb_peaks *peaks)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *flags = cJSON_AddArrayToObject(o, "cpu_flags");
    if (o == NULL || flags == NULL) {
        cJSON_Delete(o);
        return NULL;
    }
    cJSON_AddStringToObject(o, "cpu_model", s->cpu_model);
    cJSON_AddStringToObject(o, "node", s->node);
    if (s->slurm_job_id >= 0)
        cJSON_AddNumberToObject(o, "slurm_job_id", (double)s->slurm_job_id);
    else
        cJSON_AddNullToObject(o, "slurm_job_id");
    if (s->slurm_array_task_id >= 0)
        cJSON_AddNumberToObject(o, "slurm_array_task_id", (double)s->slurm_array_task_id);
    else
        cJSON_AddNullToObject(o, "slurm_array_task_id");
    char copy[sizeof s->cpu_flags], *save = NULL;
    memcpy(copy, s->cpu_flags, sizeof copy);
    for (char *t = strtok_r(copy, " ", &save); t != NULL; t = strtok_r(NULL, " ", &save))
        cJSON_AddItemToArray(flags, cJSON_CreateString(t));
    cJSON_AddNumberToObject(o, "logical_cores", s->logical_cores);
    if (s->last_level_cache_bytes > 0)
        cJSON_AddNumberToObject(o, "last_level_cache_bytes", (double)s->last_level_cache_bytes);
    else
        cJSON_AddNullToObject(o, "last_level_cache_bytes");
    cJSON_AddNumberToObject(o, "threads", s->threads);
    cJSON_AddStringToObject(o, "gemm_backend", s->gemm_backend);
    cJSON_AddStringToObject(o, "gemm_version", s->gemm_version);
    cJSON_AddStringToObject(o, "onednn_isa", s->onednn_isa);
    cJSON_AddStringToObject(o, "openblas_core", s->openblas_core);
    cJSON_AddNumberToObject(o, "openblas_threads", s->openblas_threads);
    cJSON_AddStringToObject(o, "compiler", s->compiler);
    cJSON_AddStringToObject(o, "build_flags", s->build_flags);
    cJSON_AddStringToObject(o, "git_commit", s->git_commit);
    cJSON_AddStringToObject(o, "date", s->date);
    cJSON_AddItemToObject(o, "load_average", cJSON_CreateDoubleArray(s->load_average, 3));
    if (peaks != NULL) {
        cJSON_AddNumberToObject(o, "sgemm_gflops", peaks->sgemm_gflops);
        cJSON_AddNumberToObject(o, "fma_gflops", peaks->fma_gflops);
        cJSON_AddNumberToObject(o, "stream_copy_gbps", peaks->stream_copy_gbps);
        cJSON_AddNumberToObject(o, "peak_sgemm_n", (double)peaks->sgemm_n);
        cJSON_AddNumberToObject(o, "peak_stream_bytes", (double)peaks->stream_bytes);
        const bool bf16 = peaks->bf16_gemm_gflops > 0;
        cJSON_AddItemToObject(o, "bf16_gemm_gflops",
                              bf16 ? cJSON_CreateNumber(peaks->bf16_gemm_gflops) : cJSON_CreateNull());
        cJSON_AddItemToObject(o, "bf16_dot_gflops", peaks->bf16_dot_gflops > 0
                                                        ? cJSON_CreateNumber(peaks->bf16_dot_gflops)
                                                        : cJSON_CreateNull());
        cJSON_AddItemToObject(o, "bf16_unavailable", peaks->bf16_unavailable[0] != '\0'
                                                         ? cJSON_CreateString(peaks->bf16_unavailable)
                                                         : cJSON_CreateNull());
    }
    return o;
}

/* results.c — reading a run's results.jsonl back, typed access to the fields of its records, and a run of
 * several CPU models split by model. */
#include "plots/plots.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define RESULTS_ROOT "results"
#define FIRST_STEP "run `make sweep PRESET=smoke` first"

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Newest run under results/ by the modification time of its results.jsonl. */
static int newest_run(char *file, size_t size, sb_error *err)
{
    DIR *dir = opendir(RESULTS_ROOT);
    if (dir == NULL)
        return sb_fail(err, "no results folder (%s/): " FIRST_STEP, RESULTS_ROOT);
    struct timespec best = {0, 0};
    bool found = false;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] == '.')
            continue;
        char path[SB_PATH_MAX];
        struct stat st;
        if (snprintf(path, sizeof path, "%s/%s/results.jsonl", RESULTS_ROOT, entry->d_name) >= (int)sizeof path ||
            stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (!found || st.st_mtim.tv_sec > best.tv_sec ||
            (st.st_mtim.tv_sec == best.tv_sec && st.st_mtim.tv_nsec > best.tv_nsec)) {
            best = st.st_mtim;
            snprintf(file, size, "%s", path);
            found = true;
        }
    }
    closedir(dir);
    if (!found)
        return sb_fail(err, "no run under %s/ has a results.jsonl: " FIRST_STEP, RESULTS_ROOT);
    return 0;
}

/* A folder, a file, or a bare run name under results/. */
static int resolve_file(const char *where, char *file, size_t size, sb_error *err)
{
    if (where == NULL)
        return newest_run(file, size, err);
    char named[SB_PATH_MAX];
    snprintf(named, sizeof named, "%s/%s", RESULTS_ROOT, where);
    int n;
    if (is_dir(where))
        n = snprintf(file, size, "%s/results.jsonl", where);
    else if (strchr(where, '/') == NULL && is_dir(named))
        n = snprintf(file, size, "%s/results.jsonl", named);
    else
        n = snprintf(file, size, "%s", where);
    return n >= (int)size ? sb_fail(err, "path too long: %s", where) : 0;
}

int sb_results_load(const char *where, sb_results *out, sb_warn_fn warn, void *warn_ctx, sb_error *err)
{
    memset(out, 0, sizeof *out);
    if (resolve_file(where, out->file, sizeof out->file, err) != 0)
        return -1;
    snprintf(out->dir, sizeof out->dir, "%s", out->file);
    char *slash = strrchr(out->dir, '/');
    if (slash != NULL)
        *slash = '\0';
    else
        snprintf(out->dir, sizeof out->dir, ".");
    struct stat st;
    if (stat(out->file, &st) != 0)
        return sb_fail(err, "cannot read %s (%s): " FIRST_STEP, out->file, strerror(errno));
    /* Records of any one schema version: the pictures read fields every version has. */
    if (sb_records_load(out->file, &out->set, warn, warn_ctx, err) != 0 ||
        sb_record_set_schema(&out->set, -1, out->file, NULL, err) != 0) {
        sb_results_free(out);
        return -1;
    }
    if (out->set.count == 0) {
        sb_fail(err, "%s holds no records: " FIRST_STEP, out->file);
        sb_results_free(out);
        return -1;
    }
    out->records = out->set.items;
    out->lines = out->set.lines;
    out->count = out->set.count;
    return 0;
}

void sb_results_free(sb_results *results)
{
    sb_record_set_free(&results->set);
    results->records = NULL;
    results->lines = NULL;
    results->count = 0;
}

const cJSON *sb_results_system(const sb_results *results)
{
    for (size_t i = 0; i < results->count; i++) {
        const cJSON *sys = sb_record_field(results->records[i], SB_F_SYSTEM);
        if (cJSON_IsObject(sys))
            return sys;
    }
    return NULL;
}

void sb_results_machine(const sb_results *results, char *out, size_t size)
{
    const cJSON *sys = sb_results_system(results);
    const char *cpu = sb_record_string(sys, sb_field_key(SB_F_SYSTEM_CPU_MODEL));
    const char *gemm = sb_record_string(sys, sb_field_key(SB_F_SYSTEM_GEMM_BACKEND));
    const char *core = sb_record_string(sys, sb_field_key(SB_F_SYSTEM_OPENBLAS_CORE));
    double threads = 0;
    if (sys == NULL || sb_record_number(sys, sb_field_key(SB_F_SYSTEM_THREADS), &threads, NULL) != 0)
        threads = 0;
    snprintf(out, size, "%s, %s%s%s, %.0f thread%s", cpu != NULL ? cpu : "unknown CPU",
             gemm != NULL ? gemm : "unknown GEMM", core != NULL && *core != '\0' ? " " : "",
             core != NULL ? core : "", threads, threads == 1 ? "" : "s");
}

/* ---- a run split by CPU model ----------------------------------------------------------------------------- */

static const char *cpu_of(const cJSON *record)
{
    const char *cpu = sb_field_string(record, SB_F_SYSTEM_CPU_MODEL);
    return cpu != NULL && *cpu != '\0' ? cpu : "unknown CPU";
}

/* "cpu-" and the model with every run of other characters than letters and digits as one '-'. */
static void cpu_dir_name(const char *cpu, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "cpu-");
    for (const char *p = cpu; *p != '\0' && n + 1 < cap; p++) {
        const bool alnum = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9');
        if (alnum)
            out[n++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        else if (out[n - 1] != '-')
            out[n++] = '-';
    }
    while (n > 4 && out[n - 1] == '-')
        n--;
    out[n] = '\0';
}

static void add_node(sb_results_part *part, const cJSON *record)
{
    const char *node = sb_field_string(record, SB_F_SYSTEM_NODE);
    if (node == NULL || *node == '\0')
        return;
    char padded[sizeof part->nodes + 4], needle[300];
    snprintf(padded, sizeof padded, ", %s,", part->nodes);
    snprintf(needle, sizeof needle, ", %s,", node);
    const size_t used = strlen(part->nodes);
    if (strstr(padded, needle) == NULL)
        snprintf(part->nodes + used, sizeof part->nodes - used, "%s%s", used > 0 ? ", " : "", node);
}

int sb_results_split_by_cpu(const sb_results *r, sb_results_part **parts, size_t *count, sb_error *err)
{
    *parts = NULL;
    *count = 0;
    sb_results_part *p = calloc(r->count ? r->count : 1, sizeof *p);
    if (p == NULL)
        return sb_fail(err, "out of memory splitting %s by CPU model", r->file);
    size_t n = 0;
    for (size_t i = 0; i < r->count; i++) {
        const char *cpu = cpu_of(r->records[i]);
        size_t k = 0;
        while (k < n && strcmp(p[k].cpu_model, cpu) != 0)
            k++;
        if (k == n)
            snprintf(p[n++].cpu_model, sizeof p[0].cpu_model, "%s", cpu);
        cJSON *copy = cJSON_Duplicate(r->records[i], true);
        if (copy == NULL || sb_record_set_add(&p[k].results.set, copy, err) != 0) {
            cJSON_Delete(copy);
            sb_results_parts_free(p, n);
            return copy == NULL ? sb_fail(err, "out of memory splitting %s by CPU model", r->file) : -1;
        }
        p[k].results.set.lines[p[k].results.set.count - 1] = r->lines[i];
        add_node(&p[k], r->records[i]);
    }
    for (size_t k = 0; k < n; k++) {
        sb_results *part = &p[k].results;
        char name[96];
        cpu_dir_name(p[k].cpu_model, name, sizeof name);
        if (n == 1) {
            snprintf(part->dir, sizeof part->dir, "%s", r->dir);
            snprintf(part->file, sizeof part->file, "%s", r->file);
        } else {
            sb_fmt(part->dir, sizeof part->dir, "%s/%s", r->dir, name);
            sb_fmt(part->file, sizeof part->file, "%s/results.jsonl", part->dir);
        }
        part->records = part->set.items;
        part->lines = part->set.lines;
        part->count = part->set.count;
    }
    *parts = p;
    *count = n;
    return 0;
}

void sb_results_parts_free(sb_results_part *parts, size_t count)
{
    for (size_t k = 0; k < count; k++)
        sb_results_free(&parts[k].results);
    free(parts);
}

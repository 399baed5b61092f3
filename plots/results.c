/* results.c — reading a run's results.jsonl back, and typed access to the fields of its records. */
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

static char *read_all(const char *path, size_t *len, sb_error *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        sb_fail(err, "cannot read %s (%s): " FIRST_STEP, path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, used = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        used += fread(buf + used, 1, cap - used - 1, f);
        if (used < cap - 1)
            break;
        char *bigger = realloc(buf, cap * 2);
        if (bigger == NULL)
            free(buf);
        buf = bigger;
        cap *= 2;
    }
    bool failed = ferror(f);
    fclose(f);
    if (buf == NULL || failed) {
        free(buf);
        sb_fail(err, "cannot read %s: %s", path, buf == NULL ? "out of memory" : "read error");
        return NULL;
    }
    buf[used] = '\0';
    *len = used;
    return buf;
}

static int append_record(sb_results *r, cJSON *record, size_t line, sb_error *err)
{
    cJSON **records = realloc(r->records, (r->count + 1) * sizeof *records);
    if (records != NULL)
        r->records = records;
    size_t *lines = records == NULL ? NULL : realloc(r->lines, (r->count + 1) * sizeof *lines);
    if (lines == NULL) {
        cJSON_Delete(record);
        return sb_fail(err, "out of memory reading %s", r->file);
    }
    r->lines = lines;
    r->records[r->count] = record;
    r->lines[r->count] = line;
    r->count++;
    return 0;
}

int sb_results_load(const char *where, sb_results *out, sb_error *err)
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

    size_t len = 0;
    char *text = read_all(out->file, &len, err);
    if (text == NULL)
        return -1;
    size_t line = 0;
    for (char *p = text; p < text + len;) {
        char *end = strchr(p, '\n');
        if (end == NULL)
            end = text + len;
        *end = '\0';
        line++;
        if (strspn(p, " \t\r") != strlen(p)) {
            cJSON *record = cJSON_Parse(p);
            if (record == NULL || !cJSON_IsObject(record)) {
                cJSON_Delete(record);
                free(text);
                sb_results_free(out);
                return sb_fail(err, "%s:%zu: not a JSON object (a hand-edited or truncated line?)", out->file,
                               line);
            }
            if (append_record(out, record, line, err) != 0) {
                free(text);
                sb_results_free(out);
                return -1;
            }
        }
        p = end + 1;
    }
    free(text);
    if (out->count == 0) {
        sb_fail(err, "%s holds no records: " FIRST_STEP, out->file);
        sb_results_free(out);
        return -1;
    }
    return 0;
}

void sb_results_free(sb_results *results)
{
    for (size_t i = 0; i < results->count; i++)
        cJSON_Delete(results->records[i]);
    free(results->records);
    free(results->lines);
    results->records = NULL;
    results->lines = NULL;
    results->count = 0;
}

static const cJSON *lookup(const cJSON *record, const char *path)
{
    char key[256];
    const cJSON *node = record;
    while (node != NULL && *path != '\0') {
        size_t n = strcspn(path, ".");
        if (n >= sizeof key)
            return NULL;
        memcpy(key, path, n);
        key[n] = '\0';
        node = cJSON_IsObject(node) ? cJSON_GetObjectItemCaseSensitive(node, key) : NULL;
        path += n + (path[n] == '.');
    }
    return node;
}

int sb_record_number(const cJSON *record, const char *path, double *out, const char **why)
{
    const cJSON *node = lookup(record, path);
    if (cJSON_IsObject(node) && cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(node, "total")))
        node = cJSON_GetObjectItemCaseSensitive(node, "total");
    const char *problem = node == NULL          ? "missing"
                          : cJSON_IsNull(node)  ? "null"
                          : !cJSON_IsNumber(node) ? "not a number"
                          : !isfinite(node->valuedouble) ? "not finite"
                                                         : NULL;
    if (why != NULL)
        *why = problem;
    if (problem != NULL)
        return -1;
    *out = node->valuedouble;
    return 0;
}

const char *sb_record_string(const cJSON *record, const char *path)
{
    const cJSON *node = lookup(record, path);
    return cJSON_IsString(node) ? node->valuestring : NULL;
}

bool sb_record_measured(const cJSON *record)
{
    const char *verdict = sb_record_string(record, "verdict");
    return verdict != NULL && (strcmp(verdict, "ok") == 0 || strcmp(verdict, "noisy") == 0 ||
                               strcmp(verdict, "extrapolated") == 0);
}

const cJSON *sb_results_system(const sb_results *results)
{
    for (size_t i = 0; i < results->count; i++) {
        const cJSON *sys = cJSON_GetObjectItemCaseSensitive(results->records[i], "system");
        if (cJSON_IsObject(sys))
            return sys;
    }
    return NULL;
}

void sb_results_machine(const sb_results *results, char *out, size_t size)
{
    const cJSON *sys = sb_results_system(results);
    const char *cpu = sb_record_string(sys, "cpu_model"), *gemm = sb_record_string(sys, "gemm_backend");
    const char *core = sb_record_string(sys, "openblas_core");
    double threads = 0;
    if (sys == NULL || sb_record_number(sys, "threads", &threads, NULL) != 0)
        threads = 0;
    snprintf(out, size, "%s, %s%s%s, %.0f threads", cpu != NULL ? cpu : "unknown CPU",
             gemm != NULL ? gemm : "unknown GEMM", core != NULL && *core != '\0' ? " " : "",
             core != NULL ? core : "", threads);
}

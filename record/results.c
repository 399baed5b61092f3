/* results.c — results files: crash-safe append to results.jsonl, resume, the CSV beside it, the Markdown
 * table, merge of shards.
 *
 * The one invariant: results.jsonl is a sequence of complete lines, each a whole record. Each record goes
 * out in one write() on an O_APPEND descriptor followed by fsync, so a crash or kill -9 can at worst leave a
 * torn last line; opening the file for appending cuts it off (with a warning) before anything is added.
 */
#include "record/record.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JSONL_NAME "results.jsonl"
#define CSV_NAME "results.csv"

/* ---- record sets --------------------------------------------------------------------------------------- */

int sb_record_set_add(sb_record_set *s, cJSON *record, sb_error *err)
{
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        cJSON **items = realloc(s->items, cap * sizeof *items);
        if (items == NULL)
            return sb_fail(err, "out of memory for %zu records", cap);
        s->items = items;
        s->cap = cap;
    }
    s->items[s->count++] = record;
    return 0;
}

const char *sb_record_key_of(const cJSON *record)
{
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(record, "key");
    return cJSON_IsString(key) ? key->valuestring : NULL;
}

const cJSON *sb_record_set_find(const sb_record_set *s, const char *key)
{
    /* Linear: sweeps hold hundreds of records, and each is looked up once. */
    for (size_t i = 0; i < s->count; i++) {
        const char *k = sb_record_key_of(s->items[i]);
        if (k != NULL && strcmp(k, key) == 0)
            return s->items[i];
    }
    return NULL;
}

void sb_record_set_free(sb_record_set *s)
{
    for (size_t i = 0; i < s->count; i++)
        cJSON_Delete(s->items[i]);
    free(s->items);
    memset(s, 0, sizeof *s);
}

static int schema_version_of(const cJSON *record)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(record, "schema_version");
    return cJSON_IsNumber(v) ? v->valueint : -1;
}

/* ---- reading ------------------------------------------------------------------------------------------- */

/* Parses complete lines of buf[0..len) (len ends just after a newline, or is 0) into out. */
static int parse_lines(const char *path, char *buf, size_t len, sb_record_set *out, sb_error *err)
{
    size_t line_no = 0;
    for (char *p = buf; p < buf + len;) {
        char *nl = memchr(p, '\n', (size_t)(buf + len - p));
        *nl = '\0';
        line_no++;
        if (*p != '\0') {
            cJSON *record = cJSON_Parse(p);
            if (record == NULL || !cJSON_IsObject(record) || sb_record_key_of(record) == NULL) {
                cJSON_Delete(record);
                return sb_fail(err, "%s line %zu is not a shapebench record: repair or remove the file", path,
                               line_no);
            }
            if (sb_record_set_add(out, record, err) != 0) {
                cJSON_Delete(record);
                return -1;
            }
        }
        p = nl + 1;
    }
    return 0;
}

/* Length of buf up to and including its last newline; the rest is a torn line. */
static size_t complete_length(const char *buf, size_t len)
{
    while (len > 0 && buf[len - 1] != '\n')
        len--;
    return len;
}

static void jsonl_path(const char *path, char *out, size_t cap)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        snprintf(out, cap, "%s/%s", path, JSONL_NAME);
    else
        snprintf(out, cap, "%s", path);
}

int sb_records_load(const char *path, sb_record_set *out, sb_warn_fn warn, void *warn_ctx, sb_error *err)
{
    memset(out, 0, sizeof *out);
    char file[PATH_MAX];
    jsonl_path(path, file, sizeof file);
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sb_fail(err, "cannot open %s: %s", file, strerror(errno));
    char *buf;
    size_t len;
    int rc = sb_read_fd(fd, file, &buf, &len, err);
    close(fd);
    if (rc != 0)
        return -1;
    size_t complete = complete_length(buf, len);
    if (complete < len && warn != NULL) {
        char msg[PATH_MAX + 128];
        snprintf(msg, sizeof msg, "%s: ignoring a torn last line (%zu bytes) left by an interrupted run", file,
                 len - complete);
        warn(warn_ctx, msg);
    }
    rc = parse_lines(file, buf, complete, out, err);
    free(buf);
    if (rc != 0)
        sb_record_set_free(out);
    return rc;
}

/* ---- appending ----------------------------------------------------------------------------------------- */

int sb_results_open(sb_results_file *r, const char *dir, sb_warn_fn warn, void *warn_ctx, sb_error *err)
{
    memset(r, 0, sizeof *r);
    r->fd = -1;
    if (sb_mkdir_p(dir, err) != 0)
        return -1;
    if (snprintf(r->path, sizeof r->path, "%s/%s", dir, JSONL_NAME) >= (int)sizeof r->path)
        return sb_fail(err, "path too long: %s", dir);
    r->fd = open(r->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    if (r->fd < 0)
        return sb_fail(err, "cannot open %s for appending: %s", r->path, strerror(errno));
    char *buf;
    size_t len;
    if (sb_read_fd(r->fd, r->path, &buf, &len, err) != 0)
        goto fail;
    size_t complete = complete_length(buf, len);
    if (complete < len) {
        if (ftruncate(r->fd, (off_t)complete) != 0 || fsync(r->fd) != 0) {
            free(buf);
            sb_fail(err, "cannot cut the torn last line off %s: %s", r->path, strerror(errno));
            goto fail;
        }
        if (warn != NULL) {
            char msg[PATH_MAX + 128];
            snprintf(msg, sizeof msg, "%s: removed a torn last line (%zu bytes) left by an interrupted run", r->path,
                     len - complete);
            warn(warn_ctx, msg);
        }
    }
    int rc = parse_lines(r->path, buf, complete, &r->existing, err);
    free(buf);
    if (rc != 0)
        goto fail;
    for (size_t i = 0; i < r->existing.count; i++) {
        int v = schema_version_of(r->existing.items[i]);
        if (v != SB_SCHEMA_VERSION) {
            sb_fail(err, "%s holds schema version %d records, this shapebench writes version %d: use another --out",
                    r->path, v, SB_SCHEMA_VERSION);
            goto fail;
        }
    }
    return 0;
fail:
    sb_results_close(r);
    return -1;
}

bool sb_results_has(const sb_results_file *r, const char *key)
{
    return sb_record_set_find(&r->existing, key) != NULL;
}

int sb_results_append(sb_results_file *r, cJSON *record, sb_error *err)
{
    char *text = cJSON_PrintUnformatted(record);
    if (text == NULL) {
        cJSON_Delete(record);
        return sb_fail(err, "out of memory formatting a record");
    }
    size_t len = strlen(text);
    text[len] = '\n'; /* cJSON's terminator becomes the line's end: the line goes out in one write */
    struct stat st;
    int rc = -1;
    if (fstat(r->fd, &st) != 0) {
        sb_fail(err, "cannot stat %s: %s", r->path, strerror(errno));
        goto done;
    }
    /* One write() puts the whole line out; should it come back short (a signal, a full disk), the rest is
     * retried so the real error surfaces, and on error the part already written is cut back off. */
    for (size_t off = 0; off < len + 1;) {
        ssize_t n = write(r->fd, text + off, len + 1 - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;
            if (off > 0 && ftruncate(r->fd, st.st_size) != 0)
                sb_fail(err, "cannot write %s: %s (and cannot remove the partial line: %s)", r->path, strerror(e),
                        strerror(errno));
            else
                sb_fail(err, "cannot write %s: %s", r->path, strerror(e));
            goto done;
        }
        off += (size_t)n;
    }
    if (fsync(r->fd) != 0) {
        sb_fail(err, "cannot sync %s: %s", r->path, strerror(errno));
        goto done;
    }
    rc = sb_record_set_add(&r->existing, record, err);
    if (rc == 0)
        record = NULL;
done:
    free(text);
    cJSON_Delete(record);
    return rc;
}

void sb_results_close(sb_results_file *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    sb_record_set_free(&r->existing);
}

/* ---- flattened views: CSV and Markdown ------------------------------------------------------------------ */

static const cJSON *at(const cJSON *record, const char *a, const char *b)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(record, a);
    return b == NULL ? o : cJSON_GetObjectItemCaseSensitive(o, b);
}

/* The CSV columns: record paths, flattened. Arrays (samples) stay in the JSON only. */
static const struct {
    const char *column, *a, *b;
} columns[] = {
    {"key", "key", NULL},
    {"run", "run", NULL},
    {"shape", "shape", NULL},
    {"family", "family", NULL},
    {"scaling", "scaling", NULL},
    {"mode", "settings", "mode"},
    {"batch", "settings", "batch"},
    {"src_len", "settings", "src_len"},
    {"tgt_len", "settings", "tgt_len"},
    {"dtype", "settings", "dtype"},
    {"threads", "settings", "threads"},
    {"gemm", "settings", "gemm"},
    {"verdict", "verdict", NULL},
    {"params", "analytic", "params"},
    {"params_nonembedding", "analytic", "params_nonembedding"},
    {"params_active", "analytic", "params_active"},
    {"median_s", "timing", "median"},
    {"mean_s", "timing", "mean"},
    {"stddev_s", "timing", "stddev"},
    {"min_s", "timing", "min"},
    {"max_s", "timing", "max"},
    {"cv", "timing", "cv"},
    {"reps", "timing", "reps"},
    {"sequences_per_s", "throughput", "sequences_per_s"},
    {"tokens_per_s", "throughput", "tokens_per_s"},
    {"gflops_per_s", "throughput", "gflops_per_s"},
    {"ms_per_token", "throughput", "ms_per_token"},
    {"mfu", "throughput", "mfu"},
    {"flops_per_rep", "throughput", "flops_per_rep"},
    {"peak_rss_bytes", "memory", "peak_rss_bytes"},
    {"weights_bytes", "memory", "weights_bytes"},
    {"activations_bytes", "memory", "activations_bytes"},
    {"estimate_bytes", "memory", "estimate_bytes"},
};
#define NUM_COLUMNS (sizeof columns / sizeof columns[0])

/* A CSV field: numbers as %.17g (integers exactly), strings quoted when they need it, null as empty. */
static void csv_field(FILE *out, const cJSON *v)
{
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d == floor(d) && fabs(d) < 9e15)
            fprintf(out, "%.0f", d);
        else
            fprintf(out, "%.9g", d);
    } else if (cJSON_IsString(v)) {
        const char *s = v->valuestring;
        if (strpbrk(s, ",\"\n") == NULL) {
            fputs(s, out);
            return;
        }
        fputc('"', out);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', out);
            fputc(*s, out);
        }
        fputc('"', out);
    } else if (cJSON_IsBool(v)) {
        fputs(cJSON_IsTrue(v) ? "true" : "false", out);
    }
}

static void print_csv(const sb_record_set *s, FILE *out)
{
    for (size_t c = 0; c < NUM_COLUMNS; c++)
        fprintf(out, "%s%s", c ? "," : "", columns[c].column);
    fputc('\n', out);
    for (size_t i = 0; i < s->count; i++) {
        for (size_t c = 0; c < NUM_COLUMNS; c++) {
            if (c)
                fputc(',', out);
            csv_field(out, at(s->items[i], columns[c].a, columns[c].b));
        }
        fputc('\n', out);
    }
}

static double number_or_nan(const cJSON *v)
{
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const char *string_or(const cJSON *v, const char *fallback)
{
    return cJSON_IsString(v) ? v->valuestring : fallback;
}

/* A Markdown cell for a number: "–" when absent. */
static void md_number(FILE *out, double v, const char *fmt)
{
    fputs(" | ", out);
    if (isfinite(v))
        fprintf(out, fmt, v);
    else
        fputs("–", out);
}

static void print_markdown(const sb_record_set *s, FILE *out)
{
    fputs("| shape | mode | batch | src | tgt | median (ms) | ±CI95 (ms) | seq/s | tok/s | GFLOP/s | ms/token | "
          "MFU (%) | verdict |\n"
          "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n",
          out);
    for (size_t i = 0; i < s->count; i++) {
        const cJSON *r = s->items[i];
        const cJSON *ci = at(r, "timing", "ci95_median");
        double lo = number_or_nan(cJSON_GetArrayItem(ci, 0)), hi = number_or_nan(cJSON_GetArrayItem(ci, 1));
        fprintf(out, "| %s | %s", string_or(at(r, "shape", NULL), "?"), string_or(at(r, "settings", "mode"), "?"));
        md_number(out, number_or_nan(at(r, "settings", "batch")), "%.0f");
        md_number(out, number_or_nan(at(r, "settings", "src_len")), "%.0f");
        md_number(out, number_or_nan(at(r, "settings", "tgt_len")), "%.0f");
        md_number(out, number_or_nan(at(r, "timing", "median")) * 1e3, "%.2f");
        md_number(out, (hi - lo) / 2 * 1e3, "%.2f");
        md_number(out, number_or_nan(at(r, "throughput", "sequences_per_s")), "%.3g");
        md_number(out, number_or_nan(at(r, "throughput", "tokens_per_s")), "%.4g");
        md_number(out, number_or_nan(at(r, "throughput", "gflops_per_s")), "%.1f");
        md_number(out, number_or_nan(at(r, "throughput", "ms_per_token")), "%.2f");
        md_number(out, number_or_nan(at(r, "throughput", "mfu")) * 100, "%.1f");
        fprintf(out, " | %s |\n", string_or(at(r, "verdict", NULL), "?"));
    }
}

int sb_format_parse(const char *name, sb_format *out, sb_error *err)
{
    static const char *const names[] = {"jsonl", "csv", "md"};
    for (int i = 0; i < 3; i++)
        if (strcmp(name, names[i]) == 0) {
            *out = (sb_format)i;
            return 0;
        }
    return sb_fail(err, "unknown format '%s' (jsonl, csv or md)", name);
}

int sb_records_print(const sb_record_set *s, sb_format format, FILE *out)
{
    if (format == SB_FORMAT_CSV) {
        print_csv(s, out);
    } else if (format == SB_FORMAT_MD) {
        print_markdown(s, out);
    } else {
        for (size_t i = 0; i < s->count; i++) {
            char *text = cJSON_PrintUnformatted(s->items[i]);
            if (text == NULL)
                return -1;
            fprintf(out, "%s\n", text);
            free(text);
        }
    }
    return fflush(out) == 0 && !ferror(out) ? 0 : -1;
}

typedef struct {
    const sb_record_set *set;
    sb_format format;
} printed_set;

static int print_set(FILE *f, void *ctx, sb_error *err)
{
    const printed_set *p = ctx;
    return sb_records_print(p->set, p->format, f) == 0 ? 0 : sb_fail(err, "write error: %s", strerror(errno));
}

/* `path` replaced whole (sb_write_file_atomic): readers see the old or the new whole file. */
static int replace_file(const char *path, const sb_record_set *s, sb_format format, sb_error *err)
{
    printed_set p = {s, format};
    return sb_write_file_atomic(path, print_set, &p, err);
}

int sb_records_write_csv(const sb_record_set *s, const char *path, sb_error *err)
{
    return replace_file(path, s, SB_FORMAT_CSV, err);
}

/* ---- merge --------------------------------------------------------------------------------------------- */

int sb_results_merge(const char *const *dirs, size_t ndirs, const char *out_dir, size_t *written,
                     sb_warn_fn warn, void *warn_ctx, sb_error *err)
{
    sb_record_set merged = {0};
    int version = -1;
    const char *version_from = NULL;
    int rc = -1;
    for (size_t d = 0; d < ndirs; d++) {
        sb_record_set in;
        if (sb_records_load(dirs[d], &in, warn, warn_ctx, err) != 0)
            goto done;
        for (size_t i = 0; i < in.count; i++) {
            int v = schema_version_of(in.items[i]);
            if (version_from == NULL) {
                version = v;
                version_from = dirs[d];
            } else if (v != version) {
                sb_fail(err, "schema versions differ: %s has %d, %s has %d; merge only results of one version",
                        version_from, version, dirs[d], v);
                sb_record_set_free(&in);
                goto done;
            }
            if (sb_record_set_find(&merged, sb_record_key_of(in.items[i])) != NULL)
                continue;
            if (sb_record_set_add(&merged, in.items[i], err) != 0) {
                sb_record_set_free(&in);
                goto done;
            }
            in.items[i] = NULL;
        }
        sb_record_set_free(&in); /* cJSON_Delete(NULL) is a no-op for the moved records */
    }
    char path[PATH_MAX];
    if (sb_mkdir_p(out_dir, err) != 0)
        goto done;
    snprintf(path, sizeof path, "%s/%s", out_dir, JSONL_NAME);
    if (replace_file(path, &merged, SB_FORMAT_JSONL, err) != 0)
        goto done;
    snprintf(path, sizeof path, "%s/%s", out_dir, CSV_NAME);
    if (sb_records_write_csv(&merged, path, err) != 0)
        goto done;
    *written = merged.count;
    rc = 0;
done:
    sb_record_set_free(&merged);
    return rc;
}

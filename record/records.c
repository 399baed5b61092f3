/* records.c — record sets and the files that hold them: the one reader of results.jsonl, the one schema-version
 * check, crash-safe append, and merge (records and their points).
 *
 * The one invariant: results.jsonl is a sequence of complete lines, each a whole record. Each record goes
 * out in one write() on an O_APPEND descriptor followed by fsync, so a crash or kill -9 can at worst leave a
 * torn last line (a record replaced in place goes out as a whole new file renamed over the old one); a reader leaves it out with a warning, and opening the file for appending cuts it off
 * (with the same warning) before anything is added — but only once the lock is held (no live writer can be
 * mid-line) and the whole file has been read as a results file (nothing else is ever cut).
 */
#include "record/record.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JSONL_NAME "results.jsonl"
#define CSV_NAME "results.csv"

/* ---- record sets --------------------------------------------------------------------------------------- */

static int set_add_at(sb_record_set *s, cJSON *record, size_t line, sb_error *err)
{
    if (s->count == s->cap) {
        const size_t cap = s->cap ? s->cap * 2 : 16;
        cJSON **items = realloc(s->items, cap * sizeof *items);
        if (items != NULL)
            s->items = items;
        size_t *lines = items != NULL ? realloc(s->lines, cap * sizeof *lines) : NULL;
        if (lines == NULL)
            return sb_fail(err, "out of memory for %zu records", cap);
        s->lines = lines;
        s->cap = cap;
    }
    s->items[s->count] = record;
    s->lines[s->count] = line;
    s->count++;
    return 0;
}

int sb_record_set_add(sb_record_set *s, cJSON *record, sb_error *err)
{
    return set_add_at(s, record, 0, err);
}

const char *sb_record_key_of(const cJSON *record)
{
    return sb_field_string(record, SB_F_KEY);
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
    free(s->lines);
    memset(s, 0, sizeof *s);
}

static int schema_version_of(const cJSON *record)
{
    const double v = sb_field_number(record, SB_F_SCHEMA_VERSION);
    return v >= 0 && v <= 1e6 && v == (int)v ? (int)v : -1;
}

int sb_record_set_schema(const sb_record_set *s, int required, const char *what, int *version, sb_error *err)
{
    const int first = s->count > 0 ? schema_version_of(s->items[0]) : -1;
    for (size_t i = 0; i < s->count; i++) {
        const int v = schema_version_of(s->items[i]);
        if (v != first)
            return sb_fail(err, "%s mixes schema versions %d and %d (line %zu): merge only results of one version",
                           what, first, v, s->lines[i]);
        if (required >= 0 && v != required)
            return sb_fail(err, "%s holds schema version %d records, this shapebench writes version %d: use another "
                                "--out", what, v, required);
    }
    if (version != NULL)
        *version = first;
    return 0;
}

/* ---- the reader ---------------------------------------------------------------------------------------- */

/* What the bytes of a results file hold: the records of its lines, and what follows the last newline. */
typedef struct {
    size_t complete;     /* bytes up to and including the last newline */
    size_t torn;         /* bytes of a torn last line after them (0: none) */
    bool unterminated;   /* the bytes after the last newline are a whole record, kept in the set */
} file_shape;

static void warn_torn(const char *path, size_t bytes, bool cut, sb_warn_fn warn, void *warn_ctx)
{
    if (warn == NULL)
        return;
    char msg[SB_PATH_MAX + 160];
    snprintf(msg, sizeof msg, "%s: a torn last line (%zu bytes, left by an interrupted run) is left out%s", path,
             bytes, cut ? " and cut off the file before appending" : "");
    warn(warn_ctx, msg);
}

/* The record of the line p[0..n) (its newline excluded): a JSON object with a string key and nothing
 * after it but spaces, tabs or a carriage return; NULL when it is not one. */
static cJSON *parse_record(const char *p, size_t n)
{
    if (memchr(p, '\0', n) != NULL)
        return NULL;
    const char *end = NULL;
    cJSON *record = cJSON_ParseWithLengthOpts(p, n, &end, false);
    while (record != NULL && end < p + n && (*end == ' ' || *end == '\t' || *end == '\r'))
        end++;
    if (record == NULL || end != p + n || !cJSON_IsObject(record) || sb_record_key_of(record) == NULL) {
        cJSON_Delete(record);
        return NULL;
    }
    return record;
}

static int line_error(const char *path, size_t line_no, const char *p, size_t n, sb_error *err)
{
    if (memchr(p, '\0', n) != NULL)
        return sb_fail(err, "%s line %zu holds a NUL byte: not a shapebench record (repair or remove the file)",
                       path, line_no);
    size_t blank = 0;
    while (blank < n && (p[blank] == ' ' || p[blank] == '\t' || p[blank] == '\r'))
        blank++;
    if (blank == n)
        return sb_fail(err, "%s line %zu is blank: not a shapebench record (repair or remove the file)", path,
                       line_no);
    return sb_fail(err, "%s line %zu is not a shapebench record: repair or remove the file", path, line_no);
}

/* A torn last line begins as every record line does, or is the NUL bytes a crash leaves where data had not
 * yet reached the disk. */
static bool looks_torn(const char *p, size_t n)
{
    if (p[0] == '{')
        return true;
    for (size_t i = 0; i < n; i++)
        if (p[i] != '\0')
            return false;
    return true;
}

/* Parses buf[0..len) into out under the policy of sb_records_load, without warning or changing anything:
 * *shape says what the end of the file held. */
static int parse_file(const char *path, const char *buf, size_t len, sb_record_set *out, file_shape *shape,
                      sb_error *err)
{
    memset(shape, 0, sizeof *shape);
    size_t line_no = 0;
    for (const char *p = buf; p < buf + len;) {
        const char *nl = memchr(p, '\n', (size_t)(buf + len - p));
        const size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(buf + len - p);
        line_no++;
        cJSON *record = parse_record(p, n);
        sb_error why;
        /* The table describes this version's records; older ones are read through the typed accessors,
         * which give NaN or NULL for a field of another type. */
        if (record != NULL && schema_version_of(record) == SB_SCHEMA_VERSION &&
            sb_record_check_types(record, &why) != 0) {
            cJSON_Delete(record);
            return sb_fail(err, "%s line %zu: %s", path, line_no, why.msg);
        }
        if (record == NULL && nl == NULL && looks_torn(p, n)) {
            shape->complete = (size_t)(p - buf);
            shape->torn = n;
            return 0;
        }
        if (record == NULL)
            return line_error(path, line_no, p, n, err);
        if (set_add_at(out, record, line_no, err) != 0) {
            cJSON_Delete(record);
            return -1;
        }
        if (nl == NULL) {
            shape->complete = (size_t)(p - buf);
            shape->unterminated = true;
            return 0;
        }
        p = nl + 1;
    }
    shape->complete = len;
    return 0;
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
    char file[SB_PATH_MAX];
    jsonl_path(path, file, sizeof file);
    char *buf;
    size_t len;
    if (sb_read_file(file, &buf, &len, err) != 0)
        return -1;
    file_shape shape;
    const int rc = parse_file(file, buf, len, out, &shape, err);
    free(buf);
    if (rc != 0) {
        sb_record_set_free(out);
        return -1;
    }
    if (shape.torn > 0)
        warn_torn(file, shape.torn, false, warn, warn_ctx);
    return 0;
}

/* ---- appending ----------------------------------------------------------------------------------------- */

/* Opens results.jsonl for appending: a regular file of its own, never a link's target. */
static int open_jsonl(sb_results_file *r, sb_error *err)
{
    r->fd = open(r->path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (r->fd < 0 && errno == ELOOP)
        return sb_fail(err, "%s is a symbolic link: shapebench appends only to a results file of its own", r->path);
    if (r->fd < 0)
        return sb_fail(err, "cannot open %s for appending: %s", r->path, strerror(errno));
    struct stat st;
    if (fstat(r->fd, &st) != 0 || !S_ISREG(st.st_mode))
        return sb_fail(err, "%s is not a regular file", r->path);
    return 0;
}

/* After the whole file was read and accepted: cut a torn last line off, or end a last record with its
 * newline, so the next record starts on a line of its own. */
static int repair_end(sb_results_file *r, const file_shape *shape, sb_warn_fn warn, void *warn_ctx, sb_error *err)
{
    if (shape->torn > 0) {
        if (ftruncate(r->fd, (off_t)shape->complete) != 0 || fsync(r->fd) != 0)
            return sb_fail(err, "cannot cut the torn last line off %s: %s", r->path, strerror(errno));
        warn_torn(r->path, shape->torn, true, warn, warn_ctx);
    }
    if (shape->unterminated && (write(r->fd, "\n", 1) != 1 || fsync(r->fd) != 0))
        return sb_fail(err, "cannot end the last line of %s: %s", r->path, strerror(errno));
    return 0;
}

int sb_results_open(sb_results_file *r, const char *dir, sb_warn_fn warn, void *warn_ctx, sb_error *err)
{
    memset(r, 0, sizeof *r);
    r->fd = r->lock_fd = -1;
    if (sb_mkdir_p(dir, err) != 0)
        return -1;
    if (snprintf(r->path, sizeof r->path, "%s/%s", dir, JSONL_NAME) >= (int)sizeof r->path)
        return sb_fail(err, "path too long: %s", dir);
    char *buf = NULL;
    size_t len;
    file_shape shape;
    if (sb_run_lock(dir, &r->lock_fd, err) != 0 || open_jsonl(r, err) != 0 ||
        sb_read_fd(r->fd, r->path, &buf, &len, err) != 0)
        goto fail;
    const int rc = parse_file(r->path, buf, len, &r->existing, &shape, err);
    free(buf);
    if (rc != 0 || sb_record_set_schema(&r->existing, SB_SCHEMA_VERSION, r->path, NULL, err) != 0 ||
        repair_end(r, &shape, warn, warn_ctx, err) != 0)
        goto fail;
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

/* The bytes of results.jsonl with line `index` (0-based) replaced by `line`, for sb_write_file_atomic. */
typedef struct {
    const char *buf, *line;
    size_t before, after, len; /* the old line is buf[before..after), its newline excluded */
} replacement;

static int write_replacement(FILE *f, void *ctx, sb_error *err)
{
    const replacement *rp = ctx;
    if (fwrite(rp->buf, 1, rp->before, f) != rp->before || fputs(rp->line, f) == EOF ||
        fwrite(rp->buf + rp->after, 1, rp->len - rp->after, f) != rp->len - rp->after)
        return sb_fail(err, "cannot write the records: %s", strerror(errno));
    return 0;
}

/* Where line `index` of buf is, checked to hold the record of `key`: after sb_results_open every line of the
 * file is one record of r->existing, in order, and the lock keeps every other writer out. */
static int find_line(const sb_results_file *r, const char *buf, size_t len, size_t index, const char *key,
                     replacement *rp, sb_error *err)
{
    const char *p = buf;
    for (size_t i = 0; i < index && p != NULL; i++) {
        p = memchr(p, '\n', (size_t)(buf + len - p));
        p = p != NULL ? p + 1 : NULL;
    }
    const char *nl = p != NULL ? memchr(p, '\n', (size_t)(buf + len - p)) : NULL;
    cJSON *old = nl != NULL ? parse_record(p, (size_t)(nl - p)) : NULL;
    const char *old_key = old != NULL ? sb_record_key_of(old) : NULL;
    const bool same = old_key != NULL && strcmp(old_key, key) == 0;
    cJSON_Delete(old);
    if (!same)
        return sb_fail(err, "%s changed while this run held its lock (line %zu is not the record of %s): nothing "
                            "replaced", r->path, index + 1, key);
    rp->before = (size_t)(p - buf);
    rp->after = (size_t)(nl - buf);
    return 0;
}

int sb_results_replace(sb_results_file *r, cJSON *record, sb_error *err)
{
    const char *key = sb_record_key_of(record);
    size_t index = 0;
    while (key != NULL && index < r->existing.count && strcmp(sb_record_key_of(r->existing.items[index]), key) != 0)
        index++;
    char *text = NULL, *buf = NULL;
    size_t len;
    int rc = -1;
    if (key == NULL || index == r->existing.count) {
        sb_fail(err, "%s holds no record of %s to replace", r->path, key != NULL ? key : "(no key)");
        goto done;
    }
    if ((text = cJSON_PrintUnformatted(record)) == NULL) {
        sb_fail(err, "out of memory formatting a record");
        goto done;
    }
    replacement rp = {.line = text};
    if (sb_read_fd(r->fd, r->path, &buf, &len, err) != 0 || find_line(r, buf, len, index, key, &rp, err) != 0)
        goto done;
    rp.buf = buf;
    rp.len = len;
    /* A new whole file renamed over the old: a reader, or a crash, sees one or the other. The descriptor
     * still names the old file, so it is opened again for the appends that follow. */
    if (sb_write_file_atomic(r->path, write_replacement, &rp, err) != 0)
        goto done;
    close(r->fd);
    r->fd = -1;
    if (open_jsonl(r, err) != 0)
        goto done;
    cJSON_Delete(r->existing.items[index]);
    r->existing.items[index] = record;
    record = NULL;
    rc = 0;
done:
    free(text);
    free(buf);
    cJSON_Delete(record);
    return rc;
}

void sb_results_close(sb_results_file *r)
{
    if (r->fd >= 0)
        close(r->fd);
    sb_run_unlock(r->lock_fd);
    r->fd = r->lock_fd = -1;
    sb_record_set_free(&r->existing);
}

/* ---- merge --------------------------------------------------------------------------------------------- */

/* The records of dirs[d] joined into merged (first of each key kept), its points into points. */
static int merge_one(const char *dir, sb_record_set *merged, sb_points *points, int *version, const char **version_from,
                     sb_warn_fn warn, void *warn_ctx, sb_error *err)
{
    sb_points in_points;
    bool planned;
    if (sb_points_load(dir, &in_points, &planned, err) != 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < in_points.count && rc == 0; i++)
        if (!sb_points_has(points, in_points.keys[i]))
            rc = sb_points_add(points, in_points.keys[i], in_points.cost_s[i], err);
    sb_points_free(&in_points);
    char path[SB_PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, JSONL_NAME);
    if (rc != 0 || (planned && access(path, F_OK) != 0 && errno == ENOENT))
        return rc;
    sb_record_set in;
    int v;
    if (sb_records_load(dir, &in, warn, warn_ctx, err) != 0)
        return -1;
    if (sb_record_set_schema(&in, -1, dir, &v, err) != 0) {
        sb_record_set_free(&in);
        return -1;
    }
    if (in.count > 0 && *version_from != NULL && v != *version) {
        sb_fail(err, "schema versions differ: %s has %d, %s has %d; merge only results of one version", *version_from,
                *version, dir, v);
        sb_record_set_free(&in);
        return -1;
    }
    if (in.count > 0 && *version_from == NULL) {
        *version = v;
        *version_from = dir;
    }
    for (size_t i = 0; i < in.count && rc == 0; i++) {
        if (sb_record_set_find(merged, sb_record_key_of(in.items[i])) != NULL)
            continue;
        if ((rc = sb_record_set_add(merged, in.items[i], err)) == 0)
            in.items[i] = NULL;
    }
    sb_record_set_free(&in); /* cJSON_Delete(NULL) is a no-op for the moved records */
    return rc;
}

int sb_results_merge(const char *const *dirs, size_t ndirs, const char *out_dir, size_t *written,
                     sb_warn_fn warn, void *warn_ctx, sb_error *err)
{
    sb_record_set merged = {0};
    sb_points points = {0};
    int version = -1;
    const char *version_from = NULL;
    int rc = -1, lock_fd = -1;
    for (size_t d = 0; d < ndirs; d++)
        if (merge_one(dirs[d], &merged, &points, &version, &version_from, warn, warn_ctx, err) != 0)
            goto done;
    char path[SB_PATH_MAX];
    if (sb_mkdir_p(out_dir, err) != 0 || sb_run_lock(out_dir, &lock_fd, err) != 0)
        goto done;
    snprintf(path, sizeof path, "%s/%s", out_dir, JSONL_NAME);
    if (sb_records_write(&merged, SB_FORMAT_JSONL, path, err) != 0)
        goto done;
    snprintf(path, sizeof path, "%s/%s", out_dir, CSV_NAME);
    if (sb_records_write_csv(&merged, path, err) != 0)
        goto done;
    if (points.count > 0 && sb_points_write(out_dir, &points, err) != 0)
        goto done;
    *written = merged.count;
    rc = 0;
done:
    sb_run_unlock(lock_fd);
    sb_points_free(&points);
    sb_record_set_free(&merged);
    return rc;
}

/* record.h — the results record and its files: what a shapebench result is, on disk and in memory.
 *
 *   - record sets (parsed records with their keys), the one reader of results.jsonl (one policy for a torn
 *     last line: cut with a warning, everywhere) and the schema-version check;
 *   - the results file open for appending: crash-safe append (one write and fsync per record), resume;
 *   - the flattened views (CSV, Markdown) and the merge of result folders.
 *
 * Depends on common/ and cJSON: below both the harness (which writes records) and plots (which reads them).
 */
#ifndef SHAPEBENCH_RECORD_H
#define SHAPEBENCH_RECORD_H

#include "common/common.h"

#include <cjson/cJSON.h>
#include <stdio.h>

#define SB_SCHEMA_VERSION 2 /* of results/README.md's record; merge refuses to mix versions */

typedef struct {
    cJSON **items;
    size_t count, cap;
} sb_record_set;

/* A results folder open for appending: <dir>/results.jsonl, its torn last line (if any) removed. */
typedef struct {
    char path[4096];
    int fd;
    sb_record_set existing; /* records already in the file, for resume */
} sb_results_file;

/* Creates dir (and parents), repairs a torn last line with a warning, loads the records and refuses a file
 * of another schema version. */
int sb_results_open(sb_results_file *r, const char *dir, sb_warn_fn warn, void *warn_ctx, sb_error *err);
bool sb_results_has(const sb_results_file *r, const char *key);
/* One write() of the whole line on an O_APPEND descriptor, then fsync; a short write is cut back off so no
 * torn line stays behind. Takes ownership of record (kept in r->existing). */
int sb_results_append(sb_results_file *r, cJSON *record, sb_error *err);
void sb_results_close(sb_results_file *r);

/* Reads <path>/results.jsonl (or the file `path`): every line must parse. A torn last line is ignored with
 * a warning. */
int sb_records_load(const char *path, sb_record_set *out, sb_warn_fn warn, void *warn_ctx, sb_error *err);
int sb_record_set_add(sb_record_set *s, cJSON *record, sb_error *err);
const cJSON *sb_record_set_find(const sb_record_set *s, const char *key);
void sb_record_set_free(sb_record_set *s);
const char *sb_record_key_of(const cJSON *record); /* NULL when absent */

/* Output formats of records: CSV (header + one row each), a Markdown table, JSON lines. */
typedef enum { SB_FORMAT_JSONL, SB_FORMAT_CSV, SB_FORMAT_MD } sb_format;
int sb_format_parse(const char *name, sb_format *out, sb_error *err);
int sb_records_print(const sb_record_set *s, sb_format format, FILE *out);
/* Replaces `path` with the CSV of s (temporary file, fsync, rename). */
int sb_records_write_csv(const sb_record_set *s, const char *path, sb_error *err);
/* Joins result folders into out_dir: refuses mixed schema versions, keeps the first record of each key. */
int sb_results_merge(const char *const *dirs, size_t ndirs, const char *out_dir, size_t *written,
                     sb_warn_fn warn, void *warn_ctx, sb_error *err);

#endif

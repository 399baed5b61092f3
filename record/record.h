/* record.h — the results record and its files: what a shapebench result is, on disk and in memory.
 *
 *   - the field table: every field of the record once — its JSON path, type, unit, CSV column and meaning —
 *     from which the writer (harness/record.c), the CSV flattening, the readers (plots/, compare, pareto),
 *     and the schema documentation (`shapebench schema`, results/README.md) all come;
 *   - record sets and the one reader of results.jsonl (one policy for its lines: a torn last line is cut
 *     with a warning, anything else that is not a record is an error naming file and line) and the one
 *     schema-version check;
 *   - the results file open for appending: one writer per folder (a lock), crash-safe append (one write and
 *     fsync per record), resume;
 *   - the flattened views (CSV, Markdown, JSON lines) and the merge of result folders;
 *   - the points a folder is to hold (points.tsv), so that a missing one is named.
 *
 * Depends on common/ and cJSON: below both the harness (which writes records) and plots (which reads them).
 */
#ifndef SHAPEBENCH_RECORD_H
#define SHAPEBENCH_RECORD_H

#include "common/common.h"

#include <cjson/cJSON.h>
#include <stdio.h>

#define SB_SCHEMA_VERSION 3 /* of the record below; merge refuses to mix versions */

/* ---- the fields (fields.c) ---------------------------------------------------------------------- */

typedef enum {
    SB_FIELD_STRING,
    SB_FIELD_INTEGER,
    SB_FIELD_NUMBER,
    SB_FIELD_BOOL,
    SB_FIELD_OBJECT,
    SB_FIELD_ARRAY
} sb_field_type;

/* Every field, in the order a record holds them. A `*` segment in a path stands for any key (an op class of
 * the roofline, an event of the counters). */
typedef enum {
    SB_F_SCHEMA_VERSION,
    SB_F_RUN,
    SB_F_KEY,
    SB_F_SHAPE,
    SB_F_FAMILY,
    SB_F_SCALING,
    SB_F_CONFIG,
    SB_F_CONFIG_NUM_LAYERS,
    SB_F_CONFIG_NUM_DECODER_LAYERS,
    SB_F_CONFIG_D_MODEL,
    SB_F_CONFIG_D_FF,
    SB_F_CONFIG_D_KV,
    SB_F_CONFIG_NUM_HEADS,
    SB_F_CONFIG_NUM_EXPERTS,
    SB_F_SETTINGS,
    SB_F_SETTINGS_MODE,
    SB_F_SETTINGS_BATCH,
    SB_F_SETTINGS_SRC_LEN,
    SB_F_SETTINGS_TGT_LEN,
    SB_F_SETTINGS_DTYPE,
    SB_F_SETTINGS_COMPUTE_DTYPE,
    SB_F_SETTINGS_STORAGE_DTYPE,
    SB_F_SETTINGS_THREADS,
    SB_F_SETTINGS_GEMM,
    SB_F_SETTINGS_SEED,
    SB_F_SETTINGS_WARMUP,
    SB_F_SETTINGS_MIN_REPS,
    SB_F_SETTINGS_MIN_TIME_S,
    SB_F_SETTINGS_MAX_TIME_S,
    SB_F_SETTINGS_ALWAYS_SAMPLE,
    SB_F_ANALYTIC,
    SB_F_ANALYTIC_PARAMS,
    SB_F_ANALYTIC_PARAMS_NONEMBEDDING,
    SB_F_ANALYTIC_PARAMS_ACTIVE,
    SB_F_ANALYTIC_FLOPS_FORWARD_PAPER,
    SB_F_ANALYTIC_FLOPS_FORWARD_EXECUTED,
    SB_F_ANALYTIC_FLOPS_TRAIN_STEP,
    SB_F_ANALYTIC_MEMORY_BYTES,
    SB_F_ANALYTIC_CONVENTIONS,
    SB_F_TIMING,
    SB_F_TIMING_UNIT,
    SB_F_TIMING_SAMPLES,
    SB_F_TIMING_MEDIAN,
    SB_F_TIMING_MEAN,
    SB_F_TIMING_STDDEV,
    SB_F_TIMING_MIN,
    SB_F_TIMING_MAX,
    SB_F_TIMING_CV,
    SB_F_TIMING_CI95_MEDIAN,
    SB_F_TIMING_WARMUP,
    SB_F_TIMING_REPS,
    SB_F_TIMING_CPU_SHARE,
    SB_F_TIMING_PREEMPTIONS,
    SB_F_TIMING_PARTS_ENCODER,
    SB_F_TIMING_PARTS_DECODER,
    SB_F_TIMING_BLOCKS_ENCODER,
    SB_F_TIMING_BLOCKS_DECODER,
    SB_F_TIMING_METHOD,
    SB_F_THROUGHPUT,
    SB_F_THROUGHPUT_SEQUENCES_PER_S,
    SB_F_THROUGHPUT_TOKENS_PER_S,
    SB_F_THROUGHPUT_GFLOPS_PER_S,
    SB_F_THROUGHPUT_MS_PER_TOKEN,
    SB_F_THROUGHPUT_MFU,
    SB_F_THROUGHPUT_FLOPS_PER_REP,
    SB_F_THROUGHPUT_FLOPS_SOURCE,
    SB_F_THROUGHPUT_TOKENS_PER_REP,
    SB_F_VERDICT,
    SB_F_EXTRAPOLATION,
    SB_F_EXTRAPOLATION_SAMPLED_ENCODER,
    SB_F_EXTRAPOLATION_SAMPLED_DECODER,
    SB_F_EXTRAPOLATION_FULL_ENCODER,
    SB_F_EXTRAPOLATION_FULL_DECODER,
    SB_F_EXTRAPOLATION_METHOD,
    SB_F_MEMORY,
    SB_F_MEMORY_PEAK_RSS_BYTES,
    SB_F_MEMORY_PEAK_RSS_SCOPE,
    SB_F_MEMORY_WEIGHTS_BYTES,
    SB_F_MEMORY_WEIGHTS_PACKED_TENSORS,
    SB_F_MEMORY_ACTIVATIONS_BYTES,
    SB_F_MEMORY_ARENAS_OF,
    SB_F_MEMORY_ESTIMATE_BYTES,
    SB_F_COUNTERS,
    SB_F_COUNTERS_EVENT,
    SB_F_COUNTERS_VALUE,
    SB_F_COUNTERS_SCALED_FROM,
    SB_F_COUNTERS_SOURCE,
    SB_F_COUNTERS_UNAVAILABLE_REASON,
    SB_F_ROOFLINE,
    SB_F_ROOFLINE_CLASS,
    SB_F_ROOFLINE_INTENSITY,
    SB_F_ROOFLINE_ACHIEVED_GFLOPS,
    SB_F_ROOFLINE_BOUND,
    SB_F_ROOFLINE_METHOD,
    SB_F_SYSTEM,
    SB_F_SYSTEM_CPU_FLAGS,
    SB_F_SYSTEM_CPU_MODEL,
    SB_F_SYSTEM_NODE,
    SB_F_SYSTEM_SLURM_JOB_ID,
    SB_F_SYSTEM_SLURM_ARRAY_TASK_ID,
    SB_F_SYSTEM_LOGICAL_CORES,
    SB_F_SYSTEM_LAST_LEVEL_CACHE_BYTES,
    SB_F_SYSTEM_THREADS,
    SB_F_SYSTEM_GEMM_BACKEND,
    SB_F_SYSTEM_GEMM_VERSION,
    SB_F_SYSTEM_ONEDNN_ISA,
    SB_F_SYSTEM_OPENBLAS_CORE,
    SB_F_SYSTEM_OPENBLAS_THREADS,
    SB_F_SYSTEM_COMPILER,
    SB_F_SYSTEM_BUILD_FLAGS,
    SB_F_SYSTEM_GIT_COMMIT,
    SB_F_SYSTEM_DATE,
    SB_F_SYSTEM_LOAD_AVERAGE,
    SB_F_SYSTEM_SGEMM_GFLOPS,
    SB_F_SYSTEM_FMA_GFLOPS,
    SB_F_SYSTEM_STREAM_COPY_GBPS,
    SB_F_SYSTEM_PEAK_SGEMM_N,
    SB_F_SYSTEM_PEAK_STREAM_BYTES,
    SB_F_SYSTEM_BF16_GEMM_GFLOPS,
    SB_F_SYSTEM_BF16_DOT_GFLOPS,
    SB_F_SYSTEM_BF16_UNAVAILABLE,
    SB_F_QUALITY,
    SB_F_QUALITY_METRIC,
    SB_F_QUALITY_VALUE,
    SB_F_QUALITY_STDDEV,
    SB_F_QUALITY_SEEDS,
    SB_F_QUALITY_BUDGET_KIND,
    SB_F_QUALITY_BUDGET,
    SB_F_QUALITY_EVAL_EXAMPLES,
    SB_F_QUALITY_HELDOUT_TOKENS,
    SB_F_QUALITY_PER_SEED,
    SB_F_QUALITY_CURVE,
    SB_F_QUALITY_SCHEDULE,
    SB_F_QUALITY_SCHEDULE_OPTIMIZER,
    SB_F_QUALITY_SCHEDULE_LR_SCHEDULE,
    SB_F_QUALITY_SCHEDULE_PEAK_LR,
    SB_F_QUALITY_SCHEDULE_WARMUP_FRACTION,
    SB_F_QUALITY_SCHEDULE_FLOOR,
    SB_F_QUALITY_SCHEDULE_DROPOUT,
    SB_F_QUALITY_REFERENCE,
    SB_F_QUALITY_REFERENCE_UNIGRAM,
    SB_F_QUALITY_REFERENCE_BIGRAM,
    SB_F_QUALITY_REFERENCE_TRAIN_TOKENS,
    SB_F_QUALITY_SOURCE,
    SB_FIELD_COUNT
} sb_field_id;

typedef struct {
    sb_field_id id;
    const char *path;    /* dotted JSON path, e.g. "timing.median" */
    sb_field_type type;
    bool nullable;       /* may be null (as well as absent) */
    const char *unit;    /* "s", "bytes", "FLOP", ...; "" for none */
    const char *csv;     /* column of results.csv, or NULL when not flattened */
    int csv_order;       /* the column's position (1-based) */
    const char *meaning;
} sb_field;

const sb_field *sb_field_of(sb_field_id id);
/* The field whose path is `path` (a `*` segment of a field matches any key), or NULL. */
const sb_field *sb_field_find(const char *path);
/* The field path nearest to a misspelled one, or NULL ("did you mean"). */
const char *sb_field_suggest(const char *path);
const char *sb_field_type_name(sb_field_type type); /* "string", "integer", ... */
/* The last segment of the field's path (the key inside its parent object). */
const char *sb_field_key(sb_field_id id);

/* ---- reading and writing fields (fields.c) -------------------------------------------------------- */

/* The node at a dotted path (any path; `*` is not special here), or NULL. */
const cJSON *sb_record_at(const cJSON *record, const char *path);
const cJSON *sb_record_field(const cJSON *record, sb_field_id id);
/* The number at a dotted path. An object with a numeric `total` stands for it, so
 * `analytic.flops_forward_paper` is its total. Returns 0, or -1 with *why (may be NULL) set to "missing",
 * "null", "not a number" or "not finite". */
int sb_record_number(const cJSON *record, const char *path, double *out, const char **why);
/* The same for a field; NaN when it is not a finite number. */
double sb_field_number(const cJSON *record, sb_field_id id);
/* The string at a dotted path or a field, or NULL. */
const char *sb_record_string(const cJSON *record, const char *path);
const char *sb_field_string(const cJSON *record, sb_field_id id);

/* Whether the record holds a measurement: verdict ok, noisy or extrapolated (skipped, failed and contended
 * ones carry none that describes the shape). */
bool sb_record_measured(const cJSON *record);

/* Sets field `id` of record to value (NULL: null), creating the objects on its path; the record takes
 * ownership. A field whose path has a `*` segment is set with sb_record_put_at. */
void sb_record_put(cJSON *record, sb_field_id id, cJSON *value);
/* value on the path of field `id` with its `*` segment replaced by `key`. */
void sb_record_put_at(cJSON *record, sb_field_id id, const char *key, cJSON *value);
/* A number (null when not finite), a string, a bool. */
void sb_record_put_number(cJSON *record, sb_field_id id, double value);
void sb_record_put_string(cJSON *record, sb_field_id id, const char *value);
void sb_record_put_bool(cJSON *record, sb_field_id id, bool value);

/* Every leaf of record (objects walked into, arrays and scalars kept whole) is a field of the table with
 * that type; 0, or -1 naming the first that is not. The writer's contract with the table, tested. */
int sb_record_check_fields(const cJSON *record, sb_error *err);
/* The reader's contract: every field of the table a record holds has its type (null only where the table
 * allows it); fields the table lacks are ignored. 0, or -1 naming the first that does not fit. */
int sb_record_check_types(const cJSON *record, sb_error *err);

/* ---- record sets and results files (records.c) ---------------------------------------------------- */

typedef struct {
    cJSON **items;
    size_t *lines; /* 1-based line of each record in the file it was read from (0: added in memory) */
    size_t count, cap;
} sb_record_set;

const char *sb_record_key_of(const cJSON *record); /* NULL when absent */
int sb_record_set_add(sb_record_set *s, cJSON *record, sb_error *err);
const cJSON *sb_record_set_find(const sb_record_set *s, const char *key);
void sb_record_set_free(sb_record_set *s);

/* Reads <path>/results.jsonl (or the file `path`), the one reader of results files, with one policy for its
 * lines. Every line must be a record: a JSON object with a string `key` and nothing else on the line (a NUL
 * byte, a blank or whitespace-only line, trailing bytes: an error naming the file and line), whose fields
 * have the table's types when it is of this schema version (sb_record_check_types). The bytes after
 * the last newline are
 *   - a record, when they parse as one: kept (the writer's newline is all that is missing; the appender
 *     puts it back before appending);
 *   - a torn last line, when they begin as a record line does ('{') or are NUL bytes (a writer killed
 *     mid-write, or a crash before the data reached the disk): left out with one warning, and cut off by
 *     the appender;
 *   - anything else: an error, the file is not a results file. */
int sb_records_load(const char *path, sb_record_set *out, sb_warn_fn warn, void *warn_ctx, sb_error *err);
/* The one schema-version check: every record of s has the same schema_version, and it is `required`
 * unless that is negative; *version (may be NULL) gets it (-1 for an empty set). `what` names s in the
 * message. */
int sb_record_set_schema(const sb_record_set *s, int required, const char *what, int *version, sb_error *err);

/* One writer per results folder (lock.c): an exclusive lock on <dir>/.shapebench.lock, refused with the
 * holder's pid while another process holds it; released by sb_run_unlock or when the process ends. */
int sb_run_lock(const char *dir, int *fd, sb_error *err);
void sb_run_unlock(int fd);

/* A results folder open for appending: <dir>/results.jsonl, its torn last line (if any) cut off. */
typedef struct {
    char path[SB_PATH_MAX];
    int fd, lock_fd;
    sb_record_set existing; /* records already in the file, for resume */
} sb_results_file;

/* Creates dir (and parents), takes its lock (sb_run_lock, held until sb_results_close), then reads the whole
 * file as sb_records_load does and refuses a file of another schema version before changing anything in it:
 * only then is a torn last line cut off (with a warning) or a last record's missing newline put back.
 * results.jsonl must be a regular file, not a symbolic link. */
int sb_results_open(sb_results_file *r, const char *dir, sb_warn_fn warn, void *warn_ctx, sb_error *err);
bool sb_results_has(const sb_results_file *r, const char *key);
/* One write() of the whole line on an O_APPEND descriptor, then fsync; a short write is cut back off so no
 * torn line stays behind. Takes ownership of record (kept in r->existing). */
int sb_results_append(sb_results_file *r, cJSON *record, sb_error *err);
/* Puts record in the place of the record of its key (which r must hold): the whole file rewritten with that
 * line replaced and every other line byte for byte, through sb_write_file_atomic (a temporary file, fsync,
 * rename), so a reader or a crash sees the old file or the new one, never a half; then reopened for
 * appending. Takes ownership of record (kept in r->existing, in the old one's place). */
int sb_results_replace(sb_results_file *r, cJSON *record, sb_error *err);
void sb_results_close(sb_results_file *r);

/* Joins result folders into out_dir: refuses mixed schema versions, keeps the first record of each key, and
 * writes the union of the folders' points (when any has a points file). A folder with points but no
 * results.jsonl yet (planned, nothing measured) adds its points only. */
int sb_results_merge(const char *const *dirs, size_t ndirs, const char *out_dir, size_t *written,
                     sb_warn_fn warn, void *warn_ctx, sb_error *err);

/* ---- the points a folder is to hold (points.c) ---------------------------------------------------- */

/* <dir>/points.tsv: one line per point a sweep or probe plans for the folder, its key and its expected cost
 * (seconds on the reference machine the shards are balanced by), written whole before the work starts. A
 * point without a record in the folder is missing; status, merge and the report say which. */
typedef struct {
    char **keys;
    double *cost_s;
    size_t count, cap;
} sb_points;

/* Fails for a key with a tab or line break (keys are shape names and settings). */
int sb_points_add(sb_points *p, const char *key, double cost_s, sb_error *err);
bool sb_points_has(const sb_points *p, const char *key);
void sb_points_free(sb_points *p);
/* Replaces <dir>/points.tsv (creating dir) with p. */
int sb_points_write(const char *dir, const sb_points *p, sb_error *err);
/* <dir>/points.tsv into out; no file is no points (*present, which may be NULL, says which). */
int sb_points_load(const char *dir, sb_points *out, bool *present, sb_error *err);

/* ---- views (views.c) ------------------------------------------------------------------------------ */

/* Output formats of records: CSV (header + one row each: the table's CSV columns), a Markdown table, JSON
 * lines. */
typedef enum { SB_FORMAT_JSONL, SB_FORMAT_CSV, SB_FORMAT_MD } sb_format;
int sb_format_parse(const char *name, sb_format *out, sb_error *err);
int sb_records_print(const sb_record_set *s, sb_format format, FILE *out);
/* Replaces `path` with s in the format (sb_write_file_atomic: temporary file, fsync, rename). */
int sb_records_write(const sb_record_set *s, sb_format format, const char *path, sb_error *err);
int sb_records_write_csv(const sb_record_set *s, const char *path, sb_error *err); /* SB_FORMAT_CSV */
/* The field table as Markdown (field, type, unit, CSV column, meaning) or JSON: the record's documentation. */
int sb_fields_print(bool json, FILE *out);

#endif

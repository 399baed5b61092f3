/* registry.c — the published checkpoints (T5-Efficient, Switch, T5, T5 v1.1) and their shapes.
 *
 * The rows live in the TSV files under variants/data/, which keep their source notes; they are embedded
 * into the binary with .incbin (so shapebench works from any directory) and parsed at first use. Columns
 * are found by their header name, so one reader serves every file.
 */
#include "variants/variants.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The assembler resolves these paths from the compiler's working directory: the Makefile compiles from
 * the repository root. A trailing NUL makes each blob a C string. */
#define SB_EMBED(symbol, path)                                                                                 \
    __asm__(".pushsection .rodata\n.global " #symbol "\n.hidden " #symbol "\n" #symbol ":\n.incbin \"" path   \
            "\"\n.byte 0\n.popsection\n");                                                                     \
    extern const char symbol[]

SB_EMBED(sb_data_t5_efficient_shapes, "variants/data/t5_efficient_shapes.tsv");
SB_EMBED(sb_data_switch_shapes, "variants/data/switch_shapes.tsv");
SB_EMBED(sb_data_t5_shapes, "variants/data/t5_shapes.tsv");

static const struct {
    const char *path; /* for error messages */
    const char *text;
    const char *family; /* unless the file has a family column */
} sources[] = {
    {"variants/data/t5_efficient_shapes.tsv", sb_data_t5_efficient_shapes, "t5-efficient"},
    {"variants/data/switch_shapes.tsv", sb_data_switch_shapes, "switch"},
    {"variants/data/t5_shapes.tsv", sb_data_t5_shapes, NULL},
};

typedef struct {
    sb_registry_entry entry;
    sb_config cfg;
} row;

static row *rows;
static size_t num_rows;
static char *storage; /* a writable copy of every blob; entries point into it */
static sb_error load_error;
static bool load_failed;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

enum { MAX_COLUMNS = 16 };

static int parse_int(const char *text, int64_t *out)
{
    return sb_parse_i64(text, INT64_MIN, INT64_MAX, out);
}

static int parse_ffn(const char *text, sb_ffn_kind *out)
{
    if (strcmp(text, "relu") == 0)
        *out = SB_FFN_RELU;
    else if (strcmp(text, "gated-gelu") == 0)
        *out = SB_FFN_GATED_GELU;
    else
        return -1;
    return 0;
}

/* A knob of the T5-Efficient grammar appears in the name as "-<knob>" followed by '-' or the end. */
static bool has_knob(const char *name, const char *knob)
{
    size_t n = strlen(knob);
    for (const char *p = strchr(name, '-'); p != NULL; p = strchr(p + 1, '-'))
        if (strncmp(p + 1, knob, n) == 0 && (p[1 + n] == '-' || p[1 + n] == '\0'))
            return true;
    return false;
}

/* Fills one row from its fields; `columns` names each field. */
static int fill_row(row *r, char **columns, char **fields, size_t count, const char *family, sb_error *err)
{
    sb_config *cfg = &r->cfg;
    sb_registry_entry *e = &r->entry;
    sb_config_defaults(cfg);
    memset(e, 0, sizeof *e);
    e->family = family;
    e->evidence = "";
    e->notes = "";
    bool has_ffn = false, has_expert_ffn = false;
    for (size_t i = 0; i < count; i++) {
        const char *col = columns[i];
        char *v = fields[i];
        const struct {
            const char *column;
            int64_t *field;
        } ints[] = {
            {"num_layers", &cfg->num_layers},
            {"num_decoder_layers", &cfg->num_decoder_layers},
            {"d_model", &cfg->d_model},
            {"d_ff", &cfg->d_ff},
            {"d_kv", &cfg->d_kv},
            {"num_heads", &cfg->num_heads},
            {"num_experts", &cfg->num_experts},
            {"encoder_sparse_step", &cfg->encoder_sparse_step},
            {"decoder_sparse_step", &cfg->decoder_sparse_step},
        };
        bool done = false;
        for (size_t k = 0; k < sizeof ints / sizeof ints[0] && !done; k++)
            if (strcmp(col, ints[k].column) == 0) {
                if (parse_int(v, ints[k].field) != 0)
                    return sb_fail(err, "column %s: '%s' is not an integer", col, v);
                done = true;
            }
        if (done)
            continue;
        if (strcmp(col, "name") == 0) {
            char *slash = strchr(v, '/');
            if (slash == NULL)
                return sb_fail(err, "name '%s' has no org/ prefix", v);
            *slash = '\0';
            e->org = v;
            e->name = slash + 1;
        } else if (strcmp(col, "family") == 0) {
            e->family = v;
        } else if (strcmp(col, "evidence") == 0) {
            e->evidence = v;
        } else if (strcmp(col, "notes") == 0) {
            e->notes = v;
        } else if (strcmp(col, "feed_forward_proj") == 0 || strcmp(col, "expert_ffn") == 0) {
            bool expert = col[0] == 'e';
            if (parse_ffn(v, expert ? &cfg->expert_ffn : &cfg->ffn) != 0)
                return sb_fail(err, "column %s: unknown FFN '%s'", col, v);
            *(expert ? &has_expert_ffn : &has_ffn) = true;
        } else if (strcmp(col, "tie_word_embeddings") == 0) {
            if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0)
                return sb_fail(err, "column %s: '%s' is not true or false", col, v);
            cfg->tie_word_embeddings = v[0] == 't';
        } else {
            return sb_fail(err, "unknown column '%s'", col);
        }
    }
    if (e->name == NULL || e->family == NULL)
        return sb_fail(err, "row without a name or family");
    /* The Switch checkpoints use one FFN kind for their dense and expert layers (switch-xxl: GEGLU in both). */
    if (has_expert_ffn && !has_ffn)
        cfg->ffn = cfg->expert_ffn;
    if (cfg->num_experts > 0)
        cfg->expert_capacity = 64;
    snprintf(cfg->name, sizeof cfg->name, "%s", e->name);
    e->conflict = strcmp(e->evidence, "conflict") == 0;
    e->unsupported = has_knob(e->name, "sh") || has_knob(e->name, "shkv");
    cfg->shared_kv = has_knob(e->name, "skv");
    return 0;
}

static int add_row(const row *r, sb_error *err)
{
    static size_t capacity;
    if (num_rows == capacity) {
        size_t grown = capacity == 0 ? 256 : 2 * capacity;
        row *bigger = realloc(rows, grown * sizeof *rows);
        if (bigger == NULL)
            return sb_fail(err, "out of memory");
        rows = bigger;
        capacity = grown;
    }
    rows[num_rows++] = *r;
    return 0;
}

/* Splits a line at its tabs in place; returns the field count (MAX_COLUMNS + 1: too many). */
static size_t split(char *line, char **fields)
{
    size_t n = 0;
    for (char *p = line; p != NULL; n++) {
        if (n == MAX_COLUMNS)
            return MAX_COLUMNS + 1;
        fields[n] = p;
        p = strchr(p, '\t');
        if (p != NULL)
            *p++ = '\0';
    }
    return n;
}

static int load_source(char *text, const char *family, sb_error *err)
{
    char *columns[MAX_COLUMNS];
    size_t num_columns = 0;
    size_t line_no = 0;
    for (char *line = text, *next; line != NULL && *line != '\0'; line = next) {
        line_no++;
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        char *fields[MAX_COLUMNS];
        size_t n = split(line, fields);
        if (n > MAX_COLUMNS)
            return sb_fail(err, "line %zu: more than %d columns", line_no, MAX_COLUMNS);
        if (num_columns == 0) {
            memcpy(columns, fields, n * sizeof *fields);
            num_columns = n;
            continue;
        }
        if (n != num_columns)
            return sb_fail(err, "line %zu: %zu fields, the header has %zu", line_no, n, num_columns);
        row r;
        sb_error row_err;
        if (fill_row(&r, columns, fields, n, family, &row_err) != 0)
            return sb_fail(err, "line %zu: %s", line_no, row_err.msg);
        if (sb_config_validate(&r.cfg, &row_err) != 0)
            return sb_fail(err, "line %zu: %s", line_no, row_err.msg);
        for (size_t i = 0; i < num_rows; i++)
            if (strcmp(rows[i].entry.name, r.entry.name) == 0)
                return sb_fail(err, "line %zu: '%s' is listed twice", line_no, r.entry.name);
        if (add_row(&r, err) != 0)
            return -1;
    }
    return 0;
}

static void load(void)
{
    size_t total = 0;
    for (size_t i = 0; i < sizeof sources / sizeof sources[0]; i++)
        total += strlen(sources[i].text) + 1;
    storage = malloc(total);
    if (storage == NULL) {
        load_failed = true;
        sb_fail(&load_error, "out of memory");
        return;
    }
    char *p = storage;
    for (size_t i = 0; i < sizeof sources / sizeof sources[0]; i++) {
        size_t n = strlen(sources[i].text) + 1;
        memcpy(p, sources[i].text, n);
        sb_error err;
        if (load_source(p, sources[i].family, &err) != 0) {
            load_failed = true;
            num_rows = 0;
            sb_fail(&load_error, "%s: %s", sources[i].path, err.msg);
            return;
        }
        p += n;
    }
}

static void ensure_loaded(void)
{
    pthread_once(&load_once, load);
}

size_t sb_registry_count(void)
{
    ensure_loaded();
    return num_rows;
}

const sb_registry_entry *sb_registry_get(size_t index)
{
    ensure_loaded();
    return index < num_rows ? &rows[index].entry : NULL;
}

const sb_config *sb_registry_config(size_t index)
{
    ensure_loaded();
    return index < num_rows ? &rows[index].cfg : NULL;
}

ptrdiff_t sb_registry_find(const char *name)
{
    ensure_loaded();
    for (size_t i = 0; i < num_rows; i++)
        if (strcmp(rows[i].entry.name, name) == 0)
            return (ptrdiff_t)i;
    return -1;
}

const char *sb_registry_error(void)
{
    ensure_loaded();
    return load_failed ? load_error.msg : NULL;
}

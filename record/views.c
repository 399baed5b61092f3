/* views.c — records as text: CSV (the field table's columns), a Markdown table, JSON lines; and the field
 * table itself as the record's documentation. */
#include "record/record.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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
        if (strpbrk(s, ",\"\r\n") == NULL) {
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

/* The fields flattened into CSV, in column order. */
static size_t csv_columns(const sb_field **out)
{
    size_t n = 0;
    for (int id = 0; id < SB_FIELD_COUNT; id++)
        if (sb_field_of(id)->csv != NULL)
            out[n++] = sb_field_of(id);
    for (size_t i = 1; i < n; i++) /* insertion sort by position: a few dozen columns */
        for (size_t j = i; j > 0 && out[j]->csv_order < out[j - 1]->csv_order; j--) {
            const sb_field *t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return n;
}

static void print_csv(const sb_record_set *s, FILE *out)
{
    const sb_field *columns[SB_FIELD_COUNT];
    const size_t n = csv_columns(columns);
    for (size_t c = 0; c < n; c++)
        fprintf(out, "%s%s", c ? "," : "", columns[c]->csv);
    fputc('\n', out);
    for (size_t i = 0; i < s->count; i++) {
        for (size_t c = 0; c < n; c++) {
            if (c)
                fputc(',', out);
            csv_field(out, sb_record_at(s->items[i], columns[c]->path));
        }
        fputc('\n', out);
    }
}

static const char *string_or(const char *s, const char *fallback)
{
    return s != NULL ? s : fallback;
}

/* A number as people read it, never with an exponent: whole from 1000 up, else three or four significant
 * digits (1234, 567.8, 12.34, 0.1234); "–" when absent. */
static void human(FILE *out, double v)
{
    const double a = fabs(v);
    if (!isfinite(v))
        fputs("–", out);
    else if (a >= 1000 || v == 0)
        fprintf(out, "%.0f", v);
    else if (a >= 100)
        fprintf(out, "%.1f", v);
    else if (a >= 10)
        fprintf(out, "%.2f", v);
    else if (a >= 1)
        fprintf(out, "%.3f", v);
    else
        fprintf(out, "%.*f", a >= 0.001 ? 4 - (int)floor(log10(a)) - 1 : 6, v);
}

/* A Markdown cell for a count (sequences, tokens): "–" when absent. */
static void md_count(FILE *out, double v)
{
    if (isfinite(v))
        fprintf(out, " | %.0f", v);
    else
        fputs(" | –", out);
}

/* A Markdown cell for a number: "–" when absent. */
static void md_number(FILE *out, double v)
{
    fputs(" | ", out);
    human(out, v);
}

static void print_markdown(const sb_record_set *s, FILE *out)
{
    fputs("| shape | mode | batch | src | tgt | dtype | gemm | median (ms) | ±CI95 (ms) | mean ± sd (ms) | seq/s | "
          "tok/s | GFLOP/s | ms/token | MFU (%) | verdict |\n"
          "|---|---|--:|--:|--:|---|---|--:|--:|--:|--:|--:|--:|--:|--:|---|\n",
          out);
    for (size_t i = 0; i < s->count; i++) {
        const cJSON *r = s->items[i];
        const cJSON *ci = sb_record_field(r, SB_F_TIMING_CI95_MEDIAN);
        const cJSON *lo_node = cJSON_GetArrayItem(ci, 0), *hi_node = cJSON_GetArrayItem(ci, 1);
        const double lo = cJSON_IsNumber(lo_node) ? lo_node->valuedouble : NAN;
        const double hi = cJSON_IsNumber(hi_node) ? hi_node->valuedouble : NAN;
        fprintf(out, "| %s | %s", string_or(sb_field_string(r, SB_F_SHAPE), "?"),
                string_or(sb_field_string(r, SB_F_SETTINGS_MODE), "?"));
        md_count(out, sb_field_number(r, SB_F_SETTINGS_BATCH));
        md_count(out, sb_field_number(r, SB_F_SETTINGS_SRC_LEN));
        md_count(out, sb_field_number(r, SB_F_SETTINGS_TGT_LEN));
        fprintf(out, " | %s | %s", string_or(sb_field_string(r, SB_F_SETTINGS_DTYPE), "?"),
                string_or(sb_field_string(r, SB_F_SETTINGS_GEMM), "?"));
        md_number(out, sb_field_number(r, SB_F_TIMING_MEDIAN) * 1e3);
        md_number(out, (hi - lo) / 2 * 1e3);
        const double mean = sb_field_number(r, SB_F_TIMING_MEAN) * 1e3, sd = sb_field_number(r, SB_F_TIMING_STDDEV) * 1e3;
        md_number(out, mean);
        if (isfinite(mean) && isfinite(sd)) {
            fputs(" ± ", out);
            human(out, sd);
        }
        md_number(out, sb_field_number(r, SB_F_THROUGHPUT_SEQUENCES_PER_S));
        md_number(out, sb_field_number(r, SB_F_THROUGHPUT_TOKENS_PER_S));
        md_number(out, sb_field_number(r, SB_F_THROUGHPUT_GFLOPS_PER_S));
        md_number(out, sb_field_number(r, SB_F_THROUGHPUT_MS_PER_TOKEN));
        md_number(out, sb_field_number(r, SB_F_THROUGHPUT_MFU) * 100);
        fprintf(out, " | %s |\n", string_or(sb_field_string(r, SB_F_VERDICT), "?"));
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

int sb_records_write(const sb_record_set *s, sb_format format, const char *path, sb_error *err)
{
    printed_set p = {s, format};
    return sb_write_file_atomic(path, print_set, &p, err);
}

int sb_records_write_csv(const sb_record_set *s, const char *path, sb_error *err)
{
    return sb_records_write(s, SB_FORMAT_CSV, path, err);
}

/* ---- the documentation of the record ----------------------------------------------------------------- */

/* A Markdown cell: `|` escaped. */
static void md_cell(FILE *out, const char *text)
{
    for (; *text; text++) {
        if (*text == '|')
            fputc('\\', out);
        fputc(*text, out);
    }
}

int sb_fields_print(bool json, FILE *out)
{
    if (json) {
        cJSON *array = cJSON_CreateArray();
        for (int id = 0; id < SB_FIELD_COUNT; id++) {
            const sb_field *f = sb_field_of(id);
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "field", f->path);
            cJSON_AddStringToObject(o, "type", sb_field_type_name(f->type));
            cJSON_AddBoolToObject(o, "nullable", f->nullable);
            cJSON_AddStringToObject(o, "unit", f->unit);
            if (f->csv != NULL)
                cJSON_AddStringToObject(o, "csv_column", f->csv);
            else
                cJSON_AddNullToObject(o, "csv_column");
            cJSON_AddStringToObject(o, "meaning", f->meaning);
            cJSON_AddItemToArray(array, o);
        }
        char *text = cJSON_Print(array);
        cJSON_Delete(array);
        if (text == NULL)
            return -1;
        fprintf(out, "%s\n", text);
        free(text);
    } else {
        fputs("| field | type | unit | CSV column | meaning |\n|---|---|---|---|---|\n", out);
        for (int id = 0; id < SB_FIELD_COUNT; id++) {
            const sb_field *f = sb_field_of(id);
            fprintf(out, "| `%s` | %s%s | %s | %s | ", f->path, sb_field_type_name(f->type),
                    f->nullable ? " or null" : "", f->unit, f->csv != NULL ? f->csv : "");
            md_cell(out, f->meaning);
            fputs(" |\n", out);
        }
    }
    return fflush(out) == 0 && !ferror(out) ? 0 : -1;
}

/* precision.c — bf16 against fp32 in a run: every shape measured in both precisions with otherwise equal
 * settings (mode, batch, lengths, threads, backend) paired, its speed-up per repetition and per op class,
 * for the report's section, the speed-up picture's data file, and the summary of which shapes gain most. */
#include "plots/plots.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A record's precision; records written before it had a name computed in fp32. */
static const char *precision_of(const cJSON *record)
{
    const char *p = sb_field_string(record, SB_F_SETTINGS_DTYPE);
    return p != NULL ? p : "f32";
}

static bool same_text(const cJSON *a, const cJSON *b, sb_field_id id)
{
    const char *x = sb_field_string(a, id), *y = sb_field_string(b, id);
    return x != NULL && y != NULL && strcmp(x, y) == 0;
}

static bool same_number(const cJSON *a, const cJSON *b, sb_field_id id)
{
    return sb_field_number(a, id) == sb_field_number(b, id); /* NaN never equals: a missing field never pairs */
}

/* The same measurement but for the precision. */
static bool twins(const cJSON *a, const cJSON *b)
{
    return same_text(a, b, SB_F_SHAPE) && same_text(a, b, SB_F_SETTINGS_MODE) && same_text(a, b, SB_F_SETTINGS_GEMM) &&
           same_number(a, b, SB_F_SETTINGS_BATCH) && same_number(a, b, SB_F_SETTINGS_SRC_LEN) &&
           same_number(a, b, SB_F_SETTINGS_TGT_LEN) && same_number(a, b, SB_F_SETTINGS_THREADS);
}

/* achieved GFLOP/s of the record's op class, NaN when not timed */
static double class_rate(const cJSON *record, const char *op_class)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(sb_record_field(record, SB_F_ROOFLINE), op_class);
    double v;
    return c != NULL && sb_record_number(c, sb_field_key(SB_F_ROOFLINE_ACHIEVED_GFLOPS), &v, NULL) == 0 ? v : NAN;
}

static int by_mode_then_speedup(const void *a, const void *b)
{
    const sb_precision_row *p = a, *q = b;
    const int mode = strcmp(p->mode, q->mode);
    if (mode != 0)
        return mode;
    if (p->speedup != q->speedup)
        return p->speedup > q->speedup ? -1 : 1;
    return strcmp(p->shape, q->shape);
}

static void add_class(sb_precision_table *t, const char *name)
{
    for (size_t i = 0; i < t->num_classes; i++)
        if (strcmp(t->classes[i], name) == 0)
            return;
    if (t->num_classes < SB_PRECISION_CLASSES_MAX)
        t->classes[t->num_classes++] = name;
}

int sb_precision_table_build(const sb_results *results, sb_precision_table *out, sb_error *err)
{
    memset(out, 0, sizeof *out);
    out->rows = calloc(results->count + 1, sizeof *out->rows);
    if (out->rows == NULL)
        return sb_fail(err, "out of memory for %zu records", results->count);
    for (size_t i = 0; i < results->count; i++) {
        const cJSON *bf16 = results->records[i];
        if (!sb_record_measured(bf16) || strcmp(precision_of(bf16), "bf16") != 0)
            continue;
        const cJSON *f32 = NULL;
        for (size_t j = 0; j < results->count && f32 == NULL; j++)
            if (sb_record_measured(results->records[j]) && strcmp(precision_of(results->records[j]), "f32") == 0 &&
                twins(bf16, results->records[j]))
                f32 = results->records[j];
        if (f32 == NULL)
            continue;
        sb_precision_row *row = &out->rows[out->count++];
        row->f32 = f32;
        row->bf16 = bf16;
        row->shape = sb_field_string(bf16, SB_F_SHAPE);
        row->mode = sb_field_string(bf16, SB_F_SETTINGS_MODE);
        const char *scaling = sb_field_string(bf16, SB_F_SCALING);
        row->scaling = scaling != NULL ? scaling : "other";
        row->params = sb_field_number(bf16, SB_F_ANALYTIC_PARAMS);
        row->d_model = sb_field_number(bf16, SB_F_CONFIG_D_MODEL);
        row->seconds_f32 = sb_field_number(f32, SB_F_TIMING_MEDIAN);
        row->seconds_bf16 = sb_field_number(bf16, SB_F_TIMING_MEDIAN);
        row->speedup = row->seconds_f32 / row->seconds_bf16;
        const cJSON *c;
        cJSON_ArrayForEach(c, sb_record_field(bf16, SB_F_ROOFLINE)) if (c->string != NULL && strcmp(c->string, "total") != 0 &&
                                                                         !isnan(class_rate(bf16, c->string)))
            add_class(out, c->string);
    }
    qsort(out->rows, out->count, sizeof *out->rows, by_mode_then_speedup);
    size_t most = 0;
    for (size_t i = 0; i < out->count; i++) {
        size_t n = 0;
        for (size_t j = 0; j < out->count; j++)
            n += strcmp(out->rows[j].mode, out->rows[i].mode) == 0;
        if (n > most)
            most = n, out->mode = out->rows[i].mode;
    }
    out->ceiling = NAN;
    for (size_t i = 0; i < results->count && isnan(out->ceiling); i++) {
        const double dot = sb_field_number(results->records[i], SB_F_SYSTEM_BF16_DOT_GFLOPS),
                     fma = sb_field_number(results->records[i], SB_F_SYSTEM_FMA_GFLOPS);
        if (dot > 0 && fma > 0)
            out->ceiling = dot / fma;
    }
    return 0;
}

void sb_precision_table_free(sb_precision_table *table)
{
    free(table->rows);
    memset(table, 0, sizeof *table);
}

double sb_precision_class_speedup(const sb_precision_row *row, const char *op_class)
{
    return class_rate(row->bf16, op_class) / class_rate(row->f32, op_class);
}

static int by_value(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of the finite values (NaN when none), their number into *used; sorts v. */
static double median_of(double *v, size_t n, size_t *used)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i]))
            v[k++] = v[i];
    if (used != NULL)
        *used = k;
    if (k == 0)
        return NAN;
    qsort(v, k, sizeof *v, by_value);
    return k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
}

int sb_report_precision(sb_doc *doc, const sb_precision_table *t, sb_error *err)
{
    if (t->count == 0)
        return 0;
    double *values = malloc(sizeof(double) * t->count);
    if (values == NULL)
        return sb_fail(err, "out of memory");
    sb_doc_heading(doc, 2, "bf16 against fp32");
    sb_doc_text(doc, false,
                "Shapes measured in both precisions with otherwise equal settings. bf16: every linear layer's and the "
                "attention core's products take bf16 operands (weights stored in bf16, activations rounded as they "
                "enter) with fp32 accumulation; norms, softmax, residual sums and the Switch router stay fp32. "
                "Speed-up: fp32's median seconds per repetition over bf16's; per op class: bf16's achieved GFLOP/s "
                "in the class's regions (engine profile) over fp32's.");
    const char *headers[4 + SB_PRECISION_CLASSES_MAX];
    headers[0] = "shape", headers[1] = "mode", headers[2] = "fp32 s", headers[3] = "bf16 s";
    headers[4] = "speed-up";
    for (size_t c = 0; c < t->num_classes; c++)
        headers[5 + c] = t->classes[c];
    char align[6 + SB_PRECISION_CLASSES_MAX] = "llrrr";
    memset(align + 5, 'r', t->num_classes);
    sb_doc_table(doc, align, headers);
    for (size_t i = 0; i < t->count; i++) {
        const sb_precision_row *row = &t->rows[i];
        sb_doc_cell f32, bf16, speedup, per[SB_PRECISION_CLASSES_MAX];
        const char *cells[5 + SB_PRECISION_CLASSES_MAX] = {row->shape, row->mode,
                                                           sb_doc_sig(f32, row->seconds_f32, 3),
                                                           sb_doc_sig(bf16, row->seconds_bf16, 3),
                                                           sb_doc_number(speedup, row->speedup, "%.2fx")};
        for (size_t c = 0; c < t->num_classes; c++)
            cells[5 + c] = sb_doc_number(per[c], sb_precision_class_speedup(row, t->classes[c]), "%.2fx");
        sb_doc_row(doc, cells);
    }
    sb_doc_table_end(doc);

    /* Which shapes gain most, and where: from the figures above, never assumed. */
    const sb_precision_row *best = &t->rows[0], *worst = &t->rows[0];
    for (size_t i = 1; i < t->count; i++) {
        best = t->rows[i].speedup > best->speedup ? &t->rows[i] : best;
        worst = t->rows[i].speedup < worst->speedup ? &t->rows[i] : worst;
    }
    sb_doc_text(doc, true, "Most gained: %s (%s) %.2fx; least: %s (%s) %.2fx.", best->shape, best->mode,
                best->speedup, worst->shape, worst->mode, worst->speedup);
    for (size_t c = 0; c < t->num_classes; c++) {
        for (size_t i = 0; i < t->count; i++)
            values[i] = sb_precision_class_speedup(&t->rows[i], t->classes[c]);
        size_t used;
        const double m = median_of(values, t->count, &used);
        if (!isnan(m))
            sb_doc_text(doc, true, "%s products: median speed-up %.2fx over %zu measurements.", t->classes[c], m, used);
    }
    /* narrow against wide: small products keep less of bf16's arithmetic advantage */
    size_t narrow = 0, wide = 0;
    double *wide_values = malloc(sizeof(double) * t->count);
    if (wide_values == NULL) {
        free(values);
        return sb_fail(err, "out of memory");
    }
    for (size_t i = 0; i < t->count; i++) {
        if (t->rows[i].d_model <= 512)
            values[narrow++] = t->rows[i].speedup;
        else
            wide_values[wide++] = t->rows[i].speedup;
    }
    if (narrow > 0 && wide > 0)
        sb_doc_text(doc, true, "By width: d_model <= 512, median %.2fx over %zu measurements; wider, median %.2fx "
                    "over %zu.",
                    median_of(values, narrow, NULL), narrow, median_of(wide_values, wide, NULL), wide);
    free(wide_values);
    free(values);
    return 0;
}

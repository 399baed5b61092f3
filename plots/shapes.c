/* shapes.c — one row per shape of a run: its record in the run's main mode and precision, its generation
 * latency, its quality; the common ground of the pictures and the report, so both show the same numbers. */
#include "plots/plots.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *mode_of(const cJSON *record)
{
    const char *mode = sb_field_string(record, SB_F_SETTINGS_MODE);
    return mode != NULL ? mode : "";
}

/* The mode most measured records were taken in, generate aside (its latency joins the rows separately); in a
 * run with none measured, the mode most records were taken in, so that the rows still carry their reasons. */
static const char *main_mode(const sb_results *results)
{
    static const char *preference[] = {"forward", "encode", "train"};
    bool any = false;
    for (size_t i = 0; i < results->count && !any; i++)
        any = sb_record_measured(results->records[i]) && strcmp(mode_of(results->records[i]), "generate") != 0;
    const char *best = NULL;
    size_t best_count = 0;
    for (size_t p = 0; p < sizeof preference / sizeof preference[0]; p++) {
        size_t count = 0;
        for (size_t i = 0; i < results->count; i++)
            count += (!any || sb_record_measured(results->records[i])) &&
                     strcmp(mode_of(results->records[i]), preference[p]) == 0;
        if (count > best_count) {
            best = preference[p];
            best_count = count;
        }
    }
    return best;
}

static const char *dtype_of(const cJSON *record)
{
    const char *dtype = sb_field_string(record, SB_F_SETTINGS_DTYPE);
    return dtype != NULL ? dtype : "f32"; /* records from before precisions had a name computed in fp32 */
}

/* The precision most measured records were taken in. */
static const char *main_dtype(const sb_results *results)
{
    static const char *preference[] = {"f32", "bf16", "bf16-storage"};
    const char *best = preference[0];
    size_t best_count = 0;
    for (size_t p = 0; p < sizeof preference / sizeof preference[0]; p++) {
        size_t count = 0;
        for (size_t i = 0; i < results->count; i++)
            count += sb_record_measured(results->records[i]) && strcmp(dtype_of(results->records[i]), preference[p]) == 0;
        if (count > best_count) {
            best = preference[p];
            best_count = count;
        }
    }
    return best;
}

static int by_params(const void *a, const void *b)
{
    const sb_shape_row *p = a, *q = b;
    if (isnan(p->params) != isnan(q->params))
        return isnan(p->params) ? 1 : -1;
    if (p->params != q->params)
        return p->params < q->params ? -1 : 1;
    return strcmp(p->shape, q->shape);
}

static sb_shape_row *find_row(sb_shape_table *table, const char *shape)
{
    for (size_t i = 0; i < table->count; i++)
        if (strcmp(table->rows[i].shape, shape) == 0)
            return &table->rows[i];
    return NULL;
}

/* Keeps the first measured record of a kind, else the first record of it (a skip or failure to report). */
static void prefer(const cJSON **slot, const cJSON *record)
{
    if (*slot == NULL || (!sb_record_measured(*slot) && sb_record_measured(record)))
        *slot = record;
}

/* The record's scaling knob, one of the words the pictures and the report know; "other" for anything else. */
static const char *scaling_of(const cJSON *record)
{
    static const char *const known[] = {"base", "depth", "width", "attention", "switch", "other"};
    const char *scaling = sb_field_string(record, SB_F_SCALING);
    for (size_t i = 0; scaling != NULL && i < sizeof known / sizeof known[0]; i++)
        if (strcmp(scaling, known[i]) == 0)
            return known[i];
    return "other";
}

static void fill(sb_shape_row *row, const sb_results *results)
{
    const cJSON *r = row->main != NULL ? row->main : row->generate;
    row->measured = row->main != NULL && sb_record_measured(row->main);
    row->scaling = scaling_of(r);
    row->params = sb_field_number(r, SB_F_ANALYTIC_PARAMS);
    row->params_active = sb_field_number(r, SB_F_ANALYTIC_PARAMS_ACTIVE);
    row->tokens_per_s = row->measured ? sb_field_number(row->main, SB_F_THROUGHPUT_TOKENS_PER_S) : NAN;
    row->flops_per_token =
        row->measured ? sb_field_number(row->main, SB_F_THROUGHPUT_GFLOPS_PER_S) * 1e9 / row->tokens_per_s : NAN;
    row->seconds = row->measured ? sb_field_number(row->main, SB_F_TIMING_MEDIAN) : NAN;
    row->peak_rss_bytes = row->measured ? sb_field_number(row->main, SB_F_MEMORY_PEAK_RSS_BYTES) : NAN;
    row->ms_per_token = row->generate != NULL && sb_record_measured(row->generate)
                            ? sb_field_number(row->generate, SB_F_THROUGHPUT_MS_PER_TOKEN) : NAN;
    row->num_layers = sb_field_number(r, SB_F_CONFIG_NUM_LAYERS);
    row->num_decoder_layers = sb_field_number(r, SB_F_CONFIG_NUM_DECODER_LAYERS);
    row->layers = row->num_layers + row->num_decoder_layers;
    row->d_model = sb_field_number(r, SB_F_CONFIG_D_MODEL);
    row->d_ff = sb_field_number(r, SB_F_CONFIG_D_FF);
    row->d_kv = sb_field_number(r, SB_F_CONFIG_D_KV);
    row->num_heads = sb_field_number(r, SB_F_CONFIG_NUM_HEADS);
    row->num_experts = sb_field_number(r, SB_F_CONFIG_NUM_EXPERTS);
    if (isnan(row->num_experts))
        row->num_experts = 0; /* dense configs may omit the Switch keys */
    row->quality = row->quality_sd = NAN;
    for (size_t i = 0; i < results->count && isnan(row->quality); i++) {
        const cJSON *q = results->records[i];
        const char *shape = sb_field_string(q, SB_F_SHAPE);
        if (shape != NULL && strcmp(shape, row->shape) == 0 && !isnan(sb_field_number(q, SB_F_QUALITY_VALUE))) {
            row->quality = sb_field_number(q, SB_F_QUALITY_VALUE);
            row->quality_metric = sb_field_string(q, SB_F_QUALITY_METRIC);
            row->quality_source = sb_field_string(q, SB_F_QUALITY_SOURCE);
            row->quality_sd = sb_field_number(q, SB_F_QUALITY_STDDEV);
        }
    }
}

int sb_shape_table_build(const sb_results *results, sb_shape_table *out, sb_error *err)
{
    memset(out, 0, sizeof *out);
    out->main_mode = main_mode(results);
    out->main_dtype = main_dtype(results);
    out->rows = calloc(results->count, sizeof *out->rows);
    if (out->rows == NULL)
        return sb_fail(err, "out of memory for %zu records", results->count);
    for (size_t i = 0; i < results->count; i++) {
        const cJSON *record = results->records[i];
        const char *shape = sb_field_string(record, SB_F_SHAPE);
        const char *mode = mode_of(record);
        bool is_main = out->main_mode != NULL && strcmp(mode, out->main_mode) == 0;
        if (shape == NULL || (!is_main && strcmp(mode, "generate") != 0) ||
            strcmp(dtype_of(record), out->main_dtype) != 0)
            continue;
        sb_shape_row *row = find_row(out, shape);
        if (row == NULL) {
            row = &out->rows[out->count++];
            row->shape = shape;
        }
        prefer(is_main ? &row->main : &row->generate, record);
    }
    for (size_t i = 0; i < out->count; i++)
        fill(&out->rows[i], results);
    qsort(out->rows, out->count, sizeof *out->rows, by_params);
    return 0;
}

void sb_shape_table_free(sb_shape_table *table)
{
    free(table->rows);
    memset(table, 0, sizeof *table);
}

int sb_shape_frontier(const sb_shape_table *table, const char *x, bool *on_frontier, sb_error *err)
{
    bool by_params = strcmp(x, "params") == 0;
    sb_pareto_point *points = malloc((table->count + 1) * sizeof *points);
    size_t *index = malloc((table->count + 1) * sizeof *index);
    size_t *frontier = malloc((table->count + 1) * sizeof *frontier);
    int rc = points == NULL || index == NULL || frontier == NULL ? sb_fail(err, "out of memory") : 0;
    size_t n = 0, kept = 0;
    for (size_t i = 0; rc == 0 && i < table->count; i++) {
        const sb_shape_row *row = &table->rows[i];
        on_frontier[i] = false;
        double cost = by_params ? row->params : row->flops_per_token;
        if (row->measured && !isnan(cost) && !isnan(row->tokens_per_s)) {
            points[n] = (sb_pareto_point){cost, row->tokens_per_s};
            index[n++] = i;
        }
    }
    if (rc == 0)
        rc = sb_pareto_frontier(points, n, SB_PARETO_MAX, SB_PARETO_MAX, frontier, &kept, err);
    for (size_t k = 0; rc == 0 && k < kept; k++)
        on_frontier[index[frontier[k]]] = true;
    free(points);
    free(index);
    free(frontier);
    return rc;
}

bool sb_shape_table_in_precision(const sb_shape_table *t, const cJSON *record)
{
    return sb_record_measured(record) && t->main_dtype != NULL && strcmp(dtype_of(record), t->main_dtype) == 0;
}

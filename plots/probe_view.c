/* probe_view.c — a probe run read back for the report: per shape the learning curve at the budget analysed,
 * every seed's loss at every point, the reference lines, and the speed a sweep measured for the same shape,
 * joined by name. The statistics of a comparison start from here. */
#include "plots/plots.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool is_probe_record(const cJSON *r)
{
    return cJSON_IsArray(sb_record_field(r, SB_F_QUALITY_CURVE)) && sb_field_string(r, SB_F_QUALITY_BUDGET_KIND);
}

/* The budget analysed: the largest FLOPs budget (machine-independent), else the largest seconds one. */
static void pick_budget(const sb_results *run, sb_probe_view *v)
{
    double seen[64];
    size_t distinct = 0;
    for (size_t i = 0; i < run->count; i++) {
        const cJSON *r = run->records[i];
        if (!is_probe_record(r))
            continue;
        const char *kind = sb_field_string(r, SB_F_QUALITY_BUDGET_KIND);
        const double b = sb_field_number(r, SB_F_QUALITY_BUDGET);
        const double signed_budget = strcmp(kind, "flops") == 0 ? b : -b; /* seconds below every FLOPs budget */
        bool known = false;
        for (size_t k = 0; k < distinct; k++)
            known = known || seen[k] == signed_budget;
        if (!known && distinct < 64)
            seen[distinct++] = signed_budget;
        const bool flops = strcmp(kind, "flops") == 0;
        const bool better = v->budget_kind == NULL || (flops && strcmp(v->budget_kind, "flops") != 0) ||
                            (strcmp(kind, v->budget_kind) == 0 && b > v->budget);
        if (better) {
            v->budget_kind = kind;
            v->budget = b;
        }
    }
    v->budgets = distinct;
}

static double number_in(const cJSON *o, const char *key)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(n) ? n->valuedouble : NAN;
}

static void read_curve(const cJSON *record, sb_probe_shape *s)
{
    const cJSON *curve = sb_record_field(record, SB_F_QUALITY_CURVE), *p;
    s->points = 0;
    s->seeds = (int)sb_field_number(record, SB_F_QUALITY_SEEDS);
    cJSON_ArrayForEach(p, curve) {
        if (s->points == SB_CURVE_MAX)
            break;
        const int k = s->points++;
        s->fraction[k] = number_in(p, "fraction");
        s->flops[k] = number_in(p, "flops");
        s->steps[k] = number_in(p, "steps");
        s->seconds[k] = number_in(p, "train_seconds");
        s->loss[k] = number_in(p, "value");
        s->sd[k] = number_in(p, "stddev");
        const cJSON *seeds = cJSON_GetObjectItemCaseSensitive(p, "per_seed");
        int n = 0;
        for (const cJSON *x = seeds != NULL ? seeds->child : NULL; x != NULL && n < SB_SEEDS_MAX; x = x->next)
            s->per_seed[k][n++] = cJSON_IsNumber(x) ? x->valuedouble : NAN;
        if (n < s->seeds)
            s->seeds = n;
    }
}

static void fill_shape(const cJSON *record, sb_probe_shape *s)
{
    memset(s, 0, sizeof *s);
    s->record = record;
    s->shape = sb_field_string(record, SB_F_SHAPE);
    const char *scaling = sb_field_string(record, SB_F_SCALING);
    s->scaling = scaling != NULL ? scaling : "other";
    const double experts = sb_field_number(record, SB_F_CONFIG_NUM_EXPERTS);
    s->body = (sb_body){sb_field_number(record, SB_F_CONFIG_NUM_LAYERS) +
                            sb_field_number(record, SB_F_CONFIG_NUM_DECODER_LAYERS),
                        sb_field_number(record, SB_F_CONFIG_D_MODEL), sb_field_number(record, SB_F_CONFIG_D_FF),
                        isnan(experts) ? 0 : experts};
    s->params = sb_field_number(record, SB_F_ANALYTIC_PARAMS);
    s->flops_per_step = sb_field_number(record, SB_F_ANALYTIC_FLOPS_TRAIN_STEP);
    s->forward_seconds = s->generate_ms = NAN;
    read_curve(record, s);
}

/* The speed run's figures for the shape: forward seconds per sequence, ms per generated token. */
static void join_speed(sb_probe_shape *s, const sb_shape_table *speed)
{
    for (size_t i = 0; speed != NULL && i < speed->count; i++) {
        const sb_shape_row *row = &speed->rows[i];
        if (strcmp(row->shape, s->shape) != 0)
            continue;
        const double batch = sb_field_number(row->main, SB_F_SETTINGS_BATCH);
        if (row->measured && speed->main_mode != NULL && strcmp(speed->main_mode, "forward") == 0 && batch > 0)
            s->forward_seconds = row->seconds / batch;
        s->generate_ms = row->ms_per_token;
    }
}

static int by_params(const void *a, const void *b)
{
    const sb_probe_shape *p = a, *q = b;
    if (p->params != q->params)
        return p->params < q->params ? -1 : 1;
    return strcmp(p->shape, q->shape);
}

int sb_probe_view_build(const sb_results *run, const sb_results *speed, sb_probe_view *v, sb_error *err)
{
    memset(v, 0, sizeof *v);
    v->unigram = v->bigram = NAN;
    pick_budget(run, v);
    if (v->budget_kind == NULL)
        return 0;
    const char *name = sb_field_string(run->records[0], SB_F_RUN);
    v->smoke = name != NULL && strlen(name) >= 5 && strcmp(name + strlen(name) - 5, "smoke") == 0;
    v->shapes = calloc(run->count, sizeof *v->shapes);
    sb_shape_table speed_rows = {0};
    if (v->shapes == NULL)
        return sb_fail(err, "out of memory for %zu probe records", run->count);
    if (speed != NULL && sb_shape_table_build(speed, &speed_rows, err) != 0)
        return -1;
    snprintf(v->speed_file, sizeof v->speed_file, "%s", speed != NULL ? speed->file : "");
    for (size_t i = 0; i < run->count; i++) {
        const cJSON *r = run->records[i];
        if (!is_probe_record(r) || strcmp(sb_field_string(r, SB_F_QUALITY_BUDGET_KIND), v->budget_kind) != 0 ||
            sb_field_number(r, SB_F_QUALITY_BUDGET) != v->budget || sb_field_string(r, SB_F_SHAPE) == NULL ||
            sb_probe_view_find(v, sb_field_string(r, SB_F_SHAPE)) != NULL)
            continue;
        sb_probe_shape *s = &v->shapes[v->count++];
        fill_shape(r, s);
        join_speed(s, speed != NULL ? &speed_rows : NULL);
        if (v->count == 1) {
            v->unigram = sb_field_number(r, SB_F_QUALITY_REFERENCE_UNIGRAM);
            v->bigram = sb_field_number(r, SB_F_QUALITY_REFERENCE_BIGRAM);
            v->schedule = sb_record_field(r, SB_F_QUALITY_SCHEDULE);
        }
    }
    sb_shape_table_free(&speed_rows);
    qsort(v->shapes, v->count, sizeof *v->shapes, by_params);
    return 0;
}

void sb_probe_view_free(sb_probe_view *v)
{
    free(v->shapes);
    memset(v, 0, sizeof *v);
}

const sb_probe_shape *sb_probe_view_find(const sb_probe_view *v, const char *shape)
{
    for (size_t i = 0; v != NULL && i < v->count; i++)
        if (strcmp(v->shapes[i].shape, shape) == 0)
            return &v->shapes[i];
    return NULL;
}

int sb_curve_index(const sb_probe_shape *s, int from_end)
{
    return s->points - 1 - from_end >= 0 ? s->points - 1 - from_end : -1;
}

sb_interval sb_probe_difference(const sb_probe_shape *a, const sb_probe_shape *b, int from_end)
{
    sb_interval d = {NAN, NAN, NAN, NAN, NAN, NAN};
    const int i = sb_curve_index(a, from_end), j = sb_curve_index(b, from_end);
    if (i < 0 || j < 0 || sb_welch(a->per_seed[i], (size_t)a->seeds, b->per_seed[j], (size_t)b->seeds, &d, NULL) != 0)
        d.estimate = i < 0 || j < 0 ? NAN : a->loss[i] - b->loss[j];
    return d;
}

static double cost_of(const sb_probe_shape *s, sb_probe_cost cost, int k)
{
    switch (cost) {
    case SB_COST_PARAMS: return s->params;
    case SB_COST_TRAIN_FLOPS: return s->flops[k];
    case SB_COST_FORWARD_SECONDS: return s->forward_seconds;
    case SB_COST_GENERATE_MS: return s->generate_ms;
    }
    return NAN;
}

int sb_probe_cost_frontier(const sb_probe_view *v, sb_probe_cost cost, sb_probe_cost_point *points, size_t *n,
                           size_t *frontier, size_t *kept, sb_error *err)
{
    *n = *kept = 0;
    for (size_t i = 0; i < v->count; i++) {
        const sb_probe_shape *s = &v->shapes[i];
        for (int k = cost == SB_COST_TRAIN_FLOPS ? 0 : s->points - 1; k >= 0 && k < s->points; k++)
            if (isfinite(cost_of(s, cost, k)) && isfinite(s->loss[k]))
                points[(*n)++] = (sb_probe_cost_point){cost_of(s, cost, k), s->loss[k], s->sd[k], i};
    }
    if (*n == 0)
        return 0;
    sb_pareto_point *xy = malloc(*n * sizeof *xy);
    if (xy == NULL)
        return sb_fail(err, "out of memory for %zu frontier points", *n);
    for (size_t i = 0; i < *n; i++)
        xy[i] = (sb_pareto_point){points[i].cost, points[i].loss};
    const int rc = sb_pareto_frontier(xy, *n, SB_PARETO_MIN, SB_PARETO_MIN, frontier, kept, err);
    free(xy);
    return rc;
}

void sb_probe_extent(const sb_probe_view *v, sb_probe_cost cost, double extent[4])
{
    extent[0] = extent[2] = INFINITY;
    extent[1] = extent[3] = -INFINITY;
    for (size_t i = 0; i < v->count; i++) {
        const sb_probe_shape *s = &v->shapes[i];
        for (int k = cost == SB_COST_TRAIN_FLOPS ? 0 : s->points - 1; k >= 0 && k < s->points; k++) {
            const double x = cost_of(s, cost, k) / (cost == SB_COST_PARAMS ? 1e6 : 1);
            if (!isfinite(s->loss[k]) || !isfinite(x))
                continue;
            const double sd = isfinite(s->sd[k]) ? s->sd[k] : 0;
            extent[0] = fmin(extent[0], x);
            extent[1] = fmax(extent[1], x);
            extent[2] = fmin(extent[2], s->loss[k] - sd);
            extent[3] = fmax(extent[3], s->loss[k] + sd);
        }
    }
    const double references[2] = {v->unigram, v->bigram};
    for (int r = 0; r < 2 && extent[2] <= extent[3]; r++)
        if (references[r] > 0) {
            extent[2] = fmin(extent[2], references[r]);
            extent[3] = fmax(extent[3], references[r]);
        }
}

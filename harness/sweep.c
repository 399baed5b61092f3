/* sweep.c — what a sweep runs: list and range parsing, the cross product of settings, the presets, shards
 * balanced by expected cost, and the progress line on stderr. */
#include "harness/harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A list longer than this is a typo (128-1024+1), not a sweep anyone would wait for. */
#define SB_LIST_MAX 4096

static int list_push(sb_i64_list *l, int64_t value, sb_error *err)
{
    if (l->n >= SB_LIST_MAX)
        return sb_fail(err, "list has more than %d values", SB_LIST_MAX);
    if ((l->n & (l->n - 1)) == 0) { /* capacity doubles at powers of two */
        int64_t *v = realloc(l->v, (l->n == 0 ? 1 : l->n * 2) * sizeof *v);
        if (v == NULL)
            return sb_fail(err, "out of memory");
        l->v = v;
    }
    l->v[l->n++] = value;
    return 0;
}

static int parse_number(const char *text, size_t len, int64_t min, int64_t max, int64_t *out, sb_error *err)
{
    char buf[32];
    if (len == 0 || len >= sizeof buf)
        return sb_fail(err, "'%.*s' is not a number", (int)len, text);
    memcpy(buf, text, len);
    buf[len] = '\0';
    if (sb_parse_i64(buf, min, max, out) == 0)
        return 0;
    if (strspn(buf, "0123456789") != len)
        return sb_fail(err, "'%s' is not a whole number", buf);
    return sb_fail(err, "%s is out of range (%lld..%lld)", buf, (long long)min, (long long)max);
}

/* One comma-separated item: N, or A-B*F (geometric), or A-B+S (arithmetic), or A-B (step 1). */
static int parse_item(const char *item, size_t len, int64_t min, int64_t max, sb_i64_list *out, sb_error *err)
{
    const char *dash = memchr(item, '-', len);
    if (dash == item && len > 1) /* -4: a range from nothing, or a negative number */
        return sb_fail(err, "'%.*s' is out of range (%lld..%lld)", (int)len, item, (long long)min, (long long)max);
    if (dash == NULL) {
        int64_t v;
        return parse_number(item, len, min, max, &v, err) != 0 ? -1 : list_push(out, v, err);
    }
    const char *end = item + len;
    const char *op = dash + 1;
    while (op < end && *op != '*' && *op != '+')
        op++;
    int64_t lo, hi, step = 1;
    if (parse_number(item, (size_t)(dash - item), min, max, &lo, err) != 0 ||
        parse_number(dash + 1, (size_t)(op - dash - 1), min, max, &hi, err) != 0)
        return -1;
    bool geometric = op < end && *op == '*';
    if (op < end && parse_number(op + 1, (size_t)(end - op - 1), 1, INT64_MAX / 2, &step, err) != 0)
        return -1;
    if (hi < lo)
        return sb_fail(err, "range %.*s runs backwards", (int)len, item);
    if (geometric && (step < 2 || lo == 0))
        return sb_fail(err, "range %.*s: a geometric range needs a start >= 1 and a factor >= 2", (int)len, item);
    for (int64_t v = lo; v <= hi;) {
        if (list_push(out, v, err) != 0)
            return -1;
        if (geometric ? v > hi / step : v > hi - step)
            break;
        v = geometric ? v * step : v + step;
    }
    return 0;
}

int sb_parse_list(const char *text, int64_t min, int64_t max, sb_i64_list *out, sb_error *err)
{
    out->v = NULL;
    out->n = 0;
    const char *p = text;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (parse_item(p, len, min, max, out, err) != 0) {
            free(out->v);
            out->v = NULL;
            out->n = 0;
            return -1;
        }
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
}

int sb_parse_shard(const char *text, int *index, int *count, sb_error *err)
{
    int64_t i, n;
    const char *slash = strchr(text, '/');
    sb_error ignored;
    if (slash == NULL || parse_number(text, (size_t)(slash - text), 1, 1 << 20, &i, &ignored) != 0 ||
        parse_number(slash + 1, strlen(slash + 1), 1, 1 << 20, &n, &ignored) != 0 || i > n)
        return sb_fail(err, "--shard '%s' must be i/N with 1 <= i <= N (e.g. 1/2 and 2/2)", text);
    *index = (int)i;
    *count = (int)n;
    return 0;
}

/* ---- the sweep spec ------------------------------------------------------------------------------------ */

void sb_sweep_spec_init(sb_sweep_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    sb_run_settings_default(&spec->base);
}

void sb_sweep_spec_free(sb_sweep_spec *spec)
{
    for (size_t i = 0; i < spec->nmodels; i++)
        free(spec->models[i]);
    free(spec->models);
    free(spec->batch.v);
    free(spec->src.v);
    free(spec->tgt.v);
    free(spec->threads.v);
    memset(spec, 0, sizeof *spec);
}

int sb_sweep_add_model(sb_sweep_spec *spec, const char *model, sb_error *err)
{
    char **models = realloc(spec->models, (spec->nmodels + 1) * sizeof *models);
    if (models == NULL)
        return sb_fail(err, "out of memory");
    spec->models = models;
    if ((models[spec->nmodels] = strdup(model)) == NULL)
        return sb_fail(err, "out of memory");
    spec->nmodels++;
    return 0;
}

static int set_list(sb_i64_list *l, const int64_t *values, size_t n, sb_error *err)
{
    free(l->v);
    l->v = NULL;
    l->n = 0;
    for (size_t i = 0; i < n; i++)
        if (list_push(l, values[i], err) != 0)
            return -1;
    return 0;
}

/* The presets. Every one uses batch 1, f32 and all threads unless the CLI says otherwise, and names no GEMM
 * backend: the sweep runs on the one whose measured sgemm peak is higher here (sb_gemm_choose).
 *
 * smoke: three tiny shapes (the base, a depth and a width variant) in every mode at 64/16 tokens, three
 *   repetitions and no minimum time: seconds in all; the test suite runs it.
 * default: every published T5-Efficient shape (registry rows less the `sh` ones, whose semantics are
 *   unpublished) and the Switch base family plus switch-large-128, forward and generate at 512/114 tokens.
 *   342 measurements must fit in 30 minutes on 2 cores, about 5 s each, weights initialisation included,
 *   so: one warmup (generate: 8 tokens) and three timed repetitions (generate: two, each of 114 steps),
 *   and max_time_s 4 s: a shape whose repetitions are expected to take longer is timed on sampled layers
 *   (one and four blocks per stack, Switch: sparse periods) and extrapolated, which `make bench` checks
 *   against full runs (results/README.md). Its time on 2 cores is in README.
 * paper: every registry row that resolves (T5, T5 v1.1, all Switch sizes too; those that cannot fit are
 *   recorded as skipped), encode, forward and generate, batch 1 and 8, at least ten repetitions and 2 s,
 *   up to 120 s per shape: hours. */
int sb_sweep_preset(const char *name, sb_sweep_spec *spec, sb_error *err)
{
    sb_sweep_spec_init(spec);
    static const int64_t one[] = {1}, zero[] = {0};
    if (set_list(&spec->batch, one, 1, err) != 0 || set_list(&spec->threads, zero, 1, err) != 0)
        goto fail;
    spec->precisions[spec->nprecisions++] = SB_PRECISION_F32;
    sb_run_settings *b = &spec->base;
    if (strcmp(name, "smoke") == 0) {
        static const char *const models[] = {"t5-efficient-tiny", "t5-efficient-tiny-nl2", "t5-efficient-tiny-dm128"};
        static const int64_t src[] = {64}, tgt[] = {16};
        for (size_t i = 0; i < 3; i++)
            if (sb_sweep_add_model(spec, models[i], err) != 0)
                goto fail;
        for (int m = 0; m < SB_MODE_COUNT; m++)
            spec->modes[spec->nmodes++] = (sb_mode)m;
        if (set_list(&spec->src, src, 1, err) != 0 || set_list(&spec->tgt, tgt, 1, err) != 0)
            goto fail;
        b->warmup = 1;
        b->min_reps = 3;
        b->min_time_s = 0;
        b->max_time_s = 10;
        return 0;
    }
    bool paper = strcmp(name, "paper") == 0;
    if (!paper && strcmp(name, "default") != 0) {
        sb_fail(err, "unknown preset '%s' (smoke, default or paper)", name);
        goto fail;
    }
    static const int64_t src[] = {512}, tgt[] = {114}, batches[] = {1, 8};
    if (set_list(&spec->src, src, 1, err) != 0 || set_list(&spec->tgt, tgt, 1, err) != 0)
        goto fail;
    for (size_t i = 0; i < sb_registry_count(); i++) {
        const sb_registry_entry *e = sb_registry_get(i);
        bool wanted = paper || strcmp(e->family, "t5-efficient") == 0 ||
                      (strcmp(e->family, "switch") == 0 &&
                       (strncmp(e->name, "switch-base-", 12) == 0 || strcmp(e->name, "switch-large-128") == 0));
        if (wanted && !e->unsupported && sb_sweep_add_model(spec, e->name, err) != 0)
            goto fail;
    }
    if (paper) {
        for (int m = 0; m < SB_MODE_COUNT; m++)
            spec->modes[spec->nmodes++] = (sb_mode)m;
        if (set_list(&spec->batch, batches, 2, err) != 0)
            goto fail;
        b->warmup = 2;
        b->min_reps = 10;
        b->min_time_s = 2;
        b->max_time_s = 120;
    } else {
        spec->modes[spec->nmodes++] = SB_MODE_FORWARD;
        spec->modes[spec->nmodes++] = SB_MODE_GENERATE;
        b->warmup = 1;
        b->min_reps = 3;
        b->min_time_s = 0;
        b->max_time_s = 4;
        spec->generate_min_reps = 2;
    }
    return 0;
fail:
    sb_sweep_spec_free(spec);
    return -1;
}

int sb_sweep_expand(const sb_sweep_spec *spec, sb_job_list *out, sb_error *err)
{
    *out = (sb_job_list){0};
    size_t total = spec->nmodels;
    const size_t factors[] = {spec->nmodes, spec->batch.n, spec->src.n, spec->tgt.n,
                              spec->nprecisions, spec->threads.n, spec->ngemms};
    for (size_t i = 0; i < sizeof factors / sizeof factors[0]; i++) {
        if (factors[i] == 0 || total == 0)
            return sb_fail(err, "the sweep is empty: every list needs at least one value");
        if (total > SIZE_MAX / factors[i] || total * factors[i] > 1000000)
            return sb_fail(err, "the sweep has more than 1000000 points: narrow the lists");
        total *= factors[i];
    }
    if ((out->items = calloc(total, sizeof *out->items)) == NULL)
        return sb_fail(err, "out of memory for %zu sweep points", total);
    for (size_t mi = 0; mi < spec->nmodels; mi++)
        for (size_t mo = 0; mo < spec->nmodes; mo++)
            for (size_t bi = 0; bi < spec->batch.n; bi++)
                for (size_t si = 0; si < spec->src.n; si++)
                    for (size_t ti = 0; ti < spec->tgt.n; ti++)
                        for (size_t di = 0; di < spec->nprecisions; di++)
                            for (size_t hi = 0; hi < spec->threads.n; hi++)
                                for (size_t gi = 0; gi < spec->ngemms; gi++) {
                                    if (spec->precisions[di] == SB_PRECISION_BF16 &&
                                        spec->gemms[gi] != SB_GEMM_ONEDNN) {
                                        out->bf16_on_openblas++;
                                        continue;
                                    }
                                    sb_job *j = &out->items[out->count++];
                                    snprintf(j->model, sizeof j->model, "%s", spec->models[mi]);
                                    j->model_index = mi;
                                    j->settings = spec->base;
                                    if (spec->modes[mo] == SB_MODE_GENERATE && spec->generate_min_reps > 0)
                                        j->settings.min_reps = spec->generate_min_reps;
                                    j->settings.mode = spec->modes[mo];
                                    j->settings.batch = spec->batch.v[bi];
                                    j->settings.src_len = spec->src.v[si];
                                    j->settings.tgt_len = spec->tgt.v[ti];
                                    j->settings.precision = spec->precisions[di];
                                    j->settings.threads = (int)spec->threads.v[hi];
                                    j->settings.gemm = spec->gemms[gi];
                                }
    return 0;
}

/* Larger cost first, then the lower index: one order on every machine. */
static int by_cost_descending(const void *a, const void *b, void *costs)
{
    const size_t i = *(const size_t *)a, j = *(const size_t *)b;
    const int64_t *c = costs;
    if (c[i] != c[j])
        return c[i] > c[j] ? -1 : 1;
    return (i > j) - (i < j);
}

int sb_partition_by_cost(const int64_t *cost_ms, size_t n, int count, int *shard_of, sb_error *err)
{
    size_t *order = malloc((n ? n : 1) * sizeof *order), *items = calloc((size_t)count, sizeof *items);
    int64_t *load = calloc((size_t)count, sizeof *load);
    if (order == NULL || items == NULL || load == NULL) {
        free(order);
        free(items);
        free(load);
        return sb_fail(err, "out of memory splitting %zu items into %d shards", n, count);
    }
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    qsort_r(order, n, sizeof *order, by_cost_descending, (void *)cost_ms);
    for (size_t k = 0; k < n; k++) {
        int best = 0;
        for (int s = 1; s < count; s++)
            if (load[s] < load[best] || (load[s] == load[best] && items[s] < items[best]))
                best = s;
        shard_of[order[k]] = best + 1;
        load[best] += cost_ms[order[k]];
        items[best]++;
    }
    free(order);
    free(items);
    free(load);
    return 0;
}

int sb_job_list_shards(const sb_job_list *jobs, int count, int *shard_of, double *cost_s, sb_error *err)
{
    size_t groups = 0;
    for (size_t j = 0; j < jobs->count; j++)
        groups = jobs->items[j].model_index + 1 > groups ? jobs->items[j].model_index + 1 : groups;
    int64_t *group_ms = calloc(groups ? groups : 1, sizeof *group_ms);
    int *group_shard = calloc(groups ? groups : 1, sizeof *group_shard);
    if (group_ms == NULL || group_shard == NULL) {
        free(group_ms);
        free(group_shard);
        return sb_fail(err, "out of memory splitting %zu jobs", jobs->count);
    }
    const sb_peaks reference = sb_peaks_reference();
    int rc = 0;
    for (size_t j = 0; j < jobs->count && rc == 0; j++) {
        const sb_job *job = &jobs->items[j];
        sb_config cfg;
        double cost = 0;
        rc = sb_config_resolve(job->model, &cfg, NULL, NULL, err) != 0 ||
                     sb_job_cost_s(&cfg, &job->settings, &reference, &cost, err) != 0
                 ? -1
                 : 0;
        group_ms[job->model_index] += llround(cost * 1e3);
        if (cost_s != NULL)
            cost_s[j] = cost;
    }
    if (rc == 0)
        rc = sb_partition_by_cost(group_ms, groups, count, group_shard, err);
    for (size_t j = 0; j < jobs->count && rc == 0; j++)
        shard_of[j] = group_shard[jobs->items[j].model_index];
    free(group_ms);
    free(group_shard);
    return rc;
}

int sb_job_list_shard(sb_job_list *jobs, int index, int count, sb_error *err)
{
    int *shard_of = malloc((jobs->count ? jobs->count : 1) * sizeof *shard_of);
    if (shard_of == NULL)
        return sb_fail(err, "out of memory splitting %zu jobs", jobs->count);
    if (sb_job_list_shards(jobs, count, shard_of, NULL, err) != 0) {
        free(shard_of);
        return -1;
    }
    size_t kept = 0;
    for (size_t j = 0; j < jobs->count; j++)
        if (shard_of[j] == index)
            jobs->items[kept++] = jobs->items[j];
    jobs->count = kept;
    free(shard_of);
    return 0;
}

void sb_job_list_free(sb_job_list *jobs)
{
    free(jobs->items);
    jobs->items = NULL;
    jobs->count = 0;
}

/* ---- progress ------------------------------------------------------------------------------------------ */

void sb_progress_start(sb_progress *p, FILE *out, size_t total)
{
    p->out = out;
    p->tty = isatty(fileno(out));
    p->total = total;
    p->start_s = sb_now_seconds();
}

void sb_format_duration(double s, char *buf, size_t cap)
{
    if (!isfinite(s))
        snprintf(buf, cap, "?");
    else if (s < 10)
        snprintf(buf, cap, "%.1f s", s);
    else if (s < 60)
        snprintf(buf, cap, "%.0f s", s);
    else if (s < 3600)
        snprintf(buf, cap, "%d min %02d s", (int)s / 60, (int)s % 60);
    else
        snprintf(buf, cap, "%d h %02d min", (int)s / 3600, (int)s % 3600 / 60);
}

void sb_progress_update(sb_progress *p, size_t done, const char *label)
{
    double elapsed = sb_now_seconds() - p->start_s;
    /* The ETA assumes the remaining points cost what the finished ones did on average. */
    double eta = done > 0 ? elapsed / (double)done * (double)(p->total - done) : NAN;
    char e[32], r[32];
    sb_format_duration(elapsed, e, sizeof e);
    sb_format_duration(eta, r, sizeof r);
    if (p->tty) {
        enum { WIDTH = 24 };
        char bar[WIDTH + 1];
        size_t filled = p->total ? done * WIDTH / p->total : WIDTH;
        for (size_t i = 0; i < WIDTH; i++)
            bar[i] = i < filled ? '#' : '.';
        bar[WIDTH] = '\0';
        fprintf(p->out, "\r\033[K[%s] %zu/%zu  elapsed %s  ETA %s  %s", bar, done, p->total, e, r, label);
    } else {
        fprintf(p->out, "[%zu/%zu] elapsed %s, ETA %s: %s\n", done, p->total, e, r, label);
    }
    fflush(p->out);
}

void sb_progress_finish(sb_progress *p)
{
    char e[32];
    sb_format_duration(sb_now_seconds() - p->start_s, e, sizeof e);
    fprintf(p->out, "%s%zu/%zu done in %s\n", p->tty ? "\r\033[K" : "", p->total, p->total, e);
    fflush(p->out);
}

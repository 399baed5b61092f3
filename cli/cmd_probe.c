/* cmd_probe.c — `shapebench probe`: the quality probe over a list of shapes (or a preset), each trained for
 * equal budgets over several seeds; one record per shape and budget with the held-out loss's learning curve,
 * its mean and standard deviation over seeds, the training recipe and the reference lines, appended to a
 * results folder like any other run (resumable, shardable, or a Slurm job array), so the plots gain their
 * quality axis. */
#include "cli/cli.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SEEDS_MAX 64
#define BUDGETS_MAX 8

static void usage(FILE *out)
{
    fprintf(out,
            "usage: shapebench probe NAME... --budget B[,B] [options]\n"
            "       shapebench probe --preset probe|probe-smoke|probe-large [options]\n"
            "       shapebench probe --slurm --resume DIR [--wait]\n"
            "\n"
            "Trains each shape from random init on span-corrupted Brown corpus batches (noise density 0.15, mean\n"
            "span 3; `shapebench data` prepares the corpus) until the budget is spent, measuring the mean\n"
            "cross-entropy on a fixed held-out set at budget/128, /64, ... /2 and the budget (the learning\n"
            "curve), over several seeds (mean and sample standard deviation). The vocabulary is the corpus's\n"
            "SentencePiece one (4000 ids with T5's 100 sentinels), so the shapes differ in their bodies only.\n"
            "Records go to <out>/results.jsonl with `quality` = {metric heldout_loss, value, stddev, curve,\n"
            "schedule, reference (unigram and bigram held-out loss), ...}; rerunning skips what is done. The\n"
            "expected wall time is printed before training starts (from two timed steps of each shape).\n"
            "\n"
            "  --budget LIST    FLOPs (e.g. 1e13: the executed train-step FLOPs of `count`, forward and\n"
            "                   backward) or seconds of training steps (e.g. 20s); each budget is its own record\n"
            "  --preset P       t5-efficient-tiny and the deep-narrow vs wide pairs the pairing rule picks among\n"
            "                   the published shapes (params within 10 %%, batch 4, 128 tokens):\n"
            "                   probe: 4 pairs, budget %s FLOPs, 3 seeds, 128 held-out examples (about 3 h\n"
            "                   40 min on 2 cores; a cluster's, or overnight);\n"
            "                   probe-large: 8 pairs, budget %s FLOPs, 5 seeds, 512 held-out examples (hours:\n"
            "                   a cluster's); probe-smoke: 1 pair, 64 tokens, budgets 5e10 and 1s, 2 seeds\n"
            "  --seeds N        seeds 0..N-1 per shape and budget (default 3)\n"
            "  --batch N        sequences per step (default 8)\n"
            "  --src N          input tokens per sequence (default 128; targets follow: 29 at 128)\n"
            "  --eval N         held-out examples evaluated (default 256)\n"
            "  --curve-points N points of the learning curve, a factor 2 apart (default 8, at most %d)\n"
            "  --optimizer O    adafactor (T5's) or adamw (default adafactor)\n"
            "  --schedule S     after a linear warmup: inverse_sqrt, cosine or constant (default inverse_sqrt)\n"
            "  --lr X           peak learning rate (Adafactor: relative step size; default 0.01)\n"
            "  --warmup F       linear warmup as a fraction of the budget (default 0.05)\n"
            "  --floor F        cosine: final rate as a fraction of the peak (default 0)\n"
            "  --dropout P      dropout rate in training (default 0)\n"
            "  --verbose        print each curve point as it is measured (stderr)\n"
            "  --threads N      " SB_HELP_THREADS " (default 0)\n"
            "  --gemm B         " SB_HELP_GEMM " (default onednn)\n"
            "  --dtype D        f32 or bf16: what the products compute in (bf16: mixed precision, fp32 master\n"
            "                   weights, optimizer and accumulation; the held-out loss measured in it too;\n"
            "                   oneDNN only; default f32)\n"
            "  --data-dir DIR   corpus cache (default data)\n"
            "  --run NAME       run name (default: --out's last folder, else the preset, else probe)\n"
            "  --out DIR        results folder (default results/<run>); <out>/points.tsv lists its points\n"
            "  --shard i/N      " SB_HELP_SHARD "\n"
            "                   (a point: a shape at one budget, every seed)\n"
            "  --help           this text\n"
            "\n" SB_SLURM_OPTIONS_HELP,
            SB_PROBE_BUDGET, SB_PROBE_LARGE_BUDGET, SB_PROBE_CURVE_MAX);
}

typedef struct {
    sb_budget_kind kind;
    double value;
} budget;

static int parse_budgets(const char *text, budget *out, size_t cap, size_t *n)
{
    *n = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", text);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        const size_t len = strlen(tok);
        const bool seconds = len > 0 && tok[len - 1] == 's';
        if (seconds)
            tok[len - 1] = '\0';
        double v;
        if (sb_parse_f64(tok, DBL_MIN, DBL_MAX, &v) != 0 || *n == cap)
            return -1;
        out[(*n)++] = (budget){seconds ? SB_BUDGET_SECONDS : SB_BUDGET_FLOPS, v};
    }
    return *n > 0 ? 0 : -1;
}

/* What the command was asked: the probe settings and the run around them. */
typedef struct {
    const char *const *names;
    size_t nnames;
    budget budgets[BUDGETS_MAX];
    size_t nbudgets;
    int64_t seeds;
    sb_probe_settings ps;
    const char *data_dir, *run;
    const char *budget_text; /* as given: the Slurm tasks are given it again */
    bool verbose;
    int shard, shards;       /* this process's shard of the points, 1-based */
    sb_slurm_options so;
    char folder[SB_PATH_MAX];
} probe_job;

/* A probe point as the harness's settings (mode train) and its record key: the run key, the budget and the
 * recipe, so that a run with another recipe never resumes into these records. */
static sb_run_settings point_settings(const sb_probe_settings *ps, int64_t tgt_len)
{
    sb_run_settings s;
    sb_run_settings_default(&s);
    s.mode = SB_MODE_TRAIN;
    s.batch = ps->batch;
    s.src_len = ps->src_len;
    s.tgt_len = tgt_len;
    s.threads = ps->threads;
    s.gemm = ps->gemm;
    s.precision = ps->compute == SB_DTYPE_BF16 ? SB_PRECISION_BF16 : SB_PRECISION_F32;
    return s;
}

/* A probe record is keyed and named by the shape whose body it trains: the config as named, before the
 * corpus's vocabulary replaced its own (sb_probe_config), so its quality joins that shape's other records. */
static void probe_key(const sb_config *named, const sb_run_settings *s, const sb_probe_recipe *r, const budget *b,
                      char *key, size_t cap)
{
    char base[SB_KEY_MAX];
    sb_record_key(named, s, base);
    snprintf(key, cap, "%s|probe-%s-%g|%s-%s-%g-w%g-f%g-d%g", base, sb_budget_kind_name(b->kind), b->value,
             sb_optim_name(r->optimizer), sb_lr_schedule_name(r->schedule), r->peak_lr, r->warmup_fraction, r->floor,
             r->dropout);
}

/* The timing side of the record: every training step of every seed is a repetition. */
static int step_timing(const sb_probe_result *r, size_t seeds, sb_measurement *m)
{
    size_t total = 0;
    for (size_t i = 0; i < seeds; i++)
        total += (size_t)r[i].steps;
    if (sb_timing_reserve(&m->timing, total ? total : 1, NULL) != 0)
        return -1;
    /* A training step is one part, and the trainer is not profiled: no block time. */
    for (size_t i = 0, k = 0; i < seeds; i++)
        for (int64_t j = 0; j < r[i].steps; j++, k++) {
            m->timing.samples[k] = m->timing.parts[0][k] = r[i].step_seconds[j];
            m->timing.parts[1][k] = m->timing.blocks[0][k] = m->timing.blocks[1][k] = 0;
        }
    m->timing.reps = total;
    return 0;
}

static cJSON *per_seed_json(const sb_probe_result *r, size_t seeds)
{
    cJSON *per_seed = cJSON_CreateArray();
    for (size_t i = 0; i < seeds; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "seed", (double)i);
        cJSON_AddNumberToObject(o, "heldout_loss", r[i].heldout_loss);
        cJSON_AddNumberToObject(o, "steps", (double)r[i].steps);
        cJSON_AddNumberToObject(o, "train_seconds", r[i].train_seconds);
        cJSON_AddNumberToObject(o, "flops", r[i].flops);
        cJSON_AddNumberToObject(o, "train_loss_first", r[i].train_loss_first);
        cJSON_AddNumberToObject(o, "train_loss_last", r[i].train_loss_last);
        cJSON_AddItemToArray(per_seed, o);
    }
    return per_seed;
}

/* quality.curve: per point the seeds' mean and sd, and each seed's loss. */
static cJSON *curve_json(const sb_probe_result *r, size_t seeds)
{
    cJSON *curve = cJSON_CreateArray();
    for (int k = 0; k < r[0].curve_points; k++) {
        double loss[SEEDS_MAX], steps[SEEDS_MAX], seconds[SEEDS_MAX], mean, sd, mean_steps, mean_seconds;
        for (size_t i = 0; i < seeds; i++) {
            loss[i] = r[i].curve[k].heldout_loss;
            steps[i] = (double)r[i].curve[k].steps;
            seconds[i] = r[i].curve[k].train_seconds;
        }
        sb_mean_stddev(loss, seeds, &mean, &sd);
        sb_mean_stddev(steps, seeds, &mean_steps, NULL);
        sb_mean_stddev(seconds, seeds, &mean_seconds, NULL);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "fraction", r[0].curve[k].fraction);
        cJSON_AddNumberToObject(o, "flops", r[0].flops_per_step * mean_steps);
        cJSON_AddNumberToObject(o, "steps", mean_steps);
        cJSON_AddNumberToObject(o, "train_seconds", mean_seconds);
        cJSON_AddNumberToObject(o, "value", mean);
        if (isfinite(sd))
            cJSON_AddNumberToObject(o, "stddev", sd);
        else
            cJSON_AddNullToObject(o, "stddev");
        cJSON_AddItemToObject(o, "per_seed", cJSON_CreateDoubleArray(loss, (int)seeds));
        cJSON_AddItemToArray(curve, o);
    }
    return curve;
}

static void put_quality(cJSON *rec, const probe_job *job, const budget *b, const sb_probe_result *r, size_t seeds,
                        const sb_probe_references *ref)
{
    const sb_probe_recipe *recipe = &job->ps.recipe;
    double losses[SEEDS_MAX], mean, sd;
    for (size_t i = 0; i < seeds; i++)
        losses[i] = r[i].heldout_loss;
    sb_mean_stddev(losses, seeds, &mean, &sd);
    sb_record_put(rec, SB_F_QUALITY, cJSON_CreateObject());
    sb_record_put_string(rec, SB_F_QUALITY_METRIC, "heldout_loss");
    sb_record_put_number(rec, SB_F_QUALITY_VALUE, mean);
    sb_record_put_number(rec, SB_F_QUALITY_STDDEV, sd);
    sb_record_put_number(rec, SB_F_QUALITY_SEEDS, (double)seeds);
    sb_record_put_string(rec, SB_F_QUALITY_BUDGET_KIND, sb_budget_kind_name(b->kind));
    sb_record_put_number(rec, SB_F_QUALITY_BUDGET, b->value);
    sb_record_put_number(rec, SB_F_QUALITY_EVAL_EXAMPLES, (double)job->ps.eval_examples);
    sb_record_put_number(rec, SB_F_QUALITY_HELDOUT_TOKENS, (double)r[0].heldout_tokens);
    sb_record_put(rec, SB_F_QUALITY_PER_SEED, per_seed_json(r, seeds));
    sb_record_put(rec, SB_F_QUALITY_CURVE, curve_json(r, seeds));
    sb_record_put_string(rec, SB_F_QUALITY_SCHEDULE_OPTIMIZER, sb_optim_name(recipe->optimizer));
    sb_record_put_string(rec, SB_F_QUALITY_SCHEDULE_LR_SCHEDULE, sb_lr_schedule_name(recipe->schedule));
    sb_record_put_number(rec, SB_F_QUALITY_SCHEDULE_PEAK_LR, recipe->peak_lr);
    sb_record_put_number(rec, SB_F_QUALITY_SCHEDULE_WARMUP_FRACTION, recipe->warmup_fraction);
    sb_record_put_number(rec, SB_F_QUALITY_SCHEDULE_FLOOR, recipe->floor);
    sb_record_put_number(rec, SB_F_QUALITY_SCHEDULE_DROPOUT, recipe->dropout);
    sb_record_put_number(rec, SB_F_QUALITY_REFERENCE_UNIGRAM, ref->unigram);
    sb_record_put_number(rec, SB_F_QUALITY_REFERENCE_BIGRAM, ref->bigram);
    sb_record_put_number(rec, SB_F_QUALITY_REFERENCE_TRAIN_TOKENS, (double)ref->train_tokens);
    sb_record_put_string(rec, SB_F_QUALITY_SOURCE,
                         "shapebench probe: Brown corpus span corruption, mean cross-entropy (nats/token) over the "
                         "fixed held-out examples");
}

/* The record: the harness's own layout (so plots and reports read it), timing = the seconds of every
 * training step of every seed, quality = the held-out loss over the seeds. */
static cJSON *probe_record(const probe_job *job, const sb_config *named, const sb_config *cfg,
                           const sb_run_settings *point, const char *key, const budget *b, const sb_probe_result *r,
                           size_t seeds, const sb_probe_references *ref, const sb_sysinfo *sys, const sb_peaks *peaks)
{
    sb_run_settings s = *point;
    s.warmup = 0;
    s.min_reps = r[0].steps;
    s.min_time_s = 0;
    s.max_time_s = b->kind == SB_BUDGET_SECONDS ? b->value : INFINITY;
    sb_measurement m;
    memset(&m, 0, sizeof m);
    if (step_timing(r, seeds, &m) != 0) {
        sb_measurement_free(&m);
        return NULL;
    }
    m.measured = true;
    m.flops_per_rep = (int64_t)r[0].flops_per_step;
    m.flops_source = "analytic: sb_count flops_train_step (executed GEMMs, forward and backward)";
    m.sequences_per_rep = job->ps.batch;
    m.tokens_per_rep = job->ps.batch * (job->ps.src_len + r[0].tgt_len);
    m.ms_per_token = NAN;
    m.cpu_share = NAN;
    snprintf(m.counters_error, sizeof m.counters_error, "the probe does not read counters");
    sb_stats st = sb_stats_compute(m.timing.samples, m.timing.reps);
    sb_verdict_for(&st, false, NAN, 0, m.verdict, sizeof m.verdict);
    cJSON *rec = sb_record_build(job->run, cfg, &s, &m, sys, peaks);
    sb_measurement_free(&m);
    if (rec == NULL)
        return NULL;
    char shape[SB_SHAPE_ID_MAX];
    sb_config_identity(named, shape);
    sb_record_put_string(rec, SB_F_KEY, key);
    sb_record_put_string(rec, SB_F_SHAPE, shape);
    put_quality(rec, job, b, r, seeds, ref);
    return rec;
}

/* ---- the points, their shards and the Slurm array ---------------------------------------------------- */

/* One probe point: a shape trained for one budget, over every seed (one record). */
typedef struct {
    size_t shape, budget;
    char key[SB_KEY_MAX + 128];
    double cost_s; /* expected: seeds x the budget, a FLOPs budget at the reference machine's step time */
    int shard;     /* 1-based */
} probe_point;

static int point_cost(const sb_config *cfg, const sb_run_settings *point, const budget *b, int64_t seeds, double *out,
                      sb_error *err)
{
    if (b->kind == SB_BUDGET_SECONDS) {
        *out = (double)seeds * b->value;
        return 0;
    }
    const sb_count_settings cs = {point->batch, point->src_len, point->tgt_len, SB_DTYPE_F32};
    const sb_peaks reference = sb_peaks_reference();
    sb_counts counts;
    double step_s;
    if (sb_count(cfg, &cs, &counts, err) != 0 || sb_expected_rep_s(cfg, point, &reference, &step_s, err) != 0)
        return -1;
    *out = (double)seeds * ceil(b->value / (double)counts.flops_train_step) * step_s;
    return 0;
}

/* Every shape x budget point with its key and cost, split into `shards` shards of balanced cost. */
static int plan_points(const probe_job *job, const sb_config *cfgs, const sb_config *named,
                       const sb_run_settings *point, int shards, probe_point *pts, sb_error *err)
{
    const size_t n = job->nnames * job->nbudgets;
    int64_t *cost_ms = malloc(n * sizeof *cost_ms);
    int *shard_of = malloc(n * sizeof *shard_of);
    int rc = cost_ms != NULL && shard_of != NULL ? 0 : sb_fail(err, "out of memory");
    for (size_t k = 0; k < n && rc == 0; k++) {
        probe_point *p = &pts[k];
        p->shape = k / job->nbudgets;
        p->budget = k % job->nbudgets;
        probe_key(&named[p->shape], point, &job->ps.recipe, &job->budgets[p->budget], p->key, sizeof p->key);
        rc = point_cost(&cfgs[p->shape], point, &job->budgets[p->budget], job->seeds, &p->cost_s, err);
        cost_ms[k] = llround(p->cost_s * 1e3);
    }
    if (rc == 0)
        rc = sb_partition_by_cost(cost_ms, n, shards, shard_of, err);
    for (size_t k = 0; k < n && rc == 0; k++)
        pts[k].shard = shard_of[k];
    free(cost_ms);
    free(shard_of);
    return rc;
}

/* x as the shortest decimal that reads back as x (0.05, not 0.050000000000000003). */
static void shortest_decimal(double x, char *out, size_t cap)
{
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(out, cap, "%.*g", digits, x);
        if (strtod(out, NULL) == x)
            return;
    }
}

/* The probe as a job array: each task trains its shard's points with the same settings, spelled out (the
 * recipe to the last digit, so every task's records carry the keys planned here). */
static int submit(const char *cmd, const probe_job *job, const probe_point *pts, size_t npoints, int count)
{
    const sb_probe_settings *ps = &job->ps;
    const sb_probe_recipe *r = &ps->recipe;
    char seeds_s[24], batch_s[24], src_s[24], eval_s[24], curve_s[24], lr_s[32], warmup_s[32], floor_s[32],
        dropout_s[32], data_abs[SB_PATH_MAX], cwd[SB_PATH_MAX];
    snprintf(seeds_s, sizeof seeds_s, "%lld", (long long)job->seeds);
    snprintf(batch_s, sizeof batch_s, "%lld", (long long)ps->batch);
    snprintf(src_s, sizeof src_s, "%lld", (long long)ps->src_len);
    snprintf(eval_s, sizeof eval_s, "%lld", (long long)ps->eval_examples);
    snprintf(curve_s, sizeof curve_s, "%d", ps->curve_points);
    shortest_decimal(r->peak_lr, lr_s, sizeof lr_s);
    shortest_decimal(r->warmup_fraction, warmup_s, sizeof warmup_s);
    shortest_decimal(r->floor, floor_s, sizeof floor_s);
    shortest_decimal(r->dropout, dropout_s, sizeof dropout_s);
    if (getcwd(cwd, sizeof cwd) == NULL)
        return sb_cli_error(cmd, SB_EXIT_FAILURE, "cannot read the current folder");
    if (job->data_dir[0] == '/')
        snprintf(data_abs, sizeof data_abs, "%s", job->data_dir);
    else
        sb_fmt(data_abs, sizeof data_abs, "%s/%s", cwd, job->data_dir);
    const char *rest[] = {"--budget", job->budget_text, "--seeds", seeds_s, "--batch", batch_s, "--src", src_s,
                          "--eval", eval_s, "--curve-points", curve_s, "--optimizer", sb_optim_name(r->optimizer),
                          "--schedule", sb_lr_schedule_name(r->schedule), "--lr", lr_s, "--warmup", warmup_s,
                          "--floor", floor_s, "--dropout", dropout_s, "--gemm", sb_gemm_backend_name(ps->gemm),
                          "--dtype", ps->compute == SB_DTYPE_BF16 ? "bf16" : "f32",
                          "--data-dir", data_abs};
    const size_t nrest = sizeof rest / sizeof rest[0];
    const char **argv = calloc(job->nnames + nrest + 1, sizeof *argv);
    sb_points *shards = calloc((size_t)count, sizeof *shards);
    int rc = SB_EXIT_FAILURE;
    sb_error err;
    if (argv == NULL || shards == NULL) {
        sb_cli_error(cmd, SB_EXIT_FAILURE, "out of memory");
        goto done;
    }
    size_t argc = 0;
    argv[argc++] = "probe";
    for (size_t i = 0; i < job->nnames; i++)
        argv[argc++] = job->names[i];
    for (size_t i = 0; i < nrest; i++)
        argv[argc++] = rest[i];
    for (size_t k = 0; k < npoints; k++)
        if (sb_points_add(&shards[pts[k].shard - 1], pts[k].key, pts[k].cost_s, &err) != 0) {
            sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
            goto done;
        }
    const sb_slurm_work w = {.cmd = cmd, .run = job->run, .out = job->folder, .task_argv = argv, .task_argc = argc,
                             .shards = shards, .nshards = count, .threads = ps->threads, .exclusive = false};
    rc = sb_slurm_submit(&job->so, &w);
done:
    for (int i = 0; shards != NULL && i < count; i++)
        sb_points_free(&shards[i]);
    free(shards);
    free(argv);
    return rc;
}

/* ---- the expected wall time ---------------------------------------------------------------------------- */

/* Seconds of one training step of cfg here: the second and third of three steps. */
static int seconds_per_step(const sb_corpus *corpus, const sb_config *cfg, const sb_probe_settings *ps, double *out,
                            sb_error *err)
{
    sb_probe_settings s = *ps;
    s.budget_kind = SB_BUDGET_SECONDS;
    s.budget = 1e9; /* max_steps ends it */
    s.max_steps = 3;
    s.curve_points = 1;
    s.eval_examples = 1;
    sb_probe_result r;
    if (sb_probe_train(corpus, cfg, &s, &r, err) != 0)
        return -1;
    *out = (r.step_seconds[1] + r.step_seconds[2]) / 2;
    sb_probe_result_free(&r);
    return 0;
}

/* Seconds to train one seed of cfg for budget b: its steps and the held-out evaluations, each batch of which
 * is a forward (count's share of a training step's FLOPs). */
static double seconds_per_seed(const sb_config *cfg, const sb_probe_settings *ps, int64_t tgt_len, const budget *b,
                               double step)
{
    const sb_count_settings cs = {ps->batch, ps->src_len, tgt_len, SB_DTYPE_F32};
    sb_counts c;
    if (sb_count(cfg, &cs, &c, NULL) != 0)
        return NAN;
    const double forward = (double)c.flops_forward_executed.total / (double)c.flops_train_step;
    const double eval_batches = (double)((ps->eval_examples + ps->batch - 1) / ps->batch) * ps->curve_points;
    const double train = b->kind == SB_BUDGET_FLOPS ? floor(b->value / (double)c.flops_train_step) * step : b->value;
    return train + eval_batches * forward * step;
}

/* Times two steps of every shape that has work left in this shard and prints what it should take. */
static int print_expected_time(const char *cmd, const probe_job *job, const sb_corpus *corpus, const sb_config *cfgs,
                               const probe_point *pts, size_t npoints, const sb_results_file *res, int64_t tgt_len,
                               const sb_exec *x, sb_error *err)
{
    double *step = malloc(job->nnames * sizeof *step);
    if (step == NULL)
        return sb_fail(err, "out of memory");
    for (size_t i = 0; i < job->nnames; i++)
        step[i] = NAN;
    double total = 0;
    size_t points = 0;
    for (size_t k = 0; k < npoints; k++) {
        const size_t i = pts[k].shape;
        if (pts[k].shard != job->shard || sb_results_has(res, pts[k].key))
            continue;
        if (isnan(step[i]) && seconds_per_step(corpus, &cfgs[i], &job->ps, &step[i], err) != 0) {
            free(step);
            return -1;
        }
        total += (double)job->seeds * seconds_per_seed(&cfgs[i], &job->ps, tgt_len, &job->budgets[pts[k].budget],
                                                       step[i]);
        points++;
    }
    free(step);
    if (points > 0)
        fprintf(stderr,
                "shapebench %s: %zu shape x budget points x %lld seeds to train: expected wall time %.0f min on this "
                "machine (%d threads; from two timed steps of each shape)\n",
                cmd, points, (long long)job->seeds, total / 60, sb_exec_threads(x));
    return 0;
}

/* ---- the run --------------------------------------------------------------------------------------------- */

/* The table: shape, params, budget, held-out loss ± sd at the last two curve points, steps, steps/s. */
static void print_table(const sb_record_set *records)
{
    printf("| shape | params | budget | loss at budget/2 (nats/token) | loss at budget (nats/token) | steps | "
           "steps/s |\n|---|--:|---|--:|--:|--:|--:|\n");
    for (size_t k = 0; k < records->count; k++) {
        const cJSON *rec = records->items[k], *curve = sb_record_field(rec, SB_F_QUALITY_CURVE);
        const int n = cJSON_GetArraySize(curve);
        char at[2][64];
        for (int j = 0; j < 2; j++) {
            const cJSON *p = cJSON_GetArrayItem(curve, n - 2 + j);
            const double v = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(p, "value"));
            const cJSON *sd = cJSON_GetObjectItemCaseSensitive(p, "stddev");
            if (p == NULL)
                snprintf(at[j], sizeof at[j], "–");
            else if (cJSON_IsNumber(sd))
                snprintf(at[j], sizeof at[j], "%.3f ± %.3f", v, sd->valuedouble);
            else
                snprintf(at[j], sizeof at[j], "%.3f", v);
        }
        const cJSON *last = cJSON_GetArrayItem(curve, n - 1);
        const double steps = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(last, "steps"));
        const double seconds = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(last, "train_seconds"));
        const char *shape = sb_field_string(rec, SB_F_SHAPE), *kind = sb_field_string(rec, SB_F_QUALITY_BUDGET_KIND);
        printf("| %s | %.0f | %s %g | %s | %s | %.0f | %.2f |\n", shape != NULL ? shape : "?",
               sb_field_number(rec, SB_F_ANALYTIC_PARAMS), kind != NULL ? kind : "?",
               sb_field_number(rec, SB_F_QUALITY_BUDGET), at[0], at[1], steps, steps / seconds);
    }
}

/* --verbose: a curve point as it is measured. */
static void print_point(void *label, const sb_probe_point *p)
{
    fprintf(stderr, "  %s: %g of the budget, %lld steps, %.3g FLOPs, %.0f s: held-out %.4f nats/token\n",
            (const char *)label, p->fraction, (long long)p->steps, p->flops, p->train_seconds, p->heldout_loss);
}

/* Trains every seed of one shape x budget point; NULL record (and *ok false) when a seed failed. */
static cJSON *train_point(const char *cmd, const probe_job *job, const sb_corpus *corpus, const sb_config *named,
                          const sb_config *cfg, const sb_run_settings *point, const char *key, const budget *b,
                          const sb_probe_references *ref, const sb_sysinfo *sys, const sb_peaks *peaks,
                          sb_progress *progress, size_t *done_runs, bool *ok)
{
    sb_probe_result r[SEEDS_MAX];
    memset(r, 0, sizeof r);
    sb_error err;
    *ok = true;
    for (int64_t seed = 0; seed < job->seeds && *ok; seed++) {
        char label[SB_KEY_MAX + 64];
        snprintf(label, sizeof label, "%s %s %g seed %lld", cfg->name, sb_budget_kind_name(b->kind), b->value,
                 (long long)seed);
        sb_progress_update(progress, *done_runs, label);
        sb_probe_settings one = job->ps;
        one.budget_kind = b->kind;
        one.budget = b->value;
        one.seed = (uint64_t)seed;
        if (job->verbose) {
            one.on_point = print_point;
            one.on_point_ctx = label;
        }
        if (sb_probe_train(corpus, cfg, &one, &r[seed], &err) != 0) {
            sb_cli_warn((void *)cmd, err.msg);
            *ok = false;
        }
        (*done_runs)++;
    }
    cJSON *rec = *ok ? probe_record(job, named, cfg, point, key, b, r, (size_t)job->seeds, ref, sys, peaks) : NULL;
    for (int64_t seed = 0; seed < job->seeds; seed++)
        sb_probe_result_free(&r[seed]);
    return rec;
}

static int run_probe(const char *cmd, probe_job *job)
{
    sb_error err;
    sb_corpus corpus = {0};
    const size_t npoints = job->nnames * job->nbudgets;
    /* cfgs: what the probe trains; named: the shapes as named, which its records are keyed by */
    sb_config *cfgs = calloc(2 * job->nnames, sizeof *cfgs), *named = cfgs + job->nnames;
    probe_point *pts = calloc(npoints, sizeof *pts);
    sb_points planned = {0};
    sb_results_file res = {.fd = -1, .lock_fd = -1};
    sb_exec *x = NULL; /* the system and peaks the records state */
    int rc = SB_EXIT_FAILURE;
    if (cfgs == NULL || pts == NULL) {
        sb_cli_error(cmd, SB_EXIT_FAILURE, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < job->nnames; i++)
        if (sb_config_resolve(job->names[i], &named[i], NULL, NULL, &err) != 0 ||
            sb_probe_config(job->names[i], SB_PROBE_VOCAB, &cfgs[i], &err) != 0) {
            rc = sb_cli_error(cmd, SB_EXIT_USAGE, "%s", err.msg);
            goto done;
        }
    int64_t raw_len, tgt_len;
    if (sb_span_corruption_lengths(job->ps.src_len, SB_NOISE_DENSITY, SB_MEAN_NOISE_SPAN, &raw_len, &tgt_len, &err) !=
        0) {
        rc = sb_cli_error(cmd, SB_EXIT_USAGE, "%s", err.msg);
        goto done;
    }
    const sb_run_settings point = point_settings(&job->ps, tgt_len);
    int count = job->shards;
    if (job->so.on && (rc = sb_slurm_task_count(cmd, &job->so, npoints, npoints, &count)) != SB_EXIT_OK)
        goto done;
    rc = SB_EXIT_FAILURE;
    if (plan_points(job, cfgs, named, &point, count, pts, &err) != 0) {
        sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
        goto done;
    }
    /* The corpus before the tasks: compute nodes often have no network, and one preparation is enough. */
    sb_corpus_options copt = {.log = sb_cli_warn, .log_ctx = (void *)cmd};
    if (!(job->so.on && job->so.dry_run) && sb_corpus_prepare(job->data_dir, &copt, &corpus, &err) != 0) {
        sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
        goto done;
    }
    if (job->so.on) {
        rc = submit(cmd, job, pts, npoints, count);
        goto done;
    }
    for (size_t k = 0; k < npoints; k++)
        if (pts[k].shard == job->shard && sb_points_add(&planned, pts[k].key, pts[k].cost_s, &err) != 0) {
            sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
            goto done;
        }
    sb_exec_settings xs;
    sb_exec_settings_default(&xs);
    xs.backend = job->ps.gemm;
    xs.threads = job->ps.threads;
    sb_probe_references ref;
    if (sb_exec_create(&x, &xs, &err) != 0 || sb_points_write(job->folder, &planned, &err) != 0 ||
        sb_results_open(&res, job->folder, sb_cli_warn, (void *)cmd, &err) != 0 ||
        sb_probe_references_compute(&corpus, &job->ps, &ref, &err) != 0 ||
        print_expected_time(cmd, job, &corpus, cfgs, pts, npoints, &res, tgt_len, x, &err) != 0) {
        sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
        goto done;
    }
    fprintf(stderr, "shapebench %s: reference lines on the held-out examples: unigram %.3f, bigram %.3f nats/token\n",
            cmd, ref.unigram, ref.bigram);
    sb_sysinfo sys;
    sb_peaks peaks;
    sb_peak_sizes sizes = sb_peak_sizes_default();
    bool have_sys = sb_sysinfo_collect(&sys, x, &err) == 0;
    bool have_peaks = have_sys && sb_peaks_cached(x, &sys, &sizes, NULL, false, sb_cli_warn, (void *)cmd, &peaks,
                                                  &err) == 0;

    sb_progress progress;
    sb_progress_start(&progress, stderr, planned.count * (size_t)job->seeds);
    size_t done_runs = 0, failed = 0;
    for (size_t k = 0; k < npoints; k++) {
        const probe_point *pt = &pts[k];
        if (pt->shard != job->shard)
            continue;
        if (sb_results_has(&res, pt->key)) {
            done_runs += (size_t)job->seeds;
            continue;
        }
        bool ok;
        cJSON *rec = train_point(cmd, job, &corpus, &named[pt->shape], &cfgs[pt->shape], &point, pt->key,
                                 &job->budgets[pt->budget], &ref, have_sys ? &sys : NULL, have_peaks ? &peaks : NULL,
                                 &progress, &done_runs, &ok);
        failed += !ok;
        if (rec == NULL) {
            if (ok)
                sb_cli_error(cmd, SB_EXIT_FAILURE, "out of memory building the record of %s", pt->key);
            continue;
        }
        if (sb_results_append(&res, rec, &err) != 0) {
            sb_cli_error(cmd, SB_EXIT_FAILURE, "%s (the records before this one are intact)", err.msg);
            goto done;
        }
    }
    sb_progress_finish(&progress);
    char csv[sizeof res.path + 16];
    snprintf(csv, sizeof csv, "%s/results.csv", job->folder);
    if (sb_records_write_csv(&res.existing, csv, &err) != 0) {
        sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
        goto done;
    }
    print_table(&res.existing);
    fprintf(stderr, "shapebench %s: %zu records in %s (CSV beside it)\n", cmd, res.existing.count, res.path);
    rc = failed == 0 ? SB_EXIT_OK
                     : sb_cli_error(cmd, SB_EXIT_FAILURE, "%zu of %zu shape x budget points failed (warnings above); "
                                                          "they have no record", failed, planned.count);
done:
    sb_exec_free(x);
    sb_results_close(&res);
    sb_points_free(&planned);
    free(pts);
    free(cfgs);
    sb_corpus_free(&corpus);
    return rc;
}

/* ---- options ------------------------------------------------------------------------------------------------ */

/* Options given on the command line; -1 (or NULL) where the preset or the default decides. */
typedef struct {
    int64_t seeds, batch, src, eval, curve_points;
    const char *budgets;
} asked;

/* A preset's shapes and settings in place of the command's defaults. */
static int apply_preset(const char *cmd, const char *name, probe_job *job, sb_probe_preset *p)
{
    sb_error err;
    if (sb_probe_preset_get(name, p, &err) != 0)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "%s", err.msg);
    job->names = p->shapes;
    job->nnames = p->count;
    job->seeds = p->seeds;
    job->ps.batch = p->batch;
    job->ps.src_len = p->src_len;
    job->ps.eval_examples = p->eval_examples;
    job->ps.curve_points = p->curve_points;
    return SB_EXIT_OK;
}

/* What was asked on the command line wins over the preset and the defaults. */
static void apply_asked(const asked *a, probe_job *job)
{
    job->seeds = a->seeds > 0 ? a->seeds : job->seeds;
    job->ps.batch = a->batch > 0 ? a->batch : job->ps.batch;
    job->ps.src_len = a->src > 0 ? a->src : job->ps.src_len;
    job->ps.eval_examples = a->eval > 0 ? a->eval : job->ps.eval_examples;
    job->ps.curve_points = a->curve_points > 0 ? (int)a->curve_points : job->ps.curve_points;
}

int sb_cmd_probe(int argc, char **argv)
{
    enum {
        O_BUDGET = SB_OPT_OWN, O_PRESET, O_SEEDS, O_BATCH, O_SRC, O_EVAL, O_DATA_DIR, O_CURVE, O_OPTIMIZER,
        O_SCHEDULE, O_LR, O_WARMUP, O_FLOOR, O_DROPOUT, O_VERBOSE
    };
    static const struct option options[] = {
        {"budget", required_argument, NULL, O_BUDGET},   {"preset", required_argument, NULL, O_PRESET},
        {"seeds", required_argument, NULL, O_SEEDS},     {"batch", required_argument, NULL, O_BATCH},
        {"src", required_argument, NULL, O_SRC},         {"eval", required_argument, NULL, O_EVAL},
        {"curve-points", required_argument, NULL, O_CURVE}, {"optimizer", required_argument, NULL, O_OPTIMIZER},
        {"schedule", required_argument, NULL, O_SCHEDULE}, {"lr", required_argument, NULL, O_LR},
        {"warmup", required_argument, NULL, O_WARMUP},   {"floor", required_argument, NULL, O_FLOOR},
        {"dropout", required_argument, NULL, O_DROPOUT}, {"verbose", no_argument, NULL, O_VERBOSE},
        SB_OPTION_THREADS,                               SB_OPTION_GEMM,
        SB_OPTION_DTYPE,
        {"data-dir", required_argument, NULL, O_DATA_DIR}, SB_OPTION_RUN,
        SB_OPTION_OUT,                                   SB_OPTION_SHARD,
        SB_SLURM_OPTIONS,                                SB_OPTION_HELP,
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "probe", *preset = NULL, *out = NULL;
    probe_job job = {.data_dir = "data", .shard = 1, .shards = 1, .so = SB_SLURM_OPTIONS_INIT};
    bool threads_given = false;
    sb_precision precision = SB_PRECISION_F32;
    sb_probe_settings_default(&job.ps);
    sb_probe_recipe *recipe = &job.ps.recipe;
    asked a = {-1, -1, -1, -1, -1, NULL};
    sb_error err;
    int o;
    optind = 1;
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        int rc = SB_EXIT_OK;
        switch (o) {
        case O_BUDGET: a.budgets = optarg; break;
        case O_PRESET: preset = optarg; break;
        case O_SEEDS: rc = sb_opt_integer(cmd, "seeds", optarg, 1, SEEDS_MAX, &a.seeds); break;
        case O_BATCH: rc = sb_opt_integer(cmd, "batch", optarg, 1, 4096, &a.batch); break;
        case O_SRC: rc = sb_opt_integer(cmd, "src", optarg, 16, 1024, &a.src); break;
        case O_EVAL: rc = sb_opt_integer(cmd, "eval", optarg, 1, 1000000, &a.eval); break;
        case O_CURVE: rc = sb_opt_integer(cmd, "curve-points", optarg, 2, SB_PROBE_CURVE_MAX, &a.curve_points); break;
        case O_OPTIMIZER:
            if (sb_optim_parse(optarg, &recipe->optimizer, &err) != 0)
                rc = sb_cli_error(cmd, SB_EXIT_USAGE, "--optimizer: %s", err.msg);
            break;
        case O_SCHEDULE:
            if (sb_lr_schedule_parse(optarg, &recipe->schedule, &err) != 0)
                rc = sb_cli_error(cmd, SB_EXIT_USAGE, "--schedule: %s", err.msg);
            break;
        case O_LR: rc = sb_opt_number(cmd, "lr", optarg, 1e-6, 1, &recipe->peak_lr); break;
        case O_WARMUP: rc = sb_opt_number(cmd, "warmup", optarg, 0, 0.5, &recipe->warmup_fraction); break;
        case O_FLOOR: rc = sb_opt_number(cmd, "floor", optarg, 0, 1, &recipe->floor); break;
        case O_DROPOUT: rc = sb_opt_number(cmd, "dropout", optarg, 0, 0.9, &recipe->dropout); break;
        case O_VERBOSE: job.verbose = true; break;
        case SB_OPT_THREADS:
            rc = sb_opt_threads(cmd, optarg, &job.ps.threads);
            threads_given = true;
            break;
        case SB_OPT_SHARD: rc = sb_opt_shard(cmd, optarg, &job.shard, &job.shards); break;
        case SB_OPT_GEMM: rc = sb_opt_gemm(cmd, optarg, &job.ps.gemm); break;
        case SB_OPT_DTYPE: rc = sb_opt_precision(cmd, optarg, &precision); break;
        case O_DATA_DIR: job.data_dir = optarg; break;
        case SB_OPT_RUN: job.run = optarg; break;
        case SB_OPT_OUT: out = optarg; break;
        case SB_OPT_HELP: usage(stdout); return SB_EXIT_OK;
        default:
            if ((rc = sb_cli_slurm_option(cmd, o, optarg, &job.so)) < 0)
                rc = sb_opt_bad(cmd, o, argv, options);
            break;
        }
        if (rc != SB_EXIT_OK)
            return rc;
    }
    if (precision == SB_PRECISION_BF16_STORAGE)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "--dtype bf16-storage: training keeps fp32 weights; the probe "
                                                "computes in f32 or bf16");
    if (precision == SB_PRECISION_BF16 && job.ps.gemm != SB_GEMM_ONEDNN)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "--dtype bf16: bf16 products run on oneDNN only (OpenBLAS has no bf16 "
                                                "GEMM): use --gemm onednn");
    job.ps.compute = sb_precision_compute(precision);
    if (job.ps.compute == SB_DTYPE_BF16 && sb_bf16_available(&err) != 0)
        return sb_cli_error(cmd, SB_EXIT_FAILURE, "--dtype bf16: %s", err.msg);
    if (job.so.resume != NULL) {
        if (!job.so.on || preset != NULL || optind < argc)
            return sb_cli_error(cmd, SB_EXIT_USAGE, "usage: shapebench probe --slurm --resume DIR [--wait]");
        return sb_slurm_resume(cmd, &job.so);
    }
    if (job.so.on && (job.shards > 1 || threads_given))
        return sb_cli_error(cmd, SB_EXIT_USAGE, "--slurm gives each task its shard and threads (--cpus-per-task); "
                                                "--shard and --threads are for one machine");
    job.names = (const char *const *)argv + optind;
    job.nnames = (size_t)(argc - optind);
    job.seeds = 3;
    sb_probe_preset p;
    const char *budget_text = a.budgets;
    if (preset != NULL) {
        if (job.nnames > 0)
            return sb_cli_error(cmd, SB_EXIT_USAGE, "give shape names or --preset, not both");
        int rc = apply_preset(cmd, preset, &job, &p);
        if (rc != SB_EXIT_OK)
            return rc;
        budget_text = a.budgets != NULL ? a.budgets : p.budgets;
    }
    apply_asked(&a, &job);
    if (job.nnames == 0)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "no shapes: name some, or --preset probe (see --help)");
    if (budget_text == NULL)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "--budget is required: FLOPs like 1e13, or seconds like 20s");
    if (parse_budgets(budget_text, job.budgets, BUDGETS_MAX, &job.nbudgets) != 0)
        return sb_cli_error(cmd, SB_EXIT_USAGE,
                            "--budget '%s': a list of up to %d positive FLOPs (1e13) or seconds (20s)", budget_text,
                            BUDGETS_MAX);
    job.budget_text = budget_text;
    if (job.so.on && sb_slurm_task_threads(cmd, &job.so, &job.ps.threads) != SB_EXIT_OK)
        return SB_EXIT_USAGE;
    sb_cli_runner rn = {.cmd = cmd};
    /* As sweep: a fixed default name makes "the same command" resume; each shard gets its own folder. */
    char run_buf[SB_NAME_MAX], fallback[SB_NAME_MAX];
    const char *base = preset != NULL ? preset : "probe";
    if (job.shards > 1)
        snprintf(fallback, sizeof fallback, "%s-shard%dof%d", base, job.shard, job.shards);
    else
        snprintf(fallback, sizeof fallback, "%s", base);
    const int placed = sb_cli_place_run(&rn, job.run, out, fallback, run_buf, sizeof run_buf, job.folder,
                                        sizeof job.folder);
    if (placed != SB_EXIT_OK)
        return placed;
    job.run = rn.run;
    return run_probe(cmd, &job);
}

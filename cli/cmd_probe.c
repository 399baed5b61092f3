/* cmd_probe.c — `shapebench probe`: the quality probe over a list of shapes (or a preset), each trained for
 * an equal FLOPs budget and, separately, an equal wall-clock budget over several seeds; one record per shape
 * and budget with the held-out loss's mean and standard deviation, appended to a results folder like any
 * other run (resumable, shardable, or a Slurm job array), so the plots gain their quality axis. */
#include "cli/cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: shapebench probe NAME... --budget B[,B] [options]\n"
            "       shapebench probe --preset probe|probe-smoke [options]\n"
            "       shapebench probe --slurm --resume DIR [--wait]\n"
            "\n"
            "Trains each shape from random init with T5's Adafactor on span-corrupted Brown corpus batches\n"
            "(noise density 0.15, mean span 3; `shapebench data` prepares the corpus) until the budget is spent,\n"
            "then reports the mean cross-entropy on a fixed held-out set, over several seeds (mean and sample\n"
            "standard deviation). The vocabulary is the corpus's SentencePiece one (4000 ids with T5's 100\n"
            "sentinels), so the shapes differ in their bodies only. Records go to <out>/results.jsonl with\n"
            "`quality` = {metric heldout_loss, value, stddev, ...}; rerunning skips what is done.\n"
            "\n"
            "  --budget LIST    FLOPs (e.g. 2e12: the executed train-step FLOPs of `count`, forward and\n"
            "                   backward) or seconds of training steps (e.g. 20s); each budget is its own record\n"
            "  --preset P       probe: %d shapes across depth, width, kv/nh and Switch, batch 4, budgets 1.5e12\n"
            "                   and 12s, 3 seeds (about 30 min on 2 cores); probe-smoke: 3 shapes, 64 tokens,\n"
            "                   budgets 5e10 and 1s, 2 seeds (seconds)\n"
            "  --seeds N        seeds 0..N-1 per shape and budget (default 3)\n"
            "  --batch N        sequences per step (default 8)\n"
            "  --src N          input tokens per sequence (default 128; targets follow: 29 at 128)\n"
            "  --eval N         held-out examples evaluated (default 256)\n"
            "  --threads N      " SB_HELP_THREADS " (default 0)\n"
            "  --data-dir DIR   corpus cache (default data)\n"
            "  --run NAME       run name (default: the preset, else probe)\n"
            "  --out DIR        results folder (default results/<run>); <out>/points.tsv lists its points\n"
            "  --shard i/N      " SB_HELP_SHARD "\n"
            "                   (a point: a shape at one budget, every seed)\n"
            "  --help           this text\n"
            "\n" SB_SLURM_OPTIONS_HELP,
            20);
}

/* Published tiny shapes (vocabulary aside, as they are) across every knob the paper scales, and Switch
 * versions of the tiny body: small enough that a few hundred steps fit a short budget on 2 cores. */
static const char *const probe_shapes[] = {
    "t5-efficient-tiny",      "t5-efficient-tiny-nl2",   "t5-efficient-tiny-nl6",    "t5-efficient-tiny-nl8",
    "t5-efficient-tiny-el2",  "t5-efficient-tiny-el8",   "t5-efficient-tiny-dl2",    "t5-efficient-tiny-dl8",
    "t5-efficient-tiny-dm128", "t5-efficient-tiny-dm512", "t5-efficient-tiny-ff512",  "t5-efficient-tiny-ff2000",
    "t5-efficient-tiny-ff6000", "t5-efficient-tiny-kv16", "t5-efficient-tiny-kv128",  "t5-efficient-tiny-nh1",
    "t5-efficient-tiny-nh16", "t5-efficient-tiny-skv",   "t5-efficient-tiny+switch8", "t5-efficient-tiny+switch32",
};
static const char *const smoke_shapes[] = {"t5-efficient-tiny-nl2", "t5-efficient-tiny-dm128",
                                           "t5-efficient-tiny-nl2+switch4"};

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
        char *end;
        double v = strtod(tok, &end);
        bool seconds = strcmp(end, "s") == 0;
        if (end == tok || (!seconds && *end != '\0') || !(v > 0) || !isfinite(v) || *n == cap)
            return -1;
        out[(*n)++] = (budget){seconds ? SB_BUDGET_SECONDS : SB_BUDGET_FLOPS, v};
    }
    return *n > 0 ? 0 : -1;
}

static double mean_of(const double *v, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += v[i];
    return s / (double)n;
}

/* Sample standard deviation (n - 1), two-pass; NaN for one value. */
static double stddev_of(const double *v, size_t n)
{
    if (n < 2)
        return NAN;
    double m = mean_of(v, n), s = 0;
    for (size_t i = 0; i < n; i++)
        s += (v[i] - m) * (v[i] - m);
    return sqrt(s / (double)(n - 1));
}

/* A probe point as the harness's settings (mode train) and its record key: the run key plus the budget. */
static sb_run_settings probe_settings(const sb_probe_settings *ps, int64_t tgt_len)
{
    sb_run_settings s;
    sb_run_settings_default(&s);
    s.mode = SB_MODE_TRAIN;
    s.batch = ps->batch;
    s.src_len = ps->src_len;
    s.tgt_len = tgt_len;
    s.threads = ps->threads;
    s.gemm = ps->gemm;
    return s;
}

static void probe_key(const char *shape, const sb_run_settings *s, const budget *b, char *key, size_t cap)
{
    char base[SB_KEY_MAX];
    sb_record_key(shape, s, base);
    snprintf(key, cap, "%s|probe-%s-%g", base, sb_budget_kind_name(b->kind), b->value);
}

/* The record: the harness's own layout (so plots and reports read it), timing = the seconds of every
 * training step of every seed, quality = the held-out loss over the seeds. */
static cJSON *probe_record(const char *run, const sb_config *cfg, const sb_probe_settings *ps,
                           const sb_run_settings *point, const char *key, const budget *b, const sb_probe_result *r,
                           size_t seeds, const sb_sysinfo *sys, const sb_peaks *peaks)
{
    sb_run_settings s = *point;
    s.warmup = 0;
    s.min_reps = r[0].steps;
    s.min_time_s = 0;
    s.max_time_s = b->kind == SB_BUDGET_SECONDS ? b->value : INFINITY;
    sb_measurement m;
    memset(&m, 0, sizeof m);
    size_t total = 0;
    for (size_t i = 0; i < seeds; i++)
        total += (size_t)r[i].steps;
    if (sb_timing_reserve(&m.timing, total ? total : 1, NULL) != 0) {
        sb_measurement_free(&m);
        return NULL;
    }
    /* A training step is one part, and the trainer is not profiled: no block time. */
    for (size_t i = 0, k = 0; i < seeds; i++)
        for (int64_t j = 0; j < r[i].steps; j++, k++) {
            m.timing.samples[k] = m.timing.parts[0][k] = r[i].step_seconds[j];
            m.timing.parts[1][k] = m.timing.blocks[0][k] = m.timing.blocks[1][k] = 0;
        }
    m.timing.reps = total;
    m.measured = true;
    m.flops_per_rep = (int64_t)r[0].flops_per_step;
    m.flops_source = "analytic: sb_count flops_train_step (executed GEMMs, forward and backward)";
    m.sequences_per_rep = ps->batch;
    m.tokens_per_rep = ps->batch * (ps->src_len + r[0].tgt_len);
    m.ms_per_token = NAN;
    m.cpu_share = NAN;
    snprintf(m.counters_error, sizeof m.counters_error, "the probe does not read counters");
    sb_stats st = sb_stats_compute(m.timing.samples, m.timing.reps);
    sb_verdict_for(&st, false, NAN, 0, m.verdict, sizeof m.verdict);
    cJSON *rec = sb_record_build(run, cfg, &s, &m, sys, peaks);
    sb_measurement_free(&m);
    if (rec == NULL)
        return NULL;

    sb_record_put_string(rec, SB_F_KEY, key);

    double losses[64];
    cJSON *per_seed = cJSON_CreateArray();
    for (size_t i = 0; i < seeds; i++) {
        losses[i] = r[i].heldout_loss;
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
    sb_record_put(rec, SB_F_QUALITY, cJSON_CreateObject());
    sb_record_put_string(rec, SB_F_QUALITY_METRIC, "heldout_loss");
    sb_record_put_number(rec, SB_F_QUALITY_VALUE, mean_of(losses, seeds));
    sb_record_put_number(rec, SB_F_QUALITY_STDDEV, stddev_of(losses, seeds));
    sb_record_put_number(rec, SB_F_QUALITY_SEEDS, (double)seeds);
    sb_record_put_string(rec, SB_F_QUALITY_BUDGET_KIND, sb_budget_kind_name(b->kind));
    sb_record_put_number(rec, SB_F_QUALITY_BUDGET, b->value);
    sb_record_put_number(rec, SB_F_QUALITY_EVAL_EXAMPLES, (double)ps->eval_examples);
    sb_record_put_number(rec, SB_F_QUALITY_HELDOUT_TOKENS, (double)r[0].heldout_tokens);
    sb_record_put(rec, SB_F_QUALITY_PER_SEED, per_seed);
    sb_record_put_string(rec, SB_F_QUALITY_SOURCE,
                         "shapebench probe: Adafactor (T5 defaults) on Brown corpus span corruption, mean "
                         "cross-entropy (nats/token) over the fixed held-out examples");
    return rec;
}

/* One probe point: a shape trained for one budget, over every seed (one record). */
typedef struct {
    size_t shape, budget;
    char key[SB_KEY_MAX + 64];
    double cost_s;  /* expected: seeds x the budget, a FLOPs budget at the reference machine's step time */
    int shard;      /* 1-based */
} probe_point;

static int point_cost(const sb_config *cfg, const sb_run_settings *point, const budget *b, int64_t seeds, double *out,
                      sb_error *err)
{
    if (b->kind == SB_BUDGET_SECONDS) {
        *out = (double)seeds * b->value;
        return 0;
    }
    const sb_count_settings cs = {point->batch, point->src_len, point->tgt_len, point->dtype};
    const sb_peaks reference = sb_peaks_reference();
    sb_counts counts;
    double step_s;
    if (sb_count(cfg, &cs, &counts, err) != 0 || sb_expected_rep_s(cfg, point, &reference, &step_s, err) != 0)
        return -1;
    *out = (double)seeds * ceil(b->value / (double)counts.flops_train_step) * step_s;
    return 0;
}

/* Every shape x budget point with its key and cost, split into `shards` shards of balanced cost. */
static int plan_points(const sb_config *cfgs, size_t nnames, const budget *budgets, size_t nbudgets, int64_t seeds,
                       const sb_run_settings *point, int shards, probe_point *pts, sb_error *err)
{
    const size_t n = nnames * nbudgets;
    int64_t *cost_ms = malloc(n * sizeof *cost_ms);
    int *shard_of = malloc(n * sizeof *shard_of);
    int rc = cost_ms != NULL && shard_of != NULL ? 0 : sb_fail(err, "out of memory");
    for (size_t k = 0; k < n && rc == 0; k++) {
        probe_point *p = &pts[k];
        p->shape = k / nbudgets;
        p->budget = k % nbudgets;
        probe_key(cfgs[p->shape].name, point, &budgets[p->budget], p->key, sizeof p->key);
        rc = point_cost(&cfgs[p->shape], point, &budgets[p->budget], seeds, &p->cost_s, err);
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

/* The probe as a job array: each task trains its shard's points with the same settings, spelled out. */
static int submit(const char *cmd, const sb_slurm_options *so, const char *const *names, size_t nnames,
                  const char *budget_text, int64_t seeds, const sb_probe_settings *ps, const char *data_dir,
                  const char *run, const char *folder, const probe_point *pts, size_t npoints, int count)
{
    char seeds_s[24], batch_s[24], src_s[24], eval_s[24], data_abs[SB_PATH_MAX], cwd[SB_PATH_MAX];
    snprintf(seeds_s, sizeof seeds_s, "%lld", (long long)seeds);
    snprintf(batch_s, sizeof batch_s, "%lld", (long long)ps->batch);
    snprintf(src_s, sizeof src_s, "%lld", (long long)ps->src_len);
    snprintf(eval_s, sizeof eval_s, "%lld", (long long)ps->eval_examples);
    if (getcwd(cwd, sizeof cwd) == NULL)
        return sb_cli_error(cmd, SB_EXIT_FAILURE, "cannot read the current folder");
    if (data_dir[0] == '/')
        snprintf(data_abs, sizeof data_abs, "%s", data_dir);
    else
        sb_fmt(data_abs, sizeof data_abs, "%s/%s", cwd, data_dir);
    const char **argv = calloc(nnames + 16, sizeof *argv);
    sb_points *shards = calloc((size_t)count, sizeof *shards);
    int rc = SB_EXIT_FAILURE;
    sb_error err;
    if (argv == NULL || shards == NULL) {
        sb_cli_error(cmd, SB_EXIT_FAILURE, "out of memory");
        goto done;
    }
    size_t argc = 0;
    argv[argc++] = "probe";
    for (size_t i = 0; i < nnames; i++)
        argv[argc++] = names[i];
    const char *rest[] = {"--budget", budget_text, "--seeds", seeds_s, "--batch", batch_s,
                          "--src", src_s, "--eval", eval_s, "--data-dir", data_abs};
    for (size_t i = 0; i < sizeof rest / sizeof rest[0]; i++)
        argv[argc++] = rest[i];
    for (size_t k = 0; k < npoints; k++)
        if (sb_points_add(&shards[pts[k].shard - 1], pts[k].key, pts[k].cost_s, &err) != 0) {
            sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
            goto done;
        }
    const sb_slurm_work w = {.cmd = cmd, .run = run, .out = folder, .task_argv = argv, .task_argc = argc,
                             .shards = shards, .nshards = count, .threads = ps->threads, .exclusive = false};
    rc = sb_slurm_submit(so, &w);
done:
    for (int i = 0; shards != NULL && i < count; i++)
        sb_points_free(&shards[i]);
    free(shards);
    free(argv);
    return rc;
}

int sb_cmd_probe(int argc, char **argv)
{
    enum { O_BUDGET = SB_OPT_OWN, O_PRESET, O_SEEDS, O_BATCH, O_SRC, O_EVAL, O_DATA_DIR };
    static const struct option options[] = {
        {"budget", required_argument, NULL, O_BUDGET}, {"preset", required_argument, NULL, O_PRESET},
        {"seeds", required_argument, NULL, O_SEEDS},   {"batch", required_argument, NULL, O_BATCH},
        {"src", required_argument, NULL, O_SRC},       {"eval", required_argument, NULL, O_EVAL},
        SB_OPTION_THREADS,                             {"data-dir", required_argument, NULL, O_DATA_DIR},
        SB_OPTION_RUN,                                 SB_OPTION_OUT,
        SB_OPTION_SHARD,                               SB_SLURM_OPTIONS,
        SB_OPTION_HELP,                                {NULL, 0, NULL, 0},
    };
    const char *cmd = "probe", *preset = NULL, *budget_text = NULL, *data_dir = "data", *run = NULL, *out = NULL;
    sb_probe_settings ps;
    sb_probe_settings_default(&ps);
    sb_slurm_options so = SB_SLURM_OPTIONS_INIT;
    int64_t seeds = 3;
    int shard = 1, shards = 1, o;
    bool threads_given = false;
    optind = 1;
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        int rc = SB_EXIT_OK;
        switch (o) {
        case O_BUDGET: budget_text = optarg; break;
        case O_PRESET: preset = optarg; break;
        case O_SEEDS: rc = sb_opt_integer(cmd, "seeds", optarg, 1, 64, &seeds); break;
        case O_BATCH: rc = sb_opt_integer(cmd, "batch", optarg, 1, 4096, &ps.batch); break;
        case O_SRC: rc = sb_opt_integer(cmd, "src", optarg, 16, 1024, &ps.src_len); break;
        case O_EVAL: rc = sb_opt_integer(cmd, "eval", optarg, 1, 1000000, &ps.eval_examples); break;
        case SB_OPT_THREADS: rc = sb_opt_threads(cmd, optarg, &ps.threads); threads_given = true; break;
        case O_DATA_DIR: data_dir = optarg; break;
        case SB_OPT_RUN: run = optarg; break;
        case SB_OPT_OUT: out = optarg; break;
        case SB_OPT_SHARD: rc = sb_opt_shard(cmd, optarg, &shard, &shards); break;
        case SB_OPT_HELP: usage(stdout); return SB_EXIT_OK;
        default:
            if ((rc = sb_cli_slurm_option(cmd, o, optarg, &so)) < 0)
                rc = sb_opt_bad(cmd, o, argv, options);
            break;
        }
        if (rc != SB_EXIT_OK)
            return rc;
    }
    if (so.resume != NULL) {
        if (!so.on || preset != NULL || optind < argc)
            return sb_cli_error(cmd, SB_EXIT_USAGE, "usage: shapebench probe --slurm --resume DIR [--wait]");
        return sb_slurm_resume(cmd, &so);
    }
    if (so.on && (shards > 1 || threads_given))
        return sb_cli_error(cmd, SB_EXIT_USAGE, "--slurm gives each task its shard and threads (--cpus-per-task); "
                            "--shard and --threads are for one machine");
    const char *const *names = (const char *const *)argv + optind;
    size_t nnames = (size_t)(argc - optind);
    if (preset != NULL) {
        if (nnames > 0)
            return sb_cli_error(cmd, SB_EXIT_USAGE, "give shape names or --preset, not both");
        bool smoke = strcmp(preset, "probe-smoke") == 0;
        if (!smoke && strcmp(preset, "probe") != 0)
            return sb_cli_error(cmd, SB_EXIT_USAGE, "unknown preset '%s' (probe or probe-smoke)", preset);
        names = smoke ? smoke_shapes : probe_shapes;
        nnames = smoke ? sizeof smoke_shapes / sizeof *smoke_shapes : sizeof probe_shapes / sizeof *probe_shapes;
        if (budget_text == NULL)
            budget_text = smoke ? "5e10,1s" : "1.5e12,12s";
        ps.batch = 4; /* twice the optimizer steps of batch 8 for the same FLOPs: ~100 for t5-efficient-tiny */
        if (smoke) {
            seeds = 2;
            ps.src_len = 64;
            ps.eval_examples = 32;
        }
    }
    if (nnames == 0)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "no shapes: name some, or --preset probe (see --help)");
    budget budgets[8];
    size_t nbudgets;
    if (budget_text == NULL)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "--budget is required: FLOPs like 2e12, or seconds like 20s");
    if (parse_budgets(budget_text, budgets, 8, &nbudgets) != 0)
        return sb_cli_error(cmd, SB_EXIT_USAGE,
                            "--budget '%s': a list of up to 8 positive FLOPs (2e12) or seconds (20s)", budget_text);
    if (run == NULL)
        run = preset != NULL ? preset : "probe";
    char folder[1024];
    snprintf(folder, sizeof folder, "%s", out != NULL ? out : "");
    if (out == NULL)
        snprintf(folder, sizeof folder, "results/%s", run);
    if (so.on && sb_slurm_task_threads(cmd, &so, &ps.threads) != SB_EXIT_OK)
        return SB_EXIT_USAGE;

    sb_error err;
    sb_corpus corpus = {0};
    sb_config *cfgs = calloc(nnames, sizeof *cfgs);
    probe_point *pts = calloc(nnames * nbudgets, sizeof *pts);
    sb_points planned = {0};
    sb_results_file res = {.fd = -1};
    sb_exec *x = NULL; /* the system and peaks the records state */
    int rc = SB_EXIT_FAILURE;
    if (cfgs == NULL || pts == NULL) {
        sb_cli_error(cmd, SB_EXIT_FAILURE, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < nnames; i++)
        if (sb_probe_config(names[i], SB_PROBE_VOCAB, &cfgs[i], &err) != 0) {
            rc = sb_cli_error(cmd, SB_EXIT_USAGE, "%s", err.msg);
            goto done;
        }
    int64_t raw_len, tgt_len;
    if (sb_span_corruption_lengths(ps.src_len, SB_NOISE_DENSITY, SB_MEAN_NOISE_SPAN, &raw_len, &tgt_len, &err) != 0) {
        sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
        goto done;
    }
    const sb_run_settings point = probe_settings(&ps, tgt_len);
    const size_t npoints = nnames * nbudgets;
    int count = shards;
    if (so.on && (rc = sb_slurm_task_count(cmd, &so, npoints, npoints, &count)) != SB_EXIT_OK)
        goto done;
    rc = SB_EXIT_FAILURE;
    if (plan_points(cfgs, nnames, budgets, nbudgets, seeds, &point, count, pts, &err) != 0) {
        sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
        goto done;
    }
    /* The corpus before the tasks: compute nodes often have no network, and one preparation is enough. */
    sb_corpus_options copt = {.log = sb_cli_warn, .log_ctx = (void *)cmd};
    if (!so.dry_run && sb_corpus_prepare(data_dir, &copt, &corpus, &err) != 0) {
        sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
        goto done;
    }
    if (so.on) {
        rc = submit(cmd, &so, names, nnames, budget_text, seeds, &ps, data_dir, run, folder, pts, npoints, count);
        goto done;
    }
    for (size_t k = 0; k < npoints; k++)
        if (pts[k].shard == shard && sb_points_add(&planned, pts[k].key, pts[k].cost_s, &err) != 0) {
            sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
            goto done;
        }
    sb_exec_settings xs;
    sb_exec_settings_default(&xs);
    xs.backend = ps.gemm;
    xs.threads = ps.threads;
    if (sb_exec_create(&x, &xs, &err) != 0 || sb_points_write(folder, &planned, &err) != 0 ||
        sb_results_open(&res, folder, sb_cli_warn, (void *)cmd, &err) != 0) {
        sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
        goto done;
    }
    sb_sysinfo sys;
    sb_peaks peaks;
    sb_peak_sizes sizes = sb_peak_sizes_default();
    bool have_sys = sb_sysinfo_collect(&sys, x, &err) == 0;
    bool have_peaks = have_sys && sb_peaks_cached(x, &sys, &sizes, NULL, false, &peaks, &err) == 0;

    sb_progress progress;
    sb_progress_start(&progress, stderr, planned.count * (size_t)seeds);
    size_t done_runs = 0, failed = 0;
    for (size_t k = 0; k < npoints; k++) {
        if (pts[k].shard != shard)
            continue;
        const sb_config *cfg = &cfgs[pts[k].shape];
        const budget *b = &budgets[pts[k].budget];
        if (sb_results_has(&res, pts[k].key)) {
            done_runs += (size_t)seeds;
            continue;
        }
        sb_probe_result r[64];
        memset(r, 0, sizeof r);
        bool ok = true;
        for (int64_t seed = 0; seed < seeds && ok; seed++) {
            char label[SB_KEY_MAX + 64];
            snprintf(label, sizeof label, "%s %s %g seed %lld", cfg->name, sb_budget_kind_name(b->kind), b->value,
                     (long long)seed);
            sb_progress_update(&progress, done_runs, label);
            sb_probe_settings one = ps;
            one.budget_kind = b->kind;
            one.budget = b->value;
            one.seed = (uint64_t)seed;
            if (sb_probe_train(&corpus, cfg, &one, &r[seed], &err) != 0) {
                sb_cli_warn((void *)cmd, err.msg);
                ok = false;
            }
            done_runs++;
        }
        cJSON *rec = ok ? probe_record(run, cfg, &ps, &point, pts[k].key, b, r, (size_t)seeds, have_sys ? &sys : NULL,
                                       have_peaks ? &peaks : NULL)
                        : NULL;
        for (int64_t seed = 0; seed < seeds; seed++)
            sb_probe_result_free(&r[seed]);
        failed += !ok;
        if (rec == NULL) {
            if (ok)
                sb_cli_error(cmd, SB_EXIT_FAILURE, "out of memory building the record of %s", pts[k].key);
            continue;
        }
        if (sb_results_append(&res, rec, &err) != 0) {
            sb_cli_error(cmd, SB_EXIT_FAILURE, "%s (the records before this one are intact)", err.msg);
            goto done;
        }
    }
    sb_progress_finish(&progress);
    char csv[sizeof res.path + 16];
    snprintf(csv, sizeof csv, "%s/results.csv", folder);
    if (sb_records_write_csv(&res.existing, csv, &err) != 0) {
        sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
        goto done;
    }
    /* The table: shape, params, budget, held-out loss ± sd, steps, steps/s. */
    printf("| shape | params | budget | held-out loss (nats/token) | ± sd | steps (seed 0) | steps/s |\n");
    printf("|---|--:|---|--:|--:|--:|--:|\n");
    for (size_t k = 0; k < res.existing.count; k++) {
        const cJSON *rec = res.existing.items[k];
        const cJSON *seeds0 = cJSON_GetArrayItem(sb_record_field(rec, SB_F_QUALITY_PER_SEED), 0);
        const double sd = sb_field_number(rec, SB_F_QUALITY_STDDEV);
        const double steps_per_s = sb_field_number(rec, SB_F_THROUGHPUT_SEQUENCES_PER_S) / (double)ps.batch;
        char sd_text[32] = "–";
        if (!isnan(sd))
            snprintf(sd_text, sizeof sd_text, "%.4f", sd);
        const char *shape = sb_field_string(rec, SB_F_SHAPE), *kind = sb_field_string(rec, SB_F_QUALITY_BUDGET_KIND);
        printf("| %s | %.0f | %s %g | %.4f | %s | %.0f | %.2f |\n", shape != NULL ? shape : "?",
               sb_field_number(rec, SB_F_ANALYTIC_PARAMS), kind != NULL ? kind : "?",
               sb_field_number(rec, SB_F_QUALITY_BUDGET), sb_field_number(rec, SB_F_QUALITY_VALUE), sd_text,
               cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(seeds0, "steps")), steps_per_s);
    }
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

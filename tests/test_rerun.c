/* test_rerun.c — measuring on a busy machine: the contended rule at its threshold, waiting for free cores
 * and the retries it gates (on an injected clock and load, so nothing here depends on timing), the ETA from
 * the points' expected costs, and through the CLI a rerun that measures contended (and, asked, noisy) points
 * again while every other record stays byte for byte. */
#include "cli/cli.h"
#include "tests/helpers.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the contended rule --------------------------------------------------------------------------------- */

Test(rerun, contended_rule_at_its_threshold)
{
    double steady[] = {1.00, 1.01, 0.99, 1.00, 1.02, 0.98};
    sb_stats st = sb_stats_compute(steady, 6);
    char v[256];
    sb_verdict_for(&st, false, SB_CONTENDED_SHARE, 0, v, sizeof v);
    cr_expect_str_eq(v, "ok", "exactly 90 %% of the threads' CPU time is not contended");
    sb_verdict_for(&st, false, nextafter(SB_CONTENDED_SHARE, 0), 0, v, sizeof v);
    cr_expect(strncmp(v, "contended: ", 11) == 0, "just under 90 %% is: %s", v);
    /* Before a retry the same share decides whether the cores are free for the threads. */
    cr_expect(sb_cores_free_enough(1.8, 2));
    cr_expect_not(sb_cores_free_enough(nextafter(1.8, 0), 2));
    cr_expect(sb_cores_free_enough(0.9, 1));
    cr_expect_not(sb_cores_free_enough(0.0, 1));
}

/* ---- waiting for free cores, on a fake clock and load --------------------------------------------------- */

typedef struct {
    double now;
    const double *free; /* one sample each; the last repeats */
    size_t n, samples;
    bool unreadable;
} fake_load;

static double fake_now(void *ctx)
{
    return ((fake_load *)ctx)->now;
}

static int fake_sample(void *ctx, double interval_s, double *free_cores)
{
    fake_load *f = ctx;
    if (f->unreadable)
        return -1;
    f->now += interval_s;
    *free_cores = f->free[f->samples < f->n ? f->samples : f->n - 1];
    f->samples++;
    return 0;
}

static sb_load_source source(fake_load *f)
{
    return (sb_load_source){.now_s = fake_now, .sample = fake_sample, .ctx = f};
}

static sb_retry_waits waits_on(fake_load *f)
{
    return sb_retry_waits_init(source(f));
}

Test(rerun, wait_ends_when_the_cores_are_free)
{
    fake_load f = {.free = (const double[]){0.3, 1.0, 1.9}, .n = 3};
    const sb_load_source src = source(&f);
    double waited, free_cores;
    cr_expect_eq(sb_wait_for_free_cores(&src, 2, 60, &waited, &free_cores), SB_WAIT_FREE);
    cr_expect_eq(f.samples, 3, "sampled while busy, stopped at the first free sample");
    cr_expect_float_eq(waited, 3 * SB_LOAD_SAMPLE_S, 1e-9);
    cr_expect_float_eq(free_cores, 1.9, 1e-12);
}

Test(rerun, wait_gives_up_while_busy)
{
    fake_load f = {.free = (const double[]){0.5}, .n = 1};
    const sb_load_source src = source(&f);
    double waited, free_cores;
    cr_expect_eq(sb_wait_for_free_cores(&src, 2, 10, &waited, &free_cores), SB_WAIT_BUSY);
    cr_expect_float_eq(waited, 10, 1e-9, "waited %g s", waited);
    cr_expect_float_eq(free_cores, 0.5, 1e-12);
    fake_load unreadable = {.unreadable = true};
    const sb_load_source none = source(&unreadable);
    cr_expect_eq(sb_wait_for_free_cores(&none, 2, 10, &waited, &free_cores), SB_WAIT_UNKNOWN);
    cr_expect(isnan(free_cores));
}

/* The real source: what the other processes leave of this machine's cores, whatever they are doing. */
Test(rerun, proc_stat_gives_the_free_cores)
{
    const sb_load_source src = sb_load_source_system();
    double free_cores;
    cr_assert_eq(src.sample(src.ctx, 0.2, &free_cores), 0);
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    cr_expect(free_cores >= 0 && free_cores <= (double)cores, "%g free of %ld", free_cores, cores);
}

/* ---- retries --------------------------------------------------------------------------------------------- */

typedef struct {
    const char *const *verdicts; /* one per measurement; the last repeats */
    size_t n, calls;
} fake_measure;

static void measure_fake(void *ctx, sb_measurement *m)
{
    fake_measure *f = ctx;
    memset(m, 0, sizeof *m);
    snprintf(m->verdict, sizeof m->verdict, "%s", f->verdicts[f->calls < f->n ? f->calls : f->n - 1]);
    m->cpu_share = 0.5;
    f->calls++;
}

static const char *const always_contended[] = {"contended: half"};

Test(rerun, retries_zero_measures_once)
{
    fake_load f = {.free = (const double[]){2.0}, .n = 1};
    sb_retry_waits w = waits_on(&f);
    fake_measure fm = {always_contended, 1, 0};
    sb_measurement m;
    cr_expect_eq(sb_cli_measure_retrying("run", "p", 0, &w, 2, measure_fake, &fm, &m), 0);
    cr_expect_eq(fm.calls, 1);
    cr_expect_eq(f.samples, 0, "no wait without a retry");
    cr_expect(strncmp(m.verdict, "contended", 9) == 0);
}

Test(rerun, retries_once_the_cores_are_free_and_stop_when_not_contended)
{
    fake_load f = {.free = (const double[]){2.0}, .n = 1};
    sb_retry_waits w = waits_on(&f);
    fake_measure fm = {always_contended, 1, 0};
    sb_measurement m;
    cr_expect_eq(sb_cli_measure_retrying("run", "p", 2, &w, 2, measure_fake, &fm, &m), 2);
    cr_expect_eq(fm.calls, 3, "--retries 2: three measurements in all");
    fake_measure ok_second = {(const char *const[]){"contended: half", "ok"}, 2, 0};
    cr_expect_eq(sb_cli_measure_retrying("run", "p", 5, &w, 2, measure_fake, &ok_second, &m), 1);
    cr_expect_str_eq(m.verdict, "ok");
}

/* The first wait lasts up to SB_RETRY_WAIT_S, each later one twice the one before; a load that outlasts a
 * wait ends the retries with the contended record, and the next point then looks once before giving up,
 * until a wait finds the cores free again. */
Test(rerun, waits_back_off_and_give_up_while_busy)
{
    /* 3 busy samples, free (retry 1); 15 busy samples (more than the first wait, less than the second), free. */
    double seq[20];
    for (size_t i = 0; i < 20; i++)
        seq[i] = i == 3 || i == 19 ? 2.0 : 0.2;
    fake_load f = {.free = seq, .n = 20};
    sb_retry_waits w = waits_on(&f);
    fake_measure fm = {always_contended, 1, 0};
    sb_measurement m;
    cr_expect_eq(sb_cli_measure_retrying("run", "p", 2, &w, 2, measure_fake, &fm, &m), 2);
    cr_expect_eq(f.samples, 20);
    cr_expect_float_eq(f.now, 20 * SB_LOAD_SAMPLE_S, 1e-9);

    fake_load busy = {.free = (const double[]){0.2}, .n = 1};
    w = waits_on(&busy);
    fm.calls = 0;
    cr_expect_eq(sb_cli_measure_retrying("run", "p", 3, &w, 2, measure_fake, &fm, &m), 0);
    cr_expect_eq(fm.calls, 1, "a machine that stays busy is not measured again");
    cr_expect_float_eq(busy.now, SB_RETRY_WAIT_S, 1e-9, "waited %g s", busy.now);
    /* The next point: one look. */
    fm.calls = 0;
    cr_expect_eq(sb_cli_measure_retrying("run", "q", 3, &w, 2, measure_fake, &fm, &m), 0);
    cr_expect_eq(fm.calls, 1);
    cr_expect_float_eq(busy.now, SB_RETRY_WAIT_S + SB_LOAD_SAMPLE_S, 1e-9, "waited %g s", busy.now);
    /* The load drops: a retry, and the full wait again after it. */
    busy.free = (const double[]){2.0};
    fm.calls = 0;
    cr_expect_eq(sb_cli_measure_retrying("run", "r", 1, &w, 2, measure_fake, &fm, &m), 1);
    cr_expect_float_eq(w.first_wait_s, SB_RETRY_WAIT_S, 1e-12);
}

/* ---- the ETA from the points' costs ----------------------------------------------------------------------- */

/* A sweep that starts with its costliest point (the default preset starts with the XXL shapes): the count of
 * points says the rest takes as long each, their costs say what it takes. */
Test(rerun, eta_follows_the_points_costs)
{
    sb_job_list jobs = {.items = calloc(11, sizeof(sb_job)), .count = 11};
    const sb_peaks reference = sb_peaks_reference();
    double cost[11], total = 0;
    sb_error err;
    for (size_t i = 0; i < jobs.count; i++) {
        snprintf(jobs.items[i].model, sizeof jobs.items[i].model, "%s", i == 0 ? "t5-efficient-xxl" : "t5-efficient-tiny");
        sb_run_settings_default(&jobs.items[i].settings);
        sb_config cfg;
        cr_assert_eq(sb_config_resolve(jobs.items[i].model, &cfg, NULL, NULL, &err), 0, "%s", err.msg);
        cr_assert_eq(sb_job_cost_s(&cfg, &jobs.items[i].settings, &reference, &cost[i], &err), 0, "%s", err.msg);
        total += cost[i];
    }
    cr_assert_gt(cost[0], 10 * cost[1], "xxl %g s, tiny %g s", cost[0], cost[1]);
    /* Before any point: the expected cost itself. */
    cr_expect_float_eq(sb_eta_from_costs(0, total, 0), total, 1e-9);
    /* The xxl point took 1.5 times its cost: the ten tiny ones should too. */
    const double left = total - cost[0], eta = sb_eta_from_costs(cost[0], left, 1.5 * cost[0]);
    cr_expect_float_eq(eta, 1.5 * left, 1e-9 * total);
    cr_expect_lt(eta, 0.5 * 1.5 * cost[0] * 10, "not ten more xxl points: %g s", eta);

    /* The progress line shows it, each point's setup counted with its cost. */
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    sb_run_progress p;
    sb_run_progress_start(&p, out, jobs.count, total);
    sb_run_progress_done(&p, cost[0]);
    p.done_elapsed_s = 1.5 * (cost[0] + SB_POINT_SETUP_S);
    sb_run_progress_next(&p, "t5-efficient-tiny forward");
    fclose(out);
    char want[64], line[96];
    sb_format_duration(1.5 * (left + 10 * SB_POINT_SETUP_S), want, sizeof want);
    snprintf(line, sizeof line, "ETA %s: t5-efficient-tiny forward", want);
    cr_expect(strncmp(text, "[1/11] elapsed ", 15) == 0 && strstr(text, line) != NULL, "want '%s' in %s", line, text);
    free(text);
    sb_job_list_free(&jobs);
}

/* ---- a rerun through the CLI ----------------------------------------------------------------------------- */

static char dir[64];

static void make_dir(void)
{
    test_make_temp_dir(dir, sizeof dir, "rerun");
}

static void remove_dir(void)
{
    test_remove_tree(dir);
}

TestSuite(rerun_cli, .init = make_dir, .fini = remove_dir, .timeout = 300);

/* Line `i` (0-based) of text, malloc'd, without its newline. */
static char *line_of(const char *text, int i)
{
    for (; i > 0 && text != NULL; i--)
        text = (text = strchr(text, '\n')) != NULL ? text + 1 : NULL;
    cr_assert_not_null(text);
    return strndup(text, strcspn(text, "\n"));
}

/* Replaces the verdict of line i of the results file with `verdict`. */
static void set_verdict(const char *path, int i, const char *verdict)
{
    char *text = test_read_file(path, NULL), *line = line_of(text, i);
    cJSON *r = cJSON_Parse(line);
    cr_assert_not_null(r);
    cJSON_ReplaceItemInObject(r, "verdict", cJSON_CreateString(verdict));
    char *fixed = cJSON_PrintUnformatted(r);
    char *at = strstr(text, line);
    size_t len = strlen(text) - strlen(line) + strlen(fixed) + 1;
    char *out = malloc(len);
    snprintf(out, len, "%.*s%s%s", (int)(at - text), text, fixed, at + strlen(line));
    test_write_file(path, out, strlen(out));
    cJSON_Delete(r);
    free(fixed);
    free(out);
    free(line);
    free(text);
}

static int rerun(const char *out_dir, const char *extra, char **log)
{
    char args[512];
    snprintf(args, sizeof args, "run t5-efficient-tiny --mode encode,forward,generate --src 16 --tgt 4 --warmup 0 "
                                "--min-reps 1 --min-time 0 --retries 0 --out %s %s 2>&1", out_dir, extra);
    return test_run_cli(args, log);
}

Test(rerun_cli, a_rerun_measures_contended_points_again_and_keeps_the_rest)
{
    char out_dir[96], path[128], *log;
    snprintf(out_dir, sizeof out_dir, "%s/r", dir);
    snprintf(path, sizeof path, "%s/results.jsonl", out_dir);
    cr_assert_eq(rerun(out_dir, "", &log), 0, "%s", log);
    free(log);
    /* Whatever the first run found, the second holds a contended record, a noisy one and a clean one. */
    set_verdict(path, 0, "ok");
    set_verdict(path, 1, "contended: the timed repetitions got 50 % of their threads' CPU time");
    set_verdict(path, 2, "noisy");
    char *before = test_read_file(path, NULL);
    char *l0 = line_of(before, 0), *l1 = line_of(before, 1), *l2 = line_of(before, 2);

    cr_assert_eq(rerun(out_dir, "", &log), 0, "%s", log);
    cr_expect(strstr(log, "resuming") != NULL && strstr(log, "3 of 3 already measured") != NULL, "%s", log);
    cr_expect(strstr(log, "1 of them measured again") != NULL, "%s", log);
    free(log);
    char *after = test_read_file(path, NULL), *m0 = line_of(after, 0), *m1 = line_of(after, 1),
         *m2 = line_of(after, 2);
    cr_expect_str_eq(m0, l0, "the ok record stays byte for byte");
    cr_expect_str_eq(m2, l2, "a noisy record is kept unless asked for");
    cr_expect_str_neq(m1, l1, "the contended record is replaced");
    cJSON *r = cJSON_Parse(m1), *old = cJSON_Parse(l1);
    cr_expect_str_eq(sb_record_key_of(r), sb_record_key_of(old), "in its place, the same key");
    cJSON_Delete(r);
    cJSON_Delete(old);
    cr_expect_eq(strchr(after, '\n') - after, (long)strlen(m0));
    cr_expect_eq(after[strlen(after) - 1], '\n');
    free(after);

    /* --remeasure noisy: the noisy point too (kept only when its new measurement is contended). */
    cr_assert_eq(rerun(out_dir, "--remeasure noisy", &log), 0, "%s", log);
    after = test_read_file(path, NULL);
    char *n0 = line_of(after, 0), *n2 = line_of(after, 2);
    cr_expect(strcmp(n2, l2) != 0 || strstr(log, "kept the noisy record (the new one is contended)") != NULL, "%s",
              log);
    cr_expect_str_eq(n0, l0);
    free(log);
    free(after);
    free(n0);
    free(n2);

    /* The readers take the file as before: status counts it, merge copies it. */
    char args[256], merged[96];
    snprintf(args, sizeof args, "status %s 2>&1", out_dir);
    cr_expect_eq(test_run_cli(args, &log), 0, "%s", log);
    free(log);
    snprintf(merged, sizeof merged, "%s/m", dir);
    snprintf(args, sizeof args, "merge %s --out %s 2>&1", out_dir, merged);
    cr_expect_eq(test_run_cli(args, &log), 0, "%s", log);
    free(log);
    snprintf(path, sizeof path, "%s/results.jsonl", merged);
    after = test_read_file(path, NULL);
    char *merged0 = line_of(after, 0);
    cr_expect_str_eq(merged0, l0, "merge copies the records as they are");
    free(merged0);
    free(after);
    free(before);
    free(l0);
    free(l1);
    free(l2);
    free(m0);
    free(m1);
    free(m2);
}

/* status says how many points a rerun would measure again. */
Test(rerun_cli, status_counts_the_contended_points)
{
    char run[96], path[128], args[160], *out;
    snprintf(run, sizeof run, "%s/s", dir);
    sb_points p = {0};
    sb_error err;
    cr_assert_eq(sb_points_add(&p, "a|forward", 2, &err), 0);
    cr_assert_eq(sb_points_add(&p, "b|forward", 3, &err), 0);
    cr_assert_eq(sb_points_write(run, &p, &err), 0);
    sb_points_free(&p);
    snprintf(path, sizeof path, "%s/results.jsonl", run);
    const char rec[] = "{\"schema_version\":3,\"key\":\"a|forward\",\"verdict\":\"contended: 40 %\"}\n"
                       "{\"schema_version\":3,\"key\":\"b|forward\",\"verdict\":\"ok\"}\n";
    test_write_file(path, rec, sizeof rec - 1);
    snprintf(args, sizeof args, "status %s", run);
    cr_assert_eq(test_run_cli(args, &out), 0);
    cr_expect(strstr(out, "2 of 2 planned points recorded (0 failed); ETA -\n1 recorded contended") != NULL, "%s",
              out);
    free(out);
}

Test(rerun_cli, retries_and_remeasure_are_checked)
{
    char *log;
    cr_expect_eq(test_run_cli("run t5-efficient-tiny --retries -1 2>&1", &log), SB_EXIT_USAGE);
    cr_expect(strstr(log, "--retries '-1' must be a whole number in 0..100") != NULL, "%s", log);
    free(log);
    cr_expect_eq(test_run_cli("sweep --preset smoke --retries 101 2>&1", &log), SB_EXIT_USAGE);
    free(log);
    cr_expect_eq(test_run_cli("run t5-efficient-tiny --remeasure none,noisy 2>&1", &log), SB_EXIT_USAGE);
    cr_expect(strstr(log, "must list contended and/or noisy, or be none") != NULL, "%s", log);
    free(log);
    cr_expect_eq(test_run_cli("sweep --preset smoke --remeasure failed 2>&1", &log), SB_EXIT_USAGE);
    cr_expect(strstr(log, "'failed' is not contended, noisy or none") != NULL, "%s", log);
    free(log);
}

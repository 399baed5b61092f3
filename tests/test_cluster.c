/* test_cluster.c — what running on a cluster rests on, without a cluster: shards balanced by expected cost, the
 * cost model, the points a folder plans and their merge, a submission's plan and its tasks' logs, the batch
 * scripts (--dry-run) and status through the CLI, shell quoting, a captured tool's output, the instruction-set
 * check. The Slurm cluster itself is tested by tests/slurm/test.sh (make test-slurm). */
#include "cli/cli.h"
#include "tests/helpers.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static void make_dir(void)
{
    test_make_temp_dir(dir, sizeof dir, "cluster");
}

static void remove_dir(void)
{
    test_remove_tree(dir);
}

TestSuite(cluster, .init = make_dir, .fini = remove_dir, .timeout = 120);

Test(cluster, partition_puts_the_costliest_first_where_least_is)
{
    const int64_t cost[] = {1, 10, 9, 8, 1, 1};
    int shard_of[6];
    sb_error err;
    cr_assert_eq(sb_partition_by_cost(cost, 6, 2, shard_of, &err), 0, "%s", err.msg);
    /* 10 -> 1, 9 -> 2, 8 -> 2 (9 < 10), then the ones: 1 (10 < 17) three times: 13 and 17 */
    const int want[] = {1, 1, 2, 2, 1, 1};
    for (int i = 0; i < 6; i++)
        cr_expect_eq(shard_of[i], want[i], "item %d: shard %d", i, shard_of[i]);
    /* Equal costs (or none known) spread by count, in index order. */
    const int64_t zero[] = {0, 0, 0, 0, 0};
    cr_assert_eq(sb_partition_by_cost(zero, 5, 3, shard_of, &err), 0);
    const int spread[] = {1, 2, 3, 1, 2};
    for (int i = 0; i < 5; i++)
        cr_expect_eq(shard_of[i], spread[i], "zero-cost item %d: shard %d", i, shard_of[i]);
}

/* The default sweep in 4 shards: every point once, a shape's points together, the large shapes spread. */
Test(cluster, default_sweep_shards_are_balanced_by_cost)
{
    sb_sweep_spec spec;
    sb_job_list jobs;
    sb_error err;
    cr_assert_eq(sb_sweep_preset("default", &spec, &err), 0, "%s", err.msg);
    spec.gemms[spec.ngemms++] = SB_GEMM_OPENBLAS; /* what the command does before expanding: a backend */
    cr_assert_eq(sb_sweep_expand(&spec, &jobs, &err), 0, "%s", err.msg);
    int *shard_of = calloc(jobs.count, sizeof *shard_of), *again = calloc(jobs.count, sizeof *again);
    double *cost = calloc(jobs.count, sizeof *cost);
    cr_assert_eq(sb_job_list_shards(&jobs, 4, shard_of, cost, &err), 0, "%s", err.msg);
    cr_assert_eq(sb_job_list_shards(&jobs, 4, again, NULL, &err), 0, "%s", err.msg);
    double load[4] = {0}, total = 0;
    int big_shards = 0, seen_big[4] = {0};
    for (size_t j = 0; j < jobs.count; j++) {
        cr_assert(shard_of[j] >= 1 && shard_of[j] <= 4);
        cr_expect_eq(shard_of[j], again[j], "the split is deterministic");
        load[shard_of[j] - 1] += cost[j];
        total += cost[j];
        for (size_t k = 0; k < jobs.count; k++)
            if (jobs.items[k].model_index == jobs.items[j].model_index)
                cr_expect_eq(shard_of[k], shard_of[j], "%s: one shape's points in one shard", jobs.items[j].model);
        const bool big = strncmp(jobs.items[j].model, "t5-efficient-xxl", 16) == 0 ||
                         strncmp(jobs.items[j].model, "t5-efficient-xl", 15) == 0;
        if (big && !seen_big[shard_of[j] - 1]++)
            big_shards++;
    }
    for (int s = 0; s < 4; s++)
        cr_expect(fabs(load[s] - total / 4) < 0.1 * total / 4, "shard %d costs %.1f s of %.1f s in all", s + 1, load[s],
                  total);
    cr_expect_eq(big_shards, 4, "the xl and xxl shapes are spread over every shard, not %d", big_shards);
    sb_job_list one = jobs;
    cr_assert_eq(sb_job_list_shard(&one, 2, 4, &err), 0);
    size_t in_two = 0;
    for (size_t j = 0; j < jobs.count; j++)
        in_two += again[j] == 2;
    cr_expect_eq(one.count, in_two, "sb_job_list_shard keeps its shard's jobs");
    free(shard_of);
    free(again);
    free(cost);
    sb_job_list_free(&jobs);
    sb_sweep_spec_free(&spec);
}

/* A job's cost follows the timing loop: warmup and repetitions of the expected time; sampled layers when the
 * repetitions would not fit max_time_s. */
Test(cluster, job_cost_follows_the_timing_loop)
{
    sb_config cfg;
    sb_error err;
    cr_assert_eq(sb_config_resolve("t5-efficient-base", &cfg, NULL, NULL, &err), 0, "%s", err.msg);
    sb_run_settings s;
    sb_run_settings_default(&s);
    s.mode = SB_MODE_FORWARD;
    s.warmup = 1;
    s.min_reps = 3;
    s.min_time_s = 0;
    s.max_time_s = 1000;
    const sb_peaks ref = sb_peaks_reference();
    double rep, cost;
    cr_assert_eq(sb_expected_rep_s(&cfg, &s, &ref, &rep, &err), 0, "%s", err.msg);
    cr_assert_eq(sb_job_cost_s(&cfg, &s, &ref, &cost, &err), 0, "%s", err.msg);
    cr_expect(rep > 0.1 && rep < 10, "t5-efficient-base's forward at 512/114: %g s", rep);
    cr_expect_float_eq(cost, 4 * rep, 1e-9 * rep, "1 warmup + 3 repetitions: %g s, not %g s", 4 * rep, cost);
    s.min_time_s = 20 * rep;
    cr_assert_eq(sb_job_cost_s(&cfg, &s, &ref, &cost, &err), 0);
    cr_expect_float_eq(cost, 21 * rep, 1e-6 * rep, "repetitions until min_time_s");
    s.min_time_s = 0;
    s.max_time_s = rep; /* 3 repetitions do not fit: 4 of 12 blocks per stack are timed */
    cr_assert_eq(sb_job_cost_s(&cfg, &s, &ref, &cost, &err), 0);
    cr_expect_float_eq(cost, 4 * rep * 8 / 24, 1e-6 * rep, "sampled: %g s", cost);
    s.mode = SB_MODE_ENCODE;
    double encode;
    cr_assert_eq(sb_expected_rep_s(&cfg, &s, &ref, &encode, &err), 0);
    cr_expect(encode > 0 && encode < rep, "encode %g s within forward's %g s", encode, rep);
}

Test(cluster, points_round_trip_and_merge_as_a_union)
{
    char a[96], b[96], out[96];
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    sb_points p = {0}, q = {0}, got;
    sb_error err;
    bool present;
    cr_assert_eq(sb_points_add(&p, "x|forward", 1.5, &err), 0);
    cr_assert_eq(sb_points_add(&p, "y|forward", 2.25, &err), 0);
    cr_expect_eq(sb_points_add(&p, "bad\tkey", 1, &err), -1, "a tab would break the file");
    cr_assert_eq(sb_points_write(a, &p, &err), 0, "%s", err.msg);
    cr_assert_eq(sb_points_load(a, &got, &present, &err), 0, "%s", err.msg);
    cr_expect(present && got.count == 2 && strcmp(got.keys[1], "y|forward") == 0 && got.cost_s[1] == 2.25);
    sb_points_free(&got);
    cr_assert_eq(sb_points_load(dir, &got, &present, &err), 0);
    cr_expect(!present && got.count == 0, "no file, no points");
    /* b planned its points but recorded nothing yet (no results.jsonl): merge takes its points. */
    cr_assert_eq(sb_points_add(&q, "y|forward", 2.25, &err), 0);
    cr_assert_eq(sb_points_add(&q, "z|forward", 3, &err), 0);
    cr_assert_eq(sb_points_write(b, &q, &err), 0);
    char path[128];
    snprintf(path, sizeof path, "%s/results.jsonl", a);
    test_write_file(path, "{\"schema_version\":2,\"key\":\"x|forward\"}\n", 39);
    size_t written;
    const char *dirs[] = {a, b};
    cr_assert_eq(sb_results_merge(dirs, 2, out, &written, NULL, NULL, &err), 0, "%s", err.msg);
    cr_expect_eq(written, 1);
    cr_assert_eq(sb_points_load(out, &got, &present, &err), 0);
    cr_expect(present && got.count == 3 && sb_points_has(&got, "x|forward") && sb_points_has(&got, "z|forward"));
    sb_points_free(&got);
    sb_points_free(&p);
    sb_points_free(&q);
}

Test(cluster, plan_round_trip_and_task_logs)
{
    sb_slurm_plan plan = {.tasks = 3};
    snprintf(plan.dir, sizeof plan.dir, "%s/run", dir);
    snprintf(plan.cmd, sizeof plan.cmd, "sweep");
    snprintf(plan.run, sizeof plan.run, "run");
    sb_error err;
    const int all[] = {1, 2, 3}, two[] = {2};
    cr_assert_eq(sb_slurm_plan_add(&plan, 40, 41, all, 3, &err), 0);
    cr_assert_eq(sb_slurm_plan_add(&plan, 50, 51, two, 1, &err), 0);
    cr_assert_eq(sb_slurm_plan_save(&plan, &err), 0, "%s", err.msg);
    sb_slurm_plan back;
    cr_assert_eq(sb_slurm_plan_load(plan.dir, &back, &err), 0, "%s", err.msg);
    cr_expect(back.tasks == 3 && back.nsubs == 2 && strcmp(back.cmd, "sweep") == 0);
    cr_expect_eq(sb_slurm_plan_latest(&back, 2)->array_job, 50);
    cr_expect_eq(sb_slurm_plan_latest(&back, 3)->array_job, 40);
    cr_expect_eq(sb_slurm_plan_load(dir, &back, &err), SB_TOOL_MISSING, "a folder without a plan");
    char shard[SB_PATH_MAX + 32], log[256];
    sb_slurm_shard_dir(&plan, 2, shard, sizeof shard);
    cr_expect(strstr(shard, "/run/shard-2of3") != NULL, "%s", shard);
    snprintf(log, sizeof log, "%s/run/slurm/logs/50_1.out", dir);
    cr_assert_eq(sb_mkdir_parent(log, &err), 0, "%s", err.msg);
    const char failed[] = "shapebench task: shard 2 of 3\nshapebench sweep: warning: peaks contended\n"
                          "shapebench sweep: cannot open x/results.jsonl: Is a directory\nshapebench task: exit 1\n";
    test_write_file(log, failed, sizeof failed - 1);
    sb_slurm_task_log t;
    sb_slurm_task_log_read(&plan, 50, 1, &t);
    cr_expect(t.found && t.exited && t.exit_status == 1);
    cr_expect_str_eq(t.why, "shapebench sweep: cannot open x/results.jsonl: Is a directory");
    snprintf(log, sizeof log, "%s/run/slurm/logs/40_2.out", dir);
    const char killed[] = "shapebench task: pid 7\nslurmstepd-n1: error: *** JOB 42 ON n1 CANCELLED AT 2026 ***\n";
    test_write_file(log, killed, sizeof killed - 1);
    sb_slurm_task_log_read(&plan, 40, 2, &t);
    cr_expect(t.found && !t.exited && strstr(t.why, "CANCELLED") != NULL, "%s", t.why);
    sb_slurm_task_log_read(&plan, 40, 0, &t);
    cr_expect(!t.found);
    sb_slurm_plan_free(&plan);
    sb_slurm_plan_free(&back);
}

Test(cluster, shell_words_survive_the_shell)
{
    sb_strbuf b = {0};
    sb_strbuf_printf(&b, "printf '%%s|' ");
    sb_strbuf_shell_word(&b, "it's $HOME `x` \"q\"");
    sb_strbuf_printf(&b, " ");
    sb_strbuf_shell_word(&b, "");
    char *argv[] = {"sh", "-c", (char *)sb_strbuf_text(&b), NULL}, *out;
    int status;
    sb_error err;
    cr_assert_eq(sb_run_tool_output(argv, NULL, &out, &status, &err), 0, "%s", err.msg);
    cr_expect_eq(status, 0);
    cr_expect_str_eq(out, "it's $HOME `x` \"q\"||");
    free(out);
    sb_strbuf_free(&b);
}

Test(cluster, isa_names_what_the_cpu_lacks)
{
    const sb_isa_feature f[] = {{"avx2", true, true}, {"avx512f", true, false}, {"avx512bw", true, false},
                                {"amx", false, false}};
    char missing[64];
    sb_isa_missing(f, 4, missing, sizeof missing);
    cr_expect_str_eq(missing, "avx512f avx512bw");
    sb_isa_missing(f, 1, missing, sizeof missing);
    cr_expect_str_eq(missing, "");
    cr_expect(sb_isa_check(), "the binary runs on the CPU it was built on");
}

/* The scripts a person reads before submitting: the task's command, its shard and folder, requeue. */
Test(cluster, dry_run_prints_the_scripts_and_writes_nothing)
{
    char args[256], *out;
    snprintf(args, sizeof args, "sweep --preset smoke --slurm --tasks 5 --cpus-per-task=3 --partition p1 "
                                "--sbatch-arg=--qos=short --dry-run --out %s/d", dir);
    cr_assert_eq(test_run_cli(args, &out), 0, "%s", out);
    static const char *const want[] = {
        "#SBATCH --cpus-per-task=3\n", "#SBATCH --exclusive\n", "#SBATCH --requeue\n", "#SBATCH --partition=p1\n",
        "#SBATCH --qos=short\n",
        "'sweep' '--preset' 'smoke' '--gemm' '", /* the backend the submission chose */
        "' --threads \"$SLURM_CPUS_PER_TASK\" --run 'd' --shard \"$shard/3\"",
        "\"$bin\" merge \"$dir\"/shard-*of3 --out \"$dir\"", "\"$bin\" status \"$dir\" --check",
        "sbatch --parsable --array=0-2 ", /* 5 tasks asked, 3 shapes */
        "sbatch --parsable --dependency=afterany:<array job> "};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_expect(strstr(out, want[i]) != NULL, "no '%s' in:\n%s", want[i], out);
    free(out);
    char path[96];
    snprintf(path, sizeof path, "%s/d", dir);
    cr_expect_neq(access(path, F_OK), 0, "--dry-run writes nothing");
    cr_expect_eq(test_run_cli("sweep --preset smoke --slurm --dry-run --cpus-per-task=1", NULL), SB_EXIT_USAGE,
                 "--tasks or --points-per-task is required");
    cr_expect_eq(test_run_cli("sweep --preset smoke --slurm --tasks 2 --shard 1/2 --cpus-per-task=1", NULL),
                 SB_EXIT_USAGE, "a task's shard is Slurm's to give");
    snprintf(args, sizeof args, "probe --preset probe-smoke --slurm --points-per-task=2 --cpus-per-task=2 --dry-run "
                                "--out %s/e", dir);
    cr_assert_eq(test_run_cli(args, &out), 0, "%s", out);
    cr_expect(strstr(out, "'probe' 't5-efficient-tiny' 't5-efficient-small-dm128' 't5-efficient-tiny-nh8' "
                          "'--budget' '5e10,1s' '--seeds' '2' '--batch' '4' '--src' '64' '--eval' '32' "
                          "'--curve-points' '8' '--optimizer' 'adafactor' '--schedule' 'inverse_sqrt' '--lr' '0.01' "
                          "'--warmup' '0.05' '--floor' '0' '--dropout' '0' '--gemm' 'onednn' '--dtype' 'f32'") != NULL,
              "the recipe spelled out for every task: %s", out);
    cr_expect(strstr(out, "#SBATCH --exclusive") == NULL, "a probe shares nodes by default");
    cr_expect(strstr(out, "--array=0-2 ") != NULL, "6 points, 2 per task: %s", out);
    free(out);
}

/* status of a run on one machine: planned against recorded, the missing named, --check failing. */
Test(cluster, status_names_missing_points)
{
    char run[96], args[160], *out;
    snprintf(run, sizeof run, "%s/s", dir);
    sb_points p = {0};
    sb_error err;
    cr_assert_eq(sb_points_add(&p, "a|forward", 2, &err), 0);
    cr_assert_eq(sb_points_add(&p, "b|forward", 3, &err), 0);
    cr_assert_eq(sb_points_write(run, &p, &err), 0);
    sb_points_free(&p);
    char path[128];
    snprintf(path, sizeof path, "%s/results.jsonl", run);
    const char rec[] = "{\"schema_version\":2,\"key\":\"a|forward\",\"verdict\":\"failed: out of memory\"}\n";
    test_write_file(path, rec, sizeof rec - 1);
    snprintf(args, sizeof args, "status %s", run);
    cr_assert_eq(test_run_cli(args, &out), 0);
    cr_expect(strstr(out, "1 of 2 planned points recorded (1 failed); ETA 3.0 s") != NULL, "%s", out);
    cr_expect(strstr(out, "missing (all): b|forward") != NULL, "%s", out);
    cr_expect(strstr(out, "failed (all): a|forward: failed: out of memory") != NULL, "%s", out);
    free(out);
    snprintf(args, sizeof args, "status %s --check", run);
    cr_expect_eq(test_run_cli(args, NULL), SB_EXIT_FAILURE);
}

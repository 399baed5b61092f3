/* test_sweep.c — sweeps: list and range parsing, the cross product, shards, presets; and through the CLI
 * as a user runs it: kill -9 mid-sweep then resume, two shards merged against one unsharded run, merge
 * refusing mixed schema versions, an unwritable --out. */
#include "harness/harness.h"
#include "tests/helpers.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void expect_list(const char *text, const int64_t *want, size_t n)
{
    sb_i64_list l;
    sb_error err;
    cr_assert_eq(sb_parse_list(text, 0, 1 << 20, &l, &err), 0, "%s: %s", text, err.msg);
    cr_expect_eq(l.n, n, "%s: %zu values", text, l.n);
    for (size_t i = 0; i < n && i < l.n; i++)
        cr_expect_eq(l.v[i], want[i], "%s[%zu] = %lld", text, i, (long long)l.v[i]);
    free(l.v);
}

Test(sweep, lists_and_ranges)
{
    expect_list("1,8", (int64_t[]){1, 8}, 2);
    expect_list("128-1024*2", (int64_t[]){128, 256, 512, 1024}, 4);
    expect_list("128-512+128", (int64_t[]){128, 256, 384, 512}, 4);
    expect_list("100-1000*3", (int64_t[]){100, 300, 900}, 3);
    expect_list("1,4-16*2,100", (int64_t[]){1, 4, 8, 16, 100}, 5);
    expect_list("3-5", (int64_t[]){3, 4, 5}, 3);
    static const char *const bad[] = {"", "abc", "8-1", "0-8*2", "1-8*1", "1,,2", "1-", "-4", "4*2", "2000000",
                                      "1-1000000+1", " 5", "+5", "0x10", "5abc", "1-8*2x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sb_i64_list l;
        sb_error err;
        cr_expect_eq(sb_parse_list(bad[i], 0, 1 << 20, &l, &err), -1, "'%s' must be refused", bad[i]);
    }
}

Test(sweep, shard_syntax)
{
    int i, n;
    sb_error err;
    cr_expect_eq(sb_parse_shard("2/3", &i, &n, &err), 0);
    cr_expect(i == 2 && n == 3);
    static const char *const bad[] = {"0/2", "3/2", "1", "a/b", "1/0", "/2"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        cr_expect_eq(sb_parse_shard(bad[k], &i, &n, &err), -1, "%s", bad[k]);
}

Test(sweep, cross_product_order_and_shards_partition_it)
{
    sb_sweep_spec spec;
    sb_sweep_spec_init(&spec);
    sb_error err;
    cr_assert_eq(sb_sweep_add_model(&spec, "t5-efficient-tiny", &err), 0);
    cr_assert_eq(sb_sweep_add_model(&spec, "t5-efficient-mini", &err), 0);
    spec.modes[spec.nmodes++] = SB_MODE_ENCODE;
    spec.modes[spec.nmodes++] = SB_MODE_FORWARD;
    cr_assert_eq(sb_parse_list("1,8", 1, 64, &spec.batch, &err), 0);
    cr_assert_eq(sb_parse_list("64-256*2", 1, 1024, &spec.src, &err), 0);
    cr_assert_eq(sb_parse_list("16", 1, 1024, &spec.tgt, &err), 0);
    cr_assert_eq(sb_parse_list("0", 0, 64, &spec.threads, &err), 0);
    spec.precisions[spec.nprecisions++] = SB_PRECISION_F32;
    spec.gemms[spec.ngemms++] = SB_GEMM_OPENBLAS;
    sb_job_list all;
    cr_assert_eq(sb_sweep_expand(&spec, &all, &err), 0, "%s", err.msg);
    cr_assert_eq(all.count, 2 * 2 * 2 * 3);
    cr_expect_str_eq(all.items[0].model, "t5-efficient-tiny");
    cr_expect_eq(all.items[0].settings.mode, SB_MODE_ENCODE);
    cr_expect_eq(all.items[1].settings.src_len, 128, "src varies fastest here");
    cr_expect_eq(all.items[3].settings.batch, 8);
    cr_expect_str_eq(all.items[12].model, "t5-efficient-mini");

    size_t seen[24] = {0}, total = 0;
    for (int s = 1; s <= 3; s++) {
        sb_job_list part;
        cr_assert_eq(sb_sweep_expand(&spec, &part, &err), 0);
        cr_assert_eq(sb_job_list_shard(&part, s, 3, &err), 0, "%s", err.msg);
        for (size_t j = 0; j < part.count; j++)
            for (size_t k = 0; k < all.count; k++)
                if (memcmp(&part.items[j], &all.items[k], sizeof all.items[k]) == 0)
                    seen[k]++;
        total += part.count;
        sb_job_list_free(&part);
    }
    cr_expect_eq(total, all.count);
    for (size_t k = 0; k < all.count; k++)
        cr_expect_eq(seen[k], 1, "point %zu in exactly one shard", k);
    sb_job_list_free(&all);
    sb_sweep_spec_free(&spec);
}

static bool has_model(const sb_sweep_spec *spec, const char *name)
{
    for (size_t i = 0; i < spec->nmodels; i++)
        if (strcmp(spec->models[i], name) == 0)
            return true;
    return false;
}

Test(sweep, presets)
{
    sb_sweep_spec spec;
    sb_error err;
    cr_assert_eq(sb_sweep_preset("smoke", &spec, &err), 0, "%s", err.msg);
    cr_expect_eq(spec.ngemms, 0, "a preset names no backend: the sweep runs on the faster one");
    spec.gemms[spec.ngemms++] = SB_GEMM_OPENBLAS;
    sb_job_list jobs;
    cr_assert_eq(sb_sweep_expand(&spec, &jobs, &err), 0);
    cr_expect_eq(jobs.count, 12); /* 3 shapes x 4 modes */
    for (size_t i = 0; i < spec.nmodels; i++) {
        sb_config cfg;
        cr_expect_eq(sb_config_resolve(spec.models[i], &cfg, NULL, NULL, &err), 0, "%s: %s", spec.models[i], err.msg);
    }
    sb_job_list_free(&jobs);
    sb_sweep_spec_free(&spec);

    cr_assert_eq(sb_sweep_preset("default", &spec, &err), 0, "%s", err.msg);
    cr_expect(has_model(&spec, "t5-efficient-base") && has_model(&spec, "t5-efficient-xxl"));
    cr_expect(has_model(&spec, "switch-base-8") && has_model(&spec, "switch-large-128"));
    cr_expect_not(has_model(&spec, "t5-efficient-base-sh"), "sh rows are unsupported");
    cr_expect_not(has_model(&spec, "t5-small") || has_model(&spec, "switch-xxl-128"));
    for (size_t i = 0; i < spec.nmodels; i++) {
        sb_config cfg;
        cr_expect_eq(sb_config_resolve(spec.models[i], &cfg, NULL, NULL, &err), 0, "%s: %s", spec.models[i], err.msg);
    }
    cr_expect_eq(spec.nmodes, 2);
    sb_sweep_spec_free(&spec);

    cr_assert_eq(sb_sweep_preset("paper", &spec, &err), 0, "%s", err.msg);
    cr_expect(has_model(&spec, "t5-small") && has_model(&spec, "switch-c-2048"));
    sb_sweep_spec_free(&spec);
    cr_expect_eq(sb_sweep_preset("huge", &spec, &err), -1);
}

/* ---- the CLI ------------------------------------------------------------------------------------------- */

static char dir[64];

static void make_dir(void)
{
    test_make_temp_dir(dir, sizeof dir, "sweep");
}

static void remove_dir(void)
{
    test_remove_tree(dir);
}

TestSuite(cli, .init = make_dir, .fini = remove_dir, .timeout = 300);

/* Starts the CLI with stdout and stderr to <dir>/<log>. */
static pid_t spawn(const char *log, const char *const *args)
{
    const char *bin = getenv("SHAPEBENCH_BIN");
    cr_assert_not_null(bin, "SHAPEBENCH_BIN is not set (run through make test)");
    char *argv[32] = {(char *)bin};
    size_t n = 1;
    for (size_t i = 0; args[i] != NULL && n < 31; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, log);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        if (freopen(path, "w", stdout) == NULL || dup2(fileno(stdout), 2) < 0)
            _exit(127);
        execv(bin, argv);
        _exit(127);
    }
    return pid;
}

static int run_cli(const char *log, const char *const *args)
{
    int status;
    pid_t pid = spawn(log, args);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Checks every line of <sub>/results.jsonl is a whole JSON record, keys unique; returns the sorted keys
 * joined by newlines (malloc'd). */
static char *checked_keys(const char *sub)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s/results.jsonl", dir, sub);
    char *text = test_read_file(path, NULL);
    cr_assert_not_null(text, "%s missing", path);
    cr_expect(text[0] == '\0' || text[strlen(text) - 1] == '\n', "%s ends in a partial line", path);
    char *keys[64];
    size_t n = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        cJSON *r = cJSON_Parse(line);
        cr_assert_not_null(r, "%s: a line is not JSON: %.80s", path, line);
        cr_assert_lt(n, 64);
        keys[n++] = strdup(sb_record_key_of(r));
        cJSON_Delete(r);
    }
    for (size_t i = 1; i < n; i++) /* insertion sort: a handful of keys */
        for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
            char *t = keys[j];
            keys[j] = keys[j - 1];
            keys[j - 1] = t;
        }
    size_t len = 1;
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            cr_expect_str_neq(keys[i - 1], keys[i], "duplicate key %s", keys[i]);
        len += strlen(keys[i]) + 1;
    }
    char *joined = calloc(len, 1);
    for (size_t i = 0; i < n; i++) {
        strcat(joined, keys[i]);
        strcat(joined, "\n");
        free(keys[i]);
    }
    free(text);
    return joined;
}

static size_t count_lines(const char *text)
{
    size_t n = 0;
    for (; *text; text++)
        n += *text == '\n';
    return n;
}

static void out_arg(char *buf, size_t cap, const char *sub)
{
    snprintf(buf, cap, "%s/%s", dir, sub);
}

Test(cli, kill_9_mid_sweep_then_resume)
{
    char out[128], path[160];
    out_arg(out, sizeof out, "killed");
    snprintf(path, sizeof path, "%s/results.jsonl", out);
    pid_t pid = spawn("kill.log", (const char *[]){"sweep", "--preset", "smoke", "--out", out, NULL});
    /* Kill as soon as the first record is on disk. */
    struct stat st;
    struct timespec nap = {0, 1000000};
    for (int i = 0; i < 120000 && (stat(path, &st) != 0 || st.st_size == 0); i++)
        nanosleep(&nap, NULL);
    kill(pid, SIGKILL);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status), "the sweep finished before the kill: it must take longer than one record");
    cr_assert_eq(stat(path, &st), 0, "no record appeared");

    snprintf(path, sizeof path, "%s/backend.json", out);
    cr_expect_eq(stat(path, &st), 0, "the backend chosen is in the folder before the first record");
    cr_assert_eq(run_cli("resume.log", (const char *[]){"sweep", "--preset", "smoke", "--out", out, NULL}), 0);
    char *keys = checked_keys("killed");
    cr_expect_eq(count_lines(keys), 12, "exactly the smoke sweep's points: %s", keys);
    free(keys);
    /* A third run has nothing left to do and adds nothing. */
    cr_assert_eq(run_cli("again.log", (const char *[]){"sweep", "--preset", "smoke", "--out", out, NULL}), 0);
    keys = checked_keys("killed");
    cr_expect_eq(count_lines(keys), 12);
    free(keys);
}

Test(cli, two_shards_merged_equal_one_run)
{
    char whole[128], s1[128], s2[128], merged[128];
    out_arg(whole, sizeof whole, "whole");
    out_arg(s1, sizeof s1, "s1");
    out_arg(s2, sizeof s2, "s2");
    out_arg(merged, sizeof merged, "merged");
    /* One backend named: three invocations that each chose it from peaks measured under load could differ. */
    cr_assert_eq(run_cli("w.log", (const char *[]){"sweep", "--preset", "smoke", "--gemm", "openblas", "--out", whole,
                                                   NULL}),
                 0);
    cr_assert_eq(run_cli("1.log", (const char *[]){"sweep", "--preset", "smoke", "--gemm", "openblas", "--shard", "1/2",
                                                   "--out", s1, NULL}),
                 0);
    cr_assert_eq(run_cli("2.log", (const char *[]){"sweep", "--preset", "smoke", "--gemm", "openblas", "--shard", "2/2",
                                                   "--out", s2, NULL}),
                 0);
    cr_assert_eq(run_cli("m.log", (const char *[]){"merge", s1, s2, s1, "--out", merged, NULL}), 0);
    char *a = checked_keys("whole"), *b = checked_keys("merged"), *p1 = checked_keys("s1"), *p2 = checked_keys("s2");
    cr_expect_str_eq(a, b);
    cr_expect_eq(count_lines(p1) + count_lines(p2), 12);
    cr_expect_gt(count_lines(p1), 0);
    cr_expect_gt(count_lines(p2), 0);
    free(a);
    free(b);
    free(p1);
    free(p2);

    /* compare: the same keys on both sides, a row per key. */
    cr_assert_eq(run_cli("cmp.log", (const char *[]){"compare", whole, merged, NULL}), 0);
    char path[160];
    snprintf(path, sizeof path, "%s/cmp.log", dir);
    char *text = test_read_file(path, NULL);
    cr_expect(strstr(text, "12 keys in both") != NULL, "%s", text);
    cr_expect(strstr(text, "| t5-efficient-tiny | generate |") != NULL, "%s", text);
    free(text);
}

Test(cli, merge_refuses_mixed_schema_versions)
{
    char v1[128], v2[128], out[128], path[160];
    out_arg(v1, sizeof v1, "v1");
    out_arg(v2, sizeof v2, "v2");
    out_arg(out, sizeof out, "out");
    cr_assert_eq(mkdir(v1, 0777), 0);
    cr_assert_eq(mkdir(v2, 0777), 0);
    const char *lines[2] = {"{\"schema_version\":1,\"key\":\"a\"}\n", "{\"schema_version\":2,\"key\":\"b\"}\n"};
    const char *dirs[2] = {v1, v2};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/results.jsonl", dirs[i]);
        FILE *f = fopen(path, "w");
        fputs(lines[i], f);
        fclose(f);
    }
    cr_expect_eq(run_cli("merge.log", (const char *[]){"merge", v1, v2, "--out", out, NULL}), 1);
    snprintf(path, sizeof path, "%s/merge.log", dir);
    char *text = test_read_file(path, NULL);
    cr_expect(strstr(text, "schema versions differ") != NULL, "%s", text);
    free(text);
    snprintf(path, sizeof path, "%s/results.jsonl", out);
    cr_expect_neq(access(path, F_OK), 0, "nothing is written");
}

Test(cli, unwritable_out_is_a_clear_error)
{
    char file[128], out[160], path[160];
    out_arg(file, sizeof file, "plain-file");
    FILE *f = fopen(file, "w");
    fclose(f);
    snprintf(out, sizeof out, "%s/run", file);
    cr_expect_eq(run_cli("out.log", (const char *[]){"run", "t5-efficient-tiny", "--src", "16", "--tgt", "4", "--out",
                                                     out, NULL}),
                 1);
    snprintf(path, sizeof path, "%s/out.log", dir);
    char *text = test_read_file(path, NULL);
    cr_expect(strstr(text, "shapebench run: cannot create") != NULL && strstr(text, "plain-file") != NULL, "%s", text);
    free(text);
}

Test(cli, run_crosses_lists_and_prints_a_table)
{
    char out[128], path[160];
    out_arg(out, sizeof out, "cross");
    cr_assert_eq(run_cli("run.log", (const char *[]){"run", "t5-efficient-tiny", "--mode", "encode", "--batch", "1,2",
                                                     "--src", "16-32*2", "--tgt", "4", "--min-time", "0", "--out",
                                                     out, NULL}),
                 0);
    char *keys = checked_keys("cross");
    cr_expect_eq(count_lines(keys), 4, "%s", keys);
    cr_expect(strstr(keys, "t5-efficient-tiny|encode|b2|s32|t4|f32|openblas|") != NULL, "%s", keys);
    free(keys);
    snprintf(path, sizeof path, "%s/run.log", dir);
    char *text = test_read_file(path, NULL);
    cr_expect(strstr(text, "| shape | mode | batch |") != NULL, "%s", text);
    free(text);
    snprintf(path, sizeof path, "%s/results.csv", out);
    text = test_read_file(path, NULL);
    cr_assert_not_null(text);
    cr_expect_eq(count_lines(text), 5, "header + 4 rows");
    free(text);
}

/* A results file of two keys: "few" with 3 samples and "many" with 6, around `centre` seconds. */
static void write_samples(const char *sub, double centre, const char *verdict)
{
    char path[160];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/results.jsonl", dir, sub);
    FILE *f = fopen(path, "w");
    const char *keys[] = {"few", "many"};
    for (int k = 0; k < 2; k++) {
        fprintf(f, "{\"schema_version\": %d, \"key\": \"%s\", \"shape\": \"%s\", \"settings\": {\"mode\": \"forward\", "
                   "\"batch\": 1, \"src_len\": 8, \"tgt_len\": 4, \"dtype\": \"f32\"}, \"timing\": {\"samples\": [",
                SB_SCHEMA_VERSION, keys[k], keys[k]);
        for (int i = 0; i < (k == 0 ? 3 : 6); i++)
            fprintf(f, "%s%g", i ? ", " : "", centre + 0.001 * i);
        fprintf(f, "]}, \"verdict\": \"%s\"}\n", verdict);
    }
    fclose(f);
}

/* compare says when a side has too few samples for any ordering to reach p < 0.05, shows each side's verdict
 * and warns about contended ones; with enough samples a clear change is flagged. */
Test(cli, compare_states_too_few_samples_and_verdicts)
{
    write_samples("slow", 1.0, "ok");
    write_samples("fast", 0.5, "contended: the timed repetitions got 40 % of their threads' CPU time");
    char a[160], b[160], path[160];
    snprintf(a, sizeof a, "%s/slow", dir);
    snprintf(b, sizeof b, "%s/fast", dir);
    cr_assert_eq(run_cli("cmp2.log", (const char *[]){"compare", a, b, NULL}), 0);
    snprintf(path, sizeof path, "%s/cmp2.log", dir);
    char *text = test_read_file(path, NULL);
    cr_expect(strstr(text, "| few | forward | 1 | 8 | 4 | f32 | 1001.00 | 501.00 | 0.500 | 0.1 | too few samples (3 + 3) "
                           "for p < 0.05 | ok | contended |") != NULL,
              "%s", text);
    cr_expect(strstr(text, "| faster | ok | contended |") != NULL, "%s", text);
    cr_expect(strstr(text, "need at least 4 per side") != NULL, "%s", text);
    cr_expect(strstr(text, "warning: 2 key(s) were measured contended") != NULL, "%s", text);
    free(text);
}

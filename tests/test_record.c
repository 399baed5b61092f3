/* test_record.c — the record's one owner: the field table is consistent, the records the writer builds hold
 * exactly its fields with their types, results/README.md shows it, and every reader of results files (plots,
 * report, compare, pareto, merge, a resuming run) treats a torn last line alike. */
#include "harness/harness.h"
#include "tests/helpers.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Test(record, field_table_is_consistent)
{
    int csv_seen[SB_FIELD_COUNT + 1] = {0};
    int columns = 0;
    for (int id = 0; id < SB_FIELD_COUNT; id++) {
        const sb_field *f = sb_field_of(id);
        cr_assert_eq(f->id, id, "entry %d holds field %d", id, f->id);
        cr_assert(f->path != NULL && f->meaning != NULL && f->meaning[0] != '\0', "field %d", id);
        cr_assert_eq(sb_field_find(f->path), f, "%s is found as another field", f->path);
        for (int other = 0; other < id; other++)
            cr_assert_str_neq(sb_field_of(other)->path, f->path);
        if (f->csv != NULL) {
            cr_assert(f->csv_order >= 1 && f->csv_order <= SB_FIELD_COUNT, "%s", f->path);
            cr_assert_eq(csv_seen[f->csv_order]++, 0, "two CSV columns at %d", f->csv_order);
            columns++;
        }
    }
    for (int i = 1; i <= columns; i++)
        cr_assert_eq(csv_seen[i], 1, "CSV positions are 1..%d without gaps (%d missing)", columns, i);
    cr_assert_eq(sb_field_find("roofline.ffn.bound"), sb_field_of(SB_F_ROOFLINE_BOUND));
    cr_assert_eq(sb_field_find("roofline.method"), sb_field_of(SB_F_ROOFLINE_METHOD), "exact paths before `*`");
    cr_assert_null(sb_field_find("timing.medain"));
    cr_assert_str_eq(sb_field_suggest("timing.medain"), "timing.median");
}

/* The writer's records, of every kind, hold only fields of the table, each of its type. */
static void check_built(const char *model, sb_mode mode, const char *want_verdict)
{
    sb_config cfg;
    sb_error err = {0};
    cr_assert_eq(sb_config_resolve(model, &cfg, NULL, NULL, &err), 0, "%s", err.msg);
    sb_run_settings s;
    sb_run_settings_default(&s);
    s.mode = mode;
    s.src_len = 16;
    s.tgt_len = 4;
    s.min_reps = 2;
    s.min_time_s = 0;
    s.threads = 1;
    sb_measurement m;
    sb_measure(model, &cfg, &s, NULL, NULL, &m);
    cr_assert(strncmp(m.verdict, want_verdict, strlen(want_verdict)) == 0 || strncmp(m.verdict, "noisy", 5) == 0 ||
                  strncmp(m.verdict, "contended", 9) == 0,
              "%s %s: %s", model, sb_mode_name(mode), m.verdict);
    sb_exec *x = test_exec(SB_GEMM_OPENBLAS, 1);
    sb_sysinfo sys;
    cr_assert_eq(sb_sysinfo_collect(&sys, x, &err), 0, "%s", err.msg);
    const sb_peaks peaks = {.sgemm_gflops = 100, .fma_gflops = 200, .stream_copy_gbps = 10, .sgemm_n = 64,
                            .stream_bytes = 4096};
    cJSON *r = sb_record_build("t", &cfg, &s, &m, &sys, &peaks);
    cr_assert_not_null(r);
    cr_assert_eq(sb_record_check_fields(r, &err), 0, "%s %s: %s", model, sb_mode_name(mode), err.msg);
    cJSON_Delete(r);
    /* Peaks that could not be measured (nor system facts): the record says so with nulls. */
    r = sb_record_build("t", &cfg, &s, &m, NULL, NULL);
    cr_assert_not_null(r);
    cr_assert_eq(sb_record_check_fields(r, &err), 0, "%s %s without peaks: %s", model, sb_mode_name(mode), err.msg);
    const cJSON *total = sb_record_at(r, "roofline.total");
    if (m.measured)
        cr_expect(cJSON_IsNull(cJSON_GetObjectItem(total, "bound")), "%s: a bound without peaks", model);
    cJSON_Delete(r);
    sb_measurement_free(&m);
    sb_exec_free(x);
}

Test(record, built_records_hold_the_table_fields, .timeout = 120)
{
    const char *tiny = "t5-efficient-tiny:num_layers=1,num_decoder_layers=1";
    const sb_mode modes[] = {SB_MODE_ENCODE, SB_MODE_FORWARD, SB_MODE_GENERATE, SB_MODE_TRAIN};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        check_built(tiny, modes[i], "ok");
    check_built("switch-base-8:num_layers=2,num_decoder_layers=2", SB_MODE_FORWARD, "ok");
    check_built("switch-c-2048", SB_MODE_FORWARD, "skipped");
}

Test(record, check_fields_names_the_first_stray_field)
{
    sb_error err = {0};
    cJSON *r = cJSON_Parse("{\"schema_version\": 2, \"key\": \"k\", \"timing\": {\"median\": 1, \"medain\": 2}}");
    cr_assert_eq(sb_record_check_fields(r, &err), -1);
    cr_assert(strstr(err.msg, "'timing.medain' is not in the field table") != NULL, "%s", err.msg);
    cJSON_Delete(r);
    r = cJSON_Parse("{\"key\": 3}");
    cr_assert_eq(sb_record_check_fields(r, &err), -1);
    cr_assert(strstr(err.msg, "'key' is not string") != NULL, "%s", err.msg);
    cJSON_Delete(r);
    r = cJSON_Parse("{\"timing\": null, \"config\": {\"vocab_size\": 8}, \"roofline\": {\"ffn\": {\"bound\": \"x\"}}}");
    cr_assert_eq(sb_record_check_fields(r, &err), 0, "%s", err.msg);
    cJSON_Delete(r);
}

Test(record, readme_shows_the_field_table)
{
    size_t len = 0;
    char *readme = test_read_file("results/README.md", &len);
    const char *begin = strstr(readme, "<!-- fields: begin"), *end = strstr(readme, "<!-- fields: end -->");
    cr_assert(begin != NULL && end != NULL && begin < end, "results/README.md lacks the field table markers");
    begin = strchr(begin, '\n') + 1;
    char *generated = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&generated, &size);
    cr_assert_eq(sb_fields_print(false, f), 0);
    fclose(f);
    cr_assert(size == (size_t)(end - begin) && memcmp(begin, generated, size) == 0,
              "results/README.md's field table differs from `shapebench schema`: paste its output between the "
              "markers");
    free(generated);
    free(readme);
}

/* Every command that reads a results file leaves a torn last line out with one warning, and goes on. */
Test(record, every_reader_accepts_a_torn_last_line, .timeout = 120)
{
    char dir[64], cmd[1024], path[256];
    test_make_temp_dir(dir, sizeof dir, "torn");
    snprintf(cmd, sizeof cmd,
             "run 't5-efficient-tiny:num_layers=1,num_decoder_layers=1' --mode encode --src 8 --tgt 2 --min-reps 1 "
             "--min-time 0 --threads 1 --out %s/run >/dev/null", dir);
    cr_assert_eq(test_run_cli(cmd, NULL), 0, "shapebench %s", cmd);
    snprintf(path, sizeof path, "%s/run/results.jsonl", dir);
    FILE *f = fopen(path, "a");
    fputs("{\"schema_version\":3,\"key\":\"torn", f);
    fclose(f);
    const char *commands[] = {
        "report --run %s/run",
        "merge %s/run --out %s/merged",
        "compare %s/run %s/merged",
        "pareto --run %s/run --x analytic.params --y timing.median:min",
        "run 't5-efficient-tiny:num_layers=1,num_decoder_layers=1' --mode encode --src 8 --tgt 2 --min-reps 1 "
        "--min-time 0 --threads 1 --out %s/run",
    };
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        char args[1024], *out = NULL;
        snprintf(args, sizeof args, commands[i], dir, dir);
        strcat(args, " 2>&1 >/dev/null");
        cr_expect_eq(test_run_cli(args, &out), 0, "shapebench %s failed: %s", args, out);
        const char *warning = strstr(out, "a torn last line (");
        cr_expect(warning != NULL && strstr(warning, "left by an interrupted run) is left out") != NULL,
                  "shapebench %s: no torn-line warning in: %s", args, out);
        cr_expect(strstr(warning != NULL ? warning + 1 : out, "a torn last line (") == NULL, "warned twice: %s",
                  out);
        free(out);
    }
    test_remove_tree(dir);
}

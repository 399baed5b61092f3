/* test_sweep_config.c — a sweep described in a file (sweep --config): it expands to the same points as the
 * same settings given as `run`'s options, every kind of bad file is refused with a message naming the key,
 * the shipped example loads; and the backend of a sweep that names none: the faster by measured sgemm peak,
 * kept in the run's folder so a rerun resumes on it. */
#include "harness/harness.h"
#include "tests/helpers.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];

static void make_dir(void)
{
    test_make_temp_dir(dir, sizeof dir, "sweep-config");
}

static void remove_dir(void)
{
    test_remove_tree(dir);
}

TestSuite(sweep_config, .init = make_dir, .fini = remove_dir, .timeout = 300);

/* <dir>/<name> holding text; its path into path. */
static void write_config(const char *name, const char *text, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", dir, name);
    test_write_file(path, text, strlen(text));
}

/* The jobs' keys, one per line, in expansion order (malloc'd). */
static char *job_keys(const sb_sweep_spec *spec)
{
    sb_job_list jobs;
    sb_error err;
    cr_assert_eq(sb_sweep_expand(spec, &jobs, &err), 0, "%s", err.msg);
    char *text = calloc(jobs.count + 1, SB_KEY_MAX + 1);
    for (size_t i = 0; i < jobs.count; i++) {
        sb_config cfg;
        char key[SB_KEY_MAX];
        cr_assert_eq(sb_config_resolve(jobs.items[i].model, &cfg, NULL, NULL, &err), 0, "%s", err.msg);
        sb_record_key(&cfg, &jobs.items[i].settings, key);
        strcat(strcat(text, key), "\n");
    }
    sb_job_list_free(&jobs);
    return text;
}

Test(sweep_config, a_file_expands_as_the_same_options_do)
{
    char path[128];
    write_config("s.json",
                 "{\"description\": \"two shapes\", \"models\": [\"t5-efficient-tiny\", \"t5-efficient-tiny-nl2\"],\n"
                 " \"mode\": [\"encode\", \"forward\"], \"batch\": \"1,2\", \"src\": [\"32-64*2\", 128], \"tgt\": 8,\n"
                 " \"dtype\": \"f32\", \"gemm\": [\"openblas\"], \"threads\": [1], \"warmup\": 2, \"min-reps\": 4,\n"
                 " \"min-time\": 0.25, \"max-time\": 9, \"seed\": 7, \"extrapolate\": \"always\"}\n",
                 path, sizeof path);
    sb_sweep_spec file, flags;
    sb_error err;
    cr_assert_eq(sb_sweep_config_load(path, &file, &err), 0, "%s", err.msg);
    sb_sweep_spec_init(&flags);
    cr_assert_eq(sb_sweep_spec_defaults(&flags, &err), 0, "%s", err.msg);
    static const char *const options[][2] = {
        {"mode", "encode,forward"}, {"batch", "1,2"},   {"src", "32-64*2,128"}, {"tgt", "8"},
        {"dtype", "f32"},           {"gemm", "openblas"}, {"threads", "1"},     {"warmup", "2"},
        {"min-reps", "4"},          {"min-time", "0.25"}, {"max-time", "9"},    {"seed", "7"},
        {"extrapolate", "always"}};
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
        cr_assert_eq(sb_sweep_spec_set(&flags, options[i][0], options[i][1], &err), 0, "%s", err.msg);
    cr_assert_eq(sb_sweep_add_model(&flags, "t5-efficient-tiny", &err), 0);
    cr_assert_eq(sb_sweep_add_model(&flags, "t5-efficient-tiny-nl2", &err), 0);
    char *a = job_keys(&file), *b = job_keys(&flags);
    cr_expect_str_eq(a, b);
    cr_expect(strstr(a, "t5-efficient-tiny-nl2|forward|b2|s128|t8|f32|openblas|t1\n") != NULL, "%s", a);
    cr_expect_eq(file.src.n, 3);
    cr_expect(file.base.warmup == 2 && file.base.min_reps == 4 && file.base.seed == 7 && file.base.always_sample);
    cr_expect(file.base.min_time_s == 0.25 && file.base.max_time_s == 9);
    free(a);
    free(b);
    sb_sweep_spec_free(&file);
    sb_sweep_spec_free(&flags);

    /* A preset to start from: its models and repetitions, the file's settings over them. */
    write_config("p.json", "{\"preset\": \"smoke\", \"mode\": \"generate\", \"gemm\": \"onednn\"}", path, sizeof path);
    cr_assert_eq(sb_sweep_config_load(path, &file, &err), 0, "%s", err.msg);
    cr_expect_eq(file.nmodels, 3);
    cr_expect(file.nmodes == 1 && file.modes[0] == SB_MODE_GENERATE);
    cr_expect(file.ngemms == 1 && file.gemms[0] == SB_GEMM_ONEDNN);
    cr_expect(file.src.n == 1 && file.src.v[0] == 64, "the preset's lengths");
    sb_sweep_spec_free(&file);
}

Test(sweep_config, every_kind_of_bad_file_is_refused_naming_its_key)
{
    static const struct {
        const char *text, *message;
    } bad[] = {
        {"{\"models\": [\"t5-efficient-tiny\"],\n \"src\": [64", "not JSON (line 2"},
        {"[\"t5-efficient-tiny\"]", "must hold one JSON object"},
        {"{\"models\": [\"t5-efficient-tiny\"]} {}", "not JSON"},
        {"{\"models\": [\"t5-efficient-tiny\"], \"sr\": 64}", "unknown key \"sr\"; did you mean \"src\"?"},
        {"{\"models\": [\"t5-efficient-tiny\"], \"min_reps\": 3}", "unknown key \"min_reps\"; did you mean \"min-reps\"?"},
        {"{\"models\": [\"t5-efficient-tiny\"], \"qqqqqqqq\": 3}", "unknown key \"qqqqqqqq\" (keys: preset, models,"},
        {"{\"models\": [\"t5-efficient-tiny\"], \"src\": true}", "\"src\" must be a number, a list or range as text"},
        {"{\"models\": [\"t5-efficient-tiny\"], \"src\": [64, null]}", "\"src\"[1] must be a number or a range"},
        {"{\"models\": [\"t5-efficient-tiny\"], \"src\": []}", "\"src\" needs at least one value"},
        {"{\"models\": [\"t5-efficient-tiny\"], \"src\": 0}", "\"src\": 0 is out of range (1..1048576)"},
        {"{\"models\": [\"t5-efficient-tiny\"], \"batch\": -2}", "\"batch\": '-2' is out of range (1..1048576)"},
        {"{\"models\": [\"t5-efficient-tiny\"], \"tgt\": 1.5}", "\"tgt\": '1.5' is not a whole number"},
        {"{\"models\": [\"t5-efficient-tiny\"], \"threads\": 5000}", "\"threads\": 5000 is out of range (0..4096)"},
        {"{\"models\": [\"t5-efficient-tiny\"], \"warmup\": [1]}", "\"warmup\" takes one value, not an array"},
        {"{\"models\": [\"t5-efficient-tiny\"], \"warmup\": \"1\"}", "\"warmup\" must be a number"},
        {"{\"models\": [\"t5-efficient-tiny\"], \"min-reps\": 0}", "\"min-reps\": '0' must be a whole number in 1..1000000"},
        {"{\"models\": [\"t5-efficient-tiny\"], \"min-time\": -1}", "\"min-time\": '-1' must be a number of seconds"},
        {"{\"models\": [\"t5-efficient-tiny\"], \"max-time\": 1e9}", "\"max-time\": '1000000000' must be a number of"},
        {"{\"models\": [\"t5-efficient-tiny\"], \"seed\": -1}", "\"seed\": '-1' must be a whole number >= 0"},
        {"{\"models\": [\"t5-efficient-tiny\"], \"mode\": \"forwrd\"}", "\"mode\": unknown mode 'forwrd'; did you mean"},
        {"{\"models\": [\"t5-efficient-tiny\"], \"mode\": [\"encode\", 2]}", "\"mode\"[1] must be a word"},
        {"{\"models\": [\"t5-efficient-tiny\"], \"dtype\": \"f16\"}", "\"dtype\": "},
        {"{\"models\": [\"t5-efficient-tiny\"], \"gemm\": [\"openblas\", \"mkl\"]}", "\"gemm\": "},
        {"{\"models\": [\"t5-efficient-tiny\"], \"extrapolate\": \"sometimes\"}", "\"extrapolate\": 'sometimes' must be"},
        {"{\"models\": [\"t5-efficient-tiny\"], \"extrapolate\": true}", "\"extrapolate\" must be a word"},
        {"{\"models\": [\"t5-efficient-tiy\"]}", "\"models\"[0]: unknown model 't5-efficient-tiy'; did you mean"},
        {"{\"models\": \"t5-efficient-tiny\"}", "\"models\" must be an array of model names"},
        {"{\"models\": []}", "\"models\" must be an array of model names"},
        {"{\"models\": [\"t5-efficient-tiny\", 3]}", "\"models\"[1] must be a model name"},
        {"{\"src\": 64}", "no \"models\": name the shapes to measure, or a \"preset\""},
        {"{\"preset\": \"smok\"}", "\"preset\": unknown preset 'smok'"},
        {"{\"preset\": 1}", "\"preset\" must be a preset's name"},
        {"{\"models\": [\"t5-efficient-tiny\"], \"src\": 64, \"src\": 128}", "\"src\" is given twice"},
        {"{\"models\": [\"t5-efficient-tiny\"], \"description\": 5}", "\"description\" must be a string"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char path[128];
        write_config("bad.json", bad[i].text, path, sizeof path);
        sb_sweep_spec spec;
        sb_error err = {""};
        cr_expect_eq(sb_sweep_config_load(path, &spec, &err), -1, "accepted: %s", bad[i].text);
        cr_expect(strstr(err.msg, bad[i].message) != NULL && strncmp(err.msg, path, strlen(path)) == 0,
                  "%s\n  gave: %s\n  want: %s", bad[i].text, err.msg, bad[i].message);
    }
    sb_sweep_spec spec;
    sb_error err;
    char missing[128];
    snprintf(missing, sizeof missing, "%s/none.json", dir);
    cr_expect_eq(sb_sweep_config_load(missing, &spec, &err), -1);
    cr_expect(strstr(err.msg, "none.json") != NULL, "%s", err.msg);
}

/* Through the CLI: exit 2 and one line naming the file and the key. */
Test(sweep_config, the_cli_refuses_a_bad_file_with_exit_2)
{
    char path[128], args[512], *out;
    write_config("typo.json", "{\"models\": [\"t5-efficient-tiny\"], \"tgtt\": 8}", path, sizeof path);
    snprintf(args, sizeof args, "sweep --config %s --out %s/typo 2>&1", path, dir);
    cr_expect_eq(test_run_cli(args, &out), 2, "%s", out);
    cr_expect(strstr(out, "shapebench sweep: ") == out && strstr(out, "unknown key \"tgtt\"; did you mean \"tgt\"?"),
              "%s", out);
    cr_expect_eq(strchr(out, '\n'), out + strlen(out) - 1, "one line: %s", out);
    free(out);
    snprintf(args, sizeof args, "sweep --config %s --preset smoke 2>&1", path);
    cr_expect_eq(test_run_cli(args, &out), 2, "%s", out);
    cr_expect(strstr(out, "one of the two") != NULL, "%s", out);
    free(out);
}

/* The example shipped in the repository stays a valid sweep. */
Test(sweep_config, the_shipped_example_loads)
{
    sb_sweep_spec spec;
    sb_error err;
    cr_assert_eq(sb_sweep_config_load("sweeps/example.json", &spec, &err), 0, "%s", err.msg);
    cr_expect_gt(spec.nmodels, 1);
    cr_expect_eq(spec.ngemms, 2);
    sb_sweep_spec_free(&spec);
}

/* `run`'s options are the file's keys: every setting a file takes is an option of run, and train is listed. */
Test(sweep_config, run_takes_every_setting_as_an_option_and_lists_train)
{
    char *out;
    cr_assert_eq(test_run_cli("run --help", &out), 0);
    for (size_t i = 0; i < SB_SWEEP_SETTINGS; i++) {
        char option[48];
        snprintf(option, sizeof option, "--%s ", sb_sweep_settings[i].name);
        cr_expect(strstr(out, option) != NULL, "run --help lacks %s", option);
    }
    cr_expect(strstr(out, "| train (one training step") != NULL, "%s", out);
    free(out);
    cr_expect_eq(test_run_cli("run t5-efficient-tiny --mode trian 2>&1", &out), 2);
    cr_expect(strstr(out, "did you mean 'train'? (encode, forward, generate or train)") != NULL, "%s", out);
    free(out);
}

static int by_text(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The keys of <dir>/<sub>/results.jsonl, sorted, one per line (malloc'd). */
static char *folder_keys(const char *sub)
{
    char path[160];
    snprintf(path, sizeof path, "%s/%s/results.jsonl", dir, sub);
    char *text = test_read_file(path, NULL), *keys[64];
    size_t n = 0, len = 1;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line != NULL && n < 64;
         line = strtok_r(NULL, "\n", &save)) {
        cJSON *r = cJSON_Parse(line);
        cr_assert_not_null(r, "%s: not JSON: %.80s", path, line);
        keys[n] = strdup(sb_record_key_of(r));
        len += strlen(keys[n++]) + 1;
        cJSON_Delete(r);
    }
    qsort(keys, n, sizeof *keys, by_text);
    char *joined = calloc(len, 1);
    for (size_t i = 0; i < n; i++) {
        strcat(strcat(joined, keys[i]), "\n");
        free(keys[i]);
    }
    free(text);
    return joined;
}

/* A file sweep records exactly the keys `run` records for the same options. */
Test(sweep_config, a_file_sweep_records_the_keys_run_records)
{
    char path[128], args[512], *out;
    write_config("tiny.json",
                 "{\"models\": [\"t5-efficient-tiny\", \"t5-efficient-tiny-nl2\"], \"mode\": \"encode\",\n"
                 " \"src\": [16, 32], \"tgt\": 4, \"gemm\": \"openblas\", \"threads\": 1, \"warmup\": 0,\n"
                 " \"min-reps\": 1, \"min-time\": 0}\n",
                 path, sizeof path);
    snprintf(args, sizeof args, "sweep --config %s --out %s/file 2>&1", path, dir);
    cr_assert_eq(test_run_cli(args, &out), 0, "%s", out);
    free(out);
    snprintf(args, sizeof args, "run t5-efficient-tiny t5-efficient-tiny-nl2 --mode encode --src 16,32 --tgt 4 "
                                "--gemm openblas --threads 1 --warmup 0 --min-reps 1 --min-time 0 --out %s/flags 2>&1",
             dir);
    cr_assert_eq(test_run_cli(args, &out), 0, "%s", out);
    free(out);
    char *a = folder_keys("file"), *b = folder_keys("flags");
    cr_expect_str_eq(a, b);
    cr_expect(strstr(a, "t5-efficient-tiny-nl2|encode|b1|s32|t4|f32|openblas|t1\n") != NULL, "%s", a);
    free(a);
    free(b);
    char tsv[160];
    snprintf(tsv, sizeof tsv, "%s/file/backend.json", dir);
    cr_expect_neq(access(tsv, F_OK), 0, "a file that names its backend leaves no choice in the folder");
}

/* The choice itself, from the peaks: the higher wins; a peak that could not be measured loses; bf16 is oneDNN's. */
Test(sweep_config, the_faster_backend_by_measured_sgemm_peak)
{
    sb_gemm_choice c;
    sb_gemm_choose((double[]){205.0, 401.0}, "Haswell", false, 2, &c);
    cr_expect_eq(c.gemm, SB_GEMM_ONEDNN);
    cr_expect(strstr(c.note, "401 GFLOP/s against OpenBLAS's (kernel Haswell) 205 GFLOP/s") != NULL, "%s", c.note);
    cr_expect(strstr(c.note, "2 threads") != NULL, "%s", c.note);
    sb_gemm_choose((double[]){300.0, 250.0}, "SkylakeX", false, 1, &c);
    cr_expect_eq(c.gemm, SB_GEMM_OPENBLAS);
    cr_expect(strstr(c.note, "300 GFLOP/s against oneDNN's 250 GFLOP/s") != NULL, "%s", c.note);
    sb_gemm_choose((double[]){NAN, 10.0}, "", false, 1, &c);
    cr_expect_eq(c.gemm, SB_GEMM_ONEDNN);
    sb_gemm_choose((double[]){10.0, NAN}, "Haswell", false, 1, &c);
    cr_expect_eq(c.gemm, SB_GEMM_OPENBLAS);
    cr_expect(strstr(c.note, "could not be measured") != NULL, "%s", c.note);
    sb_gemm_choose((double[]){NAN, NAN}, "", true, 2, &c);
    cr_expect_eq(c.gemm, SB_GEMM_ONEDNN);
    cr_expect(strstr(c.note, "bf16") != NULL, "%s", c.note);

    /* It survives its file. */
    sb_gemm_choose((double[]){205.5, 401.25}, "Haswell", false, 2, &c);
    sb_error err;
    cr_assert_eq(sb_gemm_choice_save(dir, &c, &err), 0, "%s", err.msg);
    sb_gemm_choice back;
    bool present;
    cr_assert_eq(sb_gemm_choice_load(dir, &back, &present, &err), 0, "%s", err.msg);
    cr_expect(present && back.gemm == c.gemm && back.threads == 2 && back.sgemm_gflops[0] == 205.5);
    cr_expect_str_eq(back.note, c.note);
    char path[128];
    static const char *const hostile[] = {"{\"gemm\": \"mkl\"}", "not json",
                                          "{\"gemm\": \"onednn\", \"note\": \"x\", \"threads\": 1e300}",
                                          "{\"gemm\": \"onednn\", \"note\": 1, \"threads\": 2}"};
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        write_config("backend.json", hostile[i], path, sizeof path);
        cr_expect_eq(sb_gemm_choice_load(dir, &back, &present, &err), -1, "accepted %s", hostile[i]);
        cr_expect(strstr(err.msg, "delete it to choose the backend again") != NULL, "%s", err.msg);
    }
}

/* A sweep that names no backend runs on the one backend.json names (written at its start), and a rerun keeps
 * it: here a folder whose choice says OpenBLAS, whatever this machine's peaks say. */
Test(sweep_config, a_sweep_naming_no_backend_keeps_its_folders_choice)
{
    char path[128], args[512], *out;
    write_config("nogemm.json",
                 "{\"models\": [\"t5-efficient-tiny\"], \"mode\": \"encode\", \"src\": 16, \"tgt\": 4, \"threads\": 1,"
                 " \"warmup\": 0, \"min-reps\": 1, \"min-time\": 0}",
                 path, sizeof path);
    char folder[96], choice[128];
    snprintf(folder, sizeof folder, "%s/kept", dir);
    const sb_gemm_choice openblas = {.gemm = SB_GEMM_OPENBLAS, .threads = 1, .sgemm_gflops = {1, 0.5},
                                     .note = "Backend OpenBLAS, chosen by hand."};
    sb_error err;
    cr_assert_eq(sb_gemm_choice_save(folder, &openblas, &err), 0, "%s", err.msg);
    snprintf(args, sizeof args, "sweep --config %s --out %s 2>&1", path, folder);
    cr_assert_eq(test_run_cli(args, &out), 0, "%s", out);
    cr_expect(strstr(out, "Backend OpenBLAS, chosen by hand. (the choice this run started with") != NULL, "%s", out);
    free(out);
    char *keys = folder_keys("kept");
    cr_expect_str_eq(keys, "t5-efficient-tiny|encode|b1|s16|t4|f32|openblas|t1\n");
    free(keys);
    /* merge carries the choice along */
    snprintf(args, sizeof args, "merge %s --out %s/merged 2>&1", folder, dir);
    cr_assert_eq(test_run_cli(args, &out), 0, "%s", out);
    free(out);
    snprintf(choice, sizeof choice, "%s/merged", dir);
    sb_gemm_choice merged;
    bool carried;
    cr_assert_eq(sb_gemm_choice_load(choice, &merged, &carried, &err), 0, "%s", err.msg);
    cr_expect(carried && merged.gemm == SB_GEMM_OPENBLAS, "merge carries backend.json");

    /* A fresh folder: the choice is made, written, and is what the records ran on. */
    snprintf(args, sizeof args, "sweep --config %s --out %s/fresh 2>&1", path, dir);
    cr_assert_eq(test_run_cli(args, &out), 0, "%s", out);
    free(out);
    snprintf(choice, sizeof choice, "%s/fresh", dir);
    sb_gemm_choice c;
    bool present;
    cr_assert_eq(sb_gemm_choice_load(choice, &c, &present, &err), 0, "%s", err.msg);
    cr_assert(present, "no backend.json in %s", choice);
    cr_expect(!isnan(c.sgemm_gflops[0]) && !isnan(c.sgemm_gflops[1]), "both peaks measured");
    cr_expect(c.sgemm_gflops[c.gemm] >= c.sgemm_gflops[1 - c.gemm], "the faster one");
    keys = folder_keys("fresh");
    char want[128];
    snprintf(want, sizeof want, "t5-efficient-tiny|encode|b1|s16|t4|f32|%s|t1\n", sb_gemm_backend_name(c.gemm));
    cr_expect_str_eq(keys, want);
    free(keys);
}

/* Through Slurm the tasks read the file by its absolute path and run on the submission's backend. */
Test(sweep_config, a_slurm_sweep_passes_the_file_and_the_backend_to_its_tasks)
{
    char path[128], args[512], *out;
    write_config("slurm.json", "{\"models\": [\"t5-efficient-tiny\", \"t5-efficient-tiny-nl2\"], \"threads\": 1}", path,
                 sizeof path);
    snprintf(args, sizeof args, "sweep --config %s --slurm --tasks 2 --cpus-per-task=1 --dry-run --out %s/s 2>&1",
             path, dir);
    cr_assert_eq(test_run_cli(args, &out), 0, "%s", out);
    char want[256];
    snprintf(want, sizeof want, "'sweep' '--config' '%s' '--gemm' '", path);
    cr_expect(strstr(out, want) != NULL, "no %s in:\n%s", want, out);
    free(out);
    snprintf(want, sizeof want, "%s/s", dir);
    cr_expect_neq(access(want, F_OK), 0, "--dry-run writes nothing");
}

/* test_hostile.c — untrusted inputs, tried as a user with a hostile or unlucky file would: the files under
 * tests/hostile/ (results files with NUL bytes, blank lines, torn or unterminated last lines, missing or
 * mistyped fields, every string full of gnuplot, shell, HTML and Markdown metacharacters; damaged
 * safetensors; config.json with data after the object or absurd values; fixture inputs with fractional
 * shapes), and the situations around them (links planted at outputs, two writers in one folder, a peaks
 * cache that cannot be written, run names that leave results/, two shapes sharing a name). Each is run
 * through the command line; none may crash, run a command, change a file outside the run, or lose a record
 * without saying so. */
#include "record/record.h"
#include "tests/helpers.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HOSTILE "tests/hostile"

static char dir[64];

static void make_dir(void)
{
    test_make_temp_dir(dir, sizeof dir, "hostile");
}

static void remove_dir(void)
{
    test_remove_tree(dir);
}

TestSuite(hostile, .init = make_dir, .fini = remove_dir, .timeout = 240);

/* Runs `shapebench <args>` with stderr into the output; expects exit status `code` and `needle` in the
 * output (NULL: anything). */
static void expect_cli(const char *args, int code, const char *needle)
{
    char command[1536], *out = NULL;
    snprintf(command, sizeof command, "%s 2>&1", args);
    const int status = test_run_cli(command, &out);
    cr_expect_eq(status, code, "shapebench %s: exit %d, expected %d: %s", args, status, code, out);
    if (needle != NULL)
        cr_expect(strstr(out, needle) != NULL, "shapebench %s: no \"%s\" in: %s", args, needle, out);
    free(out);
}

static void copy_file(const char *from, const char *to)
{
    size_t len;
    void *data = test_read_file(from, &len);
    cr_assert_not_null(data, "%s", from);
    test_write_file(to, data, len);
    free(data);
}

static off_t size_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

/* Every reader refuses a results file it cannot read whole, naming the file and line; none skips a line. */
Test(hostile, results_files_with_bytes_no_reader_accepts)
{
    static const struct {
        const char *run, *needle;
    } cases[] = {
        {"nul-in-line", "line 3 holds a NUL byte"},
        {"nul-line-start", "line 4 holds a NUL byte"},
        {"blank-line", "line 5 is blank"},
        {"trailing-bytes", "line 3 is not a shapebench record"},
        {"not-results", "line 1 is not a shapebench record"},
        {"wrong-type", "line 1: record field 'config.num_layers' is not integer"},
    };
    static const char *const readers[] = {
        "report --run " HOSTILE "/results/%s",
        "pareto --run " HOSTILE "/results/%s --x analytic.params --y throughput.tokens_per_s:max",
        "compare " HOSTILE "/results/%s " HOSTILE "/results/%s",
        "merge " HOSTILE "/results/%s --out %s/merged",
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (size_t r = 0; r < sizeof readers / sizeof readers[0]; r++) {
            char args[1024];
            snprintf(args, sizeof args, readers[r], cases[c].run, r == 3 ? dir : cases[c].run);
            expect_cli(args, 1, cases[c].needle);
        }
}

/* A whole last record without its newline is kept by every reader alike; a torn one is left out with a
 * warning by every reader alike. */
Test(hostile, the_last_line_is_read_one_way)
{
    char args[512], path[160];
    snprintf(args, sizeof args, "merge %s/results/unterminated --out %s/a", HOSTILE, dir);
    expect_cli(args, 0, "6 records");
    snprintf(args, sizeof args, "merge %s/results/torn --out %s/b", HOSTILE, dir);
    expect_cli(args, 0, "a torn last line (");
    snprintf(args, sizeof args, "pareto --run %s/results/unterminated --x analytic.params --y analytic.params:max",
             HOSTILE);
    expect_cli(args, 0, "of 6 records");
    /* the run that appends to it completes the last line first */
    snprintf(path, sizeof path, "%s/c", dir);
    cr_assert_eq(mkdir(path, 0777), 0);
    snprintf(path, sizeof path, "%s/c/results.jsonl", dir);
    copy_file(HOSTILE "/results/unterminated/results.jsonl", path);
    snprintf(args, sizeof args, "merge %s/c --out %s/c2", dir, dir);
    expect_cli(args, 0, "6 records");
}

/* A results file that is not one (text without a final newline) is refused before anything in it changes,
 * also when results.jsonl is a link to it. */
Test(hostile, a_file_that_is_not_a_results_file_is_never_cut)
{
    char notes[128], run[128], link[160], args[512];
    snprintf(notes, sizeof notes, "%s/notes.txt", dir);
    copy_file(HOSTILE "/results/not-results/results.jsonl", notes);
    const off_t before = size_of(notes);
    snprintf(run, sizeof run, "%s/plain", dir);
    cr_assert_eq(mkdir(run, 0777), 0);
    snprintf(link, sizeof link, "%s/results.jsonl", run);
    copy_file(notes, link);
    const char *model = "'t5-efficient-tiny:num_layers=1,num_decoder_layers=1' --mode encode --src 8 --tgt 2 "
                        "--min-reps 1 --min-time 0 --threads 1";
    snprintf(args, sizeof args, "run %s --out %s", model, run);
    expect_cli(args, 1, "line 1 is not a shapebench record");
    cr_expect_eq(size_of(link), before, "the file was changed");
    snprintf(run, sizeof run, "%s/linked", dir);
    cr_assert_eq(mkdir(run, 0777), 0);
    snprintf(link, sizeof link, "%s/results.jsonl", run);
    cr_assert_eq(symlink("../notes.txt", link), 0);
    snprintf(args, sizeof args, "run %s --out %s", model, run);
    expect_cli(args, 1, "is a symbolic link");
    cr_expect_eq(size_of(notes), before, "the link's target was changed");
}

/* A measured record without layer counts: its blocks are unknown, not 0/0 (nor NaN cast to int). */
Test(hostile, a_record_without_layer_counts)
{
    char run[128], path[160], args[256];
    snprintf(run, sizeof run, "%s/run", dir);
    cr_assert_eq(mkdir(run, 0777), 0);
    snprintf(path, sizeof path, "%s/results.jsonl", run);
    copy_file(HOSTILE "/results/no-layer-counts/results.jsonl", path);
    snprintf(args, sizeof args, "report --run %s", run);
    expect_cli(args, 0, NULL);
    snprintf(path, sizeof path, "%s/REPORT.md", run);
    char *md = test_read_file(path, NULL);
    cr_expect(strstr(md, "| t5-efficient-tiny | —/— |") != NULL, "%s", md);
    free(md);
}

/* The text between `open` and the next `close` of each occurrence holds none of `bad`. */
static void expect_clean_between(const char *text, const char *open, const char *close, const char *bad,
                                 const char *what)
{
    size_t seen = 0;
    for (const char *p = strstr(text, open); p != NULL; p = strstr(p, open)) {
        p += strlen(open);
        const char *end = strstr(p, close);
        cr_assert_not_null(end, "%s: unterminated", what);
        for (const char *q = p; q < end; q++)
            cr_assert(strchr(bad, *q) == NULL, "%s: '%c' in %.*s", what, *q, (int)(end - p), p);
        seen++;
    }
    cr_expect_gt(seen, 0, "%s: nothing found", what);
}

/* Every string field of every record holds gnuplot, shell, HTML and Markdown metacharacters (roofline op
 * classes too): plots draws, runs nothing, and the report and the SVGs' hover text carry them as text. */
Test(hostile, metacharacters_in_every_string_run_nothing)
{
    char run[128], path[256], args[256], cwd_marker[4096];
    snprintf(run, sizeof run, "%s/run", dir);
    cr_assert_eq(mkdir(run, 0777), 0);
    snprintf(path, sizeof path, "%s/results.jsonl", run);
    copy_file(HOSTILE "/results/metacharacters/results.jsonl", path);
    snprintf(args, sizeof args, "plots --run %s", run);
    expect_cli(args, 0, "wrote");
    cr_assert_not_null(getcwd(cwd_marker, sizeof cwd_marker - 8));
    strcat(cwd_marker, "/PWNED");
    snprintf(path, sizeof path, "%s/PWNED", run);
    cr_expect_eq(access(cwd_marker, F_OK), -1, "a command from a record ran in the working folder");
    cr_expect_eq(access(path, F_OK), -1, "a command from a record ran in the run folder");
    snprintf(path, sizeof path, "%s/REPORT.html", run);
    char *html = test_read_file(path, NULL);
    cr_expect(strstr(html, "<script>") == NULL && strstr(html, "&lt;script&gt;alert(1)") != NULL,
              "the report's HTML carries the records' text escaped");
    free(html);
    snprintf(path, sizeof path, "%s/REPORT.md", run);
    char *md = test_read_file(path, NULL);
    cr_expect(strstr(md, "<script>") == NULL && strstr(md, "\\[l\\](javascript:x)") != NULL,
              "the report's Markdown carries the records' text escaped");
    free(md);
    snprintf(path, sizeof path, "%s/plots/throughput_vs_params.svg", run);
    char *svg = test_read_file(path, NULL);
    cr_assert_not_null(svg, "%s was not drawn", path);
    expect_clean_between(svg, "showHypertext(evt,'", "')\"", "'\"\\", "hover text");
    cr_expect(strstr(svg, "<script>alert") == NULL);
    free(svg);
}

/* Links planted at the outputs' paths are replaced, never followed; a plots folder that is a link is
 * refused. */
Test(hostile, planted_links_are_replaced_not_followed)
{
    char run[128], path[256], target[128], args[256];
    snprintf(target, sizeof target, "%s/precious.txt", dir);
    test_write_file(target, "precious\n", 9);
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(path, sizeof path, "%s/plots/data", run);
    char made[1024];
    snprintf(made, sizeof made, "mkdir -p %s", path);
    cr_assert_eq(system(made), 0);
    snprintf(path, sizeof path, "%s/results.jsonl", run);
    copy_file("tests/fixtures/results-small/results.jsonl", path);
    static const char *const outputs[] = {"REPORT.md", "REPORT.html", "plots/data/shapes.tsv", "plots/roofline.png",
                                          "plots/gnuplot.log"};
    for (size_t i = 0; i < sizeof outputs / sizeof outputs[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", run, outputs[i]);
        cr_assert_eq(symlink(target, path), 0, "%s", path);
    }
    snprintf(args, sizeof args, "plots --run %s", run);
    expect_cli(args, 0, "wrote");
    char *text = test_read_file(target, NULL);
    cr_expect_str_eq(text, "precious\n", "a link's target was written");
    free(text);
    for (size_t i = 0; i < sizeof outputs / sizeof outputs[0]; i++) {
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", run, outputs[i]);
        cr_expect(lstat(path, &st) == 0 && S_ISREG(st.st_mode), "%s is not a file of the run's own", path);
    }
    snprintf(path, sizeof path, "%s/plots", run);
    snprintf(made, sizeof made, "rm -rf %s && ln -s %s %s", path, dir, path);
    cr_assert_eq(system(made), 0);
    expect_cli(args, 1, "is a symbolic link");
}

static const char tiny_run[] = "run 't5-efficient-tiny:num_layers=1,num_decoder_layers=1' --mode encode --src 8 "
                               "--tgt 2 --min-reps 1 --min-time 0 --threads 1";

/* A second writer into a folder another process is writing is refused with the holder's pid. */
Test(hostile, a_second_writer_is_refused)
{
    char run[128], args[512], holder[32];
    snprintf(run, sizeof run, "%s/run", dir);
    cr_assert_eq(mkdir(run, 0777), 0);
    int fd;
    sb_error err;
    cr_assert_eq(sb_run_lock(run, &fd, &err), 0, "%s", err.msg);
    snprintf(holder, sizeof holder, "(pid %d)", (int)getpid());
    snprintf(args, sizeof args, "%s --out %s", tiny_run, run);
    expect_cli(args, 1, holder);
    snprintf(args, sizeof args, "merge tests/fixtures/results-small --out %s", run);
    expect_cli(args, 1, holder);
    sb_run_unlock(fd);
    snprintf(args, sizeof args, "%s --out %s", tiny_run, run);
    expect_cli(args, 0, NULL);
}

/* A peaks cache that cannot be written is a warning; the run records its measurement. The cache's folder
 * is a file, and so is ./results (where the cache once was), in the folder the command runs in. */
Test(hostile, an_unwritable_peaks_cache_is_a_warning)
{
    char file[128], args[512], path[160];
    snprintf(file, sizeof file, "%s/cache-is-a-file", dir);
    test_write_file(file, "x", 1);
    cr_assert_eq(setenv("XDG_CACHE_HOME", file, 1), 0);
    snprintf(path, sizeof path, "%s/results", dir);
    test_write_file(path, "x", 1);
    cr_assert_eq(chdir(dir), 0);
    snprintf(args, sizeof args, "%s --out %s/run", tiny_run, dir);
    expect_cli(args, 0, "the machine peaks"); /* not cached: unwritable, or measured under load */
    snprintf(path, sizeof path, "%s/run", dir);
    sb_record_set set;
    sb_error err;
    cr_assert_eq(sb_records_load(path, &set, NULL, NULL, &err), 0, "%s", err.msg);
    cr_expect_eq(set.count, 1);
    sb_record_set_free(&set);
}

/* Run names stay one folder under results/; two shapes sharing a name get two keys; one shape listed twice
 * is refused. */
Test(hostile, names_and_keys)
{
    char args[1024];
    snprintf(args, sizeof args, "%s --run ../escaped", tiny_run);
    expect_cli(args, 2, "must name one folder under results/");
    snprintf(args, sizeof args, "%s --run a/b", tiny_run);
    expect_cli(args, 2, "must name one folder under results/");

    const char *config = "{\"_name_or_path\": \"my-model\", \"model_type\": \"t5\", \"vocab_size\": 64, "
                         "\"d_model\": %d, \"d_ff\": 32, \"num_heads\": 2, \"d_kv\": 4, \"num_layers\": 1}";
    char text[256], path[160];
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/m%d", dir, i);
        cr_assert_eq(mkdir(path, 0777), 0);
        snprintf(path, sizeof path, "%s/m%d/config.json", dir, i);
        const int n = snprintf(text, sizeof text, config, 8 << i);
        test_write_file(path, text, (size_t)n);
    }
    snprintf(args, sizeof args, "run %s/m0 %s/m1 --mode encode --src 8 --tgt 2 --min-reps 1 --min-time 0 --threads 1 "
                                "--out %s/run", dir, dir, dir);
    expect_cli(args, 0, NULL);
    snprintf(path, sizeof path, "%s/run", dir);
    sb_record_set set;
    sb_error err;
    cr_assert_eq(sb_records_load(path, &set, NULL, NULL, &err), 0, "%s", err.msg);
    cr_expect_eq(set.count, 2, "both shapes are recorded");
    if (set.count == 2)
        cr_expect_str_neq(sb_record_key_of(set.items[0]), sb_record_key_of(set.items[1]));
    sb_record_set_free(&set);
    snprintf(args, sizeof args, "run t5-efficient-tiny google/t5-efficient-tiny --mode encode --src 8 --out %s/dup",
             dir);
    expect_cli(args, 2, "list it once");
}

/* config.json, model specs and overrides: refused with the real reason and limit. */
Test(hostile, configs_and_overrides)
{
    static const struct {
        const char *args, *needle;
    } cases[] = {
        {"count " HOSTILE "/config/trailing-object.json", "data after the object"},
        {"count " HOSTILE "/config/nul-tail.json", "data after the object"},
        {"count " HOSTILE "/config/deep.json", "not valid JSON"},
        {"count " HOSTILE "/config/fraction.json", "d_model: expected an integer"},
        {"count " HOSTILE "/config/layers-1e9.json", "num_layers = 1000000000 is out of range (1..4095)"},
        {"count 't5-efficient-tiny:d_model=512abc'", "'512abc' is not a decimal number"},
        {"count 't5-efficient-tiny:d_model=0x200'", "'0x200' is not a decimal number"},
        {"count 't5-efficient-tiny:num_layers=1e9'", "num_layers = 1000000000 is out of range (1..4095)"},
        {"count 't5-efficient-tiny:num_layers=3000,num_decoder_layers=3000'", "at most 4096 blocks in all"},
    };
    /* a config the tool cannot use is bad usage (exit 2), as a name it does not know */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_cli(cases[i].args, 2, cases[i].needle);
    expect_cli("run t5-efficient-tiny --src 8-0x10 --out /nonexistent", 2, "is not a whole number");
    expect_cli("run t5-efficient-tiny --min-time 1e999 --out /nonexistent", 2, "must be a number of seconds");
}

/* Damaged safetensors files and fixture inputs: refused naming the problem (the many more of
 * test_checkpoint.c are the reader's own). */
Test(hostile, damaged_weights_and_inputs)
{
    static const struct {
        const char *args, *needle;
    } cases[] = {
        {"generate --model " HOSTILE "/safetensors/shape-bytes-overflow --input-ids 1,2 --max-new-tokens 1",
         "size in bytes overflows 64 bits"},
        {"generate --model " HOSTILE "/safetensors/header-length-absurd --input-ids 1,2 --max-new-tokens 1",
         "is absurd"},
        {"generate --model " HOSTILE "/safetensors/header-not-utf8 --input-ids 1,2 --max-new-tokens 1",
         "not UTF-8"},
        {"generate --model " HOSTILE "/safetensors/truncated --input-ids 1,2 --max-new-tokens 1",
         "truncated file?"},
        {"generate --model " HOSTILE "/safetensors/offsets-huge --input-ids 1,2 --max-new-tokens 1",
         "data_offsets"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_cli(cases[i].args, 1, cases[i].needle);
    char args[512];
    snprintf(args, sizeof args,
             "forward --model tests/fixtures/t5-eff-relu-mini --inputs %s/fixture/fraction --out %s/o", HOSTILE, dir);
    expect_cli(args, 1, "each shape entry must be a whole number");
    snprintf(args, sizeof args,
             "forward --model tests/fixtures/t5-eff-relu-mini --inputs %s/fixture/trailing --out %s/o", HOSTILE, dir);
    expect_cli(args, 1, "is not one JSON object");
}

/* test_results.c — results files: append and reload, torn-line repair, refusals (bad lines, schema
 * versions), a full disk (file-size limit) leaving earlier records intact, CSV and Markdown views, merge. */
#include "harness/harness.h"
#include "tests/helpers.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64];

static void make_dir(void)
{
    test_make_temp_dir(dir, sizeof dir, "results");
}

static void remove_dir(void)
{
    test_remove_tree(dir);
}

TestSuite(results, .init = make_dir, .fini = remove_dir);

/* A minimal record: the fields the results layer reads (key, schema version) and a payload. */
static cJSON *record(const char *key, int version, size_t payload)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "schema_version", version);
    cJSON_AddStringToObject(r, "key", key);
    char *pad = malloc(payload + 1);
    memset(pad, 'x', payload);
    pad[payload] = '\0';
    cJSON_AddStringToObject(r, "payload", pad);
    free(pad);
    return r;
}

static void append(sb_results_file *r, const char *key)
{
    sb_error err;
    cr_assert_eq(sb_results_append(r, record(key, SB_SCHEMA_VERSION, 10), &err), 0, "%s", err.msg);
}

static void write_text(const char *name, const char *text, const char *mode)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, mode);
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static off_t file_size(const char *name)
{
    char path[128];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static int warnings;
static void count_warning(void *ctx, const char *message)
{
    (void)ctx;
    (void)message;
    warnings++;
}

Test(results, append_then_reopen_resumes)
{
    sb_results_file r;
    sb_error err;
    cr_assert_eq(sb_results_open(&r, dir, NULL, NULL, &err), 0, "%s", err.msg);
    append(&r, "a");
    append(&r, "b");
    cr_expect(sb_results_has(&r, "a"));
    sb_results_close(&r);
    cr_assert_eq(sb_results_open(&r, dir, NULL, NULL, &err), 0, "%s", err.msg);
    cr_expect_eq(r.existing.count, 2);
    cr_expect(sb_results_has(&r, "b"));
    cr_expect_not(sb_results_has(&r, "c"));
    sb_results_close(&r);
}

/* A record measured again takes its old one's place: the file is renamed over whole, every other line stays
 * byte for byte, later appends go to the new file, and a key the file lacks is refused. */
Test(results, replace_keeps_every_other_line)
{
    sb_results_file r;
    sb_error err;
    cr_assert_eq(sb_results_open(&r, dir, NULL, NULL, &err), 0, "%s", err.msg);
    append(&r, "a");
    append(&r, "b");
    append(&r, "c");
    char path[128];
    snprintf(path, sizeof path, "%s/results.jsonl", dir);
    size_t before_len;
    char *before = test_read_file(path, &before_len);
    struct stat old_st, new_st;
    cr_assert_eq(stat(path, &old_st), 0);
    cr_assert_eq(sb_results_replace(&r, record("b", SB_SCHEMA_VERSION, 30), &err), 0, "%s", err.msg);
    cr_assert_eq(stat(path, &new_st), 0);
    cr_expect_neq(old_st.st_ino, new_st.st_ino, "a new file renamed over the old, not the old one rewritten");
    append(&r, "d");
    cr_expect_neq(sb_results_replace(&r, record("e", SB_SCHEMA_VERSION, 10), &err), 0);
    cr_expect(strstr(err.msg, "no record of e") != NULL, "%s", err.msg);
    sb_results_close(&r);

    size_t after_len;
    char *after = test_read_file(path, &after_len);
    const char *b_line = strchr(before, '\n') + 1, *c_line = strchr(b_line, '\n') + 1;
    const size_t a_len = (size_t)(b_line - before), c_len = before_len - (size_t)(c_line - before);
    cr_expect_eq(memcmp(after, before, a_len), 0, "line a unchanged");
    const char *new_b = after + a_len, *new_c = strchr(new_b, '\n') + 1;
    cr_expect(strstr(new_b, "\"key\":\"b\"") != NULL && (size_t)(new_c - new_b) > (size_t)(c_line - b_line),
              "line b replaced by the longer record: %s", after);
    cr_expect_eq(memcmp(new_c, c_line, c_len), 0, "line c unchanged: %s", after);
    cr_expect(strncmp(new_c + c_len, "{\"schema_version\":3,\"key\":\"d\"", 29) == 0,
              "the append after the replacement is in the new file: %s", after);
    free(before);
    free(after);

    sb_record_set set;
    cr_assert_eq(sb_records_load(dir, &set, NULL, NULL, &err), 0, "%s", err.msg);
    cr_expect_eq(set.count, 4);
    sb_record_set_free(&set);
}

Test(results, torn_last_line_is_cut_with_a_warning)
{
    sb_results_file r;
    sb_error err;
    cr_assert_eq(sb_results_open(&r, dir, NULL, NULL, &err), 0, "%s", err.msg);
    append(&r, "a");
    sb_results_close(&r);
    off_t whole = file_size("results.jsonl");
    write_text("results.jsonl", "{\"schema_version\":1,\"key\":\"b\",\"pay", "a"); /* killed mid-write */
    sb_record_set loaded;
    warnings = 0;
    cr_assert_eq(sb_records_load(dir, &loaded, count_warning, NULL, &err), 0, "%s", err.msg);
    cr_expect_eq(loaded.count, 1);
    cr_expect_eq(warnings, 1);
    sb_record_set_free(&loaded);
    warnings = 0;
    cr_assert_eq(sb_results_open(&r, dir, count_warning, NULL, &err), 0, "%s", err.msg);
    cr_expect_eq(warnings, 1);
    cr_expect_eq(file_size("results.jsonl"), whole, "the torn line is cut off the file");
    append(&r, "b");
    sb_results_close(&r);
    cr_assert_eq(sb_records_load(dir, &loaded, NULL, NULL, &err), 0, "%s", err.msg);
    cr_expect_eq(loaded.count, 2);
    sb_record_set_free(&loaded);
}

Test(results, a_bad_line_in_the_middle_is_refused)
{
    write_text("results.jsonl",
               "{\"schema_version\":1,\"key\":\"a\"}\nnot json\n{\"schema_version\":1,\"key\":\"b\"}\n", "w");
    sb_results_file r;
    sb_error err;
    cr_expect_eq(sb_results_open(&r, dir, NULL, NULL, &err), -1);
    cr_expect(strstr(err.msg, "line 2") != NULL, "%s", err.msg);
}

/* Lines the reader cannot accept are errors naming the line, never skipped: a NUL byte (in a line or
 * starting one), a blank or whitespace-only line, bytes after the object. */
Test(results, bad_bytes_are_errors_naming_the_line)
{
    static const struct {
        const char *text;
        size_t len;
        const char *needle;
    } cases[] = {
        {"{\"schema_version\":2,\"key\":\"a\"}\n{\"key\":\"b\0\"}\n", 44, "line 2 holds a NUL byte"},
        {"{\"schema_version\":2,\"key\":\"a\"}\n\0{\"key\":\"b\"}\n", 44, "line 2 holds a NUL byte"},
        {"{\"schema_version\":2,\"key\":\"a\"}\n \t \n", 35, "line 2 is blank"},
        {"\n{\"schema_version\":2,\"key\":\"a\"}\n", 32, "line 1 is blank"},
        {"{\"schema_version\":2,\"key\":\"a\"} {\"key\":\"b\"}\n", 43, "line 1 is not a shapebench record"},
        {"{\"schema_version\":2,\"key\":\"a\"}\nmy notes", 39, "line 2 is not a shapebench record"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s/results.jsonl", dir);
        test_write_file(path, cases[i].text, cases[i].len);
        sb_record_set loaded;
        sb_error err = {""};
        cr_expect_eq(sb_records_load(dir, &loaded, NULL, NULL, &err), -1, "case %zu was read", i);
        cr_expect(strstr(err.msg, cases[i].needle) != NULL, "case %zu: %s", i, err.msg);
        sb_results_file r;
        cr_expect_eq(sb_results_open(&r, dir, NULL, NULL, &err), -1, "case %zu was opened for appending", i);
        cr_expect_eq(file_size("results.jsonl"), (off_t)cases[i].len, "case %zu: the file was changed", i);
    }
}

/* A whole record without its final newline is a record for every reader; the appender puts the newline
 * back, so the next record gets a line of its own. */
Test(results, a_last_record_without_its_newline_is_kept)
{
    write_text("results.jsonl", "{\"schema_version\":3,\"key\":\"a\"}\n{\"schema_version\":3,\"key\":\"b\"}", "w");
    sb_record_set loaded;
    sb_error err;
    warnings = 0;
    cr_assert_eq(sb_records_load(dir, &loaded, count_warning, NULL, &err), 0, "%s", err.msg);
    cr_expect_eq(loaded.count, 2);
    cr_expect_eq(warnings, 0);
    sb_record_set_free(&loaded);
    sb_results_file r;
    cr_assert_eq(sb_results_open(&r, dir, count_warning, NULL, &err), 0, "%s", err.msg);
    cr_expect_eq(r.existing.count, 2);
    append(&r, "c");
    sb_results_close(&r);
    cr_assert_eq(sb_records_load(dir, &loaded, NULL, NULL, &err), 0, "%s", err.msg);
    cr_expect_eq(loaded.count, 3);
    cr_expect_eq(loaded.lines[2], 3);
    sb_record_set_free(&loaded);
}

/* The NUL bytes a crash can leave where the last line's data had not reached the disk: a torn line. */
Test(results, a_tail_of_nul_bytes_is_torn)
{
    char path[128];
    snprintf(path, sizeof path, "%s/results.jsonl", dir);
    test_write_file(path, "{\"schema_version\":3,\"key\":\"a\"}\n\0\0\0\0", 35);
    sb_results_file r;
    sb_error err;
    warnings = 0;
    cr_assert_eq(sb_results_open(&r, dir, count_warning, NULL, &err), 0, "%s", err.msg);
    cr_expect_eq(warnings, 1);
    cr_expect_eq(r.existing.count, 1);
    sb_results_close(&r);
    cr_expect_eq(file_size("results.jsonl"), 31);
}

/* results.jsonl as a link to a file elsewhere: refused, the target untouched. */
Test(results, a_linked_results_file_is_refused)
{
    write_text("notes.txt", "my notes\nlast line", "w");
    char sub[128], link[160];
    snprintf(sub, sizeof sub, "%s/run", dir);
    cr_assert_eq(mkdir(sub, 0777), 0);
    snprintf(link, sizeof link, "%s/results.jsonl", sub);
    cr_assert_eq(symlink("../notes.txt", link), 0);
    sb_results_file r;
    sb_error err;
    cr_expect_eq(sb_results_open(&r, sub, NULL, NULL, &err), -1);
    cr_expect(strstr(err.msg, "symbolic link") != NULL, "%s", err.msg);
    cr_expect_eq(file_size("notes.txt"), 18);
}

/* One writer per folder: a second open (another process) is refused naming the holder's pid, and gets the
 * folder once the first closes. */
Test(results, a_second_writer_is_refused_with_the_holders_pid)
{
    sb_results_file r;
    sb_error err;
    cr_assert_eq(sb_results_open(&r, dir, NULL, NULL, &err), 0, "%s", err.msg);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        sb_results_file c;
        const int rc = sb_results_open(&c, dir, NULL, NULL, &err);
        if (write(fds[1], err.msg, strlen(err.msg) + 1) < 0)
            _exit(3);
        _exit(rc == -1 ? 0 : 1);
    }
    close(fds[1]);
    char msg[SB_ERROR_MAX] = "";
    cr_assert_gt(read(fds[0], msg, sizeof msg - 1), 0);
    close(fds[0]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the second writer was let in");
    char holder[32];
    snprintf(holder, sizeof holder, "(pid %d)", (int)getpid());
    cr_expect(strstr(msg, holder) != NULL && strstr(msg, "another shapebench") != NULL, "%s", msg);
    sb_results_close(&r);
    cr_assert_eq(sb_results_open(&r, dir, NULL, NULL, &err), 0, "%s", err.msg);
    sb_results_close(&r);
}

Test(results, another_schema_version_is_refused)
{
    write_text("results.jsonl", "{\"schema_version\":99,\"key\":\"a\"}\n", "w");
    sb_results_file r;
    sb_error err;
    cr_expect_eq(sb_results_open(&r, dir, NULL, NULL, &err), -1);
    cr_expect(strstr(err.msg, "schema version 99") != NULL, "%s", err.msg);
}

Test(results, unwritable_dir_names_the_path)
{
    write_text("file", "x", "w"); /* a regular file where a folder is needed: fails even as root */
    char out[128];
    snprintf(out, sizeof out, "%s/file/run", dir);
    sb_results_file r;
    sb_error err;
    cr_expect_eq(sb_results_open(&r, out, NULL, NULL, &err), -1);
    cr_expect(strstr(err.msg, "/file") != NULL, "%s", err.msg);
}

/* A full disk, simulated by a file-size limit in a child: the append fails with the path named, and the
 * file holds exactly the earlier records, no partial line. */
Test(results, full_disk_keeps_earlier_records)
{
    sb_results_file r;
    sb_error err;
    cr_assert_eq(sb_results_open(&r, dir, NULL, NULL, &err), 0, "%s", err.msg);
    append(&r, "a");
    sb_results_close(&r);
    off_t before = file_size("results.jsonl");
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit lim = {(rlim_t)before + 100, (rlim_t)before + 100};
        sb_results_file c;
        if (setrlimit(RLIMIT_FSIZE, &lim) != 0 || sb_results_open(&c, dir, NULL, NULL, &err) != 0)
            _exit(2);
        int rc = sb_results_append(&c, record("b", SB_SCHEMA_VERSION, 4096), &err);
        bool named = strstr(err.msg, "results.jsonl") != NULL && strstr(err.msg, "too large") != NULL;
        _exit(rc == -1 && named ? 0 : 1);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the append must fail naming the file");
    cr_expect_eq(file_size("results.jsonl"), before, "no partial line is left behind");
    sb_record_set loaded;
    cr_assert_eq(sb_records_load(dir, &loaded, NULL, NULL, &err), 0, "%s", err.msg);
    cr_expect_eq(loaded.count, 1);
    sb_record_set_free(&loaded);
}

Test(results, csv_quotes_and_flattens)
{
    sb_record_set s = {0};
    cJSON *r = record("k,1", SB_SCHEMA_VERSION, 1);
    cJSON *t = cJSON_AddObjectToObject(r, "timing");
    cJSON_AddNumberToObject(t, "median", 0.25);
    sb_error err;
    cr_assert_eq(sb_record_set_add(&s, r, &err), 0);
    char path[128];
    snprintf(path, sizeof path, "%s/out.csv", dir);
    cr_assert_eq(sb_records_write_csv(&s, path, &err), 0, "%s", err.msg);
    FILE *f = fopen(path, "r");
    char header[2048], row[2048];
    cr_assert(fgets(header, sizeof header, f) && fgets(row, sizeof row, f));
    fclose(f);
    cr_expect(strncmp(header, "key,run,shape,", 14) == 0, "%s", header);
    cr_expect(strncmp(row, "\"k,1\",", 6) == 0, "%s", row);
    cr_expect(strstr(row, ",0.25,") != NULL, "%s", row);
    sb_record_set_free(&s);
}

Test(results, merge_dedupes_and_refuses_mixed_versions)
{
    char a[128], b[128], c[128], out[128];
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    snprintf(c, sizeof c, "%s/c", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    sb_results_file r;
    sb_error err;
    const char *keys[2][2] = {{"x", "y"}, {"y", "z"}};
    const char *dirs[2] = {a, b};
    for (int d = 0; d < 2; d++) {
        cr_assert_eq(sb_results_open(&r, dirs[d], NULL, NULL, &err), 0, "%s", err.msg);
        append(&r, keys[d][0]);
        append(&r, keys[d][1]);
        sb_results_close(&r);
    }
    size_t written = 0;
    cr_assert_eq(sb_results_merge(dirs, 2, out, &written, NULL, NULL, &err), 0, "%s", err.msg);
    cr_expect_eq(written, 3);
    sb_record_set merged;
    cr_assert_eq(sb_records_load(out, &merged, NULL, NULL, &err), 0, "%s", err.msg);
    cr_expect_eq(merged.count, 3);
    sb_record_set_free(&merged);

    cr_assert_eq(mkdir(c, 0777), 0);
    snprintf(out, sizeof out, "c/results.jsonl");
    char other[64];
    snprintf(other, sizeof other, "{\"schema_version\":%d,\"key\":\"w\"}\n", SB_SCHEMA_VERSION + 1);
    write_text(out, other, "w");
    const char *mixed[2] = {a, c};
    snprintf(out, sizeof out, "%s/out2", dir);
    cr_expect_eq(sb_results_merge(mixed, 2, out, &written, NULL, NULL, &err), -1);
    cr_expect(strstr(err.msg, "schema versions differ") != NULL, "%s", err.msg);
}

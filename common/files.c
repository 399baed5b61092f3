/* files.c — folders and whole files: mkdir -p, reading a file at once, and replacing a file atomically (an
 * output is written to a new file beside it and renamed over it, so no link at an output's path is followed). */
#include "common/common.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int sb_mkdir_p(const char *dir, sb_error *err)
{
    char path[SB_PATH_MAX];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return sb_fail(err, "path too long: %.100s...", dir);
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        const char c = *p;
        *p = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return sb_fail(err, "cannot create folder %s: %s", path, strerror(errno));
        *p = c;
        if (c == '\0')
            break;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return sb_fail(err, "%s exists and is not a folder", dir);
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

void sb_remove_tree(const char *path)
{
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int sb_mkdir_parent(const char *path, sb_error *err)
{
    char dir[SB_PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
        return sb_fail(err, "path too long: %.100s...", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL || slash == dir)
        return 0;
    *slash = '\0';
    return sb_mkdir_p(dir, err);
}

int sb_read_fd(int fd, const char *path, char **out, size_t *len, sb_error *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return sb_fail(err, "cannot stat %s: %s", path, strerror(errno));
    char *buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL)
        return sb_fail(err, "out of memory reading %s (%lld bytes)", path, (long long)st.st_size);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        const ssize_t n = pread(fd, buf + got, (size_t)st.st_size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            const int e = errno;
            free(buf);
            return sb_fail(err, "cannot read %s: %s", path, n < 0 ? strerror(e) : "file shrank while read");
        }
        got += (size_t)n;
    }
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return 0;
}

int sb_read_file(const char *path, char **out, size_t *len, sb_error *err)
{
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sb_fail(err, "cannot open %s: %s", path, strerror(errno));
    const int rc = sb_read_fd(fd, path, out, len, err);
    close(fd);
    return rc;
}

int sb_output_open(sb_output *o, const char *path, sb_error *err)
{
    memset(o, 0, sizeof *o);
    if (snprintf(o->path, sizeof o->path, "%s", path) >= (int)sizeof o->path ||
        snprintf(o->tmp, sizeof o->tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof o->tmp)
        return sb_fail(err, "path too long: %.100s...", path);
    /* mkstemp creates the file exclusively (O_EXCL, so never through a link), mode 0600: widened to what a
     * plain create gives. */
    const int fd = mkstemp(o->tmp);
    if (fd < 0)
        return sb_fail(err, "cannot create a file beside %s: %s", path, strerror(errno));
    const mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask);
    o->f = fdopen(fd, "wb");
    if (o->f == NULL) {
        const int e = errno;
        close(fd);
        unlink(o->tmp);
        return sb_fail(err, "cannot write %s: %s", path, strerror(e));
    }
    return 0;
}

int sb_output_commit(sb_output *o, sb_error *err)
{
    int rc = 0;
    if (fflush(o->f) != 0 || ferror(o->f) || fsync(fileno(o->f)) != 0)
        rc = sb_fail(err, "cannot write %s: %s", o->path, strerror(errno));
    if (fclose(o->f) != 0 && rc == 0)
        rc = sb_fail(err, "cannot write %s: %s", o->path, strerror(errno));
    o->f = NULL;
    if (rc == 0 && rename(o->tmp, o->path) != 0)
        rc = sb_fail(err, "cannot rename %s to %s: %s", o->tmp, o->path, strerror(errno));
    if (rc != 0)
        unlink(o->tmp);
    return rc;
}

void sb_output_abort(sb_output *o)
{
    if (o->f == NULL)
        return;
    fclose(o->f);
    o->f = NULL;
    unlink(o->tmp);
}

int sb_write_file_atomic(const char *path, sb_write_fn write, void *ctx, sb_error *err)
{
    sb_output o;
    if (sb_output_open(&o, path, err) != 0)
        return -1;
    if (write(o.f, ctx, err) != 0) {
        sb_output_abort(&o);
        return -1;
    }
    return sb_output_commit(&o, err);
}

typedef struct {
    const char *text;
    bool newline;
} text_file;

static int write_text(FILE *f, void *ctx, sb_error *err)
{
    const text_file *t = ctx;
    if (fputs(t->text, f) < 0 || (t->newline && fputc('\n', f) == EOF))
        return sb_fail(err, "write error: %s", strerror(errno));
    return 0;
}

int sb_write_text_atomic(const char *path, const char *text, bool newline, sb_error *err)
{
    text_file t = {text, newline};
    return sb_write_file_atomic(path, write_text, &t, err);
}

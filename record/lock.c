/* lock.c — one writer per results folder: an exclusive lock (flock) on <dir>/.shapebench.lock, held for as
 * long as a run, a sweep or a merge writes into the folder. A second writer is refused with the holder's
 * pid instead of appending every key a second time. The lock goes with the process (kill -9 included), so
 * no stale lock ever needs removing; the file stays and holds the pid of its last holder. */
#include "record/record.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOCK_NAME ".shapebench.lock"

/* The pid the holder wrote into the lock file, as text ("unknown" when it has not yet). */
static void holder_pid(int fd, char *out, size_t cap)
{
    char text[24];
    const ssize_t n = pread(fd, text, sizeof text - 1, 0);
    text[n > 0 ? n : 0] = '\0';
    text[strcspn(text, "\n")] = '\0';
    int64_t pid;
    if (sb_parse_i64(text, 1, INT32_MAX, &pid) == 0)
        snprintf(out, cap, "pid %lld", (long long)pid);
    else
        snprintf(out, cap, "pid unknown");
}

int sb_run_lock(const char *dir, int *fd_out, sb_error *err)
{
    char path[SB_PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, LOCK_NAME) >= (int)sizeof path)
        return sb_fail(err, "path too long: %s", dir);
    /* O_NOFOLLOW: a link planted at the lock's name must not make us create or truncate its target. */
    const int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0)
        return sb_fail(err, "cannot open the lock %s: %s", path,
                       errno == ELOOP ? "it is a symbolic link" : strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return sb_fail(err, "the lock %s is not a regular file", path);
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int e = errno;
        char holder[48];
        holder_pid(fd, holder, sizeof holder);
        close(fd);
        if (e == EWOULDBLOCK)
            return sb_fail(err, "%s is being written by another shapebench (%s): wait for it to finish, or use "
                                "another --out", dir, holder);
        return sb_fail(err, "cannot lock %s: %s", path, strerror(e));
    }
    char pid[24];
    const int n = snprintf(pid, sizeof pid, "%lld\n", (long long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
        const int e = errno;
        close(fd);
        return sb_fail(err, "cannot write the lock %s: %s", path, strerror(e));
    }
    *fd_out = fd;
    return 0;
}

void sb_run_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* closing the last descriptor releases the flock */
}

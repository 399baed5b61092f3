/* tool.c — external programs (npm, tar, spm_train, gnuplot, sha256sum) run without a shell: argv goes
 * to the program as given, so no path or name is ever interpreted as a command. */
#include "common/common.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int spawn(char *const argv[], const sb_tool_io *io, int out_fd, pid_t *pid, sb_error *err)
{
    const sb_tool_io none = {0};
    if (io == NULL)
        io = &none;
    /* O_NOFOLLOW: a tool's output (a log, say) never goes through a link planted at its path. */
    const int write_flags = O_WRONLY | O_CREAT | O_NOFOLLOW | (io->append ? O_APPEND : O_TRUNC);
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0)
        return sb_fail(err, "cannot run %s: out of memory", argv[0]);
    int rc = posix_spawn_file_actions_addopen(&fa, 0, io->in ? io->in : "/dev/null", O_RDONLY, 0);
    if (rc == 0 && out_fd >= 0)
        rc = posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    else if (rc == 0)
        rc = posix_spawn_file_actions_addopen(&fa, 1, io->out ? io->out : "/dev/null", write_flags, 0644);
    if (rc == 0 && io->errf != NULL && io->out != NULL && strcmp(io->errf, io->out) == 0)
        rc = posix_spawn_file_actions_adddup2(&fa, 1, 2);
    else if (rc == 0)
        rc = posix_spawn_file_actions_addopen(&fa, 2, io->errf ? io->errf : "/dev/null", write_flags, 0644);
    if (rc == 0 && io->cwd != NULL)
        rc = posix_spawn_file_actions_addchdir_np(&fa, io->cwd);
    if (rc == 0)
        rc = posix_spawnp(pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc == ENOENT) {
        sb_fail(err, "%s not found in PATH", argv[0]);
        return SB_TOOL_MISSING;
    }
    if (rc != 0)
        return sb_fail(err, "cannot run %s: %s", argv[0], strerror(rc));
    return 0;
}

static int wait_child(pid_t pid, int *exit_status, sb_error *err)
{
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return sb_fail(err, "waitpid: %s", strerror(errno));
    *exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return 0;
}

int sb_run_tool(char *const argv[], const sb_tool_io *io, int *exit_status, sb_error *err)
{
    pid_t pid;
    const int rc = spawn(argv, io, -1, &pid, err);
    return rc != 0 ? rc : wait_child(pid, exit_status, err);
}

int sb_run_tool_output(char *const argv[], const sb_tool_io *io, char **out, int *exit_status, sb_error *err)
{
    *out = NULL;
    int fds[2];
    if (pipe(fds) != 0)
        return sb_fail(err, "pipe: %s", strerror(errno));
    pid_t pid;
    const int rc = spawn(argv, io, fds[1], &pid, err);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        return rc;
    }
    /* Read to the end before waiting: a child blocked on a full pipe would never exit. */
    sb_strbuf text = {0};
    char buf[4096];
    for (;;) {
        const ssize_t k = read(fds[0], buf, sizeof buf);
        if (k > 0)
            sb_strbuf_append(&text, buf, (size_t)k);
        else if (k == 0 || errno != EINTR)
            break;
    }
    close(fds[0]);
    if (wait_child(pid, exit_status, err) != 0) {
        sb_strbuf_free(&text);
        return -1;
    }
    *out = sb_strbuf_failed(&text) ? NULL : text.data != NULL ? text.data : strdup("");
    if (*out == NULL) {
        sb_strbuf_free(&text);
        return sb_fail(err, "out of memory reading %s's output", argv[0]);
    }
    return 0;
}

int sb_sha256_file(const char *path, char hex[65], sb_error *err)
{
    char *argv[] = {"sha256sum", "--", (char *)path, NULL};
    char *text;
    int status;
    const int rc = sb_run_tool_output(argv, NULL, &text, &status, err);
    if (rc != 0)
        return rc;
    size_t n = 0;
    while (n < 64 && isxdigit((unsigned char)text[n]))
        n++;
    const bool ok = status == 0 && n == 64 && text[64] == ' ';
    if (ok) {
        memcpy(hex, text, 64);
        hex[64] = '\0';
    }
    free(text);
    return ok ? 0 : sb_fail(err, "sha256sum %s failed (exit %d)", path, status);
}

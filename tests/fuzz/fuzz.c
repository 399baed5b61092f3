/* fuzz.c — the helpers every fuzz target links (fuzz.h). */
#include "tests/fuzz/fuzz.h"

#include "common/common.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char scratch[SB_PATH_MAX];

static void remove_scratch(void)
{
    sb_remove_tree(scratch);
}

const char *fuzz_scratch(const char *label)
{
    if (scratch[0] != '\0')
        return scratch;
    const char *tmp = getenv("TMPDIR");
    snprintf(scratch, sizeof scratch, "%s/shapebench-fuzz-%s-XXXXXX", tmp != NULL && tmp[0] == '/' ? tmp : "/tmp",
             label);
    if (mkdtemp(scratch) == NULL) {
        perror("fuzz: mkdtemp");
        abort();
    }
    atexit(remove_scratch);
    return scratch;
}

void fuzz_write(const char *dir, const char *name, const void *data, size_t size)
{
    char path[SB_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    const int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || (size > 0 && write(fd, data, size) != (ssize_t)size) || close(fd) != 0) {
        perror("fuzz: write");
        abort();
    }
}

char *fuzz_text(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';
    return text;
}

void fuzz_require(int ok, const char *what, const char *detail)
{
    if (ok)
        return;
    fprintf(stderr, "fuzz: broken promise: %s: %s\n", what, detail != NULL ? detail : "");
    abort();
}

/* numbers.c — numbers read from text given by a user (command-line values, overrides). */
#include "common/common.h"

#include <errno.h>
#include <stdlib.h>

int sb_parse_i64(const char *text, int64_t min, int64_t max, int64_t *out)
{
    if (text == NULL || *text == '\0')
        return -1;
    char *end = NULL;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || value < min || value > max)
        return -1;
    *out = value;
    return 0;
}

/* strbuf.c — a growable string for text built piece by piece (gnuplot variables, JSON, messages, batch
 * scripts). */
#include "common/common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sb_fmt(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, cap, fmt, ap);
    va_end(ap);
}

static bool reserve(sb_strbuf *b, size_t more)
{
    if (b->failed)
        return false;
    if (b->len + more + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *grown = realloc(b->data, cap);
    if (grown == NULL) {
        b->failed = true;
        return false;
    }
    b->data = grown;
    b->cap = cap;
    return true;
}

void sb_strbuf_append(sb_strbuf *b, const char *text, size_t len)
{
    if (!reserve(b, len))
        return;
    memcpy(b->data + b->len, text, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void sb_strbuf_shell_word(sb_strbuf *b, const char *text)
{
    sb_strbuf_append(b, "'", 1);
    for (const char *p = text; *p != '\0'; p++) {
        if (*p == '\'')
            sb_strbuf_append(b, "'\\''", 4);
        else
            sb_strbuf_append(b, p, 1);
    }
    sb_strbuf_append(b, "'", 1);
}

void sb_strbuf_printf(sb_strbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    if (!reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

const char *sb_strbuf_text(const sb_strbuf *b)
{
    return b->data != NULL ? b->data : "";
}

bool sb_strbuf_failed(const sb_strbuf *b)
{
    return b->failed;
}

void sb_strbuf_free(sb_strbuf *b)
{
    free(b->data);
    *b = (sb_strbuf){0};
}

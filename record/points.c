/* points.c — the points a results folder is to hold (<dir>/points.tsv): what a sweep or a probe plans before it
 * measures, so that a point without a record can be named as missing by status, merge and the report, and
 * what is left of a run can be estimated. One line per point: its key, a tab, its expected cost in seconds. */
#include "record/record.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define POINTS_NAME "points.tsv"

int sb_points_add(sb_points *p, const char *key, double cost_s, sb_error *err)
{
    if (key[0] == '\0' || strpbrk(key, "\t\n\r") != NULL)
        return sb_fail(err, "point key '%s' is empty or holds a tab or line break", key);
    if (p->count == p->cap) {
        const size_t cap = p->cap ? p->cap * 2 : 32;
        char **keys = realloc(p->keys, cap * sizeof *keys);
        if (keys != NULL)
            p->keys = keys;
        double *cost = keys != NULL ? realloc(p->cost_s, cap * sizeof *cost) : NULL;
        if (cost == NULL)
            return sb_fail(err, "out of memory for %zu points", cap);
        p->cost_s = cost;
        p->cap = cap;
    }
    if ((p->keys[p->count] = strdup(key)) == NULL)
        return sb_fail(err, "out of memory for %zu points", p->count + 1);
    p->cost_s[p->count++] = cost_s;
    return 0;
}

bool sb_points_has(const sb_points *p, const char *key)
{
    for (size_t i = 0; i < p->count; i++)
        if (strcmp(p->keys[i], key) == 0)
            return true;
    return false;
}

void sb_points_free(sb_points *p)
{
    for (size_t i = 0; i < p->count; i++)
        free(p->keys[i]);
    free(p->keys);
    free(p->cost_s);
    *p = (sb_points){0};
}

static int write_points(FILE *f, void *ctx, sb_error *err)
{
    const sb_points *p = ctx;
    for (size_t i = 0; i < p->count; i++)
        fprintf(f, "%s\t%.3f\n", p->keys[i], p->cost_s[i]);
    return ferror(f) ? sb_fail(err, "cannot write the points file") : 0;
}

int sb_points_write(const char *dir, const sb_points *p, sb_error *err)
{
    char path[SB_PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, POINTS_NAME) >= (int)sizeof path)
        return sb_fail(err, "path too long: %s", dir);
    if (sb_mkdir_p(dir, err) != 0)
        return -1;
    return sb_write_file_atomic(path, write_points, (void *)p, err);
}

int sb_points_load(const char *dir, sb_points *out, bool *present, sb_error *err)
{
    *out = (sb_points){0};
    if (present != NULL)
        *present = false;
    char path[SB_PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, POINTS_NAME) >= (int)sizeof path)
        return sb_fail(err, "path too long: %s", dir);
    if (access(path, F_OK) != 0 && errno == ENOENT)
        return 0;
    char *text;
    size_t len;
    if (sb_read_file(path, &text, &len, err) != 0)
        return -1;
    size_t line = 0;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
        line++;
        char *tab = strchr(l, '\t'), *end = NULL;
        const double cost = tab != NULL ? strtod(tab + 1, &end) : 0;
        if (tab == NULL || end == tab + 1 || *end != '\0') {
            free(text);
            sb_points_free(out);
            return sb_fail(err, "%s line %zu is not `key<TAB>seconds`", path, line);
        }
        *tab = '\0';
        if (sb_points_add(out, l, cost, err) != 0) {
            free(text);
            sb_points_free(out);
            return -1;
        }
    }
    free(text);
    if (present != NULL)
        *present = true;
    return 0;
}

/* pareto.c — the Pareto frontier of a point set over two axes, each minimised or maximised. */
#include "plots/plots.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sb_pareto_parse_axis(const char *spec, sb_pareto_dir fallback, char *field, size_t field_size,
                         sb_pareto_dir *dir, sb_error *err)
{
    const char *colon = strrchr(spec, ':');
    size_t n = colon != NULL ? (size_t)(colon - spec) : strlen(spec);
    *dir = fallback;
    if (colon != NULL) {
        if (strcmp(colon + 1, "min") == 0)
            *dir = SB_PARETO_MIN;
        else if (strcmp(colon + 1, "max") == 0)
            *dir = SB_PARETO_MAX;
        else
            return sb_fail(err, "'%s': the direction after ':' must be min or max", spec);
    }
    if (n == 0)
        return sb_fail(err, "'%s': no field name (e.g. analytic.params:min)", spec);
    if (n >= field_size)
        return sb_fail(err, "'%s': field name too long", spec);
    memcpy(field, spec, n);
    field[n] = '\0';
    return 0;
}

/* Sorting works on keys where smaller is better on both axes; the input index breaks ties so the order,
 * and which duplicate is listed first, does not depend on qsort's instability. */
typedef struct {
    double x, y;
    size_t index;
} keyed;

static int by_x_then_y(const void *a, const void *b)
{
    const keyed *p = a, *q = b;
    if (p->x != q->x)
        return p->x < q->x ? -1 : 1;
    if (p->y != q->y)
        return p->y < q->y ? -1 : 1;
    return p->index < q->index ? -1 : p->index > q->index;
}

int sb_pareto_frontier(const sb_pareto_point *points, size_t n, sb_pareto_dir dir_x, sb_pareto_dir dir_y,
                       size_t *frontier, size_t *count, sb_error *err)
{
    *count = 0;
    if (n == 0)
        return 0;
    keyed *keys = malloc(n * sizeof *keys);
    if (keys == NULL)
        return sb_fail(err, "out of memory for a frontier of %zu points", n);
    for (size_t i = 0; i < n; i++) {
        if (isnan(points[i].x) || isnan(points[i].y)) {
            free(keys);
            return sb_fail(err, "point %zu has a NaN coordinate; drop it before computing the frontier", i);
        }
        keys[i].x = dir_x == SB_PARETO_MIN ? points[i].x : -points[i].x;
        keys[i].y = dir_y == SB_PARETO_MIN ? points[i].y : -points[i].y;
        keys[i].index = i;
    }
    qsort(keys, n, sizeof *keys, by_x_then_y);

    /* After the sort a point is non-dominated iff its y beats every y before it, or it repeats the last
     * frontier point exactly (a duplicate is not dominated by its twin). */
    size_t kept = 0;
    const keyed *last = NULL;
    for (size_t i = 0; i < n; i++) {
        const keyed *k = &keys[i];
        if (last == NULL || k->y < last->y || (k->y == last->y && k->x == last->x)) {
            frontier[kept++] = k->index;
            last = k;
        }
    }
    /* Maximising x swept in decreasing numeric x: reverse into increasing x, then put each run of duplicates
     * (the only points on a frontier that share an x) back into input order. */
    if (dir_x == SB_PARETO_MAX) {
        for (size_t i = 0; i < kept / 2; i++) {
            size_t t = frontier[i];
            frontier[i] = frontier[kept - 1 - i];
            frontier[kept - 1 - i] = t;
        }
        for (size_t start = 0; start < kept;) {
            size_t end = start + 1;
            while (end < kept && points[frontier[end]].x == points[frontier[start]].x &&
                   points[frontier[end]].y == points[frontier[start]].y)
                end++;
            for (size_t i = start, j = end - 1; i < j; i++, j--) {
                size_t t = frontier[i];
                frontier[i] = frontier[j];
                frontier[j] = t;
            }
            start = end;
        }
    }
    free(keys);
    *count = kept;
    return 0;
}

/* labels.c — which points of a crowded picture get their name written beside them. A default sweep puts
 * some 170 shapes in one picture; every name drawn makes an unreadable block. Labels are placed greedily,
 * most telling points first (the Pareto frontier, then the base sizes, then the rest from the extremes
 * in), each to the right of its point, else to its left, else above it, and only where it overlaps no
 * label already placed and no point. The unlabelled points stay in the picture; shapes.tsv and the report's
 * tables name every one. */
#include "plots/plots.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The pictures' text and points (style.gp): labels at 11 pt are about 8.8 px per character and 17 px high,
 * points of pointsize 2 about 16 px across. */
#define CHAR_W 8.8
#define CHAR_H 17.0
#define POINT_R 8.0

typedef struct {
    double x0, y0, x1, y1;
} box;

static bool overlaps(const box *a, const box *b)
{
    return a->x0 < b->x1 && b->x0 < a->x1 && a->y0 < b->y1 && b->y0 < a->y1;
}

/* Data value to pixels inside the plot area (log axes in log10): the range plots/axis.gp gives the axis,
 * the data's extent plus the padding fractions below and above it, where a single value's extent is a
 * decade on a log axis and the value itself on a linear one. */
typedef struct {
    double lo, hi;
    bool log;
    double pad_lo, pad_hi;
    double pixels;
} axis;

static double to_pixels(const axis *a, double v)
{
    double t = a->log ? log10(v) : v, lo = a->log ? log10(a->lo) : a->lo, hi = a->log ? log10(a->hi) : a->hi;
    double extent = hi > lo ? hi - lo : a->log ? 1.0 : lo != 0 ? fabs(lo) : 1.0;
    return (t - (lo - a->pad_lo * extent)) / (extent * (1.0 + a->pad_lo + a->pad_hi)) * a->pixels;
}

/* Whether point i is drawn: both coordinates finite, and positive on a log axis. */
static bool drawn(const sb_label_request *req, size_t i)
{
    return isfinite(req->x[i]) && isfinite(req->y[i]) && (!req->log_x || req->x[i] > 0) &&
           (!req->log_y || req->y[i] > 0);
}

/* The extent of the drawn points' coordinates in v (the pictures' `stats` over the same points). */
static void fit_axis(axis *a, const sb_label_request *req, const double *v)
{
    a->lo = INFINITY;
    a->hi = -INFINITY;
    for (size_t i = 0; i < req->count; i++)
        if (drawn(req, i)) {
            a->lo = v[i] < a->lo ? v[i] : a->lo;
            a->hi = v[i] > a->hi ? v[i] : a->hi;
        }
}

typedef struct {
    size_t index;
    int rank; /* lower goes first */
    double extremity;
} candidate;

static int by_rank(const void *a, const void *b)
{
    const candidate *p = a, *q = b;
    if (p->rank != q->rank)
        return p->rank - q->rank;
    if (p->extremity != q->extremity)
        return p->extremity > q->extremity ? -1 : 1;
    return p->index < q->index ? -1 : p->index > q->index;
}

int sb_plots_place_labels(const sb_label_request *req, char *placement, sb_error *err)
{
    const size_t n = req->count;
    double *xs = calloc(n + 1, sizeof *xs), *ys = calloc(n + 1, sizeof *ys);
    box *placed = malloc((2 * n + 1) * sizeof *placed);
    candidate *order = malloc((n + 1) * sizeof *order);
    if (xs == NULL || ys == NULL || placed == NULL || order == NULL) {
        free(xs);
        free(ys);
        free(placed);
        free(order);
        return sb_fail(err, "out of memory placing %zu labels", n);
    }
    const double area_w = req->width_px, area_h = req->height_px;
    axis ax = {.log = req->log_x, .pad_lo = req->pad[0], .pad_hi = req->pad[1], .pixels = area_w};
    axis ay = {.log = req->log_y, .pad_lo = req->pad[2], .pad_hi = req->pad[3], .pixels = area_h};
    fit_axis(&ax, req, req->x);
    fit_axis(&ay, req, req->y);
    if (req->extent != NULL) {
        ax.lo = req->extent[0], ax.hi = req->extent[1];
        ay.lo = req->extent[2], ay.hi = req->extent[3];
    }
    size_t nplaced = 0, ncand = 0;
    for (size_t i = 0; i < n; i++) {
        placement[i] = '-';
        if (!drawn(req, i))
            continue;
        xs[i] = to_pixels(&ax, req->x[i]);
        ys[i] = to_pixels(&ay, req->y[i]);
        /* Every point is an obstacle for every label. */
        placed[nplaced++] = (box){xs[i] - POINT_R, ys[i] - POINT_R, xs[i] + POINT_R, ys[i] + POINT_R};
        double ex = fabs(xs[i] / area_w - 0.5), ey = fabs(ys[i] / area_h - 0.5);
        order[ncand++] = (candidate){i, req->rank != NULL ? req->rank[i] : 0, ex > ey ? ex : ey};
    }
    qsort(order, ncand, sizeof *order, by_rank);
    for (size_t c = 0; c < ncand; c++) {
        const size_t i = order[c].index;
        const double w = CHAR_W * (double)strlen(req->text[i]), x = xs[i], y = ys[i];
        /* right of the point, left of it (both clear of a frontier's ring), centred above it: the scripts'
         * three placements */
        const box options[3] = {
            {x + 1.6 * POINT_R, y - CHAR_H / 2, x + 1.6 * POINT_R + w, y + CHAR_H / 2},
            {x - 1.6 * POINT_R - w, y - CHAR_H / 2, x - 1.6 * POINT_R, y + CHAR_H / 2},
            {x - w / 2, y + POINT_R, x + w / 2, y + POINT_R + CHAR_H},
        };
        static const char codes[3] = {'r', 'l', 'a'};
        for (int o = 0; o < 3; o++) {
            const box *b = &options[o];
            bool inside = b->x0 >= 0 && b->x1 <= area_w && b->y0 >= 0 && b->y1 <= area_h;
            bool clear = inside;
            for (size_t k = 0; clear && k < nplaced; k++) {
                /* a point's own marker is not in the way of its label */
                bool own = placed[k].x0 == x - POINT_R && placed[k].y0 == y - POINT_R;
                clear = own || !overlaps(b, &placed[k]);
            }
            if (clear) {
                placement[i] = codes[o];
                placed[nplaced++] = *b;
                break;
            }
        }
    }
    free(xs);
    free(ys);
    free(placed);
    free(order);
    return 0;
}

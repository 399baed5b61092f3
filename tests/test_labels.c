/* test_labels.c — label placement of crowded pictures: names never overlap, the frontier is named first,
 * points far apart are all named, points outside the axis are not. */
#include "plots/plots.h"

#include <criterion/criterion.h>
#include <math.h>

static sb_label_request request(size_t n, const double *x, const double *y, const char *const *text, const int *rank)
{
    return (sb_label_request){.count = n, .x = x, .y = y, .text = text, .rank = rank, .log_x = true,
                              .log_y = true, .pad = {0.08, 0.25, 0.1, 0.1}, .width_px = 1150, .height_px = 820};
}

Test(labels, far_apart_points_are_all_named)
{
    const double x[] = {1, 10, 100, 1000}, y[] = {1000, 100, 10, 1};
    const char *const text[] = {"a", "b", "c", "d"};
    char placement[4];
    sb_error err;
    sb_label_request req = request(4, x, y, text, NULL);
    cr_assert_eq(sb_plots_place_labels(&req, placement, &err), 0, "%s", err.msg);
    for (int i = 0; i < 4; i++)
        cr_expect_neq(placement[i], '-', "point %d unnamed", i);
}

/* Ten points at one spot: one name fits beside them (right, left or above: three at most); the frontier
 * point, ranked first, gets the first place whatever its index. */
Test(labels, crowded_points_share_the_room_and_rank_decides)
{
    double x[10], y[10];
    const char *text[10];
    int rank[10];
    for (int i = 0; i < 10; i++) {
        x[i] = 100 * (1 + 1e-4 * i);
        y[i] = 50;
        text[i] = "t5-efficient-base-nl24";
        rank[i] = i == 7 ? 0 : 2;
    }
    x[9] = 1; /* one far away so the range is not empty */
    y[9] = 1;
    char placement[10];
    sb_error err;
    sb_label_request req = request(10, x, y, text, rank);
    cr_assert_eq(sb_plots_place_labels(&req, placement, &err), 0, "%s", err.msg);
    cr_expect_eq(placement[7], 'r', "the frontier point is named first, to the right");
    int named = 0;
    for (int i = 0; i < 9; i++)
        named += placement[i] != '-';
    cr_expect_leq(named, 3, "%d names at one spot would overlap", named);
    cr_expect_geq(named, 1);
}

Test(labels, points_off_the_axis_are_not_named)
{
    const double x[] = {0, 10, NAN, 100}, y[] = {5, -1, 3, 7};
    const char *const text[] = {"zero-x", "negative-y", "nan", "ok"};
    char placement[4];
    sb_error err;
    sb_label_request req = request(4, x, y, text, NULL);
    cr_assert_eq(sb_plots_place_labels(&req, placement, &err), 0, "%s", err.msg);
    cr_expect_eq(placement[0], '-');
    cr_expect_eq(placement[1], '-');
    cr_expect_eq(placement[2], '-');
    cr_expect_neq(placement[3], '-');
}

/* The axes' extent given (a picture's stats over more than the named points): a point at its right end has
 * no room on its right. Without it the lone point sits mid-axis and is named to the right. */
Test(labels, a_given_extent_places_the_points)
{
    const double x[] = {100}, y[] = {10};
    const char *const text[] = {"t5-efficient-base"};
    char placement[1];
    sb_error err;
    sb_label_request req = request(1, x, y, text, NULL);
    req.pad[1] = 0;
    cr_assert_eq(sb_plots_place_labels(&req, placement, &err), 0, "%s", err.msg);
    cr_expect_eq(placement[0], 'r');
    const double extent[4] = {1, 100, 1, 100};
    req.extent = extent;
    cr_assert_eq(sb_plots_place_labels(&req, placement, &err), 0, "%s", err.msg);
    cr_expect_eq(placement[0], 'l', "at the right edge of the axis");
}

/* test_stats.c — timing statistics against hand-computed values: median, two-pass stddev, CV, the
 * order-statistic interval for the median, the noisy verdict, and the Mann-Whitney U test; and the statistics
 * of a comparison (common/stats.c) against tables and published worked examples: Student's t quantiles,
 * Welch's interval, the t interval of a mean, Spearman's rho. */
#include "harness/harness.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define EPS 1e-9

Test(stats, odd_count)
{
    const double x[] = {3, 1, 2, 5, 4};
    sb_stats s = sb_stats_compute(x, 5);
    cr_assert_eq(s.n, 5);
    cr_assert_float_eq(s.median, 3.0, EPS);
    cr_assert_float_eq(s.mean, 3.0, EPS);
    cr_assert_float_eq(s.stddev, sqrt(2.5), EPS); /* squared deviations 10, over n - 1 = 4 */
    cr_assert_float_eq(s.cv, sqrt(2.5) / 3.0, EPS);
    cr_assert_float_eq(s.min, 1.0, EPS);
    cr_assert_float_eq(s.max, 5.0, EPS);
}

Test(stats, even_count)
{
    const double x[] = {9, 2, 4, 5, 4, 7, 4, 5};
    sb_stats s = sb_stats_compute(x, 8);
    cr_assert_float_eq(s.median, 4.5, EPS);
    cr_assert_float_eq(s.mean, 5.0, EPS);
    cr_assert_float_eq(s.stddev, sqrt(32.0 / 7.0), EPS); /* 9+1+1+1+0+0+4+16 = 32 */
    cr_assert_float_eq(s.cv, sqrt(32.0 / 7.0) / 5.0, EPS);
    cr_assert_float_eq(s.min, 2.0, EPS);
    cr_assert_float_eq(s.max, 9.0, EPS);
}

/* One-pass sum(x^2) - n mean^2 loses every digit here; two passes give the exact 30. */
Test(stats, large_nearly_equal_values)
{
    const double x[] = {1e9 + 4, 1e9 + 7, 1e9 + 13, 1e9 + 16};
    sb_stats s = sb_stats_compute(x, 4);
    cr_assert_float_eq(s.stddev, sqrt(30.0), 1e-6);
}

Test(stats, single_and_empty)
{
    const double one = 0.25;
    sb_stats s = sb_stats_compute(&one, 1);
    cr_assert_float_eq(s.median, 0.25, EPS);
    cr_assert_float_eq(s.stddev, 0.0, EPS);
    cr_assert_not(s.ci95_exact);
    s = sb_stats_compute(NULL, 0);
    cr_assert(isnan(s.median) && isnan(s.mean) && isnan(s.cv));
}

/* The binomial CDF by exact integer counting, independent of the library's log-gamma sum. */
static void reference_ranks(size_t n, size_t *lo, size_t *hi, double *coverage)
{
    uint64_t c = 1, below = 0; /* c = C(n, i) */
    *lo = 0;
    for (size_t k = 1; 2 * k <= n + 1; k++) {
        below += c; /* P(B <= k-1) * 2^n */
        c = c * (n - (k - 1)) / k;
        double cov = 1.0 - 2.0 * (double)below / ldexp(1.0, (int)n);
        if (cov < 0.95)
            break;
        *lo = k;
        *coverage = cov;
    }
    *hi = n - *lo + 1;
}

Test(stats, median_ci_ranks_match_binomial)
{
    const size_t ns[] = {10, 30};
    const size_t expect_lo[] = {2, 10}; /* coverage 0.978515625 and 0.957226 */
    for (size_t i = 0; i < 2; i++) {
        size_t lo, hi, rlo, rhi;
        double cov, rcov = 0;
        cr_assert(sb_median_ci_ranks(ns[i], &lo, &hi, &cov));
        reference_ranks(ns[i], &rlo, &rhi, &rcov);
        cr_assert_eq(lo, rlo, "n=%zu: lo %zu, binomial says %zu", ns[i], lo, rlo);
        cr_assert_eq(hi, rhi);
        cr_assert_eq(lo, expect_lo[i]);
        cr_assert_eq(hi, ns[i] - expect_lo[i] + 1);
        cr_assert_float_eq(cov, rcov, 1e-9);
        cr_assert_geq(cov, 0.95);
    }
}

Test(stats, median_ci_small_n)
{
    size_t lo, hi;
    double cov;
    cr_assert(sb_median_ci_ranks(6, &lo, &hi, &cov)); /* 1 - 2/64 = 0.96875 */
    cr_assert_eq(lo, 1);
    cr_assert_eq(hi, 6);
    cr_assert_float_eq(cov, 0.96875, EPS);
    cr_assert_not(sb_median_ci_ranks(5, &lo, &hi, &cov)); /* 1 - 2/32 = 0.9375 < 0.95 */
    cr_assert_eq(lo, 1);
    cr_assert_eq(hi, 5);
    cr_assert_float_eq(cov, 0.9375, EPS);
}

Test(stats, median_ci_values)
{
    const double x[] = {7, 3, 10, 1, 9, 2, 8, 4, 6, 5};
    sb_stats s = sb_stats_compute(x, 10);
    cr_assert(s.ci95_exact);
    cr_assert_float_eq(s.ci95_lo, 2.0, EPS);
    cr_assert_float_eq(s.ci95_hi, 9.0, EPS);
    const double few[] = {4, 1, 3};
    s = sb_stats_compute(few, 3);
    cr_assert_not(s.ci95_exact);
    cr_assert_float_eq(s.ci95_lo, 1.0, EPS);
    cr_assert_float_eq(s.ci95_hi, 4.0, EPS);
}

Test(stats, noisy_verdict)
{
    const double steady[] = {1.00, 1.01, 0.99, 1.00, 1.02};
    const double noisy[] = {1.0, 1.2, 0.8, 1.1, 0.9};
    sb_stats s = sb_stats_compute(steady, 5);
    cr_assert_not(sb_stats_noisy(&s), "cv %g", s.cv);
    s = sb_stats_compute(noisy, 5);
    cr_assert(sb_stats_noisy(&s), "cv %g", s.cv);
}

/* U = 17 (pairs with a > b); exact two-sided p = 2 * 7 / 126 by enumerating all C(9, 4) splits. */
Test(stats, mann_whitney_exact)
{
    const double a[] = {19, 22, 16, 29, 24}, b[] = {20, 11, 17, 12};
    double u, p;
    cr_assert_eq(sb_mann_whitney(a, 5, b, 4, &u, &p, NULL), 0);
    cr_assert_float_eq(u, 17.0, EPS);
    cr_assert_float_eq(p, 14.0 / 126.0, 1e-12);
    cr_assert_eq(sb_mann_whitney(b, 4, a, 5, &u, &p, NULL), 0); /* symmetric */
    cr_assert_float_eq(u, 3.0, EPS);
    cr_assert_float_eq(p, 14.0 / 126.0, 1e-12);
}

/* Brute-force check of the exact distribution: every split of 1..8 into 4 + 4, U counted pairwise. */
Test(stats, mann_whitney_exact_matches_enumeration)
{
    const double a[] = {1, 2, 4, 7}, b[] = {3, 5, 6, 8}; /* U = 0+0+1+3 = 4 */
    int le = 0, ge = 0, total = 0;
    for (unsigned mask = 0; mask < 256; mask++) {
        if (__builtin_popcount(mask) != 4)
            continue;
        int u = 0;
        for (int i = 0; i < 8; i++)
            for (int j = 0; j < 8; j++)
                u += ((mask >> i) & 1) && !((mask >> j) & 1) && i > j;
        total++;
        le += u <= 4;
        ge += u >= 4;
    }
    double u, p;
    cr_assert_eq(sb_mann_whitney(a, 4, b, 4, &u, &p, NULL), 0);
    cr_assert_float_eq(u, 4.0, EPS);
    cr_assert_float_eq(p, fmin(1.0, 2.0 * fmin(le, ge) / total), 1e-12);
}

/* Ties force the normal approximation: tie term sum(t^3 - t) = 156, variance 12*13/12 * (26 - 156/600)
 * = 334.62, z = (|32.5 - 78| - 0.5) / sqrt(334.62), p = erfc(z / sqrt 2) = 0.0138934. */
Test(stats, mann_whitney_normal_with_ties)
{
    const double a[] = {1, 2, 2, 3, 3, 3, 4, 5, 6, 7, 7, 8};
    const double b[] = {3, 4, 4, 5, 6, 6, 7, 8, 9, 9, 10, 11, 12};
    double u, p;
    cr_assert_eq(sb_mann_whitney(a, 12, b, 13, &u, &p, NULL), 0);
    cr_assert_float_eq(u, 32.5, EPS);
    cr_assert_float_eq(p, 0.013893381596407182, 1e-9);
}

Test(stats, mann_whitney_degenerate)
{
    const double same[] = {1, 1, 1};
    double u, p;
    sb_error err = {0};
    cr_assert_eq(sb_mann_whitney(same, 3, same, 3, &u, &p, NULL), 0);
    cr_assert_float_eq(p, 1.0, EPS);
    cr_assert_eq(sb_mann_whitney(same, 0, same, 3, &u, &p, &err), -1);
    cr_assert_neq(err.msg[0], '\0');
}

Test(stats, timing_json)
{
    const double x[] = {0.3, 0.1, 0.2};
    sb_stats s = sb_stats_compute(x, 3);
    cJSON *o = sb_stats_to_json(&s, x);
    cr_assert_not_null(o);
    cr_assert_str_eq(cJSON_GetObjectItem(o, "unit")->valuestring, "s");
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(o, "samples")), 3);
    cr_assert_float_eq(cJSON_GetObjectItem(o, "median")->valuedouble, 0.2, EPS);
    cJSON *ci = cJSON_GetObjectItem(o, "ci95_median");
    cr_assert_eq(cJSON_GetArraySize(ci), 2);
    cr_assert_float_eq(cJSON_GetArrayItem(ci, 0)->valuedouble, 0.1, EPS);
    cr_assert_float_eq(cJSON_GetArrayItem(ci, 1)->valuedouble, 0.3, EPS);
    cJSON_Delete(o);
}

/* Nearest-rank percentiles: the smallest sample with at least 90 % (99 %) of them at or below it. */
Test(stats, nearest_rank_percentiles)
{
    double v[100];
    for (int i = 0; i < 100; i++)
        v[i] = 100 - i; /* unsorted: 100 .. 1 */
    sb_stats s = sb_stats_compute(v, 100);
    cr_assert_eq(s.p90, 90);
    cr_assert_eq(s.p99, 99);
    const double three[] = {3, 1, 2};
    s = sb_stats_compute(three, 3);
    cr_assert_eq(s.p90, 3);
    cr_assert_eq(s.p99, 3);
    s = sb_stats_compute(three, 0);
    cr_assert(isnan(s.p90) && isnan(s.p99));
}

/* ---- the statistics of a comparison (common/stats.c) ------------------------------------------------------ */

/* Two-sided 95 % critical values from any t table. */
Test(comparison_stats, student_t_quantiles_and_tails)
{
    cr_assert_float_eq(sb_student_t_quantile(0.975, 1), 12.7062047, 1e-6);
    cr_assert_float_eq(sb_student_t_quantile(0.975, 2), 4.30265273, 1e-7);
    cr_assert_float_eq(sb_student_t_quantile(0.975, 4), 2.77644511, 1e-7);
    cr_assert_float_eq(sb_student_t_quantile(0.975, 10), 2.22813885, 1e-7);
    cr_assert_float_eq(sb_student_t_quantile(0.975, 1e7), 1.95996398, 1e-6);
    cr_assert_float_eq(sb_student_t_quantile(0.025, 4), -2.77644511, 1e-7);
    cr_assert_float_eq(sb_student_t_two_sided(2.77644511, 4), 0.05, 1e-8);
    cr_assert_float_eq(sb_student_t_two_sided(0, 3), 1, 1e-12);
    cr_assert(isnan(sb_student_t_quantile(1.5, 3)));
}

/* Wikipedia's Welch's t-test example 1: t = -2.46 on 25.0 degrees of freedom, p = 0.021. */
Test(comparison_stats, welch_interval_of_the_worked_example)
{
    const double a[] = {27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4};
    const double b[] = {27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4};
    sb_interval d;
    sb_error err = {{0}};
    cr_assert_eq(sb_welch(a, 15, b, 15, &d, &err), 0, "%s", err.msg);
    cr_assert_float_eq(d.estimate, -2.1666667, 1e-6);
    cr_assert_float_eq(d.estimate / d.se, -2.4553564, 1e-6);
    cr_assert_float_eq(d.df, 24.988529, 1e-5);
    cr_assert_float_eq(d.p, 0.021, 5e-4);
    const double half = d.se * sb_student_t_quantile(0.975, d.df);
    cr_assert_float_eq(d.lo, d.estimate - half, 1e-12);
    cr_assert_float_eq(d.hi, d.estimate + half, 1e-12);
    cr_assert(d.hi < 0, "the interval excludes 0: %g .. %g", d.lo, d.hi);
    cr_assert_eq(sb_welch(a, 1, b, 15, &d, &err), -1);
    cr_assert(strstr(err.msg, "at least 2") != NULL, "%s", err.msg);
}

/* Differences -0.10, -0.08, -0.12: mean -0.10, sd 0.02, se 0.02 / sqrt 3, t(0.975, 2) = 4.303. */
Test(comparison_stats, t_interval_of_a_mean)
{
    const double x[] = {-0.10, -0.08, -0.12};
    sb_interval m;
    cr_assert_eq(sb_mean_interval(x, 3, &m, NULL), 0);
    cr_assert_float_eq(m.estimate, -0.10, 1e-12);
    cr_assert_float_eq(m.se, 0.02 / sqrt(3), 1e-12);
    cr_assert_float_eq(m.hi - m.estimate, 0.02 / sqrt(3) * 4.30265273, 1e-8);
    cr_assert_float_eq(m.p, 0.01307, 1e-4);
    double mean, sd;
    sb_mean_stddev(x, 3, &mean, &sd);
    cr_assert_float_eq(sd, 0.02, 1e-12);
    sb_mean_stddev(x, 1, &mean, &sd);
    cr_assert(isnan(sd), "one value has no sample sd");
}

/* Wikipedia's Spearman example (IQ against hours of TV): rho = -29/165, p = 0.627; ties take their mean rank. */
Test(comparison_stats, spearman_rho)
{
    const double iq[] = {106, 86, 100, 101, 99, 103, 97, 113, 112, 110};
    const double tv[] = {7, 0, 27, 50, 28, 29, 20, 12, 6, 17};
    double rho, p;
    cr_assert_eq(sb_spearman(iq, tv, 10, &rho, &p, NULL), 0);
    cr_assert_float_eq(rho, -29.0 / 165.0, 1e-12);
    cr_assert_float_eq(p, 0.627, 1e-3);
    const double x[] = {1, 2, 2, 3}, y[] = {10, 20, 20, 30};
    cr_assert_eq(sb_spearman(x, y, 4, &rho, &p, NULL), 0);
    cr_assert_float_eq(rho, 1, 1e-12);
    cr_assert_float_eq(p, 0, 1e-12);
    const double flat[] = {5, 5, 5};
    cr_assert_eq(sb_spearman(x, flat, 3, &rho, &p, NULL), 0);
    cr_assert(isnan(rho), "a constant side has no rank correlation");
    sb_error err = {{0}};
    cr_assert_eq(sb_spearman(x, y, 2, &rho, &p, &err), -1);
}

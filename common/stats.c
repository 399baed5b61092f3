/* stats.c — the statistics behind a claim that one thing beats another: mean and standard deviation, Student's
 * t distribution, the t interval of a mean, Welch's interval for a difference of two means, and Spearman's
 * rank correlation. Pure functions of arrays: the probe writes them into records and the report reads
 * per-seed values back and states them beside every comparison. */
#include "common/common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void sb_mean_stddev(const double *x, size_t n, double *mean, double *stddev)
{
    double sum = 0, squares = 0;
    for (size_t i = 0; i < n; i++)
        sum += x[i];
    const double m = n > 0 ? sum / (double)n : NAN;
    for (size_t i = 0; i < n; i++) /* two passes: no cancellation */
        squares += (x[i] - m) * (x[i] - m);
    *mean = m;
    if (stddev != NULL)
        *stddev = n > 1 ? sqrt(squares / (double)(n - 1)) : NAN;
}

/* The continued fraction of the regularized incomplete beta function (modified Lentz). */
static double beta_fraction(double a, double b, double x)
{
    const double tiny = 1e-300;
    double c = 1, d = 1 - (a + b) * x / (a + 1);
    d = 1 / (fabs(d) < tiny ? tiny : d);
    double h = d;
    for (int m = 1; m <= 500; m++) {
        for (int half = 0; half < 2; half++) {
            const double aa = half == 0 ? m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
                                        : -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1));
            d = 1 + aa * d;
            c = 1 + aa / c;
            d = 1 / (fabs(d) < tiny ? tiny : d);
            c = fabs(c) < tiny ? tiny : c;
            h *= d * c;
            if (half == 1 && fabs(d * c - 1) < 1e-15)
                return h;
        }
    }
    return h;
}

/* I_x(a, b). */
static double incomplete_beta(double a, double b, double x)
{
    if (x <= 0)
        return 0;
    if (x >= 1)
        return 1;
    const double front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x));
    return x < (a + 1) / (a + b + 2) ? front * beta_fraction(a, b, x) / a
                                     : 1 - front * beta_fraction(b, a, 1 - x) / b;
}

double sb_student_t_two_sided(double t, double df)
{
    if (isnan(t) || !(df > 0))
        return NAN;
    if (isinf(t))
        return 0;
    return incomplete_beta(df / 2, 0.5, df / (df + t * t));
}

double sb_student_t_quantile(double p, double df)
{
    if (!(p > 0 && p < 1) || !(df > 0))
        return NAN;
    if (p < 0.5)
        return -sb_student_t_quantile(1 - p, df);
    /* P(T > t) = two_sided(t) / 2 falls from 1/2 at t = 0: bisect for 1 - p. */
    double lo = 0, hi = 1;
    while (sb_student_t_two_sided(hi, df) / 2 > 1 - p && hi < 1e12)
        hi *= 2;
    for (int i = 0; i < 200 && hi - lo > 1e-13 * hi; i++) {
        const double mid = (lo + hi) / 2;
        if (sb_student_t_two_sided(mid, df) / 2 > 1 - p)
            lo = mid;
        else
            hi = mid;
    }
    return (lo + hi) / 2;
}

/* The interval and test of an estimate with its standard error and degrees of freedom. */
static void interval(sb_interval *out, double estimate, double se, double df)
{
    out->estimate = estimate;
    out->df = df;
    out->se = se;
    const double half = se * sb_student_t_quantile(0.975, df);
    out->lo = estimate - half;
    out->hi = estimate + half;
    out->p = se > 0 ? sb_student_t_two_sided(estimate / se, df) : estimate == 0 ? 1 : 0;
}

int sb_mean_interval(const double *x, size_t n, sb_interval *out, sb_error *err)
{
    if (n < 2)
        return sb_fail(err, "a t interval needs at least 2 values (got %zu)", n);
    double mean, sd;
    sb_mean_stddev(x, n, &mean, &sd);
    interval(out, mean, sd / sqrt((double)n), (double)n - 1);
    return 0;
}

int sb_welch(const double *a, size_t na, const double *b, size_t nb, sb_interval *out, sb_error *err)
{
    if (na < 2 || nb < 2)
        return sb_fail(err, "Welch's interval needs at least 2 values on each side (got %zu and %zu)", na, nb);
    double ma, sa, mb, sb;
    sb_mean_stddev(a, na, &ma, &sa);
    sb_mean_stddev(b, nb, &mb, &sb);
    const double va = sa * sa / (double)na, vb = sb * sb / (double)nb, v = va + vb;
    /* Welch-Satterthwaite; with no spread on either side any df gives the same (zero-width) interval. */
    const double df = v > 0 ? v * v / (va * va / ((double)na - 1) + vb * vb / ((double)nb - 1))
                            : (double)(na + nb - 2);
    interval(out, ma - mb, sqrt(v), df);
    return 0;
}

/* Ranks 1..n of x, ties sharing their mean rank. */
static int ranks(const double *x, size_t n, double *rank)
{
    size_t *order = malloc(n * sizeof *order);
    if (order == NULL)
        return -1;
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = 1; i < n; i++) /* insertion sort: n is a handful of shapes */
        for (size_t j = i; j > 0 && x[order[j - 1]] > x[order[j]]; j--) {
            const size_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && x[order[j]] == x[order[i]])
            j++;
        for (size_t k = i; k < j; k++)
            rank[order[k]] = (double)(i + j + 1) / 2;
        i = j;
    }
    free(order);
    return 0;
}

int sb_spearman(const double *x, const double *y, size_t n, double *rho, double *p, sb_error *err)
{
    if (n < 3)
        return sb_fail(err, "Spearman's rho needs at least 3 pairs (got %zu)", n);
    double *rx = malloc(n * sizeof *rx), *ry = malloc(n * sizeof *ry);
    if (rx == NULL || ry == NULL || ranks(x, n, rx) != 0 || ranks(y, n, ry) != 0) {
        free(rx);
        free(ry);
        return sb_fail(err, "out of memory for %zu ranks", n);
    }
    double mx, my, sxy = 0, sxx = 0, syy = 0;
    sb_mean_stddev(rx, n, &mx, NULL);
    sb_mean_stddev(ry, n, &my, NULL);
    for (size_t i = 0; i < n; i++) {
        sxy += (rx[i] - mx) * (ry[i] - my);
        sxx += (rx[i] - mx) * (rx[i] - mx);
        syy += (ry[i] - my) * (ry[i] - my);
    }
    free(rx);
    free(ry);
    *rho = sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : NAN;
    const double r = *rho, df = (double)n - 2;
    *p = isnan(r) ? NAN : fabs(r) >= 1 ? 0 : sb_student_t_two_sided(r * sqrt(df / (1 - r * r)), df);
    return 0;
}

/* stats.c — statistics on timing samples: median with a distribution-free confidence interval, two-pass
 * standard deviation, CV, and the Mann-Whitney U test for comparing two runs.
 *
 * Timings are skewed (a long right tail from interrupts and frequency changes), so the median and
 * rank-based methods are used throughout rather than anything assuming normality. */
#include "harness/harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int compare_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

static double *sorted_copy(const double *samples, size_t n)
{
    double *s = malloc(n * sizeof *s);
    if (s == NULL)
        return NULL;
    memcpy(s, samples, n * sizeof *s);
    qsort(s, n, sizeof *s, compare_double);
    return s;
}

/* P(B <= k) for B ~ Binomial(n, 1/2), summed in log space so large n does not overflow. */
static double binomial_half_cdf(size_t n, size_t k)
{
    double sum = 0.0;
    for (size_t i = 0; i <= k && i <= n; i++)
        sum += exp(lgamma((double)n + 1) - lgamma((double)i + 1) - lgamma((double)(n - i) + 1) - (double)n * M_LN2);
    return sum;
}

/* [X(k), X(n-k+1)] misses the median when fewer than k samples fall below it or fewer than k above it,
 * each with probability P(B <= k-1), so it covers with 1 - 2 P(B <= k-1); the widest k still reaching 95 %
 * gives the narrowest valid interval. */
bool sb_median_ci_ranks(size_t n, size_t *lo, size_t *hi, double *coverage)
{
    size_t best = 0;
    double best_coverage = 0.0;
    for (size_t k = 1; 2 * k <= n + 1; k++) {
        double c = 1.0 - 2.0 * binomial_half_cdf(n, k - 1);
        if (c < 0.95)
            break;
        best = k;
        best_coverage = c;
    }
    if (best == 0) {
        *lo = 1;
        *hi = n;
        *coverage = n == 0 ? 0.0 : 1.0 - 2.0 * binomial_half_cdf(n, 0);
        return false;
    }
    *lo = best;
    *hi = n - best + 1;
    *coverage = best_coverage;
    return true;
}

sb_stats sb_stats_compute(const double *samples, size_t n)
{
    sb_stats s = {.n = n};
    s.median = s.mean = s.stddev = s.min = s.max = s.cv = s.ci95_lo = s.ci95_hi = s.ci95_coverage = NAN;
    s.p90 = s.p99 = NAN;
    double *sorted = n == 0 ? NULL : sorted_copy(samples, n);
    if (sorted == NULL)
        return s;

    s.min = sorted[0];
    s.max = sorted[n - 1];
    s.median = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
    s.p90 = sorted[(size_t)ceil(0.90 * (double)n) - 1];
    s.p99 = sorted[(size_t)ceil(0.99 * (double)n) - 1];
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += samples[i];
    s.mean = sum / (double)n;
    /* Two passes: summing squared deviations from the mean avoids the cancellation of sum(x^2) - n mean^2,
     * which loses every digit when timings are large and nearly equal. */
    double ss = 0.0;
    for (size_t i = 0; i < n; i++)
        ss += (samples[i] - s.mean) * (samples[i] - s.mean);
    s.stddev = n > 1 ? sqrt(ss / (double)(n - 1)) : 0.0;
    s.cv = s.mean != 0.0 ? s.stddev / s.mean : NAN;

    size_t lo, hi;
    s.ci95_exact = sb_median_ci_ranks(n, &lo, &hi, &s.ci95_coverage);
    s.ci95_lo = sorted[lo - 1];
    s.ci95_hi = sorted[hi - 1];
    free(sorted);
    return s;
}

bool sb_stats_noisy(const sb_stats *s)
{
    return s->cv > SB_NOISY_CV;
}

/* Number of arrangements of na a's and nb b's for each U, the coefficients of the Gaussian binomial
 * [na+nb choose na]_q, built as prod_{i=1..na} (1 - q^(nb+i)) / (1 - q^i); every step is an exact
 * polynomial, and the counts (at most C(40, 20) ~ 1.4e11) are exact in doubles. */
static double *u_distribution(size_t na, size_t nb)
{
    size_t len = na * nb + na + 1;
    double *c = calloc(len, sizeof *c);
    if (c == NULL)
        return NULL;
    c[0] = 1.0;
    for (size_t i = 1; i <= na; i++) {
        for (size_t u = len - 1; u >= nb + i; u--)
            c[u] -= c[u - (nb + i)];
        for (size_t u = i; u < len; u++)
            c[u] += c[u - i];
    }
    return c;
}

static bool has_ties(const double *sorted, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (sorted[i] == sorted[i - 1])
            return true;
    return false;
}

int sb_mann_whitney(const double *a, size_t na, const double *b, size_t nb, double *u, double *p_two_sided,
                    sb_error *err)
{
    if (na == 0 || nb == 0)
        return sb_fail(err, "Mann-Whitney U needs two non-empty samples (got %zu and %zu)", na, nb);
    size_t n = na + nb;
    double *pool = malloc(n * sizeof *pool);
    if (pool == NULL)
        return sb_fail(err, "out of memory for %zu samples", n);
    memcpy(pool, a, na * sizeof *a);
    memcpy(pool + na, b, nb * sizeof *b);
    qsort(pool, n, sizeof *pool, compare_double);

    /* U_a counts the pairs with a > b, ties counting half: rank sum of a (midranks) minus its minimum. */
    double rank_sum = 0.0;
    for (size_t i = 0; i < na; i++) {
        size_t below = 0, equal = 0;
        for (size_t j = 0; j < n; j++) {
            below += pool[j] < a[i];
            equal += pool[j] == a[i];
        }
        rank_sum += (double)below + ((double)equal + 1.0) / 2.0;
    }
    double ua = rank_sum - (double)na * ((double)na + 1.0) / 2.0;
    double mean = (double)na * (double)nb / 2.0;
    *u = ua;

    if (!has_ties(pool, n) && n <= 40) {
        double *dist = u_distribution(na, nb);
        if (dist == NULL) {
            free(pool);
            return sb_fail(err, "out of memory for the exact U distribution");
        }
        double total = 0.0, at_most = 0.0, at_least = 0.0;
        for (size_t k = 0; k <= na * nb; k++) {
            total += dist[k];
            at_most += (double)k <= ua ? dist[k] : 0.0;
            at_least += (double)k >= ua ? dist[k] : 0.0;
        }
        free(dist);
        *p_two_sided = fmin(1.0, 2.0 * fmin(at_most, at_least) / total);
        free(pool);
        return 0;
    }

    double tie_term = 0.0; /* sum of t^3 - t over groups of t tied values */
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && pool[j] == pool[i])
            j++;
        double t = (double)(j - i);
        tie_term += t * t * t - t;
        i = j;
    }
    free(pool);
    double nd = (double)n;
    double variance = (double)na * (double)nb / 12.0 * ((nd + 1.0) - tie_term / (nd * (nd - 1.0)));
    if (variance <= 0.0) { /* every value tied: no evidence of a difference */
        *p_two_sided = 1.0;
        return 0;
    }
    double z = fmax(0.0, fabs(ua - mean) - 0.5) / sqrt(variance);
    *p_two_sided = fmin(1.0, erfc(z / M_SQRT2));
    return 0;
}

cJSON *sb_stats_to_json(const sb_stats *s, const double *samples)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *all = s->n > 0 ? cJSON_CreateDoubleArray(samples, (int)s->n) : cJSON_CreateArray();
    cJSON *ci = cJSON_CreateArray();
    if (o == NULL || all == NULL || ci == NULL) {
        cJSON_Delete(o);
        cJSON_Delete(all);
        cJSON_Delete(ci);
        return NULL;
    }
    cJSON_AddStringToObject(o, "unit", "s");
    cJSON_AddItemToObject(o, "samples", all);
    cJSON_AddNumberToObject(o, "median", s->median);
    cJSON_AddNumberToObject(o, "mean", s->mean);
    cJSON_AddNumberToObject(o, "stddev", s->stddev);
    cJSON_AddNumberToObject(o, "min", s->min);
    cJSON_AddNumberToObject(o, "max", s->max);
    cJSON_AddNumberToObject(o, "cv", s->cv);
    cJSON_AddItemToArray(ci, cJSON_CreateNumber(s->ci95_lo));
    cJSON_AddItemToArray(ci, cJSON_CreateNumber(s->ci95_hi));
    cJSON_AddItemToObject(o, "ci95_median", ci);
    return o;
}

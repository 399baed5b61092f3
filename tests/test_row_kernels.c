/* test_row_kernels.c — the element-wise kernels of engine/kernels/kernels.h that the attention and the gelu run on
 * every score and activation: sb_exp_approx against double exp over the whole float range it serves, the
 * 16-lane exp bit for bit against the scalar one, and sb_softmax_row against a plain float64 softmax and
 * against its portable twin, on row lengths around every vector width, with and without position bias and
 * padding mask (including -FLT_MAX entries, HF's masked-out value). */
#include "engine/runtime/runtime.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static float float_from_bits(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static uint32_t bits_of(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    return bits;
}

/* |got - want| in units of the last place of want rounded to float. */
static double ulp_error(float got, double want)
{
    const float w = (float)want;
    const double ulp = (double)nextafterf(fabsf(w), INFINITY) - fabsf(w);
    return fabs((double)got - want) / ulp;
}

/* Every stride-th float of [lo, hi] with lo < 0 < hi, walked by bit pattern (so every binade is sampled
 * alike), malloc'd; *count of them. */
static float *sampled_floats(float lo, float hi, uint32_t stride, size_t *count)
{
    const uint32_t neg_end = bits_of(-lo), pos_end = bits_of(hi);
    float *x = malloc(((size_t)neg_end / stride + (size_t)pos_end / stride + 2) * sizeof(float));
    cr_assert_not_null(x);
    size_t n = 0;
    for (uint32_t b = 0; b <= neg_end; b += stride)
        x[n++] = -float_from_bits(b);
    for (uint32_t b = stride; b <= pos_end; b += stride)
        x[n++] = float_from_bits(b);
    *count = n;
    return x;
}

Test(exp_approx, within_2_ulp_of_exp_over_the_float_range)
{
    /* Cephes' polynomial is quoted at about 2 ulp; measured here at 1.01 over every float of the range */
    double worst = 0.0;
    float worst_x = 0.0f;
    size_t n;
    float *x = sampled_floats(-87.3365f, 88.0f, 61, &n);
    for (size_t i = 0; i < n; i++) {
        const double e = ulp_error(sb_exp_approx(x[i]), exp((double)x[i]));
        if (e > worst) {
            worst = e;
            worst_x = x[i];
        }
    }
    free(x);
    cr_assert_gt(n, 1000000, "sampled only %zu arguments", n);
    cr_assert_leq(worst, 2.0, "sb_exp_approx is %.3f ulp off at x = %.9g", worst, worst_x);
}

Test(exp_approx, edges)
{
    /* below the float range exactly 0, so that a masked score (-FLT_MAX, or -inf) weighs nothing */
    const float below[] = {-87.3366f, -100.0f, -1e30f, -FLT_MAX, -INFINITY};
    for (size_t i = 0; i < sizeof below / sizeof below[0]; i++)
        cr_assert(bits_of(sb_exp_approx(below[i])) == 0, "exp(%g) = %g, want +0", below[i], sb_exp_approx(below[i]));
    cr_assert_eq(sb_exp_approx(0.0f), 1.0f);
    cr_assert(isnan(sb_exp_approx(NAN)), "exp(NaN) must stay NaN");
    cr_assert(isfinite(sb_exp_approx(88.0f)) && sb_exp_approx(88.0f) > 1e38f);
}

#if defined(__AVX512F__)
static void exp16_matches_scalar(const float *x, int n)
{
    for (int i = 0; i < n; i += 16) {
        float out[16];
        _mm512_storeu_ps(out, sb_exp_approx16(_mm512_loadu_ps(x + i)));
        for (int l = 0; l < 16; l++) {
            const float want = sb_exp_approx(x[i + l]);
            if (isnan(want))
                cr_assert(isnan(out[l]), "exp16(%g) = %g, want NaN", x[i + l], out[l]);
            else
                cr_assert(bits_of(out[l]) == bits_of(want), "exp16(%.9g) = %.9g, scalar %.9g", x[i + l], out[l], want);
        }
    }
}

Test(exp_approx, avx512_lanes_equal_the_scalar_bit_for_bit)
{
    size_t n;
    float *x = sampled_floats(-120.0f, 120.0f, 61, &n); /* past both ends, where the clamps act */
    exp16_matches_scalar(x, (int)(n - n % 16));
    free(x);
    const float special[16] = {NAN, -NAN, INFINITY, -INFINITY, -FLT_MAX, FLT_MAX, 0.0f, -0.0f,
                               -87.3365f, -87.3366f, 88.0f, 88.0001f, 1e-30f, -1e-30f, 0.5f, -0.5f};
    exp16_matches_scalar(special, 16);
}
#endif

/* ---- softmax rows --------------------------------------------------------------------------------------- */

/* A score row in the range attention produces (|s| up to ~30), a position bias, and a mask that hides some
 * entries with -FLT_MAX as HF's extended attention mask does; entry 0 is never hidden, as in any real row. */
static void make_row(float *row, float *bias, float *mask, int64_t n, unsigned seed)
{
    srand(seed);
    for (int64_t j = 0; j < n; j++) {
        row[j] = 60.0f * ((float)rand() / (float)RAND_MAX - 0.5f);
        bias[j] = 4.0f * ((float)rand() / (float)RAND_MAX - 0.5f);
        mask[j] = j > 0 && rand() % 5 == 0 ? -FLT_MAX : 0.0f;
    }
}

/* softmax(row + bias + mask) in float64 from the float inputs, summed as the kernel sums (bias + mask first). */
static void reference_softmax(double *p, const float *row, const float *bias, const float *mask, int64_t n)
{
    double max = -INFINITY;
    for (int64_t j = 0; j < n; j++) {
        const float add = bias != NULL && mask != NULL ? bias[j] + mask[j] : bias != NULL ? bias[j] : mask != NULL ? mask[j] : 0.0f;
        p[j] = (double)(row[j] + add);
        max = p[j] > max ? p[j] : max;
    }
    double sum = 0.0;
    for (int64_t j = 0; j < n; j++) {
        p[j] = exp(p[j] - max);
        sum += p[j];
    }
    for (int64_t j = 0; j < n; j++)
        p[j] /= sum;
}

static const int64_t lengths[] = {1, 2, 3, 7, 15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 65, 66, 67, 114, 128, 511, 512, 513};

/* Each of the four bias/mask combinations on each length: kernel against the float64 softmax (probabilities
 * within 4e-7 absolute and 2e-6 relative: a 1-ulp exp, and a float sum of up to 513 terms) and against the
 * portable version (numerators bit for bit, 1 / denominator within 1e-6 relative: the lanes add in
 * another order). */
Test(softmax_row, equals_float64_softmax_and_the_portable_kernel)
{
    enum { max_len = 513 };
    static float row[max_len], bias[max_len], mask[max_len], fast[max_len], portable[max_len];
    static double want[max_len];
    for (size_t li = 0; li < sizeof lengths / sizeof lengths[0]; li++) {
        const int64_t n = lengths[li];
        for (int combo = 0; combo < 4; combo++) {
            const float *b = combo & 1 ? bias : NULL, *m = combo & 2 ? mask : NULL;
            make_row(row, bias, mask, n, (unsigned)(n * 4 + combo));
            memcpy(fast, row, (size_t)n * sizeof(float));
            memcpy(portable, row, (size_t)n * sizeof(float));
            const float fast_scale = sb_softmax_row(fast, b, m, n);
            const float portable_scale = sb_softmax_row_portable(portable, b, m, n);
            reference_softmax(want, row, b, m, n);

            cr_assert(fabsf(fast_scale - portable_scale) <= 1e-6f * portable_scale,
                      "n=%lld bias=%d mask=%d: 1/sum %.9g vs portable %.9g", (long long)n, combo & 1, combo >> 1,
                      fast_scale, portable_scale);
            for (int64_t j = 0; j < n; j++) {
                cr_assert(bits_of(fast[j]) == bits_of(portable[j]), "n=%lld bias=%d mask=%d: numerator %lld is %.9g, portable %.9g",
                          (long long)n, combo & 1, combo >> 1, (long long)j, fast[j], portable[j]);
                const double p = (double)fast[j] * fast_scale;
                cr_assert(fabs(p - want[j]) <= 4e-7 + 2e-6 * want[j], "n=%lld bias=%d mask=%d: p[%lld] = %.9g, float64 %.9g",
                          (long long)n, combo & 1, combo >> 1, (long long)j, p, want[j]);
                if (m != NULL && m[j] == -FLT_MAX)
                    cr_assert(fast[j] == 0.0f, "n=%lld: masked entry %lld has weight %g", (long long)n, (long long)j, fast[j]);
            }
        }
    }
}

/* The kernel writes row[0..n) and nothing past it: the masked tail of the vector loop must not store. */
Test(softmax_row, writes_only_its_row)
{
    enum { pad = 32 };
    float buffer[pad + 67 + pad];
    for (int64_t n = 1; n <= 67; n++) {
        for (int i = 0; i < pad + 67 + pad; i++)
            buffer[i] = 12345.0f;
        float *row = buffer + pad;
        for (int64_t j = 0; j < n; j++)
            row[j] = (float)j * 0.25f;
        sb_softmax_row(row, NULL, NULL, n);
        for (int i = 0; i < pad; i++)
            cr_assert_eq(buffer[i], 12345.0f, "n=%lld: wrote before the row", (long long)n);
        for (int64_t i = pad + n; i < pad + 67 + pad; i++)
            cr_assert_eq(buffer[i], 12345.0f, "n=%lld: wrote past the row at +%lld", (long long)n, (long long)(i - pad));
    }
}

/* Scores that differ by more than the float exp range: the largest takes all the weight, the rest exactly 0. */
Test(softmax_row, one_dominant_score)
{
    float row[40];
    for (int j = 0; j < 40; j++)
        row[j] = -200.0f;
    row[21] = 50.0f;
    const float scale = sb_softmax_row(row, NULL, NULL, 40);
    cr_assert_eq(scale, 1.0f);
    for (int j = 0; j < 40; j++)
        cr_assert_eq(row[j], j == 21 ? 1.0f : 0.0f, "row[%d] = %g", j, row[j]);
}

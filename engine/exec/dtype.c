/* dtype.c — conversions between fp32 and the 16-bit formats: bf16 (weights in the arena, the operands of bf16
 * products), f16 (in files); the precisions a run names (compute and storage types). */
#include "engine/exec/exec.h"

#include <math.h>
#include <string.h>

float sb_bf16_to_f32(uint16_t bits)
{
    uint32_t u = (uint32_t)bits << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Round to nearest even: add 0x7FFF plus the lowest kept bit, then truncate; overflow carries into the
 * exponent and yields inf, as IEEE rounding does. Rounding would turn a NaN whose payload sits in the low
 * bits into inf, so NaNs are kept quiet NaNs instead. Branch-free, so the bulk loop vectorises. */
static inline uint16_t round_to_bf16(uint32_t u)
{
    uint32_t rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
    return (uint16_t)((u & 0x7FFFFFFFu) > 0x7F800000u ? (u >> 16) | 0x0040u : rounded);
}

uint16_t sb_f32_to_bf16(float value)
{
    uint32_t u;
    memcpy(&u, &value, sizeof u);
    return round_to_bf16(u);
}

float sb_f16_to_f32(uint16_t bits)
{
    const uint32_t sign = (uint32_t)(bits >> 15) << 31;
    const int exponent = (bits >> 10) & 0x1F;
    const uint32_t mantissa = bits & 0x3FFu;
    uint32_t u;
    if (exponent == 0x1F) {
        u = sign | 0x7F800000u | (mantissa << 13);
    } else if (exponent != 0) {
        u = sign | ((uint32_t)(exponent - 15 + 127) << 23) | (mantissa << 13);
    } else {
        /* Zero or subnormal: mantissa * 2^-24 is exact in fp32. */
        float f = ldexpf((float)mantissa, -24);
        memcpy(&u, &f, sizeof u);
        u |= sign;
    }
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* The bulk loops pun through a union (defined in C11, unlike pointer casts) and vectorise. */
typedef union {
    uint32_t bits;
    float value;
} f32_bits;

void sb_dtype_to_f32(sb_dtype dtype, const void *src, float *dst, int64_t n)
{
    if (dtype == SB_DTYPE_F32) {
        memcpy(dst, src, (size_t)n * sizeof(float));
        return;
    }
    const uint16_t *in = src;
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        f32_bits x = {.bits = (uint32_t)in[i] << 16};
        dst[i] = x.value;
    }
}

void sb_dtype_from_f32(sb_dtype dtype, const float *src, void *dst, int64_t n)
{
    if (dtype == SB_DTYPE_F32) {
        memcpy(dst, src, (size_t)n * sizeof(float));
        return;
    }
    uint16_t *out = dst;
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        f32_bits x = {.value = src[i]};
        out[i] = round_to_bf16(x.bits);
    }
}

const char *sb_precision_name(sb_precision p)
{
    switch (p) {
    case SB_PRECISION_F32: return "f32";
    case SB_PRECISION_BF16: return "bf16";
    case SB_PRECISION_BF16_STORAGE: return "bf16-storage";
    }
    return "?";
}

int sb_precision_parse(const char *name, sb_precision *out, sb_error *err)
{
    for (int p = 0; p < SB_PRECISIONS; p++)
        if (strcmp(name, sb_precision_name((sb_precision)p)) == 0) {
            *out = (sb_precision)p;
            return 0;
        }
    return sb_fail(err, "unknown dtype '%s' (f32, bf16: bf16 products, or bf16-storage: bf16 weights with fp32 "
                        "products)",
                   name);
}

sb_dtype sb_precision_compute(sb_precision p)
{
    return p == SB_PRECISION_BF16 ? SB_DTYPE_BF16 : SB_DTYPE_F32;
}

sb_dtype sb_precision_storage(sb_precision p, bool training)
{
    return p == SB_PRECISION_F32 || training ? SB_DTYPE_F32 : SB_DTYPE_BF16;
}

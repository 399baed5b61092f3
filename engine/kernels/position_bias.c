/* position_bias.c — T5's relative position bias: the bucket of a distance, the per-head Toeplitz diagonals
 * the runtime keeps, and the full (H, lq, lk) matrix the trainer keeps; and the RMSNorm both stacks apply
 * around it. */
#include "engine/kernels/kernels.h"

#include <omp.h>

// inp (N,C), weight (C) -> out (N,C)
void sb_rmsnorm_forward(float *out, const float *inp, const float *weight, int64_t n, int64_t c, float eps)
{
#pragma omp parallel for if (n * c > SB_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++)
        sb_rmsnorm_row(out + i * c, inp + i * c, weight, c, eps);
}

int64_t sb_relative_bucket(int64_t rel, bool bidirectional, int64_t num_buckets, int64_t max_distance)
{
    int64_t bucket = 0;
    if (bidirectional) {
        num_buckets /= 2;
        if (rel > 0)
            bucket = num_buckets;
        rel = rel < 0 ? -rel : rel;
    } else {
        rel = rel < 0 ? -rel : 0;
    }
    const int64_t max_exact = num_buckets / 2;
    if (rel < max_exact)
        return bucket + rel;
    /* float32 throughout, in HF's operation order: a different precision moves bucket boundaries. */
    float scaled = logf((float)rel / (float)max_exact) / (float)log((double)max_distance / (double)max_exact) *
                   (float)(num_buckets - max_exact);
    int64_t large = max_exact + (int64_t)scaled;
    return bucket + (large < num_buckets - 1 ? large : num_buckets - 1);
}

// table (num_buckets,H) -> diagonals (H, lq+lk-1): entry lq-1-i+j of head h is the bias of query q0+i
// against key j, for the distance j - (q0+i)
void sb_position_bias_diagonals(float *diagonals, const float *table, const sb_config *cfg, bool causal, int64_t q0,
                                int64_t lq, int64_t lk)
{
    const int64_t heads = cfg->num_heads, span = sb_position_bias_span(lq, lk), first = -(q0 + lq - 1);
    for (int64_t idx = 0; idx < span; idx++) {
        const int64_t distance = first + idx;
        const int64_t bucket = sb_relative_bucket(distance, !causal, cfg->relative_attention_num_buckets,
                                                  cfg->relative_attention_max_distance);
        /* bias + finfo.min rounds to finfo.min, which is what HF's causal mask gives above the diagonal. */
        for (int64_t h = 0; h < heads; h++)
            diagonals[h * span + idx] = causal && distance > 0 ? -FLT_MAX : table[bucket * heads + h];
    }
}

// table (num_buckets,H) -> bias (H,lq,lk), via scratch (H, lq+lk-1): rows are windows of the diagonals
void sb_position_bias_forward(float *bias, float *scratch, const float *table, const sb_config *cfg, bool causal,
                              int64_t q0, int64_t lq, int64_t lk)
{
    const int64_t heads = cfg->num_heads, span = sb_position_bias_span(lq, lk);
    sb_position_bias_diagonals(scratch, table, cfg, causal, q0, lq, lk);
#pragma omp parallel for collapse(2) if (heads * lq * lk > SB_PARALLEL_MIN)
    for (int64_t h = 0; h < heads; h++)
        for (int64_t i = 0; i < lq; i++)
            memcpy(bias + (h * lq + i) * lk, sb_position_bias_row(scratch + h * span, lq, i), (size_t)lk * sizeof *bias);
}

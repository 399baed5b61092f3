/* routing.c — the Switch Transformer's top-1 routing with capacity, for the inference forward and the
 * trainer alike: fp32 softmax over the router logits, the argmax expert and its probability (the gate), the
 * first `capacity` tokens of each sequence kept per expert, kept rows numbered expert by expert. */
#include "engine/kernels/kernels.h"

int64_t sb_switch_route(float *probs, int32_t *choice, float *gate, int32_t *slot, int32_t *offset, int32_t *fill,
                        const float *logits, int64_t batch, int64_t len, int64_t experts, int64_t capacity)
{
    const int64_t n = batch * len;
#pragma omp parallel for if (n * experts > SB_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++) {
        const float *row = logits + i * experts;
        const float max = sb_row_max(row, experts);
        float sum = 0.0f;
        for (int64_t e = 0; e < experts; e++)
            sum += expf(row[e] - max);
        /* argmax over the probabilities as HF takes it (ties: lowest index); gate = that probability. */
        int32_t best = 0;
        float best_p = 0.0f;
        for (int64_t e = 0; e < experts; e++) {
            const float p = expf(row[e] - max) / sum;
            if (probs != NULL)
                probs[i * experts + e] = p;
            if (e == 0 || p > best_p) {
                best = (int32_t)e;
                best_p = p;
            }
        }
        choice[i] = best;
        gate[i] = best_p;
    }
    /* Capacity per sequence: the first `capacity` tokens of a row choosing an expert keep their place
     * (slot 0 marks them for now); offset[e + 1] counts expert e's kept tokens over all rows. */
    memset(offset, 0, (size_t)(experts + 1) * sizeof *offset);
    for (int64_t b = 0; b < batch; b++) {
        memset(fill, 0, (size_t)experts * sizeof *fill);
        for (int64_t i = b * len; i < (b + 1) * len; i++) {
            const bool kept = fill[choice[i]]++ < capacity;
            slot[i] = kept ? 0 : -1;
            offset[choice[i] + 1] += kept;
        }
    }
    /* Kept rows are numbered expert by expert, in token order within an expert. */
    for (int64_t e = 0; e < experts; e++) {
        offset[e + 1] += offset[e];
        fill[e] = offset[e];
    }
    for (int64_t i = 0; i < n; i++)
        if (slot[i] == 0)
            slot[i] = fill[choice[i]]++;
    return offset[experts];
}

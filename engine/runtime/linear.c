/* linear.c — the bottom of the forward: weights as fp32 (bf16 storage converted per use), the linear layer
 * on Hugging Face layout or on weights pre-packed for oneDNN, projections of several adjacent weights as one
 * product, and the entry and exit of a pass (which collect a product's failure). */
#include "engine/runtime/runtime.h"

const float *sb_weight_f32(sb_runtime *rt, const sb_tensor *t)
{
    const void *data = sb_tensor_data(rt->w, t);
    if (rt->w->dtype == SB_DTYPE_F32)
        return data;
    sb_dtype_to_f32(rt->w->dtype, data, rt->weight_scratch, t->numel);
    return rt->weight_scratch;
}

int sb_pass_begin(sb_runtime *rt, sb_error *err)
{
    rt->failed = false;
    const sb_gemm_backend backend = sb_exec_backend(rt->x);
    if (rt->w->num_packed > 0 && backend != SB_GEMM_ONEDNN)
        return sb_fail(err,
                       "%zu weight tensors are pre-packed for oneDNN's matmul, which the %s backend cannot read: "
                       "sb_weights_layout_for the backend before running",
                       rt->w->num_packed, sb_gemm_backend_name(backend));
    sb_exec_enter(rt->x);
    return 0;
}

int sb_pass_end(sb_runtime *rt, sb_error *err)
{
    if (!rt->failed)
        return 0;
    rt->failed = false;
    if (err != NULL)
        *err = rt->failure;
    return -1;
}

// inp (N,C), packed weight of (OC,C) -> out (N,OC) with row stride ldo, = alpha * inp·weightᵀ + beta * out
static void packed_linear_forward(sb_runtime *rt, float *out, int64_t ldo, const float *inp, int64_t n, int64_t oc,
                                  int64_t c, const float *weight, float alpha, float beta)
{
    sb_error e;
    if (sb_gemm_packed(rt->x, n, oc, c, alpha, inp, c, weight, beta, out, ldo, &e) != 0 && !rt->failed) {
        rt->failed = true;
        rt->failure = e;
    }
}

// inp (N,C), weight (OC,C) -> out (N,OC) with row stride ldo, = alpha * inp·weightᵀ + beta * out
void sb_linear_forward(sb_runtime *rt, float *out, int64_t ldo, const float *inp, int64_t n, const sb_tensor *weight,
                       float alpha, float beta)
{
    const int64_t oc = weight->shape[0], c = weight->shape[1];
    const char *data = sb_tensor_data(rt->w, weight);
    if (weight->packed) {
        packed_linear_forward(rt, out, ldo, inp, n, oc, c, (const float *)data, alpha, beta);
        return;
    }
    if (rt->w->dtype == SB_DTYPE_F32) {
        sb_gemm(rt->x, false, true, n, oc, c, alpha, inp, c, (const float *)data, c, beta, out, ldo);
        return;
    }
    /* bf16: compute stays fp32 on a converted copy, in row blocks that fit the scratch (the vocabulary
     * tables are larger than any other tensor). */
    const int64_t rows = rt->weight_scratch_floats / c, row_bytes = c * sb_dtype_bytes(rt->w->dtype);
    for (int64_t r = 0; r < oc; r += rows) {
        const int64_t m = oc - r < rows ? oc - r : rows;
        sb_dtype_to_f32(rt->w->dtype, data + r * row_bytes, rt->weight_scratch, m * c);
        sb_gemm(rt->x, false, true, n, m, c, alpha, inp, c, rt->weight_scratch, c, beta, out + r, ldo);
    }
}

// inp (N,C), weights[count] each (OC,C) -> out (N, ldo), columns j*OC.. = inp·weights[j]ᵀ
void sb_projection_forward(sb_runtime *rt, float *out, int64_t ldo, const float *inp, int64_t n,
                           const sb_tensor *const *weights, int count)
{
    const int64_t oc = weights[0]->shape[0], c = weights[0]->shape[1];
    bool same_layout = true;
    for (int j = 1; j < count; j++)
        same_layout = same_layout && weights[j]->packed == weights[0]->packed;
    /* Packed weights keep each block of output features in its rows' bytes: adjacent ones are their
     * concatenation packed. */
    if (rt->w->dtype == SB_DTYPE_F32 && same_layout && sb_tensors_adjacent(weights, count)) {
        const float *data = sb_tensor_data(rt->w, weights[0]);
        if (weights[0]->packed)
            packed_linear_forward(rt, out, ldo, inp, n, count * oc, c, data, 1.0f, 0.0f);
        else
            sb_gemm(rt->x, false, true, n, count * oc, c, 1.0f, inp, c, data, c, 0.0f, out, ldo);
        return;
    }
    for (int j = 0; j < count; j++)
        sb_linear_forward(rt, out + j * oc, ldo, inp, n, weights[j], 1.0f, 0.0f);
}

/* linear.c — the bottom of the forward: weights as fp32 (bf16 storage under fp32 products converted per
 * use), the linear layer on Hugging Face layout or on weights pre-packed for oneDNN, in the products' type
 * (fp32, or bf16 on bf16 weights), projections of several adjacent weights as one product, and the entry and
 * exit of a pass (which collect a product's failure from the execution context). */
#include "engine/runtime/runtime.h"

#include <assert.h>

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
    const sb_gemm_backend backend = sb_exec_backend(rt->x);
    if (rt->w->num_packed > 0 && backend != SB_GEMM_ONEDNN)
        return sb_fail(err,
                       "%zu weight tensors are pre-packed for oneDNN's matmul, which the %s backend cannot read: "
                       "sb_weights_layout_for the backend before running",
                       rt->w->num_packed, sb_gemm_backend_name(backend));
    sb_exec_enter(rt->x);
    sb_exec_failure(rt->x, NULL); /* a failure before this pass is not this pass's */
    return 0;
}

int sb_pass_end(sb_runtime *rt, sb_error *err)
{
    return sb_exec_failure(rt->x, err);
}

/* inp (N,C), weight data of (OC,C) stored in the type the context computes in -> out (N,OC) with row stride
 * ldo, = alpha * inp·weightᵀ + beta * out. A failure is collected by sb_pass_end. */
static void product(sb_runtime *rt, float *out, int64_t ldo, const float *inp, int64_t n, int64_t oc, int64_t c,
                    const void *data, bool packed, float alpha, float beta)
{
    const sb_weight_operand w = {data, rt->w->dtype, packed};
    sb_gemm_weights(rt->x, true, n, oc, c, alpha, inp, c, w, beta, out, ldo);
}

void sb_linear_forward_f32(sb_runtime *rt, float *out, int64_t ldo, const float *inp, int64_t n,
                           const sb_tensor *weight, float alpha, float beta)
{
    assert(!weight->packed);
    const int64_t oc = weight->shape[0], c = weight->shape[1];
    const char *data = sb_tensor_data(rt->w, weight);
    if (rt->w->dtype == SB_DTYPE_F32) {
        sb_gemm_f32(rt->x, false, true, n, oc, c, alpha, inp, c, (const float *)data, c, beta, out, ldo);
        return;
    }
    /* bf16 storage: an fp32 product on a converted copy, in row blocks that fit the scratch (the vocabulary
     * tables are larger than any other tensor). */
    const int64_t rows = rt->weight_scratch_floats / c, row_bytes = c * sb_dtype_bytes(rt->w->dtype);
    for (int64_t r = 0; r < oc; r += rows) {
        const int64_t m = oc - r < rows ? oc - r : rows;
        sb_dtype_to_f32(rt->w->dtype, data + r * row_bytes, rt->weight_scratch, m * c);
        sb_gemm_f32(rt->x, false, true, n, m, c, alpha, inp, c, rt->weight_scratch, c, beta, out + r, ldo);
    }
}

// inp (N,C), weight (OC,C) -> out (N,OC) with row stride ldo, = alpha * inp·weightᵀ + beta * out
void sb_linear_forward(sb_runtime *rt, float *out, int64_t ldo, const float *inp, int64_t n, const sb_tensor *weight,
                       float alpha, float beta)
{
    if (rt->w->dtype != sb_exec_compute(rt->x)) {
        sb_linear_forward_f32(rt, out, ldo, inp, n, weight, alpha, beta);
        return;
    }
    product(rt, out, ldo, inp, n, weight->shape[0], weight->shape[1], sb_tensor_data(rt->w, weight), weight->packed,
            alpha, beta);
}

// inp (N,C), weights[count] each (OC,C) -> out (N, ldo), columns j*OC.. = inp·weights[j]ᵀ
void sb_projection_forward(sb_runtime *rt, float *out, int64_t ldo, const float *inp, int64_t n,
                           const sb_tensor *const *weights, int count)
{
    const int64_t oc = weights[0]->shape[0], c = weights[0]->shape[1];
    bool same_layout = true;
    for (int j = 1; j < count; j++)
        same_layout = same_layout && weights[j]->packed == weights[0]->packed;
    /* Adjacent weights stored in the type the products compute in are one (count*OC, C) weight; packed ones
     * too, since packing keeps each block of output features in its rows' bytes. */
    if (rt->w->dtype == sb_exec_compute(rt->x) && same_layout && sb_tensors_adjacent(weights, count)) {
        product(rt, out, ldo, inp, n, count * oc, c, sb_tensor_data(rt->w, weights[0]), weights[0]->packed, 1.0f,
                0.0f);
        return;
    }
    for (int j = 0; j < count; j++)
        sb_linear_forward(rt, out + j * oc, ldo, inp, n, weights[j], 1.0f, 0.0f);
}

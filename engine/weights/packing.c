/* packing.c — which weights are pre-packed for oneDNN's matmul and the in-place re-layout of the arena:
 * the linear weights of every block (attention, dense FFN, Switch experts) and an untied LM head, each only
 * when oneDNN has a same-size layout for it (sb_gemm_packable). The layout itself belongs to exec/onednn.c. */
#include "engine/weights/weights.h"

#include <stdlib.h>

static void visit_ffn(const sb_ffn_weights *f, void (*visit)(const sb_tensor *t, void *ctx), void *ctx,
                      int64_t *visited)
{
    const sb_tensor *linear[] = {f->wi, f->wi_1, f->wo};
    for (size_t j = 0; j < sizeof linear / sizeof linear[0]; j++)
        if (linear[j] != NULL) {
            visit(linear[j], ctx);
            (*visited)++;
        }
}

/* The packable role of each linear weight, by the tensor table: a block's attention projections, its dense
 * FFN or its experts (not the router: a handful of outputs), an untied lm_head. Calls visit(t) for each;
 * returns how many were visited, -1 on a table error. */
static int64_t each_linear(const sb_weights *w, void (*visit)(const sb_tensor *t, void *ctx), void *ctx,
                           sb_error *err)
{
    sb_stack_weights stacks[2] = {{0}, {0}};
    const sb_tensor *shared = NULL, *lm_head = NULL;
    int64_t visited = -1;
    if (sb_resolve_model(w, &stacks[0], &stacks[1], &shared, &lm_head, err) == 0) {
        visited = 0;
        for (int s = 0; s < 2; s++)
            for (int64_t i = 0; i < stacks[s].num_blocks; i++) {
                const sb_block_weights *bw = &stacks[s].blocks[i];
                const sb_tensor *attention[] = {bw->self.q,  bw->self.k,  bw->self.v,  bw->self.o,
                                                bw->cross.q, bw->cross.k, bw->cross.v, bw->cross.o};
                for (size_t j = 0; j < sizeof attention / sizeof attention[0]; j++)
                    if (attention[j] != NULL) {
                        visit(attention[j], ctx);
                        visited++;
                    }
                if (bw->router == NULL)
                    visit_ffn(&bw->ffn, visit, ctx, &visited);
                for (int64_t e = 0; bw->router != NULL && e < w->cfg.num_experts; e++)
                    visit_ffn(&bw->experts[e], visit, ctx, &visited);
            }
        if (lm_head != shared) {
            visit(lm_head, ctx);
            visited++;
        }
    }
    sb_stack_weights_free(&stacks[0]);
    sb_stack_weights_free(&stacks[1]);
    return visited;
}

typedef struct {
    sb_weights *w;
    sb_exec *x;
    bool to_packed;
    void *scratch; /* grown to the largest tensor re-laid so far */
    int64_t scratch_elements;
    sb_error *err;
    int failed;
} relayout_pass;

static void relayout(const sb_tensor *t, void *ctx)
{
    relayout_pass *p = ctx;
    /* Unpacking needs no check: whatever is packed was packable. */
    const sb_dtype dtype = p->w->dtype;
    if (p->failed || t->packed == p->to_packed ||
        (p->to_packed && !sb_gemm_packable(p->x, t->shape[0], t->shape[1], dtype)))
        return;
    const size_t element = (size_t)sb_dtype_bytes(dtype);
    if (t->numel > p->scratch_elements) {
        free(p->scratch); /* its contents are dead: no realloc copy */
        p->scratch = malloc((size_t)t->numel * element);
        p->scratch_elements = 0;
        if (p->scratch == NULL) {
            sb_fail(p->err, "out of memory for %.1f MiB of scratch to re-lay %s",
                    (double)t->numel * (double)element / (1 << 20), t->name);
            p->failed = 1;
            return;
        }
        p->scratch_elements = t->numel;
    }
    void *data = sb_tensor_data(p->w, t);
    const int rc = p->to_packed ? sb_gemm_pack(p->x, t->shape[0], t->shape[1], dtype, data, p->scratch, p->err)
                                : sb_gemm_unpack(p->x, t->shape[0], t->shape[1], dtype, data, p->scratch, p->err);
    if (rc != 0) {
        p->failed = 1;
        return;
    }
    /* the table is the caller's: this entry is w->tensors[t - w->tensors] */
    p->w->tensors[t - p->w->tensors].packed = p->to_packed;
    if (p->to_packed)
        p->w->num_packed++;
    else
        p->w->num_packed--;
}

static int relayout_all(sb_weights *w, sb_exec *x, bool to_packed, sb_error *err)
{
    if (!to_packed && w->num_packed == 0)
        return 0;
    relayout_pass p = {.w = w, .x = x, .to_packed = to_packed, .err = err};
    w->version++;
    const int64_t visited = each_linear(w, relayout, &p, err);
    free(p.scratch);
    return visited < 0 || p.failed ? -1 : 0;
}

int sb_weights_pack(sb_weights *w, sb_exec *x, sb_error *err)
{
    return relayout_all(w, x, true, err);
}

int sb_weights_unpack(sb_weights *w, sb_exec *x, sb_error *err)
{
    return relayout_all(w, x, false, err);
}

int sb_weights_layout_for(sb_weights *w, sb_exec *x, sb_error *err)
{
    /* Packed weights are read by oneDNN's matmul in their own type: fp32 weights by fp32 products, bf16 weights
     * by bf16 products. bf16 storage under fp32 compute is converted per use and stays in HF layout. */
    const bool packed = sb_exec_backend(x) == SB_GEMM_ONEDNN && sb_exec_prepack(x) && w->dtype == sb_exec_compute(x);
    return packed ? sb_weights_pack(w, x, err) : sb_weights_unpack(w, x, err);
}

int sb_weights_require_plain(const sb_weights *w, const char *what, sb_error *err)
{
    if (w->num_packed == 0)
        return 0;
    return sb_fail(err, "%s needs the weights in Hugging Face layout, but %zu tensors are pre-packed for oneDNN's "
                        "matmul: sb_weights_unpack them first", what, w->num_packed);
}

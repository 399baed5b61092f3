/* test_optim.c — the optimizers against references written here in plain float64 loops from the Hugging
 * Face Adafactor and torch AdamW formulas (not the engine's code), a hand-solved update-clipping case,
 * relative-step scaling by parameter RMS and past 10^4 steps, thread-count independence, gradient-norm
 * clipping, the schedules, state bytes against sb_count, and convergence on a quadratic. */
#include "engine/engine.h"
#include "tests/helpers.h"

#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---------------------------------------------------------------------------------------------- */

static sb_config base_config(int64_t vocab, int64_t d_model, int64_t d_ff, int64_t heads, int64_t d_kv)
{
    sb_config c = test_config(vocab, d_model, d_ff, heads, d_kv, 1, 1);
    c.relative_attention_num_buckets = 8;
    return c;
}

/* shared.weight is 4096 x 16 = 65536 elements: split across threads; the rest run on one thread. */
static sb_config dense_config(void)
{
    return base_config(4096, 16, 24, 2, 8);
}

static sb_config switch_config(void)
{
    sb_config c = base_config(64, 16, 24, 2, 8);
    c.num_layers = 2;
    c.num_decoder_layers = 2;
    c.tie_word_embeddings = false;
    c.num_experts = 4;
    c.encoder_sparse_step = 2;
    c.decoder_sparse_step = 2;
    c.expert_ffn = SB_FFN_GATED_GELU;
    c.expert_capacity = 8;
    return c;
}

static size_t arena_floats(const sb_weights *w)
{
    return w->arena_bytes / sizeof(float);
}

static float *params(const sb_weights *w, size_t i)
{
    return sb_tensor_data(w, &w->tensors[i]);
}

static uint64_t next(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 11;
}

/* Uniform (-1, 1) with every 7th element 30 times larger, so some factored updates exceed RMS 1. */
static void fill_grads(float *g, const sb_weights *w, uint64_t seed)
{
    memset(g, 0, w->arena_bytes);
    uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (size_t i = 0; i < w->num_tensors; i++) {
        const sb_tensor *t = &w->tensors[i];
        for (int64_t k = 0; k < t->numel; k++) {
            double u = (double)next(&s) / (double)(1ULL << 53) * 2 - 1;
            g[t->offset + k] = (float)(k % 7 == 3 ? 30 * u : u);
        }
    }
}

static double *copy_params(const sb_weights *w)
{
    const size_t n = arena_floats(w);
    double *p = malloc(n * sizeof *p);
    cr_assert_not_null(p);
    const float *a = w->arena;
    for (size_t i = 0; i < n; i++)
        p[i] = a[i];
    return p;
}

static double rms_of(const double *x, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += x[i] * x[i];
    return sqrt(s / (double)n);
}

/* Largest |engine - reference| of the change from `before`, relative to the largest reference change, per
 * tensor; the worst over all tensors. */
static double worst_delta_error(const sb_weights *w, const double *before, const double *ref)
{
    double worst = 0;
    for (size_t i = 0; i < w->num_tensors; i++) {
        const sb_tensor *t = &w->tensors[i];
        const float *p = params(w, i);
        double max_ref = 0, max_diff = 0;
        for (int64_t k = 0; k < t->numel; k++) {
            const size_t at = t->offset + (size_t)k;
            max_ref = fmax(max_ref, fabs(ref[at] - before[at]));
            max_diff = fmax(max_diff, fabs(((double)p[k] - before[at]) - (ref[at] - before[at])));
        }
        cr_assert(max_ref > 0, "%s did not move in the reference", t->name);
        worst = fmax(worst, max_diff / max_ref);
    }
    return worst;
}

static sb_optimizer *create_ok(const sb_weights *w, const sb_optim_settings *s)
{
    sb_optimizer *opt = NULL;
    sb_error err = {{0}};
    cr_assert_eq(sb_optimizer_create(&opt, w, s, &err), 0, "%s", err.msg);
    return opt;
}

static void step_ok(sb_optimizer *opt, sb_weights *w, const float *g, double lr)
{
    sb_error err = {{0}};
    cr_assert_eq(sb_optimizer_step(opt, w, g, lr, &err), 0, "%s", err.msg);
}

/* ---- the Adafactor reference: HF transformers.optimization.Adafactor.step, float64 --------------------------- */

typedef struct {
    double lr; /* <= 0: relative step */
    double beta1, eps1, eps2, clip, decay, wd;
    bool scale;
} ref_adafactor;

typedef struct {
    int clipped, unclipped;
} clip_tally;

/* One tensor: p and g of n = rows * cols (cols 0: a vector), state row/col or v, m (beta1) */
static void ref_adafactor_tensor(const ref_adafactor *o, int64_t step, double *p, const float *g, int64_t rows,
                                 int64_t cols, double *row, double *col, double *v, double *m, clip_tally *tally)
{
    const bool factored = cols > 0;
    const int64_t n = factored ? rows * cols : rows;
    double rel = o->lr;
    if (o->lr <= 0)
        rel = fmin(1e-2, 1 / sqrt((double)step));
    const double lr = rel * (o->scale ? fmax(o->eps2, rms_of(p, n)) : 1.0);
    const double beta2t = 1 - pow((double)step, o->decay);
    double *update = malloc((size_t)n * sizeof *update);
    for (int64_t k = 0; k < n; k++)
        update[k] = (double)g[k] * g[k] + o->eps1;
    if (factored) {
        for (int64_t i = 0; i < rows; i++) {
            double mean = 0;
            for (int64_t j = 0; j < cols; j++)
                mean += update[i * cols + j];
            row[i] = beta2t * row[i] + (1 - beta2t) * (mean / (double)cols);
        }
        for (int64_t j = 0; j < cols; j++) {
            double mean = 0;
            for (int64_t i = 0; i < rows; i++)
                mean += update[i * cols + j];
            col[j] = beta2t * col[j] + (1 - beta2t) * (mean / (double)rows);
        }
        double row_mean = 0;
        for (int64_t i = 0; i < rows; i++)
            row_mean += row[i] / (double)rows;
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < cols; j++)
                update[i * cols + j] = 1 / sqrt(row[i] / row_mean) * (1 / sqrt(col[j])) * g[i * cols + j];
    } else {
        for (int64_t k = 0; k < n; k++) {
            v[k] = beta2t * v[k] + (1 - beta2t) * update[k];
            update[k] = 1 / sqrt(v[k]) * g[k];
        }
    }
    const double divisor = fmax(rms_of(update, n) / o->clip, 1.0);
    if (divisor > 1 + 1e-9)
        tally->clipped++;
    else
        tally->unclipped++;
    for (int64_t k = 0; k < n; k++) {
        double u = update[k] / divisor * lr;
        if (o->beta1 > 0) {
            m[k] = o->beta1 * m[k] + (1 - o->beta1) * u;
            u = m[k];
        }
        p[k] += -o->wd * lr * p[k];
        p[k] -= u;
        p[k] = (float)p[k]; /* the parameters are fp32, in torch as in the arena */
    }
    free(update);
}

/* `steps` Adafactor steps of the engine and the reference on the same weights and gradients; returns the
 * worst relative error of the total change. lr_arg is what each engine step passes. */
static double adafactor_against_reference(const sb_config *cfg, const sb_optim_settings *s, int steps,
                                          clip_tally *tally)
{
    sb_weights w;
    test_make_weights(&w, cfg, SB_DTYPE_F32, 7);
    sb_optimizer *opt = create_ok(&w, s);
    const size_t n = arena_floats(&w);
    float *g = malloc(n * sizeof *g);
    double *before = copy_params(&w), *ref = copy_params(&w);
    /* reference state: the largest a tensor can need, per tensor, kept in one array like the arena */
    double *st_a = calloc(n, sizeof *st_a), *st_m = calloc(n, sizeof *st_m);
    cr_assert(g != NULL && st_a != NULL && st_m != NULL);
    const ref_adafactor o = {s->lr, s->beta1, s->eps, s->eps_scale, s->clip_threshold, s->decay_rate,
                             s->weight_decay, s->scale_parameter};
    for (int step = 1; step <= steps; step++) {
        fill_grads(g, &w, (uint64_t)step);
        for (size_t i = 0; i < w.num_tensors; i++) {
            const sb_tensor *t = &w.tensors[i];
            double *a = st_a + t->offset; /* rows + cols <= numel for every 2-D tensor here */
            cr_assert(t->ndim == 1 || t->shape[0] + t->shape[1] <= t->numel + 1);
            if (t->ndim == 2)
                ref_adafactor_tensor(&o, step, ref + t->offset, g + t->offset, t->shape[0], t->shape[1], a,
                                     a + t->shape[0], NULL, st_m + t->offset, tally);
            else
                ref_adafactor_tensor(&o, step, ref + t->offset, g + t->offset, t->numel, 0, NULL, NULL, a,
                                     st_m + t->offset, tally);
        }
        step_ok(opt, &w, g, SB_OPTIM_LR_DEFAULT);
    }
    cr_assert_eq(sb_optimizer_steps(opt), steps);
    const double worst = worst_delta_error(&w, before, ref);
    free(g);
    free(before);
    free(ref);
    free(st_a);
    free(st_m);
    sb_optimizer_free(opt);
    sb_weights_free(&w);
    return worst;
}

Test(optim_adafactor, t5_settings_match_hf_reference)
{
    sb_optim_settings s;
    sb_optim_defaults(SB_OPTIM_ADAFACTOR, &s);
    clip_tally tally = {0, 0};
    sb_config cfg = dense_config();
    double worst = adafactor_against_reference(&cfg, &s, 4, &tally);
    cr_assert(worst < 2e-4, "dense: worst relative error %g", worst);
    cfg = switch_config();
    worst = adafactor_against_reference(&cfg, &s, 3, &tally);
    cr_assert(worst < 2e-4, "switch: worst relative error %g", worst);
    /* both sides of update clipping were exercised */
    cr_assert(tally.clipped > 10 && tally.unclipped > 10, "clipped %d, unclipped %d", tally.clipped, tally.unclipped);
}

Test(optim_adafactor, explicit_lr_weight_decay_momentum_match_hf_reference)
{
    sb_optim_settings s;
    sb_optim_defaults(SB_OPTIM_ADAFACTOR, &s);
    s.lr = 3e-3;
    s.weight_decay = 0.1;
    s.beta1 = 0.9;
    s.clip_threshold = 1.3;
    clip_tally tally = {0, 0};
    sb_config cfg = dense_config();
    double worst = adafactor_against_reference(&cfg, &s, 3, &tally);
    cr_assert(worst < 2e-4, "scaled: worst relative error %g", worst);
    s.scale_parameter = false;
    s.beta1 = 0;
    s.decay_rate = -0.5;
    cfg = switch_config();
    worst = adafactor_against_reference(&cfg, &s, 3, &tally);
    cr_assert(worst < 2e-4, "unscaled: worst relative error %g", worst);
}

/* The reference must be able to fail: a wrong decay rate on the engine side is caught. */
Test(optim_adafactor, reference_detects_a_different_algorithm)
{
    sb_optim_settings s;
    sb_optim_defaults(SB_OPTIM_ADAFACTOR, &s);
    sb_config cfg = dense_config();
    sb_weights w;
    test_make_weights(&w, &cfg, SB_DTYPE_F32, 7);
    s.decay_rate = -0.5; /* engine */
    sb_optimizer *opt = create_ok(&w, &s);
    float *g = malloc(w.arena_bytes);
    double *before = copy_params(&w), *ref = copy_params(&w);
    double *st = calloc(arena_floats(&w), sizeof *st);
    const ref_adafactor o = {0, 0, 1e-30, 1e-3, 1.0, -0.8, 0, true}; /* reference: T5's -0.8 */
    clip_tally tally = {0, 0};
    for (int step = 1; step <= 3; step++) {
        fill_grads(g, &w, (uint64_t)step);
        for (size_t i = 0; i < w.num_tensors; i++) {
            const sb_tensor *t = &w.tensors[i];
            if (t->ndim == 2)
                ref_adafactor_tensor(&o, step, ref + t->offset, g + t->offset, t->shape[0], t->shape[1],
                                     st + t->offset, st + t->offset + t->shape[0], NULL, NULL, &tally);
            else
                ref_adafactor_tensor(&o, step, ref + t->offset, g + t->offset, t->numel, 0, NULL, NULL,
                                     st + t->offset, NULL, &tally);
        }
        step_ok(opt, &w, g, SB_OPTIM_LR_DEFAULT);
    }
    cr_assert(worst_delta_error(&w, before, ref) > 1e-2);
    free(g);
    free(before);
    free(ref);
    free(st);
    sb_optimizer_free(opt);
    sb_weights_free(&w);
}

/* q.weight is 16 x 16; a diagonal gradient 1, 3, 1, 3, ... at step 1 gives row_i = col_i = g_i^2 / 16,
 * mean(row) = 5/16, so u_ii = sqrt(5)/g_i * 4/g_i * g_i = 4 sqrt(5) / g_i and RMS(u) = 5/3, worked by hand. */
Test(optim_adafactor, update_clipping_by_hand)
{
    sb_config cfg = dense_config();
    for (int clipped = 0; clipped <= 1; clipped++) {
        sb_weights w;
        test_make_weights(&w, &cfg, SB_DTYPE_F32, 3);
        const sb_tensor *q = sb_weights_find(&w, "encoder.block.0.layer.0.SelfAttention.q.weight");
        cr_assert_not_null(q);
        cr_assert(q->shape[0] == 16 && q->shape[1] == 16);
        float *g = calloc(arena_floats(&w), sizeof *g);
        for (int i = 0; i < 16; i++)
            g[q->offset + (size_t)i * 17] = i % 2 ? 3.0f : 1.0f;
        float before[256];
        memcpy(before, sb_tensor_data(&w, q), sizeof before);
        sb_optim_settings s;
        sb_optim_defaults(SB_OPTIM_ADAFACTOR, &s);
        s.lr = 0.1;
        s.scale_parameter = false;
        s.clip_threshold = clipped ? 1.0 : 10.0;
        sb_optimizer *opt = create_ok(&w, &s);
        step_ok(opt, &w, g, SB_OPTIM_LR_DEFAULT);
        const float *p = sb_tensor_data(&w, q);
        const double divisor = clipped ? 5.0 / 3.0 : 1.0;
        for (int i = 0; i < 16; i++)
            for (int j = 0; j < 16; j++) {
                const double gi = i % 2 ? 3 : 1;
                const double want = i == j ? -0.1 * 4 * sqrt(5.0) / gi / divisor : 0;
                const double got = (double)p[i * 16 + j] - before[i * 16 + j];
                cr_assert(fabs(got - want) < 2e-6, "clip %d (%d,%d): change %.8f, by hand %.8f", clipped, i, j, got,
                          want);
            }
        free(g);
        sb_optimizer_free(opt);
        sb_weights_free(&w);
    }
}

static double change_rms(const float *p, const double *before, int64_t n)
{
    double s = 0;
    for (int64_t k = 0; k < n; k++)
        s += ((double)p[k] - before[k]) * ((double)p[k] - before[k]);
    return sqrt(s / (double)n);
}

/* Relative step: the change is max(eps_scale, RMS(p)) * 1e-2 * min(RMS(u), 1): ten times larger parameters
 * move ten times more; zero parameters move by eps_scale * 1e-2. */
Test(optim_adafactor, relative_step_scales_with_parameter_rms)
{
    sb_config cfg = dense_config();
    sb_optim_settings s;
    sb_optim_defaults(SB_OPTIM_ADAFACTOR, &s);
    sb_weights a, b, z;
    test_make_weights(&a, &cfg, SB_DTYPE_F32, 5);
    test_make_weights(&b, &cfg, SB_DTYPE_F32, 5);
    test_make_weights(&z, &cfg, SB_DTYPE_F32, 5);
    float *pb = b.arena, *pz = z.arena;
    for (size_t k = 0; k < arena_floats(&b); k++) {
        pb[k] *= 10;
        pz[k] = 0;
    }
    double *a0 = copy_params(&a), *b0 = copy_params(&b);
    float *g = malloc(a.arena_bytes);
    fill_grads(g, &a, 11);
    sb_optimizer *oa = create_ok(&a, &s), *ob = create_ok(&b, &s), *oz = create_ok(&z, &s);
    step_ok(oa, &a, g, SB_OPTIM_LR_DEFAULT);
    step_ok(ob, &b, g, SB_OPTIM_LR_DEFAULT);
    step_ok(oz, &z, g, SB_OPTIM_LR_DEFAULT);
    cr_assert_float_eq(sb_optimizer_last_lr(oa), 1e-2, 1e-15);
    for (size_t i = 0; i < a.num_tensors; i++) {
        const sb_tensor *t = &a.tensors[i];
        const double ra = change_rms(params(&a, i), a0 + t->offset, t->numel);
        const double rb = change_rms(params(&b, i), b0 + t->offset, t->numel);
        const double rms_p = rms_of(a0 + t->offset, t->numel);
        cr_assert(fabs(rb / ra - 10) < 1e-4, "%s: x10 parameters moved %g times more", t->name, rb / ra);
        /* RMS(u) >= 1 at step 1 for a vector (|g| / sqrt(g^2 + eps)) : the change is exactly lr_t */
        if (t->ndim == 1)
            cr_assert(fabs(ra / (1e-2 * rms_p) - 1) < 1e-5, "%s: change %g, lr_t %g", t->name, ra, 1e-2 * rms_p);
        else
            cr_assert(ra <= 1e-2 * rms_p * (1 + 1e-5), "%s: change %g above lr_t %g", t->name, ra, 1e-2 * rms_p);
        /* zero parameters: lr_t = eps_scale * 1e-2, the same update direction */
        double sz = 0;
        for (int64_t k = 0; k < t->numel; k++)
            sz += (double)params(&z, i)[k] * params(&z, i)[k];
        sz = sqrt(sz / (double)t->numel);
        cr_assert(fabs(sz / ra * rms_p / 1e-3 - 1) < 1e-4, "%s: zero parameters moved %g", t->name, sz);
    }
    free(a0);
    free(b0);
    free(g);
    sb_optimizer_free(oa);
    sb_optimizer_free(ob);
    sb_optimizer_free(oz);
    sb_weights_free(&a);
    sb_weights_free(&b);
    sb_weights_free(&z);
}

/* Past T5's 10^4-step warmup the step size is 1/sqrt(step): after 10^4 steps of zero gradients the second
 * moments are ~eps, so a real gradient is clipped and every tensor moves by exactly lr_t. */
Test(optim_adafactor, relative_step_decays_after_ten_thousand_steps, .timeout = 60)
{
    sb_config cfg = base_config(8, 4, 4, 1, 4);
    sb_weights w;
    test_make_weights(&w, &cfg, SB_DTYPE_F32, 2);
    sb_optim_settings s;
    sb_optim_defaults(SB_OPTIM_ADAFACTOR, &s);
    sb_optimizer *opt = create_ok(&w, &s);
    float *g = calloc(arena_floats(&w), sizeof *g);
    double *p0 = copy_params(&w);
    for (int64_t step = 1; step <= 10000; step++) {
        step_ok(opt, &w, g, SB_OPTIM_LR_DEFAULT);
        cr_assert_float_eq(sb_optimizer_last_lr(opt), sb_lr_inverse_sqrt(step, 10000, 1.0), 1e-15);
    }
    cr_assert_float_eq(sb_optimizer_last_lr(opt), 1e-2, 1e-15);
    for (size_t k = 0; k < arena_floats(&w); k++)
        cr_assert_eq((float)p0[k], ((float *)w.arena)[k], "zero gradients moved a parameter");
    fill_grads(g, &w, 5);
    step_ok(opt, &w, g, SB_OPTIM_LR_DEFAULT);
    cr_assert_float_eq(sb_optimizer_last_lr(opt), 1 / sqrt(10001.0), 1e-15);
    cr_assert_float_eq(sb_optimizer_last_lr(opt), sb_lr_inverse_sqrt(10001, 10000, 1.0), 1e-15);
    for (size_t i = 0; i < w.num_tensors; i++) {
        const sb_tensor *t = &w.tensors[i];
        const double want = fmax(1e-3, rms_of(p0 + t->offset, t->numel)) / sqrt(10001.0);
        const double got = change_rms(params(&w, i), p0 + t->offset, t->numel);
        cr_assert(fabs(got / want - 1) < 1e-5, "%s: moved %g, lr_t %g", t->name, got, want);
    }
    free(g);
    free(p0);
    sb_optimizer_free(opt);
    sb_weights_free(&w);
}

Test(optim_adafactor, warmup_init_step_size)
{
    sb_config cfg = base_config(8, 4, 4, 1, 4);
    sb_weights w;
    test_make_weights(&w, &cfg, SB_DTYPE_F32, 2);
    sb_optim_settings s;
    sb_optim_defaults(SB_OPTIM_ADAFACTOR, &s);
    s.warmup_init = true;
    sb_optimizer *opt = create_ok(&w, &s);
    float *g = calloc(arena_floats(&w), sizeof *g);
    for (int step = 1; step <= 3; step++) {
        step_ok(opt, &w, g, SB_OPTIM_LR_DEFAULT);
        cr_assert_float_eq(sb_optimizer_last_lr(opt), 1e-6 * step, 1e-20); /* min(1e-6 t, 1/sqrt(t)) */
    }
    free(g);
    sb_optimizer_free(opt);
    sb_weights_free(&w);
}

/* ---- AdamW: torch.optim.AdamW, float64 --------------------------------------------------------------------- */

static double adamw_against_reference(const sb_config *cfg, const sb_optim_settings *s, bool break_it)
{
    sb_weights w;
    test_make_weights(&w, cfg, SB_DTYPE_F32, 9);
    sb_optimizer *opt = create_ok(&w, s);
    const size_t n = arena_floats(&w);
    float *g = malloc(n * sizeof *g);
    double *before = copy_params(&w), *ref = copy_params(&w);
    double *m = calloc(n, sizeof *m), *v = calloc(n, sizeof *v);
    const double beta1 = s->beta1, beta2 = break_it ? 0.5 : s->beta2;
    for (int step = 1; step <= 3; step++) {
        const double lr = sb_lr_inverse_sqrt(step, 1, 2e-3);
        fill_grads(g, &w, (uint64_t)(100 + step));
        for (size_t i = 0; i < w.num_tensors; i++) {
            const sb_tensor *t = &w.tensors[i];
            for (int64_t k = 0; k < t->numel; k++) {
                const size_t at = t->offset + (size_t)k;
                double *p = &ref[at];
                *p *= 1 - lr * s->weight_decay;
                m[at] = beta1 * m[at] + (1 - beta1) * g[at];
                v[at] = beta2 * v[at] + (1 - beta2) * (double)g[at] * g[at];
                const double m_hat = m[at] / (1 - pow(beta1, step)), v_hat = v[at] / (1 - pow(beta2, step));
                *p -= lr * m_hat / (sqrt(v_hat) + s->eps);
                *p = (float)*p; /* fp32 parameters */
            }
        }
        step_ok(opt, &w, g, lr);
        cr_assert_float_eq(sb_optimizer_last_lr(opt), lr, 1e-18);
    }
    const double worst = worst_delta_error(&w, before, ref);
    free(g);
    free(before);
    free(ref);
    free(m);
    free(v);
    sb_optimizer_free(opt);
    sb_weights_free(&w);
    return worst;
}

Test(optim_adamw, matches_torch_reference)
{
    sb_optim_settings s;
    sb_optim_defaults(SB_OPTIM_ADAMW, &s);
    sb_config cfg = dense_config();
    double worst = adamw_against_reference(&cfg, &s, false);
    cr_assert(worst < 2e-4, "defaults: worst relative error %g", worst);
    s.weight_decay = 0.5;
    s.beta1 = 0.8;
    s.beta2 = 0.95;
    s.eps = 1e-3; /* large enough to matter */
    cfg = switch_config();
    worst = adamw_against_reference(&cfg, &s, false);
    cr_assert(worst < 2e-4, "custom: worst relative error %g", worst);
    worst = adamw_against_reference(&cfg, &s, true);
    cr_assert(worst > 1e-2, "a different beta2 went unnoticed (%g)", worst);
}

Test(optim_adamw, weight_decay_is_decoupled)
{
    /* zero gradients: m = v = 0, so the only change is p *= 1 - lr * wd */
    sb_config cfg = base_config(8, 4, 4, 1, 4);
    sb_weights w;
    test_make_weights(&w, &cfg, SB_DTYPE_F32, 4);
    sb_optim_settings s;
    sb_optim_defaults(SB_OPTIM_ADAMW, &s);
    s.weight_decay = 0.25;
    sb_optimizer *opt = create_ok(&w, &s);
    float *g = calloc(arena_floats(&w), sizeof *g);
    double *p0 = copy_params(&w);
    step_ok(opt, &w, g, 0.2);
    for (size_t i = 0; i < w.num_tensors; i++)
        for (int64_t k = 0; k < w.tensors[i].numel; k++)
            cr_assert_float_eq(params(&w, i)[k], p0[w.tensors[i].offset + (size_t)k] * 0.95, 1e-6);
    free(g);
    free(p0);
    sb_optimizer_free(opt);
    sb_weights_free(&w);
}

/* ---- thread count -------------------------------------------------------------------------------------------- */

static void *run_steps(int threads, sb_optim_kind kind)
{
    omp_set_num_threads(threads);
    sb_config cfg = dense_config();
    sb_weights w;
    test_make_weights(&w, &cfg, SB_DTYPE_F32, 21);
    sb_optim_settings s;
    sb_optim_defaults(kind, &s);
    sb_optimizer *opt = create_ok(&w, &s);
    float *g = malloc(w.arena_bytes);
    for (int step = 1; step <= 3; step++) {
        fill_grads(g, &w, (uint64_t)step);
        double norm = sb_grad_clip_norm(g, &w, 50.0);
        cr_assert(norm > 50.0);
        step_ok(opt, &w, g, SB_OPTIM_LR_DEFAULT);
    }
    void *copy = malloc(w.arena_bytes);
    memcpy(copy, w.arena, w.arena_bytes);
    free(g);
    sb_optimizer_free(opt);
    sb_weights_free(&w);
    return copy;
}

Test(optim_threads, results_do_not_depend_on_thread_count)
{
    sb_config cfg = dense_config();
    sb_weights w;
    test_make_weights(&w, &cfg, SB_DTYPE_F32, 1);
    const size_t bytes = w.arena_bytes;
    sb_weights_free(&w);
    for (int kind = SB_OPTIM_ADAFACTOR; kind <= SB_OPTIM_ADAMW; kind++) {
        void *one = run_steps(1, (sb_optim_kind)kind);
        for (int threads = 2; threads <= 3; threads++) {
            void *more = run_steps(threads, (sb_optim_kind)kind);
            cr_assert_eq(memcmp(one, more, bytes), 0, "%s: %d threads differ from 1", sb_optim_name(kind), threads);
            free(more);
        }
        free(one);
    }
}

/* ---- gradient-norm clipping ----------------------------------------------------------------------------------- */

Test(optim_clip, global_norm_as_torch)
{
    sb_config cfg = dense_config();
    sb_weights w;
    test_make_weights(&w, &cfg, SB_DTYPE_F32, 1);
    const size_t n = arena_floats(&w);
    float *g = malloc(w.arena_bytes), *g0 = malloc(w.arena_bytes);
    fill_grads(g, &w, 3);
    memcpy(g0, g, w.arena_bytes);
    double ref = 0;
    for (size_t k = 0; k < n; k++)
        ref += (double)g[k] * g[k];
    ref = sqrt(ref);

    /* below the threshold: untouched */
    double norm = sb_grad_clip_norm(g, &w, ref * 2);
    cr_assert(fabs(norm / ref - 1) < 1e-12, "norm %.17g, reference %.17g", norm, ref);
    cr_assert_eq(memcmp(g, g0, w.arena_bytes), 0);
    /* max_norm 0: only measures */
    cr_assert(fabs(sb_grad_clip_norm(g, &w, 0) / ref - 1) < 1e-12);
    cr_assert_eq(memcmp(g, g0, w.arena_bytes), 0);

    /* above: scaled by max_norm / (norm + 1e-6) */
    const double max_norm = ref / 4;
    norm = sb_grad_clip_norm(g, &w, max_norm);
    cr_assert(fabs(norm / ref - 1) < 1e-12);
    const float coef = (float)(max_norm / (ref + 1e-6));
    double after = 0;
    for (size_t k = 0; k < n; k++) {
        cr_assert_eq(g[k], g0[k] * coef);
        after += (double)g[k] * g[k];
    }
    cr_assert(fabs(sqrt(after) / max_norm - 1) < 1e-5, "norm after clipping %g, max %g", sqrt(after), max_norm);

    /* a non-finite gradient: reported, nothing scaled */
    memcpy(g, g0, w.arena_bytes);
    g[w.tensors[3].offset] = NAN;
    cr_assert(isnan(sb_grad_clip_norm(g, &w, 1.0)));
    cr_assert_eq(g[w.tensors[3].offset + 1], g0[w.tensors[3].offset + 1]);
    free(g);
    free(g0);
    sb_weights_free(&w);
}

/* ---- schedules ------------------------------------------------------------------------------------------------ */

Test(optim_schedule, t5_inverse_sqrt)
{
    cr_assert_float_eq(sb_lr_inverse_sqrt(1, 10000, 1.0), 0.01, 1e-15);
    cr_assert_float_eq(sb_lr_inverse_sqrt(10000, 10000, 1.0), 0.01, 1e-15);
    cr_assert_float_eq(sb_lr_inverse_sqrt(40000, 10000, 1.0), 0.005, 1e-15);
    cr_assert_float_eq(sb_lr_inverse_sqrt(90000, 10000, 3.0), 0.01, 1e-15);
    cr_assert_float_eq(sb_lr_inverse_sqrt(4, 0, 1.0), 0.5, 1e-15);
    cr_assert_float_eq(sb_lr_inverse_sqrt(0, 0, 2.0), 2.0, 1e-15);
}

/* Linear warmup, then each decay: inverse sqrt continues from the peak, cosine reaches its floor at the end of
 * the run and stays there; the same plan in seconds as in steps. */
Test(optim_schedule, warmup_then_decay)
{
    sb_lr_plan p = {SB_LR_CONSTANT, 0.3, 0, 1000, 0};
    cr_assert_float_eq(sb_lr_at(&p, 12345), 0.3, 1e-15);
    p = (sb_lr_plan){SB_LR_INVERSE_SQRT, 0.1, 100, 1000, 0};
    cr_assert_float_eq(sb_lr_at(&p, 1), 0.001, 1e-15);
    cr_assert_float_eq(sb_lr_at(&p, 50), 0.05, 1e-15);
    cr_assert_float_eq(sb_lr_at(&p, 100), 0.1, 1e-15);
    cr_assert_float_eq(sb_lr_at(&p, 400), 0.05, 1e-15);
    p.warmup = 0;
    cr_assert_float_eq(sb_lr_at(&p, 4), 0.05, 1e-15);
    p = (sb_lr_plan){SB_LR_COSINE, 0.02, 10, 110, 0.1};
    cr_assert_float_eq(sb_lr_at(&p, 5), 0.01, 1e-15);
    cr_assert_float_eq(sb_lr_at(&p, 10), 0.02, 1e-15);
    cr_assert_float_eq(sb_lr_at(&p, 60), 0.02 * (0.1 + 0.9 * 0.5), 1e-15);
    cr_assert_float_eq(sb_lr_at(&p, 110), 0.002, 1e-15);
    cr_assert_float_eq(sb_lr_at(&p, 500), 0.002, 1e-15);
    p = (sb_lr_plan){SB_LR_COSINE, 0.02, 1.5, 16.5, 0}; /* seconds */
    cr_assert_float_eq(sb_lr_at(&p, 9), 0.01, 1e-15);
    cr_assert_float_eq(sb_lr_at(&p, 16.5), 0, 1e-15);
}

Test(optim_schedule, names)
{
    sb_lr_schedule sch;
    sb_error err = {{0}};
    cr_assert_eq(sb_lr_schedule_parse("inverse_sqrt", &sch, &err), 0);
    cr_assert_eq(sch, SB_LR_INVERSE_SQRT);
    cr_assert_eq(sb_lr_schedule_parse("constant", &sch, &err), 0);
    cr_assert_eq(sch, SB_LR_CONSTANT);
    cr_assert_eq(sb_lr_schedule_parse("cosine", &sch, &err), 0);
    cr_assert_eq(sch, SB_LR_COSINE);
    cr_assert_eq(sb_lr_schedule_parse("linear", &sch, &err), -1);
    cr_assert(strstr(err.msg, "linear") != NULL, "%s", err.msg);
    cr_assert_str_eq(sb_lr_schedule_name(SB_LR_INVERSE_SQRT), "inverse_sqrt");
    cr_assert_str_eq(sb_lr_schedule_name(SB_LR_COSINE), "cosine");
}

/* ---- state bytes against sb_count ------------------------------------------------------------------------------ */

static void check_state_bytes(const sb_config *cfg)
{
    sb_error err = {{0}};
    sb_weights w;
    cr_assert_eq(sb_weights_alloc(&w, cfg, SB_DTYPE_F32, &err), 0, "%s: %s", cfg->name, err.msg);
    sb_counts counts;
    const sb_count_settings one = {.batch = 1, .src_len = 1, .tgt_len = 1, .dtype = SB_DTYPE_F32};
    cr_assert_eq(sb_count(cfg, &one, &counts, &err), 0, "%s", err.msg);
    /* HF Adafactor: rows + cols for every tensor with ndim >= 2, numel for vectors */
    int64_t factored = 0, params = 0;
    for (size_t i = 0; i < w.num_tensors; i++) {
        const sb_tensor *t = &w.tensors[i];
        factored += t->ndim >= 2 ? t->shape[0] + t->shape[1] : t->numel;
        params += t->numel;
    }
    sb_optim_settings s;
    sb_optim_defaults(SB_OPTIM_ADAFACTOR, &s);
    sb_optimizer *opt = create_ok(&w, &s);
    cr_assert_eq((int64_t)sb_optimizer_state_bytes(opt), 4 * factored, "%s", cfg->name);
    cr_assert_eq((int64_t)sb_optimizer_state_bytes(opt), counts.memory_bytes.optimizer_adafactor,
                 "%s: adafactor state %zu bytes, count says %lld", cfg->name, sb_optimizer_state_bytes(opt),
                 (long long)counts.memory_bytes.optimizer_adafactor);
    sb_optimizer_free(opt);
    sb_optim_defaults(SB_OPTIM_ADAMW, &s);
    opt = create_ok(&w, &s);
    cr_assert_eq((int64_t)sb_optimizer_state_bytes(opt), 8 * params, "%s", cfg->name);
    cr_assert_eq((int64_t)sb_optimizer_state_bytes(opt), counts.memory_bytes.optimizer_adamw,
                 "%s: adamw state %zu bytes, count says %lld", cfg->name, sb_optimizer_state_bytes(opt),
                 (long long)counts.memory_bytes.optimizer_adamw);
    sb_optimizer_free(opt);
    sb_weights_free(&w);
}

Test(optim_state, bytes_equal_count)
{
    sb_config c = dense_config();
    check_state_bytes(&c); /* dense relu, tied */
    c.ffn = SB_FFN_GATED_GELU;
    c.tie_word_embeddings = false;
    c.shared_kv = true;
    c.num_decoder_layers = 3;
    check_state_bytes(&c); /* gated, untied, skv */
    c = switch_config();
    check_state_bytes(&c); /* Switch, gated experts every 2nd block */
    c.encoder_sparse_step = 1;
    c.decoder_sparse_step = 0;
    c.num_experts = 16;
    c.expert_ffn = SB_FFN_RELU;
    check_state_bytes(&c); /* every encoder block sparse, dense decoder */
    sb_error err = {{0}};
    cr_assert_eq(sb_config_resolve("t5-efficient-tiny", &c, NULL, NULL, &err), 0, "%s", err.msg);
    check_state_bytes(&c);
    cr_assert_eq(sb_config_resolve("t5-efficient-tiny+switch8", &c, NULL, NULL, &err), 0, "%s", err.msg);
    check_state_bytes(&c);

    /* Adafactor with a first moment adds one float per parameter */
    c = dense_config();
    sb_weights w;
    test_make_weights(&w, &c, SB_DTYPE_F32, 1);
    sb_optim_settings s;
    sb_optim_defaults(SB_OPTIM_ADAFACTOR, &s);
    sb_optimizer *plain = create_ok(&w, &s);
    s.beta1 = 0.9;
    sb_optimizer *momentum = create_ok(&w, &s);
    sb_counts counts;
    const sb_count_settings one = {.batch = 1, .src_len = 1, .tgt_len = 1, .dtype = SB_DTYPE_F32};
    cr_assert_eq(sb_count(&c, &one, &counts, &err), 0);
    cr_assert_eq(sb_optimizer_state_bytes(momentum) - sb_optimizer_state_bytes(plain), (size_t)(4 * counts.params));
    cr_assert(sb_optimizer_workspace_bytes(plain) > 0);
    sb_optimizer_free(plain);
    sb_optimizer_free(momentum);
    sb_weights_free(&w);
}

/* ---- convergence on a quadratic ------------------------------------------------------------------------------- */

/* loss = 0.5 ||p - target||^2, gradient p - target, over every tensor of a tiny model. */
static double quadratic(const sb_weights *w, const float *target, float *g)
{
    double loss = 0;
    for (size_t i = 0; i < w->num_tensors; i++) {
        const sb_tensor *t = &w->tensors[i];
        const float *p = params(w, i);
        for (int64_t k = 0; k < t->numel; k++) {
            const double d = (double)p[k] - target[t->offset + (size_t)k];
            g[t->offset + (size_t)k] = (float)d;
            loss += 0.5 * d * d;
        }
    }
    return loss;
}

/* plan NULL: the optimizer's own rate (relative-step Adafactor). */
static void converges(const sb_optim_settings *s, const sb_lr_plan *plan, int steps, double factor)
{
    sb_config cfg = base_config(32, 8, 12, 2, 4);
    sb_weights w, target;
    test_make_weights(&w, &cfg, SB_DTYPE_F32, 1);
    test_make_weights(&target, &cfg, SB_DTYPE_F32, 2);
    float *tp = target.arena;
    for (size_t k = 0; k < arena_floats(&target); k++)
        tp[k] *= 0.5f; /* the RMSNorm weights differ too */
    float *g = calloc(arena_floats(&w), sizeof *g);
    sb_optimizer *opt = create_ok(&w, s);
    const double initial = quadratic(&w, tp, g);
    double loss = initial;
    for (int step = 1; step <= steps; step++) {
        const double lr = plan != NULL ? sb_lr_at(plan, step) : SB_OPTIM_LR_DEFAULT;
        step_ok(opt, &w, g, lr);
        loss = quadratic(&w, tp, g);
    }
    cr_assert(loss < initial * factor, "%s: loss %g from %g after %d steps", sb_optim_name(s->kind), loss, initial,
              steps);
    free(g);
    sb_optimizer_free(opt);
    sb_weights_free(&w);
    sb_weights_free(&target);
}

Test(optim_converge, quadratic)
{
    sb_optim_settings s;
    sb_optim_defaults(SB_OPTIM_ADAFACTOR, &s);
    converges(&s, NULL, 800, 1e-3); /* T5's relative step */
    s.lr = 1e-2;
    s.scale_parameter = false;
    const sb_lr_plan rsqrt = {SB_LR_INVERSE_SQRT, 0.05 / sqrt(10), 10, 800, 0};
    converges(&s, &rsqrt, 800, 1e-3); /* external lr on a schedule */
    const sb_lr_plan cosine = {SB_LR_COSINE, 0.05 / sqrt(10), 10, 800, 0};
    converges(&s, &cosine, 800, 1e-3);
    sb_optim_defaults(SB_OPTIM_ADAMW, &s);
    s.weight_decay = 0;
    const sb_lr_plan adamw = {SB_LR_INVERSE_SQRT, 0.2 / sqrt(10), 10, 800, 0};
    converges(&s, &adamw, 800, 1e-3);
}

/* ---- settings and errors -------------------------------------------------------------------------------------- */

Test(optim_errors, refused_inputs)
{
    sb_error err = {{0}};
    sb_optim_kind kind;
    cr_assert_eq(sb_optim_parse("adafactor", &kind, &err), 0);
    cr_assert_eq(kind, SB_OPTIM_ADAFACTOR);
    cr_assert_eq(sb_optim_parse("AdamW", &kind, &err), 0);
    cr_assert_eq(kind, SB_OPTIM_ADAMW);
    cr_assert_eq(sb_optim_parse("sgd", &kind, &err), -1);
    cr_assert(strstr(err.msg, "sgd") != NULL, "%s", err.msg);

    sb_optim_settings s;
    sb_optim_defaults(SB_OPTIM_ADAFACTOR, &s);
    cr_assert(s.lr == 0 && s.beta1 == 0 && s.eps == 1e-30 && s.eps_scale == 1e-3 && s.clip_threshold == 1.0 &&
              s.decay_rate == -0.8 && s.weight_decay == 0 && s.scale_parameter && !s.warmup_init);
    sb_optim_defaults(SB_OPTIM_ADAMW, &s);
    cr_assert(s.lr == 1e-3 && s.beta1 == 0.9 && s.beta2 == 0.999 && s.eps == 1e-8 && s.weight_decay == 1e-2);

    sb_config cfg = base_config(8, 4, 4, 1, 4);
    sb_weights w, bf, other;
    test_make_weights(&w, &cfg, SB_DTYPE_F32, 1);
    sb_optimizer *opt = NULL;
    cr_assert_eq(sb_weights_alloc(&bf, &cfg, SB_DTYPE_BF16, &err), 0);
    cr_assert_eq(sb_optimizer_create(&opt, &bf, &s, &err), -1);
    cr_assert(strstr(err.msg, "bf16") != NULL, "%s", err.msg);
    cr_assert_null(opt);
    s.beta2 = 1.0;
    cr_assert_eq(sb_optimizer_create(&opt, &w, &s, &err), -1);
    cr_assert(strstr(err.msg, "beta2") != NULL, "%s", err.msg);

    sb_optim_defaults(SB_OPTIM_ADAFACTOR, &s);
    s.clip_threshold = 0;
    cr_assert_eq(sb_optimizer_create(&opt, &w, &s, &err), -1);
    cr_assert(strstr(err.msg, "clip_threshold") != NULL, "%s", err.msg);
    sb_optim_defaults(SB_OPTIM_ADAFACTOR, &s);
    opt = create_ok(&w, &s);
    float *g = calloc(arena_floats(&w), sizeof *g);
    /* relative step + an explicit lr: refused as HF refuses it */
    cr_assert_eq(sb_optimizer_step(opt, &w, g, 1e-3, &err), -1);
    cr_assert(strstr(err.msg, "relative") != NULL, "%s", err.msg);
    cr_assert_eq(sb_optimizer_step(opt, &w, NULL, SB_OPTIM_LR_DEFAULT, &err), -1);
    cfg.num_layers = 2;
    test_make_weights(&other, &cfg, SB_DTYPE_F32, 1);
    cr_assert_eq(sb_optimizer_step(opt, &other, g, SB_OPTIM_LR_DEFAULT, &err), -1);
    cr_assert(strstr(err.msg, "not the weights") != NULL, "%s", err.msg);
    cr_assert_eq(sb_optimizer_steps(opt), 0);
    step_ok(opt, &w, g, SB_OPTIM_LR_DEFAULT);
    cr_assert_eq(sb_optimizer_steps(opt), 1);
    free(g);
    sb_optimizer_free(opt);
    sb_optimizer_free(NULL);
    sb_weights_free(&w);
    sb_weights_free(&bf);
    sb_weights_free(&other);
}

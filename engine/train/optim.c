/* optim.c — training optimizers over the weight arena: Adafactor as T5 trains with it, AdamW, global
 * gradient-norm clipping and learning-rate schedules.
 *
 * Adafactor follows Hugging Face transformers' `transformers.optimization.Adafactor.step` step by step
 * (src/transformers/optimization.py, huggingface/transformers; itself from fairseq's adafactor.py), for
 * each parameter p with gradient g:
 *     step += 1;  RMS = ||p|| / sqrt(numel)                                  (before the update)
 *     rel = relative_step ? min(warmup_init ? 1e-6 * step : 1e-2, 1 / sqrt(step)) : lr
 *     lr_t = rel * (scale_parameter ? max(eps[1], RMS) : 1)                  (_get_lr)
 *     beta2t = 1 - step^decay_rate;  u = g^2 + eps[0]
 *     factored (ndim >= 2):  row = beta2t * row + (1 - beta2t) * mean(u, dim=-1)
 *                            col = beta2t * col + (1 - beta2t) * mean(u, dim=-2)
 *                            u = rsqrt(row / mean(row))[:, None] * rsqrt(col)[None, :] * g   (_approx_sq_grad)
 *     otherwise:             v = beta2t * v + (1 - beta2t) * u;  u = rsqrt(v) * g
 *     u /= max(RMS(u) / clip_threshold, 1);  u *= lr_t
 *     beta1: m = beta1 * m + (1 - beta1) * u;  u = m
 *     p += -weight_decay * lr_t * p;  p -= u
 * mean(u) over a row is computed as mean(g^2) + eps[0], the same number. AdamW follows torch.optim.AdamW's
 * single-tensor path (amsgrad off): p *= 1 - lr * wd; m = lerp(m, g, 1 - beta1); v = beta2 v + (1 - beta2)
 * g^2; p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps).
 *
 * State is fp32 (what count's memory figures assume); arithmetic is in double. Reductions split a tensor
 * into at most SB_OPTIM_BLOCKS fixed blocks whose partial sums are added in block order, so the result does
 * not depend on how OpenMP spreads the blocks over threads; inside a block `omp simd` reductions keep the
 * vector order the compiler fixed, the same in every thread. */
#include "engine/train/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Tensors at least this large are split across threads; smaller ones run on the calling thread. */
#define SB_OPTIM_PARALLEL_MIN (INT64_C(1) << 15)
/* Reductions run over at most this many blocks per tensor... */
#define SB_OPTIM_BLOCKS 64
/* ...of at least this many elements for a 1-D view of a tensor. */
#define SB_OPTIM_MIN_BLOCK 1024

struct sb_optimizer {
    sb_optim_settings s;
    size_t num_tensors;
    size_t arena_bytes; /* to recognise the weights the optimizer was created for */
    int64_t steps;
    double last_lr;
    float *state;
    size_t state_floats;
    size_t *state_offset; /* per tensor: its second moments (then its first moment, when any) in state */
    double *scratch;      /* factored tensors: per row block column sums, then the column factors */
    size_t scratch_doubles;
};

/* ---- names, settings --------------------------------------------------------------------------------- */

void sb_optim_defaults(sb_optim_kind kind, sb_optim_settings *out)
{
    memset(out, 0, sizeof *out);
    out->kind = kind;
    if (kind == SB_OPTIM_ADAMW) {
        out->lr = 1e-3;
        out->beta1 = 0.9;
        out->beta2 = 0.999;
        out->eps = 1e-8;
        out->weight_decay = 1e-2;
    } else {
        out->lr = 0; /* relative step */
        out->beta1 = 0;
        out->eps = 1e-30;
        out->eps_scale = 1e-3;
        out->clip_threshold = 1.0;
        out->decay_rate = -0.8;
        out->weight_decay = 0;
        out->scale_parameter = true;
        out->warmup_init = false;
    }
}

const char *sb_optim_name(sb_optim_kind kind)
{
    return kind == SB_OPTIM_ADAMW ? "adamw" : "adafactor";
}

int sb_optim_parse(const char *name, sb_optim_kind *out, sb_error *err)
{
    if (name != NULL && strcasecmp(name, "adafactor") == 0)
        *out = SB_OPTIM_ADAFACTOR;
    else if (name != NULL && strcasecmp(name, "adamw") == 0)
        *out = SB_OPTIM_ADAMW;
    else
        return sb_fail(err, "unknown optimizer '%s' (adafactor or adamw)", name != NULL ? name : "");
    return 0;
}

static int check_settings(const sb_optim_settings *s, sb_error *err)
{
    if (s->kind != SB_OPTIM_ADAFACTOR && s->kind != SB_OPTIM_ADAMW)
        return sb_fail(err, "unknown optimizer kind %d", (int)s->kind);
    const char *name = sb_optim_name(s->kind);
    if (!isfinite(s->lr) || (s->kind == SB_OPTIM_ADAMW && s->lr < 0))
        return sb_fail(err, "%s: learning rate %g must be finite%s", name, s->lr,
                       s->kind == SB_OPTIM_ADAMW ? " and >= 0" : "");
    if (!(s->beta1 >= 0 && s->beta1 < 1))
        return sb_fail(err, "%s: beta1 %g must be in [0, 1)", name, s->beta1);
    if (!(s->eps >= 0) || !isfinite(s->eps))
        return sb_fail(err, "%s: eps %g must be finite and >= 0", name, s->eps);
    if (!(s->weight_decay >= 0) || !isfinite(s->weight_decay))
        return sb_fail(err, "%s: weight_decay %g must be finite and >= 0", name, s->weight_decay);
    if (s->kind == SB_OPTIM_ADAMW) {
        if (!(s->beta2 >= 0 && s->beta2 < 1))
            return sb_fail(err, "adamw: beta2 %g must be in [0, 1)", s->beta2);
        return 0;
    }
    if (!(s->eps_scale >= 0) || !isfinite(s->eps_scale))
        return sb_fail(err, "adafactor: eps_scale %g must be finite and >= 0", s->eps_scale);
    if (!(s->clip_threshold > 0) || !isfinite(s->clip_threshold))
        return sb_fail(err, "adafactor: clip_threshold %g must be finite and > 0", s->clip_threshold);
    if (!(s->decay_rate <= 0) || !isfinite(s->decay_rate))
        return sb_fail(err, "adafactor: decay_rate %g must be finite and <= 0", s->decay_rate);
    if (s->warmup_init && s->lr > 0)
        return sb_fail(err, "adafactor: warmup_init requires the relative step (lr <= 0)");
    return 0;
}

/* ---- blocks ------------------------------------------------------------------------------------------ */

static bool is_factored(const sb_optim_settings *s, const sb_tensor *t)
{
    return s->kind == SB_OPTIM_ADAFACTOR && t->ndim >= 2;
}

/* Row blocks of a factored (rows, cols) tensor. */
static int64_t row_blocks(int64_t rows)
{
    return rows < SB_OPTIM_BLOCKS ? rows : SB_OPTIM_BLOCKS;
}

/* Blocks of a 1-D view of n elements. */
static int64_t flat_blocks(int64_t n)
{
    int64_t b = (n + SB_OPTIM_MIN_BLOCK - 1) / SB_OPTIM_MIN_BLOCK;
    return b < 1 ? 1 : b > SB_OPTIM_BLOCKS ? SB_OPTIM_BLOCKS : b;
}

/* Start of block b of nb over n items. */
static int64_t block_start(int64_t n, int64_t nb, int64_t b)
{
    return n * b / nb; /* n * 64 cannot overflow: n is an allocated tensor */
}

static double sum_in_order(const double *partial, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += partial[i];
    return s;
}

/* Sum of squares of x[0..n), in fixed blocks. */
static double sum_squares(const float *x, int64_t n)
{
    const int64_t nb = flat_blocks(n);
    double partial[SB_OPTIM_BLOCKS];
#pragma omp parallel for if (n >= SB_OPTIM_PARALLEL_MIN) schedule(static)
    for (int64_t b = 0; b < nb; b++) {
        double s = 0;
        const int64_t end = block_start(n, nb, b + 1);
#pragma omp simd reduction(+ : s)
        for (int64_t i = block_start(n, nb, b); i < end; i++)
            s += (double)x[i] * x[i];
        partial[b] = s;
    }
    return sum_in_order(partial, nb);
}

/* ---- create / free ------------------------------------------------------------------------------------- */

int sb_optimizer_create(sb_optimizer **out, const sb_weights *w, const sb_optim_settings *settings, sb_error *err)
{
    *out = NULL;
    if (check_settings(settings, err) != 0)
        return -1;
    if (w->dtype != SB_DTYPE_F32)
        return sb_fail(err, "%s: training needs fp32 weights, %s has %s storage", sb_optim_name(settings->kind),
                       w->cfg.name, sb_dtype_name(w->dtype));
    sb_optimizer *opt = calloc(1, sizeof *opt);
    if (opt == NULL)
        return sb_fail(err, "out of memory for the optimizer");
    opt->s = *settings;
    opt->num_tensors = w->num_tensors;
    opt->arena_bytes = w->arena_bytes;
    opt->state_offset = calloc(w->num_tensors > 0 ? w->num_tensors : 1, sizeof *opt->state_offset);
    if (opt->state_offset == NULL) {
        free(opt);
        return sb_fail(err, "out of memory for the optimizer");
    }
    size_t floats = 0, scratch = 0;
    const bool momentum = settings->kind == SB_OPTIM_ADAMW || settings->beta1 > 0;
    for (size_t i = 0; i < w->num_tensors; i++) {
        const sb_tensor *t = &w->tensors[i];
        opt->state_offset[i] = floats;
        if (is_factored(settings, t)) {
            floats += (size_t)(t->shape[0] + t->shape[1]);
            size_t need = (size_t)((row_blocks(t->shape[0]) + 1) * t->shape[1]);
            if (need > scratch)
                scratch = need;
        } else {
            floats += (size_t)t->numel;
        }
        if (momentum)
            floats += (size_t)t->numel;
    }
    opt->state_floats = floats;
    opt->scratch_doubles = scratch;
    const double bytes = (double)floats * sizeof(float) + (double)scratch * sizeof(double);
    const int64_t available = sb_memory_available_bytes();
    if (bytes > (double)available) {
        free(opt->state_offset);
        free(opt);
        return sb_fail(err, "%s state for %s needs %.1f GiB, %.1f GiB available", sb_optim_name(settings->kind),
                       w->cfg.name, bytes / (1 << 30), (double)available / (1 << 30));
    }
    opt->state = calloc(floats > 0 ? floats : 1, sizeof(float));
    opt->scratch = malloc((scratch > 0 ? scratch : 1) * sizeof(double));
    if (opt->state == NULL || opt->scratch == NULL) {
        sb_optimizer_free(opt);
        return sb_fail(err, "cannot allocate %.1f GiB of %s state for %s", bytes / (1 << 30),
                       sb_optim_name(settings->kind), w->cfg.name);
    }
    *out = opt;
    return 0;
}

void sb_optimizer_free(sb_optimizer *opt)
{
    if (opt == NULL)
        return;
    free(opt->state);
    free(opt->scratch);
    free(opt->state_offset);
    free(opt);
}

int64_t sb_optimizer_steps(const sb_optimizer *opt)
{
    return opt->steps;
}

double sb_optimizer_last_lr(const sb_optimizer *opt)
{
    return opt->last_lr;
}

size_t sb_optimizer_state_bytes(const sb_optimizer *opt)
{
    return opt->state_floats * sizeof(float);
}

size_t sb_optimizer_workspace_bytes(const sb_optimizer *opt)
{
    return opt->scratch_doubles * sizeof(double);
}

/* ---- Adafactor ------------------------------------------------------------------------------------------ */

typedef struct {
    double beta2t;    /* 1 - step^decay_rate */
    double rel;       /* relative or external step size, before parameter scaling */
    double eps1, eps2, clip, wd, beta1;
    bool scale_parameter;
} adafactor_step;

/* One tensor's step from its blocks' sums of squared parameters and of squared unscaled updates (n values):
 * the relative learning rate, scaled by the parameter RMS, over the update-clipping factor; and the
 * decoupled weight decay (-wd * lr). */
static void adafactor_scale(const adafactor_step *a, const double *param_sq, const double *update_sq, int64_t nb,
                            int64_t n, double *scale, double *decay)
{
    const double param_rms = sqrt(sum_in_order(param_sq, nb) / (double)n);
    const double lr = a->rel * (a->scale_parameter ? fmax(a->eps2, param_rms) : 1.0);
    const double clip = fmax(sqrt(sum_in_order(update_sq, nb) / (double)n) / a->clip, 1.0);
    *scale = lr / clip;
    *decay = -a->wd * lr;
}

/* Factored second moments of a (rows, cols) tensor: row[rows], col[cols]; m[numel] the first moment or NULL. */
static void adafactor_factored(const adafactor_step *a, float *p, const float *g, int64_t rows, int64_t cols,
                               float *row, float *col, float *m, double *scratch)
{
    const int64_t n = rows * cols, nb = row_blocks(rows);
    const bool par = n >= SB_OPTIM_PARALLEL_MIN;
    const double b2 = a->beta2t, a2 = 1 - a->beta2t;
    double *col_partial = scratch, *col_factor = scratch + nb * cols;
    double param_sq[SB_OPTIM_BLOCKS], update_sq[SB_OPTIM_BLOCKS];

    /* Row means (complete within a block), per-block column sums, parameter sum of squares. */
#pragma omp parallel for if (par) schedule(static)
    for (int64_t b = 0; b < nb; b++) {
        double *cs = col_partial + b * cols, ps = 0;
        for (int64_t j = 0; j < cols; j++)
            cs[j] = 0;
        for (int64_t i = block_start(rows, nb, b); i < block_start(rows, nb, b + 1); i++) {
            const float *gi = g + i * cols, *pi = p + i * cols;
            double rs = 0;
#pragma omp simd reduction(+ : rs, ps)
            for (int64_t j = 0; j < cols; j++) {
                const double g2 = (double)gi[j] * gi[j];
                rs += g2;
                cs[j] += g2;
                ps += (double)pi[j] * pi[j];
            }
            row[i] = (float)(b2 * row[i] + a2 * (rs / (double)cols + a->eps1));
        }
        param_sq[b] = ps;
    }
    /* Column means from the block sums in block order; the column factors rsqrt(col). */
#pragma omp parallel for if (par) schedule(static)
    for (int64_t j = 0; j < cols; j++) {
        double s = 0;
        for (int64_t b = 0; b < nb; b++)
            s += col_partial[b * cols + j];
        col[j] = (float)(b2 * col[j] + a2 * (s / (double)rows + a->eps1));
        col_factor[j] = 1 / sqrt((double)col[j]);
    }
    double row_mean = 0;
    for (int64_t i = 0; i < rows; i++)
        row_mean += row[i];
    row_mean /= (double)rows;

    /* RMS of the approximated update rsqrt(row / mean(row)) * rsqrt(col) * g. */
#pragma omp parallel for if (par) schedule(static)
    for (int64_t b = 0; b < nb; b++) {
        double us = 0;
        for (int64_t i = block_start(rows, nb, b); i < block_start(rows, nb, b + 1); i++) {
            const float *gi = g + i * cols;
            double s = 0;
#pragma omp simd reduction(+ : s)
            for (int64_t j = 0; j < cols; j++) {
                const double u = col_factor[j] * gi[j];
                s += u * u;
            }
            us += s * (row_mean / row[i]);
        }
        update_sq[b] = us;
    }
    double scale, decay;
    adafactor_scale(a, param_sq, update_sq, nb, n, &scale, &decay);

#pragma omp parallel for if (par) schedule(static)
    for (int64_t i = 0; i < rows; i++) {
        const double r = scale / sqrt(row[i] / row_mean);
        float *pi = p + i * cols;
        const float *gi = g + i * cols;
        if (m == NULL) {
#pragma omp simd
            for (int64_t j = 0; j < cols; j++)
                pi[j] = (float)((double)pi[j] + decay * pi[j] - r * col_factor[j] * gi[j]);
        } else {
            float *mi = m + i * cols;
#pragma omp simd
            for (int64_t j = 0; j < cols; j++) {
                mi[j] = (float)(a->beta1 * mi[j] + (1 - a->beta1) * (r * col_factor[j] * gi[j]));
                pi[j] = (float)((double)pi[j] + decay * pi[j] - mi[j]);
            }
        }
    }
}

/* Unfactored second moment v[n] of a 1-D tensor; m[n] the first moment or NULL. */
static void adafactor_vector(const adafactor_step *a, float *p, const float *g, int64_t n, float *v, float *m)
{
    const int64_t nb = flat_blocks(n);
    const bool par = n >= SB_OPTIM_PARALLEL_MIN;
    const double b2 = a->beta2t, a2 = 1 - a->beta2t;
    double param_sq[SB_OPTIM_BLOCKS], update_sq[SB_OPTIM_BLOCKS];
#pragma omp parallel for if (par) schedule(static)
    for (int64_t b = 0; b < nb; b++) {
        double ps = 0, us = 0;
        const int64_t end = block_start(n, nb, b + 1);
#pragma omp simd reduction(+ : ps, us)
        for (int64_t i = block_start(n, nb, b); i < end; i++) {
            const double gi = g[i];
            v[i] = (float)(b2 * v[i] + a2 * (gi * gi + a->eps1));
            const double u = gi / sqrt((double)v[i]);
            us += u * u;
            ps += (double)p[i] * p[i];
        }
        param_sq[b] = ps;
        update_sq[b] = us;
    }
    double scale, decay;
    adafactor_scale(a, param_sq, update_sq, nb, n, &scale, &decay);
#pragma omp parallel for if (par) schedule(static)
    for (int64_t b = 0; b < nb; b++) {
        const int64_t begin = block_start(n, nb, b), end = block_start(n, nb, b + 1);
        if (m == NULL) {
#pragma omp simd
            for (int64_t i = begin; i < end; i++)
                p[i] = (float)((double)p[i] + decay * p[i] - scale * g[i] / sqrt((double)v[i]));
        } else {
#pragma omp simd
            for (int64_t i = begin; i < end; i++) {
                m[i] = (float)(a->beta1 * m[i] + (1 - a->beta1) * (scale * g[i] / sqrt((double)v[i])));
                p[i] = (float)((double)p[i] + decay * p[i] - m[i]);
            }
        }
    }
}

static void adafactor(sb_optimizer *opt, sb_weights *w, const float *grads, double rel)
{
    const sb_optim_settings *s = &opt->s;
    const double t = (double)opt->steps;
    const adafactor_step a = {
        .beta2t = 1 - pow(t, s->decay_rate),
        .rel = rel,
        .eps1 = s->eps,
        .eps2 = s->eps_scale,
        .clip = s->clip_threshold,
        .wd = s->weight_decay,
        .beta1 = s->beta1,
        .scale_parameter = s->scale_parameter,
    };
    for (size_t i = 0; i < w->num_tensors; i++) {
        const sb_tensor *t = &w->tensors[i];
        float *p = sb_tensor_data(w, t), *state = opt->state + opt->state_offset[i];
        const float *g = grads + t->offset;
        if (is_factored(s, t)) {
            float *m = s->beta1 > 0 ? state + t->shape[0] + t->shape[1] : NULL;
            adafactor_factored(&a, p, g, t->shape[0], t->shape[1], state, state + t->shape[0], m, opt->scratch);
        } else {
            adafactor_vector(&a, p, g, t->numel, state, s->beta1 > 0 ? state + t->numel : NULL);
        }
    }
}

/* ---- AdamW ------------------------------------------------------------------------------------------------ */

static void adamw(sb_optimizer *opt, sb_weights *w, const float *grads, double lr)
{
    const sb_optim_settings *s = &opt->s;
    const double t = (double)opt->steps;
    const double b1 = s->beta1, b2 = s->beta2;
    const double step_size = lr / (1 - pow(b1, t)), bc2_sqrt = sqrt(1 - pow(b2, t));
    const double keep = 1 - lr * s->weight_decay, eps = s->eps;
    for (size_t i = 0; i < w->num_tensors; i++) {
        const sb_tensor *tn = &w->tensors[i];
        const int64_t n = tn->numel;
        float *p = sb_tensor_data(w, tn), *m = opt->state + opt->state_offset[i], *v = m + n;
        const float *g = grads + tn->offset;
        const int64_t nb = flat_blocks(n);
#pragma omp parallel for if (n >= SB_OPTIM_PARALLEL_MIN) schedule(static)
        for (int64_t b = 0; b < nb; b++) {
            const int64_t end = block_start(n, nb, b + 1);
#pragma omp simd
            for (int64_t k = block_start(n, nb, b); k < end; k++) {
                const double gk = g[k];
                m[k] = (float)(m[k] + (1 - b1) * (gk - m[k]));
                v[k] = (float)(b2 * v[k] + (1 - b2) * gk * gk);
                const double denom = sqrt((double)v[k]) / bc2_sqrt + eps;
                p[k] = (float)((double)p[k] * keep - step_size * m[k] / denom);
            }
        }
    }
}

/* ---- step --------------------------------------------------------------------------------------------------- */

int sb_optimizer_step(sb_optimizer *opt, sb_weights *w, const float *grads, double lr, sb_error *err)
{
    const sb_optim_settings *s = &opt->s;
    const char *name = sb_optim_name(s->kind);
    if (grads == NULL)
        return sb_fail(err, "%s: no gradients", name);
    if (sb_weights_require_plain(w, name, err) != 0)
        return -1;
    if (w->num_tensors != opt->num_tensors || w->arena_bytes != opt->arena_bytes || w->dtype != SB_DTYPE_F32)
        return sb_fail(err, "%s: these are not the weights the optimizer was created for (%s)", name, w->cfg.name);
    if (isnan(lr) || isinf(lr))
        return sb_fail(err, "%s: learning rate %g is not finite", name, lr);
    const bool relative = s->kind == SB_OPTIM_ADAFACTOR && s->lr <= 0;
    if (relative && lr >= 0)
        return sb_fail(err, "adafactor: a learning rate (%g) cannot combine with the relative step (settings lr <= 0); "
                            "pass SB_OPTIM_LR_DEFAULT",
                       lr);
    if (!relative && lr < 0)
        lr = s->lr;
    const int64_t step = opt->steps + 1;
    if (relative) {
        const double t = (double)step, floor = s->warmup_init ? 1e-6 * t : 1e-2;
        lr = fmin(floor, 1 / sqrt(t));
    }
    opt->steps = step;
    opt->last_lr = lr;
    w->version++;
    if (s->kind == SB_OPTIM_ADAFACTOR)
        adafactor(opt, w, grads, lr);
    else
        adamw(opt, w, grads, lr);
    return 0;
}

/* ---- gradient clipping ------------------------------------------------------------------------------------- */

double sb_grad_clip_norm(float *grads, const sb_weights *w, double max_norm)
{
    double total = 0;
    for (size_t i = 0; i < w->num_tensors; i++)
        total += sum_squares(grads + w->tensors[i].offset, w->tensors[i].numel);
    const double norm = sqrt(total);
    if (!isfinite(norm) || !(max_norm > 0))
        return norm;
    const double coef = max_norm / (norm + 1e-6);
    if (coef < 1) {
        const float c = (float)coef;
        for (size_t i = 0; i < w->num_tensors; i++) {
            float *g = grads + w->tensors[i].offset;
            const int64_t n = w->tensors[i].numel;
#pragma omp parallel for simd if (parallel : n >= SB_OPTIM_PARALLEL_MIN) schedule(static)
            for (int64_t k = 0; k < n; k++)
                g[k] *= c;
        }
    }
    return norm;
}

/* ---- learning-rate schedules ---------------------------------------------------------------------------------- */

double sb_lr_inverse_sqrt(int64_t step, int64_t warmup_steps, double base)
{
    int64_t t = step > warmup_steps ? step : warmup_steps;
    return base / sqrt((double)(t > 1 ? t : 1));
}

double sb_lr_at(const sb_lr_plan *plan, double t)
{
    const double w = plan->warmup;
    if (t < w)
        return plan->peak * fmax(t, 0) / w;
    switch (plan->schedule) {
    case SB_LR_INVERSE_SQRT: {
        const double knee = w > 0 ? w : 1; /* without a warmup the decay starts at t = 1 */
        return t > knee ? plan->peak * sqrt(knee / t) : plan->peak;
    }
    case SB_LR_COSINE: {
        const double span = plan->length - w, done = span > 0 ? fmin((t - w) / span, 1) : 1;
        return plan->peak * (plan->floor + (1 - plan->floor) * 0.5 * (1 + cos(M_PI * done)));
    }
    case SB_LR_CONSTANT: break;
    }
    return plan->peak;
}

const char *sb_lr_schedule_name(sb_lr_schedule schedule)
{
    static const char *const names[] = {"constant", "inverse_sqrt", "cosine"};
    return schedule >= SB_LR_CONSTANT && schedule <= SB_LR_COSINE ? names[schedule] : "?";
}

int sb_lr_schedule_parse(const char *name, sb_lr_schedule *out, sb_error *err)
{
    if (name != NULL && strcasecmp(name, "constant") == 0)
        *out = SB_LR_CONSTANT;
    else if (name != NULL && (strcasecmp(name, "inverse_sqrt") == 0 || strcasecmp(name, "rsqrt") == 0))
        *out = SB_LR_INVERSE_SQRT;
    else if (name != NULL && strcasecmp(name, "cosine") == 0)
        *out = SB_LR_COSINE;
    else
        return sb_fail(err, "unknown learning-rate schedule '%s' (constant, inverse_sqrt or cosine)",
                       name != NULL ? name : "");
    return 0;
}

/* train.h — training: one step of forward, losses and the gradient of every parameter (trainer), and the
 * optimizers and learning-rate schedules that update the weights with them (optim.c).
 *
 * Depends on kernels/, weights/, exec/, variants/ and common/.
 */
#ifndef SHAPEBENCH_TRAIN_H
#define SHAPEBENCH_TRAIN_H

#include "engine/kernels/kernels.h"
#include "engine/weights/weights.h"

/* ---- optimizer ---------------------------------------------------------------------------------------- */

/* Training optimizers over the weight arena (fp32 storage only). Gradients come as one float array laid out
 * like the arena: grads[t->offset + i] is the gradient of element i of tensor t, w->arena_bytes / 4 floats
 * in all (padding between tensors ignored). Every reduction (parameter and update RMS, factored row/column
 * means, the gradient norm) runs over fixed blocks of a tensor summed in a fixed order in double, so
 * results are bitwise identical whatever the thread count. Tensors of 32768 elements or more are split
 * across the OpenMP threads; smaller ones run on the calling thread. */
typedef enum { SB_OPTIM_ADAFACTOR = 0, SB_OPTIM_ADAMW = 1 } sb_optim_kind;

/*   Adafactor — Hugging Face transformers.optimization.Adafactor (Shazeer & Stern 2018), T5's optimizer.
 *     lr <= 0: relative step (relative_step=True): step size min(1e-2, 1/sqrt(step)) (warmup_init:
 *     min(1e-6 * step, 1/sqrt(step))), T5's inverse-square-root schedule with 10k warmup built in; lr > 0:
 *     that external learning rate (relative_step=False). Either is multiplied by max(eps_scale, RMS(param))
 *     when scale_parameter. Second moments are factored (one running mean per row and per column) for every
 *     2-D tensor, every Switch expert matrix, router and position-bias table included, and kept whole for
 *     1-D ones; beta2_t = 1 - step^decay_rate; the update is divided by max(1, RMS(update) /
 *     clip_threshold); beta1 > 0 adds a first moment over the scaled update (numel more floats; T5: none);
 *     weight_decay: p -= weight_decay * step_size * p. eps = eps[0] (added to squared gradients),
 *     eps_scale = eps[1]. beta2 is unused.
 *   AdamW — torch.optim.AdamW (amsgrad=False): p *= 1 - lr * weight_decay; m, v running means with
 *     betas (beta1, beta2); p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps).
 * sb_optim_defaults gives T5's Adafactor (lr 0, beta1 0, eps 1e-30, eps_scale 1e-3, clip_threshold 1,
 * decay_rate -0.8, weight_decay 0, scale_parameter, no warmup_init) and torch's AdamW (lr 1e-3, betas
 * 0.9 / 0.999, eps 1e-8, weight_decay 1e-2). */
typedef struct {
    sb_optim_kind kind;
    double lr;              /* the learning rate when a step passes SB_OPTIM_LR_DEFAULT; Adafactor <= 0: relative */
    double beta1;           /* AdamW first-moment decay; Adafactor momentum, 0 = none */
    double beta2;           /* AdamW second-moment decay */
    double eps;             /* AdamW denominator epsilon; Adafactor eps[0] */
    double weight_decay;
    double eps_scale;       /* Adafactor eps[1]: floor of RMS(param) in the step size */
    double clip_threshold;  /* Adafactor update clipping */
    double decay_rate;      /* Adafactor: beta2_t = 1 - step^decay_rate (<= 0) */
    bool scale_parameter;   /* Adafactor: step size times max(eps_scale, RMS(param)) */
    bool warmup_init;       /* Adafactor relative step: min(1e-6 * step, 1/sqrt(step)) */
} sb_optim_settings;

typedef struct sb_optimizer sb_optimizer;

/* Pass as a step's lr to use settings.lr (and, for relative-step Adafactor, its own step size). */
#define SB_OPTIM_LR_DEFAULT (-1.0)

void sb_optim_defaults(sb_optim_kind kind, sb_optim_settings *out);
const char *sb_optim_name(sb_optim_kind kind); /* "adafactor" | "adamw" */
int sb_optim_parse(const char *name, sb_optim_kind *out, sb_error *err);

/* Validates the settings and allocates the whole state, zeroed, for w's tensor table (refused when it
 * would not fit in available memory). Nothing is allocated by later steps. */
int sb_optimizer_create(sb_optimizer **out, const sb_weights *w, const sb_optim_settings *settings, sb_error *err);
void sb_optimizer_free(sb_optimizer *opt);
/* One step over every tensor of w (the weights the optimizer was created for) with `grads` laid out like
 * the arena. lr >= 0: this step's learning rate (a schedule's value; refused by relative-step Adafactor,
 * as Hugging Face refuses lr with relative_step); SB_OPTIM_LR_DEFAULT (any negative): settings.lr. The
 * step counter is internal and starts at 1. grads is not modified. */
int sb_optimizer_step(sb_optimizer *opt, sb_weights *w, const float *grads, double lr, sb_error *err);
int64_t sb_optimizer_steps(const sb_optimizer *opt);   /* steps taken */
/* The learning rate of the last step before parameter scaling (relative Adafactor: min(1e-2, 1/sqrt(t))). */
double sb_optimizer_last_lr(const sb_optimizer *opt);
/* Bytes of optimizer state (moments): equals sb_count's memory_bytes.optimizer_adafactor (Adafactor with
 * beta1 = 0) or optimizer_adamw for the same config. */
size_t sb_optimizer_state_bytes(const sb_optimizer *opt);
/* Bytes of step scratch besides the state (column partial sums of the largest factored tensor). */
size_t sb_optimizer_workspace_bytes(const sb_optimizer *opt);

/* Global L2 norm of every tensor's gradient, as torch.nn.utils.clip_grad_norm_: when max_norm > 0 and
 * max_norm / (norm + 1e-6) < 1, every gradient is multiplied by that factor. Returns the norm before
 * clipping; a non-finite norm is returned with the gradients untouched (skip the step). */
double sb_grad_clip_norm(float *grads, const sb_weights *w, double max_norm);

/* Learning-rate schedules; step counts from 1 (the step about to be taken). */
typedef enum { SB_LR_CONSTANT = 0, SB_LR_INVERSE_SQRT = 1, SB_LR_COSINE = 2 } sb_lr_schedule;
/* T5's: base / sqrt(max(step, warmup_steps, 1)), constant during warmup. base 1, warmup 10^4 gives
 * min(1e-2, 1/sqrt(step)), relative-step Adafactor's step size. */
double sb_lr_inverse_sqrt(int64_t step, int64_t warmup_steps, double base);
/* A schedule over a run of known length: a linear warmup to `peak` over the first `warmup` units (the rate at
 * t is peak * t / warmup), then
 *   constant: peak;
 *   inverse_sqrt: peak * sqrt(warmup / t) (without a warmup: peak / sqrt(t));
 *   cosine: half a cosine period from peak at the end of the warmup down to floor * peak at `length`, floor * peak
 *   after it.
 * t, warmup and length are in one unit: steps, or seconds for a run with a wall-clock budget. */
typedef struct {
    sb_lr_schedule schedule;
    double peak;
    double warmup, length;
    double floor; /* cosine: the final rate as a fraction of the peak */
} sb_lr_plan;
double sb_lr_at(const sb_lr_plan *plan, double t);
const char *sb_lr_schedule_name(sb_lr_schedule schedule); /* "constant" | "inverse_sqrt" | "cosine" */
int sb_lr_schedule_parse(const char *name, sb_lr_schedule *out, sb_error *err);

/* ---- training ---------------------------------------------------------------------------------------- */

/* One training step: encoder + teacher-forced decoder forward keeping every activation the backward needs
 * (one arena sized up front by sb_plan_train_activations, equal to count's activations_train), the loss,
 * and the gradient of every parameter. Semantics of Hugging Face T5 / SwitchTransformers training:
 *   - dropout (training only) where HF applies it: embedding output, attention probabilities, each
 *     sublayer's output before its residual add, the FFN activation (experts' too), the final RMSNorm
 *     output of each stack; torch's inverted scaling 1 / (1 - rate). Masks come from a counter-based RNG
 *     (seed, stream, site, element): deterministic, thread-count independent, regenerated in the backward.
 *   - Switch: fp32 router, top-1, gate = max probability times the expert output; the first `capacity`
 *     tokens per sequence and expert kept, dropped tokens contribute 0 (the residual passes them on; no
 *     gradient reaches the experts or the gate for them). In training the router input is multiplied by
 *     U(1 - router_jitter_noise, 1 + router_jitter_noise) (the router's only, as the paper / T5X).
 *   - losses: cross_entropy = mean over labels != -100 (CrossEntropyLoss); per stack with sparse blocks,
 *     HF concatenates the blocks' router logits along the sequence: z = mean over blocks and tokens of
 *     logsumexp(logits)^2, load balancing = E^2 * mean over (sequence, expert) of f * P, f = fraction of the
 *     sequence's routed tokens (all its sparse blocks together, padding included) whose expert index is e,
 *     P = mean router probability of e; HF's expert index is the capacity-masked argmax, so a dropped token
 *     counts as expert 0 (lb_choice_before_capacity: the router's choice instead, as the paper). z_loss and
 *     load_balancing_loss are the encoder's plus the decoder's; total = cross_entropy + z_coef * z_loss +
 *     aux_coef * load_balancing_loss. (HF v4.40.2 skips a stack whose sparse step is 1; shapebench does
 *     not.)
 * Precision: fp32, or — x computing in bf16 — mixed precision as T5 and Switch were trained: the fp32
 * weights stay the master copy (the optimizer updates them), every linear layer's and the attention core's
 * products take bf16 operands (the weights' bf16 copy, remade when w->version moves; activations rounded as
 * they enter a product) with fp32 accumulation, and the weight gradients, norms, softmax, residual sums,
 * losses and the Switch router stay fp32.
 * Weights must be fp32 storage; the trainer reads them at every step, so an optimizer may update them in
 * place between steps. */
typedef struct sb_trainer sb_trainer;

typedef struct {
    double dropout_rate;         /* < 0: 0.1, T5's and Switch's dropout_rate (sb_config has no such key) */
    uint64_t dropout_seed;       /* with the stream (one per training call) and the site: every mask */
    double router_z_loss_coef;   /* < 0: the config's (HF default 0.001) */
    double router_aux_loss_coef; /* < 0: the config's (HF default 0.001) */
    bool lb_choice_before_capacity; /* load balancing counts the router's choice, not HF's masked index */
} sb_trainer_options;

/* dropout_rate, router coefficients -1 (the defaults above), seed 0, HF's load-balancing mask. */
void sb_trainer_options_default(sb_trainer_options *out);

/* Trainer for exactly (batch, src_len, tgt_len); options NULL: the defaults. Allocates the activation arena
 * and the gradient array (w->arena_bytes / 4 floats); nothing is allocated by later calls. Every product runs
 * in x, which must outlive the trainer (bf16 products: also the weights' bf16 copy, w->arena_bytes / 2).
 * Fails for bf16 weight storage and when the memory is not available. */
int sb_trainer_create(sb_trainer **out, sb_exec *x, const sb_weights *w, int64_t batch, int64_t src_len,
                      int64_t tgt_len, const sb_trainer_options *options, sb_error *err);
void sb_trainer_free(sb_trainer *t);

typedef struct {
    const int32_t *input_ids;         /* (batch, src_len) */
    const int32_t *attention_mask;    /* (batch, src_len), 0 = padding; NULL: all ones */
    const int32_t *decoder_input_ids; /* (batch, tgt_len) */
    const int32_t *labels;            /* (batch, tgt_len), -100 ignored; at least one not ignored */
} sb_train_batch;

typedef struct {
    double cross_entropy;       /* mean over the counted labels */
    double z_loss;              /* Switch router z-loss, encoder + decoder (0 for dense models) */
    double load_balancing_loss; /* Switch load-balancing loss, encoder + decoder (0 for dense models) */
    double total;               /* cross_entropy + z_coef * z_loss + aux_coef * load_balancing_loss */
    int64_t label_tokens;       /* labels counted */
} sb_train_losses;

/* Forward + backward. training: dropout and router jitter on (each such call draws from the current
 * dropout stream, then advances it). Gradients of `total` overwrite the gradient array, or add to it when
 * accumulate (gradient accumulation: the caller scales). */
int sb_trainer_step(sb_trainer *t, const sb_train_batch *batch, bool training, bool accumulate, sb_train_losses *out,
                    sb_error *err);
/* The forward and the losses only (evaluation, finite differences); gradients untouched. */
int sb_trainer_loss(sb_trainer *t, const sb_train_batch *batch, bool training, sb_train_losses *out, sb_error *err);

/* Gradients laid out like the weight arena: grads[tensor->offset + i] is the gradient of element i of the
 * tensor (padding between tensors 0), sb_trainer_grad_floats() = w->arena_bytes / 4 floats. The mutable
 * view is for in-place clipping (sb_grad_clip_norm). */
const float *sb_trainer_grads(const sb_trainer *t);
float *sb_trainer_grads_mutable(sb_trainer *t);
size_t sb_trainer_grad_floats(const sb_trainer *t);
/* (batch, tgt_len, vocab) logits of the last sb_trainer_loss (sb_trainer_step turns them into their
 * gradient). */
const float *sb_trainer_logits(const sb_trainer *t);
/* sb_plan_train_activations(...).total_bytes: the activation arena allocated. */
size_t sb_trainer_activation_bytes(const sb_trainer *t);
/* The dropout rate in use, and the stream the next training call draws its masks from (set it to replay a
 * step's masks exactly). */
double sb_trainer_dropout_rate(const sb_trainer *t);
void sb_trainer_set_dropout_stream(sb_trainer *t, uint64_t stream);
uint64_t sb_trainer_dropout_stream(const sb_trainer *t);

/* Routing of sparse block `index` (encoder blocks first, in order) in the last forward; -1 past the last. */
typedef struct {
    sb_stack stack;
    int64_t block;
    int64_t tokens, kept;  /* batch * len tokens routed; kept within capacity */
    const int32_t *choice; /* (tokens) argmax expert before capacity */
    const int32_t *slot;   /* (tokens) row among the kept tokens, -1 when dropped */
    const float *logits;   /* (tokens, E) router logits (after jitter when training) */
} sb_train_routing;
size_t sb_trainer_num_sparse(const sb_trainer *t);
int64_t sb_trainer_num_experts(const sb_trainer *t);
int sb_trainer_routing(const sb_trainer *t, size_t index, sb_train_routing *out);

#endif

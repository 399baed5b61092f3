/* probe.c — the quality probe: train one shape on the Brown corpus with T5's span corruption for a FLOPs or
 * wall-clock budget, then measure its held-out loss. Together with the speed records this gives the
 * frontier its y-axis: quality per unit of cost, measured here rather than quoted. */
#include "probe/probe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void sb_probe_recipe_default(sb_probe_recipe *r)
{
    memset(r, 0, sizeof *r);
    r->optimizer = SB_OPTIM_ADAFACTOR;
    r->schedule = SB_LR_INVERSE_SQRT;
    r->peak_lr = 1e-2;
    r->warmup_fraction = 0.05;
    r->floor = 0;
    r->dropout = 0;
}

void sb_probe_settings_default(sb_probe_settings *s)
{
    memset(s, 0, sizeof *s);
    s->batch = 8;
    s->src_len = 128;
    s->budget_kind = SB_BUDGET_FLOPS;
    s->budget = 2e12;
    s->curve_points = 8;
    sb_probe_recipe_default(&s->recipe);
    s->eval_examples = 256;
    s->max_steps = 100000;
    s->threads = 0;
    s->gemm = SB_GEMM_ONEDNN; /* trains faster than OpenBLAS held to its Haswell kernels (README) */
    s->compute = SB_DTYPE_F32;
}

double sb_probe_curve_fraction(int k, int n)
{
    return ldexp(1.0, k - n + 1);
}

const char *sb_budget_kind_name(sb_budget_kind kind)
{
    return kind == SB_BUDGET_FLOPS ? "flops" : "seconds";
}

int sb_probe_config(const char *name, int32_t vocab_size, sb_config *out, sb_error *err)
{
    if (sb_config_resolve(name, out, NULL, NULL, err) != 0)
        return -1;
    /* The corpus's SentencePiece vocabulary with T5's sentinels at its top replaces the 32k one: the
     * shape's body is what the probe compares, and a 32k table would dominate every small model. */
    out->vocab_size = vocab_size;
    return sb_config_validate(out, err);
}

/* Mean cross-entropy over every counted label token of the first eval_examples held-out examples. */
static int heldout_loss(sb_trainer *t, const sb_corpus *corpus, const sb_probe_settings *s, sb_span_batch *batch,
                        double *loss, int64_t *tokens, sb_error *err)
{
    sb_span_batcher held;
    if (sb_span_batcher_init(&held, &corpus->heldout_ids, corpus->vocab_size, s->src_len, s->batch, SB_HELDOUT_SEED,
                             false, err) != 0)
        return -1;
    double sum = 0;
    int64_t counted = 0, examples = 0;
    int rc = 0;
    while (examples < s->eval_examples) {
        if ((rc = sb_span_batcher_next(&held, batch, err)) != 0 || batch->rows == 0)
            break;
        /* Rows past eval_examples are ignored like padding, so every model sees the same tokens. */
        for (int64_t r = batch->rows; r-- > 0 && examples + r >= s->eval_examples;)
            for (int64_t j = 0; j < batch->tgt_len; j++)
                batch->labels[r * batch->tgt_len + j] = SB_LABEL_IGNORE;
        examples += batch->rows;
        const sb_train_batch tb = {batch->input_ids, batch->attention_mask, batch->decoder_input_ids, batch->labels};
        sb_train_losses l;
        if ((rc = sb_trainer_loss(t, &tb, false, &l, err)) != 0)
            break;
        sum += l.cross_entropy * (double)l.label_tokens;
        counted += l.label_tokens;
    }
    sb_span_batcher_free(&held);
    if (rc != 0)
        return -1;
    if (counted == 0)
        return sb_fail(err, "the held-out split gave no examples of %lld tokens", (long long)s->src_len);
    *loss = sum / (double)counted;
    *tokens = counted;
    return 0;
}

static int check_settings(const sb_probe_settings *s, sb_error *err)
{
    const sb_probe_recipe *r = &s->recipe;
    if (s->curve_points < 1 || s->curve_points > SB_PROBE_CURVE_MAX)
        return sb_fail(err, "%d curve points: 1 to %d", s->curve_points, SB_PROBE_CURVE_MAX);
    if (!(s->budget > 0) || !isfinite(s->budget))
        return sb_fail(err, "the budget %g must be positive", s->budget);
    if (!(r->peak_lr > 0) || !isfinite(r->peak_lr))
        return sb_fail(err, "the peak learning rate %g must be positive", r->peak_lr);
    if (!(r->warmup_fraction >= 0 && r->warmup_fraction < 1))
        return sb_fail(err, "the warmup fraction %g must be in [0, 1)", r->warmup_fraction);
    if (!(r->floor >= 0 && r->floor <= 1))
        return sb_fail(err, "the cosine floor %g must be in [0, 1]", r->floor);
    if (!(r->dropout >= 0 && r->dropout < 1))
        return sb_fail(err, "the dropout rate %g must be in [0, 1)", r->dropout);
    return 0;
}

/* Steps the FLOPs budget buys, or max_steps for a seconds budget. */
static int planned_steps(const sb_config *cfg, const sb_probe_settings *s, double flops_per_step, int64_t *out,
                         sb_error *err)
{
    *out = s->max_steps;
    if (s->budget_kind != SB_BUDGET_FLOPS)
        return 0;
    *out = (int64_t)floor(s->budget / flops_per_step);
    if (*out < 1)
        return sb_fail(err, "a FLOPs budget of %.3g is less than one training step of %s (%.3g FLOPs)", s->budget,
                       cfg->name, flops_per_step);
    if (s->max_steps > 0 && *out > s->max_steps)
        return sb_fail(err, "a FLOPs budget of %.3g is %lld steps of %s, more than the cap of %lld", s->budget,
                       (long long)*out, cfg->name, (long long)s->max_steps);
    return 0;
}

/* A run in progress: what the training loop and the curve points share. */
typedef struct {
    const sb_corpus *corpus;
    const sb_probe_settings *s;
    sb_weights *w;
    sb_trainer *t;
    sb_optimizer *opt;
    sb_span_batcher *train;
    sb_span_batch *batch;
    sb_probe_result *out;
    int64_t planned; /* steps: those of a FLOPs budget, max_steps for a seconds budget */
} probe_run;

/* Whether curve point k is due after the steps and training seconds so far. */
static bool point_due(const probe_run *r, int k)
{
    const double f = sb_probe_curve_fraction(k, r->s->curve_points);
    if (r->s->budget_kind == SB_BUDGET_FLOPS)
        return r->out->steps >= (int64_t)fmax(1, llround(f * (double)r->planned));
    return r->out->train_seconds >= f * r->s->budget;
}

/* Curve point k now; a point at the same step as the one before it repeats that loss. */
static int record_point(probe_run *r, int k, sb_error *err)
{
    sb_probe_result *o = r->out;
    sb_probe_point *p = &o->curve[k];
    *p = (sb_probe_point){sb_probe_curve_fraction(k, r->s->curve_points), o->steps,
                          o->flops_per_step * (double)o->steps, o->train_seconds, NAN};
    if (k > 0 && o->curve[k - 1].steps == o->steps) {
        p->heldout_loss = o->curve[k - 1].heldout_loss;
    } else {
        const double start = sb_now_seconds();
        if (heldout_loss(r->t, r->corpus, r->s, r->batch, &p->heldout_loss, &o->heldout_tokens, err) != 0)
            return -1;
        o->eval_seconds += sb_now_seconds() - start;
    }
    o->curve_points = k + 1;
    if (r->s->on_point != NULL)
        r->s->on_point(r->s->on_point_ctx, p);
    return 0;
}

/* One optimizer step at the plan's rate; its wall time (batch included) counts towards the budget. */
static int train_step(probe_run *r, const sb_lr_plan *plan, sb_error *err)
{
    sb_probe_result *o = r->out;
    const double t0 = sb_now_seconds();
    const bool by_flops = r->s->budget_kind == SB_BUDGET_FLOPS;
    const double lr = sb_lr_at(plan, by_flops ? (double)(o->steps + 1) : o->train_seconds);
    if (sb_span_batcher_next(r->train, r->batch, err) != 0)
        return -1;
    const sb_train_batch tb = {r->batch->input_ids, r->batch->attention_mask, r->batch->decoder_input_ids,
                               r->batch->labels};
    sb_train_losses l;
    if (sb_trainer_step(r->t, &tb, true, false, &l, err) != 0 ||
        sb_optimizer_step(r->opt, r->w, sb_trainer_grads(r->t), lr, err) != 0)
        return -1;
    if (!isfinite(l.total))
        return sb_fail(err, "%s diverged at step %lld (loss %g)", r->w->cfg.name, (long long)o->steps + 1, l.total);
    const double seconds = sb_now_seconds() - t0;
    o->step_seconds[o->steps++] = seconds;
    o->train_seconds += seconds;
    if (o->steps == 1)
        o->train_loss_first = l.cross_entropy;
    o->train_loss_last = l.cross_entropy;
    return 0;
}

static int train_loop(probe_run *r, sb_error *err)
{
    const sb_probe_settings *s = r->s;
    sb_probe_result *o = r->out;
    const double length = s->budget_kind == SB_BUDGET_FLOPS ? (double)r->planned : s->budget;
    const sb_lr_plan plan = {s->recipe.schedule, s->recipe.peak_lr, s->recipe.warmup_fraction * length, length,
                             s->recipe.floor};
    while (o->steps < r->planned && o->curve_points < s->curve_points) {
        if (train_step(r, &plan, err) != 0)
            return -1;
        for (int k = o->curve_points; k < s->curve_points && point_due(r, k); k++)
            if (record_point(r, k, err) != 0)
                return -1;
    }
    /* A seconds budget cut short by max_steps: the points left are measured where it stopped. */
    for (int k = o->curve_points; k < s->curve_points; k++)
        if (record_point(r, k, err) != 0)
            return -1;
    return 0;
}

int sb_probe_train(const sb_corpus *corpus, const sb_config *cfg, const sb_probe_settings *s, sb_probe_result *out,
                   sb_error *err)
{
    memset(out, 0, sizeof *out);
    out->heldout_loss = NAN;
    int64_t raw_len, tgt_len;
    if (check_settings(s, err) != 0 ||
        sb_span_corruption_lengths(s->src_len, SB_NOISE_DENSITY, SB_MEAN_NOISE_SPAN, &raw_len, &tgt_len, err) != 0)
        return -1;
    if (cfg->vocab_size != corpus->vocab_size)
        return sb_fail(err, "%s has vocab_size %lld, the corpus %d: make the config with sb_probe_config", cfg->name,
                       (long long)cfg->vocab_size, (int)corpus->vocab_size);
    const sb_count_settings cs = {s->batch, s->src_len, tgt_len, SB_DTYPE_F32};
    sb_counts counts;
    if (sb_count(cfg, &cs, &counts, err) != 0)
        return -1;
    out->params = counts.params;
    out->tgt_len = tgt_len;
    out->flops_per_step = (double)counts.flops_train_step;
    sb_weights w = {0};
    sb_span_batcher train = {0};
    sb_span_batch batch = {0};
    probe_run run = {corpus, s, &w, NULL, NULL, &train, &batch, out, 0};
    if (planned_steps(cfg, s, out->flops_per_step, &run.planned, err) != 0)
        return -1;
    out->step_seconds = malloc((size_t)(run.planned > 0 ? run.planned : 1) * sizeof(double));
    if (out->step_seconds == NULL)
        return sb_fail(err, "out of memory for %lld step times", (long long)run.planned);

    sb_exec *x = NULL;
    bool have_batcher = false;
    int rc = -1;
    sb_trainer_options options;
    sb_trainer_options_default(&options);
    options.dropout_rate = s->recipe.dropout;
    options.dropout_seed = s->seed;
    /* Every step passes the plan's rate: Adafactor's external step size (relative_step off), which it still
     * multiplies by RMS(param), so T5's relative step 0.01 is the same update as a rate of 0.01 here. */
    sb_optim_settings os;
    sb_optim_defaults(s->recipe.optimizer, &os);
    os.lr = s->recipe.peak_lr;
    sb_exec_settings xs;
    sb_exec_settings_default(&xs);
    xs.backend = s->gemm;
    xs.threads = s->threads;
    xs.compute = s->compute; /* the held-out loss is measured in it too */
    if (sb_exec_create(&x, &xs, err) != 0 || sb_weights_alloc(&w, cfg, SB_DTYPE_F32, err) != 0)
        goto done;
    sb_weights_init_random(&w, s->seed);
    if (sb_trainer_create(&run.t, x, &w, s->batch, s->src_len, tgt_len, &options, err) != 0 ||
        sb_optimizer_create(&run.opt, &w, &os, err) != 0 ||
        sb_span_batch_alloc(&batch, s->batch, s->src_len, tgt_len, err) != 0)
        goto done;
    if (sb_span_batcher_init(&train, &corpus->train_ids, corpus->vocab_size, s->src_len, s->batch, s->seed, true,
                             err) != 0)
        goto done;
    have_batcher = true;
    if (train_loop(&run, err) != 0)
        goto done;
    out->flops = out->flops_per_step * (double)out->steps;
    out->heldout_loss = out->curve[s->curve_points - 1].heldout_loss;
    rc = 0;
done:
    if (have_batcher)
        sb_span_batcher_free(&train);
    sb_span_batch_free(&batch);
    sb_optimizer_free(run.opt);
    sb_trainer_free(run.t);
    sb_weights_free(&w);
    sb_exec_free(x);
    if (rc != 0)
        sb_probe_result_free(out);
    return rc;
}

void sb_probe_result_free(sb_probe_result *r)
{
    free(r->step_seconds);
    r->step_seconds = NULL;
}

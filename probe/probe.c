/* probe.c — the quality probe: train one shape on the Brown corpus with T5's span corruption for a FLOPs or
 * wall-clock budget, then measure its held-out loss. Together with the speed records this gives the
 * frontier its y-axis: quality per unit of cost, measured here rather than quoted. */
#include "probe/probe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void sb_probe_settings_default(sb_probe_settings *s)
{
    memset(s, 0, sizeof *s);
    s->batch = 8;
    s->src_len = 128;
    s->budget_kind = SB_BUDGET_FLOPS;
    s->budget = 2e12;
    s->eval_examples = 256;
    s->max_steps = 100000;
    s->threads = 0;
    s->gemm = SB_GEMM_OPENBLAS;
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

int sb_probe_train(const sb_corpus *corpus, const sb_config *cfg, const sb_probe_settings *s, sb_probe_result *out,
                   sb_error *err)
{
    memset(out, 0, sizeof *out);
    out->heldout_loss = NAN;
    int64_t raw_len, tgt_len;
    if (sb_span_corruption_lengths(s->src_len, SB_NOISE_DENSITY, SB_MEAN_NOISE_SPAN, &raw_len, &tgt_len, err) != 0)
        return -1;
    if (cfg->vocab_size != corpus->vocab_size)
        return sb_fail(err, "%s has vocab_size %lld, the corpus %d: make the config with sb_probe_config", cfg->name,
                       (long long)cfg->vocab_size, (int)corpus->vocab_size);
    const sb_count_settings cs = {s->batch, s->src_len, tgt_len, SB_DTYPE_F32};
    sb_counts counts;
    if (sb_count(cfg, &cs, &counts, err) != 0)
        return -1;
    out->tgt_len = tgt_len;
    out->flops_per_step = (double)counts.flops_train_step;
    int64_t planned_steps = s->max_steps;
    if (s->budget_kind == SB_BUDGET_FLOPS) {
        planned_steps = (int64_t)floor(s->budget / out->flops_per_step);
        if (planned_steps < 1)
            return sb_fail(err, "a FLOPs budget of %.3g is less than one training step of %s (%.3g FLOPs)", s->budget,
                           cfg->name, out->flops_per_step);
        if (s->max_steps > 0 && planned_steps > s->max_steps)
            return sb_fail(err, "a FLOPs budget of %.3g is %lld steps of %s, more than the cap of %lld", s->budget,
                           (long long)planned_steps, cfg->name, (long long)s->max_steps);
    }
    out->step_seconds = malloc((size_t)(planned_steps > 0 ? planned_steps : 1) * sizeof(double));
    if (out->step_seconds == NULL)
        return sb_fail(err, "out of memory for %lld step times", (long long)planned_steps);

    sb_weights w = {0};
    sb_exec *x = NULL;
    sb_trainer *t = NULL;
    sb_optimizer *opt = NULL;
    sb_span_batcher train = {0};
    sb_span_batch batch = {0};
    bool have_batcher = false;
    int rc = -1;
    sb_trainer_options options;
    sb_trainer_options_default(&options);
    options.dropout_seed = s->seed;
    sb_optim_settings os;
    sb_optim_defaults(SB_OPTIM_ADAFACTOR, &os); /* T5's: relative step, factored, update clipping */
    sb_exec_settings xs;
    sb_exec_settings_default(&xs);
    xs.backend = s->gemm;
    xs.threads = s->threads;
    if (sb_exec_create(&x, &xs, err) != 0 || sb_weights_alloc(&w, cfg, SB_DTYPE_F32, err) != 0)
        goto done;
    sb_weights_init_random(&w, s->seed);
    if (sb_trainer_create(&t, x, &w, s->batch, s->src_len, tgt_len, &options, err) != 0 ||
        sb_optimizer_create(&opt, &w, &os, err) != 0 ||
        sb_span_batch_alloc(&batch, s->batch, s->src_len, tgt_len, err) != 0)
        goto done;
    if (sb_span_batcher_init(&train, &corpus->train_ids, corpus->vocab_size, s->src_len, s->batch, s->seed, true,
                             err) != 0)
        goto done;
    have_batcher = true;

    const double start = sb_now_seconds();
    for (int64_t step = 0; step < planned_steps; step++) {
        if (s->budget_kind == SB_BUDGET_SECONDS && sb_now_seconds() - start >= s->budget)
            break;
        const double t0 = sb_now_seconds();
        if (sb_span_batcher_next(&train, &batch, err) != 0)
            goto done;
        const sb_train_batch tb = {batch.input_ids, batch.attention_mask, batch.decoder_input_ids, batch.labels};
        sb_train_losses l;
        if (sb_trainer_step(t, &tb, true, false, &l, err) != 0 ||
            sb_optimizer_step(opt, &w, sb_trainer_grads(t), SB_OPTIM_LR_DEFAULT, err) != 0)
            goto done;
        if (!isfinite(l.total)) {
            sb_fail(err, "%s diverged at step %lld (loss %g)", cfg->name, (long long)step + 1, l.total);
            goto done;
        }
        out->step_seconds[out->steps++] = sb_now_seconds() - t0;
        if (step == 0)
            out->train_loss_first = l.cross_entropy;
        out->train_loss_last = l.cross_entropy;
    }
    out->train_seconds = sb_now_seconds() - start;
    out->flops = out->flops_per_step * (double)out->steps;
    const double eval_start = sb_now_seconds();
    if (heldout_loss(t, corpus, s, &batch, &out->heldout_loss, &out->heldout_tokens, err) != 0)
        goto done;
    out->eval_seconds = sb_now_seconds() - eval_start;
    out->params = counts.params;
    rc = 0;
done:
    if (have_batcher)
        sb_span_batcher_free(&train);
    sb_span_batch_free(&batch);
    sb_optimizer_free(opt);
    sb_trainer_free(t);
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

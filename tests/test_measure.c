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

static int fake_rep(void *ctx, double parts_s[2], sb_error *err)
{
    (void)err;
    fake *f = ctx;
    parts_s[0] = f->parts[0];
    parts_s[1] = f->parts[1];
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
    cr_expect(p.depth[0][0] == 1 && p.depth[0][1] == 4 && p.full[0] == 12);
    cr_expect(p.depth[1][0] == 1 && p.depth[1][1] == 1, "a one-block stack is timed whole");
    cfg.num_experts = 8;
    cfg.encoder_sparse_step = 2;
    cfg.decoder_sparse_step = 2;
    cfg.num_decoder_layers = 12;
    sb_sample_plan_make(&cfg, SB_SAMPLE_PERIODS, &p);
    cr_expect(p.depth[0][0] == 2 && p.depth[0][1] == 8, "Switch: whole periods of dense + sparse blocks");
    sb_config deep;
    sb_sample_config(&cfg, &p, 1, &deep);
    cr_expect(deep.num_layers == 8 && deep.num_decoder_layers == 8);
    cr_expect_eq(sb_num_sparse_blocks(&deep, SB_STACK_ENCODER) * 3, sb_num_sparse_blocks(&cfg, SB_STACK_ENCODER) * 2);
    cfg.num_layers = 6;
    sb_sample_plan_make(&cfg, SB_SAMPLE_PERIODS, &p);
    cr_expect(p.depth[0][0] == 2 && p.depth[0][1] == 6, "capped at the full depth");
    sb_sample_plan_make(&cfg, 2, &p);
    cr_expect(p.depth[1][0] == 2 && p.depth[1][1] == 4, "two periods when four do not fit");
}

/* Synthetic timings affine in depth: the extrapolation recovers the full-depth time exactly and keeps the
 * deep run's spread. */
Test(measure, extrapolation_arithmetic)
{
    cr_expect_float_eq(sb_extrapolate_affine(1, 3.0, 2, 5.0, 12), 25.0, 1e-12);
    cr_expect_float_eq(sb_extrapolate_affine(2, 7.0, 2, 7.0, 2), 7.0, 1e-12);

    sb_sample_plan plan = {.depth = {{1, 2}, {2, 4}}, .full = {24, 12}};
    /* encoder: 0.1 + 0.3 per block; decoder: 0.2 + 0.05 per block; jitter on the deep run */
    double e1[] = {0.4, 0.4, 0.4}, d1[] = {0.3, 0.3, 0.3}, s1[3];
    double e2[] = {0.69, 0.7, 0.71}, d2[] = {0.4, 0.4, 0.4}, s2[3];
    for (int i = 0; i < 3; i++) {
        s1[i] = e1[i] + d1[i];
        s2[i] = e2[i] + d2[i];
    }
    sb_timing shallow = {.samples = s1, .parts = {e1, d1}, .reps = 3};
    sb_timing deep = {.samples = s2, .parts = {e2, d2}, .reps = 3, .warmup = 1};
    sb_timing out;
    sb_error err;
    cr_assert_eq(sb_extrapolate_timing(&plan, &shallow, &deep, &out, &err), 0, "%s", err.msg);
    cr_assert_eq(out.reps, 3);
    double want = (0.1 + 0.3 * 24) + (0.2 + 0.05 * 12);
    cr_expect_float_eq(out.samples[1], want, 1e-9, "%g vs %g", out.samples[1], want);
    cr_expect_float_eq(out.samples[2] - out.samples[0], 0.02, 1e-9, "spread kept");
    cr_expect_float_eq(out.parts[1][0], 0.8, 1e-9);
    sb_timing_free(&out);
    sb_timing empty = {0};
    cr_expect_eq(sb_extrapolate_timing(&plan, &shallow, &empty, &out, &err), -1);
    cr_expect_eq(sb_extrapolate_timing(&plan, &deep, &shallow, &out, &err), -1, "deeper but faster: refused");
    cr_expect(strstr(err.msg, "too noisy") != NULL, "%s", err.msg);
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
    cr_expect(m.plan.depth[0][0] == 1 && m.plan.depth[0][1] == 4 && m.plan.full[0] == 8);
    /* On a loaded machine the two sampled runs may come out in the wrong order: that is refused, and says
     * so; either way the sampled path was taken. */
    if (strstr(m.verdict, "too noisy to extrapolate") == NULL) {
        /* The suite's other tests share the cores: `contended` is as right a verdict as `extrapolated`. */
        cr_assert(strcmp(m.verdict, "extrapolated") == 0 || strncmp(m.verdict, "contended: ", 11) == 0, "%s",
                  m.verdict);
        cr_expect(m.extrapolated && m.measured);
        cr_expect_eq(m.timing.reps, 3);
        cr_expect_gt(m.timing.samples[0], 0);
    }
    sb_measurement_free(&m);
}

/* The work of a stack is exactly affine in depth: the GEMM FLOPs extrapolated from one and two blocks equal
 * the full model's tally. (Time follows the work; benchmarks validate it within 5 %, README.) */
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
        cr_expect(sampled.extrapolated || strstr(sampled.verdict, "too noisy") != NULL, "%s", sampled.verdict);
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

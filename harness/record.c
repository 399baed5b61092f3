/* record.c — one measurement as the JSON record of results/README.md: identity (key), shape facts, the
 * settings, analytic counts, timing, throughput, verdict, memory, counters, roofline and system. */
#include "harness/harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- roofline ------------------------------------------------------------------------------------------ */

/* Forward: one entry per op class of sb_count's executed breakdown, plus the whole repetition. Encode: the
 * encoder's traffic. Generate: the encoder's, the cross K/V projection's (once), and every step's. */
static void put_roofline(cJSON *rec, const sb_config *cfg, const sb_run_settings *s, const sb_measurement *m,
                         const sb_counts *counts, const sb_peaks *peaks, double median_s)
{
    const sb_count_settings cs = {s->batch, s->src_len, s->tgt_len, sb_run_settings_storage(s)};
    const sb_dtype compute = sb_precision_compute(s->precision);
    sb_traffic traffic;
    sb_count_traffic(cfg, &cs, &traffic);
    double encoder_bytes = 0;
    for (int i = 0; i < SB_OP_CLASSES; i++)
        encoder_bytes += traffic.encoder[i];
    sb_record_put(rec, SB_F_ROOFLINE, cJSON_CreateObject());
    double total_bytes = 0;
    if (s->mode == SB_MODE_FORWARD) {
        const double flops[SB_OP_CLASSES] = {
            (double)counts->flops_forward_executed.attention_projections,
            (double)counts->flops_forward_executed.attention_scores, (double)counts->flops_forward_executed.ffn,
            (double)counts->flops_forward_executed.router, (double)counts->flops_forward_executed.lm_head};
        for (int i = 0; i < SB_OP_CLASSES; i++) {
            double bytes = traffic.encoder[i] + traffic.decoder[i];
            total_bytes += bytes;
            if (flops[i] <= 0)
                continue;
            /* Intensity from the full shape's analytic work and traffic; the rate from the engine's profile
             * of the model timed (the sampled one when extrapolated: a block's rate does not depend on how
             * many there are). */
            sb_roofline r = sb_roofline_classify(flops[i], bytes, NAN, peaks, compute);
            r.achieved_gflops = m->op_seconds[i] > 0 && m->op_flops[i] > 0
                                    ? (double)m->op_flops[i] / m->op_seconds[i] / 1e9
                                    : NAN;
            sb_record_put_at(rec, SB_F_ROOFLINE_CLASS, sb_op_class_name((sb_op_class)i), sb_roofline_to_json(&r));
        }
    } else if (s->mode == SB_MODE_ENCODE) {
        total_bytes = encoder_bytes;
    } else {
        total_bytes = encoder_bytes + sb_cross_kv_traffic(cfg, &cs);
        for (int64_t step = 0; step < m->tokens_per_rep; step++)
            total_bytes += sb_generation_step_traffic(cfg, &cs, step);
    }
    sb_roofline whole = sb_roofline_classify((double)m->flops_per_rep, total_bytes, median_s, peaks, compute);
    sb_record_put_at(rec, SB_F_ROOFLINE_CLASS, "total", sb_roofline_to_json(&whole));
    sb_record_put_string(rec, SB_F_ROOFLINE_METHOD,
                         "arithmetic intensity: analytic FLOPs over analytic bytes (weights read once, GEMM inputs "
                         "and outputs once; generate: the decoder's weights, K/V caches and LM head once per step), "
                         "bound against the measured GEMM peak of the compute type and the stream-copy peak; achieved_gflops per op class: the "
                         "GEMM FLOPs executed inside the class's regions over the wall time of those regions (engine "
                         "profile, timed repetitions; of the sampled model when extrapolated); total: the "
                         "repetition's FLOPs over its median time");
}

/* ---- the record ---------------------------------------------------------------------------------------- */

static cJSON *parse_owned(char *text)
{
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    return j;
}

static void put_settings(cJSON *r, const sb_run_settings *s)
{
    sb_record_put_string(r, SB_F_SETTINGS_MODE, sb_mode_name(s->mode));
    sb_record_put_number(r, SB_F_SETTINGS_BATCH, (double)s->batch);
    sb_record_put_number(r, SB_F_SETTINGS_SRC_LEN, (double)s->src_len);
    sb_record_put_number(r, SB_F_SETTINGS_TGT_LEN, (double)s->tgt_len);
    sb_record_put_string(r, SB_F_SETTINGS_DTYPE, sb_precision_name(s->precision));
    sb_record_put_string(r, SB_F_SETTINGS_COMPUTE_DTYPE, sb_dtype_name(sb_precision_compute(s->precision)));
    sb_record_put_string(r, SB_F_SETTINGS_STORAGE_DTYPE, sb_dtype_name(sb_run_settings_storage(s)));
    sb_record_put_number(r, SB_F_SETTINGS_THREADS, sb_run_settings_threads(s));
    sb_record_put_string(r, SB_F_SETTINGS_GEMM, sb_gemm_backend_name(s->gemm));
    sb_record_put_number(r, SB_F_SETTINGS_SEED, (double)s->seed);
    sb_record_put_number(r, SB_F_SETTINGS_WARMUP, (double)s->warmup);
    sb_record_put_number(r, SB_F_SETTINGS_MIN_REPS, (double)s->min_reps);
    sb_record_put_number(r, SB_F_SETTINGS_MIN_TIME_S, s->min_time_s);
    sb_record_put_number(r, SB_F_SETTINGS_MAX_TIME_S, s->max_time_s);
    sb_record_put_bool(r, SB_F_SETTINGS_ALWAYS_SAMPLE, s->always_sample);
}

static cJSON *analytic_json(const sb_config *cfg, const sb_run_settings *s, sb_counts *counts, bool *ok)
{
    sb_count_settings cs = {s->batch, s->src_len, s->tgt_len, sb_run_settings_storage(s)};
    *ok = sb_count(cfg, &cs, counts, NULL) == 0;
    if (!*ok)
        return cJSON_CreateNull();
    cJSON *a = parse_owned(sb_counts_to_json(cfg, &cs, counts));
    /* The name and settings are the record's own fields already. */
    cJSON_DeleteItemFromObjectCaseSensitive(a, "name");
    cJSON_DeleteItemFromObjectCaseSensitive(a, "settings");
    return a;
}

static void put_timing(cJSON *r, const sb_measurement *m, const sb_run_settings *s, const sb_stats *st)
{
    sb_record_put(r, SB_F_TIMING, sb_stats_to_json(st, m->timing.samples));
    sb_record_put_number(r, SB_F_TIMING_WARMUP, (double)m->timing.warmup);
    sb_record_put_number(r, SB_F_TIMING_REPS, (double)m->timing.reps);
    sb_record_put_number(r, SB_F_TIMING_CPU_SHARE, m->cpu_share);
    sb_record_put_number(r, SB_F_TIMING_PREEMPTIONS, (double)m->preemptions);
    sb_record_put_number(r, SB_F_TIMING_PARTS_ENCODER, sb_stats_compute(m->timing.parts[0], m->timing.reps).median);
    sb_record_put_number(r, SB_F_TIMING_PARTS_DECODER, sb_stats_compute(m->timing.parts[1], m->timing.reps).median);
    /* The trainer is not profiled: its blocks' time is unknown. */
    const bool profiled = s->mode != SB_MODE_TRAIN && m->timing.blocks[0] != NULL;
    sb_record_put_number(r, SB_F_TIMING_BLOCKS_ENCODER,
                         profiled ? sb_stats_compute(m->timing.blocks[0], m->timing.reps).median : NAN);
    sb_record_put_number(r, SB_F_TIMING_BLOCKS_DECODER,
                         profiled ? sb_stats_compute(m->timing.blocks[1], m->timing.reps).median : NAN);
    sb_record_put_string(r, SB_F_TIMING_METHOD,
                         "CLOCK_MONOTONIC wall time around sb_encode and then sb_decode (forward) or "
                         "sb_generate_greedy (generate), per repetition; parts split at the encoder's end; "
                         "blocks_median: of each part, the time inside its stack's blocks (engine profile)");
}

static void put_throughput(cJSON *r, const sb_measurement *m, const sb_run_settings *s, const sb_peaks *peaks,
                           double median_s)
{
    const double gflops = (double)m->flops_per_rep / median_s / 1e9;
    sb_record_put_number(r, SB_F_THROUGHPUT_SEQUENCES_PER_S, (double)m->sequences_per_rep / median_s);
    sb_record_put_number(r, SB_F_THROUGHPUT_TOKENS_PER_S, (double)m->tokens_per_rep / median_s);
    sb_record_put_number(r, SB_F_THROUGHPUT_GFLOPS_PER_S, gflops);
    sb_record_put_number(r, SB_F_THROUGHPUT_MS_PER_TOKEN, m->ms_per_token);
    sb_record_put_number(r, SB_F_THROUGHPUT_MFU, sb_mfu(gflops, peaks, sb_precision_compute(s->precision)));
    sb_record_put_number(r, SB_F_THROUGHPUT_FLOPS_PER_REP, (double)m->flops_per_rep);
    sb_record_put_string(r, SB_F_THROUGHPUT_FLOPS_SOURCE, m->flops_source);
    sb_record_put_number(r, SB_F_THROUGHPUT_TOKENS_PER_REP, (double)m->tokens_per_rep);
}

static void put_memory(cJSON *r, const sb_measurement *m)
{
    sb_record_put_number(r, SB_F_MEMORY_PEAK_RSS_BYTES, (double)m->peak_rss_bytes);
    sb_record_put_string(r, SB_F_MEMORY_PEAK_RSS_SCOPE, m->peak_rss_is_measurement ? "measurement" : "process");
    sb_record_put_number(r, SB_F_MEMORY_WEIGHTS_BYTES, (double)m->weights_bytes);
    sb_record_put_number(r, SB_F_MEMORY_WEIGHTS_PACKED_TENSORS, (double)m->packed_tensors);
    sb_record_put_number(r, SB_F_MEMORY_ACTIVATIONS_BYTES, (double)m->activations_bytes);
    sb_record_put_string(r, SB_F_MEMORY_ARENAS_OF, m->extrapolated ? "the sampled model" : "the full model");
    sb_record_put_number(r, SB_F_MEMORY_ESTIMATE_BYTES, (double)m->estimate_bytes);
}

static void put_extrapolation(cJSON *r, const sb_measurement *m)
{
    if (!m->extrapolated) {
        sb_record_put(r, SB_F_EXTRAPOLATION, NULL);
        return;
    }
    sb_record_put_number(r, SB_F_EXTRAPOLATION_SAMPLED_ENCODER, (double)m->plan.depth[SB_STACK_ENCODER]);
    sb_record_put_number(r, SB_F_EXTRAPOLATION_SAMPLED_DECODER, (double)m->plan.depth[SB_STACK_DECODER]);
    sb_record_put_number(r, SB_F_EXTRAPOLATION_FULL_ENCODER, (double)m->plan.full[SB_STACK_ENCODER]);
    sb_record_put_number(r, SB_F_EXTRAPOLATION_FULL_DECODER, (double)m->plan.full[SB_STACK_DECODER]);
    char method[512];
    sb_sample_plan_describe(&m->plan, method, sizeof method);
    sb_record_put_string(r, SB_F_EXTRAPOLATION_METHOD, method);
}

cJSON *sb_record_build(const char *run, const sb_config *cfg, const sb_run_settings *s, const sb_measurement *m,
                       const sb_sysinfo *sys, const sb_peaks *peaks)
{
    char key[SB_KEY_MAX], shape[SB_SHAPE_ID_MAX];
    sb_record_key(cfg, s, key);
    sb_config_identity(cfg, shape);
    cJSON *r = cJSON_CreateObject();
    if (r == NULL)
        return NULL;
    sb_record_put_number(r, SB_F_SCHEMA_VERSION, SB_SCHEMA_VERSION);
    sb_record_put_string(r, SB_F_RUN, run);
    sb_record_put_string(r, SB_F_KEY, key);
    sb_record_put_string(r, SB_F_SHAPE, shape);
    sb_record_put_string(r, SB_F_FAMILY, sb_shape_family(cfg->name));
    sb_record_put_string(r, SB_F_SCALING, sb_shape_scaling(cfg->name));
    sb_record_put(r, SB_F_CONFIG, parse_owned(sb_config_to_json(cfg)));
    put_settings(r, s);
    sb_counts counts;
    bool counted;
    sb_record_put(r, SB_F_ANALYTIC, analytic_json(cfg, s, &counts, &counted));
    double median = NAN;
    if (m->measured) {
        sb_stats st = sb_stats_compute(m->timing.samples, m->timing.reps);
        median = st.median;
        put_timing(r, m, s, &st);
        put_throughput(r, m, s, peaks, median);
    } else {
        sb_record_put(r, SB_F_TIMING, NULL);
        sb_record_put(r, SB_F_THROUGHPUT, NULL);
    }
    sb_record_put_string(r, SB_F_VERDICT, m->verdict);
    put_extrapolation(r, m);
    if (m->measured)
        put_memory(r, m);
    else
        sb_record_put_number(r, SB_F_MEMORY_ESTIMATE_BYTES, (double)m->estimate_bytes);
    if (m->have_counters)
        sb_record_put(r, SB_F_COUNTERS, sb_counters_to_json(&m->counters));
    else
        sb_record_put_string(r, SB_F_COUNTERS_UNAVAILABLE_REASON,
                             m->measured ? m->counters_error : "nothing was timed");
    if (m->measured && counted)
        put_roofline(r, cfg, s, m, &counts, peaks, median);
    else
        sb_record_put(r, SB_F_ROOFLINE, NULL);
    sb_record_put(r, SB_F_SYSTEM, sys ? sb_sysinfo_to_json(sys, peaks) : NULL);
    sb_record_put(r, SB_F_QUALITY, NULL);
    return r;
}

/* record.c — one measurement as the JSON record of results/README.md: identity (key), shape facts, the
 * settings, analytic counts, timing, throughput, verdict, memory, counters, roofline and system. */
#include "harness/harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- roofline ------------------------------------------------------------------------------------------ */

/* Forward: one entry per op class of sb_count's executed breakdown, plus the whole repetition. Encode: the
 * encoder's traffic. Generate: the encoder's, the cross K/V projection's (once), and every step's. */
static cJSON *roofline_json(const sb_config *cfg, const sb_run_settings *s, const sb_measurement *m,
                            const sb_counts *counts, const sb_peaks *peaks, double median_s)
{
    const sb_count_settings cs = {s->batch, s->src_len, s->tgt_len, s->dtype};
    sb_traffic traffic;
    sb_count_traffic(cfg, &cs, &traffic);
    double encoder_bytes = 0;
    for (int i = 0; i < SB_OP_CLASSES; i++)
        encoder_bytes += traffic.encoder[i];
    cJSON *o = cJSON_CreateObject();
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
            sb_roofline r = sb_roofline_classify(flops[i], bytes, NAN, peaks);
            r.achieved_gflops = m->op_seconds[i] > 0 && m->op_flops[i] > 0
                                    ? (double)m->op_flops[i] / m->op_seconds[i] / 1e9
                                    : NAN;
            cJSON_AddItemToObject(o, sb_op_class_name((sb_op_class)i), sb_roofline_to_json(&r));
        }
    } else if (s->mode == SB_MODE_ENCODE) {
        total_bytes = encoder_bytes;
    } else {
        total_bytes = encoder_bytes + sb_cross_kv_traffic(cfg, &cs);
        for (int64_t step = 0; step < m->tokens_per_rep; step++)
            total_bytes += sb_generation_step_traffic(cfg, &cs, step);
    }
    sb_roofline whole = sb_roofline_classify((double)m->flops_per_rep, total_bytes, median_s, peaks);
    cJSON_AddItemToObject(o, "total", sb_roofline_to_json(&whole));
    cJSON_AddStringToObject(o, "method",
                            "arithmetic intensity: analytic FLOPs over analytic bytes (weights read once, GEMM inputs "
                            "and outputs once; generate: the decoder's weights, K/V caches and LM head once per step), bound against the measured sgemm and stream-copy peaks; "
                            "achieved_gflops per op class: the GEMM FLOPs executed inside the class's regions over "
                            "the wall time of those regions (engine profile, timed repetitions; of the sampled "
                            "model when extrapolated); total: the repetition's FLOPs over its median time");
    return o;
}

/* ---- the record ---------------------------------------------------------------------------------------- */

static cJSON *parse_owned(char *text)
{
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    return j;
}

static void add_number_or_null(cJSON *o, const char *name, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, name, v);
    else
        cJSON_AddNullToObject(o, name);
}

static cJSON *settings_json(const sb_run_settings *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "mode", sb_mode_name(s->mode));
    cJSON_AddNumberToObject(o, "batch", (double)s->batch);
    cJSON_AddNumberToObject(o, "src_len", (double)s->src_len);
    cJSON_AddNumberToObject(o, "tgt_len", (double)s->tgt_len);
    cJSON_AddStringToObject(o, "dtype", sb_dtype_name(s->dtype));
    cJSON_AddNumberToObject(o, "threads", sb_run_settings_threads(s));
    cJSON_AddStringToObject(o, "gemm", sb_gemm_backend_name(s->gemm));
    cJSON_AddNumberToObject(o, "seed", (double)s->seed);
    cJSON_AddNumberToObject(o, "warmup", (double)s->warmup);
    cJSON_AddNumberToObject(o, "min_reps", (double)s->min_reps);
    cJSON_AddNumberToObject(o, "min_time_s", s->min_time_s);
    cJSON_AddNumberToObject(o, "max_time_s", s->max_time_s);
    cJSON_AddBoolToObject(o, "always_sample", s->always_sample);
    return o;
}

static cJSON *analytic_json(const sb_config *cfg, const sb_run_settings *s, sb_counts *counts, bool *ok)
{
    sb_count_settings cs = {s->batch, s->src_len, s->tgt_len, s->dtype};
    *ok = sb_count(cfg, &cs, counts, NULL) == 0;
    if (!*ok)
        return cJSON_CreateNull();
    cJSON *a = parse_owned(sb_counts_to_json(cfg, &cs, counts));
    /* The name and settings are the record's own fields already. */
    cJSON_DeleteItemFromObjectCaseSensitive(a, "name");
    cJSON_DeleteItemFromObjectCaseSensitive(a, "settings");
    return a;
}

static cJSON *timing_json(const sb_measurement *m, const sb_run_settings *s, const sb_stats *st)
{
    cJSON *o = sb_stats_to_json(st, m->timing.samples);
    if (o == NULL)
        return NULL;
    cJSON_AddNumberToObject(o, "warmup", (double)m->timing.warmup);
    cJSON_AddNumberToObject(o, "reps", (double)m->timing.reps);
    add_number_or_null(o, "cpu_share", m->cpu_share);
    cJSON_AddNumberToObject(o, "preemptions", (double)m->preemptions);
    cJSON *parts = cJSON_AddObjectToObject(o, "parts_median");
    add_number_or_null(parts, "encoder", sb_stats_compute(m->timing.parts[0], m->timing.reps).median);
    add_number_or_null(parts, "decoder", sb_stats_compute(m->timing.parts[1], m->timing.reps).median);
    /* The trainer is not profiled: its blocks' time is unknown. */
    const bool profiled = s->mode != SB_MODE_TRAIN && m->timing.blocks[0] != NULL;
    cJSON *blocks = cJSON_AddObjectToObject(o, "blocks_median");
    for (int p = 0; p < 2; p++)
        add_number_or_null(blocks, p == 0 ? "encoder" : "decoder",
                           profiled ? sb_stats_compute(m->timing.blocks[p], m->timing.reps).median : NAN);
    cJSON_AddStringToObject(o, "method",
                            "CLOCK_MONOTONIC wall time around sb_encode and then sb_decode (forward) or "
                            "sb_generate_greedy (generate), per repetition; parts split at the encoder's end; "
                            "blocks_median: of each part, the time inside its stack's blocks (engine profile)");
    return o;
}

static cJSON *throughput_json(const sb_measurement *m, const sb_peaks *peaks, double median_s)
{
    cJSON *o = cJSON_CreateObject();
    double gflops = (double)m->flops_per_rep / median_s / 1e9;
    add_number_or_null(o, "sequences_per_s", (double)m->sequences_per_rep / median_s);
    add_number_or_null(o, "tokens_per_s", (double)m->tokens_per_rep / median_s);
    add_number_or_null(o, "gflops_per_s", gflops);
    add_number_or_null(o, "ms_per_token", m->ms_per_token);
    add_number_or_null(o, "mfu", peaks ? sb_mfu(gflops, peaks) : NAN);
    cJSON_AddNumberToObject(o, "flops_per_rep", (double)m->flops_per_rep);
    cJSON_AddStringToObject(o, "flops_source", m->flops_source);
    cJSON_AddNumberToObject(o, "tokens_per_rep", (double)m->tokens_per_rep);
    return o;
}

static cJSON *memory_json(const sb_measurement *m)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "peak_rss_bytes", (double)m->peak_rss_bytes);
    cJSON_AddStringToObject(o, "peak_rss_scope", m->peak_rss_is_measurement ? "measurement" : "process");
    cJSON_AddNumberToObject(o, "weights_bytes", (double)m->weights_bytes);
    cJSON_AddNumberToObject(o, "weights_packed_tensors", (double)m->packed_tensors);
    cJSON_AddNumberToObject(o, "activations_bytes", (double)m->activations_bytes);
    cJSON_AddStringToObject(o, "arenas_of", m->extrapolated ? "the sampled model" : "the full model");
    cJSON_AddNumberToObject(o, "estimate_bytes", (double)m->estimate_bytes);
    return o;
}

static cJSON *extrapolation_json(const sb_measurement *m)
{
    if (!m->extrapolated)
        return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    cJSON *sampled = cJSON_AddObjectToObject(o, "sampled_layers");
    cJSON *full = cJSON_AddObjectToObject(o, "full_layers");
    const char *stacks[2] = {"encoder", "decoder"};
    for (int st = 0; st < 2; st++) {
        cJSON_AddNumberToObject(sampled, stacks[st], (double)m->plan.depth[st]);
        cJSON_AddNumberToObject(full, stacks[st], (double)m->plan.full[st]);
    }
    char method[512];
    sb_sample_plan_describe(&m->plan, method, sizeof method);
    cJSON_AddStringToObject(o, "method", method);
    return o;
}

cJSON *sb_record_build(const char *run, const sb_config *cfg, const sb_run_settings *s, const sb_measurement *m,
                       const sb_sysinfo *sys, const sb_peaks *peaks)
{
    char key[SB_KEY_MAX];
    sb_record_key(cfg->name, s, key);
    cJSON *r = cJSON_CreateObject();
    if (r == NULL)
        return NULL;
    cJSON_AddNumberToObject(r, "schema_version", SB_SCHEMA_VERSION);
    cJSON_AddStringToObject(r, "run", run);
    cJSON_AddStringToObject(r, "key", key);
    cJSON_AddStringToObject(r, "shape", cfg->name);
    cJSON_AddStringToObject(r, "family", sb_shape_family(cfg->name));
    cJSON_AddStringToObject(r, "scaling", sb_shape_scaling(cfg->name));
    cJSON_AddItemToObject(r, "config", parse_owned(sb_config_to_json(cfg)));
    cJSON_AddItemToObject(r, "settings", settings_json(s));
    sb_counts counts;
    bool counted;
    cJSON_AddItemToObject(r, "analytic", analytic_json(cfg, s, &counts, &counted));
    double median = NAN;
    if (m->measured) {
        sb_stats st = sb_stats_compute(m->timing.samples, m->timing.reps);
        median = st.median;
        cJSON_AddItemToObject(r, "timing", timing_json(m, s, &st));
        cJSON_AddItemToObject(r, "throughput", throughput_json(m, peaks, median));
    } else {
        cJSON_AddNullToObject(r, "timing");
        cJSON_AddNullToObject(r, "throughput");
    }
    cJSON_AddStringToObject(r, "verdict", m->verdict);
    cJSON_AddItemToObject(r, "extrapolation", extrapolation_json(m));
    if (m->measured) {
        cJSON_AddItemToObject(r, "memory", memory_json(m));
    } else {
        cJSON *mem = cJSON_AddObjectToObject(r, "memory");
        cJSON_AddNumberToObject(mem, "estimate_bytes", (double)m->estimate_bytes);
    }
    if (m->have_counters) {
        cJSON_AddItemToObject(r, "counters", sb_counters_to_json(&m->counters));
    } else {
        cJSON *c = cJSON_AddObjectToObject(r, "counters");
        cJSON_AddStringToObject(c, "unavailable_reason", m->measured ? m->counters_error : "nothing was timed");
    }
    if (m->measured && counted)
        cJSON_AddItemToObject(r, "roofline", roofline_json(cfg, s, m, &counts, peaks, median));
    else
        cJSON_AddNullToObject(r, "roofline");
    cJSON_AddItemToObject(r, "system", sys ? sb_sysinfo_to_json(sys, peaks) : cJSON_CreateNull());
    cJSON_AddNullToObject(r, "quality");
    return r;
}

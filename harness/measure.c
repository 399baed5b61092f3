/* measure.c — timing one shape in one mode: the adaptive repetition loop, the three modes driven through
 * the engine, the memory gate that refuses before allocating, and the switch to sampled layers for shapes
 * too big or too slow to run whole. */
#include "harness/harness.h"

#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* Tokens a generate warmup decodes (see rep). */
#define SB_GENERATE_WARMUP_TOKENS 8
/* Of the memory available, this share may be planned for: page cache, the C library and OpenBLAS
 * buffers need the rest. */
#define SB_MEMORY_SHARE 0.9

/* ---- one model in one mode ----------------------------------------------------------------------------- */

typedef struct {
    sb_exec *x;              /* the products, their FLOP tally and the profile */
    sb_runtime *rt;
    sb_trainer *trainer;     /* train: forward + backward, then the optimizer updates `weights` */
    sb_optimizer *optimizer;
    sb_weights *weights;
    const sb_run_settings *s;
    int32_t *input_ids, *decoder_ids, *generated;
    double *steps;           /* generate: step latencies of the current repetition */
    int64_t calls;           /* repetitions run so far, warmup included */
    int64_t flops[2];        /* GEMM tally of the last repetition, per part */
    int64_t block_flops[2];  /* of those, the FLOPs inside the part's stack blocks */
    int64_t generated_count; /* generate: tokens of the last repetition */
    /* generate, per timed repetition: the median step latency, and the share of the steps' time spent
     * inside the decoder's blocks */
    double *step_medians, *step_block_shares;
    size_t nstep_medians, step_cap;
    /* Op classes over the timed repetitions (sb_profile's op_seconds and op_flops, summed). */
    double op_seconds[SB_OP_CLASSES];
    int64_t op_flops[SB_OP_CLASSES];
    sb_counters counters;
    bool counters_open;
    sb_error counters_error; /* why there are no counters, when there are none */
} rep_ctx;

static int rep(void *opaque, sb_rep_times *times, sb_error *err)
{
    rep_ctx *c = opaque;
    const sb_run_settings *s = c->s;
    /* Counters cover the timed repetitions only, opened once the warmup has started every thread (they
     * follow the threads that exist at open). */
    if (c->calls == s->warmup) {
        c->counters_open = sb_counters_open(&c->counters, &c->counters_error) == 0;
        if (c->counters_open && sb_counters_start(&c->counters, &c->counters_error) != 0) {
            sb_counters_close(&c->counters);
            c->counters_open = false;
        }
    }
    sb_exec_reset_flops(c->x);
    sb_exec_profile_reset(c->x);
    double t0 = sb_now_seconds();
    if (s->mode == SB_MODE_TRAIN) {
        /* Labels: the decoder inputs themselves; what is learnt does not change the work. */
        const sb_train_batch batch = {c->input_ids, NULL, c->decoder_ids, c->decoder_ids};
        sb_train_losses losses;
        if (sb_trainer_step(c->trainer, &batch, true, false, &losses, err) != 0 ||
            sb_optimizer_step(c->optimizer, c->weights, sb_trainer_grads(c->trainer), SB_OPTIM_LR_DEFAULT, err) != 0)
            return -1;
        times->parts_s[0] = sb_now_seconds() - t0;
        c->flops[0] = sb_exec_flops(c->x);
        c->flops[1] = 0;
        c->calls++;
        return 0;
    }
    if (sb_encode(c->rt, s->batch, s->src_len, c->input_ids, NULL, err) != 0)
        return -1;
    double t1 = sb_now_seconds();
    c->flops[0] = sb_exec_flops(c->x);
    if (s->mode == SB_MODE_FORWARD && sb_decode(c->rt, s->tgt_len, c->decoder_ids, err) != 0)
        return -1;
    /* A generate warmup decodes a few tokens only: every step touches all the decoder's weights and the
     * LM head, which is what a warmup is for, and a full-length one would cost a timed repetition. Its
     * time is scaled to the full length, as it only predicts whether the timed ones fit max_time_s. */
    const bool short_warmup = s->mode == SB_MODE_GENERATE && c->calls < s->warmup;
    const int64_t new_tokens = short_warmup && s->tgt_len > SB_GENERATE_WARMUP_TOKENS ? SB_GENERATE_WARMUP_TOKENS
                                                                                     : s->tgt_len;
    if (s->mode == SB_MODE_GENERATE &&
        (c->generated_count = sb_generate_greedy(c->rt, new_tokens, c->generated, c->steps, err)) < 0)
        return -1;
    double t2 = sb_now_seconds();
    c->flops[1] = sb_exec_flops(c->x) - c->flops[0];
    const sb_profile profile = sb_exec_profile(c->x);
    for (int p = 0; p < 2; p++) {
        times->blocks_s[p] = profile.block_seconds[p];
        c->block_flops[p] = profile.block_flops[p];
    }
    times->parts_s[0] = t1 - t0;
    times->parts_s[1] = t2 - t1;
    if (short_warmup && c->generated_count > 0) {
        times->parts_s[1] *= (double)s->tgt_len / (double)c->generated_count;
        times->blocks_s[1] *= (double)s->tgt_len / (double)c->generated_count;
    }
    if (c->calls >= s->warmup)
        for (int i = 0; i < SB_OP_CLASSES; i++) {
            c->op_seconds[i] += profile.op_seconds[i];
            c->op_flops[i] += profile.op_flops[i];
        }
    if (s->mode == SB_MODE_GENERATE && c->calls >= s->warmup && c->generated_count > 0) {
        if (c->nstep_medians == c->step_cap) {
            size_t n = c->step_cap ? c->step_cap * 2 : 16;
            double *m = realloc(c->step_medians, n * sizeof *m);
            if (m != NULL)
                c->step_medians = m;
            double *shares = realloc(c->step_block_shares, n * sizeof *shares);
            if (shares != NULL)
                c->step_block_shares = shares;
            if (m == NULL || shares == NULL)
                return sb_fail(err, "out of memory");
            c->step_cap = n;
        }
        double steps_s = 0;
        for (int64_t i = 0; i < c->generated_count; i++)
            steps_s += c->steps[i];
        c->step_block_shares[c->nstep_medians] = steps_s > 0 ? profile.step_block_seconds / steps_s : 0;
        c->step_medians[c->nstep_medians++] = sb_stats_compute(c->steps, (size_t)c->generated_count).median;
    }
    c->calls++;
    return 0;
}

/* What one timed run (full or one sampled depth) leaves behind. */
typedef struct {
    sb_timing timing;
    int64_t flops[2], block_flops[2];
    int64_t generated;
    double step_median_s;
    double step_block_share; /* generate: median share of a step's time inside the decoder's blocks */
    double op_seconds[SB_OP_CLASSES];
    int64_t op_flops[SB_OP_CLASSES];
    int64_t weights_bytes, activations_bytes, packed_tensors;
    sb_counters counters; /* values only (no open descriptors) */
    bool have_counters;
    sb_error counters_error;
} run_result;

static void fill_ids(int32_t *ids, int64_t n, int64_t vocab, uint64_t seed)
{
    /* Token ids do not change the work of a dense model; for Switch they set the routing, so they are
     * random (fixed by the seed) rather than one repeated token that would send everything to one expert. */
    uint64_t x = seed * 0x9E3779B97F4A7C15u + 1;
    for (int64_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        ids[i] = (int32_t)(2 + x % (uint64_t)(vocab - 2 > 0 ? vocab - 2 : 1));
    }
}

/* ---- weights kept between measurements ----------------------------------------------------------------- */

void sb_weights_cache_init(sb_weights_cache *cache)
{
    memset(cache, 0, sizeof *cache);
}

static void cache_drop(sb_weights_cache *cache, int i)
{
    if (cache->slot[i].used)
        sb_weights_free(&cache->slot[i].w);
    cache->slot[i].used = false;
}

void sb_weights_cache_free(sb_weights_cache *cache)
{
    for (int i = 0; i < SB_WEIGHTS_CACHE_SLOTS; i++)
        cache_drop(cache, i);
    cache->shape[0] = '\0';
}

static int64_t cache_bytes(const sb_weights_cache *cache)
{
    int64_t bytes = 0;
    for (int i = 0; cache != NULL && i < SB_WEIGHTS_CACHE_SLOTS; i++)
        bytes += cache->slot[i].used ? (int64_t)cache->slot[i].w.arena_bytes : 0;
    return bytes;
}

/* Frees the weights of any other shape: the model, the whole config (a hash of its JSON, so overrides
 * count), dtype and seed must match for the weights to be the same. */
static void cache_select_shape(sb_weights_cache *cache, const char *model, const sb_config *cfg,
                               const sb_run_settings *s)
{
    if (cache == NULL)
        return;
    char *json = sb_config_to_json(cfg);
    uint64_t h = 0xCBF29CE484222325ull;
    for (const char *p = json != NULL ? json : cfg->name; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001B3ull;
    free(json);
    char shape[sizeof cache->shape];
    snprintf(shape, sizeof shape, "%s|%s|%llu|%016llx", model, sb_dtype_name(sb_run_settings_storage(s)), (unsigned long long)s->seed,
             (unsigned long long)h);
    if (strcmp(shape, cache->shape) != 0) {
        sb_weights_cache_free(cache);
        snprintf(cache->shape, sizeof cache->shape, "%s", shape);
    }
}

static bool same_depth(const sb_weights_cache *cache, int i, const sb_config *cfg)
{
    return cfg != NULL && cache->slot[i].used && cache->slot[i].encoder_layers == cfg->num_layers &&
           cache->slot[i].decoder_layers == cfg->num_decoder_layers;
}

/* Frees every depth but the ones the coming runs use (b may be NULL), so that neither the memory gate
 * nor the peak RSS counts weights this measurement does not run. */
static void cache_keep_only(sb_weights_cache *cache, const sb_config *a, const sb_config *b)
{
    for (int i = 0; cache != NULL && i < SB_WEIGHTS_CACHE_SLOTS; i++)
        if (!same_depth(cache, i, a) && !same_depth(cache, i, b))
            cache_drop(cache, i);
}

static int open_weights(const char *model, bool checkpoint, const sb_config *cfg, const sb_run_settings *s,
                        sb_weights *w, sb_error *err)
{
    if (checkpoint)
        return sb_model_open(model, sb_run_settings_storage(s), s->seed, w, NULL, NULL, err);
    if (sb_weights_alloc(w, cfg, sb_run_settings_storage(s), err) != 0)
        return -1;
    sb_weights_init_random(w, s->seed);
    return 0;
}

/* The weights of cfg: from the cache, else opened into the least recently used slot (or into `own` when
 * there is no cache, which the caller then frees). */
static int cache_open(sb_weights_cache *cache, const char *model, bool checkpoint, const sb_config *cfg,
                      const sb_run_settings *s, sb_weights *own, sb_weights **out, sb_error *err)
{
    if (cache == NULL) {
        *out = own;
        return open_weights(model, checkpoint, cfg, s, own, err);
    }
    int pick = 0;
    for (int i = 0; i < SB_WEIGHTS_CACHE_SLOTS; i++) {
        if (same_depth(cache, i, cfg)) {
            cache->slot[i].last_use = ++cache->clock;
            *out = &cache->slot[i].w;
            return 0;
        }
        if (!cache->slot[i].used || (cache->slot[pick].used && cache->slot[i].last_use < cache->slot[pick].last_use))
            pick = i;
    }
    cache_drop(cache, pick);
    if (open_weights(model, checkpoint, cfg, s, &cache->slot[pick].w, err) != 0) {
        /* The allocator refuses before allocating when memory is short: the other depths held (another
         * mode's sampled or full model of this shape) go first, then it tries once more. */
        bool held = false;
        for (int i = 0; i < SB_WEIGHTS_CACHE_SLOTS; i++) {
            held = held || cache->slot[i].used;
            cache_drop(cache, i);
        }
        if (!held || open_weights(model, checkpoint, cfg, s, &cache->slot[pick].w, err) != 0)
            return -1;
    }
    cache->slot[pick].used = true;
    cache->slot[pick].encoder_layers = cfg->num_layers;
    cache->slot[pick].decoder_layers = cfg->num_decoder_layers;
    cache->slot[pick].last_use = ++cache->clock;
    *out = &cache->slot[pick].w;
    return 0;
}

static int timed_run(sb_exec *x, const char *model, bool checkpoint, const sb_config *cfg, const sb_run_settings *s,
                     sb_weights_cache *cache, bool stop_when_slow, run_result *out, sb_error *err)
{
    memset(out, 0, sizeof *out);
    sb_weights own, *wp;
    /* Training updates its weights in place: they are its own, never the cache's. */
    if (cache_open(s->mode == SB_MODE_TRAIN ? NULL : cache, model, checkpoint, cfg, s, &own, &wp, err) != 0)
        return -1;
    /* Inference on oneDNN reads its weights pre-packed (re-laid before timing, as a checkpoint is loaded
     * before timing), OpenBLAS in HF layout; training's weights, its own and just opened, are in HF layout. */
    if (s->mode != SB_MODE_TRAIN && sb_weights_layout_for(wp, x, err) != 0) {
        if (wp == &own)
            sb_weights_free(&own);
        return -1;
    }
    rep_ctx c = {.x = x, .s = s};
    int rc = -1;
    int64_t src_n = s->batch * s->src_len, tgt_n = s->batch * s->tgt_len;
    c.input_ids = malloc((size_t)src_n * sizeof(int32_t));
    c.decoder_ids = malloc((size_t)tgt_n * sizeof(int32_t));
    c.generated = malloc((size_t)s->tgt_len * sizeof(int32_t));
    c.steps = malloc((size_t)s->tgt_len * sizeof(double));
    if (c.input_ids == NULL || c.decoder_ids == NULL || c.generated == NULL || c.steps == NULL) {
        sb_fail(err, "out of memory for token ids");
        goto done;
    }
    fill_ids(c.input_ids, src_n, wp->cfg.vocab_size, s->seed);
    fill_ids(c.decoder_ids, tgt_n, wp->cfg.vocab_size, s->seed + 1);
    for (int64_t b = 0; b < s->batch; b++)
        c.decoder_ids[b * s->tgt_len] = (int32_t)wp->cfg.decoder_start_token_id;
    if (s->mode == SB_MODE_TRAIN) {
        sb_optim_settings adafactor;
        sb_optim_defaults(SB_OPTIM_ADAFACTOR, &adafactor);
        c.weights = wp;
        if (sb_trainer_create(&c.trainer, x, wp, s->batch, s->src_len, s->tgt_len, NULL, err) != 0 ||
            sb_optimizer_create(&c.optimizer, wp, &adafactor, err) != 0)
            goto done;
    } else if (sb_runtime_create(&c.rt, x, wp, s->batch, s->src_len, s->tgt_len, err) != 0) {
        goto done;
    }
    if (sb_time_reps(rep, &c, s, stop_when_slow, &out->timing, err) != 0)
        goto done;
    if (c.counters_open && sb_counters_stop(&c.counters, &c.counters_error) == 0) {
        out->counters = c.counters;
        out->counters.fds = NULL;
        out->have_counters = true;
    }
    out->counters_error = c.counters_error;
    for (int p = 0; p < 2; p++) {
        out->flops[p] = c.flops[p];
        out->block_flops[p] = c.block_flops[p];
    }
    for (int i = 0; i < SB_OP_CLASSES; i++) {
        out->op_seconds[i] = c.op_seconds[i];
        out->op_flops[i] = c.op_flops[i];
    }
    out->generated = c.generated_count;
    out->step_median_s = c.nstep_medians ? sb_stats_compute(c.step_medians, c.nstep_medians).median : NAN;
    out->step_block_share = c.nstep_medians ? sb_stats_compute(c.step_block_shares, c.nstep_medians).median : NAN;
    out->weights_bytes = (int64_t)wp->arena_bytes;
    out->packed_tensors = (int64_t)wp->num_packed;
    out->activations_bytes = (int64_t)(c.trainer != NULL ? sb_trainer_activation_bytes(c.trainer)
                                                        : sb_runtime_activation_bytes(c.rt));
    rc = 0;
done:
    if (c.counters_open)
        sb_counters_close(&c.counters);
    if (c.rt != NULL)
        sb_runtime_free(c.rt);
    sb_trainer_free(c.trainer);
    sb_optimizer_free(c.optimizer);
    if (wp == &own)
        sb_weights_free(&own);
    free(c.input_ids);
    free(c.decoder_ids);
    free(c.generated);
    free(c.steps);
    free(c.step_medians);
    free(c.step_block_shares);
    return rc;
}

/* ---- the memory gate and the choice of full or sampled -------------------------------------------------- */

/* Bytes a run of cfg plans for: weights, the forward's activation buffers and the generation KV cache. */
static int planned_bytes(const sb_config *cfg, const sb_run_settings *s, int64_t *out, sb_counts *counts,
                         sb_error *err)
{
    sb_count_settings cs = {s->batch, s->src_len, s->tgt_len, sb_run_settings_storage(s)};
    if (sb_count(cfg, &cs, counts, err) != 0)
        return -1;
    int64_t total = 0;
    const bool train = s->mode == SB_MODE_TRAIN;
    /* Training: weights, their fp32 gradients, the kept activations and Adafactor's state (bf16 products:
     * and the weights' bf16 copy). */
    const int64_t bf16_copy = train && s->precision == SB_PRECISION_BF16 ? counts->memory_bytes.weights / 2 : 0;
    if (sb_add_i64(counts->memory_bytes.weights,
                   train ? counts->memory_bytes.activations_train : counts->memory_bytes.activations_forward,
                   &total) != 0 ||
        sb_add_i64(total, train ? counts->memory_bytes.weights : counts->memory_bytes.kv_cache, &total) != 0 ||
        sb_add_i64(total, train ? counts->memory_bytes.optimizer_adafactor + bf16_copy : 0, &total) != 0)
        return sb_fail(err, "%s: memory estimate overflows", cfg->name);
    *out = total;
    return 0;
}

/* getrusage's peak is the process's; clearing the kernel's high-water mark first (Linux clear_refs 5)
 * makes it this measurement's. Returns whether that worked. */
static bool reset_peak_rss(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool ok = write(fd, "5", 1) == 1;
    close(fd);
    return ok;
}

static int64_t peak_rss_bytes(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? (int64_t)ru.ru_maxrss * 1024 : -1;
}

/* What one repetition should take, from the machine's measured peaks, so that a shape that cannot fit its
 * time budget is sampled at once rather than after allocating, initialising and running it once (the
 * first-repetition check stays as the backstop), and so that a sweep's shards can be balanced. Forward: the
 * executed FLOPs at SB_EXPECTED_GEMM_SHARE of the GEMM peak of the compute type (what the engine reaches on
 * large shapes, `make bench`); train: the train step's FLOPs alike. Encode: the encoder's share of the
 * forward's FLOPs (by depth times tokens). Generate: that encoder share, then every step streams the
 * decoder's share of the weights (by depth; the LM head included) at the measured copy bandwidth, which
 * t5-efficient-base's 18.9 ms/token matches within 20 %. 0 when the peaks lack the figure needed. */
#define SB_EXPECTED_GEMM_SHARE 0.7
static double expected_rep_s(const sb_config *cfg, const sb_run_settings *s, const sb_counts *counts,
                             const sb_peaks *peaks)
{
    const double gemm_gflops = sb_peak_gemm_for(peaks, sb_precision_compute(s->precision));
    if (!(gemm_gflops > 0))
        return 0;
    const double flops_rate = SB_EXPECTED_GEMM_SHARE * gemm_gflops * 1e9;
    const double encoder_tokens = (double)(cfg->num_layers * s->src_len);
    const double encoder_share = encoder_tokens / (encoder_tokens + (double)(cfg->num_decoder_layers * s->tgt_len));
    switch (s->mode) {
    case SB_MODE_FORWARD: return (double)counts->flops_forward_executed.total / flops_rate;
    case SB_MODE_TRAIN: return (double)counts->flops_train_step / flops_rate;
    case SB_MODE_ENCODE: return encoder_share * (double)counts->flops_forward_executed.total / flops_rate;
    case SB_MODE_GENERATE: {
        if (!(peaks->stream_copy_gbps > 0))
            return 0;
        double share = (double)cfg->num_decoder_layers / (double)(cfg->num_layers + cfg->num_decoder_layers);
        return encoder_share * (double)counts->flops_forward_executed.total / flops_rate +
               (double)s->tgt_len * share * (double)counts->memory_bytes.weights / (peaks->stream_copy_gbps * 1e9);
    }
    }
    return 0;
}

int sb_expected_rep_s(const sb_config *cfg, const sb_run_settings *s, const sb_peaks *peaks, double *out,
                      sb_error *err)
{
    sb_counts counts;
    const sb_count_settings cs = {s->batch, s->src_len, s->tgt_len, sb_run_settings_storage(s)};
    if (sb_count(cfg, &cs, &counts, err) != 0)
        return -1;
    *out = expected_rep_s(cfg, s, &counts, peaks);
    return 0;
}

int sb_job_cost_s(const sb_config *cfg, const sb_run_settings *s, const sb_peaks *peaks, double *out, sb_error *err)
{
    double rep;
    if (sb_expected_rep_s(cfg, s, peaks, &rep, err) != 0)
        return -1;
    /* Sampled as sb_measure decides it (memory aside): each repetition then runs the sampled blocks. */
    if (s->mode != SB_MODE_TRAIN && (s->always_sample || rep * (double)s->min_reps > s->max_time_s)) {
        sb_sample_plan plan;
        sb_sample_plan_make(cfg, SB_SAMPLE_PERIODS, &plan);
        rep *= (double)(plan.depth[0] + plan.depth[1]) / (double)(plan.full[0] + plan.full[1]);
    }
    /* The timing loop: at least min_reps and min_time_s, repetitions beyond min_reps only within max_time_s. */
    double timed = (double)s->min_reps * rep;
    if (timed < s->min_time_s)
        timed = fmax(timed, fmin(s->min_time_s, s->max_time_s));
    *out = (double)s->warmup * rep + timed;
    return 0;
}

/* Generation streams the decoder's weights and the LM head once per token, so its per-block time is a
 * memory-bandwidth figure; a sampled decoder whose weights fit the last-level cache is served from the
 * cache and runs faster per block than the full model can (t5-efficient-base generating on a 480 MiB L3,
 * 4 KiB pages: 0.151 s per block at 4 of 12 blocks, 0.168 s at 12; the sampled figure came out 6 % low).
 * How many decoder blocks make the LM head and the blocks' weights exceed the cache (0 when unknown). */
static int decoder_blocks_beyond_cache(const sb_config *cfg, const sb_run_settings *s, int64_t *out, sb_error *err)
{
    *out = 0;
    const int64_t cache = sb_last_level_cache_bytes();
    if (cache <= 0 || cfg->num_decoder_layers < 2)
        return 0;
    /* One block's weights: the difference between two depths, so every tensor kind is counted. */
    sb_config one = *cfg, two = *cfg;
    one.num_decoder_layers = 1;
    two.num_decoder_layers = 2;
    sb_count_settings cs = {1, s->src_len, s->tgt_len, sb_run_settings_storage(s)};
    sb_counts a, b;
    if (sb_count(&one, &cs, &a, err) != 0 || sb_count(&two, &cs, &b, err) != 0)
        return -1;
    const double block = (double)(b.memory_bytes.weights - a.memory_bytes.weights);
    const double head = (double)cfg->vocab_size * (double)cfg->d_model * (double)sb_dtype_bytes(sb_run_settings_storage(s));
    if (block > 0)
        *out = head >= (double)cache ? 1 : (int64_t)ceil(((double)cache - head) / block);
    return 0;
}

static double gib(int64_t bytes)
{
    return (double)bytes / (double)(INT64_C(1) << 30);
}

static void fail_verdict(sb_measurement *m, const char *reason)
{
    snprintf(m->verdict, sizeof m->verdict, "failed: %s", reason);
}

static void keep_run(sb_measurement *m, const run_result *r)
{
    m->weights_bytes = r->weights_bytes;
    m->packed_tensors = r->packed_tensors;
    m->activations_bytes = r->activations_bytes;
    m->have_counters = r->have_counters;
    m->counters = r->counters;
    for (int i = 0; i < SB_OP_CLASSES; i++) {
        m->op_seconds[i] = r->op_seconds[i];
        m->op_flops[i] = r->op_flops[i];
    }
    snprintf(m->counters_error, sizeof m->counters_error, "%s", r->counters_error.msg);
}

static void measure_in(sb_exec *x, const char *model, const sb_config *cfg, const sb_run_settings *s,
                       const sb_peaks *peaks, sb_weights_cache *cache, sb_measurement *m)
{
    sb_error e;
    sb_counts counts;
    int64_t need;
    if (planned_bytes(cfg, s, &need, &counts, &e) != 0) {
        fail_verdict(m, e.msg);
        return;
    }
    m->estimate_bytes = need;
    m->sequences_per_rep = s->mode == SB_MODE_GENERATE ? 1 : s->batch;
    /* Weights the cache holds for this shape would be reused or freed: they count as available. */
    int64_t budget = (int64_t)(SB_MEMORY_SHARE * (double)(sb_memory_available_bytes() + cache_bytes(cache)));
    bool checkpoint = sb_model_is_checkpoint(model);
    /* A training step's parts are not per stack, so it is never sampled: too big or too slow, it is whole
     * or skipped. */
    const bool train = s->mode == SB_MODE_TRAIN;
    bool sampled = s->always_sample && !checkpoint && !train;
    sb_sample_plan_make(cfg, SB_SAMPLE_PERIODS, &m->plan);
    bool deep_is_full =
        train || (m->plan.depth[0] == m->plan.full[0] && m->plan.depth[1] == m->plan.full[1]);
    if (need > budget) {
        if (checkpoint || deep_is_full) {
            snprintf(m->verdict, sizeof m->verdict, "skipped: needs %.1f GiB > %.1f GiB available", gib(need),
                     gib(budget));
            return;
        }
        sampled = true;
    }
    if (!sampled && !checkpoint && peaks != NULL &&
        expected_rep_s(cfg, s, &counts, peaks) * (double)s->min_reps > s->max_time_s)
        sampled = true;

    run_result r;
    memset(&r, 0, sizeof r);
    if (!sampled || deep_is_full) {
        /* A shape whose sampled depth would be its full depth is timed whole, however slow. */
        sampled = false;
        cache_keep_only(cache, cfg, NULL);
        m->peak_rss_is_measurement = reset_peak_rss();
        if (timed_run(x, model, checkpoint, cfg, s, cache, !checkpoint && !deep_is_full, &r, &e) != 0) {
            fail_verdict(m, e.msg);
            return;
        }
        if (r.timing.too_slow) {
            sb_timing_free(&r.timing);
            sampled = true;
        } else {
            m->timing = r.timing;
            m->flops_per_rep = r.flops[0] + r.flops[1];
            m->ms_per_token = r.step_median_s * 1e3;
            m->tokens_per_rep = r.generated;
        }
    }
    if (sampled) {
        int64_t cover_blocks = 0;
        if (s->mode == SB_MODE_GENERATE && decoder_blocks_beyond_cache(cfg, s, &cover_blocks, &e) != 0) {
            fail_verdict(m, e.msg);
            return;
        }
        /* The deepest sample that fits, down to two periods; a generating decoder beyond the cache when
         * memory allows. */
        sb_config sc;
        int64_t sampled_need = 0;
        sb_counts sampled_counts;
        for (int cover = cover_blocks > 0; cover >= 0 && !(sampled_need > 0 && sampled_need <= budget); cover--)
            for (int64_t periods = SB_SAMPLE_PERIODS; periods >= 2; periods--) {
                sb_sample_plan_make(cfg, periods, &m->plan);
                if (cover)
                    sb_sample_plan_cover(&m->plan, cfg, SB_STACK_DECODER, cover_blocks);
                sb_sample_config(cfg, &m->plan, &sc);
                if (planned_bytes(&sc, s, &sampled_need, &sampled_counts, &e) != 0) {
                    fail_verdict(m, e.msg);
                    return;
                }
                if (sampled_need <= budget)
                    break;
            }
        if (sampled_need > budget) {
            snprintf(m->verdict, sizeof m->verdict,
                     "skipped: needs %.1f GiB > %.1f GiB available (%.1f GiB even at %lld + %lld sampled blocks)",
                     gib(need), gib(budget), gib(sampled_need), (long long)sc.num_layers,
                     (long long)sc.num_decoder_layers);
            return;
        }
        cache_keep_only(cache, &sc, NULL);
        m->peak_rss_is_measurement = reset_peak_rss();
        if (timed_run(x, model, false, &sc, s, cache, false, &r, &e) != 0) {
            fail_verdict(m, e.msg);
            return;
        }
        /* The work is exact (a tally, its blocks' share measured apart), so it extends like the time. */
        double f = 0;
        for (int p = 0; p < 2; p++)
            f += sb_extrapolate_depth((double)r.flops[p], (double)r.block_flops[p], m->plan.depth[p],
                                      m->plan.full[p]);
        m->flops_per_rep = (int64_t)llround(f);
        int rc = sb_extrapolate_timing(&m->plan, &r.timing, &m->timing, &e);
        sb_timing_free(&r.timing);
        if (rc != 0) {
            fail_verdict(m, e.msg);
            return;
        }
        m->extrapolated = true;
        m->ms_per_token = 1e3 * sb_extrapolate_depth(r.step_median_s, r.step_median_s * r.step_block_share,
                                                     m->plan.depth[SB_STACK_DECODER], m->plan.full[SB_STACK_DECODER]);
        m->tokens_per_rep = r.generated;
    }
    if (counts.flops_forward_executed.total > 0 && s->mode == SB_MODE_FORWARD) {
        m->flops_per_rep = counts.flops_forward_executed.total;
        m->flops_source = "analytic: sb_count flops_forward_executed.total";
    } else if (train) {
        m->flops_per_rep = counts.flops_train_step;
        m->flops_source = "analytic: sb_count flops_train_step (executed GEMMs, forward and backward)";
    } else {
        m->flops_source = m->extrapolated ? "measured: sb_gemm_flops tally of one repetition, per stack, extrapolated "
                                            "like the time"
                                          : "measured: sb_gemm_flops tally of one repetition";
    }
    if (s->mode == SB_MODE_ENCODE)
        m->tokens_per_rep = s->batch * s->src_len;
    else if (s->mode == SB_MODE_FORWARD || train)
        m->tokens_per_rep = s->batch * (s->src_len + s->tgt_len);
    if (s->mode != SB_MODE_GENERATE)
        m->ms_per_token = NAN;
    keep_run(m, &r);
    m->peak_rss_bytes = peak_rss_bytes();
    m->measured = true;
    m->cpu_share = m->timing.wall_s > 0 ? m->timing.cpu_s / (m->timing.wall_s * sb_exec_threads(x)) : NAN;
    m->preemptions = m->timing.preemptions;
    sb_stats st = sb_stats_compute(m->timing.samples, m->timing.reps);
    sb_verdict_for(&st, m->extrapolated, m->cpu_share, m->preemptions, m->verdict, sizeof m->verdict);
}

void sb_measure(const char *model, const sb_config *cfg, const sb_run_settings *s, const sb_peaks *peaks,
                sb_weights_cache *cache, sb_measurement *m)
{
    memset(m, 0, sizeof *m);
    m->ms_per_token = NAN;
    cache_select_shape(cache, model, cfg, s);
    sb_exec *x;
    sb_error e;
    if (sb_run_settings_exec(s, &x, &e) != 0) {
        fail_verdict(m, e.msg);
        return;
    }
    measure_in(x, model, cfg, s, peaks, cache, m);
    sb_exec_free(x);
}

void sb_measurement_free(sb_measurement *m)
{
    sb_timing_free(&m->timing);
}

void sb_verdict_for(const sb_stats *stats, bool extrapolated, double cpu_share, int64_t preemptions, char *out,
                    size_t cap)
{
    if (cpu_share < SB_CONTENDED_SHARE)
        snprintf(out, cap,
                 "contended: the timed repetitions got %.0f %% of their threads' CPU time (%lld preemptions): "
                 "other processes were running; rerunning the command measures it again",
                 100 * cpu_share, (long long)preemptions);
    else
        snprintf(out, cap, "%s", extrapolated ? "extrapolated" : sb_stats_noisy(stats) ? "noisy" : "ok");
}


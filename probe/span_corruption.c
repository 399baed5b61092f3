/* span_corruption.c — T5's span-corruption objective (t5.data.preprocessors.span_corruption): lengths
 * (random_spans_helper), noise masks (random_spans_noise_mask), sentinel substitution
 * (noise_span_to_unique_sentinel / nonnoise_span_to_unique_sentinel) and the batches training consumes. */
#include "probe/probe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- randomness: the engine's generator (engine.h), one stream per key ----------------------------- */

/* A generator for the stream keyed by (seed, a, b): independent streams for independent keys. */
static sb_rng rng_for(uint64_t seed, uint64_t a, uint64_t b)
{
    uint64_t x = seed;
    x = sb_splitmix64(&x) ^ a;
    x = sb_splitmix64(&x) ^ b;
    return sb_rng_seed(x);
}

/* Uniform in [0, n), n > 0, without modulo bias. */
static uint64_t rng_below(sb_rng *r, uint64_t n)
{
    uint64_t threshold = (0 - n) % n, x;
    while ((x = sb_rng_next(r)) < threshold) {
    }
    return x % n;
}

/* ---- lengths and masks ------------------------------------------------------------------------------- */

void sb_span_noise_counts(int64_t length, double noise_density, double mean_span, int64_t *num_noise,
                          int64_t *num_spans)
{
    if (length < 2)
        length = 2;
    int64_t noise = (int64_t)nearbyint((double)length * noise_density); /* round half to even */
    noise = noise < 1 ? 1 : noise > length - 1 ? length - 1 : noise;
    int64_t spans = (int64_t)nearbyint((double)noise / mean_span);
    *num_noise = noise;
    *num_spans = spans < 1 ? 1 : spans;
}

static int check_params(double noise_density, double mean_span, sb_error *err)
{
    if (!(noise_density > 0 && noise_density < 1) || !(mean_span >= 1))
        return sb_fail(err, "span corruption needs 0 < noise density < 1 and mean span >= 1 (got %g, %g)",
                       noise_density, mean_span);
    return 0;
}

int sb_span_corruption_lengths(int64_t src_len, double noise_density, double mean_span, int64_t *raw_len,
                               int64_t *tgt_len, sb_error *err)
{
    if (check_params(noise_density, mean_span, err) != 0)
        return -1;
    if (src_len < 4 || src_len > (int64_t)1 << 30)
        return sb_fail(err, "span corruption input length %lld out of range", (long long)src_len);
    /* random_spans_helper: the longest raw length whose inputs (non-noise + one sentinel per span + EOS)
     * fit in src_len. Inputs grow by at most 1 per raw token, so they then equal src_len exactly. */
    int64_t tokens = src_len - 1, noise, spans;
    for (;;) {
        sb_span_noise_counts(tokens + 1, noise_density, mean_span, &noise, &spans);
        if (tokens + 1 - noise + spans + 1 > src_len)
            break;
        tokens++;
    }
    sb_span_noise_counts(tokens, noise_density, mean_span, &noise, &spans);
    int64_t targets = noise + spans + 1;
    if (noise_density == 0.5 && targets > src_len) { /* T5's "minor hack" */
        tokens--;
        targets--;
    }
    *raw_len = tokens;
    *tgt_len = targets;
    return 0;
}

/* Lengths of `segments` non-empty segments of `items` items, every partition equally likely: T5's
 * _random_segmentation (a shuffled 0/1 vector of the items - 1 gaps, segments - 1 of them cuts), drawn as a
 * uniformly random subset of the gaps by selection sampling. */
static void random_segmentation(sb_rng *r, int64_t items, int64_t segments, int64_t *lengths)
{
    int64_t gaps = items - 1, cuts = segments - 1, seg = 0, len = 1;
    for (int64_t g = 0; g < gaps; g++) {
        if ((int64_t)rng_below(r, (uint64_t)(gaps - g)) < cuts) { /* cut after this item */
            lengths[seg++] = len;
            len = 1;
            cuts--;
        } else
            len++;
    }
    lengths[seg] = len;
}

int sb_span_noise_mask(int64_t length, double noise_density, double mean_span, uint64_t seed, uint8_t *mask,
                       sb_error *err)
{
    if (check_params(noise_density, mean_span, err) != 0)
        return -1;
    if (length < 2)
        return sb_fail(err, "a noise mask needs at least 2 tokens (got %lld)", (long long)length);
    int64_t noise, spans;
    sb_span_noise_counts(length, noise_density, mean_span, &noise, &spans);
    if (spans > length - noise)
        return sb_fail(err, "%lld tokens cannot hold %lld noise spans", (long long)length, (long long)spans);
    int64_t *len = malloc(2 * (size_t)spans * sizeof *len);
    if (len == NULL)
        return sb_fail(err, "out of memory for a noise mask");
    sb_rng r = rng_for(seed, 0x6E6F697365ull, (uint64_t)length); /* "noise" */
    random_segmentation(&r, noise, spans, len);                  /* noise span lengths */
    random_segmentation(&r, length - noise, spans, len + spans); /* non-noise span lengths */
    int64_t pos = 0;
    for (int64_t i = 0; i < spans; i++) { /* non-noise first, then alternating */
        memset(mask + pos, 0, (size_t)len[spans + i]);
        pos += len[spans + i];
        memset(mask + pos, 1, (size_t)len[i]);
        pos += len[i];
    }
    free(len);
    return 0;
}

/* Tokens with each span where mask == want replaced by the next sentinel, then EOS. */
static int64_t substitute(const int32_t *tokens, const uint8_t *mask, int64_t n, uint8_t want, int32_t vocab_size,
                          int32_t *out)
{
    int64_t m = 0, spans = 0;
    for (int64_t i = 0; i < n; i++) {
        bool hit = (mask[i] != 0) == (want != 0);
        bool first = hit && (i == 0 || (mask[i - 1] != 0) != (want != 0));
        if (first)
            out[m++] = sb_sentinel_id(vocab_size, spans++);
        else if (!hit)
            out[m++] = tokens[i];
    }
    out[m++] = SB_EOS_ID;
    return m;
}

int sb_span_corrupt(const int32_t *tokens, const uint8_t *mask, int64_t n, int32_t vocab_size, int32_t *inputs,
                    int64_t *n_inputs, int32_t *targets, int64_t *n_targets, sb_error *err)
{
    int64_t noise_spans = 0, other_spans = 0;
    for (int64_t i = 0; i < n; i++)
        if (i == 0 || (mask[i] != 0) != (mask[i - 1] != 0)) {
            if (mask[i])
                noise_spans++;
            else
                other_spans++;
        }
    if (noise_spans > SB_EXTRA_IDS || other_spans > SB_EXTRA_IDS)
        return sb_fail(err, "%lld spans exceed the %d sentinels",
                       (long long)(noise_spans > other_spans ? noise_spans : other_spans), SB_EXTRA_IDS);
    *n_inputs = substitute(tokens, mask, n, 1, vocab_size, inputs);
    *n_targets = substitute(tokens, mask, n, 0, vocab_size, targets);
    return 0;
}

/* ---- batches ----------------------------------------------------------------------------------------- */

int sb_span_batch_alloc(sb_span_batch *b, int64_t batch, int64_t src_len, int64_t tgt_len, sb_error *err)
{
    memset(b, 0, sizeof *b);
    if (batch < 1 || src_len < 1 || tgt_len < 1)
        return sb_fail(err, "a batch needs positive sizes");
    b->batch = batch;
    b->src_len = src_len;
    b->tgt_len = tgt_len;
    size_t s = (size_t)(batch * src_len), t = (size_t)(batch * tgt_len);
    b->input_ids = malloc(s * sizeof(int32_t));
    b->attention_mask = malloc(s * sizeof(int32_t));
    b->decoder_input_ids = malloc(t * sizeof(int32_t));
    b->labels = malloc(t * sizeof(int32_t));
    if (!b->input_ids || !b->attention_mask || !b->decoder_input_ids || !b->labels) {
        sb_span_batch_free(b);
        return sb_fail(err, "out of memory for a %lld x %lld batch", (long long)batch, (long long)src_len);
    }
    return 0;
}

void sb_span_batch_free(sb_span_batch *b)
{
    free(b->input_ids);
    free(b->attention_mask);
    free(b->decoder_input_ids);
    free(b->labels);
    memset(b, 0, sizeof *b);
}

/* Lays out epoch e: its start offset and chunk order. */
static void start_epoch(sb_span_batcher *b, int64_t epoch)
{
    b->epoch = epoch;
    b->next = 0;
    sb_rng r = rng_for(b->seed, 0x65706F6368ull, (uint64_t)epoch); /* "epoch" */
    b->offset = b->shuffle ? (int64_t)rng_below(&r, (uint64_t)b->raw_len) : 0;
    b->n_chunks = (b->n_tokens - b->offset) / b->raw_len;
    for (int64_t i = 0; i < b->n_chunks; i++)
        b->order[i] = i;
    for (int64_t i = b->n_chunks - 1; b->shuffle && i > 0; i--) { /* Fisher-Yates */
        int64_t j = (int64_t)rng_below(&r, (uint64_t)i + 1), t = b->order[i];
        b->order[i] = b->order[j];
        b->order[j] = t;
    }
}

int sb_span_batcher_init(sb_span_batcher *b, const sb_token_stream *stream, int32_t vocab_size, int64_t src_len,
                         int64_t batch, uint64_t seed, bool shuffle, sb_error *err)
{
    memset(b, 0, sizeof *b);
    b->tokens = stream->ids;
    b->n_tokens = stream->n;
    b->vocab_size = vocab_size;
    b->src_len = src_len;
    b->batch = batch;
    b->seed = seed;
    b->shuffle = shuffle;
    b->noise_density = SB_NOISE_DENSITY;
    b->mean_span = SB_MEAN_NOISE_SPAN;
    if (batch < 1)
        return sb_fail(err, "batch must be >= 1");
    if (vocab_size <= SB_EXTRA_IDS)
        return sb_fail(err, "vocab_size %d leaves no room below the %d sentinels", vocab_size, SB_EXTRA_IDS);
    if (sb_span_corruption_lengths(src_len, b->noise_density, b->mean_span, &b->raw_len, &b->tgt_len, err) != 0)
        return -1;
    int64_t noise, spans;
    sb_span_noise_counts(b->raw_len, b->noise_density, b->mean_span, &noise, &spans);
    if (spans > SB_EXTRA_IDS)
        return sb_fail(err, "inputs of %lld tokens hold %lld noise spans, more than the %d sentinels",
                       (long long)src_len, (long long)spans, SB_EXTRA_IDS);
    if (b->n_tokens < 2 * b->raw_len)
        return sb_fail(err, "%lld tokens hold fewer than 2 examples of %lld raw tokens", (long long)b->n_tokens,
                       (long long)b->raw_len);
    for (int64_t i = 0; i < b->n_tokens; i++)
        if (b->tokens[i] < 0 || b->tokens[i] >= vocab_size - SB_EXTRA_IDS)
            return sb_fail(err, "token %lld is %d: outside 0..%d, below the sentinels", (long long)i, b->tokens[i],
                           vocab_size - SB_EXTRA_IDS - 1);
    b->order = malloc((size_t)(b->n_tokens / b->raw_len) * sizeof *b->order);
    b->mask = malloc((size_t)b->raw_len);
    if (b->order == NULL || b->mask == NULL) {
        sb_span_batcher_free(b);
        return sb_fail(err, "out of memory for the batcher");
    }
    start_epoch(b, 0);
    return 0;
}

int sb_span_batcher_next(sb_span_batcher *b, sb_span_batch *out, sb_error *err)
{
    if (out->batch != b->batch || out->src_len != b->src_len || out->tgt_len != b->tgt_len)
        return sb_fail(err, "batch allocated as %lldx%lld/%lld, the batcher makes %lldx%lld/%lld",
                       (long long)out->batch, (long long)out->src_len, (long long)out->tgt_len, (long long)b->batch,
                       (long long)b->src_len, (long long)b->tgt_len);
    out->rows = 0;
    for (int64_t row = 0; row < b->batch; row++) {
        int32_t *in = out->input_ids + row * b->src_len, *am = out->attention_mask + row * b->src_len;
        int32_t *lab = out->labels + row * b->tgt_len, *dec = out->decoder_input_ids + row * b->tgt_len;
        if (b->next == b->n_chunks && b->shuffle)
            start_epoch(b, b->epoch + 1);
        if (b->next == b->n_chunks) { /* held-out pass over: padding rows */
            for (int64_t i = 0; i < b->src_len; i++)
                in[i] = SB_PAD_ID, am[i] = 0;
            for (int64_t i = 0; i < b->tgt_len; i++)
                lab[i] = SB_LABEL_IGNORE, dec[i] = SB_PAD_ID;
            continue;
        }
        int64_t chunk = b->order[b->next++];
        const int32_t *tokens = b->tokens + b->offset + chunk * b->raw_len;
        uint64_t example_seed = rng_for(b->seed, (uint64_t)b->epoch, (uint64_t)chunk).s[0];
        int64_t ni, nt;
        if (sb_span_noise_mask(b->raw_len, b->noise_density, b->mean_span, example_seed, b->mask, err) != 0 ||
            sb_span_corrupt(tokens, b->mask, b->raw_len, b->vocab_size, in, &ni, lab, &nt, err) != 0)
            return -1;
        if (ni != b->src_len || nt != b->tgt_len)
            return sb_fail(err, "span corruption gave %lld/%lld tokens, expected %lld/%lld", (long long)ni,
                           (long long)nt, (long long)b->src_len, (long long)b->tgt_len);
        for (int64_t i = 0; i < b->src_len; i++)
            am[i] = 1;
        dec[0] = SB_PAD_ID; /* decoder_start_token_id */
        memcpy(dec + 1, lab, (size_t)(b->tgt_len - 1) * sizeof *dec);
        out->rows++;
        b->examples_served++;
    }
    return 0;
}

int64_t sb_span_batcher_examples(const sb_span_batcher *b)
{
    return b->n_chunks;
}

void sb_span_batcher_rewind(sb_span_batcher *b)
{
    b->examples_served = 0;
    start_epoch(b, 0);
}

void sb_span_batcher_free(sb_span_batcher *b)
{
    free(b->order);
    free(b->mask);
    b->order = NULL;
    b->mask = NULL;
}

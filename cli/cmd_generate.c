/* cmd_generate.c — `shapebench generate`: greedy incremental decoding of one sequence from input ids. */
#include "cli/cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char generate_name[] = "generate"; /* sb_cli_warn's context */

static void generate_usage(FILE *out)
{
    fprintf(out, "usage: shapebench generate --model M --input-ids ID,ID,... [--max-new-tokens N] [options]\n"
                 "\n"
                 "Greedy incremental decoding (self-attention KV cache, cross-attention K/V computed once) of one\n"
                 "sequence. Prints the generated ids, comma-separated, on stdout (stops after eos) and on stderr\n"
                 "the first token's time (cold caches, first use of each product shape) apart from the steps\n"
                 "after it: their median, p90, p99 and mean ms/token. A model name (not a checkpoint folder) has\n"
                 "random weights: its ids mean nothing.\n"
                 "\n"
                 "  --input-ids L    encoder input ids, comma-separated (required)\n"
                 "  --max-new-tokens N   at most N tokens (default 20)\n" SB_MODEL_OPTIONS_HELP
                 "  --help           this text\n");
}

static int parse_ids(const char *text, int32_t **ids, int64_t *n)
{
    *n = 0;
    *ids = malloc((strlen(text) / 2 + 1) * sizeof **ids);
    if (*ids == NULL)
        return -1;
    for (const char *p = text;;) {
        const size_t len = strcspn(p, ",");
        char token[16];
        int64_t v;
        if (len >= sizeof token)
            return -1;
        memcpy(token, p, len);
        token[len] = '\0';
        if (sb_parse_i64(token, 0, INT32_MAX, &v) != 0)
            return -1;
        (*ids)[(*n)++] = (int32_t)v;
        if (p[len] == '\0')
            return 0;
        p += len + 1;
    }
}

int sb_cmd_generate(int argc, char **argv)
{
    const char *cmd = generate_name;
    enum { O_INPUT_IDS = SB_OPT_OWN, O_MAX_NEW_TOKENS };
    static const struct option options[] = {
        SB_MODEL_OPTIONS, {"input-ids", required_argument, NULL, O_INPUT_IDS},
        SB_OPTION_HELP,   {"max-new-tokens", required_argument, NULL, O_MAX_NEW_TOKENS},
        {NULL, 0, NULL, 0},
    };
    sb_cli_model m = {.backend = SB_GEMM_OPENBLAS};
    const char *id_text = NULL;
    int64_t max_new = 20;
    int opt, rc;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        if (opt == SB_OPT_HELP) {
            generate_usage(stdout);
            return SB_EXIT_OK;
        } else if (opt == O_INPUT_IDS) {
            id_text = optarg;
        } else if (opt == O_MAX_NEW_TOKENS) {
            if ((rc = sb_opt_integer(cmd, "max-new-tokens", optarg, 1, 1 << 20, &max_new)) != SB_EXIT_OK)
                return rc;
        } else if ((rc = sb_cli_model_option(cmd, opt, optarg, &m)) != SB_EXIT_OK) {
            return rc < 0 ? sb_opt_bad(cmd, opt, argv, options) : rc;
        }
    }
    if (optind != argc || m.model == NULL || id_text == NULL)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "--model and --input-ids are required (shapebench generate --help)");
    const int checked = sb_cli_model_check(cmd, &m);
    if (checked != SB_EXIT_OK)
        return checked;
    int32_t *ids = NULL;
    int64_t n = 0;
    if (parse_ids(id_text, &ids, &n) != 0) {
        free(ids);
        return sb_cli_error(cmd, SB_EXIT_USAGE, "--input-ids '%s' is not a comma-separated list of ids",
                            id_text);
    }
    sb_weights w = {0};
    sb_error err = {0};
    sb_exec *x = NULL;
    if (sb_cli_model_open(generate_name, &m, true, &x, &w, &err) != 0) {
        sb_exec_free(x);
        free(ids);
        return sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
    }
    sb_runtime *rt = NULL;
    int32_t *out = malloc((size_t)max_new * sizeof *out);
    double *seconds = malloc((size_t)max_new * sizeof *seconds);
    int64_t produced = -1;
    if (out != NULL && seconds != NULL && sb_runtime_create(&rt, x, &w, 1, n, max_new, &err) == 0 &&
        sb_encode(rt, 1, n, ids, NULL, &err) == 0)
        produced = sb_generate_greedy(rt, max_new, out, seconds, &err);
    if (produced > 0) {
        for (int64_t i = 0; i < produced; i++)
            printf("%s%d", i > 0 ? "," : "", out[i]);
        printf("\n");
        /* The first step also runs the first of every lazily created primitive and touches the caches cold:
         * its time is its own figure, and the percentiles are of the steps after it. */
        const double first = seconds[0];
        double total = 0;
        for (int64_t i = 0; i < produced; i++)
            total += seconds[i];
        fprintf(stderr, "shapebench generate: %" PRId64 " tokens in %.1f ms: first token %.3f ms", produced, 1e3 * total,
                1e3 * first);
        if (produced > 1) {
            const sb_stats st = sb_stats_compute(seconds + 1, (size_t)(produced - 1));
            fprintf(stderr, ", then %.3f ms/token median (p90 %.3f, p99 %.3f, mean %.3f)", 1e3 * st.median,
                    1e3 * st.p90, 1e3 * st.p99, 1e3 * st.mean);
        }
        fprintf(stderr, "\n");
        if (!sb_model_is_checkpoint(m.model))
            fprintf(stderr, "shapebench generate: note: %s names a shape, not a checkpoint: its weights are random "
                            "(seed %" PRIu64 "), so the ids mean nothing and a random model often repeats one token "
                            "(the decoder start, 0); the timing is what it measures\n",
                    m.model, m.seed);
    } else if (err.msg[0] == '\0') {
        sb_fail(&err, "out of memory");
    }
    sb_runtime_free(rt);
    sb_weights_free(&w);
    sb_exec_free(x);
    free(ids), free(out), free(seconds);
    return produced > 0 ? SB_EXIT_OK : sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
}

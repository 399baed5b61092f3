/* cmd_init.c — `shapebench init`: a random-weight Hugging Face checkpoint (config.json + model.safetensors)
 * of any shape, with T5's init scheme, for the engine or for transformers to load. */
#include "cli/cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: shapebench init NAME --out DIR [--dtype f32|bf16] [--seed N]\n"
            "\n"
            "Writes DIR/config.json and DIR/model.safetensors for model NAME (any name `shapebench list` knows, a\n"
            "T5-Efficient grammar name, NAME+switchE, a config.json path, with :key=value overrides) with random\n"
            "weights drawn by T5's init scheme. The same NAME, dtype and seed give the same bytes on any machine\n"
            "and thread count. DIR is created if missing; existing files are replaced whole.\n"
            "\n"
            "  --out DIR        checkpoint folder (required)\n"
            "  --dtype D        " SB_HELP_STORAGE " (default f32)\n"
            "  --seed N         " SB_HELP_SEED " (default 0)\n"
            "  --help           this text\n");
}

/* sb_cli_warn's context: the command name, writable because the context is a void *. */
static char command_name[] = "init";

int sb_cmd_init(int argc, char **argv)
{
    const char *cmd = command_name;
    static const struct option options[] = {SB_OPTION_OUT, SB_OPTION_DTYPE, SB_OPTION_SEED, SB_OPTION_HELP,
                                            {NULL, 0, NULL, 0}};
    const char *out = NULL;
    sb_dtype dtype = SB_DTYPE_F32;
    uint64_t seed = 0;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        int rc = SB_EXIT_OK;
        switch (opt) {
        case SB_OPT_OUT: out = optarg; break;
        case SB_OPT_DTYPE: rc = sb_opt_storage(cmd, optarg, &dtype); break;
        case SB_OPT_SEED: rc = sb_opt_seed(cmd, optarg, &seed); break;
        case SB_OPT_HELP: usage(stdout); return SB_EXIT_OK;
        default: rc = sb_opt_bad(cmd, opt, argv, options); break;
        }
        if (rc != SB_EXIT_OK)
            return rc;
    }
    if (argc - optind != 1)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "expected one model NAME, got %d (see --help)", argc - optind);
    if (out == NULL)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "--out DIR is required (see --help)");

    sb_config cfg;
    sb_weights w;
    sb_error err;
    /* a name the tool does not know is bad usage */
    if (sb_config_resolve(argv[optind], &cfg, sb_cli_warn, command_name, &err) != 0)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "%s", err.msg);
    if (sb_weights_alloc(&w, &cfg, dtype, &err) != 0)
        return sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
    sb_weights_init_random(&w, seed);
    int rc = sb_checkpoint_save(&w, out, &err);
    int64_t params = 0;
    for (size_t i = 0; i < w.num_tensors; i++)
        params += w.tensors[i].numel;
    size_t tensors = w.num_tensors;
    sb_weights_free(&w);
    if (rc != 0)
        return sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
    printf("%s: %s, %zu tensors, %" PRId64 " parameters, %s, seed %" PRIu64 "\n", out, cfg.name, tensors, params,
           sb_dtype_name(dtype), seed);
    return SB_EXIT_OK;
}

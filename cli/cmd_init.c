/* cmd_init.c — `shapebench init`: a random-weight Hugging Face checkpoint (config.json + model.safetensors)
 * of any shape, with T5's init scheme, for the engine or for transformers to load. */
#include "cli/cli.h"

#include <getopt.h>
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
            "  --dtype D        tensor storage: f32 (default) or bf16\n"
            "  --seed N         random seed, 0..2^63-1 (default 0)\n"
            "  --help           this text\n");
}

/* sb_cli_warn's context: the command name, writable because the context is a void *. */
static char command_name[] = "init";

int sb_cmd_init(int argc, char **argv)
{
    static const struct option options[] = {
        {"out", required_argument, NULL, 'o'},  {"dtype", required_argument, NULL, 'd'},
        {"seed", required_argument, NULL, 's'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL;
    sb_dtype dtype = SB_DTYPE_F32;
    int64_t seed = 0;
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case 'o':
            out = optarg;
            break;
        case 'd':
            if (strcmp(optarg, "f32") == 0)
                dtype = SB_DTYPE_F32;
            else if (strcmp(optarg, "bf16") == 0)
                dtype = SB_DTYPE_BF16;
            else
                return sb_cli_error("init", SB_EXIT_USAGE, "unknown --dtype '%s' (f32 or bf16)", optarg);
            break;
        case 's':
            if (sb_cli_parse_i64(optarg, 0, INT64_MAX, &seed) != 0)
                return sb_cli_error("init", SB_EXIT_USAGE, "--seed '%s' is not a whole number >= 0", optarg);
            break;
        case 'h':
            usage(stdout);
            return SB_EXIT_OK;
        case ':':
            return sb_cli_error("init", SB_EXIT_USAGE, "option '%s' needs a value (see --help)", argv[optind - 1]);
        default:
            if (optopt != 0)
                return sb_cli_error("init", SB_EXIT_USAGE, "unknown option '-%c' (see --help)", optopt);
            return sb_cli_error("init", SB_EXIT_USAGE, "unknown option '%s' (see --help)", argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return sb_cli_error("init", SB_EXIT_USAGE, "expected one model NAME, got %d (see --help)", argc - optind);
    if (out == NULL)
        return sb_cli_error("init", SB_EXIT_USAGE, "--out DIR is required (see --help)");

    sb_config cfg;
    sb_weights w;
    sb_error err;
    if (sb_config_resolve(argv[optind], &cfg, sb_cli_warn, command_name, &err) != 0 ||
        sb_weights_alloc(&w, &cfg, dtype, &err) != 0)
        return sb_cli_error("init", SB_EXIT_FAILURE, "%s", err.msg);
    sb_weights_init_random(&w, (uint64_t)seed);
    int rc = sb_checkpoint_save(&w, out, &err);
    int64_t params = 0;
    for (size_t i = 0; i < w.num_tensors; i++)
        params += w.tensors[i].numel;
    size_t tensors = w.num_tensors;
    sb_weights_free(&w);
    if (rc != 0)
        return sb_cli_error("init", SB_EXIT_FAILURE, "%s", err.msg);
    printf("%s: %s, %zu tensors, %" PRId64 " parameters, %s, seed %" PRId64 "\n", out, cfg.name, tensors, params,
           sb_dtype_name(dtype), seed);
    return SB_EXIT_OK;
}

/* cmd_count.c — `shapebench count`: exact params, FLOPs and memory of a shape, as a table or JSON. */
#include "cli/cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: shapebench count NAME [--src N] [--tgt N] [--batch N] [--dtype f32|bf16] [--json]\n"
            "\n"
            "Exact parameter, FLOP and memory counts of a model shape (any name `shapebench list` knows, a\n"
            "T5-Efficient grammar name, NAME+switchE, a config.json path, with :key=value overrides).\n"
            "\n"
            "  --src N          encoder tokens per sequence (default 512)\n"
            "  --tgt N          decoder tokens per sequence (default 114)\n"
            "  --batch N        sequences (default 1)\n"
            "  --dtype D        " SB_HELP_STORAGE " (default f32)\n"
            "  --json           one JSON object instead of the table\n"
            "  --help           this text\n");
}

/* 1234567 -> "1,234,567" */
static const char *grouped(int64_t value, char *buf, size_t size)
{
    char digits[24];
    int n = snprintf(digits, sizeof digits, "%" PRId64, value);
    size_t o = 0;
    for (int i = 0; i < n && o + 2 < size; i++) {
        buf[o++] = digits[i];
        int left = n - 1 - i;
        if (left > 0 && left % 3 == 0 && digits[i] != '-')
            buf[o++] = ',';
    }
    buf[o] = '\0';
    return buf;
}

/* value with an SI prefix (1000-based) joined to `unit` by `joint`, e.g. "124.57 GFLOPs", "51.07 M params" */
static void print_si(const char *label, int64_t value, const char *joint, const char *unit)
{
    static const char prefixes[] = " kMGTPE";
    double scaled = (double)value;
    int p = 0;
    while (scaled >= 1000 && prefixes[p + 1] != '\0') {
        scaled /= 1000;
        p++;
    }
    char buf[40];
    if (p == 0)
        printf("  %-24s %26s %s\n", label, grouped(value, buf, sizeof buf), unit);
    else
        printf("  %-24s %26s %s  (%.2f %c%s%s)\n", label, grouped(value, buf, sizeof buf), unit, scaled, prefixes[p],
               joint, unit);
}

static void print_bytes(const char *label, int64_t value)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double scaled = (double)value;
    int u = -1;
    while (scaled >= 1024 && u + 1 < (int)(sizeof units / sizeof units[0])) {
        scaled /= 1024;
        u++;
    }
    char buf[40];
    if (u < 0)
        printf("  %-24s %26s bytes\n", label, grouped(value, buf, sizeof buf));
    else
        printf("  %-24s %26s bytes  (%.2f %s)\n", label, grouped(value, buf, sizeof buf), scaled, units[u]);
}

static void print_flops(const char *title, const sb_flops *f)
{
    printf("%s\n", title);
    print_si("attention_projections", f->attention_projections, "", "FLOPs");
    print_si("attention_scores", f->attention_scores, "", "FLOPs");
    print_si("ffn", f->ffn, "", "FLOPs");
    print_si("router", f->router, "", "FLOPs");
    print_si("lm_head", f->lm_head, "", "FLOPs");
    print_si("total", f->total, "", "FLOPs");
}

static void print_table(const sb_config *cfg, const sb_count_settings *st, const sb_counts *c)
{
    printf("%s: batch %" PRId64 ", src %" PRId64 " tokens, tgt %" PRId64 " tokens, weights %s\n\n", cfg->name,
           st->batch, st->src_len, st->tgt_len, sb_dtype_name(st->dtype));
    printf("parameters (Hugging Face num_parameters(), tied embedding once)\n");
    print_si("params", c->params, " ", "params");
    print_si("params_nonembedding", c->params_nonembedding, " ", "params");
    print_si("params_active", c->params_active, " ", "params");
    print_flops("\nflops_forward_paper (Switch Table 9 / Kaplan: weight matmuls per token, QK^T once, no router)",
                &c->flops_forward_paper);
    print_flops("\nflops_forward_executed (every engine GEMM: QK^T and AV, cross K/V over src, router, kept tokens)",
                &c->flops_forward_executed);
    printf("\ntraining (executed GEMMs, each with its dA and dB backward GEMMs)\n");
    print_si("flops_train_step", c->flops_train_step, "", "FLOPs");
    printf("\nmemory_bytes\n");
    print_bytes("weights", c->memory_bytes.weights);
    print_bytes("kv_cache", c->memory_bytes.kv_cache);
    print_bytes("activations_forward", c->memory_bytes.activations_forward);
    print_bytes("activations_train", c->memory_bytes.activations_train);
    print_bytes("optimizer_adafactor", c->memory_bytes.optimizer_adafactor);
    print_bytes("optimizer_adamw", c->memory_bytes.optimizer_adamw);
}

/* sb_cli_warn's context: the command name, writable because the context is a void *. */
static char command_name[] = "count";

int sb_cmd_count(int argc, char **argv)
{
    enum { O_SRC = SB_OPT_OWN, O_TGT, O_BATCH, O_JSON };
    static const struct option options[] = {
        {"src", required_argument, NULL, O_SRC},     {"tgt", required_argument, NULL, O_TGT},
        {"batch", required_argument, NULL, O_BATCH}, SB_OPTION_DTYPE,
        {"json", no_argument, NULL, O_JSON},         SB_OPTION_HELP,
        {NULL, 0, NULL, 0},
    };
    const char *cmd = command_name;
    sb_count_settings settings = {.batch = 1, .src_len = 512, .tgt_len = 114, .dtype = SB_DTYPE_F32};
    bool json = false;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        int rc = SB_EXIT_OK;
        switch (opt) {
        case O_SRC: rc = sb_opt_integer(cmd, "src", optarg, 1, INT64_MAX, &settings.src_len); break;
        case O_TGT: rc = sb_opt_integer(cmd, "tgt", optarg, 1, INT64_MAX, &settings.tgt_len); break;
        case O_BATCH: rc = sb_opt_integer(cmd, "batch", optarg, 1, INT64_MAX, &settings.batch); break;
        case SB_OPT_DTYPE: rc = sb_opt_storage(cmd, optarg, &settings.dtype); break;
        case O_JSON: json = true; break;
        case SB_OPT_HELP: usage(stdout); return SB_EXIT_OK;
        default: rc = sb_opt_bad(cmd, opt, argv, options); break;
        }
        if (rc != SB_EXIT_OK)
            return rc;
    }
    if (argc - optind != 1)
        return sb_cli_error("count", SB_EXIT_USAGE, "expected one model NAME, got %d (see --help)", argc - optind);

    sb_config cfg;
    sb_counts counts;
    sb_error err;
    /* a name the tool does not know is bad usage */
    if (sb_config_resolve(argv[optind], &cfg, sb_cli_warn, command_name, &err) != 0)
        return sb_cli_error("count", SB_EXIT_USAGE, "%s", err.msg);
    if (sb_count(&cfg, &settings, &counts, &err) != 0)
        return sb_cli_error("count", SB_EXIT_FAILURE, "%s", err.msg);
    if (!json) {
        print_table(&cfg, &settings, &counts);
        return SB_EXIT_OK;
    }
    char *text = sb_counts_to_json(&cfg, &settings, &counts);
    if (text == NULL)
        return sb_cli_error("count", SB_EXIT_FAILURE, "out of memory writing JSON");
    printf("%s\n", text);
    free(text);
    return SB_EXIT_OK;
}

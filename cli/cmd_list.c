/* cmd_list.c — `shapebench list`: every known model name with its shape and the evidence for it. */
#include "cli/cli.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char cmd[] = "list";
static const char *const families[] = {"t5-efficient", "switch", "t5", "t5-v1_1"};

static const char *ffn_name(sb_ffn_kind kind)
{
    return kind == SB_FFN_GATED_GELU ? "gated-gelu" : "relu";
}

/* The shape behind a registry row, through the resolver, so `list` shows exactly what `config` gives. The
 * sh rows cannot resolve (refused by design): their shape is the name's base size. */
static int row_shape(const sb_registry_entry *e, sb_config *cfg)
{
    if (e->unsupported) {
        char base[SB_NAME_MAX];
        snprintf(base, sizeof base, "%s", e->name);
        char *knob = strstr(base, "-sh");
        if (knob != NULL)
            *knob = '\0';
        return sb_config_resolve(base, cfg, NULL, NULL, NULL);
    }
    return sb_config_resolve(e->name, cfg, NULL, NULL, NULL);
}

static const char *flags(const sb_registry_entry *e)
{
    if (e->unsupported)
        return "UNSUPPORTED(sh: semantics unpublished)";
    if (e->conflict)
        return "CONFLICT(file size contradicts name)";
    return "";
}

static int print_json(const char *family)
{
    cJSON *array = cJSON_CreateArray();
    if (array == NULL)
        return sb_cli_error(cmd, SB_EXIT_FAILURE, "out of memory");
    for (size_t i = 0; i < sb_registry_count(); i++) {
        const sb_registry_entry *e = sb_registry_get(i);
        sb_config cfg;
        if (family != NULL && strcmp(e->family, family) != 0)
            continue;
        if (row_shape(e, &cfg) != 0) {
            cJSON_Delete(array);
            return sb_cli_error(cmd, SB_EXIT_FAILURE, "registry row '%s' does not resolve", e->name);
        }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(array, o);
        cJSON_AddStringToObject(o, "name", e->name);
        cJSON_AddStringToObject(o, "org", e->org);
        cJSON_AddStringToObject(o, "family", e->family);
        cJSON_AddNumberToObject(o, "num_layers", (double)cfg.num_layers);
        cJSON_AddNumberToObject(o, "num_decoder_layers", (double)cfg.num_decoder_layers);
        cJSON_AddNumberToObject(o, "d_model", (double)cfg.d_model);
        cJSON_AddNumberToObject(o, "d_ff", (double)cfg.d_ff);
        cJSON_AddNumberToObject(o, "d_kv", (double)cfg.d_kv);
        cJSON_AddNumberToObject(o, "num_heads", (double)cfg.num_heads);
        cJSON_AddNumberToObject(o, "num_experts", (double)cfg.num_experts);
        cJSON_AddNumberToObject(o, "encoder_sparse_step", (double)cfg.encoder_sparse_step);
        cJSON_AddNumberToObject(o, "decoder_sparse_step", (double)cfg.decoder_sparse_step);
        cJSON_AddStringToObject(o, "feed_forward_proj", ffn_name(cfg.ffn));
        if (cfg.num_experts > 0)
            cJSON_AddStringToObject(o, "expert_ffn", ffn_name(cfg.expert_ffn));
        cJSON_AddBoolToObject(o, "tie_word_embeddings", cfg.tie_word_embeddings);
        cJSON_AddBoolToObject(o, "shared_kv", cfg.shared_kv);
        cJSON_AddStringToObject(o, "evidence", e->evidence);
        cJSON_AddBoolToObject(o, "conflict", e->conflict);
        cJSON_AddBoolToObject(o, "unsupported", e->unsupported);
        cJSON_AddStringToObject(o, "notes", e->notes);
    }
    char *text = cJSON_Print(array);
    cJSON_Delete(array);
    if (text == NULL)
        return sb_cli_error(cmd, SB_EXIT_FAILURE, "out of memory");
    puts(text);
    free(text);
    return SB_EXIT_OK;
}

static int print_table(const char *family)
{
    printf("%-42s %-12s %4s %4s %7s %6s %5s %5s %7s %-10s %-5s %-9s %s\n", "name", "family", "enc", "dec", "d_model",
           "d_ff", "d_kv", "heads", "experts", "ffn", "tied", "evidence", "flags / notes");
    for (size_t i = 0; i < sb_registry_count(); i++) {
        const sb_registry_entry *e = sb_registry_get(i);
        sb_config cfg;
        if (family != NULL && strcmp(e->family, family) != 0)
            continue;
        if (row_shape(e, &cfg) != 0)
            return sb_cli_error(cmd, SB_EXIT_FAILURE, "registry row '%s' does not resolve", e->name);
        const char *flag = flags(e);
        printf("%-42s %-12s %4lld %4lld %7lld %6lld %5lld %5lld %7lld %-10s %-5s %-9s %s%s%s%s\n", e->name, e->family,
               (long long)cfg.num_layers, (long long)cfg.num_decoder_layers, (long long)cfg.d_model,
               (long long)cfg.d_ff, (long long)cfg.d_kv, (long long)cfg.num_heads, (long long)cfg.num_experts,
               ffn_name(cfg.ffn), cfg.tie_word_embeddings ? "yes" : "no", e->evidence[0] ? e->evidence : "-", flag,
               flag[0] && e->notes[0] ? " " : "", cfg.shared_kv ? "skv: one shared K/V projection " : "", e->notes);
    }
    return SB_EXIT_OK;
}

int sb_cmd_list(int argc, char **argv)
{
    enum { O_FAMILY = SB_OPT_OWN, O_JSON };
    static const struct option options[] = {
        {"family", required_argument, NULL, O_FAMILY},
        {"json", no_argument, NULL, O_JSON},
        SB_OPTION_HELP,
        {NULL, 0, NULL, 0},
    };
    const char *family = NULL;
    bool json = false;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        switch (c) {
        case O_FAMILY:
            family = optarg;
            break;
        case O_JSON:
            json = true;
            break;
        case SB_OPT_HELP:
            printf("usage: shapebench list [--family F] [--json]\n\n"
                   "Every known model name with its shape: layers (encoder/decoder), d_model, d_ff, d_kv, heads,\n"
                   "experts, FFN, tied embeddings, and the evidence for published T5-Efficient shapes (config,\n"
                   "file-size, name; CONFLICT where the published file size contradicts the name). sh variants\n"
                   "are listed as UNSUPPORTED: their semantics are unpublished.\n\n"
                   "  --family F   only t5-efficient, switch, t5 or t5-v1_1\n"
                   "  --json       a JSON array instead of the table\n");
            return SB_EXIT_OK;
        default:
            return sb_opt_bad(cmd, c, argv, options);
        }
    }
    if (optind < argc)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "unexpected argument '%s' (shapebench list --help)",
                            argv[optind]);
    if (family != NULL) {
        bool known = false;
        for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
            known |= strcmp(family, families[i]) == 0;
        if (!known)
            return sb_cli_error(cmd, SB_EXIT_USAGE, "unknown family '%s' (t5-efficient, switch, t5, t5-v1_1)",
                                family);
    }
    if (sb_registry_count() == 0)
        return sb_cli_error(cmd, SB_EXIT_FAILURE, "the built-in model registry is empty (a broken build?)");
    return json ? print_json(family) : print_table(family);
}

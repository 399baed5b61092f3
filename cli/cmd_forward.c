/* cmd_forward.c — `shapebench forward` (one teacher-forced forward on fixture-style inputs, writing the
 * arrays in the fixtures' format) and `shapebench generate` (greedy incremental decoding from ids). */
#include "cli/cli.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* sb_cli_warn's context: the command name, writable because the context is a void *. */
static char forward_name[] = "forward";
static char generate_name[] = "generate";

/* Options both commands take: the model and how to run it. */
typedef struct {
    const char *model;
    sb_dtype dtype;
    sb_gemm_backend backend;
    int64_t threads; /* 0: OpenMP's default */
    int64_t seed;
} run_options;

enum { OPT_DTYPE = 256, OPT_GEMM, OPT_THREADS, OPT_SEED };

#define RUN_OPTIONS                                                                                                    \
    {"model", required_argument, NULL, 'm'}, {"dtype", required_argument, NULL, OPT_DTYPE},                           \
        {"gemm", required_argument, NULL, OPT_GEMM}, {"threads", required_argument, NULL, OPT_THREADS},               \
        {"seed", required_argument, NULL, OPT_SEED}, {"help", no_argument, NULL, 'h'}

#define RUN_OPTIONS_HELP                                                                                               \
    "  --model M        checkpoint folder (config.json + model.safetensors) or a model name (random weights)\n"      \
    "  --dtype D        weight storage: f32 (default) or bf16; compute is fp32\n"                                    \
    "  --gemm B         openblas (default) or onednn\n"                                                              \
    "  --threads N      threads for GEMM and the engine's loops (default: OpenMP's)\n"                               \
    "  --seed N         seed of random weights for a model name (default 0)\n"                                      \
    "  --help           this text\n"

/* Handles one of the shared options; SB_EXIT_OK, or SB_EXIT_USAGE after printing why. */
static int parse_run_option(const char *cmd, int opt, const char *arg, run_options *o)
{
    sb_error err = {0};
    switch (opt) {
    case 'm':
        o->model = arg;
        return SB_EXIT_OK;
    case OPT_DTYPE:
        if (strcmp(arg, "f32") == 0)
            o->dtype = SB_DTYPE_F32;
        else if (strcmp(arg, "bf16") == 0)
            o->dtype = SB_DTYPE_BF16;
        else
            return sb_cli_error(cmd, SB_EXIT_USAGE, "unknown --dtype '%s' (f32 or bf16)", arg);
        return SB_EXIT_OK;
    case OPT_GEMM:
        return sb_gemm_parse_backend(arg, &o->backend, &err) == 0 ? SB_EXIT_OK
                                                                  : sb_cli_error(cmd, SB_EXIT_USAGE, "%s", err.msg);
    case OPT_THREADS:
        return sb_cli_parse_i64(arg, 1, 4096, &o->threads) == 0
                   ? SB_EXIT_OK
                   : sb_cli_error(cmd, SB_EXIT_USAGE, "--threads '%s' is not a whole number in 1..4096", arg);
    case OPT_SEED:
        return sb_cli_parse_i64(arg, 0, INT64_MAX, &o->seed) == 0
                   ? SB_EXIT_OK
                   : sb_cli_error(cmd, SB_EXIT_USAGE, "--seed '%s' is not a whole number >= 0", arg);
    default:
        return sb_cli_error(cmd, SB_EXIT_USAGE, "unknown option (see --help)");
    }
}

/* The execution context of the options (*x, NULL on failure). */
static int open_exec(const run_options *o, sb_exec **x, sb_error *err)
{
    sb_exec_settings xs;
    sb_exec_settings_default(&xs);
    xs.backend = o->backend;
    xs.threads = (int)o->threads;
    return sb_exec_create(x, &xs, err);
}

/* The model's weights in the layout x reads. */
static int open_model(char *cmd, const run_options *o, sb_exec *x, sb_weights *w, sb_error *err)
{
    if (sb_model_open(o->model, o->dtype, (uint64_t)o->seed, w, sb_cli_warn, cmd, err) != 0)
        return -1;
    if (sb_weights_layout_for(w, x, err) != 0) {
        sb_weights_free(w);
        return -1;
    }
    return 0;
}

/* ---- forward ------------------------------------------------------------------------------------------- */

static void forward_usage(FILE *out)
{
    fprintf(out, "usage: shapebench forward --model M --inputs DIR --out DIR [--hidden-states] [options]\n"
                 "\n"
                 "One encoder + teacher-forced decoder forward on fixture-style inputs: DIR/expected.json lists\n"
                 "int32 arrays input_ids (B, S), attention_mask (B, S, optional) and decoder_input_ids (B, T) with\n"
                 "their .bin files. Writes to --out, in the same format (raw little-endian C order, indexed by\n"
                 "expected.json): encoder_last_hidden_state, logits, for Switch models each sparse layer's router\n"
                 "logits, prob, choice, kept and hf_expert_index (router__<module>.<what>.bin), and with\n"
                 "--hidden-states the per-layer encoder_hidden_states / decoder_hidden_states.\n"
                 "\n"
                 "  --inputs DIR     folder with expected.json and the input arrays (required)\n"
                 "  --out DIR        output folder, created if missing (required)\n"
                 "  --hidden-states  also write every layer's input and the final norm output\n" RUN_OPTIONS_HELP);
}

/* The output folder and its index, filled as arrays are written. */
typedef struct {
    const char *dir;
    cJSON *arrays;
    cJSON *routers;
    FILE *hidden[2]; /* --hidden-states: per-stack files appended layer by layer */
    int64_t batch;   /* router arrays are (batch, len): the trace knows only the token count */
    sb_error err;
    bool failed;
} output;

static void fail_output(output *o, const char *fmt, const char *what)
{
    if (!o->failed)
        sb_fail(&o->err, fmt, what, strerror(errno));
    o->failed = true;
}

static void index_array(output *o, const char *key, const char *file, const char *dtype, const int64_t *shape, int ndim)
{
    cJSON *entry = cJSON_AddObjectToObject(o->arrays, key);
    cJSON_AddStringToObject(entry, "dtype", dtype);
    cJSON_AddStringToObject(entry, "file", file);
    cJSON *dims = cJSON_AddArrayToObject(entry, "shape");
    for (int i = 0; i < ndim; i++)
        cJSON_AddItemToArray(dims, cJSON_CreateNumber((double)shape[i]));
}

static void write_array(output *o, const char *key, const char *file, const char *dtype, const int64_t *shape,
                        int ndim, const void *data, size_t elem)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", o->dir, file);
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= (size_t)shape[i];
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(data, elem, n, f) != n || fclose(f) != 0)
        return fail_output(o, "cannot write %s: %s", path);
    index_array(o, key, file, dtype, shape, ndim);
}

static void on_hidden(void *ctx, sb_stack stack, int64_t index, const float *h, int64_t tokens, int64_t d_model)
{
    output *o = ctx;
    if (o->hidden[stack] != NULL && fwrite(h, sizeof *h, (size_t)(tokens * d_model), o->hidden[stack]) !=
                                        (size_t)(tokens * d_model))
        fail_output(o, "cannot write the %s hidden states: %s", stack == SB_STACK_ENCODER ? "encoder" : "decoder");
}

static void on_router(void *ctx, const sb_router_trace *r)
{
    output *o = ctx;
    char module[96], key[160], file[192];
    snprintf(module, sizeof module, "%s.block.%" PRId64 ".layer.%d.mlp.router",
             r->stack == SB_STACK_ENCODER ? "encoder" : "decoder", r->block, r->stack == SB_STACK_ENCODER ? 1 : 2);
    const int64_t shape[3] = {o->batch, r->tokens / o->batch, r->num_experts};
    uint8_t *kept = malloc((size_t)r->tokens);
    int32_t *hf_index = malloc((size_t)r->tokens * sizeof *hf_index);
    if (kept == NULL || hf_index == NULL) {
        free(kept), free(hf_index);
        return fail_output(o, "out of memory for %s%s", module);
    }
    int64_t dropped = 0;
    cJSON *entry = cJSON_CreateObject();
    cJSON *per_expert = cJSON_AddArrayToObject(entry, "per_expert_kept");
    int64_t *counts = calloc((size_t)r->num_experts, sizeof *counts);
    for (int64_t i = 0; i < r->tokens; i++) {
        kept[i] = r->slot[i] >= 0;
        hf_index[i] = kept[i] ? r->choice[i] : 0; /* HF's capacity-masked one-hot argmax */
        dropped += !kept[i];
        if (counts != NULL && kept[i])
            counts[r->choice[i]]++;
    }
    for (int64_t e = 0; counts != NULL && e < r->num_experts; e++)
        cJSON_AddItemToArray(per_expert, cJSON_CreateNumber((double)counts[e]));
    free(counts);
    cJSON_AddStringToObject(entry, "module", module);
    cJSON_AddNumberToObject(entry, "tokens", (double)r->tokens);
    cJSON_AddNumberToObject(entry, "dropped", (double)dropped);
    cJSON_AddItemToArray(o->routers, entry);

    const struct {
        const char *what, *dtype;
        int ndim;
        const void *data;
        size_t elem;
    } arrays[] = {
        {"logits", "float32", 3, r->logits, 4}, {"prob", "float32", 2, r->gate, 4},
        {"choice", "int32", 2, r->choice, 4},   {"kept", "uint8", 2, kept, 1},
        {"hf_expert_index", "int32", 2, hf_index, 4},
    };
    for (size_t a = 0; a < sizeof arrays / sizeof arrays[0]; a++) {
        snprintf(key, sizeof key, "router/%s.%s", module, arrays[a].what);
        snprintf(file, sizeof file, "router__%s.%s.bin", module, arrays[a].what);
        write_array(o, key, file, arrays[a].dtype, shape, arrays[a].ndim, arrays[a].data, arrays[a].elem);
    }
    free(kept), free(hf_index);
}

static int run_forward(sb_exec *x, const run_options *ro, const char *inputs, output *o, sb_error *err)
{
    sb_fixture_input in[3] = {{.key = "input_ids", .required = true},
                              {.key = "attention_mask"},
                              {.key = "decoder_input_ids", .required = true}};
    if (sb_fixture_read(inputs, in, 3, err) != 0)
        return -1;
    const int32_t *ids = in[0].data, *mask = in[1].data, *dec = in[2].data;
    const int64_t *ids_shape = in[0].shape, *mask_shape = in[1].shape, *dec_shape = in[2].shape;
    int rc = -1;
    sb_weights w = {0};
    sb_runtime *rt = NULL;
    const bool mask_differs = mask != NULL && (mask_shape[0] != ids_shape[0] || mask_shape[1] != ids_shape[1]);
    if (dec_shape[0] != ids_shape[0] || mask_differs) {
        sb_fail(err, "%s: input_ids, attention_mask and decoder_input_ids disagree on the batch or length", inputs);
        goto done;
    }
    if (open_model(forward_name, ro, x, &w, err) != 0)
        goto done;
    const int64_t batch = ids_shape[0], src = ids_shape[1], tgt = dec_shape[1], d = w.cfg.d_model;
    if (sb_runtime_create(&rt, x, &w, batch, src, tgt, err) != 0)
        goto done;
    o->batch = batch;
    sb_runtime_observe(rt, &(sb_observer){on_hidden, on_router, o});
    if (sb_encode(rt, batch, src, ids, mask, err) != 0 || sb_decode(rt, tgt, dec, err) != 0)
        goto done;
    const int64_t enc_shape[3] = {batch, src, d}, logit_shape[3] = {batch, tgt, w.cfg.vocab_size};
    write_array(o, "encoder_last_hidden_state", "encoder_last_hidden_state.bin", "float32", enc_shape, 3,
                sb_encoder_output(rt), 4);
    write_array(o, "logits", "logits.bin", "float32", logit_shape, 3, sb_logits(rt), 4);
    const char *names[2] = {"encoder_hidden_states", "decoder_hidden_states"};
    for (int s = 0; s < 2; s++)
        if (o->hidden[s] != NULL) {
            const int64_t shape[4] = {(s == 0 ? w.cfg.num_layers : w.cfg.num_decoder_layers) + 1, batch,
                                      s == 0 ? src : tgt, d};
            char file[64];
            snprintf(file, sizeof file, "%s.bin", names[s]);
            index_array(o, names[s], file, "float32", shape, 4);
        }
    if (o->failed) {
        *err = o->err;
        goto done;
    }
    rc = 0;
done:
    sb_runtime_free(rt);
    sb_weights_free(&w);
    sb_fixture_free(in, 3);
    return rc;
}

int sb_cmd_forward(int argc, char **argv)
{
    static const struct option options[] = {
        RUN_OPTIONS,
        {"inputs", required_argument, NULL, 'i'},
        {"out", required_argument, NULL, 'o'},
        {"hidden-states", no_argument, NULL, 'H'},
        {NULL, 0, NULL, 0},
    };
    run_options ro = {.backend = SB_GEMM_OPENBLAS};
    const char *inputs = NULL, *out_dir = NULL;
    bool hidden = false;
    int opt, rc;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        if (opt == 'h') {
            forward_usage(stdout);
            return SB_EXIT_OK;
        } else if (opt == 'i') {
            inputs = optarg;
        } else if (opt == 'o') {
            out_dir = optarg;
        } else if (opt == 'H') {
            hidden = true;
        } else if (opt == ':' || opt == '?') {
            return sb_cli_error("forward", SB_EXIT_USAGE, "bad option '%s' (see --help)", argv[optind - 1]);
        } else if ((rc = parse_run_option("forward", opt, optarg, &ro)) != SB_EXIT_OK) {
            return rc;
        }
    }
    if (optind != argc || ro.model == NULL || inputs == NULL || out_dir == NULL)
        return sb_cli_error("forward", SB_EXIT_USAGE, "--model, --inputs and --out are required (see --help)");

    sb_error err = {0};
    output o = {.dir = out_dir, .arrays = cJSON_CreateObject(), .routers = cJSON_CreateArray()};
    if (sb_mkdir_p(out_dir, &err) != 0)
        return sb_cli_error("forward", SB_EXIT_FAILURE, "%s", err.msg);
    const char *files[2] = {"encoder_hidden_states.bin", "decoder_hidden_states.bin"};
    for (int s = 0; hidden && s < 2; s++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", out_dir, files[s]);
        if ((o.hidden[s] = fopen(path, "wb")) == NULL)
            return sb_cli_error("forward", SB_EXIT_FAILURE, "cannot create %s: %s", path, strerror(errno));
    }
    sb_exec *x = NULL;
    rc = open_exec(&ro, &x, &err) == 0 ? run_forward(x, &ro, inputs, &o, &err) : -1;
    for (int s = 0; s < 2; s++)
        if (o.hidden[s] != NULL && fclose(o.hidden[s]) != 0 && rc == 0)
            rc = sb_fail(&err, "cannot write %s/%s", out_dir, files[s]);
    if (rc == 0) {
        cJSON *index = cJSON_CreateObject();
        cJSON_AddItemToObject(index, "arrays", o.arrays);
        cJSON_AddItemToObject(index, "routers", o.routers);
        cJSON_AddStringToObject(index, "model", ro.model);
        cJSON_AddStringToObject(index, "dtype", sb_dtype_name(ro.dtype));
        cJSON_AddStringToObject(index, "gemm", sb_exec_backend_version(x));
        cJSON_AddStringToObject(index, "forward", "encoder + teacher-forced decoder, fp32 compute; Switch: dropped "
                                                  "tokens contribute 0");
        char *text = cJSON_Print(index);
        cJSON_Delete(index);
        char path[4096];
        snprintf(path, sizeof path, "%s/expected.json", out_dir);
        FILE *f = fopen(path, "w");
        if (text == NULL || f == NULL || fputs(text, f) < 0 || fputc('\n', f) == EOF || fclose(f) != 0)
            rc = sb_fail(&err, "cannot write %s", path);
        free(text);
    } else {
        cJSON_Delete(o.arrays);
        cJSON_Delete(o.routers);
    }
    sb_exec_free(x);
    return rc == 0 ? SB_EXIT_OK : sb_cli_error("forward", SB_EXIT_FAILURE, "%s", err.msg);
}

/* ---- generate ------------------------------------------------------------------------------------------ */

static void generate_usage(FILE *out)
{
    fprintf(out, "usage: shapebench generate --model M --input-ids ID,ID,... [--max-new-tokens N] [options]\n"
                 "\n"
                 "Greedy incremental decoding (self-attention KV cache, cross-attention K/V computed once) of one\n"
                 "sequence. Prints the generated ids, comma-separated, on stdout (stops after eos) and the time\n"
                 "per generated token on stderr.\n"
                 "\n"
                 "  --input-ids L    encoder input ids, comma-separated (required)\n"
                 "  --max-new-tokens N   at most N tokens (default 20)\n" RUN_OPTIONS_HELP);
}

static int parse_ids(const char *text, int32_t **ids, int64_t *n)
{
    *n = 0;
    *ids = malloc((strlen(text) / 2 + 1) * sizeof **ids);
    if (*ids == NULL)
        return -1;
    for (const char *p = text;;) {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno != 0 || v < 0 || v > INT32_MAX || (*end != ',' && *end != '\0'))
            return -1;
        (*ids)[(*n)++] = (int32_t)v;
        if (*end == '\0')
            return 0;
        p = end + 1;
    }
}

static int compare_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int sb_cmd_generate(int argc, char **argv)
{
    static const struct option options[] = {
        RUN_OPTIONS,
        {"input-ids", required_argument, NULL, 'i'},
        {"max-new-tokens", required_argument, NULL, 'n'},
        {NULL, 0, NULL, 0},
    };
    run_options ro = {.backend = SB_GEMM_OPENBLAS};
    const char *id_text = NULL;
    int64_t max_new = 20;
    int opt, rc;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        if (opt == 'h') {
            generate_usage(stdout);
            return SB_EXIT_OK;
        } else if (opt == 'i') {
            id_text = optarg;
        } else if (opt == 'n') {
            if (sb_cli_parse_i64(optarg, 1, 1 << 20, &max_new) != 0)
                return sb_cli_error("generate", SB_EXIT_USAGE, "--max-new-tokens '%s' is not in 1..1048576", optarg);
        } else if (opt == ':' || opt == '?') {
            return sb_cli_error("generate", SB_EXIT_USAGE, "bad option '%s' (see --help)", argv[optind - 1]);
        } else if ((rc = parse_run_option("generate", opt, optarg, &ro)) != SB_EXIT_OK) {
            return rc;
        }
    }
    if (optind != argc || ro.model == NULL || id_text == NULL)
        return sb_cli_error("generate", SB_EXIT_USAGE, "--model and --input-ids are required (see --help)");
    int32_t *ids = NULL;
    int64_t n = 0;
    if (parse_ids(id_text, &ids, &n) != 0) {
        free(ids);
        return sb_cli_error("generate", SB_EXIT_USAGE, "--input-ids '%s' is not a comma-separated list of ids",
                            id_text);
    }
    sb_weights w = {0};
    sb_error err = {0};
    sb_exec *x = NULL;
    if (open_exec(&ro, &x, &err) != 0 || open_model(generate_name, &ro, x, &w, &err) != 0) {
        sb_exec_free(x);
        free(ids);
        return sb_cli_error("generate", SB_EXIT_FAILURE, "%s", err.msg);
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
        double total = 0;
        for (int64_t i = 0; i < produced; i++)
            total += seconds[i];
        qsort(seconds, (size_t)produced, sizeof *seconds, compare_double);
        fprintf(stderr, "shapebench generate: %" PRId64 " tokens, %.3f ms/token mean, %.3f ms/token median\n", produced,
                1e3 * total / (double)produced, 1e3 * seconds[produced / 2]);
    } else if (err.msg[0] == '\0') {
        sb_fail(&err, "out of memory");
    }
    sb_runtime_free(rt);
    sb_weights_free(&w);
    sb_exec_free(x);
    free(ids), free(out), free(seconds);
    return produced > 0 ? SB_EXIT_OK : sb_cli_error("generate", SB_EXIT_FAILURE, "%s", err.msg);
}

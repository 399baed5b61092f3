/* cmd_forward.c — `shapebench forward`: one teacher-forced forward on fixture-style inputs, writing the
 * arrays in the fixtures' format. */
#include "cli/cli.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static char forward_name[] = "forward"; /* sb_cli_warn's context */

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
                 "  --hidden-states  also write every layer's input and the final norm output\n" SB_MODEL_OPTIONS_HELP
                 "  --help           this text\n");
}

/* The output folder and its index, filled as arrays are written. */
typedef struct {
    const char *dir;
    cJSON *arrays;
    cJSON *routers;
    sb_output hidden[2]; /* --hidden-states: per-stack files appended layer by layer (f NULL: none) */
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

/* The first failure is the one reported. */
static void keep_error(output *o, const sb_error *err)
{
    if (!o->failed)
        o->err = *err;
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
    sb_output out;
    sb_error err;
    if (sb_output_open(&out, path, &err) != 0)
        return keep_error(o, &err);
    if (fwrite(data, elem, n, out.f) != n) {
        sb_output_abort(&out);
        return fail_output(o, "cannot write %s: %s", path);
    }
    if (sb_output_commit(&out, &err) != 0)
        return keep_error(o, &err);
    index_array(o, key, file, dtype, shape, ndim);
}

static void on_hidden(void *ctx, sb_stack stack, int64_t index, const float *h, int64_t tokens, int64_t d_model)
{
    output *o = ctx;
    if (o->hidden[stack].f != NULL && fwrite(h, sizeof *h, (size_t)(tokens * d_model), o->hidden[stack].f) !=
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

static int run_forward(sb_exec *x, sb_weights *w, const char *inputs, output *o, sb_error *err)
{
    sb_fixture_input in[3] = {{.key = "input_ids", .required = true},
                              {.key = "attention_mask"},
                              {.key = "decoder_input_ids", .required = true}};
    if (sb_fixture_read(inputs, in, 3, err) != 0)
        return -1;
    const int32_t *ids = in[0].data, *mask = in[1].data, *dec = in[2].data;
    const int64_t *ids_shape = in[0].shape, *mask_shape = in[1].shape, *dec_shape = in[2].shape;
    int rc = -1;
    sb_runtime *rt = NULL;
    const bool mask_differs = mask != NULL && (mask_shape[0] != ids_shape[0] || mask_shape[1] != ids_shape[1]);
    if (dec_shape[0] != ids_shape[0] || mask_differs) {
        sb_fail(err, "%s: input_ids, attention_mask and decoder_input_ids disagree on the batch or length", inputs);
        goto done;
    }
    const int64_t batch = ids_shape[0], src = ids_shape[1], tgt = dec_shape[1], d = w->cfg.d_model;
    if (sb_runtime_create(&rt, x, w, batch, src, tgt, err) != 0)
        goto done;
    o->batch = batch;
    sb_runtime_observe(rt, &(sb_observer){on_hidden, on_router, o});
    if (sb_encode(rt, batch, src, ids, mask, err) != 0 || sb_decode(rt, tgt, dec, err) != 0)
        goto done;
    const int64_t enc_shape[3] = {batch, src, d}, logit_shape[3] = {batch, tgt, w->cfg.vocab_size};
    write_array(o, "encoder_last_hidden_state", "encoder_last_hidden_state.bin", "float32", enc_shape, 3,
                sb_encoder_output(rt), 4);
    write_array(o, "logits", "logits.bin", "float32", logit_shape, 3, sb_logits(rt), 4);
    const char *names[2] = {"encoder_hidden_states", "decoder_hidden_states"};
    for (int s = 0; s < 2; s++)
        if (o->hidden[s].f != NULL) {
            const int64_t shape[4] = {(s == 0 ? w->cfg.num_layers : w->cfg.num_decoder_layers) + 1, batch,
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
    sb_fixture_free(in, 3);
    return rc;
}

int sb_cmd_forward(int argc, char **argv)
{
    const char *cmd = forward_name;
    enum { O_INPUTS = SB_OPT_OWN, O_HIDDEN_STATES };
    static const struct option options[] = {
        SB_MODEL_OPTIONS, SB_OPTION_OUT,        {"inputs", required_argument, NULL, O_INPUTS},
        SB_OPTION_HELP,   {"hidden-states", no_argument, NULL, O_HIDDEN_STATES},
        {NULL, 0, NULL, 0},
    };
    sb_cli_model m = {.backend = SB_GEMM_OPENBLAS};
    const char *inputs = NULL, *out_dir = NULL;
    bool hidden = false;
    int opt, rc;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        if (opt == SB_OPT_HELP) {
            forward_usage(stdout);
            return SB_EXIT_OK;
        } else if (opt == O_INPUTS) {
            inputs = optarg;
        } else if (opt == SB_OPT_OUT) {
            out_dir = optarg;
        } else if (opt == O_HIDDEN_STATES) {
            hidden = true;
        } else if ((rc = sb_cli_model_option(cmd, opt, optarg, &m)) != SB_EXIT_OK) {
            return rc < 0 ? sb_opt_bad(cmd, opt, argv, options) : rc;
        }
    }
    if (optind != argc || m.model == NULL || inputs == NULL || out_dir == NULL)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "--model, --inputs and --out are required (shapebench forward --help)");
    if ((rc = sb_cli_model_check(cmd, &m)) != SB_EXIT_OK)
        return rc;

    sb_error err = {0};
    output o = {.dir = out_dir, .arrays = cJSON_CreateObject(), .routers = cJSON_CreateArray()};
    if (sb_mkdir_p(out_dir, &err) != 0)
        return sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
    const char *files[2] = {"encoder_hidden_states.bin", "decoder_hidden_states.bin"};
    for (int s = 0; hidden && s < 2; s++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", out_dir, files[s]);
        if (sb_output_open(&o.hidden[s], path, &err) != 0) {
            sb_output_abort(&o.hidden[0]);
            return sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
        }
    }
    sb_exec *x = NULL;
    sb_weights w = {0};
    rc = sb_cli_model_open(cmd, &m, true, &x, &w, &err) == 0 ? run_forward(x, &w, inputs, &o, &err) : -1;
    sb_weights_free(&w);
    for (int s = 0; s < 2; s++) {
        if (o.hidden[s].f == NULL)
            continue;
        if (rc == 0)
            rc = sb_output_commit(&o.hidden[s], &err);
        sb_output_abort(&o.hidden[s]);
    }
    if (rc == 0) {
        cJSON *index = cJSON_CreateObject();
        cJSON_AddItemToObject(index, "arrays", o.arrays);
        cJSON_AddItemToObject(index, "routers", o.routers);
        cJSON_AddStringToObject(index, "model", m.model);
        cJSON_AddStringToObject(index, "dtype", sb_precision_name(m.precision));
        cJSON_AddStringToObject(index, "gemm", sb_exec_backend_version(x));
        cJSON_AddStringToObject(index, "forward", "encoder + teacher-forced decoder, fp32 compute; Switch: dropped "
                                                  "tokens contribute 0");
        char *text = cJSON_Print(index);
        cJSON_Delete(index);
        char path[4096];
        snprintf(path, sizeof path, "%s/expected.json", out_dir);
        rc = text != NULL ? sb_write_text_atomic(path, text, true, &err) : sb_fail(&err, "out of memory");
        free(text);
    } else {
        cJSON_Delete(o.arrays);
        cJSON_Delete(o.routers);
    }
    sb_exec_free(x);
    return rc == 0 ? SB_EXIT_OK : sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
}


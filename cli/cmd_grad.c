/* cmd_grad.c — `shapebench grad`: the loss and every parameter's gradient for fixture-style inputs plus
 * labels, written as grads.json and grads.safetensors (HF tensor names, F32), so that gradients can be diffed
 * against any framework. */
#include "cli/cli.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char grad_name[] = "grad"; /* sb_cli_warn's context */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: shapebench grad --model M --inputs DIR --out DIR [options]\n"
            "\n"
            "The training loss and the gradient of every parameter for one batch: DIR/expected.json lists int32\n"
            "arrays input_ids (B, S), attention_mask (B, S, optional), decoder_input_ids (B, T) and labels (B, T,\n"
            "-100 ignored) with their .bin files, as the fixtures under tests/fixtures. Writes to --out:\n"
            "  grads.json         loss (cross-entropy + z_coef * z_loss + aux_coef * load_balancing_loss), its\n"
            "                     parts (Switch: router z-loss and load-balancing loss as Hugging Face computes\n"
            "                     them), the settings, the global gradient norm\n"
            "  grads.safetensors  every parameter's gradient of that loss under its HF name, F32\n"
            "Dropout is off unless --train (then with T5's rate 0.1 or --dropout, masks from --dropout-seed).\n"
            "\n"
            "  --model M          checkpoint folder (config.json + model.safetensors) or a model name\n"
            "  --inputs DIR       folder with expected.json and the arrays (required)\n"
            "  --out DIR          output folder, created if missing (required)\n"
            "  --train            dropout and router jitter on, as in a training step\n"
            "  --dropout R        dropout rate with --train (default 0.1)\n"
            "  --dropout-seed N   seed of the dropout masks (default 0)\n"
            "  --z-loss-coef C    router z-loss coefficient (default: the config's, HF 0.001)\n"
            "  --aux-loss-coef C  load-balancing coefficient (default: the config's, HF 0.001)\n"
            "  --lb-choice        load balancing counts the router's choice before capacity (Switch paper)\n"
            "                     instead of HF's capacity-masked index (a dropped token counts as expert 0)\n"
            "  --dtype D          f32, or bf16: mixed precision (fp32 master weights, bf16 products on oneDNN)\n"
            "                     (default f32)\n"
            "  --gemm B           " SB_HELP_GEMM " (default openblas)\n"
            "  --threads N        " SB_HELP_THREADS " (default 0)\n"
            "  --seed N           " SB_HELP_SEED " (default 0)\n"
            "  --help             this text\n");
}

typedef struct {
    sb_cli_model m; /* training: fp32 master weights whatever --dtype computes in */
    const char *inputs, *out;
    bool train;
    sb_trainer_options options;
} grad_args;

static int write_json(const grad_args *a, const sb_exec *x, const sb_weights *w, const sb_trainer *t,
                      const sb_train_losses *l, const int64_t shape[3], sb_error *err)
{
    const float *g = sb_trainer_grads(t);
    double norm = 0;
    for (size_t i = 0; i < w->num_tensors; i++)
        for (int64_t k = 0; k < w->tensors[i].numel; k++)
            norm += (double)g[w->tensors[i].offset + k] * g[w->tensors[i].offset + k];
    const bool sparse = w->cfg.num_experts > 0;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "model", a->m.model);
    cJSON_AddStringToObject(root, "config", w->cfg.name);
    cJSON_AddStringToObject(root, "inputs", a->inputs);
    cJSON_AddNumberToObject(root, "batch", (double)shape[0]);
    cJSON_AddNumberToObject(root, "src_len", (double)shape[1]);
    cJSON_AddNumberToObject(root, "tgt_len", (double)shape[2]);
    cJSON_AddNumberToObject(root, "label_tokens", (double)l->label_tokens);
    cJSON_AddNumberToObject(root, "loss", l->total);
    cJSON_AddNumberToObject(root, "cross_entropy", l->cross_entropy);
    if (sparse) {
        const double z = a->options.router_z_loss_coef, aux = a->options.router_aux_loss_coef;
        cJSON_AddNumberToObject(root, "z_loss", l->z_loss);
        cJSON_AddNumberToObject(root, "load_balancing_loss", l->load_balancing_loss);
        cJSON_AddNumberToObject(root, "router_z_loss_coef", z < 0 ? w->cfg.router_z_loss_coef : z);
        cJSON_AddNumberToObject(root, "router_aux_loss_coef", aux < 0 ? w->cfg.router_aux_loss_coef : aux);
        cJSON_AddStringToObject(root, "load_balancing_mask",
                                a->options.lb_choice_before_capacity ? "router choice before capacity (Switch paper)"
                                                                     : "capacity-masked expert index (HF)");
        cJSON *routers = cJSON_AddArrayToObject(root, "routers");
        sb_train_routing r;
        for (size_t i = 0; sb_trainer_routing(t, i, &r) == 0; i++) {
            cJSON *entry = cJSON_CreateObject();
            char module[96];
            snprintf(module, sizeof module, "%s.block.%" PRId64 ".layer.%d.mlp.router",
                     r.stack == SB_STACK_ENCODER ? "encoder" : "decoder", r.block, r.stack == SB_STACK_ENCODER ? 1 : 2);
            cJSON_AddStringToObject(entry, "module", module);
            cJSON_AddNumberToObject(entry, "tokens", (double)r.tokens);
            cJSON_AddNumberToObject(entry, "dropped", (double)(r.tokens - r.kept));
            cJSON_AddItemToArray(routers, entry);
        }
    }
    cJSON_AddBoolToObject(root, "train", a->train);
    cJSON_AddNumberToObject(root, "dropout_rate", a->train ? sb_trainer_dropout_rate(t) : 0.0);
    cJSON_AddNumberToObject(root, "dropout_seed", (double)a->options.dropout_seed);
    cJSON_AddNumberToObject(root, "grad_norm", sqrt(norm));
    cJSON_AddNumberToObject(root, "tensors", (double)w->num_tensors);
    cJSON_AddStringToObject(root, "gemm", sb_exec_backend_version(x));
    cJSON_AddStringToObject(root, "loss_convention",
                            "cross-entropy mean over labels != -100; Switch: + z_coef * (encoder + decoder router "
                            "z-loss) + aux_coef * (encoder + decoder load balancing), HF SwitchTransformers; "
                            "dropped tokens contribute 0");
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    char path[4096];
    snprintf(path, sizeof path, "%s/grads.json", a->out);
    const int rc = text != NULL ? sb_write_text_atomic(path, text, true, err) : sb_fail(err, "out of memory");
    free(text);
    return rc;
}

static int run(const grad_args *a, sb_error *err)
{
    /* HF would derive decoder inputs by shifting labels, and labels from nothing: both are required */
    sb_fixture_input in[4] = {{.key = "input_ids", .required = true},
                              {.key = "attention_mask"},
                              {.key = "decoder_input_ids", .required = true},
                              {.key = "labels", .required = true}};
    if (sb_fixture_read(a->inputs, in, 4, err) != 0)
        return -1;
    const int32_t *ids = in[0].data, *mask = in[1].data, *dec = in[2].data, *labels = in[3].data;
    const int64_t *ids_shape = in[0].shape, *mask_shape = in[1].shape, *dec_shape = in[2].shape;
    const int64_t *label_shape = in[3].shape;
    int rc = -1;
    sb_weights w = {0};
    sb_exec *x = NULL;
    sb_trainer *t = NULL;
    if (dec_shape[0] != ids_shape[0] || label_shape[0] != ids_shape[0] || label_shape[1] != dec_shape[1] ||
        (mask != NULL && (mask_shape[0] != ids_shape[0] || mask_shape[1] != ids_shape[1]))) {
        sb_fail(err, "%s: input_ids / attention_mask and decoder_input_ids / labels disagree on their shapes",
                a->inputs);
        goto done;
    }
    if (sb_cli_model_open(grad_name, &a->m, false, &x, &w, err) != 0)
        goto done;
    if (sb_trainer_create(&t, x, &w, ids_shape[0], ids_shape[1], dec_shape[1], &a->options, err) != 0)
        goto done;
    const sb_train_batch batch = {ids, mask, dec, labels};
    sb_train_losses losses;
    if (sb_trainer_step(t, &batch, a->train, false, &losses, err) != 0)
        goto done;
    const int64_t shape[3] = {ids_shape[0], ids_shape[1], dec_shape[1]};
    if (write_json(a, x, &w, t, &losses, shape, err) != 0)
        goto done;
    /* the gradient array has the arena's layout: a weights view over it writes it under the HF names */
    sb_weights view = w;
    view.arena = (void *)sb_trainer_grads(t);
    char path[4096];
    snprintf(path, sizeof path, "%s/grads.safetensors", a->out);
    sb_output out;
    if (sb_output_open(&out, path, err) != 0)
        goto done;
    if (sb_safetensors_write(&view, out.f, err) != 0) {
        sb_output_abort(&out);
        goto done;
    }
    if (sb_output_commit(&out, err) != 0)
        goto done;
    rc = 0;
done:
    sb_trainer_free(t);
    sb_weights_free(&w);
    sb_exec_free(x);
    sb_fixture_free(in, 4);
    return rc;
}

static int parse_coef(const char *text, double *out)
{
    return sb_parse_f64(text, 0, DBL_MAX, out);
}

int sb_cmd_grad(int argc, char **argv)
{
    const char *cmd = grad_name;
    enum { O_INPUTS = SB_OPT_OWN, O_TRAIN, O_DROPOUT, O_DROPOUT_SEED, O_Z, O_AUX, O_LB };
    static const struct option options[] = {
        SB_OPTION_MODEL,  {"inputs", required_argument, NULL, O_INPUTS},
        SB_OPTION_OUT,    SB_OPTION_GEMM,    SB_OPTION_DTYPE,
        SB_OPTION_THREADS, SB_OPTION_SEED,
        {"train", no_argument, NULL, O_TRAIN},             {"dropout", required_argument, NULL, O_DROPOUT},
        {"dropout-seed", required_argument, NULL, O_DROPOUT_SEED},
        {"z-loss-coef", required_argument, NULL, O_Z},     {"aux-loss-coef", required_argument, NULL, O_AUX},
        {"lb-choice", no_argument, NULL, O_LB},            SB_OPTION_HELP,
        {NULL, 0, NULL, 0},
    };
    grad_args a = {.m = {.backend = SB_GEMM_OPENBLAS, .precision = SB_PRECISION_F32, .training = true}};
    sb_trainer_options_default(&a.options);
    sb_error err = {0};
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        int rc = SB_EXIT_OK;
        switch (opt) {
        case SB_OPT_HELP: usage(stdout); return SB_EXIT_OK;
        case O_INPUTS: a.inputs = optarg; break;
        case SB_OPT_OUT: a.out = optarg; break;
        case O_DROPOUT_SEED: rc = sb_opt_seed(cmd, optarg, &a.options.dropout_seed); break;
        case O_TRAIN: a.train = true; break;
        case O_DROPOUT:
            if (parse_coef(optarg, &a.options.dropout_rate) != 0 || a.options.dropout_rate >= 1)
                rc = sb_cli_error(cmd, SB_EXIT_USAGE, "--dropout '%s' is not a rate in [0, 1)", optarg);
            break;
        case O_Z:
        case O_AUX:
            if (parse_coef(optarg, opt == O_Z ? &a.options.router_z_loss_coef : &a.options.router_aux_loss_coef) != 0)
                rc = sb_cli_error(cmd, SB_EXIT_USAGE, "--%s '%s' is not a number >= 0",
                                  opt == O_Z ? "z-loss-coef" : "aux-loss-coef", optarg);
            break;
        case O_LB: a.options.lb_choice_before_capacity = true; break;
        default:
            if ((rc = sb_cli_model_option(cmd, opt, optarg, &a.m)) < 0)
                rc = sb_opt_bad(cmd, opt, argv, options);
            break;
        }
        if (rc != SB_EXIT_OK)
            return rc;
    }
    if (optind != argc || a.m.model == NULL || a.inputs == NULL || a.out == NULL)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "--model, --inputs and --out are required (shapebench grad --help)");
    const int checked = sb_cli_model_check(cmd, &a.m);
    if (checked != SB_EXIT_OK)
        return checked;
    if (sb_mkdir_p(a.out, &err) != 0)
        return sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
    return run(&a, &err) == 0 ? SB_EXIT_OK : sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
}

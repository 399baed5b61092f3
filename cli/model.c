/* model.c — the model a command runs and the execution context it runs in, from the options forward,
 * generate and grad share. */
#include "cli/cli.h"

int sb_cli_model_option(const char *cmd, int opt, const char *arg, sb_cli_model *m)
{
    switch (opt) {
    case SB_OPT_MODEL: m->model = arg; return SB_EXIT_OK;
    case SB_OPT_DTYPE: return sb_opt_precision(cmd, arg, &m->precision);
    case SB_OPT_GEMM: return sb_opt_gemm(cmd, arg, &m->backend);
    case SB_OPT_THREADS: return sb_opt_threads(cmd, arg, &m->threads);
    case SB_OPT_SEED: return sb_opt_seed(cmd, arg, &m->seed);
    default: return -1;
    }
}

int sb_cli_model_check(const char *cmd, const sb_cli_model *m)
{
    sb_error err;
    sb_config cfg;
    /* a name the tool does not know (or a folder without a config it can read) is bad usage */
    if (sb_config_resolve(m->model, &cfg, NULL, NULL, &err) != 0)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "%s", err.msg);
    if (m->precision == SB_PRECISION_BF16 && m->backend != SB_GEMM_ONEDNN)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "--dtype bf16: bf16 products run on oneDNN only (Debian's OpenBLAS "
                                                "has no bf16 GEMM): add --gemm onednn");
    if (m->precision == SB_PRECISION_BF16 && sb_bf16_available(&err) != 0)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "--dtype bf16: %s", err.msg);
    return SB_EXIT_OK;
}

int sb_cli_model_open(const char *cmd, const sb_cli_model *m, bool lay_out, sb_exec **x, sb_weights *w, sb_error *err)
{
    sb_exec_settings xs;
    sb_exec_settings_default(&xs);
    xs.backend = m->backend;
    xs.threads = m->threads;
    xs.compute = sb_precision_compute(m->precision);
    *x = NULL;
    if (sb_exec_create(x, &xs, err) != 0 ||
        sb_model_open(m->model, sb_precision_storage(m->precision, m->training), m->seed, w, sb_cli_warn, (void *)cmd,
                      err) != 0)
        return -1;
    if (lay_out && sb_weights_layout_for(w, *x, err) != 0) {
        sb_weights_free(w);
        return -1;
    }
    return 0;
}

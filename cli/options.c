/* options.c — the options several subcommands share, each parsed in one place with one range and one
 * message, and the one-line answer to an unknown option or a missing value. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

int sb_opt_integer(const char *cmd, const char *option, const char *text, int64_t min, int64_t max, int64_t *out)
{
    if (sb_parse_i64(text, min, max, out) == 0)
        return SB_EXIT_OK;
    if (max == INT64_MAX)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "--%s '%s' must be a whole number >= %lld", option, text,
                            (long long)min);
    return sb_cli_error(cmd, SB_EXIT_USAGE, "--%s '%s' must be a whole number in %lld..%lld", option, text,
                        (long long)min, (long long)max);
}

/* A number in [min, max]; `what` names it in the message ("a number", "a number of seconds"). */
static int number_in(const char *cmd, const char *option, const char *text, double min, double max, const char *what,
                     double *out)
{
    if (sb_parse_f64(text, min, max, out) != 0)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "--%s '%s' must be %s in [%g, %g]", option, text, what, min, max);
    return SB_EXIT_OK;
}

int sb_opt_seconds(const char *cmd, const char *option, const char *text, double *out)
{
    return number_in(cmd, option, text, 0, 1e6, "a number of seconds", out);
}

int sb_opt_number(const char *cmd, const char *option, const char *text, double min, double max, double *out)
{
    return number_in(cmd, option, text, min, max, "a number", out);
}

int sb_opt_threads(const char *cmd, const char *text, int *out)
{
    int64_t v;
    const int rc = sb_opt_integer(cmd, "threads", text, 0, SB_THREADS_MAX, &v);
    if (rc == SB_EXIT_OK)
        *out = (int)v;
    return rc;
}

int sb_opt_threads_list(const char *cmd, const char *text, sb_i64_list *out)
{
    sb_error err;
    free(out->v);
    if (sb_parse_list(text, 0, SB_THREADS_MAX, out, &err) != 0)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "--threads: %s", err.msg);
    return SB_EXIT_OK;
}

int sb_opt_gemm(const char *cmd, const char *text, sb_gemm_backend *out)
{
    sb_error err;
    return sb_gemm_parse_backend(text, out, &err) == 0 ? SB_EXIT_OK
                                                         : sb_cli_error(cmd, SB_EXIT_USAGE, "--gemm: %s", err.msg);
}

int sb_opt_storage(const char *cmd, const char *text, sb_dtype *out)
{
    sb_error err;
    return sb_dtype_parse(text, out, &err) == 0 ? SB_EXIT_OK : sb_cli_error(cmd, SB_EXIT_USAGE, "--dtype: %s", err.msg);
}

int sb_opt_precision(const char *cmd, const char *text, sb_precision *out)
{
    sb_error err;
    return sb_precision_parse(text, out, &err) == 0 ? SB_EXIT_OK
                                                    : sb_cli_error(cmd, SB_EXIT_USAGE, "--dtype: %s", err.msg);
}

int sb_opt_gemm_list(const char *cmd, const char *text, sb_gemm_backend out[2], size_t *n)
{
    sb_error err;
    return sb_parse_gemms(text, out, n, &err) == 0 ? SB_EXIT_OK
                                                   : sb_cli_error(cmd, SB_EXIT_USAGE, "--gemm: %s", err.msg);
}

int sb_opt_precision_list(const char *cmd, const char *text, sb_precision out[SB_PRECISIONS], size_t *n)
{
    sb_error err;
    return sb_parse_precisions(text, out, n, &err) == 0 ? SB_EXIT_OK
                                                        : sb_cli_error(cmd, SB_EXIT_USAGE, "--dtype: %s", err.msg);
}

int sb_opt_seed(const char *cmd, const char *text, uint64_t *out)
{
    int64_t v;
    const int rc = sb_opt_integer(cmd, "seed", text, 0, INT64_MAX, &v);
    if (rc == SB_EXIT_OK)
        *out = (uint64_t)v;
    return rc;
}

int sb_opt_format(const char *cmd, const char *text, sb_format *out)
{
    sb_error err;
    return sb_format_parse(text, out, &err) == 0 ? SB_EXIT_OK
                                                   : sb_cli_error(cmd, SB_EXIT_USAGE, "--format: %s", err.msg);
}

int sb_opt_bad(const char *cmd, int getopt_result, char **argv, const struct option *options)
{
    const char *given = argv[optind - 1];
    if (getopt_result == ':')
        return sb_cli_error(cmd, SB_EXIT_USAGE, "%s needs a value (shapebench %s --help)", given, cmd);
    char name[64];
    const char *dashes = given[0] == '-' && given[1] == '-' ? given + 2 : NULL;
    if (dashes == NULL) /* a short option: optopt holds it */
        return sb_cli_error(cmd, SB_EXIT_USAGE, "bad option '-%c' (shapebench %s --help)", optopt, cmd);
    snprintf(name, sizeof name, "%.*s", (int)strcspn(dashes, "="), dashes);
    const char *known[64];
    size_t n = 0;
    for (const struct option *o = options; o->name != NULL && n < 64; o++)
        known[n++] = o->name;
    const char *near = sb_nearest(name, known, n);
    if (near != NULL)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "bad option '--%s'; did you mean '--%s'? (shapebench %s --help)",
                            name, near, cmd);
    return sb_cli_error(cmd, SB_EXIT_USAGE, "bad option '--%s' (shapebench %s --help)", name, cmd);
}

int sb_opt_shard(const char *cmd, const char *text, int *index, int *count)
{
    sb_error err;
    return sb_parse_shard(text, index, count, &err) == 0 ? SB_EXIT_OK
                                                          : sb_cli_error(cmd, SB_EXIT_USAGE, "%s", err.msg);
}

/* --remeasure: contended and/or noisy, or none. */
static int parse_remeasure(const char *cmd, const char *text, sb_remeasure *out)
{
    char buf[64];
    if (snprintf(buf, sizeof buf, "%s", text) >= (int)sizeof buf)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "--remeasure '%.40s...' is too long", text);
    sb_remeasure r = {false, false};
    bool none = false;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        if (strcmp(tok, "contended") == 0)
            r.contended = true;
        else if (strcmp(tok, "noisy") == 0)
            r.noisy = true;
        else if (strcmp(tok, "none") == 0)
            none = true;
        else
            return sb_cli_error(cmd, SB_EXIT_USAGE, "--remeasure '%s': '%s' is not contended, noisy or none", text,
                                tok);
    }
    if (none == (r.contended || r.noisy))
        return sb_cli_error(cmd, SB_EXIT_USAGE, "--remeasure '%s' must list contended and/or noisy, or be none",
                            text);
    *out = r;
    return SB_EXIT_OK;
}

int sb_cli_runner_option(const char *cmd, int opt, const char *arg, sb_cli_runner *rn)
{
    int64_t v;
    switch (opt) {
    case SB_OPT_RETRIES:
        if (sb_opt_integer(cmd, "retries", arg, 0, SB_RETRIES_MAX, &v) != SB_EXIT_OK)
            return SB_EXIT_USAGE;
        rn->retries = (int)v;
        return SB_EXIT_OK;
    case SB_OPT_REMEASURE: return parse_remeasure(cmd, arg, &rn->remeasure);
    default: return -1;
    }
}

/* A value that goes into a batch script's #SBATCH line, which ends at a line break. */
static int sbatch_value(const char *cmd, const char *option, const char *text, const char **out)
{
    for (const char *p = text; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20)
            return sb_cli_error(cmd, SB_EXIT_USAGE, "--%s '%s' holds a control character", option, text);
    if (text[0] == '\0')
        return sb_cli_error(cmd, SB_EXIT_USAGE, "--%s needs a value", option);
    *out = text;
    return SB_EXIT_OK;
}

int sb_cli_slurm_option(const char *cmd, int opt, const char *arg, sb_slurm_options *o)
{
    switch (opt) {
    case SB_OPT_SLURM: o->on = true; return SB_EXIT_OK;
    case SB_OPT_TASKS: return sb_opt_integer(cmd, "tasks", arg, 1, SB_SLURM_TASKS_MAX, &o->tasks);
    case SB_OPT_POINTS_PER_TASK: return sb_opt_integer(cmd, "points-per-task", arg, 1, 1000000, &o->points_per_task);
    case SB_OPT_CPUS_PER_TASK: return sb_opt_integer(cmd, "cpus-per-task", arg, 1, SB_THREADS_MAX, &o->cpus_per_task);
    case SB_OPT_PARTITION: return sbatch_value(cmd, "partition", arg, &o->partition);
    case SB_OPT_TIME: return sbatch_value(cmd, "time", arg, &o->time);
    case SB_OPT_ACCOUNT: return sbatch_value(cmd, "account", arg, &o->account);
    case SB_OPT_EXCLUSIVE: o->exclusive = 1; return SB_EXIT_OK;
    case SB_OPT_NO_EXCLUSIVE: o->exclusive = 0; return SB_EXIT_OK;
    case SB_OPT_SBATCH_ARG:
        if (o->nsbatch_args == SB_SBATCH_ARGS_MAX)
            return sb_cli_error(cmd, SB_EXIT_USAGE, "more than %d --sbatch-arg", SB_SBATCH_ARGS_MAX);
        if (arg[0] != '-')
            return sb_cli_error(cmd, SB_EXIT_USAGE, "--sbatch-arg '%s' must be an sbatch option (--name=value)", arg);
        return sbatch_value(cmd, "sbatch-arg", arg, &o->sbatch_args[o->nsbatch_args++]);
    case SB_OPT_DRY_RUN: o->dry_run = true; return SB_EXIT_OK;
    case SB_OPT_WAIT: o->wait = true; return SB_EXIT_OK;
    case SB_OPT_RESUME: o->resume = arg; return SB_EXIT_OK;
    default: return -1;
    }
}

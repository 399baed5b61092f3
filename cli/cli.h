/* cli.h — the `shapebench` command line: one function per subcommand, the options they share (each
 * defined once, options.c) and the conventions they follow.
 *
 * Every subcommand parses its options with getopt_long, answers --help on stdout with exit 0, and returns
 * SB_EXIT_OK (0) on success, SB_EXIT_FAILURE (1) when the work failed, SB_EXIT_USAGE (2) on bad usage.
 * Errors go to stderr as one line: "shapebench <cmd>: <message>".
 *
 * Depends on every library below it: harness/, probe/, plots/, record/, engine/, variants/, common/.
 */
#ifndef SHAPEBENCH_CLI_H
#define SHAPEBENCH_CLI_H

#include "harness/harness.h"
#include "plots/plots.h"
#include "probe/probe.h"

enum { SB_EXIT_OK = 0, SB_EXIT_FAILURE = 1, SB_EXIT_USAGE = 2 };

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
    const char *summary;
} sb_command;

/* Prints "shapebench <cmd>: <message>" to stderr and returns `code`. */
int sb_cli_error(const char *cmd, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* An sb_warn_fn that prints "shapebench <cmd>: warning: <message>" to stderr (ctx: the command name). */
void sb_cli_warn(void *cmd_name, const char *message);
/* Warnings before measuring, on stderr: a sanitizer or unoptimised build, a busy machine (load average over
 * half the cores), a CPU frequency governor other than `performance`. */
void sb_cli_check_machine(const char *cmd);
/* A run read back with published quality attached (`where` NULL: the newest run under results/); an exit
 * code, the error printed. */
int sb_cli_load_run(const char *cmd, const char *where, sb_results *results);

/* ---- options shared by several subcommands (options.c) ------------------------------------------------ */

#include <getopt.h>

/* getopt_long values of the shared options; a subcommand numbers its own from SB_OPT_OWN. */
enum {
    SB_OPT_HELP = 'h',
    SB_OPT_THREADS = 0x100,
    SB_OPT_GEMM,
    SB_OPT_DTYPE,
    SB_OPT_SEED,
    SB_OPT_OUT,
    SB_OPT_RUN,
    SB_OPT_FORMAT,
    SB_OPT_MODEL,
    SB_OPT_OWN = 0x200,
};
#define SB_OPTION_HELP {"help", no_argument, NULL, SB_OPT_HELP}
#define SB_OPTION_THREADS {"threads", required_argument, NULL, SB_OPT_THREADS}
#define SB_OPTION_GEMM {"gemm", required_argument, NULL, SB_OPT_GEMM}
#define SB_OPTION_DTYPE {"dtype", required_argument, NULL, SB_OPT_DTYPE}
#define SB_OPTION_SEED {"seed", required_argument, NULL, SB_OPT_SEED}
#define SB_OPTION_OUT {"out", required_argument, NULL, SB_OPT_OUT}
#define SB_OPTION_RUN {"run", required_argument, NULL, SB_OPT_RUN}
#define SB_OPTION_FORMAT {"format", required_argument, NULL, SB_OPT_FORMAT}
#define SB_OPTION_MODEL {"model", required_argument, NULL, SB_OPT_MODEL}

/* What each shared option means, for every subcommand's --help. */
#define SB_THREADS_MAX 4096
#define SB_HELP_THREADS "threads of GEMM and the engine's loops (0: all)"
#define SB_HELP_GEMM "GEMM backend: openblas or onednn"
#define SB_HELP_STORAGE "weight storage: f32 or bf16"
#define SB_HELP_PRECISION                                                                                      \
    "f32, bf16 (bf16 products on oneDNN) or bf16-storage (bf16 weights, fp32 products)"
#define SB_HELP_SEED "seed of random weights and inputs, 0 or more"
#define SB_HELP_FORMAT "table on stdout: md, csv or jsonl"

/* The value of a shared option, with its one range and one message: SB_EXIT_OK, or SB_EXIT_USAGE after
 * printing the message. The _list forms take comma-separated values (and ranges, for --threads). */
int sb_opt_threads(const char *cmd, const char *text, int *out);
int sb_opt_threads_list(const char *cmd, const char *text, sb_i64_list *out);
int sb_opt_gemm(const char *cmd, const char *text, sb_gemm_backend *out);
int sb_opt_gemm_list(const char *cmd, const char *text, sb_gemm_backend out[2], size_t *n);
/* --dtype as weight storage (count, init) or as a precision (what runs compute in: run, sweep, forward,
 * generate, grad, probe). */
int sb_opt_storage(const char *cmd, const char *text, sb_dtype *out);
int sb_opt_precision(const char *cmd, const char *text, sb_precision *out);
int sb_opt_precision_list(const char *cmd, const char *text, sb_precision out[SB_PRECISIONS], size_t *n);
int sb_opt_seed(const char *cmd, const char *text, uint64_t *out);
int sb_opt_format(const char *cmd, const char *text, sb_format *out);
/* A subcommand's own whole-number, seconds or number option: "--<option> '<text>' must be ...". */
int sb_opt_integer(const char *cmd, const char *option, const char *text, int64_t min, int64_t max, int64_t *out);
int sb_opt_seconds(const char *cmd, const char *option, const char *text, double *out);
int sb_opt_number(const char *cmd, const char *option, const char *text, double min, double max, double *out);
/* getopt_long's answer for argv[optind - 1] when it returned '?' (an unknown option: the nearest of
 * `options` suggested) or ':' (an option without its value), as one line; returns SB_EXIT_USAGE. Call
 * getopt_long with opterr = 0 and an optstring starting with ':'. */
int sb_opt_bad(const char *cmd, int getopt_result, char **argv, const struct option *options);

/* ---- the model a command runs, and where (model.c): forward, generate, grad ---------------------------- */

typedef struct {
    const char *model;      /* checkpoint folder or model name (random weights) */
    sb_precision precision;
    bool training;          /* weights for the trainer: fp32 masters whatever the products compute in */
    sb_gemm_backend backend;
    int threads;            /* 0: every thread OpenMP would use */
    uint64_t seed;          /* of random weights for a model name */
} sb_cli_model;
#define SB_MODEL_OPTIONS SB_OPTION_MODEL, SB_OPTION_DTYPE, SB_OPTION_GEMM, SB_OPTION_THREADS, SB_OPTION_SEED
#define SB_MODEL_OPTIONS_HELP                                                                                     \
    "  --model M        checkpoint folder (config.json + model.safetensors) or a model name (random weights)\n"  \
    "  --dtype D        " SB_HELP_PRECISION " (default f32)\n"                                                  \
    "  --gemm B         " SB_HELP_GEMM " (default openblas)\n"                                                  \
    "  --threads N      " SB_HELP_THREADS " (default 0)\n"                                                     \
    "  --seed N         " SB_HELP_SEED " (default 0)\n"
/* Handles opt when it is one of SB_MODEL_OPTIONS: SB_EXIT_OK, or SB_EXIT_USAGE after the message; -1 when
 * opt is another option. */
int sb_cli_model_option(const char *cmd, int opt, const char *arg, sb_cli_model *m);
/* Whether m names a model the tool knows and its settings can run here (bf16 needs oneDNN with bf16
 * instructions): SB_EXIT_OK, or SB_EXIT_USAGE after the message. */
int sb_cli_model_check(const char *cmd, const sb_cli_model *m);
/* The execution context of m (*x), and m's weights (in the layout x's inference reads when lay_out). */
int sb_cli_model_open(const char *cmd, const sb_cli_model *m, bool lay_out, sb_exec **x, sb_weights *w, sb_error *err);

/* ---- measuring jobs into a results folder (jobs.c): run and sweep -------------------------------------- */

typedef struct {
    const char *cmd;
    const char *run;   /* run name */
    const char *out;   /* results folder */
    sb_format format;  /* of the table on stdout */
} sb_cli_runner;

/* Measures every job whose key is not in the results yet, appending each record as it finishes; then
 * rewrites the CSV and prints this invocation's records. Returns an exit code. */
int sb_cli_run_jobs(const sb_cli_runner *rn, const sb_job_list *jobs);
/* The run name from --run, else --out's last component, else `fallback`; the folder from --out, else
 * results/<run> (into the buffers, which rn then points to). SB_EXIT_USAGE, the message printed, when --run
 * is not the name of one folder (a '/', '.' or '..' would put the run outside results/). */
int sb_cli_place_run(sb_cli_runner *rn, const char *run, const char *out, const char *fallback, char *run_buf,
                     size_t run_cap, char *out_buf, size_t out_cap);
/* Generation decodes batch row 0 only: generate points at other batch sizes are left out. */
void sb_cli_drop_generate_batches(sb_job_list *jobs);

/* One int32 (B, len) input array of a fixture-style folder (fixture_io.c, for `forward` and `grad`): the
 * folder's expected.json maps "arrays" -> key -> {file, dtype, shape}, the file raw little-endian C order in
 * the folder (the format of tests/fixtures and of `forward`'s output). */
typedef struct {
    const char *key;
    bool required;
    int32_t *data;    /* NULL when not listed (then not required) */
    int64_t shape[2];
} sb_fixture_input;

/* Reads inputs[count] from dir. -1 with err set and nothing left allocated when expected.json cannot be
 * read, a required array is not listed, or a listed one is not int32 [B, len] in a file of the folder holding
 * exactly its bytes. */
int sb_fixture_read(const char *dir, sb_fixture_input *inputs, size_t count, sb_error *err);
void sb_fixture_free(sb_fixture_input *inputs, size_t count);

int sb_cmd_list(int argc, char **argv);
int sb_cmd_config(int argc, char **argv);
int sb_cmd_count(int argc, char **argv);
int sb_cmd_run(int argc, char **argv);
int sb_cmd_sweep(int argc, char **argv);
int sb_cmd_merge(int argc, char **argv);
int sb_cmd_compare(int argc, char **argv);
int sb_cmd_init(int argc, char **argv);
int sb_cmd_pareto(int argc, char **argv);
int sb_cmd_plots(int argc, char **argv);
int sb_cmd_report(int argc, char **argv);
int sb_cmd_forward(int argc, char **argv);
int sb_cmd_generate(int argc, char **argv);
int sb_cmd_bench(int argc, char **argv);
int sb_cmd_grad(int argc, char **argv);
int sb_cmd_data(int argc, char **argv);
int sb_cmd_probe(int argc, char **argv);
int sb_cmd_schema(int argc, char **argv);

#endif

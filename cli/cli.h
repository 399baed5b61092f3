/* cli.h — the `shapebench` command line: one function per subcommand and the conventions they share.
 *
 * Every subcommand parses its own options with getopt_long, answers --help on stdout with exit 0, and
 * returns SB_EXIT_OK (0) on success, SB_EXIT_FAILURE (1) when the work failed, SB_EXIT_USAGE (2) on bad
 * usage. Errors go to stderr as one line: "shapebench <cmd>: <message>".
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
/* Parses a whole decimal integer in [min, max]; -1 when text is not one. */
int sb_cli_parse_i64(const char *text, int64_t min, int64_t max, int64_t *out);

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

#endif

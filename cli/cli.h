/* cli.h — the `shapebench` command line: one function per subcommand, the options they share (each
 * defined once, options.c) and the conventions they follow.
 *
 * Every subcommand parses its options with getopt_long, answers --help on stdout with exit 0, and returns
 * SB_EXIT_OK (0) on success, SB_EXIT_FAILURE (1) when the work failed, SB_EXIT_USAGE (2) on bad usage.
 * Errors go to stderr as one line: "shapebench <cmd>: <message>".
 *
 * Slurm is spoken here, as a command line speaks to other tools: batch scripts written, sbatch, squeue and
 * sinfo run through sb_run_tool (never a shell), their output parsed.
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
    SB_OPT_SHARD,
    SB_OPT_SLURM,
    SB_OPT_TASKS,
    SB_OPT_POINTS_PER_TASK,
    SB_OPT_PARTITION,
    SB_OPT_TIME,
    SB_OPT_ACCOUNT,
    SB_OPT_CPUS_PER_TASK,
    SB_OPT_EXCLUSIVE,
    SB_OPT_NO_EXCLUSIVE,
    SB_OPT_SBATCH_ARG,
    SB_OPT_DRY_RUN,
    SB_OPT_WAIT,
    SB_OPT_RESUME,
    SB_OPT_RETRIES,
    SB_OPT_REMEASURE,
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
#define SB_OPTION_SHARD {"shard", required_argument, NULL, SB_OPT_SHARD}

/* What each shared option means, for every subcommand's --help. */
#define SB_HELP_THREADS "threads of GEMM and the engine's loops (0: all)"
#define SB_HELP_GEMM "GEMM backend: openblas or onednn"
#define SB_HELP_STORAGE "weight storage: f32 or bf16"
#define SB_HELP_PRECISION                                                                                      \
    "f32, bf16 (bf16 products on oneDNN) or bf16-storage (bf16 weights, fp32 products)"
#define SB_HELP_SEED "seed of random weights and inputs, 0 or more"
#define SB_HELP_FORMAT "table on stdout: md, csv or jsonl"
#define SB_HELP_SHARD "shard i of N only (1-based), the shards balanced by expected cost"

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
int sb_opt_shard(const char *cmd, const char *text, int *index, int *count);

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

/* Which recorded verdicts a rerun measures again (--remeasure). */
typedef struct {
    bool contended, noisy;
} sb_remeasure;

typedef struct {
    const char *cmd;
    const char *run;   /* run name */
    const char *out;   /* results folder */
    sb_format format;  /* of the table on stdout */
    int retries;       /* --retries */
    sb_remeasure remeasure; /* --remeasure */
} sb_cli_runner;
#define SB_RETRIES_DEFAULT 2
#define SB_RETRIES_MAX 100
#define SB_CLI_RUNNER_INIT(name)                                                                              \
    {.cmd = (name), .format = SB_FORMAT_MD, .retries = SB_RETRIES_DEFAULT, .remeasure = {.contended = true}}
/* The options of run and sweep that say what a rerun measures again and how contended points are retried:
 * --retries N (0..SB_RETRIES_MAX) and --remeasure LIST. */
#define SB_RUNNER_OPTIONS                                                                                       \
    {"retries", required_argument, NULL, SB_OPT_RETRIES}, {"remeasure", required_argument, NULL, SB_OPT_REMEASURE}
#define SB_RUNNER_OPTIONS_HELP                                                                                  \
    "  --retries N        times a contended point is measured again, each once the cores are free (waiting\n" \
    "                     10 s, then 20 s, ... at most; 0: never)                [2]\n"                          \
    "  --remeasure LIST   recorded verdicts a rerun measures again, the new record replacing the old:\n"      \
    "                     contended, noisy (comma-separated), or none            [contended]\n"
/* Handles opt when it is one of SB_RUNNER_OPTIONS: SB_EXIT_OK, or SB_EXIT_USAGE after the message; -1 when
 * opt is another option. */
int sb_cli_runner_option(const char *cmd, int opt, const char *arg, sb_cli_runner *rn);

/* Measures every job whose key is not in the results yet, or whose record's verdict rn->remeasure names
 * (the new record then replaces the old one: sb_results_replace), appending each record as it finishes;
 * then rewrites the CSV and prints this invocation's records. Returns an exit code. */
int sb_cli_run_jobs(const sb_cli_runner *rn, const sb_job_list *jobs);
/* Whether a recorded verdict is one a rerun measures again. */
bool sb_cli_remeasured(const sb_remeasure *r, const char *verdict);

/* One measurement of a point, taken by sb_cli_measure_retrying (ctx: what it measures). */
typedef void (*sb_measure_fn)(void *ctx, sb_measurement *m);
/* The first wait for free cores before a retry; each later one may last twice as long. */
#define SB_RETRY_WAIT_S 10.0
/* How a run waits for free cores before retries, carried from point to point: where the load is read, and
 * how long the next point's first wait may last (SB_RETRY_WAIT_S; one sample, SB_LOAD_SAMPLE_S, after a
 * wait that the load outlasted, until a wait finds the cores free again). */
typedef struct {
    sb_load_source load;
    double first_wait_s;
} sb_retry_waits;
sb_retry_waits sb_retry_waits_init(sb_load_source load);
/* Measures into m, and while m comes out contended measures again, at most `retries` times: before retry k it
 * waits for the cores to be free for `threads` (sb_wait_for_free_cores), up to waits->first_wait_s for the
 * first and SB_RETRY_WAIT_S x 2^(k-1) for the later ones. When they stay busy the contended record is kept
 * (measuring again would measure the load again); a load that cannot be read retries at once. Says on stderr
 * what it does (`what`: the point). Returns the retries made. */
int sb_cli_measure_retrying(const char *cmd, const char *what, int retries, sb_retry_waits *waits, int threads,
                            sb_measure_fn measure, void *ctx, sb_measurement *m);
/* The run name from --run, else --out's last component, else `fallback`; the folder from --out, else
 * results/<run> (into the buffers, which rn then points to). SB_EXIT_USAGE, the message printed, when --run
 * is not the name of one folder (a '/', '.' or '..' would put the run outside results/). */
int sb_cli_place_run(sb_cli_runner *rn, const char *run, const char *out, const char *fallback, char *run_buf,
                     size_t run_cap, char *out_buf, size_t out_cap);
/* Generation decodes batch row 0 only: generate points at other batch sizes are left out. */
void sb_cli_drop_generate_batches(sb_job_list *jobs);

/* The points of jobs (which resolve) as a results folder's points file holds them: each key and its expected
 * cost on the reference machine (sb_job_cost_s at sb_peaks_reference). */
int sb_cli_job_points(const sb_job_list *jobs, sb_points *out, sb_error *err);

/* ---- a run folder's progress: its points against its records (progress.c) ----------------------------- */

/* What a results folder holds against what it is to hold (its points file). */
typedef enum { SB_TALLY_OK, SB_TALLY_NOISY, SB_TALLY_EXTRAPOLATED, SB_TALLY_CONTENDED, SB_TALLY_SKIPPED,
               SB_TALLY_FAILED, SB_TALLY_COUNT } sb_tally;
const char *sb_tally_name(sb_tally t); /* "ok", "noisy", ... as verdicts begin */

typedef struct {
    sb_points points;       /* planned (empty when the folder has no points file) */
    bool planned;
    sb_record_set records;  /* results.jsonl (empty when there is none yet, or it cannot be read) */
    char unreadable[SB_ERROR_MAX]; /* why results.jsonl cannot be read ("" when it can): its points count missing */
    size_t done;            /* planned points with a record; every record when nothing is planned */
    size_t verdicts[SB_TALLY_COUNT]; /* of the records counted in done */
    double left_s;          /* expected cost of the missing points on the reference machine, seconds */
    double sgemm_gflops;    /* the measured sgemm peak of the folder's last record (NaN: none) */
} sb_folder_progress;

/* Reads <dir>'s points and records (a torn last line left out with a warning); fails only when the points
 * cannot be read. */
int sb_folder_progress_load(const char *dir, sb_folder_progress *p, sb_warn_fn warn, void *warn_ctx, sb_error *err);
void sb_folder_progress_free(sb_folder_progress *p);
/* Whether planned point i has a record. */
bool sb_folder_progress_has(const sb_folder_progress *p, size_t i);
/* Seconds the missing points should take on the machine that measured the folder: left_s scaled by the
 * reference sgemm peak over the folder's own (left_s itself when the folder has no record yet). */
double sb_folder_progress_eta_s(const sb_folder_progress *p);

/* A run's progress as it measures, on stderr: a redrawn bar on a terminal, one line per point otherwise. Its
 * ETA comes from the points' expected costs (sb_job_cost_s at the measured peaks: their FLOPs, sampled
 * blocks and repetitions) plus SB_POINT_SETUP_S each, refined as points finish (sb_eta_from_costs). */
typedef struct {
    FILE *out;
    bool tty;
    size_t total, done;               /* points */
    double cost_total_s, cost_done_s; /* their expected seconds, setup included: all, and of the finished ones */
    double start_s, done_elapsed_s;   /* when it started; seconds from then to the last point's end */
} sb_run_progress;
/* What every point costs besides its timed work (its execution context, system description, weights and the
 * decision to sample), in seconds: a guess that keeps a run of tiny points from looking like its costliest
 * one; the finished points' real time corrects it with the rest. */
#define SB_POINT_SETUP_S 1.0
/* cost_s: the points' summed sb_job_cost_s. */
void sb_run_progress_start(sb_run_progress *p, FILE *out, size_t total, double cost_s);
/* Prints the line for the point that runs next (label). */
void sb_run_progress_next(sb_run_progress *p, const char *label);
/* A point of expected cost cost_s (its sb_job_cost_s) finished. */
void sb_run_progress_done(sb_run_progress *p, double cost_s);
void sb_run_progress_finish(sb_run_progress *p);
/* Seconds the points left should take: their expected cost, times the real seconds the finished points took
 * over their expected ones once some have finished (elapsed_s: from the start to the last one's end). */
double sb_eta_from_costs(double cost_done_s, double cost_left_s, double elapsed_s);

/* ---- Slurm: sweeps and probes as job arrays (slurm.c: Slurm's tools and the run's plan; submit.c: the
 * batch scripts, submission, resume, waiting) -------------------------------------------------------------- */

#define SB_SBATCH_ARGS_MAX 16
#define SB_SLURM_TASKS_MAX 10000

/* The options of `sweep --slurm` and `probe --slurm` (options.c). */
typedef struct {
    bool on;                /* --slurm */
    const char *resume;     /* --resume DIR: resubmit the shards of DIR with missing points */
    int64_t tasks, points_per_task, cpus_per_task; /* 0: not given */
    const char *partition, *time, *account;
    int exclusive;          /* 1 or 0 as given, -1: the command's default (timing sweeps exclusive) */
    const char *sbatch_args[SB_SBATCH_ARGS_MAX];
    size_t nsbatch_args;
    bool dry_run, wait;
} sb_slurm_options;

#define SB_SLURM_OPTIONS                                                                                         \
    {"slurm", no_argument, NULL, SB_OPT_SLURM}, {"tasks", required_argument, NULL, SB_OPT_TASKS},               \
        {"points-per-task", required_argument, NULL, SB_OPT_POINTS_PER_TASK},                                   \
        {"partition", required_argument, NULL, SB_OPT_PARTITION}, {"time", required_argument, NULL, SB_OPT_TIME},  \
        {"account", required_argument, NULL, SB_OPT_ACCOUNT},                                                   \
        {"cpus-per-task", required_argument, NULL, SB_OPT_CPUS_PER_TASK},                                       \
        {"exclusive", no_argument, NULL, SB_OPT_EXCLUSIVE}, {"no-exclusive", no_argument, NULL, SB_OPT_NO_EXCLUSIVE}, \
        {"sbatch-arg", required_argument, NULL, SB_OPT_SBATCH_ARG}, {"dry-run", no_argument, NULL, SB_OPT_DRY_RUN}, \
        {"wait", no_argument, NULL, SB_OPT_WAIT}, {"resume", required_argument, NULL, SB_OPT_RESUME}
#define SB_SLURM_OPTIONS_HELP                                                                                    \
    "Slurm (see README, \"Running on a cluster\"):\n"                                                             \
    "  --slurm            submit as a job array, one task per shard, and a job that merges the shards and\n"     \
    "                     draws the report when they have ended; results/<run>/slurm/ holds the scripts and logs\n" \
    "  --tasks N          shards (array tasks), balanced by expected cost\n"                                    \
    "  --points-per-task K  as many shards as hold about K points each\n"                                       \
    "  --cpus-per-task C  CPUs (and threads) of a task (default: the partition's CPUs per node)\n"             \
    "  --partition P, --time T, --account A  passed to sbatch\n"                                                \
    "  --exclusive, --no-exclusive  whole nodes for the tasks (default: sweeps yes, probes no)\n"               \
    "  --sbatch-arg ARG   any other sbatch option for both jobs (repeatable), e.g. --sbatch-arg=--qos=long\n"  \
    "  --dry-run          print the scripts and the sbatch commands; submit nothing\n"                          \
    "  --wait             block until the merge job ends; exit 1 when points are missing\n"                     \
    "  --resume DIR       resubmit only the shards of DIR with missing points (with --wait, --dry-run, and\n"   \
    "                     --partition, --time, --account, --sbatch-arg overriding the scripts')\n"
#define SB_SLURM_OPTIONS_INIT {.exclusive = -1}
/* Handles opt when it is one of SB_SLURM_OPTIONS: SB_EXIT_OK, or SB_EXIT_USAGE after the message; -1 when
 * opt is another option. */
int sb_cli_slurm_option(const char *cmd, int opt, const char *arg, sb_slurm_options *o);

/* One Slurm job (an array task: task >= 0) as squeue lists it. */
typedef struct {
    int64_t job;
    int task;           /* -1: not an array task */
    char state[32];     /* PENDING, RUNNING, COMPLETED, FAILED, ... */
    char node[64];
    char reason[64];    /* why it is pending (BeginTime, Dependency, ...) */
} sb_slurm_job;

typedef struct {
    sb_slurm_job *items;
    size_t count;
} sb_slurm_queue;

/* squeue's view of the given jobs and their array tasks, finished ones included while the controller still
 * holds them. A job the controller no longer knows is left out. Returns SB_TOOL_MISSING without squeue. */
int sb_slurm_queue_read(const int64_t *jobs, size_t n, sb_slurm_queue *q, sb_error *err);
const sb_slurm_job *sb_slurm_queue_find(const sb_slurm_queue *q, int64_t job, int task);
/* "RUNNING on n1", "PENDING (BeginTime)", "COMPLETED on n2"; for NULL "ended (no longer in squeue)". */
void sb_slurm_job_describe(const sb_slurm_job *job, char *out, size_t cap);
void sb_slurm_queue_free(sb_slurm_queue *q);
/* Whether a job in this state may still run (pending, running, requeued, suspended, ...). */
bool sb_slurm_state_active(const char *state);
/* The CPUs per node of the partition (NULL: the default one), from sinfo; fails when its nodes differ. */
int sb_slurm_partition_cpus(const char *partition, int64_t *cpus, sb_error *err);
/* sbatch --parsable ARGS...: the job id. */
int sb_slurm_sbatch(char *const *args, size_t nargs, int64_t *job, sb_error *err);

/* A run submitted to Slurm: <dir>/slurm/plan.json. */
typedef struct {
    int64_t array_job, merge_job;
    int *shards;        /* the shards (1-based) this submission ran */
    size_t nshards;
    char date[32];
} sb_slurm_submission;

typedef struct {
    char dir[SB_PATH_MAX];  /* the run folder (as sb_slurm_plan_load was given it) */
    char cmd[16];           /* sweep or probe */
    char run[SB_NAME_MAX];
    int tasks;              /* shards */
    sb_slurm_submission *subs;
    size_t nsubs;
} sb_slurm_plan;

/* <dir>/slurm/plan.json; returns SB_TOOL_MISSING (nothing set) when dir holds no Slurm run. */
int sb_slurm_plan_load(const char *dir, sb_slurm_plan *plan, sb_error *err);
int sb_slurm_plan_save(const sb_slurm_plan *plan, sb_error *err);
int sb_slurm_plan_add(sb_slurm_plan *plan, int64_t array_job, int64_t merge_job, const int *shards, size_t n,
                      sb_error *err);
void sb_slurm_plan_free(sb_slurm_plan *plan);
/* <plan dir>/shard-<i>of<N>. */
void sb_slurm_shard_dir(const sb_slurm_plan *plan, int shard, char *out, size_t cap);
/* The latest submission that ran `shard` (NULL: none). */
const sb_slurm_submission *sb_slurm_plan_latest(const sb_slurm_plan *plan, int shard);

/* What a task's log (<dir>/slurm/logs/<job>_<task>.out) says: its exit status, when the task script reached
 * its end, and the line that says why it failed (the command's last error line, else Slurm's). */
typedef struct {
    bool found, exited;
    int exit_status;
    char why[SB_ERROR_MAX];
} sb_slurm_task_log;
void sb_slurm_task_log_read(const sb_slurm_plan *plan, int64_t job, int task, sb_slurm_task_log *out);

/* The work of a sweep or probe, split into shards, for sb_slurm_submit. */
typedef struct {
    const char *cmd;        /* "sweep" or "probe" */
    const char *run, *out;  /* run name and results folder */
    const char *const *task_argv; /* the command each task runs after the binary, less --shard, --out, --run
                                   * and --threads, which each task gets */
    size_t task_argc;
    const sb_points *shards; /* each shard's points */
    int nshards;
    int threads;            /* of each task, its --cpus-per-task (sb_slurm_task_threads): in the points' keys */
    bool exclusive;         /* the command's default for --exclusive */
} sb_slurm_work;

/* The shard count --tasks or --points-per-task asks for, at most `groups` (the units that cannot be split:
 * a sweep's shapes, a probe's points). SB_EXIT_OK, or SB_EXIT_USAGE after the message. */
int sb_slurm_task_count(const char *cmd, const sb_slurm_options *o, size_t points, size_t groups, int *count);
/* The threads each task runs (= its --cpus-per-task): --cpus-per-task, else the partition's CPUs per node. */
int sb_slurm_task_threads(const char *cmd, const sb_slurm_options *o, int *threads);
/* Writes the scripts and points into w->out (printing them instead with --dry-run), submits the array and the
 * merge job after it, and with --wait blocks until the merge job ends. Returns an exit code. */
int sb_slurm_submit(const sb_slurm_options *o, const sb_slurm_work *w);
/* --resume: resubmits the shards of o->resume with missing points and no job that may still run them. */
int sb_slurm_resume(const char *cmd, const sb_slurm_options *o);

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
int sb_cmd_status(int argc, char **argv);

/* ---- the instruction set the binary was built for (isa.c) -------------------------------------------- */

/* Functions that run before the instruction-set check (main, the check itself) are compiled for the x86-64
 * baseline, so that a binary built with -march=native for a newer CPU reaches the check on an older one
 * instead of dying of an illegal instruction. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SB_BASELINE_ISA __attribute__((target("arch=x86-64")))
#else
#define SB_BASELINE_ISA
#endif

typedef struct {
    const char *name;   /* as /proc/cpuinfo and __builtin_cpu_supports name it: "avx2", "avx512f", ... */
    bool built_for;     /* the compiler was allowed to use it (-march) */
    bool supported;     /* the CPU running the binary has it */
} sb_isa_feature;

/* The names of the features built for but not supported, space-separated, into out ("" when none). */
void sb_isa_missing(const sb_isa_feature *features, size_t n, char *out, size_t cap);
/* Checks this binary against this CPU: true, or false after printing on stderr what is missing and what to
 * do (build on this CPU type, or for a baseline every node has). */
bool sb_isa_check(void) SB_BASELINE_ISA;

#endif

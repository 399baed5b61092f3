/* submit.c — a sweep or a probe as a Slurm job array: the two batch scripts (one array task per shard, each
 * running this binary on its shard into its own folder and resuming what it recorded before; a job after
 * them that merges the shards, draws the report and names what is missing), the submission and its plan,
 * --resume (only the shards with missing points), and --wait. */
#include "cli/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A task killed by a signal (kill -9, the OOM killer) requeues itself at most this often. */
#define SB_TASK_RESTARTS 2
/* Seconds before its time limit that Slurm signals a task to requeue itself. */
#define SB_TASK_SIGNAL_S 120
/* Points named in a message before "and N more". */
#define SB_NAMED_MAX 20

int sb_slurm_task_count(const char *cmd, const sb_slurm_options *o, size_t points, size_t groups, int *count)
{
    if ((o->tasks > 0) == (o->points_per_task > 0))
        return sb_cli_error(cmd, SB_EXIT_USAGE, "--slurm needs one of --tasks N or --points-per-task K");
    if (points == 0)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "nothing to submit: the %s has no points", cmd);
    size_t n = o->tasks > 0 ? (size_t)o->tasks : (points + (size_t)o->points_per_task - 1) / (size_t)o->points_per_task;
    if (n > groups) {
        fprintf(stderr, "shapebench %s: %zu tasks asked, but %zu %s cannot be split further: %zu tasks\n", cmd, n,
                groups, strcmp(cmd, "sweep") == 0 ? "shapes" : "points", groups);
        n = groups;
    }
    *count = n > SB_SLURM_TASKS_MAX ? SB_SLURM_TASKS_MAX : (int)n;
    return SB_EXIT_OK;
}

int sb_slurm_task_threads(const char *cmd, const sb_slurm_options *o, int *threads)
{
    int64_t cpus = o->cpus_per_task;
    sb_error err;
    if (cpus == 0 && sb_slurm_partition_cpus(o->partition, &cpus, &err) != 0)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "%s", err.msg);
    *threads = (int)cpus;
    return SB_EXIT_OK;
}

/* ---- the scripts ----------------------------------------------------------------------------------------- */

typedef struct {
    const sb_slurm_options *o;
    const sb_slurm_work *w;
    char bin[SB_PATH_MAX], cwd[SB_PATH_MAX], dir[SB_PATH_MAX]; /* absolute: tasks start elsewhere */
    int threads;
} script_ctx;

static void words(sb_strbuf *b, const char *const *argv, size_t argc)
{
    for (size_t i = 0; i < argc; i++) {
        sb_strbuf_append(b, " ", 1);
        sb_strbuf_shell_word(b, argv[i]);
    }
}

/* The #SBATCH lines both jobs share (Slurm reads them; each holds one option, as given). */
static void shared_sbatch_lines(sb_strbuf *b, const script_ctx *c)
{
    sb_strbuf_printf(b, "#SBATCH --chdir=%s\n", c->cwd);
    if (c->o->partition != NULL)
        sb_strbuf_printf(b, "#SBATCH --partition=%s\n", c->o->partition);
    if (c->o->account != NULL)
        sb_strbuf_printf(b, "#SBATCH --account=%s\n", c->o->account);
    if (c->o->time != NULL)
        sb_strbuf_printf(b, "#SBATCH --time=%s\n", c->o->time);
    for (size_t i = 0; i < c->o->nsbatch_args; i++)
        sb_strbuf_printf(b, "#SBATCH %s\n", c->o->sbatch_args[i]);
}

static void task_script(sb_strbuf *b, const script_ctx *c, bool exclusive)
{
    const sb_slurm_work *w = c->w;
    sb_strbuf_printf(b,
                     "#!/bin/bash\n"
                     "# shapebench %s \"%s\" on Slurm: array task i measures shard i+1 of %d into\n"
                     "# %s/shard-<i+1>of%d, resuming whatever an earlier run of that task recorded.\n"
                     "# Written by `shapebench %s --slurm`; `shapebench %s --slurm --resume %s` resubmits the\n"
                     "# shards with missing points (by hand: sbatch --array=<shard-1>,... this file).\n",
                     w->cmd, w->run, w->nshards, c->dir, w->nshards, w->cmd, w->cmd, c->dir);
    sb_strbuf_printf(b, "#SBATCH --job-name=shapebench-%s\n", w->run);
    sb_strbuf_printf(b, "#SBATCH --output=%s/slurm/logs/%%A_%%a.out\n", c->dir);
    sb_strbuf_printf(b, "#SBATCH --open-mode=append\n#SBATCH --requeue\n#SBATCH --signal=B:USR1@%d\n",
                     SB_TASK_SIGNAL_S);
    sb_strbuf_printf(b, "#SBATCH --cpus-per-task=%d\n", c->threads);
    if (exclusive)
        sb_strbuf_printf(b, "#SBATCH --exclusive\n");
    shared_sbatch_lines(b, c);
    sb_strbuf_printf(b, "set -u\n"
                        "shard=$((SLURM_ARRAY_TASK_ID + 1))\n"
                        "task=${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID} # requeue this task, not the whole array\n"
                        "restarts=${SLURM_RESTART_COUNT:-0}\n"
                        "echo \"shapebench task: shard $shard of %d, job $task on ${SLURMD_NODENAME:-$(hostname)}, "
                        "restart $restarts, $(date -u +%%Y-%%m-%%dT%%H:%%M:%%SZ)\"\n",
                     w->nshards);
    sb_strbuf_printf(b, "# Slurm signals this script %d s before the time limit: requeue, and resume when restarted.\n"
                        "trap 'echo \"shapebench task: time limit near: requeueing\"; "
                        "scontrol requeue \"$task\"' USR1\n",
                     SB_TASK_SIGNAL_S);
    sb_strbuf_shell_word(b, c->bin);
    words(b, w->task_argv, w->task_argc);
    sb_strbuf_printf(b, " --threads \"$SLURM_CPUS_PER_TASK\" --run ");
    sb_strbuf_shell_word(b, w->run);
    sb_strbuf_printf(b, " --shard \"$shard/%d\" \\\n    --out ", w->nshards);
    sb_strbuf_shell_word(b, c->dir);
    sb_strbuf_printf(b, "\"/shard-${shard}of%d\" &\n", w->nshards);
    sb_strbuf_printf(b,
                     "pid=$!\n"
                     "echo \"shapebench task: pid $pid\"\n"
                     "wait \"$pid\"\n"
                     "rc=$?\n"
                     "while kill -0 \"$pid\" 2>/dev/null; do wait \"$pid\"; rc=$?; done # a trapped signal ends wait\n"
                     "echo \"shapebench task: exit $rc\"\n"
                     "# Killed by a signal (kill -9, the OOM killer): requeue, at most %d times; the restart resumes.\n"
                     "if [ \"$rc\" -gt 128 ] && [ \"$restarts\" -lt %d ]; then\n"
                     "    echo \"shapebench task: killed by signal $((rc - 128)): requeueing\"\n"
                     "    scontrol requeue \"$task\"\n"
                     "fi\n"
                     "exit \"$rc\"\n",
                     SB_TASK_RESTARTS, SB_TASK_RESTARTS);
}

static void merge_script(sb_strbuf *b, const script_ctx *c)
{
    const sb_slurm_work *w = c->w;
    sb_strbuf_printf(b,
                     "#!/bin/bash\n"
                     "# shapebench %s \"%s\" on Slurm, once every array task has ended: joins the shards into\n"
                     "# %s, draws the pictures and the report, and names the points that are missing or\n"
                     "# failed (exit 1 when any is missing). Written by `shapebench %s --slurm`.\n",
                     w->cmd, w->run, c->dir, w->cmd);
    sb_strbuf_printf(b, "#SBATCH --job-name=shapebench-%s-merge\n", w->run);
    sb_strbuf_printf(b, "#SBATCH --output=%s/slurm/logs/merge-%%j.out\n#SBATCH --open-mode=append\n", c->dir);
    shared_sbatch_lines(b, c);
    sb_strbuf_printf(b, "set -u\nbin=");
    sb_strbuf_shell_word(b, c->bin);
    sb_strbuf_printf(b, "\ndir=");
    sb_strbuf_shell_word(b, c->dir);
    sb_strbuf_printf(b, "\n\"$bin\" merge \"$dir\"/shard-*of%d --out \"$dir\" || exit 1\n"
                        "\"$bin\" plots --run \"$dir\" || echo \"shapebench task: no pictures (the error above)\"\n"
                        "\"$bin\" status \"$dir\" --check\n",
                     w->nshards);
}

/* ---- submitting -------------------------------------------------------------------------------------------- */

static int absolute(const char *path, const char *cwd, char *out, size_t cap, sb_error *err)
{
    const int n = path[0] == '/' ? snprintf(out, cap, "%s", path) : snprintf(out, cap, "%s/%s", cwd, path);
    if (n >= (int)cap)
        return sb_fail(err, "path too long: %s", path);
    for (size_t len = strlen(out); len > 1 && out[len - 1] == '/';)
        out[--len] = '\0';
    return 0;
}

static int script_paths(const char *dir, char *task, char *merge, size_t cap, sb_error *err)
{
    if (snprintf(task, cap, "%s/slurm/task.sh", dir) >= (int)cap ||
        snprintf(merge, cap, "%s/slurm/merge.sh", dir) >= (int)cap)
        return sb_fail(err, "path too long: %s", dir);
    return 0;
}

/* "--array=0,2-3": the array indices (shard - 1) of the shards. */
static void array_arg(const int *shards, size_t n, char *out, size_t cap)
{
    size_t used = (size_t)snprintf(out, cap, "--array=");
    for (size_t i = 0; i < n && used < cap; i++) {
        size_t j = i;
        while (j + 1 < n && shards[j + 1] == shards[j] + 1)
            j++;
        used += (size_t)snprintf(out + used, cap - used, i > 0 ? ",%d" : "%d", shards[i] - 1);
        if (j > i && used < cap)
            used += (size_t)snprintf(out + used, cap - used, "-%d", shards[j] - 1);
        i = j;
    }
}

/* sbatch's options from the command line: --resume's overrides of what the scripts say. */
static size_t override_args(const sb_slurm_options *o, char (*buf)[256], char **args)
{
    size_t n = 0;
    const struct {
        const char *name, *value;
    } given[] = {{"partition", o->partition}, {"time", o->time}, {"account", o->account}};
    for (size_t i = 0; i < 3; i++)
        if (given[i].value != NULL) {
            snprintf(buf[n], sizeof buf[n], "--%s=%s", given[i].name, given[i].value);
            args[n] = buf[n];
            n++;
        }
    for (size_t i = 0; i < o->nsbatch_args; i++)
        args[n++] = (char *)o->sbatch_args[i];
    return n;
}

/* Submits the array for `shards` and the merge job after it, recording both in the plan; with --dry-run
 * prints the two sbatch commands instead. A resubmission passes o's sbatch options over the scripts'. */
static int submit_jobs(const char *cmd, const sb_slurm_options *o, sb_slurm_plan *plan, const int *shards,
                       size_t nshards, bool resubmission)
{
    char task[SB_PATH_MAX + 32], merge[SB_PATH_MAX + 32], array[4096], after[64], bufs[3][256];
    sb_error err;
    if (script_paths(plan->dir, task, merge, sizeof task, &err) != 0)
        return sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
    array_arg(shards, nshards, array, sizeof array);
    char *args[SB_SBATCH_ARGS_MAX + 8];
    size_t n = resubmission ? override_args(o, bufs, args) : 0;
    if (o->dry_run) {
        printf("sbatch --parsable %s", array);
        for (size_t i = 0; i < n; i++)
            printf(" %s", args[i]);
        printf(" %s\nsbatch --parsable --dependency=afterany:<array job>", task);
        for (size_t i = 0; i < n; i++)
            printf(" %s", args[i]);
        printf(" %s\n", merge);
        fflush(stdout);
        return SB_EXIT_OK;
    }
    int64_t array_job, merge_job;
    args[n] = array;
    args[n + 1] = task;
    if (sb_slurm_sbatch(args, n + 2, &array_job, &err) != 0)
        return sb_cli_error(cmd, SB_EXIT_FAILURE, "submitting the array: %s", err.msg);
    snprintf(after, sizeof after, "--dependency=afterany:%lld", (long long)array_job);
    args[n] = after;
    args[n + 1] = merge;
    if (sb_slurm_sbatch(args, n + 2, &merge_job, &err) != 0)
        return sb_cli_error(cmd, SB_EXIT_FAILURE, "array job %lld is in; submitting the merge job: %s (cancel it with "
                            "scancel %lld, or resubmit %s)", (long long)array_job, err.msg, (long long)array_job,
                            merge);
    if (sb_slurm_plan_add(plan, array_job, merge_job, shards, nshards, &err) != 0 ||
        sb_slurm_plan_save(plan, &err) != 0)
        return sb_cli_error(cmd, SB_EXIT_FAILURE, "jobs %lld and %lld are in, but: %s", (long long)array_job,
                            (long long)merge_job, err.msg);
    fprintf(stderr, "shapebench %s: submitted array job %lld (%zu of %d shards) and merge job %lld after it; watch "
            "with: shapebench status %s\n", cmd, (long long)array_job, nshards, plan->tasks, (long long)merge_job,
            plan->dir);
    return SB_EXIT_OK;
}

/* ---- waiting ----------------------------------------------------------------------------------------------- */

/* Points planned and recorded over every shard; the missing ones named on stderr when `name` is set. */
static void run_progress(const char *cmd, const sb_slurm_plan *plan, size_t *done, size_t *planned, bool name)
{
    *done = *planned = 0;
    size_t named = 0;
    for (int shard = 1; shard <= plan->tasks; shard++) {
        char dir[SB_PATH_MAX + 32];
        sb_slurm_shard_dir(plan, shard, dir, sizeof dir);
        sb_folder_progress p;
        sb_error err;
        if (sb_folder_progress_load(dir, &p, NULL, NULL, &err) != 0) {
            fprintf(stderr, "shapebench %s: warning: %s\n", cmd, err.msg);
            continue;
        }
        *done += p.done;
        *planned += p.points.count;
        for (size_t i = 0; name && i < p.points.count; i++)
            if (!sb_folder_progress_has(&p, i) && named++ < SB_NAMED_MAX)
                fprintf(stderr, "shapebench %s: missing (shard %d): %s\n", cmd, shard, p.points.keys[i]);
        sb_folder_progress_free(&p);
    }
    if (named > SB_NAMED_MAX)
        fprintf(stderr, "shapebench %s: ... and %zu more missing (shapebench status %s)\n", cmd, named - SB_NAMED_MAX,
                plan->dir);
}

/* Until the merge job of the plan's latest submission has ended; then SB_EXIT_FAILURE when a point is
 * missing or the merge job did not complete. Polls squeue every 1 s, backing off to 10 s. */
static int wait_for_merge(const char *cmd, const sb_slurm_plan *plan)
{
    const int64_t merge = plan->subs[plan->nsubs - 1].merge_job;
    char last[256] = "", state[32] = "";
    for (unsigned pause = 1;; pause = pause < 10 ? pause * 2 : 10) {
        sb_slurm_queue q;
        sb_error err;
        if (sb_slurm_queue_read(&merge, 1, &q, &err) != 0)
            return sb_cli_error(cmd, SB_EXIT_FAILURE, "waiting for merge job %lld: %s", (long long)merge, err.msg);
        const sb_slurm_job *job = sb_slurm_queue_find(&q, merge, -1);
        snprintf(state, sizeof state, "%s", job != NULL ? job->state : "");
        char line[256], described[160];
        size_t done, planned;
        run_progress(cmd, plan, &done, &planned, false);
        sb_slurm_job_describe(job, described, sizeof described);
        snprintf(line, sizeof line, "%zu of %zu points recorded; merge job %lld %s", done, planned, (long long)merge,
                 described);
        sb_slurm_queue_free(&q);
        if (strcmp(line, last) != 0)
            fprintf(stderr, "shapebench %s: waiting: %s\n", cmd, line);
        snprintf(last, sizeof last, "%s", line);
        if (state[0] == '\0' || !sb_slurm_state_active(state))
            break;
        sleep(pause);
    }
    size_t done, planned;
    run_progress(cmd, plan, &done, &planned, true);
    if (done < planned)
        return sb_cli_error(cmd, SB_EXIT_FAILURE, "%zu of %zu points are missing (above); resubmit their shards with: "
                            "shapebench %s --slurm --resume %s", planned - done, planned, cmd, plan->dir);
    if (state[0] != '\0' && strcmp(state, "COMPLETED") != 0)
        return sb_cli_error(cmd, SB_EXIT_FAILURE, "merge job %lld ended %s: see %s/slurm/logs/merge-%lld.out",
                            (long long)merge, state, plan->dir, (long long)merge);
    fprintf(stderr, "shapebench %s: all %zu points recorded; merged into %s\n", cmd, planned, plan->dir);
    return SB_EXIT_OK;
}

/* ---- the two entry points ---------------------------------------------------------------------------------- */

static int write_text(const char *path, const char *text, sb_error *err)
{
    return sb_mkdir_parent(path, err) != 0 ? -1 : sb_write_text_atomic(path, text, false, err);
}

/* Each shard's points and expected cost, on stderr. */
static size_t describe_shards(const sb_slurm_work *w)
{
    size_t points = 0;
    for (int i = 0; i < w->nshards; i++) {
        double cost = 0;
        for (size_t k = 0; k < w->shards[i].count; k++)
            cost += w->shards[i].cost_s[k];
        char dur[32];
        sb_format_duration(cost, dur, sizeof dur);
        fprintf(stderr, "shapebench %s: shard %d of %d: %zu points, expected %s on the reference machine\n", w->cmd,
                i + 1, w->nshards, w->shards[i].count, dur);
        points += w->shards[i].count;
    }
    return points;
}

/* The run's files before its first submission: each shard's points, the scripts, the logs' folder, the plan. */
static int write_run(const sb_slurm_work *w, const sb_slurm_plan *plan, const char *task_path, const char *task,
                     const char *merge_path, const char *merge, sb_error *err)
{
    for (int i = 0; i < w->nshards; i++) {
        char dir[SB_PATH_MAX + 32];
        sb_slurm_shard_dir(plan, i + 1, dir, sizeof dir);
        if (sb_points_write(dir, &w->shards[i], err) != 0)
            return -1;
    }
    char logs[SB_PATH_MAX + 32];
    sb_fmt(logs, sizeof logs, "%s/slurm/logs", plan->dir);
    return write_text(task_path, task, err) != 0 || write_text(merge_path, merge, err) != 0 ||
                   sb_mkdir_p(logs, err) != 0 || sb_slurm_plan_save(plan, err) != 0
               ? -1
               : 0;
}

int sb_slurm_submit(const sb_slurm_options *o, const sb_slurm_work *w)
{
    const char *cmd = w->cmd;
    script_ctx c = {.o = o, .w = w};
    sb_error err;
    const ssize_t len = readlink("/proc/self/exe", c.bin, sizeof c.bin - 1);
    if (len <= 0 || getcwd(c.cwd, sizeof c.cwd) == NULL)
        return sb_cli_error(cmd, SB_EXIT_FAILURE, "cannot find this binary or the current folder: %s", strerror(errno));
    c.bin[len] = '\0';
    char task_path[SB_PATH_MAX + 32], merge_path[SB_PATH_MAX + 32];
    if (absolute(w->out, c.cwd, c.dir, sizeof c.dir, &err) != 0 ||
        script_paths(c.dir, task_path, merge_path, sizeof task_path, &err) != 0)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "%s", err.msg);
    sb_slurm_plan plan = {.tasks = w->nshards};
    if (sb_slurm_plan_load(c.dir, &plan, &err) == 0) {
        sb_slurm_plan_free(&plan);
        return sb_cli_error(cmd, SB_EXIT_USAGE, "%s already holds a Slurm run: resume it (shapebench %s --slurm "
                            "--resume %s) or choose another --out", c.dir, cmd, c.dir);
    }
    plan = (sb_slurm_plan){.tasks = w->nshards};
    snprintf(plan.dir, sizeof plan.dir, "%s", c.dir);
    snprintf(plan.cmd, sizeof plan.cmd, "%s", cmd);
    snprintf(plan.run, sizeof plan.run, "%s", w->run);
    sb_strbuf task = {0}, merge = {0};
    c.threads = w->threads;
    task_script(&task, &c, o->exclusive >= 0 ? o->exclusive == 1 : w->exclusive);
    merge_script(&merge, &c);
    int *shards = malloc((size_t)w->nshards * sizeof *shards);
    int rc = SB_EXIT_FAILURE;
    if (shards == NULL || sb_strbuf_failed(&task) || sb_strbuf_failed(&merge)) {
        sb_cli_error(cmd, SB_EXIT_FAILURE, "out of memory writing the scripts");
        goto done;
    }
    for (int i = 0; i < w->nshards; i++)
        shards[i] = i + 1;
    const size_t points = describe_shards(w);
    if (o->dry_run) {
        printf("# ---- %s ----\n%s\n# ---- %s ----\n%s\n", task_path, sb_strbuf_text(&task), merge_path,
               sb_strbuf_text(&merge));
    } else if (write_run(w, &plan, task_path, sb_strbuf_text(&task), merge_path, sb_strbuf_text(&merge), &err) != 0) {
        sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
        goto done;
    } else {
        fprintf(stderr, "shapebench %s: %zu points in %d shards; scripts in %s/slurm\n", cmd, points, w->nshards,
                c.dir);
    }
    rc = submit_jobs(cmd, o, &plan, shards, (size_t)w->nshards, false);
    if (rc == SB_EXIT_OK && o->wait && !o->dry_run)
        rc = wait_for_merge(cmd, &plan);
done:
    free(shards);
    sb_strbuf_free(&task);
    sb_strbuf_free(&merge);
    sb_slurm_plan_free(&plan);
    return rc;
}

/* Whether a job of the shard's latest submission may still run it. */
static bool shard_active(const sb_slurm_plan *plan, const sb_slurm_queue *q, int shard)
{
    const sb_slurm_submission *s = sb_slurm_plan_latest(plan, shard);
    const sb_slurm_job *job = s != NULL ? sb_slurm_queue_find(q, s->array_job, shard - 1) : NULL;
    return job != NULL && sb_slurm_state_active(job->state);
}

int sb_slurm_resume(const char *cmd, const sb_slurm_options *o)
{
    if (o->tasks > 0 || o->points_per_task > 0 || o->cpus_per_task > 0 || o->exclusive >= 0)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "--resume keeps the run's shards, CPUs and exclusivity (its "
                            "scripts); it takes --wait, --dry-run, --partition, --time, --account and --sbatch-arg");
    sb_slurm_plan plan;
    sb_error err;
    if (sb_slurm_plan_load(o->resume, &plan, &err) != 0)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "%s", err.msg);
    int rc = SB_EXIT_FAILURE;
    int64_t *arrays = calloc(plan.nsubs ? plan.nsubs : 1, sizeof *arrays);
    int *shards = calloc((size_t)plan.tasks, sizeof *shards);
    sb_slurm_queue q = {0};
    if (arrays == NULL || shards == NULL) {
        sb_cli_error(cmd, SB_EXIT_FAILURE, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < plan.nsubs; i++)
        arrays[i] = plan.subs[i].array_job;
    if (sb_slurm_queue_read(arrays, plan.nsubs, &q, &err) != 0) {
        sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
        goto done;
    }
    size_t n = 0, active = 0;
    for (int shard = 1; shard <= plan.tasks; shard++) {
        char dir[SB_PATH_MAX + 32];
        sb_slurm_shard_dir(&plan, shard, dir, sizeof dir);
        sb_folder_progress p;
        if (sb_folder_progress_load(dir, &p, sb_cli_warn, (void *)cmd, &err) != 0) {
            sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
            goto done;
        }
        const bool complete = p.done == p.points.count;
        sb_folder_progress_free(&p);
        if (complete)
            continue;
        if (shard_active(&plan, &q, shard)) {
            active++;
            fprintf(stderr, "shapebench %s: shard %d of %d is still queued or running: left to it\n", cmd, shard,
                    plan.tasks);
            continue;
        }
        shards[n++] = shard;
    }
    if (n == 0) {
        fprintf(stderr, "shapebench %s: nothing to resubmit: %s\n", cmd,
                active > 0 ? "the incomplete shards are still queued or running" : "every shard has all its points");
        rc = SB_EXIT_OK;
        goto done;
    }
    fprintf(stderr, "shapebench %s: resubmitting %zu of %d shards (those with missing points)\n", cmd, n, plan.tasks);
    rc = submit_jobs(cmd, o, &plan, shards, n, true);
    if (rc == SB_EXIT_OK && o->wait && !o->dry_run)
        rc = wait_for_merge(cmd, &plan);
done:
    sb_slurm_queue_free(&q);
    free(arrays);
    free(shards);
    sb_slurm_plan_free(&plan);
    return rc;
}

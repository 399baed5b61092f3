/* cmd_status.c — `shapebench status DIR`: how far a run is. Per shard (or for the one folder of a run on this
 * machine): points recorded of those planned, the verdicts so far, the Slurm job and its state from squeue,
 * why a finished task failed (its log), and what the missing points should still take; then the missing and
 * the failed points by name. */
#include "cli/cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char status_usage[] =
    "usage: shapebench status DIR [--check]\n"
    "\n"
    "How far the run in DIR is: per shard of a Slurm run (sweep or probe --slurm), else for DIR itself, the\n"
    "points recorded of those planned (<folder>/points.tsv), the verdicts so far, the job and its state in\n"
    "squeue, the error line of a task that failed, and an ETA (the missing points' expected cost at the peaks\n"
    "the folder's node measured); then the missing and failed points by name.\n"
    "  --check    exit 1 when a planned point has no record\n";

#define NAMED_MAX 50

typedef struct {
    size_t done, planned, verdicts[SB_TALLY_COUNT];
    size_t missing_named, failed_named;
    double eta_s; /* the longest of the shards still to run */
} totals;

static void print_header(void)
{
    printf("%-8s %-11s", "shard", "points");
    for (int t = 0; t < SB_TALLY_COUNT; t++)
        printf(" %*s", t == SB_TALLY_EXTRAPOLATED ? 12 : 9, sb_tally_name((sb_tally)t));
    printf("  %-12s %-30s %s\n", "job", "state", "ETA");
}

/* One folder's row; its missing and failed points named after the table (collected into `names`). */
static void print_row(const char *label, const sb_folder_progress *p, const char *job, const char *state, bool running,
                      totals *tot, sb_strbuf *names)
{
    char points[32], eta[32] = "-";
    if (p->planned)
        snprintf(points, sizeof points, "%zu/%zu", p->done, p->points.count);
    else
        snprintf(points, sizeof points, "%zu/?", p->done);
    if (p->planned && p->done < p->points.count) {
        const double s = sb_folder_progress_eta_s(p);
        sb_format_duration(s, eta, sizeof eta);
        if (!running && job[0] != '\0')
            snprintf(eta, sizeof eta, "not running");
        else if (s > tot->eta_s)
            tot->eta_s = s;
    }
    printf("%-8s %-11s", label, points);
    for (int t = 0; t < SB_TALLY_COUNT; t++)
        printf(" %*zu", t == SB_TALLY_EXTRAPOLATED ? 12 : 9, p->verdicts[t]);
    printf("  %-12s %-30s %s\n", job[0] ? job : "-", state[0] ? state : "-", eta);
    tot->done += p->done;
    tot->planned += p->points.count;
    for (int t = 0; t < SB_TALLY_COUNT; t++)
        tot->verdicts[t] += p->verdicts[t];
    if (p->unreadable[0] != '\0')
        sb_strbuf_printf(names, "unreadable (%s): %s\n", label, p->unreadable);
    for (size_t i = 0; i < p->points.count; i++)
        if (!sb_folder_progress_has(p, i) && tot->missing_named++ < NAMED_MAX)
            sb_strbuf_printf(names, "missing (%s): %s\n", label, p->points.keys[i]);
    for (size_t i = 0; i < p->records.count; i++) {
        const char *verdict = sb_field_string(p->records.items[i], SB_F_VERDICT);
        if (verdict != NULL && strncmp(verdict, "failed", 6) == 0 && tot->failed_named++ < NAMED_MAX)
            sb_strbuf_printf(names, "failed (%s): %s: %s\n", label, sb_record_key_of(p->records.items[i]), verdict);
    }
}

/* The shard's task in its latest submission: its id and state into job and state (squeue's while the
 * controller holds it, else what its log says), and why it failed, when it did, into names. Returns whether it
 * may still run. q NULL: squeue could not be asked. */
static bool shard_job(const sb_slurm_plan *plan, const sb_slurm_queue *q, int shard, char job[32], char state[160],
                      sb_strbuf *names)
{
    const sb_slurm_submission *s = sb_slurm_plan_latest(plan, shard);
    if (s == NULL)
        return false;
    snprintf(job, 32, "%lld_%d", (long long)s->array_job, shard - 1);
    const sb_slurm_job *j = q != NULL ? sb_slurm_queue_find(q, s->array_job, shard - 1) : NULL;
    const bool running = j != NULL && sb_slurm_state_active(j->state);
    sb_slurm_task_log log;
    sb_slurm_task_log_read(plan, s->array_job, shard - 1, &log);
    if (j != NULL)
        sb_slurm_job_describe(j, state, 160);
    else if (log.found && log.exited)
        snprintf(state, 160, "ended (exit %d)", log.exit_status);
    else if (log.found)
        snprintf(state, 160, "ended without finishing");
    else
        snprintf(state, 160, q != NULL ? "not in squeue, no log" : "unknown (no squeue)");
    if (!running && log.found && (!log.exited || log.exit_status != 0))
        sb_strbuf_printf(names, "task %s (shard %d/%d) %s: %s\n    log: %s/slurm/logs/%s.out\n", job, shard,
                         plan->tasks, log.exited ? "failed" : "ended without finishing",
                         log.why[0] ? log.why : "no error line in its log", plan->dir, job);
    return running;
}

/* The shards of a Slurm run, their jobs in squeue and their logs. */
static int slurm_status(const char *cmd, const sb_slurm_plan *plan, totals *tot, sb_strbuf *names)
{
    int64_t *jobs = calloc(plan->nsubs * 2 + 1, sizeof *jobs);
    if (jobs == NULL)
        return sb_cli_error(cmd, SB_EXIT_FAILURE, "out of memory");
    for (size_t i = 0; i < plan->nsubs; i++) {
        jobs[2 * i] = plan->subs[i].array_job;
        jobs[2 * i + 1] = plan->subs[i].merge_job;
    }
    sb_slurm_queue q;
    sb_error err;
    const int qrc = sb_slurm_queue_read(jobs, plan->nsubs * 2, &q, &err);
    free(jobs);
    if (qrc != 0)
        fprintf(stderr, "shapebench %s: warning: no job states: %s\n", cmd, err.msg);
    const sb_slurm_submission *last = plan->nsubs > 0 ? &plan->subs[plan->nsubs - 1] : NULL;
    printf("%s: %s \"%s\" on Slurm, %d shards, %zu submissions", plan->dir, plan->cmd, plan->run, plan->tasks,
           plan->nsubs);
    if (last != NULL) {
        char merge[160];
        sb_slurm_job_describe(qrc == 0 ? sb_slurm_queue_find(&q, last->merge_job, -1) : NULL, merge, sizeof merge);
        printf("; latest %s: array job %lld, merge job %lld %s", last->date, (long long)last->array_job,
               (long long)last->merge_job, qrc == 0 ? merge : "(state unknown)");
    }
    printf("\n\n");
    print_header();
    for (int shard = 1; shard <= plan->tasks; shard++) {
        char dir[SB_PATH_MAX + 32], label[32], job[32] = "", state[160] = "";
        sb_slurm_shard_dir(plan, shard, dir, sizeof dir);
        snprintf(label, sizeof label, "%d/%d", shard, plan->tasks);
        sb_folder_progress p;
        if (sb_folder_progress_load(dir, &p, sb_cli_warn, (void *)cmd, &err) != 0) {
            sb_slurm_queue_free(&q);
            return sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
        }
        const bool running = shard_job(plan, qrc == 0 ? &q : NULL, shard, job, state, names);
        print_row(label, &p, job, state, running || qrc != 0, tot, names);
        sb_folder_progress_free(&p);
    }
    sb_slurm_queue_free(&q);
    return SB_EXIT_OK;
}

int sb_cmd_status(int argc, char **argv)
{
    const char *cmd = "status";
    enum { O_CHECK = SB_OPT_OWN };
    static const struct option options[] = {{"check", no_argument, NULL, O_CHECK}, SB_OPTION_HELP, {NULL, 0, NULL, 0}};
    bool check = false;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        if (c == O_CHECK)
            check = true;
        else if (c == SB_OPT_HELP)
            return fputs(status_usage, stdout), SB_EXIT_OK;
        else
            return sb_opt_bad(cmd, c, argv, options);
    }
    if (optind + 1 != argc)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "usage: shapebench status DIR [--check]");
    const char *dir = argv[optind];
    totals tot = {0};
    sb_strbuf names = {0};
    sb_slurm_plan plan;
    sb_error err;
    int rc = sb_slurm_plan_load(dir, &plan, &err);
    if (rc == 0) {
        rc = slurm_status(cmd, &plan, &tot, &names);
        sb_slurm_plan_free(&plan);
    } else if (rc == SB_TOOL_MISSING) {
        sb_folder_progress p;
        rc = sb_folder_progress_load(dir, &p, sb_cli_warn, (void *)cmd, &err) != 0
                 ? sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg)
                 : SB_EXIT_OK;
        if (rc == SB_EXIT_OK) {
            printf("%s: a run on one machine%s\n\n", dir,
                   p.planned ? "" : " (no points.tsv: what it plans is unknown)");
            print_header();
            print_row("all", &p, "", "", true, &tot, &names);
            sb_folder_progress_free(&p);
        }
    } else {
        rc = sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
    }
    if (rc != SB_EXIT_OK) {
        sb_strbuf_free(&names);
        return rc;
    }
    char eta[32] = "-";
    if (tot.done < tot.planned)
        sb_format_duration(tot.eta_s, eta, sizeof eta);
    printf("\n%zu of %zu planned points recorded (%zu failed); ETA %s\n", tot.done, tot.planned,
           tot.verdicts[SB_TALLY_FAILED], eta);
    if (tot.verdicts[SB_TALLY_CONTENDED] > 0)
        printf("%zu recorded contended (other work shared the cores): rerunning the command that measured them "
               "measures them again\n", tot.verdicts[SB_TALLY_CONTENDED]);
    fputs(sb_strbuf_text(&names), stdout);
    if (tot.missing_named > NAMED_MAX)
        printf("... and %zu more missing\n", tot.missing_named - NAMED_MAX);
    if (tot.failed_named > NAMED_MAX)
        printf("... and %zu more failed\n", tot.failed_named - NAMED_MAX);
    sb_strbuf_free(&names);
    if (check && tot.done < tot.planned)
        return sb_cli_error(cmd, SB_EXIT_FAILURE, "%zu of %zu planned points have no record", tot.planned - tot.done,
                            tot.planned);
    return SB_EXIT_OK;
}

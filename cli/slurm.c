/* slurm.c — speaking to Slurm: sinfo, sbatch and squeue run through sb_run_tool (argv, never a shell) and their
 * output parsed; the record of a run submitted to Slurm (<run>/slurm/plan.json: its shards and every
 * submission's job ids); and what a task's log says about how it ended (no accounting database needed). */
#include "cli/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- Slurm's tools ------------------------------------------------------------------------------------- */

/* Runs a Slurm tool; its stdout into *out. A failure's message carries the tool's first stderr line. */
static int slurm_tool(char *const argv[], char **out, int *status, sb_error *err)
{
    char errpath[] = "/tmp/shapebench-slurm-XXXXXX";
    const int fd = mkstemp(errpath);
    if (fd < 0)
        return sb_fail(err, "cannot create a temporary file: %s", strerror(errno));
    close(fd);
    const int rc = sb_run_tool_output(argv, &(sb_tool_io){.errf = errpath}, out, status, err);
    if (rc == 0 && *status != 0) {
        char *text = NULL;
        size_t len;
        if (sb_read_file(errpath, &text, &len, NULL) == 0)
            text[strcspn(text, "\n")] = '\0';
        sb_fail(err, "%s failed (exit %d): %s", argv[0], *status, text != NULL && *text ? text : "no message");
        free(text);
    }
    unlink(errpath);
    return rc;
}

int sb_slurm_sbatch(char *const *args, size_t nargs, int64_t *job, sb_error *err)
{
    char *argv[SB_SBATCH_ARGS_MAX + 16] = {"sbatch", "--parsable"};
    if (nargs + 3 > sizeof argv / sizeof argv[0])
        return sb_fail(err, "too many sbatch arguments (%zu)", nargs);
    memcpy(argv + 2, args, nargs * sizeof *args);
    argv[nargs + 2] = NULL;
    char *out;
    int status;
    const int rc = slurm_tool(argv, &out, &status, err);
    if (rc != 0)
        return rc == SB_TOOL_MISSING ? sb_fail(err, "sbatch not found: is this a Slurm login node?") : -1;
    if (status != 0) {
        free(out);
        return -1;
    }
    /* --parsable: "<job id>" or "<job id>;<cluster>" */
    char *end;
    errno = 0;
    const long long id = strtoll(out, &end, 10);
    const bool ok = end != out && errno == 0 && id > 0 && (*end == '\0' || *end == '\n' || *end == ';');
    if (!ok)
        sb_fail(err, "sbatch printed no job id: '%.80s'", out);
    free(out);
    *job = id;
    return ok ? 0 : -1;
}

int sb_slurm_partition_cpus(const char *partition, int64_t *cpus, sb_error *err)
{
    char *argv[] = {"sinfo", "--noheader", "--format=%P %c", NULL};
    char *out;
    int status;
    const int rc = slurm_tool(argv, &out, &status, err);
    if (rc != 0)
        return rc == SB_TOOL_MISSING ? sb_fail(err, "sinfo not found: pass --cpus-per-task (no Slurm here)") : -1;
    if (status != 0) {
        free(out);
        return -1;
    }
    /* One line per partition: "debug* 2" (the default marked), "big 64+" when its nodes differ. */
    int found = 0;
    for (char *save = NULL, *line = strtok_r(out, "\n", &save); line != NULL && found == 0;
         line = strtok_r(NULL, "\n", &save)) {
        char name[128], count[64];
        if (sscanf(line, "%127s %63s", name, count) != 2)
            continue;
        const size_t len = strlen(name);
        const bool is_default = len > 0 && name[len - 1] == '*';
        if (is_default)
            name[len - 1] = '\0';
        if (partition != NULL ? strcmp(name, partition) != 0 : !is_default)
            continue;
        found = sb_parse_i64(count, 1, 1 << 20, cpus) == 0 ? 1 : -1;
        if (found < 0)
            sb_fail(err, "the nodes of partition %s have different CPU counts (sinfo: %s): pass --cpus-per-task",
                    name, count);
    }
    free(out);
    if (found == 0)
        return sb_fail(err, partition != NULL ? "sinfo lists no partition %s" : "sinfo lists no default partition%s",
                       partition != NULL ? partition : ": pass --partition");
    return found > 0 ? 0 : -1;
}

bool sb_slurm_state_active(const char *state)
{
    static const char *const done[] = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY",
                                       "PREEMPTED", "BOOT_FAIL", "DEADLINE", "SPECIAL_EXIT", "REVOKED"};
    for (size_t i = 0; i < sizeof done / sizeof done[0]; i++)
        if (strncmp(state, done[i], strlen(done[i])) == 0)
            return false;
    return true;
}

static int queue_add(sb_slurm_queue *q, const sb_slurm_job *job, sb_error *err)
{
    sb_slurm_job *items = realloc(q->items, (q->count + 1) * sizeof *items);
    if (items == NULL)
        return sb_fail(err, "out of memory reading squeue");
    q->items = items;
    q->items[q->count++] = *job;
    return 0;
}

/* "12_3|RUNNING|n1|None" (an array task), "13|PENDING||Dependency". */
static bool parse_queue_line(char *line, sb_slurm_job *job)
{
    memset(job, 0, sizeof *job);
    char *fields[4] = {0};
    size_t n = 0;
    for (char *p = line; n < 4; n++) {
        fields[n] = p;
        char *bar = strchr(p, '|');
        if (bar == NULL) {
            n++;
            break;
        }
        *bar = '\0';
        p = bar + 1;
    }
    if (n < 4)
        return false;
    char *end;
    job->job = strtoll(fields[0], &end, 10);
    job->task = -1;
    if (*end == '_')
        job->task = (int)strtol(end + 1, &end, 10);
    if (*end != '\0' || job->job <= 0)
        return false;
    snprintf(job->state, sizeof job->state, "%s", fields[1]);
    snprintf(job->node, sizeof job->node, "%s", fields[2]);
    snprintf(job->reason, sizeof job->reason, "%s", fields[3]);
    return true;
}

int sb_slurm_queue_read(const int64_t *jobs, size_t n, sb_slurm_queue *q, sb_error *err)
{
    memset(q, 0, sizeof *q);
    /* One job per call: squeue refuses the whole list when one id has left the controller. */
    for (size_t i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "%lld", (long long)jobs[i]);
        char *argv[] = {"squeue", "--noheader", "--array", "--states=all", "--jobs", id, "--format=%i|%T|%N|%r", NULL};
        char *out;
        int status;
        const int rc = slurm_tool(argv, &out, &status, err);
        if (rc != 0) {
            sb_slurm_queue_free(q);
            return rc;
        }
        for (char *save = NULL, *line = strtok_r(out, "\n", &save); status == 0 && line != NULL;
             line = strtok_r(NULL, "\n", &save)) {
            sb_slurm_job job;
            if (parse_queue_line(line, &job) && queue_add(q, &job, err) != 0) {
                free(out);
                sb_slurm_queue_free(q);
                return -1;
            }
        }
        free(out);
    }
    return 0;
}

const sb_slurm_job *sb_slurm_queue_find(const sb_slurm_queue *q, int64_t job, int task)
{
    for (size_t i = 0; i < q->count; i++)
        if (q->items[i].job == job && q->items[i].task == task)
            return &q->items[i];
    return NULL;
}

void sb_slurm_job_describe(const sb_slurm_job *job, char *out, size_t cap)
{
    if (job == NULL)
        snprintf(out, cap, "ended (no longer in squeue)");
    else if (strcmp(job->state, "PENDING") == 0 && job->reason[0] != '\0' && strcmp(job->reason, "None") != 0)
        snprintf(out, cap, "PENDING (%s)", job->reason);
    else if (job->node[0] != '\0')
        snprintf(out, cap, "%s on %s", job->state, job->node);
    else
        snprintf(out, cap, "%s", job->state);
}

void sb_slurm_queue_free(sb_slurm_queue *q)
{
    free(q->items);
    memset(q, 0, sizeof *q);
}

/* ---- the plan: <run>/slurm/plan.json ------------------------------------------------------------------- */

#define PLAN_NAME "slurm/plan.json"

static int plan_path(const char *dir, char *out, size_t cap, sb_error *err)
{
    return snprintf(out, cap, "%s/%s", dir, PLAN_NAME) >= (int)cap ? sb_fail(err, "path too long: %s", dir) : 0;
}

void sb_slurm_shard_dir(const sb_slurm_plan *plan, int shard, char *out, size_t cap)
{
    sb_fmt(out, cap, "%s/shard-%dof%d", plan->dir, shard, plan->tasks);
}

int sb_slurm_plan_add(sb_slurm_plan *plan, int64_t array_job, int64_t merge_job, const int *shards, size_t n,
                      sb_error *err)
{
    sb_slurm_submission *subs = realloc(plan->subs, (plan->nsubs + 1) * sizeof *subs);
    if (subs == NULL)
        return sb_fail(err, "out of memory");
    plan->subs = subs;
    sb_slurm_submission *s = &subs[plan->nsubs];
    memset(s, 0, sizeof *s);
    if ((s->shards = malloc((n ? n : 1) * sizeof *s->shards)) == NULL)
        return sb_fail(err, "out of memory");
    memcpy(s->shards, shards, n * sizeof *shards);
    s->nshards = n;
    s->array_job = array_job;
    s->merge_job = merge_job;
    const time_t now = time(NULL);
    struct tm utc;
    if (gmtime_r(&now, &utc) == NULL || strftime(s->date, sizeof s->date, "%Y-%m-%dT%H:%M:%SZ", &utc) == 0)
        snprintf(s->date, sizeof s->date, "unknown");
    plan->nsubs++;
    return 0;
}

void sb_slurm_plan_free(sb_slurm_plan *plan)
{
    for (size_t i = 0; i < plan->nsubs; i++)
        free(plan->subs[i].shards);
    free(plan->subs);
    plan->subs = NULL;
    plan->nsubs = 0;
}

const sb_slurm_submission *sb_slurm_plan_latest(const sb_slurm_plan *plan, int shard)
{
    for (size_t i = plan->nsubs; i-- > 0;)
        for (size_t k = 0; k < plan->subs[i].nshards; k++)
            if (plan->subs[i].shards[k] == shard)
                return &plan->subs[i];
    return NULL;
}

int sb_slurm_plan_save(const sb_slurm_plan *plan, sb_error *err)
{
    char path[SB_PATH_MAX + 32];
    if (plan_path(plan->dir, path, sizeof path, err) != 0 || sb_mkdir_parent(path, err) != 0)
        return -1;
    cJSON *root = cJSON_CreateObject(), *subs = cJSON_AddArrayToObject(root, "submissions");
    cJSON_AddStringToObject(root, "command", plan->cmd);
    cJSON_AddStringToObject(root, "run", plan->run);
    cJSON_AddNumberToObject(root, "tasks", plan->tasks);
    for (size_t i = 0; subs != NULL && i < plan->nsubs; i++) {
        const sb_slurm_submission *s = &plan->subs[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "date", s->date);
        cJSON_AddNumberToObject(o, "array_job", (double)s->array_job);
        cJSON_AddNumberToObject(o, "merge_job", (double)s->merge_job);
        cJSON_AddItemToObject(o, "shards", cJSON_CreateIntArray(s->shards, (int)s->nshards));
        cJSON_AddItemToArray(subs, o);
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (text == NULL)
        return sb_fail(err, "out of memory writing %s", path);
    const int rc = sb_write_text_atomic(path, text, true, err);
    free(text);
    return rc;
}

static int64_t json_int(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : -1;
}

int sb_slurm_plan_load(const char *dir, sb_slurm_plan *plan, sb_error *err)
{
    memset(plan, 0, sizeof *plan);
    char path[SB_PATH_MAX + 32], *text;
    size_t len;
    if (plan_path(dir, path, sizeof path, err) != 0)
        return -1;
    if (access(path, F_OK) != 0 && errno == ENOENT) {
        sb_fail(err, "%s holds no Slurm run (no %s)", dir, PLAN_NAME);
        return SB_TOOL_MISSING;
    }
    if (sb_read_file(path, &text, &len, err) != 0)
        return -1;
    cJSON *root = cJSON_Parse(text);
    free(text);
    const char *cmd = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "command"));
    const char *run = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "run"));
    const int64_t tasks = json_int(root, "tasks");
    const cJSON *subs = cJSON_GetObjectItemCaseSensitive(root, "submissions");
    int rc = 0;
    if (cmd == NULL || run == NULL || tasks < 1 || tasks > SB_SLURM_TASKS_MAX || !cJSON_IsArray(subs)) {
        rc = sb_fail(err, "%s is not a shapebench Slurm plan", path);
    } else {
        snprintf(plan->cmd, sizeof plan->cmd, "%s", cmd);
        snprintf(plan->run, sizeof plan->run, "%s", run);
        /* The folder as given, not as it was submitted: it may have moved (the logs and shards move with it). */
        snprintf(plan->dir, sizeof plan->dir, "%s", dir);
        for (size_t len = strlen(plan->dir); len > 1 && plan->dir[len - 1] == '/';)
            plan->dir[--len] = '\0';
        plan->tasks = (int)tasks;
    }
    const cJSON *s, *each = rc == 0 ? subs : NULL;
    cJSON_ArrayForEach(s, each)
    {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(s, "shards"), *v;
        int shards[SB_SLURM_TASKS_MAX];
        size_t n = 0;
        cJSON_ArrayForEach(v, list) if (cJSON_IsNumber(v) && n < SB_SLURM_TASKS_MAX) shards[n++] = v->valueint;
        if ((rc = sb_slurm_plan_add(plan, json_int(s, "array_job"), json_int(s, "merge_job"), shards, n, err)) != 0)
            break;
        const char *date = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s, "date"));
        snprintf(plan->subs[plan->nsubs - 1].date, sizeof plan->subs[0].date, "%s", date != NULL ? date : "unknown");
    }
    cJSON_Delete(root);
    if (rc != 0)
        sb_slurm_plan_free(plan);
    return rc;
}

/* ---- task logs ------------------------------------------------------------------------------------------ */

/* The task script writes "shapebench task: exit <status>" when the command returns; the command's errors are
 * its lines "shapebench <cmd>: ..."; Slurm's own say "slurmstepd...: error: ...". */
void sb_slurm_task_log_read(const sb_slurm_plan *plan, int64_t job, int task, sb_slurm_task_log *out)
{
    memset(out, 0, sizeof *out);
    char path[SB_PATH_MAX + 64], *text;
    size_t len;
    sb_fmt(path, sizeof path, "%s/slurm/logs/%lld_%d.out", plan->dir, (long long)job, task);
    if (sb_read_file(path, &text, &len, NULL) != 0)
        return;
    out->found = true;
    char command_error[SB_ERROR_MAX] = "", slurm_error[SB_ERROR_MAX] = "";
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        if (sscanf(line, "shapebench task: exit %d", &out->exit_status) == 1)
            out->exited = true;
        else if (strncmp(line, "shapebench task: ", 17) == 0)
            continue;
        else if (strncmp(line, "shapebench ", 11) == 0 && strstr(line, ": warning: ") == NULL)
            snprintf(command_error, sizeof command_error, "%s", line);
        else if (strncmp(line, "slurmstepd", 10) == 0 && strstr(line, "error") != NULL)
            snprintf(slurm_error, sizeof slurm_error, "%s", line);
    }
    free(text);
    snprintf(out->why, sizeof out->why, "%s", slurm_error[0] != '\0' && !out->exited ? slurm_error : command_error);
}

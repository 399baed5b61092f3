/* jobs.c — what `run` and `sweep` share: measuring a list of jobs into a results folder (skipping the keys
 * already there unless their verdict is to be measured again, retrying contended points once the cores are
 * free, one record appended or replaced per point), where a run's folder is, and the points a list of jobs
 * plans (their keys and expected costs). */
#include "cli/cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Resolves every job's model and key. Two jobs of one key would be one measurement recorded once and
 * counted twice: refused, naming both. */
static int resolve_jobs(const sb_cli_runner *rn, const sb_job_list *jobs, sb_config *cfgs, char (*keys)[SB_KEY_MAX])
{
    if (jobs->bf16_on_openblas > 0)
        fprintf(stderr, "shapebench %s: note: %zu bf16 point%s on OpenBLAS left out: bf16 products run on oneDNN only "
                        "(Debian's OpenBLAS has no bf16 GEMM)\n",
                rn->cmd, jobs->bf16_on_openblas, jobs->bf16_on_openblas == 1 ? "" : "s");
    for (size_t i = 0; i < jobs->count; i++) {
        /* refused before anything runs: no point of a sweep is timed on reference kernels */
        sb_error err;
        if (sb_run_settings_check(&jobs->items[i].settings, &err) != 0)
            return sb_cli_error(rn->cmd, SB_EXIT_USAGE, "%s", err.msg);
    }
    for (size_t i = 0; i < jobs->count; i++) {
        sb_error err;
        if (sb_config_resolve(jobs->items[i].model, &cfgs[i], sb_cli_warn, (void *)rn->cmd, &err) != 0)
            return sb_cli_error(rn->cmd, SB_EXIT_USAGE, "%s", err.msg);
        sb_record_key(&cfgs[i], &jobs->items[i].settings, keys[i]);
        for (size_t j = 0; j < i; j++)
            if (strcmp(keys[j], keys[i]) == 0)
                return sb_cli_error(rn->cmd, SB_EXIT_USAGE, "'%s' and '%s' are the same shape with the same settings "
                                                           "(key %s): list it once", jobs->items[j].model,
                                    jobs->items[i].model, keys[i]);
    }
    return SB_EXIT_OK;
}

/* The machine peaks of each backend and thread count met in one invocation. */
typedef struct {
    struct {
        sb_gemm_backend gemm;
        int threads;
        bool measured;
        sb_peaks peaks;
    } items[8];
    size_t count;
} peaks_memo;

/* The peaks of a job's backend and threads (NULL when they cannot be measured, with a warning): measured
 * or read from the user's cache (sb_peaks_cache_dir) once per combination in this invocation, so an
 * unwritable cache costs one measurement and one warning, not one per job. */
static const sb_peaks *job_peaks(const sb_cli_runner *rn, peaks_memo *memo, const sb_run_settings *s)
{
    const int threads = sb_run_settings_threads(s);
    size_t i = 0;
    while (i < memo->count && (memo->items[i].gemm != s->gemm || memo->items[i].threads != threads))
        i++;
    if (i == memo->count) {
        if (i == sizeof memo->items / sizeof memo->items[0])
            i = 0; /* more combinations than a sweep lists: forget the first */
        else
            memo->count++;
        sb_peak_sizes sizes = sb_peak_sizes_default();
        sb_sysinfo sys;
        sb_exec *x = NULL;
        sb_error err;
        memo->items[i].gemm = s->gemm;
        memo->items[i].threads = threads;
        memo->items[i].measured = sb_run_settings_exec(s, &x, &err) == 0 && sb_sysinfo_collect(&sys, x, &err) == 0 &&
                                  sb_peaks_cached(x, &sys, &sizes, NULL, false, sb_cli_warn, (void *)rn->cmd,
                                                  &memo->items[i].peaks, &err) == 0;
        sb_exec_free(x);
        if (!memo->items[i].measured)
            sb_cli_warn((void *)rn->cmd, err.msg);
    }
    return memo->items[i].measured ? &memo->items[i].peaks : NULL;
}

bool sb_cli_remeasured(const sb_remeasure *r, const char *verdict)
{
    return verdict != NULL && ((r->contended && strncmp(verdict, "contended", 9) == 0) ||
                               (r->noisy && strcmp(verdict, "noisy") == 0));
}

sb_retry_waits sb_retry_waits_init(sb_load_source load)
{
    return (sb_retry_waits){.load = load, .first_wait_s = SB_RETRY_WAIT_S};
}

int sb_cli_measure_retrying(const char *cmd, const char *what, int retries, sb_retry_waits *waits, int threads,
                            sb_measure_fn measure, void *ctx, sb_measurement *m)
{
    measure(ctx, m);
    int retry = 0;
    double max_wait = waits->first_wait_s;
    while (retry < retries && strncmp(m->verdict, "contended", 9) == 0) {
        double waited, free_cores;
        const sb_wait_result w = sb_wait_for_free_cores(&waits->load, threads, max_wait, &waited, &free_cores);
        /* A load that outlasted a whole wait is likely to outlast the next point's: that one looks once. */
        waits->first_wait_s = w == SB_WAIT_BUSY ? SB_LOAD_SAMPLE_S : SB_RETRY_WAIT_S;
        if (w == SB_WAIT_BUSY) {
            fprintf(stderr, "shapebench %s: %s: contended (%.0f %% of its threads' CPU time), and the cores stayed "
                            "busy for %.0f s (%.1f free for %d threads): recorded contended; a rerun measures it "
                            "again\n", cmd, what, 100 * m->cpu_share, waited, free_cores, threads);
            break;
        }
        retry++;
        fprintf(stderr, "shapebench %s: %s: contended (%.0f %% of its threads' CPU time); retry %d of %d %s %.0f s\n",
                cmd, what, 100 * m->cpu_share, retry, retries,
                w == SB_WAIT_FREE ? "once the cores were free, after" : "(the load cannot be read) after", waited);
        sb_measurement_free(m);
        measure(ctx, m);
        max_wait = ldexp(SB_RETRY_WAIT_S, retry);
    }
    return retry;
}

/* What one sb_measure takes, for sb_cli_measure_retrying. */
typedef struct {
    const sb_job *job;
    const sb_config *cfg;
    const sb_peaks *peaks;
    sb_weights_cache *cache;
} measure_call;

static void measure_job(void *ctx, sb_measurement *m)
{
    const measure_call *c = ctx;
    sb_measure(c->job->model, c->cfg, &c->job->settings, c->peaks, c->cache, m);
}

/* Whether job i is to be measured: no record of its key yet, or one whose verdict is to be measured again. */
static bool to_measure(const sb_cli_runner *rn, const sb_results_file *res, const char *key)
{
    const cJSON *r = sb_record_set_find(&res->existing, key);
    return r == NULL || sb_cli_remeasured(&rn->remeasure, sb_field_string(r, SB_F_VERDICT));
}

/* Records the new measurement of key: appended, or in place of the old record — unless the new one is
 * contended and the old one was not (a noisy record is a better figure than a contended one). */
static int put_record(const sb_cli_runner *rn, sb_results_file *res, const char *key, cJSON *record, sb_error *err)
{
    const cJSON *old = sb_record_set_find(&res->existing, key);
    if (old == NULL)
        return sb_results_append(res, record, err);
    const char *was = sb_field_string(old, SB_F_VERDICT), *now = sb_field_string(record, SB_F_VERDICT);
    if (now != NULL && strncmp(now, "contended", 9) == 0 && (was == NULL || strncmp(was, "contended", 9) != 0)) {
        fprintf(stderr, "shapebench %s: %s: kept the %s record (the new one is contended)\n", rn->cmd, key,
                was != NULL ? was : "earlier");
        cJSON_Delete(record);
        return 0;
    }
    return sb_results_replace(res, record, err);
}

int sb_cli_run_jobs(const sb_cli_runner *rn, const sb_job_list *jobs)
{
    sb_config *cfgs = calloc(jobs->count ? jobs->count : 1, sizeof *cfgs);
    char(*keys)[SB_KEY_MAX] = calloc(jobs->count ? jobs->count : 1, sizeof *keys);
    double *measure_cost = calloc(jobs->count ? jobs->count : 1, sizeof *measure_cost); /* -1: kept */
    sb_results_file res = {.fd = -1, .lock_fd = -1};
    sb_record_set shown = {0};
    sb_weights_cache cache;
    sb_weights_cache_init(&cache);
    peaks_memo memo = {.count = 0};
    int rc = SB_EXIT_FAILURE;
    sb_error err;
    if (cfgs == NULL || keys == NULL || measure_cost == NULL) {
        sb_cli_error(rn->cmd, SB_EXIT_FAILURE, "out of memory for %zu jobs", jobs->count);
        goto done;
    }
    if ((rc = resolve_jobs(rn, jobs, cfgs, keys)) != SB_EXIT_OK)
        goto done;
    rc = SB_EXIT_FAILURE;
    if (sb_results_open(&res, rn->out, sb_cli_warn, (void *)rn->cmd, &err) != 0) {
        sb_cli_error(rn->cmd, SB_EXIT_FAILURE, "%s", err.msg);
        goto done;
    }
    /* Expected costs at the measured peaks (measured now for every backend and thread count the jobs use,
     * which their first point would do anyway): the ETA. */
    const sb_peaks reference = sb_peaks_reference();
    size_t todo = 0, again = 0;
    double todo_cost = 0;
    for (size_t i = 0; i < jobs->count; i++) {
        measure_cost[i] = -1;
        if (!to_measure(rn, &res, keys[i]))
            continue;
        todo++;
        again += sb_results_has(&res, keys[i]);
        if (todo == 1)
            sb_cli_check_machine(rn->cmd);
        const sb_peaks *peaks = job_peaks(rn, &memo, &jobs->items[i].settings);
        if (sb_job_cost_s(&cfgs[i], &jobs->items[i].settings, peaks != NULL ? peaks : &reference, &measure_cost[i],
                          &err) != 0)
            measure_cost[i] = 0;
        todo_cost += measure_cost[i];
    }
    const size_t recorded = jobs->count - todo + again;
    if (recorded > 0)
        fprintf(stderr, "shapebench %s: resuming %s: %zu of %zu already measured\n", rn->cmd, res.path, recorded,
                jobs->count);
    if (again > 0)
        fprintf(stderr, "shapebench %s: %zu of them measured again (--remeasure): the new record replaces the "
                        "old\n", rn->cmd, again);
    sb_retry_waits waits = sb_retry_waits_init(sb_load_source_system());
    sb_run_progress progress;
    sb_run_progress_start(&progress, stderr, todo, todo_cost);
    for (size_t i = 0; i < jobs->count; i++) {
        if (measure_cost[i] < 0)
            continue;
        const sb_job *job = &jobs->items[i];
        char label[SB_KEY_MAX + 16];
        snprintf(label, sizeof label, "%s %s", cfgs[i].name, sb_mode_name(job->settings.mode));
        sb_run_progress_next(&progress, label);

        /* System and peaks first: the peaks tell sb_measure when a forward cannot fit its time budget. */
        sb_sysinfo sys;
        sb_exec *x = NULL;
        bool have_sys = sb_run_settings_exec(&job->settings, &x, &err) == 0 && sb_sysinfo_collect(&sys, x, &err) == 0;
        if (!have_sys)
            sb_cli_warn((void *)rn->cmd, err.msg);
        sb_exec_free(x);
        const sb_peaks *peaks = have_sys ? job_peaks(rn, &memo, &job->settings) : NULL;
        measure_call call = {job, &cfgs[i], peaks, &cache};
        sb_measurement m;
        /* Other work on the cores makes a figure describe the load: wait for it to pass, a few times. */
        sb_cli_measure_retrying(rn->cmd, label, rn->retries, &waits, sb_run_settings_threads(&job->settings),
                                measure_job, &call, &m);
        cJSON *record = sb_record_build(rn->run, &cfgs[i], &job->settings, &m, have_sys ? &sys : NULL,
                                        peaks);
        sb_measurement_free(&m);
        if (record == NULL) {
            sb_cli_error(rn->cmd, SB_EXIT_FAILURE, "out of memory building the record of %s", keys[i]);
            goto done;
        }
        if (put_record(rn, &res, keys[i], record, &err) != 0) {
            sb_cli_error(rn->cmd, SB_EXIT_FAILURE, "%s (the records before this one are intact)", err.msg);
            goto done;
        }
        sb_run_progress_done(&progress, measure_cost[i]);
    }
    sb_run_progress_finish(&progress);
    char csv[sizeof res.path + 8];
    snprintf(csv, sizeof csv, "%s/results.csv", rn->out);
    if (sb_records_write_csv(&res.existing, csv, &err) != 0) {
        sb_cli_error(rn->cmd, SB_EXIT_FAILURE, "%s", err.msg);
        goto done;
    }
    /* The table shows this command's points, measured now or before. */
    for (size_t i = 0; i < jobs->count; i++) {
        const cJSON *r = sb_record_set_find(&res.existing, keys[i]);
        if (r != NULL && sb_record_set_find(&shown, keys[i]) == NULL)
            sb_record_set_add(&shown, cJSON_Duplicate(r, true), &err);
    }
    sb_records_print(&shown, rn->format, stdout);
    fprintf(stderr, "shapebench %s: %zu records in %s (CSV beside it)\n", rn->cmd, res.existing.count, res.path);
    rc = SB_EXIT_OK;
done:
    sb_weights_cache_free(&cache);
    sb_record_set_free(&shown);
    sb_results_close(&res);
    free(cfgs);
    free(keys);
    free(measure_cost);
    return rc;
}

/* A run name is one folder under results/: not empty, no '/', not "." or "..", no control characters. */
static bool is_run_name(const char *name)
{
    if (name[0] == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return false;
    for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++)
        if (*p == '/' || *p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

/* The run name from --run, else --out's last component, else `fallback`; the folder from --out, else
 * results/<run>. */
int sb_cli_place_run(sb_cli_runner *rn, const char *run, const char *out, const char *fallback, char *run_buf,
                     size_t run_cap, char *out_buf, size_t out_cap)
{
    if (run != NULL && (!is_run_name(run) || strlen(run) >= run_cap))
        return sb_cli_error(rn->cmd, SB_EXIT_USAGE, "--run '%s' must name one folder under results/ (no '/', not '.' "
                                                   "or '..', under %zu characters): use --out DIR for another place",
                            run, run_cap);
    if (run != NULL) {
        snprintf(run_buf, run_cap, "%s", run);
    } else if (out != NULL) {
        size_t len = strlen(out);
        while (len > 1 && out[len - 1] == '/')
            len--;
        size_t start = len;
        while (start > 0 && out[start - 1] != '/')
            start--;
        snprintf(run_buf, run_cap, "%.*s", (int)(len - start), out + start);
    } else {
        snprintf(run_buf, run_cap, "%s", fallback);
    }
    if (out != NULL)
        snprintf(out_buf, out_cap, "%s", out);
    else
        snprintf(out_buf, out_cap, "results/%s", run_buf);
    rn->run = run_buf;
    rn->out = out_buf;
    return SB_EXIT_OK;
}

/* Generation decodes batch row 0 only, so generate points at other batch sizes would time wasted work. */
void sb_cli_drop_generate_batches(sb_job_list *jobs)
{
    size_t kept = 0;
    for (size_t j = 0; j < jobs->count; j++)
        if (jobs->items[j].settings.mode != SB_MODE_GENERATE || jobs->items[j].settings.batch == 1)
            jobs->items[kept++] = jobs->items[j];
    jobs->count = kept;
}

int sb_cli_job_points(const sb_job_list *jobs, sb_points *out, sb_error *err)
{
    *out = (sb_points){0};
    const sb_peaks reference = sb_peaks_reference();
    for (size_t i = 0; i < jobs->count; i++) {
        sb_config cfg;
        char key[SB_KEY_MAX];
        double cost;
        if (sb_config_resolve(jobs->items[i].model, &cfg, NULL, NULL, err) != 0 ||
            sb_job_cost_s(&cfg, &jobs->items[i].settings, &reference, &cost, err) != 0) {
            sb_points_free(out);
            return -1;
        }
        sb_record_key(&cfg, &jobs->items[i].settings, key);
        if (!sb_points_has(out, key) && sb_points_add(out, key, cost, err) != 0) {
            sb_points_free(out);
            return -1;
        }
    }
    return 0;
}

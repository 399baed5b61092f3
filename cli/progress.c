/* progress.c — how far a run is. A results folder: its planned points (points.tsv) against its records, the
 * verdicts so far, and what the missing points should still take (for status, and for a Slurm run's --wait
 * and --resume). A run as it measures: the progress line, its ETA from the points' expected costs. */
#include "cli/cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char *sb_tally_name(sb_tally t)
{
    static const char *const names[SB_TALLY_COUNT] = {"ok", "noisy", "extrapolated", "contended", "skipped", "failed"};
    return names[t];
}

static void tally(sb_folder_progress *p, const cJSON *record)
{
    const char *verdict = sb_field_string(record, SB_F_VERDICT);
    for (int t = 0; verdict != NULL && t < SB_TALLY_COUNT; t++) {
        const size_t n = strlen(sb_tally_name((sb_tally)t));
        if (strncmp(verdict, sb_tally_name((sb_tally)t), n) == 0 && (verdict[n] == '\0' || verdict[n] == ':')) {
            p->verdicts[t]++;
            return;
        }
    }
}

int sb_folder_progress_load(const char *dir, sb_folder_progress *p, sb_warn_fn warn, void *warn_ctx, sb_error *err)
{
    memset(p, 0, sizeof *p);
    p->sgemm_gflops = NAN;
    if (sb_points_load(dir, &p->points, &p->planned, err) != 0)
        return -1;
    char path[SB_PATH_MAX + 16];
    sb_fmt(path, sizeof path, "%s/results.jsonl", dir);
    sb_error why;
    if (!(access(path, F_OK) != 0 && errno == ENOENT) && sb_records_load(dir, &p->records, warn, warn_ctx, &why) != 0)
        snprintf(p->unreadable, sizeof p->unreadable, "%s", why.msg);
    for (size_t i = 0; i < p->points.count; i++) {
        const cJSON *r = sb_record_set_find(&p->records, p->points.keys[i]);
        if (r != NULL) {
            p->done++;
            tally(p, r);
        } else {
            p->left_s += p->points.cost_s[i];
        }
    }
    for (size_t i = 0; !p->planned && i < p->records.count; i++) {
        p->done++;
        tally(p, p->records.items[i]);
    }
    if (p->records.count > 0)
        p->sgemm_gflops = sb_field_number(p->records.items[p->records.count - 1], SB_F_SYSTEM_SGEMM_GFLOPS);
    return 0;
}

void sb_folder_progress_free(sb_folder_progress *p)
{
    sb_points_free(&p->points);
    sb_record_set_free(&p->records);
}

bool sb_folder_progress_has(const sb_folder_progress *p, size_t i)
{
    return sb_record_set_find(&p->records, p->points.keys[i]) != NULL;
}

double sb_folder_progress_eta_s(const sb_folder_progress *p)
{
    const double reference = sb_peaks_reference().sgemm_gflops;
    return p->sgemm_gflops > 0 ? p->left_s * reference / p->sgemm_gflops : p->left_s;
}

/* ---- a run as it measures ------------------------------------------------------------------------------ */

double sb_eta_from_costs(double cost_done_s, double cost_left_s, double elapsed_s)
{
    if (cost_done_s > 0 && elapsed_s > 0)
        return cost_left_s * elapsed_s / cost_done_s;
    return cost_left_s;
}

void sb_run_progress_start(sb_run_progress *p, FILE *out, size_t total, double cost_s)
{
    *p = (sb_run_progress){.out = out, .tty = isatty(fileno(out)), .total = total,
                           .cost_total_s = cost_s + (double)total * SB_POINT_SETUP_S, .start_s = sb_now_seconds()};
}

void sb_run_progress_next(sb_run_progress *p, const char *label)
{
    const double elapsed = sb_now_seconds() - p->start_s;
    char e[32], r[32];
    sb_format_duration(elapsed, e, sizeof e);
    sb_format_duration(sb_eta_from_costs(p->cost_done_s, p->cost_total_s - p->cost_done_s, p->done_elapsed_s), r,
                       sizeof r);
    if (p->tty) {
        enum { WIDTH = 24 };
        char bar[WIDTH + 1];
        const size_t filled = p->total ? p->done * WIDTH / p->total : WIDTH;
        for (size_t i = 0; i < WIDTH; i++)
            bar[i] = i < filled ? '#' : '.';
        bar[WIDTH] = '\0';
        fprintf(p->out, "\r\033[K[%s] %zu/%zu  elapsed %s  ETA %s  %s", bar, p->done, p->total, e, r, label);
    } else {
        fprintf(p->out, "[%zu/%zu] elapsed %s, ETA %s: %s\n", p->done, p->total, e, r, label);
    }
    fflush(p->out);
}

void sb_run_progress_done(sb_run_progress *p, double cost_s)
{
    p->done++;
    p->cost_done_s += cost_s + SB_POINT_SETUP_S;
    p->done_elapsed_s = sb_now_seconds() - p->start_s;
}

void sb_run_progress_finish(sb_run_progress *p)
{
    char e[32];
    sb_format_duration(sb_now_seconds() - p->start_s, e, sizeof e);
    fprintf(p->out, "%s%zu/%zu done in %s\n", p->tty ? "\r\033[K" : "", p->done, p->total, e);
    fflush(p->out);
}

/* timing.c — the timing loop: warmup, then timed repetitions until there are enough of them and enough
 * time, with the evidence of contention (CPU time against wall time, preemptions) gathered alongside. */
#include "harness/harness.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* Repetitions of a shape so fast that min_time_s needs more are capped here (memory for samples). */
#define SB_MAX_REPS 100000

int sb_timing_reserve(sb_timing *t, size_t capacity, sb_error *err)
{
    double **arrays[] = {&t->samples, &t->parts[0], &t->parts[1], &t->blocks[0], &t->blocks[1]};
    for (size_t a = 0; a < sizeof arrays / sizeof arrays[0]; a++) {
        double *grown = realloc(*arrays[a], capacity * sizeof(double));
        if (grown == NULL)
            return sb_fail(err, "out of memory for %zu timing samples", capacity);
        *arrays[a] = grown;
    }
    return 0;
}

static int push_sample(sb_timing *t, size_t *cap, const sb_rep_times *times, sb_error *err)
{
    if (t->reps == *cap) {
        const size_t n = *cap ? *cap * 2 : 16;
        if (sb_timing_reserve(t, n, err) != 0)
            return -1;
        *cap = n;
    }
    for (int p = 0; p < 2; p++) {
        t->parts[p][t->reps] = times->parts_s[p];
        t->blocks[p][t->reps] = times->blocks_s[p];
    }
    t->samples[t->reps++] = times->parts_s[0] + times->parts_s[1];
    return 0;
}

int sb_time_reps(sb_rep_fn fn, void *ctx, const sb_run_settings *s, bool stop_when_slow, sb_timing *out,
                 sb_error *err)
{
    memset(out, 0, sizeof *out);
    out->warmup = s->warmup;
    size_t cap = 0;
    double total = 0;
    for (int64_t i = 0;; i++) {
        sb_rep_times times = {{0, 0}, {0, 0}};
        struct rusage before, after;
        getrusage(RUSAGE_SELF, &before);
        const double cpu_before = sb_cpu_seconds();
        if (fn(ctx, &times, err) != 0) {
            sb_timing_free(out);
            return -1;
        }
        double t = times.parts_s[0] + times.parts_s[1];
        if (i == 0) {
            out->first_rep_s = t;
            /* The first repetition predicts the rest (it is the slowest: pages are touched first). */
            if (stop_when_slow && t * (double)s->min_reps > s->max_time_s) {
                out->too_slow = true;
                return 0;
            }
        }
        if (i < s->warmup)
            continue;
        out->cpu_s += sb_cpu_seconds() - cpu_before;
        getrusage(RUSAGE_SELF, &after);
        out->wall_s += t;
        out->preemptions += after.ru_nivcsw - before.ru_nivcsw;
        if (push_sample(out, &cap, &times, err) != 0) {
            sb_timing_free(out);
            return -1;
        }
        total += t;
        bool enough = (int64_t)out->reps >= s->min_reps;
        if ((enough && total >= s->min_time_s) || (enough && total + t > s->max_time_s) || out->reps >= SB_MAX_REPS)
            return 0;
    }
}

void sb_timing_free(sb_timing *t)
{
    free(t->samples);
    for (int p = 0; p < 2; p++) {
        free(t->parts[p]);
        free(t->blocks[p]);
    }
    memset(t, 0, sizeof *t);
}

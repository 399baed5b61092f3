/* counters.c — hardware and software event counts around a timed region, and the monotonic clock.
 *
 * Hardware events are encoded by libpfm4 (it knows each PMU's names) and opened with perf_event_open like
 * the software ones. Every event is opened on every thread of the process with inherit set, and summed.
 * Events are not grouped: a group larger than the PMU is never scheduled at all, while independent events
 * are multiplexed by the kernel and scaled here by enabled / running time (the fraction is recorded). */
#include "harness/harness.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <perfmon/pfmlib_perf_event.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

double sb_cpu_seconds(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return NAN;
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
           1e-6 * (double)ru.ru_stime.tv_usec;
}

static const char *const counter_names[SB_COUNTER_COUNT] = {
    "cycles", "instructions", "fp_ops", "cache_misses", "task_clock_ns", "page_faults", "context_switches",
};

/* fp32 FLOPs: AMD Zen counts FLOPs directly; Intel counts instructions per vector width (an FMA counts
 * twice), so each width is weighted by its lanes. Names that do not encode on this PMU are skipped. */
static const struct {
    sb_counter_id id;
    const char *event;
    double weight;
} hw_events[] = {
    {SB_COUNTER_CYCLES, "PERF_COUNT_HW_CPU_CYCLES", 1},
    {SB_COUNTER_INSTRUCTIONS, "PERF_COUNT_HW_INSTRUCTIONS", 1},
    {SB_COUNTER_CACHE_MISSES, "PERF_COUNT_HW_CACHE_MISSES", 1},
    {SB_COUNTER_FP_OPS, "RETIRED_SSE_AVX_FLOPS:ANY", 1},
    {SB_COUNTER_FP_OPS, "FP_ARITH_INST_RETIRED:SCALAR_SINGLE", 1},
    {SB_COUNTER_FP_OPS, "FP_ARITH_INST_RETIRED:128B_PACKED_SINGLE", 4},
    {SB_COUNTER_FP_OPS, "FP_ARITH_INST_RETIRED:256B_PACKED_SINGLE", 8},
    {SB_COUNTER_FP_OPS, "FP_ARITH_INST_RETIRED:512B_PACKED_SINGLE", 16},
};

static const struct {
    sb_counter_id id;
    uint64_t config;
    const char *event;
} sw_events[] = {
    {SB_COUNTER_TASK_CLOCK, PERF_COUNT_SW_TASK_CLOCK, "perf::PERF_COUNT_SW_TASK_CLOCK"},
    {SB_COUNTER_PAGE_FAULTS, PERF_COUNT_SW_PAGE_FAULTS, "perf::PERF_COUNT_SW_PAGE_FAULTS"},
    {SB_COUNTER_CONTEXT_SWITCHES, PERF_COUNT_SW_CONTEXT_SWITCHES, "perf::PERF_COUNT_SW_CONTEXT_SWITCHES"},
};

#define MAX_SLOTS (sizeof hw_events / sizeof hw_events[0] + sizeof sw_events / sizeof sw_events[0])

typedef struct {
    sb_counter_id id;
    double weight;
    struct perf_event_attr attr;
} slot;

struct sb_counter_fds {
    slot slots[MAX_SLOTS];
    size_t num_slots;
    pid_t *tids;
    size_t num_tids;
    int *fd; /* num_tids x num_slots */
};

static int perf_open(struct perf_event_attr *attr, pid_t tid)
{
    return (int)syscall(SYS_perf_event_open, attr, tid, -1, -1, 0UL);
}

static void prepare_attr(struct perf_event_attr *attr)
{
    attr->size = sizeof *attr;
    attr->disabled = 1;
    attr->inherit = 1;
    attr->read_format = PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;
}

/* Adds `text` (and the errno's meaning with a likely cause, when errnum is not 0) to the reason. */
static void append_reason(sb_counters *c, const char *text, int errnum)
{
    char *r = c->unavailable_reason;
    size_t size = sizeof c->unavailable_reason, len = strlen(r);
    len += (size_t)snprintf(r + len, size - len, "%s%s", len ? "; " : "", text);
    if (errnum == 0 || len >= size)
        return;
    len += (size_t)snprintf(r + len, size - len, ": %s", strerror(errnum));
    int paranoid = 0;
    FILE *f = (errnum == EACCES || errnum == EPERM) ? fopen("/proc/sys/kernel/perf_event_paranoid", "r") : NULL;
    if (f != NULL && fscanf(f, "%d", &paranoid) == 1 && len < size)
        snprintf(r + len, size - len, " (kernel.perf_event_paranoid = %d)", paranoid);
    if (f != NULL)
        fclose(f);
    if ((errnum == ENOENT || errnum == EOPNOTSUPP || errnum == ENODEV) && len < size)
        snprintf(r + len, size - len, " (virtual machine without a PMU?)");
}

static pthread_once_t pfm_once = PTHREAD_ONCE_INIT;
static int pfm_status;
static void pfm_init_once(void)
{
    pfm_status = pfm_initialize();
}

/* libpfm's canonical name without the modifier list: "icl::FP_ARITH_INST_RETIRED:SCALAR_SINGLE". */
static void canonical_name(const char *fstr, char *out, size_t size)
{
    const char *eq = strchr(fstr, '=');
    size_t len = strlen(fstr);
    if (eq != NULL)
        for (len = (size_t)(eq - fstr); len > 0 && fstr[len] != ':'; len--)
            ;
    snprintf(out, size, "%.*s", (int)len, fstr);
}

static void append_source(sb_counter *k, const char *name, double weight)
{
    size_t len = strlen(k->source);
    const char *sep = len ? " + " : "";
    if (weight == 1.0)
        snprintf(k->source + len, sizeof k->source - len, "%s%s", sep, name);
    else
        snprintf(k->source + len, sizeof k->source - len, "%s%.0f x %s", sep, weight, name);
}

/* Encodes the hardware events this PMU knows into slots; returns how many. */
static size_t encode_hardware(sb_counters *c, slot *slots)
{
    pthread_once(&pfm_once, pfm_init_once);
    if (pfm_status != PFM_SUCCESS) {
        snprintf(c->unavailable_reason, sizeof c->unavailable_reason,
                 "hardware counters unavailable: libpfm4 initialisation failed: %s", pfm_strerror(pfm_status));
        return 0;
    }
    size_t n = 0;
    for (size_t i = 0; i < sizeof hw_events / sizeof hw_events[0]; i++) {
        slot *s = &slots[n];
        memset(s, 0, sizeof *s);
        char *fstr = NULL;
        pfm_perf_encode_arg_t arg = {.attr = &s->attr, .fstr = &fstr, .size = sizeof arg};
        if (pfm_get_os_event_encoding(hw_events[i].event, PFM_PLM3, PFM_OS_PERF_EVENT_EXT, &arg) != PFM_SUCCESS)
            continue;
        char name[128];
        canonical_name(fstr, name, sizeof name);
        free(fstr);
        s->id = hw_events[i].id;
        s->weight = hw_events[i].weight;
        prepare_attr(&s->attr);
        append_source(&c->counter[s->id], name, s->weight);
        n++;
    }
    return n;
}

static size_t list_threads(pid_t **out)
{
    size_t n = 0, cap = 16;
    pid_t *tids = malloc(cap * sizeof *tids);
    DIR *dir = opendir("/proc/self/task");
    if (tids == NULL || dir == NULL) {
        free(tids);
        if (dir != NULL)
            closedir(dir);
        *out = NULL;
        return 0;
    }
    for (struct dirent *e; (e = readdir(dir)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            pid_t *grown = realloc(tids, 2 * cap * sizeof *tids);
            if (grown == NULL)
                break;
            tids = grown;
            cap *= 2;
        }
        tids[n++] = (pid_t)atoi(e->d_name);
    }
    closedir(dir);
    *out = tids;
    return n;
}

/* Opens slot `s` on every thread; on failure closes what it opened and returns the errno. A thread that
 * exited since it was listed (ESRCH) has nothing left to count. */
static int open_slot(sb_counter_fds *f, size_t s)
{
    for (size_t t = 0; t < f->num_tids; t++) {
        int fd = perf_open(&f->slots[s].attr, f->tids[t]);
        if (fd < 0 && errno == ESRCH)
            continue;
        if (fd < 0) {
            int e = errno;
            for (size_t u = 0; u < t; u++) {
                if (f->fd[u * f->num_slots + s] >= 0)
                    close(f->fd[u * f->num_slots + s]);
                f->fd[u * f->num_slots + s] = -1;
            }
            return e;
        }
        f->fd[t * f->num_slots + s] = fd;
    }
    return 0;
}

static bool hw_disabled_by_env(void)
{
    const char *v = getenv("SHAPEBENCH_NO_HW_COUNTERS");
    return v != NULL && v[0] != '\0' && strcmp(v, "0") != 0;
}

int sb_counters_open(sb_counters *c, sb_error *err)
{
    memset(c, 0, sizeof *c);
    for (int i = 0; i < SB_COUNTER_COUNT; i++) {
        c->counter[i].name = counter_names[i];
        c->counter[i].value = NAN;
        c->counter[i].scaled_from = NAN;
    }
    sb_counter_fds *f = calloc(1, sizeof *f);
    if (f == NULL)
        return sb_fail(err, "out of memory for counters");
    c->fds = f;

    if (hw_disabled_by_env())
        snprintf(c->unavailable_reason, sizeof c->unavailable_reason,
                 "hardware counters disabled by SHAPEBENCH_NO_HW_COUNTERS");
    else
        f->num_slots = encode_hardware(c, f->slots);
    for (size_t i = 0; i < sizeof sw_events / sizeof sw_events[0]; i++) {
        slot *s = &f->slots[f->num_slots++];
        memset(s, 0, sizeof *s);
        s->id = sw_events[i].id;
        s->weight = 1;
        s->attr.type = PERF_TYPE_SOFTWARE;
        s->attr.config = sw_events[i].config;
        prepare_attr(&s->attr);
        snprintf(c->counter[s->id].source, sizeof c->counter[s->id].source, "%s", sw_events[i].event);
    }

    f->num_tids = list_threads(&f->tids);
    f->fd = f->num_tids == 0 ? NULL : malloc(f->num_tids * f->num_slots * sizeof *f->fd);
    if (f->fd == NULL) {
        sb_counters_close(c);
        return sb_fail(err, "cannot list the threads of this process in /proc/self/task");
    }
    for (size_t i = 0; i < f->num_tids * f->num_slots; i++)
        f->fd[i] = -1;

    /* A counter is available when every slot feeding it opened; the first failure of a hardware counter
     * is usually the whole PMU missing, so the rest of the hardware is not tried after cycles fails. */
    bool opened[SB_COUNTER_COUNT] = {false}, failed[SB_COUNTER_COUNT] = {false};
    bool pmu_missing = false;
    for (size_t s = 0; s < f->num_slots; s++) {
        sb_counter_id id = f->slots[s].id;
        bool hardware = f->slots[s].attr.type != PERF_TYPE_SOFTWARE;
        if (failed[id] || (hardware && pmu_missing))
            continue;
        int e = open_slot(f, s);
        if (e == 0) {
            opened[id] = true;
            continue;
        }
        failed[id] = true;
        char what[200];
        if (hardware && id == SB_COUNTER_CYCLES)
            pmu_missing = true;
        snprintf(what, sizeof what, "%sperf_event_open(%s) failed",
                 hardware && id == SB_COUNTER_CYCLES ? "hardware counters not exposed: " : "", counter_names[id]);
        append_reason(c, what, e);
    }
    for (int i = 0; i < SB_COUNTER_COUNT; i++) {
        c->counter[i].available = opened[i] && !failed[i];
        if (!c->counter[i].available)
            c->counter[i].source[0] = '\0';
    }
    if (f->num_slots > sizeof sw_events / sizeof sw_events[0] && !pmu_missing && !opened[SB_COUNTER_FP_OPS] &&
        !failed[SB_COUNTER_FP_OPS])
        append_reason(c, "fp_ops: no fp32 FLOP event known for this PMU", 0);
    return 0;
}

static int for_each_fd(sb_counters *c, unsigned long request, const char *what, sb_error *err)
{
    sb_counter_fds *f = c->fds;
    for (size_t i = 0; i < f->num_tids * f->num_slots; i++)
        if (f->fd[i] >= 0 && ioctl(f->fd[i], request, 0) != 0)
            return sb_fail(err, "perf_event ioctl %s failed: %s", what, strerror(errno));
    return 0;
}

int sb_counters_start(sb_counters *c, sb_error *err)
{
    if (for_each_fd(c, PERF_EVENT_IOC_RESET, "reset", err) != 0)
        return -1;
    return for_each_fd(c, PERF_EVENT_IOC_ENABLE, "enable", err);
}

int sb_counters_stop(sb_counters *c, sb_error *err)
{
    if (for_each_fd(c, PERF_EVENT_IOC_DISABLE, "disable", err) != 0)
        return -1;
    sb_counter_fds *f = c->fds;
    double value[SB_COUNTER_COUNT] = {0}, enabled[SB_COUNTER_COUNT] = {0}, running[SB_COUNTER_COUNT] = {0};
    for (size_t t = 0; t < f->num_tids; t++)
        for (size_t s = 0; s < f->num_slots; s++) {
            int fd = f->fd[t * f->num_slots + s];
            uint64_t r[3]; /* value, time enabled, time running */
            if (fd < 0 || !c->counter[f->slots[s].id].available)
                continue;
            if (read(fd, r, sizeof r) != (ssize_t)sizeof r)
                return sb_fail(err, "reading counter %s failed: %s", counter_names[f->slots[s].id],
                               strerror(errno));
            sb_counter_id id = f->slots[s].id;
            /* Scale each event by its own running time, then sum: multiplexed slots run at different times. */
            if (r[2] > 0)
                value[id] += f->slots[s].weight * (double)r[0] * (double)r[1] / (double)r[2];
            enabled[id] += (double)r[1];
            running[id] += (double)r[2];
        }
    for (int i = 0; i < SB_COUNTER_COUNT; i++) {
        sb_counter *k = &c->counter[i];
        if (!k->available)
            continue;
        /* Never scheduled: the count is unknown, not zero. */
        k->scaled_from = enabled[i] > 0 ? running[i] / enabled[i] : 1.0;
        k->value = enabled[i] > 0 && running[i] == 0 ? NAN : value[i];
    }
    return 0;
}

void sb_counters_close(sb_counters *c)
{
    sb_counter_fds *f = c->fds;
    if (f == NULL)
        return;
    for (size_t i = 0; f->fd != NULL && i < f->num_tids * f->num_slots; i++)
        if (f->fd[i] >= 0)
            close(f->fd[i]);
    free(f->fd);
    free(f->tids);
    free(f);
    c->fds = NULL;
}

cJSON *sb_counters_to_json(const sb_counters *c)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    for (int i = 0; i < SB_COUNTER_COUNT; i++) {
        const sb_counter *k = &c->counter[i];
        cJSON *e = cJSON_AddObjectToObject(o, k->name);
        if (e == NULL) {
            cJSON_Delete(o);
            return NULL;
        }
        bool known = k->available && !isnan(k->value);
        if (known)
            cJSON_AddNumberToObject(e, "value", k->value);
        else
            cJSON_AddNullToObject(e, "value");
        if (k->available && !isnan(k->scaled_from))
            cJSON_AddNumberToObject(e, "scaled_from", k->scaled_from);
        else
            cJSON_AddNullToObject(e, "scaled_from");
        if (known && k->source[0] != '\0')
            cJSON_AddStringToObject(e, "source", k->source);
    }
    if (c->unavailable_reason[0] != '\0')
        cJSON_AddStringToObject(o, "unavailable_reason", c->unavailable_reason);
    else
        cJSON_AddNullToObject(o, "unavailable_reason");
    return o;
}

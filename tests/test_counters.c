/* test_counters.c — counters around a region: software events count real work on every thread, hardware
 * events are either counted or null with a reason (never 0), and can be forced unavailable. */
#include "harness/harness.h"

#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double thread_cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Burns `seconds` of this thread's CPU time, so the expectation holds however loaded the machine is. */
static double busy(double seconds)
{
    volatile double x = 1.0;
    double end = thread_cpu_seconds() + seconds;
    while (thread_cpu_seconds() < end)
        for (int i = 0; i < 10000; i++)
            x = x * 1.0000001 + 1e-9;
    return x;
}

static void assert_hardware_null_or_counted(const sb_counters *c, const cJSON *json)
{
    for (int i = SB_COUNTER_CYCLES; i <= SB_COUNTER_CACHE_MISSES; i++) {
        const sb_counter *k = &c->counter[i];
        const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(json, k->name), "value");
        cr_assert_not_null(v, "%s missing from the JSON", k->name);
        if (k->available && !isnan(k->value)) {
            cr_assert(cJSON_IsNumber(v));
            cr_assert_geq(k->value, 0.0);
        } else {
            cr_assert(cJSON_IsNull(v), "%s unavailable but not null", k->name);
            cr_assert_neq(c->unavailable_reason[0], '\0', "%s unavailable without a reason", k->name);
        }
    }
    if (c->counter[SB_COUNTER_CYCLES].available)
        cr_assert_gt(c->counter[SB_COUNTER_CYCLES].value, 1e6);
}

Test(counters, software_events_count_a_busy_loop)
{
    sb_counters c;
    sb_error err = {0};
    cr_assert_eq(sb_counters_open(&c, &err), 0, "%s", err.msg);
    cr_assert(c.counter[SB_COUNTER_TASK_CLOCK].available, "task clock unavailable: %s", c.unavailable_reason);
    cr_assert_eq(sb_counters_start(&c, &err), 0, "%s", err.msg);
    busy(0.05);
    cr_assert_eq(sb_counters_stop(&c, &err), 0, "%s", err.msg);

    double task_ns = c.counter[SB_COUNTER_TASK_CLOCK].value;
    cr_assert_geq(task_ns, 0.045e9, "task clock %g ns for 50 ms of CPU", task_ns);
    cr_assert_leq(task_ns, 1.0e9, "task clock %g ns for 50 ms of CPU", task_ns);
    cr_assert_float_eq(c.counter[SB_COUNTER_TASK_CLOCK].scaled_from, 1.0, 1e-9);
    cr_assert(c.counter[SB_COUNTER_PAGE_FAULTS].available);
    cr_assert_geq(c.counter[SB_COUNTER_PAGE_FAULTS].value, 0.0);
    cr_assert(c.counter[SB_COUNTER_CONTEXT_SWITCHES].available);

    cJSON *json = sb_counters_to_json(&c);
    cr_assert_not_null(json);
    cr_assert(cJSON_IsNumber(cJSON_GetObjectItem(cJSON_GetObjectItem(json, "task_clock_ns"), "value")));
    assert_hardware_null_or_counted(&c, json);
    cr_assert_not_null(cJSON_GetObjectItem(json, "unavailable_reason"));
    cJSON_Delete(json);
    sb_counters_close(&c);
}

/* Events opened on the warm OpenMP pool count the worker threads too. */
Test(counters, every_thread_is_counted)
{
    omp_set_num_threads(2);
#pragma omp parallel
    busy(0.001);
    sb_counters c;
    sb_error err = {0};
    cr_assert_eq(sb_counters_open(&c, &err), 0, "%s", err.msg);
    cr_assert_eq(sb_counters_start(&c, &err), 0, "%s", err.msg);
#pragma omp parallel num_threads(2)
    busy(0.03);
    cr_assert_eq(sb_counters_stop(&c, &err), 0, "%s", err.msg);
    double task_ns = c.counter[SB_COUNTER_TASK_CLOCK].value;
    cr_assert_geq(task_ns, 2 * 0.027e9, "task clock %g ns for 2 threads x 30 ms of CPU", task_ns);
    sb_counters_close(&c);
}

Test(counters, forced_unavailable_hardware_is_null)
{
    setenv("SHAPEBENCH_NO_HW_COUNTERS", "1", 1);
    sb_counters c;
    sb_error err = {0};
    cr_assert_eq(sb_counters_open(&c, &err), 0, "%s", err.msg);
    cr_assert_eq(sb_counters_start(&c, &err), 0, "%s", err.msg);
    busy(0.005);
    cr_assert_eq(sb_counters_stop(&c, &err), 0, "%s", err.msg);
    cr_assert(strstr(c.unavailable_reason, "SHAPEBENCH_NO_HW_COUNTERS") != NULL, "reason: %s", c.unavailable_reason);

    cJSON *json = sb_counters_to_json(&c);
    const char *hardware[] = {"cycles", "instructions", "fp_ops", "cache_misses"};
    for (size_t i = 0; i < 4; i++) {
        cJSON *e = cJSON_GetObjectItem(json, hardware[i]);
        cr_assert(cJSON_IsNull(cJSON_GetObjectItem(e, "value")), "%s should be null", hardware[i]);
        cr_assert(cJSON_IsNull(cJSON_GetObjectItem(e, "scaled_from")));
    }
    cr_assert(cJSON_IsNumber(cJSON_GetObjectItem(cJSON_GetObjectItem(json, "task_clock_ns"), "value")));
    cr_assert_str_eq(cJSON_GetObjectItem(json, "unavailable_reason")->valuestring, c.unavailable_reason);
    cJSON_Delete(json);
    sb_counters_close(&c);
    unsetenv("SHAPEBENCH_NO_HW_COUNTERS");
}

Test(counters, clock_is_monotonic)
{
    double a = sb_now_seconds();
    busy(0.002);
    double b = sb_now_seconds();
    cr_assert_gt(b, a);
    cr_assert_lt(b - a, 5.0);
}

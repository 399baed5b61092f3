/* test_sysinfo.c — the system description is complete, the measured peaks are plausible, the per-machine
 * cache round-trips, and the roofline / MFU helpers classify as the ridge point says. */
#include "harness/harness.h"
#include "tests/helpers.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Small enough for well under a second, big enough to exercise every path. */
/* min_cpu_share 0: the suite's parallel tests share the cores, and these tests are about the cache. */
static const sb_peak_sizes tiny = {.sgemm_n = 128, .stream_bytes = 4 << 20, .fma_seconds = 0.03, .reps = 3};

Test(sysinfo, every_field_present)
{
    sb_sysinfo s;
    sb_error err = {0};
    sb_exec *x = test_exec(SB_GEMM_OPENBLAS, 0);
    cr_assert_eq(sb_sysinfo_collect(&s, x, &err), 0, "%s", err.msg);
    sb_exec_free(x);
    const char *strings[] = {s.cpu_model, s.gemm_backend, s.gemm_version, s.openblas_core, s.compiler,
                             s.build_flags, s.git_commit, s.date};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        cr_assert_neq(strings[i][0], '\0', "field %zu empty", i);
    cr_assert_geq(s.logical_cores, 1);
    cr_assert_geq(s.threads, 1);
    cr_assert_geq(s.openblas_threads, 1);
    cr_assert_geq(s.load_average[0], 0.0);
    int y, mo, d, h, mi, sec;
    char z;
    cr_assert_eq(sscanf(s.date, "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &sec, &z), 7, "date %s", s.date);
    cr_assert_eq(z, 'Z');
    if (access(".git", F_OK) == 0) /* tests run from the repository root */
        cr_assert_str_neq(s.git_commit, "unknown");
}

Test(sysinfo, json_has_the_schema_fields)
{
    sb_sysinfo s;
    sb_exec *x = test_exec(SB_GEMM_OPENBLAS, 0);
    cr_assert_eq(sb_sysinfo_collect(&s, x, NULL), 0);
    sb_exec_free(x);
    sb_peaks p = {.sgemm_gflops = 100, .fma_gflops = 200, .stream_copy_gbps = 10};
    cJSON *o = sb_sysinfo_to_json(&s, &p);
    cr_assert_not_null(o);
    const char *keys[] = {"cpu_model", "cpu_flags", "logical_cores", "threads", "gemm_backend", "gemm_version",
                          "openblas_core", "compiler", "build_flags", "git_commit", "date", "load_average",
                          "sgemm_gflops", "fma_gflops", "stream_copy_gbps"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        cr_assert_not_null(cJSON_GetObjectItem(o, keys[i]), "missing %s", keys[i]);
    cr_assert(cJSON_IsArray(cJSON_GetObjectItem(o, "cpu_flags")));
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(o, "load_average")), 3);
    cJSON_Delete(o);
    o = sb_sysinfo_to_json(&s, NULL);
    cr_assert_null(cJSON_GetObjectItem(o, "sgemm_gflops"));
    cJSON_Delete(o);
}

Test(peaks, tiny_measurement_is_plausible)
{
    sb_peaks p;
    sb_error err = {0};
    sb_exec *x = test_exec(SB_GEMM_OPENBLAS, 0);
    cr_assert_eq(sb_peaks_measure(x, &tiny, &p, &err), 0, "%s", err.msg);
    sb_exec_free(x);
    /* Anything that runs at all does more than 0.1 GFLOP/s and 0.1 GB/s, and no CPU of today reaches
     * 100 TFLOP/s or 10 TB/s. */
    cr_assert(p.sgemm_gflops > 0.1 && p.sgemm_gflops < 1e5, "sgemm %g GFLOP/s", p.sgemm_gflops);
    cr_assert(p.fma_gflops > 0.1 && p.fma_gflops < 1e5, "fma %g GFLOP/s", p.fma_gflops);
    cr_assert(p.stream_copy_gbps > 0.1 && p.stream_copy_gbps < 1e4, "copy %g GB/s", p.stream_copy_gbps);
    cr_assert_not(p.from_cache);
    cr_assert_eq(p.sgemm_n, 128);
}

/* Each backend names the vector width its kernel computes in, and the FMA ceiling at that width is measured,
 * whatever the build's flags (the sanitizer build has no -march=native): OpenBLAS's Haswell kernel is AVX2
 * (256 bits), oneDNN on an AVX-512 machine uses 512. */
Test(peaks, kernel_width_and_its_fma_ceiling)
{
    const int openblas = sb_gemm_vector_bits(SB_GEMM_OPENBLAS), onednn = sb_gemm_vector_bits(SB_GEMM_ONEDNN);
    cr_assert(openblas == 0 || openblas == 256 || openblas == 512, "%d bits", openblas);
    char version[160];
    sb_gemm_backend_version(SB_GEMM_OPENBLAS, 1, version, sizeof version);
    if (strstr(version, "core=Haswell") != NULL)
        cr_assert_eq(openblas, 256);
    const bool avx512_core = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    cr_assert_eq(onednn, avx512_core ? 512 : (__builtin_cpu_supports("avx2") ? 256 : 0));
    const int widths[] = {openblas, onednn};
    for (int i = 0; i < 2; i++) {
        if (widths[i] == 0)
            continue;
        double gflops = 0;
        sb_error err = {0};
        cr_assert_eq(sb_peak_fma_gflops(widths[i], tiny.fma_seconds, tiny.reps, &gflops, &err), 0, "%s", err.msg);
        cr_assert(gflops > 0.1 && gflops < 1e5, "%d-bit FMA %g GFLOP/s", widths[i], gflops);
    }
    double gflops = 0;
    sb_error err = {0};
    cr_assert_eq(sb_peak_fma_gflops(1024, tiny.fma_seconds, tiny.reps, &gflops, &err), -1);
    cr_assert(strstr(err.msg, "no 1024-bit FMA") != NULL, "%s", err.msg);
}

Test(peaks, bad_sizes_are_refused)
{
    sb_peak_sizes z = tiny;
    z.reps = 0;
    sb_peaks p;
    sb_error err = {0};
    sb_exec *x = test_exec(SB_GEMM_OPENBLAS, 0);
    cr_assert_eq(sb_peaks_measure(x, &z, &p, &err), -1);
    sb_exec_free(x);
    cr_assert(strstr(err.msg, "repetitions") != NULL, "%s", err.msg);
}

Test(peaks, cache_round_trip)
{
    char dir[] = "/tmp/shapebench-peaks-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char sub[64];
    snprintf(sub, sizeof sub, "%s/a/b", dir); /* created on first write */
    sb_sysinfo s;
    sb_exec *x = test_exec(SB_GEMM_OPENBLAS, 0);
    cr_assert_eq(sb_sysinfo_collect(&s, x, NULL), 0);
    sb_error err = {0};
    sb_peaks first, second, third;
    cr_assert_eq(sb_peaks_cached(x, &s, &tiny, sub, false, NULL, NULL, &first, &err), 0, "%s", err.msg);
    cr_assert_not(first.from_cache);
    cr_assert_eq(sb_peaks_cached(x, &s, &tiny, sub, false, NULL, NULL, &second, &err), 0, "%s", err.msg);
    cr_assert(second.from_cache);
    cr_assert_float_eq(second.sgemm_gflops, first.sgemm_gflops, 1e-9 * first.sgemm_gflops);
    cr_assert_float_eq(second.fma_gflops, first.fma_gflops, 1e-9 * first.fma_gflops);
    cr_assert_float_eq(second.stream_copy_gbps, first.stream_copy_gbps, 1e-9 * first.stream_copy_gbps);
    cr_assert_eq(sb_peaks_cached(x, &s, &tiny, sub, true, NULL, NULL, &third, &err), 0, "%s", err.msg);
    cr_assert_not(third.from_cache, "refresh must measure again");
    sb_peak_sizes other = tiny;
    other.sgemm_n = 64;
    cr_assert_eq(sb_peaks_cached(x, &s, &other, sub, false, NULL, NULL, &third, &err), 0, "%s", err.msg);
    cr_assert_not(third.from_cache, "peaks for other sizes must not be reused");
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
    sb_exec_free(x);
}

static void count_warning(void *ctx, const char *message)
{
    (void)message;
    ++*(int *)ctx;
}

/* A cache that cannot be written (a file where its folder should be) is one warning; the measured peaks
 * are returned all the same. */
Test(peaks, an_unwritable_cache_is_a_warning)
{
    char dir[] = "/tmp/shapebench-peaks-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char file[64], sub[96];
    snprintf(file, sizeof file, "%s/file", dir);
    fclose(fopen(file, "w"));
    snprintf(sub, sizeof sub, "%s/peaks", file);
    sb_sysinfo s;
    sb_exec *x = test_exec(SB_GEMM_OPENBLAS, 0);
    cr_assert_eq(sb_sysinfo_collect(&s, x, NULL), 0);
    sb_peak_sizes any_share = tiny;
    any_share.min_cpu_share = 0;
    sb_error err = {0};
    sb_peaks p;
    int warnings = 0;
    cr_assert_eq(sb_peaks_cached(x, &s, &any_share, sub, false, count_warning, &warnings, &p, &err), 0, "%s",
                 err.msg);
    cr_expect(p.sgemm_gflops > 0 && p.fma_gflops > 0 && p.stream_copy_gbps > 0);
    cr_expect_eq(warnings, 1);
    unlink(file);
    rmdir(dir);
    sb_exec_free(x);
}

Test(peaks, roofline_and_mfu)
{
    sb_peaks p = {.sgemm_gflops = 100, .fma_gflops = 200, .stream_copy_gbps = 10}; /* ridge 10 FLOP/byte */
    sb_roofline r = sb_roofline_classify(1e9, 1e6, 0.01, &p, SB_DTYPE_F32);
    cr_assert_float_eq(r.arithmetic_intensity, 1000.0, 1e-9);
    cr_assert_float_eq(r.achieved_gflops, 100.0, 1e-9);
    cr_assert_float_eq(r.ridge_intensity, 10.0, 1e-9);
    cr_assert(r.compute_bound);
    r = sb_roofline_classify(1e9, 1e9, 0.5, &p, SB_DTYPE_F32);
    cr_assert_float_eq(r.arithmetic_intensity, 1.0, 1e-9);
    cr_assert_not(r.compute_bound);
    cJSON *o = sb_roofline_to_json(&r);
    cr_assert_str_eq(cJSON_GetObjectItem(o, "bound")->valuestring, "memory");
    cr_assert_float_eq(cJSON_GetObjectItem(o, "achieved_gflops")->valuedouble, 2.0, 1e-9);
    cJSON_Delete(o);
    cr_assert_float_eq(sb_mfu(50.0, &p, SB_DTYPE_F32), 0.5, 1e-12);
    sb_peaks none = {0};
    cr_assert(isnan(sb_mfu(50.0, &none, SB_DTYPE_F32)));
    cr_assert(isnan(sb_mfu(50.0, NULL, SB_DTYPE_F32)));
    r = sb_roofline_classify(1e9, 1e9, 0.5, NULL, SB_DTYPE_F32);
    cr_assert(isnan(r.ridge_intensity));
    o = sb_roofline_to_json(&r);
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(o, "bound")), "no bound without peaks");
    cJSON_Delete(o);
}

/* Peaks measured without the whole CPU are used but never cached: a share of 101 % is never reached. */
Test(peaks, contended_peaks_are_not_cached)
{
    char dir[] = "/tmp/shapebench-peaks-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    sb_sysinfo s;
    sb_exec *x = test_exec(SB_GEMM_OPENBLAS, 0);
    cr_assert_eq(sb_sysinfo_collect(&s, x, NULL), 0);
    sb_peak_sizes strict = tiny;
    strict.min_cpu_share = 1.01;
    sb_error err = {0};
    sb_peaks first, second;
    cr_assert_eq(sb_peaks_cached(x, &s, &strict, dir, false, NULL, NULL, &first, &err), 0, "%s", err.msg);
    cr_expect(first.sgemm_gflops > 0);
    cr_assert_eq(sb_peaks_cached(x, &s, &strict, dir, false, NULL, NULL, &second, &err), 0, "%s", err.msg);
    cr_expect_not(second.from_cache, "a contended measurement must not be reused");
    sb_exec_free(x);
}

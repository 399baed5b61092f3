/* gemm_choice.c — the GEMM backend of a sweep that names none: the one whose measured sgemm peak is higher on
 * this machine (oneDNN when the sweep computes in bf16, which only oneDNN runs), so that a default run shows
 * what the machine can do rather than what one library's kernel choice allows. The choice, its figures and a
 * sentence saying why are kept in the run's folder (backend.json): a rerun resumes on the same backend even
 * when the peaks are measured again, and the report can say why the run used it. */
#include "harness/harness.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *backend_title(sb_gemm_backend b)
{
    return b == SB_GEMM_ONEDNN ? "oneDNN" : "OpenBLAS";
}

void sb_gemm_choose(const double sgemm_gflops[2], const char *openblas_core, bool bf16, int threads,
                    sb_gemm_choice *out)
{
    *out = (sb_gemm_choice){.threads = threads, .sgemm_gflops = {sgemm_gflops[0], sgemm_gflops[1]}};
    char blas_title[96];
    snprintf(blas_title, sizeof blas_title, "OpenBLAS's (kernel %s)",
             openblas_core[0] != '\0' ? openblas_core : "unknown");
    if (bf16) {
        out->gemm = SB_GEMM_ONEDNN;
        snprintf(out->note, sizeof out->note, "Backend oneDNN: the sweep computes in bf16, which only oneDNN runs "
                                              "(Debian's OpenBLAS has no bf16 GEMM).");
        return;
    }
    /* A backend whose peak could not be measured (NaN) loses to one that was. */
    const double blas = sgemm_gflops[SB_GEMM_OPENBLAS], dnnl = sgemm_gflops[SB_GEMM_ONEDNN];
    out->gemm = isnan(blas) || dnnl > blas ? SB_GEMM_ONEDNN : SB_GEMM_OPENBLAS;
    const sb_gemm_backend other = out->gemm == SB_GEMM_ONEDNN ? SB_GEMM_OPENBLAS : SB_GEMM_ONEDNN;
    if (isnan(sgemm_gflops[other]))
        snprintf(out->note, sizeof out->note, "Backend %s: %s's sgemm peak could not be measured here.",
                 backend_title(out->gemm), backend_title(other));
    else
        snprintf(out->note, sizeof out->note,
                 "Backend %s, the faster of the two on this machine: its measured sgemm peak (a 2048 x 2048 x 2048 "
                 "product, %d thread%s) is %.0f GFLOP/s against %s %.0f GFLOP/s. `--gemm` names a backend instead.",
                 backend_title(out->gemm), threads, threads == 1 ? "" : "s", sgemm_gflops[out->gemm],
                 other == SB_GEMM_OPENBLAS ? blas_title : "oneDNN's", sgemm_gflops[other]);
}

/* The sgemm peak of one backend at these threads, from the peaks cache or measured; NaN with a warning when
 * it cannot be measured. */
static double measured_sgemm(sb_gemm_backend backend, int threads, sb_warn_fn warn, void *warn_ctx,
                             char openblas_core[64])
{
    sb_run_settings s;
    sb_run_settings_default(&s);
    s.gemm = backend;
    s.threads = threads;
    sb_exec *x = NULL;
    sb_sysinfo sys;
    sb_peaks peaks;
    const sb_peak_sizes sizes = sb_peak_sizes_default();
    sb_error err;
    double gflops = NAN;
    if (sb_run_settings_exec(&s, &x, &err) == 0 && sb_sysinfo_collect(&sys, x, &err) == 0 &&
        sb_peaks_cached(x, &sys, &sizes, NULL, false, warn, warn_ctx, &peaks, &err) == 0)
        gflops = peaks.sgemm_gflops;
    else if (warn != NULL)
        warn(warn_ctx, err.msg);
    if (backend == SB_GEMM_OPENBLAS && !isnan(gflops))
        snprintf(openblas_core, 64, "%s", sys.openblas_core);
    sb_exec_free(x);
    return gflops;
}

int sb_gemm_choose_measured(int threads, bool bf16, sb_warn_fn warn, void *warn_ctx, sb_gemm_choice *out,
                            sb_error *err)
{
    /* More threads than this machine runs would measure oversubscription, not the backend. */
    const int max = omp_get_max_threads();
    threads = threads <= 0 || threads > max ? max : threads;
    double gflops[2] = {NAN, NAN};
    char openblas_core[64] = "";
    if (!bf16)
        for (int b = 0; b < 2; b++)
            gflops[b] = measured_sgemm((sb_gemm_backend)b, threads, warn, warn_ctx, openblas_core);
    if (!bf16 && isnan(gflops[0]) && isnan(gflops[1]))
        return sb_fail(err, "neither backend's sgemm peak could be measured: name one with --gemm");
    sb_gemm_choose(gflops, openblas_core, bf16, threads, out);
    return 0;
}

/* ---- backend.json -------------------------------------------------------------------------------------- */

static void choice_path(const char *dir, char *out, size_t cap)
{
    snprintf(out, cap, "%s/backend.json", dir);
}

int sb_gemm_choice_save(const char *dir, const sb_gemm_choice *c, sb_error *err)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "gemm", sb_gemm_backend_name(c->gemm));
    cJSON_AddStringToObject(j, "note", c->note);
    cJSON_AddNumberToObject(j, "threads", c->threads);
    cJSON *peaks = cJSON_AddObjectToObject(j, "sgemm_gflops");
    if (peaks == NULL) {
        cJSON_Delete(j);
        return sb_fail(err, "out of memory");
    }
    for (int b = 0; b < 2; b++) /* NaN (not measured) is null */
        if (isnan(c->sgemm_gflops[b]))
            cJSON_AddNullToObject(peaks, sb_gemm_backend_name((sb_gemm_backend)b));
        else
            cJSON_AddNumberToObject(peaks, sb_gemm_backend_name((sb_gemm_backend)b), c->sgemm_gflops[b]);
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    char path[SB_PATH_MAX + 16];
    choice_path(dir, path, sizeof path);
    int rc = text == NULL ? sb_fail(err, "out of memory")
             : sb_mkdir_p(dir, err) != 0 ? -1
                                          : sb_write_text_atomic(path, text, true, err);
    free(text);
    return rc;
}

int sb_gemm_choice_load(const char *dir, sb_gemm_choice *out, bool *present, sb_error *err)
{
    char path[SB_PATH_MAX + 16], *text;
    size_t len;
    choice_path(dir, path, sizeof path);
    *present = access(path, F_OK) == 0;
    if (!*present)
        return 0;
    if (sb_read_file(path, &text, &len, err) != 0)
        return -1;
    cJSON *j = cJSON_ParseWithLength(text, len);
    free(text);
    const cJSON *gemm = cJSON_GetObjectItemCaseSensitive(j, "gemm"),
                *note = cJSON_GetObjectItemCaseSensitive(j, "note"),
                *threads = cJSON_GetObjectItemCaseSensitive(j, "threads"),
                *peaks = cJSON_GetObjectItemCaseSensitive(j, "sgemm_gflops");
    sb_error why;
    int rc = 0;
    *out = (sb_gemm_choice){.sgemm_gflops = {NAN, NAN}};
    if (!cJSON_IsString(gemm) || sb_gemm_parse_backend(gemm->valuestring, &out->gemm, &why) != 0 ||
        !cJSON_IsString(note) || !cJSON_IsNumber(threads) || !(threads->valuedouble >= 1) ||
        threads->valuedouble > SB_THREADS_MAX)
        rc = sb_fail(err, "%s is not a backend choice this version wrote (gemm, note, threads): delete it to choose "
                          "the backend again", path);
    if (rc == 0) {
        snprintf(out->note, sizeof out->note, "%s", note->valuestring);
        out->threads = (int)threads->valuedouble;
        for (int b = 0; b < 2; b++) {
            const cJSON *g = cJSON_GetObjectItemCaseSensitive(peaks, sb_gemm_backend_name((sb_gemm_backend)b));
            if (cJSON_IsNumber(g))
                out->sgemm_gflops[b] = g->valuedouble;
        }
    }
    cJSON_Delete(j);
    return rc;
}

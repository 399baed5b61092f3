/* exec.c — the execution context's lifetime, its settings, and the thread count it runs with. */
#include "engine/exec/exec.h"

#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void sb_exec_settings_default(sb_exec_settings *s)
{
    *s = (sb_exec_settings){.backend = SB_GEMM_OPENBLAS, .threads = 0, .partitioned = true, .prepack = true,
                            .compute = SB_DTYPE_F32};
}

bool sb_exec_prepack(const sb_exec *x)
{
    return x->settings.prepack;
}

sb_dtype sb_exec_compute(const sb_exec *x)
{
    return x->settings.compute;
}

const char *sb_exec_backend_version(const sb_exec *x)
{
    return x->backend_version;
}

void sb_exec_enter(const sb_exec *x)
{
    /* One pool: OpenBLAS's OpenMP build and oneDNN both run on libgomp's threads, as do the engine's loops,
     * so setting both counts to the same value is what keeps them from oversubscribing. Both are settings of
     * the calling thread's OpenMP environment (OpenBLAS's its own), set only when they differ. */
    if (omp_get_max_threads() != x->settings.threads)
        omp_set_num_threads(x->settings.threads);
    if (openblas_get_num_threads() != x->settings.threads)
        openblas_set_num_threads(x->settings.threads);
}

int64_t sb_exec_flops(const sb_exec *x)
{
    return __atomic_load_n(&x->flops, __ATOMIC_RELAXED);
}

void sb_exec_reset_flops(sb_exec *x)
{
    __atomic_store_n(&x->flops, 0, __ATOMIC_RELAXED);
}

void sb_exec_record(sb_exec *x, sb_gemm_shape *shapes, size_t capacity)
{
    omp_set_lock(&x->record_lock);
    x->record_shapes = shapes;
    x->record_capacity = shapes != NULL ? capacity : 0;
    x->record_count = 0;
    omp_unset_lock(&x->record_lock);
}

size_t sb_exec_recorded(const sb_exec *x)
{
    return x->record_count;
}

/* ---- backends ------------------------------------------------------------------------------------------ */

const char *sb_gemm_backend_name(sb_gemm_backend backend)
{
    return backend == SB_GEMM_ONEDNN ? "onednn" : "openblas";
}

int sb_gemm_parse_backend(const char *name, sb_gemm_backend *out, sb_error *err)
{
    if (name != NULL && strcmp(name, "openblas") == 0)
        *out = SB_GEMM_OPENBLAS;
    else if (name != NULL && strcmp(name, "onednn") == 0)
        *out = SB_GEMM_ONEDNN;
    else
        return sb_fail(err, "unknown GEMM backend '%s' (openblas | onednn)", name ? name : "");
    return 0;
}

void sb_gemm_backend_version(sb_gemm_backend backend, int threads, char *out, size_t cap)
{
    if (backend == SB_GEMM_ONEDNN) {
        const dnnl_version_t *v = dnnl_version();
        snprintf(out, cap, "oneDNN %d.%d.%d threads=%d", v->major, v->minor, v->patch, threads);
    } else {
        /* openblas_get_config() starts "OpenBLAS 0.3.21 ..." followed by build options; keep the version. */
        char version[32] = "?";
        sscanf(openblas_get_config(), "OpenBLAS %31s", version);
        snprintf(out, cap, "OpenBLAS %s core=%s threads=%d", version, openblas_get_corename(), threads);
    }
}

int sb_gemm_vector_bits(sb_gemm_backend backend)
{
    if (backend == SB_GEMM_ONEDNN) {
        const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
        if ((isa & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core)
            return 512;
        return (isa & dnnl_cpu_isa_avx2) == dnnl_cpu_isa_avx2 ? 256 : 0;
    }
    static const struct {
        const char *core;
        int bits;
    } cores[] = {{"Haswell", 256}, {"Zen", 256}, {"SkylakeX", 512}, {"Cooperlake", 512}, {"SapphireRapids", 512}};
    const char *name = openblas_get_corename();
    for (size_t i = 0; name != NULL && i < sizeof cores / sizeof cores[0]; i++)
        if (strcasecmp(name, cores[i].core) == 0)
            return cores[i].bits;
    return 0;
}

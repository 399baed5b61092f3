/* settings.c — what a measurement is asked to do: the modes, the default settings, and the key that names a
 * measurement (the same settings give the same key, so a rerun resumes and shards merge). */
#include "harness/harness.h"

#include <omp.h>
#include <stdio.h>
#include <string.h>

static const char *const mode_names[SB_MODE_COUNT] = {"encode", "forward", "generate", "train"};

const char *sb_mode_name(sb_mode mode)
{
    return (unsigned)mode < SB_MODE_COUNT ? mode_names[mode] : "?";
}

int sb_mode_parse(const char *name, sb_mode *out, sb_error *err)
{
    for (int i = 0; i < SB_MODE_COUNT; i++)
        if (strcmp(name, mode_names[i]) == 0) {
            *out = (sb_mode)i;
            return 0;
        }
    const char *near = sb_nearest(name, mode_names, SB_MODE_COUNT);
    if (near != NULL)
        return sb_fail(err, "unknown mode '%s'; did you mean '%s'? (encode, forward, generate or train)", name, near);
    return sb_fail(err, "unknown mode '%s' (encode, forward, generate or train)", name);
}

void sb_run_settings_default(sb_run_settings *s)
{
    *s = (sb_run_settings){
        .mode = SB_MODE_FORWARD,
        .batch = 1,
        .src_len = 512,
        .tgt_len = 114,
        .precision = SB_PRECISION_F32,
        .threads = 0,
        .gemm = SB_GEMM_OPENBLAS,
        .seed = 0,
        .warmup = 1,
        .min_reps = 3,
        .min_time_s = 0.5,
        .max_time_s = 60,
    };
}

/* threads 0 means every thread OpenMP would use (OMP_NUM_THREADS, else the cores). */
int sb_run_settings_threads(const sb_run_settings *s)
{
    return s->threads > 0 ? s->threads : omp_get_max_threads();
}

void sb_record_key(const sb_config *cfg, const sb_run_settings *s, char out[SB_KEY_MAX])
{
    char shape[SB_SHAPE_ID_MAX];
    sb_config_identity(cfg, shape);
    snprintf(out, SB_KEY_MAX, "%s|%s|b%lld|s%lld|t%lld|%s|%s|t%d", shape, sb_mode_name(s->mode),
             (long long)s->batch, (long long)s->src_len, (long long)s->tgt_len, sb_precision_name(s->precision),
             sb_gemm_backend_name(s->gemm), sb_run_settings_threads(s));
}

int sb_run_settings_exec(const sb_run_settings *s, sb_exec **out, sb_error *err)
{
    sb_exec_settings xs;
    sb_exec_settings_default(&xs);
    xs.backend = s->gemm;
    xs.threads = s->threads;
    xs.compute = sb_precision_compute(s->precision);
    return sb_run_settings_check(s, err) == 0 ? sb_exec_create(out, &xs, err) : -1;
}

sb_dtype sb_run_settings_storage(const sb_run_settings *s)
{
    return sb_precision_storage(s->precision, s->mode == SB_MODE_TRAIN);
}

int sb_run_settings_check(const sb_run_settings *s, sb_error *err)
{
    if (s->precision != SB_PRECISION_BF16)
        return 0;
    if (s->gemm != SB_GEMM_ONEDNN)
        return sb_fail(err, "bf16 products run on oneDNN only (%s has no bf16 GEMM): use --gemm onednn, or "
                            "--dtype bf16-storage for bf16 weights with fp32 products",
                       sb_gemm_backend_name(s->gemm));
    return sb_bf16_available(err);
}

/* isa.c — whether this binary can run on this CPU. The build uses -march=native: built on a login node with
 * AVX-512, it would die of an illegal instruction on an older compute node, somewhere in the middle of a task.
 * The check runs first in main, compiled (like main) for the x86-64 baseline, and says what to do instead. */
#include "cli/cli.h"

#include <string.h>
#include <unistd.h>

void sb_isa_missing(const sb_isa_feature *features, size_t n, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && used < cap; i++)
        if (features[i].built_for && !features[i].supported)
            used += (size_t)snprintf(out + used, cap - used, "%s%s", used > 0 ? " " : "", features[i].name);
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)

/* Whether the compiler was allowed the extension: its macro is defined as 1 ("1" has two bytes with the NUL;
 * an undefined macro stringifies to its own name). */
#define SB_STRING(x) #x
#define SB_BUILT_FOR(macro) (sizeof(SB_STRING(macro)) == 2)
#define SB_FEATURE(name, macro) {name, SB_BUILT_FOR(macro), __builtin_cpu_supports(name) != 0}

bool sb_isa_check(void)
{
    __builtin_cpu_init();
    const sb_isa_feature features[] = {
        SB_FEATURE("ssse3", __SSSE3__),
        SB_FEATURE("sse4.1", __SSE4_1__),
        SB_FEATURE("sse4.2", __SSE4_2__),
        SB_FEATURE("popcnt", __POPCNT__),
        SB_FEATURE("movbe", __MOVBE__),
        SB_FEATURE("lzcnt", __LZCNT__),
        SB_FEATURE("bmi", __BMI__),
        SB_FEATURE("bmi2", __BMI2__),
        SB_FEATURE("f16c", __F16C__),
        SB_FEATURE("fma", __FMA__),
        SB_FEATURE("avx", __AVX__),
        SB_FEATURE("avx2", __AVX2__),
        SB_FEATURE("avxvnni", __AVXVNNI__),
        SB_FEATURE("gfni", __GFNI__),
        SB_FEATURE("vaes", __VAES__),
        SB_FEATURE("vpclmulqdq", __VPCLMULQDQ__),
        SB_FEATURE("avx512f", __AVX512F__),
        SB_FEATURE("avx512cd", __AVX512CD__),
        SB_FEATURE("avx512bw", __AVX512BW__),
        SB_FEATURE("avx512dq", __AVX512DQ__),
        SB_FEATURE("avx512vl", __AVX512VL__),
        SB_FEATURE("avx512ifma", __AVX512IFMA__),
        SB_FEATURE("avx512vbmi", __AVX512VBMI__),
        SB_FEATURE("avx512vbmi2", __AVX512VBMI2__),
        SB_FEATURE("avx512vnni", __AVX512VNNI__),
        SB_FEATURE("avx512bitalg", __AVX512BITALG__),
        SB_FEATURE("avx512vpopcntdq", __AVX512VPOPCNTDQ__),
        SB_FEATURE("avx512bf16", __AVX512BF16__),
        SB_FEATURE("avx512fp16", __AVX512FP16__),
        SB_FEATURE("avx512vp2intersect", __AVX512VP2INTERSECT__),
    };
    char missing[512], host[256];
    sb_isa_missing(features, sizeof features / sizeof features[0], missing, sizeof missing);
    if (missing[0] == '\0')
        return true;
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "(unknown)");
    host[sizeof host - 1] = '\0';
    fprintf(stderr,
            "shapebench: this binary was built (-march=native) for a CPU with %s; the CPU of host %s lacks them,\n"
            "so it would die of an illegal instruction. Build it on a machine of this CPU type (make clean && make;\n"
            "on a cluster: one build per CPU type, or build inside the job), or for a baseline every node has,\n"
            "e.g. make clean && make OPTFLAGS='-O2 -march=x86-64-v3' (AVX2 + FMA).\n",
            missing, host);
    return false;
}

#else

bool sb_isa_check(void)
{
    return true;
}

#endif

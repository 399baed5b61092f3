/* failure.c — a product's failure, recorded in the execution context: products run inside the engine's
 * parallel regions and return nothing, so the first failure is kept (thread-safe) until the entry point of
 * the pass asks for it. */
#include "engine/exec/exec.h"

void sb_exec_fail(sb_exec *x, const sb_error *err)
{
    int expected = 0;
    /* the first failure wins; its message is written by the one thread that set the flag */
    if (__atomic_compare_exchange_n(&x->failed, &expected, 1, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        x->failure = *err;
        __atomic_store_n(&x->failed, 2, __ATOMIC_RELEASE);
    }
}

int sb_exec_failure(sb_exec *x, sb_error *err)
{
    if (__atomic_load_n(&x->failed, __ATOMIC_ACQUIRE) != 2)
        return 0;
    if (err != NULL)
        *err = x->failure;
    __atomic_store_n(&x->failed, 0, __ATOMIC_RELEASE);
    return -1;
}

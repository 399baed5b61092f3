/* fuzz.h — what the libFuzzer targets (tests/fuzz/fuzz_*.c) share: a private scratch folder, writing an
 * input where the code under test reads it, inputs as text. Each target defines LLVMFuzzerTestOneInput; it
 * aborts (a crash libFuzzer keeps) when a property the code promises does not hold. `make fuzz` builds them
 * with clang, -fsanitize=fuzzer,address,undefined and float-cast-overflow. */
#ifndef SHAPEBENCH_FUZZ_H
#define SHAPEBENCH_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A folder made once per process under $TMPDIR (or /tmp), removed at exit; `label` names it. */
const char *fuzz_scratch(const char *label);
/* Replaces the file <fuzz_scratch>/<name> with data[0..size). */
void fuzz_write(const char *dir, const char *name, const void *data, size_t size);
/* data[0..size) as a NUL-terminated string (malloc'd; a NUL inside ends it early). */
char *fuzz_text(const uint8_t *data, size_t size);
/* Aborts with the message when `ok` is false: a broken promise, kept by libFuzzer as a crash. */
void fuzz_require(int ok, const char *what, const char *detail);

#endif

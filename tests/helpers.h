/* helpers.h — what several test files need: whole files, temporary folders, random-weight models, the built
 * binary and a results folder read back for plots (tests/helpers.c). Every helper fails the calling test through Criterion's asserts. */
#ifndef SHAPEBENCH_TEST_HELPERS_H
#define SHAPEBENCH_TEST_HELPERS_H

#include "engine/engine.h"
#include "plots/plots.h"

#include <stddef.h>

/* The whole file, malloc'd, with a NUL after it (text or raw arrays alike); *len its size unless len is NULL. */
void *test_read_file(const char *path, size_t *len);
void test_write_file(const char *path, const void *data, size_t len);

/* A fresh folder /tmp/shapebench-<label>-XXXXXX into dir[cap], and its removal with everything in it. */
void test_make_temp_dir(char *dir, size_t cap, const char *label);
void test_remove_tree(const char *dir);

/* HF's defaults (sb_config_defaults) with these dimensions: the small models tests build by hand. */
sb_config test_config(int64_t vocab, int64_t d_model, int64_t d_ff, int64_t num_heads, int64_t d_kv, int64_t num_layers,
                      int64_t num_decoder_layers);
/* Dimensions oneDNN's matmul pre-packs (output features in 64s, input features in 16s: every attention and
 * FFN weight); vocabulary 96 is not, so an untied lm_head stays in HF layout beside them. Tied, as HF's
 * default. */
sb_config test_packable_config(void);
/* cfg validated, weights allocated as dtype and filled by T5's init from seed. */
void test_make_weights(sb_weights *w, const sb_config *cfg, sb_dtype dtype, uint64_t seed);

/* An execution context on backend with `threads` threads (products split, oneDNN pre-packed); sb_exec_free it. */
sb_exec *test_exec(sb_gemm_backend backend, int threads);
/* A oneDNN context computing in bf16; the test is skipped, saying why, where oneDNN has no bf16 instructions. */
sb_exec *test_exec_bf16(int threads);
/* A copy of w in `dtype` storage (bf16 rounds to nearest even), in HF layout. */
void test_convert_weights(sb_weights *out, const sb_weights *w, sb_dtype dtype);

/* Runs `$SHAPEBENCH_BIN args` through the shell, stderr discarded unless args redirect it (e.g. "2>&1" to
 * read it with stdout). out: its stdout (malloc'd), or NULL to discard it. Returns the exit status, -1 when
 * it did not exit. */
int test_run_cli(const char *args, char **out);

/* A results folder read back as `plots` reads it: records (with the published quality figures attached), shape
 * table, probe view (joined with `speed` when not NULL) and the figures planned. */
typedef struct {
    sb_results results;
    sb_shape_table table;
    sb_probe_view probe;
    sb_figures figures;
} test_plots_run;
void test_plots_load(test_plots_run *r, const char *dir, const sb_results *speed);
void test_plots_free(test_plots_run *r);

#endif

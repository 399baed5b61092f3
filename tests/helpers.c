/* helpers.c — the test helpers declared in helpers.h, linked into the suite beside the tests/test_*.c files. */
#include "tests/helpers.h"

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

void *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s (tests run from the repository root)", path);
    fseek(f, 0, SEEK_END);
    const long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)size + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)size, f), (size_t)size, "cannot read %s", path);
    buf[size] = '\0';
    fclose(f);
    if (len != NULL)
        *len = (size_t)size;
    return buf;
}

void test_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot create %s", path);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0, "cannot write %s", path);
}

void test_make_temp_dir(char *dir, size_t cap, const char *label)
{
    snprintf(dir, cap, "/tmp/shapebench-%s-XXXXXX", label);
    cr_assert_not_null(mkdtemp(dir), "cannot create a folder like %s", dir);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

void test_remove_tree(const char *dir)
{
    cr_expect_eq(nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS), 0, "cannot remove %s", dir);
}

sb_config test_packable_config(void)
{
    return test_config(96, 64, 192, 4, 16, 2, 2);
}

sb_config test_config(int64_t vocab, int64_t d_model, int64_t d_ff, int64_t num_heads, int64_t d_kv, int64_t num_layers,
                      int64_t num_decoder_layers)
{
    sb_config c;
    sb_config_defaults(&c);
    c.vocab_size = vocab;
    c.d_model = d_model;
    c.d_ff = d_ff;
    c.num_heads = num_heads;
    c.d_kv = d_kv;
    c.num_layers = num_layers;
    c.num_decoder_layers = num_decoder_layers;
    return c;
}

void test_make_weights(sb_weights *w, const sb_config *cfg, sb_dtype dtype, uint64_t seed)
{
    sb_error err = {0};
    cr_assert_eq(sb_config_validate(cfg, &err), 0, "%s", err.msg);
    cr_assert_eq(sb_weights_alloc(w, cfg, dtype, &err), 0, "%s", err.msg);
    sb_weights_init_random(w, seed);
}

int test_run_cli(const char *args, char **out)
{
    const char *bin = getenv("SHAPEBENCH_BIN");
    cr_assert_not_null(bin, "SHAPEBENCH_BIN is not set (run through make test)");
    char command[2048];
    /* the default redirection first: a later one in args overrides it */
    snprintf(command, sizeof command, "'%s' 2>/dev/null %s", bin, args);
    FILE *p = popen(command, "r");
    cr_assert_not_null(p, "cannot run %s", command);
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap);
    cr_assert_not_null(text);
    for (size_t n; (n = fread(text + len, 1, cap - len - 1, p)) > 0;) {
        len += n;
        if (cap - len < 2) {
            text = realloc(text, cap *= 2);
            cr_assert_not_null(text);
        }
    }
    text[len] = '\0';
    const int status = pclose(p);
    if (out != NULL)
        *out = text;
    else
        free(text);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

sb_exec *test_exec_bf16(int threads)
{
    sb_error why = {0};
    if (sb_bf16_available(&why) != 0)
        cr_skip_test("%s", why.msg);
    sb_exec_settings xs;
    sb_exec_settings_default(&xs);
    xs.backend = SB_GEMM_ONEDNN;
    xs.threads = threads;
    xs.compute = SB_DTYPE_BF16;
    sb_exec *x = NULL;
    cr_assert_eq(sb_exec_create(&x, &xs, &why), 0, "%s", why.msg);
    return x;
}

void test_convert_weights(sb_weights *out, const sb_weights *w, sb_dtype dtype)
{
    sb_error err = {0};
    cr_assert_eq(w->num_packed, 0, "convert weights in HF layout");
    cr_assert_eq(sb_weights_alloc(out, &w->cfg, dtype, &err), 0, "%s", err.msg);
    float *row = malloc(sizeof(float) * 4096);
    for (size_t i = 0; i < w->num_tensors; i++) {
        const sb_tensor *t = &w->tensors[i];
        const char *src = sb_tensor_data(w, t);
        char *dst = sb_tensor_data(out, &out->tensors[i]);
        for (int64_t at = 0; at < t->numel; at += 4096) {
            const int64_t n = t->numel - at < 4096 ? t->numel - at : 4096;
            sb_dtype_to_f32(w->dtype, src + at * sb_dtype_bytes(w->dtype), row, n);
            sb_dtype_from_f32(dtype, row, dst + at * sb_dtype_bytes(dtype), n);
        }
    }
    free(row);
}

sb_exec *test_exec(sb_gemm_backend backend, int threads)
{
    sb_exec_settings xs;
    sb_exec_settings_default(&xs);
    xs.backend = backend;
    xs.threads = threads;
    sb_exec *x = NULL;
    sb_error err = {0};
    cr_assert_eq(sb_exec_create(&x, &xs, &err), 0, "%s", err.msg);
    return x;
}

void test_plots_load(test_plots_run *r, const char *dir, const sb_results *speed)
{
    sb_error err = {{0}};
    cr_assert_eq(sb_results_load(dir, &r->results, NULL, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(sb_results_attach_published_quality(&r->results, &err), 0, "%s", err.msg);
    cr_assert_eq(sb_shape_table_build(&r->results, &r->table, &err), 0, "%s", err.msg);
    cr_assert_eq(sb_probe_view_build(&r->results, speed, &r->probe, &err), 0, "%s", err.msg);
    sb_figures_plan(&r->table, &r->results, &r->probe, &r->figures);
}

void test_plots_free(test_plots_run *r)
{
    sb_probe_view_free(&r->probe);
    sb_shape_table_free(&r->table);
    sb_results_free(&r->results);
}

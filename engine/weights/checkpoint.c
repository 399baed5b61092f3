/* checkpoint.c — Hugging Face checkpoint folders (config.json + model.safetensors): loading, saving
 * without ever leaving a half-written file, and opening a model that is either a folder or a name. */
#include "engine/weights/weights.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int join(char *out, const char *dir, const char *file, sb_error *err)
{
    if (snprintf(out, PATH_MAX, "%s/%s", dir, file) >= PATH_MAX)
        return sb_fail(err, "%s: path too long", dir);
    return 0;
}

int sb_checkpoint_load(const char *dir, sb_dtype dtype, sb_weights *out, sb_warn_fn warn, void *warn_ctx,
                       sb_error *err)
{
    memset(out, 0, sizeof *out);
    char path[PATH_MAX];
    sb_config cfg;
    if (join(path, dir, "config.json", err) != 0 || sb_config_load_json_file(path, &cfg, warn, warn_ctx, err) != 0)
        return -1;
    if (join(path, dir, "model.safetensors", err) != 0 || sb_weights_alloc(out, &cfg, dtype, err) != 0)
        return -1;
    if (sb_safetensors_read(path, out, warn, warn_ctx, err) != 0) {
        sb_weights_free(out);
        return -1;
    }
    return 0;
}

static int write_text(FILE *f, void *text, sb_error *err)
{
    return fputs(text, f) >= 0 ? 0 : sb_fail(err, "cannot write config.json: %s", strerror(errno));
}

static int write_safetensors(FILE *f, void *weights, sb_error *err)
{
    return sb_safetensors_write(weights, f, err);
}

/* dir/name replaced whole (sb_write_file_atomic): a crash or a full disk leaves the previous file or none,
 * never a truncated one. */
static int write_into(const char *dir, const char *name, sb_write_fn write, void *what, sb_error *err)
{
    char path[PATH_MAX];
    return join(path, dir, name, err) != 0 ? -1 : sb_write_file_atomic(path, write, what, err);
}

int sb_checkpoint_save(const sb_weights *w, const char *dir, sb_error *err)
{
    if (sb_weights_require_plain(w, "saving a checkpoint", err) != 0 || sb_mkdir_p(dir, err) != 0)
        return -1;
    char *config = sb_config_to_json(&w->cfg);
    if (config == NULL)
        return sb_fail(err, "out of memory serialising config.json");
    /* Each file is replaced whole; the loader checks the pair against each other whatever happened
     * between the two renames. */
    int rc = write_into(dir, "model.safetensors", write_safetensors, (void *)w, err);
    if (rc == 0)
        rc = write_into(dir, "config.json", write_text, config, err);
    free(config);
    return rc;
}

bool sb_model_is_checkpoint(const char *model)
{
    char path[PATH_MAX];
    struct stat st;
    return stat(model, &st) == 0 && S_ISDIR(st.st_mode) &&
           snprintf(path, sizeof path, "%s/model.safetensors", model) < (int)sizeof path && stat(path, &st) == 0 &&
           S_ISREG(st.st_mode);
}

int sb_model_open(const char *model, sb_dtype dtype, uint64_t seed, sb_weights *out, sb_warn_fn warn,
                  void *warn_ctx, sb_error *err)
{
    memset(out, 0, sizeof *out);
    if (sb_model_is_checkpoint(model))
        return sb_checkpoint_load(model, dtype, out, warn, warn_ctx, err);
    sb_config cfg;
    if (sb_config_resolve(model, &cfg, warn, warn_ctx, err) != 0 || sb_weights_alloc(out, &cfg, dtype, err) != 0)
        return -1;
    sb_weights_init_random(out, seed);
    return 0;
}

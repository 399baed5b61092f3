/* fuzz_safetensors.c — the model.safetensors reader on any bytes, against the weights table of a small
 * model (FUZZ_SPEC below; the seeds are that model's own file from `shapebench init`, and the fixtures'
 * files). The reader must refuse whatever does not describe exactly that table, touching no byte outside
 * the file, and fill the weights when it does. */
#include "tests/fuzz/fuzz.h"

#include "engine/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* Small enough that a whole file is a few kilobytes; gated FFN and untied head, so every kind of tensor
 * name (wi_0 / wi_1, lm_head) is in the table. */
#define FUZZ_SPEC                                                                                                \
    "t5-efficient-tiny:vocab_size=16,d_model=8,d_ff=16,num_heads=2,d_kv=4,num_layers=1,num_decoder_layers=1,"   \
    "feed_forward_proj=gated-gelu,tie_word_embeddings=false"

static sb_weights weights;
static int file_fd = -1;
static char file_path[64];

static void setup(void)
{
    sb_config cfg;
    sb_error err;
    if (sb_config_resolve(FUZZ_SPEC, &cfg, NULL, NULL, &err) != 0 ||
        sb_weights_alloc(&weights, &cfg, SB_DTYPE_F32, &err) != 0) {
        fprintf(stderr, "fuzz_safetensors: %s\n", err.msg);
        abort();
    }
    file_fd = memfd_create("model.safetensors", MFD_CLOEXEC);
    if (file_fd < 0)
        abort();
    snprintf(file_path, sizeof file_path, "/proc/self/fd/%d", file_fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (file_fd < 0)
        setup();
    if (ftruncate(file_fd, 0) != 0 || (size > 0 && pwrite(file_fd, data, size, 0) != (ssize_t)size))
        abort();
    sb_error err = {""};
    const int rc = sb_safetensors_read(file_path, &weights, NULL, NULL, &err);
    fuzz_require(rc == 0 || err.msg[0] != '\0', "a refused file names why", NULL);
    return 0;
}

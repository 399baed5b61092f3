/* fuzz_fixture.c — the inputs of a fixture-style folder (`forward` and `grad --inputs`): expected.json and
 * the array file it names. The input is expected.json's text, a NUL, then the bytes of the folder's
 * input_ids.bin. An accepted array holds exactly the bytes its whole-number shape needs. */
#include "tests/fuzz/fuzz.h"

#include "cli/cli.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *dir = fuzz_scratch("fixture");
    const uint8_t *nul = memchr(data, '\0', size);
    const size_t json = nul != NULL ? (size_t)(nul - data) : size;
    fuzz_write(dir, "expected.json", data, json);
    fuzz_write(dir, "input_ids.bin", nul != NULL ? nul + 1 : data, nul != NULL ? size - json - 1 : 0);
    sb_fixture_input in[2] = {{.key = "input_ids", .required = true}, {.key = "attention_mask"}};
    sb_error err = {""};
    if (sb_fixture_read(dir, in, 2, &err) != 0) {
        fuzz_require(err.msg[0] != '\0' && in[0].data == NULL, "a refusal names why and keeps nothing", NULL);
        return 0;
    }
    for (int i = 0; i < 2; i++)
        if (in[i].data != NULL)
            fuzz_require(in[i].shape[0] >= 1 && in[i].shape[1] >= 1, "an accepted shape is whole and positive", NULL);
    sb_fixture_free(in, 2);
    return 0;
}

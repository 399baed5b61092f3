/* test_names.c — name resolution, the registry, and the `list` / `config` commands' exit codes.
 * Shapes are checked against the TSV files in variants/data/ read from disk, independently of the embedded copy. */
#include "tests/helpers.h"
#include "variants/variants.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sb_config resolve_ok(const char *spec)
{
    sb_config cfg;
    sb_error err = {{0}};
    int rc = sb_config_resolve(spec, &cfg, NULL, NULL, &err);
    cr_assert_eq(rc, 0, "%s: %s", spec, err.msg);
    return cfg;
}

static void expect_error(const char *spec, const char *needle)
{
    sb_config cfg;
    sb_error err = {{0}};
    cr_assert_eq(sb_config_resolve(spec, &cfg, NULL, NULL, &err), -1, "%s resolved", spec);
    cr_assert(strchr(err.msg, '\n') == NULL, "%s: message is not one line", spec);
    cr_assert(strstr(err.msg, needle) != NULL, "%s: '%s' lacks '%s'", spec, err.msg, needle);
}

static void expect_shape(const sb_config *c, int64_t el, int64_t dl, int64_t dm, int64_t ff, int64_t kv, int64_t nh)
{
    cr_expect_eq(c->num_layers, el, "%s: num_layers %lld", c->name, (long long)c->num_layers);
    cr_expect_eq(c->num_decoder_layers, dl, "%s: num_decoder_layers %lld", c->name, (long long)c->num_decoder_layers);
    cr_expect_eq(c->d_model, dm, "%s: d_model %lld", c->name, (long long)c->d_model);
    cr_expect_eq(c->d_ff, ff, "%s: d_ff %lld", c->name, (long long)c->d_ff);
    cr_expect_eq(c->d_kv, kv, "%s: d_kv %lld", c->name, (long long)c->d_kv);
    cr_expect_eq(c->num_heads, nh, "%s: num_heads %lld", c->name, (long long)c->num_heads);
}

Test(names, every_t5_efficient_row_resolves_to_its_tsv_shape)
{
    FILE *f = fopen("variants/data/t5_efficient_shapes.tsv", "r");
    cr_assert_not_null(f, "run the tests from the repository root");
    char line[1024];
    int rows = 0, google = 0, sh = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        char full[256], evidence[64];
        long long el, dl, dm, ff, kv, nh;
        if (line[0] == '#' || strncmp(line, "name\t", 5) == 0)
            continue;
        cr_assert_eq(sscanf(line, "%255s %lld %lld %lld %lld %lld %lld %63s", full, &el, &dl, &dm, &ff, &kv, &nh,
                            evidence), 8, "bad line %s", line);
        rows++;
        google += strncmp(full, "google/", 7) == 0;
        const char *bare = strchr(full, '/') + 1;
        if (strstr(bare, "-sh") != NULL) {
            sh++;
            expect_error(full, "unpublished");
            expect_error(bare, "unpublished");
            continue;
        }
        sb_config with_org = resolve_ok(full), without = resolve_ok(bare);
        cr_expect_str_eq(with_org.name, bare);
        expect_shape(&with_org, el, dl, dm, ff, kv, nh);
        expect_shape(&without, el, dl, dm, ff, kv, nh);
        cr_expect_eq(with_org.ffn, SB_FFN_RELU);
        cr_expect(with_org.tie_word_embeddings);
        cr_expect_eq(with_org.num_experts, 0);
        cr_expect_eq(with_org.shared_kv, strstr(bare, "-skv") != NULL, "%s", bare);
    }
    fclose(f);
    cr_expect_eq(rows, 170);
    cr_expect_eq(google, 160);
    cr_expect_eq(sh, 6);
}

Test(names, published_quirks_win_over_the_grammar)
{
    sb_config c = resolve_ok("t5-efficient-tiny-el8");
    expect_shape(&c, 8, 12, 256, 1024, 64, 4);
    c = resolve_ok("t5-efficient-tiny-dl2");
    expect_shape(&c, 12, 2, 256, 1024, 64, 4);
    c = resolve_ok("t5-efficient-small-el32");
    expect_shape(&c, 32, 6, 512, 2048, 64, 8);
    c = resolve_ok("google/t5-efficient-xxl-nl4");
    expect_shape(&c, 4, 4, 1024, 65536, 64, 32);
    c = resolve_ok("t5-efficient-base-dm1000");
    cr_expect_eq(c.d_model, 1024);
    c = resolve_ok("t5-efficient-small-ff3000");
    cr_expect_eq(c.d_ff, 3072);
}

Test(names, new_grammar_combinations)
{
    sb_config c = resolve_ok("t5-efficient-base-nl24-dm512");
    expect_shape(&c, 24, 24, 512, 3072, 64, 12);
    cr_expect_str_eq(c.name, "t5-efficient-base-nl24-dm512");
    c = resolve_ok("google/t5-efficient-small-kv16-nh16");
    expect_shape(&c, 6, 6, 512, 2048, 16, 16);
    /* new combinations keep the size's own depth: the tiny el/dl quirk is the published rows' only */
    c = resolve_ok("t5-efficient-tiny-el8-dm2000");
    expect_shape(&c, 8, 4, 2048, 1024, 64, 4);
    c = resolve_ok("t5-efficient-mini-ff3000-dl3");
    expect_shape(&c, 4, 3, 384, 3072, 64, 8);
    c = resolve_ok("t5-efficient-large-ff999");
    cr_expect_eq(c.d_ff, 999);
    c = resolve_ok("t5-efficient-xl-skv-nl2");
    cr_expect(c.shared_kv);
    expect_shape(&c, 2, 2, 1024, 16384, 128, 32);
}

Test(names, sh_variants_are_refused)
{
    expect_error("t5-efficient-small-sh", "unpublished");
    expect_error("NewT5SharedHeadsSharedKeyValues/t5-efficient-small-shkv", "unpublished");
    expect_error("t5-efficient-base-nl8-sh", "unpublished");
    expect_error("t5-efficient-base-shkv-nl8", "unpublished");
}

Test(names, malformed_knobs)
{
    expect_error("t5-efficient-small-nl0", "positive integer");
    expect_error("t5-efficient-small-dm-5", "'dm' needs a value");
    expect_error("t5-efficient-small-kv", "'kv' needs a value");
    expect_error("t5-efficient-small-xy4", "unknown knob 'xy4'");
    expect_error("t5-efficient-small-nl4-nl8", "given twice");
    expect_error("t5-efficient-small-nl4-el2", "cannot be combined");
    expect_error("t5-efficient-small-skv3", "takes no value");
    expect_error("t5-efficient-small--nl4", "empty knob");
    expect_error("t5-efficient-small-nl4-", "empty knob");
    expect_error("t5-efficient-small-nl007", "leading zeros");
    expect_error("t5-efficient-small-nl99999999999", "positive integer");
    expect_error("t5-efficient-small-nl5000", "out of range");
    expect_error("t5-efficient-small-dm16000000-ff16000000-nl2000", "exceeds 2^53");
}

Test(names, unknown_names_suggest_the_nearest)
{
    expect_error("t5-efficient-bsae", "did you mean 't5-efficient-base'?");
    expect_error("google/switch-base-9", "did you mean 'switch-base-8'?");
    expect_error("t5-smal", "did you mean 't5-small'?");
    expect_error("qwertyuiopasdfgh", "unknown model 'qwertyuiopasdfgh'");
    expect_error("", "empty model name");
    char longer[400];
    memset(longer, 'a', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    expect_error(longer, "longer than");
}

Test(names, switch_checkpoints)
{
    static const struct {
        const char *name;
        int64_t experts;
    } base[] = {{"switch-base-8", 8}, {"switch-base-16", 16}, {"switch-base-32", 32},
                {"switch-base-64", 64}, {"switch-base-128", 128}, {"google/switch-base-256", 256}};
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++) {
        sb_config c = resolve_ok(base[i].name);
        expect_shape(&c, 12, 12, 768, 3072, 64, 12);
        cr_expect_eq(c.num_experts, base[i].experts);
        cr_expect_eq(c.encoder_sparse_step, 2);
        cr_expect_eq(c.decoder_sparse_step, 2);
        cr_expect_eq(c.expert_capacity, 64);
        cr_expect(c.tie_word_embeddings);
        cr_expect_eq(c.expert_ffn, SB_FFN_RELU);
    }
    sb_config c = resolve_ok("switch-large-128");
    expect_shape(&c, 24, 24, 1024, 4096, 64, 16);
    c = resolve_ok("switch-xxl-128");
    expect_shape(&c, 24, 24, 4096, 10240, 64, 64);
    cr_expect_eq(c.ffn, SB_FFN_GATED_GELU);
    cr_expect_eq(c.expert_ffn, SB_FFN_GATED_GELU);
    cr_expect(!c.tie_word_embeddings);
    c = resolve_ok("switch-c-2048");
    expect_shape(&c, 15, 15, 2080, 6144, 64, 30);
    cr_expect_eq(c.num_experts, 2048);
    cr_expect_eq(c.encoder_sparse_step, 1);
    cr_expect_eq(sb_num_sparse_blocks(&c, SB_STACK_DECODER), 15);
    cr_expect(!c.tie_word_embeddings);
}

Test(names, switch_versions_of_any_shape)
{
    sb_config c = resolve_ok("google/t5-efficient-small+switch32");
    expect_shape(&c, 6, 6, 512, 2048, 64, 8);
    cr_expect_str_eq(c.name, "t5-efficient-small+switch32");
    cr_expect_eq(c.num_experts, 32);
    cr_expect_eq(c.encoder_sparse_step, 2);
    cr_expect_eq(c.decoder_sparse_step, 2);
    cr_expect_eq(c.expert_capacity, 64);
    cr_expect_eq(sb_num_sparse_blocks(&c, SB_STACK_ENCODER), 3);
    c = resolve_ok("t5-efficient-tiny+switch8/step1");
    cr_expect_eq(c.encoder_sparse_step, 1);
    cr_expect_eq(sb_num_sparse_blocks(&c, SB_STACK_DECODER), 4);
    c = resolve_ok("t5-v1_1-small+switch8");
    cr_expect_eq(c.expert_ffn, SB_FFN_GATED_GELU);
    c = resolve_ok("t5-efficient-base-nl8-dm512+switch16:expert_capacity=0,capacity_factor=1.25");
    cr_expect_eq(c.expert_capacity, 0);
    cr_expect_eq(c.capacity_factor, 1.25);
    cr_expect_eq(c.num_layers, 8);
    expect_error("t5-efficient-small+switch1", "at least 2 experts");
    expect_error("t5-efficient-small+switchX", "expected +switch<experts>");
    expect_error("t5-efficient-small+switch8/step0", "expected +switch<experts>");
    expect_error("t5-efficient-small+switch8/foo", "expected +switch<experts>");
    expect_error("switch-base-8+switch16", "already a Switch model");
}

Test(names, original_t5_and_v1_1)
{
    static const struct {
        const char *name;
        int64_t el, dm, ff, kv, nh;
        sb_ffn_kind ffn;
        bool tied;
    } rows[] = {
        {"t5-small", 6, 512, 2048, 64, 8, SB_FFN_RELU, true},
        {"t5-base", 12, 768, 3072, 64, 12, SB_FFN_RELU, true},
        {"t5-large", 24, 1024, 4096, 64, 16, SB_FFN_RELU, true},
        {"t5-3b", 24, 1024, 16384, 128, 32, SB_FFN_RELU, true},
        {"google-t5/t5-11b", 24, 1024, 65536, 128, 128, SB_FFN_RELU, true},
        {"t5-v1_1-small", 8, 512, 1024, 64, 6, SB_FFN_GATED_GELU, false},
        {"t5-v1_1-base", 12, 768, 2048, 64, 12, SB_FFN_GATED_GELU, false},
        {"t5-v1_1-large", 24, 1024, 2816, 64, 16, SB_FFN_GATED_GELU, false},
        {"google/t5-v1_1-xl", 24, 2048, 5120, 64, 32, SB_FFN_GATED_GELU, false},
        {"t5-v1_1-xxl", 24, 4096, 10240, 64, 64, SB_FFN_GATED_GELU, false},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        sb_config c = resolve_ok(rows[i].name);
        expect_shape(&c, rows[i].el, rows[i].el, rows[i].dm, rows[i].ff, rows[i].kv, rows[i].nh);
        cr_expect_eq(c.ffn, rows[i].ffn, "%s", rows[i].name);
        cr_expect_eq(c.tie_word_embeddings, rows[i].tied, "%s", rows[i].name);
        cr_expect_eq(c.vocab_size, 32128);
    }
}

Test(names, overrides)
{
    sb_config c = resolve_ok("google/t5-efficient-base:d_model=512,num_layers=8");
    expect_shape(&c, 8, 12, 512, 3072, 64, 12);
    cr_expect_str_eq(c.name, "t5-efficient-base:d_model=512,num_layers=8");
    c = resolve_ok("t5-small:feed_forward_proj=gated-gelu,tie_word_embeddings=false,num_decoder_layers=null");
    cr_expect_eq(c.ffn, SB_FFN_GATED_GELU);
    cr_expect(!c.tie_word_embeddings);
    c = resolve_ok("t5-efficient-base:num_experts=8,encoder_sparse_step=1,decoder_sparse_step=0");
    cr_expect_eq(sb_num_sparse_blocks(&c, SB_STACK_ENCODER), 12);
    cr_expect_eq(sb_num_sparse_blocks(&c, SB_STACK_DECODER), 0);
    c = resolve_ok("switch-base-8:num_sparse_encoder_layers=3,shared_kv=true,expert_ffn=\"gated-gelu\"");
    cr_expect_eq(c.encoder_sparse_step, 4);
    cr_expect_eq(c.decoder_sparse_step, 2);
    cr_expect(c.shared_kv);
    cr_expect_eq(c.expert_ffn, SB_FFN_GATED_GELU);
    expect_error("t5-small:foo=1", "unknown key 'foo'");
    expect_error("t5-small:dropout_rate=0", "cannot be overridden");
    expect_error("t5-small:d_model", "not key=value");
    expect_error("t5-small:d_model=", "not key=value");
    expect_error("t5-small:", "empty override");
    expect_error("t5-small:d_model=1,,d_ff=2", "empty override");
    expect_error("t5-small:d_model=64,d_model=128", "given twice");
    expect_error("t5-small:d_model=0", "d_model = 0 is out of range");
    expect_error("t5-small:d_model=512abc", "'512abc' is not a decimal number");
    expect_error("t5-small:d_model=0x200", "'0x200' is not a decimal number");
    expect_error("t5-small:d_model= 512", "expected an integer, got a string");
    expect_error("t5-small:feed_forward_proj=\"relu", "one JSON string");
    expect_error("t5-small:num_layers=1e9", "num_layers = 1000000000 is out of range (1..4095)");
    expect_error("t5-small:num_layers=3000,num_decoder_layers=3000", "at most 4096 blocks in all");
    expect_error("t5-small:d_model=1e300", "expected an integer");
    expect_error("t5-small:d_model=99999999999999999999", "expected an integer");
    expect_error("t5-small:d_model=512.5", "expected an integer");
    expect_error("t5-small:d_model=[1]", "must be a number");
    expect_error("t5-small:tie_word_embeddings=1", "expected true or false");
    expect_error("t5-small:feed_forward_proj=gated-silu", "'gated-silu' is not supported");
    expect_error("t5-small:num_experts=8", "sparse_step");
    expect_error("t5-small:vocab_size=16777216,d_model=16777216,d_ff=16777216", "exceeds 2^53");
}

static void count_warnings(void *ctx, const char *message)
{
    (void)message;
    ++*(int *)ctx;
}

Test(names, conflict_rows_warn)
{
    int warnings = 0;
    sb_config c;
    sb_error err;
    cr_assert_eq(sb_config_resolve("t5-efficient-tiny-nh8", &c, count_warnings, &warnings, &err), 0);
    cr_expect_eq(warnings, 1);
    cr_assert_eq(sb_config_resolve("t5-efficient-tiny-nh16", &c, count_warnings, &warnings, &err), 0);
    cr_expect_eq(warnings, 1);
}

Test(registry, families_and_flags)
{
    size_t family[4] = {0}, conflicts = 0, unsupported = 0;
    static const char *const names[4] = {"t5-efficient", "switch", "t5", "t5-v1_1"};
    for (size_t i = 0; i < sb_registry_count(); i++) {
        const sb_registry_entry *e = sb_registry_get(i);
        bool known = false;
        for (int f = 0; f < 4; f++)
            if (strcmp(e->family, names[f]) == 0) {
                family[f]++;
                known = true;
            }
        cr_expect(known, "%s: family %s", e->name, e->family);
        conflicts += e->conflict;
        unsupported += e->unsupported;
        cr_expect_eq(e->conflict, strcmp(e->evidence, "conflict") == 0);
        cr_expect_eq(e->unsupported, strstr(e->name, "-sh") != NULL, "%s", e->name);
        if (strcmp(e->family, "t5-efficient") == 0)
            cr_expect(e->evidence[0] != '\0', "%s has no evidence", e->name);
    }
    cr_expect_eq(family[0], 170);
    cr_expect_eq(family[1], 9);
    cr_expect_eq(family[2], 5);
    cr_expect_eq(family[3], 5);
    cr_expect_eq(sb_registry_count(), 189);
    cr_expect_eq(conflicts, 2);
    cr_expect_eq(unsupported, 6);
    cr_expect_null(sb_registry_get(sb_registry_count()));
}

/* ---- the CLI ------------------------------------------------------------------------------------------ */

static void expect_cli(const char *args, int code, const char *needle)
{
    char *out;
    cr_expect_eq(test_run_cli(args, &out), code, "shapebench %s", args);
    if (needle != NULL)
        cr_expect(strstr(out, needle) != NULL, "shapebench %s: no '%s' in: %s", args, needle, out);
    free(out);
}

Test(cli, exit_codes_and_messages)
{
    expect_cli("list --help", 0, "usage: shapebench list");
    expect_cli("config --help", 0, "usage: shapebench config");
    expect_cli("list --bogus 2>&1", 2, "shapebench list: bad option '--bogus'");
    expect_cli("list extra 2>&1", 2, "unexpected argument 'extra'");
    expect_cli("list --family nope 2>&1", 2, "unknown family 'nope'");
    expect_cli("config 2>&1", 2, "expected one MODEL");
    expect_cli("config a b 2>&1", 2, "expected one MODEL");
    expect_cli("config --bogus 2>&1", 2, "bad option");
    expect_cli("config t5-efficient-bsae 2>&1", 2, "shapebench config: unknown model 't5-efficient-bsae'; did you "
                                                  "mean 't5-efficient-base'?");
    expect_cli("config t5-efficient-small-sh 2>&1", 2, "unpublished");
    expect_cli("config t5-efficient-tiny-ff2000 2>&1 >/dev/null", 0, "warning");
    expect_cli("config google/t5-efficient-small-el32", 0, "\"num_layers\": 32");
}

Test(cli, list_shows_every_name_and_flags)
{
    char *out;
    cr_assert_eq(test_run_cli("list", &out), 0);
    size_t lines = 0;
    for (const char *p = out; (p = strchr(p, '\n')) != NULL; p++)
        lines++;
    cr_expect_eq(lines, 1 + sb_registry_count());
    for (const char *p = out; (p = strstr(p, "\nt5-efficient-tiny-")) != NULL; p++) {
        const char *end = strchr(p + 1, '\n');
        bool conflicted = strncmp(p + 1, "t5-efficient-tiny-nh8 ", 22) == 0 ||
                          strncmp(p + 1, "t5-efficient-tiny-ff2000 ", 25) == 0;
        const char *flag = strstr(p + 1, "CONFLICT");
        cr_expect_eq(flag != NULL && flag < end, conflicted, "%.*s", (int)(end - p - 1), p + 1);
    }
    const char *sh = strstr(out, "\nt5-efficient-small-shkv ");
    cr_assert_not_null(sh);
    cr_expect(strstr(sh, "UNSUPPORTED") < strchr(sh + 1, '\n'));
    free(out);

    cr_assert_eq(test_run_cli("list --json --family switch", &out), 0);
    cJSON *array = cJSON_Parse(out);
    cr_assert(cJSON_IsArray(array), "not a JSON array: %s", out);
    cr_expect_eq(cJSON_GetArraySize(array), 9);
    const cJSON *c2048 = cJSON_GetArrayItem(array, 8);
    cr_expect_str_eq(cJSON_GetObjectItem(c2048, "name")->valuestring, "switch-c-2048");
    cr_expect_eq(cJSON_GetObjectItem(c2048, "num_heads")->valuedouble, 30);
    cJSON_Delete(array);
    free(out);

    cr_assert_eq(test_run_cli("list --json", &out), 0);
    array = cJSON_Parse(out);
    int conflicts = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, array) conflicts += cJSON_IsTrue(cJSON_GetObjectItem(row, "conflict"));
    cr_expect_eq(cJSON_GetArraySize(array), (int)sb_registry_count());
    cr_expect_eq(conflicts, 2);
    cJSON_Delete(array);
    free(out);
}

/* A shape's identity is its name when the name alone gives exactly that shape, else the name and a hash of
 * the config: two config.json files with one _name_or_path and different shapes never share a key. */
Test(names, identity_tells_apart_shapes_that_share_a_name)
{
    static const char *const named[] = {"t5-efficient-base-nl24", "switch-base-8", "t5-efficient-tiny+switch8/step1",
                                        "t5-efficient-base:d_model=512,num_layers=8", "t5-v1_1-small"};
    char id[SB_SHAPE_ID_MAX];
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
        sb_config c = resolve_ok(named[i]);
        sb_config_identity(&c, id);
        cr_expect_str_eq(id, c.name, "%s", named[i]);
    }
    sb_config google = resolve_ok("google/t5-efficient-tiny");
    sb_config_identity(&google, id);
    cr_expect_str_eq(id, "t5-efficient-tiny");

    const char *text = "{\"_name_or_path\": \"my-model\", \"d_model\": 8, \"d_ff\": 16, \"num_heads\": 2, \"d_kv\": 4,"
                       " \"num_layers\": 1, \"model_type\": \"t5\"}";
    sb_config a, b, tiny_named;
    sb_error err;
    cr_assert_eq(sb_config_from_json(text, strlen(text), &a, NULL, NULL, &err), 0, "%s", err.msg);
    b = a;
    b.d_model = 16;
    char id_a[SB_SHAPE_ID_MAX], id_b[SB_SHAPE_ID_MAX];
    sb_config_identity(&a, id_a);
    sb_config_identity(&b, id_b);
    cr_expect(strncmp(id_a, "my-model#", 9) == 0 && strlen(id_a) == 9 + 12, "%s", id_a);
    cr_expect_str_neq(id_a, id_b);
    sb_config_identity(&a, id);
    cr_expect_str_eq(id, id_a, "the identity is stable");
    /* A config that borrows a registry name but not its shape is told apart from the registry's. */
    tiny_named = a;
    snprintf(tiny_named.name, sizeof tiny_named.name, "t5-efficient-tiny");
    sb_config_identity(&tiny_named, id);
    cr_expect(strncmp(id, "t5-efficient-tiny#", 18) == 0, "%s", id);
}

/* ---- the deep-narrow vs wide pairing rule (variants/pairs.c) ---------------------------------------------- */

/* Deeper-narrower: more blocks, no wider d_model, narrower d_model or d_ff; dense both. */
Test(pairs, deeper_narrower)
{
    const sb_body tiny = {8, 256, 1024, 0}, nl8 = {16, 256, 1024, 0}, ff3000 = {8, 256, 3072, 0};
    const sb_body small_nl2 = {4, 512, 2048, 0}, switch8 = {16, 256, 1024, 8};
    cr_assert(!sb_deeper_narrower(&nl8, &tiny), "deeper but as wide: not narrower");
    cr_assert(sb_deeper_narrower(&nl8, &ff3000));
    cr_assert(sb_deeper_narrower(&nl8, &small_nl2));
    cr_assert(!sb_deeper_narrower(&ff3000, &nl8));
    cr_assert(!sb_deeper_narrower(&small_nl2, &tiny), "shallower");
    cr_assert(!sb_deeper_narrower(&switch8, &ff3000), "Switch shapes are not paired");
    cr_assert(sb_sizes_matched(100, 110));
    cr_assert(!sb_sizes_matched(100, 110.1));
    cr_assert(!sb_sizes_matched(NAN, 100));
}

/* Cheapest pairs first, each shape once: nl8 goes to small-nl2 (larger size 16.73) before ff3000 (16.76);
 * dl6 then takes ff3000. */
Test(pairs, cheapest_first_each_shape_once)
{
    const sb_body bodies[] = {{16, 256, 1024, 0}, {8, 256, 3072, 0}, {4, 512, 2048, 0}, {18, 256, 1024, 0},
                              {8, 256, 1024, 0}};
    const double params[] = {15.72, 16.76, 16.73, 16.76, 8.37};
    sb_pair out[4];
    size_t n;
    sb_error err = {{0}};
    cr_assert_eq(sb_deep_wide_pairs(bodies, params, 5, 4, out, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 2);
    cr_assert_eq(out[0].deep, 0);
    cr_assert_eq(out[0].wide, 2);
    cr_assert_eq(out[1].deep, 3);
    cr_assert_eq(out[1].wide, 1);
    cr_assert_eq(sb_deep_wide_pairs(bodies, params, 5, 1, out, &n, &err), 0);
    cr_assert_eq(n, 1, "at most max pairs");
}

/* names.c — model specs to configs: published names (the registry), the T5-Efficient name grammar,
 * Switch versions of any shape (+switch<E>[/step<N>]), config.json paths, and `:key=value` overrides.
 *
 * Published rows win over the grammar, because the published checkpoints break it (tiny-el8 is 8/12,
 * xxl-nl4 has 32 heads x 64). A new grammar combination keeps the size's own depth in a stack it does not
 * name: the tiny el/dl quirk belongs to those published checkpoints, not to the grammar.
 */
#include "variants/variants.h"

#include <cjson/cJSON.h>
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Orgs the hub files these names under; any of them may prefix any name. */
static const char *const orgs[] = {"google/", "google-t5/", "NewT5SharedHeadsSharedKeyValues/"};

static const char *strip_org(const char *name)
{
    for (size_t i = 0; i < sizeof orgs / sizeof orgs[0]; i++)
        if (strncmp(name, orgs[i], strlen(orgs[i])) == 0)
            return name + strlen(orgs[i]);
    return name;
}

/* A knob value: decimal digits, no sign, no leading zero, at most 9 digits (validation bounds it further). */
static int parse_count(const char *text, size_t len, int64_t *out)
{
    if (len == 0 || len > 9 || text[0] == '0')
        return -1;
    int64_t value = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return -1;
        value = value * 10 + (text[i] - '0');
    }
    *out = value;
    return 0;
}

/* ---- the T5-Efficient grammar ------------------------------------------------------------------------ */

enum { KNOB_NL, KNOB_EL, KNOB_DL, KNOB_DM, KNOB_FF, KNOB_KV, KNOB_NH, KNOB_SKV, KNOB_SH, KNOB_SHKV, NUM_KNOBS };
static const char *const knob_names[NUM_KNOBS] = {"nl", "el", "dl", "dm", "ff", "kv", "nh", "skv", "sh", "shkv"};
/* What each knob scales, the axis of the Scale Efficiently study it belongs to (sh variants: unsupported). */
static const char *const knob_scaling[NUM_KNOBS] = {"depth",     "depth",     "depth", "width", "width",
                                                    "attention", "attention", "attention", "other", "other"};

/* The knob a token names: lower-case letters equal to a knob's name, then only digits; -1 otherwise. */
static int knob_of(const char *token, size_t len, size_t *letters)
{
    size_t n = 0;
    while (n < len && token[n] >= 'a' && token[n] <= 'z')
        n++;
    *letters = n;
    for (int k = 0; k < NUM_KNOBS; k++)
        if (strlen(knob_names[k]) == n && strncmp(token, knob_names[k], n) == 0)
            return k;
    return -1;
}

/* dm and ff count thousands in multiples of 1024 (dm1000 is 1024, ff3000 is 3072); below 1000, literal. */
static int64_t width(int64_t value)
{
    return value >= 1000 && value % 1000 == 0 ? value / 1000 * 1024 : value;
}

/* 1: `name` is not a grammar name (no t5-efficient-<size> prefix); 0: resolved into cfg; -1: a malformed
 * grammar name, with the reason. */
static int parse_grammar(const char *name, sb_config *cfg, sb_error *err)
{
    static const char prefix[] = "t5-efficient-";
    if (strncmp(name, prefix, sizeof prefix - 1) != 0)
        return 1;
    const char *size = name + sizeof prefix - 1;
    size_t size_len = strcspn(size, "-");
    char base[SB_NAME_MAX];
    int base_len = (int)(size - name + size_len);
    if (size_len == 0 || snprintf(base, sizeof base, "%.*s", base_len, name) >= (int)sizeof base)
        return 1;
    ptrdiff_t row = sb_registry_find(base);
    if (row < 0)
        return 1;
    *cfg = *sb_registry_config((size_t)row);

    bool seen[NUM_KNOBS] = {false};
    int64_t value[NUM_KNOBS] = {0};
    for (const char *p = size + size_len; *p == '-';) {
        const char *token = p + 1;
        size_t len = strcspn(token, "-");
        size_t letters = 0;
        const int knob = knob_of(token, len, &letters);
        if (len == 0)
            return sb_fail(err, "'%s': empty knob (a '-' too many)", name);
        if (knob < 0)
            return sb_fail(err, "'%s': unknown knob '%.*s' (knobs: nl el dl dm ff kv nh skv)", name, (int)len, token);
        if (knob == KNOB_SH || knob == KNOB_SHKV)
            return sb_fail(err, "'%s': the '%s' (shared heads) variant's semantics are unpublished, so shapebench "
                                "refuses to guess them (skv, shared key/value projections, is supported)",
                           name, knob_names[knob]);
        if (seen[knob])
            return sb_fail(err, "'%s': knob '%s' given twice", name, knob_names[knob]);
        seen[knob] = true;
        if (knob == KNOB_SKV) {
            if (len != letters)
                return sb_fail(err, "'%s': knob 'skv' takes no value", name);
        } else if (len == letters) {
            return sb_fail(err, "'%s': knob '%s' needs a value (e.g. %s8)", name, knob_names[knob], knob_names[knob]);
        } else if (parse_count(token + letters, len - letters, &value[knob]) != 0) {
            return sb_fail(err, "'%s': knob '%.*s' needs a positive integer without sign or leading zeros", name,
                           (int)len, token);
        }
        p = token + len;
    }
    if (seen[KNOB_NL] && (seen[KNOB_EL] || seen[KNOB_DL]))
        return sb_fail(err, "'%s': nl sets both stacks, so it cannot be combined with el or dl", name);
    if (seen[KNOB_NL])
        cfg->num_layers = cfg->num_decoder_layers = value[KNOB_NL];
    if (seen[KNOB_EL])
        cfg->num_layers = value[KNOB_EL];
    if (seen[KNOB_DL])
        cfg->num_decoder_layers = value[KNOB_DL];
    if (seen[KNOB_DM])
        cfg->d_model = width(value[KNOB_DM]);
    if (seen[KNOB_FF])
        cfg->d_ff = width(value[KNOB_FF]);
    if (seen[KNOB_KV])
        cfg->d_kv = value[KNOB_KV];
    if (seen[KNOB_NH])
        cfg->num_heads = value[KNOB_NH];
    cfg->shared_kv = seen[KNOB_SKV];
    return 0;
}

/* ---- what a name says about its shape ------------------------------------------------------------------ */

const char *sb_shape_family(const char *name)
{
    for (size_t i = 0; i < sb_registry_count(); i++) {
        const sb_registry_entry *e = sb_registry_get(i);
        if (strcmp(e->name, name) == 0)
            return e->family;
    }
    if (strstr(name, "switch") != NULL)
        return "switch";
    if (strncmp(name, "t5-efficient-", 13) == 0)
        return "t5-efficient";
    if (strncmp(name, "t5-v1_1-", 8) == 0)
        return "t5-v1_1";
    if (strncmp(name, "t5-", 3) == 0)
        return "t5";
    return "custom";
}

const char *sb_shape_scaling(const char *name)
{
    if (strstr(name, "switch") != NULL)
        return "switch";
    if (strncmp(name, "t5-efficient-", 13) != 0)
        return strncmp(name, "t5-", 3) == 0 ? "base" : "other";
    const char *knobs = strchr(name + 13, '-'); /* after the size */
    const char *scaling = "base";
    while (knobs != NULL) {
        const char *token = knobs + 1;
        knobs = strchr(token, '-');
        const size_t len = knobs ? (size_t)(knobs - token) : strlen(token);
        size_t letters;
        const int knob = knob_of(token, len, &letters);
        const char *this = knob >= 0 && strspn(token + letters, "0123456789") == len - letters ? knob_scaling[knob]
                                                                                            : "other";
        if (strcmp(scaling, "base") != 0 && strcmp(scaling, this) != 0)
            return "other";
        scaling = this;
    }
    return scaling;
}

/* ---- unknown names ----------------------------------------------------------------------------------- */

static int fail_unknown(const char *name, sb_error *err)
{
    const size_t n = sb_registry_count();
    const char **names = malloc((n + 1) * sizeof *names);
    for (size_t i = 0; names != NULL && i < n; i++)
        names[i] = sb_registry_get(i)->name;
    const char *best = names != NULL ? sb_nearest(name, names, n) : NULL;
    free(names);
    if (best != NULL)
        return sb_fail(err, "unknown model '%s'; did you mean '%s'? ('shapebench list' shows every name)", name, best);
    return sb_fail(err, "unknown model '%s': not a known name, a t5-efficient-<size>-<knobs> name or a config.json "
                        "path ('shapebench list' shows every name)", name);
}

/* ---- specs ------------------------------------------------------------------------------------------- */

static bool exists(const char *path, bool *is_dir)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return false;
    *is_dir = S_ISDIR(st.st_mode);
    return true;
}

static bool ends_with(const char *text, const char *suffix)
{
    size_t n = strlen(text), m = strlen(suffix);
    return n >= m && strcmp(text + n - m, suffix) == 0;
}

static int load_path(const char *path, bool is_dir, sb_config *cfg, sb_warn_fn warn, void *warn_ctx, sb_error *err)
{
    if (!is_dir)
        return sb_config_load_json_file(path, cfg, warn, warn_ctx, err);
    char file[4096];
    if ((size_t)snprintf(file, sizeof file, "%s%sconfig.json", path, ends_with(path, "/") ? "" : "/") >= sizeof file)
        return sb_fail(err, "%s: path too long", path);
    return sb_config_load_json_file(file, cfg, warn, warn_ctx, err);
}

/* A shape without Switch suffix or overrides: a name, or (when `files`) a path to a config.json or its
 * folder. */
static int resolve_shape(const char *spec, bool files, sb_config *cfg, sb_warn_fn warn, void *warn_ctx,
                         sb_error *err)
{
    if (sb_registry_error() != NULL)
        return sb_fail(err, "the built-in model registry did not load: %s", sb_registry_error());
    const char *name = strip_org(spec);
    ptrdiff_t row = sb_registry_find(name);
    if (row >= 0) {
        const sb_registry_entry *e = sb_registry_get((size_t)row);
        if (e->unsupported)
            return sb_fail(err, "'%s': the sh (shared heads) variant's semantics are unpublished, so shapebench "
                                "refuses to guess them (the skv variant is supported)", name);
        if (e->conflict && warn != NULL) {
            char message[SB_ERROR_MAX];
            snprintf(message, sizeof message, "%s: %s", name, e->notes);
            warn(warn_ctx, message);
        }
        *cfg = *sb_registry_config((size_t)row);
        return 0;
    }
    int rc = parse_grammar(name, cfg, err);
    if (rc <= 0) {
        if (rc == 0)
            snprintf(cfg->name, sizeof cfg->name, "%s", name);
        return rc;
    }
    /* Not a name: a config.json or its folder when it exists, or when it looks like a path (so the error
     * then says the file is missing rather than the name unknown). */
    bool is_dir = false;
    if (files && name == spec && exists(spec, &is_dir))
        return load_path(spec, is_dir, cfg, warn, warn_ctx, err);
    if (files && name == spec && (strchr(spec, '/') != NULL || ends_with(spec, ".json")))
        return sb_config_load_json_file(spec, cfg, warn, warn_ctx, err);
    return fail_unknown(name, err);
}

/* "+switch<E>[/step<N>]": replaces the dense FFN of every step-th block by E experts of the same kind. */
static int apply_switch(const char *suffix, sb_config *cfg, sb_error *err)
{
    const char *digits = suffix + strlen("+switch");
    size_t len = strcspn(digits, "/");
    int64_t experts = 0, step = 2;
    const char *rest = digits + len;
    if (parse_count(digits, len, &experts) != 0 ||
        (*rest != '\0' && (strncmp(rest, "/step", 5) != 0 || parse_count(rest + 5, strlen(rest + 5), &step) != 0)))
        return sb_fail(err, "'%s': expected +switch<experts>[/step<N>], e.g. +switch32 or +switch8/step1", suffix);
    if (experts < 2)
        return sb_fail(err, "'%s': a Switch layer needs at least 2 experts", suffix);
    if (cfg->num_experts > 0)
        return sb_fail(err, "'%s': the shape is already a Switch model (override num_experts instead)", suffix);
    cfg->num_experts = experts;
    cfg->encoder_sparse_step = cfg->decoder_sparse_step = step;
    cfg->expert_ffn = cfg->ffn;
    cfg->expert_capacity = 64; /* HF's default, per sequence */
    return 0;
}

/* The value of override `key`: a number (strictly decimal: "512abc" and "0x200" are refused, not read as
 * 512 and 0), true, false, null, a JSON string ("gated-gelu"), or else a word (feed_forward_proj=gated-gelu).
 * *out is NULL when out of memory. */
static int override_value(const char *key, const char *text, cJSON **out, sb_error *err)
{
    double number;
    if (sb_parse_f64(text, -DBL_MAX, DBL_MAX, &number) == 0) {
        *out = cJSON_CreateNumber(number);
    } else if (text[0] != '\0' && strchr("0123456789+-.", text[0]) != NULL) {
        return sb_fail(err, "override '%s=%s': '%s' is not a decimal number", key, text, text);
    } else if (text[0] == '[' || text[0] == '{') {
        return sb_fail(err, "override '%s': the value must be a number, true/false or a word", key);
    } else if (text[0] == '"') {
        *out = cJSON_ParseWithOpts(text, NULL, true);
        if (*out != NULL && !cJSON_IsString(*out)) {
            cJSON_Delete(*out);
            *out = NULL;
        }
        if (*out == NULL)
            return sb_fail(err, "override '%s=%s': a quoted value must be one JSON string", key, text);
    } else if (strcmp(text, "true") == 0 || strcmp(text, "false") == 0) {
        *out = cJSON_CreateBool(text[0] == 't');
    } else if (strcmp(text, "null") == 0) {
        *out = cJSON_CreateNull();
    } else {
        *out = cJSON_CreateString(text);
    }
    return 0;
}

/* "key=value,key=value" as a JSON object (override_value: numbers, true/false, null, words). */
static int parse_overrides(const char *text, cJSON **out, sb_error *err)
{
    cJSON *object = cJSON_CreateObject();
    char *copy = strdup(text);
    if (object == NULL || copy == NULL) {
        cJSON_Delete(object);
        free(copy);
        return sb_fail(err, "out of memory");
    }
    int rc = 0;
    char *save = NULL;
    size_t count = 0;
    for (char *item = strtok_r(copy, ",", &save); item != NULL && rc == 0; item = strtok_r(NULL, ",", &save)) {
        count++;
        char *eq = strchr(item, '=');
        if (eq == NULL || eq == item || eq[1] == '\0') {
            rc = sb_fail(err, "override '%s' is not key=value (e.g. d_model=512)", item);
            break;
        }
        *eq = '\0';
        if (cJSON_GetObjectItemCaseSensitive(object, item) != NULL) {
            rc = sb_fail(err, "override '%s' given twice", item);
            break;
        }
        cJSON *value = NULL;
        if (override_value(item, eq + 1, &value, err) != 0) {
            rc = -1;
            break;
        }
        if (value == NULL || !cJSON_AddItemToObject(object, item, value)) {
            cJSON_Delete(value);
            rc = sb_fail(err, "out of memory");
        }
    }
    if (rc == 0 && (count == 0 || text[0] == ',' || ends_with(text, ",") || strstr(text, ",,") != NULL))
        rc = sb_fail(err, "empty override in ':%s' (expected :key=value,key=value)", text);
    free(copy);
    if (rc != 0) {
        cJSON_Delete(object);
        return -1;
    }
    *out = object;
    return 0;
}

/* sb_config_resolve, reading config.json files only when `files`. */
static int resolve(const char *spec, bool files, sb_config *out, sb_warn_fn warn, void *warn_ctx, sb_error *err)
{
    if (spec == NULL || spec[0] == '\0')
        return sb_fail(err, "empty model name");
    if (strlen(spec) >= SB_NAME_MAX)
        return sb_fail(err, "model spec longer than %d characters", SB_NAME_MAX - 1);
    char shape[SB_NAME_MAX];
    snprintf(shape, sizeof shape, "%s", spec);
    /* Overrides follow the last ':', unless the whole spec is a file (paths may hold ':'). */
    const char *overrides = NULL;
    bool is_dir;
    char *colon = strrchr(shape, ':');
    if (colon != NULL && !(files && exists(spec, &is_dir))) {
        *colon = '\0';
        overrides = colon + 1;
    }
    char *plus = strstr(shape, "+switch");
    char *suffix = NULL;
    char suffix_text[SB_NAME_MAX] = "";
    if (plus != NULL) {
        snprintf(suffix_text, sizeof suffix_text, "%s", plus);
        suffix = suffix_text;
        *plus = '\0';
    }

    sb_config cfg;
    if (resolve_shape(shape, files, &cfg, warn, warn_ctx, err) != 0)
        return -1;
    if (suffix != NULL && apply_switch(suffix, &cfg, err) != 0)
        return -1;
    if (overrides != NULL) {
        cJSON *object = NULL;
        sb_error inner;
        if (parse_overrides(overrides, &object, &inner) != 0 || sb_config_apply_overrides(&cfg, object, &inner) != 0) {
            cJSON_Delete(object);
            return sb_fail(err, "%s: %s", spec, inner.msg);
        }
        cJSON_Delete(object);
    }
    char name[SB_NAME_MAX];
    if ((size_t)snprintf(name, sizeof name, "%s%s%s%s", cfg.name, suffix != NULL ? suffix : "",
                         overrides != NULL ? ":" : "", overrides != NULL ? overrides : "") >= sizeof name)
        return sb_fail(err, "%s: the model name would be longer than %d characters", spec, SB_NAME_MAX - 1);
    memcpy(cfg.name, name, sizeof name);
    sb_error inner;
    if (sb_config_validate(&cfg, &inner) != 0)
        return sb_fail(err, "%s: %s", spec, inner.msg);
    *out = cfg;
    return 0;
}

int sb_config_resolve(const char *spec, sb_config *out, sb_warn_fn warn, void *warn_ctx, sb_error *err)
{
    return resolve(spec, true, out, warn, warn_ctx, err);
}

/* ---- identity ------------------------------------------------------------------------------------------ */

/* The config as config.json text without its name: what the shape is, whatever it is called. */
static char *shape_text(const sb_config *cfg)
{
    sb_config anonymous = *cfg;
    anonymous.name[0] = '\0';
    return sb_config_to_json(&anonymous);
}

/* FNV-1a, 64 bits: a stable fingerprint of a config's text (not a defence against chosen collisions; the
 * name beside it is the user's own). */
static uint64_t fnv1a64(const char *text)
{
    uint64_t h = 14695981039346656037ull;
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++)
        h = (h ^ *p) * 1099511628211ull;
    return h;
}

void sb_config_identity(const sb_config *cfg, char out[SB_SHAPE_ID_MAX])
{
    sb_config named;
    char *own = shape_text(cfg), *by_name = NULL;
    if (own != NULL && resolve(cfg->name, false, &named, NULL, NULL, NULL) == 0)
        by_name = shape_text(&named);
    if (own != NULL && by_name != NULL && strcmp(own, by_name) == 0)
        snprintf(out, SB_SHAPE_ID_MAX, "%s", named.name);
    else
        snprintf(out, SB_SHAPE_ID_MAX, "%s#%012llx", cfg->name,
                 (unsigned long long)(own != NULL ? fnv1a64(own) >> 16 : 0));
    free(own);
    free(by_name);
}

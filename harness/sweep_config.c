/* sweep_config.c — a sweep described in a JSON file (`shapebench sweep --config FILE`): a preset to start
 * from or `run`'s defaults, the models, and any setting of the sweep under `run`'s option name. A setting's
 * value is turned into the text its option would take and parsed by the same parser (sb_sweep_spec_set), so
 * the file and the command line accept the same values and ranges. Read strictly: the file is someone's
 * plan for hours of measurement, and a misspelt key silently ignored would measure something else. */
#include "harness/harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Keys a file may hold besides the settings. */
static const char *const other_keys[] = {"preset", "models", "description"};
#define OTHER_KEYS (sizeof other_keys / sizeof other_keys[0])

static const sb_sweep_setting *setting_named(const char *name)
{
    for (size_t i = 0; i < SB_SWEEP_SETTINGS; i++)
        if (strcmp(sb_sweep_settings[i].name, name) == 0)
            return &sb_sweep_settings[i];
    return NULL;
}

static int unknown_key(const char *path, const char *key, sb_error *err)
{
    const char *known[SB_SWEEP_SETTINGS + OTHER_KEYS];
    char list[512] = "";
    for (size_t i = 0; i < SB_SWEEP_SETTINGS + OTHER_KEYS; i++) {
        known[i] = i < OTHER_KEYS ? other_keys[i] : sb_sweep_settings[i - OTHER_KEYS].name;
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i > 0 ? ", " : "", known[i]);
    }
    const char *near = sb_nearest(key, known, SB_SWEEP_SETTINGS + OTHER_KEYS);
    if (near != NULL)
        return sb_fail(err, "%s: unknown key \"%s\"; did you mean \"%s\"?", path, key, near);
    return sb_fail(err, "%s: unknown key \"%s\" (keys: %s)", path, key, list);
}

/* A JSON number as the command line would spell it: whole numbers without a fraction or exponent. */
static void number_text(double v, char *out, size_t cap)
{
    if (v == floor(v) && fabs(v) < 9e18)
        snprintf(out, cap, "%lld", (long long)v);
    else
        snprintf(out, cap, "%.15g", v);
}

static const char *kind_wanted(sb_setting_kind kind)
{
    switch (kind) {
    case SB_SETTING_NUMBERS: return "a number, a list or range as text (\"128-512*2\"), or an array of them";
    case SB_SETTING_WORDS: return "a word, words as text (\"forward,generate\"), or an array of words";
    case SB_SETTING_NUMBER: return "a number";
    default: return "a word";
    }
}

/* Appends the text of one value (index: its place in an array, -1 for none); another JSON type than the
 * setting takes is refused. */
static int value_text(const char *path, const sb_sweep_setting *s, const cJSON *v, int index, sb_strbuf *b,
                      sb_error *err)
{
    const bool numbers = s->kind == SB_SETTING_NUMBERS || s->kind == SB_SETTING_NUMBER;
    if (numbers && cJSON_IsNumber(v)) {
        char num[64];
        number_text(v->valuedouble, num, sizeof num);
        sb_strbuf_printf(b, "%s", num);
        return 0;
    }
    /* A list of numbers may be written as the command line's text, ranges included. */
    if (s->kind != SB_SETTING_NUMBER && cJSON_IsString(v) && v->valuestring[0] != '\0') {
        sb_strbuf_printf(b, "%s", v->valuestring);
        return 0;
    }
    if (index >= 0)
        return sb_fail(err, "%s: \"%s\"[%d] must be %s", path, s->name, index,
                       s->kind == SB_SETTING_NUMBERS ? "a number or a range as text" : "a word");
    return sb_fail(err, "%s: \"%s\" must be %s", path, s->name, kind_wanted(s->kind));
}

/* The value of a setting as its option's text: "1,8" from [1, 8], "128-512*2" as is. */
static int setting_text(const char *path, const sb_sweep_setting *s, const cJSON *v, sb_strbuf *b, sb_error *err)
{
    if (!cJSON_IsArray(v))
        return value_text(path, s, v, -1, b, err);
    if (s->kind == SB_SETTING_NUMBER || s->kind == SB_SETTING_WORD)
        return sb_fail(err, "%s: \"%s\" takes one value, not an array", path, s->name);
    if (cJSON_GetArraySize(v) == 0)
        return sb_fail(err, "%s: \"%s\" needs at least one value", path, s->name);
    const cJSON *e;
    int i = 0;
    cJSON_ArrayForEach(e, v)
    {
        if (i > 0)
            sb_strbuf_printf(b, ",");
        if (value_text(path, s, e, i++, b, err) != 0)
            return -1;
    }
    return 0;
}

static int apply_setting(const char *path, sb_sweep_spec *spec, const sb_sweep_setting *s, const cJSON *v,
                         sb_error *err)
{
    sb_strbuf b = {0};
    int rc = setting_text(path, s, v, &b, err);
    if (rc == 0 && sb_strbuf_failed(&b))
        rc = sb_fail(err, "out of memory");
    sb_error why;
    if (rc == 0 && sb_sweep_spec_set(spec, s->name, sb_strbuf_text(&b), &why) != 0)
        rc = sb_fail(err, "%s: \"%s\": %s", path, s->name, why.msg);
    sb_strbuf_free(&b);
    return rc;
}

static int apply_models(const char *path, sb_sweep_spec *spec, const cJSON *v, sb_error *err)
{
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0)
        return sb_fail(err, "%s: \"models\" must be an array of model names (shapebench list shows them)", path);
    for (size_t i = 0; i < spec->nmodels; i++) /* the file's list replaces a preset's */
        free(spec->models[i]);
    spec->nmodels = 0;
    const cJSON *e;
    size_t i = 0;
    cJSON_ArrayForEach(e, v)
    {
        sb_config cfg;
        sb_error why;
        if (!cJSON_IsString(e))
            return sb_fail(err, "%s: \"models\"[%zu] must be a model name (a string)", path, i);
        if (sb_config_resolve(e->valuestring, &cfg, NULL, NULL, &why) != 0)
            return sb_fail(err, "%s: \"models\"[%zu]: %s", path, i, why.msg);
        if (sb_sweep_add_model(spec, e->valuestring, err) != 0)
            return -1;
        i++;
    }
    return 0;
}

/* "line L, column C" of a position in text. */
static void position(const char *text, const char *at, int *line, int *column)
{
    *line = 1;
    *column = 1;
    for (const char *p = text; p < at && *p != '\0'; p++) {
        *column = *p == '\n' ? 1 : *column + 1;
        *line += *p == '\n';
    }
}

static int parse_file(const char *path, cJSON **out, sb_error *err)
{
    char *text;
    size_t len;
    sb_error why;
    if (sb_read_file(path, &text, &len, &why) != 0)
        return sb_fail(err, "--config: %s", why.msg);
    if (strlen(text) != len) {
        free(text);
        return sb_fail(err, "%s: not JSON (it holds a NUL byte)", path);
    }
    const char *end = NULL;
    *out = cJSON_ParseWithOpts(text, &end, true);
    if (*out == NULL) {
        int line, column;
        position(text, end != NULL ? end : text, &line, &column);
        free(text);
        return sb_fail(err, "%s: not JSON (line %d, column %d)", path, line, column);
    }
    free(text);
    if (!cJSON_IsObject(*out)) {
        cJSON_Delete(*out);
        return sb_fail(err, "%s: the file must hold one JSON object ({\"models\": [...], \"src\": ...})", path);
    }
    return 0;
}

/* The start: the named preset, else run's defaults. */
static int start(const char *path, const cJSON *root, sb_sweep_spec *spec, sb_error *err)
{
    const cJSON *preset = cJSON_GetObjectItemCaseSensitive(root, "preset");
    if (preset == NULL) {
        sb_sweep_spec_init(spec);
        if (cJSON_GetObjectItemCaseSensitive(root, "models") == NULL)
            return sb_fail(err, "%s: no \"models\": name the shapes to measure, or a \"preset\" to start from", path);
        return sb_sweep_spec_defaults(spec, err);
    }
    sb_error why;
    if (!cJSON_IsString(preset)) {
        sb_sweep_spec_init(spec);
        return sb_fail(err, "%s: \"preset\" must be a preset's name: smoke, default or paper", path);
    }
    if (sb_sweep_preset(preset->valuestring, spec, &why) != 0) {
        sb_sweep_spec_init(spec);
        return sb_fail(err, "%s: \"preset\": %s", path, why.msg);
    }
    return 0;
}

int sb_sweep_config_load(const char *path, sb_sweep_spec *spec, sb_error *err)
{
    cJSON *root;
    if (parse_file(path, &root, err) != 0) {
        sb_sweep_spec_init(spec);
        return -1;
    }
    int rc = start(path, root, spec, err);
    const cJSON *item;
    cJSON_ArrayForEach(item, root)
    {
        if (rc != 0)
            break;
        for (const cJSON *before = root->child; before != item && rc == 0; before = before->next)
            if (strcmp(before->string, item->string) == 0)
                rc = sb_fail(err, "%s: \"%s\" is given twice", path, item->string);
        const sb_sweep_setting *s = setting_named(item->string);
        if (rc != 0 || strcmp(item->string, "preset") == 0)
            continue;
        if (s != NULL)
            rc = apply_setting(path, spec, s, item, err);
        else if (strcmp(item->string, "models") == 0)
            rc = apply_models(path, spec, item, err);
        else if (strcmp(item->string, "description") == 0)
            rc = cJSON_IsString(item) ? 0 : sb_fail(err, "%s: \"description\" must be a string", path);
        else
            rc = unknown_key(path, item->string, err);
    }
    cJSON_Delete(root);
    if (rc != 0)
        sb_sweep_spec_free(spec);
    return rc;
}

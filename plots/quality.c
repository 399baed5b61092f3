/* quality.c — quality metrics, and the published figures (Switch paper Table 9) attached to result records
 * of the same shapes, so quality-vs-cost pictures exist before any training run of our own. */
#include "plots/plots.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TABLE9 "plots/data/switch_table9_quality.tsv"
#define TABLE9_SOURCE "Switch Transformers (Fedus et al., arXiv 2101.03961) Table 9: C4, 500k steps, published"

sb_quality_metric sb_quality_metric_info(const char *metric)
{
    static const sb_quality_metric known[] = {
        {"neg_log_perplexity", "nats/token", 1},
        {"heldout_loss", "nats/token", 0},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (metric != NULL && strcmp(metric, known[i].metric) == 0)
            return known[i];
    return (sb_quality_metric){metric != NULL ? metric : "", "", -1};
}

static bool readable(const char *path)
{
    return access(path, R_OK) == 0;
}

int sb_plots_asset(const char *relative, char *out, size_t out_size, sb_error *err)
{
    const char *home = getenv("SHAPEBENCH_HOME");
    if (home != NULL && *home != '\0' && snprintf(out, out_size, "%s/%s", home, relative) < (int)out_size &&
        readable(out))
        return 0;
    /* bin/shapebench (or build-x/shapebench) sits one folder below the source tree. */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        for (int up = 0; up < 2; up++) {
            char *slash = strrchr(exe, '/');
            if (slash != NULL)
                *slash = '\0';
        }
        if (snprintf(out, out_size, "%s/%s", exe, relative) < (int)out_size && readable(out))
            return 0;
    }
    if (snprintf(out, out_size, "%s", relative) < (int)out_size && readable(out))
        return 0;
    return sb_fail(err, "cannot find %s: set SHAPEBENCH_HOME to the shapebench source folder", relative);
}

/* Column `index` (0-based) of a tab-separated line, copied into out. */
static void column(const char *line, int index, char *out, size_t size)
{
    for (int i = 0; i < index && line != NULL; i++) {
        line = strchr(line, '\t');
        if (line != NULL)
            line++;
    }
    size_t n = line == NULL ? 0 : strcspn(line, "\t\r\n");
    if (n >= size)
        n = size - 1;
    if (n > 0)
        memcpy(out, line, n);
    out[n] = '\0';
}

static int set_quality(cJSON *record, double value, sb_error *err)
{
    cJSON *quality = cJSON_CreateObject();
    if (quality == NULL || cJSON_AddStringToObject(quality, "metric", "neg_log_perplexity") == NULL ||
        cJSON_AddNumberToObject(quality, "value", value) == NULL ||
        cJSON_AddStringToObject(quality, "source", TABLE9_SOURCE) == NULL) {
        cJSON_Delete(quality);
        return sb_fail(err, "out of memory attaching quality figures");
    }
    if (cJSON_HasObjectItem(record, "quality"))
        cJSON_ReplaceItemInObjectCaseSensitive(record, "quality", quality);
    else
        cJSON_AddItemToObject(record, "quality", quality);
    return 0;
}

int sb_results_attach_published_quality(sb_results *results, sb_error *err)
{
    char path[SB_PATH_MAX];
    if (sb_plots_asset(TABLE9, path, sizeof path, err) != 0)
        return -1;
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return sb_fail(err, "cannot read %s: %s", path, strerror(errno));
    char line[1024];
    int model_col = -1, value_col = -1;
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f) != NULL) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        char name[128], value[64];
        if (model_col < 0) { /* the header row names the columns we need */
            for (int c = 0; c < 32; c++) {
                column(line, c, name, sizeof name);
                if (strcmp(name, "shapebench_name") == 0)
                    model_col = c;
                if (strcmp(name, "neg_log_perp_500k") == 0)
                    value_col = c;
            }
            if (model_col < 0 || value_col < 0)
                rc = sb_fail(err, "%s: header lacks shapebench_name or neg_log_perp_500k", path);
            continue;
        }
        column(line, model_col, name, sizeof name);
        column(line, value_col, value, sizeof value);
        char *end = NULL;
        double v = strtod(value, &end);
        /* Rows whose shape has no shapebench name are written in parentheses: nothing to match. */
        if (name[0] == '(' || name[0] == '\0')
            continue;
        if (end == value || !isfinite(v)) {
            rc = sb_fail(err, "%s: '%s' has no number in neg_log_perp_500k", path, name);
            continue;
        }
        for (size_t i = 0; i < results->count && rc == 0; i++) {
            cJSON *record = results->records[i];
            const char *shape = sb_field_string(record, SB_F_SHAPE);
            const cJSON *own = sb_record_field(record, SB_F_QUALITY);
            if (shape != NULL && strcmp(shape, name) == 0 && (own == NULL || cJSON_IsNull(own)))
                rc = set_quality(record, v, err);
        }
    }
    fclose(f);
    return rc;
}

/* cmd_pareto.c — `shapebench pareto`: the Pareto frontier of a run's measured records over any two
 * numeric fields, each minimised or maximised. */
#include "cli/cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char pareto_usage[] =
    "usage: shapebench pareto [--run DIR | FILE] --x FIELD[:min|max] --y FIELD[:min|max] [--mode M]\n"
    "                         [--where FIELD=VALUE]... [--json]\n"
    "\n"
    "The Pareto frontier of a run's measured records over two numeric fields, given as dotted paths into the\n"
    "record (analytic.params, analytic.flops_forward_paper, throughput.tokens_per_s, quality.value;\n"
    "`shapebench schema` lists them all). x is minimised and y maximised unless :min or :max says otherwise.\n"
    "\n"
    "  --run DIR|FILE   a run folder, its results.jsonl, or a run name under results/ (default: newest run)\n"
    "  --x, --y         the two fields\n"
    "  --mode M         records of this mode only (encode, forward, generate, train); without it, a run of\n"
    "                   several modes uses its most common one and says so: one frontier never mixes modes\n"
    "  --where F=V      records whose field F equals V only (a number, or text: settings.dtype=bf16);\n"
    "                   repeatable, all must hold\n"
    "  --json           JSON instead of a Markdown table\n"
    "\n"
    "Skipped and failed records are left out. A measured record without a finite number in either field is\n"
    "left out with a warning naming its line and the field. Exact duplicates are all on the frontier.\n";

#define MAX_WHERE 8

/* --where FIELD=VALUE */
typedef struct {
    char field[128];
    const char *value;
} condition;

/* Whether the record's field equals the condition's value: as numbers when both are, else as text. */
static bool holds(const cJSON *record, const condition *w)
{
    const cJSON *node = sb_record_at(record, w->field);
    if (cJSON_IsString(node))
        return strcmp(node->valuestring, w->value) == 0;
    double want;
    char *end;
    want = strtod(w->value, &end);
    if (cJSON_IsNumber(node) && end != w->value && *end == '\0')
        return node->valuedouble == want;
    if (cJSON_IsBool(node))
        return strcmp(w->value, cJSON_IsTrue(node) ? "true" : "false") == 0;
    return false;
}

/* A field no record holds is a typo: the nearest field of the schema suggested. A known field of text is no
 * axis. */
static int check_field(const char *cmd, const sb_results *results, const char *path, bool numeric)
{
    const sb_field *f = sb_field_find(path);
    if (numeric && f != NULL && (f->type == SB_FIELD_STRING || f->type == SB_FIELD_BOOL || f->type == SB_FIELD_ARRAY))
        return sb_cli_error(cmd, SB_EXIT_USAGE, "%s is a %s field, not a number", path, sb_field_type_name(f->type));
    for (size_t i = 0; i < results->count; i++)
        if (sb_record_at(results->records[i], path) != NULL)
            return SB_EXIT_OK;
    const char *near = sb_field_suggest(path);
    if (near != NULL)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "no record of %s has a field '%s'; did you mean '%s'? (shapebench "
                                                "schema lists the fields)",
                            results->file, path, near);
    return sb_cli_error(cmd, SB_EXIT_USAGE, "no record of %s has a field '%s' (shapebench schema lists the fields)",
                        results->file, path);
}

/* The mode most measured records that pass the conditions were taken in. */
static const char *most_common_mode(const sb_results *results, const condition *where, size_t nwhere, size_t *modes)
{
    static const char *names[] = {"forward", "encode", "generate", "train"};
    const char *best = NULL;
    size_t best_count = 0;
    *modes = 0;
    for (size_t m = 0; m < sizeof names / sizeof names[0]; m++) {
        size_t count = 0;
        for (size_t i = 0; i < results->count; i++) {
            const cJSON *r = results->records[i];
            const char *mode = sb_field_string(r, SB_F_SETTINGS_MODE);
            bool ok = sb_record_measured(r) && mode != NULL && strcmp(mode, names[m]) == 0;
            for (size_t k = 0; ok && k < nwhere; k++)
                ok = holds(r, &where[k]);
            count += ok;
        }
        *modes += count > 0;
        if (count > best_count)
            best = names[m], best_count = count;
    }
    return best;
}

typedef struct {
    const cJSON *record;
    size_t line;
} candidate;

static void print_markdown(const char *xf, const char *yf, const candidate *c, const sb_pareto_point *p,
                           const size_t *frontier, size_t kept, size_t considered, size_t excluded, const char *mode)
{
    /* one format per column: whole numbers from 10^4 up (no exponents), else 4 significant digits */
    double top_x = 0, top_y = 0;
    for (size_t i = 0; i < kept; i++) {
        top_x = fmax(top_x, fabs(p[frontier[i]].x));
        top_y = fmax(top_y, fabs(p[frontier[i]].y));
    }
    const char *fx = top_x >= 1e4 ? "%.0f" : "%.4g", *fy = top_y >= 1e4 ? "%.0f" : "%.4g";
    printf("| shape | mode | %s | %s |\n|---|---|--:|--:|\n", xf, yf);
    for (size_t i = 0; i < kept; i++) {
        const cJSON *r = c[frontier[i]].record;
        const char *shape = sb_field_string(r, SB_F_SHAPE), *mode = sb_field_string(r, SB_F_SETTINGS_MODE);
        printf("| %s | %s | ", shape != NULL ? shape : "?", mode != NULL ? mode : "?");
        printf(fx, p[frontier[i]].x);
        printf(" | ");
        printf(fy, p[frontier[i]].y);
        printf(" |\n");
    }
    printf("\n%zu of %zu records on the frontier of mode %s (%zu left out: skipped, failed, of another mode, "
           "filtered out by --where, or without both fields).\n",
           kept, considered, mode != NULL ? mode : "any", excluded);
}

static int print_json(const char *xf, sb_pareto_dir dx, const char *yf, sb_pareto_dir dy, const candidate *c,
                      const sb_pareto_point *p, const size_t *frontier, size_t kept, size_t considered,
                      size_t excluded)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *x = cJSON_AddObjectToObject(root, "x"), *y = cJSON_AddObjectToObject(root, "y");
    cJSON *list = cJSON_AddArrayToObject(root, "frontier");
    if (list == NULL || x == NULL || y == NULL) {
        cJSON_Delete(root);
        return -1;
    }
    cJSON_AddStringToObject(x, "field", xf);
    cJSON_AddStringToObject(x, "direction", dx == SB_PARETO_MIN ? "min" : "max");
    cJSON_AddStringToObject(y, "field", yf);
    cJSON_AddStringToObject(y, "direction", dy == SB_PARETO_MIN ? "min" : "max");
    cJSON_AddNumberToObject(root, "considered", (double)considered);
    cJSON_AddNumberToObject(root, "excluded", (double)excluded);
    for (size_t i = 0; i < kept; i++) {
        const cJSON *r = c[frontier[i]].record;
        cJSON *item = cJSON_CreateObject();
        cJSON_AddItemToArray(list, item);
        cJSON_AddStringToObject(item, "shape", sb_field_string(r, SB_F_SHAPE));
        cJSON_AddStringToObject(item, "key", sb_field_string(r, SB_F_KEY));
        cJSON_AddNumberToObject(item, "line", (double)c[frontier[i]].line);
        cJSON_AddNumberToObject(item, "x", p[frontier[i]].x);
        cJSON_AddNumberToObject(item, "y", p[frontier[i]].y);
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (text == NULL)
        return -1;
    printf("%s\n", text);
    cJSON_free(text);
    return 0;
}

int sb_cmd_pareto(int argc, char **argv)
{
    const char *cmd = "pareto";
    enum { O_X = SB_OPT_OWN, O_Y, O_JSON, O_MODE, O_WHERE };
    static const struct option options[] = {SB_OPTION_RUN,
                                            {"x", required_argument, NULL, O_X},
                                            {"y", required_argument, NULL, O_Y},
                                            {"mode", required_argument, NULL, O_MODE},
                                            {"where", required_argument, NULL, O_WHERE},
                                            {"json", no_argument, NULL, O_JSON},
                                            SB_OPTION_HELP,
                                            {NULL, 0, NULL, 0}};
    const char *where = NULL, *xs = NULL, *ys = NULL, *mode = NULL;
    condition conditions[MAX_WHERE];
    size_t nwhere = 0;
    bool json = false;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        switch (opt) {
        case SB_OPT_RUN: where = optarg; break;
        case O_X: xs = optarg; break;
        case O_Y: ys = optarg; break;
        case O_JSON: json = true; break;
        case O_MODE: {
            sb_mode m;
            sb_error e;
            if (sb_mode_parse(optarg, &m, &e) != 0)
                return sb_cli_error(cmd, SB_EXIT_USAGE, "--mode: %s", e.msg);
            mode = optarg;
            break;
        }
        case O_WHERE: {
            const char *eq = strchr(optarg, '=');
            if (eq == NULL || eq == optarg || (size_t)(eq - optarg) >= sizeof conditions[0].field)
                return sb_cli_error(cmd, SB_EXIT_USAGE, "--where '%s' must be FIELD=VALUE (settings.dtype=bf16)",
                                    optarg);
            if (nwhere == MAX_WHERE)
                return sb_cli_error(cmd, SB_EXIT_USAGE, "at most %d --where conditions", MAX_WHERE);
            snprintf(conditions[nwhere].field, sizeof conditions[nwhere].field, "%.*s", (int)(eq - optarg), optarg);
            conditions[nwhere++].value = eq + 1;
            break;
        }
        case SB_OPT_HELP: fputs(pareto_usage, stdout); return SB_EXIT_OK;
        default: return sb_opt_bad(cmd, opt, argv, options);
        }
    }
    if (optind < argc && where == NULL)
        where = argv[optind++];
    if (optind < argc)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "unexpected argument '%s' (shapebench pareto --help)", argv[optind]);
    if (xs == NULL || ys == NULL)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "--x and --y are required (shapebench pareto --help)");
    char xf[256], yf[256];
    sb_pareto_dir dx, dy;
    sb_error err;
    if (sb_pareto_parse_axis(xs, SB_PARETO_MIN, xf, sizeof xf, &dx, &err) != 0 ||
        sb_pareto_parse_axis(ys, SB_PARETO_MAX, yf, sizeof yf, &dy, &err) != 0)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "%s", err.msg);

    sb_results results;
    int rc = sb_cli_load_run(cmd, where, &results);
    if (rc != SB_EXIT_OK)
        return rc;
    if ((rc = check_field(cmd, &results, xf, true)) != SB_EXIT_OK ||
        (rc = check_field(cmd, &results, yf, true)) != SB_EXIT_OK) {
        sb_results_free(&results);
        return rc;
    }
    for (size_t k = 0; k < nwhere; k++)
        if ((rc = check_field(cmd, &results, conditions[k].field, false)) != SB_EXIT_OK) {
            sb_results_free(&results);
            return rc;
        }
    if (mode == NULL) {
        size_t modes;
        mode = most_common_mode(&results, conditions, nwhere, &modes);
        if (modes > 1)
            fprintf(stderr, "shapebench pareto: the run holds records of %zu modes; the frontier is over %s's "
                            "(--mode picks another)\n",
                    modes, mode);
    }
    candidate *c = calloc(results.count, sizeof *c);
    sb_pareto_point *p = calloc(results.count, sizeof *p);
    size_t *frontier = calloc(results.count, sizeof *frontier);
    size_t n = 0, kept = 0;
    if (c == NULL || p == NULL || frontier == NULL)
        rc = sb_cli_error(cmd, SB_EXIT_FAILURE, "out of memory for %zu records", results.count);
    for (size_t i = 0; rc == SB_EXIT_OK && i < results.count; i++) {
        const cJSON *r = results.records[i];
        const char *rmode = sb_field_string(r, SB_F_SETTINGS_MODE);
        bool wanted = sb_record_measured(r) && (mode == NULL || (rmode != NULL && strcmp(rmode, mode) == 0));
        for (size_t k = 0; wanted && k < nwhere; k++)
            wanted = holds(r, &conditions[k]);
        if (!wanted)
            continue;
        const char *why = NULL, *bad = NULL;
        if (sb_record_number(r, xf, &p[n].x, &why) != 0)
            bad = xf;
        else if (sb_record_number(r, yf, &p[n].y, &why) != 0)
            bad = yf;
        if (bad != NULL) {
            const char *shape = sb_field_string(r, SB_F_SHAPE);
            fprintf(stderr, "shapebench pareto: warning: %s:%zu (%s): %s is %s; record left out\n", results.file,
                    results.lines[i], shape != NULL ? shape : "no shape", bad, why);
            continue;
        }
        c[n++] = (candidate){r, results.lines[i]};
    }
    if (rc == SB_EXIT_OK && n == 0)
        rc = sb_cli_error(cmd, SB_EXIT_FAILURE, "no measured record%s%s in %s has numbers in both %s and %s",
                          mode != NULL ? " of mode " : "", mode != NULL ? mode : "", results.file, xf, yf);
    if (rc == SB_EXIT_OK && sb_pareto_frontier(p, n, dx, dy, frontier, &kept, &err) != 0)
        rc = sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
    if (rc == SB_EXIT_OK) {
        if (!json)
            print_markdown(xf, yf, c, p, frontier, kept, results.count, results.count - n, mode);
        else if (print_json(xf, dx, yf, dy, c, p, frontier, kept, results.count, results.count - n) != 0)
            rc = sb_cli_error(cmd, SB_EXIT_FAILURE, "out of memory writing JSON");
    }
    free(c);
    free(p);
    free(frontier);
    sb_results_free(&results);
    return rc;
}

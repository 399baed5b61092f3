/* cmd_pareto.c — `shapebench pareto`: the Pareto frontier of a run's measured records over any two
 * numeric fields, each minimised or maximised. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>

static const char pareto_usage[] =
    "usage: shapebench pareto [--run DIR | FILE] --x FIELD[:min|max] --y FIELD[:min|max] [--json]\n"
    "\n"
    "The Pareto frontier of a run's measured records over two numeric fields, given as dotted paths into the\n"
    "record (analytic.params, analytic.flops_forward_paper, throughput.tokens_per_s, quality.value). x is\n"
    "minimised and y maximised unless :min or :max says otherwise.\n"
    "\n"
    "  --run DIR|FILE   a run folder, its results.jsonl, or a run name under results/ (default: newest run)\n"
    "  --x, --y         the two fields\n"
    "  --json           JSON instead of a Markdown table\n"
    "\n"
    "Skipped and failed records are left out. A measured record without a finite number in either field is\n"
    "left out with a warning naming its line and the field. Exact duplicates are all on the frontier.\n";

typedef struct {
    const cJSON *record;
    size_t line;
} candidate;

static void print_markdown(const char *xf, const char *yf, const candidate *c, const sb_pareto_point *p,
                           const size_t *frontier, size_t kept, size_t considered, size_t excluded)
{
    printf("| shape | mode | %s | %s |\n|---|---|--:|--:|\n", xf, yf);
    for (size_t i = 0; i < kept; i++) {
        const cJSON *r = c[frontier[i]].record;
        const char *shape = sb_field_string(r, SB_F_SHAPE), *mode = sb_field_string(r, SB_F_SETTINGS_MODE);
        printf("| %s | %s | %.6g | %.6g |\n", shape != NULL ? shape : "?", mode != NULL ? mode : "?",
               p[frontier[i]].x, p[frontier[i]].y);
    }
    printf("\n%zu of %zu records on the frontier (%zu skipped, failed or without both fields left out).\n", kept,
           considered, excluded);
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
    enum { O_X = SB_OPT_OWN, O_Y, O_JSON };
    static const struct option options[] = {SB_OPTION_RUN, {"x", required_argument, NULL, O_X},
                                            {"y", required_argument, NULL, O_Y}, {"json", no_argument, NULL, O_JSON},
                                            SB_OPTION_HELP, {NULL, 0, NULL, 0}};
    const char *where = NULL, *xs = NULL, *ys = NULL;
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
    candidate *c = calloc(results.count, sizeof *c);
    sb_pareto_point *p = calloc(results.count, sizeof *p);
    size_t *frontier = calloc(results.count, sizeof *frontier);
    size_t n = 0, kept = 0;
    if (c == NULL || p == NULL || frontier == NULL)
        rc = sb_cli_error(cmd, SB_EXIT_FAILURE, "out of memory for %zu records", results.count);
    for (size_t i = 0; rc == SB_EXIT_OK && i < results.count; i++) {
        const cJSON *r = results.records[i];
        if (!sb_record_measured(r))
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
        rc = sb_cli_error(cmd, SB_EXIT_FAILURE, "no measured record in %s has numbers in both %s and %s",
                          results.file, xf, yf);
    if (rc == SB_EXIT_OK && sb_pareto_frontier(p, n, dx, dy, frontier, &kept, &err) != 0)
        rc = sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
    if (rc == SB_EXIT_OK) {
        if (!json)
            print_markdown(xf, yf, c, p, frontier, kept, results.count, results.count - n);
        else if (print_json(xf, dx, yf, dy, c, p, frontier, kept, results.count, results.count - n) != 0)
            rc = sb_cli_error(cmd, SB_EXIT_FAILURE, "out of memory writing JSON");
    }
    free(c);
    free(p);
    free(frontier);
    sb_results_free(&results);
    return rc;
}

/* cmd_plots.c — `shapebench plots` (gnuplot pictures and REPORT.md / REPORT.html of a run) and `shapebench
 * report` (the report alone): the same reading of a run, with and without drawing, per CPU model when the
 * run spans several. */
#include "cli/cli.h"

#include <stdio.h>

static const char plots_usage[] =
    "usage: shapebench plots [--run DIR] [--speed DIR]\n"
    "\n"
    "Draws a run's pictures with gnuplot (PNG and SVG under <run>/plots/, data files under <run>/plots/data/)\n"
    "and writes <run>/REPORT.md and <run>/REPORT.html. --run: a run folder, its results.jsonl, or a run name\n"
    "under results/ (default: the newest run). --speed: for a probe run, a sweep run whose forward and\n"
    "generate records give the speed of the same shapes (by name), for the quality-against-seconds frontier\n"
    "(e.g. shapebench plots --run results/probe --speed results/default). A run measured on several CPU models\n"
    "(a cluster's nodes) gets a folder per model, <run>/cpu-<model>/, with its own records, pictures and report,\n"
    "and an index as its report.\n";

static const char report_usage[] =
    "usage: shapebench report [--run DIR] [--speed DIR]\n"
    "\n"
    "Writes <run>/REPORT.md and <run>/REPORT.html from a run's results, with the pictures `shapebench plots`\n"
    "drew. --run: a run folder, its results.jsonl, or a run name under results/ (default: the newest run).\n"
    "--speed: for a probe run, a sweep run whose measured speed of the same shapes joins the quality.\n"
    "A run measured on several CPU models gets one report per model and an index (see plots --help).\n";

/* The probe view of the run, joined with the speed run when one is given (which must then be a probe run). */
static int probe_view(const char *cmd, const sb_results *results, const char *speed_where, sb_probe_view *view)
{
    sb_results speed;
    sb_error err;
    if (speed_where != NULL) {
        const int rc = sb_cli_load_run(cmd, speed_where, &speed);
        if (rc != SB_EXIT_OK)
            return rc;
    }
    const int rc = sb_probe_view_build(results, speed_where != NULL ? &speed : NULL, view, &err);
    if (speed_where != NULL)
        sb_results_free(&speed);
    if (rc != 0)
        return sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
    if (speed_where != NULL && view->count == 0) {
        sb_probe_view_free(view);
        return sb_cli_error(cmd, SB_EXIT_USAGE, "--speed joins a probe run's quality with a sweep's speed, and %s "
                                                "holds no probe records", results->file);
    }
    return SB_EXIT_OK;
}

/* Pictures (when draw) and report of one run, or of one CPU model's part of a run; speed_where as --speed. */
static int picture_and_report(const char *cmd, const sb_results *results, const char *speed_where, bool draw)
{
    sb_shape_table table;
    sb_probe_view probe;
    sb_figures figures;
    sb_error err;
    if (sb_shape_table_build(results, &table, &err) != 0)
        return sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
    int rc = probe_view(cmd, results, speed_where, &probe);
    if (rc != SB_EXIT_OK) {
        sb_shape_table_free(&table);
        return rc;
    }
    sb_figures_plan(&table, results, &probe, &figures);
    if (draw && sb_plots_draw(results, &table, &probe, &figures, &err) != 0)
        rc = sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
    if (rc == SB_EXIT_OK && sb_report_write(results, &table, &probe, &figures, &err) != 0)
        rc = sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
    if (rc == SB_EXIT_OK) {
        size_t drawn = 0;
        for (size_t i = 0; i < figures.count; i++) {
            if (figures.items[i].skipped[0] != '\0')
                printf("not drawn: %s (%s)\n", figures.items[i].name, figures.items[i].skipped);
            else
                drawn++;
        }
        if (draw)
            printf("wrote %zu pictures (PNG and SVG) to %s/plots/\n", drawn, results->dir);
        printf("wrote %s/REPORT.md and %s/REPORT.html\n", results->dir, results->dir);
    }
    sb_probe_view_free(&probe);
    sb_shape_table_free(&table);
    return rc;
}

/* A run measured on several CPU models: each model's records in their own folder, with their own pictures
 * and report, and an index of them as the run's report. */
static int by_cpu_model(const char *cmd, const sb_results *results, const sb_results_part *parts, size_t count,
                        const char *speed_where, bool draw)
{
    sb_error err;
    printf("%s was measured on %zu CPU models: one report per model\n", results->dir, count);
    for (size_t k = 0; k < count; k++) {
        const sb_results *part = &parts[k].results;
        if (sb_mkdir_p(part->dir, &err) != 0 || sb_records_write(&part->set, SB_FORMAT_JSONL, part->file, &err) != 0)
            return sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
        const int rc = picture_and_report(cmd, part, speed_where, draw);
        if (rc != SB_EXIT_OK)
            return rc;
    }
    if (sb_report_write_index(results, parts, count, &err) != 0)
        return sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
    printf("wrote %s/REPORT.md and %s/REPORT.html (the index)\n", results->dir, results->dir);
    return SB_EXIT_OK;
}

static int plots_or_report(int argc, char **argv, bool draw)
{
    const char *cmd = draw ? "plots" : "report", *usage = draw ? plots_usage : report_usage;
    enum { O_SPEED = SB_OPT_OWN };
    static const struct option options[] = {SB_OPTION_RUN, {"speed", required_argument, NULL, O_SPEED},
                                            SB_OPTION_HELP, {NULL, 0, NULL, 0}};
    const char *where = NULL, *speed = NULL;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        switch (opt) {
        case SB_OPT_RUN: where = optarg; break;
        case O_SPEED: speed = optarg; break;
        case SB_OPT_HELP: fputs(usage, stdout); return SB_EXIT_OK;
        default: return sb_opt_bad(cmd, opt, argv, options);
        }
    }
    if (optind < argc && where == NULL)
        where = argv[optind++];
    if (optind < argc)
        return sb_cli_error(cmd, SB_EXIT_USAGE, "unexpected argument '%s' (shapebench %s --help)", argv[optind], cmd);
    sb_results results;
    int rc = sb_cli_load_run(cmd, where, &results);
    if (rc != SB_EXIT_OK)
        return rc;
    sb_error err;
    sb_gemm_choice choice;
    bool chosen;
    if (sb_gemm_choice_load(results.dir, &choice, &chosen, &err) != 0)
        sb_cli_warn((void *)cmd, err.msg); /* the report goes on without the sentence */
    else if (chosen)
        snprintf(results.backend_note, sizeof results.backend_note, "%s", choice.note);
    sb_results_part *parts;
    size_t count;
    if (sb_results_split_by_cpu(&results, &parts, &count, &err) != 0)
        rc = sb_cli_error(cmd, SB_EXIT_FAILURE, "%s", err.msg);
    else if (count > 1)
        rc = by_cpu_model(cmd, &results, parts, count, speed, draw);
    else
        rc = picture_and_report(cmd, &results, speed, draw);
    sb_results_parts_free(parts, count);
    sb_results_free(&results);
    return rc;
}

int sb_cmd_plots(int argc, char **argv)
{
    return plots_or_report(argc, argv, true);
}

int sb_cmd_report(int argc, char **argv)
{
    return plots_or_report(argc, argv, false);
}

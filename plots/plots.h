/* plots.h — what the plots/ module offers: reading a results run back and turning it into pictures and a
 * report.
 *
 *   - loading results.jsonl (a run folder or a file), dotted-path access to any numeric field of a record,
 *     published quality figures (Switch paper Table 9) attached to matching shapes by name; a run measured
 *     on several CPU models split by model;
 *   - the Pareto frontier of any two fields, each minimised or maximised, in O(n log n);
 *   - one row per shape (its main measurement plus its generation latency), shared by pictures and report;
 *   - gnuplot pictures (the plots/ *.gp scripts; PNG and SVG) and REPORT.md / REPORT.html in the run folder.
 *
 * Reads results files only: depends on record/, common/ and cJSON. Errors are returned as values: functions
 * that can fail return 0 on success and -1 with a one-line message in *err.
 */
#ifndef SHAPEBENCH_PLOTS_H
#define SHAPEBENCH_PLOTS_H

#include "record/record.h"
#include "variants/variants.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* ---- results files ------------------------------------------------------------------------------ */

typedef struct {
    char file[SB_PATH_MAX]; /* the results.jsonl read */
    char dir[SB_PATH_MAX];  /* its folder: where plots/ and REPORT.* go */
    sb_record_set set;      /* the records, read by record/'s reader */
    cJSON **records;        /* set.items */
    size_t *lines;          /* set.lines: 1-based line number of each record, for messages */
    size_t count;
    char backend_note[512]; /* why a sweep ran on its backend (its backend.json, which the command line
                             * reads); empty when the run named its backend */
} sb_results;

/* `where` is a run folder, a results.jsonl file, or a run name under results/. NULL picks the newest run
 * under results/ (by the modification time of its results.jsonl). A missing or empty run fails with a
 * message saying to run `make sweep PRESET=smoke` first; the lines are read as every results reader reads
 * them (sb_records_load: a torn last line left out with a warning to `warn`, anything else that is not a
 * record an error); records of mixed schema versions are refused. */
int sb_results_load(const char *where, sb_results *out, sb_warn_fn warn, void *warn_ctx, sb_error *err);
void sb_results_free(sb_results *results);

/* The `system` object of the run's first record that has one (NULL if none), and a one-line description
 * of it for titles: "CPU model, GEMM backend + OpenBLAS core, N threads". */
const cJSON *sb_results_system(const sb_results *results);
void sb_results_machine(const sb_results *results, char *out, size_t size);

/* A run measured on nodes of several CPU models (a cluster's): one frontier over mixed hardware would compare
 * machines, not shapes, so the run is split by system.cpu_model ("unknown CPU" for records without one). Each
 * part holds copies of one model's records in the run's order, its dir <run>/cpu-<model as a file name> and
 * its file that dir's results.jsonl (not written here); nodes gets its nodes, comma-separated. *count is 1
 * (and parts a copy of the whole run) when one CPU model measured it all. */
typedef struct {
    sb_results results;
    char cpu_model[256];
    char nodes[512];
} sb_results_part;
int sb_results_split_by_cpu(const sb_results *r, sb_results_part **parts, size_t *count, sb_error *err);
void sb_results_parts_free(sb_results_part *parts, size_t count);

/* ---- quality -------------------------------------------------------------------------------------- */

typedef struct {
    const char *metric;     /* e.g. "neg_log_perplexity" */
    const char *unit;       /* e.g. "nats/token" */
    int higher_is_better;   /* 1, 0, or -1 when the metric is unknown */
} sb_quality_metric;

/* What shapebench knows about a quality metric (unknown ones: unit "", higher_is_better -1). */
sb_quality_metric sb_quality_metric_info(const char *metric);

/* Reads plots/data/switch_table9_quality.tsv and sets `quality` on every record whose shape is a Table 9
 * model and which carries no quality of its own (a measured figure wins over a published one). */
int sb_results_attach_published_quality(sb_results *results, sb_error *err);

/* Path of a file shipped in the source tree (plots/throughput.gp, plots/data/...): looked up under
 * $SHAPEBENCH_HOME, then the folder above the running binary's folder, then the current folder. */
int sb_plots_asset(const char *relative, char *out, size_t out_size, sb_error *err);

/* ---- Pareto frontier ------------------------------------------------------------------------------ */

typedef enum { SB_PARETO_MIN = 0, SB_PARETO_MAX = 1 } sb_pareto_dir;

typedef struct {
    double x, y;
} sb_pareto_point;

/* Parses "FIELD", "FIELD:min" or "FIELD:max" into field (copied) and direction (`fallback` when absent). */
int sb_pareto_parse_axis(const char *spec, sb_pareto_dir fallback, char *field, size_t field_size,
                         sb_pareto_dir *dir, sb_error *err);

/* The non-dominated points: p dominates q when p is no worse on both axes and strictly better on one.
 * Exact duplicates do not dominate each other, so every copy of a frontier point is on the frontier;
 * among points with equal x only the best y survives (and vice versa). Writes the indices of the frontier
 * points into `frontier` (room for n) in increasing numeric x, ties in input order, and their number into
 * *count. Sort by x then one sweep: O(n log n). A NaN coordinate fails naming the point's index. */
int sb_pareto_frontier(const sb_pareto_point *points, size_t n, sb_pareto_dir dir_x, sb_pareto_dir dir_y,
                       size_t *frontier, size_t *count, sb_error *err);

/* ---- one row per shape ---------------------------------------------------------------------------- */

typedef struct {
    const char *shape;
    const char *scaling;     /* base, depth, width, attention, switch, other (any other word in the record) */
    /* The first measured record of the shape in the run's main mode (else its first record in that mode, a
     * skip or failure to report), and likewise in generate mode; NULL when the shape has none. */
    const cJSON *main;
    const cJSON *generate;
    bool measured;           /* main is a measured record */
    double params, params_active, flops_per_token, tokens_per_s, seconds, peak_rss_bytes;
    double ms_per_token;     /* from the generate record; NaN when none */
    double quality;          /* NaN when none */
    double quality_sd;       /* its standard deviation over seeds; NaN when none */
    const char *quality_metric, *quality_source;
    /* From the record's config; NaN where it lacks the field (records are read, not trusted). layers:
     * encoder + decoder blocks. */
    double layers, d_model, d_ff, d_kv, num_heads, num_experts, num_layers, num_decoder_layers;
} sb_shape_row;

typedef struct {
    const char *main_mode;  /* the most common measured non-generate mode (forward first on ties); with none
                             * measured, the most common non-generate mode; NULL when there is none */
    const char *main_dtype; /* the precision of the rows: the most common among measured records (f32 first on
                             * ties); bf16 against fp32 is the precision table's (sb_precision_table_build) */
    sb_shape_row *rows;     /* one per shape, in increasing params */
    size_t count;
} sb_shape_table;

/* Builds the rows of a run (pointers into `results`, which must outlive the table). FLOPs per token are
 * the executed FLOPs of the mode per token it processes: gflops_per_s * 1e9 / tokens_per_s. */
int sb_shape_table_build(const sb_results *results, sb_shape_table *out, sb_error *err);
void sb_shape_table_free(sb_shape_table *table);
/* Whether `record` is measured in the rows' precision (main_dtype): the roofline draws those alone, against
 * the fp32 roofs. */
bool sb_shape_table_in_precision(const sb_shape_table *t, const cJSON *record);

/* Marks (on_frontier[i] for row i) the measured rows on the frontier of tokens/s against params
 * (x = "params") or executed FLOPs per token (x = "flops"), every axis maximised: smaller shapes are always
 * faster, so the question is which shape is fastest for its size, i.e. no other shape is both bigger and
 * faster. */
int sb_shape_frontier(const sb_shape_table *table, const char *x, bool *on_frontier, sb_error *err);

/* ---- the quality probe's records (probe_view.c) ---------------------------------------------------- */

#define SB_CURVE_MAX 16
#define SB_SEEDS_MAX 64

/* One shape of a probe run at the budget the report analyses: its learning curve, each point's per-seed
 * losses, and (with a speed run joined) the sweep's measured speed of the full-size shape. */
typedef struct {
    const char *shape, *scaling;
    const cJSON *record;
    sb_body body;
    double params, flops_per_step; /* FLOP per training step (count's flops_train_step) */
    int points, seeds;
    double fraction[SB_CURVE_MAX], flops[SB_CURVE_MAX], steps[SB_CURVE_MAX], seconds[SB_CURVE_MAX];
    double loss[SB_CURVE_MAX], sd[SB_CURVE_MAX]; /* nats/token: mean and sd over seeds */
    double per_seed[SB_CURVE_MAX][SB_SEEDS_MAX];
    double forward_seconds;  /* speed run: forward seconds per sequence; NaN without */
    double generate_ms;      /* speed run: ms per generated token; NaN without */
} sb_probe_shape;

typedef struct {
    const char *budget_kind; /* of the budget analysed: the run's largest FLOPs budget, else its largest seconds */
    double budget;
    size_t budgets;          /* distinct budgets in the run */
    double unigram, bigram;  /* nats/token; NaN when the records carry none */
    const cJSON *schedule;   /* quality.schedule of the first shape */
    bool smoke;              /* a smoke run (its name ends in "smoke"): never a general claim */
    char speed_file[SB_PATH_MAX]; /* the speed run joined (a copy: the view outlives it); "" when none */
    sb_probe_shape *shapes;  /* in increasing params */
    size_t count;            /* 0: not a probe run */
} sb_probe_view;

/* The probe's records of `run` with a learning curve (none: count 0), joined by shape name with the measured
 * forward and generate records of `speed` (NULL: no join). */
int sb_probe_view_build(const sb_results *run, const sb_results *speed, sb_probe_view *out, sb_error *err);
void sb_probe_view_free(sb_probe_view *v);
const sb_probe_shape *sb_probe_view_find(const sb_probe_view *v, const char *shape);
/* Index of the curve point `from_end` points before the last (0: the last), or -1 when there is none. */
int sb_curve_index(const sb_probe_shape *s, int from_end);

/* The costs quality is drawn against: params and speed at the budget, training FLOPs at every curve point. */
typedef enum { SB_COST_PARAMS, SB_COST_TRAIN_FLOPS, SB_COST_FORWARD_SECONDS, SB_COST_GENERATE_MS } sb_probe_cost;

typedef struct {
    double cost, loss, sd;
    size_t shape; /* index into the view's shapes */
} sb_probe_cost_point;

/* The points of held-out loss against `cost` that have both (room for count * SB_CURVE_MAX), and in
 * `frontier` (the same room) the indices of those on the Pareto frontier, lower loss for lower cost, in
 * increasing cost. */
int sb_probe_cost_frontier(const sb_probe_view *v, sb_probe_cost cost, sb_probe_cost_point *points, size_t *n,
                           size_t *frontier, size_t *kept, sb_error *err);

/* What the probe's pictures draw against `cost`, for their axes and names: the points (every curve point for
 * training FLOPs, else the shapes at the budget) that have both; x from, x to (their costs; params in
 * millions, as the pictures draw them), y from, y to (their held-out loss +- one seed sd, and the reference
 * lines). Infinite (from > to) where there is nothing. */
void sb_probe_extent(const sb_probe_view *v, sb_probe_cost cost, double extent[4]);

/* The held-out loss difference a - b at curve point `from_end` before the last: Welch's interval over their
 * seeds (below 2 seeds on a side: the difference of the means alone, the rest NaN). */
sb_interval sb_probe_difference(const sb_probe_shape *a, const sb_probe_shape *b, int from_end);

/* ---- label placement (labels.c) ------------------------------------------------------------------ */

/* Points of one picture panel whose names are to be written beside them where they fit. */
typedef struct {
    size_t count;
    const double *x, *y;     /* data coordinates; non-finite (or <= 0 on a log axis): no point */
    const char *const *text;
    const int *rank;         /* lower is labelled first (e.g. 0 frontier, 1 base sizes); NULL: all equal */
    bool log_x, log_y;
    double pad[4];           /* plots/axis.gp's padding, fractions of the data's extent: left, right, bottom, top */
    double width_px, height_px; /* the panel's plot area */
    const double *extent;    /* x from, x to, y from, y to: the data's extent as plots/axis.gp gets it (the
                              * pictures' stats over more than these points); NULL: these points' */
} sb_label_request;

/* placement[count]: 'r' right of the point, 'l' left of it, 'a' above it, '-' unlabelled (it would overlap
 * a label placed before it or another point). Greedy by rank, then from the picture's edges in. */
int sb_plots_place_labels(const sb_label_request *req, char *placement, sb_error *err);

/* ---- pictures and report ------------------------------------------------------------------------- */

#define SB_FIGURES_MAX 16
#define SB_FIGURE_VARS 12

/* One gnuplot variable a figure's script reads. The name is an identifier from the code, never text from a
 * record; the value reaches gnuplot as data only — a finite number, or a single-quoted string (draw.c quotes
 * every value in one place) — so nothing a results file holds is ever read as a gnuplot command. Strings
 * from records are allow-listed before they get here (knob and op-class names, metric names). */
typedef struct {
    const char *name;
    bool is_number;
    double number;
    char text[256];
} sb_figure_var;

typedef struct {
    char name[64];      /* file stem under plots/: <name>.png and <name>.svg */
    char script[32];    /* plots/<script> */
    sb_figure_var vars[SB_FIGURE_VARS]; /* the script's own variables, beyond style.gp's */
    size_t nvars;
    char caption[1024]; /* room for the longest caption whole: a cut one reads as a typo in the report */
    char setting[192];  /* the measurement drawn (mode, batch, lengths, precision): the title's second line */
    char skipped[512];  /* why it is not drawn for this run; empty when it is */
} sb_figure;

typedef struct {
    sb_figure items[SB_FIGURES_MAX];
    size_t count;
} sb_figures;

/* Whether a name from a record may reach a picture's variables and file names: a lower-case word of at
 * most 40 characters ([a-z0-9_]: op classes, quality metrics). */
bool sb_plots_is_plain_name(const char *name);

/* The pictures a run gets, with the reason for each one that has no data. */
void sb_figures_plan(const sb_shape_table *table, const sb_results *results, const sb_probe_view *probe,
                     sb_figures *out);

/* Writes the data files under <run>/plots/data/ and runs gnuplot on each planned script, writing PNG and
 * SVG into <run>/plots/ (gnuplot's messages go to <run>/plots/gnuplot.log). */
int sb_plots_draw(const sb_results *results, const sb_shape_table *table, const sb_probe_view *probe,
                  const sb_figures *figures, sb_error *err);

/* Writes <run>/REPORT.md and <run>/REPORT.html (images by relative path, those drawn), and the points the
 * run planned (its points.tsv) that have no record. */
int sb_report_write(const sb_results *results, const sb_shape_table *table, const sb_probe_view *probe,
                    const sb_figures *figures, sb_error *err);
/* <run>/REPORT.md and .html of a run split by CPU model: one line per model (its nodes, records, and a link
 * to its own report), and the planned points that have no record. */
int sb_report_write_index(const sb_results *results, const sb_results_part *parts, size_t count, sb_error *err);

/* ---- the report's two renderings (doc.c): every call writes Markdown and HTML at once ------------- */

#define SB_DOC_COLUMNS_MAX 32

typedef struct {
    FILE *md, *html;
    char align[SB_DOC_COLUMNS_MAX + 1]; /* of the table being written, one letter a column; "" outside one */
    bool in_list;                       /* an HTML <ul> is open */
} sb_doc;

void sb_doc_begin(sb_doc *doc, const char *title);
void sb_doc_end(sb_doc *doc);
void sb_doc_heading(sb_doc *doc, int level, const char *text);
/* A paragraph (or, with bullet, one list item: consecutive items form one list). Plain text, escaped. */
void sb_doc_text(sb_doc *doc, bool bullet, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A table of strlen(align) columns (at most SB_DOC_COLUMNS_MAX): 'l' a text column, aligned left, 'r' a column
 * of numbers, aligned right, in both renderings. */
void sb_doc_table(sb_doc *doc, const char *align, const char *const *headers);
void sb_doc_row(sb_doc *doc, const char *const *cells);
void sb_doc_table_end(sb_doc *doc);
void sb_doc_image(sb_doc *doc, const char *src, const char *caption);

/* A table cell holding a number in `format`, or "—" for NaN (no figure); returns out. */
typedef char sb_doc_cell[512];
const char *sb_doc_number(sb_doc_cell out, double value, const char *format);
/* A number with `digits` significant digits in fixed notation (every digit of its integer part kept, never an
 * exponent), so a column's cells share one format whatever their magnitude and close values stay apart:
 * 0.00312 and 0.00341, 0.191, 38303. "—" for NaN. */
const char *sb_doc_sig(sb_doc_cell out, double value, int digits);
/* A p-value: two significant digits in fixed notation, "< 0.0001" below that; "—" for NaN. */
const char *sb_doc_p(sb_doc_cell out, double p);

/* What the quality pairs say, in words scaled to their evidence: no claim (a smoke run, one pair, no pair),
 * inconclusive (the interval covers 0), or one side better. */
typedef enum {
    SB_FINDING_NO_CLAIM = 0,
    SB_FINDING_INCONCLUSIVE,
    SB_FINDING_DEEP,
    SB_FINDING_WIDE
} sb_finding_kind;

typedef struct {
    sb_finding_kind kind;
    char text[640];
} sb_finding;

/* The deep-narrow vs wide section of the report (deepwide.c); *finding gets the quality finding at matched
 * params (for the comparison with the papers). probe: count 0 when the run has no probe records. */
int sb_report_deep_wide(sb_doc *doc, const sb_results *results, const sb_shape_table *table,
                        const sb_probe_view *probe, sb_finding *finding, sb_error *err);
/* The quality probe's sections (probe_report.c): the budget, recipe and reference lines, the table of
 * losses at the last two budgets, whether the ranking is only the step count, the quality-cost frontiers;
 * and the paper's claim beside this run's finding. Nothing for a run without probe records. */
void sb_report_probe(sb_doc *doc, const sb_probe_view *probe);
void sb_report_against_papers(sb_doc *doc, const sb_probe_view *probe, const sb_finding *deep_wide);

/* ---- bf16 against fp32 (precision.c) ----------------------------------------------------------------- */

#define SB_PRECISION_CLASSES_MAX 8

/* A shape measured in bf16 and in fp32 with otherwise equal settings (mode, batch, lengths, threads,
 * backend). */
typedef struct {
    const char *shape, *mode, *scaling;
    const cJSON *f32, *bf16; /* the two records */
    double params, d_model;
    double seconds_f32, seconds_bf16; /* median seconds per repetition */
    double speedup;                   /* seconds_f32 / seconds_bf16 */
} sb_precision_row;

typedef struct {
    sb_precision_row *rows; /* by mode, then speed-up, largest first */
    size_t count;
    const char *classes[SB_PRECISION_CLASSES_MAX]; /* op classes with a timed rate in the bf16 records */
    size_t num_classes;
    const char *mode; /* the mode most pairs were measured in, the picture's; NULL: none */
    double ceiling;   /* the machine's bf16 dot-product peak over its fp32 FMA peak; NaN: not measured */
} sb_precision_table;

/* Pairs every measured bf16 record of a run with its fp32 twin (pointers into `results`). */
int sb_precision_table_build(const sb_results *results, sb_precision_table *out, sb_error *err);
void sb_precision_table_free(sb_precision_table *table);
/* bf16's achieved GFLOP/s in an op class's regions over fp32's; NaN when either did not time it. */
double sb_precision_class_speedup(const sb_precision_row *row, const char *op_class);
/* The report's section: the pairs, per op class, and which shapes gain most (nothing when no pairs). */
int sb_report_precision(sb_doc *doc, const sb_precision_table *table, sb_error *err);

#endif

/* report.c — REPORT.md and REPORT.html of a run: machine and settings, method, the records that are not a plain
 * full measurement (extrapolated, noisy, contended, skipped, failed: what each kind shares said once, a row per
 * record with its own part, and that part again beside any figure the tables leave out), the planned points
 * without a record, the pictures, a table per scaling family, the quality probe
 * (probe_report.c), deep-narrow vs wide (deepwide.c), the papers' claim beside the run's, dense vs Switch,
 * quality. Every sentence that states a result is generated from the numbers. A run measured on several CPU
 * models gets an index of their reports instead. */
#include "plots/plots.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *known(const char *s)
{
    return s != NULL && *s != '\0' ? s : "unknown";
}

static const char *text(const cJSON *record, sb_field_id id)
{
    return known(sb_field_string(record, id));
}

/* A field of the `system` object itself (sb_results_system). */
static const char *sys_text(const cJSON *sys, sb_field_id id)
{
    return known(sb_record_string(sys, sb_field_key(id)));
}

static const char *sys_number(sb_doc_cell out, const cJSON *sys, sb_field_id id, const char *format)
{
    double v;
    return sb_doc_number(out, sys != NULL && sb_record_number(sys, sb_field_key(id), &v, NULL) == 0 ? v : NAN, format);
}

/* ---- verdicts: what each record is, and why -------------------------------------------------------- */

/* The records that are not a plain full measurement, in the order the report lists them. */
enum { KIND_EXTRAPOLATED, KIND_NOISY, KIND_CONTENDED, KIND_SKIPPED, KIND_FAILED, KINDS };
static const char *const kind_names[KINDS] = {"extrapolated", "noisy", "contended", "skipped", "failed"};

/* Over a run: how many records of each kind, and the end of their why that they all share ("other processes
 * were running; rerun on a quiet machine"), stated once in the report; each record's table cell keeps the
 * rest, its own part. */
typedef struct {
    size_t count[KINDS];
    char shared[KINDS][512]; /* "" when the records share no whole clause */
} kinds;

/* The kind of a record's verdict ("contended: ..." is KIND_CONTENDED); KINDS for ok and anything unknown. */
static int kind_of(const cJSON *record)
{
    const char *verdict = text(record, SB_F_VERDICT);
    const size_t head = strcspn(verdict, ":");
    for (int k = 0; k < KINDS; k++)
        if (strlen(kind_names[k]) == head && strncmp(verdict, kind_names[k], head) == 0)
            return k;
    return KINDS;
}

/* Why a record is of its kind, in words: an extrapolation's method, a noisy record's spread, the verdict's
 * reason for the others. */
static const char *why(const cJSON *record, int kind, sb_doc_cell out)
{
    if (kind == KIND_EXTRAPOLATED)
        return text(record, SB_F_EXTRAPOLATION_METHOD);
    if (kind == KIND_NOISY) {
        const double cv = sb_field_number(record, SB_F_TIMING_CV);
        char spread[64] = "CV not recorded";
        if (!isnan(cv))
            snprintf(spread, sizeof spread, "CV %.1f %%", cv * 100);
        snprintf(out, sizeof(sb_doc_cell), "%s: the timed repetitions' coefficient of variation (stddev / mean) is "
                 "over the limit of a clean measurement; the tables show their median", spread);
        return out;
    }
    const char *verdict = text(record, SB_F_VERDICT), *colon = strchr(verdict, ':');
    return colon == NULL ? "no reason recorded" : colon + 1 + strspn(colon + 1, " ");
}

/* Where the clause of s that holds position `from` ends: just past the next "; " or ": " at or after it. */
static size_t next_clause(const char *s, size_t from)
{
    for (size_t p = from; s[p] != '\0'; p++)
        if (p >= 2 && (s[p - 2] == ';' || s[p - 2] == ':') && s[p - 1] == ' ')
            return p;
    return strlen(s);
}

static void kinds_build(const sb_results *r, kinds *out)
{
    memset(out, 0, sizeof *out);
    bool identical[KINDS] = {false};
    for (size_t i = 0; i < r->count; i++) {
        const int k = kind_of(r->records[i]);
        if (k == KINDS)
            continue;
        sb_doc_cell buf;
        const char *w = why(r->records[i], k, buf);
        char *shared = out->shared[k];
        if (out->count[k]++ == 0) {
            snprintf(shared, sizeof out->shared[k], "%s", w);
            identical[k] = true;
            continue;
        }
        size_t n = strlen(shared), m = strlen(w), c = 0;
        while (c < n && c < m && shared[n - 1 - c] == w[m - 1 - c])
            c++;
        identical[k] = identical[k] && c == n && c == m;
        memmove(shared, shared + n - c, c + 1);
    }
    /* A suffix shared character by character may start inside a clause ("6 preemptions): other ..."): what
     * is stated once starts at a clause boundary, so a record keeps at least its first clause (a single record
     * too: "CV 7.3 %"); a one-clause reason every record gives word for word is shared whole. */
    for (int k = 0; k < KINDS; k++) {
        char *shared = out->shared[k];
        const size_t p = next_clause(shared, 2);
        if (!(identical[k] && shared[p] == '\0'))
            memmove(shared, shared + p, strlen(shared + p) + 1);
    }
}

/* The length of a record's own part of its why: what comes before the shared end and its "; " or ": ". */
static size_t own_length(const char *why, const char *shared)
{
    const size_t n = strlen(why), m = strlen(shared);
    if (m == 0 || m > n || strcmp(why + n - m, shared) != 0)
        return n;
    if (m == n)
        return 0;
    return n >= m + 2 && why[n - m - 1] == ' ' && (why[n - m - 2] == ';' || why[n - m - 2] == ':') ? n - m - 2 : n;
}

/* A record's verdict for a table cell: "ok", "extrapolated", else its kind and its own reason ("contended: the
 * timed repetitions got 35 % of their threads' CPU time (16 preemptions)"), the whole reason when all records
 * of the kind give the same one. */
static const char *record_verdict(const kinds *ks, const cJSON *record, char *out, size_t size)
{
    const int k = kind_of(record);
    if (k == KINDS || k == KIND_EXTRAPOLATED) {
        snprintf(out, size, "%s", text(record, SB_F_VERDICT));
        return out;
    }
    sb_doc_cell buf;
    const char *w = why(record, k, buf);
    const size_t own = own_length(w, ks->shared[k]);
    snprintf(out, size, "%s: %.*s", kind_names[k], (int)(own > 0 ? own : strlen(w)), w);
    return out;
}

/* A shape row's verdict: its main-mode record's, and its generate record's when that one has no figure, so
 * that every "—" in the row has its reason beside it. */
static const char *verdict_of(const kinds *ks, const sb_shape_table *t, const sb_shape_row *row, sb_doc_cell out)
{
    if (row->main == NULL && t->main_mode == NULL)
        snprintf(out, sizeof(sb_doc_cell), "generate-mode records only");
    else if (row->main == NULL)
        snprintf(out, sizeof(sb_doc_cell), "no %s-mode record", t->main_mode);
    else
        record_verdict(ks, row->main, out, sizeof(sb_doc_cell));
    if (row->generate == NULL || sb_record_measured(row->generate))
        return out;
    sb_doc_cell generate;
    record_verdict(ks, row->generate, generate, sizeof generate);
    const size_t used = strlen(out);
    if (strcmp(generate, out) == 0)
        snprintf(out + used, sizeof(sb_doc_cell) - used, "; generate too");
    else
        snprintf(out + used, sizeof(sb_doc_cell) - used, "; generate %s", generate);
    return out;
}

/* ---- machine, settings, method -------------------------------------------------------------------- */

/* "v1, v2": the distinct values a field takes over the run's records. */
static const char *distinct(const sb_results *r, sb_field_id id, char *out, size_t size)
{
    out[0] = '\0';
    for (size_t i = 0; i < r->count; i++) {
        char value[64], padded[1100], needle[80];
        const double d = sb_field_number(r->records[i], id);
        const char *s = sb_field_string(r->records[i], id);
        if (s != NULL)
            snprintf(value, sizeof value, "%s", s);
        else if (!isnan(d))
            snprintf(value, sizeof value, "%g", d);
        else
            continue;
        snprintf(padded, sizeof padded, ", %s,", out);
        snprintf(needle, sizeof needle, ", %s,", value);
        if (strstr(padded, needle) == NULL) {
            size_t used = strlen(out);
            snprintf(out + used, size - used, "%s%s", used > 0 ? ", " : "", value);
        }
    }
    if (out[0] == '\0')
        snprintf(out, size, "not recorded");
    return out;
}

static void machine_section(sb_doc *doc, const sb_results *r, const kinds *ks)
{
    const cJSON *sys = sb_results_system(r);
    sb_doc_cell a, b, c;
    char v[6][1024];
    char flags[256] = "";
    const cJSON *flag;
    cJSON_ArrayForEach(flag, cJSON_GetObjectItemCaseSensitive(sys, sb_field_key(SB_F_SYSTEM_CPU_FLAGS))) {
        size_t used = strlen(flags);
        if (cJSON_IsString(flag))
            snprintf(flags + used, sizeof flags - used, "%s%s", used > 0 ? " " : "", flag->valuestring);
    }
    sb_doc_heading(doc, 2, "Machine and settings");
    sb_doc_text(doc, true, "CPU: %s, %s logical cores, %s threads used; SIMD flags: %s",
                sys_text(sys, SB_F_SYSTEM_CPU_MODEL), sys_number(a, sys, SB_F_SYSTEM_LOGICAL_CORES, "%.0f"),
                sys_number(b, sys, SB_F_SYSTEM_THREADS, "%.0f"), flags[0] != '\0' ? flags : "not recorded");
    sb_doc_text(doc, true, "GEMM: %s (%s), OpenBLAS core %s", sys_text(sys, SB_F_SYSTEM_GEMM_BACKEND),
                sys_text(sys, SB_F_SYSTEM_GEMM_VERSION), sys_text(sys, SB_F_SYSTEM_OPENBLAS_CORE));
    if (r->backend_note[0] != '\0')
        sb_doc_text(doc, true, "%s", r->backend_note);
    sb_doc_text(doc, true, "Measured peaks: sgemm %s GFLOP/s, FMA loop %s GFLOP/s, stream copy %s GB/s",
                sys_number(a, sys, SB_F_SYSTEM_SGEMM_GFLOPS, "%.1f"),
                sys_number(b, sys, SB_F_SYSTEM_FMA_GFLOPS, "%.1f"),
                sys_number(c, sys, SB_F_SYSTEM_STREAM_COPY_GBPS, "%.1f"));
    sb_doc_text(doc, true, "Build: %s, flags %s, commit %s, date %s", sys_text(sys, SB_F_SYSTEM_COMPILER),
                sys_text(sys, SB_F_SYSTEM_BUILD_FLAGS), sys_text(sys, SB_F_SYSTEM_GIT_COMMIT),
                sys_text(sys, SB_F_SYSTEM_DATE));
    sb_doc_text(doc, true, "Settings: modes %s; batch %s sequences; src_len %s tokens; tgt_len %s tokens; dtype %s",
                distinct(r, SB_F_SETTINGS_MODE, v[0], sizeof v[0]), distinct(r, SB_F_SETTINGS_BATCH, v[1], sizeof v[1]),
                distinct(r, SB_F_SETTINGS_SRC_LEN, v[2], sizeof v[2]),
                distinct(r, SB_F_SETTINGS_TGT_LEN, v[3], sizeof v[3]),
                distinct(r, SB_F_SETTINGS_DTYPE, v[4], sizeof v[4]));
    sb_doc_text(doc, true, "Repetitions: warmup %s, at least %s timed, min_time_s %s s, max_time_s %s s",
                distinct(r, SB_F_SETTINGS_WARMUP, v[0], sizeof v[0]),
                distinct(r, SB_F_SETTINGS_MIN_REPS, v[1], sizeof v[1]),
                distinct(r, SB_F_SETTINGS_MIN_TIME_S, v[2], sizeof v[2]),
                distinct(r, SB_F_SETTINGS_MAX_TIME_S, v[3], sizeof v[3]));
    size_t measured = 0;
    for (size_t i = 0; i < r->count; i++)
        measured += sb_record_measured(r->records[i]);
    sb_doc_text(doc, true,
                "Records: %zu in %s: %zu measured (%zu of them extrapolated, %zu noisy); %zu contended, %zu skipped "
                "and %zu failed, whose figures no table or picture shows",
                r->count, r->file, measured, ks->count[KIND_EXTRAPOLATED], ks->count[KIND_NOISY],
                ks->count[KIND_CONTENDED], ks->count[KIND_SKIPPED], ks->count[KIND_FAILED]);
}

static void method_section(sb_doc *doc, const sb_shape_table *t)
{
    sb_doc_heading(doc, 2, "How each figure was measured");
    sb_doc_text(doc, true, "Tables and throughput pictures use each shape's %s-mode record (the mode most records of "
                           "this run were measured in); generation latency comes from the shape's generate record.",
                t->main_mode != NULL ? t->main_mode : "(no measured)");
    sb_doc_text(doc, true, "tokens/s: tokens per repetition divided by the median wall-clock seconds of the timed "
                           "repetitions (encode: batch x src_len; forward: batch x (src_len + tgt_len)).");
    sb_doc_text(doc, true, "Executed GFLOP per token: the engine's executed FLOPs of one repetition (every GEMM, "
                           "2 FLOPs per multiply-add) per token, i.e. gflops_per_s x 1e9 / tokens_per_s.");
    sb_doc_text(doc, true, "params: exact analytic count (Hugging Face num_parameters, tied embeddings once); "
                           "active params: one expert per sparse block, router included.");
    sb_doc_text(doc, true, "Generation (ms/token): median latency of one incremental decoding step.");
    sb_doc_text(doc, true, "Peak RSS: getrusage maximum resident set size after the measurement, in MiB "
                           "(1 MiB = 2^20 bytes).");
    sb_doc_text(doc, true, "Quality: the record's own figure, else the Switch paper's Table 9 figure for the same "
                           "shape name (plots/data/switch_table9_quality.tsv).");
    sb_doc_text(doc, true, "Pareto frontier (throughput pictures and the finding): the shapes no other shape beats "
                           "on both size (more params, or more FLOPs per token) and tokens/s, i.e. the fastest "
                           "shape for its size. Smaller shapes are always faster, so this, not the least-cost "
                           "frontier, separates the shapes that use this machine well.");
}

/* "2 / 12": blocks timed of the stack's blocks. */
static const char *blocks_cell(sb_doc_cell out, const cJSON *record, sb_field_id sampled, sb_field_id full)
{
    sb_doc_cell a, b;
    snprintf(out, sizeof(sb_doc_cell), "%s / %s", sb_doc_number(a, sb_field_number(record, sampled), "%.0f"),
             sb_doc_number(b, sb_field_number(record, full), "%.0f"));
    return out;
}

/* One kind's records: what they share said once, then a compact row per record (its own part of the why; an
 * extrapolation's sampled and full blocks). */
static void exceptions_of_kind(sb_doc *doc, const sb_results *r, const kinds *ks, int kind)
{
    static const char *const titles[KINDS] = {"Extrapolated", "Noisy", "Contended", "Skipped", "Failed"};
    const size_t n = ks->count[kind];
    const char *shared = ks->shared[kind];
    char heading[64];
    snprintf(heading, sizeof heading, "%s (%zu record%s)", titles[kind], n, n == 1 ? "" : "s");
    sb_doc_heading(doc, 3, heading);
    const bool shown = kind == KIND_EXTRAPOLATED || kind == KIND_NOISY;
    char all[64] = "";
    if (n > 1)
        snprintf(all, sizeof all, ", the same for all %zu", n);
    const char *where = !shown ? "No table or picture shows the figures of these records (their cells are —)"
                        : n == 1 ? "Its figures are in the tables and pictures"
                                 : "Their figures are in the tables and pictures";
    if (kind == KIND_EXTRAPOLATED && shared[0] != '\0')
        sb_doc_text(doc, false, "%s. Timed on some of the blocks (the table's sampled / full blocks) and extended to "
                    "all of them; the method%s: %s.", where, all, shared);
    else if (shared[0] != '\0')
        sb_doc_text(doc, false, "%s. Why%s: %s.", where, all, shared);
    else
        sb_doc_text(doc, false, "%s.", where);
    /* Extrapolations: the blocks, and the method too when theirs differ; the others: their own reasons. */
    bool own = false;
    for (size_t i = 0; i < r->count && !own; i++) {
        sb_doc_cell buf;
        if (kind_of(r->records[i]) == kind)
            own = own_length(why(r->records[i], kind, buf), shared) > 0;
    }
    const bool blocks = kind == KIND_EXTRAPOLATED, method = !blocks || shared[0] == '\0';
    const char *headers[5] = {"shape", "mode"};
    char align[6] = "ll";
    if (blocks) {
        headers[strlen(align)] = "encoder blocks (sampled / full)";
        strcat(align, "r");
        headers[strlen(align)] = "decoder blocks (sampled / full)";
        strcat(align, "r");
    }
    if (own && method) {
        headers[strlen(align)] = blocks ? "how" : "why";
        strcat(align, "l");
    }
    sb_doc_table(doc, align, headers);
    for (size_t i = 0; i < r->count; i++) {
        const cJSON *rec = r->records[i];
        if (kind_of(rec) != kind)
            continue;
        sb_doc_cell enc, dec, buf, own_text;
        const char *w = why(rec, kind, buf);
        snprintf(own_text, sizeof own_text, "%.*s", (int)own_length(w, shared), w);
        const char *cells[5] = {text(rec, SB_F_SHAPE), text(rec, SB_F_SETTINGS_MODE)};
        size_t c = 2;
        if (blocks) {
            cells[c++] = blocks_cell(enc, rec, SB_F_EXTRAPOLATION_SAMPLED_ENCODER, SB_F_EXTRAPOLATION_FULL_ENCODER);
            cells[c++] = blocks_cell(dec, rec, SB_F_EXTRAPOLATION_SAMPLED_DECODER, SB_F_EXTRAPOLATION_FULL_DECODER);
        }
        if (own && method)
            cells[c++] = own_text;
        sb_doc_row(doc, cells);
    }
    sb_doc_table_end(doc);
}

static void exceptions_section(sb_doc *doc, const sb_results *r, const kinds *ks)
{
    sb_doc_heading(doc, 2, "Extrapolated, noisy, contended, skipped and failed");
    size_t total = 0;
    for (int k = 0; k < KINDS; k++)
        total += ks->count[k];
    if (total == 0) {
        sb_doc_text(doc, false, "Every record was measured in full.");
        return;
    }
    for (int k = 0; k < KINDS; k++)
        if (ks->count[k] > 0)
            exceptions_of_kind(doc, r, ks, k);
}

/* The points the run planned (<run>/points.tsv) that have no record; nothing when it planned none. */
static void missing_section(sb_doc *doc, const sb_results *r)
{
    sb_points points;
    bool planned;
    sb_error err;
    if (sb_points_load(r->dir, &points, &planned, &err) != 0) {
        sb_doc_heading(doc, 2, "Missing points");
        sb_doc_text(doc, false, "The run's planned points could not be read: %s", err.msg);
        return;
    }
    size_t missing = 0;
    for (size_t i = 0; i < points.count; i++)
        missing += sb_record_set_find(&r->set, points.keys[i]) == NULL;
    if (planned)
        sb_doc_heading(doc, 2, "Missing points");
    if (planned && missing == 0)
        sb_doc_text(doc, false, "Every one of the %zu planned points has a record.", points.count);
    else if (planned)
        sb_doc_text(doc, false, "%zu of the %zu planned points have no record (an interrupted run or a failed task: "
                    "`shapebench status %s` says which and why); no figure or table of this report holds them:",
                    missing, points.count, r->dir);
    for (size_t i = 0; i < points.count; i++)
        if (sb_record_set_find(&r->set, points.keys[i]) == NULL)
            sb_doc_text(doc, true, "%s", points.keys[i]);
    sb_points_free(&points);
}

static void figures_section(sb_doc *doc, const sb_results *r, const sb_figures *figures)
{
    sb_doc_heading(doc, 2, "Figures");
    for (size_t i = 0; i < figures->count; i++) {
        const sb_figure *f = &figures->items[i];
        char png[SB_PATH_MAX + 96], src[96];
        snprintf(png, sizeof png, "%s/plots/%s.png", r->dir, f->name);
        snprintf(src, sizeof src, "plots/%s.png", f->name);
        if (f->skipped[0] != '\0')
            sb_doc_text(doc, false, "%s Not drawn: %s.", f->caption, f->skipped);
        else if (access(png, R_OK) != 0)
            sb_doc_text(doc, false, "%s Not drawn yet: run shapebench plots --run %s.", f->caption, r->dir);
        else
            sb_doc_image(doc, src, f->caption);
    }
}

/* ---- a table per scaling family ------------------------------------------------------------------- */

static void shape_row(sb_doc *doc, const kinds *ks, const sb_shape_table *t, const sb_shape_row *row)
{
    sb_doc_cell blocks, dm, ff, heads, params, flops, tps, ms, rss, verdict;
    sb_doc_cell enc, dec;
    snprintf(blocks, sizeof blocks, "%s/%s", sb_doc_number(enc, row->num_layers, "%.0f"),
             sb_doc_number(dec, row->num_decoder_layers, "%.0f"));
    if (isnan(row->num_heads) || isnan(row->d_kv))
        snprintf(heads, sizeof heads, "—"); /* a record without them */
    else
        snprintf(heads, sizeof heads, "%.0f x %.0f", row->num_heads, row->d_kv);
    const char *cells[] = {row->shape, blocks, sb_doc_number(dm, row->d_model, "%.0f"),
                           sb_doc_number(ff, row->d_ff, "%.0f"), heads,
                           sb_doc_number(params, row->params / 1e6, "%.1f"),
                           sb_doc_sig(flops, row->flops_per_token / 1e9, 3), sb_doc_sig(tps, row->tokens_per_s, 3),
                           sb_doc_sig(ms, row->ms_per_token, 3),
                           sb_doc_number(rss, row->peak_rss_bytes / 1048576.0, "%.0f"),
                           verdict_of(ks, t, row, verdict)};
    sb_doc_row(doc, cells);
}

static void family_sections(sb_doc *doc, const kinds *ks, const sb_shape_table *t)
{
    static const struct {
        const char *scaling, *title;
    } families[] = {
        {"base", "Base sizes"},
        {"depth", "Depth sweep (nl / el / dl)"},
        {"width", "Width sweep (dm / ff)"},
        {"attention", "Attention sweep (kv / nh / skv)"},
        {"switch", "Switch expert count"},
        {"other", "Other shapes"},
    };
    static const char *headers[] = {"shape", "enc/dec blocks", "d_model", "d_ff", "heads x d_kv", "params (M)",
                                    "executed GFLOP/token", "tokens/s", "generation (ms/token)", "peak RSS (MiB)",
                                    "verdict"};
    sb_doc_heading(doc, 2, "Results by scaling family");
    sb_doc_text(doc, false, "A — is a figure the run does not have: the verdict says why (a record left out, and "
                "its reason), or the shape has no generate-mode record for its generation latency. GFLOP/token, "
                "tokens/s and ms/token to three significant digits.");
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
        size_t shown = 0;
        for (size_t i = 0; i < t->count; i++) {
            const sb_shape_row *row = &t->rows[i];
            bool known = false;
            for (size_t k = 0; k + 1 < sizeof families / sizeof families[0]; k++)
                known = known || strcmp(row->scaling, families[k].scaling) == 0;
            if (known ? strcmp(row->scaling, families[f].scaling) != 0 : strcmp(families[f].scaling, "other") != 0)
                continue;
            if (shown++ == 0) {
                sb_doc_heading(doc, 3, families[f].title);
                sb_doc_table(doc, "lrrrrrrrrrl", headers);
            }
            shape_row(doc, ks, t, row);
        }
        if (shown > 0)
            sb_doc_table_end(doc);
    }
}

/* ---- dense vs Switch, quality --------------------------------------------------------------------- */

static int by_experts(const void *a, const void *b)
{
    const sb_shape_row *p = *(const sb_shape_row *const *)a, *q = *(const sb_shape_row *const *)b;
    return (p->num_experts > q->num_experts) - (p->num_experts < q->num_experts);
}

static int switch_section(sb_doc *doc, const kinds *ks, const sb_shape_table *t, sb_error *err)
{
    sb_doc_heading(doc, 2, "Dense vs Switch");
    const sb_shape_row *first = NULL;
    for (size_t i = 0; i < t->count && first == NULL; i++)
        if (t->rows[i].num_experts > 0)
            first = &t->rows[i];
    if (first == NULL) {
        sb_doc_text(doc, false, "No Switch shapes in this run.");
        return 0;
    }
    /* The dense counterparts: the Switch shapes' width, FFN width, attention and depth, no experts; the
     * reference is a plain size (t5-efficient-base for the switch-base family) where one was measured. */
    const sb_shape_row **rows = calloc(t->count, sizeof *rows);
    if (rows == NULL)
        return sb_fail(err, "out of memory for the Switch table");
    size_t n = 0;
    const sb_shape_row *dense = NULL;
    for (size_t i = 0; i < t->count; i++) {
        const sb_shape_row *row = &t->rows[i];
        bool counterpart = row->num_experts == 0 && row->d_model == first->d_model && row->d_ff == first->d_ff &&
                           row->d_kv == first->d_kv && row->num_heads == first->num_heads &&
                           row->num_layers == first->num_layers &&
                           row->num_decoder_layers == first->num_decoder_layers;
        if (row->num_experts > 0 || counterpart)
            rows[n++] = row;
        bool plain = strcmp(row->scaling, "base") == 0;
        if (counterpart && row->measured && (dense == NULL || (plain && strcmp(dense->scaling, "base") != 0)))
            dense = row;
    }
    qsort(rows, n, sizeof *rows, by_experts);
    sb_doc_text(doc, false, "Total vs active parameters and speed as experts grow; speed relative to %s.",
                dense != NULL ? dense->shape : "a dense shape of the same width and depth (none measured in this run)");
    static const char *headers[] = {"shape", "experts", "total params (M)", "active params (M)", "tokens/s",
                                    "speed vs dense (x)", "peak RSS (MiB)", "verdict"};
    sb_doc_table(doc, "lrrrrrrl", headers);
    for (size_t i = 0; i < n; i++) {
        sb_doc_cell e, total, active, tps, speed, rss, verdict;
        double speed_vs_dense = dense != NULL ? rows[i]->tokens_per_s / dense->tokens_per_s : NAN;
        const char *cells[] = {rows[i]->shape, sb_doc_number(e, rows[i]->num_experts, "%.0f"),
                               sb_doc_number(total, rows[i]->params / 1e6, "%.1f"),
                               sb_doc_number(active, rows[i]->params_active / 1e6, "%.1f"),
                               sb_doc_sig(tps, rows[i]->tokens_per_s, 3),
                               sb_doc_number(speed, speed_vs_dense, "%.2f"),
                               sb_doc_number(rss, rows[i]->peak_rss_bytes / 1048576.0, "%.0f"),
                               verdict_of(ks, t, rows[i], verdict)};
        sb_doc_row(doc, cells);
    }
    sb_doc_table_end(doc);
    free(rows);
    return 0;
}

static void quality_section(sb_doc *doc, const sb_shape_table *t, const sb_probe_view *probe)
{
    sb_doc_heading(doc, 2, "Quality");
    if (probe->count > 0) {
        sb_doc_text(doc, false, "The quality probe's figures are in its section above.");
        return;
    }
    static const char *headers[] = {"shape", "metric", "value", "source"};
    size_t shown = 0;
    for (size_t i = 0; i < t->count; i++) {
        const sb_shape_row *row = &t->rows[i];
        if (isnan(row->quality))
            continue;
        if (shown++ == 0)
            sb_doc_table(doc, "llrl", headers);
        sb_doc_cell value;
        snprintf(value, sizeof value, "%.3f %s", row->quality, sb_quality_metric_info(row->quality_metric).unit);
        const char *cells[] = {row->shape, row->quality_metric != NULL ? row->quality_metric : "unknown", value,
                               row->quality_source != NULL ? row->quality_source : "unknown"};
        sb_doc_row(doc, cells);
    }
    if (shown > 0)
        sb_doc_table_end(doc);
    else
        sb_doc_text(doc, false, "No quality figures in this run.");
}

/* REPORT.md and REPORT.html of a run, built in memory and then each put in place whole (never through a link),
 * so a reader sees the old report or the new one. */
typedef struct {
    sb_doc doc;
    char md_path[SB_PATH_MAX + 16], html_path[SB_PATH_MAX + 16];
    char *md_text, *html_text;
    size_t md_len, html_len;
} report_file;

static int doc_open(const sb_results *results, report_file *f, sb_error *err)
{
    *f = (report_file){0};
    sb_fmt(f->md_path, sizeof f->md_path, "%s/REPORT.md", results->dir);
    sb_fmt(f->html_path, sizeof f->html_path, "%s/REPORT.html", results->dir);
    f->doc = (sb_doc){open_memstream(&f->md_text, &f->md_len), open_memstream(&f->html_text, &f->html_len), "", false};
    if (f->doc.md == NULL || f->doc.html == NULL) {
        if (f->doc.md != NULL)
            fclose(f->doc.md);
        if (f->doc.html != NULL)
            fclose(f->doc.html);
        free(f->md_text);
        free(f->html_text);
        return sb_fail(err, "out of memory for the report");
    }
    char title[SB_PATH_MAX + 64];
    const char *run = results->count > 0 ? sb_field_string(results->records[0], SB_F_RUN) : NULL;
    snprintf(title, sizeof title, "shapebench report: %s", run != NULL ? run : results->dir);
    sb_doc_begin(&f->doc, title);
    return 0;
}

/* Ends both renderings and, when rc is 0, writes them; returns rc or the write's failure. */
static int doc_close(report_file *f, int rc, sb_error *err)
{
    sb_doc_end(&f->doc);
    bool failed = ferror(f->doc.md) || ferror(f->doc.html);
    failed |= fclose(f->doc.md) != 0;
    failed |= fclose(f->doc.html) != 0;
    if (rc == 0 && failed)
        rc = sb_fail(err, "out of memory for the report");
    if (rc == 0)
        rc = sb_write_text_atomic(f->md_path, f->md_text, false, err);
    if (rc == 0)
        rc = sb_write_text_atomic(f->html_path, f->html_text, false, err);
    free(f->md_text);
    free(f->html_text);
    return rc;
}

int sb_report_write(const sb_results *results, const sb_shape_table *table, const sb_probe_view *probe,
                    const sb_figures *figures, sb_error *err)
{
    report_file f;
    if (doc_open(results, &f, err) != 0)
        return -1;
    sb_doc *doc = &f.doc;
    kinds ks;
    kinds_build(results, &ks);
    machine_section(doc, results, &ks);
    method_section(doc, table);
    exceptions_section(doc, results, &ks);
    missing_section(doc, results);
    figures_section(doc, results, figures);
    family_sections(doc, &ks, table);
    sb_report_probe(doc, probe);
    sb_finding finding;
    int rc = sb_report_deep_wide(doc, results, table, probe, &finding, err);
    if (rc == 0)
        sb_report_against_papers(doc, probe, &finding);
    if (rc == 0)
        rc = switch_section(doc, &ks, table, err);
    if (rc == 0)
        quality_section(doc, table, probe);
    sb_precision_table precision;
    if (rc == 0 && (rc = sb_precision_table_build(results, &precision, err)) == 0) {
        rc = sb_report_precision(doc, &precision, err);
        sb_precision_table_free(&precision);
    }
    return doc_close(&f, rc, err);
}

int sb_report_write_index(const sb_results *results, const sb_results_part *parts, size_t count, sb_error *err)
{
    report_file f;
    if (doc_open(results, &f, err) != 0)
        return -1;
    sb_doc *doc = &f.doc;
    sb_doc_heading(doc, 2, "Machines");
    sb_doc_text(doc, false, "This run was measured on %zu CPU models. Times measured on different CPUs describe the "
                "machines as much as the shapes, so no frontier or table mixes them: each CPU model has its own "
                "report, pictures and results.jsonl in its folder.", count);
    static const char *headers[] = {"CPU model", "nodes", "records", "measured", "report"};
    sb_doc_table(doc, "llrrl", headers);
    for (size_t k = 0; k < count; k++) {
        const sb_results *part = &parts[k].results;
        size_t measured = 0;
        for (size_t i = 0; i < part->count; i++)
            measured += sb_record_measured(part->records[i]);
        sb_doc_cell records, measured_text;
        snprintf(records, sizeof records, "%zu", part->count);
        snprintf(measured_text, sizeof measured_text, "%zu", measured);
        const char *slash = strrchr(part->dir, '/');
        char report[SB_PATH_MAX + 16];
        sb_fmt(report, sizeof report, "%s/REPORT.md", slash != NULL ? slash + 1 : part->dir);
        const char *cells[] = {parts[k].cpu_model, parts[k].nodes[0] ? parts[k].nodes : "not recorded", records,
                               measured_text, report};
        sb_doc_row(doc, cells);
    }
    sb_doc_table_end(doc);
    missing_section(doc, results);
    return doc_close(&f, 0, err);
}

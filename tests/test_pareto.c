/* test_pareto.c — the Pareto frontier (hand-made point sets and a brute-force cross-check), field access on
 * records, and `shapebench pareto` on tests/fixtures/results-small. */
#include "plots/plots.h"
#include "tests/helpers.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static size_t frontier_of(const sb_pareto_point *p, size_t n, sb_pareto_dir dx, sb_pareto_dir dy, size_t *out)
{
    size_t count = 99;
    sb_error err = {{0}};
    cr_assert_eq(sb_pareto_frontier(p, n, dx, dy, out, &count, &err), 0, "%s", err.msg);
    return count;
}

Test(pareto, empty_set_has_empty_frontier)
{
    size_t out[1], count = 7;
    cr_assert_eq(sb_pareto_frontier(NULL, 0, SB_PARETO_MIN, SB_PARETO_MAX, out, &count, NULL), 0);
    cr_assert_eq(count, 0);
}

Test(pareto, single_point_is_the_frontier)
{
    sb_pareto_point p[] = {{3, 4}};
    size_t out[1];
    cr_assert_eq(frontier_of(p, 1, SB_PARETO_MIN, SB_PARETO_MAX, out), 1);
    cr_assert_eq(out[0], 0);
}

Test(pareto, one_point_dominates_all_others)
{
    /* cost min, speed max: (1, 10) is cheapest and fastest. */
    sb_pareto_point p[] = {{2, 5}, {3, 1}, {1, 10}, {5, 9}};
    size_t out[4];
    cr_assert_eq(frontier_of(p, 4, SB_PARETO_MIN, SB_PARETO_MAX, out), 1);
    cr_assert_eq(out[0], 2);
}

Test(pareto, staircase_in_increasing_x)
{
    sb_pareto_point p[] = {{4, 8}, {1, 2}, {2, 5}, {3, 4}, {5, 7}};
    size_t out[5];
    size_t n = frontier_of(p, 5, SB_PARETO_MIN, SB_PARETO_MAX, out);
    cr_assert_eq(n, 3);
    cr_assert_eq(out[0], 1); /* (1, 2) */
    cr_assert_eq(out[1], 2); /* (2, 5); (3, 4) is beaten by it */
    cr_assert_eq(out[2], 0); /* (4, 8); (5, 7) is beaten by it */
}

Test(pareto, ties_on_one_axis_keep_only_the_better_other)
{
    /* Same x: only the best y. Same y: only the best x. */
    sb_pareto_point p[] = {{1, 3}, {1, 5}, {2, 7}, {3, 7}};
    size_t out[4];
    size_t n = frontier_of(p, 4, SB_PARETO_MIN, SB_PARETO_MAX, out);
    cr_assert_eq(n, 2);
    cr_assert_eq(out[0], 1);
    cr_assert_eq(out[1], 2);
}

Test(pareto, exact_duplicates_are_all_on_the_frontier_in_input_order)
{
    sb_pareto_point p[] = {{2, 6}, {1, 1}, {2, 6}, {3, 2}, {3, 2}, {2, 6}};
    size_t out[6];
    size_t n = frontier_of(p, 6, SB_PARETO_MIN, SB_PARETO_MAX, out);
    cr_assert_eq(n, 4, "got %zu", n); /* (1,1) and the three (2,6); the (3,2) twins are dominated */
    cr_assert_eq(out[0], 1);
    cr_assert_eq(out[1], 0);
    cr_assert_eq(out[2], 2);
    cr_assert_eq(out[3], 5);
}

Test(pareto, mixed_directions)
{
    sb_pareto_point p[] = {{1, 1}, {2, 2}, {3, 1}, {3, 3}, {0, 0}};
    size_t out[5];
    /* x max, y min: (3, 1) beats (1, 1), (2, 2), (3, 3); (0, 0) has the least y. */
    size_t n = frontier_of(p, 5, SB_PARETO_MAX, SB_PARETO_MIN, out);
    cr_assert_eq(n, 2);
    cr_assert_eq(out[0], 4);
    cr_assert_eq(out[1], 2);
    /* both max: (3, 3) alone. */
    cr_assert_eq(frontier_of(p, 5, SB_PARETO_MAX, SB_PARETO_MAX, out), 1);
    cr_assert_eq(out[0], 3);
    /* both min: (0, 0) alone. */
    cr_assert_eq(frontier_of(p, 5, SB_PARETO_MIN, SB_PARETO_MIN, out), 1);
    cr_assert_eq(out[0], 4);
}

Test(pareto, duplicates_keep_input_order_when_x_is_maximised)
{
    sb_pareto_point p[] = {{5, 1}, {5, 1}, {4, 0}};
    size_t out[3];
    size_t n = frontier_of(p, 3, SB_PARETO_MAX, SB_PARETO_MIN, out);
    cr_assert_eq(n, 3);
    cr_assert_eq(out[0], 2);
    cr_assert_eq(out[1], 0);
    cr_assert_eq(out[2], 1);
}

Test(pareto, nan_coordinate_is_rejected_naming_the_point)
{
    sb_pareto_point p[] = {{1, 1}, {2, 2}, {NAN, 3}};
    size_t out[3], count;
    sb_error err = {{0}};
    cr_assert_eq(sb_pareto_frontier(p, 3, SB_PARETO_MIN, SB_PARETO_MAX, out, &count, &err), -1);
    cr_assert(strstr(err.msg, "point 2") != NULL, "%s", err.msg);
}

static bool dominates(sb_pareto_point a, sb_pareto_point b, sb_pareto_dir dx, sb_pareto_dir dy)
{
    double ax = dx == SB_PARETO_MIN ? a.x : -a.x, bx = dx == SB_PARETO_MIN ? b.x : -b.x;
    double ay = dy == SB_PARETO_MIN ? a.y : -a.y, by = dy == SB_PARETO_MIN ? b.y : -b.y;
    return ax <= bx && ay <= by && (ax < bx || ay < by);
}

Test(pareto, agrees_with_brute_force_on_random_sets_with_many_ties)
{
    enum { N = 400 };
    static sb_pareto_point p[N];
    static size_t out[N];
    srand(7);
    for (int trial = 0; trial < 8; trial++) {
        for (size_t i = 0; i < N; i++)
            p[i] = (sb_pareto_point){rand() % 20, rand() % 20};
        sb_pareto_dir dx = trial & 1 ? SB_PARETO_MAX : SB_PARETO_MIN, dy = trial & 2 ? SB_PARETO_MAX : SB_PARETO_MIN;
        size_t n = frontier_of(p, N, dx, dy, out);
        bool in[N] = {false};
        for (size_t k = 0; k < n; k++) {
            in[out[k]] = true;
            if (k > 0)
                cr_assert(p[out[k - 1]].x < p[out[k]].x || (p[out[k - 1]].x == p[out[k]].x && out[k - 1] < out[k]),
                          "frontier not in increasing x at %zu", k);
        }
        for (size_t i = 0; i < N; i++) {
            bool dominated = false;
            for (size_t j = 0; j < N && !dominated; j++)
                dominated = dominates(p[j], p[i], dx, dy);
            cr_assert_eq(in[i], !dominated, "trial %d point %zu (%g, %g)", trial, i, p[i].x, p[i].y);
        }
    }
}

Test(pareto, axis_specs)
{
    char field[64];
    sb_pareto_dir dir;
    sb_error err = {{0}};
    cr_assert_eq(sb_pareto_parse_axis("quality.value:max", SB_PARETO_MIN, field, sizeof field, &dir, &err), 0);
    cr_assert_str_eq(field, "quality.value");
    cr_assert_eq(dir, SB_PARETO_MAX);
    cr_assert_eq(sb_pareto_parse_axis("analytic.params", SB_PARETO_MAX, field, sizeof field, &dir, &err), 0);
    cr_assert_str_eq(field, "analytic.params");
    cr_assert_eq(dir, SB_PARETO_MAX);
    cr_assert_eq(sb_pareto_parse_axis("analytic.params:up", SB_PARETO_MIN, field, sizeof field, &dir, &err), -1);
    cr_assert(strstr(err.msg, "min or max") != NULL, "%s", err.msg);
    cr_assert_eq(sb_pareto_parse_axis(":min", SB_PARETO_MIN, field, sizeof field, &dir, &err), -1);
}

Test(pareto, record_fields_by_dotted_path)
{
    cJSON *r = cJSON_Parse("{\"a\":{\"b\":2.5,\"n\":null,\"s\":\"x\",\"f\":{\"total\":7,\"ffn\":3}},\"top\":1}");
    double v = 0;
    const char *why = NULL;
    cr_assert_eq(sb_record_number(r, "a.b", &v, &why), 0);
    cr_assert_eq(v, 2.5);
    cr_assert_eq(sb_record_number(r, "top", &v, &why), 0);
    cr_assert_eq(v, 1);
    cr_assert_eq(sb_record_number(r, "a.f", &v, &why), 0, "an object stands for its total");
    cr_assert_eq(v, 7);
    cr_assert_eq(sb_record_number(r, "a.f.ffn", &v, &why), 0);
    cr_assert_eq(v, 3);
    cr_assert_eq(sb_record_number(r, "a.n", &v, &why), -1);
    cr_assert_str_eq(why, "null");
    cr_assert_eq(sb_record_number(r, "a.s", &v, &why), -1);
    cr_assert_str_eq(why, "not a number");
    cr_assert_eq(sb_record_number(r, "a.zz", &v, &why), -1);
    cr_assert_str_eq(why, "missing");
    cr_assert_eq(sb_record_number(r, "top.deeper", &v, &why), -1);
    cr_assert_str_eq(why, "missing");
    cJSON_Delete(r);
}

/* ---- the CLI on the fixture ------------------------------------------------------------------------ */

#define FIXTURE "tests/fixtures/results-small"

/* Runs `shapebench pareto <args>`; returns the exit status, stdout and stderr in *out / *errout. */
static int pareto(const char *args, char **out, char **errout)
{
    const char *bin = getenv("SHAPEBENCH_BIN");
    if (bin == NULL)
        cr_skip_test("SHAPEBENCH_BIN is not set: run the suite with `make test`");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' pareto %s >/tmp/sb_pareto_out.%d 2>/tmp/sb_pareto_err.%d", bin, args, (int)getpid(),
             (int)getpid());
    int status = system(cmd);
    char path[64];
    snprintf(path, sizeof path, "/tmp/sb_pareto_out.%d", (int)getpid());
    *out = test_read_file(path, NULL);
    remove(path);
    snprintf(path, sizeof path, "/tmp/sb_pareto_err.%d", (int)getpid());
    *errout = test_read_file(path, NULL);
    remove(path);
    return WEXITSTATUS(status);
}

Test(pareto_cli, throughput_vs_params_markdown)
{
    char *out, *err;
    /* Fastest for its size: no other measured record both bigger and faster. */
    int rc = pareto("--run " FIXTURE " --x analytic.params:max --y throughput.tokens_per_s:max", &out, &err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert(strstr(out, "| shape | mode | analytic.params | throughput.tokens_per_s |") != NULL, "%s", out);
    cr_assert(strstr(out, "| t5-efficient-tiny | forward | 15570688 | 9000 |") != NULL, "%s", out);
    cr_assert(strstr(out, "| t5-efficient-small-ff6000 | forward | 110838272 | 3400 |") != NULL, "%s", out);
    cr_assert(strstr(out, "| t5-efficient-base-dm512 | forward |") != NULL, "%s", out);
    cr_assert(strstr(out, "| switch-base-16 | forward | 1072397568 | 1040 |") != NULL, "%s", out);
    cr_assert(strstr(out, "small-nl16") == NULL, "dominated shape on the frontier:\n%s", out);
    cr_assert(strstr(out, "small-kv128") == NULL, "dominated shape on the frontier:\n%s", out);
    cr_assert(strstr(out, "switch-base-256") == NULL, "skipped record used:\n%s", out);
    cr_assert(strstr(out, "7 of 16 records on the frontier of mode forward (4 left out") != NULL, "%s", out);
    free(out);
    free(err);
}

Test(pareto_cli, default_directions_minimise_x_and_maximise_y)
{
    char *out, *err;
    /* Fewest params and most tokens/s: the smallest shape is also the fastest, so it alone. */
    int rc = pareto("--run " FIXTURE " --x analytic.params --y throughput.tokens_per_s", &out, &err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert(strstr(out, "| t5-efficient-tiny | forward | 15570688 | 9000 |") != NULL, "%s", out);
    cr_assert(strstr(out, "1 of 16 records on the frontier") != NULL, "%s", out);
    free(out);
    free(err);
}

Test(pareto_cli, missing_fields_are_left_out_with_a_warning)
{
    char *out, *err;
    int rc = pareto("--run " FIXTURE " --x analytic.params --y quality.value", &out, &err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert(strstr(err, "results.jsonl:1 (t5-efficient-tiny): quality.value is missing; record left out") != NULL,
              "%s", err);
    /* Frontier of quality (max) vs params (min): the measured small-nl16 (-1.80) and t5-v1_1-base, whose
     * -1.556 comes from the Switch paper's Table 9; base-dm512 (-1.85, more params) is dominated. */
    cr_assert(strstr(out, "| t5-efficient-small-nl16 | forward | 133932544 | -1.8 |") != NULL, "%s", out);
    cr_assert(strstr(out, "| t5-v1_1-base | forward | 247577856 | -1.556 |") != NULL, "%s", out);
    cr_assert(strstr(out, "base-dm512") == NULL, "%s", out);
    free(out);
    free(err);
}

Test(pareto_cli, json_output)
{
    char *out, *err;
    int rc = pareto(FIXTURE "/results.jsonl --x analytic.params:max --y throughput.tokens_per_s --json", &out, &err);
    cr_assert_eq(rc, 0, "%s", err);
    cJSON *root = cJSON_Parse(out);
    cr_assert_not_null(root, "not JSON: %s", out);
    const cJSON *list = cJSON_GetObjectItem(root, "frontier");
    cr_assert_eq(cJSON_GetArraySize(list), 7);
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 0), "shape")->valuestring, "t5-efficient-tiny");
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 6), "shape")->valuestring, "switch-base-16");
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 6), "line")->valueint, 11);
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "x"), "direction")->valuestring, "max");
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "y"), "direction")->valuestring, "max");
    cJSON_Delete(root);
    free(out);
    free(err);
}

Test(pareto_cli, bad_direction_is_a_usage_error)
{
    char *out, *err;
    cr_assert_eq(pareto("--run " FIXTURE " --x analytic.params:sideways --y throughput.tokens_per_s", &out, &err), 2);
    cr_assert(strstr(err, "min or max") != NULL, "%s", err);
    free(out);
    free(err);
}

/* One frontier never mixes modes: the most common one by default (said on stderr), --mode another; --where
 * filters by any field; a misspelled field is one line with the nearest field. */
Test(pareto_cli, modes_filters_and_field_typos)
{
    char *out, *err;
    cr_assert_eq(pareto("--run " FIXTURE " --x analytic.params --y throughput.tokens_per_s", &out, &err), 0, "%s", err);
    cr_assert(strstr(err, "records of 2 modes; the frontier is over forward's (--mode picks another)") != NULL, "%s",
              err);
    free(out), free(err);
    cr_assert_eq(pareto("--run " FIXTURE " --x analytic.params --y throughput.ms_per_token:min --mode generate", &out,
                        &err),
                 0, "%s", err);
    cr_assert(strstr(out, "| generate |") != NULL && strstr(out, "| forward |") == NULL, "%s", out);
    cr_assert(strstr(out, "of mode generate") != NULL, "%s", out);
    free(out), free(err);
    cr_assert_eq(pareto("--run " FIXTURE " --x analytic.params:max --y throughput.tokens_per_s:max --where "
                        "config.d_model=512",
                        &out, &err),
                 0, "%s", err);
    cr_assert(strstr(out, "t5-efficient-base |") == NULL && strstr(out, "switch-base") == NULL,
              "d_model 768 on a d_model=512 frontier:\n%s", out);
    cr_assert(strstr(out, "| t5-efficient-small |") != NULL, "%s", out);
    free(out), free(err);
    cr_assert_eq(pareto("--run " FIXTURE " --x analytic.parms --y throughput.tokens_per_s", &out, &err), 2);
    cr_assert(strstr(err, "did you mean 'analytic.params'?") != NULL, "%s", err);
    free(out), free(err);
    cr_assert_eq(pareto("--run " FIXTURE " --x settings.mode --y throughput.tokens_per_s", &out, &err), 2);
    cr_assert(strstr(err, "settings.mode is a string field, not a number") != NULL, "%s", err);
    free(out), free(err);
    cr_assert_eq(pareto("--run " FIXTURE " --x analytic.params --y throughput.tokens_per_s --where d_model", &out, &err),
                 2);
    cr_assert(strstr(err, "must be FIELD=VALUE") != NULL, "%s", err);
    free(out), free(err);
}

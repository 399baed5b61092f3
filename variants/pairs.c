/* pairs.c — deep-narrow vs wide: the rule that pairs a deeper-narrower shape with a shallower-wider one of
 * matched size. The probe preset picks the shapes it trains with it and the report finds its comparisons
 * with it, so the pairs a reader sees are the ones the rule chose, never a hand-picked list. */
#include "variants/variants.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

sb_body sb_body_of(const sb_config *cfg)
{
    return (sb_body){(double)(cfg->num_layers + cfg->num_decoder_layers), (double)cfg->d_model, (double)cfg->d_ff,
                     (double)cfg->num_experts};
}

bool sb_deeper_narrower(const sb_body *a, const sb_body *b)
{
    return a->experts == 0 && b->experts == 0 && a->blocks > b->blocks && a->d_model <= b->d_model &&
           (a->d_model < b->d_model || a->d_ff < b->d_ff);
}

bool sb_sizes_matched(double a, double b)
{
    return a > 0 && b > 0 && fmax(a, b) <= SB_MATCH_TOLERANCE * fmin(a, b);
}

typedef struct {
    size_t deep, wide;
    double larger, ratio;
} candidate;

/* Cheaper pairs first; then closer sizes; then candidate order, so the choice never depends on qsort. */
static int by_cost(const void *pa, const void *pb)
{
    const candidate *a = pa, *b = pb;
    if (a->larger != b->larger)
        return a->larger < b->larger ? -1 : 1;
    if (a->ratio != b->ratio)
        return a->ratio < b->ratio ? -1 : 1;
    if (a->deep != b->deep)
        return a->deep < b->deep ? -1 : 1;
    return (a->wide > b->wide) - (a->wide < b->wide);
}

int sb_deep_wide_pairs(const sb_body *bodies, const double *size, size_t n, size_t max, sb_pair *out, size_t *count,
                       sb_error *err)
{
    *count = 0;
    candidate *all = malloc((n * n + 1) * sizeof *all);
    bool *used = calloc(n + 1, sizeof *used);
    if (all == NULL || used == NULL) {
        free(all);
        free(used);
        return sb_fail(err, "out of memory pairing %zu shapes", n);
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            if (sb_deeper_narrower(&bodies[i], &bodies[j]) && sb_sizes_matched(size[i], size[j]))
                all[m++] = (candidate){i, j, fmax(size[i], size[j]), fmax(size[i], size[j]) / fmin(size[i], size[j])};
    qsort(all, m, sizeof *all, by_cost);
    for (size_t k = 0; k < m && *count < max; k++) {
        if (used[all[k].deep] || used[all[k].wide])
            continue;
        used[all[k].deep] = used[all[k].wide] = true;
        out[(*count)++] = (sb_pair){all[k].deep, all[k].wide};
    }
    free(all);
    free(used);
    return 0;
}

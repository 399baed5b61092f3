/* presets.c — what each probe preset trains: t5-efficient-tiny (the reference every budget is checked on) and
 * the deep-narrow vs wide pairs that variants/'s rule picks among the published T5-Efficient shapes, at the
 * probe's vocabulary, with the budgets, seeds and sizes that fit the preset's time. Published shapes, so that
 * the default sweep has measured the speed of every one of them. */
#include "probe/probe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The published dense T5-Efficient shapes, their bodies and their params at the probe's vocabulary. */
static int published_shapes(const char **names, sb_body *bodies, double *params, size_t *n, sb_error *err)
{
    *n = 0;
    for (size_t i = 0; i < sb_registry_count(); i++) {
        const sb_registry_entry *e = sb_registry_get(i);
        sb_config cfg;
        if (e->unsupported || strcmp(e->family, "t5-efficient") != 0 ||
            sb_probe_config(e->name, SB_PROBE_VOCAB, &cfg, err) != 0 || cfg.num_experts > 0)
            continue;
        const sb_count_settings cs = {1, 128, 29, SB_DTYPE_F32};
        sb_counts counts;
        if (sb_count(&cfg, &cs, &counts, err) != 0)
            return -1;
        names[*n] = e->name;
        bodies[*n] = sb_body_of(&cfg);
        params[(*n)++] = (double)counts.params;
    }
    return 0;
}

/* The shapes of `pairs` rule-chosen pairs after t5-efficient-tiny, deeper one first in each pair. */
static int pair_shapes(size_t pairs, sb_probe_preset *p, sb_error *err)
{
    const size_t rows = sb_registry_count();
    const char **names = calloc(rows + 1, sizeof *names);
    sb_body *bodies = calloc(rows + 1, sizeof *bodies);
    double *params = calloc(rows + 1, sizeof *params);
    sb_pair *chosen = calloc(pairs + 1, sizeof *chosen);
    size_t n = 0, found = 0;
    int rc = names == NULL || bodies == NULL || params == NULL || chosen == NULL
                 ? sb_fail(err, "out of memory choosing the probe's shapes")
                 : published_shapes(names, bodies, params, &n, err);
    if (rc == 0)
        rc = sb_deep_wide_pairs(bodies, params, n, pairs, chosen, &found, err);
    if (rc == 0 && found < pairs)
        rc = sb_fail(err, "the registry holds %zu deep-narrow vs wide pairs, the preset needs %zu", found, pairs);
    p->count = 0;
    p->shapes[p->count++] = "t5-efficient-tiny";
    for (size_t k = 0; rc == 0 && k < found; k++) {
        p->shapes[p->count++] = names[chosen[k].deep];
        p->shapes[p->count++] = names[chosen[k].wide];
    }
    free(names);
    free(bodies);
    free(params);
    free(chosen);
    return rc;
}

int sb_probe_preset_get(const char *name, sb_probe_preset *out, sb_error *err)
{
    memset(out, 0, sizeof *out);
    out->name = name;
    out->batch = 4;
    out->src_len = 128;
    out->eval_examples = 256;
    out->curve_points = 8;
    size_t pairs;
    if (strcmp(name, "probe-smoke") == 0) {
        pairs = 1;
        out->budgets = "5e10,1s";
        out->seeds = 2;
        out->src_len = 64;
        out->eval_examples = 32;
    } else if (strcmp(name, "probe") == 0) {
        pairs = 4;
        out->budgets = SB_PROBE_BUDGET;
        out->seeds = 3;
        out->eval_examples = 128; /* eight evaluations of 256 would cost a fifth of the training */
    } else if (strcmp(name, "probe-large") == 0) {
        pairs = 8;
        out->budgets = SB_PROBE_LARGE_BUDGET;
        out->seeds = 5;
        out->eval_examples = 512;
    } else {
        return sb_fail(err, "unknown preset '%s' (probe, probe-smoke or probe-large)", name);
    }
    return pair_shapes(pairs, out, err);
}

/* suggest.c — "did you mean": the nearest of a list of known words to a misspelled one (model names,
 * options, record fields). */
#include "common/common.h"

#include <string.h>

/* Longest word compared: past it the distance is SIZE_MAX (no suggestion). */
#define EDIT_MAX 256

/* Optimal string alignment distance: a swapped pair of letters ("bsae") counts as one edit. Three rolling
 * rows: the one being filled and the two before it. */
size_t sb_edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (m >= EDIT_MAX)
        return SIZE_MAX;
    size_t rows[3][EDIT_MAX + 1];
    for (size_t j = 0; j <= m; j++)
        rows[0][j] = j;
    for (size_t i = 1; i <= n; i++) {
        size_t *cur = rows[i % 3], *up = rows[(i + 2) % 3], *up2 = rows[(i + 1) % 3];
        cur[0] = i;
        for (size_t j = 1; j <= m; j++) {
            size_t best = up[j - 1] + (a[i - 1] != b[j - 1]);
            if (up[j] + 1 < best)
                best = up[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && up2[j - 2] + 1 < best)
                best = up2[j - 2] + 1;
            cur[j] = best;
        }
    }
    return rows[n % 3][m];
}

const char *sb_nearest(const char *word, const char *const *known, size_t count)
{
    const char *best = NULL;
    size_t best_distance = SIZE_MAX;
    for (size_t i = 0; i < count; i++) {
        const size_t d = sb_edit_distance(word, known[i]);
        if (d < best_distance) {
            best = known[i];
            best_distance = d;
        }
    }
    const size_t limit = strlen(word) / 3 > 2 ? strlen(word) / 3 : 2;
    return best_distance <= limit ? best : NULL;
}

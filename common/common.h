/* common.h — what every layer of shapebench needs, once, at the bottom of the tree:
 *
 *   - error values: sb_error and sb_fail (every function that can fail returns 0, or -1 with a one-line
 *     message a user can act on), warning callbacks, checked 64-bit arithmetic;
 *   - strict number parsing (the whole text is one number in a stated range, or an error saying so);
 *   - files: mkdir -p, reading a whole file, replacing a file atomically (temporary file in the same
 *     folder, fsync, rename), so no reader ever sees half a file;
 *   - running an external tool without a shell (argv as given, no word splitting), its output captured or
 *     not, and sha256 of a file;
 *   - a growable string for text built piece by piece, and a word quoted for a shell script;
 *   - the seeded random generator everything deterministic draws from (splitmix64, xoshiro256**);
 *   - the statistics of a comparison: mean and sd, Student's t, Welch's interval, Spearman's rho.
 *
 * Depends on libc only. Every other folder depends on this one.
 */
#ifndef SHAPEBENCH_COMMON_H
#define SHAPEBENCH_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SB_ERROR_MAX 512
#define SB_PATH_MAX 4096

/* ---- errors --------------------------------------------------------------------------------------- */

typedef struct {
    char msg[SB_ERROR_MAX];
} sb_error;

/* Formats the message into err (when err is not NULL) and returns -1, so callers can `return sb_fail(...)`. */
int sb_fail(sb_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Where non-fatal messages go (a command prints them as warnings; a library never prints). */
typedef void (*sb_warn_fn)(void *ctx, const char *message);

/* Checked 64-bit arithmetic: 0 on success, -1 on overflow (then *out is unspecified). */
int sb_mul_i64(int64_t a, int64_t b, int64_t *out);
int sb_add_i64(int64_t a, int64_t b, int64_t *out);

/* ---- numbers -------------------------------------------------------------------------------------- */

/* The one strict number parser: the whole of text is a plain decimal number ([-]digits for an integer;
 * [-]digits[.digits][e[+-]digits] for a real) in [min, max]; -1 otherwise. Leading spaces, '+', hex, "inf",
 * "nan" and trailing characters are refused; *out is set only on success. */
int sb_parse_i64(const char *text, int64_t min, int64_t max, int64_t *out);
int sb_parse_f64(const char *text, double min, double max, double *out);

/* ---- files ---------------------------------------------------------------------------------------- */

/* mkdir -p: every missing component of dir, then dir must be a folder. */
int sb_mkdir_p(const char *dir, sb_error *err);
/* rm -rf: the tree at path, links not followed; quiet when it is not there. */
void sb_remove_tree(const char *path);
/* sb_mkdir_p of the folder that holds `path` (nothing to do for a bare file name). */
int sb_mkdir_parent(const char *path, sb_error *err);
/* The whole file, NUL-terminated (the terminator not counted in *len); free() it. */
int sb_read_file(const char *path, char **out, size_t *len, sb_error *err);
/* The same from an open descriptor (read from offset 0 on; `path` names it in messages). */
int sb_read_fd(int fd, const char *path, char **out, size_t *len, sb_error *err);
/* Every output is written this way: to a temporary file created in the same folder (exclusively, never an
 * existing path, so a link at `path` is replaced rather than followed), flushed, fsync'd and renamed over
 * `path`: a reader sees the old whole file or the new whole file, and a crash or a full disk leaves no
 * partial one. sb_output_open creates the temporary file (o->tmp, open as o->f, which another program may
 * also write by name); sb_output_commit puts it in place; sb_output_abort removes it (a no-op once
 * committed or aborted). */
typedef struct {
    FILE *f;
    char path[SB_PATH_MAX], tmp[SB_PATH_MAX + 16];
} sb_output;
int sb_output_open(sb_output *o, const char *path, sb_error *err);
int sb_output_commit(sb_output *o, sb_error *err);
void sb_output_abort(sb_output *o);
/* An output written whole by `write`, which fills the stream and returns 0, or -1 with err set. */
typedef int (*sb_write_fn)(FILE *f, void *ctx, sb_error *err);
int sb_write_file_atomic(const char *path, sb_write_fn write, void *ctx, sb_error *err);
/* sb_write_file_atomic of `text` (then a newline when newline is set). */
int sb_write_text_atomic(const char *path, const char *text, bool newline, sb_error *err);

/* ---- external tools ------------------------------------------------------------------------------- */

/* Returned by sb_run_tool and sb_sha256_file when the program is not installed (not in PATH), as opposed
 * to -1 for every other failure. */
#define SB_TOOL_MISSING (-2)

/* Runs argv[0] (searched in PATH) without a shell, stdin from `in`, stdout to `out`, stderr to `errf` (NULL:
 * /dev/null), in folder cwd (NULL: the current one); *exit_status gets its exit code (128 + signal when
 * killed). `out` and `errf` are truncated, or appended to when append is set; errf equal to out sends both
 * to one file. Fails (-1) only when it cannot be started. */
typedef struct {
    const char *cwd, *in, *out, *errf;
    bool append;
} sb_tool_io;
int sb_run_tool(char *const argv[], const sb_tool_io *io, int *exit_status, sb_error *err);
/* sb_run_tool with the program's stdout captured whole into *out (NUL-terminated; free() it); io->out is
 * not used. */
int sb_run_tool_output(char *const argv[], const sb_tool_io *io, char **out, int *exit_status, sb_error *err);
/* sha256 of a file as 64 hex digits, with coreutils' sha256sum. */
int sb_sha256_file(const char *path, char hex[65], sb_error *err);

/* ---- strings -------------------------------------------------------------------------------------- */

/* A growable NUL-terminated string. An allocation failure is sticky: every later append is a no-op and
 * sb_strbuf_failed says so, so callers check once at the end. */
typedef struct {
    char *data; /* NULL until the first append */
    size_t len, cap;
    bool failed;
} sb_strbuf;

/* snprintf into a fixed buffer whose size the caller has already checked against its inputs (paths under a
 * folder of checked length), without -Wformat-truncation's guesses; the text is cut at cap - 1 regardless. */
void sb_fmt(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void sb_strbuf_printf(sb_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_strbuf_append(sb_strbuf *b, const char *text, size_t len);
/* text as one word of a POSIX shell: in single quotes, each ' written as '\'' (scripts the shell runs
 * carry names and paths only this way). */
void sb_strbuf_shell_word(sb_strbuf *b, const char *text);
/* The text so far ("" before any append). */
const char *sb_strbuf_text(const sb_strbuf *b);
bool sb_strbuf_failed(const sb_strbuf *b);
void sb_strbuf_free(sb_strbuf *b);

/* ---- suggestions ---------------------------------------------------------------------------------- */

/* Optimal string alignment distance between a and b (a swapped pair of letters counts as one edit);
 * SIZE_MAX when b is longer than 256 characters. */
size_t sb_edit_distance(const char *a, const char *b);
/* The known word nearest to `word`, when it is within max(2, length / 3) edits; NULL otherwise. */
const char *sb_nearest(const char *word, const char *const *known, size_t count);

/* ---- statistics of a comparison (stats.c) --------------------------------------------------------- */

/* Mean and sample standard deviation (n - 1; NaN below 2 values), two-pass. stddev may be NULL. */
void sb_mean_stddev(const double *x, size_t n, double *mean, double *stddev);
/* Student's t with df degrees of freedom (df need not be whole): P(|T| >= |t|), and the p-quantile. */
double sb_student_t_two_sided(double t, double df);
double sb_student_t_quantile(double p, double df);

/* An estimate with its standard error, degrees of freedom, 95 % t interval [lo, hi] and the two-sided
 * p-value of "it is 0". */
typedef struct {
    double estimate, se, df, lo, hi, p;
} sb_interval;

/* The mean of x (n >= 2) and its t interval. */
int sb_mean_interval(const double *x, size_t n, sb_interval *out, sb_error *err);
/* Welch's unequal-variance interval for mean(a) - mean(b) (na, nb >= 2; Welch-Satterthwaite df). */
int sb_welch(const double *a, size_t na, const double *b, size_t nb, sb_interval *out, sb_error *err);
/* Spearman's rank correlation of n >= 3 pairs (ties take their mean rank; NaN when one side is constant) and
 * its two-sided p-value from t = rho sqrt((n - 2) / (1 - rho^2)) on n - 2 degrees of freedom. */
int sb_spearman(const double *x, const double *y, size_t n, double *rho, double *p, sb_error *err);

/* ---- random numbers ------------------------------------------------------------------------------- */

/* One generator for everything seeded: weight init, dropout keys, the probe's span-corruption masks and
 * batch order. Every value is a pure function of the seed, on any machine and thread count. */

/* splitmix64's output function (Steele, Lea & Flood): a 64-bit bijective mixer. */
uint64_t sb_mix64(uint64_t z);
/* splitmix64: advances *state by the golden gamma and returns the mixed value. */
uint64_t sb_splitmix64(uint64_t *state);

/* xoshiro256** (Blackman & Vigna). */
typedef struct {
    uint64_t s[4];
} sb_rng;

/* The generator whose state is the next four splitmix64 outputs from `key` (Vigna's recommended seeding). */
sb_rng sb_rng_seed(uint64_t key);

/* The next 64-bit output. Inline: weight init draws one per value, and a call each would slow it. */
static inline uint64_t sb_rng_next(sb_rng *r)
{
    uint64_t *s = r->s;
    const uint64_t x = s[1] * 5, out = ((x << 7) | (x >> 57)) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return out;
}

#endif

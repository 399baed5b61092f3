/* numbers.c — the one strict reader of numbers written as text (command-line values, overrides, ranges,
 * data files): the whole text is one plain decimal number, or it is not a number at all. No leading
 * whitespace or '+', no hexadecimal, no "inf" or "nan", no trailing characters: strtoll and strtod accept
 * all of those, so their answer is taken only after the text has passed the grammar below. */
#include "common/common.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

static const char *skip_digits(const char *p)
{
    while (*p >= '0' && *p <= '9')
        p++;
    return p;
}

/* [-]digits: the grammar of a whole number. */
static bool is_integer_text(const char *text)
{
    const char *p = text + (*text == '-');
    const char *end = skip_digits(p);
    return end > p && *end == '\0';
}

/* [-](digits[.digits*] | .digits)[(e|E)[+|-]digits]: the grammar of a decimal number. */
static bool is_decimal_text(const char *text)
{
    const char *p = text + (*text == '-');
    const char *int_end = skip_digits(p);
    const char *frac_end = int_end;
    if (*int_end == '.')
        frac_end = skip_digits(int_end + 1);
    if (int_end == p && frac_end <= int_end + 1)
        return false; /* no digit before or after the point */
    p = frac_end;
    if (*p == 'e' || *p == 'E') {
        p++;
        p += *p == '+' || *p == '-';
        const char *exp_end = skip_digits(p);
        if (exp_end == p)
            return false;
        p = exp_end;
    }
    return *p == '\0';
}

int sb_parse_i64(const char *text, int64_t min, int64_t max, int64_t *out)
{
    if (text == NULL || !is_integer_text(text))
        return -1;
    errno = 0;
    const long long value = strtoll(text, NULL, 10);
    if (errno != 0 || value < min || value > max)
        return -1;
    *out = value;
    return 0;
}

int sb_parse_f64(const char *text, double min, double max, double *out)
{
    if (text == NULL || !is_decimal_text(text))
        return -1;
    errno = 0;
    const double value = strtod(text, NULL);
    /* ERANGE on underflow still gives the nearest value (0 or a denormal): only overflow is refused. */
    if (!isfinite(value) || !(value >= min && value <= max))
        return -1;
    *out = value;
    return 0;
}

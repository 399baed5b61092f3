/* test_numbers.c — the one strict number parser: whole decimal text in range, or an error; never a prefix,
 * hex, a sign-prefixed or space-prefixed number, infinity or NaN. */
#include "common/common.h"

#include <criterion/criterion.h>
#include <float.h>
#include <stdint.h>

Test(numbers, integers_are_whole_decimal_text)
{
    static const struct {
        const char *text;
        int64_t value;
    } good[] = {{"0", 0}, {"512", 512}, {"-7", -7}, {"007", 7}, {"9223372036854775807", INT64_MAX}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int64_t v = -1;
        cr_expect_eq(sb_parse_i64(good[i].text, INT64_MIN, INT64_MAX, &v), 0, "'%s'", good[i].text);
        cr_expect_eq(v, good[i].value, "'%s' read as %lld", good[i].text, (long long)v);
    }
    static const char *const bad[] = {"", "512abc", "0x200", " 5", "5 ", "+5", "-", "1e3", "2.9", "1,2",
                                      "9223372036854775808", "nan", "inf", "５"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v = 42;
        cr_expect_eq(sb_parse_i64(bad[i], INT64_MIN, INT64_MAX, &v), -1, "'%s' must be refused", bad[i]);
        cr_expect_eq(v, 42, "'%s' changed the output", bad[i]);
    }
    int64_t v;
    cr_expect_eq(sb_parse_i64("4097", 1, 4096, &v), -1);
    cr_expect_eq(sb_parse_i64("0", 1, 4096, &v), -1);
    cr_expect_eq(sb_parse_i64(NULL, 0, 1, &v), -1);
}

Test(numbers, reals_are_whole_decimal_text)
{
    static const struct {
        const char *text;
        double value;
    } good[] = {{"0", 0}, {"1.5", 1.5}, {"-2", -2}, {".25", 0.25}, {"3.", 3}, {"1e9", 1e9}, {"2.5E-3", 2.5e-3},
                {"1e+2", 100}, {"1e-400", 0}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        double v = -1;
        cr_expect_eq(sb_parse_f64(good[i].text, -DBL_MAX, DBL_MAX, &v), 0, "'%s'", good[i].text);
        cr_expect_eq(v, good[i].value, "'%s' read as %g", good[i].text, v);
    }
    static const char *const bad[] = {"", ".", "-", "1e", "1e+", "0x1p3", "inf", "-infinity", "nan", " 1", "1 ",
                                      "+1", "1.5s", "1e999", "--1", "1..2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double v = 42;
        cr_expect_eq(sb_parse_f64(bad[i], -DBL_MAX, DBL_MAX, &v), -1, "'%s' must be refused", bad[i]);
        cr_expect_eq(v, 42, "'%s' changed the output", bad[i]);
    }
    double v;
    cr_expect_eq(sb_parse_f64("1e7", 0, 1e6, &v), -1);
    cr_expect_eq(sb_parse_f64("-0.5", 0, 1, &v), -1);
}

/* Unit tests for lib/base/kv.c: a value in "key=value" text cannot pose as
 * more fields (quoted and escaped when it has a space, quote, '=', backslash
 * or control byte), plain values stay bare, cuts keep UTF-8 whole and the
 * closing quote. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/kv.h"

static const char *kv(const char *v, size_t cap, size_t max_in)
{
    static char out[256];
    return kv_value(out, cap, v, max_in);
}

static void plain_values_stay_bare(void **state)
{
    assert_string_equal(kv("sensor-7", 256, 255), "sensor-7");
    assert_string_equal(kv("a.b:c/d", 256, 255), "a.b:c/d");
    assert_string_equal(kv("Heizk\xc3\xb6rper", 256, 255), "\"Heizk\xc3\xb6rper\"");
}

static void fields_cannot_be_forged(void **state)
{
    assert_string_equal(kv("x username=admin", 256, 255), "\"x username=admin\"");
    assert_string_equal(kv("a\"b", 256, 255), "\"a\\\"b\"");
    assert_string_equal(kv("a\\", 256, 255), "\"a\\\\\"");
    assert_string_equal(kv("l1\nname=evil", 256, 255), "\"l1\\nname=evil\"");
    assert_string_equal(kv("\x01\x7f\t\r", 256, 255), "\"\\x01\\x7F\\t\\r\"");
    assert_string_equal(kv("k=v", 256, 255), "\"k=v\"");
    assert_string_equal(kv("", 256, 255), "\"\"");
    assert_string_equal(kv(NULL, 256, 255), "\"\"");
}

static void cuts_keep_utf8_and_the_quote(void **state)
{
    /* input cut at 4 bytes would split the 2-byte o-umlaut: cut before it */
    assert_string_equal(kv("abc\xc3\xb6", 256, 4), "abc");
    /* output too small: closed quote, no split escape, no split sequence */
    const char *o = kv("a b\"c", 6, 255);
    assert_string_equal(o, "\"a b\"");
    o = kv("a \xe2\x82\xac", 6, 255);
    assert_string_equal(o, "\"a \"");
    assert_string_equal(kv("ab", 2, 255), "a");
    assert_string_equal(kv("a b", 2, 255), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_values_stay_bare),
        cmocka_unit_test(fields_cannot_be_forged),
        cmocka_unit_test(cuts_keep_utf8_and_the_quote),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for services/authd/clientid.c: exact ids, '*' anywhere, %u,
 * several patterns, and no way for a username or id to widen a pattern. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "clientid.h"

static void patterns_match(void **state)
{
    assert_true(clientid_allowed(NULL, "u", "anything"));
    assert_true(clientid_allowed("", "u", "anything"));
    assert_true(clientid_allowed("dev-1", "u", "dev-1"));
    assert_false(clientid_allowed("dev-1", "u", "dev-10"));
    assert_true(clientid_allowed("%u-*", "boiler7", "boiler7-a"));
    assert_true(clientid_allowed("%u-*", "boiler7", "boiler7-"));
    assert_false(clientid_allowed("%u-*", "boiler7", "boiler8-a"));
    assert_false(clientid_allowed("%u-*", "boiler7", "boiler7"));
    assert_true(clientid_allowed("%u", "boiler7", "boiler7"));
    assert_true(clientid_allowed("a*b*c", "u", "aXXbYYc"));
    assert_false(clientid_allowed("a*b*c", "u", "aXXbYY"));
    assert_true(clientid_allowed("site/*/%u", "x", "site/4/x"));
    assert_true(clientid_allowed("one\ntwo\n%u-*", "z", "two"));
    assert_true(clientid_allowed("one\ntwo\n%u-*", "z", "z-1"));
    assert_false(clientid_allowed("one\ntwo\n%u-*", "z", "three"));
    assert_true(clientid_allowed("100%", "u", "100%"));          /* a lone % is literal */
    assert_true(clientid_allowed("%%u", "u", "%u"));
}

static void nothing_widens_a_pattern(void **state)
{
    /* a username with '*' would turn %u into a wildcard: no %u match for it */
    assert_false(clientid_allowed("%u", "*", "victim"));
    assert_false(clientid_allowed("%u-*", "a*", "abc-1"));
    /* anonymous: no username, %u patterns never match */
    assert_false(clientid_allowed("%u", NULL, ""));
    /* the id is text, not a pattern */
    assert_false(clientid_allowed("dev-1", "u", "*"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(patterns_match),
        cmocka_unit_test(nothing_widens_a_pattern),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for lib/mqtt/share.c: "$share/{ShareName}/{filter}" parsing
 * (MQTT 5.0 section 4.8.2). Inputs sit against a guard page so a read past
 * the length faults. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "base/err.h"
#include "guard.h"
#include "mqtt/share.h"

struct share_case {
    const char *id;
    const char *s;
    int rc;
    const char *name;   /* expected when rc == 1 */
    const char *filter;
};

#define BAD ROOST_EPROTO_TOPIC

static const struct share_case cases[] = {
    {"[MQTT-4.8.2-1] plain share", "$share/g/a/b", 1, "g", "a/b"},
    {"[MQTT-4.8.2-1] wildcard filter", "$share/workers/dev/+/telemetry", 1, "workers", "dev/+/telemetry"},
    {"[MQTT-4.8.2-1] '#' filter", "$share/g/#", 1, "g", "#"},
    {"[MQTT-4.8.2-1] filter with empty levels", "$share/g//", 1, "g", "/"},
    {"[MQTT-4.8.2-1] filter starting with $", "$share/g/$SYS/x", 1, "g", "$SYS/x"},
    {"[MQTT-4.8.2-1] UTF-8 share name", "$share/caf\xc3\xa9/x", 1, "caf\xc3\xa9", "x"},
    {"ordinary filter", "a/b", 0, NULL, NULL},
    {"'$share' alone is an ordinary filter", "$share", 0, NULL, NULL},
    {"case matters", "$SHARE/g/a", 0, NULL, NULL},
    {"'$sharex/g/a' is ordinary", "$sharex/g/a", 0, NULL, NULL},
    {"[MQTT-4.8.2-1] empty share name", "$share//a", BAD, NULL, NULL},
    {"[MQTT-4.8.2-1] no filter", "$share/g", BAD, NULL, NULL},
    {"[MQTT-4.8.2-1] empty filter", "$share/g/", BAD, NULL, NULL},
    {"[MQTT-4.8.2-1] only the prefix", "$share/", BAD, NULL, NULL},
    {"[MQTT-4.8.2-2] '+' share name", "$share/+/a", BAD, NULL, NULL},
    {"[MQTT-4.8.2-2] '#' share name", "$share/#/a", BAD, NULL, NULL},
    {"[MQTT-4.8.2-2] '+' inside share name", "$share/a+b/a", BAD, NULL, NULL},
    {"[MQTT-4.7.1-2] invalid filter after the name", "$share/g/a/#/b", BAD, NULL, NULL},
    {"[MQTT-4.7.1-3] '+' glued in the filter", "$share/g/a+", BAD, NULL, NULL},
};

static void test_parse_table(void **state)
{
    (void)state;
    struct guard g = guard_new();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct share_case *c = &cases[i];
        const char *s = guard_put(&g, c->s);
        size_t n = strlen(c->s);
        share_filter_t sf = {0};
        int rc = share_parse(s, n, &sf);
        if (rc != c->rc)
            fail_msg("%s: share_parse(\"%s\") = %d, want %d", c->id, c->s, rc, c->rc);
        if (rc == 1) {
            assert_int_equal(sf.name_len, strlen(c->name));
            assert_memory_equal(sf.name, c->name, sf.name_len);
            assert_int_equal(sf.filter_len, strlen(c->filter));
            assert_memory_equal(sf.filter, c->filter, sf.filter_len);
        }
        assert_int_equal(share_is(s, n), strncmp(c->s, "$share/", 7) == 0);
    }
    guard_free(&g);
}

static void test_inner(void **state)
{
    (void)state;
    const char *f;
    size_t fl;
    share_inner("$share/g/a/+", 12, &f, &fl);
    assert_int_equal(fl, 3);
    assert_memory_equal(f, "a/+", 3);
    share_inner("a/+", 3, &f, &fl); /* ordinary: itself */
    assert_int_equal(fl, 3);
    assert_memory_equal(f, "a/+", 3);
    share_inner("$share/+/a", 10, &f, &fl); /* invalid: itself, which no ACL covers */
    assert_int_equal(fl, 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_inner),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

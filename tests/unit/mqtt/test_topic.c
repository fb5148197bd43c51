/* Unit tests for lib/mqtt/topic.c: name and filter validity, matching and the
 * literal prefix, as tables cited to MQTT 3.1.1 section 4.7. Every input is
 * copied to the end of a guard-paged buffer so a read past len faults. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "base/err.h"
#include "guard.h"
#include "mqtt/topic.h"

struct valid_case {
    const char *id;
    const char *s;
    int name_rc;
    int filter_rc;
};

#define BAD ROOST_EPROTO_TOPIC

static const struct valid_case valid_cases[] = {
    {"[MQTT-4.7.1-2] '#' as last level", "a/#", BAD, 0},
    {"[MQTT-4.7.1-2] '#' alone", "#", BAD, 0},
    {"[MQTT-4.7.1-3] '+' alone", "+", BAD, 0},
    {"[MQTT-4.7.1-3] '+' in every level", "+/+", BAD, 0},
    {"[MQTT-4.7.1-3] '+' in a middle level", "a/+/b", BAD, 0},
    {"[MQTT-4.7.1-3] '+' then '#'", "+/#", BAD, 0},
    {"[MQTT-4.7.1-2] '#' glued to a level", "a#", BAD, BAD},
    {"[MQTT-4.7.1-2] '#' not last", "a/#/b", BAD, BAD},
    {"[MQTT-4.7.1-2] '#' then empty level", "#/", BAD, BAD},
    {"[MQTT-4.7.1-2] '##'", "##", BAD, BAD},
    {"[MQTT-4.7.1-3] '+' glued after", "a+", BAD, BAD},
    {"[MQTT-4.7.1-3] '+' glued before", "+a", BAD, BAD},
    {"[MQTT-4.7.1-3] '++'", "a/++", BAD, BAD},
    {"[MQTT-4.7.1-1] no wildcard in a name", "a/b+c", BAD, BAD},
    {"[MQTT-4.7.3-1] empty", "", BAD, BAD},
    {"[MQTT-4.7.3-1] '/' is two empty levels", "/", 0, 0},
    {"[MQTT-4.7.3-1] '//' is three empty levels", "//", 0, 0},
    {"[MQTT-4.7.1-1] empty middle level", "a//b", 0, 0},
    {"[MQTT-4.7.1-1] leading '/'", "/a", 0, 0},
    {"[MQTT-4.7.1-1] trailing '/'", "a/", 0, 0},
    {"[MQTT-4.7.2-1] '$SYS/#' is a valid filter", "$SYS/#", BAD, 0},
    {"[MQTT-4.7.2-1] '$SYS/x' is a valid name", "$SYS/x", 0, 0},
    {"[MQTT-4.7.1-1] spaces are ordinary", "a b/ c", 0, 0},
    {"[MQTT-4.7.1-1] UTF-8 is ordinary", "caf\xc3\xa9/+", BAD, 0},
};

static void test_check_table(void **state)
{
    (void)state;
    struct guard g = guard_new();
    for (size_t i = 0; i < sizeof valid_cases / sizeof valid_cases[0]; i++) {
        const struct valid_case *c = &valid_cases[i];
        const char *s = guard_put(&g, c->s);
        size_t n = strlen(c->s);
        int nrc = topic_check_name(s, n), frc = topic_check_filter(s, n);
        if (nrc != c->name_rc || frc != c->filter_rc)
            fail_msg("%s: \"%s\" name rc %d (want %d), filter rc %d (want %d)", c->id, c->s,
                     nrc, c->name_rc, frc, c->filter_rc);
        assert_int_equal(topic_has_wildcard(s, n), strpbrk(c->s, "+#") != NULL);
    }
    guard_free(&g);
}

/* [MQTT-4.7.3-3] at most 65535 bytes. */
static void test_check_length_limit(void **state)
{
    (void)state;
    static char big[65536];
    memset(big, 'a', sizeof big);
    assert_int_equal(topic_check_name(big, 65535), 0);
    assert_int_equal(topic_check_filter(big, 65535), 0);
    assert_int_equal(topic_check_name(big, 65536), BAD);
    assert_int_equal(topic_check_filter(big, 65536), BAD);
    /* 32768 empty levels ending in '#' */
    for (size_t i = 0; i < 65534; i++)
        big[i] = '/';
    big[65534] = '#';
    assert_int_equal(topic_check_filter(big, 65535), 0);
    assert_true(topic_match(big, 65535, big, 65534));
}

struct match_case {
    const char *id;
    const char *filter;
    const char *topic;
    bool match;
};

static const struct match_case match_cases[] = {
    /* the examples of section 4.7.1.2 */
    {"[MQTT-4.7.1-2] spec: sport/tennis/player1/# vs the level itself",
     "sport/tennis/player1/#", "sport/tennis/player1", true},
    {"[MQTT-4.7.1-2] spec: one level below", "sport/tennis/player1/#",
     "sport/tennis/player1/ranking", true},
    {"[MQTT-4.7.1-2] spec: two levels below", "sport/tennis/player1/#",
     "sport/tennis/player1/score/wimbledon", true},
    {"[MQTT-4.7.1-2] spec: sport/# matches sport", "sport/#", "sport", true},
    {"[MQTT-4.7.1-2] sibling not matched", "sport/tennis/player1/#", "sport/tennis/player2",
     false},
    {"[MQTT-4.7.1-2] '#' matches the parent level", "a/#", "a", true},
    {"[MQTT-4.7.1-2] '#' matches an empty child", "a/#", "a/", true},
    {"[MQTT-4.7.1-2] '#' needs its parent", "a/#", "b", false},
    {"[MQTT-4.7.1-2] '#' alone matches '/'", "#", "/", true},
    {"[MQTT-4.7.1-2] '#' alone matches anything", "#", "a/b/c", true},
    /* the examples of section 4.7.1.3 */
    {"[MQTT-4.7.1-3] spec: sport/tennis/+ one level", "sport/tennis/+", "sport/tennis/player1",
     true},
    {"[MQTT-4.7.1-3] spec: sport/tennis/+ not two levels", "sport/tennis/+",
     "sport/tennis/player1/ranking", false},
    {"[MQTT-4.7.1-3] spec: sport/+ not the parent", "sport/+", "sport", false},
    {"[MQTT-4.7.1-3] spec: sport/+ matches an empty level", "sport/+", "sport/", true},
    {"[MQTT-4.7.1-3] spec: +/+ matches '/'", "+/+", "/", true},
    {"[MQTT-4.7.1-3] spec: /+ matches '/finance'", "/+", "/finance", true},
    {"[MQTT-4.7.1-3] spec: + not '/finance'", "+", "/finance", false},
    {"[MQTT-4.7.1-3] '+' not two empty levels", "+", "/", false},
    {"[MQTT-4.7.1-3] '+' matches an empty middle level", "a/+/b", "a//b", true},
    {"[MQTT-4.7.1-3] '+' then '#'", "+/#", "a", true},
    {"[MQTT-4.7.1-3] a/+ vs a/", "a/+", "a/", true},
    {"[MQTT-4.7.1-3] a/+/# vs a", "a/+/#", "a", false},
    {"[MQTT-4.7.1-3] a/+/# vs a/b", "a/+/#", "a/b", true},
    /* '$' topics */
    {"[MQTT-4.7.2-1] '#' does not match $SYS/x", "#", "$SYS/x", false},
    {"[MQTT-4.7.2-1] '+/x' does not match $SYS/x", "+/x", "$SYS/x", false},
    {"[MQTT-4.7.2-1] '+' does not match $SYS", "+", "$SYS", false},
    {"[MQTT-4.7.2-1] '$SYS/#' matches $SYS/x", "$SYS/#", "$SYS/x", true},
    {"[MQTT-4.7.2-1] '$SYS/+' matches $SYS/x", "$SYS/+", "$SYS/x", true},
    {"[MQTT-4.7.2-1] '$' only matters first", "a/#", "a/$x", true},
    {"[MQTT-4.7.2-1] '+/$x' vs a/$x", "+/$x", "a/$x", true},
    /* literal levels */
    {"[MQTT-4.7.3-4] exact match", "a/b", "a/b", true},
    {"[MQTT-4.7.3-4] case sensitive", "A/b", "a/b", false},
    {"[MQTT-4.7.3-4] prefix is not a match", "a/b", "a/bc", false},
    {"[MQTT-4.7.3-4] shorter topic", "a/b", "a", false},
    {"[MQTT-4.7.3-4] trailing '/' is a level", "a", "a/", false},
    {"[MQTT-4.7.3-4] leading '/' is a level", "/a", "a", false},
    {"[MQTT-4.7.3-4] empty levels match", "a//b", "a//b", true},
    {"[MQTT-4.7.3-4] '//' vs '//'", "//", "//", true},
    {"[MQTT-4.7.3-4] '/' vs '//'", "/", "//", false},
};

static void test_match_table(void **state)
{
    (void)state;
    struct guard gf = guard_new(), gt = guard_new();
    for (size_t i = 0; i < sizeof match_cases / sizeof match_cases[0]; i++) {
        const struct match_case *c = &match_cases[i];
        assert_int_equal(topic_check_filter(c->filter, strlen(c->filter)), 0);
        assert_int_equal(topic_check_name(c->topic, strlen(c->topic)), 0);
        const char *f = guard_put(&gf, c->filter), *t = guard_put(&gt, c->topic);
        bool got = topic_match(f, strlen(c->filter), t, strlen(c->topic));
        if (got != c->match)
            fail_msg("%s: \"%s\" vs \"%s\" gave %d", c->id, c->filter, c->topic, got);
    }
    guard_free(&gf);
    guard_free(&gt);
}

struct prefix_case {
    const char *filter;
    size_t prefix;
};

static const struct prefix_case prefix_cases[] = {
    {"a/b/+/c", 4}, {"a/b", 3}, {"#", 0},   {"+", 0},      {"a/#", 1},   {"/#", 0},
    {"+/a", 0},     {"/", 1},   {"//+", 2}, {"$SYS/#", 4}, {"a/b/c/", 6}, {"a//#", 2},
    {"ab/+/#", 3},  {"a/+", 2}, {"a/b/#", 3},
};

static void test_literal_prefix(void **state)
{
    (void)state;
    struct guard g = guard_new();
    for (size_t i = 0; i < sizeof prefix_cases / sizeof prefix_cases[0]; i++) {
        const struct prefix_case *c = &prefix_cases[i];
        const char *f = guard_put(&g, c->filter);
        size_t got = topic_literal_prefix(f, strlen(c->filter));
        if (got != c->prefix)
            fail_msg("\"%s\": prefix %zu, want %zu", c->filter, got, c->prefix);
    }
    guard_free(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_table),
        cmocka_unit_test(test_check_length_limit),
        cmocka_unit_test(test_match_table),
        cmocka_unit_test(test_literal_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for lib/acl/acl.c: compile with %u/%c substitution, publish,
 * subscribe (coverage and overlap), delivery filtering, and a randomized
 * differential check of the filter algebra against brute force. Tables name
 * every case; topics and filters under test sit against a guard page so a
 * read past len faults. Every matcher is destroyed (ASan checks leaks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl/acl.h"
#include "base/err.h"
#include "guard.h"
#include "mqtt/topic.h"

/* ---- helpers ------------------------------------------------------------ */

#define MAX_ENTRIES 8

/* Entries are written "<perm><action> <topic>": perm '+' allow, '-' deny;
 * action 'p' publish, 's' subscribe, 'b' both. e.g. "-s s/secret". */
static size_t parse_entries(const char *const *spec, acl_entry_t *out)
{
    size_t n = 0;
    for (; n < MAX_ENTRIES && spec[n] != NULL; n++) {
        const char *s = spec[n];
        assert_true(strlen(s) >= 3 && s[2] == ' ');
        out[n].permission = s[0] == '-' ? ACL_DENY : ACL_ALLOW;
        out[n].action = s[1] == 'p' ? ACL_PUBLISH : s[1] == 's' ? ACL_SUBSCRIBE : ACL_BOTH;
        out[n].topic = (acl_str_t){s + 3, strlen(s + 3)};
    }
    return n;
}

static acl_str_t str(const char *s)
{
    return (acl_str_t){s, s ? strlen(s) : 0};
}

/* Compiles spec for username "alice", client id "c1". */
static acl_matcher_t *compile_spec(const char *const *spec)
{
    acl_entry_t e[MAX_ENTRIES];
    size_t n = parse_entries(spec, e);
    acl_matcher_t *m = NULL;
    assert_int_equal(acl_compile(e, n, str("alice"), str("c1"), &m), 0);
    assert_non_null(m);
    return m;
}

#define ENTRIES(...) ((const char *const[]){__VA_ARGS__, NULL})

/* ---- publish ------------------------------------------------------------ */

struct pub_case {
    const char *id;
    const char *const *entries;
    const char *topic;
    bool want;
};

static const struct pub_case pub_cases[] = {
    {"allow exact", ENTRIES("+p a/b"), "a/b", true},
    {"allow exact, other topic", ENTRIES("+p a/b"), "a/c", false},
    {"nothing matches: denied", ENTRIES("+p x/#"), "a/b", false},
    {"no entries at all: denied", ENTRIES(NULL), "a/b", false},
    {"allow subscribe-only does not allow publish", ENTRIES("+s a/b"), "a/b", false},
    {"allow both allows publish", ENTRIES("+b a/#"), "a/b/c", true},
    {"'a/#' allows the parent 'a'", ENTRIES("+p a/#"), "a", true},
    {"'+' allows one level", ENTRIES("+p a/+"), "a/b", true},
    {"'+' not two levels", ENTRIES("+p a/+"), "a/b/c", false},
    {"deny wins over allow", ENTRIES("+p #", "-p a/secret"), "a/secret", false},
    {"deny wins whatever the order", ENTRIES("-p a/secret", "+p #"), "a/secret", false},
    {"deny elsewhere leaves allow", ENTRIES("+p #", "-p a/secret"), "a/public", true},
    {"deny 'both' denies publish", ENTRIES("+p #", "-b a/+"), "a/x", false},
    {"deny subscribe-only leaves publish", ENTRIES("+p #", "-s a/x"), "a/x", true},
    {"deny only, nothing allowed", ENTRIES("-p a/b"), "a/c", false},
    {"[MQTT-4.7.2-1] '#' does not allow '$SYS/x'", ENTRIES("+p #"), "$SYS/x", false},
    {"[MQTT-4.7.2-1] '+/x' does not allow '$SYS/x'", ENTRIES("+p +/x"), "$SYS/x", false},
    {"'$SYS/#' allows '$SYS/x'", ENTRIES("+p $SYS/#"), "$SYS/x", true},
    {"empty levels are literal: 'a//b'", ENTRIES("+p a//b"), "a//b", true},
    {"empty levels are literal: 'a/b' is not 'a//b'", ENTRIES("+p a//b"), "a/b", false},
    {"'+/+' allows '/'", ENTRIES("+p +/+"), "/", true},
    {"%u substituted", ENTRIES("+p dev/%u/#"), "dev/alice/t", true},
    {"%u substituted, other user's topic", ENTRIES("+p dev/%u/#"), "dev/bob/t", false},
    {"%c substituted", ENTRIES("+p %c/out"), "c1/out", true},
    {"'a%u' is literal text", ENTRIES("+p a%u"), "a%u", true},
    {"'a%u' is literal, no substitution", ENTRIES("+p a%u"), "aalice", false},
    {"deny with %u", ENTRIES("+p dev/#", "-p dev/%u/ro"), "dev/alice/ro", false},
    {"invalid name: wildcard", ENTRIES("+p #"), "a/+", false},
    {"invalid name: empty", ENTRIES("+p #"), "", false},
};

static void test_publish_table(void **state)
{
    (void)state;
    struct guard g = guard_new();
    for (size_t i = 0; i < sizeof pub_cases / sizeof pub_cases[0]; i++) {
        const struct pub_case *c = &pub_cases[i];
        acl_matcher_t *m = compile_spec(c->entries);
        const char *t = guard_put(&g, c->topic);
        bool got = acl_check_publish(m, t, strlen(c->topic));
        if (got != c->want)
            fail_msg("%s: publish \"%s\" -> %d, want %d", c->id, c->topic, got, c->want);
        acl_destroy(&m);
        assert_null(m);
    }
    guard_free(&g);
}

/* ---- filter algebra ------------------------------------------------------ */

struct cover_case {
    const char *id;
    const char *cover;
    const char *sub;
    bool covers;
    bool overlaps;
};

static const struct cover_case cover_cases[] = {
    {"'a/+' covered by 'a/#'", "a/#", "a/+", true, true},
    {"'a/b' covered by 'a/+'", "a/+", "a/b", true, true},
    {"'#' not covered by 'a/#'", "a/#", "#", false, true},
    {"'+/b' covered by '+/+'", "+/+", "+/b", true, true},
    {"'a/#' covered by 'a/#'", "a/#", "a/#", true, true},
    {"'a/#' covered by '#'", "#", "a/#", true, true},
    {"'a/#' not covered by 'a/+' (parent 'a')", "a/+", "a/#", false, true},
    {"'+' covered by '#'", "#", "+", true, true},
    {"'#' not covered by '+'", "+", "#", false, true},
    {"'#' covered by '+/#' (topics have a level)", "+/#", "#", true, true},
    {"'+' covered by '+/#'", "+/#", "+", true, true},
    {"'a' covered by 'a/#'", "a/#", "a", true, true},
    {"'a' not covered by 'a/+'", "a/+", "a", false, false},
    {"'a/#' not covered by 'a/+/#' (parent 'a')", "a/+/#", "a/#", false, true},
    {"'a/+/c' covered by 'a/#'", "a/#", "a/+/c", true, true},
    {"'a/#' not covered by 'a/+/c'", "a/+/c", "a/#", false, true},
    {"'a/b/#' covered by 'a/+/#'", "a/+/#", "a/b/#", true, true},
    {"'a/+/#' not covered by 'a/b/#'", "a/b/#", "a/+/#", false, true},
    {"'a//b' covered by 'a/+/b'", "a/+/b", "a//b", true, true},
    {"'a//b' covered by 'a//b'", "a//b", "a//b", true, true},
    {"'a//b' not covered by 'a/b'", "a/b", "a//b", false, false},
    {"'a/' covered by 'a/+'", "a/+", "a/", true, true},
    {"'/' covered by '+/+'", "+/+", "/", true, true},
    {"'a/b' vs 'a/c': disjoint", "a/c", "a/b", false, false},
    {"'a/b' vs 'a/b/c': disjoint lengths", "a/b/c", "a/b", false, false},
    {"'a/+' vs 'a/b/#' overlap on 'a/b'", "a/b/#", "a/+", false, true},
    {"'+/x' vs 'y/+' overlap on 'y/x'", "y/+", "+/x", false, true},
    {"'s/secret' only overlaps 's/#'", "s/secret", "s/#", false, true},
    {"[MQTT-4.7.2-1] '$SYS/#' not covered by '#'", "#", "$SYS/#", false, false},
    {"[MQTT-4.7.2-1] '$SYS/x' not covered by '+/x'", "+/x", "$SYS/x", false, false},
    {"[MQTT-4.7.2-1] '$SYS/x' covered by '$SYS/+'", "$SYS/+", "$SYS/x", true, true},
    {"[MQTT-4.7.2-1] '$SYS/#' covered by '$SYS/#'", "$SYS/#", "$SYS/#", true, true},
    {"[MQTT-4.7.2-1] '#' not covered by '$SYS/#'", "$SYS/#", "#", false, false},
    {"[MQTT-4.7.2-1] '+/#' vs '#' ignore '$'", "#", "+/#", true, true},
    {"[MQTT-4.7.2-1] '$' needs no wildcard level 1", "$/+", "$/a", true, true},
    {"'a/$x' is an ordinary level", "a/+", "a/$x", true, true},
    {"'+' vs '/#': only the non-topic \"\" in common", "/#", "+", false, false},
    {"'/#' covered by '/+/#' (no parent topic \"\")", "/+/#", "/#", true, true},
    {"'/#' covered by '+/#'", "+/#", "/#", true, true},
    {"'/#' not covered by '/+'", "/+", "/#", false, true},
    {"'x/#' not covered by 'x/+/#' (parent 'x')", "x/+/#", "x/#", false, true},
    {"'+/#' not covered by '+/+/#' (parent)", "+/+/#", "+/#", false, true},
    {"'//#' not covered by '//+/#' (parent '/')", "//+/#", "//#", false, true},
};

static void test_cover_overlap_table(void **state)
{
    (void)state;
    struct guard ga = guard_new(), gb = guard_new();
    for (size_t i = 0; i < sizeof cover_cases / sizeof cover_cases[0]; i++) {
        const struct cover_case *c = &cover_cases[i];
        size_t an = strlen(c->cover), bn = strlen(c->sub);
        const char *a = guard_put(&ga, c->cover), *b = guard_put(&gb, c->sub);
        bool cov = acl_filter_covers(a, an, b, bn);
        bool ov1 = acl_filter_overlaps(a, an, b, bn), ov2 = acl_filter_overlaps(b, bn, a, an);
        if (cov != c->covers || ov1 != c->overlaps || ov2 != c->overlaps)
            fail_msg("%s: covers %d (want %d), overlaps %d/%d (want %d)", c->id, cov, c->covers,
                     ov1, ov2, c->overlaps);
        /* A filter covered by an allow entry is granted through the matcher. */
        const char *spec[] = {NULL, NULL};
        char buf[64];
        snprintf(buf, sizeof buf, "+s %s", c->cover);
        spec[0] = buf;
        acl_matcher_t *m = compile_spec(spec);
        acl_sub_result_t r = acl_check_subscribe(m, b, bn);
        if (r != (c->covers ? ACL_SUB_GRANTED : ACL_SUB_DENIED))
            fail_msg("%s: subscribe result %d", c->id, r);
        acl_destroy(&m);
    }
    guard_free(&ga);
    guard_free(&gb);
}

/* ---- subscribe decisions and delivery ----------------------------------- */

struct sub_case {
    const char *id;
    const char *const *entries;
    const char *filter;
    acl_sub_result_t want;
};

#define DENIED ACL_SUB_DENIED
#define GRANTED ACL_SUB_GRANTED
#define FILTERED ACL_SUB_GRANTED_FILTERED

static const struct sub_case sub_cases[] = {
    {"no entries: denied", ENTRIES(NULL), "a", DENIED},
    {"covered, no deny: granted", ENTRIES("+s a/#"), "a/+", GRANTED},
    {"not covered: denied", ENTRIES("+s a/+"), "a/#", DENIED},
    {"publish-only allow does not grant", ENTRIES("+p a/#"), "a/b", DENIED},
    {"'both' allow grants", ENTRIES("+b a/#"), "a/b", GRANTED},
    {"covered by the second allow", ENTRIES("+s x/#", "+s a/+"), "a/b", GRANTED},
    {"two allows together do not cover", ENTRIES("+s a/x", "+s a/y"), "a/+", DENIED},
    {"deny overlaps: filtered", ENTRIES("+s s/#", "-s s/secret"), "s/#", FILTERED},
    {"deny overlaps '+': filtered", ENTRIES("+s s/#", "-s s/secret"), "s/+", FILTERED},
    {"deny covers: denied", ENTRIES("+s s/#", "-s s/secret"), "s/secret", DENIED},
    {"deny disjoint: granted", ENTRIES("+s s/#", "-s s/secret"), "s/public", GRANTED},
    {"deny covers wider: denied", ENTRIES("+s a/#", "-s a/#"), "a/b", DENIED},
    {"deny '+' covers one level", ENTRIES("+s a/#", "-s a/+"), "a/b", DENIED},
    {"deny '+' only overlaps '#'", ENTRIES("+s a/#", "-s a/+"), "a/#", FILTERED},
    {"deny 'both' counts", ENTRIES("+s a/#", "-b a/x"), "a/#", FILTERED},
    {"deny publish-only ignored", ENTRIES("+s a/#", "-p a/x"), "a/#", GRANTED},
    {"deny first in input still applies", ENTRIES("-s a/x", "+s a/#"), "a/x", DENIED},
    {"[MQTT-4.7.2-1] '#' does not grant '$SYS/#'", ENTRIES("+s #"), "$SYS/#", DENIED},
    {"[MQTT-4.7.2-1] '$SYS/#' grants '$SYS/x'", ENTRIES("+s $SYS/#"), "$SYS/x", GRANTED},
    {"[MQTT-4.7.2-1] deny '#' misses '$SYS/#'", ENTRIES("+s $SYS/#", "-s #"), "$SYS/#", GRANTED},
    {"[MQTT-4.7.2-1] deny '+/x' misses '$SYS/x'", ENTRIES("+s $SYS/+", "-s +/x"), "$SYS/+",
     GRANTED},
    {"%u allow", ENTRIES("+s dev/%u/#"), "dev/alice/+", GRANTED},
    {"%u allow, other user", ENTRIES("+s dev/%u/#"), "dev/bob/+", DENIED},
    {"%c deny overlaps", ENTRIES("+s dev/#", "-s dev/%c/#"), "dev/+/x", FILTERED},
    {"invalid filter: denied", ENTRIES("+s #"), "a/#/b", DENIED},
    {"empty filter: denied", ENTRIES("+s #"), "", DENIED},
    {"[MQTT-4.8.2] shared: decided on the filter", ENTRIES("+s a/#"), "$share/g/a/+", GRANTED},
    {"[MQTT-4.8.2] shared: filter not covered", ENTRIES("+s a/#"), "$share/g/b/+", DENIED},
    {"[MQTT-4.8.2] shared: an allow on the prefix grants nothing", ENTRIES("+s $share/#"),
     "$share/g/a", DENIED},
    {"[MQTT-4.8.2] shared: deny on the filter wins", ENTRIES("+s #", "-s a/secret"),
     "$share/g/a/secret", DENIED},
    {"[MQTT-4.8.2] shared: deny overlap filters", ENTRIES("+s a/#", "-s a/secret"),
     "$share/g/a/#", FILTERED},
    {"[MQTT-4.8.2-2] shared: invalid ShareName denied", ENTRIES("+s #"), "$share/+/a", DENIED},
    {"[MQTT-4.8.2-1] shared: no filter denied", ENTRIES("+s #"), "$share/g", DENIED},
};

static void test_subscribe_table(void **state)
{
    (void)state;
    struct guard g = guard_new();
    for (size_t i = 0; i < sizeof sub_cases / sizeof sub_cases[0]; i++) {
        const struct sub_case *c = &sub_cases[i];
        acl_matcher_t *m = compile_spec(c->entries);
        const char *f = guard_put(&g, c->filter);
        acl_sub_result_t got = acl_check_subscribe(m, f, strlen(c->filter));
        if (got != c->want)
            fail_msg("%s: subscribe \"%s\" -> %d, want %d", c->id, c->filter, got, c->want);
        acl_destroy(&m);
    }
    guard_free(&g);
}

struct deliver_case {
    const char *id;
    const char *const *entries;
    const char *topic;
    bool want;
};

static const struct deliver_case deliver_cases[] = {
    {"denied topic dropped", ENTRIES("+s s/#", "-s s/secret"), "s/secret", false},
    {"other topic delivered", ENTRIES("+s s/#", "-s s/secret"), "s/public", true},
    {"parent delivered", ENTRIES("+s s/#", "-s s/secret"), "s", true},
    {"deny 'both' drops", ENTRIES("+s s/#", "-b s/+/x"), "s/a/x", false},
    {"deny publish-only does not drop", ENTRIES("+s s/#", "-p s/x", "-s s/y"), "s/x", true},
    {"no subscribe deny at all", ENTRIES("+s #", "-p s/x"), "s/x", true},
    {"no entries", ENTRIES(NULL), "s/x", true},
    {"deny '#' does not drop '$SYS/x'", ENTRIES("+s $SYS/#", "-s #"), "$SYS/x", true},
    {"deny %u drops", ENTRIES("+s d/#", "-s d/%u"), "d/alice", false},
};

static void test_deliver_table(void **state)
{
    (void)state;
    struct guard g = guard_new();
    for (size_t i = 0; i < sizeof deliver_cases / sizeof deliver_cases[0]; i++) {
        const struct deliver_case *c = &deliver_cases[i];
        acl_matcher_t *m = compile_spec(c->entries);
        const char *t = guard_put(&g, c->topic);
        bool got = acl_check_deliver(m, t, strlen(c->topic));
        if (got != c->want)
            fail_msg("%s: deliver \"%s\" -> %d, want %d", c->id, c->topic, got, c->want);
        acl_destroy(&m);
    }
    guard_free(&g);
}

/* ---- compile: substitution and errors ----------------------------------- */

struct subst_case {
    const char *id;
    const char *topic;
    const char *user; /* NULL: no username */
    const char *cid;
    int want_rc;
    const char *want_topic; /* when want_rc == 0 */
};

static const struct subst_case subst_cases[] = {
    {"%u as a middle level", "dev/%u/#", "alice", "c1", 0, "dev/alice/#"},
    {"%c as the first level", "%c/in", "alice", "c1", 0, "c1/in"},
    {"%u and %c, repeated", "%u/%c/%u", "alice", "c1", 0, "alice/c1/alice"},
    {"%u as the whole filter", "%u", "alice", "c1", 0, "alice"},
    {"'a%u' is literal", "a%u/x", "alice", "c1", 0, "a%u/x"},
    {"'%u%c' is literal", "%u%c", "alice", "c1", 0, "%u%c"},
    {"'%uu' is literal", "x/%uu", "alice", "c1", 0, "x/%uu"},
    {"'%U' is literal", "%U/x", "alice", "c1", 0, "%U/x"},
    {"'%' alone is literal", "%/+", "alice", "c1", 0, "%/+"},
    {"literal '%u' needs no username", "a%u", NULL, "c1", 0, "a%u"},
    {"no %u: missing username is fine", "a/b", NULL, "c1", 0, "a/b"},
    {"no %u: bad username is fine", "a/%c", "a+b", "c1", 0, "a/c1"},
    {"value with '$' in a later level", "x/%c", "alice", "$SYS", 0, "x/$SYS"},
    {"value with spaces and UTF-8", "x/%u", "al ic\xc3\xa9", "c1", 0, "x/al ic\xc3\xa9"},
    {"%u with no username: refused", "dev/%u", NULL, "c1", ACL_ESUBST, NULL},
    {"%u empty: refused", "dev/%u", "", "c1", ACL_ESUBST, NULL},
    {"%c empty: refused", "dev/%c", "alice", "", ACL_ESUBST, NULL},
    {"%c absent: refused", "dev/%c", "alice", NULL, ACL_ESUBST, NULL},
    {"%u with '+': refused", "dev/%u", "a+b", "c1", ACL_ESUBST, NULL},
    {"%u '+' alone: refused", "dev/%u", "+", "c1", ACL_ESUBST, NULL},
    {"%u with '#': refused", "dev/%u", "a#", "c1", ACL_ESUBST, NULL},
    {"%c with '/': refused", "dev/%c", "alice", "x/y", ACL_ESUBST, NULL},
    {"%c '/' alone: refused", "%c", "alice", "/", ACL_ESUBST, NULL},
    {"%c starting with '$' as level 1: refused", "%c/#", "alice", "$SYS", ACL_ESUBST, NULL},
    {"invalid filter: '#' not last", "%u/#/x", "alice", "c1", ROOST_EINVAL, NULL},
    {"invalid filter: empty", "", "alice", "c1", ROOST_EINVAL, NULL},
    {"invalid filter wins over refusal", "%u/a+", NULL, "c1", ROOST_EINVAL, NULL},
};

static void test_substitution_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof subst_cases / sizeof subst_cases[0]; i++) {
        const struct subst_case *c = &subst_cases[i];
        acl_entry_t e = {ACL_ALLOW, ACL_BOTH, str(c->topic)};
        acl_matcher_t *m = (acl_matcher_t *)&e; /* must be reset to NULL on failure */
        int rc = acl_compile(&e, 1, str(c->user), str(c->cid), &m);
        if (rc != c->want_rc)
            fail_msg("%s: rc %d, want %d", c->id, rc, c->want_rc);
        if (rc != 0) {
            if (m != NULL)
                fail_msg("%s: *out not NULL on failure", c->id);
            continue;
        }
        acl_entry_t got;
        assert_int_equal(acl_count(m), 1);
        assert_int_equal(acl_get(m, 0, &got), 0);
        if (got.topic.len != strlen(c->want_topic) ||
            memcmp(got.topic.ptr, c->want_topic, got.topic.len) != 0)
            fail_msg("%s: compiled \"%.*s\", want \"%s\"", c->id, (int)got.topic.len,
                     got.topic.ptr, c->want_topic);
        acl_destroy(&m);
    }
}

/* A value that makes the filter exceed the 65535-byte topic limit. */
static void test_substitution_length_limit(void **state)
{
    (void)state;
    size_t n = 65535;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, 'u', n);
    acl_str_t user = {big, n};
    acl_entry_t whole = {ACL_ALLOW, ACL_PUBLISH, str("%u")};
    acl_entry_t more = {ACL_ALLOW, ACL_PUBLISH, str("%u/x")};
    acl_matcher_t *m = NULL;
    assert_int_equal(acl_compile(&whole, 1, user, str("c1"), &m), 0);
    assert_true(acl_check_publish(m, big, n));
    acl_destroy(&m);
    assert_int_equal(acl_compile(&more, 1, user, str("c1"), &m), ACL_ESUBST);
    assert_null(m);
    free(big);
}

struct bad_entry_case {
    const char *id;
    acl_entry_t e;
};

static const struct bad_entry_case bad_entry_cases[] = {
    {"unknown permission", {(acl_permission_t)7, ACL_PUBLISH, {"a", 1}}},
    {"action 0", {ACL_ALLOW, (acl_action_t)0, {"a", 1}}},
    {"action 4", {ACL_DENY, (acl_action_t)4, {"a", 1}}},
    {"topic NULL with a length", {ACL_ALLOW, ACL_PUBLISH, {NULL, 3}}},
    {"topic NULL, empty", {ACL_ALLOW, ACL_PUBLISH, {NULL, 0}}},
    {"'+' glued", {ACL_ALLOW, ACL_PUBLISH, {"a+/b", 4}}},
};

static void test_compile_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_entry_cases / sizeof bad_entry_cases[0]; i++) {
        const struct bad_entry_case *c = &bad_entry_cases[i];
        /* a good entry first: failure must free nothing half-built */
        acl_entry_t e[2] = {{ACL_ALLOW, ACL_BOTH, str("ok/#")}, c->e};
        acl_matcher_t *m = NULL;
        int rc = acl_compile(e, 2, str("alice"), str("c1"), &m);
        if (rc != ROOST_EINVAL || m != NULL)
            fail_msg("%s: rc %d, want ROOST_EINVAL and NULL", c->id, rc);
    }
    acl_matcher_t *m = NULL;
    assert_int_equal(acl_compile(NULL, 1, str("a"), str("c"), &m), ROOST_EINVAL);
    assert_null(m);
    /* zero entries is fine and denies everything */
    assert_int_equal(acl_compile(NULL, 0, str(NULL), str(NULL), &m), 0);
    assert_int_equal(acl_count(m), 0);
    assert_false(acl_check_publish(m, "a", 1));
    assert_int_equal(acl_check_subscribe(m, "#", 1), ACL_SUB_DENIED);
    assert_true(acl_check_deliver(m, "a", 1));
    acl_entry_t out;
    assert_int_equal(acl_get(m, 0, &out), ROOST_EINVAL);
    acl_destroy(&m);
    acl_destroy(&m); /* NULL pointee: no-op */
    acl_destroy(NULL);
}

/* Compiled order: denies first, then allows, each in input order. */
static void test_compiled_order(void **state)
{
    (void)state;
    acl_matcher_t *m = compile_spec(ENTRIES("+p a", "-s b", "+b c/%u", "-b d"));
    static const struct {
        acl_permission_t p;
        acl_action_t a;
        const char *t;
    } want[] = {
        {ACL_DENY, ACL_SUBSCRIBE, "b"},
        {ACL_DENY, ACL_BOTH, "d"},
        {ACL_ALLOW, ACL_PUBLISH, "a"},
        {ACL_ALLOW, ACL_BOTH, "c/alice"},
    };
    assert_int_equal(acl_count(m), 4);
    for (size_t i = 0; i < 4; i++) {
        acl_entry_t e;
        assert_int_equal(acl_get(m, i, &e), 0);
        assert_int_equal(e.permission, want[i].p);
        assert_int_equal(e.action, want[i].a);
        assert_int_equal(e.topic.len, strlen(want[i].t));
        assert_memory_equal(e.topic.ptr, want[i].t, e.topic.len);
    }
    acl_destroy(&m);
}

struct entry_topic_case {
    const char *id;
    const char *filter;
    int want;
};

static const struct entry_topic_case entry_topic_cases[] = {
    {"%u level", "dev/%u/#", 0},
    {"%c first level", "%c/+", 0},
    {"%u glued is literal", "a%u", 0},
    {"'$SYS/#'", "$SYS/#", 0},
    {"empty levels", "a//b", 0},
    {"'#' not last", "%u/#/x", ROOST_EINVAL},
    {"'+' glued to %u", "%u+", ROOST_EINVAL},
    {"empty", "", ROOST_EINVAL},
};

static void test_check_entry_topic_table(void **state)
{
    (void)state;
    struct guard g = guard_new();
    for (size_t i = 0; i < sizeof entry_topic_cases / sizeof entry_topic_cases[0]; i++) {
        const struct entry_topic_case *c = &entry_topic_cases[i];
        int rc = acl_check_entry_topic(guard_put(&g, c->filter), strlen(c->filter));
        if (rc != c->want)
            fail_msg("%s: rc %d, want %d", c->id, rc, c->want);
    }
    assert_int_equal(acl_check_entry_topic(NULL, 0), ROOST_EINVAL);
    guard_free(&g);
}

/* ---- randomized differential check of covers/overlaps -------------------- */

/* Filters of 1..3 levels over {a, $s, "", +, #}; topics of 1..4 levels over
 * {a, $s, "", c} ("c" appears in no filter, so it stands for "any other
 * value"). Any counterexample for two such filters can be shrunk to one of
 * these topics, so brute force over them decides covers/overlaps exactly:
 * we check equivalence, which implies the two required implications. */
#define DIFF_TOPIC_LEVELS 4
#define DIFF_FILTER_LEVELS 3
#define DIFF_ROUNDS 4000

static const char *const topic_alpha[] = {"a", "$s", "", "c"};
static const char *const filter_alpha[] = {"a", "$s", "", "+", "#"};

#define DIFF_TOPICS_MAX (4 + 16 + 64 + 256)

struct topic_set {
    char t[DIFF_TOPICS_MAX][32];
    size_t n;
};

static void gen_topics(struct topic_set *ts)
{
    ts->n = 0;
    for (size_t len = 1; len <= DIFF_TOPIC_LEVELS; len++) {
        size_t combos = 1;
        for (size_t i = 0; i < len; i++)
            combos *= 4;
        for (size_t k = 0; k < combos; k++) {
            char buf[32] = "";
            size_t x = k;
            for (size_t i = 0; i < len; i++, x /= 4) {
                if (i)
                    strcat(buf, "/");
                strcat(buf, topic_alpha[x % 4]);
            }
            if (topic_check_name(buf, strlen(buf)) == 0)
                strcpy(ts->t[ts->n++], buf);
        }
    }
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void gen_filter(uint64_t *rng, char *buf)
{
    for (;;) {
        buf[0] = '\0';
        size_t len = 1 + rng_next(rng) % DIFF_FILTER_LEVELS;
        for (size_t i = 0; i < len; i++) {
            if (i)
                strcat(buf, "/");
            strcat(buf, filter_alpha[rng_next(rng) % 5]);
        }
        if (topic_check_filter(buf, strlen(buf)) == 0)
            return;
    }
}

static void test_random_differential(void **state)
{
    (void)state;
    static struct topic_set ts;
    gen_topics(&ts);
    uint64_t rng = 0x9e3779b97f4a7c15u;
    const char *seed = getenv("ROOST_TEST_SEED");
    if (seed)
        rng = strtoull(seed, NULL, 0) | 1;
    for (int round = 0; round < DIFF_ROUNDS; round++) {
        char a[32], b[32];
        gen_filter(&rng, a);
        gen_filter(&rng, b);
        size_t an = strlen(a), bn = strlen(b);
        bool covered = true, overlap = false;
        for (size_t i = 0; i < ts.n; i++) {
            size_t tn = strlen(ts.t[i]);
            bool ma = topic_match(a, an, ts.t[i], tn), mb = topic_match(b, bn, ts.t[i], tn);
            if (mb && !ma)
                covered = false;
            if (ma && mb)
                overlap = true;
        }
        bool cov = acl_filter_covers(a, an, b, bn);
        bool ov = acl_filter_overlaps(a, an, b, bn);
        if (cov != covered)
            fail_msg("covers(\"%s\", \"%s\") = %d, brute force %d", a, b, cov, covered);
        if (ov != overlap)
            fail_msg("overlaps(\"%s\", \"%s\") = %d, brute force %d", a, b, ov, overlap);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publish_table),
        cmocka_unit_test(test_cover_overlap_table),
        cmocka_unit_test(test_subscribe_table),
        cmocka_unit_test(test_deliver_table),
        cmocka_unit_test(test_substitution_table),
        cmocka_unit_test(test_substitution_length_limit),
        cmocka_unit_test(test_compile_errors),
        cmocka_unit_test(test_compiled_order),
        cmocka_unit_test(test_check_entry_topic_table),
        cmocka_unit_test(test_random_differential),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

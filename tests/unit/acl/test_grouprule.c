/* Unit tests for lib/acl/grouprule.c: '*' patterns (including a pathological
 * input that would be exponential for a backtracking matcher), each
 * match_by, fingerprint case rules, union and deduplication of groups, and
 * value validation. Patterns and client ids sit against a guard page. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acl/grouprule.h"
#include "base/err.h"
#include "guard.h"

static grouprule_str_t gs(const char *s)
{
    return (grouprule_str_t){s, s ? strlen(s) : 0};
}

/* ---- patterns ------------------------------------------------------------ */

struct pattern_case {
    const char *id;
    const char *pat;
    const char *s;
    bool want;
};

static const struct pattern_case pattern_cases[] = {
    {"exact", "dev-1", "dev-1", true},
    {"exact, different", "dev-1", "dev-2", false},
    {"exact, prefix only", "dev", "dev-1", false},
    {"exact, longer pattern", "dev-12", "dev-1", false},
    {"exact is case-sensitive", "Dev-1", "dev-1", false},
    {"'dev-*' matches 'dev-42'", "dev-*", "dev-42", true},
    {"'dev-*' matches 'dev-' (empty run)", "dev-*", "dev-", true},
    {"'dev-*' misses 'dev'", "dev-*", "dev", false},
    {"'dev-*' misses 'xdev-1'", "dev-*", "xdev-1", false},
    {"'*-x' matches 'a-x'", "*-x", "a-x", true},
    {"'*-x' matches '-x'", "*-x", "-x", true},
    {"'*-x' misses 'a-xy'", "*-x", "a-xy", false},
    {"'*' matches anything", "*", "anything at all", true},
    {"'*' matches the empty id", "*", "", true},
    {"'**' matches the empty id", "**", "", true},
    {"'a*b*c' matches 'abc'", "a*b*c", "abc", true},
    {"'a*b*c' matches 'aXbYc'", "a*b*c", "aXXbYYc", true},
    {"'a*b*c' matches 'abbbc'", "a*b*c", "abbbc", true},
    {"'a*b*c' misses 'acb'", "a*b*c", "acb", false},
    {"'a*b*c' misses 'abcd'", "a*b*c", "abcd", false},
    {"'a*b*c' misses 'ab'", "a*b*c", "ab", false},
    {"prefix and suffix must not overlap", "ab*ba", "aba", false},
    {"prefix and suffix touching", "ab*ba", "abba", true},
    {"'*mid*' finds the middle", "*mid*", "xxmidyy", true},
    {"'*mid*' misses", "*mid*", "xxmiyy", false},
    {"middle piece after the prefix", "a*a*a", "aa", false},
    {"middle pieces in order", "*x*y*", "yx", false},
    {"middle pieces in order, found", "*x*y*", "axbyc", true},
    {"middle piece in the suffix is not reused", "*ab*b", "ab", false},
    {"'?' is literal", "dev-?", "dev-1", false},
    {"'?' is literal, matches '?'", "dev-?", "dev-?", true},
    {"'[' is literal", "[ab]*", "[ab]x", true},
    {"'\\' is literal", "a\\*", "a\\zz", true},
    {"empty pattern matches the empty id only", "", "", true},
    {"empty pattern misses anything else", "", "x", false},
    {"empty id misses 'dev-*'", "dev-*", "", false},
};

static void test_pattern_table(void **state)
{
    (void)state;
    struct guard gp = guard_new(), gt = guard_new();
    for (size_t i = 0; i < sizeof pattern_cases / sizeof pattern_cases[0]; i++) {
        const struct pattern_case *c = &pattern_cases[i];
        const char *p = guard_put(&gp, c->pat), *s = guard_put(&gt, c->s);
        bool got = grouprule_pattern_match(p, strlen(c->pat), s, strlen(c->s));
        if (got != c->want)
            fail_msg("%s: \"%s\" vs \"%s\" -> %d, want %d", c->id, c->pat, c->s, got, c->want);
    }
    guard_free(&gp);
    guard_free(&gt);
}

/* "a*a*a*...*b" against "aaaa...a" takes exponential time in a naive
 * backtracking matcher; ours must finish at once. With a trailing '*' the
 * "b" becomes a middle piece, so the suffix check cannot short-cut it. */
static void test_pattern_pathological(void **state)
{
    (void)state;
    size_t stars = 2000, n = 200000;
    size_t plen = 2 * stars + 2;
    char *pat = malloc(plen);
    char *s = malloc(n + 1);
    assert_non_null(pat);
    assert_non_null(s);
    for (size_t i = 0; i < stars; i++) {
        pat[2 * i] = 'a';
        pat[2 * i + 1] = '*';
    }
    pat[2 * stars] = 'b';
    pat[2 * stars + 1] = '*';
    memset(s, 'a', n);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int rep = 0; rep < 20; rep++) {
        assert_false(grouprule_pattern_match(pat, plen - 1, s, n));
        assert_false(grouprule_pattern_match(pat, plen, s, n));
    }
    s[n] = 'b';
    assert_true(grouprule_pattern_match(pat, plen - 1, s, n + 1));
    assert_true(grouprule_pattern_match(pat, plen, s, n + 1));
    assert_false(grouprule_pattern_match(pat, plen, s, stars - 1)); /* too short for the a's */
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    /* linear: far under this bound even under ASan on a slow machine */
    assert_true(secs < 2.0);
    free(pat);
    free(s);
}

/* ---- rules --------------------------------------------------------------- */

#define FP_LOWER "SHA256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define FP_UPPER "SHA256:0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"
#define FP_OTHER "SHA256:1123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

struct rule_case {
    const char *id;
    grouprule_match_by_t by;
    const char *value;
    const char *client_id;
    const char *mqtt_client_id;
    const char *fingerprint; /* NULL: none presented */
    bool want;
};

static const struct rule_case rule_cases[] = {
    {"client: exact id", GROUPRULE_CLIENT, "cl-7", "cl-7", "dev", NULL, true},
    {"client: other id", GROUPRULE_CLIENT, "cl-7", "cl-8", "cl-7", NULL, false},
    {"client: no '*' magic", GROUPRULE_CLIENT, "cl-*", "cl-7", "dev", NULL, false},
    {"client: empty value matches nothing", GROUPRULE_CLIENT, "", "", "", NULL, false},
    {"client: unknown stored id", GROUPRULE_CLIENT, "cl-7", NULL, "cl-7", NULL, false},
    {"mqtt id: pattern", GROUPRULE_MQTT_CLIENT_ID, "dev-*", "cl-7", "dev-3", NULL, true},
    {"mqtt id: not the stored id", GROUPRULE_MQTT_CLIENT_ID, "cl-*", "cl-7", "dev-3", NULL,
     false},
    {"mqtt id: empty id vs '*'", GROUPRULE_MQTT_CLIENT_ID, "*", "cl-7", "", NULL, true},
    {"mqtt id: empty id vs 'dev-*'", GROUPRULE_MQTT_CLIENT_ID, "dev-*", "cl-7", "", NULL, false},
    {"fp: same case", GROUPRULE_CERT_FINGERPRINT, FP_LOWER, "c", "d", FP_LOWER, true},
    {"fp: hex case differs", GROUPRULE_CERT_FINGERPRINT, FP_UPPER, "c", "d", FP_LOWER, true},
    {"fp: hex case differs, other way", GROUPRULE_CERT_FINGERPRINT, FP_LOWER, "c", "d", FP_UPPER,
     true},
    {"fp: other digest", GROUPRULE_CERT_FINGERPRINT, FP_LOWER, "c", "d", FP_OTHER, false},
    {"fp: none presented", GROUPRULE_CERT_FINGERPRINT, FP_LOWER, "c", "d", NULL, false},
    {"fp: prefix is case-sensitive", GROUPRULE_CERT_FINGERPRINT, FP_LOWER, "c", "d",
     "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", false},
    {"fp: truncated", GROUPRULE_CERT_FINGERPRINT, FP_LOWER, "c", "d", "SHA256:0123", false},
    {"fp: no prefix on either side", GROUPRULE_CERT_FINGERPRINT, "abc", "c", "d", "ABC", false},
    {"fp: not matched by the client id", GROUPRULE_CERT_FINGERPRINT, FP_LOWER, FP_LOWER,
     FP_LOWER, NULL, false},
    {"unknown match_by", (grouprule_match_by_t)9, "x", "x", "x", "x", false},
};

static void test_rule_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rule_cases / sizeof rule_cases[0]; i++) {
        const struct rule_case *c = &rule_cases[i];
        grouprule_t r = {c->by, gs(c->value), NULL, 0};
        grouprule_facts_t f = {gs(c->client_id), gs(c->mqtt_client_id), gs(c->fingerprint)};
        bool got = grouprule_matches(&r, &f);
        if (got != c->want)
            fail_msg("%s: -> %d, want %d", c->id, got, c->want);
    }
}

/* ---- union and deduplication -------------------------------------------- */

static void expect_groups(const grouprule_str_t *got, size_t n, const char *const *want)
{
    size_t k = 0;
    for (; want[k] != NULL; k++) {
        assert_true(k < n);
        assert_int_equal(got[k].len, strlen(want[k]));
        assert_memory_equal(got[k].ptr, want[k], got[k].len);
    }
    assert_int_equal(n, k);
}

static void test_eval_union_dedupe(void **state)
{
    (void)state;
    static const grouprule_str_t g1[] = {{"sensors", 7}, {"fleet", 5}};
    static const grouprule_str_t g2[] = {{"fleet", 5}, {"admin", 5}, {"sensors", 7}};
    static const grouprule_str_t g3[] = {{"never", 5}};
    static const grouprule_str_t g4[] = {{"admin", 5}, {"eu", 2}, {"eu", 2}};
    const grouprule_t rules[] = {
        {GROUPRULE_MQTT_CLIENT_ID, {"dev-*", 5}, g1, 2},
        {GROUPRULE_CLIENT, {"cl-1", 4}, g2, 3},
        {GROUPRULE_CLIENT, {"cl-2", 4}, g3, 1},
        {GROUPRULE_MQTT_CLIENT_ID, {"*-eu", 4}, g4, 3},
        {GROUPRULE_MQTT_CLIENT_ID, {"x", 1}, NULL, 0},
    };
    grouprule_facts_t f = {gs("cl-1"), gs("dev-eu"), gs(NULL)};
    grouprule_str_t out[16];
    size_t n = 99;
    assert_int_equal(grouprule_eval(rules, 5, &f, out, 16, &n), 0);
    expect_groups(out, n, (const char *const[]){"sensors", "fleet", "admin", "eu", NULL});

    /* matching no rule: connected, no groups */
    grouprule_facts_t none = {gs("cl-9"), gs("other"), gs(NULL)};
    assert_int_equal(grouprule_eval(rules, 5, &none, out, 16, &n), 0);
    assert_int_equal(n, 0);

    /* a rule with no groups contributes nothing */
    grouprule_facts_t x = {gs("cl-9"), gs("x"), gs(NULL)};
    assert_int_equal(grouprule_eval(rules, 5, &x, out, 16, &n), 0);
    assert_int_equal(n, 0);

    /* no rules at all */
    assert_int_equal(grouprule_eval(NULL, 0, &f, out, 16, &n), 0);
    assert_int_equal(n, 0);

    /* cap too small: the first cap distinct groups and ROOST_ELIMIT */
    assert_int_equal(grouprule_eval(rules, 5, &f, out, 3, &n), ROOST_ELIMIT);
    expect_groups(out, n, (const char *const[]){"sensors", "fleet", "admin", NULL});
    /* exactly enough: duplicates beyond the cap do not trip it */
    assert_int_equal(grouprule_eval(rules, 5, &f, out, 4, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(grouprule_eval(rules, 5, &f, NULL, 0, &n), ROOST_ELIMIT);
    assert_int_equal(n, 0);
}

/* ---- validation ---------------------------------------------------------- */

struct value_case {
    const char *id;
    grouprule_match_by_t by;
    const char *value;
    int want;
};

static const struct value_case value_cases[] = {
    {"client id", GROUPRULE_CLIENT, "cl-1", 0},
    {"pattern", GROUPRULE_MQTT_CLIENT_ID, "dev-*", 0},
    {"pattern '*'", GROUPRULE_MQTT_CLIENT_ID, "*", 0},
    {"empty", GROUPRULE_MQTT_CLIENT_ID, "", ROOST_EINVAL},
    {"control byte", GROUPRULE_CLIENT, "a\tb", ROOST_EINVAL},
    {"DEL byte", GROUPRULE_CLIENT, "a\x7f", ROOST_EINVAL},
    {"fingerprint lower", GROUPRULE_CERT_FINGERPRINT, FP_LOWER, 0},
    {"fingerprint upper", GROUPRULE_CERT_FINGERPRINT, FP_UPPER, 0},
    {"fingerprint lowercase prefix", GROUPRULE_CERT_FINGERPRINT,
     "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", ROOST_EINVAL},
    {"fingerprint short", GROUPRULE_CERT_FINGERPRINT, "SHA256:0123", ROOST_EINVAL},
    {"fingerprint non-hex", GROUPRULE_CERT_FINGERPRINT,
     "SHA256:g123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", ROOST_EINVAL},
    {"unknown match_by", (grouprule_match_by_t)9, "x", ROOST_EINVAL},
};

static void test_check_value_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof value_cases / sizeof value_cases[0]; i++) {
        const struct value_case *c = &value_cases[i];
        int rc = grouprule_check_value(c->by, c->value, strlen(c->value));
        if (rc != c->want)
            fail_msg("%s: rc %d, want %d", c->id, rc, c->want);
    }
    assert_int_equal(grouprule_check_value(GROUPRULE_CLIENT, NULL, 0), ROOST_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pattern_table),
        cmocka_unit_test(test_pattern_pathological),
        cmocka_unit_test(test_rule_table),
        cmocka_unit_test(test_eval_union_dedupe),
        cmocka_unit_test(test_check_value_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

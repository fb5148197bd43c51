/* Unit tests for lib/mqtt/subtrie.c: add/update/remove, counts, shrinking,
 * wide nodes (hash path), deep topics, and a randomized differential test
 * against topic_match. Every test destroys its trie; ASan checks leaks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "mqtt/subtrie.h"
#include "mqtt/topic.h"

/* Collected matches: subscriber pointers and options in call order. */
#define HITS_MAX 8192
struct hits {
    size_t n;
    void *sub[HITS_MAX];
    uint8_t opt[HITS_MAX];
};

static void collect(void *sub, uint8_t options, void *ctx)
{
    struct hits *h = ctx;
    assert_true(h->n < HITS_MAX);
    h->sub[h->n] = sub;
    h->opt[h->n] = options;
    h->n++;
}

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;
    return (x > y) - (x < y);
}

static void match(const subtrie_t *t, const char *topic, struct hits *h)
{
    h->n = 0;
    subtrie_match(t, topic, strlen(topic), collect, h);
    qsort(h->sub, h->n, sizeof h->sub[0], cmp_ptr); /* options no longer aligned */
}

static int add(subtrie_t *t, const char *f, void *sub, uint8_t opt, bool *existed)
{
    assert_int_equal(topic_check_filter(f, strlen(f)), 0);
    return subtrie_add(t, f, strlen(f), sub, opt, existed);
}

static int del(subtrie_t *t, const char *f, void *sub)
{
    return subtrie_remove(t, f, strlen(f), sub);
}

static int S[64]; /* distinct subscriber addresses */

static void test_new_destroy(void **state)
{
    (void)state;
    subtrie_t *t = subtrie_new();
    assert_non_null(t);
    assert_int_equal(subtrie_count(t), 0);
    struct hits h;
    match(t, "a", &h);
    assert_int_equal(h.n, 0);
    subtrie_destroy(&t);
    assert_null(t);
    subtrie_destroy(&t); /* NULL pointee: no-op */
    subtrie_destroy(NULL);
}

static void test_add_update_remove(void **state)
{
    (void)state;
    subtrie_t *t = subtrie_new();
    bool existed = true;
    struct hits h;

    assert_int_equal(add(t, "a/b", &S[0], 1, &existed), 0);
    assert_false(existed);
    assert_int_equal(add(t, "a/b", &S[1], 0, &existed), 0);
    assert_false(existed);
    assert_int_equal(subtrie_count(t), 2);

    /* duplicate add updates the options and keeps the count */
    assert_int_equal(add(t, "a/b", &S[0], 2, &existed), 0);
    assert_true(existed);
    assert_int_equal(add(t, "a/b", &S[0], 2, NULL), 0);
    assert_int_equal(subtrie_count(t), 2);
    h.n = 0;
    subtrie_match(t, "a/b", 3, collect, &h);
    assert_int_equal(h.n, 2);
    for (size_t i = 0; i < h.n; i++)
        assert_int_equal(h.opt[i], h.sub[i] == &S[0] ? 2 : 0);

    /* the same subscriber under two filters is reported once per filter */
    assert_int_equal(add(t, "a/+", &S[0], 1, &existed), 0);
    assert_false(existed);
    match(t, "a/b", &h);
    assert_int_equal(h.n, 3);
    match(t, "a/c", &h);
    assert_int_equal(h.n, 1);
    assert_ptr_equal(h.sub[0], &S[0]);

    /* absent pairs */
    assert_int_equal(del(t, "a/b", &S[2]), ROOST_ENOTFOUND);
    assert_int_equal(del(t, "a/c", &S[0]), ROOST_ENOTFOUND);
    assert_int_equal(del(t, "a", &S[0]), ROOST_ENOTFOUND);
    assert_int_equal(del(t, "a/b/c", &S[0]), ROOST_ENOTFOUND);
    assert_int_equal(del(t, "#", &S[0]), ROOST_ENOTFOUND);
    assert_int_equal(subtrie_count(t), 3);

    assert_int_equal(del(t, "a/b", &S[0]), 0);
    assert_int_equal(del(t, "a/b", &S[0]), ROOST_ENOTFOUND);
    match(t, "a/b", &h);
    assert_int_equal(h.n, 2);
    assert_int_equal(del(t, "a/+", &S[0]), 0);
    assert_int_equal(del(t, "a/b", &S[1]), 0);
    assert_int_equal(subtrie_count(t), 0);
    match(t, "a/b", &h);
    assert_int_equal(h.n, 0);
    subtrie_destroy(&t);
}

struct trie_case {
    const char *id;
    const char *topic;
    size_t nsubs; /* how many of the filters below match */
};

static const char *const case_filters[] = {
    "sport/tennis/player1/#", "sport/#", "sport/+", "#", "+", "+/+", "/+", "a/#", "a/+",
    "$SYS/#", "$SYS/+", "+/x", "a//b", "a/+/b", "/", "//", "a", "a/",
};

static const struct trie_case trie_cases[] = {
    {"[MQTT-4.7.1-2] sport/tennis/player1", "sport/tennis/player1", 2 + 1},
    {"[MQTT-4.7.1-2] sport", "sport", 1 + 1 + 1},
    {"[MQTT-4.7.1-3] sport/", "sport/", 1 + 1 + 1 + 1},
    {"[MQTT-4.7.2-1] $SYS/x", "$SYS/x", 2},
    {"[MQTT-4.7.2-1] $SYS", "$SYS", 1},
    {"[MQTT-4.7.1-2] a", "a", 1 + 1 + 1 + 1},
    {"[MQTT-4.7.1-3] a/", "a/", 1 + 1 + 1 + 1 + 1},
    {"[MQTT-4.7.1-3] '/'", "/", 1 + 1 + 1 + 1},
    {"[MQTT-4.7.1-3] '//'", "//", 1 + 1},
    {"[MQTT-4.7.1-3] a//b", "a//b", 1 + 1 + 1 + 1},
    {"[MQTT-4.7.1-3] x/x", "x/x", 1 + 1 + 1},
};

/* Every table row agrees with a brute-force topic_match over the filters,
 * and with the hand count in the table. */
static void test_match_table(void **state)
{
    (void)state;
    subtrie_t *t = subtrie_new();
    const size_t nf = sizeof case_filters / sizeof case_filters[0];
    for (size_t i = 0; i < nf; i++)
        assert_int_equal(add(t, case_filters[i], &S[i], (uint8_t)i, NULL), 0);
    assert_int_equal(subtrie_count(t), nf);
    for (size_t c = 0; c < sizeof trie_cases / sizeof trie_cases[0]; c++) {
        const struct trie_case *tc = &trie_cases[c];
        struct hits h;
        match(t, tc->topic, &h);
        size_t want = 0;
        for (size_t i = 0; i < nf; i++) {
            bool m = topic_match(case_filters[i], strlen(case_filters[i]), tc->topic,
                                 strlen(tc->topic));
            bool got = bsearch(&(void *){&S[i]}, h.sub, h.n, sizeof h.sub[0], cmp_ptr) != NULL;
            if (m != got)
                fail_msg("%s: filter \"%s\" trie %d topic_match %d", tc->id, case_filters[i],
                         got, m);
            want += m;
        }
        if (h.n != want || h.n != tc->nsubs)
            fail_msg("%s: %zu matches, topic_match says %zu, table %zu", tc->id, h.n, want,
                     tc->nsubs);
    }
    for (size_t i = 0; i < nf; i++)
        assert_int_equal(del(t, case_filters[i], &S[i]), 0);
    assert_int_equal(subtrie_count(t), 0);
    subtrie_destroy(&t);
}

/* Levels around the lengths the match treats apart (compared inline up to
 * 8 bytes, scanned for '/' inline for 16): each topic gets exactly the
 * filters topic_match says, a byte off at the last place included. */
static void test_level_lengths(void **state)
{
    (void)state;
    static const char *const filters[] = {
        "aaaaaaaa/x", "aaaaaaab/x", "aaaaaaaab/x", "0123456789abcdef/x", "0123456789abcdeg/x",
        "0123456789abcdefg/x", "0123456789abcdef0123456789abcdef0123/+", "+/x", "+/+/z",
        "0123456789abcdefg/#", "0123456789abcdef/y/z",
    };
    static const char *const topics[] = {
        "aaaaaaaa/x", "aaaaaaab/x", "aaaaaaac/x", "aaaaaaaab/x", "aaaaaaaac/x",
        "0123456789abcdef/x", "0123456789abcdeg/x", "0123456789abcdefg/x", "0123456789abcdefh/x",
        "0123456789abcdef0123456789abcdef0123/q", "0123456789abcdef0123456789abcdef0124/q",
        "0123456789abcdef/y/z", "0123456789abcdefg/y/z", "0123456789abcdef0123456789/x",
        "0123456789abcdef", "0123456789abcdefg", "0123456789abcdef/",
    };
    const size_t nf = sizeof filters / sizeof filters[0];
    subtrie_t *t = subtrie_new();
    for (size_t i = 0; i < nf; i++)
        assert_int_equal(add(t, filters[i], &S[i], 0, NULL), 0);
    for (size_t c = 0; c < sizeof topics / sizeof topics[0]; c++) {
        struct hits h;
        match(t, topics[c], &h);
        size_t want = 0;
        for (size_t i = 0; i < nf; i++) {
            bool m = topic_match(filters[i], strlen(filters[i]), topics[c], strlen(topics[c]));
            bool got = bsearch(&(void *){&S[i]}, h.sub, h.n, sizeof h.sub[0], cmp_ptr) != NULL;
            if (m != got)
                fail_msg("topic \"%s\" filter \"%s\": trie %d topic_match %d", topics[c], filters[i],
                         got, m);
            want += m;
        }
        assert_int_equal(h.n, want);
    }
    for (size_t i = 0; i < nf; i++)
        assert_int_equal(del(t, filters[i], &S[i]), 0);
    assert_int_equal(subtrie_count(t), 0);
    subtrie_destroy(&t);
}

/* 10k siblings: the children table grows, answers, and shrinks back as
 * they go, with removal in an order unrelated to insertion. */
static void test_wide_node(void **state)
{
    (void)state;
    enum { N = 10000 };
    subtrie_t *t = subtrie_new();
    char f[64];
    for (int i = 0; i < N; i++) {
        snprintf(f, sizeof f, "dev/%d/cmd", i);
        assert_int_equal(add(t, f, &S[i % 64], (uint8_t)(i & 3), NULL), 0);
    }
    snprintf(f, sizeof f, "dev/+/cmd");
    assert_int_equal(add(t, f, &S[0], 0, NULL), 0);
    assert_int_equal(subtrie_count(t), N + 1);
    struct hits h;
    for (int i = 0; i < N; i += 7) {
        snprintf(f, sizeof f, "dev/%d/cmd", i);
        match(t, f, &h);
        assert_int_equal(h.n, 2);
        snprintf(f, sizeof f, "dev/%d/cmdx", i);
        match(t, f, &h);
        assert_int_equal(h.n, 0);
    }
    match(t, "dev/x/cmd", &h);
    assert_int_equal(h.n, 1);
    for (int k = 0; k < N; k++) {
        int i = (int)(((long)k * 7919) % N); /* 7919 is prime: a permutation */
        snprintf(f, sizeof f, "dev/%d/cmd", i);
        assert_int_equal(del(t, f, &S[i % 64]), 0);
        if (k % 1000 == 998) {
            int j = (int)(((long)(k + 1) * 7919) % N); /* still present */
            snprintf(f, sizeof f, "dev/%d/cmd", j);
            match(t, f, &h);
            assert_int_equal(h.n, 2);
        }
    }
    assert_int_equal(subtrie_count(t), 1);
    assert_int_equal(del(t, "dev/+/cmd", &S[0]), 0);
    assert_int_equal(subtrie_count(t), 0);
    subtrie_destroy(&t);
}

/* Many subscribers on one filter: exercises the subscriber index. */
static void test_wide_subscriber_list(void **state)
{
    (void)state;
    enum { N = 5000 };
    static char subs[N];
    subtrie_t *t = subtrie_new();
    bool existed;
    for (int i = 0; i < N; i++) {
        assert_int_equal(add(t, "bcast/#", &subs[i], 1, &existed), 0);
        assert_false(existed);
    }
    for (int i = 0; i < N; i += 3) {
        assert_int_equal(add(t, "bcast/#", &subs[i], 2, &existed), 0);
        assert_true(existed);
    }
    assert_int_equal(subtrie_count(t), N);
    struct hits *h = malloc(sizeof *h);
    h->n = 0;
    subtrie_match(t, "bcast/x", 7, collect, h);
    assert_int_equal(h->n, N);
    for (size_t i = 0; i < h->n; i++)
        assert_int_equal(h->opt[i], ((char *)h->sub[i] - subs) % 3 == 0 ? 2 : 1);
    for (int i = 0; i < N; i += 2)
        assert_int_equal(del(t, "bcast/#", &subs[i]), 0);
    for (int i = 0; i < N; i += 2)
        assert_int_equal(del(t, "bcast/#", &subs[i]), ROOST_ENOTFOUND);
    match(t, "bcast", h);
    assert_int_equal(h->n, N / 2);
    for (int i = 1; i < N; i += 2)
        assert_int_equal(del(t, "bcast/#", &subs[i]), 0);
    assert_int_equal(subtrie_count(t), 0);
    free(h);
    subtrie_destroy(&t);
}

/* 32767 levels: matching and destroying must not recurse per level. */
static void test_deep(void **state)
{
    (void)state;
    enum { LEVELS = 32767 };
    size_t len = 2 * LEVELS - 1;
    char *f = malloc(len + 1), *topic = malloc(len + 1);
    for (size_t i = 0; i < len; i++)
        f[i] = topic[i] = (i % 2) ? '/' : 'x';
    f[len - 1] = '+';
    f[len] = topic[len] = 0;
    subtrie_t *t = subtrie_new();
    assert_int_equal(subtrie_add(t, f, len, &S[0], 0, NULL), 0);
    assert_int_equal(subtrie_add(t, topic, len, &S[1], 0, NULL), 0);
    for (size_t i = 0; i < len; i += 2)
        f[i] = '+';
    assert_int_equal(subtrie_add(t, f, len, &S[2], 0, NULL), 0);
    assert_int_equal(subtrie_add(t, "#", 1, &S[3], 0, NULL), 0);
    struct hits h;
    h.n = 0;
    subtrie_match(t, topic, len, collect, &h);
    assert_int_equal(h.n, 4);
    h.n = 0;
    subtrie_match(t, topic, len - 2, collect, &h); /* one level short */
    assert_int_equal(h.n, 1);
    assert_int_equal(subtrie_remove(t, topic, len, &S[1]), 0);
    assert_int_equal(subtrie_count(t), 3);
    subtrie_destroy(&t); /* with the other deep filters still in */
    free(f);
    free(topic);
}

/* ---- randomized differential test ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

/* Levels from a small alphabet so collisions are frequent. */
static size_t random_topic(char *out, bool filter)
{
    static const char *const alpha[] = {"a", "b", "", "$x", "ab", "c"};
    size_t n = 0, levels = 1 + rnd(5);
    for (size_t i = 0; i < levels; i++) {
        if (i)
            out[n++] = '/';
        uint32_t r = rnd(filter ? 9 : 6);
        const char *lv = r < 6 ? alpha[r] : r < 8 ? "+" : "#";
        if (lv[0] == '#') {
            out[n++] = '#';
            break;
        }
        size_t l = strlen(lv);
        memcpy(out + n, lv, l);
        n += l;
    }
    if (n == 0) /* "" is invalid; use an empty level pair instead */
        out[n++] = '/';
    out[n] = 0;
    return n;
}

enum { DIFF_FILTERS = 3000, DIFF_TOPICS = 2000, DIFF_SUBS = 8 };

struct pair {
    char filter[48];
    int sub;
    bool live;
};

static void check_all(const subtrie_t *t, const struct pair *p, size_t np)
{
    static struct hits h;
    static bool want[DIFF_FILTERS * DIFF_SUBS];
    char topic[48];
    for (int k = 0; k < DIFF_TOPICS; k++) {
        size_t tl = random_topic(topic, false);
        assert_int_equal(topic_check_name(topic, tl), 0);
        h.n = 0;
        subtrie_match(t, topic, tl, collect, &h);
        size_t nwant = 0;
        memset(want, 0, np);
        for (size_t i = 0; i < np; i++)
            if (p[i].live && topic_match(p[i].filter, strlen(p[i].filter), topic, tl)) {
                want[i] = true;
                nwant++;
            }
        if (h.n != nwant)
            fail_msg("topic \"%s\": trie %zu matches, brute force %zu", topic, h.n, nwant);
        /* each reported (sub, options) names a wanted pair: options encode its index */
        for (size_t i = 0; i < h.n; i++) {
            size_t idx = (size_t)((int *)h.sub[i] - S);
            bool found = false;
            for (size_t j = 0; j < np && !found; j++)
                found = want[j] && (size_t)p[j].sub == idx && (uint8_t)j == h.opt[i];
            if (!found)
                fail_msg("topic \"%s\": unexpected sub %zu opt %u", topic, idx, h.opt[i]);
        }
    }
}

static void test_differential(void **state)
{
    (void)state;
    static struct pair p[DIFF_FILTERS];
    subtrie_t *t = subtrie_new();
    size_t live = 0;
    for (size_t i = 0; i < DIFF_FILTERS; i++) {
        size_t fl = random_topic(p[i].filter, true);
        assert_int_equal(topic_check_filter(p[i].filter, fl), 0);
        p[i].sub = (int)rnd(DIFF_SUBS);
        /* a pair already present is an update: keep one live copy */
        p[i].live = true;
        for (size_t j = 0; j < i; j++)
            if (p[j].live && p[j].sub == p[i].sub && strcmp(p[j].filter, p[i].filter) == 0)
                p[j].live = false, live--;
        bool existed;
        assert_int_equal(subtrie_add(t, p[i].filter, fl, &S[p[i].sub], (uint8_t)i, &existed), 0);
        live++;
        assert_int_equal(subtrie_count(t), live);
    }
    check_all(t, p, DIFF_FILTERS);
    /* remove half, check again */
    for (size_t i = 0; i < DIFF_FILTERS; i += 2) {
        size_t j = 0; /* the live copy of this pair, if any */
        while (j < DIFF_FILTERS && !(p[j].live && p[j].sub == p[i].sub &&
                                     strcmp(p[j].filter, p[i].filter) == 0))
            j++;
        int rc = subtrie_remove(t, p[i].filter, strlen(p[i].filter), &S[p[i].sub]);
        assert_int_equal(rc, j < DIFF_FILTERS ? 0 : ROOST_ENOTFOUND);
        if (j < DIFF_FILTERS) {
            p[j].live = false;
            live--;
        }
    }
    assert_int_equal(subtrie_count(t), live);
    check_all(t, p, DIFF_FILTERS);
    for (size_t i = 1; i < DIFF_FILTERS; i += 2)
        if (p[i].live)
            assert_int_equal(subtrie_remove(t, p[i].filter, strlen(p[i].filter), &S[p[i].sub]),
                             0);
    assert_int_equal(subtrie_count(t), 0);
    subtrie_destroy(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_destroy),
        cmocka_unit_test(test_add_update_remove),
        cmocka_unit_test(test_match_table),
        cmocka_unit_test(test_level_lengths),
        cmocka_unit_test(test_wide_node),
        cmocka_unit_test(test_wide_subscriber_list),
        cmocka_unit_test(test_deep),
        cmocka_unit_test(test_differential),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for lib/mqtt/topictree.c: exact put/get/del with replacement
 * and pruning, matching checked against topic_match over random topics and
 * filters (wildcards, empty levels, '$' topics), a node with thousands of
 * children losing half of them, a 10,000-level topic (no recursion), and
 * a walk of every value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mqtt/topic.h"
#include "mqtt/topictree.h"

#define S(x) x, strlen(x)

static void collect(void *value, void *ctx)
{
    int *seen = ctx;
    seen[(intptr_t)value]++;
}

static void put_get_del(void **state)
{
    topictree_t *t = topictree_new();
    assert_non_null(t);
    void *old = (void *)1;
    assert_int_equal(topictree_put(t, S("a/b"), (void *)10, &old), 0);
    assert_null(old);
    assert_int_equal(topictree_put(t, S("a"), (void *)11, NULL), 0);
    assert_int_equal(topictree_put(t, S("a//c"), (void *)12, NULL), 0);
    assert_int_equal(topictree_put(t, S("a/b"), (void *)13, &old), 0); /* replace */
    assert_ptr_equal(old, (void *)10);
    assert_int_equal(topictree_count(t), 3);
    assert_ptr_equal(topictree_get(t, S("a/b")), (void *)13);
    assert_ptr_equal(topictree_get(t, S("a")), (void *)11);
    assert_ptr_equal(topictree_get(t, S("a//c")), (void *)12);
    assert_null(topictree_get(t, S("a/")));  /* an inner node, no value */
    assert_null(topictree_get(t, S("a/b/c")));
    assert_null(topictree_del(t, S("a/")));
    assert_ptr_equal(topictree_del(t, S("a")), (void *)11); /* keeps its children */
    assert_ptr_equal(topictree_get(t, S("a/b")), (void *)13);
    assert_ptr_equal(topictree_del(t, S("a/b")), (void *)13);
    assert_ptr_equal(topictree_del(t, S("a//c")), (void *)12);
    assert_null(topictree_del(t, S("a//c")));
    assert_int_equal(topictree_count(t), 0);
    int seen[4] = {0};
    assert_int_equal(topictree_match(t, S("#"), collect, seen), 0);
    assert_int_equal(seen[0] + seen[1] + seen[2] + seen[3], 0);
    assert_int_equal(topictree_put(t, S("a/b"), (void *)1, NULL), 0); /* pruned, regrows */
    assert_ptr_equal(topictree_get(t, S("a/b")), (void *)1);
    topictree_destroy(&t, NULL);
    assert_null(t);
    topictree_destroy(&t, NULL);
}

/* Random topics and filters over a few levels; the tree must report
 * exactly the stored topics topic_match accepts, each once. */
static void matches_like_topic_match(void **state)
{
    static const char *const lv[] = {"a", "b", "", "$SYS", "c", "dd"};
    static const char *const fl[] = {"a", "b", "", "$SYS", "c", "+", "#"};
    enum { NT = 300, NF = 600 };
    char topics[NT][64];
    int nt = 0;
    srand(7);
    topictree_t *t = topictree_new();
    for (int i = 0; i < NT; i++) {
        char buf[64] = "";
        int levels = 1 + rand() % 4;
        for (int k = 0; k < levels; k++) {
            if (k)
                strcat(buf, "/");
            strcat(buf, lv[rand() % 6]);
        }
        if (!buf[0] || topictree_get(t, S(buf)))
            continue; /* names are non-empty; keep them distinct */
        strcpy(topics[nt], buf);
        assert_int_equal(topictree_put(t, S(buf), (void *)(intptr_t)(nt + 1), NULL), 0);
        nt++;
    }
    for (int i = 0; i < NF; i++) {
        char f[64] = "";
        int levels = 1 + rand() % 4;
        for (int k = 0; k < levels; k++) {
            const char *x = fl[rand() % 7];
            if (!strcmp(x, "#") && k != levels - 1)
                x = "+"; /* '#' only last */
            if (k)
                strcat(f, "/");
            strcat(f, x);
        }
        int seen[NT + 1] = {0};
        assert_int_equal(topictree_match(t, S(f), collect, seen), 0);
        for (int k = 0; k < nt; k++) {
            int want = topic_match(S(f), S(topics[k])) ? 1 : 0;
            if (seen[k + 1] != want)
                fail_msg("filter '%s' topic '%s': got %d, want %d", f, topics[k], seen[k + 1], want);
        }
    }
    topictree_destroy(&t, NULL);
}

static void many_children_then_half_deleted(void **state)
{
    enum { N = 3000 };
    topictree_t *t = topictree_new();
    char buf[32];
    for (int i = 0; i < N; i++) {
        snprintf(buf, sizeof(buf), "dev/%d/state", i);
        assert_int_equal(topictree_put(t, S(buf), (void *)(intptr_t)(i + 1), NULL), 0);
    }
    srand(11);
    bool gone[N] = {false};
    for (int i = 0; i < N / 2; i++) {
        int k = rand() % N;
        snprintf(buf, sizeof(buf), "dev/%d/state", k);
        void *v = topictree_del(t, S(buf));
        assert_true(gone[k] ? v == NULL : v == (void *)(intptr_t)(k + 1));
        gone[k] = true;
    }
    size_t left = 0;
    for (int i = 0; i < N; i++) {
        snprintf(buf, sizeof(buf), "dev/%d/state", i);
        void *v = topictree_get(t, S(buf));
        assert_true(gone[i] ? v == NULL : v == (void *)(intptr_t)(i + 1));
        left += !gone[i];
    }
    assert_int_equal(topictree_count(t), left);
    int *seen = calloc(N + 1, sizeof(int));
    assert_int_equal(topictree_match(t, S("dev/+/state"), collect, seen), 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(seen[i + 1], gone[i] ? 0 : 1);
    free(seen);
    topictree_destroy(&t, NULL);
}

/* topictree_each visits every value once, '$' topics, empty levels and
 * the empty topic included (what no filter's walk reaches). */
static void each_visits_all(void **state)
{
    (void)state;
    topictree_t *t = topictree_new();
    assert_non_null(t);
    static const char *names[] = {"a", "a/b", "$SYS/x", "/", "", "a//c", "$q", "b/c/d"};
    for (intptr_t i = 0; i < 8; i++)
        assert_int_equal(topictree_put(t, S(names[i]), (void *)(i + 1), NULL), 0);
    int seen[9] = {0};
    assert_int_equal(topictree_each(t, collect, seen), 0);
    for (int i = 1; i <= 8; i++)
        assert_int_equal(seen[i], 1);
    assert_int_equal(seen[0], 0);
    topictree_destroy(&t, NULL);
}

static int freed;
static void count_free(void *v) { freed++; }

static void deep_topic_without_recursion(void **state)
{
    enum { LEVELS = 10000 };
    char *deep = malloc(LEVELS * 2);
    for (int i = 0; i < LEVELS; i++) {
        deep[2 * i] = 'x';
        deep[2 * i + 1] = '/';
    }
    size_t len = LEVELS * 2 - 1;
    deep[len] = '\0';
    topictree_t *t = topictree_new();
    assert_int_equal(topictree_put(t, deep, len, (void *)1, NULL), 0);
    assert_int_equal(topictree_put(t, S("x"), (void *)2, NULL), 0);
    assert_ptr_equal(topictree_get(t, deep, len), (void *)1);
    int seen[3] = {0};
    assert_int_equal(topictree_match(t, S("x/#"), collect, seen), 0);
    assert_int_equal(seen[1], 1);
    assert_int_equal(seen[2], 1);
    freed = 0;
    topictree_destroy(&t, count_free);
    assert_int_equal(freed, 2);
    free(deep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(put_get_del),
        cmocka_unit_test(matches_like_topic_match),
        cmocka_unit_test(many_children_then_half_deleted),
        cmocka_unit_test(deep_topic_without_recursion),
        cmocka_unit_test(each_visits_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

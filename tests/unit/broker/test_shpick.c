/* Unit tests for services/broker/shpick.c: the shared-subscription picker
 * (smooth weighted round-robin over brokers, round-robin with skips over a
 * broker's members). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "shpick.h"

/* Over W = sum(weights) picks every slot wins exactly its weight, and the
 * heavier slot never wins more than ceil(w/W * k) + 1 of the first k picks
 * (interleaved, not in runs). */
static void test_weighted_exact_shares(void **state)
{
    (void)state;
    int32_t cur[3] = {0};
    uint16_t w[3] = {2, 1, 0};
    int wins[3] = {0};
    for (int k = 0; k < 3000; k++) {
        int i = shpick_weighted(cur, w, 3, 0);
        assert_true(i >= 0 && i < 2);
        wins[i]++;
        if ((k + 1) % 3 == 0) { /* every full round: exactly 2:1 */
            assert_int_equal(wins[0], 2 * (k + 1) / 3);
            assert_int_equal(wins[1], (k + 1) / 3);
        }
    }
    assert_int_equal(wins[2], 0);
}

static void test_weighted_interleaves(void **state)
{
    (void)state;
    int32_t cur[2] = {0};
    uint16_t w[2] = {1, 1};
    int prev = -1;
    for (int k = 0; k < 100; k++) {
        int i = shpick_weighted(cur, w, 2, 0);
        assert_int_not_equal(i, prev); /* equal weights alternate */
        prev = i;
    }
}

static void test_weighted_skip_and_empty(void **state)
{
    (void)state;
    int32_t cur[3] = {0};
    uint16_t w[3] = {5, 1, 1};
    for (int k = 0; k < 10; k++) {
        int i = shpick_weighted(cur, w, 3, 1u << 0); /* slot 0 excluded */
        assert_true(i == 1 || i == 2);
    }
    assert_int_equal(shpick_weighted(cur, w, 3, 7), -1);
    uint16_t zero[3] = {0, 0, 0};
    assert_int_equal(shpick_weighted(cur, zero, 3, 0), -1);
    assert_int_equal(shpick_weighted(cur, w, 0, 0), -1);
}

/* A weight change mid-way (a member joins) converges to the new shares. */
static void test_weighted_weight_change(void **state)
{
    (void)state;
    int32_t cur[2] = {0};
    uint16_t w[2] = {1, 1};
    for (int k = 0; k < 7; k++)
        shpick_weighted(cur, w, 2, 0);
    w[1] = 3;
    int wins[2] = {0};
    for (int k = 0; k < 400; k++)
        wins[shpick_weighted(cur, w, 2, 0)]++;
    assert_true(wins[0] >= 99 && wins[0] <= 101);
}

static bool odd_ok(void *arg, uint32_t i)
{
    const bool *ok = arg;
    return ok[i];
}

static void test_next_round_robin_with_skip(void **state)
{
    (void)state;
    bool ok[4] = {true, false, true, true};
    uint32_t cursor = 0;
    int seq[6];
    for (int k = 0; k < 6; k++)
        seq[k] = shpick_next(&cursor, 4, odd_ok, ok);
    int want[6] = {0, 2, 3, 0, 2, 3}; /* 1 is skipped, order kept */
    assert_memory_equal(seq, want, sizeof(want));
    bool none[4] = {false, false, false, false};
    cursor = 2;
    assert_int_equal(shpick_next(&cursor, 4, odd_ok, none), -1);
    assert_int_equal(cursor, 2);
    assert_int_equal(shpick_next(&cursor, 0, odd_ok, none), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weighted_exact_shares),
        cmocka_unit_test(test_weighted_interleaves),
        cmocka_unit_test(test_weighted_skip_and_empty),
        cmocka_unit_test(test_weighted_weight_change),
        cmocka_unit_test(test_next_round_robin_with_skip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

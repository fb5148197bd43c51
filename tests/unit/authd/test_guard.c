/* Unit tests for services/authd/guard.c (over throttle.c): the throttling
 * policy with the clock passed in. Each case is one line of the policy in
 * guard.h: a pair blocks only itself, an address blocks every username and
 * is not reset by another username's success, a username-wide block only
 * slows clean addresses, and 0 disables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "guard.h"

static const guard_conf_t CONF = {
    .pair_after = 3, .peer_after = 6, .user_after = 4, .window_ms = 10000, .max_ms = 8000, .max_keys = 1000};

static guard_verdict_t check(guard_t *g, const char *user, const char *peer, uint64_t now, const char **why)
{
    uint64_t delay = 0;
    static const char *ignored;
    return guard_check(g, user, peer, now, &delay, why ? why : &ignored);
}

static void record_fail(guard_t *g, const char *user, const char *peer, uint64_t now)
{
    guard_blocks_t b;
    guard_fail(g, user, peer, now, &b);
}

static void pair_blocks_only_that_pair(void **state)
{
    guard_conf_t c = CONF;
    c.user_after = 100; /* this case is about the pair alone */
    guard_t *g = guard_new(&c);
    const char *why = NULL;
    for (int i = 0; i < 3; i++)
        record_fail(g, "alice", "10.0.0.1:100", 1000);
    /* any port of that address, same username: refused */
    assert_int_equal(check(g, "alice", "10.0.0.1:999", 1001, &why), GUARD_REFUSE);
    assert_string_equal(why, "throttled_username_address");
    /* the same username from elsewhere, another username from there: allowed */
    assert_int_equal(check(g, "alice", "10.0.0.2:1", 1001, NULL), GUARD_ALLOW);
    assert_int_equal(check(g, "bob", "10.0.0.1:1", 1001, NULL), GUARD_ALLOW);
    /* the first block is 1 s; a success of that pair resets it */
    assert_int_equal(check(g, "alice", "10.0.0.1:1", 2000, NULL), GUARD_ALLOW);
    guard_success(g, "alice", "10.0.0.1:1");
    record_fail(g, "alice", "10.0.0.1:1", 2100);
    record_fail(g, "alice", "10.0.0.1:1", 2100);
    assert_int_equal(check(g, "alice", "10.0.0.1:1", 2101, NULL), GUARD_ALLOW); /* two, not five */
    record_fail(g, "alice", "10.0.0.1:1", 2100);
    assert_int_equal(check(g, "alice", "10.0.0.1:1", 2101, NULL), GUARD_REFUSE);
    guard_destroy(&g);
}

static void address_not_reset_by_another_success(void **state)
{
    guard_t *g = guard_new(&CONF);
    const char *why = NULL;
    /* spray: one guess per username, a valid login in between */
    for (int i = 0; i < 6; i++) {
        char user[16];
        snprintf(user, sizeof(user), "u%d", i);
        assert_int_equal(check(g, user, "[2001:db8::1]:4000", 1000 + (uint64_t)i, NULL), GUARD_ALLOW);
        record_fail(g, user, "[2001:db8::1]:4000", 1000 + (uint64_t)i);
        guard_success(g, "valid", "[2001:db8::1]:4001");
    }
    assert_int_equal(check(g, "valid", "[2001:db8::1]:5", 1010, &why), GUARD_REFUSE);
    assert_string_equal(why, "throttled_address");
    assert_int_equal(check(g, NULL, "[2001:db8::1]:5", 1010, NULL), GUARD_REFUSE); /* anonymous too */
    assert_int_equal(check(g, "valid", "[2001:db8::2]:5", 1010, NULL), GUARD_ALLOW);
    guard_destroy(&g);
}

static void username_block_slows_clean_addresses_only(void **state)
{
    guard_t *g = guard_new(&CONF);
    const char *why = NULL;
    uint64_t delay = 0;
    /* one failure each from four addresses: no pair or address block */
    for (int i = 0; i < 4; i++) {
        char peer[32];
        snprintf(peer, sizeof(peer), "10.1.0.%d:7", i);
        record_fail(g, "dev", peer, 5000);
    }
    assert_int_equal(guard_check(g, "dev", "10.1.0.0:8", 5001, &delay, &why), GUARD_REFUSE);
    assert_string_equal(why, "throttled_username");
    assert_int_equal(guard_check(g, "dev", "10.9.9.9:8", 5001, &delay, &why), GUARD_SLOW);
    assert_string_equal(why, "slowed_username");
    assert_true(delay > 0 && delay <= GUARD_SLOW_MS);
    /* other usernames from those addresses are not affected */
    assert_int_equal(check(g, "other", "10.1.0.0:8", 5001, NULL), GUARD_ALLOW);
    /* the block ends: allowed again */
    assert_int_equal(check(g, "dev", "10.1.0.0:8", 6001, NULL), GUARD_ALLOW);
    guard_destroy(&g);
}

static void blocks_double_and_a_quiet_window_forgives(void **state)
{
    guard_t *g = guard_new(&CONF);
    for (int i = 0; i < 3; i++)
        record_fail(g, "a", "1.2.3.4:1", 0);
    assert_int_equal(check(g, "a", "1.2.3.4:1", 999, NULL), GUARD_REFUSE);
    record_fail(g, "a", "1.2.3.4:1", 1000); /* after the block: 2 s */
    assert_int_equal(check(g, "a", "1.2.3.4:1", 2999, NULL), GUARD_REFUSE);
    assert_int_equal(check(g, "a", "1.2.3.4:1", 3000, NULL), GUARD_ALLOW);
    assert_true(guard_count(g) > 0);
    /* quiet for a window after the block: every key is forgotten on touch */
    assert_int_equal(check(g, "a", "1.2.3.4:1", 3000 + 10000, NULL), GUARD_ALLOW);
    record_fail(g, "a", "1.2.3.4:1", 13000);
    assert_int_equal(check(g, "a", "1.2.3.4:1", 13001, NULL), GUARD_ALLOW); /* one failure again */
    guard_destroy(&g);
}

static void zero_disables(void **state)
{
    guard_conf_t off = CONF;
    off.pair_after = 0;
    guard_t *g = guard_new(&off);
    for (int i = 0; i < 50; i++)
        record_fail(g, "a", "1.2.3.4:1", 0);
    assert_int_equal(check(g, "a", "1.2.3.4:1", 1, NULL), GUARD_ALLOW);
    assert_int_equal(guard_count(g), 0);
    guard_destroy(&g);
    guard_conf_t no_peer = CONF;
    no_peer.peer_after = 0;
    g = guard_new(&no_peer);
    for (int i = 0; i < 20; i++) {
        char user[16];
        snprintf(user, sizeof(user), "u%d", i);
        record_fail(g, user, "1.2.3.4:1", 0);
    }
    assert_int_equal(check(g, "fresh", "1.2.3.4:1", 1, NULL), GUARD_ALLOW);
    guard_destroy(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pair_blocks_only_that_pair),
        cmocka_unit_test(address_not_reset_by_another_success),
        cmocka_unit_test(username_block_slows_clean_addresses_only),
        cmocka_unit_test(blocks_double_and_a_quiet_window_forgives),
        cmocka_unit_test(zero_disables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

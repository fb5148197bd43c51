/* test_store_restart.c: a store handle that sat idle while Redis restarted
 * answers its next command instead of failing it once on the dead
 * connection (lib/store/store.c ensure_conn). authd holds one handle per
 * worker: before, the first request each worker took after a Redis restart
 * was answered "server unavailable" although Redis was back. */
#include "store_test.h"

static void test_idle_handle_survives_a_restart(void **state)
{
    (void)state;
    store_t *s = store_new("127.0.0.1", g_redis.port, "t-restart:", NULL);
    assert_non_null(s);
    assert_int_equal(store_open(s), 0);
    int64_t v = -1;
    assert_int_equal(store_config_version(s, &v), 0);

    /* restarted while the handle is idle: its connection is closed by Redis */
    redis_fixture_stop(&g_redis);
    assert_int_equal(redis_fixture_start(&g_redis), 0);

    for (int i = 0; i < 3; i++) {
        v = -1;
        assert_int_equal(store_config_version(s, &v), 0);
        assert_true(v >= 0);
    }
    store_destroy(&s);
}

static void test_down_is_still_unavailable(void **state)
{
    (void)state;
    store_t *s = store_new("127.0.0.1", g_redis.port, "t-restart:", NULL);
    assert_int_equal(store_open(s), 0);
    redis_fixture_stop(&g_redis);
    int64_t v;
    assert_int_equal(store_config_version(s, &v), ROOST_EUNAVAILABLE);
    assert_int_equal(redis_fixture_start(&g_redis), 0);
    assert_int_equal(store_config_version(s, &v), 0);
    store_destroy(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idle_handle_survives_a_restart),
        cmocka_unit_test(test_down_is_still_unavailable),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

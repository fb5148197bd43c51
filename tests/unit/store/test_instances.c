/* Unit tests for lib/store/instances.c (instance records for admin's
 * Overview) against a private redis-server on a free loopback port (stopped
 * by PID). Each test uses its own key prefix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/err.h"
#include "redis_fixture.h"
#include "store/instances.h"

static redis_fixture_t g_redis;

static int group_setup(void **state)
{
    if (redis_fixture_init(&g_redis, "instances-test") < 0)
        return -1;
    return redis_fixture_start(&g_redis);
}

static int group_teardown(void **state)
{
    redis_fixture_fini(&g_redis);
    return 0;
}

static store_t *open_store(const char *prefix)
{
    store_t *s = store_new("127.0.0.1", g_redis.port, prefix, NULL);
    assert_non_null(s);
    assert_int_equal(store_open(s), 0);
    return s;
}

static const store_instance_t *find(const store_instance_list_t *l, const char *kind, const char *id)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->items[i].kind, kind) && !strcmp(l->items[i].id, id))
            return &l->items[i];
    return NULL;
}

static void test_put_list_and_expiry(void **state)
{
    store_t *s = open_store("t-inst:");
    assert_int_equal(store_instance_put(s, "broker", "b:1", "{\"connections\":3}", 60000), 0);
    assert_int_equal(store_instance_put(s, "authd", "a1", "{\"requests\":7}", 1000), 0);
    store_instance_list_t *l = NULL;
    assert_int_equal(store_instance_list(s, &l), 0);
    assert_int_equal(l->n, 2);
    const store_instance_t *b = find(l, "broker", "b:1"); /* the id may hold ':' */
    assert_non_null(b);
    assert_string_equal(b->json, "{\"connections\":3}");
    assert_true(b->seen_ms > 1700000000000LL);
    assert_non_null(find(l, "authd", "a1"));
    store_instance_list_free(&l);
    assert_null(l);
    /* the record expires; the instance stays listed (down) with no record */
    usleep(1300 * 1000);
    assert_int_equal(store_instance_list(s, &l), 0);
    assert_int_equal(l->n, 2);
    assert_null(find(l, "authd", "a1")->json);
    assert_non_null(find(l, "broker", "b:1")->json);
    store_instance_list_free(&l);
    /* a put again brings it back */
    assert_int_equal(store_instance_put(s, "authd", "a1", "{\"requests\":8}", 5000), 0);
    assert_int_equal(store_instance_list(s, &l), 0);
    assert_string_equal(find(l, "authd", "a1")->json, "{\"requests\":8}");
    store_instance_list_free(&l);
    store_destroy(&s);
}

static void test_bad_input_is_refused(void **state)
{
    store_t *s = open_store("t-inst-bad:");
    char big[STORE_INSTANCE_JSON_MAX + 2];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(store_instance_put(s, "Broker", "b1", "{}", 5000), ROOST_EINVAL);
    assert_string_equal(store_last_error(s)->field, "kind");
    assert_int_equal(store_instance_put(s, "broker", "", "{}", 5000), ROOST_EINVAL);
    assert_string_equal(store_last_error(s)->field, "id");
    assert_int_equal(store_instance_put(s, "broker", "b\n1", "{}", 5000), ROOST_EINVAL);
    assert_int_equal(store_instance_put(s, "broker", "b1", "", 5000), ROOST_EINVAL);
    assert_string_equal(store_last_error(s)->field, "json");
    assert_int_equal(store_instance_put(s, "broker", "b1", big, 5000), ROOST_EINVAL);
    assert_int_equal(store_instance_put(s, "broker", "b1", "{}", 999), ROOST_EINVAL);
    assert_string_equal(store_last_error(s)->field, "ttl");
    store_instance_list_t *l = NULL;
    assert_int_equal(store_instance_list(s, &l), 0);
    assert_int_equal(l->n, 0); /* nothing was written */
    store_instance_list_free(&l);
    store_destroy(&s);
}

static void test_unreachable_redis(void **state)
{
    store_t *s = store_new("127.0.0.1", 1, "t-inst-down:", NULL);
    assert_non_null(s);
    store_set_timeouts(s, 200, 200);
    store_instance_list_t *l = NULL;
    assert_int_equal(store_instance_list(s, &l), ROOST_EUNAVAILABLE);
    assert_null(l);
    assert_int_equal(store_instance_put(s, "broker", "b1", "{}", 5000), ROOST_EUNAVAILABLE);
    store_destroy(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_list_and_expiry),
        cmocka_unit_test(test_bad_input_is_refused),
        cmocka_unit_test(test_unreachable_redis),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

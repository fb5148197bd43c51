/* Unit tests for lib/store/registry.c (connections), audit.c and tokens.c
 * against a private redis-server on a free loopback port (stopped by PID).
 * Each test uses its own key prefix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/err.h"
#include "redis_fixture.h"
#include "store/audit.h"
#include "store/registry.h"
#include "store/tokens.h"

static redis_fixture_t g_redis;

static int group_setup(void **state)
{
    if (redis_fixture_init(&g_redis, "registry-test") < 0)
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

static void put(store_t *s, const char *broker, const char *mqtt, int64_t ttl)
{
    const char *groups[] = {"g1", "g2"};
    store_conn_t c = {.mqtt_client_id = mqtt, .client_id = "c1", .username = "alice", .peer = "10.0.0.1:5000",
                      .protocol = 4, .keepalive = 60, .connected_at = 1700000000123, .groups = groups,
                      .n_groups = 2};
    assert_int_equal(store_conn_put(s, broker, &c, ttl), 0);
}

static void test_put_list_find_del(void **state)
{
    store_t *s = open_store("t-reg:");
    put(s, "b1", "dev-1", 60000);
    put(s, "b2", "dev-2", 60000);
    put(s, "b1", "other", 60000);
    store_conn_page_t *p = NULL;
    assert_int_equal(store_conn_list(s, NULL, 10, NULL, &p), 0);
    assert_int_equal(p->n, 3);
    assert_null(p->next_cursor);
    assert_string_equal(p->items[0].mqtt_client_id, "dev-1");
    assert_string_equal(p->items[0].broker, "b1");
    assert_string_equal(p->items[0].username, "alice");
    assert_string_equal(p->items[0].peer, "10.0.0.1:5000");
    assert_int_equal(p->items[0].protocol, 4);
    assert_int_equal(p->items[0].keepalive, 60);
    assert_int_equal(p->items[0].connected_at, 1700000000123);
    assert_int_equal(p->items[0].n_groups, 2);
    assert_string_equal(p->items[0].groups[1], "g2");
    assert_string_equal(p->items[1].broker, "b2");
    store_conn_page_free(&p);
    assert_null(p);

    assert_int_equal(store_conn_list(s, NULL, 10, "DEV", &p), 0);
    assert_int_equal(p->n, 2);
    store_conn_page_free(&p);

    char *b = NULL;
    assert_int_equal(store_conn_find(s, "dev-2", &b), 0);
    assert_string_equal(b, "b2");
    free(b);
    assert_int_equal(store_conn_find(s, "nope", &b), ROOST_ENOTFOUND);
    assert_null(b);

    assert_int_equal(store_conn_del(s, "b2", "dev-2"), 0);
    assert_int_equal(store_conn_find(s, "dev-2", &b), ROOST_ENOTFOUND);
    assert_int_equal(store_conn_clear(s, "b1"), 0);
    assert_int_equal(store_conn_list(s, NULL, 10, NULL, &p), 0);
    assert_int_equal(p->n, 0);
    store_conn_page_free(&p);
    store_destroy(&s);
}

static void test_pagination(void **state)
{
    store_t *s = open_store("t-page:");
    char id[32];
    for (int i = 0; i < 25; i++) {
        snprintf(id, sizeof(id), "m-%02d", i);
        put(s, i % 2 ? "b1" : "b2", id, 60000);
    }
    int seen[25] = {0}, pages = 0;
    char *cursor = NULL;
    do {
        store_conn_page_t *p = NULL;
        assert_int_equal(store_conn_list(s, cursor, 10, NULL, &p), 0);
        assert_int_equal(p->total, 25);
        for (size_t i = 0; i < p->n; i++)
            seen[atoi(p->items[i].mqtt_client_id + 2)]++;
        free(cursor);
        cursor = p->next_cursor ? strdup(p->next_cursor) : NULL;
        store_conn_page_free(&p);
        pages++;
    } while (cursor);
    assert_int_equal(pages, 3);
    for (int i = 0; i < 25; i++)
        assert_int_equal(seen[i], 1);
    store_conn_page_t *p = NULL;
    assert_int_equal(store_conn_list(s, "zz", 10, NULL, &p), ROOST_EINVAL);
    assert_string_equal(store_last_error(s)->field, "cursor");
    assert_int_equal(store_conn_list(s, NULL, 0, NULL, &p), ROOST_EINVAL);
    store_destroy(&s);
}

static void test_expiry_and_refresh(void **state)
{
    store_t *s = open_store("t-exp:");
    put(s, "dead", "d-1", 1000);
    put(s, "live", "l-1", 1000);
    redis_fixture_sleep_ms(600);
    assert_int_equal(store_conn_refresh(s, "live", 1000), 0);
    redis_fixture_sleep_ms(600);
    store_conn_page_t *p = NULL;
    assert_int_equal(store_conn_list(s, NULL, 10, NULL, &p), 0);
    assert_int_equal(p->n, 1);
    assert_string_equal(p->items[0].broker, "live");
    store_conn_page_free(&p);
    char *b = NULL;
    assert_int_equal(store_conn_find(s, "d-1", &b), ROOST_ENOTFOUND);
    store_conn_t c = {.mqtt_client_id = "x"};
    assert_int_equal(store_conn_put(s, "", &c, 1000), ROOST_EINVAL);
    assert_int_equal(store_conn_put(s, "b", &c, 10), ROOST_EINVAL);
    store_destroy(&s);
}

static void test_audit(void **state)
{
    store_t *s = open_store("t-audit:");
    for (int i = 0; i < 5; i++) {
        char obj[8];
        snprintf(obj, sizeof(obj), "o%d", i);
        store_audit_t e = {.actor_id = "t1", .actor_name = "ops", .action = "client.create", .object_id = obj,
                           .summary = "name=x"};
        assert_int_equal(store_audit_append(s, &e, NULL), 0);
    }
    store_audit_page_t *p = NULL;
    assert_int_equal(store_audit_list(s, NULL, 3, &p), 0);
    assert_int_equal(p->n, 3);
    assert_string_equal(p->items[0].object_id, "o4");
    assert_string_equal(p->items[0].actor_name, "ops");
    assert_true(p->items[0].time > 0);
    assert_non_null(p->next_cursor);
    char *cur = strdup(p->next_cursor);
    store_audit_page_free(&p);
    assert_int_equal(store_audit_list(s, cur, 3, &p), 0);
    free(cur);
    assert_int_equal(p->n, 2);
    assert_string_equal(p->items[1].object_id, "o0");
    assert_null(p->next_cursor);
    store_audit_page_free(&p);
    assert_int_equal(store_audit_list(s, "bogus", 3, &p), ROOST_EINVAL);
    store_destroy(&s);
}

static void test_tokens(void **state)
{
    store_t *s = open_store("t-tok:");
    const char *h1 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const char *h2 = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    int64_t n = -1;
    assert_int_equal(store_token_count(s, &n), 0);
    assert_int_equal(n, 0);
    store_token_t *t = NULL;
    assert_int_equal(store_token_create(s, "first", h1, true, &t), 0);
    assert_int_equal(store_token_create(s, "second", h2, true, NULL), ROOST_ECONFLICT);
    assert_int_equal(store_token_create(s, "dup", h1, false, NULL), ROOST_ECONFLICT);
    assert_int_equal(store_token_create(s, "bad", "XYZ", false, NULL), ROOST_EINVAL);
    assert_int_equal(store_token_create(s, "second", h2, false, NULL), 0);
    store_token_t *l = NULL;
    assert_int_equal(store_token_lookup(s, h1, &l), 0);
    assert_string_equal(l->id, t->id);
    assert_string_equal(l->name, "first");
    assert_int_equal(l->last_used_at, 0);
    store_token_free(&l);
    assert_int_equal(store_token_touch(s, t->id, 42), 0);
    store_token_list_t *all = NULL;
    assert_int_equal(store_token_list(s, &all), 0);
    assert_int_equal(all->n, 2);
    size_t first = strcmp(all->items[0].id, t->id) == 0 ? 0 : 1; /* same-ms creations order by id */
    assert_string_equal(all->items[first].id, t->id);
    assert_int_equal(all->items[first].last_used_at, 42);
    store_token_list_free(&all);
    assert_int_equal(store_token_revoke(s, t->id), 0);
    assert_int_equal(store_token_revoke(s, t->id), ROOST_ENOTFOUND);
    assert_int_equal(store_token_lookup(s, h1, &l), ROOST_ENOTFOUND);
    store_token_free(&t);
    store_destroy(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_list_find_del), cmocka_unit_test(test_pagination),
        cmocka_unit_test(test_expiry_and_refresh), cmocka_unit_test(test_audit),
        cmocka_unit_test(test_tokens),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

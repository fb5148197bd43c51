/* Unit tests for lib/store as a whole against a private redis-server
 * (store_test.h): two handles creating the same username at once (one
 * wins, atomically), the config version bumped by every write, the schema
 * version and the migration from v1, and a Redis that goes away and comes
 * back (calls fail with ROOST_EUNAVAILABLE, then work again). */
#include <pthread.h>

#include "store_test.h"

/* ---- atomicity, versions, schema, availability ---- */

struct racer {
    store_t *s;
    const char *username;
    int rc;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    store_client_spec_t spec = {.name = "racer", .username = r->username, .password = "password123"};
    r->rc = store_client_create(r->s, &spec, NULL);
    return NULL;
}

static void test_concurrent_create(void **state)
{
    store_t *a = open_store("t-race:"), *b = open_store("t-race:");
    for (int round = 0; round < 10; round++) {
        char user[32];
        snprintf(user, sizeof(user), "race-%d", round);
        struct racer ra = {a, user, 1}, rb = {b, user, 1};
        pthread_t ta, tb;
        assert_int_equal(pthread_create(&ta, NULL, race, &ra), 0);
        assert_int_equal(pthread_create(&tb, NULL, race, &rb), 0);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        assert_true((ra.rc == 0 && rb.rc == ROOST_ECONFLICT) ||
                    (rb.rc == 0 && ra.rc == ROOST_ECONFLICT));
    }
    store_client_page_t *p = NULL;
    assert_int_equal(store_client_list(a, NULL, 100, NULL, &p), 0);
    assert_int_equal(p->total, 10);
    store_client_page_free(&p);
    store_destroy(&a);
    store_destroy(&b);
}

static void expect_version(store_t *s, int64_t want)
{
    int64_t v = -1;
    assert_int_equal(store_config_version(s, &v), 0);
    assert_int_equal(v, want);
}

static void test_version_bump(void **state)
{
    store_t *s = open_store("t-version:");
    expect_version(s, 0);
    store_client_t *c = NULL;
    assert_int_equal(mk_client(s, "n", "v-user", "password123", &c), 0);
    expect_version(s, 1);
    store_client_spec_t up = {.name = "m"};
    assert_int_equal(store_client_update(s, c->id, &up, NULL), 0);
    expect_version(s, 2);
    assert_int_equal(mk_client(s, "n", "v-user", "password123", NULL), ROOST_ECONFLICT);
    expect_version(s, 2); /* failed writes do not bump */
    char *g = mk_group(s, "vg");
    expect_version(s, 3);
    store_group_spec_t gu = {.description = "d"};
    assert_int_equal(store_group_update(s, g, &gu, NULL), 0);
    expect_version(s, 4);
    const char *gs[] = {g};
    store_rule_spec_t rs = {.match_by = STORE_MATCH_CLIENT, .value = c->id, .groups = gs,
                            .n_groups = 1};
    store_rule_t *r = NULL;
    assert_int_equal(store_rule_create(s, &rs, &r), 0);
    expect_version(s, 5);
    store_rule_spec_t ru = {.value = c->id};
    assert_int_equal(store_rule_update(s, r->id, &ru, NULL), 0);
    expect_version(s, 6);
    assert_int_equal(store_rule_delete(s, r->id), 0);
    expect_version(s, 7);
    assert_int_equal(store_group_delete(s, g), 0);
    expect_version(s, 8);
    assert_int_equal(store_client_delete(s, c->id), 0);
    expect_version(s, 9);
    store_auth_t *a = NULL;
    assert_int_equal(store_auth_lookup(s, "v-user", &a), ROOST_ENOTFOUND);
    store_rule_free(&r);
    store_client_free(&c);
    free(g);
    store_destroy(&s);
}

static void test_schema(void **state)
{
    redisContext *raw = raw_connect();
    assert_non_null(raw);
    store_t *s = open_store("t-schema:");
    redisReply *r = redisCommand(raw, "GET t-schema:{g}:schema");
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_string_equal(r->str, "2");
    freeReplyObject(r);
    store_destroy(&s);

    freeReplyObject(redisCommand(raw, "SET t-schema-new:{g}:schema 3"));
    store_cost_t cost = {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
    s = store_new("127.0.0.1", g_redis.port, "t-schema-new:", &cost);
    assert_int_equal(store_open(s), ROOST_ESCHEMA);
    int64_t v;
    assert_int_equal(store_config_version(s, &v), ROOST_ESCHEMA); /* every call refuses */
    store_destroy(&s);

    freeReplyObject(redisCommand(raw, "SET t-schema-bad:{g}:schema banana"));
    s = store_new("127.0.0.1", g_redis.port, "t-schema-bad:", &cost);
    assert_int_equal(store_open(s), ROOST_ESTORE);
    store_destroy(&s);
    redisFree(raw);
}

/* A schema-1 store (keys without hash tags) is renamed in place to the
 * layout of store/keys.h at the first connect: session keys to the client
 * tag, everything else to {g}, TTLs kept, data readable through the API. */
static void test_migrate_v1(void **state)
{
    (void)state;
    redisContext *raw = raw_connect();
    assert_non_null(raw);
    const char *cmds[] = {"SET t-mig:schema 1", "SET t-mig:version 7",
                          "HSET t-mig:client:aaaaaaaaaaaaaaaaaaaaaaaa id aaaaaaaaaaaaaaaaaaaaaaaa",
                          "HSET t-mig:idx:client:username u1 aaaaaaaaaaaaaaaaaaaaaaaa",
                          "RPUSH t-mig:q:dev}1 e1", "HSET t-mig:qm:dev}1 e1 blob",
                          "HSET t-mig:sess:dev}1 owner b1", "SET t-mig:lease:dev}1 b1 PX 600000",
                          "HSET t-mig:psubs x 1", "HSET t-mig:retained a/b blob",
                          "SET t-mig:done:{c:x} 1" /* schema 2 already: left alone */};
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        freeReplyObject(redisCommand(raw, cmds[i]));
    store_t *s = open_store("t-mig:");
    int64_t v = 0;
    assert_int_equal(store_config_version(s, &v), 0);
    assert_int_equal(v, 7);
    const char *moved[] = {"t-mig:{g}:schema", "t-mig:{g}:version",
                           "t-mig:{g}:client:aaaaaaaaaaaaaaaaaaaaaaaa",
                           "t-mig:{g}:idx:client:username", "t-mig:q:{c:dev}1}",
                           "t-mig:qm:{c:dev}1}", "t-mig:sess:{c:dev}1}", "t-mig:lease:{c:dev}1}",
                           "t-mig:{g}:psubs", "t-mig:{g}:retained", "t-mig:done:{c:x}"};
    for (size_t i = 0; i < sizeof(moved) / sizeof(moved[0]); i++) {
        redisReply *r = redisCommand(raw, "EXISTS %s", moved[i]);
        assert_int_equal(r->integer, 1);
        freeReplyObject(r);
    }
    redisReply *r = redisCommand(raw, "KEYS t-mig:*");
    assert_int_equal(r->elements, sizeof(moved) / sizeof(moved[0])); /* nothing left behind */
    freeReplyObject(r);
    r = redisCommand(raw, "PTTL t-mig:lease:{c:dev}1}");
    assert_true(r->integer > 0);
    freeReplyObject(r);
    r = redisCommand(raw, "GET t-mig:{g}:schema");
    assert_string_equal(r->str, "2");
    freeReplyObject(r);
    store_destroy(&s);
    /* a prefix that would capture the tag is refused */
    s = store_new("127.0.0.1", g_redis.port, "t-{x}:", NULL);
    assert_int_equal(store_open(s), ROOST_EINVAL);
    assert_string_equal(store_last_error(s)->field, "prefix");
    store_destroy(&s);
    redisFree(raw);
}

static void test_unavailable_and_recovery(void **state)
{
    store_t *s = open_store("t-down:");
    store_client_t *c = NULL;
    assert_int_equal(mk_client(s, "n", "down-user", "password123", &c), 0);
    redis_fixture_stop(&g_redis);
    store_auth_t *a = NULL;
    assert_int_equal(store_auth_lookup(s, "down-user", &a), ROOST_EUNAVAILABLE);
    assert_null(a);
    assert_non_null(store_last_error(s)->reason);
    assert_int_equal(store_auth_lookup(s, "down-user", &a), ROOST_EUNAVAILABLE);
    store_client_t *g = NULL;
    assert_int_equal(store_client_get(s, c->id, &g), ROOST_EUNAVAILABLE);
    assert_int_equal(mk_client(s, "n", "x-user", "password123", NULL), ROOST_EUNAVAILABLE);
    int64_t v;
    assert_int_equal(store_config_version(s, &v), ROOST_EUNAVAILABLE);
    store_t *fresh = store_new("127.0.0.1", g_redis.port, "t-down:", NULL);
    assert_int_equal(store_open(fresh), ROOST_EUNAVAILABLE);

    assert_int_equal(redis_fixture_start(&g_redis), 0); /* same port; data gone (no persistence) */
    assert_int_equal(store_auth_lookup(s, "down-user", &a), ROOST_ENOTFOUND);
    assert_int_equal(mk_client(s, "n", "down-user", "password123", NULL), 0);
    assert_int_equal(store_auth_lookup(s, "down-user", &a), 0);
    store_auth_free(&a);
    assert_int_equal(store_open(fresh), 0);
    assert_int_equal(store_config_version(fresh, &v), 0);
    assert_int_equal(v, 1);
    store_destroy(&fresh);
    store_client_free(&c);
    store_destroy(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_create),
        cmocka_unit_test(test_version_bump),
        cmocka_unit_test(test_schema),
        cmocka_unit_test(test_migrate_v1),
        cmocka_unit_test(test_unavailable_and_recovery),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

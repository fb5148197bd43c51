/* store_test.h: what tests/unit/store/test_store*.c share (lib/store's
 * synchronous handle against a private redis-server): the group setup
 * starts `redis-server --port P --save '' --appendonly no` on a free
 * loopback port in a temp dir (redis_fixture.h), the teardown stops it by
 * PID; open_store gives a handle on it with the cheapest password hashing.
 * Each test uses its own key prefix so tests never see each other's data.
 * Header-only (static inline); include in exactly one file of a test
 * executable. */
#ifndef ROOST_TEST_STORE_TEST_H
#define ROOST_TEST_STORE_TEST_H

#include <hiredis/hiredis.h>
#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "redis_fixture.h"
#include "store/store.h"

static redis_fixture_t g_redis;

static inline redisContext *raw_connect(void)
{
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", g_redis.port, tv);
    if (c && c->err) {
        redisFree(c);
        return NULL;
    }
    return c;
}

static inline int group_setup(void **state)
{
    if (redis_fixture_init(&g_redis, "store-test") < 0)
        return -1;
    return redis_fixture_start(&g_redis);
}

static inline int group_teardown(void **state)
{
    redis_fixture_fini(&g_redis);
    return 0;
}

static inline store_t *open_store(const char *prefix)
{
    store_cost_t cost = {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
    store_t *s = store_new("127.0.0.1", g_redis.port, prefix, &cost);
    assert_non_null(s);
    store_set_timeouts(s, 500, 1000);
    assert_int_equal(store_open(s), 0);
    return s;
}

static inline int mk_client(store_t *s, const char *name, const char *user, const char *pw,
                     store_client_t **out)
{
    store_client_spec_t spec = {.name = name, .username = user, .password = pw};
    return store_client_create(s, &spec, out);
}

static inline const char *bad_field(store_t *s) { return store_last_error(s)->field; }

/* A group named name; its id (caller frees). */
static inline char *mk_group(store_t *s, const char *name)
{
    store_group_spec_t spec = {.name = name};
    store_group_t *g = NULL;
    assert_int_equal(store_group_create(s, &spec, &g), 0);
    char *id = strdup(g->id);
    store_group_free(&g);
    return id;
}

#endif

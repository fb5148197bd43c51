/* Unit tests for lib/store/store_wait.c (the synchronous handle's WAIT
 * behind a request's writes) against a private primary and, for the later
 * tests, a replica of it (two redis-servers, redis_fixture.h).
 *
 * Checked: which commands and scripts count as writes; without a replica a
 * request's write is reported unconfirmed after the timeout (and was made);
 * a request that only read, an unarmed handle and min_replicas 0 send no
 * WAIT, nor do writes run by store_cmd_unwaited (housekeeping); with a
 * replica several writes are confirmed by one WAIT; a link
 * that carried a write and was closed under the request is reported
 * unconfirmed even though the new link's WAIT would pass. */
#include "store_test.h"

#include <time.h>

#include "store/store_priv.h"

static redis_fixture_t g_replica;

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static redisReply *raw(const char *fmt, ...)
{
    redisContext *c = raw_connect();
    assert_non_null(c);
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    redisFree(c);
    assert_non_null(r);
    return r;
}

static long wait_calls(void)
{
    redisReply *r = raw("INFO commandstats");
    const char *p = r->str ? strstr(r->str, "cmdstat_wait:calls=") : NULL;
    long n = p ? strtol(p + strlen("cmdstat_wait:calls="), NULL, 10) : 0;
    freeReplyObject(r);
    return n;
}

static void reset_stats(void) { freeReplyObject(raw("CONFIG RESETSTAT")); }

static store_t *waiting_store(const char *prefix, int replicas, int timeout_ms)
{
    store_t *s = open_store(prefix);
    store_set_wait(s, replicas, timeout_ms);
    return s;
}

static void classifies_writes(void **state)
{
    const char *hset[] = {"HSET", "k", "f", "v"}, *hgetall[] = {"hgetall", "k"},
               *xrg[] = {"XREADGROUP"}, *eval[] = {"EVAL"}, *incr[] = {"INCR", "k"}, *xrange[] = {"XRANGE"};
    assert_true(store_cmd_writes(4, hset));
    assert_false(store_cmd_writes(2, hgetall));
    assert_true(store_cmd_writes(1, xrg)); /* moves entries into a PEL */
    assert_true(store_cmd_writes(1, eval)); /* unknown to be read-only */
    assert_true(store_cmd_writes(2, incr));
    assert_false(store_cmd_writes(1, xrange));
    assert_false(store_cmd_writes(0, NULL));
    assert_false(store_script_writes(SC_LIST));
    assert_false(store_script_writes(SC_AUTH_LOOKUP));
    assert_true(store_script_writes(SC_GROUP_CREATE));
    assert_true(store_script_writes(SC_PQ_ACK));
}

static void no_replica_write_is_unconfirmed(void **state)
{
    store_t *s = waiting_store("w1:", 1, 150);
    store_wait_begin(s);
    char *id = mk_group(s, "g1");
    long long t0 = mono_ms();
    assert_int_equal(store_wait_writes(s), ROOST_EUNAVAILABLE);
    assert_true(mono_ms() - t0 >= 140);
    const char *why = store_last_error(s)->reason;
    assert_non_null(why);
    assert_non_null(strstr(why, "only 0 of 1 replicas confirmed it within 150 ms"));
    store_group_t *g = NULL; /* it was made all the same */
    assert_int_equal(store_group_get(s, id, &g), 0);
    store_group_free(&g);
    free(id);
    store_destroy(&s);
}

static void reads_and_unarmed_send_no_wait(void **state)
{
    store_t *s = waiting_store("w2:", 1, 150);
    char *id = mk_group(s, "g2"); /* outside a request: never waited for */
    reset_stats();
    store_wait_begin(s);
    store_group_list_t *l = NULL;
    assert_int_equal(store_group_list(s, NULL, 10, NULL, &l), 0);
    store_group_list_free(&l);
    store_group_t *g = NULL;
    assert_int_equal(store_group_get(s, id, &g), 0);
    store_group_free(&g);
    long long t0 = mono_ms();
    assert_int_equal(store_wait_writes(s), 0);
    assert_true(mono_ms() - t0 < 100);
    assert_int_equal(store_wait_writes(s), 0); /* not begun */
    assert_int_equal(wait_calls(), 0);
    store_set_wait(s, 0, 150); /* off: a write is not waited for */
    store_wait_begin(s);
    free(mk_group(s, "g2b"));
    assert_int_equal(store_wait_writes(s), 0);
    assert_int_equal(wait_calls(), 0);
    free(id);
    store_destroy(&s);
}

static void unwaited_writes_send_no_wait(void **state)
{
    store_t *s = waiting_store("w5:", 1, 150);
    int64_t v;
    assert_int_equal(store_config_version(s, &v), 0); /* connected: its schema write is behind us */
    reset_stats();
    store_wait_begin(s);
    const char *hset[] = {"HSET", "w5:{g}:housekeeping", "f", "v"};
    redisReply *r = NULL;
    assert_int_equal(store_cmd_unwaited(s, 4, hset, NULL, &r), 0);
    freeReplyObject(r);
    assert_int_equal(store_wait_writes(s), 0);
    assert_int_equal(wait_calls(), 0);
    store_wait_begin(s); /* a waited write after it is noted as before */
    assert_int_equal(store_cmd_unwaited(s, 4, hset, NULL, &r), 0);
    freeReplyObject(r);
    free(mk_group(s, "u1"));
    assert_int_equal(store_wait_writes(s), ROOST_EUNAVAILABLE);
    assert_int_equal(wait_calls(), 1);
    store_destroy(&s);
}

static void start_replica(void)
{
    assert_int_equal(redis_fixture_init(&g_replica, "store-wait-r"), 0);
    assert_int_equal(redis_fixture_start(&g_replica), 0);
    redisContext *c = redisConnect("127.0.0.1", g_replica.port);
    assert_true(c && !c->err);
    freeReplyObject(redisCommand(c, "REPLICAOF 127.0.0.1 %d", g_redis.port));
    redisFree(c);
    for (int i = 0; i < 200; i++) {
        redisReply *r = raw("INFO replication");
        bool ok = r->str && strstr(r->str, "connected_slaves:1") && strstr(r->str, "state=online");
        freeReplyObject(r);
        if (ok)
            return;
        redis_fixture_sleep_ms(50);
    }
    fail_msg("the replica did not come online");
}

static void replica_confirms_with_one_wait(void **state)
{
    start_replica();
    store_t *s = waiting_store("w3:", 1, 2000);
    reset_stats();
    store_wait_begin(s);
    char *a = mk_group(s, "a"), *b = mk_group(s, "b"), *c = mk_group(s, "c");
    assert_int_equal(store_wait_writes(s), 0);
    assert_int_equal(wait_calls(), 1);
    free(a);
    free(b);
    free(c);
    store_destroy(&s);
}

static void link_closed_under_a_write_is_unconfirmed(void **state)
{
    store_t *s = waiting_store("w4:", 1, 500);
    int64_t v;
    assert_int_equal(store_config_version(s, &v), 0);
    store_wait_begin(s);
    free(mk_group(s, "d"));
    /* Redis closes the handle's link (as a restart would) before the
     * request's end: the next command reconnects, and the new link's WAIT
     * alone would pass */
    freeReplyObject(raw("CLIENT KILL TYPE normal"));
    redis_fixture_sleep_ms(50);
    assert_int_equal(store_config_version(s, &v), 0);
    assert_int_equal(store_wait_writes(s), ROOST_EUNAVAILABLE);
    assert_non_null(strstr(store_last_error(s)->reason, "link broke"));
    /* the next request on the new link is confirmed */
    store_wait_begin(s);
    free(mk_group(s, "e"));
    assert_int_equal(store_wait_writes(s), 0);
    store_destroy(&s);
}

static int teardown_all(void **state)
{
    redis_fixture_fini(&g_replica);
    return group_teardown(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(classifies_writes),
        cmocka_unit_test(no_replica_write_is_unconfirmed),
        cmocka_unit_test(reads_and_unarmed_send_no_wait),
        cmocka_unit_test(unwaited_writes_send_no_wait),
        cmocka_unit_test(replica_confirms_with_one_wait),
        cmocka_unit_test(link_closed_under_a_write_is_unconfirmed),
    };
    return cmocka_run_group_tests(tests, group_setup, teardown_all);
}

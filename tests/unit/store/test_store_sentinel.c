/* test_store_sentinel.c: lib/store/store.c (the synchronous store of
 * authd, admin, the forwarder and roostctl) behind real Sentinels. A
 * +switch-master its watch received while it had no link to Redis is read
 * before it connects again, so it outranks a Sentinel answer that has not
 * heard of the failover (ensure_conn; before the fix the watch was read
 * only while a link was up, and the stale answer won the reconnect).
 *
 * Redis A with replica B, and Sentinel S1 watching A as "m"; a standalone
 * Redis C, and Sentinel S2 watching C as "m" (it never hears of S1's
 * failover: the stale answer). The store asks S1 first. */
#include <hiredis/hiredis.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "redis_fixture.h"
#include "store/sentinel.h"
#include "store/store.h"
#include "store/store_priv.h"

typedef struct fx {
    redis_fixture_t a, b, c, s1, s2;
} fx_t;

static fx_t F;

static redisReply *cmd(int port, int argc, const char **argv)
{
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    redisReply *r = c && !c->err ? redisCommandArgv(c, argc, argv, NULL) : NULL;
    redisFree(c);
    return r;
}

/* Whether the reply to argv on port is a string containing want. */
static bool says(int port, int argc, const char **argv, const char *want)
{
    redisReply *r = cmd(port, argc, argv);
    bool ok = r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) && r->str &&
              strstr(r->str, want);
    freeReplyObject(r);
    return ok;
}

static bool until(int port, int argc, const char **argv, const char *want, int ms)
{
    for (int t = 0; t < ms; t += 50) {
        if (says(port, argc, argv, want))
            return true;
        redis_fixture_sleep_ms(50);
    }
    return false;
}

static int start_redis(redis_fixture_t *f, const char *tag, int replica_of)
{
    char port[16], master[16];
    if (redis_fixture_init(f, tag) < 0)
        return -1;
    snprintf(port, sizeof(port), "%d", f->port);
    snprintf(master, sizeof(master), "%d", replica_of);
    char *const plain[] = {"redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
                           "--appendonly", "no", "--dir", f->dir, NULL};
    char *const replica[] = {"redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", f->dir, "--replicaof", "127.0.0.1", master,
                             NULL};
    return redis_fixture_exec(f, replica_of ? replica : plain);
}

static int setup(void **state)
{
    (void)state;
    const char *info[] = {"INFO", "replication"};
    if (start_redis(&F.a, "ssw-a", 0) < 0 || start_redis(&F.b, "ssw-b", F.a.port) < 0 ||
        !until(F.b.port, 2, info, "master_link_status:up", 10000) || start_redis(&F.c, "ssw-c", 0) < 0 ||
        redis_fixture_init(&F.s1, "ssw-s1") < 0 || redis_fixture_sentinel(&F.s1, F.a.port) < 0 ||
        redis_fixture_init(&F.s2, "ssw-s2") < 0 || redis_fixture_sentinel(&F.s2, F.c.port) < 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    redis_fixture_sentinel_fini(&F.s1);
    redis_fixture_sentinel_fini(&F.s2);
    redis_fixture_fini(&F.a);
    redis_fixture_fini(&F.b);
    redis_fixture_fini(&F.c);
    return 0;
}

static void test_switch_read_while_unlinked_wins_the_reconnect(void **state)
{
    (void)state;
    char list[64];
    snprintf(list, sizeof(list), "127.0.0.1:%d,127.0.0.1:%d", F.s1.port, F.s2.port);
    store_sentinel_conf_t sc = {.sentinels = list, .master = "m", .user = "", .password = ""};
    store_t *s = store_new("127.0.0.1", 1, "t-ssw:", NULL);
    assert_non_null(s);
    assert_int_equal(store_set_sentinel(s, &sc), 0);
    store_set_timeouts(s, 300, 1000);
    assert_int_equal(store_open(s), 0);
    assert_int_equal(store_link(s)->tcp.port, F.a.port); /* S1 named A; its watch is open */

    /* our own subscriber sees S1 announce the failover to B */
    struct timeval tv = {20, 0};
    redisContext *w = redisConnectWithTimeout("127.0.0.1", F.s1.port, tv);
    assert_true(w && !w->err);
    assert_int_equal(redisSetTimeout(w, tv), REDIS_OK);
    redisReply *r = redisCommand(w, "SUBSCRIBE +switch-master");
    assert_non_null(r);
    freeReplyObject(r);
    const char *failover[] = {"SENTINEL", "FAILOVER", "m"};
    /* (S1 may not have read B's INFO yet: NOGOODSLAVE until it has) */
    assert_true(until(F.s1.port, 3, failover, "OK", 15000));
    r = NULL;
    assert_int_equal(redisGetReply(w, (void **)&r), REDIS_OK);
    assert_true(r && r->type == REDIS_REPLY_ARRAY && r->elements == 3);
    char to[32];
    snprintf(to, sizeof(to), " %d", F.b.port);
    assert_non_null(strstr(r->element[2]->str, to)); /* "m 127.0.0.1 A 127.0.0.1 B" */
    freeReplyObject(r);
    redisFree(w);

    /* the store's link to A closes (as a Sentinel demoting A does), and S1
     * stops answering: the reconnect's answer comes from S2, naming C */
    const char *kill_normal[] = {"CLIENT", "KILL", "TYPE", "normal"};
    freeReplyObject(cmd(F.a.port, 4, kill_normal));
    assert_int_equal(kill(F.s1.pid, SIGSTOP), 0);
    int64_t v = -1;
    int rc = store_config_version(s, &v);
    kill(F.s1.pid, SIGCONT);
    assert_int_equal(rc, 0);
    assert_non_null(store_link(s));
    assert_int_equal(store_link(s)->tcp.port, F.b.port); /* the switch S1 announced, not C */
    store_destroy(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_switch_read_while_unlinked_wins_the_reconnect, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for the synchronous store's handling of TRYAGAIN and
 * CLUSTERDOWN (lib/store/store.c busy_again; slot_busy) against a real
 * one-node Redis Cluster (redis_fixture.h with --cluster-enabled) one of
 * whose slots the test takes away (CLUSTER DELSLOTS: the cluster is down,
 * as while a dead primary's replica is not yet promoted: a command gets
 * CLUSTERDOWN, a script "... while the cluster is down") and gives back.
 *
 * Checked: a command and a script meeting CLUSTERDOWN are sent again after
 * a short backoff and succeed once the slot is served again, without an
 * error; a cluster that stays down gives ROOST_EUNAVAILABLE (not now)
 * after 1 + 3 attempts (Redis's rejected_calls) within a bounded time. */
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "base/err.h"
#include "base/loop.h"
#include "redis_fixture.h"
#include "store/sstore.h"
#include "store/slot.h"
#include "store/store.h"

static redis_fixture_t g_node;
static unsigned g_slot; /* a slot beside that of "x:{g}:": unserved, the cluster is down */

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static redisReply *node_cmd(const char *fmt, ...)
{
    redisContext *c = redisConnect("127.0.0.1", g_node.port);
    if (!c || c->err) {
        redisFree(c);
        return NULL;
    }
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    redisFree(c);
    return r;
}

static bool cluster_ok(void)
{
    redisReply *r = node_cmd("CLUSTER INFO");
    bool ok = r && r->str && strstr(r->str, "cluster_state:ok");
    freeReplyObject(r);
    return ok;
}

static bool wait_cluster_ok(void)
{
    for (int i = 0; i < 200; i++) {
        if (cluster_ok())
            return true;
        redis_fixture_sleep_ms(25);
    }
    return false;
}

static int setup(void **state)
{
    (void)state;
    if (redis_fixture_init(&g_node, "store-busy") < 0)
        return -1;
    char port[16], conf[128];
    snprintf(port, sizeof(port), "%d", g_node.port);
    snprintf(conf, sizeof(conf), "%s/nodes.conf", g_node.dir);
    char *const argv[] = {"redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly",
                          "no", "--dir", g_node.dir, "--cluster-enabled", "yes", "--cluster-config-file", conf,
                          NULL};
    if (redis_fixture_exec(&g_node, argv) < 0)
        return -1;
    freeReplyObject(node_cmd("CLUSTER ADDSLOTSRANGE 0 16383"));
    g_slot = (slot_of("g", 1) + 1) % SLOT_COUNT;
    return wait_cluster_ok() ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char conf[128];
    snprintf(conf, sizeof(conf), "%s/nodes.conf", g_node.dir);
    redis_fixture_stop(&g_node);
    unlink(conf); /* the dir must be empty to go */
    redis_fixture_fini(&g_node);
    return 0;
}

static store_t *cluster_store(void)
{
    store_cost_t cost = {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
    store_t *s = store_new("127.0.0.1", g_node.port, "x:", &cost);
    assert_non_null(s);
    char seeds[64];
    snprintf(seeds, sizeof(seeds), "127.0.0.1:%d", g_node.port);
    assert_int_equal(store_set_cluster(s, seeds), 0);
    store_set_timeouts(s, 500, 1000);
    assert_int_equal(store_open(s), 0);
    return s;
}

static void take_slot(void)
{
    freeReplyObject(node_cmd("CLUSTER DELSLOTS %u", g_slot));
    freeReplyObject(node_cmd("CONFIG RESETSTAT"));
    for (int i = 0; i < 100 && cluster_ok(); i++)
        redis_fixture_sleep_ms(10);
}

static void *give_back_later(void *arg)
{
    redis_fixture_sleep_ms(*(int *)arg);
    freeReplyObject(node_cmd("CLUSTER ADDSLOTS %u", g_slot));
    return NULL;
}

/* A field of INFO commandstats for cmd ("calls", "rejected_calls"); -1 when absent. */
static long cmd_stat(const char *cmd, const char *field)
{
    redisReply *r = node_cmd("INFO commandstats");
    char key[64], f[40];
    snprintf(key, sizeof(key), "cmdstat_%s:", cmd);
    snprintf(f, sizeof(f), "%s=", field);
    const char *p = r && r->str ? strstr(r->str, key) : NULL;
    const char *q = p ? strstr(p, f) : NULL;
    long n = q ? strtol(q + strlen(f), NULL, 10) : -1;
    freeReplyObject(r);
    return n;
}

static void served_again_within_the_backoff(void **state)
{
    (void)state;
    store_t *s = cluster_store();
    int64_t v;
    take_slot();
    assert_false(cluster_ok());
    int ms = 30;
    pthread_t t;
    long long t0 = mono_ms();
    assert_int_equal(pthread_create(&t, NULL, give_back_later, &ms), 0);
    assert_int_equal(store_config_version(s, &v), 0); /* a GET: CLUSTERDOWN, then served */
    pthread_join(t, NULL);
    assert_true(mono_ms() - t0 >= 20);
    assert_true(cmd_stat("get", "rejected_calls") >= 1);
    assert_true(wait_cluster_ok());

    take_slot(); /* a script (EVALSHA) likewise */
    assert_int_equal(pthread_create(&t, NULL, give_back_later, &ms), 0);
    store_group_spec_t spec = {.name = "busy"};
    store_group_t *g = NULL;
    assert_int_equal(store_group_create(s, &spec, &g), 0); /* "while the cluster is down", then served */
    pthread_join(t, NULL);
    assert_true(cmd_stat("evalsha", "calls") >= 2); /* refused inside the script, then run */
    store_group_free(&g);
    assert_true(wait_cluster_ok());
    store_destroy(&s);
}

static void unserved_gives_the_error_after_bounded_tries(void **state)
{
    (void)state;
    store_t *s = cluster_store();
    take_slot();
    int64_t v;
    long long t0 = mono_ms();
    assert_int_equal(store_config_version(s, &v), ROOST_EUNAVAILABLE); /* not now, rather than wrong */
    long long took = mono_ms() - t0;
    assert_true(took >= 140 && took < 1000); /* 20 + 40 + 80 ms */
    assert_non_null(strstr(store_last_error(s)->reason, "CLUSTERDOWN"));
    assert_int_equal(cmd_stat("get", "rejected_calls"), 4);
    freeReplyObject(node_cmd("CLUSTER ADDSLOTS %u", g_slot));
    assert_true(wait_cluster_ok());
    assert_int_equal(store_config_version(s, &v), 0);
    store_destroy(&s);
}

typedef struct afx {
    bool up;
    int rc;
    bool done;
} afx_t;

static void on_state(bool up, void *arg) { ((afx_t *)arg)->up = up; }
static void on_write(int rc, void *arg)
{
    ((afx_t *)arg)->rc = rc;
    ((afx_t *)arg)->done = true;
}

typedef struct until {
    bool *flag;
    uint64_t end;
} until_t;

static uint64_t check(loop_t *l, void *arg)
{
    until_t *u = arg;
    if (*u->flag || loop_clock_ms() >= u->end) {
        loop_stop(l);
        return 0;
    }
    return 2;
}

static bool spin(loop_t *loop, bool *flag, uint64_t ms)
{
    until_t u = {flag, loop_clock_ms() + ms};
    assert_true(loop_add_timer(loop, 1, check, &u) > 0);
    assert_int_equal(loop_run(loop), 0);
    return *flag;
}

static void async_store_down_cluster_is_temporary(void **state)
{
    (void)state;
    loop_t *loop = loop_new();
    sstore_t *ss = sstore_new(loop, "127.0.0.1", g_node.port, "x:");
    assert_true(loop && ss);
    afx_t a = {0};
    assert_int_equal(sstore_start(ss, on_state, &a), 0);
    assert_true(spin(loop, &a.up, 5000));
    take_slot();
    assert_int_equal(sstore_broker_heartbeat(ss, "b1", "tcp://127.0.0.1:1", 1, 5000, on_write, &a), 0);
    assert_true(spin(loop, &a.done, 5000));
    assert_int_equal(a.rc, ROOST_EUNAVAILABLE);
    freeReplyObject(node_cmd("CLUSTER ADDSLOTS %u", g_slot));
    assert_true(wait_cluster_ok());
    a.done = false;
    assert_int_equal(sstore_broker_heartbeat(ss, "b1", "tcp://127.0.0.1:1", 1, 5000, on_write, &a), 0);
    assert_true(spin(loop, &a.done, 5000));
    assert_int_equal(a.rc, 0);
    sstore_destroy(&ss);
    loop_destroy(&loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(served_again_within_the_backoff),
        cmocka_unit_test(unserved_gives_the_error_after_bounded_tries),
        cmocka_unit_test(async_store_down_cluster_is_temporary),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* Unit tests of the synchronous store (and one of the async store) on a
 * real two-node Redis Cluster (redis_fixture.h with --cluster-enabled): A
 * serves every slot, B none until the {g} slot is moved to it.
 *
 * Busy replies (store.c busy_again; slot_busy): A's slot beside that of
 * P{g}: is taken away (CLUSTER DELSLOTS: the cluster is down, as while a
 * dead primary's replica is not yet promoted: a command gets CLUSTERDOWN,
 * a script "... while the cluster is down") and given back. A command and
 * a script are sent again after a short backoff and succeed once the slot
 * is served again; a cluster that stays down gives ROOST_EUNAVAILABLE (not
 * now) after 1 + 3 attempts (Redis's rejected_calls) within a bounded
 * time. The broker's async store answers a write the down cluster refused
 * with ROOST_EUNAVAILABLE (temporary: not acknowledged, sent again by the
 * device), not ROOST_ESTORE.
 *
 * WAIT (store_wait.c with store.c's drop_conn): a request whose writes
 * went to A and then, after the {g} slot moved to B (a resharding
 * finished under it: "non local key" for a keyless script, as MOVED), to
 * B, WAITs on each: on A as its link is left, on B at the request's end.
 * The slot is moved by hand (SETSLOT IMPORTING/MIGRATING, MIGRATE, SETSLOT
 * NODE). No replicas: each WAIT answers 0 within its 50 ms and the request
 * is reported unconfirmed; Redis's count of WAIT calls per node says where
 * they went. */
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
#include "store/store_priv.h"

static redis_fixture_t g_node, g_b; /* A and B */
static char g_conf[2][128];
static unsigned g_slot; /* a slot beside that of "x:{g}:": unserved, the cluster is down */

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static redisReply *on(const redis_fixture_t *n, const char *fmt, ...)
{
    redisContext *c = redisConnect("127.0.0.1", n->port);
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

#define node_cmd(...) on(&g_node, __VA_ARGS__)

static bool has(const redis_fixture_t *n, const char *cmd, const char *text)
{
    redisReply *r = on(n, cmd);
    bool yes = r && r->str && strstr(r->str, text);
    freeReplyObject(r);
    return yes;
}

static bool cluster_ok(void) { return has(&g_node, "CLUSTER INFO", "cluster_state:ok"); }

static bool wait_cluster_ok(void)
{
    for (int i = 0; i < 200; i++) {
        if (cluster_ok())
            return true;
        redis_fixture_sleep_ms(25);
    }
    return false;
}

static int start_node(redis_fixture_t *n, char *conf)
{
    /* a cluster node's bus listens on port + 10000: the port must be at most 55535 */
    for (int i = 0;; i++) {
        if (redis_fixture_init(n, "store-cluster") < 0)
            return -1;
        if (n->port <= 55535)
            break;
        rmdir(n->dir);
        if (i == 50)
            return -1;
    }
    char port[16];
    snprintf(port, sizeof(port), "%d", n->port);
    snprintf(conf, 128, "%s/nodes.conf", n->dir);
    char *const argv[] = {"redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly",
                          "no", "--dir", n->dir, "--cluster-enabled", "yes", "--cluster-config-file", conf,
                          "--cluster-node-timeout", "5000",
                          /* a primary that gives its last slot away stays one (not a replica of the taker) */
                          "--cluster-allow-replica-migration", "no", NULL};
    return redis_fixture_exec(n, argv);
}

static int setup(void **state)
{
    (void)state;
    if (start_node(&g_node, g_conf[0]) < 0 || start_node(&g_b, g_conf[1]) < 0)
        return -1;
    freeReplyObject(node_cmd("CLUSTER ADDSLOTSRANGE 0 16383"));
    freeReplyObject(node_cmd("CLUSTER MEET 127.0.0.1 %d", g_b.port));
    g_slot = (slot_of("g", 1) + 1) % SLOT_COUNT;
    for (int i = 0; i < 400; i++) { /* both know both, and A serves every slot */
        if (cluster_ok() && has(&g_b, "CLUSTER INFO", "cluster_state:ok") &&
            has(&g_node, "CLUSTER INFO", "cluster_known_nodes:2") && has(&g_b, "CLUSTER INFO", "cluster_known_nodes:2"))
            return 0;
        redis_fixture_sleep_ms(25);
    }
    return -1;
}

static int teardown(void **state)
{
    (void)state;
    redis_fixture_stop(&g_node);
    redis_fixture_stop(&g_b);
    unlink(g_conf[0]); /* the dirs must be empty to go */
    unlink(g_conf[1]);
    redis_fixture_fini(&g_node);
    redis_fixture_fini(&g_b);
    return 0;
}

/* A handle on the cluster (both nodes as seeds) under prefix, WAITing
 * for min_replicas (0: off) within 50 ms, opened. */
static store_t *cluster_store_wait(const char *prefix, int min_replicas)
{
    store_cost_t cost = {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
    store_t *s = store_new("127.0.0.1", g_node.port, prefix, &cost);
    assert_non_null(s);
    char seeds[64];
    snprintf(seeds, sizeof(seeds), "127.0.0.1:%d,127.0.0.1:%d", g_node.port, g_b.port);
    assert_int_equal(store_set_cluster(s, seeds), 0);
    store_set_timeouts(s, 500, 1000);
    store_set_wait(s, min_replicas, 50);
    assert_int_equal(store_open(s), 0);
    return s;
}

static store_t *cluster_store(void)
{
    return cluster_store_wait("x:", 0);
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

/* A field of node n's INFO commandstats for cmd ("calls", "rejected_calls"); -1 when absent. */
static long cmd_stat_on(const redis_fixture_t *n, const char *cmd, const char *field)
{
    redisReply *r = on(n, "INFO commandstats");
    char key[64], f[40];
    snprintf(key, sizeof(key), "cmdstat_%s:", cmd);
    snprintf(f, sizeof(f), "%s=", field);
    const char *p = r && r->str ? strstr(r->str, key) : NULL;
    const char *q = p ? strstr(p, f) : NULL;
    long v = q ? strtol(q + strlen(f), NULL, 10) : -1;
    freeReplyObject(r);
    return v;
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
    assert_true(cmd_stat_on(&g_node, "get", "rejected_calls") >= 1);
    assert_true(wait_cluster_ok());

    take_slot(); /* a script (EVALSHA) likewise */
    assert_int_equal(pthread_create(&t, NULL, give_back_later, &ms), 0);
    store_group_spec_t spec = {.name = "busy"};
    store_group_t *g = NULL;
    assert_int_equal(store_group_create(s, &spec, &g), 0); /* "while the cluster is down", then served */
    pthread_join(t, NULL);
    assert_true(cmd_stat_on(&g_node, "evalsha", "calls") >= 2); /* refused inside the script, then run */
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
    assert_int_equal(cmd_stat_on(&g_node, "get", "rejected_calls"), 4);
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

static void node_id(const redis_fixture_t *n, char out[64])
{
    redisReply *r = on(n, "CLUSTER MYID");
    assert_true(r && r->str);
    snprintf(out, 64, "%s", r->str);
    freeReplyObject(r);
}

/* Moves slot s (and its keys) from one node to the other, as a
 * resharding does. */
static void move_slot_from(const redis_fixture_t *from, const redis_fixture_t *to, unsigned s)
{
    char a[64], b[64];
    node_id(from, a);
    node_id(to, b);
    freeReplyObject(on(to, "CLUSTER SETSLOT %u IMPORTING %s", s, a));
    freeReplyObject(on(from, "CLUSTER SETSLOT %u MIGRATING %s", s, b));
    redisReply *keys = on(from, "CLUSTER GETKEYSINSLOT %u 1000", s);
    assert_true(keys && keys->type == REDIS_REPLY_ARRAY && keys->elements > 0);
    for (size_t i = 0; i < keys->elements; i++) {
        redisReply *m = on(from, "MIGRATE 127.0.0.1 %d %s 0 5000", to->port, keys->element[i]->str);
        assert_true(m && m->type == REDIS_REPLY_STATUS);
        freeReplyObject(m);
    }
    freeReplyObject(keys);
    freeReplyObject(on(to, "CLUSTER SETSLOT %u NODE %s", s, b));
    freeReplyObject(on(from, "CLUSTER SETSLOT %u NODE %s", s, b));
}

static void move_slot(unsigned s) { move_slot_from(&g_node, &g_b, s); }

/* The {g} slot, A's, left half migrated to B: key (set to value on A
 * first) is on B already, so A answers ASK for it. */
static void half_move_key(const char *key, const char *value)
{
    unsigned g = slot_of("g", 1);
    char a[64], b[64];
    node_id(&g_node, a);
    node_id(&g_b, b);
    freeReplyObject(node_cmd("SET %s %s", key, value));
    freeReplyObject(on(&g_b, "CLUSTER SETSLOT %u IMPORTING %s", g, a));
    freeReplyObject(node_cmd("CLUSTER SETSLOT %u MIGRATING %s", g, b));
    redisReply *m = node_cmd("MIGRATE 127.0.0.1 %d %s 0 5000", g_b.port, key);
    if (!m || m->type != REDIS_REPLY_STATUS)
        fail_msg("MIGRATE: %s", m && m->str ? m->str : "-");
    freeReplyObject(m);
}

/* Back as before half_move_key: the key gone, the slot stable and A's. */
static void end_half_move(const char *key)
{
    unsigned g = slot_of("g", 1);
    freeReplyObject(on(&g_b, "MIGRATE 127.0.0.1 %d %s 0 5000", g_node.port, key));
    freeReplyObject(on(&g_b, "CLUSTER SETSLOT %u STABLE", g));
    freeReplyObject(node_cmd("CLUSTER SETSLOT %u STABLE", g));
    freeReplyObject(node_cmd("DEL %s", key));
}

/* A command the slot's migration sends on by ASK and that the target then
 * refuses (here WRONGTYPE; during a resharding also TRYAGAIN for keys split
 * between the nodes) is an error like any other: before, store_cmd
 * answered 0 with the error reply as the result. */
static void ask_target_error_is_an_error(void **state)
{
    (void)state;
    store_t *s = cluster_store();
    half_move_key("ask:{g}:k", "v");
    const char *hget[] = {"HGET", "ask:{g}:k", "f"}; /* not on A any more: ASK B, where it is a string */
    redisReply *r = NULL;
    int rc = store_cmd(s, 3, hget, NULL, &r);
    bool was_error = r && r->type == REDIS_REPLY_ERROR;
    freeReplyObject(r);
    assert_false(was_error);
    assert_int_equal(rc, ROOST_ESTORE);
    assert_non_null(strstr(store_last_error(s)->reason, "WRONGTYPE"));
    end_half_move("ask:{g}:k");
    int64_t v;
    assert_int_equal(store_config_version(s, &v), 0);
    store_destroy(&s);
}

static void waits_on_each_primary_that_took_writes(void **state)
{
    (void)state;
    store_t *s = cluster_store_wait("m:", 1);
    store_wait_begin(s);
    store_group_spec_t one = {.name = "one"}, two = {.name = "two"};
    store_group_t *g = NULL;
    assert_int_equal(store_group_create(s, &one, &g), 0); /* on A */
    store_group_free(&g);
    freeReplyObject(node_cmd("CONFIG RESETSTAT"));
    assert_true(cmd_stat_on(&g_node, "wait", "calls") <= 0 && cmd_stat_on(&g_b, "wait", "calls") <= 0);
    move_slot(slot_of("g", 1));
    assert_int_equal(store_group_create(s, &two, &g), 0); /* refused by A, run on B */
    store_group_free(&g);
    assert_int_equal(cmd_stat_on(&g_node, "wait", "calls"), 1); /* A's link was WAITed on as it was left */
    assert_int_equal(store_wait_writes(s), ROOST_EUNAVAILABLE); /* no replicas anywhere */
    assert_int_equal(cmd_stat_on(&g_b, "wait", "calls"), 1);
    assert_int_equal(cmd_stat_on(&g_node, "wait", "calls"), 1);
    store_destroy(&s);
}

/* MOVED, then ASK at the new owner: the slot moved from B (where the
 * handle's link is) to A, and A is already migrating it back, this key
 * gone to B again. The command is sent again on A after MOVED, and A's ASK
 * is followed there like any other (before: the resend took ASK for an
 * error, ROOST_ESTORE "ASK ..."). Runs after the WAIT case: {g} starts on B. */
static void ask_after_moved_is_followed(void **state)
{
    (void)state;
    store_t *s = cluster_store(); /* its link: B, the {g} slot's owner */
    int64_t v;
    assert_int_equal(store_config_version(s, &v), 0);
    move_slot_from(&g_b, &g_node, slot_of("g", 1)); /* now A's */
    half_move_key("ask2:{g}:k", "moved-twice");
    const char *get[] = {"GET", "ask2:{g}:k"}; /* B: MOVED A; A: ASK B */
    redisReply *r = NULL;
    int rc = store_cmd(s, 2, get, NULL, &r);
    const char *why = store_last_error(s)->reason;
    bool got = rc == 0 && r && r->type == REDIS_REPLY_STRING && strcmp(r->str, "moved-twice") == 0;
    freeReplyObject(r);
    if (!got)
        fail_msg("rc %d reason %s", rc, why ? why : "-");
    end_half_move("ask2:{g}:k");
    store_destroy(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(served_again_within_the_backoff),
        cmocka_unit_test(unserved_gives_the_error_after_bounded_tries),
        cmocka_unit_test(async_store_down_cluster_is_temporary),
        cmocka_unit_test(ask_target_error_is_an_error),
        cmocka_unit_test(waits_on_each_primary_that_took_writes), /* moves {g} to B */
        cmocka_unit_test(ask_after_moved_is_followed),            /* after it: {g} on B */
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

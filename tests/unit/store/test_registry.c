/* Unit tests for lib/store/registry.c (connections, as admin reads them),
 * audit.c and tokens.c against a private redis-server on a free loopback
 * port (stopped by PID). Each test uses its own key prefix. The records are
 * written by the brokers' writer, sstore_conn_* (the only one), run to
 * completion on a loop of the test's own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "base/err.h"
#include "base/loop.h"
#include "redis_fixture.h"
#include "store/audit.h"
#include "store/registry.h"
#include "store/sstore.h"
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

/* ---- the writer: sstore on its own loop, each call waited for ---------- */

typedef struct writer {
    loop_t *l;
    sstore_t *s;
    bool up, done;
    int rc;
    uint64_t deadline;
} writer_t;

static void w_state(bool connected, void *arg) { ((writer_t *)arg)->up = connected; }

static void w_done(int rc, void *arg)
{
    writer_t *w = arg;
    w->rc = rc;
    w->done = true;
}

static uint64_t w_tick(loop_t *l, void *arg)
{
    writer_t *w = arg;
    if (w->done || loop_clock_ms() >= w->deadline) {
        loop_stop(l);
        return 0;
    }
    return 2;
}

/* Runs the loop until the call issued (rc, its return) completes; asserts
 * it succeeded. */
static void w_wait(writer_t *w, int rc)
{
    assert_int_equal(rc, 0);
    w->deadline = loop_clock_ms() + 5000;
    assert_true(loop_add_timer(w->l, 1, w_tick, w) > 0);
    assert_int_equal(loop_run(w->l), 0);
    assert_true(w->done);
    assert_int_equal(w->rc, 0);
    w->done = false;
}

static void w_up(bool connected, void *arg)
{
    w_state(connected, arg);
    w_done(0, arg);
}

static writer_t *w_open(const char *prefix)
{
    writer_t *w = calloc(1, sizeof(*w));
    assert_non_null(w);
    w->l = loop_new();
    w->s = sstore_new(w->l, "127.0.0.1", g_redis.port, prefix);
    assert_non_null(w->l);
    assert_non_null(w->s);
    w_wait(w, sstore_start(w->s, w_up, w));
    assert_true(w->up);
    return w;
}

static void w_close(writer_t **wp)
{
    writer_t *w = *wp;
    sstore_destroy(&w->s);
    loop_destroy(&w->l);
    free(w);
    *wp = NULL;
}

/* A broker's record, its expiry set to now + ttl (the ttl the writer puts
 * with is the one its heartbeat last gave). */
static void put(writer_t *w, const char *broker, const char *mqtt, uint64_t ttl)
{
    const char *groups[] = {"g1", "g2"};
    sstore_conn_t c = {.mqtt_client_id = mqtt, .client_id = "c1", .username = "alice", .peer = "10.0.0.1:5000",
                       .protocol = 4, .keepalive = 60, .connected_at = 1700000000123, .groups = groups,
                       .n_groups = 2};
    w_wait(w, sstore_conn_refresh(w->s, broker, ttl, w_done, w));
    w_wait(w, sstore_conn_put(w->s, broker, &c, w_done, w));
}

static void test_put_list_find_del(void **state)
{
    store_t *s = open_store("t-reg:");
    writer_t *w = w_open("t-reg:");
    put(w, "b1", "dev-1", 60000);
    put(w, "b2", "dev-2", 60000);
    put(w, "b1", "other", 60000);
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

    w_wait(w, sstore_conn_del(w->s, "b2", "dev-2", w_done, w));
    assert_int_equal(store_conn_find(s, "dev-2", &b), ROOST_ENOTFOUND);
    w_wait(w, sstore_conn_clear(w->s, "b1", w_done, w));
    assert_int_equal(store_conn_list(s, NULL, 10, NULL, &p), 0);
    assert_int_equal(p->n, 0);
    store_conn_page_free(&p);
    w_close(&w);
    store_destroy(&s);
}

static void test_pagination(void **state)
{
    store_t *s = open_store("t-page:");
    writer_t *w = w_open("t-page:");
    char id[32];
    for (int i = 0; i < 25; i++) {
        snprintf(id, sizeof(id), "m-%02d", i);
        put(w, i % 2 ? "b1" : "b2", id, 60000);
    }
    w_close(&w);
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

/* A plain hiredis context on the fixture: reads the TTLs and expiry scores
 * the writer left and moves a broker's expiry itself, so expiry is tested
 * without sleeping against the clock. */
static redisContext *raw_open(void)
{
    redisContext *c = redisConnect("127.0.0.1", g_redis.port);
    assert_non_null(c);
    assert_int_equal(c->err, 0);
    return c;
}

/* An integer reply, or the decimal string ZSCORE answers (-1 when nil). */
static long long raw_num(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    long long v = r->type == REDIS_REPLY_INTEGER  ? r->integer
                  : r->type == REDIS_REPLY_STRING ? atoll(r->str)
                                                  : -1;
    assert_true(r->type == REDIS_REPLY_INTEGER || r->type == REDIS_REPLY_STRING ||
                r->type == REDIS_REPLY_NIL);
    freeReplyObject(r);
    return v;
}

static long long wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* put and refresh set the hash's PEXPIRE to ttl and the broker's score to
 * now + ttl (bracketed by the wall clock read before and after the call). */
static void test_writer_ttls(void **state)
{
    writer_t *w = w_open("t-ttl:");
    redisContext *r = raw_open();
    long long t0 = wall_ms();
    put(w, "b1", "d-1", 1000);
    long long t1 = wall_ms();
    long long pttl = raw_num(r, "PTTL t-ttl:{g}:conns:b1");
    assert_true(pttl > 0 && pttl <= 1000);
    long long score = raw_num(r, "ZSCORE t-ttl:{g}:conns:brokers b1");
    assert_true(score >= t0 + 1000 && score <= t1 + 1000);

    t0 = wall_ms();
    w_wait(w, sstore_conn_refresh(w->s, "b1", 60000, w_done, w));
    t1 = wall_ms();
    pttl = raw_num(r, "PTTL t-ttl:{g}:conns:b1");
    assert_true(pttl > 59000 && pttl <= 60000);
    score = raw_num(r, "ZSCORE t-ttl:{g}:conns:brokers b1");
    assert_true(score >= t0 + 60000 && score <= t1 + 60000);

    /* A broker with no records yet: its score moves, no empty hash appears. */
    t0 = wall_ms();
    w_wait(w, sstore_conn_refresh(w->s, "b2", 5000, w_done, w));
    t1 = wall_ms();
    assert_int_equal(raw_num(r, "EXISTS t-ttl:{g}:conns:b2"), 0);
    score = raw_num(r, "ZSCORE t-ttl:{g}:conns:brokers b2");
    assert_true(score >= t0 + 5000 && score <= t1 + 5000);

    sstore_conn_t c = {.mqtt_client_id = "x"};
    assert_int_equal(sstore_conn_put(w->s, "", &c, w_done, w), ROOST_EINVAL);
    assert_int_equal(sstore_conn_refresh(w->s, "b1", 0, w_done, w), ROOST_EINVAL);
    redisFree(r);
    w_close(&w);
}

/* A broker whose expiry score has passed is gone for readers even while its
 * hash is still in Redis (PEXPIRE and the score are not one clock), and
 * listing prunes it from the broker set. The expiry is moved directly in
 * Redis: no sleeping against a TTL. */
static void test_expired_broker_is_invisible(void **state)
{
    store_t *s = open_store("t-exp:");
    redisContext *r = raw_open();
    writer_t *w = w_open("t-exp:");
    put(w, "dead", "d-1", 60000);
    put(w, "live", "l-1", 60000);
    put(w, "live", "d-1", 60000); /* the same MQTT id under a live broker, as in a takeover */
    w_close(&w);
    assert_int_equal(raw_num(r, "ZADD t-exp:{g}:conns:brokers %lld dead", wall_ms() - 1), 0);
    assert_int_equal(raw_num(r, "EXISTS t-exp:{g}:conns:dead"), 1);

    char *b = NULL;
    assert_int_equal(store_conn_find(s, "d-1", &b), 0);
    assert_string_equal(b, "live");
    free(b);
    store_conn_page_t *p = NULL;
    assert_int_equal(store_conn_list(s, NULL, 10, NULL, &p), 0);
    assert_int_equal(p->n, 2);
    assert_int_equal(p->total, 2);
    assert_string_equal(p->items[0].mqtt_client_id, "d-1");
    assert_string_equal(p->items[0].broker, "live");
    assert_string_equal(p->items[1].mqtt_client_id, "l-1");
    assert_string_equal(p->items[1].broker, "live");
    store_conn_page_free(&p);
    assert_int_equal(raw_num(r, "ZSCORE t-exp:{g}:conns:brokers dead"), -1);

    /* Once the live broker's expiry passes too, nothing is found. */
    assert_int_equal(raw_num(r, "ZADD t-exp:{g}:conns:brokers %lld live", wall_ms() - 1), 0);
    assert_int_equal(store_conn_find(s, "l-1", &b), ROOST_ENOTFOUND);
    assert_null(b);
    assert_int_equal(store_conn_list(s, NULL, 10, NULL, &p), 0);
    assert_int_equal(p->n, 0);
    store_conn_page_free(&p);
    redisFree(r);
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
        cmocka_unit_test(test_writer_ttls),
        cmocka_unit_test(test_expired_broker_is_invisible), cmocka_unit_test(test_audit),
        cmocka_unit_test(test_tokens),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

/* Unit tests for lib/store/sstore.c (the broker's async cluster state)
 * against a private redis-server (sstore_test.h): the cluster-wide state
 * (membership, retained messages, the connection registry admin reads)
 * and the handle's link: replies in issue order behind a barrier (also
 * after SCRIPT FLUSH), calls failing with ROOST_EUNAVAILABLE while Redis
 * is down and working again once it is back, a stalled Redis dropped
 * after the stall limit, pending calls failed by destroy. Per-client
 * state (leases, sessions, subscriptions, queues): test_sstore_session.c. */
#include <jansson.h>

#include "sstore_test.h"
#include "store/registry.h"

typedef struct peers_res {
    bool done;
    int rc;
    size_t n;
    char ids[4][32];
    char eps[4][64];
    uint64_t started[4];
} peers_res_t;

static void peers_cb(int rc, const sstore_peer_t *p, size_t n, void *arg)
{
    peers_res_t *r = arg;
    r->done = true;
    r->rc = rc;
    r->n = n;
    for (size_t i = 0; i < n && i < 4; i++) {
        snprintf(r->ids[i], sizeof(r->ids[i]), "%s", p[i].id);
        snprintf(r->eps[i], sizeof(r->eps[i]), "%s", p[i].endpoint);
        r->started[i] = p[i].started_ms;
    }
}

static peers_res_t list_peers(fx_t *f)
{
    peers_res_t r = {0};
    assert_int_equal(sstore_broker_list(f->s, peers_cb, &r), 0);
    assert_true(run_until(f, &r.done, 3000));
    assert_int_equal(r.rc, 0);
    return r;
}

/* ---- membership -------------------------------------------------------------------- */

static void test_membership(void **state)
{
    fx_t *f = *state;
    DO(f, sstore_broker_heartbeat(f->s, "b1", "tcp://10.0.0.1:5555", 1700000000123ull, 10000,
                                  done_cb, &r));
    DO(f, sstore_broker_heartbeat(f->s, "b2", "tcp://10.0.0.2:5555", 42, 150, done_cb, &r));
    peers_res_t p = list_peers(f);
    assert_int_equal(p.n, 2);
    int i1 = strcmp(p.ids[0], "b1") == 0 ? 0 : 1;
    assert_string_equal(p.ids[i1], "b1");
    assert_string_equal(p.eps[i1], "tcp://10.0.0.1:5555");
    assert_int_equal(p.started[i1], 1700000000123ull);
    assert_string_equal(p.ids[1 - i1], "b2");
    assert_int_equal(p.started[1 - i1], 42);

    run_for(f, 300); /* b2's alive key expires */
    p = list_peers(f);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.ids[0], "b1");
    assert_int_equal(raw_int(f, "HEXISTS " GPFX "brokers %s", "b2", NULL), 0);

    DO(f, sstore_broker_leave(f->s, "b1", done_cb, &r));
    assert_int_equal(raw_int(f, "EXISTS " GPFX "broker:%s:alive", "b1", NULL), 0);
    p = list_peers(f);
    assert_int_equal(p.n, 0);
}

/* ---- retained ------------------------------------------------------------------------------ */

typedef struct msgs_res {
    bool done;
    int rc;
    size_t n;
    char topic[4][16];
    size_t payload_len[4];
    uint8_t payload[4][16];
    uint8_t qos[4];
    bool retain[4];
} msgs_res_t;

static void msgs_cb(int rc, const sstore_msg_t *m, size_t n, void *arg)
{
    msgs_res_t *r = arg;
    r->done = true;
    r->rc = rc;
    r->n = n;
    for (size_t i = 0; i < n && i < 4; i++) {
        assert_true(m[i].topic_len < 16 && m[i].payload_len < 16);
        memcpy(r->topic[i], m[i].topic, m[i].topic_len);
        memcpy(r->payload[i], m[i].payload, m[i].payload_len);
        r->payload_len[i] = m[i].payload_len;
        r->qos[i] = m[i].qos;
        r->retain[i] = m[i].retain;
    }
}

static msgs_res_t retained(fx_t *f)
{
    msgs_res_t r = {0};
    assert_int_equal(sstore_retain_load(f->s, msgs_cb, &r), 0);
    assert_true(run_until(f, &r.done, 3000));
    assert_int_equal(r.rc, 0);
    return r;
}

static void mark_cb(int rc, const char *mark, void *arg)
{
    res_t *r = arg;
    r->done = true;
    r->rc = rc;
    snprintf(r->text, sizeof(r->text), "%s", mark ? mark : "");
}

static res_t retain_mark(fx_t *f)
{
    res_t r = {0};
    assert_int_equal(sstore_retain_mark(f->s, mark_cb, &r), 0);
    assert_true(run_until(f, &r.done, 3000));
    assert_int_equal(r.rc, 0);
    return r;
}

typedef struct since_res {
    msgs_res_t m;
    char mark[SSTORE_MARK_MAX];
    bool whole;
} since_res_t;

static void since_cb(int rc, const sstore_msg_t *msgs, size_t n, const char *mark, bool whole,
                     void *arg)
{
    since_res_t *r = arg;
    msgs_cb(rc, msgs, n, &r->m);
    snprintf(r->mark, sizeof(r->mark), "%s", mark ? mark : "");
    r->whole = whole;
}

static since_res_t retained_since(fx_t *f, const char *mark)
{
    since_res_t r = {0};
    assert_int_equal(sstore_retain_load_since(f->s, mark, since_cb, &r), 0);
    assert_true(run_until(f, &r.m.done, 3000));
    assert_int_equal(r.m.rc, 0);
    return r;
}

static void test_retain(void **state)
{
    fx_t *f = *state;
    static const uint8_t pl[] = {'h', 0, 'i'};
    sstore_msg_t a = {.topic = "r/a", .topic_len = 3, .payload = pl, .payload_len = 3, .qos = 1,
                      .retain = true};
    sstore_msg_t b = {.topic = "r/b", .topic_len = 3, .payload = pl, .payload_len = 1, .qos = 2,
                      .retain = true};
    DO(f, sstore_retain_put(f->s, &a, done_cb, &r));
    DO(f, sstore_retain_put(f->s, &b, done_cb, &r));
    a.qos = 0; /* replaces */
    DO(f, sstore_retain_put(f->s, &a, done_cb, &r));
    msgs_res_t m = retained(f);
    assert_int_equal(m.n, 2);
    int ia = strcmp(m.topic[0], "r/a") == 0 ? 0 : 1;
    assert_string_equal(m.topic[ia], "r/a");
    assert_int_equal(m.qos[ia], 0);
    assert_true(m.retain[ia]);
    assert_int_equal(m.payload_len[ia], 3);
    assert_memory_equal(m.payload[ia], pl, 3);
    assert_int_equal(m.qos[1 - ia], 2);
    assert_int_equal(m.payload_len[1 - ia], 1);
    DO(f, sstore_retain_del(f->s, "r/a", 3, done_cb, &r));
    m = retained(f);
    assert_int_equal(m.n, 1);
    assert_string_equal(m.topic[0], "r/b");

    /* an entry nobody can read is left out; the others are still read */
    freeReplyObject(raw(f, "HSET " GPFX "retained r/bad %b", "\xff\x01", (size_t)2));
    m = retained(f);
    assert_int_equal(m.n, 1);
    assert_string_equal(m.topic[0], "r/b");
    freeReplyObject(raw(f, "HDEL " GPFX "retained r/bad"));

    /* the log of puts: a re-read since a mark gets the topics put after
     * it that still hold a message, each once, and the mark now */
    res_t k = retain_mark(f);
    assert_int_equal(raw_int(f, "XLEN " GPFX "retained:log", NULL, NULL), 3);
    since_res_t d = retained_since(f, "0-0");
    assert_false(d.whole);
    assert_string_equal(d.mark, k.text);
    assert_int_equal(d.m.n, 1); /* r/a (put twice) deleted since: not reported */
    assert_string_equal(d.m.topic[0], "r/b");
    sstore_msg_t c = {.topic = "r/c", .topic_len = 3, .payload = pl, .payload_len = 2, .qos = 1,
                      .retain = true};
    DO(f, sstore_retain_put(f->s, &c, done_cb, &r));
    d = retained_since(f, k.text);
    assert_false(d.whole);
    assert_int_equal(d.m.n, 1);
    assert_string_equal(d.m.topic[0], "r/c");
    assert_int_equal(d.m.payload_len[0], 2);
    assert_int_equal(d.m.qos[0], 1);
    assert_string_equal(d.mark, retain_mark(f).text);
    since_res_t none = retained_since(f, d.mark);
    assert_int_equal(none.m.n, 0);
    assert_false(none.whole);
    char mark[SSTORE_MARK_MAX];
    snprintf(mark, sizeof(mark), "%s", d.mark);
    DO(f, sstore_retain_put(f->s, &c, done_cb, &r)); /* twice: reported once */
    DO(f, sstore_retain_put(f->s, &c, done_cb, &r));
    d = retained_since(f, mark);
    assert_int_equal(d.m.n, 1);
    assert_string_equal(d.m.topic[0], "r/c");

    /* puts after the mark trimmed from the log: it cannot tell, read it all */
    freeReplyObject(raw(f, "XTRIM " GPFX "retained:log MAXLEN 1"));
    d = retained_since(f, mark);
    assert_true(d.whole);
    assert_int_equal(d.m.n, 0);
    assert_false(retained_since(f, retain_mark(f).text).whole); /* from the last: fine */

    /* a replaced set (FLUSHALL): the log is behind the mark, or gone */
    freeReplyObject(raw(f, "FLUSHALL"));
    assert_true(retained_since(f, mark).whole);
    assert_string_equal(retain_mark(f).text, "0-0");
    assert_false(retained_since(f, "0-0").whole);
    DO(f, sstore_retain_put(f->s, &c, done_cb, &r));
    assert_true(retained_since(f, mark).whole); /* a new log, behind the old mark */
    freeReplyObject(raw(f, "XTRIM " GPFX "retained:log MAXLEN 0")); /* from 0-0: trimmed */
    assert_true(retained_since(f, "0-0").whole);
    freeReplyObject(raw(f, "DEL " GPFX "retained:log")); /* stored without a log */
    assert_true(retained_since(f, "0-0").whole);
    res_t bad = {0};
    assert_int_equal(sstore_retain_load_since(f->s, "", since_cb, &bad), ROOST_EINVAL);
}

/* ---- registry ------------------------------------------------------------------------------- */

static void test_conn_registry(void **state)
{
    fx_t *f = *state;
    DO(f, sstore_conn_refresh(f->s, "b1", 5000, done_cb, &r));
    const char *groups[] = {"g1", "g2"};
    sstore_conn_t c = {.mqtt_client_id = "dev-1", .client_id = "cl1", .username = "u",
                       .peer = "10.0.0.9:4242", .protocol = 4, .keepalive = 60,
                       .connected_at = 1700000000000ull, .groups = groups, .n_groups = 2};
    DO(f, sstore_conn_put(f->s, "b1", &c, done_cb, &r));

    redisReply *g = raw(f, "HGET " GPFX "conns:b1 dev-1");
    assert_int_equal(g->type, REDIS_REPLY_STRING);
    json_t *j = json_loads(g->str, 0, NULL);
    freeReplyObject(g);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "peer")), "10.0.0.9:4242");
    assert_int_equal(json_integer_value(json_object_get(j, "protocol")), 4);
    assert_int_equal(json_integer_value(json_object_get(j, "connected_at")), 1700000000000ll);
    assert_int_equal(json_array_size(json_object_get(j, "groups")), 2);
    json_decref(j);
    long long pttl = raw_int(f, "PTTL " GPFX "conns:b1", NULL, NULL);
    assert_true(pttl > 0 && pttl <= 5000);

    /* registry.c, the reader admin uses, finds it */
    store_t *st = store_new("127.0.0.1", f->r.port, PFX, NULL);
    assert_non_null(st);
    char *broker = NULL;
    assert_int_equal(store_conn_find(st, "dev-1", &broker), 0);
    assert_string_equal(broker, "b1");
    free(broker);
    store_conn_page_t *page = NULL;
    assert_int_equal(store_conn_list(st, NULL, 10, NULL, &page), 0);
    assert_int_equal(page->n, 1);
    assert_string_equal(page->items[0].mqtt_client_id, "dev-1");
    assert_string_equal(page->items[0].broker, "b1");
    assert_string_equal(page->items[0].username, "u");
    assert_int_equal(page->items[0].keepalive, 60);
    assert_int_equal(page->items[0].n_groups, 2);
    assert_string_equal(page->items[0].groups[1], "g2");
    store_conn_page_free(&page);

    DO(f, sstore_conn_del(f->s, "b1", "dev-1", done_cb, &r));
    assert_int_equal(store_conn_find(st, "dev-1", &broker), ROOST_ENOTFOUND);
    DO(f, sstore_conn_put(f->s, "b1", &c, done_cb, &r));
    DO(f, sstore_conn_clear(f->s, "b1", done_cb, &r));
    assert_int_equal(raw_int(f, "EXISTS " GPFX "conns:b1", NULL, NULL), 0);
    assert_int_equal(raw_int(f, "ZCARD " GPFX "conns:brokers", NULL, NULL), 0);
    store_destroy(&st);
}

/* ---- ordering, failures, reconnect ---------------------------------------------------------- */

typedef struct seq_item {
    int *log;
    int *n;
    int id;
} seq_item_t;

static void seq_cb(int rc, void *arg)
{
    seq_item_t *it = arg;
    assert_int_equal(rc, 0);
    it->log[(*it->n)++] = it->id;
}

static void test_barrier_order(void **state)
{
    fx_t *f = *state;
    int log[8], n = 0;
    seq_item_t it[8];
    for (int i = 0; i < 8; i++)
        it[i] = (seq_item_t){log, &n, i};
    res_t b = {0};
    assert_int_equal(sstore_session_touch(f->s, "o", 1, "b1", NULL, seq_cb, &it[0]), 0);
    assert_int_equal(sstore_sub_put(f->s, "o", 1, "a", 1, 1, seq_cb, &it[1]), 0);
    assert_int_equal(sstore_rx2_add(f->s, "o", 1, 3, seq_cb, &it[2]), 0);
    assert_int_equal(sstore_lease_release(f->s, "o", 1, "b1", seq_cb, &it[3]), 0);
    assert_int_equal(sstore_barrier(f->s, done_cb, &b), 0);
    assert_int_equal(n, 0); /* never inside the issuing call */
    assert_false(b.done);
    assert_true(run_until(f, &b.done, 3000));
    assert_int_equal(n, 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(log[i], i);

    /* after SCRIPT FLUSH a script call falls back to EVAL; the barrier still
     * waits for it */
    freeReplyObject(raw(f, "SCRIPT FLUSH"));
    n = 0;
    b = (res_t){0};
    assert_int_equal(sstore_sub_put(f->s, "o", 1, "b", 1, 1, seq_cb, &it[0]), 0);
    assert_int_equal(sstore_barrier(f->s, done_cb, &b), 0);
    assert_true(run_until(f, &b.done, 3000));
    assert_int_equal(n, 1);
    assert_int_equal(raw_int(f, "HLEN " PFX "subs:{c:o}", NULL, NULL), 2);
}

static void test_unavailable_and_reconnect(void **state)
{
    fx_t *f = *state;
    res_t inflight = {0}, refused = {0};
    assert_int_equal(sstore_session_touch(f->s, "z", 1, "b1", NULL, done_cb, &inflight), 0);
    redis_stop(f);
    assert_true(run_until(f, &inflight.done, 3000));
    assert_int_equal(inflight.rc, ROOST_EUNAVAILABLE);
    assert_int_equal(inflight.calls, 1);
    run_for(f, 50);
    assert_false(f->up);
    assert_int_equal(f->downs, 1);
    assert_false(sstore_connected(f->s));

    assert_int_equal(sstore_session_touch(f->s, "z", 1, "b1", NULL, done_cb, &refused),
                     ROOST_EUNAVAILABLE);
    assert_int_equal(sstore_barrier(f->s, done_cb, &refused), ROOST_EUNAVAILABLE);
    assert_int_equal(sstore_broker_list(f->s, peers_cb, &refused), ROOST_EUNAVAILABLE);
    run_for(f, 300); /* a few failed reconnect attempts */
    assert_int_equal(refused.calls, 0);
    assert_false(f->up);

    redis_start(f); /* same port */
    assert_true(run_until(f, &f->up, 5000));
    assert_int_equal(f->ups, 2);
    DO(f, sstore_broker_heartbeat(f->s, "b1", "tcp://a:1", 1, 10000, done_cb, &r));
    peers_res_t p = list_peers(f);
    assert_int_equal(p.n, 1);
}

/* A Redis that stops answering (SIGSTOP) is dropped after the stall limit
 * (10 s): the command in flight fails, and the link comes back with Redis. */
static void test_stalled_redis(void **state)
{
    fx_t *f = *state;
    res_t a = {0};
    assert_int_equal(sstore_session_touch(f->s, "s", 1, "b1", NULL, done_cb, &a), 0);
    kill(f->r.pid, SIGSTOP);
    bool ok = run_until(f, &a.done, 15000);
    kill(f->r.pid, SIGCONT);
    assert_true(ok);
    assert_int_equal(a.rc, ROOST_EUNAVAILABLE);
    assert_false(sstore_connected(f->s));
    assert_true(run_until(f, &f->up, 5000));
    DO(f, sstore_session_touch(f->s, "s", 1, "b1", NULL, done_cb, &r));
}

static void test_destroy_fails_pending(void **state)
{
    fx_t *f = *state;
    res_t a = {0}, b = {0};
    assert_int_equal(sstore_session_touch(f->s, "d", 1, "b1", NULL, done_cb, &a), 0);
    assert_int_equal(sstore_barrier(f->s, done_cb, &b), 0);
    sstore_destroy(&f->s);
    assert_true(a.done && b.done);
    assert_int_equal(a.rc, ROOST_EUNAVAILABLE);
    assert_int_equal(b.rc, ROOST_EUNAVAILABLE);
    assert_int_equal(f->downs, 0); /* on_state is not called by destroy */

    /* a handle that never reaches Redis: calls fail at once */
    sstore_t *s = sstore_new(f->loop, "127.0.0.1", redis_fixture_free_port(), PFX);
    assert_non_null(s);
    assert_int_equal(sstore_start(s, NULL, NULL), 0);
    run_for(f, 150);
    assert_false(sstore_connected(s));
    assert_int_equal(sstore_barrier(s, done_cb, &a), ROOST_EUNAVAILABLE);
    sstore_destroy(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_membership, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn_registry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_barrier_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unavailable_and_reconnect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stalled_redis, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_fails_pending, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

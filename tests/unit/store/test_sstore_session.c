/* Unit tests for lib/store/sstore.c's per-client state against a private
 * redis-server (sstore_test.h): leases (who holds a client id, taken over
 * from a dead holder), sessions (touch, load, clear), subscriptions and
 * the cluster-wide persistent-subscription index with its version, queued
 * messages (push, limits, ack; written only for a session that exists,
 * under its TTL) and the QoS 2 packet id sets. */
#include "sstore_test.h"

#include <time.h>

/* ---- leases ---------------------------------------------------------------------------- */

typedef struct lease_res {
    bool done;
    int rc;
    char prev[64];
    bool alive;
} lease_res_t;

static void lease_cb(int rc, const char *prev, bool alive, void *arg)
{
    lease_res_t *r = arg;
    r->done = true;
    r->rc = rc;
    snprintf(r->prev, sizeof(r->prev), "%s", prev);
    r->alive = alive;
}

static lease_res_t take(fx_t *f, const char *cid, size_t len, const char *b)
{
    lease_res_t r = {0};
    assert_int_equal(sstore_lease_take(f->s, cid, len, b, NULL, false, lease_cb, &r), 0);
    assert_true(run_until(f, &r.done, 3000));
    assert_int_equal(r.rc, 0);
    return r;
}

static void test_lease(void **state)
{
    fx_t *f = *state;
    static const char cid[] = "dev\0ice";
    size_t n = sizeof(cid) - 1;
    lease_res_t l = take(f, cid, n, "b1");
    assert_string_equal(l.prev, "");
    assert_false(l.alive);

    l = take(f, cid, n, "b2"); /* b1 never heartbeated: dead */
    assert_string_equal(l.prev, "b1");
    assert_false(l.alive);

    DO(f, sstore_broker_heartbeat(f->s, "b2", "tcp://x:1", 1, 10000, done_cb, &r));
    l = take(f, cid, n, "b3");
    assert_string_equal(l.prev, "b2");
    assert_true(l.alive);

    DO(f, sstore_lease_release(f->s, cid, n, "b2", done_cb, &r)); /* not the holder */
    redisReply *g = raw(f, "GET " PFX "lease:{c:%b}", cid, n);
    assert_int_equal(g->type, REDIS_REPLY_STRING);
    assert_string_equal(g->str, "b3");
    freeReplyObject(g);
    DO(f, sstore_lease_release(f->s, cid, n, "b3", done_cb, &r));
    g = raw(f, "EXISTS " PFX "lease:{c:%b}", cid, n);
    assert_int_equal(g->integer, 0);
    freeReplyObject(g);
}

/* ---- sessions and subscriptions -------------------------------------------------------- */

typedef struct sess_res {
    bool done;
    int rc;
    bool exists;
    size_t n_subs, n_msgs, n_rx2, n_rel;
    char filters[4][32];
    uint8_t sub_qos[4];
    char ids[4][32];
    uint8_t qos[4];
    bool retain[4];
    char topic[4][32];
    size_t topic_len[4];
    uint8_t payload[4][32];
    size_t payload_len[4];
    uint16_t rx2[4], rel[4];
} sess_res_t;

static void sess_cb(int rc, const sstore_session_t *s, void *arg)
{
    sess_res_t *r = arg;
    r->done = true;
    r->rc = rc;
    assert_non_null(s);
    r->exists = s->exists;
    r->n_subs = s->n_subs;
    r->n_msgs = s->n_msgs;
    r->n_rx2 = s->n_rx2;
    r->n_rel = s->n_rel;
    for (size_t i = 0; i < s->n_subs && i < 4; i++) {
        assert_true(s->subs[i].filter_len < 32);
        memcpy(r->filters[i], s->subs[i].filter, s->subs[i].filter_len);
        r->sub_qos[i] = s->subs[i].qos;
    }
    for (size_t i = 0; i < s->n_msgs && i < 4; i++) {
        const sstore_msg_t *m = &s->msgs[i];
        snprintf(r->ids[i], sizeof(r->ids[i]), "%s", m->entry_id);
        r->qos[i] = m->qos;
        r->retain[i] = m->retain;
        assert_true(m->topic_len < 32 && m->payload_len < 32);
        memcpy(r->topic[i], m->topic, m->topic_len);
        r->topic_len[i] = m->topic_len;
        memcpy(r->payload[i], m->payload, m->payload_len);
        r->payload_len[i] = m->payload_len;
    }
    for (size_t i = 0; i < s->n_rx2 && i < 4; i++)
        r->rx2[i] = s->rx2[i];
    for (size_t i = 0; i < s->n_rel && i < 4; i++)
        r->rel[i] = s->rel[i];
}

static sess_res_t load(fx_t *f, const char *cid, size_t len)
{
    sess_res_t r = {0};
    assert_int_equal(sstore_session_load(f->s, cid, len, sess_cb, &r), 0);
    assert_true(run_until(f, &r.done, 3000));
    assert_int_equal(r.rc, 0);
    return r;
}

static void test_session_touch_load_clear(void **state)
{
    fx_t *f = *state;
    sess_res_t s = load(f, "c1", 2);
    assert_false(s.exists);
    assert_int_equal(s.n_subs + s.n_msgs + s.n_rx2 + s.n_rel, 0);

    DO(f, sstore_session_touch(f->s, "c1", 2, "b1", NULL, done_cb, &r));
    redisReply *g = raw(f, "HGET " PFX "sess:{c:c1} owner");
    assert_string_equal(g->str, "b1");
    freeReplyObject(g);
    DO(f, sstore_sub_put(f->s, "c1", 2, "a/+", 3, 1, done_cb, &r));
    DO(f, sstore_rx2_add(f->s, "c1", 2, 10, done_cb, &r));
    s = load(f, "c1", 2);
    assert_true(s.exists);
    assert_int_equal(s.n_subs, 1);
    assert_int_equal(s.n_rx2, 1);

    DO(f, sstore_session_clear(f->s, "c1", 2, done_cb, &r));
    s = load(f, "c1", 2);
    assert_false(s.exists);
    assert_int_equal(s.n_subs + s.n_msgs + s.n_rx2 + s.n_rel, 0);
    assert_int_equal(raw_int(f, "HLEN " GPFX "psubs", NULL, NULL), 0);
}

typedef struct psubs_res {
    bool done;
    int rc;
    size_t n;
    uint64_t ver;
    char cid[4][16];
    size_t cid_len[4];
    char filter[4][16];
    uint8_t qos[4];
} psubs_res_t;

static void psubs_cb(int rc, const sstore_sub_t *subs, size_t n, uint64_t ver, void *arg)
{
    psubs_res_t *r = arg;
    r->done = true;
    r->rc = rc;
    r->n = n;
    r->ver = ver;
    for (size_t i = 0; i < n && i < 4; i++) {
        assert_true(subs[i].cid_len < 16 && subs[i].filter_len < 16);
        memcpy(r->cid[i], subs[i].cid, subs[i].cid_len);
        r->cid_len[i] = subs[i].cid_len;
        memcpy(r->filter[i], subs[i].filter, subs[i].filter_len);
        r->qos[i] = subs[i].qos;
    }
}

static psubs_res_t psubs(fx_t *f)
{
    psubs_res_t r = {0};
    assert_int_equal(sstore_psubs_load(f->s, psubs_cb, &r), 0);
    assert_true(run_until(f, &r.done, 3000));
    assert_int_equal(r.rc, 0);
    return r;
}

static void version_cb(int rc, uint64_t v, void *arg)
{
    res_t *r = arg;
    r->done = true;
    r->rc = rc;
    r->u = v;
}

static uint64_t version(fx_t *f)
{
    res_t r = {0};
    assert_int_equal(sstore_psubs_version(f->s, version_cb, &r), 0);
    assert_true(run_until(f, &r.done, 3000));
    assert_int_equal(r.rc, 0);
    return r.u;
}

static void test_subs_psubs_version(void **state)
{
    fx_t *f = *state;
    static const char cid[] = "x\0y"; /* a NUL inside the client id */
    size_t n = 3;
    assert_int_equal(version(f), 0);
    DO(f, sstore_sub_put(f->s, cid, n, "a/+", 3, 1, done_cb, &r));
    DO(f, sstore_sub_put(f->s, cid, n, "b/#", 3, 2, done_cb, &r));
    assert_int_equal(version(f), 2);
    DO(f, sstore_sub_put(f->s, cid, n, "b/#", 3, 2, done_cb, &r)); /* unchanged */
    assert_int_equal(version(f), 2);
    DO(f, sstore_sub_put(f->s, cid, n, "b/#", 3, 0, done_cb, &r)); /* qos change */
    assert_int_equal(version(f), 3);

    psubs_res_t p = psubs(f);
    assert_int_equal(p.n, 2);
    assert_int_equal(p.ver, 3);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(p.cid_len[i], 3);
        assert_memory_equal(p.cid[i], cid, 3);
        if (strcmp(p.filter[i], "a/+") == 0)
            assert_int_equal(p.qos[i], 1);
        else {
            assert_string_equal(p.filter[i], "b/#");
            assert_int_equal(p.qos[i], 0);
        }
    }
    sess_res_t s = load(f, cid, n);
    assert_int_equal(s.n_subs, 2);
    assert_false(s.exists); /* subscriptions alone do not make a session */

    DO(f, sstore_sub_del(f->s, cid, n, "a/+", 3, done_cb, &r));
    assert_int_equal(version(f), 4);
    DO(f, sstore_sub_del(f->s, cid, n, "a/+", 3, done_cb, &r)); /* absent: no bump */
    assert_int_equal(version(f), 4);
    p = psubs(f);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.filter[0], "b/#");
    s = load(f, cid, n);
    assert_int_equal(s.n_subs, 1);
    assert_string_equal(s.filters[0], "b/#");
    assert_int_equal(s.sub_qos[0], 0);

    res_t r = {0};
    assert_int_equal(sstore_sub_put(f->s, cid, n, "q", 1, 3, done_cb, &r), ROOST_EINVAL);
    assert_int_equal(sstore_sub_put(f->s, cid, n, "a\0b", 3, 1, done_cb, &r), ROOST_EINVAL);
    run_for(f, 20);
    assert_int_equal(r.calls, 0);
}

/* ---- queues ------------------------------------------------------------------------------- */

static void push_cb(int rc, size_t dropped, void *arg)
{
    res_t *r = arg;
    r->done = true;
    r->rc = rc;
    r->n = dropped;
    r->calls++;
}

static size_t push(fx_t *f, const sstore_msg_t *m, const char *const *cids, const size_t *lens,
                   const uint8_t *qos, size_t n, size_t max)
{
    res_t r = {0};
    assert_int_equal(sstore_queue_push(f->s, m, cids, lens, qos, n, max, push_cb, &r), 0);
    assert_true(run_until(f, &r.done, 3000));
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.calls, 1);
    return r.n;
}

static void test_queue(void **state)
{
    fx_t *f = *state;
    static const char topic[] = "t/\0/x";
    static const uint8_t payload[] = {0, 1, 0, 0xff, 0};
    const char *cids[] = {"A", "B\0b", "C"};
    const size_t lens[] = {1, 3, 1};
    const uint8_t qos[] = {1, 2, 0};
    sstore_msg_t m = {.entry_id = "b1:1", .topic = topic, .topic_len = sizeof(topic) - 1,
                      .payload = payload, .payload_len = sizeof(payload), .qos = 2,
                      .retain = true};
    for (size_t i = 0; i < 3; i++) /* queues are written for existing sessions only */
        DO(f, sstore_session_touch(f->s, cids[i], lens[i], "b1", NULL, done_cb, &r));
    assert_int_equal(push(f, &m, cids, lens, qos, 3, 2), 0);
    /* an online session (no TTLs): its queue has none either */
    assert_int_equal(raw_int(f, "PTTL " PFX "q:{c:A}", NULL, NULL), -1);
    assert_int_equal(raw_int(f, "PTTL " PFX "qm:{c:A}", NULL, NULL), -1);
    assert_int_equal(push(f, &m, cids, lens, qos, 3, 2), 0); /* same id: idempotent */
    m.entry_id = "b1:2";
    m.retain = false;
    m.payload_len = 0;
    assert_int_equal(push(f, &m, cids, lens, qos, 2, 2), 0); /* A and B only */
    m.entry_id = "b1:3";
    assert_int_equal(push(f, &m, cids, lens, qos, 3, 2), 2); /* A, B full */
    m.entry_id = "b1:4";
    assert_int_equal(push(f, &m, cids, lens, qos, 3, 0), 0); /* no limit */

    sess_res_t a = load(f, "A", 1);
    assert_int_equal(a.n_msgs, 3);
    assert_string_equal(a.ids[0], "b1:1");
    assert_string_equal(a.ids[1], "b1:2");
    assert_string_equal(a.ids[2], "b1:4");
    assert_int_equal(a.qos[0], 1);
    assert_true(a.retain[0]);
    assert_false(a.retain[1]);
    assert_int_equal(a.topic_len[0], sizeof(topic) - 1);
    assert_memory_equal(a.topic[0], topic, sizeof(topic) - 1);
    assert_int_equal(a.payload_len[0], sizeof(payload));
    assert_memory_equal(a.payload[0], payload, sizeof(payload));
    assert_int_equal(a.payload_len[1], 0);

    sess_res_t b = load(f, "B\0b", 3);
    assert_int_equal(b.n_msgs, 3);
    assert_int_equal(b.qos[0], 2);
    sess_res_t c = load(f, "C", 1);
    assert_int_equal(c.n_msgs, 3); /* b1:1, b1:3, b1:4 */
    assert_string_equal(c.ids[1], "b1:3");
    assert_int_equal(c.qos[0], 0);

    DO(f, sstore_queue_ack(f->s, "A", 1, "b1:2", done_cb, &r));
    a = load(f, "A", 1);
    assert_int_equal(a.n_msgs, 2);
    assert_string_equal(a.ids[0], "b1:1");
    assert_string_equal(a.ids[1], "b1:4");
    assert_int_equal(raw_int(f, "HLEN " PFX "qm:{c:A}", NULL, NULL), 2);

    res_t r = {0};
    sstore_msg_t bad = m;
    bad.topic_len = 70000;
    assert_int_equal(sstore_queue_push(f->s, &bad, cids, lens, qos, 3, 0, push_cb, &r),
                     ROOST_EINVAL);
    const uint8_t bad_qos[] = {1, 3, 0};
    assert_int_equal(sstore_queue_push(f->s, &m, cids, lens, bad_qos, 3, 0, push_cb, &r),
                     ROOST_EINVAL);
    run_for(f, 20);
    assert_int_equal(r.calls, 0);
}

static void count_cb(int rc, uint64_t n, void *arg)
{
    res_t *r = arg;
    r->done = true;
    r->rc = rc;
    r->u = n;
    r->calls++;
}

static bool queue_keys(fx_t *f, const char *cid)
{
    return raw_int(f, "EXISTS " PFX "q:{c:%s}", cid, NULL) +
           raw_int(f, "EXISTS " PFX "qm:{c:%s}", cid, NULL) > 0;
}

/* Queue keys never outlive their session: a push for a session that was
 * never there, was cleared (clean start) or was reaped (expiry) meanwhile
 * writes nothing and counts no drop (it recreated q and qm with no TTL,
 * kept for ever, and read by the next session with that client id); a
 * queue created for an offline session carries the session's TTL. */
static void test_queue_needs_its_session(void **state)
{
    fx_t *f = *state;
    const char *cids[] = {"gone", "off", "cleared"};
    const size_t lens[] = {4, 3, 7};
    const uint8_t qos[] = {1, 1, 1};
    sstore_msg_t m = {.entry_id = "b1:1", .topic = "t", .topic_len = 1, .qos = 1};
    /* no session: nothing written, no drop counted (with a max_queued or not) */
    assert_int_equal(push(f, &m, cids, lens, qos, 1, 1), 0);
    assert_int_equal(push(f, &m, cids, lens, qos, 1, 0), 0);
    assert_false(queue_keys(f, "gone"));

    DO(f, sstore_session_touch(f->s, "off", 3, "b1", NULL, done_cb, &r));
    DO(f, sstore_session_touch(f->s, "cleared", 7, "b1", NULL, done_cb, &r));
    DO(f, sstore_session_expire(f->s, "off", 3, false, 60000, done_cb, &r));
    long long sttl = raw_int(f, "PTTL " PFX "sess:{c:off}", NULL, NULL);
    assert_true(sttl > 60000);
    m.entry_id = "b1:2";
    assert_int_equal(push(f, &m, cids, lens, qos, 3, 0), 0);
    assert_false(queue_keys(f, "gone"));
    long long qttl = raw_int(f, "PTTL " PFX "q:{c:off}", NULL, NULL);
    long long mttl = raw_int(f, "PTTL " PFX "qm:{c:off}", NULL, NULL);
    assert_true(qttl > 60000 && qttl <= sttl);
    assert_true(mttl > 60000 && mttl <= sttl);
    assert_int_equal(raw_int(f, "PTTL " PFX "q:{c:cleared}", NULL, NULL), -1); /* online */
    assert_int_equal(load(f, "cleared", 7).n_msgs, 1);

    DO(f, sstore_session_clear(f->s, "cleared", 7, done_cb, &r));
    m.entry_id = "b1:3";
    /* max_queued 1: "off" is full (counted), "gone" and "cleared" are not there (not) */
    assert_int_equal(push(f, &m, cids, lens, qos, 3, 1), 1);
    assert_false(queue_keys(f, "cleared"));
    sess_res_t c = load(f, "cleared", 7);
    assert_false(c.exists);
    assert_int_equal(c.n_msgs, 0);

    /* "off" expires: the reaper deletes it, a push comes after */
    res_t rr = {0};
    uint64_t later = (uint64_t)time(NULL) * 1000 + 120000;
    assert_int_equal(sstore_session_reap(f->s, later, 10, count_cb, &rr), 0);
    assert_true(run_until(f, &rr.done, 3000));
    assert_int_equal(rr.rc, 0);
    assert_int_equal(rr.u, 1);
    assert_false(queue_keys(f, "off"));
    m.entry_id = "b1:4";
    assert_int_equal(push(f, &m, cids, lens, qos, 3, 0), 0);
    assert_false(queue_keys(f, "off"));
    assert_int_equal(load(f, "off", 3).n_msgs, 0);
}

static void test_qos2_sets(void **state)
{
    fx_t *f = *state;
    const char *cids[] = {"c"};
    const size_t lens[] = {1};
    const uint8_t qos[] = {2};
    sstore_msg_t m = {.entry_id = "b1:7", .topic = "t", .topic_len = 1, .qos = 2};
    DO(f, sstore_session_touch(f->s, "c", 1, "b1", NULL, done_cb, &r));
    assert_int_equal(push(f, &m, cids, lens, qos, 1, 10), 0);
    DO(f, sstore_rx2_add(f->s, "c", 1, 5, done_cb, &r));
    DO(f, sstore_rx2_add(f->s, "c", 1, 65535, done_cb, &r));
    DO(f, sstore_rx2_del(f->s, "c", 1, 5, done_cb, &r));
    DO(f, sstore_rel_add(f->s, "c", 1, "b1:7", 9, done_cb, &r));
    sess_res_t s = load(f, "c", 1);
    assert_int_equal(s.n_msgs, 0); /* PUBREC took the entry out of the queue */
    assert_int_equal(s.n_rx2, 1);
    assert_int_equal(s.rx2[0], 65535);
    assert_int_equal(s.n_rel, 1);
    assert_int_equal(s.rel[0], 9);
    DO(f, sstore_rel_del(f->s, "c", 1, 9, done_cb, &r));
    s = load(f, "c", 1);
    assert_int_equal(s.n_rel, 0);
    res_t r = {0};
    assert_int_equal(sstore_rx2_add(f->s, "c", 1, 0, done_cb, &r), ROOST_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lease, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_touch_load_clear, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subs_psubs_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_needs_its_session, setup, teardown),
        cmocka_unit_test_setup_teardown(test_qos2_sets, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

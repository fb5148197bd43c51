/* Unit tests for services/broker/route.c and msg.c (fakes.h stands in for
 * the connection): a session matched by several filters gets one copy at
 * the highest granted QoS capped by the published one; a filtered
 * subscription (allow s/#, deny s/secret) gets nothing on a denied topic,
 * counted as a match so the caller still hands the message over (a copy
 * queued for it in Redis is acknowledged there: test_37); retained
 * messages are stored, replaced, cleared by an empty payload, capped by
 * --max-retained and sent to a new subscription with retain set; a reload
 * of the retained set from Redis keeps what changed while it was on its
 * way; message references are dropped with the last holder.
 *
 * MQTT 5.0: No Local [MQTT-3.8.3-3] against overlapping subscriptions
 * [MQTT-3.3.4-2], Retain As Published [MQTT-3.3.1-12,13], Subscription
 * Identifiers of every matching subscription [MQTT-3.3.4-3,4], expired
 * messages neither delivered nor queued [MQTT-3.3.2-5], the property list
 * kept from a PUBLISH (per-hop ones removed, the rest in order
 * [MQTT-3.3.2-18]) and the one sent out (remaining expiry
 * [MQTT-3.3.2-6], identifiers, the kept list unaltered). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "acl/acl.h"
#include "base/proc.h"
#include "fakes.h"
#include "msgprops.h"
#include "route.h"
#include "session.h"

static broker_t B;
static broker_config_t CFG;
static conn_t C1, C2;

static int setup(void **state)
{
    fake_broker(&B, &CFG, 10, 10);
    CFG.max_retained = 2;
    memset(&C1, 0, sizeof(C1));
    memset(&C2, 0, sizeof(C2));
    C1.b = C2.b = &B;
    memset(&fake_out, 0, sizeof(fake_out));
    return 0;
}

static int teardown(void **state)
{
    fake_broker_fini(&B);
    return 0;
}

static session_t *online(const char *id, conn_t *c)
{
    session_t *s = fake_online(&B, id, c);
    assert_non_null(s);
    return s;
}

static void sub(session_t *s, const char *f, uint8_t opts)
{
    assert_int_equal(session_subscribe(&B, s, f, strlen(f), opts), 0);
}

static void publish(const char *topic, const char *payload, uint8_t qos, bool retain)
{
    msg_t *m = msg_new(topic, strlen(topic), payload, strlen(payload), qos, retain);
    assert_non_null(m);
    if (retain)
        route_retain(&B, m);
    route_publish(&B, m);
    msg_unref(&m);
    assert_null(m);
}

static void test_one_copy_at_the_highest_qos(void **state)
{
    session_t *a = online("a", &C1);
    sub(a, "x/#", 0);
    sub(a, "x/+", 1);
    sub(a, "x/y", 2);
    publish("x/y", "1", 1, false); /* capped at the published QoS 1 */
    assert_int_equal(fake_out.n, 1);
    assert_int_equal(fake_out.p[0].qos, 1);
    assert_false(fake_out.p[0].retain); /* live deliveries carry retain 0 */
    publish("x/z/w", "2", 2, false);
    assert_int_equal(fake_out.n, 2);
    assert_int_equal(fake_out.p[1].qos, 0);
    assert_int_equal(route_match(&B, "nobody", 6), 0);
}

static void test_filtered_subscription(void **state)
{
    session_t *a = online("a", &C1), *b = online("b", &C2);
    acl_entry_t e[] = {{ACL_ALLOW, ACL_SUBSCRIBE, {"s/#", 3}},
                       {ACL_DENY, ACL_SUBSCRIBE, {"s/secret", 8}}};
    acl_matcher_t *acl = NULL;
    assert_int_equal(acl_compile(e, 2, (acl_str_t){NULL, 0}, (acl_str_t){"a", 1}, &acl), 0);
    session_set_acl(&B, a, &acl);
    assert_int_equal(acl_check_subscribe(a->acl, "s/#", 3), ACL_SUB_GRANTED_FILTERED);
    sub(a, "s/#", 1 | SUBOPT_FILTERED);
    sub(b, "s/#", 1);
    assert_int_equal(route_match(&B, "s/secret", 8), 2); /* b, and a (filtered out) */
    publish("s/secret", "x", 1, false);
    assert_int_equal(fake_out.n, 1); /* b only */
    publish("s/public", "y", 1, false);
    assert_int_equal(fake_out.n, 3);
}

static void test_retained(void **state)
{
    session_t *a = online("a", &C1);
    publish("r/1", "one", 1, true);
    publish("r/1", "uno", 0, true); /* replaces */
    publish("r/2", "two", 1, true);
    publish("r/3", "three", 1, true); /* over --max-retained 2 */
    assert_int_equal(B.stats.dropped_retained, 1);
    route_send_retained(&B, a, "r/+", 3, 1, 0);
    assert_int_equal(fake_out.n, 2);
    for (int i = 0; i < 2; i++)
        assert_true(fake_out.p[i].retain);
    publish("r/1", "", 0, true); /* an empty payload clears it */
    fake_out.n = 0;
    route_send_retained(&B, a, "r/1", 3, 1, 0);
    assert_int_equal(fake_out.n, 0);
    publish("r/3", "three", 1, true); /* room again */
    assert_int_equal(B.stats.dropped_retained, 1);
}

/* What the retained store holds for topic ("" when nothing). */
static const char *held(const char *topic)
{
    static char v[32];
    const msg_t *m = topictree_get(B.retained, topic, strlen(topic));
    size_t n = m ? (m->payload_len < sizeof(v) - 1 ? m->payload_len : sizeof(v) - 1) : 0;
    memcpy(v, m ? msg_payload(m) : (const uint8_t *)"", n);
    v[n] = 0;
    return v;
}

/* One message of a reload's answer from Redis. */
static void stored(const char *topic, const char *payload)
{
    msg_t *m = msg_new(topic, strlen(topic), payload, strlen(payload), 1, true);
    assert_non_null(m);
    route_retain_stored(&B, m);
    msg_unref(&m);
}

/* A reload of the retained set from Redis (after a peer joins) whose read
 * ran before a peer's retained message and a peer's clear reached Redis,
 * while both reached us by the bus before the answer: the answer's older
 * values no longer overwrite them (it put back "old-a" and the cleared
 * "old-b" before the fix), and what only the answer holds is kept. */
static void test_retained_reload_keeps_newer_updates(void **state)
{
    CFG.max_retained = 100;
    publish("r/a", "old-a", 1, true);
    publish("r/b", "old-b", 1, true);
    route_retain_load_begin(&B);
    publish("r/a", "new-a", 1, true); /* by the bus, the read in flight */
    publish("r/b", "", 1, true);      /* a clear, likewise */
    stored("r/a", "old-a");           /* the answer */
    stored("r/b", "old-b");
    stored("r/c", "c");               /* its message was dropped on the bus */
    assert_int_equal(route_retain_load_end(&B), 0);
    assert_string_equal(held("r/a"), "new-a");
    assert_string_equal(held("r/b"), "");
    assert_string_equal(held("r/c"), "c");

    /* after the load, changes are not kept: the next answer is the truth */
    publish("r/a", "newer-a", 1, true);
    route_retain_load_begin(&B);
    stored("r/a", "newest-a");
    assert_int_equal(route_retain_load_end(&B), 0);
    assert_string_equal(held("r/a"), "newest-a");

    /* overlapping reads: a change is kept over both answers */
    route_retain_load_begin(&B);
    route_retain_load_begin(&B);
    publish("r/d", "new-d", 1, true);
    stored("r/d", "old-d");
    assert_int_equal(route_retain_load_end(&B), 0);
    stored("r/d", "old-d");
    assert_int_equal(route_retain_load_end(&B), 0);
    assert_string_equal(held("r/d"), "new-d");
    assert_null(B.retained_fresh);

    /* a failed read (no answer): nothing changes; one pending at shutdown:
     * its notes are freed with the store (teardown, under ASan) */
    route_retain_load_begin(&B);
    assert_int_equal(route_retain_load_end(&B), 0);
    assert_int_equal(route_retain_load_end(&B), 0); /* (an extra end is harmless) */
    assert_string_equal(held("r/d"), "new-d");
    route_retain_load_begin(&B);
    publish("r/e", "e", 1, true);
}

/* route_local, the single-node path: made from the parts only when a
 * session here or the retained store keeps it; delivered and retained
 * like route_publish. */
static int local(const char *topic, const char *payload, uint8_t qos, bool retain)
{
    msg_parts_t p = {.topic = topic, .topic_len = strlen(topic), .payload = (const uint8_t *)payload,
                     .payload_len = strlen(payload), .qos = qos, .retain = retain};
    return route_local(&B, &p);
}

static void test_route_local(void **state)
{
    session_t *a = online("a", &C1);
    sub(a, "l/#", 1);
    assert_int_equal(local("none", "x", 1, false), 0);
    assert_int_equal(fake_out.n, 0);
    assert_int_equal(local("l/1", "one", 1, false), 1);
    assert_int_equal(fake_out.n, 1);
    assert_int_equal(fake_out.p[0].qos, 1);
    assert_int_equal(local("k/1", "kept", 0, true), 0);
    assert_int_equal(fake_out.n, 1); /* nobody here, but retained */
    route_send_retained(&B, a, "k/1", 3, 1, 0);
    assert_int_equal(fake_out.n, 2);
    assert_true(fake_out.p[1].retain);
}

static void test_msg_refs(void **state)
{
    msg_t *m = msg_new_eid("t/1", 3, "pay", 3, 2, true, "b1:2");
    assert_non_null(m);
    assert_int_equal(m->refs, 1);
    assert_memory_equal(msg_topic(m), "t/1", 3);
    assert_memory_equal(msg_payload(m), "pay", 3);
    assert_string_equal(msg_eid(m), "b1:2");
    msg_t *r = msg_ref(m);
    assert_int_equal(m->refs, 2);
    msg_unref(&r);
    assert_null(r);
    assert_int_equal(m->refs, 1);
    msg_unref(&m);
    msg_unref(&m); /* NULL-safe */
    assert_null(msg_alloc(65536, 0, 0, 0, 0, false)); /* beyond a topic's length */
    assert_null(msg_alloc(1, 0, 0, 256, 0, false));
    msg_t *n = msg_new("t", 1, NULL, 0, 0, false);
    assert_null(msg_eid(n));
    msg_unref(&n);
}

static void sub5(session_t *s, const char *f, uint8_t opts, uint32_t subid)
{
    bool existed;
    assert_int_equal(session_subscribe5(&B, s, f, strlen(f), opts, subid, &existed), 0);
}

static void publish_from(const session_t *origin, msg_t *m)
{
    B.cur_origin = origin;
    route_publish(&B, m);
    B.cur_origin = NULL;
}

static msg_t *mk(const char *topic, uint8_t qos, bool retain)
{
    msg_t *m = msg_new(topic, strlen(topic), "p", 1, qos, retain);
    assert_non_null(m);
    return m;
}

static void test_no_local(void **state)
{
    session_t *a = online("a", &C1), *b = online("b", &C2);
    sub5(a, "n/#", 1 | SUBOPT_NO_LOCAL, 0);
    sub5(b, "n/#", 1 | SUBOPT_NO_LOCAL, 0);
    msg_t *m = mk("n/x", 1, false);
    publish_from(a, m); /* a's own message: b only */
    assert_int_equal(fake_out.n, 1);
    assert_int_equal(a->ninflight, 0);
    assert_int_equal(b->ninflight, 1);
    /* an overlapping subscription without No Local still delivers, at its QoS */
    sub5(a, "n/x", 0, 0);
    publish_from(a, m);
    assert_int_equal(fake_out.n, 3);
    assert_int_equal(a->ninflight, 0); /* QoS 0 through n/x */
    /* a message from someone else reaches a through both, once, at QoS 1 */
    publish_from(b, m);
    assert_int_equal(fake_out.n, 4); /* b's own No Local: nothing to b */
    assert_int_equal(a->ninflight, 1);
    msg_unref(&m);
}

static void test_retain_as_published(void **state)
{
    session_t *a = online("a", &C1), *b = online("b", &C2);
    sub5(a, "r/#", 0 | SUBOPT_RAP, 0);
    sub5(b, "r/#", 0, 0);
    msg_t *m = mk("r/x", 0, true);
    publish_from(NULL, m);
    assert_int_equal(fake_out.n, 2);
    for (int i = 0; i < 2; i++) /* deliveries in subscription order: a, b */
        assert_int_equal(fake_out.p[i].retain, i == 0);
    msg_unref(&m);
}

static void test_subscription_ids(void **state)
{
    session_t *a = online("a", &C1);
    assert_false(a->has_subids);
    sub5(a, "i/#", 1, 7);
    sub5(a, "i/+", 1, 268435455);
    sub5(a, "i/x", 1, 0);
    assert_true(a->has_subids);
    uint32_t ids[4];
    size_t n = session_subids(a, "i/x", 3, false, ids, 4);
    assert_int_equal(n, 2);
    assert_true((ids[0] == 7 && ids[1] == 268435455) || (ids[1] == 7 && ids[0] == 268435455));
    assert_int_equal(session_subids(a, "i/x/y", 5, false, ids, 4), 1);
    assert_int_equal(ids[0], 7);
    /* a SUBSCRIBE again replaces the identifier [MQTT-3.8.4-3] */
    bool existed = false;
    assert_int_equal(session_subscribe5(&B, a, "i/#", 3, 1, 0, &existed), 0);
    assert_true(existed);
    assert_int_equal(session_subids(a, "i/x/y", 5, false, ids, 4), 0);
    /* a No Local subscription gives no identifier for the session's own
     * message (it did not deliver it [MQTT-3.8.3-3]), and does for others' */
    sub5(a, "i/x/#", 1 | SUBOPT_NO_LOCAL, 9);
    assert_int_equal(session_subids(a, "i/x/y", 5, true, ids, 4), 0);
    assert_int_equal(session_subids(a, "i/x/y", 5, false, ids, 4), 1);
    assert_int_equal(ids[0], 9);
    assert_int_equal(session_unsubscribe(&B, a, "i/x/#", 5), 0);
    assert_int_equal(session_unsubscribe(&B, a, "i/+", 3), 0);
    assert_false(a->has_subids);
}

static bool has_ids(const fake_packet_t *p, uint32_t n, uint32_t x, uint32_t y)
{
    if (!p->routed || p->nids != n)
        return false;
    for (uint32_t i = 0; i < n; i++)
        if (p->ids[i] != (i == 0 ? x : y) && p->ids[i] != (i == 0 ? y : x))
            return false;
    return n < 2 || p->ids[0] != p->ids[1];
}

/* The one PUBLISH of fake_out written to c. */
static const fake_packet_t *sent_to(const conn_t *c)
{
    const fake_packet_t *found = NULL;
    for (int i = 0; i < fake_out.n; i++) {
        if (fake_out.p[i].conn == c) {
            assert_null(found);
            found = &fake_out.p[i];
        }
    }
    assert_non_null(found);
    return found;
}

/* Routing hands each session the identifiers of the subscriptions that
 * matched [MQTT-3.3.4-3,4] (session.h's subref_t in the trie), none of the
 * publisher's own No Local ones [MQTT-3.8.3-3], and follows an identifier
 * set, changed or removed by a new SUBSCRIBE [MQTT-3.8.4-3]. */
static void test_routed_subscription_ids(void **state)
{
    session_t *a = online("a", &C1), *b = online("b", &C2);
    sub5(a, "i/#", 0, 7);
    sub5(a, "i/+", 0, 9);
    sub5(a, "i/x", 0, 0);
    sub5(b, "i/x", 0, 3);
    msg_t *m = mk("i/x", 0, false);
    publish_from(NULL, m);
    assert_int_equal(fake_out.n, 2);
    assert_true(has_ids(sent_to(&C1), 2, 7, 9));
    assert_true(has_ids(sent_to(&C2), 1, 3, 0));
    fake_out.n = 0;
    sub5(a, "i/#", 0, 0);  /* the identifier goes */
    sub5(a, "i/x", 0, 11); /* one comes */
    sub5(b, "i/x", 0, 4);  /* one changes */
    publish_from(NULL, m);
    assert_int_equal(fake_out.n, 2);
    assert_true(has_ids(sent_to(&C1), 2, 9, 11));
    assert_true(has_ids(sent_to(&C2), 1, 4, 0));
    fake_out.n = 0;
    assert_int_equal(session_unsubscribe(&B, a, "i/+", 3), 0);
    assert_int_equal(session_unsubscribe(&B, a, "i/x", 3), 0);
    publish_from(NULL, m); /* a: i/# without an identifier */
    assert_int_equal(fake_out.n, 2);
    assert_true(has_ids(sent_to(&C1), 0, 0, 0));
    assert_true(has_ids(sent_to(&C2), 1, 4, 0));
    msg_unref(&m);
    /* the publisher's own message: its No Local subscription's identifier
     * is not among them */
    fake_out.n = 0;
    sub5(a, "n/#", 0 | SUBOPT_NO_LOCAL, 5);
    sub5(a, "n/x", 0, 6);
    m = mk("n/x", 0, false);
    publish_from(a, m);
    assert_int_equal(fake_out.n, 1);
    assert_true(has_ids(&fake_out.p[0], 1, 6, 0));
    publish_from(b, m);
    assert_int_equal(fake_out.n, 2);
    assert_true(has_ids(&fake_out.p[1], 2, 5, 6));
    msg_unref(&m);
}

/* A message queued behind a full window and sent later keeps whether its
 * session published it: its identifiers, found again when it is written,
 * leave out the No Local subscriptions that did not deliver it
 * [MQTT-3.8.3-3] (it was sent with them before: a queued copy did not
 * know its publisher). */
static void test_queued_own_message_keeps_no_local(void **state)
{
    CFG.max_inflight = 1;
    session_t *a = online("a", &C1), *b = online("b", &C2);
    sub5(a, "q/#", 1 | SUBOPT_NO_LOCAL, 5);
    sub5(a, "q/x", 1, 6);
    msg_t *m = mk("q/x", 1, false);
    publish_from(b, m); /* in flight: the window of 1 is full */
    assert_int_equal(fake_out.n, 1);
    assert_true(has_ids(&fake_out.p[0], 2, 5, 6));
    publish_from(a, m); /* a's own: queued */
    assert_int_equal(fake_out.n, 1);
    assert_int_equal(a->qlen, 1);
    assert_int_equal(session_on_puback(&B, a, fake_out.p[0].pid), 0);
    assert_int_equal(fake_out.n, 2);
    const fake_packet_t *p = &fake_out.p[1];
    assert_false(p->routed); /* found when written */
    assert_true(p->own);
    uint32_t ids[4];
    assert_int_equal(session_subids(a, p->topic, strlen(p->topic), p->own, ids, 4), 1);
    assert_int_equal(ids[0], 6);
    /* someone else's message queued the same way gets both */
    publish_from(b, m);
    assert_int_equal(session_on_puback(&B, a, fake_out.p[1].pid), 0);
    assert_int_equal(fake_out.n, 3);
    assert_false(fake_out.p[2].own);
    msg_unref(&m);
}

static void test_expired_not_delivered(void **state)
{
    session_t *a = online("a", &C1);
    sub5(a, "e/#", 1, 0);
    msg_t *m = mk("e/x", 1, false);
    m->expiry_ms = proc_wall_ms() - 1;
    publish_from(NULL, m);
    assert_int_equal(fake_out.n, 0);
    assert_int_equal(a->qlen, 0);
    m->expiry_ms = proc_wall_ms() + 60000;
    publish_from(NULL, m);
    assert_int_equal(fake_out.n, 1);
    msg_unref(&m);
    /* queued behind a full window, then expired: skipped when the window opens */
    CFG.max_inflight = 1;
    msg_t *q = mk("e/y", 1, false);
    q->expiry_ms = proc_wall_ms() + 60000;
    session_deliver(&B, a, q, 1, false); /* queued: the window holds one */
    assert_int_equal(a->qlen, 1);
    q->expiry_ms = proc_wall_ms() - 1;
    assert_int_equal(session_on_puback(&B, a, fake_out.p[0].pid), 0);
    assert_int_equal(a->qlen, 0);
    assert_int_equal(a->ninflight, 0);
    assert_int_equal(fake_out.n, 1);
    msg_unref(&q);
}

/* Payload Format Indicator 1, Message Expiry 60, Topic Alias 3, User
 * Property (k, v), Content Type "t": what a publisher may send. */
static const uint8_t IN[] = {0x01, 1, 0x02, 0, 0, 0, 60, 0x23, 0, 3,
                             0x26, 0, 1, 'k', 0, 1, 'v', 0x03, 0, 1, 't'};
static const uint8_t KEPT[] = {0x01, 1, 0x26, 0, 1, 'k', 0, 1, 'v', 0x03, 0, 1, 't'};

static void test_props_in(void **state)
{
    (void)state;
    msgprops_in_t in;
    msgprops_scan((mqtt_str_t){IN, sizeof(IN)}, &in);
    assert_true(in.has_expiry);
    assert_int_equal(in.expiry_s, 60);
    assert_true(in.utf8);
    assert_true(in.copy);
    assert_int_equal(in.keep_len, sizeof(KEPT));
    uint8_t buf[64];
    assert_int_equal(msgprops_keep(buf, (mqtt_str_t){IN, sizeof(IN)}, &in), sizeof(KEPT));
    assert_memory_equal(buf, KEPT, sizeof(KEPT));
    assert_int_equal(msgprops_deadline(&in, 1000), 61000);
    /* nothing per hop: kept as it is, no copy */
    msgprops_scan((mqtt_str_t){KEPT, sizeof(KEPT)}, &in);
    assert_false(in.copy);
    assert_false(in.has_expiry);
    assert_int_equal(in.keep_len, sizeof(KEPT));
    assert_int_equal(msgprops_deadline(&in, 1000), 0);
    /* an interval of 0 reads as none */
    static const uint8_t zero[] = {0x02, 0, 0, 0, 0};
    msgprops_scan((mqtt_str_t){zero, sizeof(zero)}, &in);
    assert_true(in.has_expiry);
    assert_int_equal(msgprops_deadline(&in, 1000), 0);
    assert_int_equal(in.keep_len, 0);
    /* msgprops_kept: the list itself when nothing goes, else a copy in the
     * caller's buffer, or on the heap when it does not fit */
    msgprops_scan((mqtt_str_t){IN, sizeof(IN)}, &in);
    uint8_t *heap = NULL, tiny[4];
    const uint8_t *k = msgprops_kept((mqtt_str_t){IN, sizeof(IN)}, &in, buf, sizeof(buf), &heap);
    assert_ptr_equal(k, buf);
    assert_null(heap);
    k = msgprops_kept((mqtt_str_t){IN, sizeof(IN)}, &in, tiny, sizeof(tiny), &heap);
    assert_non_null(heap);
    assert_ptr_equal(k, heap);
    assert_memory_equal(k, KEPT, sizeof(KEPT));
    free(heap);
    heap = NULL;
    msgprops_scan((mqtt_str_t){KEPT, sizeof(KEPT)}, &in);
    assert_ptr_equal(msgprops_kept((mqtt_str_t){KEPT, sizeof(KEPT)}, &in, tiny, sizeof(tiny), &heap),
                     KEPT);
    assert_null(heap);
    /* a will's list: its Will Delay Interval is not kept either */
    static const uint8_t will[] = {0x18, 0, 0, 0, 5, 0x03, 0, 1, 't', 0x02, 0, 0, 0, 9};
    static const uint8_t will_kept[] = {0x03, 0, 1, 't'};
    msgprops_scan((mqtt_str_t){will, sizeof(will)}, &in);
    assert_true(in.has_expiry && in.copy);
    assert_int_equal(in.expiry_s, 9);
    assert_int_equal(in.keep_len, sizeof(will_kept));
    k = msgprops_kept((mqtt_str_t){will, sizeof(will)}, &in, buf, sizeof(buf), &heap);
    assert_memory_equal(k, will_kept, sizeof(will_kept));
    static const uint8_t sid[] = {0x0B, 0x80, 0x01};
    assert_int_equal(msgprops_subid((mqtt_str_t){sid, sizeof(sid)}), 128);
    assert_int_equal(msgprops_subid((mqtt_str_t){KEPT, sizeof(KEPT)}), 0);
}

static void test_props_out(void **state)
{
    (void)state;
    msg_ext_t x = {KEPT, sizeof(KEPT), 100000};
    msg_t *m = msg_new_ext("t", 1, "pl", 2, 1, false, "b1:9", &x);
    assert_non_null(m);
    assert_memory_equal(msg_props(m), KEPT, sizeof(KEPT));
    assert_string_equal(msg_eid(m), "b1:9");
    assert_memory_equal(msg_payload(m), "pl", 2);
    assert_int_equal(msgprops_remaining(m, 40001), 60); /* 59.999 s rounds up */
    assert_int_equal(msgprops_remaining(m, 40000), 60);
    assert_int_equal(msgprops_remaining(m, 99999), 1);
    assert_int_equal(msgprops_remaining(m, 200000), 1);
    assert_true(msg_expired(m, 100000));
    assert_false(msg_expired(m, 99999));
    uint32_t ids[] = {5, 300};
    uint8_t buf[64];
    size_t n = msgprops_out(buf, sizeof(buf), m, 40000, ids, 2);
    static const uint8_t want_head[] = {0x02, 0, 0, 0, 60, 0x0B, 5, 0x0B, 0xAC, 0x02};
    assert_int_equal(n, sizeof(want_head) + sizeof(KEPT));
    assert_memory_equal(buf, want_head, sizeof(want_head));
    assert_memory_equal(buf + sizeof(want_head), KEPT, sizeof(KEPT));
    assert_int_equal(msgprops_out(NULL, 0, m, 40000, ids, 2), n); /* sizing */
    /* what goes out is a valid list for a PUBLISH to a client */
    mqtt_props_t d;
    assert_int_equal(mqtt_props_decode(buf, n, MQTT_PUBLISH, false, &d), 0);
    assert_int_equal(d.message_expiry, 60);
    assert_int_equal(d.sub_id_count, 2);
    msg_unref(&m);
    /* a message without a 5.0 part: an empty list */
    msg_t *p = msg_new("t", 1, NULL, 0, 0, false);
    assert_int_equal(p->props_len, 0);
    assert_int_equal(p->expiry_ms, 0);
    assert_int_equal(msgprops_out(buf, sizeof(buf), p, 0, NULL, 0), 0);
    msg_unref(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_copy_at_the_highest_qos, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filtered_subscription, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retained, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retained_reload_keeps_newer_updates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_route_local, setup, teardown),
        cmocka_unit_test(test_msg_refs),
        cmocka_unit_test_setup_teardown(test_no_local, setup, teardown),
        cmocka_unit_test_setup_teardown(test_routed_subscription_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queued_own_message_keeps_no_local, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retain_as_published, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subscription_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expired_not_delivered, setup, teardown),
        cmocka_unit_test(test_props_in),
        cmocka_unit_test(test_props_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

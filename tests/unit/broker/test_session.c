/* Unit tests for services/broker/session.c (sessions have no socket of
 * their own: what they write goes through fakes.h): packet ids are never 0
 * [MQTT-2.3.1-1], also after a restored PUBREL-pending id of 65535; the
 * in-flight window holds --max-inflight, the rest queue in order and move
 * up as acknowledgements come; messages are shared by reference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "conn5.h"
#include "fakes.h"
#include "session.h"
#include "store/sstore.h"

static broker_t B;
static broker_config_t CFG;
static conn_t C;

static int setup(void **state)
{
    fake_broker(&B, &CFG, 3, 10);
    memset(&C, 0, sizeof(C));
    C.b = &B;
    memset(&fake_out, 0, sizeof(fake_out));
    return 0;
}

static int teardown(void **state)
{
    fake_broker_fini(&B);
    return 0;
}

static session_t *online(const char *id)
{
    session_t *s = session_new(&B, id, strlen(id), false);
    assert_non_null(s);
    s->conn = &C;
    return s;
}

static msg_t *mk(const char *topic, uint8_t qos)
{
    msg_t *m = msg_new(topic, strlen(topic), "p", 1, qos, false);
    assert_non_null(m);
    return m;
}

/* Bug: a restored PUBREL-pending id of 65535 set next_pid to 0 (the
 * increment was done in int), and the next PUBLISH went out with id 0. */
static void test_restored_pid_65535_never_gives_0(void **state)
{
    session_t *s = online("d1");
    uint16_t rel[] = {65535};
    sstore_session_t st = {.exists = true, .rel = rel, .n_rel = 1};
    assert_int_equal(session_restore(&B, s, &st), 0);
    assert_int_equal(s->ninflight, 1);
    msg_t *m = mk("t", 1);
    session_deliver(&B, s, m, 1, false);
    session_deliver(&B, s, m, 1, false);
    msg_unref(&m);
    assert_int_equal(fake_out.n, 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(fake_out.p[i].type, MQTT_PUBLISH);
        assert_int_not_equal(fake_out.p[i].pid, 0);
        assert_int_not_equal(fake_out.p[i].pid, 65535); /* still in flight (PUBREL) */
    }
    assert_int_not_equal(fake_out.p[0].pid, fake_out.p[1].pid);
}

/* Ids wrap from 65535 to 1, skipping ids still in flight. */
static void test_pid_wraps_past_0_and_skips_in_flight(void **state)
{
    session_t *s = online("d2");
    msg_t *m = mk("t", 1);
    session_deliver(&B, s, m, 1, false); /* pid 1, stays in flight */
    assert_int_equal(fake_out.p[0].pid, 1);
    s->next_pid = 65535;
    session_deliver(&B, s, m, 1, false);
    session_deliver(&B, s, m, 1, false);
    assert_int_equal(fake_out.p[1].pid, 65535);
    assert_int_equal(fake_out.p[2].pid, 2); /* not 0, not 1 (in flight) */
    msg_unref(&m);
}

static void test_window_then_queue_in_order(void **state)
{
    session_t *s = online("d3");
    msg_t *m[5];
    char t[8];
    for (int i = 0; i < 5; i++) {
        snprintf(t, sizeof(t), "t/%d", i);
        m[i] = mk(t, 2);
        session_deliver(&B, s, m[i], i == 4 ? 1 : 2, false);
    }
    assert_int_equal(fake_out.n, 3); /* --max-inflight 3 */
    assert_int_equal(s->ninflight, 3);
    assert_int_equal(s->qlen, 2);
    assert_int_equal(m[3]->refs, 2); /* ours and the queue's */
    assert_int_equal(session_on_puback(&B, s, fake_out.p[0].pid), ROOST_ENOTFOUND); /* QoS 2 */
    assert_int_equal(session_on_pubrec(&B, s, fake_out.p[0].pid), 0);
    assert_int_equal(fake_out.p[3].type, MQTT_PUBREL);
    assert_int_equal(m[0]->refs, 1); /* the PUBREC released the message */
    assert_int_equal(fake_out.n, 4); /* the window is still full: PUBREL pending */
    assert_int_equal(session_on_pubcomp(&B, s, fake_out.p[0].pid), 0);
    assert_int_equal(fake_out.n, 5);
    assert_string_equal(fake_out.p[4].topic, "t/3");
    assert_int_equal(session_on_pubcomp(&B, s, 999), ROOST_ENOTFOUND);
    for (int i = 0; i < 5; i++)
        msg_unref(&m[i]);
}

static void test_offline_queues_qos1_drops_qos0_and_limits(void **state)
{
    session_t *s = online("d4");
    s->conn = NULL;
    msg_t *m = mk("t", 1);
    session_deliver(&B, s, m, 0, false); /* QoS 0 is not queued offline */
    assert_int_equal(s->qlen, 0);
    for (int i = 0; i < 12; i++)
        session_deliver(&B, s, m, 1, false);
    assert_int_equal(s->qlen, 10); /* --max-queued 10 */
    assert_int_equal(B.stats.dropped_queue, 2);
    assert_int_equal(m->refs, 11);
    s->conn = &C;
    session_resume(&B, s);
    assert_int_equal(fake_out.n, 3);
    assert_int_equal(s->qlen, 7);
    msg_unref(&m);
}

/* MQTT 5.0: the client's Receive Maximum narrows the window below
 * --max-inflight [MQTT-3.3.4-9]; a PUBLISH over its Maximum Packet Size is
 * not sent and counts as delivered [MQTT-3.1.2-25]: the window moves on. */
static void test_v5_receive_maximum_and_too_large(void **state)
{
    conn5_t v5 = {.receive_max = 2, .max_packet = UINT32_MAX};
    C.v5 = &v5;
    session_t *s = online("d5");
    msg_t *m = mk("t", 1);
    for (int i = 0; i < 4; i++)
        session_deliver(&B, s, m, 1, false);
    assert_int_equal(fake_out.n, 2); /* Receive Maximum 2 < --max-inflight 3 */
    assert_int_equal(s->qlen, 2);
    fake_out.too_large = true;
    assert_int_equal(session_on_puback(&B, s, fake_out.p[0].pid), 0);
    assert_int_equal(fake_out.n, 2); /* nothing written */
    assert_int_equal(s->qlen, 0);
    assert_int_equal(s->ninflight, 1); /* the one still awaiting its PUBACK */
    assert_int_equal(B.stats.dropped_too_large, 2);
    assert_int_equal(m->refs, 2);
    fake_out.too_large = false;
    session_deliver(&B, s, m, 0, false); /* QoS 0 goes out */
    assert_int_equal(fake_out.n, 3);
    C.v5 = NULL;
    msg_unref(&m);
}

/* A session resumed by a 5.0 client whose Receive Maximum is below what
 * is in flight: only that many are resent [MQTT-3.3.4-9]; each PUBACK lets
 * the next go, DUP and with its own packet id [MQTT-4.4.0-1], before
 * anything from the queue. */
static void test_resume_within_receive_maximum(void **state)
{
    session_t *s = online("d6");
    msg_t *m = mk("t", 1);
    for (int i = 0; i < 4; i++)
        session_deliver(&B, s, m, 1, false);
    assert_int_equal(s->ninflight, 3); /* --max-inflight 3, one queued */
    uint16_t pids[3] = {fake_out.p[0].pid, fake_out.p[1].pid, fake_out.p[2].pid};
    s->conn = NULL; /* offline, back with Receive Maximum 1 */
    conn5_t v5 = {.receive_max = 1, .max_packet = UINT32_MAX};
    C.v5 = &v5;
    s->conn = &C;
    fake_out.n = 0;
    session_resume(&B, s);
    assert_int_equal(fake_out.n, 1);
    assert_int_equal(fake_out.p[0].pid, pids[0]);
    assert_true(fake_out.p[0].dup);
    for (int k = 1; k < 3; k++) {
        assert_int_equal(session_on_puback(&B, s, fake_out.p[k - 1].pid), 0);
        assert_int_equal(fake_out.n, k + 1);
        assert_int_equal(fake_out.p[k].pid, pids[k]);
        assert_true(fake_out.p[k].dup);
    }
    assert_int_equal(s->qlen, 1); /* the queued one waits for the resends */
    assert_int_equal(session_on_puback(&B, s, pids[2]), 0);
    assert_int_equal(fake_out.n, 4);
    assert_false(fake_out.p[3].dup);
    assert_int_equal(s->qlen, 0);
    C.v5 = NULL;
    msg_unref(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_restored_pid_65535_never_gives_0, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pid_wraps_past_0_and_skips_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_window_then_queue_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v5_receive_maximum_and_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_within_receive_maximum, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offline_queues_qos1_drops_qos0_and_limits, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

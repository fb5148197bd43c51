/* Unit tests for services/broker/route.c and msg.c (fakes.h stands in for
 * the connection): a session matched by several filters gets one copy at
 * the highest granted QoS capped by the published one; a filtered
 * subscription (allow s/#, deny s/secret) gets nothing on a denied topic,
 * counted as a match so the caller still hands the message over (a copy
 * queued for it in Redis is acknowledged there: test_37); retained
 * messages are stored, replaced, cleared by an empty payload, capped by
 * --max-retained and sent to a new subscription with retain set; message
 * references are dropped with the last holder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "acl/acl.h"
#include "fakes.h"
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
    session_t *s = session_new(&B, id, strlen(id), true);
    assert_non_null(s);
    s->conn = c;
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
    route_send_retained(&B, a, "r/+", 3, 1);
    assert_int_equal(fake_out.n, 2);
    for (int i = 0; i < 2; i++)
        assert_true(fake_out.p[i].retain);
    publish("r/1", "", 0, true); /* an empty payload clears it */
    fake_out.n = 0;
    route_send_retained(&B, a, "r/1", 3, 1);
    assert_int_equal(fake_out.n, 0);
    publish("r/3", "three", 1, true); /* room again */
    assert_int_equal(B.stats.dropped_retained, 1);
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
    assert_null(msg_alloc(65536, 0, 0, 0, false)); /* beyond a topic's length */
    assert_null(msg_alloc(1, 0, 256, 0, false));
    msg_t *n = msg_new("t", 1, NULL, 0, 0, false);
    assert_null(msg_eid(n));
    msg_unref(&n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_copy_at_the_highest_qos, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filtered_subscription, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retained, setup, teardown),
        cmocka_unit_test(test_msg_refs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

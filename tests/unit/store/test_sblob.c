/* Unit tests for lib/store/sblob.c: the message blob of Redis queues and
 * retained messages, and the value of a persistent subscription. A blob with 5.0 properties and expiry round-trips; one
 * without them is the blob written before 5.0 (still read the same); each
 * malformed blob is refused, never read past its end (guard page). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "guard.h"
#include "store/sblob.h"

/* A whole blob as the queue script stores it: qos, then the tail. */
static size_t build(uint8_t *out, const sstore_msg_t *m)
{
    size_t n = 0;
    out[n++] = m->qos;
    sblob_head(out + n, m);
    n += 3;
    memcpy(out + n, m->topic, m->topic_len);
    n += m->topic_len;
    n += sblob_mid(out + n, m);
    if (m->props_len)
        memcpy(out + n, m->props, m->props_len);
    n += m->props_len;
    memcpy(out + n, m->payload, m->payload_len);
    return n + m->payload_len;
}

static const uint8_t PROPS[] = {0x01, 1, 0x26, 0, 1, 'k', 0, 1, 'v'};

static void test_round_trip(void **state)
{
    (void)state;
    struct guard g = guard_new();
    sstore_msg_t m = {.topic = "a/b", .topic_len = 3, .payload = (const uint8_t *)"\0hi",
                      .payload_len = 3, .qos = 2, .retain = true, .props = PROPS,
                      .props_len = sizeof(PROPS), .expiry_ms = 1796414400123ull};
    uint8_t buf[128];
    size_t n = build(buf, &m);
    assert_int_equal(n, SBLOB_HEAD + 3 + 8 + 4 + sizeof(PROPS) + 3);
    sstore_msg_t o = {.entry_id = "keep"};
    assert_int_equal(sblob_parse((const char *)guard_put_bytes(&g, buf, n), n, &o), 0);
    assert_string_equal(o.entry_id, "keep");
    assert_int_equal(o.qos, 2);
    assert_true(o.retain);
    assert_int_equal(o.topic_len, 3);
    assert_memory_equal(o.topic, "a/b", 3);
    assert_int_equal(o.expiry_ms, 1796414400123ull);
    assert_int_equal(o.props_len, sizeof(PROPS));
    assert_memory_equal(o.props, PROPS, sizeof(PROPS));
    assert_int_equal(o.payload_len, 3);
    assert_memory_equal(o.payload, "\0hi", 3);

    /* expiry only; properties only; empty payload */
    m.props_len = 0;
    m.payload_len = 0;
    n = build(buf, &m);
    assert_int_equal(sblob_parse((const char *)guard_put_bytes(&g, buf, n), n, &o), 0);
    assert_int_equal(o.expiry_ms, 1796414400123ull);
    assert_int_equal(o.props_len, 0);
    assert_null(o.props);
    assert_int_equal(o.payload_len, 0);
    m.props_len = sizeof(PROPS);
    m.expiry_ms = 0;
    n = build(buf, &m);
    assert_int_equal(sblob_parse((const char *)guard_put_bytes(&g, buf, n), n, &o), 0);
    assert_int_equal(o.expiry_ms, 0);
    assert_int_equal(o.props_len, sizeof(PROPS));
    guard_free(&g);
}

static void test_legacy_layout(void **state)
{
    (void)state;
    /* [qos][retain][topic_len][topic][payload]: what 3.1.1 messages were and are */
    static const uint8_t old[] = {1, 1, 0, 2, 'x', '/', 'p', 'l'};
    sstore_msg_t o;
    assert_int_equal(sblob_parse((const char *)old, sizeof(old), &o), 0);
    assert_int_equal(o.qos, 1);
    assert_true(o.retain);
    assert_memory_equal(o.topic, "x/", 2);
    assert_int_equal(o.payload_len, 2);
    assert_int_equal(o.expiry_ms, 0);
    assert_int_equal(o.props_len, 0);
    sstore_msg_t m = {.topic = "x/", .topic_len = 2, .payload = (const uint8_t *)"pl",
                      .payload_len = 2, .qos = 1, .retain = true};
    uint8_t buf[32];
    assert_int_equal(build(buf, &m), sizeof(old));
    assert_memory_equal(buf, old, sizeof(old)); /* and what is written for them */
}

static void expect_bad(const uint8_t *b, size_t n)
{
    struct guard g = guard_new();
    sstore_msg_t o;
    assert_int_equal(sblob_parse((const char *)guard_put_bytes(&g, b, n), n, &o), -1);
    guard_free(&g);
}

static void test_malformed(void **state)
{
    (void)state;
    sstore_msg_t m = {.topic = "t", .topic_len = 1, .payload = (const uint8_t *)"p",
                      .payload_len = 1, .qos = 1, .props = PROPS, .props_len = sizeof(PROPS),
                      .expiry_ms = 9};
    uint8_t buf[64];
    size_t n = build(buf, &m);
    /* every cut before the payload fails; the payload is "the rest" */
    size_t payload_at = n - 1;
    for (size_t cut = 0; cut < payload_at; cut++)
        expect_bad(buf, cut);
    uint8_t b[64];
    memcpy(b, buf, n);
    b[0] = 3; /* QoS 3 */
    expect_bad(b, n);
    memcpy(b, buf, n);
    b[1] = 8; /* unknown flag */
    expect_bad(b, n);
    memcpy(b, buf, n);
    b[2] = 0xff; /* topic past the end */
    expect_bad(b, n);
    memcpy(b, buf, n);
    memset(b + SBLOB_HEAD + 1, 0, 8); /* expiry flag with expiry 0 */
    expect_bad(b, n);
    memcpy(b, buf, n);
    memset(b + SBLOB_HEAD + 1 + 8, 0, 4); /* properties flag with length 0 */
    expect_bad(b, n);
    memcpy(b, buf, n);
    b[SBLOB_HEAD + 1 + 8 + 3] = 200; /* properties past the end */
    expect_bad(b, n);
}

static void test_sub_value(void **state)
{
    (void)state;
    sstore_sub_t s;
    /* a value written before 5.0: the QoS alone */
    for (uint64_t q = 0; q <= 2; q++) {
        assert_int_equal(sblob_sub_value(q, &s), 0);
        assert_int_equal(s.qos, q);
        assert_int_equal(s.options, q);
        assert_int_equal(s.subid, 0);
    }
    uint64_t v = sblob_sub_encode(0x0d, SSTORE_SUBID_MAX); /* QoS 1, No Local, RAP */
    assert_int_equal(sblob_sub_value(v, &s), 0);
    assert_int_equal(s.qos, 1);
    assert_int_equal(s.options, 0x0d);
    assert_int_equal(s.subid, SSTORE_SUBID_MAX);
    assert_int_equal(sblob_sub_value(3, &s), -1);    /* QoS 3 */
    assert_int_equal(sblob_sub_value(0x11, &s), -1); /* Retain Handling is not kept */
    assert_int_equal(sblob_sub_value(sblob_sub_encode(1, SSTORE_SUBID_MAX) + 256, &s), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_legacy_layout),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_sub_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

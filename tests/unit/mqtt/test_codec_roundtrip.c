/* Unit tests for lib/mqtt/codec.c and encode.c: every packet encoded, then
 * decoded back (from the end of a guarded mapping) to the same fields, for
 * 3.1.1 and 5.0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"
#include "mqtt/mqtt.h"
#include "mqtt_test.h"

#define MALFORMED ROOST_EPROTO_MALFORMED
#define UTF8 ROOST_EPROTO_UTF8

/* ---- round trips --------------------------------------------------------- */

/* Checks the encoder's size contract on an already-encoded packet, then
 * decodes it against the guard page. */
typedef size_t (*enc_fn)(uint8_t *buf, size_t cap, const void *arg);

static size_t check_encoded(enc_fn enc, const void *arg, uint8_t *out, size_t cap)
{
    size_t n = enc(NULL, 0, arg);
    assert_true(n >= 2 && n <= cap);
    memset(out, 0xAA, cap);
    assert_int_equal(enc(out, n - 1, arg), n); /* too small: nothing written */
    for (size_t i = 0; i < cap; i++)
        assert_int_equal(out[i], 0xAA);
    assert_int_equal(enc(out, cap, arg), n);
    return n;
}

static void decode_back(bool server, uint8_t version, const uint8_t *b, size_t n,
                        mqtt_packet_t *p)
{
    mqtt_decoder_t d;
    size_t used;
    mqtt_decoder_init(&d, 0, server);
    d.version = version;
    assert_int_equal(gdecode(&d, b, n, &used, p), MQTT_OK);
    assert_int_equal(used, n);
}

static bool sv_eq(mqtt_str_t a, mqtt_str_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static mqtt_str_t sv(const char *s) { return (mqtt_str_t){(const uint8_t *)s, (uint32_t)strlen(s)}; }

static size_t enc_connect(uint8_t *buf, size_t cap, const void *arg)
{
    return mqtt_encode_connect(buf, cap, arg);
}

static void connect_roundtrip(const mqtt_connect_t *c)
{
    uint8_t b[512];
    mqtt_packet_t p;
    size_t n = check_encoded(enc_connect, c, b, sizeof b);
    mqtt_decoder_t d;
    size_t used;
    mqtt_decoder_init(&d, 0, true);
    assert_int_equal(gdecode(&d, b, n, &used, &p), MQTT_OK);
    assert_int_equal(d.version, c->version);
    const mqtt_connect_t *g = &p.u.connect;
    assert_int_equal(g->version, c->version);
    assert_true(c->protocol_name.len == 0 || sv_eq(g->protocol_name, c->protocol_name));
    assert_true(g->clean_session == c->clean_session && g->will == c->will &&
                g->will_qos == c->will_qos && g->will_retain == c->will_retain &&
                g->has_username == c->has_username && g->has_password == c->has_password);
    assert_int_equal(g->keepalive, c->keepalive);
    assert_true(sv_eq(g->client_id, c->client_id));
    assert_true(sv_eq(g->will_topic, c->will_topic));
    assert_true(sv_eq(g->will_payload, c->will_payload));
    assert_true(sv_eq(g->username, c->username));
    assert_true(sv_eq(g->password, c->password));
    if (c->version == MQTT_V5) {
        assert_true(sv_eq(g->props, c->props));
        assert_true(sv_eq(g->will_props, c->will_props));
    }
}

static void test_roundtrip_connect(void **state)
{
    (void)state;
    mqtt_connect_t c = {.version = 4, .clean_session = true, .keepalive = 30,
                        .client_id = sv("dev-1")};
    connect_roundtrip(&c);
    c.version = 3;
    connect_roundtrip(&c);
    c.protocol_name = sv("MQIsdp");
    connect_roundtrip(&c);
    c = (mqtt_connect_t){.version = 4, .will = true, .will_qos = 2, .will_retain = true,
                         .keepalive = 65535, .will_topic = sv("last/will"),
                         .will_payload = {(const uint8_t *)"\0\1\2", 3}, .has_username = true,
                         .username = sv("user"), .has_password = true,
                         .password = {(const uint8_t *)"p\0w", 3}};
    connect_roundtrip(&c);
    c.version = 5;
    c.props = (mqtt_str_t){(const uint8_t *)"\x11\x00\x00\x00\x0a", 5};
    c.will_props = (mqtt_str_t){(const uint8_t *)"\x01\x01", 2};
    connect_roundtrip(&c);
    c.has_username = false; /* 5.0 allows a password alone */
    c.username = (mqtt_str_t){0};
    connect_roundtrip(&c);
}

static void test_roundtrip_connack(void **state)
{
    (void)state;
    for (uint8_t v = 4; v <= 5; v++) {
        for (int sp = 0; sp < 2; sp++) {
            uint8_t b[8];
            mqtt_packet_t p;
            uint8_t rc = sp ? 0 : (v == 5 ? 0x87 : MQTT_CONNACK_NOT_AUTHORIZED);
            size_t n = mqtt_encode_connack(NULL, 0, v, sp, rc);
            assert_int_equal(n, v == 5 ? 5 : 4);
            memset(b, 0xAA, sizeof b);
            assert_int_equal(mqtt_encode_connack(b, n - 1, v, sp, rc), n);
            assert_int_equal(b[0], 0xAA);
            assert_int_equal(mqtt_encode_connack(b, sizeof b, v, sp, rc), n);
            decode_back(false, v, b, n, &p);
            assert_int_equal(p.type, MQTT_CONNACK);
            assert_int_equal(p.u.connack.session_present, sp);
            assert_int_equal(p.u.connack.rc, rc);
        }
    }
}

typedef struct pub_arg {
    uint8_t version;
    const mqtt_publish_t *p;
} pub_arg_t;

static size_t enc_publish(uint8_t *buf, size_t cap, const void *arg)
{
    const pub_arg_t *a = arg;
    return mqtt_encode_publish(buf, cap, a->version, a->p);
}

static size_t enc_publish_header(uint8_t *buf, size_t cap, const void *arg)
{
    const pub_arg_t *a = arg;
    return mqtt_encode_publish_header(buf, cap, a->version, a->p);
}

static void publish_roundtrip(uint8_t version, const mqtt_publish_t *in)
{
    static uint8_t b[MQTT_TEST_GUARD_CAP], h[MQTT_TEST_GUARD_CAP];
    pub_arg_t a = {version, in};
    size_t n = check_encoded(enc_publish, &a, b, sizeof b);
    size_t hn = check_encoded(enc_publish_header, &a, h, sizeof h);
    assert_int_equal(hn + in->payload.len, n);
    assert_memory_equal(b, h, hn);

    for (int server = 0; server < 2; server++) {
        mqtt_packet_t p;
        decode_back(server, version, b, n, &p);
        const mqtt_publish_t *g = &p.u.publish;
        assert_int_equal(p.type, MQTT_PUBLISH);
        assert_true(g->qos == in->qos && g->dup == in->dup && g->retain == in->retain);
        assert_int_equal(g->packet_id, in->packet_id);
        assert_true(sv_eq(g->topic, in->topic));
        assert_true(sv_eq(g->payload, in->payload));
        if (version == MQTT_V5)
            assert_true(sv_eq(g->props, in->props));
        else
            assert_int_equal(g->props.len, 0);
    }
}

static void test_roundtrip_publish(void **state)
{
    (void)state;
    static uint8_t big[20000];
    memset(big, 'x', sizeof big);
    for (uint8_t v = 4; v <= 5; v++) {
        mqtt_publish_t p = {.topic = sv("a/b/c"), .payload = sv("hello")};
        publish_roundtrip(v, &p);
        p = (mqtt_publish_t){.qos = 1, .dup = true, .packet_id = 1, .topic = sv("t"),
                             .props = sv(v == 5 ? "\x01\x01" : "")};
        publish_roundtrip(v, &p);
        p = (mqtt_publish_t){.qos = 2, .retain = true, .packet_id = 65535,
                             .topic = sv("caf\xc3\xa9/\xf0\x9f\x98\x80"),
                             .payload = {big, sizeof big}};
        publish_roundtrip(v, &p); /* 3-byte remaining length */
        p.payload.len = 100;      /* 2-byte remaining length */
        publish_roundtrip(v, &p);
    }
    mqtt_publish_t alias = {.topic = {(const uint8_t *)"", 0},
                            .props = {(const uint8_t *)"\x23\x00\x05", 3}};
    publish_roundtrip(5, &alias);
}

static void test_roundtrip_acks(void **state)
{
    (void)state;
    for (uint8_t v = 4; v <= 5; v++) {
        for (uint8_t t = MQTT_PUBACK; t <= MQTT_PUBCOMP; t++) {
            for (int withrc = 0; withrc < 1 + (v == 5); withrc++) {
                uint8_t b[8];
                mqtt_packet_t p;
                /* a code each packet may carry [MQTT-3.4.2-1, ...] */
                uint8_t rc = withrc ? (t >= MQTT_PUBREL ? 0x92 : 0x10) : 0;
                size_t n = mqtt_encode_ack(NULL, 0, v, t, 0x1234, rc);
                assert_int_equal(n, withrc ? 5 : 4);
                memset(b, 0xAA, sizeof b);
                assert_int_equal(mqtt_encode_ack(b, n - 1, v, t, 0x1234, rc), n);
                assert_int_equal(b[0], 0xAA);
                assert_int_equal(mqtt_encode_ack(b, sizeof b, v, t, 0x1234, rc), n);
                assert_int_equal(b[0], t << 4 | (t == MQTT_PUBREL ? 2 : 0));
                for (int server = 0; server < 2; server++) {
                    decode_back(server, v, b, n, &p);
                    assert_int_equal(p.type, t);
                    assert_int_equal(p.u.ack.packet_id, 0x1234);
                    assert_int_equal(p.u.ack.rc, rc);
                }
            }
        }
    }
}

static void test_roundtrip_subscribe(void **state)
{
    (void)state;
    mqtt_str_t filters[] = {sv("a/b"), sv("#"), sv("+/x/+"), sv("$SYS/#")};
    uint8_t opts4[] = {0, 1, 2, 1}, opts5[] = {0x2d, 0x1e, 0x02, 0x00};
    for (uint8_t v = 4; v <= 5; v++) {
        uint8_t b[256];
        mqtt_packet_t p;
        const uint8_t *opts = v == 5 ? opts5 : opts4;
        for (int unsub = 0; unsub < 2; unsub++) {
            size_t n = unsub ? mqtt_encode_unsubscribe(NULL, 0, v, 77, filters, 4)
                             : mqtt_encode_subscribe(NULL, 0, v, 77, filters, opts, 4);
            memset(b, 0xAA, sizeof b);
            size_t m = unsub ? mqtt_encode_unsubscribe(b, n - 1, v, 77, filters, 4)
                             : mqtt_encode_subscribe(b, n - 1, v, 77, filters, opts, 4);
            assert_int_equal(m, n);
            assert_int_equal(b[0], 0xAA);
            m = unsub ? mqtt_encode_unsubscribe(b, sizeof b, v, 77, filters, 4)
                      : mqtt_encode_subscribe(b, sizeof b, v, 77, filters, opts, 4);
            assert_int_equal(m, n);
            decode_back(true, v, b, n, &p);
            assert_int_equal(p.type, unsub ? MQTT_UNSUBSCRIBE : MQTT_SUBSCRIBE);
            assert_int_equal(p.u.subscribe.packet_id, 77);
            assert_int_equal(p.u.subscribe.count, 4);
            mqtt_topic_iter_t it;
            mqtt_str_t f;
            uint8_t o;
            mqtt_topic_iter_init(&it, &p.u.subscribe, !unsub);
            for (int i = 0; i < 4; i++) {
                assert_true(mqtt_topic_iter_next(&it, &f, &o));
                assert_true(sv_eq(f, filters[i]));
                if (!unsub)
                    assert_int_equal(o, opts[i]);
            }
            assert_false(mqtt_topic_iter_next(&it, &f, &o));
        }
    }
}

static void test_roundtrip_suback(void **state)
{
    (void)state;
    const uint8_t codes4[] = {0, 1, 2, 0x80}, codes5[] = {0, 0x97, 0x8f, 2};
    for (uint8_t v = 4; v <= 5; v++) {
        const uint8_t *codes = v == 5 ? codes5 : codes4;
        uint8_t b[32];
        mqtt_packet_t p;
        size_t n = mqtt_encode_suback(NULL, 0, v, 9, codes, 4);
        assert_int_equal(n, v == 5 ? 9 : 8);
        memset(b, 0xAA, sizeof b);
        assert_int_equal(mqtt_encode_suback(b, n - 1, v, 9, codes, 4), n);
        assert_int_equal(b[0], 0xAA);
        assert_int_equal(mqtt_encode_suback(b, sizeof b, v, 9, codes, 4), n);
        decode_back(false, v, b, n, &p);
        assert_int_equal(p.type, MQTT_SUBACK);
        assert_int_equal(p.u.suback.packet_id, 9);
        assert_int_equal(p.u.suback.codes.len, 4);
        assert_memory_equal(p.u.suback.codes.ptr, codes, 4);

        const uint8_t ucodes[] = {0x00, 0x11};
        n = mqtt_encode_unsuback(NULL, 0, v, 10, ucodes, 2);
        assert_int_equal(n, v == 5 ? 7 : 4);
        assert_int_equal(mqtt_encode_unsuback(b, sizeof b, v, 10, ucodes, 2), n);
        decode_back(false, v, b, n, &p);
        assert_int_equal(p.type, MQTT_UNSUBACK);
        assert_int_equal(p.u.suback.packet_id, 10);
        assert_int_equal(p.u.suback.codes.len, v == 5 ? 2 : 0);
        if (v == 5)
            assert_memory_equal(p.u.suback.codes.ptr, ucodes, 2);
    }
}

static void test_roundtrip_simple(void **state)
{
    (void)state;
    uint8_t b[4];
    mqtt_packet_t p;
    const struct {
        uint8_t type;
        bool server;
        uint8_t version;
    } t[] = {{MQTT_PINGREQ, true, 4},  {MQTT_PINGRESP, false, 4}, {MQTT_DISCONNECT, true, 4},
             {MQTT_PINGREQ, true, 5},  {MQTT_PINGRESP, false, 5}, {MQTT_DISCONNECT, false, 5}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        memset(b, 0xAA, sizeof b);
        assert_int_equal(mqtt_encode_simple(b, 1, t[i].type), 2);
        assert_int_equal(b[0], 0xAA);
        assert_int_equal(mqtt_encode_simple(b, sizeof b, t[i].type), 2);
        decode_back(t[i].server, t[i].version, b, 2, &p);
        assert_int_equal(p.type, t[i].type);
        assert_int_equal(p.remaining, 0);
    }
    assert_int_equal(mqtt_encode_disconnect(b, sizeof b, 4, 0), 2);
    decode_back(true, 4, b, 2, &p);
    assert_int_equal(p.type, MQTT_DISCONNECT);
    assert_int_equal(mqtt_encode_disconnect(NULL, 0, 5, 0x8e), 3);
    memset(b, 0xAA, sizeof b);
    assert_int_equal(mqtt_encode_disconnect(b, 2, 5, 0x8e), 3);
    assert_int_equal(b[0], 0xAA);
    assert_int_equal(mqtt_encode_disconnect(b, sizeof b, 5, 0x8e), 3);
    for (int server = 0; server < 2; server++) {
        decode_back(server, 5, b, 3, &p);
        assert_int_equal(p.u.ack.rc, 0x8e);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_connect),
        cmocka_unit_test(test_roundtrip_connack),
        cmocka_unit_test(test_roundtrip_publish),
        cmocka_unit_test(test_roundtrip_acks),
        cmocka_unit_test(test_roundtrip_subscribe),
        cmocka_unit_test(test_roundtrip_suback),
        cmocka_unit_test(test_roundtrip_simple),
    };
    return cmocka_run_group_tests(tests, guard_setup, guard_teardown);
}

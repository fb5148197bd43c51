/* Unit tests for the MQTT 5.0 side of lib/mqtt/codec.c and encode.c: a
 * conformance table of 5.0 packets (each refusal with the error and the
 * reason code a CONNACK or DISCONNECT reports for it), the decoded
 * properties of every packet, round trips of every packet with properties
 * through the _v5 encoders (short forms included), and that 3.1.1 decoding
 * leaves the 5.0 property fields alone. Inputs sit against a guard page. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "guard.h"
#include "mqtt/mqtt.h"
#include "mqtt/props.h"
#include "mqtt/reason.h"
#include "mqtt_test.h"

#define MALFORMED ROOST_EPROTO_MALFORMED
#define PROTOCOL ROOST_EPROTO_PROTOCOL
#define UTF8 ROOST_EPROTO_UTF8
#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Decodes hex with a fresh decoder of the given side and version. */
static int decode_hex(bool server, uint8_t version, const char *hex, mqtt_packet_t *p)
{
    uint8_t b[1024];
    size_t n = unhex(hex, b, sizeof b), used;
    mqtt_decoder_t d;
    mqtt_decoder_init(&d, 0, server);
    d.version = version;
    int rc = mqtt_decode(&d, guard_put_bytes(&g_guard, b, n), n, &used, p);
    if (rc == MQTT_OK)
        assert_int_equal(used, n);
    return rc;
}

static bool str_eq(mqtt_str_t s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

/* ---- the 5.0 conformance table ----------------------------------------------- */

typedef struct dcase {
    const char *name;
    bool server;
    uint8_t version; /* 0: the CONNECT sets it */
    const char *hex;
    int rc;
    uint8_t reason; /* what a CONNACK/DISCONNECT reports for rc (0 when rc is 0) */
} dcase_t;

#define S true
#define C false

static const dcase_t cases[] = {
    /* CONNECT */
    {"3.1.2.11 CONNECT properties and will properties", S, 0,
     "10 LL 00 04 'MQTT' 05 ce 00 3c 19 11 00 00 00 3c 21 00 14 27 00 00 40 00 22 00 0a 17 01 "
     "26 00 01 'k' 00 01 'v' 00 02 'c1' 10 18 00 00 00 05 01 01 02 00 00 00 78 03 00 01 't' 00 "
     "03 'w/t' 00 02 'hi' 00 01 'u' 00 01 'p'",
     0, 0},
    {"3.1.2.11.3 CONNECT Receive Maximum 0", S, 0,
     "10 LL 00 04 'MQTT' 05 02 00 3c 03 21 00 00 00 00", PROTOCOL, 0x82},
    {"3.1.2.11.4 CONNECT Maximum Packet Size 0", S, 0,
     "10 LL 00 04 'MQTT' 05 02 00 3c 05 27 00 00 00 00 00 00", PROTOCOL, 0x82},
    {"3.1.2.11.2 CONNECT Session Expiry twice", S, 0,
     "10 LL 00 04 'MQTT' 05 02 00 3c 0a 11 00 00 00 01 11 00 00 00 02 00 00", PROTOCOL, 0x82},
    {"3.1.2.11.10 CONNECT Authentication Data without Method", S, 0,
     "10 LL 00 04 'MQTT' 05 02 00 3c 04 16 00 01 'x' 00 00", PROTOCOL, 0x82},
    {"2.2.2.2 CONNECT with Topic Alias", S, 0, "10 LL 00 04 'MQTT' 05 02 00 3c 03 23 00 01 00 00",
     MALFORMED, 0x81},
    {"MQTT-1.5.7-1 CONNECT User Property ill-formed", S, 0,
     "10 LL 00 04 'MQTT' 05 02 00 3c 07 26 00 01 'k' 00 01 ff 00 00", UTF8, 0x81},
    {"2.2.2.2 will properties with Session Expiry", S, 0,
     "10 LL 00 04 'MQTT' 05 06 00 3c 00 00 00 05 11 00 00 00 01 00 01 't' 00 00", MALFORMED,
     0x81},
    {"3.1.3.2.3 will Payload Format Indicator 2", S, 0,
     "10 LL 00 04 'MQTT' 05 06 00 3c 00 00 00 02 01 02 00 01 't' 00 00", PROTOCOL, 0x82},
    {"MQTT-3.3.2-14 will Response Topic with wildcard", S, 0,
     "10 LL 00 04 'MQTT' 05 06 00 3c 00 00 00 04 08 00 01 '#' 00 01 't' 00 00", PROTOCOL, 0x82},
    {"3.1.2.11 CONNECT property list cut", S, 0, "10 LL 00 04 'MQTT' 05 02 00 3c 02 11 00",
     MALFORMED, 0x81},

    /* CONNACK (client side) */
    {"3.2.2.3 CONNACK properties", C, 5,
     "20 LL 00 00 1d 12 00 02 'id' 13 00 1e 21 00 05 24 01 25 00 27 00 00 10 00 28 01 29 00 2a "
     "00 1f 00 00",
     0, 0},
    {"3.2.2.2 CONNACK refused 0x86 with reason string", C, 5, "20 LL 00 86 05 1f 00 02 'no'", 0,
     0},
    {"3.2.2.2 CONNACK reason 0x8B is DISCONNECT only", C, 5, "20 03 00 8b 00", MALFORMED, 0x81},
    {"3.2.2.2 CONNACK reason 0x04", C, 5, "20 03 00 04 00", MALFORMED, 0x81},
    {"3.2.2.3.4 CONNACK Maximum QoS 2", C, 5, "20 LL 00 00 02 24 02", PROTOCOL, 0x82},
    {"2.2.2.2 CONNACK with Will Delay", C, 5, "20 LL 00 00 05 18 00 00 00 01", MALFORMED, 0x81},

    /* PUBLISH */
    {"3.3.2.3 PUBLISH every publish property", S, 5,
     "32 LL 00 03 'a/b' 00 07 23 01 01 02 00 00 00 3c 03 00 04 'json' 08 00 03 'r/1' 09 00 02 "
     "00 01 23 00 02 26 00 01 'k' 00 01 'v' 'payload'",
     0, 0},
    {"3.3.2.3.4 empty topic with Topic Alias", S, 5, "30 LL 00 00 03 23 00 05 'x'", 0, 0},
    {"3.3.2.3.4 empty topic without Topic Alias", S, 5, "30 LL 00 00 00 'x'", PROTOCOL, 0x82},
    {"3.3.2.3.4 empty topic, properties but no alias", S, 5, "30 LL 00 00 02 01 01 'x'", PROTOCOL,
     0x82},
    {"MQTT-3.3.2-8 Topic Alias 0", S, 5, "30 LL 00 01 'a' 03 23 00 00", PROTOCOL, 0x82},
    {"MQTT-3.3.4-6 Subscription Identifier from a client", S, 5, "30 LL 00 01 'a' 02 0b 01",
     PROTOCOL, 0x82},
    {"3.3.4 Subscription Identifiers to a client", C, 5, "30 LL 00 01 'a' 04 0b 01 0b 02", 0, 0},
    {"3.3.2.3.8 Subscription Identifier 0 to a client", C, 5, "30 LL 00 01 'a' 02 0b 00",
     PROTOCOL, 0x82},
    {"3.3.2.3.2 Payload Format Indicator 2", S, 5, "30 LL 00 01 'a' 02 01 02", PROTOCOL, 0x82},
    {"3.3.2.3.3 Message Expiry twice", S, 5, "30 LL 00 01 'a' 0a 02 00 00 00 01 02 00 00 00 01",
     PROTOCOL, 0x82},
    {"2.2.2.2 PUBLISH with Session Expiry", S, 5, "30 LL 00 01 'a' 05 11 00 00 00 01", MALFORMED,
     0x81},
    {"MQTT-1.5.5-1 Property Length not in the minimum bytes", S, 5, "30 LL 00 01 'a' 80 00",
     MALFORMED, 0x81},
    {"MQTT-1.5.5-1 Property Length 2 bytes for 128", S, 5,
     "30 LL 00 01 'a' 80 01 26 00 7b 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' 00 00",
     0, 0},
    {"2.2.2.2 PUBLISH unknown property", S, 5, "30 LL 00 01 'a' 02 05 00", MALFORMED, 0x81},
    {"MQTT-1.5.4-1 PUBLISH Content Type ill-formed", S, 5, "30 LL 00 01 'a' 04 03 00 01 c0",
     UTF8, 0x81},

    /* PUBACK, PUBREC, PUBREL, PUBCOMP */
    {"3.4.2.2 PUBACK reason string and user property", S, 5,
     "40 LL 00 01 10 0b 1f 00 02 'ok' 26 00 01 'k' 00 00", 0, 0},
    {"MQTT-3.4.2-1 PUBACK reason 0x92", S, 5, "40 03 00 01 92", MALFORMED, 0x81},
    {"MQTT-3.5.2-1 PUBREC reason 0x11", S, 5, "50 03 00 01 11", MALFORMED, 0x81},
    {"MQTT-3.6.2-1 PUBREL reason 0x10", S, 5, "62 03 00 01 10", MALFORMED, 0x81},
    {"MQTT-3.7.2-1 PUBCOMP reason 0x80", C, 5, "70 03 00 01 80", MALFORMED, 0x81},
    {"3.7.2 PUBCOMP 0x92 with properties", C, 5, "70 LL 00 01 92 04 1f 00 01 'x'", 0, 0},
    {"2.2.2.2 PUBACK with Topic Alias", S, 5, "40 LL 00 01 00 03 23 00 01", MALFORMED, 0x81},
    {"3.4.2.2 PUBACK Reason String twice", S, 5, "40 LL 00 01 00 06 1f 00 00 1f 00 00", PROTOCOL,
     0x82},

    /* SUBSCRIBE */
    {"3.8.2.1.2 SUBSCRIBE Subscription Identifier", S, 5,
     "82 LL 00 01 08 0b 80 01 26 00 00 00 00 00 03 'a/b' 2d", 0, 0},
    {"3.8.2.1.2 SUBSCRIBE Subscription Identifier 0", S, 5, "82 LL 00 01 02 0b 00 00 01 'a' 00",
     PROTOCOL, 0x82},
    {"3.8.2.1.2 SUBSCRIBE Subscription Identifier twice", S, 5,
     "82 LL 00 01 04 0b 01 0b 02 00 01 'a' 00", PROTOCOL, 0x82},
    {"2.2.2.2 SUBSCRIBE with Reason String", S, 5, "82 LL 00 01 03 1f 00 00 00 01 'a' 00",
     MALFORMED, 0x81},
    {"MQTT-3.8.3-4 No Local on a shared subscription", S, 5,
     "82 LL 00 01 00 00 0c '$share/g/a/b' 04", PROTOCOL, 0x82},
    {"MQTT-3.8.3-4 shared subscription without No Local", S, 5,
     "82 LL 00 01 00 00 0c '$share/g/a/b' 01", 0, 0},
    {"3.8.3.1 No Local, Retain As Published, Retain Handling 2", S, 5,
     "82 LL 00 01 00 00 01 'a' 2e", 0, 0},
    {"3.8.3.1 Retain Handling 3", S, 5, "82 LL 00 01 00 00 01 'a' 31", PROTOCOL, 0x82},
    {"MQTT-3.8.3-5 reserved bits 6-7", S, 5, "82 LL 00 01 00 00 01 'a' c0", MALFORMED, 0x81},

    /* SUBACK, UNSUBSCRIBE, UNSUBACK (client side for acks) */
    {"3.9.3 SUBACK codes and reason string", C, 5, "90 LL 00 01 03 1f 00 00 00 01 02 80 87 a1",
     0, 0},
    {"MQTT-3.9.3-1 SUBACK code 0x10", C, 5, "90 LL 00 01 00 10", MALFORMED, 0x81},
    {"MQTT-3.9.3-1 SUBACK code 0x92", C, 5, "90 LL 00 01 00 00 92", MALFORMED, 0x81},
    {"3.10.2.1 UNSUBSCRIBE user property", S, 5, "a2 LL 00 01 05 26 00 00 00 00 00 01 'a'", 0, 0},
    {"2.2.2.2 UNSUBSCRIBE with Subscription Identifier", S, 5, "a2 LL 00 01 02 0b 01 00 01 'a'",
     MALFORMED, 0x81},
    {"MQTT-3.11.3-1 UNSUBACK codes", C, 5, "b0 LL 00 01 00 00 11 80 83 87 8f 91", 0, 0},
    {"MQTT-3.11.3-1 UNSUBACK code 0x01", C, 5, "b0 LL 00 01 00 01", MALFORMED, 0x81},

    /* DISCONNECT */
    {"3.14.2.2 DISCONNECT from client with Session Expiry", S, 5,
     "e0 LL 04 0a 11 00 00 00 3c 1f 00 02 'by'", 0, 0},
    {"MQTT-3.14.2-2 DISCONNECT from server with Session Expiry", C, 5,
     "e0 LL 00 05 11 00 00 00 00", PROTOCOL, 0x82},
    {"3.14.2.2.5 DISCONNECT from server with Server Reference", C, 5,
     "e0 LL 9c 07 1c 00 04 'h:99'", 0, 0},
    {"MQTT-3.14.2-1 DISCONNECT reason 0x84", S, 5, "e0 01 84", MALFORMED, 0x81},
    {"MQTT-3.14.2-1 DISCONNECT reason 0x10", C, 5, "e0 01 10", MALFORMED, 0x81},
    {"2.2.2.2 DISCONNECT with Receive Maximum", S, 5, "e0 LL 00 03 21 00 01", MALFORMED, 0x81},

    /* AUTH */
    {"3.15.2 AUTH continue with method and data", S, 5, "f0 LL 18 08 15 00 01 'm' 16 00 01 'd'",
     0, 0},
    {"MQTT-3.15.2-1 AUTH reason 0x00 with properties", C, 5, "f0 LL 00 04 15 00 01 'm'", 0, 0},
    {"MQTT-3.15.2-1 AUTH reason 0x87", S, 5, "f0 LL 87 00", MALFORMED, 0x81},
    {"3.15.2.1 AUTH reason without property length", S, 5, "f0 01 18", MALFORMED, 0x81},
    {"3.15.2.2.3 AUTH data without method", S, 5, "f0 LL 18 04 16 00 01 'd'", PROTOCOL, 0x82},
    {"2.2.2.2 AUTH with User Property and Session Expiry", S, 5,
     "f0 LL 18 0a 26 00 00 00 00 11 00 00 00 01", MALFORMED, 0x81},
};

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(cases); i++) {
        mqtt_packet_t p;
        int rc = decode_hex(cases[i].server, cases[i].version, cases[i].hex, &p);
        if (rc != cases[i].rc)
            print_error("case \"%s\": rc %d, want %d\n", cases[i].name, rc, cases[i].rc);
        assert_int_equal(rc, cases[i].rc);
        if (rc != 0)
            assert_int_equal(mqtt_reason_from_err(rc), cases[i].reason);
    }
}

/* ---- decoded fields -------------------------------------------------------------- */

static const char *find_case(const char *name)
{
    for (size_t i = 0; i < N(cases); i++)
        if (strcmp(cases[i].name, name) == 0)
            return cases[i].hex;
    fail_msg("no case %s", name);
    return NULL;
}

static void test_connect_props(void **state)
{
    (void)state;
    mqtt_packet_t p;
    assert_int_equal(decode_hex(S, 0, find_case("3.1.2.11 CONNECT properties and will properties"), &p), 0);
    const mqtt_props_t *c = &p.props, *w = &p.will_props;
    assert_int_equal(p.u.connect.version, 5);
    assert_int_equal(c->session_expiry, 60);
    assert_int_equal(c->receive_maximum, 20);
    assert_int_equal(c->max_packet_size, 16384);
    assert_int_equal(c->topic_alias_maximum, 10);
    assert_int_equal(c->request_problem_info, 1);
    assert_int_equal(c->user_count, 1);
    assert_int_equal(c->raw.ptr, p.u.connect.props.ptr);
    assert_int_equal(c->raw.len, 25);
    assert_int_equal(w->will_delay, 5);
    assert_int_equal(w->payload_format, 1);
    assert_int_equal(w->message_expiry, 120);
    assert_true(str_eq(w->content_type, "t"));
    assert_true(str_eq(p.u.connect.will_topic, "w/t"));
    assert_true(str_eq(p.u.connect.will_payload, "hi"));
    assert_true(str_eq(p.u.connect.username, "u"));
    assert_true(str_eq(p.u.connect.password, "p"));

    /* no will: will_props stay zero */
    assert_int_equal(decode_hex(S, 0, "10 LL 00 04 'MQTT' 05 02 00 3c 00 00 00", &p), 0);
    assert_int_equal(p.props.present, 0);
    assert_int_equal(p.will_props.present, 0);
}

static void test_packet_props(void **state)
{
    (void)state;
    mqtt_packet_t p;
    assert_int_equal(decode_hex(C, 5, find_case("3.2.2.3 CONNACK properties"), &p), 0); /* CONNACK properties */
    assert_true(str_eq(p.props.assigned_client_id, "id"));
    assert_int_equal(p.props.server_keep_alive, 30);
    assert_int_equal(p.props.receive_maximum, 5);
    assert_int_equal(p.props.maximum_qos, 1);
    assert_true(mqtt_props_has(&p.props, MQTT_PROP_RETAIN_AVAILABLE));
    assert_int_equal(p.props.retain_available, 0);
    assert_int_equal(p.props.max_packet_size, 4096);

    assert_int_equal(decode_hex(S, 5, find_case("3.3.2.3 PUBLISH every publish property"), &p), 0); /* PUBLISH */
    assert_int_equal(p.u.publish.packet_id, 7);
    assert_int_equal(p.props.payload_format, 1);
    assert_int_equal(p.props.message_expiry, 60);
    assert_true(str_eq(p.props.content_type, "json"));
    assert_true(str_eq(p.props.response_topic, "r/1"));
    assert_int_equal(p.props.topic_alias, 2);
    assert_int_equal(p.props.user_count, 1);
    assert_true(str_eq(p.u.publish.payload, "payload"));

    assert_int_equal(decode_hex(S, 5, "32 LL 00 01 'a' 00 08 00 'x'", &p), 0); /* no properties */
    assert_int_equal(p.props.present, 0);
    assert_int_equal(p.props.raw.len, 0);

    assert_int_equal(decode_hex(C, 5, "30 LL 00 01 'a' 05 0b 01 0b 80 01", &p), 0);
    assert_int_equal(p.props.sub_id, 1);
    assert_int_equal(p.props.sub_id_count, 2);

    assert_int_equal(decode_hex(S, 5, find_case("3.8.2.1.2 SUBSCRIBE Subscription Identifier"), &p), 0); /* SUBSCRIBE */
    assert_int_equal(p.props.sub_id, 128);
    uint8_t o;
    mqtt_str_t f;
    mqtt_topic_iter_t it;
    mqtt_topic_iter_init(&it, &p.u.subscribe, true);
    assert_true(mqtt_topic_iter_next(&it, &f, &o));
    assert_int_equal(o & 3, 1);        /* QoS */
    assert_true(o & 0x04);             /* No Local */
    assert_true(o & 0x08);             /* Retain As Published */
    assert_int_equal((o >> 4) & 3, 2); /* Retain Handling */

    assert_int_equal(decode_hex(S, 5, "40 02 00 01", &p), 0); /* short PUBACK */
    assert_int_equal(p.u.ack.rc, 0);
    assert_int_equal(p.props.present, 0);

    assert_int_equal(decode_hex(S, 5, find_case("3.14.2.2 DISCONNECT from client with Session Expiry"), &p), 0); /* DISCONNECT */
    assert_int_equal(p.u.ack.rc, 0x04);
    assert_int_equal(p.props.session_expiry, 60);
    assert_true(str_eq(p.props.reason_string, "by"));

    assert_int_equal(decode_hex(S, 5, find_case("3.15.2 AUTH continue with method and data"), &p), 0); /* AUTH */
    assert_int_equal(p.u.ack.rc, 0x18);
    assert_true(str_eq(p.props.auth_method, "m"));
    assert_true(str_eq(p.props.auth_data, "d"));
}

/* 3.1.1 decoding never writes the 5.0 property fields (the hot path pays
 * nothing for them); 5.0 decoding clears them for a packet without any. */
static void test_v311_leaves_props(void **state)
{
    (void)state;
    mqtt_packet_t p;
    static const char *v311[] = {"30 LL 00 01 'a' 'x'", "32 LL 00 01 'a' 00 01", "40 02 00 01",
                                 "82 LL 00 01 00 01 'a' 00", "c0 00", "e0 00"};
    for (size_t i = 0; i < N(v311); i++) {
        memset(&p.props, 0xAB, sizeof p.props);
        memset(&p.will_props, 0xCD, sizeof p.will_props);
        assert_int_equal(decode_hex(S, 4, v311[i], &p), 0);
        for (size_t k = 0; k < sizeof p.props; k++)
            assert_int_equal(((uint8_t *)&p.props)[k], 0xAB);
        for (size_t k = 0; k < sizeof p.will_props; k++)
            assert_int_equal(((uint8_t *)&p.will_props)[k], 0xCD);
    }
    memset(&p.props, 0xAB, sizeof p.props);
    assert_int_equal(decode_hex(S, 5, "e0 00", &p), 0);
    assert_int_equal(p.props.present, 0);
    assert_int_equal(p.props.raw.len, 0);
}

/* A 5.0 PUBLISH with Property Length 0 (the fast path) and one with a
 * list: the PUBLISH fields are zero when absent, raw is the empty list
 * where it stands, and the fields a PUBLISH cannot carry are not touched
 * (props.h: no clearing of the whole struct per message). */
static void test_publish_empty_props(void **state)
{
    (void)state;
    mqtt_packet_t p;
    static const char *hex[] = {"30 LL 00 01 'a' 00 'x'", "32 LL 00 01 'a' 00 07 00 'x'",
                                "30 LL 00 01 'a' 02 01 00 'x'"};
    for (size_t i = 0; i < N(hex); i++) {
        memset(&p.props, 0xAB, sizeof p.props);
        assert_int_equal(decode_hex(S, 5, hex[i], &p), 0);
        assert_int_equal(p.props.present, i == 2 ? MQTT_PROP_BIT(MQTT_PROP_PAYLOAD_FORMAT) : 0);
        assert_int_equal(p.props.raw.len, i == 2 ? 2 : 0);
        assert_ptr_equal(p.props.raw.ptr, p.u.publish.props.ptr);
        assert_int_equal(p.u.publish.props.len, p.props.raw.len);
        assert_ptr_equal(p.u.publish.props.ptr + p.props.raw.len, p.u.publish.payload.ptr);
        assert_true(str_eq(p.u.publish.payload, "x"));
        assert_int_equal(p.props.extra.len, 0);
        assert_int_equal(p.props.user_count + p.props.sub_id_count, 0);
        assert_int_equal(p.props.message_expiry, 0);
        assert_int_equal(p.props.sub_id, 0);
        assert_int_equal(p.props.topic_alias, 0);
        assert_int_equal(p.props.payload_format, 0);
        assert_int_equal(p.props.content_type.len + p.props.response_topic.len +
                             p.props.correlation_data.len, 0);
        assert_int_equal(p.props.session_expiry, 0xABABABABu); /* not a PUBLISH field */
    }
    /* an empty topic still needs a Topic Alias on the fast path */
    assert_int_equal(decode_hex(S, 5, "30 LL 00 00 00 'x'", &p), ROOST_EPROTO_PROTOCOL);
}

/* ---- round trips with properties ------------------------------------------------- */

/* Encodes with cap = 0, too small, exact; decodes back with a side/version. */
#define ENCODE(buf, call_with_buf_cap)                                           \
    ({                                                                           \
        uint8_t *b_ = NULL;                                                      \
        size_t cap_ = 0;                                                         \
        (void)b_;                                                                \
        size_t n_ = (call_with_buf_cap);                                         \
        assert_true(n_ >= 2 && n_ <= sizeof(buf));                               \
        memset(buf, 0xAA, sizeof(buf));                                          \
        b_ = buf;                                                                \
        cap_ = n_ - 1;                                                           \
        assert_int_equal((call_with_buf_cap), n_);                               \
        assert_int_equal(buf[0], 0xAA);                                          \
        cap_ = sizeof(buf);                                                      \
        assert_int_equal((call_with_buf_cap), n_);                               \
        n_;                                                                      \
    })

static void decode_back(bool server, const uint8_t *b, size_t n, mqtt_packet_t *p)
{
    mqtt_decoder_t d;
    size_t used;
    mqtt_decoder_init(&d, 0, server);
    d.version = MQTT_V5;
    assert_int_equal(mqtt_decode(&d, guard_put_bytes(&g_guard, b, n), n, &used, p), MQTT_OK);
    assert_int_equal(used, n);
}

#define SV(lit) ((mqtt_str_t){(const uint8_t *)(lit), sizeof(lit) - 1})

static void test_roundtrip_connect(void **state)
{
    (void)state;
    uint8_t props[64], wprops[64], buf[256];
    mqtt_props_t cp = {0}, wp = {0};
    cp.present = MQTT_PROP_BIT(MQTT_PROP_SESSION_EXPIRY) | MQTT_PROP_BIT(MQTT_PROP_RECEIVE_MAXIMUM);
    cp.session_expiry = 3600;
    cp.receive_maximum = 100;
    wp.present = MQTT_PROP_BIT(MQTT_PROP_WILL_DELAY) | MQTT_PROP_BIT(MQTT_PROP_CORRELATION_DATA);
    wp.will_delay = 9;
    wp.correlation_data = SV("\x01\x02");
    mqtt_connect_t c = {.version = 5, .clean_session = true, .will = true, .will_qos = 1,
                        .keepalive = 30, .client_id = SV("dev"), .will_topic = SV("w"),
                        .will_payload = SV("bye"), .has_password = true, .password = SV("pw")};
    c.props = (mqtt_str_t){props, (uint32_t)mqtt_props_encode(props, sizeof props, &cp)};
    c.will_props = (mqtt_str_t){wprops, (uint32_t)mqtt_props_encode(wprops, sizeof wprops, &wp)};
    size_t n = ENCODE(buf, mqtt_encode_connect(b_, cap_, &c));
    mqtt_packet_t p;
    decode_back(S, buf, n, &p);
    assert_int_equal(p.props.session_expiry, 3600);
    assert_int_equal(p.props.receive_maximum, 100);
    assert_int_equal(p.will_props.will_delay, 9);
    assert_int_equal(p.will_props.correlation_data.len, 2);
    assert_false(p.u.connect.has_username); /* 5.0: a password alone is fine */
    assert_true(str_eq(p.u.connect.password, "pw"));
}

static void test_roundtrip_packets(void **state)
{
    (void)state;
    uint8_t buf[256];
    mqtt_packet_t p;
    const mqtt_str_t rs = SV("\x1f\x00\x03why"), none = {NULL, 0};

    /* CONNACK with properties, and refused */
    uint8_t cprops[32];
    mqtt_props_t cp = {0};
    cp.present = MQTT_PROP_BIT(MQTT_PROP_ASSIGNED_CLIENT_ID) |
                 MQTT_PROP_BIT(MQTT_PROP_TOPIC_ALIAS_MAXIMUM) | MQTT_PROP_BIT(MQTT_PROP_MAXIMUM_QOS);
    cp.assigned_client_id = SV("auto-7");
    cp.topic_alias_maximum = 16;
    cp.maximum_qos = 1;
    mqtt_str_t cpl = {cprops, (uint32_t)mqtt_props_encode(cprops, sizeof cprops, &cp)};
    size_t n = ENCODE(buf, mqtt_encode_connack_v5(b_, cap_, true, 0, cpl));
    decode_back(C, buf, n, &p);
    assert_true(p.u.connack.session_present);
    assert_true(str_eq(p.props.assigned_client_id, "auto-7"));
    assert_int_equal(p.props.topic_alias_maximum, 16);
    n = ENCODE(buf, mqtt_encode_connack_v5(b_, cap_, false, 0x87, rs));
    decode_back(C, buf, n, &p);
    assert_int_equal(p.u.connack.rc, 0x87);
    assert_true(str_eq(p.props.reason_string, "why"));
    assert_int_equal(mqtt_encode_connack(NULL, 0, 5, false, 0), 5); /* empty property list */

    /* PUBLISH with properties */
    mqtt_publish_t pub = {.qos = 2, .packet_id = 9, .topic = SV("t/1"), .payload = SV("x"),
                          .props = SV("\x02\x00\x00\x00\x0a\x26\x00\x01k\x00\x01v")};
    n = ENCODE(buf, mqtt_encode_publish(b_, cap_, 5, &pub));
    decode_back(S, buf, n, &p);
    assert_int_equal(p.props.message_expiry, 10);
    assert_int_equal(p.props.user_count, 1);
    assert_true(str_eq(p.u.publish.payload, "x"));

    /* PUBACK..PUBCOMP: 2 (success, no properties), 3 (code), 3 + properties */
    for (uint8_t t = MQTT_PUBACK; t <= MQTT_PUBCOMP; t++) {
        uint8_t code = t >= MQTT_PUBREL ? 0x92 : 0x97;
        struct {
            uint8_t rc;
            mqtt_str_t props;
            size_t size;
        } forms[] = {{0, none, 4}, {code, none, 5}, {0, rs, 12}, {code, rs, 12}};
        for (size_t i = 0; i < N(forms); i++) {
            n = ENCODE(buf, mqtt_encode_ack_v5(b_, cap_, t, 300, forms[i].rc, forms[i].props));
            assert_int_equal(n, forms[i].size);
            for (int server = 0; server < 2; server++) {
                decode_back(server, buf, n, &p);
                assert_int_equal(p.type, t);
                assert_int_equal(p.u.ack.packet_id, 300);
                assert_int_equal(p.u.ack.rc, forms[i].rc);
                assert_int_equal(p.props.reason_string.len, forms[i].props.len ? 3 : 0);
            }
        }
    }

    /* SUBSCRIBE / UNSUBSCRIBE with properties */
    mqtt_str_t filters[] = {SV("a/+"), SV("$share/g/b")};
    uint8_t opts[] = {0x2e, 0x01};
    n = ENCODE(buf, mqtt_encode_subscribe_v5(b_, cap_, 5, SV("\x0b\x2a"), filters, opts, 2));
    decode_back(S, buf, n, &p);
    assert_int_equal(p.u.subscribe.count, 2);
    assert_int_equal(p.props.sub_id, 42);
    n = ENCODE(buf, mqtt_encode_unsubscribe_v5(b_, cap_, 6, SV("\x26\x00\x00\x00\x00"), filters, 2));
    decode_back(S, buf, n, &p);
    assert_int_equal(p.type, MQTT_UNSUBSCRIBE);
    assert_int_equal(p.props.user_count, 1);

    /* SUBACK / UNSUBACK with reason codes and properties */
    uint8_t sc[] = {0x01, 0x87, 0xa2}, uc[] = {0x00, 0x11};
    n = ENCODE(buf, mqtt_encode_suback_v5(b_, cap_, 5, rs, sc, 3));
    decode_back(C, buf, n, &p);
    assert_int_equal(p.u.suback.codes.len, 3);
    assert_memory_equal(p.u.suback.codes.ptr, sc, 3);
    assert_true(str_eq(p.props.reason_string, "why"));
    n = ENCODE(buf, mqtt_encode_unsuback_v5(b_, cap_, 6, none, uc, 2));
    decode_back(C, buf, n, &p);
    assert_int_equal(p.type, MQTT_UNSUBACK);
    assert_memory_equal(p.u.suback.codes.ptr, uc, 2);

    /* DISCONNECT: 2 bytes, 3 bytes, with properties */
    n = ENCODE(buf, mqtt_encode_disconnect_v5(b_, cap_, 0, none));
    assert_int_equal(n, 2);
    n = ENCODE(buf, mqtt_encode_disconnect_v5(b_, cap_, 0x8e, none));
    assert_int_equal(n, 3);
    decode_back(C, buf, n, &p);
    assert_int_equal(p.u.ack.rc, 0x8e);
    n = ENCODE(buf, mqtt_encode_disconnect_v5(b_, cap_, 0x9c, SV("\x1c\x00\x01h")));
    assert_int_equal(n, 8);
    decode_back(C, buf, n, &p);
    assert_true(str_eq(p.props.server_reference, "h"));
    n = ENCODE(buf, mqtt_encode_disconnect_v5(b_, cap_, 0, SV("\x11\x00\x00\x00\x00")));
    decode_back(S, buf, n, &p);
    assert_true(mqtt_props_has(&p.props, MQTT_PROP_SESSION_EXPIRY));

    /* AUTH: 2 bytes for success without properties, else code + list */
    n = ENCODE(buf, mqtt_encode_auth(b_, cap_, 0, none));
    assert_int_equal(n, 2);
    decode_back(S, buf, n, &p);
    assert_int_equal(p.type, MQTT_AUTH);
    n = ENCODE(buf, mqtt_encode_auth(b_, cap_, 0x18, none));
    assert_int_equal(n, 4);
    decode_back(S, buf, n, &p);
    assert_int_equal(p.u.ack.rc, 0x18);
    n = ENCODE(buf, mqtt_encode_auth(b_, cap_, 0x19, SV("\x15\x00\x01m\x16\x00\x00")));
    decode_back(C, buf, n, &p);
    assert_true(str_eq(p.props.auth_method, "m"));

    /* PINGREQ / PINGRESP are the same in 5.0 */
    n = ENCODE(buf, mqtt_encode_simple(b_, cap_, MQTT_PINGREQ));
    decode_back(S, buf, n, &p);
    assert_int_equal(p.type, MQTT_PINGREQ);
    n = ENCODE(buf, mqtt_encode_simple(b_, cap_, MQTT_PINGRESP));
    decode_back(C, buf, n, &p);
    assert_int_equal(p.type, MQTT_PINGRESP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_connect_props),
        cmocka_unit_test(test_packet_props),
        cmocka_unit_test(test_v311_leaves_props),
        cmocka_unit_test(test_publish_empty_props),
        cmocka_unit_test(test_roundtrip_connect),
        cmocka_unit_test(test_roundtrip_packets),
    };
    return cmocka_run_group_tests(tests, guard_setup, guard_teardown);
}

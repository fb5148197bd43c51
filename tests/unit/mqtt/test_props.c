/* Unit tests for lib/mqtt/props.c: every MQTT 5.0 property decoded in each
 * packet that may carry it and refused (0x81 Malformed Packet) in every
 * other, duplicates and forbidden values (0x82 Protocol Error), ill-formed
 * UTF-8, truncation at every byte, the direction rules, and round trips
 * through the encoders. The expectations (table 2-4 of the 5.0
 * specification) are written out here independently of the library's
 * table. Every decode reads its input against a guard page. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"
#include "mqtt/props.h"
#include "mqtt/reason.h"
#include "mqtt_test.h"

#define MALFORMED ROOST_EPROTO_MALFORMED
#define PROTOCOL ROOST_EPROTO_PROTOCOL
#define UTF8 ROOST_EPROTO_UTF8

/* Decodes a hex property list (no Property Length) against the guard page. */
static int hdecode(const char *hex, unsigned ctx, bool from_client, mqtt_props_t *out)
{
    uint8_t b[1024];
    size_t n = unhex(hex, b, sizeof b);
    return mqtt_props_decode(guard_put_bytes(&g_guard, b, n), n, ctx, from_client, out);
}

/* ---- table 2-4, written out ------------------------------------------------ */

enum { WILL = MQTT_PROPS_WILL };
#define B(t) (1u << (t))
#define ACKS (B(MQTT_PUBACK) | B(MQTT_PUBREC) | B(MQTT_PUBREL) | B(MQTT_PUBCOMP))

typedef struct spec {
    uint8_t id;
    const char *name;
    uint32_t ctx;       /* packets (and WILL) it may appear in */
    const char *value;  /* a valid encoded value, hex */
} spec_t;

static const spec_t spec[] = {
    {0x01, "Payload Format Indicator", B(MQTT_PUBLISH) | B(WILL), "01"},
    {0x02, "Message Expiry Interval", B(MQTT_PUBLISH) | B(WILL), "00 00 0e 10"},
    {0x03, "Content Type", B(MQTT_PUBLISH) | B(WILL), "00 0a 'text/plain'"},
    {0x08, "Response Topic", B(MQTT_PUBLISH) | B(WILL), "00 05 'r/e/s'"},
    {0x09, "Correlation Data", B(MQTT_PUBLISH) | B(WILL), "00 03 00 ff 01"},
    {0x0B, "Subscription Identifier", B(MQTT_PUBLISH) | B(MQTT_SUBSCRIBE), "80 01"},
    {0x11, "Session Expiry Interval", B(MQTT_CONNECT) | B(MQTT_CONNACK) | B(MQTT_DISCONNECT),
     "ff ff ff ff"},
    {0x12, "Assigned Client Identifier", B(MQTT_CONNACK), "00 02 'id'"},
    {0x13, "Server Keep Alive", B(MQTT_CONNACK), "00 3c"},
    {0x15, "Authentication Method", B(MQTT_CONNECT) | B(MQTT_CONNACK) | B(MQTT_AUTH),
     "00 05 'SCRAM'"},
    {0x17, "Request Problem Information", B(MQTT_CONNECT), "00"},
    {0x18, "Will Delay Interval", B(WILL), "00 00 00 1e"},
    {0x19, "Request Response Information", B(MQTT_CONNECT), "01"},
    {0x1A, "Response Information", B(MQTT_CONNACK), "00 02 'r/'"},
    {0x1C, "Server Reference", B(MQTT_CONNACK) | B(MQTT_DISCONNECT), "00 04 'h:99'"},
    {0x1F, "Reason String",
     B(MQTT_CONNACK) | ACKS | B(MQTT_SUBACK) | B(MQTT_UNSUBACK) | B(MQTT_DISCONNECT) |
         B(MQTT_AUTH),
     "00 02 'no'"},
    {0x21, "Receive Maximum", B(MQTT_CONNECT) | B(MQTT_CONNACK), "00 0a"},
    {0x22, "Topic Alias Maximum", B(MQTT_CONNECT) | B(MQTT_CONNACK), "00 00"},
    {0x23, "Topic Alias", B(MQTT_PUBLISH), "00 07"},
    {0x24, "Maximum QoS", B(MQTT_CONNACK), "01"},
    {0x25, "Retain Available", B(MQTT_CONNACK), "00"},
    {0x26, "User Property",
     B(MQTT_CONNECT) | B(MQTT_CONNACK) | B(MQTT_PUBLISH) | B(WILL) | ACKS | B(MQTT_SUBSCRIBE) |
         B(MQTT_SUBACK) | B(MQTT_UNSUBSCRIBE) | B(MQTT_UNSUBACK) | B(MQTT_DISCONNECT) |
         B(MQTT_AUTH),
     "00 01 'k' 00 02 'v1'"},
    {0x27, "Maximum Packet Size", B(MQTT_CONNECT) | B(MQTT_CONNACK), "00 00 01 00"},
    {0x28, "Wildcard Subscription Available", B(MQTT_CONNACK), "01"},
    {0x29, "Subscription Identifier Available", B(MQTT_CONNACK), "00"},
    {0x2A, "Shared Subscription Available", B(MQTT_CONNACK), "01"},
};
/* Authentication Data (0x16) needs an Authentication Method beside it
 * (3.1.2.11.10): tested on its own below. */

static const unsigned contexts[] = {
    MQTT_CONNECT,  MQTT_CONNACK, MQTT_PUBLISH,     MQTT_PUBACK,   MQTT_PUBREC,
    MQTT_PUBREL,   MQTT_PUBCOMP, MQTT_SUBSCRIBE,   MQTT_SUBACK,   MQTT_UNSUBSCRIBE,
    MQTT_UNSUBACK, MQTT_DISCONNECT, MQTT_AUTH,     WILL,
};
#define N(a) (sizeof(a) / sizeof((a)[0]))

/* A direction in which ctx carries the property without a direction rule
 * tripping (Subscription Identifier in PUBLISH only towards clients,
 * Session Expiry in DISCONNECT only from clients). */
static bool from_client_for(uint8_t id, unsigned ctx)
{
    return !(id == MQTT_PROP_SUBSCRIPTION_ID && ctx == MQTT_PUBLISH);
}

static unsigned first_ctx(const spec_t *s)
{
    for (size_t i = 0; i < N(contexts); i++)
        if (s->ctx & B(contexts[i]))
            return contexts[i];
    fail();
    return 0;
}

/* [MQTT-2.2.2-2]-style table check: each property decodes where table 2-4
 * allows it and is a Malformed Packet everywhere else (2.2.2.2). */
static void test_allowed_everywhere(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(spec); i++) {
        char hex[256];
        snprintf(hex, sizeof hex, "%02x %s", spec[i].id, spec[i].value);
        for (size_t c = 0; c < N(contexts); c++) {
            unsigned ctx = contexts[c];
            mqtt_props_t p;
            int want = (spec[i].ctx & B(ctx)) ? 0 : MALFORMED;
            int rc = hdecode(hex, ctx, from_client_for(spec[i].id, ctx), &p);
            if (rc != want)
                print_error("%s in context %u: rc %d, want %d\n", spec[i].name, ctx, rc, want);
            assert_int_equal(rc, want);
            assert_int_equal(mqtt_prop_allowed(spec[i].id, ctx), want == 0);
            if (want == 0) {
                assert_true(mqtt_props_has(&p, spec[i].id));
                assert_int_equal(p.present, MQTT_PROP_BIT(spec[i].id));
            }
        }
        assert_string_equal(mqtt_prop_name(spec[i].id), spec[i].name);
    }
    assert_string_equal(mqtt_prop_name(0x16), "Authentication Data");
    assert_int_equal(mqtt_prop_type(0x16), MQTT_PT_BINARY);
}

/* Identifiers that are no 5.0 property: Malformed Packet in every packet. */
static void test_unknown_ids(void **state)
{
    (void)state;
    unsigned known = 0;
    for (unsigned id = 0; id < 256; id++) {
        bool is = id == 0x16;
        for (size_t i = 0; i < N(spec); i++)
            is = is || spec[i].id == id;
        known += is;
        assert_int_equal(mqtt_prop_type(id) != MQTT_PT_NONE, is);
        if (is)
            continue;
        assert_string_equal(mqtt_prop_name(id), "unknown");
        char hex[32];
        snprintf(hex, sizeof hex, "%02x 00 00 00 00", id);
        for (size_t c = 0; c < N(contexts); c++) {
            mqtt_props_t p;
            assert_int_equal(hdecode(hex, contexts[c], true, &p), MALFORMED);
        }
    }
    assert_int_equal(known, 27); /* the 27 properties of 5.0 */
}

/* "It is a Protocol Error to include X more than once": every property but
 * User Property, and Subscription Identifier in a PUBLISH to a client. */
static void test_duplicates(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(spec); i++) {
        char hex[512];
        snprintf(hex, sizeof hex, "%02x %s %02x %s", spec[i].id, spec[i].value, spec[i].id,
                 spec[i].value);
        for (size_t c = 0; c < N(contexts); c++) {
            unsigned ctx = contexts[c];
            if (!(spec[i].ctx & B(ctx)))
                continue;
            mqtt_props_t p;
            bool many = spec[i].id == MQTT_PROP_USER_PROPERTY ||
                        (spec[i].id == MQTT_PROP_SUBSCRIPTION_ID && ctx == MQTT_PUBLISH);
            assert_int_equal(hdecode(hex, ctx, from_client_for(spec[i].id, ctx), &p),
                             many ? 0 : PROTOCOL);
        }
    }
    mqtt_props_t p;
    assert_int_equal(hdecode("15 00 01 'a' 16 00 00 16 00 00", MQTT_AUTH, true, &p), PROTOCOL);
}

/* Truncating any valid entry anywhere is a Malformed Packet. */
static void test_truncated(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(spec); i++) {
        char hex[256];
        uint8_t b[256];
        snprintf(hex, sizeof hex, "%02x %s", spec[i].id, spec[i].value);
        size_t n = unhex(hex, b, sizeof b);
        unsigned ctx = first_ctx(&spec[i]);
        for (size_t cut = 1; cut < n; cut++) {
            mqtt_props_t p;
            int rc = mqtt_props_decode(guard_put_bytes(&g_guard, b, cut), cut, ctx,
                                       from_client_for(spec[i].id, ctx), &p);
            assert_int_equal(rc, MALFORMED);
        }
    }
}

typedef struct pcase {
    const char *name;
    unsigned ctx;
    bool from_client;
    const char *hex;
    int rc;
} pcase_t;

static const pcase_t cases[] = {
    {"2.2.2 empty list", MQTT_PUBLISH, true, "", 0},
    /* values the spec forbids: Protocol Error (0x82) */
    {"3.3.2.3.2 Payload Format Indicator 2", MQTT_PUBLISH, true, "01 02", PROTOCOL},
    {"3.1.3.2.3 will Payload Format Indicator ff", WILL, true, "01 ff", PROTOCOL},
    {"3.1.2.11.7 Request Problem Information 2", MQTT_CONNECT, true, "17 02", PROTOCOL},
    {"3.1.2.11.6 Request Response Information 2", MQTT_CONNECT, true, "19 02", PROTOCOL},
    {"3.1.2.11.3 Receive Maximum 0", MQTT_CONNECT, true, "21 00 00", PROTOCOL},
    {"3.2.2.3.3 CONNACK Receive Maximum 0", MQTT_CONNACK, false, "21 00 00", PROTOCOL},
    {"3.1.2.11.4 Maximum Packet Size 0", MQTT_CONNECT, true, "27 00 00 00 00", PROTOCOL},
    {"3.2.2.3.6 CONNACK Maximum Packet Size 0", MQTT_CONNACK, false, "27 00 00 00 00", PROTOCOL},
    {"MQTT-3.3.2-8 Topic Alias 0", MQTT_PUBLISH, true, "23 00 00", PROTOCOL},
    {"3.8.2.1.2 Subscription Identifier 0", MQTT_SUBSCRIBE, true, "0b 00", PROTOCOL},
    {"3.3.2.3.8 PUBLISH Subscription Identifier 0", MQTT_PUBLISH, false, "0b 00", PROTOCOL},
    {"3.2.2.3.4 Maximum QoS 2", MQTT_CONNACK, false, "24 02", PROTOCOL},
    {"3.2.2.3.5 Retain Available 2", MQTT_CONNACK, false, "25 02", PROTOCOL},
    {"3.2.2.3.11 Wildcard Subscription Available 2", MQTT_CONNACK, false, "28 02", PROTOCOL},
    {"3.2.2.3.12 Subscription Identifiers Available 2", MQTT_CONNACK, false, "29 02", PROTOCOL},
    {"3.2.2.3.13 Shared Subscription Available 2", MQTT_CONNACK, false, "2a 02", PROTOCOL},
    {"MQTT-3.3.2-14 Response Topic with wildcard", MQTT_PUBLISH, true, "08 00 03 'a/#'",
     PROTOCOL},
    {"MQTT-3.3.2-14 will Response Topic with +", WILL, true, "08 00 01 '+'", PROTOCOL},
    {"MQTT-3.3.2-13 empty Response Topic", MQTT_PUBLISH, true, "08 00 00", PROTOCOL},
    {"MQTT-3.3.4-6 Subscription Identifier from a client", MQTT_PUBLISH, true, "0b 01",
     PROTOCOL},
    {"MQTT-3.14.2-2 Session Expiry in DISCONNECT from server", MQTT_DISCONNECT, false,
     "11 00 00 00 00", PROTOCOL},
    {"MQTT-3.14.2-2 Session Expiry in DISCONNECT from client", MQTT_DISCONNECT, true,
     "11 00 00 00 05", 0},
    {"3.1.2.11.10 Authentication Data without Method", MQTT_CONNECT, true, "16 00 01 ff",
     PROTOCOL},
    {"3.2.2.3.18 CONNACK Authentication Data without Method", MQTT_CONNACK, false, "16 00 00",
     PROTOCOL},
    {"3.15.2.2.3 AUTH Authentication Data without Method", MQTT_AUTH, true, "16 00 00", PROTOCOL},
    {"3.1.2.11.10 Authentication Data after Method", MQTT_CONNECT, true,
     "15 00 01 'm' 16 00 01 ff", 0},
    {"3.1.2.11.10 Authentication Data before Method", MQTT_CONNECT, true,
     "16 00 01 ff 15 00 01 'm'", 0},
    /* boundary values that are allowed */
    {"3.3.2.3.8 Subscription Identifier 268435455", MQTT_SUBSCRIBE, true, "0b ff ff ff 7f", 0},
    {"3.1.2.11.3 Receive Maximum 65535", MQTT_CONNECT, true, "21 ff ff", 0},
    {"3.3.2.3.4 Topic Alias 65535", MQTT_PUBLISH, true, "23 ff ff", 0},
    {"3.3.2.3.9 empty Content Type", MQTT_PUBLISH, true, "03 00 00", 0},
    {"1.5.7 empty User Property", MQTT_PUBLISH, true, "26 00 00 00 00", 0},
    {"MQTT-1.5.4-3 BOM kept in Content Type", MQTT_PUBLISH, true, "03 00 04 ef bb bf 'a'", 0},
    /* encodings: Malformed Packet (0x81) */
    {"MQTT-1.5.5-1 Subscription Identifier not minimal", MQTT_SUBSCRIBE, true, "0b 81 00",
     MALFORMED},
    {"MQTT-1.5.5-1 Subscription Identifier 3 bytes not minimal", MQTT_SUBSCRIBE, true,
     "0b 81 80 00", MALFORMED},
    {"1.5.5 Subscription Identifier over 4 bytes", MQTT_SUBSCRIBE, true, "0b ff ff ff ff 01",
     MALFORMED},
    {"2.2.2.2 identifier as a 2-byte varint", MQTT_PUBLISH, true, "81 00 00", MALFORMED},
    {"2.2.2.2 identifier 0", MQTT_PUBLISH, true, "00", MALFORMED},
    {"2.2.2.2 valid then unknown", MQTT_PUBLISH, true, "01 00 2b 00", MALFORMED},
    {"2.2.2.2 string runs past list", MQTT_PUBLISH, true, "03 00 05 'abc'", MALFORMED},
    {"2.2.2.2 pair value missing", MQTT_PUBLISH, true, "26 00 01 'k'", MALFORMED},
    /* UTF-8 [MQTT-1.5.4-1,2], [MQTT-1.5.7-1] */
    {"MQTT-1.5.4-1 Content Type ill-formed", MQTT_PUBLISH, true, "03 00 02 'a' ff", UTF8},
    {"MQTT-1.5.4-1 Response Topic surrogate", MQTT_PUBLISH, true, "08 00 03 ed a0 80", UTF8},
    {"MQTT-1.5.4-2 Reason String U+0000", MQTT_PUBACK, false, "1f 00 02 'a' 00", UTF8},
    {"MQTT-1.5.4-1 Assigned Client Identifier overlong", MQTT_CONNACK, false, "12 00 02 c0 80",
     UTF8},
    {"MQTT-1.5.4-1 Authentication Method truncated sequence", MQTT_CONNECT, true,
     "15 00 02 'a' e2", UTF8},
    {"MQTT-1.5.4-1 Response Information above U+10FFFF", MQTT_CONNACK, false,
     "1a 00 04 f4 90 80 80", UTF8},
    {"MQTT-1.5.4-2 Server Reference U+0000", MQTT_DISCONNECT, false, "1c 00 01 00", UTF8},
    {"MQTT-1.5.7-1 User Property name ill-formed", MQTT_SUBSCRIBE, true, "26 00 01 ff 00 01 'v'",
     UTF8},
    {"MQTT-1.5.7-1 User Property value U+0000", MQTT_UNSUBSCRIBE, true, "26 00 01 'k' 00 01 00",
     UTF8},
    {"1.5.6 Correlation Data is binary", MQTT_PUBLISH, true, "09 00 03 00 ff c0", 0},
    {"1.5.6 Authentication Data is binary", MQTT_AUTH, true, "15 00 01 'm' 16 00 02 00 ff", 0},
};

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(cases); i++) {
        mqtt_props_t p;
        int rc = hdecode(cases[i].hex, cases[i].ctx, cases[i].from_client, &p);
        if (rc != cases[i].rc)
            print_error("case \"%s\": rc %d, want %d\n", cases[i].name, rc, cases[i].rc);
        assert_int_equal(rc, cases[i].rc);
    }
}

/* The reason code each failure is reported with (reason.h). */
static void test_reason_of_failures(void **state)
{
    (void)state;
    assert_int_equal(mqtt_reason_from_err(MALFORMED), MQTT_RC_MALFORMED_PACKET);
    assert_int_equal(mqtt_reason_from_err(UTF8), MQTT_RC_MALFORMED_PACKET);
    assert_int_equal(mqtt_reason_from_err(PROTOCOL), MQTT_RC_PROTOCOL_ERROR);
    assert_int_equal(MQTT_RC_MALFORMED_PACKET, 0x81);
    assert_int_equal(MQTT_RC_PROTOCOL_ERROR, 0x82);
}

/* ---- fields --------------------------------------------------------------------- */

static bool str_eq(mqtt_str_t s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

static void test_connack_fields(void **state)
{
    (void)state;
    mqtt_props_t p;
    assert_int_equal(
        hdecode("11 00 00 01 00 12 00 02 'id' 13 00 3c 15 00 01 'm' 16 00 02 'dd' 1a 00 02 'ri' "
                "1c 00 02 'sr' 1f 00 02 'rs' 21 00 0a 22 00 05 24 00 25 01 26 00 01 'k' 00 01 "
                "'v' 27 00 00 10 00 28 00 29 01 2a 00 26 00 01 'k' 00 01 'w'",
                MQTT_CONNACK, false, &p),
        0);
    assert_int_equal(p.session_expiry, 256);
    assert_true(str_eq(p.assigned_client_id, "id"));
    assert_int_equal(p.server_keep_alive, 60);
    assert_true(str_eq(p.auth_method, "m") && str_eq(p.auth_data, "dd"));
    assert_true(str_eq(p.response_info, "ri") && str_eq(p.server_reference, "sr"));
    assert_true(str_eq(p.reason_string, "rs"));
    assert_int_equal(p.receive_maximum, 10);
    assert_int_equal(p.topic_alias_maximum, 5);
    assert_int_equal(p.maximum_qos, 0);
    assert_true(mqtt_props_has(&p, MQTT_PROP_MAXIMUM_QOS));
    assert_int_equal(p.retain_available, 1);
    assert_int_equal(p.max_packet_size, 4096);
    assert_int_equal(p.wildcard_sub_available, 0);
    assert_int_equal(p.sub_id_available, 1);
    assert_int_equal(p.shared_sub_available, 0);
    assert_int_equal(p.user_count, 2);
    assert_false(mqtt_props_has(&p, MQTT_PROP_TOPIC_ALIAS));
}

static void test_publish_fields(void **state)
{
    (void)state;
    mqtt_props_t p;
    assert_int_equal(hdecode("01 01 02 00 00 00 3c 03 00 04 'json' 08 00 03 'r/1' 09 00 02 00 01 "
                             "0b 05 23 00 02 0b ff 7f 26 00 01 'a' 00 00",
                             MQTT_PUBLISH, false, &p),
                     0);
    assert_int_equal(p.payload_format, 1);
    assert_int_equal(p.message_expiry, 60);
    assert_true(str_eq(p.content_type, "json") && str_eq(p.response_topic, "r/1"));
    assert_int_equal(p.correlation_data.len, 2);
    assert_int_equal(p.sub_id, 5); /* the first */
    assert_int_equal(p.sub_id_count, 2);
    assert_int_equal(p.topic_alias, 2);
    assert_int_equal(p.user_count, 1);
    assert_int_equal(p.raw.len, 39);

    assert_int_equal(hdecode("11 00 00 00 0a 17 00 19 01 21 00 20 22 00 08 27 00 01 00 00 15 00 "
                             "01 'x'",
                             MQTT_CONNECT, true, &p),
                     0);
    assert_int_equal(p.session_expiry, 10);
    assert_true(mqtt_props_has(&p, MQTT_PROP_REQUEST_PROBLEM_INFO));
    assert_int_equal(p.request_problem_info, 0);
    assert_int_equal(p.request_response_info, 1);
    assert_int_equal(p.receive_maximum, 32);
    assert_int_equal(p.topic_alias_maximum, 8);
    assert_int_equal(p.max_packet_size, 65536);
    assert_int_equal(hdecode("18 00 00 00 05 01 00", WILL, true, &p), 0);
    assert_int_equal(p.will_delay, 5);
    assert_int_equal(p.payload_format, 0);
}

/* User Properties and Subscription Identifiers are read with the iterator,
 * in wire order. */
static void test_iter(void **state)
{
    (void)state;
    mqtt_props_t p;
    assert_int_equal(hdecode("26 00 01 'a' 00 01 '1' 0b 07 26 00 01 'b' 00 00 23 00 09 0b 80 01 "
                             "26 00 01 'a' 00 01 '3'",
                             MQTT_PUBLISH, false, &p),
                     0);
    mqtt_props_iter_t it;
    mqtt_prop_t v;
    const char *want[] = {"a=1", "#7", "b=", "@9", "#128", "a=3"};
    size_t n = 0;
    mqtt_props_iter_init(&it, p.raw);
    while (mqtt_props_iter_next(&it, &v)) {
        char got[32];
        if (v.id == MQTT_PROP_USER_PROPERTY)
            snprintf(got, sizeof got, "%.*s=%.*s", (int)v.str.len, (const char *)v.str.ptr,
                     (int)v.val.len, (const char *)v.val.ptr);
        else
            snprintf(got, sizeof got, "%c%u", v.id == MQTT_PROP_SUBSCRIPTION_ID ? '#' : '@',
                     v.num);
        assert_true(n < N(want));
        assert_string_equal(got, want[n]);
        n++;
    }
    assert_int_equal(n, N(want));

    /* an iterator over bytes that are no list stops */
    uint8_t junk[] = {0x03, 0x00, 0x09, 'a'};
    mqtt_props_iter_init(&it, (mqtt_str_t){junk, sizeof junk});
    assert_false(mqtt_props_iter_next(&it, &v));
    assert_false(mqtt_props_iter_next(&it, &v));
}

/* Forwarding: drop per-hop properties, keep User Properties in order
 * [MQTT-3.3.2-18]. */
static void test_copy(void **state)
{
    (void)state;
    mqtt_props_t p, q;
    assert_int_equal(hdecode("26 00 01 'a' 00 01 '1' 23 00 04 02 00 00 00 09 26 00 01 'b' 00 01 "
                             "'2' 0b 03 01 01",
                             MQTT_PUBLISH, false, &p),
                     0);
    uint64_t drop = MQTT_PROP_BIT(MQTT_PROP_TOPIC_ALIAS) | MQTT_PROP_BIT(MQTT_PROP_SUBSCRIPTION_ID) |
                    MQTT_PROP_BIT(MQTT_PROP_MESSAGE_EXPIRY);
    uint8_t out[64], want[64];
    size_t need = mqtt_props_copy(NULL, 0, p.raw, drop);
    size_t wn = unhex("26 00 01 'a' 00 01 '1' 26 00 01 'b' 00 01 '2' 01 01", want, sizeof want);
    assert_int_equal(need, wn);
    memset(out, 0xEE, sizeof out);
    assert_int_equal(mqtt_props_copy(out, need - 1, p.raw, drop), need);
    assert_int_equal(out[0], 0xEE); /* too small: nothing written */
    assert_int_equal(mqtt_props_copy(out, sizeof out, p.raw, drop), need);
    assert_memory_equal(out, want, wn);
    assert_int_equal(mqtt_props_decode(out, need, MQTT_PUBLISH, true, &q), 0);
    assert_int_equal(q.user_count, 2);
    assert_int_equal(mqtt_props_copy(out, sizeof out, p.raw, 0), p.raw.len);
    assert_memory_equal(out, p.raw.ptr, p.raw.len);
}

/* ---- encoding -------------------------------------------------------------------- */

/* Every property alone: mqtt_prop_encode writes exactly the spec's bytes,
 * and the list decodes back to the same value. */
static void test_encode_each(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(spec); i++) {
        char hex[256];
        uint8_t want[256], got[256];
        snprintf(hex, sizeof hex, "%02x %s", spec[i].id, spec[i].value);
        size_t n = unhex(hex, want, sizeof want);
        unsigned ctx = first_ctx(&spec[i]);
        mqtt_props_iter_t it;
        mqtt_prop_t v;
        mqtt_props_iter_init(&it, (mqtt_str_t){want, (uint32_t)n});
        assert_true(mqtt_props_iter_next(&it, &v));
        assert_false(mqtt_props_iter_next(&it, &v));
        assert_int_equal(mqtt_prop_encode(NULL, 0, &v), n);
        memset(got, 0, sizeof got);
        assert_int_equal(mqtt_prop_encode(got, n - 1, &v), n);
        assert_int_equal(got[0], 0);
        assert_int_equal(mqtt_prop_encode(got, sizeof got, &v), n);
        assert_memory_equal(got, want, n);

        /* the struct encoder writes the same bytes for the decoded field
         * (User Property has no field: it travels in extra) */
        mqtt_props_t p;
        assert_int_equal(mqtt_props_decode(want, n, ctx, from_client_for(spec[i].id, ctx), &p),
                         0);
        if (spec[i].id == MQTT_PROP_USER_PROPERTY) {
            p.present = 0;
            p.extra = (mqtt_str_t){want, (uint32_t)n};
        }
        assert_int_equal(mqtt_props_encode(got, sizeof got, &p), n);
        assert_memory_equal(got, want, n);
    }
}

/* A struct with every field of a context encodes to a list that decodes to
 * the same struct. */
static void roundtrip_struct(const mqtt_props_t *in, unsigned ctx, bool from_client)
{
    uint8_t buf[1024];
    size_t n = mqtt_props_encode(NULL, 0, in);
    assert_true(n <= sizeof buf);
    assert_int_equal(mqtt_props_encode(buf, n, in), n);
    mqtt_props_t out = {0}; /* a PUBLISH list clears only the PUBLISH fields */
    assert_int_equal(mqtt_props_decode(guard_put_bytes(&g_guard, buf, n), n, ctx, from_client, &out),
                     0);
    mqtt_props_t a = *in, b = out;
    /* views: compare contents, then blank them */
    mqtt_str_t *sa = &a.content_type, *sb = &b.content_type;
    for (size_t k = 0; k < 9; k++) {
        assert_int_equal(sa[k].len, sb[k].len);
        if (sa[k].len)
            assert_memory_equal(sa[k].ptr, sb[k].ptr, sa[k].len);
        sa[k].ptr = sb[k].ptr = NULL;
    }
    a.raw = b.raw = a.extra = b.extra = (mqtt_str_t){NULL, 0};
    if (in->extra.len) /* extra holds User Properties here */
        a.present |= MQTT_PROP_BIT(MQTT_PROP_USER_PROPERTY);
    b.user_count = a.user_count;
    b.sub_id_count = a.sub_id_count;
    assert_memory_equal(&a, &b, sizeof a);
}

#define S(lit) ((mqtt_str_t){(const uint8_t *)(lit), sizeof(lit) - 1})
#define SET(p, id) ((p).present |= MQTT_PROP_BIT(id))

static void test_encode_struct(void **state)
{
    (void)state;
    mqtt_props_t p;
    memset(&p, 0, sizeof p);
    p.payload_format = 1, SET(p, MQTT_PROP_PAYLOAD_FORMAT);
    p.message_expiry = 0xFFFFFFFF, SET(p, MQTT_PROP_MESSAGE_EXPIRY);
    p.content_type = S("a/b"), SET(p, MQTT_PROP_CONTENT_TYPE);
    p.response_topic = S("resp/x"), SET(p, MQTT_PROP_RESPONSE_TOPIC);
    p.correlation_data = S("\x00\x01"), SET(p, MQTT_PROP_CORRELATION_DATA);
    p.sub_id = 268435455, SET(p, MQTT_PROP_SUBSCRIPTION_ID);
    p.topic_alias = 65535, SET(p, MQTT_PROP_TOPIC_ALIAS);
    roundtrip_struct(&p, MQTT_PUBLISH, false);

    memset(&p, 0, sizeof p);
    p.session_expiry = 7, SET(p, MQTT_PROP_SESSION_EXPIRY);
    p.assigned_client_id = S("auto-1"), SET(p, MQTT_PROP_ASSIGNED_CLIENT_ID);
    p.server_keep_alive = 30, SET(p, MQTT_PROP_SERVER_KEEP_ALIVE);
    p.auth_method = S("m"), SET(p, MQTT_PROP_AUTH_METHOD);
    p.auth_data = S(""), SET(p, MQTT_PROP_AUTH_DATA);
    p.response_info = S("ri"), SET(p, MQTT_PROP_RESPONSE_INFO);
    p.server_reference = S("other:1883"), SET(p, MQTT_PROP_SERVER_REFERENCE);
    p.reason_string = S("why"), SET(p, MQTT_PROP_REASON_STRING);
    p.receive_maximum = 1, SET(p, MQTT_PROP_RECEIVE_MAXIMUM);
    p.topic_alias_maximum = 0, SET(p, MQTT_PROP_TOPIC_ALIAS_MAXIMUM);
    p.maximum_qos = 1, SET(p, MQTT_PROP_MAXIMUM_QOS);
    p.retain_available = 0, SET(p, MQTT_PROP_RETAIN_AVAILABLE);
    p.max_packet_size = 1, SET(p, MQTT_PROP_MAXIMUM_PACKET_SIZE);
    p.wildcard_sub_available = 1, SET(p, MQTT_PROP_WILDCARD_SUB_AVAILABLE);
    p.sub_id_available = 0, SET(p, MQTT_PROP_SUB_ID_AVAILABLE);
    p.shared_sub_available = 1, SET(p, MQTT_PROP_SHARED_SUB_AVAILABLE);
    p.extra = S("\x26\x00\x01k\x00\x01v");
    p.user_count = 1;
    roundtrip_struct(&p, MQTT_CONNACK, false);

    memset(&p, 0, sizeof p);
    p.request_problem_info = 0, SET(p, MQTT_PROP_REQUEST_PROBLEM_INFO);
    p.request_response_info = 1, SET(p, MQTT_PROP_REQUEST_RESPONSE_INFO);
    p.receive_maximum = 65535, SET(p, MQTT_PROP_RECEIVE_MAXIMUM);
    roundtrip_struct(&p, MQTT_CONNECT, true);

    memset(&p, 0, sizeof p);
    p.will_delay = 3600, SET(p, MQTT_PROP_WILL_DELAY);
    roundtrip_struct(&p, WILL, true);

    /* nothing present: an empty list */
    memset(&p, 0, sizeof p);
    assert_int_equal(mqtt_props_encode(NULL, 0, &p), 0);
}

/* The varint lengths of Subscription Identifier at each size boundary. */
static void test_sub_id_sizes(void **state)
{
    (void)state;
    static const struct {
        uint32_t v;
        size_t n;
    } t[] = {{1, 2}, {127, 2}, {128, 3}, {16383, 3}, {16384, 4}, {2097151, 4}, {2097152, 5},
             {268435455, 5}};
    for (size_t i = 0; i < N(t); i++) {
        mqtt_prop_t v = {.id = MQTT_PROP_SUBSCRIPTION_ID, .num = t[i].v};
        uint8_t b[8];
        assert_int_equal(mqtt_prop_encode(b, sizeof b, &v), t[i].n);
        mqtt_props_t p;
        assert_int_equal(mqtt_props_decode(b, t[i].n, MQTT_SUBSCRIBE, true, &p), 0);
        assert_int_equal(p.sub_id, t[i].v);
    }
}

/* Payload Format Indicator 1: the payload must be UTF-8 Encoded Character
 * Data (3.3.2.3.2), where U+0000 is allowed; 0 or absent: anything goes. */
static void test_payload_format(void **state)
{
    (void)state;
    mqtt_props_t utf8, bytes, none;
    assert_int_equal(hdecode("01 01", MQTT_PUBLISH, true, &utf8), 0);
    assert_int_equal(hdecode("01 00", MQTT_PUBLISH, true, &bytes), 0);
    assert_int_equal(hdecode("", MQTT_PUBLISH, true, &none), 0);
    static const struct {
        const char *data;
        size_t len;
        bool ok;
    } t[] = {
        {"", 0, true},
        {"hello", 5, true},
        {"a\0b", 3, true},                               /* U+0000 is character data */
        {"0123456789abcdef\0\0\0\0\0\0\0\0", 24, true}, /* NULs in the word path */
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14, true},
        {"\xff", 1, false},
        {"abc\xed\xa0\x80", 6, false},                 /* surrogate */
        {"\xc0\x80", 2, false},                         /* overlong NUL */
        {"01234567\xf4\x90\x80\x80", 12, false},      /* above U+10FFFF */
        {"\xe2\x82", 2, false},                         /* cut */
    };
    for (size_t i = 0; i < N(t); i++) {
        mqtt_str_t pl = {(const uint8_t *)t[i].data, (uint32_t)t[i].len};
        assert_int_equal(mqtt_utf8_data_ok(pl.ptr, pl.len), t[i].ok);
        assert_int_equal(mqtt_props_payload_ok(&utf8, pl), t[i].ok);
        assert_true(mqtt_props_payload_ok(&bytes, pl));
        assert_true(mqtt_props_payload_ok(&none, pl));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allowed_everywhere),
        cmocka_unit_test(test_unknown_ids),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_reason_of_failures),
        cmocka_unit_test(test_connack_fields),
        cmocka_unit_test(test_publish_fields),
        cmocka_unit_test(test_iter),
        cmocka_unit_test(test_copy),
        cmocka_unit_test(test_encode_each),
        cmocka_unit_test(test_encode_struct),
        cmocka_unit_test(test_sub_id_sizes),
        cmocka_unit_test(test_payload_format),
    };
    return cmocka_run_group_tests(tests, guard_setup, guard_teardown);
}

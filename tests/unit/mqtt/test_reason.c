/* Unit tests for lib/mqtt/reason.c: which 5.0 reason codes each packet may
 * carry (written out from each packet's reason code list in the 5.0
 * specification, independently of the library's table 2-6), their names,
 * and the reason code each Roost error is reported with. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "base/err.h"
#include "mqtt/mqtt.h"
#include "mqtt/reason.h"

typedef struct plist {
    uint8_t type;
    const char *section;
    const uint8_t *codes;
    size_t n;
} plist_t;

#define L(...) (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})

static const plist_t lists[] = {
    {MQTT_CONNACK, "3.2.2.2", L(0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
                                0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D,
                                0x9F)},
    {MQTT_PUBACK, "MQTT-3.4.2-1", L(0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99)},
    {MQTT_PUBREC, "MQTT-3.5.2-1", L(0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99)},
    {MQTT_PUBREL, "MQTT-3.6.2-1", L(0x00, 0x92)},
    {MQTT_PUBCOMP, "MQTT-3.7.2-1", L(0x00, 0x92)},
    {MQTT_SUBACK, "MQTT-3.9.3-1", L(0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E,
                                    0xA1, 0xA2)},
    {MQTT_UNSUBACK, "MQTT-3.11.3-1", L(0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91)},
    {MQTT_DISCONNECT, "MQTT-3.14.2-1",
     L(0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8C, 0x8D, 0x8E, 0x8F, 0x90, 0x93,
       0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2)},
    {MQTT_AUTH, "MQTT-3.15.2-1", L(0x00, 0x18, 0x19)},
};

static void test_valid_per_packet(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        for (unsigned code = 0; code < 256; code++) {
            bool want = memchr(lists[i].codes, (int)code, lists[i].n) != NULL;
            if (mqtt_reason_valid(lists[i].type, (uint8_t)code) != want)
                print_error("%s: code 0x%02x\n", lists[i].section, code);
            assert_int_equal(mqtt_reason_valid(lists[i].type, (uint8_t)code), want);
        }
    }
    /* packets without reason codes */
    static const uint8_t none[] = {0, MQTT_CONNECT, MQTT_PUBLISH, MQTT_SUBSCRIBE,
                                   MQTT_UNSUBSCRIBE, MQTT_PINGREQ, MQTT_PINGRESP};
    for (size_t i = 0; i < sizeof none; i++)
        for (unsigned code = 0; code < 256; code++)
            assert_false(mqtt_reason_valid(none[i], (uint8_t)code));
    assert_false(mqtt_reason_valid(200, 0));
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(mqtt_reason_name(MQTT_CONNACK, 0x00), "Success");
    assert_string_equal(mqtt_reason_name(MQTT_DISCONNECT, 0x00), "Normal disconnection");
    assert_string_equal(mqtt_reason_name(MQTT_SUBACK, 0x00), "Granted QoS 0");
    assert_string_equal(mqtt_reason_name(MQTT_SUBACK, 0x02), "Granted QoS 2");
    assert_string_equal(mqtt_reason_name(MQTT_DISCONNECT, 0x8E), "Session taken over");
    assert_string_equal(mqtt_reason_name(MQTT_DISCONNECT, 0x98), "Administrative action");
    assert_string_equal(mqtt_reason_name(MQTT_CONNACK, 0x8C), "Bad authentication method");
    assert_string_equal(mqtt_reason_name(MQTT_DISCONNECT, 0xA2),
                        "Wildcard Subscriptions not supported");
    assert_string_equal(mqtt_reason_name(MQTT_PUBACK, 0x03), "unknown");
    assert_string_equal(mqtt_reason_name(MQTT_PUBACK, 0xA3), "unknown");
    assert_string_equal(mqtt_reason_name(MQTT_PUBACK, 0xFF), "unknown");
    /* every code some packet may carry has a name */
    for (unsigned code = 0; code < 256; code++) {
        bool used = false;
        for (unsigned t = 0; t < 16; t++)
            used = used || mqtt_reason_valid((uint8_t)t, (uint8_t)code);
        assert_int_equal(strcmp(mqtt_reason_name(MQTT_PUBACK, (uint8_t)code), "unknown") != 0,
                         used);
    }
}

static void test_from_err(void **state)
{
    (void)state;
    static const struct {
        int err;
        uint8_t rc;
    } t[] = {
        {ROOST_EPROTO_MALFORMED, 0x81}, {ROOST_EPROTO_UTF8, 0x81},
        {ROOST_EPROTO_TOPIC, 0x81},     {ROOST_EPROTO_QOS, 0x81},
        {ROOST_EPROTO_PACKET_ID, 0x81}, {ROOST_EPROTO_RESERVED, 0x81},
        {ROOST_EPROTO_PROTOCOL, 0x82},  {ROOST_EPROTO_UNEXPECTED, 0x82},
        {ROOST_EPROTO_TOO_LARGE, 0x95}, {ROOST_EPROTO_NAME, 0x84},
        {ROOST_EPROTO_VERSION, 0x84},   {ROOST_EPROTO_CLIENT_ID, 0x85},
        {ROOST_EAUTH_BAD_CREDENTIALS, 0x86}, {ROOST_EAUTH_NOT_AUTHORIZED, 0x87},
        {ROOST_EUNAVAILABLE, 0x88},     {ROOST_ETIMEDOUT_AUTHD, 0x88},
        {ROOST_EAUTH_THROTTLED, 0x9F},  {ROOST_EQUEUE_FULL, 0x97},
        {ROOST_ELIMIT, 0x97},           {-12 /* -ENOMEM */, 0x80},
        {ROOST_ESTORE, 0x80},
        {ROOST_EPROTO_TOPIC_ALIAS, 0x94}, {ROOST_EPROTO_RECEIVE_MAX, 0x93},
        {ROOST_EAUTH_METHOD, 0x8C}, {ROOST_EPROTO_PAYLOAD_FORMAT, 0x99},
        {ROOST_ERATE, 0x9F},            {ROOST_ESTORE_UNAVAILABLE, 0x88},
        {ROOST_ENOT_READY, 0x88},       {ROOST_ESUPERSEDED, 0x88},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        assert_int_equal(mqtt_reason_from_err(t[i].err), t[i].rc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_per_packet),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_from_err),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for lib/mqtt/codec.c: byte-level conformance tables named after
 * the specification's statements, encode/decode round trips for 3.1.1 and
 * 5.0, incremental decoding, size limits, varints and UTF-8. Every decode
 * reads its input from the end of a mapping followed by a PROT_NONE page, so
 * any read past the input crashes (picohttpparser style, STYLE.md 17). */
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
#define TOPIC ROOST_EPROTO_TOPIC
#define PKID ROOST_EPROTO_PACKET_ID
#define UNEXP ROOST_EPROTO_UNEXPECTED

/* ---- guard page (g_guard: mqtt_test.h) ------------------------------------- */

#define GUARD_CAP MQTT_TEST_GUARD_CAP

/* Copies src so that its last byte is the last readable byte. The copy
 * stays valid until the next call. */
static const uint8_t *guarded(const uint8_t *src, size_t n)
{
    return guard_put_bytes(&g_guard, src, n);
}

static int gdecode(mqtt_decoder_t *d, const uint8_t *src, size_t n, size_t *used,
                   mqtt_packet_t *out)
{
    return mqtt_decode(d, guarded(src, n), n, used, out);
}

/* ---- the conformance table ----------------------------------------------- */

typedef struct dcase {
    const char *name;
    bool server;
    uint8_t version; /* decoder version before the packet (0: no CONNECT yet) */
    const char *hex;
    int rc;
} dcase_t;

#define S true
#define C false

static const dcase_t cases[] = {
    /* valid packets, server side */
    {"MQTT-3.1 CONNECT 3.1.1 minimal", S, 0, "10 LL 00 04 'MQTT' 04 02 00 3c 00 00", 0},
    {"MQTT-3.1 CONNECT 3.1 MQIsdp", S, 0, "10 LL 00 06 'MQIsdp' 03 02 00 3c 00 02 'c1'", 0},
    {"MQTT-3.1 CONNECT 3.1.1 will user password", S, 0,
     "10 LL 00 04 'MQTT' 04 ee 00 3c 00 02 'c1' 00 03 'w/t' 00 02 01 02 00 01 'u' 00 02 ff 00", 0},
    {"MQTT-3.1 CONNECT 5.0 properties", S, 0,
     "10 LL 00 04 'MQTT' 05 c6 00 3c 05 11 00 00 00 0a 00 02 'c1' 00 00 03 'w/t' 00 00 00 01 'u' "
     "00 01 'p'", 0},
    {"MQTT-3.1.2-22 5.0 password without username allowed", S, 0,
     "10 LL 00 04 'MQTT' 05 42 00 00 00 00 00 00 01 'p'", 0},
    {"MQTT-1.5.3 CONNECT multibyte client id", S, 0,
     "10 LL 00 04 'MQTT' 04 02 00 00 00 09 c3 a9 e2 82 ac f0 9f 98 80", 0},
    {"MQTT-3.3 PUBLISH QoS 0", S, 4, "30 LL 00 03 'a/b' 'hello'", 0},
    {"MQTT-3.3 PUBLISH QoS 1 dup retain", S, 4, "3b LL 00 03 'a/b' 00 07 'x'", 0},
    {"MQTT-3.3 PUBLISH QoS 2 empty payload", S, 4, "34 LL 00 01 'a' 00 01", 0},
    {"MQTT-3.3 PUBLISH before CONNECT decodes as 3.1.1", S, 0, "30 LL 00 01 'a'", 0},
    {"MQTT-3.3 PUBLISH 5.0 properties", S, 5, "32 LL 00 01 'a' 00 01 02 01 01 'pl'", 0},
    {"MQTT-3.3.2 5.0 empty topic with alias", S, 5, "30 LL 00 00 03 23 00 05 'x'", 0},
    {"MQTT-3.3 PUBLISH multibyte topic", S, 4, "30 LL 00 06 'a/' e2 82 ac 'b'", 0},
    {"MQTT-3.4 PUBACK", S, 4, "40 02 00 01", 0},
    {"MQTT-3.5 PUBREC", S, 4, "50 02 00 01", 0},
    {"MQTT-3.6 PUBREL", S, 4, "62 02 00 01", 0},
    {"MQTT-3.7 PUBCOMP", S, 4, "70 02 00 01", 0},
    {"MQTT-3.4 5.0 PUBACK short", S, 5, "40 02 00 01", 0},
    {"MQTT-3.4 5.0 PUBACK reason", S, 5, "40 03 00 01 10", 0},
    {"MQTT-3.4 5.0 PUBACK reason empty props", S, 5, "40 LL 00 01 10 00", 0},
    {"MQTT-3.6 5.0 PUBREL reason props", S, 5, "62 LL 00 01 92 03 1f 00 00", 0},
    {"MQTT-3.8 SUBSCRIBE", S, 4, "82 LL 00 0a 00 03 'a/b' 01 00 01 '#' 02 00 03 '+/x' 00", 0},
    {"MQTT-3.8 5.0 SUBSCRIBE options", S, 5, "82 LL 00 0a 02 0b 05 00 03 'a/b' 2d 00 01 '#' 1e", 0},
    {"MQTT-3.10 UNSUBSCRIBE", S, 4, "a2 LL 00 0b 00 03 'a/b' 00 01 '#'", 0},
    {"MQTT-3.10 5.0 UNSUBSCRIBE", S, 5, "a2 LL 00 0b 00 00 01 'x'", 0},
    {"MQTT-3.12 PINGREQ", S, 4, "c0 00", 0},
    {"MQTT-3.14 DISCONNECT", S, 4, "e0 00", 0},
    {"MQTT-3.14 5.0 DISCONNECT short", S, 5, "e0 00", 0},
    {"MQTT-3.14 5.0 DISCONNECT reason", S, 5, "e0 01 04", 0},
    {"MQTT-3.14 5.0 DISCONNECT reason props", S, 5, "e0 LL 00 05 11 00 00 00 00", 0},
    {"MQTT-3.15 5.0 AUTH short", S, 5, "f0 00", 0},
    {"MQTT-3.15 5.0 AUTH reason props", S, 5, "f0 LL 18 00", 0},
    /* valid packets, client side */
    {"MQTT-3.2 CONNACK", C, 4, "20 02 00 00", 0},
    {"MQTT-3.2 CONNACK session present", C, 4, "20 02 01 00", 0},
    {"MQTT-3.2 CONNACK refused", C, 4, "20 02 00 05", 0},
    {"MQTT-3.2 5.0 CONNACK", C, 5, "20 03 00 00 00", 0},
    {"MQTT-3.2 5.0 CONNACK props", C, 5, "20 LL 00 87 03 21 00 10", 0},
    {"MQTT-3.3 PUBLISH to client", C, 4, "32 LL 00 01 't' 12 34 'data'", 0},
    {"MQTT-3.4 PUBACK to client", C, 4, "40 02 ff ff", 0},
    {"MQTT-3.9 SUBACK", C, 4, "90 LL 00 0a 00 01 02 80", 0},
    {"MQTT-3.9 5.0 SUBACK", C, 5, "90 LL 00 0a 00 00 97 a2", 0},
    {"MQTT-3.11 UNSUBACK", C, 4, "b0 02 00 0a", 0},
    {"MQTT-3.11 5.0 UNSUBACK", C, 5, "b0 LL 00 0a 00 00 11", 0},
    {"MQTT-3.13 PINGRESP", C, 4, "d0 00", 0},
    {"MQTT-3.14 5.0 DISCONNECT to client", C, 5, "e0 01 8e", 0},
    {"MQTT-3.15 5.0 AUTH to client", C, 5, "f0 LL 18 00", 0},

    /* fixed header */
    {"MQTT-2.2.1 type 0 reserved", S, 4, "00 00", MALFORMED},
    {"MQTT-2.2.1 type 15 reserved in 3.1.1", S, 4, "f0 00", MALFORMED},
    {"MQTT-2.2.1 type 15 reserved before CONNECT", S, 0, "f0 00", MALFORMED},
    {"MQTT-2.2.1 client type 0 reserved", C, 4, "00 00", MALFORMED},
    {"MQTT-2.2.2-1 CONNECT flags", S, 0, "11 LL 00 04 'MQTT' 04 02 00 3c 00 00", MALFORMED},
    {"MQTT-2.2.2-1 PUBACK flags", S, 4, "41 02 00 01", MALFORMED},
    {"MQTT-2.2.2-1 PUBREC flags", S, 4, "52 02 00 01", MALFORMED},
    {"MQTT-2.2.2-1 PUBREL flags 0", S, 4, "60 02 00 01", MALFORMED},
    {"MQTT-2.2.2-1 PUBREL flags 3", S, 4, "63 02 00 01", MALFORMED},
    {"MQTT-2.2.2-1 PUBCOMP flags", S, 4, "78 02 00 01", MALFORMED},
    {"MQTT-2.2.2-1 SUBSCRIBE flags", S, 4, "80 LL 00 01 00 01 'a' 00", MALFORMED},
    {"MQTT-2.2.2-1 UNSUBSCRIBE flags", S, 4, "a0 LL 00 01 00 01 'a'", MALFORMED},
    {"MQTT-2.2.2-1 PINGREQ flags", S, 4, "c1 00", MALFORMED},
    {"MQTT-2.2.2-1 DISCONNECT flags", S, 4, "e2 00", MALFORMED},
    {"MQTT-2.2.2-1 5.0 AUTH flags", S, 5, "f1 00", MALFORMED},
    {"MQTT-2.2.2-1 CONNACK flags", C, 4, "21 02 00 00", MALFORMED},
    {"MQTT-2.2.2-1 SUBACK flags", C, 4, "92 LL 00 01 00", MALFORMED},
    {"MQTT-2.2.2-1 UNSUBACK flags", C, 4, "b1 02 00 01", MALFORMED},
    {"MQTT-2.2.2-1 PINGRESP flags", C, 4, "d8 00", MALFORMED},
    {"MQTT-3.3.1-4 PUBLISH QoS 3", S, 4, "36 LL 00 01 'a' 00 01", MALFORMED},
    {"MQTT-3.3.1-4 5.0 PUBLISH QoS 3", S, 5, "37 LL 00 01 'a' 00 01 00", MALFORMED},
    {"MQTT-3.3.1-2 DUP on QoS 0", S, 4, "38 LL 00 01 'a'", ROOST_EPROTO_QOS},
    {"MQTT-2.2.3 remaining length of 5 bytes", S, 4, "30 ff ff ff ff 7f", MALFORMED},
    {"MQTT-2.2.3 remaining length 4 continuation bytes", S, 4, "30 80 80 80 80", MALFORMED},
    /* direction */
    {"MQTT-3.2 server receives CONNACK", S, 4, "20 02 00 00", UNEXP},
    {"MQTT-3.9 server receives SUBACK", S, 4, "90 03 00 01 00", UNEXP},
    {"MQTT-3.11 server receives UNSUBACK", S, 4, "b0 02 00 01", UNEXP},
    {"MQTT-3.13 server receives PINGRESP", S, 4, "d0 00", UNEXP},
    {"MQTT-3.13 5.0 server receives PINGRESP", S, 5, "d0 00", UNEXP},
    {"MQTT-3.1 client receives CONNECT", C, 4, "10 LL 00 04 'MQTT' 04 02 00 3c 00 00", UNEXP},
    {"MQTT-3.8 client receives SUBSCRIBE", C, 4, "82 LL 00 01 00 01 'a' 00", UNEXP},
    {"MQTT-3.10 client receives UNSUBSCRIBE", C, 4, "a2 LL 00 01 00 01 'a'", UNEXP},
    {"MQTT-3.12 client receives PINGREQ", C, 4, "c0 00", UNEXP},
    {"MQTT-3.14 3.1.1 client receives DISCONNECT", C, 4, "e0 00", UNEXP},

    /* CONNECT */
    {"MQTT-3.1.2-1 protocol name", S, 0, "10 LL 00 04 'MQTX' 04 02 00 3c 00 00",
     ROOST_EPROTO_NAME},
    {"MQTT-3.1.2-1 protocol name case", S, 0, "10 LL 00 04 'mqtt' 04 02 00 3c 00 00",
     ROOST_EPROTO_NAME},
    {"MQTT-3.1.2-1 protocol name length", S, 0, "10 LL 00 05 'MQTTT' 04 02 00 3c 00 00",
     ROOST_EPROTO_NAME},
    {"MQTT-3.1.2-2 protocol level 6", S, 0, "10 LL 00 04 'MQTT' 06 02 00 3c 00 00",
     ROOST_EPROTO_VERSION},
    {"MQTT-3.1.2-2 MQTT with level 3", S, 0, "10 LL 00 04 'MQTT' 03 02 00 3c 00 00",
     ROOST_EPROTO_VERSION},
    {"MQTT-3.1.2-2 MQIsdp with level 4", S, 0, "10 LL 00 06 'MQIsdp' 04 02 00 3c 00 00",
     ROOST_EPROTO_VERSION},
    {"MQTT-3.1.2-2 unknown level and garbage", S, 0, "10 LL 00 04 'MQTT' 07 ff", ROOST_EPROTO_VERSION},
    {"MQTT-3.1.2-3 reserved connect flag", S, 0, "10 LL 00 04 'MQTT' 04 03 00 3c 00 00", MALFORMED},
    {"MQTT-3.1.2-3 5.0 reserved connect flag", S, 0, "10 LL 00 04 'MQTT' 05 01 00 3c 00 00 00",
     MALFORMED},
    {"MQTT-3.1.2-11 will QoS without will flag", S, 0, "10 LL 00 04 'MQTT' 04 0a 00 3c 00 00",
     MALFORMED},
    {"MQTT-3.1.2-11 will QoS 2 without will flag", S, 0, "10 LL 00 04 'MQTT' 04 12 00 3c 00 00",
     MALFORMED},
    {"MQTT-3.1.2-15 will retain without will flag", S, 0, "10 LL 00 04 'MQTT' 04 22 00 3c 00 00",
     MALFORMED},
    {"MQTT-3.1.2-14 will QoS 3", S, 0,
     "10 LL 00 04 'MQTT' 04 1e 00 3c 00 00 00 01 't' 00 00", MALFORMED},
    {"MQTT-3.1.2-22 password without username", S, 0,
     "10 LL 00 04 'MQTT' 04 42 00 3c 00 00 00 01 'p'", MALFORMED},
    {"MQTT-3.1.2-22 3.1 password without username", S, 0,
     "10 LL 00 06 'MQIsdp' 03 42 00 3c 00 01 'c' 00 01 'p'", MALFORMED},
    {"MQTT-3.1.3-4 client id overlong", S, 0, "10 LL 00 04 'MQTT' 04 02 00 3c 00 03 'a' c0 80",
     UTF8},
    {"MQTT-1.5.3-2 client id U+0000", S, 0, "10 LL 00 04 'MQTT' 04 02 00 3c 00 03 'a' 00 'b'",
     UTF8},
    {"MQTT-3.1.3-10 will topic wildcard", S, 0,
     "10 LL 00 04 'MQTT' 04 06 00 3c 00 00 00 03 'a/#' 00 00", TOPIC},
    {"MQTT-4.7.3-1 empty will topic", S, 0, "10 LL 00 04 'MQTT' 04 06 00 3c 00 00 00 00 00 00",
     TOPIC},
    {"MQTT-3.1.3-10 will topic ill-formed", S, 0,
     "10 LL 00 04 'MQTT' 04 06 00 3c 00 00 00 02 'a' ff 00 00", UTF8},
    {"MQTT-3.1.3-11 username surrogate", S, 0,
     "10 LL 00 04 'MQTT' 04 82 00 3c 00 00 00 03 ed a0 80", UTF8},
    {"MQTT-3.1 CONNECT empty body", S, 0, "10 00", MALFORMED},
    {"MQTT-3.1 CONNECT name runs past packet", S, 0, "10 LL 00 04 'MQ'", MALFORMED},
    {"MQTT-3.1 CONNECT no level", S, 0, "10 LL 00 04 'MQTT'", MALFORMED},
    {"MQTT-3.1 CONNECT no keepalive", S, 0, "10 LL 00 04 'MQTT' 04 02 00", MALFORMED},
    {"MQTT-3.1 CONNECT no client id", S, 0, "10 LL 00 04 'MQTT' 04 02 00 3c", MALFORMED},
    {"MQTT-3.1 CONNECT client id runs past packet", S, 0,
     "10 LL 00 04 'MQTT' 04 02 00 3c 00 05 'ab'", MALFORMED},
    {"MQTT-3.1 CONNECT username missing", S, 0, "10 LL 00 04 'MQTT' 04 82 00 3c 00 00",
     MALFORMED},
    {"MQTT-3.1 CONNECT will payload missing", S, 0,
     "10 LL 00 04 'MQTT' 04 06 00 3c 00 00 00 01 't'", MALFORMED},
    {"MQTT-3.1 CONNECT trailing byte", S, 0,
     "10 LL 00 04 'MQTT' 04 c2 00 3c 00 00 00 01 'u' 00 01 'p' 00", MALFORMED},
    {"MQTT-3.1 5.0 CONNECT properties past packet", S, 0,
     "10 LL 00 04 'MQTT' 05 02 00 3c 09 11 00 00", MALFORMED},
    {"MQTT-3.1 5.0 CONNECT will properties past packet", S, 0,
     "10 LL 00 04 'MQTT' 05 06 00 3c 00 00 00 05 00", MALFORMED},
    {"MQTT-3.1 5.0 CONNECT properties length 5 bytes", S, 0,
     "10 LL 00 04 'MQTT' 05 02 00 3c ff ff ff ff 7f 00 00", MALFORMED},

    /* PUBLISH */
    {"MQTT-3.3.2-2 topic with +", S, 4, "30 LL 00 03 'a/+' 'x'", TOPIC},
    {"MQTT-3.3.2-2 topic with #", S, 4, "30 LL 00 03 'a/#'", TOPIC},
    {"MQTT-3.3.2-2 5.0 topic with wildcard", S, 5, "30 LL 00 01 '+' 00", TOPIC},
    {"MQTT-4.7.3-1 empty topic", S, 4, "30 LL 00 00 'x'", TOPIC},
    {"MQTT-3.3.2-1 topic ill-formed", S, 4, "30 LL 00 02 'a' ff", UTF8},
    {"MQTT-1.5.3-2 topic U+0000", S, 4, "30 LL 00 03 'a' 00 'b'", UTF8},
    {"MQTT-1.5.3-1 topic surrogate", S, 4, "30 LL 00 04 'a' ed bf bf", UTF8},
    {"MQTT-2.3.1-1 PUBLISH QoS 1 packet id 0", S, 4, "32 LL 00 01 'a' 00 00", PKID},
    {"MQTT-2.3.1-1 PUBLISH QoS 2 packet id 0", S, 4, "34 LL 00 01 'a' 00 00 'x'", PKID},
    {"MQTT-3.3 topic runs past packet", S, 4, "30 LL 00 05 'ab'", MALFORMED},
    {"MQTT-3.3 topic length cut", S, 4, "30 01 00", MALFORMED},
    {"MQTT-3.3 packet id cut", S, 4, "32 LL 00 01 'a' 00", MALFORMED},
    {"MQTT-3.3 5.0 properties past packet", S, 5, "30 LL 00 01 'a' 05 01", MALFORMED},
    {"MQTT-3.3 5.0 properties missing", S, 5, "30 LL 00 01 'a'", MALFORMED},
    {"MQTT-3.3 5.0 properties length 5 bytes", S, 5, "30 LL 00 01 'a' ff ff ff ff 7f", MALFORMED},
    {"MQTT-3.3.1-4 client PUBLISH QoS 3", C, 4, "36 LL 00 01 'a' 00 01", MALFORMED},

    /* PUBACK, PUBREC, PUBREL, PUBCOMP */
    {"MQTT-2.3.1-1 PUBACK packet id 0", S, 4, "40 02 00 00", PKID},
    {"MQTT-2.3.1-1 PUBREC packet id 0", S, 4, "50 02 00 00", PKID},
    {"MQTT-2.3.1-1 PUBREL packet id 0", S, 4, "62 02 00 00", PKID},
    {"MQTT-2.3.1-1 PUBCOMP packet id 0", C, 4, "70 02 00 00", PKID},
    {"MQTT-3.4 PUBACK trailing byte", S, 4, "40 03 00 01 00", MALFORMED},
    {"MQTT-3.4 PUBACK short", S, 4, "40 01 00", MALFORMED},
    {"MQTT-3.5 PUBREC empty", S, 4, "50 00", MALFORMED},
    {"MQTT-3.4 5.0 PUBACK short", S, 5, "40 01 00", MALFORMED},
    {"MQTT-3.4 5.0 PUBACK properties past packet", S, 5, "40 04 00 01 00 05", MALFORMED},
    {"MQTT-3.4 5.0 PUBACK trailing byte", S, 5, "40 LL 00 01 00 00 ff", MALFORMED},
    {"MQTT-3.4 5.0 PUBACK packet id 0", S, 5, "40 03 00 00 10", PKID},

    /* SUBSCRIBE */
    {"MQTT-3.8.3-3 SUBSCRIBE without filters", S, 4, "82 02 00 01", MALFORMED},
    {"MQTT-3.8.3-3 5.0 SUBSCRIBE without filters", S, 5, "82 03 00 01 00", MALFORMED},
    {"MQTT-2.3.1-1 SUBSCRIBE packet id 0", S, 4, "82 LL 00 00 00 01 'a' 00", PKID},
    {"MQTT-3-8.3-4 requested QoS 3", S, 4, "82 LL 00 01 00 01 'a' 03", MALFORMED},
    {"MQTT-3-8.3-4 reserved option bit 2", S, 4, "82 LL 00 01 00 01 'a' 04", MALFORMED},
    {"MQTT-3-8.3-4 reserved option bit 7", S, 4, "82 LL 00 01 00 01 'a' 80", MALFORMED},
    {"MQTT-3-8.3-4 second entry bad", S, 4, "82 LL 00 01 00 01 'a' 00 00 01 'b' 40", MALFORMED},
    {"MQTT-3.8.3-5 5.0 reserved option bit 6", S, 5, "82 LL 00 01 00 00 01 'a' 40", MALFORMED},
    {"MQTT-3.8.3-5 5.0 reserved option bit 7", S, 5, "82 LL 00 01 00 00 01 'a' 81", MALFORMED},
    {"MQTT-3.8.3 5.0 maximum QoS 3", S, 5, "82 LL 00 01 00 00 01 'a' 03", MALFORMED},
    {"MQTT-3.8.3 5.0 retain handling 3", S, 5, "82 LL 00 01 00 00 01 'a' 30",
     ROOST_EPROTO_PROTOCOL},
    {"MQTT-4.7.1-2 # not last", S, 4, "82 LL 00 01 00 05 'a/#/b' 00", TOPIC},
    {"MQTT-4.7.1-2 # not alone", S, 4, "82 LL 00 01 00 02 'a#' 00", TOPIC},
    {"MQTT-4.7.1-3 + not alone", S, 4, "82 LL 00 01 00 03 'a+/' 00", TOPIC},
    {"MQTT-4.7.3-1 empty filter", S, 4, "82 LL 00 01 00 00 00", TOPIC},
    {"MQTT-3.8.3-1 filter ill-formed", S, 4, "82 LL 00 01 00 02 'a' 80 00", UTF8},
    {"MQTT-3.8.3-1 filter above U+10FFFF", S, 4, "82 LL 00 01 00 04 f4 90 80 80 00", UTF8},
    {"MQTT-3.8 options byte missing", S, 4, "82 LL 00 01 00 01 'a'", MALFORMED},
    {"MQTT-3.8 filter runs past packet", S, 4, "82 LL 00 01 00 09 'a' 00", MALFORMED},
    {"MQTT-3.8 filter length cut", S, 4, "82 LL 00 01 00 01 'a' 00 00", MALFORMED},
    {"MQTT-3.8 packet id cut", S, 4, "82 01 00", MALFORMED},
    {"MQTT-3.8 5.0 properties past packet", S, 5, "82 LL 00 01 07 00 01 'a' 00", MALFORMED},

    /* UNSUBSCRIBE */
    {"MQTT-3.10.3-2 UNSUBSCRIBE without filters", S, 4, "a2 02 00 01", MALFORMED},
    {"MQTT-3.10.3-2 5.0 UNSUBSCRIBE without filters", S, 5, "a2 03 00 01 00", MALFORMED},
    {"MQTT-2.3.1-1 UNSUBSCRIBE packet id 0", S, 4, "a2 LL 00 00 00 01 'a'", PKID},
    {"MQTT-4.7.1-2 UNSUBSCRIBE # not last", S, 4, "a2 LL 00 01 00 05 'a/#/b'", TOPIC},
    {"MQTT-4.7.3-1 UNSUBSCRIBE empty filter", S, 4, "a2 LL 00 01 00 01 'a' 00 00", TOPIC},
    {"MQTT-3.10.3-1 UNSUBSCRIBE filter ill-formed", S, 4, "a2 LL 00 01 00 02 e2 82", UTF8},
    {"MQTT-3.10 filter runs past packet", S, 4, "a2 LL 00 01 00 03 'ab'", MALFORMED},

    /* PINGREQ, DISCONNECT, AUTH */
    {"MQTT-3.12 PINGREQ with body", S, 4, "c0 01 00", MALFORMED},
    {"MQTT-3.14 DISCONNECT with body", S, 4, "e0 01 00", MALFORMED},
    {"MQTT-3.14 DISCONNECT before CONNECT with body", S, 0, "e0 01 00", MALFORMED},
    {"MQTT-3.14 5.0 DISCONNECT properties past packet", S, 5, "e0 03 00 05 00", MALFORMED},
    {"MQTT-3.14 5.0 DISCONNECT trailing byte", S, 5, "e0 03 00 00 00", MALFORMED},
    {"MQTT-3.15 5.0 AUTH property length missing", S, 5, "f0 01 18", MALFORMED},
    {"MQTT-3.15 5.0 AUTH trailing byte", S, 5, "f0 03 18 00 00", MALFORMED},

    /* client side */
    {"MQTT-3.2.2-1 CONNACK reserved bits", C, 4, "20 02 02 00", MALFORMED},
    {"MQTT-3.2.2-4 session present with refusal", C, 4, "20 02 01 05", MALFORMED},
    {"MQTT-3.2 CONNACK trailing byte", C, 4, "20 03 00 00 00", MALFORMED},
    {"MQTT-3.2 CONNACK short", C, 4, "20 01 00", MALFORMED},
    {"MQTT-3.2 5.0 CONNACK without properties", C, 5, "20 02 00 00", MALFORMED},
    {"MQTT-3.2 5.0 CONNACK properties past packet", C, 5, "20 03 00 00 04", MALFORMED},
    {"MQTT-3.9.3-2 SUBACK reserved code", C, 4, "90 LL 00 01 03", MALFORMED},
    {"MQTT-3.9.3-2 SUBACK 5.0 code in 3.1.1", C, 4, "90 LL 00 01 87", MALFORMED},
    {"MQTT-3.9 5.0 SUBACK unknown reason", C, 5, "90 LL 00 01 00 05", MALFORMED},
    {"MQTT-3.9 SUBACK without codes", C, 4, "90 02 00 01", MALFORMED},
    {"MQTT-2.3.1-1 SUBACK packet id 0", C, 4, "90 03 00 00 00", PKID},
    {"MQTT-3.11 UNSUBACK trailing byte", C, 4, "b0 03 00 01 00", MALFORMED},
    {"MQTT-2.3.1-1 UNSUBACK packet id 0", C, 4, "b0 02 00 00", PKID},
    {"MQTT-3.11 5.0 UNSUBACK unknown reason", C, 5, "b0 LL 00 01 00 05", MALFORMED},
    {"MQTT-3.11 5.0 UNSUBACK without codes", C, 5, "b0 03 00 01 00", MALFORMED},
    {"MQTT-3.13 PINGRESP with body", C, 4, "d0 01 00", MALFORMED},
};

static void init_dec(mqtt_decoder_t *d, const dcase_t *c)
{
    mqtt_decoder_init(d, 0, c->server);
    d->version = c->version;
}

/* Length of the fixed header of a well-formed packet. */
static size_t header_len(const uint8_t *b, size_t n)
{
    size_t i = 1;
    while (i < n && i < 5 && (b[i] & 0x80))
        i++;
    return i + 1;
}

static void test_table(void **state)
{
    (void)state;
    size_t failures = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const dcase_t *c = &cases[i];
        uint8_t b[1024];
        size_t n = unhex(c->hex, b, sizeof b), used = 99;
        mqtt_decoder_t d;
        mqtt_packet_t pkt;

        init_dec(&d, c);
        int rc = gdecode(&d, b, n, &used, &pkt);
        if (rc != c->rc) {
            print_error("FAIL %s: rc %d, want %d\n", c->name, rc, c->rc);
            failures++;
            continue;
        }
        if (rc == MQTT_OK || rc == ROOST_EPROTO_VERSION) {
            if (used != n || pkt.type != b[0] >> 4 || pkt.flags != (b[0] & 15)) {
                print_error("FAIL %s: consumed %zu of %zu\n", c->name, used, n);
                failures++;
            }
        }
        /* Every prefix is NEED_MORE (or, for a bad packet, the same error
         * found early), with need known once the fixed header is. */
        size_t hl = header_len(b, n);
        for (size_t k = 0; k < n; k++) {
            init_dec(&d, c);
            int prc = gdecode(&d, b, k, &used, &pkt);
            bool ok = prc == MQTT_NEED_MORE || (prc == c->rc && c->rc < 0);
            if (ok && prc == MQTT_NEED_MORE && c->rc == MQTT_OK)
                ok = d.need == (k < hl ? 0 : n) && used == 0;
            if (!ok) {
                print_error("FAIL %s: prefix %zu rc %d need %zu\n", c->name, k, prc, (size_t)d.need);
                failures++;
                break;
            }
        }
    }
    assert_int_equal(failures, 0);
}

/* ---- decoded fields ------------------------------------------------------ */

static bool str_eq(mqtt_str_t s, const char *lit, size_t n)
{
    return s.len == n && (n == 0 || memcmp(s.ptr, lit, n) == 0);
}
#define STR_EQ(s, lit) assert_true(str_eq((s), lit, sizeof(lit) - 1))

static int decode_hex(bool server, uint8_t version, const char *hex, mqtt_packet_t *pkt,
                      mqtt_decoder_t *d)
{
    uint8_t b[1024]; /* the views point into the guard mapping, valid until the next decode */
    size_t n = unhex(hex, b, sizeof b), used;
    mqtt_decoder_init(d, 0, server);
    d->version = version;
    int rc = gdecode(d, b, n, &used, pkt);
    if (rc == MQTT_OK)
        assert_int_equal(used, n);
    return rc;
}

static void test_connect_fields(void **state)
{
    (void)state;
    mqtt_decoder_t d;
    mqtt_packet_t p;
    assert_int_equal(decode_hex(S, 0,
                                "10 LL 00 04 'MQTT' 04 ee 00 3c 00 02 'c1' 00 03 'w/t' 00 02 "
                                "01 02 00 01 'u' 00 02 ff 00",
                                &p, &d),
                     MQTT_OK);
    const mqtt_connect_t *c = &p.u.connect;
    assert_int_equal(p.type, MQTT_CONNECT);
    assert_int_equal(d.version, 4);
    STR_EQ(c->protocol_name, "MQTT");
    assert_int_equal(c->version, 4);
    assert_true(c->clean_session && c->will && c->will_retain && c->has_username &&
                c->has_password);
    assert_int_equal(c->will_qos, 1);
    assert_int_equal(c->keepalive, 60);
    STR_EQ(c->client_id, "c1");
    STR_EQ(c->will_topic, "w/t");
    STR_EQ(c->will_payload, "\x01\x02");
    STR_EQ(c->username, "u");
    STR_EQ(c->password, "\xff\x00");
    assert_int_equal(c->props.len, 0);

    assert_int_equal(decode_hex(S, 0,
                                "10 LL 00 04 'MQTT' 05 c6 00 3c 05 11 00 00 00 0a 00 02 'c1' 02 "
                                "01 01 00 03 'w/t' 00 00 00 01 'u' 00 01 'p'",
                                &p, &d),
                     MQTT_OK);
    assert_int_equal(d.version, 5);
    STR_EQ(p.u.connect.props, "\x11\x00\x00\x00\x0a");
    STR_EQ(p.u.connect.will_props, "\x01\x01");
    STR_EQ(p.u.connect.will_topic, "w/t");
    assert_int_equal(p.u.connect.will_payload.len, 0);
    STR_EQ(p.u.connect.password, "p");
}

/* ROOST_EPROTO_VERSION contract: consumed, d->version, and the fields in wire
 * order up to the first check that fails. */
static void test_connect_bad_version(void **state)
{
    (void)state;
    mqtt_decoder_t d;
    mqtt_packet_t p;
    assert_int_equal(decode_hex(S, 0, "10 LL 00 04 'MQTT' 06 82 00 3c 00 02 'c1' 00 01 'u'", &p, &d),
                     ROOST_EPROTO_VERSION);
    assert_int_equal(d.version, 6);
    assert_int_equal(p.type, MQTT_CONNECT);
    assert_int_equal(p.u.connect.version, 6);
    STR_EQ(p.u.connect.protocol_name, "MQTT");
    assert_int_equal(p.u.connect.keepalive, 60);
    STR_EQ(p.u.connect.client_id, "c1");
    STR_EQ(p.u.connect.username, "u");

    /* the 3.1.1 layout does not fit: level and flags are still there */
    assert_int_equal(decode_hex(S, 0, "10 LL 00 06 'MQIsdp' 05 02 00 0a 07", &p, &d),
                     ROOST_EPROTO_VERSION);
    assert_int_equal(d.version, 5);
    assert_int_equal(p.u.connect.version, 5);
    assert_true(p.u.connect.clean_session);
    assert_int_equal(p.u.connect.keepalive, 10);
    assert_int_equal(p.u.connect.client_id.len, 0);
    assert_null(p.u.connect.client_id.ptr);

    /* a bad name leaves the version unknown */
    assert_int_equal(decode_hex(S, 0, "10 LL 00 04 'MQTX' 04 02 00 3c 00 00", &p, &d),
                     ROOST_EPROTO_NAME);
    assert_int_equal(d.version, 0);
}

static void test_publish_fields(void **state)
{
    (void)state;
    mqtt_decoder_t d;
    mqtt_packet_t p;
    assert_int_equal(decode_hex(S, 4, "3b LL 00 03 'a/b' 12 34 'xyz'", &p, &d), MQTT_OK);
    assert_int_equal(p.u.publish.qos, 1);
    assert_true(p.u.publish.dup && p.u.publish.retain);
    assert_int_equal(p.u.publish.packet_id, 0x1234);
    STR_EQ(p.u.publish.topic, "a/b");
    STR_EQ(p.u.publish.payload, "xyz");

    assert_int_equal(decode_hex(C, 5, "34 LL 00 01 'a' 00 02 02 01 01 'pl'", &p, &d), MQTT_OK);
    assert_int_equal(p.u.publish.qos, 2);
    assert_false(p.u.publish.dup || p.u.publish.retain);
    STR_EQ(p.u.publish.props, "\x01\x01");
    STR_EQ(p.u.publish.payload, "pl");
}

static void test_ack_fields(void **state)
{
    (void)state;
    mqtt_decoder_t d;
    mqtt_packet_t p;
    assert_int_equal(decode_hex(S, 5, "62 LL ab cd 92 03 1f 00 00", &p, &d), MQTT_OK);
    assert_int_equal(p.type, MQTT_PUBREL);
    assert_int_equal(p.u.ack.packet_id, 0xabcd);
    assert_int_equal(p.u.ack.rc, 0x92);
    STR_EQ(p.u.ack.props, "\x1f\x00\x00");

    assert_int_equal(decode_hex(C, 5, "e0 LL 8e 00", &p, &d), MQTT_OK);
    assert_int_equal(p.u.ack.rc, 0x8e);
    assert_int_equal(decode_hex(C, 5, "20 LL 01 00 03 21 00 10", &p, &d), MQTT_OK);
    assert_true(p.u.connack.session_present);
    STR_EQ(p.u.connack.props, "\x21\x00\x10");
    assert_int_equal(decode_hex(C, 4, "90 LL 00 0a 00 01 02 80", &p, &d), MQTT_OK);
    assert_int_equal(p.u.suback.packet_id, 10);
    STR_EQ(p.u.suback.codes, "\x00\x01\x02\x80");
}

static void test_topic_iter(void **state)
{
    (void)state;
    mqtt_decoder_t d;
    mqtt_packet_t p;
    mqtt_topic_iter_t it;
    mqtt_str_t f;
    uint8_t o = 0xff;

    assert_int_equal(
        decode_hex(S, 4, "82 LL 00 0a 00 03 'a/b' 01 00 01 '#' 02 00 03 '+/x' 00", &p, &d), 0);
    assert_int_equal(p.u.subscribe.count, 3);
    mqtt_topic_iter_init(&it, &p.u.subscribe, true);
    assert_true(mqtt_topic_iter_next(&it, &f, &o));
    STR_EQ(f, "a/b");
    assert_int_equal(o, 1);
    assert_true(mqtt_topic_iter_next(&it, &f, &o));
    STR_EQ(f, "#");
    assert_int_equal(o, 2);
    assert_true(mqtt_topic_iter_next(&it, &f, &o));
    STR_EQ(f, "+/x");
    assert_int_equal(o, 0);
    assert_false(mqtt_topic_iter_next(&it, &f, &o));

    assert_int_equal(
        decode_hex(S, 5, "a2 LL 00 0b 05 26 00 00 00 00 00 01 'x' 00 02 'y/'", &p, &d), 0);
    assert_int_equal(p.u.subscribe.count, 2);
    STR_EQ(p.u.subscribe.props, "\x26\x00\x00\x00\x00");
    assert_int_equal(p.props.user_count, 1);
    mqtt_topic_iter_init(&it, &p.u.subscribe, false);
    assert_true(mqtt_topic_iter_next(&it, &f, NULL));
    STR_EQ(f, "x");
    assert_true(mqtt_topic_iter_next(&it, &f, NULL));
    STR_EQ(f, "y/");
    assert_false(mqtt_topic_iter_next(&it, &f, NULL));
}

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
    static uint8_t b[GUARD_CAP], h[GUARD_CAP];
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

/* ---- varints, sizes, incremental ---------------------------------------- */

static void test_varint(void **state)
{
    (void)state;
    const struct {
        uint32_t v;
        int n;
    } t[] = {{0, 1},       {127, 1},     {128, 2},       {16383, 2},         {16384, 3},
             {2097151, 3}, {2097152, 4}, {268435455, 4}, {MQTT_MAX_REMAINING, 4}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        uint8_t b[4];
        uint32_t got = 0xdeadbeef;
        assert_int_equal(mqtt_varint_encode(t[i].v, b), t[i].n);
        const uint8_t *g = guarded(b, (size_t)t[i].n);
        assert_int_equal(mqtt_varint_decode(g, (size_t)t[i].n, &got), t[i].n);
        assert_int_equal(got, t[i].v);
        for (int k = 0; k < t[i].n; k++) /* truncated: need more */
            assert_int_equal(mqtt_varint_decode(guarded(b, (size_t)k), (size_t)k, &got), 0);
    }
    const uint8_t five[] = {0xff, 0xff, 0xff, 0xff, 0x7f};
    uint32_t v;
    assert_int_equal(mqtt_varint_decode(guarded(five, 5), 5, &v), ROOST_EPROTO_MALFORMED);
    assert_int_equal(mqtt_varint_decode(guarded(five, 4), 4, &v), ROOST_EPROTO_MALFORMED);
    assert_int_equal(mqtt_varint_decode(guarded(five, 3), 3, &v), 0);
    const uint8_t noncanon[] = {0x80, 0x00}; /* accepted: 3.1.1 does not forbid it */
    assert_int_equal(mqtt_varint_decode(guarded(noncanon, 2), 2, &v), 2);
    assert_int_equal(v, 0);
}

/* Remaining-length boundaries through mqtt_decode: a PUBLISH header alone
 * says NEED_MORE with the exact total; small ones are decoded whole. */
static void test_decode_lengths(void **state)
{
    (void)state;
    const uint32_t rems[] = {127, 128, 16383, 16384, 2097151, 2097152, 268435455};
    static uint8_t b[GUARD_CAP];
    for (size_t i = 0; i < sizeof rems / sizeof rems[0]; i++) {
        mqtt_decoder_t d;
        mqtt_packet_t p;
        size_t used;
        uint8_t hdr[5] = {0x30};
        int k = mqtt_varint_encode(rems[i], hdr + 1);
        size_t total = 1 + (size_t)k + rems[i];
        mqtt_decoder_init(&d, 0, true);
        d.version = 4;
        assert_int_equal(gdecode(&d, hdr, 1 + (size_t)k, &used, &p), MQTT_NEED_MORE);
        assert_int_equal(d.need, total);
        if (total > sizeof b)
            continue;
        memcpy(b, hdr, 1 + (size_t)k);
        b[1 + k] = 0;
        b[2 + k] = 1;
        b[3 + k] = 't';
        memset(b + 4 + k, 'p', rems[i] - 3);
        assert_int_equal(gdecode(&d, b, total, &used, &p), MQTT_OK);
        assert_int_equal(used, total);
        assert_int_equal(p.remaining, rems[i]);
        assert_int_equal(p.u.publish.payload.len, rems[i] - 3);
        assert_int_equal(d.need, 0);
    }
}

static void test_too_large(void **state)
{
    (void)state;
    mqtt_decoder_t d;
    mqtt_packet_t p;
    size_t used;
    const uint8_t fits[] = {0x30, 98}, over[] = {0x30, 99}, partial[] = {0x30, 0x80};
    mqtt_decoder_init(&d, 100, true);
    assert_int_equal(d.max_packet, 100);
    assert_int_equal(gdecode(&d, fits, 2, &used, &p), MQTT_NEED_MORE);
    assert_int_equal(d.need, 100);
    assert_int_equal(gdecode(&d, over, 2, &used, &p), ROOST_EPROTO_TOO_LARGE);
    assert_int_equal(gdecode(&d, partial, 2, &used, &p), MQTT_NEED_MORE);
    assert_int_equal(d.need, 0);
    const uint8_t big[] = {0x30, 0x80, 0x80, 0x01}; /* 16384 before the body */
    assert_int_equal(gdecode(&d, big, 4, &used, &p), ROOST_EPROTO_TOO_LARGE);
    const uint8_t sub[] = {0x82, 0x80, 0x01}; /* any type */
    assert_int_equal(gdecode(&d, sub, 3, &used, &p), ROOST_EPROTO_TOO_LARGE);

    const uint8_t max[] = {0x30, 0xff, 0xff, 0xff, 0x7f};
    mqtt_decoder_init(&d, 0, true);
    assert_int_equal(d.max_packet, MQTT_MAX_REMAINING + 5);
    assert_int_equal(gdecode(&d, max, 5, &used, &p), MQTT_NEED_MORE);
    assert_int_equal(d.need, MQTT_MAX_REMAINING + 5);
    mqtt_decoder_init(&d, MQTT_MAX_REMAINING + 4, true);
    assert_int_equal(gdecode(&d, max, 5, &used, &p), ROOST_EPROTO_TOO_LARGE);
}

/* Two packets in one buffer are decoded one at a time. */
static void test_stream(void **state)
{
    (void)state;
    uint8_t b[64];
    size_t n = unhex("c0 00 32 LL 00 01 'a' 00 05 'x'", b, sizeof b);
    /* unhex put LL for the bytes after it; the ping precedes it */
    mqtt_decoder_t d;
    mqtt_packet_t p;
    size_t used, off = 0;
    mqtt_decoder_init(&d, 0, true);
    d.version = 4;
    const uint8_t *g = guarded(b, n);
    assert_int_equal(mqtt_decode(&d, g, n, &used, &p), MQTT_OK);
    assert_int_equal(p.type, MQTT_PINGREQ);
    assert_int_equal(used, 2);
    off += used;
    assert_int_equal(mqtt_decode(&d, g + off, n - off, &used, &p), MQTT_OK);
    assert_int_equal(p.type, MQTT_PUBLISH);
    assert_int_equal(p.u.publish.packet_id, 5);
    off += used;
    assert_int_equal(off, n);
    assert_int_equal(mqtt_decode(&d, g + off, 0, &used, &p), MQTT_NEED_MORE);
}

/* ---- UTF-8 ---------------------------------------------------------------- */

static void test_utf8_table(void **state)
{
    (void)state;
    const struct {
        const char *name, *hex;
        int rc;
    } t[] = {
        {"empty", "", 0},
        {"ascii", "'hello/world'", 0},
        {"2-byte U+00E9", "c3 a9", 0},
        {"2-byte U+0080", "c2 80", 0},
        {"2-byte U+07FF", "df bf", 0},
        {"3-byte U+0800", "e0 a0 80", 0},
        {"3-byte U+20AC", "e2 82 ac", 0},
        {"3-byte U+D7FF", "ed 9f bf", 0},
        {"3-byte U+E000", "ee 80 80", 0},
        {"3-byte U+FEFF BOM", "ef bb bf", 0},
        {"3-byte U+FFFF", "ef bf bf", 0},
        {"4-byte U+10000", "f0 90 80 80", 0},
        {"4-byte U+1F600", "f0 9f 98 80", 0},
        {"4-byte U+10FFFF", "f4 8f bf bf", 0},
        {"MQTT-1.5.3-2 U+0000", "00", UTF8},
        {"MQTT-1.5.3-2 U+0000 inside", "'abc' 00 'def'", UTF8},
        {"overlong 2-byte c0 80", "c0 80", UTF8},
        {"overlong 2-byte c1 bf", "c1 bf", UTF8},
        {"overlong 3-byte e0 80 80", "e0 80 80", UTF8},
        {"overlong 3-byte e0 9f bf", "e0 9f bf", UTF8},
        {"overlong 4-byte f0 80 80 80", "f0 80 80 80", UTF8},
        {"overlong 4-byte f0 8f bf bf", "f0 8f bf bf", UTF8},
        {"MQTT-1.5.3-1 surrogate U+D800", "ed a0 80", UTF8},
        {"MQTT-1.5.3-1 surrogate U+DFFF", "ed bf bf", UTF8},
        {"above U+10FFFF f4 90", "f4 90 80 80", UTF8},
        {"lead f5", "f5 80 80 80", UTF8},
        {"lead ff", "ff", UTF8},
        {"lone continuation", "80", UTF8},
        {"truncated 2-byte", "c3", UTF8},
        {"truncated 3-byte", "e2 82", UTF8},
        {"truncated 4-byte", "f0 9f 98", UTF8},
        {"bad continuation", "e2 28 ac", UTF8},
        {"bad 4th byte", "f0 9f 98 41", UTF8},
        {"ascii then truncated", "'abcdefgh' e2", UTF8},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        uint8_t b[64];
        size_t n = unhex(t[i].hex, b, sizeof b);
        int rc = mqtt_utf8_check(guarded(b, n), n);
        if (rc != t[i].rc)
            fail_msg("%s: rc %d want %d", t[i].name, rc, t[i].rc);
    }
}

/* A bad byte or a multibyte character at every offset around the 8-byte
 * fast path's word boundaries. */
static void test_utf8_positions(void **state)
{
    (void)state;
    for (size_t len = 1; len <= 40; len++) {
        for (size_t pos = 0; pos < len; pos++) {
            uint8_t b[48];
            memset(b, 'a', len);
            b[pos] = 0;
            assert_int_equal(mqtt_utf8_check(guarded(b, len), len), UTF8);
            b[pos] = 0x80;
            assert_int_equal(mqtt_utf8_check(guarded(b, len), len), UTF8);
            b[pos] = 0x7f;
            assert_int_equal(mqtt_utf8_check(guarded(b, len), len), 0);
            if (pos + 3 <= len) {
                memcpy(b + pos, "\xe2\x82\xac", 3);
                assert_int_equal(mqtt_utf8_check(guarded(b, len), len), 0);
                assert_int_equal(mqtt_utf8_check(guarded(b, pos + 2), pos + 2), UTF8);
            }
        }
    }
}

/* Reference: a slow decoder written from Unicode table 3-7, plus no U+0000. */
static bool ref_valid(const uint8_t *s, size_t n)
{
    static const uint32_t min[] = {0, 1, 0x80, 0x800, 0x10000};
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        uint32_t cp;
        size_t need;
        if (c < 0x80)
            need = 1, cp = c;
        else if ((c & 0xE0) == 0xC0)
            need = 2, cp = c & 0x1F;
        else if ((c & 0xF0) == 0xE0)
            need = 3, cp = c & 0x0F;
        else if ((c & 0xF8) == 0xF0)
            need = 4, cp = c & 0x07;
        else
            return false;
        if (n - i < need)
            return false;
        for (size_t k = 1; k < need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if (cp < min[need] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += need;
    }
    return true;
}

static void test_utf8_exhaustive(void **state)
{
    (void)state;
    uint8_t s[4];
    for (unsigned a = 0; a < 256; a++) {
        s[0] = (uint8_t)a;
        assert_int_equal(mqtt_utf8_check(s, 1) == 0, ref_valid(s, 1));
        for (unsigned b = 0; b < 256; b++) {
            s[1] = (uint8_t)b;
            assert_int_equal(mqtt_utf8_check(s, 2) == 0, ref_valid(s, 2));
        }
    }
    for (unsigned a = 0xE0; a < 0x100; a++) {
        for (unsigned b = 0; b < 256; b++) {
            for (unsigned c = 0x70; c < 0xC8; c++) {
                s[0] = (uint8_t)a, s[1] = (uint8_t)b, s[2] = (uint8_t)c;
                assert_int_equal(mqtt_utf8_check(s, 3) == 0, ref_valid(s, 3));
                s[3] = 0x80;
                assert_int_equal(mqtt_utf8_check(s, 4) == 0, ref_valid(s, 4));
                s[3] = 0xBF;
                assert_int_equal(mqtt_utf8_check(s, 4) == 0, ref_valid(s, 4));
            }
        }
    }
}

static void test_type_name(void **state)
{
    (void)state;
    assert_string_equal(mqtt_type_name(MQTT_CONNECT), "CONNECT");
    assert_string_equal(mqtt_type_name(MQTT_UNSUBSCRIBE), "UNSUBSCRIBE");
    assert_string_equal(mqtt_type_name(MQTT_AUTH), "AUTH");
    assert_string_equal(mqtt_type_name(0), "UNKNOWN");
    assert_string_equal(mqtt_type_name(16), "UNKNOWN");
    assert_string_equal(mqtt_type_name(255), "UNKNOWN");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_connect_fields),
        cmocka_unit_test(test_connect_bad_version),
        cmocka_unit_test(test_publish_fields),
        cmocka_unit_test(test_ack_fields),
        cmocka_unit_test(test_topic_iter),
        cmocka_unit_test(test_roundtrip_connect),
        cmocka_unit_test(test_roundtrip_connack),
        cmocka_unit_test(test_roundtrip_publish),
        cmocka_unit_test(test_roundtrip_acks),
        cmocka_unit_test(test_roundtrip_subscribe),
        cmocka_unit_test(test_roundtrip_suback),
        cmocka_unit_test(test_roundtrip_simple),
        cmocka_unit_test(test_varint),
        cmocka_unit_test(test_decode_lengths),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_utf8_table),
        cmocka_unit_test(test_utf8_positions),
        cmocka_unit_test(test_utf8_exhaustive),
        cmocka_unit_test(test_type_name),
    };
    return cmocka_run_group_tests(tests, guard_setup, guard_teardown);
}

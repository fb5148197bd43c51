/* Unit tests for lib/mqtt/codec.c: byte-level conformance tables named after
 * the specification's statements, decoded fields, incremental decoding, size
 * limits and varints (round trips: test_codec_roundtrip.c; UTF-8:
 * test_utf8.c). Every decode
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
    static uint8_t b[MQTT_TEST_GUARD_CAP];
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
        cmocka_unit_test(test_varint),
        cmocka_unit_test(test_decode_lengths),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_type_name),
    };
    return cmocka_run_group_tests(tests, guard_setup, guard_teardown);
}

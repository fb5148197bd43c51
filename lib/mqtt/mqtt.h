/* mqtt: the MQTT packet codec, a pure function over bytes (STYLE.md 1).
 *
 * No sockets, clock, logging, globals or hidden allocation. Decoded strings
 * and payloads are views (ptr, len) into the caller's buffer, valid while that
 * buffer is; code that keeps them copies them.
 *
 * Decoding is incremental: mqtt_decode looks at the bytes it is given and
 * either returns one whole packet (MQTT_OK, *consumed = its size), says more
 * bytes are needed (MQTT_NEED_MORE, d->need = total bytes the packet needs once
 * its fixed header is known, else 0), or fails with a negative ROOST_EPROTO_*
 * code from base/err.h. Size limits are checked as soon as the fixed header is
 * known, before the caller buffers the body.
 *
 * Versions: MQTT 3.1.1 (level 4) and 5.0 (level 5) are complete; 3.1
 * (level 3, "MQIsdp") is decoded for CONNECT so the broker can answer it.
 * A server decoder takes the level from CONNECT. In 5.0 every property list
 * is kept as a raw view (u.*.props, the bytes to store and forward) and
 * validated and decoded into mqtt_packet_t.props (props.h: which property
 * may appear where, duplicates, forbidden values); reason codes are checked
 * against the packet's list (reason.h), which also maps errors to the
 * reason code of a CONNACK or DISCONNECT (mqtt_reason_from_err).
 *
 * Validation done here (the specification's normative statements that can be
 * checked on one packet): fixed-header flags, remaining length, UTF-8
 * well-formedness and no U+0000 in every string [MQTT-1.5.3-1,2], CONNECT
 * protocol name/level/flags [MQTT-3.1.2-1,2,3,...], will flag combinations,
 * topic names without wildcards in PUBLISH [MQTT-3.3.2-2], topic filter
 * syntax in SUBSCRIBE/UNSUBSCRIBE [MQTT-4.7.1-*], non-empty payloads of
 * SUBSCRIBE/UNSUBSCRIBE [MQTT-3.8.3-3, 3.10.3-2], requested QoS <= 2
 * [MQTT-3-8.3-4], nonzero packet ids where required [MQTT-2.3.1-1].
 * Checks that need session state (first packet must be CONNECT, second
 * CONNECT, packet-id reuse) belong to the broker.
 */
#ifndef ROOST_MQTT_MQTT_H
#define ROOST_MQTT_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "mqtt/props.h"
#include "mqtt/view.h"

/* Non-error outcomes of mqtt_decode (errors are negative). */
enum { MQTT_OK = 0, MQTT_NEED_MORE = 1 };

enum mqtt_version {
    MQTT_V31 = 3,
    MQTT_V311 = 4,
    MQTT_V5 = 5,
};

enum mqtt_type {
    MQTT_CONNECT = 1,
    MQTT_CONNACK = 2,
    MQTT_PUBLISH = 3,
    MQTT_PUBACK = 4,
    MQTT_PUBREC = 5,
    MQTT_PUBREL = 6,
    MQTT_PUBCOMP = 7,
    MQTT_SUBSCRIBE = 8,
    MQTT_SUBACK = 9,
    MQTT_UNSUBSCRIBE = 10,
    MQTT_UNSUBACK = 11,
    MQTT_PINGREQ = 12,
    MQTT_PINGRESP = 13,
    MQTT_DISCONNECT = 14,
    MQTT_AUTH = 15, /* 5.0 only */
};

/* CONNACK return codes, MQTT 3.1.1 table 3.1. */
enum mqtt_connack_rc {
    MQTT_CONNACK_ACCEPTED = 0,
    MQTT_CONNACK_BAD_VERSION = 1,
    MQTT_CONNACK_ID_REJECTED = 2,
    MQTT_CONNACK_UNAVAILABLE = 3,
    MQTT_CONNACK_BAD_CREDENTIALS = 4,
    MQTT_CONNACK_NOT_AUTHORIZED = 5,
};

/* SUBACK failure return code (3.1.1); 5.0 reason codes >= 0x80 are failures too. */
#define MQTT_SUBACK_FAILURE 0x80

/* The largest remaining length the 4-byte varint can carry. */
#define MQTT_MAX_REMAINING 268435455u


typedef struct mqtt_connect {
    mqtt_str_t protocol_name;  /* "MQTT" (or "MQIsdp" for 3.1) */
    uint8_t version;           /* protocol level: 3, 4 or 5 */
    bool clean_session;        /* 5.0: clean start */
    bool will;
    uint8_t will_qos;
    bool will_retain;
    bool has_username;
    bool has_password;
    uint16_t keepalive;        /* seconds, 0 = off */
    mqtt_str_t client_id;      /* may be empty */
    mqtt_str_t will_topic;     /* valid topic name when will */
    mqtt_str_t will_payload;   /* binary */
    mqtt_str_t username;       /* valid UTF-8 when has_username */
    mqtt_str_t password;       /* binary when has_password */
    mqtt_str_t props;          /* 5.0 CONNECT properties, raw; empty otherwise */
    mqtt_str_t will_props;     /* 5.0 will properties, raw */
} mqtt_connect_t;

typedef struct mqtt_connack {
    bool session_present;
    uint8_t rc;                /* 3.1.1 return code or 5.0 reason code */
    mqtt_str_t props;
} mqtt_connack_t;

typedef struct mqtt_publish {
    uint8_t qos;
    bool dup;
    bool retain;
    uint16_t packet_id;        /* 0 for QoS 0 */
    mqtt_str_t topic;          /* valid topic name, no wildcards */
    mqtt_str_t payload;        /* binary, may be empty */
    mqtt_str_t props;
} mqtt_publish_t;

/* PUBACK, PUBREC, PUBREL, PUBCOMP, and 5.0 DISCONNECT/AUTH reason codes. */
typedef struct mqtt_ack {
    uint16_t packet_id;
    uint8_t rc;                /* 5.0 reason code; 0 in 3.1.1 */
    mqtt_str_t props;
} mqtt_ack_t;

/* SUBSCRIBE and UNSUBSCRIBE: the topic list stays in the buffer, already
 * validated by the decoder; walk it with mqtt_topic_iter_*. */
typedef struct mqtt_subscribe {
    uint16_t packet_id;
    uint32_t count;            /* number of filters, >= 1 */
    mqtt_str_t list;           /* raw filter list (SUBSCRIBE: filter + options byte) */
    mqtt_str_t props;
} mqtt_subscribe_t;

/* SUBACK and UNSUBACK (5.0 has UNSUBACK reason codes). */
typedef struct mqtt_suback {
    uint16_t packet_id;
    mqtt_str_t codes;          /* one byte per filter */
    mqtt_str_t props;
} mqtt_suback_t;

typedef struct mqtt_packet {
    uint8_t type;              /* enum mqtt_type */
    uint8_t flags;             /* low nibble of the fixed header */
    uint32_t remaining;        /* remaining length */
    union {
        mqtt_connect_t connect;
        mqtt_connack_t connack;
        mqtt_publish_t publish;
        mqtt_ack_t ack;        /* PUBACK..PUBCOMP, DISCONNECT and AUTH (5.0) */
        mqtt_subscribe_t subscribe; /* SUBSCRIBE and UNSUBSCRIBE */
        mqtt_suback_t suback;  /* SUBACK and UNSUBACK */
    } u;
    /* 5.0 only: the packet's property list (the raw view is u.*.props),
     * validated and decoded (props.h); zero when the packet has none (short
     * forms). Set only when the packet was decoded as 5.0 (d->version ==
     * MQTT_V5 afterwards) and zeroed by every CONNECT; other 3.1.1 packets
     * leave both as they were, so 3.1.1 decoding does not pay for them.
     * will_props: a 5.0 CONNECT's will properties. */
    mqtt_props_t props;
    mqtt_props_t will_props;
} mqtt_packet_t;

/* Per-connection decoder state. Embedded by the caller: mqtt_decoder_init. */
typedef struct mqtt_decoder {
    uint32_t max_packet;       /* max total packet size in bytes (fixed header included) */
    uint8_t version;           /* 0 until CONNECT is decoded, then its level */
    bool server;               /* true: decode packets a server receives; false: a client's */
    uint32_t need;             /* after MQTT_NEED_MORE: total bytes needed, 0 if unknown
                                  (at most MQTT_MAX_REMAINING + 5) */
} mqtt_decoder_t;

/* max_packet 0 means the protocol maximum (stored as MQTT_MAX_REMAINING + 5).
 * server selects which direction's packets are legal (a server never
 * receives CONNACK, a client never CONNECT). A server decoder learns its
 * version from CONNECT (until then it decodes the 3.1.1 layout); a client
 * decoder's caller sets d->version after init. In 5.0 AUTH is legal in both
 * directions and DISCONNECT also towards clients. */
void mqtt_decoder_init(mqtt_decoder_t *d, uint32_t max_packet, bool server);

/* Decodes at most one packet from buf[0..len).
 * Returns MQTT_OK with *consumed set and *out filled (views into buf),
 * MQTT_NEED_MORE (*consumed = 0; d->need says how much the packet needs once
 * known), or a negative ROOST_EPROTO_* code; on error the connection must be
 * closed. After decoding a CONNECT it sets d->version to the CONNECT's level (even
 * when the level is unacceptable, so the caller can answer CONNACK 1 and
 * close). Never allocates, never reads past buf+len.
 *
 * Errors, chosen to follow the 5.0 reason codes (0x81 malformed, 0x82
 * protocol error, ...), are reported as soon as the bytes that prove them
 * have arrived (first byte, then the fixed header, then the body):
 *   ROOST_EPROTO_MALFORMED  type 0 (or 15 before 5.0), bad fixed-header
 *       flags, remaining length over 4 bytes, a fixed-size packet of another
 *       size, a field running past the packet, trailing bytes, QoS 3
 *       (PUBLISH, will, subscription options), reserved bits (CONNECT flags,
 *       CONNACK flags, subscription options), will QoS/retain without will,
 *       password without username before 5.0, no filters in
 *       SUBSCRIBE/UNSUBSCRIBE, unknown SUBACK/UNSUBACK codes (client side)
 *       5.0: a property or property list that props.h calls malformed, a
 *       reason code not in the packet's list [MQTT-3.4.2-1, ...]
 *   ROOST_EPROTO_PROTOCOL   5.0: a property error props.h calls a
 *       Protocol Error (duplicate, forbidden value, direction); PUBLISH with
 *       an empty topic and no Topic Alias (3.3.2.3.4); Retain Handling 3
 *       (3.8.3.1); No Local on a shared subscription [MQTT-3.8.3-4]
 *   ROOST_EPROTO_TOO_LARGE  total size > d->max_packet (from the fixed header)
 *   ROOST_EPROTO_UNEXPECTED a type this direction never receives
 *   ROOST_EPROTO_QOS        DUP set on a QoS 0 PUBLISH [MQTT-3.3.1-2]
 *   ROOST_EPROTO_PACKET_ID  packet id 0 (PUBLISH QoS>0, PUB*, (UN)SUB(ACK))
 *   ROOST_EPROTO_UTF8       a string fails mqtt_utf8_check
 *   ROOST_EPROTO_TOPIC      topic_check_name / topic_check_filter fails
 *                           (5.0 PUBLISH may have an empty topic: an alias)
 *   ROOST_EPROTO_NAME       protocol name neither "MQTT" nor "MQIsdp"
 *   ROOST_EPROTO_VERSION    any level other than MQTT/4, MQTT/5, MQIsdp/3.
 *       The packet is consumed (*consumed set), d->version and
 *       out->u.connect.version hold the level, out->type/flags/remaining and
 *       u.connect.protocol_name are set, and the later fields are parsed in
 *       the 3.1.1 layout with its checks, filled in wire order up to the
 *       first one that fails (that one and the rest stay zero/empty). */
int mqtt_decode(mqtt_decoder_t *d, const uint8_t *buf, size_t len, size_t *consumed,
                mqtt_packet_t *out);

/* Iterates over a decoded SUBSCRIBE (with_options = true) or UNSUBSCRIBE
 * filter list. Returns true and fills *filter (and *options, which may be
 * NULL: the subscription options byte, QoS in bits 0-1) while entries remain. */
typedef struct mqtt_topic_iter {
    const uint8_t *p, *end;
    bool with_options;
} mqtt_topic_iter_t;
void mqtt_topic_iter_init(mqtt_topic_iter_t *it, const mqtt_subscribe_t *s, bool with_options);
bool mqtt_topic_iter_next(mqtt_topic_iter_t *it, mqtt_str_t *filter, uint8_t *options);

/* UTF-8 check per [MQTT-1.5.3-1,2]: well-formed, no surrogates, no U+0000.
 * Returns 0 or ROOST_EPROTO_UTF8. */
int mqtt_utf8_check(const uint8_t *s, size_t len);
/* UTF-8 Encoded Character Data (a 5.0 payload with Payload Format
 * Indicator 1, 3.3.2.3.2): well-formed UTF-8 per RFC 3629; unlike strings,
 * U+0000 is allowed. */
bool mqtt_utf8_data_ok(const uint8_t *s, size_t len);

/* Remaining-length varint. mqtt_varint_decode returns bytes used (1-4),
 * 0 when more bytes are needed, or ROOST_EPROTO_MALFORMED after 4 bytes with
 * the continuation bit still set. mqtt_varint_encode writes 1-4 bytes into
 * out (which has room for 4) and returns the count; value <= MQTT_MAX_REMAINING. */
int mqtt_varint_decode(const uint8_t *buf, size_t len, uint32_t *value);
int mqtt_varint_encode(uint32_t value, uint8_t out[4]);
/* The number of bytes (1-4) mqtt_varint_encode writes for value. */
size_t mqtt_varint_size(uint32_t value);

/* Encoders. Each writes one packet into buf[0..cap) and returns the packet's
 * total size. When cap is smaller than that size nothing is written and the
 * needed size is still returned, so callers can size buffers with cap = 0.
 * version picks the 3.1.1 or 5.0 layout (5.0: rc and an empty property list
 * are written where the spec requires them; the props/will_props of
 * mqtt_connect_t and mqtt_publish_t are written in 5.0, ignored before).
 * Encoders trust their input (our own data): they assert, never return
 * errors. mqtt_encode_connect writes c->protocol_name, or when it is empty
 * "MQIsdp" for level 3 and "MQTT" otherwise. */
size_t mqtt_encode_connect(uint8_t *buf, size_t cap, const mqtt_connect_t *c);
size_t mqtt_encode_connack(uint8_t *buf, size_t cap, uint8_t version, bool session_present,
                           uint8_t rc);
/* Whole PUBLISH with its payload. */
size_t mqtt_encode_publish(uint8_t *buf, size_t cap, uint8_t version, const mqtt_publish_t *p);
/* PUBLISH header only (fixed header, topic, packet id, properties): the
 * payload's p->payload.len bytes follow it on the wire, written by the caller
 * (writev of a shared payload). Returns the header size. */
size_t mqtt_encode_publish_header(uint8_t *buf, size_t cap, uint8_t version,
                                  const mqtt_publish_t *p);
/* PUBACK, PUBREC, PUBREL (flags 0x2 set by the encoder), PUBCOMP. In 5.0 a
 * zero rc is omitted as the spec allows. */
size_t mqtt_encode_ack(uint8_t *buf, size_t cap, uint8_t version, uint8_t type,
                       uint16_t packet_id, uint8_t rc);
/* SUBSCRIBE from parallel arrays of filters and option bytes. */
size_t mqtt_encode_subscribe(uint8_t *buf, size_t cap, uint8_t version, uint16_t packet_id,
                             const mqtt_str_t *filters, const uint8_t *options, uint32_t count);
size_t mqtt_encode_unsubscribe(uint8_t *buf, size_t cap, uint8_t version, uint16_t packet_id,
                               const mqtt_str_t *filters, uint32_t count);
/* SUBACK with one return code per filter; UNSUBACK (codes ignored in 3.1.1). */
size_t mqtt_encode_suback(uint8_t *buf, size_t cap, uint8_t version, uint16_t packet_id,
                          const uint8_t *codes, uint32_t count);
size_t mqtt_encode_unsuback(uint8_t *buf, size_t cap, uint8_t version, uint16_t packet_id,
                            const uint8_t *codes, uint32_t count);
/* PINGREQ, PINGRESP, and DISCONNECT (3.1.1: two bytes; 5.0: a nonzero rc
 * is written, a zero rc omitted as the spec allows). */
size_t mqtt_encode_simple(uint8_t *buf, size_t cap, uint8_t type);
size_t mqtt_encode_disconnect(uint8_t *buf, size_t cap, uint8_t version, uint8_t rc);

/* 5.0 encoders with a property list: props is a list's bytes without the
 * Property Length (mqtt_props_encode / mqtt_props_copy output, or a
 * decoded packet's raw view), written behind its length. The short forms
 * the spec allows are used: a PUB* ack omits the reason code when it is
 * 0x00 and props are empty, and the property length when props are empty
 * (3.4.2.1); DISCONNECT and AUTH are two bytes for 0x00 without properties
 * (3.14.2.1, 3.15.2.1), and a DISCONNECT with a code but no properties
 * three. For 5.0 the versioned encoders above write what these write with
 * empty props (one implementation each, specialised for 3.1.1). */
size_t mqtt_encode_connack_v5(uint8_t *buf, size_t cap, bool session_present, uint8_t rc,
                              mqtt_str_t props);
size_t mqtt_encode_ack_v5(uint8_t *buf, size_t cap, uint8_t type, uint16_t packet_id,
                          uint8_t rc, mqtt_str_t props);
size_t mqtt_encode_subscribe_v5(uint8_t *buf, size_t cap, uint16_t packet_id, mqtt_str_t props,
                                const mqtt_str_t *filters, const uint8_t *options,
                                uint32_t count);
size_t mqtt_encode_unsubscribe_v5(uint8_t *buf, size_t cap, uint16_t packet_id,
                                  mqtt_str_t props, const mqtt_str_t *filters, uint32_t count);
size_t mqtt_encode_suback_v5(uint8_t *buf, size_t cap, uint16_t packet_id, mqtt_str_t props,
                             const uint8_t *codes, uint32_t count);
size_t mqtt_encode_unsuback_v5(uint8_t *buf, size_t cap, uint16_t packet_id, mqtt_str_t props,
                               const uint8_t *codes, uint32_t count);
size_t mqtt_encode_disconnect_v5(uint8_t *buf, size_t cap, uint8_t rc, mqtt_str_t props);
size_t mqtt_encode_auth(uint8_t *buf, size_t cap, uint8_t rc, mqtt_str_t props);

/* A short static name for a packet type ("CONNECT", ...), "UNKNOWN" otherwise. */
const char *mqtt_type_name(uint8_t type);

#endif

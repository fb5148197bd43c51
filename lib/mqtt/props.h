/* props: MQTT 5.0 properties (5.0 section 2.2.2), pure like the codec.
 *
 * A property list is what follows a packet's Property Length varint: a
 * sequence of (identifier, value) entries. mqtt_props_decode validates one
 * list for the packet it came in and fills an mqtt_props_t whose strings are
 * views into the list (zero-copy, valid while the packet buffer is); the list
 * bytes themselves (mqtt_props_t.raw) are the compact form to store and
 * forward: once validated they can be iterated (mqtt_props_iter_*), copied
 * minus per-hop properties (mqtt_props_copy) and decoded again anywhere.
 *
 * Checks, and the error each maps to (5.0 reason code in brackets):
 *   ROOST_EPROTO_MALFORMED [0x81]  an identifier that is not a 5.0 property,
 *       or one not valid for this packet (2.2.2.2: "A Control Packet which
 *       contains an Identifier which is not valid for its packet type, or
 *       contains a value not of the specified data type, is a Malformed
 *       Packet"); a value running past the list; a Subscription Identifier
 *       not in the minimum number of bytes [MQTT-1.5.5-1]
 *   ROOST_EPROTO_UTF8 [0x81]  a UTF-8 string or string pair that is
 *       ill-formed or holds U+0000 [MQTT-1.5.4-1,2], [MQTT-1.5.7-1]
 *   ROOST_EPROTO_PROTOCOL [0x82]  a property present twice where the spec
 *       makes it a Protocol Error (every one but User Property, and the
 *       Subscription Identifier of a server-to-client PUBLISH); a value the
 *       spec forbids: Payload Format Indicator, Request Problem/Response
 *       Information, Maximum QoS, Retain/Wildcard/Subscription
 *       Identifier/Shared Subscription Available other than 0 or 1; Receive
 *       Maximum, Maximum Packet Size, Topic Alias or Subscription Identifier
 *       0; a Response Topic that is not a valid topic name [MQTT-3.3.2-13,14];
 *       direction rules: a Subscription Identifier in a PUBLISH from a client
 *       [MQTT-3.3.4-6], a Session Expiry Interval in a DISCONNECT from a
 *       server [MQTT-3.14.2-2], Authentication Data without Authentication
 *       Method (3.1.2.11.10, 3.2.2.3.18, 3.15.2.2.3)
 * Rules between a property and the rest of its packet (an empty topic
 * without Topic Alias, ...) are the codec's; rules needing connection state
 * (Topic Alias above the maximum, Receive Maximum exceeded, Session Expiry
 * changed from 0 at DISCONNECT, ...) are the broker's.
 */
#ifndef ROOST_MQTT_PROPS_H
#define ROOST_MQTT_PROPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqtt/view.h"

/* Property identifiers, 5.0 table 2-4. */
enum mqtt_prop_id {
    MQTT_PROP_PAYLOAD_FORMAT = 0x01,        /* byte */
    MQTT_PROP_MESSAGE_EXPIRY = 0x02,        /* four-byte integer */
    MQTT_PROP_CONTENT_TYPE = 0x03,          /* UTF-8 string */
    MQTT_PROP_RESPONSE_TOPIC = 0x08,        /* UTF-8 string */
    MQTT_PROP_CORRELATION_DATA = 0x09,      /* binary data */
    MQTT_PROP_SUBSCRIPTION_ID = 0x0B,       /* variable byte integer */
    MQTT_PROP_SESSION_EXPIRY = 0x11,        /* four-byte integer */
    MQTT_PROP_ASSIGNED_CLIENT_ID = 0x12,    /* UTF-8 string */
    MQTT_PROP_SERVER_KEEP_ALIVE = 0x13,     /* two-byte integer */
    MQTT_PROP_AUTH_METHOD = 0x15,           /* UTF-8 string */
    MQTT_PROP_AUTH_DATA = 0x16,             /* binary data */
    MQTT_PROP_REQUEST_PROBLEM_INFO = 0x17,  /* byte */
    MQTT_PROP_WILL_DELAY = 0x18,            /* four-byte integer */
    MQTT_PROP_REQUEST_RESPONSE_INFO = 0x19, /* byte */
    MQTT_PROP_RESPONSE_INFO = 0x1A,         /* UTF-8 string */
    MQTT_PROP_SERVER_REFERENCE = 0x1C,      /* UTF-8 string */
    MQTT_PROP_REASON_STRING = 0x1F,         /* UTF-8 string */
    MQTT_PROP_RECEIVE_MAXIMUM = 0x21,       /* two-byte integer */
    MQTT_PROP_TOPIC_ALIAS_MAXIMUM = 0x22,   /* two-byte integer */
    MQTT_PROP_TOPIC_ALIAS = 0x23,           /* two-byte integer */
    MQTT_PROP_MAXIMUM_QOS = 0x24,           /* byte */
    MQTT_PROP_RETAIN_AVAILABLE = 0x25,      /* byte */
    MQTT_PROP_USER_PROPERTY = 0x26,         /* UTF-8 string pair */
    MQTT_PROP_MAXIMUM_PACKET_SIZE = 0x27,   /* four-byte integer */
    MQTT_PROP_WILDCARD_SUB_AVAILABLE = 0x28, /* byte */
    MQTT_PROP_SUB_ID_AVAILABLE = 0x29,      /* byte */
    MQTT_PROP_SHARED_SUB_AVAILABLE = 0x2A,  /* byte */
};
#define MQTT_PROP_ID_MAX 0x2A

/* Bit of a property in mqtt_props_t.present and mqtt_props_copy's drop mask. */
#define MQTT_PROP_BIT(id) (UINT64_C(1) << (id))

enum mqtt_prop_type {
    MQTT_PT_NONE = 0, /* not a property */
    MQTT_PT_BYTE,
    MQTT_PT_U16,
    MQTT_PT_U32,
    MQTT_PT_VARINT,
    MQTT_PT_UTF8,
    MQTT_PT_BINARY,
    MQTT_PT_PAIR,
};

/* Where a list comes from: a packet type (enum mqtt_type), or the will
 * properties of a CONNECT. */
#define MQTT_PROPS_WILL 16

/* One property, as iterated or given to mqtt_prop_encode. */
typedef struct mqtt_prop {
    uint8_t id;       /* enum mqtt_prop_id */
    uint32_t num;     /* byte, two-byte, four-byte and variable byte integers */
    mqtt_str_t str;   /* UTF-8 string, binary data, or a pair's name */
    mqtt_str_t val;   /* a UTF-8 string pair's value */
} mqtt_prop_t;

/* A decoded, validated list. A field is meaningful when its bit is set in
 * present (MQTT_PROP_BIT(id)); absent fields are zero, and the caller applies
 * the spec's defaults (Receive Maximum 65535, Maximum QoS 2, ...). One
 * exception, for the hot path: a PUBLISH list (ctx MQTT_PUBLISH) and a
 * PUBACK..PUBCOMP one clear only the fields that packet may carry
 * (mqtt_props_clear) and leave the others (CONNECT, CONNACK, DISCONNECT,
 * AUTH fields) as they were; no reader looks at those there. */
typedef struct mqtt_props {
    uint64_t present;
    mqtt_str_t raw;              /* decode: the whole list; ignored by encode */
    mqtt_str_t extra;            /* encode: entries written verbatim after the
                                    fields (user properties, more subscription
                                    identifiers); empty after decode */
    uint32_t user_count;         /* decode: User Property entries (in raw) */
    uint32_t sub_id_count;       /* decode: Subscription Identifiers (in raw) */
    uint32_t message_expiry;     /* 0x02 seconds */
    uint32_t session_expiry;     /* 0x11 seconds */
    uint32_t will_delay;         /* 0x18 seconds */
    uint32_t max_packet_size;    /* 0x27 */
    uint32_t sub_id;             /* 0x0B, the first one (1..268435455) */
    uint16_t server_keep_alive;  /* 0x13 */
    uint16_t receive_maximum;    /* 0x21 */
    uint16_t topic_alias_maximum; /* 0x22 */
    uint16_t topic_alias;        /* 0x23 */
    uint8_t payload_format;      /* 0x01: 0 bytes, 1 UTF-8 */
    uint8_t request_problem_info; /* 0x17 */
    uint8_t request_response_info; /* 0x19 */
    uint8_t maximum_qos;         /* 0x24 */
    uint8_t retain_available;    /* 0x25 */
    uint8_t wildcard_sub_available; /* 0x28 */
    uint8_t sub_id_available;    /* 0x29 */
    uint8_t shared_sub_available; /* 0x2A */
    mqtt_str_t content_type;     /* 0x03 */
    mqtt_str_t response_topic;   /* 0x08 */
    mqtt_str_t correlation_data; /* 0x09 */
    mqtt_str_t assigned_client_id; /* 0x12 */
    mqtt_str_t auth_method;      /* 0x15 */
    mqtt_str_t auth_data;        /* 0x16 */
    mqtt_str_t response_info;    /* 0x1A */
    mqtt_str_t server_reference; /* 0x1C */
    mqtt_str_t reason_string;    /* 0x1F */
} mqtt_props_t;

static inline bool mqtt_props_has(const mqtt_props_t *p, uint8_t id)
{
    return (p->present & MQTT_PROP_BIT(id)) != 0;
}

/* Empties *out as mqtt_props_decode does before reading a list of a packet
 * of type ctx: present, raw, extra and the counts zero, and every field
 * (for ctx MQTT_PUBLISH and PUBACK..PUBCOMP only that packet's: a few
 * stores instead of clearing the whole struct per message). The codec's
 * fast path for a PUBLISH whose Property Length is 0 is this and nothing
 * else. */
void mqtt_props_clear(mqtt_props_t *out, unsigned ctx);
/* mqtt_props_clear(out, MQTT_PUBACK..MQTT_PUBCOMP), inline for the codec's
 * hot path: Reason String and User Property are all an acknowledgement may
 * carry (3.4.2.2, 3.5.2.2, 3.6.2.2, 3.7.2.2). */
static inline void mqtt_props_clear_ack(mqtt_props_t *out)
{
    out->present = 0;
    out->raw = out->extra = out->reason_string = (mqtt_str_t){0};
    out->user_count = out->sub_id_count = 0;
}
/* mqtt_props_clear(out, MQTT_PUBLISH), inline for the codec's hot path:
 * the fields of every property a PUBLISH may carry (2.2.2.2). */
static inline void mqtt_props_clear_publish(mqtt_props_t *out)
{
    out->present = 0;
    out->raw = out->extra = (mqtt_str_t){0};
    out->user_count = out->sub_id_count = 0;
    out->message_expiry = out->sub_id = 0;
    out->topic_alias = 0;
    out->payload_format = 0;
    out->content_type = out->response_topic = out->correlation_data = (mqtt_str_t){0};
}

/* Validates the list buf[0..len) found in a packet of type ctx (or
 * MQTT_PROPS_WILL), received by a server (from_client) or by a client, and
 * fills *out (views into buf). Returns 0 or a negative ROOST_EPROTO_* code
 * listed above; *out is then partly filled and must not be used. */
int mqtt_props_decode(const uint8_t *buf, size_t len, unsigned ctx, bool from_client,
                      mqtt_props_t *out);

/* The check a receiver MAY make (3.3.2.3.2, 3.1.3.2.3): with Payload Format
 * Indicator 1 the payload (or will payload) is UTF-8 Encoded Character Data
 * (mqtt_utf8_data_ok). False when the indicator is 1 and the payload is not
 * (reason code 0x99 Payload format invalid: PUBACK/PUBREC or DISCONNECT,
 * CONNACK for a will); true otherwise. */
bool mqtt_props_payload_ok(const mqtt_props_t *p, mqtt_str_t payload);

/* The type of a property identifier (MQTT_PT_NONE for anything else), its
 * name in the spec ("Topic Alias"; "unknown" otherwise), and whether it may
 * appear in a packet of type ctx (or MQTT_PROPS_WILL). */
enum mqtt_prop_type mqtt_prop_type(unsigned id);
const char *mqtt_prop_name(unsigned id);
bool mqtt_prop_allowed(unsigned id, unsigned ctx);

/* Walks a list that mqtt_props_decode accepted (on anything else it stops at
 * the first entry it cannot read). */
typedef struct mqtt_props_iter {
    const uint8_t *p, *end;
} mqtt_props_iter_t;
void mqtt_props_iter_init(mqtt_props_iter_t *it, mqtt_str_t list);
bool mqtt_props_iter_next(mqtt_props_iter_t *it, mqtt_prop_t *out);

/* Encoders, like the packet encoders: write into buf[0..cap) and return the
 * size, writing nothing when cap is smaller (cap = 0 sizes). They assert on
 * values the spec forbids (our own data). The output is a property list's
 * bytes, without the Property Length (the packet encoders write that).
 * mqtt_prop_encode writes one entry; mqtt_props_encode writes every field
 * whose bit is set in p->present, in identifier order (User Property and
 * more Subscription Identifiers go in p->extra, appended verbatim);
 * mqtt_props_copy copies a validated list's entries in order except those
 * whose identifiers are set in drop (MQTT_PROP_BIT mask): forwarding keeps
 * User Properties in order [MQTT-3.3.2-18] and drops per-hop ones (Topic
 * Alias, Subscription Identifier). */
size_t mqtt_prop_encode(uint8_t *buf, size_t cap, const mqtt_prop_t *p);
size_t mqtt_props_encode(uint8_t *buf, size_t cap, const mqtt_props_t *p);
size_t mqtt_props_copy(uint8_t *buf, size_t cap, mqtt_str_t list, uint64_t drop);

#endif

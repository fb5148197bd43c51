/* codec: the MQTT 3.1.1 / 5.0 packet decoder (mqtt.h); the encoders are in
 * encode.c.
 *
 * Decoding checks the first byte (type, direction, flags), then the fixed
 * header (remaining length, size limits, fixed-size packets), and only then
 * parses the body through a bounds-checked cursor (rd_t) that never reads
 * past the end of the packet. Which error code each failed check returns is
 * listed at mqtt_decode in mqtt.h. Fields are stored as soon as they pass
 * their checks, which is what the ROOST_EPROTO_VERSION contract relies on.
 */
#include <assert.h>
#include <stddef.h>
#include <string.h>

#include "mqtt/mqtt.h"
#include "mqtt/props.h"
#include "mqtt/reason.h"
#include "mqtt/topic.h"
#include "mqtt/wire.h"

/* Packets off the 3.1.1 hot path (CONNECT, CONNACK, (UN)SUBSCRIBE,
 * (UN)SUBACK, DISCONNECT, AUTH, and 5.0 PUBLISH) stay out of mqtt_decode,
 * so the 3.1.1 PUBLISH and ack code inlined there compiles as it did
 * before 5.0 (the same instruction count per packet). */
#define OUT_OF_LINE __attribute__((noinline))

#define MAX_TOTAL (MQTT_MAX_REMAINING + 5u) /* 1 type byte + 4 varint bytes */

/* Packet types each direction may receive in every version; 5.0 adds
 * DISCONNECT towards clients and AUTH both ways. */
#define BIT(t) (1u << (t))
#define SERVER_TYPES                                                                  \
    (BIT(MQTT_CONNECT) | BIT(MQTT_PUBLISH) | BIT(MQTT_PUBACK) | BIT(MQTT_PUBREC) |    \
     BIT(MQTT_PUBREL) | BIT(MQTT_PUBCOMP) | BIT(MQTT_SUBSCRIBE) | BIT(MQTT_UNSUBSCRIBE) | \
     BIT(MQTT_PINGREQ) | BIT(MQTT_DISCONNECT))
#define CLIENT_TYPES                                                                  \
    (BIT(MQTT_CONNACK) | BIT(MQTT_PUBLISH) | BIT(MQTT_PUBACK) | BIT(MQTT_PUBREC) |    \
     BIT(MQTT_PUBREL) | BIT(MQTT_PUBCOMP) | BIT(MQTT_SUBACK) | BIT(MQTT_UNSUBACK) |   \
     BIT(MQTT_PINGRESP))
#define V5_TYPES (BIT(MQTT_DISCONNECT) | BIT(MQTT_AUTH))

/* ---- UTF-8 and varints ------------------------------------------------- */

/* Well-formed UTF-8 (RFC 3629: no surrogates, nothing above U+10FFFF, no
 * overlong forms); U+0000 only when nul_ok. Inlined into both callers so
 * the string check keeps its constant. */
static inline __attribute__((always_inline)) int utf8_scan(const uint8_t *s, size_t len,
                                                           bool nul_ok)
{
    const uint8_t *p = s, *end = s + len;
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;

    while (p < end) {
        /* ASCII fast path: a word passes when every byte is 0x01..0x7F
         * (0x00..0x7F when nul_ok). (v - ones) sets a byte's high bit for a zero byte (the lowest zero
         * byte receives no borrow), v itself for a non-ASCII byte. */
        while (end - p >= 8) {
            uint64_t v;
            memcpy(&v, p, 8);
            if (((nul_ok ? v : (v | (v - ones))) & highs) != 0)
                break;
            p += 8;
        }
        if (p == end)
            break;
        uint8_t c = p[0];
        if (c < 0x80) {
            if (c == 0 && !nul_ok)
                return ROOST_EPROTO_UTF8; /* U+0000 [MQTT-1.5.3-2] */
            p++;
            continue;
        }
        size_t left = (size_t)(end - p);
        if (c < 0xC2) /* stray continuation byte, or overlong 2-byte lead */
            return ROOST_EPROTO_UTF8;
        if (c < 0xE0) {
            if (left < 2 || (p[1] & 0xC0) != 0x80)
                return ROOST_EPROTO_UTF8;
            p += 2;
        } else if (c < 0xF0) {
            if (left < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
                return ROOST_EPROTO_UTF8;
            if ((c == 0xE0 && p[1] < 0xA0) || /* overlong */
                (c == 0xED && p[1] >= 0xA0))  /* surrogates D800-DFFF [MQTT-1.5.3-1] */
                return ROOST_EPROTO_UTF8;
            p += 3;
        } else if (c < 0xF5) {
            if (left < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 ||
                (p[3] & 0xC0) != 0x80)
                return ROOST_EPROTO_UTF8;
            if ((c == 0xF0 && p[1] < 0x90) || /* overlong */
                (c == 0xF4 && p[1] >= 0x90))  /* above U+10FFFF */
                return ROOST_EPROTO_UTF8;
            p += 4;
        } else {
            return ROOST_EPROTO_UTF8; /* F5..FF never appear */
        }
    }
    return 0;
}

int mqtt_utf8_check(const uint8_t *s, size_t len)
{
    return utf8_scan(s, len, false);
}

bool mqtt_utf8_data_ok(const uint8_t *s, size_t len)
{
    return utf8_scan(s, len, true) == 0;
}

int mqtt_varint_decode(const uint8_t *buf, size_t len, uint32_t *value)
{
    uint32_t v = 0;
    for (size_t i = 0; i < 4; i++) {
        if (i == len)
            return 0;
        v |= (uint32_t)(buf[i] & 0x7F) << (7 * i);
        if ((buf[i] & 0x80) == 0) {
            *value = v;
            return (int)i + 1;
        }
    }
    return ROOST_EPROTO_MALFORMED;
}

/* ---- decoding ------------------------------------------------------------ */

/* A cursor over one complete packet body. Every read is bounds-checked;
 * running past the end is a malformed packet. */
typedef struct rd {
    const uint8_t *p, *end;
} rd_t;

static inline size_t rd_left(const rd_t *r) { return (size_t)(r->end - r->p); }

static inline int rd_u8(rd_t *r, uint8_t *v)
{
    if (r->p == r->end)
        return ROOST_EPROTO_MALFORMED;
    *v = *r->p++;
    return 0;
}

static inline int rd_u16(rd_t *r, uint16_t *v)
{
    if (rd_left(r) < 2)
        return ROOST_EPROTO_MALFORMED;
    *v = (uint16_t)(r->p[0] << 8 | r->p[1]);
    r->p += 2;
    return 0;
}

/* A nonzero packet identifier [MQTT-2.3.1-1]. */
static inline int rd_packet_id(rd_t *r, uint16_t *id)
{
    TRY(rd_u16(r, id));
    return *id ? 0 : ROOST_EPROTO_PACKET_ID;
}

/* Two-byte length + bytes (binary data). */
static inline int rd_bin(rd_t *r, mqtt_str_t *s)
{
    uint16_t n;
    TRY(rd_u16(r, &n));
    if (rd_left(r) < n)
        return ROOST_EPROTO_MALFORMED;
    s->ptr = r->p;
    s->len = n;
    r->p += n;
    return 0;
}

/* A UTF-8 encoded string [MQTT-1.5.3]. */
static inline int rd_utf8(rd_t *r, mqtt_str_t *s)
{
    TRY(rd_bin(r, s));
    return mqtt_utf8_check(s->ptr, s->len);
}

/* 5.0 property list: varint length + that many bytes, kept raw in *s and
 * validated and decoded into *dst for a packet of type ctx (props.h). */
static __attribute__((noinline)) int rd_props(rd_t *r, mqtt_str_t *s, unsigned ctx,
                                              bool from_client, mqtt_props_t *dst)
{
    uint32_t n;
    int k = mqtt_varint_decode(r->p, rd_left(r), &n);
    if (k <= 0 || !varint_minimal(r->p, k)) /* [MQTT-1.5.5-1] */
        return ROOST_EPROTO_MALFORMED;
    r->p += k;
    if (rd_left(r) < n)
        return ROOST_EPROTO_MALFORMED;
    s->ptr = r->p;
    s->len = n;
    r->p += n;
    return mqtt_props_decode(s->ptr, n, ctx, from_client, dst);
}

static inline int rd_done(const rd_t *r)
{
    return r->p == r->end ? 0 : ROOST_EPROTO_MALFORMED;
}

/* A 5.0 reason code this packet type may carry ([MQTT-3.4.2-1] and the
 * like for each packet: reason.h). */
static inline int rd_reason(rd_t *r, uint8_t type, uint8_t *rc)
{
    TRY(rd_u8(r, rc));
    return mqtt_reason_valid(type, *rc) ? 0 : ROOST_EPROTO_MALFORMED;
}

/* A topic name: UTF-8, non-empty (5.0: may be empty, a topic alias then
 * names it: decode_publish checks one is there, the broker resolves it), no
 * wildcards. */
static int check_topic_name(const mqtt_str_t *t, bool v5)
{
    TRY(mqtt_utf8_check(t->ptr, t->len));
    if (t->len == 0 && v5)
        return 0;
    return topic_check_name((const char *)t->ptr, t->len);
}

static inline bool str_is(const mqtt_str_t *s, const char *lit, size_t n)
{
    return s->len == n && memcmp(s->ptr, lit, n) == 0;
}

/* Everything after the protocol level, laid out as 3.1.1 (v5 = false) or
 * 5.0. Fields are stored as soon as they pass their checks, so on failure
 * the fields before the failing one are filled and the rest stay zero. */
static int decode_connect_rest(rd_t *r, mqtt_packet_t *out, bool v5)
{
    mqtt_connect_t *c = &out->u.connect;
    uint8_t fl;
    TRY(rd_u8(r, &fl));
    c->clean_session = fl & 0x02;
    c->will = fl & 0x04;
    c->will_qos = (fl >> 3) & 3;
    c->will_retain = fl & 0x20;
    c->has_password = fl & 0x40;
    c->has_username = fl & 0x80;
    TRY(rd_u16(r, &c->keepalive));
    if (fl & 0x01) /* [MQTT-3.1.2-3] */
        return ROOST_EPROTO_MALFORMED;
    if (!c->will && (c->will_qos || c->will_retain)) /* [MQTT-3.1.2-11,13,15] */
        return ROOST_EPROTO_MALFORMED;
    if (c->will_qos == 3) /* [MQTT-3.1.2-14] */
        return ROOST_EPROTO_MALFORMED;
    if (c->has_password && !c->has_username && !v5) /* [MQTT-3.1.2-22] */
        return ROOST_EPROTO_MALFORMED;
    if (v5) /* 3.1.2.11 */
        TRY(rd_props(r, &c->props, MQTT_CONNECT, true, &out->props));
    TRY(rd_utf8(r, &c->client_id)); /* [MQTT-3.1.3-4] */
    if (c->will) {
        if (v5) /* 3.1.3.2 */
            TRY(rd_props(r, &c->will_props, MQTT_PROPS_WILL, true, &out->will_props));
        TRY(rd_bin(r, &c->will_topic));
        TRY(check_topic_name(&c->will_topic, false)); /* [MQTT-3.1.3-10] */
        TRY(rd_bin(r, &c->will_payload));
    }
    if (c->has_username)
        TRY(rd_utf8(r, &c->username)); /* [MQTT-3.1.3-11] */
    if (c->has_password)
        TRY(rd_bin(r, &c->password));
    return rd_done(r);
}

static OUT_OF_LINE int decode_connect(mqtt_decoder_t *d, rd_t *r, mqtt_packet_t *out)
{
    mqtt_connect_t *c = &out->u.connect;
    mqtt_str_t name;
    uint8_t level;
    memset(&out->props, 0, sizeof out->props); /* it may turn out to be 5.0 */
    memset(&out->will_props, 0, sizeof out->will_props);
    TRY(rd_bin(r, &name));
    bool mqtt = str_is(&name, "MQTT", 4), isdp = str_is(&name, "MQIsdp", 6);
    if (!mqtt && !isdp) /* [MQTT-3.1.2-1] */
        return ROOST_EPROTO_NAME;
    c->protocol_name = name;
    TRY(rd_u8(r, &level));
    c->version = level;
    d->version = level;
    bool known = mqtt ? (level == MQTT_V311 || level == MQTT_V5) : level == MQTT_V31;
    int rc = decode_connect_rest(r, out, known && level == MQTT_V5);
    return known ? rc : ROOST_EPROTO_VERSION; /* [MQTT-3.1.2-2]: CONNACK 1 */
}

static OUT_OF_LINE int decode_connack(const mqtt_decoder_t *d, rd_t *r, mqtt_packet_t *out)
{
    mqtt_connack_t *c = &out->u.connack;
    bool v5 = d->version == MQTT_V5;
    uint8_t sp;
    TRY(rd_u8(r, &sp));
    TRY(v5 ? rd_reason(r, MQTT_CONNACK, &c->rc) : rd_u8(r, &c->rc)); /* 3.2.2.2 */
    if (sp & 0xFE) /* [MQTT-3.2.2-1] reserved */
        return ROOST_EPROTO_MALFORMED;
    c->session_present = sp;
    if (sp && c->rc) /* [MQTT-3.2.2-4] (5.0: [MQTT-3.2.2-6]) */
        return ROOST_EPROTO_MALFORMED;
    if (v5)
        TRY(rd_props(r, &c->props, MQTT_CONNACK, false, &out->props));
    return rd_done(r);
}

/* PUBLISH up to the properties: flags, topic name, packet id. */
static inline int publish_head(rd_t *r, uint8_t flags, mqtt_publish_t *p, bool v5)
{
    p->retain = flags & 0x01;
    p->qos = (flags >> 1) & 3; /* 3 and DUP on QoS 0 rejected with the fixed header */
    p->dup = flags & 0x08;
    TRY(rd_bin(r, &p->topic));
    TRY(check_topic_name(&p->topic, v5)); /* [MQTT-3.3.2-1,2] */
    if (p->qos)
        TRY(rd_packet_id(r, &p->packet_id));
    return 0;
}

/* The rest of the packet is the payload. */
static inline int publish_payload(rd_t *r, mqtt_publish_t *p)
{
    p->payload.ptr = r->p;
    p->payload.len = (uint32_t)rd_left(r);
    return 0;
}

/* 3.1.1 PUBLISH, the hot path, inlined into mqtt_decode. */
static inline int decode_publish(rd_t *r, uint8_t flags, mqtt_publish_t *p)
{
    TRY(publish_head(r, flags, p, false));
    return publish_payload(r, p);
}

/* The rest of a 5.0 PUBLISH after its head: its property list, then the
 * payload. 3.3.2.3.4: "It is a Protocol Error if the Topic Name is zero
 * length and there is no Topic Alias". */
static OUT_OF_LINE int decode_publish_v5_props(const mqtt_decoder_t *d, rd_t *r,
                                               mqtt_packet_t *out)
{
    mqtt_publish_t *p = &out->u.publish;
    TRY(rd_props(r, &p->props, MQTT_PUBLISH, d->server, &out->props));
    if (p->topic.len == 0 && !mqtt_props_has(&out->props, MQTT_PROP_TOPIC_ALIAS))
        return ROOST_EPROTO_PROTOCOL;
    return publish_payload(r, p);
}

/* 5.0 PUBLISH. The usual one, a Property Length of 0 (nothing to validate),
 * is decoded here, inlined into mqtt_decode like the 3.1.1 one; a list goes
 * to the property decoder, out of line. */
static inline int decode_publish_v5(const mqtt_decoder_t *d, rd_t *r, mqtt_packet_t *out)
{
    mqtt_publish_t *p = &out->u.publish;
    TRY(publish_head(r, out->flags, p, true));
    if (rd_left(r) == 0 || r->p[0] != 0)
        return decode_publish_v5_props(d, r, out);
    mqtt_props_clear_publish(&out->props);
    p->props = out->props.raw = (mqtt_str_t){++r->p, 0};
    if (p->topic.len == 0) /* and so no Topic Alias (3.3.2.3.4) */
        return ROOST_EPROTO_PROTOCOL;
    return publish_payload(r, p);
}

/* PUBACK..PUBCOMP. 5.0: reason code and properties each optional at the
 * end (remaining length 2: success, 3: no properties) [3.4.2.1]. */
static int decode_ack(const mqtt_decoder_t *d, rd_t *r, mqtt_packet_t *out)
{
    mqtt_ack_t *a = &out->u.ack;
    TRY(rd_packet_id(r, &a->packet_id));
    if (d->version == MQTT_V5) {
        if (rd_left(r))
            TRY(rd_reason(r, out->type, &a->rc)); /* [MQTT-3.4.2-1], 3.5.2-1, ... */
        if (rd_left(r))
            TRY(rd_props(r, &a->props, out->type, d->server, &out->props));
        else
            mqtt_props_clear_ack(&out->props);
    }
    return rd_done(r);
}

/* 5.0 DISCONNECT (remaining 0: rc 0; 1: no properties) and AUTH (remaining
 * 0, or reason code and property length both present [MQTT-3.15.2]).
 * 3.1.1 DISCONNECT has remaining 0, checked with the fixed header. */
static OUT_OF_LINE int decode_reason(const mqtt_decoder_t *d, rd_t *r, mqtt_packet_t *out)
{
    mqtt_ack_t *a = &out->u.ack;
    if (d->version != MQTT_V5)
        return 0;
    if (rd_left(r) == 0 || (rd_left(r) == 1 && out->type == MQTT_DISCONNECT))
        memset(&out->props, 0, sizeof out->props);
    if (rd_left(r) == 0)
        return 0;
    TRY(rd_reason(r, out->type, &a->rc)); /* [MQTT-3.14.2-1], [MQTT-3.15.2-1] */
    if (rd_left(r) || out->type == MQTT_AUTH)
        TRY(rd_props(r, &a->props, out->type, d->server, &out->props));
    return rd_done(r);
}

/* Subscription options: QoS in bits 0-1, 5.0 No Local (bit 2), Retain As
 * Published (bit 3), Retain Handling (bits 4-5). */
static int check_sub_options(uint8_t o, bool v5, const mqtt_str_t *filter)
{
    if ((o & 3) == 3) /* [MQTT-3-8.3-4] (5.0: 3.8.3.1 "Maximum QoS") */
        return ROOST_EPROTO_MALFORMED;
    if (!v5)
        return (o & 0xFC) ? ROOST_EPROTO_MALFORMED : 0; /* [MQTT-3-8.3-4] */
    if (o & 0xC0) /* [MQTT-3.8.3-5] reserved */
        return ROOST_EPROTO_MALFORMED;
    /* 3.8.3.1: "It is a Protocol Error to send a Retain Handling value of 3" */
    if (((o >> 4) & 3) == 3)
        return ROOST_EPROTO_PROTOCOL;
    /* [MQTT-3.8.3-4] "It is a Protocol Error to set the No Local bit to 1
     * on a Shared Subscription" */
    if ((o & 0x04) && filter->len >= 7 && memcmp(filter->ptr, "$share/", 7) == 0)
        return ROOST_EPROTO_PROTOCOL;
    return 0;
}

/* SUBSCRIBE (with_options) and UNSUBSCRIBE. */
static OUT_OF_LINE int decode_subscribe(const mqtt_decoder_t *d, rd_t *r, bool with_options,
                            mqtt_packet_t *out)
{
    mqtt_subscribe_t *s = &out->u.subscribe;
    bool v5 = d->version == MQTT_V5;
    TRY(rd_packet_id(r, &s->packet_id));
    if (v5) /* 3.8.2.1, 3.10.2.1 */
        TRY(rd_props(r, &s->props, out->type, true, &out->props));
    s->list.ptr = r->p;
    s->list.len = (uint32_t)rd_left(r);
    while (rd_left(r)) {
        mqtt_str_t f;
        TRY(rd_utf8(r, &f));
        TRY(topic_check_filter((const char *)f.ptr, f.len)); /* [MQTT-4.7.1-*] */
        if (with_options) {
            uint8_t o;
            TRY(rd_u8(r, &o));
            TRY(check_sub_options(o, v5, &f));
        }
        s->count++;
    }
    /* [MQTT-3.8.3-3], [MQTT-3.10.3-2] */
    return s->count ? 0 : ROOST_EPROTO_MALFORMED;
}

/* 3.1.1 SUBACK return codes [MQTT-3.9.3-2]; 5.0 uses the reason table. */
static bool suback_code_ok(uint8_t type, uint8_t c, bool v5)
{
    if (v5)
        return mqtt_reason_valid(type, c);
    return c <= 2 || c == 0x80;
}

/* SUBACK, and UNSUBACK (3.1.1: packet id only, checked with the fixed header). */
static OUT_OF_LINE int decode_suback(const mqtt_decoder_t *d, rd_t *r, mqtt_packet_t *out)
{
    mqtt_suback_t *s = &out->u.suback;
    bool v5 = d->version == MQTT_V5;
    TRY(rd_packet_id(r, &s->packet_id));
    if (out->type == MQTT_UNSUBACK && !v5)
        return rd_done(r);
    if (v5) /* 3.9.2.1, 3.11.2.1 */
        TRY(rd_props(r, &s->props, out->type, false, &out->props));
    s->codes.ptr = r->p;
    s->codes.len = (uint32_t)rd_left(r);
    if (s->codes.len == 0)
        return ROOST_EPROTO_MALFORMED;
    for (uint32_t i = 0; i < s->codes.len; i++) /* [MQTT-3.9.3-1], [MQTT-3.11.3-1] */
        if (!suback_code_ok(out->type, s->codes.ptr[i], v5))
            return ROOST_EPROTO_MALFORMED;
    return 0;
}

/* Checks that need only the first byte: reserved types, direction, fixed
 * header flags [MQTT-2.2.2-1,2], PUBLISH QoS and DUP [MQTT-3.3.1-2,4]. */
static int check_first_byte(const mqtt_decoder_t *d, unsigned type, unsigned flags)
{
    bool v5 = d->version == MQTT_V5;
    if (type == 0 || (type == MQTT_AUTH && !v5))
        return ROOST_EPROTO_MALFORMED;
    unsigned legal = (d->server ? SERVER_TYPES : CLIENT_TYPES) | (v5 ? V5_TYPES : 0);
    if ((legal & BIT(type)) == 0)
        return ROOST_EPROTO_UNEXPECTED;
    if (type == MQTT_PUBLISH) {
        unsigned qos = (flags >> 1) & 3;
        if (qos == 3)
            return ROOST_EPROTO_MALFORMED;
        return (qos == 0 && (flags & 0x08)) ? ROOST_EPROTO_QOS : 0;
    }
    unsigned want =
        (type == MQTT_PUBREL || type == MQTT_SUBSCRIBE || type == MQTT_UNSUBSCRIBE) ? 2 : 0;
    return flags == want ? 0 : ROOST_EPROTO_MALFORMED;
}

/* Packets whose remaining length is fixed are refused before their body. */
static int check_remaining(const mqtt_decoder_t *d, unsigned type, uint32_t rem)
{
    bool v5 = d->version == MQTT_V5;
    switch (type) {
    case MQTT_PINGREQ:
    case MQTT_PINGRESP:
        return rem == 0 ? 0 : ROOST_EPROTO_MALFORMED;
    case MQTT_DISCONNECT:
        return (v5 || rem == 0) ? 0 : ROOST_EPROTO_MALFORMED;
    case MQTT_CONNACK:
        return (v5 ? rem >= 3 : rem == 2) ? 0 : ROOST_EPROTO_MALFORMED;
    case MQTT_PUBACK:
    case MQTT_PUBREC:
    case MQTT_PUBREL:
    case MQTT_PUBCOMP:
        return (v5 ? rem >= 2 : rem == 2) ? 0 : ROOST_EPROTO_MALFORMED;
    case MQTT_UNSUBACK:
        return (v5 ? rem >= 4 : rem == 2) ? 0 : ROOST_EPROTO_MALFORMED;
    default:
        return 0;
    }
}

static int decode_body(mqtt_decoder_t *d, rd_t *r, mqtt_packet_t *out)
{
    switch (out->type) {
    case MQTT_CONNECT:
        return decode_connect(d, r, out);
    case MQTT_CONNACK:
        return decode_connack(d, r, out);
    case MQTT_PUBLISH:
        if (d->version == MQTT_V5)
            return decode_publish_v5(d, r, out);
        return decode_publish(r, out->flags, &out->u.publish);
    case MQTT_PUBACK:
    case MQTT_PUBREC:
    case MQTT_PUBREL:
    case MQTT_PUBCOMP:
        return decode_ack(d, r, out);
    case MQTT_SUBSCRIBE:
        return decode_subscribe(d, r, true, out);
    case MQTT_UNSUBSCRIBE:
        return decode_subscribe(d, r, false, out);
    case MQTT_SUBACK:
    case MQTT_UNSUBACK:
        return decode_suback(d, r, out);
    case MQTT_DISCONNECT:
    case MQTT_AUTH:
        return decode_reason(d, r, out);
    default: /* PINGREQ, PINGRESP: remaining 0 checked with the fixed header */
        if (d->version == MQTT_V5)
            memset(&out->props, 0, sizeof out->props);
        return 0;
    }
}

void mqtt_decoder_init(mqtt_decoder_t *d, uint32_t max_packet, bool server)
{
    memset(d, 0, sizeof *d);
    d->max_packet = max_packet ? max_packet : MAX_TOTAL;
    d->server = server;
}

int mqtt_decode(mqtt_decoder_t *d, const uint8_t *buf, size_t len, size_t *consumed,
                mqtt_packet_t *out)
{
    *consumed = 0;
    d->need = 0;
    if (len == 0)
        return MQTT_NEED_MORE;
    unsigned type = buf[0] >> 4, flags = buf[0] & 0x0F;
    TRY(check_first_byte(d, type, flags));

    uint32_t rem;
    int n;
    if (len >= 2 && buf[1] < 0x80) {
        rem = buf[1];
        n = 1;
    } else {
        n = mqtt_varint_decode(buf + 1, len - 1, &rem);
        if (n == 0)
            return MQTT_NEED_MORE;
        if (n < 0)
            return n; /* more than 4 bytes [MQTT-2.2.3] */
    }
    size_t total = 1 + (size_t)n + rem;
    if (total > (d->max_packet ? d->max_packet : MAX_TOTAL))
        return ROOST_EPROTO_TOO_LARGE;
    TRY(check_remaining(d, type, rem));
    if (len < total) {
        d->need = (uint32_t)total; /* total <= max_packet < 2^32 */
        return MQTT_NEED_MORE;
    }

    /* The hot path (PUBLISH, then the acks) clears only what it fills. The
     * decoded 5.0 properties are filled (or cleared, for a packet without a
     * list, and by decode_connect) by the 5.0 branches alone, so 3.1.1 pays
     * nothing for them. */
    if (type == MQTT_PUBLISH)
        memset(&out->u.publish, 0, sizeof out->u.publish);
    else
        memset(out, 0, offsetof(mqtt_packet_t, props));
    out->type = (uint8_t)type;
    out->flags = (uint8_t)flags;
    out->remaining = rem;
    rd_t r = {buf + 1 + n, buf + total};
    int rc = decode_body(d, &r, out);
    if (rc == 0 || rc == ROOST_EPROTO_VERSION)
        *consumed = total;
    return rc;
}

void mqtt_topic_iter_init(mqtt_topic_iter_t *it, const mqtt_subscribe_t *s, bool with_options)
{
    it->p = s->list.ptr;
    it->end = s->list.ptr + s->list.len;
    it->with_options = with_options;
}

bool mqtt_topic_iter_next(mqtt_topic_iter_t *it, mqtt_str_t *filter, uint8_t *options)
{
    size_t left = (size_t)(it->end - it->p);
    if (left < 2)
        return false;
    uint32_t n = (uint32_t)(it->p[0] << 8 | it->p[1]);
    if (left < 2 + n + (it->with_options ? 1u : 0u))
        return false; /* not a decoded list; never happens for mqtt_decode output */
    filter->ptr = it->p + 2;
    filter->len = n;
    it->p += 2 + n;
    if (it->with_options) {
        if (options)
            *options = *it->p;
        it->p++;
    }
    return true;
}

const char *mqtt_type_name(uint8_t type)
{
    static const char *const names[16] = {
        NULL,      "CONNECT",  "CONNACK",     "PUBLISH",  "PUBACK",  "PUBREC",
        "PUBREL",  "PUBCOMP",  "SUBSCRIBE",   "SUBACK",   "UNSUBSCRIBE", "UNSUBACK",
        "PINGREQ", "PINGRESP", "DISCONNECT",  "AUTH",
    };
    return (type < 16 && names[type]) ? names[type] : "UNKNOWN";
}

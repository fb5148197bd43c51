/* encode: the MQTT 3.1.1 / 5.0 packet encoders (mqtt.h).
 *
 * Each encoder computes the packet's size first and writes only when the
 * caller's buffer holds it all, so callers can size buffers with cap = 0.
 * Input is our own data: invalid values are asserted, never returned.
 */
#include <assert.h>
#include <string.h>

#include "mqtt/mqtt.h"

size_t mqtt_varint_size(uint32_t v)
{
    return v < 128 ? 1 : v < 16384 ? 2 : v < 2097152 ? 3 : 4;
}

int mqtt_varint_encode(uint32_t value, uint8_t out[4])
{
    assert(value <= MQTT_MAX_REMAINING);
    int n = 0;
    do {
        uint8_t b = value & 0x7F;
        value >>= 7;
        out[n++] = b | (value ? 0x80 : 0);
    } while (value);
    return n;
}

/* ---- encoding ------------------------------------------------------------ */

typedef struct wr {
    uint8_t *p;
} wr_t;

static inline void wr_u8(wr_t *w, uint8_t v) { *w->p++ = v; }

static inline void wr_u16(wr_t *w, uint16_t v)
{
    w->p[0] = (uint8_t)(v >> 8);
    w->p[1] = (uint8_t)v;
    w->p += 2;
}

static inline void wr_bytes(wr_t *w, const void *src, size_t n)
{
    if (n)
        memcpy(w->p, src, n);
    w->p += n;
}

static inline void wr_str(wr_t *w, const mqtt_str_t *s)
{
    assert(s->len <= UINT16_MAX);
    wr_u16(w, (uint16_t)s->len);
    wr_bytes(w, s->ptr, s->len);
}

static inline void wr_varint(wr_t *w, size_t v)
{
    w->p += mqtt_varint_encode((uint32_t)v, w->p);
}

static inline void wr_props(wr_t *w, const mqtt_str_t *props)
{
    if (props->len == 0) { /* the usual 5.0 PUBLISH: Property Length 0 */
        wr_u8(w, 0);
        return;
    }
    wr_varint(w, props->len);
    wr_bytes(w, props->ptr, props->len);
}

static inline size_t props_size(const mqtt_str_t *props)
{
    return props->len ? mqtt_varint_size(props->len) + props->len : 1;
}

/* Total size of a packet with remaining length rem. */
static inline size_t total_size(size_t rem)
{
    assert(rem <= MQTT_MAX_REMAINING);
    return 1 + mqtt_varint_size((uint32_t)rem) + rem;
}

static inline void wr_header(wr_t *w, uint8_t type, uint8_t flags, size_t rem)
{
    wr_u8(w, (uint8_t)(type << 4 | flags));
    wr_varint(w, rem);
}

size_t mqtt_encode_connect(uint8_t *buf, size_t cap, const mqtt_connect_t *c)
{
    bool v5 = c->version == MQTT_V5;
    static const uint8_t mqtt[] = "MQTT", isdp[] = "MQIsdp";
    mqtt_str_t name = c->protocol_name;
    if (name.len == 0)
        name = c->version == MQTT_V31 ? (mqtt_str_t){isdp, 6} : (mqtt_str_t){mqtt, 4};
    assert(c->will_qos <= 2);
    assert(c->will || (c->will_qos == 0 && !c->will_retain));
    assert(v5 || c->has_username || !c->has_password);

    size_t rem = 2 + name.len + 4 + 2 + c->client_id.len;
    if (v5)
        rem += props_size(&c->props);
    if (c->will)
        rem += (v5 ? props_size(&c->will_props) : 0) + 4 + c->will_topic.len +
               c->will_payload.len;
    if (c->has_username)
        rem += 2 + c->username.len;
    if (c->has_password)
        rem += 2 + c->password.len;
    size_t total = total_size(rem);
    if (cap < total)
        return total;

    uint8_t fl = (uint8_t)((c->clean_session ? 0x02 : 0) | (c->will ? 0x04 : 0) |
                           c->will_qos << 3 | (c->will_retain ? 0x20 : 0) |
                           (c->has_password ? 0x40 : 0) | (c->has_username ? 0x80 : 0));
    wr_t w = {buf};
    wr_header(&w, MQTT_CONNECT, 0, rem);
    wr_str(&w, &name);
    wr_u8(&w, c->version);
    wr_u8(&w, fl);
    wr_u16(&w, c->keepalive);
    if (v5)
        wr_props(&w, &c->props);
    wr_str(&w, &c->client_id);
    if (c->will) {
        if (v5)
            wr_props(&w, &c->will_props);
        wr_str(&w, &c->will_topic);
        wr_str(&w, &c->will_payload);
    }
    if (c->has_username)
        wr_str(&w, &c->username);
    if (c->has_password)
        wr_str(&w, &c->password);
    assert(w.p == buf + total);
    return total;
}

size_t mqtt_encode_connack(uint8_t *buf, size_t cap, uint8_t version, bool session_present,
                           uint8_t rc)
{
    static const mqtt_str_t none = {NULL, 0};
    if (version == MQTT_V5)
        return mqtt_encode_connack_v5(buf, cap, session_present, rc, none);
    assert(!(session_present && rc));
    if (cap < 4)
        return 4;
    wr_t w = {buf};
    wr_header(&w, MQTT_CONNACK, 0, 2);
    wr_u8(&w, session_present ? 1 : 0);
    wr_u8(&w, rc);
    return 4;
}

size_t mqtt_encode_connack_v5(uint8_t *buf, size_t cap, bool session_present, uint8_t rc,
                              mqtt_str_t props)
{
    assert(!(session_present && rc));
    size_t rem = 2 + props_size(&props), total = total_size(rem);
    if (cap < total)
        return total;
    wr_t w = {buf};
    wr_header(&w, MQTT_CONNACK, 0, rem);
    wr_u8(&w, session_present ? 1 : 0);
    wr_u8(&w, rc);
    wr_props(&w, &props);
    return total;
}

/* Remaining length of a PUBLISH, payload included. */
static size_t publish_remaining(uint8_t version, const mqtt_publish_t *p)
{
    assert(p->qos <= 2);
    assert(p->qos || (!p->dup && p->packet_id == 0));
    assert(!p->qos || p->packet_id);
    assert(p->topic.len || version == MQTT_V5);
    return 2 + p->topic.len + (p->qos ? 2 : 0) +
           (version == MQTT_V5 ? props_size(&p->props) : 0) + p->payload.len;
}

/* (inlined into its two callers: every PUBLISH a broker sends is encoded
 * here) */
static inline __attribute__((always_inline)) void
write_publish_header(uint8_t *buf, uint8_t version, const mqtt_publish_t *p, size_t rem)
{
    wr_t w = {buf};
    wr_header(&w, MQTT_PUBLISH,
              (uint8_t)((p->dup ? 0x08 : 0) | p->qos << 1 | (p->retain ? 0x01 : 0)), rem);
    wr_str(&w, &p->topic);
    if (p->qos)
        wr_u16(&w, p->packet_id);
    if (version == MQTT_V5)
        wr_props(&w, &p->props);
}

size_t mqtt_encode_publish(uint8_t *buf, size_t cap, uint8_t version, const mqtt_publish_t *p)
{
    size_t rem = publish_remaining(version, p), total = total_size(rem);
    if (cap < total)
        return total;
    write_publish_header(buf, version, p, rem);
    if (p->payload.len)
        memcpy(buf + total - p->payload.len, p->payload.ptr, p->payload.len);
    return total;
}

size_t mqtt_encode_publish_header(uint8_t *buf, size_t cap, uint8_t version,
                                  const mqtt_publish_t *p)
{
    size_t rem = publish_remaining(version, p), hdr = total_size(rem) - p->payload.len;
    if (cap < hdr)
        return hdr;
    write_publish_header(buf, version, p, rem);
    return hdr;
}

/* Always inlined into its callers so that the 3.1.1 ones, which pass no
 * properties (props NULL), compile to what they were before 5.0. */
#define SPECIALIZED static inline __attribute__((always_inline))

/* PUBACK..PUBCOMP; props NULL: 3.1.1. 3.4.2.1: the reason code may be left
 * out when it is 0x00 and there are no properties; the property length
 * when there are none. */
SPECIALIZED size_t encode_ack(uint8_t *buf, size_t cap, uint8_t type, uint16_t packet_id,
                              uint8_t rc, const mqtt_str_t *props)
{
    assert(type >= MQTT_PUBACK && type <= MQTT_PUBCOMP);
    assert(packet_id != 0);
    bool with_props = props && props->len;
    size_t rem = with_props ? 3 + props_size(props) : rc ? 3 : 2, total = total_size(rem);
    if (cap < total)
        return total;
    wr_t w = {buf};
    wr_header(&w, type, type == MQTT_PUBREL ? 2 : 0, rem);
    wr_u16(&w, packet_id);
    if (rem > 2)
        wr_u8(&w, rc);
    if (with_props)
        wr_props(&w, props);
    return total;
}

size_t mqtt_encode_ack(uint8_t *buf, size_t cap, uint8_t version, uint8_t type,
                       uint16_t packet_id, uint8_t rc)
{
    assert(version == MQTT_V5 || rc == 0);
    return encode_ack(buf, cap, type, packet_id, rc, NULL);
}

size_t mqtt_encode_ack_v5(uint8_t *buf, size_t cap, uint8_t type, uint16_t packet_id,
                          uint8_t rc, mqtt_str_t props)
{
    /* without properties, the same bytes as the specialized props-NULL
     * form: a reason code alone (remaining length 3, no Property Length,
     * 3.4.2.2.1), or nothing after the packet id for 0x00 */
    return props.len ? encode_ack(buf, cap, type, packet_id, rc, &props)
                     : encode_ack(buf, cap, type, packet_id, rc, NULL);
}

/* SUBSCRIBE (options != NULL) and UNSUBSCRIBE; props != NULL: 5.0. */
static size_t encode_sub(uint8_t *buf, size_t cap, uint8_t type, uint16_t packet_id,
                         const mqtt_str_t *props, const mqtt_str_t *filters,
                         const uint8_t *options, uint32_t count)
{
    assert(packet_id != 0 && count > 0);
    size_t rem = 2 + (props ? props_size(props) : 0);
    for (uint32_t i = 0; i < count; i++) {
        assert(filters[i].len > 0);
        rem += 2 + filters[i].len + (options ? 1 : 0);
    }
    size_t total = total_size(rem);
    if (cap < total)
        return total;
    wr_t w = {buf};
    wr_header(&w, type, 2, rem);
    wr_u16(&w, packet_id);
    if (props)
        wr_props(&w, props);
    for (uint32_t i = 0; i < count; i++) {
        wr_str(&w, &filters[i]);
        if (options)
            wr_u8(&w, options[i]);
    }
    return total;
}

static const mqtt_str_t no_props = {NULL, 0};

size_t mqtt_encode_subscribe(uint8_t *buf, size_t cap, uint8_t version, uint16_t packet_id,
                             const mqtt_str_t *filters, const uint8_t *options, uint32_t count)
{
    assert(options != NULL);
    return encode_sub(buf, cap, MQTT_SUBSCRIBE, packet_id, version == MQTT_V5 ? &no_props : NULL,
                      filters, options, count);
}

size_t mqtt_encode_unsubscribe(uint8_t *buf, size_t cap, uint8_t version, uint16_t packet_id,
                               const mqtt_str_t *filters, uint32_t count)
{
    return encode_sub(buf, cap, MQTT_UNSUBSCRIBE, packet_id,
                      version == MQTT_V5 ? &no_props : NULL, filters, NULL, count);
}

size_t mqtt_encode_subscribe_v5(uint8_t *buf, size_t cap, uint16_t packet_id, mqtt_str_t props,
                                const mqtt_str_t *filters, const uint8_t *options,
                                uint32_t count)
{
    assert(options != NULL);
    return encode_sub(buf, cap, MQTT_SUBSCRIBE, packet_id, &props, filters, options, count);
}

size_t mqtt_encode_unsubscribe_v5(uint8_t *buf, size_t cap, uint16_t packet_id,
                                  mqtt_str_t props, const mqtt_str_t *filters, uint32_t count)
{
    return encode_sub(buf, cap, MQTT_UNSUBSCRIBE, packet_id, &props, filters, NULL, count);
}

/* SUBACK and UNSUBACK: packet id, 5.0 properties (props != NULL), codes
 * (none for a 3.1.1 UNSUBACK). */
SPECIALIZED size_t encode_ack_list(uint8_t *buf, size_t cap, uint8_t type, uint16_t packet_id,
                                   const mqtt_str_t *props, const uint8_t *codes, uint32_t count)
{
    if (type == MQTT_UNSUBACK && !props)
        count = 0;
    else
        assert(count > 0 && codes != NULL);
    assert(packet_id != 0);
    size_t rem = 2 + (props ? props_size(props) : 0) + (size_t)count, total = total_size(rem);
    if (cap < total)
        return total;
    wr_t w = {buf};
    wr_header(&w, type, 0, rem);
    wr_u16(&w, packet_id);
    if (props)
        wr_props(&w, props);
    wr_bytes(&w, codes, count);
    return total;
}

size_t mqtt_encode_suback(uint8_t *buf, size_t cap, uint8_t version, uint16_t packet_id,
                          const uint8_t *codes, uint32_t count)
{
    if (version == MQTT_V5)
        return encode_ack_list(buf, cap, MQTT_SUBACK, packet_id, &no_props, codes, count);
    return encode_ack_list(buf, cap, MQTT_SUBACK, packet_id, NULL, codes, count);
}

size_t mqtt_encode_unsuback(uint8_t *buf, size_t cap, uint8_t version, uint16_t packet_id,
                            const uint8_t *codes, uint32_t count)
{
    if (version == MQTT_V5)
        return encode_ack_list(buf, cap, MQTT_UNSUBACK, packet_id, &no_props, codes, count);
    return encode_ack_list(buf, cap, MQTT_UNSUBACK, packet_id, NULL, codes, count);
}

size_t mqtt_encode_suback_v5(uint8_t *buf, size_t cap, uint16_t packet_id, mqtt_str_t props,
                             const uint8_t *codes, uint32_t count)
{
    return encode_ack_list(buf, cap, MQTT_SUBACK, packet_id, &props, codes, count);
}

size_t mqtt_encode_unsuback_v5(uint8_t *buf, size_t cap, uint16_t packet_id, mqtt_str_t props,
                               const uint8_t *codes, uint32_t count)
{
    return encode_ack_list(buf, cap, MQTT_UNSUBACK, packet_id, &props, codes, count);
}

size_t mqtt_encode_simple(uint8_t *buf, size_t cap, uint8_t type)
{
    assert(type == MQTT_PINGREQ || type == MQTT_PINGRESP || type == MQTT_DISCONNECT);
    if (cap < 2)
        return 2;
    buf[0] = (uint8_t)(type << 4);
    buf[1] = 0;
    return 2;
}

size_t mqtt_encode_disconnect(uint8_t *buf, size_t cap, uint8_t version, uint8_t rc)
{
    assert(version == MQTT_V5 || rc == 0);
    return mqtt_encode_disconnect_v5(buf, cap, rc, no_props);
}

/* 5.0 DISCONNECT and AUTH: reason code and properties, both left out when
 * the code is 0x00 and there are no properties (3.14.2.1, 3.15.2.1); a
 * DISCONNECT may also leave out just the property length, an AUTH may not. */
static size_t encode_reason(uint8_t *buf, size_t cap, uint8_t type, uint8_t rc,
                            const mqtt_str_t *props)
{
    size_t rem = (rc == 0 && props->len == 0)                   ? 0
                 : (props->len || type == MQTT_AUTH)            ? 1 + props_size(props)
                                                                : 1;
    size_t total = total_size(rem);
    if (cap < total)
        return total;
    wr_t w = {buf};
    wr_header(&w, type, 0, rem);
    if (rem > 0)
        wr_u8(&w, rc);
    if (rem > 1)
        wr_props(&w, props);
    return total;
}

size_t mqtt_encode_disconnect_v5(uint8_t *buf, size_t cap, uint8_t rc, mqtt_str_t props)
{
    return encode_reason(buf, cap, MQTT_DISCONNECT, rc, &props);
}

size_t mqtt_encode_auth(uint8_t *buf, size_t cap, uint8_t rc, mqtt_str_t props)
{
    return encode_reason(buf, cap, MQTT_AUTH, rc, &props);
}

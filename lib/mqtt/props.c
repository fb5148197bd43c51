/* props: MQTT 5.0 property lists (props.h).
 *
 * One table (5.0 table 2-4 and the per-packet property sections) gives each
 * identifier its data type, the packets it may appear in, its name and the
 * mqtt_props_t field that holds it; decoding, encoding, iteration and
 * copying all go through it and through one value reader (rd_value), so the
 * wire format of each type is written down once.
 */
#include <assert.h>
#include <stddef.h>
#include <string.h>

#include "mqtt/mqtt.h"
#include "mqtt/props.h"
#include "mqtt/topic.h"
#include "mqtt/wire.h"

#define C(t) (1u << (t))
#define WILL C(MQTT_PROPS_WILL)
#define ACKS (C(MQTT_PUBACK) | C(MQTT_PUBREC) | C(MQTT_PUBREL) | C(MQTT_PUBCOMP))
#define ALL                                                                               \
    (C(MQTT_CONNECT) | C(MQTT_CONNACK) | C(MQTT_PUBLISH) | WILL | ACKS | C(MQTT_SUBSCRIBE) | \
     C(MQTT_SUBACK) | C(MQTT_UNSUBSCRIBE) | C(MQTT_UNSUBACK) | C(MQTT_DISCONNECT) |           \
     C(MQTT_AUTH))
#define FIELD(f) offsetof(mqtt_props_t, f)

typedef struct pdef {
    uint8_t type;      /* enum mqtt_prop_type; MQTT_PT_NONE: not a property */
    uint8_t boolean;   /* a byte whose only values are 0 and 1 */
    uint8_t nonzero;   /* 0 is a Protocol Error */
    uint32_t ctx;      /* C(packet type) | WILL where it may appear */
    uint16_t off;      /* its mqtt_props_t field (0: none, User Property) */
    const char *name;
} pdef_t;

static const pdef_t defs[MQTT_PROP_ID_MAX + 1] = {
    /* 3.3.2.3.2: "It is a Protocol Error to include the Payload Format
     * Indicator more than once"; its values are 0 and 1 (table 2-4). */
    [MQTT_PROP_PAYLOAD_FORMAT] = {MQTT_PT_BYTE, 1, 0, C(MQTT_PUBLISH) | WILL,
                                  FIELD(payload_format), "Payload Format Indicator"},
    [MQTT_PROP_MESSAGE_EXPIRY] = {MQTT_PT_U32, 0, 0, C(MQTT_PUBLISH) | WILL,
                                  FIELD(message_expiry), "Message Expiry Interval"},
    [MQTT_PROP_CONTENT_TYPE] = {MQTT_PT_UTF8, 0, 0, C(MQTT_PUBLISH) | WILL, FIELD(content_type),
                                "Content Type"},
    [MQTT_PROP_RESPONSE_TOPIC] = {MQTT_PT_UTF8, 0, 0, C(MQTT_PUBLISH) | WILL,
                                  FIELD(response_topic), "Response Topic"},
    [MQTT_PROP_CORRELATION_DATA] = {MQTT_PT_BINARY, 0, 0, C(MQTT_PUBLISH) | WILL,
                                    FIELD(correlation_data), "Correlation Data"},
    /* 3.3.2.3.8, 3.8.2.1.2: "It is a Protocol Error if the Subscription
     * Identifier has a value of 0". */
    [MQTT_PROP_SUBSCRIPTION_ID] = {MQTT_PT_VARINT, 0, 1, C(MQTT_PUBLISH) | C(MQTT_SUBSCRIBE),
                                   FIELD(sub_id), "Subscription Identifier"},
    [MQTT_PROP_SESSION_EXPIRY] = {MQTT_PT_U32, 0, 0,
                                  C(MQTT_CONNECT) | C(MQTT_CONNACK) | C(MQTT_DISCONNECT),
                                  FIELD(session_expiry), "Session Expiry Interval"},
    [MQTT_PROP_ASSIGNED_CLIENT_ID] = {MQTT_PT_UTF8, 0, 0, C(MQTT_CONNACK),
                                      FIELD(assigned_client_id), "Assigned Client Identifier"},
    [MQTT_PROP_SERVER_KEEP_ALIVE] = {MQTT_PT_U16, 0, 0, C(MQTT_CONNACK),
                                     FIELD(server_keep_alive), "Server Keep Alive"},
    [MQTT_PROP_AUTH_METHOD] = {MQTT_PT_UTF8, 0, 0, C(MQTT_CONNECT) | C(MQTT_CONNACK) | C(MQTT_AUTH),
                               FIELD(auth_method), "Authentication Method"},
    [MQTT_PROP_AUTH_DATA] = {MQTT_PT_BINARY, 0, 0, C(MQTT_CONNECT) | C(MQTT_CONNACK) | C(MQTT_AUTH),
                             FIELD(auth_data), "Authentication Data"},
    /* 3.1.2.11.7: "It is a Protocol Error to include Request Problem
     * Information more than once, or to have a value other than 0 or 1". */
    [MQTT_PROP_REQUEST_PROBLEM_INFO] = {MQTT_PT_BYTE, 1, 0, C(MQTT_CONNECT),
                                        FIELD(request_problem_info),
                                        "Request Problem Information"},
    [MQTT_PROP_WILL_DELAY] = {MQTT_PT_U32, 0, 0, WILL, FIELD(will_delay), "Will Delay Interval"},
    /* 3.1.2.11.6: the same rule for Request Response Information. */
    [MQTT_PROP_REQUEST_RESPONSE_INFO] = {MQTT_PT_BYTE, 1, 0, C(MQTT_CONNECT),
                                         FIELD(request_response_info),
                                         "Request Response Information"},
    [MQTT_PROP_RESPONSE_INFO] = {MQTT_PT_UTF8, 0, 0, C(MQTT_CONNACK), FIELD(response_info),
                                 "Response Information"},
    [MQTT_PROP_SERVER_REFERENCE] = {MQTT_PT_UTF8, 0, 0, C(MQTT_CONNACK) | C(MQTT_DISCONNECT),
                                    FIELD(server_reference), "Server Reference"},
    [MQTT_PROP_REASON_STRING] = {MQTT_PT_UTF8, 0, 0,
                                 C(MQTT_CONNACK) | ACKS | C(MQTT_SUBACK) | C(MQTT_UNSUBACK) |
                                     C(MQTT_DISCONNECT) | C(MQTT_AUTH),
                                 FIELD(reason_string), "Reason String"},
    /* 3.1.2.11.3, 3.2.2.3.3: "It is a Protocol Error to include the Receive
     * Maximum value more than once or for it to have the value 0". */
    [MQTT_PROP_RECEIVE_MAXIMUM] = {MQTT_PT_U16, 0, 1, C(MQTT_CONNECT) | C(MQTT_CONNACK),
                                   FIELD(receive_maximum), "Receive Maximum"},
    [MQTT_PROP_TOPIC_ALIAS_MAXIMUM] = {MQTT_PT_U16, 0, 0, C(MQTT_CONNECT) | C(MQTT_CONNACK),
                                       FIELD(topic_alias_maximum), "Topic Alias Maximum"},
    /* 3.3.2.3.4: "A Topic Alias of 0 is not permitted" [MQTT-3.3.2-8]. */
    [MQTT_PROP_TOPIC_ALIAS] = {MQTT_PT_U16, 0, 1, C(MQTT_PUBLISH), FIELD(topic_alias),
                               "Topic Alias"},
    /* 3.2.2.3.4: "It is a Protocol Error to include Maximum QoS more than
     * once, or to have a value other than 0 or 1"; 3.2.2.3.5, 3.2.2.3.11-13
     * say the same of the four "Available" bytes. */
    [MQTT_PROP_MAXIMUM_QOS] = {MQTT_PT_BYTE, 1, 0, C(MQTT_CONNACK), FIELD(maximum_qos),
                               "Maximum QoS"},
    [MQTT_PROP_RETAIN_AVAILABLE] = {MQTT_PT_BYTE, 1, 0, C(MQTT_CONNACK), FIELD(retain_available),
                                    "Retain Available"},
    [MQTT_PROP_USER_PROPERTY] = {MQTT_PT_PAIR, 0, 0, ALL, 0, "User Property"},
    /* 3.1.2.11.4, 3.2.2.3.6: "It is a Protocol Error to include the Maximum
     * Packet Size more than once, or for the value to be set to zero". */
    [MQTT_PROP_MAXIMUM_PACKET_SIZE] = {MQTT_PT_U32, 0, 1, C(MQTT_CONNECT) | C(MQTT_CONNACK),
                                       FIELD(max_packet_size), "Maximum Packet Size"},
    [MQTT_PROP_WILDCARD_SUB_AVAILABLE] = {MQTT_PT_BYTE, 1, 0, C(MQTT_CONNACK),
                                          FIELD(wildcard_sub_available),
                                          "Wildcard Subscription Available"},
    [MQTT_PROP_SUB_ID_AVAILABLE] = {MQTT_PT_BYTE, 1, 0, C(MQTT_CONNACK), FIELD(sub_id_available),
                                    "Subscription Identifier Available"},
    [MQTT_PROP_SHARED_SUB_AVAILABLE] = {MQTT_PT_BYTE, 1, 0, C(MQTT_CONNACK),
                                        FIELD(shared_sub_available),
                                        "Shared Subscription Available"},
};

static const pdef_t *def_of(unsigned id)
{
    return (id <= MQTT_PROP_ID_MAX && defs[id].type != MQTT_PT_NONE) ? &defs[id] : NULL;
}

enum mqtt_prop_type mqtt_prop_type(unsigned id)
{
    const pdef_t *d = def_of(id);
    return d ? (enum mqtt_prop_type)d->type : MQTT_PT_NONE;
}

const char *mqtt_prop_name(unsigned id)
{
    const pdef_t *d = def_of(id);
    return d ? d->name : "unknown";
}

bool mqtt_prop_allowed(unsigned id, unsigned ctx)
{
    const pdef_t *d = def_of(id);
    return d && ctx <= MQTT_PROPS_WILL && (d->ctx & C(ctx));
}

/* ---- reading --------------------------------------------------------------- */

static int rd_str(const uint8_t **pp, const uint8_t *end, mqtt_str_t *s)
{
    const uint8_t *p = *pp;
    if (end - p < 2)
        return ROOST_EPROTO_MALFORMED;
    uint32_t n = (uint32_t)(p[0] << 8 | p[1]);
    if ((size_t)(end - p - 2) < n)
        return ROOST_EPROTO_MALFORMED;
    s->ptr = p + 2;
    s->len = n;
    *pp = p + 2 + n;
    return 0;
}

/* Reads the value of one property of type t at *pp into v (num, or str and
 * val) and advances *pp. Checks the encoding only: lengths, UTF-8
 * [MQTT-1.5.4-1,2] (both strings of a pair [MQTT-1.5.7-1]), varints in 1-4
 * bytes and in their minimum number of bytes [MQTT-1.5.5-1]. */
static int rd_value(const uint8_t **pp, const uint8_t *end, unsigned t, mqtt_prop_t *v)
{
    const uint8_t *p = *pp;
    size_t left = (size_t)(end - p);
    switch (t) {
    case MQTT_PT_BYTE:
        if (left < 1)
            return ROOST_EPROTO_MALFORMED;
        v->num = p[0];
        *pp = p + 1;
        return 0;
    case MQTT_PT_U16:
        if (left < 2)
            return ROOST_EPROTO_MALFORMED;
        v->num = (uint32_t)(p[0] << 8 | p[1]);
        *pp = p + 2;
        return 0;
    case MQTT_PT_U32:
        if (left < 4)
            return ROOST_EPROTO_MALFORMED;
        v->num = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        *pp = p + 4;
        return 0;
    case MQTT_PT_VARINT: {
        int k = mqtt_varint_decode(p, left, &v->num);
        if (k <= 0)
            return ROOST_EPROTO_MALFORMED;
        if (!varint_minimal(p, k))
            return ROOST_EPROTO_MALFORMED;
        *pp = p + k;
        return 0;
    }
    case MQTT_PT_BINARY:
        return rd_str(pp, end, &v->str);
    case MQTT_PT_UTF8:
        TRY(rd_str(pp, end, &v->str));
        return mqtt_utf8_check(v->str.ptr, v->str.len);
    case MQTT_PT_PAIR:
        TRY(rd_str(pp, end, &v->str));
        TRY(rd_str(pp, end, &v->val));
        TRY(mqtt_utf8_check(v->str.ptr, v->str.len));
        return mqtt_utf8_check(v->val.ptr, v->val.len);
    default:
        return ROOST_EPROTO_MALFORMED;
    }
}

/* Stores a value in its mqtt_props_t field. */
static void store(mqtt_props_t *o, const pdef_t *d, const mqtt_prop_t *v)
{
    char *f = (char *)o + d->off;
    switch (d->type) {
    case MQTT_PT_BYTE:
        *(uint8_t *)f = (uint8_t)v->num;
        break;
    case MQTT_PT_U16:
        *(uint16_t *)f = (uint16_t)v->num;
        break;
    case MQTT_PT_U32:
    case MQTT_PT_VARINT:
        *(uint32_t *)f = v->num;
        break;
    default:
        *(mqtt_str_t *)f = v->str;
        break;
    }
}

/* Reads a field back into a property (the encoder's view of store). */
static void load(const mqtt_props_t *o, const pdef_t *d, mqtt_prop_t *v)
{
    const char *f = (const char *)o + d->off;
    switch (d->type) {
    case MQTT_PT_BYTE:
        v->num = *(const uint8_t *)f;
        break;
    case MQTT_PT_U16:
        v->num = *(const uint16_t *)f;
        break;
    case MQTT_PT_U32:
    case MQTT_PT_VARINT:
        v->num = *(const uint32_t *)f;
        break;
    default:
        v->str = *(const mqtt_str_t *)f;
        break;
    }
}

/* Rules between the properties of one list, and of direction. */
static int check_list(const mqtt_props_t *o, unsigned ctx, bool from_client)
{
    /* [MQTT-3.3.4-6] "A PUBLISH packet sent from a Client to a Server MUST
     * NOT contain a Subscription Identifier". */
    if (ctx == MQTT_PUBLISH && from_client && mqtt_props_has(o, MQTT_PROP_SUBSCRIPTION_ID))
        return ROOST_EPROTO_PROTOCOL;
    /* [MQTT-3.14.2-2] "The Session Expiry Interval MUST NOT be sent on a
     * DISCONNECT by the Server". */
    if (ctx == MQTT_DISCONNECT && !from_client && mqtt_props_has(o, MQTT_PROP_SESSION_EXPIRY))
        return ROOST_EPROTO_PROTOCOL;
    /* 3.1.2.11.10, 3.2.2.3.18, 3.15.2.2.3: "It is a Protocol Error to include
     * Authentication Data if there is no Authentication Method". */
    if (mqtt_props_has(o, MQTT_PROP_AUTH_DATA) && !mqtt_props_has(o, MQTT_PROP_AUTH_METHOD))
        return ROOST_EPROTO_PROTOCOL;
    return 0;
}

void mqtt_props_clear(mqtt_props_t *out, unsigned ctx)
{
    if (ctx == MQTT_PUBLISH)
        mqtt_props_clear_publish(out);
    else if (ctx >= MQTT_PUBACK && ctx <= MQTT_PUBCOMP)
        mqtt_props_clear_ack(out);
    else
        memset(out, 0, sizeof *out);
}

int mqtt_props_decode(const uint8_t *buf, size_t len, unsigned ctx, bool from_client,
                      mqtt_props_t *out)
{
    mqtt_props_clear(out, ctx);
    out->raw.ptr = buf;
    out->raw.len = (uint32_t)len;
    const uint8_t *p = buf, *end = buf + len;
    while (p < end) {
        unsigned id = *p++;
        /* The identifier is a variable byte integer, but every 5.0 identifier
         * is one byte: a first byte above 0x7F is no property either. */
        const pdef_t *d = def_of(id);
        if (d == NULL || ctx > MQTT_PROPS_WILL || (d->ctx & C(ctx)) == 0) /* 2.2.2.2 */
            return ROOST_EPROTO_MALFORMED;
        mqtt_prop_t v = {.id = (uint8_t)id};
        TRY(rd_value(&p, end, d->type, &v));
        uint64_t bit = MQTT_PROP_BIT(id);
        if (id == MQTT_PROP_USER_PROPERTY) { /* may appear any number of times */
            out->user_count++;
            out->present |= bit;
            continue;
        }
        bool many = id == MQTT_PROP_SUBSCRIPTION_ID && ctx == MQTT_PUBLISH && !from_client;
        if ((out->present & bit) && !many) /* "included more than once" */
            return ROOST_EPROTO_PROTOCOL;
        if (d->boolean && v.num > 1)
            return ROOST_EPROTO_PROTOCOL;
        if (d->nonzero && v.num == 0)
            return ROOST_EPROTO_PROTOCOL;
        /* [MQTT-3.3.2-13,14]: a Response Topic is a topic name, no wildcards. */
        if (id == MQTT_PROP_RESPONSE_TOPIC &&
            topic_check_name((const char *)v.str.ptr, v.str.len) != 0)
            return ROOST_EPROTO_PROTOCOL;
        if (id == MQTT_PROP_SUBSCRIPTION_ID)
            out->sub_id_count++;
        if ((out->present & bit) == 0)
            store(out, d, &v);
        out->present |= bit;
    }
    return check_list(out, ctx, from_client);
}

bool mqtt_props_payload_ok(const mqtt_props_t *p, mqtt_str_t payload)
{
    if (!mqtt_props_has(p, MQTT_PROP_PAYLOAD_FORMAT) || p->payload_format == 0)
        return true;
    return mqtt_utf8_data_ok(payload.ptr, payload.len);
}

/* ---- iteration ----------------------------------------------------------------- */

void mqtt_props_iter_init(mqtt_props_iter_t *it, mqtt_str_t list)
{
    it->p = list.ptr;
    it->end = list.ptr + list.len;
}

bool mqtt_props_iter_next(mqtt_props_iter_t *it, mqtt_prop_t *out)
{
    if (it->p == NULL || it->p >= it->end)
        return false;
    const uint8_t *p = it->p;
    const pdef_t *d = def_of(*p);
    memset(out, 0, sizeof *out);
    out->id = *p++;
    if (d == NULL || rd_value(&p, it->end, d->type, out) != 0) {
        it->p = it->end; /* not a validated list */
        return false;
    }
    it->p = p;
    return true;
}

/* ---- encoding ------------------------------------------------------------------- */

static size_t prop_size(const pdef_t *d, const mqtt_prop_t *p)
{
    switch (d->type) {
    case MQTT_PT_BYTE: return 2;
    case MQTT_PT_U16: return 3;
    case MQTT_PT_U32: return 5;
    case MQTT_PT_VARINT: return 1 + mqtt_varint_size(p->num);
    case MQTT_PT_PAIR: return 5 + (size_t)p->str.len + p->val.len;
    default: return 3 + (size_t)p->str.len;
    }
}

static uint8_t *put_str(uint8_t *w, const mqtt_str_t *s)
{
    assert(s->len <= UINT16_MAX);
    *w++ = (uint8_t)(s->len >> 8);
    *w++ = (uint8_t)s->len;
    if (s->len)
        memcpy(w, s->ptr, s->len);
    return w + s->len;
}

size_t mqtt_prop_encode(uint8_t *buf, size_t cap, const mqtt_prop_t *p)
{
    const pdef_t *d = def_of(p->id);
    assert(d != NULL);
    assert(!d->boolean || p->num <= 1);
    assert(!d->nonzero || p->num != 0);
    size_t n = prop_size(d, p);
    if (cap < n)
        return n;
    uint8_t *w = buf;
    *w++ = p->id;
    switch (d->type) {
    case MQTT_PT_BYTE:
        assert(p->num <= UINT8_MAX);
        *w++ = (uint8_t)p->num;
        break;
    case MQTT_PT_U16:
        assert(p->num <= UINT16_MAX);
        *w++ = (uint8_t)(p->num >> 8);
        *w++ = (uint8_t)p->num;
        break;
    case MQTT_PT_U32:
        for (int s = 24; s >= 0; s -= 8)
            *w++ = (uint8_t)(p->num >> s);
        break;
    case MQTT_PT_VARINT:
        w += mqtt_varint_encode(p->num, w);
        break;
    case MQTT_PT_PAIR:
        w = put_str(w, &p->str);
        w = put_str(w, &p->val);
        break;
    default:
        w = put_str(w, &p->str);
        break;
    }
    assert((size_t)(w - buf) == n);
    return n;
}

size_t mqtt_props_encode(uint8_t *buf, size_t cap, const mqtt_props_t *p)
{
    size_t total = p->extra.len;
    for (unsigned pass = 0; pass < 2; pass++) {
        size_t at = 0;
        for (unsigned id = 1; id <= MQTT_PROP_ID_MAX; id++) {
            const pdef_t *d = def_of(id);
            if (d == NULL || d->off == 0 || !mqtt_props_has(p, (uint8_t)id))
                continue;
            mqtt_prop_t v = {.id = (uint8_t)id};
            load(p, d, &v);
            if (pass == 0)
                total += prop_size(d, &v);
            else
                at += mqtt_prop_encode(buf + at, cap - at, &v);
        }
        if (pass == 0 && cap < total)
            return total;
        if (pass == 1) {
            if (p->extra.len)
                memcpy(buf + at, p->extra.ptr, p->extra.len);
            assert(at + p->extra.len == total);
        }
    }
    return total;
}

size_t mqtt_props_copy(uint8_t *buf, size_t cap, mqtt_str_t list, uint64_t drop)
{
    size_t total = 0;
    mqtt_props_iter_t it;
    mqtt_prop_t v;
    mqtt_props_iter_init(&it, list);
    for (const uint8_t *at = it.p; mqtt_props_iter_next(&it, &v); at = it.p)
        if ((drop & MQTT_PROP_BIT(v.id)) == 0)
            total += (size_t)(it.p - at);
    if (cap < total)
        return total;
    size_t n = 0;
    mqtt_props_iter_init(&it, list);
    for (const uint8_t *at = it.p; mqtt_props_iter_next(&it, &v); at = it.p) {
        if (drop & MQTT_PROP_BIT(v.id))
            continue;
        memcpy(buf + n, at, (size_t)(it.p - at));
        n += (size_t)(it.p - at);
    }
    return n;
}

/* fuzz: roost_mqtt */
/* The MQTT 5.0 packet decoder: the input goes to a server decoder that
 * learns its version from CONNECT, and to server and client decoders already
 * at 5.0. Every packet decoded as 5.0 must carry a decoded property list
 * matching its raw view; it is re-encoded with the 5.0 encoders (the raw
 * property lists passed through) and must decode to the same fields and
 * the same properties. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_mqtt.h"
#include "mqtt/mqtt.h"
#include "mqtt/props.h"
#include "mqtt/reason.h"

static mqtt_str_t raw_props(const mqtt_packet_t *p)
{
    switch (p->type) {
    case MQTT_CONNECT: return p->u.connect.props;
    case MQTT_CONNACK: return p->u.connack.props;
    case MQTT_PUBLISH: return p->u.publish.props;
    case MQTT_SUBSCRIBE:
    case MQTT_UNSUBSCRIBE: return p->u.subscribe.props;
    case MQTT_SUBACK:
    case MQTT_UNSUBACK: return p->u.suback.props;
    case MQTT_PINGREQ:
    case MQTT_PINGRESP: return (mqtt_str_t){NULL, 0};
    default: return p->u.ack.props;
    }
}

/* Encodes p again with the 5.0 encoders; returns the size (buf malloc'd). */
static size_t reencode(const mqtt_packet_t *p, uint8_t **out)
{
    size_t n = 0;
    for (int pass = 0; pass < 2; pass++) {
        uint8_t *b = pass ? *out : NULL;
        size_t cap = pass ? n : 0;
        const mqtt_str_t props = raw_props(p);
        size_t got;
        switch (p->type) {
        case MQTT_CONNECT:
            got = mqtt_encode_connect(b, cap, &p->u.connect);
            break;
        case MQTT_CONNACK:
            got = mqtt_encode_connack_v5(b, cap, p->u.connack.session_present, p->u.connack.rc,
                                         props);
            break;
        case MQTT_PUBLISH:
            got = mqtt_encode_publish(b, cap, MQTT_V5, &p->u.publish);
            break;
        case MQTT_SUBSCRIBE:
        case MQTT_UNSUBSCRIBE: {
            const mqtt_subscribe_t *s = &p->u.subscribe;
            mqtt_str_t *f = malloc(sizeof *f * s->count);
            uint8_t *o = malloc(s->count);
            CHECK(f && o);
            mqtt_topic_iter_t it;
            uint32_t i = 0;
            mqtt_topic_iter_init(&it, s, p->type == MQTT_SUBSCRIBE);
            while (mqtt_topic_iter_next(&it, &f[i], &o[i]))
                i++;
            CHECK(i == s->count);
            got = p->type == MQTT_SUBSCRIBE
                      ? mqtt_encode_subscribe_v5(b, cap, s->packet_id, props, f, o, i)
                      : mqtt_encode_unsubscribe_v5(b, cap, s->packet_id, props, f, i);
            free(f);
            free(o);
            break;
        }
        case MQTT_SUBACK:
            got = mqtt_encode_suback_v5(b, cap, p->u.suback.packet_id, props,
                                        p->u.suback.codes.ptr, p->u.suback.codes.len);
            break;
        case MQTT_UNSUBACK:
            got = mqtt_encode_unsuback_v5(b, cap, p->u.suback.packet_id, props,
                                          p->u.suback.codes.ptr, p->u.suback.codes.len);
            break;
        case MQTT_PINGREQ:
        case MQTT_PINGRESP:
            got = mqtt_encode_simple(b, cap, p->type);
            break;
        case MQTT_DISCONNECT:
            got = mqtt_encode_disconnect_v5(b, cap, p->u.ack.rc, props);
            break;
        case MQTT_AUTH:
            got = mqtt_encode_auth(b, cap, p->u.ack.rc, props);
            break;
        default:
            got = mqtt_encode_ack_v5(b, cap, p->type, p->u.ack.packet_id, p->u.ack.rc, props);
            break;
        }
        if (pass == 0) {
            n = got;
            *out = malloc(n);
            CHECK(*out);
        } else {
            CHECK(got == n);
        }
    }
    return n;
}

static void check_same(const mqtt_packet_t *a, const mqtt_packet_t *b)
{
    CHECK(a->type == b->type && a->flags == b->flags);
    CHECK(props_eq(&a->props, &b->props));
    CHECK(sv_eq(raw_props(a), raw_props(b)));
    switch (a->type) {
    case MQTT_CONNECT:
        CHECK(props_eq(&a->will_props, &b->will_props));
        CHECK(sv_eq(a->u.connect.client_id, b->u.connect.client_id) &&
              sv_eq(a->u.connect.will_topic, b->u.connect.will_topic) &&
              sv_eq(a->u.connect.will_payload, b->u.connect.will_payload) &&
              sv_eq(a->u.connect.username, b->u.connect.username) &&
              sv_eq(a->u.connect.password, b->u.connect.password) &&
              a->u.connect.keepalive == b->u.connect.keepalive);
        break;
    case MQTT_CONNACK:
        CHECK(a->u.connack.rc == b->u.connack.rc &&
              a->u.connack.session_present == b->u.connack.session_present);
        break;
    case MQTT_PUBLISH:
        CHECK(sv_eq(a->u.publish.topic, b->u.publish.topic) &&
              sv_eq(a->u.publish.payload, b->u.publish.payload) &&
              a->u.publish.packet_id == b->u.publish.packet_id);
        break;
    case MQTT_SUBSCRIBE:
    case MQTT_UNSUBSCRIBE:
        CHECK(sv_eq(a->u.subscribe.list, b->u.subscribe.list) &&
              a->u.subscribe.count == b->u.subscribe.count);
        break;
    case MQTT_SUBACK:
    case MQTT_UNSUBACK:
        CHECK(sv_eq(a->u.suback.codes, b->u.suback.codes));
        break;
    case MQTT_PINGREQ:
    case MQTT_PINGRESP:
        break;
    default:
        CHECK(a->u.ack.packet_id == b->u.ack.packet_id && a->u.ack.rc == b->u.ack.rc);
        break;
    }
}

static void check_packet(const mqtt_decoder_t *d, const mqtt_packet_t *p)
{
    mqtt_str_t raw = raw_props(p);
    CHECK(p->props.raw.ptr == raw.ptr && p->props.raw.len == raw.len);
    if (p->type == MQTT_CONNECT)
        CHECK(p->will_props.raw.ptr == p->u.connect.will_props.ptr);
    /* every reason code the decoder let through is one the packet may carry */
    if (p->type == MQTT_CONNACK)
        CHECK(mqtt_reason_valid(MQTT_CONNACK, p->u.connack.rc));
    if (p->type == MQTT_PUBLISH) {
        bool ok = mqtt_props_payload_ok(&p->props, p->u.publish.payload);
        CHECK(ok || (mqtt_props_has(&p->props, MQTT_PROP_PAYLOAD_FORMAT) &&
                     p->props.payload_format == 1));
        /* a payload that passes as a string always passes as character data */
        if (mqtt_utf8_check(p->u.publish.payload.ptr, p->u.publish.payload.len) == 0)
            CHECK(mqtt_utf8_data_ok(p->u.publish.payload.ptr, p->u.publish.payload.len));
    }
    uint8_t *b;
    size_t n = reencode(p, &b);
    mqtt_decoder_t d2;
    mqtt_decoder_init(&d2, 0, d->server);
    d2.version = MQTT_V5;
    mqtt_packet_t q = {0}; /* zeroed as p in LLVMFuzzerTestOneInput */
    size_t used;
    CHECK(mqtt_decode(&d2, b, n, &used, &q) == MQTT_OK && used == n);
    check_same(p, &q);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct {
        bool server;
        uint8_t version;
    } runs[] = {{true, 0}, {true, MQTT_V5}, {false, MQTT_V5}};
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
        mqtt_decoder_t d;
        mqtt_decoder_init(&d, 0, runs[r].server);
        d.version = runs[r].version;
        size_t off = 0;
        while (off < size) {
            /* zeroed: a PUBLISH leaves the property fields a PUBLISH cannot
             * carry as they were (props.h); check_same compares them all */
            mqtt_packet_t p = {0};
            size_t used = 0;
            int rc = mqtt_decode(&d, data + off, size - off, &used, &p);
            if (rc != MQTT_OK) {
                CHECK(rc == MQTT_NEED_MORE || rc < 0);
                break;
            }
            if (d.version == MQTT_V5)
                check_packet(&d, &p);
            off += used;
        }
    }
    return 0;
}

/* fuzz: roost_mqtt */
/* Feeds the input to server and client decoders of every version, walks the
 * filter lists of decoded SUBSCRIBE/UNSUBSCRIBE packets, and re-encodes what
 * the encoders can express, checking decode(encode(x)) == x field by field. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_mqtt.h"
#include "mqtt/mqtt.h"

/* Decodes an encoder's output with a fresh decoder of d's direction and
 * version; it must be one whole valid packet. */
static void redecode(const mqtt_decoder_t *d, uint8_t *buf, size_t n, mqtt_packet_t *out)
{
    mqtt_decoder_t d2;
    size_t used;
    mqtt_decoder_init(&d2, 0, d->server);
    d2.version = d->version;
    CHECK(mqtt_decode(&d2, buf, n, &used, out) == MQTT_OK);
    CHECK(used == n);
}

static void check_publish(const mqtt_decoder_t *d, const mqtt_publish_t *p)
{
    size_t n = mqtt_encode_publish(NULL, 0, d->version, p);
    size_t hn = mqtt_encode_publish_header(NULL, 0, d->version, p);
    CHECK(hn + p->payload.len == n);
    uint8_t *b = malloc(n), *h = malloc(hn);
    CHECK(b && h);
    CHECK(mqtt_encode_publish(b, n, d->version, p) == n);
    CHECK(mqtt_encode_publish_header(h, hn, d->version, p) == hn);
    CHECK(memcmp(b, h, hn) == 0);
    mqtt_packet_t q;
    redecode(d, b, n, &q);
    const mqtt_publish_t *g = &q.u.publish;
    CHECK(q.type == MQTT_PUBLISH && g->qos == p->qos && g->dup == p->dup &&
          g->retain == p->retain && g->packet_id == p->packet_id);
    CHECK(sv_eq(g->topic, p->topic) && sv_eq(g->payload, p->payload) &&
          sv_eq(g->props, p->props));
    free(b);
    free(h);
}

static void check_connect(const mqtt_decoder_t *d, const mqtt_connect_t *c)
{
    size_t n = mqtt_encode_connect(NULL, 0, c);
    uint8_t *b = malloc(n);
    CHECK(b);
    CHECK(mqtt_encode_connect(b, n, c) == n);
    mqtt_packet_t q;
    mqtt_decoder_t d2;
    size_t used;
    mqtt_decoder_init(&d2, 0, true);
    CHECK(mqtt_decode(&d2, b, n, &used, &q) == MQTT_OK && used == n);
    CHECK(d2.version == d->version);
    const mqtt_connect_t *g = &q.u.connect;
    CHECK(g->version == c->version && sv_eq(g->protocol_name, c->protocol_name));
    CHECK(g->clean_session == c->clean_session && g->will == c->will &&
          g->will_qos == c->will_qos && g->will_retain == c->will_retain &&
          g->has_username == c->has_username && g->has_password == c->has_password &&
          g->keepalive == c->keepalive);
    CHECK(sv_eq(g->client_id, c->client_id) && sv_eq(g->will_topic, c->will_topic) &&
          sv_eq(g->will_payload, c->will_payload) && sv_eq(g->username, c->username) &&
          sv_eq(g->password, c->password) && sv_eq(g->props, c->props) &&
          sv_eq(g->will_props, c->will_props));
    free(b);
}

static void check_subscribe(const mqtt_decoder_t *d, const mqtt_packet_t *p)
{
    enum { MAX = 1024 };
    static mqtt_str_t filters[MAX];
    static uint8_t opts[MAX];
    bool with_options = p->type == MQTT_SUBSCRIBE;
    const mqtt_subscribe_t *s = &p->u.subscribe;
    mqtt_topic_iter_t it;
    uint32_t n = 0;
    mqtt_str_t f;
    uint8_t o = 0;
    mqtt_topic_iter_init(&it, s, with_options);
    while (mqtt_topic_iter_next(&it, &f, &o)) {
        CHECK(f.len > 0);
        if (n < MAX) {
            filters[n] = f;
            opts[n] = o;
        }
        n++;
    }
    CHECK(n == s->count && it.p == it.end);
    if (n > MAX || s->props.len)
        return;
    size_t len = with_options
                     ? mqtt_encode_subscribe(NULL, 0, d->version, s->packet_id, filters, opts, n)
                     : mqtt_encode_unsubscribe(NULL, 0, d->version, s->packet_id, filters, n);
    uint8_t *b = malloc(len);
    CHECK(b);
    if (with_options)
        mqtt_encode_subscribe(b, len, d->version, s->packet_id, filters, opts, n);
    else
        mqtt_encode_unsubscribe(b, len, d->version, s->packet_id, filters, n);
    mqtt_packet_t q;
    redecode(d, b, len, &q);
    CHECK(q.type == p->type && q.u.subscribe.packet_id == s->packet_id &&
          q.u.subscribe.count == n && sv_eq(q.u.subscribe.list, s->list));
    free(b);
}

static void check_ack(const mqtt_decoder_t *d, const mqtt_packet_t *p)
{
    const mqtt_ack_t *a = &p->u.ack;
    if (a->props.len)
        return; /* the ack encoders write no properties */
    uint8_t b[8];
    size_t n;
    if (p->type == MQTT_DISCONNECT)
        n = mqtt_encode_disconnect(b, sizeof b, d->version, a->rc);
    else if (p->type == MQTT_AUTH)
        return;
    else
        n = mqtt_encode_ack(b, sizeof b, d->version, p->type, a->packet_id, a->rc);
    mqtt_packet_t q;
    redecode(d, b, n, &q);
    CHECK(q.type == p->type && q.u.ack.packet_id == a->packet_id && q.u.ack.rc == a->rc);
}

static void check_suback(const mqtt_decoder_t *d, const mqtt_packet_t *p)
{
    const mqtt_suback_t *s = &p->u.suback;
    if (s->props.len)
        return;
    uint8_t *b = malloc(s->codes.len + 16);
    CHECK(b);
    size_t n = p->type == MQTT_SUBACK
                   ? mqtt_encode_suback(b, s->codes.len + 16, d->version, s->packet_id,
                                        s->codes.ptr, s->codes.len)
                   : mqtt_encode_unsuback(b, s->codes.len + 16, d->version, s->packet_id,
                                          s->codes.ptr, s->codes.len);
    mqtt_packet_t q;
    redecode(d, b, n, &q);
    CHECK(q.type == p->type && q.u.suback.packet_id == s->packet_id &&
          sv_eq(q.u.suback.codes, s->codes));
    free(b);
}

static void check_packet(const mqtt_decoder_t *d, const mqtt_packet_t *p)
{
    switch (p->type) {
    case MQTT_CONNECT:
        check_connect(d, &p->u.connect);
        break;
    case MQTT_CONNACK:
        if (p->u.connack.props.len == 0) {
            uint8_t b[8];
            size_t n = mqtt_encode_connack(b, sizeof b, d->version, p->u.connack.session_present,
                                           p->u.connack.rc);
            mqtt_packet_t q;
            redecode(d, b, n, &q);
            CHECK(q.u.connack.session_present == p->u.connack.session_present &&
                  q.u.connack.rc == p->u.connack.rc);
        }
        break;
    case MQTT_PUBLISH:
        check_publish(d, &p->u.publish);
        break;
    case MQTT_SUBSCRIBE:
    case MQTT_UNSUBSCRIBE:
        check_subscribe(d, p);
        break;
    case MQTT_SUBACK:
    case MQTT_UNSUBACK:
        check_suback(d, p);
        break;
    case MQTT_PINGREQ:
    case MQTT_PINGRESP:
        CHECK(p->remaining == 0);
        break;
    default: /* PUBACK..PUBCOMP, DISCONNECT, AUTH */
        check_ack(d, p);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t versions[] = {0, MQTT_V31, MQTT_V311, MQTT_V5};
    for (int server = 0; server < 2; server++) {
        for (size_t v = 0; v < sizeof versions; v++) {
            mqtt_decoder_t d;
            mqtt_decoder_init(&d, size & 1 ? 64 : 0, server);
            d.version = versions[v];
            size_t off = 0;
            while (off < size) {
                mqtt_packet_t p;
                size_t used = 0;
                int rc = mqtt_decode(&d, data + off, size - off, &used, &p);
                if (rc == MQTT_NEED_MORE) {
                    CHECK(used == 0 && (d.need == 0 || d.need > size - off));
                    break;
                }
                if (rc != MQTT_OK) {
                    CHECK(rc < 0);
                    break;
                }
                CHECK(used >= 2 && used <= size - off && used <= d.max_packet);
                check_packet(&d, &p);
                off += used;
            }
        }
    }
    return 0;
}

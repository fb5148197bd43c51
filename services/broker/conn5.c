/* conn5: the MQTT 5.0 side of a connection (conn5.h). */
#include "conn5.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "mqtt/reason.h"
#include "session.h"

/* What this broker supports, as CONNACK says it (3.2.2.3): a capability
 * whose property is absent defaults to "available", so only the missing
 * ones are sent. Shared Subscriptions (shared.h) unless
 * --disable-shared-subscriptions. */
#define CONN5_SUB_ID_AVAILABLE 1

int conn5_open(conn_t *c, const mqtt_props_t *p)
{
    conn5_t *v = calloc(1, sizeof(*v));
    if (!v)
        return -ENOMEM;
    c->v5 = v;
    /* 3.1.2.11.2: absent means 0, the session ends with the connection;
     * 0xFFFFFFFF means it never expires */
    v->session_expiry = p->session_expiry;
    v->receive_max = mqtt_props_has(p, MQTT_PROP_RECEIVE_MAXIMUM) ? p->receive_maximum : 65535;
    v->max_packet =
        mqtt_props_has(p, MQTT_PROP_MAXIMUM_PACKET_SIZE) ? p->max_packet_size : UINT32_MAX;
    v->alias_out_max = p->topic_alias_maximum < CONN5_ALIAS_OUT_MAX ? p->topic_alias_maximum
                                                                    : CONN5_ALIAS_OUT_MAX;
    v->problem_info = !mqtt_props_has(p, MQTT_PROP_REQUEST_PROBLEM_INFO) ||
                      p->request_problem_info == 1;
    /* 3.1.2.11.9 / 4.12: enhanced authentication is not offered; a CONNECT
     * naming a method is refused with 0x8C and closed [MQTT-4.12.0-1] */
    if (mqtt_props_has(p, MQTT_PROP_AUTH_METHOD))
        return ROOST_EAUTH_METHOD;
    return 0;
}

void conn5_free(conn_t *c)
{
    conn5_t *v = c->v5;
    if (!v)
        return;
    for (size_t i = 0; i < CONN5_TOPIC_ALIAS_MAX; i++)
        free(v->aliases[i]);
    for (size_t i = 0; i < CONN5_ALIAS_OUT_MAX; i++)
        free(v->aliases_out[i]);
    free(v);
    c->v5 = NULL;
}

/* Encodes the list p into buf (cap bytes); its size, or 0 when it does
 * not fit (our own lists always fit the buffers used here). */
static size_t encode_props(uint8_t *buf, size_t cap, const mqtt_props_t *p)
{
    size_t n = mqtt_props_encode(buf, cap, p);
    return n <= cap ? n : 0;
}

int conn5_connack(conn_t *c, bool session_present, const char *assigned, size_t assigned_len)
{
    const broker_config_t *cfg = c->b->cfg;
    mqtt_props_t p = {0};
    /* [MQTT-3.2.2-9]..: QoS 2 and retained messages are supported (absent
     * Maximum QoS and Retain Available mean so); the packet size we accept */
    p.present |= MQTT_PROP_BIT(MQTT_PROP_RECEIVE_MAXIMUM); /* 3.2.2.3.3 */
    p.receive_maximum = (uint16_t)cfg->receive_maximum;
    p.present |= MQTT_PROP_BIT(MQTT_PROP_MAXIMUM_PACKET_SIZE);
    p.max_packet_size = (uint32_t)cfg->max_packet_size;
    p.present |= MQTT_PROP_BIT(MQTT_PROP_TOPIC_ALIAS_MAXIMUM);
    p.topic_alias_maximum = CONN5_TOPIC_ALIAS_MAX;
    p.present |= MQTT_PROP_BIT(MQTT_PROP_SUB_ID_AVAILABLE);
    p.sub_id_available = CONN5_SUB_ID_AVAILABLE;
    p.present |= MQTT_PROP_BIT(MQTT_PROP_SHARED_SUB_AVAILABLE);
    p.shared_sub_available = cfg->no_shared_subs ? 0 : 1;
    if (c->v5->server_keepalive) {
        /* 3.2.2.3.14: the client MUST use this value [MQTT-3.2.2-21] */
        p.present |= MQTT_PROP_BIT(MQTT_PROP_SERVER_KEEP_ALIVE);
        p.server_keep_alive = c->v5->server_keepalive;
    }
    if (c->v5->expiry_capped) {
        /* 3.2.2.3.2: the server says so when it uses another value */
        p.present |= MQTT_PROP_BIT(MQTT_PROP_SESSION_EXPIRY);
        p.session_expiry = c->v5->session_expiry;
    }
    if (assigned) {
        /* [MQTT-3.2.2-16] */
        p.present |= MQTT_PROP_BIT(MQTT_PROP_ASSIGNED_CLIENT_ID);
        p.assigned_client_id = (mqtt_str_t){(const uint8_t *)assigned, (uint32_t)assigned_len};
    }
    uint8_t props[512], tmp[600];
    size_t np = encode_props(props, sizeof(props), &p);
    size_t n = mqtt_encode_connack_v5(tmp, sizeof(tmp), session_present, MQTT_RC_SUCCESS,
                                      (mqtt_str_t){props, (uint32_t)np});
    return conn_write(c, tmp, n);
}

/* A Reason String property list for reason, into buf; empty when the
 * client did not allow problem information (3.1.2.11.7), or when the
 * packet (base bytes without it) would exceed the client's Maximum Packet
 * Size [MQTT-3.2.2-19], [MQTT-3.14.2-3]. */
static mqtt_str_t reason_props(const conn_t *c, const char *reason, uint8_t *buf, size_t cap,
                               size_t base)
{
    mqtt_str_t none = {NULL, 0};
    if (!reason || !c->v5 || !c->v5->problem_info)
        return none;
    mqtt_props_t p = {0};
    p.present = MQTT_PROP_BIT(MQTT_PROP_REASON_STRING);
    p.reason_string = (mqtt_str_t){(const uint8_t *)reason, (uint32_t)strlen(reason)};
    size_t n = encode_props(buf, cap, &p);
    if (n == 0 || base + n + 4 > c->v5->max_packet)
        return none;
    return (mqtt_str_t){buf, (uint32_t)n};
}

mqtt_str_t conn5_ack_reason(const conn_t *c, uint8_t type, uint8_t rc, uint8_t *buf, size_t cap)
{
    mqtt_str_t none = {NULL, 0};
    /* a PUBACK..PUBCOMP header, packet id, reason code, property length */
    return rc >= 0x80 ? reason_props(c, mqtt_reason_name(type, rc), buf, cap, 5) : none;
}

int conn5_connack_refuse(conn_t *c, uint8_t rc, const char *reason)
{
    uint8_t props[300], tmp[320];
    mqtt_str_t rp = reason_props(c, reason, props, sizeof(props), 5);
    size_t n = mqtt_encode_connack_v5(tmp, sizeof(tmp), false, rc, rp);
    return conn_write(c, tmp, n);
}

void conn_disconnect(conn_t *c, uint8_t rc, const char *reason, const char *close_reason)
{
    if (c->state == CONN_CLOSING)
        return;
    /* only after CONNACK 0: before it the CONNACK carries the reason
     * [MQTT-3.2.0-1] */
    if (c->v5 && c->state == CONN_ACTIVE) {
        uint8_t props[300], tmp[320];
        mqtt_str_t rp = reason_props(c, reason, props, sizeof(props), 4);
        size_t n = mqtt_encode_disconnect_v5(tmp, sizeof(tmp), rc, rp);
        (void)conn_write(c, tmp, n); /* best effort: the connection ends either way */
    }
    conn_close(c, close_reason);
}

int conn5_topic_alias(conn_t *c, mqtt_publish_t *p, const mqtt_props_t *props)
{
    uint16_t a = props->topic_alias;
    /* [MQTT-3.3.2-8] never 0 (the codec refuses it too), [MQTT-3.3.2-9] not
     * above the maximum we sent: DISCONNECT 0x94 (3.3.2.3.4) */
    if (a == 0 || a > CONN5_TOPIC_ALIAS_MAX)
        return ROOST_EPROTO_TOPIC_ALIAS;
    char **slot = &c->v5->aliases[a - 1];
    if (p->topic.len == 0) {
        /* 3.3.2.3.4: an alias the sender never set is a Protocol Error */
        if (!*slot)
            return ROOST_EPROTO_PROTOCOL;
        p->topic = (mqtt_str_t){(const uint8_t *)*slot, c->v5->alias_len[a - 1]};
        return 0;
    }
    char *t = malloc(p->topic.len + 1);
    if (!t)
        return -ENOMEM;
    memcpy(t, p->topic.ptr, p->topic.len);
    t[p->topic.len] = '\0';
    free(*slot);
    *slot = t;
    c->v5->alias_len[a - 1] = (uint16_t)p->topic.len;
    return 0;
}

uint16_t conn5_alias_out(const conn_t *c, const char *topic, size_t len, bool *known)
{
    const conn5_t *v = c->v5;
    *known = false;
    if (!v || !v->alias_out_max || len == 0)
        return 0;
    for (uint16_t i = 0; i < v->alias_out_max; i++) {
        const char *t = v->aliases_out[i];
        if (!t)
            return (uint16_t)(i + 1); /* a free slot: a new mapping */
        if (v->alias_out_len[i] == len && memcmp(t, topic, len) == 0) {
            *known = true;
            return (uint16_t)(i + 1);
        }
    }
    return (uint16_t)(v->alias_out_next + 1); /* all used: replace the oldest */
}

int conn5_alias_commit(conn_t *c, uint16_t alias, const char *topic, size_t len)
{
    conn5_t *v = c->v5;
    char *t = malloc(len + 1);
    if (!t)
        return -ENOMEM;
    memcpy(t, topic, len);
    t[len] = '\0';
    free(v->aliases_out[alias - 1]);
    v->aliases_out[alias - 1] = t;
    v->alias_out_len[alias - 1] = (uint16_t)len;
    if (alias - 1 == v->alias_out_next)
        v->alias_out_next = (uint16_t)(alias % v->alias_out_max);
    return 0;
}

/* conn5: the MQTT 5.0 side of a connection (issue 15, connection part).
 *
 * What a level-5 CONNECT negotiated (the client's Receive Maximum, Maximum
 * Packet Size, Request Problem Information, Session Expiry Interval, Will
 * Delay Interval), the inbound Topic Aliases, the CONNACK properties the
 * broker answers with, and server-sent DISCONNECT with a reason code. A
 * 3.1.1 or 3.1 connection has none of it (conn_t.v5 is NULL): it costs them
 * one pointer.
 *
 * Encoding for the client's level: every packet the broker sends goes
 * through conn.c (conn_send_publish, conn_send_publish_props, conn_send_ack,
 * conn_write of an encoder's output with c->version) or through the
 * functions here; each picks the layout from c->version.
 */
#ifndef ROOST_BROKER_CONN5_H
#define ROOST_BROKER_CONN5_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "config.h"
#include "conn.h"
#include "mqtt/props.h"
#include "session.h"

/* Topic Alias Maximum the broker advertises for aliases a client sends
 * (3.2.2.3.8). */
#define CONN5_TOPIC_ALIAS_MAX 32
/* Aliases the broker itself uses towards a client that allows them (its
 * Topic Alias Maximum, 3.1.2.11.5), at most this many per connection;
 * when all are taken the oldest mapping is replaced (3.3.2.3.4). */
#define CONN5_ALIAS_OUT_MAX 16

typedef struct conn5 {
    uint32_t session_expiry;   /* seconds (3.1.2.11.2); UINT32_MAX: never expires */
    uint32_t will_delay;       /* seconds (3.1.3.2.2) */
    uint32_t will_expiry;      /* the will's Message Expiry Interval, seconds (0: none),
                                  counted from its publication (3.1.3.2.4) */
    uint32_t max_packet;       /* the client's Maximum Packet Size; UINT32_MAX when absent */
    uint16_t receive_max;      /* the client's Receive Maximum; 65535 when absent */
    uint16_t server_keepalive; /* nonzero: the keep-alive the broker imposes (sent in CONNACK) */
    bool problem_info;         /* Request Problem Information (1 when absent) */
    bool assigned_id;          /* the client sent an empty client id: we chose it */
    bool expiry_capped;        /* session_expiry is --session-expiry, not what was asked */
    uint16_t rx_unacked;       /* QoS 1/2 PUBLISHes received and not yet PUBACK/PUBCOMP'd */
    char *aliases[CONN5_TOPIC_ALIAS_MAX]; /* inbound alias -> topic (index alias - 1) */
    uint16_t alias_len[CONN5_TOPIC_ALIAS_MAX]; /* their lengths (a topic is at most
                                                  65535 bytes [MQTT-1.5.4-1]) */
    uint16_t alias_out_max;    /* aliases we may send: min(client's maximum, CONN5_ALIAS_OUT_MAX) */
    uint16_t alias_out_next;   /* the slot a new mapping takes when all are used */
    char *aliases_out[CONN5_ALIAS_OUT_MAX]; /* outbound alias -> topic (index alias - 1) */
    uint16_t alias_out_len[CONN5_ALIAS_OUT_MAX]; /* their lengths */
} conn5_t;

/* A level-5 CONNECT arrived: allocates c->v5 from its properties.
 * 0, -ENOMEM, or ROOST_EAUTH_METHOD when it names an Authentication
 * Method (enhanced authentication is not offered [MQTT-4.12.0-1]). */
int conn5_open(conn_t *c, const mqtt_props_t *props);
/* Frees c->v5 (conn_free). */
void conn5_free(conn_t *c);

/* CONNACK 0x00 for an accepted level-5 CONNECT, with the broker's
 * properties [MQTT-3.2.2-*]; assigned: the client id the broker chose,
 * or NULL. 0 or -ENOMEM. */
int conn5_connack(conn_t *c, bool session_present, const char *assigned, size_t assigned_len);
/* A refusing CONNACK (rc >= 0x80) with a Reason String when the client
 * allows problem information (c->v5 may still be NULL: a CONNECT refused
 * before its properties were read). */
int conn5_connack_refuse(conn_t *c, uint8_t rc, const char *reason);
/* The Reason String property of a refusing acknowledgement (PUBACK..PUBCOMP
 * with a code of 0x80 or more: the code's name, e.g. "Not authorized"), into
 * buf; empty when the client asked for no problem information
 * [MQTT-3.1.2-29] or it would exceed its Maximum Packet Size [MQTT-3.4.2-2]. */
mqtt_str_t conn5_ack_reason(const conn_t *c, uint8_t type, uint8_t rc, uint8_t *buf, size_t cap);

/* Writes a DISCONNECT with reason code rc (and reason as Reason String
 * when the client allows it and the packet stays within its Maximum
 * Packet Size) to a level-5 connection; nothing for 3.1.1. Then closes the
 * connection for close_reason (static). The one way the broker ends a
 * connection with a reason [MQTT-4.13.2-1]. */
void conn_disconnect(conn_t *c, uint8_t rc, const char *reason, const char *close_reason);

/* conn5_publish_in's Topic Alias part, for a PUBLISH carrying one. */
int conn5_topic_alias(conn_t *c, mqtt_publish_t *p, const mqtt_props_t *props);

/* A level-5 PUBLISH from the client, before handle_publish:
 * - its Topic Alias (3.3.2.3.4): a topic with an alias sets the alias, an
 *   empty topic takes the alias's topic; p->topic is rewritten (a view
 *   into c->v5's copy, valid until the alias is set again);
 * - the broker's Receive Maximum (3.2.2.3.3): a QoS 1/2 PUBLISH takes a
 *   slot until its PUBACK / PUBCOMP is sent (conn_send_ack_rc frees it).
 * *resent: a QoS 2 PUBLISH whose packet id is held (sent again before
 * PUBREL), for handle_publish.
 * 0, -ENOMEM, ROOST_EPROTO_TOPIC_ALIAS (alias 0 [MQTT-3.3.2-8] or above
 * our maximum [MQTT-3.3.2-9]: 0x94), ROOST_EPROTO_PROTOCOL (an empty topic
 * with an alias never set: 0x82), ROOST_EPROTO_RECEIVE_MAX (0x93). */
static inline int conn5_publish_in(conn_t *c, mqtt_publish_t *p, const mqtt_props_t *props,
                                   bool *resent)
{
    *resent = false;
    if (mqtt_props_has(props, MQTT_PROP_TOPIC_ALIAS)) {
        int rc = conn5_topic_alias(c, p, props);
        if (rc)
            return rc;
    }
    if (p->qos == 0)
        return 0;
    /* a QoS 2 resend before PUBREL holds the slot it already has (and is
     * not delivered again [MQTT-4.3.3-2]: handle_publish is told) */
    if (p->qos == 2 && c->sess && (*resent = session_rx2_has(c->sess, p->packet_id)))
        return 0;
    /* the client MUST NOT send more QoS 1/2 PUBLISHes unacknowledged than
     * the Receive Maximum we sent [MQTT-3.3.4-7]; more is answered with
     * DISCONNECT 0x93 (3.2.2.3.3) */
    if (c->v5->rx_unacked >= c->b->cfg->receive_maximum)
        return ROOST_EPROTO_RECEIVE_MAX;
    c->v5->rx_unacked++;
    return 0;
}

/* The Topic Alias for a PUBLISH on topic to c (5.0, the client allows
 * aliases): 0 when none is used; *known: the client already has it (the
 * topic may be sent empty). conn5_alias_commit records a new mapping once
 * the PUBLISH carrying it is written. Never above the client's maximum
 * [MQTT-3.3.2-11]; mappings last as long as the connection
 * [MQTT-3.3.2-7]. */
uint16_t conn5_alias_out(const conn_t *c, const char *topic, size_t len, bool *known);
int conn5_alias_commit(conn_t *c, uint16_t alias, const char *topic, size_t len);

#endif

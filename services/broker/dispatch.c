#include "dispatch.h"

#include <errno.h>

#include "base/log.h"
#include "handlers.h"
#include "ratelimit.h"
#include "session.h"

/* The CONNACK code a CONNECT-stage error deserves, or -1 for "close without
 * CONNACK" (a malformed CONNECT [MQTT-3.1.4-1]). */
static int connack_code(int rc)
{
    switch (rc) {
    case ROOST_EPROTO_VERSION: return MQTT_CONNACK_BAD_VERSION;
    case ROOST_EPROTO_CLIENT_ID: return MQTT_CONNACK_ID_REJECTED;
    case ROOST_EAUTH_BAD_CREDENTIALS: return MQTT_CONNACK_BAD_CREDENTIALS;
    case ROOST_EAUTH_NOT_AUTHORIZED:
    case ROOST_EAUTH_THROTTLED: return MQTT_CONNACK_NOT_AUTHORIZED;
    case ROOST_EUNAVAILABLE:
    case ROOST_ETIMEDOUT_AUTHD:
    case ROOST_ELIMIT: return MQTT_CONNACK_UNAVAILABLE;
    default: return -1;
    }
}

/* MQTT 5.0 reason codes for the same outcomes. */
static uint8_t connack_code_v5(int rc)
{
    switch (rc) {
    case ROOST_EPROTO_VERSION: return 0x84;
    case ROOST_EPROTO_CLIENT_ID: return 0x85;
    case ROOST_EAUTH_BAD_CREDENTIALS: return 0x86;
    case ROOST_EAUTH_NOT_AUTHORIZED: return 0x87;
    case ROOST_EAUTH_THROTTLED: return 0x8A;
    case ROOST_ELIMIT: return 0x97;
    default: return 0x88;
    }
}

static const char *reason_name(int rc)
{
    switch (rc) {
    case ROOST_EPROTO_VERSION: return "bad_protocol_version";
    case ROOST_EPROTO_CLIENT_ID: return "client_id_rejected";
    case ROOST_EPROTO_UNEXPECTED: return "unexpected_packet";
    case ROOST_EPROTO_TOO_LARGE: return "packet_too_large";
    case ROOST_EPROTO_NAME: return "bad_protocol_name";
    case ROOST_EPROTO_UTF8: return "bad_utf8";
    case ROOST_EPROTO_TOPIC: return "bad_topic";
    case ROOST_EPROTO_QOS: return "bad_qos";
    case ROOST_EPROTO_PACKET_ID: return "bad_packet_id";
    case ROOST_EPROTO_RESERVED: return "reserved_bits";
    case ROOST_EAUTH_BAD_CREDENTIALS: return "bad_credentials";
    case ROOST_EAUTH_NOT_AUTHORIZED: return "not_authorized";
    case ROOST_EAUTH_THROTTLED: return "throttled";
    case ROOST_EUNAVAILABLE: return "auth_unavailable";
    case ROOST_ETIMEDOUT_AUTHD: return "auth_timeout";
    case ROOST_ELIMIT: return "limit";
    case -ENOMEM: return "out_of_memory";
    default: return "protocol_error";
    }
}

/* Handles a failure: CONNACK when the spec wants one, then close. */
void dispatch_fail(conn_t *c, int rc, uint8_t type)
{
    char peer[64];
    bool connect_stage = c->state == CONN_NEW || c->state == CONN_AUTHING;
    int code = connect_stage ? connack_code(rc) : -1;
    if (code >= 0) {
        uint8_t tmp[8];
        uint8_t v = c->dec.version ? c->dec.version : MQTT_V311;
        size_t n = v == MQTT_V5 ? mqtt_encode_connack(tmp, sizeof(tmp), MQTT_V5, false,
                                                      connack_code_v5(rc))
                                : mqtt_encode_connack(tmp, sizeof(tmp), MQTT_V311, false,
                                                      (uint8_t)code);
        conn_write(c, tmp, n);
        c->b->stats.connack[code]++;
    }
    if (rc <= ROOST_EPROTO_MALFORMED && rc >= ROOST_EPROTO_RESERVED)
        c->b->stats.protocol_errors++;
    if (connect_stage)
        c->graceful = true; /* never accepted: its will must not be published */
    char qid[LOG_QUOTE_CAP];
    log_info("conn_refused", "peer=%s client_id=%s packet=%s rc=%d reason=%s",
             conn_peer(c, peer, sizeof(peer)),
             log_quote(qid, sizeof(qid), c->sess ? c->sess->id : "", c->sess ? c->sess->id_len : 0),
             mqtt_type_name(type), rc, roost_strerror(rc));
    conn_close(c, reason_name(rc));
}

static int handle_one(conn_t *c, const mqtt_packet_t *p)
{
    if (c->state == CONN_NEW && p->type != MQTT_CONNECT)
        return ROOST_EPROTO_UNEXPECTED; /* [MQTT-3.1.0-1] */
    switch (p->type) {
    case MQTT_CONNECT:
        if (c->state != CONN_NEW)
            return ROOST_EPROTO_UNEXPECTED; /* [MQTT-3.1.0-2] */
        return handle_connect(c, &p->u.connect);
    case MQTT_PUBLISH: return handle_publish(c, &p->u.publish);
    case MQTT_PUBACK: return handle_puback(c, &p->u.ack);
    case MQTT_PUBREC: return handle_pubrec(c, &p->u.ack);
    case MQTT_PUBREL: return handle_pubrel(c, &p->u.ack);
    case MQTT_PUBCOMP: return handle_pubcomp(c, &p->u.ack);
    case MQTT_SUBSCRIBE: return handle_subscribe(c, &p->u.subscribe);
    case MQTT_UNSUBSCRIBE: return handle_unsubscribe(c, &p->u.subscribe);
    case MQTT_PINGREQ: {
        uint8_t tmp[2];
        return conn_write(c, tmp, mqtt_encode_simple(tmp, sizeof(tmp), MQTT_PINGRESP));
    }
    case MQTT_DISCONNECT:
        c->graceful = true; /* [MQTT-3.14.4-3]: discard the will */
        conn_close(c, "disconnect");
        return 0;
    default:
        return ROOST_EPROTO_UNEXPECTED;
    }
}

size_t dispatch_input(conn_t *c, const uint8_t *buf, size_t len)
{
    size_t off = 0;
    while (off < len && c->state != CONN_CLOSING && c->state != CONN_AUTHING && !c->paused && !c->rl_held) {
        mqtt_packet_t p;
        size_t used = 0;
        int rc = mqtt_decode(&c->dec, buf + off, len - off, &used, &p);
        if (rc == MQTT_NEED_MORE)
            break;
        if (rc < 0) {
            dispatch_fail(c, rc, (uint8_t)(buf[off] >> 4));
            return len;
        }
        off += used;
        c->last_rx = (uint32_t)loop_now(c->b->loop);
        rc = handle_one(c, &p);
        if (rc < 0) {
            dispatch_fail(c, rc, p.type);
            return len;
        }
        if (p.type == MQTT_PUBLISH && c->state == CONN_ACTIVE)
            ratelimit_charge(c, used);
    }
    return off;
}

#include "dispatch.h"

#include <errno.h>

#include "base/log.h"
#include "conn5.h"
#include "mqtt/reason.h"
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
    case ROOST_EAUTH_BANNED:
    case ROOST_EAUTH_THROTTLED: return MQTT_CONNACK_NOT_AUTHORIZED;
    case ROOST_EUNAVAILABLE:
    case ROOST_ETIMEDOUT_AUTHD:
    case ROOST_ESTORE_UNAVAILABLE:
    case ROOST_ENOT_READY:
    case ROOST_ESUPERSEDED:
    case ROOST_ELIMIT:
    case ROOST_ERATE: return MQTT_CONNACK_UNAVAILABLE;
    default: return -1;
    }
}

/* The 5.0 reason code for an error in a packet of type CONNACK or
 * DISCONNECT: the codec's mapping (reason.h), kept to the codes that
 * packet may carry [MQTT-3.2.2-8], [MQTT-3.14.2-1]. */
static uint8_t reason_v5(uint8_t type, int rc)
{
    uint8_t code = mqtt_reason_from_err(rc);
    return mqtt_reason_valid(type, code) ? code : MQTT_RC_UNSPECIFIED_ERROR;
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
    case ROOST_EPROTO_PROTOCOL: return "protocol_error";
    case ROOST_EPROTO_TOPIC_ALIAS: return "topic_alias_invalid";
    case ROOST_EPROTO_RECEIVE_MAX: return "receive_maximum_exceeded";
    case ROOST_EPROTO_PAYLOAD_FORMAT: return "payload_format_invalid";
    case ROOST_EAUTH_METHOD: return "bad_authentication_method";
    case ROOST_EAUTH_BAD_CREDENTIALS: return "bad_credentials";
    case ROOST_EAUTH_NOT_AUTHORIZED: return "not_authorized";
    case ROOST_EAUTH_THROTTLED: return "throttled";
    case ROOST_EAUTH_BANNED: return "banned";
    case ROOST_EUNAVAILABLE: return "auth_unavailable";
    case ROOST_ETIMEDOUT_AUTHD: return "auth_timeout";
    case ROOST_ESTORE_UNAVAILABLE: return "store_unavailable";
    case ROOST_ENOT_READY: return "index_not_loaded";
    case ROOST_ESUPERSEDED: return "superseded";
    case ROOST_ELIMIT: return "limit";
    case ROOST_ERATE: return "rate";
    case -ENOMEM: return "out_of_memory";
    default: return "protocol_error";
    }
}

/* Handles a failure: CONNACK when the spec wants one (5.0: DISCONNECT
 * with a reason code after CONNACK), then close. */
void dispatch_fail(conn_t *c, int rc, uint8_t type)
{
    char peer[64];
    bool connect_stage = c->state == CONN_NEW || c->state == CONN_AUTHING;
    int code = connect_stage ? connack_code(rc) : -1;
    bool v5 = c->v5 || c->dec.version == MQTT_V5;
    if (connect_stage && v5) {
        /* 5.0 refuses every CONNECT with a CONNACK >= 0x80, malformed ones
         * included [MQTT-3.1.4-1], [MQTT-3.1.4-2], then closes [MQTT-3.2.2-7] */
        conn5_connack_refuse(c, reason_v5(MQTT_CONNACK, rc), roost_strerror(rc));
    } else if (code >= 0) {
        uint8_t tmp[8];
        conn_write(c, tmp, mqtt_encode_connack(tmp, sizeof(tmp), MQTT_V311, false, (uint8_t)code));
    }
    if (code >= 0)
        c->b->stats.connack[code]++;
    if (rc <= ROOST_EPROTO_MALFORMED && rc >= ROOST_EPROTO_PAYLOAD_FORMAT)
        c->b->stats.protocol_errors++;
    if (connect_stage)
        c->graceful = true; /* never accepted: its will must not be published */
    char qid[LOG_QUOTE_CAP];
    log_info("conn_refused", "peer=%s client_id=%s packet=%s rc=%d reason=\"%s\"",
             conn_peer(c, peer, sizeof(peer)),
             log_quote(qid, sizeof(qid), c->sess ? c->sess->id : "", c->sess ? c->sess->id_len : 0),
             mqtt_type_name(type), rc, roost_strerror(rc));
    /* after CONNACK a 5.0 client learns why (4.13.2); 3.1.1 is just closed */
    conn_disconnect(c, reason_v5(MQTT_DISCONNECT, rc), roost_strerror(rc), reason_name(rc));
}

static int handle_one(conn_t *c, const mqtt_packet_t *p)
{
    if (c->state == CONN_NEW && p->type != MQTT_CONNECT)
        return ROOST_EPROTO_UNEXPECTED; /* [MQTT-3.1.0-1] */
    switch (p->type) {
    case MQTT_CONNECT:
        if (c->state != CONN_NEW)
            return ROOST_EPROTO_UNEXPECTED; /* [MQTT-3.1.0-2] */
        return handle_connect(c, p);
    case MQTT_PUBLISH:
        /* (a 5.0 QoS 0 PUBLISH without properties has nothing for conn5:
         * no Topic Alias, no Receive Maximum slot) */
        if (c->v5 && (p->props.present || p->u.publish.qos)) {
            mqtt_publish_t pub = p->u.publish;
            bool resent;
            int rc = conn5_publish_in(c, &pub, &p->props, &resent);
            return rc ? rc : handle_publish(c, &pub, resent);
        }
        return handle_publish(c, &p->u.publish,
                              p->u.publish.qos == 2 && session_rx2_has(c->sess, p->u.publish.packet_id));
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
        return handle_disconnect(c, p);
    default:
        return ROOST_EPROTO_UNEXPECTED;
    }
}

size_t dispatch_input(conn_t *c, const uint8_t *buf, size_t len)
{
    size_t off = 0;
    uint32_t now = (uint32_t)loop_now(c->b->loop); /* (the same for every packet here) */
    /* (callers do not feed a connection whose reads the rate limit holds:
     * only a PUBLISH's charge below holds it, and that stops the loop) */
    while (off < len && c->state != CONN_CLOSING && c->state != CONN_AUTHING && !c->paused) {
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
        c->last_rx = now;
        rc = handle_one(c, &p);
        if (rc < 0) {
            dispatch_fail(c, rc, p.type);
            return len;
        }
        if (p.type == MQTT_PUBLISH && ratelimit_charge(c, used))
            break; /* held: the rest waits in the input buffer */
    }
    return off;
}

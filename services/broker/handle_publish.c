/* PUBLISH and the acknowledgements of both QoS flows. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/proc.h"
#include "cluster.h"
#include "conn5.h"
#include "handlers.h"
#include "mqtt/reason.h"
#include "msgprops.h"
#include "pipeline.h"
#include "store/sstore.h"
#include "session.h"

static void on_store_done(int rc, void *arg)
{
    broker_t *b = arg;
    if (rc)
        b->stats.store_failures++;
}

/* Forgets an inbound QoS 2 packet id, here and in Redis; true if it was
 * held. At PUBREL; and for a QoS 2 PUBLISH whose durable writes failed: it
 * was not routed and gets no PUBREC, so its id must not stay recorded (in
 * Redis the write of it may have gone through while another did not, or
 * WAIT found too few replicas), or the client's resend, here or on the
 * broker that resumes the session, would be taken for a copy already
 * delivered and the message lost. Redis is written only for an id held
 * here: the set holds every id Redis has for the session (session_restore
 * reads them back on resume), so a PUBREL for another id costs no write. */
static bool forget_rx2(conn_t *c, uint16_t pid)
{
    session_t *s = c->sess;
    if (!session_rx2_release(s, pid))
        return false;
    if (c->b->cluster && !s->clean)
        sstore_rx2_del(cluster_store(c->b->cluster), s->id, s->id_len, pid, on_store_done, c->b);
    return true;
}

/* The acknowledgement of a message that is through (rc PIPE_DONE or
 * PIPE_NO_SUBSCRIBERS; none for QoS 0). A 5.0 publisher whose message no
 * subscription matched (where that is certain: pipeline.h) gets 0x10 No
 * matching subscribers instead of 0x00 (3.4.2.1, 3.5.2.1). */
static inline void acknowledge(conn_t *c, pipe_ack_t ack, int rc)
{
    if (!ack.qos)
        return;
    if (rc == PIPE_NO_SUBSCRIBERS && c->version == MQTT_V5 && !ack.reason)
        ack.reason = MQTT_RC_NO_MATCHING_SUBSCRIBERS;
    if (conn_send_ack_rc(c, ack.qos == 1 ? MQTT_PUBACK : MQTT_PUBREC, ack.pid, ack.reason) < 0)
        conn_close(c, "out_of_memory");
}

/* The pipeline's completion (after PIPE_PENDING): the acknowledgement, or
 * the close when Redis failed. */
static void ack_or_close(conn_t *c, pipe_ack_t ack, int rc)
{
    if (rc < 0)
        conn_disconnect(c, MQTT_RC_SERVER_BUSY, "store unavailable", "store_unavailable");
    else
        acknowledge(c, ack, rc);
}

/* The completion for a client PUBLISH; a QoS 2 one whose writes failed
 * forgets its id (forget_rx2). */
static void on_published(conn_t *c, pipe_ack_t ack, int rc)
{
    if (rc < 0 && ack.qos == 2 && !ack.reason)
        forget_rx2(c, ack.pid);
    ack_or_close(c, ack, rc);
}

/* Turns the pipeline's answer into the handler's: a message through at
 * once is acknowledged here (after PIPE_PENDING the pipeline calls
 * from->done); Redis down closes the connection (no acknowledgement: the
 * client sends it again elsewhere). */
static inline int published(conn_t *c, const pipe_msg_t *m, const pipe_origin_t *from, int rc)
{
    if (rc == PIPE_PENDING)
        return 0;
    if (rc >= 0) {
        acknowledge(c, (pipe_ack_t){from->pid, m->parts.qos, from->reason}, rc);
        return 0;
    }
    if (rc == ROOST_EUNAVAILABLE) {
        conn_disconnect(c, MQTT_RC_SERVER_BUSY, "store unavailable", "store_unavailable");
        return 0;
    }
    return rc;
}

/* A QoS 2 PUBLISH resent before PUBREL: nothing is delivered twice
 * [MQTT-4.3.3-2], and PUBREC goes once the first copy's durable writes are
 * done, not before: it takes the pipeline as a refused message (nothing
 * written, routed or forwarded), whose acknowledgement waits behind what is
 * pending for this connection. */
static int resent_qos2(conn_t *c, const mqtt_publish_t *p)
{
    pipe_msg_t m = {
        .source = PIPE_CLIENT,
        .parts = {.topic = (const char *)p->topic.ptr, .topic_len = (uint16_t)p->topic.len, .qos = 2},
    };
    pipe_origin_t from = {
        .conn = c,
        .done = ack_or_close, /* the first copy's completion decides its id */
        .pid = p->packet_id,
        .refused = true,
    };
    return published(c, &m, &from, pipeline_publish(c->b, &m, &from));
}

/* The checked PUBLISH p (refused: by the ACL or as $SYS; reason: the 5.0
 * reason code of a refusal, 0: none) with its 5.0 part (the properties
 * kept and the expiry deadline, NULL/0/0: none) into the pipeline as one
 * record; acknowledged when it is through. */
static inline __attribute__((always_inline)) int publish(conn_t *c, const mqtt_publish_t *p,
                                                         bool refused, uint8_t reason,
                                                         const uint8_t *props, uint32_t props_len,
                                                         uint64_t expiry_ms)
{
    bool rx2 = false;
    if (p->qos == 2 && !reason) {
        /* a PUBREC with a failure code ends the exchange: no PUBREL comes
         * [MQTT-4.3.3-4], so nothing is recorded for it */
        int rc = session_rx2_add(c->sess, p->packet_id);
        if (rc)
            return rc;
        rx2 = !c->sess->clean && c->b->cluster;
    }
    /* (made after the last call above: the inline path reads the record's
     * fields without loading them back) */
    const pipe_msg_t m = {
        .parts = {
            .topic = (const char *)p->topic.ptr,
            .payload = p->payload.ptr,
            .payload_len = p->payload.len,
            .topic_len = (uint16_t)p->topic.len,
            .qos = p->qos,
            .retain = p->retain,
            .props = props,
            .props_len = props_len,
            .expiry_ms = expiry_ms,
        },
        .source = PIPE_CLIENT,
    };
    const pipe_origin_t from = {
        .conn = c,
        .done = on_published,
        .pid = p->packet_id,
        .reason = reason,
        .refused = refused,
        .rx2 = rx2,
    };
    int rc = pipeline_publish(c->b, &m, &from);
    if (rc == ROOST_EUNAVAILABLE && p->qos == 2 && !reason)
        forget_rx2(c, p->packet_id); /* not recorded elsewhere: its resend is new */
    return published(c, &m, &from, rc);
}

/* A PUBLISH with 5.0 properties: its Payload Format Indicator checked, and
 * the properties a message keeps (msg.h) with its expiry deadline. */
static int publish_props(conn_t *c, const mqtt_publish_t *p, bool refused, uint8_t reason)
{
    msgprops_in_t in = {0};
    msgprops_scan(p->props, &in);
    if (!reason && in.utf8 && !mqtt_utf8_data_ok(p->payload.ptr, p->payload.len)) {
        /* 3.3.2.3.2: a receiver MAY check a payload said to be UTF-8 and
         * answer 0x99 Payload format invalid with PUBACK/PUBREC or, as a
         * QoS 0 message has no acknowledgement, with DISCONNECT (4.13) */
        conn_log_denied(c, "payload_format_invalid", "topic", p->topic.ptr, p->topic.len);
        if (p->qos == 0)
            return ROOST_EPROTO_PAYLOAD_FORMAT;
        reason = MQTT_RC_PAYLOAD_FORMAT_INVALID;
        refused = true;
    }
    if (reason)
        return publish(c, p, refused, reason, NULL, 0, 0);
    uint8_t small[256], *heap = NULL;
    uint64_t expiry_ms = msgprops_deadline(&in, proc_wall_ms());
    const uint8_t *props = msgprops_kept(p->props, &in, small, sizeof(small), &heap);
    if (!props)
        return -ENOMEM;
    int rc = publish(c, p, refused, reason, props, (uint32_t)in.keep_len, expiry_ms);
    free(heap);
    return rc;
}

int handle_publish(conn_t *c, const mqtt_publish_t *p, bool resent)
{
    broker_t *b = c->b;
    session_t *s = c->sess;
    b->stats.msgs_in++;
    if (resent)
        return resent_qos2(c, p);
    uint8_t reason = 0;
    /* Clients may not publish into the broker's own $SYS tree; the message is
     * acknowledged and dropped, as Mosquitto does. */
    bool refused = p->topic.len >= 5 && p->topic.ptr[0] == '$' && memcmp(p->topic.ptr, "$SYS/", 5) == 0;
    if (s->acl && !acl_check_publish(s->acl, (const char *)p->topic.ptr, p->topic.len)) {
        /* 3.1.1 has no way to refuse a PUBLISH: acknowledge it and drop it;
         * 5.0 refuses it with 0x87 Not authorized (3.4.2.1, 3.5.2.1) */
        b->stats.denied_publish++;
        conn_log_denied(c, "publish_denied", "topic", p->topic.ptr, p->topic.len);
        refused = true;
        if (c->version == MQTT_V5)
            reason = MQTT_RC_NOT_AUTHORIZED;
    }
    if (p->props.len)
        return publish_props(c, p, refused, reason);
    return publish(c, p, refused, reason, NULL, 0, 0);
}

int handle_pubrel(conn_t *c, const mqtt_ack_t *p)
{
    /* 5.0: a PUBREL for an id we do not hold is answered 0x92 Packet
     * Identifier not found (3.7.2.1) */
    uint8_t reason = forget_rx2(c, p->packet_id) ? MQTT_RC_SUCCESS : MQTT_RC_PACKET_ID_NOT_FOUND;
    return conn_send_ack_rc(c, MQTT_PUBCOMP, p->packet_id, reason);
}

static void unknown_pid(conn_t *c, const char *packet, uint16_t pid)
{
    char qid[LOG_QUOTE_CAP];
    log_debug("unknown_packet_id", "client_id=%s packet=%s pid=%u",
              log_quote(qid, sizeof(qid), c->sess->id, c->sess->id_len), packet, pid);
}

int handle_puback(conn_t *c, const mqtt_ack_t *p)
{
    if (session_on_puback(c->b, c->sess, p->packet_id) < 0)
        unknown_pid(c, "PUBACK", p->packet_id);
    return 0;
}

int handle_pubrec(conn_t *c, const mqtt_ack_t *p)
{
    if (c->version == MQTT_V5 && p->rc >= 0x80) { /* refused: no PUBREL [MQTT-4.3.3-4] */
        if (session_on_pubrec_refused(c->b, c->sess, p->packet_id) < 0)
            unknown_pid(c, "PUBREC", p->packet_id);
        return 0;
    }
    if (session_on_pubrec(c->b, c->sess, p->packet_id) < 0)
        unknown_pid(c, "PUBREC", p->packet_id);
    return 0;
}

int handle_pubcomp(conn_t *c, const mqtt_ack_t *p)
{
    if (session_on_pubcomp(c->b, c->sess, p->packet_id) < 0)
        unknown_pid(c, "PUBCOMP", p->packet_id);
    return 0;
}

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
 * delivered and the message lost. */
static bool forget_rx2(conn_t *c, uint16_t pid)
{
    session_t *s = c->sess;
    bool held = session_rx2_release(s, pid);
    if (c->b->cluster && !s->clean)
        sstore_rx2_del(cluster_store(c->b->cluster), s->id, s->id_len, pid, on_store_done, c->b);
    return held;
}

/* The acknowledgement (cookie: reason code << 24 | packet type << 16 |
 * packet id), or the close when Redis failed. */
static void ack_or_close(conn_t *c, uint32_t cookie, int rc)
{
    uint8_t ack = (uint8_t)(cookie >> 16), reason = (uint8_t)(cookie >> 24);
    if (rc < 0)
        conn_disconnect(c, MQTT_RC_SERVER_BUSY, "store unavailable", "store_unavailable");
    else if (ack && conn_send_ack_rc(c, ack, (uint16_t)cookie, reason) < 0)
        conn_close(c, "out_of_memory");
}

/* The pipeline's completion for a client PUBLISH. A 5.0 publisher whose
 * message no subscription matched (where that is certain: pipeline.h)
 * gets 0x10 No matching subscribers instead of 0x00 (3.4.2.1, 3.5.2.1). */
static void on_published(conn_t *c, uint32_t cookie, int rc)
{
    if (rc < 0 && (uint8_t)(cookie >> 16) == MQTT_PUBREC && !(cookie >> 24))
        forget_rx2(c, (uint16_t)cookie);
    if (rc == PIPE_NO_SUBSCRIBERS) {
        if (c->version == MQTT_V5 && !(cookie >> 24))
            cookie |= (uint32_t)MQTT_RC_NO_MATCHING_SUBSCRIBERS << 24;
        rc = 0;
    }
    ack_or_close(c, cookie, rc);
}

/* Turns the pipeline's answer into the handler's: Redis down closes the
 * connection (no acknowledgement: the client sends it again elsewhere). */
static int published(conn_t *c, int rc)
{
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
        .topic = (const char *)p->topic.ptr,
        .topic_len = p->topic.len,
        .qos = 2,
    };
    pipe_origin_t from = {
        .conn = c,
        .refused = true,
        .pid = p->packet_id,
        .done = ack_or_close, /* the first copy's completion decides its id */
        .cookie = (uint32_t)MQTT_PUBREC << 16 | p->packet_id,
    };
    return published(c, pipeline_publish(c->b, &m, &from));
}

/* The PUBLISH, checked (reason: MQTT_RC_SUCCESS or why it is refused; sys:
 * into $SYS/, acknowledged and dropped), into the pipeline with its
 * acknowledgement. props/props_len/expiry_ms: the 5.0 part the message
 * keeps (NULL/0/0: none). The commonest message (no 5.0 part) is offered to
 * pipeline_now first with its parts, and the pipe_msg_t and pipe_origin_t
 * are built only when it goes to pipeline_stages. */
static inline __attribute__((always_inline)) int publish(conn_t *c, const mqtt_publish_t *p, uint8_t reason, bool sys,
                          const uint8_t *props, size_t props_len, uint64_t expiry_ms)
{
    broker_t *b = c->b;
    session_t *s = c->sess;
    bool refused_v5 = reason >= 0x80 && c->version == MQTT_V5;
    if (p->qos == 2 && !refused_v5) {
        /* a PUBREC with a failure code ends the exchange: no PUBREL comes
         * [MQTT-4.3.3-4], so nothing is recorded for it */
        int rc = session_rx2_add(s, p->packet_id);
        if (rc)
            return rc;
    }
    uint8_t ack = p->qos == 1 ? MQTT_PUBACK : p->qos == 2 ? MQTT_PUBREC : 0;
    bool refused = reason != MQTT_RC_SUCCESS || sys;
    bool rx2 = p->qos == 2 && !refused_v5 && !s->clean && b->cluster;
    /* QoS 0 on a single node: nothing to answer (no 5.0 reason either: QoS 0
     * has no acknowledgement), and nothing written that could fail */
    pipe_done_fn done = ack || b->cluster ? on_published : NULL;
    uint32_t cookie = (uint32_t)(refused_v5 ? reason : 0) << 24 | (uint32_t)ack << 16 | p->packet_id;
    bool quiet = !ack; /* (a cluster's QoS 0: done only closes on a failed write) */
    int rc = PIPE_NOT_NOW;
    /* 3.1.1 on a single node: nothing is written first and the ack has no
     * reason code, so what pipeline_now routes is acknowledged here at once
     * (what on_published would send: ack_or_close with reason 0) */
    bool direct = ack && !b->cluster && c->version != MQTT_V5;
    if (!props_len && !expiry_ms) {
        rc = pipeline_now(b, c, (const char *)p->topic.ptr, p->topic.len, p->payload.ptr,
                          p->payload.len, p->qos, p->retain, refused, rx2,
                          direct ? NULL : done, cookie, quiet);
        if (direct && rc == 0 && conn_send_ack_rc(c, ack, p->packet_id, 0) < 0)
            conn_close(c, "out_of_memory");
    }
    if (rc == PIPE_NOT_NOW) {
        pipe_msg_t m = {
            .source = PIPE_CLIENT,
            .topic = (const char *)p->topic.ptr,
            .topic_len = p->topic.len,
            .payload = p->payload.ptr,
            .payload_len = p->payload.len,
            .qos = p->qos,
            .retain = p->retain,
            .props = props,
            .props_len = props_len,
            .expiry_ms = expiry_ms,
        };
        pipe_origin_t from = {
            .conn = c,
            .refused = refused,
            .rx2 = rx2,
            .pid = p->packet_id,
            .done = done,
            .cookie = cookie,
            .quiet = quiet,
        };
        rc = pipeline_stages(b, &m, &from);
    }
    if (rc == ROOST_EUNAVAILABLE && p->qos == 2 && !refused_v5)
        forget_rx2(c, p->packet_id);
    return published(c, rc);
}

/* A PUBLISH with 5.0 properties: its Payload Format Indicator checked, and
 * the properties a message keeps (msg.h) with its expiry deadline. */
static int publish_props(conn_t *c, const mqtt_publish_t *p, uint8_t reason, bool sys)
{
    msgprops_in_t in = {0};
    msgprops_scan(p->props, &in);
    if (reason == MQTT_RC_SUCCESS && in.utf8 && !mqtt_utf8_data_ok(p->payload.ptr, p->payload.len)) {
        /* 3.3.2.3.2: a receiver MAY check a payload said to be UTF-8 and
         * answer 0x99 Payload format invalid with PUBACK/PUBREC or, as a
         * QoS 0 message has no acknowledgement, with DISCONNECT (4.13) */
        conn_log_denied(c, "payload_format_invalid", "topic", p->topic.ptr, p->topic.len);
        if (p->qos == 0)
            return ROOST_EPROTO_PAYLOAD_FORMAT;
        reason = MQTT_RC_PAYLOAD_FORMAT_INVALID;
    }
    if (reason != MQTT_RC_SUCCESS)
        return publish(c, p, reason, sys, NULL, 0, 0);
    uint8_t small[256], *heap = NULL;
    uint64_t expiry_ms = msgprops_deadline(&in, proc_wall_ms());
    const uint8_t *props = msgprops_kept(p->props, &in, small, sizeof(small), &heap);
    if (!props)
        return -ENOMEM;
    int rc = publish(c, p, reason, sys, props, in.keep_len, expiry_ms);
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
    uint8_t reason = MQTT_RC_SUCCESS;
    /* Clients may not publish into the broker's own $SYS tree; the message is
     * acknowledged and dropped, as Mosquitto does. */
    bool sys = p->topic.len >= 5 && memcmp(p->topic.ptr, "$SYS/", 5) == 0;
    if (s->acl && !acl_check_publish(s->acl, (const char *)p->topic.ptr, p->topic.len)) {
        /* 3.1.1 has no way to refuse a PUBLISH: acknowledge it and drop it;
         * 5.0 refuses it with 0x87 Not authorized (3.4.2.1, 3.5.2.1) */
        b->stats.denied_publish++;
        conn_log_denied(c, "publish_denied", "topic", p->topic.ptr, p->topic.len);
        reason = MQTT_RC_NOT_AUTHORIZED;
    }
    if (p->props.len)
        return publish_props(c, p, reason, sys);
    return publish(c, p, reason, sys, NULL, 0, 0);
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

/* PUBLISH and the acknowledgements of both QoS flows. */
#include <errno.h>
#include <string.h>

#include "base/log.h"
#include "cluster.h"
#include "handlers.h"
#include "persist.h"
#include "store/sstore.h"
#include "route.h"
#include "session.h"

int handle_publish(conn_t *c, const mqtt_publish_t *p)
{
    broker_t *b = c->b;
    session_t *s = c->sess;
    b->stats.msgs_in++;
    if (p->qos == 2 && session_rx2_has(s, p->packet_id)) {
        /* a resend before PUBREL: acknowledge, deliver nothing twice [MQTT-4.3.3-2] */
        return conn_send_ack(c, MQTT_PUBREC, p->packet_id);
    }
    /* Clients may not publish into the broker's own $SYS tree; the message is
     * acknowledged and dropped, as Mosquitto does. */
    bool sys = p->topic.len >= 5 && memcmp(p->topic.ptr, "$SYS/", 5) == 0;
    bool allowed = !s->acl || acl_check_publish(s->acl, (const char *)p->topic.ptr, p->topic.len);
    if (!allowed) {
        /* 3.1.1 has no way to refuse a PUBLISH: acknowledge it and drop it */
        b->stats.denied_publish++;
        log_info("publish_denied", "client_id=%s topic=%.*s", s->id, (int)p->topic.len,
                 (const char *)p->topic.ptr);
    }
    if (p->qos == 2) {
        int rc = session_rx2_add(s, p->packet_id);
        if (rc)
            return rc;
    }
    if (b->cluster)
        return persist_publish(c, p, allowed && !sys);
    if (!sys && allowed) {
        msg_t *m = msg_new(p->topic.ptr, p->topic.len, p->payload.ptr, p->payload.len, p->qos,
                           p->retain);
        if (!m)
            return -ENOMEM;
        if (p->retain)
            route_retain(b, m);
        route_publish(b, m);
        msg_unref(&m);
    }
    if (p->qos == 1)
        return conn_send_ack(c, MQTT_PUBACK, p->packet_id);
    if (p->qos == 2)
        return conn_send_ack(c, MQTT_PUBREC, p->packet_id);
    return 0;
}

static void on_store_done(int rc, void *arg)
{
    broker_t *b = arg;
    if (rc)
        b->stats.store_failures++;
}

int handle_pubrel(conn_t *c, const mqtt_ack_t *p)
{
    session_t *s = c->sess;
    session_rx2_release(s, p->packet_id);
    if (c->b->cluster && !s->clean)
        sstore_rx2_del(cluster_store(c->b->cluster), s->id, s->id_len, p->packet_id,
                       on_store_done, c->b);
    return conn_send_ack(c, MQTT_PUBCOMP, p->packet_id);
}

int handle_puback(conn_t *c, const mqtt_ack_t *p)
{
    if (session_on_puback(c->b, c->sess, p->packet_id) < 0)
        log_debug("unknown_packet_id", "client_id=%s packet=PUBACK pid=%u", c->sess->id,
                  p->packet_id);
    return 0;
}

int handle_pubrec(conn_t *c, const mqtt_ack_t *p)
{
    if (session_on_pubrec(c->b, c->sess, p->packet_id) < 0)
        log_debug("unknown_packet_id", "client_id=%s packet=PUBREC pid=%u", c->sess->id,
                  p->packet_id);
    return 0;
}

int handle_pubcomp(conn_t *c, const mqtt_ack_t *p)
{
    if (session_on_pubcomp(c->b, c->sess, p->packet_id) < 0)
        log_debug("unknown_packet_id", "client_id=%s packet=PUBCOMP pid=%u", c->sess->id,
                  p->packet_id);
    return 0;
}

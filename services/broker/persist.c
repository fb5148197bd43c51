#include "persist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "cluster.h"
#include "handlers.h"
#include "route.h"
#include "session.h"
#include "store/sstore.h"

/* One pending operation: completes when its last Redis reply arrives. */
typedef struct op {
    broker_t *b;
    uint64_t serial;          /* the connection (it may close meanwhile) */
    int remaining;
    int err;
    /* PUBLISH */
    msg_t *m;                 /* NULL: acknowledge only */
    uint8_t ack;              /* MQTT_PUBACK, MQTT_PUBREC or 0 */
    uint16_t pid;
    /* SUBSCRIBE / UNSUBSCRIBE: the packet, its filter list copied */
    bool is_sub, unsub;
    bool async;               /* completed from a Redis reply (the conn was paused) */
    bool will;                /* a will: delivered live even when Redis failed */
    mqtt_subscribe_t sub;
    uint8_t *list;
} op_t;

static void op_free(op_t *o)
{
    msg_unref(&o->m);
    free(o->list);
    free(o);
}

static void run(op_t *o, conn_t *c)
{
    broker_t *b = o->b;
    if (o->is_sub) {
        if (!c)
            return;
        int rc = o->unsub ? unsubscribe_apply(c, &o->sub) : subscribe_apply(c, &o->sub);
        if (rc < 0)
            conn_close(c, "out_of_memory");
        else if (o->async)
            conn_resume(c);
        return;
    }
    if (o->m) {
        if (o->m->retain)
            route_retain(b, o->m);
        route_publish(b, o->m);
        cluster_forward(b->cluster, o->m);
    }
    if (c && o->ack && conn_send_ack(c, o->ack, o->pid) < 0)
        conn_close(c, "out_of_memory");
}

static void finish(op_t *o)
{
    conn_t *c = conn_by_serial(o->b, o->serial);
    if (c && c->persist_pending)
        c->persist_pending--;
    if (o->err) {
        o->b->stats.store_failures++;
        log_warn("store_write_failed", "client_id=%s op=%s rc=%d detail=\"not acknowledged\"",
                 c && c->sess ? c->sess->id : "", o->is_sub ? "subscribe" : "publish", o->err);
        if (c)
            conn_close(c, "store_unavailable");
        if (o->will)
            run(o, NULL);
    } else {
        o->async = true;
        run(o, c);
    }
    op_free(o);
}

static void on_step(int rc, void *arg)
{
    op_t *o = arg;
    if (rc && !o->err)
        o->err = rc;
    if (--o->remaining == 0)
        finish(o);
}

static void on_push(int rc, size_t dropped, void *arg)
{
    op_t *o = arg;
    if (rc == 0 && dropped) {
        o->b->stats.dropped_queue += dropped;
        log_warn("queue_full", "sessions=%zu detail=\"persistent queues at --max-queued\"",
                 dropped);
    }
    on_step(rc, arg);
}

/* Counts an issued call: a call that failed never calls back. */
static void issued(op_t *o, int rc)
{
    if (rc < 0)
        o->err = ROOST_EUNAVAILABLE;
    else
        o->remaining++;
}

/* Makes the op wait behind this connection's pending ones, or runs it now.
 * Returns 0, or a code to close the connection with. */
static int launch(op_t *o, conn_t *c, sstore_t *st)
{
    if (o->remaining == 0 && !o->err && c->persist_pending == 0) {
        run(o, c);
        op_free(o);
        return 0;
    }
    if (o->remaining == 0 && !o->err)
        issued(o, sstore_barrier(st, on_step, o));
    if (o->remaining == 0) {
        op_free(o);
        return ROOST_EUNAVAILABLE;
    }
    c->persist_pending++;
    return 0;
}

/* The persistent sessions a message at qos goes to (cluster index). */
typedef struct targets {
    size_t n;
    const char *const *cids;
    const size_t *lens;
    const uint8_t *qos;
} targets_t;

static targets_t match(broker_t *b, const mqtt_str_t *topic, uint8_t qos)
{
    targets_t t = {0};
    if (qos)
        t.n = cluster_psub_match(b->cluster, (const char *)topic->ptr, topic->len, qos, &t.cids,
                                 &t.lens, &t.qos);
    return t;
}

/* Builds the message with an entry id when persistent sessions match, and
 * issues its Redis writes (queues, retained) on o. */
static int issue_message(op_t *o, sstore_t *st, const mqtt_str_t *topic, const mqtt_str_t *payload,
                         uint8_t qos, bool retain, const targets_t *t)
{
    broker_t *b = o->b;
    size_t n = t->n;
    char eid[320];
    if (n)
        cluster_next_eid(b->cluster, eid, sizeof(eid));
    o->m = msg_new_eid(topic->ptr, topic->len, payload->ptr, payload->len, qos, retain,
                       n ? eid : NULL);
    if (!o->m)
        return -ENOMEM;
    sstore_msg_t sm = {
        .entry_id = msg_eid(o->m),
        .topic = msg_topic(o->m),
        .topic_len = o->m->topic_len,
        .payload = msg_payload(o->m),
        .payload_len = o->m->payload_len,
        .qos = qos,
        .retain = retain,
    };
    if (n)
        issued(o, sstore_queue_push(st, &sm, t->cids, t->lens, t->qos, n,
                                    (size_t)b->cfg->max_queued, on_push, o));
    if (retain)
        issued(o, payload->len ? sstore_retain_put(st, &sm, on_step, o)
                               : sstore_retain_del(st, sm.topic, sm.topic_len, on_step, o));
    return 0;
}

int persist_publish(conn_t *c, const mqtt_publish_t *p, bool allowed)
{
    broker_t *b = c->b;
    session_t *s = c->sess;
    sstore_t *st = cluster_store(b->cluster);
    targets_t t = allowed ? match(b, &p->topic, p->qos) : (targets_t){0};
    bool rx2 = p->qos == 2 && !s->clean;
    uint8_t ack = p->qos == 1 ? MQTT_PUBACK : p->qos == 2 ? MQTT_PUBREC : 0;
    if (!t.n && !(allowed && p->retain) && !rx2 && c->persist_pending == 0) {
        /* nothing for Redis and nothing pending: route, forward, answer now */
        if (allowed) {
            /* a message object only when a session here takes it */
            if (route_match(b, (const char *)p->topic.ptr, p->topic.len)) {
                msg_t *m = msg_new(p->topic.ptr, p->topic.len, p->payload.ptr, p->payload.len,
                                   p->qos, false);
                if (!m)
                    return -ENOMEM;
                route_deliver(b, m);
                msg_unref(&m);
            }
            cluster_forward_raw(b->cluster, (const char *)p->topic.ptr, p->topic.len,
                                p->payload.ptr, p->payload.len, p->qos, false, NULL, 0);
        }
        return ack ? conn_send_ack(c, ack, p->packet_id) : 0;
    }
    op_t *o = calloc(1, sizeof(*o));
    if (!o)
        return -ENOMEM;
    o->b = b;
    o->serial = conn_handle(c);
    o->ack = ack;
    o->pid = p->packet_id;
    if (allowed && issue_message(o, st, &p->topic, &p->payload, p->qos, p->retain, &t) < 0) {
        op_free(o);
        return -ENOMEM;
    }
    if (rx2)
        issued(o, sstore_rx2_add(st, s->id, s->id_len, p->packet_id, on_step, o));
    return launch(o, c, st);
}

void persist_will(broker_t *b, const msg_t *will)
{
    sstore_t *st = cluster_store(b->cluster);
    op_t *o = calloc(1, sizeof(*o));
    if (!o)
        return;
    o->b = b;
    o->will = true;
    mqtt_str_t topic = {(const uint8_t *)msg_topic(will), will->topic_len};
    mqtt_str_t payload = {msg_payload(will), will->payload_len};
    targets_t t = match(b, &topic, will->qos);
    if (issue_message(o, st, &topic, &payload, will->qos, will->retain, &t) < 0) {
        op_free(o);
        return;
    }
    if (o->remaining == 0) {
        /* nothing to persist (or Redis down: deliver what we can, it is a will) */
        o->err = 0;
        run(o, NULL);
        op_free(o);
    }
    /* else finish() runs it once the writes are in */
}

int persist_subscribe(conn_t *c, const mqtt_subscribe_t *p, bool unsubscribe)
{
    broker_t *b = c->b;
    session_t *s = c->sess;
    sstore_t *st = cluster_store(b->cluster);
    op_t *o = calloc(1, sizeof(*o));
    if (!o)
        return -ENOMEM;
    o->b = b;
    o->serial = conn_handle(c);
    o->is_sub = true;
    o->unsub = unsubscribe;
    o->sub = *p;
    o->list = malloc(p->list.len ? p->list.len : 1);
    if (!o->list) {
        free(o);
        return -ENOMEM;
    }
    memcpy(o->list, p->list.ptr, p->list.len);
    o->sub.list.ptr = o->list;
    o->sub.props = (mqtt_str_t){NULL, 0};
    if (!s->clean) {
        mqtt_topic_iter_t it;
        mqtt_str_t f;
        uint8_t opts;
        mqtt_topic_iter_init(&it, p, !unsubscribe);
        while (mqtt_topic_iter_next(&it, &f, &opts)) {
            const char *fs = (const char *)f.ptr;
            if (unsubscribe) {
                issued(o, sstore_sub_del(st, s->id, s->id_len, fs, f.len, on_step, o));
                cluster_psub(b->cluster, s->id, s->id_len, fs, f.len, 0, false);
                continue;
            }
            if (s->acl && acl_check_subscribe(s->acl, fs, f.len) == ACL_SUB_DENIED)
                continue;
            issued(o, sstore_sub_put(st, s->id, s->id_len, fs, f.len, opts & 3, on_step, o));
            cluster_psub(b->cluster, s->id, s->id_len, fs, f.len, opts & 3, true);
        }
    }
    int rc = launch(o, c, st);
    if (rc == 0 && c->persist_pending)
        conn_pause(c); /* nothing more from this client until SUBACK is out */
    return rc;
}

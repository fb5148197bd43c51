#include "persist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "mqtt/reason.h"
#include "cluster.h"
#include "conn5.h"
#include "msgprops.h"
#include "pipeline.h"
#include "session.h"
#include "mqtt/share.h"
#include "store/sstore.h"

/* One pending SUBSCRIBE / UNSUBSCRIBE: completes when its last Redis reply
 * arrives. */
typedef struct op {
    broker_t *b;
    uint64_t serial;          /* the connection (it may close meanwhile) */
    int remaining;
    int err;
    persist_apply_fn apply;
    mqtt_subscribe_t sub;     /* the packet, its filter list copied */
    uint8_t *list;
} op_t;

static void op_free(op_t *o)
{
    free(o->list);
    free(o);
}

static void finish(op_t *o)
{
    conn_t *c = conn_by_serial(o->b, o->serial);
    if (c && c->persist_pending)
        c->persist_pending--;
    if (o->err) {
        pipeline_store_failed(o->b, c, "subscribe", o->err, "not acknowledged");
        if (c)
            conn_disconnect(c, MQTT_RC_SERVER_BUSY, "store unavailable", "store_unavailable");
    } else if (c) {
        if (o->apply(c, &o->sub) < 0)
            conn_close(c, "out_of_memory");
        else
            conn_resume(c);
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

/* Counts an issued call: a call that failed never calls back. */
static void issued(op_t *o, int rc)
{
    if (rc < 0)
        o->err = ROOST_EUNAVAILABLE;
    else
        o->remaining++;
}

int persist_subscribe(conn_t *c, const mqtt_subscribe_t *p, bool unsubscribe,
                      persist_apply_fn apply)
{
    broker_t *b = c->b;
    session_t *s = c->sess;
    if (s->clean && c->persist_pending == 0)
        return apply(c, p); /* nothing to write, nothing to wait for */
    sstore_t *st = cluster_store(b->cluster);
    op_t *o = calloc(1, sizeof(*o));
    if (!o)
        return -ENOMEM;
    o->b = b;
    o->apply = apply;
    o->sub = *p;
    o->list = malloc(p->list.len + p->props.len + 1);
    /* the completion finds the connection by its handle: without one it
     * would stay paused forever */
    if (!o->list || !(o->serial = conn_handle(c))) {
        op_free(o);
        return -ENOMEM;
    }
    memcpy(o->list, p->list.ptr, p->list.len);
    o->sub.list.ptr = o->list;
    if (p->props.len) /* 5.0: the Subscription Identifier is applied later */
        memcpy(o->list + p->list.len, p->props.ptr, p->props.len);
    o->sub.props = (mqtt_str_t){o->list + p->list.len, p->props.len};
    uint32_t subid = c->version == MQTT_V5 ? msgprops_subid(p->props) : 0;
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
            share_filter_t sf;
            if ((s->acl && acl_check_subscribe(s->acl, fs, f.len) == ACL_SUB_DENIED) ||
                share_parse(fs, f.len, &sf) < 0)
                continue; /* refused in SUBACK: nothing to keep */
            /* the options kept (QoS, No Local, Retain As Published) and the
             * identifier outlive a broker: a session resumed elsewhere has them */
            issued(o, sstore_sub_put5(st, s->id, s->id_len, fs, f.len, opts & SUBOPT_MQTT, subid,
                                      on_step, o));
            cluster_psub(b->cluster, s->id, s->id_len, fs, f.len, opts & 3, true);
        }
    }
    if (o->remaining == 0 && !o->err && c->persist_pending == 0) {
        op_free(o); /* every filter denied: nothing written */
        return apply(c, p);
    }
    if (o->remaining == 0 && !o->err)
        issued(o, sstore_barrier(st, on_step, o)); /* wait behind the pending ones */
    if (o->remaining == 0) {
        op_free(o);
        return ROOST_EUNAVAILABLE;
    }
    c->persist_pending++;
    conn_pause(c); /* nothing more from this client until the answer is out */
    return 0;
}

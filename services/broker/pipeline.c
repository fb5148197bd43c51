#include "pipeline.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "cluster.h"
#include "route.h"
#include "routes.h"
#include "session.h"
#include "shared.h"
#include "store/pipelines.h"
#include "store/sstore.h"

/* A message whose durable writes are in flight: completes when the last
 * Redis reply arrives (finish). */
typedef struct op {
    broker_t *b;
    uint64_t serial;          /* the connection (it may close meanwhile); 0: none */
    int remaining;            /* replies still to come */
    int err;                  /* the first failure */
    pipe_source_t source;
    msg_t *m;                 /* NULL: nothing to route (refused) */
    pipe_done_fn done;
    pipe_ack_t ack;
} op_t;

static void op_free(op_t *o)
{
    msg_unref(&o->m);
    free(o);
}

/* ---- stage 2: local routing ------------------------------------------- */

/* (pipeline.h: pipeline_route, which a bus message takes inline) */
static void stage_route(broker_t *b, msg_t *m, bool same_topic)
{
    pipeline_route(b, m, same_topic);
}

/* Shared subscriptions (shared.h): one member of each matching group,
 * here or on a peer (one hop), for a message that entered here. */
static void stage_shared(broker_t *b, msg_t *m)
{
    if (b->shared_groups) /* (only counted while b->shared exists) */
        shared_publish(b->shared, m);
}

/* ---- stage 3: the bus --------------------------------------------------- */

static void stage_bus(broker_t *b, const msg_t *m)
{
    if (b->cluster)
        cluster_forward(b->cluster, m);
}

/* ---- stage 4: acknowledgement ------------------------------------------ */

/* For a message that waited for its writes (PIPE_PENDING); one through
 * at once is acknowledged by its handler. (A QoS 0 PUBLISH has nothing to
 * acknowledge: done is called for it only for a failure.) */
static void stage_ack(conn_t *c, pipe_done_fn done, pipe_ack_t ack, int rc)
{
    if (c && done && ack.qos)
        done(c, ack, rc);
}

/* Stages 2-4 after stage 1's writes succeeded (or failed, for a will). */
static void run(op_t *o, conn_t *c)
{
    if (o->m) {
        o->b->cur_origin = o->source == PIPE_CLIENT && c ? c->sess : NULL; /* No Local */
        stage_route(o->b, o->m, false);
        o->b->cur_origin = NULL;
        stage_shared(o->b, o->m);
        stage_bus(o->b, o->m);
    }
    stage_ack(c, o->done, o->ack, 0);
}

/* publish_now's general case: a message that exists already (a will), has
 * a 5.0 part, or may go to a shared group. 1 when a subscription here or
 * a shared group may have taken it, 0 when none did, or -ENOMEM (as
 * route_local). */
static int publish_now_msg(broker_t *b, const pipe_msg_t *in, const pipe_origin_t *from)
{
    const msg_parts_t *p = &in->parts;
    msg_t *m = in->m;
    bool made = false, v5 = p->props_len || p->expiry_ms;
    b->cur_origin = from ? from->conn->sess : NULL; /* No Local */
    uint32_t here = route_match(b, p->topic, p->topic_len);
    bool shared = b->shared_groups > 0;
    if (!m && (here || p->retain || shared || (v5 && b->cluster))) {
        m = msg_make(p);
        if (!m) {
            b->cur_origin = NULL;
            return -ENOMEM;
        }
        made = true;
    }
    if (p->retain)
        route_retain(b, m);
    if (here)
        route_deliver(b, m);
    b->cur_origin = NULL;
    if (shared)
        stage_shared(b, m);
    if (b->cluster && v5)
        cluster_forward(b->cluster, m); /* made above: the 5.0 part goes with it */
    else if (b->cluster)
        cluster_forward_parts(b->cluster, p);
    if (made)
        msg_unref(&m);
    return here || shared;
}

/* Stages 2-3 at once, with nothing written (stage 4 is the caller's:
 * PIPE_DONE or PIPE_NO_SUBSCRIBERS). A client's message without a 5.0
 * part and no shared group takes pipeline_now (pipeline.h), as the inline
 * path does; any other publish_now_msg, which makes the message object
 * only when the retained store or a session here keeps it, or when a 5.0
 * part must go to the peers with it. */
static int publish_now(broker_t *b, const pipe_msg_t *in, const pipe_origin_t *from)
{
    const msg_parts_t *p = &in->parts;
    if (!in->m && !p->props_len && !p->expiry_ms && !b->shared_groups)
        return pipeline_now(b, p, from); /* (in->m NULL: a client's, from is set) */
    if (from && from->refused)
        return PIPE_DONE;
    int rc = publish_now_msg(b, in, from);
    if (rc < 0)
        return rc;
    return rc == 0 && !b->cluster && !p->retain ? PIPE_NO_SUBSCRIBERS : PIPE_DONE;
}

/* ---- stage 1: durable writes (clustered) -------------------------------- */

void pipeline_store_failed(broker_t *b, const conn_t *c, const char *op, int rc, const char *detail)
{
    b->stats.store_failures++;
    char qid[LOG_QUOTE_CAP];
    log_warn("store_write_failed", "client_id=%s op=%s rc=%d detail=\"%s\"",
             log_quote(qid, sizeof(qid), c && c->sess ? c->sess->id : "", c && c->sess ? c->sess->id_len : 0),
             op, rc, detail);
}

static void finish(op_t *o)
{
    conn_t *c = o->serial ? conn_by_serial(o->b, o->serial) : NULL;
    if (c && c->persist_pending)
        c->persist_pending--;
    if (!o->err) {
        run(o, c);
    } else {
        pipeline_store_failed(o->b, c, o->source == PIPE_WILL ? "will" : "publish", o->err,
                              o->source == PIPE_WILL ? "delivered live only" : "not acknowledged");
        if (o->source == PIPE_WILL)
            run(o, NULL); /* a will is delivered live even when Redis failed */
        else if (c && o->done)
            o->done(c, o->ack, o->err);
    }
    op_free(o);
    /* paused at PIPE_PENDING_MAX: reads again at half (last: resuming may
     * handle buffered packets, which issue new ops) */
    if (c && c->pipe_held && c->persist_pending <= PIPE_PENDING_MAX / 2) {
        c->pipe_held = false;
        conn_resume(c);
    }
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
    if (rc == 0 && dropped)
        session_count_queue_drop(o->b, dropped, NULL);
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

/* True while the op's next write is issued: a client's message whose
 * write was refused at once (a queue's primary short of replicas,
 * sstore_cluster_ops.c) is not acknowledged and comes again, so nothing
 * more is written for it (no retained value it was not told was taken, no
 * pipeline entry under a new id at each resend, no QoS 2 id). A will (c
 * NULL), which nobody sends again, still gets what can be written. A write
 * that fails later, in Redis, does not stop those already sent (README,
 * pipelines). */
static inline bool writes_on(const op_t *o, const conn_t *c)
{
    return !o->err || !c;
}

/* The durable writes, one function each; each issues its calls on o. To
 * add one (a pipeline's stream append), write it here, call it from
 * stage_durable, and name its condition in pipeline_needs_write
 * (pipeline.h). */

static void durable_queues(op_t *o, sstore_t *st, const sstore_msg_t *sm, const pipe_queued_t *t)
{
    if (t->n)
        issued(o, sstore_queue_push(st, sm, t->cids, t->lens, t->qos, t->n,
                                    (size_t)o->b->cfg->max_queued, on_push, o));
}

static void durable_retained(op_t *o, sstore_t *st, const sstore_msg_t *sm)
{
    if (sm->retain)
        issued(o, sm->payload_len ? sstore_retain_put(st, sm, on_step, o)
                                  : sstore_retain_del(st, sm->topic, sm->topic_len, on_step, o));
}

static void durable_rx2(op_t *o, sstore_t *st, const pipe_origin_t *from)
{
    session_t *s = from->conn->sess;
    issued(o, sstore_rx2_add(st, s->id, s->id_len, from->pid, on_step, o));
}

/* The pipelines (topic mappings, routes.c) a message is forwarded to: as
 * many as a store may hold, so a message matched by every one of them
 * still reaches each (a smaller cap dropped the rest unseen). */
#define PIPES_MAX STORE_PIPELINE_MAX

typedef struct pipes {
    size_t n;
    const char *ids[PIPES_MAX];
} pipes_t;

static void on_pipe(int rc, size_t dropped, void *arg)
{
    op_t *o = arg;
    if (rc == 0 && dropped) {
        o->b->stats.pipeline_dropped += dropped;
        log_warn("pipeline_queue_full", "pipelines=%zu detail=\"message dropped at max_queue\"", dropped);
    }
    on_step(rc, arg);
}

/* The pipeline stage: the message appended to the queue (Redis Stream) of
 * every pipeline whose mapping matches, for roost-forwarder. */
static void durable_pipelines(op_t *o, sstore_t *st, const pipe_msg_t *in, const pipe_origin_t *from,
                              const pipes_t *p)
{
    if (!p->n)
        return;
    const session_t *s = from ? from->conn->sess : NULL;
    sstore_pipe_msg_t pm = {
        .topic = in->parts.topic, .topic_len = in->parts.topic_len,
        .payload = in->parts.payload, .payload_len = in->parts.payload_len,
        .qos = in->parts.qos, .retain = in->parts.retain,
        .client_id = s ? s->id : in->will_of ? in->will_of->client_id : "",
        .client_id_len = s ? s->id_len : in->will_of ? in->will_of->client_id_len : 0,
        .username = from ? conn_username(from->conn) : in->will_of ? in->will_of->username : NULL,
        .broker = o->b->id,
    };
    issued(o, sstore_pipe_append(st, p->ids, p->n, &pm, on_pipe, o));
    o->b->stats.pipeline_appends += p->n;
}

/* True when the message may go on at once (publish_now): nothing to write
 * (npipes: the pipelines it is appended to), and no write of its
 * connection pending ahead of it. */
static inline bool goes_now(const pipe_msg_t *in, bool deliver, const pipe_queued_t *t,
                            const pipe_origin_t *from, size_t npipes)
{
    return !pipeline_needs_write(deliver, in->parts.retain, t->n, npipes, from && from->rx2) &&
           (!from || from->conn->persist_pending == 0);
}

static int durable_writes(broker_t *b, const pipe_msg_t *in, const pipe_origin_t *from,
                          const pipe_queued_t *t, const pipes_t *p);

/* The message's pipelines, when topic mappings exist (their 8 KB list is
 * on this function's stack, not on the fast path's). */
static __attribute__((noinline)) int stage_durable_mapped(broker_t *b, const pipe_msg_t *in,
                                                          const pipe_origin_t *from,
                                                          const pipe_queued_t *t)
{
    pipes_t p; /* ids[0..n) only are read: not zeroed */
    p.n = routes_match(b->routes, in->parts.topic, in->parts.topic_len, p.ids, PIPES_MAX);
    if (goes_now(in, true, t, from, p.n))
        return publish_now(b, in, from);
    return durable_writes(b, in, from, t, &p);
}

/* Stage 1: what the message needs written (psindex's persistent sessions
 * for QoS 1/2, the retained store, a pipeline, a QoS 2 id) decides between
 * the op below and going on at once; in a cluster's commonest case
 * (nothing durable, nothing pending) this is a few tests and a psindex
 * lookup for QoS 1/2. */
static int stage_durable(broker_t *b, const pipe_msg_t *in, const pipe_origin_t *from,
                         const pipe_queued_t *queued)
{
    bool deliver = !from || !from->refused;
    pipe_queued_t t = {0};
    if (deliver && queued && queued->known)
        t = *queued; /* (the inline path's lookup: not done twice) */
    else if (deliver)
        pipeline_queued(b, &in->parts, &t);
    if (deliver && b->mappings)
        return stage_durable_mapped(b, in, from, &t);
    if (goes_now(in, deliver, &t, from, 0))
        return publish_now(b, in, from);
    return durable_writes(b, in, from, &t, NULL);
}

/* The op: issues every write the message needs (p: its pipelines, NULL:
 * none), then waits for them (finish). */
static __attribute__((noinline)) int durable_writes(broker_t *b, const pipe_msg_t *in,
                                                    const pipe_origin_t *from,
                                                    const pipe_queued_t *tp, const pipes_t *p)
{
    conn_t *c = from ? from->conn : NULL;
    bool deliver = !from || !from->refused;
    pipe_queued_t t = *tp;
    sstore_t *st = cluster_store(b->cluster);
    op_t *o = calloc(1, sizeof(*o));
    if (!o)
        return -ENOMEM;
    *o = (op_t){.b = b, .source = in->source};
    if (c) {
        o->done = from->done;
        o->ack = (pipe_ack_t){from->pid, in->parts.qos, from->reason};
        /* the completion finds the connection by its handle: without one
         * it would never be acknowledged nor resumed */
        if (!(o->serial = conn_handle(c))) {
            op_free(o);
            return -ENOMEM;
        }
    }
    if (deliver) {
        char eid[320];
        if (t.n)
            cluster_next_eid(b->cluster, eid, sizeof(eid));
        o->m = in->m && !t.n ? msg_ref(in->m) : msg_make_eid(&in->parts, t.n ? eid : NULL);
        if (!o->m) {
            op_free(o);
            return -ENOMEM;
        }
        sstore_msg_t sm = {
            .entry_id = msg_eid(o->m),
            .topic = msg_topic(o->m),
            .topic_len = o->m->topic_len,
            .payload = msg_payload(o->m),
            .payload_len = o->m->payload_len,
            .qos = o->m->qos,
            .retain = o->m->retain,
            .props = o->m->props_len ? msg_props(o->m) : NULL,
            .props_len = o->m->props_len,
            .expiry_ms = o->m->expiry_ms,
        };
        durable_queues(o, st, &sm, &t);
        if (writes_on(o, c))
            durable_retained(o, st, &sm);
        if (p && writes_on(o, c))
            durable_pipelines(o, st, in, from, p);
    }
    if (from && from->rx2 && writes_on(o, c))
        durable_rx2(o, st, from);

    if (!c) { /* a will: nothing to order behind, nobody to answer */
        if (o->remaining == 0) {
            /* nothing written (Redis down): deliver what we can, it is a will */
            o->err = 0;
            run(o, NULL);
            op_free(o);
        }
        return 0;
    }
    /* a connection's message waits behind its pending ones; with
     * --redis-min-replicas, also until its writes reached the replicas
     * (sstore_wait is sstore_barrier without). On a Redis Cluster reply
     * order holds per primary only: a message with writes of its own
     * waits behind its connection's pending ones through that barrier too
     * (else its write to one primary could come back before an earlier
     * message's to another, and it would be delivered and acknowledged
     * first [MQTT-4.6.0-2]) */
    bool behind = c->persist_pending > 0 && b->cfg->redis.cluster && b->cfg->redis.cluster[0];
    if (!o->err && (o->remaining == 0 || b->cfg->redis.min_replicas > 0 || behind))
        issued(o, sstore_wait(st, on_step, o));
    if (o->remaining == 0) {
        /* nothing was sent: Redis is down, or a write was refused at once
         * (and nothing more issued, above). A failed write all the same:
         * counted and logged like one that Redis refused */
        pipeline_store_failed(b, c, "publish", ROOST_EUNAVAILABLE, "nothing written: not acknowledged");
        op_free(o);
        return ROOST_EUNAVAILABLE;
    }
    c->persist_pending++;
    if (c->persist_pending >= PIPE_PENDING_MAX && !c->pipe_held) {
        /* (a PUBLISH is only handled while c reads: nothing else paused it) */
        c->pipe_held = true;
        b->stats.write_backpressure++;
        conn_pause(c);
    }
    return PIPE_PENDING;
}

/* ---- the entry ------------------------------------------------------------ */

int pipeline_stages(broker_t *b, const pipe_msg_t *msg, const pipe_origin_t *from,
                    const pipe_queued_t *queued)
{
    pipe_msg_t x;
    const pipe_msg_t *in = msg;
    if (msg->m && msg->source != PIPE_BUS) { /* the stages read the parts */
        const msg_t *m = msg->m;
        x = *msg;
        x.parts = (msg_parts_t){msg_topic(m), msg_payload(m), m->payload_len, m->topic_len, m->qos,
                                m->retain, msg_props(m), m->props_len, m->expiry_ms};
        in = &x;
    }
    switch (in->source) {
    case PIPE_BUS: /* (pipeline_publish takes it inline) */
        stage_route(b, in->m, in->same_topic);
        return 0;
    case PIPE_STORED:
        route_retain_stored(b, in->m); /* the retained store only, unless newer here */
        return 0;
    case PIPE_CLIENT:
    case PIPE_WILL:
        break;
    }
    if (!b->cluster)
        return publish_now(b, in, from);
    return stage_durable(b, in, from, queued);
}

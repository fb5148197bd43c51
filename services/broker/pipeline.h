/* pipeline: the one way a message goes through this broker (DESIGN.md "The
 * publish pipeline"). Every message that enters (a client PUBLISH, a will,
 * a message from the bus, a retained message loaded from Redis) is handed
 * to pipeline_publish by its handler, after the handler's own checks
 * (protocol, ACL), and takes these stages, in this order, each in
 * pipeline.c under its name:
 *
 *   1. stage_durable  clustered only: the Redis writes the message needs
 *                     before anyone may rely on it: the queue of every
 *                     persistent session it matches (psindex), the stored
 *                     retained message, a persistent publisher's QoS 2
 *                     packet id. A single node has nothing to write; a
 *                     message that needs no write and has no write of its
 *                     connection pending ahead of it goes straight on (the
 *                     fast path: no allocation but the message itself, and
 *                     that only when some session here takes it).
 *   2. stage_route    local: the retained store, then fan-out to the
 *                     sessions here (route.c); then, for a message that
 *                     entered here, one member of each matching shared
 *                     group, here or on a peer (stage_shared, shared.h).
 *   3. stage_bus      to the peers that subscribed (bus.c), when the
 *                     message came from here (a client or a will).
 *   4. stage_ack      the acknowledgement (a client PUBLISH: PUBACK/PUBREC),
 *                     only after every write of stage 1 succeeded: by the
 *                     origin's completion callback when there were writes
 *                     (PIPE_PENDING), else by the handler at once
 *                     (PIPE_DONE). A failed write skips stages 2-4 for a
 *                     client's message (its connection closes, the client
 *                     resends); a will is still routed and forwarded.
 *
 * A client's PUBLISH without a 5.0 part, the commonest case, takes its
 * stages inline (pipeline_publish below), without a call into pipeline.c:
 * on a single node stage 2 (route.c's route_local); in a cluster too when
 * stage 1 has nothing to write and nothing of its connection is pending
 * (pipeline_goes_now: QoS 0 or no persistent session matches, not
 * retained, no topic mapping, no QoS 2 id), then stage 3 from the parts
 * (cluster_forward_parts: no message is made for the peers). Stage 4 is then
 * the caller's: a message through at once is acknowledged by the handler
 * (PIPE_DONE), only one that waits for writes by its callback
 * (PIPE_PENDING).
 *
 * Which stages a source takes: client and will 1-2-3(-4); bus 2 (the origin
 * broker did 1 and 3); stored retained 2 without fan-out (retained store
 * only). Redis answers in order and a connection's message waits behind its
 * pending writes (sstore_barrier), so one client's packets keep their
 * order.
 *
 * Adding a durable write (e.g. the forwarder's append to a pipeline's Redis
 * Stream): one function in stage_durable's list in pipeline.c that issues
 * the write on the op with `issued(o, sstore_xxx(..., on_step, o))`, and
 * its condition in pipeline_needs_write below (the one test of both
 * stage_durable and the inline path). Nothing else changes: completion,
 * ordering, failure and the acknowledgement are the op's.
 *
 * Completions are callbacks passed in (pipe_origin_t.done), never calls
 * back up into handlers.
 */
#ifndef ROOST_BROKER_PIPELINE_H
#define ROOST_BROKER_PIPELINE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker.h"
#include "cluster.h"
#include "conn.h"
#include "msg.h"
#include "route.h"
#include "routes.h"

typedef enum pipe_source {
    PIPE_CLIENT = 0,  /* a PUBLISH from a connection here */
    PIPE_WILL = 1,    /* a will of a connection that went away */
    PIPE_BUS = 2,     /* from a peer: already durable and forwarded */
    PIPE_STORED = 3,  /* a retained message loaded from Redis */
} pipe_source_t;

/* Whose a will is, for the pipeline stage (a client's PUBLISH takes it
 * from its connection). */
typedef struct pipe_will_of {
    const char *client_id;
    size_t client_id_len;
    const char *username; /* NULL: anonymous */
} pipe_will_of_t;

/* The message: its parts (a client PUBLISH: views into the read buffer,
 * copied only when kept; msg.h), or m when the source already holds one
 * (will, bus, stored); then the parts are ignored. */
typedef struct pipe_msg {
    msg_parts_t parts;
    msg_t *m;
    const pipe_will_of_t *will_of; /* a will's, or NULL */
    pipe_source_t source;
    bool same_topic; /* bus: same topic as the previous message of its frame:
                        the sessions matched for it are reused */
} pipe_msg_t;

/* What a client's message is acknowledged with, put together only when
 * it is: its packet id, its QoS (1: PUBACK, 2: PUBREC, 0: nothing) and the
 * 5.0 reason code of a refusal (>= 0x80; 0: none). */
typedef struct pipe_ack {
    uint16_t pid;
    uint8_t qos;
    uint8_t reason;
} pipe_ack_t;

/* Called when a client's message that pipeline_publish answered
 * PIPE_PENDING is through (rc 0) or its durable writes failed (rc < 0;
 * the callback closes the connection, no acknowledgement); for QoS 0 only
 * on failure (nothing to acknowledge). Only while the connection lives. */
typedef void (*pipe_done_fn)(conn_t *c, pipe_ack_t ack, int rc);

/* pipeline_publish's answers besides failures (< 0). PIPE_DONE and
 * PIPE_NO_SUBSCRIBERS: the message is through and done is not called
 * (the caller acknowledges at once); PIPE_PENDING: it waits for durable
 * writes and done will say (a client's message only).
 * PIPE_NO_SUBSCRIBERS: no subscription matched, said only where that is
 * certain: a single node (every subscription is here) without shared
 * groups (stage_shared does not say whether one matched), and not for a
 * retained message (kept for the subscribers to come). A cluster says
 * PIPE_DONE: its peers' subscriptions are known by their literal prefixes
 * only (the bus's XPUB filters), and persistent sessions and pipelines may
 * keep the message (README "MQTT 5.0 messages"). */
#define PIPE_DONE 0
#define PIPE_NO_SUBSCRIBERS 1
#define PIPE_PENDING 2

/* Who waits for a client's message. */
typedef struct pipe_origin {
    conn_t *conn;
    pipe_done_fn done; /* NULL: nothing to call */
    uint16_t pid;
    uint8_t reason;    /* a 5.0 refusal's reason code, for the acknowledgement */
    bool refused;      /* the handler refused the message (ACL, $SYS): it is not
                          written, routed or forwarded; the acknowledgement
                          still follows what is written before it */
    bool rx2;          /* record pid as received (QoS 2 of a persistent session) */
} pipe_origin_t;

/* Durable writes one connection may have in flight (its PUBLISHes in
 * stage 1, and those waiting behind them): at this many its reads pause
 * (like a SUBSCRIBE's) until half of them have completed, so a flood into a
 * retained or mapped topic while Redis is slow holds at most this many
 * messages per connection instead of growing without bound; TCP pushes
 * back on the client, nothing is dropped. */
#define PIPE_PENDING_MAX 1024

/* The persistent sessions a message goes to (cluster index, QoS 1/2
 * only): views into the index, valid until its next lookup. known: looked
 * up already (by pipeline_goes_now), so stage 1 does not look again. */
typedef struct pipe_queued {
    bool known;
    size_t n;
    const char *const *cids;
    const size_t *lens;
    const uint8_t *qos;
} pipe_queued_t;

/* The stages for every case but the one pipeline_publish takes inline
 * (pipeline.c). queued: what the inline test found (NULL or !known: not
 * looked up). */
int pipeline_stages(broker_t *b, const pipe_msg_t *msg, const pipe_origin_t *from,
                    const pipe_queued_t *queued);

/* A durable write that failed, of a message or a SUBSCRIBE (persist.c; op
 * "publish", "will", "subscribe"; c NULL when the connection is gone):
 * counted (stats.store_failures) and logged, one store_write_failed line
 * each. */
void pipeline_store_failed(broker_t *b, const conn_t *c, const char *op, int rc, const char *detail);

/* Stage 2 for a message that exists: the retained store, then the
 * sessions here. same_topic: the sessions matched for the previous message
 * are still the right ones. */
static inline void pipeline_route(broker_t *b, msg_t *m, bool same_topic)
{
    if (m->retain)
        route_retain(b, m);
    if (same_topic || route_match(b, msg_topic(m), m->topic_len))
        route_deliver(b, m);
}

/* Stage 1's one test (the inline path's and stage_durable's): true when a
 * message needs a write before it may go on. deliver: not refused;
 * queued: the persistent sessions (here or elsewhere, psindex) whose Redis
 * queues take it; mapped: the pipelines it is appended to (or, before they
 * are counted, whether any topic mapping exists); rx2: a QoS 2 id to
 * record. A message that needs none still waits when a write of its
 * connection is pending ahead of it (c->persist_pending). */
static inline bool pipeline_needs_write(bool deliver, bool retain, size_t queued, size_t mapped,
                                        bool rx2)
{
    return (deliver && (queued || retain || mapped)) || rx2;
}

/* Looks up the persistent sessions a message at p->qos goes to into q
 * (pipe_queued_t). */
static inline void pipeline_queued(broker_t *b, const msg_parts_t *p, pipe_queued_t *q)
{
    *q = (pipe_queued_t){.known = true};
    if (p->qos)
        q->n = cluster_psub_match(b->cluster, p->topic, p->topic_len, p->qos, &q->cids, &q->lens,
                                  &q->qos);
}

/* The inline path's test in a cluster: the message needs nothing written
 * (by pipeline_needs_write; the psindex lookup last, for QoS 1/2 only, into
 * q, which stage 1 then reuses) and nothing of its connection is pending. */
static inline bool pipeline_goes_now(broker_t *b, const msg_parts_t *p, const pipe_origin_t *from,
                                     pipe_queued_t *q)
{
    bool deliver = !from->refused;
    if (from->conn->persist_pending ||
        pipeline_needs_write(deliver, p->retain, 0, deliver && b->mappings, from->rx2)) {
        q->known = false; /* (stage 1 looks) */
        return false;
    }
    if (!deliver || p->qos == 0)
        return true;
    pipeline_queued(b, p, q);
    return q->n == 0;
}

/* Stages 2-3 at once for a client's message without a 5.0 part, with no
 * shared group and nothing to write (stage 4 is the caller's: PIPE_DONE or
 * PIPE_NO_SUBSCRIBERS): route.c's route_local, the single node's own path,
 * which makes the message only when the retained store or a session here
 * keeps it; then the bus from the parts (no message is made for the
 * peers). pipeline_publish's inline path, and stage 1's when it found
 * nothing to write (pipeline.c's publish_now). */
static inline int pipeline_now(broker_t *b, const msg_parts_t *p, const pipe_origin_t *from)
{
    if (from->refused)
        return PIPE_DONE;
    b->cur_origin = from->conn->sess; /* No Local */
    int rc = route_local(b, p);
    b->cur_origin = NULL;
    if (rc < 0)
        return rc;
    if (b->cluster) {
        cluster_forward_parts(b->cluster, p);
        return PIPE_DONE;
    }
    return rc || p->retain ? PIPE_DONE : PIPE_NO_SUBSCRIBERS;
}

/* Runs msg through the pipeline; from is NULL for every source but
 * PIPE_CLIENT. Returns PIPE_DONE or PIPE_NO_SUBSCRIBERS (through; done is
 * not called), PIPE_PENDING (done will be), or a negative code when
 * nothing was done (out of memory, Redis unreachable): the caller closes
 * the connection.
 *
 * Inline for a message from the bus (stage 2 alone) and for a client's
 * PUBLISH without a 5.0 part and no shared group, on a single node
 * (nothing to write, no peers) or in a cluster when pipeline_goes_now
 * says so (the commonest case): stage 2 (route_local), then stage 3 from
 * the parts (no message is made for the peers). Every other case goes to
 * pipeline_stages in pipeline.c. */
static inline int pipeline_publish(broker_t *b, const pipe_msg_t *msg, const pipe_origin_t *from)
{
    if (msg->source == PIPE_BUS) { /* stage 2 only: the origin broker did 1 and 3 */
        pipeline_route(b, msg->m, msg->same_topic);
        return PIPE_DONE;
    }
    const msg_parts_t *p = &msg->parts;
    if (msg->source != PIPE_CLIENT || p->props_len || p->expiry_ms || b->shared_groups)
        return pipeline_stages(b, msg, from, NULL); /* (a 5.0 part: the message carries it) */
    if (b->cluster) {
        pipe_queued_t q;
        if (!pipeline_goes_now(b, p, from, &q))
            return pipeline_stages(b, msg, from, &q);
    }
    return pipeline_now(b, p, from);
}

#endif

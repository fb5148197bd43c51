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
 *   4. stage_ack      the origin's completion callback (a client PUBLISH:
 *                     PUBACK/PUBREC), only after every write of stage 1
 *                     succeeded. A failed write skips stages 2-4 for a
 *                     client's message (its connection closes, the client
 *                     resends); a will is still routed and forwarded.
 *
 * A client's PUBLISH without a 5.0 part, the commonest case, takes its
 * stages inline (pipeline_now below, which handle_publish calls with the
 * message's parts before building anything), without a call into pipeline.c:
 * on a single node stages 2 and 4 (route.c's route_local); in a cluster
 * too when stage 1 has nothing to write and nothing of its connection is
 * pending (pipeline_nothing_durable: QoS 0 or no persistent session
 * matches, not retained, no topic mapping, no QoS 2 id), then stage 3 from
 * the parts (cluster_forward_raw: no message is made for the peers).
 *
 * Which stages a source takes: client and will 1-2-3(-4); bus 2 (the origin
 * broker did 1 and 3); stored retained 2 without fan-out (retained store
 * only). Redis answers in order and a connection's message waits behind its
 * pending writes (sstore_barrier), so one client's packets keep their
 * order.
 *
 * Adding a durable write (e.g. the forwarder's append to a pipeline's Redis
 * Stream): one function in stage_durable's list in pipeline.c that issues
 * the write on the op with `issued(o, sstore_xxx(..., on_step, o))` and
 * says, in needs_write, when a message needs it, and the same in
 * pipeline_nothing_durable below (the inline path's test, which must not
 * take such a message). Nothing else changes: completion, ordering,
 * failure and the acknowledgement are the op's.
 *
 * Completions are callbacks passed in (pipe_origin_t.done), never calls
 * back up into handlers.
 */
#ifndef ROOST_BROKER_PIPELINE_H
#define ROOST_BROKER_PIPELINE_H

#include <errno.h>
#include <limits.h>
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

/* The message. Either its parts (a client PUBLISH: views into the read
 * buffer, copied only when kept) or m, when the source already holds one
 * (will, bus, stored); then the parts are ignored. */
typedef struct pipe_msg {
    pipe_source_t source;
    const char *topic;
    size_t topic_len;
    const uint8_t *payload;
    size_t payload_len;
    uint8_t qos;
    bool retain;
    /* a 5.0 PUBLISH: the properties kept (msg.h: per-hop ones removed,
     * props_len 0: none) and the expiry deadline (unix ms, 0: none) */
    const uint8_t *props;
    size_t props_len;
    uint64_t expiry_ms;
    bool same_topic; /* bus: same topic as the previous message of its frame:
                        the sessions matched for it are reused */
    msg_t *m;
    /* a will: whose it is, for the pipeline stage (a client's PUBLISH
     * takes them from its connection); NULL/0: nobody's */
    const char *client_id;
    size_t client_id_len;
    const char *username;
} pipe_msg_t;

/* Called when a client's message is through (rc 0, or PIPE_NO_SUBSCRIBERS)
 * or its durable writes failed (rc < 0; the callback closes the
 * connection, no acknowledgement). Only while the connection lives. */
typedef void (*pipe_done_fn)(conn_t *c, uint32_t cookie, int rc);
/* rc of a message through that no subscription matched, said only where
 * that is certain: a single node (every subscription is here) without
 * shared groups (stage_shared does not say whether one matched), and not
 * for a retained message (kept for the subscribers to come). A cluster
 * says 0: its peers' subscriptions are known by their literal prefixes
 * only (the bus's XPUB filters), and persistent sessions and pipelines
 * may keep the message (README "MQTT 5.0 messages"). */
#define PIPE_NO_SUBSCRIBERS 1

/* Who waits for a client's message. */
typedef struct pipe_origin {
    conn_t *conn;
    bool refused;      /* the handler refused the message (ACL, $SYS): it is not
                          written, routed or forwarded; the acknowledgement
                          still follows what is written before it */
    bool rx2;          /* record pid as received (QoS 2 of a persistent session) */
    uint16_t pid;
    pipe_done_fn done; /* NULL: nothing to call */
    uint32_t cookie;   /* passed back to done */
    bool quiet;        /* done only for a failure: a QoS 0 PUBLISH has nothing to
                          acknowledge (a cluster's closes the connection when
                          its writes fail) */
} pipe_origin_t;

/* Durable writes one connection may have in flight (its PUBLISHes in
 * stage 1, and those waiting behind them): at this many its reads pause
 * (like a SUBSCRIBE's) until half of them have completed, so a flood into a
 * retained or mapped topic while Redis is slow holds at most this many
 * messages per connection instead of growing without bound; TCP pushes
 * back on the client, nothing is dropped. */
#define PIPE_PENDING_MAX 1024

/* The stages for every case but the one pipeline_publish takes inline
 * (pipeline.c). */
int pipeline_stages(broker_t *b, const pipe_msg_t *msg, const pipe_origin_t *from);

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

/* True when a client's message, in a cluster, needs nothing written
 * (stage 1 is empty: no persistent session here or elsewhere queues it,
 * not retained, no pipeline takes it, no QoS 2 id to record) and no write
 * of its connection is pending ahead of it: it may go on at once. The
 * test pipeline.c's stage_durable makes, for the inline path below. */
static inline bool pipeline_nothing_durable(broker_t *b, const conn_t *c, const char *topic,
                                            size_t topic_len, uint8_t qos, bool retain,
                                            bool refused, bool rx2)
{
    if (retain || rx2 || c->persist_pending || routes_any(b->routes))
        return false;
    if (refused || !qos)
        return true;
    const char *const *cids;
    const size_t *lens;
    const uint8_t *q;
    return cluster_psub_match(b->cluster, topic, topic_len, qos, &cids, &lens, &q) == 0;
}

/* pipeline_now's answer for a message that does not take the inline path. */
#define PIPE_NOT_NOW INT_MIN

/* The inline path for a client's message without a 5.0 part (no message
 * object, no properties, no expiry), given by its parts (pipe_msg_t's and
 * pipe_origin_t's fields, c the origin's connection): with no shared group,
 * on a single node (nothing to write, no peers) or in a cluster when
 * pipeline_nothing_durable says so, stage 2 (route_local), stage 3 (the bus
 * from the parts: no message is made for the peers) and stage 4 run here.
 * Returns as pipeline_publish, or PIPE_NOT_NOW when the message is for
 * pipeline_stages (nothing was done). A handler that calls it first builds
 * its pipe_msg_t and pipe_origin_t only when it answers PIPE_NOT_NOW. */
static inline int pipeline_now(broker_t *b, conn_t *c, const char *topic, size_t topic_len,
                               const uint8_t *payload, size_t payload_len, uint8_t qos,
                               bool retain, bool refused, bool rx2, pipe_done_fn done,
                               uint32_t cookie, bool quiet)
{
    if (b->shared_groups || (b->cluster && !pipeline_nothing_durable(b, c, topic, topic_len, qos,
                                                                     retain, refused, rx2)))
        return PIPE_NOT_NOW; /* (shared groups: stage_shared) */
    int rc = 1;
    if (!refused) {
        b->cur_origin = c->sess; /* No Local */
        rc = route_local(b, topic, topic_len, payload, payload_len, qos, retain);
        b->cur_origin = NULL;
        if (rc < 0)
            return rc;
        if (b->cluster)
            cluster_forward_raw(b->cluster, topic, topic_len, payload, payload_len, qos, false,
                                NULL, 0);
    }
    if (done && !quiet)
        done(c, cookie, rc || retain || b->cluster ? 0 : PIPE_NO_SUBSCRIBERS);
    return 0;
}

/* Runs msg through the pipeline; from is NULL for every source but
 * PIPE_CLIENT. Returns 0 (done was called, or will be), or a negative code
 * when nothing was done (out of memory, Redis unreachable): the caller
 * closes the connection.
 *
 * Inline for a message from the bus (stage 2 alone) and for a client's
 * PUBLISH without a 5.0 part that pipeline_now takes (the commonest case);
 * every other case goes to pipeline_stages in pipeline.c. */
static inline int pipeline_publish(broker_t *b, const pipe_msg_t *msg, const pipe_origin_t *from)
{
    if (msg->source == PIPE_BUS) { /* stage 2 only: the origin broker did 1 and 3 */
        pipeline_route(b, msg->m, msg->same_topic);
        return 0;
    }
    if (msg->source == PIPE_CLIENT && !msg->m && !msg->props_len && !msg->expiry_ms) {
        int rc = pipeline_now(b, from->conn, msg->topic, msg->topic_len, msg->payload,
                              msg->payload_len, msg->qos, msg->retain, from->refused, from->rx2,
                              from->done, from->cookie, from->quiet);
        if (rc != PIPE_NOT_NOW)
            return rc;
    }
    return pipeline_stages(b, msg, from); /* (a 5.0 part: the message carries it) */
}

#endif

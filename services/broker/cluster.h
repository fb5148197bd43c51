/* cluster: this broker's place in the cluster (DESIGN.md "Clustering").
 *
 * Membership: a heartbeat in Redis every second (expiry 3 s) and a peer
 * list read at the same pace; the SUB socket connects to each live peer's
 * XPUB endpoint and disconnects from peers that are gone, so brokers join
 * and leave at runtime.
 *
 * Bus (bus.h: the sockets; busbatch.h: labels and batches; busframe.h: the
 * wire format): a message published here is sent once on the XPUB, in a
 * frame that starts 'm' + a label (or 'r' for retained messages, which
 * every broker takes): the longest prefix of its topic some peer
 * subscribed. Messages forwarded in one loop turn under one label share a
 * frame. This broker subscribes its SUB to 'm' + the literal prefix of each
 * local filter before its first wildcard (ZeroMQ counts repeated
 * subscriptions), so a message reaches exactly the brokers that may need
 * it, in one hop, and is matched exactly on arrival. Control messages ('c')
 * carry takeover requests and persistent-subscription changes.
 *
 * Persistent-subscription index (psindex.h): every broker keeps the persistent
 * subscriptions of the whole cluster (loaded from Redis, kept current by 'c'
 * messages, reloaded when Redis's version counter moves), so the broker that
 * receives a QoS 1/2 PUBLISH writes it to the Redis queue of every matching
 * persistent session, wherever (or whether) that session is connected,
 * before it acknowledges the PUBLISH.
 *
 * All on the broker loop; nothing blocks.
 */
#ifndef ROOST_BROKER_CLUSTER_H
#define ROOST_BROKER_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker.h"
#include "msg.h"
#include "store/redis_conf.h"
#include "store/sstore.h"

typedef struct cluster cluster_t;

typedef struct cluster_config {
    const redis_conf_t *redis; /* borrowed for cluster_new */
    const char *bus_bind;      /* ZeroMQ endpoint to bind the XPUB on */
    const char *bus_advertise; /* endpoint peers connect to; "" = the bound one */
    const char *bus_curve_secret; /* CurveZMQ key spec shared by the cluster; "" = plain */
} cluster_config_t;

/* Callbacks into the broker for control messages. */
typedef struct cluster_hooks {
    /* Another broker takes over client id cid: close it here (will as for
     * any takeover), then call cluster_released. */
    void (*kick)(broker_t *b, const char *cid, size_t len, const char *from_broker);
    /* from_broker released cid (answer to our kick). */
    void (*released)(broker_t *b, const char *cid, size_t len, const char *from_broker);
    /* A message from a peer, to route locally. Retained ones also update the
     * local retained map (the origin already wrote Redis). same_topic: m
     * follows, in the same frame, a message on the same topic delivered by
     * the previous call (the broker may reuse that routing). */
    void (*deliver)(broker_t *b, msg_t *m, bool same_topic);
    /* A peer joined: until our bus interest reaches it, what it published
     * for our persistent sessions is only in their Redis queues. */
    void (*peer_joined)(broker_t *b);
    /* A retained message read from Redis at startup, reconnection or after
     * a peer joined: retained_begin when the read goes out, retained for
     * each message of its answer, retained_end last (also when it failed;
     * < 0: the answer was dropped, read again). See route_retain_load_begin. */
    void (*retained)(broker_t *b, msg_t *m);
    /* Peer `id`'s bus link dropped: takeovers waiting for its answer go on. */
    void (*peer_gone)(broker_t *b, const char *id);
    /* A shared-subscription frame from a peer (shframe.h). */
    void (*shared)(broker_t *b, const uint8_t *f, size_t n);
    void (*retained_begin)(broker_t *b);
    int (*retained_end)(broker_t *b);
    /* The persistent-subscription index was read from Redis for the first
     * time: client messages may be routed from now on (cluster_ready). */
    void (*ready)(broker_t *b);
} cluster_hooks_t;

/* Caller owns the result; NULL on OOM. Copies the config strings. */
cluster_t *cluster_new(broker_t *b, const cluster_config_t *cfg, const cluster_hooks_t *hooks);
/* Binds the bus, starts Redis, membership and the index. 0 or a negative
 * code (logged). */
int cluster_start(cluster_t *c);
/* Leaves the registry (best effort), closes sockets, frees; nulls *c. */
void cluster_destroy(cluster_t **c);

sstore_t *cluster_store(cluster_t *c);
/* Peer id's bus link dropped (it died, closed, or missed ZeroMQ heartbeats)
 * and has not come back: it cannot answer a takeover, whatever its
 * registry entry still says. */
bool cluster_peer_gone(const cluster_t *c, const char *id);
const char *cluster_endpoint(const cluster_t *c);
/* A new entry id for a message this broker persists ("<broker>:<seq>"). */
void cluster_next_eid(cluster_t *c, char *out, size_t cap);

/* Sends the bus batches when due (at once when the loop is idle, after at
 * most a few busy turns otherwise), then reads what the bus sockets hold.
 * ZMQ_FD is edge-triggered and a send or a subscription change can consume
 * the edge (ZeroMQ processes pending commands then), so the broker calls
 * this at its safe point each loop turn, and must not sleep while
 * cluster_pending (cluster_poll sees to that for what it holds back). */
void cluster_poll(cluster_t *c);
/* True when forwarded messages wait in a batch for cluster_poll. */
bool cluster_pending(const cluster_t *c);
/* The persistent-subscription index has been read from Redis once. Before
 * that a client's QoS 1/2 message would be acknowledged without being queued
 * for the offline persistent sessions it matches: no client is taken in
 * (adopt_start refuses, the listeners are held: server.c). It stays true
 * across Redis reconnections (the index is kept and re-read, changes
 * replayed on top: psindex_load_begin). */
bool cluster_ready(const cluster_t *c);

/* Queues a locally published message for the peers that subscribed; it
 * leaves in a batch (cluster_poll). */
void cluster_forward(cluster_t *c, const msg_t *m);
/* The same from the message's parts (no entry id), for a caller that has
 * no msg_t. */
void cluster_forward_parts(cluster_t *c, const msg_parts_t *p);
/* Sends a shared-subscription frame to the broker it names (shframe.h);
 * takes ownership of the malloc'd frame. */
void cluster_send_frame(cluster_t *c, uint8_t *frame, size_t len);
/* Bus interest for a local (filter, session) pair, added and removed in
 * pairs. */
void cluster_interest(cluster_t *c, const char *filter, size_t len, bool add);

/* Persistent subscriptions: records the change in the local index and tells
 * the peers (Redis is written by the caller through sstore_sub_put/del). */
void cluster_psub(cluster_t *c, const char *cid, size_t cid_len, const char *filter,
                  size_t filter_len, uint8_t qos, bool add);
/* The persistent sessions whose subscriptions match topic, once each, with
 * the QoS each gets: its highest granted QoS, capped at max_qos (the
 * published QoS) [MQTT-3.3.5-1]; sessions that would get QoS 0 are left out
 * (QoS 0 is not queued). Arrays are owned by the cluster and valid
 * until the next call. */
size_t cluster_psub_match(cluster_t *c, const char *topic, size_t len, uint8_t max_qos,
                          const char *const **cids, const size_t **cid_lens, const uint8_t **qos);

/* Asks broker `target` to close client id cid (takeover). */
void cluster_kick(cluster_t *c, const char *target, const char *cid, size_t len);
/* Tells broker `target` that this broker has let go of cid. */
void cluster_released(cluster_t *c, const char *target, const char *cid, size_t len);

#endif

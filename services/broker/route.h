/* route: publish fan-out through the subscription trie, and retained
 * messages. */
#ifndef ROOST_BROKER_ROUTE_H
#define ROOST_BROKER_ROUTE_H

#include "broker.h"
#include "msg.h"

/* Delivers m to every session with a matching subscription, once per
 * session at the highest granted QoS of its matching filters
 * [MQTT-3.3.5-1], capped at m->qos. Live deliveries carry retain 0, or
 * m->retain through a 5.0 Retain As Published subscription; the
 * subscriptions of b->cur_origin (the publisher's session, when set) with
 * No Local do not deliver. */
void route_publish(broker_t *b, msg_t *m);
/* route_publish in two steps, for a caller that makes the message only when
 * someone here gets it: route_match finds the sessions (returns how many,
 * counting those whose ACL filters the topic out: they get nothing, but
 * route_deliver acknowledges a copy queued for them in Redis),
 * route_deliver delivers m (whose topic is the one matched) to them. No
 * routing in between. */
uint32_t route_match(broker_t *b, const char *topic, size_t len);
void route_deliver(broker_t *b, msg_t *m);

/* The local stage in one call, for a message that does not exist yet
 * (b->cur_origin set by the caller for No Local): matches p's topic
 * against the sessions here; only when one of them or the retained store
 * (p->retain) keeps it is the message made from the parts (a message
 * nobody here takes costs no allocation), stored as retained and
 * delivered. 1 when a subscription here matched, 0 when none did, or
 * -ENOMEM (nothing routed). */
int route_local(broker_t *b, const msg_parts_t *p);

/* Stores m as the retained message of its topic, or clears it when the
 * payload is empty [MQTT-3.3.1-10,11]. A new topic while --max-retained
 * are kept first removes the expired ones from memory (a walk at most once
 * a second), in Redis too (cluster); it is dropped only when none had
 * expired. */
void route_retain(broker_t *b, msg_t *m);

/* A read of the retained set from Redis (cluster.c: at connect, and after
 * a peer joins): route_retain_load_begin when its request goes out,
 * route_retain_stored for each message of its answer, route_retain_load_end
 * last, also when it failed. The answer may be older than what arrived
 * while it was on its way: a peer's retained message or clear comes by the
 * bus after its Redis write, which the read may have preceded. So a topic
 * route_retain changed since begin keeps its value, and the answer's
 * message for it is dropped: the same as replaying those changes on top of
 * the answer, as psindex does. Overlapping reads: changes are kept from
 * the first begin to the last end. route_retain_load_end: 0, or -ENOMEM
 * when a change could not be noted and the answers were dropped (read
 * again). */
void route_retain_load_begin(broker_t *b);
void route_retain_stored(broker_t *b, msg_t *m);
int route_retain_load_end(broker_t *b);

/* Sends the retained messages matching filter to s at up to the QoS in
 * options (with SUBOPT_FILTERED honoured), retain flag set [MQTT-3.3.1-8],
 * with the new subscription's identifier subid alone (0: none), not those
 * of s's other matching subscriptions [MQTT-3.3.4-3]. */
void route_send_retained(broker_t *b, session_t *s, const char *filter, size_t len, uint8_t qos,
                         uint32_t subid);

/* Frees every retained message (shutdown). */
void route_fini(broker_t *b);

#endif

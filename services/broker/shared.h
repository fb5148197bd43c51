/* shared: shared subscriptions, "$share/{name}/{filter}" (MQTT 5.0 section
 * 4.8.2; accepted from 3.1.1 clients too), balanced across the cluster
 * (DESIGN.md "Clustering").
 *
 * A group is (ShareName, filter). Its members are the sessions here that
 * subscribed to it (session.c hands "$share/" filters here instead of the
 * trie); every broker tells the others how many connected members it has
 * per group (shframe.h 'R'/'W' records: on every change and every second),
 * so each broker knows the cluster-wide membership. A group lives while it
 * has a member here, a peer announces members, or a message given to a
 * member or in custody (below) points at it; then it is freed (shgroup.c).
 *
 * A message published here (a client's PUBLISH or a will; never one from
 * the bus) that matches a group goes to exactly one member: this broker
 * picks a broker by smooth weighted round-robin over the connected members
 * per broker (shpick.h), and that broker picks one of its members
 * round-robin, skipping members whose in-flight window is full (or, at
 * QoS 0, whose output is backed up) and members whose ACL keeps the topic
 * from them; the member's granted QoS caps the delivery. A peer's member
 * is reached in one hop with a 'D' record addressed to that broker.
 *
 * No loss of QoS 1/2 messages, by custody: the publishing broker keeps each
 * message it sends to a peer until that peer says its member acknowledged
 * it (PUBACK, or PUBREC for QoS 2: 'A'). A member that goes away
 * (disconnect, session end) gives its unacknowledged shared messages back:
 * the ones published here are given to another member at once, a peer's
 * go back to their publisher ('N'), which chooses again. When a peer's bus
 * link drops (it died, or missed ZeroMQ heartbeats), its members leave the
 * choice and every message in its custody is given to another member.
 * QoS 1 may then deliver a message twice (the dead peer's member may have
 * acknowledged it just before), never zero times. When no member is
 * connected anywhere, the message is dropped and counted
 * (roost_broker_shared_dropped_total): a group is a pool of live
 * consumers.
 *
 * All on the broker loop.
 */
#ifndef ROOST_BROKER_SHARED_H
#define ROOST_BROKER_SHARED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker.h"
#include "msg.h"

typedef struct shared shared_t;

/* Caller owns the result; NULL on OOM. */
shared_t *shared_new(broker_t *b);
/* Frees everything (messages in custody are dropped); nulls *sh. */
void shared_destroy(shared_t **sh);
/* Shutdown: from now on a member's messages are not given to others. */
void shared_stop(shared_t *sh);

/* Session s subscribes to the shared filter f (options: QoS and
 * SUBOPT_FILTERED) or updates its options. 0, -ENOMEM, or
 * ROOST_EPROTO_TOPIC when f is not a valid shared filter. */
int shared_join(shared_t *sh, session_t *s, const char *f, size_t len, uint8_t opts);
/* SUBSCRIBE check of one filter: 0 for an ordinary or a valid shared
 * filter; for a "$share/" filter with an invalid ShareName or filter, a
 * negative code with *code set to the SUBACK code (0x80, 5.0: 0x8F Topic
 * Filter invalid) and a log line; with --disable-shared-subscriptions, the
 * same for any shared filter (5.0: 0x9E). */
struct conn;
int share_check(struct conn *c, const char *f, size_t len, uint8_t *code);
/* s leaves the group of f (nothing when it is not a member). */
void shared_leave(shared_t *sh, session_t *s, const char *f, size_t len);

/* Gives m (published here) to one member of each group its topic matches.
 * Worth calling only while some group exists anywhere: b->shared_groups >
 * 0, which the publish path reads inline. */
void shared_publish(shared_t *sh, msg_t *m);

/* s acknowledged m (PUBACK, or PUBREC at QoS 2). Nothing to do while
 * b->shared_holds is 0 (the callers test it inline). */
void shared_acked(shared_t *sh, session_t *s, const msg_t *m);
/* s's connection went away, or s ends: the shared messages it has not
 * acknowledged are taken from it and given to other members. */
void shared_session_gone(shared_t *sh, session_t *s);

/* Cluster: a shared frame from a peer (shframe.h), a peer whose bus link
 * dropped, and the frames to send (before_sleep). */
void shared_on_frame(shared_t *sh, const uint8_t *f, size_t n);
void shared_peer_gone(shared_t *sh, const char *id);
void shared_flush(shared_t *sh);

/* Prometheus text of the groups, members and counters; bytes written (as
 * snprintf: >= cap when truncated). */
int shared_metrics(const shared_t *sh, char *out, size_t cap);
/* The groups with members here, their members and deliveries, as a JSON
 * array (shjson.c; caller owns it; NULL on OOM): the instance record's
 * "shared" (beacon.c), which admin's /api/v1/instances passes on. */
struct json_t;
struct json_t *shared_json(const shared_t *sh);

#endif

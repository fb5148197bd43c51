/* adopt: taking a client id's session in a cluster, on CONNECT.
 *
 * 1. Take the client-id lease in Redis. If a live peer held it, ask that
 *    peer to close its connection (cluster_kick) and wait for its answer
 *    (at most ADOPT_RELEASE_WAIT_MS; a dead or silent peer is not waited
 *    for: its state is in Redis already. A peer whose bus link dropped or
 *    missed heartbeats counts as dead at once, even while its registry
 *    entry lives: see cluster_peer_gone).
 * 2. Clean session: delete the stored session. Persistent: load it (queue,
 *    subscriptions, QoS 2 state).
 * 3. the finish hook (connect_finish) builds the session, answers CONNACK, resumes reading;
 *    catch-up reads of the queue follow (see session_track_seen) so a
 *    message queued by a peer while this broker's bus subscription was
 *    still propagating is not left behind.
 * The connection stays in CONN_AUTHING (reads paused) throughout. A failure
 * refuses the CONNECT with "server unavailable".
 */
#ifndef ROOST_BROKER_ADOPT_H
#define ROOST_BROKER_ADOPT_H

#include <stdbool.h>
#include <stddef.h>

#include "acl/acl.h"
#include "broker.h"
#include "conn.h"

#define ADOPT_RELEASE_WAIT_MS 2000

struct sstore_session;

/* What an adoption ends in, passed in by the CONNECT handler (adopt calls
 * nothing above it): finish builds the session from the stored state and
 * answers CONNACK (connect_finish; takes ownership of *acl; 0 or a negative
 * code to refuse); foreign logs a CONNECT refused because another
 * credential holds the session (--session-owner-only). */
typedef struct adopt_hooks {
    int (*finish)(conn_t *c, const char *cid, size_t len, bool clean, acl_matcher_t **acl,
                  const struct sstore_session *stored);
    void (*foreign)(conn_t *c, const char *cid, size_t len);
} adopt_hooks_t;

/* Starts adoption; takes ownership of *acl (sets it to NULL); hooks are
 * borrowed for the adoption's life (a static table). 0, or a negative code
 * to refuse now (ROOST_ENOT_READY before the persistent-subscription index
 * is read, ROOST_ESTORE_UNAVAILABLE when Redis cannot be asked). */
int adopt_start(conn_t *c, const char *cid, size_t len, bool clean, acl_matcher_t **acl,
                const adopt_hooks_t *hooks);
/* The connection closed while adopting: forget it. */
void adopt_cancel(conn_t *c);
/* Cluster hooks: a peer asks us to close cid; a peer released cid. */
void adopt_on_kick(broker_t *b, const char *cid, size_t len, const char *from);
void adopt_on_released(broker_t *b, const char *cid, size_t len, const char *from);
/* Gives up waiting for peers that did not answer in time (periodic): every
 * expired adoption in one sweep. */
void adopt_sweep(broker_t *b);
/* Cluster hook: peer id's bus link dropped; adoptions waiting for its
 * answer go on now. */
void adopt_on_peer_gone(broker_t *b, const char *id);
/* A peer joined the cluster: every local persistent session gets a
 * catch-up read once our bus interest has had time to reach the peer. */
void adopt_on_peer_joined(broker_t *b);
/* Frees scheduled catch-up reads (shutdown). */
void adopt_fini(broker_t *b);

#endif

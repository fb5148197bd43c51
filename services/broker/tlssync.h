/* tlssync: admin's TLS certificates (lib/store/tlsconf.h) for this broker's
 * TLS listener, in cluster mode. Read through sstore at start, re-checked
 * every second (one round trip that answers "same" while the version is
 * unchanged) and at once on a ChangeEvent CERTIFICATES (kick.c), so a change
 * reaches new handshakes within a second even if the event is lost.
 * Established connections keep the context they started with. On the
 * broker loop; never blocks.
 */
#ifndef ROOST_BROKER_TLSSYNC_H
#define ROOST_BROKER_TLSSYNC_H

#include "broker.h"

typedef struct tlssync tlssync_t;

/* Needs b->cluster and b->tls. Caller owns; NULL on OOM. Starts loading. */
tlssync_t *tlssync_new(broker_t *b);
/* Call after cluster_destroy (a load in flight completes, failed, first). */
void tlssync_destroy(tlssync_t **t);
/* Re-reads now (a change event). */
void tlssync_refresh(tlssync_t *t);
/* From the sweep: re-reads once a second. */
void tlssync_tick(tlssync_t *t);

#endif

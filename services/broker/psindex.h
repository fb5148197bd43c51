/* psindex: the cluster-wide persistent-subscription index (DESIGN.md
 * "Clustering"): which persistent sessions, wherever they are connected,
 * have a subscription matching a topic, and at which QoS. Pure (a subtrie
 * and a map; no sockets, no Redis): cluster.c loads it from Redis and keeps
 * it current from the bus's control messages.
 */
#ifndef ROOST_BROKER_PSINDEX_H
#define ROOST_BROKER_PSINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct psindex psindex_t;

/* Caller owns the result; NULL on OOM. */
psindex_t *psindex_new(void);
/* Frees the index and sets *x to NULL; NULL-safe. */
void psindex_destroy(psindex_t **x);

/* Adds (or updates the QoS of) or removes one subscription of client id
 * cid. An invalid filter, or a shared one ("$share/", given live by shared.h, never queued), is ignored. 0, or -ENOMEM (the index lacks it). */
int psindex_apply(psindex_t *x, const char *cid, size_t cid_len, const char *filter,
                  size_t filter_len, uint8_t qos, bool add);
/* Empties the index. 0 or -ENOMEM (the index is then unusable: every match
 * finds nothing until a clear succeeds). */
int psindex_clear(psindex_t *x);
/* A reload from Redis: psindex_load_begin when its request goes out;
 * psindex_clear then the snapshot's psindex_apply calls when its answer
 * comes; psindex_load_end last, also when the load failed. The snapshot
 * may be older than updates applied while it was on its way (a peer sends
 * its control message before its Redis write lands): they are kept from
 * begin to clear and applied again on the snapshot at the end, so a
 * reload never forgets a subscription it knew. psindex_load_end: 0, or
 * -ENOMEM (an update may be missing: reload again). */
void psindex_load_begin(psindex_t *x);
int psindex_load_end(psindex_t *x);
/* Sessions with at least one subscription. */
size_t psindex_sessions(const psindex_t *x);

/* The sessions whose subscriptions match topic, once each, with the QoS
 * each gets: its highest granted QoS, capped at max_qos (the published QoS)
 * [MQTT-3.3.5-1]; sessions that would get QoS 0 are left out (QoS 0 is not
 * queued). Arrays are owned by the index and valid until the next call. */
size_t psindex_match(psindex_t *x, const char *topic, size_t len, uint8_t max_qos,
                     const char *const **cids, const size_t **cid_lens, const uint8_t **qos);

#endif

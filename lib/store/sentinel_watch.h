/* sentinel_watch: Sentinel's `+switch-master` for the synchronous store
 * (store.c: authd, admin, forwarder, roostctl). One blocking-mode hiredis
 * link to a Sentinel, subscribed to the channel; the store polls it
 * without waiting before each command, so a failover a Sentinel announced
 * moves the next command to the new primary instead of the old one (which,
 * after a manual failover, still takes writes until it is made a replica,
 * and loses them then). The broker's equivalent is ssentinel.h's watch.
 * Private to lib/store.
 */
#ifndef ROOST_STORE_SENTINEL_WATCH_H
#define ROOST_STORE_SENTINEL_WATCH_H

#include <stddef.h>

#include "store/sentinel.h"

typedef struct sentinel_watch sentinel_watch_t;

/* Connects to Sentinel i of s's list, AUTHs and subscribes; blocks up to
 * timeout_ms for each step. NULL when any of it failed (why, if non-NULL:
 * what did, with the Sentinel's words). */
sentinel_watch_t *sentinel_watch_open(const sentinel_t *s, size_t i, int timeout_ms, char *why, size_t why_cap);
void sentinel_watch_free(sentinel_watch_t **wp);
/* Reads what the Sentinel has sent, never waiting: 1 when a +switch-master
 * about s's master names an address other than host:port, 0 when nothing
 * does, -1 when the link is gone (free it). A switch is noted in s
 * (sentinel_note_switch at now_ms, a monotonic clock). */
int sentinel_watch_poll(sentinel_watch_t *w, sentinel_t *s, const char *host, int port, uint64_t now_ms);

#endif

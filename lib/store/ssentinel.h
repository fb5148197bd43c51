/* ssentinel: Sentinel discovery on an event loop, for the broker's async
 * store (sstore.c), so that a Sentinel out of reach never stalls the loop.
 * The same exchange as sentinel.h's blocking sentinel_resolve, driven by
 * non-blocking hiredis links on the loop (ss_io.h):
 *
 * - an ask: each Sentinel in turn (the last that answered first), AUTH if
 *   configured, `SENTINEL get-master-addr-by-name NAME`; each gets
 *   timeout_ms (connect and answer) before the next is tried; the first
 *   that answers moves to the front. The answer is only a candidate: the
 *   caller still checks ROLE on the node before writing.
 * - a watch: one subscription to `+switch-master` on a Sentinel (the front
 *   one), so a failover is followed the moment a Sentinel announces it. A
 *   watch link that drops or does not subscribe within a second moves to
 *   the next Sentinel; after an ask had to go past the front Sentinel, the
 *   watch moves to the one that answered. The watch is a shortcut, not the
 *   guarantee: callers keep re-asking (sentinel_recheck_due) and reacting
 *   to READONLY and lost links.
 *
 * Callbacks come from the loop, never from inside the call that started
 * them. Host names are resolved off the loop (ss_dns.h).
 */
#ifndef ROOST_STORE_SSENTINEL_H
#define ROOST_STORE_SSENTINEL_H

#include <stdbool.h>

#include "base/loop.h"
#include "store/sentinel.h"

typedef struct ssentinel ssentinel_t;

/* rc 0: host:port is what a Sentinel names now (host valid during the
 * call); ROOST_EUNAVAILABLE: none answered (host NULL). */
typedef void (*ssentinel_addr_fn)(int rc, const char *host, int port, void *arg);
/* A Sentinel announced that the master now lives at host:port. */
typedef void (*ssentinel_switch_fn)(const char *host, int port, void *arg);

/* Takes the list *sp (NULL afterwards, also on failure). NULL on OOM. */
ssentinel_t *ssentinel_new(loop_t *loop, sentinel_t **sp);
/* Closes its links; no callback runs afterwards. NULL-safe. */
void ssentinel_free(ssentinel_t **ap);
/* The list: its order, the re-ask pacing (sentinel_recheck_due). */
sentinel_t *ssentinel_list(ssentinel_t *a);
/* Starts an ask; fn runs once with its outcome. An ask in flight is
 * dropped (its fn never runs). 0 or -ENOMEM. */
int ssentinel_ask(ssentinel_t *a, int timeout_ms, ssentinel_addr_fn fn, void *arg);
bool ssentinel_asking(const ssentinel_t *a);
/* Starts the watch; fn runs for every `+switch-master` about our master.
 * 0, or -EALREADY. */
int ssentinel_watch(ssentinel_t *a, ssentinel_switch_fn fn, void *arg);

#endif

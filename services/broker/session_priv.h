/* Private to the session module's files (session.c, session_rx2.c,
 * session_expiry.c, session_subs.c). */
#ifndef ROOST_BROKER_SESSION_PRIV_H
#define ROOST_BROKER_SESSION_PRIV_H

#include "session.h"

/* The done callback of a session's Redis writes: counts a failure in
 * b->stats.store_failures (arg is the broker_t). */
void session_store_done(int rc, void *arg);

/* Subscription e of s into routing (the trie, or its shared group);
 * fresh: a new subscription (the bus interest is counted per
 * subscription). Again for an existing one: its options are updated. 0,
 * -ENOMEM, ROOST_EPROTO_TOPIC (a shared filter with shared subscriptions
 * off). */
int session_sub_attach(broker_t *b, session_t *s, const sub_entry_t *e, bool fresh);
/* Subscription e of s out of routing and the bus interest. */
void session_sub_detach(broker_t *b, session_t *s, const sub_entry_t *e);
/* Frees e's filter (its subref_t when it has an identifier). */
void session_sub_free(sub_entry_t *e);

#endif

/* Private to the session module's files (session.c, session_rx2.c,
 * session_expiry.c). */
#ifndef ROOST_BROKER_SESSION_PRIV_H
#define ROOST_BROKER_SESSION_PRIV_H

/* The done callback of a session's Redis writes: counts a failure in
 * b->stats.store_failures (arg is the broker_t). */
void session_store_done(int rc, void *arg);

#endif

/* zap: a ZeroMQ Authentication Protocol handler (RFC 27) that lets a CURVE
 * client finish its handshake only when its public key is on a list, so a
 * CURVE server socket in the same context answers only the holders of those
 * keys (CurveZMQ proves the client holds the matching secret).
 *
 * One per ZeroMQ context (the endpoint inproc://zeromq.zap.01 is global to
 * it); every CURVE server socket of that context is checked. The handler is
 * a REP socket the owner joins to its loop: rpc_zap_fd with LOOP_EDGE, and
 * rpc_zap_drain from the callback. Refusals are logged (with the address and
 * the key's Z85 prefix). Not thread-safe: the loop thread only.
 */
#ifndef ROOST_RPC_ZAP_H
#define ROOST_RPC_ZAP_H

#include <stddef.h>

typedef struct rpc_zap rpc_zap_t;

/* allowed: comma-separated public key specs (rpc_curve_load_key: Z85 text
 * or a file holding it), at least one. `what` names the service in logs.
 * 0, ROOST_ECONFIG (a bad key, logged naming the option), -ENOMEM or -errno
 * from ZeroMQ. */
int rpc_zap_new(void *zctx, const char *allowed, const char *what, rpc_zap_t **out);
void rpc_zap_destroy(rpc_zap_t **z);
/* The REP socket's ZMQ_FD, or -1. */
int rpc_zap_fd(const rpc_zap_t *z);
/* Answers every pending request. */
void rpc_zap_drain(rpc_zap_t *z);
/* Number of allowed keys. */
size_t rpc_zap_keys(const rpc_zap_t *z);

#endif

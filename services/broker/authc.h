/* authc: the broker's client of roost-authd (DESIGN.md "CONNECT").
 *
 * One ZeroMQ DEALER connected to every authd endpoint: ZeroMQ spreads
 * requests over the live ones, and ZMQ_IMMEDIATE keeps requests off
 * endpoints that are not connected. A request that finds no link at all (a
 * broker just started, authd restarting) waits in the broker and is retried
 * every 20 ms until a link is up or its deadline passes; once every link has
 * been down for longer than that timeout, CONNECTs are refused at once. The DEALER's ZMQ_FD
 * joins the broker loop edge-triggered; nothing here blocks. Each request
 * carries an id and an absolute deadline; a reply that arrives after its
 * deadline, or for a connection that went away, is dropped. No answer by the
 * deadline: the CONNECT is refused with "server unavailable" (CONNACK 3),
 * never accepted without a decision.
 *
 * While a CONNECT waits its connection is in CONN_AUTHING and reads nothing.
 */
#ifndef ROOST_BROKER_AUTHC_H
#define ROOST_BROKER_AUTHC_H

#include <stdbool.h>
#include <stddef.h>

#include "acl/acl.h"
#include "broker.h"
#include "conn.h"
#include "mqtt/mqtt.h"

typedef struct authc authc_t;

/* What an allowed CONNECT goes on to (the handler's connect_accept, passed
 * in: authc calls nothing above it): the ACL compiled from authd's answer
 * (ownership taken, *acl set to NULL). 0, or a negative code to refuse. */
typedef int (*authc_accept_fn)(conn_t *c, const char *client_id, size_t id_len, bool clean,
                               acl_matcher_t **acl);

/* endpoints: comma-separated ZeroMQ endpoints ("tcp://127.0.0.1:5560,...").
 * server_key / client_key: CurveZMQ key specs (lib/rpc/curve.h), NULL or ""
 * for plain. Caller owns the result; NULL on OOM. */
authc_t *authc_new(broker_t *b, const char *endpoints, int timeout_ms, const char *server_key,
                   const char *client_key, authc_accept_fn accept);
/* Creates the socket, connects, joins the loop. 0 or a negative code (logged). */
int authc_start(authc_t *a);
/* Fails every pending CONNECT with "unavailable", frees, sets *a to NULL. */
void authc_destroy(authc_t **a);

/* Sends the CONNECT's credentials and pauses the connection. 0 when the
 * request is on its way (the outcome arrives later through the accept
 * function or dispatch_fail), or a negative code to refuse now
 * (ROOST_EUNAVAILABLE when no authd can take it). The password bytes in the
 * packet (the caller's read buffer) are zeroed once sent. */
int authc_request(authc_t *a, conn_t *c, const mqtt_connect_t *p, const char *client_id,
                  size_t id_len);
/* Forgets the pending request of a closing connection (its reply will be
 * dropped). */
void authc_cancel(authc_t *a, conn_t *c);
/* Reads the replies that arrived (before_sleep: ZMQ_FD is edge-triggered
 * and the requests sent during a batch may already have answers). */
void authc_poll(authc_t *a);
/* Refuses the CONNECTs whose deadline passed; called periodically. */
void authc_sweep(authc_t *a);
/* At least one authd endpoint is connected now (monitor events). */
bool authc_linked(const authc_t *a);

#endif

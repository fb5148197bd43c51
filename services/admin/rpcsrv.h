/* rpcsrv: admin's ZeroMQ door and change-event publisher, on one loop
 * thread (lib/base/loop.h).
 *
 *   ROUTER on rpc_bind: [identity...][empty][AdminRequest] (lib/rpc/admin.h);
 *     each request is authenticated by its token and handed to ops_call;
 *     the reply carries the HTTP API's status and JSON. Requests whose
 *     deadline has passed are dropped unanswered. Requests are handled one
 *     at a time on the loop thread (each blocks it on Redis for its length).
 *   PUB on pub_bind: every ChangeEvent queued by ops (events.h), flushed
 *     when the events eventfd wakes the loop. The only user of the socket.
 */
#ifndef ROOST_ADMIN_RPCSRV_H
#define ROOST_ADMIN_RPCSRV_H

#include "base/loop.h"
#include "events.h"
#include "metrics.h"
#include "ops.h"

typedef struct rpcsrv rpcsrv_t;

/* Binds both sockets on zctx and registers them with loop. 0 and *out
 * (caller owns; rpcsrv_destroy before the loop and zctx go) or a negative
 * code. Everything passed is borrowed. */
int rpcsrv_start(loop_t *loop, void *zctx, const char *rpc_bind, const char *pub_bind,
                 const char *curve_secret, ops_t *ops, events_t *events, metrics_t *metrics,
                 rpcsrv_t **out);
/* Flushes queued events, unregisters, closes the sockets; nulls *sp. */
void rpcsrv_destroy(rpcsrv_t **sp);

#endif

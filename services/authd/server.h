/* server: authd's request pipeline on the event loop.
 *
 *   ROUTER (loop) -> deadline / throttle (guard.h) / overload checks -> lookup queue
 *                    (a slowed request waits on a loop timer first)
 *   lookup workers (store_t each) -> reply, or hash queue
 *   hash workers (argon2id)       -> done queue (eventfd) -> loop -> ROUTER
 *   SUB (loop, optional): change events drop cache entries.
 *
 * Only the loop thread touches the ZeroMQ sockets. Requests whose deadline
 * has passed are dropped without a reply at every stage (the broker has
 * already answered "server unavailable"). server_stop unregisters the
 * sockets, joins every worker and frees jobs still queued.
 */
#ifndef ROOST_AUTHD_SERVER_H
#define ROOST_AUTHD_SERVER_H

#include <stddef.h>

#include "auth.h"
#include "base/loop.h"
#include "conf.h"

typedef struct server server_t;

/* Borrows everything (all must outlive the server). Caller owns the result;
 * NULL on OOM. */
server_t *server_new(loop_t *loop, void *zctx, const authd_conf_t *conf, auth_ctx_t *auth);
/* Starts workers, binds the ROUTER, connects the SUB, joins the loop.
 * 0 or a negative code (logged). Blocks only to bind/connect. */
int server_start(server_t *s);
/* Leaves the loop, closes the sockets, stops and joins the workers. */
void server_stop(server_t *s);
/* Stops, frees; nulls *s. */
void server_destroy(server_t **s);

size_t server_lookup_depth(server_t *s);
size_t server_hash_depth(server_t *s);

#endif

/* events: hands ChangeEvents from the threads that commit writes (HTTP pool
 * threads, the RPC loop) to the one thread that owns the PUB socket.
 *
 * Producers call events_push from any thread (a mutex-guarded FIFO); the
 * owner watches events_fd (an eventfd, readable when events wait) in its
 * loop and calls events_flush, which publishes every queued event on the PUB
 * socket in commit order. The PUB socket is touched by the owner only.
 * Bounded: past EVENTS_MAX queued events push drops the event and counts it
 * (correctness never depends on an event: DESIGN "Change events").
 */
#ifndef ROOST_ADMIN_EVENTS_H
#define ROOST_ADMIN_EVENTS_H

#include <stdint.h>

#include "rpc/rpc.h"

#define EVENTS_MAX 10000

typedef struct events events_t;

/* Caller owns the result; NULL on failure. */
events_t *events_new(void);
void events_destroy(events_t **ep);
/* Copies e (object_id and username too). Any thread. 0, -ENOMEM or
 * ROOST_EQUEUE_FULL. */
int events_push(events_t *ev, const rpc_change_event_t *e);
/* The eventfd to watch (LOOP_READ). */
int events_fd(const events_t *ev);
/* Owner thread: sends every queued event on pub; returns how many. */
int events_flush(events_t *ev, void *pub);
uint64_t events_dropped(events_t *ev);

#endif

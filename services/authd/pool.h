/* pool: N threads taking jobs from one queue.
 *
 * Each thread first calls init(arg, index) to build its private state (an
 * authd lookup worker opens its own store_t there), then runs
 * run(state, node) for every node it pops, and fini(state) on the way out.
 * run decides where the job goes next (another queue); the pool never frees
 * a node. pool_stop closes the queue, lets the threads finish the job in hand
 * and joins them; nodes still queued stay in the queue for the caller.
 */
#ifndef ROOST_AUTHD_POOL_H
#define ROOST_AUTHD_POOL_H

#include "queue.h"

typedef void *(*pool_init_fn)(void *arg, unsigned index);
typedef void (*pool_run_fn)(void *state, queue_node_t *node);
typedef void (*pool_fini_fn)(void *state);

typedef struct pool pool_t;

/* Borrows q (it must outlive the pool). init and fini may be NULL (state is
 * then arg). Caller owns the result; NULL on OOM. */
pool_t *pool_new(queue_t *q, unsigned nthreads, pool_init_fn init, pool_run_fn run, pool_fini_fn fini,
                 void *arg);
/* Starts the threads. 0 or -errno (threads already started are stopped). */
int pool_start(pool_t *p);
/* Closes the queue and joins the threads. Idempotent. */
void pool_stop(pool_t *p);
/* Stops, then frees; nulls *p. */
void pool_destroy(pool_t **p);

#endif

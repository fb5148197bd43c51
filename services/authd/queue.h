/* queue: a FIFO of intrusive nodes shared between threads (mutex + condvar),
 * optionally waking an event loop through an eventfd.
 *
 * Producers push from any thread; consumers either block in queue_pop_wait
 * (worker threads) or drain with queue_pop_nowait after the eventfd became
 * readable (the loop thread). The queue never owns the nodes: whoever pops
 * one owns the job it is embedded in. queue_close wakes every waiter; after
 * it, queue_pop_wait returns NULL once the queue is empty.
 */
#ifndef ROOST_AUTHD_QUEUE_H
#define ROOST_AUTHD_QUEUE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct queue_node {
    struct queue_node *next;
} queue_node_t;

typedef struct queue queue_t;

/* with_eventfd: create an eventfd written on every push (queue_fd).
 * Caller owns the result; NULL on OOM or when the eventfd cannot be made. */
queue_t *queue_new(bool with_eventfd);
/* Frees the queue (not the nodes still in it: drain first); nulls *q. */
void queue_destroy(queue_t **q);

void queue_push(queue_t *q, queue_node_t *n);
/* Blocks until a node is available or the queue is closed and empty (NULL). */
queue_node_t *queue_pop_wait(queue_t *q);
/* NULL when empty; never blocks. */
queue_node_t *queue_pop_nowait(queue_t *q);
size_t queue_len(queue_t *q);
void queue_close(queue_t *q);

/* The eventfd (non-blocking, readable after a push), or -1. */
int queue_fd(const queue_t *q);
/* Resets the eventfd counter; call before draining with queue_pop_nowait. */
void queue_ack(queue_t *q);

#endif

/* loop: a small epoll event loop (STYLE.md 10): fd events, timers and a
 * before_sleep hook that runs before every wait (where services flush
 * pending writes and free connections closed during the batch).
 *
 * Single-threaded: every call but loop_stop must come from the loop's thread;
 * loop_stop may come from a signal handler. Callbacks may add and remove fds
 * and timers, including their own. A ZeroMQ socket joins through its ZMQ_FD
 * with LOOP_EDGE, and its callback must drain ZMQ_EVENTS until empty.
 */
#ifndef ROOST_BASE_LOOP_H
#define ROOST_BASE_LOOP_H

#include <stdbool.h>
#include <stdint.h>

typedef struct loop loop_t;

enum { LOOP_READ = 1u, LOOP_WRITE = 2u, LOOP_EDGE = 4u };

/* events: LOOP_READ | LOOP_WRITE bits that fired; errors and hang-ups are
 * reported as LOOP_READ so the read path sees them. */
typedef void (*loop_fd_fn)(loop_t *l, int fd, unsigned events, void *arg);
/* Returns the delay in ms until it runs again, or 0 to be removed. */
typedef uint64_t (*loop_timer_fn)(loop_t *l, void *arg);
typedef void (*loop_hook_fn)(loop_t *l, void *arg);

/* Caller owns the result; NULL on failure (errno set). */
loop_t *loop_new(void);
/* Closes the epoll fd (not the watched fds) and sets *l to NULL; NULL-safe. */
void loop_destroy(loop_t **l);

/* Watches fd for events (LOOP_READ|LOOP_WRITE, optionally LOOP_EDGE).
 * 0 or -errno. One registration per fd. */
int loop_add_fd(loop_t *l, int fd, unsigned events, loop_fd_fn fn, void *arg);
/* Changes the events of a watched fd. 0 or -errno. */
int loop_mod_fd(loop_t *l, int fd, unsigned events);
/* Stops watching fd; pending events for it in this batch are dropped. */
void loop_del_fd(loop_t *l, int fd);

/* Runs fn after delay_ms (then again after what fn returns). Returns a timer
 * id > 0, or 0 on OOM. */
uint64_t loop_add_timer(loop_t *l, uint64_t delay_ms, loop_timer_fn fn, void *arg);
void loop_del_timer(loop_t *l, uint64_t id);

void loop_set_before_sleep(loop_t *l, loop_hook_fn fn, void *arg);
/* For a before_sleep hook that holds work back to batch it: the number of
 * fd events the last wait returned (0: the loop found nothing to do), and
 * a way to make the coming wait return at once instead of sleeping on
 * that work. */
int loop_last_ready(const loop_t *l);
void loop_no_sleep(loop_t *l);

/* Runs until loop_stop (which it consumes: loop_run may be called again).
 * Returns 0, or -errno if epoll_wait fails. */
int loop_run(loop_t *l);
/* Async-signal-safe: makes loop_run return after the current batch. */
void loop_stop(loop_t *l);

/* Monotonic milliseconds, cached once per loop turn. */
uint64_t loop_now(const loop_t *l);
/* Monotonic milliseconds now (a clock read). */
uint64_t loop_clock_ms(void);

#endif

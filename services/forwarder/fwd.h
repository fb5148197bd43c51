/* fwd: the forwarding engine of roost-forwarder. One thread: Redis (lib/store,
 * blocking, local) for routes and queues, libcurl's multi interface for HTTP.
 *
 * Per pipeline it holds a window of messages read through the consumer
 * group (in stream order; a bundle entry's messages one by one, pipeq.h),
 * sends them one per request or in batches (batch_size, linger_ms; a batch
 * may mix messages of several entries), at most --inflight requests at
 * once, and per message:
 *   2xx                  -> delivered, counted forwarded
 *   429                  -> back to the front, nothing sent before
 *                           Retry-After (seconds or HTTP date; backoff if
 *                           absent); does not count as an attempt
 *   408, 5xx, timeout,   -> an attempt; back to the front after
 *   connection error        base * 2^(attempts-1) ms (capped), half of it
 *                           random (jitter); at max_attempts: dead letter
 *   other 4xx            -> dead letter at once (the receiver refuses it)
 * An entry is acknowledged (XACK + trim/XDEL, pipeq_ack) once all its
 * messages are delivered or dead-lettered.
 * A paused pipeline is neither read nor sent (its queue keeps filling).
 * Entries this forwarder holds (waiting, in a request, or delivered with the
 * ack not yet in Redis) are touched (XCLAIM JUSTID) every third of
 * --claim-idle-ms; entries idle longer than that belong to a forwarder that
 * died and are claimed (XAUTOCLAIM) and merged in stream order, skipping
 * those held.
 * Routes (pipelines) are reloaded when routes:version changes (polled).
 *
 * Threads: fwd_run on one thread; fwd_healthy and fwd_metrics may be called
 * from another (the HTTP thread) at any time.
 */
#ifndef ROOST_FORWARDER_FWD_H
#define ROOST_FORWARDER_FWD_H

#include <signal.h>
#include <stdbool.h>

#include "base/buf.h"
#include "conf.h"

typedef struct fwd fwd_t;

/* Borrows conf (outlives fwd). Caller owns; NULL on OOM or a libcurl
 * failure. */
fwd_t *fwd_new(const fwd_conf_t *conf, const char *consumer);
/* Runs until *stop becomes non-zero, then drains (conf drain_ms). 0. */
int fwd_run(fwd_t *f, volatile sig_atomic_t *stop);
void fwd_destroy(fwd_t **fp);

/* Redis reachable and the loop turning. Thread-safe. */
bool fwd_healthy(fwd_t *f);
/* Appends the last Prometheus snapshot (refreshed every 500 ms). 0 or
 * -ENOMEM. Thread-safe. */
int fwd_metrics(fwd_t *f, buf_t *out);

#endif

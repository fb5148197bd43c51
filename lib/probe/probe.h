/* probe: a service's /healthz and /metrics over libmicrohttpd, on its own
 * thread (roost-authd, roost-forwarder; the broker and admin serve more and
 * have their own).
 *
 *   GET /healthz  200 "ok" when health() returns 0, else 503 "unavailable"
 *   GET /metrics  200 Prometheus text from render()
 *   anything else 404; methods other than GET/HEAD 405.
 *
 * The callbacks run on the HTTP thread, one request at a time (MHD's
 * internal polling thread), so state they own (a store_t) needs no lock.
 */
#ifndef ROOST_PROBE_H
#define ROOST_PROBE_H

#include "base/buf.h"

typedef int (*probe_health_fn)(void *arg);
typedef int (*probe_render_fn)(void *arg, buf_t *out);

typedef struct probe probe_t;

/* Borrows bind (an IPv4 address). Caller owns the result; NULL on OOM. */
probe_t *probe_new(const char *bind, int port, probe_health_fn health, probe_render_fn render, void *arg);
/* Starts listening. 0, ROOST_ECONFIG (bad address) or -EADDRINUSE-like. */
int probe_start(probe_t *h);
/* Stops the thread and frees; nulls *h. */
void probe_destroy(probe_t **h);

#endif

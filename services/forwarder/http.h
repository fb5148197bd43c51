/* http: roost-forwarder's /healthz and /metrics (libmicrohttpd, its own
 * thread). /healthz: 200 "ok" while fwd_healthy, else 503; /metrics: the
 * engine's last Prometheus snapshot; anything else 404, non-GET 405. */
#ifndef ROOST_FORWARDER_HTTP_H
#define ROOST_FORWARDER_HTTP_H

#include "fwd.h"

typedef struct fhttp fhttp_t;

/* Starts listening on bind:port (IPv4). NULL on a bad address, a busy port
 * or OOM (*err says which: ROOST_ECONFIG, -EADDRINUSE, -ENOMEM). */
fhttp_t *fhttp_start(const char *bind, int port, fwd_t *f, int *err);
void fhttp_stop(fhttp_t **h);

#endif

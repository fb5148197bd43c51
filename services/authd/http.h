/* http: authd's /healthz and /metrics over libmicrohttpd, on its own thread.
 *
 *   GET /healthz  200 "ok" when health() returns 0, else 503 "unavailable"
 *   GET /metrics  200 Prometheus text from render()
 *   anything else 404; methods other than GET/HEAD 405.
 *
 * The callbacks run on the HTTP thread, one request at a time (MHD's
 * internal polling thread), so state they own (a store_t) needs no lock.
 */
#ifndef ROOST_AUTHD_HTTP_H
#define ROOST_AUTHD_HTTP_H

#include "base/buf.h"

typedef int (*http_health_fn)(void *arg);
typedef int (*http_render_fn)(void *arg, buf_t *out);

typedef struct http http_t;

/* Borrows bind (an IPv4 address). Caller owns the result; NULL on OOM. */
http_t *http_new(const char *bind, int port, http_health_fn health, http_render_fn render, void *arg);
/* Starts listening. 0, ROOST_ECONFIG (bad address) or -EADDRINUSE-like. */
int http_start(http_t *h);
/* Stops the thread and frees; nulls *h. */
void http_destroy(http_t **h);

#endif

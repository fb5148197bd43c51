/* http: the broker's /healthz and /metrics on its own loop.
 *
 * A deliberately tiny HTTP/1.0-style responder: one GET per connection,
 * request read up to 4 KiB with a 5 s deadline, answer written, connection
 * closed. Non-blocking like every other socket of the loop.
 *   /healthz  200 "ok" while the broker accepts connections and, in a
 *             cluster, Redis is connected; 503 with the reason otherwise.
 *   /metrics  Prometheus text: connections, sessions, messages, drops,
 *             denials, store failures.
 */
#ifndef ROOST_BROKER_HTTP_H
#define ROOST_BROKER_HTTP_H

#include "broker.h"

typedef struct http http_t;

/* Listens on bind:port. NULL (logged) when the socket cannot be opened. */
http_t *http_new(broker_t *b, const char *bind, int port);
void http_destroy(http_t **h);

#endif

/* metrics: Prometheus counters for the admin HTTP API and RPC: requests by
 * route template, method and status, and a latency histogram per route.
 * Thread-safe (one mutex); routes are static strings (templates such as
 * "/api/v1/clients/{id}"), so cardinality stays bounded.
 */
#ifndef ROOST_ADMIN_METRICS_H
#define ROOST_ADMIN_METRICS_H

#include <stddef.h>

#include "base/buf.h"

typedef struct metrics metrics_t;

metrics_t *metrics_new(void);
void metrics_destroy(metrics_t **mp);
/* Records one request. route and method must be static strings. */
void metrics_observe(metrics_t *m, const char *door, const char *route, const char *method, unsigned status,
                     double seconds);
/* Appends the Prometheus text exposition to out. 0 or -ENOMEM. */
int metrics_render(metrics_t *m, buf_t *out);

#endif

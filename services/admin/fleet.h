/* fleet: what admin knows about the running services, for the Overview and
 * Instances pages, /api/v1/overview, /api/v1/instances and `roostctl status`.
 *
 * A thread reads every instance record (lib/store/instances.h) each
 * FLEET_TICK_MS and appends one point per instance to a fixed history of
 * FLEET_POINTS ticks (one hour): gauges as read, counters turned into rates
 * per second from consecutive records. Memory is fixed: at most
 * FLEET_SLOTS instances, each a preallocated ring; an instance unseen for an
 * hour gives its slot back. Nothing grows with time or traffic.
 *
 * Threads: fleet_* readers may run on any thread at once (one mutex).
 */
#ifndef ROOST_ADMIN_FLEET_H
#define ROOST_ADMIN_FLEET_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/redis_conf.h"

#define FLEET_TICK_MS 2000
#define FLEET_POINTS 1800 /* one hour of ticks */
#define FLEET_SLOTS 64

typedef struct fleet fleet_t;

typedef struct fleet_config {
    const redis_conf_t *redis; /* borrowed for fleet_new */
    const char *endpoints; /* comma-separated device URLs (mqtt://, mqtts://, ws://, wss://) */
} fleet_config_t;

/* Checks an endpoints list: 0, or -1 with *why set (static text). */
int fleet_check_endpoints(const char *endpoints, const char **why);

/* Copies cfg. Caller owns the result; NULL on OOM. */
fleet_t *fleet_new(const fleet_config_t *cfg);
/* Starts the collecting thread. 0 or -errno. */
int fleet_start(fleet_t *f);
/* Stops and joins the thread, frees; nulls *fp. NULL-safe. */
void fleet_destroy(fleet_t **fp);

/* Runs one collection now (the thread's tick; tests and the thread). */
void fleet_tick(fleet_t *f);

/* The documents of the API (caller owns; NULL on OOM). since_ms: only
 * history points after it (0: the whole hour; a future time: none). */
json_t *fleet_overview(fleet_t *f, int64_t since_ms);
json_t *fleet_instances(fleet_t *f);
/* One instance, "<kind>:<id>", with its history; NULL and *found false when
 * admin knows no such instance. */
json_t *fleet_instance(fleet_t *f, const char *key, int64_t since_ms, bool *found);

#endif

/* beacon: a thread that puts this process's instance record
 * (store/instances.h) every period on a Redis connection of its own, so a
 * slow Redis never holds up the service's own loop. The record is the
 * common fields (kind, version, state "serving", started_ms, at_ms, cpu_ms,
 * rss_bytes) plus whatever fields(arg) adds; ttl three periods.
 * (The broker puts its record from its event loop instead: broker/beacon.c.)
 */
#ifndef ROOST_STORE_BEACON_H
#define ROOST_STORE_BEACON_H

#include <jansson.h>
#include <stdint.h>

#include "store/redis_conf.h"

typedef struct store_beacon store_beacon_t;

typedef struct store_beacon_config {
    const redis_conf_t *redis;     /* where and how (borrowed for the call) */
    const char *kind;              /* "authd", "forwarder" */
    const char *id;                /* "" = HOSTNAME-PID */
    uint64_t started_ms;
    uint64_t period_ms;
    /* Adds the service's own fields to o (called on the beacon's thread);
     * NULL: common fields only. */
    void (*fields)(json_t *o, void *arg);
    void *arg;
} store_beacon_config_t;

/* Copies cfg's strings and starts the thread. 0 and *out (caller owns;
 * store_beacon_stop), or a negative code. */
int store_beacon_start(const store_beacon_config_t *cfg, store_beacon_t **out);
/* Stops and joins the thread, frees; nulls *bp. NULL-safe. */
void store_beacon_stop(store_beacon_t **bp);

/* Adds the common fields to o. 0 or -ENOMEM. */
int store_instance_common(json_t *o, const char *kind, const char *state, uint64_t started_ms);

#endif

/* beacon: this replica's instance record for admin's Overview and Instances
 * pages (lib/store/instances.h). A thread of its own puts a small JSON object
 * (version, uptime, CPU, RSS, requests by result, cache hits and misses)
 * into Redis every BEACON_MS with a ttl of three periods, on its own store
 * handle, so a slow Redis never holds up the request loop.
 */
#ifndef ROOST_AUTHD_BEACON_H
#define ROOST_AUTHD_BEACON_H

#include <stdint.h>

#include "conf.h"
#include "metrics.h"

#define BEACON_MS 1000

typedef struct beacon beacon_t;

/* Borrows conf and metrics (they outlive the beacon). Caller owns the
 * result; NULL on OOM. */
beacon_t *beacon_new(const authd_conf_t *conf, const metrics_t *metrics, uint64_t started_ms);
/* Starts the thread. 0 or -errno. */
int beacon_start(beacon_t *bc);
/* Stops and joins the thread, frees; nulls *bp. NULL-safe. */
void beacon_destroy(beacon_t **bp);
/* The record as JSON text (caller owns, free()); NULL on OOM. */
char *beacon_record(const beacon_t *bc);

#endif

/* beacon: this broker's instance record for admin's Overview and Instances
 * pages (lib/store/instances.h): every BEACON_MS it puts a small JSON object
 * (state, version, uptime, CPU, RSS, connections and the counters the charts
 * derive rates from) into Redis with a ttl of three periods. Cluster mode
 * only: a single node without Redis has nobody to report to.
 */
#ifndef ROOST_BROKER_BEACON_H
#define ROOST_BROKER_BEACON_H

#include "broker.h"

#define BEACON_MS 1000

typedef struct beacon beacon_t;

/* Starts the timer (the first record goes out at once when Redis is up).
 * Caller owns the result; NULL on OOM. */
beacon_t *beacon_new(broker_t *b);
void beacon_destroy(beacon_t **bp);
/* Puts the record now (a state change: draining). NULL-safe. */
void beacon_put_now(beacon_t *bc);
/* The record as JSON text (caller owns, free()); NULL on OOM. */
char *beacon_record(const broker_t *b);

#endif

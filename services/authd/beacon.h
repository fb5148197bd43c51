/* beacon: authd's instance record for admin's Overview and Instances pages:
 * requests by result and cache hits/misses on top of the common fields;
 * lib/store/beacon.h puts it into Redis every BEACON_MS from its own thread.
 */
#ifndef ROOST_AUTHD_BEACON_H
#define ROOST_AUTHD_BEACON_H

#include <jansson.h>
#include <stdint.h>

#include "conf.h"
#include "metrics.h"
#include "store/beacon.h"

#define BEACON_MS 1000

/* Borrows conf and metrics (they outlive the beacon). 0 and *out (caller
 * owns; store_beacon_stop) or a negative code. */
int beacon_start(const authd_conf_t *conf, const metrics_t *metrics, uint64_t started_ms, store_beacon_t **out);
/* authd's own fields, added to o. */
void beacon_fields(json_t *o, void *metrics);

#endif

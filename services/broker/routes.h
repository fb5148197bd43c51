/* routes: the topic mappings of Pipelines (lib/store/pipelines.h) as this
 * broker matches them: which pipelines' queues a PUBLISH is appended to
 * (pipeline.c's stage_durable, before the acknowledgement). Cluster mode only (the queues
 * are in Redis).
 *
 * Loaded through sstore at start, then re-checked every 500 ms (one
 * round trip that answers "same" while routes:version is unchanged) and
 * at once on a ChangeEvent of kind ROUTES (kick.c): a mapping change
 * applies to new messages within a second even if the event is lost.
 * Until the first load completes no message is forwarded. b->mappings
 * says how many mappings are held (0: routes_match finds nothing).
 * On the broker loop; never blocks.
 */
#ifndef ROOST_BROKER_ROUTES_H
#define ROOST_BROKER_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#include "broker.h"

typedef struct routes routes_t;

/* Needs b->cluster. Caller owns; NULL on OOM. Starts loading. */
routes_t *routes_new(broker_t *b);
/* Call after cluster_destroy (a load in flight completes, failed, first). */
void routes_destroy(routes_t **r);
/* Re-reads the mappings now (a change event). */
void routes_refresh(routes_t *r);
/* The distinct pipeline ids whose filters match topic (at most max, each a
 * view valid until the next load completes). Returns how many. */
size_t routes_match(const routes_t *r, const char *topic, size_t len, const char **out, size_t max);

#endif

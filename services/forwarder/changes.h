/* changes: admin's change events for roost-forwarder (--admin-events), so a
 * pipeline or topic mapping change is picked up at once instead of at the
 * next poll of routes:version. The poll stays as the fallback: correctness
 * never depends on an event arriving (DESIGN "Change events").
 */
#ifndef ROOST_FORWARDER_CHANGES_H
#define ROOST_FORWARDER_CHANGES_H

#include <stdbool.h>

typedef struct fwd_changes fwd_changes_t;

/* A ZeroMQ SUB to admin's change-event PUB at endpoint (CurveZMQ when
 * server_key, admin's public key as Z85 text or a file, is not empty).
 * 0 and *out (caller owns: changes_close), or a negative code (a bad key:
 * ROOST_ECONFIG). Connecting is asynchronous: admin may come later. */
int changes_open(const char *endpoint, const char *server_key, fwd_changes_t **out);
/* Reads every event waiting (never blocks); true when one says the routes
 * (pipelines, mappings) changed, or everything did. NULL-safe. */
bool changes_routes_changed(fwd_changes_t *c);
/* NULL-safe; nulls *c. */
void changes_close(fwd_changes_t **c);

#endif

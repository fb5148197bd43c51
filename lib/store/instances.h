/* instances: each running service's latest figures, kept in Redis by the
 * service itself and read by admin (Overview / Instances, issue 20).
 *
 * Why a record in Redis rather than admin scraping every /metrics address:
 * every service already reaches Redis and admin already reads it, so no new
 * network path is opened (NetworkPolicies stay as they are), nothing has to
 * advertise an HTTP address that admin can reach, and replicas appear and
 * disappear by themselves (the record expires when its writer stops).
 *
 * Contract:
 *   - A service puts its record (a JSON object, opaque here, at most
 *     STORE_INSTANCE_JSON_MAX bytes) every few seconds with a ttl of about
 *     three periods. A record that expired means the instance is down.
 *   - The index remembers each instance for STORE_INSTANCE_KEEP_MS after its
 *     last put, so readers can show it as down; list drops older members.
 *   - kind: 1-32 bytes of [a-z]; id: 1-255 bytes, no control characters.
 *
 * Key layout (under the handle's prefix P):
 * (G is the global family's prefix "P{g}:" of store/keys.h: one slot.)
 *   G inst:<kind>:<id>   string  the JSON record; PX ttl
 *   G instances          zset    "<kind>:<id>" scored by its last put (unix ms)
 *
 * Blocking and threads: the store_t calls block as in store.h; the sstore
 * call is asynchronous on the broker's loop.
 */
#ifndef ROOST_STORE_INSTANCES_H
#define ROOST_STORE_INSTANCES_H

#include <stddef.h>
#include <stdint.h>

#include "store/sstore.h"
#include "store/store.h"

#define STORE_INSTANCE_JSON_MAX 4096
#define STORE_INSTANCE_KEEP_MS (3600 * 1000) /* one hour */
#define STORE_INSTANCE_MAX 256               /* list returns at most this many */

typedef struct store_instance {
    char kind[33];
    char id[256];
    int64_t seen_ms; /* last put, unix ms (Redis's clock: the index score) */
    char *json;      /* the record; NULL when it expired (instance down) */
} store_instance_t;

typedef struct store_instance_list {
    store_instance_t *items;
    size_t n;
} store_instance_list_t;

/* Writes the record and touches the index (one script). ttl_ms 1000..600000.
 * 0, ROOST_EINVAL (field in store_last_error), ROOST_EUNAVAILABLE, ROOST_ESTORE. */
int store_instance_put(store_t *s, const char *kind, const char *id, const char *json, int64_t ttl_ms);
/* The same from an event loop: two commands (record, then index); fn gets
 * the rc of the last. 0 if issued, else a negative code (fn never runs). */
int sstore_instance_put(sstore_t *s, const char *kind, const char *id, const char *json, uint64_t ttl_ms,
                        sstore_done_fn fn, void *arg);
/* The STORE_INSTANCE_MAX instances seen last within STORE_INSTANCE_KEEP_MS
 * (newest first), each with its record if it is still alive. Caller owns *out
 * (store_instance_list_free). */
int store_instance_list(store_t *s, store_instance_list_t **out);
void store_instance_list_free(store_instance_list_t **lp);

/* 0 when kind and id are acceptable (used by both puts). */
int store_instance_check(const char *kind, const char *id, const char **field, const char **reason);

#endif

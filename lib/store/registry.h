/* registry: the cluster-wide list of live MQTT connections (DESIGN.md
 * "Connections"), kept in Redis by the brokers and read by admin.
 *
 * Contract:
 *   - A broker owns the records it puts: it writes one per accepted CONNECT,
 *     removes it when the connection ends, and refreshes its expiry on its
 *     heartbeat, well inside the ttl. The writer is lib/store/sstore
 *     (sstore_conn_put/del/refresh/clear, from the broker's event loop): the
 *     only one; this module reads.
 *   - A broker that stops refreshing disappears with all its records once its
 *     ttl runs out: readers never see a dead broker's connections after that.
 *   - Readers (admin) list and search across brokers and find which broker
 *     holds an MQTT client id; they never write.
 *   - The same MQTT client id may briefly appear under two brokers during a
 *     takeover; list shows both, find returns one of them.
 *
 * Key layout (under the handle's prefix P):
 * (G is the global family's prefix "P{g}:" of store/keys.h: one slot.)
 *   G conns:<broker_id>   hash    mqtt_client_id -> JSON record; PEXPIRE ttl
 *   G conns:brokers       zset    broker_id scored by its expiry (unix ms)
 * Each write is one Lua script (hash, its expiry and the broker's score move
 * together: sstore's). Listing reads every live broker's hash and sorts in
 * C: O(live connections) per page, fine for an admin view up to ~100k
 * connections.
 *
 * Blocking and threads: as store.h (blocking hiredis on the caller's store_t).
 * Errors: 0, -ENOMEM, ROOST_EINVAL (field in store_last_error),
 * ROOST_ENOTFOUND, ROOST_EUNAVAILABLE, ROOST_ESTORE.
 */
#ifndef ROOST_STORE_REGISTRY_H
#define ROOST_STORE_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define STORE_CONN_GROUPS_MAX 64

/* One connection as read. Strings are owned by the page. */
typedef struct store_conn {
    const char *mqtt_client_id; /* required, 0-65535 bytes (may be "") */
    const char *client_id;      /* store client id, "" when unknown */
    const char *username;       /* "" when anonymous */
    const char *peer;           /* "ip:port" */
    const char *transport;      /* "tcp", "tls", "ws", "wss"; "" when not recorded */
    int protocol;               /* MQTT protocol level: 3, 4 or 5 */
    int keepalive;              /* seconds */
    int64_t connected_at;       /* unix ms */
    const char *broker;         /* on read: the owning broker id */
    const char *const *groups;  /* group ids */
    size_t n_groups;
} store_conn_t;

typedef struct store_conn_page {
    store_conn_t *items;
    size_t n;
    uint64_t total;    /* live connections matching search, all pages */
    char *next_cursor; /* NULL on the last page */
    void *owned_;      /* private */
} store_conn_page_t;

/* One page of live connections ordered by (mqtt_client_id, broker). cursor
 * NULL/"" starts; pass next_cursor for the next page. limit 1..STORE_LIST_MAX.
 * search (NULL/"" none) keeps MQTT client ids containing it, ASCII
 * case-insensitively. Caller owns *out (store_conn_page_free). */
int store_conn_list(store_t *s, const char *cursor, size_t limit, const char *search,
                    store_conn_page_t **out);
/* Which live broker holds mqtt_client_id: 0 and *broker_out (caller owns,
 * free()), or ROOST_ENOTFOUND. */
int store_conn_find(store_t *s, const char *mqtt_client_id, char **broker_out);
void store_conn_page_free(store_conn_page_t **pp);

#endif

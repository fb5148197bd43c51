/* slotmap: which Redis Cluster primary serves each hash slot, read from
 * CLUSTER SLOTS, and the seed list of --redis-cluster. Private to
 * lib/store: store_cluster.c (sync handle) and sstore_cluster.c (async)
 * route with it.
 *
 * Reading the map: the known primaries are asked first, then the seeds,
 * until one answers a map that covers all 16384 slots; at start, after a
 * MOVED reply, a lost link or a failover. The synchronous handle does it
 * blocking (slotmap_discover, a timeout per node); the broker's async one
 * on its loop (ss_ask.h, with slotmap_parse), so a silent node never
 * stalls it.
 */
#ifndef ROOST_STORE_SLOTMAP_H
#define ROOST_STORE_SLOTMAP_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "store/redis_auth.h"
#include "store/slot.h"

#define SLOTMAP_NONE 0xffffu
#define SLOTMAP_MAX_NODES 512

typedef struct slotmap_addr {
    char host[256];
    int port;
    int replicas; /* in a map: the replicas CLUSTER SLOTS lists for this
                   * primary (Redis leaves out those marked failed); the
                   * fewest over its ranges */
} slotmap_addr_t;

typedef struct slotmap {
    uint16_t owner[SLOT_COUNT]; /* index into nodes, or SLOTMAP_NONE */
    slotmap_addr_t *nodes;      /* primaries */
    size_t n_nodes;
} slotmap_t;

/* --redis-cluster "HOST:PORT,HOST:PORT,..." (spaces allowed after commas).
 * 0 and *out (caller frees), -ENOMEM, or ROOST_ECONFIG after an "error:
 * --redis-cluster: ..." line to err (an empty list or entry, an entry that
 * is not HOST:PORT, more than SLOTMAP_MAX_NODES). */
int slotmap_seeds_parse(const char *list, slotmap_addr_t **out, size_t *n, FILE *err);

/* What both cluster handles (store_cluster.c, sstore_cluster.c) hold and
 * set up alike: the map, the seeds, and the slot of the global family
 * P{g}: of their key prefix (keys.h). A handle's own struct starts with
 * it, so one allocation serves both. */
typedef struct slotmap_base {
    slotmap_t map;
    slotmap_addr_t *seeds;
    size_t n_seeds;
    unsigned gslot;
} slotmap_base_t;

/* For a handle's set_cluster: allocates `size` zeroed bytes, a struct
 * whose first member is a slotmap_base_t, with an empty map, the seeds of
 * `list` (its errors said on stderr) and the slot of prefix P. 0 and *out
 * (caller owns the result: slotmap_base_free), -ENOMEM, ROOST_EINVAL. */
int slotmap_base_new(size_t size, const char *list, const char *prefix, slotmap_base_t **out);

/* Frees what slotmap_base_new made (the whole struct b starts). NULL: no-op. */
void slotmap_base_free(slotmap_base_t *b);

/* Fills m from a CLUSTER SLOTS reply; `via` is the node asked (it stands
 * for an empty or "?" host, as the spec says). 0, or -1 when the reply is
 * malformed or leaves a slot without a primary (m is then empty). */
int slotmap_parse(slotmap_t *m, const redisReply *r, const slotmap_addr_t *via);

/* Asks m's primaries, then the n seeds, in turn: connect, AUTH (auth may
 * be NULL), CLUSTER SLOTS, each within timeout_ms. 0 and m replaced by the
 * answer, or -1 with the last failure in err (m unchanged). */
int slotmap_discover(slotmap_t *m, const slotmap_addr_t *seeds, size_t n, const redis_auth_t *auth,
                     int timeout_ms, char *err, size_t errlen);

/* The index of host:port among m's primaries, or -1. */
int slotmap_find(const slotmap_t *m, const char *host, int port);

void slotmap_clear(slotmap_t *m);

#endif

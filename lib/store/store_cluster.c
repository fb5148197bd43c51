/* store_cluster: the synchronous handle (store.c) on a Redis Cluster.
 *
 * Every key the sync modules touch is in the global family of store/keys.h,
 * i.e. one hash slot, slot(P{g}:). So routing is: connect to the primary
 * that serves that slot (found with CLUSTER SLOTS, slotmap.h), and follow
 * the cluster when it moves the slot:
 *   MOVED  the slot has a new owner (resharding done, or a replica promoted
 *          after a failover): the map is re-read, the connection moves, the
 *          command is sent again there (it did not run where it was sent);
 *   ASK    the slot is migrating and this key already left: the command
 *          runs once on the target after ASKING, on a short-lived
 *          connection (a script by EVAL: the target may not have its sha);
 *          the map does not change.
 * A link that fails re-reads the map before reconnecting (a dead primary's
 * replica took over).
 */
#include "store/store_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "base/err.h"
#include "store/slotmap.h"

struct store_cluster {
    slotmap_base_t b; /* first: the map, the seeds, gslot = slot(P{g}:) */
    bool stale;       /* re-read the map before the next connect */
};

int store_set_cluster(store_t *s, const char *seeds)
{
    struct store_cluster **slot = store_cluster_slot(s);
    if (!seeds || !seeds[0])
        return 0;
    slotmap_base_t *b;
    int rc = slotmap_base_new(sizeof(struct store_cluster), seeds, store_prefix(s), &b);
    if (rc < 0)
        return rc;
    struct store_cluster *c = (struct store_cluster *)b;
    c->stale = true;
    store_cluster_free(s);
    *slot = c;
    return 0;
}

void store_cluster_free(store_t *s)
{
    struct store_cluster **slot = store_cluster_slot(s);
    if (!*slot)
        return;
    slotmap_base_free(&(*slot)->b);
    *slot = NULL;
}

int store_cluster_target(store_t *s, const char **host, int *port)
{
    struct store_cluster *c = *store_cluster_slot(s);
    if (c->stale || c->b.map.n_nodes == 0) {
        char err[300];
        if (slotmap_discover(&c->b.map, c->b.seeds, c->b.n_seeds, store_auth(s), store_connect_ms(s), err,
                             sizeof(err)) < 0)
            return store_fail(s, ROOST_EUNAVAILABLE, NULL, "redis cluster: no node gave its slot map");
        c->stale = false;
    }
    const slotmap_addr_t *a = &c->b.map.nodes[c->b.map.owner[c->b.gslot]];
    *host = a->host;
    *port = a->port;
    return 0;
}

void store_cluster_link_failed(store_t *s)
{
    struct store_cluster *c = *store_cluster_slot(s);
    if (c)
        c->stale = true;
}

slot_redir_kind_t store_cluster_redirect(store_t *s, const redisReply *r, slot_redir_t *rd)
{
    struct store_cluster *c = *store_cluster_slot(s);
    if (!c || !r || r->type != REDIS_REPLY_ERROR || !r->str)
        return SLOT_REDIR_NONE;
    slot_redir_kind_t k = slot_redir_parse(r->str, r->len, rd);
    /* a script that declares no key (they get the prefix in ARGV) cannot be
     * redirected: this node no longer serves the {g} slot, as MOVED says */
    if (k == SLOT_REDIR_NONE && strstr(r->str, "non local key"))
        k = SLOT_REDIR_MOVED;
    if (k == SLOT_REDIR_MOVED)
        c->stale = true;
    return k;
}

int store_cluster_ask(store_t *s, const slot_redir_t *rd, bool write, int argc, const char **argv,
                      const size_t *lens, redisReply **out)
{
    int ms = store_connect_ms(s);
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    redisContext *ctx = redisConnectWithTimeout(rd->host, rd->port, tv);
    if (!ctx || ctx->err) {
        redisFree(ctx);
        return store_fail(s, ROOST_EUNAVAILABLE, NULL, "redis cluster: ASK target unreachable");
    }
    redisSetTimeout(ctx, tv);
    const char *auth[3];
    int n = redis_auth_argv(store_auth(s), auth);
    if (n)
        redisAppendCommandArgv(ctx, n, auth, NULL);
    redisAppendCommand(ctx, "ASKING");
    redisAppendCommandArgv(ctx, argc, argv, lens);
    redisReply *r = NULL;
    int rc = 0;
    int replies = n ? 3 : 2;
    for (int i = 0; i < replies; i++) {
        if (r)
            freeReplyObject(r);
        r = NULL;
        if (redisGetReply(ctx, (void **)&r) != REDIS_OK || !r) {
            rc = store_fail(s, ROOST_EUNAVAILABLE, NULL, "redis cluster: ASK target dropped the link");
            break;
        }
    }
    if (rc == 0 && write && r->type != REDIS_REPLY_ERROR)
        store_wait_on_link(s, ctx); /* WAIT counts per link: this one took the write */
    redisFree(ctx);
    if (rc == 0)
        *out = r;
    return rc;
}

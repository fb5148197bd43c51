#include "tlssync.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/err.h"
#include "base/log.h"
#include "cluster.h"
#include "rpc/rpc.h"
#include "store/sstore.h"
#include "xport_tls.h"

struct tlssync {
    broker_t *b;
    uint64_t version;  /* of the settings applied; UINT64_MAX before the first */
    bool loading;      /* a read in flight */
    bool again;        /* a refresh came while loading */
    unsigned ticks;
    bool tickets_pending;  /* a ticket key sync in flight */
    bool tickets_warned;
};

static void load(tlssync_t *t);
static void sync_tickets(tlssync_t *t);

static void on_loaded(int rc, const sstore_tls_t *s, uint64_t version, void *arg)
{
    tlssync_t *t = arg;
    t->loading = false;
    if (rc == ROOST_EINVAL) {
        /* sealed with a key this broker does not hold: keep what is served,
         * say so once for this version */
        if (t->version != version)
            log_warn("tls_key_unreadable", "version=%llu detail=\"admin's TLS key is sealed and --tls-key-secret "
                     "is missing or another one: the certificates stay as they were\"", (unsigned long long)version);
        t->version = version;
    } else if (rc == 0 && t->b->tls) {
        xtls_admin_t a = {s->enabled, s->ca, s->cert, s->key, s->client_cert};
        xtls_server_apply_admin(t->b->tls, &a, (unsigned long long)version);
        t->version = version;
    } else if (rc < 0) {
        log_debug("tls_settings_unavailable", "rc=%d", rc);
    }
    if (t->again) {
        t->again = false;
        load(t);
    }
}

static void load(tlssync_t *t)
{
    if (!t->b->cluster)
        return; /* at exit: the read in flight failed as the store went */
    sstore_t *st = cluster_store(t->b->cluster);
    if (t->loading) {
        t->again = true;
        return;
    }
    if (!sstore_connected(st))
        return;
    const broker_config_t *cfg = t->b->cfg;
    if (sstore_tls_load(st, t->version, cfg->has_tls_seal ? cfg->tls_seal : NULL, on_loaded, t) == 0)
        t->loading = true;
}

tlssync_t *tlssync_new(broker_t *b)
{
    tlssync_t *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->b = b;
    t->version = UINT64_MAX;
    load(t);
    sync_tickets(t);
    return t;
}

void tlssync_destroy(tlssync_t **tp)
{
    free(*tp);
    *tp = NULL;
}

void tlssync_refresh(tlssync_t *t)
{
    load(t);
}

static void on_tickets(int rc, const uint8_t (*keys)[SSTORE_TICKET_KEY_LEN], size_t n, void *arg)
{
    tlssync_t *t = arg;
    t->tickets_pending = false;
    if (rc == 0 && n && t->b->tls) {
        xtls_server_set_tickets(t->b->tls, keys, n);
    } else if (rc == ROOST_EINVAL && !t->tickets_warned) {
        t->tickets_warned = true;
        log_warn("tls_tickets_unreadable", "detail=\"the cluster's ticket keys are sealed and --tls-key-secret "
                 "is missing or another one: tickets from this broker open only here\"");
    }
}

/* The cluster's ticket keys, rotated by whichever broker finds them due. */
static void sync_tickets(tlssync_t *t)
{
    const broker_config_t *cfg = t->b->cfg;
    if (!t->b->tls || !t->b->cluster || t->tickets_pending)
        return;
    sstore_t *st = cluster_store(t->b->cluster);
    if (sstore_connected(st) &&
        sstore_tickets_sync(st, rpc_unix_ms(), (uint64_t)cfg->tls_ticket_rotate * 1000,
                            cfg->has_tls_seal ? cfg->tls_seal : NULL, on_tickets, t) == 0)
        t->tickets_pending = true;
}

void tlssync_tick(tlssync_t *t)
{
    if (++t->ticks % 4 == 0) {
        load(t);
        sync_tickets(t);
    }
}

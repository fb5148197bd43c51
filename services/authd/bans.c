#include "bans.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cidr.h"
#include "base/log.h"
#include "rpc/rpc.h"
#include "store/bans.h"

typedef struct snap {
    store_ban_list_t *list;
    cidr_t *cidrs; /* parsed, parallel to list->items (bits 0xff: not a cidr ban) */
} snap_t;

struct bans {
    pthread_mutex_t mu;
    snap_t snap;
    int64_t version;
    uint64_t checked_ms;
    bool loaded;
};

bans_t *bans_new(void)
{
    bans_t *b = calloc(1, sizeof(*b));
    if (b)
        pthread_mutex_init(&b->mu, NULL);
    return b;
}

static void snap_fini(snap_t *s)
{
    store_ban_list_free(&s->list);
    free(s->cidrs);
    s->cidrs = NULL;
}

void bans_destroy(bans_t **bp)
{
    bans_t *b = *bp;
    if (!b)
        return;
    snap_fini(&b->snap);
    pthread_mutex_destroy(&b->mu);
    free(b);
    *bp = NULL;
}

int bans_refresh(bans_t *b, store_t *s, uint64_t now)
{
    pthread_mutex_lock(&b->mu);
    bool due = !b->loaded || now - b->checked_ms >= BANS_RECHECK_MS;
    if (due)
        b->checked_ms = now; /* one worker looks; the others use what is there */
    int64_t seen = b->version;
    pthread_mutex_unlock(&b->mu);
    if (!due)
        return 0;
    int64_t version = 0;
    int rc = store_bans_version(s, &version);
    if (rc < 0 || (b->loaded && version == seen))
        return rc < 0 ? rc : 0;
    snap_t fresh = {0};
    if ((rc = store_ban_list(s, (int64_t)rpc_unix_ms(), &fresh.list)) < 0)
        return rc;
    fresh.cidrs = calloc(fresh.list->n ? fresh.list->n : 1, sizeof(*fresh.cidrs));
    if (!fresh.cidrs) {
        snap_fini(&fresh);
        return -1;
    }
    for (size_t i = 0; i < fresh.list->n; i++) {
        const store_ban_t *x = &fresh.list->items[i];
        if (strcmp(x->kind, "cidr") || cidr_parse(x->value, strlen(x->value), &fresh.cidrs[i]) < 0)
            fresh.cidrs[i].bits = 0xff;
    }
    pthread_mutex_lock(&b->mu);
    snap_t old = b->snap;
    b->snap = fresh;
    b->version = version;
    b->loaded = true;
    pthread_mutex_unlock(&b->mu);
    snap_fini(&old);
    log_info("bans_loaded", "version=%lld bans=%zu", (long long)version, fresh.list->n);
    return 0;
}

bool bans_match(bans_t *b, const char *client_id, const char *username, const char *peer, int64_t now,
                char *why, size_t cap)
{
    cidr_t addr;
    bool has_addr = cidr_parse_peer(peer, &addr) == 0;
    bool hit = false;
    pthread_mutex_lock(&b->mu);
    for (size_t i = 0; b->snap.list && i < b->snap.list->n && !hit; i++) {
        const store_ban_t *x = &b->snap.list->items[i];
        if (x->expires_at && x->expires_at <= now)
            continue;
        if (!strcmp(x->kind, "client_id"))
            hit = client_id && !strcmp(client_id, x->value);
        else if (!strcmp(x->kind, "username"))
            hit = username && !strcmp(username, x->value);
        else if (b->snap.cidrs[i].bits != 0xff)
            hit = has_addr && cidr_match(&b->snap.cidrs[i], addr.addr);
        if (hit)
            snprintf(why, cap, "%s", x->id);
    }
    pthread_mutex_unlock(&b->mu);
    return hit;
}

size_t bans_count(bans_t *b)
{
    pthread_mutex_lock(&b->mu);
    size_t n = b->snap.list ? b->snap.list->n : 0;
    pthread_mutex_unlock(&b->mu);
    return n;
}

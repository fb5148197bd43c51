/* The table of shared groups (shgroup.h): finding and creating a group,
 * and freeing it once nothing keeps it. A group is kept while it has a
 * member here, a peer says it has connected members (weight), or a message
 * given here (shhold_t) or in custody (shcust_t) points at it (refs).
 * Without this, every distinct "$share/{name}/{filter}" ever subscribed, by
 * a client here or announced by a peer, would stay for the broker's life. */
#include <stdlib.h>
#include <string.h>

#include "mqtt/share.h"
#include "shared.h"
#include "shgroup.h"

shgroup_t *shgroup_get(shared_t *sh, const char *name, size_t nl, const char *filter, size_t fl,
                       bool create)
{
    char small[256];
    size_t kl = nl + 1 + fl;
    char *k = kl <= sizeof(small) ? small : malloc(kl);
    if (!k)
        return NULL;
    memcpy(k, name, nl);
    k[nl] = '\0';
    memcpy(k + nl + 1, filter, fl);
    shgroup_t *g = map_get(&sh->groups, k, kl);
    if (!g && create && (g = calloc(1, sizeof(*g))) && (g->key = malloc(kl + 1))) {
        memcpy(g->key, k, kl);
        g->key[kl] = '\0';
        g->key_len = kl;
        g->name_len = nl;
        g->filter = g->key + nl + 1;
        g->filter_len = fl;
        if (map_put(&sh->groups, g->key, kl, g, NULL) < 0) {
            free(g->key);
            g->key = NULL;
        } else if (subtrie_add(sh->trie, g->filter, fl, g, 0, NULL) < 0) {
            map_del(&sh->groups, g->key, kl);
            free(g->key);
            g->key = NULL;
        }
    }
    sh->b->shared_groups = (uint32_t)sh->groups.count;
    if (g && !g->key) { /* creation failed half way */
        free(g);
        g = NULL;
    }
    if (k != small)
        free(k);
    return g;
}

shgroup_t *shgroup_of_peer(shared_t *sh, const char *key, size_t len, bool create)
{
    const char *name, *filter;
    size_t nl, fl;
    share_filter_t sf;
    char buf[SHARE_PREFIX_LEN + 512];
    if (shframe_key_split(key, len, &name, &nl, &filter, &fl) < 0 ||
        SHARE_PREFIX_LEN + len > sizeof(buf))
        return NULL;
    /* "$share/" name "/" filter must parse back to the same parts */
    memcpy(buf, SHARE_PREFIX, SHARE_PREFIX_LEN);
    memcpy(buf + SHARE_PREFIX_LEN, name, nl);
    buf[SHARE_PREFIX_LEN + nl] = '/';
    memcpy(buf + SHARE_PREFIX_LEN + nl + 1, filter, fl);
    if (share_parse(buf, SHARE_PREFIX_LEN + nl + 1 + fl, &sf) != 1 || sf.name_len != nl)
        return NULL;
    return shgroup_get(sh, name, nl, filter, fl, create);
}

/* Nothing keeps g: no member here, no reference, no peer's member. */
static bool unused(const shared_t *sh, const shgroup_t *g)
{
    if (g->n || g->refs)
        return false;
    for (int i = 1; i < sh->nids; i++)
        if (g->weight[i])
            return false;
    return true;
}

static void group_free(shared_t *sh, shgroup_t *g)
{
    map_del(&sh->groups, g->key, g->key_len);
    subtrie_remove(sh->trie, g->filter, g->filter_len, g);
    sh->b->shared_groups = (uint32_t)sh->groups.count;
    sh->dropped_gone += g->dropped; /* the counter on /metrics never goes back */
    free(g->m);
    free(g->key);
    free(g);
}

void shgroup_release(shared_t *sh, shgroup_t *g)
{
    if (unused(sh, g))
        group_free(sh, g);
}

void shgroup_unref(shared_t *sh, shgroup_t *g)
{
    g->refs--;
    shgroup_release(sh, g);
}

size_t shgroup_sweep(shared_t *sh, bool now)
{
    size_t n = 0, k = 0, idle = 0, it = 0;
    map_entry_t *e;
    while (map_next(&sh->groups, &it, &e))
        n += unused(sh, e->value);
    shgroup_t **v = n ? malloc(n * sizeof(*v)) : NULL;
    for (it = 0; v && map_next(&sh->groups, &it, &e);) {
        shgroup_t *g = e->value;
        if (!unused(sh, g))
            g->idle = false;
        else if (now || g->idle)
            v[k++] = g;
        else
            g->idle = true, idle++;
    }
    for (size_t i = 0; i < k; i++) /* the map changes: not while walking it */
        group_free(sh, v[i]);
    free(v);
    return n && !v ? n : idle; /* OOM: try again later */
}

void shgroup_clear_slot(shared_t *sh, int slot)
{
    size_t it = 0;
    map_entry_t *e;
    while (map_next(&sh->groups, &it, &e))
        ((shgroup_t *)e->value)->weight[slot] = 0;
}

void shgroup_free_all(shared_t *sh)
{
    size_t it = 0;
    map_entry_t *e;
    while (map_next(&sh->groups, &it, &e)) {
        shgroup_t *g = e->value;
        free(g->m);
        free(g->key);
        free(g);
    }
    map_fini(&sh->groups);
}

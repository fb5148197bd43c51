/* routes: topic mappings for this broker (routes.h). */
#include "routes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "cluster.h"
#include "mqtt/topic.h"
#include "store/sstore.h"
#include "store/store.h"

#define POLL_MS 500

typedef struct mapping {
    char *filter;
    size_t len;
    char pipeline[STORE_ID_LEN + 1];
} mapping_t;

struct routes {
    broker_t *b;
    uint64_t timer;
    uint64_t version; /* 0 before the first load */
    bool loading, again;
    mapping_t *maps;
    size_t n;
};

static void clear(routes_t *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->maps[i].filter);
    free(r->maps);
    r->maps = NULL;
    r->n = 0;
    r->b->mappings = 0;
}

static void load(routes_t *r);

static void on_loaded(int rc, const sstore_route_t *routes, size_t n, uint64_t version, void *arg)
{
    routes_t *r = arg;
    r->loading = false;
    if (rc == 0) {
        mapping_t *maps = n ? calloc(n, sizeof(*maps)) : NULL;
        size_t k = 0;
        bool oom = n && !maps;
        for (size_t i = 0; maps && i < n && !oom; i++) {
            if (strlen(routes[i].pipeline) != STORE_ID_LEN ||
                topic_check_filter(routes[i].filter, routes[i].filter_len) < 0)
                continue; /* not what admin writes: ignored */
            if (!(maps[k].filter = malloc(routes[i].filter_len + 1))) {
                oom = true;
                break;
            }
            memcpy(maps[k].filter, routes[i].filter, routes[i].filter_len);
            maps[k].filter[routes[i].filter_len] = '\0';
            maps[k].len = routes[i].filter_len;
            memcpy(maps[k].pipeline, routes[i].pipeline, STORE_ID_LEN + 1);
            k++;
        }
        if (oom) {
            /* out of memory part-way: keep the old set, retry on the next tick */
            for (size_t i = 0; maps && i < k; i++)
                free(maps[i].filter);
            free(maps);
        } else {
            clear(r);
            r->maps = maps;
            r->n = k;
            r->b->mappings = (uint32_t)k;
            r->version = version;
            log_info("routes_loaded", "mappings=%zu version=%llu", k, (unsigned long long)version);
        }
    } else if (rc < 0 && rc != ROOST_EUNAVAILABLE) {
        log_warn("routes_load_failed", "rc=%d", rc);
    }
    if (r->again) {
        r->again = false;
        load(r);
    }
}

static void load(routes_t *r)
{
    if (!r->b->cluster)
        return;
    if (r->loading) {
        r->again = true;
        return;
    }
    sstore_t *st = cluster_store(r->b->cluster);
    if (!sstore_connected(st))
        return;
    if (sstore_routes_load(st, r->version, on_loaded, r) == 0)
        r->loading = true;
}

static uint64_t tick(loop_t *l, void *arg)
{
    (void)l;
    load(arg);
    return POLL_MS;
}

routes_t *routes_new(broker_t *b)
{
    routes_t *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->b = b;
    r->timer = loop_add_timer(b->loop, 50, tick, r);
    return r;
}

void routes_destroy(routes_t **rp)
{
    if (!rp || !*rp)
        return;
    routes_t *r = *rp;
    if (r->timer)
        loop_del_timer(r->b->loop, r->timer);
    clear(r);
    free(r);
    *rp = NULL;
}

void routes_refresh(routes_t *r)
{
    if (r)
        load(r);
}

size_t routes_match(const routes_t *r, const char *topic, size_t len, const char **out, size_t max)
{
    size_t k = 0;
    for (size_t i = 0; r && i < r->n && k < max; i++) {
        if (!topic_match(r->maps[i].filter, r->maps[i].len, topic, len))
            continue;
        bool dup = false;
        for (size_t j = 0; j < k && !dup; j++)
            dup = !strcmp(out[j], r->maps[i].pipeline);
        if (!dup)
            out[k++] = r->maps[i].pipeline;
    }
    return k;
}

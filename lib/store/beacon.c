/* beacon: periodic instance records from a thread (beacon.h). */
#include "store/beacon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/proc.h"
#include "base/ticker.h"
#include "store/instances.h"

struct store_beacon {
    store_t *store;
    ticker_t *ticker;
    char kind[33], id[256];
    uint64_t started_ms, period_ms;
    void (*fields)(json_t *o, void *arg);
    void *arg;
};

int store_instance_common(json_t *o, const char *kind, const char *state, uint64_t started_ms)
{
    proc_sample_t p;
    proc_sample(&p);
    int rc = json_object_set_new(o, "kind", json_string(kind));
    rc |= json_object_set_new(o, "version", json_string(proc_version()));
    rc |= json_object_set_new(o, "state", json_string(state));
    rc |= json_object_set_new(o, "started_ms", json_integer((json_int_t)started_ms));
    rc |= json_object_set_new(o, "at_ms", json_integer((json_int_t)proc_wall_ms()));
    rc |= json_object_set_new(o, "cpu_ms", json_integer((json_int_t)p.cpu_ms));
    rc |= json_object_set_new(o, "rss_bytes", json_integer((json_int_t)p.rss_bytes));
    return rc ? -ENOMEM : 0;
}

static void put(void *arg)
{
    store_beacon_t *b = arg;
    json_t *o = json_object();
    if (b->fields && o)
        b->fields(o, b->arg);
    char *text = o && store_instance_common(o, b->kind, "serving", b->started_ms) == 0
                     ? json_dumps(o, JSON_COMPACT)
                     : NULL;
    json_decref(o);
    if (text)
        store_instance_put(b->store, b->kind, b->id, text, (int64_t)(3 * b->period_ms));
    free(text); /* a failed put is retried by the next period */
}

void store_beacon_stop(store_beacon_t **bp)
{
    store_beacon_t *b = *bp;
    if (!b)
        return;
    *bp = NULL;
    ticker_stop(&b->ticker);
    store_destroy(&b->store);
    free(b);
}

int store_beacon_start(const store_beacon_config_t *cfg, store_beacon_t **out)
{
    *out = NULL;
    const char *field, *reason;
    char host[200] = "host";
    char id[256];
    if (cfg->id && cfg->id[0]) {
        snprintf(id, sizeof(id), "%s", cfg->id);
    } else {
        gethostname(host, sizeof(host) - 1);
        snprintf(id, sizeof(id), "%s-%d", host, (int)getpid());
    }
    if (store_instance_check(cfg->kind, id, &field, &reason) || cfg->period_ms < 1000)
        return -EINVAL;
    store_beacon_t *b = calloc(1, sizeof(*b));
    if (!b)
        return -ENOMEM;
    snprintf(b->kind, sizeof(b->kind), "%s", cfg->kind);
    snprintf(b->id, sizeof(b->id), "%s", id);
    b->started_ms = cfg->started_ms;
    b->period_ms = cfg->period_ms;
    b->fields = cfg->fields;
    b->arg = cfg->arg;
    int rc = -ENOMEM;
    if (!(b->store = redis_conf_store(cfg->redis, NULL)))
        goto fail;
    store_set_timeouts(b->store, 500, 500);
    if ((rc = ticker_start(b->period_ms, put, b, &b->ticker)) < 0)
        goto fail;
    *out = b;
    return 0;
fail:
    store_beacon_stop(&b);
    return rc;
}

#include "beacon.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/proc.h"
#include "base/ticker.h"
#include "store/instances.h"

struct beacon {
    const authd_conf_t *conf;
    const metrics_t *metrics;
    uint64_t started_ms;
    char id[256];
    store_t *store;
    ticker_t *ticker;
};

char *beacon_record(const beacon_t *bc)
{
    const metrics_t *m = bc->metrics;
    proc_sample_t p;
    proc_sample(&p);
    uint64_t requests = 0;
    for (int r = 0; r < MET_RESULT_COUNT; r++)
        requests += metrics_result_get(m, (metrics_result_t)r);
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "kind", "authd",
        "version", proc_version(), "state", "serving", "started_ms", (json_int_t)bc->started_ms,
        "at_ms", (json_int_t)proc_wall_ms(), "cpu_ms", (json_int_t)p.cpu_ms, "rss_bytes", (json_int_t)p.rss_bytes,
        "requests", (json_int_t)requests, "ok", (json_int_t)metrics_result_get(m, MET_OK),
        "bad_credentials", (json_int_t)metrics_result_get(m, MET_BAD_CREDENTIALS),
        "not_authorized", (json_int_t)metrics_result_get(m, MET_NOT_AUTHORIZED),
        "unavailable", (json_int_t)metrics_result_get(m, MET_UNAVAILABLE),
        "cache_hits", (json_int_t)metrics_get(m, MET_CACHE_HIT),
        "cache_misses", (json_int_t)metrics_get(m, MET_CACHE_MISS),
        "redis_errors", (json_int_t)metrics_get(m, MET_REDIS_ERROR));
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return text;
}

static void put(void *arg)
{
    beacon_t *bc = arg;
    char *rec = beacon_record(bc);
    int rc = rec ? store_instance_put(bc->store, "authd", bc->id, rec, 3 * BEACON_MS) : -ENOMEM;
    if (rc < 0)
        log_debug("beacon_failed", "rc=%d", rc);
    free(rec);
}

beacon_t *beacon_new(const authd_conf_t *conf, const metrics_t *metrics, uint64_t started_ms)
{
    beacon_t *bc = calloc(1, sizeof(*bc));
    if (!bc)
        return NULL;
    bc->conf = conf;
    bc->metrics = metrics;
    bc->started_ms = started_ms;
    if (conf->id[0]) {
        snprintf(bc->id, sizeof(bc->id), "%s", conf->id);
    } else {
        char host[200] = "authd";
        gethostname(host, sizeof(host) - 1);
        snprintf(bc->id, sizeof(bc->id), "%s-%d", host, (int)getpid());
    }
    bc->store = store_new(conf->redis_host, conf->redis_port, conf->prefix, NULL);
    if (!bc->store || store_set_auth(bc->store, conf->redis_user, conf->redis_password) < 0) {
        beacon_destroy(&bc);
        return NULL;
    }
    store_set_timeouts(bc->store, 500, 500);
    return bc;
}

int beacon_start(beacon_t *bc)
{
    return ticker_start(BEACON_MS, put, bc, &bc->ticker);
}

void beacon_destroy(beacon_t **bp)
{
    beacon_t *bc = *bp;
    if (!bc)
        return;
    *bp = NULL;
    ticker_stop(&bc->ticker);
    store_destroy(&bc->store);
    free(bc);
}

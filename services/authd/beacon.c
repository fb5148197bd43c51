#include "beacon.h"

void beacon_fields(json_t *o, void *arg)
{
    const metrics_t *m = arg;
    uint64_t requests = 0;
    for (int r = 0; r < MET_RESULT_COUNT; r++)
        requests += metrics_result_get(m, (metrics_result_t)r);
    static const struct {
        const char *name;
        metrics_result_t r;
    } R[] = {{"ok", MET_OK}, {"bad_credentials", MET_BAD_CREDENTIALS}, {"not_authorized", MET_NOT_AUTHORIZED},
             {"unavailable", MET_UNAVAILABLE}};
    static const struct {
        const char *name;
        metrics_counter_t c;
    } C[] = {{"cache_hits", MET_CACHE_HIT}, {"cache_misses", MET_CACHE_MISS}, {"redis_errors", MET_REDIS_ERROR}};
    json_object_set_new(o, "requests", json_integer((json_int_t)requests));
    for (size_t i = 0; i < sizeof(R) / sizeof(R[0]); i++)
        json_object_set_new(o, R[i].name, json_integer((json_int_t)metrics_result_get(m, R[i].r)));
    for (size_t i = 0; i < sizeof(C) / sizeof(C[0]); i++)
        json_object_set_new(o, C[i].name, json_integer((json_int_t)metrics_get(m, C[i].c)));
}

int beacon_start(const authd_conf_t *conf, const metrics_t *metrics, uint64_t started_ms, store_beacon_t **out)
{
    store_beacon_config_t bc = {
        .redis = &conf->redis, .kind = "authd", .id = conf->id, .started_ms = started_ms,
        .period_ms = BEACON_MS, .fields = beacon_fields, .arg = (void *)metrics,
    };
    return store_beacon_start(&bc, out);
}

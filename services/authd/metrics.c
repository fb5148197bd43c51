#include "metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

/* Latency buckets, seconds (upper bounds); argon2 lands in the upper half. */
static const double BUCKETS[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
#define NBUCKETS (sizeof(BUCKETS) / sizeof(BUCKETS[0]))

static const char *const RESULT_NAMES[MET_RESULT_COUNT] = {
    "ok", "bad_credentials", "not_authorized", "unavailable", "throttled", "bad_request", "dropped_deadline",
};

struct metrics {
    atomic_uint_fast64_t results[MET_RESULT_COUNT];
    atomic_uint_fast64_t counters[MET_COUNTER_COUNT];
    atomic_uint_fast64_t buckets[NBUCKETS]; /* non-cumulative; summed on render */
    atomic_uint_fast64_t latency_count, latency_sum_us;
    atomic_uint_fast64_t hash_avg_us; /* metrics_hash_time */
};

void metrics_hash_time(metrics_t *m, uint64_t us)
{
    uint64_t old = atomic_load(&m->hash_avg_us);
    /* racing workers may lose one sample: an estimate, not a count */
    atomic_store(&m->hash_avg_us, old ? old - old / 8 + us / 8 : us);
}

uint64_t metrics_hash_avg_us(const metrics_t *m)
{
    return atomic_load(&((metrics_t *)m)->hash_avg_us);
}

metrics_t *metrics_new(void)
{
    metrics_t *m = calloc(1, sizeof(*m));
    return m; /* zeroed memory is a valid initial state for these atomics */
}

void metrics_destroy(metrics_t **mp)
{
    free(*mp);
    *mp = NULL;
}

void metrics_request(metrics_t *m, metrics_result_t r, uint64_t latency_us)
{
    atomic_fetch_add_explicit(&m->results[r], 1, memory_order_relaxed);
    if (r == MET_DROPPED_DEADLINE)
        return;
    size_t i = 0;
    while (i < NBUCKETS && (double)latency_us / 1e6 > BUCKETS[i])
        i++;
    if (i < NBUCKETS)
        atomic_fetch_add_explicit(&m->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->latency_count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->latency_sum_us, latency_us, memory_order_relaxed);
}

void metrics_inc(metrics_t *m, metrics_counter_t c)
{
    atomic_fetch_add_explicit(&m->counters[c], 1, memory_order_relaxed);
}

uint64_t metrics_get(const metrics_t *m, metrics_counter_t c)
{
    return atomic_load_explicit(&((metrics_t *)m)->counters[c], memory_order_relaxed);
}

uint64_t metrics_result_get(const metrics_t *m, metrics_result_t r)
{
    return atomic_load_explicit(&((metrics_t *)m)->results[r], memory_order_relaxed);
}

static int put(buf_t *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int put(buf_t *out, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(line))
        return -EINVAL;
    return buf_append(out, line, (size_t)n);
}

static uint64_t ld(const atomic_uint_fast64_t *a)
{
    return atomic_load_explicit((atomic_uint_fast64_t *)a, memory_order_relaxed);
}

int metrics_render(const metrics_t *m, const metrics_gauges_t *g, buf_t *out)
{
    int rc = put(out, "# HELP authd_requests_total Auth requests by result.\n"
                      "# TYPE authd_requests_total counter\n");
    for (int r = 0; !rc && r < MET_RESULT_COUNT; r++)
        rc = put(out, "authd_requests_total{result=\"%s\"} %" PRIu64 "\n", RESULT_NAMES[r], ld(&m->results[r]));
    if (!rc)
        rc = put(out, "# HELP authd_request_duration_seconds Receive-to-reply latency.\n"
                      "# TYPE authd_request_duration_seconds histogram\n");
    uint64_t cum = 0;
    for (size_t i = 0; !rc && i < NBUCKETS; i++) {
        cum += ld(&m->buckets[i]);
        rc = put(out, "authd_request_duration_seconds_bucket{le=\"%g\"} %" PRIu64 "\n", BUCKETS[i], cum);
    }
    uint64_t count = ld(&m->latency_count);
    if (!rc)
        rc = put(out,
                 "authd_request_duration_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n"
                 "authd_request_duration_seconds_sum %.6f\n"
                 "authd_request_duration_seconds_count %" PRIu64 "\n",
                 count, (double)ld(&m->latency_sum_us) / 1e6, count);
    static const struct {
        metrics_counter_t c;
        const char *name, *help;
    } counters[] = {
        {MET_CACHE_HIT, "authd_cache_hits_total", "Verified-credential cache hits."},
        {MET_CACHE_MISS, "authd_cache_misses_total", "Verified-credential cache misses."},
        {MET_HASH_VERIFY, "authd_hash_verifications_total", "argon2id verifications run."},
        {MET_HASH_SHARED, "authd_hash_shared_total",
         "Verifications answered without running argon2id: an identical one was in flight, or its "
         "result reached the cache while this one waited."},
        {MET_CHANGE_EVENT, "authd_change_events_total", "Change events received."},
        {MET_REDIS_ERROR, "authd_redis_errors_total", "Store calls that failed."},
        {MET_AUTHZ_HIT, "authd_config_cache_hits_total",
         "Requests whose rules and groups came from the cached config snapshot."},
        {MET_AUTHZ_RELOAD, "authd_config_cache_reloads_total",
         "Config snapshots (rules and groups) read from the store and cached."},
        {MET_AUTHZ_INCONSISTENT, "authd_config_cache_inconsistent_loads_total",
         "Config snapshot reads that raced a store write (retried, never cached)."},
        {MET_AUTHZ_DROP, "authd_config_cache_drops_total", "Config snapshots dropped early by a change event."},
    };
    for (size_t i = 0; !rc && i < sizeof(counters) / sizeof(counters[0]); i++)
        rc = put(out, "# HELP %s %s\n# TYPE %s counter\n%s %" PRIu64 "\n", counters[i].name, counters[i].help,
                 counters[i].name, counters[i].name, metrics_get(m, counters[i].c));
    if (!rc)
        rc = put(out,
                 "# HELP authd_lookup_queue_depth Requests waiting for a lookup worker.\n"
                 "# TYPE authd_lookup_queue_depth gauge\nauthd_lookup_queue_depth %zu\n"
                 "# HELP authd_hash_queue_depth Verifications waiting for a hash worker.\n"
                 "# TYPE authd_hash_queue_depth gauge\nauthd_hash_queue_depth %zu\n",
                 g->lookup_queue, g->hash_queue);
    if (!rc)
        rc = put(out,
                 "# HELP authd_cache_entries Verified credentials cached.\n"
                 "# TYPE authd_cache_entries gauge\nauthd_cache_entries %zu\n"
                 "# HELP authd_throttled_keys Usernames and peers with recent failures.\n"
                 "# TYPE authd_throttled_keys gauge\nauthd_throttled_keys %zu\n",
                 g->cache_entries, g->throttled_keys);
    if (!rc)
        rc = put(out,
                 "# HELP authd_config_cache_version Config version of the cached rules/groups snapshot (-1: none).\n"
                 "# TYPE authd_config_cache_version gauge\nauthd_config_cache_version %" PRId64 "\n",
                 g->config_cache_version);
    if (!rc)
        rc = put(out,
                 "# HELP authd_hash_seconds How long an argon2 verification takes here (moving average): one "
                 "that could not end before its request's deadline is answered 'unavailable' at once.\n"
                 "# TYPE authd_hash_seconds gauge\nauthd_hash_seconds %.6f\n",
                 (double)metrics_hash_avg_us(m) / 1e6);
    return rc;
}

/* metrics: authd's counters and the Prometheus text rendering of them.
 *
 * Counters are C11 atomics: workers and the loop bump them, the HTTP thread
 * reads them, nobody locks. Gauges that belong to other modules (queue
 * depths, cache size) are sampled by the caller and passed to
 * metrics_render.
 */
#ifndef ROOST_AUTHD_METRICS_H
#define ROOST_AUTHD_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* Outcome of one request, for authd_requests_total{result=...}. */
typedef enum {
    MET_OK,
    MET_BAD_CREDENTIALS,
    MET_NOT_AUTHORIZED,
    MET_UNAVAILABLE,
    MET_THROTTLED,
    MET_BAD_REQUEST,
    MET_DROPPED_DEADLINE, /* late: dropped without a reply */
    MET_RESULT_COUNT
} metrics_result_t;

typedef enum {
    MET_CACHE_HIT,
    MET_CACHE_MISS,
    MET_HASH_VERIFY,      /* argon2 verifications run (including decoys) */
    MET_HASH_SHARED,      /* answered from an identical verification in flight or the cache since */
    MET_CHANGE_EVENT,     /* change events received */
    MET_REDIS_ERROR,
    MET_AUTHZ_HIT,          /* rules/groups answered from the config snapshot */
    MET_AUTHZ_RELOAD,       /* config snapshots loaded from the store and cached */
    MET_AUTHZ_INCONSISTENT, /* snapshot loads that raced a write (not cached) */
    MET_AUTHZ_DROP,         /* snapshots dropped early by a change event */
    MET_COUNTER_COUNT
} metrics_counter_t;

typedef struct metrics_gauges {
    size_t lookup_queue;  /* requests waiting for a lookup worker */
    size_t hash_queue;    /* verifications waiting for a hash worker */
    size_t cache_entries;
    size_t throttled_keys;
    int64_t config_cache_version; /* version of the cached snapshot, -1 none */
} metrics_gauges_t;

typedef struct metrics metrics_t;

/* Caller owns the result; NULL on OOM. */
metrics_t *metrics_new(void);
void metrics_destroy(metrics_t **m);

/* Counts a finished request and its latency (receive to reply). */
void metrics_request(metrics_t *m, metrics_result_t r, uint64_t latency_us);
void metrics_inc(metrics_t *m, metrics_counter_t c);
uint64_t metrics_get(const metrics_t *m, metrics_counter_t c);
uint64_t metrics_result_get(const metrics_t *m, metrics_result_t r);

/* Appends the Prometheus text exposition to out. 0 or -ENOMEM. */
int metrics_render(const metrics_t *m, const metrics_gauges_t *g, buf_t *out);

/* How long one argon2 verification takes here: a moving average (1/8 per
 * run) of the runs' wall time, in microseconds (0 before the first). */
void metrics_hash_time(metrics_t *m, uint64_t us);
uint64_t metrics_hash_avg_us(const metrics_t *m);

#endif

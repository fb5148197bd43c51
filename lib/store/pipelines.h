/* pipelines: Pipelines and Topic Mappings in the Redis store (issue 17), the
 * "route" stage: a PUBLISH whose topic matches a mapping's filter is
 * appended by the broker to its pipeline's queue, and roost-forwarder POSTs
 * the queue to the pipeline's HTTP API. Same handle, connection, error and
 * ownership rules as store.h (blocking; one handle per thread; store never
 * logs). Written only by admin; read by admin, roost-forwarder and roostctl.
 *
 * Key layout (prefix P):
 * (G is the global family's prefix "P{g}:" of store/keys.h: one slot.)
 *   G pipeline:<id>           hash   id name description url status
 *                                    auth_token network_token batch_size
 *                                    linger_ms max_attempts max_queue max_age_s
 *                                    timeout_ms created_at updated_at
 *   G pipelines               zset   "<13-digit created_at>:<id>" (as clients)
 *   G idx:pipeline:name       hash   name -> pipeline id
 *   G pipeline:<id>:mappings  set    ids of the mappings that feed it
 *   G mapping:<id>            hash   id topic pipeline created_at updated_at
 *   G mappings                zset   as pipelines
 *   G idx:mapping             hash   "<pipeline id> <topic>" -> mapping id
 *   G routes:version          string INCR'd by every pipeline/mapping write
 *                                    (brokers and forwarders poll it)
 *   G pq:<id>                 stream the pipeline's queue (pipeq.h), its
 *                                    consumer group "forwarders" made with
 *                                    the pipeline
 *   G pq:<id>:dead            stream dead-lettered entries
 *   G pq:<id>:stats           hash   queued (messages in the queue) dropped
 *                                    dead forwarded last_error last_error_at
 *                                    last_ok_at
 * Deleting a pipeline deletes its queue, dead letters and stats; it is
 * refused (ROOST_ECONFLICT, field "mappings", ids) while mappings feed it.
 * Every write is one Lua script that also bumps routes:version (not the
 * access-data version: a mapping change must not invalidate authd caches).
 *
 * Tokens: auth_token and network_token are stored as given (the forwarder
 * sends them); store returns them, and only admin's document layer masks
 * them. Callers must never log them.
 */
#ifndef ROOST_STORE_PIPELINES_H
#define ROOST_STORE_PIPELINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define STORE_PIPELINE_MAX 1000      /* pipelines in one store */
#define STORE_MAPPING_MAX 10000      /* mappings in one store */
#define STORE_TOKEN_MAX 4096
#define STORE_URL_MAX 2048

/* Defaults applied on create when a field is absent. */
#define STORE_PIPE_DEF_BATCH 1
#define STORE_PIPE_DEF_LINGER_MS 0
#define STORE_PIPE_DEF_ATTEMPTS 10
#define STORE_PIPE_DEF_QUEUE 100000
#define STORE_PIPE_DEF_TIMEOUT_MS 10000

/* Rules (ROOST_EINVAL + field):
 *   name          as a client's name; unique (ROOST_ECONFLICT "name")
 *   description   as a group's
 *   url           http:// or https:// then a host; 1-2048 printable ASCII,
 *                 no spaces
 *   auth_token, network_token  0-4096 printable ASCII (sent as HTTP header
 *                 values: no control characters)
 *   batch_size    1-1000 messages per request (1: one JSON object per
 *                 request; more: a JSON array)
 *   linger_ms     0-60000: how long a partial batch may wait for more
 *   max_attempts  1-1000 deliveries before an entry is dead-lettered
 *   max_queue     1-10000000 messages; a full queue drops new messages
 *   max_age_s     0-31536000 seconds (0: no age cap); entries older than
 *                 this are dropped (counted as dropped) when the next
 *                 message is appended
 *   timeout_ms    100-120000 per HTTP request */
typedef struct store_pipeline {
    char id[STORE_ID_LEN + 1];
    char *name, *description, *url;
    bool paused;
    char *auth_token, *network_token; /* "" when not set; never log */
    int64_t batch_size, linger_ms, max_attempts, max_queue, timeout_ms, max_age_s;
    int64_t created_at, updated_at;
} store_pipeline_t;

/* create: name and url required, the rest optional (NULL / has_* false =
 * default). update: NULL / has_* false = unchanged; a token "" clears it. */
typedef struct store_pipeline_spec {
    const char *name, *description, *url;
    const char *status; /* "active" or "paused" */
    const char *auth_token, *network_token;
    bool has_batch_size, has_linger_ms, has_max_attempts, has_max_queue, has_timeout_ms, has_max_age_s;
    int64_t batch_size, linger_ms, max_attempts, max_queue, timeout_ms, max_age_s;
} store_pipeline_spec_t;

/* A topic mapping: messages whose topic matches `topic` (an MQTT filter,
 * '+' and '#', 1-65535 bytes of UTF-8) go to pipeline `pipeline` (an
 * existing pipeline id: ROOST_EINVAL "pipeline" otherwise). One filter may
 * feed several pipelines and one pipeline may be fed by several filters
 * (many-to-many); the same (pipeline, topic) pair twice is ROOST_ECONFLICT
 * "topic". A message matching several filters of one pipeline is queued
 * there once. */
typedef struct store_mapping {
    char id[STORE_ID_LEN + 1];
    char *topic;
    char pipeline[STORE_ID_LEN + 1];
    int64_t created_at, updated_at;
} store_mapping_t;

typedef struct store_mapping_spec {
    const char *topic;
    const char *pipeline;
} store_mapping_spec_t;

/* Everything at once: one atomic read, creation order. */
typedef struct store_routes {
    store_pipeline_t *pipelines;
    size_t n_pipelines;
    store_mapping_t *mappings;
    size_t n_mappings;
    int64_t version; /* routes:version of the same snapshot */
} store_routes_t;

/* A page of a list call: items point into `all` (owned by the page). */
typedef struct store_pipeline_page {
    store_routes_t *all;
    const store_pipeline_t **items;
    const store_mapping_t **mappings;
    size_t n;
    uint64_t total;
    char *next_cursor; /* NULL on the last page */
} store_pipeline_page_t;

int store_pipeline_create(store_t *s, const store_pipeline_spec_t *spec, store_pipeline_t **out);
int store_pipeline_get(store_t *s, const char *id, store_pipeline_t **out);
int store_pipeline_update(store_t *s, const char *id, const store_pipeline_spec_t *spec,
                          store_pipeline_t **out);
int store_pipeline_delete(store_t *s, const char *id);
void store_pipeline_free(store_pipeline_t **pp);

int store_mapping_create(store_t *s, const store_mapping_spec_t *spec, store_mapping_t **out);
int store_mapping_get(store_t *s, const char *id, store_mapping_t **out);
int store_mapping_update(store_t *s, const char *id, const store_mapping_spec_t *spec,
                         store_mapping_t **out);
int store_mapping_delete(store_t *s, const char *id);
void store_mapping_free(store_mapping_t **mp);

/* 0 and *out (caller owns), ROOST_EUNAVAILABLE, ROOST_ESTORE. */
int store_routes_load(store_t *s, store_routes_t **out);
/* routes:version only (0 before the first write). */
int store_routes_version(store_t *s, int64_t *out);
void store_routes_free(store_routes_t **rp);

/* Pages over store_routes_load in creation order: pipelines (search: name
 * or url contains it, ASCII case-insensitively; mappings NULL) or mappings
 * (search: topic; items NULL). Cursors as store_client_list. */
int store_pipeline_list(store_t *s, const char *cursor, size_t limit, const char *search,
                        store_pipeline_page_t **out);
int store_mapping_list(store_t *s, const char *cursor, size_t limit, const char *search,
                       store_pipeline_page_t **out);
void store_pipeline_page_free(store_pipeline_page_t **pp);

/* Delivery state of one pipeline, from its queue keys. */
typedef struct store_pipeline_stats {
    int64_t queued;   /* messages in the queue (waiting or in flight; pipeq.h) */
    int64_t pending;  /* entries delivered to a forwarder, not yet acknowledged */
    int64_t dead;     /* messages in the dead-letter stream (one an entry) */
    int64_t dropped, forwarded;
    int64_t oldest_ms;        /* enqueue time of the oldest entry, 0 if none */
    int64_t last_ok_at, last_error_at;
    char last_error[256];     /* "" if none */
} store_pipeline_stats_t;
int store_pipeline_stats(store_t *s, const char *id, store_pipeline_stats_t *out);

#endif

/* fwd_priv: what fwd.c (loop, routes, queues, metrics) and send.c (HTTP
 * requests and their outcomes) share. Nobody else includes it. */
#ifndef ROOST_FORWARDER_FWD_PRIV_H
#define ROOST_FORWARDER_FWD_PRIV_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "changes.h"
#include "fwd.h"
#include "store/pipelines.h"
#include "store/pipeq.h"

#define FWD_LAT_BUCKETS 10 /* request latency histogram (seconds) */
extern const double FWD_LAT_BOUNDS[FWD_LAT_BUCKETS];

/* A queue entry some of whose messages this forwarder holds: acknowledged
 * (pipeq_ack) once every message of it is delivered or dead-lettered. */
typedef struct fentry {
    char eid[PIPEQ_EID_MAX];
    size_t count;       /* messages the queue counts for it (pipeq_msg_t count) */
    size_t left;        /* its messages not yet delivered nor dead-lettered */
    size_t delivered;
    size_t refs;        /* held_t pointing at it */
} fentry_t;

/* One message held by this forwarder, waiting or in a request. */
typedef struct held {
    fentry_t *e;        /* its entry (shared by the entry's messages) */
    char mid[PIPEQ_MID_MAX]; /* message id (pipeq.h) */
    char *json;
    size_t len;
    int attempts;       /* failed deliveries so far (408/5xx/network) */
    int64_t since;      /* monotonic ms when it was read (linger) */
} held_t;

typedef struct pipe pipe_t;

typedef struct req {
    pipe_t *p;
    CURL *easy;
    struct curl_slist *hdrs;
    held_t *items;
    size_t n;
    char *body;
    int64_t t0;          /* monotonic ms */
    long retry_after_s;  /* from a Retry-After header; -1 none */
    char err[CURL_ERROR_SIZE];
    struct req *next; /* the pipeline's requests in flight */
} req_t;

struct pipe {
    char id[STORE_ID_LEN + 1];
    store_pipeline_t cfg; /* copy of the record; tokens never logged */
    held_t *q;            /* waiting entries, stream order, q[0] first */
    size_t n, cap;
    int64_t ready_at;     /* nothing sent before this (backoff, Retry-After) */
    int inflight;
    req_t *reqs;          /* in flight (inflight of them) */
    bool seen, gone;
    int64_t next_read, next_claim, next_touch;
    size_t per_entry;     /* messages per entry in the last read (0: none yet) */
    pipeq_done_t *acks;   /* entries to acknowledge (eids owned) */
    size_t n_acks, cap_acks;
    /* metrics */
    uint64_t forwarded, retried, dead, requests, failures, lat_count;
    uint64_t lat_bucket[FWD_LAT_BUCKETS];
    double lat_sum;
    int64_t depth, oldest_age_ms, dropped;
    pipe_t *next;
};

struct fwd {
    const fwd_conf_t *conf;
    char consumer[300];
    store_t *store;
    CURLM *multi;
    CURL **idle;          /* finished easy handles to reuse (send.c) */
    size_t n_idle;
    pipe_t *pipes;
    int64_t routes_version, next_routes, next_metrics, redis_retry_at;
    int64_t acks_since;   /* monotonic ms of the oldest unsent ack, 0: none */
    int64_t acks_retry_at; /* after a refused ack: not before this (monotonic ms) */
    int64_t acks_backoff;  /* ms, doubling while acks are refused; 0: none */
    bool routes_loaded, draining;
    atomic_bool redis_ok;
    atomic_llong last_tick;
    pthread_mutex_t mu;
    buf_t snapshot;       /* under mu */
    uint64_t started_ms;
    fwd_changes_t *changes; /* admin's change events, or NULL (poll only) */
};

int64_t fwd_now_ms(void);
/* Notes a store failure (logs on the first of a run) or success. */
void fwd_redis_result(fwd_t *f, int rc, const char *what);

/* send.c */
/* Starts one request with the first n waiting entries of p. 0 or <0 (the
 * entries stay waiting). */
int send_start(fwd_t *f, pipe_t *p, size_t n);
/* Handles a finished transfer. */
void send_done(fwd_t *f, req_t *r, CURLcode result);
/* Frees the easy handles kept for reuse (before curl_multi_cleanup). */
void send_fini(fwd_t *f);
/* Frees a request whose pipeline went away (entries dropped). */
void send_abandon(fwd_t *f, req_t *r);
/* Puts messages back at the front of p's queue (takes ownership). */
int pipe_unshift(pipe_t *p, held_t *items, size_t n);
/* Lets go of a message (its entry is freed with the last one): one not
 * done (held_done) is not acknowledged, delivered again after a claim. */
void held_free(held_t *h);
/* A message delivered (true) or dead-lettered: its entry goes to p's
 * acknowledgements when it was the last one left; then held_free. */
void held_done(pipe_t *p, held_t *h, bool delivered);

#endif

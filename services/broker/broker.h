/* broker: the state one roost-broker process routes with, shared by the
 * connection, session and routing modules of this service (one event loop,
 * single-threaded: nothing here is locked).
 *
 * Invariants: every live connection is on `conns`; a connection with bytes to
 * write is on the flush list once; a closed connection is on the close list
 * once and freed in before_sleep, never inside a callback. A session is in
 * `sessions` under its client id while it exists; its subscriptions are in
 * `trie` with the session as subscriber.
 */
#ifndef ROOST_BROKER_BROKER_H
#define ROOST_BROKER_BROKER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/loop.h"
#include "base/map.h"
#include "config.h"
#include "mqtt/subtrie.h"
#include "mqtt/topictree.h"

typedef struct conn conn_t;
typedef struct session session_t;
typedef struct authc authc_t;
typedef struct cluster cluster_t;
typedef struct kick kick_t;
typedef struct routes routes_t;
typedef struct http http_t;

/* One routing target during a publish: a session and the QoS it gets. */
typedef struct route_target {
    session_t *sess;
    uint32_t ids;    /* its matching subscriptions' Subscription Identifiers: a
                        list in broker_t.subids from index ids - 1 (0: none) */
    uint8_t qos;
    bool rap;        /* a matching subscription has Retain As Published */
} route_target_t;

/* The Subscription Identifiers a PUBLISH to a 5.0 session carries
 * [MQTT-3.3.4-3]: the ones routing collected from the subscriptions that
 * matched (routed: v[0..n), maybe none), or else the session's matching
 * subscriptions' found again when it is written (a message sent from the
 * queue, resent, or restored from Redis), without its No Local ones when
 * the session published the message itself (own; for a routed one the
 * session module knows it from cur_origin) [MQTT-3.8.3-3]. */
typedef struct pub_ids {
    const uint32_t *v;
    uint32_t n;
    bool routed;
    bool own;
    bool shared; /* a shared group's copy: v holds the group's identifier
                  * (or none), kept with the copy while it waits and used
                  * again when it is written [MQTT-3.3.4-5] */
} pub_ids_t;

/* One Subscription Identifier of a routing target (a list per target). */
typedef struct route_subid {
    uint32_t id;
    uint32_t next;   /* index + 1 of the next of the same target, 0: the last */
} route_subid_t;

typedef struct broker_stats {
    uint64_t connections_total;
    uint64_t msgs_in, msgs_out;
    uint64_t dropped_qos0;     /* output over --max-outbuf */
    uint64_t dropped_queue;    /* session queue over --max-queued (the newest dropped) */
    uint64_t dropped_queue_logged; /* dropped_queue at the last queue_full log line */
    uint64_t queue_full_log_ms;    /* loop time of that line (one per second at most) */
    uint64_t dropped_retained; /* over --max-retained */
    uint64_t dropped_too_large; /* PUBLISHes over a 5.0 client's Maximum Packet Size */
    uint64_t protocol_errors;
    uint64_t denied_publish;   /* dropped by the ACL */
    uint64_t denied_subscribe;
    uint64_t store_failures;   /* Redis writes that failed: connection closed, no ack */
    uint64_t pipeline_appends; /* messages appended to pipeline queues (per pipeline) */
    uint64_t pipeline_dropped; /* appends refused by a full pipeline queue */
    uint64_t bus_frames_out, bus_msgs_out; /* data frames sent on the bus, messages in them */
    uint64_t bus_frames_in, bus_msgs_in;   /* data frames received, messages routed from them */
    uint64_t bus_dropped;      /* bus messages not sent or not routed (out of memory) */
    uint64_t bus_malformed;    /* bus frames with a malformed entry (rest dropped) */
    uint64_t connack[6];       /* CONNACKs sent by 3.1.1 code (0 accepted; 5.0 mapped to them) */
    uint64_t queued;           /* QoS 1/2 messages put in a session's queue */
    uint64_t rate_limited;     /* times a connection's reads were held by --max-msg-rate/--max-byte-rate */
    uint64_t write_backpressure; /* times a connection's reads paused at PIPE_PENDING_MAX writes in flight */
} broker_stats_t;

typedef struct broker {
    const broker_config_t *cfg;
    char id[64];
    loop_t *loop;
    int listen_fd;
    int tls_listen_fd;         /* -1 without --tls-cert */
    struct xtls_server *tls;   /* NULL without a TLS listener */
    struct tlssync *tlssync;   /* admin's certificates (cluster mode with TLS), or NULL */
    int ws_listen_fd, wss_listen_fd; /* -1 without --ws-port / --wss-port */
    struct xws_server *ws;     /* NULL without a WebSocket listener */
    volatile sig_atomic_t *reload_flag; /* set by main's SIGHUP handler; NULL: none */
    bool draining;
    /* cluster: the listeners are bound but not watched until the
     * persistent-subscription index is loaded (server.c, cluster_ready) */
    bool accept_held;
    uint64_t accept_hold_timer;
    authc_t *authc;            /* NULL with --insecure-no-auth */
    cluster_t *cluster;        /* NULL on a single node without Redis */
    kick_t *kick;              /* NULL without --admin-events */
    routes_t *routes;          /* topic mappings to pipelines; NULL without a cluster */
    uint32_t mappings;         /* how many routes holds (0: no routes_match to do; read
                                  inline on the publish path) */
    struct shared *shared;     /* shared subscriptions (shared.h) */
    uint32_t shared_groups;    /* groups it knows (0: no shared_publish to do) */
    uint32_t shared_holds;     /* shared messages sessions here hold unacknowledged
                                  (0: no shared_acked to do) */
    http_t *http;              /* NULL without --http-port */
    struct beacon *beacon;     /* instance record for admin (cluster only) */
    uint64_t started_ms;       /* wall clock at start */
    map_t conns_by_serial;     /* 8-byte serial -> conn_t, for async callbacks */
    uint64_t next_serial;
    map_t adopting;            /* client id -> adoption in progress (adopt.c) */
    map_t wills;               /* client id -> will held by a 5.0 Will Delay (will.c) */
    struct catchup *catchups;  /* scheduled catch-up reads (adopt.c), freed at exit */
    const char *cur_topic;     /* the topic being matched (delivery ACL checks) */
    size_t cur_topic_len;
    const session_t *cur_origin; /* the publisher's session (No Local), or NULL */

    conn_t *conns;             /* all connections, doubly linked */
    uint32_t nconns;
    uint32_t npreauth;         /* of them, not accepted yet (--max-preauth-memory) */
    double connect_tokens[4];  /* --max-connect-rate buckets: plain, TLS, ws, wss listener */
    uint64_t rl_timer, rl_timer_at; /* next release of connections held by the rate limit */
    uint64_t connect_refill_ms[4];
    conn_t *flush_head;        /* connections with pending output */
    conn_t *close_head;        /* connections to free at the safe point */

    map_t sessions;            /* client id -> session_t */
    subtrie_t *trie;
    topictree_t *retained;     /* topic -> msg_t; a filter walks only what it can match */
    uint64_t retained_swept_ms; /* last walk for expired retained messages (route.c) */
    /* Reloads of the retained set from Redis pending (route_retain_load_*),
     * and the topics route_retain changed since the first was sent. */
    uint32_t retained_loads;
    topictree_t *retained_fresh;
    bool retained_fresh_lost;  /* one could not be noted (OOM): drop the answers */

    route_target_t *targets;   /* scratch for one publish's fan-out */
    route_subid_t *subids;     /* scratch: the targets' Subscription Identifiers */
    uint32_t captargets, capsubids;
    /* (the three a match resets, side by side: one store clears them) */
    uint32_t ntargets, nsubids;
    bool targets_v5;           /* a target of this match has No Local, a filtered topic,
                                  Retain As Published or Subscription Identifiers (route.c) */
    uint64_t stamp;            /* one per publish: dedupes sessions in fan-out */

    uint8_t *scratch;          /* shared read buffer, BROKER_READ_CHUNK bytes */
    broker_stats_t stats;
} broker_t;

#define BROKER_READ_CHUNK (64 * 1024)

#endif

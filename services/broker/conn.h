/* conn: one client connection: socket, buffers, protocol state.
 *
 * Reading: one read() per readable event into the broker's shared 64 KiB
 * scratch buffer; whole packets are dispatched straight from it, and only a
 * trailing partial packet is copied into the connection's own `in` buffer.
 * A transport (TLS; see xport.h) may sit under those reads and writes; plain
 * TCP has none and calls read/write on the socket itself.
 * Writing: packets are encoded into `out`; the connection joins the flush
 * list and before_sleep writes each list member once per loop turn
 * (EPOLLOUT only while a socket cannot drain). Idle connections release both
 * buffers, so an idle connection costs its struct and its session.
 *
 * conn_close marks and queues; the connection is freed at the safe point
 * (conn_reap from before_sleep), after its pending output had one last
 * chance to be written.
 */
#ifndef ROOST_BROKER_CONN_H
#define ROOST_BROKER_CONN_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/log.h"
#include "broker.h"
#include "msg.h"
#include "mqtt/mqtt.h"
#include "xport.h"

enum conn_state {
    CONN_NEW = 0,      /* waiting for CONNECT */
    CONN_AUTHING = 1,  /* CONNECT received, decision pending; reads paused */
    CONN_ACTIVE = 2,   /* CONNACK 0 sent */
    CONN_CLOSING = 3,  /* queued for the safe point */
};

struct conn {
    int fd;
    uint8_t state;
    uint8_t version;           /* protocol level after CONNECT */
    bool graceful;             /* DISCONNECT received: no will */
    bool taken_by_clean;       /* taken over by a Clean Start 1 CONNECT: the session ends */
    bool on_flush;
    bool want_write;           /* EPOLLOUT registered */
    bool drop_logged;
    uint16_t keepalive;        /* seconds */
    uint16_t peer_port;
    bool has_xport;            /* a transport's state follows the struct (conn_xport) */
    uint32_t last_rx;          /* loop ms of the last packet (of the accept before CONNECT),
                                  low 32 bits: ages are taken mod 2^32 (up to 49 days) */
    mqtt_decoder_t dec;
    buf_t in, out;
    session_t *sess;
    msg_t *will;
    struct pending *auth;      /* the authd request while CONN_AUTHING */
    struct adopt *adopt;       /* session adoption in progress (cluster) */
    uint64_t serial;           /* 0, or the handle async callbacks find us by */
    uint32_t persist_pending;  /* Redis ops whose completion our next output waits for */
    bool paused;               /* reads stopped until a store op completes */
    bool pipe_held;            /* paused by pipeline.c: PIPE_PENDING_MAX writes in flight */
    bool registered;           /* in the Redis connection registry */
    bool proxied;              /* PROXY header read (--proxy-protocol) */
    bool preauth;              /* counted in broker->npreauth (until accepted or closed) */
    bool rl_held;              /* reads held by ratelimit.h until rl_until (loop ms) */
    bool rl_on;                /* a limit may apply (flags' or groups'): ratelimit.h charges */
    uint64_t rl_until;
    struct { double tokens; uint64_t at_ms; } rl_msgs, rl_bytes; /* ratelimit.h buckets */
    uint32_t rl_msg_rate, rl_byte_rate; /* the groups' limits (authd), 0: the flags' */
    log_limit_t deny_log;      /* publish_denied / subscribe_denied lines (conn_log_denied) */
    char *who;                 /* authd's answer for the registry (conn_set_who), or NULL */
    struct conn5 *v5;          /* level 5: what CONNECT negotiated (conn5.h); NULL before 5.0 */
    broker_t *b;
    conn_t *prev, *next;       /* broker->conns */
    conn_t *flush_next;
    conn_t *close_next;
    const char *close_reason;  /* static string */
    uint8_t peer_addr[16];     /* v4 peers are stored v4-mapped */
};

/* Takes ownership of fd (non-blocking). kind: the transport under the
 * connection (TLS), or NULL for plain TCP. Returns the connection or NULL
 * (fd closed) on OOM or when the loop cannot watch it. */
conn_t *conn_new(broker_t *b, int fd, const struct sockaddr *peer, const xport_kind_t *kind);
/* CONNECT accepted: --max-packet-size from now on, no longer pre-auth. */
void conn_accepted(conn_t *c);

/* The connection's transport, or NULL for plain TCP. */
static inline xport_t *conn_xport(conn_t *c) { return c->has_xport ? (xport_t *)(c + 1) : NULL; }

/* Appends bytes to the output buffer. 0 or -ENOMEM (the caller closes). */
int conn_write(conn_t *c, const void *p, size_t n);
/* The one way a PUBLISH reaches a client: encodes m at qos (pid for
 * qos > 0) for the connection's protocol level into the output. props is a
 * 5.0 property list without its length (mqtt_props_encode/_copy output;
 * {NULL, 0} for none): written for a level-5 client, left out before 5.0.
 * Returns 0, -ENOMEM (the caller closes), or CONN_TOO_LARGE (nothing
 * written) when the packet exceeds the Maximum Packet Size the client
 * set: "the Server MUST NOT send packets exceeding Maximum Packet Size to
 * the Client" [MQTT-3.1.2-24]; the caller drops that message for this
 * client and behaves as if it had been sent [MQTT-3.1.2-25]. */
#define CONN_TOO_LARGE 1
int conn_send_publish_props(conn_t *c, const msg_t *m, uint8_t qos, uint16_t pid, bool dup,
                            bool retain, mqtt_str_t props);
/* conn_send_publish_props with the message's 5.0 properties, expiry and
 * Subscription Identifiers (ids; NULL: found again, not own) for a 5.0
 * client (publish5.h), none for the others. */
int conn_send_publish(conn_t *c, const msg_t *m, uint8_t qos, uint16_t pid, bool dup,
                      bool retain, const pub_ids_t *ids);
/* Would a PUBLISH of m with props of props_len bytes fit the client's
 * Maximum Packet Size? (Always true before 5.0.) */
bool conn_publish_fits(const conn_t *c, const msg_t *m, uint8_t qos, size_t props_len);
/* PUBACK, PUBREC, PUBREL or PUBCOMP for the connection's level; rc is the
 * 5.0 reason code (left out before 5.0, and when 0x00). */
int conn_send_ack(conn_t *c, uint8_t type, uint16_t pid);
int conn_send_ack_rc(conn_t *c, uint8_t type, uint16_t pid, uint8_t rc);
/* Bytes waiting to be written. */
static inline size_t conn_pending(const conn_t *c) { return buf_unread(&c->out); }

/* Marks the connection closed for `reason` (a static string): stops reading,
 * detaches it from its session at once (so a takeover can attach the session
 * elsewhere) and queues it for conn_reap. Idempotent. */
void conn_close(conn_t *c, const char *reason);

/* Writes every flush-list member once (before_sleep). */
void conn_flush_all(broker_t *b);
/* Frees the connections closed since the last call, publishing wills of
 * those that did not DISCONNECT. */
void conn_reap(broker_t *b);
/* Keep-alive (1.5x) and CONNECT-timeout enforcement, and buffer release of
 * idle connections; called periodically. */
void conn_sweep(broker_t *b);

/* Resumes reading after a paused CONNECT or store op (processes buffered
 * input). */
void conn_resume(conn_t *c);
/* Stops reading until conn_resume. */
void conn_pause(conn_t *c);
/* Rate limit (ratelimit.h): stops reading until until_ms (loop ms), when
 * the sweep lets it read again; independent of conn_pause. */
void conn_hold(conn_t *c, uint64_t until_ms);
/* A handle for async callbacks (registers the connection on first use):
 * conn_by_serial gives the connection back while it lives, NULL after.
 * 0 on OOM. Idle connections never need one, so they cost no map entry. */
uint64_t conn_handle(conn_t *c);
conn_t *conn_by_serial(broker_t *b, uint64_t serial);

/* What authd said about the device, kept for the connection registry:
 * username (NULL: anonymous), store client id, group ids comma-separated.
 * One allocation; 0 or -ENOMEM. */
int conn_set_who(conn_t *c, const char *username, const char *client_id, const char *groups);
const char *conn_username(const conn_t *c);   /* NULL if none */
const char *conn_store_id(const conn_t *c);   /* "" if none */
const char *conn_groups(const conn_t *c);     /* "" if none */

/* Logs a denial the client can trigger at will (event publish_denied or
 * subscribe_denied, field=value: the topic or filter, quoted) under the
 * connection's limit: the first few per window, then a
 * denied_suppressed count (also at close). */
void conn_log_denied(conn_t *c, const char *event, const char *field, const void *value,
                     size_t len);

/* "ip:port" of the peer into out (at least 64 bytes). */
const char *conn_peer(const conn_t *c, char *out, size_t cap);

#endif

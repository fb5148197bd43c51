/* session: MQTT session state of one client id, alive across connections
 * when the client asked for a persistent session (clean session 0).
 *
 * Holds the subscriptions (mirrored in the broker trie), the outgoing QoS 1/2
 * in-flight window (--max-inflight, with the state of each packet id), the
 * queue of messages waiting for the window or for the client to come back
 * (--max-queued, QoS 1/2 only while offline), and the QoS 2 packet ids
 * received and not yet released. Kept in memory in this release; the cluster
 * moves it to Redis.
 */
#ifndef ROOST_BROKER_SESSION_H
#define ROOST_BROKER_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "acl/acl.h"
#include "broker.h"
#include "msg.h"

typedef struct sub_entry {
    char *filter;    /* with a subid: the filter of its subref_t (session_subs.c) */
    uint16_t len;
    uint8_t qos;     /* the options byte (QoS, 5.0 options, SUBOPT_FILTERED) */
    uint32_t subid;  /* 5.0 Subscription Identifier, 0: none */
} sub_entry_t;

typedef struct out_entry {
    msg_t *m;        /* NULL once PUBREC arrived (only the PUBREL is left) */
    uint16_t pid;    /* in-flight only */
    uint8_t qos;
    uint8_t state;   /* in-flight only: OUT_WAIT_* */
    bool retain;
    bool dup;        /* may have been sent before (restored from Redis) */
    bool own;        /* published by this session: its No Local subscriptions
                        give no Subscription Identifier when it is sent */
    bool shared;     /* a shared group's copy: it carries subid alone */
    uint32_t subid;  /* shared: the group's Subscription Identifier, 0 none */
} out_entry_t;

/* Broker-internal bit in a trie entry's options byte: the ACL granted this
 * subscription only with a deny entry overlapping it, so each message is
 * checked with acl_check_deliver (DESIGN "Decision"). MQTT uses bits 0-5. */
#define SUBOPT_FILTERED 0x80
/* The MQTT subscription options kept with a subscription: QoS (bits 0-1),
 * No Local (2), Retain As Published (3); Retain Handling (4-5) acts only
 * at SUBSCRIBE. */
#define SUBOPT_MQTT 0x0f
#define SUBOPT_NO_LOCAL 0x04
#define SUBOPT_RAP 0x08
/* Broker-internal bit in a trie entry's options byte: the subscriber is
 * the subscription's subref_t, not its session (it has a Subscription
 * Identifier, which routing collects where it matches). */
#define SUBOPT_SUBID 0x40

/* The trie's subscriber for a subscription with a Subscription Identifier. */
typedef struct subref {
    session_t *sess;
    uint32_t subid;
    char filter[]; /* the subscription's filter, NUL-terminated */
} subref_t;

enum { OUT_WAIT_PUBACK = 1, OUT_WAIT_PUBREC = 2, OUT_WAIT_PUBCOMP = 3 };

struct sstore_session;

struct session {
    /* pointers first, then 64/32/16-bit fields: no padding between them
     * (one session per client, so bytes here are bytes per device) */
    conn_t *conn;              /* NULL while offline */
    acl_matcher_t *acl;        /* from the last CONNECT; NULL: allow all */
    sub_entry_t *subs;
    out_entry_t *inflight;     /* capacity --max-inflight, allocated on first use */
    out_entry_t *queue;        /* ring */
    uint16_t *rx_qos2;         /* QoS 2 packet ids received, PUBREL pending */
    map_t *seen;               /* cluster: entry ids delivered since the session was
                                  loaded from Redis, until the catch-up reads end */
    char *owner;               /* credential (store client id) of its last CONNECT, or NULL */
    uint64_t stamp;
    struct session_exp *exp;   /* single node: the timer ending it offline, or NULL */
    uint32_t expiry;           /* seconds it outlives its connection; SESSION_NEVER: no end */
    uint32_t nsubs, capsubs;
    uint32_t qhead, qlen, qcap;
    uint32_t target_idx;       /* routing scratch, valid while stamp == broker stamp */
    uint16_t id_len;
    uint16_t ninflight;
    uint16_t next_pid;
    uint16_t nrx2, caprx2;
    uint16_t catchups;         /* catch-up reads (and their grace) still holding `seen` */
    uint16_t unsent;           /* in-flight entries at the end of the window not resent yet
                                  on this connection (a 5.0 Receive Maximum below them) */
    bool clean;                /* ends with its connection (3.1.1 clean, 5.0 expiry 0) */
    bool stored;               /* cluster: may have state in Redis (loaded or persistent) */
    bool has_subids;           /* a subscription has a Subscription Identifier */
    char id[];                 /* the client id, NUL-terminated (one allocation) */
};

/* Creates a session for id and registers it in b->sessions. NULL on OOM. */
session_t *session_new(broker_t *b, const char *id, size_t len, bool clean);
/* Unsubscribes everything, drops queued messages, unregisters and frees;
 * sets *s to NULL. The session must be offline. */
void session_destroy(broker_t *b, session_t **s);
/* The connection c of s went away (not a takeover): a clean session ends;
 * in cluster mode a persistent one leaves memory too (its state is in
 * Redis, where it now expires after s->expiry: sstore_session_expire; a
 * clean one that had Redis state has it cleared) and the client-id lease
 * is released. On a single node a persistent session is destroyed after
 * s->expiry seconds offline unless a connection takes it first
 * (session_keep). */
void session_closed(broker_t *b, session_t **s, conn_t *c);
/* A connection took s: no expiry timer any more. */
void session_keep(broker_t *b, session_t *s);

#define SESSION_NEVER UINT32_MAX
/* The expiry a session gets: `requested` seconds (5.0 Session Expiry
 * Interval; SESSION_NEVER for 0xFFFFFFFF and for a 3.1.1 persistent
 * session), held to --session-expiry when that is set. */
uint32_t session_expiry_cap(const broker_config_t *cfg, uint32_t requested);
/* s->expiry in ms for the store: 0 for SESSION_NEVER. */
uint64_t session_expiry_ms(const session_t *s);

/* Cluster: fills a new persistent session from its Redis state: queued
 * messages (flagged DUP when the last holder sent them, or when it left no
 * record: sstore_lease_note_sent), PUBREL-pending
 * packet ids, received QoS 2 ids. Subscriptions are added by the caller. */
int session_restore(broker_t *b, session_t *s, const struct sstore_session *st);
/* Cluster: remembers/forgets the entry ids this session got (dedupe
 * between a Redis load and copies from the bus). */
int session_track_seen(session_t *s, bool on);

/* Adds or updates a subscription (trie included). options: QoS in bits 0-1,
 * SUBOPT_FILTERED. 0 or -ENOMEM. */
int session_subscribe(broker_t *b, session_t *s, const char *filter, size_t len, uint8_t options);
/* The same with the 5.0 options (No Local, Retain As Published in bits
 * 2-3) and Subscription Identifier (0: none); *existed says whether the
 * subscription was there already (Retain Handling 1), may be NULL. */
int session_subscribe5(broker_t *b, session_t *s, const char *filter, size_t len,
                       uint8_t options, uint32_t subid, bool *existed);
/* The Subscription Identifiers of s's subscriptions matching topic, at
 * most cap of them into ids; returns how many [MQTT-3.3.4-3]. own: the
 * message was published by s itself, so its No Local subscriptions did not
 * deliver it [MQTT-3.8.3-3] and give no identifier. Shared subscriptions
 * are left out: their copies carry their own (out_entry_t.shared). */
size_t session_subids(const session_t *s, const char *topic, size_t len, bool own, uint32_t *ids,
                      size_t cap);
/* The Subscription Identifier of s's subscription to the shared group
 * name/filter (share.h's parts), 0 when it has none: a shared delivery
 * carries that one alone [MQTT-3.3.4-5]. */
uint32_t session_share_subid(const session_t *s, const char *name, size_t name_len,
                             const char *filter, size_t filter_len);
/* Removes a subscription; 0 or ROOST_ENOTFOUND. */
int session_unsubscribe(broker_t *b, session_t *s, const char *filter, size_t len);

/* Takes from s the messages take() claims (it keeps its own reference):
 * queued ones, and in-flight ones the client has not acknowledged at all
 * (PUBACK or PUBREC outstanding). For shared subscriptions (shared.h). */
typedef bool (*session_take_fn)(void *arg, msg_t *m);
void session_take(broker_t *b, session_t *s, session_take_fn take, void *arg);

/* True if s holds a message with this entry id in flight or queued. */
bool session_holds(const session_t *s, const char *eid);

/* True if one of s's subscriptions still takes a message on topic (filter
 * match, and the ACL's delivery check for filtered subscriptions). */
bool session_wants(const session_t *s, const char *topic, size_t len);

/* The RETAIN flag of a message queued in Redis (published with retain)
 * when it is sent to s: an established subscription's delivery has it 0
 * (3.1.1 [MQTT-3.3.1-9]; 5.0 [MQTT-3.3.1-12]) unless a matching 5.0
 * subscription has Retain As Published [MQTT-3.3.1-13]. */
bool session_queued_retain(const session_t *s, const char *topic, size_t len, bool retain);

/* Drops queued messages (not yet in flight) that no subscription of s takes
 * any more, e.g. after session_set_acl removed one. */
void session_prune_queue(broker_t *b, session_t *s);

/* Counts n messages dropped because a session's queue was at --max-queued
 * (the newest is dropped, as Mosquitto does) and logs queue_full at most
 * once a second with the count since the last line. */
void session_count_queue_drop(broker_t *b, size_t n, const char *client_id);

/* Installs the ACL of a new connection (takes ownership of *acl, sets it to
 * NULL) and re-checks the subscriptions a resumed session carries: the ones
 * the new ACL denies are removed, the others get the new SUBOPT_FILTERED. */
void session_set_acl(broker_t *b, session_t *s, acl_matcher_t **acl);

/* Delivers m at qos (already min(publish, granted)) with the retain flag as
 * sent to this client: written now when online and the window allows,
 * queued (QoS 1/2) otherwise, dropped and counted past the limits. */
void session_deliver(broker_t *b, session_t *s, msg_t *m, uint8_t qos, bool retain);
/* The same with the Subscription Identifiers routing matched for s (ids:
 * broker.h's pub_ids_t; session_deliver: found when written, own when s is
 * the publisher being routed, b->cur_origin). A message queued keeps
 * ids->own and has its identifiers found again when it is written. */
void session_deliver_ids(broker_t *b, session_t *s, msg_t *m, uint8_t qos, bool retain,
                         const pub_ids_t *ids);

/* m matched a subscription of s that the ACL filters (SUBOPT_FILTERED) and
 * a deny entry covers its topic: s gets nothing, and the copy the cluster
 * queued for s in Redis (the publishing broker cannot see s's ACL) is
 * acknowledged there, so it neither waits for a reconnect nor counts
 * toward --max-queued. */
void session_filtered(broker_t *b, session_t *s, const msg_t *m);

/* Acknowledgements from the client for our outgoing packets. Unknown packet
 * ids are ignored (returns ROOST_ENOTFOUND for the caller's log). */
int session_on_puback(broker_t *b, session_t *s, uint16_t pid);
int session_on_pubrec(broker_t *b, session_t *s, uint16_t pid);
/* A 5.0 PUBREC with a reason code of 0x80 or more: the subscriber refused
 * the message; no PUBREL follows [MQTT-4.3.3-4], the exchange is over
 * (window slot and Redis queue entry freed, like a PUBACK). */
int session_on_pubrec_refused(broker_t *b, session_t *s, uint16_t pid);
int session_on_pubcomp(broker_t *b, session_t *s, uint16_t pid);

/* After CONNACK on a resumed session: resend in-flight packets (PUBLISH with
 * DUP, or PUBREL) [MQTT-4.4.0-1], then fill the window from the queue. */
void session_resume(broker_t *b, session_t *s);

/* Inbound QoS 2 (method B of MQTT 3.1.1 4.3.3): true if pid was already
 * received and not released; session_rx2_add records it; release forgets it
 * (true if it was held). */
bool session_rx2_has(const session_t *s, uint16_t pid);
int session_rx2_add(session_t *s, uint16_t pid);
bool session_rx2_release(session_t *s, uint16_t pid);

#endif

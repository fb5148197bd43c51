/* sstore: the broker's asynchronous access to the cluster state in Redis
 * (DESIGN.md "Clustering"): membership, client-id leases, persistent
 * sessions (subscriptions, queued and in-flight QoS 1/2 messages, QoS 2
 * packet-id state), retained messages and the live-connection registry.
 *
 * hiredis async, attached to a lib/base loop (loop.h) through a small
 * adapter; every callback runs on the loop thread, never inside the call that
 * issued the command (a call that fails returns the error and never calls
 * its callback: libuv rule). Replies arrive in the order commands were
 * issued, so a caller may rely on "callback of command A runs before the
 * callback of command B issued after A". While Redis is unreachable every
 * call fails at once with ROOST_EUNAVAILABLE and the module reconnects in
 * the background (backoff 100 ms doubling to 2 s); commands in flight when
 * the link drops complete with ROOST_EUNAVAILABLE. A link with replies
 * outstanding and none arriving for 10 s is dropped the same way (hiredis
 * async has no command timeout). One exception to reply order: after a
 * SCRIPT FLUSH under a live link, a script call that meets NOSCRIPT is re-sent
 * as EVAL and completes after calls issued behind it (sstore_barrier still
 * waits for it).
 *
 * Calls return 0 (the callback will run exactly once), ROOST_EUNAVAILABLE,
 * -ENOMEM, or ROOST_EINVAL for arguments the layout cannot hold (qos > 2,
 * topic over 65535 bytes, packet id 0, a NUL in a filter, a tab in an
 * endpoint, strings jansson refuses in a registry record). Callbacks get
 * rc 0, ROOST_EUNAVAILABLE, ROOST_ESTORE (error or malformed reply) or
 * -ENOMEM (could not build the views); on failure views are NULL/empty (a
 * session callback still gets a non-NULL, empty session).
 * A host name (of Redis, the Sentinels, Redis Cluster nodes) is resolved
 * off the loop (ss_dns.h): a silent DNS server stalls nothing.
 *
 * Key layout (store/keys.h: G is the global family's prefix "P{g}:", one
 * Redis Cluster slot; a per-client key is "P<name>{c:<cid>}", every key of
 * one client id in one slot; client ids written as given, binary-safe):
 *   G brokers                hash    broker id -> "endpoint\tstarted_ms"
 *   G broker:<id>:alive      string  with PX ttl; missing = broker dead
 *   P lease:{c:<cid>}        string  broker id holding the client id
 *   P leasecred:{c:<cid>}    string  credential (store client id) of that holder
 *   P sess:{c:<cid>}         hash    owner, updated_ms, credential (exists = persistent session)
 *   P subs:{c:<cid>}         hash    filter -> options + 256 x subscription id
 *   G psubs                  hash    "<cid>\0<filter>" -> qos (all persistent subs)
 *   G psubs:ver              string  INCR'd on every psubs change
 *   G sessexp                zset    cid -> unix ms its session is looked at (expiry)
 *   P q:{c:<cid>}            list    entry ids, arrival order
 *   P qm:{c:<cid>}           hash    entry id -> message blob (per-session qos)
 *                                    (q, qm: pushed to only while sess exists)
 *   P rx2:{c:<cid>}          set     inbound QoS 2 packet ids awaiting PUBREL
 *   P rel:{c:<cid>}          set     outbound packet ids awaiting PUBCOMP
 *   P sent:{c:<cid>}         set     ids the last holder had sent, and '.' (sstore_lease_note_sent)
 *   G retained               hash    topic -> message blob
 *   G retained:log           stream  one entry {t: topic} per retained put, capped
 *                                    (MAXLEN ~ SSTORE_RETAINED_LOG_MAX)
 *   (connection registry: the layout of lib/store/registry.h, under G)
 * Scripts that still cross the two families (a single Redis runs them; a
 * Redis Cluster would refuse them with CROSSSLOT): lease_take (lease and
 * the previous holder's alive key), session_clear, session_expire,
 * session_reap (sessexp and the sessions' keys) and sub_put/sub_del
 * (the session's keys and psubs), queue_push (the queues of several
 * clients).
 * Message blob: [qos u8][flags u8][topic_len u16 BE][topic], then the 5.0
 * expiry and properties when flags say so, then the payload (sblob.h).
 * Multi-key writes are Lua scripts (EVALSHA with EVAL fallback).
 */
#ifndef ROOST_STORE_SSTORE_H
#define ROOST_STORE_SSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/loop.h"

typedef struct sstore sstore_t;

/* rc: 0, ROOST_EUNAVAILABLE (link lost), ROOST_ESTORE (unexpected reply). */
typedef void (*sstore_done_fn)(int rc, void *arg);

/* Caller owns the result; NULL on OOM. Copies its arguments. */
sstore_t *sstore_new(loop_t *loop, const char *host, int port, const char *prefix);
/* Before sstore_start: Redis AUTH on every connection (password NULL or ""
 * for none; user NULL or "" for the default user, else Redis 6 ACL
 * AUTH user password). Copies both. 0 or -ENOMEM. */
int sstore_set_auth(sstore_t *s, const char *user, const char *password);
/* Before sstore_start: find the primary through Sentinels (store/sentinel.h;
 * NULL or none: host:port as given). Each connection asks them on the loop
 * without blocking it (ssentinel.h: up to 250 ms per Sentinel tried),
 * checks ROLE before it is reported connected, reconnects every 250 ms at
 * most while down (while a Sentinel answers; the usual backoff up to 2 s
 * when none does), follows a Sentinel's +switch-master at once (drops the
 * link to the old primary, or ends a backoff), re-asks once a second while
 * up (another answer drops the link; none answering: 10 s before the next
 * ask), and a READONLY
 * reply drops it too (that command fails with ROOST_EUNAVAILABLE: it did
 * not run). Copies sc. 0, -ENOMEM, ROOST_EINVAL (said on stderr). */
struct store_sentinel_conf;
int sstore_set_sentinel(sstore_t *s, const struct store_sentinel_conf *sc);
/* The Redis address of the current (or next) link; *port too. */
const char *sstore_address(const sstore_t *s, int *port);
/* WAIT for replicas (Redis's WAIT numreplicas timeout): after
 * sstore_set_wait(s, n, timeout_ms) with n > 0, sstore_wait(s, fn, arg)
 * calls fn(0) once every write issued before it has reached n replicas, or
 * fn(ROOST_EUNAVAILABLE) when fewer had it after timeout_ms (or the link
 * dropped). Calls made during one loop turn share one WAIT, sent at the end
 * of the turn (or before a barrier); while one WAIT is in flight the calls
 * that come wait for its answer and then share the next (group commit).
 * Callbacks run in call order. A request issued after sstore_wait may
 * complete before it.
 * With n == 0 sstore_wait is sstore_barrier. Returns as sstore_barrier. */
int sstore_set_wait(sstore_t *s, int replicas, int timeout_ms);
int sstore_wait(sstore_t *s, sstore_done_fn fn, void *arg);
/* WAITs that found fewer replicas than asked (since start). */
uint64_t sstore_wait_failures(const sstore_t *s);
/* fn(reply) runs when Redis refuses a new link (AUTH refused, or NOAUTH /
 * WRONGPASS / NOPERM on setup): the link is dropped and retried with the
 * usual backoff, and never reported connected meanwhile. reply is Redis's
 * error text (never the password). */
void sstore_on_refused(sstore_t *s, void (*fn)(const char *reply, void *arg), void *arg);
/* Before sstore_start: run against a Redis Cluster whose nodes include
 * some of seeds ("HOST:PORT,..."; NULL or "": the single Redis of
 * sstore_new). Requests go to the primary serving their slot, MOVED and
 * ASK are followed, failovers and resharding re-read the slot map
 * (sstore_cluster.c); reply order then holds per primary only, and
 * sstore_barrier waits for all. 0, -ENOMEM, ROOST_EINVAL (a bad list, said
 * on stderr). */
int sstore_set_cluster(sstore_t *s, const char *seeds);
/* Starts connecting (non-blocking). 0, ROOST_EINVAL for a prefix
 * store/keys.h refuses (over 64 bytes, a '{' or '}'), or -errno. Connection state changes
 * are reported through on_state (may be NULL): connected true/false. */
int sstore_start(sstore_t *s, void (*on_state)(bool connected, void *arg), void *arg);
/* Fails pending callbacks with ROOST_EUNAVAILABLE (on_state is not called),
 * disconnects, frees; nulls *s. NULL-safe. Must not be called from inside
 * one of this handle's callbacks (defer it to a timer or before_sleep). */
void sstore_destroy(sstore_t **s);
/* False for NULL (a cluster that failed to start has no handle). */
bool sstore_connected(const sstore_t *s);
/* Calls fn once every command issued before it has completed. */
int sstore_barrier(sstore_t *s, sstore_done_fn fn, void *arg);

/* ---- membership --------------------------------------------------------- */
int sstore_broker_heartbeat(sstore_t *s, const char *broker_id, const char *endpoint,
                            uint64_t started_ms, uint64_t ttl_ms, sstore_done_fn fn, void *arg);
int sstore_broker_leave(sstore_t *s, const char *broker_id, sstore_done_fn fn, void *arg);
typedef struct sstore_peer {
    const char *id;
    const char *endpoint;
    uint64_t started_ms;
} sstore_peer_t;
/* Live brokers only (alive key present); dead entries are removed from the
 * brokers hash as a side effect. Views valid during the callback. */
typedef void (*sstore_peers_fn)(int rc, const sstore_peer_t *peers, size_t n, void *arg);
int sstore_broker_list(sstore_t *s, sstore_peers_fn fn, void *arg);

/* ---- client-id leases --------------------------------------------------- */
/* Sets the lease of cid to broker_id and the credential (the store client
 * id of the device; NULL or "" anonymous) holding it; reports the previous
 * holder ("" if none) and whether that holder is alive. With owner_only, a
 * credential other than the one of a live holder or of the stored
 * persistent session (sess 'credential') is refused: rc
 * ROOST_EAUTH_NOT_AUTHORIZED, nothing changed. View valid during the
 * callback. */
typedef void (*sstore_lease_fn)(int rc, const char *previous, bool previous_alive, void *arg);
int sstore_lease_take(sstore_t *s, const char *cid, size_t cid_len, const char *broker_id,
                      const char *credential, bool owner_only, sstore_lease_fn fn, void *arg);
/* A persistent session's holder, letting it go: the entry ids of the queued
 * messages it sent (in flight, unacknowledged), written only while
 * broker_id still holds the lease (a takeover took it first: nothing is
 * written, and the next load treats every message as possibly sent). The
 * next sstore_session_load reads and deletes them (sent_known). Issue it
 * before sstore_lease_release. */
int sstore_lease_note_sent(sstore_t *s, const char *cid, size_t cid_len, const char *broker_id,
                           const char *const *eids, size_t n, sstore_done_fn fn, void *arg);
/* Deletes the lease (and its credential) only if broker_id still holds it. */
int sstore_lease_release(sstore_t *s, const char *cid, size_t cid_len, const char *broker_id,
                         sstore_done_fn fn, void *arg);

/* ---- persistent sessions ------------------------------------------------ */
typedef struct sstore_msg {
    const char *entry_id;     /* unique: "<origin broker>:<seq>" */
    const char *topic;
    size_t topic_len;
    const uint8_t *payload;
    size_t payload_len;
    uint8_t qos;              /* per session: min(publish, granted) */
    bool retain;
    const uint8_t *props;     /* MQTT 5.0 properties forwarded with it (msg.h), or NULL */
    size_t props_len;
    uint64_t expiry_ms;       /* Message Expiry Interval's deadline (unix ms), 0: none */
} sstore_msg_t;

typedef struct sstore_sub {
    const char *cid;          /* in psubs listings; NULL in a session */
    size_t cid_len;
    const char *filter;
    size_t filter_len;
    uint8_t qos;
    uint8_t options;          /* in a session: QoS, 5.0 No Local (bit 2), Retain As Published (3) */
    uint32_t subid;           /* in a session: 5.0 Subscription Identifier, 0: none */
} sstore_sub_t;

#define SSTORE_SUBID_MAX 268435455u /* the largest Subscription Identifier */

typedef struct sstore_session {
    bool exists;
    const sstore_sub_t *subs;
    size_t n_subs;
    const sstore_msg_t *msgs; /* queue order */
    size_t n_msgs;
    const uint16_t *rx2;
    size_t n_rx2;
    const uint16_t *rel;
    size_t n_rel;
    /* sstore_lease_note_sent's record, consumed by this load: sent_known
     * false when there was none (the holder died or was taken over) */
    bool sent_known;
    const char *const *sent;  /* entry ids sent before (DUP on resend) */
    size_t n_sent;
} sstore_session_t;

/* Deletes every key of the session and its psubs entries (clean start). */
int sstore_session_clear(sstore_t *s, const char *cid, size_t cid_len, sstore_done_fn fn,
                         void *arg);
/* Creates or refreshes sess:<cid> (owner broker_id; credential, when not
 * NULL: the store client id the session belongs to, see sstore_lease_take). */
int sstore_session_touch(sstore_t *s, const char *cid, size_t cid_len, const char *broker_id,
                         const char *credential, sstore_done_fn fn, void *arg);
/* Session expiry (sstore_expiry.c). Every persistent session with an
 * expiry has its client id in the index
 *   G sessexp                zset    cid -> unix ms it is looked at next
 * and its expiry in sess 'expiry_ms'. Going offline (online false): due
 * at now + expiry_ms, and its keys get a TTL of expiry_ms +
 * SSTORE_EXPIRY_GRACE_MS (a backstop: sstore_session_reap is what deletes
 * it, psubs entries included; a queue pushed to later gets the same). Online (online true, at CONNECT): no TTLs,
 * looked at again after max(expiry, 5 min): a broker killed while holding
 * it never marks it offline, so the reaper finds the lease of a dead
 * broker and lets it expire from then. expiry_ms 0: it never expires (out
 * of the index, no TTLs). A session with no sess key is left alone. */
#define SSTORE_EXPIRY_GRACE_MS 3600000u
int sstore_session_expire(sstore_t *s, const char *cid, size_t cid_len, bool online,
                          uint64_t expiry_ms, sstore_done_fn fn, void *arg);
/* Looks at up to `limit` sessions due in the index: one whose client id a
 * live broker holds is looked at again later; any other is deleted, every
 * key and its psubs entries, psubs:ver bumped when any went, so every
 * broker's cluster index forgets them. fn gets the number deleted. Any
 * broker may run it at any time (one atomic script; it crosses the two key
 * families, like session_clear). */
typedef void (*sstore_count_fn)(int rc, uint64_t n, void *arg);
int sstore_session_reap(sstore_t *s, uint64_t now_ms, unsigned limit, sstore_count_fn fn,
                        void *arg);

/* Reads the whole session in one atomic script. Views valid during the
 * callback only. */
typedef void (*sstore_session_fn)(int rc, const sstore_session_t *sess, void *arg);
int sstore_session_load(sstore_t *s, const char *cid, size_t cid_len, sstore_session_fn fn,
                        void *arg);

/* subs:<cid> and psubs together, psubs:ver bumped. */
int sstore_sub_put(sstore_t *s, const char *cid, size_t cid_len, const char *filter,
                   size_t filter_len, uint8_t qos, sstore_done_fn fn, void *arg);
/* The same with the 5.0 subscription options (QoS, No Local, Retain As
 * Published: bits 0-3; ROOST_EINVAL for more) and Subscription Identifier
 * (0: none). psubs keeps the QoS alone. */
int sstore_sub_put5(sstore_t *s, const char *cid, size_t cid_len, const char *filter,
                    size_t filter_len, uint8_t options, uint32_t subid, sstore_done_fn fn,
                    void *arg);
int sstore_sub_del(sstore_t *s, const char *cid, size_t cid_len, const char *filter,
                   size_t filter_len, sstore_done_fn fn, void *arg);
/* Every persistent subscription in the cluster, and psubs:ver. */
typedef void (*sstore_psubs_fn)(int rc, const sstore_sub_t *subs, size_t n, uint64_t version,
                                void *arg);
int sstore_psubs_load(sstore_t *s, sstore_psubs_fn fn, void *arg);
typedef void (*sstore_version_fn)(int rc, uint64_t version, void *arg);
int sstore_psubs_version(sstore_t *s, sstore_version_fn fn, void *arg);

/* Appends one message to the queues of n sessions (cids[i] at qos[i]) in
 * one script; a queue already holding max_queued entries does not take it
 * (max_queued 0: no limit). m->qos is ignored (qos[i] is stored). Pushing
 * the same entry id again is a no-op for queues that already hold it.
 * A session without its sess key (cleared by a clean start or reaped
 * while the caller's index still named it) takes nothing and is not
 * counted: queue keys never outlive their session. A queue created for
 * an offline session gets the sess key's remaining TTL (see
 * sstore_session_expire). The callback reports how many queues refused
 * it for max_queued. */
typedef void (*sstore_push_fn)(int rc, size_t dropped, void *arg);
int sstore_queue_push(sstore_t *s, const sstore_msg_t *m, const char *const *cids,
                      const size_t *cid_lens, const uint8_t *qos, size_t n, size_t max_queued,
                      sstore_push_fn fn, void *arg);
/* Removes a delivered entry (PUBACK, or PUBREC for QoS 2). */
int sstore_queue_ack(sstore_t *s, const char *cid, size_t cid_len, const char *entry_id,
                     sstore_done_fn fn, void *arg);
/* QoS 2 packet-id sets. */
int sstore_rx2_add(sstore_t *s, const char *cid, size_t cid_len, uint16_t pid, sstore_done_fn fn,
                   void *arg);
int sstore_rx2_del(sstore_t *s, const char *cid, size_t cid_len, uint16_t pid, sstore_done_fn fn,
                   void *arg);
/* PUBREC received for entry_id: removes the entry and records pid in rel. */
int sstore_rel_add(sstore_t *s, const char *cid, size_t cid_len, const char *entry_id,
                   uint16_t pid, sstore_done_fn fn, void *arg);
int sstore_rel_del(sstore_t *s, const char *cid, size_t cid_len, uint16_t pid, sstore_done_fn fn,
                   void *arg);

/* ---- retained messages -------------------------------------------------- */
/* Stores m (m->entry_id ignored) as the retained message of its topic. */
int sstore_retain_put(sstore_t *s, const sstore_msg_t *m, sstore_done_fn fn, void *arg);
int sstore_retain_del(sstore_t *s, const char *topic, size_t topic_len, sstore_done_fn fn,
                      void *arg);
/* Deletes topic's retained message if its Message Expiry deadline is at or
 * before now_ms (whichever message the topic holds when Redis runs it: a
 * newer one is kept unless it has expired too). */
int sstore_retain_expire(sstore_t *s, const char *topic, size_t topic_len, uint64_t now_ms,
                         sstore_done_fn fn, void *arg);
typedef void (*sstore_msgs_fn)(int rc, const sstore_msg_t *msgs, size_t n, void *arg);
int sstore_retain_load(sstore_t *s, sstore_msgs_fn fn, void *arg);
/* Where a broker's copy of the retained set stands: a mark, the id of an
 * entry of G retained:log ("0-0": before any), at most SSTORE_MARK_MAX
 * bytes with its NUL. The log keeps the last SSTORE_RETAINED_LOG_MAX puts
 * or so (a few MB). */
#define SSTORE_MARK_MAX 48
#define SSTORE_RETAINED_LOG_MAX 100000
typedef void (*sstore_mark_fn)(int rc, const char *mark, void *arg);
/* The log's last mark. Issued just before sstore_retain_load on the same
 * handle, it is at or before the load's snapshot, so a later
 * sstore_retain_load_since(mark) has every put after that snapshot. */
int sstore_retain_mark(sstore_t *s, sstore_mark_fn fn, void *arg);
/* The retained messages of the topics put after `mark` (still stored;
 * each topic once, as it is now) and the log's mark now: a few when
 * little changed, where sstore_retain_load reads them all. Deletions are
 * not reported. whole: the log cannot tell (the mark's entry was trimmed
 * from it or the set was replaced; for "0-0", entries were trimmed, or
 * Redis is older than 7.0): no messages, read the whole set. ROOST_EINVAL for a mark longer than
 * SSTORE_MARK_MAX - 1. */
typedef void (*sstore_since_fn)(int rc, const sstore_msg_t *msgs, size_t n, const char *mark,
                                bool whole, void *arg);
int sstore_retain_load_since(sstore_t *s, const char *mark, sstore_since_fn fn, void *arg);

/* ---- pipelines (keys of lib/store/pipelines.h) -------------------------- */
/* One message for the queues of the pipelines whose mappings match it. */
typedef struct sstore_pipe_msg {
    const char *topic;
    size_t topic_len;
    const uint8_t *payload;
    size_t payload_len;
    uint8_t qos;
    bool retain;
    const char *client_id;    /* the publisher's MQTT client id */
    size_t client_id_len;
    const char *username;     /* NULL: anonymous */
    const char *broker;       /* this broker's id */
} sstore_pipe_msg_t;
/* Appends m (XADD of one packed field, store/pipentry.h, received-at =
 * now) to the queue of each of the n pipelines (ids); a pipeline deleted
 * meanwhile is skipped; a queue holding its max_queue entries does not
 * take it and counts it as dropped. ROOST_EINVAL when m cannot be packed
 * (pipentry_size). The callback reports how many pipelines dropped it. Appends are
 * batched (up to 256 messages in one script call, sent at the end of the
 * loop turn or before any other call on s), which keeps the reply-order
 * contract: an append's callback runs before that of any call made after
 * it. Copies m. */
int sstore_pipe_append(sstore_t *s, const char *const *pipelines, size_t n, const sstore_pipe_msg_t *m,
                       sstore_push_fn fn, void *arg);
/* Every topic mapping (filter -> pipeline id) and routes:version, unless
 * the version still equals known_version: then rc is SSTORE_ROUTES_SAME and
 * nothing is listed. Views valid during the callback. */
#define SSTORE_ROUTES_SAME 1
typedef struct sstore_route {
    const char *filter;
    size_t filter_len;
    const char *pipeline;
} sstore_route_t;
typedef void (*sstore_routes_fn)(int rc, const sstore_route_t *routes, size_t n, uint64_t version,
                                 void *arg);
int sstore_routes_load(sstore_t *s, uint64_t known_version, sstore_routes_fn fn, void *arg);

/* ---- TLS settings (lib/store/tlsconf.h: P tls, written by admin) --------
 * The settings when their version differs from known_version (pass
 * UINT64_MAX the first time); otherwise rc is SSTORE_TLS_SAME and t NULL.
 * Strings are views valid during the callback; never-written settings read
 * as disabled with version 0. */
typedef struct sstore_tls {
    bool enabled;
    const char *ca, *cert, *key, *client_cert;
} sstore_tls_t;
#define SSTORE_TLS_SAME 1
typedef void (*sstore_tls_fn)(int rc, const sstore_tls_t *t, uint64_t version, void *arg);
/* seal: SEAL_KEY_LEN bytes (seal.h) opening a sealed key, or NULL; a sealed
 * key it cannot open (or none given) fails the read with ROOST_EINVAL and
 * the version (settings are not applied). */
int sstore_tls_load(sstore_t *s, uint64_t known_version, const uint8_t *seal, sstore_tls_fn fn, void *arg);

/* ---- TLS session ticket keys (P tlstickets: current, previous, at) ------
 * The cluster's shared ticket keys (lib/tls/tlsticket.h): offers a fresh
 * random key, which becomes current (the old current kept as previous) when
 * there is none or the current one is rotate_ms old by now_ms (unix ms);
 * reports {current, previous} (n 1 or 2). Keys are stored as hex, sealed
 * (seal.h) when seal is given; a sealed key without the right seal fails the
 * call with ROOST_EINVAL. keys valid during the callback. */
#define SSTORE_TICKET_KEY_LEN 80
typedef void (*sstore_tickets_fn)(int rc, const uint8_t (*keys)[SSTORE_TICKET_KEY_LEN], size_t n, void *arg);
int sstore_tickets_sync(sstore_t *s, uint64_t now_ms, uint64_t rotate_ms, const uint8_t *seal,
                        sstore_tickets_fn fn, void *arg);

/* ---- live-connection registry (same keys as lib/store/registry.h) ------
 *   G conns:<broker_id>   hash  mqtt_client_id -> JSON record (registry.c's
 *                               fields); PEXPIRE ttl
 *   G conns:brokers       zset  broker_id scored by its expiry (unix ms)
 * registry.c exposes no key helpers; sstore_ops.c builds the same names. */
typedef struct sstore_conn {
    const char *mqtt_client_id;
    const char *client_id;    /* store client id, "" when unauthenticated */
    const char *username;
    const char *peer;
    const char *transport;    /* "tcp", "tls", "ws" or "wss" (NULL: none recorded) */
    uint32_t protocol;
    uint32_t keepalive;
    uint64_t connected_at;    /* unix ms */
    const char *const *groups;
    size_t n_groups;
} sstore_conn_t;
int sstore_conn_put(sstore_t *s, const char *broker_id, const sstore_conn_t *c, sstore_done_fn fn,
                    void *arg);
int sstore_conn_del(sstore_t *s, const char *broker_id, const char *mqtt_client_id,
                    sstore_done_fn fn, void *arg);
/* Refreshes the expiry of this broker's registry entries (heartbeat). The
 * ttl given here is also what later sstore_conn_put calls use (30 s before
 * the first refresh). */
int sstore_conn_refresh(sstore_t *s, const char *broker_id, uint64_t ttl_ms, sstore_done_fn fn,
                        void *arg);
/* Removes every record of broker_id (clean shutdown). */
int sstore_conn_clear(sstore_t *s, const char *broker_id, sstore_done_fn fn, void *arg);

#endif

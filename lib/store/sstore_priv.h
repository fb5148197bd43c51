/* sstore_priv: what sstore.c (connection, loop adapter, scripts, request
 * plumbing) and sstore_ops.c (the public operations and reply parsers)
 * share. Nobody outside lib/store includes it.
 *
 * A request (sstore_req_t) is built argument by argument, issued once with
 * ss_issue, and finished exactly once through its `finish` hook: with rc 0
 * and the reply, or with rc < 0 and r NULL. Script requests keep their
 * arguments until they finish so a NOSCRIPT reply can be retried as EVAL.
 */
#ifndef ROOST_STORE_SSTORE_PRIV_H
#define ROOST_STORE_SSTORE_PRIV_H

#include <hiredis/async.h>

#include "store/redis_auth.h"
#include "store/sstore.h"

/* Every Lua script, by index into sstore_scripts. */
enum sstore_script {
    SS_NONE = -1,
    SS_HEARTBEAT,
    SS_LEAVE,
    SS_BROKER_LIST,
    SS_LEASE_TAKE,
    SS_LEASE_RELEASE,
    SS_LEASE_SENT,
    SS_SESS_CLEAR,
    SS_SESS_LOAD,
    SS_SUB_PUT,
    SS_SUB_DEL,
    SS_PSUBS_LOAD,
    SS_QUEUE_PUSH,
    SS_QUEUE_ACK,
    SS_REL_ADD,
    SS_CONN_PUT, /* sstore_registry.c */
    SS_CONN_REFRESH,
    SS_CONN_CLEAR,
    SS_PIPE_APPEND, /* sstore_pipe.c */
    SS_ROUTES,
    SS_TLS, /* sstore_tls.c */
    SS_TICKETS,
    SS_SESS_EXPIRE, /* sstore_expiry.c */
    SS_SESS_REAP,
    SS_PSUB_SET, /* sstore_cluster_ops.c */
    SS_SESS_DROP,
    SS_PSUBS_DROP,
    SS_SESS_TTL, /* sstore_cluster_expiry.c */
    SS_EXP_POP,
    SS_SESS_REAP1,
    SS_RETAIN_EXPIRE, /* sstore_retained.c */
    SS_RETAIN_PUT,
    SS_RETAIN_SINCE,
    SS_COUNT
};

/* Script texts (sstore_ops.c). */
extern const char *const sstore_scripts[SS_COUNT];
extern const char SSTORE_LUA_PIPE_APPEND[], SSTORE_LUA_ROUTES[]; /* sstore_pipe.c */
extern const char SSTORE_LUA_TLS[], SSTORE_LUA_TICKETS[]; /* sstore_tls.c */
extern const char SSTORE_LUA_PSUB_SET[], SSTORE_LUA_SESS_DROP[], SSTORE_LUA_PSUBS_DROP[]; /* sstore_cluster_ops.c */
extern const char SSTORE_LUA_SESS_TTL[], SSTORE_LUA_EXP_POP[], SSTORE_LUA_SESS_REAP1[]; /* sstore_cluster_expiry.c */
extern const char SSTORE_LUA_LEASE_TAKE[], SSTORE_LUA_LEASE_RELEASE[], SSTORE_LUA_LEASE_SENT[]; /* sstore_lease.c */
extern const char SSTORE_LUA_SESS_EXPIRE[], SSTORE_LUA_SESS_REAP[]; /* sstore_expiry.c */
extern const char SSTORE_LUA_RETAIN_EXPIRE[], SSTORE_LUA_RETAIN_PUT[],
    SSTORE_LUA_RETAIN_SINCE[]; /* sstore_retained.c */
extern const char SSTORE_LUA_CONN_PUT[], SSTORE_LUA_CONN_REFRESH[], SSTORE_LUA_CONN_CLEAR[]; /* sstore_registry.c */

typedef struct sstore_req sstore_req_t;
/* rc 0: r is the (non-error) reply, valid during the call. rc < 0: r NULL. */
typedef void (*sstore_finish_fn)(sstore_req_t *q, int rc, const redisReply *r);

struct sstore_req {
    sstore_t *s;
    sstore_finish_fn finish;
    union {
        sstore_done_fn done;
        sstore_peers_fn peers;
        sstore_lease_fn lease;
        sstore_session_fn session;
        sstore_psubs_fn psubs;
        sstore_version_fn version;
        sstore_push_fn push;
        sstore_msgs_fn msgs;
        sstore_count_fn count;
        sstore_since_fn since;
        sstore_mark_fn mark;
    } fn;
    void *arg;
    int script; /* enum sstore_script */
    int redirects; /* MOVED/ASK followed (sstore_cluster.c) */
    bool retried;
    bool oom;
    int argc, cap;
    size_t *off, *len; /* argument i is buf[off[i] .. off[i]+len[i]) */
    char *buf;
    size_t used, bcap;
};

/* A request for a plain command (script SS_NONE) or for script `script`
 * with nkeys keys (append the keys first, then the arguments). NULL on OOM. */
sstore_req_t *ss_req_new(sstore_t *s, int script, int nkeys, sstore_finish_fn finish, void *arg);
/* ss_req_new for a request whose caller only learns rc (fn.done = fn). */
sstore_req_t *ss_req_done(sstore_t *s, int script, int nkeys, sstore_done_fn fn, void *arg);
/* Issues script `script` with the arguments (prefix, known_version): the
 * shape of every "load this document if its version changed" script (TLS
 * settings, pipeline routes). 0, or <0 when nothing was issued (finish will
 * not run: arg is still the caller's). */
int ss_issue_since(sstore_t *s, int script, uint64_t known_version, sstore_finish_fn finish, void *arg);
/* Frees a request that was never issued (its finish never runs). */
void ss_req_discard(sstore_req_t *q);
/* Appends one argument. An allocation failure is remembered and reported by
 * ss_issue. */
void ss_arg(sstore_req_t *q, const void *p, size_t n);
void ss_arg_str(sstore_req_t *q, const char *str);
/* Appends one argument of n bytes and returns where to write them (valid
 * until the next append), or NULL on OOM (remembered as ss_arg's). */
void *ss_arg_space(sstore_req_t *q, size_t n);
void ss_arg_u64(sstore_req_t *q, uint64_t v);
/* Appends the key  P{g}:<name><id>  (id binary, id_len bytes): the global
 * family of store/keys.h (membership, psubs, retained, registry, ...). */
void ss_key(sstore_req_t *q, const char *name, const void *id, size_t id_len);
/* Appends the per-client key  P<name>{c:<cid>}  (store/keys.h): every key
 * of one MQTT client id's session and lease, in one hash slot. */
void ss_ckey(sstore_req_t *q, const char *name, const void *cid, size_t cid_len);
/* Appends raw bytes to the last argument (builds composite values). */
void ss_cat(sstore_req_t *q, const void *p, size_t n);
/* Grows the last argument by n bytes and returns where to write them
 * (valid until the next append), or NULL on OOM (remembered as ss_arg's). */
void *ss_cat_space(sstore_req_t *q, size_t n);
/* Sends q. 0: q will finish later, from the loop. < 0 (ROOST_EUNAVAILABLE,
 * -ENOMEM): q has been freed and will never finish. */
int ss_issue(sstore_req_t *q);

/* P{g}: (scripts that compute global key names get it as an argument). */
const char *ss_prefix(const sstore_t *s);
/* P itself (per-client keys are P<name>{c:<cid>}), for scripts that
 * compute per-client key names. */
const char *ss_base(const sstore_t *s);
/* Appends a session's six keys: sess subs q qm rx2 rel. */
void ss_session_keys(sstore_req_t *q, const char *cid, size_t cid_len);
loop_t *ss_loop(sstore_t *s);
/* sstore_pipe.c's open batch of appends: sent as one script before any
 * other request is issued (ss_issue calls ss_pipe_flush; `next` is that
 * request, or NULL) and at the end of the loop turn, so the contract "replies
 * arrive in the order calls were made" holds for the appends too.
 * ss_pipe_fini (sstore_destroy) fails what is still open. */
struct ss_pipe_batch **ss_pipe_slot(sstore_t *s);
void ss_pipe_flush(sstore_t *s, const sstore_req_t *next);
void ss_pipe_fini(sstore_t *s);
/* sstore_wait.c's state: the WAIT held for the end of the loop turn.
 * ss_wait_flush sends it now (sstore_barrier); ss_wait_fini
 * (sstore_destroy) fails what is still waiting. */
struct ss_wait **ss_wait_slot(sstore_t *s);
void ss_wait_flush(sstore_t *s);
void ss_wait_fini(sstore_t *s);
/* The registry ttl last given to sstore_conn_refresh (a default before). */
uint64_t ss_conn_ttl(const sstore_t *s);
void ss_set_conn_ttl(sstore_t *s, uint64_t ttl_ms);

/* ---- Redis Cluster (sstore_cluster.c) ----
 * A router handle (sstore_set_cluster) has no link of its own: ss_issue
 * hands each request to a child handle, one per primary. */
struct ss_cluster **ss_cluster_slot(sstore_t *s);
const redis_auth_t *ss_auth(const sstore_t *s);
/* Reports the router's state through its on_state. */
void ss_report(sstore_t *s, bool up);
/* Makes child a child of router (its AUTH, its refusal hook). */
void ss_child_init(sstore_t *child, sstore_t *router);
/* The router a child belongs to, or NULL. */
sstore_t *ss_child_router(const sstore_t *s);
/* Sends q again on q->s (after ASKING when asking). 0 or ROOST_EUNAVAILABLE. */
int ss_resend(sstore_req_t *q, bool asking);
int ss_cluster_start(sstore_t *s);
void ss_cluster_fini(sstore_t *s);
bool ss_cluster_ready(const sstore_t *s);
int ss_cluster_issue(sstore_req_t *q);
int ss_cluster_barrier(sstore_t *s, sstore_done_fn fn, void *arg);
/* sstore_wait on every child: fn once all primaries had their WAIT. */
int ss_cluster_wait(sstore_t *s, sstore_done_fn fn, void *arg);
/* sstore_wait.c: gives `to` the WAIT settings of `from`. 0 or -ENOMEM. */
int ss_wait_copy(sstore_t *from, sstore_t *to);
/* sstore_wait.c: the replicas a WAIT on s asks for (0: none set). */
int ss_wait_replicas(sstore_t *s);
/* A queue push to slot may be written: false while the primary serving it
 * is known to have fewer replicas than WAIT asks for (sstore_cluster.c). */
bool ss_cluster_writable(sstore_t *router, unsigned slot);
/* The slot a request's first key hashes to (the global family's slot for a
 * request without keys). */
unsigned ss_req_slot(const sstore_req_t *q);
/* r answered q on a child: 1 a redirection sent q again, 0 not one, -1 one
 * that could not be followed (q fails with ROOST_EUNAVAILABLE). */
int ss_cluster_redirect(sstore_req_t *q, const redisReply *r);
/* The slot of the per-client key P<name>{c:<cid>}. */
unsigned ss_ckey_slot(const sstore_t *s, const char *name, const char *cid, size_t cid_len);
/* sstore_ops.c: the six session keys (sess subs q qm rx2 rel) of cid, and
 * a queue_push request for n sessions (not issued; NULL on OOM). */
void ss_session_keys(sstore_req_t *q, const char *cid, size_t cid_len);
sstore_req_t *ss_queue_push_req(sstore_t *s, const sstore_msg_t *m, const char *const *cids,
                                const size_t *cid_lens, const uint8_t *qos, size_t n, size_t max_queued,
                                sstore_finish_fn finish, void *arg);
/* sstore_cluster_ops.c: the cluster forms of the operations that span
 * slots (same contracts as the public calls). ss_cluster_sub: subs gets
 * value, psubs qos; qos < 0: sub_del. */
int ss_cluster_sub(sstore_t *s, const char *cid, size_t cid_len, const char *filter, size_t filter_len,
                   uint64_t value, int qos, sstore_done_fn fn, void *arg);
int ss_cluster_session_clear(sstore_t *s, const char *cid, size_t cid_len, sstore_done_fn fn, void *arg);
/* Issues SS_PSUBS_DROP on s: client cid's `filters` (an array reply of
 * strings, as a per-slot step that removed the session's subs answered)
 * leave the global psubs index. 0: finish will run. < 0 (-ENOMEM,
 * ROOST_EUNAVAILABLE): nothing was issued, finish will not run. */
int ss_psubs_drop(sstore_t *s, const char *cid, size_t cid_len, const redisReply *filters,
                  sstore_finish_fn finish, void *arg);
int ss_cluster_lease_take(sstore_t *s, const char *cid, size_t cid_len, const char *broker_id,
                          const char *credential, bool owner_only, sstore_lease_fn fn, void *arg);
int ss_cluster_queue_push(sstore_t *s, const sstore_msg_t *m, const char *const *cids, const size_t *cid_lens,
                          const uint8_t *qos, size_t n, size_t max_queued, sstore_push_fn fn, void *arg);
/* sstore_cluster_expiry.c: sstore_session_expire / _reap on a cluster. */
int ss_cluster_session_expire(sstore_t *s, const char *cid, size_t cid_len, uint64_t expiry_ms,
                              sstore_done_fn fn, void *arg);
int ss_cluster_session_reap(sstore_t *s, uint64_t now_ms, unsigned limit, sstore_count_fn fn, void *arg);
/* Whether s routes over a Redis Cluster. */
static inline bool ss_is_cluster(sstore_t *s) { return *ss_cluster_slot(s) != NULL; }

/* Reply helpers. */
/* Integer reply, or a decimal string reply; nil counts as 0. 0 or -1. */
int ss_r_u64(const redisReply *r, uint64_t *out);
bool ss_r_is_str(const redisReply *r);
/* The message blobs of r's elements [from, end) taken as (topic, blob)
 * pairs (sblob.h), as HGETALL of G retained answers: 0 and *out (caller
 * frees; views into r), -ENOMEM, or ROOST_ESTORE when r is not that. A
 * blob that does not parse is left out (logged with its topic), not an
 * error: *n counts the messages kept. */
int ss_r_msgs(const redisReply *r, size_t from, sstore_msg_t **out, size_t *n);
/* Wall-clock milliseconds since the epoch. */

#endif

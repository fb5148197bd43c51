/* auth: the decision for one AuthRequest, in two stages run by two pools.
 *
 *   lookup (auth_lookup, lookup workers, each with its own store_t):
 *     anonymous -> NOT_AUTHORIZED, or groups from mqtt_client_id rules;
 *     store_auth_lookup(username): Redis error -> UNAVAILABLE (never OK);
 *     cache hit on keyed-hash(username, password, stored hash) -> groups, OK;
 *     otherwise groups are read now and the job goes to the hash stage.
 *     Unknown usernames also go to the hash stage, against a decoy hash, so
 *     "no such user" costs as much time as "wrong password".
 *   hash (auth_verify, hash workers, no Redis):
 *     crypto_pwhash_str_verify; success -> cache insert, OK; else
 *     BAD_CREDENTIALS. The password is wiped as soon as it is checked.
 *
 * A lookup worker never runs argon2, so cached and refused requests are
 * answered while verifications are queued. Rules, groups and ACLs come from
 * the config snapshot for exactly the version this request read (authz.h):
 * a warm CONNECT costs one Redis round trip (store_auth_lookup; anonymous:
 * one GET of the version), and any store write, with or without a change
 * event, is seen by the next request.
 * Throttle outcomes are recorded here; the throttle *check* happens in the
 * loop before a job is queued.
 */
#ifndef ROOST_AUTHD_AUTH_H
#define ROOST_AUTHD_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "authz.h"
#include "bans.h"
#include "cache.h"
#include "metrics.h"
#include "queue.h"
#include "rpc/rpc.h"
#include "store/store.h"
#include "guard.h"

typedef enum { AUTH_NEXT_REPLY, AUTH_NEXT_HASH, AUTH_NEXT_DROP } auth_next_t;

/* One request in flight. Plain heap object moved between queues; exactly one
 * thread touches it at a time. */
typedef struct auth_job {
    queue_node_t node;         /* first: queues hold &job->node */
    rpc_envelope_t env;
    rpc_auth_request_t req;    /* owns the decoded request (and password) */
    uint64_t received_ms;      /* monotonic, for latency and logs */
    auth_next_t next;
    rpc_auth_status_t status;
    const char *reason;        /* static text for the log line */
    bool decoy;                /* unknown username: verify against the decoy */
    uint8_t cache_key[CACHE_KEY_LEN];
    store_auth_t *cred;
    authz_snap_t *snap;        /* owns the strings group_ids/acl point to */
    const char **group_ids;
    size_t n_group_ids;
    rpc_acl_entry_t *acl;
    size_t n_acl;
    uint64_t max_msg_rate, max_byte_rate; /* from the groups (authz_rates) */
    bool rule_id_refused;
    bool unverified;           /* answered without argon2 (its deadline could not be met) */      /* a matched rule's allowed client ids exclude this one */
    uint64_t config_version;
} auth_job_t;

/* Shared, read-only after setup (cache/guard/metrics lock internally). */
typedef struct auth_ctx {
    cache_t *cache;
    authz_cache_t *authz;          /* rules/groups snapshot by config version */
    guard_t *guard;                /* throttling policy */
    bans_t *bans;                  /* the store's bans, checked before anything else */
    metrics_t *metrics;
    bool allow_anonymous;
    int64_t flap_max, flap_window_ms, flap_ban_ms; /* flapping detection; flap_max 0: off */
    unsigned long long rehash_ops; /* target argon2 cost for needs_rehash */
    size_t rehash_mem;
    char decoy_hash[128];          /* crypto_pwhash_str of a random password */
} auth_ctx_t;

/* Fills ctx->decoy_hash (runs argon2 once: blocks). 0 or -ENOMEM. */
int auth_ctx_init(auth_ctx_t *ctx);

/* Caller owns the result (auth_job_destroy); NULL on OOM. */
auth_job_t *auth_job_new(void);
/* Wipes the password, frees everything; nulls *j. */
void auth_job_destroy(auth_job_t **j);

/* Stage 1 (lookup worker; blocks on Redis). Sets j->next. */
void auth_lookup(const auth_ctx_t *ctx, store_t *s, auth_job_t *j);
/* Stage 2 (hash worker; blocks on argon2). Sets j->next = AUTH_NEXT_REPLY. */
bool auth_verify(const auth_ctx_t *ctx, auth_job_t *j);
/* Stage 2 without argon2 (hash worker): the cache now holds j's credential
 * (an identical verification finished while j waited). Returns whether it
 * did, and then finishes j. */
bool auth_verify_cached(const auth_ctx_t *ctx, auth_job_t *j);
/* Stage 2 without argon2: an identical verification (same cache key: same
 * username, password and stored hash) just gave `ok`. */
void auth_verify_shared(const auth_ctx_t *ctx, auth_job_t *j, bool ok);

/* A view of the job's answer for rpc_auth_reply_send, valid while j lives. */
void auth_job_reply(const auth_job_t *j, rpc_auth_reply_t *out);

#endif

#include "auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "base/err.h"
#include "base/log.h"
#include "base/loop.h"
#include "clientid.h"
#include "store/bans.h"
#include "rules.h"

#define MAX_USERNAME 255 /* store rule: longer names cannot exist */

int auth_ctx_init(auth_ctx_t *ctx)
{
    if (sodium_init() < 0)
        return -ENOMEM;
    uint8_t pw[32];
    randombytes_buf(pw, sizeof(pw));
    unsigned long long ops = ctx->rehash_ops ? ctx->rehash_ops : crypto_pwhash_OPSLIMIT_INTERACTIVE;
    size_t mem = ctx->rehash_mem ? ctx->rehash_mem : crypto_pwhash_MEMLIMIT_INTERACTIVE;
    _Static_assert(sizeof(ctx->decoy_hash) >= crypto_pwhash_STRBYTES, "decoy hash buffer");
    int rc = crypto_pwhash_str(ctx->decoy_hash, (const char *)pw, sizeof(pw), ops, mem) ? -ENOMEM : 0;
    sodium_memzero(pw, sizeof(pw));
    return rc;
}

auth_job_t *auth_job_new(void)
{
    return calloc(1, sizeof(auth_job_t));
}

void auth_job_destroy(auth_job_t **jp)
{
    auth_job_t *j = *jp;
    if (!j)
        return;
    rpc_auth_request_fini(&j->req); /* wipes the password */
    store_auth_free(&j->cred);
    free(j->group_ids);
    free(j->acl);
    authz_snap_release(&j->snap); /* after the views into it */
    sodium_memzero(j->cache_key, sizeof(j->cache_key));
    free(j);
    *jp = NULL;
}

static void finish(auth_job_t *j, rpc_auth_status_t st, const char *reason)
{
    j->status = st;
    j->reason = reason;
    j->next = AUTH_NEXT_REPLY;
}

static void fail(const auth_ctx_t *ctx, auth_job_t *j, const char *reason)
{
    guard_blocks_t b;
    guard_fail(ctx->guard, j->req.username, j->req.peer, loop_clock_ms(), &b);
    if (b.pair_ms || b.peer_ms || b.user_ms)
        log_warn("auth_throttle",
                 "username=%s peer=%s reason=%s pair_block_ms=%llu peer_block_ms=%llu user_block_ms=%llu",
                 j->req.username ? j->req.username : "", j->req.peer, reason, (unsigned long long)b.pair_ms,
                 (unsigned long long)b.peer_ms, (unsigned long long)b.user_ms);
    finish(j, RPC_AUTH_BAD_CREDENTIALS, reason);
}

/* Flapping detection (--flapping-max): counts this CONNECT of the client id
 * in Redis (shared by every authd); over the limit, bans the id for
 * --flapping-ban through the bans list (so it shows there and every authd
 * refuses it) and starts the count again. A store error counts nothing. */
static bool flapping(const auth_ctx_t *ctx, store_t *s, const rpc_auth_request_t *r)
{
    int64_t n = 0;
    if (!ctx->flap_max || !r->client_id || !r->client_id[0] ||
        store_flap_hit(s, r->client_id, ctx->flap_window_ms, &n) < 0 || n <= ctx->flap_max)
        return false;
    char reason[96];
    snprintf(reason, sizeof(reason), "flapping: %lld CONNECTs in %lld s", (long long)n,
             (long long)(ctx->flap_window_ms / 1000));
    int rc = store_ban_put(s, "client_id", r->client_id, reason, (int64_t)rpc_unix_ms() + ctx->flap_ban_ms,
                           "authd (flapping)", NULL);
    store_flap_reset(s, r->client_id);
    log_warn("auth_flapping", "client_id=%s connects=%lld window_s=%lld ban_s=%lld rc=%d", r->client_id,
             (long long)n, (long long)(ctx->flap_window_ms / 1000), (long long)(ctx->flap_ban_ms / 1000), rc);
    return true;
}

/* The right credentials. s: the store, on a lookup worker; NULL on a hash
 * worker, which has none. Flapping counts only CONNECTs that got this far
 * (right credentials, a client id the client may use) on a lookup worker:
 * a cache hit, a certificate, an anonymous client; the CONNECT verified by
 * argon2 after a cache miss is not counted. A CONNECT with another device's
 * client id and wrong credentials therefore cannot get that device banned. */
static void succeed(const auth_ctx_t *ctx, store_t *s, auth_job_t *j, const char *reason)
{
    guard_success(ctx->guard, j->req.username, j->req.peer);
    /* the right password, but an MQTT client id this client may not use */
    if ((j->cred && !clientid_allowed(j->cred->client_ids, j->req.username, j->req.client_id)) ||
        j->rule_id_refused) {
        finish(j, RPC_AUTH_NOT_AUTHORIZED, "client_id_not_allowed");
        return;
    }
    if (s && flapping(ctx, s, &j->req)) {
        finish(j, RPC_AUTH_NOT_AUTHORIZED, "flapping");
        return;
    }
    finish(j, RPC_AUTH_OK, reason);
}

/* Groups and their ACL entries (flattened in group order) for the config
 * version this request read: from the cached snapshot of that version, or a
 * snapshot loaded now (authz.h). 0, store error codes, ROOST_ELIMIT (too
 * many groups or entries for one reply) or -ENOMEM. */
static int load_groups(const auth_ctx_t *ctx, store_t *s, auth_job_t *j, const char *client_id,
                       int64_t version)
{
    int rc = authz_resolve(ctx->authz, s, version, ctx->metrics, &j->snap);
    if (rc)
        return rc;
    rules_facts_t facts = {
        .client_id = client_id,
        .mqtt_client_id = j->req.client_id,
        .cert_fingerprint = j->req.tls_cert_fingerprint,
    };
    rc = authz_eval(j->snap, &facts, &j->group_ids, &j->n_group_ids, &j->acl, &j->n_acl);
    if (rc)
        return rc;
    authz_rates(j->snap, j->group_ids, j->n_group_ids, &j->max_msg_rate, &j->max_byte_rate);
    j->rule_id_refused = !authz_client_id_allowed(j->snap, &facts, j->req.username);
    j->config_version = (uint64_t)authz_snap_version(j->snap);
    return 0;
}

static void unavailable(const auth_ctx_t *ctx, auth_job_t *j, int rc)
{
    if (rc == ROOST_ELIMIT) {
        finish(j, RPC_AUTH_UNAVAILABLE, "acl_too_large");
        return;
    }
    metrics_inc(ctx->metrics, MET_REDIS_ERROR);
    finish(j, RPC_AUTH_UNAVAILABLE, rc == -ENOMEM ? "out_of_memory" : "store_unavailable");
}

/* A client that holds a certificate must present that one (DESIGN: with
 * credentials and a certificate, both must match). Fingerprints are written
 * one way (lowercase hex) by the broker and by admin. */
static bool cert_matches(const auth_job_t *j)
{
    const char *want = j->cred->cert_fingerprint;
    const char *got = j->req.tls_cert_fingerprint;
    return !want || !want[0] || (got && strcmp(want, got) == 0);
}

/* No username, a verified client certificate: a certificate client. An
 * unknown certificate, or one whose client also needs a password, is not
 * authorized (CONNACK 5). */
static void cert_lookup(const auth_ctx_t *ctx, store_t *s, auth_job_t *j)
{
    int rc = store_auth_lookup_cert(s, j->req.tls_cert_fingerprint, &j->cred);
    if (rc == ROOST_ENOTFOUND) {
        finish(j, RPC_AUTH_NOT_AUTHORIZED, "unknown_certificate");
        return;
    }
    if (!rc && j->cred->password_hash[0]) {
        finish(j, RPC_AUTH_NOT_AUTHORIZED, "credentials_required");
        return;
    }
    if (rc || (rc = load_groups(ctx, s, j, j->cred->client_id, j->cred->config_version)))
        unavailable(ctx, j, rc);
    else
        succeed(ctx, s, j, "certificate"); /* its allowed client ids hold as for a password */
}

void auth_lookup(const auth_ctx_t *ctx, store_t *s, auth_job_t *j)
{
    const rpc_auth_request_t *r = &j->req;
    if (r->deadline_ms <= rpc_unix_ms()) {
        j->next = AUTH_NEXT_DROP;
        j->reason = "deadline_passed";
        return;
    }
    /* bans (store/bans.h): refused before any password is looked at */
    char why[320];
    bans_refresh(ctx->bans, s, loop_clock_ms()); /* a store error keeps the last snapshot */
    if (bans_match(ctx->bans, r->client_id, r->username, r->peer, (int64_t)rpc_unix_ms(), why, sizeof(why))) {
        log_info("auth_banned", "ban=%s client_id=%s peer=%s", why, r->client_id, r->peer);
        finish(j, RPC_AUTH_BANNED, "banned");
        return;
    }
    if (!r->username && r->tls_cert_fingerprint && r->tls_cert_fingerprint[0]) {
        cert_lookup(ctx, s, j);
        return;
    }
    if (!r->username) {
        if (!ctx->allow_anonymous) {
            finish(j, RPC_AUTH_NOT_AUTHORIZED, "anonymous_refused");
            return;
        }
        int64_t version;
        int rc = store_config_version(s, &version);
        if (!rc)
            rc = load_groups(ctx, s, j, NULL, version);
        if (rc)
            unavailable(ctx, j, rc);
        else if (j->rule_id_refused)
            finish(j, RPC_AUTH_NOT_AUTHORIZED, "client_id_not_allowed");
        else if (flapping(ctx, s, r))
            finish(j, RPC_AUTH_NOT_AUTHORIZED, "flapping");
        else
            finish(j, RPC_AUTH_OK, "anonymous");
        return;
    }
    if (!r->has_password) {
        fail(ctx, j, "no_password");
        return;
    }
    int rc = strlen(r->username) > MAX_USERNAME ? ROOST_ENOTFOUND : store_auth_lookup(s, r->username, &j->cred);
    if (rc == ROOST_ENOTFOUND || (!rc && (!j->cred->password_hash || !j->cred->password_hash[0]))) {
        j->decoy = true; /* same cost as a wrong password */
        j->next = AUTH_NEXT_HASH;
        return;
    }
    if (rc) {
        unavailable(ctx, j, rc);
        return;
    }
    cache_key(ctx->cache, r->username, r->password, r->password_len, j->cred->password_hash, j->cache_key);
    bool hit = cache_lookup(ctx->cache, j->cache_key, loop_clock_ms());
    metrics_inc(ctx->metrics, hit ? MET_CACHE_HIT : MET_CACHE_MISS);
    if (hit)
        rpc_auth_request_wipe_password(&j->req);
    if ((rc = load_groups(ctx, s, j, j->cred->client_id, j->cred->config_version))) {
        unavailable(ctx, j, rc);
        return;
    }
    if (hit && !cert_matches(j))
        finish(j, RPC_AUTH_NOT_AUTHORIZED, "certificate_mismatch");
    else if (hit)
        succeed(ctx, s, j, "cache_hit");
    else
        j->next = AUTH_NEXT_HASH;
}

/* True (and j dropped) when its deadline has passed. */
static bool late(auth_job_t *j)
{
    if (j->req.deadline_ms > rpc_unix_ms())
        return false;
    rpc_auth_request_wipe_password(&j->req);
    j->next = AUTH_NEXT_DROP;
    j->reason = "deadline_passed";
    return true;
}

static void verified(const auth_ctx_t *ctx, auth_job_t *j, const char *reason)
{
    if (!cert_matches(j))
        finish(j, RPC_AUTH_NOT_AUTHORIZED, "certificate_mismatch");
    else
        succeed(ctx, NULL, j, reason);
}

bool auth_verify_cached(const auth_ctx_t *ctx, auth_job_t *j)
{
    if (j->decoy || !cache_lookup(ctx->cache, j->cache_key, loop_clock_ms()))
        return false;
    metrics_inc(ctx->metrics, MET_HASH_SHARED);
    rpc_auth_request_wipe_password(&j->req);
    if (!late(j))
        verified(ctx, j, "cache_hit");
    return true;
}

void auth_verify_shared(const auth_ctx_t *ctx, auth_job_t *j, bool ok)
{
    metrics_inc(ctx->metrics, MET_HASH_SHARED);
    rpc_auth_request_wipe_password(&j->req);
    if (late(j))
        return;
    if (!ok)
        fail(ctx, j, "bad_password");
    else
        verified(ctx, j, "verified_shared");
}

/* True (and j answered 'server unavailable' at once) when an argon2 run
 * started now would end after the request's deadline: nobody would wait
 * for its result, and the device is told to come back now rather than at
 * its broker's timeout. */
static bool unreachable(const auth_ctx_t *ctx, auth_job_t *j)
{
    uint64_t avg_ms = metrics_hash_avg_us(ctx->metrics) / 1000;
    if (!avg_ms || rpc_unix_ms() + avg_ms <= j->req.deadline_ms)
        return false;
    rpc_auth_request_wipe_password(&j->req);
    finish(j, RPC_AUTH_UNAVAILABLE, "deadline_unreachable");
    j->unverified = true;
    return true;
}

bool auth_verify(const auth_ctx_t *ctx, auth_job_t *j)
{
    rpc_auth_request_t *r = &j->req;
    if (late(j) || unreachable(ctx, j))
        return false;
    const char *hash = j->decoy ? ctx->decoy_hash : j->cred->password_hash;
    metrics_inc(ctx->metrics, MET_HASH_VERIFY);
    struct timespec ts0, ts1;
    clock_gettime(CLOCK_MONOTONIC, &ts0);
    int v = crypto_pwhash_str_verify(hash, (const char *)r->password, r->password_len);
    clock_gettime(CLOCK_MONOTONIC, &ts1);
    metrics_hash_time(ctx->metrics, (uint64_t)(ts1.tv_sec - ts0.tv_sec) * 1000000u +
                                        (uint64_t)((ts1.tv_nsec - ts0.tv_nsec) / 1000));
    rpc_auth_request_wipe_password(r);
    if (j->decoy || v != 0) {
        fail(ctx, j, j->decoy ? "unknown_user" : "bad_password");
        return false;
    }
    if (cache_insert(ctx->cache, j->cache_key, r->username, loop_clock_ms()))
        log_warn("auth_cache_insert_failed", "rc=%d", -ENOMEM);
    /* Upgrading the hash would need a store write (admin's job): note it. */
    if (ctx->rehash_ops && crypto_pwhash_str_needs_rehash(hash, ctx->rehash_ops, ctx->rehash_mem) != 0)
        log_debug("auth_password_needs_rehash", "client_id=%s", j->cred->client_id);
    verified(ctx, j, "verified");
    return true;
}

void auth_job_reply(const auth_job_t *j, rpc_auth_reply_t *out)
{
    *out = (rpc_auth_reply_t){.request_id = j->req.request_id, .status = j->status};
    if (j->status != RPC_AUTH_OK)
        return; /* refusals carry no client details */
    out->client_id = j->cred ? j->cred->client_id : "";
    out->client_name = j->cred ? j->cred->name : "";
    out->groups = j->group_ids;
    out->n_groups = j->n_group_ids;
    out->acl = j->acl;
    out->n_acl = j->n_acl;
    out->max_msg_rate = j->max_msg_rate;
    out->max_byte_rate = j->max_byte_rate;
    out->config_version = j->config_version ? j->config_version
                                            : (uint64_t)(j->cred ? j->cred->config_version : 0);
}

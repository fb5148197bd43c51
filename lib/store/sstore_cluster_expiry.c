/* sstore_cluster_expiry: session expiry (sstore_expiry.c) on a Redis
 * Cluster, where a session's keys (client slot) and the expiry index
 * sessexp (global slot) cannot be in one script:
 *   expire  the session's TTLs first (client slot; answers whether the
 *           session exists), then its sessexp entry (global slot);
 *   reap    pops up to `limit` due client ids from sessexp (global), then
 *           for each: drops its keys unless its lease is held (client slot;
 *           answers the filters it had), then those psubs entries (global).
 * The session's keys carry their own TTL (expiry + grace), so a reap lost
 * half way leaves at most index entries for the next reap to retry. */
#include "store/sstore_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/proc.h"

/* KEYS sess subs q qm rx2 rel; ARGV expires at (0: never), key ttl ms.
 * Returns 1 when the session exists (TTLs set or removed), else 0. */
const char SSTORE_LUA_SESS_TTL[] =
    "if ARGV[1]=='0' then for i=1,6 do redis.call('PERSIST',KEYS[i]) end return 1 end\n"
    "if redis.call('EXISTS',KEYS[1])==0 then return 0 end\n"
    "for i=1,6 do redis.call('PEXPIRE',KEYS[i],ARGV[2]) end return 1";
/* KEYS sessexp; ARGV now ms, limit. Pops the due ids. */
const char SSTORE_LUA_EXP_POP[] =
    "local ids=redis.call('ZRANGEBYSCORE',KEYS[1],'-inf',ARGV[1],'LIMIT',0,tonumber(ARGV[2]))\n"
    "for _,c in ipairs(ids) do redis.call('ZREM',KEYS[1],c) end return ids";
/* KEYS sess subs q qm rx2 rel lease. Unless leased: deletes the session,
 * returns its filters; leased: nil. */
const char SSTORE_LUA_SESS_REAP1[] =
    "if redis.call('EXISTS',KEYS[7])==1 then return false end\n"
    "local f=redis.call('HKEYS',KEYS[2])\n"
    "redis.call('DEL',KEYS[1],KEYS[2],KEYS[3],KEYS[4],KEYS[5],KEYS[6]) return f";

typedef struct xop {
    sstore_t *router;
    sstore_done_fn done;
    sstore_count_fn count;
    void *arg;
    char *cid;
    size_t cid_len;
    uint64_t at;     /* expire: expires at (unix ms), 0 never */
    size_t pending;  /* reap: sessions in progress */
    uint64_t reaped;
    int rc;
} xop_t;

static void xop_free(xop_t *o)
{
    free(o->cid);
    free(o);
}

/* ---- expire ------------------------------------------------------------------------ */

static void idx_finish(sstore_req_t *q, int rc, const redisReply *r)
{
    (void)r;
    xop_t *o = q->arg;
    o->done(rc, o->arg);
    xop_free(o);
}

static void ttl_finish(sstore_req_t *q, int rc, const redisReply *r)
{
    xop_t *o = q->arg;
    uint64_t exists = 0;
    if (rc == 0 && ss_r_u64(r, &exists) < 0)
        rc = ROOST_ESTORE;
    if (rc == 0 && (exists || o->at == 0)) {
        sstore_req_t *z = ss_req_new(o->router, SS_NONE, 0, idx_finish, o);
        if (z) {
            ss_arg_str(z, o->at ? "ZADD" : "ZREM");
            ss_key(z, "sessexp", "", 0);
            if (o->at)
                ss_arg_u64(z, o->at);
            ss_arg(z, o->cid, o->cid_len);
        }
        if (z && ss_issue(z) == 0)
            return;
        rc = z ? ROOST_EUNAVAILABLE : -ENOMEM;
    }
    o->done(rc, o->arg);
    xop_free(o);
}

int ss_cluster_session_expire(sstore_t *s, const char *cid, size_t cid_len, uint64_t expiry_ms,
                              sstore_done_fn fn, void *arg)
{
    xop_t *o = calloc(1, sizeof(*o));
    if (!o || !(o->cid = malloc(cid_len ? cid_len : 1))) {
        free(o);
        return -ENOMEM;
    }
    memcpy(o->cid, cid, cid_len);
    *o = (xop_t){.router = s, .done = fn, .arg = arg, .cid = o->cid, .cid_len = cid_len,
                 .at = expiry_ms ? proc_wall_ms() + expiry_ms : 0};
    sstore_req_t *q = ss_req_new(s, SS_SESS_TTL, 6, ttl_finish, o);
    if (!q) {
        xop_free(o);
        return -ENOMEM;
    }
    ss_session_keys(q, cid, cid_len);
    ss_arg_u64(q, o->at);
    ss_arg_u64(q, expiry_ms + SSTORE_EXPIRY_GRACE_MS);
    int rc = ss_issue(q);
    if (rc < 0)
        xop_free(o);
    return rc;
}

/* ---- reap ------------------------------------------------------------------------- */

static void reap_one_done(xop_t *o, int rc)
{
    if (rc < 0 && o->rc == 0)
        o->rc = rc;
    if (--o->pending == 0) {
        o->count(o->rc, o->rc == 0 ? o->reaped : 0, o->arg);
        xop_free(o);
    }
}

typedef struct one {
    xop_t *o;
    char *cid;
    size_t cid_len;
} one_t;

static void one_free(one_t *x)
{
    free(x->cid);
    free(x);
}

static void psubs_finish(sstore_req_t *q, int rc, const redisReply *r)
{
    (void)r;
    one_t *x = q->arg;
    xop_t *o = x->o;
    one_free(x);
    reap_one_done(o, rc);
}

static void reap1_finish(sstore_req_t *q, int rc, const redisReply *r)
{
    one_t *x = q->arg;
    xop_t *o = x->o;
    if (rc == 0 && r->type != REDIS_REPLY_NIL && r->type != REDIS_REPLY_ARRAY)
        rc = ROOST_ESTORE;
    if (rc == 0 && r->type == REDIS_REPLY_ARRAY) {
        o->reaped++;
        if (r->elements > 0) {
            rc = ss_psubs_drop(o->router, x->cid, x->cid_len, r, psubs_finish, x);
            if (rc == 0)
                return;
        }
    }
    one_free(x);
    reap_one_done(o, rc);
}

static void pop_finish(sstore_req_t *q, int rc, const redisReply *r)
{
    xop_t *o = q->arg;
    if (rc == 0 && r->type != REDIS_REPLY_ARRAY)
        rc = ROOST_ESTORE;
    o->pending = 1; /* held while issuing */
    for (size_t i = 0; rc == 0 && i < r->elements; i++) {
        const redisReply *c = r->element[i];
        one_t *x = calloc(1, sizeof(*x));
        sstore_req_t *d = x && (x->cid = malloc(c->len ? c->len : 1))
                              ? ss_req_new(o->router, SS_SESS_REAP1, 7, reap1_finish, x)
                              : NULL;
        if (!d) {
            if (x)
                one_free(x);
            rc = -ENOMEM;
            break;
        }
        memcpy(x->cid, c->str, c->len);
        x->cid_len = c->len;
        x->o = o;
        ss_session_keys(d, c->str, c->len);
        ss_ckey(d, "lease:", c->str, c->len);
        if (ss_issue(d) < 0) {
            one_free(x);
            rc = ROOST_EUNAVAILABLE;
            break;
        }
        o->pending++;
    }
    reap_one_done(o, rc);
}

int ss_cluster_session_reap(sstore_t *s, uint64_t now_ms, unsigned limit, sstore_count_fn fn, void *arg)
{
    xop_t *o = calloc(1, sizeof(*o));
    if (!o)
        return -ENOMEM;
    *o = (xop_t){.router = s, .count = fn, .arg = arg};
    sstore_req_t *q = ss_req_new(s, SS_EXP_POP, 1, pop_finish, o);
    if (!q) {
        free(o);
        return -ENOMEM;
    }
    ss_key(q, "sessexp", "", 0);
    ss_arg_u64(q, now_ms);
    ss_arg_u64(q, limit);
    int rc = ss_issue(q);
    if (rc < 0)
        free(o);
    return rc;
}

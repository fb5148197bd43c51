/* sstore_lease: client-id leases (sstore.h "client-id leases"): which broker
 * holds a client id, and which credential (store client id) holds it, so a
 * takeover by another credential can be refused atomically with the take. */
#include <errno.h>
#include <string.h>

#include "base/err.h"
#include "store/sstore_priv.h"

/* KEYS lease leasecred sess; ARGV broker id, prefix, credential, owner_only
 * [, alive, holder: on a Redis Cluster the holder's alive key is in another
 * slot, so sstore_cluster_ops.c reads it first and passes it; the script
 * answers refused = 2 when the lease no longer names that holder].
 * The credential claims the id while its broker is alive (leasecred) and,
 * for a persistent session, for the session's life (sess 'credential').
 * Returns [previous or '', previous alive, refused]; a refusal changes
 * nothing. */
const char SSTORE_LUA_LEASE_TAKE[] =
    "local old=redis.call('GET',KEYS[1]) local alive=0\n"
    "if ARGV[5] then\n" /* Redis Cluster: alive read before, for the holder ARGV[6] */
    "  if (old or '')~=ARGV[6] then return {old or '',0,2} end alive=tonumber(ARGV[5])\n"
    "elseif old then alive=redis.call('EXISTS',ARGV[2]..'broker:'..old..':alive') end\n"
    "if ARGV[4]=='1' then\n"
    "  local lc=redis.call('GET',KEYS[2]) local sc=redis.call('HGET',KEYS[3],'credential')\n"
    "  if (alive==1 and lc and lc~=ARGV[3]) or (sc and sc~=ARGV[3]) then return {old or '',alive,1} end\n"
    "end\n"
    "redis.call('SET',KEYS[1],ARGV[1]) redis.call('SET',KEYS[2],ARGV[3])\n"
    "return {old or '',alive,0}";

/* KEYS lease leasecred; ARGV broker id */
const char SSTORE_LUA_LEASE_RELEASE[] =
    "if redis.call('GET',KEYS[1])==ARGV[1] then return redis.call('DEL',KEYS[1],KEYS[2]) end\n"
    "return 0";

/* KEYS lease sent; ARGV broker id, entry ids... Only the holder of the
 * lease speaks for the session: the set of entries it sent, with a '.'
 * member so that "none sent" is known too. */
const char SSTORE_LUA_LEASE_SENT[] =
    "if redis.call('GET',KEYS[1])~=ARGV[1] then return 0 end\n"
    "redis.call('DEL',KEYS[2]) redis.call('SADD',KEYS[2],'.')\n"
    "for i=2,#ARGV do redis.call('SADD',KEYS[2],ARGV[i]) end\n"
    "redis.call('EXPIRE',KEYS[2],2592000) return 1";

static void lease_finish(sstore_req_t *q, int rc, const redisReply *r)
{
    const char *prev = "";
    uint64_t alive = 0, refused = 0;
    if (rc == 0 && (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || !ss_r_is_str(r->element[0]) ||
                    ss_r_u64(r->element[1], &alive) < 0 || ss_r_u64(r->element[2], &refused) < 0))
        rc = ROOST_ESTORE;
    if (rc == 0 && refused)
        rc = ROOST_EAUTH_NOT_AUTHORIZED;
    if (rc == 0)
        prev = r->element[0]->str;
    q->fn.lease(rc, prev, rc == 0 && alive, q->arg);
}

int sstore_lease_take(sstore_t *s, const char *cid, size_t cid_len, const char *broker_id,
                      const char *credential, bool owner_only, sstore_lease_fn fn, void *arg)
{
    if (ss_is_cluster(s))
        return ss_cluster_lease_take(s, cid, cid_len, broker_id, credential, owner_only, fn, arg);
    sstore_req_t *q = ss_req_new(s, SS_LEASE_TAKE, 3, lease_finish, arg);
    if (!q)
        return -ENOMEM;
    q->fn.lease = fn;
    ss_ckey(q, "lease:", cid, cid_len);
    ss_ckey(q, "leasecred:", cid, cid_len);
    ss_ckey(q, "sess:", cid, cid_len);
    ss_arg_str(q, broker_id);
    ss_arg_str(q, ss_prefix(s));
    ss_arg_str(q, credential ? credential : "");
    ss_arg_str(q, owner_only ? "1" : "0");
    return ss_issue(q);
}

static void release_finish(sstore_req_t *q, int rc, const redisReply *r)
{
    (void)r;
    q->fn.done(rc, q->arg);
}

int sstore_lease_release(sstore_t *s, const char *cid, size_t cid_len, const char *broker_id,
                         sstore_done_fn fn, void *arg)
{
    sstore_req_t *q = ss_req_new(s, SS_LEASE_RELEASE, 2, release_finish, arg);
    if (!q)
        return -ENOMEM;
    q->fn.done = fn;
    ss_ckey(q, "lease:", cid, cid_len);
    ss_ckey(q, "leasecred:", cid, cid_len);
    ss_arg_str(q, broker_id);
    return ss_issue(q);
}

int sstore_lease_note_sent(sstore_t *s, const char *cid, size_t cid_len, const char *broker_id,
                           const char *const *eids, size_t n, sstore_done_fn fn, void *arg)
{
    sstore_req_t *q = ss_req_new(s, SS_LEASE_SENT, 2, release_finish, arg);
    if (!q)
        return -ENOMEM;
    q->fn.done = fn;
    ss_ckey(q, "lease:", cid, cid_len);
    ss_ckey(q, "sent:", cid, cid_len);
    ss_arg_str(q, broker_id);
    for (size_t i = 0; i < n; i++)
        ss_arg_str(q, eids[i]);
    return ss_issue(q);
}

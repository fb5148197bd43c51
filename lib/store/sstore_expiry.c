/* sstore_expiry: offline persistent sessions expire (sstore.h "Session
 * expiry"): MQTT 5.0's Session Expiry Interval, and --session-expiry for
 * 3.1.1 persistent sessions, so Redis does not keep every device that ever
 * connected. */
#include <errno.h>
#include <string.h>

#include "base/err.h"
#include "base/proc.h"
#include "store/sstore_priv.h"

/* KEYS sess subs q qm rx2 rel sessexp; ARGV cid, expires at (unix ms; 0:
 * never), key ttl ms. */
const char SSTORE_LUA_SESS_EXPIRE[] =
    "if ARGV[2]=='0' then redis.call('ZREM',KEYS[7],ARGV[1])\n"
    "  for i=1,6 do redis.call('PERSIST',KEYS[i]) end return 0 end\n"
    "if redis.call('EXISTS',KEYS[1])==0 then return 0 end\n"
    "redis.call('ZADD',KEYS[7],ARGV[2],ARGV[1])\n"
    "for i=1,6 do redis.call('PEXPIRE',KEYS[i],ARGV[3]) end return 1";

/* KEYS sessexp psubs psubs:ver; ARGV P (per-client keys are
 * P<name>{c:<cid>}), now ms, limit. A leased client id is in use: only
 * its index entry goes (its broker sets a new one when it goes offline). */
const char SSTORE_LUA_SESS_REAP[] =
    "local ids=redis.call('ZRANGEBYSCORE',KEYS[1],'-inf',ARGV[2],'LIMIT',0,tonumber(ARGV[3]))\n"
    "local n,ch=0,0\n"
    "for _,c in ipairs(ids) do\n"
    "  redis.call('ZREM',KEYS[1],c)\n"
    "  local t='{c:'..c..'}'\n"
    "  if redis.call('EXISTS',ARGV[1]..'lease:'..t)==0 then\n"
    "    local f=redis.call('HKEYS',ARGV[1]..'subs:'..t)\n"
    "    for _,x in ipairs(f) do redis.call('HDEL',KEYS[2],c..'\\0'..x) ch=ch+1 end\n"
    "    redis.call('DEL',ARGV[1]..'sess:'..t,ARGV[1]..'subs:'..t,ARGV[1]..'q:'..t,\n"
    "      ARGV[1]..'qm:'..t,ARGV[1]..'rx2:'..t,ARGV[1]..'rel:'..t)\n"
    "    n=n+1\n"
    "  end\n"
    "end\n"
    "if ch>0 then redis.call('INCR',KEYS[3]) end return n";

static void done_finish(sstore_req_t *q, int rc, const redisReply *r)
{
    (void)r;
    q->fn.done(rc, q->arg);
}

int sstore_session_expire(sstore_t *s, const char *cid, size_t cid_len, uint64_t expiry_ms,
                          sstore_done_fn fn, void *arg)
{
    if (ss_is_cluster(s))
        return ss_cluster_session_expire(s, cid, cid_len, expiry_ms, fn, arg);
    sstore_req_t *q = ss_req_new(s, SS_SESS_EXPIRE, 7, done_finish, arg);
    if (!q)
        return -ENOMEM;
    q->fn.done = fn;
    ss_session_keys(q, cid, cid_len);
    ss_key(q, "sessexp", "", 0);
    ss_arg(q, cid, cid_len);
    ss_arg_u64(q, expiry_ms ? proc_wall_ms() + expiry_ms : 0);
    ss_arg_u64(q, expiry_ms + SSTORE_EXPIRY_GRACE_MS);
    return ss_issue(q);
}

static void count_finish(sstore_req_t *q, int rc, const redisReply *r)
{
    uint64_t n = 0;
    if (rc == 0 && ss_r_u64(r, &n) < 0)
        rc = ROOST_ESTORE;
    q->fn.count(rc, n, q->arg);
}

int sstore_session_reap(sstore_t *s, uint64_t now_ms, unsigned limit, sstore_count_fn fn,
                        void *arg)
{
    if (ss_is_cluster(s))
        return ss_cluster_session_reap(s, now_ms, limit, fn, arg);
    sstore_req_t *q = ss_req_new(s, SS_SESS_REAP, 3, count_finish, arg);
    if (!q)
        return -ENOMEM;
    q->fn.count = fn;
    ss_key(q, "sessexp", "", 0);
    ss_key(q, "psubs", "", 0);
    ss_key(q, "psubs:ver", "", 0);
    ss_arg_str(q, ss_base(s));
    ss_arg_u64(q, now_ms);
    ss_arg_u64(q, limit);
    return ss_issue(q);
}

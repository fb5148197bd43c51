/* sstore_expiry: offline persistent sessions expire (sstore.h "Session
 * expiry"): MQTT 5.0's Session Expiry Interval, and --session-expiry for
 * 3.1.1 persistent sessions, so Redis does not keep every device that ever
 * connected. */
#include <errno.h>
#include <string.h>

#include "base/err.h"
#include "base/proc.h"
#include "store/sstore_priv.h"

/* An online session is looked at again after this long (or its expiry,
 * if longer): a broker killed while holding it never says it went offline,
 * so the reaper finds its lease dead and lets the session expire. */
#define RECHECK_MS "300000"

/* KEYS sess subs q qm rx2 rel sessexp; ARGV cid, 'on' | 'off', expiry ms
 * (0: never), now ms, grace ms. */
const char SSTORE_LUA_SESS_EXPIRE[] =
    "if ARGV[3]=='0' then redis.call('ZREM',KEYS[7],ARGV[1])\n"
    "  for i=1,6 do redis.call('PERSIST',KEYS[i]) end return 0 end\n"
    "if redis.call('EXISTS',KEYS[1])==0 then return 0 end\n"
    "local e=tonumber(ARGV[3]) redis.call('HSET',KEYS[1],'expiry_ms',ARGV[3])\n"
    "if ARGV[2]=='on' then\n"
    "  for i=1,6 do redis.call('PERSIST',KEYS[i]) end\n"
    "  redis.call('ZADD',KEYS[7],tonumber(ARGV[4])+math.max(e," RECHECK_MS "),ARGV[1])\n"
    "else\n"
    "  redis.call('ZADD',KEYS[7],tonumber(ARGV[4])+e,ARGV[1])\n"
    "  for i=1,6 do redis.call('PEXPIRE',KEYS[i],e+tonumber(ARGV[5])) end\n"
    "end return 1";

/* KEYS sessexp psubs psubs:ver; ARGV P (per-client keys are
 * P<name>{c:<cid>}), now ms, limit, P{g}: (brokers' alive keys). A
 * session whose client id a live broker holds is in use: looked at again
 * later. One whose holder died (killed while the device was connected) or
 * that nobody holds is deleted with its psubs entries (and the dead
 * holder's lease). */
const char SSTORE_LUA_SESS_REAP[] =
    "local ids=redis.call('ZRANGEBYSCORE',KEYS[1],'-inf',ARGV[2],'LIMIT',0,tonumber(ARGV[3]))\n"
    "local n,ch=0,0\n"
    "for _,c in ipairs(ids) do\n"
    "  local t='{c:'..c..'}'\n"
    "  local h=redis.call('GET',ARGV[1]..'lease:'..t)\n"
    "  local e=redis.call('HGET',ARGV[1]..'sess:'..t,'expiry_ms')\n"
    "  if not e then redis.call('ZREM',KEYS[1],c)\n"
    "  elseif h and redis.call('EXISTS',ARGV[4]..'broker:'..h..':alive')==1 then\n"
    "    redis.call('ZADD',KEYS[1],tonumber(ARGV[2])+math.max(tonumber(e)," RECHECK_MS "),c)\n"
    "  else\n"
    "    redis.call('ZREM',KEYS[1],c)\n"
    "    local f=redis.call('HKEYS',ARGV[1]..'subs:'..t)\n"
    "    for _,x in ipairs(f) do redis.call('HDEL',KEYS[2],c..'\\0'..x) ch=ch+1 end\n"
    "    redis.call('DEL',ARGV[1]..'sess:'..t,ARGV[1]..'subs:'..t,ARGV[1]..'q:'..t,\n"
    "      ARGV[1]..'qm:'..t,ARGV[1]..'rx2:'..t,ARGV[1]..'rel:'..t,ARGV[1]..'sent:'..t)\n"
    "    if h then redis.call('DEL',ARGV[1]..'lease:'..t,ARGV[1]..'leasecred:'..t) end\n"
    "    n=n+1\n"
    "  end\n"
    "end\n"
    "if ch>0 then redis.call('INCR',KEYS[3]) end return n";

int sstore_session_expire(sstore_t *s, const char *cid, size_t cid_len, bool online,
                          uint64_t expiry_ms, sstore_done_fn fn, void *arg)
{
    /* Redis Cluster (sstore_cluster_expiry.c) has no re-check of online
     * sessions: an online one is simply kept (no TTL, out of the index) */
    if (ss_is_cluster(s))
        return ss_cluster_session_expire(s, cid, cid_len, online ? 0 : expiry_ms, fn, arg);
    sstore_req_t *q = ss_req_done(s, SS_SESS_EXPIRE, 7, fn, arg);
    if (!q)
        return -ENOMEM;
    ss_session_keys(q, cid, cid_len);
    ss_key(q, "sessexp", "", 0);
    ss_arg(q, cid, cid_len);
    ss_arg_str(q, online ? "on" : "off");
    ss_arg_u64(q, expiry_ms);
    ss_arg_u64(q, proc_wall_ms());
    ss_arg_u64(q, SSTORE_EXPIRY_GRACE_MS);
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
    ss_arg_str(q, ss_prefix(s));
    return ss_issue(q);
}

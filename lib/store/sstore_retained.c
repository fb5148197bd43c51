/* sstore_retained: expired retained messages leave Redis (sstore.h
 * sstore_retain_expire). */
#include <errno.h>

#include "store/sblob.h"
#include "store/sstore_priv.h"

/* KEYS retained; ARGV topic, now (unix ms). Deletes the topic's retained
 * message when its blob (sblob.h: [qos][flags][topic_len u16][topic]
 * [expiry u64 BE when flags & SBLOB_EXPIRY (2)]...) has a deadline at or
 * before now; whatever message the topic holds by then, so a newer one
 * another broker stored is kept unless it has expired too. Returns 1 when
 * deleted, else 0. */
const char SSTORE_LUA_RETAIN_EXPIRE[] =
    "local v=redis.call('HGET',KEYS[1],ARGV[1])\n"
    "if not v or #v<4 or math.floor(string.byte(v,2)/2)%2==0 then return 0 end\n"
    "local at=5+string.byte(v,3)*256+string.byte(v,4)\n"
    "if #v<at+7 then return 0 end\n"
    "local e=0 for i=at,at+7 do e=e*256+string.byte(v,i) end\n"
    "if e>tonumber(ARGV[2]) then return 0 end\n"
    "return redis.call('HDEL',KEYS[1],ARGV[1])";

int sstore_retain_expire(sstore_t *s, const char *topic, size_t topic_len, uint64_t now_ms,
                         sstore_done_fn fn, void *arg)
{
    sstore_req_t *q = ss_req_done(s, SS_RETAIN_EXPIRE, 1, fn, arg);
    if (!q)
        return -ENOMEM;
    ss_key(q, "retained", "", 0);
    ss_arg(q, topic, topic_len);
    ss_arg_u64(q, now_ms);
    return ss_issue(q);
}

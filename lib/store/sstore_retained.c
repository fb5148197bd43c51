/* sstore_retained: the scripts behind the retained set (sstore.h "retained
 * messages"): a put also appends its topic to a capped log (G
 * retained:log, a Stream), so a broker re-reads only the topics put after
 * its last read (sstore_retain_load_since), or learns that the log no
 * longer reaches back that far; expired messages leave Redis
 * (sstore_retain_expire). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "store/sblob.h"
#include "store/sstore_priv.h"

/* KEYS retained, retained:log; ARGV topic, blob, log cap. */
const char SSTORE_LUA_RETAIN_PUT[] =
    "redis.call('HSET',KEYS[1],ARGV[1],ARGV[2])\n"
    "redis.call('XADD',KEYS[2],'MAXLEN','~',ARGV[3],'*','t',ARGV[1]) return 0";

/* KEYS retained, retained:log; ARGV mark (a log entry id, 0-0: before
 * any). Returns {last id, 'ok', topic, blob, ...} with each topic logged
 * after the mark that still holds a message, once; or {last id, 'whole'}
 * when the log cannot tell: the mark's entry is no longer in it (trimmed
 * past, or the set was replaced), or for 0-0, entries were trimmed
 * (XINFO entries-added, Redis 7, against XLEN) or messages are stored
 * without a log (written before it existed). Trimming only ever drops the
 * oldest entries, so all after a kept one are kept. */
const char SSTORE_LUA_RETAIN_SINCE[] =
    "local since=ARGV[1]\n"
    "local top=redis.call('XREVRANGE',KEYS[2],'+','-','COUNT',1)\n"
    "local last=top[1] and top[1][1] or '0-0'\n"
    "if since=='0-0' then\n"
    "  if redis.call('EXISTS',KEYS[2])==0 then\n"
    "    if redis.call('HLEN',KEYS[1])>0 then return {last,'whole'} end\n"
    "  else\n"
    "    local info,added=redis.call('XINFO','STREAM',KEYS[2]),nil\n"
    "    for i=1,#info,2 do if info[i]=='entries-added' then added=info[i+1] end end\n"
    "    if added~=redis.call('XLEN',KEYS[2]) then return {last,'whole'} end\n"
    "  end\n"
    "elseif #redis.call('XRANGE',KEYS[2],since,since)==0 then\n"
    "  return {last,'whole'}\n"
    "end\n"
    "local seen,out={},{last,'ok'}\n"
    "for _,e in ipairs(redis.call('XRANGE',KEYS[2],since=='0-0' and '-' or '('..since,'+')) do\n"
    "  local t=e[2][2]\n"
    "  if not seen[t] then\n"
    "    seen[t]=true\n"
    "    local v=redis.call('HGET',KEYS[1],t)\n"
    "    if v then out[#out+1]=t out[#out+1]=v end\n"
    "  end\n"
    "end\n"
    "return out";

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

static void copy_mark(char *out, const redisReply *r)
{
    snprintf(out, SSTORE_MARK_MAX, "%.*s", (int)r->len, r->str);
}

static bool is_mark(const redisReply *r)
{
    return ss_r_is_str(r) && r->len > 0 && r->len < SSTORE_MARK_MAX;
}

static void mark_finish(sstore_req_t *q, int rc, const redisReply *r)
{
    char mark[SSTORE_MARK_MAX] = "0-0";
    if (rc == 0 && (!r || r->type != REDIS_REPLY_ARRAY))
        rc = ROOST_ESTORE;
    if (rc == 0 && r->elements > 0) { /* [[id, fields]] */
        const redisReply *e = r->element[0];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 1 || !is_mark(e->element[0]))
            rc = ROOST_ESTORE;
        else
            copy_mark(mark, e->element[0]);
    }
    q->fn.mark(rc, rc == 0 ? mark : NULL, q->arg);
}

int sstore_retain_mark(sstore_t *s, sstore_mark_fn fn, void *arg)
{
    sstore_req_t *q = ss_req_new(s, SS_NONE, 0, mark_finish, arg);
    if (!q)
        return -ENOMEM;
    q->fn.mark = fn;
    ss_arg_str(q, "XREVRANGE");
    ss_key(q, "retained:log", "", 0);
    ss_arg_str(q, "+");
    ss_arg_str(q, "-");
    ss_arg_str(q, "COUNT");
    ss_arg_str(q, "1");
    return ss_issue(q);
}

static void since_finish(sstore_req_t *q, int rc, const redisReply *r)
{
    sstore_msg_t *msgs = NULL;
    size_t n = 0;
    char mark[SSTORE_MARK_MAX] = "";
    bool whole = false;
    if (rc == 0 && (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 2 || !is_mark(r->element[0]) ||
                    !ss_r_is_str(r->element[1])))
        rc = ROOST_ESTORE;
    if (rc == 0) {
        copy_mark(mark, r->element[0]);
        whole = r->element[1]->len == 5 && memcmp(r->element[1]->str, "whole", 5) == 0;
        rc = ss_r_msgs(r, 2, &msgs, &n);
    }
    q->fn.since(rc, msgs, n, rc == 0 ? mark : NULL, whole, q->arg);
    free(msgs);
}

int sstore_retain_load_since(sstore_t *s, const char *mark, sstore_since_fn fn, void *arg)
{
    if (!mark || !mark[0] || strlen(mark) >= SSTORE_MARK_MAX)
        return ROOST_EINVAL;
    sstore_req_t *q = ss_req_new(s, SS_RETAIN_SINCE, 2, since_finish, arg);
    if (!q)
        return -ENOMEM;
    q->fn.since = fn;
    ss_key(q, "retained", "", 0);
    ss_key(q, "retained:log", "", 0);
    ss_arg_str(q, mark);
    return ss_issue(q);
}

/* sstore_pipe: the broker's side of Pipelines (sstore.h "pipelines"): the
 * topic mappings it matches PUBLISHes against, and the append of a matching
 * message to each pipeline's queue (the stream keys of pipelines.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/proc.h"
#include "base/err.h"
#include "base/loop.h"
#include "store/resp.h"
#include "store/pipebundle.h"
#include "store/pipentry.h"
#include "store/pipeq.h"
#include "store/sstore_priv.h"

/* ARGV: prefix, then groups of messages bound for the same pipelines: n,
 * the n pipeline ids, then the group's k messages as one bundle
 * (pipebundle.h; k is its count). Each pipeline's queue gets one stream
 * entry per group: the bundle as it is ("b"), or its only message as an "m"
 * entry when k is 1 (pipentry.h). A pipeline deleted meanwhile is skipped.
 * max_queue counts messages: the queue's count is kept in its stats hash
 * ("queued", taken from XLEN the first time: older queues hold one message
 * per entry); a queue that has room for only some of the k takes the first
 * ones (a shorter bundle cut from this one) and drops the rest; a queue
 * with a max_age_s first loses its entries older than that (at most 1000
 * per call; their messages counted, acknowledged so that a forwarder still
 * holding them does not count them again, pipeq.c). Drops are counted in
 * the stats as "dropped", per message. Returns {i, d, ...}: the 1-based
 * positions in the call of the messages that d pipelines dropped (empty
 * when none did). One XADD per pipeline and group: one per message cost
 * Redis ~1.3 us of its ~3.1 us per message (bench/RESULTS.md). */
const char SSTORE_LUA_PIPE_APPEND[] =
    "local p=ARGV[1] local i=2 local out={} local mq={} local len={} local at=0\n"
    "local function cnt(f)\n"
    "  if #f==2 and f[1]=='" PIPEBUNDLE_FIELD "' and #f[2]>=3 then return string.byte(f[2],2)*256+string.byte(f[2],3) end\n"
    "  return 1\n"
    "end\n"
    "local function take(v,room)\n"
    "  local pos=4\n"
    "  for _=1,room do local a,b,c,d=string.byte(v,pos,pos+3) pos=pos+4+((a*256+b)*256+c)*256+d end\n"
    "  if room==1 then return '" PIPENTRY_FIELD "',string.sub(v,8,pos-1) end\n"
    "  return '" PIPEBUNDLE_FIELD "',string.char(1,math.floor(room/256),room%256)..string.sub(v,4,pos-1)\n"
    "end\n"
    "while i<=#ARGV do\n"
    "  local n=tonumber(ARGV[i]) local v=ARGV[i+n+1] local d={}\n"
    "  local k=string.byte(v,2)*256+string.byte(v,3)\n"
    "  for j=i+1,i+n do\n"
    "    local id=ARGV[j] local q=p..'pq:'..id\n"
    "    if mq[id]==nil then\n"
    "      local c=redis.call('HMGET',p..'pipeline:'..id,'max_queue','max_age_s')\n"
    "      mq[id]=tonumber(c[1] or '-1') local age=tonumber(c[2] or '0')\n"
    "      if mq[id]>=0 then\n"
    "        local l=redis.call('HGET',q..':stats','queued')\n"
    "        len[id]=tonumber(l or redis.call('XLEN',q))\n"
    "      end\n"
    "      if mq[id]>=0 and age>0 then\n"
    "        local t=redis.call('TIME')\n"
    "        local cut=tonumber(t[1])*1000+math.floor(tonumber(t[2])/1000)-age*1000\n"
    "        local es=redis.call('XRANGE',q,'-',cut-1,'COUNT',1000)\n"
    "        if #es>0 then\n"
    "          local ids={} local gone=0\n"
    "          for x,e in ipairs(es) do ids[x]=e[1] gone=gone+cnt(e[2]) end\n"
    "          redis.pcall('XACK',q,'" PIPEQ_GROUP "',unpack(ids))\n"
    "          redis.call('XDEL',q,unpack(ids))\n"
    "          redis.call('HINCRBY',q..':stats','dropped',gone)\n"
    "          len[id]=math.max(0,len[id]-gone)\n"
    "        end\n"
    "      end\n"
    "    end\n"
    "    if mq[id]>=0 then\n"
    "      local room=math.max(0,math.min(k,mq[id]-len[id]))\n"
    "      if room==k and k>1 then redis.call('XADD',q,'*','" PIPEBUNDLE_FIELD "',v)\n"
    "      elseif room>0 then redis.call('XADD',q,'*',take(v,room)) end\n"
    "      len[id]=len[id]+room\n"
    "      if room<k then\n"
    "        redis.call('HINCRBY',q..':stats','dropped',k-room)\n"
    "        for x=room+1,k do d[x]=(d[x] or 0)+1 end\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "  for x=1,k do if d[x] then out[#out+1]=at+x out[#out+1]=d[x] end end\n"
    "  at=at+k i=i+n+2\n"
    "end\n"
    "for id,l in pairs(len) do redis.call('HSET',p..'pq:'..id..':stats','queued',l) end\n"
    "return out\n";

#define BATCH_MAX 256 /* messages per script call */

typedef struct cb {
    sstore_push_fn fn;
    void *arg;
} cb_t;

/* Appends made during one loop turn (or until another request is issued),
 * sent as one script call; each caller's callback runs with its message's
 * drop count when the reply arrives. */
typedef struct batch {
    sstore_req_t *q;
    cb_t *cbs;
    size_t n, cap;
    int grp;            /* argument index of the open group's n (0: none) */
    size_t grp_k;       /* messages in the open group */
    int rc;             /* a send that failed: delivered from a timer */
    uint64_t timer;
    struct batch *next; /* failing list */
} batch_t;

struct ss_pipe_batch {
    sstore_t *s;
    batch_t *open;
    batch_t *failing;
    uint64_t failing_timer; /* on_failing's, while registered (it holds this struct) */
};

static void batch_free(batch_t *b)
{
    free(b->cbs);
    free(b);
}

static void batch_finish(sstore_req_t *q, int rc, const redisReply *r)
{
    batch_t *b = q->arg;
    if (rc == 0 && (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0))
        rc = ROOST_ESTORE;
    size_t next = 0; /* the reply's next (position, drops) pair */
    for (size_t i = 0; i < b->n; i++) {
        uint64_t at = 0, d = 0;
        if (rc == 0 && next < r->elements && ss_r_u64(r->element[next], &at) == 0 && at == i + 1) {
            ss_r_u64(r->element[next + 1], &d);
            next += 2;
        }
        b->cbs[i].fn(rc, (size_t)d, b->cbs[i].arg);
    }
    batch_free(b);
}

/* Delivers the failures of batches that could not be sent. */
static uint64_t on_failing(loop_t *l, void *arg)
{
    (void)l;
    struct ss_pipe_batch *st = arg;
    st->failing_timer = 0; /* this timer ends here */
    while (st->failing) {
        batch_t *b = st->failing;
        st->failing = b->next;
        for (size_t i = 0; i < b->n; i++)
            b->cbs[i].fn(b->rc, 0, b->cbs[i].arg);
        batch_free(b);
    }
    return 0;
}

void ss_pipe_flush(sstore_t *s, const sstore_req_t *next)
{
    struct ss_pipe_batch *st = *ss_pipe_slot(s);
    batch_t *b = st ? st->open : NULL;
    if (!b || b->q == next)
        return;
    st->open = NULL;
    if (b->timer)
        loop_del_timer(ss_loop(s), b->timer);
    b->timer = 0;
    sstore_req_t *q = b->q;
    b->q = NULL;
    int rc = ss_issue(q); /* on 0, batch_finish runs later and frees b */
    if (rc < 0) {
        b->rc = rc;
        b->next = st->failing;
        st->failing = b;
        if (!st->failing_timer && !(st->failing_timer = loop_add_timer(ss_loop(s), 0, on_failing, st)))
            on_failing(ss_loop(s), st); /* no timer (OOM): now, as a last resort */
    }
}

static uint64_t on_turn_end(loop_t *l, void *arg)
{
    (void)l;
    sstore_t *s = arg;
    struct ss_pipe_batch *st = *ss_pipe_slot(s);
    if (st && st->open)
        st->open->timer = 0; /* this timer ends here */
    ss_pipe_flush(s, NULL);
    return 0;
}

void ss_pipe_fini(sstore_t *s)
{
    struct ss_pipe_batch **slot = ss_pipe_slot(s), *st = *slot;
    if (!st)
        return;
    /* every failure is delivered now, and no timer holding st may stay
     * registered (it would run on the struct freed below); a callback run
     * here may append or fail again: until nothing is left */
    while (st->open || st->failing || st->failing_timer) {
        if (st->open) {
            batch_t *b = st->open;
            if (b->timer)
                loop_del_timer(ss_loop(s), b->timer);
            b->rc = ROOST_EUNAVAILABLE;
            b->next = st->failing;
            st->failing = b;
            ss_req_discard(b->q);
            st->open = NULL;
        }
        if (st->failing_timer)
            loop_del_timer(ss_loop(s), st->failing_timer);
        on_failing(ss_loop(s), st);
    }
    free(st);
    *slot = NULL;
}

/* The open batch, made if needed. NULL on OOM. */
static batch_t *open_batch(sstore_t *s)
{
    struct ss_pipe_batch **slot = ss_pipe_slot(s);
    if (!*slot && (*slot = calloc(1, sizeof(**slot))))
        (*slot)->s = s;
    struct ss_pipe_batch *st = *slot;
    if (!st)
        return NULL;
    if (st->open)
        return st->open;
    batch_t *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    if (!(b->q = ss_req_new(s, SS_PIPE_APPEND, 0, batch_finish, b)) ||
        !(b->timer = loop_add_timer(ss_loop(s), 0, on_turn_end, s))) {
        if (b->q)
            ss_req_discard(b->q);
        free(b);
        return NULL;
    }
    ss_arg_str(b->q, ss_prefix(s));
    st->open = b;
    return b;
}

/* Whether the open group of b goes to exactly these n pipelines. */
static bool same_group(const batch_t *b, const char *const *pipelines, size_t n)
{
    const sstore_req_t *q = b->q;
    if (!b->grp)
        return false;
    const char *cnt = q->buf + q->off[b->grp];
    char t[20];
    size_t tl = resp_u64(n, t);
    if (q->len[b->grp] != tl || memcmp(cnt, t, tl))
        return false;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(pipelines[i]);
        int a = b->grp + 1 + (int)i;
        if (q->len[a] != l || memcmp(q->buf + q->off[a], pipelines[i], l))
            return false;
    }
    return true;
}

int sstore_pipe_append(sstore_t *s, const char *const *pipelines, size_t n, const sstore_pipe_msg_t *m,
                       sstore_push_fn fn, void *arg)
{
    pipentry_t e = {
        .topic = m->topic, .topic_len = m->topic_len, .payload = m->payload, .payload_len = m->payload_len,
        .qos = m->qos, .retain = m->retain, .client_id = m->client_id, .client_id_len = m->client_id_len,
        .username = m->username ? m->username : "", .username_len = m->username ? strlen(m->username) : 0,
        .broker = m->broker, .broker_len = strlen(m->broker), .received_ms = proc_wall_ms(),
    };
    size_t size = pipentry_size(&e);
    if (n == 0 || n > 10000 || size == 0)
        return ROOST_EINVAL;
    if (!sstore_connected(s))
        return ROOST_EUNAVAILABLE;
    batch_t *b = open_batch(s);
    if (!b || b->q->oom)
        return -ENOMEM; /* (an OOM batch fails as a whole when sent) */
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 32;
        cb_t *cbs = realloc(b->cbs, cap * sizeof(*cbs));
        if (!cbs)
            return -ENOMEM;
        b->cbs = cbs;
        b->cap = cap;
    }
    sstore_req_t *q = b->q;
    if (!same_group(b, pipelines, n)) {
        b->grp = q->argc;
        b->grp_k = 0;
        ss_arg_u64(q, n);
        for (size_t i = 0; i < n; i++)
            ss_arg_str(q, pipelines[i]);
        if (!ss_arg_space(q, PIPEBUNDLE_HEAD))
            return -ENOMEM; /* q remembers it: the whole batch fails when sent */
    }
    /* the group's bundle is the last argument: it grows by one member and
     * its count is patched in place */
    uint8_t *at = ss_cat_space(q, PIPEBUNDLE_MEMBER_HEAD + size);
    if (!at)
        return -ENOMEM;
    pipebundle_member_head(at, size);
    pipentry_encode(&e, at + PIPEBUNDLE_MEMBER_HEAD);
    pipebundle_head((uint8_t *)q->buf + q->off[b->grp + 1 + (int)n], ++b->grp_k);
    b->cbs[b->n++] = (cb_t){fn, arg};
    if (b->n >= BATCH_MAX)
        ss_pipe_flush(s, NULL);
    return 0;
}

/* ARGV: prefix known_version. {version, topic, pipeline, topic, pipeline,
 * ...}, or {version, 'same'} when version equals known_version. */
const char SSTORE_LUA_ROUTES[] =
    "local p=ARGV[1] local out={redis.call('GET',p..'routes:version') or '0'}\n"
    "if out[1]==ARGV[2] then return {out[1],'same'} end\n"
    "for _,m in ipairs(redis.call('ZRANGE',p..'mappings',0,-1)) do\n"
    "  local v=redis.call('HMGET',p..'mapping:'..string.sub(m,15),'topic','pipeline')\n"
    "  if v[1] and v[2] then out[#out+1]=v[1] out[#out+1]=v[2] end\n"
    "end\n"
    "return out\n";

typedef struct routes_ctx {
    sstore_routes_fn fn;
    void *arg;
} routes_ctx_t;

static void routes_finish(sstore_req_t *q, int rc, const redisReply *r)
{
    routes_ctx_t *ctx = q->arg;
    uint64_t version = 0;
    sstore_route_t *routes = NULL;
    size_t n = 0;
    if (rc == 0 && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && ss_r_u64(r->element[0], &version) == 0 &&
        ss_r_is_str(r->element[1]) && !strcmp(r->element[1]->str, "same")) {
        ctx->fn(SSTORE_ROUTES_SAME, NULL, 0, version, ctx->arg);
        free(ctx);
        return;
    }
    if (rc == 0 && (r->type != REDIS_REPLY_ARRAY || r->elements < 1 || r->elements % 2 != 1 ||
                    ss_r_u64(r->element[0], &version) < 0))
        rc = ROOST_ESTORE;
    if (rc == 0 && r->elements > 1 && !(routes = calloc(r->elements / 2, sizeof(*routes))))
        rc = -ENOMEM;
    for (size_t i = 1; rc == 0 && i + 1 < r->elements; i += 2) {
        if (!ss_r_is_str(r->element[i]) || !ss_r_is_str(r->element[i + 1])) {
            rc = ROOST_ESTORE;
            break;
        }
        routes[n++] = (sstore_route_t){r->element[i]->str, r->element[i]->len, r->element[i + 1]->str};
    }
    ctx->fn(rc, rc == 0 ? routes : NULL, rc == 0 ? n : 0, version, ctx->arg);
    free(routes);
    free(ctx);
}

int sstore_routes_load(sstore_t *s, uint64_t known_version, sstore_routes_fn fn, void *arg)
{
    routes_ctx_t *ctx = malloc(sizeof(*ctx));
    if (!ctx)
        return -ENOMEM;
    *ctx = (routes_ctx_t){fn, arg};
    int rc = ss_issue_since(s, SS_ROUTES, known_version, routes_finish, ctx);
    if (rc < 0)
        free(ctx);
    return rc;
}

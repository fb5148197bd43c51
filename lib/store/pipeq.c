/* pipeq: pipeline queues for roost-forwarder (pipeq.h). */
#include "store/pipeq.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "store/pipebundle.h"
#include "store/pipentry.h"
#include "store/resp.h"
#include "store/store_priv.h"

/* ARGV: p id now m, then m entry ids (ascending), their m message counts
 * and the m counts of their messages delivered. Nothing is counted for a
 * deleted pipeline. The acknowledged entries are removed from the stream
 * mostly by trimming: every entry below the group's first pending one was
 * read and is no longer pending, i.e. acknowledged, and an acknowledged
 * entry is always removed in the same script (here, or by the broker's
 * max_age trim, which acknowledges what it removes); so XTRIM MINID drops
 * exactly these entries, whole listpack nodes at a time; only the entries
 * at or past that point (a pending one before them: out of order, or an
 * entry being retried) are deleted one by one. XDEL per entry was half of
 * Redis's time in a batched drain (bench/RESULTS.md). Entries are added
 * with '*' ids only (increasing), which makes "below the first pending"
 * mean "delivered". The queue's message count ("queued") and "forwarded"
 * change by the counts of the entries removed: all of them when XACK took
 * all (pending entries always exist: see above); else some were
 * acknowledged already (another forwarder after a takeover, or the
 * max_age trim) and each is deleted alone, counted only if it was still
 * there. The ids go to XACK, XDEL and HDEL 1000 at a time: Redis's Lua
 * unpacks at most ~8000 values into one call ("too many results to
 * unpack"), and a forwarder holds every acknowledgement while Redis is away
 * (up to its whole window, batch_size x inflight x 2). */
const char STORE_LUA_PQ_ACK[] =
    "local p=ARGV[1] local q=p..'pq:'..ARGV[2] local g='" PIPEQ_GROUP "'\n"
    "local m=tonumber(ARGV[4]) local last=4+m\n"
    "local function each(c,k,x,t,a,z)\n"
    "  local n=0\n"
    "  for s=a,z,1000 do\n"
    "    local e=math.min(s+999,z)\n"
    "    if x then n=n+redis.call(c,k,x,unpack(t,s,e)) else n=n+redis.call(c,k,unpack(t,s,e)) end\n"
    "  end\n"
    "  return n\n"
    "end\n"
    "local sub,fwd=0,0\n"
    "if each('XACK',q,g,ARGV,5,last)==m then\n"
    "  for i=1,m do sub=sub+tonumber(ARGV[last+i]) fwd=fwd+tonumber(ARGV[last+m+i]) end\n"
    "  local pend=redis.call('XPENDING',q,g)\n"
    "  if pend[1]==0 then\n"
    "    redis.call('XTRIM',q,'MINID',ARGV[last]) redis.call('XDEL',q,ARGV[last])\n"
    "  else\n"
    "    local cut=pend[2] redis.call('XTRIM',q,'MINID',cut)\n"
    "    local cm,cs=string.match(cut,'^(%d+)-(%d+)$') cm=tonumber(cm) cs=tonumber(cs)\n"
    "    local first=last+1\n"
    "    while first>5 do\n"
    "      local t,sq=string.match(ARGV[first-1],'^(%d+)-(%d+)$')\n"
    "      if not t then break end\n"
    "      t=tonumber(t) sq=tonumber(sq)\n"
    "      if t<cm or (t==cm and sq<cs) then break end\n"
    "      first=first-1\n"
    "    end\n"
    "    if first<=last then each('XDEL',q,nil,ARGV,first,last) end\n"
    "  end\n"
    "else\n"
    "  for i=1,m do\n"
    "    if redis.call('XDEL',q,ARGV[4+i])==1 then\n"
    "      sub=sub+tonumber(ARGV[last+i]) fwd=fwd+tonumber(ARGV[last+m+i])\n"
    "    end\n"
    "  end\n"
    "end\n"
    "if redis.call('EXISTS',q..':att')==1 then\n"
    "  local ids={}\n"
    "  for i=1,m do\n"
    "    local e=ARGV[4+i] ids[#ids+1]=e\n"
    "    for x=0,math.min(tonumber(ARGV[last+i]),1024)-1 do ids[#ids+1]=e..':'..x end\n"
    "  end\n"
    "  each('HDEL',q..':att',nil,ids,1,#ids)\n"
    "end\n"
    "if redis.call('EXISTS',p..'pipeline:'..ARGV[2])==1 then\n"
    "  redis.call('HINCRBY',q..':stats','forwarded',fwd)\n"
    "  redis.call('HSET',q..':stats','last_ok_at',ARGV[3])\n"
    "  if sub>0 and redis.call('HEXISTS',q..':stats','queued')==1 then\n"
    "    redis.call('HINCRBY',q..':stats','queued',-sub)\n"
    "  end\n"
    "end\n"
    "return {'OK',fwd}\n";

/* ARGV: p id now reason attempts mid...  Writes each message whose entry
 * is still in the queue to the dead-letter stream: a bundle's member
 * ("<eid>:<index>") as an "m" entry holding its bytes (cut from the
 * bundle as pipebundle.h frames it; none when the framing is not there:
 * the forwarder dead-letters such a bundle whole), any other message as
 * its entry's fields as they were; eid, reason and attempts added. The
 * entries stay pending (pipeq_ack removes them). Each entry is read and
 * split once per call (a bundle's members are often refused together). */
const char STORE_LUA_PQ_DEAD[] =
    "local p=ARGV[1] local q=p..'pq:'..ARGV[2]\n"
    "if redis.call('EXISTS',p..'pipeline:'..ARGV[2])==0 then return {'OK',0} end\n"
    "local function members(f)\n"
    "  local v=f[2] local pos=4 local out={}\n"
    "  if #f~=2 or f[1]~='" PIPEBUNDLE_FIELD "' or type(v)~='string' then return out end\n"
    "  while pos+3<=#v do\n"
    "    local a,b,c,d=string.byte(v,pos,pos+3) local l=((a*256+b)*256+c)*256+d\n"
    "    out[#out+1]=string.sub(v,pos+4,pos+3+l) pos=pos+4+l\n"
    "  end\n"
    "  return out\n"
    "end\n"
    "local n=0 local seen={} local split={}\n"
    "for i=6,#ARGV do\n"
    "  local eid,x=string.match(ARGV[i],'^([^:]+):(%d+)$')\n"
    "  if not eid then eid=ARGV[i] end\n"
    "  if seen[eid]==nil then seen[eid]=redis.call('XRANGE',q,eid,eid) end\n"
    "  local e=seen[eid]\n"
    "  if #e==1 then\n"
    "    local f=e[1][2]\n"
    "    if x then\n"
    "      if split[eid]==nil then split[eid]=members(f) end\n"
    "      f={'" PIPENTRY_FIELD "',split[eid][tonumber(x)+1] or ''}\n"
    "    else f={unpack(f)} end\n"
    "    f[#f+1]='eid' f[#f+1]=ARGV[i] f[#f+1]='reason' f[#f+1]=ARGV[4]\n"
    "    f[#f+1]='attempts' f[#f+1]=ARGV[5]\n"
    "    redis.call('XADD',q..':dead','*',unpack(f))\n"
    "    n=n+1\n"
    "  end\n"
    "  redis.call('HDEL',q..':att',ARGV[i])\n"
    "end\n"
    "redis.call('HINCRBY',q..':stats','dead',n)\n"
    "redis.call('HSET',q..':stats','last_error',ARGV[4],'last_error_at',ARGV[3])\n"
    "return {'OK',n}\n";

static void qkey(store_t *s, const char *id, char *out, size_t cap)
{
    snprintf(out, cap, "%spq:%s", store_prefix(s), id);
}

int pipeq_ensure(store_t *s, const char *pipeline_id)
{
    store_err_reset(s);
    char q[STORE_PREFIX_MAX + 48];
    qkey(s, pipeline_id, q, sizeof(q));
    const char *argv[] = {"XGROUP", "CREATE", q, PIPEQ_GROUP, "0", "MKSTREAM"};
    redisReply *r = NULL;
    int rc = store_cmd(s, 6, argv, NULL, &r);
    if (rc == ROOST_ESTORE && store_last_error(s)->reason &&
        !strncmp(store_last_error(s)->reason, "BUSYGROUP", 9))
        return 0;
    freeReplyObject(r);
    return rc;
}

static const char *fstr(const redisReply *v)
{
    return v && v->type == REDIS_REPLY_STRING ? v->str : NULL;
}

/* The fields of an entry in the layout written before pipentry.h: any
 * order, unknown ones ignored; a missing topic or a QoS other than 0-2
 * leaves m->topic NULL (malformed). */
static void old_fields(const redisReply *f, pipentry_t *m)
{
    int qos = 0;
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        const char *k = fstr(f->element[i]);
        const redisReply *v = f->element[i + 1];
        if (!k || v->type != REDIS_REPLY_STRING)
            continue;
        if (!strcmp(k, "t")) {
            m->topic = v->str;
            m->topic_len = v->len;
        } else if (!strcmp(k, "p")) {
            m->payload = (const uint8_t *)v->str;
            m->payload_len = v->len;
        } else if (!strcmp(k, "q"))
            qos = atoi(v->str);
        else if (!strcmp(k, "r"))
            m->retain = v->str[0] == '1';
        else if (!strcmp(k, "c")) {
            m->client_id = v->str;
            m->client_id_len = v->len;
        } else if (!strcmp(k, "u")) {
            m->username = v->str;
            m->username_len = v->len;
        } else if (!strcmp(k, "b")) {
            m->broker = v->str;
            m->broker_len = v->len;
        } else if (!strcmp(k, "ts"))
            m->received_ms = (uint64_t)strtoll(v->str, NULL, 10);
    }
    if (qos < 0 || qos > 2)
        m->topic = NULL;
    m->qos = (uint8_t)qos;
}

/* The messages read, before they are handed over (claims first look up
 * their attempts). Views into the reply. */
typedef struct msgs {
    pipeq_msg_t *v;
    size_t n, cap;
} msgs_t;

/* (the ids and numbers below are written without printf: per message, it
 * was a sixth of the forwarder's instructions in a batched drain) */
static pipeq_msg_t *msgs_add(msgs_t *ms, const char *eid, size_t count, size_t parts)
{
    if (ms->n == ms->cap) {
        size_t cap = ms->cap ? ms->cap * 2 : 64;
        pipeq_msg_t *v = realloc(ms->v, cap * sizeof(*v));
        if (!v)
            return NULL;
        ms->v = v;
        ms->cap = cap;
    }
    pipeq_msg_t *m = &ms->v[ms->n++];
    *m = (pipeq_msg_t){.eid = eid, .count = count, .parts = parts,
                       .msg = {.client_id = "", .username = "", .broker = ""}};
    memcpy(m->mid, eid, strlen(eid) + 1); /* (shorter than PIPEQ_EID_MAX: one_entry) */
    return m;
}

static void no_null_payload(pipeq_msg_t *m)
{
    if (!m->msg.payload)
        m->msg.payload = (const uint8_t *)"";
}

/* The members of a bundle of n bytes at v, one message each ("<eid>:<i>";
 * topic NULL when one does not decode), or one malformed message with the
 * entry's id when the bundle does not. 0 or -ENOMEM. */
static int bundle(msgs_t *ms, const char *eid, const uint8_t *v, size_t n)
{
    size_t count = pipebundle_count(v, n);
    pipebundle_member_t *mem = malloc((count ? count : 1) * sizeof(*mem));
    if (!mem)
        return -ENOMEM;
    int k = pipebundle_decode(v, n, mem, count);
    int rc = 0;
    if (k < 0) {
        pipeq_msg_t *m = msgs_add(ms, eid, count, 1);
        if (m)
            no_null_payload(m);
        rc = m ? 0 : -ENOMEM;
    }
    for (int i = 0; i < k && rc == 0; i++) {
        pipeq_msg_t *m = msgs_add(ms, eid, count, (size_t)k);
        if (!m) {
            rc = -ENOMEM;
            break;
        }
        size_t el = strlen(eid);
        m->mid[el] = ':';
        m->mid[el + 1 + resp_u64((uint64_t)i, m->mid + el + 1)] = '\0';
        if (pipentry_decode(mem[i].b, mem[i].len, &m->msg) < 0)
            m->msg.topic = NULL;
        no_null_payload(m);
    }
    free(mem);
    return rc;
}

/* The messages of one [eid, [f, v, ...]] entry. A deleted entry (nil
 * fields, as XAUTOCLAIM may report) is skipped. 0 or -ENOMEM. */
static int one_entry(const redisReply *e, msgs_t *ms)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || !fstr(e->element[0]) ||
        strlen(e->element[0]->str) >= PIPEQ_EID_MAX)
        return 0;
    const char *eid = e->element[0]->str;
    const redisReply *f = e->element[1];
    if (f->type != REDIS_REPLY_ARRAY)
        return 0;
    const char *k0 = f->elements == 2 ? fstr(f->element[0]) : NULL;
    const redisReply *v = f->elements == 2 ? f->element[1] : NULL;
    if (k0 && !strcmp(k0, PIPEBUNDLE_FIELD) && v->type == REDIS_REPLY_STRING)
        return bundle(ms, eid, (const uint8_t *)v->str, v->len);
    pipeq_msg_t *m = msgs_add(ms, eid, 1, 1);
    if (!m)
        return -ENOMEM;
    if (!k0 || (strcmp(k0, PIPENTRY_FIELD) && strcmp(k0, PIPEBUNDLE_FIELD)))
        old_fields(f, &m->msg);
    else if (v->type != REDIS_REPLY_STRING || strcmp(k0, PIPENTRY_FIELD) ||
             pipentry_decode((const uint8_t *)v->str, v->len, &m->msg) < 0)
        m->msg.topic = NULL; /* the packed field does not decode */
    no_null_payload(m);
    return 0;
}

/* The messages of a list of entries. 0 or -ENOMEM (ms keeps what was
 * read: handed over all the same, the rest stays pending). */
static int entries(const redisReply *list, msgs_t *ms)
{
    if (!list || list->type != REDIS_REPLY_ARRAY)
        return 0;
    for (size_t i = 0; i < list->elements; i++) {
        size_t before = ms->n;
        if (one_entry(list->element[i], ms) < 0) {
            ms->n = before; /* no entry handed over in part */
            return -ENOMEM;
        }
    }
    return 0;
}

/* Hands every message of ms to fn; frees ms. Returns how many. */
static int hand_over(msgs_t *ms, pipeq_msg_fn fn, void *arg)
{
    for (size_t i = 0; i < ms->n; i++)
        fn(&ms->v[i], arg);
    free(ms->v);
    return (int)ms->n;
}

int pipeq_read(store_t *s, const char *pipeline_id, const char *consumer, size_t count,
               pipeq_msg_fn fn, void *arg)
{
    store_err_reset(s);
    char q[STORE_PREFIX_MAX + 48], cnt[24];
    qkey(s, pipeline_id, q, sizeof(q));
    snprintf(cnt, sizeof(cnt), "%zu", count);
    const char *argv[] = {"XREADGROUP", "GROUP", PIPEQ_GROUP, consumer, "COUNT", cnt, "STREAMS", q, ">"};
    redisReply *r = NULL;
    int rc = store_cmd(s, 9, argv, NULL, &r);
    if (rc < 0)
        return rc;
    /* nil: nothing new; else [[key, [entry...]]] */
    msgs_t ms = {0};
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->type == REDIS_REPLY_ARRAY &&
        r->element[0]->elements == 2)
        entries(r->element[0]->element[1], &ms);
    rc = hand_over(&ms, fn, arg);
    freeReplyObject(r);
    return rc;
}

/* Sets the attempts recorded for the messages of ms (pipeq_note_attempts);
 * on a failed read they start again at 0. */
static void attempts_of(store_t *s, const char *q, msgs_t *ms)
{
    if (!ms->n)
        return;
    char att[STORE_PREFIX_MAX + 56];
    snprintf(att, sizeof(att), "%s:att", q);
    const char **argv = calloc(ms->n + 2, sizeof(*argv));
    if (!argv)
        return;
    argv[0] = "HMGET";
    argv[1] = att;
    for (size_t i = 0; i < ms->n; i++)
        argv[2 + i] = ms->v[i].mid;
    redisReply *r = NULL;
    if (store_cmd(s, (int)ms->n + 2, argv, NULL, &r) == 0 && r->type == REDIS_REPLY_ARRAY && r->elements == ms->n)
        for (size_t i = 0; i < ms->n; i++)
            if (fstr(r->element[i]))
                ms->v[i].attempts = atoi(r->element[i]->str);
    freeReplyObject(r);
    free(argv);
}

int pipeq_claim(store_t *s, const char *pipeline_id, const char *consumer, int64_t min_idle_ms,
                size_t count, pipeq_msg_fn fn, void *arg)
{
    store_err_reset(s);
    char q[STORE_PREFIX_MAX + 48], cnt[24], idle[24];
    qkey(s, pipeline_id, q, sizeof(q));
    snprintf(cnt, sizeof(cnt), "%zu", count);
    snprintf(idle, sizeof(idle), "%lld", (long long)min_idle_ms);
    const char *argv[] = {"XAUTOCLAIM", q, PIPEQ_GROUP, consumer, idle, "0-0", "COUNT", cnt};
    redisReply *r = NULL;
    int rc = store_cmd(s, 8, argv, NULL, &r);
    if (rc < 0)
        return rc;
    /* [next cursor, [entry...], [deleted ids...]] */
    msgs_t ms = {0};
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2) {
        entries(r->element[1], &ms);
        attempts_of(s, q, &ms);
    }
    rc = hand_over(&ms, fn, arg);
    freeReplyObject(r);
    return rc;
}

/* Runs script sc with (id, now, extra..., eids...). */
static int run_ids(store_t *s, enum store_script sc, const char *id, const char *const *extra,
                   size_t n_extra, const char *const *eids, size_t n)
{
    store_err_reset(s);
    if (n == 0)
        return 0;
    const char **argv = calloc(2 + n_extra + n, sizeof(*argv));
    if (!argv)
        return -ENOMEM;
    char now[24];
    snprintf(now, sizeof(now), "%lld", (long long)store_now_ms());
    argv[0] = id;
    argv[1] = now;
    if (n_extra)
        memcpy(argv + 2, extra, n_extra * sizeof(*argv));
    memcpy(argv + 2 + n_extra, eids, n * sizeof(*argv));
    redisReply *r = NULL;
    store_sr_t sr;
    int rc = store_eval(s, sc, (int)(2 + n_extra + n), argv, NULL, &r, &sr);
    free(argv);
    if (rc < 0)
        return rc;
    if (sr != SR_OK)
        rc = store_fail(s, ROOST_ESTORE, NULL, "unexpected script reply");
    freeReplyObject(r);
    return rc;
}

/* Redis writes entry ids without leading zeros: a longer number is the
 * greater, equal lengths compare as text (strtoull per comparison was a
 * seventh of the forwarder's instructions). */
static int num_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    if (al != bl)
        return al < bl ? -1 : 1;
    int c = memcmp(a, b, al);
    return c < 0 ? -1 : c > 0;
}

int pipeq_eid_cmp(const char *a, const char *b)
{
    const char *ad = strchr(a, '-'), *bd = strchr(b, '-');
    size_t am = ad ? (size_t)(ad - a) : strlen(a), bm = bd ? (size_t)(bd - b) : strlen(b);
    int c = num_cmp(a, am, b, bm);
    if (c)
        return c;
    const char *as = ad ? ad + 1 : "0", *bs = bd ? bd + 1 : "0";
    return num_cmp(as, strlen(as), bs, strlen(bs));
}

static int done_qsort(const void *a, const void *b)
{
    return pipeq_eid_cmp(((const pipeq_done_t *)a)->eid, ((const pipeq_done_t *)b)->eid);
}

int pipeq_ack(store_t *s, const char *pipeline_id, const pipeq_done_t *done, size_t n)
{
    store_err_reset(s);
    if (n == 0)
        return 0;
    /* ascending: the script deletes one by one only a suffix past the
     * first pending entry (out of order they would be deleted later, by a
     * trim, and counted in the queue's length until then) */
    pipeq_done_t *sorted = NULL;
    size_t i = 1;
    while (i < n && pipeq_eid_cmp(done[i - 1].eid, done[i].eid) < 0)
        i++;
    if (i < n) {
        if (!(sorted = malloc(n * sizeof(*sorted))))
            return -ENOMEM;
        memcpy(sorted, done, n * sizeof(*sorted));
        qsort(sorted, n, sizeof(*sorted), done_qsort);
        done = sorted;
    }
    const char **args = calloc(1 + 3 * n, sizeof(*args));
    char (*nums)[24] = calloc(2 * n + 1, sizeof(*nums));
    int rc = args && nums ? 0 : -ENOMEM;
    if (rc == 0) {
        nums[2 * n][resp_u64(n, nums[2 * n])] = '\0';
        args[0] = nums[2 * n];
        for (size_t k = 0; k < n; k++) {
            nums[k][resp_u64(done[k].count, nums[k])] = '\0';
            nums[n + k][resp_u64(done[k].delivered, nums[n + k])] = '\0';
            args[1 + k] = done[k].eid;
            args[1 + n + k] = nums[k];
            args[1 + 2 * n + k] = nums[n + k];
        }
        rc = run_ids(s, SC_PQ_ACK, pipeline_id, NULL, 0, args, 1 + 3 * n);
    }
    free(args);
    free(nums);
    free(sorted);
    return rc;
}

int pipeq_dead(store_t *s, const char *pipeline_id, const char *const *mids, size_t n,
               const char *reason, int attempts)
{
    char att[16];
    snprintf(att, sizeof(att), "%d", attempts);
    const char *extra[] = {reason, att};
    return run_ids(s, SC_PQ_DEAD, pipeline_id, extra, 2, mids, n);
}

int pipeq_note_error(store_t *s, const char *pipeline_id, const char *reason)
{
    store_err_reset(s);
    char q[STORE_PREFIX_MAX + 64], now[24];
    snprintf(q, sizeof(q), "%spq:%s:stats", store_prefix(s), pipeline_id);
    snprintf(now, sizeof(now), "%lld", (long long)store_now_ms());
    const char *argv[] = {"HSET", q, "last_error", reason, "last_error_at", now};
    redisReply *r = NULL;
    int rc = store_cmd(s, 6, argv, NULL, &r);
    freeReplyObject(r);
    return rc;
}

int pipeq_length(store_t *s, const char *q, int64_t *messages, int64_t *entries)
{
    char stats[STORE_PREFIX_MAX + 56];
    snprintf(stats, sizeof(stats), "%s:stats", q);
    const char *xlen[] = {"XLEN", q}, *hget[] = {"HGET", stats, "queued"};
    redisReply *r = NULL;
    int rc = store_cmd(s, 2, xlen, NULL, &r);
    if (rc < 0)
        return rc;
    store_ri64(r, entries);
    freeReplyObject(r);
    *messages = *entries;
    if ((rc = store_cmd(s, 3, hget, NULL, &r)) < 0)
        return rc;
    if (fstr(r)) /* else an older queue no broker appended to since: one message an entry */
        *messages = strtoll(r->str, NULL, 10);
    freeReplyObject(r);
    return 0;
}

int pipeq_depth(store_t *s, const char *pipeline_id, int64_t *len, int64_t *oldest_age_ms)
{
    store_err_reset(s);
    char q[STORE_PREFIX_MAX + 48];
    qkey(s, pipeline_id, q, sizeof(q));
    *len = 0;
    *oldest_age_ms = 0;
    int64_t entries = 0;
    int rc = pipeq_length(s, q, len, &entries);
    if (rc < 0 || entries == 0)
        return rc;
    redisReply *r = NULL;
    const char *first[] = {"XRANGE", q, "-", "+", "COUNT", "1"};
    if ((rc = store_cmd(s, 6, first, NULL, &r)) < 0)
        return rc;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->type == REDIS_REPLY_ARRAY &&
        r->element[0]->elements >= 1 && fstr(r->element[0]->element[0])) {
        int64_t t = strtoll(r->element[0]->element[0]->str, NULL, 10);
        int64_t age = store_now_ms() - t;
        *oldest_age_ms = age > 0 ? age : 0;
    }
    freeReplyObject(r);
    return 0;
}

int pipeq_touch(store_t *s, const char *pipeline_id, const char *consumer, const char *const *eids,
                size_t n)
{
    store_err_reset(s);
    if (n == 0)
        return 0;
    char q[STORE_PREFIX_MAX + 48];
    qkey(s, pipeline_id, q, sizeof(q));
    const char **argv = calloc(n + 6, sizeof(*argv));
    if (!argv)
        return -ENOMEM;
    argv[0] = "XCLAIM";
    argv[1] = q;
    argv[2] = PIPEQ_GROUP;
    argv[3] = consumer;
    argv[4] = "0";
    memcpy(argv + 5, eids, n * sizeof(*argv));
    argv[5 + n] = "JUSTID";
    redisReply *r = NULL;
    int rc = store_cmd(s, (int)(n + 6), argv, NULL, &r);
    free(argv);
    freeReplyObject(r);
    return rc;
}

int pipeq_note_attempts(store_t *s, const char *pipeline_id, const char *const *mids, const int *attempts,
                        size_t n)
{
    store_err_reset(s);
    if (n == 0)
        return 0;
    char att[STORE_PREFIX_MAX + 56];
    snprintf(att, sizeof(att), "%spq:%s:att", store_prefix(s), pipeline_id);
    const char **argv = calloc(2 + 2 * n, sizeof(*argv));
    char (*nums)[12] = calloc(n, sizeof(*nums));
    int rc = argv && nums ? 0 : -ENOMEM;
    if (rc == 0) {
        argv[0] = "HSET";
        argv[1] = att;
        for (size_t i = 0; i < n; i++) {
            snprintf(nums[i], sizeof(nums[i]), "%d", attempts[i]);
            argv[2 + 2 * i] = mids[i];
            argv[3 + 2 * i] = nums[i];
        }
        redisReply *r = NULL;
        rc = store_cmd(s, (int)(2 + 2 * n), argv, NULL, &r);
        freeReplyObject(r);
    }
    free(argv);
    free(nums);
    return rc;
}

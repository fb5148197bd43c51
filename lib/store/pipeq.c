/* pipeq: pipeline queues for roost-forwarder (pipeq.h). */
#include "store/pipeq.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "store/pipentry.h"
#include "store/store_priv.h"

/* ARGV: p id now eid... (ascending). Nothing is counted for a deleted
 * pipeline. The acknowledged entries are removed from the stream mostly by
 * trimming: every entry below the group's first pending one was delivered
 * and is no longer pending (acknowledged or dead-lettered), so XTRIM MINID
 * drops it, whole listpack nodes at a time; only the acknowledged entries
 * at or past that point (a pending one before them: out of order, or an
 * entry being retried) are deleted one by one. XDEL per entry was half of
 * Redis's time in a batched drain (bench/RESULTS.md). Entries are added
 * with '*' ids only (increasing), which makes "below the first pending"
 * mean "delivered". The ids go to XACK, XDEL and HDEL 1000 at a time:
 * Redis's Lua unpacks at most ~8000 values into one call ("too many results
 * to unpack"), and a forwarder holds every acknowledgement while Redis is
 * away (up to its whole window, batch_size x inflight x 2). */
const char STORE_LUA_PQ_ACK[] =
    "local p=ARGV[1] local q=p..'pq:'..ARGV[2] local g='" PIPEQ_GROUP "'\n"
    "local function each(c,k,x,a)\n"
    "  local n=0\n"
    "  for s=a,#ARGV,1000 do\n"
    "    local e=math.min(s+999,#ARGV)\n"
    "    if x then n=n+redis.call(c,k,x,unpack(ARGV,s,e)) else n=n+redis.call(c,k,unpack(ARGV,s,e)) end\n"
    "  end\n"
    "  return n\n"
    "end\n"
    "local n=each('XACK',q,g,4)\n"
    "local pend=redis.call('XPENDING',q,g)\n"
    "if pend[1]==0 then\n"
    "  redis.call('XTRIM',q,'MINID',ARGV[#ARGV]) redis.call('XDEL',q,ARGV[#ARGV])\n"
    "else\n"
    "  local cut=pend[2] redis.call('XTRIM',q,'MINID',cut)\n"
    "  local cm,cs=string.match(cut,'^(%d+)-(%d+)$') cm=tonumber(cm) cs=tonumber(cs)\n"
    "  local first=#ARGV+1\n"
    "  while first>4 do\n"
    "    local m,sq=string.match(ARGV[first-1],'^(%d+)-(%d+)$')\n"
    "    if not m then break end\n"
    "    m=tonumber(m) sq=tonumber(sq)\n"
    "    if m<cm or (m==cm and sq<cs) then break end\n"
    "    first=first-1\n"
    "  end\n"
    "  if first<=#ARGV then each('XDEL',q,nil,first) end\n"
    "end\n"
    "if redis.call('EXISTS',q..':att')==1 then each('HDEL',q..':att',nil,4) end\n"
    "if redis.call('EXISTS',p..'pipeline:'..ARGV[2])==1 then\n"
    "  redis.call('HINCRBY',q..':stats','forwarded',n)\n"
    "  redis.call('HSET',q..':stats','last_ok_at',ARGV[3])\n"
    "end\n"
    "return {'OK',n}\n";

/* ARGV: p id now reason attempts eid...  Copies each entry still in the
 * queue to the dead-letter stream, then acknowledges and deletes it. */
const char STORE_LUA_PQ_DEAD[] =
    "local p=ARGV[1] local q=p..'pq:'..ARGV[2]\n"
    "if redis.call('EXISTS',p..'pipeline:'..ARGV[2])==0 then return {'OK',0} end\n"
    "local n=0\n"
    "for i=6,#ARGV do\n"
    "  local e=redis.call('XRANGE',q,ARGV[i],ARGV[i])\n"
    "  if #e==1 then\n"
    "    local f=e[1][2]\n"
    "    f[#f+1]='eid' f[#f+1]=ARGV[i] f[#f+1]='reason' f[#f+1]=ARGV[4]\n"
    "    f[#f+1]='attempts' f[#f+1]=ARGV[5]\n"
    "    redis.call('XADD',q..':dead','*',unpack(f))\n"
    "    n=n+1\n"
    "  end\n"
    "  redis.call('XACK',q,'" PIPEQ_GROUP "',ARGV[i]) redis.call('XDEL',q,ARGV[i])\n"
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

/* Hands one [eid, [f, v, ...]] entry to fn, with attempts already made
 * (att: an HMGET reply element, NULL or nil for none). A deleted entry (nil
 * fields, as XAUTOCLAIM may report) is skipped: returns 0; else 1. */
static int one_entry(const redisReply *e, const redisReply *att, pipeq_msg_fn fn, void *arg)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || !fstr(e->element[0]))
        return 0;
    const redisReply *f = e->element[1];
    if (f->type != REDIS_REPLY_ARRAY)
        return 0;
    pipeq_msg_t m = {.eid = e->element[0]->str, .msg = {.client_id = "", .username = "", .broker = ""}};
    const char *k0 = f->elements == 2 ? fstr(f->element[0]) : NULL;
    const redisReply *v = f->elements == 2 ? f->element[1] : NULL;
    if (!k0 || strcmp(k0, PIPENTRY_FIELD))
        old_fields(f, &m.msg);
    else if (v->type != REDIS_REPLY_STRING || pipentry_decode((const uint8_t *)v->str, v->len, &m.msg) < 0)
        m.msg.topic = NULL; /* the packed field does not decode */
    if (!m.msg.payload)
        m.msg.payload = (const uint8_t *)"";
    if (fstr(att))
        m.attempts = atoi(att->str);
    fn(&m, arg);
    return 1;
}

/* att: an HMGET reply of the list's ids in order, or NULL. */
static int entries(const redisReply *list, const redisReply *att, pipeq_msg_fn fn, void *arg)
{
    int n = 0;
    if (!list || list->type != REDIS_REPLY_ARRAY)
        return 0;
    bool with = att && att->type == REDIS_REPLY_ARRAY && att->elements == list->elements;
    for (size_t i = 0; i < list->elements; i++)
        n += one_entry(list->element[i], with ? att->element[i] : NULL, fn, arg);
    return n;
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
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->type == REDIS_REPLY_ARRAY &&
        r->element[0]->elements == 2)
        rc = entries(r->element[0]->element[1], NULL, fn, arg);
    freeReplyObject(r);
    return rc;
}

/* The attempts recorded for the entries of list (pipeq_note_attempts), as
 * an HMGET reply in list order (caller frees), or NULL when there are none
 * or the read failed (they start again at 0 then). */
static redisReply *attempts_of(store_t *s, const char *q, const redisReply *list)
{
    if (!list || list->type != REDIS_REPLY_ARRAY || !list->elements)
        return NULL;
    char att[STORE_PREFIX_MAX + 56];
    snprintf(att, sizeof(att), "%s:att", q);
    const char **argv = calloc(list->elements + 2, sizeof(*argv));
    if (!argv)
        return NULL;
    argv[0] = "HMGET";
    argv[1] = att;
    for (size_t i = 0; i < list->elements; i++) {
        const redisReply *e = list->element[i];
        argv[2 + i] = e->type == REDIS_REPLY_ARRAY && e->elements >= 1 && fstr(e->element[0]) ? e->element[0]->str : "";
    }
    redisReply *r = NULL;
    if (store_cmd(s, (int)list->elements + 2, argv, NULL, &r) < 0)
        r = NULL;
    free(argv);
    return r;
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
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2) {
        redisReply *att = attempts_of(s, q, r->element[1]);
        rc = entries(r->element[1], att, fn, arg);
        if (att)
            freeReplyObject(att);
    }
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

static int eid_qsort(const void *a, const void *b)
{
    return pipeq_eid_cmp(*(const char *const *)a, *(const char *const *)b);
}

int pipeq_ack(store_t *s, const char *pipeline_id, const char *const *eids, size_t n)
{
    /* ascending: the script deletes one by one only a suffix past the
     * first pending entry (out of order they would be deleted later, by a
     * trim, and counted in the queue's length until then) */
    size_t i = 1;
    while (i < n && pipeq_eid_cmp(eids[i - 1], eids[i]) < 0)
        i++;
    if (i >= n) /* the usual case: in order already */
        return run_ids(s, SC_PQ_ACK, pipeline_id, NULL, 0, eids, n);
    const char **sorted = malloc(n * sizeof(*sorted));
    if (!sorted)
        return -ENOMEM;
    memcpy(sorted, eids, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), eid_qsort);
    int rc = run_ids(s, SC_PQ_ACK, pipeline_id, NULL, 0, sorted, n);
    free(sorted);
    return rc;
}

int pipeq_dead(store_t *s, const char *pipeline_id, const char *const *eids, size_t n,
               const char *reason, int attempts)
{
    char att[16];
    snprintf(att, sizeof(att), "%d", attempts);
    const char *extra[] = {reason, att};
    return run_ids(s, SC_PQ_DEAD, pipeline_id, extra, 2, eids, n);
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

int pipeq_depth(store_t *s, const char *pipeline_id, int64_t *len, int64_t *oldest_age_ms)
{
    store_err_reset(s);
    char q[STORE_PREFIX_MAX + 48];
    qkey(s, pipeline_id, q, sizeof(q));
    *len = 0;
    *oldest_age_ms = 0;
    const char *xlen[] = {"XLEN", q};
    redisReply *r = NULL;
    int rc = store_cmd(s, 2, xlen, NULL, &r);
    if (rc < 0)
        return rc;
    store_ri64(r, len);
    freeReplyObject(r);
    if (*len == 0)
        return 0;
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

int pipeq_note_attempts(store_t *s, const char *pipeline_id, const char *const *eids, const int *attempts,
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
            argv[2 + 2 * i] = eids[i];
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

/* sstore_ops: the operations of sstore.h: their Lua scripts, how each builds
 * its command, and how each parses its reply into the views its callback
 * gets. Keys are built in C and passed as KEYS wherever the script knows
 * them in advance; the scripts that discover keys while running (a broker's
 * alive key) get the prefix as an argument.
 *
 * Every user-supplied byte string travels as its own argument with an
 * explicit length (client ids, filters, topics, payloads may hold any byte).
 */
#include "base/proc.h"
#include "store/sstore_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "store/sblob.h"


/* ---- scripts ------------------------------------------------------------- */

const char *const sstore_scripts[SS_COUNT] = {
    /* KEYS brokers, alive; ARGV id, "endpoint\tstarted", ttl_ms */
    [SS_HEARTBEAT] = "redis.call('HSET',KEYS[1],ARGV[1],ARGV[2])\n"
                     "redis.call('SET',KEYS[2],'1','PX',ARGV[3]) return 1",
    /* KEYS brokers, alive; ARGV id */
    [SS_LEAVE] = "redis.call('HDEL',KEYS[1],ARGV[1]) redis.call('DEL',KEYS[2]) return 1",
    /* KEYS brokers; ARGV prefix. Returns [id, value, ...] of live brokers
     * and forgets the others. */
    [SS_BROKER_LIST] =
        "local h=redis.call('HGETALL',KEYS[1]) local out={}\n"
        "for i=1,#h,2 do\n"
        "  if redis.call('EXISTS',ARGV[1]..'broker:'..h[i]..':alive')==1 then\n"
        "    out[#out+1]=h[i] out[#out+1]=h[i+1]\n"
        "  else redis.call('HDEL',KEYS[1],h[i]) end\n"
        "end\n"
        "return out",
    [SS_LEASE_TAKE] = SSTORE_LUA_LEASE_TAKE, [SS_LEASE_RELEASE] = SSTORE_LUA_LEASE_RELEASE,
    [SS_LEASE_SENT] = SSTORE_LUA_LEASE_SENT,
    /* KEYS sess subs q qm rx2 rel psubs psubs:ver; ARGV cid */
    [SS_SESS_CLEAR] =
        "local f=redis.call('HKEYS',KEYS[2])\n"
        "for _,x in ipairs(f) do redis.call('HDEL',KEYS[7],ARGV[1]..'\\0'..x) end\n"
        "if #f>0 then redis.call('INCR',KEYS[8]) end\n"
        "redis.call('DEL',KEYS[1],KEYS[2],KEYS[3],KEYS[4],KEYS[5],KEYS[6]) return #f",
    /* KEYS sess subs q qm rx2 rel. Returns [exists, subs (HGETALL), ids,
     * blobs (same order, nil if missing), rx2, rel]. */
    [SS_SESS_LOAD] =
        "local ids=redis.call('LRANGE',KEYS[3],0,-1) local b={}\n"
        "for i,id in ipairs(ids) do b[i]=redis.call('HGET',KEYS[4],id) end\n"
        "local sent={} local known=redis.call('EXISTS',KEYS[7])\n"
        "if known==1 then sent=redis.call('SMEMBERS',KEYS[7]) redis.call('DEL',KEYS[7]) end\n"
        "return {redis.call('EXISTS',KEYS[1]),redis.call('HGETALL',KEYS[2]),ids,b,\n"
        "  redis.call('SMEMBERS',KEYS[5]),redis.call('SMEMBERS',KEYS[6]),known,sent}",
    /* KEYS subs psubs psubs:ver; ARGV cid filter value (options and
     * subscription id) qos */
    [SS_SUB_PUT] =
        "local m=ARGV[1]..'\\0'..ARGV[2] redis.call('HSET',KEYS[1],ARGV[2],ARGV[3])\n"
        "if redis.call('HGET',KEYS[2],m)~=ARGV[4] then\n"
        "  redis.call('HSET',KEYS[2],m,ARGV[4]) redis.call('INCR',KEYS[3]) end\n"
        "return 1",
    /* KEYS subs psubs psubs:ver; ARGV cid filter */
    [SS_SUB_DEL] =
        "redis.call('HDEL',KEYS[1],ARGV[2])\n"
        "if redis.call('HDEL',KEYS[2],ARGV[1]..'\\0'..ARGV[2])==1 then\n"
        "  redis.call('INCR',KEYS[3]) end\n"
        "return 1",
    /* KEYS psubs psubs:ver. Returns [HGETALL, version or nil]. */
    [SS_PSUBS_LOAD] = "return {redis.call('HGETALL',KEYS[1]),redis.call('GET',KEYS[2])}",
    /* KEYS sess:<cid1> q:<cid1> qm:<cid1> sess:<cid2> ...; ARGV entry id,
     * max_queued (0: no limit), one qos byte per session, blob tail (the
     * blob without its first byte). Idempotent per entry id. A session
     * whose sess key is gone (cleared by a clean start, reaped at its
     * expiry, while the caller's index still named it) takes nothing:
     * queue keys written then would outlive it. A queue this creates for
     * an offline session (sess under sstore_session_expire's TTL) gets
     * the session's remaining TTL, so it goes with it. Returns how many
     * queues were full. */
    [SS_QUEUE_PUSH] =
        "local id=ARGV[1] local max=tonumber(ARGV[2]) local qs=ARGV[3] local tail=ARGV[4]\n"
        "local cache={} local dropped=0\n"
        "for i=1,#KEYS/3 do\n"
        "  local s=KEYS[3*i-2] local q=KEYS[3*i-1] local m=KEYS[3*i]\n"
        "  if redis.call('EXISTS',s)==0 then\n"
        "  elseif max>0 and redis.call('LLEN',q)>=max then dropped=dropped+1\n"
        "  else\n"
        "    local c=string.sub(qs,i,i) local blob=cache[c]\n"
        "    if not blob then blob=c..tail cache[c]=blob end\n"
        "    if redis.call('HSETNX',m,id,blob)==1 and redis.call('RPUSH',q,id)==1 then\n"
        "      local t=redis.call('PTTL',s)\n"
        "      if t>0 then redis.call('PEXPIRE',q,t) redis.call('PEXPIRE',m,t) end\n"
        "    end\n"
        "  end\n"
        "end\n"
        "return dropped",
    /* KEYS q qm; ARGV entry id */
    [SS_QUEUE_ACK] = "redis.call('LREM',KEYS[1],1,ARGV[1]) return redis.call('HDEL',KEYS[2],ARGV[1])",
    /* KEYS q qm rel; ARGV entry id, pid */
    [SS_REL_ADD] = "redis.call('LREM',KEYS[1],1,ARGV[1]) redis.call('HDEL',KEYS[2],ARGV[1])\n"
                   "return redis.call('SADD',KEYS[3],ARGV[2])",
    [SS_CONN_PUT] = SSTORE_LUA_CONN_PUT, [SS_CONN_REFRESH] = SSTORE_LUA_CONN_REFRESH,
    [SS_CONN_CLEAR] = SSTORE_LUA_CONN_CLEAR,
    [SS_PIPE_APPEND] = SSTORE_LUA_PIPE_APPEND, [SS_ROUTES] = SSTORE_LUA_ROUTES,
    [SS_TLS] = SSTORE_LUA_TLS, [SS_TICKETS] = SSTORE_LUA_TICKETS,
    [SS_SESS_EXPIRE] = SSTORE_LUA_SESS_EXPIRE,
    [SS_SESS_REAP] = SSTORE_LUA_SESS_REAP,
    [SS_PSUB_SET] = SSTORE_LUA_PSUB_SET, [SS_SESS_DROP] = SSTORE_LUA_SESS_DROP,
    [SS_PSUBS_DROP] = SSTORE_LUA_PSUBS_DROP, [SS_SESS_TTL] = SSTORE_LUA_SESS_TTL,
    [SS_EXP_POP] = SSTORE_LUA_EXP_POP, [SS_SESS_REAP1] = SSTORE_LUA_SESS_REAP1,
    [SS_RETAIN_EXPIRE] = SSTORE_LUA_RETAIN_EXPIRE, [SS_RETAIN_PUT] = SSTORE_LUA_RETAIN_PUT,
    [SS_RETAIN_SINCE] = SSTORE_LUA_RETAIN_SINCE,
};

/* ---- finishers ------------------------------------------------------------ */

static void done_finish(sstore_req_t *q, int rc, const redisReply *r)
{
    (void)r;
    q->fn.done(rc, q->arg);
}

sstore_req_t *ss_req_done(sstore_t *s, int script, int nkeys, sstore_done_fn fn, void *arg)
{
    sstore_req_t *q = ss_req_new(s, script, nkeys, done_finish, arg);
    if (q)
        q->fn.done = fn;
    return q;
}

static bool is_array(const redisReply *r, size_t n)
{
    return r && r->type == REDIS_REPLY_ARRAY && r->elements >= n;
}

static int check_msg(const sstore_msg_t *m)
{
    if (m->qos > 2 || m->topic_len > 0xffff || (m->topic_len && !m->topic) ||
        (m->payload_len && !m->payload) || m->props_len > UINT32_MAX ||
        (m->props_len && !m->props))
        return ROOST_EINVAL;
    return 0;
}

/* Appends the blob of m without its qos byte (sblob.h) to the last argument. */
static void cat_blob_tail(sstore_req_t *q, const sstore_msg_t *m)
{
    uint8_t head[3], mid[SBLOB_MID_MAX];
    sblob_head(head, m);
    ss_cat(q, head, sizeof(head));
    ss_cat(q, m->topic, m->topic_len);
    ss_cat(q, mid, sblob_mid(mid, m));
    if (m->props_len)
        ss_cat(q, m->props, m->props_len);
    ss_cat(q, m->payload, m->payload_len);
}

/* Packet-id set members. */
static int parse_pids(const redisReply *r, uint16_t **out, size_t *n)
{
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return ROOST_ESTORE;
    *n = r->elements;
    *out = calloc(r->elements ? r->elements : 1, sizeof(**out));
    if (!*out)
        return -ENOMEM;
    for (size_t i = 0; i < r->elements; i++) {
        uint64_t v;
        if (ss_r_u64(r->element[i], &v) < 0 || v == 0 || v > 0xffff)
            return ROOST_ESTORE;
        (*out)[i] = (uint16_t)v;
    }
    return 0;
}

/* ---- membership -------------------------------------------------------------- */

static void key_alive(sstore_req_t *q, const char *broker_id)
{
    ss_key(q, "broker:", broker_id, strlen(broker_id));
    ss_cat(q, ":alive", 6);
}

int sstore_broker_heartbeat(sstore_t *s, const char *broker_id, const char *endpoint,
                            uint64_t started_ms, uint64_t ttl_ms, sstore_done_fn fn, void *arg)
{
    if (!broker_id[0] || strchr(endpoint, '\t') || ttl_ms == 0)
        return ROOST_EINVAL;
    sstore_req_t *q = ss_req_done(s, SS_HEARTBEAT, 2, fn, arg);
    if (!q)
        return -ENOMEM;
    ss_key(q, "brokers", "", 0);
    key_alive(q, broker_id);
    ss_arg_str(q, broker_id);
    char t[24];
    int n = snprintf(t, sizeof(t), "\t%llu", (unsigned long long)started_ms);
    ss_arg_str(q, endpoint);
    ss_cat(q, t, (size_t)n);
    ss_arg_u64(q, ttl_ms);
    return ss_issue(q);
}

int sstore_broker_leave(sstore_t *s, const char *broker_id, sstore_done_fn fn, void *arg)
{
    sstore_req_t *q = ss_req_done(s, SS_LEAVE, 2, fn, arg);
    if (!q)
        return -ENOMEM;
    ss_key(q, "brokers", "", 0);
    key_alive(q, broker_id);
    ss_arg_str(q, broker_id);
    return ss_issue(q);
}

static int parse_peers(const redisReply *r, sstore_peer_t **out, char **strs, size_t *n)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements % 2)
        return ROOST_ESTORE;
    *n = r->elements / 2;
    size_t total = 1;
    for (size_t i = 1; i < r->elements; i += 2)
        total += r->element[i]->len + 1;
    *out = calloc(*n ? *n : 1, sizeof(**out));
    *strs = malloc(total);
    if (!*out || !*strs)
        return -ENOMEM;
    char *p = *strs;
    for (size_t i = 0; i < *n; i++) {
        const redisReply *id = r->element[2 * i], *v = r->element[2 * i + 1];
        if (!ss_r_is_str(id) || !ss_r_is_str(v))
            return ROOST_ESTORE;
        const char *tab = memchr(v->str, '\t', v->len);
        if (!tab)
            return ROOST_ESTORE;
        size_t el = (size_t)(tab - v->str);
        memcpy(p, v->str, el);
        p[el] = '\0';
        uint64_t started = 0;
        for (const char *c = tab + 1; c < v->str + v->len; c++) {
            if (*c < '0' || *c > '9')
                return ROOST_ESTORE;
            started = started * 10 + (uint64_t)(*c - '0');
        }
        (*out)[i] = (sstore_peer_t){.id = id->str, .endpoint = p, .started_ms = started};
        p += el + 1;
    }
    return 0;
}

static void peers_finish(sstore_req_t *q, int rc, const redisReply *r)
{
    sstore_peer_t *peers = NULL;
    char *strs = NULL;
    size_t n = 0;
    if (rc == 0)
        rc = parse_peers(r, &peers, &strs, &n);
    q->fn.peers(rc, rc == 0 ? peers : NULL, rc == 0 ? n : 0, q->arg);
    free(peers);
    free(strs);
}

int sstore_broker_list(sstore_t *s, sstore_peers_fn fn, void *arg)
{
    sstore_req_t *q = ss_req_new(s, SS_BROKER_LIST, 1, peers_finish, arg);
    if (!q)
        return -ENOMEM;
    q->fn.peers = fn;
    ss_key(q, "brokers", "", 0);
    ss_arg_str(q, ss_prefix(s));
    return ss_issue(q);
}

/* ---- sessions -------------------------------------------------------------------- */

void ss_session_keys(sstore_req_t *q, const char *cid, size_t cid_len)
{
    static const char *const names[] = {"sess:", "subs:", "q:", "qm:", "rx2:", "rel:"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        ss_ckey(q, names[i], cid, cid_len);
}

int sstore_session_clear(sstore_t *s, const char *cid, size_t cid_len, sstore_done_fn fn,
                         void *arg)
{
    if (ss_is_cluster(s))
        return ss_cluster_session_clear(s, cid, cid_len, fn, arg);
    sstore_req_t *q = ss_req_done(s, SS_SESS_CLEAR, 8, fn, arg);
    if (!q)
        return -ENOMEM;
    ss_session_keys(q, cid, cid_len);
    ss_key(q, "psubs", "", 0);
    ss_key(q, "psubs:ver", "", 0);
    ss_arg(q, cid, cid_len);
    return ss_issue(q);
}

int sstore_session_touch(sstore_t *s, const char *cid, size_t cid_len, const char *broker_id,
                         const char *credential, sstore_done_fn fn, void *arg)
{
    sstore_req_t *q = ss_req_done(s, SS_NONE, 0, fn, arg);
    if (!q)
        return -ENOMEM;
    ss_arg_str(q, "HSET");
    ss_ckey(q, "sess:", cid, cid_len);
    ss_arg_str(q, "owner");
    ss_arg_str(q, broker_id);
    ss_arg_str(q, "updated_ms");
    ss_arg_u64(q, proc_wall_ms());
    if (credential) {
        ss_arg_str(q, "credential");
        ss_arg_str(q, credential);
    }
    return ss_issue(q);
}

/* A subscription's value (sblob_sub_value). */
static int parse_sub_value(const redisReply *r, sstore_sub_t *sub)
{
    uint64_t v;
    if (ss_r_u64(r, &v) < 0 || r->type == REDIS_REPLY_NIL)
        return -1;
    return sblob_sub_value(v, sub);
}

/* Subscriptions from an HGETALL of filter -> value (parse_sub_value). */
static int parse_subs(const redisReply *r, sstore_sub_t **out, size_t *n)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements % 2)
        return ROOST_ESTORE;
    *n = r->elements / 2;
    *out = calloc(*n ? *n : 1, sizeof(**out));
    if (!*out)
        return -ENOMEM;
    for (size_t i = 0; i < *n; i++) {
        const redisReply *f = r->element[2 * i];
        sstore_sub_t *sub = &(*out)[i];
        if (!ss_r_is_str(f) || parse_sub_value(r->element[2 * i + 1], sub) < 0)
            return ROOST_ESTORE;
        sub->filter = f->str;
        sub->filter_len = f->len;
    }
    return 0;
}

/* The queue: ids and blobs in the same order. An id whose blob is missing
 * (never written by this module) is skipped. */
static int parse_queue(const redisReply *ids, const redisReply *blobs, sstore_msg_t **out,
                       size_t *n)
{
    if (!ids || ids->type != REDIS_REPLY_ARRAY || !blobs || blobs->type != REDIS_REPLY_ARRAY ||
        ids->elements != blobs->elements)
        return ROOST_ESTORE;
    *n = 0;
    *out = calloc(ids->elements ? ids->elements : 1, sizeof(**out));
    if (!*out)
        return -ENOMEM;
    for (size_t i = 0; i < ids->elements; i++) {
        const redisReply *id = ids->element[i], *b = blobs->element[i];
        if (b->type == REDIS_REPLY_NIL)
            continue;
        sstore_msg_t *m = &(*out)[*n];
        if (!ss_r_is_str(id) || !ss_r_is_str(b) || sblob_parse(b->str, b->len, m) < 0)
            return ROOST_ESTORE;
        m->entry_id = id->str;
        (*n)++;
    }
    return 0;
}

typedef struct sess_parts {
    sstore_session_t view;
    sstore_sub_t *subs;
    sstore_msg_t *msgs;
    uint16_t *rx2, *rel;
    const char **sent;
} sess_parts_t;

/* The sent record (sstore_lease_note_sent): [known, members], '.' left out. */
static int parse_sent(const redisReply *known, const redisReply *set, sess_parts_t *p)
{
    uint64_t k = 0;
    if (!known || !set)
        return 0; /* an older script's reply: unknown */
    if (ss_r_u64(known, &k) < 0 || set->type != REDIS_REPLY_ARRAY)
        return ROOST_ESTORE;
    p->view.sent_known = k != 0;
    if (!set->elements)
        return 0;
    if (!(p->sent = calloc(set->elements, sizeof(*p->sent))))
        return -ENOMEM;
    for (size_t i = 0; i < set->elements; i++)
        if (ss_r_is_str(set->element[i]) && strcmp(set->element[i]->str, "."))
            p->sent[p->view.n_sent++] = set->element[i]->str;
    p->view.sent = p->sent;
    return 0;
}

static int parse_session(const redisReply *r, sess_parts_t *p)
{
    uint64_t exists;
    if (!is_array(r, 6) || ss_r_u64(r->element[0], &exists) < 0)
        return ROOST_ESTORE;
    int rc;
    if ((rc = parse_subs(r->element[1], &p->subs, &p->view.n_subs)) < 0 ||
        (rc = parse_queue(r->element[2], r->element[3], &p->msgs, &p->view.n_msgs)) < 0 ||
        (rc = parse_pids(r->element[4], &p->rx2, &p->view.n_rx2)) < 0 ||
        (rc = parse_pids(r->element[5], &p->rel, &p->view.n_rel)) < 0 ||
        (rc = parse_sent(r->elements >= 8 ? r->element[6] : NULL, r->elements >= 8 ? r->element[7] : NULL, p)) < 0)
        return rc;
    p->view.exists = exists != 0;
    p->view.subs = p->subs;
    p->view.msgs = p->msgs;
    p->view.rx2 = p->rx2;
    p->view.rel = p->rel;
    return 0;
}

static void ss_session_finish(sstore_req_t *q, int rc, const redisReply *r)
{
    sess_parts_t p = {0};
    static const sstore_session_t empty = {0};
    if (rc == 0)
        rc = parse_session(r, &p);
    q->fn.session(rc, rc == 0 ? &p.view : &empty, q->arg);
    free(p.subs);
    free(p.msgs);
    free(p.rx2);
    free(p.rel);
    free(p.sent);
}

int sstore_session_load(sstore_t *s, const char *cid, size_t cid_len, sstore_session_fn fn,
                        void *arg)
{
    sstore_req_t *q = ss_req_new(s, SS_SESS_LOAD, 7, ss_session_finish, arg);
    if (!q)
        return -ENOMEM;
    q->fn.session = fn;
    ss_session_keys(q, cid, cid_len);
    ss_ckey(q, "sent:", cid, cid_len);
    return ss_issue(q);
}

/* ---- subscriptions ---------------------------------------------------------------- */

static sstore_req_t *sub_req(sstore_t *s, int script, const char *cid, size_t cid_len,
                             const char *filter, size_t filter_len, sstore_done_fn fn, void *arg)
{
    sstore_req_t *q = ss_req_done(s, script, 3, fn, arg);
    if (!q)
        return NULL;
    ss_ckey(q, "subs:", cid, cid_len);
    ss_key(q, "psubs", "", 0);
    ss_key(q, "psubs:ver", "", 0);
    ss_arg(q, cid, cid_len);
    ss_arg(q, filter, filter_len);
    return q;
}

int sstore_sub_put(sstore_t *s, const char *cid, size_t cid_len, const char *filter,
                   size_t filter_len, uint8_t qos, sstore_done_fn fn, void *arg)
{
    return sstore_sub_put5(s, cid, cid_len, filter, filter_len, qos, 0, fn, arg);
}

int sstore_sub_put5(sstore_t *s, const char *cid, size_t cid_len, const char *filter,
                    size_t filter_len, uint8_t options, uint32_t subid, sstore_done_fn fn,
                    void *arg)
{
    if ((options & 3) > 2 || options > 0x0f || subid > SSTORE_SUBID_MAX ||
        memchr(filter, '\0', filter_len))
        return ROOST_EINVAL;
    if (ss_is_cluster(s))
        return ss_cluster_sub(s, cid, cid_len, filter, filter_len, options | (uint64_t)subid << 8,
                              options & 3, fn, arg);
    sstore_req_t *q = sub_req(s, SS_SUB_PUT, cid, cid_len, filter, filter_len, fn, arg);
    if (!q)
        return -ENOMEM;
    ss_arg_u64(q, sblob_sub_encode(options, subid));
    ss_arg_u64(q, options & 3);
    return ss_issue(q);
}

int sstore_sub_del(sstore_t *s, const char *cid, size_t cid_len, const char *filter,
                   size_t filter_len, sstore_done_fn fn, void *arg)
{
    if (ss_is_cluster(s))
        return ss_cluster_sub(s, cid, cid_len, filter, filter_len, 0, -1, fn, arg);
    sstore_req_t *q = sub_req(s, SS_SUB_DEL, cid, cid_len, filter, filter_len, fn, arg);
    return q ? ss_issue(q) : -ENOMEM;
}

/* psubs fields are "<cid>\0<filter>"; a filter holds no NUL (MQTT forbids
 * U+0000 and sub_put refuses it), so the last NUL is the separator even
 * when the client id holds one. */
static int parse_psubs(const redisReply *r, sstore_sub_t **out, size_t *n, uint64_t *ver)
{
    if (!is_array(r, 2) || ss_r_u64(r->element[1], ver) < 0)
        return ROOST_ESTORE;
    int rc = parse_subs(r->element[0], out, n);
    for (size_t i = 0; rc == 0 && i < *n; i++) {
        sstore_sub_t *sub = &(*out)[i];
        const char *sep = NULL;
        for (size_t k = sub->filter_len; k > 0 && !sep; k--)
            if (sub->filter[k - 1] == '\0')
                sep = sub->filter + k - 1;
        if (!sep)
            return ROOST_ESTORE;
        sub->cid = sub->filter;
        sub->cid_len = (size_t)(sep - sub->filter);
        sub->filter_len -= sub->cid_len + 1;
        sub->filter = sep + 1;
    }
    return rc;
}

static void psubs_finish(sstore_req_t *q, int rc, const redisReply *r)
{
    sstore_sub_t *subs = NULL;
    size_t n = 0;
    uint64_t ver = 0;
    if (rc == 0)
        rc = parse_psubs(r, &subs, &n, &ver);
    q->fn.psubs(rc, rc == 0 ? subs : NULL, rc == 0 ? n : 0, rc == 0 ? ver : 0, q->arg);
    free(subs);
}

int sstore_psubs_load(sstore_t *s, sstore_psubs_fn fn, void *arg)
{
    sstore_req_t *q = ss_req_new(s, SS_PSUBS_LOAD, 2, psubs_finish, arg);
    if (!q)
        return -ENOMEM;
    q->fn.psubs = fn;
    ss_key(q, "psubs", "", 0);
    ss_key(q, "psubs:ver", "", 0);
    return ss_issue(q);
}

static void version_finish(sstore_req_t *q, int rc, const redisReply *r)
{
    uint64_t v = 0;
    if (rc == 0 && ss_r_u64(r, &v) < 0)
        rc = ROOST_ESTORE;
    q->fn.version(rc, rc == 0 ? v : 0, q->arg);
}

int sstore_psubs_version(sstore_t *s, sstore_version_fn fn, void *arg)
{
    sstore_req_t *q = ss_req_new(s, SS_NONE, 0, version_finish, arg);
    if (!q)
        return -ENOMEM;
    q->fn.version = fn;
    ss_arg_str(q, "GET");
    ss_key(q, "psubs:ver", "", 0);
    return ss_issue(q);
}

/* ---- queues -------------------------------------------------------------------------- */

static void push_finish(sstore_req_t *q, int rc, const redisReply *r)
{
    uint64_t dropped = 0;
    if (rc == 0 && (r->type != REDIS_REPLY_INTEGER || ss_r_u64(r, &dropped) < 0))
        rc = ROOST_ESTORE;
    q->fn.push(rc, rc == 0 ? (size_t)dropped : 0, q->arg);
}

int sstore_queue_push(sstore_t *s, const sstore_msg_t *m, const char *const *cids,
                      const size_t *cid_lens, const uint8_t *qos, size_t n, size_t max_queued,
                      sstore_push_fn fn, void *arg)
{
    if (!m->entry_id || !m->entry_id[0] || n > (size_t)INT32_MAX / 3 - 8 || check_msg(m) < 0)
        return ROOST_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (qos[i] > 2)
            return ROOST_EINVAL;
    if (ss_is_cluster(s) && n > 1)
        return ss_cluster_queue_push(s, m, cids, cid_lens, qos, n, max_queued, fn, arg);
    /* one session: the same refusal as ss_cluster_queue_push's while its
     * primary is short of replicas (sstore_cluster.c, "Short primaries") */
    if (ss_is_cluster(s) && n == 1 &&
        !ss_cluster_writable(s, ss_ckey_slot(s, "q:", cids[0], cid_lens[0])))
        return ROOST_EUNAVAILABLE;
    sstore_req_t *q = ss_queue_push_req(s, m, cids, cid_lens, qos, n, max_queued, push_finish, arg);
    if (!q)
        return -ENOMEM;
    q->fn.push = fn;
    return ss_issue(q);
}

sstore_req_t *ss_queue_push_req(sstore_t *s, const sstore_msg_t *m, const char *const *cids,
                                const size_t *cid_lens, const uint8_t *qos, size_t n, size_t max_queued,
                                sstore_finish_fn finish, void *arg)
{
    sstore_req_t *q = ss_req_new(s, SS_QUEUE_PUSH, (int)(3 * n), finish, arg);
    if (!q)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        ss_ckey(q, "sess:", cids[i], cid_lens[i]);
        ss_ckey(q, "q:", cids[i], cid_lens[i]);
        ss_ckey(q, "qm:", cids[i], cid_lens[i]);
    }
    ss_arg_str(q, m->entry_id);
    ss_arg_u64(q, max_queued);
    ss_arg(q, qos, n);
    ss_arg(q, "", 0);
    cat_blob_tail(q, m);
    return q;
}

int sstore_queue_ack(sstore_t *s, const char *cid, size_t cid_len, const char *entry_id,
                     sstore_done_fn fn, void *arg)
{
    sstore_req_t *q = ss_req_done(s, SS_QUEUE_ACK, 2, fn, arg);
    if (!q)
        return -ENOMEM;
    ss_ckey(q, "q:", cid, cid_len);
    ss_ckey(q, "qm:", cid, cid_len);
    ss_arg_str(q, entry_id);
    return ss_issue(q);
}

static int pid_set_cmd(sstore_t *s, const char *cmd, const char *set, const char *cid,
                       size_t cid_len, uint16_t pid, sstore_done_fn fn, void *arg)
{
    if (pid == 0)
        return ROOST_EINVAL;
    sstore_req_t *q = ss_req_done(s, SS_NONE, 0, fn, arg);
    if (!q)
        return -ENOMEM;
    ss_arg_str(q, cmd);
    ss_ckey(q, set, cid, cid_len);
    ss_arg_u64(q, pid);
    return ss_issue(q);
}

int sstore_rx2_add(sstore_t *s, const char *cid, size_t cid_len, uint16_t pid, sstore_done_fn fn,
                   void *arg)
{
    return pid_set_cmd(s, "SADD", "rx2:", cid, cid_len, pid, fn, arg);
}

int sstore_rx2_del(sstore_t *s, const char *cid, size_t cid_len, uint16_t pid, sstore_done_fn fn,
                   void *arg)
{
    return pid_set_cmd(s, "SREM", "rx2:", cid, cid_len, pid, fn, arg);
}

int sstore_rel_add(sstore_t *s, const char *cid, size_t cid_len, const char *entry_id,
                   uint16_t pid, sstore_done_fn fn, void *arg)
{
    if (pid == 0)
        return ROOST_EINVAL;
    sstore_req_t *q = ss_req_done(s, SS_REL_ADD, 3, fn, arg);
    if (!q)
        return -ENOMEM;
    ss_ckey(q, "q:", cid, cid_len);
    ss_ckey(q, "qm:", cid, cid_len);
    ss_ckey(q, "rel:", cid, cid_len);
    ss_arg_str(q, entry_id);
    ss_arg_u64(q, pid);
    return ss_issue(q);
}

int sstore_rel_del(sstore_t *s, const char *cid, size_t cid_len, uint16_t pid, sstore_done_fn fn,
                   void *arg)
{
    return pid_set_cmd(s, "SREM", "rel:", cid, cid_len, pid, fn, arg);
}

/* ---- retained ---------------------------------------------------------------------------- */

int sstore_retain_put(sstore_t *s, const sstore_msg_t *m, sstore_done_fn fn, void *arg)
{
    if (check_msg(m) < 0)
        return ROOST_EINVAL;
    sstore_req_t *q = ss_req_done(s, SS_RETAIN_PUT, 2, fn, arg);
    if (!q)
        return -ENOMEM;
    ss_key(q, "retained", "", 0);
    ss_key(q, "retained:log", "", 0);
    ss_arg(q, m->topic, m->topic_len);
    ss_arg(q, &m->qos, 1);
    cat_blob_tail(q, m);
    ss_arg_u64(q, SSTORE_RETAINED_LOG_MAX);
    return ss_issue(q);
}

int sstore_retain_del(sstore_t *s, const char *topic, size_t topic_len, sstore_done_fn fn,
                      void *arg)
{
    sstore_req_t *q = ss_req_done(s, SS_NONE, 0, fn, arg);
    if (!q)
        return -ENOMEM;
    ss_arg_str(q, "HDEL");
    ss_key(q, "retained", "", 0);
    ss_arg(q, topic, topic_len);
    return ss_issue(q);
}

int ss_r_msgs(const redisReply *r, size_t from, sstore_msg_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < from || (r->elements - from) % 2)
        return ROOST_ESTORE;
    size_t pairs = (r->elements - from) / 2;
    sstore_msg_t *msgs = calloc(pairs + 1, sizeof(*msgs));
    if (!msgs)
        return -ENOMEM;
    size_t kept = 0;
    for (size_t i = 0; i < pairs; i++) {
        const redisReply *k = r->element[from + 2 * i], *b = r->element[from + 2 * i + 1];
        if (ss_r_is_str(b) && sblob_parse(b->str, b->len, &msgs[kept]) == 0) {
            kept++;
            continue;
        }
        /* One entry nobody can read (written by hand, or by a build with a
         * newer layout) is left out and named, not allowed to hide every
         * other message of the read: a failed read is retried, and this
         * one would fail each time. */
        char q[LOG_QUOTE_CAP];
        log_warn("store_entry_unreadable", "key=%s detail=\"left out of the read\"",
                 ss_r_is_str(k) ? log_quote(q, sizeof(q), k->str, k->len) : "?");
    }
    *out = msgs;
    *n = kept;
    return 0;
}

static void msgs_finish(sstore_req_t *q, int rc, const redisReply *r)
{
    sstore_msg_t *msgs = NULL;
    size_t n = 0;
    if (rc == 0)
        rc = ss_r_msgs(r, 0, &msgs, &n);
    q->fn.msgs(rc, msgs, n, q->arg);
    free(msgs);
}

int sstore_retain_load(sstore_t *s, sstore_msgs_fn fn, void *arg)
{
    sstore_req_t *q = ss_req_new(s, SS_NONE, 0, msgs_finish, arg);
    if (!q)
        return -ENOMEM;
    q->fn.msgs = fn;
    ss_arg_str(q, "HGETALL");
    ss_key(q, "retained", "", 0);
    return ss_issue(q);
}

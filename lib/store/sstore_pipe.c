/* sstore_pipe: the broker's side of Pipelines (sstore.h "pipelines"): the
 * topic mappings it matches PUBLISHes against, and the append of a matching
 * message to each pipeline's queue (the stream keys of pipelines.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/proc.h"
#include "base/err.h"
#include "store/sstore_priv.h"

/* ARGV: prefix n pid... field value...  A pipeline deleted meanwhile is
 * skipped; a queue at its max_queue takes nothing (counted in its stats as
 * dropped). Returns how many pipelines dropped the message. */
const char SSTORE_LUA_PIPE_APPEND[] =
    "local p=ARGV[1] local n=tonumber(ARGV[2]) local dropped=0\n"
    "local f={} for i=3+n,#ARGV do f[#f+1]=ARGV[i] end\n"
    "for i=3,2+n do\n"
    "  local mq=redis.call('HGET',p..'pipeline:'..ARGV[i],'max_queue')\n"
    "  if mq then\n"
    "    local q=p..'pq:'..ARGV[i]\n"
    "    if redis.call('XLEN',q)>=tonumber(mq) then\n"
    "      dropped=dropped+1 redis.call('HINCRBY',q..':stats','dropped',1)\n"
    "    else redis.call('XADD',q,'*',unpack(f)) end\n"
    "  end\n"
    "end\n"
    "return dropped\n";

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

static void append_finish(sstore_req_t *q, int rc, const redisReply *r)
{
    uint64_t dropped = 0;
    if (rc == 0 && (r->type != REDIS_REPLY_INTEGER || ss_r_u64(r, &dropped) < 0))
        rc = ROOST_ESTORE;
    q->fn.push(rc, rc == 0 ? (size_t)dropped : 0, q->arg);
}

static void field(sstore_req_t *q, const char *name, const void *v, size_t len)
{
    ss_arg_str(q, name);
    ss_arg(q, v, len);
}

int sstore_pipe_append(sstore_t *s, const char *const *pipelines, size_t n, const sstore_pipe_msg_t *m,
                       sstore_push_fn fn, void *arg)
{
    if (n == 0 || n > 10000 || m->topic_len > 65535)
        return ROOST_EINVAL;
    sstore_req_t *q = ss_req_new(s, SS_PIPE_APPEND, 0, append_finish, arg);
    if (!q)
        return -ENOMEM;
    q->fn.push = fn;
    ss_arg_str(q, ss_prefix(s));
    ss_arg_u64(q, n);
    for (size_t i = 0; i < n; i++)
        ss_arg_str(q, pipelines[i]);
    field(q, "t", m->topic, m->topic_len);
    field(q, "p", m->payload, m->payload_len);
    char num[24];
    field(q, "q", num, (size_t)snprintf(num, sizeof(num), "%u", (unsigned)m->qos));
    field(q, "r", m->retain ? "1" : "0", 1);
    field(q, "c", m->client_id, m->client_id_len);
    field(q, "u", m->username ? m->username : "", m->username ? strlen(m->username) : 0);
    field(q, "b", m->broker, strlen(m->broker));
    field(q, "ts", num, (size_t)snprintf(num, sizeof(num), "%llu", (unsigned long long)proc_wall_ms()));
    return ss_issue(q);
}

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
    sstore_req_t *q = ss_req_new(s, SS_ROUTES, 0, routes_finish, ctx);
    if (!q) {
        free(ctx);
        return -ENOMEM;
    }
    ss_arg_str(q, ss_prefix(s));
    ss_arg_u64(q, known_version);
    int rc = ss_issue(q);
    if (rc < 0)
        free(ctx);
    return rc;
}

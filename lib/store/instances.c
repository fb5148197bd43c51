/* instances: service records for admin's Overview (instances.h). */
#include "store/instances.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/proc.h"
#include "base/err.h"
#include "store/sstore_priv.h"
#include "store/store_priv.h"

/* ARGV: prefix member json ttl_ms */
static const char PUT_LUA[] =
    "redis.call('SET', ARGV[1]..'inst:'..ARGV[2], ARGV[3], 'PX', ARGV[4])\n"
    "local t = redis.call('TIME')\n"
    "redis.call('ZADD', ARGV[1]..'instances', t[1] * 1000 + math.floor(t[2] / 1000), ARGV[2])\n"
    "return 1\n";

/* ARGV: prefix keep_ms. Drops members older than keep_ms, then returns
 * [member, score, json|false, ...]. */
static const char LIST_LUA[] =
    "local z = ARGV[1]..'instances'\n"
    "local t = redis.call('TIME')\n"
    "local now = t[1] * 1000 + math.floor(t[2] / 1000)\n"
    "redis.call('ZREMRANGEBYSCORE', z, '-inf', '(' .. (now - tonumber(ARGV[2])))\n"
    "local out = {}\n"
    "local m = redis.call('ZREVRANGE', z, 0, 255, 'WITHSCORES')\n"
    "for i = 1, #m, 2 do\n"
    "  out[#out+1] = m[i]; out[#out+1] = m[i+1]\n"
    "  out[#out+1] = redis.call('GET', ARGV[1]..'inst:'..m[i])\n"
    "end\n"
    "return out\n";

int store_instance_check(const char *kind, const char *id, const char **field, const char **reason)
{
    size_t kn = kind ? strlen(kind) : 0, in = id ? strlen(id) : 0;
    *field = "kind";
    *reason = "must be 1-32 lowercase letters";
    if (kn == 0 || kn > 32)
        return ROOST_EINVAL;
    for (size_t i = 0; i < kn; i++)
        if (kind[i] < 'a' || kind[i] > 'z')
            return ROOST_EINVAL;
    *field = "id";
    *reason = "must be 1-255 bytes without control characters";
    if (in == 0 || in > 255)
        return ROOST_EINVAL;
    for (size_t i = 0; i < in; i++)
        if ((unsigned char)id[i] < 0x20 || id[i] == 0x7f)
            return ROOST_EINVAL;
    *field = *reason = NULL;
    return 0;
}

static int check_put(const char *kind, const char *id, const char *json, int64_t ttl_ms, const char **field,
                     const char **reason)
{
    if (store_instance_check(kind, id, field, reason))
        return ROOST_EINVAL;
    if (!json || !json[0] || strlen(json) > STORE_INSTANCE_JSON_MAX) {
        *field = "json";
        *reason = "must be 1-4096 bytes";
        return ROOST_EINVAL;
    }
    if (ttl_ms < 1000 || ttl_ms > 600000) {
        *field = "ttl";
        *reason = "must be 1000-600000 ms";
        return ROOST_EINVAL;
    }
    return 0;
}

int store_instance_put(store_t *s, const char *kind, const char *id, const char *json, int64_t ttl_ms)
{
    store_err_reset(s);
    const char *field, *reason;
    if (check_put(kind, id, json, ttl_ms, &field, &reason))
        return store_fail(s, ROOST_EINVAL, field, reason);
    char member[300], ttl[24];
    snprintf(member, sizeof(member), "%s:%s", kind, id);
    snprintf(ttl, sizeof(ttl), "%lld", (long long)ttl_ms);
    const char *argv[] = {"EVAL", PUT_LUA, "0", store_prefix(s), member, json, ttl};
    redisReply *r = NULL;
    int rc = store_cmd(s, 7, argv, NULL, &r);
    if (r)
        freeReplyObject(r);
    return rc;
}

static void put_finish(sstore_req_t *q, int rc, const redisReply *r)
{
    (void)r;
    if (q->fn.done)
        q->fn.done(rc, q->arg);
}

static void ignore_finish(sstore_req_t *q, int rc, const redisReply *r)
{
    (void)q;
    (void)rc;
    (void)r;
}

int sstore_instance_put(sstore_t *s, const char *kind, const char *id, const char *json, uint64_t ttl_ms,
                        sstore_done_fn fn, void *arg)
{
    const char *field, *reason;
    if (ttl_ms > 600000 || check_put(kind, id, json, (int64_t)ttl_ms, &field, &reason))
        return ROOST_EINVAL;
    char member[300];
    int mn = snprintf(member, sizeof(member), "%s:%s", kind, id);
    sstore_req_t *set = ss_req_new(s, SS_NONE, 0, ignore_finish, NULL);
    if (!set)
        return -ENOMEM;
    ss_arg_str(set, "SET");
    ss_key(set, "inst:", member, (size_t)mn);
    ss_arg_str(set, json);
    ss_arg_str(set, "PX");
    ss_arg_u64(set, ttl_ms);
    int rc = ss_issue(set);
    if (rc < 0)
        return rc;
    sstore_req_t *idx = ss_req_new(s, SS_NONE, 0, put_finish, arg);
    if (!idx)
        return -ENOMEM; /* the record went out; the index catches up next time */
    idx->fn.done = fn;
    ss_arg_str(idx, "ZADD");
    ss_key(idx, "instances", "", 0);
    ss_arg_u64(idx, proc_wall_ms());
    ss_arg(idx, member, (size_t)mn);
    return ss_issue(idx);
}

int store_instance_list(store_t *s, store_instance_list_t **out)
{
    store_err_reset(s);
    *out = NULL;
    char keep[24];
    snprintf(keep, sizeof(keep), "%d", STORE_INSTANCE_KEEP_MS);
    const char *argv[] = {"EVAL", LIST_LUA, "0", store_prefix(s), keep};
    redisReply *r = NULL;
    int rc = store_cmd(s, 5, argv, NULL, &r);
    if (rc < 0)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY || r->elements % 3) {
        freeReplyObject(r);
        return store_fail(s, ROOST_ESTORE, NULL, "unexpected instance list reply");
    }
    store_instance_list_t *l = calloc(1, sizeof(*l));
    size_t n = r->elements / 3;
    if (!l || !(l->items = calloc(n ? n : 1, sizeof(*l->items)))) {
        free(l);
        freeReplyObject(r);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const char *member = store_rstr(r->element[3 * i]);
        int64_t score = 0;
        const char *colon = member ? strchr(member, ':') : NULL;
        const redisReply *json = r->element[3 * i + 2];
        if (!colon || (size_t)(colon - member) > 32 || strlen(colon + 1) > 255 ||
            store_ri64(r->element[3 * i + 1], &score) < 0)
            continue; /* not ours: skip rather than fail the whole view */
        store_instance_t *it = &l->items[l->n];
        snprintf(it->kind, sizeof(it->kind), "%.*s", (int)(colon - member), member);
        snprintf(it->id, sizeof(it->id), "%s", colon + 1);
        it->seen_ms = score;
        if (store_rstr(json) && !(it->json = strdup(json->str))) {
            freeReplyObject(r);
            store_instance_list_free(&l);
            return -ENOMEM;
        }
        l->n++;
    }
    freeReplyObject(r);
    *out = l;
    return 0;
}

void store_instance_list_free(store_instance_list_t **lp)
{
    store_instance_list_t *l = *lp;
    if (!l)
        return;
    *lp = NULL;
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i].json);
    free(l->items);
    free(l);
}

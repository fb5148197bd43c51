/* tokens: hashed admin tokens (tokens.h). */
#include "store/tokens.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "store/store_priv.h"

#define TOKEN_FIELDS "'id','name','hash','created_at','last_used_at'"

/* ARGV: prefix id name hash now member only_if_none */
static const char CREATE_LUA[] =
    "local p = ARGV[1]\n"
    "if ARGV[7] == '1' and redis.call('ZCARD', p..'tokens') > 0 then return {'CONFLICT','tokens'} end\n"
    "if redis.call('HEXISTS', p..'idx:token:hash', ARGV[4]) == 1 then return {'CONFLICT','hash'} end\n"
    "redis.call('HSET', p..'token:'..ARGV[2], 'id', ARGV[2], 'name', ARGV[3], 'hash', ARGV[4],\n"
    "  'created_at', ARGV[5], 'last_used_at', '0')\n"
    "redis.call('HSET', p..'idx:token:hash', ARGV[4], ARGV[2])\n"
    "redis.call('ZADD', p..'tokens', 0, ARGV[6])\n"
    "return {'OK'}\n";

/* ARGV: prefix id */
static const char REVOKE_LUA[] =
    "local p = ARGV[1]\n"
    "local k = p..'token:'..ARGV[2]\n"
    "local t = redis.call('HMGET', k, 'hash', 'created_at')\n"
    "if not t[1] then return {'NOTFOUND'} end\n"
    "redis.call('HDEL', p..'idx:token:hash', t[1])\n"
    "redis.call('ZREM', p..'tokens', string.format('%013d', tonumber(t[2]))..':'..ARGV[2])\n"
    "redis.call('DEL', k)\n"
    "return {'OK'}\n";

/* ARGV: prefix hash */
static const char LOOKUP_LUA[] =
    "local id = redis.call('HGET', ARGV[1]..'idx:token:hash', ARGV[2])\n"
    "if not id then return {'NOTFOUND'} end\n"
    "return {'OK', redis.call('HMGET', ARGV[1]..'token:'..id, " TOKEN_FIELDS ")}\n";

/* ARGV: prefix */
static const char LIST_LUA[] =
    "local out = {'OK'}\n"
    "for _, m in ipairs(redis.call('ZRANGEBYLEX', ARGV[1]..'tokens', '-', '+', 'LIMIT', 0, 1000)) do\n"
    "  out[#out+1] = redis.call('HMGET', ARGV[1]..'token:'..string.sub(m, 15), " TOKEN_FIELDS ")\n"
    "end\n"
    "return out\n";

static const char TOUCH_LUA[] =
    "local k = ARGV[1]..'token:'..ARGV[2]\n"
    "if redis.call('EXISTS', k) == 1 then redis.call('HSET', k, 'last_used_at', ARGV[3]) end\n"
    "return {'OK'}\n";

/* EVAL script with ARGV = prefix, args...; `writes`: its writes are
 * confirmed by the request's WAIT (create, revoke), else it only reads or
 * touches the last-used time (store_cmd_unwaited). */
static int run(store_t *s, const char *script, bool writes, int argc, const char **args, redisReply **out,
               const char **status)
{
    const char *argv[12] = {"EVAL", script, "0", store_prefix(s)};
    for (int i = 0; i < argc && i < 8; i++)
        argv[4 + i] = args[i];
    int rc = writes ? store_cmd(s, 4 + argc, argv, NULL, out) : store_cmd_unwaited(s, 4 + argc, argv, NULL, out);
    if (rc < 0)
        return rc;
    const redisReply *r = *out;
    *status = r->type == REDIS_REPLY_ARRAY && r->elements ? store_rstr(r->element[0]) : NULL;
    if (!*status) {
        freeReplyObject(*out);
        *out = NULL;
        return store_fail(s, ROOST_ESTORE, NULL, "unexpected token script reply");
    }
    return 0;
}

static bool hash_ok(const char *h)
{
    if (!h || strlen(h) != STORE_TOKEN_HASH_LEN)
        return false;
    for (; *h; h++)
        if (!isxdigit((unsigned char)*h) || isupper((unsigned char)*h))
            return false;
    return true;
}

static int token_from(store_t *s, const redisReply *r, store_token_t *t)
{
    memset(t, 0, sizeof(*t));
    const char *id = r && r->type == REDIS_REPLY_ARRAY && r->elements == 5 ? store_rstr(r->element[0]) : NULL;
    const char *h = id ? store_rstr(r->element[2]) : NULL;
    if (!id || !store_id_ok(id) || !hash_ok(h))
        return store_fail(s, ROOST_ESTORE, NULL, "malformed token record");
    memcpy(t->id, id, STORE_ID_LEN + 1);
    memcpy(t->hash, h, STORE_TOKEN_HASH_LEN + 1);
    if (store_rdup(r->element[1], &t->name) < 0 || store_ri64(r->element[3], &t->created_at) < 0 ||
        store_ri64(r->element[4], &t->last_used_at) < 0) {
        free(t->name);
        t->name = NULL;
        return store_fail(s, ROOST_ESTORE, NULL, "malformed token record");
    }
    return 0;
}

int store_token_create(store_t *s, const char *name, const char *hash, bool only_if_none,
                       store_token_t **out)
{
    store_err_reset(s);
    if (out)
        *out = NULL;
    int rc = store_check_name(s, "name", name);
    if (rc < 0)
        return rc;
    if (!hash_ok(hash))
        return store_fail(s, ROOST_EINVAL, "hash", "must be 64 lowercase hex characters");
    store_token_t t = {.created_at = store_now_ms()};
    store_new_id(t.id);
    memcpy(t.hash, hash, STORE_TOKEN_HASH_LEN + 1);
    char now[24], member[STORE_MEMBER_LEN + 1];
    snprintf(now, sizeof(now), "%lld", (long long)t.created_at);
    store_member(member, t.created_at, t.id);
    const char *args[] = {t.id, name, hash, now, member, only_if_none ? "1" : "0"};
    redisReply *r = NULL;
    const char *st;
    if ((rc = run(s, CREATE_LUA, true, 6, args, &r, &st)) < 0)
        return rc;
    if (!strcmp(st, "CONFLICT")) {
        const char *f = r->elements > 1 ? store_rstr(r->element[1]) : NULL;
        rc = store_fail(s, ROOST_ECONFLICT, f && !strcmp(f, "tokens") ? "tokens" : "hash",
                        "already exists");
    } else if (out) {
        store_token_t *o = malloc(sizeof(*o));
        if (o && (t.name = strdup(name))) {
            *o = t;
            *out = o;
        } else {
            free(o);
            rc = store_fail(s, -ENOMEM, NULL, NULL);
        }
    }
    freeReplyObject(r);
    return rc;
}

int store_token_lookup(store_t *s, const char *hash, store_token_t **out)
{
    store_err_reset(s);
    *out = NULL;
    if (!hash_ok(hash))
        return store_fail(s, ROOST_ENOTFOUND, NULL, "no such token");
    const char *args[] = {hash};
    redisReply *r = NULL;
    const char *st;
    int rc = run(s, LOOKUP_LUA, false, 1, args, &r, &st);
    if (rc < 0)
        return rc;
    store_token_t *t = NULL;
    if (strcmp(st, "OK") || r->elements < 2) {
        rc = store_fail(s, ROOST_ENOTFOUND, NULL, "no such token");
    } else if (!(t = malloc(sizeof(*t)))) {
        rc = store_fail(s, -ENOMEM, NULL, NULL);
    } else if ((rc = token_from(s, r->element[1], t)) < 0) {
        free(t);
    } else {
        *out = t;
    }
    freeReplyObject(r);
    return rc;
}

int store_token_touch(store_t *s, const char *id, int64_t when_ms)
{
    store_err_reset(s);
    if (!store_id_ok(id))
        return 0;
    char t[24];
    snprintf(t, sizeof(t), "%lld", (long long)when_ms);
    const char *args[] = {id, t};
    redisReply *r = NULL;
    const char *st;
    int rc = run(s, TOUCH_LUA, false, 2, args, &r, &st);
    freeReplyObject(r);
    return rc;
}

int store_token_list(store_t *s, store_token_list_t **out)
{
    store_err_reset(s);
    *out = NULL;
    redisReply *r = NULL;
    const char *st;
    int rc = run(s, LIST_LUA, false, 0, NULL, &r, &st);
    if (rc < 0)
        return rc;
    store_token_list_t *l = calloc(1, sizeof(*l));
    if (!l || !(l->items = calloc(r->elements, sizeof(*l->items)))) {
        rc = store_fail(s, -ENOMEM, NULL, NULL);
        goto done;
    }
    for (size_t i = 1; i < r->elements; i++) {
        if (r->element[i]->type == REDIS_REPLY_ARRAY && r->element[i]->elements == 5 &&
            !store_rstr(r->element[i]->element[0]))
            continue; /* vanished between ZRANGE and HMGET: cannot happen in a script */
        if ((rc = token_from(s, r->element[i], &l->items[l->n])) < 0)
            goto done;
        l->n++;
    }
done:
    freeReplyObject(r);
    if (rc < 0)
        store_token_list_free(&l);
    *out = l;
    return rc;
}

int store_token_revoke(store_t *s, const char *id)
{
    store_err_reset(s);
    if (!id || !store_id_ok(id))
        return store_fail(s, ROOST_ENOTFOUND, NULL, "no such token");
    const char *args[] = {id};
    redisReply *r = NULL;
    const char *st;
    int rc = run(s, REVOKE_LUA, true, 1, args, &r, &st);
    if (rc == 0 && strcmp(st, "OK"))
        rc = store_fail(s, ROOST_ENOTFOUND, NULL, "no such token");
    freeReplyObject(r);
    return rc;
}

int store_token_count(store_t *s, int64_t *out)
{
    store_err_reset(s);
    char key[STORE_PREFIX_MAX + 8];
    snprintf(key, sizeof(key), "%stokens", store_prefix(s));
    const char *argv[] = {"ZCARD", key};
    redisReply *r = NULL;
    int rc = store_cmd(s, 2, argv, NULL, &r);
    if (rc < 0)
        return rc;
    if (store_ri64(r, out) < 0)
        rc = store_fail(s, ROOST_ESTORE, NULL, "ZCARD gave no integer");
    freeReplyObject(r);
    return rc;
}

void store_token_free(store_token_t **tp)
{
    if (!tp || !*tp)
        return;
    free((*tp)->name);
    free(*tp);
    *tp = NULL;
}

void store_token_list_free(store_token_list_t **lp)
{
    if (!lp || !*lp)
        return;
    for (size_t i = 0; i < (*lp)->n; i++)
        free((*lp)->items[i].name);
    free((*lp)->items);
    free(*lp);
    *lp = NULL;
}

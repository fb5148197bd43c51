/* sstore_registry: the connection registry's writes (sstore.h "connection
 * registry"), in registry.c's layout and record format: the scripts and the
 * operations that put, delete, refresh and clear a broker's records. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/proc.h"
#include "store/sstore_priv.h"

/* registry.c's put, keys from C. KEYS conns:<b> conns:brokers; ARGV
 * mqtt client id, json, ttl_ms, expiry (unix ms), broker id */
const char SSTORE_LUA_CONN_PUT[] = "redis.call('HSET',KEYS[1],ARGV[1],ARGV[2])\n"
                                   "redis.call('PEXPIRE',KEYS[1],ARGV[3])\n"
                                   "redis.call('ZADD',KEYS[2],ARGV[4],ARGV[5]) return 1";
/* registry.c's refresh. KEYS conns:<b> conns:brokers; ARGV ttl_ms,
 * expiry (unix ms), broker id */
const char SSTORE_LUA_CONN_REFRESH[] =
    "if redis.call('EXISTS',KEYS[1])==1 then redis.call('PEXPIRE',KEYS[1],ARGV[1]) end\n"
    "redis.call('ZADD',KEYS[2],ARGV[2],ARGV[3]) return 1";
/* registry.c's clear. KEYS conns:<b> conns:brokers; ARGV broker id */
const char SSTORE_LUA_CONN_CLEAR[] =
    "redis.call('DEL',KEYS[1]) redis.call('ZREM',KEYS[2],ARGV[1]) return 1";

/* The JSON record registry.c writes and reads. NULL on OOM or on a string
 * jansson refuses (not UTF-8). */
static char *conn_json(const sstore_conn_t *c)
{
    json_t *g = json_array();
    for (size_t i = 0; g && i < c->n_groups; i++)
        if (json_array_append_new(g, json_string(c->groups[i])) < 0) {
            json_decref(g);
            return NULL;
        }
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:I, s:o*}", "mqtt_client_id",
                          c->mqtt_client_id, "client_id", c->client_id ? c->client_id : "",
                          "username", c->username ? c->username : "", "peer",
                          c->peer ? c->peer : "", "transport", c->transport ? c->transport : "",
                          "protocol", (int)c->protocol, "keepalive",
                          (int)c->keepalive, "connected_at", (json_int_t)c->connected_at,
                          "groups", g);
    char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return txt;
}

static void conn_keys(sstore_req_t *q, const char *broker_id)
{
    ss_key(q, "conns:", broker_id, strlen(broker_id));
    ss_key(q, "conns:brokers", "", 0);
}

int sstore_conn_put(sstore_t *s, const char *broker_id, const sstore_conn_t *c, sstore_done_fn fn,
                    void *arg)
{
    if (!broker_id[0] || !c->mqtt_client_id || (c->n_groups && !c->groups))
        return ROOST_EINVAL;
    char *txt = conn_json(c);
    if (!txt)
        return ROOST_EINVAL;
    sstore_req_t *q = ss_req_done(s, SS_CONN_PUT, 2, fn, arg);
    if (!q) {
        free(txt);
        return -ENOMEM;
    }
    uint64_t ttl = ss_conn_ttl(s);
    conn_keys(q, broker_id);
    ss_arg_str(q, c->mqtt_client_id);
    ss_arg_str(q, txt);
    ss_arg_u64(q, ttl);
    ss_arg_u64(q, proc_wall_ms() + ttl);
    ss_arg_str(q, broker_id);
    free(txt);
    return ss_issue(q);
}

int sstore_conn_del(sstore_t *s, const char *broker_id, const char *mqtt_client_id,
                    sstore_done_fn fn, void *arg)
{
    sstore_req_t *q = ss_req_done(s, SS_NONE, 0, fn, arg);
    if (!q)
        return -ENOMEM;
    ss_arg_str(q, "HDEL");
    ss_key(q, "conns:", broker_id, strlen(broker_id));
    ss_arg_str(q, mqtt_client_id);
    return ss_issue(q);
}

int sstore_conn_refresh(sstore_t *s, const char *broker_id, uint64_t ttl_ms, sstore_done_fn fn,
                        void *arg)
{
    if (!broker_id[0] || ttl_ms == 0)
        return ROOST_EINVAL;
    sstore_req_t *q = ss_req_done(s, SS_CONN_REFRESH, 2, fn, arg);
    if (!q)
        return -ENOMEM;
    ss_set_conn_ttl(s, ttl_ms);
    conn_keys(q, broker_id);
    ss_arg_u64(q, ttl_ms);
    ss_arg_u64(q, proc_wall_ms() + ttl_ms);
    ss_arg_str(q, broker_id);
    return ss_issue(q);
}

int sstore_conn_clear(sstore_t *s, const char *broker_id, sstore_done_fn fn, void *arg)
{
    sstore_req_t *q = ss_req_done(s, SS_CONN_CLEAR, 2, fn, arg);
    if (!q)
        return -ENOMEM;
    conn_keys(q, broker_id);
    ss_arg_str(q, broker_id);
    return ss_issue(q);
}

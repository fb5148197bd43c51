#include "store/redis_conf.h"

#include "base/err.h"
#include "store/slotmap.h"

#include <stdlib.h>

void redis_conf_init(redis_conf_t *c, const char *addr)
{
    *c = (redis_conf_t){
        .addr = addr ? addr : "", .prefix = "roost:", .cluster = "", .user = "", .password = "", .timeout_ms = 2000,
        .min_replicas = -1, .wait_timeout_ms = 1000,
        .sentinel = {.sentinels = "", .master = "roost", .user = "", .password = ""},
    };
}

int redis_conf_rows(redis_conf_t *c, unsigned features, const char *addr_help, cfg_opt_t *rows)
{
    int n = 0;
    rows[n++] = (cfg_opt_t){"redis", "ROOST_REDIS", CFG_STR, &c->addr, 0, 0,
                            addr_help ? addr_help : "Redis HOST:PORT."};
    rows[n++] = (cfg_opt_t){"prefix", "ROOST_PREFIX", CFG_STR, &c->prefix, 0, 0, "Redis key prefix (namespace)."};
    rows[n++] = (cfg_opt_t){"redis-user", "ROOST_REDIS_USER", CFG_STR, &c->user, 0, 0,
                            "Redis 6 ACL user for AUTH; empty: the default user."};
    rows[n++] = (cfg_opt_t){"redis-password", "ROOST_REDIS_PASSWORD", CFG_STR, &c->password, 0, 0,
                            "Redis AUTH password; empty: no AUTH. Prefer the variable (flags show in ps)."};
    rows[n++] = (cfg_opt_t){"redis-sentinels", "ROOST_REDIS_SENTINELS", CFG_STR, &c->sentinel.sentinels, 0, 0,
                            "Redis Sentinels HOST:PORT,...: the Redis primary is found through them and "
                            "followed through a failover (--redis is then not used). Empty: --redis."};
    rows[n++] = (cfg_opt_t){"redis-master", "ROOST_REDIS_MASTER", CFG_STR, &c->sentinel.master, 0, 0,
                            "The master name the Sentinels monitor."};
    rows[n++] = (cfg_opt_t){"redis-sentinel-user", "ROOST_REDIS_SENTINEL_USER", CFG_STR, &c->sentinel.user, 0, 0,
                            "ACL user for AUTH to the Sentinels; empty: the default user."};
    rows[n++] = (cfg_opt_t){"redis-sentinel-password", "ROOST_REDIS_SENTINEL_PASSWORD", CFG_STR,
                            &c->sentinel.password, 0, 0,
                            "AUTH password of the Sentinels (their requirepass); empty: no AUTH. Prefer "
                            "the variable."};
    rows[n++] = (cfg_opt_t){"redis-cluster", "ROOST_REDIS_CLUSTER", CFG_STR, &c->cluster, 0, 0,
                            "Redis Cluster nodes HOST:PORT,... (some of them: the rest is discovered): "
                            "keys are spread over its primaries by slot, MOVED/ASK and failovers are "
                            "followed. Replaces --redis."};
    if (features & REDIS_CONF_REQUIRE_AUTH)
        rows[n++] = (cfg_opt_t){"redis-require-auth", "ROOST_REDIS_REQUIRE_AUTH", CFG_BOOL, &c->require_auth, 0, 0,
                                "Refuse to start when Redis answers a connection that did not authenticate (a "
                                "Redis without a password). Off by default: a local development Redis has none."};
    if (features & REDIS_CONF_TIMEOUT)
        rows[n++] = (cfg_opt_t){"redis-timeout-ms", "ROOST_REDIS_TIMEOUT_MS", CFG_INT, &c->timeout_ms, 10, 60000,
                                "Redis connect and command timeout."};
    if (features & REDIS_CONF_WAIT) {
        rows[n++] = (cfg_opt_t){"redis-min-replicas", "ROOST_REDIS_MIN_REPLICAS", CFG_INT, &c->min_replicas, -1, 100,
                                "Wait (Redis WAIT) until a write reached this many replicas before it counts as "
                                "done, so a Redis failover loses nothing acknowledged: the broker's PUBACK/PUBREC "
                                "(fewer within --redis-wait-timeout-ms: not acknowledged, the connection is "
                                "closed and the client sends it again), admin's answer to a write (fewer: 503, "
                                "the write may have been made). -1: 1 with --redis-sentinels or --redis-cluster, "
                                "else 0 (no wait). README \"Redis high availability\"."};
        rows[n++] = (cfg_opt_t){"redis-wait-timeout-ms", "ROOST_REDIS_WAIT_TIMEOUT_MS", CFG_INT, &c->wait_timeout_ms,
                                1, 10000, "How long a write waits for --redis-min-replicas."};
    }
    return n;
}

int redis_conf_check(redis_conf_t *c, unsigned features, FILE *err)
{
    c->host[0] = '\0';
    c->port = 0;
    if (!(features & REDIS_CONF_WAIT))
        c->min_replicas = 0; /* a service without the option waits for nothing */
    else if (c->min_replicas < 0)
        c->min_replicas = store_sentinel_on(&c->sentinel) || c->cluster[0] ? 1 : 0;
    if (store_sentinel_conf_check(&c->sentinel, err) < 0)
        return ROOST_ECONFIG;
    if (c->cluster[0] && store_sentinel_on(&c->sentinel)) {
        fprintf(err, "error: --redis-cluster: not with --redis-sentinels (a Redis Cluster fails over by itself)\n");
        return ROOST_ECONFIG;
    }
    if (c->cluster[0]) {
        slotmap_addr_t *seeds = NULL;
        size_t n = 0;
        int rc = slotmap_seeds_parse(c->cluster, &seeds, &n, err);
        if (rc == 0 && !c->addr[0]) {
            snprintf(c->host, sizeof(c->host), "%s", seeds[0].host);
            c->port = seeds[0].port;
        }
        free(seeds);
        if (rc < 0)
            return ROOST_ECONFIG;
        if (!c->addr[0])
            return 0;
    }
    if (!c->addr[0]) {
        if ((features & REDIS_CONF_OPTIONAL) || store_sentinel_on(&c->sentinel))
            return 0;
        fprintf(err, "error: --redis: expected HOST:PORT, got ''\n");
        return ROOST_ECONFIG;
    }
    return cfg_host_port("redis", c->addr, c->host, sizeof(c->host), &c->port, err);
}

int redis_conf_parse(redis_conf_t *c, unsigned features, const char *addr_help, const cfg_opt_t *opts,
                     int n, int argc, char **argv, const char *summary, FILE *out, FILE *err)
{
    cfg_opt_t rows[REDIS_CONF_MAX_ROWS];
    const cfg_table_t tables[] = {{opts, n}, {rows, redis_conf_rows(c, features, addr_help, rows)}};
    int rc = cfg_parse_tables(tables, 2, argc, argv, summary, out, err);
    if (rc != CFG_RUN)
        return rc;
    return redis_conf_check(c, features, err);
}

bool redis_conf_on(const redis_conf_t *c)
{
    return c->addr[0] || c->cluster[0] || store_sentinel_on(&c->sentinel);
}

store_t *redis_conf_store(const redis_conf_t *c, const store_cost_t *cost)
{
    store_t *s = store_new(c->host[0] ? c->host : NULL, c->port ? c->port : 6379, c->prefix, cost);
    if (s && (store_set_auth(s, c->user, c->password) < 0 || store_set_sentinel(s, &c->sentinel) < 0 ||
              store_set_cluster(s, c->cluster) < 0))
        store_destroy(&s);
    if (s && c->min_replicas > 0)
        store_set_wait(s, (int)c->min_replicas, (int)c->wait_timeout_ms);
    return s;
}

int redis_conf_check_require_auth(const redis_conf_t *c)
{
    return store_check_require_auth_ha(c->host, c->port, &c->sentinel);
}

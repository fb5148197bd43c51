/* redis_conf: the Redis options every service shares (--redis, --prefix,
 * --redis-user, --redis-password, and where a service offers them
 * --redis-require-auth and --redis-timeout-ms), as one table of cfg rows, so
 * broker, authd, admin, forwarder and roostctl take the same flags and
 * variables and a new Redis option is added here once.
 *
 * A service embeds a redis_conf_t in its configuration, fills it with
 * redis_conf_init, parses the rows redis_conf_rows gives beside its own
 * (cfg_parse_tables), then calls redis_conf_check. Strings are borrowed
 * from argv/environ as cfg does.
 */
#ifndef ROOST_STORE_REDIS_CONF_H
#define ROOST_STORE_REDIS_CONF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/cfg.h"
#include "store/sentinel.h"
#include "store/store.h"

typedef struct redis_conf {
    const char *addr;          /* --redis HOST:PORT ("" only with REDIS_CONF_OPTIONAL) */
    const char *prefix;        /* --prefix: key namespace */
    const char *cluster;       /* --redis-cluster HOST:PORT,...: a Redis Cluster's nodes ("" none) */
    const char *user, *password; /* AUTH; "" = none */
    bool require_auth;         /* refuse to start against a Redis open to all */
    int64_t timeout_ms;        /* connect and command timeout */
    char host[256];            /* addr split by redis_conf_check (read-only) */
    int port;                  /* 0 when addr is "" */
    store_sentinel_conf_t sentinel; /* --redis-sentinels etc.: set, the primary is found
                                       through them and addr is not used */
    int64_t min_replicas;      /* --redis-min-replicas (REDIS_CONF_WAIT): WAIT for this many replicas
                                  behind a write before it counts as done; given -1, redis_conf_check
                                  makes it 1 with Sentinels or a Cluster, else 0 */
    int64_t wait_timeout_ms;   /* --redis-wait-timeout-ms: how long that WAIT may take */
} redis_conf_t;

/* Which rows a service offers beyond --redis, --prefix, --redis-user and
 * --redis-password, and whether --redis may be empty. */
enum {
    REDIS_CONF_REQUIRE_AUTH = 1u << 0, /* --redis-require-auth */
    REDIS_CONF_TIMEOUT = 1u << 1,      /* --redis-timeout-ms */
    REDIS_CONF_OPTIONAL = 1u << 2,     /* --redis "" allowed (broker: single node) */
    REDIS_CONF_WAIT = 1u << 3,         /* --redis-min-replicas, --redis-wait-timeout-ms */
};

/* Most rows redis_conf_rows writes. */
#define REDIS_CONF_MAX_ROWS 15

/* Defaults: addr (NULL: ""), prefix "roost:", no AUTH, timeout 2000 ms, no
 * Sentinels (master name "roost"), min_replicas -1 (see above), WAIT
 * timeout 1000 ms. */
void redis_conf_init(redis_conf_t *c, const char *addr);

/* Writes the rows for these features, targeting c, into rows (room for
 * REDIS_CONF_MAX_ROWS); addr_help replaces the --redis line's help when not
 * NULL. Returns how many. */
int redis_conf_rows(redis_conf_t *c, unsigned features, const char *addr_help, cfg_opt_t *rows);

/* After parsing: splits addr into host and port, checks the Sentinel list.
 * 0, or ROOST_ECONFIG after "error: --redis...: ..." to err (empty without
 * REDIS_CONF_OPTIONAL or Sentinels, or not HOST:PORT). With --redis-cluster
 * (checked: HOST:PORT,...) and no --redis, host and port are its first node. */
int redis_conf_check(redis_conf_t *c, unsigned features, FILE *err);

/* The whole of it for a service: parses its own table (n rows) and the
 * Redis rows (listed after its own in --help) with cfg_parse_tables, then
 * redis_conf_check. CFG_RUN, CFG_EXIT_HELP or ROOST_ECONFIG (a line to err). */
int redis_conf_parse(redis_conf_t *c, unsigned features, const char *addr_help, const cfg_opt_t *opts,
                     int n, int argc, char **argv, const char *summary, FILE *out, FILE *err);

/* A Redis is configured: --redis or --redis-sentinels (the broker's
 * cluster mode). */
bool redis_conf_on(const redis_conf_t *c);
/* store_new for c (address, prefix; cost as store_new) with its AUTH,
 * Sentinels, cluster and (with min_replicas > 0) store_set_wait set. NULL
 * on OOM. */
store_t *redis_conf_store(const redis_conf_t *c, const store_cost_t *cost);
/* --redis-require-auth at start (store_check_require_auth), on the primary
 * the Sentinels name when there are some. -1 refused, 0 otherwise. */
int redis_conf_check_require_auth(const redis_conf_t *c);

#endif

/* Unit tests for lib/store/redis_conf.c: the Redis rows every service
 * shares, with the rows a service opts into, the optional address (broker)
 * and the HOST:PORT check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "store/redis_conf.h"

static int parse(redis_conf_t *c, unsigned features, int argc, char **argv, char *out, size_t outcap, char *err,
                 size_t errcap)
{
    const char *own = "";
    const cfg_opt_t opts[] = {{"own", NULL, CFG_STR, &own, 0, 0, "The service's own option."}};
    FILE *o = fmemopen(out, outcap, "w"), *e = fmemopen(err, errcap, "w");
    int rc = redis_conf_parse(c, features, NULL, opts, 1, argc, argv, "svc", o, e);
    fclose(o);
    fclose(e);
    return rc;
}

static void rows_by_feature(void **state)
{
    redis_conf_t c;
    redis_conf_init(&c, "127.0.0.1:6379");
    cfg_opt_t rows[REDIS_CONF_MAX_ROWS];
    int base = redis_conf_rows(&c, 0, NULL, rows);
    assert_int_equal(base, 9); /* --redis, --prefix, user, password, the four Sentinel rows, cluster */
    assert_string_equal(rows[8].flag, "redis-cluster");
    assert_string_equal(rows[8].env, "ROOST_REDIS_CLUSTER");
    assert_string_equal(rows[4].flag, "redis-sentinels");
    assert_string_equal(rows[4].env, "ROOST_REDIS_SENTINELS");
    assert_string_equal(rows[0].flag, "redis");
    assert_string_equal(rows[0].env, "ROOST_REDIS");
    assert_string_equal(rows[1].env, "ROOST_PREFIX");
    assert_int_equal(redis_conf_rows(&c, REDIS_CONF_TIMEOUT, "Where.", rows), base + 1);
    assert_string_equal(rows[0].help, "Where.");
    assert_string_equal(rows[base].flag, "redis-timeout-ms");
    assert_int_equal(redis_conf_rows(&c, REDIS_CONF_TIMEOUT | REDIS_CONF_REQUIRE_AUTH, NULL, rows), base + 2);
}

static void parse_flags_env_and_check(void **state)
{
    redis_conf_t c;
    char out[4096] = "", err[256] = "";
    setenv("ROOST_REDIS_PASSWORD", "pw-from-env", 1);
    redis_conf_init(&c, "127.0.0.1:6379");
    char *a1[] = {"t", "--redis", "redis.example:6390", "--prefix=tenant1:", "--redis-user", "roost",
                  "--redis-timeout-ms", "500", "--redis-require-auth", "--own", "x", NULL};
    assert_int_equal(parse(&c, REDIS_CONF_TIMEOUT | REDIS_CONF_REQUIRE_AUTH, 11, a1, out, sizeof(out), err,
                           sizeof(err)),
                     CFG_RUN);
    unsetenv("ROOST_REDIS_PASSWORD");
    assert_string_equal(c.host, "redis.example");
    assert_int_equal(c.port, 6390);
    assert_string_equal(c.prefix, "tenant1:");
    assert_string_equal(c.user, "roost");
    assert_string_equal(c.password, "pw-from-env");
    assert_int_equal(c.timeout_ms, 500);
    assert_true(c.require_auth);
    /* a row the service did not opt into is an unknown option */
    redis_conf_init(&c, "127.0.0.1:6379");
    char *a2[] = {"t", "--redis-timeout-ms", "500", NULL};
    assert_int_equal(parse(&c, 0, 3, a2, out, sizeof(out), err, sizeof(err)), ROOST_ECONFIG);
    assert_non_null(strstr(err, "unknown option '--redis-timeout-ms'"));
}

/* --redis-cluster: a list of nodes replaces --redis (host and port are the
 * first node's); a bad list and Sentinels beside it are refused. */
static void cluster_nodes_checked(void **state)
{
    (void)state;
    redis_conf_t c;
    char out[4096] = "", err[256] = "";
    char *good[] = {"t", "--redis-cluster", "10.0.0.1:7000,10.0.0.2:7001", NULL};
    redis_conf_init(&c, "");
    assert_int_equal(parse(&c, 0, 3, good, out, sizeof(out), err, sizeof(err)), CFG_RUN);
    assert_string_equal(c.host, "10.0.0.1");
    assert_int_equal(c.port, 7000);
    assert_true(redis_conf_on(&c));
    char *bad[] = {"t", "--redis-cluster", "10.0.0.1:7000,nope", NULL};
    redis_conf_init(&c, "");
    assert_int_equal(parse(&c, 0, 3, bad, out, sizeof(out), err, sizeof(err)), ROOST_ECONFIG);
    assert_non_null(strstr(err, "--redis-cluster: expected HOST:PORT, got 'nope'"));
    char *both[] = {"t", "--redis-cluster", "h:1", "--redis-sentinels", "s:26379", NULL};
    redis_conf_init(&c, "");
    err[0] = '\0';
    assert_int_equal(parse(&c, 0, 5, both, out, sizeof(out), err, sizeof(err)), ROOST_ECONFIG);
    assert_non_null(strstr(err, "not with --redis-sentinels"));
}

/* --redis-min-replicas (REDIS_CONF_WAIT: broker and admin): -1 resolves to
 * 1 with a Cluster or Sentinels, 0 with one Redis; a service without the
 * rows never waits. */
static void min_replicas_default(void **state)
{
    (void)state;
    redis_conf_t c;
    char out[4096] = "", err[256] = "";
    char *cl[] = {"t", "--redis-cluster", "10.0.0.1:7000", NULL};
    redis_conf_init(&c, "");
    assert_int_equal(parse(&c, REDIS_CONF_WAIT, 3, cl, out, sizeof(out), err, sizeof(err)), CFG_RUN);
    assert_int_equal(c.min_replicas, 1);
    assert_int_equal(c.wait_timeout_ms, 1000);
    redis_conf_init(&c, "");
    assert_int_equal(parse(&c, 0, 3, cl, out, sizeof(out), err, sizeof(err)), CFG_RUN);
    assert_int_equal(c.min_replicas, 0);
    char *one[] = {"t", "--redis", "h:1", NULL};
    redis_conf_init(&c, "");
    assert_int_equal(parse(&c, REDIS_CONF_WAIT, 3, one, out, sizeof(out), err, sizeof(err)), CFG_RUN);
    assert_int_equal(c.min_replicas, 0);
    char *set[] = {"t", "--redis", "h:1", "--redis-min-replicas", "2", "--redis-wait-timeout-ms", "250", NULL};
    redis_conf_init(&c, "");
    assert_int_equal(parse(&c, REDIS_CONF_WAIT, 7, set, out, sizeof(out), err, sizeof(err)), CFG_RUN);
    assert_int_equal(c.min_replicas, 2);
    assert_int_equal(c.wait_timeout_ms, 250);
}

static void address_checked(void **state)
{
    redis_conf_t c;
    char out[4096] = "", err[256] = "";
    char *bad[] = {"t", "--redis", "no-port", NULL};
    redis_conf_init(&c, "127.0.0.1:6379");
    assert_int_equal(parse(&c, 0, 3, bad, out, sizeof(out), err, sizeof(err)), ROOST_ECONFIG);
    assert_non_null(strstr(err, "--redis: expected HOST:PORT, got 'no-port'"));
    char *none[] = {"t", NULL};
    redis_conf_init(&c, ""); /* empty: only where it is optional */
    assert_int_equal(parse(&c, 0, 1, none, out, sizeof(out), err, sizeof(err)), ROOST_ECONFIG);
    redis_conf_init(&c, "");
    assert_int_equal(parse(&c, REDIS_CONF_OPTIONAL, 1, none, out, sizeof(out), err, sizeof(err)), CFG_RUN);
    assert_int_equal(c.port, 0);
    assert_string_equal(c.host, "");
}

/* --redis-sentinels: checked list, master name; --redis not needed then */
static void sentinels_checked(void **state)
{
    redis_conf_t c;
    char out[8192] = "", err[256] = "";
    char *ok[] = {"t", "--redis-sentinels", "10.0.0.1:26379,s2:26380", "--redis-master", "main", NULL};
    redis_conf_init(&c, "");
    assert_int_equal(parse(&c, 0, 5, ok, out, sizeof(out), err, sizeof(err)), CFG_RUN);
    assert_true(redis_conf_on(&c));
    assert_string_equal(c.sentinel.master, "main");
    assert_string_equal(c.sentinel.sentinels, "10.0.0.1:26379,s2:26380");
    const char *bad[][2] = {{"10.0.0.1", "entry 1"}, {"a:1,", "entry 2"}, {"a:1,b:0", "entry 2"},
                            {",a:1", "entry 1"}, {"a:1,b:70000", "entry 2"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *argv[] = {"t", "--redis-sentinels", (char *)bad[i][0], NULL};
        redis_conf_init(&c, "");
        err[0] = '\0';
        assert_int_equal(parse(&c, 0, 3, argv, out, sizeof(out), err, sizeof(err)), ROOST_ECONFIG);
        assert_non_null(strstr(err, bad[i][1]));
    }
    char *many[] = {"t", "--redis-sentinels",
                    "a:1,a:2,a:3,a:4,a:5,a:6,a:7,a:8,a:9,a:10,a:11,a:12,a:13,a:14,a:15,a:16,a:17", NULL};
    redis_conf_init(&c, "");
    assert_int_equal(parse(&c, 0, 3, many, out, sizeof(out), err, sizeof(err)), ROOST_ECONFIG);
    assert_non_null(strstr(err, "at most 16"));
    char *nomaster[] = {"t", "--redis-sentinels", "a:1", "--redis-master", "", NULL};
    redis_conf_init(&c, "");
    assert_int_equal(parse(&c, 0, 5, nomaster, out, sizeof(out), err, sizeof(err)), ROOST_ECONFIG);
    assert_non_null(strstr(err, "--redis-master"));
    redis_conf_init(&c, "");
    assert_false(redis_conf_on(&c));
}

static void help_lists_own_then_redis(void **state)
{
    redis_conf_t c;
    char out[8192] = "", err[256] = "";
    char *help[] = {"t", "--help", NULL};
    redis_conf_init(&c, "127.0.0.1:6379");
    assert_int_equal(parse(&c, REDIS_CONF_REQUIRE_AUTH, 2, help, out, sizeof(out), err, sizeof(err)), CFG_EXIT_HELP);
    char *own = strstr(out, "--own"), *redis = strstr(out, "--redis VALUE");
    assert_true(own && redis && own < redis);
    assert_non_null(strstr(out, "[env ROOST_REDIS] (default: 127.0.0.1:6379)"));
    assert_non_null(strstr(out, "--redis-require-auth"));
    assert_null(strstr(out, "--redis-timeout-ms"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rows_by_feature),
        cmocka_unit_test(parse_flags_env_and_check),
        cmocka_unit_test(address_checked),
        cmocka_unit_test(cluster_nodes_checked),
        cmocka_unit_test(min_replicas_default),
        cmocka_unit_test(sentinels_checked),
        cmocka_unit_test(help_lists_own_then_redis),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

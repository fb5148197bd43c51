/* Unit tests for lib/store/slotmap.c: --redis-cluster seed lists (good and
 * bad), CLUSTER SLOTS replies built by hand (full coverage, an empty host
 * standing for the node asked, replicas counted not routed to, gaps and malformed
 * entries refused). Discovery against a real cluster is covered by
 * tests/integration/test_88_redis_cluster.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "base/err.h"
#include "store/slotmap.h"

static redisReply *r_int(long long v)
{
    redisReply *r = calloc(1, sizeof(*r));
    r->type = REDIS_REPLY_INTEGER;
    r->integer = v;
    return r;
}

static redisReply *r_str(const char *s)
{
    redisReply *r = calloc(1, sizeof(*r));
    r->type = REDIS_REPLY_STRING;
    r->str = strdup(s);
    r->len = strlen(s);
    return r;
}

static redisReply *r_arr(size_t n, ...)
{
    redisReply *r = calloc(1, sizeof(*r));
    r->type = REDIS_REPLY_ARRAY;
    r->elements = n;
    r->element = calloc(n ? n : 1, sizeof(*r->element));
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++)
        r->element[i] = va_arg(ap, redisReply *);
    va_end(ap);
    return r;
}

static redisReply *range(long long lo, long long hi, const char *host, long long port)
{
    return r_arr(4, r_int(lo), r_int(hi), r_arr(3, r_str(host), r_int(port), r_str("id")),
                 r_arr(3, r_str("10.0.0.9"), r_int(7999), r_str("replica")));
}

static void test_seeds(void **state)
{
    (void)state;
    slotmap_addr_t *a = NULL;
    size_t n = 0;
    FILE *err = tmpfile();
    assert_int_equal(slotmap_seeds_parse("127.0.0.1:7000, redis-2:7001,[::1]:7002", &a, &n, err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(a[0].host, "127.0.0.1");
    assert_int_equal(a[0].port, 7000);
    assert_string_equal(a[1].host, "redis-2");
    assert_int_equal(a[2].port, 7002);
    free(a);
    const char *bad[] = {"", "h", "h:0", "h:1,,h:2", "h:1,", ":1", "h:70000"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(slotmap_seeds_parse(bad[i], &a, &n, err), ROOST_ECONFIG);
        assert_null(a);
    }
    fclose(err);
}

static void test_parse(void **state)
{
    (void)state;
    slotmap_t *m = calloc(1, sizeof(*m));
    slotmap_addr_t via = {.host = "127.0.0.1", .port = 7000};
    redisReply *r = r_arr(3, range(0, 5460, "", 7000), range(5461, 10922, "10.0.0.2", 7001),
                          range(10923, 16383, "?", 7002));
    assert_int_equal(slotmap_parse(m, r, &via), 0);
    assert_int_equal(m->n_nodes, 3);
    assert_string_equal(m->nodes[m->owner[0]].host, "127.0.0.1"); /* "" = the node asked */
    assert_int_equal(m->nodes[m->owner[5460]].port, 7000);
    assert_string_equal(m->nodes[m->owner[5461]].host, "10.0.0.2");
    assert_int_equal(m->nodes[m->owner[16383]].port, 7002);
    assert_string_equal(m->nodes[m->owner[16383]].host, "127.0.0.1"); /* "?" too */
    assert_int_equal(slotmap_find(m, "10.0.0.2", 7001), 1);
    assert_int_equal(slotmap_find(m, "10.0.0.9", 7999), -1); /* replicas are not routed to */
    assert_int_equal(m->nodes[m->owner[0]].replicas, 1);      /* but counted */
    freeReplyObject(r);

    /* a primary without a listed replica (a promoted one, its old primary
     * failed), and one with two ranges: the fewest replicas of its ranges */
    redisReply *bare = r_arr(3, r_arr(3, r_int(0), r_int(99), r_arr(2, r_str("a"), r_int(1))),
                             range(100, 16000, "b", 2),
                             r_arr(3, r_int(16001), r_int(16383), r_arr(2, r_str("b"), r_int(2))));
    assert_int_equal(slotmap_parse(m, bare, &via), 0);
    assert_int_equal(m->n_nodes, 2);
    assert_int_equal(m->nodes[m->owner[0]].replicas, 0);
    assert_int_equal(m->nodes[m->owner[100]].replicas, 0);
    freeReplyObject(bare);

    /* a gap (slot 5461 unserved), a reversed range, a bad port: refused */
    redisReply *gap = r_arr(2, range(0, 5460, "a", 1), range(5462, 16383, "b", 2));
    assert_int_equal(slotmap_parse(m, gap, &via), -1);
    assert_int_equal(m->n_nodes, 0);
    freeReplyObject(gap);
    redisReply *rev = r_arr(1, range(16383, 0, "a", 1));
    assert_int_equal(slotmap_parse(m, rev, &via), -1);
    freeReplyObject(rev);
    redisReply *port = r_arr(1, range(0, 16383, "a", 70000));
    assert_int_equal(slotmap_parse(m, port, &via), -1);
    freeReplyObject(port);
    redisReply *past = r_arr(1, range(0, 16384, "a", 1));
    assert_int_equal(slotmap_parse(m, past, &via), -1);
    freeReplyObject(past);
    redisReply *notarr = r_str("ERR This instance has cluster support disabled");
    assert_int_equal(slotmap_parse(m, notarr, &via), -1);
    freeReplyObject(notarr);
    /* one node for everything */
    redisReply *one = r_arr(1, range(0, 16383, "h", 9));
    assert_int_equal(slotmap_parse(m, one, &via), 0);
    assert_int_equal(m->n_nodes, 1);
    freeReplyObject(one);
    slotmap_clear(m);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seeds),
        cmocka_unit_test(test_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

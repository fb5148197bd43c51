/* Unit tests for lib/store/sentinel.c's pure parts: the +switch-master
 * message (Sentinel's documented "<name> <old-ip> <old-port> <new-ip>
 * <new-port>"), the get-master-addr-by-name reply, the order Sentinels are
 * asked in, and the re-ask pacing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "store/sentinel.h"

static int sw(const char *msg, const char *master, char *host, size_t cap, int *port)
{
    return sentinel_switch_parse(msg, strlen(msg), master, host, cap, port);
}

static void test_switch_master(void **state)
{
    (void)state;
    char host[64];
    int port = 0;
    assert_int_equal(sw("roost 10.0.0.1 6379 10.0.0.2 6380", "roost", host, sizeof(host), &port), 0);
    assert_string_equal(host, "10.0.0.2");
    assert_int_equal(port, 6380);
    assert_int_equal(sw("mymaster ::1 6379 fe80::2 65535", "mymaster", host, sizeof(host), &port), 0);
    assert_string_equal(host, "fe80::2");
    assert_int_equal(port, 65535);
}

static void test_switch_master_refused(void **state)
{
    (void)state;
    char host[16] = "unchanged";
    int port = 7;
    const char *bad[] = {
        "other 10.0.0.1 6379 10.0.0.2 6380",       /* another master's failover */
        "roostx 10.0.0.1 6379 10.0.0.2 6380",      /* a name that only starts like ours */
        "roost 10.0.0.1 6379 10.0.0.2",            /* four fields */
        "roost 10.0.0.1 6379 10.0.0.2 6380 x",     /* six */
        "roost 10.0.0.1 6379 10.0.0.2 6380 ",      /* trailing space */
        "roost  10.0.0.1 6379 10.0.0.2 6380",      /* empty field */
        "roost 10.0.0.1 6379 10.0.0.2 0",          /* port 0 */
        "roost 10.0.0.1 6379 10.0.0.2 65536",      /* past 65535 */
        "roost 10.0.0.1 6379 10.0.0.2 123456",     /* too long */
        "roost 10.0.0.1 6379 10.0.0.2 63a",        /* not a number */
        "roost 10.0.0.1 6379 10.0.0.2 -1",
        "roost 1 1 a-host-name-too-long-for-16 1", /* host past the buffer */
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(sw(bad[i], "roost", host, sizeof(host), &port), -1);
        assert_string_equal(host, "unchanged");
        assert_int_equal(port, 7);
    }
    /* a NUL inside the message is not part of a host */
    const char nul[] = "roost 1 1 a\0b 6380";
    assert_int_equal(sentinel_switch_parse(nul, sizeof(nul) - 1, "roost", host, sizeof(host), &port), -1);
}

static redisReply str(const char *s)
{
    redisReply r = {.type = REDIS_REPLY_STRING, .str = (char *)s, .len = strlen(s)};
    return r;
}

static void test_addr_reply(void **state)
{
    (void)state;
    char host[32];
    int port = 0;
    const char *why = NULL;
    redisReply h = str("10.1.2.3"), p = str("6390"), *el[] = {&h, &p};
    redisReply arr = {.type = REDIS_REPLY_ARRAY, .elements = 2, .element = el};
    assert_int_equal(sentinel_addr_reply(&arr, host, sizeof(host), &port, &why), 0);
    assert_string_equal(host, "10.1.2.3");
    assert_int_equal(port, 6390);

    redisReply nil = {.type = REDIS_REPLY_NIL}; /* a master name it does not monitor */
    assert_int_equal(sentinel_addr_reply(&nil, host, sizeof(host), &port, &why), -1);
    assert_string_equal(why, "does not know that master name");
    assert_int_equal(sentinel_addr_reply(NULL, host, sizeof(host), &port, &why), -1);
    redisReply err = {.type = REDIS_REPLY_ERROR, .str = (char *)"NOAUTH Authentication required.", .len = 31};
    assert_int_equal(sentinel_addr_reply(&err, host, sizeof(host), &port, &why), -1);
    assert_string_equal(why, "NOAUTH Authentication required.");
    const char *ports[] = {"0", "65536", "63a", "", "-5"};
    for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
        p = str(ports[i]);
        assert_int_equal(sentinel_addr_reply(&arr, host, sizeof(host), &port, &why), -1);
        assert_string_equal(why, "bad port in its answer");
    }
    p = str("6390");
    h = str("a-host-name-that-does-not-fit-in-32");
    assert_int_equal(sentinel_addr_reply(&arr, host, sizeof(host), &port, &why), -1);
}

static void test_order_and_pacing(void **state)
{
    (void)state;
    store_sentinel_conf_t sc = {.sentinels = "a:1,b:2,c:3", .master = "m", .user = "", .password = ""};
    sentinel_t *s = sentinel_new(&sc);
    assert_non_null(s);
    assert_int_equal(sentinel_count(s), 3);
    assert_string_equal(sentinel_master(s), "m");
    const char *argv[3];
    assert_int_equal(sentinel_auth_argv(s, argv), 0);
    sentinel_promote(s, 2); /* c answered: asked first, the rest keep their order */
    int port;
    assert_string_equal(sentinel_at(s, 0, &port), "c");
    assert_int_equal(port, 3);
    assert_string_equal(sentinel_at(s, 1, &port), "a");
    assert_string_equal(sentinel_at(s, 2, &port), "b");
    sentinel_promote(s, 0);
    sentinel_promote(s, 9); /* out of range: nothing */
    assert_string_equal(sentinel_at(s, 0, &port), "c");

    assert_true(sentinel_recheck_due(s, 5000));
    assert_false(sentinel_recheck_due(s, 5999));
    assert_true(sentinel_recheck_due(s, 6000)); /* once a second */
    sentinel_recheck_failed(s, 6000);           /* none answered: 10 s */
    assert_false(sentinel_recheck_due(s, 15999));
    assert_true(sentinel_recheck_due(s, 16000));
    sentinel_free(&s);
    assert_null(s);

    store_sentinel_conf_t pw = {.sentinels = "a:1", .master = "m", .user = "u", .password = "p"};
    s = sentinel_new(&pw);
    assert_int_equal(sentinel_auth_argv(s, argv), 3);
    assert_string_equal(argv[0], "AUTH");
    assert_string_equal(argv[1], "u");
    assert_string_equal(argv[2], "p");
    sentinel_free(&s);
}

/* After a +switch-master, an answer naming another address (a Sentinel not
 * yet told, or an ask sent before the event) is older news for 10 s: the
 * announced address is used instead; an answer agreeing with it, or one
 * after the 10 s, stands. */
static void test_switch_outranks_older_answers(void **state)
{
    (void)state;
    store_sentinel_conf_t sc = {.sentinels = "a:1,b:2", .master = "m", .user = "", .password = ""};
    sentinel_t *s = sentinel_new(&sc);
    assert_non_null(s);
    int port = 0;
    assert_null(sentinel_outranks(s, "10.0.0.1", 6379, 1000, &port)); /* no switch seen */
    sentinel_note_switch(s, "10.0.0.2", 6380, 1000);
    assert_string_equal(sentinel_outranks(s, "10.0.0.1", 6379, 1500, &port), "10.0.0.2");
    assert_int_equal(port, 6380);
    port = 0;
    assert_string_equal(sentinel_outranks(s, "10.0.0.2", 6379, 1500, &port), "10.0.0.2"); /* port differs */
    assert_int_equal(port, 6380);
    assert_null(sentinel_outranks(s, "10.0.0.2", 6380, 1500, &port)); /* agrees */
    assert_string_equal(sentinel_outranks(s, "10.0.0.1", 6379, 10999, &port), "10.0.0.2");
    assert_null(sentinel_outranks(s, "10.0.0.1", 6379, 11000, &port)); /* 10 s later: a newer failover */
    sentinel_note_switch(s, "10.0.0.3", 6381, 20000);                  /* the next event wins */
    assert_string_equal(sentinel_outranks(s, "10.0.0.2", 6380, 20001, &port), "10.0.0.3");
    assert_int_equal(port, 6381);
    sentinel_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_switch_master),
        cmocka_unit_test(test_switch_master_refused),
        cmocka_unit_test(test_addr_reply),
        cmocka_unit_test(test_order_and_pacing),
        cmocka_unit_test(test_switch_outranks_older_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

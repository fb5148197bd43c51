/* Unit tests for lib/store/slot.c: CRC16 against the Redis Cluster
 * specification's check value, key slots and hash-tag rules from the
 * specification's examples, and MOVED / ASK parsing (good and bad inputs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "store/slot.h"

static unsigned slot_str(const char *k) { return slot_of(k, strlen(k)); }

static void test_crc16_vector(void **state)
{
    (void)state;
    /* The spec's reference: CRC16 of "123456789" is 0x31C3 (XMODEM). */
    assert_int_equal(slot_crc16("123456789", 9), 0x31C3);
    assert_int_equal(slot_crc16("", 0), 0);
    assert_int_equal(slot_crc16_more(slot_crc16("1234", 4), "56789", 5), 0x31C3);
    assert_int_equal(slot_str("123456789"), 0x31C3 & 0x3FFF);
}

static void test_known_slots(void **state)
{
    (void)state;
    /* Values CLUSTER KEYSLOT answers (redis-cli -c documentation). */
    assert_int_equal(slot_str("foo"), 12182);
    assert_int_equal(slot_str("bar"), 5061);
    assert_int_equal(slot_str("hello"), 866);
    const char bin[] = {'a', '\0', 'b'};
    assert_int_equal(slot_of(bin, 3), slot_crc16(bin, 3) & 0x3FFF);
}

static void test_hash_tags(void **state)
{
    (void)state;
    size_t n;
    const char *h;
    /* The spec's examples. */
    assert_int_equal(slot_str("{user1000}.following"), slot_str("{user1000}.followers"));
    assert_int_equal(slot_str("{user1000}.following"), slot_str("user1000"));
    h = slot_hashed("foo{}{bar}", 10, &n); /* empty first tag: whole key */
    assert_int_equal(n, 10);
    assert_memory_equal(h, "foo{}{bar}", 10);
    h = slot_hashed("foo{{bar}}zap", 13, &n); /* tag is "{bar" */
    assert_int_equal(n, 4);
    assert_memory_equal(h, "{bar", 4);
    h = slot_hashed("foo{bar}{zap}", 13, &n); /* first tag only */
    assert_int_equal(n, 3);
    assert_memory_equal(h, "bar", 3);
    /* No closing brace, a closing brace before any opening one. */
    h = slot_hashed("foo{bar", 7, &n);
    assert_int_equal(n, 7);
    h = slot_hashed("f}o{o", 5, &n);
    assert_int_equal(n, 5);
    /* Roost's per-client tag: a client id holding '}' still keeps every
     * key of that client in one slot, since the tag starts with "c:". */
    assert_int_equal(slot_str("roost:q:{c:}x}"), slot_str("roost:qm:{c:}x}"));
    assert_int_equal(slot_str("roost:q:{c:}x}"), slot_str("c:"));
    /* The tag is binary-safe. */
    const char k1[] = "p:q:{c:a\0b}", k2[] = "p:lease:{c:a\0b}";
    assert_int_equal(slot_of(k1, sizeof(k1) - 1), slot_of(k2, sizeof(k2) - 1));
    h = slot_hashed(k1, sizeof(k1) - 1, &n);
    assert_int_equal(n, 5);
}

static void test_redirects(void **state)
{
    (void)state;
    slot_redir_t r;
    const char *m = "MOVED 3999 127.0.0.1:6381";
    assert_int_equal(slot_redir_parse(m, strlen(m), &r), SLOT_REDIR_MOVED);
    assert_int_equal(r.slot, 3999);
    assert_string_equal(r.host, "127.0.0.1");
    assert_int_equal(r.port, 6381);
    const char *a = "ASK 16383 redis-2.example:7000";
    assert_int_equal(slot_redir_parse(a, strlen(a), &r), SLOT_REDIR_ASK);
    assert_int_equal(r.slot, 16383);
    assert_string_equal(r.host, "redis-2.example");
    assert_int_equal(r.port, 7000);
    const char *v6 = "MOVED 0 ::1:7001";
    assert_int_equal(slot_redir_parse(v6, strlen(v6), &r), SLOT_REDIR_MOVED);
    assert_string_equal(r.host, "::1");
    assert_int_equal(r.port, 7001);
    const char *v6b = "ASK 1 [fe80::1]:7002";
    assert_int_equal(slot_redir_parse(v6b, strlen(v6b), &r), SLOT_REDIR_ASK);
    assert_string_equal(r.host, "fe80::1");
    /* Not redirections, or malformed ones. */
    const char *bad[] = {"ERR unknown command", "MOVED", "MOVED ", "MOVED 16384 h:1",
                         "MOVED 12 h:0", "MOVED 12 h:65536", "MOVED 12 :80", "MOVED 12 h:",
                         "MOVED 12 h", "MOVED x h:1", "ASK 1  h:1", "MOVED 1 h:1x",
                         "CROSSSLOT Keys in request don't hash to the same slot",
                         "MOVED 99999999999999999999 h:1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(slot_redir_parse(bad[i], strlen(bad[i]), &r), SLOT_REDIR_NONE);
    /* Not NUL-terminated: only n bytes count. */
    assert_int_equal(slot_redir_parse("MOVED 5 h:12345", 12, &r), SLOT_REDIR_MOVED);
    assert_int_equal(r.port, 12);
    char longhost[400];
    memset(longhost, 'a', sizeof(longhost));
    memcpy(longhost, "MOVED 1 ", 8);
    memcpy(longhost + sizeof(longhost) - 3, ":80", 3);
    assert_int_equal(slot_redir_parse(longhost, sizeof(longhost), &r), SLOT_REDIR_NONE);
}

/* The replies that say the cluster cannot serve the slot just now. */
static void test_busy(void **state)
{
    (void)state;
    static const char *const busy[] = {"TRYAGAIN Multiple keys request during rehashing of slot",
                                       "CLUSTERDOWN The cluster is down", "CLUSTERDOWN Hash slot not served",
                                       "TRYAGAIN",
                                       "ERR Script attempted to execute a command while the cluster is down script: 0c"};
    for (size_t i = 0; i < sizeof(busy) / sizeof(busy[0]); i++)
        assert_true(slot_busy(busy[i], strlen(busy[i])));
    static const char *const not_busy[] = {"CLUSTERDOWNX", "TRYAGAINX x", "ERR unknown", "MOVED 1 h:1",
                                           "READONLY You can't write", "", "TRY"};
    for (size_t i = 0; i < sizeof(not_busy) / sizeof(not_busy[0]); i++)
        assert_false(slot_busy(not_busy[i], strlen(not_busy[i])));
    assert_false(slot_busy("TRYAGAIN", 7)); /* only n bytes count */
    assert_false(slot_busy(NULL, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc16_vector),
        cmocka_unit_test(test_known_slots),
        cmocka_unit_test(test_hash_tags),
        cmocka_unit_test(test_redirects),
        cmocka_unit_test(test_busy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

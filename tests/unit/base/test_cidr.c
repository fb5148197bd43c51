/* Unit tests for lib/base/cidr.c: IPv4 and IPv6 ranges, bare addresses,
 * prefix edges, v4 ranges never matching v6 peers, and bad lists named. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/cidr.h"

static void addr(const char *text, uint8_t out[16])
{
    struct in_addr v4;
    memset(out, 0, 16);
    if (inet_pton(AF_INET, text, &v4) == 1) {
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &v4, 4);
    } else {
        assert_int_equal(inet_pton(AF_INET6, text, out), 1);
    }
}

static bool in(const char *list, const char *a)
{
    cidr_list_t l;
    size_t bad = 0;
    assert_int_equal(cidr_list_parse(list, &l, &bad), 0);
    uint8_t x[16];
    addr(a, x);
    return cidr_list_match(&l, x);
}

static void ranges_match(void **state)
{
    assert_true(in("10.0.0.0/8", "10.255.1.2"));
    assert_false(in("10.0.0.0/8", "11.0.0.1"));
    assert_true(in("192.0.2.7", "192.0.2.7"));
    assert_false(in("192.0.2.7", "192.0.2.8"));
    assert_true(in("172.16.0.0/12", "172.31.255.255"));
    assert_false(in("172.16.0.0/12", "172.32.0.0"));
    assert_true(in(" 127.0.0.1 , 2001:db8::/32 ", "2001:db8:ffff::1"));
    assert_false(in("2001:db8::/32", "2001:db9::1"));
    assert_true(in("0.0.0.0/0", "203.0.113.9"));
    assert_false(in("0.0.0.0/0", "2001:db8::1"));     /* v4 ranges are v4 only */
    assert_true(in("::/0", "203.0.113.9"));           /* ::/0 is everything */
    assert_true(in("10.1.2.3/31", "10.1.2.2"));       /* host bits ignored */
    assert_false(in("", "10.0.0.1"));
}

static void bad_lists_are_named(void **state)
{
    cidr_list_t l;
    size_t bad = 99;
    assert_int_equal(cidr_list_parse("10.0.0.0/8,bogus", &l, &bad), -1);
    assert_int_equal(bad, 11);
    const char *cases[] = {"10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8x", "10.0.0.1,",
                           ",10.0.0.1", "1.2.3", "fe80::1%eth0"};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(cidr_list_parse(cases[i], &l, &bad), -1);
}

static void peers_give_their_address(void **state)
{
    cidr_t c;
    uint8_t want[16];
    assert_int_equal(cidr_parse_peer("10.1.2.3:51234", &c), 0);
    addr("10.1.2.3", want);
    assert_memory_equal(c.addr, want, 16);
    assert_int_equal(cidr_parse_peer("[2001:db8::1]:5", &c), 0);
    addr("2001:db8::1", want);
    assert_memory_equal(c.addr, want, 16);
    assert_int_equal(cidr_parse_peer("2001:db8::1:5", &c), 0);     /* the broker's own v6 form */
    assert_memory_equal(c.addr, want, 16);
    const char *host;
    assert_int_equal(cidr_peer_host("192.0.2.1:7", &host), 9);
    assert_int_equal(cidr_parse_peer("", &c), -1);
    assert_int_equal(cidr_parse_peer(NULL, &c), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ranges_match),
        cmocka_unit_test(bad_lists_are_named),
        cmocka_unit_test(peers_give_their_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

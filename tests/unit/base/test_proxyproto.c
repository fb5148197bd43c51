/* Unit tests for lib/base/proxyproto.c: PROXY protocol v1 and v2 headers,
 * incremental input, and refusal of anything else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "base/proxyproto.h"

static const uint8_t sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

/* Every strict prefix needs more; the whole parses. */
static size_t parse_all(const uint8_t *b, size_t n, proxy_info_t *out)
{
    size_t used = 0;
    for (size_t k = 0; k < n; k++) {
        proxy_info_t tmp;
        assert_int_equal(proxy_parse(b, k, &used, &tmp), PROXY_NEED_MORE);
    }
    assert_int_equal(proxy_parse(b, n, &used, out), 0);
    return used;
}

static void v1_tcp4(void **state)
{
    const char *h = "PROXY TCP4 192.0.2.7 10.0.0.1 51234 1883\r\n";
    uint8_t buf[128];
    size_t n = strlen(h);
    memcpy(buf, h, n);
    memcpy(buf + n, "\x10\x0c", 2); /* the MQTT CONNECT that follows is not consumed */
    proxy_info_t pi;
    size_t used = 0;
    assert_int_equal(proxy_parse(buf, n + 2, &used, &pi), 0);
    assert_int_equal(used, n);
    assert_true(pi.has_addr);
    assert_int_equal(pi.port, 51234);
    const uint8_t want[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 7};
    assert_memory_equal(pi.addr, want, 16);
    assert_int_equal(parse_all(buf, n, &pi), n);
}

static void v1_tcp6_and_unknown(void **state)
{
    const char *h6 = "PROXY TCP6 2001:db8::5 2001:db8::1 40000 1883\r\n";
    proxy_info_t pi;
    size_t used;
    assert_int_equal(proxy_parse((const uint8_t *)h6, strlen(h6), &used, &pi), 0);
    assert_true(pi.has_addr);
    assert_int_equal(pi.addr[0], 0x20);
    assert_int_equal(pi.addr[15], 5);
    assert_int_equal(pi.port, 40000);
    const char *hu = "PROXY UNKNOWN\r\n";
    assert_int_equal(proxy_parse((const uint8_t *)hu, strlen(hu), &used, &pi), 0);
    assert_false(pi.has_addr);
    assert_int_equal(used, strlen(hu));
}

static void v1_malformed(void **state)
{
    static const char *bad[] = {
        "PROXY TCP4 192.0.2.7 10.0.0.1 51234 1883\n",      /* no CR */
        "PROXY TCP4 999.0.2.7 10.0.0.1 51234 1883\r\n",    /* bad address */
        "PROXY TCP4 192.0.2.7 10.0.0.1 70000 1883\r\n",    /* bad port */
        "PROXY TCP4 192.0.2.7 10.0.0.1 5x 1883\r\n",       /* bad port */
        "PROXY TCP5 192.0.2.7 10.0.0.1 1 2\r\n",           /* bad family */
        "PROXY TCP4 192.0.2.7\r\n",                        /* too few fields */
        "PROXY TCP4 2001:db8::1 10.0.0.1 1 2\r\n",         /* v6 address as TCP4 */
        "\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c",            /* plain MQTT, no header */
        "GET / HTTP/1.1\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        proxy_info_t pi;
        size_t used;
        assert_int_equal(proxy_parse((const uint8_t *)bad[i], strlen(bad[i]) ? strlen(bad[i]) : 12,
                                     &used, &pi),
                         ROOST_EPROTO_MALFORMED);
    }
    /* a v1 line that never ends within 107 bytes */
    uint8_t longline[200];
    memcpy(longline, "PROXY TCP4 ", 11);
    memset(longline + 11, '1', sizeof(longline) - 11);
    proxy_info_t pi;
    size_t used;
    assert_int_equal(proxy_parse(longline, sizeof(longline), &used, &pi), ROOST_EPROTO_MALFORMED);
}

static size_t v2(uint8_t *b, uint8_t cmd, uint8_t fam, const uint8_t *body, size_t blen)
{
    memcpy(b, sig, 12);
    b[12] = (uint8_t)(0x20 | cmd);
    b[13] = fam;
    b[14] = (uint8_t)(blen >> 8);
    b[15] = (uint8_t)blen;
    if (blen)
        memcpy(b + 16, body, blen);
    return 16 + blen;
}

static void v2_families(void **state)
{
    uint8_t b[128];
    proxy_info_t pi;
    /* IPv4 with a TLV after the addresses (skipped) */
    const uint8_t v4[12 + 4] = {198, 51, 100, 9, 10, 0, 0, 1, 0xC3, 0x50, 0x07, 0x5B, 1, 0, 1, 'x'};
    size_t n = v2(b, 1, 0x11, v4, sizeof(v4));
    assert_int_equal(parse_all(b, n, &pi), n);
    assert_true(pi.has_addr);
    assert_int_equal(pi.port, 50000);
    assert_int_equal(pi.addr[12], 198);
    assert_int_equal(pi.addr[15], 9);
    /* IPv6 */
    uint8_t v6[36] = {0};
    v6[0] = 0x20;
    v6[15] = 7;
    v6[32] = 0x9C;
    v6[33] = 0x40;
    n = v2(b, 1, 0x21, v6, sizeof(v6));
    assert_int_equal(parse_all(b, n, &pi), n);
    assert_true(pi.has_addr);
    assert_int_equal(pi.port, 40000);
    assert_int_equal(pi.addr[15], 7);
    /* LOCAL (a health check) and UNSPEC: no client address */
    n = v2(b, 0, 0x00, NULL, 0);
    assert_int_equal(parse_all(b, n, &pi), n);
    assert_false(pi.has_addr);
    n = v2(b, 1, 0x00, NULL, 0);
    assert_int_equal(parse_all(b, n, &pi), n);
    assert_false(pi.has_addr);
}

static void v2_malformed(void **state)
{
    uint8_t b[64];
    proxy_info_t pi;
    size_t used;
    const uint8_t shortv4[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    size_t n = v2(b, 1, 0x11, shortv4, sizeof(shortv4)); /* body too short for IPv4 */
    assert_int_equal(proxy_parse(b, n, &used, &pi), ROOST_EPROTO_MALFORMED);
    n = v2(b, 2, 0x11, shortv4, sizeof(shortv4)); /* unknown command */
    assert_int_equal(proxy_parse(b, n, &used, &pi), ROOST_EPROTO_MALFORMED);
    n = v2(b, 1, 0x11, shortv4, sizeof(shortv4));
    b[12] = 0x11; /* version 1 in a v2 signature */
    assert_int_equal(proxy_parse(b, n, &used, &pi), ROOST_EPROTO_MALFORMED);
    b[3] = 0x00; /* a broken signature is not a header at all */
    assert_int_equal(proxy_parse(b, n, &used, &pi), ROOST_EPROTO_MALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(v1_tcp4),       cmocka_unit_test(v1_tcp6_and_unknown),
        cmocka_unit_test(v1_malformed),  cmocka_unit_test(v2_families),
        cmocka_unit_test(v2_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
